//! Runtime behaviour that no module can break: panics and failures in calls and at the end of
//! the block, the size limits of state writes, and the gate for senders without a role.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use urbis_core::{Call, ChainRef, ErrorCode, Hash, SecretKey, SignedTx, limits};

use crate::testkit::{self, EndBlock, ProbeCall};
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
