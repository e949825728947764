//! The rewards section of the genesis file.

use serde::Deserialize;
use urbis_core::{ErrorCode, UrbisError};
use urbis_runtime::Ctx;

use crate::call::create_program;
use crate::types::ProgramSpec;

/// `{ "programs": [ { "name", "category", "budget", "cap_per_period", "period_ms",
/// "transferable" } ] }`; programs get ids 1, 2, … in order, are active, and are created by the
/// zero address at height 0.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisConfig {
    #[serde(default)]
    pub programs: Vec<ProgramSpec>,
}

impl GenesisConfig {
    /// Parse the module's section; `null` means no initial program.
    pub fn parse(config: &serde_json::Value) -> Result<Self, UrbisError> {
        if config.is_null() {
            return Ok(GenesisConfig::default());
        }
        serde_json::from_value(config.clone()).map_err(|e| {
            UrbisError::new(ErrorCode::InvalidArgument, format!("rewards config: {e}"))
        })
    }

    /// Create every program (the genesis context's sender is the zero address).
    pub(crate) fn apply(self, ctx: &mut Ctx<'_>) -> Result<(), UrbisError> {
        for spec in self.programs {
            create_program(ctx, spec)?;
        }
        Ok(())
    }
}
