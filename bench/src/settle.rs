//! Between measured points: write back the machine's dirty pages first, so that a point is
//! not charged for writeback the kernel deferred from an earlier point or from the other
//! server. Apache does not fsync its snapshots (only the log), so the flusher writes them out
//! `vm.dirty_expire_centisecs` (30 s) later, in one burst that fills the disk queue and
//! stalls every fsync on the machine for 100 ms or more, whichever server is measured then.

use std::time::{Duration, Instant};

/// Calls sync(2) (which waits for the writeback it starts) and returns how long it took.
pub fn settle_disk() -> Duration {
    let t = Instant::now();
    rustix::fs::sync();
    t.elapsed()
}

/// [`settle_disk`] if `enabled`; says so on stderr when it took long enough to matter.
pub fn settle_before(enabled: bool, what: &str) {
    if !enabled {
        return;
    }
    let took = settle_disk();
    if took >= Duration::from_millis(100) {
        eprintln!(
            "  (wrote back dirty pages for {:.2}s before {what})",
            took.as_secs_f64()
        );
    }
}
