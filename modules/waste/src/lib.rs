//! Waste (`"waste"`): licensed actors and certified weighing devices; batches with a signed
//! chain of custody from the bin to their final fate; mass balance per hop and per facility;
//! anomaly flags; recycling rewards for citizens' deposits; recycling rates per district.
//!
//! # Custody
//!
//! A department (the city's waste office) registers **actors** — collectors, transfer
//! stations, recyclers, landfills, incinerators — each with licences per stream and their end
//! dates, and certified **devices**: smart bins and recycling centres' scales (which weigh
//! deposits and a bin's fill), and facilities' weighbridges (which weigh batches at receipt).
//! A device signs each weighing with a strictly increasing sequence number
//! ([`weighing_message`]); a weighing is accepted once.
//!
//! 1. **Deposit.** A citizen's deposit is weighed by a bin or a centre and co-signed by the
//!    citizen ([`deposit_message`]); it adds to the bin's fill and earns the configured reward
//!    per kg from the rewards program (whose period is the weekly cap) up to what the program may
//!    still award that citizen.
//! 2. **Collection.** A licensed collector empties the bins it operates: each bin signs its
//!    fill's weighing; the batch holds their sum, its origins by district, and the fills it
//!    took (so each deposit can be followed to its batch). A hazardous batch needs a manifest.
//! 3. **Handover.** The receiver sends it, with the giver's signature over `(batch, receiver,
//!    mass sent)` ([`handover_message`]) and its own weighbridge's reading at receipt. The
//!    receiver must hold a licence for the stream (`unauthorized` otherwise).
//! 4. **Split and merge** at a transfer station: parts never exceed the whole; a merge takes
//!    batches of one stream it holds.
//! 5. **Fate** by the facility that holds the batch and whose kind matches (recycled into an
//!    output material by a recycler, energy recovery by an incinerator, landfill): once.
//!
//! # Mass balance and flags
//!
//! Per stream, tolerances in parts per 10 000 ([`Tolerance`]). A hop whose receipt weighs
//! more than the mass sent by more than `hard_bps` is refused (`mass_balance`); more than
//! `soft_bps` is flagged (`mass_gain`); less than the mass sent minus `soft_bps +
//! moisture_bps` is flagged (`weight_jump`). A split leaving more than `soft_bps +
//! moisture_bps` unaccounted is flagged (`process_loss`). A facility's outputs (handed over,
//! treated, lost in splits) never exceed its inputs by more than `hard_bps` (refused), nor
//! `soft_bps` (flagged). Each month's balance opens with the stock carried over, so `opening +
//! received = sent + treated + lost + stock` holds per month, and the all-time check is the
//! per-period one. A batch not handed over or given its fate by its `hop_deadline_ms` is flagged
//! by a scheduler job (`missing_hop`). Flags are stored per actor and month.
//!
//! # State
//!
//! | key | value (borsh) |
//! |---|---|
//! | `waste/tolerance/<stream>` | [`Tolerance`] |
//! | `waste/reward` | [`RewardRule`] |
//! | `waste/actor/<address>` | [`Actor`] |
//! | `waste/device/<key hex>` | [`Device`] |
//! | `waste/batch/<id:012>`, `waste/next_batch` | [`Batch`], `u64` |
//! | `waste/fill/<bin key hex>/<epoch:08>` | batch id: the collection that took that fill |
//! | `waste/deposit/<address>/<n:08>`, `waste/deposits/<address>` | [`Deposit`], `u64` count |
//! | `waste/balance/<address>` / `waste/balance/<address>/<yyyymm>` | [`Balance`]: all time / the month |
//! | `waste/flag/<address>/<yyyymm>/<n:06>` | [`Flag`] |
//! | `waste/flags/<address>/<yyyymm>` | `u64`: how many |
//! | `waste/rate/<district>/<stream>/<yyyymm>` | [`Rate`] |
//!
//! # Calls ([`WasteCall`])
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `set_tolerance {stream, tolerance}` | department | `unauthorized`, `invalid_argument` |
//! | `set_reward {program, grams_per_token}` | department | `unauthorized`, `invalid_argument` |
//! | `register_actor {account, kind, name, licences}` | department | `unauthorized`, `invalid_argument` |
//! | `register_device {key, kind, operator, district, stream}` | department | `unauthorized`, `invalid_argument` (bad district), `not_found` (operator not an actor), `already_exists` |
//! | `revoke_device {key}` | department | `unauthorized`, `not_found`, `revoked` |
//! | `deposit {citizen (key), weighing, citizen_signature}` | anyone with a role | `not_found` (device), `revoked`, `invalid_argument` (not a bin or centre, zero), `bad_signature` (device, citizen), `already_exists` (sequence replayed) |
//! | `collect {weighings, manifest}` | a licensed collector | `unauthorized`, `invalid_argument` (1–64 bins, not its bins, mixed streams, hazardous without manifest), `not_found`, `revoked`, `bad_signature`, `already_exists` |
//! | `handover {batch, giver_key, giver_signature, weighing}` | the receiver | `not_found`, `invalid_state` (not active), `unauthorized` (unlicensed receiver), `invalid_argument` (own batch), `not_found`/`revoked`/`invalid_argument`/`bad_signature`/`already_exists` (the weighbridge's reading; not the receiver's bridge), `bad_signature` (the holder's), `mass_balance` |
//! | `split {batch, parts}` | the holder, a transfer station | `not_found`, `unauthorized`, `invalid_state`, `invalid_argument` (2–16 parts, parts exceed the whole) |
//! | `merge {batches}` | the holder, a transfer station | `invalid_argument` (2–16), `not_found`, `unauthorized`, `invalid_state`, `invalid_argument` (mixed streams) |
//! | `fate {batch, kind, material, output_grams}` | the holder, a facility of the matching kind | `not_found`, `unauthorized`, `invalid_state` (already final), `invalid_argument`, `mass_balance` |
//!
//! The device signs `len(tag) ‖ "urbis/waste-weighing/v1" ‖ device key (32) ‖ seq (u64 LE) ‖
//! grams (u64 LE) ‖ subject (32)`: the subject is the batch id's hash for a handover
//! ([`batch_subject`]), the bin's fill for a collection ([`fill_subject`]), the citizen's for a
//! deposit ([`citizen_subject`]).

mod custody;
mod types;

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, Hash, PublicKey, Signature, UrbisError, sha256_domain};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, Module, ModuleInfo, StateView, decode_value};
use urbis_runtime::{event_info as ev, query_info as q};

pub use types::{
    Actor, ActorKind, Balance, Batch, BatchState, Deposit, Device, DeviceKind, Fate, FateKind,
    Flag, FlagKind, Hop, Licence, Rate, Stream, Tolerance, Weighing,
};

/// Namespace and module name.
pub const MODULE: &str = "waste";
/// Domain tags.
pub const WEIGHING_TAG: &[u8] = b"urbis/waste-weighing/v1";
pub const DEPOSIT_TAG: &[u8] = b"urbis/waste-deposit/v1";
pub const HANDOVER_TAG: &[u8] = b"urbis/waste-handover/v1";
pub const SUBJECT_TAG: &[u8] = b"urbis/waste-subject/v1";
/// Most bins in one collection, parts in a split, batches in a merge.
pub const MAX_BINS: usize = 64;
pub const MAX_PARTS: usize = 16;
/// Tolerances of a stream nobody configured: 2% either way, 3% moisture, a week per hop.
pub const DEFAULT_TOLERANCE: Tolerance = Tolerance {
    soft_bps: 200,
    hard_bps: 1_000,
    moisture_bps: 300,
    hop_deadline_ms: 7 * 86_400_000,
};

/// Recycling rewards: one token per `grams_per_token` deposited.
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
pub struct RewardRule {
    pub program: u64,
    pub grams_per_token: u64,
}

pub mod keys {
    //! State keys.
    use super::{MODULE, Stream};
    use urbis_core::{Address, PublicKey};
    use urbis_runtime::kit;

    pub fn hex(k: &PublicKey) -> String {
        k.raw().iter().map(|b| format!("{b:02x}")).collect()
    }
    pub fn tolerance(s: Stream) -> Vec<u8> {
        kit::key(MODULE, &[&"tolerance", &s])
    }
    pub fn reward() -> Vec<u8> {
        kit::key(MODULE, &[&"reward"])
    }
    pub fn actor(a: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"actor", a])
    }
    pub fn actors() -> Vec<u8> {
        kit::prefix(MODULE, &[&"actor"])
    }
    pub fn device(k: &PublicKey) -> Vec<u8> {
        kit::key(MODULE, &[&"device", &hex(k)])
    }
    pub fn devices() -> Vec<u8> {
        kit::prefix(MODULE, &[&"device"])
    }
    pub fn batch(id: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"batch", &format!("{id:012}")])
    }
    pub fn next_batch() -> Vec<u8> {
        kit::key(MODULE, &[&"next_batch"])
    }
    pub fn fill(bin: &PublicKey, epoch: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"fill", &hex(bin), &format!("{epoch:08}")])
    }
    pub fn deposit(a: &Address, n: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"deposit", a, &format!("{n:08}")])
    }
    pub fn deposit_list(a: &Address) -> Vec<u8> {
        kit::prefix(MODULE, &[&"deposit", a])
    }
    pub fn deposits(a: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"deposits", a])
    }
    pub fn balance(a: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"balance", a])
    }
    pub fn month_balance(a: &Address, month: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"balance", a, &month])
    }
    pub fn flag(a: &Address, month: u32, n: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"flag", a, &month, &format!("{n:06}")])
    }
    pub fn flag_list(a: &Address, month: u32) -> Vec<u8> {
        kit::prefix(MODULE, &[&"flag", a, &month])
    }
    pub fn flags(a: &Address, month: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"flags", a, &month])
    }
    pub fn rate(district: &str, s: Stream, month: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"rate", &district, &s, &month])
    }
    pub fn rates() -> Vec<u8> {
        kit::prefix(MODULE, &[&"rate"])
    }
}

fn subject(kind: &[u8], parts: &[&[u8]]) -> Hash {
    let mut all: Vec<&[u8]> = vec![kind];
    all.extend_from_slice(parts);
    sha256_domain(SUBJECT_TAG, &all)
}

/// The subject of a batch's weighing at receipt.
pub fn batch_subject(batch: u64) -> Hash {
    subject(b"batch", &[&batch.to_le_bytes()])
}

/// The subject of a bin's fill weighed at collection.
pub fn fill_subject(bin: &PublicKey, epoch: u64) -> Hash {
    subject(b"fill", &[bin.raw(), &epoch.to_le_bytes()])
}

/// The subject of a citizen's deposit.
pub fn citizen_subject(citizen: &Address) -> Hash {
    subject(b"citizen", &[&citizen.0])
}

/// The bytes a device signs for a weighing.
pub fn weighing_message(device: &PublicKey, seq: u64, grams: u64, subject: &Hash) -> Vec<u8> {
    let mut m = device.raw().to_vec();
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&grams.to_le_bytes());
    m.extend_from_slice(&subject.0);
    m
}

/// The bytes a citizen signs for a deposit: `device key ‖ seq ‖ grams`.
pub fn deposit_message(device: &PublicKey, seq: u64, grams: u64) -> Vec<u8> {
    let mut m = device.raw().to_vec();
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&grams.to_le_bytes());
    m
}

/// The bytes a giver signs for a handover: `batch id ‖ receiver ‖ grams sent`.
pub fn handover_message(batch: u64, to: &Address, grams: u64) -> Vec<u8> {
    let mut m = batch.to_le_bytes().to_vec();
    m.extend_from_slice(&to.0);
    m.extend_from_slice(&grams.to_le_bytes());
    m
}

/// A call to the waste module (borsh in transactions; never reorder, only append).
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
pub enum WasteCall {
    SetTolerance {
        stream: Stream,
        tolerance: Tolerance,
    },
    SetReward {
        program: u64,
        grams_per_token: u64,
    },
    RegisterActor {
        account: Address,
        kind: ActorKind,
        name: String,
        licences: Vec<Licence>,
    },
    RegisterDevice {
        key: PublicKey,
        kind: DeviceKind,
        operator: Address,
        district: String,
        stream: Stream,
    },
    RevokeDevice {
        key: PublicKey,
    },
    /// `citizen` is the citizen's account key (their rewards go to its address).
    Deposit {
        citizen: PublicKey,
        weighing: Weighing,
        citizen_signature: Signature,
    },
    Collect {
        weighings: Vec<Weighing>,
        manifest: Option<Hash>,
    },
    Handover {
        batch: u64,
        /// The holder's account key (its address is the holder's).
        giver_key: PublicKey,
        giver_signature: Signature,
        weighing: Weighing,
    },
    Split {
        batch: u64,
        parts: Vec<u64>,
    },
    Merge {
        batches: Vec<u64>,
    },
    Fate {
        batch: u64,
        kind: FateKind,
        material: Option<String>,
        output_grams: u64,
    },
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Waste: licensed actors, certified weighing devices, batches with a signed chain of custody to their fate, mass balance, anomaly flags, recycling rewards and rates.",
    queries: &[
        q!("tolerance/<stream>", false, "A stream's tolerances."),
        q!("reward", false, "The recycling reward rule."),
        q!("actor/<address>", false, "An actor and its licences."),
        q!("device/<key>", false, "A certified device."),
        q!(
            "batch/<id>",
            false,
            "A batch: stream, mass, holder, origins, hops, fate."
        ),
        q!(
            "fill/<bin>/<epoch>",
            false,
            "The batch that took a bin's fill."
        ),
        q!(
            "deposits/<address>",
            false,
            "How many deposits a citizen made."
        ),
        q!(
            "balance/<address>",
            false,
            "A facility's mass balance, all time."
        ),
        q!(
            "month_balance/<address>/<yyyymm>",
            false,
            "A facility's mass balance in a month."
        ),
        q!(
            "rate/<district>/<stream>/<yyyymm>",
            false,
            "Collected, recycled, recovered and landfilled mass of a district's stream in a month."
        ),
        q!(
            "rates",
            true,
            "Every district's streams per month: collected, recycled, recovered, landfilled."
        ),
        q!("actors", true, "Every actor."),
        q!("devices", true, "Every device."),
        q!(
            "deposit_list/<address>",
            true,
            "A citizen's deposits (each names the bin's fill, hence its batch)."
        ),
        q!(
            "flag_list/<address>/<yyyymm>",
            true,
            "An actor's flags in a month."
        ),
    ],
    events: &[
        ev!(
            "tolerance_set",
            ["stream"],
            "A stream's tolerances changed."
        ),
        ev!(
            "actor_registered",
            ["actor", "kind"],
            "An actor was licensed."
        ),
        ev!(
            "device_registered",
            ["device", "kind"],
            "A device was certified."
        ),
        ev!("device_revoked", ["device"], "A device was revoked."),
        ev!(
            "deposited",
            ["citizen", "device", "grams", "tokens"],
            "A citizen deposited waste."
        ),
        ev!(
            "collected",
            ["batch", "collector", "grams"],
            "Bins were emptied into a batch."
        ),
        ev!(
            "handed_over",
            ["batch", "from", "to", "grams"],
            "A batch changed hands."
        ),
        ev!("split", ["batch", "parts"], "A batch was split."),
        ev!("merged", ["batch", "from"], "Batches were merged."),
        ev!(
            "fate",
            ["batch", "fate", "grams"],
            "A batch reached its fate."
        ),
        ev!(
            "flagged",
            ["actor", "kind", "batch", "grams"],
            "An anomaly was flagged."
        ),
    ],
    exported: &[],
};

/// The waste module.
pub struct Waste;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Waste)
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

pub(crate) const JOB_DUE: u8 = 1;

fn parse_key(text: &str) -> Result<PublicKey, UrbisError> {
    let hex = text.strip_prefix("ed25519:").unwrap_or(text);
    Ok(PublicKey::Ed25519(kit::parse_hash("device key", hex)?.0))
}

fn parse_month(text: &str) -> Result<u32, UrbisError> {
    text.parse::<u32>()
        .ok()
        .filter(|m| (190_001..=999_912).contains(m) && (1..=12).contains(&(m % 100)))
        .ok_or_else(|| invalid("a month is yyyymm"))
}

fn parse_stream(text: &str) -> Result<Stream, UrbisError> {
    text.parse()
        .map_err(|e: kit::UnknownName| invalid(e.to_string()))
}

impl Module for Waste {
    urbis_runtime::json_calls!(WasteCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        kit::no_genesis(MODULE, config)
    }

    fn weight(&self, data: &[u8]) -> u64 {
        match kit::decode_call::<WasteCall>(data) {
            Ok(WasteCall::Collect { weighings, .. }) => {
                300_000 + 80_000 * weighings.len().min(MAX_BINS) as u64
            }
            Ok(WasteCall::Split { .. } | WasteCall::Merge { .. }) => 1_500_000,
            _ => 400_000,
        }
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        custody::execute(ctx, kit::decode_call(data)?)
    }

    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        match kit::parse_job(MODULE, payload)? {
            (JOB_DUE, batch) => custody::due(ctx, batch),
            _ => Err(err(ErrorCode::Internal, "unknown waste job")),
        }
    }

    /// A certified device relaying its own deposit weighings.
    fn vouches(
        &self,
        view: &dyn StateView,
        sender: &Address,
        data: &[u8],
    ) -> Result<bool, UrbisError> {
        let Ok(WasteCall::Deposit { weighing, .. }) = kit::decode_call::<WasteCall>(data) else {
            return Ok(false);
        };
        Ok(weighing.device.address() == *sender
            && urbis_runtime::view_get::<Device>(view, &keys::device(&weighing.device))?
                .is_some_and(|d| d.revoked_ms.is_none()))
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        let addr = kit::parse_address;
        match path {
            ["tolerance", s] => Ok(keys::tolerance(parse_stream(s)?)),
            ["reward"] => Ok(keys::reward()),
            ["actor", a] => Ok(keys::actor(&addr(a)?)),
            ["device", k] => Ok(keys::device(&parse_key(k)?)),
            ["batch", b] => Ok(keys::batch(kit::parse_u64("batch", b)?)),
            ["fill", k, e] => Ok(keys::fill(&parse_key(k)?, kit::parse_u64("epoch", e)?)),
            ["deposits", a] => Ok(keys::deposits(&addr(a)?)),
            ["balance", a] => Ok(keys::balance(&addr(a)?)),
            ["month_balance", a, m] => Ok(keys::month_balance(&addr(a)?, parse_month(m)?)),
            ["rate", d, s, m] if d.len() <= 32 => {
                Ok(keys::rate(d, parse_stream(s)?, parse_month(m)?))
            }
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
        Ok(match path {
            ["actors"] => Some(keys::actors()),
            ["rates"] => Some(keys::rates()),
            ["devices"] => Some(keys::devices()),
            ["deposit_list", a] => Some(keys::deposit_list(&kit::parse_address(a)?)),
            ["flag_list", a, m] => Some(keys::flag_list(&kit::parse_address(a)?, parse_month(m)?)),
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
            "rates" => {
                // The key names the district, stream and month: `waste/rate/<d>/<s>/<yyyymm>`.
                let text = String::from_utf8_lossy(key);
                let parts: Vec<&str> = text.rsplitn(4, '/').collect();
                let mut v = render_value("rate", key, value)?;
                if let [month, stream, district, _] = parts.as_slice() {
                    v["district"] = serde_json::json!(district);
                    v["stream"] = serde_json::json!(stream);
                    v["month"] = serde_json::json!(month);
                }
                return Ok(v);
            }
            "actors" => "actor",
            "devices" => "device",
            "deposit_list" => "deposit",
            "flag_list" => "flag",
            _ => return Err(INFO.unknown_path(MODULE, path)),
        };
        render_value(kind, key, value)
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

fn render_value(kind: &str, key: &[u8], b: &[u8]) -> Result<serde_json::Value, UrbisError> {
    match kind {
        "tolerance" => json(&decode_value::<Tolerance>(key, b)?),
        "reward" => json(&decode_value::<RewardRule>(key, b)?),
        "actor" => json(&decode_value::<Actor>(key, b)?),
        "device" => json(&decode_value::<Device>(key, b)?),
        "batch" => json(&decode_value::<Batch>(key, b)?),
        "fill" | "deposits" => json(&decode_value::<u64>(key, b)?),
        "balance" | "month_balance" => {
            let bal = decode_value::<Balance>(key, b)?;
            let mut v = json(&bal)?;
            v["stock_grams"] = serde_json::json!(bal.stock());
            Ok(v)
        }
        "rate" => {
            let r = decode_value::<Rate>(key, b)?;
            let mut v = json(&r)?;
            // Recycled share of what was collected, parts per 10 000 (integers only).
            v["recycling_rate_bps"] = match r.collected_grams {
                0 => serde_json::Value::Null,
                c => serde_json::json!(
                    (u128::from(r.recycled_grams) * 10_000 / u128::from(c)) as u64
                ),
            };
            Ok(v)
        }
        "deposit" => json(&decode_value::<Deposit>(key, b)?),
        "flag" => json(&decode_value::<Flag>(key, b)?),
        _ => Err(err(ErrorCode::Internal, format!("no rendering for {kind}"))),
    }
}

#[cfg(test)]
mod tests;
