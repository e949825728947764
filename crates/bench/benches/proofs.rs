//! State proofs: `AuthState::prove` (inclusion and exclusion) on a 10,000-key state, and
//! `verify_state_proof`.

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

fn writes() -> WriteSet {
    (0..KEYS).map(|i| (key(i), Some(value(i)))).collect()
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
    let (tx, rx) = std::sync::mpsc::channel::<(StateProof, StateProof)>();
    with_state(move |s| async move {
        let inc = s
            .prove(&key(4242), Some(&value(4242)))
            .await
            .expect("prove");
        let exc = s
            .prove(b"rewards/holder/absent", None)
            .await
            .expect("prove");
        tx.send((inc, exc)).expect("send");
        Duration::ZERO
    });
    let (inclusion, exclusion) = rx.recv().expect("proofs");
    verify_state_proof(&inclusion).expect("inclusion verifies");
    verify_state_proof(&exclusion).expect("exclusion verifies");
    g.bench_function("verify_inclusion", |b| {
        b.iter(|| verify_state_proof(black_box(&inclusion)).expect("verifies"))
    });
    g.bench_function("verify_exclusion", |b| {
        b.iter(|| verify_state_proof(black_box(&exclusion)).expect("verifies"))
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
