//! Block decoding as consensus sees it (the length-prefixed codec of a proposal or a fetched
//! block) and as the store reads it: canonical bytes only, structure checks never panic.
#![no_main]

use commonware_codec::{Decode, Encode};
use urbis_consensus::codec::ChainBlock;
use urbis_core::{Block, ChainRef, Hash};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let chain = ChainRef::new(urbis_fuzz::CHAIN, Hash::ZERO);
    if let Ok(block) = Block::decode(data) {
        assert_eq!(
            block.encode(),
            data,
            "a decoded block re-encodes as it came"
        );
        let _ = block.check_structure(&chain);
        let _ = block.digest();
    }
    if let Ok(b) = ChainBlock::decode_cfg(data.to_vec(), &(1usize << 20)) {
        assert_eq!(
            b.encode().as_ref(),
            data,
            "the consensus codec is canonical"
        );
        let _ = b.block.check_structure_with(&chain, |_| true);
    }
});
