//! Proof-bundle test vectors (`clients/vectors/proofs/*.json`, specified in `docs/proofs.md`).
//!
//! - Every committed vector gets exactly its expected verdict from the Rust verifier
//!   (`verify_bundle` / `verify_receipt_bundle`, through the client's genesis wrappers), and from
//!   the JavaScript verifier (`clients/js/verify.js`, run with `node --test`).
//! - `URBIS_WRITE_VECTORS=1` regenerates the files first, from a live dev chain and a live
//!   4-validator network (honest bundles as the nodes serve them, then tampered copies).
//!   Without it the files are only read.
//! - The JavaScript verifier also checks fresh answers of a live dev node and a 4-validator
//!   network.
//!
//! Node.js (>= 20) is needed for the JavaScript parts: without `node` on the PATH they are
//! skipped with a message, unless `URBIS_REQUIRE_NODE` is set (then they fail).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{Nodes, TestNode, commit, get_json, key_from_hex, wait_until};
use serde_json::{Value, json};
use urbis_core::{ErrorCode, Hash, PublicKey, SecretKey};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vectors_dir() -> PathBuf {
    repo().join("clients/vectors/proofs")
}

/// The vectors that must exist (the generator writes exactly these).
const REQUIRED: &[&str] = &[
    "state-inclusion",
    "state-exclusion",
    "state-multi-header",
    "state-inclusion-grafted-chunk",
    "state-grafted-chunk-tampered",
    "state-exclusion-large-store",
    "receipt-success",
    "receipt-failed-tx",
    "receipt-later-roots",
    "net4-state-inclusion",
    "net4-receipt",
    "net4-three-of-four-signers",
    "state-value-flipped",
    "state-wrong-key",
    "state-proof-digest-tampered",
    "state-exclusion-of-present-key",
    "header-wrong-state-root",
    "header-broken-link",
    "header-wrong-validator-set",
    "trust-wrong-chain-id",
    "trust-other-validators",
    "trust-small-order-key",
    "certificate-for-another-block",
    "certificate-signature-flipped",
    "net4-certificate-signature-flipped",
    "net4-certificate-non-signer",
    "net4-certificate-below-quorum",
    "unsupported-version",
    "receipt-tampered",
    "receipt-path-tampered",
    "receipt-wrong-chain-id",
    "bundle-missing-field",
];

// ---- verdicts ------------------------------------------------------------------------------

/// The reason class of a Rust verifier error (the `step` the JavaScript verifier reports).
fn class_of(message: &str) -> String {
    let m = message;
    let class = if m.contains("unsupported bundle version") {
        "version"
    } else if m.contains("bundle is for chain") {
        "chain-id"
    } else if m.contains("inclusion proof") || m.contains("exclusion proof") {
        "state-proof"
    } else if m.contains("does not certify") || m.contains("height overflows") {
        "anchor"
    } else if m.contains("no headers") || m.starts_with("header ") {
        "header-chain"
    } else if m.contains("finalization") {
        "certificate"
    } else if m.contains("validator set contains") || m.contains("lists no validators") {
        "trust"
    } else {
        return format!("unclassified: {m}");
    };
    class.to_string()
}

/// The Rust verifier's verdict on a vector: `Ok(())` or `Err((class, message))`.
fn rust_verdict(v: &Value) -> Result<(), (String, String)> {
    let trust = &v["trust"];
    let chain_id = trust["chain_id"].as_str().unwrap_or_default();
    let mut validators = Vec::new();
    for k in trust["validators"].as_array().into_iter().flatten() {
        let key: PublicKey = k
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|e: urbis_core::keys::KeyError| ("trust".to_string(), e.to_string()))?;
        validators.push(json!({ "name": "v", "public_key": key }));
    }
    let genesis: urbis_runtime::Genesis = serde_json::from_value(json!({
        "chain_id": chain_id, "genesis_time_ms": 0, "validators": validators,
    }))
    .map_err(|e| ("trust".to_string(), e.to_string()))?;
    let malformed = |e: serde_json::Error| ("malformed".to_string(), e.to_string());
    let result = match v["kind"].as_str() {
        Some("state") => {
            let b: urbis_client::ProofBundle =
                serde_json::from_value(v["bundle"].clone()).map_err(malformed)?;
            urbis_client::verify_bundle_with_genesis(&b, &genesis).map(|_| ())
        }
        Some("receipt") => {
            let b: urbis_client::ReceiptBundle =
                serde_json::from_value(v["bundle"].clone()).map_err(malformed)?;
            urbis_client::verify_receipt(&b, &genesis).map(|_| ())
        }
        other => panic!("unknown vector kind {other:?}"),
    };
    result.map_err(|e| (class_of(&e.message), e.message))
}

fn expected(v: &Value) -> Option<String> {
    match &v["expect"] {
        Value::String(s) if s == "valid" => None,
        e => Some(
            e["invalid"]
                .as_str()
                .expect("expect is \"valid\" or {\"invalid\": class}")
                .to_string(),
        ),
    }
}

fn read_vectors() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(vectors_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            out.push((p.file_stem().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

// ---- Node.js -------------------------------------------------------------------------------

/// Whether `node` runs; `false` (after saying so) only if `URBIS_REQUIRE_NODE` is unset.
fn have_node() -> bool {
    let ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("URBIS_REQUIRE_NODE").is_none(),
            "URBIS_REQUIRE_NODE is set but `node` does not run"
        );
        println!("skipping the JavaScript verifier: `node` is not installed");
    }
    ok
}

fn run_node(args: &[&str], env: &[(&str, String)]) -> String {
    let mut cmd = Command::new("node");
    cmd.current_dir(repo()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "node {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

// ---- the committed vectors -----------------------------------------------------------------

#[test]
fn every_vector_gets_its_verdict_in_rust_and_javascript() {
    if std::env::var("URBIS_WRITE_VECTORS").as_deref() == Ok("1") {
        write_vectors();
    }
    let vectors = read_vectors();
    let names: Vec<&str> = vectors.iter().map(|(n, _)| n.as_str()).collect();
    for r in REQUIRED {
        assert!(names.contains(r), "vector {r}.json is missing");
    }
    for (name, v) in &vectors {
        for field in ["description", "trust", "kind", "bundle", "expect"] {
            assert!(!v[field].is_null(), "{name}: no {field}");
        }
        match (expected(v), rust_verdict(v)) {
            (None, Ok(())) => {}
            (Some(want), Err((got, _))) if want == got => {}
            (want, got) => panic!("{name}: expected {want:?}, the Rust verifier says {got:?}"),
        }
    }
    if !have_node() {
        return;
    }
    run_node(&["--test", "clients/js/test/verify.test.js"], &[]);
    // The receipt encoder's error-code table is the node's, in declaration (borsh) order.
    let js = run_node(
        &[
            "--input-type=module",
            "-e",
            "import { ERROR_CODES } from './clients/js/verify.js'; \
             console.log(JSON.stringify(ERROR_CODES));",
        ],
        &[],
    );
    let codes: Vec<String> = serde_json::from_str(js.trim()).unwrap();
    let rust: Vec<&str> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
    assert_eq!(
        codes, rust,
        "ERROR_CODES in verify.js must list ErrorCode in order"
    );
}

// ---- live nodes ----------------------------------------------------------------------------

fn get(http: &reqwest::blocking::Client, url: &str) -> Value {
    let r = http.get(url).send().unwrap();
    let status = r.status();
    let body = r.text().unwrap();
    assert!(status.is_success(), "GET {url}: {status} {body}");
    serde_json::from_str(&body).unwrap()
}

fn trust_of(http: &reqwest::blocking::Client, url: &str) -> Value {
    let g = get(http, &format!("{url}/v1/genesis"));
    let validators: Vec<Value> = g["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["public_key"].clone())
        .collect();
    json!({ "chain_id": g["chain_id"], "validators": validators })
}

/// A 4-validator loopback network of `urbis node` processes, producing blocks.
struct Network {
    apis: Vec<String>,
    admin: SecretKey,
    chain: urbis_core::ChainRef,
    _nodes: Nodes,
    _dir: tempfile::TempDir,
}

fn four_validators(chain_id: &str) -> Network {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let apis = common::init_testnet(d, 4, chain_id);
    let nodes = Nodes(
        (0..4)
            .map(|i| Some(common::start_validator(d, i)))
            .collect(),
    );
    common::wait_for_network(d, &apis, 3, Duration::from_secs(120));
    let admin = key_from_hex(&std::fs::read_to_string(d.join("admin.key")).unwrap());
    let chain = common::chain_ref(&apis[0]);
    Network {
        apis,
        admin,
        chain,
        _nodes: nodes,
        _dir: dir,
    }
}

#[test]
fn the_javascript_verifier_checks_live_answers() {
    if !have_node() {
        return;
    }
    let http = common::http();
    let script = ["--test", "clients/js/test/verify_live.test.js"];

    // A dev chain: a present and an absent key, a successful and a failed transaction.
    let node = TestNode::start();
    let ok = commit(
        &http,
        &node.url,
        &common::grant_label(&node.chain, &node.admin, 0, "live-a"),
    );
    let failed = commit(
        &http,
        &node.url,
        &common::grant_label(&node.chain, &node.admin, 1, "live-a"),
    );
    let present = SecretKey::from_label("live-a").address();
    let absent = SecretKey::from_label("live-absent").address();
    let env = vec![
        ("URBIS_VERIFY_NODE", node.url.clone()),
        (
            "URBIS_VERIFY_QUERY",
            format!("accounts/account/{present},accounts/account/{absent}"),
        ),
        ("URBIS_VERIFY_TX", format!("{ok},{failed}")),
    ];
    let out = run_node(&script, &env);
    assert!(
        out.contains("# pass 1") && out.contains("# skipped 0"),
        "{out}"
    );
    node.stop();

    // A 4-validator network: certificates with a quorum of 3 signatures or more.
    let net = four_validators("live-net");
    let tx = commit(
        &http,
        &net.apis[0],
        &common::grant_label(&net.chain, &net.admin, 0, "net-a"),
    );
    let addr = SecretKey::from_label("net-a").address();
    let env = vec![
        ("URBIS_VERIFY_NODE", net.apis[1].clone()),
        ("URBIS_VERIFY_QUERY", format!("accounts/account/{addr}")),
        ("URBIS_VERIFY_TX", tx.to_string()),
        ("URBIS_VERIFY_MIN_SIGNERS", "3".to_string()),
    ];
    let out = run_node(&script, &env);
    assert!(
        out.contains("# pass 1") && out.contains("# skipped 0"),
        "{out}"
    );
}

// ---- writing the vectors -------------------------------------------------------------------

fn flip_hex(text: &str, byte: usize) -> String {
    let mut b = hex::decode(text).unwrap();
    b[byte] ^= 0x01;
    hex::encode(b)
}

/// Read a canonical LEB128 varint at `*at`.
fn read_varint(b: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*at];
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// The operation location and leaf count at the start of an encoded inclusion proof.
fn location_and_leaves(proof_hex: &str) -> (u64, u64) {
    let b = hex::decode(proof_hex).unwrap();
    let mut at = 0;
    let loc = read_varint(&b, &mut at);
    at += 32;
    (loc, read_varint(&b, &mut at))
}

fn write_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A decoded finalization certificate (docs/proofs.md, "Finalization certificate").
struct Cert {
    proposal: Vec<u8>,
    bits: u64,
    bitmap: Vec<u8>,
    signatures: Vec<Vec<u8>>,
}

impl Cert {
    fn parse(text: &str) -> Cert {
        let b = hex::decode(text).unwrap();
        let mut at = 0;
        for _ in 0..3 {
            read_varint(&b, &mut at);
        }
        at += 32;
        let proposal = b[..at].to_vec();
        let bits = u64::from_be_bytes(b[at..at + 8].try_into().unwrap());
        at += 8;
        let nbytes = bits.div_ceil(8) as usize;
        let bitmap = b[at..at + nbytes].to_vec();
        at += nbytes;
        let count = read_varint(&b, &mut at) as usize;
        let signatures = (0..count)
            .map(|i| b[at + 64 * i..at + 64 * (i + 1)].to_vec())
            .collect();
        assert_eq!(at + 64 * count, b.len());
        Cert {
            proposal,
            bits,
            bitmap,
            signatures,
        }
    }

    fn signers(&self) -> Vec<usize> {
        (0..self.bits as usize)
            .filter(|i| self.bitmap[i / 8] & (1 << (i % 8)) != 0)
            .collect()
    }

    fn set(&mut self, i: usize, on: bool) {
        if on {
            self.bitmap[i / 8] |= 1 << (i % 8);
        } else {
            self.bitmap[i / 8] &= !(1 << (i % 8));
        }
    }

    fn encode(&self) -> String {
        let mut out = self.proposal.clone();
        out.extend_from_slice(&self.bits.to_be_bytes());
        out.extend_from_slice(&self.bitmap);
        write_varint(self.signatures.len() as u64, &mut out);
        for s in &self.signatures {
            out.extend_from_slice(s);
        }
        hex::encode(out)
    }
}

/// Block `h` of the chain at `url` once it and a later block exist.
fn block(http: &reqwest::blocking::Client, url: &str, h: u64) -> Value {
    wait_until(&format!("block {h}"), Duration::from_secs(60), || {
        get_json(http, &format!("{url}/v1/blocks/{h}")).is_some()
    });
    get(http, &format!("{url}/v1/blocks/{h}"))
}

/// Headers `from..=f` and the certificate of `f`, the first height `>= at_least` with a stored
/// finalization certificate.
fn headers_to_certificate(
    http: &reqwest::blocking::Client,
    url: &str,
    from: u64,
    at_least: u64,
) -> (Vec<Value>, String) {
    let mut headers = Vec::new();
    let mut h = from;
    loop {
        let b = block(http, url, h);
        headers.push(b["header"].clone());
        if h >= at_least
            && let Some(f) = b["finalization"].as_str()
        {
            return (headers, f.to_string());
        }
        h += 1;
        assert!(h < from + 50, "no certificate after height {from}");
    }
}

fn receipts_root(http: &reqwest::blocking::Client, url: &str, h: u64) -> Hash {
    let b = block(http, url, h);
    let receipts: Vec<urbis_core::Receipt> = serde_json::from_value(b["receipts"].clone()).unwrap();
    assert_eq!(receipts.len() as u64, b["tx_count"].as_u64().unwrap());
    let events: Vec<urbis_core::Event> = serde_json::from_value(b["block_events"].clone()).unwrap();
    urbis_core::receipts_root(&receipts, &events)
}

struct Writer {
    dir: PathBuf,
}

impl Writer {
    fn put(
        &self,
        name: &str,
        description: &str,
        trust: &Value,
        kind: &str,
        bundle: &Value,
        expect: Option<&str>,
    ) {
        let expect = match expect {
            None => json!("valid"),
            Some(c) => json!({ "invalid": c }),
        };
        let v = json!({
            "description": description,
            "trust": trust,
            "kind": kind,
            "bundle": bundle,
            "expect": expect,
        });
        let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
        std::fs::write(self.dir.join(format!("{name}.json")), text).unwrap();
    }
}

/// An Ed25519 key text the node refuses as a validator: the identity point (small order).
const SMALL_ORDER_KEY: &str =
    "ed25519:0100000000000000000000000000000000000000000000000000000000000000";

fn write_vectors() {
    let dir = vectors_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let w = Writer { dir };
    let http = common::http();
    write_dev_vectors(&w, &http);
    write_network_vectors(&w, &http);
}

fn write_dev_vectors(w: &Writer, http: &reqwest::blocking::Client) {
    let node = TestNode::start();
    let url = node.url.clone();
    let trust = trust_of(http, &url);
    let ok_tx = commit(
        http,
        &url,
        &common::grant_label(&node.chain, &node.admin, 0, "vector-a"),
    );
    let failed_tx = commit(
        http,
        &url,
        &common::grant_label(&node.chain, &node.admin, 1, "vector-a"),
    );
    let present = SecretKey::from_label("vector-a").address();
    let absent = SecretKey::from_label("vector-absent").address();

    let query = |addr: &urbis_core::Address| {
        get(
            http,
            &format!("{url}/v1/query/accounts/account/{addr}?prove=true"),
        )["proof"]
            .clone()
    };
    let incl = query(&present);
    let excl = query(&absent);
    assert!(incl["state"]["value"].is_string() && excl["state"]["value"].is_null());
    let tx_proof = |h: &Hash| get(http, &format!("{url}/v1/txs/{h}?prove=true"))["proof"].clone();
    let rec = tx_proof(&ok_tx);
    let rec_failed = tx_proof(&failed_tx);
    assert_eq!(rec_failed["receipt"]["success"], false);

    let state = "state";
    w.put(
        "state-inclusion",
        "dev chain: an account's record, proven present",
        &trust,
        state,
        &incl,
        None,
    );
    w.put(
        "state-exclusion",
        "dev chain: an account that does not exist, proven absent",
        &trust,
        state,
        &excl,
        None,
    );
    w.put(
        "receipt-success",
        "dev chain: the receipt of a successful transaction",
        &trust,
        "receipt",
        &rec,
        None,
    );
    w.put(
        "receipt-failed-tx",
        "dev chain: the receipt of a committed transaction that failed (error code and message)",
        &trust,
        "receipt",
        &rec_failed,
        None,
    );

    // Several headers: the node certifies with the first finalized block at or after the
    // certifying one, which on a healthy chain is that block itself; this bundle extends the
    // chain of headers to a later finalized block (real headers and certificate of this chain).
    let c = incl["headers"][0]["height"].as_u64().unwrap();
    let (headers, fin) = headers_to_certificate(http, &url, c, c + 2);
    assert_eq!(headers[0], incl["headers"][0]);
    let mut multi = incl.clone();
    multi["headers"] = json!(headers);
    multi["finalization"] = json!(fin);
    w.put(
        "state-multi-header",
        "dev chain: the inclusion proof with three headers, certified by the last one's certificate \
         (built from the chain's blocks: this node serves one header when every block is finalized)",
        &trust,
        state,
        &multi,
        None,
    );

    // A receipt certified two blocks later: the receipts roots of the blocks in between.
    let h = rec["receipt"]["height"].as_u64().unwrap();
    let mut x = h + 1;
    let certifying = loop {
        let b = block(http, &url, x);
        if b["header"]["state_height"].as_u64() == Some(h + 2) {
            break x;
        }
        x += 1;
        assert!(x < h + 50, "no block certifies height {}", h + 2);
    };
    let (headers, fin) = headers_to_certificate(http, &url, certifying, certifying);
    let mut later = rec.clone();
    later["later_roots"] = json!([
        receipts_root(http, &url, h + 1),
        receipts_root(http, &url, h + 2)
    ]);
    later["headers"] = json!(headers);
    later["finalization"] = json!(fin);
    w.put(
        "receipt-later-roots",
        "dev chain: a receipt certified two blocks after its own, through later_roots \
         (built from the chain's blocks)",
        &trust,
        "receipt",
        &later,
        None,
    );

    // A store past its first 256 operations: a proof through a complete bitmap chunk grafted
    // onto the operations MMR (the small stores above only have a partial chunk).
    for i in 0..300u64 {
        commit(
            http,
            &url,
            &common::grant_label(&node.chain, &node.admin, 2 + i, &format!("vector-bulk-{i}")),
        );
    }
    let grafted = (0..300)
        .map(|i| query(&SecretKey::from_label(&format!("vector-bulk-{i}")).address()))
        .find(|b| {
            let (loc, leaves) = location_and_leaves(b["state"]["proof"].as_str().unwrap());
            loc < leaves / 256 * 256
        })
        .expect("an account whose operation lies in a complete chunk");
    w.put(
        "state-inclusion-grafted-chunk",
        "dev chain: an account's record whose operation lies in a complete bitmap chunk, \
         grafted onto the operations MMR at height 8",
        &trust,
        state,
        &grafted,
        None,
    );
    let mut t = grafted.clone();
    let proof = grafted["state"]["proof"].as_str().unwrap();
    let mut chunk_at = 0;
    read_varint(&hex::decode(proof).unwrap(), &mut chunk_at);
    t["state"]["proof"] = json!(flip_hex(proof, chunk_at + 31));
    w.put(
        "state-grafted-chunk-tampered",
        "the grafted proof with another bit of its bitmap chunk set",
        &trust,
        state,
        &t,
        Some("state-proof"),
    );
    let excl_large = query(&absent);
    w.put(
        "state-exclusion-large-store",
        "dev chain: an absent account, proven absent in a store of over 300 keys",
        &trust,
        state,
        &excl_large,
        None,
    );

    // ---- tampered ----
    let value = incl["state"]["value"].as_str().unwrap();
    let mut t = incl.clone();
    t["state"]["value"] = json!(flip_hex(value, value.len() / 4));
    w.put(
        "state-value-flipped",
        "one bit of the proven value flipped",
        &trust,
        state,
        &t,
        Some("state-proof"),
    );
    let mut t = incl.clone();
    t["state"]["key"] = excl["state"]["key"].clone();
    w.put(
        "state-wrong-key",
        "the inclusion proof presented for another key",
        &trust,
        state,
        &t,
        Some("state-proof"),
    );
    let proof = hex::decode(incl["state"]["proof"].as_str().unwrap()).unwrap();
    let mut at = 0;
    read_varint(&proof, &mut at); // location
    at += 32; // bitmap chunk
    read_varint(&proof, &mut at); // leaves
    read_varint(&proof, &mut at); // inactive peaks
    assert!(read_varint(&proof, &mut at) > 0, "a proof with digests");
    let mut t = incl.clone();
    t["state"]["proof"] = json!(flip_hex(incl["state"]["proof"].as_str().unwrap(), at + 5));
    w.put(
        "state-proof-digest-tampered",
        "one bit flipped in the first digest of the MMR proof",
        &trust,
        state,
        &t,
        Some("state-proof"),
    );
    let mut t = excl.clone();
    t["state"]["key"] = incl["state"]["key"].clone();
    t["state"]["root"] = incl["state"]["root"].clone();
    t["state_height"] = incl["state_height"].clone();
    t["headers"] = incl["headers"].clone();
    t["finalization"] = incl["finalization"].clone();
    w.put(
        "state-exclusion-of-present-key",
        "an exclusion proof claiming that a present key is absent",
        &trust,
        state,
        &t,
        Some("state-proof"),
    );
    let mut t = incl.clone();
    let root = incl["headers"][0]["state_root"].as_str().unwrap();
    t["headers"][0]["state_root"] = json!(flip_hex(root, 0));
    w.put(
        "header-wrong-state-root",
        "the header names another state root than the proof's",
        &trust,
        state,
        &t,
        Some("anchor"),
    );
    let mut t = multi.clone();
    let parent = multi["headers"][1]["parent"].as_str().unwrap();
    t["headers"][1]["parent"] = json!(flip_hex(parent, 31));
    w.put(
        "header-broken-link",
        "the second header's parent is not the first header's digest",
        &trust,
        state,
        &t,
        Some("header-chain"),
    );
    let mut t = incl.clone();
    let set = incl["headers"][0]["validator_set"].as_str().unwrap();
    t["headers"][0]["validator_set"] = json!(flip_hex(set, 0));
    w.put(
        "header-wrong-validator-set",
        "the header names another validator set than the trusted one",
        &trust,
        state,
        &t,
        Some("header-chain"),
    );
    let mut other = trust.clone();
    other["chain_id"] = json!("urbis-other");
    w.put(
        "trust-wrong-chain-id",
        "a valid bundle checked against another chain id",
        &other,
        state,
        &incl,
        Some("chain-id"),
    );
    let mut small = trust.clone();
    small["validators"] = json!([trust["validators"][0], SMALL_ORDER_KEY]);
    w.put(
        "trust-small-order-key",
        "the trusted validator list holds a small-order key (the identity point)",
        &small,
        state,
        &incl,
        Some("trust"),
    );
    let mut t = incl.clone();
    t["finalization"] = rec["finalization"].clone();
    assert_ne!(incl["finalization"], rec["finalization"]);
    w.put(
        "certificate-for-another-block",
        "the certificate of another block",
        &trust,
        state,
        &t,
        Some("certificate"),
    );
    let fin = incl["finalization"].as_str().unwrap();
    let mut t = incl.clone();
    t["finalization"] = json!(flip_hex(fin, fin.len() / 2 - 10));
    w.put(
        "certificate-signature-flipped",
        "one bit of the validator's signature flipped",
        &trust,
        state,
        &t,
        Some("certificate"),
    );
    let mut t = incl.clone();
    t["version"] = json!(2);
    w.put(
        "unsupported-version",
        "a bundle of an unknown version",
        &trust,
        state,
        &t,
        Some("version"),
    );
    let mut t = incl.clone();
    t.as_object_mut().unwrap().remove("state_height");
    w.put(
        "bundle-missing-field",
        "a bundle without state_height",
        &trust,
        state,
        &t,
        Some("malformed"),
    );
    let mut t = rec.clone();
    t["receipt"]["weight"] = json!(rec["receipt"]["weight"].as_u64().unwrap() + 1);
    w.put(
        "receipt-tampered",
        "the receipt's weight changed",
        &trust,
        "receipt",
        &t,
        Some("anchor"),
    );
    let mut t = rec.clone();
    let sibling = rec["path"][0]["sibling"].as_str().unwrap();
    t["path"][0]["sibling"] = json!(flip_hex(sibling, 3));
    w.put(
        "receipt-path-tampered",
        "one bit of the receipt's Merkle path flipped",
        &trust,
        "receipt",
        &t,
        Some("anchor"),
    );
    let mut t = rec.clone();
    t["chain_id"] = json!("urbis-other");
    w.put(
        "receipt-wrong-chain-id",
        "a receipt bundle claiming another chain",
        &trust,
        "receipt",
        &t,
        Some("chain-id"),
    );
    node.stop();
}

fn write_network_vectors(w: &Writer, http: &reqwest::blocking::Client) {
    let net = four_validators("vectors-net");
    let url = net.apis[0].clone();
    let trust = trust_of(http, &url);
    assert_eq!(trust["validators"].as_array().unwrap().len(), 4);
    let tx = commit(
        http,
        &url,
        &common::grant_label(&net.chain, &net.admin, 0, "net-vector"),
    );
    let addr = SecretKey::from_label("net-vector").address();
    let incl = get(
        http,
        &format!("{url}/v1/query/accounts/account/{addr}?prove=true"),
    )["proof"]
        .clone();
    let rec = get(http, &format!("{url}/v1/txs/{tx}?prove=true"))["proof"].clone();
    let state = "state";
    w.put(
        "net4-state-inclusion",
        "4-validator network: an account's record, certified by a quorum of validators",
        &trust,
        state,
        &incl,
        None,
    );
    w.put(
        "net4-receipt",
        "4-validator network: a transaction's receipt",
        &trust,
        "receipt",
        &rec,
        None,
    );

    // Exactly three signers (the quorum of four): drop one if all four signed.
    let mut three = Cert::parse(incl["finalization"].as_str().unwrap());
    let signers = three.signers();
    assert!(signers.len() >= 3, "a quorum signed");
    if signers.len() == 4 {
        three.set(3, false);
        three.signatures.pop();
    }
    let mut t = incl.clone();
    t["finalization"] = json!(three.encode());
    w.put(
        "net4-three-of-four-signers",
        "4-validator network: a certificate with exactly three of the four signatures (a quorum)",
        &trust,
        state,
        &t,
        None,
    );
    let signers = three.signers();
    let missing = (0..4).find(|i| !signers.contains(i)).unwrap();
    let mut c = Cert::parse(&three.encode());
    c.set(signers[0], false);
    c.set(missing, true);
    let mut t = incl.clone();
    t["finalization"] = json!(c.encode());
    w.put(
        "net4-certificate-non-signer",
        "4-validator network: the signer bitmap claims a validator that did not sign",
        &trust,
        state,
        &t,
        Some("certificate"),
    );
    let mut c = Cert::parse(&three.encode());
    c.set(signers[2], false);
    c.signatures.pop();
    let mut t = incl.clone();
    t["finalization"] = json!(c.encode());
    w.put(
        "net4-certificate-below-quorum",
        "4-validator network: two valid signatures of four (quorum is three)",
        &trust,
        state,
        &t,
        Some("certificate"),
    );
    let mut c = Cert::parse(incl["finalization"].as_str().unwrap());
    c.signatures[1][7] ^= 0x01;
    let mut t = incl.clone();
    t["finalization"] = json!(c.encode());
    w.put(
        "net4-certificate-signature-flipped",
        "4-validator network: one bit of the second signature flipped",
        &trust,
        state,
        &t,
        Some("certificate"),
    );
    let mut other = trust.clone();
    other["validators"][0] = json!(SecretKey::from_label("not-a-validator").public_key());
    w.put(
        "trust-other-validators",
        "4-validator network: a trusted validator list that differs from the signers' set by one key",
        &other,
        state,
        &incl,
        Some("header-chain"),
    );
}

#[test]
fn reason_classes_cover_every_verifier_message() {
    // The messages of crates/consensus/src/bundle.rs and crates/state/src/proof.rs.
    for (m, c) in [
        ("unsupported bundle version 2", "version"),
        ("bundle is for chain \"a\", expected \"b\"", "chain-id"),
        ("inclusion proof does not decode", "state-proof"),
        (
            "exclusion proof does not match the key and root",
            "state-proof",
        ),
        (
            "the first header does not certify the proven state root",
            "anchor",
        ),
        (
            "the first header does not certify this receipt's accumulator",
            "anchor",
        ),
        ("bundle has no headers", "header-chain"),
        ("header 1 does not extend header 0", "header-chain"),
        ("header 0 names a different validator set", "header-chain"),
        ("finalization is for a different block", "certificate"),
        ("finalization does not decode: x", "certificate"),
        (
            "validator set contains an invalid or duplicate key",
            "trust",
        ),
    ] {
        assert_eq!(class_of(m), c, "{m}");
    }
    assert!(class_of("something new").starts_with("unclassified"));
}
