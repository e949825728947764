//! The signed transaction envelope.
//!
//! Signing bytes: `len(tag) || tag || genesis_hash || borsh(UnsignedTx)` with tag
//! [`domain::TX_SIGN`], where `genesis_hash` is the 32-byte digest of the chain's genesis block
//! (`genesis_hash` in `GET /v1/status`). The unsigned part includes the chain id, and the signed
//! message binds the genesis block, so a transaction signed for one chain is invalid on any other,
//! including a chain reset under the same chain id (whose genesis block differs). The genesis
//! hash is not carried in the envelope: every node knows its own. The transaction id is
//! `SHA-256` (domain [`domain::TX_ID`]) of the full borsh encoding, signature included.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, UrbisError};
use crate::hash::{Hash, domain, sha256_domain};
use crate::keys::{Address, PublicKey, SecretKey, Signature};
use crate::limits;

/// A call into one module: the module name and the module's own borsh-encoded call enum.
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
pub struct Call {
    pub module: String,
    /// The module's borsh-encoded call, in hex.
    #[serde(with = "crate::hexser")]
    #[schemars(with = "String", regex(pattern = r"^(0x)?([0-9a-fA-F]{2})*$"))]
    pub data: Vec<u8>,
}

impl Call {
    /// Encode a module's call value.
    pub fn new<T: BorshSerialize>(module: &str, call: &T) -> Self {
        Call {
            module: module.to_string(),
            data: borsh::to_vec(call).expect("borsh to vec never fails"),
        }
    }
}

/// What a transaction is bound to: a chain id and the digest of that chain's genesis block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChainRef {
    pub chain_id: String,
    pub genesis_hash: Hash,
}

impl ChainRef {
    pub fn new(chain_id: impl Into<String>, genesis_hash: Hash) -> Self {
        ChainRef {
            chain_id: chain_id.into(),
            genesis_hash,
        }
    }
}

/// The part of a transaction that is signed.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct UnsignedTx {
    pub chain_id: String,
    pub signer: PublicKey,
    pub nonce: u64,
    pub call: Call,
}

impl UnsignedTx {
    /// The exact bytes the signer signs: `len(tag) || tag || genesis_hash || borsh(self)`.
    pub fn signing_bytes(&self, genesis_hash: &Hash) -> Vec<u8> {
        crate::keys::framed(domain::TX_SIGN, &self.message(genesis_hash))
    }

    /// `genesis_hash || borsh(self)`: the signed message without its domain framing.
    pub fn message(&self, genesis_hash: &Hash) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 128);
        out.extend_from_slice(&genesis_hash.0);
        borsh::to_writer(&mut out, self).expect("borsh to vec never fails");
        out
    }

    pub fn sign(self, key: &SecretKey, genesis_hash: &Hash) -> SignedTx {
        let signature = key.sign(domain::TX_SIGN, &self.message(genesis_hash));
        SignedTx {
            chain_id: self.chain_id,
            signer: self.signer,
            nonce: self.nonce,
            call: self.call,
            signature,
        }
    }
}

/// A signed transaction as submitted, gossiped and included in blocks.
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
pub struct SignedTx {
    pub chain_id: String,
    pub signer: PublicKey,
    pub nonce: u64,
    pub call: Call,
    pub signature: Signature,
}

impl SignedTx {
    /// Build and sign in one step.
    pub fn new(chain: &ChainRef, key: &SecretKey, nonce: u64, call: Call) -> Self {
        UnsignedTx {
            chain_id: chain.chain_id.clone(),
            signer: key.public_key(),
            nonce,
            call,
        }
        .sign(key, &chain.genesis_hash)
    }

    pub fn unsigned(&self) -> UnsignedTx {
        UnsignedTx {
            chain_id: self.chain_id.clone(),
            signer: self.signer,
            nonce: self.nonce,
            call: self.call.clone(),
        }
    }

    pub fn sender(&self) -> Address {
        self.signer.address()
    }

    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh to vec never fails")
    }

    /// Transaction id.
    pub fn hash(&self) -> Hash {
        sha256_domain(domain::TX_ID, &[&self.encode()])
    }

    /// Decode outside bytes: size limit first, then exact borsh (no trailing bytes).
    pub fn decode(bytes: &[u8]) -> Result<SignedTx, UrbisError> {
        if bytes.len() > limits::MAX_TX_BYTES {
            return Err(UrbisError::new(
                ErrorCode::TooLarge,
                format!(
                    "transaction is {} bytes; the limit is {}",
                    bytes.len(),
                    limits::MAX_TX_BYTES
                ),
            ));
        }
        borsh::from_slice(bytes).map_err(|e| {
            UrbisError::new(
                ErrorCode::Malformed,
                format!("transaction does not decode: {e}"),
            )
        })
    }

    /// Checks that need no state: size, chain id, field limits, signer key, signature (which
    /// binds the genesis block).
    pub fn check_stateless(&self, chain: &ChainRef) -> Result<(), UrbisError> {
        self.check_fields(&chain.chain_id)?;
        self.signer
            .verify(
                domain::TX_SIGN,
                &self.unsigned().message(&chain.genesis_hash),
                &self.signature,
            )
            .map_err(bad_signature)
    }

    /// Everything [`SignedTx::check_stateless`] checks except the signature.
    pub fn check_fields(&self, chain_id: &str) -> Result<(), UrbisError> {
        let size = borsh::object_length(self).unwrap_or(usize::MAX);
        if size > limits::MAX_TX_BYTES {
            return Err(UrbisError::new(
                ErrorCode::TooLarge,
                format!(
                    "transaction is {size} bytes; the limit is {}",
                    limits::MAX_TX_BYTES
                ),
            ));
        }
        if self.chain_id != chain_id {
            return Err(UrbisError::new(
                ErrorCode::WrongChainId,
                format!(
                    "transaction is for chain {:?}, this is {chain_id:?}",
                    truncate(&self.chain_id, limits::MAX_CHAIN_ID_LEN)
                ),
            ));
        }
        if self.call.module.is_empty() || self.call.module.len() > limits::MAX_MODULE_NAME_LEN {
            return Err(UrbisError::new(
                ErrorCode::UnknownModule,
                "module name is empty or too long",
            ));
        }
        self.signer
            .check_account_key()
            .map_err(|e| UrbisError::new(ErrorCode::InvalidArgument, e.to_string()))
    }
}

fn bad_signature(e: crate::keys::KeyError) -> UrbisError {
    UrbisError::new(
        ErrorCode::BadSignature,
        format!("{e} (signed for another chain, or for this chain before a reset?)"),
    )
}

/// Stateless checks of many transactions, one result per transaction (same verdicts as
/// [`SignedTx::check_stateless`]). Signatures are batch-verified (ZIP-215 batch and single
/// verification agree) in chunks spread over the available cores; a chunk whose batch fails is
/// re-checked one by one to find the culprits.
pub fn check_stateless_many<T>(txs: &[T], chain: &ChainRef) -> Vec<Result<(), UrbisError>>
where
    T: std::borrow::Borrow<SignedTx> + Sync,
{
    const MIN_PER_THREAD: usize = 32;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(txs.len() / MIN_PER_THREAD)
        .max(1);
    if threads == 1 {
        return check_chunk(txs, chain);
    }
    let chunk = txs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = txs
            .chunks(chunk)
            .map(|part| scope.spawn(move || check_chunk(part, chain)))
            .collect();
        handles
            .into_iter()
            .zip(txs.chunks(chunk))
            .flat_map(|(h, part)| {
                h.join().unwrap_or_else(|_| {
                    vec![
                        Err(UrbisError::new(
                            ErrorCode::Internal,
                            "verification thread panicked"
                        ));
                        part.len()
                    ]
                })
            })
            .collect()
    })
}

fn check_chunk<T: std::borrow::Borrow<SignedTx>>(
    txs: &[T],
    chain: &ChainRef,
) -> Vec<Result<(), UrbisError>> {
    let mut results: Vec<Result<(), UrbisError>> = txs
        .iter()
        .map(|tx| tx.borrow().check_fields(&chain.chain_id))
        .collect();
    let bodies: Vec<(usize, Vec<u8>)> = txs
        .iter()
        .enumerate()
        .filter(|(i, _)| results[*i].is_ok())
        .map(|(i, tx)| (i, tx.borrow().unsigned().message(&chain.genesis_hash)))
        .collect();
    let items: Vec<crate::keys::BatchItem<'_>> = bodies
        .iter()
        .map(|(i, body)| {
            let tx = txs[*i].borrow();
            (&tx.signer, domain::TX_SIGN, body.as_slice(), &tx.signature)
        })
        .collect();
    if !crate::keys::verify_batch(&items) {
        for (i, body) in &bodies {
            let tx = txs[*i].borrow();
            if let Err(e) = tx.signer.verify(domain::TX_SIGN, body, &tx.signature) {
                results[*i] = Err(bad_signature(e));
            }
        }
    }
    results
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain() -> ChainRef {
        ChainRef::new("urbis-test", Hash([7; 32]))
    }

    fn sample(nonce: u64, data: Vec<u8>) -> SignedTx {
        let key = SecretKey::from_label("alice");
        SignedTx::new(
            &chain(),
            &key,
            nonce,
            Call {
                module: "rewards".into(),
                data,
            },
        )
    }

    #[test]
    fn valid_tx_passes_stateless_checks() {
        sample(0, vec![1, 2, 3]).check_stateless(&chain()).unwrap();
    }

    #[test]
    fn wrong_chain_is_rejected() {
        let other = ChainRef::new("other", chain().genesis_hash);
        let err = sample(0, vec![]).check_stateless(&other).unwrap_err();
        assert_eq!(err.code, ErrorCode::WrongChainId);
    }

    #[test]
    fn a_reset_chain_rejects_old_transactions() {
        // Same chain id, another genesis block: the signature no longer verifies.
        let reset = ChainRef::new("urbis-test", Hash([8; 32]));
        let err = sample(0, vec![]).check_stateless(&reset).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadSignature);
        let many = check_stateless_many(&[sample(0, vec![])], &reset);
        assert_eq!(many[0].clone().unwrap_err().code, ErrorCode::BadSignature);
    }

    #[test]
    fn small_order_signer_keys_are_refused() {
        // The identity point (an 8-torsion point): under ZIP-215 the signature R = identity,
        // s = 0 verifies for every message, so anyone could sign for this "account".
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let forged = SignedTx {
            chain_id: "urbis-test".into(),
            signer: PublicKey::Ed25519(identity),
            nonce: 0,
            call: Call {
                module: "rewards".into(),
                data: vec![],
            },
            signature: Signature::Ed25519({
                let mut s = [0u8; 64];
                s[0] = 1;
                s
            }),
        };
        let message = forged.unsigned().message(&chain().genesis_hash);
        assert!(
            forged
                .signer
                .verify(domain::TX_SIGN, &message, &forged.signature)
                .is_ok(),
            "the forgery is a valid ZIP-215 signature"
        );
        let err = forged.check_stateless(&chain()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert!(err.message.contains("small-order"), "{err}");
        let many = check_stateless_many(&[forged], &chain());
        assert_eq!(
            many[0].clone().unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn tampered_fields_break_the_signature() {
        let mut tx = sample(0, vec![1]);
        tx.nonce = 1;
        assert_eq!(
            tx.check_stateless(&chain()).unwrap_err().code,
            ErrorCode::BadSignature
        );
        let mut tx = sample(0, vec![1]);
        tx.call.data[0] = 2;
        assert_eq!(
            tx.check_stateless(&chain()).unwrap_err().code,
            ErrorCode::BadSignature
        );
    }

    #[test]
    fn oversized_and_garbage_bytes_are_rejected() {
        let big = vec![0u8; limits::MAX_TX_BYTES + 1];
        assert_eq!(
            SignedTx::decode(&big).unwrap_err().code,
            ErrorCode::TooLarge
        );
        assert_eq!(
            SignedTx::decode(&[1, 2, 3]).unwrap_err().code,
            ErrorCode::Malformed
        );
        let mut bytes = sample(0, vec![]).encode();
        bytes.push(0);
        assert_eq!(
            SignedTx::decode(&bytes).unwrap_err().code,
            ErrorCode::Malformed,
            "trailing bytes are rejected"
        );
    }

    #[test]
    fn many_checks_match_single_checks() {
        let mut txs: Vec<SignedTx> = (0..150).map(|n| sample(n, vec![n as u8])).collect();
        txs[3].nonce += 1; // bad signature
        txs[100].chain_id = "other".into(); // wrong chain
        txs[149].signature = txs[0].signature; // bad signature
        let many = check_stateless_many(&txs, &chain());
        for (tx, r) in txs.iter().zip(&many) {
            assert_eq!(
                r.clone().err().map(|e| e.code),
                tx.check_stateless(&chain()).err().map(|e| e.code)
            );
        }
        assert_eq!(many.iter().filter(|r| r.is_err()).count(), 3);
        assert_eq!(many[100].clone().unwrap_err().code, ErrorCode::WrongChainId);
    }

    proptest! {
        #[test]
        fn borsh_and_json_roundtrip(nonce in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let tx = sample(nonce, data);
            let decoded = SignedTx::decode(&tx.encode()).unwrap();
            prop_assert_eq!(&decoded, &tx);
            prop_assert_eq!(decoded.hash(), tx.hash());
            let json = serde_json::to_string(&tx).unwrap();
            let back: SignedTx = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, tx);
        }
    }
}
