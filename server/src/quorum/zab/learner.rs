//! The learner side of Zab (follower or observer): epoch handshake, sync, then following.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::config::{DurableState, ZabConfig};
use super::io::{Input, Output, Sid, StepDownReason};
use super::{counter_of, epoch_of, make_zxid};
use crate::proto::quorum::{ZabPacket, ZAB_PROTOCOL_VERSION};
use crate::proto::records::{Id, LearnerInfo};

/// Followers vote and ACK proposals; observers only receive committed txns (INFORM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerKind {
    Follower,
    Observer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// FOLLOWERINFO sent; waiting for LEADERINFO.
    AwaitLeaderInfo,
    /// ACKEPOCH sent; waiting for DIFF/TRUNC/SNAP.
    AwaitSyncMode,
    /// Receiving sync packets until NEWLEADER.
    Syncing,
    /// NEWLEADER received (and acked once the sync txns are durable); waiting for UPTODATE.
    AwaitUpToDate,
    Serving,
    Stopped,
}

/// A follower or observer of one leader.
#[derive(Debug)]
pub struct Learner {
    cfg: ZabConfig,
    kind: LearnerKind,
    leader: Sid,
    stage: Stage,
    now_ms: u64,
    last_heard_ms: u64,
    accepted_epoch: u32,
    current_epoch: u32,
    new_epoch: u32,
    /// Last zxid logged or queued for logging (the consecutiveness check runs against it).
    last_queued: i64,
    persisted: i64,
    newleader_received: bool,
    newleader_acked: bool,
    /// Proposals not committed yet, in zxid order.
    uncommitted: VecDeque<(i64, Bytes)>,
    /// Committed during sync; applied at UPTODATE.
    to_apply: Vec<(i64, Bytes)>,
    /// Proposals to ACK once durable (followers, after NEWLEADER).
    unacked: VecDeque<i64>,
    /// Sessions touched since the last PING reply (one entry per session, as Apache's
    /// touch table: a busy session must not grow the reply with every request).
    touches: BTreeMap<i64, i32>,
    out: Vec<Output>,
}

impl Learner {
    /// Connects to `leader` (the election result) and sends FOLLOWERINFO/OBSERVERINFO.
    pub fn new(
        cfg: ZabConfig,
        kind: LearnerKind,
        leader: Sid,
        durable: &DurableState,
        now_ms: u64,
    ) -> (Learner, Vec<Output>) {
        let info = LearnerInfo {
            serverid: cfg.my_sid as i64,
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version: cfg.config_version,
        };
        let zxid = make_zxid(durable.accepted_epoch, 0);
        let pkt = match kind {
            LearnerKind::Follower => ZabPacket::FollowerInfo { zxid, info },
            LearnerKind::Observer => ZabPacket::ObserverInfo { zxid, info },
        };
        let l = Learner {
            cfg,
            kind,
            leader,
            stage: Stage::AwaitLeaderInfo,
            now_ms,
            last_heard_ms: now_ms,
            accepted_epoch: durable.accepted_epoch,
            current_epoch: durable.current_epoch,
            new_epoch: 0,
            last_queued: durable.last_zxid,
            persisted: durable.last_zxid,
            newleader_received: false,
            newleader_acked: false,
            uncommitted: VecDeque::new(),
            to_apply: Vec::new(),
            unacked: VecDeque::new(),
            touches: BTreeMap::new(),
            out: Vec::new(),
        };
        (l, vec![Output::Send { to: leader, pkt }])
    }

    pub fn leader(&self) -> Sid {
        self.leader
    }

    pub fn is_serving(&self) -> bool {
        self.stage == Stage::Serving
    }

    /// Records client activity on a session; reported to the leader in the next PING reply.
    pub fn touch_session(&mut self, session_id: i64, timeout: i32) {
        self.touches.insert(session_id, timeout);
    }

    /// Forwards a client request to the leader.
    pub fn forward_request(
        &mut self,
        session_id: i64,
        cxid: i32,
        kind: i32,
        request: Bytes,
        authinfo: Vec<Id>,
    ) -> Vec<Output> {
        let pkt = ZabPacket::Request {
            session_id,
            cxid,
            kind,
            request,
            authinfo,
        };
        vec![Output::Send {
            to: self.leader,
            pkt,
        }]
    }

    /// Asks the leader whether a reconnecting session is still valid.
    pub fn revalidate(&mut self, session_id: i64, timeout: i32) -> Vec<Output> {
        let pkt = ZabPacket::RevalidateRequest {
            session_id,
            timeout,
        };
        vec![Output::Send {
            to: self.leader,
            pkt,
        }]
    }

    /// Feeds one input; returns what to do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        if self.stage != Stage::Stopped {
            match input {
                Input::Packet { from, pkt } if from == self.leader => {
                    self.last_heard_ms = self.now_ms;
                    self.on_packet(pkt);
                }
                Input::Packet { .. } => {}
                Input::Persisted { zxid } => {
                    self.persisted = self.persisted.max(zxid);
                    self.flush_acks();
                }
                Input::Tick { now_ms } => self.on_tick(now_ms),
                Input::PeerDisconnected { sid } if sid == self.leader => {
                    self.step_down(StepDownReason::LeaderDisconnected)
                }
                Input::PeerDisconnected { .. } => {}
            }
        }
        std::mem::take(&mut self.out)
    }

    fn step_down(&mut self, reason: StepDownReason) {
        self.stage = Stage::Stopped;
        self.out.push(Output::StepDown { reason });
    }

    fn protocol(&mut self, what: String) {
        self.step_down(StepDownReason::Protocol(what));
    }

    fn send(&mut self, pkt: ZabPacket) {
        self.out.push(Output::Send {
            to: self.leader,
            pkt,
        });
    }

    fn on_tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        let limit = if self.stage == Stage::Serving {
            self.cfg.sync_ms()
        } else {
            self.cfg.init_ms()
        };
        if self.now_ms.saturating_sub(self.last_heard_ms) > limit {
            self.step_down(StepDownReason::LeaderTimeout);
        }
    }

    fn on_packet(&mut self, pkt: ZabPacket) {
        match pkt {
            ZabPacket::LeaderInfo {
                zxid,
                protocol_version,
            } => self.on_leader_info(zxid, protocol_version),
            ZabPacket::Diff { .. } if self.stage == Stage::AwaitSyncMode => {
                self.stage = Stage::Syncing
            }
            ZabPacket::Trunc { zxid } if self.stage == Stage::AwaitSyncMode => {
                self.stage = Stage::Syncing;
                self.out.push(Output::Truncate { zxid });
                self.last_queued = zxid;
                self.persisted = zxid;
            }
            ZabPacket::Snap { zxid } if self.stage == Stage::AwaitSyncMode => {
                self.stage = Stage::Syncing;
                self.out.push(Output::LoadSnapshot { zxid });
                self.last_queued = zxid;
                self.persisted = zxid;
            }
            ZabPacket::Proposal { zxid, txn }
                if self.kind == LearnerKind::Follower || self.stage < Stage::AwaitUpToDate =>
            {
                self.on_proposal(zxid, txn)
            }
            ZabPacket::Commit { zxid } => self.on_commit(zxid),
            ZabPacket::Inform { zxid, txn } if self.kind == LearnerKind::Observer => {
                self.on_inform(zxid, txn)
            }
            ZabPacket::CommitAndActivate { zxid, leader_sid } => {
                self.on_commit(zxid);
                self.activated(zxid, leader_sid);
            }
            ZabPacket::InformAndActivate {
                zxid,
                leader_sid,
                txn,
            } if self.kind == LearnerKind::Observer => {
                self.on_inform(zxid, txn);
                self.activated(zxid, leader_sid);
            }
            ZabPacket::NewLeader { zxid, .. } if self.stage == Stage::Syncing => {
                if epoch_of(zxid) != self.new_epoch {
                    return self.protocol(format!(
                        "NEWLEADER for epoch {} during {}",
                        epoch_of(zxid),
                        self.new_epoch
                    ));
                }
                self.stage = Stage::AwaitUpToDate;
                self.newleader_received = true;
                self.flush_acks();
            }
            ZabPacket::UpToDate if self.stage == Stage::AwaitUpToDate && self.newleader_acked => {
                self.stage = Stage::Serving;
                for (zxid, txn) in std::mem::take(&mut self.to_apply) {
                    self.out.push(Output::ApplyCommitted { zxid, txn });
                }
                self.out.push(Output::Serving);
                self.send(ZabPacket::Ack {
                    zxid: make_zxid(self.new_epoch, 0),
                });
            }
            ZabPacket::Ping { zxid, .. } if self.stage >= Stage::AwaitUpToDate => {
                let sessions = std::mem::take(&mut self.touches).into_iter().collect();
                self.send(ZabPacket::Ping { zxid, sessions });
            }
            ZabPacket::Sync if self.stage == Stage::Serving => self.out.push(Output::SyncDone),
            ZabPacket::RevalidateReply { session_id, valid } => self
                .out
                .push(Output::RevalidateResult { session_id, valid }),
            other => self.protocol(format!(
                "unexpected packet type {} in {:?}",
                other.kind(),
                self.stage
            )),
        }
    }

    fn on_leader_info(&mut self, zxid: i64, protocol_version: i32) {
        if self.stage != Stage::AwaitLeaderInfo {
            return self.protocol("LEADERINFO twice".into());
        }
        if protocol_version < ZAB_PROTOCOL_VERSION {
            return self.protocol(format!("leader speaks protocol {protocol_version:#x}"));
        }
        let proposed = epoch_of(zxid);
        let current_epoch = if proposed > self.accepted_epoch {
            self.accepted_epoch = proposed;
            self.out.push(Output::WriteAcceptedEpoch(proposed));
            self.current_epoch as i32
        } else if proposed == self.accepted_epoch {
            -1
        } else {
            return self.step_down(StepDownReason::EpochTooOld {
                proposed,
                accepted: self.accepted_epoch,
            });
        };
        self.new_epoch = proposed;
        self.stage = Stage::AwaitSyncMode;
        self.send(ZabPacket::AckEpoch {
            zxid: self.last_queued,
            current_epoch,
        });
    }

    /// Logs a txn after checking it extends the log: zxids grow, are consecutive within an
    /// epoch, and a new epoch starts at counter 1.
    fn queue(&mut self, zxid: i64, txn: &Bytes) -> bool {
        let last = self.last_queued;
        // Every epoch's txns are numbered from 1 without gaps in any history.
        let ok = zxid > last
            && if epoch_of(zxid) == epoch_of(last) {
                zxid == last + 1
            } else {
                counter_of(zxid) == 1
            };
        if !ok {
            self.protocol(format!("txn {zxid:#x} does not follow {last:#x}"));
            return false;
        }
        self.last_queued = zxid;
        self.out.push(Output::Persist {
            zxid,
            txn: txn.clone(),
        });
        true
    }

    fn on_proposal(&mut self, zxid: i64, txn: Bytes) {
        if self.stage < Stage::Syncing {
            return self.protocol("PROPOSAL before the sync mode".into());
        }
        if !self.queue(zxid, &txn) {
            return;
        }
        self.uncommitted.push_back((zxid, txn));
        if self.kind == LearnerKind::Follower {
            self.unacked.push_back(zxid);
        }
    }

    fn on_commit(&mut self, zxid: i64) {
        match self.uncommitted.front() {
            Some((z, _)) if *z == zxid => {}
            other => {
                let next = other.map(|(z, _)| *z);
                return self.protocol(format!("COMMIT {zxid:#x} but next pending is {next:?}"));
            }
        }
        if let Some((zxid, txn)) = self.uncommitted.pop_front() {
            self.commit(zxid, txn);
        }
    }

    fn on_inform(&mut self, zxid: i64, txn: Bytes) {
        if self.stage < Stage::Syncing {
            return self.protocol("INFORM before the sync mode".into());
        }
        if self.queue(zxid, &txn) {
            self.commit(zxid, txn);
        }
    }

    /// A reconfig committed: once it is applied, the driver switches configs and checks
    /// whether this server keeps its role (during sync the config comes with the tree).
    fn activated(&mut self, zxid: i64, leader_sid: i64) {
        if self.stage == Stage::Serving {
            self.out.push(Output::Reconfigured {
                zxid,
                leader: leader_sid as Sid,
            });
        }
    }

    fn commit(&mut self, zxid: i64, txn: Bytes) {
        if self.stage == Stage::Serving {
            self.out.push(Output::ApplyCommitted { zxid, txn });
        } else {
            self.to_apply.push((zxid, txn));
        }
    }

    /// Acks NEWLEADER once every sync txn is durable, then proposals as they become durable.
    fn flush_acks(&mut self) {
        if !self.newleader_received || self.stage == Stage::Stopped {
            return;
        }
        if !self.newleader_acked {
            if self.persisted < self.last_queued {
                return;
            }
            self.newleader_acked = true;
            if self.new_epoch > self.current_epoch {
                self.current_epoch = self.new_epoch;
                self.out.push(Output::WriteCurrentEpoch(self.new_epoch));
            }
            self.send(ZabPacket::Ack {
                zxid: make_zxid(self.new_epoch, 0),
            });
        }
        while let Some(z) = self.unacked.front().copied() {
            if z > self.persisted {
                break;
            }
            self.unacked.pop_front();
            self.send(ZabPacket::Ack { zxid: z });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn cfg() -> ZabConfig {
        ZabConfig {
            my_sid: 2,
            voters: BTreeSet::from([1, 2, 3]),
            observers: BTreeSet::new(),
            tick_ms: 10,
            init_limit: 10,
            sync_limit: 5,
            commit_log_count: 10,
            config_version: 0,
            config_text: Bytes::new(),
        }
    }

    fn pkt(l: &mut Learner, p: ZabPacket) -> Vec<Output> {
        l.handle(Input::Packet { from: 1, pkt: p })
    }

    #[test]
    fn ping_reply_reports_each_touched_session_once() {
        let mut l = synced_follower();
        for _ in 0..1000 {
            l.touch_session(7, 4000);
        }
        l.touch_session(9, 6000);
        let out = pkt(
            &mut l,
            ZabPacket::Ping {
                zxid: 0,
                sessions: vec![],
            },
        );
        let sent = out.iter().find_map(|o| match o {
            Output::Send {
                pkt: ZabPacket::Ping { sessions, .. },
                ..
            } => Some(sessions.clone()),
            _ => None,
        });
        assert_eq!(sent, Some(vec![(7, 4000), (9, 6000)]));
        let out = pkt(
            &mut l,
            ZabPacket::Ping {
                zxid: 0,
                sessions: vec![],
            },
        );
        assert!(
            out.iter().any(|o| matches!(
                o,
                Output::Send { pkt: ZabPacket::Ping { sessions, .. }, .. } if sessions.is_empty()
            )),
            "touches are reported once: {out:?}"
        );
    }

    fn synced_follower() -> Learner {
        let durable = DurableState {
            accepted_epoch: 1,
            current_epoch: 1,
            last_zxid: make_zxid(1, 3),
            recent: vec![],
        };
        let (mut l, out) = Learner::new(cfg(), LearnerKind::Follower, 1, &durable, 0);
        assert!(matches!(
            &out[0],
            Output::Send {
                to: 1,
                pkt: ZabPacket::FollowerInfo { .. }
            }
        ));
        let out = pkt(
            &mut l,
            ZabPacket::LeaderInfo {
                zxid: make_zxid(2, 0),
                protocol_version: ZAB_PROTOCOL_VERSION,
            },
        );
        assert_eq!(out[0], Output::WriteAcceptedEpoch(2));
        assert!(matches!(
            &out[1],
            Output::Send {
                pkt: ZabPacket::AckEpoch {
                    current_epoch: 1,
                    ..
                },
                ..
            }
        ));
        pkt(
            &mut l,
            ZabPacket::Diff {
                zxid: make_zxid(1, 3),
            },
        );
        let out = pkt(
            &mut l,
            ZabPacket::NewLeader {
                zxid: make_zxid(2, 0),
                config: Bytes::new(),
            },
        );
        assert_eq!(out[0], Output::WriteCurrentEpoch(2));
        let out = pkt(&mut l, ZabPacket::UpToDate);
        assert!(out.contains(&Output::Serving));
        l
    }

    #[test]
    fn acks_a_proposal_only_after_it_is_persisted() {
        let mut l = synced_follower();
        let z = make_zxid(2, 1);
        let out = pkt(
            &mut l,
            ZabPacket::Proposal {
                zxid: z,
                txn: Bytes::from_static(b"a"),
            },
        );
        assert_eq!(
            out,
            vec![Output::Persist {
                zxid: z,
                txn: Bytes::from_static(b"a")
            }]
        );
        let out = l.handle(Input::Persisted { zxid: z });
        assert_eq!(
            out,
            vec![Output::Send {
                to: 1,
                pkt: ZabPacket::Ack { zxid: z }
            }]
        );
        let out = pkt(&mut l, ZabPacket::Commit { zxid: z });
        assert_eq!(
            out,
            vec![Output::ApplyCommitted {
                zxid: z,
                txn: Bytes::from_static(b"a")
            }]
        );
    }

    #[test]
    fn gaps_and_out_of_order_commits_end_the_role() {
        let mut l = synced_follower();
        let out = pkt(
            &mut l,
            ZabPacket::Proposal {
                zxid: make_zxid(2, 2),
                txn: Bytes::new(),
            },
        );
        assert!(matches!(
            out[0],
            Output::StepDown {
                reason: StepDownReason::Protocol(_)
            }
        ));
        let mut l = synced_follower();
        pkt(
            &mut l,
            ZabPacket::Proposal {
                zxid: make_zxid(2, 1),
                txn: Bytes::new(),
            },
        );
        let out = pkt(
            &mut l,
            ZabPacket::Commit {
                zxid: make_zxid(2, 5),
            },
        );
        assert!(matches!(
            out[0],
            Output::StepDown {
                reason: StepDownReason::Protocol(_)
            }
        ));
    }

    #[test]
    fn refuses_an_older_epoch_and_times_out() {
        let durable = DurableState {
            accepted_epoch: 5,
            current_epoch: 4,
            last_zxid: 0,
            recent: vec![],
        };
        let (mut l, _) = Learner::new(cfg(), LearnerKind::Follower, 1, &durable, 0);
        let out = pkt(
            &mut l,
            ZabPacket::LeaderInfo {
                zxid: make_zxid(3, 0),
                protocol_version: ZAB_PROTOCOL_VERSION,
            },
        );
        assert!(matches!(
            out[0],
            Output::StepDown {
                reason: StepDownReason::EpochTooOld {
                    proposed: 3,
                    accepted: 5
                }
            }
        ));
        let (mut l, _) = Learner::new(cfg(), LearnerKind::Follower, 1, &durable, 0);
        assert!(l.handle(Input::Tick { now_ms: 100 }).is_empty());
        let out = l.handle(Input::Tick { now_ms: 101 });
        assert_eq!(
            out,
            vec![Output::StepDown {
                reason: StepDownReason::LeaderTimeout
            }]
        );
    }
}
