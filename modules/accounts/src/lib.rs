//! The Urbis accounts module (`"accounts"`): who is who in the city.
//!
//! Every account is identified by its [`Address`]. This module attaches to an address a set of
//! [`Role`]s and an optional display label, and is the single place other modules ask "may this
//! sender do that?" (see [`has_role`], [`require_role`] and [`roles_of`]).
//!
//! # State
//!
//! | key                       | value (borsh)  |
//! |---------------------------|----------------|
//! | `accounts/account/<addr>` | [`Account`]    |
//!
//! `<addr>` is the bech32m text form (`urbis1…`). Keys are only built by [`keys`]. An account
//! with no role and an empty label has no record: revoking the last role of an unlabelled
//! account deletes the key, so "absent" and "nobody" are the same thing.
//!
//! # Permission table
//!
//! | role granted or revoked                                  | may be granted/revoked by                  |
//! |----------------------------------------------------------|--------------------------------------------|
//! | `city_admin`, `department`, `validator_operator`, `credential_issuer` | `city_admin`                  |
//! | `certified_device`, `merchant`                           | `city_admin`, `department`                 |
//! | `citizen`                                                | `city_admin`, `department`, `credential_issuer` |
//!
//! Anyone else gets [`ErrorCode::Unauthorized`], with a message naming the role they lack. The
//! table lives in [`Role::managers`].
//!
//! Further rules:
//! - granting a role the account already holds is [`ErrorCode::AlreadyExists`]; revoking one it
//!   does not hold is [`ErrorCode::NotFound`];
//! - a city admin cannot revoke their own `city_admin` role ([`ErrorCode::InvalidState`]), so
//!   the city cannot lock itself out by accident (another admin can still do it);
//! - [`AccountsCall::SetLabel`] sets the sender's own label: at most [`MAX_LABEL_CHARS`]
//!   characters, no control characters; empty clears it. Any account holding a role may label
//!   itself.
//!
//! # Who may send transactions at all
//!
//! This module is the chain's membership test ([`gate`], [`holds_any_role`]): an account that
//! holds no role may only make calls that a module marks open, under a per-block quota; any
//! other call from it is refused by the runtime (`unauthorized`) without writing anything, not
//! even a nonce. None of this module's calls is open.
//!
//! # Calls, events, queries
//!
//! Calls are the borsh-encoded [`AccountsCall`]; data that does not decode is
//! [`ErrorCode::UnknownCall`]. On success the module emits
//! `role_granted {account, role, by}`, `role_revoked {account, role, by}` or
//! `label_set {account, label}`.
//!
//! `["account", <addr>]` answers `{address, roles, label}` or `null` when the account has no
//! record; it reads the account key alone (present or absent), so the node can prove the answer
//! and a client can recompute it from the proven bytes. `["accounts"]` lists every account with
//! a record, a page at a time, in key order.
//!
//! # Genesis
//!
//! See [`GenesisConfig`]: `{ "accounts": [ { "address": "urbis1…", "roles": ["city_admin"],
//! "label": "City" } ] }`; `null` creates nothing. A repeated address, a repeated role or an
//! invalid label is [`ErrorCode::InvalidArgument`].

mod call;
mod genesis;
pub mod keys;
mod record;
mod role;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use urbis_core::{Address, ErrorCode, UrbisError};
use urbis_runtime::{
    Ctx, EventInfo, Gate, Module, ModuleInfo, QueryInfo, StateView, decode_value, view_get,
};

pub use call::{AccountsCall, AccountsOp, COUNCIL_MODULE};
pub use genesis::{GenesisAccount, GenesisConfig};
pub use keys::MODULE;
pub use record::{Account, MAX_LABEL_CHARS, validate_label};
pub use role::Role;
pub use urbis_runtime::kit::parse_address;

/// The accounts module.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accounts;

/// The module, ready to hand to [`urbis_runtime::Runtime::new`].
pub fn module() -> Arc<dyn Module> {
    Arc::new(Accounts)
}

/// Queries and events of the accounts module (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Accounts of the city chain: the roles each holds (who may do what) and a display label.",
    queries: &[
        QueryInfo {
            path: "account/<address>",
            list: false,
            description: "An account's roles and label ({address, roles, label}); null when it has no record.",
        },
        QueryInfo {
            path: "accounts",
            list: true,
            description: "Every account with a record, in key order.",
        },
    ],
    events: &[
        EventInfo {
            kind: "role_granted",
            attributes: &["account", "role", "by"],
            description: "`by` gave `account` the role `role`.",
        },
        EventInfo {
            kind: "role_revoked",
            attributes: &["account", "role", "by"],
            description: "`by` took the role `role` from `account`.",
        },
        EventInfo {
            kind: "label_set",
            attributes: &["account", "label"],
            description: "An account set (or cleared) its display label.",
        },
    ],
    exported: &["council_grant", "council_revoke"],
};

impl Module for Accounts {
    urbis_runtime::json_calls!(AccountsCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        GenesisConfig::parse(config)?.apply(ctx)
    }

    /// Every call is bounded by one figure: the heaviest call (grant a role) meters about 11,000
    /// (the module's tests meter every call), so this leaves twice the room.
    fn weight(&self, _data: &[u8]) -> u64 {
        40_000
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        AccountsCall::decode(data)?.execute(ctx)
    }

    fn exported(&self, ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        call::exported(ctx, op)
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        match path {
            ["account", addr] => Ok(keys::account(&parse_address(addr)?)),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(match path {
            ["accounts"] => Some(keys::ACCOUNT_PREFIX.as_bytes().to_vec()),
            _ => None,
        })
    }

    fn render_item(
        &self,
        _path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        let addr = std::str::from_utf8(key)
            .ok()
            .and_then(|k| k.strip_prefix(keys::ACCOUNT_PREFIX))
            .ok_or_else(|| UrbisError::new(ErrorCode::Internal, "malformed account key"))?;
        let a: Account = decode_value(key, value)?;
        Ok(serde_json::json!({ "address": addr, "roles": a.roles, "label": a.label }))
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        let addr = match path {
            [_, addr] => parse_address(addr)?,
            _ => return Err(UrbisError::new(ErrorCode::NotFound, "unknown query")),
        };
        Ok(match value {
            Some(bytes) => {
                let a: Account = decode_value(&key, bytes)?;
                serde_json::json!({ "address": addr, "roles": a.roles, "label": a.label })
            }
            None => serde_json::Value::Null,
        })
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

/// Whether `addr` holds at least one role in `view`: the runtime's test of who may make calls
/// that are not open (see [`gate`]).
pub fn holds_any_role(view: &dyn StateView, addr: &Address) -> Result<bool, UrbisError> {
    Ok(account_of(view, addr)?.is_some_and(|a| !a.roles.is_empty()))
}

/// The runtime gate of a city chain: accounts holding a role may make any call; others only
/// open calls, at most `open_calls_per_block` per block.
pub fn gate(open_calls_per_block: u32) -> Gate {
    Gate {
        is_member: holds_any_role,
        membership_prefix: b"accounts/account/",
        open_calls_per_block,
    }
}

/// Whether `addr` holds `role`, as seen by the current call.
pub fn has_role(ctx: &Ctx<'_>, addr: &Address, role: Role) -> Result<bool, UrbisError> {
    Ok(load_account(ctx, addr)?.has(role))
}

/// Fails with [`ErrorCode::Unauthorized`] unless the sender of the current call holds `role`.
pub fn require_role(ctx: &Ctx<'_>, role: Role) -> Result<(), UrbisError> {
    if has_role(ctx, &ctx.sender(), role)? {
        Ok(())
    } else {
        Err(UrbisError::new(
            ErrorCode::Unauthorized,
            format!("this call requires the {role} role"),
        ))
    }
}

/// The roles of `addr` in committed state (empty for an unknown account).
pub fn roles_of(view: &dyn StateView, addr: &Address) -> Result<Vec<Role>, UrbisError> {
    Ok(account_of(view, addr)?.map(|a| a.roles).unwrap_or_default())
}

/// The record of `addr` in committed state, if any.
pub fn account_of(view: &dyn StateView, addr: &Address) -> Result<Option<Account>, UrbisError> {
    view_get(view, &keys::account(addr))
}

/// The record of `addr` as seen by the current call; an unknown account is the empty record.
fn load_account(ctx: &Ctx<'_>, addr: &Address) -> Result<Account, UrbisError> {
    Ok(ctx.get(&keys::account(addr))?.unwrap_or_default())
}

/// Write the record of `addr`, deleting the key when there is nothing left to store.
fn store_account(ctx: &mut Ctx<'_>, addr: &Address, account: &Account) {
    let key = keys::account(addr);
    if account.is_empty() {
        ctx.delete(key);
    } else {
        ctx.put(key, account);
    }
}
