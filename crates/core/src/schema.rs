//! JSON Schemas of the core types' JSON forms (for the OpenAPI document and module call
//! schemas). Types that serialize as text get a string schema with the exact pattern their
//! parser accepts.
//!
//! Their borsh form cannot be told from a string schema, so each also carries the annotation
//! `"x-borsh"`, which clients that encode calls from a module's call schema read:
//!
//! | `x-borsh` | JSON text | borsh |
//! |---|---|---|
//! | `hash` | 64 hex digits | the 32 bytes |
//! | `address` | bech32m, prefix `urbis1` | the 20 bytes |
//! | `public_key` | `ed25519:` and 64 hex digits | scheme index (0 = Ed25519), the 32 bytes |
//! | `signature` | 128 hex digits | scheme index (0 = Ed25519), the 64 bytes |
//!
//! (`bytes`, hex text of a `Vec<u8>`, is `urbis_runtime::kit::HexBytes`.)

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::error::ErrorCode;
use crate::hash::Hash;
use crate::keys::{Address, PublicKey, Signature};

impl JsonSchema for Hash {
    fn schema_name() -> Cow<'static, str> {
        "Hash".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A 32-byte digest: 64 hex digits.",
            "pattern": "^[0-9a-fA-F]{64}$",
            "x-borsh": "hash"
        })
    }
}

impl JsonSchema for Address {
    fn schema_name() -> Cow<'static, str> {
        "Address".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "An account address: bech32m (BIP-350), human-readable part `urbis`, over the 20-byte address.",
            "pattern": "^urbis1[02-9ac-hj-np-z]{38}$",
            "x-borsh": "address"
        })
    }
}

impl JsonSchema for PublicKey {
    fn schema_name() -> Cow<'static, str> {
        "PublicKey".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "An Ed25519 public key: `ed25519:` and 64 hex digits.",
            "pattern": "^ed25519:[0-9a-fA-F]{64}$",
            "x-borsh": "public_key"
        })
    }
}

impl JsonSchema for Signature {
    fn schema_name() -> Cow<'static, str> {
        "Signature".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "An Ed25519 signature: 128 hex digits.",
            "pattern": "^[0-9a-fA-F]{128}$",
            "x-borsh": "signature"
        })
    }
}

impl JsonSchema for ErrorCode {
    fn schema_name() -> Cow<'static, str> {
        "ErrorCode".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let codes: Vec<&str> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
        json_schema!({
            "type": "string",
            "description": "A stable error code.",
            "enum": codes
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn matches(schema: &Schema, text: &str) -> bool {
        let pattern = schema
            .as_value()
            .get("pattern")
            .and_then(|p| p.as_str())
            .expect("pattern");
        // The patterns are anchored character classes with counts; check them by hand.
        simple_match(pattern, text)
    }

    /// Matches `^<literal prefix>[class]{n}$` patterns, the only shape used above.
    fn simple_match(pattern: &str, text: &str) -> bool {
        let body = pattern.trim_start_matches('^').trim_end_matches('$');
        let open = body.find('[').expect("class");
        let (prefix, rest) = body.split_at(open);
        let close = rest.find(']').expect("class end");
        let class = &rest[1..close];
        let count: usize = rest[close + 2..rest.len() - 1].parse().expect("count");
        let Some(tail) = text.strip_prefix(prefix) else {
            return false;
        };
        let allowed = |c: char| {
            let cs: Vec<char> = class.chars().collect();
            let mut i = 0;
            while i < cs.len() {
                if i + 2 < cs.len() && cs[i + 1] == '-' {
                    if (cs[i]..=cs[i + 2]).contains(&c) {
                        return true;
                    }
                    i += 3;
                } else {
                    if cs[i] == c {
                        return true;
                    }
                    i += 1;
                }
            }
            false
        };
        tail.chars().count() == count && tail.chars().all(allowed)
    }

    #[test]
    fn text_forms_match_their_schemas() {
        let mut g = SchemaGenerator::default();
        for label in ["a", "b", "city", "treasury"] {
            let k = SecretKey::from_label(label);
            let addr = serde_json::to_value(k.public_key().address()).unwrap();
            assert!(
                matches(&Address::json_schema(&mut g), addr.as_str().unwrap()),
                "{addr}"
            );
            let pk = serde_json::to_value(k.public_key()).unwrap();
            assert!(
                matches(&PublicKey::json_schema(&mut g), pk.as_str().unwrap()),
                "{pk}"
            );
            let sig = serde_json::to_value(k.sign(b"t", b"m")).unwrap();
            assert!(matches(
                &Signature::json_schema(&mut g),
                sig.as_str().unwrap()
            ));
            let h = serde_json::to_value(crate::hash::sha256_domain(b"t", &[label.as_bytes()]))
                .unwrap();
            assert!(matches(&Hash::json_schema(&mut g), h.as_str().unwrap()));
        }
    }
}
