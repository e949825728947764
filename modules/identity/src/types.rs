//! Stored records, the document a controller writes, and their checks.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, Hash, UrbisError};
use urbis_credentials::jose::PublicJwk;

/// Most verification methods, services and controllers of one document.
pub const MAX_METHODS: usize = 16;
pub const MAX_SERVICES: usize = 16;
pub const MAX_CONTROLLERS: usize = 4;
/// Longest service type and endpoint.
pub const MAX_SERVICE_TYPE: usize = 64;
pub const MAX_ENDPOINT: usize = 256;

pub(crate) fn invalid(msg: impl Into<String>) -> UrbisError {
    UrbisError::new(ErrorCode::InvalidArgument, msg)
}

/// A public key as a JWK (RFC 7517): `OKP` with `Ed25519` or `X25519`, or `EC` with `P-256`;
/// coordinates base64url without padding.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl Jwk {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The key, checked (a point on its curve).
    pub fn key(&self) -> Result<PublicJwk, UrbisError> {
        PublicJwk::from_json(&self.to_json()).map_err(|e| invalid(format!("bad JWK: {e}")))
    }

    pub fn from_key(key: &PublicJwk) -> Jwk {
        let v = key.to_json();
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Jwk {
            kty: s("kty").unwrap_or_default(),
            crv: s("crv").unwrap_or_default(),
            x: s("x").unwrap_or_default(),
            y: s("y"),
        }
    }
}

/// What a verification method may be used for (DID Core verification relationships).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Authentication,
    AssertionMethod,
    KeyAgreement,
    CapabilityInvocation,
}

impl Purpose {
    /// The DID Core property name.
    pub fn property(self) -> &'static str {
        match self {
            Purpose::Authentication => "authentication",
            Purpose::AssertionMethod => "assertionMethod",
            Purpose::KeyAgreement => "keyAgreement",
            Purpose::CapabilityInvocation => "capabilityInvocation",
        }
    }
}

/// A verification method: `<did>#<fragment>`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub fragment: String,
    pub jwk: Jwk,
    pub purposes: Vec<Purpose>,
}

/// A service endpoint: `<did>#<fragment>`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub fragment: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub endpoint: String,
}

/// The part of a DID document its controller writes.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub methods: Vec<Method>,
    #[serde(default)]
    pub services: Vec<Service>,
    /// Other DIDs that also control this one (DID Core `controller`), for display; on chain
    /// only the controlling account may change the document.
    #[serde(default)]
    pub controllers: Vec<String>,
}

fn fragment_ok(f: &str) -> bool {
    (1..=32).contains(&f.len())
        && f.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Document {
    /// The checks every create and update runs.
    pub fn check(&self) -> Result<(), UrbisError> {
        if self.methods.is_empty() || self.methods.len() > MAX_METHODS {
            return Err(invalid(format!(
                "a document has 1 to {MAX_METHODS} verification methods"
            )));
        }
        if self.services.len() > MAX_SERVICES || self.controllers.len() > MAX_CONTROLLERS {
            return Err(invalid(format!(
                "a document has at most {MAX_SERVICES} services and {MAX_CONTROLLERS} controllers"
            )));
        }
        let mut fragments = std::collections::BTreeSet::new();
        for m in &self.methods {
            if !fragment_ok(&m.fragment) || !fragments.insert(m.fragment.as_str()) {
                return Err(invalid(format!(
                    "fragment {:?} is not 1-32 letters, digits, - or _, or is used twice",
                    m.fragment
                )));
            }
            let key = m.jwk.key()?;
            let mut purposes = m.purposes.clone();
            purposes.sort();
            purposes.dedup();
            if purposes.len() != m.purposes.len() || purposes.is_empty() {
                return Err(invalid(format!(
                    "method {} lists each purpose once and at least one",
                    m.fragment
                )));
            }
            let agreement = matches!(key, PublicJwk::X25519(_));
            let only_agreement = m.purposes == [Purpose::KeyAgreement];
            if agreement != only_agreement {
                return Err(invalid(format!(
                    "method {}: X25519 keys are for key agreement only, and only they are",
                    m.fragment
                )));
            }
        }
        for s in &self.services {
            if !fragment_ok(&s.fragment) || !fragments.insert(s.fragment.as_str()) {
                return Err(invalid(format!(
                    "fragment {:?} is not 1-32 letters, digits, - or _, or is used twice",
                    s.fragment
                )));
            }
            if s.kind.is_empty()
                || s.kind.len() > MAX_SERVICE_TYPE
                || s.endpoint.is_empty()
                || s.endpoint.len() > MAX_ENDPOINT
                || s.kind
                    .chars()
                    .chain(s.endpoint.chars())
                    .any(char::is_control)
            {
                return Err(invalid(format!(
                    "service {}: type 1-{MAX_SERVICE_TYPE} and endpoint 1-{MAX_ENDPOINT} characters, no control characters",
                    s.fragment
                )));
            }
        }
        for c in &self.controllers {
            crate::parse_did(c)?;
        }
        Ok(())
    }

    /// The method `fragment`, if any.
    pub fn method(&self, fragment: &str) -> Option<&Method> {
        self.methods.iter().find(|m| m.fragment == fragment)
    }
}

/// Who a DID is for.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A person who created it themself.
    Person,
    /// An organisation (a department, a company), created by a department.
    Organisation,
    /// A device (a meter, a bin, an on-board unit), created by a department.
    Device,
}

/// A DID as stored: current version under `identity/did/<id>`, each version under
/// `identity/version/<id>/<version>`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct DidRecord {
    /// The 20-byte self-certifying id (hex in the DID).
    pub id: [u8; 20],
    pub subject: Subject,
    /// The account whose transactions change it.
    pub controller: Address,
    /// Pre-rotation: the commitment to the next controlling account
    /// ([`crate::next_key_commitment`]).
    pub next_key_hash: Hash,
    pub document: Document,
    /// 1 at creation, +1 per change.
    pub version: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub deactivated: bool,
    /// Who may recover it if its keys are lost.
    pub recovery: Option<Recovery>,
}

/// Social recovery: `threshold` of `guardians` (other DIDs) may hand control to a new account;
/// it takes effect `delay_ms` after the last approval unless the current controller vetoes.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Recovery {
    pub guardians: Vec<String>,
    pub threshold: u8,
    pub delay_ms: u64,
}

/// A recovery under way, at `identity/recovery/<id hex>`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct PendingRecovery {
    pub did: String,
    pub new_controller: Address,
    pub next_key_hash: Hash,
    /// Guardian DIDs that approved (the starter first).
    pub approvals: Vec<String>,
    pub started_ms: u64,
    /// When it takes effect (set once the threshold is reached).
    pub effective_ms: Option<u64>,
}

/// An accreditation: `issuer` may issue credentials of type `vct` from `from_ms` until
/// `until_ms` (block time).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Accreditation {
    pub issuer: String,
    pub vct: String,
    pub from_ms: u64,
    pub until_ms: u64,
    pub by: Address,
}

/// A status list's header; its bytes live in chunks of [`crate::CHUNK_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct StatusListMeta {
    pub id: u64,
    /// The issuer DID whose controller sets its entries.
    pub issuer: String,
    pub bits: u8,
    /// Entries.
    pub size: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
}
