//! The executor: applies finalized blocks, in order, exactly once.
//!
//! It is a pipeline of two stages, so that block N+1 executes while block N is written:
//!
//! * **Execution** (a dedicated thread: it is the node's longest stretch of CPU work and must
//!   not hold up consensus) takes each finalized block from marshal, skips blocks at or below
//!   the heights already executed (a restart redelivers them), and runs the block against the
//!   chain store's state seen through the write sets of the blocks executed but not yet
//!   stored (the newest first). Values in those write sets are exactly what the store will
//!   hold, so a store that has meanwhile caught up with some of them reads the same.
//! * **Storage** takes the executed blocks in order, at most [`AHEAD`] behind, and for each
//!   1. commits the writes to the authenticated store, unless a crash already did (its commit
//!      metadata says so), and takes the root; meanwhile another thread builds the chain
//!      store's transaction (block, receipts, events, certificate, writes);
//!   2. hands it the root: it adds the root and the executed height and commits (one
//!      transaction, one flush);
//!   3. acknowledges the block to marshal (only now: a crash before this redelivers it),
//!      prunes the mempool and announces the block.
//!
//! The chain store's executed height (what the API, the proposer and the mempool read) is the
//! stored height: a block counts as executed once it is durable.
//!
//! The storage stage also makes proofs ([`crate::prover`]): it owns the authenticated store,
//! whose proofs are against its current root only. Requests wait until a finalized block
//! arrives that certifies the current state (its `state_height` is the stored height); they are
//! answered just before that block is stored, at most [`PROOFS_PER_BLOCK`] per block. So a
//! proof is never made at a height the chain then skips, and never holds up a block for longer
//! than that.
//!
//! A storage failure stops the node: continuing could diverge from the other validators. A
//! module cannot: its panics and failures are receipts and events (see `urbis_runtime`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use commonware_codec::Encode as _;
use commonware_consensus::Reporter;
use commonware_consensus::marshal::Update;
use commonware_consensus::marshal::core::Mailbox;
use commonware_consensus::marshal::standard::Standard;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::types::Height;
use commonware_cryptography::Digested;
use commonware_runtime::{Clock, Spawner};
use commonware_utils::Acknowledgement as _;
use commonware_utils::acknowledgement::Exact;
use futures::channel::mpsc;
use futures::{FutureExt as _, StreamExt as _};
use tracing::{debug, error, info, warn};
use urbis_core::{ErrorCode, Hash, UrbisError};
use urbis_runtime::{BlockEnv, BlockOutcome, Layered, StateView, WriteSet};

use crate::app::millis;
use crate::codec::ChainBlock;
use crate::prover::ProofRequest;
use crate::shared::PROOF_QUEUE;
use crate::shared::{Counters, ExecutedBlock, Shared};

/// A finalized block for the executor, the acknowledgement to give once it is durable, and its
/// finalization certificate when the block arrived with one (a full node's); otherwise the
/// executor asks marshal for it.
pub type Delivery = (Digested<ChainBlock>, Exact, Option<Vec<u8>>);

/// The marshal-facing side: hands finalized blocks to the executor task without blocking.
#[derive(Clone)]
pub struct Finalized {
    tx: mpsc::UnboundedSender<Delivery>,
    tip: Arc<std::sync::atomic::AtomicU64>,
}

impl Finalized {
    /// `tip` is raised to every finalized height marshal announces.
    pub fn new(
        tip: Arc<std::sync::atomic::AtomicU64>,
    ) -> (Self, mpsc::UnboundedReceiver<Delivery>) {
        let (tx, rx) = mpsc::unbounded();
        (Finalized { tx, tip }, rx)
    }
}

impl Reporter for Finalized {
    type Activity = Update<ChainBlock>;

    fn report(&mut self, activity: Self::Activity) -> commonware_actor::Feedback {
        match activity {
            Update::Block(block, ack) => match self.tx.unbounded_send((block, ack, None)) {
                Ok(()) => commonware_actor::Feedback::Ok,
                Err(_) => commonware_actor::Feedback::Closed,
            },
            Update::Tip(_, height, _) => {
                self.tip
                    .fetch_max(height.get(), std::sync::atomic::Ordering::Relaxed);
                commonware_actor::Feedback::Ok
            }
        }
    }
}

/// Most proofs made before one block is stored (the rest wait for the next block).
pub const PROOFS_PER_BLOCK: usize = 512;

/// Blocks the execution stage may run ahead of storage.
pub const AHEAD: usize = 4;

/// A block executed and waiting to be stored.
struct Executed {
    block: Digested<ChainBlock>,
    ack: Exact,
    finalization: Option<Vec<u8>>,
    done: Done,
}

enum Next {
    Block(Option<Executed>),
    Proof(crate::prover::ProofRequest),
}

/// Run the executor until its delivery channel closes or storage fails. `marshal` is where
/// certificates not attached to a delivery are looked up (validators); a full node has none.
pub async fn run<E>(
    context: E,
    shared: Arc<Shared<E>>,
    marshal: Option<Mailbox<Scheme, Standard<ChainBlock>>>,
    rx: mpsc::UnboundedReceiver<Delivery>,
) -> Result<(), UrbisError>
where
    E: commonware_storage::Context + Spawner + Clock,
{
    let (to_store, executed) = mpsc::channel::<Executed>(AHEAD);
    // The execution stage reports each block it hands over, with its writes, and learns from
    // storage which heights are durable; both sides stop when the other does.
    let sh = shared.clone();
    let execution = context
        .child("execution")
        .dedicated()
        .spawn(move |_| async move { execution(sh, marshal, rx, to_store).await });
    let stored = storage(&context, &shared, executed).await;
    if stored.is_err() {
        execution.abort();
        return stored;
    }
    // Storage stopped because execution did: say why.
    match execution.await {
        Ok(r) => r,
        Err(e) => Err(UrbisError::new(
            ErrorCode::Internal,
            format!("the execution stage stopped: {e:?}"),
        )),
    }
}

/// The execution stage.
async fn execution<E>(
    shared: Arc<Shared<E>>,
    marshal: Option<Mailbox<Scheme, Standard<ChainBlock>>>,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    mut to_store: mpsc::Sender<Executed>,
) -> Result<(), UrbisError>
where
    E: commonware_storage::Context + Spawner + Clock,
{
    use futures::SinkExt as _;
    let mut executed = shared.chain.executed_height()?.unwrap_or(0);
    // Write sets of blocks handed to storage and perhaps not stored yet, the oldest first.
    let mut pending: VecDeque<(u64, Arc<WriteSet>)> = VecDeque::new();
    while let Some((block, ack, attached)) = rx.next().await {
        let height = block.inner().block.header.height;
        if height <= executed {
            ack.acknowledge();
            continue;
        }
        if height != executed + 1 {
            error!(height, executed, "finalized block delivered out of order");
            return Err(UrbisError::new(ErrorCode::Internal, "delivery gap"));
        }
        let finalization = match (attached, &marshal) {
            (Some(cert), _) => Some(cert),
            (None, Some(marshal)) => marshal
                .get_finalization(Height::new(height))
                .await
                .map(|f| f.encode().to_vec()),
            (None, None) => None,
        };
        // Forget what storage has made durable, then take the store's state: it is at least
        // that recent, and never ahead of what this stage executed.
        let stored = shared.executed_height();
        while pending.front().is_some_and(|(h, _)| *h <= stored) {
            pending.pop_front();
        }
        let started = Instant::now();
        let base = shared.chain.state_view()?;
        // The chain store's state with the blocks executed but not yet stored on top.
        let view = Layered {
            base: &base,
            layers: pending
                .iter()
                .rev()
                .map(|(_, w)| w.as_ref())
                .collect::<Vec<_>>(),
        };
        let outcome = Counters::cpu(&shared.counters.cpu_execute_us, || {
            run_block(&shared, &block.inner().block, &view)
        })?;
        let done = Done::new(outcome, started);
        pending.push_back((height, done.writes.clone()));
        executed = height;
        let job = Executed {
            block,
            ack,
            finalization,
            done,
        };
        if to_store.send(job).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// The storage stage; also answers proof requests.
async fn storage<E>(
    context: &E,
    shared: &Shared<E>,
    mut executed: mpsc::Receiver<Executed>,
) -> Result<(), UrbisError>
where
    E: commonware_storage::Context + Spawner + Clock,
{
    let mut proofs = shared
        .proof_requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    // Proof requests wait here for a block that certifies the current state.
    let mut waiting: VecDeque<ProofRequest> = VecDeque::new();
    loop {
        // Both receivers are cancel-safe: whichever is not picked keeps its message. Proof
        // requests are only taken while there is room for them.
        let next = match proofs.as_mut().filter(|_| waiting.len() < PROOF_QUEUE) {
            Some(p) => futures::select_biased! {
                d = executed.next().fuse() => Next::Block(d),
                r = p.recv().fuse() => match r {
                    Some(req) => Next::Proof(req),
                    None => {
                        proofs = None;
                        continue;
                    }
                },
            },
            None => Next::Block(executed.next().await),
        };
        let job = match next {
            Next::Proof(req) => {
                waiting.push_back(req);
                continue;
            }
            Next::Block(None) => break,
            Next::Block(Some(job)) => job,
        };
        // This block certifies the state we are at: prove what is asked now, before the
        // state moves on, so that every proof made is certified by a finalized block.
        let header = &job.block.inner().block.header;
        if !waiting.is_empty()
            && header.state_height == shared.executed_height()
            && header.height == header.state_height + 1
        {
            waiting.retain(|r| !r.reply.is_closed());
            let n = waiting.len().min(PROOFS_PER_BLOCK);
            for req in waiting.drain(..n) {
                crate::prover::serve(shared, req).await;
            }
        }
        if header.state_height == shared.executed_height()
            && header.height == header.state_height + 1
        {
            offer_state(shared, header.height).await?;
        }
        check_certified_root(shared, header)?;
        if shared.sets.epochs.is_boundary(header.height)
            && header.state_height == shared.executed_height()
        {
            capture_handover(shared, header, job.finalization.as_deref()).await?;
        }
        let Executed {
            block,
            ack,
            finalization,
            done,
        } = job;
        store(context, shared, &block.inner().block, finalization, done).await?;
        ack.acknowledge();
    }
    Ok(())
}

/// Record the hand-over of the epoch that `header` (its last block) ends: the header, its
/// certificate and a proof of the validator schedule in the state it certifies (the current
/// one: a boundary block certifies its parent's state). A certificate marshal did not have
/// is filled in from the chain store when a bundle needs it.
async fn capture_handover<E>(
    shared: &Shared<E>,
    header: &urbis_core::Header,
    finalization: Option<&[u8]>,
) -> Result<(), UrbisError>
where
    E: commonware_storage::Context + Spawner,
{
    use urbis_runtime::validators::SCHEDULE_KEY;
    let epoch = shared.sets.epochs.of(header.height);
    let auth = shared.auth.lock().await;
    let value = urbis_runtime::StateView::get(&shared.chain.state_view()?, SCHEDULE_KEY)?;
    let schedule = auth.prove(SCHEDULE_KEY, value.as_deref()).await?;
    drop(auth);
    if finalization.is_none() {
        warn!(
            epoch,
            height = header.height,
            "the last block of an epoch came without its certificate; its hand-over waits for it"
        );
    }
    let handover = crate::bundle::Handover {
        epoch,
        header: header.clone(),
        finalization: finalization.map(<[u8]>::to_vec).unwrap_or_default(),
        schedule,
    };
    let bytes = serde_json::to_vec(&handover)
        .map_err(|e| UrbisError::new(ErrorCode::Internal, format!("encode a hand-over: {e}")))?;
    shared.chain.put_handover(epoch, &bytes)
}

/// Offer the current state to syncing nodes, now that block `certified_by` certifies it, when
/// one asked since the last offer and the last is [`SYNC_OFFER_EVERY`] blocks old: the
/// authenticated store's sync target and a read snapshot of the chain store, both at the
/// stored height. Offers older than [`SYNC_OFFER_TTL`] are dropped.
async fn offer_state<E>(shared: &Shared<E>, certified_by: u64) -> Result<(), UrbisError>
where
    E: commonware_storage::Context + Spawner,
{
    use crate::shared::{SYNC_OFFER_EVERY, SYNC_OFFER_TTL, SYNC_OFFERS_KEPT, SyncOffer};
    use std::sync::atomic::Ordering;
    let height = shared.executed_height();
    let (due, expired) = {
        let offers = shared.sync_offers.lock().unwrap_or_else(|p| p.into_inner());
        let due = shared.sync_wanted.load(Ordering::Relaxed)
            && offers
                .back()
                .is_none_or(|o| height >= o.target.height + SYNC_OFFER_EVERY);
        let expired = offers
            .front()
            .is_some_and(|o| o.made.elapsed() > SYNC_OFFER_TTL);
        (due, expired)
    };
    if !due && !expired {
        return Ok(());
    }
    let mut auth = shared.auth.lock().await;
    let fresh = if due {
        shared.sync_wanted.store(false, Ordering::Relaxed);
        Some(SyncOffer {
            target: auth.sync_target().await?,
            certified_by,
            values: shared.chain.state_view()?,
            made: Instant::now(),
        })
    } else {
        None
    };
    let mut offers = shared.sync_offers.lock().unwrap_or_else(|p| p.into_inner());
    offers.retain(|o| o.made.elapsed() <= SYNC_OFFER_TTL);
    if let Some(offer) = fresh {
        offers.push_back(Arc::new(offer));
        debug!(height, certified_by, "state offered to syncing nodes");
    }
    while offers.len() > SYNC_OFFERS_KEPT {
        offers.pop_front();
    }
    auth.retain_from(offers.front().map(|o| o.target.lower));
    Ok(())
}

/// A finalized header vouches for the state after its `state_height`: when this node stored
/// that height, its root must be the one the header names. Validators compared it before
/// voting; a full node learns here that it computed a different state (a bug, or a different
/// build), and stops rather than serve it.
fn check_certified_root<E>(
    shared: &Shared<E>,
    header: &urbis_core::Header,
) -> Result<(), UrbisError>
where
    E: commonware_storage::Context + Spawner,
{
    match shared.chain.state_root(header.state_height)? {
        Some(root) if root != header.state_root => {
            let why = format!(
                "the state this node computed after block {} (root {root}) differs from the \
                 root {} that finalized block {} certifies",
                header.state_height, header.state_root, header.height
            );
            error!("{why}");
            Err(UrbisError::new(ErrorCode::Internal, why))
        }
        _ => Ok(()),
    }
}

/// Run one block's transactions and end-of-block work against `view` (its parent's state).
fn run_block<E>(
    shared: &Shared<E>,
    block: &urbis_core::Block,
    view: &dyn StateView,
) -> Result<BlockOutcome, UrbisError>
where
    E: commonware_storage::Context + Spawner,
{
    let h = &block.header;
    let env = BlockEnv {
        chain_id: shared.chain_id.clone(),
        height: h.height,
        timestamp_ms: h.timestamp_ms,
        proposer: Some(h.proposer),
    };
    let outcome = shared.runtime.execute_block(view, &env, &block.txs)?;
    for e in outcome
        .block_events
        .iter()
        .filter(|e| e.kind == "end_block_failed")
    {
        warn!(
            height = h.height,
            module = e.attr("module").unwrap_or(""),
            code = e.attr("code").unwrap_or(""),
            message = e.attr("message").unwrap_or(""),
            "a module's end-of-block work failed; its writes were discarded"
        );
    }
    Ok(outcome)
}

/// Execute and store one finalized block whose parent is the stored state, without the
/// pipeline (replays and tests).
pub async fn execute<E>(
    context: &E,
    shared: &Shared<E>,
    block: &urbis_core::Block,
    finalization: Option<Vec<u8>>,
) -> Result<(), UrbisError>
where
    E: commonware_storage::Context + Spawner + Clock,
{
    let started = Instant::now();
    let view = shared.chain.state_view()?;
    let done = Done::new(run_block(shared, block, &view)?, started);
    drop(view);
    store(
        context,
        shared,
        &Arc::new(block.clone()),
        finalization,
        done,
    )
    .await
}

/// A block's execution results.
struct Done {
    receipts: Vec<urbis_core::Receipt>,
    block_events: Vec<urbis_core::Event>,
    /// Shared with the execution stage, which reads through them until they are stored.
    writes: Arc<WriteSet>,
    execute_ms: u64,
}

impl Done {
    fn new(outcome: BlockOutcome, started: Instant) -> Self {
        Done {
            receipts: outcome.receipts,
            block_events: outcome.block_events,
            writes: Arc::new(outcome.writes),
            execute_ms: started.elapsed().as_millis() as u64,
        }
    }
}

/// Make one executed block durable and announce it.
async fn store<E>(
    context: &E,
    shared: &Shared<E>,
    block: &Arc<urbis_core::Block>,
    finalization: Option<Vec<u8>>,
    done: Done,
) -> Result<(), UrbisError>
where
    E: commonware_storage::Context + Spawner + Clock,
{
    let Done {
        receipts,
        block_events,
        writes,
        execute_ms,
    } = done;
    let h = &block.header;
    let height = h.height;
    let started = Instant::now();
    // The chain store's transaction (block, receipts, events, certificate, writes) is built on
    // another thread while the authenticated store computes the root; it then takes the root
    // and the executed height and commits.
    let (root_tx, root_rx) = std::sync::mpsc::sync_channel::<Hash>(1);
    let chain = shared.chain.clone();
    let cpu = shared.counters.clone();
    let (recorded_block, recorded_writes) = (block.clone(), writes.clone());
    let recording = context
        .child("record_block")
        .shared(true)
        .spawn(move |_| async move {
            let recorded = Counters::cpu(&cpu.cpu_record_us, || {
                chain.commit_block_with(
                    &recorded_block,
                    &receipts,
                    &block_events,
                    &recorded_writes,
                    finalization.as_deref(),
                    || {
                        root_rx.recv().map_err(|_| {
                            UrbisError::new(ErrorCode::Internal, "no state root for the block")
                        })
                    },
                )
            });
            (recorded, receipts, block_events)
        });
    // Both stores are written under the authenticated store's lock, so a reader holding it
    // (a proof) always sees them at the same height.
    let mut auth = shared.auth.lock().await;
    let root = match auth.height() {
        Some(ah) if ah >= height => {
            info!(
                height,
                "state already committed before a restart; reusing it"
            );
            auth.root()
        }
        _ => auth.apply(height, &writes).await,
    };
    let applied_at = Instant::now();
    // On failure the sender is dropped and the chain store writes nothing.
    let root = root.and_then(|root| {
        root_tx
            .send(root)
            .map(|()| root)
            .map_err(|_| UrbisError::new(ErrorCode::Internal, "recording the block stopped"))
    });
    let (recorded, receipts, block_events) = recording.await.map_err(|e| {
        UrbisError::new(
            ErrorCode::Internal,
            format!("recording block {height} stopped: {e:?}"),
        )
    })?;
    let root = root?;
    recorded?;
    drop(auth);
    let recorded_at = Instant::now();

    let failed = receipts.iter().filter(|r| !r.success).count() as u64;
    let c = &shared.counters;
    Counters::add(&c.blocks_executed, 1);
    Counters::add(&c.txs_committed, receipts.len() as u64);
    Counters::add(&c.txs_failed, failed);
    let latency = millis(context.current()).saturating_sub(h.timestamp_ms);
    Counters::add(&c.finality_ms_sum, latency);
    Counters::add(&c.finality_samples, 1);
    c.last_finality_ms
        .store(latency, std::sync::atomic::Ordering::Relaxed);

    // One read view of the stored state for the mempool and the epoch sets.
    let view = shared.chain.state_view();
    if let Ok(view) = &view {
        shared.mempool.on_executed(h.height, &block.txs, |a| {
            urbis_runtime::read_nonce(view, a).unwrap_or(0)
        });
    }
    shared
        .finalized_tip
        .fetch_max(h.height, std::sync::atomic::Ordering::Relaxed);
    if shared.sets.epochs.enabled() {
        let view = view.as_ref().map_err(Clone::clone)?;
        shared.sets.executed(h.height, view)?;
        if shared.sets.epochs.is_boundary(h.height) {
            let next = crate::epochs::EpochStart {
                epoch: shared.sets.epochs.of(h.height) + 1,
                floor: block.digest(),
            };
            shared.sets.current.send_if_modified(|c| {
                let newer = next.epoch > c.epoch;
                if newer {
                    *c = next;
                }
                newer
            });
        }
    }
    shared.executed.send_replace(h.height);
    let ms = |a: Instant, b: Instant| b.duration_since(a).as_millis() as u64;
    debug!(
        height = h.height,
        txs = block.txs.len(),
        execute_ms,
        state_ms = ms(started, applied_at),
        record_ms = ms(applied_at, recorded_at),
        after_ms = ms(recorded_at, Instant::now()),
        finality_ms = latency,
        "stored"
    );
    let _ = shared.events.send(Arc::new(ExecutedBlock {
        height: h.height,
        hash: block.digest(),
        timestamp_ms: h.timestamp_ms,
        state_root: root,
        receipts,
        block_events,
    }));
    Ok(())
}
