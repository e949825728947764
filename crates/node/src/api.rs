//! The HTTP API (DESIGN.md §7): REST under `/v1`, problem+json errors, SSE events, health,
//! readiness, Prometheus metrics and the OpenAPI document.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use urbis_consensus::shared::Counters;
use urbis_consensus::{ExecutedBlock, ProofBundle, Shared};
use urbis_core::{ErrorCode, Hash, SignedTx, UrbisError, limits};

use crate::node::Ctx;
use crate::problem::{ApiError, ApiResult};

/// Largest batch submission: transactions and bytes.
pub const MAX_BATCH_TXS: usize = 10_000;
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// How long `?wait=true` and proof requests wait for the chain.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct ApiState {
    pub shared: Arc<Shared<Ctx>>,
    /// Prometheus text of the consensus runtime's own metrics.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
    pub block_time: Duration,
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/status", get(status))
        .route("/v1/genesis", get(genesis))
        .route("/v1/txs", post(submit_tx))
        .route(
            "/v1/txs/batch",
            post(submit_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)),
        )
        .route("/v1/txs/{hash}", get(tx_status))
        .route("/v1/blocks/{id}", get(block))
        .route("/v1/nonce/{address}", get(nonce))
        .route("/v1/query/{module}/{*path}", get(query))
        .route("/v1/events", get(events))
        .route("/v1/evidence", get(evidence))
        .fallback(not_found)
        // Bodies larger than this are cut off by axum; `submit_tx` reports them as too_large.
        .layer(DefaultBodyLimit::max(4 * limits::MAX_TX_BYTES))
        .with_state(state)
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
    if !s.shared.caught_up() {
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
    out.push_str(&(s.metrics)());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
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
        "genesis_hash": sh.genesis_block.digest(),
        "validators": sh.validators,
        "mempool": sh.mempool.stats(),
        "ready": is_ready(&s),
        "lag": sh.lag(),
        "version": env!("CARGO_PKG_VERSION"),
    })))
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
    let mut events = s.shared.events.subscribe();
    let hash = s.shared.submit(tx)?;
    if !q.wait {
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
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => {
                return Err(ApiError::new(
                    ErrorCode::Timeout,
                    format!(
                        "transaction {hash} not executed within {WAIT_TIMEOUT:?}; it may still be"
                    ),
                ));
            }
            Ok(Err(broadcast::error::RecvError::Closed)) => {
                return Err(ApiError::new(ErrorCode::NotReady, "node is shutting down"));
            }
            Ok(_) => {}
        }
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

async fn tx_status(State(s): State<ApiState>, Path(hash): Path<String>) -> ApiResult<Json<Value>> {
    let hash = parse_hash(&hash)?;
    if let Some(v) = committed_status(&s, &hash)? {
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

async fn block(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let chain = &s.shared.chain;
    let height = if id == "latest" {
        s.shared.executed_height()
    } else if let Ok(h) = id.parse::<u64>() {
        h
    } else {
        let hash = parse_hash(&id)?;
        chain
            .height_of(&hash)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no block {hash}")))?
    };
    let block = chain.block(height)?.ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, format!("no block at height {height}"))
    })?;
    let receipts = chain.receipts(height)?.unwrap_or_default();
    let finalization = chain.finalization(height)?.map(hex::encode);
    let state_root_after = chain.state_root(height)?;
    Ok(Json(json!({
        "hash": block.digest(),
        "state_root_after": state_root_after,
        "header": block.header,
        "txs": block.txs,
        "receipts": receipts,
        "finalization": finalization,
    })))
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
struct ProveParam {
    #[serde(default)]
    prove: bool,
}

async fn query(
    State(s): State<ApiState>,
    Path((module, path)): Path<(String, String)>,
    Query(q): Query<ProveParam>,
) -> ApiResult<Json<Value>> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() > 8 || path.len() > 512 {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "query path too long",
        ));
    }
    let sh = &s.shared;
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
    let (answer, state_proof, height) = prove_query(sh, &module, &parts).await?;
    let bundle = certify(sh, state_proof, height).await?;
    Ok(Json(json!({
        "module": module,
        "path": parts,
        "key": String::from_utf8_lossy(&answer.key),
        "value": answer.value,
        "height": height,
        "proof": bundle,
    })))
}

/// Answer a query and prove its key, both at the same height.
async fn prove_query(
    sh: &Shared<Ctx>,
    module: &str,
    parts: &[&str],
) -> Result<(urbis_runtime::QueryAnswer, urbis_state::StateProof, u64), ApiError> {
    // The executor writes both stores under this lock, so they agree while we hold it (except
    // right after a crash between the two writes, until the next block is executed).
    let auth = sh.auth.lock().await;
    let height = auth.height().unwrap_or(0);
    if sh.chain.executed_height()?.unwrap_or(0) != height {
        return Err(ApiError::new(
            ErrorCode::NotReady,
            "the state stores are being reconciled after a restart; retry",
        ));
    }
    let view = sh.chain.state_view()?;
    let answer = sh.runtime.query(&view, module, parts)?;
    let proof = auth.prove(&answer.key).await?;
    Ok((answer, proof, height))
}

/// Attach the headers and commit certificate that make `proof` checkable offline.
async fn certify(
    sh: &Shared<Ctx>,
    proof: urbis_state::StateProof,
    state_height: u64,
) -> Result<ProofBundle, ApiError> {
    let mut events = sh.events.subscribe();
    let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
    loop {
        if let Some(c) = sh.chain.certified_by(state_height)?
            && let Some((f, finalization)) = sh.chain.next_finalized(c)?
        {
            let mut headers = Vec::new();
            for h in c..=f {
                let b = sh.chain.block(h)?.ok_or_else(|| {
                    ApiError::new(ErrorCode::Internal, format!("block {h} missing"))
                })?;
                headers.push(b.header);
            }
            return Ok(ProofBundle {
                version: urbis_consensus::bundle::BUNDLE_VERSION,
                chain_id: sh.chain_id.clone(),
                state_height,
                state: proof,
                headers,
                finalization,
            });
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => {
                return Err(ApiError::new(
                    ErrorCode::Timeout,
                    "no finalized block certifies this state yet; retry",
                ));
            }
            Ok(Err(broadcast::error::RecvError::Closed)) => {
                return Err(ApiError::new(ErrorCode::NotReady, "node is shutting down"));
            }
            Ok(_) => {}
        }
    }
}

async fn evidence(State(s): State<ApiState>) -> Json<Value> {
    Json(json!({ "evidence": s.shared.evidence.list() }))
}

fn block_event(b: &ExecutedBlock) -> Value {
    json!({
        "height": b.height,
        "hash": b.hash,
        "timestamp_ms": b.timestamp_ms,
        "state_root": b.state_root,
        "receipts": b.receipts,
    })
}

async fn events(
    State(s): State<ApiState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = s.shared.events.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let ev = match rx.recv().await {
            Ok(b) => SseEvent::default()
                .event("block")
                .id(b.height.to_string())
                .data(block_event(&b).to_string()),
            Err(broadcast::error::RecvError::Lagged(n)) => SseEvent::default()
                .event("lagged")
                .data(json!({ "skipped": n }).to_string()),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(ev), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
