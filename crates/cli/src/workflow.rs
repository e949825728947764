//! `urbis workflow …`: administrative processes declared as data (the `governance` module's
//! workflow interpreter; shipped definitions in `workflows/`).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use urbis_core::{Call, Hash};
use urbis_governance::{GovernanceCall, MODULE};

use crate::cli::{Output, TxOpts};
use crate::commands::{Ctx, file_hash, send_for_receipt};
use crate::fail;
use crate::identity::print_json;

#[derive(Debug, Subcommand)]
pub enum WorkflowCmd {
    /// Define a workflow (or its next version) from a JSON file, or a TOML one (`.toml`, the
    /// same fields); `${NAME}` in the file is replaced by each --var NAME=VALUE first (city
    /// admin or a department).
    Define {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        file: PathBuf,
        #[arg(long = "var")]
        vars: Vec<String>,
    },
    /// Every workflow with its latest version.
    List,
    /// Start a process of a workflow (its fee, if any, is held from you); SUBJECT is the
    /// application, each --document an attachment (only their SHA-256 go on chain). Prints the
    /// instance's id.
    Start {
        #[command(flatten)]
        tx: TxOpts,
        workflow: String,
        #[arg(long)]
        subject: PathBuf,
        #[arg(long = "document")]
        documents: Vec<PathBuf>,
    },
    /// Take (or approve) a transition of a process, optionally with a document (e.g. an
    /// objection's text).
    Act {
        #[command(flatten)]
        tx: TxOpts,
        instance: Hash,
        transition: String,
        #[arg(long)]
        document: Option<PathBuf>,
    },
    /// A process: its state, steps, remarks (objections), pending approvals, times, and the
    /// permit it issued.
    Show { instance: Hash },
    /// Issue the SD-JWT VC (type urn:urbis:permit) of a permit a process issued, as the
    /// permit's issuer (--from: the keystore name whose DID the workflow names), bound to the
    /// holder's DID (--subject: a DID the applicant's account controls), with the status entry
    /// the chain assigned; anyone checks it with `urbis credential verify`, the issuer revokes
    /// it with `urbis did status`.
    Credential {
        instance: Hash,
        #[arg(long)]
        from: String,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A workflow's definition: its latest version, or VERSION.
    Definition {
        name: String,
        #[arg(value_name = "VERSION")]
        revision: Option<u32>,
    },
}

/// The file's text with each `${NAME}` replaced; an unreplaced placeholder is an error.
fn fill(path: &Path, vars: &[String]) -> anyhow::Result<String> {
    let mut text = std::fs::read_to_string(path)
        .map_err(|e| fail("io", format!("{}: {e}", path.display())))?;
    for v in vars {
        let (name, value) = v
            .split_once('=')
            .ok_or_else(|| fail("invalid_argument", format!("--var {v:?} is NAME=VALUE")))?;
        text = text.replace(&format!("${{{name}}}"), value);
    }
    if let Some(at) = text.find("${") {
        let rest: String = text[at..].chars().take(40).collect();
        return Err(fail(
            "invalid_argument",
            format!("the definition still has a placeholder: {rest}… (give it with --var)"),
        ));
    }
    // Compact JSON on chain, from a JSON or (`.toml`) TOML file.
    let json: serde_json::Value = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).map_err(|e| {
            fail(
                "invalid_argument",
                format!("{}: not TOML: {e}", path.display()),
            )
        })?
    } else {
        serde_json::from_str(&text).map_err(|e| {
            fail(
                "invalid_argument",
                format!("{}: not JSON: {e}", path.display()),
            )
        })?
    };
    Ok(json.to_string())
}

pub async fn workflow(ctx: &Ctx, cmd: WorkflowCmd) -> anyhow::Result<()> {
    let send = |tx: TxOpts, c: GovernanceCall| async move {
        send_for_receipt(ctx, &tx, Call::new(MODULE, &c)).await
    };
    match cmd {
        WorkflowCmd::Define { tx, file, vars } => {
            let definition = fill(&file, &vars)?;
            let r = send(tx, GovernanceCall::DefineWorkflow { definition }).await?;
            if let Some(e) = r
                .as_ref()
                .and_then(|r| r.events.iter().find(|e| e.kind == "workflow_defined"))
            {
                println!(
                    "{} v{}",
                    e.attr("workflow_id").unwrap_or_default(),
                    e.attr("version").unwrap_or_default()
                );
            }
            Ok(())
        }
        WorkflowCmd::List => {
            let page = ctx
                .client()?
                .query_list(MODULE, &["workflows"], 1_000, None)
                .await?;
            match ctx.out {
                Output::Json => print_json(&serde_json::Value::Array(page.items)),
                Output::Table => {
                    for w in &page.items {
                        println!("{} v{}", w["name"].as_str().unwrap_or(""), w["latest"]);
                    }
                    Ok(())
                }
            }
        }
        WorkflowCmd::Start {
            tx,
            workflow,
            subject,
            documents,
        } => {
            let c = GovernanceCall::StartWorkflow {
                workflow,
                subject_hash: file_hash(&subject)?,
                documents: documents
                    .iter()
                    .map(|d| file_hash(d))
                    .collect::<anyhow::Result<_>>()?,
            };
            let r = send(tx, c).await?;
            if let Some(id) = r
                .as_ref()
                .and_then(|r| r.events.iter().find(|e| e.kind == "started"))
                .and_then(|e| e.attr("id"))
            {
                println!("{id}");
            }
            Ok(())
        }
        WorkflowCmd::Act {
            tx,
            instance,
            transition,
            document,
        } => {
            let c = GovernanceCall::Act {
                instance,
                transition,
                document_hash: document.as_deref().map(file_hash).transpose()?,
            };
            send(tx, c).await.map(drop)
        }
        WorkflowCmd::Show { instance } => {
            let client = ctx.client()?;
            let id = instance.to_string();
            let i = client.query(MODULE, &["instance", &id], false).await?.value;
            let permit = client.query(MODULE, &["permit", &id], false).await;
            let permit = match permit {
                Ok(p) => p.value,
                Err(e) if e.is(urbis_core::ErrorCode::NotFound) => serde_json::Value::Null,
                Err(e) => return Err(e.into()),
            };
            let remarks = client.query_list_all(MODULE, &["remarks", &id]).await?;
            print_json(&serde_json::json!({"instance": i, "remarks": remarks, "permit": permit}))
        }
        WorkflowCmd::Credential {
            instance,
            from,
            subject,
            out,
        } => permit_credential(ctx, instance, &from, &subject, out.as_deref()).await,
        WorkflowCmd::Definition {
            name,
            revision: version,
        } => {
            let client = ctx.client()?;
            let version = match version {
                Some(v) => v,
                None => client
                    .query(MODULE, &["workflow", &name], false)
                    .await?
                    .value
                    .as_u64()
                    .unwrap_or(0) as u32,
            };
            let v = client
                .query(MODULE, &["workflow", &name, &version.to_string()], false)
                .await?
                .value;
            print_json(&v)
        }
    }
}

/// `urbis workflow credential`: the permit as read from the chain, signed as a credential.
async fn permit_credential(
    ctx: &Ctx,
    instance: Hash,
    from: &str,
    subject: &str,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let id = instance.to_string();
    let permit = client.query(MODULE, &["permit", &id], false).await?.value;
    if permit.is_null() {
        return Err(fail("not_found", format!("process {id} issued no permit")));
    }
    let c = &permit["credential"];
    let (Some(issuer), Some(list), Some(idx)) = (
        c["issuer"].as_str(),
        c["status_list"].as_u64(),
        c["status_idx"].as_u64(),
    ) else {
        return Err(fail(
            "invalid_state",
            format!("the workflow of process {id} issues its permits without a credential"),
        ));
    };
    let wallet = crate::identity::load_wallet(ctx)?;
    if crate::identity::entry(&wallet, from)?.did != issuer {
        return Err(fail(
            "unauthorized",
            format!("the permit is issued by {issuer}, not by {from}'s DID"),
        ));
    }
    // The credential binds to a DID of the permit's holder, no one else's.
    let subject_did = crate::identity::did_of(ctx, subject)?;
    let record = client
        .query(urbis_identity::MODULE, &["did", &subject_did], false)
        .await?
        .value;
    let holder = permit["holder"].as_str().unwrap_or_default();
    if record["controller"].as_str() != Some(holder) {
        return Err(fail(
            "unauthorized",
            format!("{subject_did} is not controlled by the permit's holder {holder}"),
        ));
    }
    let ms = |k: &str| permit[k].as_u64().unwrap_or(0);
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({
            "permit_type": permit["permit_type"],
            "workflow": permit["workflow"],
            "instance": id,
            "subject_hash": permit["subject_hash"],
            "issued": ms("issued_ms") / 1_000,
            "valid_until": ms("valid_until_ms") / 1_000,
        }))
        .map_err(|e| fail("internal", e.to_string()))?;
    let (compact, _, _) = crate::identity::issue_credential(
        ctx,
        from,
        urbis_governance::workflow::PERMIT_VCT,
        &subject_did,
        claims,
        list,
        crate::identity::StatusPick::Assigned(idx),
        Some(ms("valid_until_ms") / 1_000),
    )
    .await?;
    eprintln!("issued the permit of {id} to {subject_did} (status list {list}, entry {idx})");
    crate::identity::write_out(out, &compact)
}
