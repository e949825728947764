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
//! | `Escrow`      | any holder                   | `invalid_argument` (to self, zero, expiry not in the future); `not_found`; `insufficient_balance` |
//! | `Claim`       | the payee                    | `not_found` (no open escrow payment); `unauthorized` (not the payee) |
//! | `Cancel`      | the payer                    | `not_found` (no open escrow payment); `unauthorized` (not the payer) |
//!
//! # Exported operations ([`AssetsOp`], for modules only)
//!
//! | operation | failures                                                                              |
//! |-----------|---------------------------------------------------------------------------------------|
//! | `Hold`    | `unauthorized` (not called by a module); `invalid_argument` (zero, expiry not in the future); `not_found`; `insufficient_balance` |
//! | `Release` | `not_found` (no open hold); `unauthorized` (another module's); `invalid_argument` (no or over 64 payouts, a zero payout); `insufficient_balance` (payouts over the hold) |
//! | `Refund`  | `not_found`; `unauthorized`                                                           |
//! | `Pay`     | `unauthorized` (not called by a module); `invalid_argument` (zero); `not_found`; `insufficient_balance` (the module account holds less) |
//!
//! A module's own account ([`module_account`]: the first 20 bytes of `SHA-256(len(tag) ‖
//! "urbis/module-account/v1" ‖ name)`) pools what it owes several parties at once (a market's
//! proceeds and collateral); only that module pays out of it, with `Pay`.
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

use urbis_core::UrbisError;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo};

pub use call::AssetsCall;
pub use genesis::{GenesisAsset, GenesisConfig};
pub use keys::MODULE;
pub use ops::{AssetsOp, hold, module_account, pay, refund, release};
pub use store::{asset_of, balance_of, hold_of};
pub use types::{Asset, Hold, MAX_PAYOUTS, validate_symbol};

/// The assets module.
#[derive(Clone, Copy, Debug, Default)]
pub struct Assets;

pub fn module() -> Arc<dyn Module> {
    Arc::new(Assets)
}

/// Queries, events and exported operations of the assets module (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Settlement assets issued and burned by their issuer, transfers, and escrow holds owned by calling modules.",
    queries: &[
        QueryInfo {
            path: "asset/<symbol>",
            list: false,
            description: "An asset: name, decimals, issuer, issued, burned; null if none.",
        },
        QueryInfo {
            path: "balance/<symbol>/<address>",
            list: false,
            description: "An account's balance of an asset (0 when it has none).",
        },
        QueryInfo {
            path: "hold/<id>",
            list: false,
            description: "A hold (escrow): payer, owner module, amount, expiry; null once closed or if none.",
        },
        QueryInfo {
            path: "assets",
            list: true,
            description: "Every asset, in key order.",
        },
        QueryInfo {
            path: "balances/<symbol>",
            list: true,
            description: "Every non-zero balance of an asset.",
        },
        QueryInfo {
            path: "holds",
            list: true,
            description: "Every open hold.",
        },
    ],
    events: &[
        EventInfo {
            kind: "asset_created",
            attributes: &["asset", "name", "issuer"],
            description: "An asset was created.",
        },
        EventInfo {
            kind: "issued",
            attributes: &["asset", "to", "amount"],
            description: "The issuer issued new units.",
        },
        EventInfo {
            kind: "burned",
            attributes: &["asset", "amount"],
            description: "The issuer burned units of its own balance.",
        },
        EventInfo {
            kind: "transferred",
            attributes: &["asset", "from", "to", "amount"],
            description: "Units changed hands.",
        },
        EventInfo {
            kind: "held",
            attributes: &["hold", "asset", "payer", "amount", "owner"],
            description: "A module took units of a payer into escrow.",
        },
        EventInfo {
            kind: "released",
            attributes: &["hold", "asset", "to", "amount"],
            description: "A payout from a hold (one event per beneficiary; the remainder back to the payer).",
        },
        EventInfo {
            kind: "refunded",
            attributes: &["hold", "asset", "to", "amount"],
            description: "A hold went back to its payer.",
        },
        EventInfo {
            kind: "hold_expired",
            attributes: &["hold", "asset", "to", "amount"],
            description: "A hold reached its expiry and went back to its payer.",
        },
        EventInfo {
            kind: "escrowed",
            attributes: &["hold", "asset", "from", "to", "amount", "expires_ms"],
            description: "An escrow payment: units held for a payee until claimed, cancelled or expired (expires_ms empty: no expiry). Escrow holds emit this instead of `held`.",
        },
    ],
    exported: &["hold", "release", "refund"],
};

impl Module for Assets {
    urbis_runtime::json_calls!(AssetsCall);

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

    fn info(&self) -> ModuleInfo {
        INFO
    }
}
