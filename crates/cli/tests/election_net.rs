//! A 3-of-5 election with 1,000 voters through the `urbis` binary on a 4-validator loopback
//! network: the key ceremony run by five trustee processes, 1,000 credentials issued and
//! committed, a batch of 1,000 ballots, a re-vote, a spoiled ballot, two trustees absent at the
//! tally; the record exported from chain state verifies (from two validators alike), and each
//! tamper a board operator could try is refused: a count changed, the last ballot dropped, a
//! spoiled entry dropped with the codes recomputed (with and without the anchor), a ballot
//! replayed word for word, a superseded ballot replayed after its re-vote, a spoiled ballot
//! relabelled as cast.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

mod common;

use common::{Nodes, run_cli, start_validator};
use urbis_votecrypto::ElectionRecord;
use urbis_votecrypto::ballot::BallotStatus;

const N: usize = 4;
const VOTERS: usize = 1_000;

#[test]
fn a_three_of_five_election_with_a_thousand_voters_runs_on_four_validators() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let apis = common::init_testnet(d, N, "election-net");
    let _nodes = Nodes((0..N).map(|i| Some(start_validator(d, i))).collect());
    common::wait_for_network(d, &apis, 3, Duration::from_secs(180));
    let wallet = tempfile::tempdir().unwrap();
    let w = wallet.path();
    let run = |api: &str, args: &[&str]| run_cli(api, w, args);
    let on = |api: &str, args: &[&str]| {
        let r = run(api, args);
        assert!(r.0, "{args:?} on {api}: {} {}", r.1, r.2);
        r.1
    };
    let last = |out: String| out.lines().last().unwrap().trim().to_string();
    let admin = std::fs::read_to_string(d.join("admin.key")).unwrap();
    on(
        &apis[0],
        &["keys", "import", "admin", "--seed", admin.trim()],
    );
    let trustees = ["t1", "t2", "t3", "t4", "t5"];
    for name in ["office", "registrar"].iter().chain(trustees.iter()) {
        on(&apis[0], &["keys", "new", name]);
        on(
            &apis[0],
            &[
                "tx",
                "accounts",
                "grant-role",
                "--from",
                "admin",
                "--account",
                name,
                "--role",
                "department",
            ],
        );
    }

    let mut create = vec![
        "election",
        "create",
        "--from",
        "office",
        "--question",
        "Build the northern tram line?",
        "--threshold",
        "3",
        "--registrar",
        "registrar",
        "--eligibility",
        "resident of the city, aged 16 or over",
    ];
    for t in &trustees {
        create.extend(["--trustee", t]);
    }
    let id = last(on(&apis[0], &create));
    assert_eq!(id.len(), 64, "{id}");

    // Five trustees run the ceremony at once, each through a different validator.
    let procs: Vec<_> = trustees
        .iter()
        .enumerate()
        .map(|(i, t)| {
            std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
                .env("URBIS_KEYSTORE", w.join("keystore.json"))
                .env("URBIS_PASSPHRASE", "cli test passphrase")
                .args(["--node", &apis[i % N]])
                .args([
                    "election", "ceremony", "--from", t, &id, "--wait", "--state",
                ])
                .arg(w.join(format!("{t}.json")))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for p in procs {
        let out = p.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = |api: &str| -> serde_json::Value {
        serde_json::from_str(&on(api, &["--output", "json", "election", "status", &id])).unwrap()
    };
    assert_eq!(status(&apis[1])["election"]["phase"], "registration");

    // The registrar issues 1,000 credentials and commits the list.
    let creds = w.join("credentials");
    on(
        &apis[0],
        &[
            "election",
            "credentials",
            "--from",
            "registrar",
            &id,
            "--count",
            &VOTERS.to_string(),
            "--out-dir",
            creds.to_str().unwrap(),
            "--commit",
        ],
    );
    let mut files: Vec<String> = std::fs::read_dir(&creds)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), VOTERS);
    // Not open yet: a ballot is refused.
    let cred0 = creds.join(&files[0]);
    let r = run(
        &apis[0],
        &[
            "election",
            "cast",
            &id,
            "--credential",
            cred0.to_str().unwrap(),
            "--choice",
            "yes",
        ],
    );
    assert!(!r.0 && r.2.contains("invalid_state"), "{}", r.2);
    on(&apis[0], &["election", "open", "--from", "office", &id]);

    // 1,000 ballots in one batch through validator 2: the first 600 yes, the rest no.
    let votes = creds.join("votes.txt");
    let lines: Vec<String> = files
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{f} {}", if i < 600 { "yes" } else { "no" }))
        .collect();
    std::fs::write(&votes, lines.join("\n")).unwrap();
    let codes = on(
        &apis[2],
        &["election", "cast", &id, "--votes", votes.to_str().unwrap()],
    );
    assert_eq!(codes.lines().count(), VOTERS);

    // Voter 0 changes their mind; voter 999 challenges the device with a spoiled ballot.
    on(
        &apis[1],
        &[
            "election",
            "cast",
            &id,
            "--credential",
            cred0.to_str().unwrap(),
            "--choice",
            "no",
        ],
    );
    let spoiler = creds.join(&files[VOTERS - 1]);
    let r = run(
        &apis[3],
        &[
            "election",
            "spoil",
            &id,
            "--credential",
            spoiler.to_str().unwrap(),
            "--choice",
            "yes",
        ],
    );
    assert!(r.0, "{} {}", r.1, r.2);
    assert!(r.2.contains("opens to"), "{}", r.2);
    // A bad choice is refused before anything is sent.
    let r = run(
        &apis[0],
        &[
            "election",
            "cast",
            &id,
            "--credential",
            cred0.to_str().unwrap(),
            "--choice",
            "maybe",
        ],
    );
    assert!(!r.0 && r.2.contains("invalid_argument"), "{}", r.2);

    on(&apis[0], &["election", "close", "--from", "office", &id]);
    let r = run(
        &apis[0],
        &[
            "election",
            "cast",
            &id,
            "--credential",
            cred0.to_str().unwrap(),
            "--choice",
            "yes",
        ],
    );
    assert!(!r.0 && r.2.contains("invalid_state"), "{}", r.2);

    // Trustees 1, 3 and 5 decrypt; 2 and 4 are absent. A stranger cannot.
    let r = run(
        &apis[0],
        &[
            "election",
            "decrypt",
            "--from",
            "office",
            &id,
            "--state",
            w.join("t1.json").to_str().unwrap(),
        ],
    );
    assert!(!r.0 && r.2.contains("unauthorized"), "{}", r.2);
    for (i, t) in ["t1", "t3", "t5"].iter().enumerate() {
        on(
            &apis[i],
            &[
                "election",
                "decrypt",
                "--from",
                t,
                &id,
                "--state",
                w.join(format!("{t}.json")).to_str().unwrap(),
            ],
        );
    }
    let s = status(&apis[3]);
    assert_eq!(s["election"]["phase"], "tallied");
    // The portal shows the result and the turnout.
    let page = reqwest::blocking::get(format!("{}/participation/elections/{id}", apis[1]))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("401 / 1000") && page.contains("599 / 1000") && page.contains("(100 %)"),
        "{page}"
    );
    assert_eq!(s["result"][0]["counts"], serde_json::json!([599, 401]));
    assert_eq!(s["turnout"]["voted"], VOTERS as u64);
    assert_eq!(s["board"]["entries"], VOTERS as u64 + 2);

    // The record from two validators' state; both verify against the genesis alone.
    let genesis = d.join("genesis.json");
    for (k, api) in [&apis[0], &apis[3]].iter().enumerate() {
        let record = w.join(format!("record{k}.json"));
        on(
            api,
            &["election", "export", &id, "--out", record.to_str().unwrap()],
        );
        let out = on(
            api,
            &[
                "election",
                "verify",
                record.to_str().unwrap(),
                "--genesis",
                genesis.to_str().unwrap(),
            ],
        );
        assert!(out.contains("chain.anchor"), "{out}");
    }
    // Tampered records are refused, naming the check: a count changed; the last ballot
    // dropped (and the head moved back); then the record-soundness attacks, each with the
    // code chain and the counted list recomputed by the attacker (SPEC.md §8.1, §10).
    let text = std::fs::read_to_string(w.join("record0.json")).unwrap();
    let bad = w.join("bad.json");
    let refused = |rec: &ElectionRecord, check: &str| {
        std::fs::write(&bad, rec.to_json().unwrap()).unwrap();
        let r = run(
            &apis[0],
            &[
                "election",
                "verify",
                bad.to_str().unwrap(),
                "--genesis",
                genesis.to_str().unwrap(),
            ],
        );
        assert!(
            !r.0 && r.2.contains("election_invalid") && r.2.contains(check),
            "{check}: {}",
            r.2
        );
    };
    let base = ElectionRecord::from_json(&text).unwrap();
    let mut rec = base.clone();
    rec.tally.result[0].counts = vec![600, 400];
    refused(&rec, "tally.result");
    let mut rec = base.clone();
    let dropped = rec.ballots.pop().unwrap();
    rec.chain_head = dropped.previous_code;
    refused(&rec, "election_invalid");
    let spoiled = |rec: &ElectionRecord| {
        rec.ballots
            .iter()
            .position(|b| b.status == BallotStatus::Spoiled)
            .unwrap()
    };
    // A spoiled entry dropped: the certified board has one more; stripping the anchor too
    // leaves a record nothing certifies.
    let mut rec = base.clone();
    rec.ballots.remove(spoiled(&rec));
    rec.relink();
    refused(&rec, "ballots.anchor");
    rec.anchor = None;
    refused(&rec, "chain.anchor");
    // A ballot replayed word for word.
    let mut rec = base.clone();
    rec.ballots.push(rec.ballots[0].clone());
    rec.relink();
    refused(&rec, "ballots.replay");
    // The re-voter's first ballot replayed after the re-vote, to undo it.
    let mut rec = base.clone();
    let counted: std::collections::HashSet<_> = rec.tally.counted.iter().copied().collect();
    let superseded = rec
        .ballots
        .iter()
        .find(|b| b.status == BallotStatus::Cast && !counted.contains(&b.confirmation_code))
        .unwrap()
        .clone();
    rec.ballots.push(superseded);
    rec.relink();
    refused(&rec, "ballots.replay");
    // A spoiled (publicly opened) ballot relabelled as cast: the voter signed "spoil".
    let mut rec = base.clone();
    let i = spoiled(&rec);
    rec.ballots[i].status = BallotStatus::Cast;
    rec.ballots[i].reveal = None;
    rec.relink();
    refused(&rec, "ballots.signatures");
}
