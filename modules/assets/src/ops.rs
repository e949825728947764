//! Exported operations: escrow holds, for other modules (a ride-sharing contract, a market, a
//! tender). Call them through the typed functions [`hold`], [`release`] and [`refund`], which
//! go through the runtime ([`urbis_runtime::Ctx::invoke`]): the hold is owned by the calling
//! module, and only it may release or refund it.

use borsh::{BorshDeserialize, BorshSerialize};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError};
use urbis_runtime::Ctx;

use crate::keys::{self, MODULE};
use crate::store;
use crate::types::{Hold, MAX_PAYOUTS, checked_add, invalid};

/// The exported operations (borsh; never reorder, only append).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum AssetsOp {
    /// Move `amount` of `asset` from the transaction's signer into a hold owned by the caller;
    /// answers the hold id.
    Hold {
        asset: String,
        amount: u64,
        expires_ms: Option<u64>,
    },
    /// Pay out of a hold (each amount to its beneficiary); what is left goes back to the
    /// payer, and the hold is closed.
    Release {
        hold: Hash,
        payouts: Vec<(Address, u64)>,
    },
    /// Give a hold back to its payer, and close it.
    Refund { hold: Hash },
    /// Pay `amount` of `asset` out of the calling module's own account
    /// ([`module_account`]) to `to`.
    Pay {
        asset: String,
        to: Address,
        amount: u64,
    },
}

/// The account a module keeps pooled funds in (a market's proceeds and collateral): the first
/// 20 bytes of `SHA-256(len(tag) ‖ "urbis/module-account/v1" ‖ module name)`. No key signs
/// for it, so only the module itself spends from it ([`pay`]); anyone may pay into it (a hold
/// released to it, a transfer).
pub fn module_account(module: &str) -> Address {
    let h = urbis_core::sha256_domain(b"urbis/module-account/v1", &[module.as_bytes()]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&h.0[..20]);
    Address(a)
}

/// Pay `amount` of `asset` from the calling module's account to `to`.
pub fn pay(ctx: &mut Ctx<'_>, asset: &str, to: Address, amount: u64) -> Result<(), UrbisError> {
    ctx.invoke(
        MODULE,
        &AssetsOp::Pay {
            asset: asset.to_string(),
            to,
            amount,
        },
    )
}

/// Hold `amount` of `asset` from the transaction's signer, owned by the calling module; it is
/// refunded by itself at `expires_ms` (block time) if still open then.
pub fn hold(
    ctx: &mut Ctx<'_>,
    asset: &str,
    amount: u64,
    expires_ms: Option<u64>,
) -> Result<Hash, UrbisError> {
    ctx.invoke(
        MODULE,
        &AssetsOp::Hold {
            asset: asset.to_string(),
            amount,
            expires_ms,
        },
    )
}

/// Pay out of a hold the calling module owns; the rest goes back to the payer.
pub fn release(
    ctx: &mut Ctx<'_>,
    hold: Hash,
    payouts: Vec<(Address, u64)>,
) -> Result<(), UrbisError> {
    ctx.invoke(MODULE, &AssetsOp::Release { hold, payouts })
}

/// Give a hold the calling module owns back to its payer.
pub fn refund(ctx: &mut Ctx<'_>, hold: Hash) -> Result<(), UrbisError> {
    ctx.invoke(MODULE, &AssetsOp::Refund { hold })
}

pub(crate) fn execute(ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
    let op = AssetsOp::try_from_slice(op)
        .map_err(|_| UrbisError::new(ErrorCode::UnknownCall, "operation does not decode"))?;
    let caller = ctx.caller().ok_or_else(|| {
        UrbisError::new(
            ErrorCode::Unauthorized,
            "holds are made by modules, through the runtime",
        )
    })?;
    let answer = match op {
        AssetsOp::Hold {
            asset,
            amount,
            expires_ms,
        } => borsh::to_vec(&make_hold(ctx, caller, &asset, amount, expires_ms, None)?),
        AssetsOp::Release { hold, payouts } => {
            borsh::to_vec(&release_hold(ctx, caller, &hold, &payouts)?)
        }
        AssetsOp::Refund { hold } => {
            borsh::to_vec(&refund_hold(ctx, Some(caller), &hold, "refunded")?)
        }
        AssetsOp::Pay { asset, to, amount } => {
            borsh::to_vec(&pay_from_module(ctx, caller, &asset, to, amount)?)
        }
    };
    Ok(answer.expect("borsh to vec never fails"))
}

/// Move `amount` of `symbol` from the signer into a hold owned by `owner`. An escrow payment
/// (`payee` given) emits its own `escrowed` event; any other hold emits `held`.
pub(crate) fn make_hold(
    ctx: &mut Ctx<'_>,
    owner: &str,
    symbol: &str,
    amount: u64,
    expires_ms: Option<u64>,
    payee: Option<Address>,
) -> Result<Hash, UrbisError> {
    if amount == 0 {
        return Err(invalid("a hold must be of a positive amount"));
    }
    if expires_ms.is_some_and(|t| t <= ctx.timestamp_ms()) {
        return Err(invalid("a hold must expire after the current block"));
    }
    let mut asset = store::asset(ctx, symbol)?;
    let payer = ctx.sender();
    let have = store::balance(ctx, symbol, &payer)?;
    let left = have.checked_sub(amount).ok_or_else(|| {
        UrbisError::new(
            ErrorCode::InsufficientBalance,
            format!("{payer} holds {have} {symbol}, cannot put {amount} on hold"),
        )
    })?;
    asset.held = checked_add(asset.held, amount)?;
    let id = ctx.new_id();
    let hold = Hold {
        id,
        asset: symbol.to_string(),
        payer,
        amount,
        owner: owner.to_string(),
        expires_ms,
        created_height: ctx.height(),
        payee,
    };
    store::put_balance(ctx, symbol, &payer, left);
    store::put_asset(ctx, &asset);
    ctx.put(keys::hold(&id), &hold);
    if let Some(t) = expires_ms {
        ctx.schedule_at(t, id.0.to_vec());
    }
    if payee.is_some() {
        return Ok(id);
    }
    let mut ev = Event::new(MODULE, "held")
        .with("hold", id)
        .with("asset", symbol)
        .with("payer", payer)
        .with("amount", amount)
        .with("owner", owner);
    if let Some(t) = expires_ms {
        ev = ev.with("expires_ms", t);
    }
    ctx.emit(ev);
    Ok(id)
}

fn owned(hold: &Hold, caller: &str) -> Result<(), UrbisError> {
    if hold.owner == caller {
        Ok(())
    } else {
        Err(UrbisError::new(
            ErrorCode::Unauthorized,
            format!("hold {} belongs to module {}", hold.id, hold.owner),
        ))
    }
}

pub(crate) fn release_hold(
    ctx: &mut Ctx<'_>,
    caller: &str,
    id: &Hash,
    payouts: &[(Address, u64)],
) -> Result<(), UrbisError> {
    let hold = store::hold(ctx, id)?;
    owned(&hold, caller)?;
    if payouts.is_empty() || payouts.len() > MAX_PAYOUTS {
        return Err(invalid(format!(
            "a release pays 1 to {MAX_PAYOUTS} beneficiaries"
        )));
    }
    let mut total = 0u64;
    for (_, amount) in payouts {
        if *amount == 0 {
            return Err(invalid("every payout must be positive"));
        }
        total = checked_add(total, *amount)?;
    }
    let rest = hold.amount.checked_sub(total).ok_or_else(|| {
        UrbisError::new(
            ErrorCode::InsufficientBalance,
            format!("payouts of {total} exceed the hold's {}", hold.amount),
        )
    })?;
    close(ctx, &hold)?;
    for (to, amount) in payouts {
        credit(ctx, &hold.asset, to, *amount)?;
        ctx.emit(
            Event::new(MODULE, "released")
                .with("hold", hold.id)
                .with("asset", &hold.asset)
                .with("to", to)
                .with("amount", amount),
        );
    }
    if rest > 0 {
        credit(ctx, &hold.asset, &hold.payer, rest)?;
        ctx.emit(
            Event::new(MODULE, "refunded")
                .with("hold", hold.id)
                .with("asset", &hold.asset)
                .with("to", hold.payer)
                .with("amount", rest),
        );
    }
    Ok(())
}

/// Move `amount` from `caller`'s module account to `to`.
fn pay_from_module(
    ctx: &mut Ctx<'_>,
    caller: &str,
    symbol: &str,
    to: Address,
    amount: u64,
) -> Result<(), UrbisError> {
    if amount == 0 {
        return Err(invalid("a payment must be positive"));
    }
    store::asset(ctx, symbol)?;
    crate::call::transfer_units(ctx, symbol, &module_account(caller), &to, amount)
}

/// Refund a hold whole; `caller` `None` is the scheduler (expiry).
pub(crate) fn refund_hold(
    ctx: &mut Ctx<'_>,
    caller: Option<&str>,
    id: &Hash,
    kind: &str,
) -> Result<(), UrbisError> {
    let hold = store::hold(ctx, id)?;
    if let Some(c) = caller {
        owned(&hold, c)?;
    }
    close(ctx, &hold)?;
    credit(ctx, &hold.asset, &hold.payer, hold.amount)?;
    ctx.emit(
        Event::new(MODULE, kind)
            .with("hold", hold.id)
            .with("asset", &hold.asset)
            .with("to", hold.payer)
            .with("amount", hold.amount),
    );
    Ok(())
}

/// Remove an open hold (it is released or refunded exactly once) and its units from `held`.
fn close(ctx: &mut Ctx<'_>, hold: &Hold) -> Result<(), UrbisError> {
    let mut asset = store::asset(ctx, &hold.asset)?;
    asset.held = asset
        .held
        .checked_sub(hold.amount)
        .ok_or_else(|| UrbisError::new(ErrorCode::Internal, "held units below an open hold"))?;
    store::put_asset(ctx, &asset);
    ctx.delete(keys::hold(&hold.id));
    Ok(())
}

fn credit(ctx: &mut Ctx<'_>, symbol: &str, to: &Address, amount: u64) -> Result<(), UrbisError> {
    let balance = checked_add(store::balance(ctx, symbol, to)?, amount)?;
    store::put_balance(ctx, symbol, to, balance);
    Ok(())
}

/// The scheduler's call at a hold's expiry: refund it if still open.
pub(crate) fn expire(ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
    let id: [u8; 32] = payload
        .try_into()
        .map_err(|_| UrbisError::new(ErrorCode::Internal, "malformed expiry job"))?;
    let id = Hash(id);
    if ctx.get_raw(&keys::hold(&id))?.is_none() {
        // Released or refunded before it expired: nothing to do.
        return Ok(());
    }
    refund_hold(ctx, None, &id, "hold_expired")
}
