//! Inputs and outputs of the Zab state machines.

use bytes::Bytes;

use crate::proto::quorum::ZabPacket;
use crate::proto::records::Id;

/// A server id (`myid`).
pub type Sid = u64;

/// Something that happened to a Zab role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A decoded packet from a peer's quorum connection.
    Packet { from: Sid, pkt: ZabPacket },
    /// Every txn up to and including `zxid` is durable in the local log.
    Persisted { zxid: i64 },
    /// Clock reading; drives PINGs and timeouts. Feed at least every tick/2.
    Tick { now_ms: u64 },
    /// The quorum connection to `sid` is gone.
    PeerDisconnected { sid: Sid },
}

/// Why a role ended; the server goes back to election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepDownReason {
    /// Leader: fewer than a quorum of voters synced within syncLimit.
    LostQuorum,
    /// Leader: discovery or sync did not finish within initLimit.
    InitTimeout,
    /// Leader: a learner's (currentEpoch, lastZxid) is newer than ours.
    LearnerAhead(Sid),
    /// Learner: nothing heard from the leader within the limit.
    LeaderTimeout,
    /// Learner: the connection to the leader closed.
    LeaderDisconnected,
    /// Learner: the leader proposed an epoch older than one we accepted.
    EpochTooOld { proposed: u32, accepted: u32 },
    /// A peer broke the protocol.
    Protocol(String),
    /// Leader: a reconfig committed that hands leadership to another server.
    Reconfigured { successor: Sid },
}

/// Something the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send {
        to: Sid,
        pkt: ZabPacket,
    },
    /// Leader: close the connection to a learner (dead or refused).
    Disconnect {
        sid: Sid,
    },
    /// Append a txn to the log; report `Input::Persisted` after fsync.
    Persist {
        zxid: i64,
        txn: Bytes,
    },
    /// Drop every logged txn above `zxid` and rebuild the data tree from the log.
    Truncate {
        zxid: i64,
    },
    /// Leader: right after the SNAP packet, stream a snapshot of the data tree (which is at
    /// `zxid`) to `to`.
    SendSnapshot {
        to: Sid,
        zxid: i64,
    },
    /// Learner: the leader's stream now carries a snapshot at `zxid`; read it, replace the
    /// data tree and log with it, then go on feeding packets.
    LoadSnapshot {
        zxid: i64,
    },
    /// Apply a committed txn to the data tree (always in zxid order). At the leader this
    /// is also the moment the client's request is answered.
    ApplyCommitted {
        zxid: i64,
        txn: Bytes,
    },
    WriteAcceptedEpoch(u32),
    WriteCurrentEpoch(u32),
    /// The role is synced; clients may be served.
    Serving,
    StepDown {
        reason: StepDownReason,
    },
    /// Leader: a client request forwarded by a learner.
    ForwardedRequest {
        from: Sid,
        session_id: i64,
        cxid: i32,
        kind: i32,
        request: Bytes,
        authinfo: Vec<Id>,
    },
    /// Leader: sessions a learner saw activity on.
    TouchSessions {
        from: Sid,
        sessions: Vec<(i64, i32)>,
    },
    /// Leader: a learner asks whether a reconnecting session is valid.
    RevalidateSession {
        from: Sid,
        session_id: i64,
        timeout: i32,
    },
    /// Learner: the leader's answer to a revalidation.
    RevalidateResult {
        session_id: i64,
        valid: bool,
    },
    /// Learner: a forwarded sync completed; all earlier commits have arrived.
    SyncDone,
    /// Leader: a quorum of voters (counting this server) answered a PING of read round
    /// `round` or a later one, so this server was still the leader after every round up
    /// to `round` started (see `Leader::start_read_round`).
    ReadRoundConfirmed {
        round: u64,
    },
    /// A reconfig (the txn at `zxid`, applied just before) committed; `leader` leads the
    /// new config (COMMITANDACTIVATE's designated leader). At the leader, Zab already counts
    /// with the new voters.
    Reconfigured {
        zxid: i64,
        leader: Sid,
    },
}

/// A call the role cannot accept in its current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZabError {
    #[error("not serving yet (or stepped down)")]
    NotServing,
    #[error("zxid counter exhausted in epoch {0}")]
    ZxidExhausted(u32),
    #[error("{0} is not a connected learner")]
    UnknownLearner(Sid),
    #[error("a reconfiguration is already in progress")]
    ReconfigInProgress,
}
