//! Petitions through the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use urbis_accounts::testkit::{BLOCK_MS, TestChain, addr, key};
use urbis_core::{ErrorCode, Hash};

use crate::MODULE;

const DAY: u64 = 86_400_000;

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("parks"), "roles": ["department"] },
        { "address": addr("alice"), "roles": ["citizen"] },
        { "address": addr("bob"), "roles": ["citizen"] },
        { "address": addr("carol"), "roles": ["citizen"] },
        { "address": addr("shop"), "roles": ["merchant"] },
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

/// Alice opens a petition (threshold 2, open 40 blocks, 1 day to answer); its id.
fn opened(chain: &mut TestChain) -> String {
    let closes = chain.next_env().timestamp_ms + 40 * BLOCK_MS;
    let open = |chain: &TestChain, threshold: u64, closes: u64| {
        call(
            chain,
            json!({"call": "open", "title": "A crossing at Elm Street", "body_hash": Hash([1; 32]),
                   "threshold": threshold, "closes_ms": closes, "answer_days": 1}),
        )
    };
    chain.fails(
        &key("shop"),
        open(chain, 2, closes),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("alice"),
        open(chain, 0, closes),
        ErrorCode::InvalidArgument,
    );
    chain.fails(&key("alice"), open(chain, 2, 5), ErrorCode::InvalidArgument);
    let r = chain.ok(&key("alice"), open(chain, 2, closes));
    r.events[0].attr("id").unwrap().to_string()
}

#[test]
fn signatures_qualify_a_petition_and_the_council_answers() {
    let mut chain = city();
    let id = opened(&mut chain);
    let sign = |chain: &TestChain| call(chain, json!({"call": "sign", "id": id}));
    chain.fails(&key("parks"), sign(&chain), ErrorCode::Unauthorized);
    chain.ok(&key("alice"), sign(&chain));
    chain.fails(&key("alice"), sign(&chain), ErrorCode::AlreadyExists);
    // Withdraw and sign again.
    chain.ok(
        &key("alice"),
        call(&chain, json!({"call": "withdraw", "id": id})),
    );
    chain.fails(
        &key("alice"),
        call(&chain, json!({"call": "withdraw", "id": id})),
        ErrorCode::NotFound,
    );
    chain.ok(&key("alice"), sign(&chain));
    let answer = |chain: &TestChain| {
        call(
            chain,
            json!({"call": "answer", "id": id, "accepted": true, "answer_hash": Hash([2; 32])}),
        )
    };
    chain.fails(&key("admin"), answer(&chain), ErrorCode::InvalidState);
    let r = chain.ok(&key("bob"), sign(&chain));
    assert!(r.events.iter().any(|e| e.kind == "qualified"));
    let p = chain.value(MODULE, &["petition", &id]);
    assert_eq!(
        (p["signatures"].clone(), p["status"].clone()),
        (json!(2), json!("qualified"))
    );
    // Signatures are provable, and so is their absence.
    let bob = addr("bob").to_string();
    let carol = addr("carol").to_string();
    assert!(chain.value(MODULE, &["signature", &id, &bob])["signed_ms"].is_u64());
    assert!(chain.value(MODULE, &["signature", &id, &carol]).is_null());
    // Still signable until it closes; a withdrawal does not unqualify it.
    chain.ok(&key("carol"), sign(&chain));
    chain.ok(
        &key("carol"),
        call(&chain, json!({"call": "withdraw", "id": id})),
    );
    chain.fails(&key("bob"), answer(&chain), ErrorCode::Unauthorized);
    chain.ok(&key("admin"), answer(&chain));
    chain.fails(&key("admin"), answer(&chain), ErrorCode::InvalidState);
    let p = chain.value(MODULE, &["petition", &id]);
    assert_eq!(p["status"], "answered");
    assert_eq!(p["accepted"], true);
    // After closing nobody signs.
    chain.skip_blocks(40);
    chain.block(&[]); // the scheduler's block
    chain.fails(&key("carol"), sign(&chain), ErrorCode::InvalidState);
}

#[test]
fn an_unanswered_petition_goes_overdue_and_an_unsigned_one_closes() {
    let mut chain = city();
    let id = opened(&mut chain);
    for who in ["alice", "bob"] {
        chain.ok(&key(who), call(&chain, json!({"call": "sign", "id": id})));
    }
    let other = opened(&mut chain);
    chain.skip_blocks(DAY / BLOCK_MS + 2);
    chain.block(&[]); // the scheduler's block
    assert_eq!(chain.value(MODULE, &["petition", &id])["status"], "overdue");
    assert_eq!(
        chain.value(MODULE, &["petition", &other])["status"],
        "closed"
    );
    // An overdue petition can still be answered.
    chain.ok(
        &key("admin"),
        call(
            &chain,
            json!({"call": "answer", "id": id, "accepted": false, "answer_hash": Hash([3; 32])}),
        ),
    );
    let list = chain.list(MODULE, &["petitions"], 10, None).unwrap();
    assert_eq!(list.items.len(), 2);
    chain.fails(
        &key("alice"),
        call(&chain, json!({"call": "sign", "id": Hash([9; 32])})),
        ErrorCode::NotFound,
    );
}
