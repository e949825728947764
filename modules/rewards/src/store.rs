//! Typed reads and writes of rewards state, inside a call (`Ctx`) or from a view (queries).

use urbis_core::{Address, ErrorCode, UrbisError};
use urbis_runtime::{Ctx, StateView, view_get};

use crate::keys;
use crate::types::{Holdings, Program, Redemption, Supply, checked_add};

/// The program `id`, or [`ErrorCode::NotFound`].
pub(crate) fn program(ctx: &Ctx<'_>, id: u64) -> Result<Program, UrbisError> {
    ctx.get(&keys::program(id))?
        .ok_or_else(|| UrbisError::new(ErrorCode::NotFound, format!("no program {id}")))
}

pub(crate) fn put_program(ctx: &mut Ctx<'_>, program: &Program) {
    ctx.put(keys::program(program.id), program);
}

/// Take the next id from the counter under `key` (counters start at 1).
pub(crate) fn take_id(ctx: &mut Ctx<'_>, key: Vec<u8>) -> Result<u64, UrbisError> {
    let id = ctx.get::<u64>(&key)?.unwrap_or(1);
    ctx.put(key, &checked_add(id, 1)?);
    Ok(id)
}

pub(crate) fn holdings(ctx: &Ctx<'_>, addr: &Address) -> Result<Holdings, UrbisError> {
    Ok(ctx.get(&keys::holder(addr))?.unwrap_or_default())
}

/// Write `holdings`, deleting the record when the account holds nothing.
pub(crate) fn put_holdings(ctx: &mut Ctx<'_>, addr: &Address, holdings: &Holdings) {
    let key = keys::holder(addr);
    if holdings.is_empty() {
        ctx.delete(key);
    } else {
        ctx.put(key, holdings);
    }
}

pub(crate) fn supply(ctx: &Ctx<'_>) -> Result<Supply, UrbisError> {
    Ok(ctx.get(&keys::supply())?.unwrap_or_default())
}

pub(crate) fn put_supply(ctx: &mut Ctx<'_>, supply: &Supply) {
    ctx.put(keys::supply(), supply);
}

pub(crate) fn awarded(
    ctx: &Ctx<'_>,
    program: u64,
    addr: &Address,
    period: u64,
) -> Result<u64, UrbisError> {
    Ok(ctx.get(&keys::awarded(program, addr, period))?.unwrap_or(0))
}

pub(crate) fn put_awarded(
    ctx: &mut Ctx<'_>,
    program: u64,
    addr: &Address,
    period: u64,
    amount: u64,
) {
    ctx.put(keys::awarded(program, addr, period), &amount);
}

pub(crate) fn put_redemption(ctx: &mut Ctx<'_>, redemption: &Redemption) {
    ctx.put(keys::redemption(redemption.id), redemption);
}

/// The program `id` in committed state, if it exists.
pub fn program_of(view: &dyn StateView, id: u64) -> Result<Option<Program>, UrbisError> {
    view_get(view, &keys::program(id))
}

/// The holdings of `addr` in committed state (empty if it holds nothing).
pub fn holdings_of(view: &dyn StateView, addr: &Address) -> Result<Holdings, UrbisError> {
    Ok(view_get(view, &keys::holder(addr))?.unwrap_or_default())
}

/// The supply totals in committed state.
pub fn supply_of(view: &dyn StateView) -> Result<Supply, UrbisError> {
    Ok(view_get(view, &keys::supply())?.unwrap_or_default())
}

/// The redemption `id` in committed state, if it exists.
pub fn redemption_of(view: &dyn StateView, id: u64) -> Result<Option<Redemption>, UrbisError> {
    view_get(view, &keys::redemption(id))
}

/// How much `program` awarded `addr` during `period`, in committed state.
pub fn awarded_of(
    view: &dyn StateView,
    program: u64,
    addr: &Address,
    period: u64,
) -> Result<u64, UrbisError> {
    Ok(view_get(view, &keys::awarded(program, addr, period))?.unwrap_or(0))
}
