//! `urbis waste …`: licensed actors, certified weighing devices, deposits, collection,
//! handovers, splits, merges, fates, flags, rates, and a batch's custody chain with proofs
//! (each a call or a query of the `waste` module; see its documentation for the rules).
//!
//! Device-side steps (a bin weighing a deposit or its fill, a weighbridge weighing a receipt)
//! are signed here with the device's key from the keystore, as the device itself would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use urbis_client::QueryResult;
use urbis_core::{Address, Call, PublicKey, SecretKey};
use urbis_waste::{
    Batch, DeviceKind, FateKind, Licence, Stream, Tolerance, WasteCall, Weighing, batch_subject,
    citizen_subject, fill_subject,
};

use crate::cli::TxOpts;
use crate::commands::{Ctx, file_hash, now_ms, send};
use crate::fail;
use crate::identity::{ensure_key, print_json};

const MODULE: &str = urbis_waste::MODULE;
const DAY_MS: u64 = 86_400_000;

#[derive(Debug, Subcommand)]
pub enum WasteCmd {
    /// A stream's tolerances (the waste office): the soft band flags, the hard limit refuses.
    Tolerance {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        stream: String,
        /// Parts per 10 000 of the input.
        #[arg(long, default_value_t = 200)]
        soft_bps: u32,
        #[arg(long, default_value_t = 1000)]
        hard_bps: u32,
        #[arg(long, default_value_t = 300)]
        moisture_bps: u32,
        /// A batch must move on within this many hours.
        #[arg(long, default_value_t = 168)]
        hop_deadline_h: u64,
    },
    /// The recycling reward (the waste office): one token of `--program` per
    /// `--grams-per-token` deposited, within the program's cap per period.
    Reward {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        program: u64,
        #[arg(long)]
        grams_per_token: u64,
    },
    /// Actors: register (the waste office), show, list.
    #[command(subcommand)]
    Actor(ActorCmd),
    /// Devices: register (the waste office), revoke, show, list.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// A citizen's deposit, weighed and signed by the bin `--device` and co-signed by
    /// `--citizen` (both keystore names); sent by `--from` (the bin itself may send it).
    Deposit {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        device: String,
        #[arg(long)]
        citizen: String,
        #[arg(long)]
        grams: u64,
        /// The device's weighing counter (default: one more than the chain's).
        #[arg(long)]
        seq: Option<u64>,
    },
    /// Empty bins into a new batch (a licensed collector, `--from`). Each `--bin NAME` signs
    /// its fill's weighing; `NAME=GRAMS` overrides the fill the chain recorded.
    Collect {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long = "bin", required = true)]
        bins: Vec<String>,
        /// A hazardous batch's manifest (its SHA-256 goes on chain).
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// The giver's consent to a handover, signed offline: prints what the receiver passes to
    /// `handover --giver-key … --giver-signature …`.
    Consent {
        /// The holder's keystore name.
        #[arg(long)]
        from: String,
        #[arg(long)]
        batch: u64,
        /// The receiver (name or address).
        #[arg(long)]
        to: String,
    },
    /// Receive a batch (the receiver, `--from`), weighed on its `--bridge`, with the giver's
    /// consent: `--giver NAME` signs here, or `--giver-key` and `--giver-signature` from
    /// `consent`.
    Handover {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        batch: u64,
        #[arg(long)]
        bridge: String,
        /// The weighbridge's reading at receipt.
        #[arg(long)]
        grams: u64,
        #[arg(long, conflicts_with_all = ["giver_key", "giver_signature"])]
        giver: Option<String>,
        #[arg(long, requires = "giver_signature")]
        giver_key: Option<PublicKey>,
        #[arg(long, requires = "giver_key")]
        giver_signature: Option<String>,
        /// The bridge's weighing counter (default: one more than the chain's).
        #[arg(long)]
        seq: Option<u64>,
    },
    /// Split a batch held at a transfer station into parts (grams, comma-separated).
    Split {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        batch: u64,
        #[arg(long, value_delimiter = ',', required = true)]
        parts: Vec<u64>,
    },
    /// Merge batches of one stream held at a transfer station.
    Merge {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long, value_delimiter = ',', required = true)]
        batches: Vec<u64>,
    },
    /// Record a batch's final fate (the facility holding it): recycled (with `--material`),
    /// energy_recovery or landfill.
    Fate {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        batch: u64,
        #[arg(long)]
        kind: String,
        #[arg(long)]
        material: Option<String>,
        /// The process's output (recycled material, residue); mass in must cover it.
        #[arg(long)]
        output_grams: u64,
    },
    /// An actor's anomaly flags in a month (`yyyymm`, default this month, UTC).
    Flags {
        who: String,
        #[arg(long)]
        month: Option<u32>,
    },
    /// A facility's mass balance: all time, or in `--month`.
    Balance {
        who: String,
        #[arg(long)]
        month: Option<u32>,
    },
    /// Recycling rates of a district in a month, per stream (or `--stream`), with proofs
    /// checked against the genesis validators.
    Rates {
        #[arg(long)]
        district: String,
        #[arg(long)]
        stream: Option<String>,
        #[arg(long)]
        month: Option<u32>,
    },
    /// A batch's whole custody chain — the batches it came from and those it went into, each
    /// with its hops and fate — every record proven against the genesis validators.
    /// `--out` keeps the proofs for `verify-trace`.
    Trace {
        batch: u64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a saved trace offline against a genesis file.
    VerifyTrace {
        bundle: PathBuf,
        /// The genesis file (default: fetched from the node).
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// A citizen's deposits and where the batches holding them ended up.
    Deposits {
        who: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum ActorCmd {
    Register {
        #[command(flatten)]
        tx: TxOpts,
        /// The actor's account (name or address).
        #[arg(long)]
        account: String,
        /// collector, transfer_station, recycler, landfill or incinerator.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        /// A stream it is licensed for (repeat for more).
        #[arg(long = "licence", required = true)]
        licences: Vec<String>,
        /// Days the licences stay valid.
        #[arg(long, default_value_t = 365)]
        valid_days: u64,
    },
    Show {
        who: String,
    },
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Certify a device: `--device` a keystore name (made if missing) or `ed25519:<hex>`.
    Register {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        device: String,
        /// bin, centre or weighbridge.
        #[arg(long)]
        kind: String,
        /// The actor operating it (name or address).
        #[arg(long)]
        operator: String,
        #[arg(long)]
        district: String,
        #[arg(long)]
        stream: String,
    },
    Revoke {
        #[command(flatten)]
        tx: TxOpts,
        device: String,
    },
    Show {
        device: String,
    },
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// A saved trace: each batch record with its proof.
#[derive(Debug, Serialize, Deserialize)]
pub struct TraceBundle {
    pub version: u32,
    pub batch: u64,
    pub records: Vec<QueryResult>,
}

fn parse<T: std::str::FromStr<Err = urbis_runtime::kit::UnknownName>>(
    text: &str,
) -> anyhow::Result<T> {
    text.parse()
        .map_err(|e: urbis_runtime::kit::UnknownName| fail("invalid_argument", e.to_string()))
}

async fn query(ctx: &Ctx, path: &[&str]) -> anyhow::Result<Json> {
    crate::commands::module_value(ctx, MODULE, path).await
}

async fn list(ctx: &Ctx, path: &[&str], limit: usize) -> anyhow::Result<Vec<Json>> {
    crate::commands::module_items(ctx, MODULE, path, limit).await
}

fn found(v: Json, what: &str) -> anyhow::Result<Json> {
    if v.is_null() {
        Err(fail("not_found", format!("no {what}")))
    } else {
        Ok(v)
    }
}

fn this_month() -> u32 {
    urbis_runtime::kit::month_of_day(now_ms() / DAY_MS)
}

/// A device's secret (it signs its weighings).
fn device_secret(ctx: &Ctx, name: &str) -> anyhow::Result<SecretKey> {
    let ks = ctx.keystore()?;
    ctx.secret(&ks, name)
}

/// A device's public key: `ed25519:<hex>` or a keystore name.
fn device_key(ctx: &Ctx, text: &str) -> anyhow::Result<PublicKey> {
    if let Ok(k) = text.parse::<PublicKey>() {
        return Ok(k);
    }
    Ok(device_secret(ctx, text)?.public_key())
}

/// The device's record on chain.
async fn device_record(ctx: &Ctx, key: &PublicKey) -> anyhow::Result<Json> {
    found(
        query(ctx, &["device", &urbis_waste::keys::hex(key)]).await?,
        "such device",
    )
}

/// A weighing signed by the device `name` over `subject`, with its next sequence number.
async fn weigh(
    ctx: &Ctx,
    name: &str,
    grams: u64,
    seq: Option<u64>,
    subject: impl FnOnce(&Json) -> urbis_core::Hash,
) -> anyhow::Result<Weighing> {
    let secret = device_secret(ctx, name)?;
    let device = secret.public_key();
    let record = device_record(ctx, &device).await?;
    let seq = seq.unwrap_or_else(|| record["seq"].as_u64().unwrap_or(0) + 1);
    let signature = secret.sign(
        urbis_waste::WEIGHING_TAG,
        &urbis_waste::weighing_message(&device, seq, grams, &subject(&record)),
    );
    Ok(Weighing {
        device,
        seq,
        grams,
        signature,
    })
}

pub async fn waste(ctx: &Ctx, cmd: WasteCmd) -> anyhow::Result<()> {
    let (tx, call) = match cmd {
        WasteCmd::Tolerance {
            tx,
            stream,
            soft_bps,
            hard_bps,
            moisture_bps,
            hop_deadline_h,
        } => (
            tx,
            WasteCall::SetTolerance {
                stream: parse(&stream)?,
                tolerance: Tolerance {
                    soft_bps,
                    hard_bps,
                    moisture_bps,
                    hop_deadline_ms: hop_deadline_h.saturating_mul(3_600_000),
                },
            },
        ),
        WasteCmd::Reward {
            tx,
            program,
            grams_per_token,
        } => (
            tx,
            WasteCall::SetReward {
                program,
                grams_per_token,
            },
        ),
        WasteCmd::Actor(cmd) => return actor(ctx, cmd).await,
        WasteCmd::Device(cmd) => return device(ctx, cmd).await,
        WasteCmd::Deposit {
            tx,
            device,
            citizen,
            grams,
            seq,
        } => {
            let ks = ctx.keystore()?;
            let citizen = ctx.secret(&ks, &citizen)?;
            let addr = citizen.address();
            let weighing = weigh(ctx, &device, grams, seq, |_| citizen_subject(&addr)).await?;
            let citizen_signature = citizen.sign(
                urbis_waste::DEPOSIT_TAG,
                &urbis_waste::deposit_message(&weighing.device, weighing.seq, grams),
            );
            (
                tx,
                WasteCall::Deposit {
                    citizen: citizen.public_key(),
                    weighing,
                    citizen_signature,
                },
            )
        }
        WasteCmd::Collect { tx, bins, manifest } => {
            let mut weighings = Vec::with_capacity(bins.len());
            for b in &bins {
                let (name, grams) = match b.split_once('=') {
                    Some((n, g)) => (
                        n,
                        Some(g.parse::<u64>().map_err(|_| {
                            fail("invalid_argument", format!("--bin {b}: grams are digits"))
                        })?),
                    ),
                    None => (b.as_str(), None),
                };
                let key = device_key(ctx, name)?;
                let record = device_record(ctx, &key).await?;
                let grams = grams.unwrap_or_else(|| record["fill_grams"].as_u64().unwrap_or(0));
                weighings.push(
                    weigh(ctx, name, grams, None, |r| {
                        fill_subject(&key, r["epoch"].as_u64().unwrap_or(0))
                    })
                    .await?,
                );
            }
            let manifest = manifest.as_deref().map(file_hash).transpose()?;
            (
                tx,
                WasteCall::Collect {
                    weighings,
                    manifest,
                },
            )
        }
        WasteCmd::Consent { from, batch, to } => {
            let ks = ctx.keystore()?;
            let giver = ctx.secret(&ks, &from)?;
            let to = ctx.resolve_address(&to)?;
            let b = found(
                query(ctx, &["batch", &batch.to_string()]).await?,
                "such batch",
            )?;
            let grams = b["grams"].as_u64().unwrap_or(0);
            let sig = giver.sign(
                urbis_waste::HANDOVER_TAG,
                &urbis_waste::handover_message(batch, &to, grams),
            );
            return print_json(&json!({
                "batch": batch, "to": to, "grams": grams,
                "giver_key": giver.public_key(), "giver_signature": sig,
            }));
        }
        WasteCmd::Handover {
            tx,
            batch,
            bridge,
            grams,
            giver,
            giver_key,
            giver_signature,
            seq,
        } => {
            let to = ctx.resolve_address(&tx.from)?;
            let (giver_key, giver_signature) = match (giver, giver_key, giver_signature) {
                (Some(name), _, _) => {
                    let ks = ctx.keystore()?;
                    let g = ctx.secret(&ks, &name)?;
                    let b = found(
                        query(ctx, &["batch", &batch.to_string()]).await?,
                        "such batch",
                    )?;
                    let sent = b["grams"].as_u64().unwrap_or(0);
                    let sig = g.sign(
                        urbis_waste::HANDOVER_TAG,
                        &urbis_waste::handover_message(batch, &to, sent),
                    );
                    (g.public_key(), sig)
                }
                (None, Some(k), Some(s)) => (
                    k,
                    serde_json::from_value(json!(s))
                        .map_err(|e| fail("invalid_argument", format!("--giver-signature: {e}")))?,
                ),
                _ => {
                    return Err(fail(
                        "invalid_argument",
                        "give --giver, or --giver-key with --giver-signature",
                    ));
                }
            };
            let weighing = weigh(ctx, &bridge, grams, seq, |_| batch_subject(batch)).await?;
            (
                tx,
                WasteCall::Handover {
                    batch,
                    giver_key,
                    giver_signature,
                    weighing,
                },
            )
        }
        WasteCmd::Split { tx, batch, parts } => (tx, WasteCall::Split { batch, parts }),
        WasteCmd::Merge { tx, batches } => (tx, WasteCall::Merge { batches }),
        WasteCmd::Fate {
            tx,
            batch,
            kind,
            material,
            output_grams,
        } => (
            tx,
            WasteCall::Fate {
                batch,
                kind: parse::<FateKind>(&kind)?,
                material,
                output_grams,
            },
        ),
        WasteCmd::Flags { who, month } => {
            let a = ctx.resolve_address(&who)?.to_string();
            let m = month.unwrap_or_else(this_month).to_string();
            let flags = list(ctx, &["flag_list", &a, &m], 1000).await?;
            return print_json(&json!({"actor": a, "month": m, "flags": flags}));
        }
        WasteCmd::Balance { who, month } => {
            let a = ctx.resolve_address(&who)?.to_string();
            let v = match month {
                Some(m) => query(ctx, &["month_balance", &a, &m.to_string()]).await?,
                None => query(ctx, &["balance", &a]).await?,
            };
            return print_json(&json!({"actor": a, "month": month, "balance": v}));
        }
        WasteCmd::Rates {
            district,
            stream,
            month,
        } => return rates(ctx, &district, stream.as_deref(), month).await,
        WasteCmd::Trace { batch, out } => return trace(ctx, batch, out.as_deref()).await,
        WasteCmd::VerifyTrace { bundle, genesis } => {
            let b: TraceBundle =
                serde_json::from_value(crate::commands::read_json_file(&bundle, "trace bundle")?)
                    .map_err(|e| fail("malformed", format!("{}: {e}", bundle.display())))?;
            let genesis =
                crate::commands::trusted_genesis(ctx, genesis.as_deref(), "this check").await?;
            return print_json(&verify_trace(&b, &genesis)?);
        }
        WasteCmd::Deposits { who, limit } => return deposits(ctx, &who, limit).await,
    };
    send(ctx, &tx, Call::new(MODULE, &call)).await
}

async fn actor(ctx: &Ctx, cmd: ActorCmd) -> anyhow::Result<()> {
    let (tx, call) = match cmd {
        ActorCmd::Register {
            tx,
            account,
            kind,
            name,
            licences,
            valid_days,
        } => {
            let until_ms = now_ms().saturating_add(valid_days.saturating_mul(DAY_MS));
            let licences = licences
                .iter()
                .map(|s| {
                    Ok(Licence {
                        stream: parse::<Stream>(s)?,
                        until_ms,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            (
                tx,
                WasteCall::RegisterActor {
                    account: ctx.resolve_address(&account)?,
                    kind: parse(&kind)?,
                    name,
                    licences,
                },
            )
        }
        ActorCmd::Show { who } => {
            let a = ctx.resolve_address(&who)?.to_string();
            return print_json(&found(query(ctx, &["actor", &a]).await?, "such actor")?);
        }
        ActorCmd::List { limit } => {
            return print_json(&Json::Array(list(ctx, &["actors"], limit).await?));
        }
    };
    send(ctx, &tx, Call::new(MODULE, &call)).await
}

async fn device(ctx: &Ctx, cmd: DeviceCmd) -> anyhow::Result<()> {
    let (tx, call) = match cmd {
        DeviceCmd::Register {
            tx,
            device,
            kind,
            operator,
            district,
            stream,
        } => {
            if device.parse::<PublicKey>().is_err() {
                ensure_key(ctx, &device)?;
            }
            (
                tx,
                WasteCall::RegisterDevice {
                    key: device_key(ctx, &device)?,
                    kind: parse::<DeviceKind>(&kind)?,
                    operator: ctx.resolve_address(&operator)?,
                    district,
                    stream: parse(&stream)?,
                },
            )
        }
        DeviceCmd::Revoke { tx, device } => (
            tx,
            WasteCall::RevokeDevice {
                key: device_key(ctx, &device)?,
            },
        ),
        DeviceCmd::Show { device } => {
            return print_json(&device_record(ctx, &device_key(ctx, &device)?).await?);
        }
        DeviceCmd::List { limit } => {
            return print_json(&Json::Array(list(ctx, &["devices"], limit).await?));
        }
    };
    send(ctx, &tx, Call::new(MODULE, &call)).await
}

async fn rates(
    ctx: &Ctx,
    district: &str,
    stream: Option<&str>,
    month: Option<u32>,
) -> anyhow::Result<()> {
    let streams: Vec<Stream> = match stream {
        Some(s) => vec![parse(s)?],
        None => Stream::ALL.to_vec(),
    };
    let m = month.unwrap_or_else(this_month).to_string();
    let client = ctx.client()?;
    let genesis = client.genesis().await?;
    let runtime = urbis_registry::runtime(&genesis.chain_id);
    let mut out = Vec::new();
    for s in streams {
        let r = client
            .query(MODULE, &["rate", district, s.as_str(), &m], true)
            .await?;
        let v = urbis_client::verify_query_with(&runtime, &r, &genesis)
            .map_err(|e| fail("invalid_proof", e.message))?;
        if stream.is_some() || !r.value.is_null() {
            let mut row = serde_json::Map::new();
            row.insert("stream".into(), json!(s.as_str()));
            row.insert("proven_at_height".into(), json!(v.state_height));
            if let Some(Json::Object(fields)) = v.answer {
                row.extend(fields);
            }
            out.push(Json::Object(row));
        }
    }
    print_json(&json!({"district": district, "month": m, "verified": true, "streams": out}))
}

/// Batch `id` with its proof.
async fn proven_batch(client: &urbis_client::Client, id: u64) -> anyhow::Result<QueryResult> {
    let r = client
        .query(MODULE, &["batch", &id.to_string()], true)
        .await?;
    if r.value.is_null() {
        return Err(fail("not_found", format!("no batch {id}")));
    }
    Ok(r)
}

fn decode_batch(v: &urbis_client::VerifiedProof) -> anyhow::Result<Batch> {
    let bytes = v
        .value
        .as_deref()
        .ok_or_else(|| fail("invalid_proof", "a batch is proven absent"))?;
    borsh::from_slice(bytes).map_err(|e| fail("invalid_proof", format!("a batch: {e}")))
}

/// The lineage of `start`: its ancestors (through parents) and descendants (through
/// children), fetched with proofs.
async fn trace(ctx: &Ctx, start: u64, out: Option<&Path>) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let mut records: BTreeMap<u64, QueryResult> = BTreeMap::new();
    for up in [true, false] {
        let mut todo = vec![start];
        while let Some(id) = todo.pop() {
            if !up && id != start && records.contains_key(&id) {
                continue;
            }
            let r = match records.get(&id) {
                Some(r) => r.clone(),
                None => proven_batch(&client, id).await?,
            };
            let b: Batch = serde_json::from_value(r.value.clone())
                .map_err(|e| fail("malformed", format!("batch {id}: {e}")))?;
            records.insert(id, r);
            let next = if up { &b.parents } else { &b.children };
            todo.extend(next.iter().filter(|n| !records.contains_key(n)));
        }
    }
    let bundle = TraceBundle {
        version: 1,
        batch: start,
        records: records.into_values().collect(),
    };
    let genesis = client.genesis().await?;
    let report = verify_trace(&bundle, &genesis)?;
    if let Some(path) = out {
        let text =
            serde_json::to_string_pretty(&bundle).map_err(|e| fail("internal", e.to_string()))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| fail("io", format!("{}: {e}", path.display())))?;
    }
    print_json(&report)
}

/// Check every record of a trace against the genesis validators, and that the lineage is
/// whole: every parent of the batch and of its ancestors, every child of the batch and of its
/// descendants, is in the bundle. The report is built from the proven bytes only.
pub fn verify_trace(b: &TraceBundle, genesis: &urbis_runtime::Genesis) -> anyhow::Result<Json> {
    let runtime = urbis_registry::runtime(&genesis.chain_id);
    let mut batches: BTreeMap<u64, (Batch, u64)> = BTreeMap::new();
    let mut validators = 0;
    for r in &b.records {
        if r.module != MODULE || r.path.first().map(String::as_str) != Some("batch") {
            return Err(fail("invalid_proof", "a trace holds batch records only"));
        }
        let v = urbis_client::verify_query_with(&runtime, r, genesis)
            .map_err(|e| fail("invalid_proof", e.message))?;
        validators = v.validators;
        let batch = decode_batch(&v)?;
        batches.insert(batch.id, (batch, v.state_height));
    }
    let relation = |id: u64, up: bool| -> anyhow::Result<BTreeSet<u64>> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![id];
        while let Some(i) = todo.pop() {
            let (batch, _) = batches.get(&i).ok_or_else(|| {
                fail(
                    "invalid_proof",
                    format!("the trace lacks batch {i} of the lineage"),
                )
            })?;
            let next = if up { &batch.parents } else { &batch.children };
            for n in next {
                if seen.insert(*n) {
                    todo.push(*n);
                }
            }
        }
        Ok(seen)
    };
    let ancestors = relation(b.batch, true)?;
    let descendants = relation(b.batch, false)?;
    let mut steps = Vec::new();
    let mut chain = Vec::new();
    for (id, (batch, height)) in &batches {
        let role = if *id == b.batch {
            "this"
        } else if ancestors.contains(id) {
            "ancestor"
        } else if descendants.contains(id) {
            "descendant"
        } else {
            return Err(fail(
                "invalid_proof",
                format!("batch {id} is not in the lineage of {}", b.batch),
            ));
        };
        steps.extend(story(batch));
        chain.push(json!({"relation": role, "proven_at_height": height, "record": batch}));
    }
    Ok(json!({
        "valid": true,
        "batch": b.batch,
        "validators": validators,
        "steps": steps,
        "batches": chain,
    }))
}

/// The custody of one batch in words (grams, addresses, no personal data).
fn story(b: &Batch) -> Vec<String> {
    let s = b.stream.as_str();
    let mut out = Vec::new();
    if !b.sources.is_empty() {
        let districts: Vec<String> = b
            .origins
            .iter()
            .map(|(d, g)| format!("{d} {g} g"))
            .collect();
        out.push(format!(
            "batch {}: {} bins of {s} collected ({}) by {}",
            b.id,
            b.sources.len(),
            districts.join(", "),
            b.hops.first().map_or(b.holder, |h| h.from)
        ));
    } else if b.parents.len() == 1 {
        out.push(format!("batch {}: split from batch {}", b.id, b.parents[0]));
    } else if !b.parents.is_empty() {
        out.push(format!(
            "batch {}: merged from batches {:?}",
            b.id, b.parents
        ));
    }
    for h in &b.hops {
        out.push(format!(
            "batch {}: {} → {}: {} g sent, {} g weighed at receipt",
            b.id, h.from, h.to, h.sent_grams, h.received_grams
        ));
    }
    match (&b.fate, b.state) {
        (Some(f), _) => out.push(format!(
            "batch {}: {} by {} ({} g in{})",
            b.id,
            f.kind.as_str(),
            f.facility,
            b.grams,
            f.material
                .as_ref()
                .map(|m| format!(", {} g of {m} out", f.output_grams))
                .unwrap_or_default()
        )),
        (None, urbis_waste::BatchState::Split) => {
            out.push(format!("batch {}: split into {:?}", b.id, b.children))
        }
        (None, urbis_waste::BatchState::Merged) => {
            out.push(format!("batch {}: merged into {:?}", b.id, b.children))
        }
        _ => out.push(format!(
            "batch {}: {} g held by {}",
            b.id, b.grams, b.holder
        )),
    }
    out
}

/// A citizen's deposits: each names the bin's fill, whose collection names the batch; from
/// there, the batches it went into and their fates.
async fn deposits(ctx: &Ctx, who: &str, limit: usize) -> anyhow::Result<()> {
    let citizen: Address = ctx.resolve_address(who)?;
    let items = list(ctx, &["deposit_list", &citizen.to_string()], limit).await?;
    let mut out = Vec::new();
    let mut cache: BTreeMap<u64, Json> = BTreeMap::new();
    for d in items {
        let dev: PublicKey = serde_json::from_value(d["device"].clone())
            .map_err(|e| fail("malformed", e.to_string()))?;
        let epoch = d["epoch"].as_u64().unwrap_or(0);
        let batch = query(
            ctx,
            &["fill", &urbis_waste::keys::hex(&dev), &epoch.to_string()],
        )
        .await?
        .as_u64();
        let mut ended = Vec::new();
        let mut held = Vec::new();
        if let Some(b) = batch {
            let mut todo = vec![b];
            let mut seen = BTreeSet::new();
            while let Some(id) = todo.pop() {
                if !seen.insert(id) {
                    continue;
                }
                let v = match cache.get(&id) {
                    Some(v) => v.clone(),
                    None => {
                        let v = query(ctx, &["batch", &id.to_string()]).await?;
                        cache.insert(id, v.clone());
                        v
                    }
                };
                match v["state"].as_str() {
                    Some("final") => ended.push(json!({"batch": id, "fate": v["fate"]})),
                    Some("active") => held.push(json!({"batch": id, "holder": v["holder"]})),
                    _ => todo.extend(
                        v["children"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Json::as_u64),
                    ),
                }
            }
        }
        out.push(json!({"deposit": d, "batch": batch, "ended": ended, "in_custody": held}));
    }
    print_json(&json!({"citizen": citizen, "deposits": out}))
}
