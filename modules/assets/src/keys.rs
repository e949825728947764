//! State keys of the assets module. Every key this module reads or writes is built here.

use urbis_core::{Address, Hash};

/// The module's namespace and dispatch name.
pub const MODULE: &str = "assets";

/// Prefix of every asset record.
pub const ASSET_PREFIX: &str = "assets/asset/";
/// Prefix of every open hold.
pub const HOLD_PREFIX: &str = "assets/hold/";

/// `assets/asset/<symbol>`: the [`Asset`](crate::Asset).
pub fn asset(symbol: &str) -> Vec<u8> {
    format!("{ASSET_PREFIX}{symbol}").into_bytes()
}

/// Prefix of every balance of `symbol`.
pub fn balances(symbol: &str) -> Vec<u8> {
    format!("{MODULE}/balance/{symbol}/").into_bytes()
}

/// `assets/balance/<symbol>/<addr>`: the balance (`u64`, minor units; absent: zero).
pub fn balance(symbol: &str, addr: &Address) -> Vec<u8> {
    format!("{MODULE}/balance/{symbol}/{addr}").into_bytes()
}

/// `assets/hold/<id hex>`: an open [`Hold`](crate::Hold).
pub fn hold(id: &Hash) -> Vec<u8> {
    format!("{HOLD_PREFIX}{id}").into_bytes()
}
