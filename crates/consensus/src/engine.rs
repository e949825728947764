//! Wiring: simplex consensus + marshal + the Urbis application and executor.
//!
//! The same path runs a one-validator dev chain and a consortium: only the p2p network differs
//! (Commonware's authenticated network on loopback for one validator, on real addresses for a
//! consortium; the simulated network in deterministic tests). Channels: 0 votes, 1 certificates, 2 consensus resolver, 3 marshal backfill,
//! 4 block broadcast, 5 transaction gossip, 6 blobs
//! ([`crate::blobnet`]).
//!
//! Consensus runs one simplex engine per epoch (see [`crate::epochs`]): channels 0–2 are
//! multiplexed by epoch (each message starts with its epoch as a varint), the engine of epoch
//! `e + 1` starts once this node has executed epoch `e`'s last block (its floor), and the engine
//! of `e` stops then. Marshal, the block broadcast and backfill run once, across epochs; marshal
//! verifies each finalization with its epoch's set. Each epoch's peer set (its validators and
//! the next epoch's) is tracked on the p2p network under the epoch's number.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use commonware_broadcast::buffered;
use commonware_consensus::marshal::core::{Actor, Mailbox};
use commonware_consensus::marshal::resolver::p2p as mresolver;
use commonware_consensus::marshal::standard::{Inline, Standard};
use commonware_consensus::marshal::{self, Start};
use commonware_consensus::simplex::elector::RoundRobin;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::{self, ForwardPolicy, SkipBudget, SkipPolicy};
use commonware_consensus::types::{Epoch, Epocher as _, FixedEpocher, ViewDelta};
use commonware_cryptography::certificate::Verifier as _;
use commonware_cryptography::{ChaCha20Poly1305, Digested, Sha256, Signer as _, ed25519};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Quota, Spawner, Storage};
use commonware_storage::archive::immutable;
use commonware_utils::ordered::{Map, Set};
use commonware_utils::vec::NonEmptyVec;
use commonware_utils::{NZDuration, NZU16, NZU32, NZU64, NZUsize, TryCollect as _};
use rand_core::CryptoRng;
use tracing::{error, info};
use urbis_core::limits;

use crate::app::{ProposerConfig, UrbisApp};
use crate::codec::{ChainBlock, to_digest};
use crate::epochs::{EpochStart, SchemeProvider};
use crate::evidence::WithEvidence;
use crate::executor::{self, Finalized};
use crate::shared::{Shared, consensus_namespace};
use urbis_runtime::validators::Validator;

pub const CHANNEL_VOTES: u64 = 0;
pub const CHANNEL_CERTS: u64 = 1;
pub const CHANNEL_RESOLVER: u64 = 2;
pub const CHANNEL_BACKFILL: u64 = 3;
pub const CHANNEL_BLOCKS: u64 = 4;
pub const CHANNEL_TXS: u64 = 5;

/// Per-peer message quota on every channel. Commonware's defaults throttle consensus; this is
/// sized for hundreds of views per second plus backfill.
pub fn channel_quota() -> Quota {
    Quota::per_second(NonZeroU32::new(10_000).unwrap_or(NZU32!(1)))
}

/// Largest p2p message the chain needs (blocks with certificates, votes) with at most
/// `validators` validators in a set.
pub fn max_message_size(validators: usize) -> u32 {
    let n = validators as u32;
    let block_cfg = limits::MAX_BLOCK_BYTES;
    commonware_p2p::max_message_size(&[
        commonware_p2p::utils::mux::prefixed(simplex::max_payload_size::<
            Scheme,
            commonware_cryptography::sha256::Digest,
        >(n)),
        marshal::max_payload_size::<Standard<ChainBlock>, Scheme>(n, &block_cfg),
    ])
}

/// Most validators a set of this chain can have: the genesis set's size on a chain without
/// epochs, else the schedule's limit.
pub fn max_set_size<E: NodeContext>(shared: &Shared<E>) -> usize {
    if shared.sets.epochs.enabled() {
        urbis_runtime::validators::MAX_VALIDATORS
    } else {
        shared.validators.len()
    }
}

/// Most identities in one tracked peer set of a chain with epochs whose genesis has `genesis`
/// validators: the epoch's set and the next one's (each at most the genesis set and 4 more, at
/// least 8), and this node. Commonware preallocates every channel's inbound mailbox for a quota burst
/// from each identity it may track, so a bound of [`MAX_VALIDATORS`] for every chain would
/// cost gigabytes.
///
/// [`MAX_VALIDATORS`]: urbis_runtime::validators::MAX_VALIDATORS
pub fn peer_set_bound(genesis: usize) -> std::num::NonZeroUsize {
    let per_epoch = (genesis + 4).clamp(8, urbis_runtime::validators::MAX_VALIDATORS);
    std::num::NonZeroUsize::new(2 * per_epoch + 1).unwrap_or(NZUsize!(1))
}

/// Tells the p2p network whom to talk to in an epoch: `track(epoch, peers)` with the epoch's
/// validators and the next epoch's (so that joining validators connect and catch up one epoch
/// ahead). Ids only grow.
pub type Tracker = Arc<dyn Fn(u64, &[Validator]) + Send + Sync>;

/// Consensus timing.
#[derive(Clone, Debug)]
pub struct TimingConfig {
    pub leader_timeout: Duration,
    pub certification_timeout: Duration,
    pub timeout_retry: Duration,
}

impl TimingConfig {
    /// Timeouts that leave room for the configured block time.
    pub fn for_block_time(block_time: Duration) -> Self {
        let leader = Duration::from_secs(2).max(block_time * 4);
        TimingConfig {
            leader_timeout: leader,
            certification_timeout: leader * 2,
            timeout_retry: leader * 5,
        }
    }
}

/// What a validator needs from its runtime context (Commonware's tokio context in production,
/// the deterministic one in simulations).
pub trait NodeContext:
    Spawner + Clock + Storage + Metrics + CryptoRng + rand_core::Rng + commonware_storage::Context
{
}

impl<T> NodeContext for T where
    T: Spawner
        + Clock
        + Storage
        + Metrics
        + CryptoRng
        + rand_core::Rng
        + commonware_storage::Context
{
}

/// One p2p channel: sender and receiver.
pub type Channel<S, R> = (S, R);

/// The five channels a validator needs, registered on whichever network is in use.
pub struct Channels<S, R> {
    pub votes: Channel<S, R>,
    pub certs: Channel<S, R>,
    pub resolver: Channel<S, R>,
    pub backfill: Channel<S, R>,
    pub blocks: Channel<S, R>,
    pub txs: Channel<S, R>,
}

/// What a running validator exposes to the rest of the node.
pub struct Running {
    pub marshal: Mailbox<Scheme, Standard<ChainBlock>>,
    pub engine: Handle<()>,
    pub executor: Handle<Result<(), urbis_core::UrbisError>>,
    /// The blob store's p2p channel (only on the authenticated network).
    pub blobs: Option<crate::blobnet::BlobLink>,
}

/// The validator set as Commonware sees it.
pub fn participant_set(shared_validators: &[urbis_core::PublicKey]) -> Set<ed25519::PublicKey> {
    try_participant_set(shared_validators).expect("genesis validators are unique")
}

/// The participant set of keys from outside (a verifier's trust list): `None` when two keys
/// are the same. Keys that do not decode are left out (callers compare the lengths).
pub fn try_participant_set(
    validators: &[urbis_core::PublicKey],
) -> Option<Set<ed25519::PublicKey>> {
    validators
        .iter()
        .filter_map(|pk| {
            let bytes = pk.raw();
            commonware_codec::DecodeExt::decode(commonware_codec::Copying(bytes)).ok()
        })
        .try_collect()
        .ok()
}

/// Start consensus, marshal, application and executor for one validator.
#[allow(clippy::too_many_arguments)]
pub async fn start_validator<E, S, R, B, P>(
    context: E,
    shared: Arc<Shared<E>>,
    signer: ed25519::PrivateKey,
    proposer: ProposerConfig,
    timing: TimingConfig,
    blocker: B,
    provider: P,
    channels: Channels<S, R>,
    tracker: Tracker,
) -> Running
where
    E: NodeContext,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    B: Blocker<PublicKey = ed25519::PublicKey> + Sync,
    P: Provider<PublicKey = ed25519::PublicKey>,
{
    let namespace = consensus_namespace(&shared.chain_id);
    let schemes = SchemeProvider::new(shared.sets.clone(), namespace, Some(signer.clone()));
    let me = signer.public_key();
    let epocher = FixedEpocher::new(
        std::num::NonZeroU64::new(shared.sets.epochs.length).unwrap_or(NZU64!(u64::MAX)),
    );
    let page_cache = CacheRef::new(NZU16!(16_384), NZUsize!(4_096));
    let block_cfg = limits::MAX_BLOCK_BYTES;

    let genesis = ChainBlock::new(shared.genesis_block.clone());
    let genesis_digest = to_digest(&genesis.hash());
    let config = marshal::Config {
        provider: schemes.clone(),
        epocher: epocher.clone(),
        start: Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
        partition_prefix: format!("{}marshal", shared.partition_prefix),
        mailbox_size: NZUsize!(1024),
        view_retention: ViewDelta::new(10),
        prunable_items_per_section: NZU64!(4096),
        page_cache: page_cache.clone(),
        replay_buffer: NZUsize!(1 << 20),
        key_write_buffer: NZUsize!(1 << 20),
        value_write_buffer: NZUsize!(1 << 20),
        block_codec_config: block_cfg,
        max_repair: NZUsize!(16),
        max_pending_acks: NZUsize!(1),
        strategy: Sequential,
    };

    let resolver = mresolver::init(
        context.child("marshal_resolver"),
        mresolver::Config {
            public_key: me.clone(),
            peer_provider: provider.clone(),
            blocker: blocker.clone(),
            mailbox_size: NZUsize!(1024),
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );
    let (broadcast_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: me.clone(),
            mailbox_size: NZUsize!(1024),
            deque_size: 10,
            priority: false,
            codec_config: block_cfg,
            peer_provider: provider.clone(),
            strategy: Sequential,
        },
    );
    broadcast_engine.start(channels.blocks);

    let archive = |name: &'static str| {
        let p = format!("{}marshal-{name}", shared.partition_prefix);
        immutable::Config {
            metadata_partition: format!("{p}-metadata"),
            freezer_table_partition: format!("{p}-freezer-table"),
            freezer_table_initial_size: 65_536,
            freezer_table_resize_frequency: 4,
            freezer_table_resize_chunk_size: 1 << 14,
            freezer_key_partition: format!("{p}-freezer-key"),
            freezer_key_page_cache: page_cache.clone(),
            freezer_value_partition: format!("{p}-freezer-value"),
            freezer_value_target_size: 1 << 29,
            freezer_value_compression: None,
            ordinal_partition: format!("{p}-ordinal"),
            items_per_section: NZU64!(262_144),
            codec_config: (),
            replay_buffer: NZUsize!(1 << 20),
            freezer_key_write_buffer: NZUsize!(1 << 20),
            freezer_value_write_buffer: NZUsize!(1 << 20),
            ordinal_write_buffer: NZUsize!(1 << 20),
        }
    };
    let fin_cfg = archive("finalizations");
    let finalizations = immutable::Archive::init(
        context.child("finalizations_by_height"),
        immutable::Config {
            codec_config: Scheme::certificate_codec_config_unbounded(),
            metadata_partition: fin_cfg.metadata_partition,
            freezer_table_partition: fin_cfg.freezer_table_partition,
            freezer_table_initial_size: fin_cfg.freezer_table_initial_size,
            freezer_table_resize_frequency: fin_cfg.freezer_table_resize_frequency,
            freezer_table_resize_chunk_size: fin_cfg.freezer_table_resize_chunk_size,
            freezer_key_partition: fin_cfg.freezer_key_partition,
            freezer_key_page_cache: fin_cfg.freezer_key_page_cache,
            freezer_value_partition: fin_cfg.freezer_value_partition,
            freezer_value_target_size: fin_cfg.freezer_value_target_size,
            freezer_value_compression: None,
            ordinal_partition: fin_cfg.ordinal_partition,
            items_per_section: fin_cfg.items_per_section,
            replay_buffer: fin_cfg.replay_buffer,
            freezer_key_write_buffer: fin_cfg.freezer_key_write_buffer,
            freezer_value_write_buffer: fin_cfg.freezer_value_write_buffer,
            ordinal_write_buffer: fin_cfg.ordinal_write_buffer,
        },
    )
    .await
    .expect("open the finalizations archive");
    let blk_cfg = archive("blocks");
    let blocks = immutable::Archive::init(
        context.child("finalized_blocks"),
        immutable::Config {
            codec_config: block_cfg,
            metadata_partition: blk_cfg.metadata_partition,
            freezer_table_partition: blk_cfg.freezer_table_partition,
            freezer_table_initial_size: blk_cfg.freezer_table_initial_size,
            freezer_table_resize_frequency: blk_cfg.freezer_table_resize_frequency,
            freezer_table_resize_chunk_size: blk_cfg.freezer_table_resize_chunk_size,
            freezer_key_partition: blk_cfg.freezer_key_partition,
            freezer_key_page_cache: blk_cfg.freezer_key_page_cache,
            freezer_value_partition: blk_cfg.freezer_value_partition,
            freezer_value_target_size: blk_cfg.freezer_value_target_size,
            freezer_value_compression: None,
            ordinal_partition: blk_cfg.ordinal_partition,
            items_per_section: blk_cfg.items_per_section,
            replay_buffer: blk_cfg.replay_buffer,
            freezer_key_write_buffer: blk_cfg.freezer_key_write_buffer,
            freezer_value_write_buffer: blk_cfg.freezer_value_write_buffer,
            ordinal_write_buffer: blk_cfg.ordinal_write_buffer,
        },
    )
    .await
    .expect("open the blocks archive");

    let (actor, mailbox, floor) =
        Actor::init(context.child("marshal"), finalizations, blocks, config).await;
    info!(
        processed = ?floor.processed().map(|p| p.height()),
        executed = shared.executed_height(),
        "marshal ready"
    );
    let (finalized, deliveries) = Finalized::new(shared.finalized_tip.clone());
    actor.start(finalized, buffer, resolver);
    if let Some((stored, _)) = mailbox
        .get_info(commonware_consensus::marshal::Identifier::Latest)
        .await
    {
        shared
            .startup_height
            .fetch_max(stored.get(), std::sync::atomic::Ordering::Relaxed);
    }

    let exec_shared = shared.clone();
    let exec_marshal = mailbox.clone();
    let executor = context.child("executor").spawn(move |ctx| async move {
        let r = executor::run(ctx, exec_shared, Some(exec_marshal), deliveries).await;
        if let Err(e) = &r {
            error!(%e, "executor stopped");
        }
        r
    });

    // Transaction gossip.
    let (gossip_tx, gossip_rx) = tokio::sync::mpsc::channel(crate::shared::GOSSIP_QUEUE);
    if shared.gossip.set(gossip_tx).is_err() {
        error!("transaction gossip was already started for this node");
    }
    let (txs_sender, txs_receiver) = channels.txs;
    context
        .child("gossip_out")
        .spawn(move |_| crate::gossip::outbound(gossip_rx, txs_sender));
    let gossip_shared = shared.clone();
    context
        .child("gossip_in")
        .spawn(move |_| crate::gossip::inbound(gossip_shared, txs_receiver));

    let proposer = ProposerConfig {
        leader_timeout: timing.leader_timeout,
        ..proposer
    };
    let app = UrbisApp::new(shared.clone(), proposer);
    let inline = Inline::new(
        context.child("application"),
        app,
        mailbox.clone(),
        epocher.clone(),
    );
    let (votes_sender, votes_receiver) = channels.votes;
    let votes_receiver = crate::peers::Observed {
        inner: votes_receiver,
        seen: shared.peers.clone(),
    };
    let orchestrator = Orchestrator {
        shared,
        schemes,
        inline,
        marshal: mailbox.clone(),
        epocher,
        blocker,
        timing,
        page_cache,
        tracker,
    };
    let engine = context.child("orchestrator").spawn(move |ctx| {
        orchestrator.run(
            ctx,
            (votes_sender, votes_receiver),
            channels.certs,
            channels.resolver,
        )
    });
    Running {
        marshal: mailbox,
        engine,
        executor,
        blobs: None,
    }
}

/// Runs the simplex engine of the current epoch and moves to the next one at each boundary.
struct Orchestrator<E: NodeContext, B> {
    shared: Arc<Shared<E>>,
    schemes: SchemeProvider,
    inline: Inline<E, Scheme, UrbisApp<E>, ChainBlock, FixedEpocher>,
    marshal: Mailbox<Scheme, Standard<ChainBlock>>,
    epocher: FixedEpocher,
    blocker: B,
    timing: TimingConfig,
    page_cache: CacheRef,
    tracker: Tracker,
}

impl<E, B> Orchestrator<E, B>
where
    E: NodeContext,
    B: Blocker<PublicKey = ed25519::PublicKey> + Sync,
{
    async fn run<S, R>(
        self,
        ctx: E,
        votes: (S, crate::peers::Observed<R>),
        certs: Channel<S, R>,
        resolver: Channel<S, R>,
    ) where
        S: Sender<PublicKey = ed25519::PublicKey>,
        R: Receiver<PublicKey = ed25519::PublicKey>,
    {
        use commonware_p2p::utils::mux::{Builder as _, Muxer};
        use futures::FutureExt as _;

        let (mux, mut votes_mux, mut votes_other) =
            Muxer::builder(ctx.child("votes_mux"), votes.0, votes.1)
                .with_backup()
                .build();
        mux.start();
        let (mux, mut certs_mux) = Muxer::new(ctx.child("certs_mux"), certs.0, certs.1);
        mux.start();
        let (mux, mut resolver_mux) = Muxer::new(ctx.child("resolver_mux"), resolver.0, resolver.1);
        mux.start();

        let mut current = self.shared.sets.current.subscribe();
        let mut running: Option<(u64, Handle<()>)> = None;
        let mut tracked: Option<u64> = None;
        loop {
            let start = *current.borrow_and_update();
            if running.as_ref().is_none_or(|(e, _)| *e < start.epoch) {
                if let Some((old, handle)) = running.take() {
                    handle.abort();
                    info!(epoch = old, "left epoch");
                }
                if tracked.is_none_or(|t| t < start.epoch) {
                    self.track(start.epoch);
                    tracked = Some(start.epoch);
                }
                let Some(handle) = self
                    .enter(
                        &ctx,
                        start,
                        &mut votes_mux,
                        &mut certs_mux,
                        &mut resolver_mux,
                    )
                    .await
                else {
                    return;
                };
                running = Some((start.epoch, handle));
            }
            futures::select_biased! {
                changed = current.changed().fuse() => {
                    if changed.is_err() {
                        return;
                    }
                }
                other = votes_other.recv().fuse() => {
                    let Some((their_epoch, (from, _))) = other else {
                        return;
                    };
                    // A peer votes in a later epoch: this node has not seen the finalization
                    // of its epoch's last block yet; ask that peer for it.
                    if their_epoch > start.epoch
                        && let Some(last) = self.epocher.last(Epoch::new(start.epoch))
                    {
                        self.marshal.hint_finalized(last, NonEmptyVec::new(from));
                    }
                }
            }
        }
    }

    /// Tell the p2p network about `epoch`'s validators and the next epoch's.
    fn track(&self, epoch: u64) {
        let sets = &self.shared.sets;
        let mut peers: Vec<Validator> = Vec::new();
        for e in [epoch, epoch.saturating_add(1)] {
            if let Some(set) = sets.get(e) {
                for v in &set.validators {
                    if !peers.iter().any(|p| p.public_key == v.public_key) {
                        peers.push(v.clone());
                    }
                }
            }
        }
        (self.tracker)(epoch, &peers);
    }

    /// Start the engine of `start.epoch` from its floor.
    async fn enter<S>(
        &self,
        ctx: &E,
        start: EpochStart,
        votes: &mut commonware_p2p::utils::mux::MuxHandle<S>,
        certs: &mut commonware_p2p::utils::mux::MuxHandle<S>,
        resolver: &mut commonware_p2p::utils::mux::MuxHandle<S>,
    ) -> Option<Handle<()>>
    where
        S: Sender<PublicKey = ed25519::PublicKey>,
    {
        let epoch = start.epoch;
        let Some((scheme, signs)) = self.schemes.scheme_for(epoch) else {
            error!(epoch, "no validator set for the epoch to enter");
            return None;
        };
        let shared = &self.shared;
        let partition = if epoch == 0 {
            format!("{}simplex", shared.partition_prefix)
        } else {
            format!("{}simplex-{epoch}", shared.partition_prefix)
        };
        let reporter = WithEvidence {
            inner: self.inline.clone(),
            log: shared.evidence.clone(),
            scheme: scheme.clone(),
        };
        let timing = &self.timing;
        let engine = simplex::Engine::new(
            ctx.child("simplex").with_attribute("epoch", epoch),
            simplex::Config {
                scheme,
                elector: RoundRobin::<Sha256>::default(),
                blocker: self.blocker.clone(),
                automaton: self.inline.clone(),
                relay: self.inline.clone(),
                reporter,
                partition,
                mailbox_size: NZUsize!(1024),
                epoch: Epoch::new(epoch),
                floor: simplex::Floor::Genesis(to_digest(&start.floor)),
                replay_buffer: NZUsize!(1 << 20),
                write_buffer: NZUsize!(1 << 20),
                leader_timeout: timing.leader_timeout,
                certification_timeout: timing.certification_timeout,
                timeout_retry: timing.timeout_retry,
                fetch_timeout: NZDuration!(Duration::from_secs(1)),
                fetch_retry_delay: Duration::from_millis(100),
                view_retention: ViewDelta::new(10),
                skip: SkipPolicy::Enabled {
                    timeout: timing.timeout_retry + Duration::from_secs(1),
                    budget: SkipBudget::Participants,
                },
                page_cache: self.page_cache.clone(),
                strategy: Sequential,
                forward: ForwardPolicy::Disabled,
                track_historical_votes: false,
            },
        );
        let v = votes.register(epoch).await.ok()?;
        let c = certs.register(epoch).await.ok()?;
        let r = resolver.register(epoch).await.ok()?;
        info!(epoch, signs, floor = %start.floor, "entered epoch");
        Some(engine.start(v, c, r))
    }
}

/// A validator on Commonware's authenticated p2p network (encrypted, talking only to the
/// validator set). With a single validator (the dev chain) nobody dials in, and consensus runs the
/// same path as on a consortium.
pub async fn start_networked<E>(
    context: E,
    shared: Arc<Shared<E>>,
    signer: ed25519::PrivateKey,
    proposer: ProposerConfig,
    listen: SocketAddr,
    peers: Vec<(ed25519::PublicKey, SocketAddr)>,
) -> Running
where
    E: NodeContext + commonware_runtime::Network + commonware_runtime::Resolver,
{
    use commonware_p2p::AddressableManager as _;
    use commonware_p2p::authenticated::{self, lookup};
    use commonware_stream::cups::{self, Cups};
    use commonware_stream::sake::{self, Sake};

    let me = signer.public_key();
    let p2p_namespace = format!("urbis/{}/p2p", shared.chain_id).into_bytes();
    let set_size = max_set_size(&shared);
    // A peer set is an epoch's validators and the next epoch's. Commonware sizes each
    // channel's inbound mailbox for a quota burst from every identity it may track, so the
    // bound is kept to what a consortium needs (see `peer_set_bound`).
    let per_set = if shared.sets.epochs.enabled() {
        peer_set_bound(shared.validators.len())
    } else {
        authenticated::peer_set_limit(participant_set(&shared.validators).iter(), &me)
    };
    let mut cfg = lookup::Config::local(
        Cups::<_, ChaCha20Poly1305>::new(
            Sake {
                signer: signer.clone(),
                synchrony_bound: Duration::from_secs(5),
                max_handshake_age: Duration::from_secs(10),
                version: sake::Version::V1,
            },
            cups::Version::V1,
        ),
        &p2p_namespace,
        listen,
        per_set,
        max_message_size(set_size)
            .max(crate::gossip::max_gossip_bytes() as u32)
            .max(crate::blobnet::MAX_BLOB_MESSAGE as u32),
        NZUsize!(4_096),
    );
    // One peer set: the current epoch's validators and the next epoch's (which includes every
    // validator that still matters to a straggler of the epoch before).
    cfg.tracked_peer_sets = NZUsize!(1);
    let (mut network, oracle) = lookup::Network::new(context.child("network"), cfg);
    // Addresses from this node's configuration win over those the chain records (a validator
    // may reach a peer at a private address); the others come from the validator schedule.
    let configured: std::collections::BTreeMap<ed25519::PublicKey, SocketAddr> =
        peers.into_iter().collect();
    let tracking = oracle.clone();
    let room = per_set.get().saturating_sub(1);
    let tracker: Tracker = Arc::new(move |epoch, validators| {
        let others: Vec<(ed25519::PublicKey, &Validator)> = validators
            .iter()
            .filter_map(|v| {
                let pk = try_participant_set(std::slice::from_ref(&v.public_key))
                    .and_then(|s| s.iter().next().cloned())?;
                (pk != me).then_some((pk, v))
            })
            .collect();
        if others.len() > room {
            error!(
                epoch,
                peers = others.len(),
                room,
                "more validators than this node's p2p network was sized for: only the first are \
                 tracked; restart the node to size it for the new set"
            );
        }
        let mut known = Vec::new();
        for (pk, v) in others.into_iter().take(room) {
            let addr = configured
                .get(&pk)
                .copied()
                .or_else(|| v.address.parse::<SocketAddr>().ok());
            match addr {
                Some(a) => known.push((pk, commonware_p2p::Address::from(a))),
                None => tracing::warn!(
                    validator = %v.name,
                    address = %v.address,
                    "no usable p2p address for a validator; it is not dialled"
                ),
            }
        }
        let Ok(map) = known
            .into_iter()
            .try_collect::<Map<ed25519::PublicKey, commonware_p2p::Address>>()
        else {
            return;
        };
        let _ = tracking.clone().track(epoch, map);
    });
    let q = channel_quota();
    let channels = Channels {
        votes: network.register(CHANNEL_VOTES, q),
        certs: network.register(CHANNEL_CERTS, q),
        resolver: network.register(CHANNEL_RESOLVER, q),
        backfill: network.register(CHANNEL_BACKFILL, q),
        blocks: network.register(CHANNEL_BLOCKS, q),
        txs: network.register(CHANNEL_TXS, q),
    };
    let (blob_sender, blob_receiver) = network.register(crate::blobnet::CHANNEL_BLOBS, q);
    let (link, send, recv) = crate::blobnet::bridge(blob_sender, blob_receiver);
    context.child("blobs_out").spawn(move |_| send);
    context.child("blobs_in").spawn(move |_| recv);
    network.start();
    let timing = TimingConfig::for_block_time(proposer.block_time);
    let mut running = start_validator(
        context,
        shared,
        signer,
        proposer,
        timing,
        oracle.clone(),
        oracle,
        channels,
        tracker,
    )
    .await;
    running.blobs = Some(link);
    running
}
