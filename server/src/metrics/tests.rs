use super::*;
use crate::admin::LeaderStats;

#[test]
fn apache_names_are_registered() {
    let m = Metrics::new().unwrap();
    let names = m.family_names();
    for n in [
        "znode_count",
        "watch_count",
        "outstanding_requests",
        "ephemerals_count",
        "global_sessions",
        "num_alive_connections",
        "approximate_data_size",
        "quorum_size",
        "learners",
        "synced_followers",
        "leader_uptime",
        "packets_sent",
        "packets_received",
        "bytes_received_count",
        "response_bytes",
        "election_time",
        "fsynctime",
        "snapshottime",
        "readlatency",
        "updatelatency",
        "propagation_latency",
        "commit_propagation_latency",
        "quorum_ack_latency",
    ] {
        assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
    }
    let series = m.series_names();
    assert!(series.contains(&"fsynctime_count".to_string()));
    assert!(series.contains(&"request_latency_ms_bucket".to_string()));
}

#[test]
fn rendered_text_parses_and_reflects_observations() {
    let m = Metrics::new().unwrap();
    m.observe_request(crate::proto::codes::op::CREATE, true, 3.0);
    m.observe_request(crate::proto::codes::op::GET_DATA, false, 1.0);
    m.fsynctime.observe(2.5);
    m.observe_election(120.0);
    m.bytes_received_count.inc_by(42);
    let info = ServerInfo {
        node_count: 7,
        ephemerals_count: 2,
        serving: true,
        mode: Mode::Leader,
        leader: Some(LeaderStats {
            learners: 2,
            synced_followers: 2,
            ..Default::default()
        }),
        ..Default::default()
    };
    m.set_from_info(&info);
    let text = m.render().unwrap();
    let e = exposition::parse(&text).unwrap();
    assert_eq!(e.value("znode_count", &[]), Some(7.0));
    assert_eq!(e.value("ephemerals_count", &[]), Some(2.0));
    assert_eq!(e.value("learners", &[]), Some(2.0));
    assert_eq!(e.value("server_state", &[]), Some(1.0));
    assert_eq!(e.value("serving", &[]), Some(1.0));
    assert_eq!(e.value("bytes_received_count", &[]), Some(42.0));
    assert_eq!(
        e.types.get("fsynctime").map(String::as_str),
        Some("summary")
    );
    assert_eq!(e.value("fsynctime_count", &[]), Some(1.0));
    assert_eq!(e.value("fsynctime_sum", &[]), Some(2.5));
    assert_eq!(e.value("updatelatency", &[("quantile", "0.99")]), Some(3.0));
    assert_eq!(e.value("readlatency_count", &[]), Some(1.0));
    assert_eq!(
        e.value("request_latency_ms_count", &[("op", "create")]),
        Some(1.0)
    );
    assert_eq!(
        e.value(
            "request_latency_ms_bucket",
            &[("op", "getData"), ("le", "1")]
        ),
        Some(1.0)
    );
    assert_eq!(e.value("election_time_ms_count", &[]), Some(1.0));
    assert_eq!(e.value("election_time_sum", &[]), Some(120.0));
    assert_eq!(e.value("leader_changes", &[]), Some(1.0));
}

#[test]
fn global_metrics_are_shared() {
    let a = metrics() as *const Metrics;
    let b = metrics() as *const Metrics;
    assert_eq!(a, b);
    let before = metrics().snapshots_taken.get();
    metrics().observe_snapshot(5.0, 1234);
    assert!(metrics().snapshots_taken.get() > before);
}

#[test]
fn mntr_values_are_the_registered_apache_metrics() {
    let m = Metrics::new().unwrap();
    m.updatelatency.observe(3.7);
    m.updatelatency.observe(1.2);
    m.fsynctime.observe(0.4);
    m.commit_count.inc_by(2);
    m.leader_changes.inc();
    let v = m.mntr_values();
    // Every registered summary is one mntr prints, under the same name.
    for name in [
        "fsynctime",
        "snapshottime",
        "dbinittime",
        "readlatency",
        "updatelatency",
        "propagation_latency",
        "commit_propagation_latency",
        "quorum_ack_latency",
        "write_final_proc_time_ms",
        "election_time",
        "follower_sync_time",
        "observer_sync_time",
    ] {
        assert!(v.summaries.contains_key(name), "{name} missing");
    }
    let u = v.summaries["updatelatency"];
    assert_eq!((u.count, u.sum, u.min, u.max), (2, 4, 1, 3));
    assert_eq!(u.percentiles, Some([2, 3, 3, 3]));
    let f = v.summaries["fsynctime"];
    assert_eq!((f.count, f.sum, f.percentiles), (1, 0, None));
    assert_eq!(v.counters.get("commit_count"), Some(&2));
    assert_eq!(v.counters.get("proposal_count"), Some(&0));
    assert_eq!(v.counters.get("learner_commit_received_count"), Some(&0));
    // Our own extensions are not mntr keys.
    assert!(!v.counters.contains_key("leader_changes"));
    assert!(!v.counters.contains_key("snapshots_taken"));
    assert!(v.counters.keys().all(|k| crate::admin::is_mntr_counter(k)));
}
