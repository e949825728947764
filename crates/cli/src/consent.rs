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
            let call = ConsentCall::Grant {
                grantee: ctx.resolve_address(&req.grantee_account)?,
                purpose: req.purpose.clone(),
                scope: commitments(&req.salt, &req.scope),
                not_before_ms: 0,
                expires_ms: now_ms.saturating_add(days.saturating_mul(86_400_000)),
                max_uses,
                by_guardian: ward.is_some(),
                sealed: Vec::new(),
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
