//! Blob replication between validators, over the p2p blob channel
//! (`urbis_consensus::blobnet`): a blob uploaded to one validator is pushed to every other one,
//! and a validator asked for a blob it lacks (it was down during the push, say) asks its peers.
//! So a record stays readable while its custodian's node is down.
//!
//! Messages (borsh, [`BlobMsg`]): `Part {hash, total, offset, bytes}` carries [`PART`] bytes
//! of a blob (the last part fewer); `Want {hash}` asks every peer for a blob, and a peer that
//! has it answers with its parts. The key vault's signed writes travel the same way (`Wrap`,
//! `WantWraps`), each checked again by the receiver against its own state. A receiver assembles parts in memory (bounded: at most
//! [`MAX_PARTIALS`] blobs at a time, the oldest dropped), checks the SHA-256 of the whole and
//! stores it through the same store as uploads (size bound, quota, erased hashes refused).
//! Peers are validators, authenticated by the p2p layer; whatever they send is still checked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use urbis_consensus::blobnet::{BlobLink, To};
use urbis_core::{ErrorCode, Hash, PublicKey, UrbisError};

use crate::blobs::BlobStore;

/// Bytes per part.
pub const PART: usize = 512 * 1024;
/// Blobs being assembled at once.
pub const MAX_PARTIALS: usize = 32;
/// A partial blob not completed within this is dropped.
const PARTIAL_TTL: Duration = Duration::from_secs(60);

/// A message on the blob channel.
#[derive(Debug, BorshSerialize, BorshDeserialize)]
pub enum BlobMsg {
    Part {
        hash: [u8; 32],
        total: u64,
        offset: u64,
        bytes: Vec<u8>,
    },
    Want {
        hash: [u8; 32],
    },
    /// A signed wrap write of the key vault ([`crate::vault::SignedWrite`], JSON), which the
    /// receiver checks again against its own state.
    Wrap {
        write: Vec<u8>,
    },
    /// Ask for every wrap write of a record.
    WantWraps {
        record: [u8; 32],
    },
}

/// Where wrap writes from peers go (the key vault).
pub trait WrapSink: Send + Sync {
    /// Check and store a forwarded write.
    fn apply(&self, write: &[u8]) -> Result<(), UrbisError>;
    /// Every write held for `record`.
    fn writes(&self, record: &Hash) -> Vec<Vec<u8>>;
}

/// How often a forwarded wrap write is tried while this node has not yet executed the block
/// that makes it valid (its record or grant), half a second apart.
const WRAP_TRIES: usize = 40;

struct Partial {
    total: u64,
    buf: Vec<u8>,
    have: Vec<bool>,
    left: usize,
    started: Instant,
}

/// The node's replicator: push new blobs, ask for missing ones.
pub struct Replicator {
    store: Arc<BlobStore>,
    /// Other validators (none on a dev chain).
    peers: usize,
    sink: Option<Arc<dyn WrapSink>>,
    outbound: mpsc::Sender<(To, Vec<u8>)>,
    partials: Mutex<BTreeMap<Hash, Partial>>,
}

impl Replicator {
    /// Start replicating over `link`; the inbound loop runs on the calling runtime.
    pub fn start(
        store: Arc<BlobStore>,
        sink: Arc<dyn WrapSink>,
        link: BlobLink,
        peers: usize,
    ) -> Arc<Replicator> {
        let BlobLink { outbound, inbound } = link;
        let r = Arc::new(Replicator {
            store,
            peers,
            sink: Some(sink),
            outbound,
            partials: Mutex::new(BTreeMap::new()),
        });
        tokio::spawn(r.clone().inbound(inbound));
        r
    }

    /// Send the blob `hash`, whose bytes the caller holds, to every other validator.
    pub fn push_bytes(self: &Arc<Self>, hash: Hash, bytes: bytes::Bytes) {
        let me = self.clone();
        tokio::spawn(async move { me.send_bytes(hash, &bytes, To::All).await });
    }

    /// Ask every other validator for the blob `hash`.
    pub fn want(&self, hash: Hash) {
        let msg = borsh::to_vec(&BlobMsg::Want { hash: hash.0 }).unwrap_or_default();
        if self.outbound.try_send((To::All, msg)).is_err() {
            debug!(%hash, "blob channel busy: want not sent");
        }
    }

    /// Whether there is another validator to ask.
    pub fn has_peers(&self) -> bool {
        self.peers > 0
    }

    /// Forward a wrap write this node accepted to every other validator.
    pub fn push_wrap(&self, write: Vec<u8>) {
        let msg = borsh::to_vec(&BlobMsg::Wrap { write }).unwrap_or_default();
        let out = self.outbound.clone();
        tokio::spawn(async move {
            let _ = out.send((To::All, msg)).await;
        });
    }

    /// Ask every other validator for the wrap writes of `record`.
    pub fn want_wraps(&self, record: Hash) {
        let msg = borsh::to_vec(&BlobMsg::WantWraps { record: record.0 }).unwrap_or_default();
        if self.outbound.try_send((To::All, msg)).is_err() {
            debug!(%record, "blob channel busy: want not sent");
        }
    }

    async fn apply_wrap(&self, write: Vec<u8>) {
        let Some(sink) = self.sink.clone() else {
            return;
        };
        for _ in 0..WRAP_TRIES {
            let (s, w) = (sink.clone(), write.clone());
            match tokio::task::spawn_blocking(move || s.apply(&w)).await {
                Ok(Ok(())) => return,
                Ok(Err(e)) if e.code == ErrorCode::AlreadyExists => return,
                // Not executed here yet (the record, its version or the grant): wait.
                Ok(Err(e))
                    if matches!(e.code, ErrorCode::NotFound | ErrorCode::InvalidArgument) =>
                {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Ok(Err(e)) => {
                    debug!(%e, "forwarded wrap refused");
                    return;
                }
                Err(_) => return,
            }
        }
    }

    /// Send the blob `hash` from the store.
    async fn send_parts(&self, hash: Hash, to: To) {
        let store = self.store.clone();
        let bytes = match tokio::task::spawn_blocking(move || store.get(&hash)).await {
            Ok(Ok(b)) => b,
            _ => return,
        };
        self.send_bytes(hash, &bytes, to).await;
    }

    async fn send_bytes(&self, hash: Hash, bytes: &[u8], to: To) {
        let total = bytes.len() as u64;
        for (i, chunk) in bytes.chunks(PART).enumerate() {
            let msg = BlobMsg::Part {
                hash: hash.0,
                total,
                offset: (i * PART) as u64,
                bytes: chunk.to_vec(),
            };
            let encoded = borsh::to_vec(&msg).unwrap_or_default();
            if self.outbound.send((to.clone(), encoded)).await.is_err() {
                return;
            }
        }
    }

    async fn inbound(self: Arc<Self>, mut rx: mpsc::Receiver<(PublicKey, Vec<u8>)>) {
        while let Some((peer, bytes)) = rx.recv().await {
            match BlobMsg::try_from_slice(&bytes) {
                Ok(BlobMsg::Want { hash }) => {
                    let hash = Hash(hash);
                    if self.store.contains(&hash) {
                        let me = self.clone();
                        tokio::spawn(async move { me.send_parts(hash, To::One(peer)).await });
                    }
                }
                Ok(BlobMsg::Part {
                    hash,
                    total,
                    offset,
                    bytes,
                }) => {
                    if let Some(whole) = self.part(Hash(hash), total, offset, bytes) {
                        // Stored (and synced) off the receive loop, which goes on taking parts.
                        let store = self.store.clone();
                        tokio::spawn(async move {
                            // `part` checked the hash.
                            let stored = tokio::task::spawn_blocking(move || {
                                store.put_replica(&whole, Hash(hash))
                            })
                            .await;
                            match stored {
                                Ok(Ok(h)) => info!(blob = %h, from = %peer, "blob replicated"),
                                Ok(Err(e)) => debug!(%e, "replicated blob refused"),
                                Err(e) => warn!(%e, "blob store task failed"),
                            }
                        });
                    }
                }
                Ok(BlobMsg::Wrap { write }) => {
                    let me = self.clone();
                    tokio::spawn(async move { me.apply_wrap(write).await });
                }
                Ok(BlobMsg::WantWraps { record }) => {
                    if let Some(sink) = &self.sink {
                        for write in sink.writes(&Hash(record)) {
                            let msg = borsh::to_vec(&BlobMsg::Wrap { write }).unwrap_or_default();
                            if self.outbound.send((To::One(peer), msg)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                Err(_) => debug!(%peer, "undecodable blob message dropped"),
            }
        }
    }

    /// Take one part; the whole blob once its last part is in and its hash checks.
    fn part(&self, hash: Hash, total: u64, offset: u64, bytes: Vec<u8>) -> Option<Vec<u8>> {
        if total == 0
            || total > self.store.max_blob
            || !offset.is_multiple_of(PART as u64)
            || offset >= total
            || bytes.len() as u64 != (total - offset).min(PART as u64)
            || self.store.contains(&hash)
            || self.store.is_shredded(&hash)
        {
            return None;
        }
        let mut partials = self.partials.lock().unwrap_or_else(|p| p.into_inner());
        partials.retain(|_, p| p.started.elapsed() < PARTIAL_TTL);
        if !partials.contains_key(&hash) && partials.len() >= MAX_PARTIALS {
            let oldest = partials
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(h, _)| *h)?;
            partials.remove(&oldest);
        }
        let parts = total.div_ceil(PART as u64) as usize;
        let p = partials.entry(hash).or_insert_with(|| Partial {
            total,
            buf: vec![0; total as usize],
            have: vec![false; parts],
            left: parts,
            started: Instant::now(),
        });
        if p.total != total {
            return None;
        }
        let i = (offset / PART as u64) as usize;
        if p.have[i] {
            return None;
        }
        p.have[i] = true;
        p.left -= 1;
        p.buf[offset as usize..offset as usize + bytes.len()].copy_from_slice(&bytes);
        if p.left > 0 {
            return None;
        }
        let done = partials.remove(&hash)?;
        if Hash(Sha256::digest(&done.buf).into()) != hash {
            debug!(%hash, "replicated blob does not match its hash");
            return None;
        }
        Some(done.buf)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn replicator(dir: &std::path::Path) -> (Arc<Replicator>, mpsc::Receiver<(To, Vec<u8>)>) {
        let store = Arc::new(BlobStore::open(dir, 4 << 20, 64 << 20).unwrap());
        let (tx, rx) = mpsc::channel(64);
        let r = Arc::new(Replicator {
            store,
            peers: 3,
            sink: None,
            outbound: tx,
            partials: Mutex::new(BTreeMap::new()),
        });
        (r, rx)
    }

    #[test]
    fn parts_in_any_order_make_the_blob_and_bad_parts_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let (r, _rx) = replicator(dir.path());
        let blob: Vec<u8> = (0..(PART * 2 + 100)).map(|i| (i % 251) as u8).collect();
        let hash = Hash(Sha256::digest(&blob).into());
        let total = blob.len() as u64;
        let part = |i: usize| blob[i * PART..((i + 1) * PART).min(blob.len())].to_vec();
        // Misaligned, oversized, out-of-range parts are ignored.
        assert!(r.part(hash, total, 1, part(0)).is_none());
        assert!(r.part(hash, total, 0, vec![0; PART + 1]).is_none());
        assert!(r.part(hash, total, total, vec![1]).is_none());
        assert!(r.part(hash, 64 << 20, 0, part(0)).is_none());
        assert!(r.part(hash, total, 2 * PART as u64, part(2)).is_none());
        assert!(r.part(hash, total, 0, part(0)).is_none());
        // A repeated part changes nothing.
        assert!(r.part(hash, total, 0, part(0)).is_none());
        let whole = r.part(hash, total, PART as u64, part(1)).unwrap();
        assert_eq!(whole, blob);
        // Parts whose whole does not match the hash are dropped.
        let wrong = Hash([7; 32]);
        assert!(r.part(wrong, 3, 0, vec![1, 2, 3]).is_none());
        assert!(r.partials.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_pushed_blob_goes_out_in_parts() {
        let dir = tempfile::tempdir().unwrap();
        let (r, mut rx) = replicator(dir.path());
        let blob = vec![9u8; PART + 1];
        let hash = r.store.put(&blob).unwrap();
        r.send_parts(hash, To::All).await;
        let mut got = Vec::new();
        while let Ok((_, m)) = rx.try_recv() {
            got.push(BlobMsg::try_from_slice(&m).unwrap());
        }
        assert_eq!(got.len(), 2);
        let dir2 = tempfile::tempdir().unwrap();
        let (other, _rx2) = replicator(dir2.path());
        let mut whole = None;
        for m in got.into_iter().rev() {
            if let BlobMsg::Part {
                hash,
                total,
                offset,
                bytes,
            } = m
            {
                whole = whole.or(other.part(Hash(hash), total, offset, bytes));
            }
        }
        assert_eq!(whole.unwrap(), blob);
    }
}
