//! Display of raw (borsh) state values from proofs, by key.
//!
//! A proof certifies the raw bytes; this decoding is only for display. Unknown keys, or values
//! that do not decode as expected, are shown as hex.

use borsh::BorshDeserialize;
use serde::Serialize;
use serde_json::Value;
use urbis_accounts::Account;
use urbis_rewards::{Holdings, Program, Redemption, Supply};

fn decode<T: BorshDeserialize + Serialize>(bytes: &[u8]) -> Option<Value> {
    let v: T = borsh::from_slice(bytes).ok()?;
    serde_json::to_value(v).ok()
}

/// The value under `key` as JSON: decoded for the built-in modules' keys, hex otherwise.
pub fn describe(key: &str, bytes: &[u8]) -> Value {
    let decoded = if key.starts_with("system/nonce/")
        || key.starts_with("rewards/awarded/")
        || key == "rewards/next_program_id"
        || key == "rewards/next_redemption_id"
    {
        decode::<u64>(bytes)
    } else if key.starts_with("accounts/account/") {
        decode::<Account>(bytes)
    } else if key.starts_with("rewards/program/") {
        decode::<Program>(bytes)
    } else if key.starts_with("rewards/holder/") {
        decode::<Holdings>(bytes)
    } else if key == "rewards/supply" {
        decode::<Supply>(bytes)
    } else if key.starts_with("rewards/redemption/") {
        decode::<Redemption>(bytes)
    } else {
        None
    };
    decoded.unwrap_or_else(|| Value::String(format!("0x{}", hex::encode(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_decode_and_others_are_hex() {
        let nonce = borsh::to_vec(&5u64).expect("borsh");
        assert_eq!(
            describe("system/nonce/urbis1x", &nonce),
            serde_json::json!(5)
        );
        let supply = borsh::to_vec(&Supply {
            minted: 10,
            burned: 3,
        })
        .expect("borsh");
        assert_eq!(
            describe("rewards/supply", &supply),
            serde_json::json!({"minted": 10, "burned": 3})
        );
        assert_eq!(describe("other/x", &[1, 2]), serde_json::json!("0x0102"));
        assert_eq!(
            describe("rewards/supply", &[1]),
            serde_json::json!("0x01"),
            "undecodable values fall back to hex"
        );
    }
}
