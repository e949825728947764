//! Full nodes: the chain served to followers, and followed.
//!
//! Every node serves its finalized blocks with their certificates at `GET /v1/sync/blocks`
//! ([`sync_blocks`]; bytes in `docs/full-nodes.md`). A full node (`role = "full"`) runs no
//! consensus: [`start`] runs the executor fed by a follower task that asks the nodes it follows
//! for the next blocks (a long poll, so a caught-up node hears of a block as soon as its source
//! stores it), checks them with [`urbis_consensus::follow::Follower`] against the genesis
//! validator set, and hands those proven final to the executor. Sources are not trusted: an
//! answer that fails a check is dropped whole and the next source is asked.
//!
//! A full node answers reads itself. Writes (transactions, blob and key uploads) are passed to
//! the node it follows ([`forward_writes`]), whose answer is returned as is.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use commonware_cryptography::Digested;
use commonware_runtime::{Clock as _, Handle, Spawner as _, Supervisor as _};
use commonware_utils::acknowledgement::{Acknowledgement as _, Exact};
use futures::channel::mpsc;
use serde::Deserialize;
use tracing::{info, warn};
use urbis_consensus::Shared;
use urbis_consensus::codec::{ChainBlock, to_digest};
use urbis_consensus::follow::{self, Follower};
use urbis_core::{ErrorCode, UrbisError};

use crate::api::ApiState;
use crate::node::Ctx;
use crate::problem::{ApiError, Query};
use urbis_state::sync::{FetchError, FetchOps, Fetcher, SyncTarget};
use urbis_state::{AuthState, ChainStore};

/// Response header: the serving node's executed height.
pub const EXECUTED_HEADER: &str = "urbis-executed-height";

/// Longest a `GET /v1/sync/blocks` waits for its first block.
pub const MAX_WAIT_MS: u64 = 10_000;

/// How long a follower's request may wait at its source.
const FOLLOW_WAIT_MS: u64 = 5_000;

/// Most blocks a follower lets the executor fall behind what it has verified.
const MAX_IN_FLIGHT: u64 = 1_024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncParams {
    /// First height wanted (1 or more).
    pub from: u64,
    /// Most blocks in the answer (1 to 256; default 64).
    pub limit: Option<u64>,
    /// When `from` is the next block to be stored, milliseconds to wait for it (0 to 10,000;
    /// default 0).
    pub wait_ms: Option<u64>,
}

/// `GET /v1/sync/blocks?from=H[&limit=N][&wait_ms=W]`: consecutive finalized blocks from `H`
/// with the certificates stored with them, as `application/octet-stream` records
/// ([`follow::encode_record`]); empty when block `H` is not stored (when `H` is the next block,
/// after waiting for it up to `W` ms). The `urbis-executed-height` header says how far this
/// node is.
pub async fn sync_blocks(
    State(s): State<ApiState>,
    Query(p): Query<SyncParams>,
) -> Result<Response, ApiError> {
    let limit = p.limit.unwrap_or(64);
    if p.from == 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "from must be 1 or more (the genesis block is built from the genesis file)",
        ));
    }
    if limit == 0 || limit > follow::MAX_BATCH_BLOCKS {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!("limit must be 1 to {}", follow::MAX_BATCH_BLOCKS),
        ));
    }
    let wait = p.wait_ms.unwrap_or(0);
    if wait > MAX_WAIT_MS {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!("wait_ms must be 0 to {MAX_WAIT_MS}"),
        ));
    }
    // Only the next block is worth waiting for (what a caught-up follower asks).
    if wait > 0 && s.shared.executed_height() + 1 == p.from {
        let _slot = s.wait_slot()?;
        let mut executed = s.shared.executed.subscribe();
        let _ = tokio::time::timeout(
            Duration::from_millis(wait),
            executed.wait_for(|h| *h >= p.from),
        )
        .await;
    }
    let shared = s.shared.clone();
    let (body, executed) = tokio::task::spawn_blocking(move || read_blocks(&shared, p.from, limit))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("sync task: {e}")))??;
    let mut resp = (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from(body),
    )
        .into_response();
    resp.headers_mut()
        .insert(EXECUTED_HEADER, HeaderValue::from(executed));
    Ok(resp)
}

fn read_blocks(shared: &Shared<Ctx>, from: u64, limit: u64) -> Result<(Vec<u8>, u64), UrbisError> {
    let executed = shared.executed_height();
    let mut out = Vec::new();
    let last = executed.min(from.saturating_add(limit - 1));
    for height in from..=last {
        let Some(block) = shared.chain.block_bytes(height)? else {
            break;
        };
        let cert = shared.chain.finalization(height)?;
        if !out.is_empty()
            && out.len() + block.len() + cert.as_ref().map_or(0, Vec::len) > follow::MAX_BATCH_BYTES
        {
            break;
        }
        follow::encode_record(&mut out, &block, cert.as_deref());
    }
    Ok((out, executed))
}

/// The nodes a full node follows, and the HTTP client it asks them with.
#[derive(Clone)]
pub struct Sources {
    urls: Arc<Vec<String>>,
    /// The source the follower uses now (the last that answered well): writes go there first.
    current: Arc<std::sync::atomic::AtomicUsize>,
    http: reqwest::Client,
}

impl Sources {
    pub fn new(urls: Vec<String>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(FOLLOW_WAIT_MS) + Duration::from_secs(25))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        let urls = urls
            .into_iter()
            .map(|u| u.trim_end_matches('/').to_string())
            .collect();
        Ok(Sources {
            urls: Arc::new(urls),
            current: Arc::default(),
            http,
        })
    }

    /// One answer of source `i` from height `from`, and the source's executed height.
    async fn fetch(
        &self,
        i: usize,
        from: u64,
    ) -> Result<(Vec<follow::SyncedBlock>, Option<u64>), UrbisError> {
        let url = format!(
            "{}/v1/sync/blocks?from={from}&limit={}&wait_ms={FOLLOW_WAIT_MS}",
            self.urls[i],
            follow::MAX_BATCH_BLOCKS
        );
        let unavailable = |e: String| UrbisError::new(ErrorCode::NotReady, e);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| unavailable(format!("{e}")))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("answered {}", resp.status())));
        }
        let executed = resp
            .headers()
            .get(EXECUTED_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = resp
            .bytes()
            .await
            .map_err(|e| unavailable(format!("{e}")))?;
        if body.len() > follow::MAX_BATCH_BYTES + 2 * urbis_core::limits::MAX_BLOCK_BYTES {
            return Err(UrbisError::new(
                ErrorCode::TooLarge,
                "the answer is larger than an answer can be",
            ));
        }
        Ok((follow::decode_batch(&body)?, executed))
    }

    /// Blob `hash` (64 lowercase hex digits) from the first source that has it, checked: its
    /// bytes must hash to `hash`. A source's `erased` answer is passed on; `None` when no
    /// source has it.
    async fn fetch_blob(&self, hash: &str) -> Option<Response> {
        use sha2::Digest as _;
        let first = self.current.load(std::sync::atomic::Ordering::Relaxed);
        let n = self.urls.len();
        for base in (0..n).map(|k| &self.urls[(first + k) % n]) {
            let Ok(resp) = self
                .http
                .get(format!("{base}/v1/blobs/{hash}"))
                .send()
                .await
            else {
                continue;
            };
            let status = resp.status();
            if status == reqwest::StatusCode::GONE {
                let body = resp.bytes().await.unwrap_or_default();
                let mut out = (axum::http::StatusCode::GONE, body).into_response();
                out.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/problem+json"),
                );
                return Some(out);
            }
            if !status.is_success()
                || resp
                    .content_length()
                    .is_some_and(|l| l > crate::blobs::DEFAULT_MAX_BLOB)
            {
                continue;
            }
            let Ok(bytes) = resp.bytes().await else {
                continue;
            };
            if bytes.len() as u64 > crate::blobs::DEFAULT_MAX_BLOB
                || hex::encode(sha2::Sha256::digest(&bytes)) != hash
            {
                warn!(source = %base, blob = hash, "a source sent a blob whose bytes do not match its name");
                continue;
            }
            return Some(
                (
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    Body::from(bytes),
                )
                    .into_response(),
            );
        }
        None
    }

    /// Pass one write request on to the first source that answers.
    async fn forward(
        &self,
        method: Method,
        path: &str,
        headers: Vec<(axum::http::HeaderName, HeaderValue)>,
        body: bytes::Bytes,
    ) -> Response {
        let mut last = String::new();
        let first = self.current.load(std::sync::atomic::Ordering::Relaxed);
        let n = self.urls.len();
        for base in (0..n).map(|k| &self.urls[(first + k) % n]) {
            let mut req = self
                .http
                .request(method.clone(), format!("{base}{path}"))
                .body(body.clone());
            for (name, value) in &headers {
                req = req.header(name.clone(), value.clone());
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let ctype = resp.headers().get(header::CONTENT_TYPE).cloned();
                    match resp.bytes().await {
                        Ok(bytes) => {
                            let mut out = (status, bytes).into_response();
                            if let Some(ct) = ctype {
                                out.headers_mut().insert(header::CONTENT_TYPE, ct);
                            }
                            return out;
                        }
                        Err(e) => last = format!("{base}: {e}"),
                    }
                }
                Err(e) => last = format!("{base}: {e}"),
            }
        }
        ApiError::new(
            ErrorCode::NotReady,
            format!(
                "this full node passes writes to the nodes it follows, and none answered ({last})"
            ),
        )
        .into_response()
    }
}

/// Largest write a full node passes on (the largest body any write route takes).
const MAX_FORWARD_BYTES: usize = 64 * 1024 * 1024;

/// Middleware of a full node's API: requests other than reads go to the nodes it follows, and
/// a blob this node does not hold (it keeps none: uploads go to the validators) is fetched from
/// them and served only if its bytes hash to the name asked for.
pub async fn forward_writes(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(sources) = s.upstream.clone() else {
        return next.run(req).await;
    };
    if *req.method() == Method::GET
        && let Some(hash) = req.uri().path().strip_prefix("/v1/blobs/")
    {
        let hash = hash.to_ascii_lowercase();
        let local = next.run(req).await;
        if local.status() != axum::http::StatusCode::NOT_FOUND {
            return local;
        }
        return sources.fetch_blob(&hash).await.unwrap_or(local);
    }
    // Reads, and what this node serves to nodes syncing from it, are answered here.
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.uri().path().starts_with("/v1/sync/")
    {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    // What the request means travels with it: its media type, what it accepts, and the
    // signature headers of blob and key uploads (`x-urbis-*`).
    let headers: Vec<(axum::http::HeaderName, HeaderValue)> = req
        .headers()
        .iter()
        .filter(|(name, _)| {
            *name == header::CONTENT_TYPE
                || *name == header::ACCEPT
                || name.as_str().starts_with("x-urbis-")
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let body = match axum::body::to_bytes(req.into_body(), MAX_FORWARD_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(ErrorCode::TooLarge, "request body too large").into_response();
        }
    };
    sources.forward(method, &path, headers, body).await
}

/// A full node's executor and the follower that feeds it.
pub fn start(
    context: &Ctx,
    shared: Arc<Shared<Ctx>>,
    sources: Sources,
) -> Handle<Result<(), UrbisError>> {
    let (tx, rx) = mpsc::unbounded();
    let exec_shared = shared.clone();
    let executor = context.child("executor").spawn(move |ctx| async move {
        let r = urbis_consensus::executor::run(ctx, exec_shared, None, rx).await;
        if let Err(e) = &r {
            tracing::error!(%e, "executor stopped");
        }
        r
    });
    context
        .child("follower")
        .spawn(move |ctx| async move { run(ctx, shared, sources, tx).await });
    executor
}

async fn run(
    context: Ctx,
    shared: Arc<Shared<Ctx>>,
    sources: Sources,
    tx: mpsc::UnboundedSender<urbis_consensus::executor::Delivery>,
) {
    let executed = shared.executed_height();
    let digest = if executed == 0 {
        shared.genesis_block.digest()
    } else {
        match shared.chain.header(executed) {
            Ok(Some(h)) => h.digest(),
            other => {
                let why = format!("cannot read the header of stored block {executed}: {other:?}");
                let _ = shared.halted.send(Some(why));
                return;
            }
        }
    };
    let mut follower = Follower::new(
        shared.chain_ref.clone(),
        shared.sets.clone(),
        executed,
        digest,
    );
    info!(
        from = executed + 1,
        sources = sources.urls.len(),
        "following"
    );
    let mut executed_rx = shared.executed.subscribe();
    let mut source = 0usize;
    let mut failures = 0u32;
    loop {
        let next = follower.next_height();
        if executed_rx
            .wait_for(|h| next <= h.saturating_add(MAX_IN_FLIGHT))
            .await
            .is_err()
        {
            return;
        }
        let result = match sources.fetch(source, next).await {
            Ok((batch, tip)) => {
                if let Some(tip) = tip {
                    shared
                        .finalized_tip
                        .fetch_max(tip, std::sync::atomic::Ordering::Relaxed);
                }
                follower.accept(batch)
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(released) => {
                failures = 0;
                for r in released {
                    let (ack, _waiter) = Exact::handle();
                    let block =
                        Digested::precomputed(ChainBlock::new(r.block), to_digest(&r.digest));
                    if tx.unbounded_send((block, ack, r.finalization)).is_err() {
                        return;
                    }
                }
                shared
                    .finalized_tip
                    .fetch_max(follower.certified(), std::sync::atomic::Ordering::Relaxed);
                // The next block is of an epoch whose set this node learns by executing what
                // it has released.
                if follower.blocked_on_set() {
                    let certified = follower.certified();
                    if executed_rx.wait_for(|h| *h >= certified).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                follower.drop_pending();
                warn!(
                    source = %sources.urls[source],
                    code = e.code.as_str(),
                    %e,
                    "following: this source failed; asking the next"
                );
                source = (source + 1) % sources.urls.len();
                sources
                    .current
                    .store(source, std::sync::atomic::Ordering::Relaxed);
                failures = failures.saturating_add(1);
                let backoff = 100u64.saturating_mul(1 << failures.min(6)).min(5_000);
                context.sleep(Duration::from_millis(backoff)).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// State sync: serving.

/// The newest state a node offers (`GET /v1/sync/state`).
#[derive(Clone, Debug, serde::Serialize, Deserialize)]
pub struct OfferInfo {
    pub target: SyncTarget,
    /// The block whose header certifies `target.root` at `target.height`.
    pub certified_by: u64,
}

/// `GET /v1/sync/state`: the newest state-sync target this node offers. Asking is what makes a
/// node offer one (at its next block that certifies its state); the first asker waits for it
/// up to 5 s, then gets `not_ready`.
pub async fn sync_state(State(s): State<ApiState>) -> Result<axum::Json<OfferInfo>, ApiError> {
    s.shared
        .sync_wanted
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let newest = || {
        s.shared
            .sync_offers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .back()
            .cloned()
    };
    // None yet: one is made at the next certifying block, which a healthy chain has within a
    // few block times.
    if newest().is_none() {
        let _slot = s.wait_slot()?;
        let mut executed = s.shared.executed.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while newest().is_none()
            && tokio::time::timeout_at(deadline, executed.changed())
                .await
                .is_ok_and(|r| r.is_ok())
        {}
    }
    match newest() {
        Some(o) => Ok(axum::Json(OfferInfo {
            target: o.target.clone(),
            certified_by: o.certified_by,
        })),
        None => Err(ApiError::new(
            ErrorCode::NotReady,
            "no state offered yet: one is made at the next block that certifies this node's state; retry in a moment",
        )),
    }
}

/// A request for state-sync operations, for the task that owns the authenticated store.
pub type OpsRequest = (
    Vec<u8>,
    tokio::sync::oneshot::Sender<Result<Vec<u8>, UrbisError>>,
);

/// The task that answers operation requests on the node's runtime (where the authenticated
/// store lives), one at a time.
pub fn spawn_ops_server(
    context: &Ctx,
    shared: Arc<Shared<Ctx>>,
) -> tokio::sync::mpsc::Sender<OpsRequest> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<OpsRequest>(16);
    context.child("sync_ops").spawn(move |_| async move {
        while let Some((request, reply)) = rx.recv().await {
            let offered: Vec<u64> = shared
                .sync_offers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|o| o.target.size)
                .collect();
            let answer = shared
                .auth
                .lock()
                .await
                .serve_sync(&request, &offered)
                .await;
            let _ = reply.send(answer);
        }
    });
    tx
}

/// `POST /v1/sync/state/ops`: a Commonware QMDB sync request (its encoding) in, the encoded
/// response out, proven against one of the offered targets' roots.
pub async fn sync_ops(State(s): State<ApiState>, body: bytes::Bytes) -> Result<Response, ApiError> {
    if body.len() > 256 {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            "a sync request is a few bytes",
        ));
    }
    let server = s.sync_ops.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotReady,
            "this node does not serve state sync yet",
        )
    })?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    server.try_send((body.to_vec(), tx)).map_err(|_| {
        ApiError::new(
            ErrorCode::Overloaded,
            "too many sync requests; retry shortly",
        )
    })?;
    let answer = rx
        .await
        .map_err(|_| ApiError::new(ErrorCode::NotReady, "the node is shutting down"))??;
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from(answer),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValuesParams {
    /// The offered target's height.
    pub height: u64,
    /// Hex of the last key of the previous page.
    pub after: Option<String>,
    /// Entries, 1 to 10,000 (default 1,000).
    pub limit: Option<usize>,
}

/// Most entries in one `GET /v1/sync/state/values` answer.
pub const MAX_VALUES_PAGE: usize = 10_000;

/// `GET /v1/sync/state/values?height=H[&after=HEX][&limit=N]`: the logical state at an offered
/// height, in key order, as records `u32 BE key length, key, u32 BE value length, value`.
pub async fn sync_values(
    State(s): State<ApiState>,
    Query(p): Query<ValuesParams>,
) -> Result<Response, ApiError> {
    let limit = p.limit.unwrap_or(1_000);
    if limit == 0 || limit > MAX_VALUES_PAGE {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!("limit must be 1 to {MAX_VALUES_PAGE}"),
        ));
    }
    let after = p
        .after
        .map(|a| {
            hex::decode(a)
                .map_err(|_| ApiError::new(ErrorCode::InvalidArgument, "after is not hex"))
        })
        .transpose()?;
    let offer = s
        .shared
        .sync_offers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|o| o.target.height == p.height)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("no state offered at height {} (any more)", p.height),
            )
        })?;
    let page = tokio::task::spawn_blocking(move || offer.values.page(after.as_deref(), limit))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("values task: {e}")))??;
    let mut out = Vec::new();
    for (k, v) in &page {
        follow::encode_record(&mut out, k, Some(v));
    }
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from(out),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// State sync: the syncing side.

/// Asks one source for operations over HTTP (a few retries on transport errors).
struct HttpOps {
    http: reqwest::Client,
    url: String,
}

impl FetchOps for HttpOps {
    async fn fetch(&self, request: Vec<u8>) -> Result<Vec<u8>, FetchError> {
        let mut last = String::new();
        for attempt in 0..3u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            let resp = self
                .http
                .post(format!("{}/v1/sync/state/ops", self.url))
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(request.clone())
                .send()
                .await;
            match resp {
                Ok(r) if r.status().is_success() => {
                    return r
                        .bytes()
                        .await
                        .map(|b| b.to_vec())
                        .map_err(|e| FetchError(e.to_string()));
                }
                Ok(r) => {
                    last = format!(
                        "answered {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(FetchError(last))
    }
}

fn sync_error(msg: impl Into<String>) -> UrbisError {
    UrbisError::new(ErrorCode::InvalidProof, msg)
}

/// A full node's first start with `state_sync`: take the state at a recent certified height
/// from one of the nodes it follows instead of replaying the chain (`docs/full-nodes.md`).
/// Fills the empty authenticated store (partitions `state-*`) and chain store; the node then
/// opens them and follows from the next block.
pub async fn state_sync(
    context: &Ctx,
    chain: &ChainStore,
    genesis: &urbis_runtime::Genesis,
    runtime: &urbis_runtime::Runtime,
    sources: &Sources,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let genesis_block = urbis_consensus::shared::compute_genesis_block(
        context.child("genesis_scratch"),
        "genesis-scratch",
        genesis,
        runtime,
    )
    .await
    .map_err(|e| anyhow::anyhow!("genesis: {e}"))?;
    let mut round = 0u32;
    loop {
        for i in 0..sources.urls.len() {
            match sync_once(context, chain, genesis, &genesis_block, sources, i).await {
                Ok((height, keys)) => {
                    info!(
                        height,
                        keys,
                        source = %sources.urls[i],
                        ms = started.elapsed().as_millis() as u64,
                        "state synced"
                    );
                    sources
                        .current
                        .store(i, std::sync::atomic::Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) => {
                    warn!(source = %sources.urls[i], %e, "state sync from this source failed");
                    // Start the next attempt from empty partitions.
                    let partial = AuthState::open(context.child("state_sync_cleanup"), "state")
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    partial
                        .destroy()
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
            }
        }
        round += 1;
        if round >= 5 {
            anyhow::bail!("state sync failed from every source, five times over");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn sync_once(
    context: &Ctx,
    chain: &ChainStore,
    genesis: &urbis_runtime::Genesis,
    genesis_block: &urbis_core::Block,
    sources: &Sources,
    i: usize,
) -> Result<(u64, u64), UrbisError> {
    let url = &sources.urls[i];
    let unavailable = |e: String| UrbisError::new(ErrorCode::NotReady, e);
    // 1. The newest offer (made at the source's next certifying block after it is asked).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let offer: OfferInfo = loop {
        let resp = sources
            .http
            .get(format!("{url}/v1/sync/state"))
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if resp.status().is_success() {
            break resp.json().await.map_err(|e| unavailable(e.to_string()))?;
        }
        if std::time::Instant::now() > deadline {
            return Err(unavailable(format!("no state offered: {}", resp.status())));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let target = offer.target;
    let e = target.height;
    if e == 0 || offer.certified_by != e + 1 {
        return Err(sync_error("the offer is not certified by the next block"));
    }
    // 2. Block e, and the chain from it up to a verified certificate covering block e + 1,
    //    whose header must certify the target's root.
    let chain_ref = urbis_core::ChainRef::new(genesis.chain_id.clone(), genesis_block.digest());
    //    On a chain with epochs, the sets up to the certifying block's epoch come from the
    //    source's hand-overs, each checked from the genesis set.
    let (sets, handovers) = walk_sets(sources, i, genesis, e + 1).await?;
    let (mut batch, _) = sources.fetch(i, e).await?;
    if batch.is_empty() {
        return Err(sync_error("the source does not serve the offered block"));
    }
    let first = batch.remove(0);
    let block_e = urbis_core::Block::decode(&first.block)?;
    if block_e.header.height != e
        || sets
            .at_height(e)
            .is_none_or(|s| s.hash != block_e.header.validator_set)
    {
        return Err(sync_error(
            "the source sent another block than the offered one",
        ));
    }
    block_e.check_structure(&chain_ref)?;
    let mut follower = Follower::new(chain_ref, sets, e, block_e.digest());
    let mut released = follower.accept(batch)?;
    let mut asks = 0;
    while follower.certified() < offer.certified_by {
        asks += 1;
        if asks > 64 {
            return Err(sync_error("no certificate covers the offered state"));
        }
        let (batch, _) = sources.fetch(i, follower.next_height()).await?;
        released.extend(follower.accept(batch)?);
    }
    let certifying = released
        .iter()
        .find(|r| r.block.header.height == offer.certified_by)
        .ok_or_else(|| sync_error("the certifying block was not released"))?;
    let h = &certifying.block.header;
    if h.state_height != e || h.state_root != target.root {
        return Err(sync_error(format!(
            "block {} does not certify the offered root at height {e}",
            h.height
        )));
    }
    let receipts_acc = h.receipts_acc;
    // 3. The authenticated store, checked against the target's roots.
    let fetcher = Fetcher(HttpOps {
        http: sources.http.clone(),
        url: url.clone(),
    });
    let auth = AuthState::sync_from(context.child("state_sync"), "state", &target, fetcher).await?;
    // 4. The values: exactly the synced store's keys, each hashing to what it holds.
    let mut values: urbis_runtime::Entries = Vec::new();
    loop {
        let mut q = format!("{url}/v1/sync/state/values?height={e}&limit={MAX_VALUES_PAGE}");
        if let Some((k, _)) = values.last() {
            q.push_str(&format!("&after={}", hex::encode(k)));
        }
        let resp = sources
            .http
            .get(&q)
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("values: {}", resp.status())));
        }
        let body = resp.bytes().await.map_err(|e| unavailable(e.to_string()))?;
        let page = decode_values(&body)?;
        let n = page.len();
        for (k, v) in page {
            if values.last().is_some_and(|(last, _)| *last >= k) {
                return Err(sync_error("the values are not in key order"));
            }
            values.push((k, v));
        }
        if n < MAX_VALUES_PAGE {
            break;
        }
    }
    auth.check_values(&values).await?;
    let keys = values.len() as u64;
    drop(auth);
    // 5. The chain store, in one transaction.
    chain.install_synced(
        genesis_block,
        &block_e,
        first.finalization.as_deref(),
        target.root,
        receipts_acc,
        &values,
    )?;
    for h in &handovers {
        let bytes = serde_json::to_vec(h)
            .map_err(|e| UrbisError::new(ErrorCode::Internal, format!("hand-over: {e}")))?;
        chain.put_handover(h.epoch, &bytes)?;
    }
    Ok((e, keys))
}

/// The validator sets of epochs 0 to the epoch of `height`, from the genesis and the source's
/// hand-overs (each checked with the set before it), and those hand-overs.
async fn walk_sets(
    sources: &Sources,
    i: usize,
    genesis: &urbis_runtime::Genesis,
    height: u64,
) -> Result<
    (
        Arc<urbis_consensus::epochs::EpochSets>,
        Vec<urbis_consensus::Handover>,
    ),
    UrbisError,
> {
    let trust = urbis_consensus::Trust::from_genesis(genesis);
    let start = urbis_consensus::epochs::EpochStart {
        epoch: 0,
        floor: urbis_core::Hash::ZERO,
    };
    if !trust.epochs.enabled() {
        let sets = urbis_consensus::epochs::EpochSets::fixed(&trust.validators, start)?;
        return Ok((Arc::new(sets), Vec::new()));
    }
    let epoch = trust.epochs.of(height);
    let mut handovers: Vec<urbis_consensus::Handover> = Vec::new();
    if epoch >= 2 {
        let url = format!("{}/v1/validators/handovers?epoch={epoch}", sources.urls[i]);
        let resp = sources
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| UrbisError::new(ErrorCode::NotReady, e.to_string()))?;
        if !resp.status().is_success() {
            return Err(UrbisError::new(
                ErrorCode::NotReady,
                format!("hand-overs: {}", resp.status()),
            ));
        }
        #[derive(Deserialize)]
        struct Answer {
            handovers: Vec<urbis_consensus::Handover>,
        }
        let answer: Answer = resp
            .json()
            .await
            .map_err(|e| sync_error(format!("hand-overs do not parse: {e}")))?;
        handovers = answer.handovers;
    }
    if handovers.len() as u64 != epoch.saturating_sub(1) {
        return Err(sync_error(format!(
            "the source sent {} hand-overs for epoch {epoch}",
            handovers.len()
        )));
    }
    // Epochs 0 and 1 have the genesis set; each hand-over gives the next.
    let mut sets = vec![trust.validators.clone(), trust.validators.clone()];
    for (k, h) in handovers.iter().enumerate() {
        let k = k as u64 + 1;
        let next = urbis_consensus::bundle::verify_handover(&trust, k, &sets[k as usize], h)?;
        sets.push(next);
    }
    sets.truncate(epoch as usize + 1);
    let sets = urbis_consensus::epochs::EpochSets::walked(trust.epochs, sets, start)?;
    Ok((Arc::new(sets), handovers))
}

/// Records of `GET /v1/sync/state/values`.
fn decode_values(bytes: &[u8]) -> Result<urbis_runtime::Entries, UrbisError> {
    let mut rest = bytes;
    let mut out = Vec::new();
    let take = |rest: &mut &[u8]| -> Result<Vec<u8>, UrbisError> {
        if rest.len() < 4 {
            return Err(UrbisError::new(
                ErrorCode::Malformed,
                "values answer truncated",
            ));
        }
        let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if rest.len() < 4 + n || n > urbis_core::limits::MAX_VALUE_BYTES.max(4096) {
            return Err(UrbisError::new(
                ErrorCode::Malformed,
                "values answer truncated",
            ));
        }
        let v = rest[4..4 + n].to_vec();
        *rest = &rest[4 + n..];
        Ok(v)
    };
    while !rest.is_empty() {
        let k = take(&mut rest)?;
        let v = take(&mut rest)?;
        out.push((k, v));
    }
    Ok(out)
}
