//! The event index: every event of every executed block, searchable by module and kind, by an
//! attribute value (an account address, an object id), and by height.
//!
//! It lives in a database of its own (`events.redb`), written by an indexer that follows the
//! chain store block by block ([`EventIndex::catch_up`]), so indexing never holds up block
//! execution; answers say up to which height they are complete (`indexed_height`).
//!
//! Layout (all keys are bytes; `loc` = height `u64` BE, position `u32` BE (the receipt's index,
//! or `u32::MAX` for end-of-block events), event number `u16` BE, so key order is chain order;
//! `tag(…)` = the first 8 bytes of `sha256_domain("urbis/event-index/v1", parts joined by 0x00)`):
//!
//! | table      | key                                   | value                    |
//! |------------|---------------------------------------|--------------------------|
//! | `all`      | `loc`                                 | borsh [`IndexedEvent`]   |
//! | `by_module`| `tag(module) loc`                     | –                        |
//! | `by_kind`  | `tag(module, kind) loc`               | –                        |
//! | `by_value` | `tag(value) loc` (each attribute value of at most 128 bytes) | – |
//!
//! Short fixed-size keys keep inserts cheap (comparing long shared prefixes such as addresses
//! was most of the indexer's work); a search checks every event it reads against its filters,
//! so two values sharing a tag cost a wasted read, never a wrong answer. Each batch of blocks
//! is inserted table by table in key order. The layout has a version (`meta/layout`): an index
//! written in another layout is dropped and rebuilt from the chain store when opened.

use std::path::Path;

use borsh::{BorshDeserialize, BorshSerialize};
use redb::{Database, Durability, ReadableDatabase, ReadableTable as _, TableDefinition};
use serde::Serialize;
use urbis_core::{ErrorCode, Event, Hash, Receipt, UrbisError};

use crate::chain::ChainStore;

const ALL: TableDefinition<&[u8], &[u8]> = TableDefinition::new("all");
const BY_MODULE: TableDefinition<&[u8], ()> = TableDefinition::new("by_module");
const BY_KIND: TableDefinition<&[u8], ()> = TableDefinition::new("by_kind");
const BY_VALUE: TableDefinition<&[u8], ()> = TableDefinition::new("by_value");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const INDEXED: &str = "indexed_height";
const LAYOUT: &str = "layout";
/// The key layout described above.
const LAYOUT_VERSION: u64 = 2;
/// Domain of the index's key tags (local to a node, never part of the protocol).
const TAG_DOMAIN: &[u8] = b"urbis/event-index/v1";

/// Longest attribute value indexed.
pub const MAX_INDEXED_VALUE: usize = 128;
/// Most index entries one search examines before answering with a cursor.
pub const SCAN_BUDGET: usize = 10_000;
/// Most events per page.
pub const MAX_SEARCH_PAGE: usize = 1_000;
/// Position of end-of-block events.
pub const BLOCK_POSITION: u32 = u32::MAX;

fn internal(e: impl std::fmt::Display) -> UrbisError {
    UrbisError::new(ErrorCode::Internal, format!("event index: {e}"))
}

/// An event with where it happened.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct IndexedEvent {
    pub height: u64,
    /// The transaction that emitted it (absent for end-of-block events).
    pub tx_hash: Option<Hash>,
    pub tx_index: Option<u32>,
    pub event: Event,
}

/// What to search for.
#[derive(Clone, Debug, Default)]
pub struct Search {
    pub module: Option<String>,
    pub kind: Option<String>,
    /// An attribute value equal to this address (bech32m text).
    pub account: Option<String>,
    /// An attribute value equal to this (an object id).
    pub object: Option<String>,
    pub from_height: Option<u64>,
    pub to_height: Option<u64>,
    pub limit: usize,
    /// Hex of the last index key examined by the page before.
    pub cursor: Option<String>,
}

impl Search {
    /// Whether `e` satisfies every filter (used for streams and for the filters the chosen
    /// index does not cover).
    pub fn matches(&self, e: &IndexedEvent) -> bool {
        let has_value = |v: &str| e.event.attributes.iter().any(|(_, a)| a == v);
        self.module.as_deref().is_none_or(|m| e.event.module == m)
            && self.kind.as_deref().is_none_or(|k| e.event.kind == k)
            && self.account.as_deref().is_none_or(has_value)
            && self.object.as_deref().is_none_or(has_value)
            && self.from_height.is_none_or(|h| e.height >= h)
            && self.to_height.is_none_or(|h| e.height <= h)
    }
}

/// A page of search results.
#[derive(Clone, Debug, Serialize)]
pub struct SearchPage {
    pub events: Vec<IndexedEvent>,
    pub next_cursor: Option<String>,
    /// Events of every block up to this height are indexed.
    pub indexed_height: Option<u64>,
}

fn loc(height: u64, position: u32, n: u16) -> [u8; 14] {
    let mut k = [0u8; 14];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..12].copy_from_slice(&position.to_be_bytes());
    k[12..].copy_from_slice(&n.to_be_bytes());
    k
}

/// `parts` joined by 0x00, appended to `out`: what a tag hashes.
fn join(parts: &[&[u8]], out: &mut Vec<u8>) {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(p);
    }
}

/// The 8-byte tag of joined parts.
fn tag_of(joined: &[u8]) -> [u8; 8] {
    let h = urbis_core::hash::sha256_domain(TAG_DOMAIN, &[joined]);
    let mut t = [0u8; 8];
    t.copy_from_slice(&h.0[..8]);
    t
}

/// The 8-byte tag of `parts`.
fn tag(parts: &[&[u8]]) -> [u8; 8] {
    let mut joined = Vec::new();
    join(parts, &mut joined);
    tag_of(&joined)
}

/// An index key: the tag of `parts` followed by `loc` (empty for a search prefix).
fn prefixed(parts: &[&[u8]], loc: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + loc.len());
    k.extend_from_slice(&tag(parts));
    k.extend_from_slice(loc);
    k
}

/// A tag followed by a location: an index entry.
type Entry = [u8; 22];

fn entry(tag: [u8; 8], loc: &[u8; 14]) -> Entry {
    let mut k = [0u8; 22];
    k[..8].copy_from_slice(&tag);
    k[8..].copy_from_slice(loc);
    k
}

/// Attribute names whose values are object ids even when they are not 64 hex digits (e.g. a
/// program number).
pub const ID_ATTRIBUTES: &[&str] = &["id", "hold", "program", "redemption", "job", "election"];

/// Whether an attribute's value is indexed for `account=` and `object=`: an address
/// (`urbis1…`), a 64-hex-digit id, or the value of an id attribute ([`ID_ATTRIBUTES`], or a
/// name ending in `_id`). Amounts, flags and free text are not indexed: searching by them
/// would mostly find noise, and indexing them would cost every block.
pub fn is_searchable(key: &str, value: &str) -> bool {
    if value.is_empty() || value.len() > MAX_INDEXED_VALUE {
        return false;
    }
    value.starts_with("urbis1")
        || (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
        || ID_ATTRIBUTES.contains(&key)
        || key.ends_with("_id")
}

pub struct EventIndex {
    db: Database,
}

/// The index entries of some blocks, gathered to be inserted in key order.
#[derive(Default)]
struct Batch {
    all: Vec<([u8; 14], Vec<u8>)>,
    by_module: Vec<Entry>,
    by_kind: Vec<Entry>,
    by_value: Vec<Entry>,
    /// Tags computed for this batch (modules, kinds and values repeat), by joined parts.
    tags: std::collections::HashMap<Vec<u8>, [u8; 8]>,
    scratch: Vec<u8>,
}

impl Batch {
    /// The tag of `parts`, computed once per batch.
    fn tag(&mut self, parts: &[&[u8]]) -> [u8; 8] {
        self.scratch.clear();
        join(parts, &mut self.scratch);
        if let Some(t) = self.tags.get(self.scratch.as_slice()) {
            return *t;
        }
        let t = tag_of(&self.scratch);
        self.tags.insert(self.scratch.clone(), t);
        t
    }

    /// Add one block's events: its receipts' events, then its end-of-block events.
    fn add(
        &mut self,
        height: u64,
        receipts: &[Receipt],
        block_events: &[Event],
    ) -> Result<(), UrbisError> {
        let tx_events = receipts.iter().flat_map(|r| {
            r.events
                .iter()
                .enumerate()
                .map(move |(n, e)| (r.index, Some(r.tx_hash), n, e))
        });
        let end_events = block_events
            .iter()
            .enumerate()
            .map(|(n, e)| (BLOCK_POSITION, None, n, e));
        for (position, tx_hash, n, e) in tx_events.chain(end_events) {
            let l = loc(height, position, n as u16);
            // The bytes of an `IndexedEvent`, without copying the event.
            let mut record = Vec::new();
            let place = (
                height,
                tx_hash,
                (position != BLOCK_POSITION).then_some(position),
            );
            BorshSerialize::serialize(&place, &mut record).map_err(internal)?;
            BorshSerialize::serialize(e, &mut record).map_err(internal)?;
            self.all.push((l, record));
            let m = self.tag(&[e.module.as_bytes()]);
            self.by_module.push(entry(m, &l));
            let k = self.tag(&[e.module.as_bytes(), e.kind.as_bytes()]);
            self.by_kind.push(entry(k, &l));
            let mut values: Vec<&str> = e
                .attributes
                .iter()
                .filter(|(k, v)| is_searchable(k, v))
                .map(|(_, v)| v.as_str())
                .collect();
            values.sort_unstable();
            values.dedup();
            for v in values {
                let t = self.tag(&[v.as_bytes()]);
                self.by_value.push(entry(t, &l));
            }
        }
        Ok(())
    }

    /// Insert everything, table by table in key order, and record `height` as indexed.
    fn write(mut self, tx: &redb::WriteTransaction, height: u64) -> Result<(), UrbisError> {
        let mut all = tx.open_table(ALL).map_err(internal)?;
        for (k, v) in &self.all {
            all.insert(k.as_slice(), v.as_slice()).map_err(internal)?;
        }
        for (def, keys) in [
            (BY_MODULE, &mut self.by_module),
            (BY_KIND, &mut self.by_kind),
            (BY_VALUE, &mut self.by_value),
        ] {
            keys.sort_unstable();
            let mut table = tx.open_table(def).map_err(internal)?;
            for k in keys.iter() {
                table.insert(k.as_slice(), ()).map_err(internal)?;
            }
        }
        let mut meta = tx.open_table(META).map_err(internal)?;
        meta.insert(INDEXED, height).map_err(internal)?;
        Ok(())
    }
}

impl EventIndex {
    pub fn open(path: &Path) -> Result<Self, UrbisError> {
        let db = Database::builder()
            .set_cache_size(32 * 1024 * 1024)
            .create(path)
            .map_err(internal)?;
        let mut tx = db.begin_write().map_err(internal)?;
        tx.set_quick_repair(true);
        {
            let layout = tx
                .open_table(META)
                .map_err(internal)?
                .get(LAYOUT)
                .map_err(internal)?
                .map(|g| g.value());
            if layout != Some(LAYOUT_VERSION) {
                // Another layout (or none yet): start over; the indexer rebuilds it.
                tx.delete_table(ALL).map_err(internal)?;
                for t in [BY_MODULE, BY_KIND, BY_VALUE] {
                    tx.delete_table(t).map_err(internal)?;
                }
                let mut meta = tx.open_table(META).map_err(internal)?;
                meta.remove(INDEXED).map_err(internal)?;
                meta.insert(LAYOUT, LAYOUT_VERSION).map_err(internal)?;
            }
            tx.open_table(ALL).map_err(internal)?;
            tx.open_table(BY_MODULE).map_err(internal)?;
            tx.open_table(BY_KIND).map_err(internal)?;
            tx.open_table(BY_VALUE).map_err(internal)?;
        }
        tx.commit().map_err(internal)?;
        Ok(EventIndex { db })
    }

    /// The last height indexed.
    pub fn indexed_height(&self) -> Result<Option<u64>, UrbisError> {
        let tx = self.db.begin_read().map_err(internal)?;
        let t = tx.open_table(META).map_err(internal)?;
        Ok(t.get(INDEXED).map_err(internal)?.map(|g| g.value()))
    }

    /// Index every block the chain store has executed and this index has not, at most
    /// `max_blocks` of them, in one write transaction. Returns how many it indexed.
    ///
    /// With `durable: false` the commit is not flushed to disk (no fsync): a crash may lose
    /// it, and the index then resumes from its last durable height (entries and height are
    /// committed together, so they always agree). The index is derived from the chain store;
    /// losing its tail costs only re-indexing.
    pub fn catch_up(
        &self,
        chain: &ChainStore,
        max_blocks: u64,
        durable: bool,
    ) -> Result<u64, UrbisError> {
        let Some(top) = chain.executed_height()? else {
            return Ok(0);
        };
        // A state-synced store has no history before its base height.
        let first = self
            .indexed_height()?
            .map_or(0, |h| h + 1)
            .max(chain.base_height()?);
        if first > top {
            return Ok(0);
        }
        let last = top.min(first.saturating_add(max_blocks.max(1) - 1));
        let mut tx = self.db.begin_write().map_err(internal)?;
        tx.set_quick_repair(true);
        if !durable {
            tx.set_durability(Durability::None).map_err(internal)?;
        }
        let mut batch = Batch::default();
        for height in first..=last {
            let receipts = chain.receipts(height)?.unwrap_or_default();
            let events = chain.block_events(height)?;
            batch.add(height, &receipts, &events)?;
        }
        batch.write(&tx, last)?;
        tx.commit().map_err(internal)?;
        Ok(last - first + 1)
    }

    /// Index one block's events (its receipts' events, then its end-of-block events), durably
    /// (the node indexes with [`EventIndex::catch_up`]).
    #[cfg(test)]
    pub fn index_block(
        &self,
        height: u64,
        receipts: &[Receipt],
        block_events: &[Event],
    ) -> Result<(), UrbisError> {
        let mut tx = self.db.begin_write().map_err(internal)?;
        tx.set_quick_repair(true);
        let mut batch = Batch::default();
        batch.add(height, receipts, block_events)?;
        batch.write(&tx, height)?;
        tx.commit().map_err(internal)
    }

    /// One page of events matching `q`, in chain order.
    pub fn search(&self, q: &Search) -> Result<SearchPage, UrbisError> {
        let bad = |m: &str| UrbisError::new(ErrorCode::InvalidArgument, m.to_string());
        if q.limit == 0 || q.limit > MAX_SEARCH_PAGE {
            return Err(bad(&format!("limit must be 1 to {MAX_SEARCH_PAGE}")));
        }
        if q.kind.is_some() && q.module.is_none() {
            return Err(bad("kind needs module"));
        }
        // The most selective index for the filters given.
        let (table, prefix): (TableDefinition<&[u8], ()>, Vec<u8>) =
            match (&q.account, &q.object, &q.module, &q.kind) {
                (Some(v), _, _, _) | (None, Some(v), _, _) => {
                    (BY_VALUE, prefixed(&[v.as_bytes()], &[]))
                }
                (None, None, Some(m), Some(k)) => {
                    (BY_KIND, prefixed(&[m.as_bytes(), k.as_bytes()], &[]))
                }
                (None, None, Some(m), None) => (BY_MODULE, prefixed(&[m.as_bytes()], &[])),
                (None, None, None, _) => return self.search_all(q),
            };
        let start = match &q.cursor {
            Some(c) => {
                let k = hex::decode(c)
                    .ok()
                    .filter(|k| k.starts_with(&prefix) && k.len() == prefix.len() + 14)
                    .ok_or_else(|| bad("invalid cursor"))?;
                std::ops::Bound::Excluded(k)
            }
            None => {
                let mut k = prefix.clone();
                k.extend_from_slice(&loc(q.from_height.unwrap_or(0), 0, 0));
                std::ops::Bound::Included(k)
            }
        };
        let rtx = self.db.begin_read().map_err(internal)?;
        let index = rtx.open_table(table).map_err(internal)?;
        let all = rtx.open_table(ALL).map_err(internal)?;
        let range = index
            .range::<&[u8]>((
                start.as_ref().map(|k| k.as_slice()),
                std::ops::Bound::Unbounded,
            ))
            .map_err(internal)?;
        let mut events = Vec::new();
        let mut last: Option<Vec<u8>> = None;
        let mut exhausted = true;
        for (examined, item) in range.enumerate() {
            let (k, _) = item.map_err(internal)?;
            let key = k.value();
            if !key.starts_with(&prefix) {
                break;
            }
            let l = &key[prefix.len()..];
            let height = u64::from_be_bytes(l[..8].try_into().map_err(internal)?);
            if q.to_height.is_some_and(|to| height > to) {
                break;
            }
            if examined >= SCAN_BUDGET || events.len() >= q.limit {
                exhausted = false;
                break;
            }
            last = Some(key.to_vec());
            let record = all
                .get(l)
                .map_err(internal)?
                .ok_or_else(|| internal("an index entry without its event"))?;
            let e: IndexedEvent = borsh::from_slice(record.value()).map_err(internal)?;
            if q.matches(&e) {
                events.push(e);
            }
        }
        Ok(SearchPage {
            events,
            next_cursor: if exhausted {
                None
            } else {
                last.map(hex::encode)
            },
            indexed_height: self.indexed_height()?,
        })
    }

    fn search_all(&self, q: &Search) -> Result<SearchPage, UrbisError> {
        let start = match &q.cursor {
            Some(c) => {
                let k = hex::decode(c)
                    .ok()
                    .filter(|k| k.len() == 14)
                    .ok_or_else(|| UrbisError::new(ErrorCode::InvalidArgument, "invalid cursor"))?;
                std::ops::Bound::Excluded(k)
            }
            None => std::ops::Bound::Included(loc(q.from_height.unwrap_or(0), 0, 0).to_vec()),
        };
        let rtx = self.db.begin_read().map_err(internal)?;
        let all = rtx.open_table(ALL).map_err(internal)?;
        let range = all
            .range::<&[u8]>((
                start.as_ref().map(|k| k.as_slice()),
                std::ops::Bound::Unbounded,
            ))
            .map_err(internal)?;
        let mut events = Vec::new();
        let mut last = None;
        let mut exhausted = true;
        for item in range {
            let (k, v) = item.map_err(internal)?;
            let e: IndexedEvent = borsh::from_slice(v.value()).map_err(internal)?;
            if q.to_height.is_some_and(|to| e.height > to) {
                break;
            }
            if events.len() >= q.limit {
                exhausted = false;
                break;
            }
            last = Some(k.value().to_vec());
            events.push(e);
        }
        Ok(SearchPage {
            events,
            next_cursor: if exhausted {
                None
            } else {
                last.map(hex::encode)
            },
            indexed_height: self.indexed_height()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(index: u32, events: Vec<Event>) -> Receipt {
        Receipt {
            tx_hash: Hash([index as u8; 32]),
            height: 0,
            index,
            success: true,
            error: None,
            events,
            nonce_used: true,
            weight: 0,
        }
    }

    fn ev(module: &str, kind: &str, attrs: &[(&str, &str)]) -> Event {
        let mut e = Event::new(module, kind);
        for (k, v) in attrs {
            e = e.with(k, v);
        }
        e
    }

    fn page(idx: &EventIndex, q: Search) -> SearchPage {
        idx.search(&q).unwrap()
    }

    #[test]
    fn search_by_kind_value_and_height_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        let idx = EventIndex::open(&dir.path().join("e.redb")).unwrap();
        for h in 1..=20u64 {
            let who = if h % 2 == 0 {
                "urbis1even"
            } else {
                "urbis1odd"
            };
            idx.index_block(
                h,
                &[
                    receipt(
                        0,
                        vec![ev("assets", "held", &[("payer", who), ("hold", "h1")])],
                    ),
                    receipt(1, vec![ev("rewards", "awarded", &[("to", who)])]),
                ],
                &[ev("runtime", "job_failed", &[("module", "assets")])],
            )
            .unwrap();
        }
        assert_eq!(idx.indexed_height().unwrap(), Some(20));
        let q = |f: &dyn Fn(&mut Search)| {
            let mut s = Search {
                limit: 1000,
                ..Search::default()
            };
            f(&mut s);
            s
        };
        assert_eq!(page(&idx, q(&|_| {})).events.len(), 60);
        let held = page(
            &idx,
            q(&|s| {
                s.module = Some("assets".into());
                s.kind = Some("held".into());
            }),
        );
        assert_eq!(held.events.len(), 20);
        assert!(held.events.windows(2).all(|w| w[0].height < w[1].height));
        let even = page(&idx, q(&|s| s.account = Some("urbis1even".into())));
        assert_eq!(even.events.len(), 20);
        let even_rewards = page(
            &idx,
            q(&|s| {
                s.account = Some("urbis1even".into());
                s.module = Some("rewards".into());
                s.from_height = Some(5);
                s.to_height = Some(10);
            }),
        );
        assert_eq!(
            even_rewards
                .events
                .iter()
                .map(|e| e.height)
                .collect::<Vec<_>>(),
            [6, 8, 10]
        );
        let blocks = page(&idx, q(&|s| s.module = Some("runtime".into())));
        assert!(blocks.events.iter().all(|e| e.tx_hash.is_none()));
        // Pages of 7 give the same sequence.
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let p = page(
                &idx,
                q(&|s| {
                    s.object = Some("h1".into());
                    s.limit = 7;
                    s.cursor = cursor.clone();
                }),
            );
            seen.extend(p.events);
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 20);
        // Bad input.
        let bad = |f: &dyn Fn(&mut Search)| idx.search(&q(f)).unwrap_err().code;
        assert_eq!(bad(&|s| s.limit = 0), ErrorCode::InvalidArgument);
        assert_eq!(bad(&|s| s.limit = 1001), ErrorCode::InvalidArgument);
        assert_eq!(
            bad(&|s| s.kind = Some("held".into())),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            bad(&|s| {
                s.module = Some("assets".into());
                s.cursor = Some("zz".into());
            }),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            bad(&|s| s.cursor = Some("00".into())),
            ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn an_index_in_another_layout_is_dropped_and_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.redb");
        let idx = EventIndex::open(&path).unwrap();
        let r = receipt(0, vec![ev("m", "k", &[("id", "7")])]);
        idx.index_block(1, std::slice::from_ref(&r), &[]).unwrap();
        let q = || Search {
            object: Some("7".into()),
            limit: 10,
            ..Search::default()
        };
        assert_eq!(page(&idx, q()).events.len(), 1);
        // Reopened in the same layout: kept.
        drop(idx);
        let idx = EventIndex::open(&path).unwrap();
        assert_eq!(idx.indexed_height().unwrap(), Some(1));
        // An index written by another version of the layout.
        let tx = idx.db.begin_write().unwrap();
        tx.open_table(META)
            .unwrap()
            .insert(LAYOUT, LAYOUT_VERSION - 1)
            .unwrap();
        tx.commit().unwrap();
        drop(idx);
        let idx = EventIndex::open(&path).unwrap();
        assert_eq!(idx.indexed_height().unwrap(), None);
        assert!(page(&idx, q()).events.is_empty());
        idx.index_block(1, &[r], &[]).unwrap();
        assert_eq!(page(&idx, q()).events.len(), 1);
    }
}
