//! The notice board through the runtime, next to the accounts module: the worked example's
//! tests exercise every part of the module contract (JSON calls, permissions, ids, the
//! scheduler, single and list queries, events).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use urbis_accounts::testkit::{BLOCK_MS, GENESIS_MS, TestChain, addr, key};
use urbis_core::{ErrorCode, Hash, sha256_domain};

use crate::{MODULE, NoticesCall};

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("planning"), "roles": ["department"] },
        { "address": addr("parks"), "roles": ["department"] },
        { "address": addr("alice"), "roles": ["citizen"] },
    ]});
    TestChain::new(
        vec![urbis_accounts::module(), crate::module()],
        &[(urbis_accounts::MODULE, accounts)],
    )
}

/// A call built from its JSON form, the way clients build it.
fn call(chain: &TestChain, json: serde_json::Value) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(MODULE, &json)
        .expect("matches the schema")
}

fn text_hash(text: &str) -> Hash {
    sha256_domain(b"example/notice-text", &[text.as_bytes()])
}

#[test]
fn a_department_posts_and_everyone_reads_it_until_it_expires() {
    let mut chain = city();
    let body = text_hash("Road works on Rue Haute from 3 to 7 March.");
    let height = chain.next_env().height;
    let expires = GENESIS_MS + (height + 5) * BLOCK_MS;
    let post = call(
        &chain,
        json!({"call": "post", "title": "Road works, Rue Haute", "body_hash": body, "expires_ms": expires}),
    );
    let r = chain.ok(&key("planning"), post);
    let posted = &r.events[0];
    assert_eq!(posted.kind, "posted");
    let id = posted.attr("id").unwrap().to_string();
    // The id is the documented derivation from the transaction.
    let expected_id = sha256_domain(
        urbis_core::hash::domain::OBJECT_ID,
        &[
            b"tx",
            &r.tx_hash.0,
            &0u32.to_le_bytes(),
            &0u32.to_le_bytes(),
        ],
    );
    assert_eq!(id, expected_id.to_hex());

    let notice = chain.value(MODULE, &["notice", &id]);
    assert_eq!(notice["title"], "Road works, Rue Haute");
    assert_eq!(notice["body_hash"], json!(body));
    assert_eq!(notice["author"], json!(addr("planning")));
    let page = chain.list(MODULE, &["notices"], 10, None).unwrap();
    assert_eq!(page.items.len(), 1);

    // Still up just before its expiry, gone at the first block at or after it.
    for _ in 0..3 {
        chain.block(&[]);
    }
    assert!(!chain.value(MODULE, &["notice", &id]).is_null());
    chain.block(&[]);
    chain.block(&[]);
    assert!(chain.value(MODULE, &["notice", &id]).is_null());
    assert!(
        chain
            .list(MODULE, &["notices"], 10, None)
            .unwrap()
            .items
            .is_empty()
    );
}

#[test]
fn only_the_author_or_an_admin_withdraws_and_bad_input_changes_nothing() {
    let mut chain = city();
    let body = text_hash("Park closed for the concert.");
    let post = call(
        &chain,
        json!({"call": "post", "title": "Park closed", "body_hash": body}),
    );
    let id = chain.ok(&key("parks"), post).events[0]
        .attr("id")
        .unwrap()
        .to_string();
    let withdraw = |chain: &TestChain| call(chain, json!({"call": "withdraw", "id": id}));

    chain.fails(&key("planning"), withdraw(&chain), ErrorCode::Unauthorized);
    chain.fails(&key("alice"), withdraw(&chain), ErrorCode::Unauthorized);
    let r = chain.ok(&key("admin"), withdraw(&chain));
    assert_eq!(r.events[0].kind, "withdrawn");
    chain.fails(&key("parks"), withdraw(&chain), ErrorCode::NotFound);

    // Citizens do not post; titles and expiries are checked.
    let post = |title: &str, expires: Option<u64>| json!({"call": "post", "title": title, "body_hash": body, "expires_ms": expires});
    let c = call(&chain, post("Hello", None));
    chain.fails(&key("alice"), c, ErrorCode::Unauthorized);
    for (title, expires) in [
        ("", None),
        (&"x".repeat(121)[..], None),
        ("Past", Some(GENESIS_MS)),
    ] {
        let c = call(&chain, post(title, expires));
        chain.fails(&key("parks"), c, ErrorCode::InvalidArgument);
    }
    // JSON that is not a notices call never becomes a transaction.
    for bad in [
        json!({"call": "post", "title": "x"}),
        json!({"call": "post", "title": "x", "body_hash": "zz"}),
        json!({"call": "pin", "id": body}),
    ] {
        let e = chain.runtime.call_from_json(MODULE, &bad).unwrap_err();
        assert_eq!(e.code, ErrorCode::SchemaMismatch, "{bad}");
    }
    // Unknown paths name the queries there are.
    let e = chain.query(MODULE, &["board"]).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains("notice/<id>"), "{}", e.message);
    // The typed call and its JSON form are the same bytes.
    assert_eq!(
        call(&chain, json!({"call": "withdraw", "id": body})),
        urbis_core::Call::new(MODULE, &NoticesCall::Withdraw { id: body })
    );
}

#[test]
fn published_notices_carry_category_and_district_and_collect_acknowledgements() {
    let mut chain = city();
    let publish = |chain: &TestChain, category: &str, ack: bool| {
        call(
            chain,
            json!({"call": "publish", "title": "Water cut on Elm Street", "body_hash": text_hash("cut"),
                   "category": category, "district": "elm-north", "ack_required": ack}),
        )
    };
    chain.fails(
        &key("planning"),
        publish(&chain, "Water Works", true),
        ErrorCode::InvalidArgument,
    );
    let r = chain.ok(&key("planning"), publish(&chain, "water", true));
    let posted = &r.events[0];
    assert_eq!(posted.attr("category_id"), Some("water"));
    assert_eq!(posted.attr("district_id"), Some("elm-north"));
    let id = posted.attr("id").unwrap().to_string();
    let ack = |chain: &TestChain, id: &str| call(chain, json!({"call": "acknowledge", "id": id}));
    chain.fails(&key("parks"), ack(&chain, &id), ErrorCode::Unauthorized);
    chain.ok(&key("alice"), ack(&chain, &id));
    chain.fails(&key("alice"), ack(&chain, &id), ErrorCode::AlreadyExists);
    assert_eq!(chain.value(MODULE, &["meta", &id])["acknowledgements"], 1);
    let alice = addr("alice").to_string();
    assert!(chain.value(MODULE, &["ack", &id, &alice])["acknowledged_ms"].is_u64());
    // A notice that asks for nothing cannot be acknowledged; an unknown one is not found.
    let r = chain.ok(&key("planning"), publish(&chain, "water", false));
    let quiet = r.events[0].attr("id").unwrap().to_string();
    chain.fails(&key("alice"), ack(&chain, &quiet), ErrorCode::InvalidState);
    chain.fails(
        &key("alice"),
        ack(&chain, &Hash([5; 32]).to_string()),
        ErrorCode::NotFound,
    );
}
