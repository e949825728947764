//! The independent verifier: re-checks an [`ElectionRecord`] from the record alone.

use std::collections::{HashMap, HashSet};
use std::fmt;

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::ballot::{
    BallotStatus, chain_genesis, check_ballot_structure, check_reveal, confirmation_code,
    verify_ballot_proofs, verify_signature_on_hash,
};
use crate::context::{ElectionContext, election_hash};
use crate::dkg::evaluate_ceremony;
use crate::encoding::Hex32;
use crate::group::Ciphertext;
use crate::record::{ElectionRecord, RECORD_VERSION};
use crate::tally::{
    Accumulator, combine, counted_indices, flatten_aggregate, shape_result, verify_decryption_share,
};

/// Outcome of one named check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// All checks in order, and the first failure `(check name, reason)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub checks: Vec<CheckResult>,
    pub first_failure: Option<(String, String)>,
}

impl VerifyReport {
    /// True when every check passed.
    pub fn is_ok(&self) -> bool {
        self.first_failure.is_none()
    }

    fn push(&mut self, name: &str, r: Result<String, String>) -> bool {
        let (passed, detail) = match r {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        if !passed && self.first_failure.is_none() {
            self.first_failure = Some((name.to_string(), detail.clone()));
        }
        self.checks.push(CheckResult {
            name: name.to_string(),
            passed,
            detail,
        });
        passed
    }

    fn skip(&mut self, names: &[&str], because: &str) {
        for n in names {
            self.push(n, Err(format!("not checked: {because} failed")));
        }
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(
                f,
                "[{}] {}: {}",
                if c.passed { " ok " } else { "FAIL" },
                c.name,
                c.detail
            )?;
        }
        match &self.first_failure {
            None => write!(
                f,
                "election record verified: all {} checks passed",
                self.checks.len()
            ),
            Some((n, d)) => write!(f, "election record REJECTED: first failed check {n}: {d}"),
        }
    }
}

/// Names of all checks, in the order they are reported.
pub const CHECK_NAMES: &[&str] = &[
    "record.version",
    "manifest",
    "credentials",
    "ceremony",
    "election.hash",
    "ballots.credentials",
    "ballots.proofs",
    "ballots.signatures",
    "ballots.chain",
    "ballots.replay",
    "ballots.anchor",
    "ballots.spoiled",
    "tally.replacement",
    "tally.aggregate",
    "tally.decryption_shares",
    "tally.threshold",
    "tally.result",
];

#[derive(Default)]
struct BallotOutcome {
    structure: Option<String>,
    proofs: Option<String>,
    signature: Option<String>,
    hash: Hex32,
}

/// Verify a record using all available cores.
pub fn verify_record(record: &ElectionRecord) -> VerifyReport {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    verify_record_with_threads(record, threads)
}

/// Verify a record using `threads` worker threads for the per-ballot checks.
pub fn verify_record_with_threads(record: &ElectionRecord, threads: usize) -> VerifyReport {
    let mut rep = VerifyReport::default();
    rep.push(
        "record.version",
        if record.version == RECORD_VERSION {
            Ok(format!("version {RECORD_VERSION}"))
        } else {
            Err(format!(
                "unsupported version {:?}, expected {RECORD_VERSION:?}",
                record.version
            ))
        },
    );
    let manifest_ok = rep.push(
        "manifest",
        record
            .manifest
            .validate()
            .map(|_| {
                format!(
                    "{} contests, {} ballot styles",
                    record.manifest.contests.len(),
                    record.manifest.ballot_styles.len()
                )
            })
            .map_err(|e| e.to_string()),
    );
    if !manifest_ok {
        rep.skip(&CHECK_NAMES[2..], "manifest");
        return rep;
    }
    let creds_ok = rep.push(
        "credentials",
        crate::manifest::index_credentials(&record.manifest, &record.credentials)
            .map(|_| format!("{} credentials", record.credentials.len()))
            .map_err(|e| e.to_string()),
    );
    let manifest_hash = record.manifest.hash();
    let c = &record.ceremony;
    let outcome = evaluate_ceremony(
        &manifest_hash,
        c.trustees,
        c.threshold,
        &c.announcements,
        &c.encrypted_shares,
        &c.complaints,
    );
    let ceremony_ok = rep.push(
        "ceremony",
        match &outcome {
            Err(e) => Err(e.to_string()),
            Ok(o) => {
                let dq: Vec<u32> = o.disqualified.keys().copied().collect();
                let shares_match = c.public_shares.len() == o.public_shares.len()
                    && c
                        .public_shares
                        .iter()
                        .zip(&o.public_shares)
                        .enumerate()
                        .all(|(l, (r, p))| r.index == l as u32 + 1 && r.key == Hex32::from_point(p));
                if dq != c.disqualified {
                    Err(format!("disqualified trustees should be {dq:?}, record says {:?}", c.disqualified))
                } else if Hex32::from_point(&o.joint_public_key) != c.joint_public_key {
                    Err("joint public key is not the sum of the qualified dealers' constant commitments".into())
                } else if !shares_match {
                    Err("trustee public shares do not match the Feldman commitments".into())
                } else {
                    Ok(format!(
                        "{}-of-{}: all announcements and proofs checked, {} complaint(s), disqualified {:?}",
                        c.threshold,
                        c.trustees,
                        c.complaints.len(),
                        dq
                    ))
                }
            }
        },
    );
    if !(creds_ok && ceremony_ok) {
        rep.skip(
            &CHECK_NAMES[4..],
            if creds_ok { "ceremony" } else { "credentials" },
        );
        return rep;
    }
    let expected_hash = election_hash(&manifest_hash, c, &record.credentials);
    rep.push(
        "election.hash",
        if expected_hash == record.election_hash {
            Ok(format!("{expected_hash}"))
        } else {
            Err(format!(
                "record says {}, recomputed {expected_hash}",
                record.election_hash
            ))
        },
    );
    let ctx = match ElectionContext::new(record.manifest.clone(), c, record.credentials.clone()) {
        Ok(ctx) => ctx,
        Err(e) => {
            rep.skip(&CHECK_NAMES[5..], &format!("context ({e})"));
            return rep;
        }
    };
    let Ok(outcome) = outcome else {
        return rep;
    };
    verify_ballots_and_tally(
        &mut rep,
        record,
        &ctx,
        &outcome.public_shares,
        threads.max(1),
    );
    rep
}

fn first_error(
    outcomes: &[BallotOutcome],
    f: impl Fn(&BallotOutcome) -> &Option<String>,
) -> Option<(usize, String)> {
    outcomes
        .iter()
        .enumerate()
        .find_map(|(i, o)| f(o).as_ref().map(|e| (i, e.clone())))
}

fn verify_ballots_and_tally(
    rep: &mut VerifyReport,
    record: &ElectionRecord,
    ctx: &ElectionContext,
    public_shares: &[RistrettoPoint],
    threads: usize,
) {
    let entries = &record.ballots;
    let counted = counted_indices(entries);
    let mut is_counted = vec![false; entries.len()];
    for &i in &counted {
        is_counted[i] = true;
    }
    // Per-ballot checks and aggregation of the ballots the replacement rule counts, in parallel.
    let chunk = entries.len().div_ceil(threads).max(1);
    let mut outcomes: Vec<BallotOutcome> = Vec::with_capacity(entries.len());
    let mut acc = Accumulator::new(ctx);
    std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .enumerate()
            .map(|(ci, part)| {
                let is_counted = &is_counted;
                s.spawn(move || {
                    let mut acc = Accumulator::new(ctx);
                    let mut outs = Vec::with_capacity(part.len());
                    for (j, e) in part.iter().enumerate() {
                        let mut o = BallotOutcome::default();
                        let b = &e.ballot;
                        o.hash = crate::ballot::ballot_hash(&ctx.election_hash, b);
                        if let Err(err) = check_ballot_structure(ctx, b) {
                            o.structure = Some(err.to_string());
                        } else {
                            match verify_ballot_proofs(ctx, b) {
                                Err(err) => o.proofs = Some(err.to_string()),
                                Ok(cts) => {
                                    if is_counted[ci * chunk + j] {
                                        let ids: Vec<&str> = b
                                            .contests
                                            .iter()
                                            .map(|c| c.contest_id.as_str())
                                            .collect();
                                        let w =
                                            ctx.credential(&b.credential).map_or(0, |c| c.weight);
                                        acc.add(&ids, &cts, w);
                                    }
                                }
                            }
                            if let Err(err) = verify_signature_on_hash(b, &o.hash, e.status) {
                                o.signature = Some(err.to_string());
                            }
                        }
                        outs.push(o);
                    }
                    (outs, acc)
                })
            })
            .collect();
        for (ci, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok((outs, a)) => {
                    outcomes.extend(outs);
                    acc.merge(&a);
                }
                Err(_) => {
                    // Keep one outcome per entry so later checks stay aligned.
                    let len = chunk.min(entries.len() - ci * chunk);
                    outcomes.extend((0..len).map(|_| BallotOutcome {
                        structure: Some("verifier thread panicked".into()),
                        ..Default::default()
                    }));
                }
            }
        }
    });
    let n = entries.len();
    let describe = |i: usize| {
        entries.get(i).map_or_else(
            || format!("ballot #{i}"),
            |e| format!("ballot #{i} (code {})", e.confirmation_code),
        )
    };
    rep.push(
        "ballots.credentials",
        match first_error(&outcomes, |o| &o.structure) {
            Some((i, e)) => Err(format!("{}: {e}", describe(i))),
            None => Ok(format!(
                "{n} ballots from listed credentials, matching their ballot styles"
            )),
        },
    );
    rep.push(
        "ballots.proofs",
        match first_error(&outcomes, |o| &o.proofs) {
            Some((i, e)) => Err(format!("{}: {e}", describe(i))),
            None => Ok(format!(
                "{n} ballots: every 0/1 and contest-sum proof valid"
            )),
        },
    );
    rep.push(
        "ballots.signatures",
        match first_error(&outcomes, |o| &o.signature) {
            Some((i, e)) => Err(format!("{}: {e}", describe(i))),
            None => Ok(format!("{n} credential signatures valid")),
        },
    );
    // Confirmation-code chain.
    let chain = (|| {
        let mut prev = chain_genesis(&ctx.election_hash);
        for (i, (e, o)) in entries.iter().zip(&outcomes).enumerate() {
            if e.previous_code != prev {
                return Err(format!(
                    "{}: previous_code {} does not continue the chain (expected {prev}): a ballot was dropped, inserted or reordered",
                    describe(i),
                    e.previous_code
                ));
            }
            let code = confirmation_code(&prev, &o.hash, &e.ballot.signature, e.status);
            if code != e.confirmation_code {
                return Err(format!(
                    "{}: confirmation code does not match the ballot (recomputed {code})",
                    describe(i)
                ));
            }
            prev = code;
        }
        if prev != record.chain_head {
            return Err(format!(
                "chain head {} differs from the last confirmation code {prev}: ballots were dropped at the end",
                record.chain_head
            ));
        }
        Ok(format!("{n} confirmation codes chained, head {prev}"))
    })();
    rep.push("ballots.chain", chain);
    // Replays: a ballot appears at most once, and each credential's sequence numbers rise
    // along the board (a superseded ballot cannot come back after a re-vote).
    let replay = (|| {
        let mut seen: HashSet<Hex32> = HashSet::new();
        let mut last: HashMap<Hex32, u64> = HashMap::new();
        for (i, (e, o)) in entries.iter().zip(&outcomes).enumerate() {
            if !seen.insert(o.hash) {
                return Err(format!(
                    "{}: ballot {} appears twice on the board",
                    describe(i),
                    o.hash
                ));
            }
            let prev = last
                .insert(e.ballot.credential, e.ballot.sequence)
                .unwrap_or(0);
            if e.ballot.sequence <= prev {
                return Err(format!(
                    "{}: sequence {} of credential {} does not follow its sequence {prev}",
                    describe(i),
                    e.ballot.sequence,
                    e.ballot.credential
                ));
            }
        }
        Ok(format!(
            "{n} ballots, each once; every credential's sequence numbers rise"
        ))
    })();
    rep.push("ballots.replay", replay);
    // The board as certified on chain: its head and length must be what the entries chain to,
    // so that no entry can be dropped, inserted or changed even with the codes recomputed.
    let anchor = match &record.anchor {
        None => Ok("no anchor: the record does not say which board a chain certified".to_string()),
        Some(a) => {
            let head = entries.last().map_or_else(
                || chain_genesis(&ctx.election_hash),
                |e| e.confirmation_code,
            );
            if a.entries != n as u64 || a.head != head || a.head != record.chain_head {
                Err(format!(
                    "the certified board has {} entries and head {}; the record has {n} entries and head {head}: entries were dropped, inserted or changed",
                    a.entries, a.head
                ))
            } else {
                Ok(format!("{n} entries and head {head}, as certified"))
            }
        }
    };
    rep.push("ballots.anchor", anchor);
    // Spoiled ballots: Benaloh reveals.
    let spoiled = (|| {
        let mut count = 0;
        for (i, e) in entries.iter().enumerate() {
            match (e.status, &e.reveal) {
                (BallotStatus::Cast, None) => {}
                (BallotStatus::Cast, Some(_)) => {
                    return Err(format!("{}: cast ballot carries a reveal", describe(i)));
                }
                (BallotStatus::Spoiled, None) => {
                    return Err(format!("{}: spoiled ballot without reveal", describe(i)));
                }
                (BallotStatus::Spoiled, Some(r)) => {
                    check_reveal(ctx, &e.ballot, r)
                        .map_err(|err| format!("{}: {err}", describe(i)))?;
                    count += 1;
                }
            }
        }
        Ok(format!("{count} spoiled ballots opened and checked"))
    })();
    rep.push("ballots.spoiled", spoiled);
    // Replacement rule.
    let replacement = (|| {
        let by_code: HashMap<Hex32, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.confirmation_code, i))
            .collect();
        let mut seen = HashSet::new();
        for code in &record.tally.counted {
            let &i = by_code
                .get(code)
                .ok_or_else(|| format!("counted ballot {code} is not on the board"))?;
            let e = &entries[i];
            if !seen.insert(e.ballot.credential) {
                return Err(format!(
                    "credential {} counted twice (ballot {code})",
                    e.ballot.credential
                ));
            }
            if e.status != BallotStatus::Cast {
                return Err(format!("spoiled ballot {code} counted"));
            }
            if !is_counted[i] {
                return Err(format!(
                    "ballot {code} of credential {} was replaced by a later ballot but counted",
                    e.ballot.credential
                ));
            }
        }
        if let Some(&i) = counted
            .iter()
            .find(|&&i| !seen.contains(&entries[i].ballot.credential))
        {
            return Err(format!(
                "{}: last ballot of credential {} not counted",
                describe(i),
                entries[i].ballot.credential
            ));
        }
        let expected: Vec<Hex32> = counted
            .iter()
            .map(|&i| entries[i].confirmation_code)
            .collect();
        if expected != record.tally.counted {
            return Err("counted ballots are not listed in board order".into());
        }
        Ok(format!(
            "{} ballots counted (last cast ballot of each credential), {} replaced, {} spoiled",
            counted.len(),
            entries
                .iter()
                .filter(|e| e.status == BallotStatus::Cast)
                .count()
                - counted.len(),
            entries
                .iter()
                .filter(|e| e.status == BallotStatus::Spoiled)
                .count()
        ))
    })();
    rep.push("tally.replacement", replacement);
    let agg = acc.to_record(ctx);
    rep.push(
        "tally.aggregate",
        if agg == record.tally.aggregate {
            Ok(format!(
                "{} encrypted totals recomputed with weights",
                acc.slots.len()
            ))
        } else {
            let which = agg
                .iter()
                .zip(&record.tally.aggregate)
                .find(|(a, b)| a != b)
                .map_or_else(
                    || "shape differs".to_string(),
                    |(a, _)| format!("contest {:?} differs", a.contest_id),
                );
            Err(format!(
                "recorded aggregate does not equal the weighted sum of counted ballots: {which}"
            ))
        },
    );
    let cts: Vec<Ciphertext> = match flatten_aggregate(&record.tally.aggregate) {
        Ok(c) if c.len() == acc.slots.len() => c,
        _ => acc.slots.clone(),
    };
    // Partial decryptions.
    let mut valid: Vec<(u32, Vec<RistrettoPoint>)> = Vec::new();
    let shares_check = (|| {
        let mut seen = HashSet::new();
        for d in &record.tally.decryption_shares {
            if d.trustee == 0 || d.trustee > ctx.trustees || !seen.insert(d.trustee) {
                return Err(format!(
                    "decryption share from invalid or duplicate trustee {}",
                    d.trustee
                ));
            }
            let x = &public_shares[d.trustee as usize - 1];
            let m = verify_decryption_share(ctx, x, &cts, d).map_err(|e| e.to_string())?;
            valid.push((d.trustee, m));
        }
        Ok(format!(
            "{} trustees' partial decryptions and Chaum-Pedersen proofs valid",
            valid.len()
        ))
    })();
    rep.push("tally.decryption_shares", shares_check);
    let present: HashSet<u32> = record
        .tally
        .decryption_shares
        .iter()
        .map(|d| d.trustee)
        .collect();
    let missing: Vec<u32> = (1..=ctx.trustees)
        .filter(|i| !present.contains(i))
        .collect();
    rep.push(
        "tally.threshold",
        if valid.len() < ctx.threshold as usize {
            Err(format!(
                "{} valid decryption shares, threshold is {}",
                valid.len(),
                ctx.threshold
            ))
        } else if missing != record.tally.missing_trustees {
            Err(format!(
                "missing trustees are {missing:?}, record says {:?}",
                record.tally.missing_trustees
            ))
        } else {
            Ok(format!(
                "{} of {} trustees decrypted (threshold {}), missing {missing:?}",
                valid.len(),
                ctx.trustees,
                ctx.threshold
            ))
        },
    );
    let result = match combine(ctx, &cts, &valid) {
        Err(e) => Err(e.to_string()),
        Ok(counts) => {
            let expected = shape_result(ctx, &counts);
            if expected == record.tally.result {
                Ok(format!(
                    "result matches the threshold decryption of the aggregate ({} counts)",
                    counts.len()
                ))
            } else {
                let which = expected
                    .iter()
                    .zip(&record.tally.result)
                    .find(|(a, b)| a != b)
                    .map_or_else(
                        || "result has the wrong shape".to_string(),
                        |(a, b)| {
                            format!(
                                "contest {:?}: record says {}, decryption gives {}",
                                a.contest_id,
                                show_counts(b),
                                show_counts(a)
                            )
                        },
                    );
                Err(which)
            }
        }
    };
    rep.push("tally.result", result);
}

fn show_counts(r: &crate::tally::ContestResult) -> String {
    match r.blank {
        Some(b) => format!("{:?} (blank {b})", r.counts),
        None => format!("{:?}", r.counts),
    }
}
