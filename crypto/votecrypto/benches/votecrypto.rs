//! Criterion benchmarks: ballot encryption+proofs and verification (yes/no and 5×5),
//! aggregation, threshold decryption. Run: `cargo bench -p urbis-votecrypto --bench votecrypto`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use rand::SeedableRng;
use rand::rngs::StdRng;
use urbis_votecrypto::ballot::{
    BallotBox, BallotStatus, BoardEntry, check_ballot_structure, encrypt_ballot,
    verify_ballot_proofs, verify_ballot_signature,
};
use urbis_votecrypto::context::ElectionContext;
use urbis_votecrypto::dkg::{TrusteeSecret, run_ceremony};
use urbis_votecrypto::encoding::Hex32;
use urbis_votecrypto::manifest::{BallotStyle, Contest, Credential, Manifest, Selection};
use urbis_votecrypto::tally::{
    aggregate, combine, flatten_aggregate, partial_decrypt, verify_decryption_share,
};
use urbis_votecrypto::{random_vote, referendum_manifest};

fn five_by_five() -> Manifest {
    Manifest {
        election_id: "bench-5x5".into(),
        name: "5 contests x 5 selections".into(),
        contests: (0..5)
            .map(|c| Contest {
                id: format!("c{c}"),
                name: format!("contest {c}"),
                selections: (0..5)
                    .map(|s| Selection {
                        id: format!("s{s}"),
                        name: format!("selection {s}"),
                    })
                    .collect(),
                min_selections: 1,
                max_selections: 3,
                allow_blank: false,
            })
            .collect(),
        ballot_styles: vec![BallotStyle {
            id: "all".into(),
            contests: (0..5).map(|c| format!("c{c}")).collect(),
        }],
    }
}

struct Setup {
    ctx: ElectionContext,
    voters: Vec<SigningKey>,
    secrets: Vec<TrusteeSecret>,
    public_shares: Vec<curve25519_dalek::RistrettoPoint>,
}

fn setup(manifest: Manifest, voters: usize) -> Setup {
    let mut rng = StdRng::seed_from_u64(1);
    let (ceremony, secrets) = run_ceremony(manifest.hash(), 5, 3, &mut rng).unwrap();
    let voters: Vec<SigningKey> = (0..voters)
        .map(|_| SigningKey::generate(&mut rng))
        .collect();
    let style = manifest.ballot_styles[0].id.clone();
    let creds = voters
        .iter()
        .map(|k| Credential {
            public_key: Hex32(k.verifying_key().to_bytes()),
            weight: 1,
            style: style.clone(),
        })
        .collect();
    let public_shares = ceremony
        .public_shares
        .iter()
        .map(|p| p.key.point("X").unwrap())
        .collect();
    Setup {
        ctx: ElectionContext::new(manifest, &ceremony, creds).unwrap(),
        voters,
        secrets,
        public_shares,
    }
}

fn ballots(s: &Setup, n: usize) -> Vec<BoardEntry> {
    let mut rng = StdRng::seed_from_u64(2);
    let mut board = BallotBox::new(&s.ctx);
    let style = s.ctx.manifest.ballot_styles[0].id.clone();
    for v in s.voters.iter().take(n) {
        let vote = random_vote(&s.ctx.manifest, &style, &mut rng);
        board
            .cast(encrypt_ballot(&s.ctx, v, &vote, 1, &mut rng).unwrap().0)
            .unwrap();
    }
    board.into_entries().0
}

fn bench_ballots(c: &mut Criterion) {
    for (name, manifest) in [("yes/no", referendum_manifest()), ("5x5", five_by_five())] {
        let s = setup(manifest, 1);
        let mut rng = StdRng::seed_from_u64(3);
        let vote = random_vote(
            &s.ctx.manifest,
            &s.ctx.manifest.ballot_styles[0].id,
            &mut rng,
        );
        c.bench_function(&format!("{name} ballot: encrypt+prove+sign"), |b| {
            b.iter(|| encrypt_ballot(&s.ctx, &s.voters[0], black_box(&vote), 1, &mut rng).unwrap())
        });
        let (ballot, _) = encrypt_ballot(&s.ctx, &s.voters[0], &vote, 1, &mut rng).unwrap();
        c.bench_function(&format!("{name} ballot: verify proofs+signature"), |b| {
            b.iter(|| {
                check_ballot_structure(&s.ctx, black_box(&ballot)).unwrap();
                verify_ballot_proofs(&s.ctx, &ballot).unwrap();
                verify_ballot_signature(&s.ctx, &ballot, BallotStatus::Cast).unwrap()
            })
        });
    }
}

fn bench_tally(c: &mut Criterion) {
    let s = setup(five_by_five(), 1000);
    let entries = ballots(&s, 1000);
    let mut g = c.benchmark_group("tally");
    g.sample_size(10);
    g.bench_function("aggregate 1000 5x5 ballots (decode+add)", |b| {
        b.iter(|| aggregate(&s.ctx, black_box(&entries)).unwrap())
    });
    let (_, agg) = aggregate(&s.ctx, &entries).unwrap();
    let cts = flatten_aggregate(&agg).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    g.bench_function(
        "partial decryption of 25 totals (1 trustee, with proofs)",
        |b| b.iter(|| partial_decrypt(&s.ctx, &s.secrets[0], black_box(&agg), &mut rng).unwrap()),
    );
    let shares: Vec<_> = s.secrets[..3]
        .iter()
        .map(|t| partial_decrypt(&s.ctx, t, &agg, &mut rng).unwrap())
        .collect();
    g.bench_function(
        "verify 3 partial decryptions + combine + BSGS (25 totals)",
        |b| {
            b.iter(|| {
                let verified: Vec<_> = shares
                    .iter()
                    .map(|d| {
                        (
                            d.trustee,
                            verify_decryption_share(
                                &s.ctx,
                                &s.public_shares[d.trustee as usize - 1],
                                &cts,
                                d,
                            )
                            .unwrap(),
                        )
                    })
                    .collect();
                combine(&s.ctx, &cts, &verified).unwrap()
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench_ballots, bench_tally);
criterion_main!(benches);
