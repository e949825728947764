//! SHA-256 hashing with domain separation, and the binary Merkle root used for transaction lists.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Domain tags. Every hash and signature in Urbis starts with exactly one of these.
pub mod domain {
    pub const TX_SIGN: &[u8] = b"urbis/tx-sign/v1";
    pub const TX_ID: &[u8] = b"urbis/tx-id/v1";
    pub const BLOCK: &[u8] = b"urbis/block/v1";
    pub const ADDRESS: &[u8] = b"urbis/address/v1";
    pub const MERKLE_LEAF: &[u8] = b"urbis/merkle-leaf/v1";
    pub const MERKLE_NODE: &[u8] = b"urbis/merkle-node/v1";
    pub const STATE_KEY: &[u8] = b"urbis/state-key/v1";
    pub const STATE_VALUE: &[u8] = b"urbis/state-value/v1";
    pub const VALIDATOR_SET: &[u8] = b"urbis/validator-set/v1";
    pub const GENESIS: &[u8] = b"urbis/genesis/v1";
    pub const OBJECT_ID: &[u8] = b"urbis/object-id/v1";
    pub const RECEIPT: &[u8] = b"urbis/receipt/v1";
    pub const BLOCK_EVENTS: &[u8] = b"urbis/block-events/v1";
    pub const RECEIPTS_ACC: &[u8] = b"urbis/receipts-acc/v1";
}

/// A 32-byte SHA-256 digest.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub const ZERO: Hash = Hash([0u8; 32]);

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Error parsing a hex hash.
#[derive(Debug, thiserror::Error)]
#[error("expected 32 bytes of hex")]
pub struct ParseHashError;

impl FromStr for Hash {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(s).map_err(|_| ParseHashError)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| ParseHashError)?;
        Ok(Hash(arr))
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `SHA-256(len(tag) as u8 || tag || parts...)`.
///
/// The tag is length-prefixed so that no tag can be a prefix of another's input.
pub fn sha256_domain(tag: &[u8], parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    h.update([tag.len() as u8]);
    h.update(tag);
    for p in parts {
        h.update(p);
    }
    Hash(h.finalize().into())
}

/// Binary Merkle root over leaf hashes.
///
/// Leaves are hashed with the leaf tag, inner nodes with the node tag; an odd node at the end of a
/// level is carried up unchanged. The root of an empty list is [`Hash::ZERO`].
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = leaves
        .iter()
        .map(|l| sha256_domain(domain::MERKLE_LEAF, &[&l.0]))
        .collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [a, b] => next.push(sha256_domain(domain::MERKLE_NODE, &[&a.0, &b.0])),
                [a] => next.push(*a),
                _ => unreachable!("chunks(2) yields one or two items"),
            }
        }
        level = next;
    }
    level[0]
}

/// One step of a Merkle path: the sibling at this level and whether it is on the left.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct MerkleStep {
    pub sibling: Hash,
    pub left: bool,
}

/// The path from leaf `index` to [`merkle_root`]`(leaves)`: at each level the sibling, if the
/// node has one (an odd node at the end of a level is carried up unchanged and has none).
pub fn merkle_path(leaves: &[Hash], index: usize) -> Option<Vec<MerkleStep>> {
    if index >= leaves.len() {
        return None;
    }
    let mut level: Vec<Hash> = leaves
        .iter()
        .map(|l| sha256_domain(domain::MERKLE_LEAF, &[&l.0]))
        .collect();
    let mut i = index;
    let mut path = Vec::new();
    while level.len() > 1 {
        let sibling = i ^ 1;
        if sibling < level.len() {
            path.push(MerkleStep {
                sibling: level[sibling],
                left: sibling < i,
            });
        }
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [a, b] => next.push(sha256_domain(domain::MERKLE_NODE, &[&a.0, &b.0])),
                [a] => next.push(*a),
                _ => unreachable!("chunks(2) yields one or two items"),
            }
        }
        level = next;
        i /= 2;
    }
    Some(path)
}

/// The root that `leaf` and `path` lead to (compare it with the expected root).
pub fn merkle_root_from_path(leaf: &Hash, path: &[MerkleStep]) -> Hash {
    let mut node = sha256_domain(domain::MERKLE_LEAF, &[&leaf.0]);
    for step in path {
        node = if step.left {
            sha256_domain(domain::MERKLE_NODE, &[&step.sibling.0, &node.0])
        } else {
            sha256_domain(domain::MERKLE_NODE, &[&node.0, &step.sibling.0])
        };
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_paths_lead_to_the_root() {
        for n in 1..=17usize {
            let leaves: Vec<Hash> = (0..n)
                .map(|i| sha256_domain(b"t", &[&(i as u64).to_le_bytes()]))
                .collect();
            let root = merkle_root(&leaves);
            for (i, leaf) in leaves.iter().enumerate() {
                let path = merkle_path(&leaves, i).unwrap();
                assert_eq!(merkle_root_from_path(leaf, &path), root, "n={n} i={i}");
                // Another leaf, or a flipped side, does not.
                let other = sha256_domain(b"x", &[]);
                assert_ne!(merkle_root_from_path(&other, &path), root);
                if let Some(first) = path.first() {
                    let mut flipped = path.clone();
                    flipped[0].left = !first.left;
                    assert_ne!(merkle_root_from_path(leaf, &flipped), root);
                }
            }
            assert!(merkle_path(&leaves, n).is_none());
        }
    }

    #[test]
    fn domains_separate() {
        assert_ne!(
            sha256_domain(domain::TX_ID, &[b"x"]),
            sha256_domain(domain::BLOCK, &[b"x"])
        );
    }

    #[test]
    fn merkle_root_depends_on_order_and_content() {
        let a = sha256_domain(b"t", &[b"a"]);
        let b = sha256_domain(b"t", &[b"b"]);
        let c = sha256_domain(b"t", &[b"c"]);
        assert_eq!(merkle_root(&[]), Hash::ZERO);
        assert_ne!(merkle_root(&[a]), a, "a single leaf is still hashed");
        assert_ne!(merkle_root(&[a, b]), merkle_root(&[b, a]));
        assert_ne!(merkle_root(&[a, b, c]), merkle_root(&[a, b]));
    }

    #[test]
    fn hash_hex_roundtrip() {
        let h = sha256_domain(b"t", &[b"abc"]);
        assert_eq!(h.to_hex().parse::<Hash>().unwrap(), h);
        assert!("zz".parse::<Hash>().is_err());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
    }
}
