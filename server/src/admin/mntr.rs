//! `mntr`: Apache 3.8's key order and formatting.
//!
//! Apache prints its server gauges from a hash map, then every summary metric of its
//! metrics provider; both orders are fixed for a given key set, so we reproduce them
//! from captures of a real 3.8 server (standalone, follower and leader).

use super::javafmt::{java_double, round4};
use super::{Mode, ServerInfo, Summary};

/// Which servers print a gauge.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    Always,
    /// Every server that is part of an ensemble (leader, follower, observer).
    Quorum,
    Leader,
}

/// The gauges before the summaries, in Apache's order.
const GAUGES: &[(&str, Shown)] = &[
    ("version", Shown::Always),
    ("server_state", Shown::Always),
    ("peer_state", Shown::Quorum),
    ("ephemerals_count", Shown::Always),
    ("num_alive_connections", Shown::Always),
    ("avg_latency", Shown::Always),
    ("min_proposal_size", Shown::Leader),
    ("outstanding_requests", Shown::Always),
    ("znode_count", Shown::Always),
    ("global_sessions", Shown::Always),
    ("non_mtls_remote_conn_count", Shown::Always),
    ("last_client_response_size", Shown::Always),
    ("packets_sent", Shown::Always),
    ("packets_received", Shown::Always),
    ("max_proposal_size", Shown::Leader),
    ("max_client_response_size", Shown::Always),
    ("synced_followers", Shown::Leader),
    ("connection_drop_probability", Shown::Always),
    ("watch_count", Shown::Always),
    ("synced_non_voting_followers", Shown::Leader),
    ("synced_observers", Shown::Leader),
    ("auth_failed_count", Shown::Always),
    ("min_latency", Shown::Always),
    ("max_file_descriptor_count", Shown::Always),
    ("approximate_data_size", Shown::Always),
    ("open_file_descriptor_count", Shown::Always),
    ("last_proposal_size", Shown::Leader),
    ("pending_syncs", Shown::Leader),
    ("leader_uptime", Shown::Leader),
    ("local_sessions", Shown::Always),
    ("uptime", Shown::Always),
    ("max_latency", Shown::Always),
    ("outstanding_tls_handshake", Shown::Always),
    ("learners", Shown::Leader),
    ("min_client_response_size", Shown::Always),
    ("non_mtls_local_conn_count", Shown::Always),
    ("quorum_size", Shown::Quorum),
];

/// Counters printed after the gauges, in Apache's order; values come from
/// `ServerInfo::counters` (missing ones are 0), which the core fills from the metrics
/// registry (`Metrics::mntr_values`).
///
/// Counted where the events happen:
/// `proposal_count`, `commit_count`, `learner_proposal_received_count`,
/// `learner_commit_received_count`, `revalidate_count`, `looking_count`, `diff_count`,
/// `snap_count`, `bytes_received_count`, `response_bytes`, `watch_bytes`,
/// `connection_request_count`, `connection_revalidate_count`, `connection_rejected`,
/// `stale_sessions_expired`.
///
/// Always 0 because the machinery they count does not exist here: request and connection
/// throttling (`throttled_ops`, `request_throttle_wait_count`, `stale_requests`,
/// `stale_requests_dropped`, `stale_replies`, `large_requests_rejected`,
/// `connection_drop_count`), Netty and TLS (`cnxn_closed_without_zk_server_running`,
/// `unsuccessful_handshake`, `tls_handshake_exceeded`, `insecure_admin_count`), the
/// response cache (`response_packet_*`), the dead-watcher cleaner (`dead_watchers_*`,
/// `add_dead_watcher_stall_time`), Apache's request-processor queues and outstanding-change
/// list (`prep_processor_request_queued`, `sync_processor_request_queued`,
/// `request_commit_queued`, `requests_not_forwarded_to_commit_processor`,
/// `skip_learner_request_to_next_processor_count`, `outstanding_changes_queued`,
/// `outstanding_changes_removed`), the connection expiry queue
/// (`sessionless_connections_expired`), digests (`digest_mismatches_count`), ensemble
/// auth (`ensemble_auth_*`), maxTimeToWaitForEpoch (`quit_leading_due_to_disloyal_voter`);
/// `unrecoverable_error_count` stays 0 because such errors end the process. The gauge
/// `auth_failed_count` stays 0 too: Apache counts only failed TLS client-certificate
/// handshakes there, not failed `addauth`.
pub(super) const COUNTERS: &[&str] = &[
    "proposal_count",
    "watch_bytes",
    "outstanding_changes_removed",
    "throttled_ops",
    "stale_requests_dropped",
    "large_requests_rejected",
    "insecure_admin_count",
    "connection_rejected",
    "cnxn_closed_without_zk_server_running",
    "sessionless_connections_expired",
    "looking_count",
    "dead_watchers_queued",
    "stale_requests",
    "connection_drop_count",
    "learner_proposal_received_count",
    "digest_mismatches_count",
    "dead_watchers_cleared",
    "response_packet_cache_hits",
    "bytes_received_count",
    "add_dead_watcher_stall_time",
    "request_throttle_wait_count",
    "requests_not_forwarded_to_commit_processor",
    "response_packet_cache_misses",
    "ensemble_auth_success",
    "prep_processor_request_queued",
    "learner_commit_received_count",
    "stale_replies",
    "connection_request_count",
    "response_bytes",
    "ensemble_auth_fail",
    "diff_count",
    "response_packet_get_children_cache_misses",
    "connection_revalidate_count",
    "quit_leading_due_to_disloyal_voter",
    "snap_count",
    "unrecoverable_error_count",
    "unsuccessful_handshake",
    "commit_count",
    "stale_sessions_expired",
    "response_packet_get_children_cache_hits",
    "sync_processor_request_queued",
    "outstanding_changes_queued",
    "request_commit_queued",
    "ensemble_auth_skip",
    "skip_learner_request_to_next_processor_count",
    "tls_handshake_exceeded",
    "revalidate_count",
];

pub(super) const BASIC_SUMMARIES: &[&str] = &[
    "socket_closing_time",
    "proposal_process_time",
    "leader_unavailable_time",
    "node_created_watch_count",
    "session_queues_drained",
    "write_commit_proc_req_queued",
    "connection_token_deficit",
    "read_commit_proc_req_queued",
    "node_deleted_watch_count",
    "startup_txns_load_time",
    "sync_processor_queue_size",
    "follower_sync_time",
    "prep_processor_queue_size",
    "fsynctime",
    "inflight_snap_count",
    "reads_issued_from_session_queue",
    "learner_request_processor_queue_size",
    "snapshottime",
    "unavailable_time",
    "startup_txns_loaded",
    "reads_after_write_in_session_queue",
    "requests_in_session_queue",
    "write_commit_proc_issued",
    "prep_process_time",
    "pending_session_queue_size",
    "time_waiting_empty_pool_in_commit_processor_read_ms",
    "commit_process_time",
    "dbinittime",
    "inflight_diff_count",
    "netty_queued_buffer_capacity",
    "election_time",
    "commit_commit_proc_req_queued",
    "sync_processor_batch_size",
    "node_children_watch_count",
    "write_batch_time_in_commit_processor",
    "read_commit_proc_issued",
    "concurrent_request_processing_in_commit_processor",
    "observer_sync_time",
    "node_changed_watch_count",
    "sync_process_time",
    "startup_snap_load_time",
];
pub(super) const PERCENTILE_SUMMARIES: &[&str] = &[
    "prep_processor_queue_time_ms",
    "jvm_pause_time_ms",
    "close_session_prep_time",
    "read_commitproc_time_ms",
    "updatelatency",
    "local_write_committed_time_ms",
    "request_throttle_queue_time_ms",
    "readlatency",
    "quorum_ack_latency",
    "om_commit_process_time_ms",
    "read_final_proc_time_ms",
    "commit_propagation_latency",
    "dead_watchers_cleaner_latency",
    "write_final_proc_time_ms",
    "proposal_ack_creation_latency",
    "proposal_latency",
    "om_proposal_process_time_ms",
    "sync_processor_queue_and_flush_time_ms",
    "propagation_latency",
    "server_write_committed_time_ms",
    "sync_processor_queue_time_ms",
    "sync_processor_queue_flush_time_ms",
    "write_commitproc_time_ms",
];

/// Whether `mntr` prints a counter of this name (without `zk_`).
pub fn is_counter(name: &str) -> bool {
    COUNTERS.contains(&name)
}

/// Whether `mntr` prints a summary of this name (the part after `avg_`, `cnt_`...).
pub fn is_summary(name: &str) -> bool {
    BASIC_SUMMARIES.contains(&name) || PERCENTILE_SUMMARIES.contains(&name)
}

/// Renders the whole `mntr` answer.
pub(super) fn render_mntr(info: &ServerInfo) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: String| {
        out.push_str("zk_");
        out.push_str(key);
        out.push('\t');
        out.push_str(&value);
        out.push('\n');
    };
    let in_quorum = matches!(info.mode, Mode::Leader | Mode::Follower | Mode::Observer);
    let leader = info.leader.as_ref().filter(|_| info.mode == Mode::Leader);
    for &(key, shown) in GAUGES {
        let show = match shown {
            Shown::Always => true,
            Shown::Quorum => in_quorum,
            Shown::Leader => leader.is_some(),
        };
        if !show {
            continue;
        }
        let value = match key {
            "version" => info.version.clone(),
            "server_state" => info.mode.as_str().to_string(),
            "peer_state" => info.peer_state.clone(),
            "ephemerals_count" => info.ephemerals_count.to_string(),
            "num_alive_connections" => info.num_alive_connections.to_string(),
            "avg_latency" => java_double(round4(info.latency_avg)),
            "outstanding_requests" => info.outstanding_requests.to_string(),
            "znode_count" => info.node_count.to_string(),
            "global_sessions" => info.global_sessions.to_string(),
            "last_client_response_size" => info.last_client_response_size.to_string(),
            "packets_sent" => info.packets_sent.to_string(),
            "packets_received" => info.packets_received.to_string(),
            "max_client_response_size" => info.max_client_response_size.to_string(),
            "connection_drop_probability" => java_double(info.connection_drop_probability),
            "watch_count" => info.watch_count.to_string(),
            "min_latency" => info.latency_min.to_string(),
            "max_file_descriptor_count" => info.max_file_descriptor_count.to_string(),
            "approximate_data_size" => info.approximate_data_size.to_string(),
            "open_file_descriptor_count" => info.open_file_descriptor_count.to_string(),
            "local_sessions" => info.local_sessions.to_string(),
            "uptime" => info.uptime_ms.to_string(),
            "max_latency" => info.latency_max.to_string(),
            "min_client_response_size" => info.min_client_response_size.to_string(),
            "quorum_size" => info.quorum_size.to_string(),
            _ => match leader {
                Some(l) if shown == Shown::Leader => match key {
                    "min_proposal_size" => l.min_proposal_size.to_string(),
                    "max_proposal_size" => l.max_proposal_size.to_string(),
                    "last_proposal_size" => l.last_proposal_size.to_string(),
                    "synced_followers" => l.synced_followers.to_string(),
                    "synced_non_voting_followers" => l.synced_non_voting_followers.to_string(),
                    "synced_observers" => l.synced_observers.to_string(),
                    "pending_syncs" => l.pending_syncs.to_string(),
                    "leader_uptime" => l.leader_uptime_ms.to_string(),
                    _ => l.learners.to_string(),
                },
                _ => info.counter(key).to_string(),
            },
        };
        line(key, value);
    }
    for &key in COUNTERS {
        line(key, info.counter(key).to_string());
    }
    let zero = Summary::default();
    for &name in BASIC_SUMMARIES {
        summary_lines(
            &mut line,
            name,
            info.summaries.get(name).unwrap_or(&zero),
            false,
        );
    }
    for &name in PERCENTILE_SUMMARIES {
        summary_lines(
            &mut line,
            name,
            info.summaries.get(name).unwrap_or(&zero),
            true,
        );
    }
    for (name, summary) in &info.extra_summaries {
        summary_lines(&mut line, name, summary, summary.percentiles.is_some());
    }
    out
}

fn summary_lines(line: &mut impl FnMut(&str, String), name: &str, s: &Summary, percentiles: bool) {
    line(&format!("avg_{name}"), java_double(s.avg()));
    line(&format!("min_{name}"), s.min.to_string());
    line(&format!("max_{name}"), s.max.to_string());
    line(&format!("cnt_{name}"), s.count.to_string());
    line(&format!("sum_{name}"), s.sum.to_string());
    if percentiles {
        let p = s.percentiles.unwrap_or_default();
        line(&format!("p50_{name}"), p[0].to_string());
        line(&format!("p95_{name}"), p[1].to_string());
        line(&format!("p99_{name}"), p[2].to_string());
        line(&format!("p999_{name}"), p[3].to_string());
    }
}
