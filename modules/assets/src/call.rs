//! The assets call enum and its execution.
//!
//! Each handler checks, in order: the sender's role, the arguments, then state; it writes
//! nothing before every check has passed.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError};
use urbis_runtime::Ctx;

use crate::keys::{self, MODULE};
use crate::types::{Asset, MAX_NAME_CHARS, checked_add, invalid, validate_symbol};
use crate::{ops, store};

/// A call into the assets module (borsh in transactions, JSON for display and `tx call`).
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
pub enum AssetsCall {
    /// Create an asset; the sender (a city admin or department) becomes its issuer.
    CreateAsset {
        symbol: String,
        name: String,
        decimals: u8,
    },
    /// Issue new units to `to` (issuer).
    Issue {
        symbol: String,
        to: Address,
        amount: u64,
    },
    /// Burn units from the issuer's own balance (issuer).
    Burn { symbol: String, amount: u64 },
    /// Move units to another account (any holder).
    Transfer {
        symbol: String,
        to: Address,
        amount: u64,
    },
    /// Pay `to` through escrow: the units are held (a hold owned by the assets module) until
    /// `to` claims them or the sender cancels; at `expires_ms`, if still held, they go back.
    Escrow {
        symbol: String,
        to: Address,
        amount: u64,
        #[serde(default)]
        expires_ms: Option<u64>,
    },
    /// Take an escrow payment made to the sender.
    Claim { hold: Hash },
    /// Take back an escrow payment the sender made and nobody claimed.
    Cancel { hold: Hash },
}

impl AssetsCall {
    pub fn decode(data: &[u8]) -> Result<Self, UrbisError> {
        urbis_runtime::kit::decode_call(data)
    }

    pub(crate) fn execute(self, ctx: &mut Ctx<'_>) -> Result<(), UrbisError> {
        match self {
            AssetsCall::CreateAsset {
                symbol,
                name,
                decimals,
            } => create(ctx, symbol, name, decimals),
            AssetsCall::Issue { symbol, to, amount } => issue(ctx, &symbol, to, amount),
            AssetsCall::Burn { symbol, amount } => burn(ctx, &symbol, amount),
            AssetsCall::Transfer { symbol, to, amount } => transfer(ctx, &symbol, to, amount),
            AssetsCall::Escrow {
                symbol,
                to,
                amount,
                expires_ms,
            } => escrow(ctx, &symbol, to, amount, expires_ms),
            AssetsCall::Claim { hold } => claim(ctx, hold),
            AssetsCall::Cancel { hold } => cancel(ctx, hold),
        }
    }
}

fn escrow(
    ctx: &mut Ctx<'_>,
    symbol: &str,
    to: Address,
    amount: u64,
    expires_ms: Option<u64>,
) -> Result<(), UrbisError> {
    if to == ctx.sender() {
        return Err(invalid("cannot pay yourself through escrow"));
    }
    let id = ops::make_hold(ctx, MODULE, symbol, amount, expires_ms, Some(to))?;
    ctx.emit(
        Event::new(MODULE, "escrowed")
            .with("hold", id)
            .with("asset", symbol)
            .with("from", ctx.sender())
            .with("to", to)
            .with("amount", amount)
            .with(
                "expires_ms",
                expires_ms.map_or(String::new(), |t| t.to_string()),
            ),
    );
    Ok(())
}

/// The escrow payment `hold` and its payee (`not_found` if there is none, or it is closed).
fn escrow_of(ctx: &Ctx<'_>, hold: &Hash) -> Result<(crate::Hold, Address), UrbisError> {
    let not_found = || {
        UrbisError::new(
            ErrorCode::NotFound,
            format!("no open escrow payment {hold}"),
        )
    };
    let h: crate::Hold = ctx.get(&keys::hold(hold))?.ok_or_else(not_found)?;
    match h.payee {
        Some(payee) if h.owner == MODULE => Ok((h, payee)),
        _ => Err(not_found()),
    }
}

fn claim(ctx: &mut Ctx<'_>, hold: Hash) -> Result<(), UrbisError> {
    let (h, payee) = escrow_of(ctx, &hold)?;
    if payee != ctx.sender() {
        return Err(UrbisError::new(
            ErrorCode::Unauthorized,
            "only the payee may claim an escrow payment",
        ));
    }
    ops::release_hold(ctx, MODULE, &hold, &[(payee, h.amount)])
}

fn cancel(ctx: &mut Ctx<'_>, hold: Hash) -> Result<(), UrbisError> {
    let (h, _) = escrow_of(ctx, &hold)?;
    if h.payer != ctx.sender() {
        return Err(UrbisError::new(
            ErrorCode::Unauthorized,
            "only the payer may cancel an escrow payment",
        ));
    }
    ops::refund_hold(ctx, Some(MODULE), &hold, "refunded")
}

fn require_issuer(ctx: &Ctx<'_>, asset: &Asset) -> Result<(), UrbisError> {
    if asset.issuer == ctx.sender() {
        Ok(())
    } else {
        Err(UrbisError::new(
            ErrorCode::Unauthorized,
            format!(
                "only the issuer {} may do this with {}",
                asset.issuer, asset.symbol
            ),
        ))
    }
}

fn positive(amount: u64) -> Result<(), UrbisError> {
    if amount == 0 {
        Err(invalid("amount must be positive"))
    } else {
        Ok(())
    }
}

pub(crate) fn create(
    ctx: &mut Ctx<'_>,
    symbol: String,
    name: String,
    decimals: u8,
) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !has_role(ctx, &sender, Role::CityAdmin)? && !has_role(ctx, &sender, Role::Department)? {
        return Err(UrbisError::new(
            ErrorCode::Unauthorized,
            "creating an asset requires the city_admin or department role",
        ));
    }
    validate_symbol(&symbol)?;
    let name = name.trim().to_string();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters without control characters"
        )));
    }
    if decimals > 18 {
        return Err(invalid("decimals must be at most 18"));
    }
    if ctx.get_raw(&keys::asset(&symbol))?.is_some() {
        return Err(UrbisError::new(
            ErrorCode::AlreadyExists,
            format!("asset {symbol} exists"),
        ));
    }
    let asset = Asset {
        symbol: symbol.clone(),
        name: name.clone(),
        decimals,
        issuer: sender,
        issued: 0,
        burned: 0,
        held: 0,
    };
    store::put_asset(ctx, &asset);
    ctx.emit(
        Event::new(MODULE, "asset_created")
            .with("asset", &symbol)
            .with("name", &name)
            .with("issuer", sender),
    );
    Ok(())
}

fn issue(ctx: &mut Ctx<'_>, symbol: &str, to: Address, amount: u64) -> Result<(), UrbisError> {
    let mut asset = store::asset(ctx, symbol)?;
    require_issuer(ctx, &asset)?;
    positive(amount)?;
    asset.issued = checked_add(asset.issued, amount)?;
    let balance = checked_add(store::balance(ctx, symbol, &to)?, amount)?;
    store::put_asset(ctx, &asset);
    store::put_balance(ctx, symbol, &to, balance);
    ctx.emit(
        Event::new(MODULE, "issued")
            .with("asset", symbol)
            .with("to", to)
            .with("amount", amount),
    );
    Ok(())
}

fn burn(ctx: &mut Ctx<'_>, symbol: &str, amount: u64) -> Result<(), UrbisError> {
    let mut asset = store::asset(ctx, symbol)?;
    require_issuer(ctx, &asset)?;
    positive(amount)?;
    let issuer = asset.issuer;
    let balance = store::balance(ctx, symbol, &issuer)?;
    let left = balance.checked_sub(amount).ok_or_else(|| {
        UrbisError::new(
            ErrorCode::InsufficientBalance,
            format!("the issuer holds {balance} {symbol}, cannot burn {amount}"),
        )
    })?;
    asset.burned = checked_add(asset.burned, amount)?;
    store::put_asset(ctx, &asset);
    store::put_balance(ctx, symbol, &issuer, left);
    ctx.emit(
        Event::new(MODULE, "burned")
            .with("asset", symbol)
            .with("amount", amount),
    );
    Ok(())
}

fn transfer(ctx: &mut Ctx<'_>, symbol: &str, to: Address, amount: u64) -> Result<(), UrbisError> {
    let from = ctx.sender();
    positive(amount)?;
    if to == from {
        return Err(invalid("cannot transfer to oneself"));
    }
    store::asset(ctx, symbol)?;
    transfer_units(ctx, symbol, &from, &to, amount)
}

/// Move units and record the `transferred` event (a holder's transfer, a module's payment).
pub(crate) fn transfer_units(
    ctx: &mut Ctx<'_>,
    symbol: &str,
    from: &Address,
    to: &Address,
    amount: u64,
) -> Result<(), UrbisError> {
    move_units(ctx, symbol, from, to, amount)?;
    ctx.emit(
        Event::new(MODULE, "transferred")
            .with("asset", symbol)
            .with("from", from)
            .with("to", to)
            .with("amount", amount),
    );
    Ok(())
}

/// Debit `from`, credit `to` (checked; writes only if both succeed).
pub(crate) fn move_units(
    ctx: &mut Ctx<'_>,
    symbol: &str,
    from: &Address,
    to: &Address,
    amount: u64,
) -> Result<(), UrbisError> {
    let have = store::balance(ctx, symbol, from)?;
    let left = have.checked_sub(amount).ok_or_else(|| {
        UrbisError::new(
            ErrorCode::InsufficientBalance,
            format!("{from} holds {have} {symbol}, not {amount}"),
        )
    })?;
    store::put_balance(ctx, symbol, from, left);
    let credited = checked_add(store::balance(ctx, symbol, to)?, amount)?;
    store::put_balance(ctx, symbol, to, credited);
    Ok(())
}
