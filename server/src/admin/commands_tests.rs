use super::*;

#[test]
fn lookup_by_name_and_alias() {
    assert_eq!(Command::lookup("monitor"), Some(Command::Monitor));
    assert_eq!(Command::lookup("mntr"), Some(Command::Monitor));
    assert_eq!(Command::lookup("srvr"), Some(Command::ServerStats));
    assert_eq!(Command::lookup("stat"), Some(Command::Stats));
    assert_eq!(Command::lookup("conf"), Some(Command::Configuration));
    assert_eq!(Command::lookup("nosuch"), None);
    for n in Command::names() {
        assert_eq!(Command::lookup(n).map(Command::name), Some(n));
    }
}

#[test]
fn monitor_mirrors_mntr_keys_in_order() {
    let info = ServerInfo {
        serving: true,
        version: "v".into(),
        latency_avg: 1.5,
        ..Default::default()
    };
    let v = respond(
        Command::Monitor,
        &info,
        &ServerConfig::default(),
        &Extra::default(),
    );
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    let mntr: Vec<String> = render_mntr(&info)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, _)| k.trim_start_matches("zk_").to_string())
        .collect();
    assert_eq!(keys.len(), mntr.len() + 2);
    assert!(keys.iter().zip(&mntr).all(|(a, b)| *a == b));
    assert_eq!(v["avg_latency"], 1.5);
    assert_eq!(v["version"], "v");
}

#[test]
fn last_snapshot_zxid_is_hex() {
    let extra = Extra {
        last_snapshot: Some((0x1f, 1700000000)),
        ..Default::default()
    };
    let info = ServerInfo {
        serving: true,
        ..Default::default()
    };
    let v = respond(
        Command::LastSnapshot,
        &info,
        &ServerConfig::default(),
        &extra,
    );
    assert_eq!(v["zxid"], "1f");
    assert_eq!(v["timestamp"], 1700000000);
}
