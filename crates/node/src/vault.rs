//! The key vault: wrapped data keys of records (`records` module), kept by the node and
//! released only under the chain's rules: **no log, no key**.
//!
//! A record's payload is sealed under a fresh data key per version; the key is wrapped (HPKE,
//! `urbis-sealing`) for each reader and the wraps are stored here, in the node's data
//! directory (`vault/<record hex>/<version:010>-<slot>`, each file the signed write as
//! received, JSON `{key, time, signature, body}`), never on chain. A write accepted by one
//! validator is forwarded to the others, which check its signature and rule again against
//! their own state; a node asked for a wrap it lacks asks its peers ([`crate::replicate`]).
//! Slots:
//!
//! | slot | written by | released to |
//! |---|---|---|
//! | `custodian` | the custodian | the custodian |
//! | `subject` | the custodian | the subject: the account whose [`subject_pseudonym`] the head names |
//! | `emergency` | the custodian | a hospital with a committed break-glass entry for the record, made by it within [`RELEASE_WINDOW_MS`] of block time |
//! | `grant-<grant id hex>` | the grantor of a consent grant whose scope holds `record:<id>` | the grant's grantee, with a committed access receipt of that grant for `record:<id>` within [`RELEASE_WINDOW_MS`] |
//!
//! Both calls are signed requests (headers as for `PUT /v1/blobs`, tag [`VAULT_TAG`]) with a
//! JSON body that names the record (and must match the URL):
//!
//! - `POST /v1/records/{id}/wraps` `{record, version, slot, grant?, salt?, wrap}` stores one
//!   wrap (`wrap`: hex of the 80-byte HPKE wrap); a slot is written once.
//! - `POST /v1/records/{id}/key` `{record, version?, as, grant?, receipt?, salt?}` answers
//!   `{record, version, slot, wrap}`; `as` is `custodian`, `subject`, `grant` or `emergency`.
//!   `salt` is the grant's scope salt: the node checks that `sha256_domain(
//!   "urbis/consent-scope/v1", salt, "record:<id>")` is in the grant's scope and is the item of
//!   the access receipt `receipt`.
//!
//! The wrap is useless to anyone but the holder of the recipient's X25519 key; the rules above
//! make every release follow an entry on the ledger that the subject can read. Once the chain
//! erases a record, every node deletes its wraps and blobs ([`Shredder`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use urbis_accounts::{Role, roles_of};
use urbis_core::{Address, ErrorCode, Hash, UrbisError};
use urbis_records::{EmergencyAccess, Head, Kind, subject_pseudonym};
use urbis_runtime::{StateView, view_get};

use crate::api::ApiState;
use crate::problem::{ApiResult, Path as UrlPath};
use urbis_consensus::Shared;

/// Domain of vault request signatures.
pub const VAULT_TAG: &[u8] = b"urbis/vault/v1";
/// How recent (in block time) the ledger entry that opens a release must be: 10 minutes.
pub const RELEASE_WINDOW_MS: u64 = 10 * 60 * 1000;
/// Largest vault request body.
pub const MAX_BODY: usize = 4096;

fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

/// A signed wrap write, as received (kept as the slot's content, so that any node can check
/// it again: peers re-verify what another validator forwards).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignedWrite {
    /// `x-urbis-key`.
    pub key: String,
    /// `x-urbis-time`.
    pub time: u64,
    /// `x-urbis-signature`.
    pub signature: String,
    /// The JSON body, as signed.
    pub body: String,
}

fn io(e: std::io::Error) -> UrbisError {
    UrbisError::new(ErrorCode::Internal, format!("vault: {e}"))
}

/// Wraps on disk.
pub struct Vault {
    dir: PathBuf,
}

fn slot_ok(slot: &str) -> bool {
    matches!(slot, "custodian" | "subject" | "emergency")
        || slot
            .strip_prefix("grant-")
            .is_some_and(|g| g.len() == 64 && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Vault {
    pub fn open(dir: &Path) -> Result<Vault, UrbisError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        Ok(Vault {
            dir: dir.to_path_buf(),
        })
    }

    fn record_dir(&self, record: &Hash) -> PathBuf {
        self.dir.join(record.to_hex())
    }

    fn path(&self, record: &Hash, version: u64, slot: &str) -> PathBuf {
        self.record_dir(record)
            .join(format!("{version:010}-{slot}"))
    }

    /// Store a wrap; `already_exists` if the slot holds one.
    pub fn put(
        &self,
        record: &Hash,
        version: u64,
        slot: &str,
        wrap: &[u8],
    ) -> Result<(), UrbisError> {
        if !slot_ok(slot) {
            return Err(UrbisError::new(ErrorCode::InvalidArgument, "unknown slot"));
        }
        let path = self.path(record, version, slot);
        if path.exists() {
            return Err(UrbisError::new(
                ErrorCode::AlreadyExists,
                format!("slot {slot} of version {version} is written"),
            ));
        }
        let dir = self.record_dir(record);
        std::fs::create_dir_all(&dir).map_err(io)?;
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(wrap).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Whether a slot is written.
    pub fn has(&self, record: &Hash, version: u64, slot: &str) -> bool {
        slot_ok(slot) && self.path(record, version, slot).exists()
    }

    /// A stored write.
    pub fn get(&self, record: &Hash, version: u64, slot: &str) -> Result<Vec<u8>, UrbisError> {
        match std::fs::read(self.path(record, version, slot)) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(UrbisError::new(
                ErrorCode::NotFound,
                format!("no {slot} key for version {version} of record {record}"),
            )),
            Err(e) => Err(io(e)),
        }
    }

    /// Every stored write of a record.
    pub fn writes(&self, record: &Hash) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.record_dir(record)) else {
            return Vec::new();
        };
        let mut out: Vec<(String, Vec<u8>)> = entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
            .filter_map(|e| {
                Some((
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).ok()?,
                ))
            })
            .collect();
        out.sort();
        out.into_iter().map(|(_, b)| b).collect()
    }

    /// Delete every wrap of a record (crypto-shredding). Idempotent.
    pub fn shred(&self, record: &Hash) -> Result<(), UrbisError> {
        match std::fs::remove_dir_all(self.record_dir(record)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        }
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn head(view: &dyn StateView, record: &Hash) -> Result<Head, UrbisError> {
    let head: Head = view_get(view, &urbis_records::keys::head(record))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no record {record}")))?;
    if head.erased {
        return Err(err(ErrorCode::Erased, "the record was erased"));
    }
    Ok(head)
}

/// The timestamp of the last executed block: "now" for the chain.
fn chain_now(shared: &Shared<crate::node::Ctx>) -> Result<u64, UrbisError> {
    let h = shared.executed_height();
    Ok(shared.chain.header(h)?.map(|h| h.timestamp_ms).unwrap_or(0))
}

fn record_item(record: &Hash) -> String {
    format!("record:{record}")
}

/// A grant of `record`, made or held by `who`, live at `now`.
fn live_grant(
    view: &dyn StateView,
    grant: &Hash,
    salt: &Hash,
    record: &Hash,
    now: u64,
) -> Result<(urbis_consent::Grant, Hash), UrbisError> {
    let g: urbis_consent::Grant = view_get(view, &urbis_consent::keys::grant(grant))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no grant {grant}")))?;
    g.check_live(now)?;
    let item = urbis_consent::scope_commitment(salt, &record_item(record));
    if !g.scope.contains(&item) {
        return Err(err(
            ErrorCode::OutOfScope,
            "the record is not in the grant's scope",
        ));
    }
    Ok((g, item))
}

fn body_of<T: for<'de> Deserialize<'de>>(body: &[u8], record: &Hash) -> Result<T, UrbisError> {
    if body.len() > MAX_BODY {
        return Err(err(ErrorCode::TooLarge, "a vault request is at most 4 KiB"));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| err(ErrorCode::Malformed, format!("not JSON: {e}")))?;
    if v.get("record").and_then(Value::as_str) != Some(record.to_hex().as_str()) {
        return Err(err(
            ErrorCode::InvalidArgument,
            "the body's record is not the URL's",
        ));
    }
    serde_json::from_value(v).map_err(|e| err(ErrorCode::Malformed, e.to_string()))
}

fn parse_record(id: &str) -> Result<Hash, UrbisError> {
    id.parse()
        .map_err(|_| err(ErrorCode::InvalidArgument, "a record id is 64 hex digits"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutWrap {
    #[allow(dead_code)]
    record: Hash,
    version: u64,
    slot: String,
    #[serde(default)]
    grant: Option<Hash>,
    #[serde(default)]
    salt: Option<Hash>,
    wrap: String,
}

/// Applies signed wrap writes: from clients (through the API) and from peers.
pub struct VaultSync {
    pub shared: Arc<Shared<crate::node::Ctx>>,
    pub vault: Arc<Vault>,
}

impl VaultSync {
    /// Check `w` (signature, then the slot's rule against this node's state) and store it;
    /// (record, version, slot).
    pub fn apply(&self, w: &SignedWrite) -> Result<(Hash, u64, String), UrbisError> {
        let key = crate::blobs::verify_parts(
            self.shared.runtime.chain_id(),
            &w.key,
            w.time,
            &w.signature,
            VAULT_TAG,
            w.body.as_bytes(),
        )?;
        let v: Value = serde_json::from_str(&w.body)
            .map_err(|e| err(ErrorCode::Malformed, format!("not JSON: {e}")))?;
        let record = parse_record(v.get("record").and_then(Value::as_str).unwrap_or_default())?;
        let req: PutWrap = body_of(w.body.as_bytes(), &record)?;
        if hex::decode(&req.wrap)
            .ok()
            .filter(|b| b.len() == urbis_sealing::WRAP_BYTES)
            .is_none()
        {
            return Err(err(
                ErrorCode::InvalidArgument,
                "a wrap is 80 bytes of hex (HPKE enc || sealed key)",
            ));
        }
        let view = self.shared.chain.state_view()?;
        let h = head(&view, &record)?;
        if req.version == 0 || req.version > h.version {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("the record has versions 1 to {}", h.version),
            ));
        }
        let signer = key.address();
        let slot = match req.slot.as_str() {
            "custodian" | "subject" | "emergency" => {
                if signer != h.custodian {
                    return Err(err(
                        ErrorCode::Unauthorized,
                        "the custodian writes the custodian, subject and emergency wraps",
                    ));
                }
                req.slot.clone()
            }
            "grant" => {
                let (grant, salt) = req.grant.zip(req.salt).ok_or_else(|| {
                    err(
                        ErrorCode::InvalidArgument,
                        "a grant wrap names the grant and its salt",
                    )
                })?;
                let (g, _) = live_grant(&view, &grant, &salt, &record, chain_now(&self.shared)?)?;
                if g.grantor != signer {
                    return Err(err(
                        ErrorCode::Unauthorized,
                        "only the grantor shares the record under a grant",
                    ));
                }
                format!("grant-{}", grant.to_hex())
            }
            _ => {
                return Err(err(
                    ErrorCode::InvalidArgument,
                    "slot is custodian, subject, emergency or grant",
                ));
            }
        };
        let stored = serde_json::to_vec(w).map_err(|e| err(ErrorCode::Internal, e.to_string()))?;
        self.vault.put(&record, req.version, &slot, &stored)?;
        Ok((record, req.version, slot))
    }
}

impl crate::replicate::WrapSink for VaultSync {
    fn apply(&self, write: &[u8]) -> Result<(), UrbisError> {
        let w: SignedWrite =
            serde_json::from_slice(write).map_err(|e| err(ErrorCode::Malformed, e.to_string()))?;
        VaultSync::apply(self, &w).map(drop)
    }

    fn writes(&self, record: &Hash) -> Vec<Vec<u8>> {
        self.vault.writes(record)
    }
}

/// `POST /v1/records/{id}/wraps`.
pub async fn put_wrap_handler(
    State(s): State<ApiState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let record = parse_record(&id)?;
    crate::blobs::verify_signed(&s, &headers, VAULT_TAG, &body)?;
    // The URL and the body name the same record.
    body_of::<PutWrap>(&body, &record)?;
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let write = SignedWrite {
        key: header("x-urbis-key"),
        time: header("x-urbis-time").parse().unwrap_or(0),
        signature: header("x-urbis-signature"),
        body: String::from_utf8(body.to_vec())
            .map_err(|_| err(ErrorCode::Malformed, "the body is not UTF-8"))?,
    };
    let sync = VaultSync {
        shared: s.shared.clone(),
        vault: s.vault.clone(),
    };
    let w = write.clone();
    let (record, version, slot) = tokio::task::spawn_blocking(move || sync.apply(&w))
        .await
        .map_err(|e| err(ErrorCode::Internal, e.to_string()))??;
    if let Some(r) = &s.replicator {
        r.push_wrap(serde_json::to_vec(&write).unwrap_or_default());
    }
    Ok(Json(
        json!({"record": record, "version": version, "slot": slot}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    #[allow(dead_code)]
    record: Hash,
    #[serde(default)]
    version: Option<u64>,
    #[serde(rename = "as")]
    role: String,
    #[serde(default)]
    grant: Option<Hash>,
    #[serde(default)]
    receipt: Option<u32>,
    #[serde(default)]
    salt: Option<Hash>,
}

/// Which slot `signer` may read of `h` as `req.role`, checked against the chain.
fn release_slot(
    s: &ApiState,
    view: &dyn StateView,
    h: &Head,
    signer: &Address,
    req: &KeyRequest,
) -> Result<String, UrbisError> {
    let record = h.id;
    match req.role.as_str() {
        "custodian" => {
            if *signer != h.custodian {
                return Err(err(ErrorCode::Unauthorized, "not the record's custodian"));
            }
            Ok("custodian".into())
        }
        "subject" => {
            if subject_pseudonym(signer) != h.subject {
                return Err(err(ErrorCode::Unauthorized, "not the record's subject"));
            }
            Ok("subject".into())
        }
        "grant" => {
            let (grant, salt) = req.grant.zip(req.salt).ok_or_else(|| {
                err(
                    ErrorCode::InvalidArgument,
                    "a release under a grant names the grant, its salt and the access receipt",
                )
            })?;
            let now = chain_now(&s.shared)?;
            let (g, item) = live_grant(view, &grant, &salt, &record, now)?;
            if g.grantee != *signer {
                return Err(err(ErrorCode::Unauthorized, "not the grant's grantee"));
            }
            let n = req.receipt.ok_or_else(|| {
                err(
                    ErrorCode::NoAccessReceipt,
                    "no log, no key: use the grant on chain first and name its receipt",
                )
            })?;
            let receipt: Option<urbis_consent::AccessReceipt> =
                view_get(view, &urbis_consent::keys::receipt(&grant, n))?;
            match receipt {
                Some(r) if r.item == item && r.at_ms.saturating_add(RELEASE_WINDOW_MS) >= now => {
                    Ok(format!("grant-{}", grant.to_hex()))
                }
                Some(r) if r.item == item => Err(err(
                    ErrorCode::NoAccessReceipt,
                    "the access receipt is too old: use the grant again",
                )),
                _ => Err(err(
                    ErrorCode::NoAccessReceipt,
                    "no committed access receipt of this grant for this record",
                )),
            }
        }
        "emergency" => {
            if !roles_of(view, signer)?.contains(&Role::Hospital) {
                return Err(err(
                    ErrorCode::Unauthorized,
                    "emergency access is for hospitals",
                ));
            }
            if h.kind != Kind::Health {
                return Err(err(
                    ErrorCode::InvalidArgument,
                    "emergency access is for health records",
                ));
            }
            let now = chain_now(&s.shared)?;
            // Entries are numbered in block order: walk back from the newest while they are
            // recent enough, instead of reading the record's whole emergency log.
            let count: u32 =
                view_get(view, &urbis_records::keys::emergency_count(&record))?.unwrap_or(0);
            let mut logged = false;
            for n in (1..=count).rev() {
                let Some(e) =
                    view_get::<EmergencyAccess>(view, &urbis_records::keys::emergency(&record, n))?
                else {
                    break;
                };
                if e.at_ms.saturating_add(RELEASE_WINDOW_MS) < now {
                    break;
                }
                if e.by == *signer {
                    logged = true;
                    break;
                }
            }
            if !logged {
                return Err(err(
                    ErrorCode::NoAccessReceipt,
                    "no log, no key: break the glass on chain first",
                ));
            }
            Ok("emergency".into())
        }
        _ => Err(err(
            ErrorCode::InvalidArgument,
            "as is custodian, subject, grant or emergency",
        )),
    }
}

/// `POST /v1/records/{id}/key`.
pub async fn key_handler(
    State(s): State<ApiState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let record = parse_record(&id)?;
    let (key, _) = crate::blobs::verify_signed(&s, &headers, VAULT_TAG, &body)?;
    let req: KeyRequest = body_of(&body, &record)?;
    let view = s.shared.chain.state_view()?;
    let h = head(&view, &record)?;
    let version = req.version.unwrap_or(h.version);
    if version == 0 || version > h.version {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("the record has versions 1 to {}", h.version),
        )
        .into());
    }
    let slot = release_slot(&s, &view, &h, &key.address(), &req)?;
    // Wraps written through another validator are asked of the peers if missing here.
    if !s.vault.has(&record, version, &slot)
        && let Some(r) = s.replicator.as_ref().filter(|r| r.has_peers())
    {
        r.want_wraps(record);
        let deadline = tokio::time::Instant::now() + crate::blobs::FETCH_WAIT;
        while !s.vault.has(&record, version, &slot) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let vault = s.vault.clone();
    let slot2 = slot.clone();
    let stored = tokio::task::spawn_blocking(move || vault.get(&record, version, &slot2))
        .await
        .map_err(|e| err(ErrorCode::Internal, e.to_string()))??;
    let write: SignedWrite = serde_json::from_slice(&stored)
        .map_err(|e| err(ErrorCode::Internal, format!("vault entry: {e}")))?;
    let put: PutWrap = serde_json::from_str(&write.body)
        .map_err(|e| err(ErrorCode::Internal, format!("vault entry: {e}")))?;
    let wrap = put.wrap;
    Ok(Json(json!({
        "record": record,
        "version": version,
        "slot": slot,
        "wrap": wrap,
    })))
}

/// Follows the chain's `records.erased` events (through the event index) and destroys, on this
/// node, the erased records' wraps and every blob their versions name. Its progress (the last
/// height done) is kept in memory and written to `vault/shredded-height` whenever it shredded
/// something; work is idempotent, so a restart redoes at most a little.
pub struct Shredder {
    vault: Arc<Vault>,
    blobs: Arc<crate::blobs::BlobStore>,
    done_file: PathBuf,
    /// The last height done (read from `done_file` once, at start).
    done: std::sync::atomic::AtomicU64,
}

/// The blob hashes a locator names: `urbis-blob:<hash>[#keys=<hash>]`.
pub fn locator_blobs(locator: &str) -> Vec<Hash> {
    let Some(rest) = locator.strip_prefix("urbis-blob:") else {
        return Vec::new();
    };
    let (payload, keys) = match rest.split_once("#keys=") {
        Some((p, k)) => (p, Some(k)),
        None => (rest, None),
    };
    [Some(payload), keys]
        .into_iter()
        .flatten()
        .filter_map(|t| t.parse().ok())
        .collect()
}

impl Shredder {
    pub fn new(vault: Arc<Vault>, blobs: Arc<crate::blobs::BlobStore>) -> Shredder {
        let done_file = vault.dir.join("shredded-height");
        let done = std::fs::read_to_string(&done_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        Shredder {
            vault,
            blobs,
            done_file,
            done: std::sync::atomic::AtomicU64::new(done),
        }
    }

    fn done(&self) -> u64 {
        self.done.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Destroy one record's keys and blobs.
    pub fn shred_record(&self, view: &dyn StateView, record: &Hash) -> Result<(), UrbisError> {
        self.vault.shred(record)?;
        let mut after: Option<Vec<u8>> = None;
        let prefix = urbis_records::keys::versions(record);
        loop {
            let page = view.scan(&prefix, after.as_deref(), 256)?;
            for (k, v) in &page {
                let h: Head = urbis_runtime::decode_value(k, v)?;
                if h.ciphertext_hash != Hash::ZERO {
                    self.blobs.shred(&h.ciphertext_hash)?;
                }
                for b in locator_blobs(&h.locator) {
                    self.blobs.shred(&b)?;
                }
            }
            match page.last() {
                Some((k, _)) if page.len() == 256 => after = Some(k.clone()),
                _ => break,
            }
        }
        Ok(())
    }

    /// Shred every record erased in blocks the event index holds and this node has not yet
    /// done; how many.
    pub fn catch_up(
        &self,
        events: &urbis_state::EventIndex,
        chain: &urbis_state::ChainStore,
    ) -> Result<usize, UrbisError> {
        let Some(indexed) = events.indexed_height()? else {
            return Ok(0);
        };
        let from = self.done() + 1;
        if from > indexed {
            return Ok(0);
        }
        let view = chain.state_view()?;
        let mut q = urbis_state::events::Search {
            module: Some(urbis_records::MODULE.into()),
            kind: Some("erased".into()),
            from_height: Some(from),
            to_height: Some(indexed),
            limit: 100,
            ..Default::default()
        };
        let mut n = 0;
        loop {
            let page = events.search(&q)?;
            for e in &page.events {
                if let Some(record) = e.event.attr("record").and_then(|r| r.parse().ok()) {
                    self.shred_record(&view, &record)?;
                    tracing::info!(%record, "erased record shredded");
                    n += 1;
                }
            }
            match page.next_cursor {
                Some(c) if !page.events.is_empty() => q.cursor = Some(c),
                _ => break,
            }
        }
        // Progress is persisted when there was work (a restart otherwise searches the event
        // index again from the last persisted height, which is cheap and idempotent).
        if n > 0 {
            let tmp = self.done_file.with_extension("tmp");
            std::fs::write(&tmp, indexed.to_string()).map_err(io)?;
            std::fs::rename(&tmp, &self.done_file).map_err(io)?;
        }
        self.done
            .store(indexed, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wraps_are_written_once_and_shredded_with_their_record() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        let r = Hash([1; 32]);
        v.put(&r, 1, "custodian", &[7; 80]).unwrap();
        assert_eq!(
            v.put(&r, 1, "custodian", &[8; 80]).unwrap_err().code,
            ErrorCode::AlreadyExists
        );
        assert_eq!(
            v.put(&r, 1, "../../etc", &[8; 80]).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        let g = format!("grant-{}", Hash([2; 32]).to_hex());
        v.put(&r, 1, &g, &[9; 80]).unwrap();
        assert_eq!(v.get(&r, 1, "custodian").unwrap(), [7; 80]);
        assert_eq!(
            v.get(&r, 2, "custodian").unwrap_err().code,
            ErrorCode::NotFound
        );
        v.shred(&r).unwrap();
        v.shred(&r).unwrap();
        assert_eq!(v.get(&r, 1, &g).unwrap_err().code, ErrorCode::NotFound);
        assert!(!dir.path().join(r.to_hex()).exists());
    }

    #[test]
    fn locators_name_their_blobs() {
        let a = Hash([1; 32]);
        let b = Hash([2; 32]);
        assert_eq!(locator_blobs(&format!("urbis-blob:{a}")), [a]);
        assert_eq!(locator_blobs(&format!("urbis-blob:{a}#keys={b}")), [a, b]);
        assert!(locator_blobs("https://example.org/x").is_empty());
    }
}
