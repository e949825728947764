//! `urbis energy …`: the grid operator's meters and feeders, the market's orders, clearing and
//! settlement (each a call of the `energy` module; see its documentation for the rules).

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{Value as Json, json};
use urbis_core::{Call, Hash, PublicKey};
use urbis_energy::{EnergyCall, INTERVAL_MS, OrderSide, Value};

use crate::cli::TxOpts;
use crate::commands::{Ctx, file_hash, now_ms, send};
use crate::fail;
use crate::identity::print_json;

#[derive(Debug, Subcommand)]
pub enum EnergyCmd {
    /// The market's rules (grid operator): settlement asset, gate closure, reading window,
    /// prices per kWh in the asset's units, optional saving rewards.
    Configure {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        asset: String,
        /// Orders close this many seconds before their interval.
        #[arg(long, default_value_t = 300)]
        gate_closure_s: u64,
        /// Readings are taken until this many seconds after their interval; then it settles.
        #[arg(long, default_value_t = 7200)]
        settle_delay_s: u64,
        #[arg(long)]
        imbalance_price: u64,
        #[arg(long)]
        feed_in_price: u64,
        #[arg(long)]
        tariff_price: u64,
        /// A rewards program that pays for consuming below one's baseline.
        #[arg(long)]
        reward_program: Option<u64>,
        /// Tokens per kWh saved.
        #[arg(long, default_value_t = 10)]
        reward_per_kwh: u64,
        /// Periods in the baseline (the same interval that many periods back, averaged).
        #[arg(long, default_value_t = 4)]
        baseline_periods: u32,
        /// The period in intervals: a week (672) by default, 96 for a day.
        #[arg(long, default_value_t = urbis_energy::WEEK)]
        baseline_lag: u64,
    },
    /// Set a feeder and its limits per interval (grid operator).
    Feeder {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        feeder: u32,
        #[arg(long)]
        name: String,
        /// Most net energy the feeder sends into the substation per interval.
        #[arg(long)]
        max_export_wh: u64,
        /// Most net energy it takes from the substation per interval.
        #[arg(long)]
        max_import_wh: u64,
    },
    /// Meters: register, list, show, revoke.
    #[command(subcommand)]
    Meter(MeterCmd),
    /// Readings: submit (signed by the meter's device key), correct, list.
    #[command(subcommand)]
    Reading(ReadingCmd),
    /// Buy energy in an interval (the meter's trading account); price per kWh.
    Bid(OrderArgs),
    /// Sell energy in an interval (the meter's trading account); price per kWh.
    Ask(OrderArgs),
    /// A standing order: one order per interval from `--first-interval`, for each positive
    /// quantity in `--wh` (comma-separated Wh, 0 to skip an interval).
    Schedule {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        meter: Hash,
        /// buy or sell
        #[arg(long)]
        side: String,
        #[arg(long)]
        first_interval: u64,
        #[arg(long, value_delimiter = ',')]
        wh: Vec<u64>,
        #[arg(long)]
        price: u64,
    },
    /// Cancel an order before gate closure.
    Cancel {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        interval: u64,
        order: u64,
    },
    /// An interval's orders and its book.
    Orders { interval: u64 },
    /// An interval's clearing: the price and volume per feeder zone.
    Clearing { interval: u64 },
    /// Clearing prices and volumes over time (oldest first).
    Clearings {
        #[arg(long, default_value_t = 96)]
        limit: usize,
    },
    /// Settle an interval once every participant's reading is in (anyone).
    Settle {
        #[command(flatten)]
        tx: TxOpts,
        interval: u64,
    },
    /// The settlement statements of an account's meters for an interval, proven against the
    /// chain's genesis.
    Settlement {
        interval: u64,
        /// The trading account (name or address).
        #[arg(long)]
        account: String,
        /// The genesis file to check proofs against (default: fetched from the node).
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// Pay into the balancing fund (grid operator).
    Fund {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        amount: u64,
    },
    /// Take from the balancing fund (grid operator).
    Withdraw {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        amount: u64,
    },
    /// The interval a time falls in (default: now), with its gate closure.
    Interval {
        /// Minutes from now.
        #[arg(long, default_value_t = 0)]
        in_minutes: u64,
    },
}

#[derive(Debug, clap::Args)]
pub struct OrderArgs {
    #[command(flatten)]
    tx: TxOpts,
    /// The meter's id (hex).
    #[arg(long)]
    meter: Hash,
    #[arg(long)]
    interval: u64,
    #[arg(long)]
    wh: u64,
    #[arg(long)]
    price: u64,
}

#[derive(Debug, Subcommand)]
pub enum MeterCmd {
    /// Register a meter (grid operator). Draws a secret salt, derives the meter's
    /// pseudonymous id from it and the serial, commits to the owner, and writes the salt to
    /// `--out` for the owner (mode 0600): only they and the operator can link the meter to the
    /// household.
    Register {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        serial: String,
        /// The owner (name or address): only a commitment goes on chain.
        #[arg(long)]
        owner: String,
        /// The meter's trading account (name or address), a key made for this meter.
        #[arg(long)]
        account: String,
        /// The device's public key, or the name of its key in the keystore.
        #[arg(long)]
        device: String,
        #[arg(long)]
        feeder: u32,
        #[arg(long)]
        max_import_w: u64,
        #[arg(long)]
        max_export_w: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check that a meter belongs to an owner (anyone, given the salt the owner shows): the
    /// chain's owner commitment must open to `--owner` with `--salt`, and, with `--serial`, the
    /// meter id must derive from that serial. `--file` takes all three from the owner's file.
    Owner {
        #[arg(long)]
        meter: Hash,
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        salt: Option<String>,
        #[arg(long)]
        serial: Option<String>,
    },
    /// All meters.
    List,
    /// One meter.
    Show { meter: Hash },
    /// Revoke a meter (grid operator), with the file stating why.
    Revoke {
        #[command(flatten)]
        tx: TxOpts,
        meter: Hash,
        #[arg(long)]
        reason: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReadingCmd {
    /// Submit interval values signed by the meter's device key: IMPORT_WH:EXPORT_WH for
    /// consecutive intervals from `--first-interval`.
    Submit {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        meter: Hash,
        /// The device's key in the keystore.
        #[arg(long)]
        device: String,
        #[arg(long)]
        first_interval: u64,
        #[arg(long, value_delimiter = ',')]
        values: Vec<String>,
    },
    /// Correct a reading (grid operator), with the file stating why.
    Correct {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        meter: Hash,
        #[arg(long)]
        interval: u64,
        /// IMPORT_WH:EXPORT_WH
        #[arg(long)]
        value: String,
        #[arg(long)]
        reason: PathBuf,
    },
    /// A meter's readings.
    List {
        meter: Hash,
        #[arg(long, default_value_t = 96)]
        limit: usize,
    },
}

fn parse_value(text: &str) -> anyhow::Result<Value> {
    let bad = || {
        fail(
            "invalid_argument",
            format!("{text:?} is not IMPORT_WH:EXPORT_WH"),
        )
    };
    let (i, e) = text.split_once(':').ok_or_else(bad)?;
    Ok(Value {
        import_wh: i.trim().parse().map_err(|_| bad())?,
        export_wh: e.trim().parse().map_err(|_| bad())?,
    })
}

fn device_key(ctx: &Ctx, text: &str) -> anyhow::Result<PublicKey> {
    if let Ok(k) = text.parse::<PublicKey>() {
        return Ok(k);
    }
    let ks = ctx.keystore()?;
    Ok(ctx.secret(&ks, text)?.public_key())
}

async fn query(ctx: &Ctx, path: &[&str]) -> anyhow::Result<Json> {
    crate::commands::module_value(ctx, urbis_energy::MODULE, path).await
}

async fn list(ctx: &Ctx, path: &[&str], limit: usize) -> anyhow::Result<Vec<Json>> {
    crate::commands::module_items(ctx, urbis_energy::MODULE, path, limit).await
}

pub async fn energy(ctx: &Ctx, cmd: EnergyCmd) -> anyhow::Result<()> {
    let (tx, call) = match cmd {
        EnergyCmd::Configure {
            tx,
            asset,
            gate_closure_s,
            settle_delay_s,
            imbalance_price,
            feed_in_price,
            tariff_price,
            reward_program,
            reward_per_kwh,
            baseline_periods,
            baseline_lag,
        } => (
            tx,
            EnergyCall::Configure {
                asset,
                gate_closure_ms: gate_closure_s.saturating_mul(1000),
                settle_delay_ms: settle_delay_s.saturating_mul(1000),
                imbalance_price,
                feed_in_price,
                tariff_price,
                reward: reward_program.map(|program| urbis_energy::RewardRule {
                    program,
                    per_kwh: reward_per_kwh,
                    periods: baseline_periods,
                    lag_intervals: baseline_lag,
                }),
            },
        ),
        EnergyCmd::Feeder {
            tx,
            feeder,
            name,
            max_export_wh,
            max_import_wh,
        } => (
            tx,
            EnergyCall::SetFeeder {
                feeder,
                name,
                max_export_wh,
                max_import_wh,
            },
        ),
        EnergyCmd::Meter(MeterCmd::Register {
            tx,
            serial,
            owner,
            account,
            device,
            feeder,
            max_import_w,
            max_export_w,
            out,
        }) => {
            let owner = ctx.resolve_address(&owner)?;
            let account = ctx.resolve_address(&account)?;
            let key = device_key(ctx, &device)?;
            let mut salt = [0u8; 32];
            getrandom::fill(&mut salt).map_err(|e| fail("internal", e.to_string()))?;
            let meter = urbis_energy::meter_id(&salt, &serial);
            let commitment = urbis_energy::owner_commitment(&salt, &owner);
            let file = json!({
                "meter": meter,
                "serial": serial,
                "salt": hex::encode(salt),
                "owner": owner,
                "account": account,
                "owner_commitment": commitment,
            });
            crate::election::write_secret(
                &out,
                serde_json::to_string_pretty(&file)
                    .map_err(|e| fail("internal", e.to_string()))?
                    .as_bytes(),
            )?;
            println!("meter {}", meter.to_hex());
            (
                tx,
                EnergyCall::RegisterMeter {
                    meter,
                    key,
                    account,
                    feeder,
                    max_import_w,
                    max_export_w,
                    owner_commitment: commitment,
                },
            )
        }
        EnergyCmd::Meter(MeterCmd::Owner {
            meter,
            file,
            owner,
            salt,
            serial,
        }) => return meter_owner(ctx, meter, file, owner, salt, serial).await,
        EnergyCmd::Meter(MeterCmd::List) => {
            return print_json(&Json::Array(list(ctx, &["meters"], 1000).await?));
        }
        EnergyCmd::Meter(MeterCmd::Show { meter }) => {
            return print_json(&query(ctx, &["meter", &meter.to_hex()]).await?);
        }
        EnergyCmd::Meter(MeterCmd::Revoke { tx, meter, reason }) => (
            tx,
            EnergyCall::RevokeMeter {
                meter,
                reason_hash: file_hash(&reason)?,
            },
        ),
        EnergyCmd::Reading(ReadingCmd::Submit {
            tx,
            meter,
            device,
            first_interval,
            values,
        }) => {
            let values = values
                .iter()
                .map(|v| parse_value(v))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let ks = ctx.keystore()?;
            let signature = ctx.secret(&ks, &device)?.sign(
                urbis_energy::READING_TAG,
                &urbis_energy::reading_message(&meter, first_interval, &values),
            );
            (
                tx,
                EnergyCall::Readings {
                    meter,
                    first_interval,
                    values,
                    signature,
                },
            )
        }
        EnergyCmd::Reading(ReadingCmd::Correct {
            tx,
            meter,
            interval,
            value,
            reason,
        }) => (
            tx,
            EnergyCall::Correct {
                meter,
                interval,
                value: parse_value(&value)?,
                reason_hash: file_hash(&reason)?,
            },
        ),
        EnergyCmd::Reading(ReadingCmd::List { meter, limit }) => {
            return print_json(&Json::Array(
                list(ctx, &["readings", &meter.to_hex()], limit).await?,
            ));
        }
        EnergyCmd::Bid(o) => order(o, OrderSide::Buy),
        EnergyCmd::Ask(o) => order(o, OrderSide::Sell),
        EnergyCmd::Cancel {
            tx,
            interval,
            order,
        } => (tx, EnergyCall::Cancel { interval, order }),
        EnergyCmd::Orders { interval } => {
            let i = interval.to_string();
            let book = query(ctx, &["book", &i]).await?;
            let orders = list(ctx, &["orders", &i], 1000).await?;
            return print_json(&json!({"book": book, "orders": orders}));
        }
        EnergyCmd::Clearing { interval } => {
            let c = query(ctx, &["clearing", &interval.to_string()]).await?;
            if c.is_null() {
                return Err(fail(
                    "not_found",
                    format!("interval {interval} has not cleared"),
                ));
            }
            return print_json(&c);
        }
        EnergyCmd::Clearings { limit } => {
            let all = list(ctx, &["clearings"], limit).await?;
            let series: Vec<Json> = all
                .iter()
                .map(|c| {
                    json!({"interval": c["interval"], "price": c["price"],
                           "volume_wh": c["volume_wh"]})
                })
                .collect();
            return print_json(&Json::Array(series));
        }
        EnergyCmd::Settle { tx, interval } => (tx, EnergyCall::Settle { interval }),
        EnergyCmd::Schedule {
            tx,
            meter,
            side,
            first_interval,
            wh,
            price,
        } => {
            let side = match side.as_str() {
                "buy" => OrderSide::Buy,
                "sell" => OrderSide::Sell,
                other => {
                    return Err(fail(
                        "invalid_argument",
                        format!("--side is buy or sell, not {other:?}"),
                    ));
                }
            };
            (
                tx,
                EnergyCall::Schedule {
                    meter,
                    first_interval,
                    side,
                    quantities: wh,
                    price,
                },
            )
        }
        EnergyCmd::Settlement {
            interval,
            account,
            genesis,
        } => return settlement(ctx, interval, &account, genesis).await,
        EnergyCmd::Fund { tx, amount } => (tx, EnergyCall::Fund { amount }),
        EnergyCmd::Withdraw { tx, amount } => (tx, EnergyCall::Withdraw { amount }),
        EnergyCmd::Interval { in_minutes } => {
            let len = query(ctx, &["interval_ms"])
                .await?
                .as_u64()
                .unwrap_or(INTERVAL_MS);
            let at = now_ms().saturating_add(in_minutes.saturating_mul(60_000));
            let i = urbis_energy::interval_of(at, len);
            let gate = query(ctx, &["config"]).await?["gate_closure_ms"]
                .as_u64()
                .unwrap_or(urbis_energy::DEFAULT_GATE_CLOSURE_MS);
            return print_json(&json!({
                "interval": i,
                "interval_ms": len,
                "starts_ms": i * len,
                "ends_ms": (i + 1) * len,
                "gate_closes_ms": (i * len).saturating_sub(gate),
            }));
        }
    };
    send(ctx, &tx, Call::new(urbis_energy::MODULE, &call)).await
}

async fn meter_owner(
    ctx: &Ctx,
    meter: Hash,
    file: Option<PathBuf>,
    owner: Option<String>,
    salt: Option<String>,
    serial: Option<String>,
) -> anyhow::Result<()> {
    let from_file = match &file {
        Some(path) => crate::commands::read_json_file(path, "meter file")?,
        None => Json::Null,
    };
    let field = |given: Option<String>, name: &str| {
        given
            .or_else(|| from_file[name].as_str().map(str::to_string))
            .ok_or_else(|| {
                fail(
                    "invalid_argument",
                    format!("--{name} (or --file) is needed"),
                )
            })
    };
    let owner = ctx.resolve_address(&field(owner, "owner")?)?;
    let salt_hex = field(salt, "salt")?;
    let salt: [u8; 32] = hex::decode(&salt_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| fail("invalid_argument", "the salt is 64 hex digits"))?;
    let serial = serial.or_else(|| from_file["serial"].as_str().map(str::to_string));
    let m = query(ctx, &["meter", &meter.to_hex()]).await?;
    if m.is_null() {
        return Err(fail("not_found", format!("no meter {}", meter.to_hex())));
    }
    let commitment = urbis_energy::owner_commitment(&salt, &owner);
    let owner_ok = m["owner_commitment"] == json!(commitment);
    let serial_ok = serial
        .as_ref()
        .map(|s| urbis_energy::meter_id(&salt, s) == meter);
    print_json(&json!({
        "meter": meter,
        "owner": owner,
        "owner_matches": owner_ok,
        "serial_matches": serial_ok,
    }))?;
    if owner_ok && serial_ok != Some(false) {
        Ok(())
    } else {
        Err(fail(
            "invalid_proof",
            "the salt does not open this meter's commitment to that owner (or serial)",
        ))
    }
}

fn order(o: OrderArgs, side: OrderSide) -> (TxOpts, EnergyCall) {
    (
        o.tx,
        EnergyCall::Order {
            meter: o.meter,
            interval: o.interval,
            side,
            qty_wh: o.wh,
            price: o.price,
        },
    )
}

async fn settlement(
    ctx: &Ctx,
    interval: u64,
    account: &str,
    genesis: Option<PathBuf>,
) -> anyhow::Result<()> {
    let account = ctx.resolve_address(account)?;
    let client = ctx.client()?;
    let genesis =
        crate::commands::trusted_genesis(ctx, genesis.as_deref(), "the statements' check").await?;
    let meters = client
        .query_list(
            urbis_energy::MODULE,
            &["account", &account.to_string()],
            100,
            None,
        )
        .await?;
    let mut out = Vec::new();
    for item in meters.items {
        let meter = item.as_str().unwrap_or_default().to_string();
        let answer = client
            .query(
                urbis_energy::MODULE,
                &["statement", &interval.to_string(), &meter],
                true,
            )
            .await?;
        let proven = urbis_client::verify_query(&answer, &genesis)
            .map_err(|e| fail("invalid_proof", e.message.clone()))?;
        if answer.value.is_null() {
            continue;
        }
        out.push(json!({
            "meter": meter,
            "statement": answer.value,
            "proven_at_height": proven.state_height,
        }));
    }
    if out.is_empty() {
        return Err(fail(
            "not_found",
            format!("{account} has no statement for interval {interval} (settled yet?)"),
        ));
    }
    print_json(&Json::Array(out))
}
