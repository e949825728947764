//! Test support: a small escrow module ("shop", and a second one, "market") that takes
//! payments in holds the way later city services will, and a city with an issued asset.

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use serde_json::json;
use urbis_accounts::testkit::{TestChain, addr};
use urbis_core::{Address, Call, ErrorCode, Hash, UrbisError};
use urbis_runtime::{Ctx, Module};

use crate::{AssetsCall, MODULE, hold, refund, release};

/// A test escrow module: takes payments into holds and settles them.
#[derive(Clone, Copy)]
pub struct Shop(pub &'static str);

#[derive(BorshSerialize, BorshDeserialize)]
pub enum ShopCall {
    Pay {
        amount: u64,
        expires_ms: Option<u64>,
    },
    Deliver {
        hold: Hash,
        payouts: Vec<(Address, u64)>,
    },
    Cancel {
        hold: Hash,
    },
}

impl Module for Shop {
    fn name(&self) -> &'static str {
        self.0
    }
    fn genesis(&self, _: &mut Ctx<'_>, _: &serde_json::Value) -> Result<(), UrbisError> {
        Ok(())
    }
    /// A release's work grows with its payouts: each credits one balance.
    fn weight(&self, data: &[u8]) -> u64 {
        match ShopCall::try_from_slice(data) {
            Ok(ShopCall::Deliver { payouts, .. }) => 40_000 + 15_000 * payouts.len() as u64,
            _ => 60_000,
        }
    }
    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        let call = ShopCall::try_from_slice(data)
            .map_err(|e| UrbisError::new(ErrorCode::UnknownCall, e.to_string()))?;
        match call {
            ShopCall::Pay { amount, expires_ms } => {
                let id = hold(ctx, "EURc", amount, expires_ms)?;
                ctx.put(format!("{}/last", self.0).into_bytes(), &id);
            }
            ShopCall::Deliver { hold, payouts } => release(ctx, hold, payouts)?,
            ShopCall::Cancel { hold } => refund(ctx, hold)?,
        }
        Ok(())
    }
    fn query_key(&self, _: &[&str]) -> Result<Vec<u8>, UrbisError> {
        Ok(format!("{}/last", self.0).into_bytes())
    }
    fn render(&self, _: &[&str], _: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        Ok(serde_json::Value::Null)
    }
    fn describe_call(&self, _: &[u8]) -> Result<serde_json::Value, UrbisError> {
        Ok(serde_json::Value::Null)
    }
}

pub fn call(c: AssetsCall) -> Call {
    Call::new(MODULE, &c)
}

pub fn shop(c: ShopCall) -> Call {
    Call::new("shop", &c)
}

pub fn other(c: ShopCall) -> Call {
    Call::new("market", &c)
}

/// Treasury (a department) issues EURc; alice and bob are citizens.
pub fn city() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("treasury"), "roles": ["department"] },
        { "address": addr("alice"), "roles": ["citizen"] },
        { "address": addr("bob"), "roles": ["citizen"] },
    ]});
    let assets = json!({ "assets": [{
        "symbol": "EURc", "name": "Euro (cents)", "decimals": 2, "issuer": addr("treasury"),
        "supply": [[addr("alice"), 10_000]]
    }]});
    TestChain::new(
        vec![
            urbis_accounts::module(),
            crate::module(),
            Arc::new(Shop("shop")),
            Arc::new(Shop("market")),
        ],
        &[(urbis_accounts::MODULE, accounts), (MODULE, assets)],
    )
}
