//! The public ledger through the `urbis` binary: a department, a budget resolution and its
//! line, spending (an overspend refused), a tender with sealed bids (a reveal that does not
//! match refused) awarded to the lowest bid, the budget view, and decisions found by
//! department and by date.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Cli, TestNode};

#[test]
fn a_budget_is_spent_and_a_tender_awarded_on_the_ledger() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cli = Cli {
        node: &node,
        dir: d,
    };
    let run = |args: &[&str]| cli.run(args);
    let ok = |args: &[&str]| cli.ok(args);
    let last = |out: String| out.lines().last().unwrap().trim().to_string();
    cli.accounts(&[
        ("roads", "department"),
        ("acme", "merchant"),
        ("bolt", "merchant"),
        ("carol", "citizen"),
    ]);
    let doc = d.join("budget-2027.pdf");
    std::fs::write(&doc, "The council adopts the 2027 budget.\n").unwrap();
    let doc = doc.to_str().unwrap();
    ok(&[
        "gov",
        "department",
        "--from",
        "admin",
        "roads",
        "--name",
        "Roads and bridges",
    ]);
    ok(&["gov", "officer", "--from", "admin", "roads", "roads"]);
    let r = run(&["gov", "officer", "--from", "roads", "roads", "acme"]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    let budget = last(ok(&[
        "gov",
        "decide",
        "--from",
        "admin",
        "--kind",
        "resolution",
        "--department",
        "roads",
        "--category",
        "maintenance",
        "--title",
        "Budget 2027",
        "--document",
        doc,
    ]));
    ok(&[
        "gov",
        "appropriate",
        "--from",
        "admin",
        "--year",
        "2027",
        "--department",
        "roads",
        "--category",
        "maintenance",
        "--amount",
        "100000",
        "--decision",
        &budget,
    ]);
    let spend = |amount: &str| {
        run(&[
            "gov",
            "spend",
            "--from",
            "roads",
            "--year",
            "2027",
            "--department",
            "roads",
            "--category",
            "maintenance",
            "--amount",
            amount,
            "--invoice",
            doc,
            "--memo",
            "potholes",
        ])
    };
    assert!(spend("30000").0);
    let r = spend("70001");
    assert!(!r.0 && r.2.contains("over_budget"), "{}", r.2);

    let tender = last(ok(&[
        "gov",
        "tender",
        "open",
        "--from",
        "roads",
        "--department",
        "roads",
        "--category",
        "maintenance",
        "--year",
        "2027",
        "--title",
        "Resurfacing Elm Street",
        "--spec",
        doc,
        "--max-amount",
        "60000",
        "--bid-secs",
        "3",
        "--reveal-secs",
        "3",
    ]));
    let sealed = |who: &str| d.join(format!("{who}.bid")).to_str().unwrap().to_string();
    ok(&[
        "gov",
        "tender",
        "bid",
        "--from",
        "acme",
        &tender,
        "--amount",
        "55000",
        "--sealed",
        &sealed("acme"),
    ]);
    ok(&[
        "gov",
        "tender",
        "bid",
        "--from",
        "bolt",
        &tender,
        "--amount",
        "48000",
        "--sealed",
        &sealed("bolt"),
    ]);
    // A bid's amount is not on chain before the reveal.
    let shown = ok(&["gov", "tender", "show", &tender]);
    assert!(!shown.contains("48000"), "{shown}");
    std::thread::sleep(std::time::Duration::from_secs(4));
    // Acme tries to reveal Bolt's sealed amount: it does not open Acme's commitment.
    let r = run(&[
        "gov",
        "tender",
        "reveal",
        "--from",
        "acme",
        &tender,
        "--sealed",
        &sealed("bolt"),
    ]);
    assert!(!r.0 && r.2.contains("invalid_proof"), "{}", r.2);
    ok(&[
        "gov",
        "tender",
        "reveal",
        "--from",
        "acme",
        &tender,
        "--sealed",
        &sealed("acme"),
    ]);
    ok(&[
        "gov",
        "tender",
        "reveal",
        "--from",
        "bolt",
        &tender,
        "--sealed",
        &sealed("bolt"),
    ]);
    std::thread::sleep(std::time::Duration::from_secs(4));
    let r = run(&[
        "gov", "tender", "award", "--from", "roads", &tender, "--winner", "acme",
    ]);
    assert!(!r.0 && r.2.contains("invalid_argument"), "{}", r.2);
    ok(&[
        "gov", "tender", "award", "--from", "roads", &tender, "--winner", "bolt",
    ]);

    let lines: serde_json::Value =
        serde_json::from_str(&ok(&["--output", "json", "gov", "budget", "2027"])).unwrap();
    assert_eq!(lines[0]["spent"], 78_000);
    assert_eq!(lines[0]["remaining"], 22_000);
    let table = ok(&["gov", "budget", "2027", "--department", "roads"]);
    assert!(
        table.contains("maintenance") && table.contains("22000"),
        "{table}"
    );

    // Decisions by department, and by today's date: the budget and the award.
    // (The event index follows execution closely, not instantly.)
    let mut by_dept = serde_json::Value::Null;
    for _ in 0..50 {
        by_dept = serde_json::from_str(&ok(&[
            "--output",
            "json",
            "gov",
            "decisions",
            "--department",
            "roads",
        ]))
        .unwrap();
        if by_dept.as_array().unwrap().len() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let kinds: Vec<&str> = by_dept
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["resolution", "award"]);
    let today = by_dept[0]["date"].as_str().unwrap().to_string();
    let by_date = ok(&["gov", "decisions", "--date", &today]);
    assert!(by_date.contains("Budget 2027"), "{by_date}");
    // The council (roads, acme, bolt; 2 of 3; 2 s timelock) grants Alice a role.
    ok(&["keys", "new", "alice"]);
    ok(&[
        "gov",
        "council",
        "seat",
        "--from",
        "admin",
        "--member",
        "roads",
        "--member",
        "acme",
        "--member",
        "bolt",
        "--threshold",
        "2",
        "--timelock-secs",
        "2",
    ]);
    let proposal = last(ok(&[
        "gov",
        "council",
        "propose",
        "--from",
        "roads",
        "--account",
        "alice",
        "--role",
        "department",
        "--description",
        doc,
    ]));
    let r = run(&["gov", "council", "execute", "--from", "roads", &proposal]);
    assert!(!r.0 && r.2.contains("invalid_state"), "{}", r.2);
    ok(&["gov", "council", "approve", "--from", "acme", &proposal]);
    let r = run(&["gov", "council", "execute", "--from", "roads", &proposal]);
    assert!(!r.0 && r.2.contains("timelock"), "{}", r.2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    ok(&["gov", "council", "execute", "--from", "bolt", &proposal]);
    let account = ok(&["--output", "json", "query", "account", "alice"]);
    assert!(account.contains("department"), "{account}");
    // A module parameter by council decision: the land register's objection window.
    let proposal = last(ok(&[
        "gov",
        "council",
        "propose-parameter",
        "--from",
        "acme",
        "--module",
        "land",
        "--name",
        "objection_window_ms",
        "--value",
        "5000",
        "--description",
        doc,
    ]));
    ok(&["gov", "council", "approve", "--from", "bolt", &proposal]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    ok(&["gov", "council", "execute", "--from", "roads", &proposal]);
    let shown = ok(&["gov", "council", "show", &proposal]);
    assert!(shown.contains("\"executed\""), "{shown}");

    // A petition reaches its threshold; the council passes a resolution and answers it.
    let text = d.join("petition.txt");
    std::fs::write(&text, "Resurface Elm Street before winter.\n").unwrap();
    let petition = last(ok(&[
        "petition",
        "open",
        "--from",
        "carol",
        "--title",
        "Resurface Elm Street",
        "--text",
        text.to_str().unwrap(),
        "--threshold",
        "1",
        "--days",
        "30",
        "--answer-days",
        "30",
    ]));
    ok(&["petition", "sign", "--from", "carol", &petition]);
    let resolution = last(ok(&[
        "gov",
        "council",
        "propose-resolution",
        "--from",
        "acme",
        "--department",
        "roads",
        "--category",
        "maintenance",
        "--title",
        "Elm Street is resurfaced in 2027",
        "--document",
        text.to_str().unwrap(),
        "--description",
        doc,
    ]));
    let answer = last(ok(&[
        "gov",
        "council",
        "propose-answer",
        "--from",
        "acme",
        "--petition",
        &petition,
        "--answer",
        text.to_str().unwrap(),
        "--description",
        doc,
    ]));
    for p in [&resolution, &answer] {
        ok(&["gov", "council", "approve", "--from", "bolt", p]);
    }
    // Only the council answers through the governance module: a direct call of the
    // petitions module by a council member is not the council.
    let r = run(&[
        "petition",
        "answer",
        "--from",
        "acme",
        &petition,
        "--accepted",
        "--text",
        text.to_str().unwrap(),
    ]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    for p in [&resolution, &answer] {
        ok(&["gov", "council", "execute", "--from", "roads", p]);
    }
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["--output", "json", "petition", "show", &petition])).unwrap();
    assert_eq!(shown["status"], "answered", "{shown}");
    assert_eq!(shown["accepted"], true);
    let mut resolutions = String::new();
    for _ in 0..50 {
        resolutions = ok(&["gov", "decisions", "--category", "maintenance"]);
        if resolutions.contains("resurfaced") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(resolutions.contains("resurfaced"), "{resolutions}");

    // Every entry is provable.
    let proof = d.join("line.proof.json");
    ok(&[
        "query",
        "raw",
        "governance",
        "appropriation",
        "2027",
        "roads",
        "maintenance",
        "--prove",
        "--out",
        proof.to_str().unwrap(),
    ]);
    ok(&[
        "verify",
        proof.to_str().unwrap(),
        "--genesis",
        node.genesis_path.to_str().unwrap(),
    ]);
}
