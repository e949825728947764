//! State sync: a node that starts from another node's authenticated state at a certified
//! height instead of replaying every block.
//!
//! The serving node offers **targets**: right after it has stored a height `e` whose state a
//! finalized block certifies, it records what a syncing node needs to copy the authenticated
//! store as it was at `e` ([`SyncTarget`]: the size and root of the store's operation log, the
//! lowest operation still needed, the canonical root the header certifies, and the witness
//! that links the two roots). The operation log is append-only, so the store can later prove
//! any range of operations against the root it had at `e` (Commonware QMDB's historical proofs)
//! while it keeps committing blocks; it only must not prune below the lowest `lower` it still
//! offers ([`crate::AuthState::retain_from`]).
//!
//! The syncing node trusts a target only once a certificate it verified (against the genesis
//! validator set) covers a header whose `state_height` is `e` and whose `state_root` is the
//! target's `root`, and the witness links `root` to `ops_root`. Commonware's sync engine then
//! fetches the operations from `lower` to `size`, checking every batch against `ops_root`; the
//! rebuilt store must have `root` as its canonical root. The store holds value hashes only: the
//! values come separately and each must hash to what the synced store holds for its key, and
//! their number must be the store's number of keys.

use commonware_codec::{Copying, Decode as _, DecodeExt as _, Encode as _};
use commonware_cryptography::sha256::Digest;
use commonware_storage::qmdb::sync::{Request, Response, Source};
use serde::{Deserialize, Serialize};
use urbis_core::{ErrorCode, Hash, UrbisError};

use crate::proof::{Family, Value, value_cfg};

/// The operations of the authenticated store's log (what state sync transfers).
pub type SyncOp =
    commonware_storage::qmdb::any::ordered::variable::Operation<Family, Digest, Value>;

/// One answer to a [`Request`].
pub type SyncResponse = Response<Family, SyncOp, Digest>;

/// Most operations one answer carries (a server clamps larger requests; the engine asks again
/// for the rest).
pub const MAX_SYNC_OPS: u64 = 4096;

/// Largest encoded answer of at most `max_ops` operations: every stored value is a 32-byte
/// hash, so an operation is at most 1 + 32 + 33 + 32 bytes plus its commit metadata.
pub fn max_response_bytes(max_ops: u64) -> usize {
    commonware_storage::qmdb::sync::max_response_size::<Family, Digest>(max_ops as usize, 160)
}

/// What a node offers to nodes that sync from it (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncTarget {
    /// The block height after which the state is.
    pub height: u64,
    /// Number of operations in the store's log after `height`.
    pub size: u64,
    /// The first operation a syncing node must fetch (the store's sync boundary at `height`).
    pub lower: u64,
    /// Root of the operation log at `size`: what every fetched batch is checked against.
    pub ops_root: Hash,
    /// The canonical state root after `height`: what headers certify.
    pub root: Hash,
    /// Commonware encoding of the witness that `ops_root` and `root` belong together.
    #[serde(with = "urbis_core::hexser")]
    pub witness: Vec<u8>,
}

fn invalid(msg: impl Into<String>) -> UrbisError {
    UrbisError::new(ErrorCode::InvalidProof, msg)
}

impl SyncTarget {
    /// Check the witness: `ops_root` is the operation log under `root`.
    pub fn check_witness(&self) -> Result<(), UrbisError> {
        use commonware_storage::qmdb::current::proof::OpsRootWitness;
        if self.lower >= self.size {
            return Err(invalid("the target's range is empty"));
        }
        let witness = OpsRootWitness::<Family, Digest>::decode(Copying(self.witness.as_slice()))
            .map_err(|e| invalid(format!("the witness does not decode: {e}")))?;
        if !witness.verify::<commonware_cryptography::Sha256>(
            &Digest(self.ops_root.0),
            &Digest(self.root.0),
        ) {
            return Err(invalid(
                "the witness does not link the operation log's root to the state root",
            ));
        }
        Ok(())
    }
}

/// Decode a request from a syncing node.
pub fn decode_request(bytes: &[u8]) -> Result<Request<Family>, UrbisError> {
    Request::<Family>::decode(Copying(bytes))
        .map_err(|e| UrbisError::new(ErrorCode::Malformed, format!("sync request: {e}")))
}

/// Why a fetch for the sync engine failed.
#[derive(Debug)]
pub struct FetchError(pub String);

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FetchError {}

/// How a syncing node asks a serving node for operations: the encoded [`Request`] in, the
/// encoded [`Response`] out (over HTTP in the node; directly in tests and benchmarks).
pub trait FetchOps: Send + Sync + 'static {
    fn fetch(
        &self,
        request: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

/// A [`FetchOps`] as the sync engine's [`Source`].
pub struct Fetcher<T>(pub T);

impl<T: FetchOps> Source for Fetcher<T> {
    type Family = Family;
    type Digest = Digest;
    type Op = SyncOp;
    type Error = FetchError;

    async fn serve(
        &self,
        request: Request<Family>,
    ) -> commonware_storage::qmdb::sync::source::Result<Self> {
        let max_ops = request.max_ops().get();
        let bytes = self.0.fetch(request.encode().to_vec()).await?;
        if bytes.len() > max_response_bytes(max_ops) {
            return Err(FetchError(
                "the answer is larger than an answer can be".into(),
            ));
        }
        let response = SyncResponse::decode_cfg(
            Copying(bytes.as_slice()),
            &(max_ops as usize, ((), value_cfg())),
        )
        .map_err(|e| FetchError(format!("the answer does not decode: {e}")))?;
        Ok((response, None))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use commonware_runtime::{Runner as _, Supervisor as _, deterministic};
    use urbis_runtime::WriteSet;

    use super::*;
    use crate::AuthState;

    type Shared = Arc<futures::lock::Mutex<AuthState<deterministic::Context>>>;

    /// Serves from a store in the same process; `tamper` flips one byte of every answer.
    struct Local {
        store: Shared,
        offered: Vec<u64>,
        tamper: bool,
    }

    impl FetchOps for Local {
        async fn fetch(&self, request: Vec<u8>) -> Result<Vec<u8>, FetchError> {
            let store = self.store.lock().await;
            let mut answer = store
                .serve_sync(&request, &self.offered)
                .await
                .map_err(|e| FetchError(e.to_string()))?;
            if self.tamper {
                let at = answer.len() / 2;
                answer[at] ^= 1;
            }
            Ok(answer)
        }
    }

    fn writes(height: u64) -> WriteSet {
        // New keys every block, some rewritten, some deleted: the log has inactive operations.
        let mut w = WriteSet::new();
        for i in 0..20u64 {
            w.insert(
                format!("m/k{}", height * 20 + i).into_bytes(),
                Some(vec![height as u8; 40]),
            );
        }
        w.insert(b"m/counter".to_vec(), Some(height.to_le_bytes().to_vec()));
        if height > 2 {
            w.insert(format!("m/k{}", (height - 2) * 20).into_bytes(), None);
        }
        w
    }

    #[test]
    fn a_store_syncs_to_a_target_while_its_source_moves_on() {
        deterministic::Runner::seeded(3).start(|ctx| async move {
            let mut src = AuthState::open(ctx.child("src"), "src").await.unwrap();
            let mut roots = Vec::new();
            for h in 0..=70 {
                roots.push(src.apply(h, &writes(h)).await.unwrap());
            }
            let target = src.sync_target().await.unwrap();
            assert_eq!((target.height, target.root), (70, roots[70]));
            src.retain_from(Some(target.lower));
            // The source goes on, past a pruning height.
            for h in 71..=140 {
                roots.push(src.apply(h, &writes(h)).await.unwrap());
            }
            let store: Shared = Arc::new(futures::lock::Mutex::new(src));
            let offered = vec![target.size];

            // Sizes not offered are refused.
            {
                let s = store.lock().await;
                let other = Request::<Family>::Operations {
                    size: commonware_storage::merkle::Location::new(target.size - 1),
                    start: commonware_storage::merkle::Location::new(target.lower),
                    max_ops: std::num::NonZeroU64::MIN,
                };
                let err = s.serve_sync(&other.encode(), &offered).await.unwrap_err();
                assert_eq!(err.code, ErrorCode::NotFound);
            }

            // A target whose witness does not link its roots is refused before fetching.
            let mut forged = target.clone();
            forged.root = Hash([1; 32]);
            assert!(forged.check_witness().is_err());

            // Tampered answers fail the sync.
            let tampered = Local {
                store: store.clone(),
                offered: offered.clone(),
                tamper: true,
            };
            assert!(
                AuthState::sync_from(ctx.child("bad"), "bad", &target, Fetcher(tampered))
                    .await
                    .is_err()
            );

            let honest = Local {
                store: store.clone(),
                offered,
                tamper: false,
            };
            let mut dst = AuthState::sync_from(ctx.child("dst"), "dst", &target, Fetcher(honest))
                .await
                .unwrap();
            assert_eq!(dst.height(), Some(70));
            assert_eq!(dst.root().unwrap(), roots[70]);
            assert_eq!(
                dst.get_hash(b"m/counter").await.unwrap(),
                Some(crate::value_hash(&70u64.to_le_bytes()))
            );
            // The values: exactly the state's, or refused.
            let mut state = std::collections::BTreeMap::new();
            for h in 0..=70 {
                for (k, v) in writes(h) {
                    match v {
                        Some(v) => state.insert(k, v),
                        None => state.remove(&k),
                    };
                }
            }
            let values: Vec<(Vec<u8>, Vec<u8>)> = state.into_iter().collect();
            // 71 blocks of 20 keys, 68 of them deleted again, and the counter.
            assert_eq!(values.len(), 71 * 20 - 68 + 1);
            dst.check_values(&values).await.unwrap();
            assert!(dst.check_values(&values[1..]).await.is_err());
            let mut extra = values.clone();
            extra.push((b"m/zzz".to_vec(), b"1".to_vec()));
            assert!(dst.check_values(&extra).await.is_err());
            let mut changed = values.clone();
            changed[5].1.push(0);
            assert!(dst.check_values(&changed).await.is_err());
            // It continues exactly as the source did.
            for h in 71..=140 {
                assert_eq!(dst.apply(h, &writes(h)).await.unwrap(), roots[h as usize]);
            }
            // And proves against its root.
            let proof = dst
                .prove(b"m/counter", Some(&140u64.to_le_bytes()))
                .await
                .unwrap();
            assert_eq!(proof.root, roots[140]);
            assert!(crate::verify_state_proof(&proof).is_ok());
        });
    }
}
