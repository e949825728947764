//! Consultations and polls: a department (or the city admin) asks a question with 2 to
//! [`MAX_OPTIONS`] options and a closing time; each verified resident (an account holding the
//! `citizen` role) responds once, choosing one option and optionally attaching the SHA-256 of
//! a comment published elsewhere. The counts per option are kept in the poll itself, so the
//! results — and each response — are provable at any time; the scheduler closes the poll.
//!
//! | key | value (borsh) |
//! |---|---|
//! | `polls/poll/<id hex>` | [`Poll`] (with the running counts) |
//! | `polls/response/<id hex>/<address>` | [`Response`] |
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `create {question, options, closes_ms}` | department, city admin | `unauthorized`, `invalid_argument` |
//! | `respond {id, option, comment_hash?}` | a citizen, once | `unauthorized`, `not_found`, `invalid_state` (closed), `invalid_argument` (no such option), `already_exists` |
//!
//! Events: `created {id}`, `responded {id}` (not the option: the count is in state),
//! `closed {id}`.
//!
//! Queries: `poll/<id>`, `response/<id>/<address>` (`null`: no response, provably), `polls`.
//!
//! What an observer learns: who (which citizen account) responded what. Responses are public
//! like a show of hands; a secret ballot is what the voting module is for.

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo, decode_value};

/// Namespace and module name.
pub const MODULE: &str = "polls";
/// Most options of one poll.
pub const MAX_OPTIONS: usize = 16;
/// Longest question, and longest option, in characters.
pub const MAX_QUESTION_CHARS: usize = 300;
pub const MAX_OPTION_CHARS: usize = 100;
/// Longest a poll stays open: a year.
pub const MAX_SPAN_MS: u64 = 365 * 86_400_000;

/// A poll and its running results.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Poll {
    pub id: Hash,
    pub question: String,
    pub options: Vec<String>,
    /// Responses per option, in option order.
    pub counts: Vec<u64>,
    pub responses: u64,
    pub author: Address,
    pub opened_ms: u64,
    pub closes_ms: u64,
    pub closed: bool,
}

/// One resident's response.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Response {
    pub option: u32,
    pub comment_hash: Option<Hash>,
    pub at_ms: u64,
}

/// A call to the polls module (borsh in transactions; never reorder, only append).
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
pub enum PollsCall {
    Create {
        question: String,
        options: Vec<String>,
        closes_ms: u64,
    },
    Respond {
        id: Hash,
        /// Index into the options, from 0.
        option: u32,
        #[serde(default)]
        comment_hash: Option<Hash>,
    },
}

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::{Address, Hash};
    use urbis_runtime::kit;

    pub fn poll(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"poll", id])
    }
    pub fn polls() -> Vec<u8> {
        kit::prefix(MODULE, &[&"poll"])
    }
    pub fn response(id: &Hash, who: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"response", id, who])
    }
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Consultations and polls: one response per resident, results kept in state and provable.",
    queries: &[
        QueryInfo {
            path: "poll/<id>",
            list: false,
            description: "A poll with its counts per option.",
        },
        QueryInfo {
            path: "response/<id>/<address>",
            list: false,
            description: "An account's response; null if it has not responded (provably).",
        },
        QueryInfo {
            path: "polls",
            list: true,
            description: "Every poll.",
        },
    ],
    events: &[
        EventInfo {
            kind: "created",
            attributes: &["id"],
            description: "A poll was opened.",
        },
        EventInfo {
            kind: "responded",
            attributes: &["id"],
            description: "A resident responded.",
        },
        EventInfo {
            kind: "closed",
            attributes: &["id"],
            description: "A poll closed; its counts are final.",
        },
    ],
    exported: &[],
};

/// The polls module.
pub struct Polls;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Polls)
}

fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

fn text_ok(t: &str, max: usize) -> bool {
    let n = t.chars().count();
    n > 0 && n <= max && !t.chars().any(char::is_control)
}

fn create(
    ctx: &mut Ctx<'_>,
    question: String,
    options: Vec<String>,
    closes_ms: u64,
) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !(has_role(ctx, &sender, Role::Department)? || has_role(ctx, &sender, Role::CityAdmin)?) {
        return Err(err(
            ErrorCode::Unauthorized,
            "polls are opened by departments and the city admin",
        ));
    }
    let bad = |m: &str| err(ErrorCode::InvalidArgument, m);
    if !text_ok(&question, MAX_QUESTION_CHARS) {
        return Err(bad("a question has 1 to 300 characters"));
    }
    if options.len() < 2
        || options.len() > MAX_OPTIONS
        || !options.iter().all(|o| text_ok(o, MAX_OPTION_CHARS))
    {
        return Err(bad("a poll has 2 to 16 options of 1 to 100 characters"));
    }
    let mut distinct = options.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() != options.len() {
        return Err(bad("an option is listed twice"));
    }
    let now = ctx.timestamp_ms();
    if closes_ms <= now || closes_ms - now > MAX_SPAN_MS {
        return Err(bad("a poll closes in the future, within a year"));
    }
    let id = ctx.new_id();
    let poll = Poll {
        id,
        question,
        counts: vec![0; options.len()],
        options,
        responses: 0,
        author: sender,
        opened_ms: now,
        closes_ms,
        closed: false,
    };
    ctx.put(keys::poll(&id), &poll);
    ctx.schedule_at(closes_ms, id.0.to_vec());
    ctx.emit(Event::new(MODULE, "created").with("id", id));
    Ok(())
}

fn respond(
    ctx: &mut Ctx<'_>,
    id: Hash,
    option: u32,
    comment_hash: Option<Hash>,
) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !has_role(ctx, &sender, Role::Citizen)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "polls are answered by verified residents",
        ));
    }
    let mut poll: Poll = ctx
        .get(&keys::poll(&id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no poll {id}")))?;
    let now = ctx.timestamp_ms();
    if poll.closed || now >= poll.closes_ms {
        return Err(err(ErrorCode::InvalidState, "the poll is closed"));
    }
    let slot = poll
        .counts
        .get_mut(option as usize)
        .ok_or_else(|| err(ErrorCode::InvalidArgument, "no such option"))?;
    let key = keys::response(&id, &sender);
    if ctx.get_raw(&key)?.is_some() {
        return Err(err(
            ErrorCode::AlreadyExists,
            "you have already responded to this poll",
        ));
    }
    *slot += 1;
    poll.responses += 1;
    ctx.put(
        key,
        &Response {
            option,
            comment_hash,
            at_ms: now,
        },
    );
    ctx.put(keys::poll(&id), &poll);
    ctx.emit(Event::new(MODULE, "responded").with("id", id));
    Ok(())
}

impl Module for Polls {
    urbis_runtime::json_calls!(PollsCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        kit::no_genesis(MODULE, config)
    }

    /// A poll holds at most 16 options of 100 characters; a response reads and writes it.
    fn weight(&self, _data: &[u8]) -> u64 {
        60_000
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        match kit::decode_call(data)? {
            PollsCall::Create {
                question,
                options,
                closes_ms,
            } => create(ctx, question, options, closes_ms),
            PollsCall::Respond {
                id,
                option,
                comment_hash,
            } => respond(ctx, id, option, comment_hash),
        }
    }

    /// The poll closes: its counts are final.
    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        let id = Hash(
            payload
                .try_into()
                .map_err(|_| err(ErrorCode::Internal, "poll job without an id"))?,
        );
        if let Some(mut poll) = ctx.get::<Poll>(&keys::poll(&id))?
            && !poll.closed
        {
            poll.closed = true;
            ctx.put(keys::poll(&id), &poll);
            ctx.emit(Event::new(MODULE, "closed").with("id", id));
        }
        Ok(())
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        let id = |t: &str| kit::parse_hash("a poll id", t);
        match path {
            ["poll", p] => Ok(keys::poll(&id(p)?)),
            ["response", p, who] => Ok(keys::response(&id(p)?, &kit::parse_address(who)?)),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        let Some(bytes) = value else {
            return Ok(serde_json::Value::Null);
        };
        match path.first() {
            Some(&"response") => serde_json::to_value(decode_value::<Response>(&key, bytes)?),
            _ => serde_json::to_value(decode_value::<Poll>(&key, bytes)?),
        }
        .map_err(|e| err(ErrorCode::Internal, e.to_string()))
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(match path {
            ["polls"] => Some(keys::polls()),
            _ => None,
        })
    }

    fn render_item(
        &self,
        _path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        serde_json::to_value(decode_value::<Poll>(key, value)?)
            .map_err(|e| err(ErrorCode::Internal, e.to_string()))
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

#[cfg(test)]
mod tests;
