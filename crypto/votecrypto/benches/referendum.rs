//! Full verification of a large yes/no referendum record (default 100,000 voters).
//!
//! `cargo bench -p urbis-votecrypto --bench referendum`
//! Environment: `VOTECRYPTO_REFERENDUM_BALLOTS` (voters, default 100000),
//! `VOTECRYPTO_THREADS` (verifier threads, default: all cores).
//! The generated record is cached in `target/votecrypto-referendum-<N>.json`.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Instant;

use urbis_votecrypto::{DemoOptions, ElectionRecord, demo, verify_record_with_threads};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("VOTECRYPTO_REFERENDUM_BALLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let threads: usize = std::env::var("VOTECRYPTO_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |p| p.get()));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let path = dir.join(format!("votecrypto-referendum-{n}.json"));
    let json = if let Ok(j) = std::fs::read_to_string(&path) {
        println!("using cached record {}", path.display());
        j
    } else {
        let t = Instant::now();
        let rec = demo(DemoOptions {
            ballots: n,
            trustees: 5,
            threshold: 3,
            seed: Some(100),
            referendum: true,
        })
        .unwrap();
        println!(
            "generated {n}-voter referendum ({} board entries) in {:.1?}",
            rec.ballots.len(),
            t.elapsed()
        );
        let j = rec.to_json().unwrap();
        let _ = std::fs::write(&path, &j);
        j
    };
    let t0 = Instant::now();
    let rec = ElectionRecord::from_json(&json).unwrap();
    let parsed = t0.elapsed();
    let t1 = Instant::now();
    let rep = verify_record_with_threads(&rec, threads);
    let verified = t1.elapsed();
    assert!(rep.is_ok(), "{rep}");
    let total = t0.elapsed();
    println!(
        "record: {} MiB, {} board entries; parse {parsed:.2?}, verify {verified:.2?} on {threads} thread(s), total {total:.2?}",
        json.len() >> 20,
        rec.ballots.len()
    );
    println!(
        "throughput: {:.0} ballots/s overall, {:.0} ballots/s/thread",
        rec.ballots.len() as f64 / total.as_secs_f64(),
        rec.ballots.len() as f64 / verified.as_secs_f64() / threads as f64
    );
}
