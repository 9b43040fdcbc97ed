//! Where a run's CPU time goes: planning (the control run and the expansion), the board
//! (the rig's side of post-cut states and recoveries: forks, memos, dumps), the device (what a
//! simulated board spends running the firmware and its flash from each power-on of the cut
//! loop: the work a real device does on its own hardware), the pass rule (decoding the flash
//! and judging), the journal (appending and syncing results) and the artifacts of failing cuts. Each stage sums the CPU
//! time of the threads that did its work (two reads of the thread's CPU clock per stage and
//! cut), so the sums add up to the process's CPU time less what no stage covers.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// CPU time per stage of one run, in nanoseconds.
#[derive(Debug, Default)]
pub struct StageTimes {
    pub planning: AtomicU64,
    pub board: AtomicU64,
    pub device: AtomicU64,
    pub pass_rule: AtomicU64,
    pub journal: AtomicU64,
    pub artifacts: AtomicU64,
}

/// The stages, in the order a run goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Planning,
    Board,
    Device,
    PassRule,
    Journal,
    Artifacts,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Planning,
        Stage::Board,
        Stage::Device,
        Stage::PassRule,
        Stage::Journal,
        Stage::Artifacts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Planning => "planning",
            Stage::Board => "board",
            Stage::Device => "device",
            Stage::PassRule => "pass rule",
            Stage::Journal => "journal",
            Stage::Artifacts => "artifacts",
        }
    }
}

impl StageTimes {
    fn slot(&self, stage: Stage) -> &AtomicU64 {
        match stage {
            Stage::Planning => &self.planning,
            Stage::Board => &self.board,
            Stage::Device => &self.device,
            Stage::PassRule => &self.pass_rule,
            Stage::Journal => &self.journal,
            Stage::Artifacts => &self.artifacts,
        }
    }

    /// Runs `f` on this thread and adds the thread CPU time it took to `stage`.
    pub fn time<T>(&self, stage: Stage, f: impl FnOnce() -> T) -> T {
        let start = thread_cpu_ns();
        let out = f();
        self.add(stage, thread_cpu_ns().saturating_sub(start));
        out
    }

    pub fn add(&self, stage: Stage, ns: u64) {
        self.slot(stage).fetch_add(ns, Ordering::Relaxed);
    }

    /// Moves `ns` (at most what `from` holds) from stage `from` to stage `to`: work timed as
    /// part of `from` that is known to be `to`'s.
    pub fn move_to(&self, from: Stage, to: Stage, ns: u64) {
        let moved = ns.min(self.slot(from).load(Ordering::Relaxed));
        self.slot(from).fetch_sub(moved, Ordering::Relaxed);
        self.add(to, moved);
    }

    /// The CPU time of `stage` so far.
    pub fn get(&self, stage: Stage) -> Duration {
        Duration::from_nanos(self.slot(stage).load(Ordering::Relaxed))
    }

    /// A plain copy of the sums.
    pub fn snapshot(&self) -> StageTimes {
        let t = StageTimes::default();
        for s in Stage::ALL {
            t.add(s, self.slot(s).load(Ordering::Relaxed));
        }
        t
    }
}

impl fmt::Display for StageTimes {
    /// `planning 0.120 s, board 1.234 s, ...` (CPU seconds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in Stage::ALL.into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {:.3} s", s.name(), self.get(s).as_secs_f64())?;
        }
        Ok(())
    }
}

/// CPU time of the calling thread, in nanoseconds.
#[cfg(unix)]
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID needs nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// Without a thread CPU clock: wall time since the first call (an upper bound of CPU time).
#[cfg(not(unix))]
pub fn thread_cpu_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_counts_the_cpu_time_of_its_work_and_not_of_sleeping() {
        let t = StageTimes::default();
        // Work until this thread has had 20 ms of CPU, however busy the machine is.
        let spin = t.time(Stage::Board, || {
            let start = thread_cpu_ns();
            let mut x = 0u64;
            while thread_cpu_ns() - start < 20_000_000 {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
            x
        });
        t.time(Stage::Journal, || std::thread::sleep(Duration::from_millis(30)));
        assert!(spin != 1, "keeps the loop");
        assert!(t.get(Stage::Board) >= Duration::from_millis(20), "{t}");
        assert!(t.get(Stage::Journal) < Duration::from_millis(10), "{t}");
        assert_eq!(t.get(Stage::Planning), Duration::ZERO);
        let s = t.to_string();
        assert!(s.starts_with("planning 0.000 s, board 0.0"), "{s}");
    }

    #[test]
    fn work_moved_between_stages_leaves_the_sum_alone_and_never_goes_below_zero() {
        let t = StageTimes::default();
        t.add(Stage::Board, 1_000);
        t.move_to(Stage::Board, Stage::Device, 600);
        assert_eq!(t.get(Stage::Board), Duration::from_nanos(400));
        assert_eq!(t.get(Stage::Device), Duration::from_nanos(600));
        t.move_to(Stage::Board, Stage::Device, 5_000);
        assert_eq!(t.get(Stage::Board), Duration::ZERO);
        assert_eq!(t.get(Stage::Device), Duration::from_nanos(1_000));
        assert!(t.to_string().contains(", device 0.000 s, pass rule "), "{t}");
    }
}
