//! Client errors.
//!
//! Every error displays as `<code>: <detail>`, where `<code>` is an [`ErrorCode`] string when the
//! node or the chain gave one, so a command-line tool can print `error: {err}` as is.

use std::fmt;

use serde::Deserialize;
use urbis_core::{ErrorCode, Hash};

/// The `code` of an API error: a known [`ErrorCode`], or the raw string of a code this client
/// does not know (a newer node), or a synthetic `http_<status>` when the body was not
/// `application/problem+json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiCode {
    Known(ErrorCode),
    Unknown(String),
}

impl ApiCode {
    pub fn parse(s: &str) -> ApiCode {
        match ErrorCode::parse(s) {
            Some(c) => ApiCode::Known(c),
            None => ApiCode::Unknown(s.to_string()),
        }
    }

    /// The known code, if any.
    pub fn known(&self) -> Option<ErrorCode> {
        match self {
            ApiCode::Known(c) => Some(*c),
            ApiCode::Unknown(_) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ApiCode::Known(c) => c.as_str(),
            ApiCode::Unknown(s) => s,
        }
    }
}

impl fmt::Display for ApiCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<ErrorCode> for ApiCode {
    fn eq(&self, other: &ErrorCode) -> bool {
        self.known() == Some(*other)
    }
}

/// An error talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node answered with an error (`application/problem+json`).
    #[error("{code}: {detail}")]
    Api {
        status: u16,
        code: ApiCode,
        detail: String,
    },
    /// The request did not complete: connection refused, timeout, …
    #[error("http: {}", error_chain(.0))]
    Http(#[source] reqwest::Error),
    /// The node's answer could not be understood.
    #[error("decode: {0}")]
    Decode(String),
    /// The base URL is not usable.
    #[error("invalid_argument: invalid node URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// Refused here, before anything was sent (e.g. a JSON call that does not match its
    /// module's schema): the same codes a node would give.
    #[error("{code}: {message}")]
    Local { code: ErrorCode, message: String },
    /// A transaction was included but its call failed (see [`crate::check_receipt`]).
    #[error("{code}: {message}")]
    TxFailed {
        hash: Hash,
        code: ErrorCode,
        message: String,
    },
}

impl ClientError {
    /// The error code as text: the API or receipt code, or `http`, `decode`, `invalid_argument`.
    pub fn code_str(&self) -> &str {
        match self {
            ClientError::Api { code, .. } => code.as_str(),
            ClientError::Http(_) => "http",
            ClientError::Decode(_) => "decode",
            ClientError::InvalidUrl { .. } => ErrorCode::InvalidArgument.as_str(),
            ClientError::TxFailed { code, .. } | ClientError::Local { code, .. } => code.as_str(),
        }
    }

    /// The known [`ErrorCode`] of an API error or failed transaction.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => code.known(),
            ClientError::TxFailed { code, .. } | ClientError::Local { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether this is an API error with the given code.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.error_code() == Some(code)
    }
}

impl From<urbis_core::UrbisError> for ClientError {
    fn from(e: urbis_core::UrbisError) -> Self {
        ClientError::Local {
            code: e.code,
            message: e.message,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_decode() {
            ClientError::Decode(error_chain(&e))
        } else {
            ClientError::Http(e)
        }
    }
}

/// `err: cause: cause…`, without repeating a cause already included in its parent's text.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The `application/problem+json` body of an API error.
#[derive(Debug, Deserialize)]
struct Problem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// Turn an unsuccessful response (status and body) into [`ClientError::Api`].
///
/// A problem+json body gives the code and detail; anything else becomes `http_<status>` with
/// (the start of) the body as detail.
pub(crate) fn api_error(status: u16, body: &[u8]) -> ClientError {
    if let Ok(p) = serde_json::from_slice::<Problem>(body)
        && let Some(code) = p.code.as_deref()
    {
        let detail = p.detail.or(p.title).unwrap_or_default();
        return ClientError::Api {
            status,
            code: ApiCode::parse(code),
            detail,
        };
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let detail: String = if text.is_empty() {
        format!("HTTP status {status}")
    } else {
        text.chars().take(300).collect()
    };
    ClientError::Api {
        status,
        code: ApiCode::Unknown(format!("http_{status}")),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_json_with_known_code() {
        let body = br#"{"type":"https://urbis.city/errors/nonce_too_low","title":"Nonce already used","status":400,"code":"nonce_too_low","detail":"nonce 0 already used; next is 1"}"#;
        let err = api_error(400, body);
        match &err {
            ClientError::Api {
                status,
                code,
                detail,
            } => {
                assert_eq!(*status, 400);
                assert_eq!(*code, ErrorCode::NonceTooLow);
                assert_eq!(detail, "nonce 0 already used; next is 1");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.is(ErrorCode::NonceTooLow));
        assert_eq!(err.code_str(), "nonce_too_low");
        assert_eq!(
            err.to_string(),
            "nonce_too_low: nonce 0 already used; next is 1"
        );
    }

    #[test]
    fn problem_json_with_unknown_code_keeps_the_string() {
        let body = br#"{"title":"Rate limited","status":429,"code":"rate_limited"}"#;
        let err = api_error(429, body);
        match &err {
            ClientError::Api { code, detail, .. } => {
                assert_eq!(*code, ApiCode::Unknown("rate_limited".into()));
                assert_eq!(
                    detail, "Rate limited",
                    "title stands in for a missing detail"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.error_code(), None);
        assert_eq!(err.code_str(), "rate_limited");
    }

    #[test]
    fn non_problem_body_becomes_http_status_code() {
        let err = api_error(502, b"<html>Bad Gateway</html>");
        assert_eq!(err.code_str(), "http_502");
        assert_eq!(err.to_string(), "http_502: <html>Bad Gateway</html>");
        let err = api_error(500, b"");
        assert_eq!(err.to_string(), "http_500: HTTP status 500");
        // JSON without a code is not a problem document either.
        let err = api_error(404, br#"{"message":"nope"}"#);
        assert_eq!(err.code_str(), "http_404");
    }
}
