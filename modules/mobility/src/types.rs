//! Values the mobility module stores (borsh) and answers (JSON).

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, Hash, PublicKey};

macro_rules! call_type {
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(
            Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
            JsonSchema,
        )]
        #[serde(deny_unknown_fields)]
        pub struct $name { $($body)* }
    };
}

macro_rules! stored {
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
        pub struct $name { $($body)* }
    };
}

urbis_runtime::named_enum! {
    /// What kind of vehicle (never reorder, only append).
    pub enum VehicleClass("vehicle class") {
        Car = "car",
        Taxi = "taxi",
        Bus = "bus",
        Tram = "tram",
        Train = "train",
        Bicycle = "bicycle",
        Scooter = "scooter",
        Van = "van",
        Truck = "truck",
        Other = "other",
    }
}

stored! {
    /// A registered vehicle.
    pub struct Vehicle {
        /// `SHA-256(len(tag) ‖ "urbis/mobility-vin/v1" ‖ salt ‖ VIN)`: the salt stays with the
        /// operator (a public fleet may publish it; a private car's VIN stays unlinkable).
        pub id: Hash,
        /// A small number for anchors (they list vehicles by number).
        pub number: u32,
        pub operator: Address,
        pub class: VehicleClass,
        /// The on-board unit's DID (a device DID in the identity module).
        pub unit_did: String,
        /// The unit's Ed25519 key, a verification method of that DID: it signs telemetry.
        pub unit_key: PublicKey,
        pub registered_ms: u64,
        /// Telemetry is anchored up to here (0: never).
        pub anchored_until_ms: u64,
        /// Anchoring gaps flagged so far.
        pub gaps: u32,
        pub retired_ms: Option<u64>,
    }
}

stored! {
    /// One anchor: a Merkle root over signed telemetry batches of an operator's vehicles.
    pub struct Anchor {
        pub operator: Address,
        pub seq: u64,
        pub root: Hash,
        /// How many batches (leaves) are under the root.
        pub batches: u32,
        /// The time span the batches cover (every listed vehicle, the whole span).
        pub from_ms: u64,
        pub to_ms: u64,
        /// How many vehicles, and `SHA-256(len(tag) ‖ "urbis/mobility-anchor-vehicles/v1" ‖
        /// numbers as u32 LE)` of their numbers.
        pub vehicles: u32,
        pub vehicles_hash: Hash,
        pub height: u64,
        pub anchored_ms: u64,
    }
}

stored! {
    /// A gap in a vehicle's anchoring: no anchored telemetry between `from_ms` and `to_ms`.
    pub struct Gap {
        pub vehicle: Hash,
        pub from_ms: u64,
        pub to_ms: u64,
        /// The anchor that revealed it.
        pub operator: Address,
        pub seq: u64,
    }
}

call_type! {
    /// Ride-sharing rules, set by the mobility authority.
    pub struct RideRules {
        /// The asset fares are paid in (assets module).
        pub asset: String,
        /// The credential type a driver's licence has (issuers accredited for it in the
        /// identity module), e.g. `urbis:driving-licence`.
        pub licence_vct: String,
        /// A request the driver has not accepted within this long is refunded.
        pub accept_timeout_ms: u64,
        /// An accepted ride not picked up this long after its offer's departure window ends is
        /// refunded.
        pub pickup_timeout_ms: u64,
        /// The driver may complete a picked-up ride alone this long after pickup.
        pub completion_timeout_ms: u64,
        /// A passenger may cancel an accepted ride for free within this long of acceptance…
        pub free_cancel_ms: u64,
        /// …and afterwards pays this share of the fare to the driver (parts per 10 000).
        pub cancel_fee_bps: u32,
    }
}

stored! {
    /// A driver's licence, as the mobility authority registered it after checking the
    /// driver's licence credential: the credential's issuer and status entry, checked on
    /// chain at every offer and acceptance.
    pub struct Driver {
        pub account: Address,
        pub issuer: String,
        pub status_list: u64,
        pub status_idx: u64,
        pub valid_until_ms: u64,
        pub registered_ms: u64,
    }
}

stored! {
    /// A driver's or a passenger's record, public: what others see before riding with them.
    #[derive(Default)]
    pub struct Reputation {
        pub completed: u64,
        pub rating_sum: u64,
        pub ratings: u64,
        /// Rides this party cancelled after acceptance.
        pub cancelled: u64,
        /// Accepted rides that timed out without a pickup (a driver's no-show, or a passenger's).
        pub expired: u64,
        pub disputes: u64,
    }
}

stored! {
    /// A driver's offer.
    pub struct Offer {
        pub id: u64,
        pub driver: Address,
        /// A coarse area (a district code), never an address.
        pub zone: String,
        pub depart_from_ms: u64,
        pub depart_until_ms: u64,
        pub seats: u8,
        pub seats_taken: u8,
        /// Per passenger, in the rules' asset.
        pub fare: u64,
        pub withdrawn: bool,
    }
}

urbis_runtime::named_enum! {
    /// Where a ride stands (never reorder, only append).
    pub enum RideState("ride state") {
        Requested = "requested",
        Accepted = "accepted",
        PickedUp = "picked_up",
        Completed = "completed",
        Cancelled = "cancelled",
        Expired = "expired",
        Disputed = "disputed",
        Resolved = "resolved",
    }
}

stored! {
    /// A ride: a passenger's request on an offer, its escrow and its progress.
    pub struct Ride {
        pub id: u64,
        pub offer: u64,
        pub driver: Address,
        pub passenger: Address,
        pub fare: u64,
        /// The escrow (an assets hold owned by this module).
        pub hold: Hash,
        /// The passenger's pickup key: it signs the pickup code.
        pub pickup_key: PublicKey,
        /// A salted commitment to the pickup place (the place itself stays off chain).
        pub pickup_commitment: Hash,
        pub state: RideState,
        pub requested_ms: u64,
        pub accepted_ms: Option<u64>,
        pub picked_up_ms: Option<u64>,
        pub driver_completed: bool,
        pub passenger_completed: bool,
        pub ended_ms: Option<u64>,
        /// What the driver got (fare, cancellation fee or a dispute's award).
        pub paid_driver: u64,
        pub refunded: u64,
        pub driver_rated: Option<u8>,
        pub passenger_rated: Option<u8>,
        pub dispute_reason: Option<Hash>,
    }
}

call_type! {
    /// A time-of-day band: journeys starting in `[from_min, to_min)` local minutes cost
    /// `percent` of the base fare.
    pub struct Band {
        pub from_min: u16,
        pub to_min: u16,
        pub percent: u16,
    }
}

call_type! {
    /// The transit fare rules, data set by the mobility authority.
    pub struct Fares {
        /// The asset cards hold and fares are paid in.
        pub asset: String,
        /// `zone_fares[n-1]`: the base fare of a journey through `n` zones (the last entry for
        /// more); 1 to 32 entries.
        pub zone_fares: Vec<u64>,
        /// Time-of-day bands (local time, at tap-in); outside every band, 100%.
        pub bands: Vec<Band>,
        /// Local time = UTC + this many minutes (days, caps and bands use local time).
        pub utc_offset_min: i16,
        /// Most a card pays in a local day, and in a calendar month.
        pub daily_cap: u64,
        pub monthly_cap: u64,
        /// A journey with no tap-out (by the end of its day, or before the card's next tap-in
        /// after `max_journey_ms`) is charged this, within the caps.
        pub missing_tap_out_fare: u64,
        /// Longest journey: a tap-in older than this no longer blocks a new one.
        pub max_journey_ms: u64,
        /// A tap reaches the chain at most this long after it happened (validators on a bus may
        /// be offline for a while); older taps are refused as stale.
        pub max_tap_delay_ms: u64,
        /// Transit rewards, if any.
        pub reward: Option<TransitReward>,
    }
}

call_type! {
    /// Eco tokens for riding: `tokens` for every `journeys` journeys in a calendar month.
    pub struct TransitReward {
        /// The rewards program (the mobility module must be one of its awarders).
        pub program: u64,
        pub journeys: u32,
        pub tokens: u64,
    }
}

stored! {
    /// A fare zone and the operator that serves it.
    pub struct Zone {
        pub id: u16,
        pub name: String,
        pub operator: Address,
    }
}

stored! {
    /// A certified station validator (a gate, a bus's reader).
    pub struct Validator {
        /// The device's account: it signs its taps' transactions.
        pub device: Address,
        pub operator: Address,
        pub stop: u32,
        pub line: u32,
        pub zone: u16,
        pub registered_ms: u64,
        pub revoked_ms: Option<u64>,
    }
}

stored! {
    /// A pseudonymous transit card (its key is its only name on chain).
    pub struct Card {
        pub key: PublicKey,
        /// Prepaid credit, in the fares' asset. A tap-in needs at least the missing tap-out
        /// fare; a journey never takes more than the card holds.
        pub balance: u64,
        pub created_ms: u64,
        /// The local day of `day_spent`, and the calendar month (`yyyymm`) of the month's
        /// counters.
        pub day: u64,
        pub day_spent: u64,
        pub month: u32,
        pub month_spent: u64,
        pub month_journeys: u32,
        pub journeys: u64,
        /// Where transit rewards go (set by the card's holder; absent: none are earned).
        pub reward_to: Option<Address>,
    }
}

urbis_runtime::named_enum! {
    /// Tap in or tap out (never reorder, only append).
    pub enum TapKind("tap kind") {
        In = "in",
        Out = "out",
    }
}

stored! {
    /// A card's open journey.
    pub struct OpenJourney {
        pub card: PublicKey,
        pub device: Address,
        pub stop: u32,
        pub line: u32,
        pub zone: u16,
        pub t_ms: u64,
        pub day: u64,
    }
}

stored! {
    /// A priced journey (the last one of each card; journeys are also in the event index).
    pub struct Journey {
        pub from_stop: u32,
        pub to_stop: Option<u32>,
        pub zones: u16,
        pub in_ms: u64,
        pub out_ms: Option<u64>,
        pub fare: u64,
        pub charged: u64,
    }
}

stored! {
    /// Taps at a stop or on a line in one local hour.
    #[derive(Default)]
    pub struct Usage {
        pub tap_ins: u64,
        pub tap_outs: u64,
    }
}

stored! {
    /// An operator's share of a day's fares.
    pub struct OperatorShare {
        pub operator: Address,
        /// Zone-journeys it served (a journey through 3 zones counts once per zone).
        pub zones: u64,
        pub revenue: u64,
    }
}

stored! {
    /// A local day of transit: running totals while it runs, its clearing once done.
    #[derive(Default)]
    pub struct Day {
        pub day: u64,
        pub journeys: u64,
        pub missing_tap_outs: u64,
        /// Fares charged.
        pub revenue: u64,
        pub shares: Vec<OperatorShare>,
        /// Set by the clearing: every operator was paid its share.
        pub cleared_ms: Option<u64>,
    }
}
