//! Light-client checks of proof bundles against a trusted genesis file.
//!
//! The validator set and chain id come from the genesis the caller trusts, never from the
//! bundle or from the node that produced it. For a query answer the client trusts nothing the
//! node says either: it derives the state key from the query's module and path itself, checks
//! that the proof is for that key, and recomputes the answer from the proven bytes with the
//! module's own rendering ([`urbis_registry`]), which must equal the answer's `value`.

use urbis_consensus::ProofBundle;
use urbis_core::{ErrorCode, Hash, PublicKey, UrbisError};
use urbis_runtime::{Genesis, Runtime};

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
    /// For a query answer: the answer recomputed from the proven bytes.
    pub answer: Option<serde_json::Value>,
}

impl VerifiedProof {
    /// The key as text (lossy for non-UTF-8 keys).
    pub fn key_text(&self) -> String {
        String::from_utf8_lossy(&self.key).into_owned()
    }
}

/// What a verified receipt bundle establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedReceipt {
    pub chain_id: String,
    pub receipt: urbis_core::Receipt,
    /// The height whose certified receipts accumulator vouches for it.
    pub certified_height: u64,
    pub certified_block: Hash,
    pub validators: usize,
}

/// Check a receipt bundle against the chain id and validator set of `genesis`.
pub fn verify_receipt(
    bundle: &urbis_consensus::ReceiptBundle,
    genesis: &Genesis,
) -> Result<VerifiedReceipt, UrbisError> {
    let validators = genesis_validators(genesis);
    if validators.is_empty() {
        return Err(UrbisError::new(
            ErrorCode::InvalidProof,
            "the genesis file lists no validators",
        ));
    }
    let signers = urbis_consensus::verify_receipt_bundle(
        bundle,
        &urbis_consensus::Trust::from_genesis(genesis),
    )?;
    let last = bundle
        .headers
        .last()
        .ok_or_else(|| UrbisError::new(ErrorCode::InvalidProof, "bundle has no headers"))?;
    Ok(VerifiedReceipt {
        chain_id: bundle.chain_id.clone(),
        receipt: bundle.receipt.clone(),
        certified_height: last.height,
        certified_block: last.digest(),
        validators: signers,
    })
}

/// The validators' public keys from a genesis file.
pub fn genesis_validators(genesis: &Genesis) -> Vec<PublicKey> {
    genesis.validators.iter().map(|v| v.public_key).collect()
}

/// Check every link of `bundle` (state proof, headers, finalization certificate, and on a chain
/// with epochs the hand-overs from the genesis set to the certifying one) against `genesis`;
/// returns the size of the set that certified it.
pub fn verify_bundle_with_genesis(
    bundle: &ProofBundle,
    genesis: &Genesis,
) -> Result<usize, UrbisError> {
    let validators = genesis_validators(genesis);
    if validators.is_empty() {
        return Err(UrbisError::new(
            ErrorCode::InvalidProof,
            "the genesis file lists no validators",
        ));
    }
    urbis_consensus::verify_bundle(bundle, &urbis_consensus::Trust::from_genesis(genesis))
}

/// [`verify_bundle_with_genesis`], returning what the bundle proves.
pub fn verify_proof(bundle: &ProofBundle, genesis: &Genesis) -> Result<VerifiedProof, UrbisError> {
    let signers = verify_bundle_with_genesis(bundle, genesis)?;
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
        validators: signers,
        answer: None,
    })
}

/// Verify a query answer (`prove=true`) with the modules every node runs
/// ([`urbis_registry::modules`]); see [`verify_query_with`].
pub fn verify_query(result: &QueryResult, genesis: &Genesis) -> Result<VerifiedProof, UrbisError> {
    verify_query_with(&urbis_registry::runtime(&genesis.chain_id), result, genesis)
}

/// Verify a query answer: the proof bundle against `genesis`, the proof's key against the key
/// `runtime` derives from the answer's module and path, and the answer's `value` and `height`
/// against what the proven bytes say. Any mismatch is `invalid_proof`.
pub fn verify_query_with(
    runtime: &Runtime,
    result: &QueryResult,
    genesis: &Genesis,
) -> Result<VerifiedProof, UrbisError> {
    let invalid = |msg: String| UrbisError::new(ErrorCode::InvalidProof, msg);
    let bundle = result
        .proof
        .as_ref()
        .ok_or_else(|| invalid("the answer has no proof (query with prove=true)".into()))?;
    let path: Vec<&str> = result.path.iter().map(String::as_str).collect();
    let key = runtime.query_key(&result.module, &path).map_err(|e| {
        invalid(format!(
            "cannot derive the key of query {}/{}: {e}",
            result.module,
            result.path.join("/")
        ))
    })?;
    if bundle.state.key != key {
        return Err(invalid(format!(
            "the proof is for key {:?}, but query {}/{} reads {:?}",
            String::from_utf8_lossy(&bundle.state.key),
            result.module,
            result.path.join("/"),
            String::from_utf8_lossy(&key)
        )));
    }
    if result.key.as_bytes() != key.as_slice() {
        return Err(invalid(format!(
            "the answer names key {:?}, but the query reads {:?}",
            result.key,
            String::from_utf8_lossy(&key)
        )));
    }
    if result.height != bundle.state_height {
        return Err(invalid(format!(
            "the answer says height {}, the proof is for height {}",
            result.height, bundle.state_height
        )));
    }
    let mut verified = verify_proof(bundle, genesis)?;
    let proven = runtime
        .render(&result.module, &path, verified.value.as_deref())
        .map_err(|e| invalid(format!("the proven value does not decode: {e}")))?;
    if proven != result.value {
        return Err(invalid(format!(
            "the answer's value {} differs from the proven value {}",
            result.value, proven
        )));
    }
    verified.answer = Some(proven);
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use urbis_core::{Header, SecretKey};
    use urbis_runtime::GenesisValidator;
    use urbis_state::StateProof;

    fn genesis() -> Genesis {
        Genesis {
            epoch_length: None,
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
            handovers: None,
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
                receipts_acc: Hash::ZERO,
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
        // The client derives the key from the path: a proof of another key is refused,
        // whatever key the answer claims.
        let result = QueryResult {
            module: "rewards".into(),
            path: vec!["program".into(), "1".into()],
            key: "rewards/supply".into(),
            value: serde_json::Value::Null,
            height: 1,
            proof: Some(bundle()),
        };
        let err = verify_query(&result, &genesis()).expect_err("mismatch");
        assert!(err.message.contains("the proof is for key"), "{err}");
        assert_eq!(err.code, ErrorCode::InvalidProof);
        // The right proof key, but the answer names another key.
        let mut named = result.clone();
        named.path = vec!["supply".into()];
        named.key = "rewards/program/1".into();
        let err = verify_query(&named, &genesis()).expect_err("named key");
        assert!(err.message.contains("the answer names key"), "{err}");
        // An unknown query cannot be checked.
        let mut unknown = result.clone();
        unknown.path = vec!["nope".into()];
        assert_eq!(
            verify_query(&unknown, &genesis()).unwrap_err().code,
            ErrorCode::InvalidProof
        );
        let mut no_proof = result;
        no_proof.proof = None;
        assert!(verify_query(&no_proof, &genesis()).is_err());
    }
}
