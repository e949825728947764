//! The chain store: finalized blocks, receipts, transaction index, state roots, commit
//! certificates, and a plain copy of the logical state for fast synchronous reads during
//! execution and queries. Backed by `redb` with immediate durability and quick repair, so a
//! committed block survives `kill -9` and reopening after a crash is fast.
//!
//! The authenticated store ([`crate::auth`]) is the source of truth for the state root; this
//! store is written *after* it for each block, in one redb transaction, so that after a crash
//! the chain store is at most one block behind the authenticated store and the executor
//! re-executes that block (deterministically reproducing the same writes) to catch up.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use urbis_core::{Block, ErrorCode, Event, Hash, Receipt, UrbisError};
use urbis_runtime::{StateView, WriteSet};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const BLOCK_BY_HASH: TableDefinition<&[u8; 32], u64> = TableDefinition::new("block_by_hash");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const TX_INDEX: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
const ROOTS: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("roots");
const CERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("finalizations");
const CERTIFIED_BY: TableDefinition<u64, u64> = TableDefinition::new("certified_by");
const BLOCK_EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("block_events");
/// Per height: the block's receipts root (32 bytes) then the receipts accumulator (32 bytes).
const RECEIPT_ROOTS: TableDefinition<u64, &[u8; 64]> = TableDefinition::new("receipt_roots");
const EVIDENCE: TableDefinition<u64, &[u8]> = TableDefinition::new("evidence");
/// Epoch hand-overs (the consensus crate's encoding), by epoch.
const HANDOVERS: TableDefinition<u64, &[u8]> = TableDefinition::new("handovers");

const EXECUTED_HEIGHT: &str = "executed_height";
/// The height a state-synced store started from (absent: from genesis): blocks, receipts and
/// transactions between genesis and it are not in this store.
const BASE_HEIGHT: &str = "base_height";

/// Page cache of the chain store.
pub const CACHE_BYTES: usize = 128 * 1024 * 1024;

/// Errors from the chain store are internal: the node cannot continue safely after one.
fn internal(e: impl std::fmt::Display) -> UrbisError {
    UrbisError::new(ErrorCode::Internal, format!("chain store: {e}"))
}

/// Everything recorded for one executed block.
pub struct BlockRecord<'a> {
    pub block: &'a Block,
    pub receipts: &'a [Receipt],
    /// Events of the block's end-of-block work.
    pub block_events: &'a [Event],
    pub writes: &'a WriteSet,
    pub state_root: Hash,
    /// Encoded finalization certificate of this block, if this node has one.
    pub finalization: Option<Vec<u8>>,
}

pub struct ChainStore {
    db: Database,
    /// Decoded receipts of the blocks read most recently: a transaction lookup needs one
    /// receipt, but a block's receipts are stored (and decoded) together, and clients ask for
    /// the transactions of the same recent blocks again and again. Committed receipts never
    /// change, so the cache is never stale.
    recent_receipts:
        std::sync::Mutex<std::collections::VecDeque<(u64, std::sync::Arc<Vec<Receipt>>)>>,
}

/// Blocks whose decoded receipts [`ChainStore`] keeps.
const RECENT_RECEIPT_BLOCKS: usize = 16;

impl ChainStore {
    pub fn open(path: &Path) -> Result<Self, UrbisError> {
        // Bounded page cache: redb's default (1 GiB) would dominate a node's memory.
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(internal)?;
        let store = ChainStore {
            db,
            recent_receipts: std::sync::Mutex::new(std::collections::VecDeque::new()),
        };
        // Create every table so that readers never see a missing table.
        let mut tx = store.db.begin_write().map_err(internal)?;
        tx.set_quick_repair(true);
        {
            tx.open_table(META).map_err(internal)?;
            tx.open_table(STATE).map_err(internal)?;
            tx.open_table(BLOCKS).map_err(internal)?;
            tx.open_table(BLOCK_BY_HASH).map_err(internal)?;
            tx.open_table(RECEIPTS).map_err(internal)?;
            tx.open_table(TX_INDEX).map_err(internal)?;
            tx.open_table(ROOTS).map_err(internal)?;
            tx.open_table(CERTS).map_err(internal)?;
            tx.open_table(CERTIFIED_BY).map_err(internal)?;
            tx.open_table(BLOCK_EVENTS).map_err(internal)?;
            tx.open_table(RECEIPT_ROOTS).map_err(internal)?;
            tx.open_table(EVIDENCE).map_err(internal)?;
            tx.open_table(HANDOVERS).map_err(internal)?;
        }
        tx.commit().map_err(internal)?;
        Ok(store)
    }

    /// Height of the last block whose record is committed here (`None` before genesis).
    pub fn executed_height(&self) -> Result<Option<u64>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(META).map_err(internal)?;
        let v = t.get(EXECUTED_HEIGHT).map_err(internal)?;
        Ok(match v {
            Some(g) => Some(u64::from_le_bytes(
                g.value().try_into().map_err(|_| internal("bad height"))?,
            )),
            None => None,
        })
    }

    /// Record an executed block (genesis included) atomically.
    ///
    /// The transaction index maps a hash to the receipt of the transaction that used its nonce
    /// (`receipt.nonce_used`); a receipt of a transaction refused before taking effect (bad
    /// nonce, gate) is kept with the block but not indexed, and an indexed receipt is never
    /// overwritten.
    pub fn commit_block(&self, rec: BlockRecord<'_>) -> Result<(), UrbisError> {
        let root = rec.state_root;
        self.commit_block_with(
            rec.block,
            rec.receipts,
            rec.block_events,
            rec.writes,
            rec.finalization.as_deref(),
            || Ok(root),
        )
    }

    /// [`ChainStore::commit_block`] for a caller that computes the state root meanwhile: the
    /// transaction is built (block, receipts, events, certificate, writes), then `root` is
    /// awaited, then the root and the executed height are added and it commits. If `root`
    /// fails, nothing is written.
    pub fn commit_block_with(
        &self,
        block: &Block,
        receipts: &[Receipt],
        block_events: &[Event],
        writes: &WriteSet,
        finalization: Option<&[u8]>,
        root: impl FnOnce() -> Result<Hash, UrbisError>,
    ) -> Result<(), UrbisError> {
        let mut tx = self.db.begin_write().map_err(internal)?;
        tx.set_quick_repair(true);
        Self::write_history(&tx, block, receipts, block_events, finalization)?;
        Self::write_state(&tx, writes)?;
        Self::write_root(&tx, block.header.height, &root()?)?;
        tx.commit().map_err(internal)
    }

    fn write_history(
        tx: &redb::WriteTransaction,
        block: &Block,
        receipts: &[Receipt],
        block_events: &[Event],
        finalization: Option<&[u8]>,
    ) -> Result<(), UrbisError> {
        let h = block.header.height;
        let hash = block.digest();
        let mut blocks = tx.open_table(BLOCKS).map_err(internal)?;
        blocks
            .insert(h, block.encode().as_slice())
            .map_err(internal)?;
        let mut by_hash = tx.open_table(BLOCK_BY_HASH).map_err(internal)?;
        by_hash.insert(&hash.0, h).map_err(internal)?;
        let mut receipts_table = tx.open_table(RECEIPTS).map_err(internal)?;
        let (encoded, root) = urbis_core::encode_receipts(receipts, block_events);
        receipts_table
            .insert(h, encoded.as_slice())
            .map_err(internal)?;
        let mut index = tx.open_table(TX_INDEX).map_err(internal)?;
        // In key order: neighbouring inserts touch the same B-tree pages.
        let mut committed: Vec<&Receipt> = receipts.iter().filter(|r| r.nonce_used).collect();
        committed.sort_unstable_by_key(|r| r.tx_hash.0);
        for r in committed {
            let earlier = index
                .insert(&r.tx_hash.0, (h, r.index))
                .map_err(internal)?
                .map(|g| g.value());
            if let Some(first) = earlier {
                index.insert(&r.tx_hash.0, first).map_err(internal)?;
                tracing::error!(
                    tx = %r.tx_hash,
                    height = h,
                    "a committed transaction was executed again; keeping its first receipt"
                );
            }
        }
        if !block_events.is_empty() {
            let mut events = tx.open_table(BLOCK_EVENTS).map_err(internal)?;
            let encoded = borsh::to_vec(block_events).map_err(internal)?;
            events.insert(h, encoded.as_slice()).map_err(internal)?;
        }
        let mut rroots = tx.open_table(RECEIPT_ROOTS).map_err(internal)?;
        let previous = match h.checked_sub(1) {
            Some(p) => rroots
                .get(p)
                .map_err(internal)?
                .map(|g| split_roots(g.value()).1)
                .ok_or_else(|| internal(format!("no receipts accumulator at {p}")))?,
            None => Hash::ZERO,
        };
        let acc = urbis_core::receipts_acc(&previous, &root);
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(&root.0);
        both[32..].copy_from_slice(&acc.0);
        rroots.insert(h, &both).map_err(internal)?;
        if let Some(f) = finalization {
            let mut certs = tx.open_table(CERTS).map_err(internal)?;
            certs.insert(h, f).map_err(internal)?;
        }
        if h > 0 {
            let mut cb = tx.open_table(CERTIFIED_BY).map_err(internal)?;
            let sh = block.header.state_height;
            if cb.get(sh).map_err(internal)?.is_none() {
                cb.insert(sh, h).map_err(internal)?;
            }
        }
        Ok(())
    }

    fn write_state(tx: &redb::WriteTransaction, writes: &WriteSet) -> Result<(), UrbisError> {
        let mut state = tx.open_table(STATE).map_err(internal)?;
        for (k, v) in writes {
            match v {
                Some(v) => {
                    state.insert(k.as_slice(), v.as_slice()).map_err(internal)?;
                }
                None => {
                    state.remove(k.as_slice()).map_err(internal)?;
                }
            }
        }
        Ok(())
    }

    fn write_root(
        tx: &redb::WriteTransaction,
        h: u64,
        state_root: &Hash,
    ) -> Result<(), UrbisError> {
        let mut roots = tx.open_table(ROOTS).map_err(internal)?;
        roots.insert(h, &state_root.0).map_err(internal)?;
        let mut meta = tx.open_table(META).map_err(internal)?;
        meta.insert(EXECUTED_HEIGHT, h.to_le_bytes().as_slice())
            .map_err(internal)?;
        Ok(())
    }

    /// The height this store's history starts after: 0, or the height it was state-synced at.
    pub fn base_height(&self) -> Result<u64, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(META).map_err(internal)?;
        Ok(t.get(BASE_HEIGHT)
            .map_err(internal)?
            .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0))
    }

    /// Fill an empty store from a state sync at `block`'s height, in one transaction: the
    /// genesis block, `block` (with its certificate if any), the logical state `values`, the
    /// state root and the receipts accumulator after `block` (as the certifying header names
    /// it), and the executed and base heights. The receipts of `block` itself are not known:
    /// its receipts root is recorded as zeros.
    pub fn install_synced(
        &self,
        genesis: &Block,
        block: &Block,
        finalization: Option<&[u8]>,
        root: Hash,
        receipts_acc: Hash,
        values: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(), UrbisError> {
        if self.executed_height()?.is_some() {
            return Err(internal("a state sync needs an empty chain store"));
        }
        let mut tx = self.db.begin_write().map_err(internal)?;
        tx.set_quick_repair(true);
        Self::write_history(&tx, genesis, &[], &[], None)?;
        Self::write_root(&tx, 0, &genesis.header.state_root)?;
        let h = block.header.height;
        {
            let mut blocks = tx.open_table(BLOCKS).map_err(internal)?;
            blocks
                .insert(h, block.encode().as_slice())
                .map_err(internal)?;
            let mut by_hash = tx.open_table(BLOCK_BY_HASH).map_err(internal)?;
            by_hash.insert(&block.digest().0, h).map_err(internal)?;
            let mut rroots = tx.open_table(RECEIPT_ROOTS).map_err(internal)?;
            let mut both = [0u8; 64];
            both[32..].copy_from_slice(&receipts_acc.0);
            rroots.insert(h, &both).map_err(internal)?;
            if let Some(f) = finalization {
                let mut certs = tx.open_table(CERTS).map_err(internal)?;
                certs.insert(h, f).map_err(internal)?;
            }
            let mut state = tx.open_table(STATE).map_err(internal)?;
            for (k, v) in values {
                state.insert(k.as_slice(), v.as_slice()).map_err(internal)?;
            }
            let mut meta = tx.open_table(META).map_err(internal)?;
            meta.insert(BASE_HEIGHT, h.to_le_bytes().as_slice())
                .map_err(internal)?;
        }
        Self::write_root(&tx, h, &root)?;
        tx.commit().map_err(internal)
    }

    /// The stored bytes of block `height` (`Block::encode`), undecoded.
    pub fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(BLOCKS).map_err(internal)?;
        Ok(t.get(height).map_err(internal)?.map(|g| g.value().to_vec()))
    }

    pub fn block(&self, height: u64) -> Result<Option<Block>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(BLOCKS).map_err(internal)?;
        let v = t.get(height).map_err(internal)?;
        v.map(|g| Block::decode(g.value())).transpose()
    }

    /// The header of block `height`, decoded without its transactions (a block is stored as
    /// the borsh of its header followed by its transactions).
    pub fn header(&self, height: u64) -> Result<Option<urbis_core::Header>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(BLOCKS).map_err(internal)?;
        let v = t.get(height).map_err(internal)?;
        v.map(|g| {
            let mut bytes = g.value();
            <urbis_core::Header as borsh::BorshDeserialize>::deserialize(&mut bytes)
                .map_err(|e| UrbisError::new(ErrorCode::Malformed, format!("block header: {e}")))
        })
        .transpose()
    }

    pub fn height_of(&self, hash: &Hash) -> Result<Option<u64>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(BLOCK_BY_HASH).map_err(internal)?;
        Ok(t.get(&hash.0).map_err(internal)?.map(|g| g.value()))
    }

    pub fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(RECEIPTS).map_err(internal)?;
        let v = t.get(height).map_err(internal)?;
        v.map(|g| borsh::from_slice(g.value()).map_err(internal))
            .transpose()
    }

    /// The events of block `height`'s end-of-block work (empty if none, or unknown height).
    pub fn block_events(&self, height: u64) -> Result<Vec<Event>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(BLOCK_EVENTS).map_err(internal)?;
        let v = t.get(height).map_err(internal)?;
        Ok(v.map(|g| borsh::from_slice(g.value()).map_err(internal))
            .transpose()?
            .unwrap_or_default())
    }

    /// The first of `hashes` that is committed (indexed), if any: one read transaction.
    pub fn first_committed<'h>(
        &self,
        hashes: impl IntoIterator<Item = &'h Hash>,
    ) -> Result<Option<Hash>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(TX_INDEX).map_err(internal)?;
        for h in hashes {
            if t.get(&h.0).map_err(internal)?.is_some() {
                return Ok(Some(*h));
            }
        }
        Ok(None)
    }

    /// Record the hand-over of `epoch` (durable; a record already there is replaced).
    pub fn put_handover(&self, epoch: u64, record: &[u8]) -> Result<(), UrbisError> {
        let mut tx = self.db.begin_write().map_err(internal)?;
        tx.set_quick_repair(true);
        {
            let mut t = tx.open_table(HANDOVERS).map_err(internal)?;
            t.insert(epoch, record).map_err(internal)?;
        }
        tx.commit().map_err(internal)
    }

    /// The hand-overs of epochs `from..to` this node holds, in epoch order.
    pub fn handovers(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(HANDOVERS).map_err(internal)?;
        t.range(from..to)
            .map_err(internal)?
            .map(|r| {
                r.map(|(k, v)| (k.value(), v.value().to_vec()))
                    .map_err(internal)
            })
            .collect()
    }

    /// Append one record to the evidence log (durable).
    pub fn append_evidence(&self, record: &[u8]) -> Result<(), UrbisError> {
        let mut tx = self.db.begin_write().map_err(internal)?;
        tx.set_quick_repair(true);
        {
            let mut t = tx.open_table(EVIDENCE).map_err(internal)?;
            let next = match t.last().map_err(internal)? {
                Some((k, _)) => k.value() + 1,
                None => 0,
            };
            t.insert(next, record).map_err(internal)?;
        }
        tx.commit().map_err(internal)
    }

    /// The evidence log, oldest first, at most the `limit` newest records.
    pub fn evidence(&self, limit: usize) -> Result<Vec<Vec<u8>>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(EVIDENCE).map_err(internal)?;
        let mut out: Vec<Vec<u8>> = t
            .iter()
            .map_err(internal)?
            .rev()
            .take(limit)
            .map(|r| r.map(|(_, v)| v.value().to_vec()).map_err(internal))
            .collect::<Result<_, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// Where a transaction was included: `(height, index)`.
    pub fn tx_location(&self, hash: &Hash) -> Result<Option<(u64, u32)>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(TX_INDEX).map_err(internal)?;
        Ok(t.get(&hash.0).map_err(internal)?.map(|g| g.value()))
    }

    pub fn receipt(&self, hash: &Hash) -> Result<Option<Receipt>, UrbisError> {
        let Some((h, i)) = self.tx_location(hash)? else {
            return Ok(None);
        };
        Ok(self
            .receipts_shared(h)?
            .and_then(|rs| rs.get(i as usize).cloned()))
    }

    /// [`ChainStore::receipts`], decoded once for the recent blocks asked about.
    fn receipts_shared(
        &self,
        height: u64,
    ) -> Result<Option<std::sync::Arc<Vec<Receipt>>>, UrbisError> {
        {
            let cache = self
                .recent_receipts
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some((_, rs)) = cache.iter().find(|(h, _)| *h == height) {
                return Ok(Some(rs.clone()));
            }
        }
        let Some(rs) = self.receipts(height)? else {
            return Ok(None);
        };
        let rs = std::sync::Arc::new(rs);
        let mut cache = self
            .recent_receipts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !cache.iter().any(|(h, _)| *h == height) {
            if cache.len() >= RECENT_RECEIPT_BLOCKS {
                cache.pop_front();
            }
            cache.push_back((height, rs.clone()));
        }
        Ok(Some(rs))
    }

    pub fn state_root(&self, height: u64) -> Result<Option<Hash>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(ROOTS).map_err(internal)?;
        Ok(t.get(height).map_err(internal)?.map(|g| Hash(*g.value())))
    }

    /// The receipts root of block `height` and the receipts accumulator after it.
    pub fn receipt_roots(&self, height: u64) -> Result<Option<(Hash, Hash)>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(RECEIPT_ROOTS).map_err(internal)?;
        Ok(t.get(height)
            .map_err(internal)?
            .map(|g| split_roots(g.value())))
    }

    /// The first block at or after `height` whose header certifies a state height
    /// `>= height`: `(state_height, certifying block)`.
    pub fn certified_from(&self, height: u64) -> Result<Option<(u64, u64)>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(CERTIFIED_BY).map_err(internal)?;
        let mut it = t.range(height..).map_err(internal)?;
        match it.next() {
            Some(r) => {
                let (k, v) = r.map_err(internal)?;
                Ok(Some((k.value(), v.value())))
            }
            None => Ok(None),
        }
    }

    pub fn finalization(&self, height: u64) -> Result<Option<Vec<u8>>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(CERTS).map_err(internal)?;
        Ok(t.get(height).map_err(internal)?.map(|g| g.value().to_vec()))
    }

    /// The first block whose header certifies the state after `state_height`.
    pub fn certified_by(&self, state_height: u64) -> Result<Option<u64>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(CERTIFIED_BY).map_err(internal)?;
        Ok(t.get(state_height).map_err(internal)?.map(|g| g.value()))
    }

    /// Whether some block certifies a state height above `state_height`. Certified state
    /// heights only grow along the chain, so if `state_height` itself is not certified by then,
    /// it never will be (its proposer had not executed it yet, and the next one skipped it).
    pub fn certified_after(&self, state_height: u64) -> Result<bool, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(CERTIFIED_BY).map_err(internal)?;
        let mut it = t
            .range(state_height.saturating_add(1)..)
            .map_err(internal)?;
        Ok(it.next().transpose().map_err(internal)?.is_some())
    }

    /// The lowest height `>= from` that has a stored finalization certificate.
    pub fn next_finalized(&self, from: u64) -> Result<Option<(u64, Vec<u8>)>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(CERTS).map_err(internal)?;
        let mut it = t.range(from..).map_err(internal)?;
        match it.next() {
            Some(r) => {
                let (k, v) = r.map_err(internal)?;
                Ok(Some((k.value(), v.value().to_vec())))
            }
            None => Ok(None),
        }
    }

    /// A consistent snapshot of the logical state for execution and queries.
    pub fn state_view(&self) -> Result<StateSnapshot, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let table = tx.open_table(STATE).map_err(internal)?;
        Ok(StateSnapshot { table })
    }
}

fn split_roots(both: &[u8; 64]) -> (Hash, Hash) {
    let mut root = [0u8; 32];
    let mut acc = [0u8; 32];
    root.copy_from_slice(&both[..32]);
    acc.copy_from_slice(&both[32..]);
    (Hash(root), Hash(acc))
}

/// A read-only state snapshot (a redb read transaction).
pub struct StateSnapshot {
    table: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl StateSnapshot {
    /// Up to `limit` entries in key order after `after` (from the first key when `None`).
    pub fn page(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<urbis_runtime::Entries, UrbisError> {
        let range = match after {
            Some(a) => self
                .table
                .range::<&[u8]>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => self.table.range::<&[u8]>(..),
        }
        .map_err(internal)?;
        let mut out = Vec::new();
        for item in range.take(limit) {
            let (k, v) = item.map_err(internal)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
}

impl StateView for StateSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(self
            .table
            .get(key)
            .map_err(internal)?
            .map(|g| g.value().to_vec()))
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<urbis_runtime::Entries, UrbisError> {
        let start = urbis_runtime::scan_start(prefix, after);
        let range = self
            .table
            .range::<&[u8]>((start, std::ops::Bound::Unbounded))
            .map_err(internal)?;
        let mut out = Vec::new();
        for item in range {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(internal)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use urbis_core::{ErrorCode, Header, SecretKey, TxError};

    fn block(height: u64) -> Block {
        Block {
            header: Header {
                chain_id: "c".into(),
                height,
                parent: Hash::ZERO,
                view: height,
                timestamp_ms: height,
                proposer: SecretKey::from_label("v").public_key(),
                txs_root: Hash::ZERO,
                tx_count: 0,
                state_height: height.saturating_sub(1),
                state_root: Hash::ZERO,
                receipts_acc: Hash::ZERO,
                validator_set: Hash::ZERO,
            },
            txs: vec![],
        }
    }

    fn receipt(tx: u8, height: u64, index: u32, nonce_used: bool) -> Receipt {
        Receipt {
            tx_hash: Hash([tx; 32]),
            height,
            index,
            success: nonce_used,
            error: (!nonce_used).then(|| TxError {
                code: ErrorCode::NonceTooLow,
                message: "replay".into(),
            }),
            events: vec![],
            nonce_used,
            weight: 0,
        }
    }

    fn commit(store: &ChainStore, height: u64, receipts: &[Receipt]) {
        store
            .commit_block(BlockRecord {
                block: &block(height),
                receipts,
                block_events: &[],
                writes: &WriteSet::new(),
                state_root: Hash::ZERO,
                finalization: None,
            })
            .unwrap();
    }

    #[test]
    fn the_index_keeps_the_receipt_that_used_the_nonce() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChainStore::open(&dir.path().join("c.redb")).unwrap();
        commit(&store, 0, &[]);
        commit(
            &store,
            1,
            &[receipt(1, 1, 0, true), receipt(2, 1, 1, false)],
        );
        assert_eq!(store.tx_location(&Hash([1; 32])).unwrap(), Some((1, 0)));
        // A transaction refused before taking effect is kept with its block, not indexed.
        assert_eq!(store.tx_location(&Hash([2; 32])).unwrap(), None);
        assert_eq!(store.receipts(1).unwrap().unwrap().len(), 2);
        // The same transaction executed again (a replay that slipped through) never replaces
        // the committed receipt, whether the replay used a nonce or not.
        commit(
            &store,
            2,
            &[receipt(1, 2, 0, false), receipt(3, 2, 1, true)],
        );
        commit(&store, 3, &[receipt(1, 3, 0, true)]);
        assert_eq!(store.tx_location(&Hash([1; 32])).unwrap(), Some((1, 0)));
        assert!(store.receipt(&Hash([1; 32])).unwrap().unwrap().success);
        assert_eq!(
            store
                .first_committed(&[Hash([9; 32]), Hash([3; 32])])
                .unwrap(),
            Some(Hash([3; 32]))
        );
    }

    #[test]
    fn a_block_committed_with_a_later_root_reads_as_a_committed_one() {
        let dir = tempfile::tempdir().unwrap();
        let one = ChainStore::open(&dir.path().join("one.redb")).unwrap();
        let two = ChainStore::open(&dir.path().join("two.redb")).unwrap();
        commit(&one, 0, &[]);
        commit(&two, 0, &[]);
        let receipts = [receipt(1, 1, 0, true)];
        let writes: WriteSet = [(b"k".to_vec(), Some(b"v".to_vec()))].into_iter().collect();
        let root = Hash([7; 32]);
        one.commit_block(BlockRecord {
            block: &block(1),
            receipts: &receipts,
            block_events: &[],
            writes: &writes,
            state_root: root,
            finalization: Some(vec![1, 2, 3]),
        })
        .unwrap();
        // The root never comes: nothing is written.
        let failed =
            two.commit_block_with(&block(1), &receipts, &[], &writes, Some(&[1, 2, 3]), || {
                Err(UrbisError::new(ErrorCode::Internal, "no root"))
            });
        assert!(failed.is_err());
        assert_eq!(two.executed_height().unwrap(), Some(0));
        assert_eq!(two.state_view().unwrap().get(b"k").unwrap(), None);
        assert_eq!(two.tx_location(&Hash([1; 32])).unwrap(), None);
        assert_eq!(two.block(1).unwrap(), None);
        two.commit_block_with(&block(1), &receipts, &[], &writes, Some(&[1, 2, 3]), || {
            Ok(root)
        })
        .unwrap();
        for store in [&one, &two] {
            assert_eq!(store.executed_height().unwrap(), Some(1));
            assert_eq!(store.state_root(1).unwrap(), Some(root));
            assert_eq!(
                store.state_view().unwrap().get(b"k").unwrap(),
                Some(b"v".to_vec())
            );
            assert_eq!(store.tx_location(&Hash([1; 32])).unwrap(), Some((1, 0)));
            assert_eq!(store.finalization(1).unwrap(), Some(vec![1, 2, 3]));
            // The header alone reads as the block's header.
            assert_eq!(store.header(1).unwrap(), Some(block(1).header));
            assert_eq!(store.header(9).unwrap(), None);
        }
        assert_eq!(one.receipt_roots(1).unwrap(), two.receipt_roots(1).unwrap());
        assert_eq!(one.receipts(1).unwrap(), two.receipts(1).unwrap());
    }
}
