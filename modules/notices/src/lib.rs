//! Public notices: the city's notice board, and the worked example of "How to write a module"
//! in ARCHITECTURE.md (every part of the module contract in one small crate).
//!
//! A department (or the city admin) posts a notice: a short title and the SHA-256 of the full
//! text, which is published elsewhere (the portal, a PDF on the city's site); anyone can check
//! that the text they read is the one posted, and when. The chain never holds the text itself.
//! A notice may carry an expiry: the scheduler removes it at the first block at or after that
//! time. Its author or a city admin may withdraw it earlier.
//!
//! A notice published with `publish` also has a **category** (e.g. `roadworks`, `water`,
//! `elections`) and optionally a **district**, both carried as indexed event attributes
//! (`category_id`, `district_id`) so that residents follow what concerns them (the live stream
//! `GET /v1/events?module=notices&object=<district>`, or the history
//! `GET /v1/events/search?module=notices&object=<category>`), and may ask residents to **acknowledge** it: each citizen account
//! acknowledges once, provably, and the notice counts the acknowledgements.
//!
//! | call (JSON `call`) | who | effect |
//! |---|---|---|
//! | `post {title, body_hash, expires_ms?}` | department, city admin | stores a notice with a fresh id (category `general`); event `posted` |
//! | `publish {title, body_hash, category, district?, expires_ms?, ack_required}` | department, city admin | the same, with its category, district and whether residents acknowledge it |
//! | `withdraw {id}` | its author, city admin | removes it; event `withdrawn` |
//! | `acknowledge {id}` | a citizen, once, if asked | records when; event `acknowledged` |
//!
//! | key | value (borsh) |
//! |---|---|
//! | `notices/notice/<id hex>` | [`Notice`] |
//! | `notices/meta/<id hex>` | [`NoticeMeta`] (category, district, acknowledgements) |
//! | `notices/ack/<id hex>/<address>` | `u64`: when it was acknowledged |
//!
//! Queries: `notice/<id>` (one notice, `null` once gone), `meta/<id>`, `ack/<id>/<address>`
//! (`null`: not acknowledged, provably), `notices` (a page of the board).
//! Errors: a title that is empty or longer than [`MAX_TITLE_CHARS`], or an expiry not in the
//! future, is `invalid_argument`; an unknown id `not_found`; anyone else `unauthorized`.

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo, decode_value};

/// Namespace and module name.
pub const MODULE: &str = "notices";

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

/// A call to the notice board (borsh in transactions; never reorder, only append).
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
pub enum NoticesCall {
    /// Post a notice; `body_hash` is the SHA-256 of its full text, `expires_ms` (block time,
    /// milliseconds since the epoch) when it comes down by itself.
    Post {
        title: String,
        body_hash: Hash,
        #[serde(default)]
        expires_ms: Option<u64>,
    },
    /// Take a notice down before its time.
    Withdraw { id: Hash },
    /// Post a notice with its category (1-32 of a-z 0-9 -), optional district (the same
    /// alphabet) and whether residents are asked to acknowledge it.
    Publish {
        title: String,
        body_hash: Hash,
        category: String,
        #[serde(default)]
        district: Option<String>,
        #[serde(default)]
        expires_ms: Option<u64>,
        #[serde(default)]
        ack_required: bool,
    },
    /// Acknowledge a notice that asks for it (a resident, once).
    Acknowledge { id: Hash },
}

/// What `publish` adds to a notice.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct NoticeMeta {
    pub category: String,
    pub district: Option<String>,
    pub ack_required: bool,
    pub acknowledgements: u64,
}

fn meta_key(id: &Hash) -> Vec<u8> {
    kit::key(MODULE, &[&"meta", id])
}

fn ack_key(id: &Hash, who: &Address) -> Vec<u8> {
    kit::key(MODULE, &[&"ack", id, who])
}

/// A category or district name: 1-32 of a-z, 0-9 and `-`.
fn tag_ok(t: &str) -> bool {
    (1..=32).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A notice on the board.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Notice {
    pub id: Hash,
    pub title: String,
    pub body_hash: Hash,
    pub author: Address,
    pub posted_ms: u64,
    pub expires_ms: Option<u64>,
}

fn notice_key(id: &Hash) -> Vec<u8> {
    kit::key(MODULE, &[&"notice", id])
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Public notices: a title and the hash of the full text, posted by departments, withdrawn or expired.",
    queries: &[
        QueryInfo {
            path: "notice/<id>",
            list: false,
            description: "One notice; null once withdrawn or expired.",
        },
        QueryInfo {
            path: "meta/<id>",
            list: false,
            description: "A published notice's category, district and acknowledgements.",
        },
        QueryInfo {
            path: "ack/<id>/<address>",
            list: false,
            description: "When an account acknowledged a notice; null if it has not (provably).",
        },
        QueryInfo {
            path: "notices",
            list: true,
            description: "The notices on the board, by id.",
        },
    ],
    events: &[
        EventInfo {
            kind: "posted",
            attributes: &["id", "author", "body_hash", "category_id", "district_id"],
            description: "A notice went up (category and district when published with them).",
        },
        EventInfo {
            kind: "acknowledged",
            attributes: &["id", "count"],
            description: "A resident acknowledged a notice.",
        },
        EventInfo {
            kind: "withdrawn",
            attributes: &["id", "by"],
            description: "A notice was taken down by hand.",
        },
        EventInfo {
            kind: "expired",
            attributes: &["id"],
            description: "A notice came down at its expiry.",
        },
    ],
    exported: &["publish"],
};

/// The notices module.
pub struct Notices;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Notices)
}

fn may_post(ctx: &Ctx<'_>, who: &Address) -> Result<bool, UrbisError> {
    Ok(has_role(ctx, who, Role::Department)? || has_role(ctx, who, Role::CityAdmin)?)
}

fn invalid(msg: impl Into<String>) -> UrbisError {
    UrbisError::new(ErrorCode::InvalidArgument, msg)
}

fn post(
    ctx: &mut Ctx<'_>,
    title: String,
    body_hash: Hash,
    expires_ms: Option<u64>,
    meta: Option<NoticeMeta>,
) -> Result<(), UrbisError> {
    if !may_post(ctx, &ctx.sender())? {
        return Err(UrbisError::new(
            ErrorCode::Unauthorized,
            "posting a notice requires the department or city_admin role",
        ));
    }
    write_notice(ctx, title, body_hash, expires_ms, meta)
}

/// The module whose workflows may publish notices (through [`NoticesOp::Publish`]).
pub const PUBLISHER_MODULE: &str = "governance";

/// Operations other modules call through `Ctx::invoke` (borsh; never reorder, only append).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum NoticesOp {
    /// Publish a notice on behalf of a workflow step (only the governance module).
    Publish {
        title: String,
        body_hash: Hash,
        expires_ms: Option<u64>,
        category: String,
        district: Option<String>,
    },
}

fn exported_op(ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
    let op: NoticesOp = kit::decode_call(op)?;
    if ctx.caller() != Some(PUBLISHER_MODULE) {
        return Err(UrbisError::new(
            ErrorCode::Unauthorized,
            "only the governance module's workflows publish notices this way",
        ));
    }
    match op {
        NoticesOp::Publish {
            title,
            body_hash,
            expires_ms,
            category,
            district,
        } => write_notice(
            ctx,
            title,
            body_hash,
            expires_ms,
            Some(NoticeMeta {
                category,
                district,
                ack_required: false,
                acknowledgements: 0,
            }),
        )?,
    }
    Ok(Vec::new())
}

fn write_notice(
    ctx: &mut Ctx<'_>,
    title: String,
    body_hash: Hash,
    expires_ms: Option<u64>,
    meta: Option<NoticeMeta>,
) -> Result<(), UrbisError> {
    let chars = title.chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(invalid(format!(
            "a title has 1 to {MAX_TITLE_CHARS} characters and no control characters"
        )));
    }
    if let Some(t) = expires_ms
        && t <= ctx.timestamp_ms()
    {
        return Err(invalid("expires_ms must be later than the block time"));
    }
    if let Some(m) = &meta
        && (!tag_ok(&m.category) || m.district.as_deref().is_some_and(|d| !tag_ok(d)))
    {
        return Err(invalid(
            "a category or district is 1 to 32 of a-z, 0-9 and -",
        ));
    }
    let id = ctx.new_id();
    let notice = Notice {
        id,
        title,
        body_hash,
        author: ctx.sender(),
        posted_ms: ctx.timestamp_ms(),
        expires_ms,
    };
    ctx.put(notice_key(&id), &notice);
    if let Some(t) = expires_ms {
        ctx.schedule_at(t, id.0.to_vec());
    }
    let mut event = Event::new(MODULE, "posted")
        .with("id", id)
        .with("author", notice.author)
        .with("body_hash", body_hash);
    if let Some(m) = meta {
        event = event.with("category_id", m.category.clone());
        if let Some(d) = &m.district {
            event = event.with("district_id", d.clone());
        }
        ctx.put(meta_key(&id), &m);
    }
    ctx.emit(event);
    Ok(())
}

fn acknowledge(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !has_role(ctx, &sender, Role::Citizen)? {
        return Err(UrbisError::new(
            ErrorCode::Unauthorized,
            "notices are acknowledged by residents",
        ));
    }
    if ctx.get_raw(&notice_key(&id))?.is_none() {
        return Err(UrbisError::new(
            ErrorCode::NotFound,
            format!("no notice {id}"),
        ));
    }
    let mut meta: NoticeMeta = ctx
        .get(&meta_key(&id))?
        .filter(|m: &NoticeMeta| m.ack_required)
        .ok_or_else(|| {
            UrbisError::new(
                ErrorCode::InvalidState,
                "this notice asks for no acknowledgement",
            )
        })?;
    let key = ack_key(&id, &sender);
    if ctx.get_raw(&key)?.is_some() {
        return Err(UrbisError::new(
            ErrorCode::AlreadyExists,
            "you have already acknowledged this notice",
        ));
    }
    ctx.put(key, &ctx.timestamp_ms());
    meta.acknowledgements += 1;
    ctx.put(meta_key(&id), &meta);
    ctx.emit(
        Event::new(MODULE, "acknowledged")
            .with("id", id)
            .with("count", meta.acknowledgements),
    );
    Ok(())
}

fn withdraw(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let notice: Notice = ctx
        .get(&notice_key(&id))?
        .ok_or_else(|| UrbisError::new(ErrorCode::NotFound, format!("no notice {id}")))?;
    let sender = ctx.sender();
    if notice.author != sender && !has_role(ctx, &sender, Role::CityAdmin)? {
        return Err(UrbisError::new(
            ErrorCode::Unauthorized,
            "only its author or a city admin may withdraw a notice",
        ));
    }
    ctx.delete(notice_key(&id));
    ctx.emit(
        Event::new(MODULE, "withdrawn")
            .with("id", id)
            .with("by", sender),
    );
    Ok(())
}

impl Module for Notices {
    urbis_runtime::json_calls!(NoticesCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        kit::no_genesis(MODULE, config)
    }

    /// A post reads the sender's account, writes one notice (its title at most 120 characters,
    /// up to 4 bytes each), schedules its expiry and emits one event: well under 60,000.
    fn weight(&self, _data: &[u8]) -> u64 {
        60_000
    }

    fn exported(&self, ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        exported_op(ctx, op)
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        let call: NoticesCall = kit::decode_call(data)?;
        match call {
            NoticesCall::Post {
                title,
                body_hash,
                expires_ms,
            } => post(ctx, title, body_hash, expires_ms, None),
            NoticesCall::Publish {
                title,
                body_hash,
                category,
                district,
                expires_ms,
                ack_required,
            } => {
                let meta = NoticeMeta {
                    category,
                    district,
                    ack_required,
                    acknowledgements: 0,
                };
                post(ctx, title, body_hash, expires_ms, Some(meta))
            }
            NoticesCall::Withdraw { id } => withdraw(ctx, id),
            NoticesCall::Acknowledge { id } => acknowledge(ctx, id),
        }
    }

    /// An expiry is due: take the notice down if it is still up.
    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        let id =
            Hash(payload.try_into().map_err(|_| {
                UrbisError::new(ErrorCode::Internal, "expiry payload is not an id")
            })?);
        if ctx.get_raw(&notice_key(&id))?.is_some() {
            ctx.delete(notice_key(&id));
            ctx.emit(Event::new(MODULE, "expired").with("id", id));
        }
        Ok(())
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        let id = |t: &str| kit::parse_hash("a notice id", t);
        match path {
            ["notice", n] => Ok(notice_key(&id(n)?)),
            ["meta", n] => Ok(meta_key(&id(n)?)),
            ["ack", n, who] => Ok(ack_key(&id(n)?, &kit::parse_address(who)?)),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        let Some(bytes) = value else {
            return Ok(serde_json::Value::Null);
        };
        match path.first() {
            Some(&"meta") => serde_json::to_value(decode_value::<NoticeMeta>(&key, bytes)?),
            Some(&"ack") => {
                Ok(serde_json::json!({"acknowledged_ms": decode_value::<u64>(&key, bytes)?}))
            }
            _ => serde_json::to_value(decode_value::<Notice>(&key, bytes)?),
        }
        .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(match path {
            ["notices"] => Some(kit::prefix(MODULE, &[&"notice"])),
            _ => None,
        })
    }

    fn render_item(
        &self,
        _path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        serde_json::to_value(decode_value::<Notice>(key, value)?)
            .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

#[cfg(test)]
mod tests;
