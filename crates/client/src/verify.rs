//! Light-client checks of proof bundles against a trusted genesis file.
//!
//! The validator set and chain id come from the genesis the caller trusts, never from the
//! bundle or from the node that produced it.

use urbis_consensus::ProofBundle;
use urbis_core::{ErrorCode, Hash, PublicKey, UrbisError};
use urbis_runtime::Genesis;

use crate::api::QueryResult;

/// What a verified bundle establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    pub chain_id: String,
    /// The logical state key (UTF-8 for every built-in module).
    pub key: Vec<u8>,
    /// The raw (borsh) value, or `None` for a proof of absence.
    pub value: Option<Vec<u8>>,
    /// The key has this value in the state after executing block `state_height`.
    pub state_height: u64,
    /// The finalized block whose certificate closes the chain of evidence.
    pub certified_height: u64,
    pub certified_block: Hash,
    /// Size of the trusted validator set.
    pub validators: usize,
}

impl VerifiedProof {
    /// The key as text (lossy for non-UTF-8 keys).
    pub fn key_text(&self) -> String {
        String::from_utf8_lossy(&self.key).into_owned()
    }
}

/// The validators' public keys from a genesis file.
pub fn genesis_validators(genesis: &Genesis) -> Vec<PublicKey> {
    genesis.validators.iter().map(|v| v.public_key).collect()
}

/// Check every link of `bundle` (state proof, headers, finalization certificate) against the
/// chain id and validator set of `genesis`.
pub fn verify_bundle_with_genesis(
    bundle: &ProofBundle,
    genesis: &Genesis,
) -> Result<(), UrbisError> {
    let validators = genesis_validators(genesis);
    if validators.is_empty() {
        return Err(UrbisError::new(
            ErrorCode::InvalidProof,
            "the genesis file lists no validators",
        ));
    }
    urbis_consensus::verify_bundle(bundle, &genesis.chain_id, &validators)
}

/// [`verify_bundle_with_genesis`], returning what the bundle proves.
pub fn verify_proof(bundle: &ProofBundle, genesis: &Genesis) -> Result<VerifiedProof, UrbisError> {
    verify_bundle_with_genesis(bundle, genesis)?;
    let last = bundle
        .headers
        .last()
        .ok_or_else(|| UrbisError::new(ErrorCode::InvalidProof, "bundle has no headers"))?;
    Ok(VerifiedProof {
        chain_id: bundle.chain_id.clone(),
        key: bundle.state.key.clone(),
        value: bundle.state.value.clone(),
        state_height: bundle.state_height,
        certified_height: last.height,
        certified_block: last.digest(),
        validators: genesis.validators.len(),
    })
}

/// Verify the proof attached to a query answer (`prove=true`), and that it is a proof of the
/// key the answer says it read.
///
/// This proves the raw stored value; the module's JSON rendering in `result.value` is the
/// node's interpretation of it.
pub fn verify_query(result: &QueryResult, genesis: &Genesis) -> Result<VerifiedProof, UrbisError> {
    let bundle = result.proof.as_ref().ok_or_else(|| {
        UrbisError::new(
            ErrorCode::InvalidProof,
            "the answer has no proof (query with prove=true)",
        )
    })?;
    if bundle.state.key != result.key.as_bytes() {
        return Err(UrbisError::new(
            ErrorCode::InvalidProof,
            format!(
                "the proof is for key {:?}, the answer read {:?}",
                String::from_utf8_lossy(&bundle.state.key),
                result.key
            ),
        ));
    }
    verify_proof(bundle, genesis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use urbis_core::{Header, SecretKey};
    use urbis_runtime::GenesisValidator;
    use urbis_state::StateProof;

    fn genesis() -> Genesis {
        Genesis {
            chain_id: "urbis-test".into(),
            genesis_time_ms: 0,
            validators: vec![GenesisValidator {
                name: "v".into(),
                public_key: SecretKey::from_label("v").public_key(),
                address: String::new(),
            }],
            modules: Default::default(),
        }
    }

    fn bundle() -> ProofBundle {
        ProofBundle {
            version: 1,
            chain_id: "urbis-test".into(),
            state_height: 1,
            state: StateProof {
                key: b"rewards/supply".to_vec(),
                value: None,
                root: Hash::ZERO,
                proof: vec![1, 2, 3],
            },
            headers: vec![Header {
                chain_id: "urbis-test".into(),
                height: 2,
                parent: Hash::ZERO,
                view: 2,
                timestamp_ms: 1,
                proposer: SecretKey::from_label("v").public_key(),
                txs_root: Hash::ZERO,
                tx_count: 0,
                state_height: 1,
                state_root: Hash::ZERO,
                validator_set: Hash::ZERO,
            }],
            finalization: vec![],
        }
    }

    #[test]
    fn garbage_bundles_fail_with_invalid_proof() {
        let g = genesis();
        let err = verify_bundle_with_genesis(&bundle(), &g).expect_err("garbage");
        assert_eq!(err.code, ErrorCode::InvalidProof);

        let mut other_chain = bundle();
        other_chain.chain_id = "elsewhere".into();
        let err = verify_proof(&other_chain, &g).expect_err("wrong chain");
        assert_eq!(err.code, ErrorCode::InvalidProof);
        assert!(err.message.contains("chain"), "{err}");

        let mut no_validators = g.clone();
        no_validators.validators.clear();
        assert!(verify_bundle_with_genesis(&bundle(), &no_validators).is_err());
    }

    #[test]
    fn query_proof_must_match_the_key() {
        let result = QueryResult {
            module: "rewards".into(),
            path: vec!["supply".into()],
            key: "rewards/program/1".into(),
            value: serde_json::Value::Null,
            height: 1,
            proof: Some(bundle()),
        };
        let err = verify_query(&result, &genesis()).expect_err("mismatch");
        assert!(err.message.contains("the proof is for key"), "{err}");
        let mut no_proof = result;
        no_proof.proof = None;
        assert!(verify_query(&no_proof, &genesis()).is_err());
    }
}
