//! State proofs: what a light client needs to check one key against a state root.

use commonware_codec::{Copying, Decode as _, Read};
use commonware_cryptography::{Sha256, sha256::Digest};
use commonware_storage::merkle::MAX_PROOF_DIGESTS_PER_ELEMENT;
use commonware_storage::mmr;
use commonware_storage::qmdb::any::value::VariableEncoding;
use commonware_storage::qmdb::current::ordered::proof::constant::{ExclusionProof, KeyValueProof};
use serde::{Deserialize, Serialize};
use urbis_core::hash::domain;
use urbis_core::{ErrorCode, Hash, UrbisError, sha256_domain};

/// Bitmap chunk size of the QMDB "current" variant (bytes; a multiple of the digest size).
pub const CHUNK: usize = 32;
/// Largest value accepted when decoding stored operations or proofs: the runtime refuses to
/// write anything larger ([`urbis_core::limits::MAX_VALUE_BYTES`]).
pub const MAX_VALUE_LEN: usize = urbis_core::limits::MAX_VALUE_BYTES;

pub(crate) type Family = mmr::Family;
pub(crate) type Value = Vec<u8>;
pub(crate) type ValueEnc = VariableEncoding<Value>;
pub(crate) type InclusionProof = KeyValueProof<Family, Digest, Digest, CHUNK>;
pub(crate) type AbsenceProof = ExclusionProof<Family, Digest, ValueEnc, Digest, CHUNK>;
pub(crate) type ValueCfg = (commonware_codec::RangeCfg<usize>, ());

pub(crate) fn value_cfg() -> ValueCfg {
    ((0..=MAX_VALUE_LEN).into(), ())
}

/// What the authenticated store holds for a value: `SHA-256(len || "urbis/state-value/v1" ||
/// value)`.
pub fn value_hash(value: &[u8]) -> Hash {
    sha256_domain(domain::STATE_VALUE, &[value])
}

/// The fixed-size QMDB key of a logical key.
pub fn hashed_key(key: &[u8]) -> Hash {
    sha256_domain(domain::STATE_KEY, &[key])
}

/// A proof that `key` has `value` (or, with `value: None`, has no value) in the state whose root
/// is `root`. The store commits to the value's hash ([`value_hash`]): the proof's size never
/// depends on any value, this one's or a neighbour's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateProof {
    /// Logical key, UTF-8 for all built-in modules.
    #[serde(with = "urbis_core::hexser")]
    pub key: Vec<u8>,
    #[serde(with = "urbis_core::hexser::opt")]
    pub value: Option<Vec<u8>>,
    pub root: Hash,
    /// Encoded QMDB proof (inclusion if `value` is present, exclusion otherwise).
    #[serde(with = "urbis_core::hexser")]
    pub proof: Vec<u8>,
}

/// Check a state proof against its root. The caller separately checks that the root is the
/// one certified by a finalized header.
pub fn verify_state_proof(p: &StateProof) -> Result<(), UrbisError> {
    let key = Digest(hashed_key(&p.key).0);
    let root = Digest(p.root.0);
    let bad = |why: &str| UrbisError::new(ErrorCode::InvalidProof, why.to_string());
    match &p.value {
        Some(value) => {
            let cfg: <InclusionProof as Read>::Cfg = (MAX_PROOF_DIGESTS_PER_ELEMENT, ());
            let proof = InclusionProof::decode_cfg(Copying(&p.proof), &cfg)
                .map_err(|_| bad("inclusion proof does not decode"))?;
            if proof.verify::<Sha256, ValueEnc>(key, value_hash(value).0.to_vec(), &root) {
                Ok(())
            } else {
                Err(bad(
                    "inclusion proof does not match the key, value and root",
                ))
            }
        }
        None => {
            let cfg: <AbsenceProof as Read>::Cfg = (
                MAX_PROOF_DIGESTS_PER_ELEMENT,
                ((), value_cfg()),
                value_cfg(),
            );
            let proof = AbsenceProof::decode_cfg(Copying(&p.proof), &cfg)
                .map_err(|_| bad("exclusion proof does not decode"))?;
            if proof.verify::<Sha256>(&key, &root) {
                Ok(())
            } else {
                Err(bad("exclusion proof does not match the key and root"))
            }
        }
    }
}
