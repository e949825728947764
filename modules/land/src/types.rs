//! Stored records of the land register.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, Hash};

/// A co-owner and their integer share of the whole.
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
#[serde(deny_unknown_fields)]
pub struct Share {
    pub owner: Address,
    pub parts: u64,
}

/// A parcel and its current title.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Parcel {
    /// The cadastral id.
    pub id: String,
    /// SHA-256 of the surveyed geometry (published by the cadastre).
    pub geometry_hash: Hash,
    pub area_m2: u64,
    /// Co-owners; their parts sum to `whole`.
    pub owners: Vec<Share>,
    pub whole: u64,
    pub easements: Vec<Easement>,
    /// Parties the registrar registered as interested (they may object to a transfer).
    pub interested: Vec<Address>,
    /// The transfer under way, if any (at most one).
    pub transfer: Option<u64>,
    pub registered_ms: u64,
    /// Entries in its history.
    pub history_len: u64,
}

/// A lien (mortgage); a parcel's liens live under one key, absent when there are none.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Lien {
    pub id: u64,
    pub bank: Address,
    /// In cents.
    pub amount: u64,
    /// 1 is the first rank.
    pub priority: u32,
    pub deed_hash: Hash,
}

/// A right of way or similar burden on a parcel.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Easement {
    pub id: u64,
    /// Who benefits: a parcel id or a party.
    pub beneficiary: String,
    pub kind: String,
    pub deed_hash: Hash,
}

/// Where a transfer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Waiting for every seller's signature.
    Sellers,
    /// Waiting for every buyer to accept.
    Buyers,
    /// Waiting for each lien holder to release or consent.
    Liens,
    /// Waiting for the registrar.
    Registrar,
    /// Approved; interested parties may object until `objection_until_ms`.
    Objection,
    /// Stopped by an objection until the registrar decides.
    Objected,
    Completed,
    Cancelled,
}

/// A lien holder's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LienAnswer {
    /// The lien is paid off and goes away with the transfer.
    Release,
    /// The lien stays on the parcel under the new owners.
    Consent,
}

/// A transfer of title.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Transfer {
    pub id: u64,
    pub parcel: String,
    /// The owners when it was proposed.
    pub sellers: Vec<Address>,
    pub signed: Vec<Address>,
    pub buyers: Vec<Share>,
    pub accepted: Vec<Address>,
    /// In cents.
    pub price: u64,
    pub deed_hash: Hash,
    pub lien_answers: Vec<(u64, LienAnswer)>,
    pub stage: Stage,
    pub objection_until_ms: Option<u64>,
    /// Objections: who, and the hash of their statement.
    pub objections: Vec<(Address, Hash)>,
    pub proposed_ms: u64,
    pub closed_ms: Option<u64>,
}

/// One entry of a parcel's provenance.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct HistoryEntry {
    pub seq: u64,
    pub at_ms: u64,
    pub height: u64,
    /// `registered`, `lien_added`, `easement_added`, `transferred`, …
    pub what: String,
    /// The transaction, when there is one (the scheduler completes transfers).
    pub tx: Option<Hash>,
    /// The owners after it.
    pub owners: Vec<Share>,
    /// The transfer, lien or easement it concerns.
    pub reference: Option<u64>,
}
