//! `urbis share …`: selective sharing of encrypted files between departments.
//!
//! A share is a `records` head (kind `department_file`, custodian the sender) over two blobs:
//! the **payload**, `seal(data key, salt (32 bytes) || file, aad "urbis/share/v1")`, and the
//! **key list**, JSON `{"wraps": [{"did", "wrap": hex}]}` with the data key wrapped (HPKE) for
//! each recipient's `enc-1` key-agreement key, bound to the payload's hash. The head's locator
//! is `urbis-blob:<payload hash>#keys=<key list hash>`, its content hash `SHA-256(salt ||
//! file)`. Adding a recipient publishes a new key list (a new version of the head, same
//! payload); revoking one re-encrypts under a new data key for the others (what the revoked
//! reader already decrypted cannot be recalled).

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use urbis_core::{Call, Hash};
use urbis_records::{Kind, RecordsCall};
use urbis_sealing::{DataKey, Wrap};

use crate::blob::{download, upload};
use crate::commands::{Ctx, send, send_for_receipt};
use crate::fail;
use crate::identity::{agreement_key, did_of, load_wallet, print_json, random_hash};

const AAD: &[u8] = b"urbis/share/v1";

#[derive(Debug, Subcommand)]
pub enum ShareCmd {
    /// Encrypt FILE for the given DIDs (and the sender), store it, record it; prints its id.
    Put {
        file: PathBuf,
        #[arg(long)]
        from: String,
        /// A recipient: a DID or a keystore name that has one (repeat).
        #[arg(long = "to", required = true)]
        to: Vec<String>,
    },
    /// Decrypt a share as NAME (one of its recipients).
    Get {
        id: Hash,
        #[arg(long = "as")]
        reader: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Give one more DID access (its custodian).
    AddRecipient {
        id: Hash,
        #[arg(long)]
        from: String,
        #[arg(long = "to")]
        to: String,
    },
    /// Take a DID's access away: the file is re-encrypted under a new key for the others.
    Revoke {
        id: Hash,
        #[arg(long)]
        from: String,
        #[arg(long = "recipient")]
        recipient: String,
    },
    /// Every version of a share: when, and who could read it.
    Log { id: Hash },
}

fn parse_locator(locator: &str) -> anyhow::Result<(Hash, Hash)> {
    let rest = locator
        .strip_prefix("urbis-blob:")
        .ok_or_else(|| fail("malformed", format!("not a share locator: {locator}")))?;
    let (payload, keys) = rest
        .split_once("#keys=")
        .ok_or_else(|| fail("malformed", "a share locator names its key list"))?;
    let p = payload
        .parse()
        .map_err(|_| fail("malformed", "payload hash"))?;
    let k = keys
        .parse()
        .map_err(|_| fail("malformed", "key list hash"))?;
    Ok((p, k))
}

fn context(payload: &Hash) -> Vec<u8> {
    let mut c = AAD.to_vec();
    c.extend_from_slice(&payload.0);
    c
}

/// Wrap `key` for every DID; the key list JSON.
async fn key_list(
    ctx: &Ctx,
    key: &DataKey,
    payload: &Hash,
    dids: &[String],
) -> anyhow::Result<Vec<u8>> {
    let mut wraps = Vec::new();
    for did in dids {
        let pk = crate::record::recipient_key(ctx, did).await?;
        let w = urbis_sealing::wrap(key, &pk, &context(payload))
            .map_err(|e| fail("invalid_argument", e.to_string()))?;
        wraps.push(json!({"did": did, "wrap": hex::encode(w.to_bytes())}));
    }
    Ok(json!({"wraps": wraps}).to_string().into_bytes())
}

async fn head(ctx: &Ctx, id: &Hash) -> anyhow::Result<Value> {
    Ok(ctx
        .client()?
        .query(urbis_records::MODULE, &["head", &id.to_string()], false)
        .await?
        .value)
}

async fn recipients(ctx: &Ctx, keys: &Hash) -> anyhow::Result<Vec<(String, Wrap)>> {
    let list: Value = serde_json::from_slice(&download(ctx, keys).await?)
        .map_err(|e| fail("malformed", format!("key list: {e}")))?;
    let mut out = Vec::new();
    for w in list["wraps"].as_array().cloned().unwrap_or_default() {
        let did = w["did"].as_str().unwrap_or_default().to_string();
        let bytes = hex::decode(w["wrap"].as_str().unwrap_or_default())
            .map_err(|_| fail("malformed", "wrap"))?;
        out.push((
            did,
            Wrap::from_bytes(&bytes).map_err(|e| fail("malformed", e.to_string()))?,
        ));
    }
    Ok(out)
}

/// Decrypt a share's payload as keystore name `reader`: (salt || file, data key).
async fn open_as(ctx: &Ctx, h: &Value, reader: &str) -> anyhow::Result<(Vec<u8>, DataKey)> {
    let (payload, keys) = parse_locator(h["locator"].as_str().unwrap_or_default())?;
    let wallet = load_wallet(ctx)?;
    let me = crate::identity::entry(&wallet, reader)?.did.clone();
    let wraps = recipients(ctx, &keys).await?;
    let (_, w) = wraps.iter().find(|(d, _)| *d == me).ok_or_else(|| {
        fail(
            "unauthorized",
            format!("{me} is not a recipient of this share"),
        )
    })?;
    let sk = agreement_key(ctx, &format!("{reader}.enc"))?;
    let key = urbis_sealing::unwrap(w, &sk, &context(&payload))
        .map_err(|e| fail("invalid_proof", e.to_string()))?;
    let sealed = download(ctx, &payload).await?;
    let plain = urbis_sealing::open(&key, &sealed, AAD)
        .map_err(|e| fail("invalid_proof", e.to_string()))?;
    Ok((plain, key))
}

/// Seal `salt || file` under a fresh key, store it and its key list; (locator, content hash,
/// ciphertext hash, size).
async fn store(
    ctx: &Ctx,
    from: &str,
    salted: &[u8],
    dids: &[String],
) -> anyhow::Result<(String, Hash, Hash, u64)> {
    let key = DataKey::generate();
    let sealed = urbis_sealing::seal(&key, salted, AAD);
    let size = sealed.len() as u64;
    let payload = upload(ctx, from, sealed).await?;
    let keys = upload(ctx, from, key_list(ctx, &key, &payload, dids).await?).await?;
    let content = Hash(Sha256::digest(salted).into());
    Ok((
        format!("urbis-blob:{payload}#keys={keys}"),
        content,
        payload,
        size,
    ))
}

pub async fn share(ctx: &Ctx, cmd: ShareCmd) -> anyhow::Result<()> {
    match cmd {
        ShareCmd::Put { file, from, to } => {
            let bytes =
                std::fs::read(&file).map_err(|e| fail("io", format!("{}: {e}", file.display())))?;
            let mut dids = vec![did_of(ctx, &from)?];
            for t in &to {
                let d = did_of(ctx, t)?;
                if !dids.contains(&d) {
                    dids.push(d);
                }
            }
            let salt = random_hash();
            let mut salted = salt.0.to_vec();
            salted.extend_from_slice(&bytes);
            let (locator, content_hash, ciphertext_hash, size) =
                store(ctx, &from, &salted, &dids).await?;
            let call = RecordsCall::Create {
                kind: Kind::DepartmentFile,
                subject: random_hash(),
                content_hash,
                ciphertext_hash,
                size,
                locator,
            };
            let opts = crate::cli::TxOpts {
                from,
                no_wait: false,
            };
            let receipt =
                send_for_receipt(ctx, &opts, Call::new(urbis_records::MODULE, &call)).await?;
            let id = receipt
                .as_ref()
                .and_then(|r| r.events.iter().find(|e| e.kind == "created"))
                .and_then(|e| e.attr("record"))
                .unwrap_or_default()
                .to_string();
            println!("{id}");
            Ok(())
        }
        ShareCmd::Get { id, reader, out } => {
            let h = head(ctx, &id).await?;
            if h["erased"] == json!(true) {
                return Err(fail("not_found", "the share was erased"));
            }
            let (plain, _) = open_as(ctx, &h, &reader).await?;
            crate::record::write_checked(&h, &plain, &out)
        }
        ShareCmd::AddRecipient { id, from, to } => {
            let h = head(ctx, &id).await?;
            let (payload, keys) = parse_locator(h["locator"].as_str().unwrap_or_default())?;
            let (_, key) = open_as(ctx, &h, &from).await?;
            let mut dids: Vec<String> = recipients(ctx, &keys)
                .await?
                .into_iter()
                .map(|(d, _)| d)
                .collect();
            let new = did_of(ctx, &to)?;
            if dids.contains(&new) {
                return Err(fail("already_exists", format!("{new} can already read it")));
            }
            dids.push(new);
            let keys = upload(ctx, &from, key_list(ctx, &key, &payload, &dids).await?).await?;
            let call = RecordsCall::Update {
                id,
                content_hash: h["content_hash"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| fail("malformed", "content hash"))?,
                ciphertext_hash: payload,
                size: h["size"].as_u64().unwrap_or(0),
                locator: format!("urbis-blob:{payload}#keys={keys}"),
            };
            let opts = crate::cli::TxOpts {
                from,
                no_wait: false,
            };
            send(ctx, &opts, Call::new(urbis_records::MODULE, &call)).await
        }
        ShareCmd::Revoke {
            id,
            from,
            recipient,
        } => {
            let h = head(ctx, &id).await?;
            let (_, keys) = parse_locator(h["locator"].as_str().unwrap_or_default())?;
            let (salted, _) = open_as(ctx, &h, &from).await?;
            let gone = did_of(ctx, &recipient)?;
            let dids: Vec<String> = recipients(ctx, &keys)
                .await?
                .into_iter()
                .map(|(d, _)| d)
                .filter(|d| *d != gone)
                .collect();
            let (locator, content_hash, ciphertext_hash, size) =
                store(ctx, &from, &salted, &dids).await?;
            let call = RecordsCall::Update {
                id,
                content_hash,
                ciphertext_hash,
                size,
                locator,
            };
            let opts = crate::cli::TxOpts {
                from,
                no_wait: false,
            };
            send(ctx, &opts, Call::new(urbis_records::MODULE, &call)).await
        }
        ShareCmd::Log { id } => {
            let page = ctx
                .client()?
                .query_list(
                    urbis_records::MODULE,
                    &["versions", &id.to_string()],
                    1000,
                    None,
                )
                .await?;
            let mut out = Vec::new();
            for v in page.items {
                let readers = match parse_locator(v["locator"].as_str().unwrap_or_default()) {
                    Ok((_, keys)) => recipients(ctx, &keys)
                        .await
                        .map(|r| r.into_iter().map(|(d, _)| d).collect::<Vec<_>>())
                        .unwrap_or_default(),
                    Err(_) => Vec::new(),
                };
                out.push(json!({
                    "version": v["version"],
                    "at": urbis_node::identity::xml_datetime(v["updated_ms"].as_u64().unwrap_or(0)),
                    "readers": readers,
                    "erased": v["erased"],
                }));
            }
            print_json(&json!(out))
        }
    }
}
