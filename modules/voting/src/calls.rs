//! The calls of the voting module and their declared weights. Votecrypto messages travel as
//! their JSON text (the format of `crypto/votecrypto/SPEC.md`), so that a client builds them
//! with any implementation of that format.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, Hash};

/// A call to the voting module (borsh in transactions; never reorder, only append).
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
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
pub enum VotingCall {
    /// Create an election (city admin or a department).
    Create {
        /// The manifest (JSON, SPEC.md §manifest).
        manifest: String,
        trustees: Vec<Address>,
        threshold: u32,
        registrar: Address,
        /// The eligibility rule the registrar applies (text).
        eligibility: String,
        ceremony_ends_ms: u64,
        opens_ms: u64,
        closes_ms: u64,
    },
    /// A trustee's announcement (JSON).
    Announce {
        election: Hash,
        announcement: String,
    },
    /// A trustee's encrypted shares for the others (JSON list, by recipient).
    Deal { election: Hash, shares: String },
    /// A trustee's complaints (JSON list; `[]` acknowledges every share it received).
    Complain { election: Hash, complaints: String },
    /// Fix the key with the trustees who took part (the admin, after the ceremony's end).
    Finalize { election: Hash },
    /// Register public voting credentials (the registrar; JSON list).
    Register { election: Hash, credentials: String },
    /// Commit the credential list of `count` credentials (the registrar).
    Commit { election: Hash, count: u64 },
    /// Open now (the admin; the list must be committed).
    Open { election: Hash },
    /// Close now (the admin).
    Close { election: Hash },
    /// Cast a ballot (signed by its credential; JSON).
    Cast { election: Hash, ballot: String },
    /// Spoil a ballot and publish its opening (Benaloh challenge; JSON).
    Spoil {
        election: Hash,
        ballot: String,
        opening: String,
    },
    /// A trustee's decryption share of the aggregate, with proofs (JSON).
    Decrypt { election: Hash, share: String },
}

/// Declared weights, from the call's size (see `urbis_runtime::weight`): the proofs a call
/// carries grow with its bytes. Calibrated by `cargo bench -p urbis-bench --bench voting`.
pub fn weight(data: &[u8]) -> u64 {
    let bytes = data.len() as u64;
    let Ok(call) = borsh::from_slice::<VotingCall>(data) else {
        return 100_000;
    };
    match call {
        // A ballot: about 2,000 bytes of JSON per 0/1 ciphertext with its proof; checking
        // one costs about 250 µs.
        VotingCall::Cast { .. } | VotingCall::Spoil { .. } => 200_000 + 300 * bytes,
        // An announcement's proofs are checked on chain (charged by the call), one per
        // coefficient.
        VotingCall::Announce { .. } | VotingCall::Deal { .. } => 2_000_000 + 500 * bytes,
        // The last complaint evaluates the whole ceremony.
        VotingCall::Complain { .. } | VotingCall::Finalize { .. } => 200_000_000,
        VotingCall::Register { .. } => 100_000 + 300 * bytes,
        VotingCall::Commit { count, .. } => {
            1_000_000u64.saturating_add(count.saturating_mul(4_000))
        }
        VotingCall::Decrypt { .. } => 100_000_000 + 500 * bytes,
        VotingCall::Create { .. } | VotingCall::Open { .. } | VotingCall::Close { .. } => {
            200_000 + 100 * bytes
        }
    }
}
