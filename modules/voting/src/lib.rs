//! Elections on chain, on `urbis-votecrypto` (record format: `crypto/votecrypto/SPEC.md`).
//!
//! **Lifecycle.** The city admin or a department *creates* an election: its manifest, the
//! trustees' accounts (trustee `i` is the `i`-th, 1-based), the threshold `k`, the registrar
//! who issues voting credentials, the eligibility rule the registrar applies, and the
//! schedule (end of the ceremony, opening, closing). The trustees run the key ceremony as
//! transactions: each *announces* (encryption key and Feldman commitments with their proofs,
//! checked on chain), then *deals* (one encrypted share for every other trustee), then
//! *complains* (possibly about nobody: that acknowledges its shares). When the last trustee
//! has complained, or at the election admin's *finalize* after the ceremony's end (a trustee
//! who never dealt is disqualified), the chain evaluates the transcript
//! (`dkg::finalize_ceremony`: justified complaints and missing shares disqualify their
//! dealers) and fixes the joint key. The registrar *registers* public voting credentials
//! (Belenios-style: it generates each credential for an eligible resident and hands over the
//! secret privately; the chain sees only public keys) and *commits* the list, which fixes the
//! election hash. The scheduler opens and closes the election at its times (the admin may
//! open a committed election or close an open one early, on the record). Ballots are *cast*
//! or *spoiled* (Benaloh challenge, with the opening) while it is open; after closing, each
//! trustee *decrypts* the aggregate with proofs, and the `k`-th valid share makes the result
//! final.
//!
//! **Ballots unlinked to citizens.** A ballot transaction is signed by the voting credential
//! itself: a pseudonymous key that holds no role. The gate admits it because this module
//! vouches for it ([`Module::vouches`]): only a credential the registrar put on an election's
//! list, for a ballot into that election, so strangers still cannot fill blocks and the
//! open-call quota does not limit voters.
//!
//! **Replay and ordering.** The transaction nonce orders a credential's submissions and makes
//! each transaction unique. The ballot's own `sequence` must exceed the credential's last one
//! on the board, and the credential signs the ballot hash (which covers the sequence) together
//! with the intent (cast or spoil): a ballot cannot be replayed, a superseded ballot cannot
//! come back after a re-vote, and a spoiled ballot cannot be relabelled as cast. The board
//! order is execution order; the board's entry count and head (the last confirmation code) are
//! state, certified with every block and provable: the anchor of the exported record.
//!
//! **A consensus rule, checked in parallel.** Every ballot's structure, zero-knowledge proofs
//! and credential signature are checked by every validator while it verifies a block
//! ([`Module::precheck`], run on all cores over the block's ballots before the validator votes)
//! and at the node's door; execution checks again unless this node already checked the very
//! ballot (same hash, signature and intent) under the election's fixed key.
//!
//! | key | value |
//! |---|---|
//! | `voting/election/<id>` | [`Election`] (borsh) |
//! | `voting/manifest/<id>` | the manifest (JSON) |
//! | `voting/announcement/<id>/<i>` · `deal/<id>/<i>` · `complaints/<id>/<i>` | trustee `i`'s ceremony messages (JSON) |
//! | `voting/ceremony/<id>` | the ceremony record, once complete (JSON) |
//! | `voting/credential/<id>/<public key hex>` | [`ListedCredential`] (borsh) |
//! | `voting/voter/<credential address>` | [`Voter`]: which election a credential votes in (borsh) |
//! | `voting/board/<id>` | [`Board`]: entry count and head (borsh) |
//! | `voting/entry/<id>/<index, 16 hex digits>` | a board entry (JSON, SPEC.md §board) |
//! | `voting/last/<id>/<public key hex>` | [`Last`]: the credential's last sequence and counted entry |
//! | `voting/aggregate/<id>` | the running aggregate of the counted ballots (JSON) |
//! | `voting/decryption/<id>/<i>` | trustee `i`'s decryption share (JSON) |
//! | `voting/result/<id>` | the result (JSON) |
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `create` | city admin or department | `unauthorized`, `invalid_argument` |
//! | `announce` / `deal` / `complain` | a trustee of the election | `not_found`, `unauthorized` (not a trustee), `invalid_state` (out of turn, twice), `invalid_argument`, `invalid_proof` |
//! | `finalize` | the election's admin, after the ceremony's end | `unauthorized`, `invalid_state` |
//! | `register` / `commit` | the registrar | `unauthorized`, `invalid_state`, `invalid_argument`, `already_exists` |
//! | `open` / `close` | the election's admin | `unauthorized`, `invalid_state` |
//! | `cast` / `spoil` | the listed credential | `not_found`, `invalid_state` (not open), `unauthorized` (unlisted, or signed by another key), `invalid_argument` (malformed, non-canonical), `already_exists` (replay), `invalid_proof`, `bad_signature` |
//! | `decrypt` | a trustee, after closing | `unauthorized`, `invalid_state`, `already_exists`, `invalid_argument`, `invalid_proof` |

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, PublicKey, UrbisError};
use urbis_runtime::{
    Ctx, EventInfo, Module, ModuleInfo, QueryInfo, StateView, decode_value, kit, view_get,
};
use urbis_votecrypto::ballot::{
    self, BallotReveal, BallotStatus, BoardEntry, EncryptedBallot, chain_genesis, confirmation_code,
};
use urbis_votecrypto::context::{ElectionContext, election_hash};
use urbis_votecrypto::dkg::{
    CeremonyRecord, Complaint, EncryptedShare, TrusteeAnnouncement, check_announcement,
    finalize_ceremony,
};
use urbis_votecrypto::encoding::Hex32;
use urbis_votecrypto::group::Ciphertext;
use urbis_votecrypto::manifest::{Credential, Manifest, index_credentials};
use urbis_votecrypto::tally::{
    ContestAggregate, ContestResult, DecryptionShare, combine, flatten_aggregate, shape_result,
    slot_layout, verify_decryption_share,
};
use urbis_votecrypto::{ElectionRecord, VoteError};

mod calls;
pub use calls::VotingCall;

/// Namespace and module name.
pub const MODULE: &str = "voting";
/// Most trustees of an election.
pub const MAX_TRUSTEES: usize = 32;
/// Most credentials registered per transaction.
pub const MAX_REGISTER: usize = 400;
/// Most credentials of an election.
pub const MAX_CREDENTIALS: u64 = 2_000_000;
/// Longest eligibility rule, in characters.
pub const MAX_ELIGIBILITY_CHARS: usize = 200;
/// Longest span of the schedule (creation to closing): two years.
pub const MAX_SPAN_MS: u64 = 2 * 365 * 86_400_000;

/// Where an election stands.
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
pub enum Phase {
    /// The trustees run the key ceremony.
    Ceremony,
    /// The joint key is fixed; the registrar registers credentials.
    Registration,
    /// The credential list is committed (the election hash is fixed); waiting to open.
    Ready,
    /// Ballots are accepted.
    Open,
    /// Closed; the trustees decrypt.
    Closed,
    /// The result is final.
    Tallied,
    /// Abandoned: see `failure`.
    Failed,
}

/// An election.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Election {
    pub id: Hash,
    pub name: String,
    pub admin: Address,
    pub manifest_hash: Hash,
    /// Trustee `i` is `trustees[i - 1]`.
    pub trustees: Vec<Address>,
    pub threshold: u32,
    pub registrar: Address,
    /// The rule the registrar applies to residents' identity credentials, e.g.
    /// `resident of district north, aged 16 or over`.
    pub eligibility: String,
    pub ceremony_ends_ms: u64,
    pub opens_ms: u64,
    pub closes_ms: u64,
    pub phase: Phase,
    /// Trustees (indices) who announced, dealt and complained.
    pub announced: Vec<u32>,
    pub dealt: Vec<u32>,
    pub complained: Vec<u32>,
    /// Dealers the ceremony disqualified.
    pub disqualified: Vec<u32>,
    pub joint_public_key: Option<Hash>,
    pub credentials: u64,
    pub total_weight: u64,
    pub election_hash: Option<Hash>,
    pub opened_ms: Option<u64>,
    pub closed_ms: Option<u64>,
    /// Trustees whose valid decryption shares are in.
    pub decrypted: Vec<u32>,
    pub tallied_ms: Option<u64>,
    pub failure: Option<String>,
}

/// A registered credential.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct ListedCredential {
    pub weight: u64,
    pub style: String,
}

/// Which election a credential's account votes in.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Voter {
    pub election: Hash,
    /// The credential's Ed25519 public key.
    pub credential: Hash,
}

/// The bulletin board's length and head (the certified anchor of the record), with the
/// election hash, so that one proof ties the board to the record's election.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Board {
    pub election_hash: Hash,
    pub entries: u64,
    /// Confirmation code of the last entry (the chain's genesis code if none).
    pub head: Hash,
    /// Ballots that count (the last cast ballot of each credential that cast).
    pub counted: u64,
}

/// A credential's last ballot.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Last {
    pub sequence: u64,
    /// Board index of its counted (last cast) ballot.
    pub counted: Option<u64>,
}

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::{Address, Hash};
    use urbis_runtime::kit;

    pub fn election(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"election", id])
    }
    pub fn elections() -> Vec<u8> {
        kit::prefix(MODULE, &[&"election"])
    }
    pub fn manifest(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"manifest", id])
    }
    pub fn announcement(id: &Hash, i: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"announcement", id, &i])
    }
    pub fn deal(id: &Hash, i: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"deal", id, &i])
    }
    pub fn complaints(id: &Hash, i: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"complaints", id, &i])
    }
    pub fn ceremony(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"ceremony", id])
    }
    pub fn credential(id: &Hash, key: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"credential", id, key])
    }
    pub fn credentials(id: &Hash) -> Vec<u8> {
        kit::prefix(MODULE, &[&"credential", id])
    }
    pub fn voter(who: &Address) -> Vec<u8> {
        kit::key(MODULE, &[&"voter", who])
    }
    pub fn board(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"board", id])
    }
    pub fn entry(id: &Hash, index: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"entry", id, &format!("{index:016x}")])
    }
    pub fn entries(id: &Hash) -> Vec<u8> {
        kit::prefix(MODULE, &[&"entry", id])
    }
    pub fn last(id: &Hash, key: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"last", id, key])
    }
    pub fn aggregate(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"aggregate", id])
    }
    pub fn decryption(id: &Hash, i: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"decryption", id, &i])
    }
    pub fn result(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"result", id])
    }
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Elections: an on-chain key ceremony, ballots signed by pseudonymous voting credentials and checked by every validator, threshold decryption, and the verifiable record from chain state.",
    queries: &[
        QueryInfo {
            path: "election/<id>",
            list: false,
            description: "An election: phase, schedule, trustees, counts, election hash.",
        },
        QueryInfo {
            path: "elections",
            list: true,
            description: "Every election.",
        },
        QueryInfo {
            path: "manifest/<id>",
            list: false,
            description: "The manifest (contests, selections, ballot styles).",
        },
        QueryInfo {
            path: "announcement/<id>/<i>",
            list: false,
            description: "Trustee i's ceremony announcement.",
        },
        QueryInfo {
            path: "deal/<id>/<i>",
            list: false,
            description: "Trustee i's encrypted shares.",
        },
        QueryInfo {
            path: "complaints/<id>/<i>",
            list: false,
            description: "Trustee i's complaints (an empty list acknowledges its shares).",
        },
        QueryInfo {
            path: "ceremony/<id>",
            list: false,
            description: "The ceremony record: joint key, public shares, disqualified dealers.",
        },
        QueryInfo {
            path: "credential/<id>/<public key>",
            list: false,
            description: "A registered voting credential; null if not on the list (provably).",
        },
        QueryInfo {
            path: "credentials/<id>",
            list: true,
            description: "The credential list, in public-key order (the committed order).",
        },
        QueryInfo {
            path: "board/<id>",
            list: false,
            description: "The bulletin board's entry count and head: the record's anchor.",
        },
        QueryInfo {
            path: "entries/<id>",
            list: true,
            description: "The bulletin board, in order.",
        },
        QueryInfo {
            path: "entry/<id>/<index>",
            list: false,
            description: "One board entry.",
        },
        QueryInfo {
            path: "last/<id>/<public key>",
            list: false,
            description: "A credential's last sequence and counted ballot.",
        },
        QueryInfo {
            path: "aggregate/<id>",
            list: false,
            description: "The encrypted sum of the counted ballots.",
        },
        QueryInfo {
            path: "decryption/<id>/<i>",
            list: false,
            description: "Trustee i's decryption share with proofs.",
        },
        QueryInfo {
            path: "result/<id>",
            list: false,
            description: "The result, once k valid decryption shares are in.",
        },
    ],
    events: &[
        EventInfo {
            kind: "created",
            attributes: &["id", "name"],
            description: "An election was created.",
        },
        EventInfo {
            kind: "ceremony",
            attributes: &["id", "trustee", "step"],
            description: "A trustee announced, dealt or complained.",
        },
        EventInfo {
            kind: "key_fixed",
            attributes: &["id", "joint_public_key", "disqualified"],
            description: "The ceremony completed: the joint key is fixed.",
        },
        EventInfo {
            kind: "committed",
            attributes: &["id", "credentials", "election_hash"],
            description: "The credential list was committed.",
        },
        EventInfo {
            kind: "opened",
            attributes: &["id"],
            description: "The election opened.",
        },
        EventInfo {
            kind: "cast",
            attributes: &["id", "index", "code"],
            description: "A ballot was cast (its confirmation code).",
        },
        EventInfo {
            kind: "spoiled",
            attributes: &["id", "index", "code"],
            description: "A ballot was spoiled and opened.",
        },
        EventInfo {
            kind: "closed",
            attributes: &["id", "entries", "counted"],
            description: "The election closed.",
        },
        EventInfo {
            kind: "decrypted",
            attributes: &["id", "trustee"],
            description: "A trustee's valid decryption share is in.",
        },
        EventInfo {
            kind: "tallied",
            attributes: &["id"],
            description: "The result is final.",
        },
        EventInfo {
            kind: "failed",
            attributes: &["id", "reason"],
            description: "The election was abandoned.",
        },
    ],
    exported: &[],
};

fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

/// A votecrypto error as a call error: encodings are `invalid_argument`, failed proofs
/// `invalid_proof`, a bad credential signature `bad_signature`.
fn vote_err(e: VoteError) -> UrbisError {
    let msg = e.to_string();
    let code = match &e {
        VoteError::Verification(m) if m.contains("invalid encoding") => ErrorCode::InvalidArgument,
        VoteError::Verification(m) if m.contains("signature") => ErrorCode::BadSignature,
        VoteError::Verification(_) => ErrorCode::InvalidProof,
        _ => ErrorCode::InvalidArgument,
    };
    err(code, msg)
}

fn hex32(h: &Hash) -> Hex32 {
    Hex32(h.0)
}

fn hash(h: &Hex32) -> Hash {
    Hash(h.0)
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, UrbisError> {
    serde_json::from_str(s).map_err(|e| err(ErrorCode::InvalidArgument, format!("{what}: {e}")))
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("votecrypto types serialize")
}

fn stored_json<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, UrbisError> {
    serde_json::from_slice(bytes).map_err(|e| {
        err(
            ErrorCode::Internal,
            format!(
                "undecodable value under {}: {e}",
                String::from_utf8_lossy(key)
            ),
        )
    })
}

/// The parts of an election's context that never change once its list is committed: the
/// manifest and the joint key with its precomputed tables (costly to build, so built once).
struct Fixed {
    base: ElectionContext,
}

impl Fixed {
    fn context(&self, credentials: Vec<Credential>) -> Result<ElectionContext, UrbisError> {
        self.base.with_credentials(credentials).map_err(vote_err)
    }
}

/// Reads a state key (through a call's context or a state view).
type Getter<'a> = dyn Fn(&[u8]) -> Result<Option<Vec<u8>>, UrbisError> + 'a;

/// Most remembered checked ballots before the memory is cleared.
const CHECKED_MEMORY: usize = 500_000;

/// The voting module. It remembers (per node, never in state) which ballots it has checked
/// and the fixed part of each committed election, so execution need not repeat a check made
/// while verifying the block: both are pure functions of data that never changes.
#[derive(Default)]
pub struct Voting {
    fixed: Mutex<HashMap<Hash, Arc<Fixed>>>,
    checked: Mutex<HashSet<Hex32>>,
}

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Voting::default())
}

/// Scheduled work.
const OPEN: u8 = 0;
const CLOSE: u8 = 1;

fn job(kind: u8, id: &Hash) -> Vec<u8> {
    let mut p = vec![kind];
    p.extend_from_slice(&id.0);
    p
}

fn load(ctx: &Ctx<'_>, id: &Hash) -> Result<Election, UrbisError> {
    ctx.get(&keys::election(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no election {id}")))
}

fn load_manifest(ctx: &Ctx<'_>, id: &Hash) -> Result<Manifest, UrbisError> {
    let key = keys::manifest(id);
    let bytes = ctx
        .get_raw(&key)?
        .ok_or_else(|| err(ErrorCode::Internal, "election without a manifest"))?;
    stored_json(&key, &bytes)
}

fn trustee_index(e: &Election, who: &Address) -> Result<u32, UrbisError> {
    e.trustees
        .iter()
        .position(|t| t == who)
        .map(|i| i as u32 + 1)
        .ok_or_else(|| {
            err(
                ErrorCode::Unauthorized,
                "you are not a trustee of this election",
            )
        })
}

fn only_admin(ctx: &Ctx<'_>, e: &Election) -> Result<(), UrbisError> {
    if ctx.sender() != e.admin {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the election's administrator may do this",
        ));
    }
    Ok(())
}

fn in_phase(e: &Election, phases: &[Phase], what: &str) -> Result<(), UrbisError> {
    if !phases.contains(&e.phase) {
        return Err(err(
            ErrorCode::InvalidState,
            format!("{what} (the election is in phase {:?})", e.phase),
        ));
    }
    Ok(())
}

fn fail(ctx: &mut Ctx<'_>, e: &mut Election, reason: &str) {
    e.phase = Phase::Failed;
    e.failure = Some(reason.to_string());
    ctx.emit(
        Event::new(MODULE, "failed")
            .with("id", e.id)
            .with("reason", reason),
    );
}

#[allow(clippy::too_many_arguments)]
fn create(
    ctx: &mut Ctx<'_>,
    manifest: String,
    trustees: Vec<Address>,
    threshold: u32,
    registrar: Address,
    eligibility: String,
    ceremony_ends_ms: u64,
    opens_ms: u64,
    closes_ms: u64,
) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !(has_role(ctx, &sender, Role::CityAdmin)? || has_role(ctx, &sender, Role::Department)?) {
        return Err(err(
            ErrorCode::Unauthorized,
            "elections are created by the city admin or a department",
        ));
    }
    let bad = |m: String| err(ErrorCode::InvalidArgument, m);
    let parsed: Manifest = parse_json("manifest", &manifest)?;
    parsed.validate().map_err(|e| bad(e.to_string()))?;
    let n = trustees.len();
    if n == 0 || n > MAX_TRUSTEES {
        return Err(bad(format!("an election has 1 to {MAX_TRUSTEES} trustees")));
    }
    if trustees.iter().collect::<HashSet<_>>().len() != n {
        return Err(bad("a trustee is listed twice".into()));
    }
    if threshold == 0 || threshold as usize > n {
        return Err(bad(format!("the threshold is 1 to {n} (the trustees)")));
    }
    let chars = eligibility.chars().count();
    if chars == 0 || chars > MAX_ELIGIBILITY_CHARS || eligibility.chars().any(char::is_control) {
        return Err(bad(
            "the eligibility rule has 1 to 200 characters and no control characters".into(),
        ));
    }
    let now = ctx.timestamp_ms();
    if !(now < ceremony_ends_ms && ceremony_ends_ms <= opens_ms && opens_ms < closes_ms)
        || closes_ms - now > MAX_SPAN_MS
    {
        return Err(bad(
            "the schedule runs now < ceremony end ≤ opening < closing, within two years".into(),
        ));
    }
    let id = ctx.new_id();
    let e = Election {
        id,
        name: parsed.name.clone(),
        admin: sender,
        manifest_hash: hash(&parsed.hash()),
        trustees,
        threshold,
        registrar,
        eligibility,
        ceremony_ends_ms,
        opens_ms,
        closes_ms,
        phase: Phase::Ceremony,
        announced: Vec::new(),
        dealt: Vec::new(),
        complained: Vec::new(),
        disqualified: Vec::new(),
        joint_public_key: None,
        credentials: 0,
        total_weight: 0,
        election_hash: None,
        opened_ms: None,
        closed_ms: None,
        decrypted: Vec::new(),
        tallied_ms: None,
        failure: None,
    };
    ctx.put_raw(keys::manifest(&id), to_json(&parsed));
    ctx.put(keys::election(&id), &e);
    ctx.schedule_at(opens_ms, job(OPEN, &id));
    ctx.schedule_at(closes_ms, job(CLOSE, &id));
    ctx.emit(
        Event::new(MODULE, "created")
            .with("id", id)
            .with("name", &e.name),
    );
    Ok(())
}

fn ceremony_step(ctx: &mut Ctx<'_>, e: &Election, i: u32, step: &str) {
    ctx.emit(
        Event::new(MODULE, "ceremony")
            .with("id", e.id)
            .with("trustee", i)
            .with("step", step),
    );
}

fn announce(ctx: &mut Ctx<'_>, id: Hash, announcement: String) -> Result<(), UrbisError> {
    let mut e = load(ctx, &id)?;
    let i = trustee_index(&e, &ctx.sender())?;
    in_phase(&e, &[Phase::Ceremony], "the ceremony is over")?;
    if e.announced.contains(&i) {
        return Err(err(ErrorCode::InvalidState, "you have announced already"));
    }
    let a: TrusteeAnnouncement = parse_json("announcement", &announcement)?;
    if a.index != i {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("you are trustee {i}, the announcement says {}", a.index),
        ));
    }
    let n = e.trustees.len() as u32;
    ctx.charge(u64::from(e.threshold + 1) * 150_000)?;
    check_announcement(&hex32(&e.manifest_hash), n, e.threshold, &a).map_err(|x| {
        err(
            if x.to_string().contains("proof") {
                ErrorCode::InvalidProof
            } else {
                ErrorCode::InvalidArgument
            },
            x.to_string(),
        )
    })?;
    ctx.put_raw(keys::announcement(&id, i), to_json(&a));
    e.announced.push(i);
    e.announced.sort_unstable();
    ceremony_step(ctx, &e, i, "announced");
    ctx.put(keys::election(&id), &e);
    Ok(())
}

fn deal(ctx: &mut Ctx<'_>, id: Hash, shares: String) -> Result<(), UrbisError> {
    let mut e = load(ctx, &id)?;
    let i = trustee_index(&e, &ctx.sender())?;
    in_phase(&e, &[Phase::Ceremony], "the ceremony is over")?;
    let n = e.trustees.len() as u32;
    if e.announced.len() != n as usize {
        return Err(err(
            ErrorCode::InvalidState,
            "shares are dealt once every trustee has announced",
        ));
    }
    if e.dealt.contains(&i) {
        return Err(err(ErrorCode::InvalidState, "you have dealt already"));
    }
    let shares: Vec<EncryptedShare> = parse_json("shares", &shares)?;
    let recipients: Vec<u32> = shares.iter().map(|s| s.recipient).collect();
    let expected: Vec<u32> = (1..=n).filter(|l| *l != i).collect();
    if shares.iter().any(|s| s.dealer != i) || recipients != expected {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("trustee {i} deals one share to each other trustee, in order {expected:?}"),
        ));
    }
    if shares
        .iter()
        .any(|s| s.ciphertext.len() != 96 || hex::decode(&s.ciphertext).is_err())
    {
        return Err(err(
            ErrorCode::InvalidArgument,
            "a share's ciphertext is 48 bytes of hex (a 32-byte scalar and a 16-byte tag)",
        ));
    }
    ctx.put_raw(keys::deal(&id, i), to_json(&shares));
    e.dealt.push(i);
    e.dealt.sort_unstable();
    ceremony_step(ctx, &e, i, "dealt");
    ctx.put(keys::election(&id), &e);
    Ok(())
}

fn complain(ctx: &mut Ctx<'_>, id: Hash, complaints: String) -> Result<(), UrbisError> {
    let mut e = load(ctx, &id)?;
    let i = trustee_index(&e, &ctx.sender())?;
    in_phase(&e, &[Phase::Ceremony], "the ceremony is over")?;
    let n = e.trustees.len() as u32;
    if e.dealt.len() != n as usize && ctx.timestamp_ms() < e.ceremony_ends_ms {
        return Err(err(
            ErrorCode::InvalidState,
            "complaints come once every trustee has dealt (or the ceremony's time is up)",
        ));
    }
    if e.complained.contains(&i) {
        return Err(err(ErrorCode::InvalidState, "you have complained already"));
    }
    let list: Vec<Complaint> = parse_json("complaints", &complaints)?;
    let mut dealers = HashSet::new();
    for c in &list {
        if c.recipient != i || c.dealer == i || c.dealer == 0 || c.dealer > n {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("trustee {i} complains about another trustee of 1..={n} as recipient {i}"),
            ));
        }
        if !dealers.insert(c.dealer) {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("two complaints about dealer {}", c.dealer),
            ));
        }
    }
    ctx.put_raw(keys::complaints(&id, i), to_json(&list));
    e.complained.push(i);
    e.complained.sort_unstable();
    ceremony_step(ctx, &e, i, "complained");
    if e.complained.len() == n as usize {
        fix_key(ctx, &mut e)?;
    }
    ctx.put(keys::election(&id), &e);
    Ok(())
}

/// Evaluate the ceremony's transcript and fix the joint key (or fail the election).
fn fix_key(ctx: &mut Ctx<'_>, e: &mut Election) -> Result<(), UrbisError> {
    let n = e.trustees.len() as u32;
    ctx.charge(u64::from(n) * u64::from(n) * u64::from(e.threshold) * 60_000 + 2_000_000)?;
    let mut anns = Vec::new();
    let mut shares = Vec::new();
    let mut complaints = Vec::new();
    for i in 1..=n {
        let read = |key: Vec<u8>| -> Result<Option<Vec<u8>>, UrbisError> { ctx.get_raw(&key) };
        if let Some(b) = read(keys::announcement(&e.id, i))? {
            anns.push(stored_json::<TrusteeAnnouncement>(
                &keys::announcement(&e.id, i),
                &b,
            )?);
        }
        if let Some(b) = read(keys::deal(&e.id, i))? {
            shares.extend(stored_json::<Vec<EncryptedShare>>(
                &keys::deal(&e.id, i),
                &b,
            )?);
        }
        if let Some(b) = read(keys::complaints(&e.id, i))? {
            complaints.extend(stored_json::<Vec<Complaint>>(
                &keys::complaints(&e.id, i),
                &b,
            )?);
        }
    }
    match finalize_ceremony(
        &hex32(&e.manifest_hash),
        n,
        e.threshold,
        anns,
        shares,
        complaints,
    ) {
        Ok(record) => {
            e.phase = Phase::Registration;
            e.disqualified = record.disqualified.clone();
            e.joint_public_key = Some(hash(&record.joint_public_key));
            ctx.put_raw(keys::ceremony(&e.id), to_json(&record));
            ctx.emit(
                Event::new(MODULE, "key_fixed")
                    .with("id", e.id)
                    .with("joint_public_key", hash(&record.joint_public_key))
                    .with("disqualified", format!("{:?}", record.disqualified)),
            );
        }
        Err(x) => fail(ctx, e, &format!("the key ceremony failed: {x}")),
    }
    Ok(())
}

fn finalize(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let mut e = load(ctx, &id)?;
    only_admin(ctx, &e)?;
    in_phase(&e, &[Phase::Ceremony], "the ceremony is over")?;
    if ctx.timestamp_ms() < e.ceremony_ends_ms {
        return Err(err(
            ErrorCode::InvalidState,
            "the ceremony is finalized early only by its trustees; wait for its end",
        ));
    }
    fix_key(ctx, &mut e)?;
    ctx.put(keys::election(&id), &e);
    Ok(())
}

fn only_registrar(ctx: &Ctx<'_>, e: &Election) -> Result<(), UrbisError> {
    if ctx.sender() != e.registrar {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the election's registrar manages its credentials",
        ));
    }
    Ok(())
}

fn register(ctx: &mut Ctx<'_>, id: Hash, credentials: String) -> Result<(), UrbisError> {
    let mut e = load(ctx, &id)?;
    only_registrar(ctx, &e)?;
    in_phase(
        &e,
        &[Phase::Ceremony, Phase::Registration],
        "the credential list is committed",
    )?;
    let list: Vec<Credential> = parse_json("credentials", &credentials)?;
    if list.is_empty() || list.len() > MAX_REGISTER {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("register 1 to {MAX_REGISTER} credentials at a time"),
        ));
    }
    let manifest = load_manifest(ctx, &id)?;
    index_credentials(&manifest, &list).map_err(vote_err)?;
    if e.credentials + list.len() as u64 > MAX_CREDENTIALS {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("an election has at most {MAX_CREDENTIALS} credentials"),
        ));
    }
    for c in &list {
        let key = hash(&c.public_key);
        let voter = PublicKey::Ed25519(c.public_key.0).address();
        if ctx.get_raw(&keys::voter(&voter))?.is_some() {
            return Err(err(
                ErrorCode::AlreadyExists,
                format!("credential {} is registered already", c.public_key),
            ));
        }
        ctx.put(
            keys::credential(&id, &key),
            &ListedCredential {
                weight: c.weight,
                style: c.style.clone(),
            },
        );
        ctx.put(
            keys::voter(&voter),
            &Voter {
                election: id,
                credential: key,
            },
        );
        e.credentials += 1;
        e.total_weight += c.weight;
    }
    ctx.put(keys::election(&id), &e);
    Ok(())
}

fn commit(ctx: &mut Ctx<'_>, id: Hash, count: u64) -> Result<(), UrbisError> {
    let mut e = load(ctx, &id)?;
    only_registrar(ctx, &e)?;
    in_phase(
        &e,
        &[Phase::Registration],
        "the list is committed after the key ceremony, once",
    )?;
    if count != e.credentials || count == 0 {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!(
                "the list holds {} credentials, the commitment says {count}",
                e.credentials
            ),
        ));
    }
    let prefix = keys::credentials(&id);
    let mut list = Vec::with_capacity(count as usize);
    let mut after = None;
    loop {
        let page = ctx.scan(&prefix, after.as_deref(), 1_000)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (k, v) in &page {
            let c: ListedCredential = decode_value(k, v)?;
            let key_hex = &k[prefix.len()..];
            let public_key = std::str::from_utf8(key_hex)
                .ok()
                .and_then(|s| s.parse::<Hash>().ok())
                .ok_or_else(|| err(ErrorCode::Internal, "malformed credential key"))?;
            list.push(Credential {
                public_key: hex32(&public_key),
                weight: c.weight,
                style: c.style,
            });
        }
    }
    let record_bytes = ctx
        .get_raw(&keys::ceremony(&id))?
        .ok_or_else(|| err(ErrorCode::Internal, "no ceremony record"))?;
    let ceremony: CeremonyRecord = stored_json(&keys::ceremony(&id), &record_bytes)?;
    let h = election_hash(&hex32(&e.manifest_hash), &ceremony, &list);
    e.election_hash = Some(hash(&h));
    e.phase = Phase::Ready;
    ctx.put(
        keys::board(&id),
        &Board {
            election_hash: hash(&h),
            entries: 0,
            head: hash(&chain_genesis(&h)),
            counted: 0,
        },
    );
    ctx.emit(
        Event::new(MODULE, "committed")
            .with("id", id)
            .with("credentials", count)
            .with("election_hash", hash(&h)),
    );
    ctx.put(keys::election(&id), &e);
    Ok(())
}

fn open_now(ctx: &mut Ctx<'_>, e: &mut Election) {
    e.phase = Phase::Open;
    e.opened_ms = Some(ctx.timestamp_ms());
    ctx.emit(Event::new(MODULE, "opened").with("id", e.id));
}

fn close_now(ctx: &mut Ctx<'_>, e: &mut Election) -> Result<(), UrbisError> {
    let board: Board = ctx
        .get(&keys::board(&e.id))?
        .ok_or_else(|| err(ErrorCode::Internal, "open election without a board"))?;
    e.phase = Phase::Closed;
    e.closed_ms = Some(ctx.timestamp_ms());
    ctx.emit(
        Event::new(MODULE, "closed")
            .with("id", e.id)
            .with("entries", board.entries)
            .with("counted", board.counted),
    );
    Ok(())
}

fn open(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let mut e = load(ctx, &id)?;
    only_admin(ctx, &e)?;
    in_phase(
        &e,
        &[Phase::Ready],
        "an election opens once its credential list is committed, once",
    )?;
    open_now(ctx, &mut e);
    ctx.put(keys::election(&id), &e);
    Ok(())
}

fn close(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let mut e = load(ctx, &id)?;
    only_admin(ctx, &e)?;
    in_phase(&e, &[Phase::Open], "only an open election closes")?;
    close_now(ctx, &mut e)?;
    ctx.put(keys::election(&id), &e);
    Ok(())
}

impl Voting {
    /// The fixed part of committed election `e` (`None` before its list is committed); the
    /// manifest is read through `get` the first time only.
    fn fixed(&self, get: &Getter<'_>, e: &Election) -> Result<Option<Arc<Fixed>>, UrbisError> {
        let id = &e.id;
        let (Some(eh), Some(jk)) = (e.election_hash, e.joint_public_key) else {
            return Ok(None);
        };
        if let Some(f) = self.lock_fixed().get(&eh) {
            return Ok(Some(f.clone()));
        }
        let key = keys::manifest(id);
        let Some(bytes) = get(&key)? else {
            return Ok(None);
        };
        let f = Arc::new(Fixed {
            base: ElectionContext::with_election_hash(
                stored_json(&key, &bytes)?,
                hex32(&eh),
                &hex32(&jk),
                e.trustees.len() as u32,
                e.threshold,
                Vec::new(),
                e.total_weight,
            )
            .map_err(vote_err)?,
        });
        let mut fixed = self.lock_fixed();
        if fixed.len() > 1_000 {
            fixed.clear();
        }
        fixed.insert(eh, f.clone());
        Ok(Some(f))
    }

    fn lock_fixed(&self) -> std::sync::MutexGuard<'_, HashMap<Hash, Arc<Fixed>>> {
        self.fixed.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_checked(&self) -> std::sync::MutexGuard<'_, HashSet<Hex32>> {
        self.checked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Check a ballot's structure, proofs, signature (for `status`) and opening; remember it.
    /// Returns the ballot hash.
    fn check_ballot(
        &self,
        ctx: &ElectionContext,
        b: &EncryptedBallot,
        status: BallotStatus,
        reveal: Option<&BallotReveal>,
    ) -> Result<Hex32, UrbisError> {
        let h = ballot::ballot_hash(&ctx.election_hash, b);
        let memo = confirmation_code(&Hex32([0; 32]), &h, &b.signature, status);
        if self.lock_checked().contains(&memo) {
            return Ok(h);
        }
        ballot::check_ballot_structure(ctx, b).map_err(vote_err)?;
        ballot::verify_ballot_proofs(ctx, b).map_err(vote_err)?;
        ballot::verify_signature_on_hash(b, &h, status).map_err(vote_err)?;
        if let Some(r) = reveal {
            ballot::check_reveal(ctx, b, r).map_err(vote_err)?;
        }
        let mut checked = self.lock_checked();
        if checked.len() >= CHECKED_MEMORY {
            checked.clear();
        }
        checked.insert(memo);
        Ok(h)
    }

    fn submit(
        &self,
        ctx: &mut Ctx<'_>,
        id: Hash,
        ballot_json: &str,
        reveal: Option<&str>,
    ) -> Result<(), UrbisError> {
        let e = load(ctx, &id)?;
        if e.phase != Phase::Open || ctx.timestamp_ms() >= e.closes_ms {
            return Err(err(
                ErrorCode::InvalidState,
                format!("the election is not open (phase {:?})", e.phase),
            ));
        }
        let b: EncryptedBallot = parse_json("ballot", ballot_json)?;
        let reveal: Option<BallotReveal> = reveal.map(|r| parse_json("opening", r)).transpose()?;
        let status = if reveal.is_some() {
            BallotStatus::Spoiled
        } else {
            BallotStatus::Cast
        };
        if PublicKey::Ed25519(b.credential.0).address() != ctx.sender() {
            return Err(err(
                ErrorCode::Unauthorized,
                "a ballot travels in a transaction signed by its own credential",
            ));
        }
        let cred_key = hash(&b.credential);
        let listed: ListedCredential =
            ctx.get(&keys::credential(&id, &cred_key))?.ok_or_else(|| {
                err(
                    ErrorCode::Unauthorized,
                    "this credential is not on the election's list",
                )
            })?;
        let last_key = keys::last(&id, &cred_key);
        let last: Option<Last> = ctx.get(&last_key)?;
        if let Some(l) = &last
            && b.sequence <= l.sequence
        {
            return Err(err(
                ErrorCode::AlreadyExists,
                format!(
                    "replay: this credential's ballots are at sequence {} already",
                    l.sequence
                ),
            ));
        }
        let fixed = self
            .fixed(&|k| ctx.get_raw(k), &e)?
            .ok_or_else(|| err(ErrorCode::Internal, "open election without a fixed key"))?;
        let ectx = fixed.context(vec![Credential {
            public_key: b.credential,
            weight: listed.weight,
            style: listed.style.clone(),
        }])?;
        let h = self.check_ballot(&ectx, &b, status, reveal.as_ref())?;
        let mut board: Board = ctx
            .get(&keys::board(&id))?
            .ok_or_else(|| err(ErrorCode::Internal, "open election without a board"))?;
        let code = confirmation_code(&hex32(&board.head), &h, &b.signature, status);
        let index = board.entries;
        let mut last = last.unwrap_or(Last {
            sequence: 0,
            counted: None,
        });
        if status == BallotStatus::Cast {
            let agg_key = keys::aggregate(&id);
            let mut slots = match ctx.get_raw(&agg_key)? {
                Some(bytes) => {
                    flatten_aggregate(&stored_json::<Vec<ContestAggregate>>(&agg_key, &bytes)?)
                        .map_err(|x| err(ErrorCode::Internal, x.to_string()))?
                }
                None => vec![Ciphertext::zero(); slot_layout(&ectx).iter().sum()],
            };
            if let Some(prev) = last.counted {
                let pk = keys::entry(&id, prev);
                let bytes = ctx
                    .get_raw(&pk)?
                    .ok_or_else(|| err(ErrorCode::Internal, "counted entry missing"))?;
                let prev: BoardEntry = stored_json(&pk, &bytes)?;
                apply(&ectx, &mut slots, &prev.ballot, listed.weight, false)?;
            } else {
                board.counted += 1;
            }
            apply(&ectx, &mut slots, &b, listed.weight, true)?;
            ctx.put_raw(agg_key, to_json(&to_aggregate(&ectx, &slots)));
            last.counted = Some(index);
        }
        last.sequence = b.sequence;
        ctx.put(last_key, &last);
        let entry = BoardEntry {
            ballot: b,
            status,
            previous_code: hex32(&board.head),
            confirmation_code: code,
            reveal,
        };
        ctx.put_raw(keys::entry(&id, index), to_json(&entry));
        board.entries += 1;
        board.head = hash(&code);
        ctx.put(keys::board(&id), &board);
        ctx.emit(
            Event::new(
                MODULE,
                if status == BallotStatus::Cast {
                    "cast"
                } else {
                    "spoiled"
                },
            )
            .with("id", id)
            .with("index", index)
            .with("code", hash(&code)),
        );
        Ok(())
    }

    fn decrypt(&self, ctx: &mut Ctx<'_>, id: Hash, share: String) -> Result<(), UrbisError> {
        let mut e = load(ctx, &id)?;
        let i = trustee_index(&e, &ctx.sender())?;
        in_phase(
            &e,
            &[Phase::Closed],
            "decryption shares come after closing, until the result is final",
        )?;
        if e.decrypted.contains(&i) {
            return Err(err(
                ErrorCode::AlreadyExists,
                "your decryption share is in already",
            ));
        }
        let d: DecryptionShare = parse_json("decryption share", &share)?;
        if d.trustee != i {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("you are trustee {i}, the share says {}", d.trustee),
            ));
        }
        let fixed = self
            .fixed(&|k| ctx.get_raw(k), &e)?
            .ok_or_else(|| err(ErrorCode::Internal, "closed election without a fixed key"))?;
        let ectx = fixed.context(Vec::new())?;
        let cts = self.aggregate_slots(ctx, &ectx, &id)?;
        ctx.charge(cts.len() as u64 * 200_000)?;
        let ceremony: CeremonyRecord = {
            let key = keys::ceremony(&id);
            let bytes = ctx
                .get_raw(&key)?
                .ok_or_else(|| err(ErrorCode::Internal, "no ceremony record"))?;
            stored_json(&key, &bytes)?
        };
        let public_share = ceremony
            .public_shares
            .iter()
            .find(|p| p.index == i)
            .ok_or_else(|| err(ErrorCode::Internal, "no public share"))?
            .key
            .point("public share")
            .map_err(vote_err)?;
        verify_decryption_share(&ectx, &public_share, &cts, &d).map_err(vote_err)?;
        ctx.put_raw(keys::decryption(&id, i), to_json(&d));
        e.decrypted.push(i);
        ctx.emit(
            Event::new(MODULE, "decrypted")
                .with("id", id)
                .with("trustee", i),
        );
        if e.decrypted.len() == e.threshold as usize {
            ctx.charge(2_000_000 + cts.len() as u64 * 3_000_000)?;
            let mut shares = Vec::new();
            for &t in &e.decrypted {
                let key = keys::decryption(&id, t);
                let stored: DecryptionShare = if t == i {
                    d.clone()
                } else {
                    let bytes = ctx
                        .get_raw(&key)?
                        .ok_or_else(|| err(ErrorCode::Internal, "decryption share missing"))?;
                    stored_json(&key, &bytes)?
                };
                let points = stored
                    .shares
                    .iter()
                    .map(|s| s.share.point("decryption share"))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(vote_err)?;
                shares.push((t, points));
            }
            let counts = combine(&ectx, &cts, &shares).map_err(vote_err)?;
            let result: Vec<ContestResult> = shape_result(&ectx, &counts);
            ctx.put_raw(keys::result(&id), to_json(&result));
            e.phase = Phase::Tallied;
            e.tallied_ms = Some(ctx.timestamp_ms());
            ctx.emit(Event::new(MODULE, "tallied").with("id", id));
        }
        ctx.put(keys::election(&id), &e);
        Ok(())
    }

    fn aggregate_slots(
        &self,
        ctx: &Ctx<'_>,
        ectx: &ElectionContext,
        id: &Hash,
    ) -> Result<Vec<Ciphertext>, UrbisError> {
        let key = keys::aggregate(id);
        match ctx.get_raw(&key)? {
            Some(bytes) => flatten_aggregate(&stored_json::<Vec<ContestAggregate>>(&key, &bytes)?)
                .map_err(|x| err(ErrorCode::Internal, x.to_string())),
            None => Ok(vec![Ciphertext::zero(); slot_layout(ectx).iter().sum()]),
        }
    }
}

/// Add (or remove) a ballot's weighted ciphertexts to the flattened aggregate.
fn apply(
    ectx: &ElectionContext,
    slots: &mut [Ciphertext],
    b: &EncryptedBallot,
    weight: u64,
    add: bool,
) -> Result<(), UrbisError> {
    let mut offsets = HashMap::new();
    let mut off = 0;
    for (c, n) in ectx.manifest.contests.iter().zip(slot_layout(ectx)) {
        offsets.insert(c.id.as_str(), off);
        off += n;
    }
    for c in &b.contests {
        let Some(&base) = offsets.get(c.contest_id.as_str()) else {
            return Err(err(
                ErrorCode::Internal,
                "ballot contest not in the manifest",
            ));
        };
        for (j, s) in c.selections.iter().chain(c.blank.iter()).enumerate() {
            let ct = s
                .ciphertext
                .decode("ballot ciphertext")
                .map_err(vote_err)?
                .scale_u64(weight);
            let slot = slots
                .get_mut(base + j)
                .ok_or_else(|| err(ErrorCode::Internal, "aggregate slot out of range"))?;
            *slot = if add { slot.add(&ct) } else { slot.sub(&ct) };
        }
    }
    Ok(())
}

fn to_aggregate(ectx: &ElectionContext, slots: &[Ciphertext]) -> Vec<ContestAggregate> {
    let mut out = Vec::new();
    let mut off = 0;
    for (c, n) in ectx.manifest.contests.iter().zip(slot_layout(ectx)) {
        out.push(ContestAggregate {
            contest_id: c.id.clone(),
            ciphertexts: slots[off..off + n]
                .iter()
                .map(Ciphertext::to_wire)
                .collect(),
        });
        off += n;
    }
    out
}

/// The record of `id`'s state, assembled from its parts (used by exporters and tests).
#[allow(clippy::too_many_arguments)]
pub fn record_from_parts(
    manifest: Manifest,
    ceremony: CeremonyRecord,
    credentials: Vec<Credential>,
    election_hash: Hex32,
    ballots: Vec<BoardEntry>,
    aggregate: Vec<ContestAggregate>,
    decryption_shares: Vec<DecryptionShare>,
    result: Vec<ContestResult>,
) -> ElectionRecord {
    let chain_head = ballots
        .last()
        .map_or_else(|| chain_genesis(&election_hash), |b| b.confirmation_code);
    let counted = urbis_votecrypto::tally::counted_indices(&ballots)
        .into_iter()
        .map(|i| ballots[i].confirmation_code)
        .collect();
    let present: Vec<u32> = decryption_shares.iter().map(|d| d.trustee).collect();
    let missing_trustees = (1..=ceremony.trustees)
        .filter(|i| !present.contains(i))
        .collect();
    ElectionRecord {
        version: urbis_votecrypto::RECORD_VERSION.to_string(),
        manifest,
        ceremony,
        credentials,
        election_hash,
        ballots,
        chain_head,
        tally: urbis_votecrypto::tally::TallyRecord {
            counted,
            aggregate,
            decryption_shares,
            missing_trustees,
            result,
        },
        anchor: None,
    }
}

impl Module for Voting {
    urbis_runtime::json_calls!(VotingCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        kit::no_genesis(MODULE, config)
    }

    fn weight(&self, data: &[u8]) -> u64 {
        calls::weight(data)
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        match kit::decode_call(data)? {
            VotingCall::Create {
                manifest,
                trustees,
                threshold,
                registrar,
                eligibility,
                ceremony_ends_ms,
                opens_ms,
                closes_ms,
            } => create(
                ctx,
                manifest,
                trustees,
                threshold,
                registrar,
                eligibility,
                ceremony_ends_ms,
                opens_ms,
                closes_ms,
            ),
            VotingCall::Announce {
                election,
                announcement,
            } => announce(ctx, election, announcement),
            VotingCall::Deal { election, shares } => deal(ctx, election, shares),
            VotingCall::Complain {
                election,
                complaints,
            } => complain(ctx, election, complaints),
            VotingCall::Finalize { election } => finalize(ctx, election),
            VotingCall::Register {
                election,
                credentials,
            } => register(ctx, election, credentials),
            VotingCall::Commit { election, count } => commit(ctx, election, count),
            VotingCall::Open { election } => open(ctx, election),
            VotingCall::Close { election } => close(ctx, election),
            VotingCall::Cast { election, ballot } => self.submit(ctx, election, &ballot, None),
            VotingCall::Spoil {
                election,
                ballot,
                opening,
            } => self.submit(ctx, election, &ballot, Some(&opening)),
            VotingCall::Decrypt { election, share } => self.decrypt(ctx, election, share),
        }
    }

    /// A credential on an election's list, casting or spoiling in that election (whether it
    /// is open is the call's business: a ballot too early or too late fails `invalid_state`).
    fn vouches(
        &self,
        view: &dyn StateView,
        sender: &Address,
        data: &[u8],
    ) -> Result<bool, UrbisError> {
        let Ok(call) = kit::decode_call::<VotingCall>(data) else {
            return Ok(false);
        };
        let election = match &call {
            VotingCall::Cast { election, .. } | VotingCall::Spoil { election, .. } => election,
            _ => return Ok(false),
        };
        let Some(voter) = view_get::<Voter>(view, &keys::voter(sender))? else {
            return Ok(false);
        };
        Ok(voter.election == *election)
    }

    fn has_precheck(&self) -> bool {
        true
    }

    /// A ballot's structure, proofs and signature, once its election's list is committed (the
    /// election hash, key, manifest and the credential's entry never change after that).
    fn precheck(&self, view: &dyn StateView, data: &[u8]) -> Result<bool, UrbisError> {
        let Ok(call) = kit::decode_call::<VotingCall>(data) else {
            return Ok(false);
        };
        let (id, ballot_json, reveal) = match &call {
            VotingCall::Cast { election, ballot } => (election, ballot, None),
            VotingCall::Spoil {
                election,
                ballot,
                opening,
            } => (election, ballot, Some(opening)),
            _ => return Ok(false),
        };
        let Some(e) = view_get::<Election>(view, &keys::election(id))? else {
            return Ok(false);
        };
        let Some(fixed) = self.fixed(&|k| view.get(k), &e)? else {
            return Ok(false);
        };
        let b: EncryptedBallot = parse_json("ballot", ballot_json)?;
        let reveal: Option<BallotReveal> = reveal.map(|r| parse_json("opening", r)).transpose()?;
        let Some(listed) =
            view_get::<ListedCredential>(view, &keys::credential(id, &hash(&b.credential)))?
        else {
            return Ok(false);
        };
        let ectx = fixed.context(vec![Credential {
            public_key: b.credential,
            weight: listed.weight,
            style: listed.style,
        }])?;
        let status = if reveal.is_some() {
            BallotStatus::Spoiled
        } else {
            BallotStatus::Cast
        };
        self.check_ballot(&ectx, &b, status, reveal.as_ref())?;
        Ok(true)
    }

    /// Open or close at the scheduled time.
    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        let (&kind, id) = payload
            .split_first()
            .ok_or_else(|| err(ErrorCode::Internal, "empty voting job"))?;
        let id = Hash(
            id.try_into()
                .map_err(|_| err(ErrorCode::Internal, "voting job without an id"))?,
        );
        let Some(mut e) = ctx.get::<Election>(&keys::election(&id))? else {
            return Ok(());
        };
        match (kind, e.phase) {
            (OPEN, Phase::Ready) => open_now(ctx, &mut e),
            (OPEN, Phase::Ceremony | Phase::Registration) => fail(
                ctx,
                &mut e,
                "the opening time came before the key ceremony and the credential list were complete",
            ),
            (CLOSE, Phase::Open) => close_now(ctx, &mut e)?,
            _ => return Ok(()),
        }
        ctx.put(keys::election(&id), &e);
        Ok(())
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        let id = |t: &str| kit::parse_hash("an election id", t);
        let index = |t: &str| -> Result<u32, UrbisError> {
            t.parse::<u32>()
                .ok()
                .filter(|i| (1..=MAX_TRUSTEES as u32).contains(i))
                .ok_or_else(|| err(ErrorCode::InvalidArgument, "a trustee index is 1 to 32"))
        };
        match path {
            ["election", e] => Ok(keys::election(&id(e)?)),
            ["manifest", e] => Ok(keys::manifest(&id(e)?)),
            ["announcement", e, i] => Ok(keys::announcement(&id(e)?, index(i)?)),
            ["deal", e, i] => Ok(keys::deal(&id(e)?, index(i)?)),
            ["complaints", e, i] => Ok(keys::complaints(&id(e)?, index(i)?)),
            ["ceremony", e] => Ok(keys::ceremony(&id(e)?)),
            ["credential", e, k] => Ok(keys::credential(
                &id(e)?,
                &kit::parse_hash("a credential public key", k)?,
            )),
            ["board", e] => Ok(keys::board(&id(e)?)),
            ["entry", e, i] => Ok(keys::entry(&id(e)?, kit::parse_u64("an entry index", i)?)),
            ["last", e, k] => Ok(keys::last(
                &id(e)?,
                &kit::parse_hash("a credential public key", k)?,
            )),
            ["aggregate", e] => Ok(keys::aggregate(&id(e)?)),
            ["decryption", e, i] => Ok(keys::decryption(&id(e)?, index(i)?)),
            ["result", e] => Ok(keys::result(&id(e)?)),
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
            Some(&"election") => json(serde_json::to_value(decode_value::<Election>(&key, bytes)?)),
            Some(&"credential") => json(serde_json::to_value(decode_value::<ListedCredential>(
                &key, bytes,
            )?)),
            Some(&"board") => json(serde_json::to_value(decode_value::<Board>(&key, bytes)?)),
            Some(&"last") => json(serde_json::to_value(decode_value::<Last>(&key, bytes)?)),
            _ => stored_json(&key, bytes),
        }
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        let id = |t: &str| kit::parse_hash("an election id", t);
        Ok(match path {
            ["elections"] => Some(keys::elections()),
            ["credentials", e] => Some(keys::credentials(&id(e)?)),
            ["entries", e] => Some(keys::entries(&id(e)?)),
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
            Some(&"credentials") => {
                let c: ListedCredential = decode_value(key, value)?;
                let public_key = String::from_utf8_lossy(key)
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                Ok(serde_json::json!({
                    "public_key": public_key,
                    "weight": c.weight,
                    "style": c.style,
                }))
            }
            Some(&"entries") => stored_json(key, value),
            _ => json(serde_json::to_value(decode_value::<Election>(key, value)?)),
        }
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

#[cfg(test)]
mod tests;
