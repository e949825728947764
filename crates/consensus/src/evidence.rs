//! Evidence of Byzantine behaviour: simplex reports conflicting votes it observes; we record
//! them (who, what, which view) so that operators and the API can see misbehaving validators.

use std::sync::{Arc, Mutex};

use commonware_consensus::Reporter;
use commonware_consensus::Viewable as _;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{Activity, Attributable as _};
use commonware_cryptography::certificate::Scheme as _;
use commonware_cryptography::sha256;
use commonware_utils::ordered::Quorum as _;
use serde::Serialize;
use tracing::warn;
use urbis_core::PublicKey;

use crate::app::to_public_key;

/// One piece of recorded evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `conflicting_notarize`, `conflicting_finalize` or `nullify_finalize`.
    pub kind: &'static str,
    pub validator: Option<PublicKey>,
    pub view: u64,
}

/// Evidence seen by this node (bounded; oldest dropped first).
#[derive(Default)]
pub struct EvidenceLog {
    items: Mutex<Vec<Evidence>>,
}

const MAX_EVIDENCE: usize = 10_000;

impl EvidenceLog {
    pub fn record(&self, e: Evidence) {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        if items.contains(&e) {
            return;
        }
        warn!(kind = e.kind, validator = ?e.validator, view = e.view, "validator misbehaviour detected");
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
                kind,
                validator,
                view: view.get(),
            });
        }
        self.inner.report(activity)
    }
}
