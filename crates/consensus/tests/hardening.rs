//! What no validator, client or module can do to the chain (deterministic simulations of four
//! validators, reproducible by seed; `URBIS_SIM_SEED` explores other schedules):
//! - a validator whose clock runs fast, stamping every proposal at the latest time others accept,
//!   cannot make honest leaders time out or take over block production;
//! - a proposer that replays committed transactions gets its blocks rejected, and receipts stay;
//! - a module that panics or fails, in a call or at the end of a block, stops nothing, and
//!   every node records the same outcome;
//! - a value of the maximum size commits, proves and survives a restart; one byte more fails;
//! - proofs succeed even when the chain skips certifying some heights.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use commonware_runtime::Clock as _;
use urbis_consensus::app::{Faults, MAX_CLOCK_DRIFT};
use urbis_core::{Call, ErrorCode, Hash, PublicKey, SignedTx, limits};
use urbis_runtime::testkit::{self, EndBlock, ProbeCall};

fn probe(node: &Node, nonce: u64, call: ProbeCall) -> SignedTx {
    admin_tx(node, nonce, Call::new(testkit::MODULE, &call))
}

/// Wait until the transaction is executed on `node` (indexed), within `limit`.
async fn wait_committed(ctx: &Ctx, node: &Node, hash: &Hash, limit: Duration) {
    let start = ctx.current();
    while node.chain.receipt(hash).unwrap().is_none() {
        assert!(
            ctx.current().duration_since(start).unwrap() < limit,
            "transaction {hash} not committed"
        );
        ctx.sleep(Duration::from_millis(50)).await;
    }
}

/// Proposals the given validators refused, in total.
fn verify_rejections(nodes: &[&Node]) -> u64 {
    nodes
        .iter()
        .map(|n| {
            n.counters
                .verify_rejections
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .sum()
}

fn validators(net: &Net) -> Vec<PublicKey> {
    net.genesis
        .validators
        .iter()
        .map(|v| v.public_key)
        .collect()
}

#[test]
fn a_fast_clock_cannot_take_over_block_production() {
    run(11, |ctx| async move {
        let net = Net::new(&ctx).await;
        // The last validator's clock runs fast: it stamps at the latest time others accept.
        let nodes = net
            .start_many(&ctx, N, |i| Faults {
                stamp_at_drift_limit: i == N - 1,
                ..Faults::default()
            })
            .await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();

        // Run until the chain has passed view 200.
        let start = ctx.current();
        loop {
            let tip = refs[0].executed_height();
            let view = refs[0].chain.block(tip).unwrap().unwrap().header.view;
            if view > 200 {
                break;
            }
            assert!(
                ctx.current().duration_since(start).unwrap() < Duration::from_secs(600),
                "stuck at view {view}"
            );
            ctx.sleep(Duration::from_millis(100)).await;
        }
        assert_consistent(&refs);

        let byzantine = net.keys[N - 1].public_key();
        let blocks: Vec<_> = (1..=refs[0].executed_height())
            .map(|h| refs[0].chain.block(h).unwrap().unwrap().header)
            .filter(|h| h.view <= 200)
            .collect();
        let honest = blocks.iter().filter(|h| h.proposer != byzantine).count();
        let share = honest as f64 / blocks.len() as f64;
        assert!(
            share >= 0.6,
            "honest leaders made {honest} of {} finalized blocks",
            blocks.len()
        );
        // Most views produce a block: nobody is pushed into timeouts.
        assert!(blocks.len() >= 160, "{} blocks in 200 views", blocks.len());
        // Block times stay near the configured block time, and timestamps near real time.
        let (first, last) = (blocks.first().unwrap(), blocks.last().unwrap());
        let avg = (last.timestamp_ms - first.timestamp_ms) / (blocks.len() as u64 - 1);
        let bt = BLOCK_TIME.as_millis() as u64;
        assert!(
            (bt..=3 * bt).contains(&avg),
            "average block time {avg} ms for a configured {bt} ms"
        );
        let now = urbis_consensus::app::millis(ctx.current());
        let newest = refs[0]
            .chain
            .block(refs[0].executed_height())
            .unwrap()
            .unwrap()
            .header
            .timestamp_ms;
        assert!(
            newest <= now + MAX_CLOCK_DRIFT.as_millis() as u64,
            "timestamps ran ahead of real time"
        );
    });
}

#[test]
fn a_replaying_proposer_is_rejected_and_receipts_stay() {
    run(12, |ctx| async move {
        let net = Net::new(&ctx).await;
        // The last validator replays committed transactions in its proposals.
        let nodes = net
            .start_many(&ctx, N, |i| Faults {
                replay_committed: i == N - 1,
                ..Faults::default()
            })
            .await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 2, Duration::from_secs(60)).await;

        // Keep committing transactions (through honest validators) so there is always
        // something to replay.
        let mut hashes = Vec::new();
        for nonce in 0..12u64 {
            let node = refs[(nonce % 3) as usize];
            let tx = label_tx(node, nonce);
            hashes.push(tx.hash());
            node.submit(tx).unwrap();
            wait_committed(&ctx, node, hashes.last().unwrap(), Duration::from_secs(60)).await;
            ctx.sleep(Duration::from_millis(300)).await;
        }
        let target = refs[0].executed_height() + 8;
        wait_all_reach(&ctx, &refs, target, Duration::from_secs(120)).await;
        assert_consistent(&refs);

        // Honest validators refused the replays ...
        let rejections = verify_rejections(&refs[..N - 1]);
        assert!(rejections > 0, "no replaying proposal was rejected");
        // ... so no finalized block carries a transaction twice ...
        let mut seen = BTreeSet::new();
        for h in 1..=refs[0].executed_height() {
            for tx in refs[0].chain.block(h).unwrap().unwrap().txs {
                assert!(seen.insert(tx.hash()), "block {h} replays {}", tx.hash());
            }
        }
        // ... and every transaction still reports its original, successful receipt.
        for n in &refs {
            for h in &hashes {
                let r = n.chain.receipt(h).unwrap().expect("indexed");
                assert!(r.success && r.nonce_used, "{r:?}");
            }
        }
    });
}

#[test]
fn a_panicking_module_stops_nothing_and_every_node_agrees() {
    run(13, |ctx| async move {
        let net = Net::new(&ctx).await;
        let nodes = net.start_honest(&ctx, N).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 2, Duration::from_secs(60)).await;
        let n0 = refs[0];

        let calls = [
            ProbeCall::Panic,
            ProbeCall::Fail,
            ProbeCall::SetEndBlock(EndBlock::Panic),
            ProbeCall::Put {
                key: "after".into(),
                len: 3,
            },
            ProbeCall::SetEndBlock(EndBlock::Fail),
            ProbeCall::SetEndBlock(EndBlock::Write),
        ];
        let mut hashes = Vec::new();
        for (nonce, call) in calls.into_iter().enumerate() {
            let tx = probe(n0, nonce as u64, call);
            hashes.push(tx.hash());
            n0.submit(tx).unwrap();
            wait_committed(&ctx, n0, hashes.last().unwrap(), Duration::from_secs(60)).await;
            // Let a few blocks run with this end-of-block behaviour.
            let h = n0.executed_height();
            wait_all_reach(&ctx, &refs, h + 3, Duration::from_secs(60)).await;
        }
        let target = n0.executed_height() + 5;
        wait_all_reach(&ctx, &refs, target, Duration::from_secs(60)).await;
        assert_consistent(&refs);

        for n in &refs {
            let code = |i: usize| {
                let r = n.chain.receipt(&hashes[i]).unwrap().expect("indexed");
                r.error.map(|e| e.code)
            };
            assert_eq!(code(0), Some(ErrorCode::Internal), "the panic is a receipt");
            assert_eq!(code(1), Some(ErrorCode::InvalidState));
            assert_eq!(code(3), None, "later calls run");
        }
        // End-of-block failures are events stored with their blocks, the same on every node,
        // and returned with the block.
        let mut failed = Vec::new();
        for h in 1..=n0.executed_height() {
            let events = n0.chain.block_events(h).unwrap();
            for n in &refs[1..] {
                assert_eq!(n.chain.block_events(h).unwrap(), events, "events at {h}");
            }
            failed.extend(
                events
                    .into_iter()
                    .filter(|e| e.kind == "end_block_failed")
                    .map(|e| e.attr("code").unwrap().to_string()),
            );
        }
        assert!(failed.iter().any(|c| c == "internal"), "{failed:?}");
        assert!(failed.iter().any(|c| c == "invalid_state"), "{failed:?}");
        let last = n0.chain.block_events(n0.executed_height()).unwrap();
        assert!(
            last.iter().any(|e| e.kind == "end_block"),
            "end-of-block work runs again once fixed: {last:?}"
        );
    });
}

/// Prove `probe/<key>` on `node`, verify the bundle against the genesis validators, and check
/// the value's length.
async fn check_value(ctx: &Ctx, net: &Net, node: &Node, key: &str, len: Option<usize>) {
    let (answer, bundle) = node
        .prove_certified("probe", &[key], ctx.sleep(Duration::from_secs(30)))
        .await
        .unwrap();
    urbis_consensus::verify_bundle(
        &bundle,
        &urbis_consensus::Trust::fixed(CHAIN, &validators(net)),
    )
    .unwrap();
    assert_eq!(bundle.state.value.as_ref().map(Vec::len), len);
    assert_eq!(
        answer.value,
        len.map_or(serde_json::Value::Null, |l| serde_json::json!({ "len": l }))
    );
}

#[test]
fn a_maximum_size_value_commits_proves_and_survives_a_restart() {
    run(14, |ctx| async move {
        let net = Net::new(&ctx).await;
        let mut nodes = net.start_honest(&ctx, N).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 2, Duration::from_secs(60)).await;
        let n0 = refs[0];
        let max = limits::MAX_VALUE_BYTES as u32;
        let big = probe(
            n0,
            0,
            ProbeCall::Put {
                key: "big".into(),
                len: max,
            },
        );
        let over = probe(
            n0,
            1,
            ProbeCall::Put {
                key: "over".into(),
                len: max + 1,
            },
        );
        let (big_hash, over_hash) = (big.hash(), over.hash());
        n0.submit(big).unwrap();
        n0.submit(over).unwrap();
        wait_committed(&ctx, n0, &over_hash, Duration::from_secs(60)).await;
        let r = n0.chain.receipt(&big_hash).unwrap().unwrap();
        assert!(r.success, "{r:?}");
        let r = n0.chain.receipt(&over_hash).unwrap().unwrap();
        assert_eq!(r.error.map(|e| e.code), Some(ErrorCode::ValueTooLarge));

        check_value(&ctx, &net, refs[3], "big", Some(max as usize)).await;
        check_value(&ctx, &net, refs[3], "over", None).await;

        // Restart validator 3 on its storage: the value is still there, and still proves.
        let (handle, node3) = nodes.pop().unwrap();
        handle.abort();
        drop(node3);
        ctx.sleep(Duration::from_millis(200)).await;
        let restarted = net.start(&ctx, 3).await;
        let mut live: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        live.push(&restarted.1);
        let target = live[0].executed_height() + 5;
        wait_all_reach(&ctx, &live, target, Duration::from_secs(120)).await;
        assert_consistent(&live);
        check_value(&ctx, &net, &restarted.1, "big", Some(max as usize)).await;
    });
}

#[test]
fn proofs_succeed_when_heights_are_skipped() {
    run(15, |ctx| async move {
        let net = Net::new(&ctx).await;
        let skipping = Faults {
            certify_every: Some(2),
            ..Faults::default()
        };
        let nodes = net.start_many(&ctx, N, |_| skipping.clone()).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 4, Duration::from_secs(60)).await;
        let n0 = refs[0];
        let admin = urbis_core::SecretKey::from_label("admin").address();
        let validators = validators(&net);
        let mut odd = 0;
        for round in 0..12u64 {
            if n0.executed_height() % 2 == 1 {
                odd += 1;
            }
            let (answer, bundle) = n0
                .prove_certified(
                    "system",
                    &["nonce", &admin.to_string()],
                    ctx.sleep(Duration::from_secs(20)),
                )
                .await
                .unwrap_or_else(|e| panic!("proof {round}: {e}"));
            urbis_consensus::verify_bundle(
                &bundle,
                &urbis_consensus::Trust::fixed(CHAIN, &validators),
            )
            .unwrap();
            assert_eq!(
                bundle.state_height % 2,
                0,
                "only even heights are certified"
            );
            assert_eq!(answer.value["nonce"], 0);
            ctx.sleep(Duration::from_millis(37 * (round + 1))).await;
        }
        assert!(odd > 0, "no proof was asked at a skipped height");

        // Receipts of blocks whose height is skipped prove too: through the accumulator of the
        // next certified height.
        let mut hashes = Vec::new();
        for nonce in 0..6u64 {
            let tx = label_tx(n0, nonce);
            hashes.push(tx.hash());
            n0.submit(tx).unwrap();
            ctx.sleep(Duration::from_millis(150)).await;
        }
        let mut later = 0;
        for h in &hashes {
            let bundle = n0
                .prove_receipt(h, ctx.sleep(Duration::from_secs(20)))
                .await
                .unwrap();
            urbis_consensus::verify_receipt_bundle(
                &bundle,
                &urbis_consensus::Trust::fixed(CHAIN, &validators),
            )
            .unwrap();
            later += usize::from(!bundle.later_roots.is_empty());
            let mut t = bundle.clone();
            t.later_roots.push(urbis_core::Hash::ZERO);
            assert!(
                urbis_consensus::verify_receipt_bundle(
                    &t,
                    &urbis_consensus::Trust::fixed(CHAIN, &validators)
                )
                .is_err()
            );
        }
        assert!(
            later > 0,
            "no receipt needed the accumulator across a skipped height"
        );

        // The API's kept proofs: an unchanged value answers at once with the kept bundle; once
        // the value changes, the answer is proven afresh.
        let nonce_path = ["nonce", &admin.to_string()];
        let prove = || n0.prove_current("system", &nonce_path, ctx.sleep(Duration::from_secs(20)));
        let (first, kept) = prove().await.unwrap();
        assert_eq!(first.value["nonce"], 6);
        ctx.sleep(Duration::from_millis(500)).await;
        let (again, same) = prove().await.unwrap();
        assert_eq!(again.value, first.value);
        assert_eq!(
            same.state_height, kept.state_height,
            "served from the kept bundle"
        );
        n0.submit(label_tx(n0, 6)).unwrap();
        wait_all_reach(
            &ctx,
            &refs,
            n0.executed_height() + 4,
            Duration::from_secs(60),
        )
        .await;
        let (changed, fresh) = prove().await.unwrap();
        assert_eq!(changed.value["nonce"], 7);
        assert!(fresh.state_height > kept.state_height);
        urbis_consensus::verify_bundle(&fresh, &urbis_consensus::Trust::fixed(CHAIN, &validators))
            .unwrap();
    });
}

#[test]
fn an_overweight_proposal_is_rejected_and_every_block_stays_within_the_limit() {
    run(14, |ctx| async move {
        let net = Net::new(&ctx).await;
        // The last validator fills its proposals past the block weight limit.
        let nodes = net
            .start_many(&ctx, N, |i| Faults {
                ignore_weight_limit: i == N - 1,
                ..Faults::default()
            })
            .await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 2, Duration::from_secs(60)).await;
        let max = urbis_runtime::weight::MAX_BLOCK;

        // Pairs of transactions that each fit a block but not together: honest proposers take
        // one per block, the faulty one both (and is refused).
        let heavy = |node: &Node, nonce: u64| {
            probe(
                node,
                nonce,
                ProbeCall::Charge {
                    declare: max / 10 * 6,
                    units: 1,
                },
            )
        };
        // A transaction no block could carry is refused at the door, and nothing is pooled.
        let too_heavy = probe(
            refs[0],
            0,
            ProbeCall::Charge {
                declare: max,
                units: 0,
            },
        );
        let e = refs[0].submit(too_heavy.clone()).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooHeavy, "{e}");
        assert!(!refs[0].mempool.contains(&too_heavy.hash()));

        let mut hashes = Vec::new();
        let mut nonce = 0;
        for round in 0..8 {
            let node = refs[round % N];
            let pair = [heavy(node, nonce), heavy(node, nonce + 1)];
            nonce += 2;
            for tx in pair {
                hashes.push(tx.hash());
                node.submit(tx).unwrap();
            }
            for h in &hashes[hashes.len() - 2..] {
                wait_committed(&ctx, node, h, Duration::from_secs(120)).await;
            }
        }
        let target = refs[0].executed_height() + 3;
        wait_all_reach(&ctx, &refs, target, Duration::from_secs(120)).await;
        assert_consistent(&refs);

        let rejections = verify_rejections(&refs[..N - 1]);
        assert!(rejections > 0, "no overweight proposal was refused");
        for h in 1..=refs[0].executed_height() {
            let block = refs[0].chain.block(h).unwrap().unwrap();
            let w: u64 = block.txs.iter().map(|t| refs[0].runtime.tx_weight(t)).sum();
            assert!(w <= max, "block {h} weighs {w}");
        }
        for h in &hashes {
            let r = refs[0].chain.receipt(h).unwrap().expect("indexed");
            assert!(r.success, "{r:?}");
            assert!(r.weight > 0 && r.weight < max / 10 * 6, "{r:?}");
        }
    });
}
