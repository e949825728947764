//! `urbis poll …`: consultations and polls (see the `polls` module).

use clap::Subcommand;
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;
use urbis_core::{Call, Hash};
use urbis_polls::PollsCall;

use crate::cli::TxOpts;
use crate::commands::{Ctx, send, send_for_receipt};
use crate::fail;
use crate::identity::print_json;

#[derive(Debug, Subcommand)]
pub enum PollCmd {
    /// Ask a question (a department or the city admin); prints the poll's id.
    Create {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        question: String,
        /// An option (repeat, 2 to 16).
        #[arg(long = "option", required = true)]
        options: Vec<String>,
        /// Days it stays open.
        #[arg(long, default_value_t = 14)]
        days: u64,
    },
    /// Respond (a resident, once): the option's number from 0, and optionally a comment FILE
    /// (only its SHA-256 goes on chain).
    Respond {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
        #[arg(long)]
        option: u32,
        #[arg(long)]
        comment: Option<PathBuf>,
    },
    /// A poll with its counts per option.
    Show { id: Hash },
}

pub async fn poll(ctx: &Ctx, cmd: PollCmd) -> anyhow::Result<()> {
    let module = urbis_polls::MODULE;
    match cmd {
        PollCmd::Create {
            tx,
            question,
            options,
            days,
        } => {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let call = PollsCall::Create {
                question,
                options,
                closes_ms: now_ms.saturating_add(days.saturating_mul(86_400_000)),
            };
            let receipt = send_for_receipt(ctx, &tx, Call::new(module, &call)).await?;
            if let Some(id) = receipt
                .as_ref()
                .and_then(|r| r.events.iter().find(|e| e.kind == "created"))
                .and_then(|e| e.attr("id"))
            {
                println!("{id}");
            }
            Ok(())
        }
        PollCmd::Respond {
            tx,
            id,
            option,
            comment,
        } => {
            let comment_hash = comment
                .map(|p| {
                    std::fs::read(&p)
                        .map(|b| Hash(Sha256::digest(&b).into()))
                        .map_err(|e| fail("io", format!("{}: {e}", p.display())))
                })
                .transpose()?;
            let call = PollsCall::Respond {
                id,
                option,
                comment_hash,
            };
            send(ctx, &tx, Call::new(module, &call)).await
        }
        PollCmd::Show { id } => {
            let p = ctx
                .client()?
                .query(module, &["poll", &id.to_string()], false)
                .await?
                .value;
            if p.is_null() {
                return Err(fail("not_found", format!("no poll {id}")));
            }
            print_json(&p)
        }
    }
}
