//! The simulation harness: N validators on Commonware's deterministic runtime and simulated
//! network, honest or with injected faults, and the checks every scenario shares.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use commonware_codec::DecodeExt as _;
use commonware_consensus::simplex::mocks::conflicter::{Config as ConflicterConfig, Conflicter};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_cryptography::{Sha256, ed25519};
use commonware_p2p::simulated::{self, Link, Oracle};
use commonware_runtime::{
    Clock as _, Handle, Runner as _, Spawner as _, Supervisor as _, deterministic,
};
use commonware_utils::{NZUsize, probability};
use futures::channel::oneshot;
use urbis_consensus::app::Faults;
use urbis_consensus::engine::{self, Channels, TimingConfig};
use urbis_consensus::{MempoolConfig, ProposerConfig, Shared};
use urbis_core::{Call, SecretKey, SignedTx};
use urbis_runtime::{Genesis, GenesisValidator, Runtime};
use urbis_state::ChainStore;

pub type Ctx = deterministic::Context;
pub type Node = Arc<Shared<Ctx>>;

pub const CHAIN: &str = "sim";
pub const N: usize = 4;
/// Block time of every simulated validator.
pub const BLOCK_TIME: Duration = Duration::from_millis(100);

pub struct Net {
    pub keys: Vec<SecretKey>,
    pub genesis: Genesis,
    pub dir: tempfile::TempDir,
    pub oracle: Oracle<ed25519::PublicKey, Ctx>,
}

pub fn cw_key(k: &SecretKey) -> ed25519::PublicKey {
    ed25519::PublicKey::decode(bytes::Bytes::copy_from_slice(k.public_key().raw())).unwrap()
}

pub fn link() -> Link {
    Link {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
        success_rate: probability!(1.0),
    }
}

impl Net {
    pub async fn new(ctx: &Ctx) -> Net {
        Net::with(ctx, N, N, None).await
    }

    /// `keys` validator keys of which the first `in_genesis` are the genesis set; epochs of
    /// `epoch_length` blocks if given.
    pub async fn with(ctx: &Ctx, keys: usize, in_genesis: usize, epoch_length: Option<u64>) -> Net {
        let keys: Vec<SecretKey> = (0..keys)
            .map(|i| SecretKey::from_label(&format!("validator-{i}")))
            .collect();
        let admin = SecretKey::from_label("admin").address();
        let mut modules = BTreeMap::new();
        modules.insert(
            "accounts".to_string(),
            serde_json::json!({"accounts": [{"address": admin, "roles": ["city_admin"]}]}),
        );
        let genesis = Genesis {
            epoch_length,
            chain_id: CHAIN.into(),
            genesis_time_ms: 0,
            validators: keys
                .iter()
                .take(in_genesis)
                .enumerate()
                .map(|(i, k)| GenesisValidator {
                    name: format!("v{i}"),
                    public_key: k.public_key(),
                    address: String::new(),
                })
                .collect(),
            modules,
        };
        let participants: Vec<ed25519::PublicKey> = keys.iter().map(cw_key).collect();
        let (network, oracle) = simulated::Network::new_with_peers(
            ctx.child("network"),
            simulated::Config {
                max_size: engine::max_message_size(urbis_runtime::validators::MAX_VALIDATORS)
                    .max(urbis_consensus::gossip::max_gossip_bytes() as u32),
                max_peers_per_set: NZUsize!(N + 4),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(3),
            },
            participants.clone(),
        )
        .await;
        network.start();
        let net = Net {
            keys,
            genesis,
            dir: tempfile::tempdir().unwrap(),
            oracle,
        };
        net.connect_all(&(0..net.keys.len()).collect::<Vec<_>>())
            .await;
        net
    }

    pub async fn connect_all(&self, group: &[usize]) {
        for &a in group {
            for &b in group {
                if a != b {
                    let _ = self
                        .oracle
                        .add_link(cw_key(&self.keys[a]), cw_key(&self.keys[b]), link())
                        .await;
                }
            }
        }
    }

    pub async fn cut(&self, left: &[usize], right: &[usize]) {
        for &a in left {
            for &b in right {
                let _ = self
                    .oracle
                    .remove_link(cw_key(&self.keys[a]), cw_key(&self.keys[b]))
                    .await;
                let _ = self
                    .oracle
                    .remove_link(cw_key(&self.keys[b]), cw_key(&self.keys[a]))
                    .await;
            }
        }
    }

    pub async fn channels(
        &self,
        i: usize,
    ) -> Channels<simulated::Sender<ed25519::PublicKey, Ctx>, simulated::Receiver<ed25519::PublicKey>>
    {
        let control = self.oracle.control(cw_key(&self.keys[i]));
        let q = engine::channel_quota();
        Channels {
            votes: control.register(engine::CHANNEL_VOTES, q).await.unwrap(),
            certs: control.register(engine::CHANNEL_CERTS, q).await.unwrap(),
            resolver: control.register(engine::CHANNEL_RESOLVER, q).await.unwrap(),
            backfill: control.register(engine::CHANNEL_BACKFILL, q).await.unwrap(),
            blocks: control.register(engine::CHANNEL_BLOCKS, q).await.unwrap(),
            txs: control.register(engine::CHANNEL_TXS, q).await.unwrap(),
        }
    }

    /// Start validators `0..n`, honest.
    pub async fn start_honest(&self, ctx: &Ctx, n: usize) -> Vec<(Handle<()>, Node)> {
        self.start_many(ctx, n, |_| Faults::default()).await
    }

    /// Start validators `0..n`, validator `i` with `faults(i)`.
    pub async fn start_many(
        &self,
        ctx: &Ctx,
        n: usize,
        faults: impl Fn(usize) -> Faults,
    ) -> Vec<(Handle<()>, Node)> {
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            nodes.push(self.start_with(ctx, i, faults(i)).await);
        }
        nodes
    }

    /// Start honest validator `i` (or restart it on its existing storage).
    pub async fn start(&self, ctx: &Ctx, i: usize) -> (Handle<()>, Node) {
        self.start_with(ctx, i, Faults::default()).await
    }

    /// Start validator `i` whose proposer has `faults`.
    pub async fn start_with(&self, ctx: &Ctx, i: usize, faults: Faults) -> (Handle<()>, Node) {
        let path = self.dir.path().join(format!("v{i}.redb"));
        let genesis = self.genesis.clone();
        let key = self.keys[i].clone();
        let channels = self.channels(i).await;
        let control = self.oracle.control(cw_key(&key));
        let manager = self.oracle.manager();
        let (tx, rx) = oneshot::channel();
        let handle =
            ctx.child("validator")
                .with_attribute("index", i)
                .spawn(move |ctx| async move {
                    let chain = Arc::new(ChainStore::open(&path).unwrap());
                    let runtime = runtime();
                    let shared = Arc::new(
                        Shared::open(
                            ctx.child("state"),
                            &format!("v{i}-"),
                            chain,
                            genesis,
                            runtime,
                            MempoolConfig::default(),
                        )
                        .await
                        .unwrap(),
                    );
                    let signer =
                        ed25519::PrivateKey::decode(bytes::Bytes::copy_from_slice(key.seed()))
                            .unwrap();
                    let proposer = ProposerConfig {
                        block_time: BLOCK_TIME,
                        faults,
                        ..ProposerConfig::default()
                    };
                    let timing = TimingConfig::for_block_time(proposer.block_time);
                    let _running = engine::start_validator(
                        ctx.child("consensus"),
                        shared.clone(),
                        signer,
                        proposer,
                        timing,
                        control,
                        manager.clone(),
                        channels,
                        sim_tracker(manager),
                    )
                    .await;
                    let _ = tx.send(shared);
                    futures::future::pending::<()>().await;
                });
        (handle, rx.await.unwrap())
    }

    /// Start validator `i` as a Byzantine node that signs conflicting votes for everything.
    pub async fn start_conflicter(&self, ctx: &Ctx, i: usize) -> Handle<()> {
        let key = self.keys[i].clone();
        let participants = engine::participant_set(
            &self
                .genesis
                .validators
                .iter()
                .map(|v| v.public_key)
                .collect::<Vec<_>>(),
        );
        let signer =
            ed25519::PrivateKey::decode(bytes::Bytes::copy_from_slice(key.seed())).unwrap();
        let scheme = Scheme::signer(
            &urbis_consensus::consensus_namespace(CHAIN),
            participants,
            signer,
        )
        .unwrap();
        let ch = self.channels(i).await;
        // Votes travel on the epoch's sub-channel (epoch 0 here).
        let (mux, mut handle) = commonware_p2p::utils::mux::Muxer::new(
            ctx.child("byzantine_mux"),
            ch.votes.0,
            ch.votes.1,
        );
        mux.start();
        let votes = handle.register(0).await.unwrap();
        Conflicter::<_, _, Sha256>::new(ctx.child("byzantine"), ConflicterConfig { scheme })
            .start(votes)
    }
}

/// Tracks each epoch's peer set on the simulated network.
pub fn sim_tracker<M>(manager: M) -> engine::Tracker
where
    M: commonware_p2p::Manager<PublicKey = ed25519::PublicKey> + Sync,
{
    std::sync::Arc::new(move |epoch, validators| {
        let keys: Vec<urbis_core::PublicKey> = validators.iter().map(|v| v.public_key).collect();
        if let Some(set) = engine::try_participant_set(&keys) {
            let _ = manager.clone().track(epoch, set);
        }
    })
}

pub fn height(n: &Node) -> u64 {
    n.executed_height()
}

pub async fn wait_all_reach(ctx: &Ctx, nodes: &[&Node], h: u64, limit: Duration) {
    let start = ctx.current();
    while nodes.iter().any(|n| height(n) < h) {
        assert!(
            ctx.current().duration_since(start).unwrap() < limit,
            "nodes stuck at {:?}, wanted {h}",
            nodes.iter().map(|n| height(n)).collect::<Vec<_>>()
        );
        ctx.sleep(Duration::from_millis(50)).await;
    }
}

/// No fork: same block hash and state root at every height all nodes have.
pub fn assert_consistent(nodes: &[&Node]) {
    let common = nodes.iter().map(|n| height(n)).min().unwrap();
    assert!(common > 0);
    for h in 0..=common {
        let first = nodes[0].chain.block(h).unwrap().unwrap();
        let root = nodes[0].chain.state_root(h).unwrap().unwrap();
        for n in &nodes[1..] {
            assert_eq!(
                n.chain.block(h).unwrap().unwrap().digest(),
                first.digest(),
                "fork at {h}"
            );
            assert_eq!(
                n.chain.state_root(h).unwrap().unwrap(),
                root,
                "state diverged at {h}"
            );
        }
    }
}

/// The simulated chain's runtime: the city modules and the misbehaving `probe` module, behind
/// the accounts gate.
pub fn runtime() -> Runtime {
    let mut modules = urbis_registry::modules();
    modules.push(urbis_runtime::testkit::module());
    Runtime::new(CHAIN, modules)
        .with_gate(urbis_accounts::gate(urbis_registry::OPEN_CALLS_PER_BLOCK))
}

/// A transaction of the city admin (who holds a role) on `node`'s chain.
pub fn admin_tx(node: &Node, nonce: u64, call: Call) -> SignedTx {
    SignedTx::new(
        &node.chain_ref,
        &SecretKey::from_label("admin"),
        nonce,
        call,
    )
}

pub fn label_tx(node: &Node, nonce: u64) -> SignedTx {
    SignedTx::new(
        &node.chain_ref,
        &SecretKey::from_label("admin"),
        nonce,
        Call::new(
            "accounts",
            &urbis_accounts::AccountsCall::SetLabel {
                label: format!("city {nonce}"),
            },
        ),
    )
}

pub fn run<F, Fut>(seed: u64, f: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // URBIS_SIM_SEED shifts every scenario's seed, to explore other schedules.
    let shift: u64 = std::env::var("URBIS_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cfg = deterministic::Config::new()
        .with_seed(seed.wrapping_add(shift))
        .with_timeout(Some(Duration::from_secs(600)));
    deterministic::Runner::new(cfg).start(f);
}
