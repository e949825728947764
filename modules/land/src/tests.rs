//! The land register through the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use urbis_accounts::testkit::{BLOCK_MS, TestChain, addr, key};
use urbis_core::{ErrorCode, Hash};

use crate::MODULE;

/// Objection window of the tests: 10 blocks.
const WINDOW: u64 = 10 * BLOCK_MS;

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("registrar"), "roles": ["land_registrar"] },
        { "address": addr("bank"), "roles": ["bank"] },
        { "address": addr("alice"), "roles": ["citizen"] },
        { "address": addr("bob"), "roles": ["citizen"] },
        { "address": addr("carol"), "roles": ["citizen"] },
        { "address": addr("dan"), "roles": ["citizen"] },
        { "address": addr("neighbour"), "roles": ["citizen"] },
    ]});
    TestChain::new(
        vec![urbis_accounts::module(), crate::module()],
        &[
            (urbis_accounts::MODULE, accounts),
            (MODULE, json!({"objection_window_ms": WINDOW})),
        ],
    )
}

fn call(chain: &TestChain, json: serde_json::Value) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(MODULE, &json)
        .expect("matches the schema")
}

const DEED: Hash = Hash([3; 32]);

/// Parcel P-1 owned by Alice (2/3) and Bob (1/3), with a mortgage of the bank (lien 1) and a
/// registered neighbour.
fn registered(chain: &mut TestChain) {
    let reg = call(
        chain,
        json!({"call": "register_parcel", "id": "P-1", "geometry_hash": Hash([1; 32]), "area_m2": 640,
               "owners": [{"owner": addr("alice"), "parts": 2}, {"owner": addr("bob"), "parts": 1}], "whole": 3}),
    );
    chain.fails(&key("alice"), reg.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("registrar"), reg.clone());
    chain.fails(&key("registrar"), reg, ErrorCode::AlreadyExists);
    let lien = call(
        chain,
        json!({"call": "add_lien", "parcel": "P-1", "bank": addr("bank"), "amount": 15_000_000, "deed_hash": DEED}),
    );
    chain.ok(&key("registrar"), lien);
    let interested = call(
        chain,
        json!({"call": "add_interested", "parcel": "P-1", "party": addr("neighbour")}),
    );
    chain.ok(&key("registrar"), interested);
}

fn propose(chain: &mut TestChain) -> u64 {
    let c = call(
        chain,
        json!({"call": "propose", "parcel": "P-1", "buyers": [{"owner": addr("carol"), "parts": 3}],
               "price": 32_000_000, "deed_hash": DEED}),
    );
    let r = chain.ok(&key("alice"), c);
    r.events[0].attr("transfer").unwrap().parse().unwrap()
}

fn step(chain: &TestChain, name: &str, transfer: u64) -> urbis_core::Call {
    call(chain, json!({"call": name, "transfer": transfer}))
}

#[test]
fn a_sale_with_a_mortgage_release_and_an_objection() {
    let mut chain = city();
    registered(&mut chain);
    assert!(chain.value(MODULE, &["liens", "P-1"]).is_array());
    let t = propose(&mut chain);
    // A second transfer while one is under way, and acting out of turn, are refused.
    let again = call(
        &chain,
        json!({"call": "propose", "parcel": "P-1", "buyers": [{"owner": addr("dan"), "parts": 3}], "price": 1, "deed_hash": DEED}),
    );
    chain.fails(&key("bob"), again, ErrorCode::InvalidState);
    chain.fails(
        &key("carol"),
        step(&chain, "accept", t),
        ErrorCode::InvalidState,
    );
    chain.fails(
        &key("registrar"),
        step(&chain, "approve", t),
        ErrorCode::InvalidState,
    );
    chain.fails(
        &key("carol"),
        step(&chain, "sign", t),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("bob"), step(&chain, "sign", t));
    chain.ok(&key("carol"), step(&chain, "accept", t));
    assert_eq!(
        chain.value(MODULE, &["transfer", &t.to_string()])["stage"],
        "liens"
    );
    let answer = |chain: &TestChain, a: &str| {
        call(
            chain,
            json!({"call": "answer_lien", "transfer": t, "lien": 1, "answer": a}),
        )
    };
    chain.fails(
        &key("alice"),
        answer(&chain, "release"),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("bank"), answer(&chain, "release"));
    chain.ok(&key("registrar"), step(&chain, "approve", t));
    // During the window the registrar cannot approve again; the neighbour objects.
    chain.fails(
        &key("registrar"),
        step(&chain, "approve", t),
        ErrorCode::InvalidState,
    );
    let object = call(
        &chain,
        json!({"call": "object", "transfer": t, "statement_hash": Hash([9; 32])}),
    );
    chain.fails(&key("dan"), object.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("neighbour"), object);
    // Stopped: the window's end changes nothing.
    chain.skip_blocks(WINDOW / BLOCK_MS + 1);
    chain.block(&[]);
    assert_eq!(
        chain.value(MODULE, &["parcel", "P-1"])["owners"][0]["owner"],
        json!(addr("alice"))
    );
    // The registrar rejects the objection: a new window, then the title changes at once.
    let decide = call(
        &chain,
        json!({"call": "decide", "transfer": t, "uphold": false}),
    );
    chain.ok(&key("registrar"), decide.clone());
    chain.fails(&key("registrar"), decide, ErrorCode::InvalidState);
    chain.skip_blocks(WINDOW / BLOCK_MS + 1);
    chain.block(&[]);
    let p = chain.value(MODULE, &["parcel", "P-1"]);
    assert_eq!(p["owners"], json!([{"owner": addr("carol"), "parts": 3}]));
    assert!(p["transfer"].is_null());
    // The mortgage was released: no lien (the key is gone, so its absence can be proven).
    assert!(chain.value(MODULE, &["liens", "P-1"]).is_null());
    let owned = |who: &str| {
        chain
            .list(MODULE, &["owned", &addr(who).to_string()], 10, None)
            .unwrap()
            .items
    };
    assert_eq!(owned("carol"), [json!("P-1")]);
    assert!(owned("alice").is_empty());
    let history = chain
        .list(MODULE, &["history", "P-1"], 10, None)
        .unwrap()
        .items;
    let what: Vec<_> = history
        .iter()
        .map(|h| h["what"].as_str().unwrap())
        .collect();
    assert_eq!(what, ["registered", "lien_added", "transferred"]);
    assert_eq!(
        chain.value(MODULE, &["transfer", &t.to_string()])["stage"],
        "completed"
    );
}

#[test]
fn an_upheld_objection_or_a_cancellation_frees_the_parcel() {
    let mut chain = city();
    registered(&mut chain);
    let t = propose(&mut chain);
    chain.ok(&key("bob"), step(&chain, "sign", t));
    chain.ok(&key("carol"), step(&chain, "accept", t));
    let consent = call(
        &chain,
        json!({"call": "answer_lien", "transfer": t, "lien": 1, "answer": "consent"}),
    );
    chain.ok(&key("bank"), consent);
    chain.ok(&key("registrar"), step(&chain, "approve", t));
    // After approval the parties can no longer cancel; the registrar can.
    chain.fails(
        &key("carol"),
        step(&chain, "cancel", t),
        ErrorCode::InvalidState,
    );
    let object = call(
        &chain,
        json!({"call": "object", "transfer": t, "statement_hash": Hash([9; 32])}),
    );
    chain.ok(&key("neighbour"), object);
    chain.ok(
        &key("registrar"),
        call(
            &chain,
            json!({"call": "decide", "transfer": t, "uphold": true}),
        ),
    );
    assert!(chain.value(MODULE, &["parcel", "P-1"])["transfer"].is_null());
    assert_eq!(
        chain.value(MODULE, &["transfer", &t.to_string()])["stage"],
        "cancelled"
    );

    // A new transfer, cancelled by a seller before approval; the lien stays throughout.
    let t2 = propose(&mut chain);
    chain.fails(
        &key("dan"),
        step(&chain, "cancel", t2),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("bob"), step(&chain, "cancel", t2));
    chain.fails(
        &key("bob"),
        step(&chain, "cancel", t2),
        ErrorCode::InvalidState,
    );
    assert_eq!(
        chain
            .value(MODULE, &["liens", "P-1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn bad_parcels_and_shares_are_refused() {
    let mut chain = city();
    let reg = |chain: &TestChain, id: &str, owners: serde_json::Value, whole: u64| {
        call(
            chain,
            json!({"call": "register_parcel", "id": id, "geometry_hash": Hash([1; 32]), "area_m2": 10,
                   "owners": owners, "whole": whole}),
        )
    };
    let two = json!([{"owner": addr("alice"), "parts": 1}, {"owner": addr("bob"), "parts": 1}]);
    chain.fails(
        &key("registrar"),
        reg(&chain, "P-2", two.clone(), 3),
        ErrorCode::InvalidArgument,
    );
    let dup = json!([{"owner": addr("alice"), "parts": 1}, {"owner": addr("alice"), "parts": 1}]);
    chain.fails(
        &key("registrar"),
        reg(&chain, "P-2", dup, 2),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("registrar"),
        reg(&chain, "bad id!", two.clone(), 2),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&key("registrar"), reg(&chain, "P-2", two, 2));
    // Buyers' shares must sum to the parcel's whole; unknown parcels and non-banks fail.
    let bad_buyers = call(
        &chain,
        json!({"call": "propose", "parcel": "P-2", "buyers": [{"owner": addr("carol"), "parts": 1}], "price": 1, "deed_hash": DEED}),
    );
    chain.fails(&key("alice"), bad_buyers, ErrorCode::InvalidArgument);
    let unknown = call(
        &chain,
        json!({"call": "propose", "parcel": "P-404", "buyers": [{"owner": addr("carol"), "parts": 2}], "price": 1, "deed_hash": DEED}),
    );
    chain.fails(&key("alice"), unknown, ErrorCode::NotFound);
    let not_bank = call(
        &chain,
        json!({"call": "add_lien", "parcel": "P-2", "bank": addr("dan"), "amount": 1, "deed_hash": DEED}),
    );
    chain.fails(&key("registrar"), not_bank, ErrorCode::InvalidArgument);
    assert!(chain.query(MODULE, &["parcel", "bad id!"]).is_err());
}

#[test]
fn the_city_admin_sets_the_objection_window() {
    let mut chain = city();
    let set =
        |chain: &TestChain, ms: u64| call(chain, json!({"call": "set_objection_window", "ms": ms}));
    chain.fails(
        &key("registrar"),
        set(&chain, 60_000),
        ErrorCode::Unauthorized,
    );
    chain.fails(&key("admin"), set(&chain, 10), ErrorCode::InvalidArgument);
    chain.fails(
        &key("admin"),
        set(&chain, 400 * 86_400_000),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&key("admin"), set(&chain, 60_000));
    registered(&mut chain);
    let p = call(
        &chain,
        json!({"call": "propose", "parcel": "P-1", "buyers": [{"owner": addr("carol"), "parts": 3}],
               "price": 1, "deed_hash": DEED}),
    );
    let r = chain.ok(&key("alice"), p);
    let t: u64 = r.events[0].attr("transfer").unwrap().parse().unwrap();
    chain.ok(
        &key("bob"),
        call(&chain, json!({"call": "sign", "transfer": t})),
    );
    chain.ok(
        &key("carol"),
        call(&chain, json!({"call": "accept", "transfer": t})),
    );
    chain.ok(
        &key("bank"),
        call(
            &chain,
            json!({"call": "answer_lien", "transfer": t, "lien": 1, "answer": "release"}),
        ),
    );
    let now = chain.next_env().timestamp_ms;
    chain.ok(
        &key("registrar"),
        call(&chain, json!({"call": "approve", "transfer": t})),
    );
    let transfer = chain.value(MODULE, &["transfer", &t.to_string()]);
    assert_eq!(transfer["objection_until_ms"], now + 60_000);
}
