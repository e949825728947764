//! The door of a validator: what `Shared::submit` does with a transaction before any block.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use commonware_runtime::{Runner as _, Supervisor as _, deterministic};
use urbis_accounts::AccountsCall;
use urbis_consensus::{MempoolConfig, Shared};
use urbis_core::{Call, SecretKey, SignedTx};
use urbis_runtime::{Genesis, GenesisValidator};
use urbis_state::ChainStore;

fn genesis() -> Genesis {
    let admin = SecretKey::from_label("admin").address();
    let mut modules = BTreeMap::new();
    modules.insert(
        "accounts".to_string(),
        serde_json::json!({"accounts": [{"address": admin, "roles": ["city_admin"]}]}),
    );
    Genesis {
        epoch_length: None,
        chain_id: "door".into(),
        genesis_time_ms: 1_000,
        validators: vec![GenesisValidator {
            name: "v".into(),
            public_key: SecretKey::from_label("v").public_key(),
            address: String::new(),
        }],
        modules,
    }
}

#[test]
fn relaying_is_bounded_and_never_loses_an_admitted_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    deterministic::Runner::seeded(3).start(|ctx| async move {
        let chain = Arc::new(ChainStore::open(&path).unwrap());
        let shared = Shared::open(
            ctx.child("state"),
            "",
            chain,
            genesis(),
            urbis_registry::runtime("door"),
            MempoolConfig::default(),
        )
        .await
        .unwrap();
        // Pretend the node has caught up with the network.
        shared.finalized_tip.store(1, Ordering::Relaxed);
        // A relay queue of two that nobody drains: peers that cannot keep up.
        let (relay, _undrained) = tokio::sync::mpsc::channel(2);
        assert!(shared.gossip.set(relay).is_ok());
        let admin = SecretKey::from_label("admin");
        for nonce in 0..5u64 {
            let tx = SignedTx::new(
                &shared.chain_ref,
                &admin,
                nonce,
                Call::new(
                    "accounts",
                    &AccountsCall::SetLabel {
                        label: format!("l{nonce}"),
                    },
                ),
            );
            shared.submit(tx).unwrap();
        }
        assert_eq!(
            shared.mempool.stats().txs,
            5,
            "every transaction was admitted"
        );
        assert_eq!(
            shared.counters.gossip_dropped.load(Ordering::Relaxed),
            3,
            "the relay queue held two; three were not relayed (this node proposes them)"
        );
    });
}
