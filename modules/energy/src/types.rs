//! Values the energy module stores (borsh) and answers (JSON).

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, Hash, PublicKey};

/// The market's rules, set by the grid operator; each interval keeps the rules in force when
/// its first order came.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Config {
    /// The settlement asset (assets module).
    pub asset: String,
    /// Orders close this long before their interval starts.
    pub gate_closure_ms: u64,
    /// Readings of an interval are taken until this long after it ends; then it settles.
    pub settle_delay_ms: u64,
    /// What a seller pays per kWh it sold but did not deliver (units per kWh).
    pub imbalance_price: u64,
    /// What a buyer is credited per kWh it bought but did not take.
    pub feed_in_price: u64,
    /// The utility's tariff, for what does not clear (billed off chain, recorded per clearing).
    pub tariff_price: u64,
    /// Energy-saving rewards, if any.
    pub reward: Option<RewardRule>,
}

/// Eco-rewards for consuming less than one's baseline.
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
pub struct RewardRule {
    /// The rewards program (the energy module must be one of its awarders).
    pub program: u64,
    /// Tokens per kWh saved (rounded down per interval).
    pub per_kwh: u64,
    /// The baseline is the average consumption of the same interval in each of the last
    /// `periods` periods (1 to 12)…
    pub periods: u32,
    /// …of `lag_intervals` intervals each: a week (672) as a rule, a day (96) for a shorter
    /// memory.
    pub lag_intervals: u64,
}

/// A feeder and its limits on the net flow through the substation per interval.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Feeder {
    pub id: u32,
    pub name: String,
    pub max_export_wh: u64,
    pub max_import_wh: u64,
}

/// A certified meter, under its pseudonymous id.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Meter {
    /// `SHA-256(len(tag) ‖ "urbis/energy-meter-id/v1" ‖ salt ‖ serial number)`: only the
    /// operator and the owner know the salt and serial.
    pub id: Hash,
    /// The device's signing key.
    pub key: PublicKey,
    /// The owner's trading account for this meter (a key of its own, not the owner's
    /// everyday account).
    pub account: Address,
    pub feeder: u32,
    /// Watts; an interval's reading and offers are bounded by a quarter of them (Wh).
    pub max_import_w: u64,
    pub max_export_w: u64,
    /// `SHA-256(len(tag) ‖ "urbis/energy-meter-owner/v1" ‖ salt ‖ owner's address)`: lets the
    /// owner prove the meter is theirs by showing the salt, to whom they choose.
    pub owner_commitment: Hash,
    /// The first interval it may report.
    pub first_interval: u64,
    pub registered_ms: u64,
    /// Revoked meters report and trade no more (the reason's hash).
    pub revoked: Option<Hash>,
}

/// One interval's reading (Wh over the 15 minutes, per register).
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
pub struct Value {
    pub import_wh: u64,
    pub export_wh: u64,
}

impl Value {
    /// Net export (export − import, at least 0).
    pub fn delivered(&self) -> u64 {
        self.export_wh.saturating_sub(self.import_wh)
    }
    /// Net consumption (import − export, at least 0).
    pub fn consumed(&self) -> u64 {
        self.import_wh.saturating_sub(self.export_wh)
    }
}

/// A stored reading.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Reading {
    pub value: Value,
    pub at_ms: u64,
    /// Set when the operator corrected it.
    pub correction: Option<Correction>,
}

/// An operator's correction of a reading.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Correction {
    /// What the meter had signed.
    pub original: Value,
    pub reason_hash: Hash,
    pub by: Address,
    pub at_ms: u64,
    /// Whether the interval had already settled (the statement stands; the bill is adjusted
    /// off chain).
    pub after_settlement: bool,
}

/// Buy or sell.
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
#[serde(rename_all = "snake_case")]
pub enum OrderSide {
    Buy,
    Sell,
}

/// An order.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub interval: u64,
    pub meter: Hash,
    pub account: Address,
    pub side: OrderSide,
    pub qty_wh: u64,
    /// Units per kWh.
    pub price: u64,
    /// The escrow: a bid's most cost, an ask's collateral against not delivering.
    pub hold: Hash,
    pub held: u64,
    /// After clearing: Wh filled and the price.
    pub filled_wh: Option<u64>,
    pub clearing_price: Option<u64>,
}

/// Where an interval's market stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Cleared,
    Settled,
}

/// An interval's book: its rules (a snapshot of the config) and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Book {
    pub interval: u64,
    pub status: Status,
    pub config: Config,
    /// Open orders.
    pub orders: u32,
    /// Meters with a trade (after clearing).
    pub participants: u32,
}

/// What one meter offered in an interval (the capacity check).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Offered {
    pub side: OrderSide,
    pub total_wh: u64,
    pub orders: u32,
}

/// One meter's trades in a cleared interval.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Position {
    pub meter: Hash,
    pub account: Address,
    pub side: OrderSide,
    /// Wh bought or sold.
    pub traded_wh: u64,
    /// Its zone's price.
    pub price: u64,
    /// A buyer's payment (rounded up), or a seller's proceeds (rounded down).
    pub amount: u64,
    /// A seller's collateral kept for the traded Wh.
    pub collateral: u64,
}

/// A feeder zone's result.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ZoneResult {
    pub feeder: u32,
    pub price: u64,
    pub bought_wh: u64,
    pub sold_wh: u64,
    pub net_export_wh: i64,
    /// `"export"` or `"import"` when the feeder's limit binds.
    pub binding: Option<String>,
}

/// An interval's clearing.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Clearing {
    pub interval: u64,
    /// The substation's price; `None` when nothing traded.
    pub price: Option<u64>,
    pub volume_wh: u64,
    pub zones: Vec<ZoneResult>,
    /// Offered and not cleared (falls back to the utility tariff).
    pub unmatched_bid_wh: u64,
    pub unmatched_ask_wh: u64,
    pub tariff_price: u64,
    pub orders: u32,
    pub participants: u32,
    /// Buyers' payments minus sellers' proceeds: congestion rent and rounding, to the
    /// balancing fund.
    pub rent: u64,
    pub at_ms: u64,
    /// The block whose end ran the clearing.
    pub height: u64,
}

/// One participant's settlement of an interval.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Statement {
    pub interval: u64,
    pub meter: Hash,
    pub account: Address,
    pub side: OrderSide,
    pub traded_wh: u64,
    pub price: u64,
    /// The reading used (`None`: none came in time).
    pub reading: Option<Value>,
    /// A seller's Wh not delivered / a buyer's Wh not taken.
    pub shortfall_wh: u64,
    pub surplus_wh: u64,
    /// The buyer's payment at clearing, or the seller's proceeds.
    pub market_amount: u64,
    /// What the seller paid for its shortfall at the imbalance price.
    pub imbalance_charge: u64,
    /// What the buyer is credited for unused energy at the feed-in price, and the part the
    /// balancing fund could not pay yet.
    pub feed_in_credit: u64,
    pub feed_in_owed: u64,
    /// Paid to the account at settlement (proceeds + collateral back − charge, or the credit).
    pub paid_out: u64,
    pub at_ms: u64,
}
