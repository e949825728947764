//! Calls from their JSON form, encoded on this machine: the bytes a client signs are never
//! produced by a node. The modules are the ones the chain runs ([`urbis_registry::runtime`]).

use serde_json::Value;
use urbis_core::Call;

use crate::ClientError;

/// The chain's runtime (its modules and the runtime's own `system` namespace), for encoding
/// and classifying locally. The chain id plays no part in either.
fn runtime() -> urbis_runtime::Runtime {
    urbis_registry::runtime("")
}

/// Encode the JSON form of a call to `module`, e.g.
/// `{"call": "transfer", "symbol": "EURc", "to": "urbis1…", "amount": 250}` to `assets`.
/// JSON that does not match [`call_schema`] is `schema_mismatch`; an unknown module
/// `unknown_module`.
pub fn json_call(module: &str, json: &Value) -> Result<Call, ClientError> {
    Ok(runtime().call_from_json(module, json)?)
}

/// The JSON Schema (draft 2020-12) of `module`'s calls.
pub fn call_schema(module: &str) -> Result<Value, ClientError> {
    Ok(runtime().call_schema(module)?)
}

/// Whether `path` is one of `module`'s list queries (paginated) rather than a single key.
pub fn is_list_query(module: &str, path: &[&str]) -> bool {
    matches!(runtime().list_prefix(module, path), Ok(Some(_)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;
    use urbis_core::{Address, ErrorCode};

    use super::*;

    #[test]
    fn json_calls_encode_to_the_same_bytes_as_typed_calls() {
        let to = Address([9; 20]);
        let call = json_call(
            "assets",
            &json!({"call": "transfer", "symbol": "EURc", "to": to, "amount": 250}),
        )
        .unwrap();
        let typed = Call::new(
            "assets",
            &urbis_assets::AssetsCall::Transfer {
                symbol: "EURc".into(),
                to,
                amount: 250,
            },
        );
        assert_eq!(call, typed);
    }

    #[test]
    fn json_that_does_not_match_the_schema_is_refused_with_a_code() {
        let to = Address([9; 20]).to_string();
        for bad in [
            json!({"call": "transfer", "symbol": "EURc", "to": to}),
            json!({"call": "transfer", "symbol": "EURc", "to": to, "amount": -1}),
            json!({"call": "transfer", "symbol": "EURc", "to": to, "amount": 1, "memo": "x"}),
            json!({"call": "transfer", "symbol": "EURc", "to": "bob", "amount": 1}),
            json!({"call": "steal", "amount": 1}),
            json!([1, 2, 3]),
        ] {
            let e = json_call("assets", &bad).unwrap_err();
            assert_eq!(
                e.error_code(),
                Some(ErrorCode::SchemaMismatch),
                "{bad}: {e}"
            );
        }
        let e = json_call("nowhere", &json!({})).unwrap_err();
        assert_eq!(e.error_code(), Some(ErrorCode::UnknownModule));
    }

    #[test]
    fn list_queries_are_told_from_single_keys_without_a_node() {
        assert!(is_list_query("assets", &["holds"]));
        assert!(is_list_query("system", &["jobs"]));
        assert!(!is_list_query("assets", &["hold", "00"]));
        assert!(!is_list_query("system", &["nonce", "urbis1x"]));
        assert!(!is_list_query("nowhere", &["holds"]));
    }
}
