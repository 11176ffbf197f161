use super::*;

/// `cmd`'s answer with the default config and no extra state.
fn respond_plain(cmd: Command, info: &ServerInfo) -> serde_json::Value {
    respond(cmd, info, &ServerConfig::default(), &Extra::default())
}

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
    let v = respond_plain(Command::Monitor, &info);
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

#[test]
fn observers_lists_each_observer_with_apaches_keys() {
    let obs = |sid: u64, port: u16| crate::admin::ObserverInfo {
        sid,
        remote: Some(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
        established_ms: 1_700_000_000_123,
        queued_packets: 2,
        queued_packets_size: 40,
        packets_received: 9,
        packets_sent: 12,
        requests: 3,
        last_zxid: 0x1_0000_0005,
    };
    let info = ServerInfo {
        serving: true,
        mode: Mode::Leader,
        observers: vec![obs(4, 40001), obs(5, 40002)],
        ..Default::default()
    };
    let v = respond_plain(Command::Observers, &info);
    assert_eq!(v["synced_observers"], 2);
    let list = v["observers"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let keys: Vec<&str> = list[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "remote_socket_address",
            "sid",
            "established",
            "queued_packets",
            "queued_packets_size",
            "packets_received",
            "packets_sent",
            "requests",
            "last_zxid"
        ]
    );
    assert_eq!(list[0]["remote_socket_address"], "/127.0.0.1:40001");
    assert_eq!(list[1]["sid"], 5);
    assert_eq!(list[0]["established"], 1_700_000_000_123_i64);
    assert_eq!(list[0]["last_zxid"], 0x1_0000_0005_i64);
    assert_eq!(v["command"], "observers");
    assert_eq!(v["error"], serde_json::Value::Null);
}

#[test]
fn observers_is_empty_off_the_leader() {
    for mode in [Mode::Standalone, Mode::Follower, Mode::Observer] {
        let info = ServerInfo {
            serving: true,
            mode,
            ..Default::default()
        };
        let v = respond_plain(Command::Observers, &info);
        assert_eq!(
            v,
            serde_json::json!({
                "synced_observers": 0,
                "observers": [],
                "command": "observers",
                "error": null,
            }),
            "{mode:?}"
        );
    }
}
