//! A petition through the `urbis` binary: opened by a resident, signed once each (a second
//! signature refused), qualified at its threshold, answered by the council's clerk, its count
//! and answer proven; a poll answered once per resident, its counts proven; a notice published
//! for a district and acknowledged once. (The council's own answer, by proposal, is in
//! `governance.rs`.)
#![allow(clippy::unwrap_used)]

mod common;

use common::{Cli, TestNode};

#[test]
fn a_petition_is_signed_qualifies_and_is_answered() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        node: &node,
        dir: dir.path(),
    };
    let run = |args: &[&str]| cli.run(args);
    let ok = |args: &[&str]| cli.ok(args);
    cli.accounts(&[
        ("alice", "citizen"),
        ("bob", "citizen"),
        ("carol", "citizen"),
    ]);
    let text = dir.path().join("petition.txt");
    std::fs::write(&text, "We ask for a pedestrian crossing at Elm Street.\n").unwrap();
    let out = ok(&[
        "petition",
        "open",
        "--from",
        "alice",
        "--title",
        "A crossing at Elm Street",
        "--text",
        text.to_str().unwrap(),
        "--threshold",
        "2",
        "--days",
        "30",
        "--answer-days",
        "60",
    ]);
    let id = out.lines().last().unwrap().trim().to_string();
    assert_eq!(id.len(), 64, "{out}");
    ok(&["petition", "sign", "--from", "bob", &id]);
    let r = run(&["petition", "sign", "--from", "bob", &id]);
    assert!(!r.0 && r.2.contains("already_exists"), "{}", r.2);
    let answer = dir.path().join("answer.txt");
    std::fs::write(&answer, "The council will build it in 2027.\n").unwrap();
    let r = run(&[
        "petition",
        "answer",
        "--from",
        "admin",
        &id,
        "--accepted",
        "--text",
        answer.to_str().unwrap(),
    ]);
    assert!(!r.0 && r.2.contains("invalid_state"), "{}", r.2);
    ok(&["petition", "sign", "--from", "carol", &id]);
    let shown: serde_json::Value = serde_json::from_str(&ok(&["petition", "show", &id])).unwrap();
    assert_eq!(shown["status"], "qualified");
    assert_eq!(shown["signatures"], 2);
    ok(&[
        "petition",
        "answer",
        "--from",
        "admin",
        &id,
        "--accepted",
        "--text",
        answer.to_str().unwrap(),
    ]);
    let shown: serde_json::Value = serde_json::from_str(&ok(&["petition", "show", &id])).unwrap();
    assert_eq!(shown["status"], "answered");
    assert_eq!(shown["accepted"], true);
    // The count and the answer are provable: the answer with its proof checks offline.
    let proof = dir.path().join("petition.proof.json");
    let answer = ok(&[
        "--output",
        "json",
        "query",
        "petitions",
        "petition",
        &id,
        "--prove",
    ]);
    std::fs::write(&proof, answer).unwrap();
    let checked = ok(&[
        "verify",
        proof.to_str().unwrap(),
        "--genesis",
        node.genesis_path.to_str().unwrap(),
    ]);
    assert!(
        checked.contains("\"status\":\"answered\"") && checked.contains("\"signatures\":2"),
        "{checked}"
    );
    let r = run(&["petition", "show", &"ab".repeat(32)]);
    assert!(!r.0 && r.2.contains("not_found"), "{}", r.2);
}

#[test]
fn a_poll_takes_one_response_per_resident() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        node: &node,
        dir: dir.path(),
    };
    let run = |args: &[&str]| cli.run(args);
    let ok = |args: &[&str]| cli.ok(args);
    cli.accounts(&[("parks", "department"), ("alice", "citizen")]);
    let out = ok(&[
        "poll",
        "create",
        "--from",
        "parks",
        "--question",
        "Which trees for Elm Park?",
        "--option",
        "Oaks",
        "--option",
        "Limes",
        "--days",
        "7",
    ]);
    let id = out.lines().last().unwrap().trim().to_string();
    let comment = dir.path().join("comment.txt");
    std::fs::write(&comment, "Limes smell nice in June.\n").unwrap();
    ok(&[
        "poll",
        "respond",
        "--from",
        "alice",
        &id,
        "--option",
        "1",
        "--comment",
        comment.to_str().unwrap(),
    ]);
    let r = run(&["poll", "respond", "--from", "alice", &id, "--option", "0"]);
    assert!(!r.0 && r.2.contains("already_exists"), "{}", r.2);
    let shown: serde_json::Value = serde_json::from_str(&ok(&["poll", "show", &id])).unwrap();
    assert_eq!(shown["counts"], serde_json::json!([0, 1]));
    let proof = dir.path().join("poll.proof.json");
    let answer = ok(&["--output", "json", "query", "polls", "poll", &id, "--prove"]);
    std::fs::write(&proof, answer).unwrap();
    let checked = ok(&[
        "verify",
        proof.to_str().unwrap(),
        "--genesis",
        node.genesis_path.to_str().unwrap(),
    ]);
    assert!(checked.contains("\"counts\":[0,1]"), "{checked}");
}

#[test]
fn a_notice_is_published_for_a_district_and_acknowledged_once() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        node: &node,
        dir: dir.path(),
    };
    let run = |args: &[&str]| cli.run(args);
    let ok = |args: &[&str]| cli.ok(args);
    cli.accounts(&[("water", "department"), ("alice", "citizen")]);
    let text = dir.path().join("notice.txt");
    std::fs::write(&text, "Water cut on Elm Street, 3 March, 9:00-12:00.\n").unwrap();
    let out = ok(&[
        "notice",
        "publish",
        "--from",
        "water",
        "--title",
        "Water cut on Elm Street",
        "--text",
        text.to_str().unwrap(),
        "--category",
        "water",
        "--district",
        "elm-north",
        "--days",
        "7",
        "--ack",
    ]);
    let id = out.lines().last().unwrap().trim().to_string();
    ok(&["notice", "acknowledge", "--from", "alice", &id]);
    let r = run(&["notice", "acknowledge", "--from", "alice", &id]);
    assert!(!r.0 && r.2.contains("already_exists"), "{}", r.2);
    let shown: serde_json::Value = serde_json::from_str(&ok(&["notice", "show", &id])).unwrap();
    assert_eq!(shown["meta"]["district"], "elm-north");
    assert_eq!(shown["meta"]["acknowledgements"], 1);
    // Residents of the district find it in the event history (once the indexer has it).
    common::wait_until(
        "the notice in the district's events",
        std::time::Duration::from_secs(30),
        || {
            reqwest::blocking::get(format!(
                "{}/v1/events/search?module=notices&object=elm-north",
                node.url
            ))
            .ok()
            .and_then(|r| r.json::<serde_json::Value>().ok())
            .is_some_and(|v| v["events"].to_string().contains(&id))
        },
    );
}
