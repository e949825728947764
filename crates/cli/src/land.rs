//! `urbis land …`: the land register's verbs (each is one `land` module call; see the module's
//! documentation for who may do what, and when).

use clap::Subcommand;
use serde_json::json;
use urbis_core::{Call, Hash};
use urbis_land::{LandCall, LienAnswerArg, Share};

use crate::cli::TxOpts;
use crate::commands::{Ctx, send};
use crate::fail;
use crate::identity::print_json;

#[derive(Debug, Subcommand)]
pub enum LandCmd {
    /// Register a parcel (land registrar): owners as NAME_OR_ADDRESS=PARTS, comma-separated.
    Register {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        parcel: String,
        #[arg(long)]
        geometry_hash: Hash,
        #[arg(long)]
        area_m2: u64,
        #[arg(long, value_delimiter = ',')]
        owners: Vec<String>,
        #[arg(long)]
        whole: u64,
    },
    /// Register a bank's lien (land registrar); amount in cents.
    Lien {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        parcel: String,
        #[arg(long)]
        bank: String,
        #[arg(long)]
        amount: u64,
        #[arg(long)]
        deed_hash: Hash,
    },
    /// Register an easement (land registrar): a right of way, a utility line… for a
    /// beneficiary (a parcel id or a party), under a deed.
    Easement {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        parcel: String,
        #[arg(long)]
        beneficiary: String,
        #[arg(long)]
        kind: String,
        #[arg(long)]
        deed_hash: Hash,
    },
    /// Set the objection window of transfers approved from now on (city admin), in seconds.
    SetWindow {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        seconds: u64,
    },
    /// Register a party who may object to transfers (land registrar).
    Interested {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        parcel: String,
        #[arg(long)]
        party: String,
    },
    /// Propose a transfer (an owner): buyers as NAME_OR_ADDRESS=PARTS; price in cents.
    Propose {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        parcel: String,
        #[arg(long, value_delimiter = ',')]
        buyers: Vec<String>,
        #[arg(long)]
        price: u64,
        #[arg(long)]
        deed_hash: Hash,
    },
    /// Sign a proposed transfer (each seller).
    Sign {
        #[command(flatten)]
        tx: TxOpts,
        transfer: u64,
    },
    /// Accept a transfer (each buyer).
    Accept {
        #[command(flatten)]
        tx: TxOpts,
        transfer: u64,
    },
    /// Release a lien with the transfer (its bank).
    Release {
        #[command(flatten)]
        tx: TxOpts,
        transfer: u64,
        #[arg(long)]
        lien: u64,
    },
    /// Let a lien stay on the parcel under the new owners (its bank).
    Consent {
        #[command(flatten)]
        tx: TxOpts,
        transfer: u64,
        #[arg(long)]
        lien: u64,
    },
    /// Approve a transfer: the objection window starts (land registrar).
    Approve {
        #[command(flatten)]
        tx: TxOpts,
        transfer: u64,
    },
    /// Object during the window (a registered interested party); the statement's SHA-256.
    Object {
        #[command(flatten)]
        tx: TxOpts,
        transfer: u64,
        #[arg(long)]
        statement_hash: Hash,
    },
    /// Decide an objection (land registrar): --uphold cancels the transfer, otherwise the
    /// window runs again.
    Decide {
        #[command(flatten)]
        tx: TxOpts,
        transfer: u64,
        #[arg(long)]
        uphold: bool,
    },
    /// Cancel a transfer (a party before approval, the registrar until completion).
    Cancel {
        #[command(flatten)]
        tx: TxOpts,
        transfer: u64,
    },
    /// A parcel, its liens, its history.
    Show { parcel: String },
}

fn shares(ctx: &Ctx, list: &[String]) -> anyhow::Result<Vec<Share>> {
    list.iter()
        .map(|s| {
            let (who, parts) = s
                .split_once('=')
                .ok_or_else(|| fail("invalid_argument", "a share is NAME_OR_ADDRESS=PARTS"))?;
            Ok(Share {
                owner: ctx.resolve_address(who)?,
                parts: parts
                    .parse()
                    .map_err(|_| fail("invalid_argument", format!("{parts:?} is not a number")))?,
            })
        })
        .collect()
}

pub async fn land(ctx: &Ctx, cmd: LandCmd) -> anyhow::Result<()> {
    let (tx, call) = match cmd {
        LandCmd::Show { parcel } => {
            let client = ctx.client()?;
            let p = client
                .query(urbis_land::MODULE, &["parcel", &parcel], false)
                .await?;
            let liens = match client
                .query(urbis_land::MODULE, &["liens", &parcel], false)
                .await
            {
                Ok(l) => l.value,
                Err(e) if e.is(urbis_core::ErrorCode::NotFound) => json!([]),
                Err(e) => return Err(e.into()),
            };
            let history = client
                .query_list(urbis_land::MODULE, &["history", &parcel], 1000, None)
                .await?;
            return print_json(
                &json!({"parcel": p.value, "liens": liens, "history": history.items}),
            );
        }
        LandCmd::Register {
            tx,
            parcel,
            geometry_hash,
            area_m2,
            owners,
            whole,
        } => {
            let owners = shares(ctx, &owners)?;
            (
                tx,
                LandCall::RegisterParcel {
                    id: parcel,
                    geometry_hash,
                    area_m2,
                    owners,
                    whole,
                },
            )
        }
        LandCmd::Lien {
            tx,
            parcel,
            bank,
            amount,
            deed_hash,
        } => {
            let bank = ctx.resolve_address(&bank)?;
            (
                tx,
                LandCall::AddLien {
                    parcel,
                    bank,
                    amount,
                    deed_hash,
                },
            )
        }
        LandCmd::Easement {
            tx,
            parcel,
            beneficiary,
            kind,
            deed_hash,
        } => (
            tx,
            LandCall::AddEasement {
                parcel,
                beneficiary,
                kind,
                deed_hash,
            },
        ),
        LandCmd::SetWindow { tx, seconds } => (
            tx,
            LandCall::SetObjectionWindow {
                ms: seconds.saturating_mul(1000),
            },
        ),
        LandCmd::Interested { tx, parcel, party } => {
            let party = ctx.resolve_address(&party)?;
            (tx, LandCall::AddInterested { parcel, party })
        }
        LandCmd::Propose {
            tx,
            parcel,
            buyers,
            price,
            deed_hash,
        } => {
            let buyers = shares(ctx, &buyers)?;
            (
                tx,
                LandCall::Propose {
                    parcel,
                    buyers,
                    price,
                    deed_hash,
                },
            )
        }
        LandCmd::Sign { tx, transfer } => (tx, LandCall::Sign { transfer }),
        LandCmd::Accept { tx, transfer } => (tx, LandCall::Accept { transfer }),
        LandCmd::Release { tx, transfer, lien } => (
            tx,
            LandCall::AnswerLien {
                transfer,
                lien,
                answer: LienAnswerArg::Release,
            },
        ),
        LandCmd::Consent { tx, transfer, lien } => (
            tx,
            LandCall::AnswerLien {
                transfer,
                lien,
                answer: LienAnswerArg::Consent,
            },
        ),
        LandCmd::Approve { tx, transfer } => (tx, LandCall::Approve { transfer }),
        LandCmd::Object {
            tx,
            transfer,
            statement_hash,
        } => (
            tx,
            LandCall::Object {
                transfer,
                statement_hash,
            },
        ),
        LandCmd::Decide {
            tx,
            transfer,
            uphold,
        } => (tx, LandCall::Decide { transfer, uphold }),
        LandCmd::Cancel { tx, transfer } => (tx, LandCall::Cancel { transfer }),
    };
    send(ctx, &tx, Call::new(urbis_land::MODULE, &call)).await
}
