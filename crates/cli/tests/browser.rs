//! The portal in a real browser, against the demo city (`urbis dev --demo`): Debian's
//! Chromium driven by Playwright (`tests/browser.py`; the tools come from `.ci/browser-env`,
//! which this test runs unless `URBIS_BROWSER_PYTHON` names the interpreter). Every page
//! renders with the demo's data, search lands each kind of identifier on its page, *verify*
//! says verified for every value it offers to check on the service pages and says failed,
//! naming the step, when the proof the page fetches is tampered with; no script or console
//! error, no accessibility violation found by axe-core; screenshots go to
//! `target/tmp/browser-shots/`, and each page's load time (the browser's navigation timing) is
//! printed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Nodes, get_json, wait_until};
use serde_json::{Value, json};
fn python() -> PathBuf {
    common::ci_tool(
        "URBIS_BROWSER_PYTHON",
        "browser-env",
        "apt or /usr/bin/chromium, python3 with venv, PyPI and npm",
    )
}

/// A demo city on its own data directory and port, its simulator at a brisk rate.
fn start_demo(dir: &std::path::Path) -> (Nodes, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("demo.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_urbis"))
        .arg("--keystore")
        .arg(dir.join("keystore.json"))
        .args([
            "dev",
            "--demo",
            "--demo-rate",
            "30",
            "--block-time-ms",
            "200",
            "--api",
            &api,
        ])
        .arg("--data-dir")
        .arg(dir.join("demo"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    (Nodes(vec![Some(child)]), format!("http://{api}"))
}

#[test]
fn the_demo_city_renders_and_verifies_in_chromium_and_passes_axe() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_nodes, url) = start_demo(d);
    let http = reqwest::blocking::Client::new();
    let q = |path: &str| get_json(&http, &format!("{url}{path}"));
    let log = || std::fs::read_to_string(d.join("demo.log")).unwrap_or_default();
    // Within a few minutes every service has something to show: an energy interval cleared, a
    // day of journeys, a ride completed, a batch recycled, a permit issued, ballots cast, the
    // home-care grant used.

    wait_until(
        "the demo city comes alive",
        Duration::from_secs(240),
        || {
            let (Some(clearings), Some(days), Some(batch), Some(elections)) = (
                q("/v1/query/energy/clearings"),
                q("/v1/query/mobility/days"),
                q("/v1/query/waste/batch/1"),
                q("/v1/query/voting/elections"),
            ) else {
                assert!(!log().contains("demo: stopped"), "{}", log());
                return false;
            };
            let permits = q("/v1/query/governance/processing/building-permit");
            let rides = q("/v1/query/mobility/rides");
            let used = q("/v1/events/search?module=consent&kind=used&limit=1");
            !clearings["items"].as_array().unwrap().is_empty()
                && !days["items"].as_array().unwrap().is_empty()
                && batch["value"]["fate"].is_object()
                && elections["items"][0]["id"].is_string()
                && permits.is_some_and(|p| p["value"]["finished"].as_u64().unwrap_or(0) > 0)
                && used.is_some_and(|u| !u["events"].as_array().unwrap().is_empty())
                && rides.is_some_and(|r| {
                    r["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r["state"] == "completed")
                })
        },
    );
    let election = q("/v1/query/voting/elections").unwrap()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let events = q("/v1/events/search?module=identity&kind=created&limit=1").unwrap();
    let e = &events["events"][0];
    let (tx, height) = (
        e["tx_hash"].as_str().unwrap().to_string(),
        e["height"].as_u64().unwrap(),
    );
    let did = e["event"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a[0] == "did")
        .map(|a| a[1].as_str().unwrap().trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("a created event names its DID: {e}"));
    let resident = urbis_core::SecretKey::from_label("urbis-demo/citizen/0")
        .address()
        .to_string();
    let me = urbis_bench::demo::resident(999);
    let status = q("/v1/status").unwrap();
    let year =
        urbis_runtime::kit::civil_date(status["block_time_ms"].as_u64().unwrap() / 86_400_000).0;

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-shots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let job = json!({
        "url": url,
        "axe": common::repo().join("target/browser-axe/node_modules/axe-core/axe.min.js"),
        "screenshots": shots,
        "pages": [
            {"path": "/", "text": "Chain status"},
            {"path": format!("/blocks/{height}"), "text": "identity · create"},
            {"path": format!("/txs/{tx}"), "text": "created"},
            {"path": format!("/accounts/{resident}"), "text": "citizen"},
            {"path": format!("/dids/{did}"), "text": "verificationMethod"},
            {"path": "/identity", "text": "Trust list"},
            {"path": "/rewards", "text": "Green commute"},
            {"path": format!("/governance?year={year}"), "text": "public-space"},
            {"path": "/participation", "text": "old tram depot"},
            {"path": format!("/participation/elections/{election}"), "text": "Board head"},
            {"path": "/energy", "text": "Clearing per interval"},
            {"path": "/mobility", "text": "Ride-sharing"},
            {"path": "/waste", "text": "batch 1"},
            {"path": "/waste/batches/1", "text": "recycled"},
            {"path": "/land/URB-0001", "text": "URB-0001"},
        ],
        "searches": [
            {"q": height.to_string(), "to": format!("/blocks/{height}")},
            {"q": tx, "to": format!("/txs/{tx}")},
            {"q": resident, "to": format!("/accounts/{resident}")},
            {"q": did, "to": format!("/dids/{did}")},
            {"q": "URB-0001", "to": "/land/URB-0001"},
            {"q": "batch 1", "to": "/waste/batches/1"},
        ],
        // Pages whose *verify* controls are all clicked: a reward, a permit (the decision it
        // recorded) and the budget, an energy interval, a day of bus journeys, a bag of glass,
        // an election, a parcel, a resident's balances, a transaction's receipt.
        "verify": [
            "/rewards",
            format!("/governance?year={year}"),
            "/energy",
            "/mobility",
            "/waste/batches/1",
            format!("/participation/elections/{election}"),
            "/participation",
            "/land/URB-0001",
            format!("/accounts/{resident}"),
            format!("/txs/{tx}"),
        ],
        // The signed-in view of resident 1000: their account verified in the page, and the
        // petition signed by a transaction built and signed in the browser.
        "me": {"seed": hex::encode(me.seed()), "address": me.address().to_string(),
            "credential": d.join("demo/demo-credentials/resident-1000.sd-jwt"),
            "wallet": d.join("demo/demo-credentials/resident-1000.wallet.json")},
        // And with the proof tampered with on its way to the page.
        "tamper": ["/waste/batches/1", format!("/txs/{tx}"), "/energy"],
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
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
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
    assert_eq!(report["searches"].as_array().unwrap().len(), 6);
    let verified = report["verify"].as_array().unwrap();
    assert_eq!(verified.len(), 10);
    for v in verified {
        eprintln!(
            "{}: {} values verified in the page",
            v["path"], v["verified"]
        );
        assert!(v["verified"].as_u64().unwrap() > 0, "{v}");
    }
    eprintln!(
        "/me: {} values verified\n{}\n{}\n{}",
        report["me"]["verified"],
        report["me"]["petition"].as_str().unwrap_or_default(),
        report["me"]["credentials"].as_str().unwrap_or_default(),
        report["me"]["grants"].as_str().unwrap_or_default()
    );
    let petitions = q("/v1/query/petitions/petitions").unwrap();
    let id = petitions["items"][0]["id"].as_str().unwrap();
    assert!(
        q(&format!(
            "/v1/query/petitions/signature/{id}/{}",
            me.address()
        ))
        .is_some(),
        "the petition signed in the browser is on chain"
    );
    for t in report["tamper"].as_array().unwrap() {
        eprintln!("{} tampered: {}", t["path"], t["verdict"]);
        assert!(
            t["verdict"].as_str().unwrap().starts_with("failed ("),
            "{t}"
        );
    }
}
