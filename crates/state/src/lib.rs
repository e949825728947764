//! Urbis state: the authenticated state ([`auth::AuthState`], Commonware QMDB "current",
//! ordered variant, which gives inclusion *and* exclusion proofs against one root) and the chain
//! store ([`chain::ChainStore`], redb) holding blocks, receipts, roots, certificates and a plain
//! copy of the logical state for synchronous reads.
//!
//! Logical keys (e.g. `rewards/holder/urbis1…`) are stored in QMDB under
//! `SHA-256(len(tag) || tag || key)` with tag `urbis/state-key/v1` (QMDB keys are fixed-size);
//! values are the module's borsh bytes, unchanged.

pub mod auth;
pub mod chain;
pub mod events;
pub mod proof;
pub mod sync;

pub use auth::AuthState;
pub use chain::{BlockRecord, ChainStore, StateSnapshot};
pub use events::{EventIndex, IndexedEvent, Search, SearchPage};
pub use proof::{StateProof, hashed_key, value_hash, verify_state_proof};
