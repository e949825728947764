//! RFC 9457 problem responses with Urbis's stable error codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use urbis_core::{ErrorCode, UrbisError};

/// An API error: always rendered as `application/problem+json` with a machine `code`.
#[derive(Debug)]
pub struct ApiError(pub UrbisError);

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError(UrbisError::new(code, detail))
    }
}

impl From<UrbisError> for ApiError {
    fn from(e: UrbisError) -> Self {
        ApiError(e)
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    r#type: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.code;
        let status = code.http_status();
        if code == ErrorCode::Internal {
            tracing::error!(detail = %self.0.message, "internal error serving a request");
        }
        let body = Problem {
            r#type: format!(
                "https://urbis.city/errors/{}",
                code.as_str().replace('_', "-")
            ),
            title: code.title(),
            status,
            code: code.as_str(),
            detail: &self.0.message,
        };
        let mut resp = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            serde_json::to_vec(&body).unwrap_or_default(),
        )
            .into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `axum`'s query-string extractor, its rejections as problem responses
/// (`invalid_argument`) instead of axum's plain-text ones: every API error has the same shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!("bad query string: {}", e.body_text()),
                )
            })
    }
}

/// `axum`'s path extractor, its rejections as problem responses (`invalid_argument`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!("bad path: {}", e.body_text()),
                )
            })
    }
}
