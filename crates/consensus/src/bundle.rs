//! Proof bundles: a state proof plus the chain of evidence that its root is final.
//!
//! A bundle holds
//! - `state`: a QMDB inclusion/exclusion proof of one key against root `R`;
//! - `headers`: `C, …, F` where `C.state_height == state_height` and `C.state_root == R`, and each
//!   later header's `parent` is the digest of the one before (normally just `C`);
//! - `finalization`: the commit certificate (validator signatures) over `digest(F)`.
//!
//! [`verify_bundle`] checks all of it against a validator set the verifier already trusts (from
//! the genesis file), never against keys taken from the bundle.
//!
//! On a chain with epochs (version 2) a bundle also carries `handovers`: for each epoch `k`
//! from 1 to the certifying epoch `E − 1`, the header of epoch `k`'s last block, its
//! finalization (by the set of epoch `k`) and a state proof of the validator schedule
//! (`system/validators`) against that header's state root, which names the set of epoch
//! `k + 1`. Starting from the genesis set (epochs 0 and 1 always have it), the verifier learns
//! each epoch's set from the one before, up to `E`.

use commonware_codec::{Copying, Decode as _};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::Finalization;
use commonware_cryptography::sha256;
use commonware_parallel::Sequential;
use serde::{Deserialize, Serialize};
use urbis_core::{ErrorCode, Hash, Header, PublicKey, UrbisError};
use urbis_state::{StateProof, verify_state_proof};

use crate::codec::to_digest;
use crate::engine::try_participant_set;
use crate::shared::{consensus_namespace, validator_set_hash};
use urbis_runtime::validators::{Epochs, SCHEDULE_KEY, Schedule};

/// Bundles of a chain without epochs.
pub const BUNDLE_VERSION: u32 = 1;
/// Bundles of a chain with epochs (they carry hand-overs).
pub const BUNDLE_VERSION_EPOCHS: u32 = 2;

/// What a verifier trusts, from the genesis file alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trust {
    pub chain_id: String,
    /// The genesis validators.
    pub validators: Vec<PublicKey>,
    pub epochs: Epochs,
}

impl Trust {
    pub fn from_genesis(genesis: &urbis_runtime::Genesis) -> Self {
        Trust {
            chain_id: genesis.chain_id.clone(),
            validators: genesis.validators.iter().map(|v| v.public_key).collect(),
            epochs: Epochs::new(genesis.epoch_length),
        }
    }

    /// A chain without epochs.
    pub fn fixed(chain_id: &str, validators: &[PublicKey]) -> Self {
        Trust {
            chain_id: chain_id.to_string(),
            validators: validators.to_vec(),
            epochs: Epochs::NONE,
        }
    }

    /// The bundle version of this chain.
    pub fn bundle_version(&self) -> u32 {
        if self.epochs.enabled() {
            BUNDLE_VERSION_EPOCHS
        } else {
            BUNDLE_VERSION
        }
    }

    /// The validator set of `epoch`, walking `handovers` (epochs 1.. in order) from the
    /// genesis set; every hand-over must be used.
    pub fn set_of(&self, epoch: u64, handovers: &[Handover]) -> Result<Vec<PublicKey>, UrbisError> {
        let needed = epoch.saturating_sub(1);
        if handovers.len() as u64 != needed {
            return Err(invalid(format!(
                "a proof certified in epoch {epoch} carries {needed} hand-overs (epochs 1 to {}), \
                 not {}",
                epoch.saturating_sub(1),
                handovers.len()
            )));
        }
        let mut set = self.validators.clone();
        for (i, h) in handovers.iter().enumerate() {
            set = verify_handover(self, i as u64 + 1, &set, h)?;
        }
        Ok(set)
    }
}

/// The proof that epoch `epoch + 1` has a given validator set: epoch `epoch`'s last block
/// (certified by the set of `epoch`) and the validator schedule in the state it certifies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    pub epoch: u64,
    pub header: Header,
    /// Encoded finalization certificate of `header`'s block.
    #[serde(with = "urbis_core::hexser")]
    pub finalization: Vec<u8>,
    /// `system/validators` (borsh `Schedule`) against `header.state_root`.
    pub schedule: StateProof,
}

/// Check hand-over `h`, expected for `epoch`, whose set is `set`; returns the set of
/// `epoch + 1`.
pub fn verify_handover(
    trust: &Trust,
    epoch: u64,
    set: &[PublicKey],
    h: &Handover,
) -> Result<Vec<PublicKey>, UrbisError> {
    let at = |msg: String| invalid(format!("hand-over of epoch {epoch}: {msg}"));
    let epochs = trust.epochs;
    if h.epoch != epoch {
        return Err(at(format!("it is for epoch {}", h.epoch)));
    }
    let hd = &h.header;
    if hd.chain_id != trust.chain_id {
        return Err(at("its header is for another chain".into()));
    }
    if hd.height != epochs.last(epoch) || hd.state_height.checked_add(1) != Some(hd.height) {
        return Err(at(format!(
            "its header is block {} certifying height {}, not the epoch's last block {} \
             certifying its parent",
            hd.height,
            hd.state_height,
            epochs.last(epoch)
        )));
    }
    if hd.validator_set != validator_set_hash(set) {
        return Err(at("its header names another validator set".into()));
    }
    verify_finalization_in(&trust.chain_id, set, epoch, &h.finalization, &hd.digest())
        .map_err(|e| at(e.message))?;
    if h.schedule.key != SCHEDULE_KEY || h.schedule.root != hd.state_root {
        return Err(at(
            "its state proof is not of the validator schedule at the header's state root".into(),
        ));
    }
    verify_state_proof(&h.schedule).map_err(|e| at(e.message))?;
    let bytes = h
        .schedule
        .value
        .as_deref()
        .ok_or_else(|| at("the state holds no validator schedule".into()))?;
    let schedule: Schedule = borsh::from_slice(bytes)
        .map_err(|e| at(format!("the validator schedule does not decode: {e}")))?;
    if schedule.epoch_length != epochs.length {
        return Err(at(
            "the schedule's epoch length differs from the genesis".into()
        ));
    }
    let next: Vec<PublicKey> = schedule
        .set_for(epoch + 1)
        .unwrap_or_default()
        .iter()
        .map(|v| v.public_key)
        .collect();
    if next.is_empty() || try_participant_set(&next).is_none_or(|p| p.len() != next.len()) {
        return Err(at(format!(
            "the set of epoch {} is empty or not a set of usable keys",
            epoch + 1
        )));
    }
    Ok(next)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofBundle {
    pub version: u32,
    pub chain_id: String,
    /// The height after which the proven state holds.
    pub state_height: u64,
    pub state: StateProof,
    pub headers: Vec<Header>,
    /// Encoded finalization certificate of the last header's block.
    #[serde(with = "urbis_core::hexser")]
    pub finalization: Vec<u8>,
    /// Version 2: epochs 1 to `E − 1`'s hand-overs, `E` the last header's epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handovers: Option<Vec<Handover>>,
}

fn invalid(msg: impl Into<String>) -> UrbisError {
    UrbisError::new(ErrorCode::InvalidProof, msg)
}

/// Verify an encoded finalization certificate for block `digest`, made in `epoch` by
/// `validators`.
pub fn verify_finalization_in(
    chain_id: &str,
    validators: &[PublicKey],
    epoch: u64,
    finalization: &[u8],
    digest: &Hash,
) -> Result<(), UrbisError> {
    let participants = try_participant_set(validators)
        .filter(|p| p.len() == validators.len())
        .ok_or_else(|| invalid("validator set contains an invalid or duplicate key"))?;
    let verifier = Scheme::verifier(&consensus_namespace(chain_id), participants.clone());
    let fin = Finalization::<Scheme, sha256::Digest>::decode_cfg(
        Copying(finalization),
        &participants.len(),
    )
    .map_err(|e| invalid(format!("finalization does not decode: {e}")))?;
    if fin.proposal.payload != to_digest(digest) {
        return Err(invalid("finalization is for a different block"));
    }
    if fin.proposal.round.epoch().get() != epoch {
        return Err(invalid(format!(
            "finalization was made in epoch {}, the block is in epoch {epoch}",
            fin.proposal.round.epoch().get()
        )));
    }
    let mut rng = commonware_utils::sys_rng();
    if !fin.verify(&mut rng, &verifier, &Sequential) {
        return Err(invalid(
            "finalization signatures do not verify against the validator set",
        ));
    }
    Ok(())
}

/// Version and chain of a bundle, against the trust anchor.
fn check_envelope(
    version: u32,
    chain_id: &str,
    handovers: Option<&Vec<Handover>>,
    trust: &Trust,
) -> Result<(), UrbisError> {
    if version != BUNDLE_VERSION && version != BUNDLE_VERSION_EPOCHS {
        return Err(invalid(format!("unsupported bundle version {version}")));
    }
    if chain_id != trust.chain_id {
        return Err(invalid(format!(
            "bundle is for chain {chain_id:?}, expected {:?}",
            trust.chain_id
        )));
    }
    if version != trust.bundle_version()
        || handovers.is_some() != (version == BUNDLE_VERSION_EPOCHS)
    {
        return Err(invalid(format!(
            "unsupported bundle version {version} for this chain: its bundles are version {}{}",
            trust.bundle_version(),
            if trust.epochs.enabled() {
                ", with hand-overs"
            } else {
                ", without hand-overs"
            }
        )));
    }
    Ok(())
}

/// The headers' epoch set, from the trust anchor and the hand-overs: every header must be in
/// the epoch of the last one (the certified block), whose set signed the finalization. Returns
/// that set's size.
fn certify(
    headers: &[Header],
    finalization: &[u8],
    handovers: Option<&Vec<Handover>>,
    trust: &Trust,
) -> Result<usize, UrbisError> {
    let last = headers
        .last()
        .ok_or_else(|| invalid("bundle has no headers"))?;
    let epoch = trust.epochs.of(last.height);
    if headers.iter().any(|h| trust.epochs.of(h.height) != epoch) {
        return Err(invalid("the bundle's headers span two epochs"));
    }
    let set = trust.set_of(epoch, handovers.map_or(&[][..], Vec::as_slice))?;
    check_headers(headers, &trust.chain_id, &set)?;
    verify_finalization_in(&trust.chain_id, &set, epoch, finalization, &last.digest())?;
    Ok(set.len())
}

/// Check every link of a bundle against what the verifier trusts from a genesis file; returns
/// the size of the validator set that certified it.
pub fn verify_bundle(bundle: &ProofBundle, trust: &Trust) -> Result<usize, UrbisError> {
    check_envelope(
        bundle.version,
        &bundle.chain_id,
        bundle.handovers.as_ref(),
        trust,
    )?;
    verify_state_proof(&bundle.state)?;
    let first = bundle
        .headers
        .first()
        .ok_or_else(|| invalid("bundle has no headers"))?;
    if first.state_height != bundle.state_height || first.state_root != bundle.state.root {
        return Err(invalid(
            "the first header does not certify the proven state root",
        ));
    }
    certify(
        &bundle.headers,
        &bundle.finalization,
        bundle.handovers.as_ref(),
        trust,
    )
}

/// Headers of this chain and validator set, each extending the one before.
fn check_headers(
    headers: &[Header],
    chain_id: &str,
    validators: &[PublicKey],
) -> Result<(), UrbisError> {
    let set = validator_set_hash(validators);
    for (i, h) in headers.iter().enumerate() {
        if h.chain_id != chain_id {
            return Err(invalid(format!("header {i} is for another chain")));
        }
        if h.validator_set != set {
            return Err(invalid(format!(
                "header {i} names a different validator set"
            )));
        }
        if i > 0 {
            let prev = &headers[i - 1];
            if h.parent != prev.digest() || h.height != prev.height + 1 {
                return Err(invalid(format!(
                    "header {i} does not extend header {}",
                    i - 1
                )));
            }
        }
    }
    Ok(())
}

/// A receipt with the evidence that it is final: its Merkle path to its block's receipts root,
/// the receipts roots of the blocks after it up to a certified height, and the headers and
/// finalization certificate that certify that height's receipts accumulator.
///
/// Checking it: `root = merkle_root_from_path(receipt_leaf(receipt), path)`; `acc =
/// receipts_acc(acc_before, root)`, then `acc = receipts_acc(acc, r)` for every `r` in
/// `later_roots`; `acc` must equal `headers[0].receipts_acc`, `headers[0].state_height` must be
/// `receipt.height + later_roots.len()`, and the headers and certificate are checked as for a
/// state proof ([`verify_bundle`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBundle {
    pub version: u32,
    pub chain_id: String,
    pub receipt: urbis_core::Receipt,
    /// From the receipt's leaf to its block's receipts root.
    pub path: Vec<urbis_core::MerkleStep>,
    /// The receipts accumulator after the block before the receipt's.
    pub acc_before: Hash,
    /// Receipts roots of the blocks after the receipt's, up to the certified height.
    pub later_roots: Vec<Hash>,
    pub headers: Vec<Header>,
    #[serde(with = "urbis_core::hexser")]
    pub finalization: Vec<u8>,
    /// As in [`ProofBundle`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handovers: Option<Vec<Handover>>,
}

/// Check every link of a receipt bundle against what the verifier trusts from a genesis file;
/// returns the size of the validator set that certified it.
pub fn verify_receipt_bundle(bundle: &ReceiptBundle, trust: &Trust) -> Result<usize, UrbisError> {
    check_envelope(
        bundle.version,
        &bundle.chain_id,
        bundle.handovers.as_ref(),
        trust,
    )?;
    let leaf = urbis_core::receipt_leaf(&bundle.receipt);
    let root = urbis_core::merkle_root_from_path(&leaf, &bundle.path);
    let mut acc = urbis_core::receipts_acc(&bundle.acc_before, &root);
    for r in &bundle.later_roots {
        acc = urbis_core::receipts_acc(&acc, r);
    }
    let first = bundle
        .headers
        .first()
        .ok_or_else(|| invalid("bundle has no headers"))?;
    let certified = bundle
        .receipt
        .height
        .checked_add(bundle.later_roots.len() as u64)
        .ok_or_else(|| invalid("height overflows"))?;
    if first.state_height != certified || first.receipts_acc != acc {
        return Err(invalid(
            "the first header does not certify this receipt's accumulator",
        ));
    }
    certify(
        &bundle.headers,
        &bundle.finalization,
        bundle.handovers.as_ref(),
        trust,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_list_naming_a_validator_twice_is_an_error_not_a_panic() {
        let k = urbis_core::SecretKey::from_label("bundle-test/validator").public_key();
        let e = verify_finalization_in("urbis-test", &[k, k], 0, &[], &Hash::ZERO).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidProof);
        assert!(e.message.contains("duplicate"), "{e}");
    }
}
