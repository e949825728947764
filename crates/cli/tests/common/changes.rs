//! The council's validator changes under load, on a network whatever its links: shared by the
//! loopback test (`validator_changes`) and the one across network namespaces (`netns`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::{get_json, key_from_hex, run_cli, wait_until};
use urbis_core::{Call, SecretKey, SignedTx};

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

/// On the testnet under `d` (genesis validators 0–3 at `apis[0..4]`, epochs of `epoch` blocks)
/// with validator 4 (key `key4`, p2p `p2p4`, API `apis[4]`) running but not in the genesis: a
/// department account sends transactions through validator 3 all along; the council adds
/// validator 4, then (an epoch later) removes validator 0; once the removal applies,
/// validators 0 and 1 are stopped (`kill`) and 2, 3, 4 must go on — a quorum of {1, 2, 3, 4}
/// only. Checks every load transaction is committed and validator 4 proposes. Returns the
/// height the check ended at.
pub fn run(
    d: &std::path::Path,
    apis: &[&String; 5],
    key4: &str,
    p2p4: &str,
    epoch: u64,
    kill: &mut dyn FnMut(usize),
) -> u64 {
    let http = super::http();
    let key0 = get_json(&http, &format!("{}/v1/genesis", apis[0])).unwrap()["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["public_key"].as_str().unwrap().to_string())
        .find(|k| *k != key4)
        .unwrap();

    // Load: a department account labels itself ~20 times a second through validator 3.
    let admin = key_from_hex(&std::fs::read_to_string(d.join("admin.key")).unwrap());
    let chain = super::chain_ref(apis[0]);
    let loader = SecretKey::from_label("changes-loader");
    super::commit(
        &http,
        apis[0],
        &super::grant_label(&chain, &admin, 0, "changes-loader"),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let load = {
        let (stop, sent, api, chain) = (stop.clone(), sent.clone(), apis[3].clone(), chain.clone());
        std::thread::spawn(move || {
            let http = super::http();
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
        let r = run_cli(apis[1], w, args);
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
    // `propose-validator` with `change`, by the admin; the proposal id.
    let propose = |change: &[&str]| {
        let mut args = vec!["gov", "council", "propose-validator", "--from", "admin"];
        args.extend_from_slice(change);
        args.extend_from_slice(&["--description", desc]);
        on(&args).lines().last().unwrap().trim().to_string()
    };
    let id = propose(&["--add", key4, "--name", "node4", "--address", p2p4]);
    on(&["gov", "council", "execute", "--from", "admin", &id]);
    let added_from = newest_set_epoch(&http, apis[1]);
    // A proposal the schedule refuses fails at execution, with its error code.
    let id = propose(&["--add", key4, "--name", "again", "--address", p2p4]);
    let r = run_cli(
        apis[1],
        w,
        &["gov", "council", "execute", "--from", "admin", &id],
    );
    assert!(
        !r.0 && format!("{}{}", r.1, r.2).contains("already_exists"),
        "{r:?}"
    );

    // Once the chain is in the epoch after the addition was decided, remove validator 0.
    let decided = status(&http, apis[1])["epoch"].as_u64().unwrap();
    wait_until("the next epoch", Duration::from_secs(120), || {
        status(&http, apis[1])["epoch"].as_u64().unwrap_or(0) > decided
    });
    let id = propose(&["--remove", &key0]);
    on(&["gov", "council", "execute", "--from", "admin", &id]);
    let removed_from = newest_set_epoch(&http, apis[1]);
    assert!(
        added_from >= 2 && removed_from > added_from,
        "{added_from} {removed_from}"
    );

    // Into the epoch after the removal: validator 4 signs, validator 0 no longer does.
    wait_until("the removal's epoch", Duration::from_secs(240), || {
        [&apis[2], &apis[3], &apis[4]]
            .iter()
            .all(|a| status(&http, a)["epoch"].as_u64().unwrap_or(0) >= removed_from)
    });
    let s4 = status(&http, apis[4]);
    let current: Vec<&str> = s4["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(current.contains(&key4) && !current.contains(&key0.as_str()));

    // Validators 0 (removed) and 1 stop: 2, 3 and 4 are a quorum of {1, 2, 3, 4} (they would
    // not be of the five, had the removal not happened).
    for i in [0, 1] {
        kill(i);
    }
    let h = height(&http, apis[2]);
    wait_until("the new set goes on", Duration::from_secs(120), || {
        [&apis[2], &apis[3], &apis[4]]
            .iter()
            .all(|a| height(&http, a) >= h + 2 * epoch)
    });
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent > 50, "the load ran ({sent} transactions)");
    let loader_addr = SecretKey::from_label("changes-loader").address();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let nonces: Vec<serde_json::Value> = [&apis[2], &apis[3], &apis[4]]
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
    let key4_text = key4.to_string();
    let top = height(&http, apis[2]);
    let proposed = (removed_from * epoch..top)
        .filter(|h| {
            get_json(&http, &format!("{}/v1/blocks/{h}", apis[2]))
                .is_some_and(|b| b["header"]["proposer"].as_str() == Some(&*key4_text))
        })
        .count();
    assert!(proposed > 0, "validator 4 proposes");

    top
}
