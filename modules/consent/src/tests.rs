//! Consent through the runtime, next to the accounts module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use urbis_accounts::testkit::{BLOCK_MS, GENESIS_MS, TestChain, addr, key};
use urbis_core::{ErrorCode, Hash};

use crate::{MODULE, scope_commitment};

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
    ]});
    let consent = json!({"purposes": [{"code": "treatment", "description": "Medical treatment"}]});
    TestChain::new(
        vec![urbis_accounts::module(), crate::module()],
        &[(urbis_accounts::MODULE, accounts), (MODULE, consent)],
    )
}

fn call(chain: &TestChain, json: serde_json::Value) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(MODULE, &json)
        .expect("matches the schema")
}

const SALT: Hash = Hash([5; 32]);

/// Alice's pairwise account grants the hospital's pairwise account two records, 2 uses.
fn granted(chain: &mut TestChain, max_uses: u32, expires_in_blocks: u64) -> String {
    let now = GENESIS_MS + chain.next_env().height * BLOCK_MS;
    let scope = [
        scope_commitment(&SALT, "record:blood-2026-03"),
        scope_commitment(&SALT, "category:lab-results"),
    ];
    let c = call(
        chain,
        json!({"call": "grant", "grantee": addr("hospital-p1"), "purpose": "treatment",
               "scope": scope, "not_before_ms": 0, "expires_ms": now + expires_in_blocks * BLOCK_MS,
               "max_uses": max_uses, "sealed": "00ff"}),
    );
    let r = chain.ok(&key("alice-p1"), c);
    r.events[0].attr("grant").unwrap().to_string()
}

fn use_call(chain: &TestChain, grant: &str, item: &str) -> urbis_core::Call {
    call(
        chain,
        json!({"call": "use", "grant": grant, "item": scope_commitment(&SALT, item)}),
    )
}

#[test]
fn uses_leave_receipts_until_the_grant_is_exhausted_or_revoked() {
    let mut chain = city();
    let g = granted(&mut chain, 2, 100);
    // The grant names neither party's DID or usual account, only pairwise accounts.
    let v = chain.value(MODULE, &["grant", &g]);
    assert_eq!(v["grantee"], json!(addr("hospital-p1")));
    assert_eq!(v["purpose"], "treatment");
    // Someone else may not use it; an item outside the scope is refused.
    chain.fails(
        &key("mallory"),
        use_call(&chain, &g, "record:blood-2026-03"),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("hospital-p1"),
        use_call(&chain, &g, "record:x-ray"),
        ErrorCode::OutOfScope,
    );
    let r = chain.ok(
        &key("hospital-p1"),
        use_call(&chain, &g, "record:blood-2026-03"),
    );
    chain.ok(
        &key("hospital-p1"),
        use_call(&chain, &g, "category:lab-results"),
    );
    chain.fails(
        &key("hospital-p1"),
        use_call(&chain, &g, "record:blood-2026-03"),
        ErrorCode::Exhausted,
    );
    let uses = chain.list(MODULE, &["uses", &g], 10, None).unwrap();
    assert_eq!(uses.items.len(), 2);
    assert_eq!(uses.items[0]["n"], 1);
    assert_eq!(uses.items[0]["tx"], json!(r.tx_hash));
    assert_eq!(
        uses.items[0]["item"],
        json!(scope_commitment(&SALT, "record:blood-2026-03"))
    );

    // A fresh grant, revoked by its grantor: refused at once.
    let g2 = granted(&mut chain, 5, 100);
    let revoke = call(&chain, json!({"call": "revoke", "grant": g2}));
    chain.fails(&key("hospital-p1"), revoke.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("alice-p1"), revoke.clone());
    chain.fails(&key("alice-p1"), revoke, ErrorCode::Revoked);
    chain.fails(
        &key("hospital-p1"),
        use_call(&chain, &g2, "record:blood-2026-03"),
        ErrorCode::Revoked,
    );
}

#[test]
fn expired_and_not_yet_valid_grants_and_bad_grants_are_refused() {
    let mut chain = city();
    let g = granted(&mut chain, 5, 3);
    chain.skip_blocks(5);
    chain.fails(
        &key("hospital-p1"),
        use_call(&chain, &g, "record:blood-2026-03"),
        ErrorCode::Expired,
    );

    let now = GENESIS_MS + chain.next_env().height * BLOCK_MS;
    let item = scope_commitment(&SALT, "record:a");
    let base = json!({"call": "grant", "grantee": addr("hospital-p1"), "purpose": "treatment",
        "scope": [item], "not_before_ms": now + 50 * BLOCK_MS, "expires_ms": now + 100 * BLOCK_MS, "max_uses": 1});
    let later = chain.ok(&key("alice-p2"), call(&chain, base.clone()));
    let g2 = later.events[0].attr("grant").unwrap().to_string();
    chain.fails(
        &key("hospital-p1"),
        use_call(&chain, &g2, "record:a"),
        ErrorCode::NotYetValid,
    );

    let mut bad = Vec::new();
    let mut v = base.clone();
    v["scope"] = json!([]);
    bad.push((v, ErrorCode::InvalidArgument));
    let mut v = base.clone();
    v["scope"] = json!([item, item]);
    bad.push((v, ErrorCode::InvalidArgument));
    let mut v = base.clone();
    v["expires_ms"] = json!(now - 1);
    bad.push((v, ErrorCode::InvalidArgument));
    let mut v = base.clone();
    v["max_uses"] = json!(0);
    bad.push((v, ErrorCode::InvalidArgument));
    let mut v = base.clone();
    v["purpose"] = json!("marketing");
    bad.push((v, ErrorCode::NotFound));
    let mut v = base.clone();
    v["grantee"] = json!(addr("alice-p2"));
    bad.push((v, ErrorCode::InvalidArgument));
    for (v, code) in bad {
        chain.fails(&key("alice-p2"), call(&chain, v), code);
    }
    // Only the city admin registers purposes.
    let p = call(
        &chain,
        json!({"call": "register_purpose", "code": "research", "description": "Research"}),
    );
    chain.fails(&key("alice-p2"), p.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("admin"), p.clone());
    chain.fails(&key("admin"), p, ErrorCode::AlreadyExists);
    assert_eq!(
        chain
            .list(MODULE, &["purposes"], 10, None)
            .unwrap()
            .items
            .len(),
        2
    );
}
