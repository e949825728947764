//! Mobility on a dev node.
//!
//! `urbis bench --scenario transit`: `--cards N` pseudonymous cards (topped up in set-up) tap
//! in and out at 200 certified station validators in four fare zones of two operators, at an
//! offered `--rate` (default 2,500 taps/s) for `--seconds`. Every tap is a transaction the
//! validator signs, carrying the card's signature over the tap; each card taps in, and taps out
//! some seconds later at another stop (a journey priced by zones). Signed before the measured
//! phase, sent at the offered rate. Reported: committed taps per second in the steady window,
//! submission-to-commit latency (p50, p99), failures by code, journeys priced.
//!
//! `urbis bench --scenario telemetry`: `--vehicles N` vehicles (device DIDs and registration in
//! set-up) whose on-board units each sign a batch of 60 fixes per period; one operator anchors
//! every period's batches under one Merkle root, in one transaction (up to 10,000 vehicles),
//! for `--minutes` periods of `--period-ms` (default a minute). Reported per period: the
//! units' signing time (all of them, on this machine), the tree's, the anchor's commit latency;
//! then a position proof of the last period, fetched with its two state proofs and verified
//! offline: the batch-and-path check alone and the whole bundle, each timed over many runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use urbis_client::{Client, Signer};
use urbis_core::{Call, Hash, SecretKey, merkle_path, merkle_root};
use urbis_identity::{Document, IdentityCall, Jwk, Method, Purpose, Subject};
use urbis_mobility::telemetry::{Batch, BatchInclusion, Point};
use urbis_mobility::{Fares, MODULE, MobilityCall, TapKind, VehicleClass};

use crate::cluster::Cluster;
use crate::load::{self, Pace};
use crate::records::{runtime, submit_all};
use crate::stats::percentile;
use crate::workload::{Kind, Prepared};

const VALIDATORS: usize = 200;
const ZONES: u16 = 4;

fn mobility(c: MobilityCall) -> Call {
    Call::new(MODULE, &c)
}

fn now_ms() -> u64 {
    load::unix_ms()
}

/// What the transit bench measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TransitReport {
    pub cards: usize,
    pub validators: usize,
    pub block_time_ms: u64,
    pub offered_taps_per_s: f64,
    pub taps: usize,
    pub committed: usize,
    pub taps_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub failed: std::collections::BTreeMap<String, u64>,
    pub rejected: std::collections::BTreeMap<String, u64>,
    pub journeys: u64,
    pub revenue: u64,
}

impl TransitReport {
    pub fn table(&self) -> String {
        format!(
            "Public transport taps (dev node, {} cards, {} station validators, block time {} ms)\n\
             offered                    {:.0} taps/s, {} taps\n\
             committed                  {} taps, {:.0} taps/s in the steady window\n\
             latency submit → commit    p50 {:.0} ms, p99 {:.0} ms\n\
             failed receipts            {:?}\n\
             refused at the door        {:?}\n\
             journeys priced            {} (revenue {} units)\n",
            self.cards,
            self.validators,
            self.block_time_ms,
            self.offered_taps_per_s,
            self.taps,
            self.committed,
            self.taps_per_s,
            self.latency_p50_ms,
            self.latency_p99_ms,
            self.failed,
            self.rejected,
            self.journeys,
            self.revenue,
        )
    }
}

pub(crate) fn fares() -> Fares {
    Fares {
        asset: "EURc".into(),
        zone_fares: vec![180, 250, 320, 390],
        bands: vec![urbis_mobility::Band {
            from_min: 7 * 60,
            to_min: 9 * 60,
            percent: 120,
        }],
        utc_offset_min: 60,
        daily_cap: 800,
        monthly_cap: 8_000,
        missing_tap_out_fare: 390,
        max_journey_ms: 3 * 3_600_000,
        max_tap_delay_ms: 600_000,
        reward: None,
    }
}

/// Run the transit scenario (starts and stops its own dev node).
pub fn transit(
    exe: PathBuf,
    block_time_ms: u64,
    cards: usize,
    rate: f64,
    seconds: u64,
) -> anyhow::Result<TransitReport> {
    if cards < 10 || rate <= 0.0 || seconds == 0 {
        bail!("at least 10 cards, a positive rate and duration");
    }
    let run_id = std::process::id();
    let key = |what: &str, i: usize| {
        SecretKey::from_label(&format!("urbis-bench/transit/{run_id}/{what}/{i}"))
    };
    let authority = key("authority", 0);
    let operators = [key("operator", 0), key("operator", 1)];
    let payers: Vec<SecretKey> = (0..16).map(|i| key("payer", i)).collect();
    let devices: Vec<SecretKey> = (0..VALIDATORS).map(|i| key("validator", i)).collect();
    let card_keys: Vec<SecretKey> = (0..cards).map(|i| key("card", i)).collect();
    eprintln!("starting urbis dev (block time {block_time_ms} ms)…");
    let mut cluster = Cluster::start_dev_with(&exe, block_time_ms, |g, admin| {
        let list = g["modules"]["accounts"]["accounts"]
            .as_array_mut()
            .expect("the dev genesis lists accounts");
        list.push(
            serde_json::json!({"address": authority.address(), "roles": ["mobility_authority"]}),
        );
        for o in &operators {
            list.push(serde_json::json!({"address": o.address(), "roles": ["transport_operator"]}));
        }
        for p in &payers {
            list.push(serde_json::json!({"address": p.address(), "roles": ["citizen"]}));
        }
        let supply: Vec<_> = payers
            .iter()
            .map(|p| serde_json::json!([p.address(), 1_000_000_000u64]))
            .collect();
        g["modules"]["assets"] = serde_json::json!({"assets": [{"symbol": "EURc",
            "name": "Euro cents", "decimals": 2, "issuer": admin.address(), "supply": supply}]});
    })?;
    let url = cluster.nodes[0].api.clone();
    let rt = runtime()?;
    let out = rt.block_on(async {
        let client = Client::new(&url)?;
        let status = client.status().await?;
        let signer =
            |k: &SecretKey| Signer::new(k.clone(), status.chain_id.clone(), status.genesis_hash);

        eprintln!(
            "set-up: fares, {ZONES} zones, {VALIDATORS} validators, {cards} cards topped up…"
        );
        let auth = signer(&authority);
        let mut setup = vec![auth.sign(0, mobility(MobilityCall::SetFares { fares: fares() }))];
        for z in 0..ZONES {
            setup.push(auth.sign(
                u64::from(z) + 1,
                mobility(MobilityCall::SetZone {
                    zone: z + 1,
                    name: format!("Zone {}", z + 1),
                    operator: operators[usize::from(z) / 2].address(),
                }),
            ));
        }
        // Zones first: validators are registered in them.
        for r in submit_all(&client, &setup).await? {
            crate::records::ok(&r, "set-up")?;
        }
        setup.clear();
        let mut op_nonce = [0u64; 2];
        for (i, d) in devices.iter().enumerate() {
            let zone = (i % usize::from(ZONES)) as u16 + 1;
            let op = usize::from(zone - 1) / 2;
            setup.push(signer(&operators[op]).sign(
                op_nonce[op],
                mobility(MobilityCall::RegisterValidator {
                    device: d.address(),
                    stop: i as u32,
                    line: (i % 20) as u32,
                    zone,
                }),
            ));
            op_nonce[op] += 1;
        }
        let mut payer_nonce = vec![0u64; payers.len()];
        for (i, c) in card_keys.iter().enumerate() {
            let p = i % payers.len();
            setup.push(signer(&payers[p]).sign(
                payer_nonce[p],
                mobility(MobilityCall::TopUp {
                    card: c.public_key(),
                    amount: 100_000,
                }),
            ));
            payer_nonce[p] += 1;
        }
        for r in submit_all(&client, &setup).await? {
            crate::records::ok(&r, "set-up")?;
        }

        // The plan: rounds of every card tapping in, then out (another stop, so journeys
        // cross zones), at the offered rate; a tap's time is when it is due to be sent.
        let total = (rate * seconds as f64) as usize;
        eprintln!("signing {total} taps…");
        let t0 = now_ms() + 2_000;
        let mut nonces = vec![0u64; VALIDATORS];
        let mut txs = Vec::with_capacity(total);
        for k in 0..total {
            let round = k / cards;
            let c = k % cards;
            let kind = if round.is_multiple_of(2) {
                TapKind::In
            } else {
                TapKind::Out
            };
            let v = match kind {
                TapKind::In => (c * 7 + round) % VALIDATORS,
                TapKind::Out => (c * 7 + round + 13) % VALIDATORS,
            };
            let t_ms = t0 + (k as f64 * 1000.0 / rate) as u64;
            let card = &card_keys[c];
            let signature = card.sign(
                urbis_mobility::TAP_TAG,
                &urbis_mobility::tap_message(&card.public_key(), &devices[v].address(), kind, t_ms),
            );
            let tx = signer(&devices[v]).sign(
                nonces[v],
                mobility(MobilityCall::Tap {
                    card: card.public_key(),
                    kind,
                    t_ms,
                    signature,
                }),
            );
            nonces[v] += 1;
            txs.push(Prepared {
                kind: Kind::TransitTap,
                sender: v,
                hash: tx.hash(),
                bytes: borsh::to_vec(&tx).context("encode a tap")?,
            });
        }
        let wait = t0.saturating_sub(now_ms());
        tokio::time::sleep(Duration::from_millis(wait)).await;
        eprintln!("submitting at {rate:.0} taps/s…");
        let clients = vec![client.clone()];
        let events_url = format!("{}/v1/events", url.trim_end_matches('/'));
        let obs = load::run(
            &clients,
            &events_url,
            Arc::new(txs),
            // One task per validator (each sends the same number of taps per round, so the
            // tasks keep pace with each other) and one tap per request: a card's tap-out, a
            // round later at another validator, is not sent before its tap-in.
            Pace {
                concurrency: VALIDATORS,
                rate: Some(rate),
                batch: 1,
            },
            || Ok(()),
            || {},
        )
        .await?;
        let day = urbis_mobility::fares::local_day(&fares(), t0);
        let d = client
            .query(MODULE, &["day", &day.to_string()], false)
            .await?;
        Ok::<_, anyhow::Error>((total, obs, d.value))
    });
    cluster.stop();
    let (total, obs, day) = out?;
    let sum = obs.summary();
    Ok(TransitReport {
        cards,
        validators: VALIDATORS,
        block_time_ms,
        offered_taps_per_s: rate,
        taps: total,
        committed: sum.committed,
        taps_per_s: sum.per_s,
        latency_p50_ms: sum.latency_p50_ms,
        latency_p99_ms: sum.latency_p99_ms,
        failed: sum.failed,
        rejected: sum.rejected,
        journeys: day["journeys"].as_u64().unwrap_or(0),
        revenue: day["revenue"].as_u64().unwrap_or(0),
    })
}

/// What the telemetry bench measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TelemetryReport {
    pub vehicles: usize,
    pub periods: usize,
    pub period_ms: u64,
    pub block_time_ms: u64,
    /// Per period, medians: every unit's batch signed (here, on this machine), the Merkle
    /// tree over all batches, the anchor from submission to commit.
    pub sign_ms_p50: f64,
    pub tree_ms_p50: f64,
    pub anchor_commit_ms_p50: f64,
    pub anchor_commit_ms_max: f64,
    pub anchor_tx_bytes: usize,
    /// A position proof: its size, the batch-and-path check, the whole bundle (two state
    /// proofs with their certificates, then the batch), medians over many runs.
    pub bundle_bytes: usize,
    pub position_check_us: f64,
    pub bundle_verify_us: f64,
}

impl TelemetryReport {
    pub fn table(&self) -> String {
        format!(
            "Vehicle telemetry anchoring (dev node, {} vehicles, {} periods of {} ms, block time {} ms)\n\
             units sign their batches   {:.0} ms per period (all units, on this machine)\n\
             Merkle tree of the period  {:.0} ms\n\
             anchor, submit → commit    median {:.0} ms, worst {:.0} ms ({} bytes)\n\
             position proof             {} bytes; batch + path check {:.0} µs; whole bundle {:.0} µs\n",
            self.vehicles,
            self.periods,
            self.period_ms,
            self.block_time_ms,
            self.sign_ms_p50,
            self.tree_ms_p50,
            self.anchor_commit_ms_p50,
            self.anchor_commit_ms_max,
            self.anchor_tx_bytes,
            self.bundle_bytes,
            self.position_check_us,
            self.bundle_verify_us,
        )
    }
}

/// A DID document with one Ed25519 assertion key (key-1): a unit's, or an issuer's.
pub(crate) fn unit_document(unit: &SecretKey) -> Document {
    Document {
        methods: vec![Method {
            fragment: "key-1".into(),
            jwk: Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: urbis_credentials::jose::b64(unit.public_key().raw()),
                y: None,
            },
            purposes: vec![Purpose::AssertionMethod],
        }],
        services: Vec::new(),
        controllers: Vec::new(),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(v, 50.0).unwrap_or(0.0)
}

/// Run the telemetry scenario (starts and stops its own dev node).
pub fn telemetry(
    exe: PathBuf,
    block_time_ms: u64,
    vehicles: usize,
    periods: usize,
    period_ms: u64,
) -> anyhow::Result<TelemetryReport> {
    if vehicles == 0 || vehicles > urbis_mobility::MAX_ANCHOR_VEHICLES || periods == 0 {
        bail!(
            "1 to {} vehicles and at least one period",
            urbis_mobility::MAX_ANCHOR_VEHICLES
        );
    }
    if period_ms < 1_000 {
        bail!("a period is at least a second");
    }
    let run_id = std::process::id();
    let key = |what: &str, i: usize| {
        SecretKey::from_label(&format!("urbis-bench/telemetry/{run_id}/{what}/{i}"))
    };
    let operator = key("operator", 0);
    let dept = key("dept", 0);
    let units: Vec<SecretKey> = (0..vehicles).map(|i| key("unit", i)).collect();
    eprintln!("starting urbis dev (block time {block_time_ms} ms)…");
    let mut cluster = Cluster::start_dev_with(&exe, block_time_ms, |g, _| {
        let list = g["modules"]["accounts"]["accounts"]
            .as_array_mut()
            .expect("the dev genesis lists accounts");
        list.push(
            serde_json::json!({"address": operator.address(), "roles": ["transport_operator"]}),
        );
        list.push(serde_json::json!({"address": dept.address(), "roles": ["department"]}));
    })?;
    let url = cluster.nodes[0].api.clone();
    let out = runtime()?.block_on(async {
        let client = Client::new(&url)?;
        let status = client.status().await?;
        let signer =
            |k: &SecretKey| Signer::new(k.clone(), status.chain_id.clone(), status.genesis_hash);
        let op = signer(&operator);
        let dp = signer(&dept);
        eprintln!("set-up: {vehicles} on-board units' DIDs and vehicles…");
        let ids: Vec<Hash> = (0..vehicles)
            .map(|i| urbis_mobility::vin_hash(&[3; 32], &format!("BENCH{run_id}{i:08}")))
            .collect();
        let mut dids_txs = Vec::with_capacity(vehicles);
        let mut reg_txs = Vec::with_capacity(vehicles);
        for (i, u) in units.iter().enumerate() {
            let document = unit_document(u);
            let next_key_hash = urbis_identity::next_key_commitment(&key("next", i).address());
            let salt = Hash([(i % 251) as u8; 32]);
            let did = urbis_identity::did_string(&urbis_identity::did_id(
                &operator.address(),
                &next_key_hash,
                &salt,
                &document,
            ));
            dids_txs.push(dp.sign(
                i as u64,
                Call::new(
                    urbis_identity::MODULE,
                    &IdentityCall::Create {
                        document,
                        next_key_hash,
                        salt,
                        subject: Subject::Device,
                        controller: Some(operator.address()),
                    },
                ),
            ));
            reg_txs.push(op.sign(
                i as u64,
                mobility(MobilityCall::RegisterVehicle {
                    vehicle: ids[i],
                    operator: operator.address(),
                    class: VehicleClass::Bus,
                    unit_did: did,
                    unit_key: u.public_key(),
                }),
            ));
        }
        for r in submit_all(&client, &dids_txs).await? {
            crate::records::ok(&r, "a unit's DID")?;
        }
        let mut numbers = Vec::with_capacity(vehicles);
        for r in submit_all(&client, &reg_txs).await? {
            crate::records::ok(&r, "a vehicle")?;
            let n = r
                .events
                .iter()
                .find(|e| e.kind == "vehicle_registered")
                .and_then(|e| e.attr("number"))
                .and_then(|n| n.parse::<u32>().ok())
                .context("a vehicle number")?;
            numbers.push(n);
        }
        numbers.sort_unstable();

        eprintln!("measuring: {periods} periods of {period_ms} ms…");
        let start = now_ms();
        let (mut sign_ms, mut tree_ms, mut commit_ms) = (Vec::new(), Vec::new(), Vec::new());
        let mut last: Option<(Vec<Batch>, Vec<Hash>, u64, u64)> = None;
        let mut tx_bytes = 0;
        let mut nonce = client.next_nonce(&op.address()).await?;
        for p in 0..periods as u64 {
            let from = start + p * period_ms;
            let to = from + period_ms;
            tokio::time::sleep(Duration::from_millis(to.saturating_sub(now_ms()))).await;
            let step = period_ms / 60;
            let t = Instant::now();
            let units_ref = &units;
            let ids_ref = &ids;
            let batches: Vec<Batch> = std::thread::scope(|s| {
                let half = vehicles.div_ceil(2);
                let parts: Vec<_> = (0..2)
                    .map(|h| {
                        s.spawn(move || {
                            (h * half..((h + 1) * half).min(vehicles))
                                .map(|i| {
                                    let points = (0..60u64)
                                        .map(|k| Point {
                                            t_ms: from + k * step,
                                            lat_e7: 485_000_000 + (i as i32) * 10 + k as i32,
                                            lon_e7: 23_000_000 - (i as i32) * 10,
                                            speed_cm_s: 700 + (k as u32) * 3,
                                        })
                                        .collect();
                                    Batch::sign(&units_ref[i], ids_ref[i], p, points)
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                parts
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            });
            sign_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let leaves: Vec<Hash> = batches.iter().map(Batch::leaf).collect();
            let root = merkle_root(&leaves);
            tree_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            let tx = op.sign(
                nonce,
                mobility(MobilityCall::Anchor {
                    root,
                    batches: batches.len() as u32,
                    from_ms: from,
                    to_ms: to,
                    vehicles: numbers.clone(),
                }),
            );
            nonce += 1;
            tx_bytes = borsh::to_vec(&tx).map(|b| b.len()).unwrap_or(0);
            let t = Instant::now();
            let committed = client.submit_and_wait(&tx).await?;
            urbis_client::check_receipt(committed.receipt)?;
            commit_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            last = Some((batches, leaves, p + 1, from));
        }
        let (batches, leaves, seq, from) = last.context("no period ran")?;
        // A position proof of the middle vehicle, half-way through the last period.
        let i = vehicles / 2;
        let inclusion = BatchInclusion {
            batch: batches[i].clone(),
            index: i as u32,
            path: merkle_path(&leaves, i).context("a path")?,
        };
        let at = from + period_ms / 2;
        let v = client
            .query(MODULE, &["vehicle", &ids[i].to_hex()], true)
            .await?;
        let a = client
            .query(
                MODULE,
                &["anchor", &operator.address().to_string(), &seq.to_string()],
                true,
            )
            .await?;
        let genesis = client.genesis().await?;
        Ok::<_, anyhow::Error>((
            sign_ms, tree_ms, commit_ms, tx_bytes, inclusion, at, v, a, genesis,
        ))
    });
    cluster.stop();
    let (mut sign_ms, mut tree_ms, mut commit_ms, tx_bytes, inclusion, at, v, a, genesis) = out?;
    let (position_us, bundle_us, bundle_bytes) =
        time_position_proof(&v, &a, &inclusion, at, &genesis)?;
    let worst = commit_ms.iter().copied().fold(0.0, f64::max);
    Ok(TelemetryReport {
        vehicles,
        periods,
        period_ms,
        block_time_ms,
        sign_ms_p50: median(&mut sign_ms),
        tree_ms_p50: median(&mut tree_ms),
        anchor_commit_ms_p50: median(&mut commit_ms),
        anchor_commit_ms_max: worst,
        anchor_tx_bytes: tx_bytes,
        bundle_bytes,
        position_check_us: position_us,
        bundle_verify_us: bundle_us,
    })
}

/// Verify a position proof many times: the batch-and-path check alone, and the whole bundle
/// (both state proofs against the genesis validators, the records decoded, the batch checked).
fn time_position_proof(
    vehicle: &urbis_client::QueryResult,
    anchor: &urbis_client::QueryResult,
    inclusion: &BatchInclusion,
    at: u64,
    genesis: &urbis_runtime::Genesis,
) -> anyhow::Result<(f64, f64, usize)> {
    let whole = || -> anyhow::Result<()> {
        let pv = urbis_client::verify_query(vehicle, genesis)?;
        let pa = urbis_client::verify_query(anchor, genesis)?;
        let v: urbis_mobility::Vehicle =
            borsh::from_slice(pv.value.as_deref().context("the vehicle is absent")?)?;
        let a: urbis_mobility::Anchor =
            borsh::from_slice(pa.value.as_deref().context("the anchor is absent")?)?;
        urbis_mobility::telemetry::check_position(&v, &a, inclusion, at)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    };
    whole()?;
    let v: urbis_mobility::Vehicle = serde_json::from_value(vehicle.value.clone())?;
    let a: urbis_mobility::Anchor = serde_json::from_value(anchor.value.clone())?;
    let runs = 2_000;
    let t = Instant::now();
    for _ in 0..runs {
        urbis_mobility::telemetry::check_position(&v, &a, inclusion, at)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let position_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
    let t = Instant::now();
    for _ in 0..runs / 4 {
        whole()?;
    }
    let bundle_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(runs / 4);
    let bytes = serde_json::to_vec(&serde_json::json!({
        "vehicle": vehicle, "anchor": anchor, "inclusion": inclusion,
    }))?
    .len();
    Ok((position_us, bundle_us, bytes))
}
