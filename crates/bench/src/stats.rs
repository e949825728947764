//! Latency percentiles and the steady-state window.

/// Nearest-rank percentile of sorted `values` (`p` in 0..=100); `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The steady window of a run: commits (seconds since the start, any order) with the first and
/// last `trim` fraction dropped. Throughput is the number of commits in `(start, end]` divided
/// by `end - start`, which counts whole blocks inside the window however commits are batched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub start: f64,
    pub end: f64,
    pub commits: usize,
}

impl Window {
    pub fn of(commit_times: &[f64], trim: f64) -> Option<Window> {
        let mut t = commit_times.to_vec();
        t.sort_by(f64::total_cmp);
        let n = t.len();
        if n < 2 {
            return None;
        }
        let lo = ((n as f64) * trim).floor() as usize;
        let hi = (((n as f64) * (1.0 - trim)).ceil() as usize).clamp(lo + 1, n) - 1;
        let (start, end) = (t[lo], t[hi]);
        if end - start < 1e-3 {
            return None;
        }
        let commits = t.iter().filter(|&&x| x > start && x <= end).count();
        Some(Window {
            start,
            end,
            commits,
        })
    }

    pub fn duration(&self) -> f64 {
        self.end - self.start
    }

    pub fn rate(&self) -> f64 {
        self.commits as f64 / self.duration()
    }

    /// How many of `times` fall in the window, per second.
    pub fn rate_of(&self, times: &[f64]) -> f64 {
        let n = times
            .iter()
            .filter(|&&x| x > self.start && x <= self.end)
            .count();
        n as f64 / self.duration()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 90.0), Some(90.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn steady_window_of_a_constant_rate() {
        // 1000 commits/s for 10 s, in blocks of 100 every 0.1 s.
        let times: Vec<f64> = (0..10_000).map(|i| (i / 100 + 1) as f64 * 0.1).collect();
        let w = Window::of(&times, 0.1).expect("window");
        // Commit 1000 is in block 11 (t = 1.1 s), commit 8999 in block 90 (t = 9.0 s).
        assert!((w.start - 1.1).abs() < 1e-9, "{w:?}");
        assert!((w.end - 9.0).abs() < 1e-9, "{w:?}");
        assert_eq!(w.commits, 7900);
        assert!((w.rate() - 1000.0).abs() < 1.0, "{}", w.rate());
        let blocks: Vec<f64> = (1..=100).map(|b| b as f64 * 0.1).collect();
        assert!((w.rate_of(&blocks) - 10.0).abs() < 0.2);
    }

    #[test]
    fn ramp_up_and_tail_are_dropped() {
        // A slow start and a slow tail around a fast middle.
        let mut times: Vec<f64> = (0..100).map(|i| i as f64 * 0.1).collect();
        times.extend((0..800).map(|i| 10.0 + i as f64 * 0.001));
        times.extend((0..100).map(|i| 11.0 + i as f64 * 0.1));
        let w = Window::of(&times, 0.1).expect("window");
        assert!(w.rate() > 700.0, "{w:?}");
    }

    #[test]
    fn degenerate_runs_have_no_window() {
        assert_eq!(Window::of(&[], 0.1), None);
        assert_eq!(Window::of(&[1.0], 0.1), None);
        assert_eq!(Window::of(&[1.0; 50], 0.1), None);
    }
}
