//! The Urbis eco-reward token (`"rewards"`).
//!
//! The city runs reward *programs* (recycling, public transport, energy saving, …). A
//! department awards a program's tokens to registered citizens for good behaviour; citizens
//! spend them at registered merchants, which burns them. Roles come from the accounts module
//! ([`urbis_accounts`]).
//!
//! # Tokens are per program
//!
//! A balance is always a balance *in a program*: an account's [`Holdings`] map program id to
//! amount. That is what lets a program be non-transferable (its tokens can only be earned and
//! redeemed, never moved between accounts) while another program's tokens circulate freely.
//!
//! # State
//!
//! | key                                          | value (borsh)                 |
//! |----------------------------------------------|-------------------------------|
//! | `rewards/next_program_id`                    | `u64`, absent means 1         |
//! | `rewards/program/<id>`                       | [`Program`]                   |
//! | `rewards/holder/<addr>`                      | [`Holdings`] (absent: nothing held) |
//! | `rewards/awarded/<program>/<addr>/<period>`  | `u64` awarded in that period  |
//! | `rewards/supply`                             | [`Supply`]                    |
//! | `rewards/next_redemption_id`                 | `u64`, absent means 1         |
//! | `rewards/redemption/<id>`                    | [`Redemption`]                |
//!
//! Addresses are bech32m text, numbers decimal. Keys are only built by [`keys`].
//!
//! # Invariants
//!
//! - the sum of all balances equals `supply.minted - supply.burned`, and per program
//!   `minted - burned`;
//! - a program never mints more than its `budget`;
//! - one account is never awarded more than `cap_per_period` of a program within one period,
//!   where `period = block timestamp_ms / period_ms` (block time, never the wall clock).
//!
//! All arithmetic is checked: a sum that does not fit in `u64` is [`ErrorCode::Overflow`]
//! (except against a budget or cap, where it is simply over the limit).
//!
//! # Calls ([`RewardsCall`])
//!
//! | call               | who                  | failures                                                             |
//! |--------------------|----------------------|----------------------------------------------------------------------|
//! | `CreateProgram`    | `city_admin`         | `unauthorized`; `invalid_argument` (empty/long name, zero budget, cap or period) |
//! | `SetProgramActive` | `city_admin`         | `unauthorized`; `not_found`; `invalid_state` (already in that state) |
//! | `Award`            | `department`         | `unauthorized`; `invalid_argument` (zero amount, empty/long reason, recipient not a citizen); `not_found`; `invalid_state` (inactive); `over_budget`; `over_cap` |
//! | `Transfer`         | any holder           | `invalid_argument` (to self, zero amount); `not_found`; `non_transferable`; `insufficient_balance` |
//! | `Redeem`           | any holder           | `invalid_argument` (empty/long item, zero amount, merchant is the sender or lacks the `merchant` role); `not_found`; `insufficient_balance` |
//! | `SetAwarder`       | `city_admin`         | `unauthorized`; `not_found` (program); `invalid_argument` (not a module name) |
//!
//! Checks run in that order (role, arguments, state) and a failing call writes nothing. Data
//! that does not decode is [`ErrorCode::UnknownCall`]. Deactivating a program only stops new
//! awards: existing tokens can still be transferred (if the program allows it) and redeemed.
//!
//! # Events
//!
//! `program_created {program, name, budget}`, `program_status {program, active, by}`,
//! `awarded {program, to, amount, reason, by, period}`, `transferred {program, from, to,
//! amount}`, `redeemed {redemption, citizen, merchant, program, amount, item}`.
//!
//! # Queries
//!
//! Each query reads one key (present or absent) and its answer is a function of that key's
//! bytes, so it can be proven and recomputed by a client.
//!
//! | path                                  | answer (key read)                                                  |
//! |---------------------------------------|--------------------------------------------------------------------|
//! | `program/<id>`                        | [`Program`] as JSON, or `null` (program key)                       |
//! | `balance/<addr>`                      | `{address, total, by_program: {"<id>": amount}}` (holder key)      |
//! | `supply`                              | `{minted, burned, circulating}` (supply key)                       |
//! | `redemption/<id>`                     | [`Redemption`] as JSON, or `null` (redemption key)                 |
//! | `awarded/<program>/<addr>/<period>`   | `{program, address, period, amount}` (awarded key)                 |
//!
//! Lists (a page at a time, `?limit=` up to 1000 and the opaque `cursor` of the page before, in
//! key order): `programs` (every [`Program`]) and `redemptions` (every [`Redemption`]).
//!
//! A bad id or address is [`ErrorCode::InvalidArgument`]; an unknown path is
//! [`ErrorCode::NotFound`].
//!
//! # Genesis
//!
//! See [`GenesisConfig`]: optional `{ "programs": [ ProgramSpec… ] }`, created in order by the
//! zero address at height 0.

mod call;
mod genesis;
pub mod keys;
mod query;
mod store;
mod types;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use urbis_core::UrbisError;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo};

pub use call::{RewardsCall, RewardsOp, award_from_program, awardable};
pub use genesis::GenesisConfig;
pub use keys::MODULE;
pub use store::{awarded_of, holdings_of, program_of, redemption_of, supply_of};
pub use types::{
    Category, Holdings, MAX_TEXT_CHARS, Program, ProgramSpec, Redemption, Supply, validate_text,
};

/// The rewards module.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rewards;

/// The module, ready to hand to [`urbis_runtime::Runtime::new`] (next to
/// [`urbis_accounts::module`], which it relies on for roles).
pub fn module() -> Arc<dyn Module> {
    Arc::new(Rewards)
}

/// Queries, events and exported operations of the rewards module (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Eco-reward programs: budgets and per-citizen caps, awards, transfers and redemptions at merchants.",
    queries: &[
        QueryInfo {
            path: "program/<id>",
            list: false,
            description: "A program; null if none.",
        },
        QueryInfo {
            path: "balance/<address>",
            list: false,
            description: "An account's tokens: total and by program.",
        },
        QueryInfo {
            path: "supply",
            list: false,
            description: "Tokens minted, burned and circulating.",
        },
        QueryInfo {
            path: "redemption/<id>",
            list: false,
            description: "A redemption record; null if none.",
        },
        QueryInfo {
            path: "awarded/<program>/<address>/<period>",
            list: false,
            description: "What an account was awarded from a program in one period.",
        },
        QueryInfo {
            path: "programs",
            list: true,
            description: "Every program, in key order.",
        },
        QueryInfo {
            path: "redemptions",
            list: true,
            description: "Every redemption, in key order.",
        },
    ],
    events: &[
        EventInfo {
            kind: "program_created",
            attributes: &["program", "name", "budget"],
            description: "A program was opened.",
        },
        EventInfo {
            kind: "program_status",
            attributes: &["program", "active", "by"],
            description: "A program was paused or resumed.",
        },
        EventInfo {
            kind: "awarded",
            attributes: &["program", "to", "amount", "reason", "by", "period", "via"],
            description: "Tokens were minted to a citizen; `via` names the module that asked, when one did.",
        },
        EventInfo {
            kind: "transferred",
            attributes: &["program", "from", "to", "amount"],
            description: "Tokens changed hands.",
        },
        EventInfo {
            kind: "redeemed",
            attributes: &[
                "redemption",
                "citizen",
                "merchant",
                "program",
                "amount",
                "item",
            ],
            description: "Tokens were spent (burned) at a merchant.",
        },
        EventInfo {
            kind: "awarder_set",
            attributes: &["program", "module", "allowed", "by"],
            description: "A module was allowed (or no longer) to award from a program.",
        },
    ],
    exported: &["award_from_program"],
};

impl Module for Rewards {
    urbis_runtime::json_calls!(RewardsCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        GenesisConfig::parse(config)?.apply(ctx)
    }

    /// Every call is bounded by one figure: the heaviest call (an award that creates a balance and a program total) meters about 40,000
    /// (the module's tests meter every call), so this leaves twice the room.
    fn weight(&self, _data: &[u8]) -> u64 {
        80_000
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        RewardsCall::decode(data)?.execute(ctx)
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        query::query_key(path)
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        query::render(path, value)
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(query::list_prefix(path))
    }

    fn render_item(
        &self,
        path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        query::render_item(path, key, value)
    }

    fn exported(&self, ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        call::exported(ctx, op)
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}
