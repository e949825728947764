//! Validator-set changes on a real network of `urbis node` processes: the council adds a
//! validator that is not in the genesis (started from the beginning, it follows until its
//! epoch) and removes a genesis validator while transactions keep coming; nobody restarts.
//! Then two of the old validators stop and the new set carries on, a full node that followed
//! through the changes agrees, and a proof certified by the new set verifies from the genesis
//! file alone with `urbis verify` and the Python verifier.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Nodes, get_json, wait_until};
use urbis_core::SecretKey;

const EPOCH: u64 = 40;

fn urbis() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
}

fn start(dir: &std::path::Path) -> std::process::Child {
    let log = std::fs::File::create(dir.join("test.log")).unwrap();
    urbis()
        .args(["node", "--config"])
        .arg(dir.join("node.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn status(http: &reqwest::blocking::Client, api: &str) -> serde_json::Value {
    get_json(http, &format!("{api}/v1/status")).unwrap_or_default()
}

fn height(http: &reqwest::blocking::Client, api: &str) -> u64 {
    status(http, api)["height"].as_u64().unwrap_or(0)
}

#[test]
fn council_changes_the_validator_set_under_load_and_proofs_verify_from_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let apis = common::init_testnet_with(d, 4, "changes", &["--epoch-length", &EPOCH.to_string()]);
    let genesis = d.join("genesis.json");

    // Validator 4: a key the genesis does not name; it runs from the start.
    let v4 = d.join("node4");
    let (api4, p2p4) = (common::free_port(), common::free_port());
    let out = urbis()
        .args([
            "init",
            "--insecure-plaintext-key",
            "--name",
            "node4",
            "--dir",
        ])
        .arg(&v4)
        .args(["--api", &format!("127.0.0.1:{api4}")])
        .args(["--p2p", &format!("127.0.0.1:{p2p4}")])
        .args(["--genesis", "../genesis.json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = std::fs::read_to_string(v4.join("node.toml")).unwrap();
    std::fs::write(
        v4.join("node.toml"),
        toml.replace("block_time_ms = 250", "block_time_ms = 100"),
    )
    .unwrap();
    let public: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v4.join("validator.json")).unwrap()).unwrap();
    let key4 = public["public_key"].as_str().unwrap().to_string();

    // A full node following validator 2 from genesis.
    let full = d.join("full");
    let full_port = common::free_port();
    let out = urbis()
        .args(["init", "--full", "--dir"])
        .arg(&full)
        .args(["--api", &format!("127.0.0.1:{full_port}")])
        .args(["--genesis", "../genesis.json", "--follow", &apis[2]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut nodes = Nodes(
        (0..4)
            .map(|i| Some(common::start_validator(d, i)))
            .chain([Some(start(&v4)), Some(start(&full))])
            .collect(),
    );
    common::wait_for_network(d, &apis, 3, Duration::from_secs(120));
    let http = common::http();
    let api4 = format!("http://127.0.0.1:{api4}");
    let full_api = format!("http://127.0.0.1:{full_port}");
    let top = common::changes::run(
        d,
        &[&apis[0], &apis[1], &apis[2], &apis[3], &api4],
        &key4,
        &format!("127.0.0.1:{p2p4}"),
        EPOCH,
        &mut |i| {
            let mut c = nodes.0[i].take().unwrap();
            c.kill().unwrap();
            c.wait().unwrap();
        },
    );

    // The full node followed through both changes and agrees.
    wait_until("the full node catches up", Duration::from_secs(60), || {
        height(&http, &full_api) >= top
    });
    let block =
        |api: &str| get_json(&http, &format!("{api}/v1/blocks/{top}")).unwrap()["hash"].clone();
    assert_eq!(block(&full_api), block(&apis[2]));

    // A full node joining now by state sync walks the hand-overs to the new set, follows, and
    // serves proofs that verify from genesis (with the hand-overs it kept).
    let synced = d.join("synced");
    let synced_port = common::free_port();
    let out = urbis()
        .args(["init", "--full", "--state-sync", "--dir"])
        .arg(&synced)
        .args(["--api", &format!("127.0.0.1:{synced_port}")])
        .args(["--genesis", "../genesis.json", "--follow", &apis[3]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    nodes.0.push(Some(start(&synced)));
    let synced_api = format!("http://127.0.0.1:{synced_port}");
    let now = height(&http, &apis[2]);
    wait_until(
        "the state-synced node follows",
        Duration::from_secs(120),
        || height(&http, &synced_api) >= now,
    );
    let log = std::fs::read_to_string(synced.join("test.log")).unwrap_or_default();
    assert!(
        log.contains("state synced"),
        "it did not join by state sync:\n{log}"
    );
    common::prove_and_verify(
        &synced_api,
        &SecretKey::from_label("changes-loader")
            .address()
            .to_string(),
        &genesis,
        &d.join("synced-answer.json"),
    );

    // A proof from the new set verifies from the genesis file, in Rust and in Python.
    let answer = d.join("answer.json");
    let loader_addr = SecretKey::from_label("changes-loader").address();
    common::prove_and_verify(&full_api, &loader_addr.to_string(), &genesis, &answer);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&answer).unwrap()).unwrap();
    let proof = &saved; // the bare bundle
    assert_eq!(proof["version"], 2);
    let certified = proof["headers"].as_array().unwrap().last().unwrap()["height"]
        .as_u64()
        .unwrap();
    assert_eq!(
        proof["handovers"].as_array().unwrap().len() as u64,
        certified / EPOCH - 1
    );
    // A copy with one hand-over's certificate changed: every verifier refuses it.
    let mut bad = saved.clone();
    let cert = bad["handovers"][0]["finalization"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = if cert.ends_with('0') { "1" } else { "0" };
    bad["handovers"][0]["finalization"] =
        serde_json::Value::String(format!("{}{flipped}", &cert[..cert.len() - 1]));
    let tampered = d.join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&bad).unwrap()).unwrap();
    let run = urbis()
        .arg("verify")
        .arg(&tampered)
        .arg("--genesis")
        .arg(&genesis)
        .output()
        .unwrap();
    assert!(
        !run.status.success(),
        "urbis verify took a changed hand-over"
    );

    let python = common::ci_tool(
        "URBIS_VERIFIER_PYTHON",
        "python-verifier-env",
        "python3 with venv, and PyPI",
    );
    let py = |file: &std::path::Path| {
        outcome(
            std::process::Command::new(&python)
                .current_dir(common::repo().join("clients/python"))
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .args(["-m", "urbis_verify", "--genesis"])
                .arg(&genesis)
                .arg(file),
        )
    };
    let (ok, text) = py(&answer);
    assert!(ok && text.contains("verified"), "{text}");
    let (ok, text) = py(&tampered);
    assert!(!ok && text.contains("handover"), "{text}");

    // The JavaScript verifier (the portal's), where Node is installed.
    let have_node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        have_node || std::env::var_os("URBIS_REQUIRE_NODE").is_none(),
        "URBIS_REQUIRE_NODE is set but node does not run"
    );
    if have_node {
        let js = |file: &std::path::Path| {
            outcome(
                std::process::Command::new("node")
                    .current_dir(common::repo())
                .env("GENESIS", &genesis)
                .env("BUNDLE", file)
                .args(["--input-type=module", "-e"])
                .arg(
                    "import { verifyStateBundle, trustFromGenesis } from './clients/js/verify.js';\n\
                     import { readFileSync } from 'node:fs';\n\
                     const trust = trustFromGenesis(readFileSync(process.env.GENESIS, 'utf8'));\n\
                     const r = await verifyStateBundle(JSON.parse(readFileSync(process.env.BUNDLE, 'utf8')), trust);\n\
                     console.log(JSON.stringify(r));\n\
                     process.exit(r.ok ? 0 : 1);",
                    ),
            )
        };
        let (ok, text) = js(&answer);
        assert!(ok && text.contains("\"validators\":4"), "{text}");
        let (ok, text) = js(&tampered);
        assert!(!ok && text.contains("handover"), "{text}");
    }
}

/// Run `cmd`: whether it succeeded, and its output and error text.
fn outcome(cmd: &mut std::process::Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}
