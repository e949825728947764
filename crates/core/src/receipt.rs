//! Receipts and events.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::hash::Hash;

/// Something a module reports on success; indexed and streamed.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TxError {
    pub code: ErrorCode,
    pub message: String,
}

/// The outcome of one included transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
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
}
