//! multi and multiRead on the real `zkserver`: all-or-nothing writes with per-op error codes,
//! the check op, and independent multiRead results.
#![allow(clippy::unwrap_used)]

mod common;

use common::util::{connect, next_node_event, open};
use common::zkserver::ZkServer;
use zkserver::client::{first_error, ClientError, Op, OpResult, ReadOp};
use zkserver::proto::codes::{event, CreateMode, ErrorCode};

fn create(path: &str) -> Op {
    Op::Create {
        path: path.into(),
        data: b"d".to_vec(),
        acl: open(),
        mode: CreateMode::Persistent,
    }
}

#[tokio::test]
async fn failed_multi_changes_nothing_and_reports_each_op() {
    let zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    c.create("/exists", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let before = c.exists("/", false).await.unwrap().unwrap();
    let res = c
        .multi(&[
            create("/m1"),
            create("/m2"),
            Op::SetData {
                path: "/missing".into(),
                data: vec![],
                version: -1,
            },
            create("/m3"),
            Op::Delete {
                path: "/exists".into(),
                version: -1,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        res,
        vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::NoNode),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ]
    );
    assert_eq!(first_error(&res), Some((2, ErrorCode::NoNode)));
    for p in ["/m1", "/m2", "/m3"] {
        assert!(c.exists(p, false).await.unwrap().is_none(), "{p}");
    }
    assert!(c.exists("/exists", false).await.unwrap().is_some());
    let after = c.exists("/", false).await.unwrap().unwrap();
    assert_eq!(after.cversion, before.cversion);

    // An op that depends on an earlier op of the same multi sees it.
    let res = c
        .multi(&[create("/chain"), create("/chain/a"), create("/chain/a")])
        .await
        .unwrap();
    assert_eq!(first_error(&res), Some((2, ErrorCode::NodeExists)));
    assert!(c.exists("/chain", false).await.unwrap().is_none());
    assert!(matches!(
        c.multi_or_err(&[create("/chain"), create("/chain/a"), create("/chain/a")])
            .await,
        Err(ClientError::Api(ErrorCode::NodeExists))
    ));
}

#[tokio::test]
async fn successful_multi_applies_atomically_with_results() {
    let zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    let (w, mut wrx) = connect(&zk.addr()).await;
    c.create("/base", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.create("/base/old", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    w.get_children("/base", true).await.unwrap();
    let res = c
        .multi(&[
            Op::Check {
                path: "/base".into(),
                version: 0,
            },
            create("/base/a"),
            Op::Create2 {
                path: "/base/s-".into(),
                data: vec![1, 2],
                acl: open(),
                mode: CreateMode::PersistentSequential,
            },
            Op::SetData {
                path: "/base".into(),
                data: b"v".to_vec(),
                version: 0,
            },
            Op::Delete {
                path: "/base/old".into(),
                version: 0,
            },
        ])
        .await
        .unwrap();
    assert_eq!(res.len(), 5);
    assert_eq!(res[0], OpResult::Check);
    assert_eq!(
        res[1],
        OpResult::Create {
            path: "/base/a".into()
        }
    );
    // Apache rebuilds multi ops from their records (MultiOperationRecord.deserialize ->
    // Op.create), so a create2 inside a multi is answered as a plain create, without a stat.
    let OpResult::Create { path } = &res[2] else {
        panic!("{:?}", res[2]);
    };
    // cversion was 1 (old) + 1 (a) when s- was created.
    assert_eq!(path, "/base/s-0000000002");
    let (_, stat) = c.get_data("/base/s-0000000002", false).await.unwrap();
    assert_eq!(stat.data_length, 2);
    let OpResult::SetData { stat: set } = &res[3] else {
        panic!("{:?}", res[3]);
    };
    assert_eq!(set.version, 1);
    // Every op of one multi shares one zxid.
    assert_eq!(set.mzxid, stat.czxid);
    assert_eq!(res[4], OpResult::Delete);
    let mut kids = c.get_children("/base", false).await.unwrap();
    kids.sort();
    assert_eq!(kids, vec!["a", "s-0000000002"]);
    // The watcher sees exactly one child event for the whole multi.
    let ev = next_node_event(&mut wrx).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/base")
    );
    assert_eq!(ev.zxid, set.mzxid);

    // A failing check aborts everything.
    let res = c
        .multi(&[
            create("/base/b"),
            Op::Check {
                path: "/base".into(),
                version: 7,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        res,
        vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::BadVersion)
        ]
    );
    assert!(c.exists("/base/b", false).await.unwrap().is_none());
    // An empty multi succeeds with no results.
    assert_eq!(c.multi(&[]).await.unwrap(), vec![]);
}

#[tokio::test]
async fn multi_read_results_are_independent() {
    let zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    c.create("/r", b"rd", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.create("/r/c1", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let res = c
        .multi_read(&[
            ReadOp::GetData { path: "/r".into() },
            ReadOp::GetChildren {
                path: "/nope".into(),
            },
            ReadOp::GetChildren { path: "/r".into() },
            ReadOp::GetData {
                path: "/nope".into(),
            },
        ])
        .await
        .unwrap();
    let OpResult::GetData { data, stat } = &res[0] else {
        panic!("{:?}", res[0]);
    };
    assert_eq!(data.as_deref(), Some(&b"rd"[..]));
    assert_eq!(stat.num_children, 1);
    assert_eq!(res[1], OpResult::Error(ErrorCode::NoNode));
    assert_eq!(
        res[2],
        OpResult::GetChildren {
            children: vec!["c1".into()]
        }
    );
    assert_eq!(res[3], OpResult::Error(ErrorCode::NoNode));
}
