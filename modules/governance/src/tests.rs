//! The ledger, budgets, spending and tenders through the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use urbis_accounts::testkit::{BLOCK_MS, TestChain, addr, key};
use urbis_core::{ErrorCode, Hash};

use crate::{MODULE, bid_commitment, utc_date};

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("roads"), "roles": ["department"] },
        { "address": addr("parks"), "roles": ["department"] },
        { "address": addr("acme"), "roles": ["merchant"] },
        { "address": addr("bolt"), "roles": ["merchant"] },
        { "address": addr("cork"), "roles": ["merchant"] },
        { "address": addr("alice"), "roles": ["citizen"] },
    ]});
    TestChain::new(
        vec![
            urbis_accounts::module(),
            urbis_identity::module(),
            urbis_land::module(),
            crate::module(),
        ],
        &[(urbis_accounts::MODULE, accounts)],
    )
}

fn call(chain: &TestChain, json: serde_json::Value) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(MODULE, &json)
        .expect("matches the schema")
}

/// Departments `roads` (officer: roads) and `parks`; a 2027 roads/maintenance line of 1,000.
fn with_budget(chain: &mut TestChain) -> String {
    let admin = key("admin");
    chain.fails(
        &key("roads"),
        call(
            chain,
            json!({"call": "department", "code": "roads", "name": "Roads"}),
        ),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &admin,
        call(
            chain,
            json!({"call": "department", "code": "Roads!", "name": "Roads"}),
        ),
        ErrorCode::InvalidArgument,
    );
    for (code, name) in [("roads", "Roads and bridges"), ("parks", "Parks")] {
        chain.ok(
            &admin,
            call(
                chain,
                json!({"call": "department", "code": code, "name": name}),
            ),
        );
    }
    chain.ok(
        &admin,
        call(
            chain,
            json!({"call": "officer", "department": "roads", "account": addr("roads"), "active": true}),
        ),
    );
    chain.fails(
        &admin,
        call(
            chain,
            json!({"call": "officer", "department": "roads", "account": addr("roads"), "active": true}),
        ),
        ErrorCode::AlreadyExists,
    );
    let resolution = |chain: &mut TestChain, title: &str| -> String {
        let r = chain.ok(
            &admin,
            call(
                chain,
                json!({"call": "decide", "kind": "resolution", "department": "roads",
                       "category": "maintenance", "title": title, "document_hash": Hash([1; 32])}),
            ),
        );
        r.events[0].attr("id").unwrap().to_string()
    };
    let budget = resolution(chain, "Budget 2027");
    // An order is a department's, and cannot set a budget line.
    chain.fails(
        &key("roads"),
        call(
            chain,
            json!({"call": "decide", "kind": "resolution", "department": "roads",
                   "category": "maintenance", "title": "x", "document_hash": Hash([1; 32])}),
        ),
        ErrorCode::Unauthorized,
    );
    let order = chain.ok(
        &key("roads"),
        call(
            chain,
            json!({"call": "decide", "kind": "order", "department": "roads",
                   "category": "maintenance", "title": "Night works on Elm Street", "document_hash": Hash([2; 32])}),
        ),
    );
    let order = order.events[0].attr("id").unwrap().to_string();
    chain.fails(
        &key("parks"),
        call(
            chain,
            json!({"call": "decide", "kind": "order", "department": "roads",
                   "category": "maintenance", "title": "x", "document_hash": Hash([2; 32])}),
        ),
        ErrorCode::Unauthorized,
    );
    let appropriate = |chain: &TestChain, amount: u64, decision: &str| {
        call(
            chain,
            json!({"call": "appropriate", "year": 2027, "department": "roads",
                   "category": "maintenance", "amount": amount, "decision": decision}),
        )
    };
    chain.fails(
        &admin,
        appropriate(chain, 1_000, &order),
        ErrorCode::InvalidState,
    );
    chain.fails(
        &key("roads"),
        appropriate(chain, 1_000, &budget),
        ErrorCode::Unauthorized,
    );
    chain.ok(&admin, appropriate(chain, 1_000, &budget));
    chain.fails(
        &admin,
        appropriate(chain, 2_000, &budget),
        ErrorCode::AlreadyExists,
    );
    budget
}

fn spend(chain: &TestChain, amount: u64) -> urbis_core::Call {
    call(
        chain,
        json!({"call": "spend", "year": 2027, "department": "roads", "category": "maintenance",
               "amount": amount, "payee": null, "invoice_hash": Hash([3; 32]), "memo": "pothole repairs"}),
    )
}

#[test]
fn spending_stays_within_the_budget_and_amendments_are_resolutions() {
    let mut chain = city();
    with_budget(&mut chain);
    let r = chain.ok(&key("roads"), spend(&chain, 600));
    let e = &r.events[0];
    assert_eq!(e.attr("department_id"), Some("roads"));
    assert_eq!(e.attr("category_id"), Some("maintenance"));
    assert_eq!(
        e.attr("date_id"),
        Some(utc_date(chain.next_env().timestamp_ms - BLOCK_MS).as_str())
    );
    let msg = chain.fails(&key("roads"), spend(&chain, 401), ErrorCode::OverBudget);
    assert!(msg.contains("600 of 1000"), "{msg}");
    chain.fails(&key("parks"), spend(&chain, 1), ErrorCode::Unauthorized);
    chain.fails(&key("roads"), spend(&chain, 0), ErrorCode::InvalidArgument);
    chain.fails(
        &key("roads"),
        call(
            &chain,
            json!({"call": "spend", "year": 2028, "department": "roads", "category": "maintenance",
                   "amount": 5, "payee": null, "invoice_hash": Hash([3; 32]), "memo": ""}),
        ),
        ErrorCode::NotFound,
    );
    // An amendment is another resolution, and never below what is spent.
    let r = chain.ok(
        &key("admin"),
        call(
            &chain,
            json!({"call": "decide", "kind": "resolution", "department": "roads",
                   "category": "maintenance", "title": "Amendment 1", "document_hash": Hash([4; 32])}),
        ),
    );
    let amendment = r.events[0].attr("id").unwrap().to_string();
    let amend = |chain: &TestChain, amount: u64| {
        call(
            chain,
            json!({"call": "appropriate", "year": 2027, "department": "roads",
                   "category": "maintenance", "amount": amount, "decision": amendment}),
        )
    };
    chain.fails(&key("admin"), amend(&chain, 599), ErrorCode::InvalidState);
    chain.ok(&key("admin"), amend(&chain, 1_500));
    chain.ok(&key("roads"), spend(&chain, 401));
    let line = chain.value(MODULE, &["appropriation", "2027", "roads", "maintenance"]);
    assert_eq!(line["amount"], 1_500);
    assert_eq!(line["spent"], 1_001);
    assert_eq!(line["decisions"].as_array().unwrap().len(), 2);
    let page = chain.list(MODULE, &["budget", "2027"], 10, None).unwrap();
    assert_eq!(page.items[0]["remaining"], 499);
    // A missing line is provably absent.
    assert!(
        chain
            .value(MODULE, &["appropriation", "2027", "parks", "trees"])
            .is_null()
    );
}

#[test]
fn a_tender_with_sealed_bids_is_awarded_to_the_lowest_valid_bid() {
    let mut chain = city();
    with_budget(&mut chain);
    let now = chain.next_env().timestamp_ms;
    let (bids_close, reveals_close) = (now + 10 * BLOCK_MS, now + 20 * BLOCK_MS);
    let open = |chain: &TestChain, category: &str| {
        call(
            chain,
            json!({"call": "tender", "department": "roads", "category": category, "year": 2027,
                   "title": "Resurfacing Elm Street", "spec_hash": Hash([5; 32]), "max_amount": 900,
                   "bids_close_ms": bids_close, "reveals_close_ms": reveals_close}),
        )
    };
    chain.fails(
        &key("parks"),
        open(&chain, "maintenance"),
        ErrorCode::Unauthorized,
    );
    chain.fails(&key("roads"), open(&chain, "lighting"), ErrorCode::NotFound);
    let r = chain.ok(&key("roads"), open(&chain, "maintenance"));
    let tender = r.events[0].attr("id").unwrap().to_string();
    let t: Hash = tender.parse().unwrap();
    let salt = |who: &str| Hash([who.len() as u8; 32]);
    let commit = |who: &str, amount: u64| bid_commitment(&t, &addr(who), amount, &salt(who));
    let bid = |chain: &TestChain, c: Hash| {
        call(
            chain,
            json!({"call": "bid", "tender": tender, "commitment": c}),
        )
    };
    chain.fails(
        &key("alice"),
        bid(&chain, commit("alice", 1)),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("acme"), bid(&chain, commit("acme", 700)));
    chain.fails(
        &key("acme"),
        bid(&chain, commit("acme", 600)),
        ErrorCode::AlreadyExists,
    );
    chain.ok(&key("bolt"), bid(&chain, commit("bolt", 650)));
    chain.ok(&key("cork"), bid(&chain, commit("cork", 950)));
    let reveal = |chain: &TestChain, amount: u64, s: Hash| {
        call(
            chain,
            json!({"call": "reveal", "tender": tender, "amount": amount, "salt": s}),
        )
    };
    // Too early.
    chain.fails(
        &key("acme"),
        reveal(&chain, 700, salt("acme")),
        ErrorCode::InvalidState,
    );
    while chain.next_env().timestamp_ms < bids_close {
        chain.block(&[]);
    }
    chain.fails(
        &key("acme"),
        bid(&chain, commit("acme", 1)),
        ErrorCode::InvalidState,
    );
    // Not what was committed.
    chain.fails(
        &key("acme"),
        reveal(&chain, 600, salt("acme")),
        ErrorCode::InvalidProof,
    );
    chain.fails(
        &key("alice"),
        reveal(&chain, 1, salt("alice")),
        ErrorCode::NotFound,
    );
    chain.ok(&key("acme"), reveal(&chain, 700, salt("acme")));
    chain.fails(
        &key("acme"),
        reveal(&chain, 700, salt("acme")),
        ErrorCode::InvalidState,
    );
    chain.ok(&key("bolt"), reveal(&chain, 650, salt("bolt")));
    // Above the ceiling: not a valid bid.
    chain.fails(
        &key("cork"),
        reveal(&chain, 950, salt("cork")),
        ErrorCode::InvalidArgument,
    );
    let award = |chain: &TestChain, who: &str, reason: Option<Hash>| {
        call(
            chain,
            json!({"call": "award", "tender": tender, "winner": addr(who), "reason_hash": reason}),
        )
    };
    chain.fails(
        &key("roads"),
        award(&chain, "bolt", None),
        ErrorCode::InvalidState,
    );
    while chain.next_env().timestamp_ms < reveals_close {
        chain.block(&[]);
    }
    chain.fails(
        &key("cork"),
        reveal(&chain, 950, salt("cork")),
        ErrorCode::InvalidState,
    );
    chain.fails(
        &key("parks"),
        award(&chain, "bolt", None),
        ErrorCode::Unauthorized,
    );
    // Acme is not the lowest: only with a recorded reason; Cork never revealed a valid bid.
    chain.fails(
        &key("roads"),
        award(&chain, "acme", None),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("roads"),
        award(&chain, "cork", Some(Hash([6; 32]))),
        ErrorCode::InvalidArgument,
    );
    let r = chain.ok(&key("roads"), award(&chain, "bolt", None));
    let kinds: Vec<&str> = r.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["decision", "spent", "awarded"]);
    let t = chain.value(MODULE, &["tender", &tender]);
    assert_eq!(t["status"], "awarded");
    assert_eq!(t["amount"], 650);
    let line = chain.value(MODULE, &["appropriation", "2027", "roads", "maintenance"]);
    assert_eq!(line["spent"], 650);
    chain.fails(
        &key("roads"),
        award(&chain, "bolt", None),
        ErrorCode::InvalidState,
    );
    let decision = t["decision"].as_str().unwrap();
    assert_eq!(
        chain.value(MODULE, &["decision", decision])["kind"],
        "award"
    );
}

#[test]
fn an_award_beyond_the_budget_is_refused_and_a_tender_can_be_cancelled() {
    let mut chain = city();
    with_budget(&mut chain);
    chain.ok(&key("roads"), spend(&chain, 500));
    let now = chain.next_env().timestamp_ms;
    let (bids_close, reveals_close) = (now + 5 * BLOCK_MS, now + 10 * BLOCK_MS);
    let r = chain.ok(
        &key("roads"),
        call(
            &chain,
            json!({"call": "tender", "department": "roads", "category": "maintenance", "year": 2027,
                   "title": "A new bridge", "spec_hash": Hash([5; 32]), "max_amount": 900,
                   "bids_close_ms": bids_close, "reveals_close_ms": reveals_close}),
        ),
    );
    let tender = r.events[0].attr("id").unwrap().to_string();
    let t: Hash = tender.parse().unwrap();
    let c = bid_commitment(&t, &addr("acme"), 800, &Hash([9; 32]));
    chain.ok(
        &key("acme"),
        call(
            &chain,
            json!({"call": "bid", "tender": tender, "commitment": c}),
        ),
    );
    while chain.next_env().timestamp_ms < bids_close {
        chain.block(&[]);
    }
    chain.ok(
        &key("acme"),
        call(
            &chain,
            json!({"call": "reveal", "tender": tender, "amount": 800, "salt": Hash([9; 32])}),
        ),
    );
    while chain.next_env().timestamp_ms < reveals_close {
        chain.block(&[]);
    }
    chain.fails(
        &key("roads"),
        call(
            &chain,
            json!({"call": "award", "tender": tender, "winner": addr("acme"), "reason_hash": null}),
        ),
        ErrorCode::OverBudget,
    );
    let r = chain.ok(
        &key("roads"),
        call(
            &chain,
            json!({"call": "cancel", "tender": tender, "reason_hash": Hash([7; 32])}),
        ),
    );
    assert_eq!(r.events.last().unwrap().kind, "cancelled");
    assert_eq!(
        chain.value(MODULE, &["tender", &tender])["status"],
        "cancelled"
    );
}

#[test]
fn dates_are_utc_days() {
    assert_eq!(utc_date(0), "1970-01-01");
    assert_eq!(utc_date(951_782_400_000), "2000-02-29");
    assert_eq!(utc_date(1_700_000_000_000), "2023-11-14");
    assert_eq!(utc_date(4_102_444_799_999), "2099-12-31");
}

#[test]
fn a_council_grants_a_role_after_its_timelock() {
    let mut chain = city();
    let members = [addr("roads"), addr("parks"), addr("acme")];
    let seat = |chain: &TestChain, threshold: u32| {
        call(
            chain,
            json!({"call": "set_council", "members": members, "threshold": threshold, "timelock_ms": 10 * BLOCK_MS}),
        )
    };
    chain.fails(&key("roads"), seat(&chain, 2), ErrorCode::Unauthorized);
    chain.fails(&key("admin"), seat(&chain, 4), ErrorCode::InvalidArgument);
    chain.ok(&key("admin"), seat(&chain, 2));
    chain.fails(&key("admin"), seat(&chain, 2), ErrorCode::InvalidState);
    let grant = call(
        &chain,
        json!({"call": "propose", "action": {"action": "grant_role", "account": addr("alice"), "role": "department"},
               "description_hash": Hash([8; 32])}),
    );
    chain.fails(&key("alice"), grant.clone(), ErrorCode::Unauthorized);
    let r = chain.ok(&key("roads"), grant);
    let id = r.events[0].attr("id").unwrap().to_string();
    let approve = call(&chain, json!({"call": "approve", "proposal": id}));
    let execute = call(&chain, json!({"call": "execute", "proposal": id}));
    chain.fails(&key("roads"), approve.clone(), ErrorCode::AlreadyExists);
    let msg = chain.fails(&key("roads"), execute.clone(), ErrorCode::InvalidState);
    assert!(msg.contains("1 of the 2"), "{msg}");
    let r = chain.ok(&key("parks"), approve);
    assert_eq!(r.events.last().unwrap().kind, "proposal_approved");
    // Bypassing the timelock is refused; after it, the role is granted.
    let msg = chain.fails(&key("parks"), execute.clone(), ErrorCode::InvalidState);
    assert!(msg.contains("timelock"), "{msg}");
    let alice = addr("alice").to_string();
    assert!(
        !chain.value("accounts", &["account", &alice])["roles"]
            .to_string()
            .contains("department")
    );
    chain.skip_blocks(10);
    let r = chain.ok(&key("acme"), execute.clone());
    assert!(r.events.iter().any(|e| e.kind == "role_granted"));
    assert!(
        chain.value("accounts", &["account", &alice])["roles"]
            .to_string()
            .contains("department")
    );
    chain.fails(&key("acme"), execute, ErrorCode::InvalidState);
    assert_eq!(
        chain.value(MODULE, &["proposal", &id])["status"],
        "executed"
    );

    // A module parameter: the land register's objection window, then an unknown parameter.
    let set = |chain: &mut TestChain, name: &str| -> String {
        let r = chain.ok(
            &key("roads"),
            call(
                chain,
                json!({"call": "propose", "action": {"action": "set_parameter", "module": "land",
                       "name": name, "value": 5_000}, "description_hash": Hash([8; 32])}),
            ),
        );
        let id = r.events[0].attr("id").unwrap().to_string();
        chain.ok(
            &key("parks"),
            call(chain, json!({"call": "approve", "proposal": id})),
        );
        chain.skip_blocks(10);
        id
    };
    let p = set(&mut chain, "objection_window_ms");
    chain.ok(
        &key("parks"),
        call(&chain, json!({"call": "execute", "proposal": p})),
    );
    let window = chain
        .view()
        .get(&urbis_land::keys::window())
        .unwrap()
        .map(|b| borsh::from_slice::<u64>(&b).unwrap());
    assert_eq!(window, Some(5_000));
    let p = set(&mut chain, "speed_limit");
    chain.fails(
        &key("parks"),
        call(&chain, json!({"call": "execute", "proposal": p})),
        ErrorCode::InvalidArgument,
    );

    // Accrediting an issuer goes through the identity module: an unknown DID fails the
    // execution, which writes nothing (the proposal stays executable).
    let r = chain.ok(
        &key("roads"),
        call(
            &chain,
            json!({"call": "propose", "action": {"action": "accredit_issuer",
                   "issuer": format!("did:urbis:{}", "0".repeat(40)), "vct": "urn:urbis:resident",
                   "from_ms": 0, "until_ms": 4_000_000_000_000u64},
                   "description_hash": Hash([8; 32])}),
        ),
    );
    let acc = r.events[0].attr("id").unwrap().to_string();
    chain.ok(
        &key("parks"),
        call(&chain, json!({"call": "approve", "proposal": acc})),
    );
    chain.skip_blocks(10);
    chain.fails(
        &key("parks"),
        call(&chain, json!({"call": "execute", "proposal": acc})),
        ErrorCode::NotFound,
    );
    assert_eq!(
        chain.value(MODULE, &["proposal", &acc])["status"],
        "approved"
    );

    // The council changes itself: one member, threshold 1, no timelock.
    let r = chain.ok(
        &key("roads"),
        call(
            &chain,
            json!({"call": "propose", "action": {"action": "set_council", "members": [addr("roads")], "threshold": 1, "timelock_ms": 0},
                   "description_hash": Hash([9; 32])}),
        ),
    );
    let id = r.events[0].attr("id").unwrap().to_string();
    chain.ok(
        &key("parks"),
        call(&chain, json!({"call": "approve", "proposal": id})),
    );
    chain.skip_blocks(10);
    chain.ok(
        &key("parks"),
        call(&chain, json!({"call": "execute", "proposal": id})),
    );
    assert_eq!(
        chain.value(MODULE, &["council"])["members"],
        json!([addr("roads")])
    );
    chain.fails(
        &key("parks"),
        call(
            &chain,
            json!({"call": "propose", "action": {"action": "revoke_role", "account": addr("alice"), "role": "department"},
                   "description_hash": Hash([9; 32])}),
        ),
        ErrorCode::Unauthorized,
    );
}

fn permit_definition(treasury: &str, notice_ms: u64, issuer: &str, list: u64) -> String {
    json!({
        "name": "building-permit", "initial": "applied",
        "fee": {"asset": "EURc", "amount": 250},
        "states": {
            "applied": {}, "complete": {},
            "notice": {"deadline": {"after_ms": notice_ms, "transition": "close_notice"},
                       "on_enter": [{"action": "publish_notice", "title": "Public notice", "category": "permits",
                                     "expires_after_ms": notice_ms}]},
            "review": {},
            "issued": {"final": true, "on_enter": [
                {"action": "issue_permit", "permit_type": "building", "valid_days": 730,
                 "credential": {"issuer": issuer, "status_list": list}},
                {"action": "release_fee", "to": treasury},
                {"action": "record_decision", "department": "roads", "category": "permits", "title": "Building permit issued"}]},
            "refused": {"final": true, "on_enter": [{"action": "refund_fee"}]}
        },
        "transitions": [
            {"name": "complete", "from": "applied", "to": "complete", "role": "department", "department": "roads"},
            {"name": "incomplete", "from": "applied", "to": "refused", "role": "department", "department": "roads"},
            {"name": "publish", "from": "complete", "to": "notice", "role": "department", "department": "roads"},
            {"name": "object", "from": "notice", "to": "notice", "role": "citizen"},
            {"name": "close_notice", "from": "notice", "to": "review", "automatic": true},
            {"name": "approve", "from": "review", "to": "issued", "role": "department", "approvals": 2,
             "department": "roads"},
            {"name": "refuse", "from": "review", "to": "refused", "role": "department", "approvals": 2,
             "department": "roads"}
        ]
    })
    .to_string()
}

fn identity(chain: &TestChain, json: serde_json::Value) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(urbis_identity::MODULE, &json)
        .expect("matches the schema")
}

/// A DID controlled by `who` with a status list of 64 entries: (DID, list id).
fn issuer_with_list(chain: &mut TestChain, who: &str, salt: u8) -> (String, u64) {
    let k = urbis_core::SecretKey::from_seed([salt; 32]);
    let c = identity(
        chain,
        json!({"call": "create", "document": {"methods": [
                  {"fragment": "key-1",
                   "jwk": {"kty": "OKP", "crv": "Ed25519", "x": urbis_credentials::jose::b64(k.public_key().raw())},
                   "purposes": ["assertion_method"]}],
                  "services": []},
               "next_key_hash": urbis_identity::next_key_commitment(&addr(&format!("{who}-next"))),
               "salt": Hash([salt; 32]), "subject": "organisation"}),
    );
    let did = chain.ok(&key(who), c).events[0]
        .attr("did")
        .unwrap()
        .to_string();
    let r = chain.ok(
        &key(who),
        identity(
            chain,
            json!({"call": "create_status_list", "issuer": did, "bits": 1, "size": 64}),
        ),
    );
    let list = r.events[0].attr("list").unwrap().parse().unwrap();
    (did, list)
}

fn city_with_money() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("roads"), "roles": ["department"] },
        { "address": addr("parks"), "roles": ["department"] },
        { "address": addr("water"), "roles": ["department"] },
        { "address": addr("harbour"), "roles": ["department"] },
        { "address": addr("alice"), "roles": ["citizen"] },
        { "address": addr("bob"), "roles": ["citizen"] },
        { "address": addr("carol"), "roles": ["citizen"] },
    ]});
    let rewards = json!({"programs": [{"name": "Green roofs", "category": "other",
        "budget": 1_000, "cap_per_period": 100, "period_ms": 86_400_000u64, "transferable": false}]});
    let assets = json!({ "assets": [{ "symbol": "EURc", "name": "Euro coin", "decimals": 2,
        "issuer": addr("admin"), "supply": [[addr("alice"), 1_000]] }]});
    TestChain::new(
        vec![
            urbis_accounts::module(),
            urbis_assets::module(),
            urbis_rewards::module(),
            urbis_notices::module(),
            urbis_identity::module(),
            crate::module(),
        ],
        &[
            (urbis_accounts::MODULE, accounts),
            (urbis_assets::MODULE, assets),
            (urbis_rewards::MODULE, rewards),
        ],
    )
}

#[test]
fn a_building_permit_runs_through_its_workflow() {
    let mut chain = city_with_money();
    let treasury = addr("admin").to_string();
    let (issuer, list) = issuer_with_list(&mut chain, "roads", 31);
    let define = |chain: &TestChain, d: String| {
        call(chain, json!({"call": "define_workflow", "definition": d}))
    };
    let permit = permit_definition(&treasury, 14 * BLOCK_MS, &issuer, list);
    chain.fails(
        &key("alice"),
        define(&chain, permit.clone()),
        ErrorCode::Unauthorized,
    );
    // The approvals are 2 of the roads department's 3 officials (roads, parks, water; not
    // harbour).
    // Before the department exists, a definition naming it is refused.
    chain.fails(
        &key("roads"),
        define(&chain, permit.clone()),
        ErrorCode::NotFound,
    );
    chain.ok(
        &key("admin"),
        call(
            &chain,
            json!({"call": "department", "code": "roads", "name": "Roads"}),
        ),
    );
    for who in ["roads", "parks", "water"] {
        chain.ok(
            &key("admin"),
            call(
                &chain,
                json!({"call": "officer", "department": "roads", "account": addr(who), "active": true}),
            ),
        );
    }
    let r = chain.ok(&key("roads"), define(&chain, permit));
    assert_eq!(r.events[0].attr("version"), Some("1"));
    let balance = |chain: &TestChain, who: &str| {
        chain.value("assets", &["balance", "EURc", &addr(who).to_string()])["amount"]
            .as_u64()
            .unwrap_or(0)
    };
    let r = chain.ok(
        &key("alice"),
        call(
            &chain,
            json!({"call": "start_workflow", "workflow": "building-permit", "subject_hash": Hash([1; 32]),
                   "documents": [Hash([2; 32]), Hash([3; 32])]}),
        ),
    );
    let id = r
        .events
        .iter()
        .find(|e| e.kind == "started")
        .unwrap()
        .attr("id")
        .unwrap()
        .to_string();
    assert_eq!(balance(&chain, "alice"), 750, "the fee is held");
    let act = |chain: &TestChain, t: &str| {
        call(
            chain,
            json!({"call": "act", "instance": id, "transition": t, "document_hash": null}),
        )
    };
    chain.fails(
        &key("alice"),
        act(&chain, "complete"),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("roads"),
        act(&chain, "publish"),
        ErrorCode::InvalidState,
    );
    chain.fails(&key("roads"), act(&chain, "nonsense"), ErrorCode::NotFound);
    chain.ok(&key("roads"), act(&chain, "complete"));
    let r = chain.ok(&key("roads"), act(&chain, "publish"));
    assert!(
        r.events
            .iter()
            .any(|e| e.module == "notices" && e.kind == "posted"),
        "the notice is published"
    );
    // Objections during the notice, recorded with their documents as remarks: once per
    // resident per stay.
    let object = |chain: &TestChain| {
        call(
            chain,
            json!({"call": "act", "instance": id, "transition": "object", "document_hash": Hash([4; 32])}),
        )
    };
    chain.ok(&key("bob"), object(&chain));
    chain.fails(&key("bob"), object(&chain), ErrorCode::AlreadyExists);
    chain.ok(&key("carol"), object(&chain));
    // Nobody cuts the notice short: only the scheduler closes it.
    chain.fails(
        &key("roads"),
        act(&chain, "close_notice"),
        ErrorCode::Unauthorized,
    );
    // The notice closes by itself after 14 blocks.
    for _ in 0..15 {
        chain.block(&[]);
    }
    let i = chain.value(MODULE, &["instance", &id]);
    assert_eq!(i["state"], "review", "{i}");
    assert_eq!(i["remarks"], 2);
    assert_eq!(i["steps"][2]["transition"], "close_notice");
    assert_eq!(i["steps"][2]["actor"], serde_json::Value::Null);
    assert_eq!(
        chain.value(MODULE, &["remark", &id, "1"])["actor"],
        json!(addr("carol").to_string())
    );
    // Two of the three officials approve; another department's account cannot.
    chain.fails(
        &key("harbour"),
        act(&chain, "approve"),
        ErrorCode::Unauthorized,
    );
    let r = chain.ok(&key("roads"), act(&chain, "approve"));
    assert_eq!(r.events[0].kind, "approved_step");
    chain.fails(
        &key("roads"),
        act(&chain, "approve"),
        ErrorCode::AlreadyExists,
    );
    let r = chain.ok(&key("parks"), act(&chain, "approve"));
    assert!(r.events.iter().any(|e| e.kind == "permit_issued"));
    assert!(r.events.iter().any(|e| e.kind == "finished"));
    let permit = chain.value(MODULE, &["permit", &id]);
    assert_eq!(permit["holder"], addr("alice").to_string());
    assert_eq!(permit["permit_type"], "building");
    assert_eq!(
        permit["credential"],
        json!({"issuer": issuer, "status_list": list, "status_idx": 0})
    );
    // The recorded order names the workflow's author, not the approving official.
    let decisions = chain.list(MODULE, &["decisions"], 10, None).unwrap().items;
    assert_eq!(decisions[0]["author"], json!(addr("roads").to_string()));
    assert_eq!(balance(&chain, "admin"), 250, "the fee went to the city");
    let times = chain.value(MODULE, &["processing", "building-permit"]);
    assert_eq!(times["finished"], 1);
    assert_eq!(times["by_state"]["issued"], 1);
    assert!(
        times["average_ms"].as_u64().unwrap() >= 14 * BLOCK_MS,
        "{times}"
    );
    chain.fails(
        &key("water"),
        act(&chain, "refuse"),
        ErrorCode::InvalidState,
    );
}

#[test]
fn invalid_workflow_definitions_are_refused() {
    let mut chain = city_with_money();
    let treasury = addr("admin").to_string();
    let good: serde_json::Value =
        serde_json::from_str(&permit_definition(&treasury, 1_000, "did:urbis:x", 1)).unwrap();
    let mutate = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut d = good.clone();
        f(&mut d);
        d.to_string()
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "cannot be reached",
            mutate(&|d| {
                d["states"]["limbo"] = json!({"final": true});
            }),
        ),
        (
            "unknown",
            mutate(&|d| {
                d["transitions"][0]["role"] = json!("wizard");
            }),
        ),
        (
            "unknown state",
            mutate(&|d| {
                d["transitions"][0]["to"] = json!("nowhere");
            }),
        ),
        (
            "takes none",
            mutate(&|d| {
                d.as_object_mut().unwrap().remove("fee");
            }),
        ),
        (
            "leaves the final state",
            mutate(&|d| {
                d["transitions"].as_array_mut().unwrap().push(
                json!({"name": "reopen", "from": "issued", "to": "review", "role": "department"}),
            );
            }),
        ),
        (
            "no way out",
            mutate(&|d| {
                d["states"]["stuck"] = json!({});
                d["transitions"].as_array_mut().unwrap().push(
                json!({"name": "to-stuck", "from": "review", "to": "stuck", "role": "department"}),
            );
            }),
        ),
        (
            "deadline",
            mutate(&|d| {
                d["states"]["notice"]["deadline"]["transition"] = json!("approve");
            }),
        ),
        (
            "is automatic: no role",
            mutate(&|d| {
                d["transitions"][4]["role"] = json!("department");
            }),
        ),
        (
            "no deadline of",
            mutate(&|d| {
                d["transitions"][0]["automatic"] = json!(true);
                d["transitions"][0].as_object_mut().unwrap().remove("role");
                d["transitions"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("department");
            }),
        ),
        (
            "names the role",
            mutate(&|d| {
                d["transitions"][0].as_object_mut().unwrap().remove("role");
            }),
        ),
        (
            "is a remark",
            mutate(&|d| {
                d["transitions"][3]["approvals"] = json!(2);
            }),
        ),
    ];
    for (expect, d) in cases {
        let msg = chain.fails(
            &key("roads"),
            call(&chain, json!({"call": "define_workflow", "definition": d})),
            ErrorCode::InvalidArgument,
        );
        assert!(msg.contains(expect), "{expect}: {msg}");
    }
}

#[test]
fn workflows_are_maintained_by_their_author_and_act_only_within_its_authority() {
    let mut chain = city_with_money();
    let treasury = addr("admin").to_string();
    let (issuer, list) = issuer_with_list(&mut chain, "roads", 41);
    let (other_issuer, other_list) = issuer_with_list(&mut chain, "parks", 42);
    for (code, officers) in [("roads", ["roads", "parks"]), ("parks", ["parks", "water"])] {
        chain.ok(
            &key("admin"),
            call(
                &chain,
                json!({"call": "department", "code": code, "name": code}),
            ),
        );
        for who in officers {
            chain.ok(
                &key("admin"),
                call(
                    &chain,
                    json!({"call": "officer", "department": code, "account": addr(who), "active": true}),
                ),
            );
        }
    }
    let define = |chain: &TestChain, d: &serde_json::Value| {
        call(
            chain,
            json!({"call": "define_workflow", "definition": d.to_string()}),
        )
    };
    let good: serde_json::Value =
        serde_json::from_str(&permit_definition(&treasury, 10 * BLOCK_MS, &issuer, list)).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut d = good.clone();
        f(&mut d);
        d
    };
    // What the author may make a workflow do.
    let refused = [
        // The fee to a resident's account.
        with(&|d| d["states"]["issued"]["on_enter"][1]["to"] = json!(addr("alice").to_string())),
        // A decision of a department the author is no officer of.
        with(&|d| d["states"]["issued"]["on_enter"][2]["department"] = json!("parks")),
        // A credential under a DID the author does not control.
        with(&|d| {
            d["states"]["issued"]["on_enter"][0]["credential"] =
                json!({"issuer": other_issuer, "status_list": other_list})
        }),
        // Rewards from a program the author did not create.
        with(&|d| {
            d["states"]["issued"]["on_enter"]
                .as_array_mut()
                .unwrap()
                .push(json!({"action": "award_reward", "program": 1, "amount": 5}))
        }),
    ];
    for d in &refused {
        chain.fails(&key("roads"), define(&chain, d), ErrorCode::Unauthorized);
    }
    // A list that is not the issuer's.
    let mismatched = with(&|d| {
        d["states"]["issued"]["on_enter"][0]["credential"]["status_list"] = json!(other_list)
    });
    chain.fails(
        &key("roads"),
        define(&chain, &mismatched),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&key("roads"), define(&chain, &good));
    // Another department cannot publish a version of roads' workflow; the city admin can
    // (and may award from any program).
    // (The admin cannot issue under roads' DID: v2 issues a permit without a credential.)
    let v2 = with(&|d| {
        let actions = d["states"]["issued"]["on_enter"].as_array_mut().unwrap();
        actions[0].as_object_mut().unwrap().remove("credential");
        actions.push(json!({"action": "award_reward", "program": 1, "amount": 5}));
    });
    chain.fails(&key("parks"), define(&chain, &v2), ErrorCode::Unauthorized);

    // An application under v1, refused as incomplete: the fee comes back.
    let start = |chain: &TestChain| {
        call(
            chain,
            json!({"call": "start_workflow", "workflow": "building-permit", "subject_hash": Hash([1; 32]),
                   "documents": []}),
        )
    };
    let id_of = |r: &urbis_core::Receipt| {
        r.events
            .iter()
            .find(|e| e.kind == "started")
            .unwrap()
            .attr("id")
            .unwrap()
            .to_string()
    };
    let first = id_of(&chain.ok(&key("alice"), start(&chain)));
    let balance = |chain: &TestChain| {
        chain.value("assets", &["balance", "EURc", &addr("alice").to_string()])["amount"]
            .as_u64()
            .unwrap_or(0)
    };
    assert_eq!(balance(&chain), 750);
    let act = |chain: &TestChain, id: &str, t: &str| {
        call(
            chain,
            json!({"call": "act", "instance": id, "transition": t, "document_hash": null}),
        )
    };
    chain.ok(&key("parks"), act(&chain, &first, "incomplete"));
    assert_eq!(balance(&chain), 1_000, "refunded");
    assert_eq!(
        chain.value(MODULE, &["instance", &first])["state"],
        "refused"
    );

    // A second application under v1 runs on while v2 (with a reward) is defined.
    let second = id_of(&chain.ok(&key("alice"), start(&chain)));
    let r = chain.ok(&key("admin"), define(&chain, &v2));
    assert_eq!(r.events[0].attr("version"), Some("2"));
    let third = id_of(&chain.ok(&key("alice"), start(&chain)));
    assert_eq!(chain.value(MODULE, &["instance", &second])["version"], 1);
    assert_eq!(chain.value(MODULE, &["instance", &third])["version"], 2);
    let allow = chain
        .runtime
        .call_from_json(
            urbis_rewards::MODULE,
            &json!({"call": "set_awarder", "program": 1, "module": MODULE, "allowed": true}),
        )
        .unwrap();
    chain.ok(&key("admin"), allow);
    for id in [&second, &third] {
        chain.ok(&key("roads"), act(&chain, id, "complete"));
        chain.ok(&key("roads"), act(&chain, id, "publish"));
    }
    for _ in 0..11 {
        chain.block(&[]);
    }
    for id in [&second, &third] {
        chain.ok(&key("roads"), act(&chain, id, "approve"));
        chain.ok(&key("parks"), act(&chain, id, "approve"));
    }
    // Only v2 awards; v1's permit is a credential (the list's first entry), v2's is not.
    let tokens = chain.value("rewards", &["balance", &addr("alice").to_string()]);
    assert_eq!(tokens["total"], 5, "{tokens}");
    let permit = |id: &str| chain.value(MODULE, &["permit", id])["credential"].clone();
    assert_eq!(permit(&second)["status_idx"], 0);
    assert_eq!(permit(&third), serde_json::Value::Null);
}
