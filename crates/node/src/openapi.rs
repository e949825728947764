//! The OpenAPI 3.1 document served at `/v1/openapi.json`.
//!
//! Built from [`ROUTES`]; the end-to-end tests call every route of the document on a running
//! node, so the document cannot list an endpoint that does not exist.

use serde_json::{Map, Value, json};
use urbis_core::ErrorCode;

/// `(method, path, summary)` of every endpoint.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("get", "/healthz", "Liveness: the process is up."),
    (
        "get",
        "/readyz",
        "Readiness: the node has executed a recent block (not catching up).",
    ),
    ("get", "/metrics", "Prometheus metrics."),
    ("get", "/v1/openapi.json", "This document."),
    (
        "get",
        "/v1/status",
        "Chain id, height, state root, validators, mempool.",
    ),
    ("get", "/v1/genesis", "The genesis document of this chain."),
    (
        "post",
        "/v1/txs",
        "Submit a signed transaction (JSON, or borsh with application/octet-stream). ?wait=true waits for execution.",
    ),
    (
        "post",
        "/v1/txs/batch",
        "Submit many signed transactions (borsh Vec<SignedTx> with application/octet-stream, or a JSON array); one result per transaction.",
    ),
    (
        "get",
        "/v1/txs/{hash}",
        "Status and receipt of a transaction; ?prove=true adds a receipt bundle (Merkle path to the block's receipts root, the receipts accumulator up to a certified header, the finalization certificate).",
    ),
    (
        "get",
        "/v1/blocks/{id}",
        "A block by height, hash or `latest`: header, state root after it, finalization certificate, end-of-block events, and one page of transactions with their receipts (?limit=, at most 1000, default 100; ?cursor= from next_cursor).",
    ),
    (
        "get",
        "/v1/nonce/{address}",
        "Committed and next nonce of an account.",
    ),
    (
        "get",
        "/v1/query/{module}/{path}",
        "Module query. A single-key query answers {key, value, height} (?prove=true adds a proof bundle checkable offline; the answer is a function of the proven key's bytes); a list query answers {items, next_cursor, height}, a page at a time.",
    ),
    (
        "get",
        "/v1/events",
        "Server-sent events: one `block` event per executed block with its receipts and end-of-block events; `lagged` when a reader falls 64 blocks behind.",
    ),
    (
        "get",
        "/v1/events/search",
        "Indexed events, in chain order, a page at a time: filter by module, kind (with module), account (an attribute equal to this address), object (an attribute equal to this id), height range; indexed_height says how far the index has come.",
    ),
    (
        "get",
        "/v1/evidence",
        "Misbehaviour of validators this node observed (persisted).",
    ),
];

/// Query parameters of an endpoint: `(name, type, description)`.
fn query_params(method: &str, path: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match (method, path) {
        ("post", "/v1/txs") => &[("wait", "boolean", "Wait (up to 30 s) for execution.")],
        ("get", "/v1/txs/{hash}") => &[(
            "prove",
            "boolean",
            "Attach a receipt bundle (waits for the block that certifies it).",
        )],
        ("get", "/v1/events/search") => &[
            (
                "module",
                "string",
                "Events of this module (`runtime` for the runtime's own).",
            ),
            ("kind", "string", "Events of this kind (needs module)."),
            (
                "account",
                "string",
                "Events with an attribute equal to this address.",
            ),
            (
                "object",
                "string",
                "Events with an attribute equal to this value (an id).",
            ),
            ("from_height", "integer", "From this height."),
            ("to_height", "integer", "Up to this height."),
            (
                "limit",
                "integer",
                "Events per page, 1 to 1000 (default 100).",
            ),
            ("cursor", "string", "The previous page's next_cursor."),
        ],
        ("get", "/v1/events") => &[
            (
                "module",
                "string",
                "Stream only matching events (one `event` message each).",
            ),
            ("kind", "string", "Needs module."),
            ("account", "string", "An attribute equal to this address."),
            ("object", "string", "An attribute equal to this value."),
        ],
        ("get", "/v1/blocks/{id}") => &[
            (
                "limit",
                "integer",
                "Transactions per page, 1 to 1000 (default 100).",
            ),
            ("cursor", "string", "The previous page's next_cursor."),
        ],
        ("get", "/v1/query/{module}/{path}") => &[
            (
                "prove",
                "boolean",
                "Attach a proof bundle (waits for the next block that certifies the state); single-key queries only.",
            ),
            (
                "limit",
                "integer",
                "List queries: entries per page, 1 to 1000 (default 100).",
            ),
            (
                "cursor",
                "string",
                "List queries: the previous page's next_cursor.",
            ),
        ],
        _ => &[],
    }
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, summary) in ROUTES {
        let mut params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(query_params(method, path).iter().map(|(name, ty, about)| {
            json!({"name": name, "in": "query", "required": false, "description": about, "schema": {"type": ty}})
        }));
        let entry = paths
            .entry(path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(
                method.to_string(),
                json!({
                    "summary": summary,
                    "parameters": params,
                    "responses": {
                        "200": {"description": "Success"},
                        "default": {
                            "description": "Error",
                            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                        }
                    }
                }),
            );
        }
    }
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Urbis node API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": {"Problem": {
            "type": "object",
            "required": ["type", "title", "status", "code", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "code": {"type": "string", "enum": codes},
                "detail": {"type": "string"}
            }
        }}}
    })
}
