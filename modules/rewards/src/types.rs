//! Records stored by the rewards module, and their validation rules.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, UrbisError};

/// Longest program name, award reason or redeemed item, in characters.
pub const MAX_TEXT_CHARS: usize = 64;

urbis_runtime::named_enum! {
    /// What kind of behaviour a program rewards.
    ///
    /// The declaration order is the borsh encoding: never reorder, only append.
    pub enum Category("category") {
        Recycling = "recycling",
        PublicTransport = "public_transport",
        EnergySaving = "energy_saving",
        Other = "other",
    }
}

/// The parameters of a new program, as given by `CreateProgram` or the genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    pub name: String,
    pub category: Category,
    /// Most tokens the program may ever mint.
    pub budget: u64,
    /// Most tokens one account may be awarded per period.
    pub cap_per_period: u64,
    /// Period length in milliseconds of block time.
    pub period_ms: u64,
    /// Whether holders may transfer the program's tokens to each other.
    pub transferable: bool,
}

impl ProgramSpec {
    /// Name non-empty and short; budget, cap and period positive.
    pub fn validate(&self) -> Result<(), UrbisError> {
        validate_text("name", &self.name)?;
        for (field, value) in [
            ("budget", self.budget),
            ("cap_per_period", self.cap_per_period),
            ("period_ms", self.period_ms),
        ] {
            if value == 0 {
                return Err(invalid(format!("{field} must be positive")));
            }
        }
        Ok(())
    }
}

/// An eco-reward program. Stored under [`keys::program`](crate::keys::program).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Program {
    pub id: u64,
    pub name: String,
    pub category: Category,
    pub budget: u64,
    /// Tokens minted so far; never exceeds `budget`.
    pub minted: u64,
    /// Tokens of this program burned by redemptions.
    pub burned: u64,
    pub cap_per_period: u64,
    pub period_ms: u64,
    pub transferable: bool,
    /// Inactive programs award nothing; their tokens still move and redeem.
    pub active: bool,
    pub created_by: Address,
    pub created_height: u64,
}

impl Program {
    /// The award period a block timestamp falls in.
    pub fn period_of(&self, timestamp_ms: u64) -> u64 {
        timestamp_ms / self.period_ms
    }
}

/// The balances of one account, per program (zero balances are not stored).
/// Stored under [`keys::holder`](crate::keys::holder); an account holding nothing has no record.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Holdings(pub BTreeMap<u64, u64>);

impl Holdings {
    pub fn balance(&self, program: u64) -> u64 {
        self.0.get(&program).copied().unwrap_or(0)
    }

    /// Sum over all programs.
    pub fn total(&self) -> Result<u64, UrbisError> {
        self.0
            .values()
            .try_fold(0u64, |sum, v| checked_add(sum, *v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn credit(&mut self, program: u64, amount: u64) -> Result<(), UrbisError> {
        let balance = checked_add(self.balance(program), amount)?;
        self.0.insert(program, balance);
        Ok(())
    }

    pub(crate) fn debit(&mut self, program: u64, amount: u64) -> Result<(), UrbisError> {
        let balance = self.balance(program);
        let left = balance.checked_sub(amount).ok_or_else(|| {
            UrbisError::new(
                ErrorCode::InsufficientBalance,
                format!("balance in program {program} is {balance}, needed {amount}"),
            )
        })?;
        if left == 0 {
            self.0.remove(&program);
        } else {
            self.0.insert(program, left);
        }
        Ok(())
    }
}

/// Token totals over all programs. Stored under [`keys::supply`](crate::keys::supply).
///
/// Invariant: the sum of every holder's balances is `minted - burned`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Supply {
    pub minted: u64,
    pub burned: u64,
}

impl Supply {
    /// Tokens currently held by accounts.
    pub fn circulating(&self) -> u64 {
        self.minted.saturating_sub(self.burned)
    }
}

/// Tokens a citizen spent at a merchant. Stored under
/// [`keys::redemption`](crate::keys::redemption).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Redemption {
    pub id: u64,
    pub citizen: Address,
    pub merchant: Address,
    pub program: u64,
    pub amount: u64,
    pub item: String,
    pub height: u64,
    pub timestamp_ms: u64,
}

/// Free text (names, reasons, items): non-empty, at most [`MAX_TEXT_CHARS`] characters, no
/// control characters.
pub fn validate_text(field: &str, value: &str) -> Result<(), UrbisError> {
    if value.is_empty() {
        return Err(invalid(format!("{field} must not be empty")));
    }
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid(format!(
            "{field} is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(format!("{field} contains control characters")));
    }
    Ok(())
}

/// `a + b`, or [`ErrorCode::Overflow`].
pub(crate) fn checked_add(a: u64, b: u64) -> Result<u64, UrbisError> {
    a.checked_add(b)
        .ok_or_else(|| UrbisError::new(ErrorCode::Overflow, "amount overflows u64"))
}

pub(crate) fn invalid(message: impl Into<String>) -> UrbisError {
    UrbisError::new(ErrorCode::InvalidArgument, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_names() {
        for &c in Category::ALL {
            assert_eq!(serde_json::to_value(c).unwrap_or_default(), c.as_str());
            assert_eq!(c.to_string().parse::<Category>(), Ok(c));
        }
        assert!("Recycling".parse::<Category>().is_err());
    }

    #[test]
    fn holdings_drop_zero_balances() {
        let mut h = Holdings::default();
        h.credit(1, 5).expect("credit");
        h.credit(2, 7).expect("credit");
        assert_eq!(h.total(), Ok(12));
        assert_eq!(
            h.debit(1, 6).map_err(|e| e.code),
            Err(ErrorCode::InsufficientBalance)
        );
        h.debit(1, 5).expect("debit");
        assert_eq!(h.0.len(), 1);
        assert_eq!(
            h.credit(2, u64::MAX).map_err(|e| e.code),
            Err(ErrorCode::Overflow)
        );
    }

    #[test]
    fn text_rules() {
        validate_text("name", "Bottle return").expect("valid");
        assert!(validate_text("name", "").is_err());
        assert!(validate_text("name", &"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(validate_text("name", "a\u{7}b").is_err());
    }
}
