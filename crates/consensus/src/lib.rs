//! Urbis consensus: the Commonware simplex + marshal wiring, the block proposer and verifier,
//! the executor that applies finalized blocks, and the mempool.
//!
//! All generic-heavy consensus code lives in this crate so that the rest of the workspace
//! recompiles quickly.

pub mod app;
pub mod blobnet;
pub mod bundle;
pub mod codec;
pub mod engine;
pub mod epochs;
pub mod evidence;
pub mod executor;
pub mod follow;
pub mod gossip;
pub mod mempool;
pub mod peers;
pub mod prover;
pub mod shared;

pub use app::ProposerConfig;
pub use bundle::{
    Handover, ProofBundle, ReceiptBundle, Trust, verify_bundle, verify_finalization_in,
    verify_receipt_bundle,
};
pub use engine::{Running, start_networked, start_validator};
pub use mempool::{Mempool, MempoolConfig};
pub use prover::ProvenAnswer;
pub use shared::{ExecutedBlock, Shared, consensus_namespace, validator_set_hash};
