//! Test vectors for the JavaScript client (`clients/js`), made by the Rust code they must agree
//! with, in `clients/vectors/tx/`:
//! - `calls.json`: every module's call schema and, for every call, sample JSON calls (every
//!   field filled with a non-default value, every alternative of a nested enum used, and one
//!   sample with the optional fields left out) with the borsh bytes `call_from_json` makes;
//! - `transactions.json`: keys (seed, public key, address) and signed transactions with every
//!   intermediate encoding.
//!
//! `URBIS_WRITE_VECTORS=1 cargo test -p urbis-client --test js_vectors` writes them; without
//! it the test fails unless the committed files are exactly what the code makes now (so a
//! schema or encoding change is caught until the vectors are regenerated and the JavaScript
//! tests pass on them).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::{Map, Value, json};
use urbis_core::{ChainRef, Hash, SecretKey, SignedTx, UnsignedTx, sha256_domain};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../clients/vectors/tx")
}

/// The key whose address, public key and signature fill the samples' typed strings.
fn sample_key() -> SecretKey {
    SecretKey::from_label("js-vectors")
}

fn is_null_schema(s: &Value) -> bool {
    s.get("type") == Some(&json!("null"))
}

/// The schema of `T` if `s` is an `Option<T>`'s.
fn option_inner(s: &Value) -> Option<Value> {
    if let Some(types) = s.get("type").and_then(Value::as_array)
        && types.len() > 1
        && types.contains(&json!("null"))
    {
        let rest: Vec<Value> = types
            .iter()
            .filter(|t| *t != &json!("null"))
            .cloned()
            .collect();
        let mut inner = s.as_object().unwrap().clone();
        inner.insert(
            "type".into(),
            if rest.len() == 1 {
                rest[0].clone()
            } else {
                Value::Array(rest)
            },
        );
        if let Some(Value::Array(names)) = inner.get_mut("enum") {
            names.retain(|v| !v.is_null());
        }
        return Some(Value::Object(inner));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = s.get(key).and_then(Value::as_array)
            && alts.len() == 2
            && alts.iter().any(is_null_schema)
        {
            return alts.iter().find(|a| !is_null_schema(a)).cloned();
        }
    }
    None
}

/// The most alternatives any enum inside `s` has (so that `choice` 0..n uses each of them).
fn max_choices(s: &Value) -> usize {
    let own = s
        .get("oneOf")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
        .max(s.get("enum").and_then(Value::as_array).map_or(0, Vec::len));
    let nested = match s {
        Value::Object(m) => m.values().map(max_choices).max().unwrap_or(0),
        Value::Array(a) => a.iter().map(max_choices).max().unwrap_or(0),
        _ => 0,
    };
    own.max(nested)
}

/// A sample value of schema `s`: `choice` picks enum alternatives; `full` fills optional
/// fields too (with values that are not their defaults).
fn sample(s: &Value, choice: usize, full: bool, what: &str) -> Value {
    if let Some(inner) = option_inner(s) {
        return sample(&inner, choice, full, what);
    }
    if let Some(alts) = s.get("oneOf").and_then(Value::as_array) {
        let alt = &alts[choice % alts.len()];
        if let Some(name) = alt.get("const") {
            return name.clone();
        }
        return sample(alt, choice, full, what);
    }
    if let Some(names) = s.get("enum").and_then(Value::as_array) {
        return names[(choice + 1) % names.len()].clone();
    }
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    let key = sample_key();
    match s.get("type").and_then(Value::as_str) {
        Some("boolean") => json!(true),
        Some("integer") => {
            let v: i128 = match s.get("format").and_then(Value::as_str) {
                Some("uint8") => 0xc8,
                Some("uint16") => 0x1234,
                Some("uint32") => 0x1234_5678,
                Some("uint64" | "uint" | "uint128") => 0x12_3456_789a_bcde,
                Some("int8") => -0x5a,
                Some("int16") => -12_345,
                Some("int32") => -0x123_4567,
                Some("int64" | "int" | "int128") => -0x12_3456_789a_bcde,
                f => panic!("{what}: integer format {f:?}"),
            };
            let min = s.get("minimum").and_then(Value::as_f64).map(|m| m as i128);
            let max = s.get("maximum").and_then(Value::as_f64).map(|m| m as i128);
            let v = v
                .max(min.unwrap_or(i128::MIN))
                .min(max.unwrap_or(i128::MAX));
            json!(v as i64)
        }
        Some("string") => match s.get("x-borsh").and_then(Value::as_str) {
            Some("hash") => json!(sha256_domain(b"js-vectors", &[what.as_bytes()])),
            Some("address") => json!(key.address()),
            Some("public_key") => json!(key.public_key()),
            Some("signature") => json!(key.sign(b"js-vectors", what.as_bytes())),
            Some("bytes") => json!("00ff10ab"),
            None => {
                assert!(
                    s.get("pattern").is_none()
                        && s.get("minLength").is_none()
                        && s.get("maxLength").is_none(),
                    "{what}: a constrained string with no x-borsh: {s}"
                );
                json!(format!("{what} · ü✓"))
            }
            Some(other) => panic!("{what}: x-borsh {other}"),
        },
        Some("array") => {
            let items = s.get("items").expect("array items");
            let n = match (s.get("minItems"), s.get("maxItems")) {
                (Some(a), Some(b)) if a == b => a.as_u64().unwrap() as usize,
                _ => 2,
            };
            (0..n)
                .map(|i| sample(items, choice + i, full, &format!("{what}/{i}")))
                .collect()
        }
        Some("object") => {
            let mut out = Map::new();
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (name, field) in props {
                    if full || required.contains(&name.as_str()) {
                        out.insert(
                            name.clone(),
                            sample(field, choice, full, &format!("{what}/{name}")),
                        );
                    }
                }
            } else if let Some(values) = s.get("additionalProperties").filter(|v| v.is_object()) {
                for k in ["beta", "alpha"] {
                    out.insert(
                        k.into(),
                        sample(values, choice, full, &format!("{what}/{k}")),
                    );
                }
            }
            Value::Object(out)
        }
        t => panic!("{what}: no sample for type {t:?}: {s}"),
    }
}

/// Whether an object schema has fields that may be left out (besides the tag).
fn has_optional_fields(s: &Value) -> bool {
    let props = s["properties"].as_object().map_or(0, Map::len);
    let required = s["required"].as_array().map_or(0, Vec::len);
    props > required
}

fn calls_vectors() -> Value {
    let rt = urbis_registry::runtime("");
    let mut modules = Vec::new();
    for module in rt.module_names() {
        let schema = rt.call_schema(module).unwrap();
        if schema.is_null() {
            continue;
        }
        let variants = schema["oneOf"].as_array().expect("a tagged call enum");
        let mut calls = Vec::new();
        for (index, variant) in variants.iter().enumerate() {
            let name = variant["properties"]["call"]["const"].as_str().unwrap();
            let mut samples: Vec<Value> = (0..max_choices(variant).max(1))
                .map(|choice| sample(variant, choice, true, &format!("{module}.{name}")))
                .collect();
            if has_optional_fields(variant) {
                samples.push(sample(variant, 0, false, &format!("{module}.{name}")));
            }
            samples.dedup();
            for json in samples {
                let call = rt
                    .call_from_json(module, &json)
                    .unwrap_or_else(|e| panic!("{module}: {json}: {e}"));
                // The borsh variant index is the call's position in the schema (its
                // declaration index), and the bytes decode back to the same call.
                assert_eq!(call.data[0] as usize, index, "{module}.{name}");
                let back = rt.describe_call(module, &call.data).unwrap();
                assert_eq!(
                    rt.call_from_json(module, &back).unwrap(),
                    call,
                    "{module}: {json}"
                );
                calls.push(json!({ "json": json, "borsh": hex::encode(&call.data) }));
            }
        }
        modules.push(json!({ "module": module, "schema": schema, "calls": calls }));
    }
    json!({
        "about": "Module calls: JSON form and the borsh bytes `call_from_json` makes, per module with its call schema. Generated by crates/client/tests/js_vectors.rs.",
        "modules": modules,
    })
}

fn key_vector(key: &SecretKey) -> Value {
    json!({
        "seed": hex::encode(key.seed()),
        "public_key": key.public_key(),
        "address": key.address(),
        "address_bytes": hex::encode(key.address().0),
    })
}

fn transactions_vectors() -> Value {
    let rt = urbis_registry::runtime("");
    let key = SecretKey::from_seed([7; 32]);
    let chain = ChainRef::new(
        "urbis-vectors",
        sha256_domain(b"js-vectors", &[b"genesis".as_slice()]),
    );
    let to = SecretKey::from_label("js-vectors-recipient").address();
    let txs: [(u64, &str, Value); 4] = [
        (
            0,
            "assets",
            json!({"call": "create_asset", "symbol": "EURc", "name": "City euro", "decimals": 2}),
        ),
        (
            1,
            "assets",
            json!({"call": "escrow", "symbol": "EURc", "to": to, "amount": 250, "expires_ms": 1_700_000_000_000u64}),
        ),
        (
            7,
            "rewards",
            json!({"call": "award", "program": 3, "to": to, "amount": 40, "reason": "Recycling ✓"}),
        ),
        (
            (1 << 40) + 3,
            "accounts",
            json!({"call": "grant_role", "account": to, "role": "citizen"}),
        ),
    ];
    let txs: Vec<Value> = txs
        .into_iter()
        .map(|(nonce, module, call_json)| {
            let call = rt.call_from_json(module, &call_json).unwrap();
            let unsigned = UnsignedTx {
                chain_id: chain.chain_id.clone(),
                signer: key.public_key(),
                nonce,
                call: call.clone(),
            };
            let unsigned_borsh = borsh_of(&unsigned);
            let signing = unsigned.signing_bytes(&chain.genesis_hash);
            let signed = SignedTx::new(&chain, &key, nonce, call.clone());
            signed.check_stateless(&chain).unwrap();
            json!({
                "nonce": nonce,
                "module": module,
                "call": call_json,
                "call_data": hex::encode(&call.data),
                "unsigned": hex::encode(unsigned_borsh),
                "signing_bytes": hex::encode(signing),
                "signature": signed.signature,
                "signed": hex::encode(signed.encode()),
                "json": signed,
                "tx_id": signed.hash(),
            })
        })
        .collect();
    let mut keys = vec![
        key_vector(&key),
        key_vector(&SecretKey::from_seed(std::array::from_fn(|i| i as u8))),
    ];
    keys.extend(["alice", "city"].map(|l| key_vector(&SecretKey::from_label(l))));
    json!({
        "about": "Keys and signed transactions (signing bytes: len(tag) || tag || genesis_hash || borsh(unsigned), tag urbis/tx-sign/v1; id: SHA-256 with domain urbis/tx-id/v1 of the signed borsh). Generated by crates/client/tests/js_vectors.rs.",
        "keys": keys,
        "signer": key_vector(&key),
        "chain_id": chain.chain_id,
        "genesis_hash": chain.genesis_hash,
        "transactions": txs,
    })
}

/// Borsh of an unsigned transaction, by way of its signing bytes (`urbis_core` writes it only
/// there): `len(tag) || tag || genesis_hash || borsh`.
fn borsh_of(tx: &UnsignedTx) -> Vec<u8> {
    let tag = urbis_core::hash::domain::TX_SIGN;
    tx.signing_bytes(&Hash::ZERO)[1 + tag.len() + 32..].to_vec()
}

fn check_or_write(name: &str, value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    let path = dir().join(name);
    if std::env::var("URBIS_WRITE_VECTORS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is not what the code makes now; regenerate it with \
         URBIS_WRITE_VECTORS=1 cargo test -p urbis-client --test js_vectors, \
         then run node --test clients/js/test/",
        path.display()
    );
}

#[test]
fn call_vectors_are_current() {
    check_or_write("calls.json", &calls_vectors());
}

#[test]
fn transaction_vectors_are_current() {
    check_or_write("transactions.json", &transactions_vectors());
}

#[test]
fn unsigned_borsh_is_the_signed_borsh_without_its_signature() {
    let key = SecretKey::from_seed([7; 32]);
    let chain = ChainRef::new("c", Hash([1; 32]));
    let call = urbis_core::Call {
        module: "m".into(),
        data: vec![1, 2],
    };
    let signed = SignedTx::new(&chain, &key, 5, call);
    let unsigned = borsh_of(&signed.unsigned());
    let full = signed.encode();
    assert_eq!(&full[..unsigned.len()], unsigned.as_slice());
    assert_eq!(full.len(), unsigned.len() + 65);
}
