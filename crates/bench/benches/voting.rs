//! The voting module on a block of 1,000 yes/no ballots of an open election (2-of-3 trustees,
//! 1,000 listed credentials): the validators' precheck of the block (proofs and signatures,
//! on all cores), its execution when this node checked the ballots already (the usual case:
//! at the door or while verifying the proposal), and its execution from cold.

#![allow(clippy::unwrap_used)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;
use urbis_accounts::testkit::{CHAIN, OPEN_CALLS_PER_BLOCK, TestChain, addr, key};
use urbis_core::{Call, SecretKey, SignedTx};
use urbis_runtime::{BlockEnv, MemState, Runtime};
use urbis_votecrypto::ballot::{PlaintextBallot, PlaintextContest, encrypt_ballot};
use urbis_votecrypto::context::ElectionContext;
use urbis_votecrypto::dkg::{CeremonyRecord, Trustee};
use urbis_votecrypto::encoding::Hex32;
use urbis_votecrypto::manifest::Credential;

const BALLOTS: usize = 1_000;

fn runtime() -> Runtime {
    Runtime::new(
        CHAIN,
        vec![urbis_accounts::module(), urbis_voting::module()],
    )
    .with_gate(urbis_accounts::gate(OPEN_CALLS_PER_BLOCK))
}

fn call(chain: &TestChain, v: serde_json::Value) -> Call {
    chain
        .runtime
        .call_from_json(urbis_voting::MODULE, &v)
        .expect("matches the schema")
}

/// An open election with `BALLOTS` credentials; one cast transaction per credential.
fn setup() -> (TestChain, Vec<SignedTx>) {
    let mut accounts = vec![json!({"address": addr("office"), "roles": ["department"]})];
    for t in ["registrar", "t1", "t2", "t3"] {
        accounts.push(json!({"address": addr(t), "roles": ["department"]}));
    }
    let mut chain = TestChain::new(
        vec![urbis_accounts::module(), urbis_voting::module()],
        &[(urbis_accounts::MODULE, json!({"accounts": accounts}))],
    );
    let manifest = urbis_votecrypto::referendum_manifest();
    let now = chain.next_env().timestamp_ms;
    let r = chain.ok(
        &key("office"),
        call(
            &chain,
            json!({"call": "create", "manifest": serde_json::to_string(&manifest).unwrap(),
                   "trustees": [addr("t1"), addr("t2"), addr("t3")], "threshold": 2,
                   "registrar": addr("registrar"), "eligibility": "bench",
                   "ceremony_ends_ms": now + 3_600_000, "opens_ms": now + 7_200_000,
                   "closes_ms": now + 86_400_000}),
        ),
    );
    let id = r.events[0].attr("id").expect("an id").to_string();
    let mut rng = rand::rng();
    let mut trustees = Vec::new();
    let mut anns = Vec::new();
    for i in 1..=3u32 {
        let (t, a) = Trustee::new(i, 3, 2, manifest.hash(), &mut rng).expect("a trustee");
        chain.ok(
            &key(&format!("t{i}")),
            call(
                &chain,
                json!({"call": "announce", "election": id, "announcement": serde_json::to_string(&a).unwrap()}),
            ),
        );
        trustees.push(t);
        anns.push(a);
    }
    for (i, t) in trustees.iter().enumerate() {
        let shares = t.deal(&anns).expect("deals");
        chain.ok(
            &key(&format!("t{}", i + 1)),
            call(
                &chain,
                json!({"call": "deal", "election": id, "shares": serde_json::to_string(&shares).unwrap()}),
            ),
        );
    }
    for i in 1..=3 {
        chain.ok(
            &key(&format!("t{i}")),
            call(
                &chain,
                json!({"call": "complain", "election": id, "complaints": "[]"}),
            ),
        );
    }
    let voters: Vec<SecretKey> = (0..BALLOTS)
        .map(|i| SecretKey::from_label(&format!("bench-voter-{i}")))
        .collect();
    let mut credentials: Vec<Credential> = voters
        .iter()
        .map(|v| Credential {
            public_key: Hex32(v.public_key().raw().try_into().expect("32 bytes")),
            weight: 1,
            style: "all".into(),
        })
        .collect();
    for chunk in credentials.chunks(400) {
        chain.ok(
            &key("registrar"),
            call(
                &chain,
                json!({"call": "register", "election": id, "credentials": serde_json::to_string(chunk).unwrap()}),
            ),
        );
    }
    chain.ok(
        &key("registrar"),
        call(
            &chain,
            json!({"call": "commit", "election": id, "count": BALLOTS}),
        ),
    );
    chain.ok(
        &key("office"),
        call(&chain, json!({"call": "open", "election": id})),
    );
    let ceremony: CeremonyRecord =
        serde_json::from_value(chain.value(urbis_voting::MODULE, &["ceremony", &id]))
            .expect("a ceremony record");
    credentials.sort_by_key(|c| c.public_key.0);
    let ctx = ElectionContext::new(manifest, &ceremony, credentials).expect("a context");
    let txs = voters
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let yes = i % 2 == 0;
            let plain = PlaintextBallot {
                contests: vec![PlaintextContest {
                    contest_id: "referendum".into(),
                    selected: vec![yes, !yes],
                    blank: false,
                }],
            };
            let device = ed25519_dalek::SigningKey::from_bytes(v.seed());
            let (b, _) = encrypt_ballot(&ctx, &device, &plain, 1, &mut rng).expect("encrypts");
            chain.tx(
                v,
                call(
                    &chain,
                    json!({"call": "cast", "election": id, "ballot": serde_json::to_string(&b).unwrap()}),
                ),
            )
        })
        .collect();
    (chain, txs)
}

fn fresh_state(chain: &TestChain) -> MemState {
    let state = MemState::default();
    let writes = chain
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect();
    state.apply(&writes);
    state
}

fn bench(c: &mut Criterion) {
    let (chain, txs) = setup();
    let env: BlockEnv = chain.next_env();
    let mut g = c.benchmark_group("voting");
    g.sample_size(10);
    g.bench_function("precheck_1000_ballots", |b| {
        b.iter_batched(
            runtime,
            |rt| {
                let r = rt.precheck_many(chain.view(), &txs);
                assert!(r.iter().all(Result::is_ok));
            },
            BatchSize::PerIteration,
        )
    });
    let warm = runtime();
    assert!(
        warm.precheck_many(chain.view(), &txs)
            .iter()
            .all(Result::is_ok)
    );
    g.bench_function("execute_1000_checked_ballots", |b| {
        b.iter_batched(
            || fresh_state(&chain),
            |state| {
                let out = warm.execute_block(&state, &env, &txs).expect("executes");
                assert!(out.receipts.iter().all(|r| r.success));
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("execute_1000_unchecked_ballots", |b| {
        b.iter_batched(
            || (fresh_state(&chain), runtime()),
            |(state, rt)| {
                let out = rt.execute_block(&state, &env, &txs).expect("executes");
                assert!(out.receipts.iter().all(|r| r.success));
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
