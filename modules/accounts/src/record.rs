//! The account record and its validation rules.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use urbis_core::{ErrorCode, UrbisError};

use crate::Role;

/// Longest display label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

/// What the chain knows about an account. Stored under [`keys::account`](crate::keys::account);
/// an account with no role and no label has no record at all.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Account {
    /// Held roles, sorted and without duplicates.
    pub roles: Vec<Role>,
    /// Optional display name (empty when unset).
    pub label: String,
}

impl Account {
    pub fn has(&self, role: Role) -> bool {
        self.roles.binary_search(&role).is_ok()
    }

    /// Adds `role`, keeping the list sorted; `false` if it was already held.
    pub(crate) fn add_role(&mut self, role: Role) -> bool {
        match self.roles.binary_search(&role) {
            Ok(_) => false,
            Err(at) => {
                self.roles.insert(at, role);
                true
            }
        }
    }

    /// Removes `role`; `false` if it was not held.
    pub(crate) fn remove_role(&mut self, role: Role) -> bool {
        match self.roles.binary_search(&role) {
            Ok(at) => {
                self.roles.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// True when there is nothing worth storing.
    pub(crate) fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.label.is_empty()
    }
}

/// A label is at most [`MAX_LABEL_CHARS`] characters with no control characters; empty clears it.
pub fn validate_label(label: &str) -> Result<(), UrbisError> {
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(UrbisError::new(
            ErrorCode::InvalidArgument,
            format!("label is longer than {MAX_LABEL_CHARS} characters"),
        ));
    }
    if label.chars().any(char::is_control) {
        return Err(UrbisError::new(
            ErrorCode::InvalidArgument,
            "label contains control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_stay_sorted_and_unique() {
        let mut a = Account::default();
        assert!(a.add_role(Role::Citizen));
        assert!(a.add_role(Role::CityAdmin));
        assert!(a.add_role(Role::Merchant));
        assert!(!a.add_role(Role::Merchant));
        assert_eq!(
            a.roles,
            vec![Role::CityAdmin, Role::Merchant, Role::Citizen]
        );
        assert!(a.remove_role(Role::Merchant));
        assert!(!a.remove_role(Role::Merchant));
        assert!(a.has(Role::Citizen) && !a.has(Role::Merchant));
    }

    #[test]
    fn label_limits() {
        validate_label("").expect("empty clears");
        validate_label(&"é".repeat(MAX_LABEL_CHARS)).expect("64 chars fit");
        assert!(validate_label(&"a".repeat(MAX_LABEL_CHARS + 1)).is_err());
        assert!(validate_label("bad\nlabel").is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn add_and_remove_keep_roles_sorted_unique(ops in proptest::collection::vec((any::<bool>(), 0usize..7), 0..40)) {
            let mut account = Account::default();
            let mut model = std::collections::BTreeSet::new();
            for (add, i) in ops {
                let role = Role::ALL[i];
                if add {
                    prop_assert_eq!(account.add_role(role), model.insert(role));
                } else {
                    prop_assert_eq!(account.remove_role(role), model.remove(&role));
                }
                prop_assert_eq!(&account.roles, &model.iter().copied().collect::<Vec<_>>());
            }
        }
    }
}
