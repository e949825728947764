//! Waste through the `urbis` binary on a dev chain (the README's walkthrough): a district's
//! glass from two smart bins, where citizens' deposits earn rewards within their weekly cap,
//! through a transfer station (a weight jump flagged against the collector) to a recycler;
//! refusals for an unregistered device, an unlicensed receiver, a receipt beyond the hard
//! limit, parts exceeding the whole and a second fate; the district's recycling rate proven;
//! the custody trace checked offline (and a tampered one refused); where a citizen's deposits
//! ended up.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Cli, TestNode, run_cli};
use serde_json::{Value, json};

#[test]
fn glass_goes_from_the_bins_through_a_station_to_the_recycler() {
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
    let names = ["office", "glassco", "station", "recycler", "ana", "ben"];
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
    accounts.push(json!({"address": address["office"], "roles": ["department"]}));
    for n in ["glassco", "station", "recycler", "ana", "ben"] {
        accounts.push(json!({"address": address[n], "roles": ["citizen"]}));
    }
    // Recycling rewards: at most 30 tokens per citizen per week.
    genesis["modules"]["rewards"] = json!({"programs": [{"name": "Recycle glass",
        "category": "recycling", "budget": 1_000_000, "cap_per_period": 30,
        "period_ms": 7 * 86_400_000u64, "transferable": false}]});
    std::fs::write(&genesis_path, serde_json::to_vec_pretty(&genesis).unwrap()).unwrap();
    let node = TestNode::start_in(data_dir.clone());
    let cli = Cli {
        node: &node,
        dir: w,
    };
    let ok = |args: &[&str]| cli.ok(args);
    let fails = |args: &[&str], code: &str| cli.fails(args, code);
    let query = |args: &[&str]| -> Value { cli.json(args) };
    let tokens = |who: &str| -> u64 {
        query(&[
            "query",
            "rewards",
            &format!("balance/{}", address[who].as_str().unwrap()),
        ])["value"]["total"]
            .as_u64()
            .unwrap_or(0)
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
        r#"{"call":"set_awarder","program":1,"module":"waste","allowed":true}"#,
    ]);

    // ---- The waste office: tolerances, the reward, actors, devices.
    ok(&[
        "waste",
        "tolerance",
        "--from",
        "office",
        "--stream",
        "glass",
        "--soft-bps",
        "200",
        "--hard-bps",
        "800",
        "--moisture-bps",
        "100",
        "--hop-deadline-h",
        "48",
    ]);
    ok(&[
        "waste",
        "reward",
        "--from",
        "office",
        "--program",
        "1",
        "--grams-per-token",
        "100",
    ]);
    for (who, kind) in [
        ("glassco", "collector"),
        ("station", "transfer_station"),
        ("recycler", "recycler"),
    ] {
        ok(&[
            "waste",
            "actor",
            "register",
            "--from",
            "office",
            "--account",
            who,
            "--kind",
            kind,
            "--name",
            who,
            "--licence",
            "glass",
        ]);
    }
    fails(
        &[
            "waste",
            "actor",
            "register",
            "--from",
            "ana",
            "--account",
            "ana",
            "--kind",
            "recycler",
            "--name",
            "me",
            "--licence",
            "glass",
        ],
        "unauthorized",
    );
    for (d, kind, op) in [
        ("bin-1", "bin", "glassco"),
        ("bin-2", "bin", "glassco"),
        ("bridge-st", "weighbridge", "station"),
        ("bridge-rc", "weighbridge", "recycler"),
    ] {
        ok(&[
            "waste",
            "device",
            "register",
            "--from",
            "office",
            "--device",
            d,
            "--kind",
            kind,
            "--operator",
            op,
            "--district",
            "north",
            "--stream",
            "glass",
        ]);
    }
    assert_eq!(
        query(&["waste", "device", "list"])
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // ---- Deposits: 1 token per 100 g, Ana's weekly cap of 30 stops her at 30.
    let deposit = |bin: &str, who: &str, grams: &str| {
        ok(&[
            "waste",
            "deposit",
            "--from",
            bin,
            "--device",
            bin,
            "--citizen",
            who,
            "--grams",
            grams,
        ]);
    };
    deposit("bin-1", "ana", "1200");
    deposit("bin-2", "ben", "800");
    deposit("bin-1", "ana", "2500");
    assert_eq!(tokens("ana"), 30);
    assert_eq!(tokens("ben"), 8);
    json_of(&["keys", "new", "stray-bin"]);
    fails(
        &[
            "waste",
            "deposit",
            "--from",
            "ana",
            "--device",
            "stray-bin",
            "--citizen",
            "ana",
            "--grams",
            "500",
        ],
        "not_found",
    );
    // A replayed weighing (the bin's counter already used).
    fails(
        &[
            "waste",
            "deposit",
            "--from",
            "bin-1",
            "--device",
            "bin-1",
            "--citizen",
            "ana",
            "--grams",
            "100",
            "--seq",
            "1",
        ],
        "already_exists",
    );

    // ---- Collection: both bins' fills (3,700 g + 800 g) into batch 1.
    ok(&[
        "waste", "collect", "--from", "glassco", "--bin", "bin-1", "--bin", "bin-2",
    ]);
    let b1 = query(&["waste", "trace", "1"]);
    assert_eq!(b1["batches"][0]["record"]["grams"], 4_500, "{b1}");

    // ---- To the transfer station.
    fails(
        &[
            "waste",
            "handover",
            "--from",
            "ana",
            "--batch",
            "1",
            "--bridge",
            "bridge-st",
            "--grams",
            "4500",
            "--giver",
            "glassco",
        ],
        "unauthorized",
    );
    fails(
        &[
            "waste",
            "handover",
            "--from",
            "station",
            "--batch",
            "1",
            "--bridge",
            "bridge-st",
            "--grams",
            "4900",
            "--giver",
            "glassco",
        ],
        "mass_balance",
    );
    // 4,300 g weighed of 4,500 g sent: beyond 2% + 1% moisture, flagged against the collector.
    ok(&[
        "waste",
        "handover",
        "--from",
        "station",
        "--batch",
        "1",
        "--bridge",
        "bridge-st",
        "--grams",
        "4300",
        "--giver",
        "glassco",
    ]);
    let flags = query(&["waste", "flags", "glassco"]);
    assert_eq!(flags["flags"].as_array().unwrap().len(), 1, "{flags}");
    assert_eq!(flags["flags"][0]["kind"], "weight_jump");
    assert_eq!(flags["flags"][0]["grams"], 200);
    assert_eq!(
        query(&["waste", "flags", "station"])["flags"],
        json!([]),
        "nothing against the station"
    );

    // ---- Sorted into two parts; one goes on to the recycler with the station's consent.
    fails(
        &[
            "waste",
            "split",
            "--from",
            "station",
            "--batch",
            "1",
            "--parts",
            "3000,1500",
        ],
        "invalid_argument",
    );
    ok(&[
        "waste",
        "split",
        "--from",
        "station",
        "--batch",
        "1",
        "--parts",
        "3000,1300",
    ]);
    let consent = query(&[
        "waste", "consent", "--from", "station", "--batch", "2", "--to", "recycler",
    ]);
    ok(&[
        "waste",
        "handover",
        "--from",
        "recycler",
        "--batch",
        "2",
        "--bridge",
        "bridge-rc",
        "--grams",
        "2990",
        "--giver-key",
        consent["giver_key"].as_str().unwrap(),
        "--giver-signature",
        consent["giver_signature"].as_str().unwrap(),
    ]);
    ok(&[
        "waste",
        "fate",
        "--from",
        "recycler",
        "--batch",
        "2",
        "--kind",
        "recycled",
        "--material",
        "cullet",
        "--output-grams",
        "2900",
    ]);
    fails(
        &[
            "waste",
            "fate",
            "--from",
            "recycler",
            "--batch",
            "2",
            "--kind",
            "recycled",
            "--material",
            "cullet",
            "--output-grams",
            "2900",
        ],
        "invalid_state",
    );

    // ---- The books: the station received 4,300 g, sent 3,000 g, holds 1,300 g.
    let bal = query(&["waste", "balance", "station"]);
    assert_eq!(bal["balance"]["received_grams"], 4_300, "{bal}");
    assert_eq!(bal["balance"]["sent_grams"], 3_000);
    assert_eq!(bal["balance"]["stock_grams"], 1_300);

    // ---- The district's rate, proven: 4,500 g collected, 2,990 g recycled (66.44%).
    let rates = query(&["waste", "rates", "--district", "north"]);
    assert_eq!(rates["verified"], true);
    let glass = &rates["streams"][0];
    assert_eq!(glass["stream"], "glass", "{rates}");
    assert_eq!(glass["collected_grams"], 4_500);
    assert_eq!(glass["recycled_grams"], 2_990);
    assert_eq!(glass["recycling_rate_bps"], 6_644);

    // ---- The trace of the recycled part: from the bins, through both hops, to its fate.
    let bundle = w.join("trace.json");
    let t = query(&["waste", "trace", "2", "--out", bundle.to_str().unwrap()]);
    assert_eq!(t["valid"], true);
    let relations: Vec<(u64, String)> = t["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["record"]["id"].as_u64().unwrap(),
                b["relation"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        relations,
        vec![(1, "ancestor".to_string()), (2, "this".to_string())]
    );
    let steps = t["steps"].to_string();
    assert!(steps.contains("2 bins of glass collected"), "{steps}");
    assert!(
        steps.contains("4500 g sent, 4300 g weighed at receipt"),
        "{steps}"
    );
    assert!(steps.contains("recycled by"), "{steps}");
    let genesis_file = data_dir.join("genesis.json");
    let offline_ok = |args: &[&str]| -> (bool, String, String) { run_cli(offline, w, args) };
    let r = offline_ok(&[
        "--output",
        "json",
        "waste",
        "verify-trace",
        bundle.to_str().unwrap(),
        "--genesis",
        genesis_file.to_str().unwrap(),
    ]);
    assert!(r.0, "{}", r.2);
    // A tampered receipt weight is refused.
    let mut tampered: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    for rec in tampered["records"].as_array_mut().unwrap() {
        if rec["value"]["id"] == 2 {
            rec["value"]["hops"][0]["received_grams"] = json!(3_000);
        }
    }
    let bad = w.join("tampered.json");
    std::fs::write(&bad, tampered.to_string()).unwrap();
    let r = offline_ok(&[
        "waste",
        "verify-trace",
        bad.to_str().unwrap(),
        "--genesis",
        genesis_file.to_str().unwrap(),
    ]);
    assert!(!r.0 && r.2.contains("invalid_proof"), "{} {}", r.1, r.2);
    // Leaving the ancestor out is refused too.
    let mut partial: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    partial["records"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["value"]["id"] == 2);
    std::fs::write(&bad, partial.to_string()).unwrap();
    let r = offline_ok(&[
        "waste",
        "verify-trace",
        bad.to_str().unwrap(),
        "--genesis",
        genesis_file.to_str().unwrap(),
    ]);
    assert!(!r.0 && r.2.contains("invalid_proof"), "{} {}", r.1, r.2);

    // ---- Where Ana's glass went: batch 1, partly recycled, partly still at the station.
    let mine = query(&["waste", "deposits", "ana"]);
    let ds = mine["deposits"].as_array().unwrap();
    assert_eq!(ds.len(), 2, "{mine}");
    for d in ds {
        assert_eq!(d["batch"], 1);
        assert_eq!(d["ended"][0]["batch"], 2);
        assert_eq!(d["ended"][0]["fate"]["kind"], "recycled");
        assert_eq!(d["ended"][0]["fate"]["material"], "cullet");
        assert_eq!(d["in_custody"][0]["batch"], 3);
    }

    // ---- The portal shows the district's flows.
    let page = common::page(&node, "/waste");
    assert!(
        page.contains("north") && page.contains("glass") && page.contains("66.44 %"),
        "{page}"
    );
    // Batch 1 went into batches 2 and 3 (the split); batch 2's page shows its recycling.
    let page = common::page(&node, "/waste/batches/1");
    assert!(
        page.contains("href=\"/waste/batches/2\"") && page.contains("Custody"),
        "{page}"
    );
    let page = common::page(&node, "/search?q=batch%202");
    assert!(
        page.contains("Waste batch 2") && page.contains("cullet"),
        "{page}"
    );
}
