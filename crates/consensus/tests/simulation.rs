//! Deterministic simulation of a 4-validator network (Commonware deterministic runtime and
//! simulated p2p): progress, crashes, partitions, an equivocating validator and a late joiner.
//! Every scenario checks that all honest nodes have identical block hashes and state roots at
//! every height they share (no fork), and is reproducible from its seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
use urbis_consensus::engine::{self, Channels, TimingConfig};
use urbis_consensus::{MempoolConfig, ProposerConfig, Shared};
use urbis_core::{Call, SecretKey, SignedTx};
use urbis_runtime::{Genesis, GenesisValidator, Runtime};
use urbis_state::ChainStore;

type Ctx = deterministic::Context;
type Node = Arc<Shared<Ctx>>;

const CHAIN: &str = "sim";
const N: usize = 4;

struct Net {
    keys: Vec<SecretKey>,
    genesis: Genesis,
    dir: tempfile::TempDir,
    oracle: Oracle<ed25519::PublicKey, Ctx>,
}

fn cw_key(k: &SecretKey) -> ed25519::PublicKey {
    ed25519::PublicKey::decode(bytes::Bytes::copy_from_slice(k.public_key().raw())).unwrap()
}

fn link() -> Link {
    Link {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
        success_rate: probability!(1.0),
    }
}

impl Net {
    async fn new(ctx: &Ctx) -> Net {
        let keys: Vec<SecretKey> = (0..N)
            .map(|i| SecretKey::from_label(&format!("validator-{i}")))
            .collect();
        let admin = SecretKey::from_label("admin").address();
        let mut modules = BTreeMap::new();
        modules.insert(
            "accounts".to_string(),
            serde_json::json!({"accounts": [{"address": admin, "roles": ["city_admin"]}]}),
        );
        let genesis = Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: 0,
            validators: keys
                .iter()
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
                max_size: engine::max_message_size(N)
                    .max(urbis_consensus::gossip::max_gossip_bytes() as u32),
                max_peers_per_set: NZUsize!(N),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
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
        net.connect_all(&(0..N).collect::<Vec<_>>()).await;
        net
    }

    async fn connect_all(&self, group: &[usize]) {
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

    async fn cut(&self, left: &[usize], right: &[usize]) {
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

    async fn channels(
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

    /// Start honest validator `i` (or restart it on its existing storage).
    async fn start(&self, ctx: &Ctx, i: usize) -> (Handle<()>, Node) {
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
                    let runtime = Runtime::new(
                        CHAIN,
                        vec![urbis_accounts::module(), urbis_rewards::module()],
                    );
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
                        block_time: Duration::from_millis(100),
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
                        manager,
                        channels,
                    )
                    .await;
                    let _ = tx.send(shared);
                    futures::future::pending::<()>().await;
                });
        (handle, rx.await.unwrap())
    }

    /// Start validator `i` as a Byzantine node that signs conflicting votes for everything.
    async fn start_conflicter(&self, ctx: &Ctx, i: usize) -> Handle<()> {
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
        Conflicter::<_, _, Sha256>::new(ctx.child("byzantine"), ConflicterConfig { scheme })
            .start(ch.votes)
    }
}

fn height(n: &Node) -> u64 {
    n.executed_height()
}

async fn wait_all_reach(ctx: &Ctx, nodes: &[&Node], h: u64, limit: Duration) {
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
fn assert_consistent(nodes: &[&Node]) {
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

fn label_tx(nonce: u64) -> SignedTx {
    SignedTx::new(
        CHAIN,
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

fn run<F, Fut>(seed: u64, f: F)
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

#[test]
fn four_validators_make_progress_and_agree() {
    run(1, |ctx| async move {
        let net = Net::new(&ctx).await;
        let mut nodes = Vec::new();
        for i in 0..N {
            nodes.push(net.start(&ctx, i).await);
        }
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 2, Duration::from_secs(60)).await;
        // Transactions submitted to different validators all get included (gossip).
        // Each goes to the next validator once the previous one has propagated.
        for (i, nonce) in (0..8u64).enumerate() {
            let node = &nodes[i % N].1;
            node.submit(label_tx(nonce)).unwrap();
            ctx.sleep(Duration::from_millis(100)).await;
        }
        wait_all_reach(&ctx, &refs, 20, Duration::from_secs(60)).await;
        assert_consistent(&refs);
        let view = refs[0].chain.state_view().unwrap();
        let nonce =
            urbis_runtime::read_nonce(&view, &SecretKey::from_label("admin").address()).unwrap();
        assert_eq!(nonce, 8, "all gossiped transactions executed");
        for n in &refs {
            assert_eq!(
                n.peers.active(Duration::from_secs(3600)),
                N - 1,
                "hears every other validator"
            );
            assert!(
                n.evidence.list().is_empty(),
                "no evidence against honest validators"
            );
        }
    });
}

#[test]
fn one_crashed_validator_does_not_stop_the_chain() {
    run(2, |ctx| async move {
        let net = Net::new(&ctx).await;
        let mut nodes = Vec::new();
        for i in 0..N {
            nodes.push(net.start(&ctx, i).await);
        }
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 5, Duration::from_secs(60)).await;
        let (crashed, _) = nodes.pop().unwrap();
        crashed.abort();
        let alive: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        let target = height(alive[0]) + 15;
        wait_all_reach(&ctx, &alive, target, Duration::from_secs(120)).await;
        assert_consistent(&alive);
    });
}

#[test]
fn two_crashed_stall_without_fork_and_recover() {
    run(3, |ctx| async move {
        let net = Net::new(&ctx).await;
        let mut nodes = Vec::new();
        for i in 0..N {
            nodes.push(net.start(&ctx, i).await);
        }
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 5, Duration::from_secs(60)).await;
        let (h3, n3) = nodes.pop().unwrap();
        let (h2, _n2) = nodes.pop().unwrap();
        h3.abort();
        h2.abort();
        drop(n3);
        ctx.sleep(Duration::from_secs(2)).await;
        let stalled_at: Vec<u64> = nodes.iter().map(|(_, n)| height(n)).collect();
        ctx.sleep(Duration::from_secs(20)).await;
        let after: Vec<u64> = nodes.iter().map(|(_, n)| height(n)).collect();
        assert_eq!(
            stalled_at, after,
            "2 of 4 validators cannot finalize anything"
        );
        // Validator 3 comes back on its own storage: progress resumes.
        ctx.sleep(Duration::from_millis(100)).await;
        let restarted = net.start(&ctx, 3).await;
        let mut live: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        live.push(&restarted.1);
        let target = after.iter().max().unwrap() + 10;
        wait_all_reach(&ctx, &live, target, Duration::from_secs(180)).await;
        assert_consistent(&live);
    });
}

#[test]
fn partition_stalls_then_heals() {
    run(4, |ctx| async move {
        let net = Net::new(&ctx).await;
        let mut nodes = Vec::new();
        for i in 0..N {
            nodes.push(net.start(&ctx, i).await);
        }
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 5, Duration::from_secs(60)).await;
        net.cut(&[0, 1], &[2, 3]).await;
        ctx.sleep(Duration::from_secs(2)).await;
        let before: Vec<u64> = refs.iter().map(|n| height(n)).collect();
        ctx.sleep(Duration::from_secs(15)).await;
        let during: Vec<u64> = refs.iter().map(|n| height(n)).collect();
        assert_eq!(before, during, "neither half has a quorum");
        net.connect_all(&(0..N).collect::<Vec<_>>()).await;
        let target = during.iter().max().unwrap() + 10;
        wait_all_reach(&ctx, &refs, target, Duration::from_secs(180)).await;
        assert_consistent(&refs);
    });
}

#[test]
fn equivocating_validator_is_detected_and_tolerated() {
    run(5, |ctx| async move {
        let net = Net::new(&ctx).await;
        let mut nodes = Vec::new();
        for i in 0..3 {
            nodes.push(net.start(&ctx, i).await);
        }
        let _byzantine = net.start_conflicter(&ctx, 3).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 15, Duration::from_secs(120)).await;
        assert_consistent(&refs);
        // Evidence: recorded against the equivocator (by the nodes that saw both of its
        // conflicting votes for a view: at least one), and never against an honest validator.
        let culprit = net.keys[3].public_key();
        let start = ctx.current();
        while !refs.iter().any(|n| {
            n.evidence
                .list()
                .iter()
                .any(|e| e.validator == Some(culprit))
        }) {
            assert!(
                ctx.current().duration_since(start).unwrap() < Duration::from_secs(60),
                "no evidence recorded against the equivocator"
            );
            ctx.sleep(Duration::from_millis(100)).await;
        }
        for n in &refs {
            let evidence = n.evidence.list();
            assert!(
                evidence.iter().all(|e| e.validator == Some(culprit)),
                "honest validator accused: {evidence:?}"
            );
        }
    });
}

#[test]
fn late_joiner_catches_up() {
    run(6, |ctx| async move {
        let net = Net::new(&ctx).await;
        let mut nodes = Vec::new();
        for i in 0..3 {
            nodes.push(net.start(&ctx, i).await);
        }
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 2, Duration::from_secs(60)).await;
        for nonce in 0..5 {
            nodes[0].1.submit(label_tx(nonce)).unwrap();
        }
        wait_all_reach(&ctx, &refs, 30, Duration::from_secs(120)).await;
        let late = net.start(&ctx, 3).await;
        let mut all = refs.clone();
        all.push(&late.1);
        let target = height(refs[0]) + 5;
        wait_all_reach(&ctx, &all, target, Duration::from_secs(180)).await;
        assert_consistent(&all);
    });
}
