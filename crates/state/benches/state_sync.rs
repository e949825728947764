//! How long a node takes to sync a state of many keys (`cargo bench -p urbis-state --bench
//! state_sync`; `URBIS_SYNC_KEYS` keys, default 1,000,000).
//!
//! A source store is filled with the keys (in blocks of 10,000, 64-byte values), a target is
//! taken, and the source commits 100 more blocks over the same keys (so the log holds
//! inactive operations and the target is historical, as in a running chain). Then, timed: the
//! operation log is synced from the source and checked against the target's roots (what a
//! node gets over `POST /v1/sync/state/ops`), every value is checked against the synced store,
//! and the chain store is filled. The source answers in the same process: network transfer
//! is not included (the operations of 1M keys are ~100 MB and the values ~90 MB).

use std::sync::Arc;
use std::time::Instant;

use commonware_runtime::{Runner as _, Supervisor as _, tokio as cw_tokio};
use urbis_runtime::WriteSet;
use urbis_state::AuthState;
use urbis_state::sync::{FetchError, FetchOps, Fetcher};

type Store = Arc<futures::lock::Mutex<AuthState<cw_tokio::Context>>>;

struct Local {
    store: Store,
    offered: Vec<u64>,
}

impl FetchOps for Local {
    async fn fetch(&self, request: Vec<u8>) -> Result<Vec<u8>, FetchError> {
        let store = self.store.lock().await;
        store
            .serve_sync(&request, &self.offered)
            .await
            .map_err(|e| FetchError(e.to_string()))
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("bench/account/{i:012}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    let mut v = vec![0u8; 64];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v[8..16].copy_from_slice(&round.to_le_bytes());
    v
}

fn main() {
    let keys: u64 = std::env::var("URBIS_SYNC_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let cfg = cw_tokio::Config::new()
        .with_storage_directory(dir.path().join("store"))
        .with_worker_threads(2);
    let chain_path = dir.path().join("chain.redb");
    cw_tokio::Runner::new(cfg).start(|ctx| async move {
        let fill = Instant::now();
        let mut src = AuthState::open(ctx.child("src"), "src").await.expect("open");
        let mut height = 0;
        let mut values = Vec::with_capacity(keys as usize);
        for start in (0..keys).step_by(10_000) {
            let mut w = WriteSet::new();
            for i in start..(start + 10_000).min(keys) {
                w.insert(key(i), Some(value(i, 0)));
            }
            src.apply(height, &w).await.expect("apply");
            height += 1;
        }
        let target = src.sync_target().await.expect("target");
        src.retain_from(Some(target.lower));
        for i in 0..keys {
            values.push((key(i), value(i, 0)));
        }
        values.sort();
        for round in 1..=100u64 {
            let mut w = WriteSet::new();
            for i in (round * 7919..).step_by(9973).take(100).map(|i| i % keys) {
                w.insert(key(i), Some(value(i, round)));
            }
            src.apply(height, &w).await.expect("apply");
            height += 1;
        }
        eprintln!(
            "source: {keys} keys, log of {} operations (target from {}), filled in {:.1} s",
            target.size,
            target.lower,
            fill.elapsed().as_secs_f64()
        );
        let store: Store = Arc::new(futures::lock::Mutex::new(src));
        let source = Fetcher(Local {
            store,
            offered: vec![target.size],
        });

        let started = Instant::now();
        let synced = AuthState::sync_from(ctx.child("dst"), "dst", &target, source)
            .await
            .expect("sync");
        let ops = started.elapsed();
        synced.check_values(&values).await.expect("every value checks");
        let checked = started.elapsed();
        let chain = urbis_state::ChainStore::open(&chain_path).expect("chain store");
        let block = urbis_core::Block {
            header: urbis_core::Header {
                chain_id: "bench".into(),
                height: target.height,
                parent: urbis_core::Hash::ZERO,
                view: 0,
                timestamp_ms: 0,
                proposer: urbis_core::SecretKey::from_label("v").public_key(),
                txs_root: urbis_core::Block::compute_txs_root(&[]),
                tx_count: 0,
                state_height: target.height,
                state_root: target.root,
                receipts_acc: urbis_core::Hash::ZERO,
                validator_set: urbis_core::Hash::ZERO,
            },
            txs: vec![],
        };
        let mut genesis = block.clone();
        genesis.header.height = 0;
        chain
            .install_synced(&genesis, &block, None, target.root, urbis_core::Hash::ZERO, &values)
            .expect("install");
        let total = started.elapsed();
        println!(
            "state sync, {keys} keys: operation log {:.1} s, values checked {:.1} s, chain store {:.1} s, total {:.1} s",
            ops.as_secs_f64(),
            (checked - ops).as_secs_f64(),
            (total - checked).as_secs_f64(),
            total.as_secs_f64()
        );
    });
}
