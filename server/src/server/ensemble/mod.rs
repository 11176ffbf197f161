//! The server as an ensemble member: which role it plays (looking, leader, follower,
//! observer), how a role starts and ends, and how the Zab state machine's outputs are
//! carried out. The core owns the Zab role directly (it is sans-I/O), so the tree, the log
//! and the role change together under one owner; sockets live in `quorum::transport` and
//! the election in `quorum::election::net`.

mod epochs;
mod outputs;
mod reconfig;
mod roles;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::config::ServerSpec;
use crate::quorum::election::net::Decision;
use crate::quorum::transport::{PeerEvent, PeerSender, ServeGuard, TransportError};
use crate::quorum::zab::{Leader, Learner, LearnerKind};

pub use epochs::{read_epoch, write_epoch, ACCEPTED_EPOCH, CURRENT_EPOCH};
pub use reconfig::config_text_of;
pub use roles::{election_loop, NextRole};

/// Events from the election and from dialing a leader.
pub enum QuorumEvent {
    Elected(Decision),
    LeaderConnected {
        leader: u64,
        result: Result<PeerSender, TransportError>,
    },
    /// The election learned a newer config from a peer (text as /zookeeper/config holds it).
    NewerConfig(bytes::Bytes),
}

/// What the core needs to run as a member of an ensemble.
pub struct QuorumCtx {
    pub my_id: u64,
    pub servers: BTreeMap<u64, ServerSpec>,
    pub config_version: u64,
    pub config_text: bytes::Bytes,
    pub tick_ms: u64,
    pub init_limit: u64,
    pub sync_limit: u64,
    pub listen_on_all_ips: bool,
    pub log_dir: PathBuf,
    pub prealloc_bytes: u64,
    pub force_sync: bool,
    pub snap_count: u64,
    /// Asks the election task for a new round: (last zxid, current epoch).
    pub look_tx: mpsc::UnboundedSender<(i64, i64)>,
    pub quorum_tx: mpsc::UnboundedSender<QuorumEvent>,
    pub peer_tx: mpsc::UnboundedSender<PeerEvent>,
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    /// Elections won or lost since start (for logs and metrics).
    pub elections: u64,
    /// Tells the election about committed reconfigs.
    pub election: Option<crate::quorum::election::net::ConfigUpdater>,
}

/// A learner's client request waiting for its txn to come back committed.
pub struct PendingSync {
    pub conn: crate::net::ConnId,
    pub xid: i32,
    pub session: i64,
    pub path: Vec<u8>,
    pub at: std::time::Instant,
    /// Set when this SYNC is a `linearizableReads` read barrier, not a client's sync.
    pub barrier: Option<u64>,
}

pub struct LeaderRole {
    pub zab: Leader,
    pub peers: HashMap<u64, PeerSender>,
    pub _guard: ServeGuard,
    pub serving: bool,
    /// When this leader started serving (mntr `leader_uptime`).
    pub serving_since: Option<std::time::Instant>,
    /// Forwarded syncs: (last proposed zxid, learner, its connection), answered once
    /// that zxid is applied.
    pub syncs: VecDeque<(i64, u64, u64)>,
    /// `linearizableReads`: local read barriers, and what waits for read rounds.
    pub barriers: crate::server::linread::ReadBarriers,
    pub reads: crate::server::linread::LeaderReads,
    /// A proposed reconfig not committed yet (Apache's last seen config).
    pub reconfig: Option<crate::config::QuorumConfig>,
}

pub struct LearnerRole {
    pub zab: Learner,
    pub kind: LearnerKind,
    pub leader_sid: u64,
    pub leader: PeerSender,
    pub serving: bool,
    /// When the role started, to report how long the sync with the leader took.
    pub started: std::time::Instant,
    /// A SNAP was announced: the next peer event is its snapshot.
    pub awaiting_snapshot: Option<i64>,
    pub syncs: VecDeque<PendingSync>,
    /// `linearizableReads`: local read barriers (each a SYNC forwarded to the leader).
    pub barriers: crate::server::linread::ReadBarriers,
}

pub enum Role {
    Standalone,
    Looking,
    /// Dialing the elected leader.
    Connecting {
        leader: u64,
        kind: LearnerKind,
    },
    Leader(Box<LeaderRole>),
    Learner(Box<LearnerRole>),
}

impl Role {
    pub fn serving(&self) -> bool {
        match self {
            Role::Standalone => true,
            Role::Leader(l) => l.serving,
            Role::Learner(l) => l.serving,
            _ => false,
        }
    }

    pub fn mode(&self) -> crate::admin::Mode {
        use crate::admin::Mode;
        match self {
            Role::Leader(_) => Mode::Leader,
            Role::Learner(l) if l.kind == LearnerKind::Observer => Mode::Observer,
            Role::Learner(_) => Mode::Follower,
            _ => Mode::Standalone,
        }
    }

    /// Apache's detailed peer state (mntr `zk_peer_state`) of a serving ensemble member:
    /// its role and Zab's broadcast phase. Empty otherwise: mntr then answers "not
    /// serving" (or, read-only, prints no peer state).
    pub fn peer_state(&self) -> &'static str {
        match self {
            Role::Leader(l) if l.serving => "leading - broadcast",
            Role::Learner(l) if l.serving && l.kind == LearnerKind::Observer => {
                "observing - broadcast"
            }
            Role::Learner(l) if l.serving => "following - broadcast",
            _ => "",
        }
    }
}
