//! Printing results as aligned tables or JSON.

use serde::Serialize;
use urbis_client::{BlockResponse, NodeStatus, TxStatus};
use urbis_core::{Event, Receipt};

use crate::fail;

/// Print `value` as pretty JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| fail("internal", format!("cannot render JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Print `label  value` rows with the labels padded to one width.
pub fn rows(rows: &[(&str, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
}

pub fn event_line(e: &Event) -> String {
    let mut s = format!("{}.{}", e.module, e.kind);
    for (k, v) in &e.attributes {
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}

fn outcome(r: &Receipt) -> String {
    match (&r.error, r.success) {
        (_, true) => "success".to_string(),
        (Some(e), false) => format!("failed: {}: {}", e.code, e.message),
        (None, false) => "failed".to_string(),
    }
}

/// A transaction's status as rows (plus events).
pub fn tx_status(status: &TxStatus) {
    match status {
        TxStatus::Pending { hash } => {
            rows(&[("hash", hash.to_string()), ("status", "pending".into())])
        }
        TxStatus::Committed(c) => {
            rows(&[
                ("hash", c.hash.to_string()),
                ("height", c.height.to_string()),
                ("index", c.index.to_string()),
                ("status", outcome(&c.receipt)),
            ]);
            if !c.receipt.events.is_empty() {
                println!("events:");
                for e in &c.receipt.events {
                    println!("  {}", event_line(e));
                }
            }
        }
    }
}

pub fn node_status(s: &NodeStatus) {
    let validators = s
        .validators
        .iter()
        .map(|v| v.to_text())
        .collect::<Vec<_>>()
        .join(", ");
    rows(&[
        ("chain_id", s.chain_id.clone()),
        ("height", s.height.to_string()),
        (
            "block_hash",
            s.block_hash
                .map(|h| h.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        ("state_height", s.state_height.to_string()),
        ("state_root", s.state_root.to_string()),
        ("genesis_hash", s.genesis_hash.to_string()),
        (
            "validators",
            format!("{} [{validators}]", s.validators.len()),
        ),
        (
            "mempool",
            format!(
                "{} txs, {} bytes, {} senders",
                s.mempool.txs, s.mempool.bytes, s.mempool.senders
            ),
        ),
        ("ready", s.ready.to_string()),
        ("version", s.version.clone()),
    ]);
}

pub fn block(b: &BlockResponse) {
    let h = &b.header;
    rows(&[
        ("height", h.height.to_string()),
        ("hash", b.hash.to_string()),
        ("parent", h.parent.to_string()),
        ("view", h.view.to_string()),
        ("timestamp_ms", h.timestamp_ms.to_string()),
        ("proposer", h.proposer.to_text()),
        ("state_height", h.state_height.to_string()),
        ("state_root", h.state_root.to_string()),
        ("txs", h.tx_count.to_string()),
        (
            "finalized",
            if b.finalization.is_some() {
                "yes"
            } else {
                "no"
            }
            .to_string(),
        ),
    ]);
    for (i, tx) in b.txs.iter().enumerate() {
        let result = b
            .receipts
            .get(i)
            .map(outcome)
            .unwrap_or_else(|| "no receipt".into());
        println!(
            "  #{i} {} from {} nonce {} module {}: {result}",
            tx.hash(),
            tx.sender(),
            tx.nonce,
            tx.call.module
        );
        if let Some(r) = b.receipts.get(i) {
            for e in &r.events {
                println!("      {}", event_line(e));
            }
        }
    }
}

/// One module of `GET /v1/modules`, for people: its calls, queries and events.
pub fn module_summary(m: &serde_json::Value) {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    println!(
        "{}  {}",
        m["name"].as_str().unwrap_or("?"),
        m["description"].as_str().unwrap_or("")
    );
    let calls = strings(&m["calls"]);
    if !calls.is_empty() {
        println!("  calls:    {}", calls.join(", "));
    }
    for q in m["queries"].as_array().into_iter().flatten() {
        let list = if q["list"].as_bool() == Some(true) {
            " (list)"
        } else {
            ""
        };
        println!("  query:    {}{list}", q["path"].as_str().unwrap_or(""));
    }
    for e in m["events"].as_array().into_iter().flatten() {
        println!(
            "  event:    {} {{{}}}",
            e["kind"].as_str().unwrap_or(""),
            strings(&e["attributes"]).join(", ")
        );
    }
    let exported = strings(&m["exported"]);
    if !exported.is_empty() {
        println!("  exported: {}", exported.join(", "));
    }
}
