//! The validator schedule: which validators sign each epoch of a chain that has epochs.
//!
//! A chain whose genesis sets `epoch_length` (`L`, at least 2) is cut into epochs of `L` blocks:
//! epoch `e` holds heights `e·L ..= e·L + L − 1`, so epoch 0 holds genesis, and the last block of
//! an epoch (its *boundary block*) is the first block of the next epoch's consensus (its floor).
//! A chain without `epoch_length` has one epoch forever and its validators never change.
//!
//! The schedule is one state key, `system/validators` (borsh [`Schedule`]), written at genesis
//! and changed only by the council (the governance module's `add_validator`,
//! `remove_validator` and `rotate_validator` actions, through [`SystemOp`]). A change made while
//! the chain is in epoch `c` (the executing block's height is in `c`) takes effect at epoch
//! `c + 2`: the set of epoch `c + 1` is then fixed, so every node knows the next epoch's set a
//! whole epoch before it starts (new validators connect and catch up during it), and the state
//! of any block whose `state_height` is at least the last height of epoch `c − 1` proves the set
//! of epoch `c + 1` — which is what a verifier starting from the genesis file walks from epoch to
//! epoch (see `docs/validator-sets.md`).

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_core::{ErrorCode, Event, PublicKey, UrbisError};

use crate::ctx::{Ctx, view_get};
use crate::runtime::GenesisValidator;
use crate::state::StateView;

/// State key of the schedule.
pub const SCHEDULE_KEY: &[u8] = b"system/validators";

/// Most validators in one epoch's set.
pub const MAX_VALIDATORS: usize = 64;
/// Longest validator name and p2p address.
pub const MAX_NAME_LEN: usize = 64;
pub const MAX_ADDRESS_LEN: usize = 255;
/// Most future sets a schedule holds (changes already decided for later epochs).
pub const MAX_PENDING_SETS: usize = 16;
/// Shortest epoch: epoch 0 must hold a block after genesis.
pub const MIN_EPOCH_LENGTH: u64 = 2;

/// Epochs of a chain: `length` blocks each (`u64::MAX` for a chain without epochs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epochs {
    pub length: u64,
}

impl Epochs {
    /// One epoch forever.
    pub const NONE: Epochs = Epochs { length: u64::MAX };

    pub fn new(length: Option<u64>) -> Self {
        Epochs {
            length: length.unwrap_or(u64::MAX),
        }
    }

    pub fn enabled(&self) -> bool {
        self.length != u64::MAX
    }

    /// The epoch holding `height`.
    pub fn of(&self, height: u64) -> u64 {
        height / self.length
    }

    /// First height of `epoch`.
    pub fn first(&self, epoch: u64) -> u64 {
        epoch.saturating_mul(self.length)
    }

    /// Last height of `epoch` (its boundary block).
    pub fn last(&self, epoch: u64) -> u64 {
        self.first(epoch)
            .saturating_add(self.length)
            .saturating_sub(1)
    }

    /// Whether `height` is the last block of its epoch.
    pub fn is_boundary(&self, height: u64) -> bool {
        self.enabled() && height == self.last(self.of(height))
    }
}

/// One validator of a set.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub struct Validator {
    pub name: String,
    pub public_key: PublicKey,
    /// `host:port` of its p2p endpoint.
    pub address: String,
}

/// The set that signs from epoch `from_epoch` until the next entry.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub struct ScheduledSet {
    pub from_epoch: u64,
    /// Sorted by public key, no key twice.
    pub validators: Vec<Validator>,
}

/// The value of [`SCHEDULE_KEY`].
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub struct Schedule {
    pub epoch_length: u64,
    /// Strictly increasing `from_epoch`, the first 0: every set the chain has had or will have.
    pub sets: Vec<ScheduledSet>,
}

impl Schedule {
    /// The schedule a genesis starts with.
    pub fn genesis(epoch_length: u64, validators: &[GenesisValidator]) -> Self {
        let mut set: Vec<Validator> = validators
            .iter()
            .map(|v| Validator {
                name: v.name.clone(),
                public_key: v.public_key,
                address: v.address.clone(),
            })
            .collect();
        set.sort_by_key(|v| v.public_key);
        Schedule {
            epoch_length,
            sets: vec![ScheduledSet {
                from_epoch: 0,
                validators: set,
            }],
        }
    }

    pub fn epochs(&self) -> Epochs {
        Epochs {
            length: self.epoch_length,
        }
    }

    /// The set that signs `epoch` as far as this schedule knows (the sets of epochs up to one
    /// after the current are final).
    pub fn set_for(&self, epoch: u64) -> Option<&[Validator]> {
        self.sets
            .iter()
            .rev()
            .find(|s| s.from_epoch <= epoch)
            .map(|s| s.validators.as_slice())
    }

    /// Apply `op`, decided in epoch `current`: it changes the set of epoch `current + 2`.
    pub fn apply(&mut self, current: u64, op: &SystemOp) -> Result<u64, UrbisError> {
        let target = current.saturating_add(2);
        let mut set = self
            .set_for(target)
            .map(<[Validator]>::to_vec)
            .unwrap_or_default();
        match op {
            SystemOp::AddValidator {
                name,
                public_key,
                address,
            } => {
                check_validator(name, address)?;
                if set.iter().any(|v| v.public_key == *public_key) {
                    return Err(err(
                        ErrorCode::AlreadyExists,
                        format!("{public_key} is a validator already"),
                    ));
                }
                if set.len() >= MAX_VALIDATORS {
                    return Err(err(
                        ErrorCode::InvalidState,
                        format!("a set holds at most {MAX_VALIDATORS} validators"),
                    ));
                }
                set.push(Validator {
                    name: name.clone(),
                    public_key: *public_key,
                    address: address.clone(),
                });
            }
            SystemOp::RemoveValidator { public_key } => {
                let before = set.len();
                set.retain(|v| v.public_key != *public_key);
                if set.len() == before {
                    return Err(not_validator(public_key));
                }
                if set.is_empty() {
                    return Err(err(
                        ErrorCode::InvalidState,
                        "the last validator cannot be removed",
                    ));
                }
            }
            SystemOp::RotateValidator {
                public_key,
                new_key,
                address,
            } => {
                if set.iter().any(|v| v.public_key == *new_key) {
                    return Err(err(
                        ErrorCode::AlreadyExists,
                        format!("{new_key} is a validator already"),
                    ));
                }
                let v = set
                    .iter_mut()
                    .find(|v| v.public_key == *public_key)
                    .ok_or_else(|| not_validator(public_key))?;
                if let Some(a) = address {
                    check_validator(&v.name, a)?;
                    v.address = a.clone();
                }
                v.public_key = *new_key;
            }
        }
        set.sort_by_key(|v| v.public_key);
        match self.sets.iter_mut().find(|s| s.from_epoch == target) {
            Some(s) => s.validators = set,
            None => {
                if self.sets.iter().filter(|s| s.from_epoch > current).count() >= MAX_PENDING_SETS {
                    return Err(err(
                        ErrorCode::InvalidState,
                        "too many validator sets are scheduled",
                    ));
                }
                self.sets.push(ScheduledSet {
                    from_epoch: target,
                    validators: set,
                });
                self.sets.sort_by_key(|s| s.from_epoch);
            }
        }
        // Every entry is kept: the schedule is the chain's whole validator history (a node that
        // starts, or syncs its state, learns every epoch's set from it). It grows by one entry
        // per epoch with changes; a value too large for the state refuses the change.
        Ok(target)
    }
}

fn check_validator(name: &str, address: &str) -> Result<(), UrbisError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("a validator's name has 1 to {MAX_NAME_LEN} bytes"),
        ));
    }
    let ok = address.len() <= MAX_ADDRESS_LEN
        && address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !ok {
        return Err(err(
            ErrorCode::InvalidArgument,
            "a validator's address is host:port",
        ));
    }
    Ok(())
}

fn not_validator(pk: &PublicKey) -> UrbisError {
    err(ErrorCode::NotFound, format!("{pk} is not a validator"))
}

fn err(code: ErrorCode, message: impl Into<String>) -> UrbisError {
    UrbisError::new(code, message)
}

/// Changes to the schedule, invoked by the governance module (the council's actions).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SystemOp {
    AddValidator {
        name: String,
        public_key: PublicKey,
        address: String,
    },
    RemoveValidator {
        public_key: PublicKey,
    },
    RotateValidator {
        public_key: PublicKey,
        new_key: PublicKey,
        /// A new p2p address, if it moves too.
        address: Option<String>,
    },
}

/// Module allowed to change the schedule.
pub const SCHEDULE_CALLER: &str = "governance";

/// The schedule in `view` (`None` on a chain without epochs).
pub fn read_schedule(view: &dyn StateView) -> Result<Option<Schedule>, UrbisError> {
    view_get(view, SCHEDULE_KEY)
}

/// Run `op` in the `system` namespace (called through the runtime's dispatcher).
pub(crate) fn run(ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
    if ctx.caller() != Some(SCHEDULE_CALLER) {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the council changes the validator set",
        ));
    }
    let op = SystemOp::try_from_slice(op).map_err(|e| {
        err(
            ErrorCode::InvalidArgument,
            format!("bad system operation: {e}"),
        )
    })?;
    let Some(mut schedule) = ctx.get::<Schedule>(SCHEDULE_KEY)? else {
        return Err(err(
            ErrorCode::InvalidState,
            "this chain has no epochs (its genesis sets no epoch_length): its validators are fixed",
        ));
    };
    let current = schedule.epochs().of(ctx.height());
    let target = schedule.apply(current, &op)?;
    let (kind, key) = match &op {
        SystemOp::AddValidator { public_key, .. } => ("validator_added", public_key),
        SystemOp::RemoveValidator { public_key } => ("validator_removed", public_key),
        SystemOp::RotateValidator { new_key, .. } => ("validator_rotated", new_key),
    };
    let size = schedule.set_for(target).map_or(0, <[Validator]>::len);
    ctx.put(SCHEDULE_KEY.to_vec(), &schedule);
    ctx.emit(
        Event::new("system", kind)
            .with("public_key", key)
            .with("from_epoch", target)
            .with("from_height", schedule.epochs().first(target))
            .with("validators", size),
    );
    Ok(borsh::to_vec(&target).expect("borsh to vec never fails"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> PublicKey {
        PublicKey::Ed25519([b; 32])
    }

    fn v(b: u8) -> GenesisValidator {
        GenesisValidator {
            name: format!("v{b}"),
            public_key: key(b),
            address: format!("10.0.0.{b}:7000"),
        }
    }

    fn keys(s: &Schedule, e: u64) -> Vec<PublicKey> {
        s.set_for(e).unwrap().iter().map(|v| v.public_key).collect()
    }

    #[test]
    fn epochs_match_commonware_fixed_epochs() {
        let e = Epochs::new(Some(10));
        assert_eq!((e.of(0), e.of(9), e.of(10)), (0, 0, 1));
        assert_eq!((e.first(1), e.last(1)), (10, 19));
        assert!(e.is_boundary(9) && !e.is_boundary(10));
        assert!(!Epochs::NONE.is_boundary(u64::MAX - 1));
        assert_eq!(Epochs::NONE.of(u64::MAX - 1), 0);
    }

    #[test]
    fn changes_apply_two_epochs_later_and_stack() {
        let mut s = Schedule::genesis(10, &[v(3), v(1), v(2)]);
        let add = SystemOp::AddValidator {
            name: "v4".into(),
            public_key: key(4),
            address: "h:1".into(),
        };
        assert_eq!(s.apply(0, &add).unwrap(), 2);
        let rm = SystemOp::RemoveValidator { public_key: key(1) };
        assert_eq!(s.apply(0, &rm).unwrap(), 2);
        assert_eq!(keys(&s, 1), vec![key(1), key(2), key(3)]);
        assert_eq!(keys(&s, 2), vec![key(2), key(3), key(4)]);
        assert_eq!(keys(&s, 9), keys(&s, 2));
        // Refusals leave it as it was.
        let before = s.clone();
        assert_eq!(s.apply(0, &add).unwrap_err().code, ErrorCode::AlreadyExists);
        assert_eq!(s.apply(0, &rm).unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(s, before);
        // A rotation in epoch 1 changes epoch 3; epoch 2 stays.
        let rot = SystemOp::RotateValidator {
            public_key: key(2),
            new_key: key(9),
            address: None,
        };
        assert_eq!(s.apply(1, &rot).unwrap(), 3);
        assert_eq!(keys(&s, 2), vec![key(2), key(3), key(4)]);
        assert_eq!(keys(&s, 3), vec![key(3), key(4), key(9)]);
        // History stays: epoch 1 is still answered after later changes.
        s.apply(3, &SystemOp::RemoveValidator { public_key: key(3) })
            .unwrap();
        assert_eq!(keys(&s, 1), vec![key(1), key(2), key(3)]);
        assert_eq!(keys(&s, 5), vec![key(4), key(9)]);
    }

    #[test]
    fn bad_changes_are_refused() {
        let mut s = Schedule::genesis(10, &[v(1)]);
        let last = SystemOp::RemoveValidator { public_key: key(1) };
        assert_eq!(s.apply(0, &last).unwrap_err().code, ErrorCode::InvalidState);
        for address in ["", "nohost", ":80", "h:99999", "h:x"] {
            let add = SystemOp::AddValidator {
                name: "n".into(),
                public_key: key(2),
                address: address.into(),
            };
            assert_eq!(
                s.apply(0, &add).unwrap_err().code,
                ErrorCode::InvalidArgument,
                "{address}"
            );
        }
        let rot = SystemOp::RotateValidator {
            public_key: key(1),
            new_key: key(1),
            address: None,
        };
        assert_eq!(s.apply(0, &rot).unwrap_err().code, ErrorCode::AlreadyExists);
    }
}
