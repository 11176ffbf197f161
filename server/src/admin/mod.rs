//! Operator-facing answers: the four-letter words, rendered byte for byte as Apache
//! 3.8/3.9 renders them. The core gathers a [`ServerInfo`] snapshot; rendering is pure.

pub mod commands;
mod envi;
mod fourlw;
pub mod http;
mod javafmt;
mod mntr;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::config::ServerSpec;

pub use envi::{environment, last_op_name, VERSION_STRING};
pub use fourlw::{not_serving, not_whitelisted, render, FourLetterWord};
pub use javafmt::{java_date_utc, java_double, java_socket_addr};
pub use mntr::{is_counter as is_mntr_counter, is_summary as is_mntr_summary};

/// What this server is doing, as `srvr`/`mntr` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Standalone,
    Leader,
    Follower,
    Observer,
    ReadOnly,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
            Mode::ReadOnly => "read-only",
        }
    }
}

/// A summary metric (Apache's AvgMinMax[Percentile]Counter) as `mntr` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    pub count: u64,
    pub sum: u64,
    pub min: u64,
    pub max: u64,
    /// p50, p95, p99, p999, for summaries that track percentiles.
    pub percentiles: Option<[u64; 4]>,
}

impl Summary {
    /// Average rounded to 4 decimals; 0 when empty.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            javafmt::round4(self.sum as f64 / self.count as f64)
        }
    }
}

/// Leader-only gauges.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeaderStats {
    pub learners: u64,
    pub synced_followers: u64,
    pub synced_non_voting_followers: u64,
    pub synced_observers: u64,
    pub pending_syncs: u64,
    /// Proposal sizes in bytes; -1 before the first proposal.
    pub last_proposal_size: i64,
    pub min_proposal_size: i64,
    pub max_proposal_size: i64,
    pub leader_uptime_ms: u64,
}

/// One observer connected to this leader, as the AdminServer's `observers` lists it
/// (Apache's LearnerHandler info).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObserverInfo {
    pub sid: u64,
    pub remote: Option<SocketAddr>,
    /// When the connection was made, ms since the epoch.
    pub established_ms: i64,
    pub queued_packets: u64,
    pub queued_packets_size: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// Requests the observer forwarded.
    pub requests: u64,
    /// Zxid of the newest packet sent to it; -1 before any.
    pub last_zxid: i64,
}

/// Per-session part of a connection line in `cons`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionConnInfo {
    pub session_id: i64,
    /// Short name of the last operation (`PING`, `GETD`...; see [`last_op_name`]), `NA` at first.
    pub last_op: String,
    /// Established time, ms since the epoch.
    pub established_ms: i64,
    pub timeout_ms: i32,
    /// Last cxid; omitted when negative.
    pub last_cxid: i64,
    pub last_zxid: i64,
    /// Time of the last response (Apache prints its monotonic clock in ms).
    pub last_response_ms: i64,
    pub last_latency: u64,
    pub min_latency: u64,
    pub avg_latency: u64,
    pub max_latency: u64,
}

/// One client connection as `stat`/`cons` show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionInfo {
    pub remote: SocketAddr,
    /// NIO interest ops (1 = read, 4 = write); 0 when suspended.
    pub interest_ops: u32,
    pub queued: u64,
    pub received: u64,
    pub sent: u64,
    /// Set once a session is bound to the connection.
    pub session: Option<SessionConnInfo>,
}

/// One bucket of an expiry queue: the things that expire at the same tick.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiryBucket<T> {
    /// Expiry time, ms since the epoch.
    pub expire_at_ms: i64,
    pub items: Vec<T>,
}

/// The session tracker part of `dump`.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionTrackerDump {
    /// Standalone and leader: sessions by expiry bucket, sorted by time.
    Buckets(Vec<ExpiryBucket<i64>>),
    /// Followers and observers: optional local sessions, then global sessions with timeouts.
    Learner {
        local: Option<Vec<ExpiryBucket<i64>>>,
        global: Vec<(i64, i32)>,
    },
}

impl Default for SessionTrackerDump {
    fn default() -> Self {
        SessionTrackerDump::Buckets(Vec::new())
    }
}

/// A snapshot of everything the four-letter words print. The core fills it; lists are
/// rendered in the order given (Apache's orders are hash orders, so callers sort as
/// they see fit; sorted output is what tests expect).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerInfo {
    /// Full version string, e.g. `3.9.3-zkserver-rs-0.1.0, built on 2025-01-01 00:00 UTC`.
    pub version: String,
    /// False until the server serves requests; most words then answer [`not_serving`].
    pub serving: bool,
    pub mode: Mode,
    /// `following - broadcast` etc. (mntr `zk_peer_state`) for ensemble members.
    pub peer_state: String,
    pub server_id: u64,
    pub latency_min: u64,
    pub latency_avg: f64,
    pub latency_max: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub num_alive_connections: u64,
    pub outstanding_requests: u64,
    pub zxid: i64,
    pub node_count: u64,
    pub watch_count: u64,
    pub ephemerals_count: u64,
    pub approximate_data_size: u64,
    pub open_file_descriptor_count: u64,
    pub max_file_descriptor_count: u64,
    pub uptime_ms: u64,
    pub global_sessions: u64,
    pub local_sessions: u64,
    /// Response sizes in bytes; -1 before the first response.
    pub last_client_response_size: i64,
    pub min_client_response_size: i64,
    pub max_client_response_size: i64,
    pub connection_drop_probability: f64,
    pub quorum_size: u64,
    pub leader: Option<LeaderStats>,
    /// Leader: its synced observers, by sid (the ones `synced_observers` counts).
    pub observers: Vec<ObserverInfo>,
    /// Other mntr counters by name without `zk_` (missing ones print 0).
    pub counters: BTreeMap<String, i64>,
    /// Summary metrics by name without prefixes (missing ones print zeros).
    pub summaries: BTreeMap<String, Summary>,
    /// Dynamic summaries Apache appends (per-namespace, per-learner), in print order.
    pub extra_summaries: Vec<(String, Summary)>,
    pub connections: Vec<ConnectionInfo>,
    pub session_tracker: SessionTrackerDump,
    /// Connection expiry queue for `dump`: (remote, session id) per bucket.
    pub connection_expiry: Vec<ExpiryBucket<(SocketAddr, i64)>>,
    pub sessions_with_ephemerals: Vec<(i64, Vec<String>)>,
    pub watches_by_session: Vec<(i64, Vec<String>)>,
    pub watches_by_path: Vec<(String, Vec<i64>)>,
    pub data_dir_size: u64,
    pub data_log_size: u64,
    /// `envi` lines (see [`environment`]).
    pub environment: Vec<(String, String)>,
    pub trace_mask: i64,
    /// The committed membership and its version, when in an ensemble (for `conf`).
    pub membership: Option<(BTreeMap<u64, ServerSpec>, u64)>,
    /// The current leader's id, when in an ensemble (AdminServer `leader`).
    pub leader_id: Option<u64>,
}

impl ServerInfo {
    pub(crate) fn counter(&self, key: &str) -> i64 {
        self.counters.get(key).copied().unwrap_or(0)
    }
}
