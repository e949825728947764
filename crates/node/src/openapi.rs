//! The OpenAPI 3.1 document served at `/v1/openapi.json`.
//!
//! Built from [`ROUTES`], the same table the tests compare with the router, so the document
//! cannot silently drift from the endpoints that exist.

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
        "get",
        "/v1/txs/{hash}",
        "Status and receipt of a transaction.",
    ),
    (
        "get",
        "/v1/blocks/{id}",
        "A block by height, hash or `latest`, with receipts, the state root after it, and its finalization certificate.",
    ),
    (
        "get",
        "/v1/nonce/{address}",
        "Committed and next nonce of an account.",
    ),
    (
        "get",
        "/v1/query/{module}/{path}",
        "Module query; ?prove=true adds a proof bundle checkable offline.",
    ),
    (
        "get",
        "/v1/events",
        "Server-sent events: one `block` event per executed block with its receipts.",
    ),
];

pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, summary) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
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
