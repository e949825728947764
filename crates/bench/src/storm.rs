//! The API storm of `urbis bench --scenario api-storm`: clients that hammer a node's API while
//! transactions load the chain, to measure that the API cannot slow consensus.
//!
//! - provers: each loops `GET /v1/query/rewards/balance/<citizen>?prove=true`;
//! - block fetchers: each loops `GET /v1/blocks/latest` and a recent height, full pages;
//! - event subscribers: each opens `GET /v1/events` and never reads a byte.
//!
//! Responses are read to the end and discarded (not parsed), so the load generator spends its
//! CPU on requests, not on JSON. Every answer is counted by outcome. The storm runs on a tokio
//! runtime of its own, so that it cannot starve the bench's submitters and event reader.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// How big the storm is.
#[derive(Clone, Debug, Serialize)]
pub struct StormConfig {
    pub provers: usize,
    pub block_fetchers: usize,
    pub subscribers: usize,
}

impl Default for StormConfig {
    fn default() -> Self {
        StormConfig {
            provers: 128,
            block_fetchers: 16,
            subscribers: 3_000,
        }
    }
}

/// What the storm got from the node.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StormStats {
    pub proofs_ok: u64,
    pub blocks_ok: u64,
    /// `503 overloaded` answers (the node shedding load, as designed).
    pub overloaded: u64,
    /// Other non-success answers and transport errors.
    pub errors: u64,
    pub subscribers_open: u64,
    pub subscribers_refused: u64,
}

#[derive(Default)]
struct Counters {
    proofs_ok: AtomicU64,
    blocks_ok: AtomicU64,
    overloaded: AtomicU64,
    errors: AtomicU64,
    subscribers_open: AtomicU64,
    subscribers_refused: AtomicU64,
}

/// A running storm; [`Storm::stop`] ends it and reports.
pub struct Storm {
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Open event streams, held (never read) until the storm stops.
    streams: Arc<tokio::sync::Mutex<Vec<reqwest::Response>>>,
    runtime: tokio::runtime::Runtime,
}

impl Storm {
    /// Start storming the node at `base` (e.g. `http://127.0.0.1:8545`); `addresses` are the
    /// accounts whose balances the provers ask for. Returns once the event subscribers are
    /// connected (or refused).
    pub async fn start(
        base: &str,
        addresses: Vec<String>,
        cfg: &StormConfig,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("storm")
            .enable_all()
            .build()?;
        let rt = runtime.handle().clone();
        let base = base.trim_end_matches('/').to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let streams = Arc::new(tokio::sync::Mutex::new(Vec::new()));
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(cfg.provers + cfg.block_fetchers)
            .build()
            .unwrap_or_default();
        let addresses = Arc::new(addresses);
        let mut tasks = Vec::new();
        for i in 0..cfg.provers {
            let (http, base, stop, c, addrs) = (
                http.clone(),
                base.clone(),
                stop.clone(),
                counters.clone(),
                addresses.clone(),
            );
            tasks.push(rt.spawn(async move {
                let mut k = i;
                while !stop.load(Ordering::Relaxed) {
                    let addr = &addrs[k % addrs.len().max(1)];
                    k += cfg_stride(i);
                    let url = format!("{base}/v1/query/rewards/balance/{addr}?prove=true");
                    fetch(&http, &url, &c, &c.proofs_ok).await;
                }
            }));
        }
        for i in 0..cfg.block_fetchers {
            let (http, base, stop, c) =
                (http.clone(), base.clone(), stop.clone(), counters.clone());
            tasks.push(rt.spawn(async move {
                let mut back = i as u64;
                while !stop.load(Ordering::Relaxed) {
                    fetch(
                        &http,
                        &format!("{base}/v1/blocks/latest?limit=1000"),
                        &c,
                        &c.blocks_ok,
                    )
                    .await;
                    // A recent block by height, if the latest one says where we are.
                    let height = latest_height(&http, &base).await;
                    if let Some(h) = height {
                        back = (back + 1) % 8;
                        let url = format!("{base}/v1/blocks/{}?limit=1000", h.saturating_sub(back));
                        fetch(&http, &url, &c, &c.blocks_ok).await;
                    }
                }
            }));
        }
        // Event subscribers: one connection each (a fresh client per batch, so none are pooled).
        let subscribers = cfg.subscribers;
        let mut opened = Vec::new();
        for chunk in 0..subscribers.div_ceil(100) {
            let n = (subscribers - chunk * 100).min(100);
            let (base, c, streams) = (base.clone(), counters.clone(), streams.clone());
            opened.push(rt.spawn(async move {
                let sse = match reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .pool_max_idle_per_host(0)
                    .build()
                {
                    Ok(c) => c,
                    Err(_) => return,
                };
                let url = format!("{base}/v1/events");
                for _ in 0..n {
                    match sse.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            c.subscribers_open.fetch_add(1, Ordering::Relaxed);
                            streams.lock().await.push(r);
                        }
                        Ok(_) => {
                            c.subscribers_refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            c.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for t in opened {
            let _ = t.await;
        }
        Ok(Storm {
            stop,
            counters,
            tasks,
            streams,
            runtime,
        })
    }

    /// A flag that, once set, stops the prover and block-fetcher clients (event subscribers
    /// stay connected, silent, until [`Storm::stop`]).
    pub fn stopper(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Stop every client and report what they got.
    pub async fn stop(self) -> StormStats {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(40), t).await;
        }
        self.streams.lock().await.clear();
        self.runtime.shutdown_background();
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StormStats {
            proofs_ok: get(&c.proofs_ok),
            blocks_ok: get(&c.blocks_ok),
            overloaded: get(&c.overloaded),
            errors: get(&c.errors),
            subscribers_open: get(&c.subscribers_open),
            subscribers_refused: get(&c.subscribers_refused),
        }
    }
}

/// Provers walk the address list with different strides so that they ask about different keys.
fn cfg_stride(i: usize) -> usize {
    2 * i + 1
}

/// GET `url`, read the whole body, count the outcome.
async fn fetch(http: &reqwest::Client, url: &str, c: &Counters, ok: &AtomicU64) {
    match http.get(url).send().await {
        Ok(r) => {
            let status = r.status();
            let body = r.bytes().await;
            if status.is_success() && body.is_ok() {
                ok.fetch_add(1, Ordering::Relaxed);
            } else if status.as_u16() == 503 {
                c.overloaded.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            } else {
                c.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(_) => {
            c.errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn latest_height(http: &reqwest::Client, base: &str) -> Option<u64> {
    let v: serde_json::Value = http
        .get(format!("{base}/v1/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    v["height"].as_u64()
}
