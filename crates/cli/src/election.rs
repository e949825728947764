//! `urbis election`: run a simulated verifiable election and verify election records.
//! Uses only the `urbis-votecrypto` library: no node, no network.

use std::path::Path;

use urbis_votecrypto::{DemoOptions, ElectionRecord, demo, verify_record};

use crate::cli::{ElectionCmd, Output};
use crate::fail;

pub fn run(cmd: ElectionCmd, output: Output) -> anyhow::Result<()> {
    match cmd {
        ElectionCmd::Demo {
            ballots,
            trustees,
            threshold,
            seed,
            referendum,
            out,
        } => {
            let record = demo(DemoOptions {
                ballots,
                trustees,
                threshold,
                seed,
                referendum,
            })
            .map_err(|e| fail("election", e.to_string()))?;
            let json = record
                .to_json_pretty()
                .map_err(|e| fail("election", e.to_string()))?;
            std::fs::write(&out, json)
                .map_err(|e| fail("io", format!("write {}: {e}", out.display())))?;
            eprintln!(
                "wrote {} ({} trustees, threshold {}, one trustee absent at the tally); check it with: urbis election verify {}",
                out.display(),
                trustees,
                threshold,
                out.display()
            );
            Ok(())
        }
        ElectionCmd::Verify { record } => verify(&record, output),
    }
}

fn verify(path: &Path, output: Output) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail("io", format!("read {}: {e}", path.display())))?;
    let record = ElectionRecord::from_json(&text)
        .map_err(|e| fail("malformed", format!("{}: {e}", path.display())))?;
    let report = verify_record(&record);
    match output {
        Output::Json => {
            let checks: Vec<serde_json::Value> = report
                .checks
                .iter()
                .map(
                    |c| serde_json::json!({"name": c.name, "passed": c.passed, "detail": c.detail}),
                )
                .collect();
            println!(
                "{}",
                serde_json::json!({"ok": report.is_ok(), "checks": checks, "first_failure": report.first_failure.as_ref().map(|(n, d)| serde_json::json!({"check": n, "detail": d}))})
            );
        }
        Output::Table => println!("{}", report.to_string().trim_end()),
    }
    match &report.first_failure {
        None => Ok(()),
        Some((name, detail)) => Err(fail("election_invalid", format!("{name}: {detail}"))),
    }
}
