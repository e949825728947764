//! `urbis notice …`: the city's notice board (see the `notices` module).

use clap::Subcommand;
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;
use urbis_core::{Call, Hash};
use urbis_notices::NoticesCall;

use crate::cli::TxOpts;
use crate::commands::{Ctx, send, send_for_receipt};
use crate::fail;
use crate::identity::print_json;

#[derive(Debug, Subcommand)]
pub enum NoticeCmd {
    /// Publish a notice (a department or the city admin): its full text is FILE (only its
    /// SHA-256 goes on chain); prints its id.
    Publish {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        title: String,
        #[arg(long)]
        text: PathBuf,
        /// e.g. roadworks, water, elections (a-z 0-9 -).
        #[arg(long)]
        category: String,
        #[arg(long)]
        district: Option<String>,
        /// Days until it comes down by itself.
        #[arg(long)]
        days: Option<u64>,
        /// Ask residents to acknowledge it.
        #[arg(long)]
        ack: bool,
    },
    /// Acknowledge a notice that asks for it (a resident, once).
    Acknowledge {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
    },
    /// A notice, with its category, district and acknowledgements.
    Show { id: Hash },
}

pub async fn notice(ctx: &Ctx, cmd: NoticeCmd) -> anyhow::Result<()> {
    let module = urbis_notices::MODULE;
    match cmd {
        NoticeCmd::Publish {
            tx,
            title,
            text,
            category,
            district,
            days,
            ack,
        } => {
            let bytes =
                std::fs::read(&text).map_err(|e| fail("io", format!("{}: {e}", text.display())))?;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let call = NoticesCall::Publish {
                title,
                body_hash: Hash(Sha256::digest(&bytes).into()),
                category,
                district,
                expires_ms: days.map(|d| now_ms.saturating_add(d.saturating_mul(86_400_000))),
                ack_required: ack,
            };
            let receipt = send_for_receipt(ctx, &tx, Call::new(module, &call)).await?;
            if let Some(id) = receipt
                .as_ref()
                .and_then(|r| r.events.iter().find(|e| e.kind == "posted"))
                .and_then(|e| e.attr("id"))
            {
                println!("{id}");
            }
            Ok(())
        }
        NoticeCmd::Acknowledge { tx, id } => {
            send(
                ctx,
                &tx,
                Call::new(module, &NoticesCall::Acknowledge { id }),
            )
            .await
        }
        NoticeCmd::Show { id } => {
            let client = ctx.client()?;
            let n = client
                .query(module, &["notice", &id.to_string()], false)
                .await?
                .value;
            if n.is_null() {
                return Err(fail("not_found", format!("no notice {id} on the board")));
            }
            let meta = client
                .query(module, &["meta", &id.to_string()], false)
                .await?
                .value;
            print_json(&serde_json::json!({"notice": n, "meta": meta}))
        }
    }
}
