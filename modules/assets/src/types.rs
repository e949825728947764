//! Asset and hold records.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, Hash, UrbisError};

/// Longest asset name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Most beneficiaries of one release.
pub const MAX_PAYOUTS: usize = 64;

/// A settlement asset, counted in integer minor units (cents for a euro stablecoin).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Asset {
    pub symbol: String,
    pub name: String,
    /// Decimal places of the minor unit, for display only (2 for cents).
    pub decimals: u8,
    /// The only account that may issue and burn it.
    pub issuer: Address,
    /// Units ever issued, and burned.
    pub issued: u64,
    pub burned: u64,
    /// Units currently held in escrow (part of `issued - burned`).
    pub held: u64,
}

impl Asset {
    /// Units in circulation: `issued - burned` (balances plus holds).
    pub fn outstanding(&self) -> u64 {
        self.issued.saturating_sub(self.burned)
    }
}

/// An escrow hold: units taken from `payer`'s balance, owned by the module that made it, until
/// it is released (to beneficiaries, the rest back to the payer), refunded, or expires.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Hold {
    pub id: Hash,
    pub asset: String,
    pub payer: Address,
    pub amount: u64,
    /// The module that made it: the only one that may release or refund it.
    pub owner: String,
    /// When it is refunded by itself (block time, milliseconds), if ever.
    pub expires_ms: Option<u64>,
    pub created_height: u64,
    /// The payee of an escrow payment (a hold the assets module makes for its own `escrow`
    /// call: only the payee may claim it); `None` for holds other modules make.
    pub payee: Option<Address>,
}

/// Symbols: 1 to 12 ASCII letters and digits, starting with a letter (`EURc`, `TRANSIT1`).
pub fn validate_symbol(symbol: &str) -> Result<(), UrbisError> {
    let ok = !symbol.is_empty()
        && symbol.len() <= 12
        && symbol.starts_with(|c: char| c.is_ascii_alphabetic())
        && symbol.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "asset symbol {symbol:?} must be 1 to 12 ASCII letters and digits, starting with a letter"
        )))
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> UrbisError {
    UrbisError::new(ErrorCode::InvalidArgument, msg)
}

pub(crate) fn checked_add(a: u64, b: u64) -> Result<u64, UrbisError> {
    a.checked_add(b)
        .ok_or_else(|| UrbisError::new(ErrorCode::Overflow, "amount overflows"))
}
