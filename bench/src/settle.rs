//! Between measured points: let the machine go quiet, then write back its dirty pages, so
//! that a point is not charged for work deferred from an earlier point or from the other
//! server. Two such leftovers were seen to stall whole points:
//! - Apache writes a snapshot after `snapCount` transactions in a background thread; a
//!   3-server ensemble's members were still serializing the snapshots the previous point
//!   triggered while the next point (against zkserver) ran, taking CPU from it.
//! - Apache does not fsync its snapshots (only the log), so the flusher writes them out
//!   `vm.dirty_expire_centisecs` (30 s) later, in one burst that fills the disk queue and
//!   stalls every fsync on the machine for 100 ms or more, whichever server is measured then.

use std::time::{Duration, Instant};

use crate::steal::CpuTimes;

/// How often the CPU counters are sampled while waiting for quiet.
const SAMPLE: Duration = Duration::from_millis(250);
/// Consecutive quiet samples needed: 0.75 s, longer than a JVM's idle housekeeping bursts.
const QUIET_SAMPLES: usize = 3;
/// Busy share (of all CPUs) below which a sample counts as quiet: an idle JVM and an idle
/// zkserver together stay well under it, a snapshot being written does not.
const QUIET_BUSY: f64 = 0.10;
/// Upper bound on the wait: a machine that never goes quiet (another tenant's load inside
/// this VM) must not stall the run; the log says so and the point runs anyway.
const QUIET_BOUND: Duration = Duration::from_secs(30);

/// Whether a sampled window counts as quiet.
pub fn is_quiet(busy_share: Option<f64>) -> bool {
    busy_share.is_some_and(|b| b < QUIET_BUSY)
}

/// Waits until [`QUIET_SAMPLES`] consecutive samples are quiet, or [`QUIET_BOUND`]; returns
/// how long it waited and whether quiet was reached. Without /proc/stat it returns at once.
pub fn wait_quiet() -> (Duration, bool) {
    let start = Instant::now();
    let Some(mut last) = CpuTimes::now() else {
        return (Duration::ZERO, true);
    };
    let mut quiet_run = 0;
    while start.elapsed() < QUIET_BOUND {
        std::thread::sleep(SAMPLE);
        let Some(now) = CpuTimes::now() else {
            return (start.elapsed(), true);
        };
        quiet_run = if is_quiet(now.busy_since(&last)) {
            quiet_run + 1
        } else {
            0
        };
        last = now;
        if quiet_run >= QUIET_SAMPLES {
            return (start.elapsed(), true);
        }
    }
    (start.elapsed(), false)
}

/// Calls sync(2) (which waits for the writeback it starts) and returns how long it took.
pub fn settle_disk() -> Duration {
    let t = Instant::now();
    rustix::fs::sync();
    t.elapsed()
}

/// If `enabled`: [`wait_quiet`], then [`settle_disk`]; says so on stderr when either took
/// long enough to matter (the quiet wait always costs [`QUIET_SAMPLES`] samples).
pub fn settle_before(enabled: bool, what: &str) {
    if !enabled {
        return;
    }
    let (waited, quiet) = wait_quiet();
    let minimum = SAMPLE * QUIET_SAMPLES as u32;
    if !quiet {
        eprintln!(
            "  (machine still busy after {:.1}s; running {what} anyway)",
            waited.as_secs_f64()
        );
    } else if waited >= minimum + Duration::from_millis(500) {
        eprintln!(
            "  (waited {:.1}s for the machine to go quiet before {what})",
            waited.as_secs_f64()
        );
    }
    let took = settle_disk();
    if took >= Duration::from_millis(100) {
        eprintln!(
            "  (wrote back dirty pages for {:.2}s before {what})",
            took.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_is_a_low_busy_share_that_could_be_read() {
        assert!(is_quiet(Some(0.02)));
        assert!(!is_quiet(Some(0.5)));
        assert!(!is_quiet(Some(QUIET_BUSY)));
        assert!(!is_quiet(None));
    }
}
