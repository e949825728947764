//! Durability: `kill -9` the node while transactions stream in, restart it, and check that
//! everything reported committed before the kill is still there, at the same heights, with the
//! same block hashes and state roots, and that the chain keeps going.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{Nodes, get_json as get, grant_citizen, key_from_hex, wait_until};
use serde_json::Value;
use urbis_core::{Hash, SecretKey, SignedTx};

fn grant(admin: &SecretKey, chain: &urbis_core::ChainRef, nonce: u64) -> SignedTx {
    grant_citizen(admin, chain, nonce, "citizen")
}

#[test]
fn committed_blocks_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut nodes = Nodes(vec![Some(common::spawn_dev(dir.path(), port))]);
    common::wait_ready(&base);
    let keys: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("chain/dev-keys.json")).unwrap())
            .unwrap();
    let admin = key_from_hex(keys["admin_seed"].as_str().unwrap());
    let chain = common::chain_ref(&base);

    // Stream transactions; remember which ones the node reported committed.
    let mut submitted: Vec<SignedTx> = Vec::new();
    let mut committed: Vec<(Hash, u64)> = Vec::new();
    let mut nonce = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while committed.len() < 40 && Instant::now() < deadline {
        for _ in 0..5 {
            let tx = grant(&admin, &chain, nonce);
            let r = http
                .post(format!("{base}/v1/txs"))
                .header("content-type", "application/octet-stream")
                .body(tx.encode())
                .send()
                .unwrap();
            assert!(r.status().is_success(), "{:?}", r.text());
            submitted.push(tx);
            nonce += 1;
        }
        committed.clear();
        for tx in &submitted {
            if let Some(v) = get(&http, &format!("{base}/v1/txs/{}", tx.hash()))
                && v["status"] == "committed"
            {
                committed.push((tx.hash(), v["height"].as_u64().unwrap()));
            }
        }
    }
    assert!(committed.len() >= 40, "too few transactions committed");
    let status = get(&http, &format!("{base}/v1/status")).unwrap();
    let height = status["height"].as_u64().unwrap();
    let mut blocks = Vec::new();
    for h in 1..=height {
        let b = get(&http, &format!("{base}/v1/blocks/{h}")).unwrap();
        blocks.push((h, b["hash"].clone(), b["state_root_after"].clone()));
    }
    // Keep submitting right up to the kill, so that it lands mid-stream.
    for _ in 0..5 {
        let tx = grant(&admin, &chain, nonce);
        let _ = http
            .post(format!("{base}/v1/txs"))
            .header("content-type", "application/octet-stream")
            .body(tx.encode())
            .send();
        nonce += 1;
    }
    let mut victim = nodes.0[0].take().unwrap();
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();

    nodes.0[0] = Some(common::spawn_dev(dir.path(), port));
    common::wait_ready(&base);
    for (hash, h) in &committed {
        let v = get(&http, &format!("{base}/v1/txs/{hash}")).expect("committed tx lost");
        assert_eq!(v["status"], "committed");
        assert_eq!(v["height"].as_u64().unwrap(), *h);
    }
    for (h, hash, root) in &blocks {
        let b = get(&http, &format!("{base}/v1/blocks/{h}")).expect("block lost");
        assert_eq!(&b["hash"], hash, "block {h} changed");
        assert_eq!(&b["state_root_after"], root, "state root at {h} changed");
    }

    // The chain goes on: the admin's next transaction (after whatever survived) commits.
    let next = get(&http, &format!("{base}/v1/nonce/{}", admin.address())).unwrap()["next_nonce"]
        .as_u64()
        .unwrap();
    let tx = grant(&admin, &chain, next);
    let r = http
        .post(format!("{base}/v1/txs?wait=true"))
        .json(&tx)
        .timeout(Duration::from_secs(40))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    let v: Value = r.json().unwrap();
    assert_eq!(v["receipt"]["success"], true);
    assert!(v["height"].as_u64().unwrap() > height);

    drop(nodes);
}

/// Run `urbis dev` on `dir` until it exits by itself (it must refuse to start); its stderr.
fn refused_start(dir: &Path, port: u16) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_urbis"))
        .env("URBIS_KEYSTORE", dir.join("keystore.json"))
        .args(["dev", "--data-dir"])
        .arg(dir.join("chain"))
        .args(["--api", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                !status.success(),
                "the node started on an inconsistent data directory"
            );
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return err;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the node neither started nor refused");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_inconsistent_data_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::blocking::Client::new();
    let height = |http: &reqwest::blocking::Client| {
        get(http, &format!("{base}/v1/status")).map_or(0, |v| v["height"].as_u64().unwrap())
    };

    // Run a while, stop, keep a copy of the chain store.
    let mut nodes = Nodes(vec![Some(common::spawn_dev(dir.path(), port))]);
    common::wait_ready(&base);
    wait_until("a few blocks", Duration::from_secs(60), || {
        height(&http) >= 3
    });
    nodes.0[0]
        .take()
        .map(|mut c| c.kill().and_then(|()| c.wait().map(drop)));
    let chain_db = dir.path().join("chain/chain.redb");
    let old = dir.path().join("chain.redb.old");
    std::fs::copy(&chain_db, &old).unwrap();

    // Run further, then put the old chain store back: the state is now ahead of it.
    let at = {
        nodes.0[0] = Some(common::spawn_dev(dir.path(), port));
        common::wait_ready(&base);
        let start = height(&http);
        wait_until("more blocks", Duration::from_secs(60), || {
            height(&http) >= start + 5
        });
        nodes.0[0]
            .take()
            .map(|mut c| c.kill().and_then(|()| c.wait().map(drop)));
        start
    };
    assert!(at >= 3);
    let newer = dir.path().join("chain.redb.newer");
    std::fs::rename(&chain_db, &newer).unwrap();
    std::fs::copy(&old, &chain_db).unwrap();
    let err = refused_start(dir.path(), port);
    for part in [
        "inconsistent data directory",
        "chain.redb",
        "store/",
        "--reset",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }

    // The authenticated store missing altogether: refused as well.
    std::fs::rename(&newer, &chain_db).unwrap();
    std::fs::remove_dir_all(dir.path().join("chain/store")).unwrap();
    let err = refused_start(dir.path(), port);
    assert!(err.contains("inconsistent data directory"), "{err}");
    assert!(err.contains("is empty"), "{err}");
}
