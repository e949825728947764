//! Following the chain without voting: what a full node checks of the blocks it is given.
//!
//! A full node takes finalized blocks from any node's API (`GET /v1/sync/blocks`, see
//! `docs/full-nodes.md` for the bytes) and trusts none of its sources: it trusts only the
//! validator set of its genesis file. [`Follower::accept`] takes the blocks of one answer and
//! releases those that are proven final:
//!
//! - each block is the next height, its `parent` is the digest of the block before (the last
//!   one released or still pending), it belongs to this chain, its header names the validator
//!   set of its epoch, and its transactions are the ones its header commits to (count, root,
//!   signatures: [`urbis_core::Block::check_structure`]);
//! - every finalization certificate that comes with a block must verify for that block against
//!   the set of its epoch ([`crate::verify_finalization_in`]) — one that does not fails the
//!   whole answer. The sets come from [`crate::epochs::EpochSets`]: the genesis set, then each
//!   set the node's own execution has made final (a block whose epoch's set is not known yet
//!   ends the answer there; it is asked for again once execution has moved on);
//! - a block is released once it or a descendant carries a verified certificate (the
//!   certificate signs the descendant's digest, which commits by parent links to each
//!   ancestor). Blocks not covered yet wait, at most [`MAX_PENDING`] of them, and only for
//!   more answers from the same source: the caller drops them ([`Follower::drop_pending`])
//!   before it asks another, so a source that sends uncertified blocks cannot make an honest
//!   one's answers look wrong.
//!
//! The state roots in later headers are checked by the executor when it stores each block
//! (`executor::storage`), for full nodes and validators alike.

use urbis_core::{Block, ChainRef, ErrorCode, Hash, UrbisError, limits};

use std::sync::Arc;

use crate::bundle::verify_finalization_in;
use crate::epochs::EpochSets;

/// Most blocks one `GET /v1/sync/blocks` answer carries.
pub const MAX_BATCH_BLOCKS: u64 = 256;

/// An answer stops growing once it holds this many bytes (it always holds at least one block
/// when one is available).
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Blocks a follower keeps while it waits for a certificate that covers them.
pub const MAX_PENDING: usize = 4 * MAX_BATCH_BLOCKS as usize;

/// One block of an answer and the certificate stored with it, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncedBlock {
    /// `Block::encode` bytes, as stored.
    pub block: Vec<u8>,
    /// The encoded finalization certificate of this very block (Commonware's codec), when the
    /// serving node has one (blocks finalized through a descendant have none).
    pub finalization: Option<Vec<u8>>,
}

fn malformed(msg: impl Into<String>) -> UrbisError {
    UrbisError::new(ErrorCode::Malformed, msg)
}

/// Append one record: `u32` big-endian length, the block, `u32` big-endian length (0 when
/// absent), the certificate.
pub fn encode_record(out: &mut Vec<u8>, block: &[u8], finalization: Option<&[u8]>) {
    out.extend_from_slice(&(block.len() as u32).to_be_bytes());
    out.extend_from_slice(block);
    let cert = finalization.unwrap_or_default();
    out.extend_from_slice(&(cert.len() as u32).to_be_bytes());
    out.extend_from_slice(cert);
}

/// Split an answer into its records; refuses truncated or oversized ones.
pub fn decode_batch(mut bytes: &[u8]) -> Result<Vec<SyncedBlock>, UrbisError> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], UrbisError> {
        if bytes.len() < n {
            return Err(malformed(format!("sync answer truncated in {what}")));
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Ok(head)
    }
    fn len(bytes: &mut &[u8], what: &str) -> Result<usize, UrbisError> {
        let b = take(bytes, 4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if out.len() as u64 >= MAX_BATCH_BLOCKS {
            return Err(malformed(format!(
                "sync answer holds more than {MAX_BATCH_BLOCKS} blocks"
            )));
        }
        let n = len(&mut bytes, "a block length")?;
        if n > limits::MAX_BLOCK_BYTES {
            return Err(UrbisError::new(
                ErrorCode::TooLarge,
                "a block in the sync answer is larger than a block can be",
            ));
        }
        let block = take(&mut bytes, n, "a block")?.to_vec();
        let m = len(&mut bytes, "a certificate length")?;
        if m > MAX_CERTIFICATE_BYTES {
            return Err(UrbisError::new(
                ErrorCode::TooLarge,
                "a certificate in the sync answer is too large",
            ));
        }
        let cert = take(&mut bytes, m, "a certificate")?;
        out.push(SyncedBlock {
            block,
            finalization: (m > 0).then(|| cert.to_vec()),
        });
    }
    Ok(out)
}

/// Upper bound of an encoded ed25519 finalization: a proposal, a signer bitmap and up to
/// 1,024 signatures of 64 bytes (far more validators than a consortium has).
const MAX_CERTIFICATE_BYTES: usize = 1024 + 64 * 1024;

/// A block released to execution, with the certificate it came with.
#[derive(Debug)]
pub struct Released {
    pub block: Block,
    pub digest: Hash,
    pub finalization: Option<Vec<u8>>,
}

/// The full node's verifier of finalized blocks (see the module documentation).
pub struct Follower {
    chain: ChainRef,
    sets: Arc<EpochSets>,
    /// The last answer stopped at a block whose epoch's set this node does not know yet.
    blocked_on_set: bool,
    /// Height and digest of the last block released.
    released: (u64, Hash),
    /// Blocks accepted but not yet covered by a certificate, in height order.
    pending: Vec<Released>,
}

impl Follower {
    /// A follower whose next block is `height + 1`, child of the block `digest`.
    pub fn new(chain: ChainRef, sets: Arc<EpochSets>, height: u64, digest: Hash) -> Self {
        Follower {
            chain,
            sets,
            blocked_on_set: false,
            released: (height, digest),
            pending: Vec::new(),
        }
    }

    /// Height and digest of the last block accepted (pending or released).
    fn tip(&self) -> (u64, Hash) {
        self.pending
            .last()
            .map_or(self.released, |r| (r.block.header.height, r.digest))
    }

    /// The next height to ask for.
    pub fn next_height(&self) -> u64 {
        self.tip().0 + 1
    }

    /// Forget the blocks waiting for a certificate (before asking another source).
    pub fn drop_pending(&mut self) {
        self.pending.clear();
    }

    /// The highest height proven final so far.
    pub fn certified(&self) -> u64 {
        self.released.0
    }

    /// Whether the last answer stopped at a block of an epoch whose set is not known yet (wait
    /// for execution before asking again).
    pub fn blocked_on_set(&self) -> bool {
        self.blocked_on_set
    }

    /// Blocks waiting for a certificate.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Check the blocks of one answer, in order, and return those now proven final (oldest
    /// first). On an error nothing of this answer is kept: the follower is as before, and the
    /// caller should ask another source.
    pub fn accept(&mut self, batch: Vec<SyncedBlock>) -> Result<Vec<Released>, UrbisError> {
        let mut tip = self.tip();
        let mut fresh: Vec<Released> = Vec::with_capacity(batch.len());
        let mut covered: Option<usize> = None;
        self.blocked_on_set = false;
        for item in batch {
            let block = Block::decode(&item.block)?;
            let h = &block.header;
            let Some(set) = self.sets.at_height(h.height) else {
                self.blocked_on_set = true;
                break;
            };
            if h.height != tip.0 + 1 {
                return Err(malformed(format!(
                    "expected block {}, the source sent block {}",
                    tip.0 + 1,
                    h.height
                )));
            }
            if h.parent != tip.1 {
                return Err(UrbisError::new(
                    ErrorCode::InvalidProof,
                    format!(
                        "block {} does not follow the chain: its parent is {}, not {}",
                        h.height, h.parent, tip.1
                    ),
                ));
            }
            if h.validator_set != set.hash {
                return Err(UrbisError::new(
                    ErrorCode::InvalidProof,
                    format!(
                        "block {} names validator set {}, not its epoch's set {}",
                        h.height, h.validator_set, set.hash
                    ),
                ));
            }
            block.check_structure(&self.chain)?;
            let digest = block.digest();
            if let Some(cert) = &item.finalization {
                let epoch = self.sets.epochs.of(h.height);
                verify_finalization_in(&self.chain.chain_id, &set.keys, epoch, cert, &digest)
                    .map_err(|e| {
                        UrbisError::new(e.code, format!("block {}: {}", h.height, e.message))
                    })?;
                covered = Some(fresh.len());
            }
            tip = (h.height, digest);
            fresh.push(Released {
                block,
                digest,
                finalization: item.finalization,
            });
        }
        let waiting = self.pending.len() + fresh.len() - covered.map_or(0, |i| i + 1);
        if covered.is_none() && waiting > MAX_PENDING {
            return Err(UrbisError::new(
                ErrorCode::InvalidProof,
                format!("the source sent {waiting} blocks and no certificate covering them"),
            ));
        }
        let mut all = std::mem::take(&mut self.pending);
        let before = all.len();
        all.extend(fresh);
        match covered {
            Some(i) => {
                self.pending = all.split_off(before + i + 1);
                if let Some(last) = all.last() {
                    self.released = (last.block.header.height, last.digest);
                }
                Ok(all)
            }
            None => {
                self.pending = all;
                Ok(Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::shared::validator_set_hash;
    use urbis_core::{Block, Header, PublicKey, SecretKey};

    fn chain() -> ChainRef {
        ChainRef::new("follow-test", Hash([7; 32]))
    }

    fn sets() -> Arc<EpochSets> {
        let start = crate::epochs::EpochStart {
            epoch: 0,
            floor: genesis(),
        };
        Arc::new(EpochSets::fixed(&validators(), start).unwrap())
    }

    fn validators() -> Vec<PublicKey> {
        (0..4)
            .map(|i| SecretKey::from_label(&format!("v{i}")).public_key())
            .collect()
    }

    fn block(height: u64, parent: Hash) -> Block {
        Block {
            header: Header {
                chain_id: chain().chain_id,
                height,
                parent,
                view: height,
                timestamp_ms: 1_000 * height,
                proposer: validators()[0],
                txs_root: Block::compute_txs_root(&[]),
                tx_count: 0,
                state_height: height - 1,
                state_root: Hash([1; 32]),
                receipts_acc: Hash([2; 32]),
                validator_set: validator_set_hash(&validators()),
            },
            txs: Vec::new(),
        }
    }

    /// Blocks `from..from+n` following `parent`, without certificates.
    fn run_of(from: u64, n: u64, mut parent: Hash) -> Vec<SyncedBlock> {
        (from..from + n)
            .map(|h| {
                let b = block(h, parent);
                parent = b.digest();
                SyncedBlock {
                    block: b.encode(),
                    finalization: None,
                }
            })
            .collect()
    }

    fn genesis() -> Hash {
        Hash([9; 32])
    }

    #[test]
    fn records_round_trip_and_truncation_is_refused() {
        let mut bytes = Vec::new();
        encode_record(&mut bytes, b"block-1", Some(b"cert"));
        encode_record(&mut bytes, b"block-2", None);
        let got = decode_batch(&bytes).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].finalization.as_deref(), Some(&b"cert"[..]));
        assert_eq!(got[1].finalization, None);
        for cut in 1..bytes.len() {
            if cut == 4 + 7 + 4 + 4 {
                continue; // a whole first record
            }
            assert!(decode_batch(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = Vec::new();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode_batch(&huge).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn uncertified_blocks_wait_and_bad_links_change_nothing() {
        let mut f = Follower::new(chain(), sets(), 0, genesis());
        let run = run_of(1, 3, genesis());
        assert!(f.accept(run.clone()).unwrap().is_empty());
        assert_eq!((f.next_height(), f.pending(), f.certified()), (4, 3, 0));

        // Not the next height, not the right parent, another validator set, another chain,
        // a transaction count the header does not have: refused, nothing kept.
        let tip = Block::decode(&run[2].block).unwrap().digest();
        let mut bad = Vec::new();
        bad.push(run_of(5, 1, tip));
        bad.push(run_of(4, 1, Hash([3; 32])));
        let mut b = block(4, tip);
        b.header.validator_set = Hash([4; 32]);
        bad.push(vec![SyncedBlock {
            block: b.encode(),
            finalization: None,
        }]);
        let mut b = block(4, tip);
        b.header.chain_id = "elsewhere".into();
        bad.push(vec![SyncedBlock {
            block: b.encode(),
            finalization: None,
        }]);
        let mut b = block(4, tip);
        b.header.tx_count = 1;
        bad.push(vec![SyncedBlock {
            block: b.encode(),
            finalization: None,
        }]);
        for batch in bad {
            assert!(f.accept(batch).is_err());
            assert_eq!((f.next_height(), f.pending()), (4, 3));
        }

        // A certificate that does not verify fails the whole answer.
        let mut with_cert = run_of(4, 2, tip);
        with_cert[1].finalization = Some(vec![0u8; 100]);
        let err = f.accept(with_cert).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidProof, "{err}");
        assert_eq!((f.next_height(), f.pending()), (4, 3));

        // Another source starts again from the last released block.
        f.drop_pending();
        assert_eq!((f.next_height(), f.pending()), (1, 0));
    }

    #[test]
    fn a_source_that_never_certifies_is_cut_off() {
        let mut f = Follower::new(chain(), sets(), 0, genesis());
        let mut parent = genesis();
        let mut height = 1;
        loop {
            let run = run_of(height, MAX_BATCH_BLOCKS, parent);
            parent = Block::decode(&run[run.len() - 1].block).unwrap().digest();
            height += MAX_BATCH_BLOCKS;
            match f.accept(run) {
                Ok(released) => assert!(released.is_empty()),
                Err(e) => {
                    assert_eq!(e.code, ErrorCode::InvalidProof);
                    assert_eq!(f.pending(), MAX_PENDING);
                    break;
                }
            }
        }
    }
}
