//! Records on a 4-validator loopback network of `urbis node` processes: a blob and its wrapped
//! keys written through one validator reach the others (pushed, or fetched by a validator that
//! was down), the record stays readable while its custodian's node is down, and an erasure
//! destroys the ciphertext and keys on every node, one that was down at the time included.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

mod common;

use common::{Nodes, files_containing, files_named as find, run_cli, start_validator, wait_until};

const N: usize = 4;

#[test]
fn records_replicate_survive_their_custodians_node_and_are_shredded_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let apis = common::init_testnet(d, N, "records-net");
    let mut nodes = Nodes((0..N).map(|i| Some(start_validator(d, i))).collect());
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    common::wait_for_network(d, &apis, 3, Duration::from_secs(180));
    let wallet = tempfile::tempdir().unwrap();
    let on = |api: &str, args: &[&str]| {
        let r = run_cli(api, wallet.path(), args);
        assert!(r.0, "{args:?} on {api}: {} {}", r.1, r.2);
        r.1
    };
    let last = |out: String| out.lines().last().unwrap().trim().to_string();
    let admin = std::fs::read_to_string(d.join("admin.key")).unwrap();
    on(
        &apis[0],
        &["keys", "import", "admin", "--seed", admin.trim()],
    );
    for (name, role) in [("hospital", "hospital"), ("alice", "citizen")] {
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
                role,
            ],
        );
        on(&apis[0], &["did", "create", "--from", name]);
    }
    let pseudonym = last(on(
        &apis[0],
        &[
            "record",
            "pseudonym",
            "--from",
            "alice",
            "--custodian",
            "hospital",
        ],
    ));

    // Validator 3 is down while the record is written through validator 0.
    let mut v3 = nodes.0[3].take().unwrap();
    v3.kill().unwrap();
    v3.wait().unwrap();
    let marker = b"MARKER-net-41c9-allergy-penicillin";
    let mut content = marker.to_vec();
    content.extend((0..(3 << 20)).map(|i: u32| (i % 253) as u8)); // several p2p parts
    let file = wallet.path().join("chart.bin");
    std::fs::write(&file, &content).unwrap();
    let id = last(on(
        &apis[0],
        &[
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
        ],
    ));
    let head = common::get_json(&http, &format!("{}/v1/query/records/head/{id}", apis[0])).unwrap()
        ["value"]
        .clone();
    let payload = head["ciphertext_hash"].as_str().unwrap().to_string();
    let node_dir = |i: usize| d.join(format!("node{i}"));
    wait_until(
        "the blob and its keys pushed to validators 1 and 2",
        Duration::from_secs(60),
        || {
            (1..3).all(|i| {
                !find(&node_dir(i), &payload).is_empty()
                    && find(&node_dir(i), &format!("{:010}-subject", 1)).len() == 1
            })
        },
    );
    assert!(find(&node_dir(3), &payload).is_empty());

    // Validator 3 comes back and serves the record: it asks its peers for what it missed.
    nodes.0[3] = Some(start_validator(d, 3));
    wait_until("validator 3 ready", Duration::from_secs(90), || {
        http.get(format!("{}/readyz", apis[3]))
            .send()
            .is_ok_and(|r| r.status().is_success())
    });
    wait_until(
        "validator 3 executed the record",
        Duration::from_secs(60),
        || {
            common::get_json(&http, &format!("{}/v1/query/records/head/{id}", apis[3]))
                .is_some_and(|v| !v["value"].is_null())
        },
    );
    let out = wallet.path().join("out.bin");
    let read_on = |api: &str| {
        let _ = std::fs::remove_file(&out);
        let r = run_cli(
            api,
            wallet.path(),
            &[
                "record",
                "get",
                &id,
                "--as",
                "alice",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        (r, std::fs::read(&out).unwrap_or_default())
    };
    let (r, bytes) = read_on(&apis[3]);
    assert!(r.0, "{}", r.2);
    assert!(bytes == content);
    assert_eq!(find(&node_dir(3), &payload).len(), 1);
    // A torn copy (a replica is not synced before it is acknowledged) heals from the peers.
    let copy = &find(&node_dir(3), &payload)[0];
    std::fs::write(copy, b"torn by a crash").unwrap();
    let (r, bytes) = read_on(&apis[3]);
    assert!(r.0, "{}", r.2);
    assert!(bytes == content);

    // The custodian's validator goes down: the record is still readable elsewhere.
    let mut v0 = nodes.0[0].take().unwrap();
    v0.kill().unwrap();
    v0.wait().unwrap();
    let (r, bytes) = read_on(&apis[2]);
    assert!(r.0, "{}", r.2);
    assert!(bytes == content);
    let sealed: Vec<u8> = std::fs::read(&find(&node_dir(2), &payload)[0]).unwrap();

    // Erased while validator 0 is down: shredded on 1-3 now, on 0 once it is back.
    on(&apis[1], &["record", "erase", &id, "--from", "hospital"]);
    let shredded =
        |i: usize| find(&node_dir(i), &payload).is_empty() && find(&node_dir(i), &id).is_empty();
    wait_until(
        "shredded on the running validators",
        Duration::from_secs(60),
        || (1..N).all(shredded),
    );
    nodes.0[0] = Some(start_validator(d, 0));
    wait_until(
        "shredded on validator 0 after its restart",
        Duration::from_secs(120),
        || shredded(0),
    );
    for i in 0..N {
        assert!(
            files_containing(&node_dir(i), &sealed[..64]).is_empty(),
            "ciphertext left on node {i}"
        );
        assert!(
            files_containing(&node_dir(i), marker).is_empty(),
            "plaintext on node {i}"
        );
    }
    let (r, _) = read_on(&apis[2]);
    assert!(!r.0 && r.2.contains("erased"), "{}", r.2);
    drop(nodes);
}
