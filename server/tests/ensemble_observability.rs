//! Metrics and the AdminServer of a running 3-server ensemble: after writes and a forced
//! election (kill -9 of the leader), the election, quorum-ack and commit-propagation
//! histograms have moved, /metrics parses as Prometheus text, and the AdminServer and the
//! readiness probe report each member's role; `mntr` reports each member's proposals,
//! commits and their latencies.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::apache::four_letter_blocking;
use common::ensemble::EnsembleBuilder;
use common::util::open;
use zkserver::metrics::exposition::{self, Exposition};
use zkserver::proto::codes::CreateMode;

/// A minimal HTTP/1.1 GET: (status, body), `None` while nothing listens.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn scrape(port: u16) -> Exposition {
    let (status, body) = http_get(port, "/metrics").expect("metrics endpoint answers");
    assert_eq!(status, 200, "{body}");
    exposition::parse(&body).unwrap_or_else(|e| panic!("bad exposition text: {e}\n{body}"))
}

fn count(e: &Exposition, name: &str) -> f64 {
    e.value(&format!("{name}_count"), &[]).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn election_and_commit_metrics_move_on_every_member() {
    let mut ens = EnsembleBuilder::new(3).with_http().start().await;
    let old = ens.wait_leader().await;
    let follower = (0..3).find(|i| *i != old).unwrap();
    let c = ens.client(follower).await;
    for i in 0..20 {
        c.create(&format!("/m{i}"), b"x", &open(), CreateMode::Persistent)
            .await
            .unwrap();
    }
    let before = scrape(ens.members[follower].metrics_port);
    assert!(
        count(&before, "election_time_ms") >= 1.0,
        "first election recorded"
    );
    assert!(count(&before, "commit_propagation_latency") >= 20.0);
    let leader_metrics = scrape(ens.members[old].metrics_port);
    assert!(count(&leader_metrics, "quorum_ack_latency") >= 20.0);
    assert!(count(&leader_metrics, "write_final_proc_time_ms") >= 20.0);
    let mntr = four_letter_blocking(&ens.addr(old), "mntr").unwrap();
    for line in [
        "zk_synced_followers\t2",
        "zk_learners\t2",
        "zk_quorum_size\t3",
    ] {
        assert!(
            mntr.lines().any(|l| l == line),
            "{line:?} not in leader mntr:\n{mntr}"
        );
    }
    drop(c);

    ens.kill9(old);
    let new = ens.wait_leader().await;
    assert_ne!(new, old);
    let c = ens.client(new).await;
    c.create("/after", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let after = scrape(ens.members[new].metrics_port);
    assert!(
        count(&after, "election_time_ms") >= 2.0,
        "the forced election is recorded on the new leader"
    );
    assert!(after.value("leader_changes", &[]).unwrap_or(0.0) >= 2.0);
    assert!(count(&after, "quorum_ack_latency") >= 1.0);

    // The AdminServer and the probes report the roles.
    let (status, body) = http_get(ens.members[new].admin_port, "/commands/srvr").unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["server_stats"]["server_state"], "leader", "{v}");
    let other = (0..3).find(|i| *i != old && *i != new).unwrap();
    let (status, _) = http_get(ens.members[other].admin_port, "/readyz").unwrap();
    assert_eq!(status, 200, "a synced follower is ready");
    let (_, body) = http_get(ens.members[other].admin_port, "/commands/leader").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["is_leader"], false, "{v}");
    assert_eq!(v["leader_id"], ens.members[new].id, "{v}");
    let (_, body) = http_get(ens.members[other].admin_port, "/commands/voting_view").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["current_config"].as_object().map(|m| m.len()),
        Some(3),
        "{v}"
    );
}

fn admin_json(port: u16, command: &str) -> serde_json::Value {
    let (status, body) = http_get(port, &format!("/commands/{command}"))
        .unwrap_or_else(|| panic!("AdminServer on {port} answers {command}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The leader's AdminServer `observers` lists its observer with the observer's connection
/// counters (Apache's LearnerHandler info); followers and the observer list none, as
/// Apache's do without observerMaster; `mntr` counts the same observers; a killed observer
/// drops off the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_lists_its_observer_in_the_admin_server() {
    let mut ens = EnsembleBuilder::new(3)
        .observers(1)
        .with_http()
        .start()
        .await;
    let leader = ens.wait_leader().await;
    let observer = 3;
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    // Writes through the observer are forwarded to the leader as REQUEST packets.
    let c = ens.client(observer).await;
    let mut last_czxid = 0;
    for i in 0..5 {
        let (_, stat) = c
            .create2(&format!("/obs{i}"), b"x", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        last_czxid = stat.czxid;
    }

    let leader_port = ens.members[leader].admin_port;
    let v = admin_json(leader_port, "observers");
    assert_eq!(v["command"], "observers", "{v}");
    assert_eq!(v["error"], serde_json::Value::Null, "{v}");
    assert_eq!(v["synced_observers"], 1, "{v}");
    let list = v["observers"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    let o = &list[0];
    assert_eq!(o["sid"], ens.members[observer].id, "{v}");
    let remote = o["remote_socket_address"].as_str().unwrap();
    let port: u16 = remote
        .strip_prefix("/127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("remote address {remote:?}"));
    assert_ne!(
        port, ens.members[leader].quorum_port,
        "the observer's end of the link"
    );
    let established = o["established"].as_i64().unwrap();
    assert!(
        established > started_ms - 120_000 && established <= started_ms + 1_000,
        "established {established} vs test start {started_ms}"
    );
    assert!(
        o["requests"].as_u64().unwrap() >= 5,
        "5 forwarded creates: {v}"
    );
    assert!(o["packets_received"].as_u64().unwrap() >= 5, "{v}");
    assert!(o["packets_sent"].as_u64().unwrap() >= 5, "5 INFORMs: {v}");
    assert!(o["queued_packets"].as_u64().is_some(), "{v}");
    assert!(o["queued_packets_size"].as_u64().is_some(), "{v}");
    let last_zxid = o["last_zxid"].as_i64().unwrap();
    let srvr = four_letter_blocking(&ens.addr(leader), "srvr").unwrap();
    let leader_zxid = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: 0x"))
        .and_then(|z| i64::from_str_radix(z.trim(), 16).ok())
        .unwrap_or_else(|| panic!("no Zxid in srvr:\n{srvr}"));
    assert!(
        last_zxid >= last_czxid && last_zxid <= leader_zxid,
        "last_zxid {last_zxid:#x} within [{last_czxid:#x}, {leader_zxid:#x}]"
    );

    // mntr and the monitor command count the same observers.
    assert_eq!(
        ens.mntr(leader, "zk_synced_observers").await.as_deref(),
        Some("1")
    );
    assert_eq!(admin_json(leader_port, "monitor")["synced_observers"], 1);
    assert_eq!(admin_json(leader_port, "obsr")["synced_observers"], 1);

    // Followers and the observer have none, as Apache answers without observerMaster.
    for i in (0..4).filter(|i| *i != leader) {
        let v = admin_json(ens.members[i].admin_port, "observers");
        assert_eq!(
            v,
            serde_json::json!({
                "synced_observers": 0,
                "observers": [],
                "command": "observers",
                "error": null,
            }),
            "server {}",
            i + 1
        );
    }
    drop(c);

    ens.kill9(observer);
    ens.poll("the leader to drop the killed observer", || async {
        let v = admin_json(leader_port, "observers");
        (v["synced_observers"] == 0 && v["observers"] == serde_json::json!([])).then_some(())
    })
    .await;
    assert_eq!(
        ens.mntr(leader, "zk_synced_observers").await.as_deref(),
        Some("0")
    );
}

async fn mntr_num(ens: &common::ensemble::Ensemble, i: usize, key: &str) -> i64 {
    ens.mntr(i, key)
        .await
        .unwrap_or_else(|| panic!("{key} missing from server {}'s mntr", i + 1))
        .parse()
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// After writes, each member's `mntr` reports what it did, from its own process's metrics:
/// the leader its proposals (count, sizes), commits and quorum-ack latencies; a follower
/// the proposals and commits it received (and no commit_count: Apache counts that on the
/// leader); the observer the INFORMs it received and its sync time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mntr_reports_proposals_commits_and_their_sizes() {
    let ens = EnsembleBuilder::new(3).observers(1).start().await;
    let leader = ens.wait_leader().await;
    let follower = (0..3).find(|i| *i != leader).unwrap();
    let observer = 3;
    assert_eq!(mntr_num(&ens, leader, "zk_max_proposal_size").await, -1);
    for (i, state) in [
        (leader, "leading - broadcast"),
        (follower, "following - broadcast"),
        (observer, "observing - broadcast"),
    ] {
        assert_eq!(ens.mntr(i, "zk_peer_state").await.as_deref(), Some(state));
    }
    let c = ens.client(follower).await;
    let payload = [7u8; 100];
    for i in 0..10 {
        c.create(&format!("/p{i}"), &payload, &open(), CreateMode::Persistent)
            .await
            .unwrap();
    }
    // Every follower and the observer has applied all of it once a sync through it returns.
    for i in [follower, observer] {
        ens.client(i).await.sync("/").await.unwrap();
    }

    // createSession and 10 creates, each proposed and committed by the leader.
    let proposals = mntr_num(&ens, leader, "zk_proposal_count").await;
    assert!(proposals >= 11, "zk_proposal_count {proposals}");
    assert!(mntr_num(&ens, leader, "zk_commit_count").await >= 11);
    assert!(mntr_num(&ens, leader, "zk_cnt_quorum_ack_latency").await >= 11);
    assert!(mntr_num(&ens, leader, "zk_cnt_write_final_proc_time_ms").await >= 11);
    let (last, min, max) = (
        mntr_num(&ens, leader, "zk_last_proposal_size").await,
        mntr_num(&ens, leader, "zk_min_proposal_size").await,
        mntr_num(&ens, leader, "zk_max_proposal_size").await,
    );
    assert!(
        0 < min && min <= last && last <= max,
        "proposal sizes last/min/max {last}/{min}/{max}"
    );
    assert!(max > 100, "a create txn carries its 100 data bytes: {max}");
    assert!(mntr_num(&ens, leader, "zk_leader_uptime").await > 0);

    assert!(mntr_num(&ens, follower, "zk_learner_proposal_received_count").await >= 11);
    assert!(mntr_num(&ens, follower, "zk_learner_commit_received_count").await >= 11);
    assert!(mntr_num(&ens, follower, "zk_cnt_commit_propagation_latency").await >= 11);
    assert!(mntr_num(&ens, follower, "zk_cnt_follower_sync_time").await >= 1);
    assert_eq!(mntr_num(&ens, follower, "zk_commit_count").await, 0);
    assert_eq!(mntr_num(&ens, follower, "zk_proposal_count").await, 0);

    assert!(mntr_num(&ens, observer, "zk_learner_commit_received_count").await >= 11);
    assert_eq!(
        mntr_num(&ens, observer, "zk_learner_proposal_received_count").await,
        0
    );
    assert!(mntr_num(&ens, observer, "zk_cnt_observer_sync_time").await >= 1);
    assert_eq!(
        mntr_num(&ens, observer, "zk_cnt_follower_sync_time").await,
        0
    );
}
