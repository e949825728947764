//! The soak benchmark's bounded smoke (`urbis bench --scenario soak`, see BENCHMARKS.md for
//! the 10-minute figures): a short probe and a short soak at half its rate on a debug build,
//! transactions signed as they go. The report must show the node committing what was offered,
//! no refusals, and `VmRSS` sampled throughout.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn a_short_soak_commits_what_it_offers_and_samples_memory() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_urbis"))
        .env("HOME", home.path())
        .args(["bench", "--scenario", "soak", "--json"])
        .args(["--seconds", "16", "--probe-seconds", "4"])
        .args([
            "--departments",
            "4",
            "--citizens",
            "200",
            "--merchants",
            "4",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    eprintln!("{r:#}");
    assert!(r["capacity_tx_s"].as_f64().unwrap() > 0.0, "{r}");
    let offered = r["offered_tx_s"].as_f64().unwrap();
    assert!((offered - r["capacity_tx_s"].as_f64().unwrap() / 2.0).abs() < 1.0);
    assert_eq!(r["refused"], serde_json::json!({}), "{r}");
    let submitted = r["submitted"].as_u64().unwrap();
    assert!(submitted > 0, "{r}");
    // Everything offered in the window commits, bar what is still in flight at its end.
    let committed = r["committed"].as_u64().unwrap();
    assert!(committed * 10 >= submitted * 8, "{r}");
    assert!(r["samples"].as_array().unwrap().len() >= 3, "{r}");
    assert!(r["rss_peak_mib"].as_f64().unwrap() > 1.0, "{r}");
    assert!(r["latency_p50_ms"].as_f64().is_some(), "{r}");
}
