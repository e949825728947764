//! Core hardening through the public API and the `urbis` binary: clients check answers against
//! their proofs, senders without a role are refused at the door, signatures bind the genesis
//! block, blocks are paginated, and the API's limits answer with stable codes.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::TestNode;
use urbis_accounts::{AccountsCall, Role};
use urbis_client::verify::verify_query;
use urbis_client::{BlockId, Client, ClientError, Signer};
use urbis_core::{Call, ErrorCode, SecretKey};

fn code(e: &ClientError) -> String {
    e.code_str().to_string()
}

fn signer(node: &TestNode, key: SecretKey) -> Signer {
    Signer::new(key, node.chain_id.clone(), node.chain.genesis_hash)
}

fn grant(account: &SecretKey, role: Role) -> Call {
    Call::new(
        "accounts",
        &AccountsCall::GrantRole {
            account: account.address(),
            role,
        },
    )
}

fn label(text: &str) -> Call {
    Call::new(
        "accounts",
        &AccountsCall::SetLabel {
            label: text.to_string(),
        },
    )
}

/// `urbis verify FILE --genesis G`: exit status and stderr.
fn urbis_verify(file: &std::path::Path, genesis: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_urbis"))
        .arg("verify")
        .arg(file)
        .arg("--genesis")
        .arg(genesis)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_checks_answers_against_their_proofs() {
    let node = TestNode::start();
    let client = Client::new(&node.url).unwrap();
    let admin = signer(&node, node.admin.clone());
    let alice = SecretKey::from_label("alice");
    let r = admin
        .send(&client, grant(&alice, Role::Citizen))
        .await
        .unwrap();
    assert!(r.success, "{r:?}");
    let genesis: urbis_runtime::Genesis =
        serde_json::from_slice(&std::fs::read(&node.genesis_path).unwrap()).unwrap();

    let addr = alice.address().to_string();
    let answer = client
        .query("accounts", &["account", &addr], true)
        .await
        .unwrap();
    let verified = verify_query(&answer, &genesis).unwrap();
    assert_eq!(verified.answer.as_ref(), Some(&answer.value));
    assert_eq!(answer.value["roles"], serde_json::json!(["citizen"]));

    // The node's JSON says something the proven bytes do not: refused.
    let mut edited = answer.clone();
    edited.value["roles"] = serde_json::json!(["city_admin"]);
    let err = verify_query(&edited, &genesis).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidProof);
    assert!(
        err.message.contains("differs from the proven value"),
        "{err}"
    );
    // A proof of somebody else's account, passed off as Alice's: refused.
    let bob = SecretKey::from_label("bob").address().to_string();
    let mut other = client
        .query("accounts", &["account", &bob], true)
        .await
        .unwrap();
    other.path = answer.path.clone();
    assert_eq!(
        verify_query(&other, &genesis).unwrap_err().code,
        ErrorCode::InvalidProof
    );
    // A wrong height: refused.
    let mut moved = answer.clone();
    moved.height += 1;
    assert!(verify_query(&moved, &genesis).is_err());

    // The same through `urbis verify` on an answer file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answer.json");
    std::fs::write(&file, serde_json::to_vec(&answer).unwrap()).unwrap();
    let (ok, stderr) = urbis_verify(&file, &node.genesis_path);
    assert!(ok, "{stderr}");
    std::fs::write(&file, serde_json::to_vec(&edited).unwrap()).unwrap();
    let (ok, stderr) = urbis_verify(&file, &node.genesis_path);
    assert!(!ok, "an edited value must not verify");
    assert!(stderr.contains("invalid_proof"), "{stderr}");
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_without_a_role_are_refused_at_the_door() {
    let node = TestNode::start();
    let client = Client::new(&node.url).unwrap();
    let stranger = signer(&node, SecretKey::from_label("throwaway-1"));
    let before = client.nonce(&stranger.address()).await.unwrap();
    let err = stranger
        .send_no_wait(&client, label("spam"))
        .await
        .unwrap_err();
    assert_eq!(code(&err), "unauthorized");
    assert!(err.to_string().contains("holds no role"), "{err}");
    // Nothing was admitted and nothing written: no pending nonce, no state.
    assert_eq!(client.nonce(&stranger.address()).await.unwrap(), before);
    let nonce = client
        .query("system", &["nonce", &stranger.address().to_string()], true)
        .await
        .unwrap();
    assert!(nonce.proof.unwrap().state.value.is_none(), "no nonce entry");
    // In a batch, each such transaction gets its own refusal.
    let others: Vec<_> = (0..3)
        .map(|i| signer(&node, SecretKey::from_label(&format!("throwaway-{i}"))))
        .map(|s| s.sign(0, label("spam")))
        .collect();
    for r in client.submit_batch(&others).await.unwrap() {
        assert_eq!(r.unwrap_err().0, "unauthorized");
    }
    // Once granted a role, the same account may send.
    let admin = signer(&node, node.admin.clone());
    assert!(
        admin
            .send(&client, grant(&stranger.key, Role::Citizen))
            .await
            .unwrap()
            .success
    );
    assert!(
        stranger
            .send(&client, label("hello"))
            .await
            .unwrap()
            .success
    );
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_chain_refuses_transactions_signed_before_the_reset() {
    // The first chain; its admin signs a transaction that is never sent there.
    let first = TestNode::start();
    let old = signer(&first, first.admin.clone()).sign(0, label("replayed"));
    let keys = std::fs::read(first.data_dir.join("dev-keys.json")).unwrap();
    first.stop();

    // The "same" chain after a reset: same chain id, same validator and admin keys, same
    // nonces, but a new genesis block.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("dev-keys.json"), keys).unwrap();
    let second = TestNode::start_in(data);
    assert_eq!(second.chain_id, old.chain_id);
    assert_eq!(second.admin.address(), old.sender());
    let client = Client::new(&second.url).unwrap();
    let err = client.submit(&old).await.unwrap_err();
    assert_eq!(code(&err), "bad_signature", "{err}");
    // Signed for the new genesis, the same transaction is fine.
    let fresh = signer(&second, second.admin.clone()).sign(0, label("replayed"));
    assert!(
        client
            .submit_and_wait(&fresh)
            .await
            .unwrap()
            .receipt
            .success
    );
    second.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_are_served_in_pages() {
    let node = TestNode::start();
    let client = Client::new(&node.url).unwrap();
    let admin = signer(&node, node.admin.clone());
    let n0 = client.next_nonce(&admin.address()).await.unwrap();
    let txs: Vec<_> = (0..40)
        .map(|i| admin.sign(n0 + i, label(&format!("l{i}"))))
        .collect();
    client.submit_batch(&txs).await.unwrap();
    let last = loop {
        if let Ok(urbis_client::TxStatus::Committed(c)) = client.tx(&txs[39].hash()).await {
            break c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // The biggest block among those that carried the batch.
    let first = match client.tx(&txs[0].hash()).await.unwrap() {
        urbis_client::TxStatus::Committed(c) => c.height,
        other => panic!("{other:?}"),
    };
    let mut biggest = client.block(BlockId::Height(first)).await.unwrap();
    for h in first..=last.height {
        let b = client.block(BlockId::Height(h)).await.unwrap();
        if b.tx_count > biggest.tx_count {
            biggest = b;
        }
    }
    assert!(biggest.tx_count >= 3, "{}", biggest.tx_count);
    assert_eq!(
        biggest.txs.len(),
        biggest.tx_count,
        "the client fetched every page"
    );
    assert_eq!(biggest.receipts.len(), biggest.tx_count);

    // Page by hand, two at a time.
    let id = BlockId::Hash(biggest.hash);
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let page = client.block_page(id, cursor.as_deref(), 2).await.unwrap();
        assert!(page.txs.len() <= 2);
        assert_eq!(page.txs.len(), page.receipts.len());
        seen.extend(page.txs);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, biggest.txs);
    for (limit, cursor) in [
        (0, None),
        (1001, None),
        (10, Some("zz")),
        (10, Some("999999")),
    ] {
        let err = client.block_page(id, cursor, limit).await.unwrap_err();
        assert_eq!(code(&err), "invalid_argument", "{limit} {cursor:?}");
    }
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_limits_answer_overloaded() {
    let node = TestNode::start_with_limits(urbis_node::api::ApiLimits {
        max_sse: 2,
        max_waiting: 0,
        ..Default::default()
    });
    let http = reqwest::Client::new();
    let events = format!("{}/v1/events", node.url);
    let a = http.get(&events).send().await.unwrap();
    let b = http.get(&events).send().await.unwrap();
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let c = http.get(&events).send().await.unwrap();
    assert_eq!(c.status().as_u16(), 503);
    let problem: serde_json::Value = c.json().await.unwrap();
    assert_eq!(problem["code"], "overloaded");
    // A closed stream frees its place (noticed when the next block event is written).
    drop(a);
    common::wait_until(
        "a free event stream",
        std::time::Duration::from_secs(20),
        || {
            let url = events.clone();
            std::thread::spawn(move || {
                reqwest::blocking::Client::new()
                    .get(url)
                    .timeout(std::time::Duration::from_millis(500))
                    .send()
                    .map(|r| r.status().as_u16() == 200)
                    .unwrap_or(false)
            })
            .join()
            .unwrap()
        },
    );
    drop(b);

    // No room for requests that wait for the chain.
    let client = Client::new(&node.url).unwrap();
    let err = client
        .query("rewards", &["supply"], true)
        .await
        .unwrap_err();
    assert_eq!(code(&err), "overloaded");
    let admin = signer(&node, node.admin.clone());
    let err = admin.send(&client, label("x")).await.unwrap_err();
    assert_eq!(code(&err), "overloaded");
    // Everything else still answers.
    assert!(client.status().await.is_ok());
    let metrics = http
        .get(format!("{}/metrics", node.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for m in [
        "urbis_sse_subscribers",
        "urbis_api_in_flight",
        "urbis_api_waiting",
    ] {
        assert!(metrics.contains(m), "{m}");
    }
    node.stop();
}

#[test]
fn validators_built_in_release_check_overflows() {
    // Debug builds check arithmetic overflow; release builds must too, or a debug and a release
    // validator could disagree on a block.
    let manifest = include_str!("../../../Cargo.toml");
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .expect("a release profile")
        .split("\n[")
        .next()
        .unwrap();
    assert!(
        release
            .lines()
            .any(|l| l.trim().replace(' ', "") == "overflow-checks=true"),
        "{release}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    let node = TestNode::start();
    let http = reqwest::Client::new();
    let doc: serde_json::Value = http
        .get(format!("{}/v1/openapi.json", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = node.admin.address().to_string();
    let mut checked = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        let url = path
            .replace("{hash}", &urbis_core::Hash([7; 32]).to_hex())
            .replace("{id}", "latest")
            .replace("{address}", &admin)
            .replace("{module}", "system")
            .replace("{path}", &format!("nonce/{admin}"))
            .replace(
                "{did}",
                "did:urbis:0000000000000000000000000000000000000000",
            );
        for method in methods.as_object().unwrap().keys() {
            let req = match method.as_str() {
                "get" => http.get(format!("{}{url}", node.url)),
                "post" => http.post(format!("{}{url}", node.url)).body("[]"),
                "put" => http.put(format!("{}{url}", node.url)).body("x"),
                other => panic!("unexpected method {other}"),
            };
            let r = req
                .timeout(std::time::Duration::from_secs(5))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if path == "/v1/events" {
                assert_eq!(status, 200);
            } else {
                let body = r.text().await.unwrap();
                assert!(
                    !body.contains("no such endpoint"),
                    "{method} {path} is documented but not served"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 18, "{checked}");
    node.stop();
}

/// Malformed query strings and path parameters, and methods an endpoint does not serve, get
/// the same problem answers as every other error (found by the API fuzz test: axum's own
/// rejections were plain text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_and_methods_get_problem_answers() {
    let node = TestNode::start();
    let http = reqwest::Client::new();
    let hash = urbis_core::Hash([7; 32]).to_hex();
    for (method, path, status, code) in [
        (
            "GET",
            format!("/v1/txs/{hash}?prove=maybe"),
            400,
            "invalid_argument",
        ),
        (
            "GET",
            "/v1/blocks/latest?limit=lots".to_string(),
            400,
            "invalid_argument",
        ),
        (
            "GET",
            "/v1/status-lists/abc".to_string(),
            400,
            "invalid_argument",
        ),
        (
            "GET",
            "/v1/events/search?from_height=-1".to_string(),
            400,
            "invalid_argument",
        ),
        (
            "DELETE",
            "/v1/status".to_string(),
            405,
            "method_not_allowed",
        ),
        ("GET", "/v1/txs".to_string(), 405, "method_not_allowed"),
    ] {
        let r = http
            .request(method.parse().unwrap(), format!("{}{path}", node.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{method} {path}"
        );
        if status == 405 {
            assert!(r.headers().contains_key("allow"), "{method} {path}");
        }
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], code, "{method} {path}: {body}");
        assert_eq!(body["status"], status, "{method} {path}");
    }
    node.stop();
}
