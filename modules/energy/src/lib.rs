//! Energy (`"energy"`): certified meters, a peer-to-peer market per 15-minute interval that
//! clears within the grid's feeder limits, settlement against what the meters measured, and
//! eco-rewards for consuming less than one's baseline.
//!
//! # The day of an interval
//!
//! Interval `i` is the quarter hour `[i·900 000, (i+1)·900 000)` ms of block time (UTC); a
//! demo or test chain may set a shorter length at genesis (`{"interval_ms": N}`), and then
//! every duration counted in intervals (two days ahead, a week's lag) shrinks with it.
//! 1. **Orders** (until gate closure, `gate_closure_ms` before the interval starts, at most two
//!    days ahead): a meter's trading account posts bids and asks in Wh at a limit price in
//!    units of the settlement asset per kWh. A bid holds its most cost `⌈qty·price/1000⌉` in
//!    escrow; an ask holds collateral `⌈qty·imbalance_price/1000⌉` against not delivering. A
//!    meter is a buyer or a seller in an interval, never both, and what it offers on a side
//!    never exceeds a quarter hour at its maximum import or export power (no kWh offered
//!    twice).
//! 2. **Clearing** at gate closure (a scheduler job): [`clearing::clear`], a uniform-price
//!    double auction that maximises traded surplus within each feeder's limits (see that
//!    module for the algorithm and its proofs). A buyer pays `⌈filled·price/1000⌉` of its zone's
//!    price into the market's account (the rest of its hold comes back); a seller's collateral
//!    for the filled Wh moves there too (the rest comes back). What does not clear falls back
//!    to the utility's tariff, billed off chain; the clearing records how much that was.
//!    Buyers' payments minus sellers' proceeds (congestion rent between zones, and rounding)
//!    go to the balancing fund.
//! 3. **Readings**: each meter signs its interval values (import and export registers, Wh),
//!    batched (e.g. four per hour); one per meter and interval; accepted until
//!    `settle_delay_ms` after the interval ends. The grid operator may correct one, with the
//!    hash of a written reason; the meter's signed values stay in the record.
//! 4. **Settlement** when every participant's reading is in (`settle`, by anyone) or at the
//!    end of the reading window (a scheduler job). A seller gets its proceeds
//!    `⌊sold·price/1000⌋` and its collateral back, minus its shortfall (sold − net export, when
//!    positive; all of it without a reading) at the imbalance price. A buyer that took less
//!    than it bought (net import below it) is credited the rest at the feed-in price, from the
//!    balancing fund (what the fund cannot pay is recorded as owed). Energy outside the
//!    contracts (a buyer's extra consumption, a seller's extra export) is ordinary retail
//!    business, billed off chain. A statement per participant is stored (provable).
//! 5. **Rewards**: a reading whose net consumption is below the meter's baseline (the average
//!    of the same interval over the last `weeks` weeks, all of which must be on chain) earns
//!    `⌊saved Wh·per_kwh/1000⌋` tokens of the configured rewards program for the meter's
//!    account, up to what the program may still award it (the account must be a citizen and
//!    the energy module an awarder of the program).
//!
//! # Privacy
//!
//! A meter appears only under a pseudonymous id (`SHA-256(len(tag) ‖
//! "urbis/energy-meter-id/v1" ‖ salt ‖ serial)`), with a device key, a trading account made
//! for that meter, and `owner_commitment = SHA-256(len(tag) ‖ "urbis/energy-meter-owner/v1"
//! ‖ salt ‖ owner address)`. The salt stays with the operator and the owner, so only they can
//! link the meter to a household (the owner can prove it by showing the salt). What an
//! observer of the chain **does** learn: each pseudonymous meter's feeder (a street or a
//! neighbourhood, not a household), its rated power, its 15-minute load profile (when it
//! consumes and exports), its orders, trades, statements and rewards, and the payments into
//! and out of its trading account. The trading account links to the household only if the
//! owner funds it from, or pays out to, an account known to be theirs; the owner should fund
//! it through the operator or a bank (the CLI makes a fresh key for each meter).
//!
//! # State
//!
//! | key | value (borsh) |
//! |---|---|
//! | `energy/config` | [`Config`] |
//! | `energy/feeder/<id:010>` | [`Feeder`] |
//! | `energy/meter/<meter id hex>` | [`Meter`] |
//! | `energy/device/<key>` | meter id ([`Hash`]): a device key registers once |
//! | `energy/account/<address>/<meter id hex>` | `()`: a trading account's meters |
//! | `energy/reading/<meter id hex>/<interval:012>` | [`Reading`] |
//! | `energy/book/<interval:012>` | [`Book`] |
//! | `energy/order/<interval:012>/<order id:012>` | [`Order`] |
//! | `energy/offered/<interval:012>/<meter id hex>` | [`Offered`] |
//! | `energy/position/<interval:012>/<meter id hex>` | [`Position`] |
//! | `energy/clearing/<interval:012>` | [`Clearing`] |
//! | `energy/statement/<interval:012>/<meter id hex>` | [`Statement`] |
//! | `energy/balancing/<asset>` | `u64`: the balancing fund |
//! | `energy/next_order` | `u64` |
//! | `energy/interval_ms` | `u64`: the interval length, if genesis set one (default 15 minutes) |
//!
//! The market's funds sit in the assets module under the account
//! `urbis_assets::module_account("energy")`: for every asset, its balance equals the
//! balancing fund plus, for every cleared and unsettled interval, the buyers' payments and the
//! sellers' collateral.
//!
//! # Calls ([`EnergyCall`])
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `configure {asset, gate_closure_ms, settle_delay_ms, imbalance_price, feed_in_price, tariff_price, reward}` | grid operator | `unauthorized`, `invalid_argument`, `not_found` (asset) |
//! | `set_feeder {feeder, name, max_export_wh, max_import_wh}` | grid operator | `unauthorized`, `invalid_argument` |
//! | `register_meter {meter, key, account, feeder, max_import_w, max_export_w, owner_commitment}` | grid operator | `unauthorized`, `invalid_argument`, `not_found` (feeder), `already_exists` (meter id or device key) |
//! | `revoke_meter {meter, reason_hash}` | grid operator | `unauthorized`, `not_found`, `revoked` |
//! | `readings {meter, first_interval, values, signature}` | anyone with a role (the device signs) | `not_found`, `revoked`, `invalid_argument` (1–96 values, over capacity, before registration), `not_yet_valid` (interval not over), `bad_signature`, `expired` (reading window closed), `already_exists` (a reading of that interval) |
//! | `correct {meter, interval, value, reason_hash}` | grid operator | `unauthorized`, `not_found` |
//! | `order {meter, interval, side, qty_wh, price}` | the meter's account | `not_found`, `unauthorized`, `revoked`, `invalid_state` (market not configured), `invalid_argument` (zero or too large, too far ahead), `gate_closed`, `invalid_state` (the meter is on the other side), `invalid_argument` (over capacity: no kWh offered twice; too many orders), `quota_exceeded` (book full), `overflow`, `insufficient_balance` |
//! | `schedule {meter, first_interval, side, quantities, price}` | the meter's account | `invalid_argument` (1–96 quantities, none positive), then each order's failures |
//! | `cancel {interval, order}` | the order's account | `not_found`, `unauthorized`, `gate_closed` |
//! | `settle {interval}` | anyone with a role | `not_found`, `invalid_state` (not cleared, or a participant's reading missing) |
//! | `fund {amount}` / `withdraw {amount}` | grid operator | `unauthorized`, `invalid_argument`, `invalid_state` (not configured), `insufficient_balance` |
//!
//! The device signs `len(tag) ‖ "urbis/energy-reading/v1" ‖ meter id (32 bytes) ‖
//! first_interval (u64 LE) ‖ count (u32 LE) ‖ per value: import_wh (u64 LE) ‖ export_wh (u64
//! LE)` with Ed25519 ([`reading_message`]). Every validator checks the signature at its door
//! and before voting for a block (a precheck); execution checks it again.
//!
//! Events: `configured {asset}`, `feeder_set {feeder}`, `meter_registered {meter, feeder}`,
//! `meter_revoked {meter}`, `readings {meter, first_interval, count}`, `corrected {meter,
//! interval}`, `saving {meter, interval, saved_wh, tokens}`, `ordered {interval, order, meter,
//! side}`, `cancelled {interval, order}`, `cleared {interval, price, volume_wh}`, `settled
//! {interval, participants}`, `funded {asset, amount}`, `withdrawn {asset, amount}`.
//!
//! Queries: `config`, `feeder/<id>`, `meter/<id>`, `reading/<meter>/<interval>`,
//! `book/<interval>`, `order/<interval>/<id>`, `clearing/<interval>`,
//! `position/<interval>/<meter>`, `statement/<interval>/<meter>`, `balancing/<asset>`; lists
//! `feeders`, `meters`, `readings/<meter>`, `orders/<interval>`, `clearings` (prices and
//! volumes over time, for charts), `statements/<interval>`, `account/<address>` (its meters).
//!
//! # Invariants (tested)
//!
//! No trade violates a feeder limit; every trade is at its zone's price; a hold is released
//! or refunded exactly once; the market account's balance is the balancing fund plus what it
//! owes unsettled participants.

pub mod clearing;
mod market;
mod types;

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, Hash, PublicKey, Signature, UrbisError};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, Module, ModuleInfo, StateView, decode_value, view_get};

pub use types::{
    Book, Clearing, Config, Correction, Feeder, Meter, Offered, Order, OrderSide, Position,
    Reading, RewardRule, Statement, Status, Value, ZoneResult,
};

/// Namespace and module name.
pub const MODULE: &str = "energy";
/// An interval: 15 minutes (a chain may set another length at genesis, e.g. a demo or test
/// chain whose day passes in minutes; it never changes afterwards).
pub const INTERVAL_MS: u64 = 900_000;
/// A week of intervals: the default lag of a saving baseline.
pub const WEEK: u64 = 7 * 96;
/// Most values in one `readings` call (a day).
pub const MAX_VALUES: usize = 96;
/// Most orders one meter keeps in one interval.
pub const MAX_ORDERS_PER_METER: u32 = 8;
/// Most orders in one interval (bounds the clearing job).
pub const MAX_ORDERS_PER_INTERVAL: u32 = 20_000;
/// Most feeders.
pub const MAX_FEEDERS: usize = 256;
/// Highest limit price, units per kWh.
pub const MAX_PRICE: u64 = 1_000_000_000;
/// Orders are taken at most this many intervals ahead (two days).
pub const MAX_AHEAD: u64 = 2 * 96;
/// Defaults of the config.
pub const DEFAULT_GATE_CLOSURE_MS: u64 = 300_000;
pub const DEFAULT_SETTLE_DELAY_MS: u64 = 7_200_000;
/// Domain tags.
pub const READING_TAG: &[u8] = b"urbis/energy-reading/v1";
pub const METER_ID_TAG: &[u8] = b"urbis/energy-meter-id/v1";
pub const OWNER_TAG: &[u8] = b"urbis/energy-meter-owner/v1";

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::{Address, Hash, PublicKey};
    use urbis_runtime::kit;

    fn iv(i: u64) -> String {
        format!("{i:012}")
    }
    pub fn config() -> Vec<u8> {
        kit::key(MODULE, &[&"config"])
    }
    pub fn feeder(id: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"feeder", &format!("{id:010}")])
    }
    pub fn feeders() -> Vec<u8> {
        kit::prefix(MODULE, &[&"feeder"])
    }
    pub fn meter(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"meter", &id.to_hex()])
    }
    pub fn meters() -> Vec<u8> {
        kit::prefix(MODULE, &[&"meter"])
    }
    pub fn device(key: &PublicKey) -> Vec<u8> {
        kit::key(MODULE, &[&"device", &key.to_text()])
    }
    pub fn account(addr: &Address, meter: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"account", addr, &meter.to_hex()])
    }
    pub fn account_prefix(addr: &Address) -> Vec<u8> {
        kit::prefix(MODULE, &[&"account", addr])
    }
    pub fn reading(meter: &Hash, interval: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"reading", &meter.to_hex(), &iv(interval)])
    }
    pub fn readings(meter: &Hash) -> Vec<u8> {
        kit::prefix(MODULE, &[&"reading", &meter.to_hex()])
    }
    pub fn book(interval: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"book", &iv(interval)])
    }
    pub fn order(interval: u64, id: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"order", &iv(interval), &format!("{id:012}")])
    }
    pub fn orders(interval: u64) -> Vec<u8> {
        kit::prefix(MODULE, &[&"order", &iv(interval)])
    }
    pub fn offered(interval: u64, meter: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"offered", &iv(interval), &meter.to_hex()])
    }
    pub fn position(interval: u64, meter: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"position", &iv(interval), &meter.to_hex()])
    }
    pub fn positions(interval: u64) -> Vec<u8> {
        kit::prefix(MODULE, &[&"position", &iv(interval)])
    }
    pub fn clearing(interval: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"clearing", &iv(interval)])
    }
    pub fn clearings() -> Vec<u8> {
        kit::prefix(MODULE, &[&"clearing"])
    }
    pub fn statement(interval: u64, meter: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"statement", &iv(interval), &meter.to_hex()])
    }
    pub fn statements(interval: u64) -> Vec<u8> {
        kit::prefix(MODULE, &[&"statement", &iv(interval)])
    }
    pub fn balancing(asset: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"balancing", &asset])
    }
    pub fn next_order() -> Vec<u8> {
        kit::key(MODULE, &[&"next_order"])
    }
    pub fn interval_ms() -> Vec<u8> {
        kit::key(MODULE, &[&"interval_ms"])
    }
}

/// The bytes a meter signs for `values` starting at `first_interval` (see the crate docs).
pub fn reading_message(meter: &Hash, first_interval: u64, values: &[Value]) -> Vec<u8> {
    let mut m = Vec::with_capacity(44 + 16 * values.len());
    m.extend_from_slice(&meter.0);
    m.extend_from_slice(&first_interval.to_le_bytes());
    m.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        m.extend_from_slice(&v.import_wh.to_le_bytes());
        m.extend_from_slice(&v.export_wh.to_le_bytes());
    }
    m
}

/// A meter's pseudonymous id from its serial number and a secret salt.
pub fn meter_id(salt: &[u8; 32], serial: &str) -> Hash {
    urbis_core::sha256_domain(METER_ID_TAG, &[salt, serial.as_bytes()])
}

/// The commitment to a meter's owner.
pub fn owner_commitment(salt: &[u8; 32], owner: &Address) -> Hash {
    urbis_core::sha256_domain(OWNER_TAG, &[salt, &owner.0])
}

/// The interval a block time falls in, for intervals of `len` ms.
pub fn interval_of(ms: u64, len: u64) -> u64 {
    ms / len.max(1)
}

/// A call to the energy module (borsh in transactions; never reorder, only append).
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
pub enum EnergyCall {
    Configure {
        asset: String,
        gate_closure_ms: u64,
        settle_delay_ms: u64,
        imbalance_price: u64,
        feed_in_price: u64,
        tariff_price: u64,
        reward: Option<RewardRule>,
    },
    SetFeeder {
        feeder: u32,
        name: String,
        max_export_wh: u64,
        max_import_wh: u64,
    },
    RegisterMeter {
        meter: Hash,
        key: PublicKey,
        account: Address,
        feeder: u32,
        max_import_w: u64,
        max_export_w: u64,
        owner_commitment: Hash,
    },
    RevokeMeter {
        meter: Hash,
        reason_hash: Hash,
    },
    Readings {
        meter: Hash,
        first_interval: u64,
        values: Vec<Value>,
        signature: Signature,
    },
    Correct {
        meter: Hash,
        interval: u64,
        value: Value,
        reason_hash: Hash,
    },
    Order {
        meter: Hash,
        interval: u64,
        side: OrderSide,
        qty_wh: u64,
        price: u64,
    },
    Cancel {
        interval: u64,
        order: u64,
    },
    Settle {
        interval: u64,
    },
    Fund {
        amount: u64,
    },
    Withdraw {
        amount: u64,
    },
    /// A standing order: one order per interval from `first_interval`, for each positive
    /// quantity (a household's day of solar surplus, a charger's night of demand).
    Schedule {
        meter: Hash,
        first_interval: u64,
        side: OrderSide,
        quantities: Vec<u64>,
        price: u64,
    },
}

use urbis_runtime::{event_info as ev, query_info as q};

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Energy: certified meters under pseudonyms, a peer-to-peer market per 15-minute interval cleared within feeder limits, settlement against readings, saving rewards.",
    queries: &[
        q!("config", false, "The market's rules."),
        q!(
            "interval_ms",
            false,
            "The interval length if the chain set one at genesis (null: 15 minutes)."
        ),
        q!("feeder/<id>", false, "A feeder and its limits."),
        q!(
            "meter/<id>",
            false,
            "A meter under its pseudonymous id: feeder, power, device key, trading account."
        ),
        q!(
            "reading/<meter>/<interval>",
            false,
            "A meter's reading of an interval (and any correction)."
        ),
        q!(
            "book/<interval>",
            false,
            "An interval's market: status, rules, open orders."
        ),
        q!("order/<interval>/<id>", false, "An order and its fill."),
        q!(
            "clearing/<interval>",
            false,
            "An interval's clearing: price and volume per feeder zone."
        ),
        q!(
            "position/<interval>/<meter>",
            false,
            "A meter's trade in a cleared interval."
        ),
        q!(
            "statement/<interval>/<meter>",
            false,
            "A participant's settlement statement."
        ),
        q!("balancing/<asset>", false, "The balancing fund."),
        q!("feeders", true, "All feeders."),
        q!("meters", true, "All meters."),
        q!(
            "readings/<meter>",
            true,
            "A meter's readings, oldest first."
        ),
        q!("orders/<interval>", true, "An interval's orders."),
        q!(
            "clearings",
            true,
            "Every clearing, oldest first (prices and volumes over time)."
        ),
        q!("statements/<interval>", true, "An interval's statements."),
        q!(
            "account/<address>",
            true,
            "The meters a trading account trades for."
        ),
    ],
    events: &[
        ev!("configured", ["asset"], "The market's rules changed."),
        ev!("feeder_set", ["feeder"], "A feeder was set."),
        ev!(
            "meter_registered",
            ["meter", "feeder"],
            "A meter was registered."
        ),
        ev!("meter_revoked", ["meter"], "A meter was revoked."),
        ev!(
            "readings",
            ["meter", "first_interval", "count"],
            "Signed readings were recorded."
        ),
        ev!(
            "corrected",
            ["meter", "interval"],
            "The operator corrected a reading."
        ),
        ev!(
            "saving",
            ["meter", "interval", "saved_wh", "tokens"],
            "Consumption below the baseline earned tokens."
        ),
        ev!(
            "ordered",
            ["interval", "order", "meter", "side"],
            "An order was placed."
        ),
        ev!(
            "cancelled",
            ["interval", "order"],
            "An order was cancelled."
        ),
        ev!(
            "cleared",
            ["interval", "price", "volume_wh"],
            "An interval cleared at gate closure."
        ),
        ev!(
            "settled",
            ["interval", "participants"],
            "An interval settled."
        ),
        ev!(
            "funded",
            ["asset", "amount"],
            "The operator funded the balancing fund."
        ),
        ev!(
            "withdrawn",
            ["asset", "amount"],
            "The operator withdrew from the fund."
        ),
    ],
    exported: &[],
};

/// The energy module.
pub struct Energy;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Energy)
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

/// Job payloads: `[kind] ‖ interval (u64 LE)`.
pub(crate) const JOB_CLEAR: u8 = 1;
pub(crate) const JOB_SETTLE: u8 = 2;

impl Module for Energy {
    urbis_runtime::json_calls!(EnergyCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    /// Optional: `{"interval_ms": N}` (500 ms to a day; default 15 minutes).
    fn genesis(&self, ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        if config.is_null() {
            return Ok(());
        }
        let len = config
            .get("interval_ms")
            .and_then(|v| v.as_u64())
            .filter(|l| (500..=86_400_000).contains(l))
            .ok_or_else(|| invalid("energy genesis: {\"interval_ms\": 500 to 86400000}"))?;
        ctx.put(keys::interval_ms(), &len);
        Ok(())
    }

    fn weight(&self, data: &[u8]) -> u64 {
        match kit::decode_call::<EnergyCall>(data) {
            Ok(EnergyCall::Readings { values, .. }) => {
                200_000 + 120_000 * values.len().min(MAX_VALUES) as u64
            }
            Ok(EnergyCall::Settle { .. }) => 400_000_000,
            Ok(EnergyCall::Schedule { quantities, .. }) => {
                100_000 + 300_000 * quantities.len().min(MAX_VALUES) as u64
            }
            _ => 300_000,
        }
    }

    /// A clearing or settlement touches every order or participant of its interval (at most
    /// [`MAX_ORDERS_PER_INTERVAL`], each well under 100 000 units of weight).
    fn job_weight(&self, _payload: &[u8]) -> u64 {
        2_000_000_000
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        market::execute(ctx, kit::decode_call(data)?)
    }

    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        let (kind, interval) = kit::parse_job(MODULE, payload)?;
        match kind {
            JOB_CLEAR => market::clear_interval(ctx, interval),
            JOB_SETTLE => market::settle_interval(ctx, interval, false),
            _ => Err(err(ErrorCode::Internal, "unknown energy job")),
        }
    }

    /// A meter's own account placing or cancelling its orders, or sending its readings.
    fn vouches(
        &self,
        view: &dyn StateView,
        sender: &Address,
        data: &[u8],
    ) -> Result<bool, UrbisError> {
        let Ok(call) = kit::decode_call::<EnergyCall>(data) else {
            return Ok(false);
        };
        match call {
            EnergyCall::Order { meter, .. }
            | EnergyCall::Schedule { meter, .. }
            | EnergyCall::Readings { meter, .. } => {
                Ok(view_get::<Meter>(view, &keys::meter(&meter))?
                    .is_some_and(|m| m.account == *sender && m.revoked.is_none()))
            }
            EnergyCall::Cancel { interval, order } => {
                Ok(view_get::<Order>(view, &keys::order(interval, order))?
                    .is_some_and(|o| o.account == *sender))
            }
            _ => Ok(false),
        }
    }

    fn has_precheck(&self) -> bool {
        true
    }

    /// A readings call's device signature (a meter's key never changes once registered).
    fn precheck(&self, view: &dyn StateView, data: &[u8]) -> Result<bool, UrbisError> {
        let Ok(EnergyCall::Readings {
            meter,
            first_interval,
            values,
            signature,
        }) = kit::decode_call::<EnergyCall>(data)
        else {
            return Ok(false);
        };
        let Some(m) = view_get::<Meter>(view, &keys::meter(&meter))? else {
            return Ok(false);
        };
        market::check_signature(&m, first_interval, &values, &signature)?;
        Ok(true)
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        let iv = |s: &str| kit::parse_u64("interval", s);
        let id = |s: &str| kit::parse_hash("meter id", s);
        match path {
            ["config"] => Ok(keys::config()),
            ["interval_ms"] => Ok(keys::interval_ms()),
            ["feeder", f] => {
                Ok(keys::feeder(f.parse().map_err(|_| {
                    invalid("a feeder id is a number below 2^32")
                })?))
            }
            ["meter", m] => Ok(keys::meter(&id(m)?)),
            ["reading", m, i] => Ok(keys::reading(&id(m)?, iv(i)?)),
            ["book", i] => Ok(keys::book(iv(i)?)),
            ["order", i, o] => Ok(keys::order(iv(i)?, kit::parse_u64("order id", o)?)),
            ["clearing", i] => Ok(keys::clearing(iv(i)?)),
            ["position", i, m] => Ok(keys::position(iv(i)?, &id(m)?)),
            ["statement", i, m] => Ok(keys::statement(iv(i)?, &id(m)?)),
            ["balancing", a] if a.len() <= 16 => Ok(keys::balancing(a)),
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
        let iv = |s: &str| kit::parse_u64("interval", s);
        Ok(match path {
            ["feeders"] => Some(keys::feeders()),
            ["meters"] => Some(keys::meters()),
            ["readings", m] => Some(keys::readings(&kit::parse_hash("meter id", m)?)),
            ["orders", i] => Some(keys::orders(iv(i)?)),
            ["clearings"] => Some(keys::clearings()),
            ["statements", i] => Some(keys::statements(iv(i)?)),
            ["account", a] => Some(keys::account_prefix(&kit::parse_address(a)?)),
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
            "feeders" => "feeder",
            "meters" => "meter",
            "readings" => {
                let r = json(&decode_value::<Reading>(key, value)?)?;
                let text = String::from_utf8_lossy(key);
                let interval: u64 = text.rsplit('/').next().unwrap_or("0").parse().unwrap_or(0);
                return Ok(serde_json::json!({ "interval": interval, "reading": r }));
            }
            "orders" => "order",
            "clearings" => "clearing",
            "statements" => "statement",
            _ => {
                let text = String::from_utf8_lossy(key);
                return Ok(serde_json::Value::String(
                    text.rsplit('/').next().unwrap_or_default().to_string(),
                ));
            }
        };
        render_value(kind, key, value)
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

fn render_value(kind: &str, key: &[u8], b: &[u8]) -> Result<serde_json::Value, UrbisError> {
    match kind {
        "config" => json(&decode_value::<Config>(key, b)?),
        "feeder" => json(&decode_value::<Feeder>(key, b)?),
        "meter" => json(&decode_value::<Meter>(key, b)?),
        "reading" => json(&decode_value::<Reading>(key, b)?),
        "book" => json(&decode_value::<Book>(key, b)?),
        "order" => json(&decode_value::<Order>(key, b)?),
        "clearing" => json(&decode_value::<Clearing>(key, b)?),
        "position" => json(&decode_value::<Position>(key, b)?),
        "statement" => json(&decode_value::<Statement>(key, b)?),
        _ => json(&decode_value::<u64>(key, b)?),
    }
}

#[cfg(test)]
mod tests;
