//! `mntr` and the AdminServer's `monitor` of a running standalone server report what the
//! metrics registry recorded. The registry is process-wide, so other tests may add to it:
//! the checks are lower bounds and consistency, never exact totals.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::{four_letter_word, Client, ClientConfig};
use crate::config::ServerConfig;
use crate::proto::codes::CreateMode;
use crate::proto::records::Acl;

const WAIT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn mntr_map(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn num(m: &BTreeMap<String, String>, key: &str) -> i64 {
    m.get(key)
        .unwrap_or_else(|| panic!("{key} missing from mntr"))
        .parse()
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

async fn http_get(port: u16, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut raw))
        .await
        .unwrap()
        .unwrap();
    raw.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_mntr_reports_recorded_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (port, admin_port) = (free_port(), free_port());
    let text = format!(
        "dataDir={}\nclientPort={port}\n4lw.commands.whitelist=*\n\
         admin.enableServer=true\nadmin.serverAddress=127.0.0.1\n\
         admin.serverPort={admin_port}\n",
        dir.path().display()
    );
    let cfg = ServerConfig::parse_str(&text, dir.path(), &[]).unwrap();
    let server = tokio::spawn(super::run(cfg));
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    while four_letter_word(&addr, "ruok").await.ok().as_deref() != Some("imok") {
        assert!(!server.is_finished(), "server ended: {:?}", server.await);
        assert!(started.elapsed() < WAIT, "server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let before = mntr_map(&four_letter_word(&addr, "mntr").await.unwrap());
    assert_eq!(num(&before, "zk_last_client_response_size"), -1);
    let (c, _events) = Client::connect(
        ClientConfig::new([addr.as_str()]).with_session_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let acl = Acl::open_unsafe();
    for i in 0..3 {
        let path = format!("/m{i}");
        c.create(&path, b"x", &acl, CreateMode::Persistent)
            .await
            .unwrap();
    }
    c.get_data("/m0", true).await.unwrap();
    // The notification is queued before the reply, so it is counted by now.
    c.set_data("/m0", b"y", -1).await.unwrap();

    let m = mntr_map(&four_letter_word(&addr, "mntr").await.unwrap());
    let grew = |key: &str, by: i64| {
        assert!(
            num(&m, key) >= num(&before, key) + by,
            "{key}: {} then {}",
            num(&before, key),
            num(&m, key)
        )
    };
    // createSession, 3 creates and a setData are writes; each was fsynced and applied.
    grew("zk_cnt_updatelatency", 5);
    grew("zk_cnt_fsynctime", 1);
    grew("zk_cnt_propagation_latency", 5);
    grew("zk_cnt_readlatency", 1);
    grew("zk_connection_request_count", 1);
    grew("zk_watch_bytes", 1);
    assert!(num(&m, "zk_cnt_dbinittime") >= 1);
    for s in ["updatelatency", "fsynctime", "readlatency"] {
        let (min, max) = (
            num(&m, &format!("zk_min_{s}")),
            num(&m, &format!("zk_max_{s}")),
        );
        assert!(0 <= min && min <= max, "{s}: min {min} max {max}");
        assert!(num(&m, &format!("zk_sum_{s}")) >= max);
    }
    let p50 = num(&m, "zk_p50_updatelatency");
    let p999 = num(&m, "zk_p999_updatelatency");
    assert!(p50 <= p999 && p999 <= num(&m, "zk_max_updatelatency"));
    let (last, min, max) = (
        num(&m, "zk_last_client_response_size"),
        num(&m, "zk_min_client_response_size"),
        num(&m, "zk_max_client_response_size"),
    );
    // Reply header (16 bytes) plus a body at least; the getData reply carries a Stat.
    assert!(
        16 <= min && min <= last && last <= max && max > 16,
        "{min} {last} {max}"
    );

    // The AdminServer's monitor is the same answer as JSON.
    let body = http_get(admin_port, "/commands/monitor").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let cnt = v["cnt_updatelatency"].as_i64().unwrap();
    assert!(cnt >= num(&m, "zk_cnt_updatelatency"), "{v}");
    assert!(v["cnt_fsynctime"].as_i64().unwrap() >= 1, "{v}");

    // srst starts the client response sizes over, as Apache's does (no session left to
    // ping meanwhile).
    c.close().await.unwrap();
    four_letter_word(&addr, "srst").await.unwrap();
    let m = mntr_map(&four_letter_word(&addr, "mntr").await.unwrap());
    assert_eq!(num(&m, "zk_max_client_response_size"), -1);
}
