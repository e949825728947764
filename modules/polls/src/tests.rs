//! Polls through the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use urbis_accounts::testkit::{BLOCK_MS, TestChain, addr, key};
use urbis_core::{ErrorCode, Hash};

use crate::MODULE;

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("parks"), "roles": ["department"] },
        { "address": addr("alice"), "roles": ["citizen"] },
        { "address": addr("bob"), "roles": ["citizen"] },
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

#[test]
fn residents_respond_once_and_the_counts_are_state() {
    let mut chain = city();
    let closes = chain.next_env().timestamp_ms + 30 * BLOCK_MS;
    let create = |chain: &TestChain, options: serde_json::Value| {
        call(
            chain,
            json!({"call": "create", "question": "Which trees for Elm Park?",
                   "options": options, "closes_ms": closes}),
        )
    };
    let opts = json!(["Oaks", "Limes", "Cherries"]);
    chain.fails(
        &key("alice"),
        create(&chain, opts.clone()),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("parks"),
        create(&chain, json!(["Only one"])),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("parks"),
        create(&chain, json!(["Oaks", "Oaks"])),
        ErrorCode::InvalidArgument,
    );
    let r = chain.ok(&key("parks"), create(&chain, opts));
    let id = r.events[0].attr("id").unwrap().to_string();
    let respond = |chain: &TestChain, option: u32| {
        call(
            chain,
            json!({"call": "respond", "id": id, "option": option, "comment_hash": Hash([4; 32])}),
        )
    };
    chain.fails(&key("shop"), respond(&chain, 0), ErrorCode::Unauthorized);
    chain.fails(
        &key("alice"),
        respond(&chain, 3),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&key("alice"), respond(&chain, 1));
    chain.fails(&key("alice"), respond(&chain, 0), ErrorCode::AlreadyExists);
    chain.ok(&key("bob"), respond(&chain, 1));
    let poll = chain.value(MODULE, &["poll", &id]);
    assert_eq!(poll["counts"], json!([0, 2, 0]));
    assert_eq!(poll["responses"], 2);
    let alice = addr("alice").to_string();
    assert_eq!(chain.value(MODULE, &["response", &id, &alice])["option"], 1);
    assert!(
        chain
            .value(MODULE, &["response", &id, &addr("shop").to_string()])
            .is_null()
    );
    // Closed by the scheduler; no response after.
    chain.skip_blocks(31);
    chain.block(&[]);
    assert_eq!(chain.value(MODULE, &["poll", &id])["closed"], true);
    chain.fails(&key("bob"), respond(&chain, 2), ErrorCode::InvalidState);
    chain.fails(
        &key("bob"),
        call(
            &chain,
            json!({"call": "respond", "id": Hash([7; 32]), "option": 0}),
        ),
        ErrorCode::NotFound,
    );
    assert_eq!(
        chain
            .list(MODULE, &["polls"], 10, None)
            .unwrap()
            .items
            .len(),
        1
    );
}
