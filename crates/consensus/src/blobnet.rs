//! A p2p channel for the node's blob store (channel 6), handed to the node as two plain queues
//! so that the blob protocol itself (in `urbis-node`) knows nothing of Commonware's types.
//!
//! The channel runs on the same authenticated, encrypted network as consensus and talks only
//! to validators. Each message is at most [`MAX_BLOB_MESSAGE`] bytes; the node splits blobs into
//! parts below that.

use commonware_cryptography::ed25519;
use commonware_p2p::{Receiver, Recipients, Sender};
use tokio::sync::mpsc;
use tracing::debug;
use urbis_core::PublicKey;

/// The blob channel's number.
pub const CHANNEL_BLOBS: u64 = 6;
/// Largest message on the blob channel (the network's size limit is above it).
pub const MAX_BLOB_MESSAGE: usize = 768 * 1024;
/// Messages queued each way.
const QUEUE: usize = 256;

/// Where a message goes.
#[derive(Clone, Debug)]
pub enum To {
    All,
    One(PublicKey),
}

/// The node's end of the blob channel.
pub struct BlobLink {
    /// Messages to send.
    pub outbound: mpsc::Sender<(To, Vec<u8>)>,
    /// Messages received, with the validator that sent them.
    pub inbound: mpsc::Receiver<(PublicKey, Vec<u8>)>,
}

fn to_ed25519(pk: &PublicKey) -> Option<ed25519::PublicKey> {
    commonware_codec::DecodeExt::decode(commonware_codec::Copying(pk.raw())).ok()
}

/// Bridge a registered p2p channel to a [`BlobLink`]; the two futures run until the network or
/// the node's end closes.
pub fn bridge<S, R>(
    mut sender: S,
    mut receiver: R,
) -> (
    BlobLink,
    impl Future<Output = ()> + Send,
    impl Future<Output = ()> + Send,
)
where
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
{
    let (out_tx, mut out_rx) = mpsc::channel::<(To, Vec<u8>)>(QUEUE);
    let (in_tx, in_rx) = mpsc::channel::<(PublicKey, Vec<u8>)>(QUEUE);
    let send = async move {
        while let Some((to, bytes)) = out_rx.recv().await {
            if bytes.len() > MAX_BLOB_MESSAGE {
                debug!(len = bytes.len(), "oversized blob message not sent");
                continue;
            }
            let recipients = match to {
                To::All => Recipients::All,
                To::One(pk) => match to_ed25519(&pk) {
                    Some(k) => Recipients::One(k),
                    None => continue,
                },
            };
            sender.send(recipients, bytes, false);
        }
    };
    let recv = async move {
        while let Ok((peer, msg)) = receiver.recv().await {
            let bytes: &[u8] = msg.as_ref();
            if bytes.len() > MAX_BLOB_MESSAGE {
                debug!(?peer, "oversized blob message dropped");
                continue;
            }
            let from = crate::app::to_public_key(&peer);
            if in_tx.send((from, bytes.to_vec())).await.is_err() {
                return;
            }
        }
    };
    (
        BlobLink {
            outbound: out_tx,
            inbound: in_rx,
        },
        send,
        recv,
    )
}
