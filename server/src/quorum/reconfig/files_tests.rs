#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::ServerConfig;

const OLD_STYLE: &str = "# my ensemble\n\
tickTime=2000\n\
initLimit=10\n\
syncLimit=5\n\
dataDir=/var/lib/zk\n\
clientPort=2181\n\
clientPortAddress=127.0.0.1\n\
reconfigEnabled=true\n\
peerType=participant\n\
server.1=127.0.0.1:2801:3801\n\
server.2=127.0.0.1:2802:3802\n\
server.10=127.0.0.1:2810:3810\n";

fn config(text: &str) -> QuorumConfig {
    QuorumConfig::from_properties(&Properties::parse(text).unwrap(), true, false).unwrap()
}

fn new_config() -> QuorumConfig {
    config(
        "server.1=127.0.0.1:2801:3801:participant;127.0.0.1:2181\n\
         server.2=127.0.0.1:2802:3802:participant;127.0.0.1:2182\n\
         server.10=127.0.0.1:2810:3810:observer;127.0.0.1:2190\n\
         version=100000003\n",
    )
}

#[test]
fn names_follow_apache() {
    let p = Path::new("/etc/zk/zoo.cfg");
    assert_eq!(
        dynamic_config_path(p, 0x1_0000_0003),
        Path::new("/etc/zk/zoo.cfg.dynamic.100000003")
    );
    assert_eq!(
        dynamic_config_path(p, 0),
        Path::new("/etc/zk/zoo.cfg.dynamic.0")
    );
    assert_eq!(
        next_config_path(p),
        Path::new("/etc/zk/zoo.cfg.dynamic.next")
    );
}

#[test]
fn dynamic_file_text_is_string_sorted_without_final_newline() {
    // Java sorts whole lines: '0' < '=', so server.10=... comes before server.1=...
    let c = new_config();
    assert_eq!(
        render_dynamic_file(&c, false),
        "server.10=127.0.0.1:2810:3810:observer;127.0.0.1:2190\n\
         server.1=127.0.0.1:2801:3801:participant;127.0.0.1:2181\n\
         server.2=127.0.0.1:2802:3802:participant;127.0.0.1:2182"
    );
    assert_eq!(
        render_dynamic_file(&c, true),
        "server.10=127.0.0.1:2810:3810:observer;127.0.0.1:2190\n\
         server.1=127.0.0.1:2801:3801:participant;127.0.0.1:2181\n\
         server.2=127.0.0.1:2802:3802:participant;127.0.0.1:2182\n\
         version=100000003"
    );
}

#[test]
fn first_reconfig_moves_servers_out_of_zoo_cfg() {
    let dir = tempfile::tempdir().unwrap();
    let zoo = dir.path().join("zoo.cfg");
    fs::write(&zoo, OLD_STYLE).unwrap();
    let bak = backup_static_config(&zoo).unwrap();
    assert_eq!(fs::read_to_string(&bak).unwrap(), OLD_STYLE);

    let c = new_config();
    let next = write_next_config(&zoo, &c).unwrap();
    assert_eq!(read_next_config(&zoo, false).unwrap(), Some(c.clone()));

    let dynamic = write_activated_config(&zoo, &c, 1, c.version).unwrap();
    assert_eq!(dynamic, dir.path().join("zoo.cfg.dynamic.100000003"));
    assert!(!next.exists(), ".dynamic.next is removed once activated");
    assert_eq!(read_next_config(&zoo, false).unwrap(), None);

    let canonical = fs::canonicalize(&dynamic).unwrap();
    assert_eq!(
        fs::read_to_string(&zoo).unwrap(),
        format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zk\n\
             reconfigEnabled=true\ndynamicConfigFile={}\n",
            canonical.display()
        )
    );
    assert_eq!(
        fs::read_to_string(&dynamic).unwrap(),
        render_dynamic_file(&c, false)
    );
    assert_eq!(read_dynamic_config(&dynamic, false).unwrap(), c);

    // The rewritten pair loads back to the same membership and version.
    let text = fs::read_to_string(&zoo).unwrap();
    let loaded = ServerConfig::parse_str(&text, dir.path(), &[]).unwrap();
    assert_eq!(loaded.servers, c.servers);
    assert_eq!(loaded.config_version, c.version);
    assert!(loaded.reconfig_enabled);
    assert!(!dir.path().read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains(".tmp.")));
}

#[test]
fn next_reconfig_repoints_and_keeps_client_port_when_line_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let zoo = dir.path().join("zoo.cfg");
    fs::write(&zoo, OLD_STYLE).unwrap();
    // This server (2) has no client part in the new config: clientPort stays.
    let c = config(
        "server.1=127.0.0.1:2801:3801;2181\nserver.2=127.0.0.1:2802:3802\nversion=200000001\n",
    );
    write_activated_config(&zoo, &c, 2, c.version).unwrap();
    let text = fs::read_to_string(&zoo).unwrap();
    assert!(
        text.contains("clientPort=2181\nclientPortAddress=127.0.0.1\n"),
        "{text}"
    );
    // A later version: the pointer moves, no duplicate dynamicConfigFile line; a pending
    // `.next` of a newer version survives.
    let newer = QuorumConfig {
        version: 0x2_0000_0005,
        ..c.clone()
    };
    let pending = QuorumConfig {
        version: 0x2_0000_0009,
        ..c.clone()
    };
    write_next_config(&zoo, &pending).unwrap();
    write_activated_config(&zoo, &newer, 2, pending.version).unwrap();
    let text = fs::read_to_string(&zoo).unwrap();
    assert_eq!(text.matches("dynamicConfigFile=").count(), 1);
    assert!(text.ends_with("zoo.cfg.dynamic.200000005\n"), "{text}");
    assert!(next_config_path(&zoo).exists());
    remove_next_config(&zoo).unwrap();
    remove_next_config(&zoo).unwrap();
    assert!(!next_config_path(&zoo).exists());
}

#[test]
fn reading_rejects_a_version_inside_and_defaults_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let with_version = dir.path().join("zoo.cfg.dynamic.5");
    fs::write(&with_version, "server.1=a:1:2\nversion=5").unwrap();
    assert!(matches!(
        read_dynamic_config(&with_version, false),
        Err(ConfigFileError::VersionInside(_))
    ));
    let plain = dir.path().join("zoo.cfg.dynamic");
    fs::write(&plain, "server.1=a:1:2;3\n").unwrap();
    let c = read_dynamic_config(&plain, false).unwrap();
    assert_eq!((c.version, c.servers.len()), (0, 1));
    let bad = dir.path().join("zoo.cfg.dynamic.7");
    fs::write(&bad, "server.1=a:1:2\ntickTime=1\n").unwrap();
    assert!(matches!(
        read_dynamic_config(&bad, false),
        Err(ConfigFileError::Config { .. })
    ));
    assert!(matches!(
        read_dynamic_config(&dir.path().join("missing.1"), false),
        Err(ConfigFileError::Io { .. })
    ));
}
