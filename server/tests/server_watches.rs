//! Watches on the real `zkserver`: one-shot data/child/exist watches, persistent and
//! recursive watches, removeWatches/checkWatches, setWatches after a reconnect, and the
//! ordering guarantee that a notification precedes the reply of a later read.
#![allow(clippy::unwrap_used)]

mod common;

use common::util::{assert_no_node_event, connect, next_node_event, open};
use common::zkserver::ZkServer;
use zkserver::client::ClientError;
use zkserver::proto::codes::{add_watch_mode, event, watcher_type, CreateMode, ErrorCode};
use zkserver::proto::records::SetWatches2;

#[tokio::test]
async fn one_shot_watches_fire_once() {
    let zk = ZkServer::start_default();
    let (c, mut rx) = connect(&zk.addr()).await;
    let (w, _wrx) = connect(&zk.addr()).await;

    // exists on a missing node -> NodeCreated.
    assert!(c.exists("/n", true).await.unwrap().is_none());
    let (_, created) = w
        .create2("/n", b"1", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!((ev.kind, ev.path.as_str()), (event::NODE_CREATED, "/n"));
    assert_eq!(ev.zxid, created.czxid, "3.9 notifications carry the zxid");

    // Data watch -> NodeDataChanged, once.
    c.get_data("/n", true).await.unwrap();
    w.set_data("/n", b"2", -1).await.unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/n")
    );
    w.set_data("/n", b"3", -1).await.unwrap();

    // Child watch -> NodeChildrenChanged on create, then (re-armed) on delete.
    c.get_children("/n", true).await.unwrap();
    w.create("/n/k", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/n")
    );
    // Data watch on the parent does not fire for child changes; child watch gone now.
    c.get_data("/n", true).await.unwrap();
    w.create("/n/k2", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.get_data("/n", false).await.unwrap();
    assert_no_node_event(&mut rx);

    // Deleting a node fires its data watch (NodeDeleted) and the parent's child watch.
    c.get_children("/n", true).await.unwrap();
    c.exists("/n/k", true).await.unwrap();
    w.delete("/n/k", -1).await.unwrap();
    let mut got = [
        next_node_event(&mut rx).await,
        next_node_event(&mut rx).await,
    ];
    got.sort_by_key(|e| e.kind);
    assert_eq!(
        (got[0].kind, got[0].path.as_str()),
        (event::NODE_DELETED, "/n/k")
    );
    assert_eq!(
        (got[1].kind, got[1].path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/n")
    );
    // The data watch set by the earlier get_data on /n fires on the next setData only.
    w.set_data("/n", b"4", -1).await.unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/n")
    );
    c.exists("/n", false).await.unwrap();
    assert_no_node_event(&mut rx);
}

#[tokio::test]
async fn persistent_and_recursive_watches() {
    let zk = ZkServer::start_default();
    let (c, mut rx) = connect(&zk.addr()).await;
    let (w, _wrx) = connect(&zk.addr()).await;
    w.create("/p", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.add_watch("/p", add_watch_mode::PERSISTENT).await.unwrap();
    c.add_watch("/r", add_watch_mode::PERSISTENT_RECURSIVE)
        .await
        .unwrap();
    for i in 0..3 {
        w.set_data("/p", format!("{i}").as_bytes(), -1)
            .await
            .unwrap();
        let ev = next_node_event(&mut rx).await;
        assert_eq!(
            (ev.kind, ev.path.as_str()),
            (event::NODE_DATA_CHANGED, "/p")
        );
    }
    w.create("/p/c", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/p")
    );
    // Recursive: creation of the root and of descendants, but never child-changed events.
    w.create("/r", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    w.create("/r/a", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    w.create("/r/a/b", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    w.set_data("/r/a/b", b"x", -1).await.unwrap();
    w.delete("/r/a/b", -1).await.unwrap();
    let expect = [
        (event::NODE_CREATED, "/r"),
        (event::NODE_CREATED, "/r/a"),
        (event::NODE_CREATED, "/r/a/b"),
        (event::NODE_DATA_CHANGED, "/r/a/b"),
        (event::NODE_DELETED, "/r/a/b"),
    ];
    for (kind, path) in expect {
        let ev = next_node_event(&mut rx).await;
        assert_eq!((ev.kind, ev.path.as_str()), (kind, path));
    }
    c.check_watches("/r", watcher_type::ANY).await.unwrap();
    // WatcherType PersistentRecursive (5) is accepted since 3.9. The server sends no
    // "watch removed" notification: Java clients make that event up locally.
    c.remove_watches("/r", watcher_type::PERSISTENT_RECURSIVE)
        .await
        .unwrap();
    assert!(matches!(
        c.check_watches("/r", watcher_type::ANY).await,
        Err(ClientError::Api(ErrorCode::NoWatcher))
    ));
    w.create("/r/z", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.exists("/r", false).await.unwrap();
    assert_no_node_event(&mut rx);
}

#[tokio::test]
async fn remove_and_check_watches() {
    let zk = ZkServer::start_default();
    let (c, mut rx) = connect(&zk.addr()).await;
    c.create("/w", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert!(matches!(
        c.check_watches("/w", watcher_type::DATA).await,
        Err(ClientError::Api(ErrorCode::NoWatcher))
    ));
    assert!(matches!(
        c.remove_watches("/w", watcher_type::ANY).await,
        Err(ClientError::Api(ErrorCode::NoWatcher))
    ));
    c.get_data("/w", true).await.unwrap();
    c.check_watches("/w", watcher_type::DATA).await.unwrap();
    assert!(matches!(
        c.check_watches("/w", watcher_type::CHILDREN).await,
        Err(ClientError::Api(ErrorCode::NoWatcher))
    ));
    c.get_children("/w", true).await.unwrap();
    c.remove_watches("/w", watcher_type::CHILDREN)
        .await
        .unwrap();
    assert!(matches!(
        c.check_watches("/w", watcher_type::CHILDREN).await,
        Err(ClientError::Api(ErrorCode::NoWatcher))
    ));
    c.check_watches("/w", watcher_type::DATA).await.unwrap();
    c.remove_watches("/w", watcher_type::ANY).await.unwrap();
    assert!(matches!(
        c.check_watches("/w", watcher_type::ANY).await,
        Err(ClientError::Api(ErrorCode::NoWatcher))
    ));
    // Nothing fires for the removed watches.
    c.set_data("/w", b"x", -1).await.unwrap();
    c.create("/w/c", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.exists("/w", false).await.unwrap();
    assert_no_node_event(&mut rx);
}

#[tokio::test]
async fn set_watches_fires_changes_missed_while_away() {
    let zk = ZkServer::start_default();
    let (w, _wrx) = connect(&zk.addr()).await;
    w.create("/d", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    w.create("/gone", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let seen = w.exists("/d", false).await.unwrap().unwrap().mzxid;
    // Changes after zxid `seen` that a disconnected client missed.
    w.set_data("/d", b"new", -1).await.unwrap();
    w.delete("/gone", -1).await.unwrap();
    w.create("/born", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    w.create("/d/kid", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();

    let (c, mut rx) = connect(&zk.addr()).await;
    c.set_watches(&SetWatches2 {
        relative_zxid: seen,
        data_watches: vec!["/d".into(), "/gone".into()],
        exist_watches: vec!["/born".into(), "/never".into()],
        child_watches: vec!["/d".into()],
        persistent_watches: vec![],
        persistent_recursive_watches: vec![],
    })
    .await
    .unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        let ev = next_node_event(&mut rx).await;
        got.push((ev.kind, ev.path));
    }
    got.sort();
    let mut want = vec![
        (event::NODE_DATA_CHANGED, "/d".to_string()),
        (event::NODE_DELETED, "/gone".to_string()),
        (event::NODE_CREATED, "/born".to_string()),
        (event::NODE_CHILDREN_CHANGED, "/d".to_string()),
    ];
    want.sort();
    assert_eq!(got, want);
    // The exist watch on /never stays armed.
    w.create("/never", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!((ev.kind, ev.path.as_str()), (event::NODE_CREATED, "/never"));
}

#[tokio::test]
async fn watch_event_arrives_before_reply_of_later_read() {
    let zk = ZkServer::start_default();
    let (c, mut rx) = connect(&zk.addr()).await;
    let (w, _wrx) = connect(&zk.addr()).await;
    c.create("/o", b"0", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    for i in 1..=20 {
        c.get_data("/o", true).await.unwrap();
        w.set_data("/o", format!("{i}").as_bytes(), -1)
            .await
            .unwrap();
        // Poll until the read shows the change; by then the notification must be queued.
        let mut shown = false;
        for _ in 0..200 {
            let (d, _) = c.get_data("/o", false).await.unwrap();
            if d.as_deref() == Some(format!("{i}").as_bytes()) {
                shown = true;
                break;
            }
        }
        assert!(shown, "change {i} never became visible");
        let ev = rx
            .try_recv()
            .expect("notification queued before the read reply");
        assert_eq!(
            (ev.kind, ev.path.as_str()),
            (event::NODE_DATA_CHANGED, "/o")
        );
    }
}
