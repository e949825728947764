//! `Runtime::execute_block` of 10,000 transactions (accounts + rewards modules) on an in-memory
//! state: all awards, the `urbis bench` mix (60% awards, 30% transfers, 10% redemptions), and
//! 10,000 workflow transitions (governance module: one step each of 10,000 running
//! processes, taken by department officials), bare and issuing a permit on entering the state.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use urbis_accounts::Role;
use urbis_assets::AssetsCall;
use urbis_bench::workload::{self, Accounts, Kind};
use urbis_core::{Call, SecretKey, SignedTx};
use urbis_rewards::{Category, RewardsCall};
use urbis_runtime::{BlockEnv, MemState, Runtime};

const CHAIN: &str = "urbis-bench";

fn chain() -> urbis_core::ChainRef {
    urbis_core::ChainRef::new(CHAIN, urbis_core::Hash([9; 32]))
}
const TXS: usize = 10_000;

fn env(height: u64) -> BlockEnv {
    BlockEnv {
        chain_id: CHAIN.into(),
        height,
        timestamp_ms: 1_700_000_000_000 + height * 100,
        proposer: None,
    }
}

fn run_block(rt: &Runtime, state: &MemState, height: u64, txs: &[SignedTx]) {
    let out = rt
        .execute_block(state, &env(height), txs)
        .expect("block executes");
    if let Some(bad) = out.receipts.iter().find(|r| !r.success) {
        panic!("set-up transaction failed: {:?}", bad.error);
    }
    state.apply(&out.writes);
}

/// A state with the bench's accounts and a funded program; returns it with the accounts, the
/// program id and every sender's next nonce.
fn prepared() -> (Runtime, MemState, Accounts, workload::Targets, Vec<u64>) {
    let rt = urbis_node::runtime(CHAIN);
    let state = MemState::default();
    let validator = SecretKey::from_label("bench/validator");
    let admin = SecretKey::from_label("bench/admin");
    let mut genesis = urbis_node::dev::dev_genesis(&validator, &admin, 0);
    genesis.chain_id = CHAIN.into();
    state.apply(&rt.genesis(&state, &genesis).expect("genesis"));

    let acc = Accounts::new("bench", 32, 1000, 4);
    let mut calls: Vec<Call> = Vec::new();
    calls.extend(
        acc.departments
            .iter()
            .map(|k| workload::grant(k.address(), Role::Department)),
    );
    calls.extend(
        acc.merchants
            .iter()
            .map(|k| workload::grant(k.address(), Role::Merchant)),
    );
    calls.extend(
        acc.citizens
            .iter()
            .map(|k| workload::grant(k.address(), Role::Citizen)),
    );
    calls.push(Call::new(
        urbis_rewards::MODULE,
        &RewardsCall::CreateProgram {
            name: "bench".into(),
            category: Category::Other,
            budget: u64::MAX / 4,
            cap_per_period: u64::MAX / 4,
            period_ms: 86_400_000,
            transferable: true,
        },
    ));
    calls.push(Call::new(
        urbis_assets::MODULE,
        &AssetsCall::CreateAsset {
            symbol: "BENCH".into(),
            name: "bench".into(),
            decimals: 2,
        },
    ));
    calls.extend(acc.citizens.iter().map(|c| {
        Call::new(
            urbis_assets::MODULE,
            &AssetsCall::Issue {
                symbol: "BENCH".into(),
                to: c.address(),
                amount: 1_000_000,
            },
        )
    }));
    let txs: Vec<SignedTx> = calls
        .into_iter()
        .enumerate()
        .map(|(i, c)| SignedTx::new(&chain(), &admin, i as u64, c))
        .collect();
    run_block(&rt, &state, 1, &txs);
    let program = workload::Targets {
        program: 1,
        asset: "BENCH".into(),
        escrow_expires_ms: u64::MAX / 2,
        mix: workload::Mix::CITY,
    };

    let d = acc.departments.len();
    let mut nonces = vec![0u64; acc.sender_count()];
    let funding: Vec<SignedTx> = acc
        .citizens
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let call = RewardsCall::Award {
                program: program.program,
                to: c.address(),
                amount: 1_000_000,
                reason: "funding".into(),
            };
            let nonce = nonces[i % d];
            nonces[i % d] += 1;
            SignedTx::new(
                &chain(),
                &acc.departments[i % d],
                nonce,
                Call::new(urbis_rewards::MODULE, &call),
            )
        })
        .collect();
    run_block(&rt, &state, 2, &funding);
    (rt, state, acc, program, nonces)
}

/// A three-state workflow defined, 10,000 processes started by the citizens (set-up, applied
/// to `state`); returns one `act` per process (its first step), by the departments, with
/// `nonces` the departments' next nonces. With `permit`, entering the step's state issues a
/// permit (a transition that runs an action, not only moves).
fn workflow_steps(
    rt: &Runtime,
    state: &MemState,
    acc: &Accounts,
    nonces: &[u64],
    permit: bool,
) -> Vec<SignedTx> {
    use urbis_governance::{GovernanceCall, MODULE};
    let name = if permit { "bench-permit" } else { "bench-flow" };
    let on_enter = if permit {
        serde_json::json!([{"action": "issue_permit", "permit_type": "bench", "valid_days": 30}])
    } else {
        serde_json::json!([])
    };
    let definition = serde_json::json!({
        "name": name, "initial": "received",
        "states": {"received": {}, "checked": {"on_enter": on_enter}, "done": {"final": true}},
        "transitions": [
            {"name": "check", "from": "received", "to": "checked", "role": "department"},
            {"name": "close", "from": "checked", "to": "done", "role": "department"}
        ]
    })
    .to_string();
    let d = acc.departments.len();
    // The second call (`permit`) comes after the first's definition and starts were applied.
    let round = u64::from(permit);
    let per_citizen = TXS.div_ceil(acc.citizens.len()) as u64;
    let mut next = nonces.to_vec();
    next[0] += round;
    let define = SignedTx::new(
        &chain(),
        &acc.departments[0],
        next[0],
        Call::new(MODULE, &GovernanceCall::DefineWorkflow { definition }),
    );
    next[0] += 1;
    run_block(rt, state, 3, &[define]);
    let starts: Vec<SignedTx> = (0..TXS)
        .map(|i| {
            let c = i % acc.citizens.len();
            SignedTx::new(
                &chain(),
                &acc.citizens[c],
                round * per_citizen + (i / acc.citizens.len()) as u64,
                Call::new(
                    MODULE,
                    &GovernanceCall::StartWorkflow {
                        workflow: name.into(),
                        subject_hash: urbis_core::Hash([(i % 251) as u8; 32]),
                        documents: Vec::new(),
                    },
                ),
            )
        })
        .collect();
    let out = rt.execute_block(state, &env(4), &starts).expect("executes");
    let ids: Vec<urbis_core::Hash> = out
        .receipts
        .iter()
        .map(|r| {
            r.events
                .iter()
                .find(|e| e.kind == "started")
                .and_then(|e| e.attr("id"))
                .and_then(|id| id.parse().ok())
                .expect("a started process")
        })
        .collect();
    state.apply(&out.writes);
    ids.into_iter()
        .enumerate()
        .map(|(i, instance)| {
            let k = i % d;
            let tx = SignedTx::new(
                &chain(),
                &acc.departments[k],
                next[k],
                Call::new(
                    MODULE,
                    &GovernanceCall::Act {
                        instance,
                        transition: "check".into(),
                        document_hash: None,
                    },
                ),
            );
            next[k] += 1;
            tx
        })
        .collect()
}

fn signed(acc: &Accounts, planned: Vec<workload::Planned>) -> Vec<SignedTx> {
    planned
        .into_iter()
        .map(|p| SignedTx::new(&chain(), acc.sender(p.sender), p.nonce, p.call))
        .collect()
}

fn block_exec(c: &mut Criterion) {
    let (rt, state, acc, program, nonces) = prepared();
    let mix = signed(&acc, workload::plan(&acc, &program, TXS, &nonces, 1));
    // Awards only: keep the award entries of a longer plan, renumbering nonces per sender.
    let mut next = nonces.clone();
    let awards: Vec<SignedTx> = workload::plan(&acc, &program, TXS * 3, &nonces, 2)
        .into_iter()
        .filter(|p| p.kind == Kind::Award)
        .take(TXS)
        .map(|mut p| {
            p.nonce = next[p.sender];
            next[p.sender] += 1;
            SignedTx::new(&chain(), acc.sender(p.sender), p.nonce, p.call)
        })
        .collect();
    assert_eq!(awards.len(), TXS);
    for (name, txs) in [("awards", &awards), ("mix", &mix)] {
        let out = rt.execute_block(&state, &env(3), txs).expect("executes");
        let failed = out.receipts.iter().filter(|r| !r.success).count();
        assert_eq!(failed, 0, "{name}: {failed} transactions failed");
    }

    let steps = workflow_steps(&rt, &state, &acc, &nonces, false);
    let out = rt.execute_block(&state, &env(5), &steps).expect("executes");
    let failed = out.receipts.iter().filter(|r| !r.success).count();
    assert_eq!(failed, 0, "workflow steps: {failed} transactions failed");
    let permit_steps = workflow_steps(&rt, &state, &acc, &nonces, true);
    let out = rt
        .execute_block(&state, &env(5), &permit_steps)
        .expect("executes");
    let failed = out.receipts.iter().filter(|r| !r.success).count();
    assert_eq!(failed, 0, "permit steps: {failed} transactions failed");

    let mut g = c.benchmark_group("block_exec");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(TXS as u64));
    g.bench_function("awards_10k", |b| {
        b.iter(|| {
            rt.execute_block(&state, &env(3), &awards)
                .expect("executes")
        })
    });
    g.bench_function("mix_10k", |b| {
        b.iter(|| rt.execute_block(&state, &env(3), &mix).expect("executes"))
    });
    g.bench_function("workflow_steps_10k", |b| {
        b.iter(|| rt.execute_block(&state, &env(5), &steps).expect("executes"))
    });
    g.bench_function("workflow_steps_with_permit_10k", |b| {
        b.iter(|| {
            rt.execute_block(&state, &env(5), &permit_steps)
                .expect("executes")
        })
    });
    g.finish();
}

criterion_group!(benches, block_exec);
criterion_main!(benches);
