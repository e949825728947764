//! The assets section of the genesis file.

use serde::Deserialize;
use urbis_core::{Address, ErrorCode, Event, UrbisError};
use urbis_runtime::Ctx;

use crate::keys::MODULE;
use crate::store;
use crate::types::{Asset, checked_add, validate_symbol};

/// One asset at genesis, with its initial holders.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAsset {
    pub symbol: String,
    pub name: String,
    #[serde(default)]
    pub decimals: u8,
    pub issuer: Address,
    /// `[address, amount]` pairs issued at genesis.
    #[serde(default)]
    pub supply: Vec<(Address, u64)>,
}

/// `{ "assets": [GenesisAsset…] }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisConfig {
    #[serde(default)]
    pub assets: Vec<GenesisAsset>,
}

impl GenesisConfig {
    pub fn parse(config: &serde_json::Value) -> Result<Self, UrbisError> {
        if config.is_null() {
            return Ok(GenesisConfig::default());
        }
        serde_json::from_value(config.clone())
            .map_err(|e| UrbisError::new(ErrorCode::InvalidArgument, format!("assets config: {e}")))
    }

    pub(crate) fn apply(self, ctx: &mut Ctx<'_>) -> Result<(), UrbisError> {
        for a in self.assets {
            validate_symbol(&a.symbol)?;
            if ctx.get_raw(&crate::keys::asset(&a.symbol))?.is_some() {
                return Err(UrbisError::new(
                    ErrorCode::InvalidArgument,
                    format!("asset {} twice", a.symbol),
                ));
            }
            let mut asset = Asset {
                symbol: a.symbol.clone(),
                name: a.name,
                decimals: a.decimals,
                issuer: a.issuer,
                issued: 0,
                burned: 0,
                held: 0,
            };
            for (to, amount) in a.supply {
                asset.issued = checked_add(asset.issued, amount)?;
                let b = checked_add(store::balance(ctx, &a.symbol, &to)?, amount)?;
                store::put_balance(ctx, &a.symbol, &to, b);
            }
            store::put_asset(ctx, &asset);
            ctx.emit(Event::new(MODULE, "asset_created").with("asset", &a.symbol));
        }
        Ok(())
    }
}
