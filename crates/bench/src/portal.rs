//! `urbis bench --scenario portal`: the portal's pages under load on a dev node running the
//! demo city (`urbis dev --demo`).
//!
//! Set-up (not measured): the demo city is seeded and its simulator runs for 20 s. Measured:
//! while the simulator keeps every service busy at about `--rate` transactions per second for
//! `--seconds`, `--concurrency` readers fetch the portal's pages round-robin — the home page,
//! the latest block, a committed transaction, a resident's account, each service page, the
//! election's page, a waste batch, a parcel, the trust list and the signed-in page's shell —
//! and each page's time (request to last byte, on loopback) is recorded. Reported per page:
//! p50, p95, max and size, and the transactions committed per second meanwhile.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use urbis_client::Client;

use crate::cluster::Cluster;
use crate::records::runtime;

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
    "election",
    "batch",
    "parcel",
    "identity",
    "me",
];

/// Wait for the demo's thread; its failure is the bench's.
fn join(demo: std::thread::JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    demo.join()
        .map_err(|_| anyhow::anyhow!("the demo city's thread panicked"))?
}

/// Run the portal scenario (starts and stops its own dev node, running the demo city).
pub fn run(
    exe: PathBuf,
    block_time_ms: u64,
    rate: f64,
    seconds: u64,
    readers: usize,
) -> anyhow::Result<PortalReport> {
    eprintln!("starting urbis dev with the demo city (block time {block_time_ms} ms)…");
    let cluster = Cluster::start_dev_with(&exe, block_time_ms, crate::demo::patch_genesis)?;
    let url = cluster.nodes[0].api.clone();
    let admin = cluster.admin.clone();
    let report = runtime()?.block_on(async move {
        let client = Client::new(&url)?;
        let stop = Arc::new(AtomicBool::new(false));
        let demo = {
            let (url, stop) = (url.clone(), stop.clone());
            let config = crate::demo::DemoConfig {
                rate,
                credentials_dir: None,
            };
            // On a thread and runtime of its own, as `urbis dev --demo` runs it.
            std::thread::spawn(move || {
                runtime()?.block_on(crate::demo::run(&url, admin, config, stop))
            })
        };
        eprintln!("seeding the demo city, then letting it run for 20 s…");
        let deadline = Instant::now() + std::time::Duration::from_secs(300);
        while client.query("waste", &["batch", "1"], false).await.is_err() {
            if demo.is_finished() || Instant::now() > deadline {
                stop.store(true, Ordering::Relaxed);
                join(demo)?;
                anyhow::bail!("the demo city did not come to life");
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
        let citizen = crate::demo::resident(0).address().to_string();
        let election = client
            .query_list("voting", &["elections"], 1, None)
            .await?
            .items
            .first()
            .and_then(|e| e["id"].as_str().map(str::to_string))
            .context("the demo's election")?;
        let first_tx = client
            .search_events(&urbis_client::EventQuery {
                module: Some("identity".into()),
                limit: Some(1),
                ..Default::default()
            })
            .await?
            .events
            .first()
            .and_then(|e| e.tx_hash)
            .context("a committed transaction")?;
        let done = Arc::new(AtomicBool::new(false));
        let timings: Arc<Mutex<Timings>> = Arc::default();
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        for r in 0..readers {
            let (done, timings, http, url, client, citizen, election) = (
                done.clone(),
                timings.clone(),
                http.clone(),
                url.clone(),
                client.clone(),
                citizen.clone(),
                election.clone(),
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
                        "election" => format!("/participation/elections/{election}"),
                        "batch" => "/waste/batches/1".to_string(),
                        "parcel" => "/land/URB-0001".to_string(),
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
        eprintln!("measuring: {seconds} s of the demo city at about {rate} tx/s while {readers} readers fetch pages…");
        let h0 = client.status().await?.height;
        let started = Instant::now();
        tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
        done.store(true, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        let h1 = client.status().await?.height;
        for t in tasks {
            t.await?;
        }
        stop.store(true, Ordering::Relaxed);
        join(demo)?;
        let mut committed = 0usize;
        for h in h0 + 1..=h1 {
            committed += client
                .block_page(urbis_client::BlockId::Height(h), None, 1)
                .await?
                .tx_count;
        }
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
            committed_per_s: committed as f64 / elapsed,
            readers,
            pages,
        })
    })?;
    drop(cluster);
    Ok(report)
}
