//! `urbis consent …`: pseudonymous consent grants.
//!
//! The grantee asks (`request`: a fresh pairwise account, the purpose, the items and a random
//! salt, in a file it hands to the citizen); the citizen grants from a fresh pairwise account
//! of their own (`grant`); the grantee uses the grant (`use`); the citizen revokes it
//! (`revoke`) and reads who accessed what and when (`log`). Which pairwise account belongs to
//! which name and grant, the salt and the items stay in each party's `dids.json`: the chain
//! holds only commitments.

use clap::Subcommand;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::PathBuf;
use urbis_consent::{ConsentCall, commitments, is_scope_item, scope_commitment};
use urbis_core::{Call, Hash};

use crate::cli::TxOpts;
use crate::commands::{Ctx, send, send_for_receipt};
use crate::fail;
use crate::identity::{did_of, ensure_key, load_wallet, print_json, random_hash, save_wallet};

#[derive(Debug, Subcommand)]
pub enum ConsentCmd {
    /// Add a purpose grants may name (city admin).
    RegisterPurpose {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        code: String,
        #[arg(long)]
        description: String,
    },
    /// As a grantee (--from: a name with a DID), ask for access: writes a request file.
    Request {
        #[arg(long)]
        from: String,
        #[arg(long)]
        purpose: String,
        /// Comma-separated items: record:<id>, credential:<vct>, category:<name>.
        #[arg(long, value_delimiter = ',')]
        scope: Vec<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// As a citizen (--from), grant a request; prints the grant id.
    Grant {
        request: PathBuf,
        #[arg(long)]
        from: String,
        /// Days from now until it expires.
        #[arg(long, default_value_t = 30)]
        days: u64,
        #[arg(long, default_value_t = 1)]
        max_uses: u32,
        /// Grant as the guardian of this ward (a DID), under a guardianship credential.
        #[arg(long)]
        guardian_for: Option<String>,
        /// Submit without waiting.
        #[arg(long)]
        no_wait: bool,
    },
    /// As the grantee (--from), use a grant to read one item of its scope.
    Use {
        #[arg(long)]
        from: String,
        #[arg(long)]
        grant: Hash,
        #[arg(long)]
        item: String,
    },
    /// As the citizen (--from), revoke a grant now.
    Revoke {
        #[arg(long)]
        from: String,
        #[arg(long)]
        grant: Hash,
    },
    /// Who accessed what, when and for which purpose, under --from's grants (as grantor or
    /// grantee), from the chain's access receipts.
    Log {
        #[arg(long)]
        from: String,
    },
    /// Restore a grant into --from's wallet from the chain alone (a lost wallet): its details
    /// are sealed on chain to the grantor's and the grantee's key-agreement keys.
    Recover {
        #[arg(long)]
        from: String,
        #[arg(long)]
        grant: Hash,
    },
}

/// Domain of the sealed grant details (associated data and wrap context).
const SEALED_AAD: &[u8] = b"urbis/consent-sealed/v1";
/// Format byte of sealed details: `0x01 || wrap to the grantor (80) || wrap to the grantee (80)
/// || seal(data key, details JSON, SEALED_AAD)`; each wrap's context is `SEALED_AAD || the
/// grantee's pairwise account (20 bytes)`.
const SEALED_V1: u8 = 1;

/// What the sealed field holds (JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SealedDetails {
    grantor_did: String,
    request: Request,
    ward: Option<String>,
}

fn sealed_context(grantee: &urbis_core::Address) -> Vec<u8> {
    let mut c = SEALED_AAD.to_vec();
    c.extend_from_slice(&grantee.0);
    c
}

/// Seal `details` to the two DIDs' key-agreement keys.
async fn seal_details(
    ctx: &Ctx,
    details: &SealedDetails,
    grantee: &urbis_core::Address,
) -> anyhow::Result<Vec<u8>> {
    let key = urbis_sealing::DataKey::generate();
    let mut out = vec![SEALED_V1];
    for did in [&details.grantor_did, &details.request.grantee_did] {
        let pk = crate::record::recipient_key(ctx, did).await?;
        let w = urbis_sealing::wrap(&key, &pk, &sealed_context(grantee))
            .map_err(|e| fail("invalid_argument", e.to_string()))?;
        out.extend_from_slice(&w.to_bytes());
    }
    let json = serde_json::to_vec(details).map_err(|e| fail("internal", e.to_string()))?;
    out.extend_from_slice(&urbis_sealing::seal(&key, &json, SEALED_AAD));
    if out.len() > urbis_consent::MAX_SEALED {
        return Err(fail(
            "too_large",
            "the grant's details are too long to seal on chain (4 KiB)",
        ));
    }
    Ok(out)
}

/// Open sealed details with keystore name `name`'s key-agreement key.
fn open_details(
    ctx: &Ctx,
    name: &str,
    sealed: &[u8],
    grantee: &urbis_core::Address,
) -> anyhow::Result<SealedDetails> {
    let w = urbis_sealing::WRAP_BYTES;
    if sealed.len() < 1 + 2 * w || sealed[0] != SEALED_V1 {
        return Err(fail("not_found", "this grant carries no sealed details"));
    }
    let sk = crate::identity::agreement_key(ctx, &format!("{name}.enc"))?;
    let key = [&sealed[1..1 + w], &sealed[1 + w..1 + 2 * w]]
        .into_iter()
        .filter_map(|b| urbis_sealing::Wrap::from_bytes(b).ok())
        .find_map(|wrap| urbis_sealing::unwrap(&wrap, &sk, &sealed_context(grantee)).ok())
        .ok_or_else(|| {
            fail(
                "unauthorized",
                format!("{name} is not a party to this grant"),
            )
        })?;
    let json = urbis_sealing::open(&key, &sealed[1 + 2 * w..], SEALED_AAD)
        .map_err(|e| fail("invalid_proof", e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| fail("malformed", e.to_string()))
}

/// What the grantee hands the citizen.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    pub grantee_did: String,
    /// The grantee's pairwise account for this relationship.
    pub grantee_account: String,
    pub purpose: String,
    pub scope: Vec<String>,
    pub salt: Hash,
}

/// One relationship in a wallet.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Relationship {
    /// The keystore name this wallet entry belongs to.
    pub name: String,
    /// `grantor` or `grantee`.
    pub side: String,
    /// The pairwise key (keystore name).
    pub key: String,
    pub request: Request,
    pub grant: Option<Hash>,
    pub ward: Option<String>,
}

fn pairwise_name(wallet: &crate::identity::Wallet, name: &str) -> String {
    let n = wallet.consent.iter().filter(|r| r.name == name).count() + 1;
    format!("{name}.p{n}")
}

pub async fn consent(ctx: &Ctx, cmd: ConsentCmd) -> anyhow::Result<()> {
    match cmd {
        ConsentCmd::RegisterPurpose {
            tx,
            code,
            description,
        } => {
            let call = ConsentCall::RegisterPurpose { code, description };
            send(ctx, &tx, Call::new(urbis_consent::MODULE, &call)).await
        }
        ConsentCmd::Request {
            from,
            purpose,
            scope,
            out,
        } => {
            if scope.is_empty() || !scope.iter().all(|i| is_scope_item(i)) {
                return Err(fail(
                    "invalid_argument",
                    "scope items are record:<id>, credential:<vct> or category:<name>",
                ));
            }
            let mut wallet = load_wallet(ctx)?;
            let did = did_of(ctx, &from)?;
            let key = pairwise_name(&wallet, &from);
            ensure_key(ctx, &key)?;
            let request = Request {
                grantee_did: did,
                grantee_account: ctx.resolve_address(&key)?.to_string(),
                purpose,
                scope,
                salt: random_hash(),
            };
            let text = serde_json::to_string_pretty(&request)
                .map_err(|e| fail("internal", e.to_string()))?;
            std::fs::write(&out, text + "\n")
                .map_err(|e| fail("io", format!("{}: {e}", out.display())))?;
            wallet.consent.push(Relationship {
                name: from,
                side: "grantee".into(),
                key,
                request,
                grant: None,
                ward: None,
            });
            save_wallet(ctx, &wallet)
        }
        ConsentCmd::Grant {
            request,
            from,
            days,
            max_uses,
            guardian_for,
            no_wait,
        } => {
            let text = std::fs::read_to_string(&request)
                .map_err(|e| fail("io", format!("{}: {e}", request.display())))?;
            let req: Request = serde_json::from_str(&text)
                .map_err(|e| fail("malformed", format!("not a consent request: {e}")))?;
            let mut wallet = load_wallet(ctx)?;
            let key = pairwise_name(&wallet, &from);
            ensure_key(ctx, &key)?;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let ward = guardian_for.map(|w| did_of(ctx, &w)).transpose()?;
            let grantee = ctx.resolve_address(&req.grantee_account)?;
            let sealed = seal_details(
                ctx,
                &SealedDetails {
                    grantor_did: did_of(ctx, &from)?,
                    request: req.clone(),
                    ward: ward.clone(),
                },
                &grantee,
            )
            .await?;
            let call = ConsentCall::Grant {
                grantee,
                purpose: req.purpose.clone(),
                scope: commitments(&req.salt, &req.scope),
                not_before_ms: 0,
                expires_ms: now_ms.saturating_add(days.saturating_mul(86_400_000)),
                max_uses,
                by_guardian: ward.is_some(),
                sealed,
            };
            let opts = TxOpts {
                from: key.clone(),
                no_wait,
            };
            let receipt =
                send_for_receipt(ctx, &opts, Call::new(urbis_consent::MODULE, &call)).await?;
            let grant = receipt
                .as_ref()
                .and_then(|r| r.events.iter().find(|e| e.kind == "granted"))
                .and_then(|e| e.attr("grant"))
                .and_then(|g| g.parse::<Hash>().ok());
            wallet.consent.push(Relationship {
                name: from.clone(),
                side: "grantor".into(),
                key: key.clone(),
                request: req.clone(),
                grant,
                ward,
            });
            save_wallet(ctx, &wallet)?;
            if let Some(g) = grant {
                // Records about `from` in the scope: their key, wrapped for the grantee.
                crate::record::share_under_grant(ctx, &from, &key, g, &req).await?;
                println!("{g}");
            }
            Ok(())
        }
        ConsentCmd::Use { from, grant, item } => {
            let client = ctx.client()?;
            let g = client
                .query(urbis_consent::MODULE, &["grant", &grant.to_string()], false)
                .await?
                .value;
            let grantee = g["grantee"].as_str().unwrap_or_default().to_string();
            let mut wallet = load_wallet(ctx)?;
            let rel = wallet
                .consent
                .iter_mut()
                .find(|r| {
                    r.name == from && r.side == "grantee" && r.request.grantee_account == grantee
                })
                .ok_or_else(|| {
                    fail(
                        "unauthorized",
                        format!("{from} made no request this grant answers"),
                    )
                })?;
            rel.grant = Some(grant);
            let call = ConsentCall::Use {
                grant,
                item: scope_commitment(&rel.request.salt, &item),
            };
            let opts = TxOpts {
                from: rel.key.clone(),
                no_wait: false,
            };
            save_wallet(ctx, &wallet)?;
            send(ctx, &opts, Call::new(urbis_consent::MODULE, &call)).await
        }
        ConsentCmd::Revoke { from, grant } => {
            let wallet = load_wallet(ctx)?;
            let rel = wallet
                .consent
                .iter()
                .find(|r| r.name == from && r.side == "grantor" && r.grant == Some(grant))
                .ok_or_else(|| fail("not_found", format!("{from} made no grant {grant}")))?;
            let opts = TxOpts {
                from: rel.key.clone(),
                no_wait: false,
            };
            let call = ConsentCall::Revoke { grant };
            send(ctx, &opts, Call::new(urbis_consent::MODULE, &call)).await
        }
        ConsentCmd::Recover { from, grant } => {
            let g = ctx
                .client()?
                .query(urbis_consent::MODULE, &["grant", &grant.to_string()], false)
                .await?
                .value;
            if g.is_null() {
                return Err(fail("not_found", format!("no grant {grant}")));
            }
            let grantee: urbis_core::Address = g["grantee"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|_| fail("malformed", "grantee"))?;
            let grantor: urbis_core::Address = g["grantor"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|_| fail("malformed", "grantor"))?;
            let sealed = hex::decode(g["sealed"].as_str().unwrap_or_default())
                .map_err(|_| fail("malformed", "sealed"))?;
            let details = open_details(ctx, &from, &sealed, &grantee)?;
            let me = did_of(ctx, &from)?;
            let (side, account) = if me == details.grantor_did {
                ("grantor", grantor)
            } else if me == details.request.grantee_did {
                ("grantee", grantee)
            } else {
                return Err(fail(
                    "unauthorized",
                    format!("{from} is not a party to this grant"),
                ));
            };
            let ks = ctx.keystore()?;
            let key = ks
                .name_of(&account)
                .ok_or_else(|| {
                    fail(
                        "not_found",
                        format!(
                            "the pairwise key of this grant ({account}) is not in the keystore"
                        ),
                    )
                })?
                .to_string();
            let mut wallet = load_wallet(ctx)?;
            if !wallet
                .consent
                .iter()
                .any(|r| r.name == from && r.grant == Some(grant))
            {
                wallet.consent.push(Relationship {
                    name: from,
                    side: side.into(),
                    key,
                    request: details.request,
                    grant: Some(grant),
                    ward: details.ward,
                });
                save_wallet(ctx, &wallet)?;
            }
            println!("{grant}");
            Ok(())
        }
        ConsentCmd::Log { from } => {
            let client = ctx.client()?;
            let wallet = load_wallet(ctx)?;
            let mut out = Vec::new();
            for rel in wallet.consent.iter().filter(|r| r.name == from) {
                let Some(grant) = rel.grant else { continue };
                let id = grant.to_string();
                let g = client
                    .query(urbis_consent::MODULE, &["grant", &id], false)
                    .await?
                    .value;
                let page = client
                    .query_list(urbis_consent::MODULE, &["uses", &id], 1000, None)
                    .await?;
                let item_of = |c: &Value| -> String {
                    rel.request
                        .scope
                        .iter()
                        .find(|i| json!(scope_commitment(&rel.request.salt, i)) == *c)
                        .cloned()
                        .unwrap_or_else(|| "?".into())
                };
                let uses: Vec<Value> = page
                    .items
                    .iter()
                    .map(|u| {
                        json!({
                            "n": u["n"],
                            "at": urbis_node::identity::xml_datetime(u["at_ms"].as_u64().unwrap_or(0)),
                            "item": item_of(&u["item"]),
                            "tx": u["tx"],
                        })
                    })
                    .collect();
                out.push(json!({
                    "grant": id,
                    "side": rel.side,
                    "grantee": rel.request.grantee_did,
                    "purpose": rel.request.purpose,
                    "scope": rel.request.scope,
                    "by_guardian_for": rel.ward,
                    "expires": urbis_node::identity::xml_datetime(g["expires_ms"].as_u64().unwrap_or(0)),
                    "max_uses": g["max_uses"],
                    "revoked": g["revoked_ms"].as_u64().map(urbis_node::identity::xml_datetime),
                    "accesses": uses,
                }));
            }
            print_json(&json!(out))
        }
    }
}
