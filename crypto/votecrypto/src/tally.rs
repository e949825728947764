//! Tally: replacement rule, weighted homomorphic aggregation, partial decryptions with
//! Chaum–Pedersen proofs, and combination of any `k` of `n` shares.

use std::collections::{HashMap, HashSet};

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::VoteError;
use crate::ballot::{BallotStatus, BoardEntry};
use crate::context::ElectionContext;
use crate::dkg::TrusteeSecret;
use crate::encoding::{Hex32, Transcript};
use crate::group::{Ciphertext, CiphertextWire, DlogTable, lagrange_at_zero};
use crate::proofs::DleqProof;

/// Encrypted totals of one contest (every manifest contest appears, in manifest order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContestAggregate {
    pub contest_id: String,
    /// Selections, then the blank counter when the contest allows blank votes.
    pub ciphertexts: Vec<CiphertextWire>,
}

/// One partial decryption `M = x_l·α` with its proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareWithProof {
    pub share: Hex32,
    pub proof: DleqProof,
}

/// A trustee's partial decryption of every aggregate ciphertext (flattened in aggregate order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecryptionShare {
    pub trustee: u32,
    pub shares: Vec<ShareWithProof>,
}

/// Decrypted totals of one contest (weighted counts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContestResult {
    pub contest_id: String,
    /// Count per selection, in manifest order.
    pub counts: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blank: Option<u64>,
}

/// The tally section of the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TallyRecord {
    /// Confirmation codes of the counted ballots, in board order.
    pub counted: Vec<Hex32>,
    pub aggregate: Vec<ContestAggregate>,
    pub decryption_shares: Vec<DecryptionShare>,
    pub missing_trustees: Vec<u32>,
    pub result: Vec<ContestResult>,
}

/// Indices (into `entries`) of the ballots that count: the last cast ballot of each credential.
pub fn counted_indices(entries: &[BoardEntry]) -> Vec<usize> {
    let mut last: HashMap<Hex32, usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if e.status == BallotStatus::Cast {
            last.insert(e.ballot.credential, i);
        }
    }
    let mut v: Vec<usize> = last.into_values().collect();
    v.sort_unstable();
    v
}

/// Number of aggregate slots per manifest contest.
pub fn slot_layout(ctx: &ElectionContext) -> Vec<usize> {
    ctx.manifest
        .contests
        .iter()
        .map(|c| c.selections.len() + usize::from(c.allow_blank))
        .collect()
}

/// Weighted sum accumulator over the flattened slots.
#[derive(Clone)]
pub(crate) struct Accumulator {
    offsets: HashMap<String, usize>,
    pub(crate) slots: Vec<Ciphertext>,
}

impl Accumulator {
    pub(crate) fn new(ctx: &ElectionContext) -> Self {
        let mut offsets = HashMap::new();
        let mut off = 0;
        for (c, n) in ctx.manifest.contests.iter().zip(slot_layout(ctx)) {
            offsets.insert(c.id.clone(), off);
            off += n;
        }
        Accumulator {
            offsets,
            slots: vec![Ciphertext::zero(); off],
        }
    }

    /// Add a ballot's ciphertexts (per contest, in ballot order), scaled by the weight.
    pub(crate) fn add(&mut self, contest_ids: &[&str], cts: &[Vec<Ciphertext>], weight: u64) {
        let w = Scalar::from(weight);
        for (cid, list) in contest_ids.iter().zip(cts) {
            let Some(&off) = self.offsets.get(*cid) else {
                continue;
            };
            for (j, ct) in list.iter().enumerate() {
                let v = if weight == 1 { *ct } else { ct.scale(&w) };
                self.slots[off + j] = self.slots[off + j].add(&v);
            }
        }
    }

    pub(crate) fn merge(&mut self, other: &Accumulator) {
        for (a, b) in self.slots.iter_mut().zip(&other.slots) {
            *a = a.add(b);
        }
    }

    pub(crate) fn to_record(&self, ctx: &ElectionContext) -> Vec<ContestAggregate> {
        let mut out = Vec::new();
        let mut off = 0;
        for (c, n) in ctx.manifest.contests.iter().zip(slot_layout(ctx)) {
            out.push(ContestAggregate {
                contest_id: c.id.clone(),
                ciphertexts: self.slots[off..off + n]
                    .iter()
                    .map(Ciphertext::to_wire)
                    .collect(),
            });
            off += n;
        }
        out
    }
}

/// Aggregate the counted ballots (decoding them; call on verified ballots).
pub fn aggregate(
    ctx: &ElectionContext,
    entries: &[BoardEntry],
) -> Result<(Vec<Hex32>, Vec<ContestAggregate>), VoteError> {
    let mut acc = Accumulator::new(ctx);
    let mut codes = Vec::new();
    for i in counted_indices(entries) {
        let e = &entries[i];
        let weight = ctx
            .credential(&e.ballot.credential)
            .ok_or_else(|| VoteError::Tally("counted ballot from unlisted credential".into()))?
            .weight;
        let ids: Vec<&str> = e
            .ballot
            .contests
            .iter()
            .map(|c| c.contest_id.as_str())
            .collect();
        let cts = e
            .ballot
            .contests
            .iter()
            .map(|c| {
                c.selections
                    .iter()
                    .chain(c.blank.iter())
                    .map(|s| s.ciphertext.decode("ballot ciphertext"))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        acc.add(&ids, &cts, weight);
        codes.push(e.confirmation_code);
    }
    Ok((codes, acc.to_record(ctx)))
}

/// Flatten and decode an aggregate.
pub fn flatten_aggregate(agg: &[ContestAggregate]) -> Result<Vec<Ciphertext>, VoteError> {
    agg.iter()
        .flat_map(|c| c.ciphertexts.iter())
        .map(|w| w.decode("aggregate ciphertext"))
        .collect()
}

fn share_transcript(
    ctx: &ElectionContext,
    trustee: u32,
    slot: usize,
    ct: &Ciphertext,
) -> Transcript {
    let mut t = Transcript::new("tally/decryption-share");
    t.append_hex("election_hash", &ctx.election_hash);
    t.append_hex("joint_public_key", &ctx.public_key.bytes);
    t.append_u64("trustee", u64::from(trustee));
    t.append_u64("slot", slot as u64);
    t.append_point("alpha", &ct.alpha);
    t.append_point("beta", &ct.beta);
    t
}

/// A trustee's partial decryption of the aggregate.
pub fn partial_decrypt<R: CryptoRng + ?Sized>(
    ctx: &ElectionContext,
    secret: &TrusteeSecret,
    agg: &[ContestAggregate],
    rng: &mut R,
) -> Result<DecryptionShare, VoteError> {
    let cts = flatten_aggregate(agg)?;
    let public = secret.public();
    let shares = cts
        .iter()
        .enumerate()
        .map(|(slot, ct)| {
            let m = ct.alpha * secret.share;
            ShareWithProof {
                share: Hex32::from_point(&m),
                proof: DleqProof::prove(
                    &secret.share,
                    &public,
                    &ct.alpha,
                    &m,
                    share_transcript(ctx, secret.index, slot, ct),
                    rng,
                ),
            }
        })
        .collect();
    Ok(DecryptionShare {
        trustee: secret.index,
        shares,
    })
}

/// Verify one trustee's partial decryption against its public share `X_l`; returns the shares.
pub fn verify_decryption_share(
    ctx: &ElectionContext,
    public_share: &RistrettoPoint,
    cts: &[Ciphertext],
    d: &DecryptionShare,
) -> Result<Vec<RistrettoPoint>, VoteError> {
    if d.shares.len() != cts.len() {
        return Err(VoteError::Verification(format!(
            "trustee {}: {} shares for {} aggregate ciphertexts",
            d.trustee,
            d.shares.len(),
            cts.len()
        )));
    }
    let mut out = Vec::with_capacity(cts.len());
    for (slot, (ct, s)) in cts.iter().zip(&d.shares).enumerate() {
        let m = s.share.point("decryption share")?;
        s.proof
            .verify(
                public_share,
                &ct.alpha,
                &m,
                share_transcript(ctx, d.trustee, slot, ct),
            )
            .map_err(|_| {
                VoteError::Verification(format!(
                    "trustee {} slot {slot}: Chaum-Pedersen proof invalid",
                    d.trustee
                ))
            })?;
        out.push(m);
    }
    Ok(out)
}

/// Combine verified shares of at least `k` distinct trustees and solve the discrete logs.
pub fn combine(
    ctx: &ElectionContext,
    cts: &[Ciphertext],
    shares: &[(u32, Vec<RistrettoPoint>)],
) -> Result<Vec<u64>, VoteError> {
    let set: Vec<u32> = shares.iter().map(|(i, _)| *i).collect();
    let distinct: HashSet<u32> = set.iter().copied().collect();
    if distinct.len() != set.len() {
        return Err(VoteError::Tally(
            "duplicate trustee among decryption shares".into(),
        ));
    }
    if set.len() < ctx.threshold as usize {
        return Err(VoteError::Tally(format!(
            "{} valid decryption shares, threshold is {}",
            set.len(),
            ctx.threshold
        )));
    }
    let lambdas: Vec<Scalar> = set.iter().map(|&i| lagrange_at_zero(i, &set)).collect();
    let table = DlogTable::new(ctx.total_weight());
    cts.iter()
        .enumerate()
        .map(|(slot, ct)| {
            let mut sa = RistrettoPoint::identity();
            for ((_, s), l) in shares.iter().zip(&lambdas) {
                sa += s[slot] * l;
            }
            table.solve(&(ct.beta - sa)).ok_or_else(|| {
                VoteError::Tally(format!(
                    "slot {slot}: no discrete log within bound {}",
                    ctx.total_weight()
                ))
            })
        })
        .collect()
}

/// Shape flat counts back into per-contest results.
pub fn shape_result(ctx: &ElectionContext, counts: &[u64]) -> Vec<ContestResult> {
    let mut out = Vec::new();
    let mut off = 0;
    for c in &ctx.manifest.contests {
        let n = c.selections.len();
        out.push(ContestResult {
            contest_id: c.id.clone(),
            counts: counts[off..off + n].to_vec(),
            blank: c.allow_blank.then(|| counts[off + n]),
        });
        off += n + usize::from(c.allow_blank);
    }
    out
}

/// Run the whole tally with the trustees present (`None` = absent).
pub fn run_tally<R: CryptoRng + ?Sized>(
    ctx: &ElectionContext,
    public_shares: &[RistrettoPoint],
    entries: &[BoardEntry],
    present: &[&TrusteeSecret],
    rng: &mut R,
) -> Result<TallyRecord, VoteError> {
    let (counted, agg) = aggregate(ctx, entries)?;
    let cts = flatten_aggregate(&agg)?;
    let mut decryption_shares = Vec::new();
    let mut verified = Vec::new();
    for s in present {
        let d = partial_decrypt(ctx, s, &agg, rng)?;
        let x = public_shares
            .get(s.index as usize - 1)
            .ok_or_else(|| VoteError::Tally("unknown trustee".into()))?;
        verified.push((s.index, verify_decryption_share(ctx, x, &cts, &d)?));
        decryption_shares.push(d);
    }
    let counts = combine(ctx, &cts, &verified)?;
    let missing_trustees = (1..=ctx.trustees)
        .filter(|i| !present.iter().any(|s| s.index == *i))
        .collect();
    Ok(TallyRecord {
        counted,
        aggregate: agg,
        decryption_shares,
        missing_trustees,
        result: shape_result(ctx, &counts),
    })
}

/// `x_l·α` without a proof (exposed for property tests of threshold decryption).
#[doc(hidden)]
pub fn partial_for_tests(secret: &TrusteeSecret, alpha: &RistrettoPoint) -> RistrettoPoint {
    alpha * secret.share
}
