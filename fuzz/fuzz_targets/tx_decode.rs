//! Transaction decoding as the API and gossip see it: a decoded transaction re-encodes to the
//! same bytes (one id per transaction), its checks never panic, its JSON form round-trips; a
//! gossiped batch decodes or is refused.
#![no_main]

use urbis_core::{ChainRef, Hash, PublicKey, SignedTx};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = SignedTx::decode(data) {
        assert_eq!(
            tx.encode(),
            data,
            "a decoded transaction re-encodes as it came"
        );
        let _ = tx.check_stateless(&ChainRef::new(urbis_fuzz::CHAIN, Hash::ZERO));
        let _ = urbis_fuzz::world().runtime.check_weight(&tx);
        let json = serde_json::to_vec(&tx).expect("a transaction has a JSON form");
        // Binary decoding leaves the signer's key to the signature check; the JSON form reads
        // back whenever the key is a usable account key (the only transactions that commit).
        if tx.signer.to_text().parse::<PublicKey>().is_ok() {
            let back: SignedTx = serde_json::from_slice(&json).expect("its JSON form reads back");
            assert_eq!(back, tx);
        }
    }
    if let Ok(batch) = borsh::from_slice::<Vec<SignedTx>>(data) {
        assert_eq!(borsh::to_vec(&batch).expect("encodes"), data);
    }
    if let Ok(tx) = serde_json::from_slice::<SignedTx>(data) {
        let _ = tx.check_fields(urbis_fuzz::CHAIN);
    }
});
