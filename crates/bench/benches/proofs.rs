//! State proofs: `AuthState::prove` (inclusion and exclusion) on a 10,000-key state, and
//! `verify_state_proof`; a record head's proof checked and its head decoded (the records
//! issue's target: at most 20 µs).

use std::time::{Duration, Instant};

use commonware_runtime::{Runner as _, Supervisor as _, deterministic};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use urbis_runtime::WriteSet;
use urbis_state::{AuthState, StateProof, verify_state_proof};

const KEYS: usize = 10_000;

fn key(i: usize) -> Vec<u8> {
    format!("rewards/holder/urbis1bench{i:08}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    vec![(i % 251) as u8; 64]
}

/// A health record's head, as the records module stores it.
fn record_head() -> (Vec<u8>, Vec<u8>) {
    let id = urbis_core::Hash([0x5e; 32]);
    let head = urbis_records::Head {
        id,
        kind: urbis_records::Kind::Health,
        subject: urbis_core::Hash([0xa1; 32]),
        custodian: urbis_core::Address([0x11; 20]),
        version: 3,
        content_hash: urbis_core::Hash([1; 32]),
        ciphertext_hash: urbis_core::Hash([2; 32]),
        size: 48_213,
        locator: format!("urbis-blob:{}", urbis_core::Hash([2; 32])),
        erased: false,
        created_ms: 1_780_000_000_000,
        updated_ms: 1_780_100_000_000,
    };
    (
        urbis_records::keys::head(&id),
        borsh::to_vec(&head).expect("encodes"),
    )
}

fn writes() -> WriteSet {
    let mut w: WriteSet = (0..KEYS).map(|i| (key(i), Some(value(i)))).collect();
    let (k, v) = record_head();
    w.insert(k, Some(v));
    w
}

/// Run `f` against a fresh 10k-key state; `f` returns how long its timed part took.
fn with_state<F, Fut>(f: F) -> Duration
where
    F: FnOnce(AuthState<deterministic::Context>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Duration> + Send,
{
    deterministic::Runner::seeded(1).start(|ctx| async move {
        let mut s = AuthState::open(ctx.child("state"), "bench")
            .await
            .expect("open");
        s.apply(0, &writes()).await.expect("apply");
        f(s).await
    })
}

fn proofs(c: &mut Criterion) {
    let mut g = c.benchmark_group("proofs");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("prove_inclusion", |b| {
        b.iter_custom(|iters| {
            with_state(move |s| async move {
                let start = Instant::now();
                for i in 0..iters {
                    let i = i as usize % KEYS;
                    black_box(s.prove(&key(i), Some(&value(i))).await.expect("prove"));
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("prove_exclusion", |b| {
        b.iter_custom(|iters| {
            with_state(move |s| async move {
                let start = Instant::now();
                for i in 0..iters {
                    let k = format!("rewards/holder/absent{i}").into_bytes();
                    black_box(s.prove(&k, None).await.expect("prove"));
                }
                start.elapsed()
            })
        })
    });

    // Proofs to verify, made once.
    let (tx, rx) = std::sync::mpsc::channel::<(StateProof, StateProof, StateProof)>();
    with_state(move |s| async move {
        let inc = s
            .prove(&key(4242), Some(&value(4242)))
            .await
            .expect("prove");
        let exc = s
            .prove(b"rewards/holder/absent", None)
            .await
            .expect("prove");
        let (k, v) = record_head();
        let head = s.prove(&k, Some(&v)).await.expect("prove");
        tx.send((inc, exc, head)).expect("send");
        Duration::ZERO
    });
    let (inclusion, exclusion, head) = rx.recv().expect("proofs");
    verify_state_proof(&head).expect("the record head's proof verifies");
    verify_state_proof(&inclusion).expect("inclusion verifies");
    verify_state_proof(&exclusion).expect("exclusion verifies");
    g.bench_function("verify_inclusion", |b| {
        b.iter(|| verify_state_proof(black_box(&inclusion)).expect("verifies"))
    });
    g.bench_function("verify_exclusion", |b| {
        b.iter(|| verify_state_proof(black_box(&exclusion)).expect("verifies"))
    });
    g.bench_function("verify_record_head", |b| {
        b.iter(|| {
            let p = black_box(&head);
            verify_state_proof(p).expect("verifies");
            let value = p.value.as_deref().expect("inclusion");
            black_box(
                urbis_runtime::decode_value::<urbis_records::Head>(&p.key, value).expect("a head"),
            )
        })
    });
    g.finish();
    eprintln!(
        "proof sizes: inclusion {} bytes, exclusion {} bytes",
        inclusion.proof.len(),
        exclusion.proof.len()
    );
}

criterion_group!(benches, proofs);
criterion_main!(benches);
