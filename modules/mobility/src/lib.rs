//! Mobility (`"mobility"`): vehicles whose on-board units sign their telemetry, anchored by
//! their operators under Merkle roots; ride-sharing contracts with the fare in escrow; and
//! public transport with pseudonymous cards, fares as data, daily clearing between operators,
//! usage statistics and transit rewards.
//!
//! # Vehicles and telemetry
//!
//! The mobility authority (any operator) or a transport operator (its own vehicles) registers
//! a vehicle: its id `SHA-256(len(tag) ‖ "urbis/mobility-vin/v1" ‖ salt ‖ VIN)` ([`vin_hash`];
//! the salt stays with the operator), its operator, its class, and its on-board unit: a
//! device DID of the identity module and one of that DID's Ed25519 verification methods,
//! which signs the telemetry. The vehicle gets a small number for anchors.
//!
//! The unit signs batches of position fixes (e.g. one a minute; the bytes are in
//! [`telemetry`]). Positions stay with the operator. The operator anchors one Merkle root
//! over many batches in one `anchor` call, naming the time span and the vehicles (by
//! number) whose telemetry for that span is under the root. Each vehicle's anchored span is
//! extended; an anchor that starts more than `gap_tolerance_ms` after the vehicle's last
//! anchored time flags a **gap** (`mobility/gap/…`, event `gap`), so silence shows on the
//! ledger. A position proof ([`telemetry::BatchInclusion`] plus proofs of the vehicle and the
//! anchor in certified state) verifies offline: `urbis mobility prove-position`.
//!
//! # Ride-sharing
//!
//! The authority registers a driver after checking their licence credential (an SD-JWT VC of
//! the rules' `licence_vct`): the credential's issuer, status list and index. Every offer and
//! acceptance checks, on chain, that the issuer is still accredited for that type, the status
//! entry is 0 (valid) and the licence has not expired. A ride:
//!
//! ```text
//! requested ──accept (driver)──▶ accepted ──pickup (driver, passenger's code)──▶ picked_up
//!     │                           │    │                                            │
//!     │ cancel / accept timeout   │    │ pickup timeout                              │ complete (both,
//!     ▼ (refund)                  │    ▼ (refund)                                    ▼  or the driver
//! cancelled / expired ◀──cancel───┘  expired                                     completed  after the
//!                                                                                           completion timeout)
//! accepted | picked_up ──dispute (either)──▶ disputed ──resolve (authority)──▶ resolved
//! ```
//!
//! The passenger's request holds the fare in escrow (an assets hold owned by this module). The
//! pickup code is the passenger's pickup key's signature over `len(tag) ‖
//! "urbis/ride-pickup/v1" ‖ ride id (u64 LE) ‖ driver address (20)` ([`pickup_message`]),
//! shown to the driver (a QR code), who submits it. Completion pays the fare to the driver.
//! A passenger's cancellation of an accepted ride after `free_cancel_ms` pays
//! `⌊fare·cancel_fee_bps/10 000⌋` to the driver; any other cancellation refunds in full.
//! Timeouts are scheduler jobs. Each side rates the other once per completed ride (1–5);
//! reputations (`reputation/<driver>`, `rider/<passenger>`) are public.
//!
//! # Public transport
//!
//! A card is a key the holder keeps (a smart card, a phone): anyone tops it up (`top_up`, the
//! payer's funds go to the module's account); nothing on chain links it to a citizen unless
//! the holder links a rewards account. Certified station validators (registered by their
//! transport operator, with a stop, a line and a fare zone) send taps in transactions they
//! sign; the card signs `len(tag) ‖ "urbis/transit-tap/v1" ‖ card key (32) ‖ validator
//! address (20) ‖ kind (0 in, 1 out) ‖ t_ms (u64 LE)` ([`tap_message`]), checked in
//! execution. A tap-out prices the journey ([`fares`]): the base fare
//! of the zones between its ends, times the time-of-day band at tap-in, within the daily and
//! monthly caps; split between the zones' operators by zone count (the remainder to the
//! entry zone's). A journey with no tap-out is charged `missing_tap_out_fare` at the end of
//! its local day, or at the card's next tap-in once `max_journey_ms` has passed. The day's
//! clearing (a scheduler job once the day's last taps can no longer arrive: its end plus
//! `max_tap_delay_ms`) pays every operator its share from the
//! module's account and stores the day's totals. Usage counts per stop and line and local
//! hour are stored state (provable). With transit rewards configured, every
//! `journeys`-th journey of a card in a calendar month awards `tokens` to the card's linked
//! account (a citizen; [`link_message`], signed by the card).
//!
//! # State
//!
//! | key | value (borsh) |
//! |---|---|
//! | `mobility/config` | [`Config`] |
//! | `mobility/vehicle/<id hex>` | [`Vehicle`] |
//! | `mobility/number/<n:010>` | vehicle id |
//! | `mobility/unit/<key hex>` | vehicle id: a unit key registers once |
//! | `mobility/next_number` | `u32` |
//! | `mobility/anchor/<operator>/<seq:012>` | [`Anchor`] |
//! | `mobility/next_anchor/<operator>` | `u64` |
//! | `mobility/gap/<vehicle hex>/<from_ms:013>` | [`Gap`] |
//! | `mobility/driver/<address>` | [`Driver`] |
//! | `mobility/reputation/<address>` / `mobility/rider/<address>` | [`Reputation`] as driver / as passenger |
//! | `mobility/offer/<id:012>`, `mobility/next_offer` | [`Offer`], `u64` |
//! | `mobility/ride/<id:012>`, `mobility/next_ride` | [`Ride`], `u64` |
//! | `mobility/fares` | [`Fares`] |
//! | `mobility/zone/<id:05>` | [`Zone`] |
//! | `mobility/validator/<address>` | [`Validator`] |
//! | `mobility/card/<key hex>` | [`Card`] |
//! | `mobility/open/<card hex>` | [`OpenJourney`] |
//! | `mobility/open_day/<day:06>/<card hex>` | `()`: the day's open journeys (for its clearing) |
//! | `mobility/journey/<card hex>` | [`Journey`]: the card's last journey |
//! | `mobility/stop_usage/<stop:010>/<day:06>/<hour:02>` | [`Usage`] |
//! | `mobility/line_usage/<line:010>/<day:06>/<hour:02>` | [`Usage`] |
//! | `mobility/day/<day:06>` | [`Day`] |
//!
//! Days are local days since 1970-01-01 ([`fares::local_day`]).
//!
//! # Calls ([`MobilityCall`])
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `configure {rides, gap_tolerance_ms}` | mobility authority | `unauthorized`, `invalid_argument`, `not_found` (asset) |
//! | `register_vehicle {vehicle, operator, class, unit_did, unit_key}` | mobility authority, or a transport operator for itself | `unauthorized`, `invalid_argument` (operator not a transport operator, malformed DID), `not_found` (DID), `invalid_argument` (not a live device DID, key not its Ed25519 method), `already_exists` (vehicle or unit key) |
//! | `retire_vehicle {vehicle}` | the authority or the vehicle's operator | `not_found`, `unauthorized`, `invalid_state` (retired) |
//! | `anchor {root, batches, from_ms, to_ms, vehicles}` | transport operator | `unauthorized`, `invalid_argument` (1–10 000 vehicles ascending, span, batches ≥ vehicles… ), `not_yet_valid` (span ends after block time), `not_found` (a vehicle number), `unauthorized` (a vehicle of another operator), `invalid_state` (retired) |
//! | `register_driver {driver, issuer, status_list, status_idx, valid_until_ms}` | mobility authority | `unauthorized`, `invalid_state` (not configured), `invalid_argument`, `not_found` (status list), `unauthorized` (issuer not accredited), `revoked` (status not valid) |
//! | `offer {zone, depart_from_ms, depart_until_ms, seats, fare}` | a registered driver | `invalid_state` (not configured), `unauthorized` (no licence), `revoked`/`expired` (licence), `invalid_argument` |
//! | `withdraw_offer {offer}` | its driver | `not_found`, `unauthorized`, `invalid_state` |
//! | `request {offer, pickup_key, pickup_commitment}` | a passenger | `invalid_state` (not configured), `not_found`, `invalid_argument` (own offer), `invalid_state` (withdrawn, full, departed), `insufficient_balance` |
//! | `accept {ride}` | the driver | `not_found`, `unauthorized`, `invalid_state` (not requested: a ride is accepted once), `revoked`/`expired` (licence), `invalid_state` (offer full) |
//! | `pickup {ride, code}` | the driver | `not_found`, `unauthorized`, `invalid_state`, `bad_signature` |
//! | `complete {ride}` | the driver or the passenger | `not_found`, `unauthorized` (a third party), `invalid_state` (not picked up; already confirmed), `not_yet_valid` (the driver alone before the completion timeout) |
//! | `cancel {ride}` | the driver or the passenger | `not_found`, `unauthorized`, `invalid_state` |
//! | `dispute {ride, reason_hash}` | the driver or the passenger | `not_found`, `unauthorized`, `invalid_state` |
//! | `resolve {ride, to_driver, reason_hash}` | mobility authority | `unauthorized`, `not_found`, `invalid_state`, `invalid_argument` (more than the fare) |
//! | `rate {ride, stars}` | the driver or the passenger | `invalid_argument` (1–5), `not_found`, `unauthorized`, `invalid_state` (not completed), `already_exists` (rated) |
//! | `set_fares {fares}` | mobility authority | `unauthorized`, `invalid_argument`, `not_found` (asset) |
//! | `set_zone {zone, name, operator}` | mobility authority | `unauthorized`, `invalid_argument` (operator not a transport operator) |
//! | `register_validator {device, stop, line, zone}` | transport operator | `unauthorized`, `invalid_argument`, `not_found` (zone), `already_exists` |
//! | `revoke_validator {device}` | its operator or the authority | `not_found`, `unauthorized`, `revoked` |
//! | `top_up {card, amount}` | anyone with a role | `invalid_state` (no fares), `invalid_argument`, `insufficient_balance` |
//! | `link_rewards {card, to, signature}` | anyone with a role (the card signs) | `not_found`, `bad_signature` |
//! | `tap {card, kind, t_ms, signature}` | a registered station validator | `unauthorized` (not a validator), `revoked`, `invalid_state` (no fares), `expired` (stale), `not_yet_valid` (future), `bad_signature`, `not_found` (card), `expired` (its day is cleared), `insufficient_balance` (tap-in below the missing tap-out fare), `invalid_state` (double tap-in; tap-out without tap-in; tap-out before the tap-in) |
//!
//! Events: `configured`, `vehicle_registered {vehicle, operator, number}`, `vehicle_retired
//! {vehicle}`, `anchored {operator, seq, root, from_ms, to_ms, vehicles}`, `gap {vehicle,
//! from_ms, to_ms}`, `driver_registered {driver}`, `offered {offer, driver, zone}`,
//! `offer_withdrawn {offer}`, `ride {ride, offer, state}` at every transition, `rated {ride,
//! by, stars}`, `fares_set`, `zone_set {zone, operator}`, `validator_registered {device,
//! operator, stop, zone}`, `validator_revoked {device}`, `topped_up {card, amount}`,
//! `rewards_linked {card}`, `tap {card, kind, stop, line}`, `journey {card, from_stop,
//! to_stop, zones, fare, charged}`, `transit_reward {card, tokens}`, `day_cleared {day,
//! journeys, revenue}`.
//!
//! Queries: `config`, `vehicle/<id>`, `number/<n>`, `anchor/<operator>/<seq>`,
//! `driver/<address>`, `reputation/<address>`, `rider/<address>`, `offer/<id>`, `ride/<id>`,
//! `fares`, `zone/<id>`, `validator/<address>`, `card/<key>`, `open/<card>`,
//! `journey/<card>`, `stop_usage/<stop>/<day>/<hour>`, `line_usage/<line>/<day>/<hour>`,
//! `day/<day>`; lists `vehicles`, `anchors/<operator>`, `gaps/<vehicle>`, `offers`, `rides`,
//! `zones`, `validators`, `days`, `stop_day/<stop>/<day>` and `line_day/<line>/<day>` (the
//! hours of a day).
//!
//! # Privacy
//!
//! No position is on chain: only roots. A private car appears under a salted VIN hash. Pickup
//! places are salted commitments; offers name coarse zones. A card is a bare key: its taps,
//! journeys and balance are public under that key (as a ticket's would be to the operator),
//! linked to a person only if the holder links a rewards account or tops it up from their own
//! account (top up at a kiosk or through a bank to avoid that).
//!
//! # Invariants (tested)
//!
//! A ride's escrow is paid out or refunded exactly once; card balances plus unpaid day
//! revenue equal what the module's account holds for transit; a day's operator shares sum to
//! its revenue.

pub mod fares;
mod fleet;
mod rides;
pub mod telemetry;
mod transit;
mod types;

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, Hash, PublicKey, Signature, UrbisError};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, Module, ModuleInfo, StateView, decode_value, view_get};

pub use types::{
    Anchor, Band, Card, Day, Driver, Fares, Gap, Journey, Offer, OpenJourney, OperatorShare,
    Reputation, Ride, RideRules, RideState, TapKind, TransitReward, Usage, Validator, Vehicle,
    VehicleClass, Zone,
};

/// Namespace and module name.
pub const MODULE: &str = "mobility";
/// Domain tags.
pub const VIN_TAG: &[u8] = b"urbis/mobility-vin/v1";
pub const VEHICLES_TAG: &[u8] = b"urbis/mobility-anchor-vehicles/v1";
pub const PICKUP_TAG: &[u8] = b"urbis/ride-pickup/v1";
pub const TAP_TAG: &[u8] = b"urbis/transit-tap/v1";
pub const LINK_TAG: &[u8] = b"urbis/transit-card-link/v1";
/// The pickup commitment: `SHA-256(len(tag) ‖ "urbis/ride-pickup-place/v1" ‖ salt ‖ place)`.
pub const PLACE_TAG: &[u8] = b"urbis/ride-pickup-place/v1";
/// Most vehicles in one anchor.
pub const MAX_ANCHOR_VEHICLES: usize = 10_000;
/// Longest span of one anchor (a day).
pub const MAX_ANCHOR_SPAN_MS: u64 = 86_400_000;
/// The default tolerance before a pause in anchoring is a gap.
pub const DEFAULT_GAP_TOLERANCE_MS: u64 = 120_000;
/// Most seats in an offer.
pub const MAX_SEATS: u8 = 8;
/// An offer's departure window is at most a week ahead and a day long.
pub const MAX_OFFER_AHEAD_MS: u64 = 7 * 86_400_000;
pub const MAX_OFFER_WINDOW_MS: u64 = 86_400_000;
/// A tap's time may run ahead of block time by this much (clock skew).
pub const TAP_SKEW_MS: u64 = 30_000;
/// Most missing tap-outs a day's clearing charges per block (it continues in the next).
pub const CLEARING_CHUNK: usize = 2_000;
/// The day's clearing runs this long after the last tap of the day may still arrive (the
/// day's end plus the fares' `max_tap_delay_ms`).
pub const CLEARING_MARGIN_MS: u64 = 1_000;

/// The module's general settings.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Config {
    pub rides: RideRules,
    pub gap_tolerance_ms: u64,
}

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::{Address, Hash, PublicKey};
    use urbis_runtime::kit;

    pub fn card_hex(card: &PublicKey) -> String {
        hex(card.raw())
    }
    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
    pub fn config() -> Vec<u8> {
        kit::key(MODULE, &[&"config"])
    }
    pub fn vehicle(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"vehicle", &id.to_hex()])
    }
    pub fn vehicles() -> Vec<u8> {
        kit::prefix(MODULE, &[&"vehicle"])
    }
    pub fn number(n: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"number", &format!("{n:010}")])
    }
    pub fn unit(key: &PublicKey) -> Vec<u8> {
        kit::key(MODULE, &[&"unit", &card_hex(key)])
    }
    pub fn next_number() -> Vec<u8> {
        kit::key(MODULE, &[&"next_number"])
    }
    pub fn anchor(operator: &Address, seq: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"anchor", operator, &format!("{seq:012}")])
    }
    pub fn anchors(operator: &Address) -> Vec<u8> {
        kit::prefix(MODULE, &[&"anchor", operator])
    }
    pub fn next_anchor(operator: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"next_anchor", operator])
    }
    pub fn gap(vehicle: &Hash, from_ms: u64) -> Vec<u8> {
        kit::key(
            MODULE,
            &[&"gap", &vehicle.to_hex(), &format!("{from_ms:013}")],
        )
    }
    pub fn gaps(vehicle: &Hash) -> Vec<u8> {
        kit::prefix(MODULE, &[&"gap", &vehicle.to_hex()])
    }
    pub fn driver(a: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"driver", a])
    }
    pub fn reputation(a: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"reputation", a])
    }
    pub fn rider(a: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"rider", a])
    }
    pub fn offer(id: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"offer", &format!("{id:012}")])
    }
    pub fn offers() -> Vec<u8> {
        kit::prefix(MODULE, &[&"offer"])
    }
    pub fn next_offer() -> Vec<u8> {
        kit::key(MODULE, &[&"next_offer"])
    }
    pub fn ride(id: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"ride", &format!("{id:012}")])
    }
    pub fn rides() -> Vec<u8> {
        kit::prefix(MODULE, &[&"ride"])
    }
    pub fn next_ride() -> Vec<u8> {
        kit::key(MODULE, &[&"next_ride"])
    }
    pub fn fares() -> Vec<u8> {
        kit::key(MODULE, &[&"fares"])
    }
    pub fn zone(id: u16) -> Vec<u8> {
        kit::key(MODULE, &[&"zone", &format!("{id:05}")])
    }
    pub fn zones() -> Vec<u8> {
        kit::prefix(MODULE, &[&"zone"])
    }
    pub fn validator(device: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"validator", device])
    }
    pub fn validators() -> Vec<u8> {
        kit::prefix(MODULE, &[&"validator"])
    }
    pub fn card(card: &PublicKey) -> Vec<u8> {
        kit::key(MODULE, &[&"card", &card_hex(card)])
    }
    pub fn open(card: &PublicKey) -> Vec<u8> {
        kit::key(MODULE, &[&"open", &card_hex(card)])
    }
    pub fn open_day(day: u64, card: &PublicKey) -> Vec<u8> {
        kit::key(
            MODULE,
            &[&"open_day", &format!("{day:06}"), &card_hex(card)],
        )
    }
    pub fn open_days(day: u64) -> Vec<u8> {
        kit::prefix(MODULE, &[&"open_day", &format!("{day:06}")])
    }
    pub fn journey(card: &PublicKey) -> Vec<u8> {
        kit::key(MODULE, &[&"journey", &card_hex(card)])
    }
    pub fn stop_usage(stop: u32, day: u64, hour: u8) -> Vec<u8> {
        kit::key(
            MODULE,
            &[
                &"stop_usage",
                &format!("{stop:010}"),
                &format!("{day:06}"),
                &format!("{hour:02}"),
            ],
        )
    }
    pub fn stop_day(stop: u32, day: u64) -> Vec<u8> {
        kit::prefix(
            MODULE,
            &[&"stop_usage", &format!("{stop:010}"), &format!("{day:06}")],
        )
    }
    pub fn line_usage(line: u32, day: u64, hour: u8) -> Vec<u8> {
        kit::key(
            MODULE,
            &[
                &"line_usage",
                &format!("{line:010}"),
                &format!("{day:06}"),
                &format!("{hour:02}"),
            ],
        )
    }
    pub fn line_day(line: u32, day: u64) -> Vec<u8> {
        kit::prefix(
            MODULE,
            &[&"line_usage", &format!("{line:010}"), &format!("{day:06}")],
        )
    }
    pub fn day(day: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"day", &format!("{day:06}")])
    }
    pub fn days() -> Vec<u8> {
        kit::prefix(MODULE, &[&"day"])
    }
}

/// A vehicle's id from its VIN and the operator's salt.
pub fn vin_hash(salt: &[u8; 32], vin: &str) -> Hash {
    urbis_core::sha256_domain(VIN_TAG, &[salt, vin.trim().to_ascii_uppercase().as_bytes()])
}

/// The bytes a passenger's pickup key signs: the pickup code of `ride` for `driver`.
pub fn pickup_message(ride: u64, driver: &Address) -> Vec<u8> {
    let mut m = ride.to_le_bytes().to_vec();
    m.extend_from_slice(&driver.0);
    m
}

/// The bytes a card signs for a tap at `validator`.
pub fn tap_message(card: &PublicKey, validator: &Address, kind: TapKind, t_ms: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(61);
    m.extend_from_slice(card.raw());
    m.extend_from_slice(&validator.0);
    m.push(match kind {
        TapKind::In => 0,
        TapKind::Out => 1,
    });
    m.extend_from_slice(&t_ms.to_le_bytes());
    m
}

/// The bytes a card signs to send its transit rewards to `to`.
pub fn link_message(card: &PublicKey, to: &Address) -> Vec<u8> {
    let mut m = card.raw().to_vec();
    m.extend_from_slice(&to.0);
    m
}

/// A call to the mobility module (borsh in transactions; never reorder, only append).
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
pub enum MobilityCall {
    Configure {
        rides: RideRules,
        gap_tolerance_ms: u64,
    },
    RegisterVehicle {
        vehicle: Hash,
        operator: Address,
        class: VehicleClass,
        unit_did: String,
        unit_key: PublicKey,
    },
    RetireVehicle {
        vehicle: Hash,
    },
    Anchor {
        root: Hash,
        batches: u32,
        from_ms: u64,
        to_ms: u64,
        vehicles: Vec<u32>,
    },
    RegisterDriver {
        driver: Address,
        issuer: String,
        status_list: u64,
        status_idx: u64,
        valid_until_ms: u64,
    },
    Offer {
        zone: String,
        depart_from_ms: u64,
        depart_until_ms: u64,
        seats: u8,
        fare: u64,
    },
    WithdrawOffer {
        offer: u64,
    },
    Request {
        offer: u64,
        pickup_key: PublicKey,
        pickup_commitment: Hash,
    },
    Accept {
        ride: u64,
    },
    Pickup {
        ride: u64,
        code: Signature,
    },
    Complete {
        ride: u64,
    },
    Cancel {
        ride: u64,
    },
    Dispute {
        ride: u64,
        reason_hash: Hash,
    },
    Resolve {
        ride: u64,
        to_driver: u64,
        reason_hash: Hash,
    },
    Rate {
        ride: u64,
        stars: u8,
    },
    SetFares {
        fares: Fares,
    },
    SetZone {
        zone: u16,
        name: String,
        operator: Address,
    },
    RegisterValidator {
        device: Address,
        stop: u32,
        line: u32,
        zone: u16,
    },
    RevokeValidator {
        device: Address,
    },
    TopUp {
        card: PublicKey,
        amount: u64,
    },
    LinkRewards {
        card: PublicKey,
        to: Address,
        signature: Signature,
    },
    Tap {
        card: PublicKey,
        kind: TapKind,
        t_ms: u64,
        signature: Signature,
    },
}

use urbis_runtime::{event_info as ev, query_info as q};

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Mobility: vehicles with signed telemetry anchored under Merkle roots, ride-sharing contracts with escrow, pseudonymous transit cards, fares, clearing between operators, usage statistics.",
    queries: &[
        q!(
            "config",
            false,
            "Ride rules and the telemetry gap tolerance."
        ),
        q!(
            "vehicle/<id>",
            false,
            "A vehicle: operator, class, on-board unit, anchored span, gaps."
        ),
        q!(
            "number/<n>",
            false,
            "The vehicle id behind an anchor number."
        ),
        q!(
            "anchor/<operator>/<seq>",
            false,
            "An anchor: Merkle root, span, vehicles."
        ),
        q!("driver/<address>", false, "A driver's licence reference."),
        q!(
            "reputation/<address>",
            false,
            "A driver's completed rides, ratings, cancellations, disputes."
        ),
        q!("rider/<address>", false, "A passenger's record."),
        q!("offer/<id>", false, "A ride offer."),
        q!("ride/<id>", false, "A ride and its escrow."),
        q!("fares", false, "The transit fare rules."),
        q!("zone/<id>", false, "A fare zone and its operator."),
        q!("validator/<address>", false, "A station validator."),
        q!(
            "card/<key>",
            false,
            "A transit card: balance, debt, counters."
        ),
        q!("open/<card>", false, "A card's open journey."),
        q!("journey/<card>", false, "A card's last priced journey."),
        q!(
            "stop_usage/<stop>/<day>/<hour>",
            false,
            "Taps at a stop in a local hour."
        ),
        q!(
            "line_usage/<line>/<day>/<hour>",
            false,
            "Taps on a line in a local hour."
        ),
        q!(
            "day/<day>",
            false,
            "A local day of transit: journeys, revenue, operators' shares, clearing."
        ),
        q!("vehicles", true, "All vehicles."),
        q!("anchors/<operator>", true, "An operator's anchors."),
        q!("gaps/<vehicle>", true, "A vehicle's anchoring gaps."),
        q!("offers", true, "Ride offers."),
        q!("rides", true, "Rides."),
        q!("zones", true, "Fare zones."),
        q!("validators", true, "Station validators."),
        q!("days", true, "Transit days, oldest first."),
        q!("stop_day/<stop>/<day>", true, "A stop's hours in a day."),
        q!("line_day/<line>/<day>", true, "A line's hours in a day."),
    ],
    events: &[
        ev!("configured", [], "The ride rules changed."),
        ev!(
            "vehicle_registered",
            ["vehicle", "operator", "number"],
            "A vehicle was registered."
        ),
        ev!("vehicle_retired", ["vehicle"], "A vehicle was retired."),
        ev!(
            "anchored",
            ["operator", "seq", "root", "from_ms", "to_ms", "vehicles"],
            "Telemetry was anchored."
        ),
        ev!(
            "gap",
            ["vehicle", "from_ms", "to_ms"],
            "A vehicle's telemetry was not anchored for a while."
        ),
        ev!("driver_registered", ["driver"], "A driver was licensed."),
        ev!(
            "offered",
            ["offer", "driver", "zone"],
            "A driver offered a ride."
        ),
        ev!("offer_withdrawn", ["offer"], "An offer was withdrawn."),
        ev!("ride", ["ride", "offer", "state"], "A ride changed state."),
        ev!("rated", ["ride", "by", "stars"], "A ride was rated."),
        ev!("fares_set", [], "The fare rules changed."),
        ev!("zone_set", ["zone", "operator"], "A fare zone was set."),
        ev!(
            "validator_registered",
            ["device", "operator", "stop", "zone"],
            "A station validator was certified."
        ),
        ev!(
            "validator_revoked",
            ["device"],
            "A station validator was revoked."
        ),
        ev!("topped_up", ["card", "amount"], "A card was topped up."),
        ev!(
            "rewards_linked",
            ["card"],
            "A card's holder linked a rewards account."
        ),
        ev!("tap", ["card", "kind", "stop", "line"], "A card tapped."),
        ev!(
            "journey",
            ["card", "from_stop", "to_stop", "zones", "fare", "charged"],
            "A journey was priced."
        ),
        ev!(
            "transit_reward",
            ["card", "tokens"],
            "A card's journeys earned eco tokens."
        ),
        ev!(
            "day_cleared",
            ["day", "journeys", "revenue"],
            "A day's fares were paid to the operators."
        ),
    ],
    exported: &[],
};

/// The mobility module.
pub struct Mobility;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Mobility)
}

pub(crate) fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

pub(crate) fn invalid(msg: impl Into<String>) -> UrbisError {
    err(ErrorCode::InvalidArgument, msg)
}

fn json<T: Serialize>(v: &T) -> Result<serde_json::Value, UrbisError> {
    serde_json::to_value(v).map_err(|e| err(ErrorCode::Internal, e.to_string()))
}

/// The module's account (escrow, prepaid card credit, fares awaiting clearing).
pub fn account() -> Address {
    urbis_assets::module_account(MODULE)
}

/// Job payloads: `[kind] ‖ id (u64 LE)`.
pub(crate) const JOB_ACCEPT_TIMEOUT: u8 = 1;
pub(crate) const JOB_PICKUP_TIMEOUT: u8 = 2;
pub(crate) const JOB_CLEAR_DAY: u8 = 3;

pub(crate) fn job(kind: u8, id: u64) -> Vec<u8> {
    kit::job_payload(kind, id)
}

/// A card key from `ed25519:<hex>` or bare hex.
pub fn parse_card(text: &str) -> Result<PublicKey, UrbisError> {
    let hex = text.strip_prefix("ed25519:").unwrap_or(text);
    let bytes = kit::parse_hash("card key", hex)?;
    Ok(PublicKey::Ed25519(bytes.0))
}

impl Module for Mobility {
    urbis_runtime::json_calls!(MobilityCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        kit::no_genesis(MODULE, config)
    }

    fn weight(&self, data: &[u8]) -> u64 {
        match kit::decode_call::<MobilityCall>(data) {
            Ok(MobilityCall::Anchor { vehicles, .. }) => {
                200_000 + 40_000 * vehicles.len().min(MAX_ANCHOR_VEHICLES) as u64
            }
            Ok(MobilityCall::Tap { .. }) => 400_000,
            _ => 300_000,
        }
    }

    /// A day's clearing charges up to [`CLEARING_CHUNK`] missing tap-outs and pays every
    /// operator.
    fn job_weight(&self, payload: &[u8]) -> u64 {
        match payload.first() {
            Some(&JOB_CLEAR_DAY) => 400_000_000,
            _ => weight_job_default(),
        }
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        let call: MobilityCall = kit::decode_call(data)?;
        match call {
            MobilityCall::Configure { .. }
            | MobilityCall::RegisterVehicle { .. }
            | MobilityCall::RetireVehicle { .. }
            | MobilityCall::Anchor { .. } => fleet::execute(ctx, call),
            MobilityCall::SetFares { .. }
            | MobilityCall::SetZone { .. }
            | MobilityCall::RegisterValidator { .. }
            | MobilityCall::RevokeValidator { .. }
            | MobilityCall::TopUp { .. }
            | MobilityCall::LinkRewards { .. }
            | MobilityCall::Tap { .. } => transit::execute(ctx, call),
            _ => rides::execute(ctx, call),
        }
    }

    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        let (kind, id) = kit::parse_job(MODULE, payload)?;
        match kind {
            JOB_ACCEPT_TIMEOUT => rides::timeout(ctx, id, RideState::Requested),
            JOB_PICKUP_TIMEOUT => rides::timeout(ctx, id, RideState::Accepted),
            JOB_CLEAR_DAY => transit::clear_day(ctx, id),
            _ => Err(err(ErrorCode::Internal, "unknown mobility job")),
        }
    }

    /// A certified station validator sending its taps.
    fn vouches(
        &self,
        view: &dyn StateView,
        sender: &Address,
        data: &[u8],
    ) -> Result<bool, UrbisError> {
        let Ok(MobilityCall::Tap { .. }) = kit::decode_call::<MobilityCall>(data) else {
            return Ok(false);
        };
        Ok(view_get::<Validator>(view, &keys::validator(sender))?
            .is_some_and(|v| v.revoked_ms.is_none()))
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        let addr = kit::parse_address;
        let num = |what: &str, s: &str| kit::parse_u64(what, s);
        let small = |what: &str, s: &str, max: u64| -> Result<u64, UrbisError> {
            let n = num(what, s)?;
            if n > max {
                return Err(invalid(format!("{what} is at most {max}")));
            }
            Ok(n)
        };
        match path {
            ["config"] => Ok(keys::config()),
            ["vehicle", v] => Ok(keys::vehicle(&kit::parse_hash("vehicle id", v)?)),
            ["number", n] => Ok(keys::number(small("number", n, u64::from(u32::MAX))? as u32)),
            ["anchor", o, s] => Ok(keys::anchor(&addr(o)?, num("anchor", s)?)),
            ["driver", a] => Ok(keys::driver(&addr(a)?)),
            ["reputation", a] => Ok(keys::reputation(&addr(a)?)),
            ["rider", a] => Ok(keys::rider(&addr(a)?)),
            ["offer", o] => Ok(keys::offer(num("offer", o)?)),
            ["ride", r] => Ok(keys::ride(num("ride", r)?)),
            ["fares"] => Ok(keys::fares()),
            ["zone", z] => Ok(keys::zone(small("zone", z, u64::from(u16::MAX))? as u16)),
            ["validator", a] => Ok(keys::validator(&addr(a)?)),
            ["card", c] => Ok(keys::card(&parse_card(c)?)),
            ["open", c] => Ok(keys::open(&parse_card(c)?)),
            ["journey", c] => Ok(keys::journey(&parse_card(c)?)),
            ["stop_usage", s, d, h] => Ok(keys::stop_usage(
                small("stop", s, u64::from(u32::MAX))? as u32,
                num("day", d)?,
                small("hour", h, 23)? as u8,
            )),
            ["line_usage", l, d, h] => Ok(keys::line_usage(
                small("line", l, u64::from(u32::MAX))? as u32,
                num("day", d)?,
                small("hour", h, 23)? as u8,
            )),
            ["day", d] => Ok(keys::day(num("day", d)?)),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        let Some(b) = value else {
            return Ok(serde_json::Value::Null);
        };
        render_value(path.first().copied().unwrap_or_default(), &key, b)
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        let small = |what: &str, s: &str| -> Result<u32, UrbisError> {
            s.parse()
                .map_err(|_| invalid(format!("{what} is a number below 2^32")))
        };
        Ok(match path {
            ["vehicles"] => Some(keys::vehicles()),
            ["anchors", o] => Some(keys::anchors(&kit::parse_address(o)?)),
            ["gaps", v] => Some(keys::gaps(&kit::parse_hash("vehicle id", v)?)),
            ["offers"] => Some(keys::offers()),
            ["rides"] => Some(keys::rides()),
            ["zones"] => Some(keys::zones()),
            ["validators"] => Some(keys::validators()),
            ["days"] => Some(keys::days()),
            ["stop_day", s, d] => {
                Some(keys::stop_day(small("stop", s)?, kit::parse_u64("day", d)?))
            }
            ["line_day", l, d] => {
                Some(keys::line_day(small("line", l)?, kit::parse_u64("day", d)?))
            }
            _ => None,
        })
    }

    fn render_item(
        &self,
        path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        let kind = match path.first().copied().unwrap_or_default() {
            "vehicles" => "vehicle",
            "anchors" => "anchor",
            "gaps" => "gap",
            "offers" => "offer",
            "rides" => "ride",
            "zones" => "zone",
            "validators" => "validator",
            "days" => "day",
            "stop_day" | "line_day" => {
                let u = json(&decode_value::<Usage>(key, value)?)?;
                let text = String::from_utf8_lossy(key);
                let hour: u64 = text.rsplit('/').next().unwrap_or("0").parse().unwrap_or(0);
                return Ok(serde_json::json!({ "hour": hour, "usage": u }));
            }
            _ => return Err(INFO.unknown_path(MODULE, path)),
        };
        render_value(kind, key, value)
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

fn weight_job_default() -> u64 {
    urbis_runtime::weight::JOB
}

fn render_value(kind: &str, key: &[u8], b: &[u8]) -> Result<serde_json::Value, UrbisError> {
    match kind {
        "config" => json(&decode_value::<Config>(key, b)?),
        "vehicle" => json(&decode_value::<Vehicle>(key, b)?),
        "number" => json(&decode_value::<Hash>(key, b)?),
        "anchor" => json(&decode_value::<Anchor>(key, b)?),
        "gap" => json(&decode_value::<Gap>(key, b)?),
        "driver" => json(&decode_value::<Driver>(key, b)?),
        "reputation" | "rider" => {
            let r = decode_value::<Reputation>(key, b)?;
            let mut v = json(&r)?;
            // The average in hundredths of a star (integers only).
            v["average_centistars"] = match r.ratings {
                0 => serde_json::Value::Null,
                n => serde_json::json!(r.rating_sum * 100 / n),
            };
            Ok(v)
        }
        "offer" => json(&decode_value::<Offer>(key, b)?),
        "ride" => json(&decode_value::<Ride>(key, b)?),
        "fares" => json(&decode_value::<Fares>(key, b)?),
        "zone" => json(&decode_value::<Zone>(key, b)?),
        "validator" => json(&decode_value::<Validator>(key, b)?),
        "card" => json(&decode_value::<Card>(key, b)?),
        "open" => json(&decode_value::<OpenJourney>(key, b)?),
        "journey" => json(&decode_value::<Journey>(key, b)?),
        "stop_usage" | "line_usage" => json(&decode_value::<Usage>(key, b)?),
        "day" => json(&decode_value::<Day>(key, b)?),
        _ => Err(err(ErrorCode::Internal, format!("no rendering for {kind}"))),
    }
}

#[cfg(test)]
mod tests;
