//! `urbis petition …`: petitions (see the `petitions` module for who may do what, and when).

use clap::Subcommand;
use std::path::PathBuf;
use urbis_core::{Call, Hash};
use urbis_petitions::PetitionsCall;

use crate::cli::TxOpts;
use crate::commands::{Ctx, send, send_for_receipt};
use crate::fail;
use crate::identity::print_json;

#[derive(Debug, Subcommand)]
pub enum PetitionCmd {
    /// Open a petition (a resident or a department): its full text is FILE (only its SHA-256
    /// goes on chain); prints the petition's id.
    Open {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        title: String,
        /// The petition's full text, published elsewhere.
        #[arg(long)]
        text: PathBuf,
        /// Signatures that oblige the council to answer.
        #[arg(long)]
        threshold: u64,
        /// Days it stays open for signatures.
        #[arg(long, default_value_t = 90)]
        days: u64,
        /// Days the council has to answer once the threshold is reached.
        #[arg(long, default_value_t = 90)]
        answer_days: u64,
    },
    /// Sign a petition (a resident; once).
    Sign {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
    },
    /// Withdraw your signature (until the petition closes).
    Withdraw {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
    },
    /// Record the council's answer to a qualified petition (city admin); its text is FILE.
    Answer {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
        #[arg(long)]
        accepted: bool,
        #[arg(long)]
        text: PathBuf,
    },
    /// A petition: count, status, deadline and answer.
    Show { id: Hash },
}

pub async fn petition(ctx: &Ctx, cmd: PetitionCmd) -> anyhow::Result<()> {
    let module = urbis_petitions::MODULE;
    match cmd {
        PetitionCmd::Open {
            tx,
            title,
            text,
            threshold,
            days,
            answer_days,
        } => {
            let now_ms = crate::commands::now_ms();
            let call = PetitionsCall::Open {
                title,
                body_hash: crate::commands::file_hash(&text)?,
                threshold,
                closes_ms: now_ms.saturating_add(days.saturating_mul(86_400_000)),
                answer_days,
            };
            let receipt = send_for_receipt(ctx, &tx, Call::new(module, &call)).await?;
            if let Some(id) = receipt
                .as_ref()
                .and_then(|r| r.events.iter().find(|e| e.kind == "opened"))
                .and_then(|e| e.attr("id"))
            {
                println!("{id}");
            }
            Ok(())
        }
        PetitionCmd::Sign { tx, id } => {
            send(ctx, &tx, Call::new(module, &PetitionsCall::Sign { id })).await
        }
        PetitionCmd::Withdraw { tx, id } => {
            send(ctx, &tx, Call::new(module, &PetitionsCall::Withdraw { id })).await
        }
        PetitionCmd::Answer {
            tx,
            id,
            accepted,
            text,
        } => {
            let call = PetitionsCall::Answer {
                id,
                accepted,
                answer_hash: crate::commands::file_hash(&text)?,
            };
            send(ctx, &tx, Call::new(module, &call)).await
        }
        PetitionCmd::Show { id } => {
            let p = ctx
                .client()?
                .query(module, &["petition", &id.to_string()], false)
                .await?
                .value;
            if p.is_null() {
                return Err(fail("not_found", format!("no petition {id}")));
            }
            print_json(&p)
        }
    }
}
