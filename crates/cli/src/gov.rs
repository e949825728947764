//! `urbis gov …`: the public ledger of decisions, budgets, spending and tenders (see the
//! `governance` module for who may do what).

use std::path::PathBuf;

use clap::Subcommand;
use urbis_client::EventQuery;
use urbis_core::{Address, Call, Hash};
use urbis_governance::{DecisionKind, GovernanceCall, MODULE, bid_commitment};

use crate::cli::{Output, TxOpts};
use crate::commands::{Ctx, file_hash, now_ms, send_for_receipt};
use crate::fail;
use crate::identity::print_json;

#[derive(Debug, Subcommand)]
pub enum GovCmd {
    /// Create or rename a department (city admin).
    Department {
        #[command(flatten)]
        tx: TxOpts,
        code: String,
        #[arg(long)]
        name: String,
    },
    /// Appoint an officer of a department, or remove one (city admin).
    Officer {
        #[command(flatten)]
        tx: TxOpts,
        department: String,
        /// Address or key name.
        account: String,
        #[arg(long)]
        remove: bool,
    },
    /// Record a decision (a resolution: city admin; an order: an officer); its document is
    /// FILE (only its SHA-256 goes on chain). Prints the decision's id.
    Decide {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long, value_parser = parse_kind)]
        kind: DecisionKind,
        #[arg(long)]
        department: String,
        #[arg(long)]
        category: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        document: PathBuf,
    },
    /// Set or amend a budget line by a resolution (city admin).
    Appropriate {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        year: u16,
        #[arg(long)]
        department: String,
        #[arg(long)]
        category: String,
        #[arg(long)]
        amount: u64,
        /// The resolution that decides it.
        #[arg(long)]
        decision: Hash,
    },
    /// Record spending against a budget line (an officer); prints the entry's id.
    Spend {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        year: u16,
        #[arg(long)]
        department: String,
        #[arg(long)]
        category: String,
        #[arg(long)]
        amount: u64,
        /// The invoice (only its SHA-256 goes on chain).
        #[arg(long)]
        invoice: PathBuf,
        #[arg(long)]
        payee: Option<String>,
        #[arg(long, default_value = "")]
        memo: String,
    },
    /// Tenders with sealed bids.
    #[command(subcommand)]
    Tender(TenderCmd),
    /// Budget versus spending of a fiscal year, per department and category.
    Budget {
        year: u16,
        #[arg(long)]
        department: Option<String>,
    },
    /// Decisions, newest last, found through the event index by department, category or date.
    Decisions {
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// A UTC date, YYYY-MM-DD.
        #[arg(long)]
        date: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One decision.
    Decision { id: Hash },
    /// The council: seat it, propose, approve, execute after the timelock.
    #[command(subcommand)]
    Council(CouncilCmd),
}

#[derive(Debug, Subcommand)]
pub enum CouncilCmd {
    /// Seat the first council (city admin, once).
    Seat {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        #[arg(long)]
        threshold: u32,
        #[arg(long)]
        timelock_secs: u64,
    },
    /// Propose to grant (or with --revoke, take away) ROLE from ACCOUNT, with the reasons in
    /// FILE (a council member; prints the proposal's id).
    Propose {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        account: String,
        #[arg(long, value_parser = parse_role)]
        role: urbis_accounts::Role,
        #[arg(long)]
        revoke: bool,
        #[arg(long)]
        description: PathBuf,
    },
    /// Propose to set a module parameter, e.g. `--module land --name objection_window_ms
    /// --value 1209600000` (a council member; prints the proposal's id).
    ProposeParameter {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        module: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        value: u64,
        #[arg(long)]
        description: PathBuf,
    },
    /// Propose to accredit ISSUER (a DID) for credentials of TYPE for DAYS from now (a council
    /// member; prints the proposal's id).
    ProposeAccreditation {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        issuer: String,
        #[arg(long = "type")]
        vct: String,
        #[arg(long)]
        days: u64,
        #[arg(long)]
        description: PathBuf,
    },
    /// Propose to pass a resolution of DEPARTMENT in CATEGORY whose text is DOCUMENT (a council
    /// member; prints the proposal's id). Once executed it is a `resolution` decision that may
    /// back an appropriation.
    ProposeResolution {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        department: String,
        #[arg(long)]
        category: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        document: PathBuf,
        #[arg(long)]
        description: PathBuf,
    },
    /// Propose the council's answer to a petition that reached its threshold: accepted or not
    /// (--reject), its text in ANSWER (a council member; prints the proposal's id).
    ProposeAnswer {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        petition: Hash,
        #[arg(long)]
        reject: bool,
        #[arg(long)]
        answer: PathBuf,
        #[arg(long)]
        description: PathBuf,
    },
    /// Propose a validator-set change: `--add KEY --name N --address HOST:PORT`, `--remove
    /// KEY`, or `--rotate KEY --new-key KEY2 [--address HOST:PORT]` (a council member; prints
    /// the proposal's id). Executed in epoch `e`, it applies from epoch `e + 2`.
    ProposeValidator {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long, conflicts_with_all = ["remove", "rotate"], requires_all = ["name", "address"])]
        add: Option<urbis_core::PublicKey>,
        #[arg(long, conflicts_with = "rotate")]
        remove: Option<urbis_core::PublicKey>,
        #[arg(long, requires = "new_key")]
        rotate: Option<urbis_core::PublicKey>,
        #[arg(long)]
        new_key: Option<urbis_core::PublicKey>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        description: PathBuf,
    },
    /// Approve a proposal (a council member).
    Approve {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
    },
    /// Execute an approved proposal after its timelock (a council member).
    Execute {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
    },
    /// The council, or one proposal.
    Show { id: Option<Hash> },
}

fn parse_role(s: &str) -> Result<urbis_accounts::Role, String> {
    s.parse::<urbis_accounts::Role>().map_err(|e| e.to_string())
}

async fn council(ctx: &Ctx, cmd: CouncilCmd) -> anyhow::Result<()> {
    use urbis_governance::council::CouncilAction;
    match cmd {
        CouncilCmd::Seat {
            tx,
            members,
            threshold,
            timelock_secs,
        } => {
            let members = members
                .iter()
                .map(|m| ctx.resolve_address(m))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let c = GovernanceCall::SetCouncil {
                members,
                threshold,
                timelock_ms: timelock_secs * 1_000,
            };
            send(ctx, &tx, c).await.map(drop)
        }
        CouncilCmd::Propose {
            tx,
            account,
            role,
            revoke,
            description,
        } => {
            let account = ctx.resolve_address(&account)?;
            let action = if revoke {
                CouncilAction::RevokeRole { account, role }
            } else {
                CouncilAction::GrantRole { account, role }
            };
            let c = GovernanceCall::Propose {
                action,
                description_hash: file_hash(&description)?,
            };
            send_print_id(ctx, &tx, c, "proposed").await
        }
        CouncilCmd::ProposeParameter {
            tx,
            module,
            name,
            value,
            description,
        } => {
            let c = GovernanceCall::Propose {
                action: CouncilAction::SetParameter {
                    module,
                    name,
                    value,
                },
                description_hash: file_hash(&description)?,
            };
            send_print_id(ctx, &tx, c, "proposed").await
        }
        CouncilCmd::ProposeAccreditation {
            tx,
            issuer,
            vct,
            days,
            description,
        } => {
            let from_ms = now_ms();
            let c = GovernanceCall::Propose {
                action: CouncilAction::AccreditIssuer {
                    issuer,
                    vct,
                    from_ms,
                    until_ms: from_ms.saturating_add(days.saturating_mul(86_400_000)),
                },
                description_hash: file_hash(&description)?,
            };
            send_print_id(ctx, &tx, c, "proposed").await
        }
        CouncilCmd::ProposeResolution {
            tx,
            department,
            category,
            title,
            document,
            description,
        } => {
            let c = GovernanceCall::Propose {
                action: CouncilAction::Resolve {
                    department,
                    category,
                    title,
                    document_hash: file_hash(&document)?,
                },
                description_hash: file_hash(&description)?,
            };
            send_print_id(ctx, &tx, c, "proposed").await
        }
        CouncilCmd::ProposeAnswer {
            tx,
            petition,
            reject,
            answer,
            description,
        } => {
            let c = GovernanceCall::Propose {
                action: CouncilAction::AnswerPetition {
                    petition,
                    accepted: !reject,
                    answer_hash: file_hash(&answer)?,
                },
                description_hash: file_hash(&description)?,
            };
            send_print_id(ctx, &tx, c, "proposed").await
        }
        CouncilCmd::ProposeValidator {
            tx,
            add,
            remove,
            rotate,
            new_key,
            name,
            address,
            description,
        } => {
            let action = match (add, remove, rotate, new_key) {
                (Some(public_key), None, None, None) => CouncilAction::AddValidator {
                    name: name.unwrap_or_default(),
                    public_key,
                    address: address.unwrap_or_default(),
                },
                (None, Some(public_key), None, None) => {
                    CouncilAction::RemoveValidator { public_key }
                }
                (None, None, Some(public_key), Some(new_key)) => CouncilAction::RotateValidator {
                    public_key,
                    new_key,
                    address,
                },
                _ => anyhow::bail!("give one of --add, --remove or --rotate (with --new-key)"),
            };
            let c = GovernanceCall::Propose {
                action,
                description_hash: file_hash(&description)?,
            };
            send_print_id(ctx, &tx, c, "proposed").await
        }
        CouncilCmd::Approve { tx, id } => send(ctx, &tx, GovernanceCall::Approve { proposal: id })
            .await
            .map(drop),
        CouncilCmd::Execute { tx, id } => send(ctx, &tx, GovernanceCall::Execute { proposal: id })
            .await
            .map(drop),
        CouncilCmd::Show { id } => {
            let path: Vec<String> = match id {
                Some(id) => vec!["proposal".into(), id.to_string()],
                None => vec!["council".into()],
            };
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let v = ctx.client()?.query(MODULE, &path, false).await?.value;
            print_json(&v)
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TenderCmd {
    /// Open a tender paid from a budget line (an officer); prints its id.
    Open {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        department: String,
        #[arg(long)]
        category: String,
        #[arg(long)]
        year: u16,
        #[arg(long)]
        title: String,
        /// The specification (only its SHA-256 goes on chain).
        #[arg(long)]
        spec: PathBuf,
        /// The most a valid bid may ask.
        #[arg(long)]
        max_amount: u64,
        /// Seconds from now until bids close.
        #[arg(long)]
        bid_secs: u64,
        /// Seconds after bids close until reveals close.
        #[arg(long)]
        reveal_secs: u64,
    },
    /// Post a sealed bid (a business): the amount stays secret until you reveal it; the amount
    /// and its random salt are kept in SEALED (mode 0600) for the reveal.
    Bid {
        #[command(flatten)]
        tx: TxOpts,
        tender: Hash,
        #[arg(long)]
        amount: u64,
        #[arg(long)]
        sealed: PathBuf,
    },
    /// Reveal your bid from SEALED (after bids close, before reveals close).
    Reveal {
        #[command(flatten)]
        tx: TxOpts,
        tender: Hash,
        #[arg(long)]
        sealed: PathBuf,
    },
    /// Award (an officer, after reveals close): to the lowest valid bid, or to another with
    /// the reasons in FILE.
    Award {
        #[command(flatten)]
        tx: TxOpts,
        tender: Hash,
        #[arg(long)]
        winner: String,
        #[arg(long)]
        reason: Option<PathBuf>,
    },
    /// Cancel (an officer, after reveals close), with the reasons in FILE.
    Cancel {
        #[command(flatten)]
        tx: TxOpts,
        tender: Hash,
        #[arg(long)]
        reason: PathBuf,
    },
    /// A tender with its bids.
    Show { tender: Hash },
    /// Tenders, newest last; --open: only those still open (bids, reveals, or awaiting the
    /// award).
    List {
        #[arg(long)]
        open: bool,
    },
}

fn parse_kind(s: &str) -> Result<DecisionKind, String> {
    s.parse::<DecisionKind>().map_err(|e| e.to_string())
}

/// A sealed bid's secret part, kept by the bidder.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    tender: Hash,
    amount: u64,
    salt: Hash,
}

async fn send(
    ctx: &Ctx,
    tx: &TxOpts,
    c: GovernanceCall,
) -> anyhow::Result<Option<urbis_core::Receipt>> {
    send_for_receipt(ctx, tx, Call::new(MODULE, &c)).await
}

/// Send, then print the `id` of the first `kind` event.
async fn send_print_id(
    ctx: &Ctx,
    tx: &TxOpts,
    c: GovernanceCall,
    kind: &str,
) -> anyhow::Result<()> {
    if let Some(id) = send(ctx, tx, c)
        .await?
        .as_ref()
        .and_then(|r| r.events.iter().find(|e| e.kind == kind))
        .and_then(|e| e.attr("id"))
    {
        println!("{id}");
    }
    Ok(())
}

pub async fn gov(ctx: &Ctx, cmd: GovCmd) -> anyhow::Result<()> {
    match cmd {
        GovCmd::Department { tx, code, name } => {
            send(ctx, &tx, GovernanceCall::Department { code, name })
                .await
                .map(drop)
        }
        GovCmd::Officer {
            tx,
            department,
            account,
            remove,
        } => {
            let c = GovernanceCall::Officer {
                department,
                account: ctx.resolve_address(&account)?,
                active: !remove,
            };
            send(ctx, &tx, c).await.map(drop)
        }
        GovCmd::Decide {
            tx,
            kind,
            department,
            category,
            title,
            document,
        } => {
            let c = GovernanceCall::Decide {
                kind,
                department,
                category,
                title,
                document_hash: file_hash(&document)?,
            };
            send_print_id(ctx, &tx, c, "decision").await
        }
        GovCmd::Appropriate {
            tx,
            year,
            department,
            category,
            amount,
            decision,
        } => {
            let c = GovernanceCall::Appropriate {
                year,
                department,
                category,
                amount,
                decision,
            };
            send(ctx, &tx, c).await.map(drop)
        }
        GovCmd::Spend {
            tx,
            year,
            department,
            category,
            amount,
            invoice,
            payee,
            memo,
        } => {
            let payee: Option<Address> = payee.map(|p| ctx.resolve_address(&p)).transpose()?;
            let c = GovernanceCall::Spend {
                year,
                department,
                category,
                amount,
                payee,
                invoice_hash: file_hash(&invoice)?,
                memo,
            };
            send_print_id(ctx, &tx, c, "spent").await
        }
        GovCmd::Tender(cmd) => tender(ctx, cmd).await,
        GovCmd::Budget { year, department } => budget(ctx, year, department).await,
        GovCmd::Decisions {
            department,
            category,
            date,
            limit,
        } => decisions(ctx, department, category, date, limit).await,
        GovCmd::Council(cmd) => council(ctx, cmd).await,
        GovCmd::Decision { id } => {
            let v = ctx
                .client()?
                .query(MODULE, &["decision", &id.to_string()], false)
                .await?
                .value;
            print_json(&v)
        }
    }
}

async fn tender(ctx: &Ctx, cmd: TenderCmd) -> anyhow::Result<()> {
    match cmd {
        TenderCmd::Open {
            tx,
            department,
            category,
            year,
            title,
            spec,
            max_amount,
            bid_secs,
            reveal_secs,
        } => {
            let bids_close_ms = now_ms() + bid_secs * 1_000;
            let c = GovernanceCall::Tender {
                department,
                category,
                year,
                title,
                spec_hash: file_hash(&spec)?,
                max_amount,
                bids_close_ms,
                reveals_close_ms: bids_close_ms + reveal_secs * 1_000,
            };
            send_print_id(ctx, &tx, c, "tender_opened").await
        }
        TenderCmd::Bid {
            tx,
            tender,
            amount,
            sealed,
        } => {
            let bidder = ctx.resolve_address(&tx.from)?;
            let mut salt = [0u8; 32];
            getrandom::fill(&mut salt)
                .map_err(|e| fail("internal", format!("no randomness: {e}")))?;
            let secret = Sealed {
                tender,
                amount,
                salt: Hash(salt),
            };
            crate::election::write_secret(
                &sealed,
                serde_json::to_string(&secret)
                    .map_err(|e| fail("internal", e.to_string()))?
                    .as_bytes(),
            )?;
            let c = GovernanceCall::Bid {
                tender,
                commitment: bid_commitment(&tender, &bidder, amount, &secret.salt),
            };
            send(ctx, &tx, c).await.map(drop)
        }
        TenderCmd::Reveal { tx, tender, sealed } => {
            let text = std::fs::read_to_string(&sealed)
                .map_err(|e| fail("io", format!("{}: {e}", sealed.display())))?;
            let s: Sealed = serde_json::from_str(&text)
                .map_err(|e| fail("malformed", format!("{}: {e}", sealed.display())))?;
            if s.tender != tender {
                return Err(fail(
                    "invalid_argument",
                    "this sealed bid is for another tender",
                ));
            }
            let c = GovernanceCall::Reveal {
                tender,
                amount: s.amount,
                salt: s.salt,
            };
            send(ctx, &tx, c).await.map(drop)
        }
        TenderCmd::Award {
            tx,
            tender,
            winner,
            reason,
        } => {
            let c = GovernanceCall::Award {
                tender,
                winner: ctx.resolve_address(&winner)?,
                reason_hash: reason.as_deref().map(file_hash).transpose()?,
            };
            send(ctx, &tx, c).await.map(drop)
        }
        TenderCmd::Cancel { tx, tender, reason } => {
            let c = GovernanceCall::Cancel {
                tender,
                reason_hash: file_hash(&reason)?,
            };
            send(ctx, &tx, c).await.map(drop)
        }
        TenderCmd::Show { tender } => {
            let client = ctx.client()?;
            let t = client
                .query(MODULE, &["tender", &tender.to_string()], false)
                .await?
                .value;
            let mut bids = Vec::new();
            for b in t["bidders"].as_array().cloned().unwrap_or_default() {
                let who = b.as_str().unwrap_or_default().to_string();
                let bid = client
                    .query(MODULE, &["bid", &tender.to_string(), &who], false)
                    .await?
                    .value;
                bids.push(serde_json::json!({"bidder": who, "amount": bid["amount"], "bid_ms": bid["bid_ms"]}));
            }
            print_json(&serde_json::json!({"tender": t, "bids": bids}))
        }
        TenderCmd::List { open } => {
            let client = ctx.client()?;
            let tenders = if open {
                let mut out = Vec::new();
                for t in client.query_list_all(MODULE, &["open-tenders"]).await? {
                    let id = t["id"].as_str().unwrap_or_default().to_string();
                    out.push(client.query(MODULE, &["tender", &id], false).await?.value);
                }
                out
            } else {
                client.query_list_all(MODULE, &["tenders"]).await?
            };
            print_json(&serde_json::Value::Array(tenders))
        }
    }
}

async fn budget(ctx: &Ctx, year: u16, department: Option<String>) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let y = year.to_string();
    let mut path = vec!["budget", y.as_str()];
    if let Some(d) = &department {
        path.push(d);
    }
    let lines = client.query_list_all(MODULE, &path).await?;
    match ctx.out {
        Output::Json => print_json(&serde_json::Value::Array(lines)),
        Output::Table => {
            println!(
                "{:<16} {:<16} {:>14} {:>14} {:>14}",
                "department", "category", "budget", "spent", "remaining"
            );
            for l in &lines {
                println!(
                    "{:<16} {:<16} {:>14} {:>14} {:>14}",
                    l["department"].as_str().unwrap_or(""),
                    l["category"].as_str().unwrap_or(""),
                    l["amount"],
                    l["spent"],
                    l["remaining"]
                );
            }
            Ok(())
        }
    }
}

async fn decisions(
    ctx: &Ctx,
    department: Option<String>,
    category: Option<String>,
    date: Option<String>,
    limit: usize,
) -> anyhow::Result<()> {
    let client = ctx.client()?;
    // The index finds one object; the other filters apply to what it finds.
    let object = department.clone().or(category.clone()).or(date.clone());
    let wanted = |e: &urbis_core::Event| {
        department
            .as_deref()
            .is_none_or(|d| e.attr("department_id") == Some(d))
            && category
                .as_deref()
                .is_none_or(|c| e.attr("category_id") == Some(c))
            && date.as_deref().is_none_or(|d| e.attr("date_id") == Some(d))
    };
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .search_events(&EventQuery {
                module: Some(MODULE.into()),
                kind: Some("decision".into()),
                object: object.clone(),
                limit: Some(500),
                cursor,
                ..EventQuery::default()
            })
            .await?;
        for f in page.events.into_iter().filter(|f| wanted(&f.event)) {
            let id = f.event.attr("id").unwrap_or_default().to_string();
            let d = client.query(MODULE, &["decision", &id], false).await?.value;
            found.push(d);
            if found.len() >= limit {
                break;
            }
        }
        match page.next_cursor {
            Some(c) if found.len() < limit => cursor = Some(c),
            _ => break,
        }
    }
    match ctx.out {
        Output::Json => print_json(&serde_json::Value::Array(found)),
        Output::Table => {
            for d in &found {
                println!(
                    "{}  {:<12} {:<12} {:<14} {}  {}",
                    d["date"].as_str().unwrap_or(""),
                    d["kind"].as_str().unwrap_or(""),
                    d["department"].as_str().unwrap_or(""),
                    d["category"].as_str().unwrap_or(""),
                    d["id"].as_str().unwrap_or(""),
                    d["title"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
    }
}
