//! `urbis bench`: the end-to-end load benchmark of `urbis-bench`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use urbis_bench::{Options, Outcome, Scenario, StormConfig, Target};
use urbis_client::Keystore;

use crate::cli::{BenchArgs, Output, ScenarioArg};

/// Offered load of `--scenario api-storm` unless `--rate` says otherwise: a busy city's
/// transaction rate, well below the dev chain's capacity, so that the block rate measures the
/// chain's pace rather than a saturated node.
const STORM_RATE: f64 = 5_000.0;
use crate::fail;

pub fn run(
    args: BenchArgs,
    keystore: Option<PathBuf>,
    passphrase: &crate::passphrase::Source,
    output: Output,
) -> anyhow::Result<()> {
    let target = match (&args.target, args.validators) {
        (Some(url), _) => {
            let admin = match (&args.admin_seed, &args.admin_key) {
                (Some(seed), _) => urbis_bench::cluster::parse_seed(seed)
                    .map_err(|e| fail("invalid_argument", format!("--admin-seed: {e:#}")))?,
                (None, Some(name)) => {
                    let ks = match keystore {
                        Some(p) => Keystore::open(p)?,
                        None => Keystore::open_default()?,
                    };
                    let pass = if ks.is_sealed(name)? {
                        Some(passphrase.get(&format!("key {name:?}"))?)
                    } else {
                        None
                    };
                    ks.get(name, pass.as_deref().map(String::as_str))?
                }
                (None, None) => {
                    return Err(fail(
                        "invalid_argument",
                        "--target needs a city admin key: --admin-seed HEX or --admin-key NAME",
                    ));
                }
            };
            Target::Remote {
                url: url.clone(),
                admin,
            }
        }
        (None, Some(n)) if n > 1 => Target::Testnet(n as usize),
        (None, _) => Target::Dev,
    };
    let json = args.json || output == Output::Json;
    let (scenario, default_rate) = match args.scenario {
        ScenarioArg::DidResolve => return did_resolve(&args, json),
        ScenarioArg::Election => return election(&args, json),
        ScenarioArg::Permits => return permits(&args, json),
        ScenarioArg::EnergyDay => return energy_day(&args, json),
        ScenarioArg::Transit | ScenarioArg::Telemetry => return mobility(&args, json),
        ScenarioArg::Waste => return waste(&args, json),
        ScenarioArg::Portal => return portal(&args, json),
        ScenarioArg::Soak => return soak(&args, json),
        ScenarioArg::LandTransfers | ScenarioArg::BlobReplication => {
            return records(&args, json);
        }
        ScenarioArg::Load => (Scenario::Load, None),
        ScenarioArg::ApiStorm => (
            Scenario::ApiStorm(StormConfig {
                provers: args.storm_provers,
                block_fetchers: args.storm_fetchers,
                subscribers: args.storm_subscribers,
            }),
            Some(STORM_RATE),
        ),
    };
    let txs = args
        .txs
        .unwrap_or(if args.quick { 100_000 } else { 300_000 });
    let opts = Options {
        target,
        exe: std::env::current_exe().context("locate the urbis binary")?,
        txs,
        rate: args.rate.or(default_rate),
        concurrency: args.concurrency as usize,
        batch: args.batch as usize,
        block_time_ms: args.block_time_ms,
        departments: args.departments,
        citizens: args.citizens,
        merchants: args.merchants,
        ceiling_time: Duration::from_millis(if args.quick { 500 } else { 1000 }),
        seed: args.seed,
        mix: urbis_bench::workload::Mix::named(&args.mix)
            .ok_or_else(|| fail("invalid_argument", format!("unknown mix {:?}", args.mix)))?,
        scenario,
    };
    let outcome = urbis_bench::run(opts).map_err(|e| fail("bench", format!("{e:#}")))?;
    match outcome {
        Outcome::Load(r) if json => println!("{}", r.json()),
        Outcome::Load(r) => print!("{}", r.table()),
        Outcome::Storm(r) if json => println!("{}", r.json()),
        Outcome::Storm(r) => print!("{}", r.table()),
    }
    Ok(())
}

/// `--scenario land-transfers` and `--scenario blob-replication`.
fn records(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locate the urbis binary")?;
    let bench = |e: anyhow::Error| fail("bench", format!("{e:#}"));
    let (table, value) = if args.scenario == ScenarioArg::LandTransfers {
        let n = args
            .transfers
            .unwrap_or(if args.quick { 1_000 } else { 10_000 });
        let r = urbis_bench::records::land_transfers(exe, args.block_time_ms, n).map_err(bench)?;
        (r.table(), serde_json::to_value(&r))
    } else {
        let mib = args.blob_mib.unwrap_or(if args.quick { 64 } else { 256 });
        let r =
            urbis_bench::records::blob_replication(exe, args.block_time_ms, mib).map_err(bench)?;
        (r.table(), serde_json::to_value(&r))
    };
    if json {
        println!("{}", value.map_err(|e| fail("internal", e.to_string()))?);
    } else {
        print!("{table}");
    }
    Ok(())
}

/// Print a scenario's report as JSON or as its table.
fn print_report<R: serde::Serialize>(json: bool, report: &R, table: String) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_value(report).map_err(|e| fail("internal", e.to_string()))?
        );
    } else {
        print!("{table}");
    }
    Ok(())
}

/// `--scenario permits`.
fn permits(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locate the urbis binary")?;
    let n = args
        .permits
        .unwrap_or(if args.quick { 1_000 } else { 10_000 });
    let r = urbis_bench::permits::run(exe, args.block_time_ms, n)
        .map_err(|e| fail("bench", format!("{e:#}")))?;
    print_report(json, &r, r.table())
}

/// `--scenario energy-day`.
fn energy_day(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locate the urbis binary")?;
    let q = args.quick;
    let r = urbis_bench::energy::run(
        exe,
        args.block_time_ms,
        args.meters.unwrap_or(if q { 1_000 } else { 10_000 }),
        args.intervals.unwrap_or(if q { 12 } else { 96 }),
        args.interval_ms.unwrap_or(if q { 2_000 } else { 6_000 }),
    )
    .map_err(|e| fail("bench", format!("{e:#}")))?;
    print_report(json, &r, r.table())
}

/// `--scenario transit` and `--scenario telemetry`.
fn mobility(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locate the urbis binary")?;
    let q = args.quick;
    let bench = |e: anyhow::Error| fail("bench", format!("{e:#}"));
    if args.scenario == ScenarioArg::Transit {
        let r = urbis_bench::mobility::transit(
            exe,
            args.block_time_ms,
            args.cards.unwrap_or(if q { 2_000 } else { 20_000 }),
            args.rate.unwrap_or(2_500.0),
            args.seconds.unwrap_or(if q { 10 } else { 30 }),
        )
        .map_err(bench)?;
        print_report(json, &r, r.table())
    } else {
        let r = urbis_bench::mobility::telemetry(
            exe,
            args.block_time_ms,
            args.vehicles.unwrap_or(if q { 1_000 } else { 10_000 }),
            args.periods.unwrap_or(if q { 3 } else { 5 }),
            args.period_ms.unwrap_or(if q { 5_000 } else { 60_000 }),
        )
        .map_err(bench)?;
        print_report(json, &r, r.table())
    }
}

/// `--scenario waste`.
fn waste(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locate the urbis binary")?;
    let r = urbis_bench::waste::run(
        exe,
        args.block_time_ms,
        args.citizens,
        args.rate.unwrap_or(1_000.0),
        args.seconds.unwrap_or(if args.quick { 10 } else { 30 }),
    )
    .map_err(|e| fail("bench", format!("{e:#}")))?;
    print_report(json, &r, r.table())
}

/// `--scenario portal`.
fn portal(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locate the urbis binary")?;
    let r = urbis_bench::portal::run(
        exe,
        args.block_time_ms,
        args.rate.unwrap_or(500.0),
        args.seconds.unwrap_or(if args.quick { 10 } else { 30 }),
        args.clients,
    )
    .map_err(|e| fail("bench", format!("{e:#}")))?;
    print_report(json, &r, r.table())
}

/// `--scenario soak`.
fn soak(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locate the urbis binary")?;
    let r = urbis_bench::soak::run(
        exe,
        urbis_bench::soak::SoakOptions {
            block_time_ms: args.block_time_ms,
            rate: args.rate,
            seconds: args.seconds.unwrap_or(if args.quick { 30 } else { 600 }),
            probe_seconds: args
                .probe_seconds
                .unwrap_or(if args.quick { 5 } else { 20 }),
            departments: args.departments,
            citizens: args.citizens,
            merchants: args.merchants,
            seed: args.seed,
        },
    )
    .map_err(|e| fail("bench", format!("{e:#}")))?;
    print_report(json, &r, r.table())
}

/// `--scenario election`.
fn election(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locate the urbis binary")?;
    let n = args
        .ballots
        .unwrap_or(if args.quick { 10_000 } else { 100_000 });
    let r = urbis_bench::election::run(exe, args.block_time_ms, n)
        .map_err(|e| fail("bench", format!("{e:#}")))?;
    print_report(json, &r, r.table())
}

/// `--scenario did-resolve`.
fn did_resolve(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let report = urbis_bench::resolve::run(urbis_bench::resolve::ResolveOptions {
        exe: std::env::current_exe().context("locate the urbis binary")?,
        block_time_ms: args.block_time_ms,
        dids: args.dids,
        clients: args.clients,
        duration: Duration::from_secs(args.seconds.unwrap_or(if args.quick { 2 } else { 5 })),
    })
    .map_err(|e| fail("bench", format!("{e:#}")))?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| fail("internal", e.to_string()))?
        );
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
