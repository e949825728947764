//! The module platform through the public API and the `urbis` binary: paginated lists.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestNode, run_cli};
use urbis_accounts::{AccountsCall, Role};
use urbis_client::{Client, Signer};
use urbis_core::{Call, SecretKey};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_paginated_the_same_way_everywhere() {
    let node = TestNode::start();
    let client = Client::new(&node.url).unwrap();
    let admin = Signer::new(
        node.admin.clone(),
        node.chain_id.clone(),
        node.chain.genesis_hash,
    );
    let n0 = client.next_nonce(&admin.address()).await.unwrap();
    let txs: Vec<_> = (0..7u64)
        .map(|i| {
            admin.sign(
                n0 + i,
                Call::new(
                    "accounts",
                    &AccountsCall::GrantRole {
                        account: SecretKey::from_label(&format!("resident-{i}")).address(),
                        role: Role::Citizen,
                    },
                ),
            )
        })
        .collect();
    client.submit_batch(&txs).await.unwrap();
    for t in &txs {
        while !matches!(
            client.tx(&t.hash()).await,
            Ok(urbis_client::TxStatus::Committed(_))
        ) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    // Eight accounts (the admin and seven residents), three at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = client
            .query_list("accounts", &["accounts"], 3, cursor.as_deref())
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|a| a["address"].to_string()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 8, "no entry twice");

    // Bad pages and misuse: stable codes.
    let http = reqwest::Client::new();
    let code = |path: String| {
        let http = http.clone();
        let url = format!("{}{path}", node.url);
        async move {
            let r = http.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap();
            (status, v["code"].as_str().unwrap_or_default().to_string())
        }
    };
    for bad in [
        "/v1/query/accounts/accounts?limit=0",
        "/v1/query/accounts/accounts?limit=1001",
        "/v1/query/accounts/accounts?cursor=zz",
        "/v1/query/accounts/accounts?cursor=00",
        "/v1/query/accounts/accounts?prove=true",
        "/v1/query/rewards/supply?limit=5",
    ] {
        assert_eq!(
            code(bad.to_string()).await,
            (400, "invalid_argument".to_string()),
            "{bad}"
        );
    }
    assert_eq!(
        code("/v1/query/nobody/list".into()).await.1,
        "unknown_module"
    );

    // The same through the binary.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
        .args(["--node", &node.url, "--output", "json"])
        .args([
            "query", "list", "accounts", "accounts", "--limit", "3", "--all",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 8);
    assert!(v["next_cursor"].is_null());
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_through_the_cli_with_proofs() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let urbis = |args: &[&str]| run_cli(&node.url, dir.path(), args);
    let seed = hex::encode(node.admin.seed());
    assert!(urbis(&["keys", "import", "admin", "--seed", &seed]).0);
    assert!(urbis(&["keys", "new", "alice"]).0);
    let ok = |r: (bool, String, String)| assert!(r.0, "{} {}", r.1, r.2);
    ok(urbis(&[
        "tx",
        "accounts",
        "grant-role",
        "--from",
        "admin",
        "--account",
        "alice",
        "--role",
        "citizen",
    ]));
    ok(urbis(&[
        "tx",
        "assets",
        "create",
        "--from",
        "admin",
        "--symbol",
        "EURc",
        "--name",
        "Euro (cents)",
    ]));
    ok(urbis(&[
        "tx", "assets", "issue", "--from", "admin", "--symbol", "EURc", "--to", "alice",
        "--amount", "12500",
    ]));
    ok(urbis(&[
        "tx", "assets", "transfer", "--from", "alice", "--symbol", "EURc", "--to", "admin",
        "--amount", "2500",
    ]));
    let (ok_, _, err) = urbis(&[
        "tx", "assets", "burn", "--from", "alice", "--symbol", "EURc", "--amount", "1",
    ]);
    assert!(!ok_ && err.contains("unauthorized"), "{err}");

    // Balances, proven and checked against the genesis validators.
    let client = Client::new(&node.url).unwrap();
    let genesis: urbis_runtime::Genesis =
        serde_json::from_slice(&std::fs::read(&node.genesis_path).unwrap()).unwrap();
    let list = client
        .query_list("assets", &["balances", "EURc"], 10, None)
        .await
        .unwrap();
    assert_eq!(list.items.len(), 2);
    for item in &list.items {
        let addr = item["address"].as_str().unwrap();
        let answer = client
            .query("assets", &["balance", "EURc", addr], true)
            .await
            .unwrap();
        urbis_client::verify_query(&answer, &genesis).unwrap();
        assert_eq!(answer.value["amount"], item["amount"]);
    }
    let asset = client
        .query("assets", &["asset", "EURc"], true)
        .await
        .unwrap();
    urbis_client::verify_query(&asset, &genesis).unwrap();
    assert_eq!(asset.value["outstanding"], 12_500);
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_are_proven_and_checked() {
    let node = TestNode::start();
    let client = Client::new(&node.url).unwrap();
    let admin = Signer::new(
        node.admin.clone(),
        node.chain_id.clone(),
        node.chain.genesis_hash,
    );
    let tx = admin
        .sign_next(
            &client,
            Call::new(
                "accounts",
                &AccountsCall::GrantRole {
                    account: SecretKey::from_label("proven").address(),
                    role: Role::Citizen,
                },
            ),
        )
        .await
        .unwrap();
    client.submit_and_wait(&tx).await.unwrap();
    let genesis: urbis_runtime::Genesis =
        serde_json::from_slice(&std::fs::read(&node.genesis_path).unwrap()).unwrap();
    let committed = client.tx_proven(&tx.hash()).await.unwrap();
    let bundle = committed.proof.clone().unwrap();
    let verified = urbis_client::verify_receipt(&bundle, &genesis).unwrap();
    assert_eq!(verified.receipt, committed.receipt);
    assert!(verified.receipt.success);
    assert_eq!(verified.receipt.events[0].kind, "role_granted");

    // Any change to the receipt, its path or the chain of evidence is refused.
    let mut t = bundle.clone();
    t.receipt.success = false;
    assert!(urbis_client::verify_receipt(&t, &genesis).is_err());
    let mut t = bundle.clone();
    t.receipt.events[0].attributes[0].1.push('x');
    assert!(urbis_client::verify_receipt(&t, &genesis).is_err());
    let mut t = bundle.clone();
    t.acc_before.0[0] ^= 1;
    assert!(urbis_client::verify_receipt(&t, &genesis).is_err());
    if !bundle.path.is_empty() {
        let mut t = bundle.clone();
        t.path[0].sibling.0[0] ^= 1;
        assert!(urbis_client::verify_receipt(&t, &genesis).is_err());
    }
    let mut t = bundle.clone();
    t.headers[0].height += 1;
    assert!(urbis_client::verify_receipt(&t, &genesis).is_err());
    let mut t = bundle.clone();
    t.finalization[5] ^= 1;
    assert!(urbis_client::verify_receipt(&t, &genesis).is_err());

    // Through the binary: tx status --prove --out, then urbis verify; a tampered file fails.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receipt.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
        .args([
            "--node",
            &node.url,
            "tx",
            "status",
            &tx.hash().to_hex(),
            "--prove",
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = |f: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
            .arg("verify")
            .arg(f)
            .arg("--genesis")
            .arg(&node.genesis_path)
            .output()
            .unwrap()
    };
    let ok = verify(&file);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("succeeded"));
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["receipt"]["index"] = serde_json::json!(7);
    std::fs::write(&file, v.to_string()).unwrap();
    let bad = verify(&file);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid_proof"));
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_searchable_and_streams_filter() {
    let node = TestNode::start();
    let client = Client::new(&node.url).unwrap();
    let admin = Signer::new(
        node.admin.clone(),
        node.chain_id.clone(),
        node.chain.genesis_hash,
    );
    // A filtered stream, opened before anything happens.
    let http = reqwest::Client::new();
    let target = SecretKey::from_label("searched-2").address();
    let mut stream = http
        .get(format!(
            "{}/v1/events?module=accounts&account={target}",
            node.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);

    for i in 0..5u64 {
        let r = admin
            .send(
                &client,
                Call::new(
                    "accounts",
                    &AccountsCall::GrantRole {
                        account: SecretKey::from_label(&format!("searched-{i}")).address(),
                        role: Role::Citizen,
                    },
                ),
            )
            .await
            .unwrap();
        assert!(r.success);
    }
    let last_height = client.status().await.unwrap().height;
    // Wait for the indexer.
    let q = |f: &dyn Fn(&mut urbis_client::EventQuery)| {
        let mut q = urbis_client::EventQuery::default();
        f(&mut q);
        q
    };
    loop {
        let p = client.search_events(&q(&|_| {})).await.unwrap();
        if p.indexed_height.unwrap_or(0) >= last_height {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let granted = client
        .search_events(&q(&|q| {
            q.module = Some("accounts".into());
            q.kind = Some("role_granted".into());
        }))
        .await
        .unwrap();
    assert_eq!(granted.events.len(), 5);
    let one = client
        .search_events(&q(&|q| q.account = Some(target.to_string())))
        .await
        .unwrap();
    assert_eq!(one.events.len(), 1);
    assert_eq!(
        one.events[0].event.attr("account"),
        Some(target.to_string().as_str())
    );
    assert!(one.events[0].tx_hash.is_some());
    // Pages of two.
    let mut n = 0;
    let mut cursor = None;
    loop {
        let p = client
            .search_events(&q(&|q| {
                q.module = Some("accounts".into());
                q.limit = Some(2);
                q.cursor = cursor.clone();
            }))
            .await
            .unwrap();
        n += p.events.len();
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(n >= 5);
    // Bad searches: stable codes.
    let code = |url: &str| {
        let (http, url) = (http.clone(), format!("{}{url}", node.url));
        async move {
            let r = http.get(url).send().await.unwrap();
            let v: serde_json::Value = r.json().await.unwrap();
            v["code"].as_str().unwrap_or_default().to_string()
        }
    };
    assert_eq!(
        code("/v1/events/search?module=nobody").await,
        "unknown_module"
    );
    assert_eq!(
        code("/v1/events/search?kind=role_granted").await,
        "invalid_argument"
    );
    assert_eq!(
        code("/v1/events/search?account=urbis1bad").await,
        "invalid_argument"
    );
    assert_eq!(code("/v1/events/search?limit=0").await, "invalid_argument");
    assert_eq!(
        code("/v1/events/search?module=accounts&cursor=zz").await,
        "invalid_argument"
    );
    assert_eq!(code("/v1/events?module=nobody").await, "unknown_module");

    // The filtered stream carried exactly the one matching event.
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text.contains("event: event") {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(c))) => text.push_str(&String::from_utf8_lossy(&c)),
            _ => break,
        }
    }
    assert_eq!(text.matches("event: event").count(), 1, "{text}");
    assert!(text.contains(&target.to_string()));
    assert!(!text.contains("event: block"));
    node.stop();
}

/// Validate `value` against the schema the OpenAPI document gives for `path`'s 200 answer
/// (its `$ref`s resolved inside the document).
fn check_against_openapi(
    doc: &serde_json::Value,
    method: &str,
    path: &str,
    value: &serde_json::Value,
) {
    let schema =
        &doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} has no JSON response schema"
    );
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    root["$schema"] = serde_json::json!("https://json-schema.org/draft/2020-12/schema");
    let validator = jsonschema::validator_for(&root)
        .unwrap_or_else(|e| panic!("{method} {path}: the schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{method} {path}: {errors:?}\n{value:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_module_from_any_client_by_its_json_form() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let urbis = |args: &[&str]| run_cli(&node.url, dir.path(), args);
    let ok = |r: (bool, String, String)| {
        assert!(r.0, "{} {}", r.1, r.2);
        r.1
    };
    let seed = hex::encode(node.admin.seed());
    ok(urbis(&["keys", "import", "admin", "--seed", &seed]));
    ok(urbis(&["keys", "new", "alice"]));
    let admin = node.admin.address().to_string();
    let keys: serde_json::Value =
        serde_json::from_str(&ok(urbis(&["--output", "json", "keys", "list"]))).unwrap();
    let alice = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "alice")
        .unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();

    // Every call below is the JSON form, encoded by the CLI itself.
    let call = |from: &str, module: &str, json: serde_json::Value| {
        urbis(&["tx", "call", "--from", from, module, &json.to_string()])
    };
    ok(call(
        "admin",
        "accounts",
        serde_json::json!({"call": "grant_role", "account": alice, "role": "citizen"}),
    ));
    ok(call(
        "admin",
        "assets",
        serde_json::json!({"call": "create_asset", "symbol": "EURc", "name": "Euro (cents)", "decimals": 2}),
    ));
    ok(call(
        "admin",
        "assets",
        serde_json::json!({"call": "issue", "symbol": "EURc", "to": alice, "amount": 1000}),
    ));
    ok(call(
        "alice",
        "assets",
        serde_json::json!({"call": "transfer", "symbol": "EURc", "to": admin, "amount": 250}),
    ));

    // Calls that do not match the schema never leave the client.
    for bad in [
        serde_json::json!({"call": "transfer", "symbol": "EURc", "to": admin}),
        serde_json::json!({"call": "transfer", "symbol": "EURc", "to": admin, "amount": "ten"}),
        serde_json::json!({"call": "transfer", "symbol": "EURc", "to": admin, "amount": 1, "memo": 1}),
        serde_json::json!({"call": "mint_everything"}),
    ] {
        let (success, _, err) = call("alice", "assets", bad.clone());
        assert!(!success && err.contains("schema_mismatch"), "{bad}: {err}");
    }
    // The JSON may come on standard input.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
        .env("URBIS_KEYSTORE", dir.path().join("keystore.json"))
        .env("URBIS_PASSPHRASE", "cli test passphrase")
        .args([
            "--node", &node.url, "tx", "call", "--from", "alice", "assets", "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let json =
            serde_json::json!({"call": "transfer", "symbol": "EURc", "to": admin, "amount": 50});
        child
            .stdin
            .take()
            .unwrap()
            .write_all(json.to_string().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (success, _, err) = urbis(&["tx", "call", "--from", "alice", "assets", "{not json"]);
    assert!(!success && err.contains("schema_mismatch"), "{err}");
    let (success, _, err) = call("alice", "parking", serde_json::json!({"call": "pay"}));
    assert!(!success && err.contains("unknown_module"), "{err}");

    // Generic queries: a single key (proven and checked), and a list.
    let balance: serde_json::Value = serde_json::from_str(&ok(urbis(&[
        "--output", "json", "query", "assets", "balance", "EURc", &alice,
    ])))
    .unwrap();
    assert_eq!(balance["value"]["amount"], 700, "{balance}");
    let proven = ok(urbis(&[
        "--output", "json", "query", "assets", "balance", "EURc", &alice, "--prove",
    ]));
    let proof_file = dir.path().join("answer.json");
    std::fs::write(&proof_file, &proven).unwrap();
    ok(urbis(&["verify", proof_file.to_str().unwrap()]));
    let listed = ok(urbis(&[
        "--output", "json", "query", "assets", "balances", "EURc", "--limit", "1",
    ]));
    let page: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert!(page["next_cursor"].is_string(), "{page}");
    let (success, _, err) = urbis(&["query", "assets", "nowhere"]);
    assert!(!success && err.contains("not_found"), "{err}");

    // The modules and their schemas, from the node.
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let modules = get(format!("{}/v1/modules", node.url)).await;
    let names: Vec<&str> = modules["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for n in ["accounts", "assets", "rewards", "system"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let assets = get(format!("{}/v1/modules/assets", node.url)).await;
    assert!(
        assets["calls"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("transfer"))
    );
    assert_eq!(
        assets["exported"],
        serde_json::json!(["hold", "release", "refund"])
    );
    let r = http
        .get(format!("{}/v1/modules/parking", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let table = ok(urbis(&["modules"]));
    for line in [
        "notices",
        "calls:    create_asset, issue, burn, transfer, escrow, claim, cancel",
        "query:    balance/<symbol>/<address>",
        "exported: award_from_program",
    ] {
        assert!(table.contains(line), "{line:?} not in\n{table}");
    }
    let text = ok(urbis(&["modules", "assets", "--schema"]));
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(schema, assets["call_schema"]);

    // What the node answers matches what its OpenAPI document says, endpoint by endpoint.
    let doc = get(format!("{}/v1/openapi.json", node.url)).await;
    for name in ["accounts", "assets", "rewards"] {
        assert!(
            doc["components"]["schemas"][format!("Call.{name}")].is_object(),
            "{name}"
        );
    }
    let history = ok(urbis(&[
        "--output", "json", "events", "search", "--module", "assets",
    ]));
    let events: serde_json::Value = serde_json::from_str(&history).unwrap();
    let tx_hash = events["events"][0]["tx_hash"].as_str().unwrap().to_string();
    let u = &node.url;
    let checks: Vec<(&str, String)> = vec![
        ("/v1/status", format!("{u}/v1/status")),
        ("/v1/genesis", format!("{u}/v1/genesis")),
        ("/v1/txs/{hash}", format!("{u}/v1/txs/{tx_hash}")),
        ("/v1/txs/{hash}", format!("{u}/v1/txs/{tx_hash}?prove=true")),
        ("/v1/blocks/{id}", format!("{u}/v1/blocks/latest")),
        (
            "/v1/blocks/{id}",
            format!("{u}/v1/blocks/{}", events["events"][0]["height"]),
        ),
        ("/v1/nonce/{address}", format!("{u}/v1/nonce/{admin}")),
        (
            "/v1/query/{module}/{path}",
            format!("{u}/v1/query/assets/balance/EURc/{alice}"),
        ),
        (
            "/v1/query/{module}/{path}",
            format!("{u}/v1/query/assets/asset/EURc?prove=true"),
        ),
        (
            "/v1/query/{module}/{path}",
            format!("{u}/v1/query/assets/balances/EURc?limit=1"),
        ),
        (
            "/v1/events/search",
            format!("{u}/v1/events/search?module=assets&limit=2"),
        ),
        ("/v1/evidence", format!("{u}/v1/evidence")),
        ("/v1/modules", format!("{u}/v1/modules")),
        ("/v1/modules/{name}", format!("{u}/v1/modules/rewards")),
    ];
    for (path, url) in checks {
        let value = get(url).await;
        check_against_openapi(&doc, "get", path, &value);
    }
    // The documented request schema accepts a real signed transaction.
    let signer = Signer::new(
        node.admin.clone(),
        node.chain_id.clone(),
        node.chain.genesis_hash,
    );
    let tx = signer.sign(
        99,
        urbis_client::json_call(
            "accounts",
            &serde_json::json!({"call": "set_label", "label": "City"}),
        )
        .unwrap(),
    );
    let mut root =
        doc["paths"]["/v1/txs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            .clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::validator_for(&root).unwrap();
    assert!(validator.is_valid(&serde_json::to_value(&tx).unwrap()));
    node.stop();
}
