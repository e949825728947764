//! Client library for the Urbis node HTTP API.
//!
//! - [`Client`]: typed async calls to `/v1/...` ([`Client::status`], [`Client::submit`],
//!   [`Client::submit_and_wait`], [`Client::query`], …). Errors are [`ClientError`]; API errors
//!   carry the node's stable [`urbis_core::ErrorCode`].
//! - [`Signer`]: a key plus the chain (id and genesis hash) that fetches the next nonce, signs,
//!   submits and waits.
//! - [`json_call`]: encode any module's call from its JSON form, locally (a node never encodes
//!   what a client signs); [`call_schema`] is the JSON Schema it must match.
//! - [`keystore`]: named keys in a local JSON file.
//! - [`verify`]: check proof bundles against a trusted genesis file, and query answers against
//!   the key and value their proof establishes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), urbis_client::ClientError> {
//! use urbis_client::{Client, Signer, check_receipt};
//! use urbis_core::{Call, SecretKey};
//!
//! let client = Client::new("http://127.0.0.1:8545")?;
//! let signer = Signer::for_node(&client, SecretKey::generate()).await?;
//! let receipt = signer.send(&client, Call::new("accounts", &0u8)).await?;
//! let receipt = check_receipt(receipt)?;
//! println!("included at height {}", receipt.height);
//! # Ok(()) }
//! ```

pub mod api;
mod calls;
mod client;
mod error;
pub mod keystore;
mod signer;
pub mod verify;

pub use api::{
    BlockEvent, BlockId, BlockResponse, CommittedTx, EventQuery, FoundEvent, ListResult,
    MempoolStatus, NodeStatus, NonceInfo, QueryResult, SearchResult, SubmitResult, TxStatus,
};
pub use calls::{call_schema, is_list_query, json_call};
pub use client::Client;
pub use error::{ApiCode, ClientError};
pub use keystore::{KeyEntry, Keystore, KeystoreError, Protection};
pub use signer::{Signer, check_receipt};
pub use urbis_consensus::ProofBundle;
pub use urbis_consensus::ReceiptBundle;
pub use verify::{
    VerifiedProof, VerifiedReceipt, verify_bundle_with_genesis, verify_proof, verify_query,
    verify_query_with, verify_receipt,
};
