//! Typed responses of the node's HTTP API (`/v1/...`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use urbis_consensus::ProofBundle;
use urbis_core::{Address, Event, Hash, Header, PublicKey, Receipt, SignedTx};

/// A transaction that has been executed in a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedTx {
    pub hash: Hash,
    pub height: u64,
    pub index: u32,
    pub receipt: Receipt,
    /// With `prove=true`: the receipt bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Box<urbis_consensus::ReceiptBundle>>,
}

/// The state of a transaction the node knows about (`GET /v1/txs/{hash}`, `POST /v1/txs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// Accepted into the mempool, not yet executed.
    Pending { hash: Hash },
    /// Executed (successfully or not: see the receipt).
    Committed(CommittedTx),
}

/// What `POST /v1/txs` answers.
pub type SubmitResult = TxStatus;

impl TxStatus {
    pub fn hash(&self) -> Hash {
        match self {
            TxStatus::Pending { hash } => *hash,
            TxStatus::Committed(c) => c.hash,
        }
    }

    pub fn is_pending(&self) -> bool {
        matches!(self, TxStatus::Pending { .. })
    }

    /// The receipt, once executed.
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            TxStatus::Pending { .. } => None,
            TxStatus::Committed(c) => Some(&c.receipt),
        }
    }

    pub fn committed(self) -> Option<CommittedTx> {
        match self {
            TxStatus::Pending { .. } => None,
            TxStatus::Committed(c) => Some(c),
        }
    }
}

/// Mempool occupancy in [`NodeStatus`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MempoolStatus {
    pub txs: u64,
    pub bytes: u64,
    pub senders: u64,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub chain_id: String,
    /// Latest finalized height.
    pub height: u64,
    /// Digest of the block at `height` (absent before the first block).
    #[serde(default)]
    pub block_hash: Option<Hash>,
    /// Root of the latest executed state, and the height it is the state after.
    pub state_root: Hash,
    pub state_height: u64,
    pub genesis_hash: Hash,
    pub validators: Vec<PublicKey>,
    #[serde(default)]
    pub mempool: MempoolStatus,
    pub ready: bool,
    #[serde(default)]
    pub version: String,
}

/// `GET /v1/blocks/{id}`: a block with one page of its transactions and receipts
/// ([`crate::Client::block`] fetches every page and returns them all in one response).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockResponse {
    pub hash: Hash,
    pub header: Header,
    /// Root of the state after this block, once executed.
    #[serde(default)]
    pub state_root_after: Option<Hash>,
    /// Transactions in the whole block.
    pub tx_count: usize,
    pub txs: Vec<SignedTx>,
    pub receipts: Vec<Receipt>,
    /// Cursor of the next page of transactions; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// Events of the block's end-of-block work.
    #[serde(default)]
    pub block_events: Vec<Event>,
    /// Encoded finalization certificate, when the node has it.
    #[serde(default, with = "urbis_core::hexser::opt")]
    pub finalization: Option<Vec<u8>>,
}

/// `GET /v1/query/{module}/{path…}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    pub module: String,
    pub path: Vec<String>,
    /// The logical state key that was read, as text (e.g. `rewards/holder/urbis1…`).
    pub key: String,
    /// The module's JSON rendering of the value; `null` when absent.
    #[serde(default)]
    pub value: serde_json::Value,
    /// The state height the answer is for.
    pub height: u64,
    /// Present when requested with `prove=true`.
    #[serde(default)]
    pub proof: Option<ProofBundle>,
}

/// `GET /v1/query/{module}/{list…}`: one page of a list query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListResult {
    pub module: String,
    pub path: Vec<String>,
    pub items: Vec<serde_json::Value>,
    /// Give it back for the next page; absent on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
    pub height: u64,
}

/// One event found by `GET /v1/events/search` (or streamed with filters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundEvent {
    pub height: u64,
    #[serde(default)]
    pub tx_hash: Option<Hash>,
    #[serde(default)]
    pub tx_index: Option<u32>,
    pub event: Event,
}

/// `GET /v1/events/search`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub events: Vec<FoundEvent>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// Every block up to this height is indexed.
    #[serde(default)]
    pub indexed_height: Option<u64>,
}

/// Filters of an event search (every field optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EventQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_height: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `GET /v1/nonce/{address}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceInfo {
    pub address: Address,
    /// Next nonce according to committed state.
    pub nonce: u64,
    /// Next nonce counting the sender's transactions waiting in the mempool.
    pub next_nonce: u64,
}

/// One `event: block` of `GET /v1/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEvent {
    pub height: u64,
    pub hash: Hash,
    pub state_root: Hash,
    #[serde(default)]
    pub receipts: Vec<Receipt>,
    /// Events of the block's end-of-block work.
    #[serde(default)]
    pub block_events: Vec<Event>,
}

/// Which block to fetch: `latest`, a height or a block hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockId {
    Latest,
    Height(u64),
    Hash(Hash),
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockId::Latest => f.write_str("latest"),
            BlockId::Height(h) => write!(f, "{h}"),
            BlockId::Hash(h) => write!(f, "{h}"),
        }
    }
}

/// A block id that is neither `latest`, a decimal height nor a 32-byte hex hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid block id {0:?}: expected `latest`, a height or a 64-hex-digit block hash")]
pub struct ParseBlockIdError(pub String);

impl FromStr for BlockId {
    type Err = ParseBlockIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "latest" {
            return Ok(BlockId::Latest);
        }
        if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse()
                .map(BlockId::Height)
                .map_err(|_| ParseBlockIdError(s.to_string()));
        }
        s.parse()
            .map(BlockId::Hash)
            .map_err(|_| ParseBlockIdError(s.to_string()))
    }
}

impl From<u64> for BlockId {
    fn from(h: u64) -> Self {
        BlockId::Height(h)
    }
}

impl From<Hash> for BlockId {
    fn from(h: Hash) -> Self {
        BlockId::Hash(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use urbis_core::SecretKey;

    fn receipt(hash: Hash) -> Receipt {
        Receipt {
            tx_hash: hash,
            height: 7,
            index: 0,
            success: true,
            error: None,
            events: vec![Event::new("rewards", "awarded").with("amount", 5)],
            nonce_used: true,
            weight: 0,
        }
    }

    #[test]
    fn tx_status_decodes_both_forms() {
        let h = urbis_core::sha256_domain(b"t", &[b"x"]);
        let pending: TxStatus =
            serde_json::from_value(serde_json::json!({"hash": h, "status": "pending"}))
                .expect("pending decodes");
        assert_eq!(pending, TxStatus::Pending { hash: h });
        assert!(pending.receipt().is_none());

        let json = serde_json::json!({
            "hash": h, "status": "committed", "height": 7, "index": 0, "receipt": receipt(h)
        });
        let committed: TxStatus = serde_json::from_value(json.clone()).expect("committed decodes");
        assert_eq!(committed.hash(), h);
        assert_eq!(committed.receipt().map(|r| r.height), Some(7));
        assert_eq!(
            serde_json::to_value(&committed).expect("serializes"),
            json,
            "round trip keeps the wire form"
        );
    }

    #[test]
    fn status_and_nonce_decode() {
        let pk = SecretKey::from_label("v").public_key();
        let json = serde_json::json!({
            "chain_id": "urbis-dev", "height": 3, "block_hash": Hash::ZERO, "state_root": Hash::ZERO,
            "state_height": 2, "genesis_hash": Hash::ZERO, "validators": [pk],
            "mempool": {"txs": 1, "bytes": 200, "senders": 1}, "ready": true, "version": "0.1.0"
        });
        let s: NodeStatus = serde_json::from_value(json).expect("status decodes");
        assert_eq!(s.validators, vec![pk]);
        assert_eq!(s.mempool.bytes, 200);

        let addr = SecretKey::from_label("a").address();
        let n: NonceInfo = serde_json::from_value(
            serde_json::json!({"address": addr, "nonce": 2, "next_nonce": 4}),
        )
        .expect("nonce decodes");
        assert_eq!(n.next_nonce, 4);
    }

    #[test]
    fn query_result_with_null_value() {
        let q: QueryResult = serde_json::from_value(serde_json::json!({
            "module": "rewards", "path": ["program", "9"], "key": "rewards/program/9",
            "value": null, "height": 4, "proof": null
        }))
        .expect("decodes");
        assert!(q.value.is_null());
        assert!(q.proof.is_none());
    }

    #[test]
    fn block_ids_parse() {
        assert_eq!("latest".parse::<BlockId>(), Ok(BlockId::Latest));
        assert_eq!("42".parse::<BlockId>(), Ok(BlockId::Height(42)));
        let h = urbis_core::sha256_domain(b"t", &[b"x"]);
        assert_eq!(h.to_hex().parse::<BlockId>(), Ok(BlockId::Hash(h)));
        assert!("nope".parse::<BlockId>().is_err());
        assert!("".parse::<BlockId>().is_err());
        assert!("99999999999999999999".parse::<BlockId>().is_err());
    }
}
