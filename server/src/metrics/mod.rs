//! Prometheus metrics, named as Apache ZooKeeper's PrometheusMetricsProvider names them (the
//! `mntr` keys without `zk_`), so dashboards and alerts written for Apache keep working.
//!
//! Three kinds of metric live here:
//! - gauges copied from a [`ServerInfo`] snapshot at scrape time ([`Metrics::set_from_info`]);
//! - counters and summaries observed where things happen (one-line `observe` calls in the
//!   core, the connection tasks and the log thread);
//! - our own extensions (per-op latency histogram, leader changes, snapshot/log sizes), named
//!   so they cannot clash with Apache's.
//!
//! Where each metric must be observed is in its doc comment; the ensemble ones (election,
//! proposal/commit latencies, learners) are observed by the quorum code.

mod buffer;
pub mod exposition;
mod mntr;
pub mod promql;
mod summary;

use std::cell::RefCell;
use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntGauge, Registry, TextEncoder,
};

use crate::admin::{Mode, ServerInfo};

pub use buffer::BufferStats;
pub use mntr::MntrValues;
pub use summary::{QuantileSummary, QUANTILES};

/// Buckets (ms) for the latency histograms: sub-millisecond to ten seconds.
const LATENCY_BUCKETS_MS: &[f64] = &[
    0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];
/// Buckets (ms) for election durations: elections take from a few ms to tens of seconds.
const ELECTION_BUCKETS_MS: &[f64] = &[
    10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 30000.0, 60000.0,
];

/// Client ops whose latency series are created up front.
const PRESET_OPS: &[i32] = {
    use crate::proto::codes::op::*;
    &[
        CREATE,
        CREATE2,
        DELETE,
        EXISTS,
        GET_DATA,
        SET_DATA,
        GET_CHILDREN,
        GET_CHILDREN2,
        MULTI,
        SYNC,
        PING,
        CREATE_SESSION,
        CLOSE_SESSION,
    ]
};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metrics registry: {0}")]
    Registry(#[from] prometheus::Error),
    #[error("metrics text is not UTF-8")]
    Utf8,
}

/// Gauges refreshed from the core's [`ServerInfo`] at each scrape.
pub struct InfoGauges {
    pub znode_count: IntGauge,
    pub watch_count: IntGauge,
    pub ephemerals_count: IntGauge,
    pub outstanding_requests: IntGauge,
    pub num_alive_connections: IntGauge,
    pub global_sessions: IntGauge,
    pub local_sessions: IntGauge,
    pub approximate_data_size: IntGauge,
    pub open_file_descriptor_count: IntGauge,
    pub max_file_descriptor_count: IntGauge,
    pub uptime: IntGauge,
    pub packets_sent: IntGauge,
    pub packets_received: IntGauge,
    pub min_latency: IntGauge,
    pub max_latency: IntGauge,
    pub avg_latency: prometheus::Gauge,
    pub last_client_response_size: IntGauge,
    pub min_client_response_size: IntGauge,
    pub max_client_response_size: IntGauge,
    pub quorum_size: IntGauge,
    pub learners: IntGauge,
    pub synced_followers: IntGauge,
    pub synced_non_voting_followers: IntGauge,
    pub synced_observers: IntGauge,
    pub pending_syncs: IntGauge,
    pub leader_uptime: IntGauge,
    pub last_proposal_size: IntGauge,
    pub min_proposal_size: IntGauge,
    pub max_proposal_size: IntGauge,
    /// Ours: bytes in `dataDir/version-2` (snapshots), as the `dirs` command reports.
    pub datadir_size: IntGauge,
    /// Ours: bytes in `dataLogDir/version-2` (transaction logs).
    pub logdir_size: IntGauge,
    /// Ours: 1 while this server serves requests (the readiness condition).
    pub serving: IntGauge,
    /// Ours: the server state as a number (0 standalone, 1 leader, 2 follower, 3 observer,
    /// 4 read-only), so dashboards can plot role changes.
    pub server_state: IntGauge,
}

/// Every collector the server exports, registered in one [`Registry`].
pub struct Metrics {
    registry: Registry,
    pub info: InfoGauges,
    /// Txn log fsync duration, ms. Observed by the log thread (storage/group_commit.rs).
    pub fsynctime: QuantileSummary,
    /// Snapshot write duration, ms. Observed where snapshots are written (server/start.rs).
    pub snapshottime: QuantileSummary,
    /// Database load at start-up (snapshot + log replay), ms.
    pub dbinittime: QuantileSummary,
    /// Read request latency, ms, from arrival to reply (server core).
    pub readlatency: QuantileSummary,
    /// Write request latency, ms, from arrival to reply after commit (server core).
    pub updatelatency: QuantileSummary,
    /// Txn created (the leader's wall clock in its header) until applied here, ms, on
    /// every server (Apache's FinalRequestProcessor).
    pub propagation_latency: QuantileSummary,
    /// Learner: proposal created on the leader until the commit reached this learner, ms.
    pub commit_propagation_latency: QuantileSummary,
    /// Leader: proposal sent until a quorum acked it (proposal-to-commit), ms.
    pub quorum_ack_latency: QuantileSummary,
    /// Committed write until applied to the tree (commit-to-apply), ms.
    pub write_final_proc_time_ms: QuantileSummary,
    /// Leader election duration, ms (observe when FLE settles on a leader).
    pub election_time: QuantileSummary,
    /// Follower sync with the leader (DIFF/TRUNC/SNAP) duration, ms.
    pub follower_sync_time: QuantileSummary,
    /// The same for an observer.
    pub observer_sync_time: QuantileSummary,
    /// Ours: election duration as a histogram (ms), for `histogram_quantile` over time ranges.
    pub election_time_ms: Histogram,
    /// Ours: request latency by op (label `op`: Apache's op names), ms.
    pub request_latency_ms: HistogramVec,
    /// Bytes read from client connections (net/conn.rs).
    pub bytes_received_count: IntCounter,
    /// Bytes written to client connections (net/conn.rs).
    pub response_bytes: IntCounter,
    /// Proposals a leader committed (a quorum acked them). Leader only, as Apache counts
    /// it: learners count `learner_commit_received_count`, a standalone server nothing.
    pub commit_count: IntCounter,
    /// Proposals sent by a leader.
    pub proposal_count: IntCounter,
    /// Follower: PROPOSALs received from the leader once synced.
    pub learner_proposal_received_count: IntCounter,
    /// Learner: COMMITs (follower) or INFORMs (observer) received once synced.
    pub learner_commit_received_count: IntCounter,
    /// Leader: REVALIDATE requests from learners (a client reconnected to a learner).
    pub revalidate_count: IntCounter,
    /// Client connections refused by the maxClientCnxns limit (net/listener.rs).
    pub connection_rejected: IntCounter,
    /// ConnectRequests a serving server handled.
    pub connection_request_count: IntCounter,
    /// ConnectRequests that reconnect an existing session.
    pub connection_revalidate_count: IntCounter,
    /// Sessions expired by this server's session tracker (standalone or leader).
    pub stale_sessions_expired: IntCounter,
    /// Bytes of watch notifications sent (reply header plus event, no length prefix).
    pub watch_bytes: IntCounter,
    /// Times this server entered LOOKING.
    pub looking_count: IntCounter,
    /// Learner syncs by DIFF / by SNAP.
    pub diff_count: IntCounter,
    pub snap_count: IntCounter,
    /// Ours: times this server saw a new leader elected (observe with `election_time`).
    pub leader_changes: IntCounter,
    /// Ours: snapshots written, and the size of the last one in bytes.
    pub snapshots_taken: IntCounter,
    pub last_snapshot_size_bytes: IntGauge,
    /// Every summary and counter above, for [`Metrics::mntr_values`].
    summaries: Vec<QuantileSummary>,
    counters: Vec<IntCounter>,
}

fn gauge(r: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
    let g = IntGauge::new(name, help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn counter(r: &Registry, name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
    let c = IntCounter::new(name, help)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

/// Registers a summary; the registry keeps a forwarding collector, we keep the handle.
fn summary(
    r: &Registry,
    name: &str,
    help: &str,
    quantiles: bool,
) -> Result<QuantileSummary, prometheus::Error> {
    let s = QuantileSummary::new(name, help, quantiles)?;
    r.register(Box::new(s.clone()))?;
    Ok(s)
}

impl Metrics {
    /// Builds and registers every metric in a fresh registry.
    pub fn new() -> Result<Metrics, MetricsError> {
        let r = Registry::new();
        let g = |n: &str, h: &str| gauge(&r, n, h);
        let info = InfoGauges {
            znode_count: g("znode_count", "Number of znodes")?,
            watch_count: g("watch_count", "Number of watches")?,
            ephemerals_count: g("ephemerals_count", "Number of ephemeral znodes")?,
            outstanding_requests: g("outstanding_requests", "Requests being processed")?,
            num_alive_connections: g("num_alive_connections", "Open client connections")?,
            global_sessions: g("global_sessions", "Global sessions")?,
            local_sessions: g("local_sessions", "Local sessions")?,
            approximate_data_size: g("approximate_data_size", "Bytes of znode paths and data")?,
            open_file_descriptor_count: g("open_file_descriptor_count", "Open file descriptors")?,
            max_file_descriptor_count: g("max_file_descriptor_count", "File descriptor limit")?,
            uptime: g("uptime", "Server uptime, ms")?,
            packets_sent: g("packets_sent", "Packets sent to clients")?,
            packets_received: g("packets_received", "Packets received from clients")?,
            min_latency: g("min_latency", "Minimum request latency, ms")?,
            max_latency: g("max_latency", "Maximum request latency, ms")?,
            avg_latency: {
                let a = prometheus::Gauge::new("avg_latency", "Average request latency, ms")?;
                r.register(Box::new(a.clone()))?;
                a
            },
            last_client_response_size: g("last_client_response_size", "Last response, bytes")?,
            min_client_response_size: g("min_client_response_size", "Smallest response, bytes")?,
            max_client_response_size: g("max_client_response_size", "Largest response, bytes")?,
            quorum_size: g("quorum_size", "Voting members in the ensemble")?,
            learners: g("learners", "Learners connected to this leader")?,
            synced_followers: g("synced_followers", "Followers synced with this leader")?,
            synced_non_voting_followers: g(
                "synced_non_voting_followers",
                "Non-voting followers synced with this leader",
            )?,
            synced_observers: g("synced_observers", "Observers synced with this leader")?,
            pending_syncs: g("pending_syncs", "Learner syncs in progress")?,
            leader_uptime: g("leader_uptime", "Time this server has led, ms")?,
            last_proposal_size: g("last_proposal_size", "Last proposal, bytes")?,
            min_proposal_size: g("min_proposal_size", "Smallest proposal, bytes")?,
            max_proposal_size: g("max_proposal_size", "Largest proposal, bytes")?,
            datadir_size: g("datadir_size", "Bytes in the snapshot directory")?,
            logdir_size: g("logdir_size", "Bytes in the transaction log directory")?,
            serving: g("serving", "1 while the server serves client requests")?,
            server_state: g(
                "server_state",
                "0 standalone, 1 leader, 2 follower, 3 observer, 4 read-only",
            )?,
        };
        let summaries = RefCell::new(Vec::new());
        let counters = RefCell::new(Vec::new());
        let s = |n: &str, h: &str, q: bool| {
            let x = summary(&r, n, h, q)?;
            summaries.borrow_mut().push(x.clone());
            Ok::<_, prometheus::Error>(x)
        };
        let c = |n: &str, h: &str| {
            let x = counter(&r, n, h)?;
            counters.borrow_mut().push(x.clone());
            Ok::<_, prometheus::Error>(x)
        };
        let election_time_ms = Histogram::with_opts(
            HistogramOpts::new("election_time_ms", "Leader election duration, ms")
                .buckets(ELECTION_BUCKETS_MS.to_vec()),
        )?;
        r.register(Box::new(election_time_ms.clone()))?;
        let request_latency_ms = HistogramVec::new(
            HistogramOpts::new("request_latency_ms", "Client request latency by op, ms")
                .buckets(LATENCY_BUCKETS_MS.to_vec()),
            &["op"],
        )?;
        r.register(Box::new(request_latency_ms.clone()))?;
        // Series exist from the start, so dashboards show zeros rather than "no data".
        for &op in PRESET_OPS {
            request_latency_ms.with_label_values(&[op_label(op)]);
        }
        Ok(Metrics {
            info,
            fsynctime: s("fsynctime", "Txn log fsync time, ms", false)?,
            snapshottime: s("snapshottime", "Snapshot write time, ms", false)?,
            dbinittime: s("dbinittime", "Database load time at start-up, ms", false)?,
            readlatency: s("readlatency", "Read request latency, ms", true)?,
            updatelatency: s("updatelatency", "Write request latency, ms", true)?,
            propagation_latency: s(
                "propagation_latency",
                "Proposal to learner receipt, ms",
                true,
            )?,
            commit_propagation_latency: s(
                "commit_propagation_latency",
                "Proposal to commit received by a learner, ms",
                true,
            )?,
            quorum_ack_latency: s("quorum_ack_latency", "Proposal to quorum ack, ms", true)?,
            write_final_proc_time_ms: s(
                "write_final_proc_time_ms",
                "Commit to apply of a write, ms",
                true,
            )?,
            election_time: s("election_time", "Leader election time, ms", false)?,
            follower_sync_time: s("follower_sync_time", "Follower sync time, ms", false)?,
            observer_sync_time: s("observer_sync_time", "Observer sync time, ms", false)?,
            election_time_ms,
            request_latency_ms,
            bytes_received_count: c("bytes_received_count", "Bytes received from clients")?,
            response_bytes: c("response_bytes", "Bytes sent to clients")?,
            commit_count: c("commit_count", "Transactions committed")?,
            proposal_count: c("proposal_count", "Proposals sent")?,
            learner_proposal_received_count: c(
                "learner_proposal_received_count",
                "Proposals received by a follower",
            )?,
            learner_commit_received_count: c(
                "learner_commit_received_count",
                "Commits received by a learner",
            )?,
            revalidate_count: c(
                "revalidate_count",
                "Session revalidations asked by learners",
            )?,
            connection_rejected: c("connection_rejected", "Client connections refused")?,
            connection_request_count: c("connection_request_count", "Connect requests handled")?,
            connection_revalidate_count: c(
                "connection_revalidate_count",
                "Connect requests for an existing session",
            )?,
            stale_sessions_expired: c("stale_sessions_expired", "Sessions expired")?,
            watch_bytes: c("watch_bytes", "Bytes of watch notifications sent")?,
            looking_count: c("looking_count", "Times this server started an election")?,
            diff_count: c("diff_count", "Learner syncs by DIFF")?,
            snap_count: c("snap_count", "Learner syncs by SNAP")?,
            leader_changes: c("leader_changes", "Leaders elected as seen by this server")?,
            snapshots_taken: c("snapshots_taken", "Snapshots written")?,
            last_snapshot_size_bytes: g("last_snapshot_size_bytes", "Last snapshot, bytes")?,
            summaries: summaries.take(),
            counters: counters.take(),
            registry: r,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records a finished client request: Apache's read/update latency summaries plus our
    /// per-op histogram.
    pub fn observe_request(&self, op: i32, is_write: bool, ms: f64) {
        if is_write {
            self.updatelatency.observe(ms);
        } else {
            self.readlatency.observe(ms);
        }
        self.request_latency_ms
            .with_label_values(&[op_label(op)])
            .observe(ms);
    }

    /// Records a finished election (to be called by the quorum code once it has a leader).
    pub fn observe_election(&self, ms: f64) {
        self.election_time.observe(ms);
        self.election_time_ms.observe(ms);
        self.leader_changes.inc();
    }

    /// Records a written snapshot.
    pub fn observe_snapshot(&self, ms: f64, bytes: u64) {
        self.snapshottime.observe(ms);
        self.snapshots_taken.inc();
        self.last_snapshot_size_bytes.set(clamp_i64(bytes));
    }

    /// Copies the core's snapshot into the gauges (called at scrape time).
    pub fn set_from_info(&self, i: &ServerInfo) {
        let g = &self.info;
        g.znode_count.set(clamp_i64(i.node_count));
        g.watch_count.set(clamp_i64(i.watch_count));
        g.ephemerals_count.set(clamp_i64(i.ephemerals_count));
        g.outstanding_requests
            .set(clamp_i64(i.outstanding_requests));
        g.num_alive_connections
            .set(clamp_i64(i.num_alive_connections));
        g.global_sessions.set(clamp_i64(i.global_sessions));
        g.local_sessions.set(clamp_i64(i.local_sessions));
        g.approximate_data_size
            .set(clamp_i64(i.approximate_data_size));
        g.open_file_descriptor_count
            .set(clamp_i64(i.open_file_descriptor_count));
        g.max_file_descriptor_count
            .set(clamp_i64(i.max_file_descriptor_count));
        g.uptime.set(clamp_i64(i.uptime_ms));
        g.packets_sent.set(clamp_i64(i.packets_sent));
        g.packets_received.set(clamp_i64(i.packets_received));
        g.min_latency.set(clamp_i64(i.latency_min));
        g.max_latency.set(clamp_i64(i.latency_max));
        g.avg_latency.set(i.latency_avg);
        g.last_client_response_size.set(i.last_client_response_size);
        g.min_client_response_size.set(i.min_client_response_size);
        g.max_client_response_size.set(i.max_client_response_size);
        g.quorum_size.set(clamp_i64(i.quorum_size));
        let l = i.leader.clone().unwrap_or_default();
        g.learners.set(clamp_i64(l.learners));
        g.synced_followers.set(clamp_i64(l.synced_followers));
        g.synced_non_voting_followers
            .set(clamp_i64(l.synced_non_voting_followers));
        g.synced_observers.set(clamp_i64(l.synced_observers));
        g.pending_syncs.set(clamp_i64(l.pending_syncs));
        g.leader_uptime.set(clamp_i64(l.leader_uptime_ms));
        g.last_proposal_size.set(l.last_proposal_size);
        g.min_proposal_size.set(l.min_proposal_size);
        g.max_proposal_size.set(l.max_proposal_size);
        g.datadir_size.set(clamp_i64(i.data_dir_size));
        g.logdir_size.set(clamp_i64(i.data_log_size));
        g.serving.set(i64::from(i.serving));
        g.server_state.set(match i.mode {
            Mode::Standalone => 0,
            Mode::Leader => 1,
            Mode::Follower => 2,
            Mode::Observer => 3,
            Mode::ReadOnly => 4,
        });
    }

    /// The registry in Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|_| MetricsError::Utf8)
    }

    /// Names of every registered metric family (what dashboards may query), sorted.
    pub fn family_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .registry
            .gather()
            .into_iter()
            .map(|mf| mf.name().to_string())
            .collect();
        v.sort();
        v
    }

    /// Every series name a query may use: families plus their `_count`, `_sum`, `_bucket`
    /// suffixes for summaries and histograms.
    pub fn series_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        for mf in self.registry.gather() {
            let n = mf.name().to_string();
            match mf.get_field_type() {
                prometheus::proto::MetricType::SUMMARY => {
                    v.push(format!("{n}_count"));
                    v.push(format!("{n}_sum"));
                }
                prometheus::proto::MetricType::HISTOGRAM => {
                    v.push(format!("{n}_count"));
                    v.push(format!("{n}_sum"));
                    v.push(format!("{n}_bucket"));
                }
                _ => {}
            }
            v.push(n);
        }
        v.sort();
        v
    }
}

/// The `op` label of a request: Apache's op name (`create`, `getData`, ...).
pub fn op_label(op: i32) -> &'static str {
    crate::proto::codes::op::name(op)
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The process-wide metrics. Registration of fixed, valid names cannot fail; if it ever
/// did, that is a programming error caught by this module's tests.
pub fn metrics() -> &'static Metrics {
    METRICS.get_or_init(|| {
        #[allow(clippy::expect_used)]
        Metrics::new().expect("static metric definitions are valid")
    })
}

#[cfg(test)]
mod tests;
