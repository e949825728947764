//! Mobility through the `urbis` binary on a dev chain: a day of transit taps cleared between
//! two operators with rewards paid (the fares' time zone is chosen so that the local day ends
//! within a minute and a half of the test's start), a bus's position proven at a time and checked offline
//! against the genesis (and a tampered proof refused), a gap in its anchoring flagged, and a
//! ride from request to rating next to one refunded by its timeout.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Cli, TestNode, run_cli, wait_until};
use serde_json::{Value, json};

const DAY_MS: u64 = 86_400_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A UTC offset (minutes) that puts the end of the local day 30 to 90 s from now.
fn offset_ending_soon(now: u64) -> i64 {
    let target = DAY_MS - 30_000;
    let diff = (target as i64 - (now % DAY_MS) as i64).rem_euclid(DAY_MS as i64);
    let diff = if diff > (DAY_MS / 2) as i64 {
        diff - DAY_MS as i64
    } else {
        diff
    };
    diff.div_euclid(60_000)
}

fn write_points(path: &std::path::Path, t0: u64, minutes: u64) {
    let mut csv = String::from("t_ms,lat,lon,speed_cm_s\n");
    for s in 0..minutes * 60 {
        csv.push_str(&format!(
            "{},48.85{:05},2.35{:05},850\n",
            t0 + s * 1000,
            s,
            2 * s
        ));
    }
    std::fs::write(path, csv).unwrap();
}

#[test]
fn transit_is_cleared_positions_are_proven_and_rides_are_paid() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let offline = "http://127.0.0.1:1";
    let json_of = |args: &[&str]| -> Value {
        let mut full = vec!["--output", "json"];
        full.extend_from_slice(args);
        let r = run_cli(offline, w, &full);
        assert!(r.0, "{args:?}: {}", r.2);
        serde_json::from_str(&r.1).unwrap()
    };
    let names = [
        "dept", "mob", "busco", "tramco", "dan", "pia", "eve", "val-a", "val-b", "val-x",
    ];
    let mut address = std::collections::BTreeMap::new();
    for n in names {
        address.insert(n, json_of(&["keys", "new", n])["address"].clone());
    }
    let data_dir = w.join("dev");
    let (_, admin, _) = urbis_node::dev::prepare(&data_dir).unwrap();
    let genesis_path = data_dir.join("genesis.json");
    let mut genesis: Value =
        serde_json::from_slice(&std::fs::read(&genesis_path).unwrap()).unwrap();
    let accounts = genesis["modules"]["accounts"]["accounts"]
        .as_array_mut()
        .unwrap();
    for (n, role) in [
        ("dept", "department"),
        ("mob", "mobility_authority"),
        ("busco", "transport_operator"),
        ("tramco", "transport_operator"),
        ("dan", "citizen"),
        ("pia", "citizen"),
        ("eve", "citizen"),
    ] {
        accounts.push(json!({"address": address[n], "roles": [role]}));
    }
    let supply: Vec<Value> = ["pia", "eve", "dan"]
        .iter()
        .map(|n| json!([address[n], 100_000]))
        .collect();
    genesis["modules"]["assets"] = json!({"assets": [{"symbol": "EURc", "name": "Euro cents",
        "decimals": 2, "issuer": admin.address(), "supply": supply}]});
    genesis["modules"]["rewards"] = json!({"programs": [{"name": "Ride the bus",
        "category": "public_transport", "budget": 1_000_000, "cap_per_period": 10_000,
        "period_ms": 86_400_000, "transferable": false}]});
    std::fs::write(&genesis_path, serde_json::to_vec_pretty(&genesis).unwrap()).unwrap();
    let node = TestNode::start_in(data_dir);
    let cli = Cli {
        node: &node,
        dir: w,
    };
    let ok = |args: &[&str]| cli.ok(args);
    let fails = |args: &[&str], code: &str| cli.fails(args, code);
    let query = |args: &[&str]| -> Value { cli.json(args) };
    let balance = |who: &str| -> u64 {
        query(&[
            "query",
            "assets",
            &format!("balance/EURc/{}", address[who].as_str().unwrap()),
        ])["value"]["amount"]
            .as_u64()
            .unwrap()
    };
    ok(&[
        "keys",
        "import",
        "admin",
        "--seed",
        &hex::encode(admin.seed()),
    ]);
    ok(&[
        "tx",
        "call",
        "--from",
        "admin",
        "rewards",
        r#"{"call":"set_awarder","program":1,"module":"mobility","allowed":true}"#,
    ]);

    // ---- Public transport: fares whose local day ends in a minute or two.
    let offset = offset_ending_soon(now_ms());
    let fares = json!({"asset": "EURc", "zone_fares": [200, 300, 400], "bands": [],
        "utc_offset_min": offset, "daily_cap": 700, "monthly_cap": 10_000,
        "missing_tap_out_fare": 400, "max_journey_ms": 10_800_000, "max_tap_delay_ms": 5_000,
        "reward": {"program": 1, "journeys": 2, "tokens": 25}});
    let fares_file = w.join("fares.json");
    std::fs::write(&fares_file, fares.to_string()).unwrap();
    let fares_path = fares_file.to_str().unwrap();
    fails(
        &[
            "mobility", "transit", "fares", "set", "--from", "busco", "--file", fares_path,
        ],
        "unauthorized",
    );
    ok(&[
        "mobility", "transit", "fares", "set", "--from", "mob", "--file", fares_path,
    ]);
    let day = (now_ms() as i64 + offset * 60_000) as u64 / DAY_MS;
    for (z, op) in [("1", "busco"), ("2", "tramco")] {
        ok(&[
            "mobility",
            "transit",
            "zone",
            "--from",
            "mob",
            "--zone",
            z,
            "--name",
            &format!("Zone {z}"),
            "--operator",
            op,
        ]);
    }
    for (dev, op, stop, line, zone) in [
        ("val-a", "busco", "10", "1", "1"),
        ("val-b", "tramco", "20", "2", "2"),
    ] {
        ok(&[
            "mobility",
            "transit",
            "validator",
            "register",
            "--from",
            op,
            "--device",
            dev,
            "--stop",
            stop,
            "--line",
            line,
            "--zone",
            zone,
        ]);
    }
    for c in ["card1", "card2"] {
        ok(&["mobility", "transit", "card", "new", c]);
        ok(&[
            "mobility", "transit", "card", "top-up", "--from", "pia", "--card", c, "--amount",
            "3000",
        ]);
    }
    ok(&[
        "mobility", "transit", "card", "link", "--from", "pia", "--card", "card1", "--to", "pia",
    ]);
    let tap = |dev: &str, card: &str, kind: &str| {
        ok(&[
            "mobility", "transit", "tap", "--from", dev, "--card", card, "--kind", kind,
        ]);
    };
    fails(
        &[
            "mobility", "transit", "tap", "--from", "val-x", "--card", "card1", "--kind", "in",
        ],
        "unauthorized",
    );
    fails(
        &[
            "mobility", "transit", "tap", "--from", "val-a", "--card", "card1", "--kind", "out",
        ],
        "invalid_state",
    );
    let stale = (now_ms() - 60_000).to_string();
    fails(
        &[
            "mobility", "transit", "tap", "--from", "val-a", "--card", "card1", "--kind", "in",
            "--at", &stale,
        ],
        "expired",
    );
    // card1: zone 1 → 2 (300: 150 each), then within zone 2 (200 to the trams): two journeys
    // earn the reward. card2 taps in and never out.
    tap("val-a", "card1", "in");
    fails(
        &[
            "mobility", "transit", "tap", "--from", "val-a", "--card", "card1", "--kind", "in",
        ],
        "invalid_state",
    );
    tap("val-b", "card1", "out");
    tap("val-b", "card1", "in");
    tap("val-b", "card1", "out");
    tap("val-a", "card2", "in");
    let card1 = query(&["mobility", "transit", "card", "show", "card1"]);
    assert_eq!(card1["card"]["balance"], 2_500);
    assert_eq!(card1["last_journey"]["charged"], 200);
    let rewards = query(&[
        "query",
        "rewards",
        &format!("balance/{}", address["pia"].as_str().unwrap()),
    ]);
    assert_eq!(rewards["value"]["total"], 25, "{rewards}");
    let stats = query(&[
        "mobility",
        "transit",
        "stats",
        "--stop",
        "10",
        "--day",
        &day.to_string(),
    ]);
    assert_eq!(stats["tap_ins"], 2, "{stats}");

    // ---- A bus, its on-board unit's DID, telemetry anchored and a position proven.
    ok(&[
        "did",
        "create",
        "--from",
        "dept",
        "--name",
        "unit1",
        "--subject",
        "device",
        "--controller",
        "busco",
    ]);
    let salt = w.join("bus1.salt");
    let reg = |from: &str| {
        vec![
            "mobility".to_string(),
            "vehicle".into(),
            "register".into(),
            "--from".into(),
            from.into(),
            "--vin".into(),
            "VF1RFB00012345678".into(),
            "--salt-file".into(),
            salt.to_str().unwrap().into(),
            "--operator".into(),
            "busco".into(),
            "--class".into(),
            "bus".into(),
            "--unit".into(),
            "unit1".into(),
        ]
    };
    let eve_reg = reg("eve");
    fails(
        &eve_reg.iter().map(String::as_str).collect::<Vec<_>>(),
        "unauthorized",
    );
    let out = ok(&reg("busco").iter().map(String::as_str).collect::<Vec<_>>());
    let vehicle = out
        .lines()
        .find_map(|l| l.strip_prefix("vehicle "))
        .unwrap()
        .to_string();
    let t0 = now_ms() - 12 * 60_000;
    let batches = w.join("batches");
    let archive = w.join("archive");
    let record = |seq: u64, start: u64| {
        let csv = w.join(format!("points-{seq}.csv"));
        write_points(&csv, start, 1);
        ok(&[
            "mobility",
            "telemetry",
            "record",
            "--unit",
            "unit1",
            "--vehicle",
            &vehicle,
            "--seq",
            &seq.to_string(),
            "--points",
            csv.to_str().unwrap(),
            "--out",
            batches.to_str().unwrap(),
        ]);
    };
    for m in 0..3 {
        record(m + 1, t0 + m * 60_000);
    }
    let anchor = |from: &str| {
        let r = run_cli(
            &node.url,
            w,
            &[
                "mobility",
                "anchor",
                "--from",
                from,
                "--batches",
                batches.to_str().unwrap(),
                "--archive",
                archive.to_str().unwrap(),
            ],
        );
        (r.0, r.2)
    };
    let (done, err) = anchor("tramco");
    assert!(!done && err.contains("unauthorized"), "{err}");
    let (done, err) = anchor("busco");
    assert!(done, "{err}");
    // Five minutes later, one more minute: a gap.
    record(4, t0 + 8 * 60_000);
    let (done, err) = anchor("busco");
    assert!(done, "{err}");
    let gaps = query(&["mobility", "vehicle", "gaps", &vehicle]);
    assert_eq!(gaps.as_array().unwrap().len(), 1, "{gaps}");
    assert_eq!(gaps[0]["to_ms"], json!(t0 + 8 * 60_000));

    let at = t0 + 90_500;
    let bundle = w.join("position.json");
    let proven = query(&[
        "mobility",
        "prove-position",
        "--vehicle",
        &vehicle,
        "--at",
        &at.to_string(),
        "--archive",
        archive.to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(proven["position"]["t_ms"], json!(t0 + 90_000));
    assert_eq!(proven["position"]["lat_e7"], 488_500_030);
    let g = node.genesis_path.to_str().unwrap().to_string();
    let verdict = json_of(&[
        "mobility",
        "verify-position",
        bundle.to_str().unwrap(),
        "--genesis",
        &g,
    ]);
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["anchor"]["seq"], 1);
    // A moved fix, or a proof checked against another chain's genesis, is refused.
    let mut forged: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    forged["inclusion"]["batch"]["points"][30]["lat_e7"] = json!(488_600_000);
    forged["position"]["lat_e7"] = json!(488_600_000);
    let forged_path = w.join("forged.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let r = run_cli(
        offline,
        w,
        &[
            "mobility",
            "verify-position",
            forged_path.to_str().unwrap(),
            "--genesis",
            &g,
        ],
    );
    assert!(!r.0 && r.2.contains("invalid_proof"), "{}", r.2);
    let other = w.join("other-genesis");
    let (_, _, _) = urbis_node::dev::prepare(&other).unwrap();
    let r = run_cli(
        offline,
        w,
        &[
            "mobility",
            "verify-position",
            bundle.to_str().unwrap(),
            "--genesis",
            other.join("genesis.json").to_str().unwrap(),
        ],
    );
    assert!(!r.0 && r.2.contains("invalid_proof"), "{}", r.2);

    // ---- Ride-sharing: a licensed driver, a ride to its ratings, a request that times out.
    ok(&[
        "mobility",
        "configure",
        "--from",
        "mob",
        "--asset",
        "EURc",
        "--accept-timeout-s",
        "3",
        "--pickup-timeout-s",
        "3",
        "--completion-timeout-s",
        "3",
    ]);
    let issuer = ok(&["did", "create", "--from", "mob"])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    ok(&[
        "did",
        "accredit",
        "--from",
        "admin",
        "--issuer",
        &issuer,
        "--type",
        "urbis:driving-licence",
    ]);
    ok(&["did", "status-list", "--from", "mob", "--size", "1024"]);
    let driver = |from: &str| {
        run_cli(
            &node.url,
            w,
            &[
                "mobility",
                "ride",
                "driver",
                "--from",
                from,
                "--driver",
                "dan",
                "--issuer",
                &issuer,
                "--status-list",
                "1",
                "--status-idx",
                "7",
            ],
        )
    };
    assert!(driver("eve").2.contains("unauthorized"));
    let r = driver("mob");
    assert!(r.0, "{}", r.2);
    fails(
        &[
            "mobility", "ride", "offer", "--from", "eve", "--zone", "centre", "--seats", "2",
            "--fare", "900",
        ],
        "unauthorized",
    );
    ok(&[
        "mobility", "ride", "offer", "--from", "dan", "--zone", "centre", "--seats", "2", "--fare",
        "900",
    ]);
    let pia0 = balance("pia");
    ok(&[
        "mobility",
        "ride",
        "request",
        "--from",
        "pia",
        "1",
        "--pickup",
        "12 rue des Lilas",
    ]);
    assert_eq!(balance("pia"), pia0 - 900);
    ok(&["mobility", "ride", "accept", "--from", "dan", "1"]);
    fails(
        &["mobility", "ride", "accept", "--from", "dan", "1"],
        "invalid_state",
    );
    let code = ok(&["mobility", "ride", "code", "--from", "pia", "1"])
        .trim()
        .to_string();
    ok(&[
        "mobility", "ride", "pickup", "--from", "dan", "1", "--code", &code,
    ]);
    fails(
        &["mobility", "ride", "complete", "--from", "eve", "1"],
        "unauthorized",
    );
    let dan0 = balance("dan");
    ok(&["mobility", "ride", "complete", "--from", "pia", "1"]);
    ok(&["mobility", "ride", "complete", "--from", "dan", "1"]);
    assert_eq!(balance("dan"), dan0 + 900);
    ok(&[
        "mobility", "ride", "rate", "--from", "pia", "1", "--stars", "5",
    ]);
    fails(
        &[
            "mobility", "ride", "rate", "--from", "pia", "1", "--stars", "4",
        ],
        "already_exists",
    );
    ok(&[
        "mobility", "ride", "rate", "--from", "dan", "1", "--stars", "4",
    ]);
    let rep = query(&["mobility", "ride", "reputation", "dan"]);
    assert_eq!(rep["as_driver"]["completed"], 1);
    assert_eq!(rep["as_driver"]["average_centistars"], 500);
    // A request the driver never accepts is refunded when its timeout passes.
    let eve0 = balance("eve");
    ok(&[
        "mobility",
        "ride",
        "request",
        "--from",
        "eve",
        "1",
        "--pickup",
        "the station",
    ]);
    assert_eq!(balance("eve"), eve0 - 900);
    wait_until("the request times out", Duration::from_secs(30), || {
        query(&["mobility", "ride", "show", "2"])["state"] == "expired"
    });
    assert_eq!(balance("eve"), eve0);

    // ---- The transit day ends: the missing tap-out is charged, the operators are paid.
    let bus0 = balance("busco");
    let tram0 = balance("tramco");
    assert_eq!((bus0, tram0), (0, 0));
    wait_until(
        "the transit day is cleared",
        Duration::from_secs(240),
        || query(&["mobility", "transit", "clearing", &day.to_string()])["cleared_ms"].is_u64(),
    );
    let d = query(&["mobility", "transit", "clearing", &day.to_string()]);
    assert_eq!(d["journeys"], 3);
    assert_eq!(d["missing_tap_outs"], 1);
    assert_eq!(d["revenue"], 900);
    assert_eq!(balance("busco"), 150 + 400);
    assert_eq!(balance("tramco"), 150 + 200);
    let card2 = query(&["mobility", "transit", "card", "show", "card2"]);
    assert_eq!(card2["card"]["balance"], 2_600);
    assert!(card2["open_journey"].is_null());

    // The portal shows the day's journeys and fares.
    let page = common::page(&node, "/mobility");
    assert!(
        page.contains("chart-journeys") && page.contains(">900<"),
        "{page}"
    );
}
