//! `zkserver reconfig` against a real standalone `zkserver`: a standalone server cannot
//! reconfigure, and says so as Apache does (RECONFIGDISABLED when reconfigEnabled=false,
//! UNIMPLEMENTED otherwise); Apache's zkCli prints the same message as our CLI.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::apache::apache_classpath;
use common::zkserver::{ZkServer, BIN};

/// Runs `zkserver reconfig <args>`; returns (success, stdout, stderr).
fn our_cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("reconfig")
        .args(args)
        .env("ZKSERVER_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn standalone_with_reconfig_disabled() {
    let server = ZkServer::start_default();
    let addr = server.addr();
    let (ok, stdout, stderr) = our_cli(&["-server", &addr, "-remove", "3"]);
    assert!(!ok, "stdout: {stdout}");
    assert!(
        stderr.contains("KeeperErrorCode = Reconfig is disabled"),
        "stderr: {stderr}"
    );
    // The server stays usable and the config node untouched.
    assert!(server.four_letter("ruok").is_some_and(|r| r == "imok"));

    // Apache's zkCli, when installed, prints the same line for the same answer.
    if let Some(cp) = apache_classpath() {
        let out = Command::new("java")
            .arg("-cp")
            .arg(cp)
            .arg("org.apache.zookeeper.ZooKeeperMain")
            .args(["-server", &addr, "reconfig", "-remove", "3"])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("KeeperErrorCode = Reconfig is disabled"),
            "zkCli: {text}"
        );
    } else {
        eprintln!("SKIP zkCli comparison: Apache ZooKeeper jars or java not available");
    }
}

#[test]
fn standalone_with_reconfig_enabled_is_unimplemented() {
    let server = ZkServer::builder().cfg("reconfigEnabled", "true").start();
    let (ok, _, stderr) = our_cli(&[
        "-server",
        &server.addr(),
        "-add",
        "server.2=127.0.0.1:2888:3888;2182",
        "--auth",
        "digest:super:pw",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("KeeperErrorCode = Unimplemented"),
        "stderr: {stderr}"
    );
}

#[test]
fn bad_command_lines_fail_before_connecting() {
    let (ok, _, stderr) = our_cli(&["-v", "1"]);
    assert!(!ok);
    assert!(stderr.contains("reconfig [-s] [-v version]"), "{stderr}");
    let (ok, _, stderr) = our_cli(&["-members", "server.1=a:1:2;3", "-remove", "1"]);
    assert!(!ok);
    assert!(stderr.contains("mixing incremental"), "{stderr}");
}
