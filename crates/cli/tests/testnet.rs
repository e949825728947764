//! A real 4-validator network of `urbis node` processes on loopback: transactions submitted to
//! different nodes, one validator killed with SIGKILL and restarted, and all nodes converging
//! on the same height and state root.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

mod common;

use common::{Nodes, get_json, grant_citizen, key_from_hex, wait_until};
use serde_json::Value;
use urbis_core::{SecretKey, SignedTx};

const N: usize = 4;

fn status(http: &reqwest::blocking::Client, api: &str) -> Option<Value> {
    get_json(http, &format!("{api}/v1/status"))
}

fn grant(admin: &SecretKey, chain: &urbis_core::ChainRef, nonce: u64) -> SignedTx {
    grant_citizen(admin, chain, nonce, "resident")
}

#[test]
fn four_process_testnet_survives_kill_9_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let apis = common::init_testnet(d, N, "loopback");
    for i in 0..N {
        assert!(d.join(format!("node{i}/node.toml")).exists());
    }
    let mut nodes = Nodes(
        (0..N)
            .map(|i| Some(common::start_validator(d, i)))
            .collect(),
    );
    let children = &mut nodes.0;
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(45))
        .build()
        .unwrap();
    wait_until(
        "all nodes up and producing blocks",
        Duration::from_secs(90),
        || {
            apis.iter()
                .all(|a| status(&http, a).is_some_and(|s| s["height"].as_u64().unwrap_or(0) >= 3))
        },
    );

    let admin = key_from_hex(&std::fs::read_to_string(d.join("admin.key")).unwrap());
    let chain = common::chain_ref(&apis[0]);
    // Submit and wait for execution. A node that has not yet executed the block holding the
    // sender's previous transaction answers `nonce_gap` (or `not_ready` while catching up), as
    // it would for any client switching nodes: retry briefly, like a client would.
    let send = |api: &str, nonce: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = http
                .post(format!("{api}/v1/txs?wait=true"))
                .json(&grant(&admin, &chain, nonce))
                .send()
                .unwrap();
            if r.status().is_success() {
                let v: Value = r.json().unwrap();
                assert_eq!(v["receipt"]["success"], true, "{v}");
                return;
            }
            let body = r.text().unwrap();
            let retryable = body.contains("\"nonce_gap\"") || body.contains("\"not_ready\"");
            if !retryable || Instant::now() > deadline {
                for a in &apis {
                    eprintln!("{a}: {:?}", status(&http, a));
                }
                panic!("{body}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // Transactions to every node.
    let mut nonce = 0;
    for api in &apis {
        send(api, nonce);
        nonce += 1;
    }

    // SIGKILL node 2, keep the chain busy, restart it.
    let mut victim = children[2].take().unwrap();
    victim.kill().unwrap();
    victim.wait().unwrap();
    for api in [&apis[0], &apis[1], &apis[3], &apis[0]] {
        send(api, nonce);
        nonce += 1;
    }
    children[2] = Some(common::start_validator(d, 2));
    wait_until(
        "restarted node to catch up",
        Duration::from_secs(90),
        || {
            http.get(format!("{}/readyz", apis[2]))
                .send()
                .is_ok_and(|r| r.status().is_success())
        },
    );
    send(&apis[2], nonce); // the restarted node accepts and relays transactions again

    // Everyone converges: same block and state root at a common height past the restart.
    let target = status(&http, &apis[0]).unwrap()["height"].as_u64().unwrap() + 5;
    wait_until("convergence", Duration::from_secs(120), || {
        apis.iter()
            .all(|a| status(&http, a).is_some_and(|s| s["height"].as_u64().unwrap_or(0) >= target))
    });
    let blocks: Vec<Value> = apis
        .iter()
        .map(|a| get_json(&http, &format!("{a}/v1/blocks/{target}")).unwrap())
        .collect();
    for b in &blocks[1..] {
        assert_eq!(b["hash"], blocks[0]["hash"]);
        assert_eq!(b["state_root_after"], blocks[0]["state_root_after"]);
    }
    let nonce_now = get_json(&http, &format!("{}/v1/nonce/{}", apis[2], admin.address())).unwrap();
    assert_eq!(nonce_now["nonce"].as_u64().unwrap(), nonce + 1);

    // A proof from any node verifies against the genesis validator set.
    let addr = SecretKey::from_label("resident-0").address().to_string();
    common::prove_and_verify(
        &apis[3],
        &addr,
        &d.join("genesis.json"),
        &d.join("proof.json"),
    );

    drop(nodes);
}
