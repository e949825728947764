//! The credential types Urbis issuers use: their `vct`, which claims they carry and which of
//! those are selectively disclosable. An issuer refuses claims a type does not list.

use serde_json::{Map, Value};

use crate::CredError;

/// A credential type.
#[derive(Clone, Copy, Debug)]
pub struct CredentialType {
    pub vct: &'static str,
    pub description: &'static str,
    /// Claim paths (dot-separated); each is selectively disclosable unless in `clear`.
    pub claims: &'static [&'static str],
    /// Claims always in the clear.
    pub clear: &'static [&'static str],
}

/// The types this build knows.
pub const TYPES: &[CredentialType] = &[
    CredentialType {
        vct: "urn:urbis:resident",
        description: "Registered resident of the city (registry office).",
        claims: &[
            "given_name",
            "family_name",
            "birthdate",
            "address.street_address",
            "address.locality",
            "address.postal_code",
            "registered_since",
        ],
        clear: &[],
    },
    CredentialType {
        vct: "urn:urbis:id-card",
        description: "Attestation of a national identity card: its number and the SHA-256 of the document scan.",
        claims: &[
            "given_name",
            "family_name",
            "birthdate",
            "nationality",
            "document_number",
            "document_hash",
            "expiry_date",
        ],
        clear: &[],
    },
    CredentialType {
        vct: "urn:urbis:residence-permit",
        description: "Attestation of a residence permit: permit type, validity and the SHA-256 of the document.",
        claims: &[
            "given_name",
            "family_name",
            "birthdate",
            "nationality",
            "permit_type",
            "document_number",
            "document_hash",
            "valid_until",
        ],
        clear: &[],
    },
    CredentialType {
        vct: "urn:urbis:driving-licence",
        description: "Attestation of a driving licence: categories, validity and the SHA-256 of the document.",
        claims: &[
            "given_name",
            "family_name",
            "birthdate",
            "categories",
            "document_number",
            "document_hash",
            "expiry_date",
        ],
        clear: &[],
    },
    CredentialType {
        vct: "urn:urbis:guardianship",
        description: "A court or registry decision naming a guardian for a ward: a guardian shows it when acting for the ward (consent grants say so).",
        claims: &[
            "guardian_did",
            "ward_did",
            "scope",
            "decision_reference",
            "valid_until",
        ],
        clear: &[],
    },
    CredentialType {
        vct: "urn:urbis:permit",
        description: "A permit an administrative process (a governance workflow) issued: its type, the process, the SHA-256 of the application and the validity; its status entry is the one the chain assigned when the process issued it.",
        claims: &[
            "permit_type",
            "workflow",
            "instance",
            "subject_hash",
            "issued",
            "valid_until",
        ],
        clear: &["permit_type", "workflow", "instance", "valid_until"],
    },
];

/// The type `vct`.
pub fn find(vct: &str) -> Result<&'static CredentialType, CredError> {
    TYPES
        .iter()
        .find(|t| t.vct == vct)
        .ok_or_else(|| CredError::Malformed(format!("unknown credential type {vct}")))
}

fn leaves(prefix: &str, v: &Map<String, Value>, out: &mut Vec<String>) {
    // In key order, whatever order the map keeps (serde_json's `preserve_order` is on in the
    // workspace): the paths do not depend on how the claims were written.
    let mut entries: Vec<(&String, &Value)> = v.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (k, val) in entries {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match val {
            Value::Object(m) => leaves(&path, m, out),
            _ => out.push(path),
        }
    }
}

impl CredentialType {
    /// Check `claims` against the type; returns the paths to make disclosable (each given
    /// claim the type lists, and the objects holding nested ones).
    pub fn disclosable(&self, claims: &Map<String, Value>) -> Result<Vec<String>, CredError> {
        let mut given = Vec::new();
        leaves("", claims, &mut given);
        let mut out = Vec::new();
        for path in &given {
            if !self.claims.contains(&path.as_str()) {
                return Err(CredError::Malformed(format!(
                    "{} has no claim {path} (it has: {})",
                    self.vct,
                    self.claims.join(", ")
                )));
            }
            if !self.clear.contains(&path.as_str()) {
                out.push(path.clone());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_checked_against_the_type() {
        let t = find("urn:urbis:resident").unwrap();
        let c = serde_json::json!({"given_name": "Ana", "address": {"locality": "Ghent"}});
        let d = t.disclosable(c.as_object().unwrap()).unwrap();
        assert_eq!(d, ["address.locality", "given_name"]);
        let bad = serde_json::json!({"salary": 1});
        assert!(t.disclosable(bad.as_object().unwrap()).is_err());
        assert!(find("urn:other").is_err());
    }
}
