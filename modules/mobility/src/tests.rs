//! The mobility module through the runtime, with accounts, assets, rewards and identity.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value as Json, json};
use urbis_accounts::testkit::{BLOCK_MS, TestChain, addr, key};
use urbis_core::{ErrorCode, Hash, SecretKey, merkle_path, merkle_root};

use crate::telemetry::{Batch, BatchInclusion, Point};
use crate::{MODULE, PICKUP_TAG, TAP_TAG, TapKind, pickup_message, tap_message};

const ASSET: &str = "EURc";
const LICENCE: &str = "urbis:driving-licence";

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("dept"), "roles": ["department"] },
        { "address": addr("mob"), "roles": ["mobility_authority"] },
        { "address": addr("bus"), "roles": ["transport_operator"] },
        { "address": addr("tram"), "roles": ["transport_operator"] },
        { "address": addr("dan"), "roles": ["citizen"] },
        { "address": addr("pia"), "roles": ["citizen"] },
        { "address": addr("eve"), "roles": ["citizen"] },
    ]});
    let supply: Vec<_> = ["pia", "eve", "dan"]
        .iter()
        .map(|n| json!([addr(n), 1_000_000]))
        .collect();
    let assets = json!({"assets": [{"symbol": ASSET, "name": "Euro cents", "decimals": 2,
        "issuer": addr("admin"), "supply": supply}]});
    let rewards = json!({"programs": [{"name": "Ride the bus", "category": "public_transport",
        "budget": 1_000_000, "cap_per_period": 10_000, "period_ms": 86_400_000, "transferable": false}]});
    let mut chain = TestChain::new(
        vec![
            urbis_accounts::module(),
            urbis_rewards::module(),
            urbis_assets::module(),
            urbis_identity::module(),
            crate::module(),
        ],
        &[
            (urbis_accounts::MODULE, accounts),
            (urbis_assets::MODULE, assets),
            (urbis_rewards::MODULE, rewards),
        ],
    );
    let awarder = chain
        .runtime
        .call_from_json(
            urbis_rewards::MODULE,
            &json!({"call": "set_awarder", "program": 1, "module": MODULE, "allowed": true}),
        )
        .unwrap();
    chain.ok(&key("admin"), awarder);
    chain
}

fn call(chain: &TestChain, json: Json) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(MODULE, &json)
        .expect("matches the schema")
}

fn identity(chain: &TestChain, json: Json) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(urbis_identity::MODULE, &json)
        .expect("matches the schema")
}

fn now(chain: &TestChain) -> u64 {
    chain.next_env().timestamp_ms
}

fn balance(chain: &TestChain, who: &urbis_core::Address) -> u64 {
    chain.value(urbis_assets::MODULE, &["balance", ASSET, &who.to_string()])["amount"]
        .as_u64()
        .unwrap()
}

fn ed25519_jwk(k: &SecretKey) -> Json {
    json!({"kty": "OKP", "crv": "Ed25519", "x": urbis_credentials::jose::b64(k.public_key().raw())})
}

/// A device DID for an on-board unit whose key is `unit`, controlled by `operator`.
fn unit_did(chain: &mut TestChain, unit: &SecretKey, operator: &str, salt: u8) -> String {
    let c = identity(
        chain,
        json!({"call": "create", "document": {"methods": [
                  {"fragment": "key-1", "jwk": ed25519_jwk(unit), "purposes": ["assertion_method"]}],
                  "services": []},
               "next_key_hash": urbis_identity::next_key_commitment(&addr("x")),
               "salt": Hash([salt; 32]), "subject": "device", "controller": addr(operator)}),
    );
    let r = chain.ok(&key("dept"), c);
    r.events[0].attr("did").unwrap().to_string()
}

fn unit(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

fn vin(n: u8) -> Hash {
    crate::vin_hash(&[5; 32], &format!("WVWZZZ1JZ3W38624{n}"))
}

fn register(chain: &mut TestChain, n: u8, operator: &str) -> Json {
    let did = unit_did(chain, &unit(n), operator, n);
    json!({"call": "register_vehicle", "vehicle": vin(n), "operator": addr(operator),
           "class": "bus", "unit_did": did, "unit_key": unit(n).public_key()})
}

fn minute(vehicle: Hash, u: &SecretKey, seq: u64, t0: u64) -> Batch {
    let points = (0..60)
        .map(|i| Point {
            t_ms: t0 + i * 1_000,
            lat_e7: 485_000_000 + (seq * 60 + i) as i32,
            lon_e7: 23_000_000,
            speed_cm_s: 800,
        })
        .collect();
    Batch::sign(u, vehicle, seq, points)
}

#[test]
fn vehicles_anchor_telemetry_positions_are_proven_and_gaps_flagged() {
    let mut chain = city();
    // Registration: who may, and what the unit must be.
    let v1 = register(&mut chain, 1, "bus");
    chain.fails(
        &key("dan"),
        call(&chain, v1.clone()),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("tram"),
        call(&chain, v1.clone()),
        ErrorCode::Unauthorized,
    );
    let mut not_operator = v1.clone();
    not_operator["operator"] = json!(addr("dan"));
    chain.fails(
        &key("mob"),
        call(&chain, not_operator),
        ErrorCode::InvalidArgument,
    );
    let mut no_did = v1.clone();
    no_did["unit_did"] = json!(format!("did:urbis:{}", "ab".repeat(20)));
    chain.fails(&key("mob"), call(&chain, no_did), ErrorCode::NotFound);
    let mut wrong_key = v1.clone();
    wrong_key["unit_key"] = json!(unit(9).public_key());
    chain.fails(
        &key("mob"),
        call(&chain, wrong_key),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&key("bus"), call(&chain, v1.clone()));
    chain.fails(&key("bus"), call(&chain, v1), ErrorCode::AlreadyExists);
    let v2 = register(&mut chain, 2, "bus");
    chain.ok(&key("mob"), call(&chain, v2));
    let v3 = register(&mut chain, 3, "tram");
    chain.ok(&key("tram"), call(&chain, v3));
    let mut same_unit = register(&mut chain, 4, "bus");
    same_unit["unit_key"] = json!(unit(1).public_key());
    same_unit["unit_did"] = chain.value(MODULE, &["vehicle", &vin(1).to_hex()])["unit_did"].clone();
    chain.fails(
        &key("bus"),
        call(&chain, same_unit),
        ErrorCode::AlreadyExists,
    );
    assert_eq!(
        chain.value(MODULE, &["vehicle", &vin(2).to_hex()])["number"],
        2
    );

    // Ten minutes of telemetry of buses 1 and 2, one batch a minute, under one root.
    let t0 = now(&chain) - 600_000;
    let mut batches = Vec::new();
    for m in 0..10u64 {
        for n in [1u8, 2] {
            batches.push(minute(vin(n), &unit(n), m, t0 + m * 60_000));
        }
    }
    let leaves: Vec<Hash> = batches.iter().map(Batch::leaf).collect();
    let root = merkle_root(&leaves);
    let anchor = |chain: &TestChain, from: u64, to: u64, vehicles: Json| {
        call(
            chain,
            json!({"call": "anchor", "root": root, "batches": 20, "from_ms": from,
                   "to_ms": to, "vehicles": vehicles}),
        )
    };
    // Only the vehicles' own operator anchors them.
    chain.fails(
        &key("tram"),
        anchor(&chain, t0, t0 + 600_000, json!([1, 2])),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("bus"),
        anchor(&chain, t0, t0 + 600_000, json!([1, 3])),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("dan"),
        anchor(&chain, t0, t0 + 600_000, json!([1])),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("bus"),
        anchor(&chain, t0, t0 + 600_000, json!([2, 1])),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("bus"),
        anchor(&chain, t0, t0 + 600_000, json!([1, 7])),
        ErrorCode::NotFound,
    );
    chain.fails(
        &key("bus"),
        anchor(&chain, t0, now(&chain) + 60_000, json!([1, 2])),
        ErrorCode::NotYetValid,
    );
    let r = chain.ok(&key("bus"), anchor(&chain, t0, t0 + 600_000, json!([1, 2])));
    assert_eq!(r.events[0].attr("seq"), Some("1"));
    let stored = chain.value(MODULE, &["anchor", &addr("bus").to_string(), "1"]);
    assert_eq!(stored["root"], json!(root));
    assert_eq!(stored["vehicles"], 2);
    let v = chain.value(MODULE, &["vehicle", &vin(1).to_hex()]);
    assert_eq!(v["anchored_until_ms"], json!(t0 + 600_000));
    assert_eq!(v["gaps"], 0);

    // The position of bus 2 at minute 4, 30 s, from its signed batch under the stored root.
    let at = t0 + 4 * 60_000 + 30_500;
    let i = batches
        .iter()
        .position(|b| b.vehicle == vin(2) && b.position_at(at).is_some())
        .unwrap();
    let inc = BatchInclusion {
        batch: batches[i].clone(),
        index: i as u32,
        path: merkle_path(&leaves, i).unwrap(),
    };
    let unit_key: urbis_core::PublicKey = serde_json::from_value(
        chain.value(MODULE, &["vehicle", &vin(2).to_hex()])["unit_key"].clone(),
    )
    .unwrap();
    let root_on_chain: Hash = serde_json::from_value(stored["root"].clone()).unwrap();
    let p = inc.verify(&unit_key, &vin(2), &root_on_chain, at).unwrap();
    assert_eq!(p.t_ms, t0 + 4 * 60_000 + 30_000);
    assert!(inc.verify(&unit_key, &vin(1), &root_on_chain, at).is_err());

    // A pause: the next anchor starts 10 minutes later; both buses get a gap flagged.
    chain.skip_blocks(1_200);
    let from = t0 + 1_200_000;
    let r = chain.ok(
        &key("bus"),
        anchor(&chain, from, from + 60_000, json!([1, 2])),
    );
    assert_eq!(r.events.iter().filter(|e| e.kind == "gap").count(), 2);
    let gaps = chain
        .list(MODULE, &["gaps", &vin(1).to_hex()], 10, None)
        .unwrap();
    assert_eq!(gaps.items.len(), 1);
    assert_eq!(gaps.items[0]["from_ms"], json!(t0 + 600_000));
    assert_eq!(gaps.items[0]["to_ms"], json!(from));
    assert_eq!(
        chain.value(MODULE, &["vehicle", &vin(1).to_hex()])["gaps"],
        1
    );
    // A retired vehicle is anchored no more.
    chain.fails(
        &key("tram"),
        call(&chain, json!({"call": "retire_vehicle", "vehicle": vin(1)})),
        ErrorCode::Unauthorized,
    );
    chain.ok(
        &key("bus"),
        call(&chain, json!({"call": "retire_vehicle", "vehicle": vin(1)})),
    );
    chain.fails(
        &key("bus"),
        anchor(&chain, from + 60_000, from + 120_000, json!([1])),
        ErrorCode::InvalidState,
    );
}

/// The ride rules and a licensed driver `dan` whose credential is entry 3 of the issuer's
/// status list; returns the list id.
fn rides_setup(chain: &mut TestChain) -> u64 {
    let rules = json!({"call": "configure", "gap_tolerance_ms": 120_000, "rides": {
        "asset": ASSET, "licence_vct": LICENCE, "accept_timeout_ms": 600_000,
        "pickup_timeout_ms": 900_000, "completion_timeout_ms": 3_600_000,
        "free_cancel_ms": 120_000, "cancel_fee_bps": 2_000}});
    chain.fails(
        &key("dan"),
        call(chain, rules.clone()),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("mob"), call(chain, rules));
    // The licensing office's DID, accredited for licences, with a status list.
    let c = identity(
        chain,
        json!({"call": "create", "document": {"methods": [
                  {"fragment": "key-1", "jwk": ed25519_jwk(&unit(50)), "purposes": ["assertion_method"]}],
                  "services": []},
               "next_key_hash": urbis_identity::next_key_commitment(&addr("mob-next")),
               "salt": Hash([50; 32]), "subject": "person"}),
    );
    let issuer = chain.ok(&key("mob"), c).events[0]
        .attr("did")
        .unwrap()
        .to_string();
    let driver = |chain: &TestChain, list: u64| {
        call(
            chain,
            json!({"call": "register_driver", "driver": addr("dan"), "issuer": issuer,
                   "status_list": list, "status_idx": 3, "valid_until_ms": now(chain) + 365 * 86_400_000}),
        )
    };
    chain.fails(&key("mob"), driver(chain, 1), ErrorCode::NotFound);
    let list = identity(
        chain,
        json!({"call": "create_status_list", "issuer": issuer, "bits": 2, "size": 1024}),
    );
    chain.ok(&key("mob"), list);
    // Not accredited yet.
    chain.fails(&key("mob"), driver(chain, 1), ErrorCode::Unauthorized);
    let acc = identity(
        chain,
        json!({"call": "accredit", "issuer": issuer, "vct": LICENCE, "from_ms": 0, "until_ms": u64::MAX}),
    );
    chain.ok(&key("admin"), acc);
    chain.fails(&key("dan"), driver(chain, 1), ErrorCode::Unauthorized);
    chain.ok(&key("mob"), driver(chain, 1));
    1
}

fn offer(chain: &TestChain, seats: u8, fare: u64) -> urbis_core::Call {
    let t = now(chain);
    call(
        chain,
        json!({"call": "offer", "zone": "north-3", "depart_from_ms": t,
               "depart_until_ms": t + 1_800_000, "seats": seats, "fare": fare}),
    )
}

fn request(chain: &TestChain, offer: u64, who: u8) -> urbis_core::Call {
    call(
        chain,
        json!({"call": "request", "offer": offer, "pickup_key": unit(100 + who).public_key(),
               "pickup_commitment": Hash([who; 32])}),
    )
}

fn ride(chain: &TestChain, verb: &str, ride: u64) -> urbis_core::Call {
    call(chain, json!({"call": verb, "ride": ride}))
}

fn code(who: u8, ride: u64) -> urbis_core::Signature {
    unit(100 + who).sign(PICKUP_TAG, &pickup_message(ride, &addr("dan")))
}

fn state(chain: &TestChain, id: u64) -> String {
    chain.value(MODULE, &["ride", &id.to_string()])["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_ride_from_request_to_rating() {
    let mut chain = city();
    chain.fails(&key("dan"), offer(&chain, 2, 900), ErrorCode::InvalidState);
    rides_setup(&mut chain);
    chain.fails(&key("eve"), offer(&chain, 2, 900), ErrorCode::Unauthorized);
    chain.fails(
        &key("dan"),
        offer(&chain, 0, 900),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&key("dan"), offer(&chain, 2, 900));
    chain.fails(
        &key("dan"),
        request(&chain, 1, 1),
        ErrorCode::InvalidArgument,
    );
    chain.fails(&key("pia"), request(&chain, 9, 1), ErrorCode::NotFound);
    let before = balance(&chain, &addr("pia"));
    chain.ok(&key("pia"), request(&chain, 1, 1));
    assert_eq!(
        balance(&chain, &addr("pia")),
        before - 900,
        "the fare is in escrow"
    );
    assert_eq!(state(&chain, 1), "requested");

    // Only the driver accepts, and only once.
    chain.fails(
        &key("pia"),
        ride(&chain, "accept", 1),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("dan"), ride(&chain, "accept", 1));
    chain.fails(
        &key("dan"),
        ride(&chain, "accept", 1),
        ErrorCode::InvalidState,
    );
    // Completion before pickup, a wrong pickup code.
    chain.fails(
        &key("pia"),
        ride(&chain, "complete", 1),
        ErrorCode::InvalidState,
    );
    let wrong = call(
        &chain,
        json!({"call": "pickup", "ride": 1, "code": code(2, 1)}),
    );
    chain.fails(&key("dan"), wrong, ErrorCode::BadSignature);
    let pickup = call(
        &chain,
        json!({"call": "pickup", "ride": 1, "code": code(1, 1)}),
    );
    chain.fails(&key("eve"), pickup.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("dan"), pickup);
    // A third party cannot complete; the driver alone only after the timeout; no rating yet.
    chain.fails(
        &key("eve"),
        ride(&chain, "complete", 1),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("dan"),
        ride(&chain, "complete", 1),
        ErrorCode::NotYetValid,
    );
    let rate = |chain: &TestChain, stars: u8| {
        call(chain, json!({"call": "rate", "ride": 1, "stars": stars}))
    };
    chain.fails(&key("pia"), rate(&chain, 5), ErrorCode::InvalidState);
    chain.ok(&key("pia"), ride(&chain, "complete", 1));
    chain.fails(
        &key("pia"),
        ride(&chain, "complete", 1),
        ErrorCode::InvalidState,
    );
    let dan_before = balance(&chain, &addr("dan"));
    chain.ok(&key("dan"), ride(&chain, "complete", 1));
    assert_eq!(state(&chain, 1), "completed");
    assert_eq!(balance(&chain, &addr("dan")), dan_before + 900);

    // One rating per side.
    chain.fails(&key("pia"), rate(&chain, 6), ErrorCode::InvalidArgument);
    chain.fails(&key("eve"), rate(&chain, 5), ErrorCode::Unauthorized);
    chain.ok(&key("pia"), rate(&chain, 4));
    chain.fails(&key("pia"), rate(&chain, 5), ErrorCode::AlreadyExists);
    chain.ok(&key("dan"), rate(&chain, 5));
    let rep = chain.value(MODULE, &["reputation", &addr("dan").to_string()]);
    assert_eq!(rep["completed"], 1);
    assert_eq!(rep["ratings"], 1);
    assert_eq!(rep["average_centistars"], 400);
    assert_eq!(
        chain.value(MODULE, &["rider", &addr("pia").to_string()])["rating_sum"],
        5
    );
}

#[test]
fn timeouts_refund_cancellations_cost_by_rule_and_disputes_are_decided() {
    let mut chain = city();
    let list = rides_setup(&mut chain);
    chain.ok(&key("dan"), offer(&chain, 3, 1_000));
    let pia0 = balance(&chain, &addr("pia"));
    let eve0 = balance(&chain, &addr("eve"));

    // Ride 1: never accepted — refunded by the scheduler after the accept timeout.
    chain.ok(&key("pia"), request(&chain, 1, 1));
    // Ride 2: accepted, never picked up — refunded after the pickup timeout.
    chain.ok(&key("eve"), request(&chain, 1, 2));
    chain.ok(&key("dan"), ride(&chain, "accept", 2));
    chain.skip_blocks(600);
    chain.block(&[]);
    assert_eq!(state(&chain, 1), "expired");
    assert_eq!(balance(&chain, &addr("pia")), pia0);
    assert_eq!(state(&chain, 2), "accepted");
    chain.skip_blocks(1_800 + 900);
    chain.block(&[]);
    assert_eq!(state(&chain, 2), "expired");
    assert_eq!(balance(&chain, &addr("eve")), eve0);
    assert_eq!(
        chain.value(MODULE, &["reputation", &addr("dan").to_string()])["expired"],
        1
    );

    // A late cancellation by the passenger pays 20% to the driver.
    chain.ok(&key("dan"), offer(&chain, 3, 1_000));
    chain.ok(&key("pia"), request(&chain, 2, 1));
    chain.ok(&key("dan"), ride(&chain, "accept", 3));
    chain.skip_blocks(200);
    let dan0 = balance(&chain, &addr("dan"));
    chain.fails(
        &key("eve"),
        ride(&chain, "cancel", 3),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("pia"), ride(&chain, "cancel", 3));
    assert_eq!(balance(&chain, &addr("dan")), dan0 + 200);
    assert_eq!(balance(&chain, &addr("pia")), pia0 - 200);
    chain.fails(
        &key("pia"),
        ride(&chain, "cancel", 3),
        ErrorCode::InvalidState,
    );

    // The driver completes alone once the completion timeout has passed after pickup.
    chain.ok(&key("eve"), request(&chain, 2, 2));
    chain.ok(&key("dan"), ride(&chain, "accept", 4));
    let pickup = call(
        &chain,
        json!({"call": "pickup", "ride": 4, "code": code(2, 4)}),
    );
    chain.ok(&key("dan"), pickup);
    chain.skip_blocks(3_600);
    chain.ok(&key("dan"), ride(&chain, "complete", 4));
    assert_eq!(state(&chain, 4), "completed");

    // A dispute: the authority splits the fare.
    chain.fails(&key("pia"), request(&chain, 2, 1), ErrorCode::InvalidState);
    chain.ok(&key("dan"), offer(&chain, 3, 1_000));
    chain.ok(&key("pia"), request(&chain, 3, 1));
    chain.ok(&key("dan"), ride(&chain, "accept", 5));
    let dispute = call(
        &chain,
        json!({"call": "dispute", "ride": 5, "reason_hash": Hash([3; 32])}),
    );
    chain.fails(&key("eve"), dispute.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("pia"), dispute);
    let resolve = |chain: &TestChain, to_driver: u64| {
        call(
            chain,
            json!({"call": "resolve", "ride": 5, "to_driver": to_driver, "reason_hash": Hash([4; 32])}),
        )
    };
    chain.fails(&key("dan"), resolve(&chain, 300), ErrorCode::Unauthorized);
    chain.fails(
        &key("mob"),
        resolve(&chain, 1_001),
        ErrorCode::InvalidArgument,
    );
    let pia1 = balance(&chain, &addr("pia"));
    chain.ok(&key("mob"), resolve(&chain, 300));
    assert_eq!(state(&chain, 5), "resolved");
    assert_eq!(balance(&chain, &addr("pia")), pia1 + 700);
    chain.fails(&key("mob"), resolve(&chain, 300), ErrorCode::InvalidState);
    // Every escrow was paid out or refunded: the module holds nothing.
    assert_eq!(balance(&chain, &crate::account()), 0);

    // A revoked licence stops the driver.
    let issuer = chain.value(MODULE, &["driver", &addr("dan").to_string()])["issuer"].clone();
    assert!(issuer.is_string());
    let revoke = identity(
        &chain,
        json!({"call": "set_status", "list": list, "idx": 3, "status": 1}),
    );
    chain.ok(&key("mob"), revoke);
    chain.fails(&key("dan"), offer(&chain, 1, 500), ErrorCode::Revoked);
}

fn fares() -> Json {
    json!({"asset": ASSET, "zone_fares": [200, 300, 400], "bands": [],
           "utc_offset_min": 0, "daily_cap": 700, "monthly_cap": 10_000,
           "missing_tap_out_fare": 400, "max_journey_ms": 10_800_000,
           "max_tap_delay_ms": 600_000,
           "reward": {"program": 1, "journeys": 3, "tokens": 50}})
}

fn card(n: u8) -> SecretKey {
    SecretKey::from_seed([200 + n; 32])
}

fn device(name: &str) -> SecretKey {
    key(&format!("validator-{name}"))
}

fn tap(chain: &TestChain, c: u8, dev: &str, kind: TapKind, t: u64) -> urbis_core::Call {
    let k = card(c);
    let sig = k.sign(
        TAP_TAG,
        &tap_message(&k.public_key(), &device(dev).address(), kind, t),
    );
    call(
        chain,
        json!({"call": "tap", "card": k.public_key(), "kind": kind.as_str(), "t_ms": t, "signature": sig}),
    )
}

#[test]
fn a_day_of_transit_is_priced_capped_cleared_between_operators_and_rewarded() {
    let mut chain = city();
    let set = call(&chain, json!({"call": "set_fares", "fares": fares()}));
    chain.fails(&key("bus"), set.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("mob"), set);
    // Zone 1 is the bus company's, zones 2 and 3 the tram company's.
    for (z, op) in [(1, "bus"), (2, "tram"), (3, "tram")] {
        let c = call(
            &chain,
            json!({"call": "set_zone", "zone": z, "name": format!("Z{z}"), "operator": addr(op)}),
        );
        chain.ok(&key("mob"), c);
    }
    for (dev, op, stop, zone) in [
        ("a", "bus", 10, 1),
        ("b", "tram", 20, 2),
        ("c", "tram", 30, 3),
    ] {
        let c = call(
            &chain,
            json!({"call": "register_validator", "device": device(dev).address(),
                   "stop": stop, "line": 7, "zone": zone}),
        );
        chain.ok(&key(op), c.clone());
        chain.fails(&key(op), c, ErrorCode::AlreadyExists);
    }
    let stray = call(
        &chain,
        json!({"call": "register_validator", "device": device("x").address(), "stop": 1, "line": 1, "zone": 9}),
    );
    chain.fails(&key("bus"), stray, ErrorCode::NotFound);
    for c in [1u8, 2, 3] {
        let top = call(
            &chain,
            json!({"call": "top_up", "card": card(c).public_key(), "amount": 5_000}),
        );
        chain.ok(&key("pia"), top);
    }
    let link_sig = card(1).sign(
        crate::LINK_TAG,
        &crate::link_message(&card(1).public_key(), &addr("pia")),
    );
    let bad_link = call(
        &chain,
        json!({"call": "link_rewards", "card": card(1).public_key(), "to": addr("pia"), "signature": card(2).sign(crate::LINK_TAG, b"x")}),
    );
    chain.fails(&key("pia"), bad_link, ErrorCode::BadSignature);
    let link = call(
        &chain,
        json!({"call": "link_rewards", "card": card(1).public_key(), "to": addr("pia"), "signature": link_sig}),
    );
    chain.ok(&key("pia"), link);

    let t = now(&chain);
    let a = device("a");
    let b = device("b");
    // Bad taps: unknown device, stale, future, forged, unknown card, out without in.
    chain.fails(
        &key("validator-x"),
        tap(&chain, 1, "x", TapKind::In, t),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &a,
        tap(&chain, 1, "a", TapKind::In, t - 700_000),
        ErrorCode::Expired,
    );
    chain.fails(
        &a,
        tap(&chain, 1, "a", TapKind::In, t + 60_000),
        ErrorCode::NotYetValid,
    );
    chain.fails(
        &a,
        tap(&chain, 1, "b", TapKind::In, t),
        ErrorCode::BadSignature,
    );
    chain.fails(&a, tap(&chain, 9, "a", TapKind::In, t), ErrorCode::NotFound);
    chain.fails(
        &a,
        tap(&chain, 1, "a", TapKind::Out, t),
        ErrorCode::InvalidState,
    );

    // Card 1: zone 1 → zone 3 (3 zones, 400): 1 zone to the bus company, 2 to the trams.
    chain.ok(&a, tap(&chain, 1, "a", TapKind::In, t));
    chain.fails(
        &a,
        tap(&chain, 1, "a", TapKind::In, t + 1_000),
        ErrorCode::InvalidState,
    );
    chain.ok(&device("c"), tap(&chain, 1, "c", TapKind::Out, t + 1_000));
    let j = chain.value(
        MODULE,
        &["journey", &crate::keys::card_hex(&card(1).public_key())],
    );
    assert_eq!(j["fare"], 400);
    assert_eq!(j["charged"], 400);
    // Two more journeys: the third of the month earns the reward; the daily cap (700) holds.
    chain.ok(&b, tap(&chain, 1, "b", TapKind::In, t + 2_000));
    chain.ok(&b, tap(&chain, 1, "b", TapKind::Out, t + 3_000));
    let j = chain.value(
        MODULE,
        &["journey", &crate::keys::card_hex(&card(1).public_key())],
    );
    assert_eq!(
        (j["fare"].as_u64(), j["charged"].as_u64()),
        (Some(200), Some(200))
    );
    chain.ok(&b, tap(&chain, 1, "b", TapKind::In, t + 4_000));
    let r = chain.ok(&b, tap(&chain, 1, "b", TapKind::Out, t + 5_000));
    assert!(r.events.iter().any(|e| e.kind == "transit_reward"));
    let j = chain.value(
        MODULE,
        &["journey", &crate::keys::card_hex(&card(1).public_key())],
    );
    assert_eq!(j["charged"], 100, "capped at 700 a day");
    let tokens = chain.value(
        urbis_rewards::MODULE,
        &["balance", &addr("pia").to_string()],
    );
    assert_eq!(tokens["total"], 50, "{tokens}");
    // Card 2 taps in and never out; card 3 has too little for a tap-in after spending.
    chain.ok(&a, tap(&chain, 2, "a", TapKind::In, t + 6_000));
    let card_hex = crate::keys::card_hex(&card(1).public_key());
    assert_eq!(chain.value(MODULE, &["card", &card_hex])["balance"], 4_300);

    // Usage is counted per stop, line and hour.
    let day = crate::fares::local_day(&serde_json::from_value(fares()).unwrap(), t);
    let hour = crate::fares::local_hour(&serde_json::from_value(fares()).unwrap(), t);
    let u = chain.value(
        MODULE,
        &["stop_usage", "20", &day.to_string(), &hour.to_string()],
    );
    assert_eq!(
        (u["tap_ins"].as_u64(), u["tap_outs"].as_u64()),
        (Some(2), Some(2))
    );
    let u = chain.value(
        MODULE,
        &["line_usage", "7", &day.to_string(), &hour.to_string()],
    );
    assert_eq!(u["tap_ins"], 4);

    // After the day (and the clearing delay) the missing tap-out is charged and the
    // operators are paid: bus 133 + 400 (card 2), trams 267 + 200 + 100.
    let bus0 = balance(&chain, &addr("bus"));
    let tram0 = balance(&chain, &addr("tram"));
    let end = crate::fares::day_end_utc(&serde_json::from_value(fares()).unwrap(), day)
        + 600_000
        + crate::CLEARING_MARGIN_MS;
    chain.skip_blocks((end - now(&chain)) / BLOCK_MS + 1);
    let r = chain.block(&[]);
    assert!(r.is_empty());
    let d = chain.value(MODULE, &["day", &day.to_string()]);
    assert_eq!(d["journeys"], 4);
    assert_eq!(d["missing_tap_outs"], 1);
    assert_eq!(d["revenue"], 1_100);
    assert!(d["cleared_ms"].is_u64());
    assert_eq!(balance(&chain, &addr("bus")), bus0 + 134 + 400);
    assert_eq!(balance(&chain, &addr("tram")), tram0 + 266 + 300);
    // What the module still holds is exactly the cards' credit.
    let credit: u64 = [1u8, 2, 3]
        .iter()
        .map(|c| {
            chain.value(
                MODULE,
                &["card", &crate::keys::card_hex(&card(*c).public_key())],
            )["balance"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(balance(&chain, &crate::account()), credit);
    assert_eq!(credit, 15_000 - 1_100);
}

#[test]
fn transit_bad_input_changes_nothing_and_old_journeys_are_closed_by_rule() {
    let mut chain = city();
    let mut bad = fares();
    bad["zone_fares"] = json!([]);
    let c = call(&chain, json!({"call": "set_fares", "fares": bad}));
    chain.fails(&key("mob"), c, ErrorCode::InvalidArgument);
    let top = |chain: &TestChain, c: u8, amount: u64| {
        call(
            chain,
            json!({"call": "top_up", "card": card(c).public_key(), "amount": amount}),
        )
    };
    chain.fails(&key("pia"), top(&chain, 1, 500), ErrorCode::InvalidState);
    chain.ok(
        &key("mob"),
        call(&chain, json!({"call": "set_fares", "fares": fares()})),
    );
    let mut other_asset = fares();
    other_asset["asset"] = json!("XYZ");
    let c = call(&chain, json!({"call": "set_fares", "fares": other_asset}));
    chain.fails(&key("mob"), c, ErrorCode::NotFound);
    chain.ok(
        &key("mob"),
        call(
            &chain,
            json!({"call": "set_zone", "zone": 1, "name": "Z1", "operator": addr("bus")}),
        ),
    );
    let c = call(
        &chain,
        json!({"call": "set_zone", "zone": 2, "name": "Z2", "operator": addr("dan")}),
    );
    chain.fails(&key("mob"), c, ErrorCode::InvalidArgument);
    let reg = call(
        &chain,
        json!({"call": "register_validator", "device": device("a").address(), "stop": 1, "line": 1, "zone": 1}),
    );
    chain.fails(&key("dan"), reg.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("bus"), reg);
    chain.fails(&key("pia"), top(&chain, 1, 0), ErrorCode::InvalidArgument);
    chain.ok(&key("pia"), top(&chain, 1, 300));
    chain.ok(&key("pia"), top(&chain, 2, 5_000));
    let link = call(
        &chain,
        json!({"call": "link_rewards", "card": card(9).public_key(), "to": addr("pia"),
               "signature": card(9).sign(crate::LINK_TAG, &crate::link_message(&card(9).public_key(), &addr("pia")))}),
    );
    chain.fails(&key("pia"), link, ErrorCode::NotFound);
    let a = device("a");
    // Too little credit for a tap-in (the missing tap-out fare, 400, must be there).
    chain.fails(
        &a,
        tap(&chain, 1, "a", TapKind::In, now(&chain)),
        ErrorCode::InsufficientBalance,
    );

    // A journey never tapped out is charged the missing tap-out fare at the next tap-in once
    // the longest journey has passed.
    chain.ok(&a, tap(&chain, 2, "a", TapKind::In, now(&chain)));
    chain.skip_blocks(10_800);
    let r = chain.ok(&a, tap(&chain, 2, "a", TapKind::In, now(&chain)));
    let journey = r.events.iter().find(|e| e.kind == "journey").unwrap();
    assert_eq!(journey.attr("to_stop"), Some("none"));
    assert_eq!(journey.attr("charged"), Some("400"));
    let hex = crate::keys::card_hex(&card(2).public_key());
    assert_eq!(chain.value(MODULE, &["card", &hex])["balance"], 4_600);
    // A tap-out timed before its tap-in.
    chain.fails(
        &a,
        tap(&chain, 2, "a", TapKind::Out, now(&chain) - 5_000),
        ErrorCode::InvalidState,
    );

    // Revocation: only the operator or the authority; a revoked validator's taps are refused
    // at the gate.
    let revoke = call(
        &chain,
        json!({"call": "revoke_validator", "device": a.address()}),
    );
    chain.fails(&key("tram"), revoke.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("bus"), revoke.clone());
    chain.fails(&key("bus"), revoke, ErrorCode::Revoked);
    chain.fails(
        &a,
        tap(&chain, 2, "a", TapKind::Out, now(&chain)),
        ErrorCode::Unauthorized,
    );
}

#[test]
fn offers_fill_withdraw_and_drivers_cancel_at_their_cost() {
    let mut chain = city();
    rides_setup(&mut chain);
    chain.ok(&key("dan"), offer(&chain, 1, 500));
    chain.ok(&key("pia"), request(&chain, 1, 1));
    chain.ok(&key("eve"), request(&chain, 1, 2));
    chain.ok(&key("dan"), ride(&chain, "accept", 1));
    // One seat: the second request cannot be accepted, and new requests are refused.
    chain.fails(
        &key("dan"),
        ride(&chain, "accept", 2),
        ErrorCode::InvalidState,
    );
    chain.fails(&key("eve"), request(&chain, 1, 2), ErrorCode::InvalidState);
    // The driver declines the second and cancels the first: both refunded in full, and the
    // driver's record shows the cancellation of an accepted ride.
    let pia0 = balance(&chain, &addr("pia"));
    chain.ok(&key("dan"), ride(&chain, "cancel", 2));
    chain.ok(&key("dan"), ride(&chain, "cancel", 1));
    assert_eq!(balance(&chain, &addr("pia")), pia0 + 500);
    assert_eq!(
        chain.value(MODULE, &["reputation", &addr("dan").to_string()])["cancelled"],
        1
    );
    // A withdrawn offer takes no requests; only its driver withdraws it, once.
    let w = call(&chain, json!({"call": "withdraw_offer", "offer": 1}));
    chain.fails(&key("pia"), w.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("dan"), w.clone());
    chain.fails(&key("dan"), w, ErrorCode::InvalidState);
    chain.fails(&key("pia"), request(&chain, 1, 1), ErrorCode::InvalidState);
    assert_eq!(balance(&chain, &crate::account()), 0);
}
