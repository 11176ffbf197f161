//! The client against the real Apache ZooKeeper (Debian 3.8 package): every API call, watches,
//! multi, auth, session resumption/expiry, reconnect after a server restart, and reconfig on a
//! one-member quorum. Each test skips (with a note) when java or the jars are missing.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use base64::Engine;
use sha1::{Digest, Sha1};
use tokio::sync::mpsc::UnboundedReceiver;

use common::apache::{ApacheOptions, ApacheZk};
use zkserver::client::{
    first_error, four_letter_word, keeper_state, Client, ClientConfig, ClientError, Op, OpResult,
    ReadOp, State, WatchedEvent,
};
use zkserver::proto::codes::{
    add_watch_mode, event, perms, watcher_type, CreateMode, ErrorCode, EXTENDED_TYPE_MASK,
};
use zkserver::proto::records::{Acl, SetWatches2};

const WAIT: Duration = Duration::from_secs(15);

fn start(opts: ApacheOptions) -> Option<ApacheZk> {
    ApacheZk::start(opts).map(|r| r.unwrap_or_else(|e| panic!("start Apache ZooKeeper: {e}")))
}

fn cfg(addr: &str) -> ClientConfig {
    ClientConfig::new([addr]).with_session_timeout(Duration::from_secs(10))
}

async fn next_event(rx: &mut UnboundedReceiver<WatchedEvent>) -> WatchedEvent {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("event in time")
        .expect("event channel open")
}

/// Skips session state events (kind None) and returns the next node event.
async fn next_node_event(rx: &mut UnboundedReceiver<WatchedEvent>) -> WatchedEvent {
    for _ in 0..10 {
        let ev = next_event(rx).await;
        if ev.kind != event::NONE {
            return ev;
        }
    }
    panic!("no node event");
}

fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

#[tokio::test]
async fn crud_against_apache() {
    let Some(zk) = start(ApacheOptions::default()) else {
        return;
    };
    let (c, _rx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    assert!(c.session_id() != 0);
    assert_eq!(c.session_password().len(), 16);
    assert_eq!(c.negotiated_timeout(), Duration::from_secs(10));
    assert_eq!(c.state(), State::Connected);

    // create / create2 / exists / get_data
    assert_eq!(
        c.create("/a", b"one", &open(), CreateMode::Persistent)
            .await
            .unwrap(),
        "/a"
    );
    assert!(c
        .create("/a", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NodeExists));
    let (p, st) = c
        .create2("/a/b", b"two", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(p, "/a/b");
    assert_eq!((st.version, st.data_length, st.czxid), (0, 3, st.mzxid));
    assert_eq!(c.exists("/nope", false).await.unwrap(), None);
    let st_a = c.exists("/a", false).await.unwrap().unwrap();
    assert_eq!(st_a.num_children, 1);
    let (d, st) = c.get_data("/a/b", false).await.unwrap();
    assert_eq!(d.as_deref(), Some(&b"two"[..]));
    assert_eq!(st.version, 0);
    assert!(c
        .get_data("/nope", false)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NoNode));

    // set_data with versions
    let st = c.set_data("/a/b", b"three", 0).await.unwrap();
    assert_eq!(st.version, 1);
    assert!(c
        .set_data("/a/b", b"x", 0)
        .await
        .unwrap_err()
        .is_api(ErrorCode::BadVersion));
    assert_eq!(c.set_data("/a/b", b"four", -1).await.unwrap().version, 2);

    // sequential and ephemeral nodes
    let s1 = c
        .create("/a/seq-", b"", &open(), CreateMode::PersistentSequential)
        .await
        .unwrap();
    let s2 = c
        .create("/a/seq-", b"", &open(), CreateMode::EphemeralSequential)
        .await
        .unwrap();
    assert_eq!(s1, "/a/seq-0000000001");
    assert_eq!(s2, "/a/seq-0000000002");
    let eph = c.exists(&s2, false).await.unwrap().unwrap();
    assert_eq!(eph.ephemeral_owner, c.session_id());
    assert_eq!(c.get_ephemerals("/a").await.unwrap(), vec![s2.clone()]);
    assert!(c
        .create("/a/seq-0000000002/x", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NoChildrenForEphemerals));

    // children
    let mut kids = c.get_children("/a", false).await.unwrap();
    kids.sort();
    assert_eq!(kids, vec!["b", "seq-0000000001", "seq-0000000002"]);
    let (kids2, st) = c.get_children2("/a", false).await.unwrap();
    assert_eq!(kids2.len(), 3);
    assert_eq!(st.num_children, 3);
    assert_eq!(c.get_all_children_number("/a").await.unwrap(), 3);

    // container and TTL nodes
    let (p, st) = c
        .create2("/cont", b"", &open(), CreateMode::Container)
        .await
        .unwrap();
    assert_eq!((p.as_str(), st.ephemeral_owner), ("/cont", 0));
    assert_eq!(
        c.create("/cont2", b"", &open(), CreateMode::Container)
            .await
            .unwrap(),
        "/cont2"
    );
    let (p, _) = c
        .create_ttl("/ttl", b"t", &open(), CreateMode::PersistentWithTtl, 60_000)
        .await
        .unwrap();
    assert_eq!(p, "/ttl");
    let ttl_stat = c.exists("/ttl", false).await.unwrap().unwrap();
    assert!(ttl_stat.ephemeral_owner == 0 || ttl_stat.ephemeral_owner & EXTENDED_TYPE_MASK != 0);
    assert!(c
        .create_ttl("/ttl0", b"", &open(), CreateMode::PersistentWithTtl, 0)
        .await
        .unwrap_err()
        .is_api(ErrorCode::BadArguments));

    // delete
    assert!(c
        .delete("/a", -1)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NotEmpty));
    assert!(c
        .delete("/a/b", 0)
        .await
        .unwrap_err()
        .is_api(ErrorCode::BadVersion));
    c.delete("/a/b", 2).await.unwrap();
    assert!(c
        .delete("/a/b", -1)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NoNode));

    // sync, getConfig on a standalone server, reconfig refused there
    assert_eq!(c.sync("/a").await.unwrap(), "/a");
    let (_cfg_text, _cfg_stat) = c.get_config(false).await.unwrap();
    let r = c.reconfig(None, Some("2"), None, -1).await.unwrap_err();
    assert!(r.code().is_some(), "reconfig on standalone fails: {r:?}");

    // an unknown opcode is answered with UNIMPLEMENTED, then Apache drops the connection
    let (raw, mut raw_rx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    let (h, body) = raw.raw_request(99, &[]).await.unwrap();
    assert_eq!(h.err, ErrorCode::Unimplemented.code());
    assert!(body.is_empty());
    assert_eq!(
        next_event(&mut raw_rx).await.state,
        keeper_state::DISCONNECTED
    );
    assert_eq!(
        next_event(&mut raw_rx).await.state,
        keeper_state::SYNC_CONNECTED
    );
    assert!(raw.exists("/a", false).await.unwrap().is_some());

    // pipelining: many requests in flight at once, answered in order
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                c.create(
                    &format!("/p{i}"),
                    format!("{i}").as_bytes(),
                    &open(),
                    CreateMode::Persistent,
                )
                .await
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.await.unwrap().unwrap(), format!("/p{i}"));
    }
    assert!(c.get_all_children_number("/").await.unwrap() >= 50);

    // four-letter words
    let addr = zk.addr();
    assert_eq!(four_letter_word(&addr, "ruok").await.unwrap(), "imok");
    assert!(four_letter_word(&addr, "srvr")
        .await
        .unwrap()
        .contains("Mode: standalone"));
    assert!(four_letter_word(&addr, "mntr")
        .await
        .unwrap()
        .contains("zk_znode_count"));

    c.close().await.unwrap();
}

#[tokio::test]
async fn watches_against_apache() {
    let Some(zk) = start(ApacheOptions::default()) else {
        return;
    };
    let (c, mut rx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    let (w, _wrx) = Client::connect(cfg(&zk.addr())).await.unwrap();

    // exists watch on a missing node fires NodeCreated
    assert_eq!(c.exists("/w", true).await.unwrap(), None);
    c.check_watches("/w", watcher_type::DATA).await.unwrap();
    let (_, st) = w
        .create2("/w", b"0", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.state, ev.path.as_str()),
        (event::NODE_CREATED, 3, "/w")
    );
    assert!(ev.zxid == -1 || ev.zxid == st.czxid, "zxid {}", ev.zxid);

    // data watch fires NodeDataChanged once
    c.get_data("/w", true).await.unwrap();
    w.set_data("/w", b"1", -1).await.unwrap();
    assert_eq!(
        next_node_event(&mut rx).await.kind,
        event::NODE_DATA_CHANGED
    );
    w.set_data("/w", b"2", -1).await.unwrap();
    // child watch; the second setData above must not have produced another event
    c.get_children("/w", true).await.unwrap();
    w.create("/w/k", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/w")
    );

    // watch removal and checkWatches
    c.get_children2("/w", true).await.unwrap();
    c.check_watches("/w", watcher_type::CHILDREN).await.unwrap();
    c.remove_watches("/w", watcher_type::CHILDREN)
        .await
        .unwrap();
    assert!(c
        .check_watches("/w", watcher_type::CHILDREN)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NoWatcher));
    assert!(c
        .remove_watches("/w", watcher_type::CHILDREN)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NoWatcher));

    // persistent recursive watch sees descendants, never ChildrenChanged
    c.add_watch("/w", add_watch_mode::PERSISTENT_RECURSIVE)
        .await
        .unwrap();
    w.create("/w/k/deep", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_CREATED, "/w/k/deep")
    );
    w.set_data("/w/k/deep", b"x", -1).await.unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/w/k/deep")
    );
    c.check_watches("/w", watcher_type::ANY).await.unwrap();
    // (3.8 answers MARSHALLINGERROR for watcher types 4 and 5; ANY covers them.)
    c.remove_watches("/w", watcher_type::ANY).await.unwrap();

    // persistent watch stays after firing
    c.add_watch("/w", add_watch_mode::PERSISTENT).await.unwrap();
    w.set_data("/w", b"p1", -1).await.unwrap();
    w.set_data("/w", b"p2", -1).await.unwrap();
    assert_eq!(
        next_node_event(&mut rx).await.kind,
        event::NODE_DATA_CHANGED
    );
    assert_eq!(
        next_node_event(&mut rx).await.kind,
        event::NODE_DATA_CHANGED
    );
    c.remove_watches("/w", watcher_type::ANY).await.unwrap();

    // raw setWatches2 with an old relative zxid reports the missed change at once
    let st = c.exists("/w", false).await.unwrap().unwrap();
    c.set_watches(&SetWatches2 {
        relative_zxid: st.mzxid - 1,
        data_watches: vec!["/w".into()],
        ..SetWatches2::default()
    })
    .await
    .unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/w")
    );

    // delete fires NodeDeleted on a data watch
    c.get_data("/w/k/deep", true).await.unwrap();
    w.delete("/w/k/deep", -1).await.unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DELETED, "/w/k/deep")
    );
}

#[tokio::test]
async fn multi_against_apache() {
    let Some(zk) = start(ApacheOptions::default()) else {
        return;
    };
    let (c, _rx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    let res = c
        .multi(&[
            Op::Create {
                path: "/m".into(),
                data: b"m".to_vec(),
                acl: open(),
                mode: CreateMode::Persistent,
            },
            Op::Create2 {
                path: "/m/c".into(),
                data: vec![],
                acl: open(),
                mode: CreateMode::Persistent,
            },
            Op::SetData {
                path: "/m".into(),
                data: b"n".to_vec(),
                version: 0,
            },
            Op::Check {
                path: "/m".into(),
                version: 1,
            },
        ])
        .await
        .unwrap();
    assert_eq!(first_error(&res), None);
    assert_eq!(res[0], OpResult::Create { path: "/m".into() });
    // Apache 3.8 reports a create2 inside multi with a plain create result.
    assert!(
        matches!(&res[1], OpResult::Create2 { path, .. } | OpResult::Create { path } if path == "/m/c"),
        "{res:?}"
    );
    assert!(matches!(&res[2], OpResult::SetData { stat } if stat.version == 1));
    assert_eq!(res[3], OpResult::Check);

    // a failing op aborts everything; per-op results still come back
    let res = c
        .multi(&[
            Op::Delete {
                path: "/m/c".into(),
                version: -1,
            },
            Op::Check {
                path: "/m".into(),
                version: 7,
            },
            Op::SetData {
                path: "/m".into(),
                data: vec![],
                version: -1,
            },
        ])
        .await
        .unwrap();
    assert_eq!(first_error(&res), Some((1, ErrorCode::BadVersion)));
    assert_eq!(res[0], OpResult::Error(ErrorCode::Ok));
    assert_eq!(res[2], OpResult::Error(ErrorCode::RuntimeInconsistency));
    assert!(c.exists("/m/c", false).await.unwrap().is_some());
    assert!(c
        .multi_or_err(&[Op::Delete {
            path: "/nope".into(),
            version: -1
        }])
        .await
        .unwrap_err()
        .is_api(ErrorCode::NoNode));

    // multi with a TTL create and a container
    let res = c
        .multi(&[
            Op::CreateTtl {
                path: "/m/t".into(),
                data: vec![],
                acl: open(),
                mode: CreateMode::PersistentWithTtl,
                ttl_ms: 100_000,
            },
            Op::Create {
                path: "/m/box".into(),
                data: vec![],
                acl: open(),
                mode: CreateMode::Container,
            },
            Op::Delete {
                path: "/m/c".into(),
                version: 0,
            },
        ])
        .await
        .unwrap();
    assert_eq!(first_error(&res), None, "{res:?}");
    assert!(
        matches!(&res[0], OpResult::Create2 { path, .. } | OpResult::Create { path } if path == "/m/t"),
        "{res:?}"
    );
    assert!(
        matches!(&res[1], OpResult::Create2 { path, .. } | OpResult::Create { path } if path == "/m/box"),
        "{res:?}"
    );
    assert_eq!(res[2], OpResult::Delete);

    // multiRead: independent results
    let res = c
        .multi_read(&[
            ReadOp::GetData { path: "/m".into() },
            ReadOp::GetChildren { path: "/m".into() },
            ReadOp::GetData {
                path: "/nope".into(),
            },
        ])
        .await
        .unwrap();
    assert!(matches!(&res[0], OpResult::GetData { data: Some(d), .. } if d == b"n"));
    match &res[1] {
        OpResult::GetChildren { children } => {
            let mut k = children.clone();
            k.sort();
            assert_eq!(k, vec!["box", "t"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(res[2], OpResult::Error(ErrorCode::NoNode));
}

#[tokio::test]
async fn acl_auth_and_chroot_against_apache() {
    let Some(zk) = start(ApacheOptions::default()) else {
        return;
    };
    let (c, _rx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    let me = c.who_am_i().await.unwrap();
    assert!(
        me.contains(&("ip".to_string(), "127.0.0.1".to_string())),
        "{me:?}"
    );

    c.add_auth("digest", b"alice:secret").await.unwrap();
    let me = c.who_am_i().await.unwrap();
    assert!(
        me.contains(&("digest".to_string(), "alice".to_string())),
        "{me:?}"
    );
    let id = digest_id("alice", "secret");
    let acl = vec![Acl::new(perms::ALL, "digest", &id)];
    c.create("/secret", b"s", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    let (got, st) = c.get_acl("/secret").await.unwrap();
    assert_eq!(got, acl);
    assert_eq!(st.aversion, 0);
    // CREATOR_ALL ("auth" scheme) expands to the caller's digest id
    c.create(
        "/mine",
        b"",
        &[Acl::new(perms::ALL, "auth", "")],
        CreateMode::Persistent,
    )
    .await
    .unwrap();
    assert_eq!(c.get_acl("/mine").await.unwrap().0, acl);

    let (other, _orx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    assert!(other
        .get_data("/secret", false)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NoAuth));
    assert!(c
        .set_acl("/secret", &Acl::read_unsafe(), 5)
        .await
        .unwrap_err()
        .is_api(ErrorCode::BadVersion));
    let st = c.set_acl("/secret", &Acl::read_unsafe(), 0).await.unwrap();
    assert_eq!(st.aversion, 1);
    assert_eq!(
        other.get_data("/secret", false).await.unwrap().0.unwrap(),
        b"s"
    );
    assert!(other
        .set_data("/secret", b"x", -1)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NoAuth));
    assert!(c
        .create("/bad", b"", &[], CreateMode::Persistent)
        .await
        .unwrap_err()
        .is_api(ErrorCode::InvalidAcl));

    // an unknown auth scheme fails the session for good
    let (bad, mut brx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    assert!(bad
        .add_auth("nosuchscheme", b"x")
        .await
        .unwrap_err()
        .is_api(ErrorCode::AuthFailed));
    assert_eq!(next_event(&mut brx).await.state, keeper_state::AUTH_FAILED);
    assert_eq!(bad.state(), State::AuthFailed);

    // chroot: paths are prefixed on the way out and stripped on the way back
    c.create("/app", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let (r, mut rrx) = Client::connect(cfg(&zk.addr()).with_chroot("/app"))
        .await
        .unwrap();
    assert_eq!(
        r.create("/x", b"", &open(), CreateMode::PersistentSequential)
            .await
            .unwrap(),
        "/x0000000000"
    );
    assert!(c.exists("/app/x0000000000", false).await.unwrap().is_some());
    r.get_children("/", true).await.unwrap();
    c.create("/app/y", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let ev = next_node_event(&mut rrx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/")
    );
}

#[tokio::test]
async fn sessions_against_apache() {
    let Some(mut zk) = start(ApacheOptions::default()) else {
        return;
    };
    let (c, mut rx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    c.create("/e", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    c.create("/watched", b"0", &open(), CreateMode::Persistent)
        .await
        .unwrap();

    // A second connection on the same session takes it over; the ephemeral survives. Neither
    // side reconnects on its own here, or the two would keep taking the session from each other.
    let mut once = cfg(&zk.addr());
    once.auto_reconnect = false;
    let (orig, mut orx) = Client::connect(once.clone()).await.unwrap();
    orig.create("/o", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let (twin, mut trx) =
        Client::reconnect_with_session(once.clone(), orig.session_id(), &orig.session_password())
            .await
            .unwrap();
    assert_eq!(twin.session_id(), orig.session_id());
    assert_eq!(
        twin.exists("/o", false)
            .await
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        orig.session_id()
    );
    // The server dropped the original connection.
    assert_eq!(next_event(&mut orx).await.state, keeper_state::DISCONNECTED);
    assert_eq!(orig.state(), State::Disconnected);
    // A wrong password is refused as an expired session, but the server has already dropped
    // the connection holding that session.
    let r = Client::reconnect_with_session(once.clone(), orig.session_id(), &[9; 16]).await;
    assert!(matches!(r, Err(ClientError::SessionExpired)), "{r:?}");
    assert_eq!(next_event(&mut trx).await.state, keeper_state::DISCONNECTED);
    assert!(matches!(
        twin.exists("/o", false).await,
        Err(ClientError::ConnectionLoss)
    ));
    let (third, _) =
        Client::reconnect_with_session(once, orig.session_id(), &orig.session_password())
            .await
            .unwrap();
    third.close().await.unwrap();
    assert_eq!(c.exists("/o", false).await.unwrap(), None);

    // Restart the server: the client reconnects with the same session and re-arms its watch.
    c.get_data("/watched", true).await.unwrap();
    let sid = c.session_id();
    zk.restart().unwrap();
    let mut reconnected = false;
    for _ in 0..6 {
        let ev = next_event(&mut rx).await;
        if ev.kind == event::NONE && ev.state == keeper_state::SYNC_CONNECTED {
            reconnected = true;
            break;
        }
    }
    assert!(reconnected);
    assert_eq!(c.session_id(), sid);
    assert!(c.exists("/e", false).await.unwrap().is_some());
    let (w, _wrx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    w.set_data("/watched", b"1", -1).await.unwrap();
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/watched")
    );

    // close() ends the session: its ephemeral goes and the session cannot be resumed.
    let (id, pw) = (c.session_id(), c.session_password());
    c.close().await.unwrap();
    assert_eq!(w.exists("/e", false).await.unwrap(), None);
    let r = Client::reconnect_with_session(cfg(&zk.addr()), id, &pw).await;
    assert!(matches!(r, Err(ClientError::SessionExpired)), "{r:?}");

    // A session that is not kept alive expires on the server.
    let short = ClientConfig::new([zk.addr()]).with_session_timeout(Duration::from_millis(1000));
    let (s, _srx) = Client::connect(short.clone()).await.unwrap();
    s.create("/short", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let (id, pw) = (s.session_id(), s.session_password());
    drop(s); // no close: the server must expire it
    let deadline = tokio::time::Instant::now() + WAIT;
    while w.exists("/short", false).await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "session never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = Client::reconnect_with_session(short, id, &pw).await;
    assert!(matches!(r, Err(ClientError::SessionExpired)), "{r:?}");
}

#[tokio::test]
async fn reconfig_against_apache_quorum() {
    let super_digest = digest_id("super", "admin");
    let Some(zk) = start(ApacheOptions {
        quorum: true,
        props: vec![format!(
            "zookeeper.DigestAuthenticationProvider.superDigest={super_digest}"
        )],
        ..ApacheOptions::default()
    }) else {
        return;
    };
    let (c, mut rx) = Client::connect(cfg(&zk.addr())).await.unwrap();
    let (text, st) = c.get_config(true).await.unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("server.1=127.0.0.1:"), "{text}");
    let member = text.lines().find(|l| l.starts_with("server.1=")).unwrap();

    // Without super rights reconfig is refused.
    assert!(c
        .reconfig(None, None, Some(member), -1)
        .await
        .unwrap_err()
        .is_api(ErrorCode::NoAuth));
    c.add_auth("digest", b"super:admin").await.unwrap();
    // A stale config version is refused.
    assert!(c
        .reconfig(None, None, Some(member), st.mzxid + 1000)
        .await
        .unwrap_err()
        .is_api(ErrorCode::BadVersion));
    // Re-submitting the same membership as a bulk change commits a new config version.
    let (new_text, new_st) = c.reconfig(None, None, Some(member), -1).await.unwrap();
    let new_text = String::from_utf8(new_text).unwrap();
    assert!(new_text.contains(member), "{new_text}");
    assert!(new_st.mzxid > st.mzxid, "{st:?} {new_st:?}");
    assert!(
        new_text.contains(&format!("version={:x}", new_st.mzxid)),
        "{new_text}"
    );
    let ev = next_node_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/zookeeper/config")
    );
    let (again, _) = c.get_config(false).await.unwrap();
    assert_eq!(String::from_utf8(again).unwrap(), new_text);
    assert!(four_letter_word(&zk.addr(), "srvr")
        .await
        .unwrap()
        .contains("Mode: leader"));
}
