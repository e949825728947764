//! `urbis dev`: run the single-validator development chain of `urbis-node`.

use std::path::PathBuf;
use std::time::Duration;

use urbis_client::{Keystore, Protection};
use urbis_node::dev::{DevOptions, DevReady};

use crate::cli::DevArgs;
use crate::fail;

/// Keystore name the dev chain's city-admin key is imported under.
pub const DEV_ADMIN_KEY: &str = "dev-admin";

pub fn run(args: DevArgs, keystore: Option<PathBuf>) -> anyhow::Result<()> {
    let opts = DevOptions {
        data_dir: args.data_dir,
        api: args.api,
        block_time: Duration::from_millis(args.block_time_ms),
        reset: args.reset,
        api_limits: Default::default(),
        shutdown: None,
    };
    let on_ready: Box<dyn FnOnce(&DevReady) + Send> =
        Box::new(move |ready: &DevReady| announce(ready, keystore));
    urbis_node::dev::run(opts, on_ready).map_err(|e| fail("dev", format!("{e:#}")))
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
