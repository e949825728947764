//! `--scenario soak`: a dev node under steady load for a long time, to see whether it leaks.
//!
//! First a short probe offers the reward mix as fast as the node takes it and measures what
//! the chain commits (the capacity, under this same generator); then the soak offers half of
//! that (or `--rate`) for `--seconds`. Transactions are planned, signed and posted as they go
//! — one tick (100 ms) of them at a time, by a signing thread feeding a bounded queue — so the
//! generator's memory stays flat however long it runs. Every 5 s the node's resident set
//! (`VmRSS`) is sampled; the report gives its least-squares slope over the run after a warm-up
//! (the first fifth), the committed rate, refusals, and the latency of one sampled transaction
//! per tick (submission to execution, as `/v1/txs/{hash}` sees it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;
use urbis_client::Client;
use urbis_core::{ChainRef, ErrorCode, Hash, SecretKey};

use crate::cluster::Cluster;
use crate::stats::percentile;
use crate::workload::{self, Accounts, Mix, Targets};

/// One tick of transactions is signed and posted at a time.
const TICK: Duration = Duration::from_millis(100);
/// Ticks the signing thread may run ahead of the poster.
const QUEUE: usize = 20;
/// How often the node's resident set is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

pub struct SoakOptions {
    pub block_time_ms: u64,
    /// Offered rate of the soak; `None`: half the probe's committed rate.
    pub rate: Option<f64>,
    pub seconds: u64,
    pub probe_seconds: u64,
    pub departments: usize,
    pub citizens: usize,
    pub merchants: usize,
    pub seed: u64,
}

/// One `VmRSS` sample: seconds into the soak, MiB.
#[derive(Clone, Debug, Serialize)]
pub struct RssSample {
    pub t_s: f64,
    pub rss_mib: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SoakReport {
    /// What the probe committed per second, offered as fast as the node took it.
    pub capacity_tx_s: f64,
    pub offered_tx_s: f64,
    pub seconds: u64,
    /// Transactions the node accepted.
    pub submitted: u64,
    pub committed: u64,
    pub committed_tx_s: f64,
    /// Transactions the node refused at submission for good (busy for over a minute, or
    /// invalid), by error code; a busy refusal is retried first.
    pub refused: BTreeMap<String, u64>,
    /// The probe's lasting refusals, by code (it pushes the node to its limit).
    pub probe_refused: BTreeMap<String, u64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    pub rss_start_mib: f64,
    pub rss_end_mib: f64,
    pub rss_peak_mib: f64,
    /// Least-squares slope of `VmRSS` after the warm-up, MiB per minute.
    pub rss_slope_mib_per_min: f64,
    pub samples: Vec<RssSample>,
}

impl SoakReport {
    pub fn table(&self) -> String {
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} ms"));
        format!(
            "soak: {} s at {:.0} tx/s offered (probe capacity {:.0} tx/s)\n\
             submitted {}  committed {} ({:.0} tx/s)  refused {}\n\
             latency p50 {}  p99 {}  max {}\n\
             node RSS {:.1} MiB -> {:.1} MiB (peak {:.1}); slope after warm-up {:+.3} MiB/min ({} samples)\n",
            self.seconds,
            self.offered_tx_s,
            self.capacity_tx_s,
            self.submitted,
            self.committed,
            self.committed_tx_s,
            self.refused.values().sum::<u64>(),
            ms(self.latency_p50_ms),
            ms(self.latency_p99_ms),
            ms(self.latency_max_ms),
            self.rss_start_mib,
            self.rss_end_mib,
            self.rss_peak_mib,
            self.rss_slope_mib_per_min,
            self.samples.len(),
        )
    }
}

/// Least-squares slope of `y` over `x`.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

/// A tick's signed transactions, and the hash of its first (the latency sample).
struct Tick {
    body: Vec<Vec<u8>>,
    sample: Option<Hash>,
}

/// The signing thread: plans and signs `per_tick` transactions at a time from the senders'
/// nonces, until `stop` (or the receiver goes away).
#[allow(clippy::too_many_arguments)]
fn generator(
    accounts: Arc<Accounts>,
    chain: ChainRef,
    mut targets: Targets,
    mut nonces: Vec<u64>,
    per_tick: usize,
    seed: u64,
    stop: Arc<AtomicBool>,
    out: tokio::sync::mpsc::Sender<Tick>,
) {
    let mut k = 0u64;
    while !stop.load(Ordering::Relaxed) {
        targets.escrow_expires_ms = crate::load::unix_ms().saturating_add(20_000);
        let planned = workload::plan(&accounts, &targets, per_tick, &nonces, seed ^ k);
        for p in &planned {
            nonces[p.sender] = p.nonce + 1;
        }
        let signed = workload::sign_all(&accounts, &chain, planned);
        let sample = signed.first().map(|t| t.hash);
        let body = signed.into_iter().map(|t| t.bytes).collect();
        if out.blocking_send(Tick { body, sample }).is_err() {
            break;
        }
        k += 1;
    }
}

/// What one phase (probe or soak) did.
struct Phase {
    submitted: u64,
    refused: BTreeMap<String, u64>,
    started: Instant,
    first_height: u64,
    latencies_ms: Vec<f64>,
    samples: Vec<RssSample>,
    nonces: Vec<u64>,
}

#[allow(clippy::too_many_arguments)]
async fn phase(
    client: &Client,
    cluster: &Cluster,
    accounts: &Arc<Accounts>,
    chain: &ChainRef,
    targets: &Targets,
    nonces: Vec<u64>,
    rate: Option<f64>,
    seconds: u64,
    seed: u64,
) -> anyhow::Result<Phase> {
    // Unpaced (the probe): ticks as large as a node takes in one batch comfortably.
    let per_tick = rate.map_or(2_000, |r| {
        ((r * TICK.as_secs_f64()).round() as usize).max(1)
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Tick>(QUEUE);
    let signer = {
        let (accounts, chain, targets, stop) = (
            accounts.clone(),
            chain.clone(),
            targets.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            generator(accounts, chain, targets, nonces, per_tick, seed, stop, tx)
        })
    };
    let first_height = client.status().await.context("read /v1/status")?.height;
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let mut submitted = 0u64;
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let latencies: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let pending = Arc::new(AtomicU64::new(0));
    let mut samples = Vec::new();
    let mut next_sample = started;
    let mut k = 0u32;
    while Instant::now() < end {
        if Instant::now() >= next_sample {
            if let Some(Some(rss)) = cluster.rss().first() {
                samples.push(RssSample {
                    t_s: started.elapsed().as_secs_f64(),
                    rss_mib: *rss as f64 / (1024.0 * 1024.0),
                });
            }
            next_sample += SAMPLE_EVERY;
        }
        if rate.is_some() {
            tokio::time::sleep_until((started + TICK * k).into()).await;
        }
        k += 1;
        let Some(tick) = rx.recv().await else {
            bail!("the signing thread stopped");
        };
        let refs: Vec<&[u8]> = tick.body.iter().map(Vec::as_slice).collect();
        let sent_at = Instant::now();
        let before: u64 = refused.values().sum();
        submitted += post_batch(client, &refs, &mut refused).await?;
        let clean = refused.values().sum::<u64>() == before;
        if let (Some(hash), true) = (tick.sample, clean) {
            let (client, latencies, pending) = (client.clone(), latencies.clone(), pending.clone());
            pending.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                while sent_at.elapsed() < Duration::from_secs(60) {
                    if let Ok(s) = client.tx(&hash).await
                        && s.committed().is_some()
                    {
                        let ms = sent_at.elapsed().as_secs_f64() * 1000.0;
                        latencies.lock().expect("latencies").push(ms);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                pending.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
    stop.store(true, Ordering::Relaxed);
    // Close the queue so the signing thread stops, and drop what it queued (never posted).
    rx.close();
    while rx.recv().await.is_some() {}
    tokio::task::spawn_blocking(move || signer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("signing thread panicked"))?;
    // What the next phase starts from: the chain's nonces (the signing thread ran ahead of what
    // was posted, and lasting refusals leave gaps).
    let mut nonces = Vec::with_capacity(accounts.sender_count());
    for i in 0..accounts.sender_count() {
        let n = (client.next_nonce(&accounts.sender(i).address()).await).context("read a nonce")?;
        nonces.push(n);
    }
    let wait = Instant::now();
    while pending.load(Ordering::Relaxed) > 0 && wait.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let latencies_ms = std::mem::take(&mut *latencies.lock().expect("latencies"));
    Ok(Phase {
        submitted,
        refused,
        started,
        first_height,
        latencies_ms,
        samples,
        nonces,
    })
}

/// Post a tick's batch. While the node is busy the whole batch is retried; transactions it
/// refuses one by one for being busy (`mempool_full`) are sent again, in order, together with
/// the later ones that its refusal left with a nonce gap. What is still refused after a minute,
/// or for any other reason, is counted by code.
async fn post_batch(
    client: &Client,
    refs: &[&[u8]],
    refused: &mut BTreeMap<String, u64>,
) -> anyhow::Result<u64> {
    let start = Instant::now();
    let mut pending: Vec<&[u8]> = refs.to_vec();
    let mut accepted = 0u64;
    loop {
        let results = match client.submit_batch_raw(&pending).await {
            Ok(r) => r,
            Err(e) if e.is(ErrorCode::Overloaded) || e.is(ErrorCode::NotReady) => {
                if start.elapsed() > Duration::from_secs(60) {
                    bail!("the node stayed busy for a minute: {e}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(e).context("post a batch"),
        };
        let busy = |code: &str| code == "mempool_full" || code == "overloaded";
        let first_busy = results
            .iter()
            .position(|r| matches!(r, Err((code, _)) if busy(code)));
        let mut again = Vec::new();
        for (i, (r, tx)) in results.iter().zip(&pending).enumerate() {
            match r {
                Ok(_) => accepted += 1,
                Err((code, _))
                    if first_busy.is_some_and(|f| i >= f)
                        && (busy(code) || code == "nonce_gap")
                        && start.elapsed() < Duration::from_secs(60) =>
                {
                    again.push(*tx)
                }
                Err((code, _)) => *refused.entry(code.clone()).or_default() += 1,
            }
        }
        if again.is_empty() {
            return Ok(accepted);
        }
        pending = again;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Transactions in blocks `from+1..=` the tip, and the tip's height.
async fn committed_since(client: &Client, from: u64) -> anyhow::Result<(u64, u64)> {
    let tip = client.status().await.context("read /v1/status")?.height;
    let mut n = 0u64;
    for h in from + 1..=tip {
        let b = client
            .block_page(urbis_client::BlockId::Height(h), None, 1)
            .await
            .with_context(|| format!("read block {h}"))?;
        n += u64::from(b.header.tx_count);
    }
    Ok((n, tip))
}

/// Run the probe and the soak on a fresh dev node started from `exe`.
pub fn run(exe: std::path::PathBuf, opts: SoakOptions) -> anyhow::Result<SoakReport> {
    if opts.seconds == 0 || opts.probe_seconds == 0 {
        bail!("--seconds and --probe-seconds must be positive");
    }
    eprintln!("starting urbis dev (block time {} ms)…", opts.block_time_ms);
    let mut cluster = Cluster::start_dev(&exe, opts.block_time_ms)?;
    let admin: SecretKey = cluster.admin.clone();
    let url = cluster.nodes[0].api.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let result = rt.block_on(async {
        let client = Client::new(&url)?;
        let status = client.status().await.context("read /v1/status")?;
        let chain = ChainRef::new(status.chain_id.clone(), status.genesis_hash);
        let accounts = Arc::new(Accounts::new(
            &format!("urbis-soak/{}", std::process::id()),
            opts.departments,
            opts.citizens,
            opts.merchants,
        ));
        eprintln!("set-up: accounts, a program and balances…");
        let setup = crate::load::setup(&client, &chain, &admin, &accounts, 1_000_000_000)
            .await
            .context("set-up")?;
        let targets = Targets {
            program: setup.program,
            asset: setup.asset.clone(),
            escrow_expires_ms: crate::load::unix_ms().saturating_add(20_000),
            mix: Mix::CITY,
        };
        eprintln!("probe: {} s as fast as the node takes it…", opts.probe_seconds);
        let probe = phase(
            &client,
            &cluster,
            &accounts,
            &chain,
            &targets,
            setup.next_nonce.clone(),
            None,
            opts.probe_seconds,
            opts.seed,
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (probe_committed, _) = committed_since(&client, probe.first_height).await?;
        let capacity = probe_committed as f64 / probe.started.elapsed().as_secs_f64();
        let offered = opts.rate.unwrap_or(capacity / 2.0).max(1.0);
        eprintln!(
            "probe committed {probe_committed} ({capacity:.0} tx/s); soak: {} s at {offered:.0} tx/s…",
            opts.seconds
        );
        // Let the probe's backlog drain before the soak starts.
        let drain = Instant::now();
        while client.status().await?.mempool.txs > 0 && drain.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let soak = phase(
            &client,
            &cluster,
            &accounts,
            &chain,
            &targets,
            probe.nonces.clone(),
            Some(offered),
            opts.seconds,
            opts.seed.wrapping_add(1),
        )
        .await?;
        let elapsed = soak.started.elapsed().as_secs_f64();
        let (committed, _) = committed_since(&client, soak.first_height).await?;
        cluster.check_alive()?;
        let mut lat = soak.latencies_ms.clone();
        lat.sort_by(f64::total_cmp);
        let warm = opts.seconds as f64 / 5.0;
        let points: Vec<(f64, f64)> = (soak.samples.iter())
            .filter(|s| s.t_s >= warm)
            .map(|s| (s.t_s / 60.0, s.rss_mib))
            .collect();
        let rss: Vec<f64> = soak.samples.iter().map(|s| s.rss_mib).collect();
        Ok(SoakReport {
            capacity_tx_s: capacity,
            offered_tx_s: offered,
            seconds: opts.seconds,
            submitted: soak.submitted,
            committed,
            committed_tx_s: committed as f64 / elapsed,
            refused: soak.refused,
            probe_refused: probe.refused,
            latency_p50_ms: percentile(&lat, 50.0),
            latency_p99_ms: percentile(&lat, 99.0),
            latency_max_ms: lat.last().copied(),
            rss_start_mib: rss.first().copied().unwrap_or(0.0),
            rss_end_mib: rss.last().copied().unwrap_or(0.0),
            rss_peak_mib: rss.iter().copied().fold(0.0, f64::max),
            rss_slope_mib_per_min: slope(&points),
            samples: soak.samples,
        })
    });
    cluster.stop();
    result
}

#[cfg(test)]
mod tests {
    use super::slope;

    #[test]
    fn slope_of_a_line_and_of_noise() {
        let line: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 + 0.5 * i as f64)).collect();
        assert!((slope(&line) - 0.5).abs() < 1e-9);
        let flat = [(0.0, 1.0), (1.0, 2.0), (2.0, 1.0), (3.0, 2.0), (4.0, 1.5)];
        assert!(slope(&flat).abs() < 0.2);
        assert_eq!(slope(&[(1.0, 1.0)]), 0.0);
    }
}
