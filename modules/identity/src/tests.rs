//! The identity module through the runtime, next to the accounts module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use urbis_accounts::testkit::{TestChain, addr, key};
use urbis_core::{ErrorCode, Hash};
use urbis_credentials::jose::{Alg, SigningKey};

use crate::{MODULE, next_key_commitment};

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("registry"), "roles": ["department"] },
        { "address": addr("alice"), "roles": ["citizen"] },
    ]});
    TestChain::new(
        vec![urbis_accounts::module(), crate::module()],
        &[(urbis_accounts::MODULE, accounts)],
    )
}

fn call(chain: &TestChain, json: serde_json::Value) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(MODULE, &json)
        .expect("matches the schema")
}

fn document(alg: Alg) -> serde_json::Value {
    let k = SigningKey::generate(alg).public().to_json();
    let x = json!({"kty": "OKP", "crv": "X25519", "x": urbis_credentials::jose::b64(&[9; 32])});
    json!({
        "methods": [
            {"fragment": "key-1", "jwk": k, "purposes": ["authentication", "assertion_method"]},
            {"fragment": "enc-1", "jwk": x, "purposes": ["key_agreement"]},
        ],
        "services": [{"fragment": "inbox", "type": "LinkedDomains", "endpoint": "https://example.org"}],
    })
}

/// Create a person's DID controlled by `who`, committing to `next`; returns the DID.
fn create(chain: &mut TestChain, who: &str, next: &str) -> String {
    let c = call(
        chain,
        json!({"call": "create", "document": document(Alg::EdDSA),
               "next_key_hash": next_key_commitment(&addr(next)),
               "salt": Hash([7; 32]), "subject": "person"}),
    );
    let r = chain.ok(&key(who), c);
    r.events[0].attr("did").unwrap().to_string()
}

#[test]
fn anyone_creates_their_own_did_and_it_resolves_to_a_did_document() {
    let mut chain = city();
    // "carol" holds no role: creating her own DID is an open call.
    let did = create(&mut chain, "carol", "carol-next");
    assert!(did.starts_with("did:urbis:") && did.len() == 50);
    let v = chain.value(MODULE, &["did", &did]);
    assert_eq!(v["version"], 1);
    assert_eq!(v["controller"], json!(addr("carol")));
    let doc = &v["did_document"];
    assert_eq!(doc["id"], json!(did));
    assert_eq!(
        doc["verificationMethod"][0]["id"],
        json!(format!("{did}#key-1"))
    );
    assert_eq!(doc["verificationMethod"][0]["type"], "JsonWebKey2020");
    assert_eq!(doc["assertionMethod"], json!([format!("{did}#key-1")]));
    assert_eq!(doc["keyAgreement"], json!([format!("{did}#enc-1")]));
    assert_eq!(doc["service"][0]["serviceEndpoint"], "https://example.org");
    // The same inception again is refused; a role-less sender cannot create a device DID.
    let again = call(
        &chain,
        json!({"call": "create", "document": v["document"], "next_key_hash": v["next_key_hash"],
               "salt": Hash([7; 32]), "subject": "person"}),
    );
    chain.fails(&key("carol"), again, ErrorCode::AlreadyExists);
    let device = call(
        &chain,
        json!({"call": "create", "document": document(Alg::ES256),
               "next_key_hash": next_key_commitment(&addr("x")), "salt": Hash([1; 32]),
               "subject": "device", "controller": addr("meter-7")}),
    );
    chain.fails(&key("alice"), device.clone(), ErrorCode::Unauthorized);
    let r = chain.ok(&key("registry"), device);
    let dev = r.events[0].attr("did").unwrap().to_string();
    assert_eq!(
        chain.value(MODULE, &["did", &dev])["controller"],
        json!(addr("meter-7"))
    );
}

#[test]
fn pre_rotation_update_and_deactivation_keep_every_version() {
    let mut chain = city();
    let did = create(&mut chain, "carol", "carol-2");
    // A thief with the current key may update, but not rotate: only the committed key can.
    let rotate = |chain: &TestChain, next: &str| {
        call(
            chain,
            json!({"call": "rotate", "did": did, "next_key_hash": next_key_commitment(&addr(next))}),
        )
    };
    chain.fails(
        &key("carol"),
        rotate(&chain, "thief"),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("mallory"),
        rotate(&chain, "thief"),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("carol-2"), rotate(&chain, "carol-3"));
    let v = chain.value(MODULE, &["did", &did]);
    assert_eq!(v["version"], 2);
    assert_eq!(v["controller"], json!(addr("carol-2")));
    // The old key no longer controls it.
    let upd = call(
        &chain,
        json!({"call": "update", "did": did, "document": document(Alg::ES256)}),
    );
    chain.fails(&key("carol"), upd.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("carol-2"), upd);
    let deact = call(&chain, json!({"call": "deactivate", "did": did}));
    chain.ok(&key("carol-2"), deact.clone());
    chain.fails(&key("carol-2"), deact, ErrorCode::InvalidState);
    let v = chain.value(MODULE, &["did", &did]);
    assert_eq!(v["version"], 4);
    assert_eq!(v["deactivated"], true);
    assert!(v["did_document"].get("verificationMethod").is_none());
    // Every version stays readable, oldest first.
    let page = chain.list(MODULE, &["versions", &did], 10, None).unwrap();
    let versions: Vec<_> = page
        .items
        .iter()
        .map(|i| i["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    assert_eq!(
        chain.value(MODULE, &["version", &did, "1"])["controller"],
        json!(addr("carol"))
    );
}

#[test]
fn bad_documents_and_dids_are_refused_without_writing() {
    let mut chain = city();
    let did = create(&mut chain, "alice", "alice-2");
    let bad_docs = [
        json!({"methods": []}),
        json!({"methods": [{"fragment": "a b", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": urbis_credentials::jose::b64(&[1; 32])}, "purposes": ["authentication"]}]}),
        // X25519 used for signing.
        json!({"methods": [{"fragment": "k", "jwk": {"kty": "OKP", "crv": "X25519", "x": urbis_credentials::jose::b64(&[9; 32])}, "purposes": ["authentication"]}]}),
        // Not a point.
        json!({"methods": [{"fragment": "k", "jwk": {"kty": "EC", "crv": "P-256", "x": urbis_credentials::jose::b64(&[0; 32]), "y": urbis_credentials::jose::b64(&[0; 32])}, "purposes": ["authentication"]}]}),
    ];
    for d in bad_docs {
        let c = call(&chain, json!({"call": "update", "did": did, "document": d}));
        chain.fails(&key("alice"), c, ErrorCode::InvalidArgument);
    }
    for bad in ["did:urbis:XYZ", "did:web:example.org", "did:urbis:00"] {
        let c = call(&chain, json!({"call": "deactivate", "did": bad}));
        chain.fails(&key("alice"), c, ErrorCode::InvalidArgument);
    }
    let unknown = format!("did:urbis:{}", "ab".repeat(20));
    let c = call(&chain, json!({"call": "deactivate", "did": unknown}));
    chain.fails(&key("alice"), c, ErrorCode::NotFound);
    assert!(chain.query(MODULE, &["did", "did:urbis:nope"]).is_err());
}

#[test]
fn accredited_issuers_keep_status_lists_with_one_chunk_written_per_change() {
    let mut chain = city();
    let issuer = create(&mut chain, "registry", "registry-2");
    let accredit = call(
        &chain,
        json!({"call": "accredit", "issuer": issuer, "vct": "urn:urbis:resident", "from_ms": 0, "until_ms": u64::MAX}),
    );
    chain.fails(&key("registry"), accredit.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("admin"), accredit);
    let acc = chain.value(MODULE, &["accreditation", "urn:urbis:resident", &issuer]);
    assert_eq!(acc["issuer"], json!(issuer));

    let make = call(
        &chain,
        json!({"call": "create_status_list", "issuer": issuer, "bits": 2, "size": 100_000}),
    );
    chain.fails(&key("alice"), make.clone(), ErrorCode::Unauthorized);
    let r = chain.ok(&key("registry"), make);
    let list = r.events[0].attr("list").unwrap().to_string();
    let set = |chain: &TestChain, idx: u64, status: u8| {
        call(
            chain,
            json!({"call": "set_status", "list": list.parse::<u64>().unwrap(), "idx": idx, "status": status}),
        )
    };
    chain.fails(&key("alice"), set(&chain, 5, 1), ErrorCode::Unauthorized);
    chain.fails(
        &key("registry"),
        set(&chain, 100_000, 1),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("registry"),
        set(&chain, 5, 4),
        ErrorCode::InvalidArgument,
    );
    let before = chain.snapshot().len();
    chain.ok(&key("registry"), set(&chain, 99_999, 1));
    chain.ok(&key("registry"), set(&chain, 5, 2));
    // One chunk created for each far-apart index, nothing else grows.
    assert_eq!(chain.snapshot().len(), before + 2);
    // Reassemble the list from its chunks: exactly the Token Status List byte array.
    let page = chain.list(MODULE, &["chunks", &list], 1000, None).unwrap();
    let meta = chain.value(MODULE, &["status_list", &list]);
    let chunks = page.items.iter().map(|item| {
        let n = crate::chunk_number(item["key"].as_str().unwrap().as_bytes()).unwrap();
        (n, hex::decode(item["bytes"].as_str().unwrap()).unwrap())
    });
    let l = crate::assemble_list(2, meta["size"].as_u64().unwrap(), chunks).unwrap();
    assert_eq!(l.get(5), Some(2));
    assert_eq!(l.get(99_999), Some(1));
    assert_eq!(l.get(6), Some(0));
    // Back to valid: the chunk is all zero again and goes away.
    chain.ok(&key("registry"), set(&chain, 5, 0));
    assert_eq!(chain.snapshot().len(), before + 1);
}

#[test]
fn guardians_recover_a_did_after_the_time_lock_unless_the_owner_vetoes() {
    let mut chain = city();
    let alice = create(&mut chain, "alice", "alice-next");
    let g: Vec<String> = ["g1", "g2", "g3"]
        .iter()
        .map(|n| create(&mut chain, n, &format!("{n}-next")))
        .collect();
    let hour = 3_600_000u64;
    let set = |chain: &TestChain, guardians: &[String], threshold: u8, delay: u64| {
        call(
            chain,
            json!({"call": "set_recovery", "did": alice,
                   "recovery": {"guardians": guardians, "threshold": threshold, "delay_ms": delay}}),
        )
    };
    // Nobody recovers alone: one guardian, a threshold of 1, or a short time-lock are refused.
    chain.fails(
        &key("alice"),
        set(&chain, &g[..1], 1, hour),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("alice"),
        set(&chain, &g, 1, hour),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("alice"),
        set(&chain, &g, 2, hour - 1),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("g1"),
        set(&chain, &g, 2, hour),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("alice"), set(&chain, &g, 2, hour));

    let recover = |chain: &TestChain, guardian: &str, to: &str| {
        call(
            chain,
            json!({"call": "recover", "did": alice, "guardian": guardian,
                   "new_controller": addr(to), "next_key_hash": next_key_commitment(&addr(&format!("{to}-next")))}),
        )
    };
    // A non-member, or a member's DID used by someone else, cannot start one.
    let outsider = create(&mut chain, "mallory", "mallory-next");
    chain.fails(
        &key("mallory"),
        recover(&chain, &outsider, "mallory"),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("mallory"),
        recover(&chain, &g[0], "mallory"),
        ErrorCode::Unauthorized,
    );

    // Two guardians approve; Alice (who still has her key) vetoes within the time-lock.
    chain.ok(&key("g1"), recover(&chain, &g[0], "alice-new"));
    chain.fails(
        &key("g1"),
        recover(&chain, &g[0], "alice-new"),
        ErrorCode::AlreadyExists,
    );
    chain.fails(
        &key("g2"),
        recover(&chain, &g[1], "other"),
        ErrorCode::InvalidState,
    );
    chain.ok(&key("g2"), recover(&chain, &g[1], "alice-new"));
    let veto = call(&chain, json!({"call": "veto", "did": alice}));
    chain.fails(&key("g1"), veto.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("alice"), veto.clone());
    assert!(chain.value(MODULE, &["recovery", &alice]).is_null());

    // Again, and this time nobody vetoes: after the time-lock the new account controls it.
    chain.ok(&key("g2"), recover(&chain, &g[1], "alice-new"));
    chain.ok(&key("g3"), recover(&chain, &g[2], "alice-new"));
    let pending = chain.value(MODULE, &["recovery", &alice]);
    assert_eq!(pending["approvals"].as_array().unwrap().len(), 2);
    chain.skip_blocks(hour / urbis_accounts::testkit::BLOCK_MS + 1);
    // Too late to veto; the scheduler hands control over at the end of this very block.
    let late = chain.send(&key("alice"), veto);
    assert_eq!(late.error.unwrap().code, ErrorCode::InvalidState);
    let v = chain.value(MODULE, &["did", &alice]);
    assert_eq!(v["controller"], json!(addr("alice-new")));
    assert!(chain.value(MODULE, &["recovery", &alice]).is_null());
    // The new controller may rotate to its own committed next key.
    let rot = call(
        &chain,
        json!({"call": "rotate", "did": alice, "next_key_hash": next_key_commitment(&addr("x"))}),
    );
    chain.ok(&key("alice-new-next"), rot);
}
