//! The energy market's clearing: 100,000 orders (half bids, half asks, prices spread around a
//! crossing) over 50 feeders, ten of which have an export or import limit that binds, on one
//! core. The target: at most 250 ms.

use criterion::{Criterion, criterion_group, criterion_main};
use urbis_energy::clearing::{Limit, Order, Side, clear};

const ORDERS: u64 = 100_000;
const FEEDERS: u32 = 50;

/// A deterministic book: a linear congruential generator, no randomness.
fn book() -> (Vec<Order>, Vec<Limit>) {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x >> 33
    };
    let orders = (0..ORDERS)
        .map(|id| {
            let feeder = (next() % u64::from(FEEDERS)) as u32;
            // Sunny feeders (0–9) sell more, dense ones (40–49) buy more.
            let sell_bias = if feeder < 10 {
                70
            } else if feeder >= 40 {
                30
            } else {
                50
            };
            let side = if next() % 100 < sell_bias {
                Side::Sell
            } else {
                Side::Buy
            };
            let qty = 100 + next() % 1_400;
            let price = match side {
                Side::Sell => 5 + next() % 30,
                Side::Buy => 15 + next() % 30,
            };
            Order {
                id,
                feeder,
                side,
                qty,
                price,
            }
        })
        .collect();
    let limits = (0..FEEDERS)
        .map(|feeder| Limit {
            feeder,
            max_export_wh: if feeder < 10 { 50_000 } else { 5_000_000 },
            max_import_wh: if feeder >= 40 { 50_000 } else { 5_000_000 },
        })
        .collect();
    (orders, limits)
}

fn bench(c: &mut Criterion) {
    let (orders, limits) = book();
    let out = clear(&orders, &limits);
    assert!(out.volume_wh > 0);
    assert!(
        out.zones.iter().any(|z| z.binding.is_some()),
        "a limit binds"
    );
    let mut g = c.benchmark_group("energy");
    g.sample_size(20);
    g.bench_function("clear 100k orders over 50 feeders", |b| {
        b.iter(|| clear(&orders, &limits))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
