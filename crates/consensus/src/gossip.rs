//! Transaction gossip: a transaction admitted by one validator's API is forwarded to every other
//! validator, so it is included whoever leads the next view.
//!
//! Outbound, transactions are batched (up to [`MAX_BATCH`] per message) and sent to all peers;
//! the queue in front of it is bounded ([`crate::shared::GOSSIP_QUEUE`]): when peers cannot keep
//! up, a transaction is not relayed and only this node proposes it.
//! Inbound, each batch is decoded with the same limits as the API and each transaction goes
//! through the same door checks; anything invalid is dropped (a peer cannot make us accept what
//! a client could not).

use std::sync::Arc;

use commonware_cryptography::ed25519;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Spawner;
use tokio::sync::mpsc;
use tracing::debug;
use urbis_core::{SignedTx, limits};

use crate::shared::Shared;

/// Transactions per gossip message.
pub const MAX_BATCH: usize = 256;

/// Largest gossip message.
pub fn max_gossip_bytes() -> usize {
    MAX_BATCH * limits::MAX_TX_BYTES / 16 + 1024
}

/// Forward locally admitted transactions to all peers.
pub async fn outbound<S>(mut rx: mpsc::Receiver<SignedTx>, mut sender: S)
where
    S: Sender<PublicKey = ed25519::PublicKey>,
{
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let mut bytes = borsh::object_length(&batch[0]).unwrap_or(0);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(tx) => {
                    bytes += borsh::object_length(&tx).unwrap_or(0);
                    batch.push(tx);
                    if bytes > max_gossip_bytes() / 2 {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        let encoded = borsh::to_vec(&batch).expect("borsh to vec never fails");
        sender.send(Recipients::All, encoded, false);
    }
}

/// Admit transactions forwarded by peers.
pub async fn inbound<E, R>(shared: Arc<Shared<E>>, mut receiver: R)
where
    E: commonware_storage::Context + Spawner,
    R: Receiver<PublicKey = ed25519::PublicKey>,
{
    while let Ok((peer, msg)) = receiver.recv().await {
        let bytes: &[u8] = msg.as_ref();
        if bytes.len() > max_gossip_bytes() {
            debug!(?peer, "oversized gossip message dropped");
            continue;
        }
        let Ok(batch) = borsh::from_slice::<Vec<SignedTx>>(bytes) else {
            debug!(?peer, "undecodable gossip message dropped");
            continue;
        };
        if batch.len() > MAX_BATCH {
            debug!(?peer, "oversized gossip batch dropped");
            continue;
        }
        shared.submit_from_peer_batch(batch);
    }
}
