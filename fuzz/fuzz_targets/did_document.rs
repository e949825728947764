//! DID documents as clients read them: the DID itself (`did:urbis:…`), its verification
//! methods and relationships, and the JWKs in them (`urbis_credentials::did::method_key`, used
//! to bind credentials, check issuers and encrypt to a holder) — never a panic, and a key found
//! is one the document really lists under that relationship.
#![no_main]

use serde_json::Value;
use urbis_credentials::did::method_key;
use urbis_credentials::jose::{Alg, PublicJwk};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let did = doc["id"]
        .as_str()
        .unwrap_or("did:urbis:0000000000000000000000000000000000000000");
    if let Ok(id) = urbis_identity::parse_did(did) {
        assert_eq!(
            urbis_identity::did_string(&id),
            did,
            "a DID has one spelling"
        );
    }
    for m in doc["verificationMethod"].as_array().into_iter().flatten() {
        if let Ok(jwk) = PublicJwk::from_json(&m["publicKeyJwk"]) {
            let again = PublicJwk::from_json(&jwk.to_json()).expect("a JWK's own form reads back");
            assert_eq!(again, jwk);
            for alg in [Alg::EdDSA, Alg::ES256] {
                let _ = jwk.verify(alg, data, &data[..data.len().min(64)]);
            }
        }
    }
    for rel in [
        "authentication",
        "assertionMethod",
        "keyAgreement",
        "capabilityInvocation",
    ] {
        for fragment in ["key-1", "key-2", "enc-1"] {
            if let Some(key) = method_key(&doc, did, fragment, rel) {
                let id = format!("{did}#{fragment}");
                let listed = doc[rel]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|r| r == &Value::from(id.clone())));
                assert!(listed, "{id} returned for {rel} without being listed");
                let m = (doc["verificationMethod"].as_array().into_iter().flatten())
                    .find(|m| m["id"].as_str() == Some(&id))
                    .expect("the method is in the document");
                assert_eq!(PublicJwk::from_json(&m["publicKeyJwk"]).ok(), Some(key));
            }
        }
    }
});
