//! The blob store: encrypted payloads of records and shared files, content-addressed, in the
//! node's data directory (`blobs/<first 2 hex digits>/<64 hex digits>`), bounded in size per
//! blob and in total.
//!
//! `PUT /v1/blobs` stores the request body; the uploader signs it: headers `x-urbis-key` (its
//! public key, as `urbis keys show` prints it), `x-urbis-time` (Unix ms, within
//! [`MAX_CLOCK_SKEW_MS`] of the node's clock) and `x-urbis-signature` (hex of the signature by
//! that key of `framed("urbis/blob-put/v1", chain_id || 0x00 || time as u64 BE || SHA-256(body))`);
//! the key's account must hold a role. The answer is `{hash, size}` where `hash` is the plain
//! SHA-256 of the bytes (anyone can recompute it); `x-urbis-sha256`, if sent, must equal it.
//! `GET /v1/blobs/{hash}` returns the bytes. Bytes are written to a temporary file, synced, then
//! renamed, so a blob is either whole or absent after a crash.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use urbis_core::{ErrorCode, Hash, UrbisError};

use crate::api::ApiState;
use crate::problem::{ApiError, ApiResult};

/// Largest blob by default: 16 MiB.
pub const DEFAULT_MAX_BLOB: u64 = 16 << 20;
/// Total bytes by default: 4 GiB.
pub const DEFAULT_QUOTA: u64 = 4 << 30;
/// How far an upload's time may be from the node's clock.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// Domain of upload signatures.
pub const PUT_TAG: &[u8] = b"urbis/blob-put/v1";

fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

fn io(e: std::io::Error) -> UrbisError {
    err(ErrorCode::Internal, format!("blob store: {e}"))
}

/// The bytes an uploader signs.
pub fn put_message(chain_id: &str, time_ms: u64, digest: &[u8; 32]) -> Vec<u8> {
    let mut m = chain_id.as_bytes().to_vec();
    m.push(0);
    m.extend_from_slice(&time_ms.to_be_bytes());
    m.extend_from_slice(digest);
    m
}

/// A content-addressed store of blobs.
pub struct BlobStore {
    dir: PathBuf,
    pub max_blob: u64,
    pub quota: u64,
    used: Mutex<u64>,
}

impl BlobStore {
    /// Open (or create) the store under `dir`, counting what it holds.
    pub fn open(dir: &Path, max_blob: u64, quota: u64) -> Result<BlobStore, UrbisError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut used = 0u64;
        for shard in std::fs::read_dir(dir).map_err(io)? {
            let shard = shard.map_err(io)?.path();
            if !shard.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&shard).map_err(io)? {
                let f = f.map_err(io)?;
                let name = f.file_name();
                if name.to_string_lossy().ends_with(".tmp") {
                    // An upload cut short by a crash.
                    let _ = std::fs::remove_file(f.path());
                    continue;
                }
                used += f.metadata().map_err(io)?.len();
            }
        }
        Ok(BlobStore {
            dir: dir.to_path_buf(),
            max_blob,
            quota,
            used: Mutex::new(used),
        })
    }

    fn path(&self, hash: &Hash) -> PathBuf {
        let hex = hash.to_hex();
        self.dir.join(&hex[..2]).join(hex)
    }

    /// Bytes stored.
    pub fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Store `bytes`; their SHA-256. Storing the same bytes again is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<Hash, UrbisError> {
        if bytes.len() as u64 > self.max_blob {
            return Err(err(
                ErrorCode::TooLarge,
                format!("a blob is at most {} bytes", self.max_blob),
            ));
        }
        let hash = Hash(Sha256::digest(bytes).into());
        let path = self.path(&hash);
        if path.exists() {
            return Ok(hash);
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if *used + bytes.len() as u64 > self.quota {
            return Err(err(
                ErrorCode::QuotaExceeded,
                format!("the blob store is full ({} of {} bytes)", *used, self.quota),
            ));
        }
        let shard = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(shard).map_err(io)?;
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Ok(d) = std::fs::File::open(shard) {
            let _ = d.sync_all();
        }
        *used += bytes.len() as u64;
        Ok(hash)
    }

    /// The blob `hash`, checked against its hash (a corrupted file is an internal error).
    pub fn get(&self, hash: &Hash) -> Result<Vec<u8>, UrbisError> {
        let bytes = match std::fs::read(self.path(hash)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(err(ErrorCode::NotFound, format!("no blob {hash}")));
            }
            Err(e) => return Err(io(e)),
        };
        if Hash(Sha256::digest(&bytes).into()) != *hash {
            return Err(err(
                ErrorCode::Internal,
                format!("blob {hash} is corrupted"),
            ));
        }
        Ok(bytes)
    }

    /// Delete the blob `hash` (crypto-shredding removes the ciphertext too); whether it was
    /// there.
    pub fn delete(&self, hash: &Hash) -> Result<bool, UrbisError> {
        let path = self.path(hash);
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(e)),
        };
        std::fs::remove_file(&path).map_err(io)?;
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(len);
        Ok(true)
    }
}

// ------------------------------------------------------------------ HTTP
fn header_value<'h>(headers: &'h HeaderMap, name: &str) -> ApiResult<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::new(ErrorCode::Malformed, format!("missing header {name}")))
}

/// `PUT /v1/blobs` (see [`crate::blobs`]).
pub async fn put_handler(
    State(s): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::TooLarge, "a blob is at most 16 MiB")
        } else {
            ApiError::new(ErrorCode::Malformed, e.body_text())
        }
    })?;
    let key: urbis_core::PublicKey = header_value(&headers, "x-urbis-key")?
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::Malformed, "x-urbis-key is not a public key"))?;
    let time: u64 = header_value(&headers, "x-urbis-time")?
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::Malformed, "x-urbis-time is Unix milliseconds"))?;
    let sig_bytes: [u8; 64] = hex::decode(header_value(&headers, "x-urbis-signature")?)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            ApiError::new(ErrorCode::Malformed, "x-urbis-signature is 64 bytes of hex")
        })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if time.abs_diff(now) > crate::blobs::MAX_CLOCK_SKEW_MS {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "x-urbis-time is too far from the node's clock",
        ));
    }
    let digest: [u8; 32] = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&body).into()
    };
    if let Some(expected) = headers.get("x-urbis-sha256").and_then(|v| v.to_str().ok())
        && expected != hex::encode(digest)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "the body's SHA-256 is not x-urbis-sha256",
        ));
    }
    let msg = crate::blobs::put_message(s.shared.runtime.chain_id(), time, &digest);
    key.verify(
        crate::blobs::PUT_TAG,
        &msg,
        &urbis_core::Signature::Ed25519(sig_bytes),
    )
    .map_err(|_| {
        ApiError::new(
            ErrorCode::BadSignature,
            "the upload signature does not verify",
        )
    })?;
    let view = s.shared.chain.state_view()?;
    if urbis_accounts::roles_of(&view, &key.address())?.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "blobs are uploaded by accounts that hold a role",
        ));
    }
    let store = s.blobs.clone();
    let size = body.len();
    let hash = tokio::task::spawn_blocking(move || store.put(&body))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    Ok(Json(json!({"hash": hash, "size": size})))
}

/// `GET /v1/blobs/{hash}`.
pub async fn get_handler(
    State(s): State<ApiState>,
    UrlPath(hash): UrlPath<String>,
) -> ApiResult<Response> {
    let hash: Hash = hash
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::InvalidArgument, "a blob hash is 64 hex digits"))?;
    let store = s.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || store.get(&hash))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn blobs_are_content_addressed_bounded_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 100, 150).unwrap();
        let h = store.put(b"sealed bytes").unwrap();
        assert_eq!(h, Hash(Sha256::digest(b"sealed bytes").into()));
        assert_eq!(store.get(&h).unwrap(), b"sealed bytes");
        assert_eq!(store.put(b"sealed bytes").unwrap(), h);
        assert_eq!(store.used(), 12);
        assert_eq!(store.put(&[0; 101]).unwrap_err().code, ErrorCode::TooLarge);
        store.put(&[1; 100]).unwrap();
        assert_eq!(
            store.put(&[2; 90]).unwrap_err().code,
            ErrorCode::QuotaExceeded
        );
        let again = BlobStore::open(dir.path(), 100, 150).unwrap();
        assert_eq!(again.used(), 112);
        assert!(again.delete(&h).unwrap());
        assert_eq!(again.get(&h).unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(again.used(), 100);
        // A corrupted file is detected.
        let h2 = Hash(Sha256::digest([1u8; 100]).into());
        std::fs::write(again.path(&h2), b"tampered").unwrap();
        assert_eq!(again.get(&h2).unwrap_err().code, ErrorCode::Internal);
    }
}
