//! The verification ceiling: how many Ed25519 signatures this machine checks per second with
//! the node's own verifier (ZIP-215, `urbis_core::keys`), one at a time and in batches of
//! [`BATCH`] (what the door and block verification do).

use std::time::{Duration, Instant};

use serde::Serialize;
use urbis_core::keys::{BatchItem, verify_batch};
use urbis_core::{PublicKey, SecretKey, Signature};

/// Signatures per batch.
pub const BATCH: usize = 1024;

/// Domain tag of the measured signatures (any tag costs the same).
const TAG: &[u8] = b"urbis/bench-ceiling/v1";

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Ceiling {
    /// One signature at a time, one core.
    pub single_verify_per_s: f64,
    /// Batches of [`BATCH`], one core.
    pub batched_verify_per_core_per_s: f64,
    pub cores: usize,
    /// Batched rate per core × cores.
    pub verify_ceiling_per_s: f64,
}

struct Corpus {
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
    keys: Vec<PublicKey>,
}

fn corpus() -> Corpus {
    let mut c = Corpus {
        messages: Vec::with_capacity(BATCH),
        signatures: Vec::with_capacity(BATCH),
        keys: Vec::with_capacity(BATCH),
    };
    for i in 0..BATCH {
        let sk = SecretKey::from_label(&format!("ceiling-{i}"));
        // About the size of a transaction's signing bytes.
        let msg: Vec<u8> = (0..160).map(|j| (i * 31 + j) as u8).collect();
        c.signatures.push(sk.sign(TAG, &msg));
        c.keys.push(sk.public_key());
        c.messages.push(msg);
    }
    c
}

fn items(c: &Corpus) -> Vec<BatchItem<'_>> {
    (0..BATCH)
        .map(|i| (&c.keys[i], TAG, c.messages[i].as_slice(), &c.signatures[i]))
        .collect()
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
                .verify(TAG, &c.messages[k], &c.signatures[k])
                .is_ok();
            std::hint::black_box(ok);
        }
        single += 64;
    }
    let single_rate = single as f64 / start.elapsed().as_secs_f64();

    let batch = items(&c);
    let start = Instant::now();
    let mut batched = 0usize;
    while start.elapsed() < each {
        std::hint::black_box(verify_batch(&batch));
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
        assert!(verify_batch(&items(&c)));
        assert!(
            c.keys[5]
                .verify(TAG, &c.messages[5], &c.signatures[5])
                .is_ok()
        );
        let mut bad = Corpus {
            messages: c.messages.clone(),
            signatures: c.signatures.clone(),
            keys: c.keys.clone(),
        };
        bad.signatures.swap(0, 1);
        assert!(!verify_batch(&items(&bad)));
    }

    #[test]
    fn measure_reports_positive_rates() {
        let c = measure(Duration::from_millis(20));
        assert!(c.single_verify_per_s > 0.0 && c.batched_verify_per_core_per_s > 0.0);
        assert!(c.cores >= 1);
    }
}
