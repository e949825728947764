//! Keys at rest through the `urbis` binary: keystore entries and validator keys are sealed with
//! a passphrase (from a file, the environment, or the terminal); a wrong or missing passphrase
//! is a clear error that leaves the file untouched; `keys change-passphrase` re-seals
//! everything.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn urbis(keystore: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_urbis"));
    cmd.env("URBIS_KEYSTORE", keystore)
        .env_remove("URBIS_PASSPHRASE")
        .env_remove("URBIS_NEW_PASSPHRASE")
        .env_remove("URBIS_PASSPHRASE_FILE")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn keystore_entries_are_sealed_and_need_their_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("keystore.json");
    let pass = [("URBIS_PASSPHRASE", "correct horse battery")];

    let alice = json(&urbis(
        &ks,
        &pass,
        &["keys", "new", "alice", "--output", "json"],
    ));
    assert_eq!(alice["encrypted"], true);
    let seed = "07".repeat(32);
    json(&urbis(
        &ks,
        &pass,
        &["keys", "import", "bob", "--seed", &seed, "--output", "json"],
    ));
    let text = std::fs::read_to_string(&ks).unwrap();
    assert!(!text.contains(&seed), "a seed in the clear: {text}");
    assert!(text.contains("argon2id"));

    // The secret comes out only with the passphrase.
    let shown = json(&urbis(
        &ks,
        &pass,
        &["keys", "show", "bob", "--reveal-secret", "--output", "json"],
    ));
    assert_eq!(shown["seed"], seed);
    let wrong = urbis(
        &ks,
        &[("URBIS_PASSPHRASE", "wrong")],
        &["keys", "show", "bob", "--reveal-secret"],
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("wrong_passphrase"),
        "{}",
        stderr(&wrong)
    );
    // No passphrase and no terminal: a clear error, not a hang.
    let none = urbis(&ks, &[], &["keys", "show", "bob", "--reveal-secret"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        stderr(&none).contains("passphrase_required"),
        "{}",
        stderr(&none)
    );
    // Adding a key under another passphrase is refused.
    let other = urbis(
        &ks,
        &[("URBIS_PASSPHRASE", "other")],
        &["keys", "new", "carol"],
    );
    assert!(
        stderr(&other).contains("wrong_passphrase"),
        "{}",
        stderr(&other)
    );
    assert_eq!(
        std::fs::read_to_string(&ks).unwrap(),
        text,
        "file untouched"
    );
    // Listing needs no passphrase.
    let list = json(&urbis(&ks, &[], &["keys", "list", "--output", "json"]));
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Change the passphrase (the new one from a file): the old one stops working.
    let new_file = dir.path().join("new-pass");
    std::fs::write(&new_file, "a much better passphrase\n").unwrap();
    let changed = urbis(
        &ks,
        &pass,
        &[
            "keys",
            "change-passphrase",
            "--new-passphrase-file",
            new_file.to_str().unwrap(),
        ],
    );
    assert!(changed.status.success(), "{}", stderr(&changed));
    let old = urbis(&ks, &pass, &["keys", "show", "bob", "--reveal-secret"]);
    assert!(stderr(&old).contains("wrong_passphrase"));
    let shown = json(&urbis(
        &ks,
        &[],
        &[
            "--passphrase-file",
            new_file.to_str().unwrap(),
            "keys",
            "show",
            "bob",
            "--reveal-secret",
            "--output",
            "json",
        ],
    ));
    assert_eq!(shown["seed"], seed);
}

#[test]
fn validator_keys_are_sealed_unless_asked_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("keystore.json");
    let pass_file = dir.path().join("pass");
    std::fs::write(&pass_file, "validator passphrase\n").unwrap();
    let v = dir.path().join("v1");
    let out = urbis(
        &ks,
        &[],
        &[
            "--passphrase-file",
            pass_file.to_str().unwrap(),
            "init",
            "--dir",
            v.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let key = std::fs::read_to_string(v.join("validator.key")).unwrap();
    let sealed: serde_json::Value = serde_json::from_str(&key).unwrap();
    assert_eq!(sealed["crypto"]["kdf"], "argon2id");
    let public: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.join("validator.json")).unwrap()).unwrap();
    assert_eq!(sealed["public_key"], public["public_key"]);
    // With the wrong passphrase the node does not start, and says why.
    std::fs::write(
        v.join("genesis.json"),
        serde_json::json!({"chain_id": "c", "genesis_time_ms": 0, "validators": [
            {"name": "v1", "public_key": public["public_key"], "address": public["p2p"]}
        ]})
        .to_string(),
    )
    .unwrap();
    let node = urbis(
        &ks,
        &[("URBIS_PASSPHRASE", "not it")],
        &["node", "--config", v.join("node.toml").to_str().unwrap()],
    );
    assert_eq!(node.status.code(), Some(1));
    assert!(
        stderr(&node).contains("wrong passphrase"),
        "{}",
        stderr(&node)
    );

    let plain = dir.path().join("v2");
    let out = urbis(
        &ks,
        &[],
        &[
            "init",
            "--dir",
            plain.to_str().unwrap(),
            "--insecure-plaintext-key",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("IN THE CLEAR"));
    let key = std::fs::read_to_string(plain.join("validator.key")).unwrap();
    assert_eq!(key.trim().len(), 64);
}
