//! Decoding and stateless checking (size, chain id, `verify_strict` signature) of one signed
//! transaction, as the API does for every submission.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use urbis_core::{Call, SecretKey, SignedTx};
use urbis_rewards::RewardsCall;

const CHAIN: &str = "urbis-bench";

fn chain() -> urbis_core::ChainRef {
    urbis_core::ChainRef::new(CHAIN, urbis_core::Hash([9; 32]))
}

fn tx_verify(c: &mut Criterion) {
    let key = SecretKey::from_label("bench/sender");
    let call = RewardsCall::Award {
        program: 1,
        to: SecretKey::from_label("bench/citizen").address(),
        amount: 3,
        reason: "bench".into(),
    };
    let tx = SignedTx::new(&chain(), &key, 7, Call::new(urbis_rewards::MODULE, &call));
    let bytes = tx.encode();

    let mut g = c.benchmark_group("tx");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode", |b| {
        b.iter(|| SignedTx::decode(black_box(&bytes)).expect("decodes"))
    });
    g.bench_function("decode_verify", |b| {
        b.iter(|| {
            let tx = SignedTx::decode(black_box(&bytes)).expect("decodes");
            tx.check_stateless(&chain()).expect("valid");
            tx
        })
    });
    g.bench_function("hash", |b| b.iter(|| black_box(&tx).hash()));
    g.finish();
}

criterion_group!(benches, tx_verify);
criterion_main!(benches);
