//! Carrying out what the Zab role asks for, feeding it what the sockets, the log and the
//! clock report, and the role-specific halves of the request path (propose at the leader,
//! forward at a learner).

use std::collections::VecDeque;

use bytes::Bytes;
use tracing::{error, info, warn};

use super::{write_epoch, NextRole, PendingSync, Role, ACCEPTED_EPOCH, CURRENT_EPOCH};
use crate::net::ConnId;
use crate::proto::codes::op;
use crate::proto::txn::Txn;
use crate::quorum::transport::PeerEvent;
use crate::quorum::zab::{
    make_zxid, Input, LearnerKind, NewMembers, Output, StepDownReason, ZabError,
};
use crate::server::core::{Core, Deferred, Origin};

impl Core {
    /// Feeds an input to the current Zab role and carries out its outputs.
    pub(in crate::server) fn zab_input(&mut self, input: Input) {
        let outs = match &mut self.role {
            Role::Leader(l) => l.zab.handle(input),
            Role::Learner(l) => l.zab.handle(input),
            _ => return,
        };
        self.run_outputs(outs);
    }

    pub(in crate::server) fn quorum_tick(&mut self) {
        let now_ms = self.now();
        self.zab_input(Input::Tick { now_ms });
    }

    pub(in crate::server) fn on_peer_event(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::LearnerConnected {
                sid,
                conn,
                out,
                first,
            } => {
                let Role::Leader(l) = &mut self.role else {
                    out.close();
                    return;
                };
                if let Some(old) = l.peers.insert(sid, out) {
                    if old.conn() != conn {
                        old.close();
                    }
                }
                self.zab_input(Input::Packet {
                    from: sid,
                    pkt: first,
                });
            }
            PeerEvent::Packet { sid, conn, pkt } => {
                let current = match &self.role {
                    Role::Leader(l) => l.peers.get(&sid).is_some_and(|p| p.conn() == conn),
                    Role::Learner(l) => l.leader_sid == sid && l.leader.conn() == conn,
                    _ => false,
                };
                if current {
                    self.count_learner_packet(&pkt);
                    self.zab_input(Input::Packet { from: sid, pkt });
                }
            }
            PeerEvent::Snapshot {
                sid,
                conn,
                zxid,
                sessions,
                tree,
            } => {
                let Role::Learner(l) = &mut self.role else {
                    return;
                };
                if l.leader_sid != sid || l.leader.conn() != conn {
                    return;
                }
                if l.awaiting_snapshot.take() != Some(zxid) {
                    warn!("unexpected snapshot 0x{zxid:x} from the leader");
                }
                self.install_snapshot(zxid, sessions, tree);
            }
            PeerEvent::Disconnected { sid, conn } => {
                let current = match &mut self.role {
                    Role::Leader(l) => {
                        let cur = l.peers.get(&sid).is_some_and(|p| p.conn() == conn);
                        if cur {
                            l.peers.remove(&sid);
                        }
                        cur
                    }
                    Role::Learner(l) => l.leader_sid == sid && l.leader.conn() == conn,
                    _ => false,
                };
                if current {
                    self.zab_input(Input::PeerDisconnected { sid });
                }
            }
        }
    }

    /// Carries out outputs in order (an output may produce more).
    pub(in crate::server) fn run_outputs(&mut self, outs: Vec<Output>) {
        let mut queue: VecDeque<Output> = outs.into();
        while let Some(o) = queue.pop_front() {
            let more = self.run_output(o);
            for m in more.into_iter().rev() {
                queue.push_front(m);
            }
        }
    }

    fn run_output(&mut self, o: Output) -> Vec<Output> {
        match o {
            Output::Send { to, pkt } => {
                self.note_sync_start(to, &pkt);
                match &self.role {
                    Role::Leader(l) => {
                        if let Some(p) = l.peers.get(&to) {
                            p.send_deferred(&pkt);
                        }
                    }
                    Role::Learner(l) => l.leader.send_deferred(&pkt),
                    _ => {}
                }
                Vec::new()
            }
            Output::Disconnect { sid } => {
                if let Role::Leader(l) = &mut self.role {
                    if let Some(p) = l.peers.remove(&sid) {
                        p.flush();
                        p.close();
                    }
                }
                Vec::new()
            }
            Output::Persist { zxid, txn } => {
                if matches!(self.role, Role::Learner(_)) {
                    self.note_proposed_config(&txn);
                }
                self.log_submit(zxid, txn.to_vec());
                Vec::new()
            }
            Output::Truncate { zxid } => {
                info!("TRUNC to 0x{zxid:x}");
                if let Err(e) = self.reopen_log(Some(zxid)) {
                    error!("cannot truncate the log to 0x{zxid:x}: {e}; exiting");
                    std::process::exit(3);
                }
                Vec::new()
            }
            Output::SendSnapshot { to, zxid } => {
                if self.tree.last_processed_zxid() != zxid {
                    warn!(
                        "snapshot for {to} asked at 0x{zxid:x}, tree is at 0x{:x}",
                        self.tree.last_processed_zxid()
                    );
                }
                if let Role::Leader(l) = &self.role {
                    if let Some(p) = l.peers.get(&to) {
                        p.send_snapshot(self.sessions.snapshot(), self.tree.clone());
                    }
                }
                Vec::new()
            }
            Output::LoadSnapshot { zxid } => {
                if let Role::Learner(l) = &mut self.role {
                    l.awaiting_snapshot = Some(zxid);
                }
                Vec::new()
            }
            Output::ApplyCommitted { zxid, txn } => {
                self.apply_committed(zxid, txn);
                Vec::new()
            }
            Output::WriteAcceptedEpoch(e) => {
                self.persist_epoch(ACCEPTED_EPOCH, e);
                Vec::new()
            }
            Output::WriteCurrentEpoch(e) => {
                self.persist_epoch(CURRENT_EPOCH, e);
                Vec::new()
            }
            Output::Serving => {
                self.start_serving();
                Vec::new()
            }
            Output::StepDown { reason } => {
                let next = match reason {
                    StepDownReason::Reconfigured { successor } => self.role_under(successor),
                    _ => NextRole::Look,
                };
                self.end_role_then(&format!("{reason:?}"), next);
                Vec::new()
            }
            Output::ForwardedRequest {
                from,
                session_id,
                cxid,
                kind,
                request,
                authinfo,
            } => self.on_forwarded(from, session_id, cxid, kind, request, authinfo),
            Output::TouchSessions { sessions, .. } => {
                let now = self.now();
                for (id, _) in sessions {
                    self.sessions.touch(id, now);
                }
                Vec::new()
            }
            Output::RevalidateSession {
                from,
                session_id,
                timeout: _,
            } => {
                crate::metrics::metrics().revalidate_count.inc();
                let valid = self.sessions.touch(session_id, self.now());
                match &mut self.role {
                    Role::Leader(l) => l
                        .zab
                        .revalidate_reply(from, session_id, valid)
                        .unwrap_or_default(),
                    _ => Vec::new(),
                }
            }
            Output::RevalidateResult { session_id, valid } => {
                self.finish_revalidation(session_id, valid);
                Vec::new()
            }
            Output::SyncDone => {
                self.finish_forwarded_sync();
                Vec::new()
            }
            Output::ReadRoundConfirmed { round } => {
                self.on_read_round_confirmed(round);
                Vec::new()
            }
            Output::Reconfigured { zxid, leader } => {
                self.on_reconfigured(zxid, leader);
                Vec::new()
            }
        }
    }

    /// Synced learner: counts the PROPOSALs and COMMITs/INFORMs it receives, as Apache's
    /// Follower and Observer do once past the sync (reconfig's *ANDACTIVATE not included).
    fn count_learner_packet(&self, pkt: &crate::proto::quorum::ZabPacket) {
        use crate::proto::quorum::ZabPacket;
        let Role::Learner(l) = &self.role else {
            return;
        };
        if !l.serving {
            return;
        }
        let m = crate::metrics::metrics();
        match (pkt, l.kind) {
            (ZabPacket::Proposal { .. }, LearnerKind::Follower) => {
                m.learner_proposal_received_count.inc()
            }
            (ZabPacket::Commit { .. }, LearnerKind::Follower)
            | (ZabPacket::Inform { .. }, LearnerKind::Observer) => {
                m.learner_commit_received_count.inc()
            }
            _ => {}
        }
    }

    /// Leader: one log line (and a counter) per learner sync, as it starts.
    fn note_sync_start(&self, to: u64, pkt: &crate::proto::quorum::ZabPacket) {
        use crate::proto::quorum::ZabPacket;
        if !matches!(self.role, Role::Leader(_)) {
            return;
        }
        let m = crate::metrics::metrics();
        match pkt {
            ZabPacket::Diff { zxid } => {
                m.diff_count.inc();
                info!("sync of learner {to}: DIFF from 0x{zxid:x}");
            }
            ZabPacket::Trunc { zxid } => info!("sync of learner {to}: TRUNC to 0x{zxid:x}"),
            ZabPacket::Snap { zxid } => {
                m.snap_count.inc();
                info!(
                    "sync of learner {to}: SNAP at 0x{zxid:x} ({} nodes, ~{} bytes)",
                    self.tree.node_count(),
                    self.tree.approximate_data_size()
                );
            }
            _ => {}
        }
    }

    fn persist_epoch(&mut self, name: &str, e: u32) {
        if let Err(err) = write_epoch(&self.cfg.data_dir, name, e) {
            error!("cannot write {name}: {err}; exiting");
            std::process::exit(3);
        }
        if let Some(q) = self.quorum.as_mut() {
            if name == ACCEPTED_EPOCH {
                q.accepted_epoch = e;
            } else {
                q.current_epoch = e;
            }
        }
    }

    fn start_serving(&mut self) {
        self.end_read_only();
        // A sync may have brought reconfigs this server missed.
        self.adopt_config_from_tree();
        let now = self.now();
        match &mut self.role {
            Role::Leader(l) => {
                l.serving = true;
                l.serving_since = Some(std::time::Instant::now());
                self.last_assigned_zxid = make_zxid(l.zab.epoch(), 0);
                // The leader now owns session expiry: every known session gets a fresh lease.
                for (id, t) in self.sessions.snapshot() {
                    self.sessions.add(id, t, now);
                }
                info!("leader serving, epoch {}", l.zab.epoch());
            }
            Role::Learner(l) => {
                l.serving = true;
                let ms = l.started.elapsed().as_secs_f64() * 1000.0;
                let m = crate::metrics::metrics();
                match l.kind {
                    LearnerKind::Follower => m.follower_sync_time.observe(ms),
                    LearnerKind::Observer => m.observer_sync_time.observe(ms),
                }
                info!(
                    "{:?} synced with leader {} in {ms:.1} ms; serving at zxid 0x{:x}",
                    l.kind,
                    l.leader_sid,
                    self.tree.last_processed_zxid()
                );
            }
            _ => {}
        }
    }

    /// Leader: proposes a prepared txn; replies come when it commits.
    pub(in crate::server) fn propose(&mut self, txn: Txn, origin: Origin, session: i64) {
        self.propose_with(txn, origin, session, None);
    }

    /// Leader: proposes a txn; `members` makes it a reconfig to that membership.
    pub(in crate::server) fn propose_with(
        &mut self,
        txn: Txn,
        origin: Origin,
        session: i64,
        members: Option<NewMembers>,
    ) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let zxid = txn.hdr.zxid;
        let bytes = Bytes::from(txn.encode());
        let make = |z| {
            debug_assert_eq!(z, zxid);
            bytes
        };
        let proposed = match members {
            Some(m) => l.zab.propose_reconfig(make, m),
            None => l.zab.propose(make),
        };
        match proposed {
            Ok((z, outs)) => {
                crate::metrics::metrics().proposal_count.inc();
                if z != zxid {
                    error!("zab assigned 0x{z:x} to a txn prepared as 0x{zxid:x}");
                    self.end_role("zxid mismatch");
                    return;
                }
                if session != 0 && !matches!(origin, Origin::Remote) {
                    self.queues
                        .entry(session)
                        .or_default()
                        .push_back(Deferred::Write(zxid));
                }
                self.inflight.push_back(crate::server::core::Inflight {
                    txn,
                    origin,
                    submitted: std::time::Instant::now(),
                });
                self.run_outputs(outs);
            }
            Err(ZabError::ZxidExhausted(e)) => {
                info!("zxid counter exhausted in epoch {e}: forcing an election");
                self.end_role("zxid exhausted");
            }
            Err(e) => warn!("cannot propose: {e}"),
        }
    }

    /// Applies a committed txn from Zab; answers whoever waits for it here.
    fn apply_committed(&mut self, zxid: i64, bytes: Bytes) {
        if matches!(self.role, Role::Leader(_)) {
            let front = self.inflight.front().map(|i| i.txn.hdr.zxid);
            if front == Some(zxid) {
                if let Some(inf) = self.inflight.pop_front() {
                    let m = crate::metrics::metrics();
                    // One of our proposals committed (Apache's Leader.commit).
                    m.commit_count.inc();
                    m.quorum_ack_latency
                        .observe(inf.submitted.elapsed().as_secs_f64() * 1000.0);
                    // Commit to applied-and-answered, on the leader.
                    let applying = std::time::Instant::now();
                    self.apply_txn(inf.txn, inf.origin);
                    m.write_final_proc_time_ms
                        .observe(applying.elapsed().as_secs_f64() * 1000.0);
                }
            } else {
                // Committed from an earlier epoch's log during sync: nobody waits here.
                match Txn::decode(bytes) {
                    Ok(t) => self.apply_txn(t, Origin::Server),
                    Err(e) => error!("undecodable committed txn 0x{zxid:x}: {e}"),
                }
            }
            self.answer_leader_syncs();
            return;
        }
        let txn = match Txn::decode(bytes) {
            Ok(t) => t,
            Err(e) => {
                error!("undecodable committed txn 0x{zxid:x}: {e}");
                self.end_role("undecodable txn");
                return;
            }
        };
        crate::metrics::metrics()
            .commit_propagation_latency
            .observe_since_wall(txn.hdr.time, crate::server::core::wall_ms());
        let key = (txn.hdr.client_id, txn.hdr.cxid);
        let origin = self.forwarded.remove(&key).unwrap_or(Origin::Server);
        self.apply_txn(txn, origin);
    }

    /// Leader: a learner forwarded a client request.
    #[allow(clippy::too_many_arguments)]
    fn on_forwarded(
        &mut self,
        from: u64,
        session: i64,
        cxid: i32,
        kind: i32,
        request: Bytes,
        authinfo: Vec<crate::proto::records::Id>,
    ) -> Vec<Output> {
        match kind {
            op::SYNC => {
                // The packet came on the learner's current connection: its answer must go
                // back on that one or nowhere.
                let linearizable = self.linearizable();
                let applied = self.tree.last_processed_zxid();
                let Role::Leader(l) = &mut self.role else {
                    return Vec::new();
                };
                let Some(conn) = l.peers.get(&from).map(|p| p.conn()) else {
                    return Vec::new();
                };
                if linearizable {
                    self.leader_sync_barrier(from, conn);
                    return Vec::new();
                }
                // Everything proposed so far; at a new leader that is the log it started
                // with (already applied) until the epoch's first proposal.
                let last = l.zab.last_proposed();
                if applied >= last && l.syncs.is_empty() {
                    return l.zab.sync_reply(from).unwrap_or_default();
                }
                l.syncs.push_back((last, from, conn));
                Vec::new()
            }
            op::CREATE_SESSION => {
                let timeout = if request.len() >= 4 {
                    i32::from_be_bytes([request[0], request[1], request[2], request[3]])
                } else {
                    self.cfg.min_session_timeout
                };
                let timeout =
                    timeout.clamp(self.cfg.min_session_timeout, self.cfg.max_session_timeout);
                self.sessions.add(session, timeout, self.now());
                self.submit_create_session(session, timeout, Origin::Remote);
                Vec::new()
            }
            op::CLOSE_SESSION => {
                self.submit_close_session(session, Origin::Remote, cxid);
                Vec::new()
            }
            _ => {
                let auth = crate::auth::AuthInfo { ids: authinfo };
                self.submit_write_as(&auth, session, cxid, kind, request, Origin::Remote);
                Vec::new()
            }
        }
    }

    fn answer_leader_syncs(&mut self) {
        let applied = self.tree.last_processed_zxid();
        let mut ready = Vec::new();
        if let Role::Leader(l) = &mut self.role {
            while l.syncs.front().is_some_and(|(z, _, _)| *z <= applied) {
                if let Some((_, sid, conn)) = l.syncs.pop_front() {
                    ready.push((sid, conn));
                }
            }
        }
        for (sid, conn) in ready {
            self.answer_learner_sync(sid, conn);
        }
        if self.linearizable() {
            self.release_leader_reads();
        }
    }

    /// Leader: answers a learner's SYNC that arrived on connection `conn`. If the learner
    /// has reconnected since, the answer is dropped: its new role has SYNCs of its own,
    /// paired with answers in order, and this one would answer one of them too early.
    pub(in crate::server) fn answer_learner_sync(&mut self, sid: u64, conn: u64) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if l.peers.get(&sid).is_none_or(|p| p.conn() != conn) {
            return;
        }
        let outs = l.zab.sync_reply(sid).unwrap_or_default();
        self.run_outputs(outs);
    }

    /// Learner: sends a client's write (or sync, or session change) to the leader.
    pub(in crate::server) fn forward(
        &mut self,
        session: i64,
        cxid: i32,
        kind: i32,
        body: Bytes,
        origin: Origin,
    ) {
        let auth = match &origin {
            Origin::Client { conn, .. } | Origin::Connect { conn, .. } => self
                .conns
                .get(conn)
                .map(|c| c.auth.ids.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let Role::Learner(l) = &mut self.role else {
            return;
        };
        let outs = l.zab.forward_request(session, cxid, kind, body, auth);
        if session != 0 && kind != op::CREATE_SESSION {
            self.queues
                .entry(session)
                .or_default()
                .push_back(Deferred::Forwarded(cxid));
        }
        self.forwarded.insert((session, cxid), origin);
        self.run_outputs(outs);
    }

    /// Learner: a client's sync goes to the leader; the answer comes once every earlier
    /// commit has arrived here.
    pub(in crate::server) fn forward_sync(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        body: Bytes,
    ) {
        let Role::Learner(l) = &mut self.role else {
            return;
        };
        let outs = l
            .zab
            .forward_request(session, xid, op::SYNC, body.clone(), Vec::new());
        l.syncs.push_back(PendingSync {
            conn,
            xid,
            session,
            path: body.to_vec(),
            at: std::time::Instant::now(),
            barrier: None,
        });
        self.queues
            .entry(session)
            .or_default()
            .push_back(Deferred::Forwarded(xid));
        self.run_outputs(outs);
    }

    fn finish_forwarded_sync(&mut self) {
        let Role::Learner(l) = &mut self.role else {
            return;
        };
        let Some(s) = l.syncs.pop_front() else { return };
        if let Some(id) = s.barrier {
            self.finish_barrier(id);
            return;
        }
        let z = self.tree.last_processed_zxid();
        // The SyncResponse echoes the request's path record.
        self.reply(s.conn, s.xid, z, 0, &s.path);
        self.record_latency(s.conn, s.at, op::SYNC, false);
        self.run_deferred_after(s.session, Deferred::Forwarded(s.xid));
    }

    fn finish_revalidation(&mut self, session: i64, valid: bool) {
        let Some(Origin::Connect {
            conn,
            timeout,
            send_read_only,
            ..
        }) = self.forwarded.remove(&(session, i32::MIN))
        else {
            return;
        };
        if !self.conns.contains_key(&conn) {
            // The client gave up while the leader answered; nothing to bind or answer.
            return;
        }
        if valid {
            let now = self.now();
            // A session we track keeps its own timeout (the one its createSession logged).
            if !self.sessions.touch(session, now) {
                self.sessions.add(session, timeout, now);
            }
            self.bind_session(conn, session);
            self.send_connect_response(conn, session, timeout, send_read_only);
        } else {
            self.send_connect_response(conn, 0, 0, send_read_only);
            self.close_conn(conn);
        }
    }

    /// Learner: a reconnecting session is checked with the leader, which renews its lease.
    pub(in crate::server) fn revalidate(&mut self, session: i64, origin: Origin) {
        let timeout = match &origin {
            Origin::Connect { timeout, .. } => *timeout,
            _ => 0,
        };
        let Role::Learner(l) = &mut self.role else {
            return;
        };
        let outs = l.zab.revalidate(session, timeout);
        if let Some(Origin::Connect { conn: older, .. }) =
            self.forwarded.insert((session, i32::MIN), origin)
        {
            // The same session reconnected again meanwhile: the older attempt gets no answer.
            self.close_conn(older);
        }
        self.run_outputs(outs);
    }
}
