//! Linearizable reads (`linearizableReads=yes`, ours, off by default): a ReadIndex read as
//! etcd does it, so a read never returns data older than the read's arrival, even on a
//! follower cut off from a new leader.
//!
//! Every data read (and `sync`) waits behind a *read barrier*:
//! - At the leader, a barrier waits for a Zab read round (`Leader::start_read_round`): a
//!   quorum of voters answered a PING sent after the barrier arrived, so no other leader
//!   committed anything before that moment. Its read index is the leader's applied zxid
//!   when it arrived (the leader applies commits as they happen); it is released once the
//!   round is confirmed and the tree has applied the index. A ping round was chosen over
//!   proposing a no-op txn: it costs one round trip and no fsync, and writes nothing to the
//!   log that Apache servers would have to read.
//! - At a learner, a barrier is a SYNC forwarded to the leader. With the key on, the leader
//!   answers a SYNC only after a read round that started after the SYNC arrived is
//!   confirmed and it has applied everything proposed before it; the leader sends every
//!   COMMIT before that answer on the same FIFO connection, and the learner applies COMMITs
//!   as they arrive, so when the answer arrives the learner holds every txn committed
//!   before the read arrived.
//!
//! Batching: at most one barrier per server is being confirmed; reads arriving meanwhile
//! share the next one, started when the current one completes (and at the leader, at most
//! one read round is under way; waiters arriving meanwhile share the next round).
//!
//! Per-session order: a read sits in its session's queue behind a `Deferred::Barrier`
//! marker; a write or closeSession of a session with a barrier (or a held write) queued is
//! held (`Deferred::Held`) and dispatched only when it reaches the front, so a session's
//! replies keep their request order. Losing the role closes every client connection and
//! drops the queues, so waiting reads fail with a connection loss, never stale.
//!
//! Liveness: nothing waits for a message that may never come. Until a read round is
//! confirmed, every leader ping to a voter carries its tag (a voter that synced or
//! reconnected after the round started was never asked); a SYNC's index is the leader's
//! last proposal, which at a new leader is the end of its log, not `(epoch, 0)` that no
//! tree reaches before the epoch's first commit; a SYNC is answered only on the learner
//! connection it came on (the learner pairs answers with its SYNCs in order); and a request
//! from a learner still syncing disconnects it rather than being dropped.
//!
//! Limits: the leader must run with the key on too (an Apache leader answers a SYNC without
//! a quorum round); read-only sessions stay non-linearizable, by definition.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use tracing::warn;

use super::core::{Core, Deferred};
use super::ensemble::{PendingSync, Role};
use crate::net::ConnId;
use crate::proto::codes::op;
use crate::quorum::zab::Sid;

/// Whether `kind` reads the tree, so must wait for a read barrier when the key is on.
pub(super) fn needs_barrier(kind: i32) -> bool {
    matches!(
        kind,
        op::EXISTS
            | op::GET_DATA
            | op::GET_ACL
            | op::GET_CHILDREN
            | op::GET_CHILDREN2
            | op::SYNC
            | op::MULTI_READ
            | op::GET_EPHEMERALS
            | op::GET_ALL_CHILDREN_NUMBER
    )
}

/// A server's read barriers, by increasing id, batched: one confirmed at a time.
#[derive(Debug, Default)]
pub struct ReadBarriers {
    issued: u64,
    done: u64,
    in_flight: Option<u64>,
    queued: Option<u64>,
    /// (session, xid) of the reads waiting on each barrier, in arrival order.
    waiting: BTreeMap<u64, Vec<(i64, i32, ConnId)>>,
}

impl ReadBarriers {
    /// Adds a read; returns its barrier and whether the caller must start that barrier now
    /// (none was being confirmed).
    pub fn join(&mut self, session: i64, xid: i32, conn: ConnId) -> (u64, bool) {
        let (id, start) = match (self.in_flight, self.queued) {
            (None, _) => {
                self.issued += 1;
                self.in_flight = Some(self.issued);
                (self.issued, true)
            }
            (Some(_), Some(q)) => (q, false),
            (Some(_), None) => {
                self.issued += 1;
                self.queued = Some(self.issued);
                (self.issued, false)
            }
        };
        self.waiting
            .entry(id)
            .or_default()
            .push((session, xid, conn));
        (id, start)
    }

    /// Barrier `id` is confirmed: returns the sessions waiting on it, and the barrier to
    /// start next (with the first read waiting on it), if reads queued meanwhile.
    pub fn complete(&mut self, id: u64) -> (Vec<i64>, Option<NextBarrier>) {
        self.done = self.done.max(id);
        let sessions = self
            .waiting
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _, _)| s)
            .collect();
        let mut next = None;
        if self.in_flight == Some(id) {
            self.in_flight = self.queued.take();
            if let Some(n) = self.in_flight {
                next = self
                    .waiting
                    .get(&n)
                    .and_then(|w| w.first())
                    .map(|&(s, x, c)| (n, s, x, c));
            }
        }
        (sessions, next)
    }

    /// Reads behind barriers up to this one may run.
    pub fn done(&self) -> u64 {
        self.done
    }
}

/// A barrier to start: (id, session, xid, conn) of its first read.
pub type NextBarrier = (u64, i64, i32, ConnId);

/// Who waits for a read round at the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadWaiter {
    /// A local read barrier.
    Local(u64),
    /// A learner's forwarded SYNC: answered with a SYNC packet on the connection it came
    /// on (a learner that reconnected pairs SYNC answers with the SYNCs of its new role).
    Learner { sid: Sid, conn: u64 },
}

/// Leader: barriers waiting for a read round and for the tree to reach their read index.
#[derive(Debug, Default)]
pub struct LeaderReads {
    in_flight: Option<u64>,
    confirmed: u64,
    /// (round, read index, who), in arrival order; `None` until the round is started.
    waiting: VecDeque<(Option<u64>, i64, ReadWaiter)>,
}

impl LeaderReads {
    /// Queues a waiter; true when the caller must start a round now (none under way).
    pub fn add(&mut self, index: i64, who: ReadWaiter) -> bool {
        self.waiting.push_back((None, index, who));
        self.in_flight.is_none()
    }

    /// A round started: every waiter without one waits for it.
    pub fn started(&mut self, round: u64) {
        self.in_flight = Some(round);
        for w in self.waiting.iter_mut().filter(|w| w.0.is_none()) {
            w.0 = Some(round);
        }
    }

    /// Round `round` (and all before) confirmed; true when waiters need another round.
    pub fn confirmed(&mut self, round: u64) -> bool {
        self.confirmed = self.confirmed.max(round);
        if self.in_flight.is_some_and(|r| r <= round) {
            self.in_flight = None;
        }
        self.in_flight.is_none() && self.waiting.iter().any(|w| w.0.is_none())
    }

    /// Pops the waiters (in order) whose round is confirmed and whose index is applied.
    pub fn release(&mut self, applied: i64) -> Vec<ReadWaiter> {
        let mut out = Vec::new();
        while let Some(&(Some(r), index, who)) = self.waiting.front() {
            if r > self.confirmed || index > applied {
                break;
            }
            self.waiting.pop_front();
            out.push(who);
        }
        out
    }
}

/// The path record of a barrier's SYNC: "/".
fn root_path_record() -> Bytes {
    let mut v = Vec::with_capacity(5);
    v.extend_from_slice(&1i32.to_be_bytes());
    v.push(b'/');
    Bytes::from(v)
}

impl Core {
    /// True when reads must go through read barriers (ensemble member, key on).
    pub(super) fn linearizable(&self) -> bool {
        self.cfg.server_config.linearizable_reads && self.quorum.is_some()
    }

    /// Reads behind barriers up to this one may run.
    pub(super) fn barriers_done(&self) -> u64 {
        match &self.role {
            Role::Leader(l) => l.barriers.done(),
            Role::Learner(l) => l.barriers.done(),
            _ => 0,
        }
    }

    /// True when a write of `session` must wait: a read barrier or held write is queued.
    pub(super) fn must_hold(&self, session: i64) -> bool {
        self.queues.get(&session).is_some_and(|q| {
            q.iter()
                .any(|d| matches!(d, Deferred::Barrier(_) | Deferred::Held { .. }))
        })
    }

    /// Queues a read behind a new or shared read barrier.
    pub(super) fn read_behind_barrier(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        kind: i32,
        body: Bytes,
    ) {
        let joined = match &mut self.role {
            Role::Leader(l) if l.zab.is_serving() => Some(l.barriers.join(session, xid, conn)),
            Role::Learner(l) if l.serving => Some(l.barriers.join(session, xid, conn)),
            _ => None,
        };
        let Some((id, start)) = joined else {
            // Not serving: the client reconnects elsewhere rather than read stale data.
            self.close_conn(conn);
            return;
        };
        let q = self.queues.entry(session).or_default();
        q.push_back(Deferred::Barrier(id));
        q.push_back(Deferred::Read {
            conn,
            xid,
            op: kind,
            body,
            at: Instant::now(),
        });
        if start {
            self.start_barrier(id, session, xid, conn);
        }
    }

    /// Starts confirming barrier `id`; (session, xid, conn) is its first read.
    fn start_barrier(&mut self, id: u64, session: i64, xid: i32, conn: ConnId) {
        let index = self.tree.last_processed_zxid();
        match &mut self.role {
            Role::Leader(l) => {
                let start = l.reads.add(index, ReadWaiter::Local(id));
                if start {
                    self.start_read_round();
                }
            }
            Role::Learner(l) => {
                let outs =
                    l.zab
                        .forward_request(session, xid, op::SYNC, root_path_record(), Vec::new());
                l.syncs.push_back(PendingSync {
                    conn,
                    xid,
                    session,
                    path: Vec::new(),
                    at: Instant::now(),
                    barrier: Some(id),
                });
                self.run_outputs(outs);
            }
            _ => {}
        }
    }

    /// Leader: a learner's SYNC, arrived on connection `conn`, waits for a read round and
    /// for everything proposed so far.
    pub(super) fn leader_sync_barrier(&mut self, from: Sid, conn: u64) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let index = l.zab.last_proposed();
        if l.reads.add(index, ReadWaiter::Learner { sid: from, conn }) {
            self.start_read_round();
        }
    }

    fn start_read_round(&mut self) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        match l.zab.start_read_round() {
            Ok((round, outs)) => {
                l.reads.started(round);
                self.run_outputs(outs);
            }
            // Only when the leader stopped: its StepDown ends the role and the waiters.
            Err(e) => warn!("cannot start a read round: {e}"),
        }
    }

    /// Leader: a read round was confirmed by a quorum.
    pub(super) fn on_read_round_confirmed(&mut self, round: u64) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if l.reads.confirmed(round) {
            self.start_read_round();
        }
        self.release_leader_reads();
    }

    /// Leader: answers the waiters whose round is confirmed and index applied.
    pub(super) fn release_leader_reads(&mut self) {
        let applied = self.tree.last_processed_zxid();
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        for who in l.reads.release(applied) {
            match who {
                ReadWaiter::Local(id) => self.finish_barrier(id),
                ReadWaiter::Learner { sid, conn } => self.answer_learner_sync(sid, conn),
            }
        }
    }

    /// Barrier `id` completed: starts the next one, then runs the reads waiting on it.
    pub(super) fn finish_barrier(&mut self, id: u64) {
        let (sessions, next) = match &mut self.role {
            Role::Leader(l) => l.barriers.complete(id),
            Role::Learner(l) => l.barriers.complete(id),
            _ => return,
        };
        if let Some((n, session, xid, conn)) = next {
            self.start_barrier(n, session, xid, conn);
        }
        for s in sessions {
            self.run_deferred_after(s, Deferred::Barrier(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_during_a_barrier_share_the_next_one() {
        let mut b = ReadBarriers::default();
        assert_eq!(b.join(1, 10, 100), (1, true));
        assert_eq!(b.join(2, 20, 200), (2, false));
        assert_eq!(b.join(3, 30, 300), (2, false));
        assert_eq!(b.done(), 0);
        let (s, next) = b.complete(1);
        assert_eq!(s, vec![1]);
        assert_eq!(next, Some((2, 2, 20, 200)), "the queued barrier starts");
        assert_eq!(b.done(), 1);
        // A read now joins the following barrier, not the one being confirmed.
        assert_eq!(b.join(1, 11, 100), (3, false));
        let (s, next) = b.complete(2);
        assert_eq!(s, vec![2, 3]);
        assert_eq!(next, Some((3, 1, 11, 100)));
        let (s, next) = b.complete(3);
        assert_eq!((s, next), (vec![1], None));
        assert_eq!(b.join(5, 1, 500), (4, true), "idle again: starts at once");
    }

    #[test]
    fn leader_waiters_need_their_round_and_their_index() {
        let mut r = LeaderReads::default();
        assert!(r.add(5, ReadWaiter::Local(1)), "no round under way");
        r.started(1);
        let learner = ReadWaiter::Learner { sid: 2, conn: 9 };
        assert!(!r.add(7, learner), "shares the next round");
        assert!(r.release(100).is_empty(), "round 1 not confirmed");
        assert!(r.confirmed(1), "the learner needs round 2");
        assert_eq!(r.release(100), vec![ReadWaiter::Local(1)]);
        r.started(2);
        assert!(!r.confirmed(2));
        assert!(r.release(6).is_empty(), "index 7 not applied yet");
        assert_eq!(r.release(7), vec![learner]);
    }

    #[test]
    fn a_waiter_never_uses_a_round_started_before_it() {
        let mut r = LeaderReads::default();
        assert!(r.add(0, ReadWaiter::Local(1)));
        r.started(1);
        assert!(!r.add(0, ReadWaiter::Local(2)));
        // Round 1 confirms: only the first waiter goes.
        assert!(r.confirmed(1));
        assert_eq!(r.release(0), vec![ReadWaiter::Local(1)]);
        assert!(r.release(0).is_empty());
        r.started(2);
        r.confirmed(2);
        assert_eq!(r.release(0), vec![ReadWaiter::Local(2)]);
    }
}
