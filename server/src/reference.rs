//! Apache ZooKeeper from Debian's `zookeeper` package: the reference implementation that the
//! tests compare behaviour with and the benchmarks compare speed with.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Jars of Debian's `zookeeper` package that `QuorumPeerMain` and the log/snapshot tools need.
pub const APACHE_JARS: &[&str] = &[
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "slf4j-api.jar",
    "slf4j-nop.jar",
    "netty-handler.jar",
    "netty-common.jar",
    "netty-buffer.jar",
    "netty-transport.jar",
    "netty-codec.jar",
    "netty-resolver.jar",
    "netty-transport-native-epoll.jar",
    "netty-transport-native-unix-common.jar",
    "metrics-core.jar",
    "commons-cli.jar",
    "commons-io.jar",
    "snappy-java.jar",
];

/// Where Debian installs them.
pub const JAR_DIR: &str = "/usr/share/java";

/// The classpath to run Apache with (`APACHE_ZK_CLASSPATH` overrides the Debian jar list), or
/// `None` when java or a jar is missing, so callers can skip.
pub fn apache_classpath() -> Option<String> {
    let java_ok = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !java_ok {
        return None;
    }
    if let Ok(cp) = std::env::var("APACHE_ZK_CLASSPATH") {
        return Some(cp);
    }
    let jars: Vec<PathBuf> = APACHE_JARS
        .iter()
        .map(|j| Path::new(JAR_DIR).join(j))
        .collect();
    if jars.iter().any(|j| !j.exists()) {
        return None;
    }
    let names: Vec<String> = jars.iter().map(|j| j.display().to_string()).collect();
    Some(names.join(":"))
}
