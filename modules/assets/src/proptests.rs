//! The conservation invariants under random operations: per asset, balances plus open holds
//! equal issued minus burned, the asset's `held` equals the open holds, and no hold is closed
//! twice (holds of a module's own, and the assets module's escrow payments).

use std::collections::BTreeMap;

use proptest::prelude::*;
use urbis_accounts::testkit::{TestChain, addr, key};
use urbis_core::{Call, Hash};

use crate::testsupport::{ShopCall, city};
use crate::{AssetsCall, MODULE};

const PEOPLE: [&str; 3] = ["alice", "bob", "treasury"];

#[derive(Clone, Debug)]
enum Op {
    Issue(usize, u64),
    Transfer(usize, usize, u64),
    Burn(u64),
    Pay(usize, u64, Option<u64>),
    Deliver(usize, u64),
    Cancel(usize),
    /// Escrow payment from one person to another, with an expiry in blocks.
    Escrow(usize, usize, u64, Option<u64>),
    /// Claim (by someone) of an escrow payment.
    Claim(usize, usize),
    /// Cancellation (by someone) of an escrow payment.
    TakeBack(usize, usize),
    Wait,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..5_000u64).prop_map(|(a, n)| Op::Issue(a, n)),
        (0..3usize, 0..3usize, 0..5_000u64).prop_map(|(a, b, n)| Op::Transfer(a, b, n)),
        (0..3_000u64).prop_map(Op::Burn),
        (0..3usize, 0..4_000u64, proptest::option::of(1..4u64))
            .prop_map(|(a, n, e)| Op::Pay(a, n, e)),
        (0..8usize, 0..4_000u64).prop_map(|(h, n)| Op::Deliver(h, n)),
        (0..8usize).prop_map(Op::Cancel),
        (
            0..3usize,
            0..3usize,
            0..4_000u64,
            proptest::option::of(1..4u64)
        )
            .prop_map(|(a, b, n, e)| Op::Escrow(a, b, n, e)),
        (0..8usize, 0..3usize).prop_map(|(h, by)| Op::Claim(h, by)),
        (0..8usize, 0..3usize).prop_map(|(h, by)| Op::TakeBack(h, by)),
        Just(Op::Wait),
    ]
}

fn check(chain: &TestChain) {
    let snap = chain.snapshot();
    let asset = chain.value(MODULE, &["asset", "EURc"]);
    let balances: u64 = snap
        .iter()
        .filter(|(k, _)| k.starts_with(b"assets/balance/EURc/"))
        .map(|(_, v)| borsh::from_slice::<u64>(v).expect("u64"))
        .sum();
    let holds: u64 = snap
        .iter()
        .filter(|(k, _)| k.starts_with(b"assets/hold/"))
        .map(|(_, v)| borsh::from_slice::<crate::Hold>(v).expect("hold").amount)
        .sum();
    let issued = asset["issued"].as_u64().expect("issued");
    let burned = asset["burned"].as_u64().expect("burned");
    assert_eq!(balances + holds, issued - burned, "conservation");
    assert_eq!(asset["held"].as_u64(), Some(holds), "held = open holds");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn supply_is_conserved_and_holds_close_once(ops in proptest::collection::vec(op(), 1..40)) {
        let mut chain = city();
        let mut holds: Vec<Hash> = Vec::new();
        let mut escrows: Vec<Hash> = Vec::new();
        let mut closed: BTreeMap<Hash, usize> = BTreeMap::new();
        for op in ops {
            let receipt = match op {
                Op::Issue(to, n) => chain.send(&key("treasury"), Call::new(MODULE, &AssetsCall::Issue { symbol: "EURc".into(), to: addr(PEOPLE[to]), amount: n })),
                Op::Transfer(a, b, n) => chain.send(&key(PEOPLE[a]), Call::new(MODULE, &AssetsCall::Transfer { symbol: "EURc".into(), to: addr(PEOPLE[b]), amount: n })),
                Op::Burn(n) => chain.send(&key("treasury"), Call::new(MODULE, &AssetsCall::Burn { symbol: "EURc".into(), amount: n })),
                Op::Pay(a, n, e) => {
                    let expires_ms = e.map(|b| chain.next_env().timestamp_ms + b * 1_000);
                    let r = chain.send(&key(PEOPLE[a]), Call::new("shop", &ShopCall::Pay { amount: n, expires_ms }));
                    if r.success {
                        let id = r.events.iter().find(|e| e.kind == "held").and_then(|e| e.attr("hold")).expect("hold id");
                        holds.push(id.parse().expect("hash"));
                    }
                    r
                }
                Op::Deliver(h, n) if !holds.is_empty() => {
                    let id = holds[h % holds.len()];
                    let r = chain.send(&key("bob"), Call::new("shop", &ShopCall::Deliver { hold: id, payouts: vec![(addr("bob"), n)] }));
                    if r.success { *closed.entry(id).or_default() += 1; }
                    r
                }
                Op::Cancel(h) if !holds.is_empty() => {
                    let id = holds[h % holds.len()];
                    let r = chain.send(&key("alice"), Call::new("shop", &ShopCall::Cancel { hold: id }));
                    if r.success { *closed.entry(id).or_default() += 1; }
                    r
                }
                Op::Escrow(a, b, n, e) => {
                    let expires_ms = e.map(|b| chain.next_env().timestamp_ms + b * 1_000);
                    let call = AssetsCall::Escrow { symbol: "EURc".into(), to: addr(PEOPLE[b]), amount: n, expires_ms };
                    let r = chain.send(&key(PEOPLE[a]), Call::new(MODULE, &call));
                    if r.success {
                        let id = r.events.iter().find(|e| e.kind == "escrowed").and_then(|e| e.attr("hold")).expect("hold id");
                        escrows.push(id.parse().expect("hash"));
                    }
                    r
                }
                Op::Claim(h, by) if !escrows.is_empty() => {
                    let id = escrows[h % escrows.len()];
                    let r = chain.send(&key(PEOPLE[by]), Call::new(MODULE, &AssetsCall::Claim { hold: id }));
                    if r.success { *closed.entry(id).or_default() += 1; }
                    r
                }
                Op::TakeBack(h, by) if !escrows.is_empty() => {
                    let id = escrows[h % escrows.len()];
                    let r = chain.send(&key(PEOPLE[by]), Call::new(MODULE, &AssetsCall::Cancel { hold: id }));
                    if r.success { *closed.entry(id).or_default() += 1; }
                    r
                }
                _ => {
                    chain.block(&[]);
                    check(&chain);
                    continue;
                }
            };
            let _ = receipt;
            check(&chain);
        }
        prop_assert!(closed.values().all(|n| *n == 1), "a hold closed twice: {closed:?}");
    }
}
