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
//!
//! On a consortium an uploaded blob is pushed to every other validator, and a validator asked
//! for a blob it lacks asks its peers first ([`crate::replicate`]). A blob shredded by an
//! erasure is deleted and refused from then on ([`BlobStore::shred`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use urbis_core::{ErrorCode, Hash, UrbisError};

use crate::api::ApiState;
use crate::problem::{ApiError, ApiResult, Path as UrlPath};

/// Largest blob by default: 16 MiB.
pub const DEFAULT_MAX_BLOB: u64 = 16 << 20;
/// Total bytes by default: 4 GiB.
pub const DEFAULT_QUOTA: u64 = 4 << 30;
/// How far an upload's time may be from the node's clock.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// How long a download waits for a blob asked of the other validators.
pub const FETCH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
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
    /// Hashes of blobs destroyed by erasure: never stored again (a peer's late copy included).
    shredded: Mutex<std::collections::BTreeSet<Hash>>,
}

/// The file listing shredded hashes (32 bytes each, appended and synced).
const SHREDDED: &str = "shredded";

impl BlobStore {
    /// Open (or create) the store under `dir`, counting what it holds.
    pub fn open(dir: &Path, max_blob: u64, quota: u64) -> Result<BlobStore, UrbisError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut used = 0u64;
        let mut shredded = std::collections::BTreeSet::new();
        match std::fs::read(dir.join(SHREDDED)) {
            Ok(bytes) => {
                for c in bytes.chunks_exact(32) {
                    let mut h = [0u8; 32];
                    h.copy_from_slice(c);
                    shredded.insert(Hash(h));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
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
            shredded: Mutex::new(shredded),
        })
    }

    /// Whether the store holds `hash`.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.path(hash).exists()
    }

    /// Whether `hash` was shredded here.
    pub fn is_shredded(&self, hash: &Hash) -> bool {
        self.shredded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(hash)
    }

    /// Crypto-shredding: delete the blob `hash` and refuse it from now on (uploads and
    /// peers' copies alike). Idempotent.
    pub fn shred(&self, hash: &Hash) -> Result<(), UrbisError> {
        {
            let mut shredded = self.shredded.lock().unwrap_or_else(|p| p.into_inner());
            if shredded.insert(*hash) {
                use std::io::Write as _;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join(SHREDDED))
                    .map_err(io)?;
                f.write_all(&hash.0).map_err(io)?;
                f.sync_all().map_err(io)?;
            }
        }
        self.delete(hash)?;
        Ok(())
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
        self.put_hashed(bytes, Hash(Sha256::digest(bytes).into()))
    }

    /// [`BlobStore::put`] of bytes whose SHA-256 the caller has just computed.
    pub fn put_hashed(&self, bytes: &[u8], hash: Hash) -> Result<Hash, UrbisError> {
        self.store(bytes, hash, true)
    }

    /// A copy replicated from a peer: written like an upload but not synced before the call
    /// returns (the uploader's node synced it; a copy lost or torn by a crash fails its hash
    /// check on read, is dropped and fetched again from the peers).
    pub fn put_replica(&self, bytes: &[u8], hash: Hash) -> Result<Hash, UrbisError> {
        self.store(bytes, hash, false)
    }

    fn store(&self, bytes: &[u8], hash: Hash, sync: bool) -> Result<Hash, UrbisError> {
        if bytes.len() as u64 > self.max_blob {
            return Err(err(
                ErrorCode::TooLarge,
                format!("a blob is at most {} bytes", self.max_blob),
            ));
        }
        if self.is_shredded(&hash) {
            return Err(err(
                ErrorCode::Erased,
                format!("blob {hash} was erased and is not stored again"),
            ));
        }
        let path = self.path(&hash);
        if path.exists() {
            return Ok(hash);
        }
        let len = bytes.len() as u64;
        // Reserve the space, then write without holding the lock: uploads and replicated
        // copies are written (and synced) concurrently.
        {
            let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
            if *used + len > self.quota {
                return Err(err(
                    ErrorCode::QuotaExceeded,
                    format!("the blob store is full ({} of {} bytes)", *used, self.quota),
                ));
            }
            *used += len;
        }
        let written = self.write_file(&path, bytes, sync);
        if !matches!(written, Ok(true)) {
            let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
            *used = used.saturating_sub(len);
        }
        written.map(|_| hash)
    }

    /// Write `bytes` at `path` through a temporary file, synced, then renamed; `false` if an
    /// identical blob got there first.
    fn write_file(&self, path: &Path, bytes: &[u8], sync: bool) -> Result<bool, UrbisError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static TMP: AtomicU64 = AtomicU64::new(0);
        let shard = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(shard).map_err(io)?;
        let tmp = path.with_extension(format!("{}.tmp", TMP.fetch_add(1, Ordering::Relaxed)));
        let result = (|| {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            if sync { f.sync_all() } else { Ok(()) }
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        if path.exists() {
            let _ = std::fs::remove_file(&tmp);
            return Ok(false);
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        if sync && let Ok(d) = std::fs::File::open(shard) {
            let _ = d.sync_all();
        }
        Ok(true)
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
            // A torn replica (not synced before a crash) or a damaged file: drop it, so that
            // the next read fetches a good copy from the peers.
            let _ = self.delete(hash);
            return Err(err(
                ErrorCode::Internal,
                format!("blob {hash} is corrupted on this node and was dropped"),
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

/// Check a signed request (see [`crate::blobs`] for the headers): the signing key and the
/// SHA-256 of the body. The signature is by that key, under `tag`, of `chain_id || 0x00 ||
/// time as u64 BE || SHA-256(body)`; `x-urbis-sha256`, if sent, must equal the body's hash.
pub fn verify_signed(
    s: &ApiState,
    headers: &HeaderMap,
    tag: &[u8],
    body: &[u8],
) -> ApiResult<(urbis_core::PublicKey, [u8; 32])> {
    let key = header_value(headers, "x-urbis-key")?;
    let time: u64 = header_value(headers, "x-urbis-time")?
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::Malformed, "x-urbis-time is Unix milliseconds"))?;
    let sig = header_value(headers, "x-urbis-signature")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if time.abs_diff(now) > MAX_CLOCK_SKEW_MS {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "x-urbis-time is too far from the node's clock",
        ));
    }
    let digest: [u8; 32] = Sha256::digest(body).into();
    if let Some(expected) = headers.get("x-urbis-sha256").and_then(|v| v.to_str().ok())
        && expected != hex::encode(digest)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "the body's SHA-256 is not x-urbis-sha256",
        ));
    }
    let key = verify_parts(s.shared.runtime.chain_id(), key, time, sig, tag, body)?;
    Ok((key, digest))
}

/// The signature check of [`verify_signed`] alone (no clock): for requests a peer forwards.
pub fn verify_parts(
    chain_id: &str,
    key: &str,
    time: u64,
    signature: &str,
    tag: &[u8],
    body: &[u8],
) -> Result<urbis_core::PublicKey, UrbisError> {
    let key: urbis_core::PublicKey = key
        .parse()
        .map_err(|_| err(ErrorCode::Malformed, "x-urbis-key is not a public key"))?;
    let sig_bytes: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| err(ErrorCode::Malformed, "x-urbis-signature is 64 bytes of hex"))?;
    let digest: [u8; 32] = Sha256::digest(body).into();
    let msg = put_message(chain_id, time, &digest);
    key.verify(tag, &msg, &urbis_core::Signature::Ed25519(sig_bytes))
        .map_err(|_| {
            err(
                ErrorCode::BadSignature,
                "the request signature does not verify",
            )
        })?;
    Ok(key)
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
    let (key, digest) = verify_signed(&s, &headers, PUT_TAG, &body)?;
    let view = s.shared.chain.state_view()?;
    if urbis_accounts::roles_of(&view, &key.address())?.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "blobs are uploaded by accounts that hold a role",
        ));
    }
    let store = s.blobs.clone();
    let size = body.len();
    let bytes = body.clone();
    let hash = tokio::task::spawn_blocking(move || store.put_hashed(&bytes, Hash(digest)))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    if let Some(r) = &s.replicator {
        r.push_bytes(hash, body);
    }
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
    // A blob this node lacks (it was down when it was uploaded elsewhere, or its copy was
    // corrupted and dropped) is asked of the other validators, and served if one sends it in
    // time.
    let peers = s.replicator.as_ref().filter(|r| r.has_peers());
    let mut first_error: Option<UrbisError> = None;
    for attempt in 0..2 {
        if !s.blobs.contains(&hash)
            && !s.blobs.is_shredded(&hash)
            && let Some(r) = peers
        {
            r.want(hash);
            let deadline = tokio::time::Instant::now() + FETCH_WAIT;
            while !s.blobs.contains(&hash) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let store = s.blobs.clone();
        let got = tokio::task::spawn_blocking(move || store.get(&hash))
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        match got {
            Ok(bytes) => {
                return Ok(
                    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
                );
            }
            Err(e) if e.code == ErrorCode::Internal && attempt == 0 && peers.is_some() => {
                tracing::warn!(%e, "fetching a good copy from the peers");
                first_error = Some(e);
            }
            Err(e) => return Err(first_error.unwrap_or(e).into()),
        }
    }
    Err(ApiError::new(
        ErrorCode::NotFound,
        format!("no blob {hash}"),
    ))
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
        assert!(!again.contains(&h2), "a corrupted copy is dropped");
        // A shredded blob is gone and never comes back, across a restart too.
        let h3 = again.put(b"to be erased").unwrap();
        again.shred(&h3).unwrap();
        again.shred(&h3).unwrap();
        assert!(!again.contains(&h3));
        assert_eq!(
            again.put(b"to be erased").unwrap_err().code,
            ErrorCode::Erased
        );
        let reopened = BlobStore::open(dir.path(), 100, 150).unwrap();
        assert_eq!(
            reopened.put(b"to be erased").unwrap_err().code,
            ErrorCode::Erased
        );
    }
}
