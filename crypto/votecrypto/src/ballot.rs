//! Ballots: encryption with 0/1 and contest-sum proofs, Ed25519 credential signatures,
//! chained confirmation codes, Benaloh spoiling, and the bulletin board.

use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::VoteError;
use crate::context::ElectionContext;
use crate::encoding::{Hex32, Hex64, Transcript};
use crate::group::{Ciphertext, CiphertextWire, random_scalar};
use crate::manifest::Contest;
use crate::proofs::MembershipProof;

/// Allowed values of a single selection or blank indicator.
pub const ZERO_ONE: [u64; 2] = [0, 1];
/// Label prefixed to the ballot hash before signing.
pub const SIGNATURE_DOMAIN: &[u8] = b"urbis/votecrypto/v1/ballot-signature";

/// An encrypted selection (or blank indicator) with its 0/1 proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedSelection {
    pub ciphertext: CiphertextWire,
    pub proof: MembershipProof,
}

/// One encrypted contest: selections in manifest order, optional blank indicator,
/// and the proof that `Σ selections + M·blank` lies in the allowed set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedContest {
    pub contest_id: String,
    pub selections: Vec<EncryptedSelection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blank: Option<EncryptedSelection>,
    pub sum_proof: MembershipProof,
}

/// A signed encrypted ballot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedBallot {
    /// Ed25519 public key of the voting credential.
    pub credential: Hex32,
    pub style: String,
    /// This credential's submission number: 1 for its first ballot, then strictly increasing
    /// along the board (a superseded ballot cannot be replayed after a newer one).
    pub sequence: u64,
    /// Contests in the order of the ballot style.
    pub contests: Vec<EncryptedContest>,
    pub signature: Hex64,
}

/// What a voter does with an encrypted ballot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BallotStatus {
    Cast,
    Spoiled,
}

/// Plaintext and nonces of one contest (kept by the voting device; published for spoiled ballots).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContestReveal {
    pub contest_id: String,
    pub selections: Vec<u8>,
    pub nonces: Vec<Hex32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blank: Option<(u8, Hex32)>,
}

/// Opening of a whole ballot (the Benaloh challenge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotReveal {
    pub contests: Vec<ContestReveal>,
}

/// A ballot as published on the bulletin board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardEntry {
    pub ballot: EncryptedBallot,
    pub status: BallotStatus,
    pub previous_code: Hex32,
    pub confirmation_code: Hex32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal: Option<BallotReveal>,
}

/// A voter's choices in one contest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaintextContest {
    pub contest_id: String,
    /// One flag per selection, in manifest order.
    pub selected: Vec<bool>,
    /// Blank vote (requires no selection and `allow_blank`).
    pub blank: bool,
}

/// A voter's choices for every contest of the ballot style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaintextBallot {
    pub contests: Vec<PlaintextContest>,
}

fn contest_transcript(
    label: &str,
    ctx: &ElectionContext,
    credential: &Hex32,
    contest: &str,
    cts: &[CiphertextWire],
) -> Transcript {
    let mut t = Transcript::new(label);
    t.append_hex("election_hash", &ctx.election_hash);
    t.append_hex("joint_public_key", &ctx.public_key.bytes);
    t.append_hex("credential", credential);
    t.append("contest", contest.as_bytes());
    t.append_u64("ciphertexts", cts.len() as u64);
    for c in cts {
        t.append_hex("alpha", &c.alpha);
        t.append_hex("beta", &c.beta);
    }
    t
}

fn selection_transcript(base: &Transcript, index: usize) -> Transcript {
    let mut t = base.clone();
    t.append_u64("selection", index as u64);
    t
}

/// Hash of a ballot's content (what the credential signs; shown to the voter as tracker).
pub fn ballot_hash(election_hash: &Hex32, b: &EncryptedBallot) -> Hex32 {
    let mut t = Transcript::new("ballot");
    t.append_hex("election_hash", election_hash);
    t.append_hex("credential", &b.credential);
    t.append("style", b.style.as_bytes());
    t.append_u64("sequence", b.sequence);
    t.append_u64("contests", b.contests.len() as u64);
    let proof = |t: &mut Transcript, p: &MembershipProof| {
        t.append_u64("branches", p.c.len() as u64);
        for (c, z) in p.c.iter().zip(&p.z) {
            t.append_hex("c", c);
            t.append_hex("z", z);
        }
    };
    for c in &b.contests {
        t.append("contest", c.contest_id.as_bytes());
        t.append_u64("selections", c.selections.len() as u64);
        for s in c.selections.iter().chain(c.blank.iter()) {
            t.append_hex("alpha", &s.ciphertext.alpha);
            t.append_hex("beta", &s.ciphertext.beta);
            proof(&mut t, &s.proof);
        }
        t.append_u64("has_blank", u64::from(c.blank.is_some()));
        proof(&mut t, &c.sum_proof);
    }
    t.hash("ballot_hash")
}

/// First `previous_code` of the chain.
pub fn chain_genesis(election_hash: &Hex32) -> Hex32 {
    let mut t = Transcript::new("chain-genesis");
    t.append_hex("election_hash", election_hash);
    t.hash("genesis")
}

/// `code = H(previous_code, ballot_hash, signature, status)`.
pub fn confirmation_code(
    previous: &Hex32,
    ballot_hash: &Hex32,
    signature: &Hex64,
    status: BallotStatus,
) -> Hex32 {
    let mut t = Transcript::new("confirmation-code");
    t.append_hex("previous_code", previous);
    t.append_hex("ballot_hash", ballot_hash);
    t.append("signature", &signature.0);
    t.append("status", status_label(status));
    t.hash("code")
}

fn status_label(status: BallotStatus) -> &'static [u8] {
    match status {
        BallotStatus::Cast => b"cast",
        BallotStatus::Spoiled => b"spoiled",
    }
}

/// What the credential signs: the domain, the ballot hash and the voter's intent, so that a
/// spoiled (opened) ballot cannot be relabelled as cast, nor a cast one as spoiled.
fn signing_message(hash: &Hex32, status: BallotStatus) -> Vec<u8> {
    let mut m = SIGNATURE_DOMAIN.to_vec();
    m.extend_from_slice(&hash.0);
    m.extend_from_slice(status_label(status));
    m
}

/// Sign `ballot` for `status` (an encrypted ballot comes signed for casting; a voter who
/// challenges it signs it again to spoil it).
pub fn sign_ballot(
    election_hash: &Hex32,
    voter: &SigningKey,
    ballot: &mut EncryptedBallot,
    status: BallotStatus,
) {
    let hash = ballot_hash(election_hash, ballot);
    ballot.signature = Hex64(voter.sign(&signing_message(&hash, status)).to_bytes());
}

/// Encrypt, prove and sign (for casting) the credential's `sequence`-th ballot. Returns the
/// ballot and its opening (keep it secret unless the voter spoils the ballot).
pub fn encrypt_ballot<R: CryptoRng + ?Sized>(
    ctx: &ElectionContext,
    voter: &SigningKey,
    plaintext: &PlaintextBallot,
    sequence: u64,
    rng: &mut R,
) -> Result<(EncryptedBallot, BallotReveal), VoteError> {
    if sequence == 0 {
        return Err(VoteError::Ballot("ballot sequences start at 1".into()));
    }
    let credential = Hex32(voter.verifying_key().to_bytes());
    let cred = ctx
        .credential(&credential)
        .ok_or_else(|| VoteError::Ballot("credential is not on the election's list".into()))?;
    let style = ctx
        .manifest
        .style(&cred.style)
        .ok_or_else(|| VoteError::Ballot("unknown ballot style".into()))?;
    if plaintext.contests.len() != style.contests.len() {
        return Err(VoteError::Ballot(format!(
            "ballot style {:?} has {} contests",
            style.id,
            style.contests.len()
        )));
    }
    let mut contests = Vec::with_capacity(style.contests.len());
    let mut reveals = Vec::with_capacity(style.contests.len());
    for (cid, pc) in style.contests.iter().zip(&plaintext.contests) {
        if &pc.contest_id != cid {
            return Err(VoteError::Ballot(format!(
                "expected contest {cid:?}, got {:?}",
                pc.contest_id
            )));
        }
        let contest = ctx
            .manifest
            .contest(cid)
            .ok_or_else(|| VoteError::Ballot(format!("unknown contest {cid:?}")))?;
        let (ec, reveal) = encrypt_contest(ctx, &credential, contest, pc, rng)?;
        contests.push(ec);
        reveals.push(reveal);
    }
    let mut ballot = EncryptedBallot {
        credential,
        style: style.id.clone(),
        sequence,
        contests,
        signature: Hex64::default(),
    };
    sign_ballot(&ctx.election_hash, voter, &mut ballot, BallotStatus::Cast);
    Ok((ballot, BallotReveal { contests: reveals }))
}

fn encrypt_contest<R: CryptoRng + ?Sized>(
    ctx: &ElectionContext,
    credential: &Hex32,
    contest: &Contest,
    pc: &PlaintextContest,
    rng: &mut R,
) -> Result<(EncryptedContest, ContestReveal), VoteError> {
    if pc.selected.len() != contest.selections.len() {
        return Err(VoteError::Ballot(format!(
            "contest {:?}: wrong number of selections",
            contest.id
        )));
    }
    if pc.blank && !contest.allow_blank {
        return Err(VoteError::Ballot(format!(
            "contest {:?}: blank vote not allowed",
            contest.id
        )));
    }
    let count = pc.selected.iter().filter(|s| **s).count() as u64;
    if pc.blank && count != 0 {
        return Err(VoteError::Ballot(format!(
            "contest {:?}: blank vote with selections",
            contest.id
        )));
    }
    let m = contest.blank_multiplier();
    let total = count + if pc.blank { m } else { 0 };
    let allowed = contest.allowed_sums();
    let sum_index = allowed.iter().position(|v| *v == total).ok_or_else(|| {
        VoteError::Ballot(format!(
            "contest {:?}: {count} selections outside {}..={}",
            contest.id, contest.min_selections, contest.max_selections
        ))
    })?;
    let pk = &ctx.public_key;
    let mut values: Vec<u8> = pc.selected.iter().map(|s| u8::from(*s)).collect();
    if contest.allow_blank {
        values.push(u8::from(pc.blank));
    }
    let nonces: Vec<Scalar> = values.iter().map(|_| random_scalar(rng)).collect();
    let cts: Vec<Ciphertext> = values
        .iter()
        .zip(&nonces)
        .map(|(v, r)| pk.encrypt_with(u64::from(*v), r))
        .collect();
    let wires: Vec<CiphertextWire> = cts.iter().map(Ciphertext::to_wire).collect();
    let base = contest_transcript("proof/selection", ctx, credential, &contest.id, &wires);
    let mut encs = Vec::with_capacity(cts.len());
    for (i, ((ct, r), v)) in cts.iter().zip(&nonces).zip(&values).enumerate() {
        let proof = MembershipProof::prove(
            pk,
            ct,
            r,
            usize::from(*v),
            &ZERO_ONE,
            selection_transcript(&base, i),
            rng,
        )?;
        encs.push(EncryptedSelection {
            ciphertext: wires[i],
            proof,
        });
    }
    let (sum_ct, sum_nonce) = contest_sum(contest, &cts, &nonces);
    let sum_t = contest_transcript("proof/contest-sum", ctx, credential, &contest.id, &wires);
    let sum_proof =
        MembershipProof::prove(pk, &sum_ct, &sum_nonce, sum_index, &allowed, sum_t, rng)?;
    let blank = if contest.allow_blank {
        encs.pop()
    } else {
        None
    };
    let mut nonce_hex: Vec<Hex32> = nonces.iter().map(Hex32::from_scalar).collect();
    let blank_reveal = if contest.allow_blank {
        nonce_hex.pop().map(|n| (u8::from(pc.blank), n))
    } else {
        None
    };
    values.truncate(contest.selections.len());
    Ok((
        EncryptedContest {
            contest_id: contest.id.clone(),
            selections: encs,
            blank,
            sum_proof,
        },
        ContestReveal {
            contest_id: contest.id.clone(),
            selections: values,
            nonces: nonce_hex,
            blank: blank_reveal,
        },
    ))
}

/// `Σ selections + M·blank` (the last element is the blank indicator when allowed).
fn contest_sum(contest: &Contest, cts: &[Ciphertext], nonces: &[Scalar]) -> (Ciphertext, Scalar) {
    let n = contest.selections.len();
    let mut ct = Ciphertext::zero();
    let mut r = Scalar::ZERO;
    for (c, x) in cts[..n].iter().zip(&nonces[..n]) {
        ct = ct.add(c);
        r += x;
    }
    if cts.len() > n {
        let m = Scalar::from(contest.blank_multiplier());
        ct = ct.add(&cts[n].scale(&m));
        r += m * nonces[n];
    }
    (ct, r)
}

/// Check that a ballot's credential is listed and its contests match the credential's style.
pub fn check_ballot_structure(ctx: &ElectionContext, b: &EncryptedBallot) -> Result<(), VoteError> {
    let cred = ctx.credential(&b.credential).ok_or_else(|| {
        VoteError::Ballot(format!(
            "credential {} is not on the credential list",
            b.credential
        ))
    })?;
    if b.style != cred.style {
        return Err(VoteError::Ballot(format!(
            "ballot style {:?} differs from the credential's style {:?}",
            b.style, cred.style
        )));
    }
    let style = ctx
        .manifest
        .style(&b.style)
        .ok_or_else(|| VoteError::Ballot(format!("unknown ballot style {:?}", b.style)))?;
    if style.contests.len() != b.contests.len() {
        return Err(VoteError::Ballot(
            "contests do not match the ballot style".into(),
        ));
    }
    for (cid, ec) in style.contests.iter().zip(&b.contests) {
        if cid != &ec.contest_id {
            return Err(VoteError::Ballot(format!(
                "expected contest {cid:?}, found {:?}",
                ec.contest_id
            )));
        }
        let c = ctx
            .manifest
            .contest(cid)
            .ok_or_else(|| VoteError::Ballot(format!("unknown contest {cid:?}")))?;
        if ec.selections.len() != c.selections.len() || ec.blank.is_some() != c.allow_blank {
            return Err(VoteError::Ballot(format!(
                "contest {cid:?}: wrong number of ciphertexts"
            )));
        }
    }
    Ok(())
}

/// Verify every proof of a structurally valid ballot; returns the decoded ciphertexts
/// per contest (selections, then the blank indicator if any).
pub fn verify_ballot_proofs(
    ctx: &ElectionContext,
    b: &EncryptedBallot,
) -> Result<Vec<Vec<Ciphertext>>, VoteError> {
    let pk = &ctx.public_key;
    let mut out = Vec::with_capacity(b.contests.len());
    for ec in &b.contests {
        let contest = ctx
            .manifest
            .contest(&ec.contest_id)
            .ok_or_else(|| VoteError::Ballot(format!("unknown contest {:?}", ec.contest_id)))?;
        let all: Vec<&EncryptedSelection> = ec.selections.iter().chain(ec.blank.iter()).collect();
        let wires: Vec<CiphertextWire> = all.iter().map(|s| s.ciphertext).collect();
        let mut cts = Vec::with_capacity(all.len());
        let base = contest_transcript("proof/selection", ctx, &b.credential, &contest.id, &wires);
        for (i, s) in all.iter().enumerate() {
            let ct = s.ciphertext.decode("ciphertext").map_err(|e| {
                VoteError::Verification(format!("contest {:?} ciphertext {i}: {e}", contest.id))
            })?;
            s.proof
                .verify(
                    pk,
                    &ct,
                    &s.ciphertext,
                    &ZERO_ONE,
                    selection_transcript(&base, i),
                )
                .map_err(|e| {
                    VoteError::Verification(format!(
                        "contest {:?} selection {i}: 0/1 proof: {e}",
                        contest.id
                    ))
                })?;
            cts.push(ct);
        }
        let nonces = vec![Scalar::ZERO; cts.len()];
        let (sum_ct, _) = contest_sum(contest, &cts, &nonces);
        let sum_t =
            contest_transcript("proof/contest-sum", ctx, &b.credential, &contest.id, &wires);
        ec.sum_proof
            .verify(
                pk,
                &sum_ct,
                &sum_ct.to_wire(),
                &contest.allowed_sums(),
                sum_t,
            )
            .map_err(|e| {
                VoteError::Verification(format!("contest {:?}: sum proof: {e}", contest.id))
            })?;
        out.push(cts);
    }
    Ok(out)
}

/// Verify the credential's signature for `status`; returns the ballot hash.
pub fn verify_ballot_signature(
    ctx: &ElectionContext,
    b: &EncryptedBallot,
    status: BallotStatus,
) -> Result<Hex32, VoteError> {
    let hash = ballot_hash(&ctx.election_hash, b);
    verify_signature_on_hash(b, &hash, status)?;
    Ok(hash)
}

/// Verify the credential's signature for `status` over an already computed ballot hash.
pub fn verify_signature_on_hash(
    b: &EncryptedBallot,
    hash: &Hex32,
    status: BallotStatus,
) -> Result<(), VoteError> {
    let key = VerifyingKey::from_bytes(&b.credential.0)
        .map_err(|_| VoteError::encoding("credential", "not an Ed25519 public key"))?;
    key.verify_strict(
        &signing_message(hash, status),
        &Signature::from_bytes(&b.signature.0),
    )
    .map_err(|_| {
        VoteError::Verification(format!(
            "credential signature invalid (for intent {:?})",
            std::str::from_utf8(status_label(status)).unwrap_or_default()
        ))
    })
}

/// Benaloh challenge: check that the opening re-encrypts exactly to the ballot and is a valid vote.
/// Returns the revealed plaintext.
pub fn check_reveal(
    ctx: &ElectionContext,
    b: &EncryptedBallot,
    r: &BallotReveal,
) -> Result<PlaintextBallot, VoteError> {
    if r.contests.len() != b.contests.len() {
        return Err(VoteError::Ballot(
            "reveal does not cover every contest".into(),
        ));
    }
    let mut out = Vec::new();
    for (ec, cr) in b.contests.iter().zip(&r.contests) {
        let contest = ctx
            .manifest
            .contest(&ec.contest_id)
            .ok_or_else(|| VoteError::Ballot(format!("unknown contest {:?}", ec.contest_id)))?;
        if cr.contest_id != ec.contest_id
            || cr.selections.len() != ec.selections.len()
            || cr.nonces.len() != ec.selections.len()
            || cr.blank.is_some() != ec.blank.is_some()
        {
            return Err(VoteError::Ballot(format!(
                "contest {:?}: reveal has the wrong shape",
                ec.contest_id
            )));
        }
        let pairs = cr
            .selections
            .iter()
            .zip(&cr.nonces)
            .zip(&ec.selections)
            .chain(cr.blank.iter().map(|(v, n)| (v, n)).zip(ec.blank.iter()));
        for (i, ((v, n), s)) in pairs.enumerate() {
            if *v > 1 {
                return Err(VoteError::Ballot(format!(
                    "contest {:?}: value {v} is not 0/1",
                    ec.contest_id
                )));
            }
            let r = n.scalar("nonce")?;
            if ctx.public_key.encrypt_with(u64::from(*v), &r).to_wire() != s.ciphertext {
                return Err(VoteError::Verification(format!(
                    "contest {:?} ciphertext {i}: nonce does not open the ciphertext",
                    ec.contest_id
                )));
            }
        }
        let selected: Vec<bool> = cr.selections.iter().map(|v| *v == 1).collect();
        let blank = cr.blank.is_some_and(|(v, _)| v == 1);
        let total = selected.iter().filter(|s| **s).count() as u64
            + if blank { contest.blank_multiplier() } else { 0 };
        if !contest.allowed_sums().contains(&total) {
            return Err(VoteError::Ballot(format!(
                "contest {:?}: revealed vote is not valid",
                ec.contest_id
            )));
        }
        out.push(PlaintextContest {
            contest_id: ec.contest_id.clone(),
            selected,
            blank,
        });
    }
    Ok(PlaintextBallot { contests: out })
}

/// The bulletin board: accepts cast and spoiled ballots and chains their confirmation codes.
pub struct BallotBox<'a> {
    ctx: &'a ElectionContext,
    entries: Vec<BoardEntry>,
    head: Hex32,
    /// Ballot hashes on the board (a ballot appears at most once).
    seen: std::collections::HashSet<Hex32>,
    /// The last sequence number of each credential.
    sequences: std::collections::HashMap<Hex32, u64>,
}

impl<'a> BallotBox<'a> {
    /// An empty board for the election.
    pub fn new(ctx: &'a ElectionContext) -> Self {
        BallotBox {
            ctx,
            entries: Vec::new(),
            head: chain_genesis(&ctx.election_hash),
            seen: std::collections::HashSet::new(),
            sequences: std::collections::HashMap::new(),
        }
    }

    /// The sequence number the credential's next ballot must carry (at least).
    pub fn next_sequence(&self, credential: &Hex32) -> u64 {
        self.sequences.get(credential).map_or(1, |s| s + 1)
    }

    fn append(
        &mut self,
        ballot: EncryptedBallot,
        status: BallotStatus,
        reveal: Option<BallotReveal>,
    ) -> Result<Hex32, VoteError> {
        check_ballot_structure(self.ctx, &ballot)?;
        verify_ballot_proofs(self.ctx, &ballot)?;
        let hash = verify_ballot_signature(self.ctx, &ballot, status)?;
        if self.seen.contains(&hash) {
            return Err(VoteError::Ballot(
                "replay: this ballot is already on the board".into(),
            ));
        }
        if ballot.sequence < self.next_sequence(&ballot.credential) {
            return Err(VoteError::Ballot(format!(
                "replay: the credential's ballots are at sequence {} already",
                self.next_sequence(&ballot.credential) - 1
            )));
        }
        if let Some(r) = &reveal {
            check_reveal(self.ctx, &ballot, r)?;
        }
        let code = confirmation_code(&self.head, &hash, &ballot.signature, status);
        self.seen.insert(hash);
        self.sequences.insert(ballot.credential, ballot.sequence);
        self.entries.push(BoardEntry {
            ballot,
            status,
            previous_code: self.head,
            confirmation_code: code,
            reveal,
        });
        self.head = code;
        Ok(code)
    }

    /// Cast a ballot (replacing any earlier ballot of the same credential); returns its confirmation code.
    pub fn cast(&mut self, ballot: EncryptedBallot) -> Result<Hex32, VoteError> {
        self.append(ballot, BallotStatus::Cast, None)
    }

    /// Spoil a ballot, publishing its opening (Benaloh challenge).
    pub fn spoil(
        &mut self,
        ballot: EncryptedBallot,
        reveal: BallotReveal,
    ) -> Result<Hex32, VoteError> {
        self.append(ballot, BallotStatus::Spoiled, Some(reveal))
    }

    /// Entries in submission order.
    pub fn entries(&self) -> &[BoardEntry] {
        &self.entries
    }

    /// Last confirmation code (or the genesis code).
    pub fn head(&self) -> Hex32 {
        self.head
    }

    /// Consume the board.
    pub fn into_entries(self) -> (Vec<BoardEntry>, Hex32) {
        (self.entries, self.head)
    }
}
