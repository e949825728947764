//! A district's glass from the bins to the recycler, through the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value as Json, json};
use urbis_accounts::testkit::{TestChain, addr, key};
use urbis_core::{ErrorCode, Hash, SecretKey};

use crate::{
    DEPOSIT_TAG, HANDOVER_TAG, MODULE, WEIGHING_TAG, batch_subject, citizen_subject,
    deposit_message, fill_subject, handover_message, weighing_message,
};

fn month_of(ms: u64) -> u32 {
    urbis_runtime::kit::month_of_day(ms / 86_400_000)
}

fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("office"), "roles": ["department"] },
        { "address": addr("collector"), "roles": ["citizen"] },
        { "address": addr("station"), "roles": ["citizen"] },
        { "address": addr("recycler"), "roles": ["citizen"] },
        { "address": addr("rogue"), "roles": ["citizen"] },
        { "address": addr("ana"), "roles": ["citizen"] },
        { "address": addr("ben"), "roles": ["citizen"] },
    ]});
    // A weekly cap of 30 tokens per citizen.
    let rewards = json!({"programs": [{"name": "Recycle", "category": "recycling",
        "budget": 1_000_000, "cap_per_period": 30, "period_ms": 7 * 86_400_000u64, "transferable": false}]});
    let mut chain = TestChain::new(
        vec![
            urbis_accounts::module(),
            urbis_rewards::module(),
            crate::module(),
        ],
        &[
            (urbis_accounts::MODULE, accounts),
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

fn dev(name: &str) -> SecretKey {
    SecretKey::from_label(&format!("waste-device-{name}"))
}

fn weighing(d: &str, seq: u64, grams: u64, subject: Hash) -> Json {
    let k = dev(d);
    let sig = k.sign(
        WEIGHING_TAG,
        &weighing_message(&k.public_key(), seq, grams, &subject),
    );
    json!({"device": k.public_key(), "seq": seq, "grams": grams, "signature": sig})
}

fn setup(chain: &mut TestChain) {
    let far = u64::MAX;
    for (who, kind) in [
        ("collector", "collector"),
        ("station", "transfer_station"),
        ("recycler", "recycler"),
    ] {
        let c = call(
            chain,
            json!({"call": "register_actor", "account": addr(who), "kind": kind, "name": who,
                   "licences": [{"stream": "glass", "until_ms": far}]}),
        );
        chain.fails(&key("rogue"), c.clone(), ErrorCode::Unauthorized);
        chain.ok(&key("office"), c);
    }
    let c = call(
        chain,
        json!({"call": "register_actor", "account": addr("rogue"), "kind": "recycler", "name": "rogue",
               "licences": [{"stream": "paper", "until_ms": far}]}),
    );
    chain.ok(&key("office"), c);
    for (d, kind, op) in [
        ("bin1", "bin", "collector"),
        ("bin2", "bin", "collector"),
        ("bridge-s", "weighbridge", "station"),
        ("bridge-r", "weighbridge", "recycler"),
        ("bridge-x", "weighbridge", "rogue"),
    ] {
        let c = call(
            chain,
            json!({"call": "register_device", "key": dev(d).public_key(), "kind": kind,
                   "operator": addr(op), "district": "north", "stream": "glass"}),
        );
        chain.ok(&key("office"), c.clone());
        chain.fails(&key("office"), c, ErrorCode::AlreadyExists);
    }
    let r = call(
        chain,
        json!({"call": "set_reward", "program": 1, "grams_per_token": 100}),
    );
    chain.ok(&key("office"), r);
    let t = call(
        chain,
        json!({"call": "set_tolerance", "stream": "glass", "tolerance":
               {"soft_bps": 200, "hard_bps": 800, "moisture_bps": 100, "hop_deadline_ms": 86_400_000}}),
    );
    chain.ok(&key("office"), t);
}

fn deposit(chain: &TestChain, who: &str, bin: &str, seq: u64, grams: u64) -> urbis_core::Call {
    let citizen = key(who);
    let w = weighing(bin, seq, grams, citizen_subject(&citizen.address()));
    let sig = citizen.sign(
        DEPOSIT_TAG,
        &deposit_message(&dev(bin).public_key(), seq, grams),
    );
    call(
        chain,
        json!({"call": "deposit", "citizen": citizen.public_key(), "weighing": w, "citizen_signature": sig}),
    )
}

fn handover(
    chain: &TestChain,
    batch: u64,
    from: &str,
    to: &str,
    grams: u64,
    bridge: &str,
    seq: u64,
) -> urbis_core::Call {
    let sent: u64 = chain.value(MODULE, &["batch", &batch.to_string()])["grams"]
        .as_u64()
        .unwrap_or(0);
    let sig = key(from).sign(HANDOVER_TAG, &handover_message(batch, &addr(to), sent));
    call(
        chain,
        json!({"call": "handover", "batch": batch, "giver_key": key(from).public_key(),
               "giver_signature": sig, "weighing": weighing(bridge, seq, grams, batch_subject(batch))}),
    )
}

fn tokens(chain: &TestChain, who: &str) -> u64 {
    chain.value(urbis_rewards::MODULE, &["balance", &addr(who).to_string()])["total"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn glass_goes_from_bins_through_a_station_to_the_recycler() {
    let mut chain = city();
    setup(&mut chain);
    // Deposits: 1,200 g earn 12 tokens; Ana's weekly cap (30) stops her at 30.
    chain.ok(&key("ana"), deposit(&chain, "ana", "bin1", 1, 1_200));
    chain.ok(&key("ben"), deposit(&chain, "ben", "bin2", 1, 800));
    chain.ok(&key("ana"), deposit(&chain, "ana", "bin1", 2, 2_500));
    assert_eq!(tokens(&chain, "ana"), 30);
    assert_eq!(tokens(&chain, "ben"), 8);
    // A replayed weighing, a forged citizen signature, an unregistered device.
    chain.fails(
        &key("ana"),
        deposit(&chain, "ana", "bin1", 2, 2_500),
        ErrorCode::AlreadyExists,
    );
    let stray = weighing("stray", 1, 500, citizen_subject(&addr("ana")));
    let sig = key("ana").sign(
        DEPOSIT_TAG,
        &deposit_message(&dev("stray").public_key(), 1, 500),
    );
    let c = call(
        &chain,
        json!({"call": "deposit", "citizen": key("ana").public_key(), "weighing": stray, "citizen_signature": sig}),
    );
    chain.fails(&key("ana"), c, ErrorCode::NotFound);
    let other_sig = key("ben").sign(
        DEPOSIT_TAG,
        &deposit_message(&dev("bin1").public_key(), 3, 500),
    );
    let c = call(
        &chain,
        json!({"call": "deposit", "citizen": key("ana").public_key(),
               "weighing": weighing("bin1", 3, 500, citizen_subject(&addr("ana"))),
               "citizen_signature": other_sig}),
    );
    chain.fails(&key("ana"), c, ErrorCode::BadSignature);

    // Collection of both bins: one batch of 4,500 g from district north.
    let w1 = weighing(
        "bin1",
        10,
        3_700,
        fill_subject(&dev("bin1").public_key(), 0),
    );
    let w2 = weighing("bin2", 10, 800, fill_subject(&dev("bin2").public_key(), 0));
    let c = call(
        &chain,
        json!({"call": "collect", "weighings": [w1, w2], "manifest": null}),
    );
    chain.fails(&key("station"), c.clone(), ErrorCode::Unauthorized);
    chain.ok(&key("collector"), c);
    let b = chain.value(MODULE, &["batch", "1"]);
    assert_eq!(b["grams"], 4_500);
    let fill = chain.value(
        MODULE,
        &["fill", &crate::keys::hex(&dev("bin1").public_key()), "0"],
    );
    assert_eq!(fill, 1, "Ana's deposits can be followed to batch 1");

    // To the station: unlicensed receivers are refused; a receipt over the hard limit too.
    chain.fails(
        &key("rogue"),
        handover(&chain, 1, "collector", "rogue", 4_500, "bridge-x", 1),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("station"),
        handover(&chain, 1, "collector", "station", 4_900, "bridge-s", 1),
        ErrorCode::MassBalance,
    );
    // 4,300 g received of 4,500 sent: a loss beyond 3% is flagged against the collector.
    chain.ok(
        &key("station"),
        handover(&chain, 1, "collector", "station", 4_300, "bridge-s", 1),
    );
    let month = month_of(chain.next_env().timestamp_ms);
    let flags = chain
        .list(
            MODULE,
            &[
                "flag_list",
                &addr("collector").to_string(),
                &month.to_string(),
            ],
            10,
            None,
        )
        .unwrap();
    assert_eq!(flags.items.len(), 1);
    assert_eq!(flags.items[0]["kind"], "weight_jump");
    assert_eq!(flags.items[0]["grams"], 200);

    // Split: parts may not exceed the whole; then one part goes on to the recycler.
    let split = |chain: &TestChain, parts: Json| {
        call(chain, json!({"call": "split", "batch": 1, "parts": parts}))
    };
    chain.fails(
        &key("station"),
        split(&chain, json!([3_000, 1_500])),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("collector"),
        split(&chain, json!([3_000, 1_300])),
        ErrorCode::Unauthorized,
    );
    chain.ok(&key("station"), split(&chain, json!([3_000, 1_300])));
    chain.ok(
        &key("recycler"),
        handover(&chain, 2, "station", "recycler", 2_990, "bridge-r", 1),
    );
    let fate = |chain: &TestChain, out: u64| {
        call(
            chain,
            json!({"call": "fate", "batch": 2, "kind": "recycled", "material": "cullet", "output_grams": out}),
        )
    };
    chain.fails(
        &key("recycler"),
        fate(&chain, 3_500),
        ErrorCode::MassBalance,
    );
    chain.ok(&key("recycler"), fate(&chain, 2_900));
    chain.fails(
        &key("recycler"),
        fate(&chain, 2_900),
        ErrorCode::InvalidState,
    );

    // The rate of the district's glass this month: 4,500 g collected, 2,990 g recycled.
    let rate = chain.value(MODULE, &["rate", "north", "glass", &month.to_string()]);
    assert_eq!(rate["collected_grams"], 4_500);
    assert_eq!(rate["recycled_grams"], 2_990);
    assert_eq!(rate["recycling_rate_bps"], 6_644);
    let trace = chain.value(MODULE, &["batch", "2"]);
    assert_eq!(trace["parents"], json!([1]));
    assert_eq!(trace["fate"]["kind"], "recycled");
    // The other part misses its deadline: flagged against the station.
    chain.skip_blocks(86_400);
    chain.block(&[]);
    let flags = chain
        .list(
            MODULE,
            &[
                "flag_list",
                &addr("station").to_string(),
                &month_of(chain.next_env().timestamp_ms).to_string(),
            ],
            10,
            None,
        )
        .unwrap();
    assert!(
        flags
            .items
            .iter()
            .any(|f| f["kind"] == "missing_hop" && f["batch"] == 3),
        "{flags:?}"
    );
}

fn register_device(chain: &mut TestChain, d: &str, kind: &str, op: &str, stream: &str) {
    let c = call(
        chain,
        json!({"call": "register_device", "key": dev(d).public_key(), "kind": kind,
               "operator": addr(op), "district": "south", "stream": stream}),
    );
    chain.ok(&key("office"), c);
}

fn collect(
    chain: &TestChain,
    bins: &[(&str, u64, u64)],
    manifest: Option<Hash>,
) -> urbis_core::Call {
    let ws: Vec<Json> = bins
        .iter()
        .map(|(b, seq, g)| {
            let epoch: u64 = chain
                .value(MODULE, &["device", &crate::keys::hex(&dev(b).public_key())])["epoch"]
                .as_u64()
                .unwrap();
            weighing(b, *seq, *g, fill_subject(&dev(b).public_key(), epoch))
        })
        .collect();
    call(
        chain,
        json!({"call": "collect", "weighings": ws, "manifest": manifest}),
    )
}

/// Every call's refusals, each a named error that leaves state as it was (`fails` checks the
/// state), and the month's balance that opens with the stock carried over.
#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let mut chain = city();
    setup(&mut chain);
    let office = key("office");
    // Configuration.
    for (c, code) in [
        (
            json!({"call": "set_tolerance", "stream": "glass", "tolerance":
                   {"soft_bps": 900, "hard_bps": 800, "moisture_bps": 100, "hop_deadline_ms": 86_400_000}}),
            ErrorCode::InvalidArgument,
        ),
        (
            json!({"call": "set_tolerance", "stream": "glass", "tolerance":
                   {"soft_bps": 100, "hard_bps": 800, "moisture_bps": 100, "hop_deadline_ms": 1}}),
            ErrorCode::InvalidArgument,
        ),
        (
            json!({"call": "set_reward", "program": 1, "grams_per_token": 0}),
            ErrorCode::InvalidArgument,
        ),
        (
            json!({"call": "register_actor", "account": addr("ana"), "kind": "collector", "name": "",
                   "licences": [{"stream": "glass", "until_ms": 1}]}),
            ErrorCode::InvalidArgument,
        ),
        (
            json!({"call": "register_actor", "account": addr("ana"), "kind": "collector", "name": "x",
                   "licences": [{"stream": "glass", "until_ms": 1}, {"stream": "glass", "until_ms": 2}]}),
            ErrorCode::InvalidArgument,
        ),
        (
            json!({"call": "register_device", "key": dev("b9").public_key(), "kind": "bin",
                   "operator": addr("collector"), "district": "no rth", "stream": "glass"}),
            ErrorCode::InvalidArgument,
        ),
        (
            json!({"call": "register_device", "key": dev("b9").public_key(), "kind": "bin",
                   "operator": addr("ana"), "district": "north", "stream": "glass"}),
            ErrorCode::NotFound,
        ),
        (
            json!({"call": "revoke_device", "key": dev("b9").public_key()}),
            ErrorCode::NotFound,
        ),
    ] {
        let c = call(&chain, c);
        chain.fails(&office, c, code);
    }
    let c = call(
        &chain,
        json!({"call": "set_reward", "program": 1, "grams_per_token": 100}),
    );
    chain.fails(&key("ana"), c, ErrorCode::Unauthorized);

    // Devices: a weighbridge does not weigh deposits; zero grams; a revoked bin.
    let c = deposit(&chain, "ana", "bridge-s", 1, 500);
    chain.fails(&key("ana"), c, ErrorCode::InvalidArgument);
    let c = deposit(&chain, "ana", "bin1", 1, 0);
    chain.fails(&key("ana"), c, ErrorCode::InvalidArgument);
    register_device(&mut chain, "old", "bin", "collector", "glass");
    let c = call(
        &chain,
        json!({"call": "revoke_device", "key": dev("old").public_key()}),
    );
    chain.ok(&office, c.clone());
    chain.fails(&office, c, ErrorCode::Revoked);
    let c = deposit(&chain, "ana", "old", 1, 500);
    chain.fails(&key("ana"), c, ErrorCode::Revoked);

    // Collections.
    chain.ok(&key("ana"), deposit(&chain, "ana", "bin1", 1, 1_000));
    register_device(&mut chain, "paper", "bin", "collector", "paper");
    register_device(&mut chain, "haz", "bin", "collector", "hazardous");
    register_device(&mut chain, "other", "bin", "station", "glass");
    let c = call(
        &chain,
        json!({"call": "collect", "weighings": [], "manifest": null}),
    );
    chain.fails(&key("collector"), c, ErrorCode::InvalidArgument);
    for (bins, code) in [
        (vec![("other", 1, 100)], ErrorCode::InvalidArgument),
        (
            vec![("bin1", 5, 100), ("paper", 1, 100)],
            ErrorCode::InvalidArgument,
        ),
        (
            vec![("bin1", 5, 100), ("bin1", 6, 100)],
            ErrorCode::InvalidArgument,
        ),
        // The collector holds no licence for paper or hazardous waste.
        (vec![("paper", 1, 100)], ErrorCode::Unauthorized),
        (vec![("bin1", 5, 100_000_001)], ErrorCode::InvalidArgument),
    ] {
        let c = collect(&chain, &bins, None);
        chain.fails(&key("collector"), c, code);
    }
    let c = call(
        &chain,
        json!({"call": "register_actor", "account": addr("collector"), "kind": "collector",
               "name": "collector", "licences": [{"stream": "glass", "until_ms": u64::MAX},
               {"stream": "hazardous", "until_ms": u64::MAX}]}),
    );
    chain.ok(&office, c);
    let c = collect(&chain, &[("haz", 1, 2_000)], None);
    chain.fails(&key("collector"), c, ErrorCode::InvalidArgument);
    let c = collect(&chain, &[("haz", 1, 2_000)], Some(Hash([7; 32])));
    chain.ok(&key("collector"), c);
    assert_eq!(
        chain.value(MODULE, &["batch", "1"])["manifest"],
        json!(Hash([7; 32]))
    );
    chain.ok(
        &key("collector"),
        collect(&chain, &[("bin1", 5, 1_000)], None),
    );

    // Handovers of batch 2 (glass, 1,000 g, held by the collector).
    chain.fails(
        &key("station"),
        handover(&chain, 9, "collector", "station", 1_000, "bridge-s", 1),
        ErrorCode::NotFound,
    );
    chain.fails(
        &key("collector"),
        handover(&chain, 2, "collector", "collector", 1_000, "bridge-s", 1),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("station"),
        handover(&chain, 2, "collector", "station", 1_000, "bridge-r", 1),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("station"),
        handover(&chain, 2, "ben", "station", 1_000, "bridge-s", 1),
        ErrorCode::BadSignature,
    );
    // The holder signed for another receiver.
    let sig = key("collector").sign(HANDOVER_TAG, &handover_message(2, &addr("recycler"), 1_000));
    let c = call(
        &chain,
        json!({"call": "handover", "batch": 2, "giver_key": key("collector").public_key(),
               "giver_signature": sig, "weighing": weighing("bridge-s", 1, 1_000, batch_subject(2))}),
    );
    chain.fails(&key("station"), c, ErrorCode::BadSignature);
    // The weighbridge weighed another batch.
    let sent_sig =
        key("collector").sign(HANDOVER_TAG, &handover_message(2, &addr("station"), 1_000));
    let c = call(
        &chain,
        json!({"call": "handover", "batch": 2, "giver_key": key("collector").public_key(),
               "giver_signature": sent_sig, "weighing": weighing("bridge-s", 1, 1_000, batch_subject(1))}),
    );
    chain.fails(&key("station"), c, ErrorCode::BadSignature);
    chain.ok(
        &key("station"),
        handover(&chain, 2, "collector", "station", 1_010, "bridge-s", 1),
    );
    // Replayed, the handover finds the batch already with the station.
    chain.fails(
        &key("station"),
        handover(&chain, 2, "collector", "station", 1_000, "bridge-s", 2),
        ErrorCode::InvalidArgument,
    );

    // Splits and merges at the station.
    for (parts, code) in [
        (json!([1_010]), ErrorCode::InvalidArgument),
        (json!([1_010, 0]), ErrorCode::InvalidArgument),
        (json!([600, 411]), ErrorCode::InvalidArgument),
    ] {
        let c = call(&chain, json!({"call": "split", "batch": 2, "parts": parts}));
        chain.fails(&key("station"), c, code);
    }
    let c = call(
        &chain,
        json!({"call": "split", "batch": 2, "parts": [600, 400]}),
    );
    chain.ok(&key("station"), c);
    let c = call(
        &chain,
        json!({"call": "split", "batch": 2, "parts": [500, 400]}),
    );
    chain.fails(&key("station"), c, ErrorCode::InvalidState);
    for (ids, who, code) in [
        (json!([3]), "station", ErrorCode::InvalidArgument),
        (json!([3, 3]), "station", ErrorCode::InvalidArgument),
        (json!([3, 1]), "station", ErrorCode::Unauthorized),
        (json!([3, 4]), "collector", ErrorCode::Unauthorized),
        (json!([3, 99]), "station", ErrorCode::NotFound),
    ] {
        let c = call(&chain, json!({"call": "merge", "batches": ids}));
        chain.fails(&key(who), c, code);
    }
    let c = call(&chain, json!({"call": "merge", "batches": [3, 4]}));
    chain.ok(&key("station"), c);
    assert_eq!(chain.value(MODULE, &["batch", "5"])["grams"], 1_000);

    // The station's books: 1,010 g in, 10 g lost in the split, 1,000 g in stock; this month
    // opened with nothing.
    let month = month_of(chain.next_env().timestamp_ms).to_string();
    let bal = chain.value(
        MODULE,
        &["month_balance", &addr("station").to_string(), &month],
    );
    assert_eq!(bal["received_grams"], 1_010);
    assert_eq!(bal["lost_grams"], 10);
    assert_eq!(bal["stock_grams"], 1_000);
    assert_eq!(bal["opening_grams"], 0);

    // Fates: only the holder, a facility of the matching kind, a material for recycling.
    chain.ok(
        &key("recycler"),
        handover(&chain, 5, "station", "recycler", 1_000, "bridge-r", 1),
    );
    let fate = |chain: &TestChain, kind: &str, material: Json| {
        call(
            chain,
            json!({"call": "fate", "batch": 5, "kind": kind, "material": material, "output_grams": 900}),
        )
    };
    chain.fails(
        &key("station"),
        fate(&chain, "recycled", json!("cullet")),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("recycler"),
        fate(&chain, "landfill", Json::Null),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("recycler"),
        fate(&chain, "recycled", Json::Null),
        ErrorCode::InvalidArgument,
    );
    let c = call(
        &chain,
        json!({"call": "fate", "batch": 77, "kind": "recycled", "material": "cullet", "output_grams": 1}),
    );
    chain.fails(&key("recycler"), c, ErrorCode::NotFound);
    chain.ok(&key("recycler"), fate(&chain, "recycled", json!("cullet")));
    // A merged batch is not active any more.
    chain.fails(
        &key("recycler"),
        handover(&chain, 3, "station", "recycler", 600, "bridge-r", 2),
        ErrorCode::InvalidState,
    );
}
