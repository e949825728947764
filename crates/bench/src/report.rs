//! The result of a run: a table for people, one JSON object for tools.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::ceiling::Ceiling;
use crate::load::Observed;
use crate::stats::{Window, percentile};

/// Share of commits dropped at each end of the run for the steady window.
pub const TRIM: f64 = 0.10;

/// Everything `urbis bench --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub target: String,
    pub chain_id: String,
    pub validators: usize,
    /// Seconds since the Unix epoch when the run started.
    pub started_at: u64,
    pub block_time_ms: u64,
    /// `null` when submitting as fast as accepted.
    pub rate: Option<f64>,
    /// Measured transactions the bench prepared.
    pub planned: usize,
    /// Accepted by the API.
    pub submitted: usize,
    /// Executed successfully in a finalized block.
    pub committed: usize,
    /// Executed with an error receipt.
    pub failed: usize,
    /// Refused by the API (after retrying `mempool_full` / `not_ready`), by code.
    pub rejected: BTreeMap<String, u64>,
    pub failed_codes: BTreeMap<String, u64>,
    /// Accepted but never seen in a block before the bench gave up.
    pub missing: usize,
    /// Committed tx/s over the steady window.
    pub tps: f64,
    /// Committed tx/s from the first submission to the last commit.
    pub tps_overall: f64,
    pub steady_window_s: f64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub blocks_per_s: f64,
    /// Mean measured transactions per non-empty block.
    pub txs_per_block: f64,
    /// Submission phase length and rate.
    pub submit_s: f64,
    pub submit_per_s: f64,
    pub retries: u64,
    /// Retried requests by the code of their first refusal.
    pub retry_codes: BTreeMap<String, u64>,
    pub lagged_events: u64,
    /// Largest peak RSS over the nodes the bench started.
    pub peak_rss_mb: Option<f64>,
    pub peak_rss_mb_per_node: Vec<f64>,
    /// Growth of a node's data directory during the measured phase, per committed transaction
    /// (mean over nodes).
    pub disk_bytes_per_tx: Option<f64>,
    pub single_verify_per_s: f64,
    pub batched_verify_per_core_per_s: f64,
    pub cores: usize,
    pub verify_ceiling_per_s: f64,
    /// `tps / verify_ceiling_per_s`.
    pub ceiling_ratio: f64,
    /// `urbis_*` gauges of the first node's `/metrics` at the end of the run.
    pub node_metrics: BTreeMap<String, f64>,
    /// Whole run, set-up and node start included.
    pub duration_s: f64,
}

pub struct Inputs<'a> {
    pub obs: &'a Observed,
    pub ceiling: Ceiling,
    pub validators: usize,
    pub chain_id: String,
    pub target: String,
    pub rate: Option<f64>,
    pub block_time_ms: u64,
    pub peak_rss: Option<Vec<Option<u64>>>,
    pub disk_delta: Option<Vec<u64>>,
    pub metrics: Option<&'a str>,
    pub duration_s: f64,
    pub started_at: std::time::SystemTime,
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

pub fn build(i: Inputs<'_>) -> Report {
    let obs = i.obs;
    let mut commit_times = Vec::new();
    let mut latencies = Vec::new();
    let (mut committed, mut failed) = (0, 0);
    for (sub, com) in obs.submitted.iter().zip(&obs.committed) {
        if let Some((at, ok)) = com {
            if *ok {
                committed += 1;
                commit_times.push(*at);
            } else {
                failed += 1;
            }
            if let Some(s) = sub {
                latencies.push((at - s).max(0.0) * 1000.0);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let submitted = obs.submitted.iter().filter(|s| s.is_some()).count();
    let seen = obs.committed.iter().filter(|c| c.is_some()).count();
    let first_submit = obs
        .submitted
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let last_commit = commit_times.iter().copied().fold(0.0, f64::max);
    let tps_overall = if committed > 0 && last_commit > first_submit {
        committed as f64 / (last_commit - first_submit)
    } else {
        0.0
    };
    let window = Window::of(&commit_times, TRIM);
    let (tps, steady, bps) = match window {
        Some(w) => (w.rate(), w.duration(), w.rate_of(&obs.blocks)),
        None => (tps_overall, 0.0, 0.0),
    };
    let nonempty: Vec<usize> = obs.block_sizes.iter().copied().filter(|&n| n > 0).collect();
    let txs_per_block = if nonempty.is_empty() {
        0.0
    } else {
        nonempty.iter().sum::<usize>() as f64 / nonempty.len() as f64
    };
    let rss: Vec<f64> = i
        .peak_rss
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(|b| round(b as f64 / (1024.0 * 1024.0), 1))
        .collect();
    let disk = i
        .disk_delta
        .filter(|d| !d.is_empty() && committed > 0)
        .map(|d| {
            let mean = d.iter().sum::<u64>() as f64 / d.len() as f64;
            round(mean / committed as f64, 1)
        });
    let mut node_metrics = BTreeMap::new();
    for line in i.metrics.unwrap_or("").lines() {
        if line.starts_with('#') || !line.starts_with("urbis_") {
            continue;
        }
        if let Some((k, v)) = line.split_once(' ')
            && let Ok(v) = v.trim().parse::<f64>()
        {
            node_metrics.insert(k.to_string(), v);
        }
    }
    let ms = |p: f64| percentile(&latencies, p).map(|v| round(v, 1));
    Report {
        target: i.target,
        chain_id: i.chain_id,
        validators: i.validators,
        started_at: i
            .started_at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        block_time_ms: i.block_time_ms,
        rate: i.rate,
        planned: obs.submitted.len(),
        submitted,
        committed,
        failed,
        rejected: obs.rejected.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        failed_codes: obs.failed.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        missing: submitted.saturating_sub(seen),
        tps: round(tps, 1),
        tps_overall: round(tps_overall, 1),
        steady_window_s: round(steady, 3),
        p50_ms: ms(50.0),
        p90_ms: ms(90.0),
        p99_ms: ms(99.0),
        max_ms: ms(100.0),
        blocks_per_s: round(bps, 2),
        txs_per_block: round(txs_per_block, 1),
        submit_s: round(obs.submit_secs, 3),
        submit_per_s: round(submitted as f64 / obs.submit_secs.max(1e-9), 1),
        retries: obs.retries,
        retry_codes: obs
            .retry_codes
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        lagged_events: obs.lagged,
        peak_rss_mb: rss.iter().copied().reduce(f64::max),
        peak_rss_mb_per_node: rss,
        disk_bytes_per_tx: disk,
        single_verify_per_s: round(i.ceiling.single_verify_per_s, 0),
        batched_verify_per_core_per_s: round(i.ceiling.batched_verify_per_core_per_s, 0),
        cores: i.ceiling.cores,
        verify_ceiling_per_s: round(i.ceiling.verify_ceiling_per_s, 0),
        ceiling_ratio: if i.ceiling.verify_ceiling_per_s > 0.0 {
            round(tps / i.ceiling.verify_ceiling_per_s, 4)
        } else {
            0.0
        },
        node_metrics,
        duration_s: round(i.duration_s, 1),
    }
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map(|v| format!("{v} {unit}"))
        .unwrap_or_else(|| "n/a".into())
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            (
                "target".into(),
                format!("{} (chain {})", self.target, self.chain_id),
            ),
            ("validators".into(), self.validators.to_string()),
            ("block time".into(), format!("{} ms", self.block_time_ms)),
            (
                "offered load".into(),
                self.rate
                    .map(|r| format!("{r} tx/s"))
                    .unwrap_or_else(|| "as fast as accepted".into()),
            ),
            (
                "submitted".into(),
                format!("{} of {}", self.submitted, self.planned),
            ),
            ("committed".into(), self.committed.to_string()),
            ("failed (receipts)".into(), self.failed.to_string()),
        ];
        if !self.rejected.is_empty() {
            rows.push(("rejected (API)".into(), format!("{:?}", self.rejected)));
        }
        if !self.failed_codes.is_empty() {
            rows.push(("failure codes".into(), format!("{:?}", self.failed_codes)));
        }
        if self.missing > 0 {
            rows.push(("never seen committed".into(), self.missing.to_string()));
        }
        rows.extend([
            (
                "throughput (steady)".into(),
                format!(
                    "{} tx/s over {} s (first/last {}% of commits dropped)",
                    self.tps,
                    self.steady_window_s,
                    (TRIM * 100.0) as u32
                ),
            ),
            (
                "throughput (overall)".into(),
                format!("{} tx/s", self.tps_overall),
            ),
            (
                "submission".into(),
                format!(
                    "{} s, {} tx/s accepted, {} retries{}",
                    self.submit_s,
                    self.submit_per_s,
                    self.retries,
                    if self.retry_codes.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({})",
                            self.retry_codes
                                .iter()
                                .map(|(k, v)| format!("{k}: {v}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
            ),
            (
                "latency submit→final".into(),
                format!(
                    "p50 {}  p90 {}  p99 {}  max {}",
                    opt(self.p50_ms, "ms"),
                    opt(self.p90_ms, "ms"),
                    opt(self.p99_ms, "ms"),
                    opt(self.max_ms, "ms")
                ),
            ),
            (
                "blocks".into(),
                format!(
                    "{} blocks/s, {} txs per non-empty block",
                    self.blocks_per_s, self.txs_per_block
                ),
            ),
            (
                "peak RSS".into(),
                if self.peak_rss_mb_per_node.is_empty() {
                    "n/a (remote target)".into()
                } else {
                    format!("{:?} MB", self.peak_rss_mb_per_node)
                },
            ),
            (
                "disk per tx".into(),
                opt(self.disk_bytes_per_tx, "bytes (per node)"),
            ),
            (
                "Ed25519 verify".into(),
                format!(
                    "single {}/s, batched {}/s per core × {} cores = {}/s",
                    self.single_verify_per_s,
                    self.batched_verify_per_core_per_s,
                    self.cores,
                    self.verify_ceiling_per_s
                ),
            ),
            (
                "ceiling ratio".into(),
                format!("{:.2}% of batched verification", self.ceiling_ratio * 100.0),
            ),
        ]);
        for key in [
            "urbis_finality_latency_ms_avg",
            "urbis_mempool_txs",
            "urbis_txs_committed_total",
        ] {
            if let Some(v) = self.node_metrics.get(key) {
                rows.push((key.trim_start_matches("urbis_").into(), v.to_string()));
            }
        }
        if let Some(per_tx) = self.cpu_per_tx_us() {
            rows.push(("node CPU per tx".into(), per_tx));
        }
        if self.lagged_events > 0 {
            rows.push(("lagged SSE events".into(), self.lagged_events.to_string()));
        }
        rows.push(("run time".into(), format!("{} s", self.duration_s)));
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<width$}  {v}");
        }
        out
    }

    /// The node's CPU time per committed transaction, in total and by stage (set-up
    /// included), from `urbis_cpu_seconds_total`.
    fn cpu_per_tx_us(&self) -> Option<String> {
        let committed = *self.node_metrics.get("urbis_txs_committed_total")?;
        if committed < 1.0 {
            return None;
        }
        let stage = |s: &str| {
            self.node_metrics
                .get(&format!("urbis_cpu_seconds_total{{stage=\"{s}\"}}"))
                .map(|v| v * 1e6 / committed)
        };
        let process = stage("process").filter(|v| *v > 0.0)?;
        let parts: Vec<String> = ["execute", "record", "index"]
            .iter()
            .filter_map(|s| stage(s).map(|v| format!("{s} {v:.1}")))
            .collect();
        Some(format!("{process:.1} µs ({} µs)", parts.join(", ")))
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
