//! # urbis-votecrypto
//!
//! Election cryptography for Urbis: Ristretto255 exponential ElGamal, zero-knowledge
//! proofs with strong Fiat–Shamir, a Pedersen-style threshold key ceremony, signed
//! ballots with confirmation-code chaining and Benaloh challenges, homomorphic tally
//! with threshold decryption, and an independent verifier for the election record.
//!
//! The record format is specified in `SPEC.md` (JSON Schema: `record.schema.json`).
//!
//! ## Flow
//!
//! 1. [`manifest::Manifest`] and the public [`manifest::Credential`] list.
//! 2. Key ceremony: [`dkg::Trustee::new`] → [`dkg::Trustee::deal`] →
//!    [`dkg::Trustee::receive`] (complaints) → [`dkg::finalize_ceremony`] →
//!    [`dkg::Trustee::finish`] (or [`dkg::run_ceremony`] in one process).
//! 3. [`context::ElectionContext::new`] binds manifest, ceremony and credentials into the
//!    election hash.
//! 4. Voting: [`ballot::encrypt_ballot`], then [`ballot::BallotBox::cast`] or
//!    [`ballot::BallotBox::spoil`] (Benaloh challenge, checked by [`ballot::check_reveal`]).
//! 5. Tally: [`tally::run_tally`] (or [`tally::aggregate`], [`tally::partial_decrypt`],
//!    [`tally::combine`] step by step).
//! 6. Publish an [`ElectionRecord`]; anyone runs [`verify_record`].
//!
//! [`demo`] runs all of it as a simulation.

pub mod ballot;
pub mod context;
mod demo;
pub mod dkg;
pub mod encoding;
mod error;
pub mod group;
pub mod manifest;
pub mod proofs;
pub mod record;
pub mod tally;
pub mod verify;

pub use demo::{
    DemoOptions, demo, demo_manifest, demo_with_secrets, random_vote, referendum_manifest,
};
pub use error::VoteError;
pub use record::{BoardAnchor, ElectionRecord, RECORD_VERSION};
pub use verify::{CheckResult, VerifyReport, verify_record, verify_record_with_threads};
