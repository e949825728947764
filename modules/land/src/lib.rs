//! The land register: parcels with their titles (co-owners with integer shares of a whole),
//! liens by banks in order of priority, easements, and transfers of title as a workflow in
//! which every party acts in turn, with an objection window run by the scheduler.
//!
//! A transfer: an owner proposes it (buyers with their shares, price, deed hash) → every
//! seller signs → every buyer accepts → every lien holder releases its lien or consents to it
//! staying → the registrar approves → for the objection window (default 14 days of block
//! time) registered interested parties may object, which stops it until the registrar decides
//! → at the end of the window the title changes at once (owners, released liens, the owner
//! index, the history). A parcel has at most one transfer under way. Sellers and buyers may
//! cancel until the registrar approves; the registrar may cancel until it completes.
//!
//! Land titles are public records: owners appear by account.
//!
//! | key | value (borsh) |
//! |---|---|
//! | `land/parcel/<cadastral id>` | [`Parcel`] |
//! | `land/liens/<cadastral id>` | `Vec<Lien>` (absent: no lien; its absence is provable) |
//! | `land/owner/<address>/<cadastral id>` | `()`: the owner index |
//! | `land/transfer/<id:020>` | [`Transfer`] |
//! | `land/history/<cadastral id>/<seq:010>` | [`HistoryEntry`] |
//! | `land/next` | `u64`: the next transfer, lien or easement id |
//! | `land/objection_window_ms` | `u64` (genesis or `set_objection_window`; default 14 days) |
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `register_parcel {id, geometry_hash, area_m2, owners, whole}` | land registrar | `unauthorized`, `invalid_argument` (shares not summing to the whole, …), `already_exists` |
//! | `add_lien {parcel, bank, amount, deed_hash}` | land registrar | `unauthorized`, `not_found`, `invalid_argument` (not a bank), `invalid_state` (in transfer) |
//! | `add_easement {parcel, beneficiary, kind, deed_hash}` | land registrar | `unauthorized`, `not_found`, `invalid_argument` |
//! | `add_interested {parcel, party}` | land registrar | `unauthorized`, `not_found`, `already_exists` |
//! | `propose {parcel, buyers, price, deed_hash}` | an owner | `not_found`, `unauthorized`, `invalid_argument`, `invalid_state` (a transfer under way) |
//! | `sign {transfer}` / `accept {transfer}` | each seller / buyer | `not_found`, `unauthorized`, `invalid_state` (out of turn), `already_exists` |
//! | `answer_lien {transfer, lien, answer}` | the lien's bank | `not_found`, `unauthorized`, `invalid_state`, `already_exists` |
//! | `approve {transfer}` | land registrar | `unauthorized`, `not_found`, `invalid_state` (not its turn, or during the objection window) |
//! | `object {transfer, statement_hash}` | a registered interested party | `not_found`, `unauthorized`, `invalid_state` (window closed) |
//! | `decide {transfer, uphold}` | land registrar | `unauthorized`, `not_found`, `invalid_state` (nothing to decide) |
//! | `cancel {transfer}` | a seller or buyer before approval, the registrar before completion | `not_found`, `unauthorized`, `invalid_state` |
//! | `set_objection_window {ms}` | city admin (1 s to 365 days; transfers approved later) | `unauthorized`, `invalid_argument` |
//!
//! Events: `registered {parcel}`, `lien_added {parcel, lien, bank}`, `easement_added {parcel,
//! easement}`, `interested_added {parcel}`, `proposed {parcel, transfer}`, `signed`,
//! `accepted`, `lien_answered`, `approved {transfer, objection_until_ms}`, `objected`,
//! `decided {transfer, upheld}`, `cancelled`, `transferred {parcel, transfer}`.
//!
//! Queries: `parcel/<id>`, `liens/<id>` (`null`: none, provably), `transfer/<id>`,
//! `history/<id>` (list), `owned/<address>` (list of parcel ids).

mod types;

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo, decode_value};

pub use types::{Easement, HistoryEntry, Lien, LienAnswer, Parcel, Share, Stage, Transfer};

/// Namespace and module name.
pub const MODULE: &str = "land";
/// Default objection window: 14 days of block time.
pub const DEFAULT_OBJECTION_WINDOW_MS: u64 = 14 * 24 * 3_600_000;
/// Most co-owners, buyers, liens, easements and interested parties of a parcel.
pub const MAX_PARTIES: usize = 32;

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::Address;
    use urbis_runtime::kit;

    pub fn parcel(id: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"parcel", &id])
    }
    pub fn liens(id: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"liens", &id])
    }
    pub fn owned(owner: &Address, parcel: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"owner", owner, &parcel])
    }
    pub fn owned_prefix(owner: &Address) -> Vec<u8> {
        kit::prefix(MODULE, &[&"owner", owner])
    }
    pub fn transfer(id: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"transfer", &format!("{id:020}")])
    }
    pub fn history(parcel: &str, seq: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"history", &parcel, &format!("{seq:010}")])
    }
    pub fn history_prefix(parcel: &str) -> Vec<u8> {
        kit::prefix(MODULE, &[&"history", &parcel])
    }
    pub fn next() -> Vec<u8> {
        kit::key(MODULE, &[&"next"])
    }
    pub fn window() -> Vec<u8> {
        kit::key(MODULE, &[&"objection_window_ms"])
    }
}

/// A call to the land register (borsh in transactions; never reorder, only append).
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
pub enum LandCall {
    RegisterParcel {
        id: String,
        geometry_hash: Hash,
        area_m2: u64,
        owners: Vec<Share>,
        whole: u64,
    },
    AddLien {
        parcel: String,
        bank: Address,
        amount: u64,
        deed_hash: Hash,
    },
    AddEasement {
        parcel: String,
        beneficiary: String,
        kind: String,
        deed_hash: Hash,
    },
    AddInterested {
        parcel: String,
        party: Address,
    },
    Propose {
        parcel: String,
        buyers: Vec<Share>,
        price: u64,
        deed_hash: Hash,
    },
    Sign {
        transfer: u64,
    },
    Accept {
        transfer: u64,
    },
    AnswerLien {
        transfer: u64,
        lien: u64,
        answer: LienAnswerArg,
    },
    Approve {
        transfer: u64,
    },
    Object {
        transfer: u64,
        statement_hash: Hash,
    },
    Decide {
        transfer: u64,
        uphold: bool,
    },
    Cancel {
        transfer: u64,
    },
    /// Set the objection window of transfers approved from now on (city admin).
    SetObjectionWindow {
        ms: u64,
    },
}

/// [`LienAnswer`] in calls.
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
pub enum LienAnswerArg {
    Release,
    Consent,
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "The land register: parcels, titles with shares, liens, easements, transfers with an objection window.",
    queries: &[
        QueryInfo {
            path: "parcel/<id>",
            list: false,
            description: "A parcel: geometry hash, area, owners and shares, easements, the transfer under way.",
        },
        QueryInfo {
            path: "liens/<id>",
            list: false,
            description: "A parcel's liens by priority; null (provably) when there is none.",
        },
        QueryInfo {
            path: "transfer/<id>",
            list: false,
            description: "A transfer and where it stands.",
        },
        QueryInfo {
            path: "history/<id>",
            list: true,
            description: "A parcel's provenance, oldest first.",
        },
        QueryInfo {
            path: "owned/<address>",
            list: true,
            description: "The parcels an account owns a share of.",
        },
    ],
    events: &[
        EventInfo {
            kind: "registered",
            attributes: &["parcel"],
            description: "A parcel entered the register.",
        },
        EventInfo {
            kind: "lien_added",
            attributes: &["parcel", "lien", "bank"],
            description: "A lien was registered.",
        },
        EventInfo {
            kind: "easement_added",
            attributes: &["parcel", "easement"],
            description: "An easement was registered.",
        },
        EventInfo {
            kind: "interested_added",
            attributes: &["parcel", "party"],
            description: "A party may object to transfers of the parcel.",
        },
        EventInfo {
            kind: "proposed",
            attributes: &["parcel", "transfer"],
            description: "A transfer was proposed.",
        },
        EventInfo {
            kind: "signed",
            attributes: &["transfer", "by"],
            description: "A seller signed.",
        },
        EventInfo {
            kind: "accepted",
            attributes: &["transfer", "by"],
            description: "A buyer accepted.",
        },
        EventInfo {
            kind: "lien_answered",
            attributes: &["transfer", "lien", "answer"],
            description: "A bank released its lien or consented to it staying.",
        },
        EventInfo {
            kind: "approved",
            attributes: &["transfer", "objection_until_ms"],
            description: "The registrar approved; the objection window runs.",
        },
        EventInfo {
            kind: "objected",
            attributes: &["transfer", "by"],
            description: "An interested party objected.",
        },
        EventInfo {
            kind: "decided",
            attributes: &["transfer", "upheld"],
            description: "The registrar decided on an objection.",
        },
        EventInfo {
            kind: "cancelled",
            attributes: &["transfer", "by"],
            description: "A transfer was cancelled.",
        },
        EventInfo {
            kind: "transferred",
            attributes: &["parcel", "transfer"],
            description: "The title changed.",
        },
    ],
    exported: &["set_parameter"],
};

/// The land module.
pub struct Land;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Land)
}

fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

fn invalid(msg: impl Into<String>) -> UrbisError {
    err(ErrorCode::InvalidArgument, msg)
}

fn out_of_turn(t: &Transfer) -> UrbisError {
    err(
        ErrorCode::InvalidState,
        format!("transfer {} is at stage {:?}", t.id, t.stage),
    )
}

fn require_registrar(ctx: &Ctx<'_>) -> Result<(), UrbisError> {
    if has_role(ctx, &ctx.sender(), Role::LandRegistrar)? {
        Ok(())
    } else {
        Err(err(
            ErrorCode::Unauthorized,
            "this requires the land_registrar role",
        ))
    }
}

fn id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn check_shares(shares: &[Share], whole: u64) -> Result<(), UrbisError> {
    if shares.is_empty() || shares.len() > MAX_PARTIES || whole == 0 {
        return Err(invalid(format!(
            "1 to {MAX_PARTIES} owners and a positive whole"
        )));
    }
    let mut owners: Vec<&Address> = shares.iter().map(|s| &s.owner).collect();
    owners.sort();
    owners.dedup();
    if owners.len() != shares.len() || shares.iter().any(|s| s.parts == 0) {
        return Err(invalid("each owner once, each with a positive share"));
    }
    let sum = shares
        .iter()
        .try_fold(0u64, |a, s| a.checked_add(s.parts))
        .ok_or_else(|| invalid("shares overflow"))?;
    if sum != whole {
        return Err(invalid(format!(
            "the shares sum to {sum}, not to the whole {whole}"
        )));
    }
    Ok(())
}

fn next_id(ctx: &mut Ctx<'_>) -> Result<u64, UrbisError> {
    let id: u64 = ctx.get(&keys::next())?.unwrap_or(1);
    ctx.put(keys::next(), &(id + 1));
    Ok(id)
}

fn load_parcel(ctx: &Ctx<'_>, id: &str) -> Result<Parcel, UrbisError> {
    if !id_ok(id) {
        return Err(invalid("a cadastral id is 1-64 of A-Z a-z 0-9 - _ ."));
    }
    ctx.get(&keys::parcel(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no parcel {id}")))
}

fn load_transfer(ctx: &Ctx<'_>, id: u64) -> Result<Transfer, UrbisError> {
    ctx.get(&keys::transfer(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no transfer {id}")))
}

fn liens_of(ctx: &Ctx<'_>, parcel: &str) -> Result<Vec<Lien>, UrbisError> {
    Ok(ctx.get(&keys::liens(parcel))?.unwrap_or_default())
}

fn put_liens(ctx: &mut Ctx<'_>, parcel: &str, liens: &[Lien]) {
    if liens.is_empty() {
        ctx.delete(keys::liens(parcel));
    } else {
        ctx.put(keys::liens(parcel), &liens.to_vec());
    }
}

/// Append to a parcel's history (and save the parcel).
fn record(ctx: &mut Ctx<'_>, parcel: &mut Parcel, what: &str, reference: Option<u64>) {
    parcel.history_len += 1;
    let entry = HistoryEntry {
        seq: parcel.history_len,
        at_ms: ctx.timestamp_ms(),
        height: ctx.height(),
        what: what.to_string(),
        tx: ctx.tx().map(|t| t.hash),
        owners: parcel.owners.clone(),
        reference,
    };
    ctx.put(keys::history(&parcel.id, entry.seq), &entry);
    ctx.put(keys::parcel(&parcel.id), parcel);
}

fn register_parcel(
    ctx: &mut Ctx<'_>,
    id: String,
    geometry_hash: Hash,
    area_m2: u64,
    owners: Vec<Share>,
    whole: u64,
) -> Result<(), UrbisError> {
    require_registrar(ctx)?;
    if !id_ok(&id) || area_m2 == 0 {
        return Err(invalid(
            "a cadastral id is 1-64 of A-Z a-z 0-9 - _ . and the area is positive",
        ));
    }
    check_shares(&owners, whole)?;
    if ctx.get_raw(&keys::parcel(&id))?.is_some() {
        return Err(err(ErrorCode::AlreadyExists, format!("parcel {id} exists")));
    }
    for s in &owners {
        ctx.put(keys::owned(&s.owner, &id), &());
    }
    let mut parcel = Parcel {
        id: id.clone(),
        geometry_hash,
        area_m2,
        owners,
        whole,
        easements: Vec::new(),
        interested: Vec::new(),
        transfer: None,
        registered_ms: ctx.timestamp_ms(),
        history_len: 0,
    };
    record(ctx, &mut parcel, "registered", None);
    ctx.emit(Event::new(MODULE, "registered").with("parcel", id));
    Ok(())
}

fn add_lien(
    ctx: &mut Ctx<'_>,
    parcel_id: String,
    bank: Address,
    amount: u64,
    deed_hash: Hash,
) -> Result<(), UrbisError> {
    require_registrar(ctx)?;
    let mut parcel = load_parcel(ctx, &parcel_id)?;
    if amount == 0 || !has_role(ctx, &bank, Role::Bank)? {
        return Err(invalid("a lien is held by a bank, for a positive amount"));
    }
    if parcel.transfer.is_some() {
        return Err(err(ErrorCode::InvalidState, "the parcel is in transfer"));
    }
    let mut liens = liens_of(ctx, &parcel_id)?;
    if liens.len() >= MAX_PARTIES {
        return Err(invalid("too many liens"));
    }
    let id = next_id(ctx)?;
    let priority = liens.iter().map(|l| l.priority).max().unwrap_or(0) + 1;
    liens.push(Lien {
        id,
        bank,
        amount,
        priority,
        deed_hash,
    });
    put_liens(ctx, &parcel_id, &liens);
    record(ctx, &mut parcel, "lien_added", Some(id));
    ctx.emit(
        Event::new(MODULE, "lien_added")
            .with("parcel", parcel_id)
            .with("lien", id)
            .with("bank", bank),
    );
    Ok(())
}

fn add_easement(
    ctx: &mut Ctx<'_>,
    parcel_id: String,
    beneficiary: String,
    kind: String,
    deed_hash: Hash,
) -> Result<(), UrbisError> {
    require_registrar(ctx)?;
    let mut parcel = load_parcel(ctx, &parcel_id)?;
    if beneficiary.is_empty() || beneficiary.len() > 128 || kind.is_empty() || kind.len() > 64 {
        return Err(invalid(
            "a beneficiary of 1-128 and a kind of 1-64 characters",
        ));
    }
    if parcel.easements.len() >= MAX_PARTIES {
        return Err(invalid("too many easements"));
    }
    let id = next_id(ctx)?;
    parcel.easements.push(Easement {
        id,
        beneficiary,
        kind,
        deed_hash,
    });
    record(ctx, &mut parcel, "easement_added", Some(id));
    ctx.emit(
        Event::new(MODULE, "easement_added")
            .with("parcel", parcel_id)
            .with("easement", id),
    );
    Ok(())
}

fn add_interested(ctx: &mut Ctx<'_>, parcel_id: String, party: Address) -> Result<(), UrbisError> {
    require_registrar(ctx)?;
    let mut parcel = load_parcel(ctx, &parcel_id)?;
    if parcel.interested.contains(&party) {
        return Err(err(ErrorCode::AlreadyExists, "already registered"));
    }
    if parcel.interested.len() >= MAX_PARTIES {
        return Err(invalid("too many interested parties"));
    }
    parcel.interested.push(party);
    ctx.put(keys::parcel(&parcel_id), &parcel);
    ctx.emit(
        Event::new(MODULE, "interested_added")
            .with("parcel", parcel_id)
            .with("party", party),
    );
    Ok(())
}

fn propose(
    ctx: &mut Ctx<'_>,
    parcel_id: String,
    buyers: Vec<Share>,
    price: u64,
    deed_hash: Hash,
) -> Result<(), UrbisError> {
    let mut parcel = load_parcel(ctx, &parcel_id)?;
    let sender = ctx.sender();
    if !parcel.owners.iter().any(|s| s.owner == sender) {
        return Err(err(
            ErrorCode::Unauthorized,
            "only an owner proposes a transfer",
        ));
    }
    check_shares(&buyers, parcel.whole)?;
    if let Some(t) = parcel.transfer {
        return Err(err(
            ErrorCode::InvalidState,
            format!("transfer {t} of this parcel is under way"),
        ));
    }
    let id = next_id(ctx)?;
    let sellers: Vec<Address> = parcel.owners.iter().map(|s| s.owner).collect();
    let mut t = Transfer {
        id,
        parcel: parcel_id.clone(),
        sellers,
        signed: vec![sender],
        buyers,
        accepted: Vec::new(),
        price,
        deed_hash,
        lien_answers: Vec::new(),
        stage: Stage::Sellers,
        objection_until_ms: None,
        objections: Vec::new(),
        proposed_ms: ctx.timestamp_ms(),
        closed_ms: None,
    };
    advance(ctx, &mut t)?;
    ctx.put(keys::transfer(id), &t);
    parcel.transfer = Some(id);
    ctx.put(keys::parcel(&parcel_id), &parcel);
    ctx.emit(
        Event::new(MODULE, "proposed")
            .with("parcel", parcel_id)
            .with("transfer", id),
    );
    Ok(())
}

/// Move past every stage whose condition already holds.
fn advance(ctx: &Ctx<'_>, t: &mut Transfer) -> Result<(), UrbisError> {
    if t.stage == Stage::Sellers && t.sellers.iter().all(|s| t.signed.contains(s)) {
        t.stage = Stage::Buyers;
    }
    if t.stage == Stage::Buyers && t.buyers.iter().all(|b| t.accepted.contains(&b.owner)) {
        t.stage = Stage::Liens;
    }
    if t.stage == Stage::Liens {
        let liens = liens_of(ctx, &t.parcel)?;
        if liens
            .iter()
            .all(|l| t.lien_answers.iter().any(|(id, _)| *id == l.id))
        {
            t.stage = Stage::Registrar;
        }
    }
    Ok(())
}

fn act<F>(ctx: &mut Ctx<'_>, id: u64, f: F) -> Result<Transfer, UrbisError>
where
    F: FnOnce(&Ctx<'_>, &mut Transfer) -> Result<(), UrbisError>,
{
    let mut t = load_transfer(ctx, id)?;
    f(ctx, &mut t)?;
    advance(ctx, &mut t)?;
    ctx.put(keys::transfer(id), &t);
    Ok(t)
}

fn sign(ctx: &mut Ctx<'_>, id: u64) -> Result<(), UrbisError> {
    let by = ctx.sender();
    act(ctx, id, |_, t| {
        if !t.sellers.contains(&by) {
            return Err(err(ErrorCode::Unauthorized, "only a seller signs"));
        }
        if t.stage != Stage::Sellers {
            return Err(out_of_turn(t));
        }
        if t.signed.contains(&by) {
            return Err(err(ErrorCode::AlreadyExists, "already signed"));
        }
        t.signed.push(by);
        Ok(())
    })?;
    ctx.emit(
        Event::new(MODULE, "signed")
            .with("transfer", id)
            .with("by", by),
    );
    Ok(())
}

fn accept(ctx: &mut Ctx<'_>, id: u64) -> Result<(), UrbisError> {
    let by = ctx.sender();
    act(ctx, id, |_, t| {
        if !t.buyers.iter().any(|b| b.owner == by) {
            return Err(err(ErrorCode::Unauthorized, "only a buyer accepts"));
        }
        if t.stage != Stage::Buyers {
            return Err(out_of_turn(t));
        }
        if t.accepted.contains(&by) {
            return Err(err(ErrorCode::AlreadyExists, "already accepted"));
        }
        t.accepted.push(by);
        Ok(())
    })?;
    ctx.emit(
        Event::new(MODULE, "accepted")
            .with("transfer", id)
            .with("by", by),
    );
    Ok(())
}

fn answer_lien(
    ctx: &mut Ctx<'_>,
    id: u64,
    lien: u64,
    answer: LienAnswerArg,
) -> Result<(), UrbisError> {
    let by = ctx.sender();
    let answer = match answer {
        LienAnswerArg::Release => LienAnswer::Release,
        LienAnswerArg::Consent => LienAnswer::Consent,
    };
    act(ctx, id, |ctx, t| {
        let liens = liens_of(ctx, &t.parcel)?;
        let l = liens
            .iter()
            .find(|l| l.id == lien)
            .ok_or_else(|| err(ErrorCode::NotFound, format!("no lien {lien} on the parcel")))?;
        if l.bank != by {
            return Err(err(ErrorCode::Unauthorized, "only the lien's bank answers"));
        }
        if t.stage != Stage::Liens {
            return Err(out_of_turn(t));
        }
        if t.lien_answers.iter().any(|(i, _)| *i == lien) {
            return Err(err(ErrorCode::AlreadyExists, "already answered"));
        }
        t.lien_answers.push((lien, answer));
        Ok(())
    })?;
    let text = match answer {
        LienAnswer::Release => "release",
        LienAnswer::Consent => "consent",
    };
    ctx.emit(
        Event::new(MODULE, "lien_answered")
            .with("transfer", id)
            .with("lien", lien)
            .with("answer", text),
    );
    Ok(())
}

fn window_ms(ctx: &Ctx<'_>) -> Result<u64, UrbisError> {
    Ok(ctx
        .get(&keys::window())?
        .unwrap_or(DEFAULT_OBJECTION_WINDOW_MS))
}

fn approve(ctx: &mut Ctx<'_>, id: u64) -> Result<(), UrbisError> {
    require_registrar(ctx)?;
    let window = window_ms(ctx)?;
    let now = ctx.timestamp_ms();
    let t = act(ctx, id, |_, t| {
        if t.stage != Stage::Registrar {
            return Err(out_of_turn(t));
        }
        t.stage = Stage::Objection;
        t.objection_until_ms = Some(now.saturating_add(window));
        Ok(())
    })?;
    let until = t.objection_until_ms.unwrap_or(now);
    ctx.schedule_at(until, id.to_le_bytes().to_vec());
    ctx.emit(
        Event::new(MODULE, "approved")
            .with("transfer", id)
            .with("objection_until_ms", until),
    );
    Ok(())
}

fn object(ctx: &mut Ctx<'_>, id: u64, statement_hash: Hash) -> Result<(), UrbisError> {
    let by = ctx.sender();
    let now = ctx.timestamp_ms();
    let t = load_transfer(ctx, id)?;
    let parcel = load_parcel(ctx, &t.parcel)?;
    if !parcel.interested.contains(&by) {
        return Err(err(
            ErrorCode::Unauthorized,
            "only a registered interested party objects",
        ));
    }
    act(ctx, id, |_, t| {
        let open = t.stage == Stage::Objection && t.objection_until_ms.is_some_and(|u| now < u);
        if !open {
            return Err(err(ErrorCode::InvalidState, "no objection window is open"));
        }
        t.stage = Stage::Objected;
        t.objections.push((by, statement_hash));
        Ok(())
    })?;
    ctx.emit(
        Event::new(MODULE, "objected")
            .with("transfer", id)
            .with("by", by),
    );
    Ok(())
}

fn decide(ctx: &mut Ctx<'_>, id: u64, uphold: bool) -> Result<(), UrbisError> {
    require_registrar(ctx)?;
    let now = ctx.timestamp_ms();
    let window = window_ms(ctx)?;
    let t = act(ctx, id, |_, t| {
        if t.stage != Stage::Objected {
            return Err(err(
                ErrorCode::InvalidState,
                "there is no objection to decide",
            ));
        }
        if uphold {
            t.stage = Stage::Cancelled;
            t.closed_ms = Some(now);
        } else {
            // The window resumes: at least a full window from the decision, so other
            // interested parties can still be heard.
            t.stage = Stage::Objection;
            t.objection_until_ms = Some(now.saturating_add(window));
        }
        Ok(())
    })?;
    if uphold {
        free_parcel(ctx, &t.parcel)?;
    } else if let Some(until) = t.objection_until_ms {
        ctx.schedule_at(until, id.to_le_bytes().to_vec());
    }
    ctx.emit(
        Event::new(MODULE, "decided")
            .with("transfer", id)
            .with("upheld", uphold),
    );
    Ok(())
}

fn free_parcel(ctx: &mut Ctx<'_>, parcel_id: &str) -> Result<(), UrbisError> {
    let mut parcel = load_parcel(ctx, parcel_id)?;
    parcel.transfer = None;
    ctx.put(keys::parcel(parcel_id), &parcel);
    Ok(())
}

fn cancel(ctx: &mut Ctx<'_>, id: u64) -> Result<(), UrbisError> {
    let by = ctx.sender();
    let registrar = has_role(ctx, &by, Role::LandRegistrar)?;
    let now = ctx.timestamp_ms();
    let t = act(ctx, id, |_, t| {
        let party = t.sellers.contains(&by) || t.buyers.iter().any(|b| b.owner == by);
        if !party && !registrar {
            return Err(err(
                ErrorCode::Unauthorized,
                "only a party or the registrar cancels",
            ));
        }
        let before_approval = matches!(
            t.stage,
            Stage::Sellers | Stage::Buyers | Stage::Liens | Stage::Registrar
        );
        let open = !matches!(t.stage, Stage::Completed | Stage::Cancelled);
        if !open || (!registrar && !before_approval) {
            return Err(out_of_turn(t));
        }
        t.stage = Stage::Cancelled;
        t.closed_ms = Some(now);
        Ok(())
    })?;
    free_parcel(ctx, &t.parcel)?;
    ctx.emit(
        Event::new(MODULE, "cancelled")
            .with("transfer", id)
            .with("by", by),
    );
    Ok(())
}

/// The objection window of a transfer ended: change the title, unless it was stopped.
fn complete(ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
    let id = u64::from_le_bytes(
        payload
            .try_into()
            .map_err(|_| err(ErrorCode::Internal, "transfer job payload is not an id"))?,
    );
    let mut t = load_transfer(ctx, id)?;
    let now = ctx.timestamp_ms();
    if t.stage != Stage::Objection || t.objection_until_ms.is_none_or(|u| u > now) {
        return Ok(()); // objected, cancelled, or an earlier window's job
    }
    let mut parcel = load_parcel(ctx, &t.parcel)?;
    for s in &parcel.owners {
        ctx.delete(keys::owned(&s.owner, &parcel.id));
    }
    for b in &t.buyers {
        ctx.put(keys::owned(&b.owner, &parcel.id), &());
    }
    let liens: Vec<Lien> = liens_of(ctx, &parcel.id)?
        .into_iter()
        .filter(|l| {
            !t.lien_answers
                .iter()
                .any(|(i, a)| *i == l.id && *a == LienAnswer::Release)
        })
        .collect();
    put_liens(ctx, &parcel.id, &liens);
    parcel.owners = t.buyers.clone();
    parcel.transfer = None;
    record(ctx, &mut parcel, "transferred", Some(id));
    t.stage = Stage::Completed;
    t.closed_ms = Some(now);
    ctx.put(keys::transfer(id), &t);
    ctx.emit(
        Event::new(MODULE, "transferred")
            .with("parcel", parcel.id)
            .with("transfer", id),
    );
    Ok(())
}

fn json<T: Serialize>(v: &T) -> Result<serde_json::Value, UrbisError> {
    serde_json::to_value(v).map_err(|e| err(ErrorCode::Internal, e.to_string()))
}

fn set_window(ctx: &mut Ctx<'_>, ms: u64) -> Result<(), UrbisError> {
    if !(1_000..=365 * 86_400_000).contains(&ms) {
        return Err(invalid("the objection window is 1 s to 365 days"));
    }
    ctx.put(keys::window(), &ms);
    Ok(())
}

impl Module for Land {
    urbis_runtime::json_calls!(LandCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    /// Optional: `{"objection_window_ms": N}`.
    fn genesis(&self, ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        if config.is_null() {
            return Ok(());
        }
        let w = config
            .get("objection_window_ms")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| invalid("land genesis: {\"objection_window_ms\": N}"))?;
        ctx.put(keys::window(), &w);
        Ok(())
    }

    /// A parcel with 32 owners, liens and easements is a few KiB; a completion rewrites the
    /// owner index of up to 64 accounts.
    fn weight(&self, _data: &[u8]) -> u64 {
        300_000
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        let call: LandCall = kit::decode_call(data)?;
        match call {
            LandCall::RegisterParcel {
                id,
                geometry_hash,
                area_m2,
                owners,
                whole,
            } => register_parcel(ctx, id, geometry_hash, area_m2, owners, whole),
            LandCall::AddLien {
                parcel,
                bank,
                amount,
                deed_hash,
            } => add_lien(ctx, parcel, bank, amount, deed_hash),
            LandCall::AddEasement {
                parcel,
                beneficiary,
                kind,
                deed_hash,
            } => add_easement(ctx, parcel, beneficiary, kind, deed_hash),
            LandCall::AddInterested { parcel, party } => add_interested(ctx, parcel, party),
            LandCall::Propose {
                parcel,
                buyers,
                price,
                deed_hash,
            } => propose(ctx, parcel, buyers, price, deed_hash),
            LandCall::Sign { transfer } => sign(ctx, transfer),
            LandCall::Accept { transfer } => accept(ctx, transfer),
            LandCall::AnswerLien {
                transfer,
                lien,
                answer,
            } => answer_lien(ctx, transfer, lien, answer),
            LandCall::Approve { transfer } => approve(ctx, transfer),
            LandCall::Object {
                transfer,
                statement_hash,
            } => object(ctx, transfer, statement_hash),
            LandCall::Decide { transfer, uphold } => decide(ctx, transfer, uphold),
            LandCall::Cancel { transfer } => cancel(ctx, transfer),
            LandCall::SetObjectionWindow { ms } => {
                if !has_role(ctx, &ctx.sender(), Role::CityAdmin)? {
                    return Err(UrbisError::new(
                        ErrorCode::Unauthorized,
                        "the objection window is set by the city admin",
                    ));
                }
                set_window(ctx, ms)
            }
        }
    }

    /// The council sets `objection_window_ms` (a `kit::ParameterOp` from the governance
    /// module).
    fn exported(&self, ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        let kit::ParameterOp::Set { name, value } = kit::decode_call(op)?;
        if ctx.caller() != Some(kit::PARAMETER_SETTER) {
            return Err(UrbisError::new(
                ErrorCode::Unauthorized,
                "land parameters change by council decision only",
            ));
        }
        match name.as_str() {
            "objection_window_ms" => set_window(ctx, value)?,
            other => {
                return Err(invalid(format!(
                    "land has no parameter {other:.40?} (it has objection_window_ms)"
                )));
            }
        }
        Ok(Vec::new())
    }

    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        complete(ctx, payload)
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        match path {
            ["parcel", id] if id_ok(id) => Ok(keys::parcel(id)),
            ["liens", id] if id_ok(id) => Ok(keys::liens(id)),
            ["transfer", id] => Ok(keys::transfer(kit::parse_u64("transfer id", id)?)),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        let Some(bytes) = value else {
            return Ok(serde_json::Value::Null);
        };
        match path.first() {
            Some(&"parcel") => json(&decode_value::<Parcel>(&key, bytes)?),
            Some(&"liens") => json(&decode_value::<Vec<Lien>>(&key, bytes)?),
            _ => json(&decode_value::<Transfer>(&key, bytes)?),
        }
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(match path {
            ["history", id] if id_ok(id) => Some(keys::history_prefix(id)),
            ["owned", addr] => Some(keys::owned_prefix(&kit::parse_address(addr)?)),
            _ => None,
        })
    }

    fn render_item(
        &self,
        path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        match path.first() {
            Some(&"history") => json(&decode_value::<HistoryEntry>(key, value)?),
            _ => {
                let text = String::from_utf8_lossy(key);
                Ok(serde_json::Value::String(
                    text.rsplit('/').next().unwrap_or_default().to_string(),
                ))
            }
        }
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

#[cfg(test)]
mod tests;
