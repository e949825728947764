//! The OpenAPI 3.2 document served at `/v1/openapi.json`.
//!
//! Every answer is documented by status: `200` (and `202` for an unwaited submission), and each
//! error status the node can give, with the RFC 9457 problem body (the DID resolver's errors keep
//! the resolution-result shape, as W3C DID Resolution asks). The event stream documents each
//! event with `itemSchema` (OpenAPI 3.2 sequential media types).
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
        "Chain id, height, state root, the current epoch and its validators, mempool.",
    ),
    (
        "get",
        "/v1/validators",
        "Epochs and every validator set known to be final: the genesis set and each council change, with the epoch it starts at.",
    ),
    (
        "get",
        "/v1/validators/handovers",
        "The hand-overs of epochs 1 to epoch-1: what proves the validator set of `epoch` from the genesis set (docs/proofs.md).",
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
        "/v1/sync/blocks",
        "Finalized blocks for full nodes: from height `from`, up to `limit` consecutive blocks (at most 256 and about 8 MiB) with the finalization certificate stored with each, as application/octet-stream records: u32 big-endian length, the block (borsh, as hashed), u32 big-endian length (0: none stored), the certificate (docs/full-nodes.md). Empty when block `from` is not stored yet; with wait_ms, a request for the next block waits for it that long. Header urbis-executed-height: this node's height.",
    ),
    (
        "get",
        "/v1/sync/state",
        "The newest state this node offers to nodes that sync from it: {target: {height, size, lower, ops_root, root, witness}, certified_by}. Asking makes the node offer one at its next block that certifies its state (not_ready until then). See docs/full-nodes.md.",
    ),
    (
        "post",
        "/v1/sync/state/ops",
        "State sync: a Commonware QMDB sync request (its encoding, application/octet-stream) for one of the offered targets' sizes; answers the encoded response (operations with their proof against the operation log's root at that size, at most 4096 operations).",
    ),
    (
        "get",
        "/v1/sync/state/values",
        "State sync: the logical state at an offered height, in key order, as application/octet-stream records (u32 big-endian key length, key, u32 big-endian value length, value); ?after= the previous page's last key in hex; ?limit= 1 to 10000 (default 1000).",
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
    (
        "get",
        "/v1/modules",
        "Every module: its calls (names and the JSON Schema of their JSON form), queries, events and exported operations; `system` is the runtime's own.",
    ),
    (
        "get",
        "/v1/modules/{name}",
        "One module's description (as in /v1/modules).",
    ),
    (
        "get",
        "/1.0/identifiers/{did}",
        "DID resolution (DIF Universal Resolver HTTP interface, W3C DID Resolution): a resolution result {@context, didDocument, didResolutionMetadata, didDocumentMetadata}; with Accept: application/did+ld+json the bare DID document. Errors keep the result shape (didResolutionMetadata.error: invalidDid 400, notFound 404, methodNotSupported 501, representationNotSupported 406, invalidOptions 400); a deactivated DID answers 410.",
    ),
    (
        "put",
        "/v1/blobs",
        "Store an encrypted blob (at most 16 MiB): the body, signed by an account that holds a role (headers x-urbis-key, x-urbis-time in Unix ms, x-urbis-signature: hex of its signature of framed(\"urbis/blob-put/v1\", chain_id || 0x00 || time as u64 big-endian || SHA-256(body)); optional x-urbis-sha256). Answers {hash, size}; hash is the SHA-256 of the bytes.",
    ),
    (
        "get",
        "/v1/blobs/{hash}",
        "A blob's bytes by their SHA-256 (application/octet-stream). On a consortium a node that lacks the blob asks the other validators for it first (up to 5 s).",
    ),
    (
        "post",
        "/v1/records/{id}/wraps",
        "Store a wrapped data key of a record version in the node's key vault: a JSON body {record, version, slot, grant?, salt?, wrap} signed like PUT /v1/blobs but under the tag \"urbis/vault/v1\". slot custodian, subject or emergency: by the record's custodian; slot grant: by the grantor of a live consent grant whose scope holds record:<id> (salt: the scope's salt). Each slot is written once.",
    ),
    (
        "post",
        "/v1/records/{id}/key",
        "Release a wrapped data key (no log, no key): a signed JSON body {record, version?, as, grant?, receipt?, salt?} (tag \"urbis/vault/v1\"). as custodian: the custodian; subject: the account whose pseudonym the head names; grant: the grantee of a live grant whose committed access receipt `receipt` (at most 10 minutes old in block time) is for record:<id>; emergency: a hospital with a committed break-glass entry for the record (as recent). Answers {record, version, slot, wrap}.",
    ),
    (
        "get",
        "/v1/status-lists/{id}",
        "A credential status list in IETF Token Status List form ({bits, lst}: zlib-compressed, base64url), with its issuer and size; ?idx= adds that entry's status, and prove=true the proof bundle of the 1 KiB chunk holding it.",
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
                "Events with an attribute equal to this object id: a 64-hex id, or the value of an attribute named id, hold, program, redemption, job, election or *_id.",
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
        ("get", "/1.0/identifiers/{did}") => &[
            (
                "versionId",
                "string",
                "Resolve this version (1 is the inception).",
            ),
            (
                "versionTime",
                "string",
                "Resolve the version in force at this RFC 3339 date-time.",
            ),
            (
                "prove",
                "boolean",
                "Add `proof`: the proof bundle of identity/version/<id>/<n>, the record the document is rendered from.",
            ),
        ],
        ("get", "/v1/status-lists/{id}") => &[
            ("idx", "integer", "Also answer this entry's status."),
            (
                "prove",
                "boolean",
                "With idx: the proof bundle of the chunk holding the entry.",
            ),
        ],
        ("get", "/v1/blocks/{id}") => &[
            (
                "limit",
                "integer",
                "Transactions per page, 1 to 1000 (default 100).",
            ),
            ("cursor", "string", "The previous page's next_cursor."),
        ],
        ("get", "/v1/sync/blocks") => &[
            ("from", "integer", "First height wanted (1 or more)."),
            ("limit", "integer", "Most blocks, 1 to 256 (default 64)."),
            (
                "wait_ms",
                "integer",
                "When `from` is the next block to be stored: wait for it up to this many ms (0 to 10000).",
            ),
        ],
        ("get", "/v1/validators/handovers") => &[(
            "epoch",
            "integer",
            "The epoch whose set the hand-overs prove (at most the node's current epoch).",
        )],
        ("get", "/v1/sync/state/values") => &[
            ("height", "integer", "The offered target's height."),
            ("after", "string", "Hex of the previous page's last key."),
            ("limit", "integer", "Entries, 1 to 10000 (default 1000)."),
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

/// Where a route's success answer is described: a JSON schema, or a media type and a schema.
fn response(method: &str, path: &str) -> (&'static str, Value) {
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    match (method, path) {
        ("get", "/healthz") => ("text/plain", json!({"type": "string", "const": "ok"})),
        ("get", "/readyz") => ("text/plain", json!({"type": "string", "const": "ready"})),
        ("get", "/metrics") => (
            "text/plain",
            json!({"type": "string", "description": "Prometheus text exposition format."}),
        ),
        ("get", "/v1/events") => (
            "text/event-stream",
            json!({"description": "`block` messages (data: a BlockEvent), or `event` messages (data: an IndexedEvent) when filtered; `lagged` ({skipped})."}),
        ),
        ("get", "/v1/openapi.json") => ("application/json", json!({"type": "object"})),
        ("get", "/v1/status") => ("application/json", r("Status")),
        ("get", "/v1/validators") => ("application/json", r("Validators")),
        ("get", "/v1/validators/handovers") => (
            "application/json",
            json!({"type": "object", "required": ["epoch", "handovers"], "properties": {
                "epoch": {"type": "integer", "minimum": 0},
                "handovers": {"type": "array", "items": {"type": "object"}},
            }}),
        ),
        ("get", "/v1/sync/state") => (
            "application/json",
            json!({"type": "object", "required": ["target", "certified_by"], "properties": {
                "certified_by": {"type": "integer", "minimum": 1},
                "target": {"type": "object", "required": ["height", "size", "lower", "ops_root", "root", "witness"], "properties": {
                    "height": {"type": "integer", "minimum": 0}, "size": {"type": "integer", "minimum": 0},
                    "lower": {"type": "integer", "minimum": 0}, "ops_root": r("Hash"), "root": r("Hash"),
                    "witness": {"type": "string", "pattern": "^([0-9a-f]{2})*$"}}}}}),
        ),
        ("get", "/v1/genesis") => ("application/json", r("Genesis")),
        ("post", "/v1/txs") | ("get", "/v1/txs/{hash}") => ("application/json", r("TxStatus")),
        ("post", "/v1/txs/batch") => ("application/json", r("BatchResult")),
        ("get", "/v1/blocks/{id}") => ("application/json", r("BlockPage")),
        ("get", "/v1/nonce/{address}") => ("application/json", r("Nonce")),
        ("get", "/v1/query/{module}/{path}") => (
            "application/json",
            json!({"oneOf": [r("QueryAnswer"), r("ListPage")]}),
        ),
        ("get", "/v1/events/search") => ("application/json", r("EventPage")),
        ("get", "/v1/evidence") => ("application/json", r("EvidenceList")),
        ("get", "/v1/modules") => ("application/json", r("ModuleList")),
        ("get", "/v1/modules/{name}") => ("application/json", r("Module")),
        ("get", "/1.0/identifiers/{did}") => (DID_RESOLUTION, r("DidResolutionResult")),
        ("get", "/v1/status-lists/{id}") => ("application/json", r("StatusListAnswer")),
        ("put", "/v1/blobs") => (
            "application/json",
            json!({"type": "object", "required": ["hash", "size"], "properties": {"hash": r("Hash"), "size": {"type": "integer", "minimum": 0}}}),
        ),
        ("post", "/v1/records/{id}/wraps") => (
            "application/json",
            json!({"type": "object", "required": ["record", "version", "slot"], "properties": {"record": r("Hash"), "version": {"type": "integer", "minimum": 1}, "slot": {"type": "string"}}}),
        ),
        ("post", "/v1/records/{id}/key") => (
            "application/json",
            json!({"type": "object", "required": ["record", "version", "slot", "wrap"], "properties": {"record": r("Hash"), "version": {"type": "integer", "minimum": 1}, "slot": {"type": "string"}, "wrap": {"type": "string", "pattern": "^[0-9a-f]{160}$"}}}),
        ),
        ("get", "/v1/blobs/{hash}")
        | ("get", "/v1/sync/blocks")
        | ("post", "/v1/sync/state/ops")
        | ("get", "/v1/sync/state/values") => (
            "application/octet-stream",
            json!({"type": "string", "contentMediaType": "application/octet-stream"}),
        ),
        _ => ("application/json", json!({})),
    }
}

/// The request body of a route, if it takes one.
fn request(method: &str, path: &str) -> Option<Value> {
    let octets =
        json!({"schema": {"type": "string", "contentMediaType": "application/octet-stream"}});
    match (method, path) {
        ("post", "/v1/txs") => Some(json!({
            "required": true,
            "description": "A signed transaction: JSON, or its borsh encoding (see README, transaction format).",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/SignedTx"}},
                "application/octet-stream": octets,
            }
        })),
        ("post", "/v1/sync/state/ops") => Some(json!({
            "required": true,
            "description": "A Commonware QMDB sync request, encoded (at most 256 bytes).",
            "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream", "maxLength": 256}}},
        })),
        ("put", "/v1/blobs") => Some(json!({
            "required": true,
            "description": "The blob's bytes (already encrypted by the uploader).",
            "content": {"application/octet-stream": octets},
        })),
        ("post", "/v1/records/{id}/wraps") => Some(json!({
            "required": true,
            "description": "A wrap to store (signed body).",
            "content": {"application/json": {"schema": {"type": "object", "required": ["record", "version", "slot", "wrap"], "properties": {
                "record": {"type": "string"}, "version": {"type": "integer", "minimum": 1},
                "slot": {"enum": ["custodian", "subject", "emergency", "grant"]},
                "grant": {"type": "string"}, "salt": {"type": "string"},
                "wrap": {"type": "string", "pattern": "^[0-9a-f]{160}$"}}}}},
        })),
        ("post", "/v1/records/{id}/key") => Some(json!({
            "required": true,
            "description": "A key release request (signed body).",
            "content": {"application/json": {"schema": {"type": "object", "required": ["record", "as"], "properties": {
                "record": {"type": "string"}, "version": {"type": "integer", "minimum": 1},
                "as": {"enum": ["custodian", "subject", "grant", "emergency"]},
                "grant": {"type": "string"}, "receipt": {"type": "integer", "minimum": 1}, "salt": {"type": "string"}}}}},
        })),
        ("post", "/v1/txs/batch") => Some(json!({
            "required": true,
            "description": "Signed transactions: a JSON array, or borsh Vec<SignedTx>.",
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/SignedTx"}}},
                "application/octet-stream": octets,
            }
        })),
        _ => None,
    }
}

/// Schemas of the answers the API builds itself (the rest come from the types, via schemars).
fn api_schemas(s: &mut Map<String, Value>) {
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let hex = json!({"type": "string", "pattern": "^([0-9a-fA-F]{2})*$"});
    let nullable = |v: Value| json!({"oneOf": [v, {"type": "null"}]});
    let uint = json!({"type": "integer", "minimum": 0});
    let obj = |required: &[&str], props: Value| json!({"type": "object", "required": required, "properties": props});
    s.insert("Status".into(), obj(
        &["chain_id", "height", "block_hash", "block_time_ms", "state_root", "state_height", "genesis_hash", "validators", "epoch", "mempool", "ready", "lag", "version"],
        json!({
            "chain_id": {"type": "string"},
            "height": uint,
            "block_hash": r("Hash"),
            "block_time_ms": uint,
            "state_root": r("Hash"),
            "state_height": uint,
            "genesis_hash": r("Hash"),
            "validators": {"type": "array", "items": r("PublicKey")},
            "epoch": uint,
            "mempool": obj(&["txs", "bytes", "senders"], json!({"txs": uint, "bytes": uint, "senders": uint})),
            "ready": {"type": "boolean"},
            "lag": uint,
            "version": {"type": "string"},
        }),
    ));
    let validator = obj(
        &["name", "public_key", "address"],
        json!({"name": {"type": "string"}, "public_key": r("PublicKey"), "address": {"type": "string"}}),
    );
    let set = obj(
        &["from_epoch", "from_height", "set_hash", "validators"],
        json!({
            "from_epoch": uint,
            "from_height": uint,
            "set_hash": r("Hash"),
            "validators": {"type": "array", "items": validator},
        }),
    );
    s.insert(
        "Validators".into(),
        obj(
            &[
                "epoch_length",
                "epoch",
                "final_until_epoch",
                "sets",
                "scheduled",
            ],
            json!({
                "epoch_length": nullable(json!({"type": "integer", "minimum": 2})),
                "epoch": uint,
                "final_until_epoch": nullable(uint.clone()),
                "sets": {"type": "array", "items": set.clone()},
                "scheduled": {"type": "array", "items": set},
            }),
        ),
    );
    s.insert(
        "BlockEvent".into(),
        obj(
            &[
                "height",
                "hash",
                "timestamp_ms",
                "state_root",
                "receipts",
                "block_events",
            ],
            json!({
                "height": uint,
                "hash": r("Hash"),
                "timestamp_ms": uint,
                "state_root": r("Hash"),
                "receipts": {"type": "array", "items": r("Receipt")},
                "block_events": {"type": "array", "items": r("Event")},
            }),
        ),
    );
    s.insert(
        "DidResolutionResult".into(),
        obj(
            &["didDocument", "didResolutionMetadata", "didDocumentMetadata"],
            json!({
                "@context": {"type": "string"},
                "didDocument": nullable(json!({"type": "object", "description": "A W3C DID Core document (docs/did-method.md)."})),
                "didResolutionMetadata": json!({"type": "object", "properties": {
                    "contentType": {"type": "string"},
                    "error": {"type": "string", "enum": ["invalidDid", "notFound", "methodNotSupported", "representationNotSupported", "invalidOptions"]},
                    "errorMessage": {"type": "string"},
                }}),
                "didDocumentMetadata": json!({"type": "object", "properties": {
                    "created": {"type": "string", "format": "date-time"},
                    "updated": {"type": "string", "format": "date-time"},
                    "versionId": {"type": "string"},
                    "nextVersionId": {"type": "string"},
                    "nextUpdate": {"type": "string", "format": "date-time"},
                    "deactivated": {"type": "boolean"},
                }}),
                "proof": r("ProofBundle"),
            }),
        ),
    );
    s.insert(
        "StatusListAnswer".into(),
        obj(
            &["id", "issuer", "bits", "size", "status_list", "height"],
            json!({
                "id": uint,
                "issuer": {"type": "string"},
                "bits": {"type": "integer", "enum": [1, 2]},
                "size": uint,
                "status_list": obj(&["bits", "lst"], json!({"bits": uint, "lst": {"type": "string"}})),
                "height": uint,
                "idx": uint,
                "status": uint,
                "chunk": uint,
                "chunk_bytes": {"type": "string"},
                "proof": r("ProofBundle"),
            }),
        ),
    );
    s.insert(
        "TxStatus".into(),
        json!({
            "type": "object",
            "required": ["hash", "status"],
            "properties": {
                "hash": r("Hash"),
                "status": {"type": "string", "enum": ["pending", "committed"]},
                "height": uint,
                "index": uint,
                "receipt": nullable(r("Receipt")),
                "proof": r("ReceiptBundle"),
            }
        }),
    );
    s.insert(
        "BatchResult".into(),
        obj(
            &["accepted", "results"],
            json!({
                "accepted": uint,
                "results": {"type": "array", "items": {"oneOf": [
                    obj(&["hash"], json!({"hash": r("Hash")})),
                    obj(&["error"], json!({"error": r("TxError")})),
                ]}},
            }),
        ),
    );
    s.insert(
        "BlockPage".into(),
        obj(
            &[
                "hash",
                "state_root_after",
                "header",
                "tx_count",
                "txs",
                "receipts",
                "next_cursor",
                "block_events",
                "finalization",
            ],
            json!({
                "hash": r("Hash"),
                "state_root_after": nullable(r("Hash")),
                "header": r("Header"),
                "tx_count": uint,
                "txs": {"type": "array", "items": r("SignedTx")},
                "receipts": {"type": "array", "items": r("Receipt")},
                "next_cursor": {"type": ["string", "null"]},
                "block_events": {"type": "array", "items": r("Event")},
                "finalization": nullable(hex.clone()),
            }),
        ),
    );
    s.insert(
        "Nonce".into(),
        obj(
            &["address", "nonce", "next_nonce"],
            json!({
                "address": r("Address"), "nonce": uint, "next_nonce": uint,
            }),
        ),
    );
    s.insert("QueryAnswer".into(), obj(&["module", "path", "key", "value", "height", "proof"], json!({
        "module": {"type": "string"},
        "path": {"type": "array", "items": {"type": "string"}},
        "key": {"type": "string", "description": "The state key the answer is a function of."},
        "value": {"description": "The module's rendering of the key's value (null: absent)."},
        "height": uint,
        "proof": nullable(r("ProofBundle")),
    })));
    s.insert(
        "ListPage".into(),
        obj(
            &["module", "path", "items", "next_cursor", "height"],
            json!({
                "module": {"type": "string"},
                "path": {"type": "array", "items": {"type": "string"}},
                "items": {"type": "array"},
                "next_cursor": {"type": ["string", "null"]},
                "height": uint,
            }),
        ),
    );
    s.insert(
        "IndexedEvent".into(),
        obj(
            &["height", "tx_hash", "tx_index", "event"],
            json!({
                "height": uint,
                "tx_hash": nullable(r("Hash")),
                "tx_index": {"type": ["integer", "null"], "minimum": 0},
                "event": r("Event"),
            }),
        ),
    );
    s.insert(
        "EventPage".into(),
        obj(
            &["events", "next_cursor", "indexed_height"],
            json!({
                "events": {"type": "array", "items": r("IndexedEvent")},
                "next_cursor": {"type": ["string", "null"]},
                "indexed_height": {"type": ["integer", "null"], "minimum": 0},
            }),
        ),
    );
    s.insert("EvidenceList".into(), obj(&["evidence"], json!({
        "evidence": {"type": "array", "items": obj(&["kind", "validator", "view"], json!({
            "kind": {"type": "string", "enum": ["conflicting_notarize", "conflicting_finalize", "nullify_finalize"]},
            "validator": nullable(r("PublicKey")),
            "view": uint,
        }))},
    })));
    s.insert(
        "StateProof".into(),
        obj(
            &["key", "value", "root", "proof"],
            json!({
                "key": hex.clone(),
                "value": nullable(hex.clone()),
                "root": r("Hash"),
                "proof": hex.clone(),
            }),
        ),
    );
    s.insert(
        "ProofBundle".into(),
        obj(
            &[
                "version",
                "chain_id",
                "state_height",
                "state",
                "headers",
                "finalization",
            ],
            json!({
                "version": uint,
                "chain_id": {"type": "string"},
                "state_height": uint,
                "state": r("StateProof"),
                "headers": {"type": "array", "items": r("Header")},
                "finalization": hex.clone(),
            }),
        ),
    );
    s.insert(
        "ReceiptBundle".into(),
        obj(
            &[
                "version",
                "chain_id",
                "receipt",
                "path",
                "acc_before",
                "later_roots",
                "headers",
                "finalization",
            ],
            json!({
                "version": uint,
                "chain_id": {"type": "string"},
                "receipt": r("Receipt"),
                "path": {"type": "array", "items": r("MerkleStep")},
                "acc_before": r("Hash"),
                "later_roots": {"type": "array", "items": r("Hash")},
                "headers": {"type": "array", "items": r("Header")},
                "finalization": hex,
            }),
        ),
    );
    s.insert("Module".into(), obj(&["name", "description", "calls", "call_schema", "queries", "events", "exported"], json!({
        "name": {"type": "string"},
        "description": {"type": "string"},
        "calls": {"type": "array", "items": {"type": "string"}},
        "call_schema": {"description": "JSON Schema (2020-12) of the JSON form of the module's calls, as encoded by clients before signing; null when the module takes no calls. Also under components/schemas/Call.<module>."},
        "queries": {"type": "array", "items": obj(&["path", "list", "description"], json!({
            "path": {"type": "string"}, "list": {"type": "boolean"}, "description": {"type": "string"},
        }))},
        "events": {"type": "array", "items": obj(&["kind", "attributes", "description"], json!({
            "kind": {"type": "string"},
            "attributes": {"type": "array", "items": {"type": "string"}},
            "description": {"type": "string"},
        }))},
        "exported": {"type": "array", "items": {"type": "string"}},
    })));
    s.insert(
        "ModuleList".into(),
        obj(
            &["modules"],
            json!({
                "modules": {"type": "array", "items": r("Module")},
            }),
        ),
    );
}

/// The document, with the call schemas of `runtime`'s modules.
pub fn document(runtime: &urbis_runtime::Runtime) -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas/".into();
    let mut generator = settings.into_generator();
    generator.subschema_for::<urbis_core::SignedTx>();
    generator.subschema_for::<urbis_core::Receipt>();
    generator.subschema_for::<urbis_core::Header>();
    generator.subschema_for::<urbis_core::Block>();
    generator.subschema_for::<urbis_core::MerkleStep>();
    generator.subschema_for::<urbis_core::Address>();
    generator.subschema_for::<urbis_runtime::Genesis>();
    let mut schemas = generator.take_definitions(true);
    api_schemas(&mut schemas);
    for name in runtime.module_names() {
        if let Ok(mut schema) = runtime.call_schema(name)
            && !schema.is_null()
        {
            if let Some(o) = schema.as_object_mut() {
                o.remove("$schema");
            }
            schemas.insert(format!("Call.{name}"), schema);
        }
    }
    let mut paths = Map::new();
    for (method, path, summary) in ROUTES {
        let mut params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": path_param(path, name)}))
            .collect();
        params.extend(query_params(method, path).iter().map(|(name, ty, about)| {
            let required = matches!(
                (*path, *name),
                ("/v1/sync/blocks", "from")
                    | ("/v1/sync/state/values", "height")
                    | ("/v1/validators/handovers", "epoch")
            );
            json!({"name": name, "in": "query", "required": required, "description": about, "schema": query_param(path, name, ty)})
        }));
        let (media, schema) = response(method, path);
        // A server-sent event stream is described event by event (OpenAPI 3.2 `itemSchema`).
        let success = if media == "text/event-stream" {
            json!({media: {"itemSchema": sse_event()}})
        } else {
            json!({media: {"schema": schema}})
        };
        let entry = paths
            .entry(path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(
                method.to_string(),
                json!({
                    "operationId": operation_id(method, path),
                    "summary": summary,
                    "parameters": params,
                    "responses": responses(path, success),
                }),
            );
            if let Some(Value::Object(op)) = m.get_mut(*method) {
                if let Some(body) = request(method, path) {
                    op.insert("requestBody".into(), body);
                }
                if let Some(links) = links(method, path) {
                    op["responses"]["200"]["links"] = links;
                }
                if (*method, *path) == ("post", "/v1/txs") {
                    // Without ?wait=true the answer is 202 Accepted, status `pending`.
                    let ok = op["responses"]["200"].clone();
                    op["responses"]["202"] = ok;
                }
            }
        }
    }
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    schemas.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "required": ["type", "title", "status", "code", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "code": {"type": "string", "enum": codes},
                "detail": {"type": "string"}
            }
        }),
    );
    json!({
        "openapi": "3.2.0",
        "info": {"title": "Urbis node API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": schemas}
    })
}

/// One server-sent event of `/v1/events`: its type, id and JSON data.
fn sse_event() -> Value {
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let data = |schema: Value| json!({"type": "string", "contentMediaType": "application/json", "contentSchema": schema});
    json!({"oneOf": [
        {"type": "object", "required": ["event", "data"], "properties": {
            "event": {"const": "block"}, "id": {"type": "string"}, "data": data(r("BlockEvent"))}},
        {"type": "object", "required": ["event", "data"], "properties": {
            "event": {"const": "event"}, "id": {"type": "string"}, "data": data(r("IndexedEvent"))}},
        {"type": "object", "required": ["event", "data"], "properties": {
            "event": {"const": "lagged"},
            "data": data(json!({"type": "object", "required": ["skipped"],
                "properties": {"skipped": {"type": "integer", "minimum": 0}}}))}},
    ]})
}

/// The responses of a route: `200` with `success`, and every error status the node answers
/// with (those of [`ErrorCode`]), each with its problem body.
fn responses(path: &str, success: Value) -> Value {
    let problem =
        json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let mut out = Map::new();
    out.insert(
        "200".into(),
        json!({"description": "Success", "content": success}),
    );
    let mut statuses: Vec<u16> = ErrorCode::ALL.iter().map(ErrorCode::http_status).collect();
    if path == "/1.0/identifiers/{did}" {
        // W3C DID Resolution: a deactivated DID (410), a representation the resolver cannot
        // give (406), another DID method (501).
        statuses.extend([406, 410, 501]);
    }
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        let mut content = problem.clone();
        if path == "/1.0/identifiers/{did}" {
            content[DID_RESOLUTION] =
                json!({"schema": {"$ref": "#/components/schemas/DidResolutionResult"}});
        }
        let reason = axum_reason(status);
        out.insert(
            status.to_string(),
            json!({"description": reason, "content": content}),
        );
    }
    Value::Object(out)
}

const DID_RESOLUTION: &str = "application/ld+json;profile=\"https://w3id.org/did-resolution\"";

fn axum_reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// The schema of path parameter `name` of `path`: what the node accepts there.
fn path_param(path: &str, name: &str) -> Value {
    let hash = json!({"type": "string", "pattern": "^[0-9a-fA-F]{64}$"});
    match (path, name) {
        (_, "hash") => hash,
        ("/v1/records/{id}/wraps" | "/v1/records/{id}/key", "id") => hash,
        ("/v1/blocks/{id}", "id") => json!({"type": "string",
            "description": "A height, a block hash (64 hex digits) or `latest`.",
            "pattern": "^([0-9]{1,20}|[0-9a-fA-F]{64}|latest)$"}),
        ("/v1/status-lists/{id}", "id") => json!({"type": "integer", "minimum": 0}),
        (_, "address") => json!({"$ref": "#/components/schemas/Address"}),
        (_, "did") => {
            json!({"type": "string", "description": "A DID (this resolver answers did:urbis).", "pattern": "^did:[a-z0-9]+:.+$"})
        }
        (_, "module") => json!({"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}),
        (_, "path") => {
            json!({"type": "string", "description": "The query's path segments, e.g. balance/<address> or nonce/<address>."})
        }
        (_, "name") => json!({"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}),
        _ => json!({"type": "string"}),
    }
}

/// The schema of a query parameter of type `ty`.
fn query_param(path: &str, name: &str, ty: &str) -> Value {
    match (path, name) {
        ("/v1/sync/blocks", "from") => return json!({"type": "integer", "minimum": 1}),
        ("/v1/sync/blocks", "limit") => {
            return json!({"type": "integer", "minimum": 1, "maximum": 256});
        }
        ("/v1/sync/state/values", "limit") => {
            return json!({"type": "integer", "minimum": 1, "maximum": 10_000});
        }
        ("/v1/sync/state/values", "after") => {
            return json!({"type": "string", "pattern": "^([0-9a-fA-F]{2})*$"});
        }
        ("/v1/sync/blocks", "wait_ms") => {
            return json!({"type": "integer", "minimum": 0, "maximum": 10_000});
        }
        _ => {}
    }
    match (name, ty) {
        ("limit", _) => json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        (_, "integer") => json!({"type": "integer", "minimum": 0}),
        _ => json!({"type": ty}),
    }
}

/// The operation id of a route: its method and path, e.g. `get_v1_txs_hash`.
fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<&str> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    format!("{method}_{}", words.join("_"))
}

/// Where an answer leads (OpenAPI links; stateful API tests follow them).
fn links(method: &str, path: &str) -> Option<Value> {
    let link =
        |op: &str, param: &str, expr: &str| json!({"operationId": op, "parameters": {param: expr}});
    match (method, path) {
        ("post", "/v1/txs") => Some(json!({
            "TransactionStatus": link("get_v1_txs_hash", "hash", "$response.body#/hash"),
        })),
        ("get", "/v1/txs/{hash}") => Some(json!({
            "Block": link("get_v1_blocks_id", "id", "$response.body#/height"),
        })),
        ("get", "/v1/blocks/{id}") => Some(json!({
            "ParentBlock": link("get_v1_blocks_id", "id", "$response.body#/header/parent"),
        })),
        ("put", "/v1/blobs") => Some(json!({
            "Blob": link("get_v1_blobs_hash", "hash", "$response.body#/hash"),
        })),
        ("get", "/v1/status") => Some(json!({
            "LatestBlock": link("get_v1_blocks_id", "id", "$response.body#/block_hash"),
        })),
        _ => None,
    }
}
