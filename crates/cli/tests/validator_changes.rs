//! Validator-set changes on a real network of `urbis node` processes: the council adds a
//! validator that is not in the genesis (started from the beginning, it follows until its
//! epoch) and removes a genesis validator while transactions keep coming; nobody restarts.
//! Then two of the old validators stop and the new set carries on, a full node that followed
//! through the changes agrees, and a proof certified by the new set verifies from the genesis
//! file alone with `urbis verify` and the Python verifier.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Nodes, get_json, key_from_hex, run_cli, wait_until};
use urbis_core::{Call, SecretKey, SignedTx};

const EPOCH: u64 = 40;

fn urbis() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
}

fn start(dir: &std::path::Path) -> std::process::Child {
    let log = std::fs::File::create(dir.join("test.log")).unwrap();
    urbis()
        .args(["node", "--config"])
        .arg(dir.join("node.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn status(http: &reqwest::blocking::Client, api: &str) -> serde_json::Value {
    get_json(http, &format!("{api}/v1/status")).unwrap_or_default()
}

fn height(http: &reqwest::blocking::Client, api: &str) -> u64 {
    status(http, api)["height"].as_u64().unwrap_or(0)
}

/// The epoch the latest council change applies from (the newest scheduled set's first epoch).
fn newest_set_epoch(http: &reqwest::blocking::Client, api: &str) -> u64 {
    let v = get_json(http, &format!("{api}/v1/validators")).unwrap();
    v["scheduled"].as_array().unwrap().last().unwrap()["from_epoch"]
        .as_u64()
        .unwrap()
}

#[test]
fn council_changes_the_validator_set_under_load_and_proofs_verify_from_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let apis = common::init_testnet_with(d, 4, "changes", &["--epoch-length", &EPOCH.to_string()]);
    let genesis = d.join("genesis.json");

    // Validator 4: a key the genesis does not name; it runs from the start.
    let v4 = d.join("node4");
    let (api4, p2p4) = (common::free_port(), common::free_port());
    let out = urbis()
        .args([
            "init",
            "--insecure-plaintext-key",
            "--name",
            "node4",
            "--dir",
        ])
        .arg(&v4)
        .args(["--api", &format!("127.0.0.1:{api4}")])
        .args(["--p2p", &format!("127.0.0.1:{p2p4}")])
        .args(["--genesis", "../genesis.json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = std::fs::read_to_string(v4.join("node.toml")).unwrap();
    std::fs::write(
        v4.join("node.toml"),
        toml.replace("block_time_ms = 250", "block_time_ms = 100"),
    )
    .unwrap();
    let public: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v4.join("validator.json")).unwrap()).unwrap();
    let key4 = public["public_key"].as_str().unwrap().to_string();

    // A full node following validator 2 from genesis.
    let full = d.join("full");
    let full_port = common::free_port();
    let out = urbis()
        .args(["init", "--full", "--dir"])
        .arg(&full)
        .args(["--api", &format!("127.0.0.1:{full_port}")])
        .args(["--genesis", "../genesis.json", "--follow", &apis[2]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut nodes = Nodes(
        (0..4)
            .map(|i| Some(common::start_validator(d, i)))
            .chain([Some(start(&v4)), Some(start(&full))])
            .collect(),
    );
    common::wait_for_network(d, &apis, 3, Duration::from_secs(120));
    let http = common::http();
    let api4 = format!("http://127.0.0.1:{api4}");
    let full_api = format!("http://127.0.0.1:{full_port}");
    let key0 = get_json(&http, &format!("{}/v1/genesis", apis[0])).unwrap()["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["public_key"].as_str().unwrap().to_string())
        .find(|k| *k != key4)
        .unwrap();

    // Load: a department account labels itself ~20 times a second through validator 3.
    let admin = key_from_hex(&std::fs::read_to_string(d.join("admin.key")).unwrap());
    let chain = common::chain_ref(&apis[0]);
    let loader = SecretKey::from_label("changes-loader");
    common::commit(
        &http,
        &apis[0],
        &common::grant_label(&chain, &admin, 0, "changes-loader"),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let load = {
        let (stop, sent, api, chain) = (stop.clone(), sent.clone(), apis[3].clone(), chain.clone());
        std::thread::spawn(move || {
            let http = common::http();
            let mut nonce = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let tx = SignedTx::new(
                    &chain,
                    &loader,
                    nonce,
                    Call::new(
                        "accounts",
                        &urbis_accounts::AccountsCall::SetLabel {
                            label: format!("load {nonce}"),
                        },
                    ),
                );
                let ok = http
                    .post(format!("{api}/v1/txs"))
                    .json(&tx)
                    .send()
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    nonce += 1;
                    sent.store(nonce, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // The council (the admin alone, no timelock) adds validator 4, then removes validator 0.
    let wallet = tempfile::tempdir().unwrap();
    let w = wallet.path();
    let on = |args: &[&str]| {
        let r = run_cli(&apis[1], w, args);
        assert!(r.0, "{args:?}: {} {}", r.1, r.2);
        r.1
    };
    let seed = std::fs::read_to_string(d.join("admin.key")).unwrap();
    on(&["keys", "import", "admin", "--seed", seed.trim()]);
    let desc = d.join("why.txt");
    std::fs::write(&desc, "Transit authority joins the consortium.\n").unwrap();
    let desc = desc.to_str().unwrap();
    on(&[
        "gov",
        "council",
        "seat",
        "--from",
        "admin",
        "--member",
        "admin",
        "--threshold",
        "1",
        "--timelock-secs",
        "0",
    ]);
    let last = |out: String| out.lines().last().unwrap().trim().to_string();
    let p2p4 = format!("127.0.0.1:{p2p4}");
    let id = last(on(&[
        "gov",
        "council",
        "propose-validator",
        "--from",
        "admin",
        "--add",
        &key4,
        "--name",
        "node4",
        "--address",
        &p2p4,
        "--description",
        desc,
    ]));
    on(&["gov", "council", "execute", "--from", "admin", &id]);
    let added_from = newest_set_epoch(&http, &apis[1]);
    // A proposal the schedule refuses fails at execution, with its error code.
    let id = last(on(&[
        "gov",
        "council",
        "propose-validator",
        "--from",
        "admin",
        "--add",
        &key4,
        "--name",
        "again",
        "--address",
        &p2p4,
        "--description",
        desc,
    ]));
    let r = run_cli(
        &apis[1],
        w,
        &["gov", "council", "execute", "--from", "admin", &id],
    );
    assert!(
        !r.0 && format!("{}{}", r.1, r.2).contains("already_exists"),
        "{r:?}"
    );

    // Once the chain is in the epoch after the addition was decided, remove validator 0.
    let decided = status(&http, &apis[1])["epoch"].as_u64().unwrap();
    wait_until("the next epoch", Duration::from_secs(120), || {
        status(&http, &apis[1])["epoch"].as_u64().unwrap_or(0) > decided
    });
    let id = last(on(&[
        "gov",
        "council",
        "propose-validator",
        "--from",
        "admin",
        "--remove",
        &key0,
        "--description",
        desc,
    ]));
    on(&["gov", "council", "execute", "--from", "admin", &id]);
    let removed_from = newest_set_epoch(&http, &apis[1]);
    assert!(
        added_from >= 2 && removed_from > added_from,
        "{added_from} {removed_from}"
    );

    // Into the epoch after the removal: validator 4 signs, validator 0 no longer does.
    wait_until("the removal's epoch", Duration::from_secs(240), || {
        [&apis[2], &apis[3], &api4]
            .iter()
            .all(|a| status(&http, a)["epoch"].as_u64().unwrap_or(0) >= removed_from)
    });
    let s4 = status(&http, &api4);
    let current: Vec<&str> = s4["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(current.contains(&key4.as_str()) && !current.contains(&key0.as_str()));

    // Validators 0 (removed) and 1 stop: 2, 3 and 4 are a quorum of {1, 2, 3, 4} (they would
    // not be of the five, had the removal not happened).
    for i in [0, 1] {
        let mut c = nodes.0[i].take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }
    let h = height(&http, &apis[2]);
    wait_until("the new set goes on", Duration::from_secs(120), || {
        [&apis[2], &apis[3], &api4]
            .iter()
            .all(|a| height(&http, a) >= h + 2 * EPOCH)
    });
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent > 50, "the load ran ({sent} transactions)");
    let loader_addr = SecretKey::from_label("changes-loader").address();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let nonces: Vec<serde_json::Value> = [&apis[2], &apis[3], &api4]
            .iter()
            .map(|a| get_json(&http, &format!("{a}/v1/nonce/{loader_addr}")).unwrap_or_default())
            .collect();
        if nonces[0]["nonce"].as_u64() == Some(sent) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sent} load transactions sent, nonces now {nonces:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Validator 4 proposed blocks of the new epochs.
    let key4_text = key4.clone();
    let top = height(&http, &apis[2]);
    let proposed = (removed_from * EPOCH..top)
        .filter(|h| {
            get_json(&http, &format!("{}/v1/blocks/{h}", apis[2]))
                .is_some_and(|b| b["header"]["proposer"].as_str() == Some(key4_text.as_str()))
        })
        .count();
    assert!(proposed > 0, "validator 4 proposes");

    // The full node followed through both changes and agrees.
    wait_until("the full node catches up", Duration::from_secs(60), || {
        height(&http, &full_api) >= top
    });
    let block =
        |api: &str| get_json(&http, &format!("{api}/v1/blocks/{top}")).unwrap()["hash"].clone();
    assert_eq!(block(&full_api), block(&apis[2]));

    // A proof from the new set verifies from the genesis file, in Rust and in Python.
    let answer = d.join("answer.json");
    common::prove_and_verify(&full_api, &loader_addr.to_string(), &genesis, &answer);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&answer).unwrap()).unwrap();
    let proof = &saved; // the bare bundle
    assert_eq!(proof["version"], 2);
    let certified = proof["headers"].as_array().unwrap().last().unwrap()["height"]
        .as_u64()
        .unwrap();
    assert_eq!(
        proof["handovers"].as_array().unwrap().len() as u64,
        certified / EPOCH - 1
    );
    {
        let python = common::ci_tool(
            "URBIS_VERIFIER_PYTHON",
            "python-verifier-env",
            "python3 with venv, and PyPI",
        );
        let out = std::process::Command::new(python)
            .current_dir(common::repo().join("clients/python"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .args(["-m", "urbis_verify", "--genesis"])
            .arg(&genesis)
            .arg(&answer)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("verified"), "{text}");
    }
}
