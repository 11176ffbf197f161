//! CRUD against the real `zkserver` binary: exact Stat fields, sequential names, containers,
//! TTL nodes and quota nodes, as a ZooKeeper user sees them.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::util::{connect, open, wait_for};
use common::zkserver::ZkServer;
use zkserver::client::ClientError;
use zkserver::proto::codes::{CreateMode, ErrorCode};

#[tokio::test]
async fn create_get_set_delete_with_exact_stats() {
    let zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;

    let (path, st) = c
        .create2("/a", b"hello", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(path, "/a");
    let z = st.czxid;
    assert!(z > 0);
    assert_eq!(st.mzxid, z);
    assert_eq!(st.pzxid, z);
    assert_eq!((st.version, st.cversion, st.aversion), (0, 0, 0));
    assert_eq!(st.ephemeral_owner, 0);
    assert_eq!(st.data_length, 5);
    assert_eq!(st.num_children, 0);
    assert_eq!(st.ctime, st.mtime);
    assert!(st.ctime > 1_600_000_000_000, "ctime is epoch millis");

    let (data, st2) = c.get_data("/a", false).await.unwrap();
    assert_eq!(data.as_deref(), Some(&b"hello"[..]));
    assert_eq!(st2, st);
    assert_eq!(c.exists("/a", false).await.unwrap(), Some(st));
    assert_eq!(c.exists("/nope", false).await.unwrap(), None);

    // setData bumps version and mzxid only.
    let st3 = c.set_data("/a", b"hi", 0).await.unwrap();
    assert_eq!(st3.version, 1);
    assert!(st3.mzxid > z);
    assert_eq!(st3.czxid, z);
    assert_eq!(st3.pzxid, z);
    assert_eq!(st3.data_length, 2);
    assert!(st3.mtime >= st3.ctime);
    assert!(matches!(
        c.set_data("/a", b"x", 0).await,
        Err(ClientError::Api(ErrorCode::BadVersion))
    ));

    // A child bumps the parent's cversion, numChildren and pzxid, not its version or mzxid.
    let (_, child) = c
        .create2("/a/b", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let parent = c.exists("/a", false).await.unwrap().unwrap();
    assert_eq!(parent.cversion, 1);
    assert_eq!(parent.num_children, 1);
    assert_eq!(parent.pzxid, child.czxid);
    assert_eq!(parent.version, 1);
    assert_eq!(parent.mzxid, st3.mzxid);

    assert!(matches!(
        c.delete("/a", -1).await,
        Err(ClientError::Api(ErrorCode::NotEmpty))
    ));
    assert!(matches!(
        c.create("/a/b", b"", &open(), CreateMode::Persistent).await,
        Err(ClientError::Api(ErrorCode::NodeExists))
    ));
    assert!(matches!(
        c.create("/x/y", b"", &open(), CreateMode::Persistent).await,
        Err(ClientError::Api(ErrorCode::NoNode))
    ));
    assert!(matches!(
        c.delete("/a/b", 5).await,
        Err(ClientError::Api(ErrorCode::BadVersion))
    ));
    c.delete("/a/b", 0).await.unwrap();
    let parent2 = c.exists("/a", false).await.unwrap().unwrap();
    assert_eq!(parent2.cversion, 2);
    assert_eq!(parent2.num_children, 0);
    assert!(parent2.pzxid > child.czxid, "delete moves pzxid");
    assert_eq!(
        c.get_children("/a", false).await.unwrap(),
        Vec::<String>::new()
    );

    // Null data stays null; bad paths are rejected.
    let (ch, st4) = c.get_children2("/", false).await.unwrap();
    assert!(ch.contains(&"a".to_string()) && ch.contains(&"zookeeper".to_string()));
    assert_eq!(st4.num_children as usize, ch.len());
    // As in Apache, the parent is looked up before the full path is validated: a bad
    // component in the parent part gives NoNode, a bad last component BadArguments.
    for bad in ["/a/./b", "/a/../b", "/a//b"] {
        let r = c.create(bad, b"", &open(), CreateMode::Persistent).await;
        assert!(
            matches!(r, Err(ClientError::Api(ErrorCode::NoNode))),
            "{bad:?}: {r:?}"
        );
    }
    for bad in ["a", "/a/", "/a/.", "/a/.."] {
        let r = c.create(bad, b"", &open(), CreateMode::Persistent).await;
        assert!(
            matches!(r, Err(ClientError::Api(ErrorCode::BadArguments))),
            "path {bad:?} must be rejected: {r:?}"
        );
    }
    // Ephemerals carry the session id and cannot have children.
    let (_, e) = c
        .create2("/e", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    assert_eq!(e.ephemeral_owner, c.session_id());
    assert!(matches!(
        c.create("/e/c", b"", &open(), CreateMode::Persistent).await,
        Err(ClientError::Api(ErrorCode::NoChildrenForEphemerals))
    ));
    assert_eq!(c.get_ephemerals("/").await.unwrap(), vec!["/e".to_string()]);
    assert_eq!(c.get_all_children_number("/a").await.unwrap(), 0);
}

#[tokio::test]
async fn sequential_names_come_from_parent_cversion() {
    let zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    c.create("/q", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    // Prefix ending in a slash: the name is just the 10 digits.
    let p0 = c
        .create("/q/", b"", &open(), CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert_eq!(p0, "/q/0000000000");
    // A plain create moves the stored cversion, a delete does not (clients still see
    // creations + deletions).
    c.create("/q/plain", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.delete("/q/plain", -1).await.unwrap();
    let p1 = c
        .create("/q/job-", b"", &open(), CreateMode::EphemeralSequential)
        .await
        .unwrap();
    assert_eq!(p1, "/q/job-0000000002");
    let p2 = c
        .create("/q/job-", b"", &open(), CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert_eq!(p2, "/q/job-0000000003");
    let (mut kids, st) = c.get_children2("/q", false).await.unwrap();
    assert_eq!(st.cversion, 5, "4 creations + 1 deletion");
    kids.sort();
    assert_eq!(kids, vec!["0000000000", "job-0000000002", "job-0000000003"]);
    // Sequential at the root uses the root's cversion.
    let r = c
        .create("/s-", b"", &open(), CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert!(r.starts_with("/s-") && r.len() == 13, "{r}");
}

#[tokio::test]
async fn container_is_reaped_after_its_last_child_goes() {
    let zk = ZkServer::builder()
        .prop("znode.container.checkIntervalMs", 100)
        .start();
    let (c, _rx) = connect(&zk.addr()).await;
    let (_, st) = c
        .create2("/c", b"", &open(), CreateMode::Container)
        .await
        .unwrap();
    assert_eq!(st.ephemeral_owner, 0, "clients see 0 for containers");
    // A container that never had a child stays.
    c.create("/unused", b"", &open(), CreateMode::Container)
        .await
        .unwrap();
    c.create("/c/kid", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.delete("/c/kid", -1).await.unwrap();
    wait_for("container /c reaped", || async {
        c.exists("/c", false).await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(c.exists("/unused", false).await.unwrap().is_some());
}

#[tokio::test]
async fn ttl_nodes_need_extended_types() {
    let plain = ZkServer::start_default();
    let (c, _rx) = connect(&plain.addr()).await;
    assert!(matches!(
        c.create_ttl("/t", b"", &open(), CreateMode::PersistentWithTtl, 1000)
            .await,
        Err(ClientError::Api(ErrorCode::Unimplemented))
    ));
    drop(c);

    let zk = ZkServer::builder()
        .cfg("extendedTypesEnabled", "true")
        .prop("znode.container.checkIntervalMs", 100)
        .start();
    let (c, _rx) = connect(&zk.addr()).await;
    let (p, st) = c
        .create_ttl("/t", b"x", &open(), CreateMode::PersistentWithTtl, 300)
        .await
        .unwrap();
    assert_eq!(p, "/t");
    // Clients see 0 for TTL nodes; the marker stays inside the server.
    assert_eq!(st.ephemeral_owner, 0);
    let (p2, _) = c
        .create_ttl(
            "/ts-",
            b"",
            &open(),
            CreateMode::PersistentSequentialWithTtl,
            60_000,
        )
        .await
        .unwrap();
    assert!(p2.starts_with("/ts-"));
    // A TTL of 0 or a non-TTL mode is rejected.
    assert!(matches!(
        c.create_ttl("/t0", b"", &open(), CreateMode::PersistentWithTtl, 0)
            .await,
        Err(ClientError::Api(ErrorCode::BadArguments))
    ));
    assert!(matches!(
        c.create_ttl("/t1", b"", &open(), CreateMode::Persistent, 1000)
            .await,
        Err(ClientError::Api(ErrorCode::BadArguments))
    ));
    // The expired, childless TTL node is reaped; the long-lived one stays.
    wait_for("ttl node /t reaped", || async {
        c.exists("/t", false).await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(c.exists(&p2, false).await.unwrap().is_some());
}

#[tokio::test]
async fn quota_stats_track_the_subtree_and_hard_limits_need_enforce_quota() {
    for enforce in [false, true] {
        let mut b = ZkServer::builder();
        if enforce {
            b = b.prop("zookeeper.enforceQuota", "true");
        }
        let zk = b.start();
        let (c, _rx) = connect(&zk.addr()).await;
        c.create("/qa", b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        for p in ["/zookeeper/quota/qa"] {
            c.create(p, b"", &open(), CreateMode::Persistent)
                .await
                .unwrap();
        }
        c.create(
            "/zookeeper/quota/qa/zookeeper_limits",
            b"count=-1,bytes=-1,countHardLimit=3",
            &open(),
            CreateMode::Persistent,
        )
        .await
        .unwrap();
        c.create(
            "/zookeeper/quota/qa/zookeeper_stats",
            b"count=1,bytes=0",
            &open(),
            CreateMode::Persistent,
        )
        .await
        .unwrap();
        c.create("/qa/1", b"abc", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        c.create("/qa/2", b"de", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        let (stats, _) = c
            .get_data("/zookeeper/quota/qa/zookeeper_stats", false)
            .await
            .unwrap();
        let stats = String::from_utf8(stats.unwrap()).unwrap();
        assert!(stats.starts_with("count=3,bytes=5"), "{stats}");
        let third = c
            .create("/qa/3", b"", &open(), CreateMode::Persistent)
            .await;
        if enforce {
            assert!(
                matches!(third, Err(ClientError::Api(ErrorCode::QuotaExceeded))),
                "{third:?}"
            );
        } else {
            assert_eq!(third.unwrap(), "/qa/3", "soft by default: only a warning");
        }
    }
}

#[tokio::test]
async fn chroot_maps_paths() {
    let zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    c.create("/app", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let (cr, _rx2) = zkserver::client::Client::connect(
        common::util::cfg(&zk.addr())
            .with_chroot("/app")
            .with_session_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    assert_eq!(
        cr.create("/n-", b"", &open(), CreateMode::PersistentSequential)
            .await
            .unwrap(),
        "/n-0000000000"
    );
    assert_eq!(
        c.get_children("/app", false).await.unwrap(),
        vec!["n-0000000000"]
    );
}
