//! The executor: applies finalized blocks, in order, exactly once.
//!
//! Marshal reports each finalized block with an acknowledgement; the executor
//! 1. skips (and acknowledges) blocks at or below the chain store's executed height, which a
//!    restart can redeliver;
//! 2. executes the block against the chain store's state (height - 1);
//! 3. commits the writes to the authenticated store, unless a crash already did (its commit
//!    metadata says so), and takes the root;
//! 4. records block, receipts, root and certificate in the chain store in one transaction;
//! 5. acknowledges, prunes the mempool and announces the block.
//!
//! It also makes proofs ([`crate::prover`]): it owns the authenticated store, whose proofs are
//! against its current root only. Requests wait until a finalized block arrives that certifies
//! the current state (its `state_height` is the executed height); they are answered just
//! before that block is executed, at most [`PROOFS_PER_BLOCK`] per block. So a proof is never
//! made at a height the chain then skips, and never holds up a block for longer than that.
//!
//! A storage failure stops the node: continuing could diverge from the other validators. A
//! module cannot: its panics and failures are receipts and events (see `urbis_runtime`).

use std::collections::VecDeque;
use std::sync::Arc;

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
use tracing::{error, info, warn};
use urbis_core::{ErrorCode, UrbisError};
use urbis_runtime::BlockEnv;
use urbis_state::BlockRecord;

use crate::app::millis;
use crate::codec::ChainBlock;
use crate::prover::ProofRequest;
use crate::shared::PROOF_QUEUE;
use crate::shared::{Counters, ExecutedBlock, Shared};

type Delivery = (Digested<ChainBlock>, Exact);

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
            Update::Block(block, ack) => match self.tx.unbounded_send((block, ack)) {
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

/// Most proofs made before one block is executed (the rest wait for the next block).
pub const PROOFS_PER_BLOCK: usize = 512;

enum Next {
    Block(Option<Delivery>),
    Proof(crate::prover::ProofRequest),
}

/// Run the executor until the channel closes or storage fails.
pub async fn run<E>(
    context: E,
    shared: Arc<Shared<E>>,
    marshal: Mailbox<Scheme, Standard<ChainBlock>>,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
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
    let mut pending: VecDeque<ProofRequest> = VecDeque::new();
    loop {
        // Both receivers are cancel-safe: whichever is not picked keeps its message. Proof
        // requests are only taken while there is room for them.
        let next = match proofs.as_mut().filter(|_| pending.len() < PROOF_QUEUE) {
            Some(p) => futures::select_biased! {
                d = rx.next().fuse() => Next::Block(d),
                r = p.recv().fuse() => match r {
                    Some(req) => Next::Proof(req),
                    None => {
                        proofs = None;
                        continue;
                    }
                },
            },
            None => Next::Block(rx.next().await),
        };
        let (block, ack) = match next {
            Next::Proof(req) => {
                pending.push_back(req);
                continue;
            }
            Next::Block(None) => break,
            Next::Block(Some(d)) => d,
        };
        // This block certifies the state we are at: prove what is asked now, before the
        // state moves on, so that every proof made is certified by a finalized block.
        let header = &block.inner().block.header;
        if !pending.is_empty()
            && header.state_height == shared.executed_height()
            && header.height == header.state_height + 1
        {
            pending.retain(|r| !r.reply.is_closed());
            let n = pending.len().min(PROOFS_PER_BLOCK);
            for req in pending.drain(..n) {
                crate::prover::serve(&shared, req).await;
            }
        }
        let height = block.inner().block.header.height;
        let executed = shared.chain.executed_height()?.unwrap_or(0);
        if height <= executed {
            ack.acknowledge();
            continue;
        }
        if height != executed + 1 {
            error!(height, executed, "finalized block delivered out of order");
            return Err(UrbisError::new(ErrorCode::Internal, "delivery gap"));
        }
        let finalization = marshal
            .get_finalization(Height::new(height))
            .await
            .map(|f| f.encode().to_vec());
        execute(&context, &shared, &block.inner().block, finalization).await?;
        ack.acknowledge();
    }
    Ok(())
}

/// Execute and record one finalized block.
pub async fn execute<E>(
    context: &E,
    shared: &Shared<E>,
    block: &urbis_core::Block,
    finalization: Option<Vec<u8>>,
) -> Result<(), UrbisError>
where
    E: commonware_storage::Context + Spawner + Clock,
{
    let h = &block.header;
    let env = BlockEnv {
        chain_id: shared.chain_id.clone(),
        height: h.height,
        timestamp_ms: h.timestamp_ms,
        proposer: Some(h.proposer),
    };
    let view = shared.chain.state_view()?;
    let outcome = shared.runtime.execute_block(&view, &env, &block.txs)?;
    drop(view);
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
    // Both stores are written under the authenticated store's lock, so a reader holding it
    // (a proof) always sees them at the same height.
    let mut auth = shared.auth.lock().await;
    let root = match auth.height() {
        Some(ah) if ah >= h.height => {
            info!(
                height = h.height,
                "state already committed before a restart; reusing it"
            );
            auth.root()?
        }
        _ => auth.apply(h.height, &outcome.writes).await?,
    };
    shared.chain.commit_block(BlockRecord {
        block,
        receipts: &outcome.receipts,
        block_events: &outcome.block_events,
        writes: &outcome.writes,
        state_root: root,
        finalization,
    })?;
    drop(auth);

    let failed = outcome.receipts.iter().filter(|r| !r.success).count() as u64;
    let c = &shared.counters;
    Counters::add(&c.blocks_executed, 1);
    Counters::add(&c.txs_committed, outcome.receipts.len() as u64);
    Counters::add(&c.txs_failed, failed);
    let latency = millis(context.current()).saturating_sub(h.timestamp_ms);
    Counters::add(&c.finality_ms_sum, latency);
    Counters::add(&c.finality_samples, 1);
    c.last_finality_ms
        .store(latency, std::sync::atomic::Ordering::Relaxed);

    if let Ok(view) = shared.chain.state_view() {
        shared.mempool.on_executed(h.height, &block.txs, |a| {
            urbis_runtime::read_nonce(&view, a).unwrap_or(0)
        });
    }
    shared
        .finalized_tip
        .fetch_max(h.height, std::sync::atomic::Ordering::Relaxed);
    shared.executed.send_replace(h.height);
    let _ = shared.events.send(Arc::new(ExecutedBlock {
        height: h.height,
        hash: block.digest(),
        timestamp_ms: h.timestamp_ms,
        state_root: root,
        receipts: outcome.receipts,
        block_events: outcome.block_events,
    }));
    Ok(())
}
