//! State keys of the accounts module. Every key this module reads or writes is built here.

use urbis_core::Address;

/// The module's namespace and dispatch name.
pub const MODULE: &str = "accounts";

/// Prefix of every account record.
pub const ACCOUNT_PREFIX: &str = "accounts/account/";

/// `accounts/account/<addr>`: the [`Account`](crate::Account) record of `addr`.
pub fn account(addr: &Address) -> Vec<u8> {
    format!("{MODULE}/account/{addr}").into_bytes()
}
