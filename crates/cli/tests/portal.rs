//! The portal's pages through plain HTTP, as a browser fetches them: the home page with the
//! chain's status and latest blocks, a block, a transaction with its decoded call and events,
//! an account with its roles and balances, a DID with its document; search sends each kind of
//! identifier to its page; what does not exist is a 404 page and what is malformed a 400 page.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Cli, TestNode};

#[test]
fn the_portal_shows_blocks_transactions_accounts_and_dids() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        node: &node,
        dir: dir.path(),
    };
    cli.accounts(&[("alice", "citizen")]);
    let did = common::last_line(&cli.ok(&["did", "create", "--from", "alice"]));
    let alice = common::address_of(&cli, "alice");
    let (tx, height) = common::first_event(&cli, "identity");

    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| {
        let r = http.get(format!("{}{path}", node.url)).send().unwrap();
        let status = r.status().as_u16();
        let kind = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        (status, kind, location, r.text().unwrap())
    };
    let page = |path: &str| {
        let (status, kind, _, body) = get(path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
        body
    };

    let home = page("/");
    assert!(
        home.contains("Chain status") && home.contains(&node.chain_id),
        "{home}"
    );
    assert!(
        home.contains(&format!("href=\"/blocks/{height}\"")),
        "the block is listed"
    );
    assert!(home.contains("identity"), "the modules are listed");

    let block = page(&format!("/blocks/{height}"));
    assert!(block.contains(&format!("href=\"/txs/{tx}\"")), "{block}");
    assert!(block.contains("identity · create"), "{block}");

    let t = page(&format!("/txs/{tx}"));
    assert!(
        t.contains(&tx) && t.contains("&quot;call&quot;: &quot;create&quot;"),
        "{t}"
    );
    assert!(t.contains("created"), "the event is shown: {t}");
    assert!(t.contains(&format!("href=\"/accounts/{alice}\"")), "{t}");

    let a = page(&format!("/accounts/{alice}"));
    assert!(a.contains(&alice) && a.contains("citizen"), "{a}");

    let d = page(&format!("/dids/{did}"));
    assert!(d.contains(&did) && d.contains("verificationMethod"), "{d}");
    assert!(
        d.contains(&format!("href=\"/accounts/{alice}\"")),
        "the controller: {d}"
    );

    let css = get("/portal/style.css");
    assert_eq!(css.0, 200);
    assert!(css.1.starts_with("text/css"));

    // Search sends each kind of identifier to its page.
    for (q, to) in [
        (height.to_string(), format!("/blocks/{height}")),
        (tx.clone(), format!("/txs/{tx}")),
        (alice.clone(), format!("/accounts/{alice}")),
        (did.clone(), format!("/dids/{did}")),
    ] {
        let (status, _, location, _) = get(&format!("/search?q={q}"));
        assert_eq!(status, 303, "{q}");
        assert_eq!(location.as_deref(), Some(to.as_str()), "{q}");
    }
    let block_hash = serde_json::from_str::<serde_json::Value>(
        &reqwest::blocking::get(format!("{}/v1/blocks/{height}", node.url))
            .unwrap()
            .text()
            .unwrap(),
    )
    .unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, location, _) = get(&format!("/search?q={block_hash}"));
    assert_eq!(
        (status, location),
        (303, Some(format!("/blocks/{block_hash}")))
    );
    assert!(page(&format!("/blocks/{block_hash}")).contains(&format!("Block {height}")));

    // Unknown and malformed: error pages, not crashes.
    for (path, status) in [
        ("/blocks/999999999", 404),
        ("/blocks/not-a-block", 400),
        (&format!("/txs/{}", "ab".repeat(32)) as &str, 404),
        ("/txs/xyz", 400),
        ("/accounts/nobody", 400),
        (
            "/dids/did:urbis:0000000000000000000000000000000000000000",
            404,
        ),
        ("/search?q=", 400),
        ("/search?q=what", 404),
    ] {
        let (got, kind, _, body) = get(path);
        assert_eq!(got, status, "{path}: {body}");
        assert!(kind.starts_with("text/html"), "{path}");
    }
    // The API is untouched: unknown API paths still answer problem+json.
    let (status, kind, _, _) = get("/v1/nothing");
    assert_eq!(status, 404);
    assert!(kind.contains("json"), "{kind}");
}

#[test]
fn the_service_pages_show_rewards_the_budget_and_participation() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cli = Cli {
        node: &node,
        dir: d,
    };
    let ok = |args: &[&str]| cli.ok(args);
    let doc = common::seed_city(&cli);
    let doc = doc.as_str();
    ok(&[
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
        "250",
        "--invoice",
        doc,
        "--memo",
        "potholes",
    ]);
    let poll = ok(&[
        "poll",
        "create",
        "--from",
        "roads",
        "--question",
        "Which trees for Elm Park?",
        "--option",
        "Oaks",
        "--option",
        "Limes",
        "--days",
        "7",
    ])
    .lines()
    .last()
    .unwrap()
    .trim()
    .to_string();
    ok(&["poll", "respond", "--from", "carol", &poll, "--option", "1"]);

    let page = |path: &str| {
        let r = reqwest::blocking::get(format!("{}{path}", node.url)).unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.text().unwrap()
    };
    let rewards = page("/rewards");
    assert!(
        rewards.contains("Green commute") && rewards.contains("5000"),
        "{rewards}"
    );
    assert!(rewards.contains("<svg"), "a chart");

    let gov = page("/governance?year=2027");
    assert!(
        gov.contains("Budget 2027: appropriations and spending"),
        "{gov}"
    );
    assert!(gov.contains("250 / 1000"), "the chart's figures: {gov}");
    assert!(
        gov.contains("Budget 2027") && gov.contains("resolution"),
        "the decision: {gov}"
    );
    let other_year = page("/governance?year=2026");
    assert!(
        other_year.contains("No budget line for 2026"),
        "{other_year}"
    );

    let part = page("/participation");
    assert!(part.contains("Benches on Elm Square"), "{part}");
    assert!(
        part.contains("Which trees for Elm Park?") && part.contains("Limes"),
        "{part}"
    );
    assert!(
        part.contains("1 / 1"),
        "one response of one, for Limes: {part}"
    );
}
