//! Identity endpoints: DID resolution in the DIF Universal Resolver shape
//! (`GET /1.0/identifiers/{did}`, W3C DID Resolution) and status lists in the IETF Token
//! Status List format (`GET /v1/status-lists/{id}`).
//!
//! A resolution result is `{"@context", "didDocument", "didResolutionMetadata",
//! "didDocumentMetadata"}`; errors keep that shape with `didResolutionMetadata.error` set to
//! `invalidDid` (400), `notFound` (404), `methodNotSupported` (501) or
//! `representationNotSupported` (406). A deactivated DID resolves with `deactivated: true` and
//! status 410. `Accept: application/did+ld+json` (or `application/did+json`) returns the bare
//! document. `?prove=true` adds `proof`: the proof bundle of the state key holding the resolved
//! version (`identity/version/<id>/<n>`), from which a client recomputes the document.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use urbis_core::{ErrorCode, UrbisError};
use urbis_identity::{DidRecord, MODULE, did_document, keys, parse_did};
use urbis_runtime::{StateView, decode_value};

use crate::api::{ApiState, WAIT_TIMEOUT};
use crate::problem::{ApiError, ApiResult, Path, Query};

/// Content type of a resolution result.
pub const RESOLUTION_TYPE: &str = "application/ld+json;profile=\"https://w3id.org/did-resolution\"";
/// Content type of a bare DID document.
pub const DOCUMENT_TYPE: &str = "application/did+ld+json";
/// Most versions examined for `versionTime`.
pub const MAX_VERSIONS_SCANNED: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveParams {
    #[serde(rename = "versionId")]
    version_id: Option<String>,
    #[serde(rename = "versionTime")]
    version_time: Option<String>,
    #[serde(default)]
    prove: bool,
}

/// `ms` since the epoch as an XML Schema dateTime in UTC without fractions (DID Core §7.3).
pub fn xml_datetime(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

/// Parse an RFC 3339 / XML dateTime to ms since the epoch.
pub fn parse_datetime(text: &str) -> Option<u64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

fn failure(status: StatusCode, error: &str, detail: &str) -> Response {
    let body = json!({
        "@context": "https://w3id.org/did-resolution/v1",
        "didDocument": Value::Null,
        "didResolutionMetadata": {"error": error, "errorMessage": detail, "contentType": RESOLUTION_TYPE},
        "didDocumentMetadata": {},
    });
    (
        status,
        [(header::CONTENT_TYPE, RESOLUTION_TYPE)],
        body.to_string(),
    )
        .into_response()
}

fn record(view: &dyn StateView, key: &[u8]) -> Result<Option<DidRecord>, UrbisError> {
    view.get(key)?
        .map(|b| decode_value::<DidRecord>(key, &b))
        .transpose()
}

/// The version of `current`'s DID in force at `t` (the last whose update is at or before it).
fn version_at(
    view: &dyn StateView,
    current: &DidRecord,
    t: u64,
) -> Result<Option<DidRecord>, UrbisError> {
    if current.updated_ms <= t {
        return Ok(Some(current.clone()));
    }
    let entries = view.scan(&keys::versions(&current.id), None, MAX_VERSIONS_SCANNED)?;
    let mut found = None;
    for (k, v) in entries {
        let rec: DidRecord = decode_value(&k, &v)?;
        if rec.updated_ms <= t {
            found = Some(rec);
        } else {
            break;
        }
    }
    Ok(found)
}

pub async fn resolve(
    State(s): State<ApiState>,
    Path(did): Path<String>,
    Query(q): Query<ResolveParams>,
    headers: HeaderMap,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    let bare =
        accept.contains("application/did+ld+json") || accept.contains("application/did+json");
    let wants_result = accept.contains("application/ld+json")
        || accept.contains("application/did-resolution")
        || accept.contains("*/*")
        || accept.contains("application/json");
    if !bare && !wants_result {
        return failure(
            StatusCode::NOT_ACCEPTABLE,
            "representationNotSupported",
            "ask for application/did+ld+json or a resolution result",
        );
    }
    if !did.starts_with("did:") {
        return failure(StatusCode::BAD_REQUEST, "invalidDid", "not a DID");
    }
    if !did.starts_with(urbis_identity::DID_PREFIX) {
        return failure(
            StatusCode::NOT_IMPLEMENTED,
            "methodNotSupported",
            "this resolver knows did:urbis only",
        );
    }
    let Ok(id) = parse_did(&did) else {
        return failure(
            StatusCode::BAD_REQUEST,
            "invalidDid",
            "did:urbis:<40 lowercase hex digits>",
        );
    };
    match resolve_inner(&s, &did, id, &q, bare).await {
        Ok(r) => r,
        Err(e) if e.0.code == ErrorCode::NotFound => {
            failure(StatusCode::NOT_FOUND, "notFound", &e.0.message)
        }
        Err(e) if e.0.code == ErrorCode::InvalidArgument => {
            failure(StatusCode::BAD_REQUEST, "invalidOptions", &e.0.message)
        }
        Err(e) => e.into_response(),
    }
}

async fn resolve_inner(
    s: &ApiState,
    did: &str,
    id: [u8; 20],
    q: &ResolveParams,
    bare: bool,
) -> ApiResult<Response> {
    let sh = &s.shared;
    let view = sh.chain.state_view()?;
    let current = record(&view, &keys::did(&id))?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("{did} is not on this chain")))?;
    let bad = |m: &str| ApiError::new(ErrorCode::InvalidArgument, m.to_string());
    let resolved = match (&q.version_id, &q.version_time) {
        (Some(_), Some(_)) => return Err(bad("give versionId or versionTime, not both")),
        (Some(v), None) => {
            let n: u64 = v
                .parse()
                .map_err(|_| bad("versionId is a version number"))?;
            record(&view, &keys::version(&id, n))?.ok_or_else(|| {
                ApiError::new(ErrorCode::NotFound, format!("{did} has no version {n}"))
            })?
        }
        (None, Some(t)) => {
            let ms =
                parse_datetime(t).ok_or_else(|| bad("versionTime is an RFC 3339 date-time"))?;
            version_at(&view, &current, ms)?.ok_or_else(|| {
                ApiError::new(ErrorCode::NotFound, format!("{did} did not exist at {t}"))
            })?
        }
        (None, None) => current.clone(),
    };
    let document = did_document(&resolved);
    let status = if resolved.deactivated {
        StatusCode::GONE
    } else {
        StatusCode::OK
    };
    if bare {
        return Ok((
            status,
            [(header::CONTENT_TYPE, DOCUMENT_TYPE)],
            document.to_string(),
        )
            .into_response());
    }
    let mut meta = serde_json::Map::new();
    meta.insert("created".into(), xml_datetime(current.created_ms).into());
    if resolved.version > 1 {
        meta.insert("updated".into(), xml_datetime(resolved.updated_ms).into());
    }
    meta.insert("versionId".into(), resolved.version.to_string().into());
    if resolved.deactivated {
        meta.insert("deactivated".into(), true.into());
    }
    if resolved.version < current.version {
        let next = resolved.version + 1;
        meta.insert("nextVersionId".into(), next.to_string().into());
        if let Some(n) = record(&view, &keys::version(&id, next))? {
            meta.insert("nextUpdate".into(), xml_datetime(n.updated_ms).into());
        }
    }
    let mut result = json!({
        "@context": "https://w3id.org/did-resolution/v1",
        "didDocument": document,
        "didResolutionMetadata": {"contentType": DOCUMENT_TYPE},
        "didDocumentMetadata": meta,
    });
    if q.prove {
        let _slot = s.wait_slot()?;
        let version = resolved.version.to_string();
        let (_, bundle) = sh
            .prove_current(
                MODULE,
                &["version", did, &version],
                tokio::time::sleep(WAIT_TIMEOUT),
            )
            .await?;
        result["proof"] = serde_json::to_value(&bundle)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    }
    Ok((
        status,
        [(header::CONTENT_TYPE, RESOLUTION_TYPE)],
        result.to_string(),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusListParams {
    /// With `idx`: the proof bundle of the chunk that holds entry `idx`.
    #[serde(default)]
    prove: bool,
    idx: Option<u64>,
}

/// `GET /v1/status-lists/{id}`: `{"id", "issuer", "bits", "size", "status_list": {"bits",
/// "lst"}, "height"}`; with `?idx=N` also `"idx"`, `"status"` and, with `prove=true`,
/// `"proof"` (the bundle of the chunk key `identity/chunk/<id>/<n>` holding entry N).
pub async fn status_list(
    State(s): State<ApiState>,
    Path(id): Path<u64>,
    Query(q): Query<StatusListParams>,
) -> ApiResult<axum::Json<Value>> {
    let sh = &s.shared;
    let view = sh.chain.state_view()?;
    let height = sh.chain.executed_height()?.unwrap_or(0);
    let meta_key = keys::list(id);
    let meta: urbis_identity::StatusListMeta = view
        .get(&meta_key)?
        .map(|b| decode_value(&meta_key, &b))
        .transpose()?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no status list {id}")))?;
    if q.prove && q.idx.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "prove=true proves the chunk of one entry: give idx",
        ));
    }
    let max_chunks =
        (meta.size * u64::from(meta.bits)).div_ceil(8 * urbis_identity::CHUNK_BYTES) as usize;
    let chunks = view
        .scan(&keys::chunks(id), None, max_chunks)?
        .into_iter()
        .map(|(k, v)| {
            urbis_identity::chunk_number(&k)
                .map(|n| (n, v))
                .ok_or_else(|| ApiError::new(ErrorCode::Internal, "malformed chunk key"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let list = urbis_identity::assemble_list(meta.bits, meta.size, chunks)?;
    let mut out = json!({
        "id": id,
        "issuer": meta.issuer,
        "bits": meta.bits,
        "size": meta.size,
        "status_list": list.to_json(),
        "height": height,
    });
    if let Some(idx) = q.idx {
        let status = list.get(idx).filter(|_| idx < meta.size).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidArgument,
                format!("index {idx} is past the list"),
            )
        })?;
        out["idx"] = idx.into();
        out["status"] = status.into();
        if q.prove {
            let (chunk, _) = urbis_identity::status_position(meta.bits, idx);
            let _slot = s.wait_slot()?;
            let (answer, bundle) = sh
                .prove_current(
                    MODULE,
                    &["chunk", &id.to_string(), &chunk.to_string()],
                    tokio::time::sleep(WAIT_TIMEOUT),
                )
                .await?;
            out["chunk"] = chunk.into();
            out["chunk_bytes"] = answer.value;
            out["proof"] = serde_json::to_value(&bundle)
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        }
    }
    Ok(axum::Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_round_trip_in_utc_without_fractions() {
        assert_eq!(xml_datetime(0), "1970-01-01T00:00:00Z");
        assert_eq!(xml_datetime(1_796_192_033_999), "2026-12-02T06:13:53Z");
        assert_eq!(
            parse_datetime("2026-12-02T06:13:53Z"),
            Some(1_796_192_033_000)
        );
        assert_eq!(
            parse_datetime("2026-12-02T07:13:53+01:00"),
            Some(1_796_192_033_000)
        );
        assert_eq!(parse_datetime("yesterday"), None);
    }
}
