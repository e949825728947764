//! City roles and the permission table that says who may hand them out.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A role an account can hold.
///
/// The declaration order is the borsh encoding (variant index) and the order in which an
/// account's roles are stored: never reorder, only append.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    CityAdmin,
    Department,
    ValidatorOperator,
    CredentialIssuer,
    CertifiedDevice,
    Merchant,
    Citizen,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 7] = [
        Role::CityAdmin,
        Role::Department,
        Role::ValidatorOperator,
        Role::CredentialIssuer,
        Role::CertifiedDevice,
        Role::Merchant,
        Role::Citizen,
    ];

    /// The snake_case name used in JSON, on the command line and in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CityAdmin => "city_admin",
            Role::Department => "department",
            Role::ValidatorOperator => "validator_operator",
            Role::CredentialIssuer => "credential_issuer",
            Role::CertifiedDevice => "certified_device",
            Role::Merchant => "merchant",
            Role::Citizen => "citizen",
        }
    }

    /// The roles whose holders may grant or revoke `self` (the permission table).
    pub fn managers(self) -> &'static [Role] {
        match self {
            Role::Citizen => &[Role::CityAdmin, Role::Department, Role::CredentialIssuer],
            Role::CertifiedDevice | Role::Merchant => &[Role::CityAdmin, Role::Department],
            Role::CityAdmin
            | Role::Department
            | Role::ValidatorOperator
            | Role::CredentialIssuer => &[Role::CityAdmin],
        }
    }

    /// Whether an account holding `roles` may grant or revoke `self`.
    pub fn is_managed_by(self, roles: &[Role]) -> bool {
        self.managers().iter().any(|m| roles.contains(m))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?}; expected one of city_admin, department, validator_operator, credential_issuer, certified_device, merchant, citizen"
)]
pub struct ParseRoleError(pub String);

impl FromStr for Role {
    type Err = ParseRoleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ParseRoleError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_serde_and_display_agree() {
        for role in Role::ALL {
            let json = serde_json::to_value(role).expect("serializes");
            assert_eq!(json, serde_json::json!(role.as_str()));
            assert_eq!(role.to_string().parse::<Role>().expect("parses"), role);
            assert_eq!(
                serde_json::from_value::<Role>(json).expect("deserializes"),
                role
            );
        }
        assert!("CityAdmin".parse::<Role>().is_err());
    }

    #[test]
    fn city_admin_manages_everything() {
        for role in Role::ALL {
            assert!(role.is_managed_by(&[Role::CityAdmin]), "{role}");
        }
    }

    #[test]
    fn delegated_permissions() {
        let dept = [Role::Department];
        let issuer = [Role::CredentialIssuer];
        assert!(Role::Citizen.is_managed_by(&dept));
        assert!(Role::Merchant.is_managed_by(&dept));
        assert!(Role::CertifiedDevice.is_managed_by(&dept));
        assert!(!Role::Department.is_managed_by(&dept));
        assert!(Role::Citizen.is_managed_by(&issuer));
        assert!(!Role::Merchant.is_managed_by(&issuer));
        assert!(!Role::Citizen.is_managed_by(&[Role::Citizen, Role::Merchant]));
    }
}
