//! `urbis bench --scenario waste` on a dev node.
//!
//! Set-up: a waste office, a collector with 100 smart bins of one district, ten transfer
//! stations each with its weighbridge, `--citizens N` citizens (in the genesis) and a recycling
//! reward program the module awards from. Measured: deposits at an offered `--rate` (default
//! 1,000/s) for `--seconds` — each a transaction sent by the bin (vouched by the module), with
//! the bin's signed weighing and the citizen's co-signature, paying a reward within the weekly
//! cap. Then a batch is collected from a bin and handed over ten times (each hop with the
//! giver's signature and a weighbridge reading), and its trace — the batch record fetched with
//! its state proof, verified against the genesis validators and decoded — is timed: the first
//! one (a fresh proof waits for the certifying block), then many more (the node answers from
//! its kept bundles while the record is unchanged), and the verification alone.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use urbis_client::{Client, Signer};
use urbis_core::{Call, SecretKey};
use urbis_waste::{MODULE, WasteCall, Weighing};

use crate::cluster::Cluster;
use crate::load::{self, Pace};
use crate::records::{runtime, submit_all};
use crate::workload::{Kind, Prepared};

const BINS: usize = 100;
const HOPS: usize = 10;
const TRACE_RUNS: usize = 200;

fn waste(c: WasteCall) -> Call {
    Call::new(MODULE, &c)
}

/// What the waste bench measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WasteReport {
    pub citizens: usize,
    pub bins: usize,
    pub block_time_ms: u64,
    pub offered_per_s: f64,
    pub deposits: usize,
    pub committed: usize,
    pub deposits_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub failed: std::collections::BTreeMap<String, u64>,
    pub rejected: std::collections::BTreeMap<String, u64>,
    /// Reward tokens the program paid during the run.
    pub tokens_awarded: u64,
    /// The traced batch: its hops, its record's proof bundle size (JSON), and the trace timed
    /// (fetch with proof, verify, decode; then verify and decode alone), medians and p99.
    pub trace_hops: usize,
    pub trace_bytes: usize,
    /// The first trace after the last hop: a fresh proof, which waits for the block that
    /// certifies the state (about a block time); later ones are served from the node's kept
    /// bundles while the record is unchanged.
    pub trace_first_ms: f64,
    pub trace_ms_p50: f64,
    pub trace_ms_p99: f64,
    pub trace_verify_ms_p50: f64,
}

impl WasteReport {
    pub fn table(&self) -> String {
        format!(
            "Waste deposits and a custody trace (dev node, {} citizens, {} bins, block time {} ms)\n\
             offered                    {:.0} deposits/s, {} deposits (signed weighing + citizen signature)\n\
             committed                  {} deposits, {:.0} deposits/s in the steady window\n\
             latency submit → commit    p50 {:.0} ms, p99 {:.0} ms\n\
             failed receipts            {:?}\n\
             refused at the door        {:?}\n\
             reward tokens paid         {}\n\
             trace of a {}-hop batch     first (a fresh proof) {:.1} ms; then fetch + verify + decode p50 {:.2} ms, p99 {:.2} ms; verify + decode alone p50 {:.2} ms ({} bytes)\n",
            self.citizens,
            self.bins,
            self.block_time_ms,
            self.offered_per_s,
            self.deposits,
            self.committed,
            self.deposits_per_s,
            self.latency_p50_ms,
            self.latency_p99_ms,
            self.failed,
            self.rejected,
            self.tokens_awarded,
            self.trace_hops,
            self.trace_first_ms,
            self.trace_ms_p50,
            self.trace_ms_p99,
            self.trace_verify_ms_p50,
            self.trace_bytes,
        )
    }
}

pub(crate) fn weighing(
    device: &SecretKey,
    seq: u64,
    grams: u64,
    subject: &urbis_core::Hash,
) -> Weighing {
    let key = device.public_key();
    Weighing {
        device: key,
        seq,
        grams,
        signature: device.sign(
            urbis_waste::WEIGHING_TAG,
            &urbis_waste::weighing_message(&key, seq, grams, subject),
        ),
    }
}

fn sorted_ms(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Run the waste scenario (starts and stops its own dev node).
pub fn run(
    exe: PathBuf,
    block_time_ms: u64,
    citizens: usize,
    rate: f64,
    seconds: u64,
) -> anyhow::Result<WasteReport> {
    if citizens == 0 || rate <= 0.0 || seconds == 0 {
        bail!("at least one citizen, a positive rate and duration");
    }
    let run_id = std::process::id();
    let key = |what: &str, i: usize| {
        SecretKey::from_label(&format!("urbis-bench/waste/{run_id}/{what}/{i}"))
    };
    let office = key("office", 0);
    let collector = key("collector", 0);
    let stations: Vec<SecretKey> = (0..HOPS).map(|i| key("station", i)).collect();
    let bridges: Vec<SecretKey> = (0..HOPS).map(|i| key("bridge", i)).collect();
    let bins: Vec<SecretKey> = (0..BINS).map(|i| key("bin", i)).collect();
    let people: Vec<SecretKey> = (0..citizens).map(|i| key("citizen", i)).collect();
    let mut admin = None;
    eprintln!("starting urbis dev (block time {block_time_ms} ms)…");
    let mut cluster = Cluster::start_dev_with(&exe, block_time_ms, |g, a| {
        admin = Some(a.clone());
        let list = g["modules"]["accounts"]["accounts"]
            .as_array_mut()
            .expect("the dev genesis lists accounts");
        list.push(serde_json::json!({"address": office.address(), "roles": ["department"]}));
        for k in std::iter::once(&collector).chain(&stations).chain(&people) {
            list.push(serde_json::json!({"address": k.address(), "roles": ["citizen"]}));
        }
        g["modules"]["rewards"] = serde_json::json!({"programs": [{"name": "Recycle",
            "category": "recycling", "budget": 1_000_000_000_000u64, "cap_per_period": 1_000,
            "period_ms": 7 * 86_400_000u64, "transferable": false}]});
    })?;
    let admin = admin.context("the genesis was patched")?;
    let url = cluster.nodes[0].api.clone();
    let rt = runtime()?;
    let out = rt.block_on(async {
        let client = Client::new(&url)?;
        let status = client.status().await?;
        let signer =
            |k: &SecretKey| Signer::new(k.clone(), status.chain_id.clone(), status.genesis_hash);

        eprintln!("set-up: the reward, 11 actors, {} devices…", BINS + HOPS);
        let off = signer(&office);
        let mut n = 0u64;
        let mut next = || {
            n += 1;
            n - 1
        };
        let mut setup = vec![
            signer(&admin).sign(
                0,
                Call::new(
                    urbis_rewards::MODULE,
                    &urbis_rewards::RewardsCall::SetAwarder {
                        program: 1,
                        module: MODULE.into(),
                        allowed: true,
                    },
                ),
            ),
            off.sign(
                next(),
                waste(WasteCall::SetReward {
                    program: 1,
                    grams_per_token: 100,
                }),
            ),
        ];
        let licence = vec![urbis_waste::Licence {
            stream: urbis_waste::Stream::Glass,
            until_ms: u64::MAX,
        }];
        for (i, k) in std::iter::once(&collector).chain(&stations).enumerate() {
            setup.push(off.sign(
                next(),
                waste(WasteCall::RegisterActor {
                    account: k.address(),
                    kind: if i == 0 {
                        urbis_waste::ActorKind::Collector
                    } else {
                        urbis_waste::ActorKind::TransferStation
                    },
                    name: format!("actor {i}"),
                    licences: licence.clone(),
                }),
            ));
        }
        for r in submit_all(&client, &setup).await? {
            crate::records::ok(&r, "set-up")?;
        }
        setup.clear();
        let devices = bins
            .iter()
            .map(|b| (b, urbis_waste::DeviceKind::Bin, collector.address()))
            .chain(
                bridges
                    .iter()
                    .zip(&stations)
                    .map(|(b, s)| (b, urbis_waste::DeviceKind::Weighbridge, s.address())),
            );
        for (d, kind, operator) in devices {
            setup.push(off.sign(
                next(),
                waste(WasteCall::RegisterDevice {
                    key: d.public_key(),
                    kind,
                    operator,
                    district: "north".into(),
                    stream: urbis_waste::Stream::Glass,
                }),
            ));
        }
        for r in submit_all(&client, &setup).await? {
            crate::records::ok(&r, "set-up")?;
        }

        // Deposit k: bin k mod 100 (its k-th weighing), citizen k mod N, 200 to 999 g.
        let total = (rate * seconds as f64) as usize;
        eprintln!("signing {total} deposits…");
        let mut seqs = vec![0u64; BINS];
        let mut txs = Vec::with_capacity(total);
        for k in 0..total {
            let b = k % BINS;
            let citizen = &people[k % citizens];
            let grams = 200 + (k as u64 * 37) % 800;
            seqs[b] += 1;
            let w = weighing(
                &bins[b],
                seqs[b],
                grams,
                &urbis_waste::citizen_subject(&citizen.address()),
            );
            let citizen_signature = citizen.sign(
                urbis_waste::DEPOSIT_TAG,
                &urbis_waste::deposit_message(&w.device, w.seq, grams),
            );
            let tx = signer(&bins[b]).sign(
                seqs[b] - 1,
                waste(WasteCall::Deposit {
                    citizen: citizen.public_key(),
                    weighing: w,
                    citizen_signature,
                }),
            );
            txs.push(Prepared {
                kind: Kind::WasteDeposit,
                sender: b,
                hash: tx.hash(),
                bytes: borsh::to_vec(&tx).context("encode a deposit")?,
            });
        }
        let before = client
            .query("rewards", &["program", "1"], false)
            .await?
            .value;
        eprintln!("submitting at {rate:.0} deposits/s…");
        let events_url = format!("{}/v1/events", url.trim_end_matches('/'));
        let obs = load::run(
            std::slice::from_ref(&client),
            &events_url,
            Arc::new(txs),
            // One task per bin, one deposit per request (a bin's weighings in order).
            Pace {
                concurrency: BINS,
                rate: Some(rate),
                batch: 1,
            },
            || Ok(()),
            || {},
        )
        .await?;
        let after = client
            .query("rewards", &["program", "1"], false)
            .await?
            .value;
        let paid = after["minted"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(before["minted"].as_u64().unwrap_or(0));

        // A batch from bin 0, then ten hops through the stations.
        eprintln!("a batch handed over {HOPS} times…");
        let bin0 = client
            .query(
                MODULE,
                &["device", &urbis_waste::keys::hex(&bins[0].public_key())],
                false,
            )
            .await?
            .value;
        let fill = bin0["fill_grams"].as_u64().unwrap_or(0).max(1);
        let epoch = bin0["epoch"].as_u64().unwrap_or(0);
        let bin_seq = bin0["seq"].as_u64().unwrap_or(0) + 1;
        let w = weighing(
            &bins[0],
            bin_seq,
            fill,
            &urbis_waste::fill_subject(&bins[0].public_key(), epoch),
        );
        let collect = signer(&collector).sign(
            0,
            waste(WasteCall::Collect {
                weighings: vec![w],
                manifest: None,
            }),
        );
        let r = submit_all(&client, &[collect]).await?;
        crate::records::ok(&r[0], "collection")?;
        let id: u64 = r[0]
            .events
            .iter()
            .find(|e| e.kind == "collected")
            .and_then(|e| e.attr("batch")?.parse().ok())
            .context("the collection names its batch")?;
        let mut giver = &collector;
        for (i, s) in stations.iter().enumerate() {
            let sig = giver.sign(
                urbis_waste::HANDOVER_TAG,
                &urbis_waste::handover_message(id, &s.address(), fill),
            );
            let tx = signer(s).sign(
                0,
                waste(WasteCall::Handover {
                    batch: id,
                    giver_key: giver.public_key(),
                    giver_signature: sig,
                    weighing: weighing(&bridges[i], 1, fill, &urbis_waste::batch_subject(id)),
                }),
            );
            let r = submit_all(&client, &[tx]).await?;
            crate::records::ok(&r[0], "handover")?;
            giver = s;
        }

        // The trace, timed.
        let genesis = client.genesis().await?;
        let registry = urbis_registry::runtime(&genesis.chain_id);
        let mut whole = Vec::with_capacity(TRACE_RUNS);
        let mut verify = Vec::with_capacity(TRACE_RUNS);
        let mut bytes = 0;
        for _ in 0..TRACE_RUNS {
            let t0 = Instant::now();
            let r = client
                .query(MODULE, &["batch", &id.to_string()], true)
                .await?;
            let t1 = Instant::now();
            let v = urbis_client::verify_query_with(&registry, &r, &genesis)
                .map_err(|e| anyhow::anyhow!("the trace does not verify: {e}"))?;
            let b: urbis_waste::Batch =
                borsh::from_slice(v.value.as_deref().context("the batch is proven")?)?;
            if b.hops.len() != HOPS {
                bail!("the batch has {} hops", b.hops.len());
            }
            let t2 = Instant::now();
            whole.push((t2 - t0).as_secs_f64() * 1000.0);
            verify.push((t2 - t1).as_secs_f64() * 1000.0);
            bytes = serde_json::to_vec(&r)?.len();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok::<_, anyhow::Error>((total, obs, paid, whole, verify, bytes))
    });
    cluster.stop();
    let (total, obs, paid, whole, verify, bytes) = out?;
    let sum = obs.summary();
    let first = whole.first().copied().unwrap_or(0.0);
    let whole = sorted_ms(whole.into_iter().skip(1).collect());
    let verify = sorted_ms(verify);
    let pct = |v: &[f64], p: f64| crate::stats::percentile(v, p).unwrap_or(0.0);
    Ok(WasteReport {
        citizens,
        bins: BINS,
        block_time_ms,
        offered_per_s: rate,
        deposits: total,
        committed: sum.committed,
        deposits_per_s: sum.per_s,
        latency_p50_ms: sum.latency_p50_ms,
        latency_p99_ms: sum.latency_p99_ms,
        failed: sum.failed,
        rejected: sum.rejected,
        tokens_awarded: paid,
        trace_hops: HOPS,
        trace_bytes: bytes,
        trace_first_ms: first,
        trace_ms_p50: pct(&whole, 50.0),
        trace_ms_p99: pct(&whole, 99.0),
        trace_verify_ms_p50: pct(&verify, 50.0),
    })
}
