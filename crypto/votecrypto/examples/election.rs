//! Stand-in for `urbis election demo|verify` until the CLI is wired:
//!
//! ```text
//! cargo run -p urbis-votecrypto --release --example election -- demo --ballots 1000 --trustees 5 --threshold 3 --out record.json
//! cargo run -p urbis-votecrypto --release --example election -- verify record.json
//! ```

use std::process::ExitCode;

use urbis_votecrypto::{DemoOptions, ElectionRecord, demo, verify_record};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => {
            let opts = DemoOptions {
                ballots: arg(&args, "--ballots", 100),
                trustees: arg(&args, "--trustees", 5),
                threshold: arg(&args, "--threshold", 3),
                seed: args
                    .iter()
                    .position(|a| a == "--seed")
                    .map(|_| arg(&args, "--seed", 0)),
                referendum: args.iter().any(|a| a == "--referendum"),
            };
            let out: String = arg(&args, "--out", "record.json".to_string());
            match demo(opts).and_then(|r| r.to_json_pretty()) {
                Ok(json) => match std::fs::write(&out, json) {
                    Ok(()) => {
                        println!("wrote {out}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("cannot write {out}: {e}");
                        ExitCode::FAILURE
                    }
                },
                Err(e) => {
                    eprintln!("demo failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("verify") if args.len() == 2 => {
            let rec = std::fs::read_to_string(&args[1])
                .map_err(|e| e.to_string())
                .and_then(|s| ElectionRecord::from_json(&s).map_err(|e| e.to_string()));
            match rec {
                Err(e) => {
                    eprintln!("cannot read record: {e}");
                    ExitCode::from(2)
                }
                Ok(rec) => {
                    let report = verify_record(&rec);
                    println!("{report}");
                    if report.is_ok() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
            }
        }
        _ => {
            eprintln!(
                "usage: election demo [--ballots N] [--trustees N] [--threshold K] [--seed S] [--referendum] [--out FILE] | election verify FILE"
            );
            ExitCode::from(2)
        }
    }
}
