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

pub const BUNDLE_VERSION: u32 = 1;

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
}

fn invalid(msg: impl Into<String>) -> UrbisError {
    UrbisError::new(ErrorCode::InvalidProof, msg)
}

/// Verify an encoded finalization certificate for block `digest` against `validators`.
pub fn verify_finalization(
    chain_id: &str,
    validators: &[PublicKey],
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
    let mut rng = commonware_utils::sys_rng();
    if !fin.verify(&mut rng, &verifier, &Sequential) {
        return Err(invalid(
            "finalization signatures do not verify against the validator set",
        ));
    }
    Ok(())
}

/// Check every link of a bundle. `validators` and `chain_id` come from a trusted genesis file.
pub fn verify_bundle(
    bundle: &ProofBundle,
    chain_id: &str,
    validators: &[PublicKey],
) -> Result<(), UrbisError> {
    if bundle.version != BUNDLE_VERSION {
        return Err(invalid(format!(
            "unsupported bundle version {}",
            bundle.version
        )));
    }
    if bundle.chain_id != chain_id {
        return Err(invalid(format!(
            "bundle is for chain {:?}, expected {chain_id:?}",
            bundle.chain_id
        )));
    }
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
    check_headers(&bundle.headers, chain_id, validators)?;
    let last = bundle.headers.last().expect("non-empty checked above");
    verify_finalization(chain_id, validators, &bundle.finalization, &last.digest())
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
}

/// Check every link of a receipt bundle against a trusted chain id and validator set.
pub fn verify_receipt_bundle(
    bundle: &ReceiptBundle,
    chain_id: &str,
    validators: &[PublicKey],
) -> Result<(), UrbisError> {
    if bundle.version != BUNDLE_VERSION {
        return Err(invalid(format!(
            "unsupported bundle version {}",
            bundle.version
        )));
    }
    if bundle.chain_id != chain_id {
        return Err(invalid(format!(
            "bundle is for chain {:?}, expected {chain_id:?}",
            bundle.chain_id
        )));
    }
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
    check_headers(&bundle.headers, chain_id, validators)?;
    let last = bundle.headers.last().expect("non-empty checked above");
    verify_finalization(chain_id, validators, &bundle.finalization, &last.digest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_list_naming_a_validator_twice_is_an_error_not_a_panic() {
        let k = urbis_core::SecretKey::from_label("bundle-test/validator").public_key();
        let e = verify_finalization("urbis-test", &[k, k], &[], &Hash::ZERO).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidProof);
        assert!(e.message.contains("duplicate"), "{e}");
    }
}
