//! Sessions on the real `zkserver`: timeout negotiation, resumption with id and password,
//! wrong passwords, expiry (ephemerals removed, other sessions' watches fired) and close.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::util::{cfg, connect, next_node_event, open, wait_for};
use common::zkserver::ZkServer;
use zkserver::client::{Client, ClientError};
use zkserver::proto::codes::{event, CreateMode};

#[tokio::test]
async fn timeout_is_clamped_to_min_and_max() {
    let zk = ZkServer::builder()
        .cfg("minSessionTimeout", 2000)
        .cfg("maxSessionTimeout", 4000)
        .start();
    for (asked, granted) in [(500, 2000), (3000, 3000), (60_000, 4000)] {
        let (c, _rx) =
            Client::connect(cfg(&zk.addr()).with_session_timeout(Duration::from_millis(asked)))
                .await
                .unwrap();
        assert_eq!(
            c.negotiated_timeout(),
            Duration::from_millis(granted),
            "asked {asked}"
        );
        c.close().await.unwrap();
    }
    // Defaults are 2 and 20 ticks (tickTime=500).
    let zk = ZkServer::builder().cfg("minSessionTimeout", -1).start();
    for (asked, granted) in [(100, 1000), (60_000, 10_000)] {
        let (c, _rx) =
            Client::connect(cfg(&zk.addr()).with_session_timeout(Duration::from_millis(asked)))
                .await
                .unwrap();
        assert_eq!(c.negotiated_timeout(), Duration::from_millis(granted));
    }
}

#[tokio::test]
async fn resumed_session_keeps_its_ephemerals() {
    let zk = ZkServer::start_default();
    // c1 must not reconnect once c2 takes its session over, or the two would keep taking
    // the session from each other.
    let mut c1_cfg = cfg(&zk.addr());
    c1_cfg.auto_reconnect = false;
    let (c1, _rx1) = Client::connect(c1_cfg).await.unwrap();
    c1.create("/eph", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let (id, pw) = (c1.session_id(), c1.session_password());
    let (c2, _rx2) = Client::reconnect_with_session(cfg(&zk.addr()), id, &pw)
        .await
        .unwrap();
    assert_eq!(c2.session_id(), id);
    drop(c1);
    let st = c2.exists("/eph", false).await.unwrap().unwrap();
    assert_eq!(st.ephemeral_owner, id);
    assert_eq!(c2.get_ephemerals("/").await.unwrap(), vec!["/eph"]);
    // Still there after longer than the session timeout: the resumed session pings.
    let (probe, _prx) = connect(&zk.addr()).await;
    let until = tokio::time::Instant::now() + c2.negotiated_timeout() + Duration::from_secs(2);
    while tokio::time::Instant::now() < until {
        assert!(probe.exists("/eph", false).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn wrong_password_is_expired() {
    let zk = ZkServer::start_default();
    let (c1, _rx1) = connect(&zk.addr()).await;
    let mut pw = c1.session_password();
    pw[0] ^= 0xff;
    let r = Client::reconnect_with_session(cfg(&zk.addr()), c1.session_id(), &pw).await;
    assert!(
        matches!(r, Err(ClientError::SessionExpired)),
        "{:?}",
        r.err()
    );
    // An unknown session id is expired too; the real session is untouched.
    let r = Client::reconnect_with_session(cfg(&zk.addr()), 0x1234_5678, &pw).await;
    assert!(matches!(r, Err(ClientError::SessionExpired)));
    c1.exists("/", false).await.unwrap();
}

#[tokio::test]
async fn expiry_removes_ephemerals_and_fires_other_sessions_watches() {
    let zk = ZkServer::start_default();
    let (c1, _rx1) =
        Client::connect(cfg(&zk.addr()).with_session_timeout(Duration::from_millis(1000)))
            .await
            .unwrap();
    c1.create("/e1", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let (id, pw) = (c1.session_id(), c1.session_password());
    let (w, mut wrx) = connect(&zk.addr()).await;
    assert!(w.exists("/e1", true).await.unwrap().is_some());
    w.get_children("/", true).await.unwrap();
    // Dropping the client closes its socket without closeSession; the server expires it.
    drop(c1);
    let mut got = [
        next_node_event(&mut wrx).await,
        next_node_event(&mut wrx).await,
    ];
    got.sort_by_key(|e| e.kind);
    assert_eq!(
        (got[0].kind, got[0].path.as_str()),
        (event::NODE_DELETED, "/e1")
    );
    assert_eq!(
        (got[1].kind, got[1].path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/")
    );
    assert!(w.exists("/e1", false).await.unwrap().is_none());
    let r = Client::reconnect_with_session(cfg(&zk.addr()), id, &pw).await;
    assert!(matches!(r, Err(ClientError::SessionExpired)));
}

#[tokio::test]
async fn close_session_deletes_ephemerals_at_once() {
    let zk = ZkServer::start_default();
    let (c1, _rx1) = connect(&zk.addr()).await;
    let (w, _wrx) = connect(&zk.addr()).await;
    c1.create("/x", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    c1.create("/x2", b"", &open(), CreateMode::EphemeralSequential)
        .await
        .unwrap();
    let (id, pw) = (c1.session_id(), c1.session_password());
    c1.close().await.unwrap();
    assert!(w.exists("/x", false).await.unwrap().is_none());
    assert_eq!(w.get_children("/", false).await.unwrap(), vec!["zookeeper"]);
    let r = Client::reconnect_with_session(cfg(&zk.addr()), id, &pw).await;
    assert!(matches!(r, Err(ClientError::SessionExpired)));
    // The server's session count drops back (cons lists only live connections).
    wait_for("closed session leaves cons", || async {
        let cons = zk.four_letter("cons")?;
        (!cons.contains(&format!("sid=0x{id:x}"))).then_some(())
    })
    .await;
}
