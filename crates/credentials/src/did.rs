//! Reading keys out of a resolved DID document (W3C DID Core §5.2–5.3): the one place clients
//! turn a document into a verification key, so it is written once and fuzzed.

use serde_json::Value;

use crate::jose::PublicJwk;

/// The JWK of verification method `<did>#<fragment>` of the DID document `doc`, if the
/// verification relationship `relationship` (e.g. `authentication`, `assertionMethod`,
/// `keyAgreement`) lists it by reference and the method carries a valid `publicKeyJwk`.
/// Anything else — a missing or malformed member, a method listed under another
/// relationship, an unknown key type — is `None`.
pub fn method_key(doc: &Value, did: &str, fragment: &str, relationship: &str) -> Option<PublicJwk> {
    let id = format!("{did}#{fragment}");
    let listed = doc[relationship]
        .as_array()
        .is_some_and(|a| a.iter().any(|r| r.as_str() == Some(&id)));
    if !listed {
        return None;
    }
    doc["verificationMethod"]
        .as_array()?
        .iter()
        .find(|m| m["id"].as_str() == Some(&id))
        .and_then(|m| PublicJwk::from_json(&m["publicKeyJwk"]).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jose::{Alg, SigningKey};

    #[test]
    fn finds_a_listed_method_only() {
        let key = SigningKey::from_seed(Alg::EdDSA, &[7; 32])
            .unwrap()
            .public();
        let did = "did:urbis:abc";
        let doc = json!({
            "id": did,
            "verificationMethod": [{"id": format!("{did}#key-1"), "type": "JsonWebKey2020",
                "controller": did, "publicKeyJwk": key.to_json()}],
            "authentication": [format!("{did}#key-1")],
        });
        assert_eq!(method_key(&doc, did, "key-1", "authentication"), Some(key));
        assert_eq!(method_key(&doc, did, "key-1", "assertionMethod"), None);
        assert_eq!(method_key(&doc, did, "key-2", "authentication"), None);
        assert_eq!(
            method_key(&doc, "did:urbis:other", "key-1", "authentication"),
            None
        );
        assert_eq!(
            method_key(&json!([1, 2]), did, "key-1", "authentication"),
            None
        );
    }
}
