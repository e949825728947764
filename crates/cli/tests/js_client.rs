//! The JavaScript client (`clients/js`) run by Node against the Rust code: its vector tests
//! (`clients/vectors/tx`, made by `crates/client/tests/js_vectors.rs`) and its live test
//! against a fresh dev node. Without Node ≥ 20 on the `PATH` they print a skip message and
//! pass, unless `URBIS_REQUIRE_NODE` is set.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestNode;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether Node ≥ 20 is there; otherwise skip (or fail under `URBIS_REQUIRE_NODE`).
fn have_node(test: &str) -> bool {
    let version = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let major = version
        .as_deref()
        .and_then(|v| v.strip_prefix('v')?.split('.').next()?.parse::<u32>().ok());
    if major.is_some_and(|m| m >= 20) {
        return true;
    }
    let why = match version {
        None => "node is not on the PATH".to_string(),
        Some(v) => format!("node {v} is older than 20"),
    };
    assert!(
        std::env::var_os("URBIS_REQUIRE_NODE").is_none(),
        "{test}: {why} (URBIS_REQUIRE_NODE is set)"
    );
    eprintln!("skipping {test}: {why}");
    false
}

/// Longest a Node test file may run (an open connection would otherwise keep it alive).
const NODE_TEST_LIMIT: Duration = Duration::from_secs(240);

fn node_test(file: &str, env: &[(&str, String)]) {
    let mut child = Command::new("node")
        .current_dir(repo())
        .args(["--test", file])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("NODE_OPTIONS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + NODE_TEST_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().unwrap();
    let stderr = stderr.join().unwrap();
    let report = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    let Some(status) = status else {
        panic!("node --test {file} ran longer than {NODE_TEST_LIMIT:?}\n{report}");
    };
    assert!(status.success(), "node --test {file} failed\n{report}");
    // The runner's summary: every test passed and none was skipped.
    assert!(stdout.contains("# fail 0"), "{report}");
    assert!(stdout.contains("# skipped 0"), "{report}");
    assert!(!stdout.contains("# pass 0"), "{report}");
}

#[test]
fn js_client_agrees_with_the_rust_vectors() {
    if have_node("js_client_agrees_with_the_rust_vectors") {
        node_test("clients/js/test/tx.test.js", &[]);
    }
}

#[test]
fn js_client_sends_a_json_call_to_a_live_node() {
    if !have_node("js_client_sends_a_json_call_to_a_live_node") {
        return;
    }
    let node = TestNode::start();
    node_test(
        "clients/js/test/live.test.js",
        &[
            ("URBIS_NODE", node.url.clone()),
            ("URBIS_ADMIN_SEED", hex::encode(node.admin.seed())),
        ],
    );
    node.stop();
}
