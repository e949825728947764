//! The consensus application: how a validator proposes and verifies blocks.
//!
//! Marshal's `Inline` wrapper hands us the ancestry of each proposal. A proposer:
//! 1. paces the chain: it waits until `block_time` after its parent *arrived at this node*
//!    (never longer: a timestamp stamped by another validator's clock cannot make it wait, so a
//!    validator with a fast clock cannot make honest leaders time out);
//! 2. picks the latest executed height `E` it can certify (`parent.state_height <= E <=
//!    parent.height`, normally the parent itself) and puts `E` and its state root in the header;
//! 3. fills the block from the mempool, skipping transactions already in unexecuted ancestors,
//!    with at most the runtime's quota of open calls from senders without a role;
//! 4. stamps it with its clock (at least one millisecond after the parent).
//!
//! A verifier checks structure (limits, transaction root, every signature, chain id, no
//! transaction or sender-and-nonce twice), the consensus context (view, leader), timestamps and
//! the validator set; that no transaction is already committed or in an unexecuted ancestor (a
//! replaying proposer); then waits until it has executed `state_height` itself (a finalized
//! block, so it always arrives) and compares roots. A timestamp more than [`MAX_CLOCK_DRIFT`]
//! ahead of its clock makes it abstain until its clock catches up.
//!
//! It answers "invalid" only for faults of the block. A temporary local condition (a storage
//! read that fails, a task that dies) is retried; if it persists, the node halts loudly rather
//! than vote against a valid block.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use commonware_consensus::Application;
use commonware_consensus::marshal::ancestry::Ancestry;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::Context;
use commonware_cryptography::{Digested, ed25519, sha256};
use commonware_runtime::{Clock, Metrics, Spawner};
use futures::StreamExt as _;
use tracing::{debug, warn};
use urbis_core::{Block, Hash, Header, PublicKey, UrbisError, limits};

use crate::codec::{ChainBlock, to_digest};
use crate::shared::{Counters, Shared};

/// How far ahead of a validator's clock a block timestamp may be before it abstains (waits for
/// its clock to catch up). Well below the leader timeout (at least 2 s), so that a proposer
/// stamping at this limit cannot push honest leaders into timeouts.
pub const MAX_CLOCK_DRIFT: Duration = Duration::from_millis(500);

/// Attempts (with doubling back-off from 50 ms) before a failing local read halts the node.
const STORAGE_ATTEMPTS: u32 = 6;

pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn to_public_key(pk: &ed25519::PublicKey) -> PublicKey {
    let mut b = [0u8; 32];
    b.copy_from_slice(pk.as_ref());
    PublicKey::Ed25519(b)
}

/// Block production settings.
#[derive(Clone, Debug)]
pub struct ProposerConfig {
    /// Time between a parent's arrival at this node and the proposal of its child.
    pub block_time: Duration,
    pub max_block_txs: usize,
    pub max_block_bytes: usize,
    /// The consensus leader timeout: pacing never waits longer than half of it.
    pub leader_timeout: Duration,
    /// Fault injection for simulations (all off in a real node).
    pub faults: Faults,
}

impl Default for ProposerConfig {
    fn default() -> Self {
        ProposerConfig {
            block_time: Duration::from_millis(200),
            max_block_txs: limits::MAX_BLOCK_TXS,
            max_block_bytes: limits::MAX_BLOCK_BYTES / 2,
            leader_timeout: Duration::from_secs(2),
            faults: Faults::default(),
        }
    }
}

/// Byzantine or faulty proposer behaviour, for deterministic simulations of what honest
/// validators must withstand. Every field is off by default, and no configuration file or
/// command sets them.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Stamp every proposal at the latest time others accept: the local clock plus
    /// [`MAX_CLOCK_DRIFT`] (a validator whose clock runs fast, or one gaming the pace).
    pub stamp_at_drift_limit: bool,
    /// Re-include the transactions of the latest executed block that has any (within the last
    /// 64) in every proposal.
    pub replay_committed: bool,
    /// Certify only state heights that are multiples of this (so others are skipped).
    pub certify_every: Option<u64>,
    /// Ignore the block weight limit when filling a proposal.
    pub ignore_weight_limit: bool,
}

pub struct UrbisApp<E: commonware_storage::Context + Spawner> {
    shared: Arc<Shared<E>>,
    cfg: ProposerConfig,
    _e: PhantomData<fn() -> E>,
}

impl<E: commonware_storage::Context + Spawner> Clone for UrbisApp<E> {
    fn clone(&self) -> Self {
        UrbisApp {
            shared: self.shared.clone(),
            cfg: self.cfg.clone(),
            _e: PhantomData,
        }
    }
}

impl<E: commonware_storage::Context + Spawner> UrbisApp<E> {
    pub fn new(shared: Arc<Shared<E>>, cfg: ProposerConfig) -> Self {
        UrbisApp {
            shared,
            cfg,
            _e: PhantomData,
        }
    }
}

impl<E> Application<E> for UrbisApp<E>
where
    E: commonware_storage::Context + Spawner + Clock + Metrics,
{
    type SigningScheme = Scheme;
    type Context = Context<sha256::Digest, ed25519::PublicKey>;
    type Block = ChainBlock;
    type Input = ();

    async fn propose(
        &mut self,
        (ctx, cctx): (E, Self::Context),
        mut ancestry: impl Ancestry<ChainBlock>,
        _input: (),
    ) -> Option<Digested<ChainBlock>> {
        let shared = &self.shared;
        let parent = ancestry.next().await?;
        let parent = parent.inner().block.clone();
        let ph = &parent.header;
        let parent_digest = parent.digest();

        // Pace the chain from the parent's local arrival (now, if we never saw it arrive),
        // and give the executor the same time to catch up with the parent.
        shared.arrivals.saw(parent_digest, millis(ctx.current()));
        let arrival = shared
            .arrivals
            .get(&parent_digest)
            .unwrap_or_else(|| millis(ctx.current()));
        let pace = self.cfg.block_time.min(self.cfg.leader_timeout / 2);
        let due = UNIX_EPOCH + Duration::from_millis(arrival) + pace;
        {
            let sleep = ctx.sleep_until(due);
            let caught_up = shared.wait_executed(ph.height);
            futures::pin_mut!(sleep);
            futures::pin_mut!(caught_up);
            futures::future::select(sleep, caught_up).await;
        }
        ctx.sleep_until(due).await;

        // The state root to certify: the latest executed height not above the parent.
        if shared.executed_height() < ph.state_height {
            shared.wait_executed(ph.state_height).await;
        }
        // An epoch's last block certifies the state just before it (see
        // `boundary_state_height`).
        let boundary = boundary_state_height(&shared.sets.epochs, ph.height + 1);
        if let Some(b) = boundary {
            shared.wait_executed(b).await;
        }
        let mut state_height = shared.executed_height().min(ph.height);
        if let Some(every) = self.cfg.faults.certify_every.filter(|e| *e > 1) {
            state_height = (state_height - state_height % every).max(ph.state_height);
        }
        if let Some(b) = boundary {
            state_height = b;
        }
        let Some(set) = shared.sets.at_height(ph.height + 1) else {
            warn!(
                height = ph.height + 1,
                "the validator set of this height is not known yet"
            );
            return None;
        };
        let state_root = match shared.chain.state_root(state_height) {
            Ok(Some(r)) => r,
            other => {
                warn!(?other, state_height, "no state root for an executed height");
                return None;
            }
        };
        let receipts_acc = match shared.chain.receipt_roots(state_height) {
            Ok(Some((_, acc))) => acc,
            other => {
                warn!(
                    ?other,
                    state_height, "no receipts accumulator for an executed height"
                );
                return None;
            }
        };

        // Transactions already in unexecuted ancestors must not be proposed again.
        let mut in_flight: HashSet<Hash> = HashSet::new();
        if ph.height > shared.executed_height() {
            in_flight.extend(shared.block_tx_ids(&parent).iter().copied());
            while let Some(b) = ancestry.next().await {
                let b = &b.inner().block;
                if b.header.height <= shared.executed_height() {
                    break;
                }
                in_flight.extend(shared.block_tx_ids(b).iter().copied());
            }
        }
        let view = match shared.chain.state_view() {
            Ok(v) => v,
            Err(e) => {
                warn!(%e, "cannot read state to build a block");
                return None;
            }
        };
        let max_open = shared
            .runtime
            .gate()
            .map_or(usize::MAX, |g| g.open_calls_per_block as usize);
        let limits = crate::mempool::BlockLimits {
            max_txs: self.cfg.max_block_txs,
            max_bytes: self.cfg.max_block_bytes,
            max_weight: if self.cfg.faults.ignore_weight_limit {
                u64::MAX
            } else {
                urbis_runtime::weight::MAX_BLOCK
            },
            max_open,
        };
        let selecting = std::time::Instant::now();
        let mut txs = shared.mempool.select(&limits, &in_flight, |a| {
            urbis_runtime::read_nonce(&view, a).unwrap_or(0)
        });
        if self.cfg.faults.replay_committed {
            let top = shared.executed_height();
            let done = (top.saturating_sub(64)..=top)
                .rev()
                .filter_map(|h| shared.chain.block(h).ok().flatten())
                .find(|b| !b.txs.is_empty());
            if let Some(done) = done {
                txs.extend(done.txs);
                txs.truncate(self.cfg.max_block_txs);
            }
        }
        let now = millis(ctx.current());
        let stamp = if self.cfg.faults.stamp_at_drift_limit {
            now + MAX_CLOCK_DRIFT.as_millis() as u64
        } else {
            now
        };
        let header = Header {
            chain_id: shared.chain_id.clone(),
            height: ph.height + 1,
            parent: parent_digest,
            view: cctx.round.view().get(),
            timestamp_ms: stamp.max(ph.timestamp_ms + 1),
            proposer: to_public_key(&cctx.leader),
            txs_root: Block::compute_txs_root(&txs),
            tx_count: txs.len() as u32,
            state_height,
            state_root,
            receipts_acc,
            validator_set: set.hash,
        };
        let block = ChainBlock::new(Block { header, txs });
        shared.arrivals.saw(block.hash(), now);
        debug!(
            height = block.block.header.height,
            txs = block.block.txs.len(),
            state_height,
            since_parent_ms = now.saturating_sub(arrival),
            select_ms = selecting.elapsed().as_millis() as u64,
            "proposing"
        );
        Counters::add(&shared.counters.proposals, 1);
        let digest = to_digest(&block.hash());
        Some(Digested::precomputed(block, digest))
    }

    async fn verify(
        &mut self,
        (ctx, cctx): (E, Self::Context),
        mut ancestry: impl Ancestry<ChainBlock>,
    ) -> bool {
        let shared = &self.shared;
        let Some(block) = ancestry.next().await else {
            return false;
        };
        let Some(parent) = ancestry.next().await else {
            return false;
        };
        let block = block.inner().block.clone();
        let parent = parent.inner().block.clone();
        shared.arrivals.saw(block.digest(), millis(ctx.current()));
        let reject = |why: &str| {
            warn!(
                height = block.header.height,
                view = block.header.view,
                why,
                "rejecting proposal"
            );
            Counters::add(&shared.counters.verify_rejections, 1);
            false
        };
        let h = &block.header;
        let ph = &parent.header;
        if h.height != ph.height + 1 || h.parent != parent.digest() {
            return reject("does not extend its parent");
        }
        if h.view != cctx.round.view().get() {
            return reject("view does not match the consensus round");
        }
        if h.proposer != to_public_key(&cctx.leader) {
            return reject("proposer is not the round's leader");
        }
        if shared
            .sets
            .at_height(h.height)
            .is_none_or(|set| set.hash != h.validator_set)
        {
            return reject("validator set hash differs");
        }
        if boundary_state_height(&shared.sets.epochs, h.height).is_some_and(|b| h.state_height != b)
        {
            return reject("an epoch's last block must certify the state of its parent");
        }
        if h.timestamp_ms <= ph.timestamp_ms {
            return reject("timestamp does not advance");
        }
        if h.state_height < ph.state_height || h.state_height > ph.height {
            return reject("state height out of range");
        }

        // Replays: nothing already in an unexecuted ancestor...
        let executed = shared.executed_height();
        let mut in_flight: HashSet<Hash> = HashSet::new();
        if ph.height > executed {
            in_flight.extend(shared.block_tx_ids(&parent).iter().copied());
            while let Some(b) = ancestry.next().await {
                let b = &b.inner().block;
                if b.header.height <= executed {
                    break;
                }
                in_flight.extend(shared.block_tx_ids(b).iter().copied());
            }
        }
        // ... or committed, and a well-formed block: checked on a blocking thread (signatures
        // on all cores, skipping those this node verified at its mempool door).
        let outcome = {
            let (b, sh, fl) = (block.clone(), self.shared.clone(), in_flight.clone());
            let check = ctx
                .child("verify_block")
                .shared(true)
                .spawn(move |_| async move { check_block(&sh, &b, &fl) });
            match check.await {
                Ok(outcome) => outcome,
                Err(e) => {
                    warn!(?e, "block verification task failed");
                    Checked::Temporary
                }
            }
        };
        // A failing local read or a dead task is never a reason to vote against a block: try
        // again here, and halt if it persists.
        let outcome = match outcome {
            Checked::Temporary => {
                retry(
                    &ctx,
                    &|why| shared.halt(why),
                    "check a proposal",
                    || match check_block(shared, &block, &in_flight) {
                        Checked::Temporary => Err(UrbisError::new(
                            urbis_core::ErrorCode::Internal,
                            "chain store read failed",
                        )),
                        other => Ok(other),
                    },
                )
                .await
            }
            other => Some(other),
        };
        match outcome {
            Some(Checked::Valid) => {}
            Some(Checked::Invalid(why)) => return reject(&why),
            Some(Checked::Temporary) | None => return never().await,
        }

        // A timestamp too far in our future: abstain until our clock catches up (either the
        // proposer's clock or ours is wrong; say so).
        let now = millis(ctx.current());
        let limit = now + MAX_CLOCK_DRIFT.as_millis() as u64;
        if h.timestamp_ms > limit {
            warn!(
                proposer = %h.proposer,
                ahead_ms = h.timestamp_ms - now,
                "block timestamp is ahead of this validator's clock; check the clocks of both"
            );
            ctx.sleep_until(UNIX_EPOCH + Duration::from_millis(h.timestamp_ms) - MAX_CLOCK_DRIFT)
                .await;
        }
        shared.wait_executed(h.state_height).await;
        let root = retry(
            &ctx,
            &|why| shared.halt(why),
            "read an executed state root",
            || {
                shared.chain.state_root(h.state_height)?.ok_or_else(|| {
                    UrbisError::new(
                        urbis_core::ErrorCode::Internal,
                        format!("executed height {} has no recorded root", h.state_height),
                    )
                })
            },
        )
        .await;
        match root {
            Some(root) if root == h.state_root => true,
            Some(_) => reject("state root differs from ours"),
            None => never().await,
        }
    }
}

/// The verdict of the checks that read local storage.
enum Checked {
    Valid,
    Invalid(String),
    /// A local read failed: no verdict.
    Temporary,
}

/// Structure, signatures and replays of a proposal (blocking: signatures on all cores, one
/// read transaction of the transaction index).
fn check_block<E: commonware_storage::Context + Spawner>(
    shared: &Shared<E>,
    block: &Block,
    in_flight: &HashSet<Hash>,
) -> Checked {
    if let Err(e) = block.check_structure_with(&shared.chain_ref, |h| shared.mempool.contains(h)) {
        return Checked::Invalid(e.to_string());
    }
    let weight = block
        .txs
        .iter()
        .fold(0u64, |w, tx| w.saturating_add(shared.runtime.tx_weight(tx)));
    if weight > urbis_runtime::weight::MAX_BLOCK {
        return Checked::Invalid(format!(
            "declared weight {weight} exceeds the block limit of {}",
            urbis_runtime::weight::MAX_BLOCK
        ));
    }
    // Calls with expensive checks of their own (ballots' proofs), on all cores, except the
    // transactions this node checked at its door.
    let hashes = shared.block_tx_ids(block);
    let unchecked: Vec<&urbis_core::SignedTx> = block
        .txs
        .iter()
        .zip(hashes.iter())
        .filter(|(_, h)| !shared.mempool.contains(h))
        .map(|(tx, _)| tx)
        .collect();
    if !unchecked.is_empty() {
        let view = match shared.chain.state_view() {
            Ok(v) => v,
            Err(e) => {
                warn!(%e, "cannot read state to check a proposal's calls");
                return Checked::Temporary;
            }
        };
        for (tx, r) in unchecked
            .iter()
            .zip(shared.runtime.precheck_many(&view, &unchecked))
        {
            match r {
                Ok(()) => {}
                Err(e) if e.code == urbis_core::ErrorCode::Internal => {
                    warn!(%e, "a call's check failed locally");
                    return Checked::Temporary;
                }
                Err(e) => {
                    return Checked::Invalid(format!("transaction {}: {e}", tx.hash()));
                }
            }
        }
    }
    if let Some(h) = hashes.iter().find(|h| in_flight.contains(h)) {
        return Checked::Invalid(format!(
            "transaction {h} is already in an ancestor of this block"
        ));
    }
    match shared.chain.first_committed(hashes.iter()) {
        Ok(None) => Checked::Valid,
        Ok(Some(h)) => Checked::Invalid(format!("transaction {h} is already committed")),
        Err(e) => {
            warn!(%e, "cannot read the transaction index");
            Checked::Temporary
        }
    }
}

/// Run a local read until it succeeds, backing off; after [`STORAGE_ATTEMPTS`] failures call
/// `halt` (the node stops) and return `None`.
async fn retry<E, T>(
    ctx: &E,
    halt: &(dyn Fn(String) + Sync),
    what: &str,
    mut f: impl FnMut() -> Result<T, UrbisError>,
) -> Option<T>
where
    E: Clock,
{
    let mut delay = Duration::from_millis(50);
    let mut last = None;
    for _ in 0..STORAGE_ATTEMPTS {
        match f() {
            Ok(v) => return Some(v),
            Err(e) => {
                warn!(%e, what, "local read failed while verifying; retrying");
                last = Some(e);
                ctx.sleep(delay).await;
                delay *= 2;
            }
        }
    }
    halt(format!(
        "cannot {what} while verifying a proposal: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    ));
    None
}

/// Never answer (the node is halting; voting either way could be wrong).
async fn never() -> bool {
    futures::future::pending::<bool>().await
}

/// The `state_height` the block at `height` must certify, if it is the last block of an epoch:
/// `height − 1`. Its state root then proves the validator set of the next epoch (final since
/// the previous epoch ended), every node can prove it the moment it stores the block (the
/// epoch's hand-over, see [`crate::bundle::Handover`]), and a verifier walks from the genesis
/// set to later ones through these blocks.
pub fn boundary_state_height(
    epochs: &urbis_runtime::validators::Epochs,
    height: u64,
) -> Option<u64> {
    epochs.is_boundary(height).then(|| height.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use commonware_runtime::{Runner as _, deterministic};
    use urbis_core::ErrorCode;

    use super::*;

    #[test]
    fn temporary_failures_are_retried_then_halt_instead_of_rejecting() {
        deterministic::Runner::default().start(|ctx| async move {
            let halted = Mutex::new(None);
            let halt = |why: String| *halted.lock().unwrap() = Some(why);
            let fail = || UrbisError::new(ErrorCode::Internal, "disk hiccup");

            // Fails twice, then works: the verdict is the value, no halt.
            let calls = AtomicU32::new(0);
            let got = retry(&ctx, &halt, "read", || {
                if calls.fetch_add(1, Ordering::Relaxed) < 2 {
                    Err(fail())
                } else {
                    Ok(7)
                }
            })
            .await;
            assert_eq!(got, Some(7));
            assert!(halted.lock().unwrap().is_none());

            // Never works: no verdict at all, and the node halts saying why.
            let got: Option<u8> = retry(&ctx, &halt, "read a root", || Err(fail())).await;
            assert_eq!(got, None);
            let why = halted.lock().unwrap().clone().expect("halted");
            assert!(
                why.contains("read a root") && why.contains("disk hiccup"),
                "{why}"
            );
        });
    }
}
