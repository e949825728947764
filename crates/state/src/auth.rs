//! The authenticated state: Commonware QMDB ("current", ordered keys, variable values).
//!
//! The store holds, for every logical key, the 32-byte hash of its value
//! ([`crate::proof::value_hash`]), not the value itself (that lives in the chain store): so a
//! proof of one key never carries another key's value, and its size does not depend on what
//! anyone stored. A state proof carries the value, and the verifier hashes it.
//!
//! One batch per block: every write of the block is merkleized, applied and committed together,
//! with the block height as the commit metadata, so after a crash the store reopens at the last
//! committed block and reports which one that is. Proofs are against the current root only;
//! historical questions are answered from the chain store's receipts and blocks.

use commonware_codec::Encode as _;
use commonware_cryptography::{Sha256, sha256::Digest};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::{CacheRef, page_size};
use commonware_runtime::{BLOB_PAGE_SIZE, Spawner};
use commonware_storage::journal::contiguous::variable::Config as JournalConfig;
use commonware_storage::merkle::full::Config as MerkleConfig;
use commonware_storage::qmdb::current::VariableConfig;
use commonware_storage::qmdb::current::ordered::variable::Db;
use commonware_storage::qmdb::floor::Proportional;
use commonware_storage::translator::EightCap;
use commonware_utils::{NZU64, NZUsize};
use urbis_core::{ErrorCode, Hash, UrbisError};
use urbis_runtime::WriteSet;

use crate::proof::{CHUNK, Family, StateProof, Value, ValueCfg, hashed_key, value_cfg, value_hash};

type StateDb<E> = Db<Family, E, Digest, Value, Sha256, EightCap, CHUNK, Sequential>;
type OpCfg = ((), ValueCfg);

/// How often (in blocks) the store is fully synced and pruned, bounding replay on restart.
const SYNC_EVERY: u64 = 64;

fn internal(e: impl std::fmt::Display) -> UrbisError {
    UrbisError::new(ErrorCode::Internal, format!("authenticated state: {e}"))
}

fn config(prefix: &str) -> VariableConfig<EightCap, OpCfg, Sequential> {
    let page_cache = CacheRef::new(page_size(BLOB_PAGE_SIZE), NZUsize!(4096));
    VariableConfig {
        merkle_config: MerkleConfig {
            journal_partition: format!("{prefix}-mmr-journal"),
            metadata_partition: format!("{prefix}-mmr-metadata"),
            items_per_blob: NZU64!(100_000),
            write_buffer: NZUsize!(1 << 20),
            replay_buffer: NZUsize!(1 << 20),
            strategy: Sequential,
            page_cache: page_cache.clone(),
        },
        journal_config: JournalConfig {
            partition: format!("{prefix}-log"),
            items_per_section: NZU64!(10_000),
            compression: None,
            codec_config: ((), value_cfg()),
            page_cache,
            write_buffer: NZUsize!(1 << 20),
            replay_buffer: NZUsize!(1 << 20),
        },
        grafted_metadata_partition: format!("{prefix}-grafted-metadata"),
        translator: EightCap,
        init_cache: Some(NZUsize!(1 << 16)),
        init_buffer: NZUsize!(1 << 21),
        init_concurrency: (),
    }
}

/// The authenticated state. The database handle moves through each mutating call; if one fails
/// the handle is gone and every later call reports it, so the node stops rather than diverge.
pub struct AuthState<E: commonware_storage::Context + Spawner> {
    db: Option<StateDb<E>>,
    height: Option<u64>,
    /// Never prune the operation log below this location: state-sync targets still offered
    /// need the operations from there ([`crate::sync`]).
    retain: Option<u64>,
}

impl<E: commonware_storage::Context + Spawner> AuthState<E> {
    /// Open (or create) the store under the runtime's storage, in partitions named `prefix-*`.
    pub async fn open(context: E, prefix: &str) -> Result<Self, UrbisError> {
        let db = StateDb::<E>::init(context, config(prefix), None)
            .await
            .map_err(internal)?;
        let height = match db.get_metadata().await.map_err(internal)? {
            Some(bytes) => Some(u64::from_le_bytes(
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| internal("commit metadata is not a height"))?,
            )),
            None => None,
        };
        Ok(AuthState {
            db: Some(db),
            height,
            retain: None,
        })
    }

    fn db(&self) -> Result<&StateDb<E>, UrbisError> {
        self.db
            .as_ref()
            .ok_or_else(|| internal("unavailable after an earlier storage failure"))
    }

    /// Height of the last committed block (`None` before genesis).
    pub fn height(&self) -> Option<u64> {
        self.height
    }

    pub fn root(&self) -> Result<Hash, UrbisError> {
        Ok(Hash(self.db()?.root().0))
    }

    /// The hash of `key`'s value, if it has one.
    pub async fn get_hash(&self, key: &[u8]) -> Result<Option<Hash>, UrbisError> {
        let stored = self
            .db()?
            .get(&Digest(hashed_key(key).0))
            .await
            .map_err(internal)?;
        stored
            .map(|v| {
                v.try_into()
                    .map(Hash)
                    .map_err(|_| internal("a stored value hash is not 32 bytes"))
            })
            .transpose()
    }

    /// Apply one block's writes and commit them durably, recording `height`.
    pub async fn apply(&mut self, height: u64, writes: &WriteSet) -> Result<Hash, UrbisError> {
        let db = self.db.take().ok_or_else(|| internal("unavailable"))?;
        let mut batch = db.new_batch();
        for (k, v) in writes {
            batch = batch.write(
                Digest(hashed_key(k).0),
                v.as_ref().map(|v| value_hash(v).0.to_vec()),
            );
        }
        let merkleized = batch
            .merkleize(&db, Some(height.to_le_bytes().to_vec()), &mut Proportional)
            .await
            .map_err(internal)?;
        if let Err(e) = db.validate_batch(&merkleized) {
            self.db = Some(db);
            return Err(internal(e));
        }
        let db = db.apply_batch(merkleized).await.map_err(internal)?;
        let mut db = db.commit().await.map_err(internal)?;
        if height.is_multiple_of(SYNC_EVERY) {
            let mut boundary = db.sync_boundary();
            if let Some(keep) = self.retain {
                boundary = boundary.min(commonware_storage::merkle::Location::new(keep));
            }
            db = db.prune(boundary).await.map_err(internal)?;
            db = db.sync().await.map_err(internal)?;
        }
        let root = Hash(db.root().0);
        self.db = Some(db);
        self.height = Some(height);
        Ok(root)
    }

    /// Prove that `key` has `value` (read from the chain store at the same height), or no
    /// value, against the current root. A value whose hash is not the stored one is an internal
    /// error: the two stores disagree.
    pub async fn prove(&self, key: &[u8], value: Option<&[u8]>) -> Result<StateProof, UrbisError> {
        let db = self.db()?;
        let hk = Digest(hashed_key(key).0);
        let root = Hash(db.root().0);
        let stored = db.get(&hk).await.map_err(internal)?;
        match (stored, value) {
            (Some(h), Some(value)) => {
                if h.as_slice() != value_hash(value).0.as_slice() {
                    return Err(internal(format!(
                        "the value of {} differs between the stores",
                        String::from_utf8_lossy(key)
                    )));
                }
                let proof = db.key_value_proof(hk).await.map_err(internal)?;
                Ok(StateProof {
                    key: key.to_vec(),
                    value: Some(value.to_vec()),
                    root,
                    proof: proof.encode().to_vec(),
                })
            }
            (Some(_), None) | (None, Some(_)) => Err(internal(format!(
                "the stores disagree on whether {} has a value",
                String::from_utf8_lossy(key)
            ))),
            (None, None) => {
                let proof = db.exclusion_proof(&hk).await.map_err(internal)?;
                Ok(StateProof {
                    key: key.to_vec(),
                    value: None,
                    root,
                    proof: proof.encode().to_vec(),
                })
            }
        }
    }

    /// What a node syncing from this one needs to copy the store as it is now (call it right
    /// after the height it describes is stored).
    pub async fn sync_target(&self) -> Result<crate::sync::SyncTarget, UrbisError> {
        let db = self.db()?;
        let height = self.height.ok_or_else(|| internal("no state yet"))?;
        let witness = db.ops_root_witness().await.map_err(internal)?;
        Ok(crate::sync::SyncTarget {
            height,
            size: *db.bounds().end,
            lower: *db.sync_boundary(),
            ops_root: Hash(db.ops_root().0),
            root: Hash(db.root().0),
            witness: witness.encode().to_vec(),
        })
    }

    /// Keep the operation log from `lower` on (the lowest `lower` of the sync targets still
    /// offered), or prune freely (`None`).
    pub fn retain_from(&mut self, lower: Option<u64>) {
        self.retain = lower;
    }

    /// Answer a syncing node's request for operations, proven against the store's root at one
    /// of the `offered` sizes (answers carry at most [`crate::sync::MAX_SYNC_OPS`]).
    pub async fn serve_sync(&self, request: &[u8], offered: &[u64]) -> Result<Vec<u8>, UrbisError> {
        use commonware_storage::qmdb::sync::{Request, Source as _};
        let request = crate::sync::decode_request(request)?;
        if !offered.contains(&*request.size()) {
            return Err(UrbisError::new(
                ErrorCode::NotFound,
                format!(
                    "this node offers no sync target of size {}",
                    *request.size()
                ),
            ));
        }
        let request = match request {
            Request::Operations {
                size,
                start,
                max_ops,
            } => Request::Operations {
                size,
                start,
                max_ops: max_ops.min(NZU64!(crate::sync::MAX_SYNC_OPS)),
            },
            boundary => boundary,
        };
        let (response, _) = self.db()?.serve(request).await.map_err(|e| {
            UrbisError::new(
                ErrorCode::NotFound,
                format!("cannot serve these operations (pruned or out of range): {e}"),
            )
        })?;
        Ok(response.encode().to_vec())
    }

    /// Copy the store at `target` from `source` into partitions `prefix-*` (which must be
    /// empty), check it against the target's roots, and open it. The caller has checked that
    /// a verified certificate covers `target.root` at `target.height`.
    pub async fn sync_from<S>(
        context: E,
        prefix: &str,
        target: &crate::sync::SyncTarget,
        source: S,
    ) -> Result<Self, UrbisError>
    where
        S: commonware_storage::qmdb::sync::Source<
                Family = Family,
                Op = crate::sync::SyncOp,
                Digest = Digest,
            > + 'static,
    {
        use commonware_storage::merkle::Location;
        use commonware_storage::qmdb::sync::{Target, engine, sync};
        target.check_witness()?;
        let range = commonware_utils::non_empty_range!(
            Location::<Family>::new(target.lower),
            Location::new(target.size)
        );
        let db: StateDb<E> = sync(engine::Config {
            context,
            source,
            target: Target::new(Digest(target.ops_root.0), range),
            max_outstanding_requests: NZUsize!(4),
            fetch_batch_size: NZU64!(crate::sync::MAX_SYNC_OPS),
            apply_batch_size: NZU64!(1024),
            db_config: config(prefix),
            update_rx: None,
            finish_rx: None,
            reached_target_tx: None,
        })
        .await
        .map_err(|e| UrbisError::new(ErrorCode::InvalidProof, format!("state sync: {e}")))?;
        if Hash(db.ops_root().0) != target.ops_root || Hash(db.root().0) != target.root {
            return Err(UrbisError::new(
                ErrorCode::InvalidProof,
                "the synced state does not have the target's roots",
            ));
        }
        let metadata = db.get_metadata().await.map_err(internal)?;
        if metadata.as_deref() != Some(target.height.to_le_bytes().as_slice()) {
            return Err(UrbisError::new(
                ErrorCode::InvalidProof,
                "the synced state does not end at the target's height",
            ));
        }
        let db = db.sync().await.map_err(internal)?;
        Ok(AuthState {
            db: Some(db),
            height: Some(target.height),
            retain: None,
        })
    }

    /// Check that `values` is exactly the state the store holds: one entry per key with a
    /// value, each hashing to what the store holds for its key. One ordered pass over the store
    /// (reading each key at random costs ~20 times more for a large state).
    pub async fn check_values(&self, values: &[(Vec<u8>, Vec<u8>)]) -> Result<(), UrbisError> {
        use futures::StreamExt as _;
        let mismatch = |msg: String| UrbisError::new(ErrorCode::InvalidProof, msg);
        let mut expected: Vec<([u8; 32], [u8; 32], usize)> = values
            .iter()
            .enumerate()
            .map(|(i, (k, v))| (hashed_key(k).0, value_hash(v).0, i))
            .collect();
        expected.sort_unstable();
        let mut stored = Box::pin(self.db()?.stream_range(..));
        let mut next = expected.iter();
        while let Some(item) = stored.next().await {
            let (key, hash) = item.map_err(internal)?;
            let Some((hk, vh, i)) = next.next() else {
                return Err(mismatch(format!(
                    "the state has more keys than the {} values given",
                    values.len()
                )));
            };
            if key.0 != *hk {
                return Err(mismatch(format!(
                    "no value given for a key of the state (next given: {})",
                    String::from_utf8_lossy(&values[*i].0)
                )));
            }
            if hash.as_slice() != vh.as_slice() {
                return Err(mismatch(format!(
                    "the value given for {} is not the one the state holds",
                    String::from_utf8_lossy(&values[*i].0)
                )));
            }
        }
        match next.next() {
            Some((_, _, i)) => Err(mismatch(format!(
                "a value was given for {}, which has none in the state",
                String::from_utf8_lossy(&values[*i].0)
            ))),
            None => Ok(()),
        }
    }

    /// Remove the store and its partitions.
    pub async fn destroy(mut self) -> Result<(), UrbisError> {
        let db = self.db.take().ok_or_else(|| internal("unavailable"))?;
        db.destroy().await.map_err(internal)
    }

    /// Flush everything to disk (on clean shutdown).
    pub async fn sync(&mut self) -> Result<(), UrbisError> {
        let db = self.db.take().ok_or_else(|| internal("unavailable"))?;
        self.db = Some(db.sync().await.map_err(internal)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::verify_state_proof;
    use commonware_runtime::{Runner as _, Supervisor as _, deterministic};

    fn ws(items: &[(&str, Option<&str>)]) -> WriteSet {
        items
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn apply_prove_verify_and_tamper() {
        deterministic::Runner::seeded(7).start(|ctx| async move {
            let mut s = AuthState::open(ctx.child("state"), "t").await.unwrap();
            assert_eq!(s.height(), None);
            let r1 = s
                .apply(0, &ws(&[("a/x", Some("1")), ("a/y", Some("2"))]))
                .await
                .unwrap();
            let r2 = s
                .apply(1, &ws(&[("a/x", Some("3")), ("a/y", None)]))
                .await
                .unwrap();
            assert_ne!(r1, r2);
            assert_eq!(s.height(), Some(1));
            assert_eq!(
                s.get_hash(b"a/x").await.unwrap(),
                Some(crate::proof::value_hash(b"3"))
            );

            let p = s.prove(b"a/x", Some(b"3")).await.unwrap();
            assert_eq!(p.root, r2);
            verify_state_proof(&p).unwrap();
            assert!(
                s.prove(b"a/x", Some(b"4")).await.is_err(),
                "stores disagree"
            );
            assert!(s.prove(b"a/x", None).await.is_err(), "stores disagree");
            let absent = s.prove(b"a/y", None).await.unwrap();
            assert_eq!(absent.value, None);
            verify_state_proof(&absent).unwrap();

            // Tampering with the value, the key, the root or any proof byte must fail.
            let mut t = p.clone();
            t.value = Some(b"4".to_vec());
            assert!(verify_state_proof(&t).is_err());
            let mut t = p.clone();
            t.key = b"a/z".to_vec();
            assert!(verify_state_proof(&t).is_err());
            let mut t = p.clone();
            t.root = r1;
            assert!(verify_state_proof(&t).is_err());
            for i in 0..p.proof.len() {
                let mut t = p.clone();
                t.proof[i] ^= 1;
                assert!(verify_state_proof(&t).is_err(), "flipped byte {i} accepted");
            }
            // Claiming absence of a present key fails.
            let mut t = absent.clone();
            t.key = b"a/x".to_vec();
            assert!(verify_state_proof(&t).is_err());
        });
    }

    /// An exclusion proof's size does not depend on what the neighbouring keys hold: the store
    /// commits to value hashes, so a 200 KiB neighbour costs the prover nothing extra.
    #[test]
    fn proof_size_is_independent_of_neighbour_values() {
        let sizes = |neighbour: usize| {
            deterministic::Runner::seeded(3).start(move |ctx| async move {
                let mut s = AuthState::open(ctx.child("state"), "n").await.unwrap();
                let big = vec![7u8; neighbour];
                let mut w = WriteSet::new();
                for k in ["a/a", "a/c", "a/e"] {
                    w.insert(k.as_bytes().to_vec(), Some(big.clone()));
                }
                s.apply(0, &w).await.unwrap();
                let absent = s.prove(b"a/b", None).await.unwrap();
                verify_state_proof(&absent).unwrap();
                let present = s.prove(b"a/c", Some(&big)).await.unwrap();
                verify_state_proof(&present).unwrap();
                (absent.proof.len(), present.proof.len())
            })
        };
        let small = sizes(1);
        let large = sizes(200 * 1024);
        assert_eq!(small, large);
        assert!(large.0 < 1024, "exclusion proof of {} bytes", large.0);
    }

    #[test]
    fn same_writes_same_root_and_reopen_keeps_it() {
        let (root, checkpoint) =
            deterministic::Runner::seeded(1).start_and_recover(|ctx| async move {
                let mut a = AuthState::open(ctx.child("a"), "a").await.unwrap();
                let mut b = AuthState::open(ctx.child("b"), "b").await.unwrap();
                for h in 0..5u64 {
                    let w = ws(&[("k", Some(&h.to_string())), ("const", Some("c"))]);
                    let ra = a.apply(h, &w).await.unwrap();
                    let rb = b.apply(h, &w).await.unwrap();
                    assert_eq!(ra, rb);
                }
                a.root().unwrap()
            });
        deterministic::Runner::from(checkpoint).start(|ctx| async move {
            let a = AuthState::open(ctx.child("a"), "a").await.unwrap();
            assert_eq!(a.root().unwrap(), root);
            assert_eq!(a.height(), Some(4));
        });
    }
}
