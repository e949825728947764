//! State shared by the consensus application, the executor and the API.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use commonware_runtime::Spawner;
use tokio::sync::{Mutex, broadcast, mpsc, watch};
use urbis_core::hash::domain;
use urbis_core::{
    Block, ChainRef, ErrorCode, Event, Hash, Header, PublicKey, Receipt, SignedTx, UrbisError,
    sha256_domain,
};
use urbis_runtime::{Admission, Genesis, MemState, MemberCache, Runtime, WriteSet};
use urbis_state::{AuthState, BlockRecord, ChainStore};

use crate::evidence::EvidenceLog;
use crate::mempool::{Mempool, MempoolConfig};
use crate::prover::ProofRequest;

/// Transactions waiting to be relayed to the other validators; beyond this, relaying is
/// skipped (the transaction stays in this node's mempool and is proposed by this node).
pub const GOSSIP_QUEUE: usize = 16_384;

/// Proof requests waiting for the executor; beyond this the API answers `overloaded`.
pub const PROOF_QUEUE: usize = 1_024;

/// Finalized blocks a node may have left to execute and still count as caught up. A node under
/// load is routinely a few blocks behind its finalized tip for a moment (a large block, a
/// periodic state sync); refusing submissions then would only bounce load. A node replaying or
/// catching up is far more behind than this.
pub const READY_LAG: u64 = 8;

/// Blocks whose local arrival time is remembered (for pacing).
const ARRIVALS_KEPT: usize = 1_024;

/// Executed blocks buffered for event-stream subscribers.
pub const EVENT_BUFFER_BLOCKS: usize = 64;

/// What the executor announces after each block (for the event stream and waiters).
#[derive(Clone, Debug)]
pub struct ExecutedBlock {
    pub height: u64,
    pub hash: Hash,
    pub timestamp_ms: u64,
    pub state_root: Hash,
    pub receipts: Vec<Receipt>,
    /// Events of the block's end-of-block work.
    pub block_events: Vec<Event>,
}

/// Counters exported at `/metrics`.
#[derive(Default)]
pub struct Counters {
    pub txs_committed: AtomicU64,
    pub txs_failed: AtomicU64,
    pub blocks_executed: AtomicU64,
    pub proposals: AtomicU64,
    pub verify_rejections: AtomicU64,
    /// Transactions not relayed because the gossip queue was full.
    pub gossip_dropped: AtomicU64,
    /// Sum and count of finalization latency (proposal timestamp to execution), milliseconds.
    pub finality_ms_sum: AtomicU64,
    pub finality_samples: AtomicU64,
    pub last_finality_ms: AtomicU64,
    /// CPU time (µs) of the node's stages: block execution, recording blocks in the chain
    /// store, event indexing.
    pub cpu_execute_us: AtomicU64,
    pub cpu_record_us: AtomicU64,
    pub cpu_index_us: AtomicU64,
}

/// CPU time the calling thread has used, in microseconds (0 where the platform cannot say).
pub fn thread_cpu_us() -> u64 {
    #[cfg(unix)]
    {
        cpu_us(rustix::time::ClockId::ThreadCPUTime)
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// CPU time the whole process has used, in microseconds (0 where the platform cannot say).
pub fn process_cpu_us() -> u64 {
    #[cfg(unix)]
    {
        cpu_us(rustix::time::ClockId::ProcessCPUTime)
    }
    #[cfg(not(unix))]
    {
        0
    }
}

#[cfg(unix)]
fn cpu_us(clock: rustix::time::ClockId) -> u64 {
    let t = rustix::time::clock_gettime(clock);
    (t.tv_sec as u64).saturating_mul(1_000_000) + t.tv_nsec as u64 / 1_000
}

impl Counters {
    /// Add the CPU time the calling thread spent in `f` to `c`.
    pub fn cpu<T>(c: &AtomicU64, f: impl FnOnce() -> T) -> T {
        let start = thread_cpu_us();
        let out = f();
        Self::add(c, thread_cpu_us().saturating_sub(start));
        out
    }

    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// When blocks arrived at this node, by digest (local clock; pacing only, never state).
#[derive(Default)]
pub struct Arrivals {
    inner: std::sync::Mutex<(HashMap<Hash, u64>, VecDeque<Hash>)>,
}

impl Arrivals {
    /// Remember the first time `digest` was seen.
    pub fn saw(&self, digest: Hash, at_ms: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *g;
        if map.contains_key(&digest) {
            return;
        }
        map.insert(digest, at_ms);
        order.push_back(digest);
        while order.len() > ARRIVALS_KEPT {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    pub fn get(&self, digest: &Hash) -> Option<u64> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0.get(digest).copied()
    }
}

/// Transaction ids of a block, by (height, block digest).
type TxIdCache = std::collections::BTreeMap<(u64, Hash), Arc<Vec<Hash>>>;

pub struct Shared<E: commonware_storage::Context + Spawner> {
    /// Transaction ids of recent blocks, by (height, digest): proposals and verifications look
    /// at the same unexecuted ancestors again and again, and hashing every transaction of each
    /// was a visible share of the node's work.
    tx_ids: std::sync::Mutex<TxIdCache>,
    /// The door's answers to "does this sender hold a role?", valid for one executed height
    /// (membership changes only when a block executes).
    door_members: std::sync::Mutex<(Option<u64>, MemberCache)>,
    pub chain_id: String,
    /// The chain id and genesis block digest that transactions are signed for.
    pub chain_ref: ChainRef,
    /// Prefix of every storage partition of this node (several nodes can share one runtime's
    /// storage in simulations).
    pub partition_prefix: String,
    pub genesis: Genesis,
    pub genesis_block: Block,
    /// The genesis validators.
    pub validators: Vec<PublicKey>,
    /// Epochs and each one's validators (see [`crate::epochs`]).
    pub sets: Arc<crate::epochs::EpochSets>,
    pub runtime: Runtime,
    pub chain: Arc<ChainStore>,
    pub auth: Mutex<AuthState<E>>,
    pub mempool: Mempool,
    pub executed: watch::Sender<u64>,
    pub events: broadcast::Sender<Arc<ExecutedBlock>>,
    pub counters: Arc<Counters>,
    pub evidence: Arc<EvidenceLog>,
    /// Set by the engine when a p2p network is running: transactions admitted through the API
    /// are forwarded to the other validators (bounded: see [`GOSSIP_QUEUE`]).
    pub gossip: OnceLock<mpsc::Sender<SignedTx>>,
    /// Proof requests for the executor, which owns the authenticated store between blocks.
    pub proofs: mpsc::Sender<ProofRequest>,
    /// Completed proof bundles, answered again while their value is current.
    pub proof_cache: std::sync::Mutex<crate::prover::ProofCache>,
    /// The executor's end of `proofs`, taken when it starts.
    pub proof_requests: std::sync::Mutex<Option<mpsc::Receiver<ProofRequest>>>,
    /// When blocks arrived locally (for pacing).
    pub arrivals: Arrivals,
    /// Set when the node must stop: a fault it cannot work around (a storage error while
    /// verifying, say). The node process watches it and exits with the reason.
    pub halted: watch::Sender<Option<String>>,
    /// Highest finalized height this node has heard of (from marshal), executed or not.
    pub finalized_tip: Arc<std::sync::atomic::AtomicU64>,
    /// Highest finalized height this node had stored when it started; until it hears of a
    /// higher one from the network it cannot know how far behind it is.
    pub startup_height: std::sync::atomic::AtomicU64,
    /// Validators this node hears from (for metrics).
    pub peers: Arc<crate::peers::PeerSeen>,
    /// State-sync targets this node offers, the oldest first (see [`SyncOffer`]).
    pub sync_offers: std::sync::Mutex<VecDeque<Arc<SyncOffer>>>,
    /// Set when a syncing node asked for an offer: offers are made only then (holding one
    /// keeps a chain-store read snapshot and part of the operation log alive).
    pub sync_wanted: std::sync::atomic::AtomicBool,
}

/// A state this node offers to nodes that sync from it: the authenticated store's target at a
/// height a finalized block certifies, and the logical state (a read snapshot of the chain
/// store) at that height.
pub struct SyncOffer {
    pub target: urbis_state::sync::SyncTarget,
    /// The block whose header certifies `target.root` (its `state_height` is the target's).
    pub certified_by: u64,
    pub values: urbis_state::StateSnapshot,
    /// When it was made: offers expire after [`SYNC_OFFER_TTL`].
    pub made: std::time::Instant,
}

/// How long an offer is kept.
pub const SYNC_OFFER_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// Blocks between two state-sync offers.
pub const SYNC_OFFER_EVERY: u64 = 256;

/// Offers kept: a node syncing from the older one can finish while the newer one is made.
pub const SYNC_OFFERS_KEPT: usize = 2;

/// The genesis block of `genesis`, whose state has root `root`.
pub fn genesis_block(genesis: &Genesis, root: Hash) -> Block {
    let mut sorted: Vec<PublicKey> = genesis.validators.iter().map(|v| v.public_key).collect();
    sorted.sort();
    Block {
        header: Header {
            chain_id: genesis.chain_id.clone(),
            height: 0,
            parent: Hash::ZERO,
            view: 0,
            timestamp_ms: genesis.genesis_time_ms,
            proposer: sorted[0],
            txs_root: Block::compute_txs_root(&[]),
            tx_count: 0,
            state_height: 0,
            state_root: root,
            receipts_acc: urbis_core::receipts_acc(
                &Hash::ZERO,
                &urbis_core::receipts_root(&[], &[]),
            ),
            validator_set: validator_set_hash(&sorted),
        },
        txs: vec![],
    }
}

/// The genesis block of `genesis`, computing its state in scratch partitions `prefix-*` that
/// are removed again (for a node that starts from a state sync, not from genesis).
pub async fn compute_genesis_block<E>(
    context: E,
    prefix: &str,
    genesis: &Genesis,
    runtime: &Runtime,
) -> Result<Block, UrbisError>
where
    E: commonware_storage::Context + Spawner,
{
    if genesis.validators.is_empty() {
        return Err(UrbisError::new(
            ErrorCode::InvalidArgument,
            "genesis lists no validators",
        ));
    }
    let writes: WriteSet = runtime.genesis(&MemState::default(), genesis)?;
    let mut scratch = AuthState::open(context, prefix).await?;
    let root = scratch.apply(0, &writes).await?;
    scratch.destroy().await?;
    Ok(genesis_block(genesis, root))
}

/// Where consensus starts after executing `executed`: the epoch after it if it is its epoch's
/// last block, else its own epoch, from the block before that epoch (genesis for epoch 0).
/// A state-synced node that lacks that block gets a zero floor (it runs no consensus).
pub fn epoch_start(
    chain: &ChainStore,
    genesis: &Genesis,
    genesis_block: &Block,
    executed: u64,
) -> Result<crate::epochs::EpochStart, UrbisError> {
    let epochs = urbis_runtime::validators::Epochs::new(genesis.epoch_length);
    let (epoch, floor_height) = if epochs.is_boundary(executed) {
        (epochs.of(executed) + 1, Some(executed))
    } else {
        let e = epochs.of(executed);
        (e, e.checked_sub(1).map(|p| epochs.last(p)))
    };
    let floor = match floor_height {
        None => genesis_block.digest(),
        Some(h) => chain.block(h)?.map_or(Hash::ZERO, |b| b.digest()),
    };
    Ok(crate::epochs::EpochStart { epoch, floor })
}

/// Hash identifying a validator set (sorted public keys).
pub fn validator_set_hash(validators: &[PublicKey]) -> Hash {
    let mut sorted = validators.to_vec();
    sorted.sort();
    let bytes = borsh::to_vec(&sorted).expect("borsh to vec never fails");
    sha256_domain(domain::VALIDATOR_SET, &[&bytes])
}

/// The consensus namespace of a chain: distinct per chain so that votes for one chain can never
/// count on another.
pub fn consensus_namespace(chain_id: &str) -> Vec<u8> {
    format!("urbis/{chain_id}/consensus").into_bytes()
}

impl<E: commonware_storage::Context + Spawner> Shared<E> {
    /// Most blocks whose transaction ids are kept.
    const TX_IDS_KEPT: usize = 64;

    /// The ids of `block`'s transactions, computed once per block.
    pub fn block_tx_ids(&self, block: &urbis_core::Block) -> Arc<Vec<Hash>> {
        let key = (block.header.height, block.digest());
        if let Some(ids) = self
            .tx_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return ids.clone();
        }
        let ids: Arc<Vec<Hash>> = Arc::new(block.txs.iter().map(SignedTx::hash).collect());
        let mut cache = self.tx_ids.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(key, ids.clone());
        while cache.len() > Self::TX_IDS_KEPT {
            cache.pop_first();
        }
        ids
    }

    /// Open the stores and, on first start, write the genesis state and genesis block.
    pub async fn open(
        context: E,
        partition_prefix: &str,
        chain: Arc<ChainStore>,
        genesis: Genesis,
        runtime: Runtime,
        mempool: MempoolConfig,
    ) -> Result<Self, UrbisError> {
        let mut auth = AuthState::open(context, &format!("{partition_prefix}state")).await?;
        check_consistency(auth.height(), chain.executed_height()?)?;
        let validators: Vec<PublicKey> = genesis.validators.iter().map(|v| v.public_key).collect();
        if validators.is_empty() {
            return Err(UrbisError::new(
                ErrorCode::InvalidArgument,
                "genesis lists no validators",
            ));
        }
        let validator_set = validator_set_hash(&validators);
        let genesis_block = match chain.block(0)? {
            Some(b) => b,
            None => {
                let writes: WriteSet = runtime.genesis(&MemState::default(), &genesis)?;
                let root = match auth.height() {
                    Some(0) => auth.root()?,
                    None => auth.apply(0, &writes).await?,
                    Some(h) => {
                        return Err(UrbisError::new(
                            ErrorCode::Internal,
                            format!("state is at height {h} but the chain store is empty"),
                        ));
                    }
                };
                let block = genesis_block(&genesis, root);
                chain.commit_block(BlockRecord {
                    block: &block,
                    receipts: &[],
                    block_events: &[],
                    writes: &writes,
                    state_root: root,
                    finalization: None,
                })?;
                block
            }
        };
        if genesis_block.header.chain_id != genesis.chain_id
            || genesis_block.header.validator_set != validator_set
        {
            return Err(UrbisError::new(
                ErrorCode::InvalidArgument,
                "the data directory belongs to a different genesis (chain id or validators differ)",
            ));
        }
        let executed = chain.executed_height()?.unwrap_or(0);
        let start = epoch_start(&chain, &genesis, &genesis_block, executed)?;
        let sets = Arc::new(crate::epochs::EpochSets::open(
            &genesis,
            &chain.state_view()?,
            executed,
            start,
        )?);
        let (executed_tx, _) = watch::channel(executed);
        // Executed blocks (with their receipts) kept for slow event-stream readers: bounded so
        // that a stalled reader costs at most this many blocks of memory (it then gets `lagged`).
        let (events, _) = broadcast::channel(EVENT_BUFFER_BLOCKS);
        let (proofs, proof_requests) = mpsc::channel(PROOF_QUEUE);
        let evidence = Arc::new(EvidenceLog::open(chain.clone())?);
        Ok(Shared {
            tx_ids: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            door_members: std::sync::Mutex::new((None, MemberCache::default())),
            chain_id: genesis.chain_id.clone(),
            chain_ref: ChainRef::new(genesis.chain_id.clone(), genesis_block.digest()),
            partition_prefix: partition_prefix.to_string(),
            genesis,
            genesis_block,
            validators,
            sets,
            runtime,
            chain,
            auth: Mutex::new(auth),
            mempool: Mempool::new(mempool),
            executed: executed_tx,
            events,
            counters: Arc::default(),
            evidence,
            gossip: OnceLock::new(),
            proofs,
            proof_cache: std::sync::Mutex::default(),
            proof_requests: std::sync::Mutex::new(Some(proof_requests)),
            arrivals: Arrivals::default(),
            halted: watch::channel(None).0,
            finalized_tip: Arc::new(std::sync::atomic::AtomicU64::new(executed)),
            startup_height: std::sync::atomic::AtomicU64::new(executed),
            peers: Arc::new(crate::peers::PeerSeen::default()),
            sync_offers: std::sync::Mutex::new(VecDeque::new()),
            sync_wanted: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn executed_height(&self) -> u64 {
        *self.executed.borrow()
    }

    /// How many finalized blocks this node still has to execute.
    pub fn lag(&self) -> u64 {
        self.finalized_tip
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_sub(self.executed_height())
    }

    /// Caught up with the finalized chain (at most [`READY_LAG`] finalized blocks not yet
    /// executed), having heard of at least one finalization since start (until then a
    /// restarted node cannot know how far behind it is).
    pub fn caught_up(&self) -> bool {
        let tip = self
            .finalized_tip
            .load(std::sync::atomic::Ordering::Relaxed);
        tip > self
            .startup_height
            .load(std::sync::atomic::Ordering::Relaxed)
            && self.lag() <= READY_LAG
    }

    /// Wait until the executor has executed `height`.
    pub async fn wait_executed(&self, height: u64) {
        let mut rx = self.executed.subscribe();
        // The sender lives as long as `self`, so this only ends when the height is reached.
        let _ = rx.wait_for(|h| *h >= height).await;
    }

    /// Stop the node: a fault it cannot work around. Logged loudly; the node process exits.
    pub fn halt(&self, why: impl Into<String>) {
        let why = why.into();
        tracing::error!(%why, "halting the node");
        self.halted.send_if_modified(|h| {
            if h.is_none() {
                *h = Some(why);
                true
            } else {
                false
            }
        });
    }

    /// Admit a transaction submitted by a client, and forward it to the other validators.
    pub fn submit(&self, tx: SignedTx) -> Result<Hash, UrbisError> {
        self.ensure_ready()?;
        tx.check_stateless(&self.chain_ref)?;
        let view = self.chain.state_view()?;
        for r in self.runtime.precheck_many(&view, std::slice::from_ref(&tx)) {
            r?;
        }
        let hash = self.admit(&view, &mut MemberCache::default(), tx.clone(), false)?;
        self.relay(tx);
        Ok(hash)
    }

    /// Admit many client transactions at once: signatures are checked on all cores, then each
    /// transaction is admitted in order (so one sender's consecutive nonces can share a batch).
    pub fn submit_batch(
        &self,
        txs: Vec<SignedTx>,
    ) -> Result<Vec<Result<Hash, UrbisError>>, UrbisError> {
        self.ensure_ready()?;
        let checks = urbis_core::tx::check_stateless_many(&txs, &self.chain_ref);
        let (view, height) = self.door_view()?;
        let prechecks = self.runtime.precheck_many(&view, &txs);
        let mut members = self.take_door_members(height);
        let results = txs
            .into_iter()
            .zip(checks)
            .zip(prechecks)
            .map(|((tx, check), precheck)| {
                check?;
                precheck?;
                let hash = self.admit(&view, &mut members, tx.clone(), false)?;
                self.relay(tx);
                Ok(hash)
            })
            .collect();
        self.return_door_members(height, members);
        Ok(results)
    }

    /// A state snapshot for door checks and the executed height it is at (`None` if the
    /// height moved while it was taken: then nothing is cached for it).
    fn door_view(&self) -> Result<(urbis_state::StateSnapshot, Option<u64>), UrbisError> {
        let before = self.chain.executed_height()?;
        let view = self.chain.state_view()?;
        let after = self.chain.executed_height()?;
        Ok((view, if before == after { after } else { None }))
    }

    /// The door's membership answers for `height` (empty for another height).
    fn take_door_members(&self, height: Option<u64>) -> MemberCache {
        let mut slot = self.door_members.lock().unwrap_or_else(|p| p.into_inner());
        match height {
            Some(h) if slot.0 == Some(h) => std::mem::take(&mut slot.1),
            _ => MemberCache::default(),
        }
    }

    /// Keep `members` (answers at `height`) for the next batch, unless a fuller or newer set
    /// is kept already.
    fn return_door_members(&self, height: Option<u64>, members: MemberCache) {
        let Some(h) = height else { return };
        let mut slot = self.door_members.lock().unwrap_or_else(|p| p.into_inner());
        let newer = slot.0.is_none_or(|k| h > k);
        if newer || (slot.0 == Some(h) && members.len() >= slot.1.len()) {
            *slot = (Some(h), members);
        }
    }

    /// Forward a locally admitted transaction to the other validators, unless the relay queue
    /// is full (then only this node proposes it).
    fn relay(&self, tx: SignedTx) {
        if let Some(g) = self.gossip.get()
            && g.try_send(tx).is_err()
        {
            Counters::add(&self.counters.gossip_dropped, 1);
        }
    }

    fn ensure_ready(&self) -> Result<(), UrbisError> {
        if self.caught_up() {
            return Ok(());
        }
        let why = if self.lag() > READY_LAG {
            format!("it is {} blocks behind", self.lag())
        } else {
            "it has not yet seen a new finalized block since it started".to_string()
        };
        Err(UrbisError::new(
            ErrorCode::NotReady,
            format!("this node is catching up ({why}); retry shortly or use another node"),
        ))
    }

    /// Admit a batch relayed by a peer, its signatures batch-verified on all cores.
    pub fn submit_from_peer_batch(&self, txs: Vec<SignedTx>) -> usize {
        let checks = urbis_core::tx::check_stateless_many(&txs, &self.chain_ref);
        let Ok((view, height)) = self.door_view() else {
            return 0;
        };
        let prechecks = self.runtime.precheck_many(&view, &txs);
        let mut members = self.take_door_members(height);
        let admitted = txs
            .into_iter()
            .zip(checks)
            .zip(prechecks)
            .filter(|((tx, check), precheck)| {
                check.is_ok()
                    && precheck.is_ok()
                    && self.admit(&view, &mut members, tx.clone(), true).is_ok()
            })
            .count();
        self.return_door_members(height, members);
        admitted
    }

    /// Door checks of a transaction whose stateless checks passed, then admission to the
    /// mempool. `view` is recent state, for the gate (who holds a role); the sender's nonce is
    /// read under the mempool's lock.
    fn admit(
        &self,
        view: &dyn urbis_runtime::StateView,
        members: &mut MemberCache,
        tx: SignedTx,
        allow_gap: bool,
    ) -> Result<Hash, UrbisError> {
        if !self.runtime.has_module(&tx.call.module) {
            return Err(UrbisError::new(
                ErrorCode::UnknownModule,
                format!("no module named {:?}", tx.call.module),
            ));
        }
        let weight = self.runtime.check_weight(&tx)?;
        let open = self.runtime.admission_cached(view, &tx, members)? == Admission::Open;
        let hash = tx.hash();
        if self.mempool.contains(&hash) {
            return Err(UrbisError::new(
                ErrorCode::DuplicateTx,
                format!("transaction {hash} is already pending"),
            ));
        }
        if self.chain.tx_location(&hash)?.is_some() {
            return Err(UrbisError::new(
                ErrorCode::DuplicateTx,
                format!("transaction {hash} is already committed"),
            ));
        }
        self.mempool
            .insert_with(tx, allow_gap, open, weight, |sender| {
                urbis_runtime::read_nonce(&self.chain.state_view()?, sender)
            })
    }
}

/// The authenticated store is written before the chain store for each block, so on start it
/// must be at the chain store's height or one above (a crash between the two writes, which the
/// executor repairs by re-executing that block). Anything else means parts of the data
/// directory come from different points in time: refuse to start, and say what to do.
pub fn check_consistency(auth: Option<u64>, chain: Option<u64>) -> Result<(), UrbisError> {
    let ok = match (auth, chain) {
        (None, None) | (Some(0), None) => true,
        (Some(a), Some(c)) => a == c || a == c + 1,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let show = |h: Option<u64>| h.map_or_else(|| "empty".to_string(), |h| format!("at height {h}"));
    Err(UrbisError::new(
        ErrorCode::Internal,
        format!(
            "inconsistent data directory: the authenticated state (store/, partitions state-*) is {} \
             but the chain store (chain.redb) is {}; the state must be at the chain store's height \
             or one above. The two were not written by the same run of this node (a restored or \
             copied file?). To recover, restore both from the same backup, or delete the data \
             directory's chain.redb and store/ (for a dev chain: `urbis dev --reset`) and let the \
             node sync from its peers",
            show(auth),
            show(chain)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistency_rule() {
        assert!(check_consistency(None, None).is_ok());
        assert!(check_consistency(Some(0), None).is_ok());
        assert!(check_consistency(Some(5), Some(5)).is_ok());
        assert!(check_consistency(Some(6), Some(5)).is_ok());
        for (a, c) in [
            (None, Some(5)),
            (Some(4), Some(5)),
            (Some(7), Some(5)),
            (Some(3), None),
        ] {
            let err = check_consistency(a, c).unwrap_err();
            assert!(err.message.contains("chain.redb"), "{err}");
            assert!(err.message.contains("store/"), "{err}");
        }
    }
}
