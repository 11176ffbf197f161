//! The leader side of Zab: discovery, per-learner sync, and broadcast.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use super::config::{DurableState, NewMembers, ZabConfig};
use super::io::{Input, Output, Sid, StepDownReason, ZabError};
use super::leader_sync::{plan_sync, SyncPlan};
use super::{counter_of, epoch_of, make_zxid};
use crate::metrics::BufferStats;
use crate::proto::quorum::{ZabPacket, ZAB_PROTOCOL_VERSION};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Collecting FOLLOWERINFOs until a quorum agrees on a new epoch.
    Discovery,
    /// New epoch chosen; collecting ACKEPOCH, then NEWLEADER acks.
    Sync,
    /// A quorum acked NEWLEADER: serving and proposing.
    Broadcast,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// FOLLOWERINFO received; LEADERINFO sent once the epoch is known.
    Info,
    /// ACKEPOCH received; waiting for the epoch quorum before syncing.
    EpochAcked,
    /// Sync packets and NEWLEADER sent; the peer gets every new proposal from now on.
    AwaitNewLeaderAck,
    /// NEWLEADER acked; UPTODATE follows once the leader is established.
    AwaitUpToDate,
    /// UPTODATE sent.
    Serving,
}

#[derive(Debug, Clone)]
struct Peer {
    observer: bool,
    stage: Stage,
    last_zxid: i64,
    last_heard_ms: u64,
    /// Newest read round this peer answered a PING of.
    read_acked: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    txn: Bytes,
    acks: BTreeSet<Sid>,
}

/// A leader for one epoch. Built once election picked this server; discards itself (emits
/// `StepDown`) on any loss of quorum.
#[derive(Debug)]
pub struct Leader {
    cfg: ZabConfig,
    phase: Phase,
    now_ms: u64,
    phase_start_ms: u64,
    last_ping_ms: u64,
    accepted_epoch: u32,
    current_epoch: u32,
    new_epoch: u32,
    /// acceptedEpoch of each voter that sent FOLLOWERINFO (and ours).
    epoch_votes: BTreeMap<Sid, u32>,
    epoch_acks: BTreeSet<Sid>,
    newleader_acks: BTreeSet<Sid>,
    peers: BTreeMap<Sid, Peer>,
    /// Newest committed txns, ascending (the `committedLog`).
    window: VecDeque<(i64, Bytes)>,
    last_committed: i64,
    last_proposed: i64,
    persisted: i64,
    outstanding: BTreeMap<i64, Pending>,
    /// Newest read round started, and newest confirmed by a quorum.
    read_started: u64,
    read_confirmed: u64,
    /// The outstanding reconfig: its zxid and the membership it proposes. While it is
    /// outstanding, it and every later proposal need a quorum of both configs.
    reconfig: Option<(i64, NewMembers)>,
    /// Sizes of the txns proposed (a PROPOSAL's data), as Apache's `proposalStats`.
    proposal_sizes: BufferStats,
    out: Vec<Output>,
}

impl Leader {
    /// Starts discovery. `durable` is what this server has on disk; its whole log counts as
    /// the initial history of the new epoch.
    pub fn new(cfg: ZabConfig, durable: DurableState, now_ms: u64) -> (Leader, Vec<Output>) {
        let mut window: VecDeque<(i64, Bytes)> = durable.recent.into_iter().collect();
        while window.len() > cfg.commit_log_count {
            window.pop_front();
        }
        let me = cfg.my_sid;
        let mut l = Leader {
            phase: Phase::Discovery,
            now_ms,
            phase_start_ms: now_ms,
            last_ping_ms: now_ms,
            accepted_epoch: durable.accepted_epoch,
            current_epoch: durable.current_epoch,
            new_epoch: 0,
            epoch_votes: BTreeMap::from([(me, durable.accepted_epoch)]),
            epoch_acks: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            peers: BTreeMap::new(),
            window,
            last_committed: durable.last_zxid,
            last_proposed: durable.last_zxid,
            persisted: durable.last_zxid,
            outstanding: BTreeMap::new(),
            read_started: 0,
            read_confirmed: 0,
            reconfig: None,
            proposal_sizes: BufferStats::default(),
            out: Vec::new(),
            cfg,
        };
        l.try_decide_epoch();
        let out = std::mem::take(&mut l.out);
        (l, out)
    }

    /// The epoch being established (0 until discovery picked it).
    pub fn epoch(&self) -> u32 {
        self.new_epoch
    }

    /// True once a quorum acked NEWLEADER and proposals are accepted.
    /// Connected learners: (synced voters, synced observers, still syncing), as `mntr` and
    /// the AdminServer report them.
    pub fn learner_counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for p in self.peers.values() {
            match (p.stage == Stage::Serving, p.observer) {
                (true, false) => counts.0 += 1,
                (true, true) => counts.1 += 1,
                (false, _) => counts.2 += 1,
            }
        }
        counts
    }

    /// The synced observers `learner_counts` counts, by sid (AdminServer `observers`).
    pub fn synced_observers(&self) -> impl Iterator<Item = Sid> + '_ {
        self.peers
            .iter()
            .filter(|(_, p)| p.stage == Stage::Serving && p.observer)
            .map(|(s, _)| *s)
    }

    pub fn is_serving(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    /// Bytes of the txns proposed in this epoch: last, smallest, largest (`mntr`, `stat`).
    pub fn proposal_sizes(&self) -> BufferStats {
        self.proposal_sizes
    }

    /// `srst` starts the proposal sizes over, as Apache's does.
    pub fn reset_proposal_sizes(&mut self) {
        self.proposal_sizes.reset();
    }

    pub fn last_committed(&self) -> i64 {
        self.last_committed
    }

    /// The newest zxid proposed, or the end of the log the leader started from: what a
    /// learner's SYNC must see applied. Not `(epoch, 0)` while the epoch has no txn yet,
    /// which no tree would ever reach.
    pub fn last_proposed(&self) -> i64 {
        self.last_proposed
    }

    /// Feeds one input; returns what to do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        if self.phase != Phase::Stopped {
            match input {
                Input::Packet { from, pkt } => self.on_packet(from, pkt),
                Input::Persisted { zxid } => self.on_persisted(zxid),
                Input::Tick { now_ms } => self.on_tick(now_ms),
                Input::PeerDisconnected { sid } => {
                    self.peers.remove(&sid);
                }
            }
        }
        std::mem::take(&mut self.out)
    }

    /// Proposes a txn. `make_txn` gets the zxid assigned to it (the txn header carries it).
    /// `Err(ZxidExhausted)` means this leader has stopped (Apache forces a re-election when
    /// the counter would reach 0xffffffff); treat it as `StepDown{ZxidExhausted}`.
    pub fn propose(
        &mut self,
        make_txn: impl FnOnce(i64) -> Bytes,
    ) -> Result<(i64, Vec<Output>), ZabError> {
        if self.phase != Phase::Broadcast {
            return Err(ZabError::NotServing);
        }
        let counter = counter_of(self.last_proposed).wrapping_add(1);
        let counter = if epoch_of(self.last_proposed) == self.new_epoch {
            counter
        } else {
            1
        };
        if counter == u32::MAX {
            // The error is the step-down notice: the driver must go back to election.
            self.phase = Phase::Stopped;
            return Err(ZabError::ZxidExhausted(self.new_epoch));
        }
        let zxid = make_zxid(self.new_epoch, counter);
        let txn = make_txn(zxid);
        self.proposal_sizes.record(txn.len());
        self.last_proposed = zxid;
        self.outstanding.insert(
            zxid,
            Pending {
                txn: txn.clone(),
                acks: BTreeSet::new(),
            },
        );
        self.out.push(Output::Persist {
            zxid,
            txn: txn.clone(),
        });
        let pkt = ZabPacket::Proposal { zxid, txn };
        let to: Vec<Sid> = self.forwarding(false).collect();
        for sid in to {
            self.send(sid, pkt.clone());
        }
        Ok((zxid, std::mem::take(&mut self.out)))
    }

    /// Proposes a reconfig txn: it commits once a quorum of the current voters AND a
    /// quorum of `members`' voters acked it; then COMMITANDACTIVATE / INFORMANDACTIVATE
    /// replace COMMIT / INFORM, Zab counts with the new voters, and `Reconfigured` says who
    /// leads (this server steps down when it is not that server).
    pub fn propose_reconfig(
        &mut self,
        make_txn: impl FnOnce(i64) -> Bytes,
        members: NewMembers,
    ) -> Result<(i64, Vec<Output>), ZabError> {
        if self.reconfig.is_some() {
            return Err(ZabError::ReconfigInProgress);
        }
        let (zxid, out) = self.propose(make_txn)?;
        self.reconfig = Some((zxid, members));
        Ok((zxid, out))
    }

    /// The leader and every learner synced with it (`Leader.isQuorumSynced` counts these).
    pub fn synced(&self) -> BTreeSet<Sid> {
        self.peers
            .iter()
            .filter(|(_, p)| p.stage == Stage::Serving)
            .map(|(s, _)| *s)
            .chain(std::iter::once(self.cfg.my_sid))
            .collect()
    }

    /// The membership Zab counts with (the last committed config).
    pub fn config(&self) -> &ZabConfig {
        &self.cfg
    }

    /// Counts with a membership committed outside `propose_reconfig` (a reconfig from an
    /// earlier epoch, applied during recovery); older versions are ignored.
    pub fn adopt_members(&mut self, members: &NewMembers) {
        if members.version > self.cfg.config_version {
            self.cfg.adopt(members);
        }
    }

    /// Starts a read round (the "confirm leadership" half of a ReadIndex read): sends a
    /// PING tagged with the round to every learner past NEWLEADER. Learners (ours and
    /// Apache's) echo a PING's zxid, and a voter answers only while it follows this leader,
    /// so once a quorum (this server included) has echoed round `r` or later, no other
    /// leader can have committed anything before round `r` started: a competing leader
    /// needs a quorum that has left this one, and quorums intersect. The tag is the
    /// round negated, as real zxids are never negative; ordinary PINGs carry
    /// `last_proposed` and never count. Completion comes as `ReadRoundConfirmed`; rounds
    /// are confirmed in order, and confirming `r` confirms every earlier round.
    pub fn start_read_round(&mut self) -> Result<(u64, Vec<Output>), ZabError> {
        if self.phase != Phase::Broadcast {
            return Err(ZabError::NotServing);
        }
        self.read_started += 1;
        let round = self.read_started;
        let tag = -(round as i64);
        let targets: Vec<Sid> = self
            .peers
            .iter()
            .filter(|(_, p)| p.stage >= Stage::AwaitUpToDate && !p.observer)
            .map(|(s, _)| *s)
            .collect();
        for sid in targets {
            self.send(
                sid,
                ZabPacket::Ping {
                    zxid: tag,
                    sessions: Vec::new(),
                },
            );
        }
        self.try_confirm_reads();
        Ok((round, std::mem::take(&mut self.out)))
    }

    /// The newest read round confirmed by a quorum.
    pub fn read_confirmed(&self) -> u64 {
        self.read_confirmed
    }

    fn on_read_round_reply(&mut self, from: Sid, tag: i64) {
        let Some(round) = tag.checked_neg().map(|r| r as u64) else {
            return;
        };
        // A reply for a round not started yet is a broken or foreign peer: ignore it.
        if round > self.read_started {
            return;
        }
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        if p.observer || p.stage < Stage::AwaitUpToDate {
            return;
        }
        p.read_acked = p.read_acked.max(round);
        self.try_confirm_reads();
    }

    /// Confirms the newest started round a quorum of voters has answered.
    fn try_confirm_reads(&mut self) {
        if self.read_confirmed >= self.read_started {
            return;
        }
        let me = self.cfg.my_sid;
        let mut candidates: Vec<u64> = self
            .peers
            .values()
            .filter(|p| !p.observer && p.read_acked > self.read_confirmed)
            .map(|p| p.read_acked)
            .chain(std::iter::once(self.read_started))
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        candidates.dedup();
        for r in candidates {
            let answered = self
                .peers
                .iter()
                .filter(|(_, p)| !p.observer && p.read_acked >= r)
                .map(|(s, _)| s)
                .chain(std::iter::once(&me));
            if self.cfg.is_quorum(answered) {
                self.read_confirmed = r;
                self.out.push(Output::ReadRoundConfirmed { round: r });
                return;
            }
        }
    }

    /// Answers a learner's REVALIDATE.
    pub fn revalidate_reply(
        &mut self,
        to: Sid,
        session_id: i64,
        valid: bool,
    ) -> Result<Vec<Output>, ZabError> {
        self.reply(to, ZabPacket::RevalidateReply { session_id, valid })
    }

    /// Answers a forwarded sync; every commit issued before this call precedes it.
    pub fn sync_reply(&mut self, to: Sid) -> Result<Vec<Output>, ZabError> {
        self.reply(to, ZabPacket::Sync)
    }

    fn reply(&mut self, to: Sid, pkt: ZabPacket) -> Result<Vec<Output>, ZabError> {
        if !self.peers.contains_key(&to) {
            return Err(ZabError::UnknownLearner(to));
        }
        self.send(to, pkt);
        Ok(std::mem::take(&mut self.out))
    }

    fn send(&mut self, to: Sid, pkt: ZabPacket) {
        self.out.push(Output::Send { to, pkt });
    }

    /// Peers that receive broadcast traffic: followers (`observers == false`) or observers.
    fn forwarding(&self, observers: bool) -> impl Iterator<Item = Sid> + '_ {
        self.peers
            .iter()
            .filter(move |(_, p)| p.stage >= Stage::AwaitNewLeaderAck && p.observer == observers)
            .map(|(s, _)| *s)
    }

    fn step_down(&mut self, reason: StepDownReason) {
        self.phase = Phase::Stopped;
        self.out.push(Output::StepDown { reason });
    }

    fn drop_peer(&mut self, sid: Sid) {
        self.peers.remove(&sid);
        self.out.push(Output::Disconnect { sid });
    }

    fn on_packet(&mut self, from: Sid, pkt: ZabPacket) {
        if let Some(p) = self.peers.get_mut(&from) {
            p.last_heard_ms = self.now_ms;
        }
        match pkt {
            ZabPacket::FollowerInfo { zxid, info } => {
                self.on_info(from, zxid, info.config_version, false)
            }
            ZabPacket::ObserverInfo { zxid, info } => {
                self.on_info(from, zxid, info.config_version, true)
            }
            ZabPacket::AckEpoch {
                zxid,
                current_epoch,
            } => self.on_ack_epoch(from, zxid, current_epoch),
            ZabPacket::Ack { zxid } => self.on_ack(from, zxid),
            ZabPacket::Ping { zxid, sessions } => {
                if zxid < 0 {
                    self.on_read_round_reply(from, zxid);
                }
                if !sessions.is_empty() && self.peers.contains_key(&from) {
                    self.out.push(Output::TouchSessions { from, sessions });
                }
            }
            ZabPacket::Request {
                session_id,
                cxid,
                kind,
                request,
                authinfo,
            } => {
                if self.peer_serving(from) {
                    self.out.push(Output::ForwardedRequest {
                        from,
                        session_id,
                        cxid,
                        kind,
                        request,
                        authinfo,
                    });
                } else if self.peers.contains_key(&from) {
                    // A learner serves clients only after UPTODATE: a request before it is
                    // a broken peer. Dropping the request alone would leave its client (or
                    // a read barrier) waiting forever; the disconnect fails them instead.
                    tracing::warn!(from, kind, "request from a learner still syncing");
                    self.drop_peer(from);
                }
            }
            ZabPacket::RevalidateRequest {
                session_id,
                timeout,
            } => {
                if self.peers.contains_key(&from) {
                    self.out.push(Output::RevalidateSession {
                        from,
                        session_id,
                        timeout,
                    });
                }
            }
            other => {
                if self.peers.contains_key(&from) {
                    tracing::warn!(from, kind = other.kind(), "unexpected packet from learner");
                    self.drop_peer(from);
                }
            }
        }
    }

    fn peer_serving(&self, sid: Sid) -> bool {
        self.peers
            .get(&sid)
            .is_some_and(|p| p.stage == Stage::Serving)
    }

    fn on_info(&mut self, from: Sid, zxid: i64, config_version: i64, observer: bool) {
        // Any server may sync as a learner, as Apache's LearnerHandler allows: one about to
        // join by reconfig must be synced first; only voters' acks count. A learner with a
        // newer config than ours knows of a reconfig we missed: refused, as Apache does.
        if config_version > self.cfg.config_version || from == self.cfg.my_sid {
            self.out.push(Output::Disconnect { sid: from });
            return;
        }
        self.peers.insert(
            from,
            Peer {
                observer,
                stage: Stage::Info,
                last_zxid: 0,
                last_heard_ms: self.now_ms,
                read_acked: 0,
            },
        );
        if self.phase == Phase::Discovery && !observer {
            self.epoch_votes.insert(from, epoch_of(zxid));
            self.try_decide_epoch();
        } else if self.phase > Phase::Discovery {
            self.send_leader_info(from);
        }
    }

    fn send_leader_info(&mut self, to: Sid) {
        let zxid = make_zxid(self.new_epoch, 0);
        self.send(
            to,
            ZabPacket::LeaderInfo {
                zxid,
                protocol_version: ZAB_PROTOCOL_VERSION,
            },
        );
    }

    fn try_decide_epoch(&mut self) {
        if self.phase != Phase::Discovery || !self.cfg.is_quorum(self.epoch_votes.keys()) {
            return;
        }
        let max = self.epoch_votes.values().copied().max().unwrap_or(0);
        let Some(new_epoch) = max.checked_add(1) else {
            self.step_down(StepDownReason::Protocol("epoch space exhausted".into()));
            return;
        };
        self.new_epoch = new_epoch;
        self.accepted_epoch = new_epoch;
        self.phase = Phase::Sync;
        self.phase_start_ms = self.now_ms;
        self.out.push(Output::WriteAcceptedEpoch(new_epoch));
        self.epoch_acks.insert(self.cfg.my_sid);
        let waiting: Vec<Sid> = self.peers.keys().copied().collect();
        for sid in waiting {
            self.send_leader_info(sid);
        }
        self.try_epoch_quorum();
    }

    fn on_ack_epoch(&mut self, from: Sid, zxid: i64, current_epoch: i32) {
        if self.phase < Phase::Sync {
            return;
        }
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        if peer.stage != Stage::Info {
            self.drop_peer(from);
            return;
        }
        if current_epoch >= 0 {
            let theirs = (current_epoch as u32, zxid);
            if theirs > (self.current_epoch, self.last_committed) {
                self.step_down(StepDownReason::LearnerAhead(from));
                return;
            }
        }
        peer.stage = Stage::EpochAcked;
        peer.last_zxid = zxid;
        let observer = peer.observer;
        if current_epoch >= 0 && !observer {
            self.epoch_acks.insert(from);
        }
        if self.epoch_acks_done() {
            self.sync_peer(from);
        } else {
            self.try_epoch_quorum();
        }
    }

    /// True once the epoch quorum was reached (our currentEpoch is the new epoch).
    fn epoch_acks_done(&self) -> bool {
        self.phase == Phase::Broadcast
            || (self.phase == Phase::Sync && self.current_epoch == self.new_epoch)
    }

    /// Learners whose connection is at `stage`.
    fn peers_in(&self, stage: Stage) -> Vec<Sid> {
        self.peers
            .iter()
            .filter(|(_, p)| p.stage == stage)
            .map(|(s, _)| *s)
            .collect()
    }

    fn try_epoch_quorum(&mut self) {
        if self.epoch_acks_done() || !self.cfg.is_quorum(self.epoch_acks.iter()) {
            return;
        }
        self.current_epoch = self.new_epoch;
        self.out.push(Output::WriteCurrentEpoch(self.new_epoch));
        self.newleader_acks.insert(self.cfg.my_sid);
        let ready = self.peers_in(Stage::EpochAcked);
        for sid in ready {
            self.sync_peer(sid);
        }
        self.try_establish();
    }

    /// Queues the sync packets, any outstanding proposals, then NEWLEADER.
    fn sync_peer(&mut self, sid: Sid) {
        let Some(peer) = self.peers.get(&sid) else {
            return;
        };
        let (peer_zxid, observer) = (peer.last_zxid, peer.observer);
        let max = self.last_committed;
        let diff_after = match plan_sync(&self.window, max, peer_zxid) {
            SyncPlan::Diff { after } => {
                self.send(sid, ZabPacket::Diff { zxid: max });
                Some(after)
            }
            SyncPlan::TruncDiff { to } => {
                self.send(sid, ZabPacket::Trunc { zxid: to });
                Some(to)
            }
            SyncPlan::Trunc { to } => {
                self.send(sid, ZabPacket::Trunc { zxid: to });
                None
            }
            SyncPlan::Snap => {
                self.send(sid, ZabPacket::Snap { zxid: max });
                self.out.push(Output::SendSnapshot { to: sid, zxid: max });
                None
            }
        };
        if let Some(after) = diff_after {
            let txns: Vec<(i64, Bytes)> = self
                .window
                .iter()
                .filter(|(z, _)| *z > after)
                .cloned()
                .collect();
            for (zxid, txn) in txns {
                self.send(sid, ZabPacket::Proposal { zxid, txn });
                self.send(sid, ZabPacket::Commit { zxid });
            }
        }
        if !observer {
            let pending: Vec<(i64, Bytes)> = self
                .outstanding
                .iter()
                .map(|(z, p)| (*z, p.txn.clone()))
                .collect();
            for (zxid, txn) in pending {
                self.send(sid, ZabPacket::Proposal { zxid, txn });
            }
        }
        let zxid = make_zxid(self.new_epoch, 0);
        self.send(
            sid,
            ZabPacket::NewLeader {
                zxid,
                config: self.cfg.config_text.clone(),
            },
        );
        if let Some(p) = self.peers.get_mut(&sid) {
            p.stage = Stage::AwaitNewLeaderAck;
        }
    }

    fn on_ack(&mut self, from: Sid, zxid: i64) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        if zxid == make_zxid(self.new_epoch, 0) {
            if peer.stage != Stage::AwaitNewLeaderAck {
                return; // the ACK of UPTODATE
            }
            peer.stage = Stage::AwaitUpToDate;
            if !peer.observer {
                self.newleader_acks.insert(from);
            }
            if self.phase == Phase::Broadcast {
                self.send_up_to_date(from);
            } else {
                self.try_establish();
            }
            return;
        }
        if peer.observer || peer.stage < Stage::AwaitNewLeaderAck {
            return;
        }
        if let Some(p) = self.outstanding.get_mut(&zxid) {
            p.acks.insert(from);
            self.try_commit();
        }
    }

    fn send_up_to_date(&mut self, sid: Sid) {
        self.send(sid, ZabPacket::UpToDate);
        if let Some(p) = self.peers.get_mut(&sid) {
            p.stage = Stage::Serving;
        }
    }

    fn try_establish(&mut self) {
        if self.phase != Phase::Sync
            || !self.epoch_acks_done()
            || !self.cfg.is_quorum(self.newleader_acks.iter())
        {
            return;
        }
        self.phase = Phase::Broadcast;
        self.out.push(Output::Serving);
        let acked = self.peers_in(Stage::AwaitUpToDate);
        for sid in acked {
            self.send_up_to_date(sid);
        }
    }

    fn on_persisted(&mut self, zxid: i64) {
        self.persisted = self.persisted.max(zxid);
        let me = self.cfg.my_sid;
        for (_, p) in self.outstanding.range_mut(..=zxid) {
            p.acks.insert(me);
        }
        self.try_commit();
    }

    /// Commits outstanding proposals in zxid order while the oldest has a quorum.
    fn try_commit(&mut self) {
        while let Some(entry) = self.outstanding.first_entry() {
            let zxid = *entry.key();
            let acks = &entry.get().acks;
            if !self.cfg.is_quorum(acks.iter()) {
                break;
            }
            if let Some((rz, members)) = &self.reconfig {
                if zxid >= *rz && !members.is_quorum(acks) {
                    break;
                }
            }
            let pending = entry.remove();
            let txn = pending.txn;
            self.last_committed = zxid;
            self.window.push_back((zxid, txn.clone()));
            while self.window.len() > self.cfg.commit_log_count {
                self.window.pop_front();
            }
            let reconfig = match self.reconfig.take() {
                Some((rz, m)) if rz == zxid => Some(m),
                other => {
                    self.reconfig = other;
                    None
                }
            };
            let Some(members) = reconfig else {
                self.broadcast_commit(zxid, &txn);
                self.out.push(Output::ApplyCommitted { zxid, txn });
                continue;
            };
            let leader = self.designated_leader(&members, &pending.acks);
            self.broadcast_activate(zxid, &txn, leader);
            self.cfg.adopt(&members);
            self.out.push(Output::ApplyCommitted { zxid, txn });
            self.out.push(Output::Reconfigured { zxid, leader });
            if leader != self.cfg.my_sid {
                // Apache stops committing here: the successor takes over after an election.
                self.step_down(StepDownReason::Reconfigured { successor: leader });
                return;
            }
        }
    }

    fn broadcast_commit(&mut self, zxid: i64, txn: &Bytes) {
        let followers: Vec<Sid> = self.forwarding(false).collect();
        for sid in followers {
            self.send(sid, ZabPacket::Commit { zxid });
        }
        let observers: Vec<Sid> = self.forwarding(true).collect();
        for sid in observers {
            let txn = txn.clone();
            self.send(sid, ZabPacket::Inform { zxid, txn });
        }
    }

    fn broadcast_activate(&mut self, zxid: i64, txn: &Bytes, leader: Sid) {
        let leader_sid = leader as i64;
        let followers: Vec<Sid> = self.forwarding(false).collect();
        for sid in followers {
            self.send(sid, ZabPacket::CommitAndActivate { zxid, leader_sid });
        }
        let observers: Vec<Sid> = self.forwarding(true).collect();
        for sid in observers {
            let txn = txn.clone();
            self.send(
                sid,
                ZabPacket::InformAndActivate {
                    zxid,
                    leader_sid,
                    txn,
                },
            );
        }
    }

    /// Who leads the new config: this server if it stays, else the successor among the new
    /// voters that acked the reconfig and the most proposals after it.
    fn designated_leader(&self, members: &NewMembers, acks: &BTreeSet<Sid>) -> Sid {
        let me = self.cfg.my_sid;
        if members.leader_stays {
            return me;
        }
        let later: Vec<BTreeSet<Sid>> = self.outstanding.values().map(|p| p.acks.clone()).collect();
        crate::quorum::reconfig::successor(me, &members.voters, acks, &later).unwrap_or(me)
    }

    fn on_tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        let now = self.now_ms;
        if self.phase != Phase::Broadcast
            && now.saturating_sub(self.phase_start_ms) > self.cfg.init_ms()
        {
            self.step_down(StepDownReason::InitTimeout);
            return;
        }
        let (init_ms, sync_ms) = (self.cfg.init_ms(), self.cfg.sync_ms());
        let dead: Vec<Sid> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                let limit = if p.stage == Stage::Serving {
                    sync_ms
                } else {
                    init_ms
                };
                now.saturating_sub(p.last_heard_ms) > limit
            })
            .map(|(s, _)| *s)
            .collect();
        for sid in dead {
            self.drop_peer(sid);
        }
        if now.saturating_sub(self.last_ping_ms) >= self.cfg.tick_ms / 2 {
            self.last_ping_ms = now;
            // While a read round is unconfirmed, voters' pings carry its tag again: a voter
            // that joined after the round started, or reconnected and lost its ping, is
            // asked too, so the round cannot wait for voters that were never asked (a
            // round is only as safe as the pings sent after it started, which these are).
            let pending_round = (self.phase == Phase::Broadcast
                && self.read_confirmed < self.read_started)
                .then(|| -(self.read_started as i64));
            let targets: Vec<(Sid, i64)> = self
                .peers
                .iter()
                .filter(|(_, p)| p.stage >= Stage::AwaitUpToDate)
                .map(|(s, p)| {
                    let tag = pending_round.filter(|_| !p.observer);
                    (*s, tag.unwrap_or(self.last_proposed))
                })
                .collect();
            for (sid, zxid) in targets {
                self.send(
                    sid,
                    ZabPacket::Ping {
                        zxid,
                        sessions: Vec::new(),
                    },
                );
            }
            if self.phase == Phase::Broadcast {
                let me = self.cfg.my_sid;
                let synced = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.stage == Stage::Serving && !p.observer)
                    .map(|(s, _)| s)
                    .chain(std::iter::once(&me));
                if !self.cfg.is_quorum(synced) {
                    self.step_down(StepDownReason::LostQuorum);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::records::LearnerInfo;

    fn cfg() -> ZabConfig {
        ZabConfig {
            my_sid: 1,
            voters: BTreeSet::from([1, 2, 3]),
            observers: BTreeSet::from([4]),
            tick_ms: 10,
            init_limit: 10,
            sync_limit: 5,
            commit_log_count: 10,
            config_version: 0,
            config_text: Bytes::from_static(b"cfg"),
        }
    }

    pub(super) fn info(l: &mut Leader, from: Sid, accepted: u32) -> Vec<Output> {
        let info = LearnerInfo {
            serverid: from as i64,
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version: 0,
        };
        l.handle(Input::Packet {
            from,
            pkt: ZabPacket::FollowerInfo {
                zxid: make_zxid(accepted, 0),
                info,
            },
        })
    }

    pub(super) fn established(last: i64) -> Leader {
        let durable = DurableState {
            accepted_epoch: 3,
            current_epoch: 3,
            last_zxid: last,
            recent: vec![],
        };
        let (mut l, out) = Leader::new(cfg(), durable, 0);
        assert!(out.is_empty(), "no quorum yet: {out:?}");
        let out = info(&mut l, 2, 7);
        assert_eq!(out[0], Output::WriteAcceptedEpoch(8));
        let out = l.handle(Input::Packet {
            from: 2,
            pkt: ZabPacket::AckEpoch {
                zxid: last,
                current_epoch: 3,
            },
        });
        assert_eq!(out[0], Output::WriteCurrentEpoch(8));
        assert!(out.iter().any(|o| matches!(
            o,
            Output::Send {
                pkt: ZabPacket::Diff { .. },
                ..
            }
        )));
        assert!(!l.is_serving());
        let out = l.handle(Input::Packet {
            from: 2,
            pkt: ZabPacket::Ack {
                zxid: make_zxid(8, 0),
            },
        });
        assert_eq!(out[0], Output::Serving);
        assert_eq!(
            out[1],
            Output::Send {
                to: 2,
                pkt: ZabPacket::UpToDate
            }
        );
        l
    }

    #[test]
    fn commits_after_a_quorum_including_its_own_fsync() {
        let mut l = established(make_zxid(3, 9));
        let (z, out) = l.propose(|_| Bytes::from_static(b"t")).unwrap();
        assert_eq!(z, make_zxid(8, 1));
        assert_eq!(
            out[0],
            Output::Persist {
                zxid: z,
                txn: Bytes::from_static(b"t")
            }
        );
        // A follower ack alone is not a quorum of 3.
        assert!(l
            .handle(Input::Packet {
                from: 2,
                pkt: ZabPacket::Ack { zxid: z }
            })
            .is_empty());
        let out = l.handle(Input::Persisted { zxid: z });
        assert_eq!(
            out[0],
            Output::Send {
                to: 2,
                pkt: ZabPacket::Commit { zxid: z }
            }
        );
        assert_eq!(
            out[1],
            Output::ApplyCommitted {
                zxid: z,
                txn: Bytes::from_static(b"t")
            }
        );
    }

    #[test]
    fn proposal_sizes_are_the_proposed_txns_bytes() {
        let mut l = established(make_zxid(3, 9));
        assert_eq!(l.proposal_sizes(), BufferStats::default(), "-1 before any");
        for txn in [&b"abc"[..], b"0123456789", b"hello"] {
            l.propose(|_| Bytes::copy_from_slice(txn)).unwrap();
        }
        let s = l.proposal_sizes();
        assert_eq!((s.last, s.min, s.max), (5, 3, 10));
        l.reset_proposal_sizes();
        assert_eq!(l.proposal_sizes(), BufferStats::default());
    }

    #[test]
    fn zxid_counter_exhaustion_forces_step_down() {
        let mut l = established(make_zxid(3, 9));
        l.last_proposed = make_zxid(8, u32::MAX - 1);
        assert_eq!(
            l.propose(|_| Bytes::new()).unwrap_err(),
            ZabError::ZxidExhausted(8)
        );
        let out = l.handle(Input::Tick { now_ms: 1 });
        assert!(out.is_empty(), "stopped leaders stay silent");
    }

    #[test]
    fn loses_quorum_when_followers_go_silent() {
        let mut l = established(0);
        let mut stepped = false;
        for t in (5..=200).step_by(5) {
            let out = l.handle(Input::Tick { now_ms: t });
            if out.contains(&Output::StepDown {
                reason: StepDownReason::LostQuorum,
            }) {
                assert!(t > 50, "stepped down too early at {t}");
                stepped = true;
                break;
            }
        }
        assert!(stepped);
    }

    #[test]
    fn refuses_a_learner_with_a_newer_history() {
        let durable = DurableState {
            accepted_epoch: 3,
            current_epoch: 3,
            last_zxid: make_zxid(3, 2),
            recent: vec![],
        };
        let (mut l, _) = Leader::new(cfg(), durable, 0);
        info(&mut l, 2, 3);
        let out = l.handle(Input::Packet {
            from: 2,
            pkt: ZabPacket::AckEpoch {
                zxid: make_zxid(3, 5),
                current_epoch: 3,
            },
        });
        assert_eq!(
            out,
            vec![Output::StepDown {
                reason: StepDownReason::LearnerAhead(2)
            }]
        );
    }

    fn ping_reply(l: &mut Leader, from: Sid, zxid: i64) -> Vec<Output> {
        l.handle(Input::Packet {
            from,
            pkt: ZabPacket::Ping {
                zxid,
                sessions: vec![],
            },
        })
    }

    /// An empty log in epoch 1.
    fn epoch_one() -> DurableState {
        DurableState {
            accepted_epoch: 1,
            current_epoch: 1,
            last_zxid: 0,
            recent: vec![],
        }
    }

    fn five_voters() -> Leader {
        let mut c = cfg();
        c.voters = BTreeSet::from([1, 2, 3, 4, 5]);
        c.observers = BTreeSet::from([6]);
        let durable = epoch_one();
        let (mut l, _) = Leader::new(c, durable, 0);
        for sid in [2, 3, 4] {
            info(&mut l, sid, 1);
        }
        for sid in [2, 3, 4] {
            l.handle(Input::Packet {
                from: sid,
                pkt: ZabPacket::AckEpoch {
                    zxid: 0,
                    current_epoch: 1,
                },
            });
        }
        for sid in [2, 3, 4] {
            l.handle(Input::Packet {
                from: sid,
                pkt: ZabPacket::Ack {
                    zxid: make_zxid(2, 0),
                },
            });
        }
        let obs = LearnerInfo {
            serverid: 6,
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version: 0,
        };
        l.handle(Input::Packet {
            from: 6,
            pkt: ZabPacket::ObserverInfo { zxid: 0, info: obs },
        });
        l.handle(Input::Packet {
            from: 6,
            pkt: ZabPacket::AckEpoch {
                zxid: 0,
                current_epoch: 1,
            },
        });
        l.handle(Input::Packet {
            from: 6,
            pkt: ZabPacket::Ack {
                zxid: make_zxid(2, 0),
            },
        });
        assert!(l.is_serving());
        l
    }

    #[test]
    fn read_round_pings_voters_with_a_negative_tag() {
        let mut l = established(0);
        let (r, out) = l.start_read_round().unwrap();
        assert_eq!(r, 1);
        assert_eq!(
            out,
            vec![Output::Send {
                to: 2,
                pkt: ZabPacket::Ping {
                    zxid: -1,
                    sessions: vec![]
                }
            }]
        );
        // One follower plus the leader is a quorum of 3.
        assert_eq!(
            ping_reply(&mut l, 2, -1),
            vec![Output::ReadRoundConfirmed { round: 1 }]
        );
        assert_eq!(l.read_confirmed(), 1);
    }

    #[test]
    fn read_round_needs_a_quorum_and_ignores_observers() {
        let mut l = five_voters();
        let (r, out) = l.start_read_round().unwrap();
        let pinged: BTreeSet<Sid> = out
            .iter()
            .filter_map(|o| match o {
                Output::Send {
                    to,
                    pkt: ZabPacket::Ping { zxid: -1, .. },
                } => Some(*to),
                _ => None,
            })
            .collect();
        assert_eq!(pinged, BTreeSet::from([2, 3, 4]), "observers are not asked");
        assert!(ping_reply(&mut l, 6, -(r as i64)).is_empty(), "observer");
        assert!(ping_reply(&mut l, 2, -(r as i64)).is_empty(), "2 of 5");
        assert!(
            ping_reply(&mut l, 2, -(r as i64)).is_empty(),
            "same voter twice"
        );
        assert_eq!(
            ping_reply(&mut l, 3, -(r as i64)),
            vec![Output::ReadRoundConfirmed { round: r }]
        );
    }

    #[test]
    fn replies_from_before_a_round_do_not_confirm_it() {
        let mut l = five_voters();
        let (r1, _) = l.start_read_round().unwrap();
        let (r2, _) = l.start_read_round().unwrap();
        assert_eq!((r1, r2), (1, 2));
        // Replies to round 1 (and to ordinary pings) arrive after round 2 started.
        assert!(ping_reply(&mut l, 2, -1).is_empty());
        assert!(ping_reply(&mut l, 3, make_zxid(2, 0)).is_empty());
        assert_eq!(
            ping_reply(&mut l, 3, -1),
            vec![Output::ReadRoundConfirmed { round: 1 }]
        );
        assert!(ping_reply(&mut l, 4, -1).is_empty(), "round 1 is done");
        assert!(ping_reply(&mut l, 2, -2).is_empty(), "2 of 5 for round 2");
        // A reply to round 2 also confirms everything before it.
        assert_eq!(
            ping_reply(&mut l, 4, -2),
            vec![Output::ReadRoundConfirmed { round: 2 }]
        );
        // Replies for rounds never started are ignored.
        assert!(ping_reply(&mut l, 3, -9).is_empty());
        assert_eq!(l.read_confirmed(), 2);
    }

    #[test]
    fn read_round_confirms_at_once_when_alone_a_quorum() {
        let mut c = cfg();
        c.voters = BTreeSet::from([1]);
        let durable = epoch_one();
        let (mut l, out) = Leader::new(c, durable, 0);
        assert!(out.contains(&Output::Serving));
        let (r, out) = l.start_read_round().unwrap();
        assert_eq!(out, vec![Output::ReadRoundConfirmed { round: r }]);
    }

    /// Brings voters `sids` (accepted epoch 1) through FOLLOWERINFO, ACKEPOCH and the
    /// NEWLEADER ack of epoch 2, each step for all of them in turn.
    fn join(l: &mut Leader, sids: &[Sid]) -> Vec<Output> {
        let mut out = Vec::new();
        for &sid in sids {
            out.extend(info(l, sid, 1));
        }
        for pkt in [
            ZabPacket::AckEpoch {
                zxid: 0,
                current_epoch: 1,
            },
            ZabPacket::Ack {
                zxid: make_zxid(2, 0),
            },
        ] {
            for &from in sids {
                let pkt = pkt.clone();
                out.extend(l.handle(Input::Packet { from, pkt }));
            }
        }
        out
    }

    fn read_pings(out: &[Output]) -> BTreeSet<(Sid, i64)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send {
                    to,
                    pkt: ZabPacket::Ping { zxid, .. },
                } if *zxid < 0 => Some((*to, *zxid)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_unconfirmed_read_round_asks_voters_that_joined_after_it_started() {
        let mut c = cfg();
        c.voters = BTreeSet::from([1, 2, 3, 4, 5]);
        let durable = epoch_one();
        let (mut l, _) = Leader::new(c, durable, 0);
        let out = join(&mut l, &[2, 3]);
        assert!(out.contains(&Output::Serving), "{out:?}");
        // The round asks the only voters synced so far, 2 and 3; 3 leaves before answering.
        let (r, out) = l.start_read_round().unwrap();
        assert_eq!(read_pings(&out), BTreeSet::from([(2, -1), (3, -1)]));
        l.handle(Input::PeerDisconnected { sid: 3 });
        assert!(ping_reply(&mut l, 2, -1).is_empty(), "2 of 5");
        // Voter 4 joins: the leader keeps its quorum, and the round must still complete.
        join(&mut l, &[4]);
        let out = l.handle(Input::Tick { now_ms: 5 });
        assert_eq!(read_pings(&out), BTreeSet::from([(2, -1), (4, -1)]));
        assert_eq!(
            ping_reply(&mut l, 4, -1),
            vec![Output::ReadRoundConfirmed { round: r }]
        );
        // Confirmed: ticks send ordinary pings again.
        let out = l.handle(Input::Tick { now_ms: 10 });
        assert!(read_pings(&out).is_empty(), "{out:?}");
    }

    #[test]
    fn a_request_from_a_learner_still_syncing_disconnects_it() {
        let mut l = established(0);
        info(&mut l, 3, 7);
        l.handle(Input::Packet {
            from: 3,
            pkt: ZabPacket::AckEpoch {
                zxid: 0,
                current_epoch: 3,
            },
        });
        let out = l.handle(Input::Packet {
            from: 3,
            pkt: ZabPacket::Request {
                session_id: 1,
                cxid: 1,
                kind: crate::proto::codes::op::SYNC,
                request: Bytes::new(),
                authinfo: vec![],
            },
        });
        assert_eq!(out, vec![Output::Disconnect { sid: 3 }]);
    }

    #[test]
    fn a_new_leader_has_proposed_its_log_until_it_proposes() {
        let mut l = established(make_zxid(3, 9));
        assert_eq!(l.last_proposed(), make_zxid(3, 9), "not (8, 0)");
        let (z, _) = l.propose(|_| Bytes::from_static(b"t")).unwrap();
        assert_eq!((z, l.last_proposed()), (make_zxid(8, 1), make_zxid(8, 1)));
    }

    #[test]
    fn a_stopped_leader_confirms_no_reads() {
        let mut l = established(0);
        let (r, _) = l.start_read_round().unwrap();
        // Silence until the quorum is lost.
        let mut stepped = false;
        for t in (5..=200).step_by(5) {
            if l.handle(Input::Tick { now_ms: t })
                .iter()
                .any(|o| matches!(o, Output::StepDown { .. }))
            {
                stepped = true;
                break;
            }
        }
        assert!(stepped);
        assert!(ping_reply(&mut l, 2, -(r as i64)).is_empty());
        assert_eq!(l.read_confirmed(), 0);
        assert_eq!(l.start_read_round().unwrap_err(), ZabError::NotServing);
    }
}

#[cfg(test)]
#[path = "leader_reconfig_tests.rs"]
mod reconfig_tests;
