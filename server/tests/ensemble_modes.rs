//! Ensemble features beyond plain replication: read-only mode on a member cut off from its
//! quorum, `leaderServes=no`, and a learner truncating (TRUNC) a proposal it logged as leader
//! but that no quorum ever acknowledged.

mod common;

use std::time::Duration;

use common::ensemble::{Ensemble, EnsembleBuilder};
use common::util::open;
use zkserver::client::{four_letter_word, Client, ClientConfig, ClientError, State};
use zkserver::proto::codes::{CreateMode, ErrorCode};

/// A config for member `i` only, failing fast instead of cycling for the default 10 s.
fn single_host(ens: &Ensemble, i: usize, read_only: bool) -> ClientConfig {
    let mut cfg = ClientConfig::new([ens.addr(i)]).with_session_timeout(Duration::from_secs(15));
    cfg.read_only = read_only;
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.request_timeout = Some(Duration::from_secs(5));
    cfg
}

/// Waits until member `i` answers `srvr` with `Mode: <mode>`.
async fn wait_mode(ens: &Ensemble, i: usize, mode: &str) {
    ens.poll(&format!("server {} in mode {mode}", i + 1), || async {
        (ens.mode(i).await.as_deref() == Some(mode)).then_some(())
    })
    .await
}

/// Asserts that member `i` refuses to open a (non read-only) session.
async fn assert_refuses_session(ens: &Ensemble, i: usize, why: &str) {
    match Client::connect(single_host(ens, i, false)).await {
        Ok((c, _)) => {
            let _ = c.close().await;
            panic!("server {} accepted a session {why}", i + 1);
        }
        Err(e) => eprintln!("server {} refused a session {why}: {e}", i + 1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_mode_serves_reads_until_the_quorum_returns() {
    let mut ens = EnsembleBuilder::new(3)
        .cfg("readonlymode.enabled", "true")
        .start()
        .await;
    let leader = ens.wait_leader().await;
    let writer = ens.client(leader).await;
    writer
        .create("/ro", b"before", &open(), CreateMode::Persistent)
        .await
        .expect("create /ro");
    writer.close().await.expect("close");
    ens.wait_converged().await;

    // Keep a follower, so the survivor is not simply the old leader.
    let survivor = (0..3).find(|&i| i != leader).expect("a follower");
    let others: Vec<usize> = (0..3).filter(|&i| i != survivor).collect();
    for &i in &others {
        ens.kill9(i);
    }
    wait_mode(&ens, survivor, "read-only").await;
    let isro = four_letter_word(&ens.addr(survivor), "isro")
        .await
        .expect("isro");
    assert_eq!(isro.trim(), "ro");

    let (ro, _events) = Client::connect(single_host(&ens, survivor, true))
        .await
        .expect("read-only client connects");
    assert_eq!(ro.state(), State::ConnectedReadOnly);
    let (data, _) = ro.get_data("/ro", false).await.expect("read /ro");
    assert_eq!(data.as_deref(), Some(&b"before"[..]));
    assert_eq!(ro.get_children("/", false).await.expect("ls /").len(), 2);
    let create = ro
        .create("/ro/new", b"", &open(), CreateMode::Persistent)
        .await;
    assert!(
        matches!(create, Err(ClientError::Api(ErrorCode::NotReadOnly))),
        "create in read-only mode: {create:?}"
    );
    let set = ro.set_data("/ro", b"x", -1).await;
    assert!(
        matches!(set, Err(ClientError::Api(ErrorCode::NotReadOnly))),
        "setData in read-only mode: {set:?}"
    );
    let sync = ro.sync("/ro").await;
    assert!(
        matches!(sync, Err(ClientError::Api(ErrorCode::NotReadOnly))),
        "sync in read-only mode: {sync:?}"
    );
    assert_refuses_session(&ens, survivor, "in read-only mode").await;

    for &i in &others {
        ens.restart(i);
    }
    ens.wait_leader().await;
    let mode = ens.mode(survivor).await;
    assert!(
        matches!(mode.as_deref(), Some("leader" | "follower")),
        "survivor rejoined as {mode:?}"
    );
    let isro = four_letter_word(&ens.addr(survivor), "isro")
        .await
        .expect("isro");
    assert_eq!(isro.trim(), "rw");
    // The read-only session is gone: the server closed it when it rejoined the quorum.
    ens.poll("the read-only session to end", || async {
        ens.members[survivor]
            .log_tail(400)
            .contains("leaving read-only mode: closing 1 read-only sessions")
            .then_some(())
    })
    .await;
    ens.poll("the read-only client to lose its session", || async {
        (ro.state() != State::ConnectedReadOnly).then_some(())
    })
    .await;
    drop(ro);

    let c = ens.client(survivor).await;
    c.create("/ro/after", b"rw", &open(), CreateMode::Persistent)
        .await
        .expect("write after the quorum returned");
    c.close().await.expect("close");
    let tree = ens.wait_converged().await;
    assert!(tree.contains_key("/ro/after"));
    assert!(!tree.contains_key("/ro/new"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_serves_no_keeps_clients_on_followers() {
    let ens = EnsembleBuilder::new(3)
        .cfg("leaderServes", "no")
        .start()
        .await;
    let leader = ens.wait_leader().await;
    assert_refuses_session(&ens, leader, "as leader with leaderServes=no").await;

    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let c = ens.client(followers[0]).await;
    c.create("/ls", b"via follower", &open(), CreateMode::Persistent)
        .await
        .expect("write through a follower");
    c.close().await.expect("close");
    let other = ens.client(followers[1]).await;
    other.sync("/ls").await.expect("sync");
    let (data, _) = other.get_data("/ls", false).await.expect("read");
    assert_eq!(data.as_deref(), Some(&b"via follower"[..]));
    other.close().await.expect("close");

    // A client listing every member lands on a follower.
    let cfg = ClientConfig::new(ens.members.iter().map(|m| m.addr()))
        .with_session_timeout(Duration::from_secs(15));
    let (all, _events) = Client::connect(cfg).await.expect("connect to the ensemble");
    all.set_data("/ls", b"again", -1).await.expect("write");
    all.close().await.expect("close");
    assert_refuses_session(&ens, leader, "as leader after writes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_leader_truncates_a_proposal_no_quorum_acked() {
    let mut ens = EnsembleBuilder::new(3).start().await;
    let old = ens.wait_leader().await;
    let c = ens.client(old).await;
    c.create("/t", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create /t");
    for k in 0..5 {
        c.create(
            &format!("/t/committed{k}"),
            b"ok",
            &open(),
            CreateMode::Persistent,
        )
        .await
        .expect("committed write");
    }
    c.close().await.expect("close");
    ens.wait_converged().await;

    // Cut the leader off: its next proposal is logged locally but never acknowledged.
    let followers: Vec<usize> = (0..3).filter(|&i| i != old).collect();
    let mut cfg = single_host(&ens, old, false);
    cfg.auto_reconnect = false;
    let (lonely, _events) = Client::connect(cfg).await.expect("connect to the leader");
    for &i in &followers {
        ens.kill9(i);
    }
    let lost = lonely
        .create("/t/uncommitted", b"lost", &open(), CreateMode::Persistent)
        .await;
    assert!(
        lost.is_err(),
        "a write without a quorum succeeded: {lost:?}"
    );
    drop(lonely);
    ens.kill9(old);

    for &i in &followers {
        ens.restart(i);
    }
    let new = ens.wait_leader().await;
    assert_ne!(new, old);
    let c = ens.client(new).await;
    for k in 0..3 {
        c.create(
            &format!("/t/new{k}"),
            b"epoch+1",
            &open(),
            CreateMode::Persistent,
        )
        .await
        .expect("write under the new leader");
    }
    c.close().await.expect("close");

    ens.restart(old);
    ens.wait_leader().await;
    for m in &ens.members {
        let log = m.log_tail(3000);
        let sync: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("sync") || l.contains("TRUNC") || l.contains("DIFF"))
            .collect();
        eprintln!("--- server {} sync lines ---\n{}", m.id, sync.join("\n"));
    }
    let tree = ens.wait_converged().await;
    assert!(
        !tree.contains_key("/t/uncommitted"),
        "uncommitted write survived: {tree:?}"
    );
    assert!(tree.contains_key("/t/committed4") && tree.contains_key("/t/new2"));
    let log = ens.members[old].log_tail(2000);
    let trunc = log.lines().find(|l| l.contains("TRUNC to 0x"));
    eprintln!("old leader: {trunc:?}");
    assert!(trunc.is_some(), "no TRUNC in the old leader's log:\n{log}");

    // The truncation reached the disk: a restart replays no trace of the lost proposal.
    ens.restart(old);
    ens.wait_leader().await;
    let tree = ens.wait_converged().await;
    assert!(!tree.contains_key("/t/uncommitted"));
    assert!(tree.contains_key("/t/new2"));
}
