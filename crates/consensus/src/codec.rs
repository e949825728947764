//! The bridge between Urbis blocks and Commonware's block traits.
//!
//! On the wire a block is `varint(len) || borsh(Block)`: self-delimiting (marshal embeds blocks
//! inside larger messages) and canonical (decoding re-encodes and compares). The consensus
//! digest is the Urbis header digest, so a finalization certificate over it certifies the header
//! and, through `txs_root`, every transaction.

use std::sync::Arc;

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, ReadExt, Write, varint::UInt};
use commonware_consensus::{Heightable, types::Height};
use commonware_cryptography::{Digestible, sha256};
use urbis_core::{Block, Hash};

/// An Urbis block as Commonware sees it. Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBlock {
    pub block: Arc<Block>,
    digest: Hash,
}

impl ChainBlock {
    pub fn new(block: Block) -> Self {
        let digest = block.digest();
        ChainBlock {
            block: Arc::new(block),
            digest,
        }
    }

    pub fn hash(&self) -> Hash {
        self.digest
    }
}

pub fn to_digest(h: &Hash) -> sha256::Digest {
    sha256::Digest(h.0)
}

pub fn from_digest(d: &sha256::Digest) -> Hash {
    Hash(d.0)
}

impl Write for ChainBlock {
    fn write(&self, buf: &mut impl BufMut) {
        let bytes = self.block.encode();
        UInt(bytes.len() as u64).write(buf);
        buf.put_slice(&bytes);
    }
}

impl EncodeSize for ChainBlock {
    fn encode_size(&self) -> usize {
        let n = borsh::object_length(self.block.as_ref()).expect("borsh length never fails");
        UInt(n as u64).encode_size() + n
    }
}

impl Read for ChainBlock {
    /// Largest accepted encoded block.
    type Cfg = usize;

    fn read_cfg(buf: &mut impl Buf, max: &usize) -> Result<Self, CodecError> {
        let len: u64 = UInt::<u64>::read(buf)?.into();
        let len = usize::try_from(len).map_err(|_| CodecError::Invalid("Block", "length"))?;
        if len > *max {
            return Err(CodecError::Invalid("Block", "too large"));
        }
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        let mut bytes = vec![0u8; len];
        buf.copy_to_slice(&mut bytes);
        let block: Block =
            borsh::from_slice(&bytes).map_err(|_| CodecError::Invalid("Block", "borsh"))?;
        if block.encode() != bytes {
            return Err(CodecError::Invalid("Block", "non-canonical encoding"));
        }
        Ok(ChainBlock::new(block))
    }
}

impl Digestible for ChainBlock {
    type Digest = sha256::Digest;

    fn digest(&self) -> sha256::Digest {
        to_digest(&self.digest)
    }
}

impl Heightable for ChainBlock {
    fn height(&self) -> Height {
        Height::new(self.block.header.height)
    }
}

impl commonware_consensus::Block for ChainBlock {
    fn parent(&self) -> sha256::Digest {
        to_digest(&self.block.header.parent)
    }
}

impl commonware_consensus::BoundedBlock for ChainBlock {
    fn max_encode_size(max: &usize) -> usize {
        UInt(*max as u64).encode_size() + *max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode as _, Encode as _};
    use urbis_core::{Header, SecretKey};

    #[test]
    fn codec_roundtrip_and_rejects_garbage() {
        let b = Block {
            header: Header {
                chain_id: "c".into(),
                height: 3,
                parent: Hash([7; 32]),
                view: 4,
                timestamp_ms: 5,
                proposer: SecretKey::from_label("v").public_key(),
                txs_root: Hash::ZERO,
                tx_count: 0,
                state_height: 2,
                state_root: Hash([1; 32]),
                receipts_acc: Hash::ZERO,
                validator_set: Hash([2; 32]),
            },
            txs: vec![],
        };
        let cb = ChainBlock::new(b);
        let bytes = cb.encode();
        assert_eq!(bytes.len(), cb.encode_size());
        let back = ChainBlock::read_cfg(&mut bytes.clone(), &1_000_000).unwrap();
        assert_eq!(back, cb);
        let truncated = bytes.slice(..bytes.len() - 1);
        assert!(ChainBlock::read_cfg(&mut truncated.clone(), &1_000_000).is_err());
        assert!(ChainBlock::read_cfg(&mut bytes.clone(), &10).is_err());
        let mut trailing = bytes.to_vec();
        trailing.push(0);
        assert!(ChainBlock::decode_cfg(bytes::Bytes::from(trailing), &1_000_000).is_err());
    }
}
