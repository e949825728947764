//! `urbis bench --scenario portal`: the portal's pages under load on a dev node.
//!
//! Set-up (not measured): departments, citizens and merchants with their roles, a reward
//! program and balances (the load bench's set-up). Measured: while the city mix of
//! transactions (awards, transfers, escrow, redemptions) is offered at `--rate` for
//! `--seconds`, `--concurrency` readers fetch the portal's pages round-robin — the home page,
//! the latest block, a committed transaction, a citizen's account, and each service page — and
//! each page's time (request to last byte, on loopback) is recorded. Reported per page: p50,
//! p95, max and size.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use urbis_client::Client;

use crate::cluster::Cluster;
use crate::load::{self, Pace};
use crate::records::runtime;
use crate::workload::{self, Accounts, Mix, Targets};

/// One page's timings.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PageTiming {
    pub page: String,
    pub requests: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub bytes: usize,
}

/// What the portal bench measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PortalReport {
    pub block_time_ms: u64,
    pub offered_per_s: f64,
    pub committed_per_s: f64,
    pub readers: usize,
    pub pages: Vec<PageTiming>,
}

impl PortalReport {
    pub fn table(&self) -> String {
        let mut out = format!(
            "Portal pages under load (dev node, block time {} ms; {:.0} tx/s offered, {:.0} tx/s committed; {} readers)\n\
             {:<14} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}\n",
            self.block_time_ms,
            self.offered_per_s,
            self.committed_per_s,
            self.readers,
            "page",
            "requests",
            "errors",
            "p50 ms",
            "p95 ms",
            "max ms",
            "bytes"
        );
        for p in &self.pages {
            out.push_str(&format!(
                "{:<14} {:>8} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9}\n",
                p.page, p.requests, p.errors, p.p50_ms, p.p95_ms, p.max_ms, p.bytes
            ));
        }
        out
    }
}

/// Per page: times of the answered requests (ms), failed requests, the last size in bytes.
type Timings = BTreeMap<&'static str, (Vec<f64>, usize, usize)>;

/// The pages read, by name: a path, or a kind that needs the chain's current facts.
const PAGES: &[&str] = &[
    "home",
    "block",
    "transaction",
    "account",
    "rewards",
    "governance",
    "participation",
    "energy",
    "mobility",
    "waste",
];

/// Run the portal scenario (starts and stops its own dev node).
pub fn run(
    exe: PathBuf,
    block_time_ms: u64,
    rate: f64,
    seconds: u64,
    readers: usize,
) -> anyhow::Result<PortalReport> {
    eprintln!("starting urbis dev (block time {block_time_ms} ms)…");
    let cluster = Cluster::start_dev(&exe, block_time_ms)?;
    let url = cluster.nodes[0].api.clone();
    let admin = cluster.admin.clone();
    let report = runtime()?.block_on(async move {
        let client = Client::new(&url)?;
        let status = client.status().await?;
        let chain = urbis_core::ChainRef::new(status.chain_id.clone(), status.genesis_hash);
        let accounts = Accounts::new(
            &format!("urbis-bench/portal/{}", std::process::id()),
            10,
            1_000,
            10,
        );
        eprintln!("set-up: 10 departments, 1,000 citizens, 10 merchants, one program…");
        let setup = load::setup(&client, &chain, &admin, &accounts, 1_000_000).await?;
        let n = (rate * seconds as f64) as usize;
        let targets = Targets {
            program: setup.program,
            asset: setup.asset.clone(),
            escrow_expires_ms: load::unix_ms().saturating_add(20_000),
            mix: Mix::CITY,
        };
        let planned = workload::plan(&accounts, &targets, n, &setup.next_nonce, 7);
        let citizen = accounts.citizens[0].address().to_string();
        let signed = {
            let chain = chain.clone();
            tokio::task::spawn_blocking(move || workload::sign_all(&accounts, &chain, planned))
                .await?
        };
        let first_tx = signed
            .first()
            .map(|t| t.hash)
            .context("no transaction planned")?;
        let events_url = format!("{}/v1/events", url.trim_end_matches('/'));
        let done = Arc::new(AtomicBool::new(false));
        let timings: Arc<Mutex<Timings>> = Arc::default();
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        for r in 0..readers {
            let (done, timings, http, url, client, citizen) = (
                done.clone(),
                timings.clone(),
                http.clone(),
                url.clone(),
                client.clone(),
                citizen.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut i = r;
                while !done.load(Ordering::Relaxed) {
                    let page = PAGES[i % PAGES.len()];
                    i += 1;
                    let path = match page {
                        "home" => "/".to_string(),
                        "block" => match client.status().await {
                            Ok(s) => format!("/blocks/{}", s.height),
                            Err(_) => continue,
                        },
                        "transaction" => format!("/txs/{first_tx}"),
                        "account" => format!("/accounts/{citizen}"),
                        other => format!("/{other}"),
                    };
                    let started = Instant::now();
                    let r = http.get(format!("{url}{path}")).send().await;
                    let (ok, bytes) = match r {
                        Ok(r) => (
                            r.status().is_success(),
                            r.bytes().await.map_or(0, |b| b.len()),
                        ),
                        Err(_) => (false, 0),
                    };
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    let mut t = timings.lock().unwrap_or_else(|e| e.into_inner());
                    let e = t.entry(page).or_default();
                    if ok {
                        e.0.push(ms);
                        e.2 = bytes;
                    } else {
                        e.1 += 1;
                    }
                }
            }));
        }
        eprintln!(
            "measuring: {n} transactions at {rate} tx/s while {readers} readers fetch pages…"
        );
        let obs = load::run(
            std::slice::from_ref(&client),
            &events_url,
            Arc::new(signed),
            Pace {
                concurrency: 8,
                rate: Some(rate),
                batch: 50,
            },
            || Ok(()),
            || {},
        )
        .await?;
        done.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await?;
        }
        let summary = obs.summary();
        let timings = timings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let pages = PAGES
            .iter()
            .map(|p| {
                let (mut ms, errors, bytes) = timings.get(p).cloned().unwrap_or_default();
                ms.sort_by(f64::total_cmp);
                let pct = |q| crate::stats::percentile(&ms, q).unwrap_or(0.0);
                PageTiming {
                    page: (*p).to_string(),
                    requests: ms.len(),
                    errors,
                    p50_ms: pct(50.0),
                    p95_ms: pct(95.0),
                    max_ms: ms.last().copied().unwrap_or(0.0),
                    bytes,
                }
            })
            .collect();
        anyhow::Ok(PortalReport {
            block_time_ms,
            offered_per_s: rate,
            committed_per_s: summary.per_s,
            readers,
            pages,
        })
    })?;
    drop(cluster);
    Ok(report)
}
