//! Eligibility from an identity credential: the registrar enrolls a resident who presents
//! their resident credential (district and age checked, a second enrollment refused), and the
//! resident's credential votes in a one-trustee election on a dev node whose exported record
//! verifies against the genesis.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Cli, TestNode};

#[test]
fn a_resident_enrolled_from_their_credential_votes_and_the_record_verifies() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cli = Cli {
        node: &node,
        dir: d,
    };
    let run = |args: &[&str]| cli.run(args);
    let ok = |args: &[&str]| cli.ok(args);
    let last = |out: String| out.lines().last().unwrap().trim().to_string();
    cli.accounts(&[
        ("registry", "department"),
        ("office", "department"),
        ("registrar", "department"),
        ("trustee", "department"),
    ]);
    ok(&["keys", "new", "alice"]);
    ok(&[
        "did",
        "create",
        "--from",
        "registry",
        "--subject",
        "organisation",
    ]);
    let alice = last(ok(&["did", "create", "--from", "alice"]));
    ok(&[
        "did",
        "accredit",
        "--from",
        "admin",
        "--issuer",
        "registry",
        "--type",
        "urn:urbis:resident",
    ]);
    ok(&[
        "did",
        "status-list",
        "--from",
        "registry",
        "--bits",
        "1",
        "--size",
        "131072",
    ]);
    let claims = d.join("claims.json");
    std::fs::write(
        &claims,
        r#"{"given_name": "Ana", "family_name": "Peeters", "birthdate": "1990-04-01",
            "address": {"street_address": "Veldstraat 1", "locality": "Ghent", "postal_code": "9000"}}"#,
    )
    .unwrap();
    let cred = d.join("resident.txt");
    ok(&[
        "credential",
        "issue",
        "--from",
        "registry",
        "--type",
        "urn:urbis:resident",
        "--subject",
        &alice,
        "--claims",
        claims.to_str().unwrap(),
        "--status-list",
        "1",
        "--out",
        cred.to_str().unwrap(),
    ]);

    let id = last(ok(&[
        "election",
        "create",
        "--from",
        "office",
        "--question",
        "Close Veldstraat to cars?",
        "--trustee",
        "trustee",
        "--threshold",
        "1",
        "--registrar",
        "registrar",
        "--eligibility",
        "resident of Ghent aged 16 or over",
    ]));
    let state = d.join("trustee.json");
    ok(&[
        "election",
        "ceremony",
        "--from",
        "trustee",
        &id,
        "--state",
        state.to_str().unwrap(),
        "--wait",
    ]);

    // Alice presents her credential to the registrar (audience: this election).
    let present = |nonce: &str| {
        let p = d.join(format!("presentation-{nonce}.txt"));
        ok(&[
            "credential",
            "present",
            cred.to_str().unwrap(),
            "--disclose",
            "birthdate,address.locality",
            "--audience",
            &format!("urbis-election:{id}"),
            "--nonce",
            nonce,
            "--holder",
            "alice",
            "--out",
            p.to_str().unwrap(),
        ]);
        p
    };
    let roll = d.join("roll.json");
    let enroll = |p: &std::path::Path, nonce: &str, extra: &[&str], out: &str| {
        let mut args = vec![
            "election",
            "enroll",
            "--from",
            "registrar",
            &id,
            "--presentation",
            p.to_str().unwrap(),
            "--nonce",
            nonce,
            "--roll",
            roll.to_str().unwrap(),
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let vote_cred = d.join("vote.json");
    let p1 = present("n-1");
    // Another district, or too young for the rule: not eligible.
    let r = enroll(&p1, "n-1", &["--locality", "Antwerp"], "x.json");
    assert!(!r.0 && r.2.contains("not_eligible"), "{}", r.2);
    let r = enroll(&p1, "n-1", &["--min-age", "60"], "x.json");
    assert!(!r.0 && r.2.contains("not_eligible"), "{}", r.2);
    // A presentation made for another nonce is refused.
    let r = enroll(&p1, "n-other", &[], "x.json");
    assert!(!r.0, "{}", r.2);
    let r = enroll(
        &p1,
        "n-1",
        &["--locality", "Ghent", "--min-age", "16"],
        vote_cred.to_str().unwrap(),
    );
    assert!(r.0, "{} {}", r.1, r.2);
    // Enrolling the same credential again is refused.
    let p2 = present("n-2");
    let r = enroll(&p2, "n-2", &[], "y.json");
    assert!(!r.0 && r.2.contains("already_exists"), "{}", r.2);
    assert!(!d.join("y.json").exists());

    ok(&["election", "commit", "--from", "registrar", &id]);
    ok(&["election", "open", "--from", "office", &id]);
    let code = last(ok(&[
        "election",
        "cast",
        &id,
        "--credential",
        vote_cred.to_str().unwrap(),
        "--choice",
        "yes",
    ]));
    assert_eq!(code.len(), 64, "{code}");
    ok(&["election", "close", "--from", "office", &id]);
    ok(&[
        "election",
        "decrypt",
        "--from",
        "trustee",
        &id,
        "--state",
        state.to_str().unwrap(),
    ]);
    let status: serde_json::Value =
        serde_json::from_str(&ok(&["--output", "json", "election", "status", &id])).unwrap();
    assert_eq!(status["result"][0]["counts"], serde_json::json!([1, 0]));
    let record = d.join("record.json");
    ok(&["election", "export", &id, "--out", record.to_str().unwrap()]);
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(
        text.contains(&code),
        "the voter finds their code on the board"
    );
    assert!(!text.contains(&alice), "the record names no resident");
    ok(&[
        "election",
        "verify",
        record.to_str().unwrap(),
        "--genesis",
        node.genesis_path.to_str().unwrap(),
    ]);
}
