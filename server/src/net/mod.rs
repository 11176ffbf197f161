//! Client connections: framing, the connect handshake, 4-letter words, per-address limits.
//! A connection task only moves frames; every decision is the core's.

mod conn;
mod listener;

pub use conn::{ConnId, ToConn};
pub use listener::{serve, ListenerConfig};

use bytes::Bytes;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

use crate::proto::records::ConnectRequestFixed;

/// What connections tell the core.
#[derive(Debug)]
pub enum ToCore {
    /// The first frame: a ConnectRequest. `read_only` is `None` when the client did not send the byte.
    Connect {
        conn: ConnId,
        req: ConnectRequestFixed,
        read_only: Option<bool>,
        remote: SocketAddr,
        out: mpsc::UnboundedSender<ToConn>,
    },
    /// Any later frame: the header's xid and op, and the record bytes.
    Request {
        conn: ConnId,
        xid: i32,
        op: i32,
        body: Bytes,
    },
    /// The connection is gone (EOF, error, or closed by us).
    Closed { conn: ConnId },
    /// A 4-letter word; the answer text goes back on `reply`.
    FourLetter {
        cmd: crate::admin::FourLetterWord,
        /// The asking connection: Apache counts and lists it like any other.
        remote: std::net::SocketAddr,
        reply: oneshot::Sender<String>,
    },
    /// A snapshot of the server's state for the AdminServer and `/metrics`: the lists
    /// `cmd` needs are filled, and `crst`/`srst` reset their counters first. Unlike the
    /// 4-letter word, no asking connection is counted and no whitelist applies.
    Info {
        cmd: crate::admin::FourLetterWord,
        reply: oneshot::Sender<crate::admin::ServerInfo>,
    },
}
