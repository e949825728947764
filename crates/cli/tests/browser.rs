//! The portal in a real browser: Debian's Chromium driven by Playwright (`tests/browser.py`;
//! the tools come from `.ci/browser-env`, which this test runs unless `URBIS_BROWSER_PYTHON`
//! names the interpreter). Every page renders with its data, search lands each kind of
//! identifier on its page, no script or console error, no accessibility violation found by
//! axe-core; screenshots go to `target/tmp/browser-shots/`, and each page's load time (the
//! browser's navigation timing) is printed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Cli, TestNode};
use serde_json::json;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("URBIS_BROWSER_PYTHON") {
        return PathBuf::from(p);
    }
    let out = Command::new(repo().join(".ci/browser-env"))
        .output()
        .expect("run .ci/browser-env");
    assert!(
        out.status.success(),
        ".ci/browser-env failed (it needs apt or /usr/bin/chromium, python3 with venv, PyPI and npm): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn every_portal_page_renders_in_chromium_and_passes_axe() {
    let py = python();
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cli = Cli {
        node: &node,
        dir: d,
    };
    let ok = |args: &[&str]| cli.ok(args);
    let last = |out: String| out.lines().last().unwrap().trim().to_string();
    cli.accounts(&[("roads", "department"), ("carol", "citizen")]);
    let doc = d.join("budget.pdf");
    std::fs::write(&doc, "The 2027 budget.\n").unwrap();
    let doc = doc.to_str().unwrap();
    let did = last(ok(&["did", "create", "--from", "carol"]));
    let registry = last(ok(&[
        "did",
        "create",
        "--from",
        "roads",
        "--subject",
        "organisation",
    ]));
    ok(&[
        "did",
        "accredit",
        "--from",
        "admin",
        "--issuer",
        "roads",
        "--type",
        "urn:urbis:resident",
    ]);
    ok(&[
        "tx",
        "rewards",
        "create-program",
        "--from",
        "admin",
        "--name",
        "Green commute",
        "--category",
        "public_transport",
        "--budget",
        "5000",
        "--cap",
        "10",
        "--period-ms",
        "86400000",
    ]);
    ok(&[
        "gov",
        "department",
        "--from",
        "admin",
        "roads",
        "--name",
        "Roads",
    ]);
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
        "1000",
        "--decision",
        &budget,
    ]);
    ok(&[
        "petition",
        "open",
        "--from",
        "carol",
        "--title",
        "Benches on Elm Square",
        "--text",
        doc,
        "--threshold",
        "50",
        "--days",
        "30",
        "--answer-days",
        "30",
    ]);
    let carol = cli.json(&["keys", "show", "carol"])["address"]
        .as_str()
        .unwrap()
        .to_string();
    let mut events = serde_json::Value::Null;
    common::wait_until(
        "the DID's event is indexed",
        std::time::Duration::from_secs(20),
        || {
            events = cli.json(&["events", "search", "--module", "identity"]);
            events["events"][0]["tx_hash"].is_string()
        },
    );
    let tx = events["events"][0]["tx_hash"].as_str().unwrap().to_string();
    let height = events["events"][0]["height"].as_u64().unwrap();

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-shots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let job = json!({
        "url": node.url,
        "axe": repo().join("target/browser-axe/node_modules/axe-core/axe.min.js"),
        "screenshots": shots,
        "pages": [
            {"path": "/", "text": "Chain status"},
            {"path": format!("/blocks/{height}"), "text": "identity · create"},
            {"path": format!("/txs/{tx}"), "text": "created"},
            {"path": format!("/accounts/{carol}"), "text": "citizen"},
            {"path": format!("/dids/{did}"), "text": "verificationMethod"},
            {"path": "/identity", "text": registry},
            {"path": "/rewards", "text": "Green commute"},
            {"path": "/governance?year=2027", "text": "0 / 1000"},
            {"path": "/participation", "text": "Benches on Elm Square"},
            {"path": "/energy", "text": "Energy market"},
            {"path": "/mobility", "text": "Public transport"},
            {"path": "/waste", "text": "Recycled of collected"},
        ],
        "searches": [
            {"q": height.to_string(), "to": format!("/blocks/{height}")},
            {"q": tx, "to": format!("/txs/{tx}")},
            {"q": carol, "to": format!("/accounts/{carol}")},
            {"q": did, "to": format!("/dids/{did}")},
        ],
    });
    let job_path = d.join("job.json");
    std::fs::write(&job_path, job.to_string()).unwrap();
    let out = Command::new(&py)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser.py"))
        .arg(&job_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for p in report["pages"].as_array().unwrap() {
        eprintln!(
            "{} loaded in {:.1} ms",
            p["path"],
            p["load_ms"].as_f64().unwrap()
        );
        assert_eq!(
            p["violations"],
            json!([]),
            "axe-core on {}: {}",
            p["path"],
            p["violations"]
        );
        assert!(shots.read_dir().unwrap().count() > 0);
    }
    assert_eq!(report["searches"].as_array().unwrap().len(), 4);
}
