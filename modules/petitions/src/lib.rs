//! Petitions: a resident or a department opens a petition (a title, the SHA-256 of its full
//! text published elsewhere, a signature threshold, a closing time and the number of days the
//! council has to answer once the threshold is reached). Verified residents (accounts holding
//! the `citizen` role) sign it once each and may withdraw their signature until it closes.
//! The first time the count reaches the threshold the petition **qualifies**: the council must
//! answer within the answer window, or the scheduler marks the petition **overdue** when the
//! deadline passes. The council answers by an approved proposal of the governance module
//! (`answer_petition`, executed after its timelock through [`PetitionsOp::CouncilAnswer`]); the
//! city admin may also record an answer the council gave elsewhere. The answer is a decision
//! and the hash of its text. Counts and signatures are state, so every figure is provable.
//!
//! A petition that qualified stays qualified if signatures are later withdrawn (the duty to
//! answer arose when the threshold was reached).
//!
//! | key | value (borsh) |
//! |---|---|
//! | `petitions/petition/<id hex>` | [`Petition`] |
//! | `petitions/signature/<id hex>/<address>` | `u64`: when it was signed (ms) |
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `open {title, body_hash, threshold, closes_ms, answer_days}` | a citizen or a department | `unauthorized`, `invalid_argument` |
//! | `sign {id}` | a citizen | `unauthorized`, `not_found`, `invalid_state` (closed), `already_exists` |
//! | `withdraw {id}` | a citizen who signed | `not_found` (petition or signature), `invalid_state` (closed) |
//! | `answer {id, accepted, answer_hash}` | city admin | `unauthorized`, `not_found`, `invalid_state` (not qualified, or answered) |
//! | [`PetitionsOp::CouncilAnswer`] (exported) | the governance module, executing a council proposal | `unauthorized`, then as `answer` |
//!
//! Events: `opened {id, author}`, `signed {id, count}`, `withdrawn {id, count}`,
//! `qualified {id, answer_due_ms}`, `closed {id, count}`, `answered {id, accepted, by}` (`by`:
//! `council` or `city_admin`),
//! `overdue {id}`.
//!
//! Queries: `petition/<id>`, `signature/<id>/<address>` (`null`: not signed, provably),
//! `petitions` (list).

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo, decode_value};

/// Namespace and module name.
pub const MODULE: &str = "petitions";
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Largest signature threshold.
pub const MAX_THRESHOLD: u64 = 10_000_000;
/// Longest a petition stays open, and longest answer window: a year.
pub const MAX_SPAN_MS: u64 = 365 * DAY_MS;
const DAY_MS: u64 = 86_400_000;

/// Where a petition stands.
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
pub enum Status {
    /// Collecting signatures, threshold not reached.
    Open,
    /// Threshold reached: the council must answer by `answer_due_ms`.
    Qualified,
    /// Closed without reaching the threshold.
    Closed,
    /// The council answered.
    Answered,
    /// Qualified, and the answer deadline passed without an answer.
    Overdue,
}

/// A petition.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Petition {
    pub id: Hash,
    pub title: String,
    pub body_hash: Hash,
    pub author: Address,
    pub threshold: u64,
    pub signatures: u64,
    pub opened_ms: u64,
    pub closes_ms: u64,
    pub answer_days: u64,
    pub status: Status,
    pub qualified_ms: Option<u64>,
    pub answer_due_ms: Option<u64>,
    /// The council's decision and the hash of its text, once answered.
    pub accepted: Option<bool>,
    pub answer_hash: Option<Hash>,
    pub answered_ms: Option<u64>,
}

/// A call to the petitions module (borsh in transactions; never reorder, only append).
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
pub enum PetitionsCall {
    Open {
        title: String,
        body_hash: Hash,
        threshold: u64,
        closes_ms: u64,
        answer_days: u64,
    },
    Sign {
        id: Hash,
    },
    Withdraw {
        id: Hash,
    },
    Answer {
        id: Hash,
        accepted: bool,
        answer_hash: Hash,
    },
}

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::{Address, Hash};
    use urbis_runtime::kit;

    pub fn petition(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"petition", id])
    }
    pub fn petitions() -> Vec<u8> {
        kit::prefix(MODULE, &[&"petition"])
    }
    pub fn signature(id: &Hash, who: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"signature", id, who])
    }
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Petitions signed once per resident; reaching the threshold obliges the council to answer by a deadline.",
    queries: &[
        QueryInfo {
            path: "petition/<id>",
            list: false,
            description: "A petition: its count, status and the council's answer.",
        },
        QueryInfo {
            path: "signature/<id>/<address>",
            list: false,
            description: "When an account signed a petition; null if it has not (provably).",
        },
        QueryInfo {
            path: "petitions",
            list: true,
            description: "Every petition.",
        },
    ],
    events: &[
        EventInfo {
            kind: "opened",
            attributes: &["id", "author"],
            description: "A petition was opened.",
        },
        EventInfo {
            kind: "signed",
            attributes: &["id", "count"],
            description: "A resident signed.",
        },
        EventInfo {
            kind: "withdrawn",
            attributes: &["id", "count"],
            description: "A resident withdrew a signature.",
        },
        EventInfo {
            kind: "qualified",
            attributes: &["id", "answer_due_ms"],
            description: "The threshold was reached: the council must answer.",
        },
        EventInfo {
            kind: "closed",
            attributes: &["id", "count"],
            description: "The petition closed without reaching its threshold.",
        },
        EventInfo {
            kind: "answered",
            attributes: &["id", "accepted"],
            description: "The council answered.",
        },
        EventInfo {
            kind: "overdue",
            attributes: &["id"],
            description: "The answer deadline passed without an answer.",
        },
    ],
    exported: &[],
};

/// The petitions module.
pub struct Petitions;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Petitions)
}

fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

/// Scheduled work: the petition closes, or its answer falls due.
const CLOSE: u8 = 0;
const ANSWER_DUE: u8 = 1;

fn job(kind: u8, id: &Hash) -> Vec<u8> {
    let mut p = vec![kind];
    p.extend_from_slice(&id.0);
    p
}

fn load(ctx: &Ctx<'_>, id: &Hash) -> Result<Petition, UrbisError> {
    ctx.get(&keys::petition(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no petition {id}")))
}

fn open(
    ctx: &mut Ctx<'_>,
    title: String,
    body_hash: Hash,
    threshold: u64,
    closes_ms: u64,
    answer_days: u64,
) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !(has_role(ctx, &sender, Role::Citizen)? || has_role(ctx, &sender, Role::Department)?) {
        return Err(err(
            ErrorCode::Unauthorized,
            "petitions are opened by residents and departments",
        ));
    }
    let bad = |m: &str| err(ErrorCode::InvalidArgument, m);
    let chars = title.chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(bad(
            "a title has 1 to 200 characters and no control characters",
        ));
    }
    if threshold == 0 || threshold > MAX_THRESHOLD {
        return Err(bad("the threshold is 1 to 10,000,000 signatures"));
    }
    let now = ctx.timestamp_ms();
    if closes_ms <= now || closes_ms - now > MAX_SPAN_MS {
        return Err(bad("a petition closes in the future, within a year"));
    }
    if answer_days == 0 || answer_days * DAY_MS > MAX_SPAN_MS {
        return Err(bad("the council answers within 1 to 365 days"));
    }
    let id = ctx.new_id();
    let p = Petition {
        id,
        title,
        body_hash,
        author: sender,
        threshold,
        signatures: 0,
        opened_ms: now,
        closes_ms,
        answer_days,
        status: Status::Open,
        qualified_ms: None,
        answer_due_ms: None,
        accepted: None,
        answer_hash: None,
        answered_ms: None,
    };
    ctx.put(keys::petition(&id), &p);
    ctx.schedule_at(closes_ms, job(CLOSE, &id));
    ctx.emit(
        Event::new(MODULE, "opened")
            .with("id", id)
            .with("author", sender),
    );
    Ok(())
}

fn collecting(ctx: &Ctx<'_>, p: &Petition) -> Result<(), UrbisError> {
    if ctx.timestamp_ms() >= p.closes_ms || p.status == Status::Closed {
        return Err(err(ErrorCode::InvalidState, "the petition is closed"));
    }
    Ok(())
}

fn sign(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !has_role(ctx, &sender, Role::Citizen)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "petitions are signed by verified residents",
        ));
    }
    let mut p = load(ctx, &id)?;
    collecting(ctx, &p)?;
    let key = keys::signature(&id, &sender);
    if ctx.get_raw(&key)?.is_some() {
        return Err(err(
            ErrorCode::AlreadyExists,
            "you have already signed this petition",
        ));
    }
    let now = ctx.timestamp_ms();
    ctx.put(key, &now);
    p.signatures += 1;
    ctx.emit(
        Event::new(MODULE, "signed")
            .with("id", id)
            .with("count", p.signatures),
    );
    if p.status == Status::Open && p.signatures >= p.threshold {
        let due = now.saturating_add(p.answer_days * DAY_MS);
        p.status = Status::Qualified;
        p.qualified_ms = Some(now);
        p.answer_due_ms = Some(due);
        ctx.schedule_at(due, job(ANSWER_DUE, &id));
        ctx.emit(
            Event::new(MODULE, "qualified")
                .with("id", id)
                .with("answer_due_ms", due),
        );
    }
    ctx.put(keys::petition(&id), &p);
    Ok(())
}

fn withdraw(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    let mut p = load(ctx, &id)?;
    let key = keys::signature(&id, &sender);
    if ctx.get_raw(&key)?.is_none() {
        return Err(err(
            ErrorCode::NotFound,
            "you have not signed this petition",
        ));
    }
    collecting(ctx, &p)?;
    ctx.delete(key);
    p.signatures -= 1;
    ctx.put(keys::petition(&id), &p);
    ctx.emit(
        Event::new(MODULE, "withdrawn")
            .with("id", id)
            .with("count", p.signatures),
    );
    Ok(())
}

fn answer(
    ctx: &mut Ctx<'_>,
    id: Hash,
    accepted: bool,
    answer_hash: Hash,
) -> Result<(), UrbisError> {
    if !has_role(ctx, &ctx.sender(), Role::CityAdmin)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "the council's answer is recorded by the city admin",
        ));
    }
    record_answer(ctx, id, accepted, answer_hash, "city_admin")
}

fn record_answer(
    ctx: &mut Ctx<'_>,
    id: Hash,
    accepted: bool,
    answer_hash: Hash,
    by: &str,
) -> Result<(), UrbisError> {
    let mut p = load(ctx, &id)?;
    if !matches!(p.status, Status::Qualified | Status::Overdue) {
        return Err(err(
            ErrorCode::InvalidState,
            "only a qualified petition awaits an answer",
        ));
    }
    p.status = Status::Answered;
    p.accepted = Some(accepted);
    p.answer_hash = Some(answer_hash);
    p.answered_ms = Some(ctx.timestamp_ms());
    ctx.put(keys::petition(&id), &p);
    ctx.emit(
        Event::new(MODULE, "answered")
            .with("id", id)
            .with("accepted", accepted)
            .with("by", by),
    );
    Ok(())
}

/// The module whose council answers petitions (through [`PetitionsOp::CouncilAnswer`]).
pub const COUNCIL_MODULE: &str = "governance";

/// Operations other modules call through `Ctx::invoke` (borsh; never reorder, only append).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum PetitionsOp {
    /// The council's answer (only the governance module, executing an approved proposal).
    CouncilAnswer {
        id: Hash,
        accepted: bool,
        answer_hash: Hash,
    },
}

impl Module for Petitions {
    urbis_runtime::json_calls!(PetitionsCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        kit::no_genesis(MODULE, config)
    }

    /// A call reads the sender's account, one petition and one signature, writes both and
    /// may schedule one job: well under 60,000.
    fn weight(&self, _data: &[u8]) -> u64 {
        60_000
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        match kit::decode_call(data)? {
            PetitionsCall::Open {
                title,
                body_hash,
                threshold,
                closes_ms,
                answer_days,
            } => open(ctx, title, body_hash, threshold, closes_ms, answer_days),
            PetitionsCall::Sign { id } => sign(ctx, id),
            PetitionsCall::Withdraw { id } => withdraw(ctx, id),
            PetitionsCall::Answer {
                id,
                accepted,
                answer_hash,
            } => answer(ctx, id, accepted, answer_hash),
        }
    }

    fn exported(&self, ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        let op: PetitionsOp = kit::decode_call(op)?;
        if ctx.caller() != Some(COUNCIL_MODULE) {
            return Err(err(
                ErrorCode::Unauthorized,
                "the council answers through the governance module only",
            ));
        }
        match op {
            PetitionsOp::CouncilAnswer {
                id,
                accepted,
                answer_hash,
            } => record_answer(ctx, id, accepted, answer_hash, "council")?,
        }
        Ok(Vec::new())
    }

    /// The petition closes (unqualified ones end there), or its answer falls due.
    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        let (&kind, id) = payload
            .split_first()
            .ok_or_else(|| err(ErrorCode::Internal, "empty petitions job"))?;
        let id = Hash(
            id.try_into()
                .map_err(|_| err(ErrorCode::Internal, "petitions job without an id"))?,
        );
        let Some(mut p) = ctx.get::<Petition>(&keys::petition(&id))? else {
            return Ok(());
        };
        match (kind, p.status) {
            (CLOSE, Status::Open) => {
                p.status = Status::Closed;
                ctx.emit(
                    Event::new(MODULE, "closed")
                        .with("id", id)
                        .with("count", p.signatures),
                );
            }
            (ANSWER_DUE, Status::Qualified) => {
                p.status = Status::Overdue;
                ctx.emit(Event::new(MODULE, "overdue").with("id", id));
            }
            _ => return Ok(()),
        }
        ctx.put(keys::petition(&id), &p);
        Ok(())
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        let id = |t: &str| kit::parse_hash("a petition id", t);
        match path {
            ["petition", p] => Ok(keys::petition(&id(p)?)),
            ["signature", p, who] => Ok(keys::signature(&id(p)?, &kit::parse_address(who)?)),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        let Some(bytes) = value else {
            return Ok(serde_json::Value::Null);
        };
        let v = match path.first() {
            Some(&"signature") => {
                serde_json::json!({"signed_ms": decode_value::<u64>(&key, bytes)?})
            }
            _ => serde_json::to_value(decode_value::<Petition>(&key, bytes)?)
                .map_err(|e| err(ErrorCode::Internal, e.to_string()))?,
        };
        Ok(v)
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(match path {
            ["petitions"] => Some(keys::petitions()),
            _ => None,
        })
    }

    fn render_item(
        &self,
        _path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        serde_json::to_value(decode_value::<Petition>(key, value)?)
            .map_err(|e| err(ErrorCode::Internal, e.to_string()))
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

#[cfg(test)]
mod tests;
