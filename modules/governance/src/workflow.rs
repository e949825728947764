//! Workflows: administrative processes declared as data and run by a deterministic
//! interpreter, every step on the ledger.
//!
//! A **definition** (JSON, stored on chain under its name and version; defining a name again
//! adds a version, and running instances keep theirs) names states, the transitions between
//! them (which role may take each, how many distinct holders of that role must approve), an
//! optional deadline per state (after which the scheduler takes a named transition by
//! itself), actions run on entering a state, and an optional fee held from the applicant when
//! an instance starts. It is validated when submitted: unknown states or roles, unreachable
//! states, a non-final state with no way out, a final state with one, actions a workflow may
//! not take, sizes beyond the bounds — each is `invalid_argument`, nothing stored.
//!
//! **Who maintains a workflow.** The first author of a name (a department or the city admin)
//! maintains it: later versions come from that account or the city admin (`unauthorized`
//! otherwise). What the actions may do is checked against the author when it is defined: a fee
//! goes to a public body, a decision is recorded for a department the author is an officer of,
//! a reward comes from a program the author created, a permit credential is issued under a DID
//! the author controls (the city admin may name any department or program).
//!
//! Actions on entering a state (at most [`MAX_ACTIONS`] per state, each a bounded amount of
//! work, so a transition's cost is bounded):
//! - `release_fee {to}`: pay the held fee to `to` (an account with the `city_admin` or
//!   `department` role, e.g. the city's treasury);
//! - `refund_fee`: give it back to the applicant;
//! - `issue_permit {permit_type, valid_days, credential?}`: record a permit held by the
//!   applicant (`governance/permit/<instance>`, provable). With `credential {issuer,
//!   status_list}` the permit is also a verifiable credential: the chain assigns it the next
//!   entry of that status list (of `issuer`, a DID the author controls), and the issuer signs
//!   an SD-JWT VC of type `urn:urbis:permit` carrying that entry (`urbis workflow credential`),
//!   which anyone verifies, and the issuer revokes, like any credential. Give the workflow a
//!   status list of its own: the chain hands out its entries in order, and a credential the
//!   issuer signs by other means from the same list could share an entry with a permit;
//! - `record_decision {department, category, title}`: an order on the ledger, its document
//!   hash the instance's subject, its author the workflow's author;
//! - `award_reward {program, amount}`: reward tokens to the applicant from a rewards program
//!   this module may award from;
//! - `publish_notice {title, category, district?, expires_after_ms}`: a public notice about the
//!   instance's subject (its hash is the notice's body hash), through the notices module.
//!
//! ```json
//! {"name": "building-permit", "initial": "applied",
//!  "fee": {"asset": "EURc", "amount": 250},
//!  "states": {
//!    "applied": {}, "complete": {},
//!    "notice": {"deadline": {"after_ms": 1209600000, "transition": "close_notice"}},
//!    "review": {},
//!    "issued": {"final": true, "on_enter": [{"action": "issue_permit", "permit_type": "building", "valid_days": 730},
//!                                           {"action": "release_fee", "to": "urbis1…"}]},
//!    "refused": {"final": true, "on_enter": [{"action": "refund_fee"}]}},
//!  "transitions": [
//!    {"name": "complete", "from": "applied", "to": "complete", "role": "department"},
//!    {"name": "publish", "from": "complete", "to": "notice", "role": "department"},
//!    {"name": "object", "from": "notice", "to": "notice", "role": "citizen"},
//!    {"name": "close_notice", "from": "notice", "to": "review", "role": "department"},
//!    {"name": "approve", "from": "review", "to": "issued", "role": "department", "approvals": 2},
//!    {"name": "refuse", "from": "review", "to": "refused", "role": "department", "approvals": 2}]}
//! ```
//!
//! A transition from a state to itself is a **remark** (an objection during a public notice):
//! it is recorded apart from the instance (`governance/remark/<instance>/<n>`), at most once
//! per account per stay in the state and [`MAX_REMARKS`] per instance, so remarks never stop
//! the process from moving on. A transition marked `"automatic": true` has no role: only the
//! scheduler takes it, at its state's deadline (a public notice nobody may cut short, a tacit
//! renewal). Starting an instance is open to the roles in `starters` (default: citizens and
//! merchants).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError};
use urbis_runtime::{Ctx, kit};

use super::{DecisionKind, MODULE, check_code, err, record_decision, utc_date};

/// Most states, transitions and actions per state of a definition.
pub const MAX_STATES: usize = 32;
pub const MAX_TRANSITIONS: usize = 64;
pub const MAX_ACTIONS: usize = 4;
/// Most approvals a transition may require.
pub const MAX_APPROVALS: u32 = 16;
/// Most steps (transitions that move) an instance records.
pub const MAX_STEPS: usize = 256;
/// Most remarks (transitions from a state to itself) an instance records.
pub const MAX_REMARKS: u64 = 100_000;
/// Most documents attached when starting.
pub const MAX_DOCUMENTS: usize = 16;
/// Longest deadline: a year.
pub const MAX_DEADLINE_MS: u64 = 365 * 86_400_000;
/// Largest definition, in bytes of JSON.
pub const MAX_DEFINITION_BYTES: usize = 16 * 1024;

/// A fee held from the applicant when an instance starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    pub asset: String,
    pub amount: u64,
}

/// A state's deadline: after `after_ms` in the state, the scheduler takes `transition`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    pub after_ms: u64,
    pub transition: String,
}

/// What entering a state does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    ReleaseFee {
        to: Address,
    },
    RefundFee,
    IssuePermit {
        permit_type: String,
        valid_days: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credential: Option<PermitCredential>,
    },
    RecordDecision {
        department: String,
        category: String,
        title: String,
    },
    AwardReward {
        program: u64,
        amount: u64,
    },
    /// A public notice (notices module) about the instance's subject, expiring after
    /// `expires_after_ms`.
    PublishNotice {
        title: String,
        category: String,
        #[serde(default)]
        district: Option<String>,
        expires_after_ms: u64,
    },
}

/// Where a permit's credential lives: its issuer DID and the issuer's status list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermitCredential {
    pub issuer: String,
    pub status_list: u64,
}

/// A state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[serde(default)]
    pub r#final: bool,
    #[serde(default)]
    pub deadline: Option<Deadline>,
    #[serde(default)]
    pub on_enter: Vec<Action>,
}

/// A transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub name: String,
    pub from: String,
    pub to: String,
    /// Who takes it (absent for an automatic transition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// If set, the actor must also be an officer of this department (`governance`
    /// departments): "2 of the planning department's officials".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default = "one")]
    pub approvals: u32,
    /// Taken only by the scheduler at its state's deadline; `act` refuses it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automatic: bool,
}

fn one() -> u32 {
    1
}

fn default_starters() -> Vec<Role> {
    vec![Role::Citizen, Role::Merchant]
}

/// A workflow definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub name: String,
    pub initial: String,
    #[serde(default)]
    pub fee: Option<Fee>,
    #[serde(default = "default_starters")]
    pub starters: Vec<Role>,
    pub states: BTreeMap<String, State>,
    pub transitions: Vec<Transition>,
}

impl Definition {
    /// Parse and validate a definition.
    pub fn parse(json: &str) -> Result<Definition, UrbisError> {
        if json.len() > MAX_DEFINITION_BYTES {
            return Err(bad(format!(
                "a definition is at most {MAX_DEFINITION_BYTES} bytes"
            )));
        }
        let d: Definition = serde_json::from_str(json)
            .map_err(|e| bad(format!("the definition does not parse: {e}")))?;
        d.validate()?;
        Ok(d)
    }

    fn transition(&self, name: &str) -> Option<&Transition> {
        self.transitions.iter().find(|t| t.name == name)
    }

    /// Every rule a definition must keep.
    pub fn validate(&self) -> Result<(), UrbisError> {
        check_name("workflow", &self.name)?;
        if self.states.len() < 2 || self.states.len() > MAX_STATES {
            return Err(bad(format!("a workflow has 2 to {MAX_STATES} states")));
        }
        if self.transitions.is_empty() || self.transitions.len() > MAX_TRANSITIONS {
            return Err(bad(format!(
                "a workflow has 1 to {MAX_TRANSITIONS} transitions"
            )));
        }
        if self.starters.is_empty() {
            return Err(bad("name the roles that may start the workflow"));
        }
        for name in self.states.keys() {
            check_name("state", name)?;
        }
        if !self.states.contains_key(&self.initial) {
            return Err(bad(format!("unknown initial state {:?}", self.initial)));
        }
        if let Some(f) = &self.fee
            && (f.amount == 0 || f.asset.is_empty() || f.asset.len() > 16)
        {
            return Err(bad("a fee has a positive amount and an asset symbol"));
        }
        let mut names = BTreeSet::new();
        for t in &self.transitions {
            check_name("transition", &t.name)?;
            if !names.insert(t.name.as_str()) {
                return Err(bad(format!("transition {:?} is declared twice", t.name)));
            }
            for s in [&t.from, &t.to] {
                if !self.states.contains_key(s) {
                    return Err(bad(format!(
                        "transition {:?} names unknown state {s:?}",
                        t.name
                    )));
                }
            }
            if let Some(d) = &t.department {
                check_code("department", d)?;
            }
            if t.automatic {
                if t.role.is_some() || t.department.is_some() || t.approvals != 1 {
                    return Err(bad(format!(
                        "transition {:?} is automatic: no role, department or approvals",
                        t.name
                    )));
                }
                let is_deadline = self.states[&t.from]
                    .deadline
                    .as_ref()
                    .is_some_and(|dl| dl.transition == t.name);
                if !is_deadline {
                    return Err(bad(format!(
                        "transition {:?} is automatic but no deadline of {:?} takes it",
                        t.name, t.from
                    )));
                }
            } else if t.role.is_none() {
                return Err(bad(format!(
                    "transition {:?} names the role that takes it (or is automatic)",
                    t.name
                )));
            }
            if t.from == t.to && (t.automatic || t.approvals != 1) {
                return Err(bad(format!(
                    "transition {:?} is a remark (from a state to itself): one actor, not automatic",
                    t.name
                )));
            }
            if t.approvals == 0 || t.approvals > MAX_APPROVALS {
                return Err(bad(format!(
                    "transition {:?} needs 1 to {MAX_APPROVALS} approvals",
                    t.name
                )));
            }
            if self.states[&t.from].r#final {
                return Err(bad(format!(
                    "transition {:?} leaves the final state {:?}",
                    t.name, t.from
                )));
            }
        }
        let mut final_states = 0;
        for (name, s) in &self.states {
            if s.r#final {
                final_states += 1;
                if s.deadline.is_some() {
                    return Err(bad(format!("final state {name:?} has a deadline")));
                }
            } else if !self
                .transitions
                .iter()
                .any(|t| t.from == *name && t.to != *name)
            {
                return Err(bad(format!(
                    "state {name:?} is not final and has no way out"
                )));
            }
            if let Some(d) = &s.deadline {
                let t = self.transition(&d.transition).ok_or_else(|| {
                    bad(format!(
                        "state {name:?}'s deadline takes unknown transition {:?}",
                        d.transition
                    ))
                })?;
                if t.from != *name || t.to == *name {
                    return Err(bad(format!(
                        "state {name:?}'s deadline must take a transition out of it"
                    )));
                }
                if d.after_ms == 0 || d.after_ms > MAX_DEADLINE_MS {
                    return Err(bad("a deadline is 1 ms to a year"));
                }
            }
            if s.on_enter.len() > MAX_ACTIONS {
                return Err(bad(format!(
                    "state {name:?} has more than {MAX_ACTIONS} actions"
                )));
            }
            for a in &s.on_enter {
                self.check_action(name, a)?;
            }
        }
        if final_states == 0 {
            return Err(bad("a workflow needs a final state"));
        }
        // Every state is reachable from the initial one.
        let mut seen = BTreeSet::from([self.initial.as_str()]);
        let mut queue = VecDeque::from([self.initial.as_str()]);
        while let Some(s) = queue.pop_front() {
            for t in self.transitions.iter().filter(|t| t.from == s) {
                if seen.insert(t.to.as_str()) {
                    queue.push_back(&t.to);
                }
            }
        }
        if let Some(lost) = self.states.keys().find(|s| !seen.contains(s.as_str())) {
            return Err(bad(format!("state {lost:?} cannot be reached")));
        }
        Ok(())
    }

    fn check_action(&self, state: &str, a: &Action) -> Result<(), UrbisError> {
        match a {
            Action::ReleaseFee { .. } | Action::RefundFee if self.fee.is_none() => Err(bad(
                format!("state {state:?} moves a fee, but the workflow takes none"),
            )),
            Action::IssuePermit {
                permit_type,
                valid_days,
                ..
            } => {
                check_name("permit type", permit_type)?;
                if *valid_days == 0 || *valid_days > 36_500 {
                    return Err(bad("a permit is valid 1 to 36,500 days"));
                }
                Ok(())
            }
            Action::RecordDecision {
                department,
                category,
                title,
            } => {
                check_code("department", department)?;
                check_code("category", category)?;
                super::check_text("title", title, false)
            }
            Action::AwardReward { amount, .. } if *amount == 0 => {
                Err(bad("a reward is a positive amount"))
            }
            Action::PublishNotice {
                title,
                category,
                district,
                expires_after_ms,
            } => {
                super::check_text("notice title", title, false)?;
                check_code("category", category)?;
                if let Some(d) = district {
                    check_code("district", d)?;
                }
                if *expires_after_ms == 0 || *expires_after_ms > MAX_DEADLINE_MS {
                    return Err(bad("a notice expires 1 ms to a year after it is published"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// What the author of a definition may make it do (checked when it is defined): see the
/// module docs. `admin`: the author holds the `city_admin` role.
fn check_authority(
    ctx: &Ctx<'_>,
    d: &Definition,
    author: &Address,
    admin: bool,
) -> Result<(), UrbisError> {
    let denied = |msg: String| err(ErrorCode::Unauthorized, msg);
    for t in &d.transitions {
        if let Some(dep) = &t.department {
            super::load_department(ctx, dep)?;
        }
    }
    for a in d.states.values().flat_map(|s| &s.on_enter) {
        match a {
            Action::ReleaseFee { to }
                if !(has_role(ctx, to, Role::CityAdmin)?
                    || has_role(ctx, to, Role::Department)?) =>
            {
                return Err(denied(format!(
                    "a fee is released to a public body (an account with the city_admin or department role), not {to}"
                )));
            }
            Action::RecordDecision { department, .. } => {
                let dep = super::load_department(ctx, department)?;
                if !admin && !dep.officers.contains(author) {
                    return Err(denied(format!(
                        "decisions of department {department} are recorded by workflows its officers define"
                    )));
                }
            }
            Action::AwardReward { program, .. } => {
                let p: urbis_rewards::Program = ctx
                    .get(&urbis_rewards::keys::program(*program))?
                    .ok_or_else(|| {
                    err(ErrorCode::NotFound, format!("no rewards program {program}"))
                })?;
                if !admin && p.created_by != *author {
                    return Err(denied(format!(
                        "rewards of program {program} are awarded by workflows its creator defines"
                    )));
                }
            }
            Action::IssuePermit {
                credential: Some(c),
                ..
            } => {
                let list = urbis_identity::status_list(ctx, c.status_list)?.ok_or_else(|| {
                    err(
                        ErrorCode::NotFound,
                        format!("no status list {}", c.status_list),
                    )
                })?;
                if list.issuer != c.issuer {
                    return Err(bad(format!(
                        "status list {} belongs to {}, not {}",
                        c.status_list, list.issuer, c.issuer
                    )));
                }
                if urbis_identity::load(ctx, &c.issuer)?.controller != *author {
                    return Err(denied(format!(
                        "permits are issued as credentials of {} by workflows its controller defines",
                        c.issuer
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn bad(msg: impl Into<String>) -> UrbisError {
    err(ErrorCode::InvalidArgument, msg)
}

/// A workflow, state, transition or permit-type name: 1 to 32 of `a-z`, `0-9`, `-`, `_`.
fn check_name(what: &str, name: &str) -> Result<(), UrbisError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !ok {
        return Err(bad(format!(
            "a {what} name is 1 to 32 of a-z, 0-9, '-' and '_', got {name:.40?}"
        )));
    }
    Ok(())
}

/// A stored definition version.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Stored {
    pub name: String,
    pub version: u32,
    /// The definition as submitted (validated JSON).
    pub json: String,
    pub author: Address,
    pub defined_ms: u64,
}

/// One step of an instance.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Step {
    pub transition: String,
    /// `None`: taken by the scheduler at a deadline.
    pub actor: Option<Address>,
    pub at_ms: u64,
    pub document_hash: Option<Hash>,
    pub from: String,
    pub to: String,
}

/// A running (or finished) process.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Instance {
    pub id: Hash,
    pub workflow: String,
    pub version: u32,
    pub applicant: Address,
    pub subject_hash: Hash,
    pub documents: Vec<Hash>,
    pub state: String,
    /// How many times a state was entered (a deadline job checks it is still the same stay).
    pub entries: u64,
    pub entered_ms: u64,
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
    pub fee_hold: Option<Hash>,
    /// Approvals gathered for a transition out of the current state.
    pub pending: Vec<(String, Vec<Address>)>,
    /// Transitions that moved, in order.
    pub steps: Vec<Step>,
    /// How many remarks (`governance/remark/<id>/<n>`) were recorded.
    pub remarks: u64,
}

/// Processing times of a workflow's finished processes (all versions), for transparency.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Stats {
    pub finished: u64,
    pub total_ms: u64,
    pub max_ms: u64,
    /// Finished per final state.
    pub by_state: BTreeMap<String, u64>,
}

/// A permit a workflow issued (provable, with its validity).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Permit {
    pub instance: Hash,
    pub workflow: String,
    pub permit_type: String,
    pub holder: Address,
    pub subject_hash: Hash,
    pub issued_ms: u64,
    pub valid_until_ms: u64,
    /// The credential's issuer and status entry, when the workflow issues one.
    pub credential: Option<PermitStatus>,
}

/// The status entry a permit's credential carries.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct PermitStatus {
    pub issuer: String,
    pub status_list: u64,
    pub status_idx: u64,
}

/// The credential type of permits.
pub const PERMIT_VCT: &str = "urn:urbis:permit";

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::{Address, Hash};
    use urbis_runtime::kit;

    pub fn definition(name: &str, version: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"workflow", &name, &format!("{version:06}")])
    }
    pub fn versions(name: &str) -> Vec<u8> {
        kit::prefix(MODULE, &[&"workflow", &name])
    }
    pub fn latest(name: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"workflow-latest", &name])
    }
    pub fn latests() -> Vec<u8> {
        kit::prefix(MODULE, &[&"workflow-latest"])
    }
    pub fn instance(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"instance", id])
    }
    pub fn permit(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"permit", id])
    }
    pub fn stats(name: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"workflow-stats", &name])
    }
    pub fn remark(id: &Hash, n: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"remark", id, &format!("{n:08}")])
    }
    pub fn remarks(id: &Hash) -> Vec<u8> {
        kit::prefix(MODULE, &[&"remark", id])
    }
    /// The stay (`Instance::entries`) in which an account last remarked.
    pub fn remarked(id: &Hash, who: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"remarked", id, who])
    }
    /// The next status entry permits take in a status list.
    pub fn permit_entry(list: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"permit-entry", &format!("{list:020}")])
    }
}

/// Scheduled job kind of a deadline (the governance module's job payloads start with a kind).
pub const DEADLINE_JOB: u8 = 0x10;

/// Most parsed definitions a node remembers before it forgets them all.
const PARSED_MEMORY: usize = 1_024;

/// Parsed definitions by their stored bytes: a per-node memo of a pure function (the same
/// bytes always parse to the same definition), so it cannot make nodes differ; it spares every
/// transition a JSON parse.
type Parsed = Arc<(Definition, Address)>;
static PARSED: LazyLock<Mutex<HashMap<Vec<u8>, Parsed>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A stored definition and its author.
fn load_definition(ctx: &Ctx<'_>, name: &str, version: u32) -> Result<Parsed, UrbisError> {
    let key = keys::definition(name, version);
    let bytes = ctx.get_raw(&key)?.ok_or_else(|| {
        err(
            ErrorCode::NotFound,
            format!("no workflow {name} v{version}"),
        )
    })?;
    let known = PARSED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&bytes)
        .cloned();
    if let Some(p) = known {
        return Ok(p);
    }
    let s: Stored = urbis_runtime::decode_value(&key, &bytes)?;
    let d: Definition = serde_json::from_str(&s.json).map_err(|e| {
        err(
            ErrorCode::Internal,
            format!("stored workflow does not parse: {e}"),
        )
    })?;
    let parsed = Arc::new((d, s.author));
    let mut m = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    if m.len() >= PARSED_MEMORY {
        m.clear();
    }
    m.insert(bytes, parsed.clone());
    Ok(parsed)
}

pub(crate) fn define(ctx: &mut Ctx<'_>, json: String) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !(has_role(ctx, &sender, Role::CityAdmin)? || has_role(ctx, &sender, Role::Department)?) {
        return Err(err(
            ErrorCode::Unauthorized,
            "workflows are defined by the city admin or a department",
        ));
    }
    let d = Definition::parse(&json)?;
    let admin = has_role(ctx, &sender, Role::CityAdmin)?;
    let latest = ctx.get::<u32>(&keys::latest(&d.name))?;
    if latest.is_some() {
        let first: Stored = ctx.get(&keys::definition(&d.name, 1))?.ok_or_else(|| {
            err(
                ErrorCode::Internal,
                format!("workflow {} has no first version", d.name),
            )
        })?;
        if first.author != sender && !admin {
            return Err(err(
                ErrorCode::Unauthorized,
                format!(
                    "workflow {} is maintained by {} (who defined it) or the city admin",
                    d.name, first.author
                ),
            ));
        }
    }
    check_authority(ctx, &d, &sender, admin)?;
    let version = latest.unwrap_or(0) + 1;
    ctx.put(
        keys::definition(&d.name, version),
        &Stored {
            name: d.name.clone(),
            version,
            json,
            author: sender,
            defined_ms: ctx.timestamp_ms(),
        },
    );
    ctx.put(keys::latest(&d.name), &version);
    ctx.emit(
        Event::new(MODULE, "workflow_defined")
            .with("workflow_id", &d.name)
            .with("version", version),
    );
    Ok(())
}

pub(crate) fn start(
    ctx: &mut Ctx<'_>,
    workflow: String,
    subject_hash: Hash,
    documents: Vec<Hash>,
) -> Result<(), UrbisError> {
    check_name("workflow", &workflow)?;
    let version: u32 = ctx
        .get(&keys::latest(&workflow))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no workflow {workflow}")))?;
    let parsed = load_definition(ctx, &workflow, version)?;
    let (d, author) = (&parsed.0, parsed.1);
    let sender = ctx.sender();
    let mut may = false;
    for r in &d.starters {
        may |= has_role(ctx, &sender, *r)?;
    }
    if !may {
        return Err(err(
            ErrorCode::Unauthorized,
            format!(
                "workflow {workflow} is started by holders of {:?}",
                d.starters
            ),
        ));
    }
    if documents.len() > MAX_DOCUMENTS {
        return Err(bad(format!("at most {MAX_DOCUMENTS} documents")));
    }
    let fee_hold = match &d.fee {
        Some(f) => Some(urbis_assets::hold(ctx, &f.asset, f.amount, None)?),
        None => None,
    };
    let id = ctx.new_id();
    let now = ctx.timestamp_ms();
    let mut i = Instance {
        id,
        workflow: workflow.clone(),
        version,
        applicant: sender,
        subject_hash,
        documents,
        state: d.initial.clone(),
        entries: 0,
        entered_ms: now,
        started_ms: now,
        finished_ms: None,
        fee_hold,
        pending: Vec::new(),
        steps: Vec::new(),
        remarks: 0,
    };
    ctx.emit(
        Event::new(MODULE, "started")
            .with("id", id)
            .with("workflow_id", &workflow)
            .with("applicant", sender)
            .with("date_id", utc_date(now)),
    );
    let initial = d.initial.clone();
    enter(ctx, d, &author, &mut i, &initial)?;
    ctx.put(keys::instance(&id), &i);
    Ok(())
}

fn load_instance(ctx: &Ctx<'_>, id: &Hash) -> Result<Instance, UrbisError> {
    ctx.get(&keys::instance(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no instance {id}")))
}

pub(crate) fn act(
    ctx: &mut Ctx<'_>,
    id: Hash,
    transition: String,
    document_hash: Option<Hash>,
) -> Result<(), UrbisError> {
    let mut i = load_instance(ctx, &id)?;
    let parsed = load_definition(ctx, &i.workflow, i.version)?;
    let (d, author) = (&parsed.0, parsed.1);
    let t = d
        .transition(&transition)
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no transition {transition:?}")))?
        .clone();
    if t.from != i.state {
        return Err(err(
            ErrorCode::InvalidState,
            format!(
                "{transition:?} is taken from state {:?}; the instance is in {:?}",
                t.from, i.state
            ),
        ));
    }
    let Some(role) = t.role.filter(|_| !t.automatic) else {
        return Err(err(
            ErrorCode::Unauthorized,
            format!(
                "{transition:?} is taken only by the scheduler, at the deadline of {:?}",
                t.from
            ),
        ));
    };
    let sender = ctx.sender();
    if !has_role(ctx, &sender, role)? {
        return Err(err(
            ErrorCode::Unauthorized,
            format!("{transition:?} is taken by holders of the {role} role"),
        ));
    }
    if let Some(d) = &t.department {
        let officers = ctx
            .get::<super::Department>(&super::keys::department(d))?
            .map(|d| d.officers)
            .unwrap_or_default();
        if !officers.contains(&sender) {
            return Err(err(
                ErrorCode::Unauthorized,
                format!("{transition:?} is taken by officers of department {d}"),
            ));
        }
    }
    if t.from == t.to {
        return remark(ctx, &mut i, &t, sender, document_hash);
    }
    if t.approvals > 1 {
        let slot = match i.pending.iter().position(|(n, _)| *n == t.name) {
            Some(p) => p,
            None => {
                i.pending.push((t.name.clone(), Vec::new()));
                i.pending.len() - 1
            }
        };
        if i.pending[slot].1.contains(&sender) {
            return Err(err(
                ErrorCode::AlreadyExists,
                "you have approved this already",
            ));
        }
        i.pending[slot].1.push(sender);
        let have = i.pending[slot].1.len() as u32;
        ctx.emit(
            Event::new(MODULE, "approved_step")
                .with("id", id)
                .with("transition", &t.name)
                .with("approvals", have),
        );
        if have < t.approvals {
            ctx.put(keys::instance(&id), &i);
            return Ok(());
        }
    }
    take(ctx, d, &author, &mut i, &t, Some(sender), document_hash)?;
    ctx.put(keys::instance(&id), &i);
    Ok(())
}

/// A remark (a transition from a state to itself, e.g. an objection): kept apart from the
/// instance's steps, once per account per stay.
fn remark(
    ctx: &mut Ctx<'_>,
    i: &mut Instance,
    t: &Transition,
    actor: Address,
    document_hash: Option<Hash>,
) -> Result<(), UrbisError> {
    let seen = keys::remarked(&i.id, &actor);
    if ctx.get::<u64>(&seen)? == Some(i.entries) {
        return Err(err(
            ErrorCode::AlreadyExists,
            format!(
                "you have remarked on this instance during this stay in {:?} already",
                i.state
            ),
        ));
    }
    if i.remarks >= MAX_REMARKS {
        return Err(err(
            ErrorCode::Exhausted,
            format!("an instance records at most {MAX_REMARKS} remarks"),
        ));
    }
    let now = ctx.timestamp_ms();
    ctx.put(
        keys::remark(&i.id, i.remarks),
        &Step {
            transition: t.name.clone(),
            actor: Some(actor),
            at_ms: now,
            document_hash,
            from: t.from.clone(),
            to: t.to.clone(),
        },
    );
    ctx.put(seen, &i.entries);
    ctx.emit(
        Event::new(MODULE, "remark")
            .with("id", i.id)
            .with("workflow_id", &i.workflow)
            .with("transition", &t.name)
            .with("n", i.remarks)
            .with("date_id", utc_date(now)),
    );
    i.remarks += 1;
    ctx.put(keys::instance(&i.id), &*i);
    Ok(())
}

/// Take transition `t` (its role and approvals already satisfied).
fn take(
    ctx: &mut Ctx<'_>,
    d: &Definition,
    author: &Address,
    i: &mut Instance,
    t: &Transition,
    actor: Option<Address>,
    document_hash: Option<Hash>,
) -> Result<(), UrbisError> {
    if i.steps.len() >= MAX_STEPS {
        return Err(err(
            ErrorCode::Exhausted,
            format!("an instance records at most {MAX_STEPS} steps"),
        ));
    }
    let now = ctx.timestamp_ms();
    i.steps.push(Step {
        transition: t.name.clone(),
        actor,
        at_ms: now,
        document_hash,
        from: t.from.clone(),
        to: t.to.clone(),
    });
    ctx.emit(
        Event::new(MODULE, "step")
            .with("id", i.id)
            .with("workflow_id", &i.workflow)
            .with("transition", &t.name)
            .with("to", &t.to)
            .with("date_id", utc_date(now)),
    );
    i.pending.clear();
    let to = t.to.clone();
    enter(ctx, d, author, i, &to)?;
    Ok(())
}

/// Enter `state`: run its actions, schedule its deadline, note a finish.
fn enter(
    ctx: &mut Ctx<'_>,
    d: &Definition,
    author: &Address,
    i: &mut Instance,
    state: &str,
) -> Result<(), UrbisError> {
    let s = d
        .states
        .get(state)
        .ok_or_else(|| err(ErrorCode::Internal, "a transition to an unknown state"))?;
    let now = ctx.timestamp_ms();
    i.state = state.to_string();
    i.entries += 1;
    i.entered_ms = now;
    for a in &s.on_enter {
        run_action(ctx, d.fee.as_ref(), author, i, a)?;
    }
    if let Some(dl) = &s.deadline {
        let mut payload = vec![DEADLINE_JOB];
        payload.extend_from_slice(&i.id.0);
        payload.extend_from_slice(&i.entries.to_be_bytes());
        ctx.schedule_at(now.saturating_add(dl.after_ms), payload);
    }
    if s.r#final {
        i.finished_ms = Some(now);
        let took = now - i.started_ms;
        let key = keys::stats(&i.workflow);
        let mut st: Stats = ctx.get(&key)?.unwrap_or_default();
        st.finished += 1;
        st.total_ms = st.total_ms.saturating_add(took);
        st.max_ms = st.max_ms.max(took);
        *st.by_state.entry(state.to_string()).or_insert(0) += 1;
        ctx.put(key, &st);
        ctx.emit(
            Event::new(MODULE, "finished")
                .with("id", i.id)
                .with("workflow_id", &i.workflow)
                .with("state", state)
                .with("took_ms", now - i.started_ms)
                .with("date_id", utc_date(now)),
        );
    }
    Ok(())
}

fn run_action(
    ctx: &mut Ctx<'_>,
    fee: Option<&Fee>,
    author: &Address,
    i: &mut Instance,
    a: &Action,
) -> Result<(), UrbisError> {
    match a {
        Action::ReleaseFee { to } => {
            if let (Some(h), Some(f)) = (i.fee_hold.take(), fee) {
                urbis_assets::release(ctx, h, vec![(*to, f.amount)])?;
            }
        }
        Action::RefundFee => {
            if let Some(h) = i.fee_hold.take() {
                urbis_assets::refund(ctx, h)?;
            }
        }
        Action::IssuePermit {
            permit_type,
            valid_days,
            credential,
        } => {
            let now = ctx.timestamp_ms();
            let credential = match credential {
                Some(c) => Some(permit_entry(ctx, c)?),
                None => None,
            };
            ctx.put(
                keys::permit(&i.id),
                &Permit {
                    instance: i.id,
                    workflow: i.workflow.clone(),
                    permit_type: permit_type.clone(),
                    holder: i.applicant,
                    subject_hash: i.subject_hash,
                    issued_ms: now,
                    valid_until_ms: now.saturating_add(valid_days.saturating_mul(86_400_000)),
                    credential,
                },
            );
            ctx.emit(
                Event::new(MODULE, "permit_issued")
                    .with("id", i.id)
                    .with("holder", i.applicant)
                    .with("permit_type", permit_type),
            );
        }
        Action::RecordDecision {
            department,
            category,
            title,
        } => {
            record_decision(
                ctx,
                DecisionKind::Order,
                department,
                category,
                title.clone(),
                i.subject_hash,
                *author,
            );
        }
        Action::PublishNotice {
            title,
            category,
            district,
            expires_after_ms,
        } => {
            let expires = ctx.timestamp_ms().saturating_add(*expires_after_ms);
            ctx.invoke::<()>(
                urbis_notices::MODULE,
                &urbis_notices::NoticesOp::Publish {
                    title: title.clone(),
                    body_hash: i.subject_hash,
                    expires_ms: Some(expires),
                    category: category.clone(),
                    district: district.clone(),
                },
            )?;
        }
        Action::AwardReward { program, amount } => {
            urbis_rewards::award_from_program(
                ctx,
                *program,
                i.applicant,
                *amount,
                &format!("workflow {}", i.workflow),
            )?;
        }
    }
    Ok(())
}

/// A deadline job: take the state's deadline transition if the instance is still in the stay
/// that scheduled it.
pub(crate) fn on_deadline(ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
    let (id, entries) = match payload {
        [_, rest @ ..] if rest.len() == 40 => {
            let id = Hash(rest[..32].try_into().expect("32 bytes"));
            let entries = u64::from_be_bytes(rest[32..].try_into().expect("8 bytes"));
            (id, entries)
        }
        _ => return Err(err(ErrorCode::Internal, "malformed deadline job")),
    };
    let Some(mut i) = ctx.get::<Instance>(&keys::instance(&id))? else {
        return Ok(());
    };
    if i.entries != entries || i.finished_ms.is_some() {
        return Ok(());
    }
    let parsed = load_definition(ctx, &i.workflow, i.version)?;
    let (d, author) = (&parsed.0, parsed.1);
    let Some(dl) = d.states.get(&i.state).and_then(|s| s.deadline.clone()) else {
        return Ok(());
    };
    let t = d
        .transition(&dl.transition)
        .ok_or_else(|| err(ErrorCode::Internal, "deadline transition missing"))?
        .clone();
    take(ctx, d, &author, &mut i, &t, None, None)?;
    ctx.put(keys::instance(&id), &i);
    Ok(())
}

/// The next entry of a permit credential's status list (the list may have been shrunk or
/// handed to another issuer since the definition: checked again here).
fn permit_entry(ctx: &mut Ctx<'_>, c: &PermitCredential) -> Result<PermitStatus, UrbisError> {
    let list = urbis_identity::status_list(ctx, c.status_list)?
        .filter(|l| l.issuer == c.issuer)
        .ok_or_else(|| {
            err(
                ErrorCode::NotFound,
                format!("no status list {} of {}", c.status_list, c.issuer),
            )
        })?;
    let key = keys::permit_entry(c.status_list);
    let idx: u64 = ctx.get(&key)?.unwrap_or(0);
    if idx >= list.size {
        return Err(err(
            ErrorCode::Exhausted,
            format!(
                "status list {} is full: its issuer opens a new one and defines a new version",
                c.status_list
            ),
        ));
    }
    ctx.put(key, &(idx + 1));
    Ok(PermitStatus {
        issuer: c.issuer.clone(),
        status_list: c.status_list,
        status_idx: idx,
    })
}

/// The query key of a workflow path, if it is one.
pub(crate) fn query_key(path: &[&str]) -> Option<Result<Vec<u8>, UrbisError>> {
    match path {
        ["workflow", name] => Some(Ok(keys::latest(name))),
        ["workflow", name, v] => Some(
            v.parse::<u32>()
                .map(|v| keys::definition(name, v))
                .map_err(|_| bad("a version is a number")),
        ),
        ["instance", id] => Some(kit::parse_hash("an instance id", id).map(|h| keys::instance(&h))),
        ["permit", id] => Some(kit::parse_hash("an instance id", id).map(|h| keys::permit(&h))),
        ["processing", name] => Some(Ok(keys::stats(name))),
        ["remark", id, n] => Some(kit::parse_hash("an instance id", id).and_then(|h| {
            n.parse::<u64>()
                .map(|n| keys::remark(&h, n))
                .map_err(|_| bad("a remark number"))
        })),
        _ => None,
    }
}
