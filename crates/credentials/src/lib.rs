//! Verifiable credentials that work without a node: JWK and compact JWS with `EdDSA` and
//! `ES256` ([`jose`]), SD-JWT with key binding per RFC 9901 ([`sdjwt`]), the SD-JWT VC
//! profile ([`vc`]) and IETF Token Status Lists ([`status`]). The node's identity module keeps
//! DIDs, accredited issuers and status lists on chain; this crate is what issuers, holders and
//! verifiers run, and the CLI's `urbis credential …` is built on it.

pub mod did;
pub mod jose;
pub mod sdjwt;
pub mod status;
pub mod types;
pub mod vc;

/// Why a credential, presentation, key or list was refused. Each has a stable code
/// ([`CredError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("unsupported algorithm {0} (only EdDSA and ES256)")]
    UnsupportedAlg(String),
    #[error("the key does not match the algorithm")]
    KeyMismatch,
    #[error("bad signature")]
    BadSignature,
    #[error("bad disclosure: {0}")]
    BadDisclosure(String),
    #[error("a digest appears more than once")]
    DuplicateDigest,
    #[error("key binding required but no KB-JWT was presented")]
    KbMissing,
    #[error("invalid KB-JWT: {0}")]
    KbInvalid(String),
    #[error("the presentation is for another audience")]
    WrongAudience,
    #[error("the presentation answers another nonce")]
    WrongNonce,
    #[error("the credential has expired")]
    Expired,
    #[error("the credential is not valid yet")]
    NotYetValid,
}

impl CredError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            CredError::Malformed(_) => "malformed",
            CredError::UnsupportedAlg(_) => "unsupported_alg",
            CredError::KeyMismatch => "key_mismatch",
            CredError::BadSignature => "bad_signature",
            CredError::BadDisclosure(_) => "bad_disclosure",
            CredError::DuplicateDigest => "duplicate_digest",
            CredError::KbMissing => "kb_missing",
            CredError::KbInvalid(_) => "kb_invalid",
            CredError::WrongAudience => "wrong_audience",
            CredError::WrongNonce => "wrong_nonce",
            CredError::Expired => "expired",
            CredError::NotYetValid => "not_yet_valid",
        }
    }
}
