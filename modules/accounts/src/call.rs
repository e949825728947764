//! The accounts call enum and its execution.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, Event, UrbisError};
use urbis_runtime::Ctx;

use crate::keys::MODULE;
use crate::record::validate_label;
use crate::{Account, Role, load_account, store_account};

/// A call into the accounts module (borsh in transactions, JSON for display).
///
/// The borsh encoding is the variant index followed by the fields: never reorder, only append.
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
pub enum AccountsCall {
    /// Give `account` the role `role`.
    GrantRole { account: Address, role: Role },
    /// Take `role` away from `account`.
    RevokeRole { account: Address, role: Role },
    /// Set (or, with an empty string, clear) the sender's own display label.
    SetLabel { label: String },
}

impl AccountsCall {
    /// Decode a call from transaction data.
    pub fn decode(data: &[u8]) -> Result<Self, UrbisError> {
        urbis_runtime::kit::decode_call(data)
    }

    pub(crate) fn execute(self, ctx: &mut Ctx<'_>) -> Result<(), UrbisError> {
        match self {
            AccountsCall::GrantRole { account, role } => grant_role(ctx, account, role),
            AccountsCall::RevokeRole { account, role } => revoke_role(ctx, account, role),
            AccountsCall::SetLabel { label } => set_label(ctx, label),
        }
    }
}

/// The sender must hold one of the roles that manage `role`.
fn authorize(ctx: &Ctx<'_>, action: &str, role: Role) -> Result<(), UrbisError> {
    let sender = load_account(ctx, &ctx.sender())?;
    if role.is_managed_by(&sender.roles) {
        return Ok(());
    }
    let needed: Vec<&str> = role.managers().iter().map(|r| r.as_str()).collect();
    Err(UrbisError::new(
        ErrorCode::Unauthorized,
        format!(
            "{action} the {role} role requires the {} role",
            needed.join(" or ")
        ),
    ))
}

fn grant_role(ctx: &mut Ctx<'_>, account: Address, role: Role) -> Result<(), UrbisError> {
    authorize(ctx, "granting", role)?;
    let mut record = load_account(ctx, &account)?;
    if !record.add_role(role) {
        return Err(UrbisError::new(
            ErrorCode::AlreadyExists,
            format!("{account} already has the {role} role"),
        ));
    }
    store_account(ctx, &account, &record);
    ctx.emit(role_event("role_granted", ctx.sender(), account, role));
    Ok(())
}

fn revoke_role(ctx: &mut Ctx<'_>, account: Address, role: Role) -> Result<(), UrbisError> {
    authorize(ctx, "revoking", role)?;
    if role == Role::CityAdmin && account == ctx.sender() {
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            "a city admin cannot revoke their own city_admin role",
        ));
    }
    let mut record = load_account(ctx, &account)?;
    if !record.remove_role(role) {
        return Err(UrbisError::new(
            ErrorCode::NotFound,
            format!("{account} does not have the {role} role"),
        ));
    }
    store_account(ctx, &account, &record);
    ctx.emit(role_event("role_revoked", ctx.sender(), account, role));
    Ok(())
}

fn set_label(ctx: &mut Ctx<'_>, label: String) -> Result<(), UrbisError> {
    validate_label(&label)?;
    let sender = ctx.sender();
    let record = Account {
        label,
        ..load_account(ctx, &sender)?
    };
    store_account(ctx, &sender, &record);
    ctx.emit(
        Event::new(MODULE, "label_set")
            .with("account", sender)
            .with("label", &record.label),
    );
    Ok(())
}

fn role_event(kind: &str, by: Address, account: Address, role: Role) -> Event {
    Event::new(MODULE, kind)
        .with("account", account)
        .with("role", role)
        .with("by", by)
}

/// The module allowed to change roles by council decision (see [`AccountsOp`]).
pub const COUNCIL_MODULE: &str = "governance";

/// Operations other modules call through `Ctx::invoke` (borsh; never reorder, only append).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum AccountsOp {
    /// Grant a role by council decision: only the governance module, executing an approved
    /// proposal after its timelock, may call it.
    CouncilGrant { account: Address, role: Role },
    /// Revoke a role by council decision (same rule).
    CouncilRevoke { account: Address, role: Role },
}

/// Run an exported operation (the caller checked by each).
pub(crate) fn exported(ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
    let op: AccountsOp = urbis_runtime::kit::decode_call(op)?;
    if ctx.caller() != Some(COUNCIL_MODULE) {
        return Err(UrbisError::new(
            ErrorCode::Unauthorized,
            "roles change by council decision only through the governance module",
        ));
    }
    match op {
        AccountsOp::CouncilGrant { account, role } => {
            let mut record = load_account(ctx, &account)?;
            if !record.add_role(role) {
                return Err(UrbisError::new(
                    ErrorCode::AlreadyExists,
                    format!("{account} already has the {role} role"),
                ));
            }
            store_account(ctx, &account, &record);
            ctx.emit(
                role_event("role_granted", ctx.sender(), account, role).with("by_council", true),
            );
        }
        AccountsOp::CouncilRevoke { account, role } => {
            let mut record = load_account(ctx, &account)?;
            if !record.remove_role(role) {
                return Err(UrbisError::new(
                    ErrorCode::NotFound,
                    format!("{account} does not have the {role} role"),
                ));
            }
            store_account(ctx, &account, &record);
            ctx.emit(
                role_event("role_revoked", ctx.sender(), account, role).with("by_council", true),
            );
        }
    }
    Ok(Vec::new())
}
