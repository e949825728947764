//! `urbis mobility …`: vehicles and their telemetry anchors, position proofs, ride-sharing
//! and public transport (each a call of the `mobility` module; see its documentation for the
//! rules).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use urbis_client::QueryResult;
use urbis_core::{Call, Hash, PublicKey, merkle_path, merkle_root};
use urbis_mobility::telemetry::{Batch, BatchInclusion, Point};
use urbis_mobility::{Anchor, Fares, MobilityCall, RideRules, TapKind, Vehicle, VehicleClass};

use crate::cli::TxOpts;
use crate::commands::{Ctx, file_hash, now_ms, send, send_for_receipt};
use crate::fail;
use crate::identity::{ensure_key, load_wallet, print_json, random_hash};

const MODULE: &str = urbis_mobility::MODULE;

#[derive(Debug, Subcommand)]
pub enum MobilityCmd {
    /// Ride rules and the telemetry gap tolerance (mobility authority).
    Configure {
        #[command(flatten)]
        tx: TxOpts,
        /// The asset fares are paid in.
        #[arg(long)]
        asset: String,
        /// The credential type of a driving licence.
        #[arg(long, default_value = "urbis:driving-licence")]
        licence_vct: String,
        #[arg(long, default_value_t = 600)]
        accept_timeout_s: u64,
        /// After the offer's departure window.
        #[arg(long, default_value_t = 900)]
        pickup_timeout_s: u64,
        /// After pickup, the driver may complete alone.
        #[arg(long, default_value_t = 3600)]
        completion_timeout_s: u64,
        #[arg(long, default_value_t = 120)]
        free_cancel_s: u64,
        /// Parts per 10 000 of the fare.
        #[arg(long, default_value_t = 2000)]
        cancel_fee_bps: u32,
        /// A pause in a vehicle's anchoring longer than this is flagged as a gap.
        #[arg(long, default_value_t = 120)]
        gap_tolerance_s: u64,
    },
    /// Vehicles: register, show, list, gaps, retire.
    #[command(subcommand)]
    Vehicle(VehicleCmd),
    /// The on-board unit's side: sign a batch of positions.
    #[command(subcommand)]
    Telemetry(TelemetryCmd),
    /// Anchor the signed batches in a directory under one Merkle root (transport operator);
    /// on success they are archived with their root (what position proofs are made from).
    Anchor {
        #[command(flatten)]
        tx: TxOpts,
        /// Directory of batch files (`urbis mobility telemetry record`).
        #[arg(long)]
        batches: PathBuf,
        /// Where anchored batches are kept (`anchor-<operator>-<seq>.json`).
        #[arg(long)]
        archive: PathBuf,
    },
    /// A position proof: the fix at `--at` in its signed batch, the batch under its anchored
    /// root, the anchor and the vehicle in certified state. Verifies offline.
    ProvePosition {
        /// The vehicle id (hex).
        #[arg(long)]
        vehicle: Hash,
        /// Unix time in ms.
        #[arg(long)]
        at: u64,
        #[arg(long)]
        archive: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a position proof against a genesis file, offline.
    VerifyPosition {
        bundle: PathBuf,
        /// The genesis file to check proofs against (default: fetched from the node).
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// Ride-sharing: drivers, offers, rides, ratings.
    #[command(subcommand)]
    Ride(RideCmd),
    /// Public transport: fares, zones, validators, cards, taps, clearing, statistics.
    #[command(subcommand)]
    Transit(TransitCmd),
}

#[derive(Debug, Subcommand)]
pub enum VehicleCmd {
    /// Register a vehicle (mobility authority, or its operator). The id is the VIN's salted
    /// hash: the salt is read from `--salt-file`, or drawn and written there (mode 0600).
    Register {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        vin: String,
        #[arg(long)]
        salt_file: PathBuf,
        /// The operator (name or address).
        #[arg(long)]
        operator: String,
        /// car, taxi, bus, tram, train, bicycle, scooter, van, truck or other.
        #[arg(long)]
        class: String,
        /// The on-board unit: a keystore name with a device DID (`urbis did create --subject
        /// device`); its `NAME.vc` key signs telemetry.
        #[arg(long)]
        unit: String,
    },
    /// One vehicle.
    Show { vehicle: Hash },
    /// All vehicles.
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// A vehicle's anchoring gaps.
    Gaps { vehicle: Hash },
    /// Retire a vehicle (its operator or the authority).
    Retire {
        #[command(flatten)]
        tx: TxOpts,
        vehicle: Hash,
    },
}

#[derive(Debug, Subcommand)]
pub enum TelemetryCmd {
    /// Sign a batch of positions as the on-board unit. `--points` is a CSV file of
    /// `t_ms,lat,lon,speed_cm_s` lines (degrees with up to 7 decimals).
    Record {
        /// The unit's keystore name (its `NAME.vc` key signs).
        #[arg(long)]
        unit: String,
        #[arg(long)]
        vehicle: Hash,
        /// The unit's batch counter.
        #[arg(long)]
        seq: u64,
        #[arg(long)]
        points: PathBuf,
        /// The directory the batch file goes to.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum RideCmd {
    /// Register a driver's licence (mobility authority), after checking their licence
    /// credential: its issuer and status entry.
    Driver {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        driver: String,
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        status_list: u64,
        #[arg(long)]
        status_idx: u64,
        /// Days the licence stays valid.
        #[arg(long, default_value_t = 365)]
        valid_days: u64,
    },
    /// Offer seats (a licensed driver).
    Offer {
        #[command(flatten)]
        tx: TxOpts,
        /// A district code (never an address).
        #[arg(long)]
        zone: String,
        /// Departure from this many seconds from now…
        #[arg(long, default_value_t = 0)]
        depart_in_s: u64,
        /// …within a window this long.
        #[arg(long, default_value_t = 1800)]
        window_s: u64,
        #[arg(long)]
        seats: u8,
        /// Per passenger.
        #[arg(long)]
        fare: u64,
    },
    /// Withdraw an offer.
    Withdraw {
        #[command(flatten)]
        tx: TxOpts,
        offer: u64,
    },
    /// Request a seat: the fare goes into escrow; a pickup key is made for the ride
    /// (`<from>.pickup-<offer>`) and the pickup place is committed to with a fresh salt.
    Request {
        #[command(flatten)]
        tx: TxOpts,
        offer: u64,
        /// The pickup place (only its salted hash goes on chain).
        #[arg(long)]
        pickup: String,
    },
    /// The passenger's pickup code for a ride (show it to the driver).
    Code {
        /// The passenger's keystore name.
        #[arg(long)]
        from: String,
        ride: u64,
    },
    /// Accept a request (the driver).
    Accept {
        #[command(flatten)]
        tx: TxOpts,
        ride: u64,
    },
    /// Confirm pickup with the passenger's code (the driver).
    Pickup {
        #[command(flatten)]
        tx: TxOpts,
        ride: u64,
        #[arg(long)]
        code: String,
    },
    /// Confirm completion (either side; the driver alone after the completion timeout).
    Complete {
        #[command(flatten)]
        tx: TxOpts,
        ride: u64,
    },
    /// Cancel (either side; a late cancellation by the passenger pays the fee).
    Cancel {
        #[command(flatten)]
        tx: TxOpts,
        ride: u64,
    },
    /// Dispute an accepted or picked-up ride, with a file stating why.
    Dispute {
        #[command(flatten)]
        tx: TxOpts,
        ride: u64,
        #[arg(long)]
        reason: PathBuf,
    },
    /// Decide a dispute (mobility authority): what the driver gets, the rest refunded.
    Resolve {
        #[command(flatten)]
        tx: TxOpts,
        ride: u64,
        #[arg(long)]
        to_driver: u64,
        #[arg(long)]
        reason: PathBuf,
    },
    /// Rate the other side of a completed ride (1–5).
    Rate {
        #[command(flatten)]
        tx: TxOpts,
        ride: u64,
        #[arg(long)]
        stars: u8,
    },
    /// One ride.
    Show { ride: u64 },
    /// Offers.
    Offers {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// A driver's reputation (name or address), and their record as a passenger.
    Reputation { who: String },
}

#[derive(Debug, Subcommand)]
pub enum TransitCmd {
    /// The fare rules: `set --file FARES.json` (mobility authority) or `show`.
    #[command(subcommand)]
    Fares(FaresCmd),
    /// Set a fare zone and the operator serving it (mobility authority).
    Zone {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        zone: u16,
        #[arg(long)]
        name: String,
        #[arg(long)]
        operator: String,
    },
    /// Station validators: register (transport operator), revoke, list.
    #[command(subcommand)]
    Validator(ValidatorCmd),
    /// Cards: new, top-up, link, show.
    #[command(subcommand)]
    Card(CardCmd),
    /// A tap, as the station validator `--from` (the card `--card` signs it).
    Tap {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        card: String,
        /// in or out
        #[arg(long)]
        kind: String,
        /// When it happened (Unix ms; default: now).
        #[arg(long)]
        at: Option<u64>,
    },
    /// A day's journeys, revenue and operators' shares, and whether it is cleared (default:
    /// today, local time).
    Clearing { day: Option<u64> },
    /// Usage per hour of a stop or a line on a day (default: today).
    Stats {
        #[arg(long)]
        stop: Option<u32>,
        #[arg(long)]
        line: Option<u32>,
        #[arg(long)]
        day: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FaresCmd {
    Set {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        file: PathBuf,
    },
    Show,
}

#[derive(Debug, Subcommand)]
pub enum ValidatorCmd {
    Register {
        #[command(flatten)]
        tx: TxOpts,
        /// The validator's account (name or address): it signs its taps.
        #[arg(long)]
        device: String,
        #[arg(long)]
        stop: u32,
        #[arg(long)]
        line: u32,
        #[arg(long)]
        zone: u16,
    },
    Revoke {
        #[command(flatten)]
        tx: TxOpts,
        device: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum CardCmd {
    /// Make a card key NAME in the keystore.
    New { name: String },
    /// Put credit on a card (anyone; `--card` a keystore name or `ed25519:<hex>`).
    TopUp {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        card: String,
        #[arg(long)]
        amount: u64,
    },
    /// Send the card's transit rewards to `--to` (a citizen account; links the two on chain).
    Link {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        card: String,
        #[arg(long)]
        to: String,
    },
    /// A card's balance and counters, its open journey and its last journey.
    Show { card: String },
}

/// A position proof bundle (`urbis mobility prove-position`).
#[derive(Debug, Serialize, Deserialize)]
pub struct PositionBundle {
    pub version: u32,
    pub at_ms: u64,
    pub position: Point,
    /// The vehicle's record and the anchor's, each with its proof.
    pub vehicle: QueryResult,
    pub anchor: QueryResult,
    pub inclusion: BatchInclusion,
}

/// An archive file: the batches under one anchor, in leaf order.
#[derive(Debug, Serialize, Deserialize)]
struct Archived {
    operator: String,
    seq: u64,
    root: Hash,
    batches: Vec<Batch>,
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

/// Degrees with up to 7 decimals as an integer of 10⁻⁷ degrees (no floating point).
fn degrees_e7(text: &str) -> anyhow::Result<i32> {
    let bad = || fail("invalid_argument", format!("{text:?} is not a coordinate"));
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || frac.len() > 7
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let w: i64 = whole.parse().map_err(|_| bad())?;
    let f: i64 = format!("{frac:0<7}").parse().map_err(|_| bad())?;
    let v = w.checked_mul(10_000_000).ok_or_else(bad)? + f;
    i32::try_from(if neg { -v } else { v }).map_err(|_| bad())
}

fn read_points(path: &Path) -> anyhow::Result<Vec<Point>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail("io", format!("{}: {e}", path.display())))?;
    let mut points = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("t_ms") {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = || {
            fail(
                "invalid_argument",
                format!("line {}: expected t_ms,lat,lon,speed_cm_s", n + 1),
            )
        };
        let [t, lat, lon, speed] = cols.as_slice() else {
            return Err(bad());
        };
        points.push(Point {
            t_ms: t.parse().map_err(|_| bad())?,
            lat_e7: degrees_e7(lat)?,
            lon_e7: degrees_e7(lon)?,
            speed_cm_s: speed.parse().map_err(|_| bad())?,
        });
    }
    Ok(points)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    serde_json::from_value(crate::commands::read_json_file(path, what)?)
        .map_err(|e| fail("malformed", format!("{}: {e}", path.display())))
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| fail("internal", e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| fail("io", format!("{}: {e}", path.display())))
}

fn json_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail("io", format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn salt_from(path: &Path) -> anyhow::Result<[u8; 32]> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail("io", format!("{}: {e}", path.display())))?;
        return hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                fail(
                    "malformed",
                    format!("{}: not 64 hex digits", path.display()),
                )
            });
    }
    let salt = random_hash().0;
    crate::election::write_secret(path, hex::encode(salt).as_bytes())?;
    Ok(salt)
}

/// A card's public key: `ed25519:<hex>` or a keystore name.
fn card_key(ctx: &Ctx, text: &str) -> anyhow::Result<PublicKey> {
    if let Ok(k) = text.parse::<PublicKey>() {
        return Ok(k);
    }
    let ks = ctx.keystore()?;
    Ok(ctx.secret(&ks, text)?.public_key())
}

fn card_text(k: &PublicKey) -> String {
    urbis_mobility::keys::card_hex(k)
}

fn event_attr(receipt: &Option<urbis_core::Receipt>, kind: &str, attr: &str) -> Option<String> {
    receipt
        .as_ref()?
        .events
        .iter()
        .find(|e| e.kind == kind)?
        .attr(attr)
        .map(str::to_string)
}

fn today(fares: &Json) -> u64 {
    let offset = fares["utc_offset_min"].as_i64().unwrap_or(0);
    let local = (now_ms() as i64).saturating_add(offset * 60_000).max(0) as u64;
    local / urbis_mobility::fares::DAY_MS
}

pub async fn mobility(ctx: &Ctx, cmd: MobilityCmd) -> anyhow::Result<()> {
    let (tx, call) = match cmd {
        MobilityCmd::Configure {
            tx,
            asset,
            licence_vct,
            accept_timeout_s,
            pickup_timeout_s,
            completion_timeout_s,
            free_cancel_s,
            cancel_fee_bps,
            gap_tolerance_s,
        } => (
            tx,
            MobilityCall::Configure {
                rides: RideRules {
                    asset,
                    licence_vct,
                    accept_timeout_ms: accept_timeout_s.saturating_mul(1000),
                    pickup_timeout_ms: pickup_timeout_s.saturating_mul(1000),
                    completion_timeout_ms: completion_timeout_s.saturating_mul(1000),
                    free_cancel_ms: free_cancel_s.saturating_mul(1000),
                    cancel_fee_bps,
                },
                gap_tolerance_ms: gap_tolerance_s.saturating_mul(1000),
            },
        ),
        MobilityCmd::Vehicle(cmd) => return vehicle(ctx, cmd).await,
        MobilityCmd::Telemetry(TelemetryCmd::Record {
            unit,
            vehicle,
            seq,
            points,
            out,
        }) => return record(ctx, &unit, vehicle, seq, &points, &out),
        MobilityCmd::Anchor {
            tx,
            batches,
            archive,
        } => return anchor(ctx, tx, &batches, &archive).await,
        MobilityCmd::ProvePosition {
            vehicle,
            at,
            archive,
            out,
        } => return prove_position(ctx, vehicle, at, &archive, &out).await,
        MobilityCmd::VerifyPosition { bundle, genesis } => {
            let b: PositionBundle = read_json(&bundle, "position bundle")?;
            let genesis =
                crate::commands::trusted_genesis(ctx, genesis.as_deref(), "this check").await?;
            let v = verify_position(&b, &genesis)?;
            return print_json(&v);
        }
        MobilityCmd::Ride(cmd) => return ride(ctx, cmd).await,
        MobilityCmd::Transit(cmd) => return transit(ctx, cmd).await,
    };
    send(ctx, &tx, Call::new(MODULE, &call)).await
}

async fn vehicle(ctx: &Ctx, cmd: VehicleCmd) -> anyhow::Result<()> {
    let (tx, call) = match cmd {
        VehicleCmd::Register {
            tx,
            vin,
            salt_file,
            operator,
            class,
            unit,
        } => {
            let class: VehicleClass =
                class
                    .parse()
                    .map_err(|e: urbis_runtime::kit::UnknownName| {
                        fail("invalid_argument", e.to_string())
                    })?;
            let wallet = load_wallet(ctx)?;
            let entry = crate::identity::entry(&wallet, &unit)?;
            let ks = ctx.keystore()?;
            let unit_key = ctx.secret(&ks, &entry.vc)?.public_key();
            let id = urbis_mobility::vin_hash(&salt_from(&salt_file)?, &vin);
            println!("vehicle {}", id.to_hex());
            (
                tx,
                MobilityCall::RegisterVehicle {
                    vehicle: id,
                    operator: ctx.resolve_address(&operator)?,
                    class,
                    unit_did: entry.did.clone(),
                    unit_key,
                },
            )
        }
        VehicleCmd::Show { vehicle } => {
            return print_json(&found(
                query(ctx, &["vehicle", &vehicle.to_hex()]).await?,
                "such vehicle",
            )?);
        }
        VehicleCmd::List { limit } => {
            return print_json(&Json::Array(list(ctx, &["vehicles"], limit).await?));
        }
        VehicleCmd::Gaps { vehicle } => {
            return print_json(&Json::Array(
                list(ctx, &["gaps", &vehicle.to_hex()], 1000).await?,
            ));
        }
        VehicleCmd::Retire { tx, vehicle } => (tx, MobilityCall::RetireVehicle { vehicle }),
    };
    send(ctx, &tx, Call::new(MODULE, &call)).await
}

fn record(
    ctx: &Ctx,
    unit: &str,
    vehicle: Hash,
    seq: u64,
    points: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    let wallet = load_wallet(ctx)?;
    let entry = crate::identity::entry(&wallet, unit)?;
    let ks = ctx.keystore()?;
    let key = ctx.secret(&ks, &entry.vc)?;
    let batch = Batch::sign(&key, vehicle, seq, read_points(points)?);
    batch
        .check_shape()
        .map_err(|e| fail("invalid_argument", e.0))?;
    std::fs::create_dir_all(out).map_err(|e| fail("io", format!("{}: {e}", out.display())))?;
    let path = out.join(format!("{}-{seq:012}.json", vehicle.to_hex()));
    write_json(&path, &batch)?;
    println!("{}", path.display());
    Ok(())
}

async fn anchor(ctx: &Ctx, tx: TxOpts, dir: &Path, archive: &Path) -> anyhow::Result<()> {
    let files = json_files(dir)?;
    if files.is_empty() {
        return Err(fail(
            "invalid_argument",
            format!("no batch files in {}", dir.display()),
        ));
    }
    let mut batches: Vec<Batch> = files
        .iter()
        .map(|p| read_json(p, "batch"))
        .collect::<anyhow::Result<_>>()?;
    batches.sort_by_key(|b| (b.vehicle, b.seq));
    // Every batch must be the registered unit's: check before anchoring anything.
    let mut numbers = Vec::new();
    let mut vehicles: std::collections::BTreeMap<Hash, Vehicle> = Default::default();
    for b in &batches {
        let unit_key = match vehicles.get(&b.vehicle) {
            Some(v) => v.unit_key,
            None => {
                let v: Vehicle = serde_json::from_value(found(
                    query(ctx, &["vehicle", &b.vehicle.to_hex()]).await?,
                    "such vehicle",
                )?)
                .map_err(|e| fail("malformed", e.to_string()))?;
                numbers.push(v.number);
                let k = v.unit_key;
                vehicles.insert(b.vehicle, v);
                k
            }
        };
        b.check_shape().map_err(|e| fail("invalid_argument", e.0))?;
        b.check_signature(&unit_key).map_err(|e| {
            fail(
                "bad_signature",
                format!("batch {} of {}: {e}", b.seq, b.vehicle.to_hex()),
            )
        })?;
    }
    numbers.sort_unstable();
    let from_ms = batches.iter().map(|b| b.span().0).min().unwrap_or(0);
    let to_ms = batches.iter().map(|b| b.span().1).max().unwrap_or(0) + 1;
    let leaves: Vec<Hash> = batches.iter().map(Batch::leaf).collect();
    let root = merkle_root(&leaves);
    let operator = ctx.resolve_address(&tx.from)?;
    let call = MobilityCall::Anchor {
        root,
        batches: batches.len() as u32,
        from_ms,
        to_ms,
        vehicles: numbers,
    };
    let receipt = send_for_receipt(ctx, &tx, Call::new(MODULE, &call)).await?;
    let seq: u64 = event_attr(&receipt, "anchored", "seq")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| fail("internal", "the anchor's receipt names no sequence number"))?;
    std::fs::create_dir_all(archive)
        .map_err(|e| fail("io", format!("{}: {e}", archive.display())))?;
    let path = archive.join(format!("anchor-{operator}-{seq:012}.json"));
    write_json(
        &path,
        &Archived {
            operator: operator.to_string(),
            seq,
            root,
            batches,
        },
    )?;
    for f in files {
        std::fs::remove_file(&f).map_err(|e| fail("io", format!("{}: {e}", f.display())))?;
    }
    eprintln!("anchored {} as {}", root.to_hex(), path.display());
    Ok(())
}

async fn prove_position(
    ctx: &Ctx,
    vehicle: Hash,
    at: u64,
    archive: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    // The newest anchor whose batch of this vehicle covers the time.
    let mut found_in = None;
    for path in json_files(archive)?.into_iter().rev() {
        let a: Archived = read_json(&path, "archive")?;
        if let Some(i) = a
            .batches
            .iter()
            .position(|b| b.vehicle == vehicle && b.position_at(at).is_some())
        {
            found_in = Some((a, i));
            break;
        }
    }
    let (a, i) = found_in.ok_or_else(|| {
        fail(
            "not_found",
            format!(
                "no anchored batch of {} covers {at} in {}",
                vehicle.to_hex(),
                archive.display()
            ),
        )
    })?;
    let leaves: Vec<Hash> = a.batches.iter().map(Batch::leaf).collect();
    let inclusion = BatchInclusion {
        batch: a.batches[i].clone(),
        index: i as u32,
        path: merkle_path(&leaves, i).ok_or_else(|| fail("internal", "no path"))?,
    };
    let client = ctx.client()?;
    let v = client
        .query(MODULE, &["vehicle", &vehicle.to_hex()], true)
        .await?;
    let an = client
        .query(MODULE, &["anchor", &a.operator, &a.seq.to_string()], true)
        .await?;
    if an.value.is_null() {
        return Err(fail(
            "not_found",
            format!("anchor {} of {} is not on chain", a.seq, a.operator),
        ));
    }
    let position = inclusion
        .batch
        .position_at(at)
        .ok_or_else(|| fail("internal", "the batch does not cover the time"))?;
    let bundle = PositionBundle {
        version: 1,
        at_ms: at,
        position,
        vehicle: v,
        anchor: an,
        inclusion,
    };
    // Check what we hand out.
    let genesis = client.genesis().await?;
    verify_position(&bundle, &genesis)?;
    write_json(out, &bundle)?;
    print_json(&json!({"vehicle": vehicle, "at_ms": at, "position": position, "bundle": out}))
}

fn decode<T: borsh::BorshDeserialize>(
    v: &urbis_client::VerifiedProof,
    what: &str,
) -> anyhow::Result<T> {
    let bytes = v
        .value
        .as_deref()
        .ok_or_else(|| fail("invalid_proof", format!("the {what} is proven absent")))?;
    borsh::from_slice(bytes).map_err(|e| fail("invalid_proof", format!("the {what}: {e}")))
}

/// Check a position bundle: both records against the genesis validators, then the batch.
pub fn verify_position(
    b: &PositionBundle,
    genesis: &urbis_runtime::Genesis,
) -> anyhow::Result<Json> {
    let invalid = |e: urbis_core::UrbisError| fail("invalid_proof", e.message);
    if b.vehicle.module != MODULE
        || b.vehicle.path.first().map(String::as_str) != Some("vehicle")
        || b.anchor.module != MODULE
        || b.anchor.path.first().map(String::as_str) != Some("anchor")
    {
        return Err(fail(
            "invalid_proof",
            "the bundle's records are not a vehicle and an anchor",
        ));
    }
    let pv = urbis_client::verify_query(&b.vehicle, genesis).map_err(invalid)?;
    let pa = urbis_client::verify_query(&b.anchor, genesis).map_err(invalid)?;
    let vehicle: Vehicle = decode(&pv, "vehicle")?;
    let anchor: Anchor = decode(&pa, "anchor")?;
    let point = urbis_mobility::telemetry::check_position(&vehicle, &anchor, &b.inclusion, b.at_ms)
        .map_err(|e| fail("invalid_proof", e.0))?;
    if point != b.position {
        return Err(fail(
            "invalid_proof",
            "the stated position is not the batch's fix at that time",
        ));
    }
    Ok(json!({
        "valid": true,
        "vehicle": vehicle.id,
        "operator": vehicle.operator,
        "unit_did": vehicle.unit_did,
        "at_ms": b.at_ms,
        "position": point,
        "batch_seq": b.inclusion.batch.seq,
        "anchor": {"operator": anchor.operator, "seq": anchor.seq, "root": anchor.root,
                   "from_ms": anchor.from_ms, "to_ms": anchor.to_ms},
        "proven_at_height": pa.state_height.max(pv.state_height),
        "validators": pa.validators,
    }))
}

async fn ride(ctx: &Ctx, cmd: RideCmd) -> anyhow::Result<()> {
    let (tx, call) = match cmd {
        RideCmd::Driver {
            tx,
            driver,
            issuer,
            status_list,
            status_idx,
            valid_days,
        } => (
            tx,
            MobilityCall::RegisterDriver {
                driver: ctx.resolve_address(&driver)?,
                issuer,
                status_list,
                status_idx,
                valid_until_ms: now_ms().saturating_add(valid_days.saturating_mul(86_400_000)),
            },
        ),
        RideCmd::Offer {
            tx,
            zone,
            depart_in_s,
            window_s,
            seats,
            fare,
        } => {
            let from = now_ms().saturating_add(depart_in_s.saturating_mul(1000));
            (
                tx,
                MobilityCall::Offer {
                    zone,
                    depart_from_ms: from,
                    depart_until_ms: from.saturating_add(window_s.saturating_mul(1000)),
                    seats,
                    fare,
                },
            )
        }
        RideCmd::Withdraw { tx, offer } => (tx, MobilityCall::WithdrawOffer { offer }),
        RideCmd::Request { tx, offer, pickup } => {
            let key_name = format!("{}.pickup-{offer}", tx.from);
            ensure_key(ctx, &key_name)?;
            let ks = ctx.keystore()?;
            let pickup_key = ctx.secret(&ks, &key_name)?.public_key();
            let salt = random_hash();
            let commitment =
                urbis_core::sha256_domain(urbis_mobility::PLACE_TAG, &[&salt.0, pickup.as_bytes()]);
            let call = MobilityCall::Request {
                offer,
                pickup_key,
                pickup_commitment: commitment,
            };
            let receipt = send_for_receipt(ctx, &tx, Call::new(MODULE, &call)).await?;
            if let Some(ride) = event_attr(&receipt, "ride", "ride") {
                eprintln!(
                    "ride {ride}: pickup key {key_name}; the pickup place's salt is {} (keep it to prove the place)",
                    salt.to_hex()
                );
            }
            return Ok(());
        }
        RideCmd::Code { from, ride } => {
            let r = found(query(ctx, &["ride", &ride.to_string()]).await?, "such ride")?;
            let driver: urbis_core::Address = serde_json::from_value(r["driver"].clone())
                .map_err(|e| fail("malformed", e.to_string()))?;
            let offer = r["offer"].as_u64().unwrap_or_default();
            let ks = ctx.keystore()?;
            let key = ctx.secret(&ks, &format!("{from}.pickup-{offer}"))?;
            let code = key.sign(
                urbis_mobility::PICKUP_TAG,
                &urbis_mobility::pickup_message(ride, &driver),
            );
            println!("{}", code.to_hex());
            return Ok(());
        }
        RideCmd::Accept { tx, ride } => (tx, MobilityCall::Accept { ride }),
        RideCmd::Pickup { tx, ride, code } => {
            let code = serde_json::from_value(json!(code))
                .map_err(|e| fail("invalid_argument", format!("--code: {e}")))?;
            (tx, MobilityCall::Pickup { ride, code })
        }
        RideCmd::Complete { tx, ride } => (tx, MobilityCall::Complete { ride }),
        RideCmd::Cancel { tx, ride } => (tx, MobilityCall::Cancel { ride }),
        RideCmd::Dispute { tx, ride, reason } => (
            tx,
            MobilityCall::Dispute {
                ride,
                reason_hash: file_hash(&reason)?,
            },
        ),
        RideCmd::Resolve {
            tx,
            ride,
            to_driver,
            reason,
        } => (
            tx,
            MobilityCall::Resolve {
                ride,
                to_driver,
                reason_hash: file_hash(&reason)?,
            },
        ),
        RideCmd::Rate { tx, ride, stars } => (tx, MobilityCall::Rate { ride, stars }),
        RideCmd::Show { ride } => {
            return print_json(&found(
                query(ctx, &["ride", &ride.to_string()]).await?,
                "such ride",
            )?);
        }
        RideCmd::Offers { limit } => {
            return print_json(&Json::Array(list(ctx, &["offers"], limit).await?));
        }
        RideCmd::Reputation { who } => {
            let a = ctx.resolve_address(&who)?.to_string();
            let driver = query(ctx, &["reputation", &a]).await?;
            let rider = query(ctx, &["rider", &a]).await?;
            let licence = query(ctx, &["driver", &a]).await?;
            return print_json(
                &json!({"account": a, "as_driver": driver, "as_passenger": rider, "licence": licence}),
            );
        }
    };
    send(ctx, &tx, Call::new(MODULE, &call)).await
}

async fn transit(ctx: &Ctx, cmd: TransitCmd) -> anyhow::Result<()> {
    let (tx, call) = match cmd {
        TransitCmd::Fares(FaresCmd::Set { tx, file }) => {
            let fares: Fares = read_json(&file, "fares")?;
            (tx, MobilityCall::SetFares { fares })
        }
        TransitCmd::Fares(FaresCmd::Show) => {
            return print_json(&found(query(ctx, &["fares"]).await?, "fares set")?);
        }
        TransitCmd::Zone {
            tx,
            zone,
            name,
            operator,
        } => (
            tx,
            MobilityCall::SetZone {
                zone,
                name,
                operator: ctx.resolve_address(&operator)?,
            },
        ),
        TransitCmd::Validator(ValidatorCmd::Register {
            tx,
            device,
            stop,
            line,
            zone,
        }) => (
            tx,
            MobilityCall::RegisterValidator {
                device: ctx.resolve_address(&device)?,
                stop,
                line,
                zone,
            },
        ),
        TransitCmd::Validator(ValidatorCmd::Revoke { tx, device }) => (
            tx,
            MobilityCall::RevokeValidator {
                device: ctx.resolve_address(&device)?,
            },
        ),
        TransitCmd::Validator(ValidatorCmd::List) => {
            return print_json(&Json::Array(list(ctx, &["validators"], 1000).await?));
        }
        TransitCmd::Card(CardCmd::New { name }) => {
            ensure_key(ctx, &name)?;
            let ks = ctx.keystore()?;
            let k = ctx.secret(&ks, &name)?.public_key();
            return print_json(&json!({"card": name, "key": k}));
        }
        TransitCmd::Card(CardCmd::TopUp { tx, card, amount }) => (
            tx,
            MobilityCall::TopUp {
                card: card_key(ctx, &card)?,
                amount,
            },
        ),
        TransitCmd::Card(CardCmd::Link { tx, card, to }) => {
            let ks = ctx.keystore()?;
            let secret = ctx.secret(&ks, &card)?;
            let to = ctx.resolve_address(&to)?;
            let signature = secret.sign(
                urbis_mobility::LINK_TAG,
                &urbis_mobility::link_message(&secret.public_key(), &to),
            );
            (
                tx,
                MobilityCall::LinkRewards {
                    card: secret.public_key(),
                    to,
                    signature,
                },
            )
        }
        TransitCmd::Card(CardCmd::Show { card }) => {
            let k = card_text(&card_key(ctx, &card)?);
            let c = found(query(ctx, &["card", &k]).await?, "such card")?;
            let open = query(ctx, &["open", &k]).await?;
            let last = query(ctx, &["journey", &k]).await?;
            return print_json(&json!({"card": c, "open_journey": open, "last_journey": last}));
        }
        TransitCmd::Tap { tx, card, kind, at } => {
            let kind: TapKind = kind.parse().map_err(|e: urbis_runtime::kit::UnknownName| {
                fail("invalid_argument", e.to_string())
            })?;
            let ks = ctx.keystore()?;
            let secret = ctx.secret(&ks, &card)?;
            let device = ctx.resolve_address(&tx.from)?;
            let t_ms = at.unwrap_or_else(now_ms);
            let signature = secret.sign(
                urbis_mobility::TAP_TAG,
                &urbis_mobility::tap_message(&secret.public_key(), &device, kind, t_ms),
            );
            (
                tx,
                MobilityCall::Tap {
                    card: secret.public_key(),
                    kind,
                    t_ms,
                    signature,
                },
            )
        }
        TransitCmd::Clearing { day } => {
            let day = match day {
                Some(d) => d,
                None => today(&query(ctx, &["fares"]).await?),
            };
            return print_json(&found(
                query(ctx, &["day", &day.to_string()]).await?,
                &format!("transit on day {day}"),
            )?);
        }
        TransitCmd::Stats { stop, line, day } => {
            let day = match day {
                Some(d) => d,
                None => today(&query(ctx, &["fares"]).await?),
            };
            let (what, id) = match (stop, line) {
                (Some(s), None) => ("stop_day", s),
                (None, Some(l)) => ("line_day", l),
                _ => {
                    return Err(fail(
                        "invalid_argument",
                        "give --stop or --line (one of them)",
                    ));
                }
            };
            let hours = list(ctx, &[what, &id.to_string(), &day.to_string()], 24).await?;
            let (ins, outs) = hours.iter().fold((0, 0), |(i, o), h| {
                (
                    i + h["usage"]["tap_ins"].as_u64().unwrap_or(0),
                    o + h["usage"]["tap_outs"].as_u64().unwrap_or(0),
                )
            });
            return print_json(&json!({
                "day": day, what.trim_end_matches("_day"): id,
                "tap_ins": ins, "tap_outs": outs, "hours": hours,
            }));
        }
    };
    send(ctx, &tx, Call::new(MODULE, &call)).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::degrees_e7;

    #[test]
    fn coordinates_parse_without_floating_point() {
        assert_eq!(degrees_e7("48.8566").unwrap(), 488_566_000);
        assert_eq!(degrees_e7("-0.1278").unwrap(), -1_278_000);
        assert_eq!(degrees_e7("2.3522219").unwrap(), 23_522_219);
        assert_eq!(degrees_e7("180").unwrap(), 1_800_000_000);
        assert!(degrees_e7("1.23456789").is_err());
        assert!(degrees_e7("abc").is_err());
        assert!(degrees_e7("300").is_err());
        assert!(degrees_e7("").is_err());
    }
}
