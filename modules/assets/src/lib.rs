//! Settlement assets (`"assets"`): money-like units that city services pay with.
//!
//! An asset (the treasury's `EURc` in cents, a transit operator's prepaid credit) is created by
//! a city admin or a department, who becomes its **issuer**: the only account that may issue
//! new units and burn units it holds. Any holder may transfer. Other modules take payments in
//! escrow through **holds**: a module calls [`hold`] while executing a transaction, which moves
//! units from the transaction's signer into a hold the module owns; later the module
//! [`release`]s it (to one or more beneficiaries, the rest back to the payer) or [`refund`]s it,
//! and a hold with an expiry is refunded by itself when it comes (through the scheduler).
//!
//! # State
//!
//! | key                                   | value (borsh)                           |
//! |---------------------------------------|-----------------------------------------|
//! | `assets/asset/<symbol>`               | [`Asset`]                               |
//! | `assets/balance/<symbol>/<addr>`      | `u64` minor units (absent: zero)        |
//! | `assets/hold/<id>`                    | [`Hold`] while open (closed: deleted)   |
//!
//! Ids are 64 hex digits, derived from the transaction that made the hold (see
//! `urbis_runtime::Ctx::new_id`); addresses are bech32m; amounts are integer minor units.
//!
//! # Invariants (tested with proptest)
//!
//! - per asset, `Σ balances + Σ open holds = issued − burned`, and `held = Σ open holds`;
//! - a hold is closed exactly once: released, refunded or expired, never two of them;
//! - only the issuer issues and burns; only the owning module releases or refunds.
//!
//! # Calls ([`AssetsCall`])
//!
//! | call          | who                          | failures, in check order                                                      |
//! |---------------|------------------------------|-------------------------------------------------------------------------------|
//! | `CreateAsset` | `city_admin` or `department` | `unauthorized`; `invalid_argument` (symbol, name, decimals > 18); `already_exists` |
//! | `Issue`       | the issuer                   | `not_found`; `unauthorized`; `invalid_argument` (zero); `overflow`             |
//! | `Burn`        | the issuer                   | `not_found`; `unauthorized`; `invalid_argument` (zero); `insufficient_balance` |
//! | `Transfer`    | any holder                   | `invalid_argument` (zero, to self); `not_found`; `insufficient_balance`; `overflow` |
//!
//! # Exported operations ([`AssetsOp`], for modules only)
//!
//! | operation | failures                                                                              |
//! |-----------|---------------------------------------------------------------------------------------|
//! | `Hold`    | `unauthorized` (not called by a module); `invalid_argument` (zero, expiry not in the future); `not_found`; `insufficient_balance` |
//! | `Release` | `not_found` (no open hold); `unauthorized` (another module's); `invalid_argument` (no or over 64 payouts, a zero payout); `insufficient_balance` (payouts over the hold) |
//! | `Refund`  | `not_found`; `unauthorized`                                                           |
//!
//! A failed operation fails the calling transaction (the runtime's rule for nested calls).
//!
//! # Events
//!
//! `asset_created {asset, name, issuer}`, `issued {asset, to, amount}`, `burned {asset,
//! amount}`, `transferred {asset, from, to, amount}`, `held {hold, asset, payer, amount, owner,
//! expires_ms?}`, `released {hold, asset, to, amount}`, `refunded {hold, asset, to, amount}`,
//! `hold_expired {hold, asset, to, amount}`.
//!
//! # Queries
//!
//! | path                          | answer                                                        |
//! |-------------------------------|---------------------------------------------------------------|
//! | `asset/<symbol>`              | `{symbol, name, decimals, issuer, issued, burned, held, outstanding}` or `null` |
//! | `balance/<symbol>/<address>`  | `{asset, address, amount}` (zero when absent)                 |
//! | `hold/<id>`                   | the open [`Hold`], or `null`                                  |
//! | lists: `assets`, `balances/<symbol>`, `holds` | pages of the above, in key order               |
//!
//! # Genesis
//!
//! `{ "assets": [ { "symbol": "EURc", "name": "…", "decimals": 2, "issuer": "urbis1…",
//! "supply": [ ["urbis1…", 100000] ] } ] }`; `null` creates nothing.

mod call;
mod genesis;
pub mod keys;
mod ops;
mod query;
mod store;
mod types;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testsupport;

use std::sync::Arc;

use urbis_core::{ErrorCode, UrbisError};
use urbis_runtime::{Ctx, Module};

pub use call::AssetsCall;
pub use genesis::{GenesisAsset, GenesisConfig};
pub use keys::MODULE;
pub use ops::{AssetsOp, hold, refund, release};
pub use store::{asset_of, balance_of, hold_of};
pub use types::{Asset, Hold, MAX_PAYOUTS, validate_symbol};

/// The assets module.
#[derive(Clone, Copy, Debug, Default)]
pub struct Assets;

pub fn module() -> Arc<dyn Module> {
    Arc::new(Assets)
}

impl Module for Assets {
    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        GenesisConfig::parse(config)?.apply(ctx)
    }

    /// Every call is bounded by one figure: the heaviest call (a transfer that creates the payee's balance) meters about 19,000
    /// (the module's tests meter every call), so this leaves twice the room.
    fn weight(&self, _data: &[u8]) -> u64 {
        50_000
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        AssetsCall::decode(data)?.execute(ctx)
    }

    fn exported(&self, ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        ops::execute(ctx, op)
    }

    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        ops::expire(ctx, payload)
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        query::query_key(path)
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        query::render(path, value)
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        query::list_prefix(path)
    }

    fn render_item(
        &self,
        path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        query::render_item(path, key, value)
    }

    fn describe_call(&self, data: &[u8]) -> Result<serde_json::Value, UrbisError> {
        let call = AssetsCall::decode(data)?;
        serde_json::to_value(call).map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))
    }
}
