//! The verification ceiling: how many Ed25519 signatures this machine checks per second, one at a
//! time (`verify_strict`, what the node does) and in batches (`verify_batch`, 1024 per batch).

use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::Serialize;

/// Signatures per batch.
pub const BATCH: usize = 1024;

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Ceiling {
    /// `verify_strict`, one core.
    pub single_verify_per_s: f64,
    /// `verify_batch` in batches of [`BATCH`], one core.
    pub batched_verify_per_core_per_s: f64,
    pub cores: usize,
    /// Batched rate per core × cores.
    pub verify_ceiling_per_s: f64,
}

struct Corpus {
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
    keys: Vec<VerifyingKey>,
}

fn corpus() -> Corpus {
    let mut c = Corpus {
        messages: Vec::with_capacity(BATCH),
        signatures: Vec::with_capacity(BATCH),
        keys: Vec::with_capacity(BATCH),
    };
    for i in 0..BATCH {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
        seed[31] = 0xb7;
        let sk = SigningKey::from_bytes(&seed);
        // About the size of a transaction's signing bytes.
        let msg: Vec<u8> = (0..160).map(|j| (i * 31 + j) as u8).collect();
        c.signatures.push(sk.sign(&msg));
        c.keys.push(sk.verifying_key());
        c.messages.push(msg);
    }
    c
}

/// Measure both rates for about `each` apiece, on the calling thread.
pub fn measure(each: Duration) -> Ceiling {
    let c = corpus();

    let start = Instant::now();
    let mut single = 0usize;
    while start.elapsed() < each {
        for i in 0..64 {
            let k = (single + i) % BATCH;
            let ok = c.keys[k]
                .verify_strict(&c.messages[k], &c.signatures[k])
                .is_ok();
            std::hint::black_box(ok);
        }
        single += 64;
    }
    let single_rate = single as f64 / start.elapsed().as_secs_f64();

    let msgs: Vec<&[u8]> = c.messages.iter().map(Vec::as_slice).collect();
    let start = Instant::now();
    let mut batched = 0usize;
    while start.elapsed() < each {
        let ok = ed25519_dalek::verify_batch(&msgs, &c.signatures, &c.keys).is_ok();
        std::hint::black_box(ok);
        batched += BATCH;
    }
    let batched_rate = batched as f64 / start.elapsed().as_secs_f64();

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    Ceiling {
        single_verify_per_s: single_rate,
        batched_verify_per_core_per_s: batched_rate,
        cores,
        verify_ceiling_per_s: batched_rate * cores as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_verifies_both_ways() {
        let c = corpus();
        let msgs: Vec<&[u8]> = c.messages.iter().map(Vec::as_slice).collect();
        ed25519_dalek::verify_batch(&msgs, &c.signatures, &c.keys).expect("batch verifies");
        assert!(
            c.keys[5]
                .verify_strict(&c.messages[5], &c.signatures[5])
                .is_ok()
        );
        let mut bad = c.signatures.clone();
        bad.swap(0, 1);
        assert!(ed25519_dalek::verify_batch(&msgs, &bad, &c.keys).is_err());
    }

    #[test]
    fn measure_reports_positive_rates() {
        let c = measure(Duration::from_millis(20));
        assert!(c.single_verify_per_s > 0.0 && c.batched_verify_per_core_per_s > 0.0);
        assert!(c.cores >= 1);
    }
}
