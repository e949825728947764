//! Record heads through the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use urbis_accounts::testkit::{TestChain, addr, key};
use urbis_core::{ErrorCode, Hash};

use crate::MODULE;

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("hospital"), "roles": ["department"] },
        { "address": addr("registry"), "roles": ["department"] },
        { "address": addr("alice"), "roles": ["citizen"] },
        { "address": addr("er"), "roles": ["hospital"] },
    ]});
    let records = json!({"emergency_reader": "did:urbis:0000000000000000000000000000000000000e11",
                         "subject_may_erase": ["department_file"]});
    TestChain::new(
        vec![urbis_accounts::module(), crate::module()],
        &[(urbis_accounts::MODULE, accounts), (MODULE, records)],
    )
}

fn call(chain: &TestChain, json: serde_json::Value) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(MODULE, &json)
        .expect("matches the schema")
}

const ALICE_AT_HOSPITAL: Hash = Hash([0xa1; 32]);

fn create(chain: &mut TestChain) -> String {
    let c = call(
        chain,
        json!({"call": "create", "kind": "health", "subject": ALICE_AT_HOSPITAL,
               "content_hash": Hash([1; 32]), "ciphertext_hash": Hash([2; 32]), "size": 2048,
               "locator": "blob:0202"}),
    );
    chain.fails(&key("alice"), c.clone(), ErrorCode::Unauthorized);
    let r = chain.ok(&key("hospital"), c);
    r.events[0].attr("record").unwrap().to_string()
}

#[test]
fn custodians_version_and_erase_heads_that_name_only_a_pseudonym() {
    let mut chain = city();
    let id = create(&mut chain);
    let head = chain.value(MODULE, &["head", &id]);
    assert_eq!(head["subject"], json!(ALICE_AT_HOSPITAL));
    assert!(!head.to_string().contains(&addr("alice").to_string()));
    let update = |chain: &TestChain| {
        call(
            chain,
            json!({"call": "update", "id": id, "content_hash": Hash([3; 32]),
                   "ciphertext_hash": Hash([4; 32]), "size": 4096, "locator": "blob:0404"}),
        )
    };
    chain.fails(&key("registry"), update(&chain), ErrorCode::Unauthorized);
    chain.ok(&key("hospital"), update(&chain));
    // The subject lists what is about them by their pseudonym.
    let about = chain
        .list(MODULE, &["about", &ALICE_AT_HOSPITAL.to_string()], 10, None)
        .unwrap();
    assert_eq!(about.items, [json!(id)]);
    let erase = call(&chain, json!({"call": "erase", "id": id}));
    chain.fails(&key("registry"), erase.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("hospital"), erase.clone());
    chain.fails(&key("hospital"), erase, ErrorCode::Erased);
    chain.fails(&key("hospital"), update(&chain), ErrorCode::Erased);
    let head = chain.value(MODULE, &["head", &id]);
    assert_eq!(head["erased"], true);
    assert_eq!(head["version"], 3);
    assert_eq!(head["locator"], "");
    let versions = chain.list(MODULE, &["versions", &id], 10, None).unwrap();
    assert_eq!(versions.items.len(), 3);
    assert_eq!(versions.items[1]["size"], 4096);
}

#[test]
fn bad_heads_are_refused() {
    let mut chain = city();
    for (size, locator) in [(0u64, "blob:1"), (17 << 20, "blob:1"), (10, "")] {
        let c = call(
            &chain,
            json!({"call": "create", "kind": "deed", "subject": Hash([5; 32]), "content_hash": Hash([1; 32]),
                   "ciphertext_hash": Hash([2; 32]), "size": size, "locator": locator}),
        );
        chain.fails(&key("registry"), c, ErrorCode::InvalidArgument);
    }
    let unknown = call(&chain, json!({"call": "erase", "id": Hash([9; 32])}));
    chain.fails(&key("registry"), unknown, ErrorCode::NotFound);
    assert!(chain.query(MODULE, &["head", "xyz"]).is_err());
}

#[test]
fn hospitals_break_glass_on_health_records_and_it_is_logged() {
    let mut chain = city();
    let id = create(&mut chain);
    let glass = |chain: &TestChain, id: &str| {
        call(
            chain,
            json!({"call": "break_glass", "id": id, "reason": Hash([0xee; 32])}),
        )
    };
    chain.fails(&key("alice"), glass(&chain, &id), ErrorCode::Unauthorized);
    chain.fails(
        &key("registry"),
        glass(&chain, &id),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("er"),
        glass(&chain, &Hash([9; 32]).to_string()),
        ErrorCode::NotFound,
    );
    let r = chain.ok(&key("er"), glass(&chain, &id));
    assert_eq!(r.events[0].kind, "break_glass");
    chain.ok(&key("er"), glass(&chain, &id));
    let log = chain.list(MODULE, &["emergency", &id], 10, None).unwrap();
    assert_eq!(log.items.len(), 2);
    assert_eq!(log.items[1]["n"], 2);
    assert_eq!(log.items[0]["by"], json!(addr("er")));
    // Not for other kinds.
    let deed = call(
        &chain,
        json!({"call": "create", "kind": "deed", "subject": Hash([5; 32]), "content_hash": Hash([1; 32]),
               "ciphertext_hash": Hash([2; 32]), "size": 10, "locator": "blob:1"}),
    );
    let r = chain.ok(&key("registry"), deed);
    let deed = r.events[0].attr("record").unwrap().to_string();
    chain.fails(&key("er"), glass(&chain, &deed), ErrorCode::InvalidArgument);
    assert_eq!(
        chain.value(MODULE, &["config"])["subject_may_erase"],
        json!(["department_file"])
    );
}

#[test]
fn subjects_erase_only_the_kinds_the_law_lets_them() {
    let mut chain = city();
    let me = crate::subject_pseudonym(&addr("alice"));
    let make = |chain: &mut TestChain, kind: &str| {
        let c = call(
            chain,
            json!({"call": "create", "kind": kind, "subject": me, "content_hash": Hash([1; 32]),
                   "ciphertext_hash": Hash([2; 32]), "size": 10, "locator": "blob:1"}),
        );
        let r = chain.ok(&key("hospital"), c);
        r.events[0].attr("record").unwrap().to_string()
    };
    let health = make(&mut chain, "health");
    let file = make(&mut chain, "department_file");
    let erase = |chain: &TestChain, id: &str| call(chain, json!({"call": "erase", "id": id}));
    chain.fails(
        &key("alice"),
        erase(&chain, &health),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("registry"),
        erase(&chain, &file),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("alice"), erase(&chain, &file));
    assert_eq!(chain.value(MODULE, &["head", &file])["erased"], true);
}
