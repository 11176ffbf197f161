//! Durability of the real `zkserver`: acknowledged writes survive kill -9, restarts across
//! snapshot rolls (snapCount=100), and torn txn-log tails (garbage appended, last record cut)
//! still start and serve the intact prefix.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::util::{connect, open};
use common::zkserver::ZkServer;
use zkserver::client::Client;
use zkserver::proto::codes::CreateMode;

async fn create_n(c: &Client, from: usize, to: usize) {
    for i in from..to {
        c.create(
            &format!("/k{i}"),
            format!("v{i}").as_bytes(),
            &open(),
            CreateMode::Persistent,
        )
        .await
        .unwrap();
    }
}

/// Asserts /k{from}../k{to-1} exist with their data.
async fn assert_present(c: &Client, from: usize, to: usize) {
    for i in from..to {
        let (d, _) = c
            .get_data(&format!("/k{i}"), false)
            .await
            .unwrap_or_else(|e| panic!("/k{i} lost: {e}"));
        assert_eq!(d.unwrap(), format!("v{i}").into_bytes());
    }
}

/// Files in version-2 whose name starts with `prefix`, ordered by their hex zxid suffix.
fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<(i64, PathBuf)> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name()?.to_str()?.to_string();
            let hex = name.strip_prefix(prefix)?;
            Some((i64::from_str_radix(hex, 16).ok()?, p))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// Offset just past the last non-zero byte (the end of the last record of a preallocated log).
fn data_end(path: &Path) -> u64 {
    let bytes = fs::read(path).unwrap();
    bytes
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |i| i as u64 + 1)
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    create_n(&c, 0, 200).await;
    let zxid = c.exists("/k199", false).await.unwrap().unwrap().mzxid;
    drop(c);
    zk.kill9();
    zk.try_start_again().unwrap();
    let (c, _rx) = connect(&zk.addr()).await;
    assert_present(&c, 0, 200).await;
    // New writes continue after the recovered zxid.
    let (_, st) = c
        .create2("/after", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    // Standalone keeps counting in the same epoch right after the recovered zxid (the new
    // session's createSession txn comes first).
    assert_eq!(st.czxid, zxid + 2, "{:#x} after {zxid:#x}", st.czxid);
}

/// A restart with nothing logged after the start-up snapshot must keep the zxid: new txns
/// must never reuse zxids that the snapshot already covers.
#[tokio::test]
async fn restarts_without_new_writes_keep_the_zxid() {
    let mut zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    create_n(&c, 0, 20).await;
    let zxid = c.exists("/k19", false).await.unwrap().unwrap().mzxid;
    drop(c);
    // Twice: the second start recovers from the first start's snapshot alone.
    for _ in 0..2 {
        zk.kill9();
        zk.try_start_again().unwrap();
        let srvr = zk.four_letter("srvr").unwrap();
        assert!(
            srvr.contains(&format!("Zxid: {zxid:#x}")),
            "zxid after restart: {srvr}"
        );
    }
    let (c, _rx) = connect(&zk.addr()).await;
    let (_, st) = c
        .create2("/after", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert!(
        st.czxid > zxid,
        "{:#x} reuses a zxid at or before {zxid:#x}",
        st.czxid
    );
    drop(c);
    zk.kill9();
    zk.try_start_again().unwrap();
    let (c, _rx) = connect(&zk.addr()).await;
    assert_present(&c, 0, 20).await;
    assert!(c.exists("/after", false).await.unwrap().is_some());
}

#[tokio::test]
async fn restarts_across_snapshot_rolls() {
    let mut zk = ZkServer::builder().cfg("snapCount", 100).start();
    let (c, _rx) = connect(&zk.addr()).await;
    create_n(&c, 0, 450).await;
    c.set_data("/k0", b"v0", -1).await.unwrap();
    drop(c);
    let v2 = zk.version2_dir();
    assert!(
        files(&v2, "snapshot.").len() >= 2,
        "snapshots rolled: {:?}",
        fs::read_dir(&v2).unwrap().collect::<Vec<_>>()
    );
    assert!(files(&v2, "log.").len() >= 2, "logs rolled");
    zk.restart();
    let (c, _rx) = connect(&zk.addr()).await;
    assert_present(&c, 0, 450).await;
    create_n(&c, 450, 500).await;
    drop(c);
    zk.restart();
    let (c, _rx) = connect(&zk.addr()).await;
    assert_present(&c, 0, 500).await;
    // Plus /zookeeper, /zookeeper/quota and /zookeeper/config.
    assert_eq!(c.get_all_children_number("/").await.unwrap(), 500 + 3);
}

#[tokio::test]
async fn garbage_after_the_last_record_is_ignored() {
    let mut zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    create_n(&c, 0, 50).await;
    drop(c);
    zk.kill9();
    let log = files(&zk.version2_dir(), "log.").pop().expect("a txn log");
    let end = data_end(&log);
    let f = fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(end).unwrap();
    let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x10, 0x00, 0x13, 0x37])
        .unwrap();
    drop(f);
    zk.try_start_again()
        .unwrap_or_else(|e| panic!("start on a log with a garbage tail: {e}"));
    let (c, _rx) = connect(&zk.addr()).await;
    assert_present(&c, 0, 50).await;
    // Writes after recovery are durable too.
    create_n(&c, 50, 60).await;
    drop(c);
    zk.restart();
    let (c, _rx) = connect(&zk.addr()).await;
    assert_present(&c, 0, 60).await;
}

#[tokio::test]
async fn truncated_last_record_leaves_the_prefix() {
    let mut zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    create_n(&c, 0, 50).await;
    drop(c);
    zk.kill9();
    let log = files(&zk.version2_dir(), "log.").pop().expect("a txn log");
    let end = data_end(&log);
    // Cut the last record (the create of /k49) in its middle.
    let f = fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(end - 20).unwrap();
    drop(f);
    zk.try_start_again()
        .unwrap_or_else(|e| panic!("start on a torn log: {e}"));
    let (c, _rx) = connect(&zk.addr()).await;
    assert_present(&c, 0, 49).await;
    assert!(c.exists("/k49", false).await.unwrap().is_none());
    create_n(&c, 49, 55).await;
    drop(c);
    zk.restart();
    let (c, _rx) = connect(&zk.addr()).await;
    assert_present(&c, 0, 55).await;
}

#[tokio::test]
async fn sessions_survive_a_restart_and_expire_later() {
    let mut zk = ZkServer::start_default();
    let (keep, _rx) = connect(&zk.addr()).await;
    keep.create("/kept", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let (gone, _rx2) = Client::connect(
        common::util::cfg(&zk.addr()).with_session_timeout(std::time::Duration::from_secs(2)),
    )
    .await
    .unwrap();
    gone.create("/gone", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let (id, pw) = (keep.session_id(), keep.session_password());
    drop(keep);
    drop(gone);
    zk.kill9();
    zk.try_start_again().unwrap();
    // The old session resumes with the same password after the restart.
    let (c, _rx) = Client::reconnect_with_session(common::util::cfg(&zk.addr()), id, &pw)
        .await
        .unwrap();
    assert_eq!(c.get_ephemerals("/").await.unwrap(), vec!["/kept"]);
    // The session nobody resumes expires and takes its ephemeral with it.
    common::util::wait_for("restored idle session expires", || async {
        c.exists("/gone", false)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(c.exists("/kept", false).await.unwrap().is_some());
}
