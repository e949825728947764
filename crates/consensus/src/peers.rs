//! Which validators this node hears from: a p2p receiver wrapper that notes each message's
//! sender, for the `urbis_peers_active` metric (consensus votes flow every view, so a connected
//! validator is heard from continuously). Wall-clock based: metrics only, never state.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use commonware_p2p::{Message, Receiver};

/// Last time each peer was heard from.
#[derive(Default)]
pub struct PeerSeen {
    last: Mutex<BTreeMap<Vec<u8>, Instant>>,
}

impl PeerSeen {
    pub fn saw(&self, peer: &[u8]) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.insert(peer.to_vec(), Instant::now());
    }

    /// Peers heard from within `window`.
    pub fn active(&self, window: Duration) -> usize {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.values().filter(|t| t.elapsed() <= window).count()
    }
}

impl fmt::Debug for PeerSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeerSeen")
    }
}

/// A receiver that records who it receives from.
#[derive(Debug)]
pub struct Observed<R> {
    pub inner: R,
    pub seen: Arc<PeerSeen>,
}

impl<R: Receiver> Receiver for Observed<R> {
    type Error = R::Error;
    type PublicKey = R::PublicKey;

    async fn recv(&mut self) -> Result<Message<Self::PublicKey>, Self::Error> {
        let msg = self.inner.recv().await?;
        self.seen.saw(msg.0.as_ref());
        Ok(msg)
    }

    fn capacity(&self) -> NonZeroUsize {
        self.inner.capacity()
    }
}
