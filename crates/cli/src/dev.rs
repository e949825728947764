//! `urbis dev`: run the single-validator development chain of `urbis-node`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use urbis_bench::demo::DemoConfig;
use urbis_client::{Keystore, Protection};
use urbis_node::dev::{DevOptions, DevReady};

use crate::cli::DevArgs;
use crate::fail;

/// Keystore name the dev chain's city-admin key is imported under.
pub const DEV_ADMIN_KEY: &str = "dev-admin";

pub fn run(args: DevArgs, keystore: Option<PathBuf>) -> anyhow::Result<()> {
    let demo = args.demo.then_some(DemoConfig {
        rate: args.demo_rate,
        credentials_dir: None,
    });
    let data_dir = match (&args.data_dir, &demo) {
        (Some(d), _) => Some(d.clone()),
        // The demo city lives apart from the plain dev chain.
        (None, Some(_)) => Some(urbis_node::dev::default_data_dir().with_file_name("demo")),
        (None, None) => None,
    };
    if let (Some(dir), Some(_)) = (&data_dir, &demo) {
        check_demo_dir(dir, args.reset)?;
    }
    let opts = DevOptions {
        data_dir,
        api: args.api,
        block_time: Duration::from_millis(args.block_time_ms),
        reset: args.reset,
        api_limits: Default::default(),
        shutdown: None,
        genesis_patch: demo.as_ref().map(|_| {
            Box::new(|g: &mut serde_json::Value, admin: &urbis_core::SecretKey| {
                urbis_bench::demo::patch_genesis(g, admin)
            }) as urbis_node::dev::GenesisPatch
        }),
    };
    let on_ready: Box<dyn FnOnce(&DevReady) + Send> = Box::new(move |ready: &DevReady| {
        announce(ready, keystore);
        if let Some(config) = demo {
            start_demo(ready, config);
        }
    });
    urbis_node::dev::run(opts, on_ready).map_err(|e| fail("dev", format!("{e:#}")))
}

/// A demo needs a chain whose genesis is the demo city's: refuse a data directory holding
/// another chain (unless it is about to be reset).
fn check_demo_dir(dir: &std::path::Path, reset: bool) -> anyhow::Result<()> {
    let genesis = dir.join("genesis.json");
    if reset || !genesis.exists() {
        return Ok(());
    }
    let g: serde_json::Value = serde_json::from_slice(&std::fs::read(&genesis)?)
        .map_err(|e| fail("dev", format!("{}: {e}", genesis.display())))?;
    if !urbis_bench::demo::is_demo_genesis(&g) {
        return Err(fail(
            "dev",
            format!(
                "{} holds a chain started without --demo; add --reset to start the demo city there",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// Seed the demo city (first start) and run its simulator on a thread of its own.
fn start_demo(ready: &DevReady, mut config: DemoConfig) {
    let url = format!("http://{}", ready.api);
    let credentials = ready.data_dir.join("demo-credentials");
    config.credentials_dir = Some(credentials.clone());
    let resident = urbis_bench::demo::resident(999);
    println!(
        "  demo city    seeding, then about {} transactions per second; sign in at {url}/me as a resident\n               with the key {} and open their credential\n               {} (every demo key is public)",
        config.rate,
        hex::encode(resident.seed()),
        credentials.join("resident-1000.sd-jwt").display()
    );
    let admin = ready.admin.clone();
    let spawned = std::thread::Builder::new()
        .name("demo".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return eprintln!("demo: cannot start: {e}"),
            };
            let stop = Arc::new(AtomicBool::new(false));
            if let Err(e) = rt.block_on(urbis_bench::demo::run(&url, admin, config, stop)) {
                eprintln!("demo: stopped: {e:#}");
            }
        });
    if let Err(e) = spawned {
        eprintln!("demo: cannot start: {e}");
    }
}

/// Import the admin key (unless already there) and print how to reach the chain.
fn announce(ready: &DevReady, keystore: Option<PathBuf>) {
    let key_note = match import_admin(ready, keystore) {
        Ok(note) => note,
        Err(e) => {
            eprintln!("warning: could not import the admin key into the keystore: {e}");
            "(not imported)".to_string()
        }
    };
    let api = format!("http://{}", ready.api);
    println!("Urbis dev chain running (Ctrl-C to stop)");
    println!("  portal       {api}/");
    println!("  api          {api}");
    println!("  chain id     {}", ready.chain_id);
    println!("  admin        {}", ready.admin.address());
    println!("  admin key    {key_note}");
    println!("  data dir     {}", ready.data_dir.display());
    println!("  genesis      {}", ready.genesis_path.display());
    println!();
    println!("  try: urbis --node {api} status");
}

fn import_admin(ready: &DevReady, keystore: Option<PathBuf>) -> anyhow::Result<String> {
    let path = match keystore {
        Some(p) => p,
        None => Keystore::default_path()?,
    };
    let mut ks = Keystore::open(&path)?;
    let where_ = path.display();
    if ks.contains(DEV_ADMIN_KEY) {
        if ks.entry(DEV_ADMIN_KEY)?.public_key == ready.admin.public_key() {
            return Ok(format!("{DEV_ADMIN_KEY} (already in {where_})"));
        }
        eprintln!(
            "warning: {where_} already has a key named {DEV_ADMIN_KEY} with another seed; \
             it was not overwritten (this chain's admin seed is in {}; import it under another name)",
            ready.data_dir.join("dev-keys.json").display()
        );
        return Ok("(name taken by another key)".to_string());
    }
    // A throwaway key of a local chain: kept in the clear, and said so.
    ks.insert(DEV_ADMIN_KEY, ready.admin.clone(), Protection::Unencrypted)?;
    Ok(format!(
        "{DEV_ADMIN_KEY} (imported into {where_}, unencrypted: a throwaway dev key)"
    ))
}
