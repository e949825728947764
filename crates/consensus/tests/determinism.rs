#![allow(clippy::unwrap_used)]
//! Two fresh nodes fed the same finalized blocks reach the same state root at every height,
//! through the real executor (runtime + QMDB + chain store).

use std::collections::BTreeMap;
use std::sync::Arc;

use commonware_runtime::{Runner as _, Supervisor as _, deterministic};
use proptest::prelude::*;
use urbis_accounts::{AccountsCall, Role};
use urbis_consensus::{MempoolConfig, Shared, executor};
use urbis_core::{Block, Call, ChainRef, Hash, Header, SecretKey, SignedTx};
use urbis_rewards::{Category, RewardsCall};
use urbis_runtime::{Genesis, GenesisValidator};
use urbis_state::ChainStore;

const CHAIN: &str = "det-test";

fn genesis() -> Genesis {
    let admin = SecretKey::from_label("admin").address();
    let mut modules = BTreeMap::new();
    modules.insert(
        "accounts".to_string(),
        serde_json::json!({"accounts": [{"address": admin, "roles": ["city_admin"]}]}),
    );
    Genesis {
        epoch_length: None,
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_000,
        validators: vec![GenesisValidator {
            name: "v".into(),
            public_key: SecretKey::from_label("validator").public_key(),
            address: String::new(),
        }],
        modules,
    }
}

/// A scripted workload: setup, then random awards/transfers/redeems (some of which fail).
fn workload(ops: &[(u8, u8, u8, u16)]) -> Vec<Vec<SignedTx>> {
    let admin = SecretKey::from_label("admin");
    let dept = SecretKey::from_label("dept");
    let shop = SecretKey::from_label("shop");
    let citizens: Vec<SecretKey> = (0..3)
        .map(|i| SecretKey::from_label(&format!("c{i}")))
        .collect();
    let mut nonces: BTreeMap<String, u64> = BTreeMap::new();
    let mut tx = |key: &SecretKey, label: &str, call: Call| {
        let n = nonces.entry(label.to_string()).or_default();
        let t = SignedTx::new(&ChainRef::new(CHAIN, Hash::ZERO), key, *n, call);
        *n += 1;
        t
    };
    let mut setup = vec![
        tx(
            &admin,
            "admin",
            Call::new(
                "accounts",
                &AccountsCall::GrantRole {
                    account: dept.address(),
                    role: Role::Department,
                },
            ),
        ),
        tx(
            &admin,
            "admin",
            Call::new(
                "accounts",
                &AccountsCall::GrantRole {
                    account: shop.address(),
                    role: Role::Merchant,
                },
            ),
        ),
        tx(
            &admin,
            "admin",
            Call::new(
                "rewards",
                &RewardsCall::CreateProgram {
                    name: "recycling".into(),
                    category: Category::Recycling,
                    budget: 5_000,
                    cap_per_period: 700,
                    period_ms: 10_000,
                    transferable: true,
                },
            ),
        ),
    ];
    for (i, c) in citizens.iter().enumerate() {
        let _ = i;
        setup.push(tx(
            &admin,
            "admin",
            Call::new(
                "accounts",
                &AccountsCall::GrantRole {
                    account: c.address(),
                    role: Role::Citizen,
                },
            ),
        ));
    }
    let mut blocks = vec![setup];
    for chunk in ops.chunks(4) {
        let mut txs = Vec::new();
        for &(kind, a, b, amount) in chunk {
            let from = &citizens[a as usize % 3];
            let to = citizens[b as usize % 3].address();
            let amount = u64::from(amount % 400);
            let label = format!("c{}", a % 3);
            let t = match kind % 3 {
                0 => tx(
                    &dept,
                    "dept",
                    Call::new(
                        "rewards",
                        &RewardsCall::Award {
                            program: 1,
                            to,
                            amount,
                            reason: "bin".into(),
                        },
                    ),
                ),
                1 => tx(
                    from,
                    &label,
                    Call::new(
                        "rewards",
                        &RewardsCall::Transfer {
                            to,
                            program: 1,
                            amount,
                        },
                    ),
                ),
                _ => tx(
                    from,
                    &label,
                    Call::new(
                        "rewards",
                        &RewardsCall::Redeem {
                            merchant: shop.address(),
                            program: 1,
                            amount,
                            item: "coffee".into(),
                        },
                    ),
                ),
            };
            txs.push(t);
        }
        blocks.push(txs);
    }
    blocks
}

/// Execute `blocks` on a fresh node; return the state root after each height.
fn run_node(seed: u64, blocks: Vec<Vec<SignedTx>>) -> Vec<Hash> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.redb");
    deterministic::Runner::seeded(seed).start(|ctx| async move {
        let chain = Arc::new(ChainStore::open(&path).expect("chain store"));
        let runtime = urbis_registry::runtime(CHAIN);
        let shared = Shared::open(
            ctx.child("state"),
            "",
            chain,
            genesis(),
            runtime,
            MempoolConfig::default(),
        )
        .await
        .expect("open");
        let mut roots = vec![shared.chain.state_root(0).unwrap().unwrap()];
        let mut parent = shared.genesis_block.clone();
        for (i, txs) in blocks.into_iter().enumerate() {
            let height = i as u64 + 1;
            let block = Block {
                header: Header {
                    chain_id: CHAIN.into(),
                    height,
                    parent: parent.digest(),
                    view: height,
                    // Blocks 7 s apart: awards cross cap periods.
                    timestamp_ms: 1_000 + height * 7_000,
                    proposer: SecretKey::from_label("validator").public_key(),
                    txs_root: Block::compute_txs_root(&txs),
                    tx_count: txs.len() as u32,
                    state_height: height - 1,
                    state_root: *roots.last().unwrap(),
                    receipts_acc: Hash::ZERO,
                    validator_set: shared.genesis_block.header.validator_set,
                },
                txs,
            };
            executor::execute(&ctx, &shared, &block, None)
                .await
                .expect("execute");
            roots.push(shared.chain.state_root(height).unwrap().unwrap());
            parent = block;
        }
        roots
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn same_blocks_same_roots(ops in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<u16>()), 0..40)) {
        let blocks = workload(&ops);
        // Different runtime seeds: nothing random may leak into state.
        let a = run_node(1, blocks.clone());
        let b = run_node(2, blocks);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn different_blocks_different_roots() {
    let a = run_node(1, workload(&[(0, 0, 0, 5)]));
    let b = run_node(1, workload(&[(0, 0, 0, 6)]));
    assert_eq!(a[..2], b[..2], "identical prefix");
    assert_ne!(a.last(), b.last());
}
