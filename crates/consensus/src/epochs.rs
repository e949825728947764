//! Epochs and the validator set of each, as this node knows them.
//!
//! The schedule lives in the state (`urbis_runtime::validators`); this keeps the sets the node
//! has learnt from it: after executing a block of epoch `c`, every set up to epoch `c + 1` is
//! final (up to `c + 2` once the last block of `c` is executed). The executor updates it; consensus (the per-epoch engines, marshal's certificate
//! provider, the p2p peer sets) and the application (the header's `validator_set`) read it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::types::Epoch;
use commonware_cryptography::certificate::{self, Scoped};
use commonware_cryptography::{Signer as _, ed25519};
use commonware_utils::ordered::Set;
use tokio::sync::watch;
use urbis_core::{Hash, PublicKey, UrbisError};
use urbis_runtime::validators::{Epochs, Schedule, Validator, read_schedule};
use urbis_runtime::{Genesis, StateView};

use crate::shared::validator_set_hash;

/// One epoch's validators.
#[derive(Debug)]
pub struct EpochSet {
    /// First epoch this set signs.
    pub from_epoch: u64,
    /// Sorted by key.
    pub validators: Vec<Validator>,
    pub keys: Vec<PublicKey>,
    /// What block headers of its epochs carry as `validator_set`.
    pub hash: Hash,
    pub participants: Set<ed25519::PublicKey>,
}

impl EpochSet {
    fn new(from_epoch: u64, mut validators: Vec<Validator>) -> Result<Self, UrbisError> {
        validators.sort_by_key(|v| v.public_key);
        let keys: Vec<PublicKey> = validators.iter().map(|v| v.public_key).collect();
        let participants = crate::engine::try_participant_set(&keys)
            .filter(|p| p.len() == keys.len() && !keys.is_empty())
            .ok_or_else(|| {
                UrbisError::new(
                    urbis_core::ErrorCode::Internal,
                    format!(
                        "the validator set from epoch {from_epoch} is not a set of usable keys"
                    ),
                )
            })?;
        Ok(EpochSet {
            from_epoch,
            hash: validator_set_hash(&keys),
            validators,
            keys,
            participants,
        })
    }

    pub fn contains(&self, pk: &PublicKey) -> bool {
        self.keys.binary_search(pk).is_ok()
    }
}

/// Where consensus stands: the epoch to run and the block its consensus starts from (genesis,
/// or the previous epoch's last block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochStart {
    pub epoch: u64,
    pub floor: Hash,
}

/// The sets this node knows, by first epoch, and how far they are final.
pub struct EpochSets {
    pub epochs: Epochs,
    sets: RwLock<Known>,
    /// The epoch whose consensus runs now (the executor moves it past each boundary block).
    pub current: watch::Sender<EpochStart>,
}

struct Known {
    by_start: BTreeMap<u64, Arc<EpochSet>>,
    /// Sets are final up to this epoch.
    final_until: u64,
}

impl EpochSets {
    /// The sets as of a state at executed height `executed`, whose consensus starts from
    /// `start`.
    pub fn open(
        genesis: &Genesis,
        view: &dyn StateView,
        executed: u64,
        start: EpochStart,
    ) -> Result<Self, UrbisError> {
        let epochs = Epochs::new(genesis.epoch_length);
        let sets = EpochSets {
            epochs,
            sets: RwLock::new(Known {
                by_start: BTreeMap::new(),
                final_until: 0,
            }),
            current: watch::channel(start).0,
        };
        match read_schedule(view)? {
            Some(schedule) => sets.learn(&schedule, executed)?,
            None => {
                let validators = genesis
                    .validators
                    .iter()
                    .map(|v| Validator {
                        name: v.name.clone(),
                        public_key: v.public_key,
                        address: v.address.clone(),
                    })
                    .collect();
                let mut known = sets.sets.write().unwrap_or_else(|p| p.into_inner());
                known
                    .by_start
                    .insert(0, Arc::new(EpochSet::new(0, validators)?));
                known.final_until = u64::MAX;
            }
        }
        Ok(sets)
    }

    /// One set forever (a chain without epochs).
    pub fn fixed(keys: &[PublicKey], start: EpochStart) -> Result<Self, UrbisError> {
        let validators = keys
            .iter()
            .map(|k| Validator {
                name: String::new(),
                public_key: *k,
                address: String::new(),
            })
            .collect();
        let mut by_start = BTreeMap::new();
        by_start.insert(0, Arc::new(EpochSet::new(0, validators)?));
        Ok(EpochSets {
            epochs: Epochs::NONE,
            sets: RwLock::new(Known {
                by_start,
                final_until: u64::MAX,
            }),
            current: watch::channel(start).0,
        })
    }

    /// The sets of epochs `0..=sets.len() − 1` (`sets[e]` signs epoch `e`), as a verifier
    /// walked them through hand-overs (a node joining by state sync).
    pub fn walked(
        epochs: Epochs,
        sets: Vec<Vec<PublicKey>>,
        start: EpochStart,
    ) -> Result<Self, UrbisError> {
        let final_until = (sets.len() as u64).saturating_sub(1);
        let mut by_start = BTreeMap::new();
        for (e, keys) in sets.into_iter().enumerate() {
            let validators = keys
                .into_iter()
                .map(|k| Validator {
                    name: String::new(),
                    public_key: k,
                    address: String::new(),
                })
                .collect();
            by_start.insert(e as u64, Arc::new(EpochSet::new(e as u64, validators)?));
        }
        Ok(EpochSets {
            epochs,
            sets: RwLock::new(Known {
                by_start,
                final_until,
            }),
            current: watch::channel(start).0,
        })
    }

    /// Take what `schedule` (the state after executing `executed`) makes final.
    fn learn(&self, schedule: &Schedule, executed: u64) -> Result<(), UrbisError> {
        // After the last block of epoch `c − 1` the set of `c + 1` is final.
        let final_until = self.epochs.of(executed.saturating_add(1)).saturating_add(1);
        let mut by_start = BTreeMap::new();
        for s in schedule.sets.iter().filter(|s| s.from_epoch <= final_until) {
            by_start.insert(
                s.from_epoch,
                Arc::new(EpochSet::new(s.from_epoch, s.validators.clone())?),
            );
        }
        let mut known = self.sets.write().unwrap_or_else(|p| p.into_inner());
        // Sets already known are kept (the same `Arc`s): they never change.
        for (k, v) in by_start {
            known.by_start.entry(k).or_insert(v);
        }
        known.final_until = known.final_until.max(final_until);
        Ok(())
    }

    /// After executing block `height` (state `view`): learn the next epoch's set when a new
    /// epoch began.
    pub fn executed(&self, height: u64, view: &dyn StateView) -> Result<(), UrbisError> {
        if !self.epochs.enabled() {
            return Ok(());
        }
        let next = self.epochs.of(height.saturating_add(1)).saturating_add(1);
        if self.final_until() >= next {
            return Ok(());
        }
        if let Some(schedule) = read_schedule(view)? {
            self.learn(&schedule, height)?;
        }
        Ok(())
    }

    pub fn final_until(&self) -> u64 {
        self.sets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .final_until
    }

    /// The set of `epoch`, once final.
    pub fn get(&self, epoch: u64) -> Option<Arc<EpochSet>> {
        let known = self.sets.read().unwrap_or_else(|p| p.into_inner());
        if epoch > known.final_until {
            return None;
        }
        known
            .by_start
            .range(..=epoch)
            .next_back()
            .map(|(_, s)| s.clone())
    }

    /// The set of the epoch holding `height`.
    pub fn at_height(&self, height: u64) -> Option<Arc<EpochSet>> {
        self.get(self.epochs.of(height))
    }

    /// The set signing now.
    pub fn current_set(&self) -> Arc<EpochSet> {
        let epoch = self.current.borrow().epoch;
        self.get(epoch)
            .or_else(|| self.get(0))
            .expect("epoch 0 always has a set")
    }

    /// Every known set, by first epoch.
    pub fn all(&self) -> Vec<Arc<EpochSet>> {
        let known = self.sets.read().unwrap_or_else(|p| p.into_inner());
        known
            .by_start
            .range(..=known.final_until)
            .map(|(_, s)| s.clone())
            .collect()
    }
}

/// Marshal's (and the engines') signing schemes, one per epoch, from the known sets: a signing
/// scheme where this node's key is in the epoch's set, a verifier elsewhere.
#[derive(Clone)]
pub struct SchemeProvider {
    sets: Arc<EpochSets>,
    namespace: Arc<Vec<u8>>,
    signer: Option<ed25519::PrivateKey>,
    cache: Arc<RwLock<BTreeMap<u64, Scoped<Scheme>>>>,
}

impl SchemeProvider {
    pub fn new(
        sets: Arc<EpochSets>,
        namespace: Vec<u8>,
        signer: Option<ed25519::PrivateKey>,
    ) -> Self {
        SchemeProvider {
            sets,
            namespace: Arc::new(namespace),
            signer,
            cache: Arc::default(),
        }
    }

    /// The scheme of `epoch` and whether this node signs in it.
    pub fn scheme_for(&self, epoch: u64) -> Option<(Scheme, bool)> {
        let set = self.sets.get(epoch)?;
        if let Some(signer) = &self.signer
            && let Some(s) =
                Scheme::signer(&self.namespace, set.participants.clone(), signer.clone())
        {
            return Some((s, true));
        }
        Some((
            Scheme::verifier(&self.namespace, set.participants.clone()),
            false,
        ))
    }

    /// This node's consensus key.
    pub fn public_key(&self) -> Option<ed25519::PublicKey> {
        self.signer.as_ref().map(|s| s.public_key())
    }
}

impl certificate::Provider for SchemeProvider {
    type Scope = Epoch;
    type Scheme = Scheme;

    fn scoped(&self, epoch: Epoch) -> Option<Scoped<Scheme>> {
        let set = self.sets.get(epoch.get())?;
        if let Some(s) = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&set.from_epoch)
        {
            return Some(s.clone());
        }
        let (scheme, signs) = self.scheme_for(epoch.get())?;
        let scoped = if signs {
            Scoped::scheme(Arc::new(scheme))
        } else {
            Scoped::verifier(Arc::new(scheme))
        };
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(set.from_epoch, scoped.clone());
        Some(scoped)
    }
}
