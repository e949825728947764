//! Error type shared by every part of the library.

use thiserror::Error;

/// Errors returned by the election library.
///
/// Verification of a *record* never returns these: it produces a
/// [`crate::VerifyReport`] naming the failed check instead.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VoteError {
    /// A byte string is not a canonical Ristretto255 point or scalar, or has the wrong length.
    #[error("invalid encoding of {what}: {detail}")]
    Encoding { what: String, detail: String },
    /// The manifest is inconsistent (duplicate ids, impossible bounds, unknown contests, ...).
    #[error("invalid manifest: {0}")]
    Manifest(String),
    /// A plaintext ballot does not respect the manifest or the voter's ballot style.
    #[error("invalid ballot: {0}")]
    Ballot(String),
    /// A zero-knowledge proof or signature did not verify.
    #[error("verification failed: {0}")]
    Verification(String),
    /// The key ceremony could not complete (bad parameters, too few qualified trustees, ...).
    #[error("key ceremony: {0}")]
    Ceremony(String),
    /// The tally could not be computed (too few trustees, value out of bound, ...).
    #[error("tally: {0}")]
    Tally(String),
    /// The election record could not be parsed.
    #[error("record: {0}")]
    Record(String),
    /// Invalid parameters given to a library function.
    #[error("invalid parameter: {0}")]
    Parameter(String),
}

impl VoteError {
    pub(crate) fn encoding(what: impl Into<String>, detail: impl Into<String>) -> Self {
        VoteError::Encoding {
            what: what.into(),
            detail: detail.into(),
        }
    }
}
