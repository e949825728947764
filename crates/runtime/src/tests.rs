//! Runtime behaviour that no module can break: panics and failures in calls and at the end of
//! the block, the size limits of state writes, and the gate for senders without a role.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use urbis_core::{Call, ChainRef, ErrorCode, Hash, SecretKey, SignedTx, limits};

use crate::testkit::{self, EndBlock, ProbeCall, ProbeOp};
use crate::{BlockEnv, BlockOutcome, MemState, Runtime, read_nonce};

fn chain() -> ChainRef {
    ChainRef::new("t", Hash::ZERO)
}

fn env(height: u64) -> BlockEnv {
    BlockEnv {
        chain_id: "t".into(),
        height,
        timestamp_ms: 1_000 * height,
        proposer: None,
    }
}

fn tx(who: &str, nonce: u64, call: ProbeCall) -> SignedTx {
    SignedTx::new(
        &chain(),
        &SecretKey::from_label(who),
        nonce,
        Call::new(testkit::MODULE, &call),
    )
}

fn run(rt: &Runtime, state: &MemState, height: u64, txs: &[SignedTx]) -> BlockOutcome {
    let out = rt.execute_block(state, &env(height), txs).unwrap();
    state.apply(&out.writes);
    out
}

fn probe_runtime() -> Runtime {
    Runtime::new("t", vec![testkit::module()])
}

#[test]
fn a_panicking_call_is_a_failed_receipt_and_the_block_goes_on() {
    let rt = probe_runtime();
    let state = MemState::default();
    let out = run(
        &rt,
        &state,
        1,
        &[
            tx("a", 0, ProbeCall::Panic),
            tx(
                "a",
                1,
                ProbeCall::Put {
                    key: "x".into(),
                    len: 3,
                },
            ),
        ],
    );
    let r = &out.receipts[0];
    assert!(!r.success);
    assert!(r.nonce_used, "a failed call still uses its nonce");
    let err = r.error.as_ref().unwrap();
    assert_eq!(err.code, ErrorCode::Internal);
    assert!(err.message.contains("probe asked to panic"), "{err:?}");
    assert!(out.receipts[1].success, "the next transaction runs");
    assert_eq!(
        state.snapshot().get(&testkit::key("x")),
        Some(&vec![0xAB; 3])
    );
    // Executing the same block again on the same state gives the same outcome.
    let again = probe_runtime()
        .execute_block(
            &MemState::default(),
            &env(1),
            &[tx("a", 0, ProbeCall::Panic)],
        )
        .unwrap();
    assert_eq!(again.receipts[0].error, out.receipts[0].error);
}

#[test]
fn a_failed_call_writes_nothing_but_its_nonce() {
    let rt = probe_runtime();
    let state = MemState::default();
    let out = run(&rt, &state, 1, &[tx("a", 0, ProbeCall::Fail)]);
    assert_eq!(
        out.receipts[0].error.as_ref().unwrap().code,
        ErrorCode::InvalidState
    );
    assert!(!state.snapshot().contains_key(&testkit::key("failed")));
    assert_eq!(
        read_nonce(&state, &SecretKey::from_label("a").address()).unwrap(),
        1
    );
}

#[test]
fn end_of_block_failures_and_panics_discard_that_modules_writes() {
    let rt = probe_runtime();
    let state = MemState::default();
    let out = run(&rt, &state, 1, &[]);
    assert!(out.block_events.iter().any(|e| e.kind == "end_block"));
    assert_eq!(
        state.snapshot().get(&testkit::key("blocks")),
        Some(&borsh::to_vec(&1u64).unwrap())
    );

    for (mode, nonce) in [(EndBlock::Fail, 0), (EndBlock::Panic, 1)] {
        let before = state.snapshot().get(&testkit::key("blocks")).cloned();
        // The call that sets the mode succeeds; this block's end-of-block work already fails.
        let out = run(
            &rt,
            &state,
            2 + nonce,
            &[tx("a", nonce, ProbeCall::SetEndBlock(mode))],
        );
        assert!(out.receipts[0].success);
        let failed: Vec<_> = out
            .block_events
            .iter()
            .filter(|e| e.kind == "end_block_failed")
            .collect();
        assert_eq!(failed.len(), 1, "{:?}", out.block_events);
        assert_eq!(failed[0].module, crate::runtime::SYSTEM_EVENTS);
        assert_eq!(failed[0].attr("module"), Some("probe"));
        let code = if mode == EndBlock::Fail {
            "invalid_state"
        } else {
            "internal"
        };
        assert_eq!(failed[0].attr("code"), Some(code));
        assert!(
            !out.block_events.iter().any(|e| e.kind == "end_block"),
            "the failed run's own events are discarded"
        );
        assert_eq!(
            state.snapshot().get(&testkit::key("blocks")).cloned(),
            before,
            "the failed run's writes are discarded"
        );
        // The transaction's own writes are kept.
        assert!(state.snapshot().contains_key(&testkit::key("end_block")));
    }
}

#[test]
fn values_up_to_the_limit_commit_and_one_byte_more_fails_cleanly() {
    let rt = probe_runtime();
    let state = MemState::default();
    let max = limits::MAX_VALUE_BYTES as u32;
    let out = run(
        &rt,
        &state,
        1,
        &[
            tx(
                "a",
                0,
                ProbeCall::Put {
                    key: "max".into(),
                    len: max,
                },
            ),
            tx(
                "a",
                1,
                ProbeCall::Put {
                    key: "over".into(),
                    len: max + 1,
                },
            ),
        ],
    );
    assert!(out.receipts[0].success, "{:?}", out.receipts[0]);
    let err = out.receipts[1].error.as_ref().unwrap();
    assert_eq!(err.code, ErrorCode::ValueTooLarge);
    assert!(err.message.contains("probe/over"), "{err:?}");
    let snap = state.snapshot();
    assert_eq!(
        snap.get(&testkit::key("max")).map(Vec::len),
        Some(max as usize)
    );
    assert!(!snap.contains_key(&testkit::key("over")));

    let long_key = "k".repeat(limits::MAX_KEY_BYTES);
    let out = run(
        &rt,
        &state,
        2,
        &[tx(
            "a",
            2,
            ProbeCall::Put {
                key: long_key,
                len: 1,
            },
        )],
    );
    assert_eq!(
        out.receipts[0].error.as_ref().unwrap().code,
        ErrorCode::KeyTooLarge
    );
}

#[test]
fn senders_without_a_role_write_nothing_unless_the_call_is_open() {
    let rt = probe_runtime().with_gate(testkit::gate(2));
    let state = MemState::default();
    let stranger = SecretKey::from_label("stranger").address();
    let out = run(
        &rt,
        &state,
        1,
        &[tx(
            "stranger",
            0,
            ProbeCall::Put {
                key: "x".into(),
                len: 1,
            },
        )],
    );
    let r = &out.receipts[0];
    assert_eq!(r.error.as_ref().unwrap().code, ErrorCode::Unauthorized);
    assert!(!r.nonce_used);
    assert!(
        state
            .snapshot()
            .keys()
            .all(|k| k.starts_with(b"probe/blocks")),
        "not even a nonce is written (only the probe's end-of-block counter)"
    );
    assert_eq!(read_nonce(&state, &stranger).unwrap(), 0);

    // Open calls pass, up to the per-block quota; the rest write nothing.
    let out = run(
        &rt,
        &state,
        2,
        &[
            tx("s1", 0, ProbeCall::Open { key: "1".into() }),
            tx("s2", 0, ProbeCall::Open { key: "2".into() }),
            tx("s3", 0, ProbeCall::Open { key: "3".into() }),
        ],
    );
    assert!(out.receipts[0].success && out.receipts[1].success);
    let r = &out.receipts[2];
    assert_eq!(r.error.as_ref().unwrap().code, ErrorCode::QuotaExceeded);
    assert!(!r.nonce_used);
    let snap = state.snapshot();
    assert!(snap.contains_key(&testkit::key("open/2")));
    assert!(!snap.contains_key(&testkit::key("open/3")));
    assert_eq!(
        read_nonce(&state, &SecretKey::from_label("s3").address()).unwrap(),
        0
    );

    // A member may make any call, and membership granted earlier in the block counts.
    let out = run(
        &rt,
        &state,
        3,
        &[
            tx("s4", 0, ProbeCall::AddMember(stranger)),
            tx(
                "stranger",
                0,
                ProbeCall::Put {
                    key: "x".into(),
                    len: 1,
                },
            ),
        ],
    );
    assert!(out.receipts.iter().all(|r| r.success), "{:?}", out.receipts);

    // The door uses the same rule.
    assert_eq!(
        rt.admission(&state, &tx("stranger", 1, ProbeCall::Panic))
            .unwrap(),
        crate::Admission::Member
    );
    assert_eq!(
        rt.admission(&state, &tx("s9", 0, ProbeCall::Open { key: "9".into() }))
            .unwrap(),
        crate::Admission::Open
    );
    let err = rt
        .admission(&state, &tx("s9", 0, ProbeCall::Fail))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthorized);
    assert!(err.message.contains("holds no role"), "{err}");
}

#[test]
fn bad_nonces_write_nothing_and_are_marked_unused() {
    let rt = probe_runtime();
    let state = MemState::default();
    let out = run(
        &rt,
        &state,
        1,
        &[tx("a", 5, ProbeCall::Open { key: "x".into() })],
    );
    assert_eq!(
        out.receipts[0].error.as_ref().unwrap().code,
        ErrorCode::NonceGap
    );
    assert!(!out.receipts[0].nonce_used);
    assert!(
        state
            .snapshot()
            .keys()
            .all(|k| k.starts_with(b"probe/blocks"))
    );
}

#[test]
fn queries_are_a_function_of_one_key() {
    let rt = probe_runtime();
    let state = MemState::default();
    run(
        &rt,
        &state,
        1,
        &[tx(
            "a",
            0,
            ProbeCall::Put {
                key: "q".into(),
                len: 7,
            },
        )],
    );
    let answer = rt.query(&state, "probe", &["q"]).unwrap();
    assert_eq!(answer.key, testkit::key("q"));
    assert_eq!(answer.value, serde_json::json!({"len": 7}));
    let bytes = state.snapshot().get(&answer.key).cloned();
    assert_eq!(
        rt.render("probe", &["q"], bytes.as_deref()).unwrap(),
        answer.value
    );
    let addr = SecretKey::from_label("a").address().to_string();
    let nonce = rt.query(&state, "system", &["nonce", &addr]).unwrap();
    assert_eq!(nonce.value["nonce"], 1);
    assert_eq!(
        rt.query_key("system", &["nonce", &addr]).unwrap(),
        nonce.key
    );
    assert_eq!(
        rt.query(&state, "nope", &["x"]).unwrap_err().code,
        ErrorCode::UnknownModule
    );
}

fn two_probes() -> Runtime {
    Runtime::new("t", vec![testkit::module(), testkit::module_named("other")])
}

fn has(state: &MemState, key: &str) -> bool {
    state.snapshot().contains_key(key.as_bytes())
}

#[test]
fn a_write_outside_the_namespace_fails_the_call_and_writes_nothing() {
    let rt = two_probes();
    let state = MemState::default();
    for target in ["other/x", "system/nonce/urbis1x", "probex/y", "x"] {
        let out = run(
            &rt,
            &state,
            1,
            &[tx("a", 0, ProbeCall::WriteElsewhere(target.into()))],
        );
        let err = out.receipts[0].error.as_ref().unwrap();
        assert_eq!(err.code, ErrorCode::ForeignWrite, "{target}");
        assert!(err.message.contains(target), "{err:?}");
        assert!(out.receipts[0].nonce_used);
        assert!(!has(&state, target) && !has(&state, "probe/mine"));
        // The next transaction of the same sender goes on.
        state.apply(
            &[(
                crate::nonce_key(&SecretKey::from_label("a").address()),
                None,
            )]
            .into_iter()
            .collect(),
        );
    }
}

#[test]
fn exported_operations_run_nested_and_their_failure_fails_the_caller() {
    let rt = two_probes();
    let state = MemState::default();
    let invoke = |nonce, op, ignore_failure| {
        tx(
            "a",
            nonce,
            ProbeCall::Invoke {
                module: "other".into(),
                op,
                ignore_failure,
            },
        )
    };
    // Success: the callee writes in its own namespace and knows who called.
    let out = run(
        &rt,
        &state,
        1,
        &[invoke(0, ProbeOp::Put { key: "k".into() }, false)],
    );
    assert!(out.receipts[0].success, "{:?}", out.receipts[0]);
    assert_eq!(
        state.snapshot().get(b"other/k".as_slice()),
        Some(&b"probe".to_vec())
    );
    assert!(has(&state, "probe/invoked"));
    let kinds: Vec<&str> = out.receipts[0]
        .events
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["exported_put", "invoked"]);

    // Failure: the caller fails even if it ignores the error; neither side's writes remain.
    for (nonce, ignore) in [(1, false), (2, true)] {
        let out = run(
            &rt,
            &state,
            1 + nonce,
            &[invoke(nonce, ProbeOp::Fail, ignore)],
        );
        assert_eq!(
            out.receipts[0].error.as_ref().map(|e| e.code),
            Some(ErrorCode::InvalidState),
            "ignore_failure = {ignore}"
        );
        assert!(!has(&state, "other/exported_failed"));
    }

    // Nesting is bounded.
    let out = run(&rt, &state, 4, &[invoke(3, ProbeOp::Recurse(2), false)]);
    assert!(out.receipts[0].success);
    assert!(has(&state, "other/depth/0"));
    let out = run(&rt, &state, 5, &[invoke(4, ProbeOp::Recurse(10), false)]);
    let err = out.receipts[0].error.as_ref().unwrap();
    assert!(err.message.contains("nest deeper"), "{err:?}");
    assert!(!has(&state, "other/depth/10"));

    // Unknown modules and operations.
    let out = run(
        &rt,
        &state,
        6,
        &[tx(
            "a",
            5,
            ProbeCall::Invoke {
                module: "nobody".into(),
                op: ProbeOp::Fail,
                ignore_failure: true,
            },
        )],
    );
    assert_eq!(
        out.receipts[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::UnknownModule)
    );
}

#[test]
fn the_scheduler_runs_due_jobs_in_order_once_within_a_bound() {
    let rt = probe_runtime();
    let state = MemState::default();
    // env(h) is at 1000*h ms. Schedule from block 1 (t = 1000).
    let mut txs = vec![
        tx(
            "a",
            0,
            ProbeCall::Schedule {
                after_ms: 2_500,
                tag: "late".into(),
            },
        ),
        tx(
            "a",
            1,
            ProbeCall::Schedule {
                after_ms: 1_500,
                tag: "b".into(),
            },
        ),
        tx(
            "a",
            2,
            ProbeCall::Schedule {
                after_ms: 1_500,
                tag: "fail-c".into(),
            },
        ),
        tx(
            "a",
            3,
            ProbeCall::Schedule {
                after_ms: 1_000,
                tag: "panic-d".into(),
            },
        ),
    ];
    // More jobs than a block runs, all due at t = 2000.
    let extra = crate::sched::JOBS_PER_BLOCK + 10;
    for i in 0..extra {
        txs.push(tx(
            "b",
            i as u64,
            ProbeCall::Schedule {
                after_ms: 1_000,
                tag: format!("bulk{i:04}"),
            },
        ));
    }
    run(&rt, &state, 1, &txs);
    assert!(!has(&state, "probe/ran/panic-d"));

    // Block 2 (t = 2000): the jobs due at 2000 in id order, as many as a block runs.
    let out = run(&rt, &state, 2, &[]);
    let ran: Vec<String> = out
        .block_events
        .iter()
        .filter(|e| e.kind == "job_ran")
        .map(|e| e.attr("tag").unwrap().to_string())
        .collect();
    let failed: Vec<_> = out
        .block_events
        .iter()
        .filter(|e| e.kind == "job_failed")
        .collect();
    assert_eq!(failed.len(), 1, "the panicking job");
    assert_eq!(failed[0].attr("code"), Some("internal"));
    assert!(
        !has(&state, "probe/ran/panic-d"),
        "a failed job's writes are discarded"
    );
    assert_eq!(ran.len(), crate::sched::JOBS_PER_BLOCK - 1);
    assert_eq!(ran[0], "bulk0000");
    assert!(ran.windows(2).all(|w| w[0] < w[1]), "in id order");

    // Block 3 (t = 3000): the rest of the bulk first (older), then b and fail-c.
    let out = run(&rt, &state, 3, &[]);
    let ran: Vec<String> = out
        .block_events
        .iter()
        .filter(|e| e.kind == "job_ran")
        .map(|e| e.attr("tag").unwrap().to_string())
        .collect();
    // 11 bulk jobs, then b; fail-c ran too, but a failed job's events are discarded.
    assert_eq!(ran.len(), 12);
    assert_eq!(ran.last().map(String::as_str), Some("b"));
    assert!(
        out.block_events
            .iter()
            .any(|e| e.kind == "job_failed" && e.attr("code") == Some("invalid_state"))
    );
    assert!(has(&state, "probe/ran/b") && !has(&state, "probe/ran/fail-c"));
    assert!(!has(&state, "probe/ran/late"));

    // Block 4 (t = 4000): the last one, then nothing is left.
    run(&rt, &state, 4, &[]);
    assert!(has(&state, "probe/ran/late"));
    let left = state
        .snapshot()
        .keys()
        .filter(|k| k.starts_with(crate::sched::QUEUE))
        .count();
    assert_eq!(left, 0, "each job ran exactly once");
    let out = run(&rt, &state, 5, &[]);
    assert!(out.block_events.iter().all(|e| e.kind != "job_ran"));
}

#[test]
fn object_ids_are_derived_from_the_transaction() {
    let rt = probe_runtime();
    let ids = |state: &MemState| -> Vec<Vec<u8>> {
        state
            .snapshot()
            .keys()
            .filter(|k| k.starts_with(b"probe/id/"))
            .cloned()
            .collect()
    };
    let a = MemState::default();
    run(
        &rt,
        &a,
        1,
        &[
            tx("a", 0, ProbeCall::NewIds(3)),
            tx("b", 0, ProbeCall::NewIds(2)),
        ],
    );
    assert_eq!(ids(&a).len(), 5, "distinct within and across transactions");
    let b = MemState::default();
    run(
        &rt,
        &b,
        1,
        &[
            tx("a", 0, ProbeCall::NewIds(3)),
            tx("b", 0, ProbeCall::NewIds(2)),
        ],
    );
    assert_eq!(ids(&a), ids(&b), "every node derives the same ids");
}

#[test]
fn scans_see_the_calls_own_writes_on_every_view() {
    let state = MemState::default();
    state.apply(
        &[
            (b"m/1".to_vec(), Some(b"a".to_vec())),
            (b"m/3".to_vec(), Some(b"c".to_vec())),
        ]
        .into_iter()
        .collect(),
    );
    let block = crate::WriteSet::new();
    let e = env(1);
    let mut ctx = crate::Ctx::new(
        &state,
        &block,
        &e,
        SecretKey::from_label("a").address(),
        "m",
        crate::Origin::EndBlock,
        None,
    );
    ctx.put_raw(b"m/2".to_vec(), b"b".to_vec());
    ctx.delete(b"m/3".to_vec());
    let page = ctx.scan(b"m/", None, 10).unwrap();
    let keys: Vec<&[u8]> = page.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(keys, [b"m/1".as_slice(), b"m/2".as_slice()]);
    assert_eq!(ctx.scan(b"m/", Some(b"m/1"), 10).unwrap().len(), 1);
}

#[test]
fn calls_are_metered_and_one_past_its_declared_weight_fails_and_writes_nothing() {
    use crate::weight;
    let rt = probe_runtime();
    let state = MemState::default();
    let within = tx(
        "a",
        0,
        ProbeCall::Charge {
            declare: 50_000,
            units: 10_000,
        },
    );
    let out = run(&rt, &state, 1, std::slice::from_ref(&within));
    let r = &out.receipts[0];
    assert!(r.success, "{r:?}");
    // The receipt's weight is the envelope plus exactly what the call metered.
    let metered = weight::write(&testkit::key("charged"), Some(&[1]))
        + 10_000
        + weight::event(
            &urbis_core::Event::new(testkit::MODULE, "charged").with("units", 10_000u64),
        );
    let envelope = weight::envelope(borsh::object_length(&within).unwrap());
    assert_eq!(r.weight, envelope + metered);
    assert_eq!(rt.tx_weight(&within), envelope + 50_000);
    assert!(r.weight <= rt.tx_weight(&within));

    // Metering one unit more than declared: out_of_weight, nonce consumed, nothing else written.
    let state = MemState::default();
    let declare = metered - 1;
    let over = tx(
        "a",
        0,
        ProbeCall::Charge {
            declare,
            units: 10_000,
        },
    );
    let out = run(&rt, &state, 1, std::slice::from_ref(&over));
    let r = &out.receipts[0];
    assert!(!r.success);
    assert_eq!(r.error.as_ref().unwrap().code, ErrorCode::OutOfWeight);
    assert!(r.nonce_used);
    assert!(r.events.is_empty());
    assert_eq!(
        r.weight,
        weight::envelope(borsh::object_length(&over).unwrap()) + declare
    );
    assert!(!has(&state, "probe/charged"));
    assert_eq!(read_nonce(&state, &over.sender()).unwrap(), 1);

    // A module error after running out is still reported as out_of_weight.
    let state = MemState::default();
    let out = run(
        &rt,
        &state,
        1,
        &[tx(
            "a",
            0,
            ProbeCall::Charge {
                declare: 10_000,
                units: u64::MAX,
            },
        )],
    );
    assert_eq!(
        out.receipts[0].error.as_ref().unwrap().code,
        ErrorCode::OutOfWeight
    );
}

#[test]
fn a_transaction_heavier_than_a_block_is_too_heavy_at_the_door() {
    use crate::weight;
    let rt = probe_runtime();
    let fits = tx(
        "a",
        0,
        ProbeCall::Charge {
            declare: weight::MAX_BLOCK / 2,
            units: 0,
        },
    );
    assert_eq!(rt.check_weight(&fits).unwrap(), rt.tx_weight(&fits));
    let heavy = tx(
        "a",
        0,
        ProbeCall::Charge {
            declare: weight::MAX_BLOCK,
            units: 0,
        },
    );
    let e = rt.check_weight(&heavy).unwrap_err();
    assert_eq!(e.code, ErrorCode::TooHeavy);
    assert_eq!(e.code.as_str(), "too_heavy");
    // An unknown module declares nothing (the call fails at once).
    let unknown = SignedTx::new(
        &chain(),
        &SecretKey::from_label("a"),
        0,
        Call {
            module: "nowhere".into(),
            data: vec![1, 2, 3],
        },
    );
    assert_eq!(
        rt.tx_weight(&unknown),
        weight::envelope(borsh::object_length(&unknown).unwrap())
    );
}
