//! The energy market through the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use urbis_accounts::testkit::{BLOCK_MS, TestChain, addr, key};
use urbis_core::{ErrorCode, Hash, SecretKey};

use crate::clearing;
use crate::{INTERVAL_MS, MODULE, Value, WEEK, interval_of, reading_message};

const ASSET: &str = "EURc";

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("grid"), "roles": ["grid_operator"] },
        { "address": addr("sun"), "roles": ["citizen"] },
        { "address": addr("home"), "roles": ["citizen"] },
        { "address": addr("shop"), "roles": ["citizen"] },
        { "address": addr("poor"), "roles": ["citizen"] },
    ]});
    let supply: Vec<_> = ["grid", "sun", "home", "shop"]
        .iter()
        .map(|n| json!([addr(n), 1_000_000]))
        .collect();
    let assets = json!({"assets": [{"symbol": ASSET, "name": "Euro cents", "decimals": 2,
        "issuer": addr("admin"), "supply": supply}]});
    let rewards = json!({"programs": [{"name": "Energy saving", "category": "energy_saving",
        "budget": 1_000_000, "cap_per_period": 10_000, "period_ms": 86_400_000, "transferable": false}]});
    let mut chain = TestChain::new(
        vec![
            urbis_accounts::module(),
            urbis_rewards::module(),
            urbis_assets::module(),
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
            &json!({"call": "set_awarder", "program": 1, "module": "energy", "allowed": true}),
        )
        .unwrap();
    chain.ok(&key("admin"), awarder);
    chain
}

fn call(chain: &TestChain, json: serde_json::Value) -> urbis_core::Call {
    chain
        .runtime
        .call_from_json(MODULE, &json)
        .expect("matches the schema")
}

fn device(name: &str) -> SecretKey {
    key(&format!("device-{name}"))
}

fn meter_id(name: &str) -> Hash {
    crate::meter_id(&[7; 32], name)
}

fn now(chain: &TestChain) -> u64 {
    chain.next_env().timestamp_ms
}

/// Configure the market, two feeders (feeder 1 may export 500 Wh per interval) and meters
/// `sun` (feeder 1), `home`, `shop` and `poor` (feeder 2).
fn market(chain: &mut TestChain) {
    let c = call(
        chain,
        json!({"call": "configure", "asset": ASSET, "gate_closure_ms": 300_000,
               "settle_delay_ms": 3_600_000, "imbalance_price": 40, "feed_in_price": 5,
               "tariff_price": 25, "reward": {"program": 1, "per_kwh": 10, "periods": 1, "lag_intervals": WEEK}}),
    );
    chain.fails(&key("sun"), c.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("grid"), c);
    let bad = call(
        chain,
        json!({"call": "configure", "asset": "XXX", "gate_closure_ms": 300_000,
               "settle_delay_ms": 3_600_000, "imbalance_price": 40, "feed_in_price": 5,
               "tariff_price": 25, "reward": null}),
    );
    chain.fails(&key("grid"), bad, ErrorCode::NotFound);
    for (f, x) in [(1, 500), (2, 1_000_000)] {
        let c = call(
            chain,
            json!({"call": "set_feeder", "feeder": f, "name": format!("F{f}"),
                   "max_export_wh": x, "max_import_wh": 1_000_000}),
        );
        chain.ok(&key("grid"), c);
    }
    for (name, feeder) in [("sun", 1), ("home", 2), ("shop", 2), ("poor", 2)] {
        let c = call(
            chain,
            json!({"call": "register_meter", "meter": meter_id(name),
                   "key": device(name).public_key(), "account": addr(name), "feeder": feeder,
                   "max_import_w": 8_000, "max_export_w": 6_000,
                   "owner_commitment": crate::owner_commitment(&[7; 32], &addr(name))}),
        );
        chain.ok(&key("grid"), c.clone());
        chain.fails(&key("grid"), c, ErrorCode::AlreadyExists);
    }
}

fn order(
    chain: &TestChain,
    name: &str,
    interval: u64,
    side: &str,
    qty: u64,
    price: u64,
) -> urbis_core::Call {
    call(
        chain,
        json!({"call": "order", "meter": meter_id(name), "interval": interval, "side": side,
               "qty_wh": qty, "price": price}),
    )
}

fn readings(chain: &TestChain, name: &str, first: u64, values: &[(u64, u64)]) -> urbis_core::Call {
    let values: Vec<Value> = values
        .iter()
        .map(|&(import_wh, export_wh)| Value {
            import_wh,
            export_wh,
        })
        .collect();
    let sig = device(name).sign(
        crate::READING_TAG,
        &reading_message(&meter_id(name), first, &values),
    );
    call(
        chain,
        json!({"call": "readings", "meter": meter_id(name), "first_interval": first,
               "values": values, "signature": sig}),
    )
}

fn balance(chain: &TestChain, who: urbis_core::Address) -> u64 {
    chain.value(urbis_assets::MODULE, &["balance", ASSET, &who.to_string()])["amount"]
        .as_u64()
        .unwrap()
}

/// Run empty blocks until block time reaches `ms`.
fn until(chain: &mut TestChain, ms: u64) {
    let t = now(chain);
    if ms > t {
        chain.skip_blocks((ms - t).div_ceil(BLOCK_MS));
    }
    chain.block(&[]);
}

#[test]
fn an_interval_clears_within_the_feeder_limit_and_settles_against_the_readings() {
    let mut chain = city();
    market(&mut chain);
    let i = interval_of(now(&chain), INTERVAL_MS) + 2;
    // Sun (feeder 1) sells 1000 Wh at 10 but feeder 1 exports at most 500; shop (feeder 2)
    // sells 600 at 20; home (feeder 2) buys 1200 at 30.
    chain.ok(&key("sun"), order(&chain, "sun", i, "sell", 1_000, 10));
    chain.ok(&key("shop"), order(&chain, "shop", i, "sell", 600, 20));
    chain.ok(&key("home"), order(&chain, "home", i, "buy", 1_200, 30));
    // Holds: home's most cost, the sellers' collateral at the imbalance price.
    assert_eq!(balance(&chain, addr("home")), 1_000_000 - 36);
    assert_eq!(balance(&chain, addr("sun")), 1_000_000 - 40);
    let gate = i * INTERVAL_MS - 300_000;
    until(&mut chain, gate);
    let c = chain.value(MODULE, &["clearing", &i.to_string()]);
    // The same result as the pure clearing.
    let expected = clearing::clear(
        &[
            clearing::Order {
                id: 1,
                feeder: 1,
                side: clearing::Side::Sell,
                qty: 1_000,
                price: 10,
            },
            clearing::Order {
                id: 2,
                feeder: 2,
                side: clearing::Side::Sell,
                qty: 600,
                price: 20,
            },
            clearing::Order {
                id: 3,
                feeder: 2,
                side: clearing::Side::Buy,
                qty: 1_200,
                price: 30,
            },
        ],
        &[
            clearing::Limit {
                feeder: 1,
                max_export_wh: 500,
                max_import_wh: 1_000_000,
            },
            clearing::Limit {
                feeder: 2,
                max_export_wh: 1_000_000,
                max_import_wh: 1_000_000,
            },
        ],
    );
    assert_eq!(c["price"], json!(expected.hub_price));
    assert_eq!(c["volume_wh"], 1_100);
    assert_eq!(c["zones"][0]["binding"], "export");
    assert_eq!(c["zones"][0]["net_export_wh"], 500);
    assert_eq!(c["zones"][0]["price"], 10);
    let hub = c["price"].as_u64().unwrap();
    assert_eq!(c["zones"][1]["price"], hub);
    assert_eq!(c["unmatched_bid_wh"], 100);
    assert_eq!(c["unmatched_ask_wh"], 500);
    // Orders after the gate are refused, as is cancelling.
    chain.fails(
        &key("poor"),
        order(&chain, "poor", i, "buy", 10, 30),
        ErrorCode::GateClosed,
    );
    let cancel = call(&chain, json!({"call": "cancel", "interval": i, "order": 1}));
    chain.fails(&key("sun"), cancel, ErrorCode::GateClosed);
    // Home paid 1100 Wh at the hub price (rounded up); the rest of its hold came back.
    let home_cost = (1_100 * hub).div_ceil(1000);
    assert_eq!(balance(&chain, addr("home")), 1_000_000 - home_cost);
    let pos = chain.value(
        MODULE,
        &["position", &i.to_string(), &meter_id("sun").to_hex()],
    );
    assert_eq!(pos["traded_wh"], 500);
    assert_eq!(pos["price"], 10);

    // Readings: sun delivers 400 of its 500 (short 100), shop 600, home takes 1000 of 1100.
    let settle = call(&chain, json!({"call": "settle", "interval": i}));
    chain.fails(&key("poor"), settle.clone(), ErrorCode::InvalidState);
    until(&mut chain, (i + 1) * INTERVAL_MS);
    chain.ok(&key("grid"), readings(&chain, "sun", i, &[(0, 400)]));
    chain.ok(&key("shop"), readings(&chain, "shop", i, &[(50, 650)]));
    chain.fails(&key("poor"), settle.clone(), ErrorCode::InvalidState);
    chain.ok(&key("home"), readings(&chain, "home", i, &[(1_000, 0)]));
    let fund_call = call(&chain, json!({"call": "fund", "amount": 1_000}));
    chain.ok(&key("grid"), fund_call);
    let sun_before = balance(&chain, addr("sun"));
    chain.ok(&key("poor"), settle.clone());
    chain.fails(&key("poor"), settle, ErrorCode::InvalidState);
    let s = chain.value(
        MODULE,
        &["statement", &i.to_string(), &meter_id("sun").to_hex()],
    );
    assert_eq!(s["shortfall_wh"], 100);
    assert_eq!(s["imbalance_charge"], 4);
    // Proceeds 500 Wh × 10 = 5, collateral 20 back, minus the charge.
    assert_eq!(s["paid_out"], 5 + 20 - 4);
    assert_eq!(balance(&chain, addr("sun")), sun_before + 21);
    let h = chain.value(
        MODULE,
        &["statement", &i.to_string(), &meter_id("home").to_hex()],
    );
    assert_eq!(h["surplus_wh"], 100);
    assert_eq!(h["feed_in_credit"], 0); // 100 Wh × 5 / 1000 rounds down to nothing
    let shop = chain.value(
        MODULE,
        &["statement", &i.to_string(), &meter_id("shop").to_hex()],
    );
    assert_eq!(shop["shortfall_wh"], 0);
    // The market's account holds exactly the balancing fund once everything settled.
    let fund = chain.value(MODULE, &["balancing", ASSET]).as_u64().unwrap();
    assert_eq!(balance(&chain, urbis_assets::module_account(MODULE)), fund);
    assert!(fund >= 1_000 + 4);
    let listed = chain.list(MODULE, &["clearings"], 10, None).unwrap();
    assert_eq!(listed.items.len(), 1);
}

#[test]
fn without_readings_the_job_settles_a_sellers_whole_shortfall() {
    let mut chain = city();
    market(&mut chain);
    let i = interval_of(now(&chain), INTERVAL_MS) + 2;
    chain.ok(&key("shop"), order(&chain, "shop", i, "sell", 1_000, 20));
    chain.ok(&key("home"), order(&chain, "home", i, "buy", 1_000, 20));
    until(&mut chain, i * INTERVAL_MS - 300_000);
    let c = chain.value(MODULE, &["clearing", &i.to_string()]);
    assert_eq!(
        (c["price"].as_u64(), c["volume_wh"].as_u64()),
        (Some(20), Some(1_000))
    );
    // The reading window closes an hour after the interval; the job settles.
    until(&mut chain, (i + 1) * INTERVAL_MS + 3_600_000);
    let s = chain.value(
        MODULE,
        &["statement", &i.to_string(), &meter_id("shop").to_hex()],
    );
    assert_eq!(s["reading"], serde_json::Value::Null);
    assert_eq!(s["shortfall_wh"], 1_000);
    assert_eq!(s["imbalance_charge"], 40);
    assert_eq!(s["paid_out"], 20);
    // A late reading is refused.
    chain.fails(
        &key("shop"),
        readings(&chain, "shop", i, &[(0, 1_000)]),
        ErrorCode::Expired,
    );
    let book = chain.value(MODULE, &["book", &i.to_string()]);
    assert_eq!(book["status"], "settled");
}

#[test]
fn bad_orders_and_readings_get_named_errors_and_change_nothing() {
    let mut chain = city();
    market(&mut chain);
    let i = interval_of(now(&chain), INTERVAL_MS) + 2;
    // Not the meter's account; unknown meter; zero and oversized values; too far ahead.
    chain.fails(
        &key("home"),
        order(&chain, "sun", i, "sell", 100, 10),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("sun"),
        order(&chain, "nobody", i, "sell", 100, 10),
        ErrorCode::NotFound,
    );
    chain.fails(
        &key("sun"),
        order(&chain, "sun", i, "sell", 0, 10),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("sun"),
        order(&chain, "sun", i, "sell", 10, 0),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("sun"),
        order(&chain, "sun", i, "sell", 10, crate::MAX_PRICE + 1),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("sun"),
        order(&chain, "sun", i + 500, "sell", 10, 5),
        ErrorCode::InvalidArgument,
    );
    // Capacity: 6000 W export is 1500 Wh per interval, across all of a meter's asks.
    chain.ok(&key("sun"), order(&chain, "sun", i, "sell", 1_000, 10));
    chain.fails(
        &key("sun"),
        order(&chain, "sun", i, "sell", 501, 12),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("sun"),
        order(&chain, "sun", i, "buy", 10, 12),
        ErrorCode::InvalidState,
    );
    // Funds: poor holds nothing.
    chain.fails(
        &key("poor"),
        order(&chain, "poor", i, "buy", 100, 30),
        ErrorCode::InsufficientBalance,
    );
    // The gate: an interval starting in under five minutes.
    let soon = interval_of(now(&chain), INTERVAL_MS) + 1;
    until(&mut chain, soon * INTERVAL_MS - 200_000);
    chain.fails(
        &key("home"),
        order(&chain, "home", soon, "buy", 10, 30),
        ErrorCode::GateClosed,
    );
    // Cancel before the gate gives the hold back.
    let before = balance(&chain, addr("sun"));
    let cancel = call(&chain, json!({"call": "cancel", "interval": i, "order": 1}));
    chain.fails(&key("home"), cancel.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("sun"), cancel.clone());
    chain.fails(&key("sun"), cancel, ErrorCode::NotFound);
    assert_eq!(balance(&chain, addr("sun")), before + 40);

    // Readings: the interval must be over, signed by the device, once, within capacity.
    until(&mut chain, (i + 1) * INTERVAL_MS);
    let past = interval_of(now(&chain), INTERVAL_MS) - 1;
    chain.fails(
        &key("sun"),
        readings(&chain, "sun", past + 5, &[(1, 1)]),
        ErrorCode::NotYetValid,
    );
    chain.fails(
        &key("sun"),
        readings(&chain, "nobody", past, &[(1, 1)]),
        ErrorCode::NotFound,
    );
    let mut forged = readings(&chain, "sun", past, &[(1, 1)]);
    let other = readings(&chain, "sun", past, &[(1, 2)]);
    forged.data = {
        // The same call with another value: the signature no longer matches.
        let mut json = chain.runtime.describe_call(MODULE, &forged.data).unwrap();
        json["values"][0]["export_wh"] = json!(9);
        chain.runtime.call_from_json(MODULE, &json).unwrap().data
    };
    chain.fails(&key("sun"), forged, ErrorCode::BadSignature);
    chain.fails(
        &key("sun"),
        readings(&chain, "sun", past, &[(9_000, 0)]),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&key("sun"), other);
    chain.fails(
        &key("sun"),
        readings(&chain, "sun", past, &[(1, 2)]),
        ErrorCode::AlreadyExists,
    );
    // A correction by the operator only, with a reason; the signed value stays on record.
    let fix = call(
        &chain,
        json!({"call": "correct", "meter": meter_id("sun"), "interval": past,
               "value": {"import_wh": 1, "export_wh": 3}, "reason_hash": Hash([9; 32])}),
    );
    chain.fails(&key("sun"), fix.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("grid"), fix);
    let r = chain.value(
        MODULE,
        &["reading", &meter_id("sun").to_hex(), &past.to_string()],
    );
    assert_eq!(r["value"]["export_wh"], 3);
    assert_eq!(r["correction"]["original"]["export_wh"], 2);
    // A revoked meter reports and trades no more.
    let revoke = call(
        &chain,
        json!({"call": "revoke_meter", "meter": meter_id("sun"), "reason_hash": Hash([1; 32])}),
    );
    chain.ok(&key("grid"), revoke.clone());
    chain.fails(&key("grid"), revoke, ErrorCode::Revoked);
    chain.fails(
        &key("sun"),
        readings(&chain, "sun", past - 1, &[(1, 1)]),
        ErrorCode::Revoked,
    );
    chain.fails(
        &key("sun"),
        order(&chain, "sun", i + 1, "sell", 10, 5),
        ErrorCode::Revoked,
    );
}

#[test]
fn consuming_below_the_baseline_earns_saving_tokens() {
    let mut chain = city();
    market(&mut chain);
    let first = interval_of(now(&chain), INTERVAL_MS);
    // Last week 1000 Wh, this week 600 Wh: 400 Wh saved at 10 tokens per kWh.
    until(&mut chain, (first + 1) * INTERVAL_MS);
    chain.ok(&key("home"), readings(&chain, "home", first, &[(1_000, 0)]));
    until(&mut chain, (first + WEEK + 1) * INTERVAL_MS);
    let r = chain.ok(
        &key("home"),
        readings(&chain, "home", first + WEEK, &[(600, 0)]),
    );
    let saving = r
        .events
        .iter()
        .find(|e| e.kind == "saving")
        .expect("a saving event");
    assert_eq!(saving.attr("tokens"), Some("4"));
    let holdings = chain.value(
        urbis_rewards::MODULE,
        &["balance", &addr("home").to_string()],
    );
    assert_eq!(holdings["by_program"]["1"], 4);
    // No baseline, no reward; consuming more, no reward.
    let r = chain.ok(
        &key("shop"),
        readings(&chain, "shop", first + WEEK, &[(600, 0)]),
    );
    assert!(r.events.iter().all(|e| e.kind != "saving"));
}

#[test]
fn a_standing_order_places_one_order_per_interval_and_fails_whole() {
    let mut chain = city();
    market(&mut chain);
    let i = interval_of(now(&chain), INTERVAL_MS) + 2;
    let schedule = |chain: &TestChain, q: serde_json::Value| {
        call(
            chain,
            json!({"call": "schedule", "meter": meter_id("sun"), "first_interval": i,
                   "side": "sell", "quantities": q, "price": 12}),
        )
    };
    chain.fails(
        &key("sun"),
        schedule(&chain, json!([0, 0])),
        ErrorCode::InvalidArgument,
    );
    // One quantity over the meter's 1500 Wh: nothing is placed.
    chain.fails(
        &key("sun"),
        schedule(&chain, json!([100, 1_600])),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("home"),
        schedule(&chain, json!([100])),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("sun"), schedule(&chain, json!([100, 0, 300])));
    let at = |k: u64| {
        chain
            .list(MODULE, &["orders", &(i + k).to_string()], 10, None)
            .unwrap()
    };
    assert_eq!(at(0).items.len(), 1);
    assert_eq!(at(1).items.len(), 0);
    assert_eq!(at(2).items[0]["qty_wh"], 300);
    assert_eq!(balance(&chain, addr("sun")), 1_000_000 - 4 - 12);
}
