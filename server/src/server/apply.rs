//! The commit path: once the log thread reports txns durable, apply them in zxid order, fire
//! watches, answer their requests, then run the reads that were waiting behind them.

use tracing::info;

use super::core::{Core, Deferred, Origin};
use crate::pipeline::replies::write_reply;
use crate::proto::codes::op;
use crate::proto::txn::TxnBody;

impl Core {
    pub(super) fn apply_through(&mut self, last_zxid: i64) {
        while self
            .inflight
            .front()
            .is_some_and(|i| i.txn.hdr.zxid <= last_zxid)
        {
            let Some(inf) = self.inflight.pop_front() else {
                break;
            };
            let txn = inf.txn;
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
            match inf.origin {
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
                    let (err, body) = match write_reply(kind, &res) {
                        Ok(b) => (0, b),
                        Err(e) => (e.code(), Vec::new()),
                    };
                    self.reply(conn, xid, zxid, err, &body);
                    self.note_op(conn, kind, xid, zxid);
                    self.record_latency(conn, at, kind, true);
                }
                Origin::Server => {}
            }
            if let TxnBody::CloseSession(_) = txn.body {
                if txn.hdr.kind == op::CLOSE_SESSION {
                    self.finish_close_session(session);
                }
            }
            self.run_deferred(session, zxid);
        }
    }

    fn finish_close_session(&mut self, session: i64) {
        self.sessions.remove(session);
        self.watches.remove_session(session);
        if let Some(conn) = self.session_conn.remove(&session) {
            self.close_conn(conn);
        }
        info!("Closed session 0x{session:x}");
    }

    /// Pops the session's marker for `zxid`, then answers reads queued behind it.
    fn run_deferred(&mut self, session: i64, zxid: i64) {
        let Some(q) = self.queues.get_mut(&session) else {
            return;
        };
        if let Some(Deferred::Write(z)) = q.front() {
            if *z == zxid {
                q.pop_front();
            }
        }
        loop {
            let Some(q) = self.queues.get_mut(&session) else {
                return;
            };
            match q.front() {
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
                Some(Deferred::Write(_)) => return,
                None => {
                    self.queues.remove(&session);
                    return;
                }
            }
        }
    }
}
