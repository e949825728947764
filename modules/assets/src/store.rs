//! Typed access to the module's state.

use urbis_core::{Address, ErrorCode, Hash, UrbisError};
use urbis_runtime::{Ctx, StateView, view_get};

use crate::keys;
use crate::types::{Asset, Hold};

pub(crate) fn asset(ctx: &Ctx<'_>, symbol: &str) -> Result<Asset, UrbisError> {
    ctx.get(&keys::asset(symbol))?
        .ok_or_else(|| UrbisError::new(ErrorCode::NotFound, format!("no asset {symbol:?}")))
}

pub(crate) fn put_asset(ctx: &mut Ctx<'_>, asset: &Asset) {
    ctx.put(keys::asset(&asset.symbol), asset);
}

pub(crate) fn balance(ctx: &Ctx<'_>, symbol: &str, addr: &Address) -> Result<u64, UrbisError> {
    Ok(ctx.get(&keys::balance(symbol, addr))?.unwrap_or(0))
}

/// Write a balance; zero deletes the key (absent and zero are the same).
pub(crate) fn put_balance(ctx: &mut Ctx<'_>, symbol: &str, addr: &Address, amount: u64) {
    let key = keys::balance(symbol, addr);
    if amount == 0 {
        ctx.delete(key);
    } else {
        ctx.put(key, &amount);
    }
}

pub(crate) fn hold(ctx: &Ctx<'_>, id: &Hash) -> Result<Hold, UrbisError> {
    ctx.get(&keys::hold(id))?.ok_or_else(|| {
        UrbisError::new(
            ErrorCode::NotFound,
            format!("no open hold {id} (released, refunded, expired, or never made)"),
        )
    })
}

/// An asset in committed state, if any.
pub fn asset_of(view: &dyn StateView, symbol: &str) -> Result<Option<Asset>, UrbisError> {
    view_get(view, &keys::asset(symbol))
}

/// A balance in committed state.
pub fn balance_of(view: &dyn StateView, symbol: &str, addr: &Address) -> Result<u64, UrbisError> {
    Ok(view_get(view, &keys::balance(symbol, addr))?.unwrap_or(0))
}

/// An open hold in committed state, if any.
pub fn hold_of(view: &dyn StateView, id: &Hash) -> Result<Option<Hold>, UrbisError> {
    view_get(view, &keys::hold(id))
}
