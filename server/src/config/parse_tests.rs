#![allow(clippy::unwrap_used)]

use super::*;
use std::path::Path;

fn parse(text: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::parse_str(text, Path::new("/etc/zk"), &[])
}

fn parse_ok(text: &str) -> ServerConfig {
    parse(text).unwrap()
}

#[test]
fn defaults_match_apache() {
    let c = parse_ok("dataDir=/var/zk\nclientPort=2181\n");
    assert_eq!(c.tick_time, 2000);
    assert_eq!(c.data_dir, Path::new("/var/zk"));
    assert_eq!(c.data_log_dir, Path::new("/var/zk"));
    assert_eq!(c.client_port, Some(2181));
    assert_eq!(c.client_port_address, None);
    assert_eq!(c.secure_client_port, None);
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.min_session_timeout, 4000);
    assert_eq!(c.max_session_timeout, 40000);
    assert_eq!(c.snap_count, 100_000);
    assert_eq!(c.snap_size_limit_kb, 4_194_304);
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
    assert_eq!(c.pre_alloc_size_kb, 65536);
    assert!(c.force_sync);
    assert_eq!(c.jute_max_buffer, 0xfffff);
    assert_eq!(c.four_letter_words, FourLetterWhitelist::default());
    assert!(c.standalone_enabled);
    assert!(!c.extended_types_enabled);
    assert_eq!(c.super_digest, None);
    assert!(!c.read_only_mode);
    assert_eq!(c.global_outstanding_limit, 1000);
    assert_eq!(c.election_alg, 3);
    assert_eq!(c.cnx_timeout_ms, 5000);
    assert!(c.leader_serves);
    assert!(!c.reconfig_enabled);
    assert!(c.servers.is_empty());
    assert_eq!(c.metrics_provider_class, None);
    assert_eq!(c.metrics_http_port, 7000);
    assert_eq!(c.metrics_http_host, "0.0.0.0");
    assert!(c.admin_enable_server);
    assert_eq!(c.admin_server_address, "0.0.0.0");
    assert_eq!(c.admin_server_port, 8080);
    assert!(!c.local_sessions_enabled);
    assert!(!c.linearizable_reads);
    assert!(c.unknown_keys.is_empty());
    assert!(c.is_standalone());
    assert_eq!(c.client_socket_addr().unwrap().to_string(), "0.0.0.0:2181");
}

#[test]
fn every_quorum_peer_config_key() {
    let c = parse_ok(
        "tickTime=1000\n\
         dataDir=data\n\
         dataLogDir=/logs\n\
         clientPort=2281\n\
         clientPortAddress=127.0.0.1\n\
         secureClientPort=2282\n\
         secureClientPortAddress=127.0.0.1\n\
         observerMasterPort=2283\n\
         clientPortListenBacklog=50\n\
         maxClientCnxns=0\n\
         minSessionTimeout=1500\n\
         maxSessionTimeout=90000\n\
         initLimit=10\n\
         syncLimit=5\n\
         connectToLearnerMasterLimit=7\n\
         electionAlg=3\n\
         quorumListenOnAllIPs=TRUE\n\
         peerType=observer\n\
         syncEnabled=false\n\
         autopurge.snapRetainCount=5\n\
         autopurge.purgeInterval=24\n\
         standaloneEnabled=false\n\
         reconfigEnabled=true\n\
         localSessionsEnabled=true\n\
         localSessionsUpgradingEnabled=true\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpPort=7001\n\
         metricsProvider.httpHost=127.0.0.1\n\
         metricsProvider.exportJvmInfo=false\n\
         multiAddress.enabled=true\n\
         server.1=127.0.0.1:2888:3888\n\
         server.2=127.0.0.2:2888:3888\n\
         server.3=127.0.0.3:2888:3888:observer\n",
    );
    assert_eq!(c.tick_time, 1000);
    assert_eq!(c.data_dir, Path::new("/etc/zk/data"));
    assert_eq!(c.data_log_dir, Path::new("/logs"));
    assert_eq!(c.client_port, Some(2281));
    assert_eq!(c.client_port_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(c.secure_client_port, Some(2282));
    assert_eq!(c.observer_master_port, Some(2283));
    assert_eq!(c.client_port_listen_backlog, 50);
    assert_eq!(c.max_client_cnxns, 0);
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (1500, 90000)
    );
    assert_eq!((c.init_limit, c.sync_limit), (10, 5));
    assert_eq!(c.connect_to_learner_master_limit, 7);
    assert!(c.quorum_listen_on_all_ips);
    assert_eq!(c.peer_type, Role::Observer);
    assert!(!c.sync_enabled);
    assert_eq!(c.autopurge_snap_retain_count, 5);
    assert_eq!(c.autopurge_purge_interval_hours, 24);
    assert!(!c.standalone_enabled);
    assert!(c.reconfig_enabled);
    assert!(c.local_sessions_enabled && c.local_sessions_upgrading_enabled);
    assert_eq!(
        c.metrics_provider_class.as_deref(),
        Some(PROMETHEUS_METRICS_PROVIDER)
    );
    assert_eq!(c.metrics_http_port, 7001);
    assert_eq!(c.metrics_http_host, "127.0.0.1");
    assert_eq!(
        c.metrics_provider_config
            .get("exportJvmInfo")
            .map(String::as_str),
        Some("false")
    );
    assert!(c.multi_address_enabled);
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.servers[&3].role, Role::Observer);
    assert!(!c.is_standalone());
    assert!(c.unknown_keys.is_empty(), "{:?}", c.unknown_keys);
}

#[test]
fn session_timeouts_follow_tick_time() {
    let c = parse_ok("tickTime=3000\ndataDir=/d\nclientPort=1\n");
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (6000, 60000)
    );
    let c = parse_ok(
        "tickTime=3000\ndataDir=/d\nclientPort=1\nminSessionTimeout=-1\nmaxSessionTimeout=7000\n",
    );
    assert_eq!((c.min_session_timeout, c.max_session_timeout), (6000, 7000));
    let err = parse("dataDir=/d\nclientPort=1\nminSessionTimeout=50000\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("minSessionTimeout"), "{err}");
}

#[test]
fn snap_retain_count_has_a_floor_and_purge_interval_off_when_negative() {
    let c = parse_ok(
        "dataDir=/d\nclientPort=1\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=-5\n",
    );
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
}

#[test]
fn unknown_keys_become_system_properties() {
    let c = parse_ok(
        "dataDir=/d\nclientPort=1\n\
         4lw.commands.whitelist=ruok, mntr\n\
         snapCount=5000\n\
         preAllocSize=1024\n\
         forceSync=no\n\
         extendedTypesEnabled=true\n\
         DigestAuthenticationProvider.superDigest=super:abc=\n\
         globalOutstandingLimit=50\n\
         cnxTimeout=1234\n\
         leaderServes=no\n\
         admin.enableServer=false\n\
         admin.serverPort=9090\n\
         admin.serverAddress=127.0.0.1\n\
         linearizableReads=true\n\
         snapSizeLimitInKb=-1\n\
         maxCnxns=500\n\
         authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         someTypo=1\n",
    );
    assert!(c.four_letter_words.allows("ruok"));
    assert!(c.four_letter_words.allows("mntr"));
    assert!(c.four_letter_words.allows("srvr"));
    assert!(!c.four_letter_words.allows("dump"));
    assert_eq!(c.snap_count, 5000);
    assert_eq!(c.pre_alloc_size_kb, 1024);
    assert!(!c.force_sync);
    assert!(c.extended_types_enabled);
    assert_eq!(c.super_digest.as_deref(), Some("super:abc="));
    assert_eq!(c.global_outstanding_limit, 50);
    assert_eq!(c.cnx_timeout_ms, 1234);
    assert!(!c.leader_serves);
    assert!(!c.admin_enable_server);
    assert_eq!(c.admin_server_port, 9090);
    assert_eq!(c.admin_server_address, "127.0.0.1");
    assert!(c.linearizable_reads);
    assert_eq!(c.snap_size_limit_kb, -1);
    assert_eq!(c.max_cnxns, 500);
    assert_eq!(c.unknown_keys, vec!["someTypo".to_string()]);
    assert_eq!(
        c.system_properties
            .get("zookeeper.snapCount")
            .map(String::as_str),
        Some("5000")
    );
    assert_eq!(
        c.system_properties
            .get("zookeeper.someTypo")
            .map(String::as_str),
        Some("1")
    );
}

#[test]
fn jvmflags_complement_and_zoo_cfg_overrides() {
    let flags = vec![
        "-Dzookeeper.snapCount=777 -Dzookeeper.4lw.commands.whitelist=* -Djute.maxbuffer=4194304".to_string(),
        "-Dreadonlymode.enabled=true -Dzookeeper.DigestAuthenticationProvider.superDigest=super:x= -Dzookeeper.forceSync=no -Dzookeeper.preAllocSize=10".to_string(),
    ];
    let c = ServerConfig::parse_str(
        "dataDir=/d\nclientPort=1\nsnapCount=888\n",
        Path::new("/"),
        &flags,
    )
    .unwrap();
    // zoo.cfg keys are set as system properties after the JVM started, so they win.
    assert_eq!(c.snap_count, 888);
    assert_eq!(c.four_letter_words, FourLetterWhitelist::All);
    assert_eq!(c.jute_max_buffer, 4_194_304);
    assert!(c.read_only_mode);
    assert_eq!(c.super_digest.as_deref(), Some("super:x="));
    assert!(!c.force_sync);
    assert_eq!(c.pre_alloc_size_kb, 10);
    assert_eq!(
        c.system_properties
            .get("readonlymode.enabled")
            .map(String::as_str),
        Some("true")
    );
    // Read-only mode enables isro even without it in the whitelist.
    let c = ServerConfig::parse_str(
        "dataDir=/d\nclientPort=1\n",
        Path::new("/"),
        &["-Dreadonlymode.enabled=true".to_string()],
    )
    .unwrap();
    assert!(c.four_letter_words.allows("isro"));
}

#[test]
fn properties_syntax_in_zoo_cfg() {
    let c = parse_ok(
        "# comment\n! comment\n  dataDir : /d  \nclientPort 2181\ntickTime=100\ntickTime=200\n\
         server.1=127.0.0.1:2888:\\\n   3888\n",
    );
    assert_eq!(c.data_dir, Path::new("/d"));
    assert_eq!(c.client_port, Some(2181));
    assert_eq!(c.tick_time, 200);
    assert_eq!(c.servers[&1].election_addrs[0].port, 3888);
}

#[test]
fn errors_name_the_key_and_value() {
    let cases: &[(&str, &str)] = &[
        (
            "dataDir=/d\nclientPort=1\ntickTime=abc\n",
            "'abc' for tickTime",
        ),
        ("dataDir=/d\nclientPort=1\ntickTime=0\n", "tickTime"),
        ("dataDir=/d\nclientPort=70000\n", "'70000' for clientPort"),
        (
            "dataDir=/d\nclientPort=1\nmaxClientCnxns=-3\n",
            "maxClientCnxns",
        ),
        (
            "dataDir=/d\nclientPort=1\nstandaloneEnabled=maybe\n",
            "'maybe' for standaloneEnabled",
        ),
        ("dataDir=/d\nclientPort=1\nelectionAlg=1\n", "electionAlg"),
        (
            "dataDir=/d\nclientPort=1\npeerType=leader\n",
            "'leader' for peerType",
        ),
        (
            "dataDir=/d\nclientPort=1\nsnapCount=x\n",
            "zookeeper.snapCount",
        ),
        (
            "dataDir=/d\nclientPort=1\nforceSync=perhaps\n",
            "zookeeper.forceSync",
        ),
        ("dataDir=/d\nclientPort=1\nserver.1=a:1\n", "server.1"),
        ("dataDir=/d\nclientPort=1\nserver.x=a:1:2\n", "server.x"),
        ("dataDir=/d\nclientPort=1\ngroup.1=1:2:3\n", "group.1"),
        ("clientPort=1\n", "dataDir is not set"),
        (
            "dataDir=/d\nclientPortAddress=127.0.0.1\n",
            "clientPortAddress",
        ),
        (
            "dataDir=/d\nclientPort=1\nmetricsProvider.httpPort=port\n",
            "metricsProvider.httpPort",
        ),
        (
            "dataDir=/d\nclientPort=1\nDigestAuthenticationProvider.superDigest=nocolon\n",
            "superDigest",
        ),
        (
            "dataDir=/d\nclientPort=1\nserver.1=a:1:2:observer\n",
            "observers",
        ),
        (
            "dataDir=/d\nclientPort=1\nstandaloneEnabled=false\nserver.1=a:1:2:observer\n",
            "standaloneEnabled",
        ),
    ];
    for (text, needle) in cases {
        let err = parse(text).expect_err(text).to_string();
        assert!(err.contains(needle), "{text:?}: {err}");
    }
}

#[test]
fn server_lines_in_zoo_cfg() {
    let c = parse_ok(
        "dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n\
         server.1=zk1:2888:3888;2181\n\
         server.2=zk2:2888:3888:participant;zk2:2181\n\
         server.3=[fe80::1]:2888:3888\n\
         server.4=zk4:2888:3888:observer\n",
    );
    assert_eq!(c.servers.len(), 4);
    assert_eq!(
        c.servers[&1].client_addr.as_ref().map(|a| a.port),
        Some(2181)
    );
    assert_eq!(c.servers[&3].quorum_addrs[0].host, "fe80::1");
    assert_eq!(c.config_version, 0);
    assert!(!c.is_standalone());
    // One participant with standaloneEnabled: standalone, as Apache does for HBase.
    let c = parse_ok("dataDir=/d\nclientPort=2181\nserver.1=zk1:2888:3888\n");
    assert!(c.is_standalone());
}

#[test]
fn dynamic_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let dynamic = dir.path().join("zoo.cfg.dynamic.100000003");
    std::fs::write(
        &dynamic,
        "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n\
         server.2=127.0.0.2:2888:3888:participant;127.0.0.2:2181\n\
         server.3=127.0.0.3:2888:3888:observer;2181\n",
    )
    .unwrap();
    let text =
        "dataDir=/d\ninitLimit=5\nsyncLimit=2\ndynamicConfigFile=zoo.cfg.dynamic.100000003\n";
    let c = ServerConfig::parse_str(text, dir.path(), &[]).unwrap();
    assert_eq!(c.dynamic_config_file.as_deref(), Some(dynamic.as_path()));
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.config_version, 0x1_0000_0003);
    assert_eq!(
        render_text(&c),
        "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n\
         server.2=127.0.0.2:2888:3888:participant;127.0.0.2:2181\n\
         server.3=127.0.0.3:2888:3888:observer;0.0.0.0:2181\n\
         version=100000003"
    );

    // Server lines must not also be in the static file.
    let err = ServerConfig::parse_str(&format!("{text}server.9=a:1:2\n"), dir.path(), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.9"), "{err}");

    // A version inside the dynamic file is rejected.
    std::fs::write(
        dir.path().join("zoo.cfg.dynamic"),
        "server.1=a:1:2\nversion=5\n",
    )
    .unwrap();
    let err = ServerConfig::parse_str(
        "dataDir=/d\ndynamicConfigFile=zoo.cfg.dynamic\n",
        dir.path(),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("version"), "{err}");

    // Without a hex suffix the version is 0.
    std::fs::write(dir.path().join("zoo.cfg.dynamic"), "server.1=a:1:2;2181\n").unwrap();
    let c = ServerConfig::parse_str(
        "dataDir=/d\ndynamicConfigFile=zoo.cfg.dynamic\n",
        dir.path(),
        &[],
    )
    .unwrap();
    assert_eq!(c.config_version, 0);

    // A missing dynamic file names the file.
    let err = ServerConfig::parse_str("dataDir=/d\ndynamicConfigFile=nope\n", dir.path(), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
}

fn render_text(c: &ServerConfig) -> String {
    super::super::render_config_text(&c.servers, c.config_version)
}

#[test]
fn version_from_file_names() {
    assert_eq!(
        version_from_file_name(Path::new("/x/zoo.cfg.dynamic.1001")),
        Some(0x1001)
    );
    assert_eq!(
        version_from_file_name(Path::new("/x/zoo.cfg.dynamic")),
        None
    );
}

#[test]
fn load_reads_myid_and_validates_ensemble() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let cfg_path = dir.path().join("zoo.cfg");
    let text = format!(
        "dataDir={}\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n\
         server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\nserver.3=127.0.0.3:2888:3888:observer;127.0.0.3:2181\n",
        data.display()
    );
    std::fs::write(&cfg_path, &text).unwrap();
    let err = ServerConfig::load(&cfg_path).unwrap_err().to_string();
    assert!(err.contains("myid"), "{err}");

    std::fs::write(data.join("myid"), "2\n").unwrap();
    let c = ServerConfig::load(&cfg_path).unwrap();
    assert_eq!(c.my_id, Some(2));
    assert_eq!(c.source_path, cfg_path);
    assert_eq!(c.client_socket_addr().unwrap().to_string(), "0.0.0.0:2181");

    // The observer's own line carries its client address, which wins; peerType follows it.
    std::fs::write(data.join("myid"), "3").unwrap();
    let c = ServerConfig::load(&cfg_path).unwrap();
    assert_eq!(c.peer_type, Role::Observer);
    assert_eq!(
        c.client_socket_addr().unwrap().to_string(),
        "127.0.0.3:2181"
    );

    // A server id without a line is an error naming myid.
    std::fs::write(data.join("myid"), "9").unwrap();
    let err = ServerConfig::load(&cfg_path).unwrap_err().to_string();
    assert!(err.contains("myid") && err.contains('9'), "{err}");

    // initLimit is required in an ensemble.
    std::fs::write(data.join("myid"), "1").unwrap();
    std::fs::write(&cfg_path, text.replace("initLimit=5\n", "")).unwrap();
    let err = ServerConfig::load(&cfg_path).unwrap_err().to_string();
    assert!(err.contains("initLimit"), "{err}");

    // Conflicting static client port and server-line client port.
    std::fs::write(data.join("myid"), "3").unwrap();
    std::fs::write(
        &cfg_path,
        text.replace("clientPort=2181", "clientPort=2999"),
    )
    .unwrap();
    let err = ServerConfig::load(&cfg_path).unwrap_err().to_string();
    assert!(err.contains("clientPort"), "{err}");
}

#[test]
fn load_requires_a_client_port_somewhere() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("zoo.cfg");
    std::fs::write(&cfg_path, format!("dataDir={}\n", dir.path().display())).unwrap();
    let err = ServerConfig::load(&cfg_path).unwrap_err().to_string();
    assert!(err.contains("clientPort"), "{err}");
    let err = ServerConfig::load(&dir.path().join("missing.cfg"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.cfg"), "{err}");
}

#[test]
fn load_reads_dynamic_next() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("zoo.cfg");
    std::fs::write(dir.path().join("myid"), "1").unwrap();
    std::fs::write(
        dir.path().join("zoo.cfg.dynamic.0"),
        "server.1=127.0.0.1:2888:3888;2181\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("zoo.cfg.dynamic.next"),
        "server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.2:2888:3888;2181\nversion=200000001\n",
    )
    .unwrap();
    std::fs::write(
        &cfg_path,
        format!(
            "dataDir={}\ndynamicConfigFile=zoo.cfg.dynamic.0\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let c = ServerConfig::load(&cfg_path).unwrap();
    assert!(c.is_standalone());
    let next = c.next_dynamic_config.clone().expect("next config");
    assert_eq!(next.version, 0x2_0000_0001);
    assert_eq!(next.servers.len(), 2);
    assert_eq!(c.client_socket_addr().unwrap().port(), 2181);
}

#[test]
fn conf_dump_standalone_matches_apache() {
    // Captured from Apache 3.8 `conf` (sizes substituted).
    let c = parse_ok("dataDir=/tmp/cfgzk/data\nclientPort=21911\nclientPortAddress=127.0.0.1\n");
    assert_eq!(
        c.conf_dump(67109337, 67109337, None),
        "clientPort=21911\nsecureClientPort=-1\ndataDir=/tmp/cfgzk/data/version-2\ndataDirSize=67109337\n\
         dataLogDir=/tmp/cfgzk/data/version-2\ndataLogSize=67109337\ntickTime=2000\nmaxClientCnxns=60\n\
         minSessionTimeout=4000\nmaxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n"
    );
}

#[test]
fn conf_dump_quorum_matches_apache() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("q1");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("myid"), "1\n").unwrap();
    let cfg_path = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg_path,
        format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort=21921\nclientPortAddress=127.0.0.1\n\
             server.1=127.0.0.1:22881:23881\nserver.2=127.0.0.1:22882:23882;127.0.0.1:21922\n",
            data.display()
        ),
    )
    .unwrap();
    let c = ServerConfig::load(&cfg_path).unwrap();
    let d = data.join("version-2").display().to_string();
    assert_eq!(
        c.conf_dump(570, 570, None),
        format!(
            "clientPort=21921\nsecureClientPort=-1\ndataDir={d}\ndataDirSize=570\ndataLogDir={d}\ndataLogSize=570\n\
             tickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\nmaxSessionTimeout=40000\n\
             clientPortListenBacklog=-1\nserverId=1\ninitLimit=10\nsyncLimit=5\nelectionAlg=3\n\
             electionPort=23881\nquorumPort=22881\npeerType=0\nmembership: \n\
             server.1=127.0.0.1:22881:23881:participant\n\
             server.2=127.0.0.1:22882:23882:participant;127.0.0.1:21922\nversion=0"
        )
    );
}
