//! `urbis election demo` writes a record that `urbis election verify` accepts; a tampered result
//! is rejected with a non-zero exit naming the failed check.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn demo_then_verify_then_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("election.json");
    let urbis = env!("CARGO_BIN_EXE_urbis");
    let out = Command::new(urbis)
        .args([
            "election",
            "demo",
            "--ballots",
            "40",
            "--trustees",
            "5",
            "--threshold",
            "3",
            "--seed",
            "11",
            "--out",
        ])
        .arg(&record)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(urbis)
        .args(["election", "verify", "--unanchored"])
        .arg(&record)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Without --unanchored, a record no chain certified is refused: nothing binds its board.
    let out = Command::new(urbis)
        .args(["election", "verify"])
        .arg(&record)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chain.anchor"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The record matches the published JSON Schema, which also requires what the format
    // binds (each ballot's sequence).
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../crypto/votecrypto/record.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&written)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let mut without = written.clone();
    without["ballots"][0]["ballot"]
        .as_object_mut()
        .unwrap()
        .remove("sequence");
    assert!(!validator.is_valid(&without));

    // Change one count of the published result.
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let mut changed = false;
    fn bump(v: &mut serde_json::Value, changed: &mut bool) {
        if *changed {
            return;
        }
        match v {
            serde_json::Value::Number(n) if n.as_u64().is_some() => {
                *v = serde_json::json!(n.as_u64().unwrap() + 1);
                *changed = true;
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| bump(x, changed)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| bump(x, changed)),
            _ => {}
        }
    }
    bump(&mut json["tally"]["result"], &mut changed);
    assert!(changed, "found a count to alter");
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&json).unwrap()).unwrap();
    let out = Command::new(urbis)
        .args(["election", "verify", "--unanchored"])
        .arg(&tampered)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tally.result"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
