//! `urbis dev`: a single-validator chain in a local data directory, ready in seconds.
//!
//! On first start it creates `dev-keys.json` (the validator key and a funded city-admin key,
//! mode 0600) and `genesis.json` in the data directory; later starts reuse them, so the chain
//! resumes where it stopped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use urbis_consensus::MempoolConfig;
use urbis_core::SecretKey;
use urbis_runtime::{Genesis, GenesisValidator};

use crate::node::{self, NodeSpec};

pub const DEV_CHAIN_ID: &str = "urbis-dev";

pub struct DevOptions {
    pub data_dir: Option<PathBuf>,
    pub api: SocketAddr,
    pub block_time: Duration,
    /// Delete the data directory first.
    pub reset: bool,
    /// The API's threads and limits.
    pub api_limits: crate::api::ApiLimits,
    /// Stops the chain when it resolves (besides Ctrl-C).
    pub shutdown: Option<futures::channel::oneshot::Receiver<()>>,
    /// Applied to a new chain's genesis (JSON) before its first block, with the admin key.
    pub genesis_patch: Option<GenesisPatch>,
}

/// A change to a new dev chain's genesis (e.g. the demo city's accounts).
pub type GenesisPatch = Box<dyn FnOnce(&mut serde_json::Value, &SecretKey) + Send>;

/// Handed to the caller once the dev chain's API is listening.
pub struct DevReady {
    pub api: SocketAddr,
    pub chain_id: String,
    pub admin: SecretKey,
    pub data_dir: PathBuf,
    pub genesis_path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct DevKeys {
    validator_seed: String,
    admin_seed: String,
}

/// `$XDG_DATA_HOME/urbis/dev`, else `$HOME/.local/share/urbis/dev`, else `./urbis-dev`.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("urbis").join("dev");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local/share/urbis/dev");
    }
    PathBuf::from("urbis-dev")
}

/// Write a file readable only by its owner.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write as _;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

fn parse_seed(hex_seed: &str) -> anyhow::Result<SecretKey> {
    let bytes = hex::decode(hex_seed).context("seed is not hex")?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("seed must be 32 bytes"))?;
    Ok(SecretKey::from_seed(seed))
}

/// Create (first start) or load the dev keys and genesis.
pub fn prepare(data_dir: &Path) -> anyhow::Result<(SecretKey, SecretKey, Genesis)> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("create {}", data_dir.display()))?;
    let keys_path = data_dir.join("dev-keys.json");
    let genesis_path = data_dir.join("genesis.json");
    let (validator, admin) = if keys_path.exists() {
        let keys: DevKeys = serde_json::from_slice(&std::fs::read(&keys_path)?)
            .with_context(|| format!("read {}", keys_path.display()))?;
        (
            parse_seed(&keys.validator_seed)?,
            parse_seed(&keys.admin_seed)?,
        )
    } else {
        let v = SecretKey::generate();
        let a = SecretKey::generate();
        let keys = DevKeys {
            validator_seed: hex::encode(v.seed()),
            admin_seed: hex::encode(a.seed()),
        };
        write_private(&keys_path, &serde_json::to_vec_pretty(&keys)?)?;
        (v, a)
    };
    let genesis = if genesis_path.exists() {
        serde_json::from_slice(&std::fs::read(&genesis_path)?)
            .with_context(|| format!("read {}", genesis_path.display()))?
    } else {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let g = dev_genesis(&validator, &admin, now);
        std::fs::write(&genesis_path, serde_json::to_vec_pretty(&g)?)?;
        g
    };
    Ok((validator, admin, genesis))
}

/// The dev chain's genesis: one validator, one city admin.
pub fn dev_genesis(validator: &SecretKey, admin: &SecretKey, genesis_time_ms: u64) -> Genesis {
    let mut modules = std::collections::BTreeMap::new();
    modules.insert(
        "accounts".to_string(),
        serde_json::json!({
            "accounts": [{
                "address": admin.address(),
                "roles": ["city_admin"],
                "label": "City of Urbis (dev admin)"
            }]
        }),
    );
    Genesis {
        epoch_length: None,
        chain_id: DEV_CHAIN_ID.to_string(),
        genesis_time_ms,
        validators: vec![GenesisValidator {
            name: "dev-validator".into(),
            public_key: validator.public_key(),
            address: String::new(),
        }],
        modules,
    }
}

/// Run the dev chain until Ctrl-C.
pub fn run(opts: DevOptions, on_ready: Box<dyn FnOnce(&DevReady) + Send>) -> anyhow::Result<()> {
    let data_dir = opts.data_dir.unwrap_or_else(default_data_dir);
    if opts.reset && data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("reset {}", data_dir.display()))?;
    }
    if let Some(patch) = opts.genesis_patch
        && !data_dir.join("genesis.json").exists()
    {
        let (_, admin, genesis) = prepare(&data_dir)?;
        let mut json = serde_json::to_value(&genesis)?;
        patch(&mut json, &admin);
        std::fs::write(
            data_dir.join("genesis.json"),
            serde_json::to_vec_pretty(&json)?,
        )?;
    }
    let (validator, admin, genesis) = prepare(&data_dir)?;
    let p2p = free_loopback_port()?;
    let spec = NodeSpec {
        data_dir: data_dir.clone(),
        genesis,
        role: node::Role::Validator {
            peers: vec![(validator.public_key(), p2p)],
            key: validator,
            p2p,
        },
        api: opts.api,
        block_time: opts.block_time,
        mempool: MempoolConfig::default(),
        api_limits: opts.api_limits,
        shutdown: opts.shutdown,
    };
    let genesis_path = data_dir.join("genesis.json");
    node::run(
        spec,
        Box::new(move |started| {
            on_ready(&DevReady {
                api: started.api,
                chain_id: started.chain_id.clone(),
                admin,
                data_dir,
                genesis_path,
            })
        }),
    )
}

/// The dev chain's validator talks only to itself, but the p2p stack still listens: pick a free
/// loopback port. The port is probed here and bound later by the p2p stack, so it is chosen
/// below Linux's ephemeral range (32768 and up): ports the kernel hands out meanwhile (the API's
/// `:0`, outgoing connections, other dev nodes started at the same time) cannot take it.
fn free_loopback_port() -> anyhow::Result<SocketAddr> {
    use std::hash::{BuildHasher as _, Hasher as _};
    for _ in 0..64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0);
        let port = 20_000 + (h.finish() % 12_000) as u16;
        if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return Ok(l.local_addr()?);
        }
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("find a free loopback port")?;
    Ok(l.local_addr()?)
}
