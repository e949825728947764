//! The fuzz targets' smoke pass (see `fuzz/README.md`): builds every cargo-fuzz target and runs
//! each for `URBIS_FUZZ_SECONDS` (30) from its committed corpus (`fuzz/corpus/<target>`, read
//! only: new inputs go to a temporary directory), two at a time. Any crash, panic, timeout or
//! leak fails the test with libFuzzer's report and the input that caused it.
//!
//! `cargo-fuzz` is `URBIS_CARGO_FUZZ` if set, else what `.ci/fuzz-env` installs. The targets
//! build with the nightly toolchain when rustup has one, else with the default one (this build
//! uses no sanitizer, so it needs no unstable flag); several codegen units keep it short. With
//! `URBIS_FUZZ_SMOKE_CLEAN` set (CI), the build (`target/fuzz-smoke`, ~1.2 GB) is removed
//! afterwards.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn cargo_fuzz() -> PathBuf {
    common::ci_tool(
        "URBIS_CARGO_FUZZ",
        "fuzz-env",
        "crates.io to install cargo-fuzz",
    )
}

/// `nightly` when rustup has it installed, else the default toolchain.
fn toolchain() -> Option<&'static str> {
    let out = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.starts_with("nightly"))
        .then_some("nightly")
}

fn targets() -> Vec<String> {
    let manifest = std::fs::read_to_string(common::repo().join("fuzz/Cargo.toml")).unwrap();
    let doc: toml::Table = manifest.parse().unwrap();
    (doc["bin"].as_array().unwrap().iter())
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

fn command(fuzz: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(fuzz);
    cmd.current_dir(common::repo()).arg("fuzz").args(args);
    if let Some(t) = toolchain() {
        cmd.env("RUSTUP_TOOLCHAIN", t);
    }
    cmd
}

const BUILD: &[&str] = &[
    "--sanitizer",
    "none",
    "--codegen-units",
    "16",
    "--target-dir",
    "target/fuzz-smoke",
];

#[test]
fn every_fuzz_target_survives_a_smoke_pass() {
    let fuzz = cargo_fuzz();
    let seconds = std::env::var("URBIS_FUZZ_SECONDS").unwrap_or_else(|_| "30".into());
    let targets = targets();
    assert!(targets.len() >= 8, "{targets:?}");
    let build = command(&fuzz, &[&["build"], BUILD].concat())
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "cargo fuzz build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let scratch = tempfile::tempdir().unwrap();
    for pair in targets.chunks(2) {
        let runs: Vec<_> = pair
            .iter()
            .map(|t| {
                let fresh = scratch.path().join(t);
                std::fs::create_dir_all(&fresh).unwrap();
                let corpus = common::repo().join("fuzz/corpus").join(t);
                assert!(
                    std::fs::read_dir(&corpus).unwrap().count() > 0,
                    "{t} has no committed corpus"
                );
                let artifacts = format!("-artifact_prefix={}/", fresh.display());
                let time = format!("-max_total_time={seconds}");
                let mut args: Vec<&str> = [&["run"], BUILD].concat();
                args.extend([
                    t.as_str(),
                    fresh.to_str().unwrap(),
                    corpus.to_str().unwrap(),
                ]);
                args.extend([
                    "--",
                    &time,
                    "-max_len=65536",
                    "-timeout=20",
                    "-rss_limit_mb=4096",
                ]);
                args.push(&artifacts);
                let child = command(&fuzz, &args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                (t.clone(), child)
            })
            .collect();
        for (t, child) in runs {
            let out = child.wait_with_output().unwrap();
            let log = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            assert!(
                out.status.success(),
                "fuzz target {t} failed (reproduce: cargo +nightly fuzz run -s none {t} <input>):\n{}",
                tail.join("\n")
            );
            let done = log
                .lines()
                .rev()
                .find(|l| l.contains("Done "))
                .unwrap_or("");
            eprintln!("{t}: {done}");
        }
    }
    if std::env::var_os("URBIS_FUZZ_SMOKE_CLEAN").is_some() {
        let _ = std::fs::remove_dir_all(common::repo().join("target/fuzz-smoke"));
    }
}
