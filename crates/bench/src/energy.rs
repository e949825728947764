//! `urbis bench --scenario energy-day`: a simulated day of the energy market on a dev node.
//! `--meters N` meters on 10 feeders (a third of them rooftops that sell, the rest buy; two
//! feeders with an export limit that binds at midday), `--intervals K` intervals of
//! `--interval-ms` each (set at genesis: the chain's day is compressed, its rules are not).
//! In every interval each meter posts one order for the interval after next (signed and sent
//! while the day runs), and a quarter of the meters send their signed readings of the last
//! four intervals (hourly batches, staggered). The node clears each interval at its gate and
//! settles it once its readings are in. Set-up (genesis accounts and funds, meter
//! registration) is not measured.
//!
//! Reported: transactions per second over the day, and for each interval the clearing's
//! delay after its gate (block time, from the clearing's `at_ms`), its price and volume.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use urbis_client::{Client, Signer};
use urbis_core::{Call, SecretKey, SignedTx};
use urbis_energy::{EnergyCall, MODULE, OrderSide, Value};

use crate::cluster::Cluster;
use crate::records::{runtime, submit_all};

const FEEDERS: u32 = 10;

/// What the energy bench measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EnergyReport {
    pub meters: usize,
    pub block_time_ms: u64,
    pub intervals: u64,
    pub interval_ms: u64,
    pub order_txs: usize,
    pub reading_txs: usize,
    /// Orders that missed their gate (the chain could not take them in time).
    pub late_orders: usize,
    pub seconds: f64,
    /// Over the whole day (paced by the intervals: the offered load).
    pub tx_per_s: f64,
    /// Each interval's batch, from submission to the last receipt: median and slowest.
    pub burst_tx_per_s_p50: f64,
    pub burst_tx_per_s_min: f64,
    /// Clearing delay after the gate (ms of block time): median and worst.
    pub clearing_delay_ms_p50: u64,
    pub clearing_delay_ms_max: u64,
    /// From the clearing block to the next one (block time plus the clearing's execution).
    pub clearing_block_gap_ms_p50: u64,
    pub clearing_block_gap_ms_max: u64,
    /// Intervals none of whose orders made the gate.
    pub intervals_without_market: u64,
    pub traded_wh: u64,
    pub binding_intervals: u64,
    pub settled_intervals: u64,
}

impl EnergyReport {
    pub fn table(&self) -> String {
        format!(
            "Energy market, a simulated day (dev node, {} meters on {FEEDERS} feeders, {} intervals of {} ms)\n\
             orders + readings          {} + {} transactions in {:.1} s ({:.0} tx/s, paced by the intervals)\n\
             each interval's batch      committed at {:.0} tx/s (median), {:.0} tx/s (slowest)\n\
             orders that missed a gate  {}\n\
             clearing after the gate    median {} ms, worst {} ms (block time)\n\
             clearing block to the next median {} ms, worst {} ms (block time {} ms + the clearing)\n\
             intervals without a market {}\n\
             traded                     {} kWh; a feeder limit bound in {} intervals\n\
             settled intervals          {}\n",
            self.meters,
            self.intervals,
            self.interval_ms,
            self.order_txs,
            self.reading_txs,
            self.seconds,
            self.tx_per_s,
            self.burst_tx_per_s_p50,
            self.burst_tx_per_s_min,
            self.late_orders,
            self.clearing_delay_ms_p50,
            self.clearing_delay_ms_max,
            self.clearing_block_gap_ms_p50,
            self.clearing_block_gap_ms_max,
            self.block_time_ms,
            self.intervals_without_market,
            self.traded_wh / 1000,
            self.binding_intervals,
            self.settled_intervals,
        )
    }
}

fn energy(c: EnergyCall) -> Call {
    Call::new(MODULE, &c)
}

/// A meter's deterministic profile: rooftops (every meter of feeders 0 and 1, every third
/// elsewhere) sell, most around midday; the others buy.
fn order_of(m: usize, feeder: u32, k: u64, intervals: u64) -> (OrderSide, u64, u64) {
    let midday = intervals / 4 <= k && k < intervals * 3 / 4;
    if feeder < 2 || m.is_multiple_of(3) {
        let qty = if midday {
            300 + (m as u64 * 7 + k) % 400
        } else {
            20
        };
        (OrderSide::Sell, qty, 5 + (m as u64 + k) % 20)
    } else {
        (
            OrderSide::Buy,
            150 + (m as u64 * 11 + k) % 250,
            15 + (m as u64 * 3 + k) % 20,
        )
    }
}

/// Run the scenario (starts and stops its own dev node).
pub fn run(
    exe: PathBuf,
    block_time_ms: u64,
    meters: usize,
    intervals: u64,
    interval_ms: u64,
) -> anyhow::Result<EnergyReport> {
    if meters < 3 || intervals < 4 || interval_ms < 500 {
        bail!("at least 3 meters, 4 intervals of at least 500 ms");
    }
    let run_id = std::process::id();
    let key = |what: &str, i: usize| {
        SecretKey::from_label(&format!("urbis-bench/energy/{run_id}/{what}/{i}"))
    };
    let accounts: Vec<SecretKey> = (0..meters).map(|i| key("account", i)).collect();
    let devices: Vec<SecretKey> = (0..meters).map(|i| key("device", i)).collect();
    let grid = key("grid", 0);
    eprintln!(
        "starting urbis dev (block time {block_time_ms} ms, intervals of {interval_ms} ms, {meters} funded meter accounts in genesis)…"
    );
    let cluster = Cluster::start_dev_with(&exe, block_time_ms, |g, admin| {
        let list = g["modules"]["accounts"]["accounts"]
            .as_array_mut()
            .expect("the dev genesis lists accounts");
        list.push(serde_json::json!({"address": grid.address(), "roles": ["grid_operator"]}));
        let mut supply = vec![serde_json::json!([grid.address(), 1_000_000_000u64])];
        for a in &accounts {
            supply.push(serde_json::json!([a.address(), 10_000_000u64]));
        }
        g["modules"]["assets"] = serde_json::json!({"assets": [{"symbol": "EURc",
            "name": "Euro cents", "decimals": 2, "issuer": admin.address(), "supply": supply}]});
        g["modules"]["energy"] = serde_json::json!({ "interval_ms": interval_ms });
    })?;
    let url = cluster.nodes[0].api.clone();
    let report = runtime()?.block_on(async move {
        let client = Client::new(&url)?;
        let status = client.status().await?;
        let signer =
            |k: &SecretKey| Signer::new(k.clone(), status.chain_id.clone(), status.genesis_hash);
        let grid = signer(&grid);
        let signers: Vec<Signer> = accounts.iter().map(signer).collect();

        eprintln!("set-up: the market, {FEEDERS} feeders, {meters} meters…");
        let mut setup = Vec::new();
        let mut nonce = client.next_nonce(&grid.address()).await?;
        let mut push = |c: EnergyCall| {
            setup.push(grid.sign(nonce, energy(c)));
            nonce += 1;
        };
        push(EnergyCall::Configure {
            asset: "EURc".into(),
            gate_closure_ms: 0,
            settle_delay_ms: 6 * interval_ms,
            imbalance_price: 40,
            feed_in_price: 8,
            tariff_price: 25,
            reward: None,
        });
        let per_feeder = (meters as u64).div_ceil(u64::from(FEEDERS));
        let feeder_of = |m: usize| (m as u64 / per_feeder) as u32;
        for f in 0..FEEDERS {
            // Feeders 0 and 1 (all rooftops) can export a tenth of their midday output.
            let export = if f < 2 { per_feeder * 50 } else { u64::MAX / 4 };
            push(EnergyCall::SetFeeder {
                feeder: f,
                name: format!("F{f}"),
                max_export_wh: export,
                max_import_wh: u64::MAX / 4,
            });
        }
        let ids: Vec<urbis_core::Hash> = (0..meters)
            .map(|m| urbis_energy::meter_id(&[9; 32], &format!("{run_id}-{m}")))
            .collect();
        for m in 0..meters {
            push(EnergyCall::RegisterMeter {
                meter: ids[m],
                key: devices[m].public_key(),
                account: signers[m].address(),
                feeder: feeder_of(m),
                max_import_w: 4_000,
                max_export_w: 4_000,
                owner_commitment: urbis_energy::owner_commitment(&[9; 32], &signers[m].address()),
            });
        }
        for r in submit_all(&client, &setup).await? {
            crate::records::ok(&r, "set-up")?;
        }

        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        };
        let day0 = now() / interval_ms + 3;
        eprintln!("measuring: {intervals} intervals from interval {day0}…");
        let started = Instant::now();
        let mut nonces = vec![0u64; meters];
        let (mut order_txs, mut reading_txs, mut late) = (0usize, 0usize, 0usize);
        let mut bursts: Vec<f64> = Vec::new();
        // Step k: orders for interval day0 + k (its gate is its start), sent while interval
        // day0 + k - 1 runs; readings of the four intervals that ended before it.
        for k in 0..intervals + 4 {
            let start_of = |i: u64| i * interval_ms;
            let wait = start_of(day0 + k)
                .saturating_sub(interval_ms)
                .saturating_sub(now());
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let mut txs: Vec<SignedTx> = Vec::new();
            if k < intervals {
                for m in 0..meters {
                    let (side, qty, price) = order_of(m, feeder_of(m), k, intervals);
                    txs.push(signers[m].sign(
                        nonces[m],
                        energy(EnergyCall::Order {
                            meter: ids[m],
                            interval: day0 + k,
                            side,
                            qty_wh: qty,
                            price,
                        }),
                    ));
                    nonces[m] += 1;
                    order_txs += 1;
                }
            }
            // Interval day0 + k - 1 is running: day0 + k - 2 is the last one over.
            for m in 0..meters {
                if k >= 2 && (m as u64 + k).is_multiple_of(4) {
                    let last = (k - 2).min(intervals - 1);
                    let first = last.saturating_sub(3);
                    let values: Vec<Value> = (first..=last)
                        .map(|j| {
                            let (side, qty, _) = order_of(m, feeder_of(m), j, intervals);
                            match side {
                                OrderSide::Sell => Value {
                                    import_wh: 10,
                                    export_wh: 10 + qty * 9 / 10,
                                },
                                OrderSide::Buy => Value {
                                    import_wh: qty,
                                    export_wh: 0,
                                },
                            }
                        })
                        .collect();
                    let msg = urbis_energy::reading_message(&ids[m], day0 + first, &values);
                    let signature = devices[m].sign(urbis_energy::READING_TAG, &msg);
                    txs.push(signers[m].sign(
                        nonces[m],
                        energy(EnergyCall::Readings {
                            meter: ids[m],
                            first_interval: day0 + first,
                            values,
                            signature,
                        }),
                    ));
                    nonces[m] += 1;
                    reading_txs += 1;
                }
            }
            let sent = Instant::now();
            let receipts = submit_all(&client, &txs).await?;
            if !txs.is_empty() {
                bursts.push(txs.len() as f64 / sent.elapsed().as_secs_f64());
            }
            for r in receipts {
                if !r.success {
                    match r.error.as_ref().map(|e| e.code.as_str()) {
                        Some("gate_closed") => late += 1,
                        // A reading of an interval this meter already reported (batches overlap
                        // at the day's end) or out of its window.
                        Some("already_exists") | Some("expired") => {}
                        other => bail!("a transaction failed: {other:?} {:?}", r.error),
                    }
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();

        // Wait for the last settlement, then read every clearing.
        let settle_by = (day0 + intervals) * interval_ms + 8 * interval_ms;
        tokio::time::sleep(Duration::from_millis(settle_by.saturating_sub(now()))).await;
        let mut delays = Vec::new();
        let mut gaps = Vec::new();
        let (mut traded, mut binding, mut settled, mut missing) = (0u64, 0u64, 0u64, 0u64);
        for k in 0..intervals {
            let i = (day0 + k).to_string();
            let c = match client.query(MODULE, &["clearing", &i], false).await {
                Ok(c) => c,
                // No order of this interval made its gate: no market.
                Err(e) if e.is(urbis_core::ErrorCode::NotFound) => {
                    missing += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let at = c.value["at_ms"].as_u64().context("a clearing time")?;
            delays.push(at.saturating_sub((day0 + k) * interval_ms));
            // The clearing block's own time: its successor's stamp minus its own (the dev
            // proposer stamps a block once the one before it is executed).
            if let Some(h) = c.value["height"].as_u64() {
                let next = client.block(urbis_client::BlockId::Height(h + 1)).await?;
                gaps.push(next.header.timestamp_ms.saturating_sub(at));
            }
            traded += c.value["volume_wh"].as_u64().unwrap_or(0);
            if c.value["zones"]
                .as_array()
                .is_some_and(|z| z.iter().any(|z| !z["binding"].is_null()))
            {
                binding += 1;
            }
            let b = client.query(MODULE, &["book", &i], false).await?;
            if b.value["status"] == "settled" {
                settled += 1;
            }
        }
        delays.sort_unstable();
        gaps.sort_unstable();
        bursts.sort_by(f64::total_cmp);
        let txs = order_txs + reading_txs;
        Ok::<_, anyhow::Error>(EnergyReport {
            meters,
            block_time_ms,
            intervals,
            interval_ms,
            order_txs,
            reading_txs,
            late_orders: late,
            seconds,
            tx_per_s: txs as f64 / seconds,
            burst_tx_per_s_p50: bursts.get(bursts.len() / 2).copied().unwrap_or(0.0),
            burst_tx_per_s_min: bursts.first().copied().unwrap_or(0.0),
            clearing_delay_ms_p50: delays.get(delays.len() / 2).copied().unwrap_or(0),
            clearing_block_gap_ms_p50: gaps.get(gaps.len() / 2).copied().unwrap_or(0),
            clearing_block_gap_ms_max: gaps.last().copied().unwrap_or(0),
            intervals_without_market: missing,
            clearing_delay_ms_max: *delays.last().unwrap_or(&0),
            traded_wh: traded,
            binding_intervals: binding,
            settled_intervals: settled,
        })
    })?;
    drop(cluster);
    Ok(report)
}
