//! Consortium set-up: validator keys, node configuration files, genesis assembly, local testnets.
//!
//! Files:
//! - `node.toml`: where a node keeps its data, its genesis and key files, and which addresses
//!   its API and p2p endpoint listen on (relative paths are relative to the config file);
//! - `validator.key`: the validator's 32-byte Ed25519 seed (mode 0600), sealed with a
//!   passphrase (JSON: `{"version": 1, "public_key": "ed25519:…", "crypto": {…}}`, see
//!   [`urbis_keyfile`], associated data `urbis/validator-key/v1 || public key`), or, for
//!   throwaway keys of local testnets, 64 hex digits in the clear;
//! - `validator.json`: the public part (name, public key, p2p address) that operators exchange to
//!   assemble the genesis file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use urbis_consensus::MempoolConfig;
use urbis_core::{Address, PublicKey, SecretKey};
use urbis_runtime::{Genesis, GenesisValidator};

use crate::dev::write_private;
use crate::node::{NodeSpec, Role};

/// What a node does: votes, or follows.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// A member of the validator set: votes, proposes, keeps the blobs.
    #[default]
    Validator,
    /// A full node: follows the chain through other nodes' APIs, verifies every certificate
    /// against the genesis validator set, executes every block and serves the API, proofs and
    /// the portal; never votes (see `docs/full-nodes.md`).
    Full,
}

/// `node.toml`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Node name, used in logs.
    pub name: String,
    /// `"validator"` (the default) or `"full"`.
    #[serde(default)]
    pub role: NodeRole,
    pub data_dir: PathBuf,
    pub genesis: PathBuf,
    /// Validators: the consensus key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator_key: Option<PathBuf>,
    /// HTTP API listen address.
    pub api: SocketAddr,
    /// Validators: the p2p listen address (must match this validator's address in the genesis
    /// file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<SocketAddr>,
    /// Full nodes: base URLs of the node APIs to follow (validators or other full nodes; none
    /// is trusted, each is tried in turn when one fails), e.g. `"http://10.0.0.5:8545"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow: Vec<String>,
    /// Full nodes: on the first start (an empty data directory), take the state at a recent
    /// certified height from the nodes followed instead of replaying the chain.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub state_sync: bool,
    #[serde(default = "default_block_time_ms")]
    pub block_time_ms: u64,
    /// File whose first line is the passphrase of a sealed `validator_key` (for service
    /// managers; otherwise `urbis node` reads `--passphrase-file`, $URBIS_PASSPHRASE or asks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_file: Option<PathBuf>,
    /// The API's threads and limits.
    #[serde(default)]
    pub api_limits: crate::api::ApiLimits,
}

fn default_block_time_ms() -> u64 {
    500
}

/// `validator.json`: what a validator operator hands to whoever assembles the genesis.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ValidatorPublic {
    pub name: String,
    pub public_key: PublicKey,
    pub p2p: SocketAddr,
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Associated data of a sealed validator key: this tag, then the raw public key.
const VALIDATOR_KEY_TAG: &[u8] = b"urbis/validator-key/v1";

fn validator_aad(pk: &PublicKey) -> Vec<u8> {
    let mut aad = VALIDATOR_KEY_TAG.to_vec();
    aad.extend_from_slice(pk.raw());
    aad
}

/// A sealed `validator.key`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedKeyFile {
    version: u32,
    public_key: PublicKey,
    crypto: urbis_keyfile::Sealed,
}

/// How `validator.key` is written.
#[derive(Clone, Copy, Debug)]
pub enum KeyProtection<'a> {
    Passphrase(&'a str),
    /// In the clear (local testnets' throwaway keys).
    Plaintext,
}

/// Write a validator key file (mode 0600).
pub fn write_key(
    path: &Path,
    key: &SecretKey,
    protection: KeyProtection<'_>,
) -> anyhow::Result<()> {
    let text = match protection {
        KeyProtection::Plaintext => hex::encode(key.seed()),
        KeyProtection::Passphrase(p) => {
            let public_key = key.public_key();
            let crypto = urbis_keyfile::seal(
                key.seed(),
                p,
                &validator_aad(&public_key),
                urbis_keyfile::KdfParams::default(),
            )?;
            serde_json::to_string_pretty(&SealedKeyFile {
                version: 1,
                public_key,
                crypto,
            })?
        }
    };
    write_private(path, text.as_bytes())
}

/// Whether the key file at `path` is sealed (reading it needs the passphrase).
pub fn key_is_sealed(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.trim_start().starts_with('{'))
}

/// Read a validator key file; `passphrase` is asked for only if the key is sealed.
pub fn read_key(
    path: &Path,
    passphrase: impl FnOnce() -> anyhow::Result<zeroize::Zeroizing<String>>,
) -> anyhow::Result<SecretKey> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("read validator key {}", path.display()))?,
    );
    if text.trim_start().starts_with('{') {
        let file: SealedKeyFile = serde_json::from_str(&text)
            .with_context(|| format!("parse validator key {}", path.display()))?;
        if file.version != 1 {
            bail!(
                "validator key {}: unsupported version {}",
                path.display(),
                file.version
            );
        }
        let pass = passphrase()?;
        let seed = urbis_keyfile::open(&file.crypto, &pass, &validator_aad(&file.public_key))
            .map_err(|e| anyhow::anyhow!("validator key {}: {e}", path.display()))?;
        let key = SecretKey::from_seed(*seed);
        if key.public_key() != file.public_key {
            bail!(
                "validator key {}: the seed does not match its public key",
                path.display()
            );
        }
        return Ok(key);
    }
    let bytes =
        zeroize::Zeroizing::new(hex::decode(text.trim()).context("validator key is not hex")?);
    let seed: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("validator key must be 32 bytes"))?;
    Ok(SecretKey::from_seed(seed))
}

/// The first line of a passphrase file.
pub fn read_passphrase_file(path: &Path) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("read passphrase file {}", path.display()))?,
    );
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        bail!("passphrase file {} is empty", path.display());
    }
    Ok(zeroize::Zeroizing::new(line.to_string()))
}

/// `urbis init`: create a validator key and a node config in `dir`.
pub fn init(
    dir: &Path,
    name: &str,
    api: SocketAddr,
    p2p: SocketAddr,
    genesis: &Path,
    protection: KeyProtection<'_>,
) -> anyhow::Result<ValidatorPublic> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let key_path = dir.join("validator.key");
    if key_path.exists() {
        bail!(
            "{} already exists; refusing to overwrite a validator key",
            key_path.display()
        );
    }
    let key = SecretKey::generate();
    write_key(&key_path, &key, protection)?;
    let cfg = NodeConfig {
        name: name.to_string(),
        role: NodeRole::Validator,
        data_dir: PathBuf::from("data"),
        genesis: genesis.to_path_buf(),
        validator_key: Some(PathBuf::from("validator.key")),
        api,
        p2p: Some(p2p),
        follow: Vec::new(),
        state_sync: false,
        block_time_ms: default_block_time_ms(),
        passphrase_file: None,
        api_limits: Default::default(),
    };
    std::fs::write(dir.join("node.toml"), toml::to_string_pretty(&cfg)?)?;
    let public = ValidatorPublic {
        name: name.to_string(),
        public_key: key.public_key(),
        p2p,
    };
    std::fs::write(
        dir.join("validator.json"),
        serde_json::to_vec_pretty(&public)?,
    )?;
    Ok(public)
}

/// `urbis init --full`: a full node's config in `dir` (no key: a full node never signs).
/// Each `follow` URL must be an `http://` base URL.
pub fn init_full(
    dir: &Path,
    name: &str,
    api: SocketAddr,
    genesis: &Path,
    follow: &[String],
    state_sync: bool,
) -> anyhow::Result<PathBuf> {
    check_follow(follow)?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let path = dir.join("node.toml");
    if path.exists() {
        bail!(
            "{} already exists; refusing to overwrite it",
            path.display()
        );
    }
    let cfg = NodeConfig {
        name: name.to_string(),
        role: NodeRole::Full,
        data_dir: PathBuf::from("data"),
        genesis: genesis.to_path_buf(),
        validator_key: None,
        api,
        p2p: None,
        follow: follow.to_vec(),
        state_sync,
        block_time_ms: default_block_time_ms(),
        passphrase_file: None,
        api_limits: Default::default(),
    };
    std::fs::write(&path, toml::to_string_pretty(&cfg)?)?;
    Ok(path)
}

fn check_follow(follow: &[String]) -> anyhow::Result<()> {
    if follow.is_empty() {
        bail!("a full node needs at least one node to follow (`follow` in node.toml)");
    }
    // Plain HTTP: a full node checks everything it is given against the genesis file, so
    // the transport adds nothing to integrity (and the chain is public).
    for url in follow {
        let ok = url.starts_with("http://")
            && reqwest::Url::parse(url).is_ok_and(|u| u.host().is_some());
        if !ok {
            bail!("`follow` entry {url:?} is not an http:// base URL");
        }
    }
    Ok(())
}

/// `urbis genesis`: assemble a genesis from validators' public parts.
pub fn assemble_genesis(
    chain_id: &str,
    validators: &[ValidatorPublic],
    admins: &[Address],
    genesis_time_ms: u64,
    epoch_length: Option<u64>,
) -> anyhow::Result<Genesis> {
    if epoch_length.is_some_and(|l| l < urbis_runtime::validators::MIN_EPOCH_LENGTH) {
        bail!(
            "an epoch is at least {} blocks",
            urbis_runtime::validators::MIN_EPOCH_LENGTH
        );
    }
    if validators.is_empty() {
        bail!("a genesis needs at least one validator");
    }
    if chain_id.is_empty() || chain_id.len() > urbis_core::limits::MAX_CHAIN_ID_LEN {
        bail!(
            "chain id must be 1 to {} characters",
            urbis_core::limits::MAX_CHAIN_ID_LEN
        );
    }
    let mut keys: Vec<PublicKey> = validators.iter().map(|v| v.public_key).collect();
    keys.sort();
    keys.dedup();
    if keys.len() != validators.len() {
        bail!("two validators share a public key");
    }
    let accounts: Vec<serde_json::Value> = admins
        .iter()
        .map(|a| serde_json::json!({"address": a, "roles": ["city_admin"]}))
        .collect();
    let mut modules = std::collections::BTreeMap::new();
    modules.insert(
        "accounts".to_string(),
        serde_json::json!({ "accounts": accounts }),
    );
    Ok(Genesis {
        epoch_length,
        chain_id: chain_id.to_string(),
        genesis_time_ms,
        validators: validators
            .iter()
            .map(|v| GenesisValidator {
                name: v.name.clone(),
                public_key: v.public_key,
                address: v.p2p.to_string(),
            })
            .collect(),
        modules,
    })
}

/// Read `node.toml` alone.
pub fn load_config(config_path: &Path) -> anyhow::Result<NodeConfig> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("read {}", config_path.display()))?;
    toml::from_str(&text).with_context(|| format!("parse {}", config_path.display()))
}

/// Load `node.toml` and everything it points to into a runnable spec. A sealed validator key
/// is opened with the config's `passphrase_file`, else with `passphrase()`.
pub fn load(
    config_path: &Path,
    passphrase: impl FnOnce() -> anyhow::Result<zeroize::Zeroizing<String>>,
) -> anyhow::Result<(NodeConfig, NodeSpec)> {
    let cfg = load_config(config_path)?;
    let base = config_path.parent().unwrap_or(Path::new("."));
    let genesis_path = resolve(base, &cfg.genesis);
    let genesis: Genesis = serde_json::from_slice(
        &std::fs::read(&genesis_path)
            .with_context(|| format!("read genesis {}", genesis_path.display()))?,
    )
    .with_context(|| format!("parse genesis {}", genesis_path.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if now + 60_000 < genesis.genesis_time_ms {
        bail!(
            "this machine's clock is {} s behind the genesis time: fix the clock (or the genesis)",
            (genesis.genesis_time_ms - now) / 1000
        );
    }
    let role = match cfg.role {
        NodeRole::Full => {
            if cfg.validator_key.is_some() || cfg.p2p.is_some() || cfg.passphrase_file.is_some() {
                bail!(
                    "a full node has no validator_key, p2p address or passphrase_file: remove them \
                     from {} (or set role = \"validator\")",
                    config_path.display()
                );
            }
            check_follow(&cfg.follow)?;
            Role::Full {
                follow: cfg.follow.clone(),
                state_sync: cfg.state_sync,
            }
        }
        NodeRole::Validator => validator_role(&cfg, base, &genesis, passphrase)?,
    };
    let spec = NodeSpec {
        data_dir: resolve(base, &cfg.data_dir),
        genesis,
        role,
        api: cfg.api,
        block_time: Duration::from_millis(cfg.block_time_ms),
        mempool: MempoolConfig::default(),
        api_limits: cfg.api_limits.clone(),
        shutdown: None,
    };
    Ok((cfg, spec))
}

/// A validator's key, p2p address and peers from its config and the genesis.
fn validator_role(
    cfg: &NodeConfig,
    base: &Path,
    genesis: &Genesis,
    passphrase: impl FnOnce() -> anyhow::Result<zeroize::Zeroizing<String>>,
) -> anyhow::Result<Role> {
    if !cfg.follow.is_empty() {
        bail!(
            "`follow` is for full nodes (role = \"full\"); a validator takes its peers from the genesis"
        );
    }
    let (Some(key_file), Some(p2p)) = (&cfg.validator_key, cfg.p2p) else {
        bail!("a validator needs `validator_key` and `p2p` in its node.toml");
    };
    let key = read_key(&resolve(base, key_file), || match &cfg.passphrase_file {
        Some(f) => read_passphrase_file(&resolve(base, f)),
        None => passphrase(),
    })?;
    let me = key.public_key();
    let mut peers = Vec::new();
    for v in &genesis.validators {
        let addr: SocketAddr = v.address.parse().with_context(|| {
            format!(
                "validator {} has no valid p2p address ({:?})",
                v.name, v.address
            )
        })?;
        if v.public_key == me && addr.port() != p2p.port() {
            bail!("config p2p port {p2p} differs from this validator's genesis address {addr}");
        }
        peers.push((v.public_key, addr));
    }
    // On a chain with epochs a validator may join later, by council decision; until its epoch
    // it follows.
    if genesis.epoch_length.is_none() && !genesis.validators.iter().any(|v| v.public_key == me) {
        bail!("validator key {me} is not in the genesis validator set");
    }
    Ok(Role::Validator { key, p2p, peers })
}

/// `urbis testnet --init-only`: N validators on loopback under `dir`, sharing one genesis, with
/// one city-admin key (`dir/admin.key`). Returns each node's config path.
pub fn init_testnet(
    dir: &Path,
    validators: usize,
    chain_id: &str,
    base_api: u16,
    base_p2p: u16,
    block_time_ms: u64,
    epoch_length: Option<u64>,
) -> anyhow::Result<Vec<PathBuf>> {
    if validators == 0 {
        bail!("a testnet needs at least one validator");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut publics = Vec::new();
    let mut configs = Vec::new();
    for i in 0..validators {
        let node_dir = dir.join(format!("node{i}"));
        let api: SocketAddr = ([127, 0, 0, 1], base_api + i as u16).into();
        let p2p: SocketAddr = ([127, 0, 0, 1], base_p2p + i as u16).into();
        // A local testnet's keys are throwaway: kept in the clear, like the dev chain's.
        let public = init(
            &node_dir,
            &format!("node{i}"),
            api,
            p2p,
            Path::new("../genesis.json"),
            KeyProtection::Plaintext,
        )?;
        let cfg_path = node_dir.join("node.toml");
        let mut cfg: NodeConfig = toml::from_str(&std::fs::read_to_string(&cfg_path)?)?;
        cfg.block_time_ms = block_time_ms;
        std::fs::write(&cfg_path, toml::to_string_pretty(&cfg)?)?;
        publics.push(public);
        configs.push(cfg_path);
    }
    let admin = SecretKey::generate();
    write_private(&dir.join("admin.key"), hex::encode(admin.seed()).as_bytes())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let genesis = assemble_genesis(chain_id, &publics, &[admin.address()], now, epoch_length)?;
    std::fs::write(
        dir.join("genesis.json"),
        serde_json::to_vec_pretty(&genesis)?,
    )?;
    Ok(configs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testnet_configs_load_and_agree() {
        let dir = tempfile::tempdir().unwrap();
        let configs = init_testnet(dir.path(), 4, "t", 18000, 19000, 100, None).unwrap();
        assert_eq!(configs.len(), 4);
        let mut genesis = None;
        for (i, c) in configs.iter().enumerate() {
            let (cfg, spec) = load(c, || panic!("testnet keys are in the clear")).unwrap();
            assert_eq!(cfg.name, format!("node{i}"));
            let Role::Validator { peers, .. } = &spec.role else {
                panic!("a testnet node is a validator")
            };
            assert_eq!(peers.len(), 4);
            assert_eq!(spec.block_time, Duration::from_millis(100));
            if let Some(g) = &genesis {
                assert_eq!(g, &spec.genesis);
            }
            genesis = Some(spec.genesis);
        }
        // Refuses to overwrite a key.
        assert!(
            init(
                &dir.path().join("node0"),
                "x",
                "127.0.0.1:1".parse().unwrap(),
                "127.0.0.1:2".parse().unwrap(),
                Path::new("g"),
                KeyProtection::Plaintext,
            )
            .is_err()
        );
        // A key outside the validator set is refused at load.
        std::fs::write(
            dir.path().join("node0/validator.key"),
            hex::encode([9u8; 32]),
        )
        .unwrap();
        assert!(load(&configs[0], || panic!("not sealed")).is_err());
    }

    #[test]
    fn full_node_configs() {
        let dir = tempfile::tempdir().unwrap();
        init_testnet(dir.path(), 1, "t", 18100, 19100, 100, None).unwrap();
        let full = dir.path().join("full");
        let api: SocketAddr = "127.0.0.1:18200".parse().unwrap();
        let follow = vec!["http://127.0.0.1:18100".to_string()];
        let path = init_full(
            &full,
            "auditor",
            api,
            Path::new("../genesis.json"),
            &follow,
            false,
        )
        .unwrap();
        let (cfg, spec) = load(&path, || panic!("a full node has no key")).unwrap();
        assert_eq!(cfg.role, NodeRole::Full);
        let Role::Full { follow: got, .. } = &spec.role else {
            panic!("not a full node")
        };
        assert_eq!(got, &follow);
        // Refused: overwriting, nothing to follow, a URL that is not http(s), a key.
        assert!(init_full(&full, "x", api, Path::new("g"), &follow, false).is_err());
        for bad in [
            vec![],
            vec!["ftp://x".to_string()],
            vec!["http://".to_string()],
        ] {
            assert!(
                init_full(
                    &dir.path().join("other"),
                    "x",
                    api,
                    Path::new("g"),
                    &bad,
                    false
                )
                .is_err()
            );
        }
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("validator_key = \"k\"\n{text}")).unwrap();
        let err = load(&path, || panic!("asked")).err().unwrap().to_string();
        assert!(err.contains("a full node has no validator_key"), "{err}");
        // A validator config naming sources is refused too.
        let v = dir.path().join("node0/node.toml");
        let text = std::fs::read_to_string(&v).unwrap();
        std::fs::write(&v, format!("follow = [\"http://x:1\"]\n{text}")).unwrap();
        let err = load(&v, || panic!("clear key")).err().unwrap().to_string();
        assert!(err.contains("`follow` is for full nodes"), "{err}");
    }

    #[test]
    fn sealed_validator_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validator.key");
        let key = SecretKey::from_label("validator");
        write_key(&path, &key, KeyProtection::Passphrase("s3cret")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&hex::encode(key.seed())), "{text}");
        assert!(key_is_sealed(&path));
        let pass = |p: &str| {
            let p = p.to_string();
            move || Ok(zeroize::Zeroizing::new(p))
        };
        assert_eq!(read_key(&path, pass("s3cret")).unwrap().seed(), key.seed());
        let err = read_key(&path, pass("wrong")).unwrap_err().to_string();
        assert!(err.contains("wrong passphrase"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "file untouched"
        );
        // A passphrase file given in node.toml.
        let pf = dir.path().join("pass");
        std::fs::write(&pf, "s3cret\n").unwrap();
        assert_eq!(&*read_passphrase_file(&pf).unwrap(), "s3cret");
        // A clear key never asks.
        write_key(
            &dir.path().join("plain.key"),
            &key,
            KeyProtection::Plaintext,
        )
        .unwrap();
        assert!(!key_is_sealed(&dir.path().join("plain.key")));
        let plain = read_key(&dir.path().join("plain.key"), || panic!("asked")).unwrap();
        assert_eq!(plain.seed(), key.seed());
    }
}
