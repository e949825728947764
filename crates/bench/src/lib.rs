//! Urbis benchmarks.
//!
//! [`run`] is `urbis bench`: an end-to-end load generator. It starts a dev chain or a local
//! testnet as child processes of the `urbis` binary (or targets a running network), sets up
//! departments, citizens, merchants, a reward program and a settlement asset, pre-signs a mix of
//! transactions (45% reward awards, 20% reward transfers, 10% redemptions, 15% asset transfers,
//! 10% escrow payments, i.e. holds that the scheduler refunds), submits them over the public
//! API and follows
//! finalization over `/v1/events`. In the same run it measures this machine's Ed25519
//! verification rate ([`ceiling`]) and reports the chain's throughput as a share of it.
//!
//! The criterion micro-benchmarks live in `benches/`.

pub mod ceiling;
pub mod cluster;
pub mod demo;
pub mod election;
pub mod energy;
pub mod load;
pub mod mobility;
pub mod permits;
pub mod portal;
pub mod records;
pub mod report;
pub mod resolve;
pub mod soak;
pub mod stats;
pub mod storm;
pub mod waste;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use urbis_client::Client;
use urbis_core::SecretKey;

pub use report::Report;
pub use storm::{StormConfig, StormStats};

/// What a run measures.
#[derive(Clone, Debug)]
pub enum Scenario {
    /// The chain's throughput and latency under the transaction mix.
    Load,
    /// The block rate under transaction load with and without an API storm (see [`storm`]):
    /// the planned transactions are split in two halves, the first submitted alone, the second
    /// while the storm runs.
    ApiStorm(StormConfig),
}

/// The result of `--scenario api-storm`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StormReport {
    /// Blocks per second under the storm / without it (target ≥ 0.8).
    pub block_rate_ratio: f64,
    /// Blocks per second of each phase, from the chain itself: blocks whose timestamps fall
    /// within the phase's submission window (so a client that falls behind cannot skew it).
    pub calm_blocks_per_s: f64,
    pub storm_blocks_per_s: f64,
    pub storm: StormConfig,
    pub storm_stats: StormStats,
    /// The first half of the load, without the storm.
    pub calm: Report,
    /// The second half, during the storm.
    pub stormy: Report,
}

impl StormReport {
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let s = &self.storm_stats;
        let _ = writeln!(
            out,
            "API storm: {} provers, {} block fetchers, {} silent event subscribers ({} open, {} refused)",
            self.storm.provers,
            self.storm.block_fetchers,
            self.storm.subscribers,
            s.subscribers_open,
            s.subscribers_refused
        );
        let _ = writeln!(
            out,
            "  answered: {} proofs, {} block pages; {} overloaded (shed), {} errors",
            s.proofs_ok, s.blocks_ok, s.overloaded, s.errors
        );
        let _ = writeln!(
            out,
            "block rate (chain heights over block time): {} blocks/s calm, {} blocks/s in the storm: ratio {} (target >= 0.8)",
            self.calm_blocks_per_s, self.storm_blocks_per_s, self.block_rate_ratio
        );
        let held = self.stormy.submit_per_s >= 0.95 * self.calm.submit_per_s;
        let _ = writeln!(
            out,
            "submitted: {} tx/s calm, {} tx/s in the storm ({})",
            self.calm.submit_per_s,
            self.stormy.submit_per_s,
            if held {
                "the load held".to_string()
            } else {
                format!(
                    "intake fell to {:.0}%: the API's share of the machine serves the storm too",
                    100.0 * self.stormy.submit_per_s / self.calm.submit_per_s.max(1e-9)
                )
            }
        );
        if self.stormy.lagged_events > 0 {
            let _ = writeln!(
                out,
                "note: the bench's own event reader fell behind during the storm ({} lagged events): \
                 the storm phase's latency and steady throughput below come from it and are not \
                 the chain's",
                self.stormy.lagged_events
            );
        }
        let _ = writeln!(out, "\n-- without the storm --\n{}", self.calm.table());
        let _ = writeln!(out, "-- during the storm --\n{}", self.stormy.table());
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// What [`run`] reports.
pub enum Outcome {
    Load(Box<Report>),
    Storm(Box<StormReport>),
}

/// Where the load goes.
pub enum Target {
    /// `urbis dev` started by the bench on a temporary directory.
    Dev,
    /// A local testnet of this many validators started by the bench.
    Testnet(usize),
    /// A running network: its API URL and a key holding the `city_admin` role.
    Remote { url: String, admin: SecretKey },
}

pub struct Options {
    pub target: Target,
    /// The `urbis` binary used to start nodes.
    pub exe: PathBuf,
    /// Measured transactions.
    pub txs: usize,
    /// Global submission rate (tx/s); `None` submits as fast as the node accepts.
    pub rate: Option<f64>,
    /// Concurrent submitter tasks.
    pub concurrency: usize,
    /// Transactions per request: 1 posts each to `/v1/txs`, more use `/v1/txs/batch`.
    pub batch: usize,
    /// Block time of the nodes the bench starts.
    pub block_time_ms: u64,
    pub departments: usize,
    pub citizens: usize,
    pub merchants: usize,
    /// How long each verification-rate measurement runs.
    pub ceiling_time: Duration,
    /// Seed of the workload mix.
    pub seed: u64,
    /// The transaction mix.
    pub mix: workload::Mix,
    pub scenario: Scenario,
}

impl Options {
    fn validate(&self) -> anyhow::Result<()> {
        if self.txs == 0 {
            bail!("--txs must be positive");
        }
        if self.departments == 0 || self.citizens < 2 || self.merchants == 0 {
            bail!("the workload needs at least one department, two citizens and one merchant");
        }
        if self.departments + self.citizens + self.merchants + 1 > 4_000 {
            bail!("at most 4000 accounts (the admin's set-up must fit its mempool queue)");
        }
        if let Some(r) = self.rate
            && !(r > 0.0 && r.is_finite())
        {
            bail!("--rate must be positive");
        }
        Ok(())
    }
}

/// Height and timestamp (ms) of the node's latest executed block.
async fn tip(client: &Client) -> anyhow::Result<(u64, u64)> {
    let b = client
        .block_page(urbis_client::BlockId::Latest, None, 1)
        .await
        .context("read the latest block")?;
    Ok((b.header.height, b.header.timestamp_ms))
}

/// The timestamps of every block from `from` to the latest.
async fn block_times(client: &Client, from: u64) -> anyhow::Result<Vec<u64>> {
    let (to, _) = tip(client).await?;
    let mut out = Vec::new();
    for h in from..=to {
        let b = client
            .block_page(urbis_client::BlockId::Height(h), None, 1)
            .await
            .with_context(|| format!("read block {h}"))?;
        out.push(b.header.timestamp_ms);
    }
    Ok(out)
}

/// The wall-clock window (Unix ms) in which a phase submitted its transactions.
fn submission_window(obs: &load::Observed) -> (u64, u64) {
    (
        obs.started_ms,
        obs.started_ms + (obs.submit_secs * 1000.0) as u64,
    )
}

/// Blocks per second stamped within `window`.
fn rate_in(stamps: &[u64], window: (u64, u64)) -> f64 {
    let n = stamps
        .iter()
        .filter(|t| (window.0..=window.1).contains(*t))
        .count();
    let secs = window.1.saturating_sub(window.0) as f64 / 1000.0;
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// Run the whole benchmark; progress goes to stderr.
pub fn run(opts: Options) -> anyhow::Result<Outcome> {
    opts.validate()?;
    let started_at = std::time::SystemTime::now();
    let wall = Instant::now();

    // The ceiling first, while this machine is otherwise idle.
    eprintln!("measuring the Ed25519 verification rate (single and batched, one core)…");
    let ceiling = ceiling::measure(opts.ceiling_time);

    let mut cluster = match opts.target {
        Target::Dev => {
            eprintln!("starting urbis dev (block time {} ms)…", opts.block_time_ms);
            Some(cluster::Cluster::start_dev(&opts.exe, opts.block_time_ms)?)
        }
        Target::Testnet(n) => {
            eprintln!(
                "starting a {n}-validator testnet (block time {} ms)…",
                opts.block_time_ms
            );
            Some(cluster::Cluster::start_testnet(
                &opts.exe,
                n,
                opts.block_time_ms,
            )?)
        }
        Target::Remote { .. } => None,
    };
    let (urls, admin) = match (&opts.target, &cluster) {
        (Target::Remote { url, admin }, _) => (vec![url.clone()], admin.clone()),
        (_, Some(c)) => (
            c.nodes.iter().map(|n| n.api.clone()).collect(),
            c.admin.clone(),
        ),
        (_, None) => bail!("no nodes"),
    };
    let validators = match opts.target {
        Target::Dev => 1,
        Target::Testnet(n) => n,
        Target::Remote { .. } => 0,
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let result = rt.block_on(async {
        let clients = urls
            .iter()
            .map(|u| Client::new(u))
            .collect::<Result<Vec<_>, _>>()?;
        let status = clients[0].status().await.context("read /v1/status")?;
        let validators = if validators == 0 {
            status.validators.len()
        } else {
            validators
        };
        let prefix = format!(
            "urbis-bench/{}/{}",
            std::process::id(),
            started_at
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let accounts =
            workload::Accounts::new(&prefix, opts.departments, opts.citizens, opts.merchants);
        eprintln!(
            "set-up: {} departments, {} citizens, {} merchants, one program…",
            opts.departments, opts.citizens, opts.merchants
        );
        let chain = urbis_core::ChainRef::new(status.chain_id.clone(), status.genesis_hash);
        let setup = load::setup(&clients[0], &chain, &admin, &accounts, 1_000_000)
            .await
            .context("set-up")?;
        eprintln!("signing {} transactions…", opts.txs);
        // Escrow payments expire 20 s after signing: those made early in a run are refunded
        // by the scheduler while the rest of the run executes.
        let targets = workload::Targets {
            program: setup.program,
            asset: setup.asset.clone(),
            escrow_expires_ms: now_ms().saturating_add(20_000),
            mix: opts.mix,
        };
        let planned = workload::plan(
            &accounts,
            &targets,
            opts.txs,
            &setup.next_nonce,
            opts.seed,
        );
        let citizen_addresses: Vec<String> = accounts
            .citizens
            .iter()
            .map(|k| k.address().to_string())
            .collect();
        let chain = chain.clone();
        let txs =
            tokio::task::spawn_blocking(move || workload::sign_all(&accounts, &chain, planned))
                .await?;
        let disk_before = cluster.as_ref().map(|c| c.disk_usage());
        let events_url = format!("{}/v1/events", urls[0].trim_end_matches('/'));
        let describe = |n: usize| {
            eprintln!(
                "submitting {n} transactions ({}, {} tasks over {} node(s))…",
                opts.rate
                    .map(|r| format!("{r} tx/s"))
                    .unwrap_or_else(|| "as fast as accepted".into()),
                opts.concurrency,
                clients.len()
            );
        };
        let pace = load::Pace {
            concurrency: opts.concurrency,
            rate: opts.rate,
            batch: opts.batch,
        };
        // Fails as soon as a node the bench started has died.
        let mut alive = || match cluster.as_mut() {
            Some(c) => c.check_alive(),
            None => Ok(()),
        };
        let mut phases = Vec::new();
        let storm_stats = match &opts.scenario {
            Scenario::Load => {
                describe(txs.len());
                let obs = load::run(
                    &clients,
                    &events_url,
                    Arc::new(txs),
                    pace,
                    &mut alive,
                    || {},
                )
                .await?;
                phases.push(obs);
                None
            }
            Scenario::ApiStorm(cfg) => {
                // Each sender's nonces stay in order: its earlier ones are in the first half.
                let mut calm = txs;
                let stormy = calm.split_off(calm.len() / 2);
                eprintln!("phase 1: load without the storm");
                describe(calm.len());
                let first_height = tip(&clients[0]).await?.0;
                let obs = load::run(
                    &clients,
                    &events_url,
                    Arc::new(calm),
                    pace,
                    &mut alive,
                    || {},
                )
                .await?;
                let calm_window = submission_window(&obs);
                phases.push(obs);
                eprintln!(
                    "phase 2: the same load during an API storm ({} provers, {} block fetchers, {} event subscribers)…",
                    cfg.provers, cfg.block_fetchers, cfg.subscribers
                );
                let storm = storm::Storm::start(&urls[0], citizen_addresses.clone(), cfg)
                    .await
                    .context("start the storm")?;
                describe(stormy.len());
                // The storm lasts exactly as long as the submissions.
                let calm_down = storm.stopper();
                let obs = load::run(
                    &clients,
                    &events_url,
                    Arc::new(stormy),
                    pace,
                    &mut alive,
                    move || calm_down.store(true, std::sync::atomic::Ordering::Relaxed),
                )
                .await;
                let stats = storm.stop().await;
                let obs = obs?;
                let storm_window = submission_window(&obs);
                phases.push(obs);
                eprintln!("counting blocks in each phase's submission window…");
                let stamps = block_times(&clients[0], first_height).await?;
                Some((
                    stats,
                    rate_in(&stamps, calm_window),
                    rate_in(&stamps, storm_window),
                ))
            }
        };
        let metrics = match clients[0].base_url().join("metrics") {
            Ok(u) => match reqwest::get(u).await {
                Ok(r) => r.text().await.ok(),
                Err(_) => None,
            },
            Err(_) => None,
        };
        Ok::<_, anyhow::Error>((
            phases,
            storm_stats,
            disk_before,
            validators,
            status.chain_id,
            metrics,
        ))
    });
    let (phases, storm_stats, disk_before, validators, chain_id, metrics) = result?;

    let (peak_rss, disk_delta) = match cluster.as_mut() {
        Some(c) => {
            let rss = c.peak_rss();
            let after = c.disk_usage();
            let before = disk_before.unwrap_or_default();
            let delta: Vec<u64> = after
                .iter()
                .enumerate()
                .map(|(i, a)| a.saturating_sub(before.get(i).copied().unwrap_or(0)))
                .collect();
            c.stop();
            (Some(rss), Some(delta))
        }
        None => (None, None),
    };
    drop(cluster);

    let reports: Vec<Report> = phases
        .iter()
        .map(|obs| {
            report::build(report::Inputs {
                obs,
                ceiling,
                validators,
                chain_id: chain_id.clone(),
                target: match &opts.target {
                    Target::Dev => "dev".into(),
                    Target::Testnet(n) => format!("testnet ({n} validators)"),
                    Target::Remote { url, .. } => url.clone(),
                },
                rate: opts.rate,
                block_time_ms: opts.block_time_ms,
                peak_rss: peak_rss.clone(),
                disk_delta: disk_delta.clone(),
                metrics: metrics.as_deref(),
                duration_s: wall.elapsed().as_secs_f64(),
                started_at,
            })
        })
        .collect();
    let mut reports = reports.into_iter();
    let first = reports.next().context("no measured phase")?;
    Ok(match (opts.scenario, storm_stats) {
        (Scenario::ApiStorm(storm), Some((storm_stats, calm_bps, storm_bps))) => {
            let stormy = reports.next().context("no storm phase")?;
            let ratio = if calm_bps > 0.0 {
                (storm_bps / calm_bps * 1000.0).round() / 1000.0
            } else {
                0.0
            };
            Outcome::Storm(Box::new(StormReport {
                block_rate_ratio: ratio,
                calm_blocks_per_s: (calm_bps * 100.0).round() / 100.0,
                storm_blocks_per_s: (storm_bps * 100.0).round() / 100.0,
                storm,
                storm_stats,
                calm: first,
                stormy,
            }))
        }
        _ => Outcome::Load(Box::new(first)),
    })
}

/// This machine's clock, in milliseconds since the Unix epoch (for expiries of pre-signed
/// transactions; the chain itself never reads a clock).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
