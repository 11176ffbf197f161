//! Static parameters and the durable state a Zab role starts from.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::io::Sid;

/// Ensemble parameters for one Zab role (zoo.cfg `tickTime`, `initLimit`, `syncLimit`).
#[derive(Debug, Clone)]
pub struct ZabConfig {
    pub my_sid: Sid,
    /// Voting members (participants), including the leader.
    pub voters: BTreeSet<Sid>,
    pub observers: BTreeSet<Sid>,
    pub tick_ms: u64,
    /// Ticks allowed for discovery and sync.
    pub init_limit: u64,
    /// Ticks a peer may stay silent once synced.
    pub sync_limit: u64,
    /// Committed txns the leader keeps in memory for DIFF syncs (`commitLogCount`).
    pub commit_log_count: usize,
    /// Version of the current dynamic config; learners with a newer one are refused.
    pub config_version: i64,
    /// Config text sent in NEWLEADER.
    pub config_text: Bytes,
}

impl ZabConfig {
    /// A simple majority of `voters` present in `acks`.
    pub fn is_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a Sid>) -> bool {
        let n = acks.into_iter().filter(|s| self.voters.contains(s)).count();
        2 * n > self.voters.len()
    }

    pub fn is_voter(&self, sid: Sid) -> bool {
        self.voters.contains(&sid)
    }

    /// Switches to a committed membership.
    pub fn adopt(&mut self, m: &NewMembers) {
        self.voters = m.voters.clone();
        self.observers = m.observers.clone();
        self.config_version = m.version;
        self.config_text = m.text.clone();
    }

    pub(crate) fn init_ms(&self) -> u64 {
        self.init_limit.saturating_mul(self.tick_ms)
    }

    pub(crate) fn sync_ms(&self) -> u64 {
        self.sync_limit.saturating_mul(self.tick_ms)
    }
}

/// A proposed membership (a reconfig), as Zab needs it: who votes in it, and what learners
/// are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMembers {
    pub voters: BTreeSet<Sid>,
    pub observers: BTreeSet<Sid>,
    /// The config version (the reconfig txn's zxid).
    pub version: i64,
    pub text: Bytes,
    /// The leader is a voter of the new config at the same quorum address, so it keeps
    /// leading (see `quorum::reconfig::leader_stays`).
    pub leader_stays: bool,
}

impl NewMembers {
    /// A simple majority of the new voters present in `acks`.
    pub fn is_quorum(&self, acks: &BTreeSet<Sid>) -> bool {
        let n = acks.iter().filter(|s| self.voters.contains(s)).count();
        2 * n > self.voters.len()
    }
}

/// What a server has on disk when it takes a role.
#[derive(Debug, Clone, Default)]
pub struct DurableState {
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    /// Last zxid in the txn log (0 when empty).
    pub last_zxid: i64,
    /// The newest txns of the log, ascending, ending at `last_zxid` (at most
    /// `commit_log_count`; only a leader uses them, to build DIFFs).
    pub recent: Vec<(i64, Bytes)>,
}
