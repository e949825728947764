//! The consensus application: how a validator proposes and verifies blocks.
//!
//! Marshal's `Inline` wrapper hands us the ancestry of each proposal. A proposer:
//! 1. waits until `block_time` after its parent's timestamp (the chain's pace);
//! 2. picks the latest executed height `E` it can certify (`parent.state_height <= E <=
//!    parent.height`, normally the parent itself) and puts `E` and its state root in the header;
//! 3. fills the block from the mempool, skipping transactions already in unexecuted ancestors.
//!
//! A verifier checks structure (limits, transaction root, every signature, chain id),
//! the consensus context (view, leader), timestamps and the validator set, then waits until it has
//! executed `state_height` itself (a finalized block, so it always arrives) and compares roots.
//! It returns `false` only for permanent faults, and abstains (keeps waiting) otherwise.

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
use urbis_core::{Block, Hash, Header, PublicKey, SignedTx, limits};

use crate::codec::{ChainBlock, to_digest};
use crate::shared::{Counters, Shared};

/// How far ahead of a validator's clock a block timestamp may be before it abstains.
pub const MAX_CLOCK_DRIFT: Duration = Duration::from_secs(10);

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
    /// Minimum time between a parent's timestamp and its child's.
    pub block_time: Duration,
    pub max_block_txs: usize,
    pub max_block_bytes: usize,
}

impl Default for ProposerConfig {
    fn default() -> Self {
        ProposerConfig {
            block_time: Duration::from_millis(200),
            max_block_txs: limits::MAX_BLOCK_TXS,
            max_block_bytes: limits::MAX_BLOCK_BYTES / 2,
        }
    }
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

        // Pace the chain, and give the executor the same time to catch up with the parent.
        let due = UNIX_EPOCH + Duration::from_millis(ph.timestamp_ms) + self.cfg.block_time;
        let pace = ctx.sleep_until(due);
        let caught_up = shared.wait_executed(ph.height);
        futures::pin_mut!(pace);
        futures::pin_mut!(caught_up);
        futures::future::select(pace, caught_up).await;
        ctx.sleep_until(due).await;

        // The state root to certify: the latest executed height not above the parent.
        if shared.executed_height() < ph.state_height {
            shared.wait_executed(ph.state_height).await;
        }
        let state_height = shared.executed_height().min(ph.height);
        let state_root = match shared.chain.state_root(state_height) {
            Ok(Some(r)) => r,
            other => {
                warn!(?other, state_height, "no state root for an executed height");
                return None;
            }
        };

        // Transactions already in unexecuted ancestors must not be proposed again.
        let mut in_flight: HashSet<Hash> = HashSet::new();
        if ph.height > state_height {
            in_flight.extend(parent.txs.iter().map(SignedTx::hash));
            while let Some(b) = ancestry.next().await {
                let b = &b.inner().block;
                if b.header.height <= shared.executed_height() {
                    break;
                }
                in_flight.extend(b.txs.iter().map(SignedTx::hash));
            }
        }
        let view = match shared.chain.state_view() {
            Ok(v) => v,
            Err(e) => {
                warn!(%e, "cannot read state to build a block");
                return None;
            }
        };
        let txs = shared.mempool.select(
            self.cfg.max_block_txs,
            self.cfg.max_block_bytes,
            &in_flight,
            |a| urbis_runtime::read_nonce(&view, a).unwrap_or(0),
        );
        let now = millis(ctx.current()).max(ph.timestamp_ms + 1);
        let header = Header {
            chain_id: shared.chain_id.clone(),
            height: ph.height + 1,
            parent: parent.digest(),
            view: cctx.round.view().get(),
            timestamp_ms: now,
            proposer: to_public_key(&cctx.leader),
            txs_root: Block::compute_txs_root(&txs),
            tx_count: txs.len() as u32,
            state_height,
            state_root,
            validator_set: shared.validator_set,
        };
        let block = ChainBlock::new(Block { header, txs });
        debug!(
            height = block.block.header.height,
            txs = block.block.txs.len(),
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
        if h.validator_set != shared.validator_set {
            return reject("validator set hash differs");
        }
        if h.timestamp_ms <= ph.timestamp_ms {
            return reject("timestamp does not advance");
        }
        if h.state_height < ph.state_height || h.state_height > ph.height {
            return reject("state height out of range");
        }
        // Signatures: skip those this node already verified at its mempool door, check the rest
        // on a blocking thread across all cores.
        let check = {
            let block = block.clone();
            let sh = self.shared.clone();
            ctx.child("verify_block")
                .shared(true)
                .spawn(move |_| async move {
                    block.check_structure_with(&sh.chain_id, |h| sh.mempool.contains(h))
                })
        };
        match check.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return reject(&e.to_string()),
            Err(e) => {
                warn!(?e, "block verification task failed");
                return false;
            }
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
        match shared.chain.state_root(h.state_height) {
            Ok(Some(root)) if root == h.state_root => true,
            Ok(Some(_)) => reject("state root differs from ours"),
            _ => {
                warn!(
                    state_height = h.state_height,
                    "executed height has no recorded root"
                );
                false
            }
        }
    }
}
