//! A building permit through the shipped workflow definition and the `urbis` binary: a
//! resident applies with documents and a fee held from her balance, the department checks
//! completeness and publishes the notice, neighbours object (once each), nobody may close the
//! notice early and it closes by itself, two of the three officials approve, the permit is
//! issued to her (provable) as a credential she presents and anyone verifies until the
//! department revokes it, and the fee reaches the city's treasury; another department may not
//! take over the workflow; and a business licence renewed tacitly when nobody answers in time.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Cli, TestNode};

#[test]
fn a_building_permit_and_a_tacit_licence_renewal_run_through_their_workflows() {
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
        ("planning", "department"),
        ("official2", "department"),
        ("official3", "department"),
        ("parks", "department"),
        ("treasury", "department"),
        ("alice", "citizen"),
        ("bob", "citizen"),
        ("bakery", "merchant"),
    ]);
    let shipped = |f: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../workflows")
            .join(f)
            .to_str()
            .unwrap()
            .to_string()
    };
    ok(&[
        "tx",
        "assets",
        "create",
        "--from",
        "admin",
        "--symbol",
        "EURc",
        "--name",
        "Euro cents",
    ]);
    for who in ["alice", "bakery"] {
        ok(&[
            "tx", "assets", "issue", "--from", "admin", "--symbol", "EURc", "--to", who,
            "--amount", "1000",
        ]);
    }
    let address = |name: &str| -> String {
        let v: serde_json::Value =
            serde_json::from_str(&ok(&["keys", "show", name, "--output", "json"])).unwrap();
        v["address"].as_str().unwrap().to_string()
    };
    let treasury = address("treasury");
    // The planning department's officials (who approve permits).
    ok(&[
        "gov",
        "department",
        "--from",
        "admin",
        "planning",
        "--name",
        "Planning",
    ]);
    for who in ["planning", "official2", "official3"] {
        ok(&["gov", "officer", "--from", "admin", "planning", who]);
    }
    // The department issues permits as credentials under its DID, from a status list of its
    // own; the city accredits it for permits. Alice has a DID to hold hers.
    let planning_did = last(ok(&[
        "did",
        "create",
        "--from",
        "planning",
        "--subject",
        "organisation",
    ]));
    ok(&[
        "did",
        "status-list",
        "--from",
        "planning",
        "--bits",
        "1",
        "--size",
        "1024",
    ]);
    ok(&[
        "did",
        "accredit",
        "--from",
        "admin",
        "--issuer",
        "planning",
        "--type",
        "urn:urbis:permit",
    ]);
    ok(&["did", "create", "--from", "alice"]);
    let permit_file = shipped("building-permit.json");
    // A placeholder left unfilled is refused before anything is sent.
    let r = run(&[
        "workflow",
        "define",
        "--from",
        "planning",
        "--file",
        &permit_file,
    ]);
    assert!(!r.0 && r.2.contains("placeholder"), "{}", r.2);
    let define_permit = |from: &str| {
        let treasury = format!("TREASURY={treasury}");
        let issuer = format!("ISSUER={planning_did}");
        let mut args = vec!["workflow", "define", "--from", from, "--file", &permit_file];
        for v in [
            "FEE_ASSET=EURc",
            "FEE=250",
            "NOTICE_MS=3000",
            &treasury,
            "DEPARTMENT=planning",
            &issuer,
            "STATUS_LIST=1",
        ] {
            args.extend(["--var", v]);
        }
        run(&args)
    };
    let defined = define_permit("planning");
    assert!(
        defined.0 && defined.1.contains("building-permit v1"),
        "{defined:?}"
    );
    // Another department may not publish a version of planning's workflow.
    let r = define_permit("parks");
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    // A TOML definition works the same.
    let toml_out = ok(&[
        "workflow",
        "define",
        "--from",
        "planning",
        "--file",
        &shipped("road-closure.toml"),
    ]);
    assert!(toml_out.contains("road-closure v1"), "{toml_out}");
    let listed = ok(&["workflow", "list"]);
    assert!(listed.contains("building-permit v1"), "{listed}");

    let application = d.join("application.pdf");
    std::fs::write(
        &application,
        "Extension of 12 Elm Street, plans attached.\n",
    )
    .unwrap();
    let plans = d.join("plans.pdf");
    std::fs::write(&plans, "plans").unwrap();
    let id = last(ok(&[
        "workflow",
        "start",
        "--from",
        "alice",
        "building-permit",
        "--subject",
        application.to_str().unwrap(),
        "--document",
        plans.to_str().unwrap(),
    ]));
    let balance = |who: &str| -> u64 {
        let out = ok(&[
            "--output", "json", "query", "raw", "assets", "balance", "EURc", who,
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["value"]["amount"]
            .as_u64()
            .or_else(|| v["amount"].as_u64())
            .unwrap_or(0)
    };
    let alice_addr = address("alice");
    assert_eq!(balance(&alice_addr), 750, "the fee is held");
    let act = |who: &str, t: &str| run(&["workflow", "act", "--from", who, &id, t]);
    for who in ["alice", "parks"] {
        let r = act(who, "complete");
        assert!(!r.0 && r.2.contains("unauthorized"), "{who}: {}", r.2);
    }
    let r = act("planning", "approve");
    assert!(!r.0 && r.2.contains("invalid_state"), "{}", r.2);
    assert!(act("planning", "complete").0);
    assert!(act("planning", "publish").0);
    let objection = d.join("objection.txt");
    std::fs::write(&objection, "It blocks my light.\n").unwrap();
    ok(&[
        "workflow",
        "act",
        "--from",
        "bob",
        &id,
        "object",
        "--document",
        objection.to_str().unwrap(),
    ]);
    let r = act("bob", "object");
    assert!(!r.0 && r.2.contains("already_exists"), "{}", r.2);
    let r = act("planning", "close_notice");
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    // The notice closes by itself.
    let state = || -> String {
        let v: serde_json::Value = serde_json::from_str(&ok(&["workflow", "show", &id])).unwrap();
        v["instance"]["state"].as_str().unwrap().to_string()
    };
    common::wait_until(
        "the notice closes",
        std::time::Duration::from_secs(30),
        || state() == "review",
    );
    assert!(act("planning", "approve").0);
    assert_eq!(state(), "review", "one approval of two");
    assert!(act("official2", "approve").0);
    let shown: serde_json::Value = serde_json::from_str(&ok(&["workflow", "show", &id])).unwrap();
    assert_eq!(shown["instance"]["state"], "issued");
    assert_eq!(shown["permit"]["permit_type"], "building");
    assert_eq!(shown["permit"]["holder"], alice_addr);
    let steps: Vec<&str> = shown["instance"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["transition"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["complete", "publish", "close_notice", "approve"]);
    assert_eq!(shown["remarks"][0]["transition"], "object");
    assert_eq!(shown["permit"]["credential"]["status_idx"], 0);
    assert_eq!(balance(&treasury), 250, "the fee reached the treasury");
    let proof = d.join("permit.proof.json");
    ok(&[
        "query",
        "raw",
        "governance",
        "permit",
        &id,
        "--prove",
        "--out",
        proof.to_str().unwrap(),
    ]);
    ok(&[
        "verify",
        proof.to_str().unwrap(),
        "--genesis",
        node.genesis_path.to_str().unwrap(),
    ]);
    // The permit as a credential: signed by the department, held by Alice (not by Bob).
    let cred = d.join("permit.sdjwt");
    let pres = d.join("permit.presented");
    let (c, p) = (cred.to_str().unwrap(), pres.to_str().unwrap());
    let r = run(&[
        "workflow",
        "credential",
        &id,
        "--from",
        "planning",
        "--subject",
        "bob",
    ]);
    assert!(!r.0, "bob has no DID");
    ok(&[
        "workflow",
        "credential",
        &id,
        "--from",
        "planning",
        "--subject",
        "alice",
        "--out",
        c,
    ]);
    ok(&[
        "credential",
        "present",
        c,
        "--disclose",
        "subject_hash",
        "--audience",
        "bank",
        "--nonce",
        "loan-1",
        "--holder",
        "alice",
        "--out",
        p,
    ]);
    let verify = || {
        run(&[
            "credential",
            "verify",
            p,
            "--audience",
            "bank",
            "--nonce",
            "loan-1",
            "--genesis",
            node.genesis_path.to_str().unwrap(),
        ])
    };
    let report: serde_json::Value = serde_json::from_str(&verify().1).unwrap();
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["claims"]["permit_type"], "building");
    assert_eq!(report["claims"]["instance"], id.as_str());
    ok(&["credential", "revoke", c, "--from", "planning"]);
    let r = verify();
    assert!(!r.0 && r.2.contains("revoked"), "{}", r.2);

    // A business licence: nobody answers within the window, so it is renewed tacitly.
    ok(&[
        "workflow",
        "define",
        "--from",
        "planning",
        "--file",
        &shipped("business-licence-renewal.json"),
        "--var",
        "FEE_ASSET=EURc",
        "--var",
        "FEE=100",
        "--var",
        "ANSWER_MS=2000",
        "--var",
        &format!("TREASURY={treasury}"),
        "--var",
        "DEPARTMENT=planning",
    ]);
    let r = run(&[
        "workflow",
        "start",
        "--from",
        "alice",
        "business-licence-renewal",
        "--subject",
        application.to_str().unwrap(),
    ]);
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    let licence = last(ok(&[
        "workflow",
        "start",
        "--from",
        "bakery",
        "business-licence-renewal",
        "--subject",
        application.to_str().unwrap(),
    ]));
    common::wait_until(
        "the tacit renewal",
        std::time::Duration::from_secs(30),
        || {
            let v: serde_json::Value =
                serde_json::from_str(&ok(&["workflow", "show", &licence])).unwrap();
            v["permit"]["permit_type"] == "business-licence"
        },
    );
    assert_eq!(balance(&treasury), 350);
}
