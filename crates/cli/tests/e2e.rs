//! End to end through HTTP: submit, wait for inclusion, query with proof, verify offline, and
//! watch tampering and bad input fail with the right codes while state stays unchanged.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestNode;
use urbis_accounts::{AccountsCall, Role};
use urbis_client::verify::{verify_proof, verify_query};
use urbis_client::{Client, ClientError, Signer, TxStatus};
use urbis_core::{Call, ErrorCode, SecretKey, SignedTx};
use urbis_rewards::{Category, RewardsCall};

fn code(e: &ClientError) -> String {
    e.code_str().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_query_prove_verify_and_reject_bad_input() {
    let node = TestNode::start();
    let client = Client::new(&node.url).unwrap();
    let status = client.status().await.unwrap();
    assert_eq!(status.chain_id, node.chain_id);

    let admin = Signer::new(
        node.admin.clone(),
        node.chain_id.clone(),
        node.chain.genesis_hash,
    );
    let dept = Signer::new(
        SecretKey::from_label("dept"),
        node.chain_id.clone(),
        node.chain.genesis_hash,
    );
    let alice = Signer::new(
        SecretKey::from_label("alice"),
        node.chain_id.clone(),
        node.chain.genesis_hash,
    );

    // Set up roles and a program, through the public API, waiting for inclusion each time.
    for (who, role) in [
        (dept.address(), Role::Department),
        (alice.address(), Role::Citizen),
    ] {
        let r = admin
            .send(
                &client,
                Call::new("accounts", &AccountsCall::GrantRole { account: who, role }),
            )
            .await
            .unwrap();
        assert!(r.success, "{r:?}");
    }
    let r = admin
        .send(
            &client,
            Call::new(
                "rewards",
                &RewardsCall::CreateProgram {
                    name: "Transit".into(),
                    category: Category::PublicTransport,
                    budget: 10_000,
                    cap_per_period: 300,
                    period_ms: 3_600_000,
                    transferable: false,
                },
            ),
        )
        .await
        .unwrap();
    assert!(r.success, "{r:?}");
    let r = dept
        .send(
            &client,
            Call::new(
                "rewards",
                &RewardsCall::Award {
                    program: 1,
                    to: alice.address(),
                    amount: 250,
                    reason: "tap-in".into(),
                },
            ),
        )
        .await
        .unwrap();
    assert!(r.success, "{r:?}");

    // Query with proof and verify it against the genesis validator set.
    let genesis: urbis_runtime::Genesis =
        serde_json::from_slice(&std::fs::read(&node.genesis_path).unwrap()).unwrap();
    let addr = alice.address().to_string();
    let answer = client
        .query("rewards", &["balance", &addr], true)
        .await
        .unwrap();
    assert_eq!(answer.value["total"], 250);
    let verified = verify_query(&answer, &genesis).unwrap();
    assert!(verified.value.is_some());
    let bundle = answer.proof.clone().unwrap();

    // Tampering with any single byte of the state proof, the value, a header or the
    // certificate must fail verification.
    for i in 0..bundle.state.proof.len() {
        let mut t = bundle.clone();
        t.state.proof[i] ^= 0x01;
        assert!(verify_proof(&t, &genesis).is_err(), "proof byte {i}");
    }
    let mut t = bundle.clone();
    if let Some(v) = t.state.value.as_mut() {
        v[0] ^= 1;
    }
    assert_eq!(
        verify_proof(&t, &genesis).unwrap_err().code,
        ErrorCode::InvalidProof
    );
    let mut t = bundle.clone();
    t.finalization[10] ^= 1;
    assert!(verify_proof(&t, &genesis).is_err());
    let mut t = bundle.clone();
    t.headers[0].timestamp_ms += 1;
    assert!(verify_proof(&t, &genesis).is_err());
    let mut other = genesis.clone();
    other.validators[0].public_key = SecretKey::from_label("impostor").public_key();
    assert!(
        verify_proof(&bundle, &other).is_err(),
        "unknown validator set"
    );

    // Absence proofs verify too.
    let nobody = SecretKey::from_label("nobody").address().to_string();
    let absent = client
        .query("accounts", &["account", &nobody], true)
        .await
        .unwrap();
    assert!(absent.value.is_null());
    verify_query(&absent, &genesis).unwrap();

    // --- bad input: each has a stable code and changes nothing ---
    let before = client
        .query("rewards", &["balance", &addr], false)
        .await
        .unwrap()
        .value;
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, ct: &'static str| {
        let http = http.clone();
        let url = format!("{}/v1/txs", node.url);
        async move {
            let r = http
                .post(url)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap();
            (status, v["code"].as_str().unwrap_or_default().to_string())
        }
    };
    assert_eq!(
        post(b"{not json".to_vec(), "application/json").await,
        (400, "malformed".into())
    );
    assert_eq!(
        post(vec![1, 2, 3], "application/octet-stream").await,
        (400, "malformed".into())
    );
    assert_eq!(
        post(vec![0; 70_000], "application/octet-stream").await,
        (413, "too_large".into())
    );
    assert_eq!(
        post(vec![0; 1_000_000], "application/octet-stream").await.0,
        413
    );

    let transfer = Call::new(
        "rewards",
        &RewardsCall::Transfer {
            to: dept.address(),
            program: 1,
            amount: 1,
        },
    );
    let nonce = client.next_nonce(&alice.address()).await.unwrap();
    let mut bad_sig = alice.sign(nonce, transfer.clone());
    bad_sig.nonce += 1;
    assert_eq!(
        code(&client.submit(&bad_sig).await.unwrap_err()),
        "bad_signature"
    );
    let wrong_chain = SignedTx::new(
        &urbis_core::ChainRef::new("other-chain", node.chain.genesis_hash),
        &SecretKey::from_label("alice"),
        nonce,
        transfer.clone(),
    );
    assert_eq!(
        code(&client.submit(&wrong_chain).await.unwrap_err()),
        "wrong_chain_id"
    );
    let replay = admin.sign(
        0,
        Call::new(
            "accounts",
            &AccountsCall::SetLabel {
                label: "again".into(),
            },
        ),
    );
    assert_eq!(
        code(&client.submit(&replay).await.unwrap_err()),
        "nonce_too_low"
    );
    let gap = alice.sign(nonce + 5, transfer.clone());
    assert_eq!(code(&client.submit(&gap).await.unwrap_err()), "nonce_gap");
    let unknown = alice.sign(
        nonce,
        Call {
            module: "teleport".into(),
            data: vec![],
        },
    );
    assert_eq!(
        code(&client.submit(&unknown).await.unwrap_err()),
        "unknown_module"
    );

    // Failures after inclusion: a failed receipt with the code, nothing else changes.
    let r = alice.send(&client, transfer).await.unwrap();
    assert!(!r.success);
    assert_eq!(r.error.unwrap().code, ErrorCode::NonTransferable);
    let r = alice
        .send(
            &client,
            Call::new(
                "rewards",
                &RewardsCall::CreateProgram {
                    name: "x".into(),
                    category: Category::Other,
                    budget: 1,
                    cap_per_period: 1,
                    period_ms: 1,
                    transferable: true,
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.error.unwrap().code, ErrorCode::Unauthorized);
    let r = dept
        .send(
            &client,
            Call::new(
                "rewards",
                &RewardsCall::Award {
                    program: 1,
                    to: alice.address(),
                    amount: 100,
                    reason: "x".into(),
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.error.unwrap().code, ErrorCode::OverCap);
    let r = alice
        .send(
            &client,
            Call {
                module: "rewards".into(),
                data: vec![99],
            },
        )
        .await
        .unwrap();
    assert_eq!(r.error.unwrap().code, ErrorCode::UnknownCall);
    let after = client
        .query("rewards", &["balance", &addr], false)
        .await
        .unwrap()
        .value;
    assert_eq!(before, after, "failed transactions changed state");

    // The committed tx is visible by hash, and a duplicate submission is rejected.
    let tx = admin
        .sign_next(
            &client,
            Call::new(
                "accounts",
                &AccountsCall::SetLabel {
                    label: "City".into(),
                },
            ),
        )
        .await
        .unwrap();
    let committed = client.submit_and_wait(&tx).await.unwrap();
    assert!(matches!(
        client.tx(&tx.hash()).await.unwrap(),
        TxStatus::Committed(_)
    ));
    assert_eq!(code(&client.submit(&tx).await.unwrap_err()), "duplicate_tx");
    let block = client
        .block(urbis_client::BlockId::Height(committed.height))
        .await
        .unwrap();
    assert!(block.finalization.is_some());

    // Batch submission: valid transactions are admitted in order, bad ones get their own code.
    let n0 = client.next_nonce(&admin.address()).await.unwrap();
    let label = |l: &str| Call::new("accounts", &AccountsCall::SetLabel { label: l.into() });
    let mut forged = admin.sign(n0 + 2, label("forged"));
    forged.signature = admin.sign(n0 + 3, label("other")).signature;
    let batch = vec![
        admin.sign(n0, label("b0")),
        admin.sign(n0 + 1, label("b1")),
        forged,
    ];
    let r = http
        .post(format!("{}/v1/txs/batch", node.url))
        .header("content-type", "application/octet-stream")
        .body(borsh::to_vec(&batch).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["results"][2]["error"]["code"], "bad_signature");
    let last = client
        .submit_and_wait(&admin.sign(n0 + 2, label("after batch")))
        .await
        .unwrap();
    assert!(last.receipt.success);

    // Unknown ids and endpoints.
    let missing = client.tx(&urbis_core::Hash([7; 32])).await.unwrap_err();
    assert_eq!(code(&missing), "not_found");
    let r = http
        .get(format!("{}/v1/nope", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let metrics = http
        .get(format!("{}/metrics", node.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("urbis_height"));
    // The node has executed blocks with transactions by now: its stages used CPU time.
    let cpu = |stage: &str| -> f64 {
        let key = format!("urbis_cpu_seconds_total{{stage=\"{stage}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .unwrap_or_else(|| panic!("no CPU time for {stage} in {metrics}"))
            .parse()
            .unwrap()
    };
    assert!(cpu("execute") > 0.0 && cpu("record") > 0.0);
    assert!(cpu("process") > cpu("execute") + cpu("record"));
    let openapi: serde_json::Value = http
        .get(format!("{}/v1/openapi.json", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(openapi["paths"]["/v1/txs"]["post"].is_object());
    assert_eq!(
        http.get(format!("{}/readyz", node.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    node.stop();
}
