//! The quorum-port transport (facts §15.2): the socket side of Zab, and nothing else.
//!
//! The leader accepts learners with [`serve_learners`]; a learner dials its leader with
//! [`connect_leader`]. Either way every connection gets two plain OS threads: a reader that
//! decodes QuorumPacket records field by field from a `BufReader` (so the snapshot that
//! follows a SNAP packet is parsed from the same reader, in one pass, whatever its size) and
//! a writer that drains a queue of frames and snapshots in order, batching frames into few
//! syscalls. Blocking threads keep the snapshot path simple and keep a 100 MB snapshot off
//! the async runtime. What arrives is reported as [`PeerEvent`]s; what to send goes through
//! a [`PeerSender`]. Liveness is the Zab state machine's job (its ticks), so established
//! connections never time out reads; the owner calls [`PeerSender::close`] instead.

mod dial;
mod link;
mod peer;
mod serve;
#[cfg(test)]
mod tests;
mod wire;

use std::sync::atomic::{AtomicU64, Ordering};

pub use dial::connect_leader;
pub use link::LinkStats;
pub use peer::PeerSender;
pub use serve::{serve_learners, ServeGuard};

use crate::proto::quorum::{QuorumError, ZabPacket};
pub use crate::quorum::zab::Sid;
use crate::tree::{DataTree, TreeError};

/// What the transport reports to the server core. Events of one connection arrive in the
/// order they happened; `conn` tells connections of the same sid apart, so the core can
/// drop events from a connection it has already replaced.
#[derive(Debug)]
pub enum PeerEvent {
    /// Leader side: a learner connected and its first packet (FOLLOWERINFO or OBSERVERINFO,
    /// whose LearnerInfo.serverid names it) arrived. `out` sends to it. `conn` is unique per
    /// connection (to drop stale events).
    LearnerConnected {
        sid: Sid,
        conn: u64,
        out: PeerSender,
        first: ZabPacket,
    },
    /// A packet from the peer (learner side: also the SNAP packet itself, just before its
    /// [`PeerEvent::Snapshot`]).
    Packet { sid: Sid, conn: u64, pkt: ZabPacket },
    /// Learner side: after a SNAP packet the leader streamed a snapshot: sessions, then the
    /// tree stream, then the string "BenWasHere" (facts §13/§15: parts 2–5, no header, no
    /// seals). Delivered BEFORE any later Packet. `zxid` is the SNAP packet's zxid, and the
    /// tree's last processed zxid is already set to it.
    Snapshot {
        sid: Sid,
        conn: u64,
        zxid: i64,
        sessions: Vec<(i64, i32)>,
        tree: DataTree,
    },
    /// The connection is gone (peer hung up, bad data, a failed write, `close`, or the
    /// ServeGuard was dropped). Reported exactly once per connection that was reported as
    /// connected (leader side) or returned by `connect_leader` (learner side).
    Disconnected { sid: Sid, conn: u64 },
}

/// Why a connection could not be made or had to be closed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("quorum socket: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Packet(#[from] QuorumError),
    #[error("snapshot stream: {0}")]
    Snapshot(#[from] TreeError),
    #[error("invalid length {len} for {what} (limit {limit})")]
    BadLength {
        what: &'static str,
        len: i64,
        limit: usize,
    },
    #[error("snapshot stream not closed by the signature (got {0:?})")]
    MissingSignature(String),
    #[error("first packet from a learner has type {0}, not FOLLOWERINFO/OBSERVERINFO")]
    NotALearner(i32),
    #[error("learner announced invalid server id {0}")]
    BadServerId(i64),
    #[error("could not connect to leader at {addr} after {attempts} attempt(s): {last}")]
    Connect {
        addr: std::net::SocketAddr,
        attempts: u32,
        last: String,
    },
}

/// Connection ids, unique within the process.
fn next_conn_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
