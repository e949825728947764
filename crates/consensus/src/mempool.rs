//! The mempool: transactions that passed the door checks, waiting for a block.
//!
//! Per sender, transactions are kept by nonce and must be contiguous from the sender's committed
//! nonce, so every pending transaction can actually execute. The pool is bounded in count and
//! bytes; when full, submissions get `mempool_full` (HTTP 503) instead of silently evicting
//! someone else's transaction. Transactions stay in the pool until the block that includes them
//! is executed ([`Mempool::on_executed`]); block building skips those already in the unexecuted
//! ancestors of the block being built.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use urbis_core::{Address, ErrorCode, Hash, SignedTx, UrbisError, limits};

/// Mempool limits.
#[derive(Clone, Debug)]
pub struct MempoolConfig {
    pub max_txs: usize,
    pub max_bytes: usize,
    /// Longest run of pending transactions one sender may have.
    pub max_per_sender: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 200_000,
            max_bytes: 256 * 1024 * 1024,
            max_per_sender: 4_096,
        }
    }
}

#[derive(Default)]
struct Inner {
    by_sender: BTreeMap<Address, BTreeMap<u64, Arc<SignedTx>>>,
    hashes: HashMap<Hash, (Address, u64)>,
    bytes: usize,
    /// Round-robin cursor so that no sender starves the others.
    cursor: Option<Address>,
}

pub struct Mempool {
    cfg: MempoolConfig,
    inner: Mutex<Inner>,
}

/// Snapshot numbers for metrics and `/v1/status`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct MempoolStats {
    pub txs: usize,
    pub bytes: usize,
    pub senders: usize,
}

impl Mempool {
    pub fn new(cfg: MempoolConfig) -> Self {
        Mempool {
            cfg,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> MempoolStats {
        let inner = self.lock();
        MempoolStats {
            txs: inner.hashes.len(),
            bytes: inner.bytes,
            senders: inner.by_sender.len(),
        }
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.lock().hashes.contains_key(hash)
    }

    /// The nonce the sender's next submission must carry, given its committed nonce.
    pub fn next_nonce(&self, sender: &Address, committed: u64) -> u64 {
        let inner = self.lock();
        inner
            .by_sender
            .get(sender)
            .and_then(|q| q.last_key_value())
            .map(|(n, _)| n + 1)
            .filter(|n| *n > committed)
            .unwrap_or(committed)
    }

    /// Admit a transaction that already passed the stateless checks. `committed` is the
    /// sender's nonce in the latest executed state.
    pub fn insert(&self, tx: SignedTx, committed: u64) -> Result<Hash, UrbisError> {
        let hash = tx.hash();
        let size = borsh::object_length(&tx).unwrap_or(limits::MAX_TX_BYTES);
        let sender = tx.sender();
        let mut inner = self.lock();
        if inner.hashes.contains_key(&hash) {
            return Err(UrbisError::new(
                ErrorCode::DuplicateTx,
                format!("transaction {hash} is already pending"),
            ));
        }
        let queue_len = inner.by_sender.get(&sender).map_or(0, BTreeMap::len);
        let expected = inner
            .by_sender
            .get(&sender)
            .and_then(|q| q.last_key_value())
            .map(|(n, _)| n + 1)
            .filter(|n| *n > committed)
            .unwrap_or(committed);
        if tx.nonce < committed {
            return Err(UrbisError::new(
                ErrorCode::NonceTooLow,
                format!("nonce {} already used; next is {expected}", tx.nonce),
            ));
        }
        if tx.nonce < expected {
            return Err(UrbisError::new(
                ErrorCode::NonceTooLow,
                format!(
                    "nonce {} is taken by a pending transaction; next is {expected}",
                    tx.nonce
                ),
            ));
        }
        if tx.nonce > expected {
            return Err(UrbisError::new(
                ErrorCode::NonceGap,
                format!("nonce {} skips ahead; next is {expected}", tx.nonce),
            ));
        }
        if inner.hashes.len() >= self.cfg.max_txs
            || inner.bytes + size > self.cfg.max_bytes
            || queue_len >= self.cfg.max_per_sender
        {
            return Err(UrbisError::new(
                ErrorCode::MempoolFull,
                "the mempool is full; retry later",
            ));
        }
        inner.bytes += size;
        inner.hashes.insert(hash, (sender, tx.nonce));
        inner
            .by_sender
            .entry(sender)
            .or_default()
            .insert(tx.nonce, Arc::new(tx));
        Ok(hash)
    }

    /// Pick transactions for a block, round-robin across senders, in nonce order per sender.
    /// `in_flight` are transactions already in unexecuted ancestors of the block being built;
    /// `committed` gives a sender's executed nonce (transactions below it are stale).
    pub fn select(
        &self,
        max_txs: usize,
        max_bytes: usize,
        in_flight: &HashSet<Hash>,
        committed: impl Fn(&Address) -> u64,
    ) -> Vec<SignedTx> {
        let mut inner = self.lock();
        let senders: Vec<Address> = match inner.cursor {
            Some(c) => inner
                .by_sender
                .range(c..)
                .chain(inner.by_sender.range(..c))
                .map(|(a, _)| *a)
                .collect(),
            None => inner.by_sender.keys().copied().collect(),
        };
        // One iterator per sender over its ready transactions.
        let mut queues: Vec<Vec<Arc<SignedTx>>> = senders
            .iter()
            .map(|s| {
                let floor = committed(s);
                inner.by_sender[s]
                    .range(floor..)
                    .map(|(_, tx)| tx.clone())
                    .filter(|tx| !in_flight.contains(&tx.hash()))
                    .collect()
            })
            .collect();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut round = 0usize;
        let mut last_sender = None;
        'outer: loop {
            let mut progressed = false;
            for (i, q) in queues.iter_mut().enumerate() {
                if let Some(tx) = q.get(round) {
                    let size = borsh::object_length(tx.as_ref()).unwrap_or(limits::MAX_TX_BYTES);
                    if out.len() >= max_txs || bytes + size > max_bytes {
                        break 'outer;
                    }
                    bytes += size;
                    out.push(tx.as_ref().clone());
                    last_sender = Some(senders[i]);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
            round += 1;
        }
        queues.clear();
        // Next block starts after the last sender served.
        if let Some(last) = last_sender {
            inner.cursor = inner
                .by_sender
                .range((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded))
                .next()
                .map(|(a, _)| *a);
        }
        out
    }

    /// After a block executed: drop its transactions and every transaction whose nonce is now
    /// below its sender's committed nonce.
    pub fn on_executed(&self, txs: &[SignedTx], committed: impl Fn(&Address) -> u64) {
        let mut inner = self.lock();
        let senders: std::collections::BTreeSet<Address> =
            txs.iter().map(SignedTx::sender).collect();
        for sender in senders {
            let floor = committed(&sender);
            let Some(queue) = inner.by_sender.get_mut(&sender) else {
                continue;
            };
            let keep = queue.split_off(&floor);
            let removed = std::mem::replace(queue, keep);
            let now_empty = queue.is_empty();
            for tx in removed.values() {
                let size = borsh::object_length(tx.as_ref()).unwrap_or(0);
                inner.bytes = inner.bytes.saturating_sub(size);
                inner.hashes.remove(&tx.hash());
            }
            if now_empty {
                inner.by_sender.remove(&sender);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use urbis_core::{Call, SecretKey};

    fn tx(label: &str, nonce: u64) -> SignedTx {
        SignedTx::new(
            "c",
            &SecretKey::from_label(label),
            nonce,
            Call::new("m", &0u8),
        )
    }

    #[test]
    fn nonce_rules() {
        let pool = Mempool::new(MempoolConfig::default());
        pool.insert(tx("a", 5), 5).unwrap();
        assert_eq!(
            pool.insert(tx("a", 5), 5).unwrap_err().code,
            ErrorCode::DuplicateTx
        );
        assert_eq!(
            pool.insert(tx("a", 4), 5).unwrap_err().code,
            ErrorCode::NonceTooLow
        );
        assert_eq!(
            pool.insert(tx("a", 7), 5).unwrap_err().code,
            ErrorCode::NonceGap
        );
        pool.insert(tx("a", 6), 5).unwrap();
        assert_eq!(pool.next_nonce(&SecretKey::from_label("a").address(), 5), 7);
    }

    #[test]
    fn full_pool_rejects_with_code() {
        let pool = Mempool::new(MempoolConfig {
            max_txs: 1,
            ..MempoolConfig::default()
        });
        pool.insert(tx("a", 0), 0).unwrap();
        assert_eq!(
            pool.insert(tx("b", 0), 0).unwrap_err().code,
            ErrorCode::MempoolFull
        );
    }

    #[test]
    fn select_round_robin_skips_in_flight_and_prunes() {
        let pool = Mempool::new(MempoolConfig::default());
        for n in 0..3 {
            pool.insert(tx("a", n), 0).unwrap();
            pool.insert(tx("b", n), 0).unwrap();
        }
        let picked = pool.select(4, usize::MAX, &HashSet::new(), |_| 0);
        assert_eq!(picked.len(), 4);
        let in_flight: HashSet<Hash> = picked.iter().map(SignedTx::hash).collect();
        let rest = pool.select(10, usize::MAX, &in_flight, |_| 0);
        assert_eq!(rest.len(), 2);
        pool.on_executed(&picked, |_| 2);
        assert_eq!(pool.stats().txs, 2);
        pool.on_executed(&rest, |_| 3);
        assert_eq!(pool.stats().txs, 0);
    }
}
