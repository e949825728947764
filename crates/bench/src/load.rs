//! Talking to the chain: set-up transactions, then the measured submission with finalization
//! observed over `/v1/events`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use serde::Deserialize;
use urbis_accounts::Role;
use urbis_assets::AssetsCall;
use urbis_client::{Client, ClientError};
use urbis_core::{Call, ErrorCode, Hash, Receipt, SecretKey, SignedTx};
use urbis_rewards::{Category, RewardsCall};

use crate::workload::{Accounts, Prepared, grant};

/// Give up on one transaction the node keeps refusing as busy after this long.
const RETRY_FOR: Duration = Duration::from_secs(60);
/// Stop waiting for commits after this long without progress.
const STALL: Duration = Duration::from_secs(30);

/// Post one transaction, retrying while the node is busy (`mempool_full`, `not_ready`, or the
/// connection failing). Returns the number of retries, or the refusal.
async fn post(client: &Client, bytes: &[u8]) -> Result<u64, ClientError> {
    let start = Instant::now();
    let mut retries = 0;
    let mut backoff = Duration::from_millis(5);
    loop {
        match client.submit_raw(bytes.to_vec()).await {
            Ok(_) => return Ok(retries),
            Err(e) => {
                let busy = e.is(ErrorCode::MempoolFull)
                    || e.is(ErrorCode::NotReady)
                    || matches!(e, ClientError::Http(_));
                if !busy || start.elapsed() > RETRY_FOR {
                    return Err(e);
                }
            }
        }
        retries += 1;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(200));
    }
}

/// Poll until `hash` is executed; its receipt.
async fn wait_committed(client: &Client, hash: Hash, timeout: Duration) -> anyhow::Result<Receipt> {
    let start = Instant::now();
    loop {
        match client.tx(&hash).await {
            Ok(status) => {
                if let Some(c) = status.committed() {
                    return Ok(c.receipt);
                }
            }
            Err(e) if e.is(ErrorCode::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        if start.elapsed() > timeout {
            bail!("transaction {hash} not executed within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Submit one sender's transactions in nonce order, then wait for the last; every receipt must
/// be a success.
async fn send_in_order(client: &Client, txs: Vec<SignedTx>) -> anyhow::Result<Vec<Receipt>> {
    for tx in &txs {
        post(client, &tx.encode())
            .await
            .with_context(|| format!("set-up transaction {}", tx.hash()))?;
    }
    let Some(last) = txs.last() else {
        return Ok(Vec::new());
    };
    wait_committed(client, last.hash(), Duration::from_secs(120)).await?;
    let receipts: Vec<anyhow::Result<Receipt>> = futures::stream::iter(txs.iter().map(|tx| {
        let hash = tx.hash();
        async move { wait_committed(client, hash, Duration::from_secs(30)).await }
    }))
    .buffered(16)
    .collect()
    .await;
    let receipts = receipts.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(bad) = receipts.iter().find(|r| !r.success) {
        let why = bad
            .error
            .as_ref()
            .map(|e| format!("{}: {}", e.code.as_str(), e.message))
            .unwrap_or_default();
        bail!("set-up transaction {} failed: {why}", bad.tx_hash);
    }
    Ok(receipts)
}

/// What the set-up left on chain for the workload.
pub struct Setup {
    pub program: u64,
    /// The settlement asset every citizen was issued.
    pub asset: String,
    /// Next nonce of every sender ([`Accounts::sender`] order).
    pub next_nonce: Vec<u64>,
}

/// Grant roles, create a transferable program with a huge budget and cap, and give every
/// citizen a starting balance.
pub async fn setup(
    client: &Client,
    chain: &urbis_core::ChainRef,
    admin: &SecretKey,
    accounts: &Accounts,
    start_balance: u64,
) -> anyhow::Result<Setup> {
    let nonce = client
        .next_nonce(&admin.address())
        .await
        .context("read the admin's nonce")?;
    let mut calls: Vec<Call> = Vec::new();
    calls.extend(
        accounts
            .departments
            .iter()
            .map(|k| grant(k.address(), Role::Department)),
    );
    calls.extend(
        accounts
            .merchants
            .iter()
            .map(|k| grant(k.address(), Role::Merchant)),
    );
    calls.extend(
        accounts
            .citizens
            .iter()
            .map(|k| grant(k.address(), Role::Citizen)),
    );
    let unique = hex::encode(&accounts.departments[0].address().to_string().as_bytes()[..4]);
    calls.push(Call::new(
        urbis_rewards::MODULE,
        &RewardsCall::CreateProgram {
            name: format!("bench {unique}"),
            category: Category::Other,
            budget: u64::MAX / 4,
            cap_per_period: u64::MAX / 4,
            period_ms: 86_400_000,
            transferable: true,
        },
    ));
    // A settlement asset (the admin issues it) with a balance for every citizen.
    let asset = format!(
        "B{}",
        hex::encode_upper(&accounts.departments[0].address().0[..4])
    );
    calls.push(Call::new(
        urbis_assets::MODULE,
        &AssetsCall::CreateAsset {
            symbol: asset.clone(),
            name: format!("bench {unique}"),
            decimals: 2,
        },
    ));
    calls.extend(accounts.citizens.iter().map(|c| {
        Call::new(
            urbis_assets::MODULE,
            &AssetsCall::Issue {
                symbol: asset.clone(),
                to: c.address(),
                amount: start_balance,
            },
        )
    }));
    let txs: Vec<SignedTx> = calls
        .into_iter()
        .enumerate()
        .map(|(i, call)| SignedTx::new(chain, admin, nonce + i as u64, call))
        .collect();
    let receipts = send_in_order(client, txs).await.context("grant roles")?;
    let program = receipts
        .iter()
        .rev()
        .find_map(|r| r.events.iter().find(|e| e.kind == "program_created"))
        .and_then(|e| e.attributes.iter().find(|(k, _)| k == "program"))
        .and_then(|(_, v)| v.trim_matches('"').parse::<u64>().ok())
        .context("no program_created event with a program id")?;

    // Department d funds citizens d, d + D, d + 2D, …
    let d_count = accounts.departments.len();
    let mut funding = Vec::new();
    for (d, dept) in accounts.departments.iter().enumerate() {
        let nonce = client.next_nonce(&dept.address()).await?;
        let txs: Vec<SignedTx> = accounts
            .citizens
            .iter()
            .skip(d)
            .step_by(d_count)
            .enumerate()
            .map(|(i, c)| {
                let call = RewardsCall::Award {
                    program,
                    to: c.address(),
                    amount: start_balance,
                    reason: "bench funding".into(),
                };
                SignedTx::new(
                    chain,
                    dept,
                    nonce + i as u64,
                    Call::new(urbis_rewards::MODULE, &call),
                )
            })
            .collect();
        funding.push(txs);
    }
    let mut next_nonce: Vec<u64> = Vec::with_capacity(accounts.sender_count());
    for txs in &funding {
        next_nonce.push(txs.last().map(|t| t.nonce + 1).unwrap_or(0));
    }
    for c in &accounts.citizens {
        next_nonce.push(client.next_nonce(&c.address()).await?);
    }
    let results =
        futures::future::join_all(funding.into_iter().map(|txs| send_in_order(client, txs))).await;
    for r in results {
        r.context("fund citizens")?;
    }
    Ok(Setup {
        program,
        asset,
        next_nonce,
    })
}

/// A global rate limit: transaction `k` is not sent before `start + k / rate`.
pub struct Limiter {
    start: Instant,
    rate: f64,
    next: AtomicU64,
}

impl Limiter {
    pub fn new(rate: f64) -> Self {
        Limiter {
            start: Instant::now(),
            rate,
            next: AtomicU64::new(0),
        }
    }

    async fn wait(&self) {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let due = self.start + Duration::from_secs_f64(k as f64 / self.rate);
        tokio::time::sleep_until(due.into()).await;
    }
}

/// What the measured phase observed, per transaction index.
#[derive(Default)]
pub struct Observed {
    /// When the transaction was posted (seconds since the start), if the node accepted it.
    pub submitted: Vec<Option<f64>>,
    /// When its block event arrived, and whether it succeeded.
    pub committed: Vec<Option<(f64, bool)>>,
    /// Refusals by code.
    pub rejected: HashMap<String, u64>,
    /// Failed receipts by code.
    pub failed: HashMap<String, u64>,
    /// Arrival of every block event during the run.
    pub blocks: Vec<f64>,
    /// Transactions per block event (measured ones only).
    pub block_sizes: Vec<usize>,
    pub retries: u64,
    /// `lagged` events (receipts missed because this client read too slowly).
    pub lagged: u64,
    /// Retried requests by the code of their first refusal.
    pub retry_codes: HashMap<String, u64>,
    /// End of submission, seconds since the start.
    pub submit_secs: f64,
    /// The start, in milliseconds since the Unix epoch (the clock block timestamps use).
    pub started_ms: u64,
}

#[derive(Deserialize)]
struct SseBlock {
    #[serde(default)]
    receipts: Vec<SseReceipt>,
}

#[derive(Deserialize)]
struct SseReceipt {
    tx_hash: Hash,
    success: bool,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

struct Collector {
    index: HashMap<Hash, usize>,
    obs: Observed,
    seen: usize,
}

impl Collector {
    fn on_event(&mut self, kind: &str, data: &str, at: f64) {
        match kind {
            "lagged" => self.obs.lagged += 1,
            "block" | "" => {
                let Ok(block) = serde_json::from_str::<SseBlock>(data) else {
                    return;
                };
                self.obs.blocks.push(at);
                let mut n = 0;
                for r in block.receipts {
                    let Some(&i) = self.index.get(&r.tx_hash) else {
                        continue;
                    };
                    if self.obs.committed[i].is_some() {
                        continue;
                    }
                    n += 1;
                    self.seen += 1;
                    self.obs.committed[i] = Some((at, r.success));
                    if !r.success {
                        let code = r
                            .error
                            .as_ref()
                            .and_then(|e| e.get("code"))
                            .and_then(|c| c.as_str())
                            .unwrap_or("unknown")
                            .to_string();
                        *self.obs.failed.entry(code).or_default() += 1;
                    }
                }
                self.obs.block_sizes.push(n);
            }
            _ => {}
        }
    }
}

/// Read `/v1/events` until the stream ends, feeding `collector`.
async fn read_events(
    resp: reqwest::Response,
    collector: Arc<Mutex<Collector>>,
    t0: Instant,
) -> anyhow::Result<()> {
    let mut stream = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut kind = String::new();
    let mut data = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("read /v1/events")?;
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !data.is_empty() {
                    let at = t0.elapsed().as_secs_f64();
                    collector
                        .lock()
                        .map_err(|_| anyhow::anyhow!("collector lock poisoned"))?
                        .on_event(&kind, &data, at);
                }
                kind.clear();
                data.clear();
            } else if let Some(v) = line.strip_prefix("event:") {
                kind = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
    }
    Ok(())
}

struct Submitted {
    at: Vec<(usize, f64)>,
    rejected: Vec<String>,
    retries: u64,
    /// Why requests were retried (one entry per retried request).
    retry_codes: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
async fn submitter(
    client: Client,
    txs: Arc<Vec<Prepared>>,
    order: Vec<usize>,
    limiter: Option<Arc<Limiter>>,
    t0: Instant,
    progress: Arc<AtomicUsize>,
    batch: usize,
) -> Submitted {
    let mut out = Submitted {
        at: Vec::with_capacity(order.len()),
        rejected: Vec::new(),
        retries: 0,
        retry_codes: Vec::new(),
    };
    let mut dead: HashSet<usize> = HashSet::new();
    if batch > 1 {
        for chunk in order.chunks(batch) {
            let mut pending: Vec<usize> = Vec::with_capacity(chunk.len());
            for &i in chunk {
                if dead.contains(&txs[i].sender) {
                    out.rejected.push("skipped_after_refusal".into());
                    continue;
                }
                if let Some(l) = &limiter {
                    l.wait().await;
                }
                pending.push(i);
            }
            let sent = t0.elapsed().as_secs_f64();
            let start = Instant::now();
            let mut backoff = Duration::from_millis(5);
            while !pending.is_empty() {
                let bodies: Vec<&[u8]> = pending.iter().map(|&i| txs[i].bytes.as_slice()).collect();
                let results = match client.submit_batch_raw(&bodies).await {
                    Ok(r) => r,
                    Err(e) => {
                        let busy = e.is(ErrorCode::MempoolFull)
                            || e.is(ErrorCode::NotReady)
                            || matches!(e, ClientError::Http(_));
                        if !busy || start.elapsed() > RETRY_FOR {
                            for &i in &pending {
                                dead.insert(txs[i].sender);
                                out.rejected.push(e.code_str().to_string());
                            }
                            break;
                        }
                        out.retries += 1;
                        out.retry_codes.push(e.code_str().to_string());
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_millis(200));
                        continue;
                    }
                };
                let mut retry = Vec::new();
                let mut why = None;
                for (&i, r) in pending.iter().zip(results) {
                    match r {
                        Ok(_) => {
                            out.at.push((i, sent));
                            progress.fetch_add(1, Ordering::Relaxed);
                        }
                        Err((code, _)) if code == "duplicate_tx" => {
                            out.at.push((i, sent));
                            progress.fetch_add(1, Ordering::Relaxed);
                        }
                        Err((code, _))
                            if (code == "mempool_full"
                                || code == "not_ready"
                                || code == "nonce_gap")
                                && start.elapsed() < RETRY_FOR =>
                        {
                            // Busy, or an earlier nonce of the sender was refused as busy.
                            why.get_or_insert(code);
                            retry.push(i);
                        }
                        Err((code, _)) => {
                            dead.insert(txs[i].sender);
                            out.rejected.push(code);
                        }
                    }
                }
                if !retry.is_empty() {
                    out.retries += 1;
                    out.retry_codes.extend(why);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
                pending = retry;
            }
        }
        return out;
    }
    for i in order {
        let tx = &txs[i];
        if dead.contains(&tx.sender) {
            out.rejected.push("skipped_after_refusal".into());
            continue;
        }
        if let Some(l) = &limiter {
            l.wait().await;
        }
        let sent = t0.elapsed().as_secs_f64();
        match post(&client, &tx.bytes).await {
            Ok(retries) => {
                out.retries += retries;
                out.at.push((i, sent));
                progress.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                // Later nonces of this sender would only be refused as gaps.
                dead.insert(tx.sender);
                out.rejected.push(e.code_str().to_string());
            }
        }
    }
    out
}

/// The measured phase: subscribe to events, submit everything from `concurrency` tasks (spread
/// over `clients`), wait for every accepted transaction's block event.
/// How the measured phase submits: tasks, global rate, transactions per request.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub batch: usize,
}

pub async fn run(
    clients: &[Client],
    events_url: &str,
    txs: Arc<Vec<Prepared>>,
    pace: Pace,
    mut alive: impl FnMut() -> anyhow::Result<()>,
    on_submitted: impl FnOnce(),
) -> anyhow::Result<Observed> {
    let Pace {
        concurrency,
        rate,
        batch,
    } = pace;
    let n = txs.len();
    let index: HashMap<Hash, usize> = txs.iter().enumerate().map(|(i, t)| (t.hash, i)).collect();
    let collector = Arc::new(Mutex::new(Collector {
        index,
        obs: Observed {
            submitted: vec![None; n],
            committed: vec![None; n],
            ..Observed::default()
        },
        seen: 0,
    }));
    let sse = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()?;
    let resp = sse
        .get(events_url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .context("subscribe to /v1/events")?;
    if !resp.status().is_success() {
        bail!("/v1/events answered {}", resp.status());
    }
    let t0 = Instant::now();
    let started_ms = unix_ms();
    let reader = tokio::spawn(read_events(resp, collector.clone(), t0));

    let limiter = rate.map(|r| Arc::new(Limiter::new(r)));
    let progress = Arc::new(AtomicUsize::new(0));
    let orders = crate::workload::assign(txs.iter().map(|t| t.sender), concurrency);
    let mut tasks = Vec::new();
    for (k, order) in orders.into_iter().enumerate() {
        let client = clients[k % clients.len()].clone();
        tasks.push(tokio::spawn(submitter(
            client,
            txs.clone(),
            order,
            limiter.clone(),
            t0,
            progress.clone(),
            batch,
        )));
    }
    let seen = |c: &Arc<Mutex<Collector>>| c.lock().map(|c| c.seen).unwrap_or(0);
    let all = futures::future::join_all(tasks);
    tokio::pin!(all);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let results = loop {
        tokio::select! {
            r = &mut all => break r,
            _ = tick.tick() => {
                alive()?;
                eprintln!(
                    "  {:>6.1}s  submitted {:>7}/{n}  committed {:>7}",
                    t0.elapsed().as_secs_f64(),
                    progress.load(Ordering::Relaxed),
                    seen(&collector)
                );
            }
        }
    };
    let submit_secs = t0.elapsed().as_secs_f64();
    on_submitted();
    let mut accepted = 0;
    let mut rejected: HashMap<String, u64> = HashMap::new();
    let mut retries = 0;
    let mut retry_codes: HashMap<String, u64> = HashMap::new();
    {
        let mut c = collector
            .lock()
            .map_err(|_| anyhow::anyhow!("collector lock poisoned"))?;
        for r in results {
            let r = r.context("submitter task")?;
            retries += r.retries;
            for code in &r.retry_codes {
                *retry_codes.entry(code.clone()).or_default() += 1;
            }
            accepted += r.at.len();
            for (i, at) in r.at {
                c.obs.submitted[i] = Some(at);
            }
            for code in r.rejected {
                *rejected.entry(code).or_default() += 1;
            }
        }
    }
    // Wait for the block events of everything accepted.
    let mut last = (seen(&collector), Instant::now());
    let mut last_print = Instant::now();
    loop {
        let s = seen(&collector);
        if s >= accepted {
            break;
        }
        if s != last.0 {
            last = (s, Instant::now());
        } else if last.1.elapsed() > STALL {
            eprintln!(
                "warning: {} accepted transactions not seen in a block after {STALL:?} without progress",
                accepted - s
            );
            break;
        }
        if reader.is_finished() {
            eprintln!("warning: the event stream ended early");
            break;
        }
        if last_print.elapsed() > Duration::from_secs(2) {
            alive()?;
            eprintln!(
                "  {:>6.1}s  submitted {accepted:>7}/{n}  committed {s:>7}",
                t0.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader.abort();
    let mut c = collector
        .lock()
        .map_err(|_| anyhow::anyhow!("collector lock poisoned"))?;
    let mut obs = std::mem::take(&mut c.obs);
    obs.rejected = rejected;
    obs.retries = retries;
    obs.retry_codes = retry_codes;
    obs.submit_secs = submit_secs;
    obs.started_ms = started_ms;
    Ok(obs)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// An offered-rate run in figures: commits, throughput in the steady window, latency from
/// submission to commit, failed receipts and refusals by code.
#[derive(Clone, Debug)]
pub struct Summary {
    pub committed: usize,
    pub per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub failed: std::collections::BTreeMap<String, u64>,
    pub rejected: std::collections::BTreeMap<String, u64>,
}

impl Observed {
    pub fn summary(&self) -> Summary {
        let commits: Vec<f64> = self.committed.iter().flatten().map(|(t, _)| *t).collect();
        let mut lat: Vec<f64> = self
            .submitted
            .iter()
            .zip(&self.committed)
            .filter_map(|(s, c)| Some((c.as_ref()?.0 - (*s)?) * 1000.0))
            .collect();
        lat.sort_by(f64::total_cmp);
        Summary {
            committed: commits.len(),
            per_s: crate::stats::Window::of(&commits, 0.1).map_or(0.0, |w| w.rate()),
            latency_p50_ms: crate::stats::percentile(&lat, 50.0).unwrap_or(0.0),
            latency_p99_ms: crate::stats::percentile(&lat, 99.0).unwrap_or(0.0),
            failed: self.failed.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            rejected: self.rejected.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }
}
