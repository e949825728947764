//! A health record through the `urbis` binary on a dev chain: written by a hospital about a
//! pseudonymous citizen, read by its subject, shared with a doctor under a consent grant (the
//! read logged before the key is released), refused without a receipt or after revocation,
//! opened in an emergency (flagged in the citizen's log), and erased by crypto-shredding.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestNode, files_containing, run_cli, wait_until};
use serde_json::{Value, json};
use urbis_core::{Hash, SecretKey};

const MARKER: &[u8] = b"MARKER-7f3a-blood-type-AB-negative";

fn seed(b: u8) -> [u8; 32] {
    [b; 32]
}

/// POST a signed vault request as `key`; (status, JSON answer).
fn vault(node: &TestNode, key: &SecretKey, path: &str, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut req = reqwest::blocking::Client::new().post(format!("{}{path}", node.url));
    for (name, value) in
        common::signed_headers(key, &node.chain_id, urbis_node::vault::VAULT_TAG, &bytes)
    {
        req = req.header(name, value);
    }
    let r = req.body(bytes).send().unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

#[test]
fn a_health_record_shared_under_a_grant_read_logged_opened_in_an_emergency_and_erased() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| run_cli(&node.url, dir.path(), args);
    let ok = |args: &[&str]| {
        let r = run(args);
        assert!(r.0, "{args:?}: {} {}", r.1, r.2);
        r.1
    };
    let last = |out: String| out.lines().last().unwrap().trim().to_string();
    let admin = hex::encode(node.admin.seed());
    ok(&["keys", "import", "admin", "--seed", &admin]);
    // Known seeds for the keys the test signs with or decrypts with itself.
    ok(&[
        "keys",
        "import",
        "hospital",
        "--seed",
        &hex::encode(seed(1)),
    ]);
    ok(&[
        "keys",
        "import",
        "hospital.enc",
        "--seed",
        &hex::encode(seed(2)),
    ]);
    ok(&[
        "keys",
        "import",
        "doctor.p1",
        "--seed",
        &hex::encode(seed(3)),
    ]);
    for (name, role) in [
        ("hospital", "hospital"),
        ("er", "hospital"),
        ("doctor", "citizen"),
        ("alice", "citizen"),
        ("erdesk", "citizen"),
    ] {
        if name != "hospital" {
            ok(&["keys", "new", name]);
        }
        ok(&[
            "tx",
            "accounts",
            "grant-role",
            "--from",
            "admin",
            "--account",
            name,
            "--role",
            role,
        ]);
    }
    for name in ["hospital", "doctor", "alice", "erdesk"] {
        ok(&["did", "create", "--from", name]);
    }
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("dids.json")).unwrap())
            .unwrap();
    let erdesk = wallet["dids"]["erdesk"]["did"]
        .as_str()
        .unwrap()
        .to_string();
    let configure = json!({"call": "configure", "emergency_reader": erdesk}).to_string();
    ok(&["tx", "call", "records", &configure, "--from", "admin"]);
    ok(&[
        "consent",
        "register-purpose",
        "--from",
        "admin",
        "--code",
        "treatment",
        "--description",
        "Medical treatment",
    ]);

    // Alice makes a pseudonym for the hospital; the hospital records her blood test.
    let pseudonym = last(ok(&[
        "record",
        "pseudonym",
        "--from",
        "alice",
        "--custodian",
        "hospital",
    ]));
    let file = dir.path().join("blood.txt");
    std::fs::write(&file, MARKER).unwrap();
    let id = last(ok(&[
        "record",
        "put",
        file.to_str().unwrap(),
        "--from",
        "hospital",
        "--kind",
        "health",
        "--subject",
        &pseudonym,
        "--subject-did",
        "alice",
    ]));
    let head: Value = reqwest::blocking::get(format!("{}/v1/query/records/head/{id}", node.url))
        .unwrap()
        .json::<Value>()
        .unwrap()["value"]
        .clone();
    assert_eq!(head["subject"], json!(pseudonym));
    assert!(!head.to_string().contains("alice"));
    let out = dir.path().join("out.txt");
    let read = |as_: &str, extra: &[&str]| {
        let _ = std::fs::remove_file(&out);
        let mut args = vec![
            "record",
            "get",
            &id,
            "--as",
            as_,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let r = run(&args);
        (r, std::fs::read(&out).unwrap_or_default())
    };
    for who in ["hospital", "alice"] {
        let (r, bytes) = read(who, &[]);
        assert!(r.0, "{who}: {}", r.2);
        assert_eq!(bytes, MARKER);
    }
    let (r, _) = read("doctor", &[]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);

    // The doctor asks, Alice grants: her CLI wraps the record's key for the doctor.
    let req = dir.path().join("request.json");
    let item = format!("record:{id}");
    ok(&[
        "consent",
        "request",
        "--from",
        "doctor",
        "--purpose",
        "treatment",
        "--scope",
        &item,
        "--out",
        req.to_str().unwrap(),
    ]);
    let request: Value = serde_json::from_str(&std::fs::read_to_string(&req).unwrap()).unwrap();
    let grant = last(ok(&[
        "consent",
        "grant",
        req.to_str().unwrap(),
        "--from",
        "alice",
        "--max-uses",
        "5",
    ]));

    // No log, no key: the grantee's signed request without a committed receipt gets nothing.
    let doctor_p1 = SecretKey::from_seed(seed(3));
    let key_path = format!("/v1/records/{id}/key");
    let base = json!({"record": id, "as": "grant", "grant": grant, "salt": request["salt"]});
    let (status, answer) = vault(&node, &doctor_p1, &key_path, &base);
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("no_access_receipt"))
    );
    let mut with_receipt = base.clone();
    with_receipt["receipt"] = json!(1);
    let (status, answer) = vault(&node, &doctor_p1, &key_path, &with_receipt);
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("no_access_receipt"))
    );
    assert!(answer.get("wrap").is_none());
    // Nor as anyone else, nor with a bad signature.
    let (status, answer) = vault(
        &node,
        &doctor_p1,
        &key_path,
        &json!({"record": id, "as": "custodian"}),
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("unauthorized"))
    );
    let (status, answer) = vault(
        &node,
        &doctor_p1,
        &key_path,
        &json!({"record": Hash([9; 32]), "as": "custodian"}),
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_argument"))
    );

    // Through the CLI the read is logged first, then the key released.
    let (r, bytes) = read("doctor", &["--grant", &grant]);
    assert!(r.0, "{}", r.2);
    assert_eq!(bytes, MARKER);
    let log: Value = serde_json::from_str(&ok(&["record", "log", "--from", "alice"])).unwrap();
    assert_eq!(log[0]["record"], json!(id));
    let reads = log[0]["reads_under_grants"].as_array().unwrap();
    assert_eq!(reads.len(), 1, "{log}");
    assert_eq!(reads[0]["grantee"], request["grantee_did"]);
    assert_eq!(reads[0]["purpose"], "treatment");
    assert!(log[0]["emergency_openings"].as_array().unwrap().is_empty());

    // Revoked: no more reads.
    ok(&["consent", "revoke", "--from", "alice", "--grant", &grant]);
    let (r, _) = read("doctor", &["--grant", &grant]);
    assert!(!r.0 && r.2.contains("revoked"), "{}", r.2);

    // Break-glass: only a hospital, always logged and shown to Alice.
    let (r, _) = read("doctor", &["--emergency", "--reason", "curious"]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    let (r, bytes) = read(
        "er",
        &[
            "--emergency",
            "--reason",
            "unconscious patient",
            "--reader-key",
            "erdesk",
        ],
    );
    assert!(r.0, "{}", r.2);
    assert_eq!(bytes, MARKER);
    let log: Value = serde_json::from_str(&ok(&["record", "log", "--from", "alice"])).unwrap();
    let openings = log[0]["emergency_openings"].as_array().unwrap();
    assert_eq!(openings.len(), 1, "{log}");
    assert_eq!(openings[0]["n"], 1);

    // The data key, as the custodian can obtain it (to look for it on disk afterwards).
    let hospital = SecretKey::from_seed(seed(1));
    let (status, answer) = vault(
        &node,
        &hospital,
        &key_path,
        &json!({"record": id, "as": "custodian"}),
    );
    assert_eq!(status, 200, "{answer}");
    let payload: Hash = head["ciphertext_hash"].as_str().unwrap().parse().unwrap();
    let wrap =
        urbis_sealing::Wrap::from_bytes(&hex::decode(answer["wrap"].as_str().unwrap()).unwrap())
            .unwrap();
    let mut context = b"urbis/record/v1".to_vec();
    context.extend_from_slice(&payload.0);
    let data_key = urbis_sealing::unwrap(
        &wrap,
        &urbis_sealing::AgreementKey::from_secret(seed(2)),
        &context,
    )
    .unwrap();
    let sealed_prefix = {
        let bytes = reqwest::blocking::get(format!("{}/v1/blobs/{payload}", node.url))
            .unwrap()
            .bytes()
            .unwrap();
        bytes[..64].to_vec()
    };
    let data = node.data_dir.clone();
    assert!(!files_containing(&data, &sealed_prefix).is_empty());
    // A tampered ciphertext is caught (the node checks the hash it is stored under) and
    // nothing is written out.
    let blob_file = data
        .join("blobs")
        .join(&payload.to_hex()[..2])
        .join(payload.to_hex());
    let original = std::fs::read(&blob_file).unwrap();
    let mut tampered = original.clone();
    tampered[100] ^= 1;
    std::fs::write(&blob_file, &tampered).unwrap();
    let (r, bytes) = read("alice", &[]);
    assert!(
        !r.0 && r.2.contains("internal") && r.2.contains("corrupted"),
        "{}",
        r.2
    );
    assert!(bytes.is_empty());
    std::fs::write(&blob_file, &original).unwrap();
    assert!(data.join("vault").join(&id).exists());

    // Erasure: not by Alice (health records are kept), by the hospital; every trace goes.
    let r = run(&["record", "erase", &id, "--from", "alice"]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    ok(&["record", "erase", &id, "--from", "hospital"]);
    wait_until("the record is shredded", Duration::from_secs(30), || {
        !data.join("vault").join(&id).exists() && files_containing(&data, &sealed_prefix).is_empty()
    });
    assert!(files_containing(&data, MARKER).is_empty());
    assert!(files_containing(&data, data_key.as_bytes()).is_empty());
    let (r, _) = read("alice", &[]);
    assert!(!r.0 && r.2.contains("erased"), "{}", r.2);
    let (status, answer) = vault(
        &node,
        &hospital,
        &key_path,
        &json!({"record": id, "as": "custodian"}),
    );
    assert_eq!((status, answer["code"].as_str()), (410, Some("erased")));
    let gone = reqwest::blocking::get(format!("{}/v1/blobs/{payload}", node.url)).unwrap();
    assert_eq!(gone.status().as_u16(), 404);
}
