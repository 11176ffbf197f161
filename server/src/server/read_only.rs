//! Read-only mode (`readonlymode.enabled`): a member cut off from its quorum keeps serving
//! clients that asked for read-only sessions. Their sessions are local (never logged); reads
//! are answered from the last state this server had, writes get NOTREADONLY, and every
//! read-only client is disconnected when the server rejoins a quorum, as Apache does.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tracing::info;

use super::core::Core;
use crate::net::ConnId;
use crate::pipeline::prep::is_write;
use crate::proto::codes::{op, xid};
use crate::proto::records::ConnectRequestFixed;
use crate::proto::ErrorCode;
use crate::session::session_password;

impl Core {
    /// True while this member serves read-only clients: it has no quorum and may.
    pub(super) fn read_only_mode(&self) -> bool {
        !self.role.serving() && self.quorum.is_some() && self.cfg.server_config.read_only_mode
    }

    pub(super) fn accept_read_only(
        &mut self,
        conn: ConnId,
        req: &ConnectRequestFixed,
        remote: SocketAddr,
    ) {
        let m = crate::metrics::metrics();
        m.connection_request_count.inc();
        if req.session_id != 0 {
            m.connection_revalidate_count.inc();
        }
        let timeout = req
            .time_out
            .clamp(self.cfg.min_session_timeout, self.cfg.max_session_timeout);
        let known = req.session_id != 0
            && self.read_only_sessions.contains(&req.session_id)
            && req.passwd.as_deref() == Some(&session_password(req.session_id)[..]);
        let id = if known {
            req.session_id
        } else {
            self.sessions.next_session_id()
        };
        self.sessions.add(id, timeout, self.now());
        self.read_only_sessions.insert(id);
        self.bind_session(conn, id);
        info!("read-only session 0x{id:x} for {remote}");
        self.send_connect_response(conn, id, timeout, true);
    }

    pub(super) fn on_read_only_request(
        &mut self,
        conn: ConnId,
        session: i64,
        cxid: i32,
        kind: i32,
        body: Bytes,
    ) {
        let z = self.tree.last_processed_zxid();
        match kind {
            op::PING => self.reply(conn, xid::PING, z, 0, &[]),
            op::AUTH => self.on_auth(conn, body),
            op::CLOSE_SESSION => {
                self.reply(conn, cxid, z, 0, &[]);
                self.drop_read_only_session(session);
            }
            k if is_write(k) || k == op::SYNC => {
                self.reply(conn, cxid, z, ErrorCode::NotReadOnly.code(), &[]);
            }
            _ => self.execute_read(conn, cxid, kind, body, Instant::now()),
        }
    }

    fn drop_read_only_session(&mut self, session: i64) {
        self.read_only_sessions.remove(&session);
        self.sessions.remove(session);
        self.watches.remove_session(session);
        if let Some(conn) = self.session_conn.remove(&session) {
            self.close_conn(conn);
        }
    }

    /// Disconnects every read-only client: this server is about to rejoin a quorum.
    pub(super) fn end_read_only(&mut self) {
        let ids: Vec<i64> = self.read_only_sessions.iter().copied().collect();
        if !ids.is_empty() {
            info!(
                "leaving read-only mode: closing {} read-only sessions",
                ids.len()
            );
        }
        for id in ids {
            self.drop_read_only_session(id);
        }
    }
}
