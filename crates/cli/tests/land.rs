//! The land register through the `urbis` binary: a sale with a mortgage release stopped by an
//! objection the registrar upholds.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestNode, run_cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_through_the_cli_until_an_upheld_objection() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let ok = |args: &[&str]| {
        let r = run_cli(&node.url, dir.path(), args);
        assert!(r.0, "{args:?}: {} {}", r.1, r.2);
        r.1
    };
    let seed = hex::encode(node.admin.seed());
    ok(&["keys", "import", "admin", "--seed", &seed]);
    for (name, role) in [
        ("registrar", "land_registrar"),
        ("bank", "bank"),
        ("alice", "citizen"),
        ("carol", "citizen"),
        ("neighbour", "citizen"),
    ] {
        ok(&["keys", "new", name]);
        ok(&[
            "tx",
            "accounts",
            "grant-role",
            "--from",
            "admin",
            "--account",
            name,
            "--role",
            role,
        ]);
    }
    let h = |b: u8| hex::encode([b; 32]);
    ok(&[
        "land",
        "register",
        "--from",
        "registrar",
        "--parcel",
        "GHENT-1-A-17",
        "--geometry-hash",
        &h(1),
        "--area-m2",
        "640",
        "--owners",
        "alice=1",
        "--whole",
        "1",
    ]);
    ok(&[
        "land",
        "lien",
        "--from",
        "registrar",
        "--parcel",
        "GHENT-1-A-17",
        "--bank",
        "bank",
        "--amount",
        "15000000",
        "--deed-hash",
        &h(2),
    ]);
    ok(&[
        "land",
        "interested",
        "--from",
        "registrar",
        "--parcel",
        "GHENT-1-A-17",
        "--party",
        "neighbour",
    ]);
    ok(&[
        "land",
        "propose",
        "--from",
        "alice",
        "--parcel",
        "GHENT-1-A-17",
        "--buyers",
        "carol=1",
        "--price",
        "32000000",
        "--deed-hash",
        &h(3),
    ]);
    // Liens, easements and transfers share one id sequence: the lien is 1, the transfer 2.
    ok(&["land", "accept", "--from", "carol", "2"]);
    let r = run_cli(
        &node.url,
        dir.path(),
        &["land", "approve", "--from", "registrar", "2"],
    );
    assert!(!r.0 && r.2.contains("invalid_state"), "{}", r.2);
    ok(&["land", "release", "--from", "bank", "2", "--lien", "1"]);
    ok(&["land", "approve", "--from", "registrar", "2"]);
    ok(&[
        "land",
        "object",
        "--from",
        "neighbour",
        "2",
        "--statement-hash",
        &h(4),
    ]);
    ok(&["land", "decide", "--from", "registrar", "2", "--uphold"]);
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["land", "show", "GHENT-1-A-17"])).unwrap();
    assert!(shown["parcel"]["transfer"].is_null());
    assert_eq!(shown["liens"].as_array().unwrap().len(), 1);
    assert_eq!(shown["history"].as_array().unwrap().len(), 2);
    let r = run_cli(&node.url, dir.path(), &["land", "show", "NOPE"]);
    assert!(!r.0 && r.2.contains("not_found"), "{}", r.2);

    // A right of way, then the sale again: the objection is dismissed this time, and once the
    // (shortened) window ends the title moves to Carol with the mortgage released.
    ok(&[
        "land",
        "easement",
        "--from",
        "registrar",
        "--parcel",
        "GHENT-1-A-17",
        "--beneficiary",
        "GHENT-1-A-18",
        "--kind",
        "right_of_way",
        "--deed-hash",
        &h(5),
    ]);
    ok(&["land", "set-window", "--from", "admin", "--seconds", "1"]);
    ok(&[
        "land",
        "propose",
        "--from",
        "alice",
        "--parcel",
        "GHENT-1-A-17",
        "--buyers",
        "carol=1",
        "--price",
        "31500000",
        "--deed-hash",
        &h(6),
    ]);
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["land", "show", "GHENT-1-A-17"])).unwrap();
    let t = shown["parcel"]["transfer"].as_u64().unwrap().to_string();
    ok(&["land", "accept", "--from", "carol", &t]);
    ok(&["land", "release", "--from", "bank", &t, "--lien", "1"]);
    ok(&["land", "approve", "--from", "registrar", &t]);
    ok(&[
        "land",
        "object",
        "--from",
        "neighbour",
        &t,
        "--statement-hash",
        &h(7),
    ]);
    ok(&["land", "decide", "--from", "registrar", &t]);
    let carol = ok(&["keys", "show", "carol", "--output", "json"]);
    let carol: serde_json::Value = serde_json::from_str(&carol).unwrap();
    common::wait_until(
        "the title moved",
        std::time::Duration::from_secs(30),
        || {
            let shown: serde_json::Value =
                serde_json::from_str(&ok(&["land", "show", "GHENT-1-A-17"])).unwrap();
            shown["parcel"]["owners"][0]["owner"] == carol["address"]
        },
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["land", "show", "GHENT-1-A-17"])).unwrap();
    assert!(
        shown["liens"].as_array().is_none_or(Vec::is_empty),
        "{shown}"
    );
    assert_eq!(
        shown["parcel"]["easements"].as_array().unwrap().len(),
        1,
        "{shown}"
    );

    // The portal shows the parcel's title and history; search finds it by its id.
    let url = format!("{}/search?q=GHENT-1-A-17", node.url);
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Parcel GHENT-1-A-17") && page.contains("registered"),
        "{page}"
    );
}
