//! Simulated durable storage of one server: epoch files and a txn log whose tail is only
//! durable once the simulated fsync completes.

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::Rng;

use crate::quorum::zab::DurableState;

#[derive(Debug, Default, Clone)]
pub struct Disk {
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    /// Durable txns.
    pub log: Vec<(i64, Bytes)>,
    /// Written but not yet fsynced.
    pub pending: Vec<(i64, Bytes)>,
}

impl Disk {
    pub fn last_zxid(&self) -> i64 {
        self.pending
            .last()
            .or(self.log.last())
            .map_or(0, |(z, _)| *z)
    }

    /// Makes the first `n` pending txns durable; returns the last zxid now durable.
    pub fn fsync(&mut self, n: usize) -> Option<i64> {
        let n = n.min(self.pending.len());
        let done: Vec<_> = self.pending.drain(..n).collect();
        self.log.extend(done);
        (n > 0).then(|| self.log.last().map_or(0, |(z, _)| *z))
    }

    pub fn flush_all(&mut self) {
        let n = self.pending.len();
        self.fsync(n);
    }

    /// A crash: some unsynced writes may have reached the disk; the last of those may be
    /// torn, which the log reader discards, so it is lost too.
    pub fn crash(&mut self, rng: &mut StdRng) {
        let pending = std::mem::take(&mut self.pending);
        let mut survive = rng.gen_range(0..=pending.len());
        if survive > 0 && rng.gen_bool(0.5) {
            survive -= 1;
        }
        self.log.extend(pending.into_iter().take(survive));
    }

    pub fn truncate(&mut self, zxid: i64) {
        self.log.retain(|(z, _)| *z <= zxid);
        self.pending.retain(|(z, _)| *z <= zxid);
    }

    /// What a role starts from, after `flush_all`.
    pub fn durable_state(&self, window: usize) -> DurableState {
        let start = self.log.len().saturating_sub(window);
        DurableState {
            accepted_epoch: self.accepted_epoch,
            current_epoch: self.current_epoch,
            last_zxid: self.last_zxid(),
            recent: self.log[start..].to_vec(),
        }
    }
}
