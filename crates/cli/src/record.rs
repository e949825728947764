//! `urbis record …`: records kept encrypted by a custodian about a pseudonymous subject, with
//! their data keys in the node's vault (released under the chain's rules: no log, no key).
//!
//! - The citizen makes a pseudonym for each custodian (`pseudonym`): a fresh pairwise account,
//!   of which the chain sees only `sha256_domain("urbis/records-subject/v1", account)`.
//! - The custodian (`put`, `update`) seals `salt (32 bytes) || file` under a fresh data key
//!   (XChaCha20-Poly1305, AAD `urbis/record/v1`), uploads it as a blob, records the head
//!   (locator `urbis-blob:<hash>`, content hash `SHA-256(salt || file)`) and stores the key,
//!   wrapped (HPKE) for itself, for the subject's DID and, for a health record, for the
//!   city's emergency reader, in the vault. Wrap context: `urbis/record/v1 || payload hash`.
//! - A reader (`get`) is the custodian, the subject, a grantee (who first uses the consent
//!   grant on chain: the access receipt is the log entry the vault asks for) or, in an
//!   emergency, a hospital (which first commits a break-glass entry).
//! - `urbis consent grant` of a request whose scope holds `record:<id>` also stores, for that
//!   grant, a wrap of the record's current key for the grantee.
//! - `log` shows a citizen every record about them, every emergency opening and every read
//!   under their grants; `erase` crypto-shreds (custodian, or subject where allowed).

use std::path::PathBuf;

use clap::Subcommand;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use urbis_consent::{ConsentCall, scope_commitment};
use urbis_core::{Call, Hash, sha256_domain};
use urbis_records::{Kind, RecordsCall, subject_pseudonym};
use urbis_sealing::{DataKey, Wrap};

use crate::blob::{download, signed_post, upload};
use crate::cli::TxOpts;
use crate::commands::{Ctx, send, send_for_receipt};
use crate::fail;
use crate::identity::{
    agreement_key, did_of, ensure_key, load_wallet, print_json, random_hash, save_wallet,
};

const AAD: &[u8] = b"urbis/record/v1";

#[derive(Debug, Subcommand)]
pub enum RecordCmd {
    /// As a citizen (--from), make the pseudonym a custodian will name you by; prints it.
    Pseudonym {
        #[arg(long)]
        from: String,
        /// The custodian (a name or DID: only a label in your wallet).
        #[arg(long)]
        custodian: String,
    },
    /// As a custodian (--from), encrypt FILE and record it about a subject; prints the id.
    Put {
        file: PathBuf,
        #[arg(long)]
        from: String,
        /// health, identity_document, deed or department_file.
        #[arg(long)]
        kind: String,
        /// The subject's pseudonym for this custodian.
        #[arg(long)]
        subject: Hash,
        /// The subject's DID (its key-agreement key receives the subject's wrap).
        #[arg(long)]
        subject_did: String,
    },
    /// As its custodian (--from), record a new version of a record (a new data key).
    Update {
        id: Hash,
        file: PathBuf,
        #[arg(long)]
        from: String,
        #[arg(long)]
        subject_did: String,
    },
    /// Decrypt a record as NAME: its custodian, its subject, a grantee (--grant) or a hospital
    /// in an emergency (--emergency).
    Get {
        id: Hash,
        #[arg(long = "as")]
        reader: String,
        #[arg(long)]
        out: PathBuf,
        /// Read under this consent grant (the read is logged on chain first).
        #[arg(long)]
        grant: Option<Hash>,
        /// Break the glass (a hospital; logged on chain and shown to the subject).
        #[arg(long)]
        emergency: bool,
        /// Why (required with --emergency; only its hash goes on chain).
        #[arg(long)]
        reason: Option<String>,
        /// The keystore name holding the emergency reader's DID (default: --as).
        #[arg(long)]
        reader_key: Option<String>,
    },
    /// Erase a record (its custodian, or its subject where the law allows): every node
    /// destroys its ciphertext and wrapped keys; the head stays as a tombstone.
    Erase {
        id: Hash,
        #[arg(long)]
        from: String,
    },
    /// As a citizen (--from): every record about you, who opened it in an emergency, and who
    /// read it under your grants.
    Log {
        #[arg(long)]
        from: String,
    },
}

/// A citizen's pseudonym for one custodian.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubjectLink {
    pub name: String,
    pub custodian: String,
    /// The pairwise key (keystore name).
    pub key: String,
    pub pseudonym: Hash,
}

fn context(payload: &Hash) -> Vec<u8> {
    let mut c = AAD.to_vec();
    c.extend_from_slice(&payload.0);
    c
}

fn payload_of(h: &Value) -> anyhow::Result<Hash> {
    h["locator"]
        .as_str()
        .and_then(|l| l.strip_prefix("urbis-blob:"))
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| fail("malformed", "not a vault record's locator"))
}

async fn head(ctx: &Ctx, id: &Hash) -> anyhow::Result<Value> {
    let h = ctx
        .client()?
        .query(urbis_records::MODULE, &["head", &id.to_string()], false)
        .await?
        .value;
    if h.is_null() {
        return Err(fail("not_found", format!("no record {id}")));
    }
    Ok(h)
}

/// The X25519 key-agreement key of a DID, resolved from the chain.
pub(crate) async fn recipient_key(ctx: &Ctx, did: &str) -> anyhow::Result<[u8; 32]> {
    let r = ctx.client()?.resolve_did(did, None, None, false).await?;
    match crate::identity::method_key(&r["didDocument"], did, "enc-1", "keyAgreement") {
        Some(urbis_credentials::jose::PublicJwk::X25519(x)) => Ok(x),
        _ => Err(fail(
            "invalid_argument",
            format!("{did} has no X25519 key-agreement key enc-1"),
        )),
    }
}

async fn store_wrap(
    ctx: &Ctx,
    signer: &str,
    id: &Hash,
    version: u64,
    slot: &str,
    extra: Value,
    wrap: &Wrap,
) -> anyhow::Result<()> {
    let mut body = json!({
        "record": id.to_hex(), "version": version, "slot": slot,
        "wrap": hex::encode(wrap.to_bytes()),
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    signed_post(
        ctx,
        signer,
        urbis_node::vault::VAULT_TAG,
        &format!("/v1/records/{id}/wraps"),
        &body,
    )
    .await
    .map(drop)
}

async fn release(ctx: &Ctx, signer: &str, id: &Hash, request: Value) -> anyhow::Result<Wrap> {
    let mut body = json!({"record": id.to_hex()});
    if let (Some(b), Some(e)) = (body.as_object_mut(), request.as_object()) {
        b.extend(e.clone());
    }
    let answer = signed_post(
        ctx,
        signer,
        urbis_node::vault::VAULT_TAG,
        &format!("/v1/records/{id}/key"),
        &body,
    )
    .await?;
    let bytes = hex::decode(answer["wrap"].as_str().unwrap_or_default())
        .map_err(|_| fail("malformed", "wrap"))?;
    Wrap::from_bytes(&bytes).map_err(|e| fail("malformed", e.to_string()))
}

/// Seal `file` for a new version `version` of `id` (0: not created yet) and store its blob;
/// (data key, payload hash, content hash, size).
async fn seal_and_upload(
    ctx: &Ctx,
    from: &str,
    file: &PathBuf,
) -> anyhow::Result<(DataKey, Hash, Hash, u64)> {
    let bytes = std::fs::read(file).map_err(|e| fail("io", format!("{}: {e}", file.display())))?;
    let mut salted = random_hash().0.to_vec();
    salted.extend_from_slice(&bytes);
    let key = DataKey::generate();
    let sealed = urbis_sealing::seal(&key, &salted, AAD);
    let size = sealed.len() as u64;
    let payload = upload(ctx, from, sealed).await?;
    let content = Hash(Sha256::digest(&salted).into());
    Ok((key, payload, content, size))
}

/// Store the custodian's, the subject's and (health) the emergency reader's wraps.
#[allow(clippy::too_many_arguments)]
async fn custodian_wraps(
    ctx: &Ctx,
    from: &str,
    id: &Hash,
    version: u64,
    kind: Kind,
    key: &DataKey,
    payload: &Hash,
    subject_did: &str,
) -> anyhow::Result<()> {
    let mut slots = vec![
        ("custodian", did_of(ctx, from)?),
        ("subject", did_of(ctx, subject_did)?),
    ];
    if kind == Kind::Health {
        let config = ctx
            .client()?
            .query(urbis_records::MODULE, &["config"], false)
            .await?
            .value;
        if let Some(d) = config["emergency_reader"].as_str() {
            slots.push(("emergency", d.to_string()));
        }
    }
    for (slot, did) in slots {
        let pk = recipient_key(ctx, &did).await?;
        let w = urbis_sealing::wrap(key, &pk, &context(payload))
            .map_err(|e| fail("invalid_argument", e.to_string()))?;
        store_wrap(ctx, from, id, version, slot, json!({}), &w).await?;
    }
    Ok(())
}

fn created_id(receipt: &Option<urbis_core::Receipt>) -> Option<Hash> {
    receipt
        .as_ref()
        .and_then(|r| r.events.iter().find(|e| e.kind == "created"))
        .and_then(|e| e.attr("record"))
        .and_then(|r| r.parse().ok())
}

/// Who `name` is to the record `h`: the signing key and the vault request.
enum Reader {
    Custodian,
    Subject(String),
}

fn reader_of(ctx: &Ctx, h: &Value, name: &str) -> anyhow::Result<Reader> {
    let me = ctx.resolve_address(name)?.to_string();
    if h["custodian"].as_str() == Some(me.as_str()) {
        return Ok(Reader::Custodian);
    }
    let wallet = load_wallet(ctx)?;
    let subject = h["subject"].as_str().unwrap_or_default();
    wallet
        .records
        .iter()
        .find(|l| l.name == name && l.pseudonym.to_string() == subject)
        .map(|l| Reader::Subject(l.key.clone()))
        .ok_or_else(|| {
            fail(
                "unauthorized",
                format!("{name} is neither the custodian nor the subject of this record"),
            )
        })
}

/// The data key of the record's current version, read as `name` (custodian or subject).
async fn own_key(ctx: &Ctx, h: &Value, id: &Hash, name: &str) -> anyhow::Result<DataKey> {
    let (signer, role) = match reader_of(ctx, h, name)? {
        Reader::Custodian => (name.to_string(), "custodian"),
        Reader::Subject(k) => (k, "subject"),
    };
    let w = release(ctx, &signer, id, json!({"as": role})).await?;
    unwrap_as(ctx, name, &w, &payload_of(h)?)
}

fn unwrap_as(ctx: &Ctx, name: &str, w: &Wrap, payload: &Hash) -> anyhow::Result<DataKey> {
    let sk = agreement_key(ctx, &format!("{name}.enc"))?;
    urbis_sealing::unwrap(w, &sk, &context(payload)).map_err(|e| {
        fail(
            "invalid_proof",
            format!("the wrapped key does not open: {e}"),
        )
    })
}

/// After `urbis consent grant`: for each `record:<id>` of the request that is about `from`,
/// store a wrap of its current key for the grantee, signed by the grantor's pairwise `key`.
pub(crate) async fn share_under_grant(
    ctx: &Ctx,
    from: &str,
    grantor_key: &str,
    grant: Hash,
    request: &crate::consent::Request,
) -> anyhow::Result<()> {
    for item in &request.scope {
        let Some(id) = item
            .strip_prefix("record:")
            .and_then(|r| r.parse::<Hash>().ok())
        else {
            continue;
        };
        let h = head(ctx, &id).await?;
        if h["erased"] == json!(true) || !matches!(reader_of(ctx, &h, from), Ok(Reader::Subject(_)))
        {
            continue;
        }
        let key = own_key(ctx, &h, &id, from).await?;
        let payload = payload_of(&h)?;
        let pk = recipient_key(ctx, &request.grantee_did).await?;
        let w = urbis_sealing::wrap(&key, &pk, &context(&payload))
            .map_err(|e| fail("invalid_argument", e.to_string()))?;
        let version = h["version"].as_u64().unwrap_or(1);
        store_wrap(
            ctx,
            grantor_key,
            &id,
            version,
            "grant",
            json!({"grant": grant, "salt": request.salt}),
            &w,
        )
        .await?;
        eprintln!("record {id} (version {version}) shared with the grantee under grant {grant}");
    }
    Ok(())
}

/// Check `salt || file` against the head's content hash and write the file to `out`.
pub(crate) fn write_checked(h: &Value, salted: &[u8], out: &PathBuf) -> anyhow::Result<()> {
    if salted.len() < 32
        || Hash(Sha256::digest(salted).into()).to_string()
            != h["content_hash"].as_str().unwrap_or_default()
    {
        return Err(fail(
            "invalid_proof",
            "the content is not what the record attests",
        ));
    }
    std::fs::write(out, &salted[32..])
        .map_err(|e| fail("io", format!("{}: {e}", out.display())))?;
    eprintln!("{} bytes written to {}", salted.len() - 32, out.display());
    Ok(())
}

fn parse_kind(kind: &str) -> anyhow::Result<Kind> {
    serde_json::from_value(json!(kind)).map_err(|_| {
        fail(
            "invalid_argument",
            "kind is health, identity_document, deed or department_file",
        )
    })
}

pub async fn record(ctx: &Ctx, cmd: RecordCmd) -> anyhow::Result<()> {
    match cmd {
        RecordCmd::Pseudonym { from, custodian } => {
            let mut wallet = load_wallet(ctx)?;
            if let Some(l) = wallet
                .records
                .iter()
                .find(|l| l.name == from && l.custodian == custodian)
            {
                println!("{}", l.pseudonym);
                return Ok(());
            }
            let n = wallet.records.iter().filter(|l| l.name == from).count() + 1;
            let key = format!("{from}.r{n}");
            ensure_key(ctx, &key)?;
            let pseudonym = subject_pseudonym(&ctx.resolve_address(&key)?);
            wallet.records.push(SubjectLink {
                name: from,
                custodian,
                key,
                pseudonym,
            });
            save_wallet(ctx, &wallet)?;
            println!("{pseudonym}");
            Ok(())
        }
        RecordCmd::Put {
            file,
            from,
            kind,
            subject,
            subject_did,
        } => {
            let kind = parse_kind(&kind)?;
            let (key, payload, content_hash, size) = seal_and_upload(ctx, &from, &file).await?;
            let call = RecordsCall::Create {
                kind,
                subject,
                content_hash,
                ciphertext_hash: payload,
                size,
                locator: format!("urbis-blob:{payload}"),
            };
            let opts = TxOpts {
                from: from.clone(),
                no_wait: false,
            };
            let receipt =
                send_for_receipt(ctx, &opts, Call::new(urbis_records::MODULE, &call)).await?;
            let id = created_id(&receipt)
                .ok_or_else(|| fail("internal", "the receipt names no record"))?;
            custodian_wraps(ctx, &from, &id, 1, kind, &key, &payload, &subject_did).await?;
            println!("{id}");
            Ok(())
        }
        RecordCmd::Update {
            id,
            file,
            from,
            subject_did,
        } => {
            let h = head(ctx, &id).await?;
            let kind = parse_kind(h["kind"].as_str().unwrap_or_default())?;
            let (key, payload, content_hash, size) = seal_and_upload(ctx, &from, &file).await?;
            let call = RecordsCall::Update {
                id,
                content_hash,
                ciphertext_hash: payload,
                size,
                locator: format!("urbis-blob:{payload}"),
            };
            let opts = TxOpts {
                from: from.clone(),
                no_wait: false,
            };
            send(ctx, &opts, Call::new(urbis_records::MODULE, &call)).await?;
            let version = head(ctx, &id).await?["version"].as_u64().unwrap_or(0);
            custodian_wraps(ctx, &from, &id, version, kind, &key, &payload, &subject_did).await
        }
        RecordCmd::Get {
            id,
            reader,
            out,
            grant,
            emergency,
            reason,
            reader_key,
        } => {
            let h = head(ctx, &id).await?;
            if h["erased"] == json!(true) {
                return Err(fail("erased", "the record was erased"));
            }
            let payload = payload_of(&h)?;
            let key = if emergency {
                let reason = reason.ok_or_else(|| {
                    fail(
                        "invalid_argument",
                        "--emergency needs --reason (logged as a hash)",
                    )
                })?;
                let call = RecordsCall::BreakGlass {
                    id,
                    reason: sha256_domain(b"urbis/break-glass-reason/v1", &[reason.as_bytes()]),
                };
                let opts = TxOpts {
                    from: reader.clone(),
                    no_wait: false,
                };
                send(ctx, &opts, Call::new(urbis_records::MODULE, &call)).await?;
                let w = release(ctx, &reader, &id, json!({"as": "emergency"})).await?;
                unwrap_as(ctx, reader_key.as_deref().unwrap_or(&reader), &w, &payload)?
            } else if let Some(grant) = grant {
                let mut wallet = load_wallet(ctx)?;
                let g = ctx
                    .client()?
                    .query(urbis_consent::MODULE, &["grant", &grant.to_string()], false)
                    .await?
                    .value;
                let grantee = g["grantee"].as_str().unwrap_or_default().to_string();
                let rel = wallet
                    .consent
                    .iter_mut()
                    .find(|r| {
                        r.name == reader
                            && r.side == "grantee"
                            && r.request.grantee_account == grantee
                    })
                    .ok_or_else(|| {
                        fail(
                            "unauthorized",
                            format!("{reader} made no request this grant answers"),
                        )
                    })?;
                rel.grant = Some(grant);
                let (pairwise, salt) = (rel.key.clone(), rel.request.salt);
                save_wallet(ctx, &wallet)?;
                // No log, no key: the read is an access receipt on chain first.
                let call = ConsentCall::Use {
                    grant,
                    item: scope_commitment(&salt, &format!("record:{id}")),
                };
                let opts = TxOpts {
                    from: pairwise.clone(),
                    no_wait: false,
                };
                let receipt =
                    send_for_receipt(ctx, &opts, Call::new(urbis_consent::MODULE, &call)).await?;
                let n: u32 = receipt
                    .as_ref()
                    .and_then(|r| r.events.iter().find(|e| e.kind == "used"))
                    .and_then(|e| e.attr("n"))
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| fail("internal", "the receipt names no use"))?;
                let w = release(
                    ctx,
                    &pairwise,
                    &id,
                    json!({"as": "grant", "grant": grant, "salt": salt, "receipt": n}),
                )
                .await?;
                unwrap_as(ctx, &reader, &w, &payload)?
            } else {
                own_key(ctx, &h, &id, &reader).await?
            };
            let sealed = download(ctx, &payload).await?;
            let plain = urbis_sealing::open(&key, &sealed, AAD)
                .map_err(|e| fail("invalid_proof", e.to_string()))?;
            write_checked(&h, &plain, &out)
        }
        RecordCmd::Erase { id, from } => {
            let h = head(ctx, &id).await?;
            let signer = match reader_of(ctx, &h, &from)? {
                Reader::Custodian => from,
                Reader::Subject(k) => k,
            };
            let opts = TxOpts {
                from: signer,
                no_wait: false,
            };
            send(
                ctx,
                &opts,
                Call::new(urbis_records::MODULE, &RecordsCall::Erase { id }),
            )
            .await
        }
        RecordCmd::Log { from } => {
            let client = ctx.client()?;
            let wallet = load_wallet(ctx)?;
            let mut out = Vec::new();
            for link in wallet.records.iter().filter(|l| l.name == from) {
                let ids = client
                    .query_list(
                        urbis_records::MODULE,
                        &["about", &link.pseudonym.to_string()],
                        1000,
                        None,
                    )
                    .await?;
                for id in ids.items {
                    let id = id.as_str().unwrap_or_default().to_string();
                    let h = client
                        .query(urbis_records::MODULE, &["head", &id], false)
                        .await?
                        .value;
                    let emergencies = client
                        .query_list(urbis_records::MODULE, &["emergency", &id], 1000, None)
                        .await?
                        .items
                        .into_iter()
                        .map(|e| {
                            json!({
                                "n": e["n"],
                                "at": urbis_node::identity::xml_datetime(e["at_ms"].as_u64().unwrap_or(0)),
                                "by": e["by"],
                                "tx": e["tx"],
                            })
                        })
                        .collect::<Vec<_>>();
                    let item = format!("record:{id}");
                    let mut reads = Vec::new();
                    for rel in wallet.consent.iter().filter(|r| {
                        r.name == from && r.side == "grantor" && r.request.scope.contains(&item)
                    }) {
                        let Some(grant) = rel.grant else { continue };
                        let c = json!(scope_commitment(&rel.request.salt, &item));
                        let uses = client
                            .query_list(
                                urbis_consent::MODULE,
                                &["uses", &grant.to_string()],
                                1000,
                                None,
                            )
                            .await?;
                        for u in uses.items.into_iter().filter(|u| u["item"] == c) {
                            reads.push(json!({
                                "grant": grant,
                                "grantee": rel.request.grantee_did,
                                "purpose": rel.request.purpose,
                                "at": urbis_node::identity::xml_datetime(u["at_ms"].as_u64().unwrap_or(0)),
                                "tx": u["tx"],
                            }));
                        }
                    }
                    out.push(json!({
                        "record": id,
                        "custodian": link.custodian,
                        "kind": h["kind"],
                        "version": h["version"],
                        "erased": h["erased"],
                        "reads_under_grants": reads,
                        "emergency_openings": emergencies,
                    }));
                }
            }
            print_json(&json!(out))
        }
    }
}
