//! Execution weights: what a transaction costs the validators, so that a block's work is
//! bounded before anyone executes it.
//!
//! One unit is about one nanosecond of one core of the reference machine (2 cores, the CI
//! box), calibrated from the criterion benchmarks (`tx/decode_verify`, `block_exec`,
//! `state_commit`; see BENCHMARKS.md). The numbers are part of the protocol: every validator
//! must compute the same weights, so they are constants, never measured at run time.
//!
//! A transaction's **declared weight** is known before execution, from its bytes alone:
//!
//! ```text
//! declared = TX_BASE + TX_BYTE × len(borsh(signed tx)) + Module::weight(call data)
//! ```
//!
//! Proposers fill a block up to [`MAX_BLOCK`] of declared weight, validators refuse a block
//! above it, and the node refuses at its door (`too_heavy`) a transaction whose declared
//! weight alone exceeds it. While the call runs, its context meters what it does (the table
//! below); a call that meters more than its module declared fails with `out_of_weight`
//! (nonce consumed, writes discarded), so the declaration is a bound the runtime enforces,
//! not a promise. The receipt records the weight used.
//!
//! Scheduled jobs and end-of-block work are metered too, against [`JOB`] and [`END_BLOCK`];
//! at most `sched::JOBS_PER_BLOCK` jobs run per block, so a block's work outside its
//! transactions is bounded as well.

/// Any transaction: the envelope's signature check, decoding, nonce read and write, receipt.
pub const TX_BASE: u64 = 45_000;
/// Per byte of the signed transaction: hashing, gossip, storage in the block.
pub const TX_BYTE: u64 = 10;
/// One state read by the call (a chain store lookup).
pub const READ: u64 = 2_000;
/// Each entry a range read returns (on top of one [`READ`]).
pub const SCAN_ITEM: u64 = 1_000;
/// One state write or delete (the chain store and the authenticated store's commit).
pub const WRITE: u64 = 5_000;
/// Per byte of a written key and value.
pub const WRITE_BYTE: u64 = 10;
/// One event, plus [`EVENT_BYTE`] per byte of its attributes.
pub const EVENT: u64 = 500;
pub const EVENT_BYTE: u64 = 5;
/// A call to another module's exported operation (its own work is metered as it runs), plus
/// [`TX_BYTE`] per byte of the operation.
pub const INVOKE: u64 = 1_000;
/// A fresh object id (one hash).
pub const NEW_ID: u64 = 500;
/// Scheduling a job (a queue write), plus [`WRITE_BYTE`] per byte of its payload.
pub const SCHEDULE: u64 = 6_000;
/// A signature check a module performs (charge it with `Ctx::charge` before checking).
pub const SIGNATURE: u64 = 40_000;

/// What a module declares for a call unless it says otherwise (`Module::weight`): a handful
/// of reads and writes.
pub const DEFAULT_CALL: u64 = 100_000;
/// Budget of one scheduled job.
pub const JOB: u64 = 200_000;
/// Budget of one module's end-of-block work.
pub const END_BLOCK: u64 = 10_000_000;
/// Most declared weight per block: about one and a half core-seconds of work, room for a
/// full block (`limits::MAX_BLOCK_TXS`, 10,000) of calls at [`DEFAULT_CALL`].
pub const MAX_BLOCK: u64 = 1_500_000_000;

/// The weight of writing `key` (with `value`, or deleting it).
pub fn write(key: &[u8], value: Option<&[u8]>) -> u64 {
    let bytes = key.len() + value.map_or(0, <[u8]>::len);
    WRITE.saturating_add(WRITE_BYTE.saturating_mul(bytes as u64))
}

/// The weight of emitting `event`.
pub fn event(event: &urbis_core::Event) -> u64 {
    let bytes = event.module.len()
        + event.kind.len()
        + event
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    EVENT.saturating_add(EVENT_BYTE.saturating_mul(bytes as u64))
}

/// What a transaction of `size` bytes costs besides its call.
pub fn envelope(size: usize) -> u64 {
    TX_BASE.saturating_add(TX_BYTE.saturating_mul(size as u64))
}
