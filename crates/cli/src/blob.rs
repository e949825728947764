//! `urbis blob put|get`: the node's blob store (encrypted payloads of records and shares).

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::Value;

use crate::commands::Ctx;
use crate::fail;

#[derive(Debug, Subcommand)]
pub enum BlobCmd {
    /// Upload a file (already encrypted; at most 16 MiB), signed by --from; prints its SHA-256.
    Put {
        file: PathBuf,
        #[arg(long)]
        from: String,
    },
    /// Download a blob by its SHA-256 and check it.
    Get {
        hash: urbis_core::Hash,
        #[arg(long)]
        out: PathBuf,
    },
}

fn http(e: reqwest::Error) -> anyhow::Error {
    fail("http", e.to_string())
}

/// The signed-request headers (`x-urbis-key`, `x-urbis-time`, `x-urbis-signature`) of `body`
/// by keystore key `from` under `tag`, and the body's SHA-256.
async fn signed_headers(
    ctx: &Ctx,
    from: &str,
    tag: &[u8],
    body: &[u8],
) -> anyhow::Result<(Vec<(&'static str, String)>, [u8; 32])> {
    let key = ctx.secret(&ctx.keystore()?, from)?;
    let status = ctx.client()?.status().await?;
    let digest: [u8; 32] = {
        use sha2::Digest as _;
        sha2::Sha256::digest(body).into()
    };
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let msg = urbis_node::blobs::put_message(&status.chain_id, time, &digest);
    let sig = key.sign(tag, &msg);
    Ok((
        vec![
            ("x-urbis-key", key.public_key().to_text()),
            ("x-urbis-time", time.to_string()),
            ("x-urbis-signature", sig.to_hex()),
        ],
        digest,
    ))
}

/// Upload `bytes` signed by keystore key `from`; their SHA-256.
pub async fn upload(ctx: &Ctx, from: &str, bytes: Vec<u8>) -> anyhow::Result<urbis_core::Hash> {
    let base = ctx.node.trim_end_matches('/').to_string();
    let (headers, digest) = signed_headers(ctx, from, urbis_node::blobs::PUT_TAG, &bytes).await?;
    let mut req = reqwest::Client::new().put(format!("{base}/v1/blobs"));
    for (name, value) in headers {
        req = req.header(name, value);
    }
    let resp = req
        .header("x-urbis-sha256", hex::encode(digest))
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .map_err(http)?;
    let ok = resp.status().is_success();
    let body: Value = resp.json().await.map_err(http)?;
    if !ok {
        let code = body["code"].as_str().unwrap_or("http").to_string();
        let detail = body["detail"].as_str().unwrap_or_default().to_string();
        return Err(fail(
            match code.as_str() {
                "too_large" => "too_large",
                "quota_exceeded" => "quota_exceeded",
                "unauthorized" => "unauthorized",
                "bad_signature" => "bad_signature",
                "invalid_argument" => "invalid_argument",
                _ => "http",
            },
            detail,
        ));
    }
    Ok(urbis_core::Hash(digest))
}

/// POST a JSON `body` to the node's `path`, signed by keystore key `from` under `tag` (the
/// headers of `PUT /v1/blobs`); the JSON answer, or the node's error code and detail.
pub async fn signed_post(
    ctx: &Ctx,
    from: &str,
    tag: &[u8],
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let base = ctx.node.trim_end_matches('/').to_string();
    let bytes = serde_json::to_vec(body).map_err(|e| fail("internal", e.to_string()))?;
    let (headers, _) = signed_headers(ctx, from, tag, &bytes).await?;
    let mut req = reqwest::Client::new().post(format!("{base}{path}"));
    for (name, value) in headers {
        req = req.header(name, value);
    }
    let resp = req
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .map_err(http)?;
    let ok = resp.status().is_success();
    let answer: Value = resp.json().await.map_err(http)?;
    if !ok {
        let code = answer["code"]
            .as_str()
            .and_then(urbis_core::ErrorCode::parse)
            .map_or("http", |c| c.as_str());
        let detail = answer["detail"].as_str().unwrap_or_default().to_string();
        return Err(fail(code, detail));
    }
    Ok(answer)
}

/// Download blob `hash` and check its bytes against it.
pub async fn download(ctx: &Ctx, hash: &urbis_core::Hash) -> anyhow::Result<Vec<u8>> {
    let base = ctx.node.trim_end_matches('/').to_string();
    let resp = reqwest::Client::new()
        .get(format!("{base}/v1/blobs/{hash}"))
        .send()
        .await
        .map_err(http)?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Err(fail("not_found", format!("no blob {hash}")));
    }
    if !resp.status().is_success() {
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        let code = answer["code"]
            .as_str()
            .and_then(urbis_core::ErrorCode::parse)
            .map_or("http", |c| c.as_str());
        let detail = answer["detail"]
            .as_str()
            .map_or_else(|| format!("HTTP {status}"), str::to_string);
        return Err(fail(code, detail));
    }
    let bytes = resp.bytes().await.map_err(http)?;
    let digest: [u8; 32] = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&bytes).into()
    };
    if digest != hash.0 {
        return Err(fail(
            "invalid_proof",
            "the node sent other bytes than asked for",
        ));
    }
    Ok(bytes.to_vec())
}

pub async fn blob(ctx: &Ctx, cmd: BlobCmd) -> anyhow::Result<()> {
    match cmd {
        BlobCmd::Put { file, from } => {
            let bytes =
                std::fs::read(&file).map_err(|e| fail("io", format!("{}: {e}", file.display())))?;
            println!("{}", upload(ctx, &from, bytes).await?);
            Ok(())
        }
        BlobCmd::Get { hash, out } => {
            let bytes = download(ctx, &hash).await?;
            std::fs::write(&out, &bytes)
                .map_err(|e| fail("io", format!("{}: {e}", out.display())))?;
            eprintln!("{} bytes written to {}", bytes.len(), out.display());
            Ok(())
        }
    }
}
