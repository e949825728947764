//! The calls of the governance module, their weights and their dispatch.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{Address, Hash, UrbisError};
use urbis_runtime::Ctx;

use super::DecisionKind;
use super::council::CouncilAction;

/// A call to the governance module (borsh in transactions; never reorder, only append).
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
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
pub enum GovernanceCall {
    /// Create or rename a department (city admin).
    Department { code: String, name: String },
    /// Appoint (`active`) or remove an officer of a department (city admin).
    Officer {
        department: String,
        account: Address,
        active: bool,
    },
    /// Record a decision: a resolution (city admin) or an order (an officer).
    Decide {
        kind: DecisionKind,
        department: String,
        category: String,
        title: String,
        document_hash: Hash,
    },
    /// Set or amend a budget line by a resolution (city admin).
    Appropriate {
        year: u16,
        department: String,
        category: String,
        amount: u64,
        decision: Hash,
    },
    /// Record spending against a budget line (an officer).
    Spend {
        year: u16,
        department: String,
        category: String,
        amount: u64,
        payee: Option<Address>,
        invoice_hash: Hash,
        memo: String,
    },
    /// Open a tender paid from a budget line (an officer).
    Tender {
        department: String,
        category: String,
        year: u16,
        title: String,
        spec_hash: Hash,
        max_amount: u64,
        bids_close_ms: u64,
        reveals_close_ms: u64,
    },
    /// A sealed bid (a merchant): the commitment of `bid_commitment`.
    Bid { tender: Hash, commitment: Hash },
    /// Reveal one's bid.
    Reveal {
        tender: Hash,
        amount: u64,
        salt: Hash,
    },
    /// Award a tender (an officer of its department, after the reveals close).
    Award {
        tender: Hash,
        winner: Address,
        reason_hash: Option<Hash>,
    },
    /// Cancel a tender with a reason (an officer of its department, after the reveals close).
    Cancel { tender: Hash, reason_hash: Hash },
    /// Seat the first council (city admin, once).
    SetCouncil {
        members: Vec<Address>,
        threshold: u32,
        timelock_ms: u64,
    },
    /// Propose an action (a council member; counts as its approval).
    Propose {
        action: CouncilAction,
        description_hash: Hash,
    },
    /// Approve a proposal (a council member, once).
    Approve { proposal: Hash },
    /// Execute an approved proposal after its timelock (a council member).
    Execute { proposal: Hash },
    /// Define a workflow, or a new version of one (city admin or a department; JSON).
    DefineWorkflow { definition: String },
    /// Start an instance of a workflow's latest version (the fee, if any, is held from the
    /// sender).
    StartWorkflow {
        workflow: String,
        subject_hash: Hash,
        documents: Vec<Hash>,
    },
    /// Take (or approve) a transition of an instance.
    Act {
        instance: Hash,
        transition: String,
        document_hash: Option<Hash>,
    },
}

/// Declared weights: a handful of reads and writes each; an award reads every bid.
pub fn weight(data: &[u8]) -> u64 {
    match borsh::from_slice::<GovernanceCall>(data) {
        Ok(GovernanceCall::Award { .. }) => 150_000 + super::MAX_BIDS as u64 * 3_000,
        // A definition is parsed and checked (reachability over at most 32 states).
        Ok(GovernanceCall::DefineWorkflow { .. }) => 100_000 + 50 * data.len() as u64,
        // Reading the definition back, the instance, and up to four actions on entering a
        // state (a fee hold or payout, a permit, a ledger entry, a reward award).
        Ok(GovernanceCall::StartWorkflow { .. } | GovernanceCall::Act { .. }) => 400_000,
        _ => 100_000,
    }
}

pub fn dispatch(ctx: &mut Ctx<'_>, call: GovernanceCall) -> Result<(), UrbisError> {
    match call {
        GovernanceCall::Department { code, name } => super::department(ctx, code, name),
        GovernanceCall::Officer {
            department,
            account,
            active,
        } => super::officer(ctx, department, account, active),
        GovernanceCall::Decide {
            kind,
            department,
            category,
            title,
            document_hash,
        } => super::decide(ctx, kind, department, category, title, document_hash),
        GovernanceCall::Appropriate {
            year,
            department,
            category,
            amount,
            decision,
        } => super::appropriate(ctx, year, department, category, amount, decision),
        GovernanceCall::Spend {
            year,
            department,
            category,
            amount,
            payee,
            invoice_hash,
            memo,
        } => super::spend(
            ctx,
            year,
            department,
            category,
            amount,
            payee,
            invoice_hash,
            memo,
        ),
        GovernanceCall::Tender {
            department,
            category,
            year,
            title,
            spec_hash,
            max_amount,
            bids_close_ms,
            reveals_close_ms,
        } => super::tender(
            ctx,
            department,
            category,
            year,
            title,
            spec_hash,
            max_amount,
            bids_close_ms,
            reveals_close_ms,
        ),
        GovernanceCall::Bid { tender, commitment } => super::bid(ctx, tender, commitment),
        GovernanceCall::Reveal {
            tender,
            amount,
            salt,
        } => super::reveal(ctx, tender, amount, salt),
        GovernanceCall::Award {
            tender,
            winner,
            reason_hash,
        } => super::award(ctx, tender, winner, reason_hash),
        GovernanceCall::Cancel {
            tender,
            reason_hash,
        } => super::cancel(ctx, tender, reason_hash),
        GovernanceCall::SetCouncil {
            members,
            threshold,
            timelock_ms,
        } => super::council::set_council(ctx, members, threshold, timelock_ms),
        GovernanceCall::Propose {
            action,
            description_hash,
        } => super::council::propose(ctx, action, description_hash),
        GovernanceCall::Approve { proposal } => super::council::approve(ctx, proposal),
        GovernanceCall::Execute { proposal } => super::council::execute(ctx, proposal),
        GovernanceCall::DefineWorkflow { definition } => super::workflow::define(ctx, definition),
        GovernanceCall::StartWorkflow {
            workflow,
            subject_hash,
            documents,
        } => super::workflow::start(ctx, workflow, subject_hash, documents),
        GovernanceCall::Act {
            instance,
            transition,
            document_hash,
        } => super::workflow::act(ctx, instance, transition, document_hash),
    }
}
