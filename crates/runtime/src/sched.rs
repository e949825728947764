//! The scheduler: work a module asks to run at a time ([`crate::Ctx::schedule_at`]).
//!
//! Jobs live in the runtime's namespace, ordered by due time then id:
//!
//! | key                                          | value (borsh)                      |
//! |----------------------------------------------|------------------------------------|
//! | `system/sched/next`                          | `u64`: the next job id (absent: 0) |
//! | `system/sched/q/<due_ms:020>/<id:020>`       | [`Job`]                            |
//!
//! (zero-padded decimal, so key order is time order). At the end of every block, before the
//! modules' end-of-block work, the runtime runs the jobs whose due time is at most the block's
//! timestamp, in (time, id) order, at most [`JOBS_PER_BLOCK`]; the rest wait for the next block,
//! still in order. Each job runs once, in its module's `on_scheduled`, whether it succeeds or
//! not (a failure is a `runtime/job_failed` event). Nobody scans their whole state per block:
//! a deadline is one job.

use borsh::{BorshDeserialize, BorshSerialize};

/// Prefix of the queue.
pub const QUEUE: &[u8] = b"system/sched/q/";
/// Key of the next job id.
pub const NEXT: &[u8] = b"system/sched/next";
/// Most jobs run per block.
pub const JOBS_PER_BLOCK: usize = 256;

/// A scheduled job.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Job {
    /// The module whose `on_scheduled` runs it.
    pub module: String,
    /// What that module asked to be given back.
    pub payload: Vec<u8>,
}

/// The key of job `id` due at `due_ms`.
pub fn job_key(due_ms: u64, id: u64) -> Vec<u8> {
    format!("system/sched/q/{due_ms:020}/{id:020}").into_bytes()
}

/// `(due_ms, id)` of a job key.
pub fn parse_job_key(key: &[u8]) -> Option<(u64, u64)> {
    let rest = key.strip_prefix(QUEUE)?;
    let text = std::str::from_utf8(rest).ok()?;
    let (due, id) = text.split_once('/')?;
    Some((due.parse().ok()?, id.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_time_then_id() {
        assert!(job_key(9, 5) < job_key(10, 1));
        assert!(job_key(10, 1) < job_key(10, 2));
        assert_eq!(parse_job_key(&job_key(u64::MAX, 7)), Some((u64::MAX, 7)));
        assert_eq!(parse_job_key(b"system/sched/q/x/1"), None);
    }
}
