//! The accounts section of the genesis file.

use std::collections::BTreeSet;

use serde::Deserialize;
use urbis_core::{Address, ErrorCode, UrbisError};
use urbis_runtime::Ctx;

use crate::record::validate_label;
use crate::{Account, Role, store_account};

/// `{ "accounts": [ { "address": "urbis1…", "roles": ["city_admin"], "label": "City" } ] }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisConfig {
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
}

/// One initial account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    pub address: Address,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub label: String,
}

impl GenesisConfig {
    /// Parse the module's section; `null` means no initial accounts.
    pub fn parse(config: &serde_json::Value) -> Result<Self, UrbisError> {
        if config.is_null() {
            return Ok(GenesisConfig::default());
        }
        serde_json::from_value(config.clone()).map_err(|e| invalid(format!("accounts config: {e}")))
    }

    /// Write every account, rejecting duplicate addresses or roles.
    pub(crate) fn apply(self, ctx: &mut Ctx<'_>) -> Result<(), UrbisError> {
        let mut seen = BTreeSet::new();
        for entry in self.accounts {
            if !seen.insert(entry.address) {
                return Err(invalid(format!("account {} listed twice", entry.address)));
            }
            let (address, account) = entry.into_record()?;
            store_account(ctx, &address, &account);
        }
        Ok(())
    }
}

impl GenesisAccount {
    fn into_record(self) -> Result<(Address, Account), UrbisError> {
        validate_label(&self.label)?;
        let mut account = Account {
            roles: Vec::with_capacity(self.roles.len()),
            label: self.label,
        };
        for role in self.roles {
            if !account.add_role(role) {
                return Err(invalid(format!(
                    "account {} lists {role} twice",
                    self.address
                )));
            }
        }
        Ok((self.address, account))
    }
}

fn invalid(message: String) -> UrbisError {
    UrbisError::new(ErrorCode::InvalidArgument, message)
}
