//! The commit path: apply txns in zxid order, fire watches, answer their requests, then run
//! the reads that were waiting behind them. Standalone, the log thread reports txns durable;
//! in an ensemble, Zab reports them committed.

use bytes::Bytes;
use tracing::info;

use super::core::{Core, Deferred, Origin};
use super::ensemble::config_text_of;
use crate::net::ConnId;
use crate::pipeline::replies::write_reply;
use crate::proto::codes::op;
use crate::proto::jute::Jute;
use crate::proto::records::ReplyHeader;
use crate::proto::txn::{Txn, TxnBody};

impl Core {
    /// Standalone: everything up to `last_zxid` is durable, so it is committed.
    pub(super) fn apply_through(&mut self, last_zxid: i64) {
        while self
            .inflight
            .front()
            .is_some_and(|i| i.txn.hdr.zxid <= last_zxid)
        {
            let Some(inf) = self.inflight.pop_front() else {
                break;
            };
            self.apply_txn(inf.txn, inf.origin);
        }
    }

    /// Applies a txn to the tree and the session tracker, with no one to answer (start-up
    /// replay, fast-forward after a role ends).
    pub(super) fn apply_to_state(&mut self, txn: &Txn) {
        self.tree.apply(txn);
        self.track_sessions(txn);
        self.adopt_reconfig(txn);
    }

    /// A committed reconfig txn carries the new config text: it becomes the membership.
    fn adopt_reconfig(&mut self, txn: &Txn) {
        if let Some(text) = config_text_of(txn) {
            self.adopt_config_text(&text);
        }
    }

    fn track_sessions(&mut self, txn: &Txn) {
        let session = txn.hdr.client_id;
        match &txn.body {
            TxnBody::CreateSession(c)
                if txn.hdr.kind == op::CREATE_SESSION && !self.sessions.is_active(session) =>
            {
                self.sessions.add(session, c.time_out, self.now());
            }
            TxnBody::CloseSession(_) if txn.hdr.kind == op::CLOSE_SESSION => {
                self.finish_close_session(session);
            }
            _ => {}
        }
    }

    /// Applies one committed txn and answers whoever waits for it here.
    pub(super) fn apply_txn(&mut self, txn: Txn, origin: Origin) {
        crate::metrics::metrics()
            .propagation_latency
            .observe_since_wall(txn.hdr.time, super::core::wall_ms());
        let zxid = txn.hdr.zxid;
        let session = txn.hdr.client_id;
        let res = self.tree.apply(&txn);
        self.pending.applied(zxid);
        for t in &res.triggers {
            for s in self.watches.trigger(&t.path, t.event) {
                if let Some(conn) = self.session_conn.get(&s).copied() {
                    self.notify(conn, t.event, &t.path, zxid);
                }
            }
        }
        match origin {
            Origin::Connect {
                conn,
                timeout,
                send_read_only,
                at,
            } => {
                self.send_connect_response(conn, session, timeout, send_read_only);
                self.note_op(conn, op::CREATE_SESSION, 0, zxid);
                self.record_latency(conn, at, op::CREATE_SESSION, true);
            }
            Origin::Client {
                conn,
                xid,
                op: kind,
                at,
            } => {
                self.send_with(conn, |out| {
                    let at = out.len();
                    ReplyHeader { xid, zxid, err: 0 }.write_to(out);
                    let written = if kind == op::RECONFIG && res.err == crate::proto::ErrorCode::Ok
                    {
                        reconfig_reply(&txn, &res).write_to(out);
                        Ok(())
                    } else {
                        write_reply(kind, &res, out)
                    };
                    if let Err(e) = written {
                        // Header only, carrying the error.
                        out.truncate(at);
                        ReplyHeader {
                            xid,
                            zxid,
                            err: e.code(),
                        }
                        .write_to(out);
                    }
                });
                self.note_op(conn, kind, xid, zxid);
                self.record_latency(conn, at, kind, true);
            }
            Origin::Server | Origin::Remote => {}
        }
        self.track_sessions(&txn);
        self.adopt_reconfig(&txn);
        self.run_deferred(session, zxid, txn.hdr.cxid);
    }

    /// Dispatches a held write; the marker it leaves in the queue goes to the front, as
    /// the reads queued behind it must wait for it.
    fn release_held(&mut self, session: i64, conn: ConnId, xid: i32, kind: i32, body: Bytes) {
        let before = self.queues.get(&session).map_or(0, |q| q.len());
        self.dispatch(conn, session, xid, kind, body, false);
        if let Some(q) = self.queues.get_mut(&session) {
            if q.len() > before {
                if let Some(m) = q.pop_back() {
                    q.push_front(m);
                }
            }
        }
    }

    pub(super) fn finish_close_session(&mut self, session: i64) {
        if self.sessions.remove(session).is_none() && !self.session_conn.contains_key(&session) {
            return;
        }
        self.watches.remove_session(session);
        if let Some(conn) = self.session_conn.remove(&session) {
            self.close_conn(conn);
        }
        self.queues.remove(&session);
        info!("Closed session 0x{session:x}");
    }

    /// Pops the session's marker for this txn (by zxid here, by cxid if forwarded), then
    /// answers the reads queued behind it.
    fn run_deferred(&mut self, session: i64, zxid: i64, cxid: i32) {
        let Some(q) = self.queues.get(&session) else {
            return;
        };
        let marker = match q.front() {
            Some(Deferred::Write(z)) if *z == zxid => Deferred::Write(zxid),
            Some(Deferred::Forwarded(c)) if *c == cxid => Deferred::Forwarded(cxid),
            _ => return,
        };
        self.run_deferred_after(session, marker);
    }

    /// Pops `marker` if it heads the session's queue, then answers queued reads up to the
    /// next pending write.
    pub(super) fn run_deferred_after(&mut self, session: i64, marker: Deferred) {
        if let Some(q) = self.queues.get_mut(&session) {
            if q.front() == Some(&marker) {
                q.pop_front();
            }
        }
        let done = self.barriers_done();
        loop {
            let Some(q) = self.queues.get_mut(&session) else {
                return;
            };
            match q.front() {
                Some(Deferred::Barrier(b)) if *b <= done => {
                    q.pop_front();
                }
                Some(Deferred::Held { .. }) => {
                    if let Some(Deferred::Held {
                        conn,
                        xid,
                        op,
                        body,
                    }) = q.pop_front()
                    {
                        self.release_held(session, conn, xid, op, body);
                    }
                }
                Some(Deferred::Read { .. }) => {
                    if let Some(Deferred::Read {
                        conn,
                        xid,
                        op,
                        body,
                        at,
                    }) = q.pop_front()
                    {
                        self.execute_read(conn, xid, op, body, at);
                    }
                }
                Some(_) => return,
                None => {
                    self.queues.remove(&session);
                    return;
                }
            }
        }
    }
}

/// A reconfig's reply is a GetDataResponse: the new config text and /zookeeper/config's stat.
fn reconfig_reply(
    txn: &Txn,
    res: &crate::tree::TxnResult,
) -> crate::proto::records::GetDataResponse {
    crate::proto::records::GetDataResponse {
        data: config_text_of(txn),
        stat: res.stat.clone().unwrap_or_default(),
    }
}
