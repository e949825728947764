//! Property test: random blocks of awards, transfers and redemptions among a few citizens never
//! break the supply invariant, the budgets or the per-period caps.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;
use urbis_accounts::testkit::{TestChain, addr, key};
use urbis_core::{Call, ErrorCode, Receipt};

use crate::{MODULE, RewardsCall, awarded_of, holdings_of, program_of, supply_of};

/// Holders: three citizens, then a non-citizen and the merchant.
const HOLDERS: [&str; 5] = ["c0", "c1", "c2", "carol", "shop"];
/// Program ids 1 and 2 exist; 3 does not.
const PROGRAMS: [u64; 2] = [1, 2];

#[derive(Clone, Debug)]
enum Op {
    Award {
        program: u64,
        to: usize,
        amount: u64,
    },
    Transfer {
        from: usize,
        to: usize,
        program: u64,
        amount: u64,
    },
    Redeem {
        from: usize,
        program: u64,
        amount: u64,
    },
}

impl Op {
    fn signer(&self) -> &'static str {
        match self {
            Op::Award { .. } => "dept",
            Op::Transfer { from, .. } | Op::Redeem { from, .. } => HOLDERS[*from],
        }
    }

    fn call(&self) -> Call {
        let call = match *self {
            Op::Award {
                program,
                to,
                amount,
            } => RewardsCall::Award {
                program,
                to: addr(HOLDERS[to]),
                amount,
                reason: "prop".into(),
            },
            Op::Transfer {
                to,
                program,
                amount,
                ..
            } => RewardsCall::Transfer {
                to: addr(HOLDERS[to]),
                program,
                amount,
            },
            Op::Redeem {
                program, amount, ..
            } => RewardsCall::Redeem {
                merchant: addr("shop"),
                program,
                amount,
                item: "thing".into(),
            },
        };
        Call::new(MODULE, &call)
    }
}

/// Mostly existing programs, sometimes the missing one.
fn program() -> impl Strategy<Value = u64> {
    prop_oneof![4 => Just(1u64), 4 => Just(2u64), 1 => Just(3u64)]
}

/// Mostly positive amounts up to `max`, sometimes zero.
fn amount(max: u64) -> impl Strategy<Value = u64> {
    prop_oneof![1 => Just(0u64), 9 => 1..=max]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (program(), 0..4usize, amount(50))
            .prop_map(|(program, to, amount)| Op::Award { program, to, amount }),
        2 => (0..3usize, 0..5usize, program(), amount(30))
            .prop_map(|(from, to, program, amount)| Op::Transfer { from, to, program, amount }),
        2 => (0..3usize, program(), amount(30))
            .prop_map(|(from, program, amount)| Op::Redeem { from, program, amount }),
    ]
}

/// A block: how many empty blocks' worth of time to skip first, then its operations.
fn blocks() -> impl Strategy<Value = Vec<(u64, Vec<Op>)>> {
    proptest::collection::vec((0u64..4, proptest::collection::vec(op(), 1..5)), 1..30)
}

fn chain() -> TestChain {
    let accounts = json!({ "accounts": [
        { "address": addr("dept"), "roles": ["department"] },
        { "address": addr("shop"), "roles": ["merchant"] },
        { "address": addr("c0"), "roles": ["citizen"] },
        { "address": addr("c1"), "roles": ["citizen"] },
        { "address": addr("c2"), "roles": ["citizen"] },
    ]});
    // Small budgets and short periods (in 1-second blocks) so that limits are hit often.
    let rewards = json!({ "programs": [
        { "name": "Bottles", "category": "recycling", "budget": 200,
          "cap_per_period": 60, "period_ms": 5000, "transferable": false },
        { "name": "Bus", "category": "public_transport", "budget": 120,
          "cap_per_period": 40, "period_ms": 3000, "transferable": true },
    ]});
    TestChain::new(
        vec![urbis_accounts::module(), crate::module()],
        &[(urbis_accounts::MODULE, accounts), (MODULE, rewards)],
    )
}

/// Awarded amounts per (program, holder, period), rebuilt from `awarded` events.
type AwardModel = BTreeMap<(u64, String, u64), u64>;

fn record_awards(model: &mut AwardModel, receipts: &[Receipt]) {
    for event in receipts.iter().flat_map(|r| &r.events) {
        if event.kind != "awarded" {
            continue;
        }
        let num = |k: &str| event.attr(k).and_then(|v| v.parse::<u64>().ok()).expect(k);
        let to = event.attr("to").expect("to").to_string();
        *model
            .entry((num("program"), to, num("period")))
            .or_default() += num("amount");
    }
}

fn check_receipts(receipts: &[Receipt]) -> Result<(), TestCaseError> {
    use ErrorCode::*;
    for receipt in receipts {
        if let Some(error) = &receipt.error {
            let expected = [
                InvalidArgument,
                NotFound,
                InsufficientBalance,
                OverBudget,
                OverCap,
                NonTransferable,
            ];
            prop_assert!(
                expected.contains(&error.code),
                "unexpected failure {error:?}"
            );
        }
        for event in &receipt.events {
            prop_assert!(
                !(event.kind == "transferred" && event.attr("program") == Some("1")),
                "a non-transferable program moved"
            );
        }
    }
    Ok(())
}

fn check_state(chain: &TestChain, awards: &AwardModel) -> Result<(), TestCaseError> {
    let view = chain.view();
    let supply = supply_of(view)?;
    let (mut minted, mut burned, mut held) = (0u64, 0u64, 0u64);
    for id in PROGRAMS {
        let program = program_of(view, id)?.expect("program exists");
        prop_assert!(program.minted <= program.budget, "program {id} over budget");
        let balances: u64 = HOLDERS
            .iter()
            .map(|h| holdings_of(view, &addr(h)).map(|hs| hs.balance(id)))
            .sum::<Result<u64, _>>()?;
        prop_assert_eq!(balances, program.minted - program.burned, "program {}", id);
        minted += program.minted;
        burned += program.burned;
        held += balances;
    }
    prop_assert_eq!(supply.minted, minted);
    prop_assert_eq!(supply.burned, burned);
    prop_assert_eq!(held, supply.minted - supply.burned);
    for ((program, to, period), amount) in awards {
        let cap = program_of(view, *program)?.expect("exists").cap_per_period;
        prop_assert!(*amount <= cap, "cap broken for {to} in period {period}");
        let stored = awarded_of(view, *program, &to.parse().expect("address"), *period)?;
        prop_assert_eq!(stored, *amount);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn supply_budget_and_caps_hold(blocks in blocks()) {
        let mut chain = chain();
        let mut awards = AwardModel::new();
        for (skip, ops) in blocks {
            chain.skip_blocks(skip);
            let keys: Vec<_> = ops.iter().map(|op| key(op.signer())).collect();
            let calls: Vec<_> = keys.iter().zip(&ops).map(|(k, op)| (k, op.call())).collect();
            let receipts = chain.block_of(&calls);
            check_receipts(&receipts)?;
            record_awards(&mut awards, &receipts);
            check_state(&chain, &awards)?;
        }
    }
}
