//! City roles and the permission table that says who may hand them out.

urbis_runtime::named_enum! {
    /// A role an account can hold.
    ///
    /// The declaration order is the borsh encoding (variant index) and the order in which an
    /// account's roles are stored: never reorder, only append.
    pub enum Role("role") {
        CityAdmin = "city_admin",
        Department = "department",
        ValidatorOperator = "validator_operator",
        CredentialIssuer = "credential_issuer",
        CertifiedDevice = "certified_device",
        Merchant = "merchant",
        Citizen = "citizen",
        /// Keeps the land register: registers parcels, liens and easements, approves transfers.
        LandRegistrar = "land_registrar",
        /// Holds liens (mortgages) on parcels.
        Bank = "bank",
        /// Keeps health records and may open one in an emergency (break-glass, always logged).
        Hospital = "hospital",
        /// Runs the electricity grid: feeders, certified meters, tariffs, reading corrections.
        GridOperator = "grid_operator",
        /// The city's mobility department: registers drivers, sets transit fares and zones,
        /// decides ride disputes, registers any vehicle.
        MobilityAuthority = "mobility_authority",
        /// Runs vehicles or public transport: registers its vehicles and station validators,
        /// anchors its vehicles' telemetry, receives its share of fares.
        TransportOperator = "transport_operator",
    }
}

impl Role {
    /// The roles whose holders may grant or revoke `self` (the permission table).
    pub fn managers(self) -> &'static [Role] {
        match self {
            Role::Citizen => &[Role::CityAdmin, Role::Department, Role::CredentialIssuer],
            Role::CertifiedDevice | Role::Merchant => &[Role::CityAdmin, Role::Department],
            Role::TransportOperator => &[Role::CityAdmin, Role::MobilityAuthority],
            Role::CityAdmin
            | Role::Department
            | Role::ValidatorOperator
            | Role::CredentialIssuer
            | Role::LandRegistrar
            | Role::Bank
            | Role::Hospital
            | Role::GridOperator
            | Role::MobilityAuthority => &[Role::CityAdmin],
        }
    }

    /// Whether an account holding `roles` may grant or revoke `self`.
    pub fn is_managed_by(self, roles: &[Role]) -> bool {
        self.managers().iter().any(|m| roles.contains(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_serde_and_display_agree() {
        for &role in Role::ALL {
            let json = serde_json::to_value(role).expect("serializes");
            assert_eq!(json, serde_json::json!(role.as_str()));
            assert_eq!(role.to_string().parse::<Role>().expect("parses"), role);
            assert_eq!(
                serde_json::from_value::<Role>(json).expect("deserializes"),
                role
            );
        }
        assert!("CityAdmin".parse::<Role>().is_err());
        // Stored records encode roles by declaration index: these bytes must never change.
        assert_eq!(borsh::to_vec(&Role::CityAdmin).unwrap(), [0]);
        assert_eq!(borsh::to_vec(&Role::Citizen).unwrap(), [6]);
    }

    #[test]
    fn city_admin_manages_everything() {
        for &role in Role::ALL {
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
