//! Mobility's offline work, on one core: a position proof's batch-and-path check (a batch of 60
//! fixes under an anchor of 10,000 batches: one Ed25519 verification, the batch's hash and a
//! 14-step path; the target for a position proof is 100 µs), and an operator's Merkle
//! tree over 10,000 vehicles' batches of a minute.

use criterion::{Criterion, criterion_group, criterion_main};
use urbis_core::{Address, Hash, SecretKey, merkle_path, merkle_root};
use urbis_mobility::telemetry::{Batch, BatchInclusion, Point, check_position};
use urbis_mobility::{Anchor, Vehicle, VehicleClass};

const VEHICLES: usize = 10_000;

fn batches() -> (Vec<SecretKey>, Vec<Batch>) {
    let units: Vec<SecretKey> = (0..VEHICLES)
        .map(|i| SecretKey::from_label(&format!("bench-unit-{i}")))
        .collect();
    let batches = units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let points = (0..60u64)
                .map(|k| Point {
                    t_ms: 1_000_000 + k * 1_000,
                    lat_e7: 485_000_000 + i as i32,
                    lon_e7: 23_000_000 + k as i32,
                    speed_cm_s: 800,
                })
                .collect();
            Batch::sign(u, Hash([i as u8; 32]), 7, points)
        })
        .collect();
    (units, batches)
}

fn bench(c: &mut Criterion) {
    let (units, batches) = batches();
    let leaves: Vec<Hash> = batches.iter().map(Batch::leaf).collect();
    let root = merkle_root(&leaves);
    let i = VEHICLES / 2;
    let operator = Address([1; 20]);
    let vehicle = Vehicle {
        id: batches[i].vehicle,
        number: i as u32,
        operator,
        class: VehicleClass::Bus,
        unit_did: "did:urbis:0000000000000000000000000000000000000000".into(),
        unit_key: units[i].public_key(),
        registered_ms: 0,
        anchored_until_ms: 0,
        gaps: 0,
        retired_ms: None,
    };
    let anchor = Anchor {
        operator,
        seq: 1,
        root,
        batches: VEHICLES as u32,
        from_ms: 1_000_000,
        to_ms: 1_060_000,
        vehicles: VEHICLES as u32,
        vehicles_hash: Hash::ZERO,
        height: 1,
        anchored_ms: 1_060_000,
    };
    let inclusion = BatchInclusion {
        batch: batches[i].clone(),
        index: i as u32,
        path: merkle_path(&leaves, i).expect("a path"),
    };
    check_position(&vehicle, &anchor, &inclusion, 1_030_500).expect("the proof holds");
    c.bench_function("mobility/position_check_60_fixes_10k_tree", |b| {
        b.iter(|| check_position(&vehicle, &anchor, &inclusion, 1_030_500))
    });
    let mut g = c.benchmark_group("mobility");
    g.sample_size(10);
    g.bench_function("anchor_tree_10k_batches", |b| {
        b.iter(|| merkle_root(&batches.iter().map(Batch::leaf).collect::<Vec<_>>()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
