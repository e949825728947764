//! Deterministic simulation of a 4-validator network (Commonware deterministic runtime and
//! simulated p2p): progress, crashes, partitions, an equivocating validator and a late joiner.
//! Every scenario checks that all honest nodes have identical block hashes and state roots at
//! every height they share (no fork), and is reproducible from its seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use commonware_runtime::Clock as _;
use urbis_core::SecretKey;

#[test]
fn four_validators_make_progress_and_agree() {
    run(1, |ctx| async move {
        let net = Net::new(&ctx).await;
        let nodes = net.start_honest(&ctx, N).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 2, Duration::from_secs(60)).await;
        // Transactions submitted to different validators all get included (gossip).
        // Each goes to the next validator once the previous one has propagated.
        for (i, nonce) in (0..8u64).enumerate() {
            let node = &nodes[i % N].1;
            node.submit(label_tx(node, nonce)).unwrap();
            ctx.sleep(Duration::from_millis(100)).await;
        }
        wait_all_reach(&ctx, &refs, 20, Duration::from_secs(60)).await;
        assert_consistent(&refs);
        let view = refs[0].chain.state_view().unwrap();
        let nonce =
            urbis_runtime::read_nonce(&view, &SecretKey::from_label("admin").address()).unwrap();
        assert_eq!(nonce, 8, "all gossiped transactions executed");
        for n in &refs {
            assert_eq!(
                n.peers.active(Duration::from_secs(3600)),
                N - 1,
                "hears every other validator"
            );
            assert!(
                n.evidence.list().is_empty(),
                "no evidence against honest validators"
            );
        }
    });
}

#[test]
fn one_crashed_validator_does_not_stop_the_chain() {
    run(2, |ctx| async move {
        let net = Net::new(&ctx).await;
        let mut nodes = net.start_honest(&ctx, N).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 5, Duration::from_secs(60)).await;
        let (crashed, _) = nodes.pop().unwrap();
        crashed.abort();
        let alive: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        let target = height(alive[0]) + 15;
        wait_all_reach(&ctx, &alive, target, Duration::from_secs(120)).await;
        assert_consistent(&alive);
    });
}

#[test]
fn two_crashed_stall_without_fork_and_recover() {
    run(3, |ctx| async move {
        let net = Net::new(&ctx).await;
        let mut nodes = net.start_honest(&ctx, N).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 5, Duration::from_secs(60)).await;
        let (h3, n3) = nodes.pop().unwrap();
        let (h2, _n2) = nodes.pop().unwrap();
        h3.abort();
        h2.abort();
        drop(n3);
        ctx.sleep(Duration::from_secs(2)).await;
        let stalled_at: Vec<u64> = nodes.iter().map(|(_, n)| height(n)).collect();
        ctx.sleep(Duration::from_secs(20)).await;
        let after: Vec<u64> = nodes.iter().map(|(_, n)| height(n)).collect();
        assert_eq!(
            stalled_at, after,
            "2 of 4 validators cannot finalize anything"
        );
        // Validator 3 comes back on its own storage: progress resumes.
        ctx.sleep(Duration::from_millis(100)).await;
        let restarted = net.start(&ctx, 3).await;
        let mut live: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        live.push(&restarted.1);
        let target = after.iter().max().unwrap() + 10;
        wait_all_reach(&ctx, &live, target, Duration::from_secs(180)).await;
        assert_consistent(&live);
    });
}

#[test]
fn partition_stalls_then_heals() {
    run(4, |ctx| async move {
        let net = Net::new(&ctx).await;
        let nodes = net.start_honest(&ctx, N).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 5, Duration::from_secs(60)).await;
        net.cut(&[0, 1], &[2, 3]).await;
        ctx.sleep(Duration::from_secs(2)).await;
        let before: Vec<u64> = refs.iter().map(|n| height(n)).collect();
        ctx.sleep(Duration::from_secs(15)).await;
        let during: Vec<u64> = refs.iter().map(|n| height(n)).collect();
        assert_eq!(before, during, "neither half has a quorum");
        net.connect_all(&(0..N).collect::<Vec<_>>()).await;
        let target = during.iter().max().unwrap() + 10;
        wait_all_reach(&ctx, &refs, target, Duration::from_secs(180)).await;
        assert_consistent(&refs);
    });
}

#[test]
fn equivocating_validator_is_detected_and_tolerated() {
    run(5, |ctx| async move {
        let net = Net::new(&ctx).await;
        let nodes = net.start_honest(&ctx, 3).await;
        let _byzantine = net.start_conflicter(&ctx, 3).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 15, Duration::from_secs(120)).await;
        assert_consistent(&refs);
        // Evidence: recorded against the equivocator (by the nodes that saw both of its
        // conflicting votes for a view: at least one), and never against an honest validator.
        let culprit = net.keys[3].public_key();
        let start = ctx.current();
        while !refs.iter().any(|n| {
            n.evidence
                .list()
                .iter()
                .any(|e| e.validator == Some(culprit))
        }) {
            assert!(
                ctx.current().duration_since(start).unwrap() < Duration::from_secs(60),
                "no evidence recorded against the equivocator"
            );
            ctx.sleep(Duration::from_millis(100)).await;
        }
        for n in &refs {
            let evidence = n.evidence.list();
            assert!(
                evidence.iter().all(|e| e.validator == Some(culprit)),
                "honest validator accused: {evidence:?}"
            );
        }
    });
}

#[test]
fn late_joiner_catches_up() {
    run(6, |ctx| async move {
        let net = Net::new(&ctx).await;
        let nodes = net.start_honest(&ctx, 3).await;
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &refs, 2, Duration::from_secs(60)).await;
        for nonce in 0..5 {
            nodes[0].1.submit(label_tx(&nodes[0].1, nonce)).unwrap();
        }
        wait_all_reach(&ctx, &refs, 30, Duration::from_secs(120)).await;
        let late = net.start(&ctx, 3).await;
        let mut all = refs.clone();
        all.push(&late.1);
        let target = height(refs[0]) + 5;
        wait_all_reach(&ctx, &all, target, Duration::from_secs(180)).await;
        assert_consistent(&all);
    });
}
