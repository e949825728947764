//! Evidence of Byzantine behaviour: simplex reports conflicting votes it observes; we record
//! them (who, what, which view) so that operators and the API can see misbehaving validators.
//! The log is persisted in the chain store (one JSON record each), so it survives restarts.

use std::sync::{Arc, Mutex};

use commonware_consensus::Reporter;
use commonware_consensus::Viewable as _;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{Activity, Attributable as _};
use commonware_cryptography::certificate::Scheme as _;
use commonware_cryptography::sha256;
use commonware_utils::ordered::Quorum as _;
use serde::{Deserialize, Serialize};
use tracing::{error, warn};
use urbis_core::{PublicKey, UrbisError};
use urbis_state::ChainStore;

use crate::app::to_public_key;

/// One piece of recorded evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// `conflicting_notarize`, `conflicting_finalize` or `nullify_finalize`.
    pub kind: String,
    pub validator: Option<PublicKey>,
    pub view: u64,
}

/// Evidence seen by this node: the newest [`MAX_EVIDENCE`] in memory, all of it on disk.
pub struct EvidenceLog {
    items: Mutex<Vec<Evidence>>,
    store: Option<Arc<ChainStore>>,
}

/// Records kept in memory (and served by the API).
pub const MAX_EVIDENCE: usize = 10_000;

impl Default for EvidenceLog {
    /// An in-memory log (tests).
    fn default() -> Self {
        EvidenceLog {
            items: Mutex::new(Vec::new()),
            store: None,
        }
    }
}

impl EvidenceLog {
    /// The log persisted in `store`, loaded with what earlier runs recorded.
    pub fn open(store: Arc<ChainStore>) -> Result<Self, UrbisError> {
        let items = store
            .evidence(MAX_EVIDENCE)?
            .iter()
            .filter_map(|bytes| serde_json::from_slice(bytes).ok())
            .collect();
        Ok(EvidenceLog {
            items: Mutex::new(items),
            store: Some(store),
        })
    }

    pub fn record(&self, e: Evidence) {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        if items.contains(&e) {
            return;
        }
        warn!(kind = %e.kind, validator = ?e.validator, view = e.view, "validator misbehaviour detected");
        if let Some(store) = &self.store {
            let bytes = serde_json::to_vec(&e).unwrap_or_default();
            if let Err(err) = store.append_evidence(&bytes) {
                error!(%err, "cannot persist evidence");
            }
        }
        if items.len() >= MAX_EVIDENCE {
            items.remove(0);
        }
        items.push(e);
    }

    pub fn list(&self) -> Vec<Evidence> {
        self.items.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Wraps the consensus reporter, recording evidence before forwarding every activity.
#[derive(Clone)]
pub struct WithEvidence<R> {
    pub inner: R,
    pub log: Arc<EvidenceLog>,
    pub scheme: Scheme,
}

impl<R> Reporter for WithEvidence<R>
where
    R: Reporter<Activity = Activity<Scheme, sha256::Digest>>,
{
    type Activity = Activity<Scheme, sha256::Digest>;

    fn report(&mut self, activity: Self::Activity) -> commonware_actor::Feedback {
        let found = match &activity {
            Activity::ConflictingNotarize(c) => {
                Some(("conflicting_notarize", c.signer(), c.view()))
            }
            Activity::ConflictingFinalize(c) => {
                Some(("conflicting_finalize", c.signer(), c.view()))
            }
            Activity::NullifyFinalize(c) => Some(("nullify_finalize", c.signer(), c.view())),
            _ => None,
        };
        if let Some((kind, signer, view)) = found {
            let validator = self.scheme.participants().key(signer).map(to_public_key);
            self.log.record(Evidence {
                kind: kind.to_string(),
                validator,
                view: view.get(),
            });
        }
        self.inner.report(activity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use urbis_core::SecretKey;

    #[test]
    fn evidence_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let e = Evidence {
            kind: "conflicting_notarize".into(),
            validator: Some(SecretKey::from_label("v3").public_key()),
            view: 42,
        };
        {
            let log = EvidenceLog::open(Arc::new(ChainStore::open(&path).unwrap())).unwrap();
            log.record(e.clone());
            log.record(e.clone());
            assert_eq!(log.list(), vec![e.clone()]);
        }
        let log = EvidenceLog::open(Arc::new(ChainStore::open(&path).unwrap())).unwrap();
        assert_eq!(log.list(), vec![e.clone()], "loaded from disk");
        log.record(e.clone());
        assert_eq!(log.list().len(), 1, "still recorded once");
    }
}
