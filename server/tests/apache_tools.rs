//! Compatibility with real Apache ZooKeeper: files we write are read by Apache's own tools
//! (TxnLogToolkit, SnapshotFormatter). Skips, with a note, when java or the jars are missing.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use zkserver::proto::codes::op;
use zkserver::proto::records::{Acl, StatPersisted};
use zkserver::proto::txn::{
    CloseSessionTxn, CreateSessionTxn, CreateTxn, DeleteTxn, ErrorTxn, SetAclTxn, SetDataTxn, Txn,
    TxnBody, TxnDigest, TxnHeader,
};
use zkserver::storage::{
    dump_snapshot, read_txns, write_snapshot, write_tree_stream, SnapNode, TreeStream,
    TxnLogWriter, DEFAULT_PREALLOC,
};

const JARS: [&str; 2] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
];

/// Runs an Apache class with the Debian jars; `None` when they are not installed.
fn run_apache(class: &str, args: &[&Path]) -> Option<(bool, String)> {
    if JARS.iter().any(|j| !Path::new(j).exists()) {
        eprintln!(
            "SKIP: Apache ZooKeeper jars not installed ({})",
            JARS.join(", ")
        );
        return None;
    }
    // The Debian jar's manifest Class-Path brings in slf4j, jute and the rest.
    let out = match Command::new("java")
        .arg("-cp")
        .arg(JARS.join(":"))
        .arg(class)
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("SKIP: cannot run java: {e}");
            return None;
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}

fn hdr(zxid: i64, kind: i32) -> TxnHeader {
    TxnHeader {
        client_id: 0x100,
        cxid: zxid as i32,
        zxid,
        time: 1_700_000_000_000 + zxid,
        kind,
    }
}

fn txns() -> Vec<Txn> {
    let d = |v| {
        Some(TxnDigest {
            version: 2,
            tree_digest: v,
        })
    };
    vec![
        Txn {
            hdr: hdr(1, op::CREATE_SESSION),
            body: TxnBody::CreateSession(CreateSessionTxn { time_out: 30000 }),
            digest: d(11),
        },
        Txn {
            hdr: hdr(2, op::CREATE),
            body: TxnBody::Create(CreateTxn {
                path: "/alpha".into(),
                data: Some(Bytes::from_static(b"hello")),
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_cversion: 1,
            }),
            digest: d(12),
        },
        Txn {
            hdr: hdr(3, op::SET_DATA),
            body: TxnBody::SetData(SetDataTxn {
                path: "/alpha".into(),
                data: Some(Bytes::from_static(b"world")),
                version: 1,
            }),
            digest: d(13),
        },
        Txn {
            hdr: hdr(4, op::SET_ACL),
            body: TxnBody::SetAcl(SetAclTxn {
                path: "/alpha".into(),
                acl: Acl::read_unsafe(),
                version: 1,
            }),
            digest: d(14),
        },
        Txn {
            hdr: hdr(5, op::ERROR),
            body: TxnBody::Error(ErrorTxn { err: -101 }),
            digest: None,
        },
        Txn {
            hdr: hdr(6, op::MULTI),
            body: TxnBody::Multi(vec![
                (
                    op::CREATE,
                    TxnBody::Create(CreateTxn {
                        path: "/beta".into(),
                        data: None,
                        acl: Acl::open_unsafe(),
                        ephemeral: true,
                        parent_cversion: 2,
                    }),
                ),
                (
                    op::DELETE,
                    TxnBody::Delete(DeleteTxn {
                        path: "/alpha".into(),
                    }),
                ),
            ]),
            digest: d(16),
        },
        Txn {
            hdr: hdr(7, op::CLOSE_SESSION),
            body: TxnBody::CloseSession(CloseSessionTxn {
                paths_to_delete: Some(vec!["/beta".into()]),
            }),
            digest: d(17),
        },
    ]
}

#[test]
fn apache_txn_log_toolkit_reads_our_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::open(dir.path(), DEFAULT_PREALLOC, true).unwrap();
    let txns = txns();
    for t in &txns {
        w.append(t.zxid(), &t.encode()).unwrap();
    }
    w.commit().unwrap();
    let file = w.current_file().unwrap().to_path_buf();
    assert_eq!(file.file_name().unwrap(), "log.1");
    // We read back what we wrote.
    assert_eq!(read_txns(dir.path(), 0).unwrap(), txns);
    let Some((ok, out)) = run_apache(
        "org.apache.zookeeper.server.persistence.TxnLogToolkit",
        &[Path::new("-d"), &file],
    ) else {
        return;
    };
    assert!(ok, "TxnLogToolkit failed:\n{out}");
    assert!(out.contains("txnlog format version 2"), "{out}");
    assert!(out.contains("zxid 0x1 createSession 30000"), "{out}");
    assert!(out.contains("zxid 0x2 create /alpha,hello,"), "{out}");
    assert!(out.contains("zxid 0x3 setData /alpha,world,1"), "{out}");
    assert!(out.contains("zxid 0x4 setACL '/alpha"), "{out}");
    assert!(out.contains("zxid 0x5 error -101"), "{out}");
    assert!(out.contains("zxid 0x6 multi"), "{out}");
    assert!(out.contains("zxid 0x7 closeSession v{'/beta}"), "{out}");
    assert!(out.contains("EOF reached after 7 txns."), "{out}");
}

fn node(path: &str, data: &[u8], acl: i64, czxid: i64, owner: i64) -> SnapNode {
    SnapNode {
        path: path.into(),
        data: Some(data.to_vec()),
        acl,
        stat: StatPersisted {
            czxid,
            mzxid: czxid,
            ctime: 1_700_000_000_000,
            mtime: 1_700_000_000_000,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: czxid,
        },
    }
}

#[test]
fn apache_snapshot_formatter_reads_our_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let tree = TreeStream {
        acls: vec![(1, Acl::read_unsafe())],
        nodes: vec![
            node("", b"", -1, 0, 0),
            node("/zookeeper", b"", -1, 0, 0),
            node("/zookeeper/quota", b"", -1, 0, 0),
            node("/zookeeper/config", b"", 1, 0, 0),
            node("/app", b"some data", -1, 2, 0),
            node("/app/eph", b"e", -1, 3, 0x100),
        ],
    };
    let path = write_snapshot(dir.path(), 3, &[(0x100, 30000)], Some((3, 12345)), |w| {
        write_tree_stream(w, &tree)
    })
    .unwrap();
    assert_eq!(path.file_name().unwrap(), "snapshot.3");
    let mut ours = Vec::new();
    dump_snapshot(&path, &mut ours).unwrap();
    let ours = String::from_utf8(ours).unwrap();
    let Some((ok, out)) = run_apache("org.apache.zookeeper.server.SnapshotFormatter", &[&path])
    else {
        return;
    };
    assert!(ok, "SnapshotFormatter failed:\n{out}");
    assert!(out.contains("ZNode Details (count=7):"), "{out}");
    assert!(
        out.contains("/app/eph\n  cZxid = 0x00000000000003\n"),
        "{out}"
    );
    assert!(out.contains("  dataLength = 9\n"), "{out}");
    assert!(out.contains("0x00000000000100, 30000, 1"), "{out}");
    assert!(ours.contains("0x00000000000100, 30000, 1"), "{ours}");
    // Our dump prints the same node blocks (Apache orders siblings by hash, so compare sets).
    let blocks = |s: &str| {
        let mut v: Vec<String> = s
            .split("----\n")
            .filter(|b| b.starts_with('/'))
            .map(|b| b.to_string())
            .collect();
        v.sort();
        v
    };
    let theirs = out.split("ZNode Details").nth(1).unwrap_or("");
    assert_eq!(
        blocks(&ours),
        blocks(theirs),
        "ours:\n{ours}\ntheirs:\n{out}"
    );
}

/// Sends a four-letter word and returns the reply ("" when the server is not up yet).
fn four_letter(port: u16, word: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    if s.write_all(word.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Kills the Apache server we started when the test ends, pass or fail.
struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn apache_server_loads_a_data_dir_we_wrote() {
    use zkserver::storage::{read_raw_txns, read_snapshot, read_tree_stream};
    if JARS.iter().any(|j| !Path::new(j).exists())
        || Command::new("java").arg("-version").output().is_err()
    {
        eprintln!("SKIP: java or Apache ZooKeeper jars not installed");
        return;
    }
    // Rewrite Apache's own fixture through our code: its newest snapshot and the log after it.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apache-3.8-datadir");
    let snap = read_snapshot(&fixture.join("version-2/snapshot.1a"), |r| {
        read_tree_stream(r).map_err(|e| e.to_string())
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_snapshot(dir.path(), snap.zxid, &snap.sessions, snap.digest, |w| {
        write_tree_stream(w, &snap.tree)
    })
    .unwrap();
    let mut w = TxnLogWriter::open(dir.path(), DEFAULT_PREALLOC, true).unwrap();
    let raws = read_raw_txns(&fixture, snap.zxid).unwrap();
    assert_eq!(raws.len(), 4);
    for t in &raws {
        w.append(t.zxid, &t.payload).unwrap();
    }
    w.commit().unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=srvr,stat\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let child = Command::new("java")
        .arg("-cp")
        .arg(JARS.join(":"))
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut reply = String::new();
    while std::time::Instant::now() < deadline {
        reply = four_letter(port, "srvr");
        if reply.contains("Zxid:") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Loaded our snapshot (0x1a) and replayed our log up to 0x1e: the closeSession removed
    // /app/eph and 0x1d deleted /z7, leaving 19 nodes in Apache's count.
    assert!(reply.contains("Zxid: 0x1e"), "srvr said: {reply}");
    assert!(reply.contains("Node count: 19"), "srvr said: {reply}");
}
