//! The HTTP side of a running `zkserver`: Prometheus `/metrics` after real traffic, the
//! AdminServer's JSON commands, and the Kubernetes probes.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::apache::free_port;
use common::util::{connect, open};
use common::zkserver::ZkServer;
use zkserver::metrics::exposition;
use zkserver::proto::codes::CreateMode;

/// A minimal HTTP/1.1 GET: (status, body).
fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn json(port: u16, path: &str) -> serde_json::Value {
    let (status, body) = http_get(port, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

struct Ports {
    metrics: u16,
    admin: u16,
}

fn start() -> (ZkServer, Ports) {
    let p = Ports {
        metrics: free_port(),
        admin: free_port(),
    };
    let zk = ZkServer::builder()
        .cfg(
            "metricsProvider.className",
            "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
        )
        .cfg("metricsProvider.httpHost", "127.0.0.1")
        .cfg("metricsProvider.httpPort", p.metrics)
        .cfg("admin.enableServer", "true")
        .cfg("admin.serverAddress", "127.0.0.1")
        .cfg("admin.serverPort", p.admin)
        .start();
    (zk, p)
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_move_with_traffic_and_parse() {
    let (zk, p) = start();
    let before = exposition::parse(&http_get(p.metrics, "/metrics").1).unwrap();
    let (c, _rx) = connect(&zk.addr()).await;
    for i in 0..5 {
        c.create(&format!("/m{i}"), b"data", &open(), CreateMode::Persistent)
            .await
            .unwrap();
    }
    c.create("/eph", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    c.get_data("/m0", false).await.unwrap();
    let port = p.metrics;
    let (status, text) = tokio::task::spawn_blocking(move || http_get(port, "/metrics"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let after = exposition::parse(&text).unwrap();
    let v = |e: &exposition::Exposition, n: &str, l: &[(&str, &str)]| e.value(n, l).unwrap_or(0.0);
    assert!(
        v(&after, "request_latency_ms_count", &[("op", "create")])
            >= v(&before, "request_latency_ms_count", &[("op", "create")]) + 6.0
    );
    assert!(v(&after, "request_latency_ms_count", &[("op", "getData")]) >= 1.0);
    assert!(v(&after, "updatelatency_count", &[]) >= 6.0);
    assert!(v(&after, "fsynctime_count", &[]) > v(&before, "fsynctime_count", &[]));
    assert!(v(&after, "bytes_received_count", &[]) > v(&before, "bytes_received_count", &[]));
    assert!(v(&after, "response_bytes", &[]) > v(&before, "response_bytes", &[]));
    assert!(
        v(&after, "snapshottime_count", &[]) >= 1.0,
        "start-up snapshot"
    );
    assert_eq!(v(&after, "ephemerals_count", &[]), 1.0);
    assert!(v(&after, "znode_count", &[]) >= 7.0);
    assert_eq!(v(&after, "global_sessions", &[]), 1.0);
    assert_eq!(v(&after, "num_alive_connections", &[]), 1.0);
    assert_eq!(v(&after, "serving", &[]), 1.0);
    assert_eq!(
        after.types.get("readlatency").map(String::as_str),
        Some("summary")
    );
    assert!(after
        .value("updatelatency", &[("quantile", "0.99")])
        .is_some());
    // The admin port does not serve metrics; the metrics port does not serve commands.
    assert_eq!(http_get(p.admin, "/metrics").0, 404);
    assert_eq!(http_get(p.metrics, "/commands/ruok").0, 404);
    drop(c);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_commands_answer_as_apache() {
    let (zk, p) = start();
    let (c, _rx) = connect(&zk.addr()).await;
    c.create("/a", b"x", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.create("/e", b"y", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    c.get_data("/a", true).await.unwrap();
    let port = p.admin;
    tokio::task::spawn_blocking(move || {
        assert_eq!(
            json(port, "/commands/ruok"),
            serde_json::json!({"command": "ruok", "error": null})
        );
        let srvr = json(port, "/commands/srvr");
        assert_eq!(
            keys(&srvr),
            [
                "version",
                "read_only",
                "server_stats",
                "client_response",
                "node_count",
                "command",
                "error"
            ]
        );
        let stats_keys = keys(&srvr["server_stats"]);
        for k in [
            "packets_sent",
            "packets_received",
            "fsync_threshold_exceed_count",
            "client_response_stats",
            "provider_null",
            "data_dir_size",
            "log_dir_size",
            "server_state",
            "last_processed_zxid",
            "outstanding_requests",
            "avg_latency",
            "max_latency",
            "min_latency",
            "num_alive_client_connections",
            "uptime",
            "auth_failed_count",
            "non_mtlsremote_conn_count",
            "non_mtlslocal_conn_count",
        ] {
            assert!(stats_keys.contains(&k.to_string()), "server_stats.{k}");
        }
        assert_eq!(srvr["server_stats"]["num_alive_client_connections"], 1);
        let mntr = json(port, "/commands/mntr");
        assert_eq!(mntr["command"], "monitor");
        assert_eq!(mntr["server_state"], "standalone");
        assert_eq!(mntr["ephemerals_count"], 1);
        assert_eq!(mntr["watch_count"], 1);
        for k in [
            "znode_count",
            "approximate_data_size",
            "avg_fsynctime",
            "p99_readlatency",
        ] {
            assert!(mntr.get(k).is_some(), "monitor.{k}");
        }
        let conf = json(port, "/commands/conf");
        assert_eq!(
            keys(&conf),
            [
                "client_port",
                "data_dir",
                "data_log_dir",
                "tick_time",
                "max_client_cnxns",
                "min_session_timeout",
                "max_session_timeout",
                "server_id",
                "client_port_listen_backlog",
                "command",
                "error"
            ]
        );
        let cons = json(port, "/commands/cons");
        let conn = &cons["connections"][0];
        for k in [
            "remote_socket_address",
            "interest_ops",
            "outstanding_requests",
            "packets_received",
            "packets_sent",
            "session_id",
            "last_operation",
            "established",
            "session_timeout",
            "last_cxid",
            "last_zxid",
            "last_response_time",
            "last_latency",
            "min_latency",
            "avg_latency",
            "max_latency",
        ] {
            assert!(conn.get(k).is_some(), "connections[0].{k}: {cons}");
        }
        let dump = json(port, "/commands/dump");
        let eph = dump["session_id_to_ephemeral_paths"].as_object().unwrap();
        assert_eq!(eph.values().next().unwrap(), &serde_json::json!(["/e"]));
        let wchp = json(port, "/commands/watches_by_path");
        assert!(wchp["path_to_session_ids"].get("/a").is_some());
        let lsnp = json(port, "/commands/last_snapshot");
        assert!(lsnp["timestamp"].as_i64().unwrap() > 1_600_000_000);
        let nosuch = json(port, "/commands/nosuch");
        assert_eq!(
            nosuch,
            serde_json::json!({"command": "nosuch", "error": "Unknown command: nosuch"})
        );
        assert_eq!(http_get(port, "/readyz").0, 200);
        assert_eq!(http_get(port, "/healthz").0, 200);
        let (status, index) = http_get(port, "/commands");
        assert_eq!(status, 200);
        assert!(index.contains("/commands/monitor"));
    })
    .await
    .unwrap();
    drop(c);
}
