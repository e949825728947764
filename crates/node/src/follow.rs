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

    /// Pass one write request on to the first source that answers.
    async fn forward(
        &self,
        method: Method,
        path: &str,
        ctype: Option<HeaderValue>,
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
            if let Some(ct) = &ctype {
                req = req.header(header::CONTENT_TYPE, ct.clone());
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

/// Middleware of a full node's API: requests other than reads go to the nodes it follows.
pub async fn forward_writes(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(sources) = s.upstream.clone() else {
        return next.run(req).await;
    };
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let ctype = req.headers().get(header::CONTENT_TYPE).cloned();
    let body = match axum::body::to_bytes(req.into_body(), MAX_FORWARD_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(ErrorCode::TooLarge, "request body too large").into_response();
        }
    };
    sources.forward(method, &path, ctype, body).await
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
        shared.validators.clone(),
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
