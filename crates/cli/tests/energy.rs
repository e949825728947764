//! A day of a small neighbourhood through the `urbis` binary, on a dev chain whose day passes
//! in 48 seconds (intervals of 500 ms, set at genesis): 20 meters on 3 feeders, eight rooftops
//! on feeder 1 whose export limit binds at midday; standing orders for the day, clearing at
//! every gate, signed readings in hourly-like batches (one rooftop under-delivers), settlement
//! by the scheduler, statements proven against the genesis, and saving rewards for the
//! households that used less in the afternoon than in the morning.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Cli, TestNode, run_cli, wait_until};
use serde_json::{Value, json};

const LEN_MS: u64 = 500;
const DAY: u64 = 96;
const ROOFTOPS: usize = 8;
const HOMES: usize = 12;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_neighbourhood_trades_a_day_of_energy_within_its_feeder_limit() {
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
    // Keys first (offline): the operator, each meter's trading account and device.
    let roofs: Vec<String> = (1..=ROOFTOPS).map(|i| format!("roof{i}")).collect();
    let homes: Vec<String> = (1..=HOMES).map(|i| format!("home{i}")).collect();
    let all: Vec<&String> = roofs.iter().chain(homes.iter()).collect();
    let mut address = std::collections::BTreeMap::new();
    for name in std::iter::once(&"grid".to_string()).chain(all.iter().copied()) {
        address.insert(
            name.clone(),
            json_of(&["keys", "new", name])["address"].clone(),
        );
    }
    for name in &all {
        json_of(&["keys", "new", &format!("{name}-device")]);
    }
    // The genesis: the grid operator, citizens' trading accounts funded in EURc, a saving
    // program, and 500 ms intervals.
    let data_dir = w.join("dev");
    let (_, admin, _) = urbis_node::dev::prepare(&data_dir).unwrap();
    let genesis_path = data_dir.join("genesis.json");
    let mut genesis: Value =
        serde_json::from_slice(&std::fs::read(&genesis_path).unwrap()).unwrap();
    let accounts = genesis["modules"]["accounts"]["accounts"]
        .as_array_mut()
        .unwrap();
    accounts.push(json!({"address": address["grid"], "roles": ["grid_operator"]}));
    for name in &all {
        accounts.push(json!({"address": address[*name], "roles": ["citizen"]}));
    }
    let supply: Vec<Value> = address.values().map(|a| json!([a, 100_000])).collect();
    genesis["modules"]["assets"] = json!({"assets": [{"symbol": "EURc", "name": "Euro cents",
        "decimals": 2, "issuer": admin.address(), "supply": supply}]});
    genesis["modules"]["rewards"] = json!({"programs": [{"name": "Energy saving",
        "category": "energy_saving", "budget": 10_000_000, "cap_per_period": 1_000_000,
        "period_ms": 86_400_000, "transferable": false}]});
    genesis["modules"]["energy"] = json!({"interval_ms": LEN_MS});
    std::fs::write(&genesis_path, serde_json::to_vec_pretty(&genesis).unwrap()).unwrap();
    let node = TestNode::start_in(data_dir);
    let cli = Cli {
        node: &node,
        dir: w,
    };
    let ok = |args: &[&str]| cli.ok(args);
    let fails = |args: &[&str], code: &str| cli.fails(args, code);
    let query = |args: &[&str]| -> Value { cli.json(args) };
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
        r#"{"call":"set_awarder","program":1,"module":"energy","allowed":true}"#,
    ]);
    // The market: no gate closure before an interval (it is half a second long), readings
    // until 30 s after it; saving = the same interval 48 intervals (half a day) earlier.
    ok(&[
        "energy",
        "configure",
        "--from",
        "grid",
        "--asset",
        "EURc",
        "--gate-closure-s",
        "0",
        "--settle-delay-s",
        "30",
        "--imbalance-price",
        "40",
        "--feed-in-price",
        "8",
        "--tariff-price",
        "25",
        "--reward-program",
        "1",
        "--reward-per-kwh",
        "100",
        "--baseline-periods",
        "1",
        "--baseline-lag",
        "48",
    ]);
    fails(
        &[
            "energy",
            "configure",
            "--from",
            "roof1",
            "--asset",
            "EURc",
            "--imbalance-price",
            "40",
            "--feed-in-price",
            "8",
            "--tariff-price",
            "25",
        ],
        "unauthorized",
    );
    for (f, export) in [("1", "3000"), ("2", "100000"), ("3", "100000")] {
        ok(&[
            "energy",
            "feeder",
            "--from",
            "grid",
            "--feeder",
            f,
            "--name",
            &format!("F{f}"),
            "--max-export-wh",
            export,
            "--max-import-wh",
            "100000",
        ]);
    }
    ok(&["energy", "fund", "--from", "grid", "--amount", "5000"]);
    let mut meter = std::collections::BTreeMap::new();
    for (k, name) in all.iter().enumerate() {
        let feeder = if k < ROOFTOPS {
            "1"
        } else if k < ROOFTOPS + 6 {
            "2"
        } else {
            "3"
        };
        let out = ok(&[
            "energy",
            "meter",
            "register",
            "--from",
            "grid",
            "--serial",
            &format!("SN-{name}"),
            "--owner",
            name,
            "--account",
            name,
            "--device",
            &format!("{name}-device"),
            "--feeder",
            feeder,
            "--max-import-w",
            "4000",
            "--max-export-w",
            "4000",
            "--out",
            w.join(format!("{name}.meter.json")).to_str().unwrap(),
        ]);
        let id = out
            .lines()
            .find_map(|l| l.strip_prefix("meter "))
            .unwrap()
            .trim()
            .to_string();
        meter.insert(name.to_string(), id);
    }
    // The owner's file holds the salt that opens the commitment; the chain holds no address
    // of the owner.
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("roof1.meter.json")).unwrap())
            .unwrap();
    let on_chain = query(&["energy", "meter", "show", &meter["roof1"]]);
    assert_eq!(on_chain["owner_commitment"], file["owner_commitment"]);
    assert_eq!(on_chain["feeder"], 1);
    // The owner proves the meter is theirs by showing the file; another owner does not fit.
    ok(&[
        "energy",
        "meter",
        "owner",
        "--meter",
        &meter["roof1"],
        "--file",
        w.join("roof1.meter.json").to_str().unwrap(),
    ]);
    fails(
        &[
            "energy",
            "meter",
            "owner",
            "--meter",
            &meter["roof1"],
            "--owner",
            "roof2",
            "--salt",
            file["salt"].as_str().unwrap(),
        ],
        "invalid_proof",
    );

    // The day starts 60 intervals (30 s) from now. Rooftops sell 500 Wh at 10 in the middle
    // half of the day; homes buy 400 Wh at 30 all day.
    let day0 = (now_ms() + 30_000) / LEN_MS;
    let day0s = day0.to_string();
    let roof_wh: Vec<String> = (0..DAY)
        .map(|k| if (24..72).contains(&k) { "500" } else { "0" }.to_string())
        .collect();
    let home_wh: Vec<String> = (0..DAY).map(|_| "400".to_string()).collect();
    for name in &all {
        let is_roof = name.starts_with("roof");
        let (side, wh, price) = if is_roof {
            ("sell", roof_wh.join(","), "10")
        } else {
            ("buy", home_wh.join(","), "30")
        };
        ok(&[
            "energy",
            "schedule",
            "--from",
            name,
            "--meter",
            &meter[*name],
            "--side",
            side,
            "--first-interval",
            &day0s,
            "--wh",
            &wh,
            "--price",
            price,
        ]);
    }
    // Bad orders: over the meter's capacity (4000 W is 1000 Wh an interval); not the meter's
    // account.
    fails(
        &[
            "energy",
            "ask",
            "--from",
            "roof1",
            "--meter",
            &meter["roof1"],
            "--interval",
            &(day0 + 30).to_string(),
            "--wh",
            "501",
            "--price",
            "9",
        ],
        "invalid_argument",
    );
    fails(
        &[
            "energy",
            "bid",
            "--from",
            "home1",
            "--meter",
            &meter["roof1"],
            "--interval",
            &(day0 + 30).to_string(),
            "--wh",
            "1",
            "--price",
            "9",
        ],
        "unauthorized",
    );
    assert!(
        now_ms() < day0 * LEN_MS,
        "the orders took longer than the 30 s lead"
    );

    // Through the day: every 16 intervals, each meter signs and sends what it measured.
    // Rooftop 1 delivers only 300 Wh; homes use 400 Wh in the morning, 300 in the afternoon.
    let value = |name: &str, k: u64| -> String {
        if name.starts_with("roof") {
            let export = if !(24..72).contains(&k) {
                0
            } else if name == "roof1" {
                300
            } else {
                500
            };
            format!("20:{}", export + 20)
        } else if k < 48 {
            "400:0".to_string()
        } else {
            "300:0".to_string()
        }
    };
    let mut sent = 0u64;
    while sent < DAY {
        let upto = (sent + 16).min(DAY);
        wait_until(
            "the batch's intervals to end",
            Duration::from_secs(60),
            || now_ms() >= (day0 + upto) * LEN_MS + 100,
        );
        // The meters report independently (each from its own account), so at once.
        std::thread::scope(|scope| {
            for name in &all {
                let (meter, ok, value) = (&meter, &ok, &value);
                scope.spawn(move || {
                    let values: Vec<String> = (sent..upto).map(|k| value(name, k)).collect();
                    ok(&[
                        "energy",
                        "reading",
                        "submit",
                        "--from",
                        name,
                        "--meter",
                        &meter[*name],
                        "--device",
                        &format!("{name}-device"),
                        "--first-interval",
                        &(day0 + sent).to_string(),
                        "--values",
                        &values.join(","),
                    ]);
                });
            }
        });
        sent = upto;
    }
    // A duplicate reading, and one signed by another device.
    fails(
        &[
            "energy",
            "reading",
            "submit",
            "--from",
            "home1",
            "--meter",
            &meter["home1"],
            "--device",
            "home1-device",
            "--first-interval",
            &(day0 + DAY - 1).to_string(),
            "--values",
            "300:0",
        ],
        "already_exists",
    );
    fails(
        &[
            "energy",
            "reading",
            "submit",
            "--from",
            "home1",
            "--meter",
            &meter["home1"],
            "--device",
            "home2-device",
            "--first-interval",
            &(day0 + DAY).to_string(),
            "--values",
            "1:0",
        ],
        "bad_signature",
    );

    // Midday: feeder 1's limit binds; its zone clears at the rooftops' price, the rest at the
    // homes'. Night: nothing to buy from neighbours, so nothing trades.
    let noon = (day0 + 40).to_string();
    let c = query(&["energy", "clearing", &noon]);
    assert_eq!(c["volume_wh"], 3_000);
    let z1 = c["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["feeder"] == 1)
        .unwrap();
    assert_eq!(z1["binding"], "export");
    assert_eq!(z1["net_export_wh"], 3_000);
    assert_eq!(z1["price"], 10);
    assert_eq!(c["price"], 30);
    assert_eq!(c["unmatched_bid_wh"], 400 * HOMES as u64 - 3_000);
    let night = query(&["energy", "clearing", &day0s]);
    assert_eq!(night["volume_wh"], 0);
    assert_eq!(night["price"], Value::Null);
    let series = query(&["energy", "clearings", "--limit", "200"]);
    assert_eq!(series.as_array().unwrap().len(), DAY as usize);

    // Settlement by the scheduler 30 s after each interval.
    wait_until("the day to settle", Duration::from_secs(90), || {
        // The last interval with trades (the night's books settle at clearing: no trade).
        let b = query(&["energy", "orders", &(day0 + 71).to_string()]);
        b["book"]["status"] == "settled"
    });
    let s = query(&[
        "energy",
        "settlement",
        &noon,
        "--account",
        "roof1",
        "--genesis",
        node.genesis_path.to_str().unwrap(),
    ]);
    let st = &s[0]["statement"];
    assert!(s[0]["proven_at_height"].as_u64().unwrap() > 0);
    let sold = st["traded_wh"].as_u64().unwrap();
    assert_eq!(
        st["shortfall_wh"].as_u64().unwrap(),
        sold.saturating_sub(300)
    );
    assert_eq!(
        st["imbalance_charge"].as_u64().unwrap(),
        (st["shortfall_wh"].as_u64().unwrap() * 40).div_ceil(1000)
    );
    let h = query(&[
        "energy",
        "settlement",
        &noon,
        "--account",
        "home1",
        "--genesis",
        node.genesis_path.to_str().unwrap(),
    ]);
    assert_eq!(h[0]["statement"]["side"], "buy");
    // The market's account holds exactly the balancing fund once all is settled.
    let fund = query(&["query", "energy", "balancing/EURc"]);
    let pool = urbis_assets::module_account("energy").to_string();
    let held = query(&["query", "assets", &format!("balance/EURc/{pool}")]);
    assert_eq!(held["value"]["amount"], fund["value"]);
    // Homes used 100 Wh less per afternoon interval than in the morning: 10 tokens each time.
    let r = query(&[
        "query",
        "rewards",
        &format!("balance/{}", address["home1"].as_str().unwrap()),
    ]);
    assert_eq!(r["value"]["by_program"]["1"], 48 * 10);

    // The portal charts the market's clearings.
    let page = common::page(&node, "/energy");
    assert!(
        page.contains("chart-energy") && page.contains("/kWh"),
        "{page}"
    );
}
