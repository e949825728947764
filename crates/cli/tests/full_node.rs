//! A full node (`urbis init --full`) following a 4-validator network of `urbis node`
//! processes: it follows through a source that lies (every answer tampered with) and an
//! honest one, verifies every certificate, executes, passes writes on, serves proofs that
//! verify from the genesis file alone, survives `kill -9`, and never votes.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod common;

use common::{Nodes, get_json, grant_citizen, key_from_hex, wait_until};
use serde_json::Value;
use urbis_core::SecretKey;

const N: usize = 4;

/// The tests of this file run one at a time: each picks free ports for its network, and two
/// networks starting at once could pick the same.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn urbis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_urbis"))
}

/// A source that relays `upstream`'s answers with one byte changed: in a block of the first
/// record on even requests, in its certificate (when it has one) on odd ones. Returns its URL
/// and how many sync answers it has tampered with.
fn lying_source(upstream: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let tampered = Arc::new(AtomicUsize::new(0));
    let count = tampered.clone();
    std::thread::spawn(move || {
        let http = common::http();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            // Skip the headers (requests here have no body).
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let Ok(resp) = http.get(format!("{upstream}{path}")).send() else {
                continue;
            };
            let status = resp.status().as_u16();
            let executed = resp
                .headers()
                .get("urbis-executed-height")
                .map(|v| v.to_str().unwrap().to_string());
            let mut body = Vec::new();
            resp.take(u64::MAX).read_to_end(&mut body).unwrap();
            if path.starts_with("/v1/sync/blocks") && body.len() > 8 {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let block_len = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                let cert_len =
                    u32::from_be_bytes(body[4 + block_len..8 + block_len].try_into().unwrap())
                        as usize;
                let at = if n % 2 == 1 && cert_len > 0 {
                    8 + block_len + cert_len - 1
                } else {
                    4 + block_len - 1 - (n / 2) % block_len.min(200)
                };
                body[at] ^= 0x01;
            }
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n",
                body.len()
            );
            if let Some(e) = executed {
                head.push_str(&format!("urbis-executed-height: {e}\r\n"));
            }
            head.push_str("\r\n");
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    (url, tampered)
}

fn start_full(dir: &std::path::Path, log: &str) -> std::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(log))
        .unwrap();
    urbis()
        .args(["node", "--config"])
        .arg(dir.join("node.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// A 4-validator network under `d` producing blocks, with `txs` citizen grants committed
/// (spread over the validators): its APIs, its processes, the admin key and the chain.
fn network_with_history(
    d: &std::path::Path,
    chain_id: &str,
    txs: u64,
) -> (Vec<String>, Nodes, SecretKey, urbis_core::ChainRef) {
    let apis = common::init_testnet(d, N, chain_id);
    let nodes = Nodes(
        (0..N)
            .map(|i| Some(common::start_validator(d, i)))
            .collect(),
    );
    common::wait_for_network(d, &apis, 3, Duration::from_secs(90));
    let admin = key_from_hex(&std::fs::read_to_string(d.join("admin.key")).unwrap());
    let chain = common::chain_ref(&apis[0]);
    let http = common::http();
    for nonce in 0..txs {
        let r = http
            .post(format!("{}/v1/txs?wait=true", apis[nonce as usize % N]))
            .json(&grant_citizen(&admin, &chain, nonce, "resident"))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().unwrap());
    }
    (apis, nodes, admin, chain)
}

#[test]
fn full_node_follows_verifies_serves_and_never_votes() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Some history before the full node exists.
    let (apis, nodes, admin, chain) = network_with_history(d, "full-node", 3);
    let http = common::http();

    // The full node follows a lying source first, then an honest one.
    let (liar, tampered) = lying_source(apis[0].clone());
    let full = d.join("full");
    let api = format!("127.0.0.1:{}", common::free_port());
    let out = urbis()
        .args(["init", "--full", "--dir"])
        .arg(&full)
        .args(["--api", &api, "--genesis", "../genesis.json"])
        .args(["--follow", &liar, "--follow", &apis[1]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = std::fs::read_to_string(full.join("node.toml")).unwrap();
    assert!(toml.contains("role = \"full\""), "{toml}");
    assert!(
        !full.join("validator.key").exists(),
        "a full node has no key"
    );
    // --full needs somewhere to follow.
    let out = urbis()
        .args(["init", "--full", "--dir"])
        .arg(d.join("nowhere"))
        .output()
        .unwrap();
    assert!(!out.status.success());

    let full_api = format!("http://{api}");
    let mut guard = Nodes(vec![Some(start_full(&full, "full.log"))]);
    let target = get_json(&http, &format!("{}/v1/status", apis[0])).unwrap()["height"]
        .as_u64()
        .unwrap();
    wait_until("the full node to catch up", Duration::from_secs(90), || {
        get_json(&http, &format!("{full_api}/v1/status"))
            .is_some_and(|s| s["height"].as_u64().unwrap_or(0) >= target)
    });
    assert!(
        tampered.load(Ordering::SeqCst) > 0,
        "the lying source was never asked"
    );
    let log = std::fs::read_to_string(full.join("full.log")).unwrap();
    assert!(log.contains("this source failed"), "{log}");

    // A write sent to the full node reaches the validators; the full node executes it.
    let r = http
        .post(format!("{full_api}/v1/txs?wait=true"))
        .json(&grant_citizen(&admin, &chain, 3, "resident"))
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    assert_eq!(v["receipt"]["success"], true, "{v}");
    let at = v["height"].as_u64().unwrap();
    wait_until(
        "the full node to execute it",
        Duration::from_secs(30),
        || {
            get_json(&http, &format!("{full_api}/v1/status"))
                .is_some_and(|s| s["height"].as_u64().unwrap_or(0) >= at + 2)
        },
    );
    // Same blocks and state as the validators, block by block.
    for h in 1..=at + 1 {
        let mine = get_json(&http, &format!("{full_api}/v1/blocks/{h}")).unwrap();
        let theirs = get_json(&http, &format!("{}/v1/blocks/{h}", apis[2])).unwrap();
        assert_eq!(mine["hash"], theirs["hash"], "block {h}");
        assert_eq!(
            mine["state_root_after"], theirs["state_root_after"],
            "block {h}"
        );
    }
    let nonce = get_json(&http, &format!("{full_api}/v1/nonce/{}", admin.address())).unwrap();
    assert_eq!(nonce["nonce"].as_u64().unwrap(), 4);

    // A proof served by the full node verifies from the genesis file alone.
    let addr = SecretKey::from_label("resident-3").address().to_string();
    common::prove_and_verify(
        &full_api,
        &addr,
        &d.join("genesis.json"),
        &d.join("proof.json"),
    );

    // A blob uploaded through the full node lands on the validators; the full node serves it,
    // checked against its name, and still answers not_found for one nobody has.
    let blob = b"an encrypted file".to_vec();
    let mut put = http.put(format!("{full_api}/v1/blobs"));
    for (name, value) in
        common::signed_headers(&admin, &chain.chain_id, urbis_node::blobs::PUT_TAG, &blob)
    {
        put = put.header(name, value);
    }
    let stored: Value = put.body(blob.clone()).send().unwrap().json().unwrap();
    let hash = stored["hash"]
        .as_str()
        .unwrap_or_else(|| panic!("{stored}"))
        .to_string();
    let got = http
        .get(format!("{full_api}/v1/blobs/{hash}"))
        .send()
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().unwrap().to_vec(), blob);
    let missing = http
        .get(format!("{full_api}/v1/blobs/{}", "ab".repeat(32)))
        .send()
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    // kill -9 and restart: it resumes where it stopped and catches up again.
    let mut victim = guard.0[0].take().unwrap();
    victim.kill().unwrap();
    victim.wait().unwrap();
    let before = get_json(&http, &format!("{}/v1/status", apis[0])).unwrap()["height"]
        .as_u64()
        .unwrap();
    guard.0[0] = Some(start_full(&full, "full.log"));
    wait_until(
        "the restarted full node to catch up",
        Duration::from_secs(90),
        || {
            get_json(&http, &format!("{full_api}/v1/status"))
                .is_some_and(|s| s["height"].as_u64().unwrap_or(0) > before)
        },
    );
    wait_until(
        "the restarted full node to be ready",
        Duration::from_secs(30),
        || {
            http.get(format!("{full_api}/readyz"))
                .send()
                .is_ok_and(|r| r.status().is_success())
        },
    );

    // It never voted: it has no key and runs no consensus engine, so it keeps no vote
    // journal, while every validator does.
    let has_journal = |dir: &std::path::Path| {
        common::walk(dir)
            .iter()
            .any(|p| p.to_string_lossy().contains("simplex"))
    };
    assert!(has_journal(&d.join("node0")));
    assert!(!has_journal(&full), "the full node keeps a vote journal");

    drop(guard);
    drop(nodes);
}

#[test]
fn a_full_node_joins_by_state_sync() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (apis, _nodes, admin, chain) = network_with_history(d, "state-sync", 5);
    let http = common::http();

    let full = d.join("synced");
    let api = format!("127.0.0.1:{}", common::free_port());
    let out = urbis()
        .args(["init", "--full", "--state-sync", "--dir"])
        .arg(&full)
        .args(["--api", &api, "--genesis", "../genesis.json"])
        .args(["--follow", &apis[1], "--follow", &apis[2]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full_api = format!("http://{api}");
    let mut guard = Nodes(vec![Some(start_full(&full, "full.log"))]);
    let target = get_json(&http, &format!("{}/v1/status", apis[0])).unwrap()["height"]
        .as_u64()
        .unwrap();
    wait_until(
        "the synced node to catch up",
        Duration::from_secs(90),
        || {
            get_json(&http, &format!("{full_api}/v1/status"))
                .is_some_and(|s| s["height"].as_u64().unwrap_or(0) >= target)
        },
    );
    let log = std::fs::read_to_string(full.join("full.log")).unwrap();
    assert!(log.contains("state synced"), "{log}");
    // It never had the early blocks: it started from the state, not from genesis.
    let r = http.get(format!("{full_api}/v1/blocks/1")).send().unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // It executes what comes next like everyone else.
    let r = http
        .post(format!("{full_api}/v1/txs?wait=true"))
        .json(&grant_citizen(&admin, &chain, 5, "resident"))
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    assert_eq!(v["receipt"]["success"], true, "{v}");
    let at = v["height"].as_u64().unwrap();
    wait_until(
        "the synced node to execute it",
        Duration::from_secs(30),
        || {
            get_json(&http, &format!("{full_api}/v1/status"))
                .is_some_and(|s| s["height"].as_u64().unwrap_or(0) > at)
        },
    );
    let mine = get_json(&http, &format!("{full_api}/v1/blocks/{at}")).unwrap();
    let theirs = get_json(&http, &format!("{}/v1/blocks/{at}", apis[3])).unwrap();
    assert_eq!(mine["hash"], theirs["hash"]);
    assert_eq!(mine["state_root_after"], theirs["state_root_after"]);
    let nonce = get_json(&http, &format!("{full_api}/v1/nonce/{}", admin.address())).unwrap();
    assert_eq!(nonce["nonce"].as_u64().unwrap(), 6);
    // Accounts made before the sync are there, with proofs that verify from genesis.
    let addr = SecretKey::from_label("resident-1").address().to_string();
    common::prove_and_verify(
        &full_api,
        &addr,
        &d.join("genesis.json"),
        &d.join("proof.json"),
    );

    // Restarted after kill -9, it resumes from its own data (no second sync).
    let mut victim = guard.0[0].take().unwrap();
    victim.kill().unwrap();
    victim.wait().unwrap();
    guard.0[0] = Some(start_full(&full, "full.log"));
    let now = get_json(&http, &format!("{}/v1/status", apis[0])).unwrap()["height"]
        .as_u64()
        .unwrap();
    wait_until(
        "the restarted node to catch up",
        Duration::from_secs(60),
        || {
            get_json(&http, &format!("{full_api}/v1/status"))
                .is_some_and(|s| s["height"].as_u64().unwrap_or(0) >= now)
        },
    );
    let log = std::fs::read_to_string(full.join("full.log")).unwrap();
    assert_eq!(log.matches("state synced").count(), 1, "{log}");
}
