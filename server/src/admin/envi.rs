//! `envi` lines for a Rust binary, and the short operation names `cons` shows.

use crate::proto::codes::op;

/// Our version string in Apache's `Version.getFullVersion()` shape.
pub const VERSION_STRING: &str = concat!(
    "3.9.3-zkserver-rs-",
    env!("CARGO_PKG_VERSION"),
    ", built on ",
    env!("ZKSERVER_BUILD_DATE")
);

/// Gathers the `envi` properties. Apache prints JVM properties; we keep its keys and
/// layout so scripts keep working, with values that describe this process.
pub fn environment(version: &str) -> Vec<(String, String)> {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.display().to_string()))
        .unwrap_or_default();
    let host = read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string());
    let os_version = read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        other => other,
    };
    let os_name = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        other => other,
    };
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    let home = std::env::var("HOME").unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let tmp = std::env::temp_dir().display().to_string();
    let (mem_free, mem_total) = meminfo_mb();
    vec![
        ("zookeeper.version".into(), version.to_string()),
        ("host.name".into(), host),
        ("java.version".into(), "n/a (native Rust binary)".into()),
        ("java.vendor".into(), "zkserver-rs".into()),
        ("java.home".into(), exe_dir),
        ("java.class.path".into(), exe),
        ("java.library.path".into(), String::new()),
        ("java.io.tmpdir".into(), tmp),
        ("java.compiler".into(), "<NA>".into()),
        ("os.name".into(), os_name.into()),
        ("os.arch".into(), arch.into()),
        ("os.version".into(), os_version),
        ("user.name".into(), user),
        ("user.home".into(), home),
        ("user.dir".into(), cwd),
        ("os.memory.free".into(), format!("{mem_free}MB")),
        ("os.memory.max".into(), format!("{mem_total}MB")),
        ("os.memory.total".into(), format!("{mem_total}MB")),
    ]
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// (available, total) system memory in MB from /proc/meminfo; zeros elsewhere.
fn meminfo_mb() -> (u64, u64) {
    let Some(text) = read_trimmed("/proc/meminfo") else {
        return (0, 0);
    };
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("MemAvailable:"), field("MemTotal:"))
}

/// The short name `cons` prints as `lop=` for a request type (FinalRequestProcessor's).
pub fn last_op_name(op_code: i32) -> &'static str {
    match op_code {
        op::PING => "PING",
        op::CREATE_SESSION => "SESS",
        op::MULTI => "MULT",
        op::MULTI_READ => "MLTR",
        op::CREATE | op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER => "CREA",
        op::DELETE | op::DELETE_CONTAINER => "DELE",
        op::SET_DATA => "SETD",
        op::RECONFIG => "RECO",
        op::SET_ACL => "SETA",
        op::CLOSE_SESSION => "CLOS",
        op::SYNC => "SYNC",
        op::CHECK => "CHEC",
        op::EXISTS => "EXIS",
        op::GET_DATA => "GETD",
        op::SET_WATCHES => "SETW",
        op::SET_WATCHES2 => "STW2",
        op::ADD_WATCH => "ADDW",
        op::GET_ACL => "GETA",
        op::GET_CHILDREN | op::GET_CHILDREN2 => "GETC",
        op::GET_ALL_CHILDREN_NUMBER => "GETACN",
        op::CHECK_WATCHES => "CHKW",
        op::REMOVE_WATCHES => "REMW",
        op::WHO_AM_I => "HOMI",
        op::GET_EPHEMERALS => "GETE",
        _ => "NA",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn environment_keeps_apache_keys_in_order() {
        let env = environment("v1");
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "zookeeper.version",
                "host.name",
                "java.version",
                "java.vendor",
                "java.home",
                "java.class.path",
                "java.library.path",
                "java.io.tmpdir",
                "java.compiler",
                "os.name",
                "os.arch",
                "os.version",
                "user.name",
                "user.home",
                "user.dir",
                "os.memory.free",
                "os.memory.max",
                "os.memory.total"
            ]
        );
        assert_eq!(env[0].1, "v1");
        assert!(env[15].1.ends_with("MB"));
    }

    #[test]
    fn op_names() {
        assert_eq!(last_op_name(op::GET_CHILDREN2), "GETC");
        assert_eq!(last_op_name(op::CREATE_TTL), "CREA");
        assert_eq!(last_op_name(op::PING), "PING");
        assert_eq!(last_op_name(9999), "NA");
    }
}
