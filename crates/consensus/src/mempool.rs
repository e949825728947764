//! The mempool: transactions that passed the door checks, waiting for a block.
//!
//! Per sender, transactions are kept by nonce and must be contiguous from the sender's committed
//! nonce, so every pending transaction can actually execute. The pool is bounded in count and
//! bytes; when full, submissions get `mempool_full` (HTTP 503) instead of silently evicting
//! someone else's transaction. Transactions stay in the pool until the block that includes them
//! is executed ([`Mempool::on_executed`]); block building skips those already in the unexecuted
//! ancestors of the block being built.
//!
//! Transactions relayed out of order are *parked* until the gap before them fills; a parked
//! transaction whose gap has not filled after [`PARKED_TTL_BLOCKS`] executed blocks is dropped.
//! Transactions of senders that hold no role (*open* calls, see `urbis_runtime::Gate`) are
//! bounded separately and picked at most a block's quota at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use urbis_core::{Address, ErrorCode, Hash, SignedTx, UrbisError, limits};

/// Mempool limits.
#[derive(Clone, Debug)]
pub struct MempoolConfig {
    pub max_txs: usize,
    pub max_bytes: usize,
    /// Longest run of pending transactions one sender may have.
    pub max_per_sender: usize,
    /// Most pending open calls (from senders holding no role), and per such sender.
    pub max_open_txs: usize,
    pub max_open_per_sender: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 200_000,
            max_bytes: 256 * 1024 * 1024,
            max_per_sender: 4_096,
            max_open_txs: 4_096,
            max_open_per_sender: 4,
        }
    }
}

/// How far ahead of the committed nonce a relayed transaction may be parked.
pub const MAX_NONCE_AHEAD: u64 = 64;

/// Executed blocks after which a parked transaction whose gap has not filled is dropped.
pub const PARKED_TTL_BLOCKS: u64 = 64;

/// End of the contiguous run of nonces in `queue` starting at `from`.
fn contiguous_end(queue: Option<&BTreeMap<u64, Arc<PoolTx>>>, from: u64) -> u64 {
    let mut next = from;
    if let Some(q) = queue {
        for n in q.range(from..).map(|(n, _)| *n) {
            if n != next {
                break;
            }
            next += 1;
        }
    }
    next
}

/// What one block may carry.
#[derive(Clone, Copy, Debug)]
pub struct BlockLimits {
    pub max_txs: usize,
    pub max_bytes: usize,
    /// Most declared weight (`urbis_runtime::weight`).
    pub max_weight: u64,
    /// Most open calls (from senders holding no role).
    pub max_open: usize,
}

/// A pooled transaction with its id, size and declared weight computed once.
struct PoolTx {
    tx: SignedTx,
    hash: Hash,
    size: usize,
    weight: u64,
    /// Admitted as an open call from a sender holding no role.
    open: bool,
}

#[derive(Default)]
struct Inner {
    by_sender: BTreeMap<Address, BTreeMap<u64, Arc<PoolTx>>>,
    hashes: HashMap<Hash, (Address, u64)>,
    bytes: usize,
    /// Pending open calls, in total and per sender.
    open_txs: usize,
    open_by_sender: HashMap<Address, usize>,
    /// Transactions admitted with a nonce gap before them, by the executed height at which they
    /// arrived (they expire after [`PARKED_TTL_BLOCKS`] unless the gap fills).
    parked: BTreeSet<(u64, Address, u64)>,
    /// Latest executed height this pool has been told about.
    height: u64,
    /// Round-robin cursor so that no sender starves the others.
    cursor: Option<Address>,
}

impl Inner {
    /// Remove one pooled transaction and its bookkeeping.
    fn remove(&mut self, sender: &Address, nonce: u64) -> bool {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return false;
        };
        let Some(tx) = queue.remove(&nonce) else {
            return false;
        };
        if queue.is_empty() {
            self.by_sender.remove(sender);
        }
        self.forget(&tx);
        true
    }

    /// Bookkeeping of a transaction no longer in `by_sender`.
    fn forget(&mut self, tx: &PoolTx) {
        self.bytes = self.bytes.saturating_sub(tx.size);
        self.hashes.remove(&tx.hash);
        if tx.open {
            self.open_txs = self.open_txs.saturating_sub(1);
            let sender = tx.tx.sender();
            if let Some(n) = self.open_by_sender.get_mut(&sender) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.open_by_sender.remove(&sender);
                }
            }
        }
    }
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

    /// The nonce the sender's next submission must carry, given its committed nonce: the end of
    /// the contiguous run of pending transactions starting at `committed`.
    pub fn next_nonce(&self, sender: &Address, committed: u64) -> u64 {
        let inner = self.lock();
        contiguous_end(inner.by_sender.get(sender), committed)
    }

    /// Admit a transaction that already passed the stateless checks. `committed` is the
    /// sender's nonce in the latest executed state.
    ///
    /// Clients must submit nonces in order (a gap is `nonce_gap`); transactions relayed by peers
    /// may arrive out of order, so with `allow_gap` they are parked up to [`MAX_NONCE_AHEAD`]
    /// ahead and become eligible once the gap fills.
    pub fn insert(
        &self,
        tx: SignedTx,
        committed: u64,
        allow_gap: bool,
    ) -> Result<Hash, UrbisError> {
        self.insert_with(tx, allow_gap, false, 1, |_| Ok(committed))
    }

    /// As [`Mempool::insert`], reading the sender's committed nonce while holding the pool's
    /// lock. [`Mempool::on_executed`] prunes under the same lock after the chain store has
    /// committed, so the nonce read here is never older than the pool's contents (reading it
    /// before taking the lock could see the old nonce after the pool was pruned, and refuse the
    /// next nonce as a gap).
    ///
    /// `open` marks an open call from a sender holding no role: those are bounded by
    /// [`MempoolConfig::max_open_txs`] and [`MempoolConfig::max_open_per_sender`]. `weight` is
    /// its declared weight, which block building sums.
    pub fn insert_with(
        &self,
        tx: SignedTx,
        allow_gap: bool,
        open: bool,
        weight: u64,
        committed: impl FnOnce(&Address) -> Result<u64, UrbisError>,
    ) -> Result<Hash, UrbisError> {
        let hash = tx.hash();
        let size = borsh::object_length(&tx).unwrap_or(limits::MAX_TX_BYTES);
        let sender = tx.sender();
        let mut inner = self.lock();
        let committed = committed(&sender)?;
        if inner.hashes.contains_key(&hash) {
            return Err(UrbisError::new(
                ErrorCode::DuplicateTx,
                format!("transaction {hash} is already pending"),
            ));
        }
        let queue = inner.by_sender.get(&sender);
        let queue_len = queue.map_or(0, BTreeMap::len);
        let expected = contiguous_end(queue, committed);
        if tx.nonce < committed {
            return Err(UrbisError::new(
                ErrorCode::NonceTooLow,
                format!("nonce {} already used; next is {expected}", tx.nonce),
            ));
        }
        if queue.is_some_and(|q| q.contains_key(&tx.nonce)) {
            return Err(UrbisError::new(
                ErrorCode::NonceTooLow,
                format!(
                    "nonce {} is taken by a pending transaction; next is {expected}",
                    tx.nonce
                ),
            ));
        }
        let limit = if allow_gap {
            committed.saturating_add(MAX_NONCE_AHEAD)
        } else {
            expected
        };
        if tx.nonce > limit {
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
        if open
            && (inner.open_txs >= self.cfg.max_open_txs
                || inner.open_by_sender.get(&sender).copied().unwrap_or(0)
                    >= self.cfg.max_open_per_sender)
        {
            return Err(UrbisError::new(
                ErrorCode::MempoolFull,
                "too many pending calls from accounts without a role; retry later",
            ));
        }
        if tx.nonce > expected {
            let height = inner.height;
            inner.parked.insert((height, sender, tx.nonce));
        }
        inner.bytes += size;
        inner.hashes.insert(hash, (sender, tx.nonce));
        if open {
            inner.open_txs += 1;
            *inner.open_by_sender.entry(sender).or_default() += 1;
        }
        inner.by_sender.entry(sender).or_default().insert(
            tx.nonce,
            Arc::new(PoolTx {
                tx,
                hash,
                size,
                weight,
                open,
            }),
        );
        Ok(hash)
    }

    /// Pick transactions for a block within `limits`, round-robin across senders, in nonce
    /// order per sender. `in_flight` are transactions already in unexecuted ancestors of the
    /// block being built; `committed` gives a sender's executed nonce (transactions below it
    /// are stale). A transaction that does not fit the block's remaining weight stops its
    /// sender for this block (its later nonces cannot go without it); lighter transactions of
    /// other senders still fill the block.
    pub fn select(
        &self,
        limits: &BlockLimits,
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
        let mut queues: Vec<Vec<Arc<PoolTx>>> = senders
            .iter()
            .map(|s| {
                // Ready: the contiguous run from the committed nonce, minus what unexecuted
                // ancestors already carry.
                let floor = committed(s);
                let mut ready = Vec::new();
                for (expected, (n, tx)) in (floor..).zip(inner.by_sender[s].range(floor..)) {
                    if *n != expected {
                        break;
                    }
                    if !in_flight.contains(&tx.hash) {
                        ready.push(tx.clone());
                    }
                }
                ready
            })
            .collect();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut weight = 0u64;
        let mut open = 0usize;
        let mut round = 0usize;
        let mut last_sender = None;
        // A sender whose open call did not fit this block: its later nonces cannot go either.
        let mut blocked = vec![false; queues.len()];
        'outer: loop {
            let mut progressed = false;
            for (i, q) in queues.iter_mut().enumerate() {
                if blocked[i] {
                    continue;
                }
                if let Some(tx) = q.get(round) {
                    let size = tx.size;
                    if out.len() >= limits.max_txs || bytes + size > limits.max_bytes {
                        break 'outer;
                    }
                    if weight.saturating_add(tx.weight) > limits.max_weight {
                        blocked[i] = true;
                        continue;
                    }
                    if tx.open {
                        if open >= limits.max_open {
                            blocked[i] = true;
                            continue;
                        }
                        open += 1;
                    }
                    bytes += size;
                    weight += tx.weight;
                    out.push(tx.tx.clone());
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

    /// After block `height` executed: drop its transactions, every transaction whose nonce is
    /// now below its sender's committed nonce, and parked transactions whose gap has not filled
    /// within [`PARKED_TTL_BLOCKS`].
    pub fn on_executed(&self, height: u64, txs: &[SignedTx], committed: impl Fn(&Address) -> u64) {
        let mut inner = self.lock();
        inner.height = inner.height.max(height);
        let senders: BTreeSet<Address> = txs.iter().map(SignedTx::sender).collect();
        for sender in senders {
            let floor = committed(&sender);
            let Some(queue) = inner.by_sender.get_mut(&sender) else {
                continue;
            };
            let keep = queue.split_off(&floor);
            let removed = std::mem::replace(queue, keep);
            if queue.is_empty() {
                inner.by_sender.remove(&sender);
            }
            for tx in removed.values() {
                inner.forget(tx);
            }
        }
        // Expire parked transactions whose gap is still open.
        let cutoff = inner.height.saturating_sub(PARKED_TTL_BLOCKS);
        while let Some(&(at, sender, nonce)) = inner.parked.first() {
            if at > cutoff || inner.height < PARKED_TTL_BLOCKS {
                break;
            }
            inner.parked.pop_first();
            let floor = committed(&sender);
            let still_parked = inner
                .by_sender
                .get(&sender)
                .is_some_and(|q| q.contains_key(&nonce) && contiguous_end(Some(q), floor) <= nonce);
            if still_parked {
                inner.remove(&sender, nonce);
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
            &urbis_core::ChainRef::new("c", Hash::ZERO),
            &SecretKey::from_label(label),
            nonce,
            Call::new("m", &0u8),
        )
    }

    fn lim(max_txs: usize, max_open: usize) -> BlockLimits {
        BlockLimits {
            max_txs,
            max_bytes: usize::MAX,
            max_weight: u64::MAX,
            max_open,
        }
    }

    #[test]
    fn selection_respects_the_weight_limit() {
        let pool = Mempool::new(MempoolConfig::default());
        let ins = |label: &str, nonce: u64, weight: u64| {
            pool.insert_with(tx(label, nonce), false, false, weight, |_| Ok(0))
                .unwrap()
        };
        // "heavy" cannot fit beside the others; its later nonce must wait behind it.
        ins("heavy", 0, 80);
        ins("heavy", 1, 1);
        ins("a", 0, 30);
        ins("a", 1, 30);
        ins("b", 0, 30);
        let limits = BlockLimits {
            max_weight: 100,
            ..lim(100, 0)
        };
        let picked = pool.select(&limits, &HashSet::new(), |_| 0);
        assert!(!picked.is_empty());
        let heavy = SecretKey::from_label("heavy").address();
        let weights: u64 = picked
            .iter()
            .map(|t| match (t.sender() == heavy, t.nonce) {
                (true, 0) => 80,
                (true, _) => 1,
                _ => 30,
            })
            .sum();
        assert!(weights <= 100, "{weights} > 100: {picked:?}");
        // Nonce order per sender holds: heavy's nonce 1 never goes without nonce 0.
        assert!(
            !picked.iter().any(|t| t.sender() == heavy && t.nonce == 1)
                || picked.iter().any(|t| t.sender() == heavy && t.nonce == 0)
        );
        // Without a weight limit everything goes.
        assert_eq!(pool.select(&lim(100, 0), &HashSet::new(), |_| 0).len(), 5);
    }

    #[test]
    fn nonce_rules() {
        let pool = Mempool::new(MempoolConfig::default());
        pool.insert(tx("a", 5), 5, false).unwrap();
        assert_eq!(
            pool.insert(tx("a", 5), 5, false).unwrap_err().code,
            ErrorCode::DuplicateTx
        );
        assert_eq!(
            pool.insert(tx("a", 4), 5, false).unwrap_err().code,
            ErrorCode::NonceTooLow
        );
        assert_eq!(
            pool.insert(tx("a", 7), 5, false).unwrap_err().code,
            ErrorCode::NonceGap
        );
        pool.insert(tx("a", 6), 5, false).unwrap();
        assert_eq!(pool.next_nonce(&SecretKey::from_label("a").address(), 5), 7);
    }

    #[test]
    fn full_pool_rejects_with_code() {
        let pool = Mempool::new(MempoolConfig {
            max_txs: 1,
            ..MempoolConfig::default()
        });
        pool.insert(tx("a", 0), 0, false).unwrap();
        assert_eq!(
            pool.insert(tx("b", 0), 0, false).unwrap_err().code,
            ErrorCode::MempoolFull
        );
    }

    #[test]
    fn select_round_robin_skips_in_flight_and_prunes() {
        let pool = Mempool::new(MempoolConfig::default());
        for n in 0..3 {
            pool.insert(tx("a", n), 0, false).unwrap();
            pool.insert(tx("b", n), 0, false).unwrap();
        }
        let picked = pool.select(&lim(4, 0), &HashSet::new(), |_| 0);
        assert_eq!(picked.len(), 4);
        let in_flight: HashSet<Hash> = picked.iter().map(SignedTx::hash).collect();
        let rest = pool.select(&lim(10, 0), &in_flight, |_| 0);
        assert_eq!(rest.len(), 2);
        pool.on_executed(1, &picked, |_| 2);
        assert_eq!(pool.stats().txs, 2);
        pool.on_executed(2, &rest, |_| 3);
        assert_eq!(pool.stats().txs, 0);
    }

    #[test]
    fn relayed_transactions_may_arrive_out_of_order() {
        let pool = Mempool::new(MempoolConfig::default());
        let a = SecretKey::from_label("a").address();
        pool.insert(tx("a", 2), 0, true).unwrap();
        pool.insert(tx("a", 1), 0, true).unwrap();
        assert_eq!(pool.next_nonce(&a, 0), 0);
        assert!(
            pool.select(&lim(10, 0), &HashSet::new(), |_| 0).is_empty(),
            "gap at 0"
        );
        assert_eq!(pool.insert(tx("a", 0), 0, true).unwrap(), tx("a", 0).hash());
        assert_eq!(pool.next_nonce(&a, 0), 3);
        let picked = pool.select(&lim(10, 0), &HashSet::new(), |_| 0);
        assert_eq!(
            picked.iter().map(|t| t.nonce).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(
            pool.insert(tx("a", 3 + MAX_NONCE_AHEAD), 0, true)
                .unwrap_err()
                .code,
            ErrorCode::NonceGap
        );
    }

    #[test]
    fn parked_transactions_expire_unless_their_gap_fills() {
        let pool = Mempool::new(MempoolConfig::default());
        let a = SecretKey::from_label("a").address();
        // Parked at height 0: nonces 2 and 3 wait for 0 and 1.
        pool.insert(tx("a", 2), 0, true).unwrap();
        pool.insert(tx("a", 3), 0, true).unwrap();
        // Another sender's transactions keep the chain moving; "a"'s gap never fills.
        pool.on_executed(PARKED_TTL_BLOCKS - 1, &[], |_| 0);
        assert_eq!(pool.stats().txs, 2, "not expired yet");
        pool.on_executed(PARKED_TTL_BLOCKS, &[], |_| 0);
        assert_eq!(pool.stats().txs, 0, "expired");
        assert_eq!(pool.stats().bytes, 0);
        assert_eq!(pool.next_nonce(&a, 0), 0);

        // A parked transaction whose gap fills in time is kept.
        pool.insert(tx("b", 1), 0, true).unwrap();
        pool.insert(tx("b", 0), 0, false).unwrap();
        pool.on_executed(3 * PARKED_TTL_BLOCKS, &[], |_| 0);
        assert_eq!(pool.stats().txs, 2);
    }

    #[test]
    fn open_calls_are_bounded_and_picked_up_to_the_quota() {
        let pool = Mempool::new(MempoolConfig {
            max_open_txs: 3,
            max_open_per_sender: 2,
            ..MempoolConfig::default()
        });
        let open =
            |label: &str, nonce: u64| pool.insert_with(tx(label, nonce), false, true, 1, |_| Ok(0));
        open("s1", 0).unwrap();
        open("s1", 1).unwrap();
        assert_eq!(open("s1", 2).unwrap_err().code, ErrorCode::MempoolFull);
        open("s2", 0).unwrap();
        assert_eq!(open("s3", 0).unwrap_err().code, ErrorCode::MempoolFull);
        // Members are not affected by the open-call bound.
        pool.insert(tx("m", 0), 0, false).unwrap();
        let picked = pool.select(&lim(100, 1), &HashSet::new(), |_| 0);
        let open_picked = picked
            .iter()
            .filter(|t| t.sender() != SecretKey::from_label("m").address())
            .count();
        assert_eq!(open_picked, 1, "{picked:?}");
        assert_eq!(picked.len(), 2);
        // Executing frees the open slots.
        pool.on_executed(1, &picked, |a| {
            u64::from(*a != SecretKey::from_label("m").address())
                + u64::from(*a == SecretKey::from_label("m").address())
        });
        open("s3", 0).unwrap();
    }
}
