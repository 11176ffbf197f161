//! Choosing how to bring a learner up to date (facts §15.2 step 4).

use std::collections::VecDeque;

use bytes::Bytes;

use super::counter_of;

/// How the leader syncs one learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncPlan {
    /// DIFF, then PROPOSAL+COMMIT for every window txn above `after` (none if in sync).
    Diff { after: i64 },
    /// The peer has an uncommitted tail: TRUNC to `to`, then PROPOSAL+COMMIT above `to`.
    TruncDiff { to: i64 },
    /// The peer is ahead of everything the leader has: TRUNC to the leader's last zxid.
    Trunc { to: i64 },
    /// The peer is older than the window: SNAP and stream a snapshot.
    Snap,
}

/// Picks the sync mode for a learner whose last logged zxid is `peer`, given the leader's
/// committed window (ascending) and its last committed zxid `max`.
///
/// The window is the leader's in-memory committed log; older history is only reachable
/// through a snapshot here (Apache can also read old txn log files; the driver may widen
/// the window to get the same effect).
pub fn plan_sync(window: &VecDeque<(i64, Bytes)>, max: i64, peer: i64) -> SyncPlan {
    if peer == max {
        return SyncPlan::Diff { after: peer };
    }
    if peer > max {
        // A peer whose counter is 0 has no txn at that zxid: nothing to truncate.
        if counter_of(peer) != 0 {
            return SyncPlan::Trunc { to: max };
        }
        return SyncPlan::Snap;
    }
    let min = window.front().map_or(max, |(z, _)| *z);
    if peer < min {
        return SyncPlan::Snap;
    }
    // peer in [min, max): find it, or the last txn below it.
    let mut prev = None;
    for (z, _) in window {
        if *z == peer {
            return SyncPlan::Diff { after: peer };
        }
        if *z > peer {
            break;
        }
        prev = Some(*z);
    }
    match prev {
        Some(to) => SyncPlan::TruncDiff { to },
        None => SyncPlan::Snap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::zab::make_zxid;

    fn window(zs: &[i64]) -> VecDeque<(i64, Bytes)> {
        zs.iter().map(|z| (*z, Bytes::new())).collect()
    }

    #[test]
    fn modes_follow_the_committed_window() {
        let w = window(&[
            make_zxid(1, 3),
            make_zxid(1, 4),
            make_zxid(2, 1),
            make_zxid(2, 2),
        ]);
        let max = make_zxid(2, 2);
        assert_eq!(plan_sync(&w, max, max), SyncPlan::Diff { after: max });
        assert_eq!(
            plan_sync(&w, max, make_zxid(1, 4)),
            SyncPlan::Diff {
                after: make_zxid(1, 4)
            }
        );
        // Uncommitted tail from epoch 1 that the leader never saw.
        assert_eq!(
            plan_sync(&w, max, make_zxid(1, 7)),
            SyncPlan::TruncDiff {
                to: make_zxid(1, 4)
            }
        );
        assert_eq!(
            plan_sync(&w, max, make_zxid(2, 5)),
            SyncPlan::Trunc { to: max }
        );
        assert_eq!(plan_sync(&w, max, make_zxid(1, 2)), SyncPlan::Snap);
        assert_eq!(plan_sync(&w, max, 0), SyncPlan::Snap);
    }

    #[test]
    fn empty_window_diffs_only_when_equal() {
        let w = window(&[]);
        assert_eq!(plan_sync(&w, 0, 0), SyncPlan::Diff { after: 0 });
        assert_eq!(plan_sync(&w, make_zxid(1, 2), 0), SyncPlan::Snap);
        assert_eq!(plan_sync(&w, 0, make_zxid(1, 1)), SyncPlan::Trunc { to: 0 });
    }
}
