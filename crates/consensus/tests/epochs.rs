//! Validator-set changes by council decision, in the deterministic simulation: a validator that
//! is not in the genesis set is added, one genesis validator is removed and another's key is
//! rotated, each taking effect two epochs after the epoch its decision executed in, without
//! restarting anyone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use commonware_runtime::Clock as _;
use urbis_core::{Call, Hash, SecretKey, SignedTx};
use urbis_governance::GovernanceCall;
use urbis_governance::council::CouncilAction;

const EPOCH: u64 = 20;

/// Submit the admin's transaction `call` with `nonce` to `node` and wait until it is executed;
/// returns its events.
async fn commit(
    ctx: &Ctx,
    node: &Node,
    nonce: u64,
    call: GovernanceCall,
) -> Vec<urbis_core::Event> {
    let tx: SignedTx = admin_tx(node, nonce, Call::new("governance", &call));
    let hash = tx.hash();
    node.submit(tx).unwrap();
    for _ in 0..1_200 {
        if let Some(r) = node.chain.receipt(&hash).unwrap() {
            assert!(r.success, "{call:?} failed: {:?}", r.error);
            return r.events;
        }
        ctx.sleep(Duration::from_millis(50)).await;
    }
    panic!("{call:?} was not committed");
}

fn attr(events: &[urbis_core::Event], kind: &str, key: &str) -> String {
    events
        .iter()
        .find(|e| e.kind == kind)
        .and_then(|e| e.attributes.iter().find(|(k, _)| k == key))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {kind}/{key} in {events:?}"))
}

/// Propose `action` and execute it at once (a one-member council without timelock); the epoch
/// it applies from.
async fn decide(ctx: &Ctx, node: &Node, nonce: &mut u64, action: CouncilAction) -> u64 {
    let proposed = commit(
        ctx,
        node,
        *nonce,
        GovernanceCall::Propose {
            action,
            description_hash: Hash([7; 32]),
        },
    )
    .await;
    let id: Hash = attr(&proposed, "proposed", "id").parse().unwrap();
    let executed = commit(
        ctx,
        node,
        *nonce + 1,
        GovernanceCall::Execute { proposal: id },
    )
    .await;
    *nonce += 2;
    attr(&executed, "validator_change", "from_epoch")
        .parse()
        .unwrap()
}

fn set_hash(net: &Net, members: &[usize]) -> Hash {
    let keys: Vec<_> = members.iter().map(|i| net.keys[*i].public_key()).collect();
    urbis_consensus::validator_set_hash(&keys)
}

#[test]
fn council_adds_removes_and_rotates_validators_at_epoch_boundaries() {
    run(11, |ctx| async move {
        // Keys 0–5; the genesis set is 0–3; validators 4 and 5 run from the start, following.
        let net = Net::with(&ctx, 6, 4, Some(EPOCH)).await;
        let mut nodes = Vec::new();
        for i in 0..6 {
            nodes.push(net.start(&ctx, i).await);
        }
        let all: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        wait_all_reach(&ctx, &all, 3, Duration::from_secs(60)).await;
        let n0 = all[1].clone();
        let admin = SecretKey::from_label("admin").address();
        let mut nonce = 0;
        let first_tx = admin_tx(
            &n0,
            nonce,
            Call::new(
                "governance",
                &GovernanceCall::SetCouncil {
                    members: vec![admin],
                    threshold: 1,
                    timelock_ms: 0,
                },
            ),
        )
        .hash();
        commit(
            &ctx,
            &n0,
            nonce,
            GovernanceCall::SetCouncil {
                members: vec![admin],
                threshold: 1,
                timelock_ms: 0,
            },
        )
        .await;
        nonce += 1;

        let added_from = decide(
            &ctx,
            &n0,
            &mut nonce,
            CouncilAction::AddValidator {
                name: "v4".into(),
                public_key: net.keys[4].public_key(),
                address: "10.0.0.4:7000".into(),
            },
        )
        .await;
        // Remove validator 0 in a later epoch than the addition.
        let epochs = n0.sets.epochs;
        let next_epoch = epochs.first(epochs.of(n0.executed_height()) + 1);
        wait_all_reach(&ctx, &all[1..], next_epoch + 1, Duration::from_secs(120)).await;
        let removed_from = decide(
            &ctx,
            &n0,
            &mut nonce,
            CouncilAction::RemoveValidator {
                public_key: net.keys[0].public_key(),
            },
        )
        .await;
        assert!(added_from >= 2 && removed_from > added_from);

        // Refusals: removing a key that is not a validator, adding one twice.
        let refused = commit_refused(&ctx, &n0, &mut nonce).await;
        assert_eq!(refused, "not_found");

        // Validator 3 hands over to key 5, in a later epoch again.
        let next_epoch = epochs.first(epochs.of(n0.executed_height()) + 1);
        wait_all_reach(&ctx, &all[1..], next_epoch + 1, Duration::from_secs(120)).await;
        let rotated_from = decide(
            &ctx,
            &n0,
            &mut nonce,
            CouncilAction::RotateValidator {
                public_key: net.keys[3].public_key(),
                new_key: net.keys[5].public_key(),
                address: Some("10.0.0.5:7000".into()),
            },
        )
        .await;
        assert!(rotated_from > removed_from);

        // Run into the rotation's epoch, then stop validators 0, 1 and 3: the set is now
        // {1, 2, 4, 5}, so 2, 4 and 5 are a quorum (without the removal or the rotation they
        // would not be).
        let removal_height = epochs.first(rotated_from);
        wait_all_reach(&ctx, &all, removal_height + 2, Duration::from_secs(300)).await;
        for i in [3, 1, 0] {
            let (h, _) = nodes.remove(i);
            h.abort();
        }
        let alive: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        let target = removal_height + 2 * EPOCH + 3;
        wait_all_reach(&ctx, &alive, target, Duration::from_secs(300)).await;
        assert_consistent(&alive);

        // Every header carries its epoch's set.
        let chain = &alive[0].chain;
        let v4 = net.keys[4].public_key();
        let mut v4_proposed = 0;
        for h in 1..=target {
            let b = chain.block(h).unwrap().unwrap();
            let e = epochs.of(h);
            let expected = if e >= rotated_from {
                set_hash(&net, &[1, 2, 4, 5])
            } else if e >= removed_from {
                set_hash(&net, &[1, 2, 3, 4])
            } else if e >= added_from {
                set_hash(&net, &[0, 1, 2, 3, 4])
            } else {
                set_hash(&net, &[0, 1, 2, 3])
            };
            assert_eq!(b.header.validator_set, expected, "set of block {h}");
            if b.header.proposer == v4 {
                assert!(e >= added_from, "validator 4 proposed before it was added");
                v4_proposed += 1;
            }
            if epochs.is_boundary(h) {
                assert_eq!(b.header.state_height, h - 1, "boundary {h}");
            }
        }
        eprintln!(
            "added from epoch {added_from}, removed from epoch {removed_from}, rotated from epoch \
             {rotated_from}, chain at {target}, validator 4 proposed {v4_proposed} blocks"
        );
        assert!(v4_proposed > 0, "the added validator proposes");
        for n in &alive {
            assert!(n.evidence.list().is_empty());
            assert_eq!(n.sets.current_set().keys.len(), 4);
        }

        // Proofs from the current epoch verify from the genesis file alone, through the
        // hand-overs; a receipt from before the change does too.
        let trust = urbis_consensus::Trust::from_genesis(&net.genesis);
        let node = alive[0];
        let (answer, bundle) = node
            .prove_certified(
                "accounts",
                &["account", &admin.to_string()],
                ctx.sleep(Duration::from_secs(30)),
            )
            .await
            .unwrap();
        let certified = bundle.headers.last().unwrap().height;
        let epoch = epochs.of(certified);
        assert!(epoch > removed_from, "certified in epoch {epoch}");
        let handovers = bundle.handovers.clone().unwrap();
        assert_eq!(handovers.len() as u64, epoch - 1);
        assert_eq!(
            bundle.version,
            urbis_consensus::bundle::BUNDLE_VERSION_EPOCHS
        );
        assert_eq!(urbis_consensus::verify_bundle(&bundle, &trust).unwrap(), 4);
        eprintln!(
            "a bundle certified in epoch {epoch}: {} bytes of JSON, its {} hand-overs {} bytes",
            serde_json::to_vec(&bundle).unwrap().len(),
            handovers.len(),
            serde_json::to_vec(&handovers).unwrap().len()
        );
        assert!(answer.value.is_object());
        let receipt = node
            .prove_receipt(&first_tx, ctx.sleep(Duration::from_secs(30)))
            .await
            .unwrap();
        urbis_consensus::verify_receipt_bundle(&receipt, &trust).unwrap();

        // Tampering anywhere in the walk fails it.
        let mut t = bundle.clone();
        t.handovers.as_mut().unwrap().pop();
        assert!(
            urbis_consensus::verify_bundle(&t, &trust).is_err(),
            "a hand-over missing"
        );
        let mut t = bundle.clone();
        let hs = t.handovers.as_mut().unwrap();
        let k = (added_from - 2) as usize; // the hand-over that names the set with validator 4
        hs[k].schedule.value.as_mut().unwrap()[20] ^= 1;
        assert!(
            urbis_consensus::verify_bundle(&t, &trust).is_err(),
            "a schedule changed"
        );
        let mut t = bundle.clone();
        t.handovers.as_mut().unwrap()[k].finalization[40] ^= 1;
        assert!(
            urbis_consensus::verify_bundle(&t, &trust).is_err(),
            "a certificate changed"
        );
        let mut t = bundle.clone();
        t.handovers = None;
        t.version = urbis_consensus::bundle::BUNDLE_VERSION;
        assert!(
            urbis_consensus::verify_bundle(&t, &trust).is_err(),
            "no hand-overs"
        );
        // The genesis set alone does not verify a certificate of the changed set.
        let genesis_only = urbis_consensus::Trust::fixed(CHAIN, &trust.validators);
        assert!(urbis_consensus::verify_bundle(&t, &genesis_only).is_err());
    });
}

/// A change the schedule refuses fails the council's execution with its own error code and
/// changes nothing; returns that code.
async fn commit_refused(ctx: &Ctx, node: &Node, nonce: &mut u64) -> String {
    let before = node
        .chain
        .state_view()
        .map(|v| urbis_runtime::validators::read_schedule(&v).unwrap())
        .unwrap();
    let proposed = commit(
        ctx,
        node,
        *nonce,
        GovernanceCall::Propose {
            action: CouncilAction::RemoveValidator {
                public_key: SecretKey::from_label("nobody").public_key(),
            },
            description_hash: Hash([8; 32]),
        },
    )
    .await;
    let id: Hash = attr(&proposed, "proposed", "id").parse().unwrap();
    let tx = admin_tx(
        node,
        *nonce + 1,
        Call::new("governance", &GovernanceCall::Execute { proposal: id }),
    );
    let hash = tx.hash();
    node.submit(tx).unwrap();
    *nonce += 2;
    loop {
        if let Some(r) = node.chain.receipt(&hash).unwrap() {
            assert!(!r.success);
            let after = node
                .chain
                .state_view()
                .map(|v| urbis_runtime::validators::read_schedule(&v).unwrap())
                .unwrap();
            assert_eq!(before, after, "a refused change changes nothing");
            return r.error.unwrap().code.to_string();
        }
        ctx.sleep(Duration::from_millis(50)).await;
    }
}
