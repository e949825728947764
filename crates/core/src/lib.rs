//! Urbis primitives.
//!
//! Everything that is hashed or signed is encoded with borsh and prefixed with a domain tag
//! (see [`hash::domain`]), so that a signature or hash made for one purpose can never be replayed
//! as another. JSON (serde) is only used at the API edge; byte fields are hex there, addresses
//! are bech32m (`urbis1…`).

pub mod block;
pub mod error;
pub mod hash;
pub mod keys;
pub mod receipt;
mod schema;
pub mod tx;

pub use block::{Block, Header};
pub use error::{ErrorCode, UrbisError};
pub use hash::{Hash, MerkleStep, merkle_path, merkle_root, merkle_root_from_path, sha256_domain};
pub use keys::{Address, PublicKey, SecretKey, Signature};
pub use receipt::{
    Event, Receipt, TxError, block_events_leaf, encode_receipts, receipt_leaf, receipts_acc,
    receipts_leaves, receipts_root,
};
pub use tx::{Call, ChainRef, SignedTx, UnsignedTx};

/// Hard limits that every node enforces identically.
pub mod limits {
    /// Largest encoded transaction accepted anywhere (mempool, block validation).
    pub const MAX_TX_BYTES: usize = 64 * 1024;
    /// Largest number of transactions in one block.
    pub const MAX_BLOCK_TXS: usize = 10_000;
    /// Largest encoded block.
    pub const MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;
    /// Longest chain id.
    pub const MAX_CHAIN_ID_LEN: usize = 64;
    /// Longest module name.
    pub const MAX_MODULE_NAME_LEN: usize = 32;
    /// Largest state value a transaction, genesis or end-of-block work may write (and the
    /// largest the authenticated store decodes, in stored operations and in proofs).
    pub const MAX_VALUE_BYTES: usize = 256 * 1024;
    /// Longest state key.
    pub const MAX_KEY_BYTES: usize = 1024;
}

/// Serde helpers for byte fields shown as hex at the API.
pub mod hexser {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        hex::decode(s.strip_prefix("0x").unwrap_or(&s)).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Vec<u8>>` (`null` when absent).
    pub mod opt {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(b) => s.serialize_some(&hex::encode(b)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            let v: Option<String> = Option::deserialize(d)?;
            v.map(|s| {
                hex::decode(s.strip_prefix("0x").unwrap_or(&s)).map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}
