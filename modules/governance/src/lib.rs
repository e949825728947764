//! Governance: the public ledger of what the city decides and spends, as it happens.
//!
//! - **Departments** (`department {code, name}`, city admin) and their **officers**
//!   (`officer {department, account, active}`, city admin): an officer acts for its
//!   department.
//! - **Decisions**: council resolutions (passed by a council proposal, `resolve`, or recorded
//!   by the city admin for a vote taken elsewhere) and department orders (by an officer), each with the SHA-256 of its document, a department and a category.
//! - **Budgets**: an appropriation per fiscal year, department and category, set by a
//!   resolution (`appropriate`); setting it again is an amendment, which names its own
//!   resolution and never goes below what is spent. **Spending** (`spend`, an officer) is
//!   recorded against an appropriation; an overspend is refused (`over_budget`).
//! - **Tenders** with sealed bids: an officer opens one (`tender`); businesses (accounts with
//!   the `merchant` role) commit to a bid before the bids close (`bid`: the commitment is
//!   `sha256_domain("urbis/governance/bid/v1", tender ‖ bidder ‖ amount (u64 big-endian) ‖
//!   salt)`), reveal it until the reveals close (`reveal`: a reveal that does not open the
//!   commitment, or above the tender's ceiling, is refused); then the officer awards it
//!   (`award`) to the lowest valid bid (ties: the earlier bid), or to another with the hash of
//!   a recorded reason, which records an award decision and spends the amount against the
//!   appropriation; or cancels it with a reason.
//!
//! - **The council** ([`council`]): `k` of `n` members approve proposals that run after a
//!   timelock (roles, module parameters, issuer accreditation, resolutions, answers to
//!   petitions, the council itself). Changing the validator set is not a council action yet:
//!   validators are fixed by the genesis and the consortium tooling (issue "consortium v2").
//! - **Workflows** ([`workflow`]): administrative processes declared as data and run by a
//!   bounded interpreter (the building permit and business licence renewal ship in
//!   `workflows/`), with processing times per workflow.
//!
//! Every event carries `department_id`, `category_id` and `date_id` (the block's UTC date,
//! `YYYY-MM-DD`), which the event index searches (`object=`). Every entry is a state key, so
//! provable.
//!
//! | key | value (borsh) |
//! |---|---|
//! | `governance/department/<code>` | [`Department`] |
//! | `governance/decision/<id>` | [`Decision`] |
//! | `governance/appropriation/<year>/<department>/<category>` | [`Appropriation`] |
//! | `governance/spending/<id>` | [`Spending`] |
//! | `governance/tender/<id>` | [`Tender`] |
//! | `governance/bid/<tender>/<bidder>` | [`Bid`] |
//! | `governance/open-tender/<id>` | `()`: present while the tender is open |
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `department`, `officer` | city admin | `unauthorized`, `invalid_argument`, `not_found` |
//! | `decide {kind, department, category, title, document_hash}` | city admin (resolution), an officer (order) | `unauthorized`, `invalid_argument`, `not_found` |
//! | `appropriate {year, department, category, amount, decision}` | city admin | `unauthorized`, `invalid_argument`, `not_found`, `invalid_state` (not a resolution; below spending) |
//! | `spend {year, department, category, amount, payee, invoice_hash, memo}` | an officer | `unauthorized`, `invalid_argument`, `not_found`, `over_budget` |
//! | `tender {…}` | an officer | `unauthorized`, `invalid_argument`, `not_found` |
//! | `bid {tender, commitment}` | a merchant | `unauthorized`, `not_found`, `invalid_state` (closed), `already_exists` |
//! | `reveal {tender, amount, salt}` | the bidder | `not_found`, `invalid_state` (too early, too late, twice), `invalid_proof`, `invalid_argument` (above the ceiling) |
//! | `award {tender, winner, reason_hash}` / `cancel {tender, reason_hash}` | an officer of its department | `unauthorized`, `not_found`, `invalid_state`, `invalid_argument`, `over_budget` |
//! | `set_council {members, threshold, timelock_ms}` | city admin | `unauthorized`, `invalid_argument` |
//! | `propose {action, description_hash}` / `approve {proposal}` / `execute {proposal}` | a council member | `not_found` (no council), `unauthorized`, `not_found` (proposal), `invalid_argument`, `invalid_state` (executed, below threshold, timelock running) |
//! | `define_workflow {definition}` | city admin or department | `unauthorized`, `invalid_argument` (the definition), `invalid_state` (a department redefining another's) |
//! | `start_workflow {workflow, subject_hash, documents}` | a holder of one of the workflow's starter roles | `invalid_argument`, `not_found`, `unauthorized` |
//! | `act {instance, transition, document_hash}` | whom the transition names | `not_found`, `invalid_state` (out of turn), `unauthorized` |

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::hash::sha256_domain;
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo, decode_value};

/// Namespace and module name.
pub const MODULE: &str = "governance";
/// Domain of bid commitments.
pub const BID_DOMAIN: &[u8] = b"urbis/governance/bid/v1";
/// Longest title or memo, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
/// Most bids per tender.
pub const MAX_BIDS: usize = 256;
/// Most officers per department.
pub const MAX_OFFICERS: usize = 64;
/// Longest a tender stays open: a year.
pub const MAX_TENDER_MS: u64 = 365 * 86_400_000;

urbis_runtime::named_enum! {
    /// What a decision is.
    pub enum DecisionKind("decision kind") {
        /// A council resolution (passed by a council proposal, or recorded by the city admin).
        Resolution = "resolution",
        /// A department's order.
        Order = "order",
        /// A contract award (recorded by `award`).
        Award = "award",
        /// A tender cancelled (recorded by `cancel`).
        Cancellation = "cancellation",
    }
}

/// A department.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Department {
    pub code: String,
    pub name: String,
    pub officers: Vec<Address>,
}

/// A recorded decision.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Decision {
    pub id: Hash,
    pub kind: DecisionKind,
    pub department: String,
    pub category: String,
    pub title: String,
    pub document_hash: Hash,
    pub author: Address,
    pub recorded_ms: u64,
    pub date: String,
}

/// An appropriation: what a department may spend in a category in a fiscal year.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Appropriation {
    pub year: u16,
    pub department: String,
    pub category: String,
    pub amount: u64,
    pub spent: u64,
    /// The resolutions that set and amended it, oldest first.
    pub decisions: Vec<Hash>,
}

/// A spending entry.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Spending {
    pub id: Hash,
    pub year: u16,
    pub department: String,
    pub category: String,
    pub amount: u64,
    pub payee: Option<Address>,
    pub invoice_hash: Hash,
    pub memo: String,
    pub officer: Address,
    pub recorded_ms: u64,
    /// The tender it pays, if any.
    pub tender: Option<Hash>,
}

/// Where a tender stands.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TenderStatus {
    Open,
    Awarded,
    Cancelled,
}

/// A tender.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Tender {
    pub id: Hash,
    pub department: String,
    pub category: String,
    pub year: u16,
    pub title: String,
    pub spec_hash: Hash,
    pub max_amount: u64,
    pub bids_close_ms: u64,
    pub reveals_close_ms: u64,
    pub opened_ms: u64,
    pub status: TenderStatus,
    /// Bidders, in bid order.
    pub bidders: Vec<Address>,
    pub winner: Option<Address>,
    pub amount: Option<u64>,
    /// The award or cancellation decision.
    pub decision: Option<Hash>,
}

/// A sealed bid, and its amount once revealed.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Bid {
    pub commitment: Hash,
    pub bid_ms: u64,
    pub amount: Option<u64>,
}

mod calls;
pub mod council;
pub mod workflow;
pub use calls::GovernanceCall;

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::{Address, Hash};
    use urbis_runtime::kit;

    pub fn department(code: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"department", &code])
    }
    pub fn departments() -> Vec<u8> {
        kit::prefix(MODULE, &[&"department"])
    }
    pub fn decision(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"decision", id])
    }
    pub fn decisions() -> Vec<u8> {
        kit::prefix(MODULE, &[&"decision"])
    }
    pub fn appropriation(year: u16, department: &str, category: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"appropriation", &year, &department, &category])
    }
    pub fn appropriations(year: u16) -> Vec<u8> {
        kit::prefix(MODULE, &[&"appropriation", &year])
    }
    pub fn appropriations_of(year: u16, department: &str) -> Vec<u8> {
        kit::prefix(MODULE, &[&"appropriation", &year, &department])
    }
    pub fn spending(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"spending", id])
    }
    pub fn tender(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"tender", id])
    }
    /// Present while the tender is open (bids or reveals running, or awaiting its award).
    pub fn open_tender(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"open-tender", id])
    }
    pub fn open_tenders() -> Vec<u8> {
        kit::prefix(MODULE, &[&"open-tender"])
    }
    pub fn tenders() -> Vec<u8> {
        kit::prefix(MODULE, &[&"tender"])
    }
    pub fn bid(tender: &Hash, bidder: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"bid", tender, bidder])
    }
}

/// The commitment a bidder posts for `amount` with a secret `salt`.
pub fn bid_commitment(tender: &Hash, bidder: &Address, amount: u64, salt: &Hash) -> Hash {
    sha256_domain(
        BID_DOMAIN,
        &[&tender.0, &bidder.0, &amount.to_be_bytes(), &salt.0],
    )
}

/// The UTC date `YYYY-MM-DD` of a time in milliseconds since 1970 (proleptic Gregorian, in
/// integers: the days-to-civil conversion).
pub fn utc_date(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "The public ledger of decisions, budgets (appropriations enforced), spending and sealed-bid tenders.",
    queries: &[
        QueryInfo {
            path: "department/<code>",
            list: false,
            description: "A department and its officers.",
        },
        QueryInfo {
            path: "departments",
            list: true,
            description: "Every department.",
        },
        QueryInfo {
            path: "decision/<id>",
            list: false,
            description: "A decision: kind, department, category, document hash, date.",
        },
        QueryInfo {
            path: "decisions",
            list: true,
            description: "Every decision (search by department, category or date with /v1/events).",
        },
        QueryInfo {
            path: "appropriation/<year>/<department>/<category>",
            list: false,
            description: "Budget versus spending of one line; null if none (provably).",
        },
        QueryInfo {
            path: "budget/<year>",
            list: true,
            description: "Every budget line of a fiscal year, with what is spent.",
        },
        QueryInfo {
            path: "budget/<year>/<department>",
            list: true,
            description: "A department's budget lines of a fiscal year.",
        },
        QueryInfo {
            path: "spending/<id>",
            list: false,
            description: "A spending entry.",
        },
        QueryInfo {
            path: "tender/<id>",
            list: false,
            description: "A tender: status, bidders, winner.",
        },
        QueryInfo {
            path: "tenders",
            list: true,
            description: "Every tender.",
        },
        QueryInfo {
            path: "open-tenders",
            list: true,
            description: "The ids of tenders still open (bids, reveals, or awaiting the award).",
        },
        QueryInfo {
            path: "bid/<tender>/<bidder>",
            list: false,
            description: "A bid's commitment, and its amount once revealed.",
        },
        QueryInfo {
            path: "council",
            list: false,
            description: "The council: members, threshold, timelock.",
        },
        QueryInfo {
            path: "proposal/<id>",
            list: false,
            description: "A council proposal: action, approvals, when it may run, whether it ran.",
        },
        QueryInfo {
            path: "proposals",
            list: true,
            description: "Every council proposal.",
        },
        QueryInfo {
            path: "workflow/<name>",
            list: false,
            description: "A workflow's latest version number.",
        },
        QueryInfo {
            path: "workflow/<name>/<version>",
            list: false,
            description: "A workflow definition version.",
        },
        QueryInfo {
            path: "workflows",
            list: true,
            description: "Every workflow with its latest version.",
        },
        QueryInfo {
            path: "instance/<id>",
            list: false,
            description: "A process: state, steps, approvals, times.",
        },
        QueryInfo {
            path: "processing/<workflow>",
            list: false,
            description: "Processing times of a workflow's finished processes: count, average, maximum, outcomes.",
        },
        QueryInfo {
            path: "permit/<instance>",
            list: false,
            description: "The permit a process issued: holder, type, validity, its credential's status entry; null if none.",
        },
        QueryInfo {
            path: "remarks/<instance>",
            list: true,
            description: "A process's remarks (objections and the like), in order.",
        },
        QueryInfo {
            path: "remark/<instance>/<n>",
            list: false,
            description: "One remark.",
        },
    ],
    events: &[
        EventInfo {
            kind: "decision",
            attributes: &["id", "kind", "department_id", "category_id", "date_id"],
            description: "A decision was recorded.",
        },
        EventInfo {
            kind: "appropriated",
            attributes: &[
                "year",
                "department_id",
                "category_id",
                "date_id",
                "amount",
                "decision",
            ],
            description: "A budget line was set or amended.",
        },
        EventInfo {
            kind: "spent",
            attributes: &[
                "id",
                "year",
                "department_id",
                "category_id",
                "date_id",
                "amount",
            ],
            description: "Spending was recorded.",
        },
        EventInfo {
            kind: "tender_opened",
            attributes: &["id", "department_id", "category_id", "date_id"],
            description: "A tender opened.",
        },
        EventInfo {
            kind: "bid",
            attributes: &["id", "bidder"],
            description: "A sealed bid was posted.",
        },
        EventInfo {
            kind: "revealed",
            attributes: &["id", "bidder", "amount"],
            description: "A bid was revealed.",
        },
        EventInfo {
            kind: "awarded",
            attributes: &[
                "id",
                "winner",
                "amount",
                "decision",
                "department_id",
                "date_id",
            ],
            description: "A tender was awarded.",
        },
        EventInfo {
            kind: "cancelled",
            attributes: &["id", "decision", "department_id", "date_id"],
            description: "A tender was cancelled.",
        },
        EventInfo {
            kind: "council_seated",
            attributes: &["threshold"],
            description: "The first council was seated.",
        },
        EventInfo {
            kind: "proposed",
            attributes: &["id", "proposer", "date_id"],
            description: "A council member proposed an action.",
        },
        EventInfo {
            kind: "approval",
            attributes: &["id", "member", "date_id"],
            description: "A council member approved a proposal.",
        },
        EventInfo {
            kind: "proposal_approved",
            attributes: &["id", "executable_ms", "date_id"],
            description: "A proposal has its approvals: it may run after the timelock.",
        },
        EventInfo {
            kind: "executed",
            attributes: &["id", "by", "date_id"],
            description: "A proposal ran.",
        },
        EventInfo {
            kind: "workflow_defined",
            attributes: &["workflow_id", "version"],
            description: "A workflow (version) was defined.",
        },
        EventInfo {
            kind: "started",
            attributes: &["id", "workflow_id", "applicant", "date_id"],
            description: "A process started.",
        },
        EventInfo {
            kind: "approved_step",
            attributes: &["id", "transition", "approvals"],
            description: "An approval of a transition that needs several.",
        },
        EventInfo {
            kind: "step",
            attributes: &["id", "workflow_id", "transition", "to", "date_id"],
            description: "A process took a transition.",
        },
        EventInfo {
            kind: "remark",
            attributes: &["id", "workflow_id", "transition", "n", "date_id"],
            description: "A remark (e.g. an objection) was recorded on a process.",
        },
        EventInfo {
            kind: "finished",
            attributes: &["id", "workflow_id", "state", "took_ms", "date_id"],
            description: "A process reached a final state (its processing time).",
        },
        EventInfo {
            kind: "permit_issued",
            attributes: &["id", "holder", "permit_type"],
            description: "A process issued a permit.",
        },
    ],
    exported: &[],
};

/// The governance module.
pub struct Governance;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Governance)
}

fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

fn bad(msg: impl Into<String>) -> UrbisError {
    err(ErrorCode::InvalidArgument, msg)
}

/// A department or category code: 1 to 32 of `a-z`, `0-9`, `-`.
fn check_code(what: &str, code: &str) -> Result<(), UrbisError> {
    let ok = !code.is_empty()
        && code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(bad(format!(
            "a {what} code is 1 to 32 of a-z, 0-9 and '-', got {code:.40?}"
        )));
    }
    Ok(())
}

fn check_text(what: &str, text: &str, empty_ok: bool) -> Result<(), UrbisError> {
    let n = text.chars().count();
    if (n == 0 && !empty_ok) || n > MAX_TEXT_CHARS || text.chars().any(char::is_control) {
        return Err(bad(format!(
            "a {what} has {} to {MAX_TEXT_CHARS} characters and no control characters",
            usize::from(!empty_ok)
        )));
    }
    Ok(())
}

fn check_year(year: u16) -> Result<(), UrbisError> {
    if !(2000..=2200).contains(&year) {
        return Err(bad("a fiscal year is 2000 to 2200"));
    }
    Ok(())
}

fn only_admin(ctx: &Ctx<'_>) -> Result<(), UrbisError> {
    if !has_role(ctx, &ctx.sender(), Role::CityAdmin)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the city admin may do this",
        ));
    }
    Ok(())
}

fn load_department(ctx: &Ctx<'_>, code: &str) -> Result<Department, UrbisError> {
    check_code("department", code)?;
    ctx.get(&keys::department(code))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no department {code}")))
}

/// The sender must be an officer of `code`.
fn officer_of(ctx: &Ctx<'_>, code: &str) -> Result<Department, UrbisError> {
    let d = load_department(ctx, code)?;
    if !d.officers.contains(&ctx.sender()) {
        return Err(err(
            ErrorCode::Unauthorized,
            format!("you are not an officer of department {code}"),
        ));
    }
    Ok(d)
}

/// Emit `kind` with the searchable department, category and date.
fn event(ctx: &Ctx<'_>, kind: &str, department: &str, category: &str) -> Event {
    let mut e = Event::new(MODULE, kind)
        .with("department_id", department)
        .with("date_id", utc_date(ctx.timestamp_ms()));
    if !category.is_empty() {
        e = e.with("category_id", category);
    }
    e
}

fn record_decision(
    ctx: &mut Ctx<'_>,
    kind: DecisionKind,
    department: &str,
    category: &str,
    title: String,
    document_hash: Hash,
    author: Address,
) -> Hash {
    let id = ctx.new_id();
    let now = ctx.timestamp_ms();
    let d = Decision {
        id,
        kind,
        department: department.to_string(),
        category: category.to_string(),
        title,
        document_hash,
        author,
        recorded_ms: now,
        date: utc_date(now),
    };
    ctx.put(keys::decision(&id), &d);
    let e = event(ctx, "decision", department, category)
        .with("id", id)
        .with("kind", kind);
    ctx.emit(e);
    id
}

fn department(ctx: &mut Ctx<'_>, code: String, name: String) -> Result<(), UrbisError> {
    only_admin(ctx)?;
    check_code("department", &code)?;
    check_text("department name", &name, false)?;
    let key = keys::department(&code);
    let officers = ctx
        .get::<Department>(&key)?
        .map(|d| d.officers)
        .unwrap_or_default();
    ctx.put(
        key,
        &Department {
            code,
            name,
            officers,
        },
    );
    Ok(())
}

fn officer(
    ctx: &mut Ctx<'_>,
    code: String,
    account: Address,
    active: bool,
) -> Result<(), UrbisError> {
    only_admin(ctx)?;
    let mut d = load_department(ctx, &code)?;
    let present = d.officers.contains(&account);
    match (active, present) {
        (true, false) => {
            if d.officers.len() >= MAX_OFFICERS {
                return Err(bad(format!(
                    "a department has at most {MAX_OFFICERS} officers"
                )));
            }
            d.officers.push(account);
        }
        (false, true) => d.officers.retain(|a| *a != account),
        (true, true) => return Err(err(ErrorCode::AlreadyExists, "already an officer")),
        (false, false) => return Err(err(ErrorCode::NotFound, "not an officer")),
    }
    ctx.put(keys::department(&code), &d);
    Ok(())
}

/// A decision's department exists, its category is a code and its title a short text.
fn check_decision(
    ctx: &Ctx<'_>,
    department: &str,
    category: &str,
    title: &str,
) -> Result<(), UrbisError> {
    load_department(ctx, department)?;
    check_code("category", category)?;
    check_text("title", title, false)
}

fn decide(
    ctx: &mut Ctx<'_>,
    kind: DecisionKind,
    department: String,
    category: String,
    title: String,
    document_hash: Hash,
) -> Result<(), UrbisError> {
    match kind {
        DecisionKind::Resolution => only_admin(ctx)?,
        DecisionKind::Order => drop(officer_of(ctx, &department)?),
        DecisionKind::Award | DecisionKind::Cancellation => {
            return Err(bad(
                "awards and cancellations are recorded by award and cancel",
            ));
        }
    }
    check_decision(ctx, &department, &category, &title)?;
    let author = ctx.sender();
    record_decision(
        ctx,
        kind,
        &department,
        &category,
        title,
        document_hash,
        author,
    );
    Ok(())
}

fn appropriate(
    ctx: &mut Ctx<'_>,
    year: u16,
    department: String,
    category: String,
    amount: u64,
    decision: Hash,
) -> Result<(), UrbisError> {
    only_admin(ctx)?;
    check_year(year)?;
    load_department(ctx, &department)?;
    check_code("category", &category)?;
    let d: Decision = ctx
        .get(&keys::decision(&decision))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no decision {decision}")))?;
    if d.kind != DecisionKind::Resolution {
        return Err(err(
            ErrorCode::InvalidState,
            "a budget line is set or amended by a council resolution",
        ));
    }
    let key = keys::appropriation(year, &department, &category);
    let mut a = ctx.get::<Appropriation>(&key)?.unwrap_or(Appropriation {
        year,
        department: department.clone(),
        category: category.clone(),
        amount: 0,
        spent: 0,
        decisions: Vec::new(),
    });
    if a.decisions.contains(&decision) {
        return Err(err(
            ErrorCode::AlreadyExists,
            "this resolution has already set this budget line",
        ));
    }
    if amount < a.spent {
        return Err(err(
            ErrorCode::InvalidState,
            format!("{} is spent already; the line cannot go below it", a.spent),
        ));
    }
    if a.decisions.len() >= 64 {
        return Err(bad("a budget line is amended at most 63 times"));
    }
    a.amount = amount;
    a.decisions.push(decision);
    ctx.put(key, &a);
    let e = event(ctx, "appropriated", &department, &category)
        .with("year", year)
        .with("amount", amount)
        .with("decision", decision);
    ctx.emit(e);
    Ok(())
}

/// Charge `amount` to a budget line (`over_budget` beyond it); returns the spending id.
#[allow(clippy::too_many_arguments)]
fn charge(
    ctx: &mut Ctx<'_>,
    year: u16,
    department: &str,
    category: &str,
    amount: u64,
    payee: Option<Address>,
    invoice_hash: Hash,
    memo: String,
    tender: Option<Hash>,
) -> Result<Hash, UrbisError> {
    if amount == 0 {
        return Err(bad("an amount is positive"));
    }
    let key = keys::appropriation(year, department, category);
    let mut a: Appropriation = ctx.get(&key)?.ok_or_else(|| {
        err(
            ErrorCode::NotFound,
            format!("no budget line {year}/{department}/{category}"),
        )
    })?;
    let after = a
        .spent
        .checked_add(amount)
        .ok_or_else(|| err(ErrorCode::Overflow, "spending overflows"))?;
    if after > a.amount {
        return Err(err(
            ErrorCode::OverBudget,
            format!(
                "{amount} would exceed the budget line {year}/{department}/{category}: {} of {} spent",
                a.spent, a.amount
            ),
        ));
    }
    a.spent = after;
    ctx.put(key, &a);
    let id = ctx.new_id();
    let now = ctx.timestamp_ms();
    ctx.put(
        keys::spending(&id),
        &Spending {
            id,
            year,
            department: department.to_string(),
            category: category.to_string(),
            amount,
            payee,
            invoice_hash,
            memo,
            officer: ctx.sender(),
            recorded_ms: now,
            tender,
        },
    );
    let e = event(ctx, "spent", department, category)
        .with("id", id)
        .with("year", year)
        .with("amount", amount);
    ctx.emit(e);
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
fn spend(
    ctx: &mut Ctx<'_>,
    year: u16,
    department: String,
    category: String,
    amount: u64,
    payee: Option<Address>,
    invoice_hash: Hash,
    memo: String,
) -> Result<(), UrbisError> {
    officer_of(ctx, &department)?;
    check_year(year)?;
    check_code("category", &category)?;
    check_text("memo", &memo, true)?;
    charge(
        ctx,
        year,
        &department,
        &category,
        amount,
        payee,
        invoice_hash,
        memo,
        None,
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn tender(
    ctx: &mut Ctx<'_>,
    department: String,
    category: String,
    year: u16,
    title: String,
    spec_hash: Hash,
    max_amount: u64,
    bids_close_ms: u64,
    reveals_close_ms: u64,
) -> Result<(), UrbisError> {
    officer_of(ctx, &department)?;
    check_code("category", &category)?;
    check_year(year)?;
    check_text("title", &title, false)?;
    if max_amount == 0 {
        return Err(bad("a tender's ceiling is positive"));
    }
    let now = ctx.timestamp_ms();
    if !(now < bids_close_ms && bids_close_ms < reveals_close_ms)
        || reveals_close_ms - now > MAX_TENDER_MS
    {
        return Err(bad(
            "a tender runs now < bids close < reveals close, within a year",
        ));
    }
    if ctx
        .get_raw(&keys::appropriation(year, &department, &category))?
        .is_none()
    {
        return Err(err(
            ErrorCode::NotFound,
            format!("no budget line {year}/{department}/{category} to pay it from"),
        ));
    }
    let id = ctx.new_id();
    ctx.put(
        keys::tender(&id),
        &Tender {
            id,
            department: department.clone(),
            category: category.clone(),
            year,
            title,
            spec_hash,
            max_amount,
            bids_close_ms,
            reveals_close_ms,
            opened_ms: now,
            status: TenderStatus::Open,
            bidders: Vec::new(),
            winner: None,
            amount: None,
            decision: None,
        },
    );
    ctx.put(keys::open_tender(&id), &());
    let e = event(ctx, "tender_opened", &department, &category).with("id", id);
    ctx.emit(e);
    Ok(())
}

fn load_tender(ctx: &Ctx<'_>, id: &Hash) -> Result<Tender, UrbisError> {
    ctx.get(&keys::tender(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no tender {id}")))
}

fn bid(ctx: &mut Ctx<'_>, id: Hash, commitment: Hash) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !has_role(ctx, &sender, Role::Merchant)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "bids come from registered businesses (the merchant role)",
        ));
    }
    let mut t = load_tender(ctx, &id)?;
    if t.status != TenderStatus::Open || ctx.timestamp_ms() >= t.bids_close_ms {
        return Err(err(
            ErrorCode::InvalidState,
            "the tender takes no more bids",
        ));
    }
    let key = keys::bid(&id, &sender);
    if ctx.get_raw(&key)?.is_some() {
        return Err(err(ErrorCode::AlreadyExists, "you have bid already"));
    }
    if t.bidders.len() >= MAX_BIDS {
        return Err(err(
            ErrorCode::Exhausted,
            format!("a tender takes at most {MAX_BIDS} bids"),
        ));
    }
    let now = ctx.timestamp_ms();
    ctx.put(
        key,
        &Bid {
            commitment,
            bid_ms: now,
            amount: None,
        },
    );
    t.bidders.push(sender);
    ctx.put(keys::tender(&id), &t);
    ctx.emit(
        Event::new(MODULE, "bid")
            .with("id", id)
            .with("bidder", sender),
    );
    Ok(())
}

fn reveal(ctx: &mut Ctx<'_>, id: Hash, amount: u64, salt: Hash) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    let t = load_tender(ctx, &id)?;
    let key = keys::bid(&id, &sender);
    let mut b: Bid = ctx
        .get(&key)?
        .ok_or_else(|| err(ErrorCode::NotFound, "you have no bid in this tender"))?;
    let now = ctx.timestamp_ms();
    if t.status != TenderStatus::Open || now < t.bids_close_ms || now >= t.reveals_close_ms {
        return Err(err(
            ErrorCode::InvalidState,
            "bids are revealed after the bids close and before the reveals close",
        ));
    }
    if b.amount.is_some() {
        return Err(err(ErrorCode::InvalidState, "your bid is revealed already"));
    }
    if bid_commitment(&id, &sender, amount, &salt) != b.commitment {
        return Err(err(
            ErrorCode::InvalidProof,
            "the amount and salt do not open your commitment",
        ));
    }
    if amount == 0 || amount > t.max_amount {
        return Err(bad(format!(
            "a valid bid is 1 to the tender's ceiling of {}",
            t.max_amount
        )));
    }
    b.amount = Some(amount);
    ctx.put(key, &b);
    ctx.emit(
        Event::new(MODULE, "revealed")
            .with("id", id)
            .with("bidder", sender)
            .with("amount", amount),
    );
    Ok(())
}

fn closed_tender(ctx: &Ctx<'_>, id: &Hash) -> Result<Tender, UrbisError> {
    let t = load_tender(ctx, id)?;
    officer_of(ctx, &t.department)?;
    if t.status != TenderStatus::Open {
        return Err(err(
            ErrorCode::InvalidState,
            "the tender is decided already",
        ));
    }
    if ctx.timestamp_ms() < t.reveals_close_ms {
        return Err(err(
            ErrorCode::InvalidState,
            "a tender is decided after its reveals close",
        ));
    }
    Ok(t)
}

fn award(
    ctx: &mut Ctx<'_>,
    id: Hash,
    winner: Address,
    reason_hash: Option<Hash>,
) -> Result<(), UrbisError> {
    let mut t = closed_tender(ctx, &id)?;
    // The valid bids, in bid order; the lowest wins (the earlier on a tie).
    let mut lowest: Option<(Address, u64)> = None;
    let mut chosen = None;
    for bidder in &t.bidders {
        let b: Bid = ctx
            .get(&keys::bid(&id, bidder))?
            .ok_or_else(|| err(ErrorCode::Internal, "a bidder without a bid"))?;
        let Some(amount) = b.amount else { continue };
        if lowest.is_none_or(|(_, low)| amount < low) {
            lowest = Some((*bidder, amount));
        }
        if *bidder == winner {
            chosen = Some(amount);
        }
    }
    let amount =
        chosen.ok_or_else(|| bad(format!("{winner} has no valid revealed bid in this tender")))?;
    let is_lowest = lowest.is_some_and(|(w, _)| w == winner);
    if !is_lowest && reason_hash.is_none() {
        return Err(bad(
            "the lowest valid bid wins; awarding another needs the hash of a recorded reason",
        ));
    }
    let title = if is_lowest {
        format!("Award of tender {id} to the lowest valid bid")
    } else {
        format!("Award of tender {id} to a bid other than the lowest, with reasons")
    };
    let decision = record_decision(
        ctx,
        DecisionKind::Award,
        &t.department,
        &t.category,
        title,
        reason_hash.unwrap_or(t.spec_hash),
        ctx.sender(),
    );
    charge(
        ctx,
        t.year,
        &t.department.clone(),
        &t.category.clone(),
        amount,
        Some(winner),
        t.spec_hash,
        format!("tender {id}"),
        Some(id),
    )?;
    t.status = TenderStatus::Awarded;
    ctx.delete(keys::open_tender(&id));
    t.winner = Some(winner);
    t.amount = Some(amount);
    t.decision = Some(decision);
    ctx.put(keys::tender(&id), &t);
    let e = event(ctx, "awarded", &t.department, &t.category)
        .with("id", id)
        .with("winner", winner)
        .with("amount", amount)
        .with("decision", decision);
    ctx.emit(e);
    Ok(())
}

fn cancel(ctx: &mut Ctx<'_>, id: Hash, reason_hash: Hash) -> Result<(), UrbisError> {
    let mut t = closed_tender(ctx, &id)?;
    let decision = record_decision(
        ctx,
        DecisionKind::Cancellation,
        &t.department,
        &t.category,
        format!("Cancellation of tender {id}"),
        reason_hash,
        ctx.sender(),
    );
    t.status = TenderStatus::Cancelled;
    ctx.delete(keys::open_tender(&id));
    t.decision = Some(decision);
    ctx.put(keys::tender(&id), &t);
    let e = event(ctx, "cancelled", &t.department, &t.category)
        .with("id", id)
        .with("decision", decision);
    ctx.emit(e);
    Ok(())
}

impl Module for Governance {
    urbis_runtime::json_calls!(GovernanceCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        kit::no_genesis(MODULE, config)
    }

    fn weight(&self, data: &[u8]) -> u64 {
        calls::weight(data)
    }

    /// A workflow deadline.
    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        match payload.first() {
            Some(&workflow::DEADLINE_JOB) => workflow::on_deadline(ctx, payload),
            _ => Err(err(ErrorCode::Internal, "unknown governance job")),
        }
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        calls::dispatch(ctx, kit::decode_call(data)?)
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        if let Some(key) = council::query_key(path).or_else(|| workflow::query_key(path)) {
            return key;
        }
        let id = |what: &str, t: &str| kit::parse_hash(what, t);
        let year = |t: &str| -> Result<u16, UrbisError> {
            t.parse::<u16>()
                .map_err(|_| bad(format!("a fiscal year, got {t:.20?}")))
        };
        match path {
            ["department", code] => Ok(keys::department(code)),
            ["decision", d] => Ok(keys::decision(&id("a decision id", d)?)),
            ["appropriation", y, d, c] => Ok(keys::appropriation(year(y)?, d, c)),
            ["spending", s] => Ok(keys::spending(&id("a spending id", s)?)),
            ["tender", t] => Ok(keys::tender(&id("a tender id", t)?)),
            ["bid", t, who] => Ok(keys::bid(&id("a tender id", t)?, &kit::parse_address(who)?)),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        let Some(bytes) = value else {
            return Ok(serde_json::Value::Null);
        };
        let json = |v: Result<serde_json::Value, serde_json::Error>| {
            v.map_err(|e| err(ErrorCode::Internal, e.to_string()))
        };
        match path.first() {
            Some(&"department") => json(serde_json::to_value(decode_value::<Department>(
                &key, bytes,
            )?)),
            Some(&"decision") => json(serde_json::to_value(decode_value::<Decision>(&key, bytes)?)),
            Some(&"appropriation") => json(serde_json::to_value(decode_value::<Appropriation>(
                &key, bytes,
            )?)),
            Some(&"spending") => json(serde_json::to_value(decode_value::<Spending>(&key, bytes)?)),
            Some(&"tender") => json(serde_json::to_value(decode_value::<Tender>(&key, bytes)?)),
            Some(&"council") => json(serde_json::to_value(decode_value::<council::Council>(
                &key, bytes,
            )?)),
            Some(&"proposal") => json(serde_json::to_value(decode_value::<council::Proposal>(
                &key, bytes,
            )?)),
            Some(&"workflow") if path.len() == 2 => {
                json(serde_json::to_value(decode_value::<u32>(&key, bytes)?))
            }
            Some(&"workflow") => {
                let s: workflow::Stored = decode_value(&key, bytes)?;
                let definition: serde_json::Value = serde_json::from_str(&s.json)
                    .map_err(|e| err(ErrorCode::Internal, e.to_string()))?;
                Ok(
                    serde_json::json!({"name": s.name, "version": s.version, "author": s.author,
                    "defined_ms": s.defined_ms, "definition": definition}),
                )
            }
            Some(&"instance") => json(serde_json::to_value(decode_value::<workflow::Instance>(
                &key, bytes,
            )?)),
            Some(&"permit") => json(serde_json::to_value(decode_value::<workflow::Permit>(
                &key, bytes,
            )?)),
            Some(&"remark") => json(serde_json::to_value(decode_value::<workflow::Step>(
                &key, bytes,
            )?)),
            Some(&"processing") => {
                let st: workflow::Stats = decode_value(&key, bytes)?;
                let mut v = json(serde_json::to_value(&st))?;
                v["average_ms"] =
                    serde_json::json!(st.total_ms.checked_div(st.finished).unwrap_or(0));
                Ok(v)
            }
            _ => json(serde_json::to_value(decode_value::<Bid>(&key, bytes)?)),
        }
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        let year = |t: &str| -> Result<u16, UrbisError> {
            t.parse::<u16>()
                .map_err(|_| bad(format!("a fiscal year, got {t:.20?}")))
        };
        Ok(match path {
            ["departments"] => Some(keys::departments()),
            ["decisions"] => Some(keys::decisions()),
            ["budget", y] => Some(keys::appropriations(year(y)?)),
            ["budget", y, d] => Some(keys::appropriations_of(year(y)?, d)),
            ["tenders"] => Some(keys::tenders()),
            ["open-tenders"] => Some(keys::open_tenders()),
            ["remarks", i] => Some(workflow::keys::remarks(&kit::parse_hash(
                "an instance id",
                i,
            )?)),
            ["proposals"] => Some(council::keys::proposals()),
            ["workflows"] => Some(workflow::keys::latests()),
            _ => None,
        })
    }

    fn render_item(
        &self,
        path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        let json = |v: Result<serde_json::Value, serde_json::Error>| {
            v.map_err(|e| err(ErrorCode::Internal, e.to_string()))
        };
        match path.first() {
            Some(&"departments") => json(serde_json::to_value(decode_value::<Department>(
                key, value,
            )?)),
            Some(&"decisions") => json(serde_json::to_value(decode_value::<Decision>(key, value)?)),
            Some(&"budget") => {
                let a: Appropriation = decode_value(key, value)?;
                let mut v = json(serde_json::to_value(&a))?;
                v["remaining"] = serde_json::json!(a.amount - a.spent);
                Ok(v)
            }
            Some(&"workflows") => {
                let name = String::from_utf8_lossy(key)
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                Ok(serde_json::json!({"name": name, "latest": decode_value::<u32>(key, value)?}))
            }
            Some(&"proposals") => json(serde_json::to_value(decode_value::<council::Proposal>(
                key, value,
            )?)),
            Some(&"remarks") => json(serde_json::to_value(decode_value::<workflow::Step>(
                key, value,
            )?)),
            Some(&"open-tenders") => {
                let id = String::from_utf8_lossy(key)
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                Ok(serde_json::json!({ "id": id }))
            }
            _ => json(serde_json::to_value(decode_value::<Tender>(key, value)?)),
        }
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

#[cfg(test)]
mod tests;
