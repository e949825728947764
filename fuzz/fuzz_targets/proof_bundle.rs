//! Proof-bundle verification, on inputs shaped like the committed vectors
//! (`clients/vectors/proofs/*.json`: `{trust, kind, bundle}`): whatever the bytes, the
//! verifier answers (a verdict, never a panic). A `trust.epoch_length` makes it a chain with
//! epochs (version-2 bundles, hand-overs).
#![no_main]

use serde_json::{Value, json};
use urbis_client::{ProofBundle, verify};
use urbis_consensus::ReceiptBundle;
use urbis_runtime::Genesis;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let validators: Vec<Value> = (v["trust"]["validators"].as_array().into_iter().flatten())
        .map(|k| json!({"name": "v", "public_key": k}))
        .collect();
    let Ok(genesis) = serde_json::from_value::<Genesis>(json!({
        "chain_id": v["trust"]["chain_id"], "genesis_time_ms": 0, "validators": validators,
        "epoch_length": v["trust"]["epoch_length"],
    })) else {
        return;
    };
    match v["kind"].as_str() {
        Some("receipt") => {
            if let Ok(b) = serde_json::from_value::<ReceiptBundle>(v["bundle"].clone()) {
                let _ = verify::verify_receipt(&b, &genesis);
            }
        }
        _ => {
            if let Ok(b) = serde_json::from_value::<ProofBundle>(v["bundle"].clone()) {
                let _ = verify::verify_bundle_with_genesis(&b, &genesis);
            }
        }
    }
});
