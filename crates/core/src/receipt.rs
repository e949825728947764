//! Receipts and events.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::hash::{Hash, domain, merkle_root, sha256_domain};

/// Something a module reports on success; indexed and streamed.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub struct Event {
    pub module: String,
    pub kind: String,
    /// Ordered attributes (no map: order is part of the encoding).
    pub attributes: Vec<(String, String)>,
}

impl Event {
    pub fn new(module: &str, kind: &str) -> Self {
        Event {
            module: module.to_string(),
            kind: kind.to_string(),
            attributes: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.attributes.push((key.to_string(), value.to_string()));
        self
    }

    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an included transaction failed.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub struct TxError {
    pub code: ErrorCode,
    pub message: String,
}

/// The outcome of one included transaction.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub struct Receipt {
    pub tx_hash: Hash,
    pub height: u64,
    pub index: u32,
    pub success: bool,
    pub error: Option<TxError>,
    pub events: Vec<Event>,
    /// Whether the transaction used up its nonce. Then its hash is committed: it is indexed
    /// (`GET /v1/txs/{hash}`) and can never be included again; its call's writes were applied
    /// if `success`, discarded otherwise. `false` when it was refused before taking effect (a
    /// bad nonce, a sender without a role making a call that is not open, the open-call
    /// quota): it changed nothing, is not indexed under its hash, and may still be included
    /// later.
    pub nonce_used: bool,
    /// The execution weight the transaction used (see `urbis_runtime::weight`): the base cost
    /// of any transaction and its size, plus what its call metered (reads, writes, events,
    /// nested calls, signature and proof checks). At most its declared weight, which is what
    /// counts against the block's limit.
    pub weight: u64,
}

/// The Merkle leaf of a receipt: `SHA-256(len || "urbis/receipt/v1" || borsh(receipt))`.
pub fn receipt_leaf(r: &Receipt) -> Hash {
    let bytes = borsh::to_vec(r).expect("borsh to vec never fails");
    sha256_domain(domain::RECEIPT, &[&bytes])
}

/// The Merkle leaf of a block's end-of-block events:
/// `SHA-256(len || "urbis/block-events/v1" || borsh(events))`.
pub fn block_events_leaf(events: &[Event]) -> Hash {
    let bytes = borsh::to_vec(events).expect("borsh to vec never fails");
    sha256_domain(domain::BLOCK_EVENTS, &[&bytes])
}

/// The leaves of a block's receipts tree: every receipt's leaf in block order, then the leaf of
/// the end-of-block events (always present, even when there are none).
pub fn receipts_leaves(receipts: &[Receipt], block_events: &[Event]) -> Vec<Hash> {
    receipts
        .iter()
        .map(receipt_leaf)
        .chain(std::iter::once(block_events_leaf(block_events)))
        .collect()
}

/// The root of a block's receipts (see [`receipts_leaves`]; `merkle_root` for the tree).
pub fn receipts_root(receipts: &[Receipt], block_events: &[Event]) -> Hash {
    merkle_root(&receipts_leaves(receipts, block_events))
}

/// `borsh(receipts)` (how a block's receipts are stored) together with
/// [`receipts_root`]`(receipts, block_events)`, encoding each receipt once: a borsh vector is
/// its `u32` little-endian length followed by its elements, and each element's bytes are what
/// its leaf hashes.
pub fn encode_receipts(receipts: &[Receipt], block_events: &[Event]) -> (Vec<u8>, Hash) {
    let mut blob = Vec::with_capacity(4 + receipts.len() * 128);
    let count = u32::try_from(receipts.len()).expect("a block holds fewer than 2^32 receipts");
    blob.extend_from_slice(&count.to_le_bytes());
    let mut leaves = Vec::with_capacity(receipts.len() + 1);
    for r in receipts {
        let start = blob.len();
        BorshSerialize::serialize(r, &mut blob).expect("borsh into a vector never fails");
        leaves.push(sha256_domain(domain::RECEIPT, &[&blob[start..]]));
    }
    leaves.push(block_events_leaf(block_events));
    (blob, merkle_root(&leaves))
}

/// The receipts accumulator after a block: `SHA-256(len || "urbis/receipts-acc/v1" || previous
/// accumulator || this block's receipts root)`; before the genesis block it is all zeros.
/// Headers carry the accumulator after their `state_height`, so one certified header vouches
/// for the receipts of every block up to it.
pub fn receipts_acc(previous: &Hash, block_root: &Hash) -> Hash {
    sha256_domain(domain::RECEIPTS_ACC, &[&previous.0, &block_root.0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(i: u32, events: usize) -> Receipt {
        Receipt {
            tx_hash: Hash([i as u8; 32]),
            height: 7,
            index: i,
            success: i.is_multiple_of(2),
            error: None,
            events: (0..events)
                .map(|n| Event::new("m", "k").with("n", n as u64))
                .collect(),
            nonce_used: true,
            weight: 1_000 + u64::from(i),
        }
    }

    #[test]
    fn encoding_receipts_once_gives_the_stored_bytes_and_the_root() {
        for n in [0, 1, 2, 5, 33] {
            let receipts: Vec<Receipt> = (0..n).map(|i| receipt(i, (i % 3) as usize)).collect();
            let block_events = vec![Event::new("runtime", "x").with("n", u64::from(n))];
            let (blob, root) = encode_receipts(&receipts, &block_events);
            assert_eq!(blob, borsh::to_vec(&receipts).unwrap());
            assert_eq!(root, receipts_root(&receipts, &block_events));
            assert_ne!(root, receipts_root(&receipts, &[]));
        }
    }
}
