//! Proofs of query answers, made without ever holding up block execution.
//!
//! The authenticated store answers proofs against its current root only, and the executor
//! changes that root once per block. So the executor itself makes proofs: a request waits in
//! its queue until the next finalized block that certifies the current state `H` (its header's
//! `state_height` is `H`, which is how an honest chain normally goes) and is answered at `H`
//! just before that block executes. A proof never waits on a lock the executor needs, is never
//! made at a height the chain skips, and requests beyond [`crate::shared::PROOF_QUEUE`] are
//! refused (`overloaded`) instead of queueing without bound.
//!
//! The bundle is complete once the certifying block is executed and a finalization certificate
//! at or after it is stored. Should a proven height still never be certified (a node that
//! restarted between the two store writes, say), the answer is proven again at a newer height.
//!
//! So a fresh proof costs about a block time. For the API ([`Shared::prove_current`]),
//! completed bundles are kept (the newest [`PROOF_CACHE`] answers, by module and path) and
//! served again, without waiting, while the
//! key still holds the very bytes they prove: the bundle states its own height, and proves
//! that the value was these bytes then — and the unproven current state says they still are.
//! Records that no longer change (a batch's custody once it is final, a past month's rates,
//! a decided election) thus answer with a proof at once.

use futures::FutureExt as _;
use tokio::sync::{broadcast, oneshot};
use urbis_core::{ErrorCode, UrbisError};
use urbis_runtime::QueryAnswer;
use urbis_state::StateProof;

use crate::bundle::ProofBundle;
use crate::shared::Shared;

/// A request to the executor: answer `module`/`path` and prove the key it read.
pub struct ProofRequest {
    pub module: String,
    pub path: Vec<String>,
    pub reply: oneshot::Sender<Result<ProvenAnswer, UrbisError>>,
}

/// A query answer with a proof of the key it read, at state height `height`.
#[derive(Clone, Debug)]
pub struct ProvenAnswer {
    pub answer: QueryAnswer,
    pub proof: StateProof,
    pub height: u64,
    /// The raw bytes proven (`None`: proven absent).
    pub raw: Option<Vec<u8>>,
}

/// How many completed proof bundles a node keeps for answering again.
pub const PROOF_CACHE: usize = 4_096;

type CacheKey = (String, Vec<String>);

/// Completed bundles by module and path, the oldest evicted first.
#[derive(Default)]
pub struct ProofCache {
    entries: std::collections::HashMap<CacheKey, (QueryAnswer, Option<Vec<u8>>, ProofBundle)>,
    order: std::collections::VecDeque<CacheKey>,
}

impl ProofCache {
    fn get(&self, key: &CacheKey) -> Option<&(QueryAnswer, Option<Vec<u8>>, ProofBundle)> {
        self.entries.get(key)
    }

    fn insert(&mut self, key: CacheKey, value: (QueryAnswer, Option<Vec<u8>>, ProofBundle)) {
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > PROOF_CACHE {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }
}

/// Serve one request on the executor's task (before executing a block that certifies the
/// current state).
pub(crate) async fn serve<E>(shared: &Shared<E>, req: ProofRequest)
where
    E: commonware_storage::Context + commonware_runtime::Spawner,
{
    if req.reply.is_closed() {
        return;
    }
    let result = async {
        let auth = shared.auth.lock().await;
        let height = auth.height().unwrap_or(0);
        if shared.chain.executed_height()?.unwrap_or(0) != height {
            return Err(UrbisError::new(
                ErrorCode::NotReady,
                "the state stores are being reconciled after a restart; retry",
            ));
        }
        let view = shared.chain.state_view()?;
        let path: Vec<&str> = req.path.iter().map(String::as_str).collect();
        let answer = shared.runtime.query(&view, &req.module, &path)?;
        let value = urbis_runtime::StateView::get(&view, &answer.key)?;
        let proof = auth.prove(&answer.key, value.as_deref()).await?;
        Ok(ProvenAnswer {
            answer,
            proof,
            height,
            raw: value,
        })
    }
    .await;
    let _ = req.reply.send(result);
}

impl<E> Shared<E>
where
    E: commonware_storage::Context + commonware_runtime::Spawner,
{
    /// Ask the executor for a proven answer at the current state height.
    pub async fn prove(&self, module: &str, path: &[&str]) -> Result<ProvenAnswer, UrbisError> {
        let (reply, answer) = oneshot::channel();
        let req = ProofRequest {
            module: module.to_string(),
            path: path.iter().map(|p| p.to_string()).collect(),
            reply,
        };
        self.proofs.try_send(req).map_err(|e| match e {
            tokio::sync::mpsc::error::TrySendError::Full(_) => UrbisError::new(
                ErrorCode::Overloaded,
                "too many proof requests are waiting; retry shortly",
            ),
            tokio::sync::mpsc::error::TrySendError::Closed(_) => {
                UrbisError::new(ErrorCode::NotReady, "node is shutting down")
            }
        })?;
        answer
            .await
            .map_err(|_| UrbisError::new(ErrorCode::NotReady, "node is shutting down"))?
    }

    /// A proven answer with the headers and finalization certificate that make it checkable
    /// offline, at the newest state height that gets certified. Fails with `timeout` when
    /// `deadline` resolves first.
    pub async fn prove_certified(
        &self,
        module: &str,
        path: &[&str],
        deadline: impl std::future::Future<Output = ()>,
    ) -> Result<(QueryAnswer, ProofBundle), UrbisError> {
        let (answer, _, bundle) = self.prove_fresh(module, path, deadline).await?;
        Ok((answer, bundle))
    }

    /// As [`Self::prove_certified`], but a kept bundle whose proven bytes are still the key's
    /// current value answers at once (what the API serves); a fresh one is kept.
    pub async fn prove_current(
        &self,
        module: &str,
        path: &[&str],
        deadline: impl std::future::Future<Output = ()>,
    ) -> Result<(QueryAnswer, ProofBundle), UrbisError> {
        let key: CacheKey = (
            module.to_string(),
            path.iter().map(|p| p.to_string()).collect(),
        );
        if let Some(hit) = self.cached_proof(&key)? {
            return Ok(hit);
        }
        let (answer, raw, bundle) = self.prove_fresh(module, path, deadline).await?;
        self.proof_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, (answer.clone(), raw, bundle.clone()));
        Ok((answer, bundle))
    }

    /// A fresh proof: the answer, the raw bytes it proves, the bundle.
    async fn prove_fresh(
        &self,
        module: &str,
        path: &[&str],
        deadline: impl std::future::Future<Output = ()>,
    ) -> Result<(QueryAnswer, Option<Vec<u8>>, ProofBundle), UrbisError> {
        let deadline = deadline.fuse();
        futures::pin_mut!(deadline);
        let timeout = || {
            UrbisError::new(
                ErrorCode::Timeout,
                "no finalized block certified this state in time; retry",
            )
        };
        let mut events = self.events.subscribe();
        loop {
            let proven = futures::select_biased! {
                r = self.prove(module, path).fuse() => r?,
                () = deadline => return Err(timeout()),
            };
            loop {
                if let Some(bundle) = self.bundle(&proven)? {
                    return Ok((proven.answer, proven.raw, bundle));
                }
                if self.chain.certified_after(proven.height)? {
                    // Skipped: prove again at the newest height.
                    break;
                }
                let next = futures::select_biased! {
                    e = events.recv().fuse() => e,
                    () = deadline => return Err(timeout()),
                };
                if let Err(broadcast::error::RecvError::Closed) = next {
                    return Err(UrbisError::new(
                        ErrorCode::NotReady,
                        "node is shutting down",
                    ));
                }
            }
        }
    }

    /// A receipt bundle for transaction `hash` (committed), once a finalized block certifies a
    /// height at or after the receipt's and a certificate at or after that block is stored.
    /// `Ok(None)`: not certified yet (wait for the next block).
    pub fn receipt_bundle(
        &self,
        hash: &urbis_core::Hash,
    ) -> Result<Option<crate::bundle::ReceiptBundle>, UrbisError> {
        let Some((height, index)) = self.chain.tx_location(hash)? else {
            return Err(UrbisError::new(
                ErrorCode::NotFound,
                format!("transaction {hash} is not committed"),
            ));
        };
        let Some((certified, c)) = self.chain.certified_from(height)? else {
            return Ok(None);
        };
        let Some((f, finalization)) = self.chain.next_finalized(c)? else {
            return Ok(None);
        };
        let internal = |what: String| UrbisError::new(ErrorCode::Internal, what);
        let receipts = self
            .chain
            .receipts(height)?
            .ok_or_else(|| internal(format!("receipts of block {height} missing")))?;
        let events = self.chain.block_events(height)?;
        let leaves = urbis_core::receipts_leaves(&receipts, &events);
        let path = urbis_core::merkle_path(&leaves, index as usize)
            .ok_or_else(|| internal(format!("no receipt {index} in block {height}")))?;
        let receipt = receipts
            .get(index as usize)
            .cloned()
            .ok_or_else(|| internal(format!("no receipt {index} in block {height}")))?;
        let acc_before = match height.checked_sub(1) {
            Some(p) => {
                self.chain
                    .receipt_roots(p)?
                    .ok_or_else(|| internal(format!("no receipts roots at {p}")))?
                    .1
            }
            None => urbis_core::Hash::ZERO,
        };
        let mut later_roots = Vec::new();
        for h in height + 1..=certified {
            let (root, _) = self
                .chain
                .receipt_roots(h)?
                .ok_or_else(|| internal(format!("no receipts roots at {h}")))?;
            later_roots.push(root);
        }
        let mut headers = Vec::new();
        for h in c..=f {
            let header = self
                .chain
                .header(h)?
                .ok_or_else(|| internal(format!("block {h} missing")))?;
            headers.push(header);
        }
        self.same_epoch(c, f)?;
        let handovers = self.handovers_for(f)?;
        Ok(Some(crate::bundle::ReceiptBundle {
            handovers,
            version: self.bundle_version(),
            chain_id: self.chain_id.clone(),
            receipt,
            path,
            acc_before,
            later_roots,
            headers,
            finalization,
        }))
    }

    /// [`Shared::receipt_bundle`], waiting (until `deadline`) for the certifying block.
    pub async fn prove_receipt(
        &self,
        hash: &urbis_core::Hash,
        deadline: impl std::future::Future<Output = ()>,
    ) -> Result<crate::bundle::ReceiptBundle, UrbisError> {
        let deadline = deadline.fuse();
        futures::pin_mut!(deadline);
        let mut events = self.events.subscribe();
        loop {
            if let Some(b) = self.receipt_bundle(hash)? {
                return Ok(b);
            }
            let next = futures::select_biased! {
                e = events.recv().fuse() => e,
                () = deadline => return Err(UrbisError::new(
                    ErrorCode::Timeout,
                    "no finalized block certified this receipt in time; retry",
                )),
            };
            if let Err(broadcast::error::RecvError::Closed) = next {
                return Err(UrbisError::new(
                    ErrorCode::NotReady,
                    "node is shutting down",
                ));
            }
        }
    }

    /// A kept bundle for `key` whose proven bytes are still the key's current value.
    fn cached_proof(
        &self,
        key: &CacheKey,
    ) -> Result<Option<(QueryAnswer, ProofBundle)>, UrbisError> {
        let hit = self
            .proof_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned();
        let Some((answer, raw, bundle)) = hit else {
            return Ok(None);
        };
        let view = self.chain.state_view()?;
        let now = urbis_runtime::StateView::get(&view, &answer.key)?;
        Ok((now == raw).then_some((answer, bundle)))
    }

    /// A bundle's headers `c..=f` must lie in one epoch (an epoch's last block has its own
    /// certificate, so this fails only while that certificate has not reached this node).
    fn same_epoch(&self, c: u64, f: u64) -> Result<(), UrbisError> {
        let epochs = self.sets.epochs;
        if epochs.of(c) == epochs.of(f) {
            return Ok(());
        }
        Err(UrbisError::new(
            ErrorCode::NotReady,
            format!(
                "the certificate of epoch {}'s last block has not reached this node; retry",
                epochs.of(c)
            ),
        ))
    }

    fn bundle_version(&self) -> u32 {
        if self.sets.epochs.enabled() {
            crate::bundle::BUNDLE_VERSION_EPOCHS
        } else {
            crate::bundle::BUNDLE_VERSION
        }
    }

    /// The hand-overs a bundle certified at height `certified` carries: none on a chain without
    /// epochs, else those of epochs 1 to the certified block's epoch − 1 (see
    /// [`crate::bundle`]).
    pub fn handovers_for(
        &self,
        certified: u64,
    ) -> Result<Option<Vec<crate::bundle::Handover>>, UrbisError> {
        let epochs = self.sets.epochs;
        if !epochs.enabled() {
            return Ok(None);
        }
        self.handovers_to(epochs.of(certified)).map(Some)
    }

    /// The hand-overs of epochs 1 to `epoch − 1` (what proves the set of `epoch` from the
    /// genesis set).
    pub fn handovers_to(&self, epoch: u64) -> Result<Vec<crate::bundle::Handover>, UrbisError> {
        let epochs = self.sets.epochs;
        if epoch <= 1 {
            return Ok(Vec::new());
        }
        let stored = self.chain.handovers(1, epoch)?;
        let not_ready = |msg: String| UrbisError::new(ErrorCode::NotReady, msg);
        if stored.len() as u64 != epoch - 1 {
            return Err(not_ready(format!(
                "this node holds {} of the {} epoch hand-overs a proof from epoch {epoch} needs \
                 (it started from a state sync?); ask a node that executed the whole chain",
                stored.len(),
                epoch - 1
            )));
        }
        let mut out = Vec::with_capacity(stored.len());
        for (k, bytes) in stored {
            let mut h: crate::bundle::Handover = serde_json::from_slice(&bytes).map_err(|e| {
                UrbisError::new(ErrorCode::Internal, format!("stored hand-over {k}: {e}"))
            })?;
            if h.finalization.is_empty() {
                let last = epochs.last(k);
                match self.chain.next_finalized(last)? {
                    Some((f, cert)) if f == last => {
                        h.finalization = cert;
                        self.chain
                            .put_handover(k, &serde_json::to_vec(&h).unwrap_or_default())?;
                    }
                    _ => {
                        return Err(not_ready(format!(
                            "the certificate of epoch {k}'s last block has not reached this node"
                        )));
                    }
                }
            }
            out.push(h);
        }
        Ok(out)
    }

    /// The bundle for `proven`, once a finalized block certifies its height and a certificate
    /// at or after that block is stored.
    fn bundle(&self, proven: &ProvenAnswer) -> Result<Option<ProofBundle>, UrbisError> {
        let Some(c) = self.chain.certified_by(proven.height)? else {
            return Ok(None);
        };
        let Some((f, finalization)) = self.chain.next_finalized(c)? else {
            return Ok(None);
        };
        let mut headers = Vec::new();
        for h in c..=f {
            let header = self.chain.header(h)?.ok_or_else(|| {
                UrbisError::new(ErrorCode::Internal, format!("block {h} missing"))
            })?;
            headers.push(header);
        }
        self.same_epoch(c, f)?;
        let handovers = self.handovers_for(f)?;
        Ok(Some(ProofBundle {
            handovers,
            version: self.bundle_version(),
            chain_id: self.chain_id.clone(),
            state_height: proven.height,
            state: proven.proof.clone(),
            headers,
            finalization,
        }))
    }
}
