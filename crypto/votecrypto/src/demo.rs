//! A complete simulated election (ceremony, ballots with re-votes and spoils, an absent
//! trustee, tally), used by `urbis election demo` and by the tests.

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{CryptoRng, Rng, RngExt, SeedableRng};

use crate::VoteError;
use crate::ballot::{
    BallotBox, BallotStatus, PlaintextBallot, PlaintextContest, encrypt_ballot, sign_ballot,
};
use crate::context::ElectionContext;
use crate::dkg::{TrusteeSecret, run_ceremony};
use crate::encoding::Hex32;
use crate::manifest::{BallotStyle, Contest, Credential, Manifest, Selection};
use crate::record::{ElectionRecord, RECORD_VERSION};
use crate::tally::{ContestResult, run_tally};

/// Parameters of the simulated election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoOptions {
    /// Number of voters (each casts one ballot; some also re-vote or spoil).
    pub ballots: usize,
    pub trustees: u32,
    pub threshold: u32,
    /// Deterministic run when set.
    pub seed: Option<u64>,
    /// Use the single-contest yes/no referendum manifest instead of the multi-contest one.
    pub referendum: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            ballots: 100,
            trustees: 5,
            threshold: 3,
            seed: None,
            referendum: false,
        }
    }
}

fn sel(ids: &[&str]) -> Vec<Selection> {
    ids.iter()
        .map(|id| Selection {
            id: (*id).to_string(),
            name: id.replace('-', " "),
        })
        .collect()
}

/// The demo's multi-contest manifest.
pub fn demo_manifest() -> Manifest {
    Manifest {
        election_id: "urbis-demo-2026".into(),
        name: "Urbis city demo election".into(),
        contests: vec![
            Contest {
                id: "tram-extension".into(),
                name: "Extend the tram line to the harbour?".into(),
                selections: sel(&["yes", "no"]),
                min_selections: 1,
                max_selections: 1,
                allow_blank: true,
            },
            Contest {
                id: "council".into(),
                name: "District council (up to 3)".into(),
                selections: sel(&["ada", "bruno", "chiara", "dmitri", "eun-ji"]),
                min_selections: 1,
                max_selections: 3,
                allow_blank: false,
            },
            Contest {
                id: "budget".into(),
                name: "Participatory budget (1 or 2 projects)".into(),
                selections: sel(&["park", "library", "bike-lanes", "solar-roofs"]),
                min_selections: 1,
                max_selections: 2,
                allow_blank: true,
            },
        ],
        ballot_styles: vec![
            BallotStyle {
                id: "resident".into(),
                contests: vec!["tram-extension".into(), "council".into(), "budget".into()],
            },
            BallotStyle {
                id: "visitor".into(),
                contests: vec!["tram-extension".into(), "budget".into()],
            },
        ],
    }
}

/// A single yes/no referendum manifest.
pub fn referendum_manifest() -> Manifest {
    Manifest {
        election_id: "urbis-referendum-2026".into(),
        name: "Urbis referendum".into(),
        contests: vec![Contest {
            id: "referendum".into(),
            name: "Adopt the new mobility plan?".into(),
            selections: sel(&["yes", "no"]),
            min_selections: 1,
            max_selections: 1,
            allow_blank: false,
        }],
        ballot_styles: vec![BallotStyle {
            id: "all".into(),
            contests: vec!["referendum".into()],
        }],
    }
}

/// A random valid vote for the contests of a style.
pub fn random_vote<R: Rng + ?Sized>(
    manifest: &Manifest,
    style: &str,
    rng: &mut R,
) -> PlaintextBallot {
    let style = manifest
        .style(style)
        .map(|s| s.contests.clone())
        .unwrap_or_default();
    let contests = style
        .iter()
        .filter_map(|cid| manifest.contest(cid))
        .map(|c| {
            let n = c.selections.len();
            let mut selected = vec![false; n];
            let blank = c.allow_blank && rng.random_range(0..10u32) == 0;
            if !blank {
                let lo = c.min_selections as usize;
                let hi = c.max_selections as usize;
                let k = rng.random_range(lo..=hi);
                let mut chosen = 0;
                while chosen < k {
                    let i = rng.random_range(0..n);
                    if !selected[i] {
                        selected[i] = true;
                        chosen += 1;
                    }
                }
            }
            PlaintextContest {
                contest_id: c.id.clone(),
                selected,
                blank,
            }
        })
        .collect();
    PlaintextBallot { contests }
}

fn add_expected(manifest: &Manifest, exp: &mut [ContestResult], vote: &PlaintextBallot, w: u64) {
    for pc in &vote.contests {
        if let Some(r) = exp.iter_mut().find(|r| r.contest_id == pc.contest_id) {
            for (cnt, s) in r.counts.iter_mut().zip(&pc.selected) {
                *cnt += w * u64::from(*s);
            }
            if let Some(b) = r.blank.as_mut() {
                *b += w * u64::from(pc.blank);
            }
        }
    }
    let _ = manifest;
}

/// Run a complete simulated election and return its record.
pub fn demo(opts: DemoOptions) -> Result<ElectionRecord, VoteError> {
    demo_with_secrets(opts).map(|(r, _)| r)
}

/// Like [`demo`], also returning the trustees' key shares (for tests).
pub fn demo_with_secrets(
    opts: DemoOptions,
) -> Result<(ElectionRecord, Vec<TrusteeSecret>), VoteError> {
    let mut rng: StdRng = match opts.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => rand::make_rng(),
    };
    run_demo(&opts, &mut rng)
}

fn run_demo<R: CryptoRng>(
    opts: &DemoOptions,
    rng: &mut R,
) -> Result<(ElectionRecord, Vec<TrusteeSecret>), VoteError> {
    if opts.ballots == 0 {
        return Err(VoteError::Parameter(
            "at least one ballot is required".into(),
        ));
    }
    let manifest = if opts.referendum {
        referendum_manifest()
    } else {
        demo_manifest()
    };
    manifest.validate()?;
    let manifest_hash = manifest.hash();
    let (ceremony, secrets) = run_ceremony(manifest_hash, opts.trustees, opts.threshold, rng)?;

    // Credentials: one per voter; every 7th has weight 2, every 4th (multi-contest) is a visitor.
    let mut voters = Vec::with_capacity(opts.ballots);
    let mut credentials = Vec::with_capacity(opts.ballots);
    for i in 0..opts.ballots {
        let key = SigningKey::generate(rng);
        let style = if opts.referendum {
            "all"
        } else if i % 4 == 3 {
            "visitor"
        } else {
            "resident"
        };
        credentials.push(Credential {
            public_key: Hex32(key.verifying_key().to_bytes()),
            weight: if !opts.referendum && i % 7 == 6 { 2 } else { 1 },
            style: style.into(),
        });
        voters.push(key);
    }
    let ctx = ElectionContext::new(manifest.clone(), &ceremony, credentials.clone())?;
    let mut board = BallotBox::new(&ctx);
    let mut expected: Vec<ContestResult> = manifest
        .contests
        .iter()
        .map(|c| ContestResult {
            contest_id: c.id.clone(),
            counts: vec![0; c.selections.len()],
            blank: c.allow_blank.then_some(0),
        })
        .collect();
    let mut finals: Vec<Option<PlaintextBallot>> = vec![None; voters.len()];
    let vote_once =
        |i: usize, board: &mut BallotBox<'_>, rng: &mut R| -> Result<PlaintextBallot, VoteError> {
            let v = random_vote(&manifest, &credentials[i].style, rng);
            let seq = board.next_sequence(&credentials[i].public_key);
            let (b, _) = encrypt_ballot(&ctx, &voters[i], &v, seq, rng)?;
            board.cast(b)?;
            Ok(v)
        };
    for i in 0..voters.len() {
        // Every 50th voter challenges a ballot first (Benaloh) and spoils it.
        if opts.ballots > 1 && i % 50 == 10 {
            let v = random_vote(&manifest, &credentials[i].style, rng);
            let seq = board.next_sequence(&credentials[i].public_key);
            let (mut b, reveal) = encrypt_ballot(&ctx, &voters[i], &v, seq, rng)?;
            sign_ballot(
                &ctx.election_hash,
                &voters[i],
                &mut b,
                BallotStatus::Spoiled,
            );
            board.spoil(b, reveal)?;
        }
        finals[i] = Some(vote_once(i, &mut board, rng)?);
    }
    // Every 10th voter re-votes later; the later ballot replaces the earlier one.
    for i in (3..voters.len()).step_by(10) {
        finals[i] = Some(vote_once(i, &mut board, rng)?);
    }
    for (i, f) in finals.iter().enumerate() {
        if let Some(v) = f {
            add_expected(&manifest, &mut expected, v, credentials[i].weight);
        }
    }
    // The last trustee is absent when the threshold allows it.
    let present: Vec<&TrusteeSecret> = if opts.trustees > opts.threshold {
        secrets
            .iter()
            .filter(|s| s.index != opts.trustees)
            .collect()
    } else {
        secrets.iter().collect()
    };
    let public_shares = ceremony
        .public_shares
        .iter()
        .map(|p| p.key.point("public share"))
        .collect::<Result<Vec<_>, _>>()?;
    let (ballots, chain_head) = board.into_entries();
    let tally = run_tally(&ctx, &public_shares, &ballots, &present, rng)?;
    if tally.result != expected {
        return Err(VoteError::Tally(
            "decrypted result differs from the simulated votes".into(),
        ));
    }
    let record = ElectionRecord {
        version: RECORD_VERSION.into(),
        anchor: None,
        election_hash: ctx.election_hash,
        manifest,
        ceremony,
        credentials,
        ballots,
        chain_head,
        tally,
    };
    drop(ctx);
    Ok((record, secrets))
}
