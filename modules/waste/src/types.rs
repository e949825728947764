//! Values the waste module stores (borsh) and answers (JSON).

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, Hash, PublicKey, Signature};

urbis_runtime::named_enum! {
    /// A waste stream (never reorder, only append).
    pub enum Stream("waste stream") {
        Glass = "glass",
        Paper = "paper",
        Pet = "pet",
        Hdpe = "hdpe",
        Metal = "metal",
        Organic = "organic",
        Textile = "textile",
        Residual = "residual",
        EWaste = "e_waste",
        Hazardous = "hazardous",
    }
}

urbis_runtime::named_enum! {
    /// What an actor does (never reorder, only append).
    pub enum ActorKind("actor kind") {
        Collector = "collector",
        TransferStation = "transfer_station",
        Recycler = "recycler",
        Landfill = "landfill",
        Incinerator = "incinerator",
    }
}

urbis_runtime::named_enum! {
    /// A certified device (never reorder, only append).
    pub enum DeviceKind("device kind") {
        /// A smart bin: weighs deposits and its fill at collection.
        Bin = "bin",
        /// A recycling centre's scale: weighs deposits.
        Centre = "centre",
        /// A facility's weighbridge: weighs batches at receipt.
        Weighbridge = "weighbridge",
    }
}

urbis_runtime::named_enum! {
    /// Where a batch ended (never reorder, only append).
    pub enum FateKind("fate") {
        Recycled = "recycled",
        EnergyRecovery = "energy_recovery",
        Landfill = "landfill",
    }
}

urbis_runtime::named_enum! {
    /// Why something was flagged (never reorder, only append).
    pub enum FlagKind("flag") {
        /// A hop or a facility's period gained mass within the soft band (over it is refused).
        MassGain = "mass_gain",
        /// A hop lost more than the tolerance and the moisture allowance.
        WeightJump = "weight_jump",
        /// A batch was not handed over or given its fate by its deadline.
        MissingHop = "missing_hop",
        /// A split or a fate left more unaccounted mass than the tolerance.
        ProcessLoss = "process_loss",
    }
}

/// Tolerances of a stream, in parts per 10 000 of the input.
#[derive(
    Clone,
    Copy,
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
pub struct Tolerance {
    /// Output may exceed input by this much before it is flagged…
    pub soft_bps: u32,
    /// …and by this much before it is refused.
    pub hard_bps: u32,
    /// Mass a hop may lose (drying, spillage) before it is flagged, on top of `soft_bps`.
    pub moisture_bps: u32,
    /// A batch must move on (handover or fate) within this long.
    pub hop_deadline_ms: u64,
}

/// A licence: an actor may receive and treat `stream` until `until_ms`.
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
pub struct Licence {
    pub stream: Stream,
    pub until_ms: u64,
}

/// A licensed actor.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Actor {
    pub account: Address,
    pub kind: ActorKind,
    pub name: String,
    pub licences: Vec<Licence>,
}

/// A certified device.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Device {
    pub key: PublicKey,
    pub kind: DeviceKind,
    /// The actor operating it (a bin's collector, a weighbridge's facility).
    pub operator: Address,
    /// A district code (rates are kept per district).
    pub district: String,
    pub stream: Stream,
    /// The last weighing sequence number accepted (replay protection).
    pub seq: u64,
    /// A bin's fill since its last collection, and which fill it is.
    pub fill_grams: u64,
    pub epoch: u64,
    pub revoked_ms: Option<u64>,
}

/// A device-signed weighing: `len(tag) ‖ "urbis/waste-weighing/v1" ‖ device key (32) ‖ seq
/// (u64 LE) ‖ grams (u64 LE) ‖ subject (32: the batch id, or a citizen's address hash for a
/// deposit)` ([`crate::weighing_message`]).
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
pub struct Weighing {
    pub device: PublicKey,
    pub seq: u64,
    pub grams: u64,
    pub signature: Signature,
}

/// One hop of a batch's custody.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Hop {
    pub from: Address,
    pub to: Address,
    pub sent_grams: u64,
    pub received_grams: u64,
    pub weighbridge: PublicKey,
    pub at_ms: u64,
}

urbis_runtime::named_enum! {
    /// A batch's state (never reorder, only append).
    pub enum BatchState("batch state") {
        Active = "active",
        Split = "split",
        Merged = "merged",
        Final = "final",
    }
}

/// A batch of one stream and its custody.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Batch {
    pub id: u64,
    pub stream: Stream,
    pub grams: u64,
    pub holder: Address,
    pub state: BatchState,
    /// Collected from these bins (their fill epochs), or made from these batches.
    pub sources: Vec<(PublicKey, u64)>,
    pub parents: Vec<u64>,
    pub children: Vec<u64>,
    /// Mass by district of origin (what recycling rates are counted against).
    pub origins: Vec<(String, u64)>,
    /// A hazardous batch's manifest (hash of the signed document).
    pub manifest: Option<Hash>,
    pub hops: Vec<Hop>,
    pub created_ms: u64,
    /// The next hop or the fate is due by then (a scheduler job flags it otherwise).
    pub due_ms: u64,
    pub fate: Option<Fate>,
}

/// A batch's final fate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Fate {
    pub kind: FateKind,
    /// For recycling: the output material and its mass.
    pub material: Option<String>,
    pub output_grams: u64,
    pub facility: Address,
    pub at_ms: u64,
}

/// An anomaly.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Flag {
    pub kind: FlagKind,
    pub actor: Address,
    pub batch: u64,
    /// Mass involved, grams (the excess, the loss, the batch).
    pub grams: u64,
    pub at_ms: u64,
}

/// A facility's mass, all time or in a calendar month.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Balance {
    /// The stock held when the month opened (0 for the all-time balance).
    pub opening_grams: u64,
    pub received_grams: u64,
    /// Handed over to the next holder.
    pub sent_grams: u64,
    /// Given their fate here (the input mass).
    pub treated_grams: u64,
    /// Unaccounted in splits (sorting residue, spillage).
    pub lost_grams: u64,
}

impl Balance {
    /// What the facility holds: opening + received − sent − treated − lost.
    pub fn stock(&self) -> u64 {
        (self.opening_grams + self.received_grams)
            .saturating_sub(self.sent_grams + self.treated_grams + self.lost_grams)
    }
}

/// A district's stream in a month: what was collected and where it ended.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Rate {
    pub collected_grams: u64,
    pub recycled_grams: u64,
    pub energy_recovery_grams: u64,
    pub landfill_grams: u64,
}

/// A citizen's deposit.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deposit {
    pub citizen: Address,
    pub device: PublicKey,
    /// The bin's fill it went into: its collection names the batch.
    pub epoch: u64,
    pub stream: Stream,
    pub grams: u64,
    pub tokens: u64,
    pub at_ms: u64,
}
