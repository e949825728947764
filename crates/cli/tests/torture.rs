//! Crash torture: `kill -9` a loaded chain at random moments, again and again. After every
//! restart, every transaction a node had reported committed before the kill is still committed
//! at the same height, every block seen keeps its hash and state root, and the chain goes on
//! (each round checks all it recorded plus a random sample of older entries; the last check
//! covers the whole record).
//! Once with the dev chain (the node killed), once with a 4-validator testnet (a random
//! validator killed each round, its peers checked to agree block for block).
//!
//! Rounds: `URBIS_TORTURE_KILLS` (10 by default, the bounded run CI does; the full run is
//! `URBIS_TORTURE_KILLS=100 cargo test -p urbis --test torture -- --nocapture`). The moments
//! come from a seed printed at the start (`URBIS_TORTURE_SEED` repeats a run).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{Nodes, get_json as get, grant_citizen, key_from_hex, wait_until};
use serde_json::Value;
use urbis_core::{ChainRef, Hash, SecretKey, SignedTx};

fn kills() -> usize {
    std::env::var("URBIS_TORTURE_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// splitmix64: the kill moments, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn new(what: &str) -> Self {
        let seed = std::env::var("URBIS_TORTURE_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{what}: URBIS_TORTURE_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Milliseconds in `lo..hi`.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Submits the admin's role grants to `apis` (round-robin) until stopped; every transaction
/// it sent, in order.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<Mutex<Vec<Hash>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(apis: Vec<String>, admin: SecretKey, chain: ChainRef, first_nonce: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent: Arc<Mutex<Vec<Hash>>> = Arc::default();
        let nonce = AtomicU64::new(first_nonce);
        let (s, out) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            let mut i = 0usize;
            while !s.load(Ordering::Relaxed) {
                let n = nonce.fetch_add(1, Ordering::Relaxed);
                let tx: SignedTx = grant_citizen(&admin, &chain, n, "torture");
                let api = &apis[i % apis.len()];
                i += 1;
                // A node being killed refuses or drops it: that transaction is simply never
                // reported committed, and the nonces after it wait (the next round starts
                // from the chain's nonce).
                let _ = http
                    .post(format!("{api}/v1/txs"))
                    .header("content-type", "application/octet-stream")
                    .body(tx.encode())
                    .send();
                out.lock().unwrap().push(tx.hash());
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Load {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> Vec<Hash> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

/// What the chain had reported before a kill: committed transactions and blocks, each with
/// the round that recorded it.
#[derive(Default)]
struct Seen {
    txs: BTreeMap<Hash, (u64, usize)>,
    blocks: BTreeMap<u64, (Value, Value, usize)>,
    round: usize,
}

/// How many older entries of each kind a round re-checks; everything recorded in the round
/// itself (what the kill could have lost) is always checked, and the whole record at the end.
const SAMPLE: usize = 200;

impl Seen {
    /// Record, from `base`, which of `hashes` are committed and the blocks up to its height.
    fn record(&mut self, http: &reqwest::blocking::Client, base: &str, hashes: &[Hash]) {
        for h in hashes {
            if self.txs.contains_key(h) {
                continue;
            }
            if let Some(v) = get(http, &format!("{base}/v1/txs/{h}"))
                && v["status"] == "committed"
            {
                self.txs
                    .insert(*h, (v["height"].as_u64().unwrap(), self.round));
            }
        }
        let Some(status) = get(http, &format!("{base}/v1/status")) else {
            return;
        };
        let from = self.blocks.keys().next_back().map_or(1, |h| h + 1);
        for h in from..=status["height"].as_u64().unwrap_or(0) {
            let Some(b) = get(http, &format!("{base}/v1/blocks/{h}")) else {
                break;
            };
            if b["state_root_after"].is_null() {
                break;
            }
            self.blocks.insert(
                h,
                (b["hash"].clone(), b["state_root_after"].clone(), self.round),
            );
        }
    }

    /// Every entry recorded this round, and `SAMPLE` older ones of each kind picked by `rng`
    /// (all of them when `rng` is `None`), is still there on `base`, unchanged. Re-checking
    /// the whole record every round made long runs quadratic.
    fn check(
        &self,
        http: &reqwest::blocking::Client,
        base: &str,
        round: usize,
        mut rng: Option<&mut Rng>,
    ) {
        let fresh = |r: usize| rng.is_none() || r == self.round;
        let mut txs: Vec<(&Hash, u64)> = (self.txs.iter())
            .filter(|(_, e)| fresh(e.1))
            .map(|(h, e)| (h, e.0))
            .collect();
        let mut blocks: Vec<(u64, &Value, &Value)> = (self.blocks.iter())
            .filter(|(_, e)| fresh(e.2))
            .map(|(h, e)| (*h, &e.0, &e.1))
            .collect();
        if let Some(rng) = rng.as_mut() {
            let old_txs: Vec<_> = self.txs.iter().filter(|(_, e)| e.1 < self.round).collect();
            for _ in 0..SAMPLE.min(old_txs.len()) {
                let (h, e) = old_txs[(rng.next() % old_txs.len() as u64) as usize];
                txs.push((h, e.0));
            }
            let old_blocks: Vec<_> = (self.blocks.iter())
                .filter(|(_, e)| e.2 < self.round)
                .collect();
            for _ in 0..SAMPLE.min(old_blocks.len()) {
                let (h, e) = old_blocks[(rng.next() % old_blocks.len() as u64) as usize];
                blocks.push((*h, &e.0, &e.1));
            }
        }
        for (hash, height) in txs {
            let v = get(http, &format!("{base}/v1/txs/{hash}"))
                .unwrap_or_else(|| panic!("round {round}: committed transaction {hash} lost"));
            assert_eq!(v["status"], "committed", "round {round}: {hash}");
            assert_eq!(v["height"].as_u64(), Some(height), "round {round}: {hash}");
        }
        for (h, hash, root) in blocks {
            let b = get(http, &format!("{base}/v1/blocks/{h}"))
                .unwrap_or_else(|| panic!("round {round}: block {h} lost on {base}"));
            assert_eq!(
                &b["hash"], hash,
                "round {round}: block {h} changed on {base}"
            );
            assert_eq!(
                &b["state_root_after"], root,
                "round {round}: root {h} changed on {base}"
            );
        }
    }
}

fn next_nonce(http: &reqwest::blocking::Client, base: &str, who: &SecretKey) -> u64 {
    let mut n = None;
    wait_until("the nonce", Duration::from_secs(30), || {
        n = get(http, &format!("{base}/v1/nonce/{}", who.address()))
            .and_then(|v| v["nonce"].as_u64());
        n.is_some()
    });
    n.unwrap()
}

fn kill(child: &mut Option<Child>) {
    let mut c = child.take().unwrap();
    c.kill().unwrap(); // SIGKILL
    c.wait().unwrap();
}

#[test]
fn a_loaded_dev_chain_survives_repeated_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = http();
    let mut nodes = Nodes(vec![Some(common::spawn_dev(dir.path(), port))]);
    common::wait_ready(&base);
    let keys: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("chain/dev-keys.json")).unwrap())
            .unwrap();
    let admin = key_from_hex(keys["admin_seed"].as_str().unwrap());
    let chain = common::chain_ref(&base);
    let mut rng = Rng::new("dev chain");
    let mut seen = Seen::default();
    let started = Instant::now();
    for round in 1..=kills() {
        let load = Load::start(
            vec![base.clone()],
            admin.clone(),
            chain.clone(),
            next_nonce(&http, &base, &admin),
        );
        std::thread::sleep(rng.millis(300, 2_000));
        let sent = load.sent.lock().unwrap().clone();
        seen.round = round;
        seen.record(&http, &base, &sent);
        // The kill lands while the load still streams in.
        kill(&mut nodes.0[0]);
        load.stop();
        nodes.0[0] = Some(common::spawn_dev(dir.path(), port));
        common::wait_ready(&base);
        seen.check(&http, &base, round, Some(&mut rng));
    }
    seen.check(&http, &base, kills(), None);
    // The chain goes on: a last transaction commits after everything above.
    let tx = grant_citizen(
        &admin,
        &chain,
        next_nonce(&http, &base, &admin),
        "torture-end",
    );
    let r = http
        .post(format!("{base}/v1/txs?wait=true"))
        .json(&tx)
        .timeout(Duration::from_secs(40))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    eprintln!(
        "dev chain: {} kills in {:.0} s; {} committed transactions and {} blocks checked after every restart",
        kills(),
        started.elapsed().as_secs_f64(),
        seen.txs.len(),
        seen.blocks.len()
    );
    assert!(!seen.txs.is_empty(), "the load committed nothing");
}

#[test]
fn a_loaded_testnet_survives_validators_killed_at_random() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let apis = common::init_testnet(d, 4, "urbis-torture");
    let http = http();
    let mut nodes = Nodes(
        (0..4)
            .map(|i| Some(common::start_validator(d, i)))
            .collect(),
    );
    for a in &apis {
        common::wait_ready(a);
    }
    let admin = key_from_hex(&std::fs::read_to_string(d.join("admin.key")).unwrap());
    let chain = common::chain_ref(&apis[0]);
    let mut rng = Rng::new("testnet");
    let mut seen = Seen::default();
    let started = Instant::now();
    for round in 1..=kills() {
        let victim = (rng.next() % 4) as usize;
        let live: Vec<String> = (0..4)
            .filter(|i| *i != victim)
            .map(|i| apis[i].clone())
            .collect();
        let load = Load::start(
            apis.clone(),
            admin.clone(),
            chain.clone(),
            next_nonce(&http, &live[0], &admin),
        );
        std::thread::sleep(rng.millis(300, 2_000));
        let sent = load.sent.lock().unwrap().clone();
        seen.round = round;
        seen.record(&http, &live[0], &sent);
        kill(&mut nodes.0[victim]);
        load.stop();
        nodes.0[victim] = Some(common::start_validator(d, victim));
        common::wait_ready(&apis[victim]);
        // The restarted validator catches up to what was recorded, then every validator holds
        // the same blocks and roots and every committed transaction.
        let top = seen.blocks.keys().next_back().copied().unwrap_or(0);
        wait_until(
            "the restarted validator catches up",
            Duration::from_secs(90),
            || {
                get(&http, &format!("{}/v1/status", apis[victim]))
                    .and_then(|s| s["height"].as_u64())
                    .is_some_and(|h| h >= top)
            },
        );
        for a in &apis {
            seen.check(&http, a, round, Some(&mut rng));
        }
    }
    for a in &apis {
        seen.check(&http, a, kills(), None);
    }
    eprintln!(
        "testnet: {} validator kills in {:.0} s; {} committed transactions and {} blocks checked on all four after every restart",
        kills(),
        started.elapsed().as_secs_f64(),
        seen.txs.len(),
        seen.blocks.len()
    );
    assert!(!seen.txs.is_empty(), "the load committed nothing");
}
