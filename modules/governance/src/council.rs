//! The council: `k` of its `n` members approve a proposal, which anyone of them executes once
//! its timelock has passed. Proposals grant and revoke roles (through the accounts module's
//! council operations), accredit credential issuers (the identity module's), set module
//! parameters (`kit::ParameterOp`, e.g. the land register's objection window), and change the
//! council itself. The city admin seats the first council
//! (`set_council`, once); after that only the council changes it.
//!
//! | key | value (borsh) |
//! |---|---|
//! | `governance/council` | [`Council`] |
//! | `governance/proposal/<id>` | [`Proposal`] |

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{AccountsOp, Role};
use urbis_core::{Address, ErrorCode, Event, Hash, PublicKey, UrbisError};
use urbis_runtime::validators::SystemOp;
use urbis_runtime::{Ctx, kit};

use super::{MODULE, err, only_admin, utc_date};

/// The runtime's namespace, whose validator schedule the council changes.
const SYSTEM: &str = "system";

/// Most council members.
pub const MAX_MEMBERS: usize = 32;
/// Longest timelock: 90 days.
pub const MAX_TIMELOCK_MS: u64 = 90 * 86_400_000;

/// The council.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Council {
    pub members: Vec<Address>,
    pub threshold: u32,
    pub timelock_ms: u64,
}

/// What an approved proposal does.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum CouncilAction {
    GrantRole {
        account: Address,
        role: Role,
    },
    RevokeRole {
        account: Address,
        role: Role,
    },
    SetCouncil {
        members: Vec<Address>,
        threshold: u32,
        timelock_ms: u64,
    },
    /// Set a module parameter (modules that have parameters accept it from the council, e.g.
    /// `land` / `objection_window_ms`).
    SetParameter {
        module: String,
        name: String,
        value: u64,
    },
    /// Accredit a credential issuer (a DID) for a credential type, for a period.
    AccreditIssuer {
        issuer: String,
        vct: String,
        from_ms: u64,
        until_ms: u64,
    },
    /// Answer a petition that reached its threshold (the petitions module records it), with
    /// the SHA-256 of the answer's text.
    AnswerPetition {
        petition: Hash,
        accepted: bool,
        answer_hash: Hash,
    },
    /// Pass a council resolution (a `resolution` decision on the ledger, which may back an
    /// appropriation).
    Resolve {
        department: String,
        category: String,
        title: String,
        document_hash: Hash,
    },
    /// Add a validator (its consensus key and p2p `host:port`). Like every validator-set
    /// change it takes effect two epochs after the epoch it is executed in (see
    /// `urbis_runtime::validators`); refused on a chain without epochs.
    AddValidator {
        name: String,
        public_key: PublicKey,
        address: String,
    },
    /// Remove a validator.
    RemoveValidator {
        public_key: PublicKey,
    },
    /// Replace a validator's key (and, if given, its p2p address).
    RotateValidator {
        public_key: PublicKey,
        new_key: PublicKey,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
}

/// Where a proposal stands.
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
pub enum ProposalStatus {
    /// Collecting approvals.
    Pending,
    /// Enough approvals: executable once `executable_ms` has come.
    Approved,
    Executed,
}

/// A council proposal.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Proposal {
    pub id: Hash,
    pub action: CouncilAction,
    pub description_hash: Hash,
    pub proposer: Address,
    pub created_ms: u64,
    pub approvals: Vec<Address>,
    pub status: ProposalStatus,
    pub executable_ms: Option<u64>,
    pub executed_ms: Option<u64>,
}

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::Hash;
    use urbis_runtime::kit;

    pub fn council() -> Vec<u8> {
        kit::key(MODULE, &[&"council"])
    }
    pub fn proposal(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"proposal", id])
    }
    pub fn proposals() -> Vec<u8> {
        kit::prefix(MODULE, &[&"proposal"])
    }
}

fn check_council(members: &[Address], threshold: u32, timelock_ms: u64) -> Result<(), UrbisError> {
    let n = members.len();
    let distinct: std::collections::BTreeSet<&Address> = members.iter().collect();
    if n == 0 || n > MAX_MEMBERS || distinct.len() != n {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("a council has 1 to {MAX_MEMBERS} distinct members"),
        ));
    }
    if threshold == 0 || threshold as usize > n {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("the threshold is 1 to {n} (the members)"),
        ));
    }
    if timelock_ms > MAX_TIMELOCK_MS {
        return Err(err(
            ErrorCode::InvalidArgument,
            "a timelock is at most 90 days",
        ));
    }
    Ok(())
}

fn load_council(ctx: &Ctx<'_>) -> Result<Council, UrbisError> {
    ctx.get(&keys::council())?
        .ok_or_else(|| err(ErrorCode::NotFound, "no council is seated"))
}

fn member(ctx: &Ctx<'_>) -> Result<Council, UrbisError> {
    let c = load_council(ctx)?;
    if !c.members.contains(&ctx.sender()) {
        return Err(err(ErrorCode::Unauthorized, "you are not a council member"));
    }
    Ok(c)
}

fn load(ctx: &Ctx<'_>, id: &Hash) -> Result<Proposal, UrbisError> {
    ctx.get(&keys::proposal(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no proposal {id}")))
}

fn dated(ctx: &Ctx<'_>, kind: &str, id: Hash) -> Event {
    Event::new(MODULE, kind)
        .with("id", id)
        .with("date_id", utc_date(ctx.timestamp_ms()))
}

pub(crate) fn set_council(
    ctx: &mut Ctx<'_>,
    members: Vec<Address>,
    threshold: u32,
    timelock_ms: u64,
) -> Result<(), UrbisError> {
    only_admin(ctx)?;
    if ctx.get_raw(&keys::council())?.is_some() {
        return Err(err(
            ErrorCode::InvalidState,
            "a council is seated: only a council proposal changes it",
        ));
    }
    check_council(&members, threshold, timelock_ms)?;
    ctx.put(
        keys::council(),
        &Council {
            members,
            threshold,
            timelock_ms,
        },
    );
    ctx.emit(Event::new(MODULE, "council_seated").with("threshold", threshold));
    Ok(())
}

/// Approve; the `k`-th approval starts the timelock.
fn add_approval(ctx: &mut Ctx<'_>, c: &Council, p: &mut Proposal) {
    p.approvals.push(ctx.sender());
    if p.status == ProposalStatus::Pending && p.approvals.len() >= c.threshold as usize {
        let at = ctx.timestamp_ms().saturating_add(c.timelock_ms);
        p.status = ProposalStatus::Approved;
        p.executable_ms = Some(at);
        ctx.emit(dated(ctx, "proposal_approved", p.id).with("executable_ms", at));
    }
}

pub(crate) fn propose(
    ctx: &mut Ctx<'_>,
    action: CouncilAction,
    description_hash: Hash,
) -> Result<(), UrbisError> {
    let c = member(ctx)?;
    match &action {
        CouncilAction::SetCouncil {
            members,
            threshold,
            timelock_ms,
        } => check_council(members, *threshold, *timelock_ms)?,
        CouncilAction::Resolve {
            department,
            category,
            title,
            ..
        } => crate::check_decision(ctx, department, category, title)?,
        _ => {}
    }
    let id = ctx.new_id();
    let mut p = Proposal {
        id,
        action,
        description_hash,
        proposer: ctx.sender(),
        created_ms: ctx.timestamp_ms(),
        approvals: Vec::new(),
        status: ProposalStatus::Pending,
        executable_ms: None,
        executed_ms: None,
    };
    ctx.emit(dated(ctx, "proposed", id).with("proposer", ctx.sender()));
    add_approval(ctx, &c, &mut p);
    ctx.put(keys::proposal(&id), &p);
    Ok(())
}

pub(crate) fn approve(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let c = member(ctx)?;
    let mut p = load(ctx, &id)?;
    if p.status == ProposalStatus::Executed {
        return Err(err(
            ErrorCode::InvalidState,
            "the proposal is executed already",
        ));
    }
    if p.approvals.contains(&ctx.sender()) {
        return Err(err(
            ErrorCode::AlreadyExists,
            "you have approved it already",
        ));
    }
    ctx.emit(dated(ctx, "approval", id).with("member", ctx.sender()));
    add_approval(ctx, &c, &mut p);
    ctx.put(keys::proposal(&id), &p);
    Ok(())
}

pub(crate) fn execute(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let c = member(ctx)?;
    let mut p = load(ctx, &id)?;
    // Approvals by members who have since left the council no longer count.
    let still = p.approvals.iter().filter(|a| c.members.contains(a)).count();
    match (p.status, p.executable_ms) {
        (ProposalStatus::Executed, _) => {
            return Err(err(
                ErrorCode::InvalidState,
                "the proposal is executed already",
            ));
        }
        (ProposalStatus::Approved, Some(at)) if still >= c.threshold as usize => {
            if ctx.timestamp_ms() < at {
                return Err(err(
                    ErrorCode::InvalidState,
                    format!("the timelock runs until {at} ms; execute after it"),
                ));
            }
        }
        _ => {
            return Err(err(
                ErrorCode::InvalidState,
                format!(
                    "the proposal has {still} of the {} approvals it needs",
                    c.threshold
                ),
            ));
        }
    }
    match p.action.clone() {
        CouncilAction::GrantRole { account, role } => {
            ctx.invoke::<()>(
                urbis_accounts::MODULE,
                &AccountsOp::CouncilGrant { account, role },
            )?;
        }
        CouncilAction::RevokeRole { account, role } => {
            ctx.invoke::<()>(
                urbis_accounts::MODULE,
                &AccountsOp::CouncilRevoke { account, role },
            )?;
        }
        CouncilAction::SetParameter {
            module,
            name,
            value,
        } => {
            let op = borsh::to_vec(&kit::ParameterOp::Set { name, value })
                .expect("borsh to vec never fails");
            ctx.invoke_raw(&module, &op)?;
        }
        CouncilAction::AccreditIssuer {
            issuer,
            vct,
            from_ms,
            until_ms,
        } => {
            ctx.invoke::<()>(
                urbis_identity::MODULE,
                &urbis_identity::IdentityOp::CouncilAccredit {
                    issuer,
                    vct,
                    from_ms,
                    until_ms,
                },
            )?;
        }
        CouncilAction::Resolve {
            department,
            category,
            title,
            document_hash,
        } => {
            crate::record_decision(
                ctx,
                crate::DecisionKind::Resolution,
                &department,
                &category,
                title,
                document_hash,
                ctx.sender(),
            );
        }
        CouncilAction::AnswerPetition {
            petition,
            accepted,
            answer_hash,
        } => {
            ctx.invoke::<()>(
                urbis_petitions::MODULE,
                &urbis_petitions::PetitionsOp::CouncilAnswer {
                    id: petition,
                    accepted,
                    answer_hash,
                },
            )?;
        }
        CouncilAction::AddValidator {
            name,
            public_key,
            address,
        } => {
            let from = ctx.invoke::<u64>(
                SYSTEM,
                &SystemOp::AddValidator {
                    name,
                    public_key,
                    address,
                },
            )?;
            ctx.emit(dated(ctx, "validator_change", id).with("from_epoch", from));
        }
        CouncilAction::RemoveValidator { public_key } => {
            let from = ctx.invoke::<u64>(SYSTEM, &SystemOp::RemoveValidator { public_key })?;
            ctx.emit(dated(ctx, "validator_change", id).with("from_epoch", from));
        }
        CouncilAction::RotateValidator {
            public_key,
            new_key,
            address,
        } => {
            let from = ctx.invoke::<u64>(
                SYSTEM,
                &SystemOp::RotateValidator {
                    public_key,
                    new_key,
                    address,
                },
            )?;
            ctx.emit(dated(ctx, "validator_change", id).with("from_epoch", from));
        }
        CouncilAction::SetCouncil {
            members,
            threshold,
            timelock_ms,
        } => {
            check_council(&members, threshold, timelock_ms)?;
            ctx.put(
                keys::council(),
                &Council {
                    members,
                    threshold,
                    timelock_ms,
                },
            );
        }
    }
    p.status = ProposalStatus::Executed;
    p.executed_ms = Some(ctx.timestamp_ms());
    ctx.put(keys::proposal(&id), &p);
    ctx.emit(dated(ctx, "executed", id).with("by", ctx.sender()));
    Ok(())
}

/// The query key of a council path, if it is one.
pub(crate) fn query_key(path: &[&str]) -> Option<Result<Vec<u8>, UrbisError>> {
    match path {
        ["council"] => Some(Ok(keys::council())),
        ["proposal", id] => Some(kit::parse_hash("a proposal id", id).map(|h| keys::proposal(&h))),
        _ => None,
    }
}
