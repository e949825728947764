//! Blocks and headers.
//!
//! State root convention: a header carries `state_root`, the root of the authenticated state
//! after executing every block up to and including `state_height`. A proposer fills in the
//! latest height it has executed, which is always a finalized ancestor of the new block, so every
//! honest validator can check the claim once it has executed that height itself (it never needs
//! to execute a block that might not be finalized). In a healthy chain `state_height` is the
//! parent's height. The finalization certificate of the header's block therefore certifies the
//! state at `state_height`; that is what proof bundles rely on.

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, UrbisError};
use crate::hash::{Hash, domain, merkle_root, sha256_domain};
use crate::keys::PublicKey;
use crate::limits;
use crate::tx::{ChainRef, SignedTx};

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
pub struct Header {
    pub chain_id: String,
    pub height: u64,
    /// Digest of the parent block ([`Hash::ZERO`] for genesis).
    pub parent: Hash,
    /// Consensus view (round) in which the block was proposed.
    pub view: u64,
    /// Milliseconds since the Unix epoch, set by the proposer and checked by validators.
    pub timestamp_ms: u64,
    /// Validator that proposed the block.
    pub proposer: PublicKey,
    /// Merkle root of the transaction ids (see [`merkle_root`]).
    pub txs_root: Hash,
    pub tx_count: u32,
    /// Height whose post-execution state `state_root` is.
    pub state_height: u64,
    pub state_root: Hash,
    /// The receipts accumulator after `state_height` (see `receipt::receipts_acc`): it vouches
    /// for the receipts and events of every block up to `state_height`.
    pub receipts_acc: Hash,
    /// Hash of the validator set that finalizes this block.
    pub validator_set: Hash,
}

impl Header {
    /// The block digest that consensus agrees on.
    pub fn digest(&self) -> Hash {
        let bytes = borsh::to_vec(self).expect("borsh to vec never fails");
        sha256_domain(domain::BLOCK, &[&bytes])
    }
}

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
pub struct Block {
    pub header: Header,
    pub txs: Vec<SignedTx>,
}

impl Block {
    pub fn digest(&self) -> Hash {
        self.header.digest()
    }

    pub fn height(&self) -> u64 {
        self.header.height
    }

    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh to vec never fails")
    }

    pub fn decode(bytes: &[u8]) -> Result<Block, UrbisError> {
        if bytes.len() > limits::MAX_BLOCK_BYTES {
            return Err(UrbisError::new(ErrorCode::TooLarge, "block too large"));
        }
        borsh::from_slice(bytes)
            .map_err(|e| UrbisError::new(ErrorCode::Malformed, format!("block: {e}")))
    }

    pub fn compute_txs_root(txs: &[SignedTx]) -> Hash {
        let ids: Vec<Hash> = txs.iter().map(SignedTx::hash).collect();
        merkle_root(&ids)
    }

    /// Structural checks a validator makes on a proposal before looking at state:
    /// limits, transaction root, no transaction (or sender and nonce) twice, and each
    /// transaction's stateless validity.
    pub fn check_structure(&self, chain: &ChainRef) -> Result<(), UrbisError> {
        self.check_structure_with(chain, |_| false)
    }

    /// As [`Block::check_structure`], skipping the signature check of transactions for which
    /// `verified(hash)` is true (they were verified, with the same rule, when admitted to this
    /// node's mempool). Remaining signatures are checked on all available cores.
    pub fn check_structure_with(
        &self,
        chain: &ChainRef,
        verified: impl Fn(&Hash) -> bool,
    ) -> Result<(), UrbisError> {
        let h = &self.header;
        if h.chain_id != chain.chain_id {
            return Err(UrbisError::new(
                ErrorCode::WrongChainId,
                "block for another chain",
            ));
        }
        if self.txs.len() > limits::MAX_BLOCK_TXS || self.txs.len() != h.tx_count as usize {
            return Err(UrbisError::new(
                ErrorCode::InvalidArgument,
                "transaction count exceeds the limit or does not match the header",
            ));
        }
        let ids: Vec<Hash> = self.txs.iter().map(SignedTx::hash).collect();
        if merkle_root(&ids) != h.txs_root {
            return Err(UrbisError::new(
                ErrorCode::InvalidArgument,
                "transactions root does not match",
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        let mut nonces = std::collections::HashSet::with_capacity(ids.len());
        let mut to_verify = Vec::new();
        for (tx, id) in self.txs.iter().zip(&ids) {
            if !seen.insert(*id) {
                return Err(UrbisError::new(
                    ErrorCode::DuplicateTx,
                    "transaction appears twice in the block",
                ));
            }
            if !nonces.insert((tx.signer, tx.nonce)) {
                return Err(UrbisError::new(
                    ErrorCode::DuplicateTx,
                    format!(
                        "two transactions of {} with nonce {} in the block",
                        tx.sender(),
                        tx.nonce
                    ),
                ));
            }
            if !verified(id) {
                to_verify.push(tx);
            }
        }
        crate::tx::check_stateless_many(&to_verify, chain)
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use crate::tx::Call;

    fn block_with(txs: Vec<SignedTx>) -> Block {
        Block {
            header: Header {
                chain_id: "c".into(),
                height: 1,
                parent: Hash::ZERO,
                view: 1,
                timestamp_ms: 0,
                proposer: SecretKey::from_label("v").public_key(),
                txs_root: Block::compute_txs_root(&txs),
                tx_count: txs.len() as u32,
                state_height: 0,
                state_root: Hash::ZERO,
                receipts_acc: Hash::ZERO,
                validator_set: Hash::ZERO,
            },
            txs,
        }
    }

    #[test]
    fn structure_checks() {
        let c = ChainRef::new("c", Hash([3; 32]));
        let k = SecretKey::from_label("a");
        let tx = SignedTx::new(&c, &k, 0, Call::new("m", &1u8));
        let b = block_with(vec![tx.clone()]);
        b.check_structure(&c).unwrap();
        assert_eq!(Block::decode(&b.encode()).unwrap(), b);

        let dup = block_with(vec![tx.clone(), tx.clone()]);
        assert_eq!(
            dup.check_structure(&c).unwrap_err().code,
            ErrorCode::DuplicateTx
        );
        // The same sender and nonce twice, with different calls: a replay of the nonce.
        let same_nonce = SignedTx::new(&c, &k, 0, Call::new("m", &2u8));
        let err = block_with(vec![tx.clone(), same_nonce])
            .check_structure(&c)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateTx);
        assert!(err.message.contains("nonce 0"), "{err}");

        // Many transactions: the parallel path finds one bad signature wherever it is.
        let mut many: Vec<SignedTx> = (0..300)
            .map(|n| SignedTx::new(&c, &k, n, Call::new("m", &1u8)))
            .collect();
        block_with(many.clone()).check_structure(&c).unwrap();
        many[250].nonce += 1_000;
        let bad = block_with(many);
        assert_eq!(
            bad.check_structure(&c).unwrap_err().code,
            ErrorCode::BadSignature
        );
        // ... unless the caller vouches for it (it verified that exact transaction before).
        let vouched = bad.txs[250].hash();
        bad.check_structure_with(&c, |h| *h == vouched).unwrap();

        let mut bad_root = b.clone();
        bad_root.header.txs_root = Hash::ZERO;
        assert!(bad_root.check_structure(&c).is_err());
        assert_ne!(bad_root.digest(), b.digest());
    }
}
