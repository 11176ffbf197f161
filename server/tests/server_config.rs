//! zoo.cfg handling of the real `zkserver` binary: bad values stop it with a message naming
//! the key; unknown keys are accepted; four-letter words answer in Apache's shapes.
#![allow(clippy::unwrap_used)]

mod common;

use common::util::{connect, open};
use common::zkserver::{run_to_exit, scratch, ZkServer};
use zkserver::proto::codes::CreateMode;

#[test]
fn bad_values_exit_non_zero_naming_the_key() {
    let (tmp, port) = scratch();
    let base = format!(
        "dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
        tmp.path().display()
    );
    for (line, key) in [
        ("tickTime=abc", "tickTime"),
        ("maxClientCnxns=lots", "maxClientCnxns"),
        ("clientPort=notaport", "clientPort"),
    ] {
        let (status, out) = run_to_exit(&format!("{base}tickTime=2000\n{line}\n"), "");
        assert!(!status.success(), "{line}: {out}");
        assert!(out.contains(key), "{line}: message must name {key}: {out}");
    }
    // No dataDir at all.
    let (status, out) = run_to_exit(&format!("clientPort={port}\ntickTime=2000\n"), "");
    assert!(!status.success(), "{out}");
    assert!(out.contains("dataDir"), "{out}");
    // A missing config file.
    let out = std::process::Command::new(common::zkserver::BIN)
        .arg(tmp.path().join("nope.cfg"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn unknown_keys_are_accepted() {
    let zk = ZkServer::builder()
        .cfg("someFutureKnob", "42")
        .cfg("another.unknown.key", "x y z")
        .start();
    let (c, _rx) = connect(&zk.addr()).await;
    c.create("/ok", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
}

#[test]
fn four_letter_words_have_apache_shapes() {
    let zk = ZkServer::start_default();
    let w = |cmd: &str| {
        zk.four_letter(cmd)
            .unwrap_or_else(|| panic!("{cmd} answers"))
    };
    assert_eq!(w("ruok"), "imok");
    let srvr = w("srvr");
    for needle in [
        "Zookeeper version: ",
        "Latency min/avg/max: ",
        "Received: ",
        "Sent: ",
        "Connections: ",
        "Outstanding: 0",
        "Zxid: 0x",
        "Mode: standalone",
        "Node count: ",
    ] {
        assert!(srvr.contains(needle), "srvr lacks {needle:?}: {srvr}");
    }
    let stat = w("stat");
    assert!(stat.contains("Clients:\n"), "{stat}");
    assert!(stat.contains("Mode: standalone"), "{stat}");
    let mntr = w("mntr");
    for needle in [
        "zk_version\t",
        "zk_server_state\tstandalone",
        "zk_znode_count\t",
        "zk_watch_count\t",
        "zk_ephemerals_count\t",
        "zk_num_alive_connections\t",
        "zk_outstanding_requests\t",
    ] {
        assert!(mntr.contains(needle), "mntr lacks {needle:?}: {mntr}");
    }
    for line in mntr.lines() {
        assert_eq!(line.split('\t').count(), 2, "mntr line {line:?}");
    }
    let conf = w("conf");
    assert!(conf.contains(&format!("clientPort={}", zk.port)), "{conf}");
    assert!(conf.contains("dataDir="), "{conf}");
    assert!(conf.contains("tickTime=500"), "{conf}");
    assert!(conf.contains("minSessionTimeout=1000"), "{conf}");
    let dirs = w("dirs");
    assert!(dirs.contains("datadir_size: "), "{dirs}");
    assert!(dirs.contains("logdir_size: "), "{dirs}");
    assert_eq!(w("isro"), "rw");
    let wchs = w("wchs");
    assert!(wchs.contains("connections watching"), "{wchs}");
    assert!(wchs.contains("Total watches:"), "{wchs}");
    // As in Apache, the asking connection counts and is listed (no session, interest 0).
    assert!(srvr.contains("Connections: 1\n"), "{srvr}");
    let cons = w("cons");
    assert!(cons.starts_with(" /127.0.0.1:"), "{cons:?}");
    assert!(
        cons.ends_with("[0](queued=0,recved=1,sent=0)\n\n"),
        "{cons:?}"
    );
    assert_eq!(cons.lines().count(), 2, "{cons:?}");
}

#[tokio::test]
async fn cons_and_stat_list_client_sessions() {
    let zk = ZkServer::start_default();
    let (c, _rx) = connect(&zk.addr()).await;
    c.create("/x", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let cons = zkserver::client::four_letter_word(&zk.addr(), "cons")
        .await
        .unwrap();
    let sid = format!("sid=0x{:x},", c.session_id());
    let line = cons
        .lines()
        .find(|l| l.contains(&sid))
        .unwrap_or_else(|| panic!("{sid} missing: {cons}"));
    assert!(line.starts_with(" /127.0.0.1:"), "{line}");
    for key in [
        "lop=", "est=", "to=10000", "lcxid=0x", "lzxid=0x", "minlat=",
    ] {
        assert!(line.contains(key), "{key} missing: {line}");
    }
    let stat = zkserver::client::four_letter_word(&zk.addr(), "stat")
        .await
        .unwrap();
    assert!(stat.contains("Connections: 2\n"), "{stat}");
    assert_eq!(
        stat.lines()
            .filter(|l| l.starts_with(" /127.0.0.1:"))
            .count(),
        2,
        "{stat}"
    );
}

#[test]
fn non_whitelisted_words_are_refused() {
    let zk = ZkServer::builder()
        .default_whitelist()
        .cfg("4lw.commands.whitelist", "srvr, ruok")
        .start();
    assert_eq!(zk.four_letter("ruok").as_deref(), Some("imok"));
    assert_eq!(
        zk.four_letter("stat").as_deref(),
        Some("stat is not executed because it is not in the whitelist.\n")
    );
    assert_eq!(
        zk.four_letter("mntr").as_deref(),
        Some("mntr is not executed because it is not in the whitelist.\n")
    );
    assert!(zk.four_letter("srvr").unwrap().contains("Mode: standalone"));
}
