//! Votes, their total order, and the equality FLE uses when counting them.

pub use crate::proto::election::ServerState;

/// A vote: the proposed (or elected) leader with its history, in one election round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    pub leader: u64,
    /// The leader's last logged zxid.
    pub zxid: i64,
    /// The round (logical clock) in which the vote was cast.
    pub election_epoch: i64,
    /// The leader's currentEpoch.
    pub peer_epoch: i64,
    pub state: ServerState,
}

/// The candidate part of a vote, ordered as FLE orders candidates: peerEpoch, then zxid, then sid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub leader: u64,
    pub zxid: i64,
    pub peer_epoch: i64,
}

impl Candidate {
    /// True if `self` beats `other` (Apache's `totalOrderPredicate`, without the weight check).
    pub fn beats(&self, other: &Candidate) -> bool {
        (self.peer_epoch, self.zxid, self.leader) > (other.peer_epoch, other.zxid, other.leader)
    }
}

/// A vote as recorded in a received set, with the sender's message format version:
/// Apache compares out-of-election votes more loosely (see [`TrackedVote::matches`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrackedVote {
    pub vote: Vote,
    pub version: i32,
}

impl TrackedVote {
    /// Apache's `Vote.equals`: if either side is LOOKING, every field but the state must match.
    /// Between settled votes only the leader and peerEpoch count (zxid and round can differ
    /// legitimately), and only the leader when one side predates message version 1.
    pub fn matches(&self, other: &TrackedVote) -> bool {
        let (a, b) = (&self.vote, &other.vote);
        if a.state == ServerState::Looking || b.state == ServerState::Looking {
            a.leader == b.leader
                && a.zxid == b.zxid
                && a.election_epoch == b.election_epoch
                && a.peer_epoch == b.peer_epoch
        } else if (self.version > 0) != (other.version > 0) {
            a.leader == b.leader
        } else {
            a.leader == b.leader && a.peer_epoch == b.peer_epoch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(leader: u64, zxid: i64, peer_epoch: i64) -> Candidate {
        Candidate {
            leader,
            zxid,
            peer_epoch,
        }
    }

    #[test]
    fn order_is_peer_epoch_then_zxid_then_sid() {
        assert!(c(1, 0, 2).beats(&c(3, 100, 1)));
        assert!(!c(3, 100, 1).beats(&c(1, 0, 2)));
        assert!(c(1, 6, 1).beats(&c(3, 5, 1)));
        assert!(c(3, 5, 1).beats(&c(2, 5, 1)));
        assert!(!c(2, 5, 1).beats(&c(2, 5, 1)));
        // Observers propose i64::MIN for zxid and epoch: anything beats that.
        assert!(c(1, 0, 0).beats(&c(u64::MAX, i64::MIN, i64::MIN)));
    }

    fn tv(
        leader: u64,
        zxid: i64,
        round: i64,
        pe: i64,
        state: ServerState,
        version: i32,
    ) -> TrackedVote {
        TrackedVote {
            vote: Vote {
                leader,
                zxid,
                election_epoch: round,
                peer_epoch: pe,
                state,
            },
            version,
        }
    }

    #[test]
    fn matching_rules() {
        use ServerState::*;
        // LOOKING on either side: all fields.
        assert!(tv(1, 5, 2, 1, Looking, 2).matches(&tv(1, 5, 2, 1, Following, 2)));
        assert!(!tv(1, 5, 2, 1, Looking, 2).matches(&tv(1, 5, 3, 1, Looking, 2)));
        assert!(!tv(1, 5, 2, 1, Looking, 2).matches(&tv(1, 6, 2, 1, Leading, 2)));
        // Both settled: leader and peer epoch only.
        assert!(tv(1, 5, 2, 1, Following, 2).matches(&tv(1, 9, 7, 1, Leading, 2)));
        assert!(!tv(1, 5, 2, 1, Following, 2).matches(&tv(1, 5, 2, 2, Leading, 2)));
        // Mixed message versions: leader only.
        assert!(tv(1, 5, 2, 1, Following, 0).matches(&tv(1, 5, 2, 2, Leading, 2)));
        assert!(!tv(1, 5, 2, 1, Following, 0).matches(&tv(2, 5, 2, 1, Leading, 2)));
    }
}
