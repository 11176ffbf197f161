//! Arriving requests: the connect handshake, dispatch of reads and writes, and the txns the
//! server itself starts (session expiry, container and TTL reaping).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tracing::{debug, info, warn};

use super::core::{wall_ms, Conn, Core, Deferred, Inflight, Origin};
use super::stats::ConnStats;
use crate::auth::AuthInfo;
use crate::net::{ConnId, ConnOut};
use crate::pipeline::pending::Overlay;
use crate::pipeline::prep::{is_write, prep_write, PrepContext};
use crate::pipeline::reads::{self, ReadContext};
use crate::proto::codes::{op, xid, EphemeralKind};
use crate::proto::jute::{Jute, JuteReader, JuteWrite};
use crate::proto::records::{AuthPacket, ConnectRequestFixed, ConnectResponseFixed, WatcherEvent};
use crate::proto::txn::{
    CloseSessionTxn, CreateSessionTxn, DeleteTxn, ErrorTxn, Txn, TxnBody, TxnHeader,
};
use crate::proto::ErrorCode;
use crate::session::session_password;

impl Core {
    pub(super) fn on_connect(
        &mut self,
        conn: ConnId,
        req: ConnectRequestFixed,
        read_only: Option<bool>,
        remote: SocketAddr,
        out: ConnOut,
    ) {
        let send_read_only = read_only.is_some();
        self.stats.packets_received += 1;
        let mut stats = ConnStats::new(wall_ms());
        stats.packets_received = 1;
        self.conns.insert(
            conn,
            Conn {
                out,
                session: 0,
                auth: AuthInfo::for_address(remote.ip()),
                remote,
                stats,
                outbuf: Vec::new(),
            },
        );
        if !self.role.serving() {
            if read_only == Some(true) && self.read_only_mode() {
                self.accept_read_only(conn, &req, remote);
                return;
            }
            // Not serving (looking for a leader, or syncing): the client tries another server.
            debug!("closing connection from {remote}: not serving");
            self.close_conn(conn);
            return;
        }
        if matches!(self.role, super::ensemble::Role::Leader(_))
            && !self.cfg.server_config.leader_serves
        {
            // leaderServes=no: the leader keeps its cycles for the quorum.
            debug!("closing connection from {remote}: the leader does not serve clients");
            self.close_conn(conn);
            return;
        }
        crate::metrics::metrics().connection_request_count.inc();
        let last = self.tree.last_processed_zxid();
        if req.last_zxid_seen > last {
            // The client has seen a newer state than ours: refuse so it tries another server.
            info!(
                "Refusing session request for client {remote} as it has seen zxid 0x{:x} our last zxid is 0x{:x}",
                req.last_zxid_seen, last
            );
            self.close_conn(conn);
            return;
        }
        let timeout = req
            .time_out
            .clamp(self.cfg.min_session_timeout, self.cfg.max_session_timeout);
        let origin = Origin::Connect {
            conn,
            timeout,
            send_read_only,
            at: Instant::now(),
        };
        let learner = matches!(self.role, super::ensemble::Role::Learner(_));
        if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            self.bind(conn, id);
            if learner {
                // The leader creates global sessions; our ConnectResponse waits for the commit.
                let body = Bytes::copy_from_slice(&timeout.to_be_bytes());
                self.forward(id, 0, op::CREATE_SESSION, body, origin);
            } else {
                self.sessions.add(id, timeout, self.now());
                self.submit_create_session(id, timeout, origin);
            }
            return;
        }
        let id = req.session_id;
        crate::metrics::metrics().connection_revalidate_count.inc();
        let passwd_ok = req.passwd.as_deref() == Some(&session_password(id)[..]);
        if passwd_ok && learner {
            // The leader owns expiry, so it decides, and its check renews the lease (Apache's
            // learners revalidate every reconnect too). Answering from our own table would
            // leave the leader's deadline where it was until our next ping reply, which is
            // too late for a client that got here shortly before it, or never comes if the
            // client stays quiet: the session would expire right after we accepted it.
            self.revalidate(id, origin);
            return;
        }
        if !passwd_ok || !self.sessions.is_active(id) {
            info!("Invalid session 0x{id:x} for client {remote}, probably expired");
            self.send_connect_response(conn, 0, 0, send_read_only);
            self.close_conn(conn);
            return;
        }
        if let Some(old) = self.session_conn.get(&id).copied() {
            if old != conn {
                self.close_conn(old);
            }
        }
        self.sessions.touch(id, self.now());
        self.bind(conn, id);
        self.send_connect_response(conn, id, timeout, send_read_only);
    }

    /// Binds a session to a connection, closing any other connection that held it.
    pub(super) fn bind_session(&mut self, conn: ConnId, session: i64) {
        if let Some(old) = self.session_conn.get(&session).copied() {
            if old != conn {
                self.close_conn(old);
            }
        }
        self.bind(conn, session);
    }

    /// Prepares and submits the createSession txn of a new session.
    pub(super) fn submit_create_session(&mut self, id: i64, timeout: i32, origin: Origin) {
        let txn = Txn {
            hdr: self.header(id, 0, op::CREATE_SESSION),
            body: TxnBody::CreateSession(CreateSessionTxn { time_out: timeout }),
            digest: None,
        };
        self.submit(txn, origin, id);
    }

    fn bind(&mut self, conn: ConnId, session: i64) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = session;
        }
        self.session_conn.insert(session, conn);
    }

    pub(super) fn send_connect_response(
        &mut self,
        conn: ConnId,
        session: i64,
        timeout: i32,
        send_read_only: bool,
    ) {
        let passwd = if session == 0 {
            [0u8; 16]
        } else {
            session_password(session)
        };
        let mut v = ConnectResponseFixed {
            protocol_version: 0,
            time_out: timeout,
            session_id: session,
            passwd: Some(Bytes::copy_from_slice(&passwd)),
        }
        .to_bytes();
        if send_read_only {
            v.put_bool_j(self.read_only_mode());
        }
        self.push_frame(conn, |out| out.extend_from_slice(&v));
    }

    pub(super) fn header(&mut self, session: i64, cxid: i32, kind: i32) -> TxnHeader {
        self.last_assigned_zxid += 1;
        TxnHeader {
            client_id: session,
            cxid,
            zxid: self.last_assigned_zxid,
            time: wall_ms(),
            kind,
        }
    }

    /// Hands a prepared txn on: to the log thread when standalone, to Zab as a proposal
    /// when leading; remembers who waits for it.
    pub(super) fn submit(&mut self, txn: Txn, origin: Origin, session: i64) {
        if matches!(self.role, super::ensemble::Role::Leader(_)) {
            self.propose(txn, origin, session);
            return;
        }
        let zxid = txn.hdr.zxid;
        self.log_submit(zxid, txn.encode());
        if session != 0 {
            self.queues
                .entry(session)
                .or_default()
                .push_back(Deferred::Write(zxid));
        }
        self.inflight.push_back(Inflight {
            txn,
            origin,
            submitted: Instant::now(),
        });
    }

    pub(super) fn on_request(&mut self, conn: ConnId, xid: i32, kind: i32, body: Bytes) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let session = c.session;
        if session == 0 {
            return;
        }
        c.stats.packets_received += 1;
        self.stats.packets_received += 1;
        if !self.sessions.touch(session, self.now()) {
            self.reply(
                conn,
                xid,
                self.tree.last_processed_zxid(),
                ErrorCode::SessionExpired.code(),
                &[],
            );
            return;
        }
        if self.read_only_sessions.contains(&session) {
            self.on_read_only_request(conn, session, xid, kind, body);
            return;
        }
        if let super::ensemble::Role::Learner(l) = &mut self.role {
            let timeout = self.sessions.get(session).map_or(0, |s| s.timeout_ms);
            l.zab.touch_session(session, timeout);
        }
        self.dispatch(conn, session, xid, kind, body, true);
    }

    /// Sends a request down its path: forwarded, proposed or logged, read now, or queued.
    /// `may_hold` is false when a held write is being released.
    pub(super) fn dispatch(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        kind: i32,
        body: Bytes,
        may_hold: bool,
    ) {
        let learner = matches!(self.role, super::ensemble::Role::Learner(_));
        let linearizable = self.linearizable();
        if linearizable
            && may_hold
            && (is_write(kind) || kind == op::CLOSE_SESSION)
            && self.must_hold(session)
        {
            self.queues
                .entry(session)
                .or_default()
                .push_back(Deferred::Held {
                    conn,
                    xid,
                    op: kind,
                    body,
                });
            return;
        }
        let origin = Origin::Client {
            conn,
            xid,
            op: kind,
            at: Instant::now(),
        };
        match kind {
            op::PING => {
                let z = self.tree.last_processed_zxid();
                self.reply(conn, xid::PING, z, 0, &[]);
            }
            op::AUTH => self.on_auth(conn, body),
            k if linearizable && super::linread::needs_barrier(k) => {
                self.read_behind_barrier(conn, session, xid, k, body)
            }
            op::SYNC if learner => self.forward_sync(conn, session, xid, body),
            k if learner && (is_write(k) || k == op::CLOSE_SESSION) => {
                self.forward(session, xid, k, body, origin)
            }
            op::CLOSE_SESSION => self.submit_close_session(
                session,
                Origin::Client {
                    conn,
                    xid,
                    op: kind,
                    at: Instant::now(),
                },
                xid,
            ),
            k if is_write(k) => {
                let Some(auth) = self.conns.get(&conn).map(|c| c.auth.clone()) else {
                    return;
                };
                self.submit_write_as(&auth, session, xid, k, body, origin)
            }
            k if reads::is_read(k) || k == op::SET_WATCHES || k == op::SET_WATCHES2 => {
                if self.queues.get(&session).is_some_and(|q| !q.is_empty()) {
                    self.queues
                        .entry(session)
                        .or_default()
                        .push_back(Deferred::Read {
                            conn,
                            xid,
                            op: k,
                            body,
                            at: Instant::now(),
                        });
                } else {
                    self.execute_read(conn, xid, k, body, Instant::now());
                }
            }
            k => {
                warn!("Received packet at server of unknown type {k}; closing the connection");
                self.reply(
                    conn,
                    xid,
                    self.tree.last_processed_zxid(),
                    ErrorCode::Unimplemented.code(),
                    &[],
                );
                self.close_conn(conn);
            }
        }
    }

    pub(super) fn on_auth(&mut self, conn: ConnId, body: Bytes) {
        let pkt = AuthPacket::read_from(&mut JuteReader::new(body));
        let super_digest = self.cfg.super_digest.clone();
        let z = self.tree.last_processed_zxid();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let remote = c.remote.ip();
        let res = match pkt {
            Ok(p) => c.auth.add_auth(
                &p.scheme,
                p.auth.as_deref().unwrap_or(&[]),
                remote,
                super_digest.as_deref(),
            ),
            Err(_) => Err(ErrorCode::AuthFailed),
        };
        match res {
            Ok(()) => self.reply(conn, xid::AUTH, z, 0, &[]),
            Err(e) => {
                warn!("Authentication failed for client {remote}");
                self.reply(conn, xid::AUTH, z, e.code(), &[]);
                self.close_conn(conn);
            }
        }
    }

    /// Preps a write with the given identities and submits its txn (an error txn if it
    /// fails, as Apache logs failed writes too).
    pub(super) fn submit_write_as(
        &mut self,
        auth: &AuthInfo,
        session: i64,
        cxid: i32,
        kind: i32,
        body: Bytes,
        origin: Origin,
    ) {
        let hdr = self.header(session, cxid, kind);
        let ctx = PrepContext {
            auth,
            session,
            zxid: hdr.zxid,
            time: hdr.time,
            extended_types_enabled: self.cfg.extended_types_enabled,
            max_buffer: self.cfg.max_buffer,
            enforce_quota: self.cfg.enforce_quota,
        };
        let mut reconfig = None;
        let mut ov = Overlay::new(&self.tree, &self.pending);
        let prepped = if kind == op::RECONFIG {
            self.prep_reconfig(auth, body, hdr.zxid)
                .map(|(txn, members, config)| {
                    reconfig = Some((members, config));
                    (TxnBody::SetData(txn), false)
                })
        } else {
            prep_write(kind, body, &ctx, &mut ov)
        };
        let (body, changes) = match prepped {
            Ok((b, true)) => (b, ov.into_changes()),
            Ok((b, false)) => (b, Vec::new()),
            Err(e) => {
                debug!("prep of {} failed: {e}", op::name(kind));
                (TxnBody::Error(ErrorTxn { err: e.code() }), Vec::new())
            }
        };
        for (p, m) in changes {
            self.pending.set(hdr.zxid, p, m);
        }
        let mut hdr = hdr;
        if matches!(body, TxnBody::Error(_)) {
            hdr.kind = op::ERROR;
        }
        let txn = Txn {
            hdr,
            body,
            digest: None,
        };
        match reconfig {
            Some((members, config)) if txn.hdr.kind == op::RECONFIG => {
                self.note_reconfig_proposed(config);
                self.propose_with(txn, origin, session, Some(members));
            }
            _ => self.submit(txn, origin, session),
        }
    }

    /// closeSession, from the client or from expiry: deletes the session's ephemerals,
    /// including those still pending.
    pub(super) fn submit_close_session(&mut self, session: i64, origin: Origin, cxid: i32) {
        self.sessions.set_closing(session);
        let hdr = self.header(session, cxid, op::CLOSE_SESSION);
        let mut paths: BTreeSet<String> = self.tree.ephemerals_of(session).into_iter().collect();
        for (p, m) in self.pending.iter() {
            match m {
                None => {
                    paths.remove(p);
                }
                Some(m)
                    if EphemeralKind::of(m.stat.ephemeral_owner)
                        == EphemeralKind::Normal(session) =>
                {
                    paths.insert(p.to_string());
                }
                Some(_) => {}
            }
        }
        for p in &paths {
            self.pending.delete_node(&self.tree, p, hdr.zxid);
        }
        let txn = Txn {
            hdr,
            body: TxnBody::CloseSession(CloseSessionTxn {
                paths_to_delete: Some(paths.into_iter().collect()),
            }),
            digest: None,
        };
        self.submit(txn, origin, session);
    }

    /// Answers a read (or setWatches) now; the session has no earlier writes outstanding.
    pub(super) fn execute_read(
        &mut self,
        conn: ConnId,
        xid: i32,
        kind: i32,
        body: Bytes,
        at: Instant,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let session = c.session;
        if self.session_conn.get(&session) != Some(&conn) {
            return;
        }
        let z = self.tree.last_processed_zxid();
        if kind == op::SET_WATCHES || kind == op::SET_WATCHES2 {
            let events = match reads::decode_set_watches(kind, body) {
                Ok(req) => {
                    let mut cx = ReadContext {
                        tree: &self.tree,
                        watches: &mut self.watches,
                        auth: &c.auth,
                        session,
                        max_buffer: self.cfg.max_buffer,
                    };
                    reads::set_watches(&req, &mut cx)
                }
                Err(e) => {
                    self.reply(conn, xid, z, e.code(), &[]);
                    return;
                }
            };
            for (ev, path) in events {
                self.notify(conn, ev, &path, -1);
            }
            self.reply(conn, xid, z, 0, &[]);
            return;
        }
        let mut cx = ReadContext {
            tree: &self.tree,
            watches: &mut self.watches,
            auth: &c.auth,
            session,
            max_buffer: self.cfg.max_buffer,
        };
        let res = reads::execute(kind, body, &mut cx);
        match res {
            Ok(b) => self.reply(conn, xid, z, 0, &b),
            Err(e) => self.reply(conn, xid, z, e.code(), &[]),
        }
        self.record_latency(conn, at, kind, false);
        self.note_op(conn, kind, xid, z);
    }

    pub(super) fn note_op(&mut self, conn: ConnId, kind: i32, cxid: i32, zxid: i64) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.last_op = crate::admin::last_op_name(kind);
            c.stats.last_cxid = cxid;
            c.stats.last_zxid = zxid;
            c.stats.last_response_wall_ms = wall_ms();
        }
    }

    /// Sends a watch notification (xid −1).
    pub(super) fn notify(&mut self, conn: ConnId, ev: i32, path: &str, zxid: i64) {
        let mut v = Vec::new();
        crate::proto::records::ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid,
            err: 0,
        }
        .write_to(&mut v);
        WatcherEvent {
            kind: ev,
            state: crate::proto::codes::state::SYNC_CONNECTED,
            path: path.to_string(),
        }
        .write_to(&mut v);
        if let Some(n) = self.send(conn, v) {
            crate::metrics::metrics().watch_bytes.inc_by(n as u64);
        }
    }

    /// Deletes empty containers and expired TTL nodes, as Apache's ContainerManager does.
    pub(super) fn reap_containers(&mut self) {
        if !self.owns_sessions() {
            return;
        }
        let mut candidates = self.tree.container_candidates();
        candidates.extend(self.tree.expired_ttl_nodes(wall_ms()));
        for path in candidates {
            // Only if still empty in the outstanding view (a create may be on its way).
            let Some(meta) = self.pending.get(&self.tree, &path) else {
                continue;
            };
            if meta.num_children > 0 {
                continue;
            }
            let hdr = self.header(0, 0, op::DELETE_CONTAINER);
            self.pending.delete_node(&self.tree, &path, hdr.zxid);
            let txn = Txn {
                hdr,
                body: TxnBody::Delete(DeleteTxn { path }),
                digest: None,
            };
            self.submit(txn, Origin::Server, 0);
        }
    }
}
