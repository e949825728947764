//! The HTTP API (DESIGN.md §7): REST under `/v1`, problem+json errors, SSE events, health,
//! readiness, Prometheus metrics and the OpenAPI document.
//!
//! # The API cannot slow consensus
//!
//! - It runs on its own tokio runtime ([`ApiRuntime`]), not on the consensus runtime's threads;
//!   block rendering and other heavy work go to that runtime's bounded blocking pool.
//! - Requests are bounded: at most [`ApiLimits::max_requests`] in flight (more are refused at
//!   once with `503 overloaded`, never queued; health, readiness and metrics always answer), each cut off after
//!   [`ApiLimits::request_timeout`] (`504 timeout`); at most [`ApiLimits::max_waiting`] of them
//!   may wait for the chain (`?wait=true`, proofs); at most [`ApiLimits::max_sse`] event-stream
//!   subscribers; at most [`ApiLimits::max_block_renders`] blocks rendered at once, so that
//!   reads cannot crowd out transaction submissions.
//! - Proofs are made by the executor between blocks ([`urbis_consensus::prover`]): a proof never
//!   holds a lock the executor needs; the executor's queue is bounded too.
//! - Each block's event is rendered to JSON once and shared by every subscriber; a subscriber
//!   that does not read falls behind by at most 64 blocks and is then told it `lagged`, and the
//!   kernel buffers at most [`ApiLimits::send_buffer_bytes`] for it.
//! - Large blocks are paginated (`?limit=`, `?cursor=`).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, broadcast};
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use urbis_consensus::shared::Counters;
use urbis_consensus::{ExecutedBlock, Shared};
use urbis_core::{ErrorCode, Hash, SignedTx, UrbisError, limits};
use urbis_state::{EventIndex, IndexedEvent, Search};

use crate::node::Ctx;
use crate::problem::{ApiError, ApiResult, Path, Query};

/// Largest batch submission: transactions and bytes.
pub const MAX_BATCH_TXS: usize = 10_000;
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// How long `?wait=true` and proof requests wait for the chain.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Transactions (with receipts) per page of a block, by default and at most.
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1_000;

/// Blocks of rendered events kept for slow subscribers.
const SSE_BUFFER_BLOCKS: usize = 64;

/// The API's own execution budget and limits.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiLimits {
    /// Worker threads of the API runtime.
    pub threads: usize,
    /// Threads for blocking work (block rendering, batch signature checks).
    pub blocking_threads: usize,
    /// Requests in flight (event streams not counted); beyond: `503 overloaded`.
    pub max_requests: usize,
    /// Requests waiting for the chain (`?wait=true`, proofs); beyond: `503 overloaded`.
    pub max_waiting: usize,
    /// Event-stream subscribers; beyond: `503 overloaded`.
    pub max_sse: usize,
    /// Blocks rendered at once (rendering a full page of a large block is the API's most
    /// expensive read); beyond: `503 overloaded`, so that reads cannot crowd out submissions.
    pub max_block_renders: usize,
    /// Longest a request may take, in milliseconds (`504 timeout`).
    pub request_timeout_ms: u64,
    /// Kernel send buffer of each API connection: what a client that stops reading can make
    /// the node queue for it.
    pub send_buffer_bytes: usize,
}

impl Default for ApiLimits {
    /// Half the machine's cores for the API (at least one): consensus keeps the rest.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ApiLimits {
            threads: (cores / 2).max(1),
            blocking_threads: 4,
            max_requests: 1_024,
            max_waiting: 512,
            max_sse: 4_096,
            max_block_renders: (cores / 2).max(1),
            request_timeout_ms: 40_000,
            send_buffer_bytes: 128 * 1024,
        }
    }
}

/// The API's runtime: separate threads from consensus.
pub struct ApiRuntime {
    runtime: tokio::runtime::Runtime,
}

impl ApiRuntime {
    pub fn new(limits: &ApiLimits) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(limits.threads.max(1))
            .max_blocking_threads(limits.blocking_threads.max(1))
            .thread_name("urbis-api")
            .enable_all()
            .build()?;
        Ok(ApiRuntime { runtime })
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// Stop serving (in-flight requests are dropped).
    pub fn shutdown(self) {
        self.runtime.shutdown_background();
    }
}

#[derive(Clone)]
pub struct ApiState {
    pub shared: Arc<Shared<Ctx>>,
    /// The event index (`events.redb`), filled by the node's indexer.
    pub events: Arc<EventIndex>,
    /// Encrypted payloads of records and shared files.
    pub blobs: Arc<crate::blobs::BlobStore>,
    /// Wrapped data keys of records.
    pub vault: Arc<crate::vault::Vault>,
    /// Blob replication to the other validators (absent until the p2p channel is up).
    pub replicator: Option<Arc<crate::replicate::Replicator>>,
    /// Prometheus text of the consensus runtime's own metrics.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
    pub block_time: Duration,
    pub limits: ApiLimits,
    /// Rendered block events, shared by every subscriber.
    pub rendered: broadcast::Sender<Arc<RenderedBlock>>,
    pub subscribers: Arc<AtomicUsize>,
    pub waiting: Arc<Semaphore>,
    /// Slots of requests in flight.
    pub slots: Arc<Semaphore>,
    /// Slots of block renders.
    pub renders: Arc<Semaphore>,
    /// Requests accepted since start.
    pub requests: Arc<AtomicUsize>,
    /// The OpenAPI document and the module list, as JSON: fixed for a running node (its
    /// modules do not change), built on first use.
    pub docs: Arc<Docs>,
    /// A full node's sources: writes are passed to them (see [`crate::follow`]).
    pub upstream: Option<crate::follow::Sources>,
    /// The task answering state-sync operation requests (see [`crate::follow`]).
    pub sync_ops: Option<tokio::sync::mpsc::Sender<crate::follow::OpsRequest>>,
}

/// Documents built once per node.
#[derive(Default)]
pub struct Docs {
    openapi: std::sync::OnceLock<Bytes>,
    modules: std::sync::OnceLock<Bytes>,
}

/// A JSON document already rendered.
fn json_bytes(body: &Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

/// A block event rendered once for every subscriber.
pub struct RenderedBlock {
    pub height: u64,
    pub json: String,
}

impl ApiState {
    /// State for `shared`; call [`ApiState::start_renderer`] on the API runtime.
    pub fn new(
        shared: Arc<Shared<Ctx>>,
        events: Arc<EventIndex>,
        blobs: Arc<crate::blobs::BlobStore>,
        vault: Arc<crate::vault::Vault>,
        metrics: Arc<dyn Fn() -> String + Send + Sync>,
        block_time: Duration,
        limits: ApiLimits,
    ) -> Self {
        let (rendered, _) = broadcast::channel(SSE_BUFFER_BLOCKS);
        let waiting = Arc::new(Semaphore::new(limits.max_waiting));
        let slots = Arc::new(Semaphore::new(limits.max_requests));
        let renders = Arc::new(Semaphore::new(limits.max_block_renders));
        ApiState {
            shared,
            events,
            blobs,
            vault,
            replicator: None,
            metrics,
            block_time,
            limits,
            rendered,
            subscribers: Arc::new(AtomicUsize::new(0)),
            waiting,
            slots,
            renders,
            requests: Arc::new(AtomicUsize::new(0)),
            docs: Arc::default(),
            upstream: None,
            sync_ops: None,
        }
    }

    /// Render every executed block's event once, for all subscribers (runs on the API
    /// runtime until the node stops).
    pub fn start_renderer(&self, rt: &tokio::runtime::Handle) {
        let mut rx = self.shared.events.subscribe();
        let out = self.rendered.clone();
        rt.spawn(async move {
            loop {
                match rx.recv().await {
                    // Nobody listening: nothing to render (a subscriber sees blocks from
                    // the one after it subscribed).
                    Ok(_) if out.receiver_count() == 0 => {}
                    Ok(b) => {
                        let height = b.height;
                        let rendered = tokio::task::spawn_blocking(move || block_event(&b)).await;
                        if let Ok(json) = rendered {
                            let _ = out.send(Arc::new(RenderedBlock { height, json }));
                        }
                    }
                    // The renderer itself fell behind: subscribers see a gap in heights.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// A slot for a request that waits for the chain, or `overloaded`.
    pub(crate) fn wait_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.waiting.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                ErrorCode::Overloaded,
                format!(
                    "{} requests are already waiting for the chain; retry shortly",
                    self.limits.max_waiting
                ),
            )
        })
    }
}

pub fn router(state: ApiState) -> Router {
    let limits = state.limits.clone();
    let requests = state.requests.clone();
    let limited = Router::new()
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/status", get(status))
        .route("/v1/validators", get(validators))
        .route("/v1/validators/handovers", get(handovers))
        .route("/v1/genesis", get(genesis))
        .route("/v1/txs", post(submit_tx))
        .route(
            "/v1/txs/batch",
            post(submit_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)),
        )
        .route("/v1/txs/{hash}", get(tx_status))
        .route("/v1/blocks/{id}", get(block))
        .route("/v1/sync/blocks", get(crate::follow::sync_blocks))
        .route("/v1/sync/state", get(crate::follow::sync_state))
        .route("/v1/sync/state/ops", post(crate::follow::sync_ops))
        .route("/v1/sync/state/values", get(crate::follow::sync_values))
        .route("/v1/nonce/{address}", get(nonce))
        .route("/v1/query/{module}/{*path}", get(query))
        .route("/v1/evidence", get(evidence))
        .route("/v1/modules", get(modules))
        .route("/v1/modules/{name}", get(module_info))
        .route("/v1/events/search", get(search_events))
        .route("/1.0/identifiers/{did}", get(crate::identity::resolve))
        .route("/v1/status-lists/{id}", get(crate::identity::status_list))
        .route(
            "/v1/blobs",
            axum::routing::put(crate::blobs::put_handler).layer(DefaultBodyLimit::max(
                crate::blobs::DEFAULT_MAX_BLOB as usize + 1,
            )),
        )
        .route("/v1/blobs/{hash}", get(crate::blobs::get_handler))
        .route(
            "/v1/records/{id}/wraps",
            post(crate::vault::put_wrap_handler)
                .layer(DefaultBodyLimit::max(crate::vault::MAX_BODY)),
        )
        .route(
            "/v1/records/{id}/key",
            post(crate::vault::key_handler).layer(DefaultBodyLimit::max(crate::vault::MAX_BODY)),
        )
        .merge(crate::portal::routes())
        .fallback(not_found)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overload_error))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::with_semaphore(
                    state.slots.clone(),
                ))
                .timeout(Duration::from_millis(limits.request_timeout_ms))
                .map_request(move |req: axum::extract::Request| {
                    requests.fetch_add(1, Ordering::Relaxed);
                    req
                }),
        );
    // Event streams are long-lived: they have their own cap instead of a request slot. Health,
    // readiness and metrics are cheap and must answer under any load.
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/events", get(events))
        .merge(limited)
        .method_not_allowed_fallback(method_not_allowed)
        // A full node passes writes on to the nodes it follows (a validator's state has none).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::follow::forward_writes,
        ))
        // Bodies larger than this are cut off by axum; `submit_tx` reports them as too_large.
        .layer(DefaultBodyLimit::max(4 * limits::MAX_TX_BYTES))
        .with_state(state)
}

/// What the load-shedding and timeout layers report.
async fn overload_error(err: tower::BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(ErrorCode::Timeout, "the request took too long")
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(
            ErrorCode::Overloaded,
            "too many requests in flight; retry shortly",
        )
    } else {
        ApiError::new(ErrorCode::Internal, format!("request failed: {err}"))
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not serve that method; see /v1/openapi.json",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such endpoint; see /v1/openapi.json",
    )
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the node has executed the finalized chain it knows of, and its last block is
/// recent: a node replaying or catching up is not.
fn is_ready(s: &ApiState) -> bool {
    if !s.shared.caught_up() || s.shared.halted.borrow().is_some() {
        return false;
    }
    let Ok(Some(block)) = s.shared.chain.block(s.shared.executed_height()) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let allowed = (s.block_time * 20 + Duration::from_secs(10)).as_millis() as u64;
    now.saturating_sub(block.header.timestamp_ms) <= allowed
}

async fn readyz(State(s): State<ApiState>) -> Response {
    if is_ready(&s) {
        (StatusCode::OK, "ready").into_response()
    } else {
        ApiError::new(
            ErrorCode::NotReady,
            format!(
                "catching up: executed {} of {} finalized blocks",
                s.shared.executed_height(),
                s.shared.executed_height() + s.shared.lag()
            ),
        )
        .into_response()
    }
}

async fn metrics(State(s): State<ApiState>) -> Response {
    let sh = &s.shared;
    let c = &sh.counters;
    let mp = sh.mempool.stats();
    let samples = Counters::get(&c.finality_samples).max(1);
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, v: u64| {
        out.push_str(&format!(
            "# HELP urbis_{name} {help}\n# TYPE urbis_{name} {kind}\nurbis_{name} {v}\n"
        ));
    };
    gauge(
        "height",
        "Height of the last executed block.",
        "gauge",
        sh.executed_height(),
    );
    gauge(
        "blocks_executed_total",
        "Blocks executed since start.",
        "counter",
        Counters::get(&c.blocks_executed),
    );
    gauge(
        "txs_committed_total",
        "Transactions included and executed.",
        "counter",
        Counters::get(&c.txs_committed),
    );
    gauge(
        "txs_failed_total",
        "Included transactions whose call failed.",
        "counter",
        Counters::get(&c.txs_failed),
    );
    gauge(
        "proposals_total",
        "Blocks proposed by this validator.",
        "counter",
        Counters::get(&c.proposals),
    );
    gauge(
        "verify_rejections_total",
        "Proposals this validator rejected.",
        "counter",
        Counters::get(&c.verify_rejections),
    );
    gauge(
        "gossip_dropped_total",
        "Transactions not relayed because the relay queue was full.",
        "counter",
        Counters::get(&c.gossip_dropped),
    );
    gauge(
        "mempool_txs",
        "Transactions waiting in the mempool.",
        "gauge",
        mp.txs as u64,
    );
    gauge(
        "mempool_bytes",
        "Bytes waiting in the mempool.",
        "gauge",
        mp.bytes as u64,
    );
    gauge(
        "finality_latency_ms_last",
        "Block timestamp to execution, last block.",
        "gauge",
        Counters::get(&c.last_finality_ms),
    );
    gauge(
        "finality_latency_ms_avg",
        "Block timestamp to execution, average.",
        "gauge",
        Counters::get(&c.finality_ms_sum) / samples,
    );
    gauge(
        "api_requests_total",
        "API requests accepted (event streams not counted).",
        "counter",
        s.requests.load(Ordering::Relaxed) as u64,
    );
    gauge(
        "api_in_flight",
        "API requests in flight (event streams not counted).",
        "gauge",
        (s.limits.max_requests - s.slots.available_permits()) as u64,
    );
    gauge(
        "api_waiting",
        "API requests waiting for the chain.",
        "gauge",
        (s.limits.max_waiting - s.waiting.available_permits()) as u64,
    );
    gauge(
        "sse_subscribers",
        "Open event streams.",
        "gauge",
        s.subscribers.load(Ordering::Relaxed) as u64,
    );
    out.push_str(
        "# HELP urbis_cpu_seconds_total CPU time of the node's stages (process: all of it).\n\
         # TYPE urbis_cpu_seconds_total counter\n",
    );
    for (stage, us) in [
        ("execute", Counters::get(&c.cpu_execute_us)),
        ("record", Counters::get(&c.cpu_record_us)),
        ("index", Counters::get(&c.cpu_index_us)),
        ("process", urbis_consensus::shared::process_cpu_us()),
    ] {
        out.push_str(&format!(
            "urbis_cpu_seconds_total{{stage=\"{stage}\"}} {}.{:06}\n",
            us / 1_000_000,
            us % 1_000_000
        ));
    }
    out.push_str(&(s.metrics)());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn openapi(State(s): State<ApiState>) -> Response {
    json_bytes(
        s.docs
            .openapi
            .get_or_init(|| Bytes::from(crate::openapi::document(&s.shared.runtime).to_string())),
    )
}

/// `GET /v1/modules`: every module's calls (with their JSON Schema), queries and events.
async fn modules(State(s): State<ApiState>) -> Response {
    json_bytes(s.docs.modules.get_or_init(|| {
        Bytes::from(json!({ "modules": s.shared.runtime.describe_modules() }).to_string())
    }))
}

/// `GET /v1/modules/{name}`.
async fn module_info(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.shared.runtime.describe_module(&name)?))
}

async fn genesis(State(s): State<ApiState>) -> Json<urbis_runtime::Genesis> {
    Json(s.shared.genesis.clone())
}

async fn status(State(s): State<ApiState>) -> ApiResult<Json<Value>> {
    let sh = &s.shared;
    let height = sh.executed_height();
    let block = sh
        .chain
        .block(height)?
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "executed block missing"))?;
    let root = sh.chain.state_root(height)?.unwrap_or(Hash::ZERO);
    Ok(Json(json!({
        "chain_id": sh.chain_id,
        "height": height,
        "block_hash": block.digest(),
        "block_time_ms": block.header.timestamp_ms,
        "state_root": root,
        "state_height": height,
        "genesis_hash": sh.chain_ref.genesis_hash,
        "validators": sh.sets.current_set().keys,
        "epoch": sh.sets.current.borrow().epoch,
        "mempool": sh.mempool.stats(),
        "ready": is_ready(&s),
        "lag": sh.lag(),
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

/// `GET /v1/validators`: the epochs and every validator set this node knows to be final (each
/// with the epoch it starts at and the hash block headers carry).
async fn validators(State(s): State<ApiState>) -> Result<Json<serde_json::Value>, ApiError> {
    let sh = &s.shared;
    let epochs = sh.sets.epochs;
    let sets: Vec<serde_json::Value> = sh
        .sets
        .all()
        .iter()
        .map(|set| {
            json!({
                "from_epoch": set.from_epoch,
                "from_height": epochs.first(set.from_epoch),
                "set_hash": set.hash,
                "validators": set.validators,
            })
        })
        .collect();
    // Decided by the council but still open to further changes this epoch.
    let final_until = sh.sets.final_until();
    let scheduled: Vec<serde_json::Value> =
        urbis_runtime::validators::read_schedule(&sh.chain.state_view()?)?
            .map(|s| s.sets)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.from_epoch > final_until)
            .map(|s| {
                json!({
                    "from_epoch": s.from_epoch,
                    "from_height": epochs.first(s.from_epoch),
                    "set_hash": urbis_consensus::validator_set_hash(
                        &s.validators.iter().map(|v| v.public_key).collect::<Vec<_>>()
                    ),
                    "validators": s.validators,
                })
            })
            .collect();
    Ok(Json(json!({
        "epoch_length": epochs.enabled().then_some(epochs.length),
        "epoch": sh.sets.current.borrow().epoch,
        "final_until_epoch": epochs.enabled().then_some(final_until),
        "sets": sets,
        "scheduled": scheduled,
    })))
}

#[derive(Deserialize)]
struct EpochParam {
    epoch: u64,
}

/// `GET /v1/validators/handovers?epoch=E`: the hand-overs of epochs 1 to `E − 1`, which prove
/// the validator set of epoch `E` from the genesis set (the format of `docs/proofs.md`).
async fn handovers(
    State(s): State<ApiState>,
    crate::problem::Query(p): crate::problem::Query<EpochParam>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let sh = &s.shared;
    if !sh.sets.epochs.enabled() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "this chain has no epochs: its genesis validators sign every block",
        ));
    }
    let current = sh.sets.current.borrow().epoch;
    if p.epoch > current {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!(
                "epoch {} has not begun (this node is in epoch {current})",
                p.epoch
            ),
        ));
    }
    let list = sh.handovers_to(p.epoch)?;
    Ok(Json(json!({ "epoch": p.epoch, "handovers": list })))
}

#[derive(Deserialize)]
struct WaitParam {
    #[serde(default)]
    wait: bool,
}

fn decode_tx(headers: &HeaderMap, body: &[u8]) -> Result<SignedTx, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if ct.starts_with("application/octet-stream") {
        return Ok(SignedTx::decode(body)?);
    }
    if body.len() > 3 * limits::MAX_TX_BYTES {
        return Err(ApiError::new(ErrorCode::TooLarge, "request body too large"));
    }
    serde_json::from_slice::<SignedTx>(body)
        .map_err(|e| ApiError::new(ErrorCode::Malformed, format!("transaction JSON: {e}")))
}

async fn submit_tx(
    State(s): State<ApiState>,
    Query(q): Query<WaitParam>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::TooLarge, "request body too large")
        } else {
            ApiError::new(ErrorCode::Malformed, e.body_text())
        }
    })?;
    let tx = decode_tx(&headers, &body)?;
    let slot = if q.wait { Some(s.wait_slot()?) } else { None };
    let mut events = s.shared.events.subscribe();
    let hash = s.shared.submit(tx)?;
    if slot.is_none() {
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "hash": hash, "status": "pending" })),
        )
            .into_response());
    }
    let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
    loop {
        if let Some(v) = committed_status(&s, &hash)? {
            return Ok((StatusCode::OK, Json(v)).into_response());
        }
        if let Some(v) = refused_status(&s, &hash, &mut events, deadline).await? {
            return Ok((StatusCode::OK, Json(v)).into_response());
        }
    }
}

/// Wait for the next executed block; if it included `hash` without taking effect (a bad nonce,
/// the gate), that receipt is the answer. `Ok(None)`: look again.
async fn refused_status(
    s: &ApiState,
    hash: &Hash,
    events: &mut broadcast::Receiver<Arc<ExecutedBlock>>,
    deadline: tokio::time::Instant,
) -> Result<Option<Value>, ApiError> {
    match tokio::time::timeout_at(deadline, events.recv()).await {
        Err(_) => Err(ApiError::new(
            ErrorCode::Timeout,
            format!("transaction {hash} not executed within {WAIT_TIMEOUT:?}; it may still be"),
        )),
        Ok(Err(broadcast::error::RecvError::Closed)) => {
            Err(ApiError::new(ErrorCode::NotReady, "node is shutting down"))
        }
        Ok(Err(broadcast::error::RecvError::Lagged(_))) => Ok(None),
        Ok(Ok(b)) => Ok(b
            .receipts
            .iter()
            .find(|r| r.tx_hash == *hash && !r.nonce_used && !s.shared.mempool.contains(hash))
            .map(|r| {
                json!({
                    "hash": hash,
                    "status": "committed",
                    "height": r.height,
                    "index": r.index,
                    "receipt": r,
                })
            })),
    }
}

/// `POST /v1/txs/batch`: many transactions (borsh `Vec<SignedTx>` with
/// `application/octet-stream`, or a JSON array), admitted in order with signatures checked on
/// all cores. Answers one result per transaction.
async fn submit_batch(
    State(s): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::TooLarge,
                format!("batch larger than {MAX_BATCH_BYTES} bytes"),
            )
        } else {
            ApiError::new(ErrorCode::Malformed, e.body_text())
        }
    })?;
    let binary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/octet-stream"));
    let txs: Vec<SignedTx> = if binary {
        borsh::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::Malformed, format!("batch: {e}")))?
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::Malformed, format!("batch JSON: {e}")))?
    };
    if txs.len() > MAX_BATCH_TXS {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "batch of {} transactions; the limit is {MAX_BATCH_TXS}",
                txs.len()
            ),
        ));
    }
    if let Some(tx) = txs
        .iter()
        .find(|tx| borsh::object_length(tx).unwrap_or(usize::MAX) > limits::MAX_TX_BYTES)
    {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "transaction {} exceeds {} bytes",
                tx.hash(),
                limits::MAX_TX_BYTES
            ),
        ));
    }
    let shared = s.shared.clone();
    let results = tokio::task::spawn_blocking(move || shared.submit_batch(txs))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("batch task: {e}")))??;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(hash) => json!({ "hash": hash }),
            Err(e) => json!({ "error": { "code": e.code, "message": e.message } }),
        })
        .collect();
    Ok(Json(json!({ "accepted": accepted, "results": results })))
}

fn committed_status(s: &ApiState, hash: &Hash) -> Result<Option<Value>, UrbisError> {
    let Some((height, index)) = s.shared.chain.tx_location(hash)? else {
        return Ok(None);
    };
    let receipt = s.shared.chain.receipt(hash)?;
    Ok(Some(json!({
        "hash": hash,
        "status": "committed",
        "height": height,
        "index": index,
        "receipt": receipt,
    })))
}

fn parse_hash(s: &str) -> Result<Hash, ApiError> {
    s.parse()
        .map_err(|_| ApiError::new(ErrorCode::InvalidArgument, "expected a 32-byte hex hash"))
}

#[derive(Deserialize)]
struct TxParams {
    #[serde(default)]
    prove: bool,
}

/// `GET /v1/txs/{hash}[?prove=true]`: pending, or committed with its receipt; with `prove`, a
/// committed transaction's answer carries a receipt bundle (waiting for the block that
/// certifies it).
async fn tx_status(
    State(s): State<ApiState>,
    Path(hash): Path<String>,
    Query(q): Query<TxParams>,
) -> ApiResult<Json<Value>> {
    let hash = parse_hash(&hash)?;
    if let Some(mut v) = committed_status(&s, &hash)? {
        if q.prove {
            let _slot = s.wait_slot()?;
            let bundle = s
                .shared
                .prove_receipt(&hash, tokio::time::sleep(WAIT_TIMEOUT))
                .await?;
            v["proof"] = serde_json::to_value(bundle)
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        }
        return Ok(Json(v));
    }
    if s.shared.mempool.contains(&hash) {
        return Ok(Json(json!({ "hash": hash, "status": "pending" })));
    }
    Err(ApiError::new(
        ErrorCode::NotFound,
        format!("transaction {hash} is neither pending nor committed"),
    ))
}

#[derive(Deserialize)]
struct PageParam {
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/blocks/{id}`: header, hash, certificate, end-of-block events, and one page of
/// transactions with their receipts (`?limit=`, default 100, at most 1000; `next_cursor` gives
/// the next page, absent on the last).
async fn block(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(page): Query<PageParam>,
) -> ApiResult<Json<Value>> {
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let from = match page.cursor.as_deref() {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| ApiError::new(ErrorCode::InvalidArgument, "invalid cursor"))?,
    };
    let _render = s.renders.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            ErrorCode::Overloaded,
            "too many blocks are being rendered; retry shortly",
        )
    })?;
    let shared = s.shared.clone();
    let value = tokio::task::spawn_blocking(move || render_block(&shared, &id, from, limit))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("block task: {e}")))??;
    Ok(Json(value))
}

fn render_block(
    shared: &Shared<Ctx>,
    id: &str,
    from: usize,
    limit: usize,
) -> Result<Value, ApiError> {
    let chain = &shared.chain;
    let height = if id == "latest" {
        shared.executed_height()
    } else if let Ok(h) = id.parse::<u64>() {
        h
    } else {
        let hash = parse_hash(id)?;
        chain
            .height_of(&hash)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no block {hash}")))?
    };
    let block = chain.block(height)?.ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, format!("no block at height {height}"))
    })?;
    let receipts = chain.receipts(height)?.unwrap_or_default();
    let total = block.txs.len();
    if from > total {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!("cursor {from} is past the block's {total} transactions"),
        ));
    }
    let to = (from + limit).min(total);
    let next = (to < total).then(|| to.to_string());
    Ok(json!({
        "hash": block.digest(),
        "state_root_after": chain.state_root(height)?,
        "header": block.header,
        "tx_count": total,
        "txs": &block.txs[from..to],
        "receipts": receipts.get(from..to.min(receipts.len())).unwrap_or(&[]),
        "next_cursor": next,
        "block_events": chain.block_events(height)?,
        "finalization": chain.finalization(height)?.map(hex::encode),
    }))
}

async fn nonce(State(s): State<ApiState>, Path(address): Path<String>) -> ApiResult<Json<Value>> {
    let addr: urbis_core::Address = address.parse().map_err(|e: urbis_core::keys::KeyError| {
        ApiError::new(ErrorCode::InvalidArgument, e.to_string())
    })?;
    let view = s.shared.chain.state_view()?;
    let committed = urbis_runtime::read_nonce(&view, &addr)?;
    Ok(Json(json!({
        "address": addr,
        "nonce": committed,
        "next_nonce": s.shared.mempool.next_nonce(&addr, committed),
    })))
}

#[derive(Deserialize)]
struct QueryParams {
    #[serde(default)]
    prove: bool,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn query(
    State(s): State<ApiState>,
    Path((module, path)): Path<(String, String)>,
    Query(q): Query<QueryParams>,
) -> ApiResult<Json<Value>> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() > 8 || path.len() > 512 {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "query path too long",
        ));
    }
    let sh = &s.shared;
    if sh.runtime.list_prefix(&module, &parts)?.is_some() {
        if q.prove {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "a list is not proven as a whole: query each entry with prove=true",
            ));
        }
        let view = sh.chain.state_view()?;
        let height = sh.chain.executed_height()?.unwrap_or(0);
        let page = sh.runtime.query_list(
            &view,
            &module,
            &parts,
            q.limit.unwrap_or(DEFAULT_PAGE),
            q.cursor.as_deref(),
        )?;
        return Ok(Json(json!({
            "module": module,
            "path": parts,
            "items": page.items,
            "next_cursor": page.next_cursor,
            "height": height,
        })));
    }
    if q.limit.is_some() || q.cursor.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!(
                "{module}/{} answers one key; limit and cursor are for lists",
                parts.join("/")
            ),
        ));
    }
    if !q.prove {
        let view = sh.chain.state_view()?;
        let height = sh.chain.executed_height()?.unwrap_or(0);
        let answer = sh.runtime.query(&view, &module, &parts)?;
        if answer.value.is_null() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("nothing at {}", String::from_utf8_lossy(&answer.key)),
            ));
        }
        return Ok(Json(json!({
            "module": module,
            "path": parts,
            "key": String::from_utf8_lossy(&answer.key),
            "value": answer.value,
            "height": height,
            "proof": Value::Null,
        })));
    }
    // Unknown modules and malformed paths fail here, before taking a slot.
    sh.runtime.query_key(&module, &parts)?;
    let _slot = s.wait_slot()?;
    let (answer, bundle) = sh
        .prove_current(&module, &parts, tokio::time::sleep(WAIT_TIMEOUT))
        .await?;
    Ok(Json(json!({
        "module": module,
        "path": parts,
        "key": String::from_utf8_lossy(&answer.key),
        "value": answer.value,
        "height": bundle.state_height,
        "proof": bundle,
    })))
}

async fn evidence(State(s): State<ApiState>) -> Json<Value> {
    Json(json!({ "evidence": s.shared.evidence.list() }))
}

/// The JSON of one `block` event, serialized straight to text (no intermediate value tree:
/// this runs once per block over every receipt).
fn block_event(b: &ExecutedBlock) -> String {
    #[derive(serde::Serialize)]
    struct BlockEvent<'a> {
        height: u64,
        hash: &'a Hash,
        timestamp_ms: u64,
        state_root: &'a Hash,
        receipts: &'a [urbis_core::Receipt],
        block_events: &'a [urbis_core::Event],
    }
    serde_json::to_string(&BlockEvent {
        height: b.height,
        hash: &b.hash,
        timestamp_ms: b.timestamp_ms,
        state_root: &b.state_root,
        receipts: &b.receipts,
        block_events: &b.block_events,
    })
    .unwrap_or_else(|e| json!({ "height": b.height, "error": e.to_string() }).to_string())
}

/// Event filters shared by `/v1/events/search` and `/v1/events`.
#[derive(Deserialize, Default)]
struct EventFilters {
    module: Option<String>,
    kind: Option<String>,
    account: Option<String>,
    object: Option<String>,
    from_height: Option<u64>,
    to_height: Option<u64>,
    limit: Option<usize>,
    cursor: Option<String>,
}

impl EventFilters {
    fn any(&self) -> bool {
        self.module.is_some()
            || self.kind.is_some()
            || self.account.is_some()
            || self.object.is_some()
    }

    /// Check the filters and make a search of them.
    fn search(self, s: &ApiState) -> Result<Search, ApiError> {
        if let Some(m) = &self.module
            && m != urbis_runtime::SYSTEM_EVENTS
            && !s.shared.runtime.has_module(m)
        {
            return Err(ApiError::new(
                ErrorCode::UnknownModule,
                format!(
                    "no module named {:?}",
                    m.chars().take(32).collect::<String>()
                ),
            ));
        }
        if let Some(a) = &self.account {
            a.parse::<urbis_core::Address>()
                .map_err(|e| ApiError::new(ErrorCode::InvalidArgument, format!("account: {e}")))?;
        }
        if self
            .object
            .as_ref()
            .is_some_and(|o| o.is_empty() || o.len() > urbis_state::events::MAX_INDEXED_VALUE)
        {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "object must be 1 to 128 bytes",
            ));
        }
        if self.kind.is_some() && self.module.is_none() {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "kind needs module",
            ));
        }
        Ok(Search {
            module: self.module,
            kind: self.kind,
            account: self.account,
            object: self.object,
            from_height: self.from_height,
            to_height: self.to_height,
            limit: self.limit.unwrap_or(DEFAULT_PAGE),
            cursor: self.cursor,
        })
    }
}

/// `GET /v1/events/search`: indexed events by module, kind, account, object and height range,
/// a page at a time (`indexed_height` says how far the index has come).
async fn search_events(
    State(s): State<ApiState>,
    Query(f): Query<EventFilters>,
) -> ApiResult<Json<Value>> {
    let q = f.search(&s)?;
    let index = s.events.clone();
    let page = tokio::task::spawn_blocking(move || index.search(&q))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("search task: {e}")))??;
    Ok(Json(json!(page)))
}

/// Decrements the subscriber count when an event stream ends.
struct Subscriber(Arc<AtomicUsize>);

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `GET /v1/events`: one `block` event per executed block (its receipts and end-of-block
/// events); `lagged` when this subscriber fell more than 64 blocks behind. With filters
/// (`module`, `kind`, `account`, `object`): one `event` message per matching event instead.
async fn events(
    State(s): State<ApiState>,
    Query(f): Query<EventFilters>,
) -> Result<Response, ApiError> {
    let filtered = f.any();
    let search = f.search(&s)?;
    let count = s.subscribers.fetch_add(1, Ordering::Relaxed) + 1;
    let guard = Subscriber(s.subscribers.clone());
    if count > s.limits.max_sse {
        return Err(ApiError::new(
            ErrorCode::Overloaded,
            format!(
                "{} event streams are open, the most this node serves; retry later",
                s.limits.max_sse
            ),
        ));
    }
    let lagged = |n: u64| {
        SseEvent::default()
            .event("lagged")
            .data(json!({ "skipped": n }).to_string())
    };
    if !filtered {
        let rx = s.rendered.subscribe();
        let stream = futures::stream::unfold((rx, guard), move |(mut rx, guard)| async move {
            let ev = match rx.recv().await {
                Ok(b) => SseEvent::default()
                    .event("block")
                    .id(b.height.to_string())
                    .data(&b.json),
                Err(broadcast::error::RecvError::Lagged(n)) => lagged(n),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((vec![Ok(ev)], (rx, guard)))
        })
        .flat_map(futures::stream::iter);
        return Ok(sse(stream.boxed()));
    }
    let rx = s.shared.events.subscribe();
    let stream = futures::stream::unfold(
        (rx, guard, search),
        move |(mut rx, guard, search)| async move {
            let out = match rx.recv().await {
                Ok(b) => matching(&b, &search)
                    .map(|e| {
                        Ok(SseEvent::default()
                            .event("event")
                            .id(e.height.to_string())
                            .data(serde_json::to_string(&e).unwrap_or_default()))
                    })
                    .collect(),
                Err(broadcast::error::RecvError::Lagged(n)) => vec![Ok(lagged(n))],
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((out, (rx, guard, search)))
        },
    )
    .flat_map(futures::stream::iter);
    Ok(sse(stream.boxed()))
}

fn sse(stream: futures::stream::BoxStream<'static, Result<SseEvent, Infallible>>) -> Response {
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The events of an executed block that a filter selects.
fn matching<'b>(
    b: &'b ExecutedBlock,
    search: &'b Search,
) -> impl Iterator<Item = IndexedEvent> + 'b {
    let tx_events = b.receipts.iter().flat_map(move |r| {
        r.events.iter().map(move |e| IndexedEvent {
            height: b.height,
            tx_hash: Some(r.tx_hash),
            tx_index: Some(r.index),
            event: e.clone(),
        })
    });
    let end_events = b.block_events.iter().map(move |e| IndexedEvent {
        height: b.height,
        tx_hash: None,
        tx_index: None,
        event: e.clone(),
    });
    tx_events
        .chain(end_events)
        .filter(move |e| search.matches(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shed_and_timed_out_requests_have_stable_codes() {
        let timeout = overload_error(Box::new(tower::timeout::error::Elapsed::new())).await;
        assert_eq!(timeout.0.code, ErrorCode::Timeout);
        let shed = overload_error(Box::new(tower::load_shed::error::Overloaded::new())).await;
        assert_eq!(shed.0.code, ErrorCode::Overloaded);
        assert_eq!(ErrorCode::Overloaded.http_status(), 503);
        assert_eq!(ErrorCode::Timeout.http_status(), 504);
    }
}
