//! The Python proof verifier (`clients/python`, written from `docs/proofs.md`).
//!
//! - Its unit tests (`clients/python/tests/test_vectors.py`) give every committed proof vector
//!   (`clients/vectors/proofs/`) exactly its expected verdict, and its receipt encoder's error
//!   codes are the node's, in declaration order.
//! - Its live tests (`clients/python/tests/test_live.py`) verify fresh `?prove=true` answers of
//!   a dev node and of a 4-validator network (a present and an absent key, a successful and a
//!   failed transaction), and reject tampered copies.
//!
//! The interpreter is `URBIS_VERIFIER_PYTHON` if set, else the virtual environment that
//! `.ci/python-verifier-env` creates (python3 with venv, and PyPI for the pinned packages).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{Nodes, TestNode, commit, key_from_hex};
use urbis_core::{ErrorCode, SecretKey};

fn python() -> PathBuf {
    common::ci_tool(
        "URBIS_VERIFIER_PYTHON",
        "python-verifier-env",
        "python3 with venv, and PyPI",
    )
}

/// Run `python <args>` in `clients/python`; its combined output, after asserting success.
fn run_python(args: &[&str], env: &[(&str, String)]) -> String {
    let mut cmd = Command::new(python());
    cmd.current_dir(common::repo().join("clients/python"))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for name in [
        "URBIS_NODE",
        "URBIS_QUERY",
        "URBIS_TX",
        "URBIS_NODES_4",
        "URBIS_QUERY_4",
        "URBIS_TX_4",
    ] {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "python {args:?} failed:\n{text}");
    text
}

/// `python -m unittest -v <target>`; asserts that every test ran (none skipped) and passed.
fn unittest(target: &str, env: &[(&str, String)]) -> String {
    let out = run_python(&["-m", "unittest", "-v", target], env);
    assert!(
        out.contains("\nOK") && !out.contains("skipped"),
        "{target}: not every test ran and passed:\n{out}"
    );
    out
}

#[test]
fn the_python_verifier_gives_every_vector_its_verdict() {
    let out = unittest("tests.test_vectors", &[]);
    assert!(
        out.contains("Vectors.test_every_vector_gets_exactly_its_verdict) ... ok"),
        "{out}"
    );
    // The receipt encoder's error-code table is the node's, in declaration (borsh) order.
    let codes = run_python(
        &[
            "-c",
            "import json, urbis_verify; print(json.dumps(list(urbis_verify.ERROR_CODES)))",
        ],
        &[],
    );
    let codes: Vec<String> = serde_json::from_str(codes.trim()).unwrap();
    let rust: Vec<&str> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
    assert_eq!(
        codes, rust,
        "ERROR_CODES in urbis_verify must list ErrorCode in order"
    );
}

// ---- live nodes ----------------------------------------------------------------------------

#[test]
fn the_python_verifier_checks_live_answers() {
    let http = common::http();

    // A dev chain: a present and an absent key (an account record, an empty balance), a
    // successful and a failed transaction (the second grant of a role already held).
    let node = TestNode::start();
    let ok = commit(
        &http,
        &node.url,
        &common::grant_label(&node.chain, &node.admin, 0, "py-a"),
    );
    let failed = commit(
        &http,
        &node.url,
        &common::grant_label(&node.chain, &node.admin, 1, "py-a"),
    );
    let present = SecretKey::from_label("py-a").address();
    let absent = SecretKey::from_label("py-absent").address();
    let env = vec![
        ("URBIS_NODE", node.url.clone()),
        (
            "URBIS_QUERY",
            format!(
                "accounts/account/{present},accounts/account/{absent},\
                 rewards/balance/{present},assets/balance/USD/{present}"
            ),
        ),
        ("URBIS_TX", format!("{ok},{failed}")),
    ];
    let out = unittest(
        "tests.test_live.Live.test_fresh_answers_of_a_node_verify",
        &env,
    );
    assert!(out.contains("Ran 1 test"), "{out}");

    // The command line against the same node: verified, exit code 0.
    let query = format!("accounts/account/{present}");
    let out = run_python(
        &["-m", "urbis_verify", "--node", &node.url, "--query", &query],
        &[],
    );
    assert!(
        out.contains("verified query answer") && out.contains("only a convenience"),
        "{out}"
    );
    node.stop();

    // A 4-validator network: certificates with a quorum of 3 signatures or more.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let apis = common::init_testnet(d, 4, "py-net");
    let _nodes = Nodes(
        (0..4)
            .map(|i| Some(common::start_validator(d, i)))
            .collect(),
    );
    common::wait_for_network(d, &apis, 3, Duration::from_secs(120));
    let admin = key_from_hex(&std::fs::read_to_string(d.join("admin.key")).unwrap());
    let chain = common::chain_ref(&apis[0]);
    let tx = common::commit(
        &http,
        &apis[0],
        &common::grant_label(&chain, &admin, 0, "py-net-a"),
    );
    let addr = SecretKey::from_label("py-net-a").address();
    let absent = SecretKey::from_label("py-net-absent").address();
    let env = vec![
        ("URBIS_NODES_4", apis.join(",")),
        (
            "URBIS_QUERY_4",
            format!("accounts/account/{addr},accounts/account/{absent}"),
        ),
        ("URBIS_TX_4", tx.to_string()),
    ];
    let out = unittest(
        "tests.test_live.Live.test_fresh_answers_of_a_four_validator_network_verify",
        &env,
    );
    assert!(out.contains("Ran 1 test"), "{out}");
}
