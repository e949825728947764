//! Stable error codes.
//!
//! Every rejection anywhere in Urbis (API, mempool, module execution, proof verification) carries
//! one of these codes. The string form is part of the public API: never rename one.

use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($variant:ident => $code:literal, $status:literal, $title:literal;)*) => {
        /// A stable, machine-readable error code.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, BorshSerialize, BorshDeserialize)]
        #[borsh(use_discriminant = false)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            /// All codes, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The snake_case code, e.g. `nonce_too_low`.
            pub fn as_str(&self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status used when this error is returned by the API.
            pub fn http_status(&self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// A short human title.
            pub fn title(&self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)* }
            }

            pub fn parse(s: &str) -> Option<ErrorCode> {
                match s { $($code => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    Malformed => "malformed", 400, "Malformed request";
    TooLarge => "too_large", 413, "Payload too large";
    BadSignature => "bad_signature", 400, "Signature does not verify";
    WrongChainId => "wrong_chain_id", 400, "Wrong chain id";
    NonceTooLow => "nonce_too_low", 400, "Nonce already used";
    NonceGap => "nonce_gap", 400, "Nonce skips ahead";
    DuplicateTx => "duplicate_tx", 409, "Transaction already known";
    MempoolFull => "mempool_full", 503, "Mempool full";
    UnknownModule => "unknown_module", 400, "Unknown module";
    UnknownCall => "unknown_call", 400, "Unknown or malformed call";
    NotFound => "not_found", 404, "Not found";
    InvalidArgument => "invalid_argument", 400, "Invalid argument";
    Unauthorized => "unauthorized", 403, "Missing permission";
    InsufficientBalance => "insufficient_balance", 422, "Insufficient balance";
    OverBudget => "over_budget", 422, "Program budget exceeded";
    OverCap => "over_cap", 422, "Per-account cap exceeded";
    NonTransferable => "non_transferable", 422, "Tokens are not transferable";
    AlreadyExists => "already_exists", 409, "Already exists";
    InvalidState => "invalid_state", 409, "Not allowed in the current state";
    Overflow => "overflow", 422, "Arithmetic overflow";
    NotReady => "not_ready", 503, "Node not ready";
    Timeout => "timeout", 504, "Timed out";
    InvalidProof => "invalid_proof", 400, "Proof does not verify";
    Internal => "internal", 500, "Internal error";
    ValueTooLarge => "value_too_large", 422, "State value too large";
    KeyTooLarge => "key_too_large", 422, "State key too large";
    Overloaded => "overloaded", 503, "Server overloaded";
    QuotaExceeded => "quota_exceeded", 429, "Quota exceeded";
    ForeignWrite => "foreign_write", 500, "Write outside the module's namespace";
    TooHeavy => "too_heavy", 413, "Transaction heavier than a block allows";
    OutOfWeight => "out_of_weight", 422, "Call used more weight than it declared";
    SchemaMismatch => "schema_mismatch", 400, "Call does not match its schema";
    Expired => "expired", 422, "Expired";
    NotYetValid => "not_yet_valid", 422, "Not valid yet";
    Revoked => "revoked", 422, "Revoked";
    Exhausted => "exhausted", 422, "No uses left";
    OutOfScope => "out_of_scope", 403, "Outside the granted scope";
    Erased => "erased", 410, "Erased";
    NoAccessReceipt => "no_access_receipt", 403, "No committed access receipt";
    GateClosed => "gate_closed", 422, "The market interval's gate has closed";
    MassBalance => "mass_balance", 422, "Outputs would exceed inputs beyond the hard limit";
    MethodNotAllowed => "method_not_allowed", 405, "Method not allowed";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        ErrorCode::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown code {s}")))
    }
}

/// An error with a stable code and a human message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct UrbisError {
    pub code: ErrorCode,
    pub message: String,
}

impl UrbisError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        UrbisError {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert_eq!(ErrorCode::parse(c.as_str()), Some(*c));
            assert!((400..600).contains(&c.http_status()));
        }
    }
}
