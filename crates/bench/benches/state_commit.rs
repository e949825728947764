//! `AuthState::apply`: one QMDB batch + merkleize + durable commit of 10,000 updated keys, on
//! disk (Commonware's tokio runtime, a temporary storage directory).

use std::time::{Duration, Instant};

use commonware_runtime::{Runner as _, Supervisor as _, tokio as cw_tokio};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use urbis_runtime::WriteSet;
use urbis_state::AuthState;

const KEYS: usize = 10_000;

/// 10,000 keys shaped like module state (`rewards/holder/…`), values ~64 bytes, versioned.
fn writes(version: u64) -> WriteSet {
    (0..KEYS)
        .map(|i| {
            let key = format!("rewards/holder/urbis1bench{i:08}").into_bytes();
            let mut value = version.to_le_bytes().to_vec();
            value.extend_from_slice(&[(i % 251) as u8; 56]);
            (key, Some(value))
        })
        .collect()
}

fn state_commit(c: &mut Criterion) {
    let batches: Vec<WriteSet> = (1..=4).map(writes).collect();
    let mut g = c.benchmark_group("state_commit");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(KEYS as u64));
    g.bench_function("apply_10k_updates", |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().expect("temp dir");
            let cfg = cw_tokio::Config::new()
                .with_storage_directory(dir.path().join("store"))
                .with_worker_threads(2);
            let batches = batches.clone();
            cw_tokio::Runner::new(cfg).start(|ctx| async move {
                let mut s = AuthState::open(ctx.child("state"), "bench")
                    .await
                    .expect("open");
                // Insert every key first (not timed), so the timed batches are updates.
                s.apply(0, &writes(0)).await.expect("insert");
                let start = Instant::now();
                for h in 1..=iters {
                    let w = &batches[(h as usize) % batches.len()];
                    s.apply(h, w).await.expect("apply");
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, state_commit);
criterion_main!(benches);
