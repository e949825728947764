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
    common::seed_city(&cli);
    let did = common::last_line(&ok(&["did", "create", "--from", "carol"]));
    let registry = common::last_line(&ok(&[
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
    let carol = common::address_of(&cli, "carol");
    let (tx, height) = common::first_event(&cli, "identity");

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
    }
    assert_eq!(
        shots.read_dir().unwrap().count(),
        report["pages"].as_array().unwrap().len(),
        "a screenshot of each page"
    );
    assert_eq!(report["searches"].as_array().unwrap().len(), 4);
}
