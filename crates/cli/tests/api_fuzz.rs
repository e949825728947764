//! API fuzzing: schemathesis against the node's own OpenAPI document (`/v1/openapi.json`,
//! every operation with its parameters and request bodies), on a running dev node. Its
//! coverage, fuzzing and stateful phases (following the document's links) run every check
//! but `positive_data_acceptance` (a well-formed transaction with a made-up signature is
//! rightly refused): no 5xx (a DID of another method is W3C DID Resolution's documented 501),
//! only documented status codes and content types, answers that match their schemas, invalid
//! input refused with a 4xx, and 405 with `Allow` for other methods. The node must still
//! answer afterwards.
//!
//! `schemathesis` is `URBIS_SCHEMATHESIS` if set, else the virtual environment that
//! `.ci/schemathesis-env` creates. `URBIS_API_FUZZ_EXAMPLES` (30) sets the examples per
//! operation; the seed is printed, and `URBIS_API_FUZZ_SEED` repeats a run.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::TestNode;

fn schemathesis() -> PathBuf {
    common::ci_tool(
        "URBIS_SCHEMATHESIS",
        "schemathesis-env",
        "python3 with venv, and PyPI",
    )
}

#[test]
fn schemathesis_finds_nothing_in_the_documented_api() {
    let node = TestNode::start();
    let doc: serde_json::Value = reqwest::blocking::get(format!("{}/v1/openapi.json", node.url))
        .unwrap()
        .json()
        .unwrap();
    // Schemathesis leaves out the operation that serves the document it reads.
    let operations: usize = (doc["paths"].as_object().unwrap().values())
        .map(|m| m.as_object().unwrap().len())
        .sum::<usize>()
        - 1;
    let examples = std::env::var("URBIS_API_FUZZ_EXAMPLES").unwrap_or_else(|_| "30".into());
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(schemathesis());
    cmd.current_dir(dir.path())
        .env("NO_COLOR", "1")
        .args(["--no-color", "--config-file"])
        .arg(common::repo().join("crates/cli/tests/schemathesis/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/v1/openapi.json", node.url))
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", &examples])
        // One worker: CPython 3.11's parser is not safe across hypothesis's threads.
        .args(["--workers", "1", "--request-timeout", "35"]);
    if let Ok(seed) = std::env::var("URBIS_API_FUZZ_SEED") {
        cmd.args(["--seed", &seed]);
    }
    let out = cmd.output().expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let tail: String = {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(150)..].join("\n")
    };
    assert!(out.status.success(), "schemathesis found problems:\n{tail}");
    let summary = |label: &str| {
        text.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(label)
                    .map(str::trim)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| panic!("no `{label}` in the report:\n{tail}"))
    };
    assert_eq!(
        summary("Selected:"),
        format!("{operations}/{operations}"),
        "every operation of the document is fuzzed"
    );
    assert_eq!(summary("Tested:"), operations.to_string());
    for phase in ["Coverage", "Fuzzing", "Stateful"] {
        assert!(
            text.lines().any(|l| l.contains('✅') && l.contains(phase)),
            "phase {phase} did not pass:\n{tail}"
        );
    }
    eprintln!(
        "{}",
        text.lines()
            .filter(|l| l.contains("generated"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The node is still up and serving.
    let status: serde_json::Value = reqwest::blocking::get(format!("{}/v1/status", node.url))
        .unwrap()
        .json()
        .unwrap();
    assert!(status["height"].as_u64().is_some(), "{status}");
}
