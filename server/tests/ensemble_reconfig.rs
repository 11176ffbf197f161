//! Dynamic reconfiguration of a running ensemble of our servers, as an operator does it:
//! grow 3 -> 5 and shrink back one server at a time under continuous writes, turn a
//! participant into an observer and back, remove the leader, refuse a reconfig that would
//! lose quorum or comes from an unauthorised client, and the same with Apache's zkCli.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::apache::apache_classpath;
use common::ensemble::{Ensemble, EnsembleBuilder, ENSEMBLE_WAIT};
use tokio::time::Instant;
use zkserver::client::{Client, ClientConfig, ClientError};
use zkserver::proto::codes::{CreateMode, ErrorCode};
use zkserver::proto::records::{Acl, Id};

/// `super:test`, as zoo.cfg's DigestAuthenticationProvider.superDigest takes it.
const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";

fn open() -> Vec<Acl> {
    vec![Acl {
        perms: 31,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

fn builder(voters: usize) -> EnsembleBuilder {
    EnsembleBuilder::new(voters)
        .cfg("reconfigEnabled", "true")
        .cfg("DigestAuthenticationProvider.superDigest", SUPER_DIGEST)
}

/// Client settings for `addrs`: every request is bounded, so a request the ensemble never
/// answers fails the test instead of hanging it.
fn bounded(addrs: Vec<String>) -> ClientConfig {
    let mut cfg = ClientConfig::new(addrs).with_session_timeout(Duration::from_secs(20));
    cfg.request_timeout = Some(ENSEMBLE_WAIT);
    cfg
}

/// A session on `servers` authenticated as the super user.
async fn admin(ens: &Ensemble, servers: &[usize]) -> Client {
    let addrs: Vec<String> = servers.iter().map(|&i| ens.addr(i)).collect();
    let cfg = bounded(addrs);
    let (c, _) = Client::connect(cfg).await.expect("connect");
    c.add_auth("digest", b"super:test").await.expect("auth");
    c
}

/// Runs a reconfig, retrying while the ensemble is busy electing or the joiner syncing.
async fn reconfig(
    ens: &Ensemble,
    c: &Client,
    add: Option<&str>,
    remove: Option<&str>,
) -> (String, i64) {
    let deadline = Instant::now() + ENSEMBLE_WAIT;
    loop {
        match c.reconfig(add, remove, None, -1).await {
            Ok((data, stat)) => return (String::from_utf8(data).unwrap(), stat.mzxid),
            Err(e) if Instant::now() < deadline => {
                eprintln!("reconfig add={add:?} remove={remove:?}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!(
                "reconfig add={add:?} remove={remove:?}: {e}\n{}",
                ens.logs(30)
            ),
        }
    }
}

/// The server ids of a config text.
fn ids(config: &str) -> BTreeSet<u64> {
    config
        .lines()
        .filter_map(|l| l.strip_prefix("server."))
        .filter_map(|l| l.split('=').next()?.parse().ok())
        .collect()
}

/// Waits until every member in `on` returns `want` from getConfig.
async fn wait_config_everywhere(ens: &Ensemble, on: &[usize], want: &str) {
    for &i in on {
        ens.poll(
            &format!("server {} to hold the new config", i + 1),
            || async {
                let c = tokio::time::timeout(Duration::from_secs(5), async {
                    let cfg = ClientConfig::new([ens.addr(i)])
                        .with_session_timeout(Duration::from_secs(10));
                    let (c, _) = Client::connect(cfg).await.ok()?;
                    c.sync("/").await.ok()?;
                    let got = c.get_config(false).await.ok().map(|(d, _)| d);
                    let _ = c.close().await;
                    got
                })
                .await
                .ok()??;
                (c == want.as_bytes()).then_some(())
            },
        )
        .await;
    }
}

/// Creates /load/w-N in a loop through every given server, recording what was acked and
/// the longest stretch without a successful write.
struct Writer {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Vec<u64>, Duration)>,
}

impl Writer {
    async fn start(ens: &Ensemble, servers: &[usize]) -> Writer {
        let addrs: Vec<String> = servers.iter().map(|&i| ens.addr(i)).collect();
        let (c, _) = Client::connect(bounded(addrs))
            .await
            .expect("writer connects");
        match c
            .create("/load", b"", &open(), CreateMode::Persistent)
            .await
        {
            Ok(_) | Err(ClientError::Api(ErrorCode::NodeExists)) => {}
            Err(e) => panic!("create /load: {e}"),
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut last_ok = Instant::now();
            let mut longest = Duration::ZERO;
            let mut n = 0u64;
            // Bounded: the test stops it, and it never runs more than a few minutes.
            let end = Instant::now() + Duration::from_secs(300);
            while !flag.load(Ordering::Relaxed) && Instant::now() < end {
                n += 1;
                let path = format!("/load/w-{n}");
                let res = c.create(&path, b"x", &open(), CreateMode::Persistent).await;
                match res {
                    Ok(_) | Err(ClientError::Api(ErrorCode::NodeExists)) => {
                        acked.push(n);
                        longest = longest.max(last_ok.elapsed());
                        last_ok = Instant::now();
                    }
                    Err(_) => {
                        // Not acknowledged: it may or may not exist; retry the same name.
                        n -= 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            let _ = c.close().await;
            (acked, longest)
        });
        Writer { stop, task }
    }

    async fn finish(self) -> (Vec<u64>, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("writer task")
    }
}

/// Every acked write is on every member in `on`, and they all hold the same tree.
async fn check_writes(ens: &Ensemble, on: &[usize], acked: &[u64]) {
    for &i in on {
        let dump = ens.dump(i).await.expect("dump");
        for n in acked {
            assert!(
                dump.contains_key(&format!("/load/w-{n}")),
                "server {} lost acknowledged write {n}",
                i + 1
            );
        }
    }
    ens.wait_converged().await;
}

/// Each member wrote the config as Apache does: `zoo.cfg.dynamic.<version>` with the
/// members, zoo.cfg pointing at it, and the original zoo.cfg kept as `zoo.cfg.bak`.
fn check_config_files(ens: &Ensemble, on: &[usize], config: &str) {
    let version = config.rsplit_once("version=").unwrap().1;
    for &i in on {
        let m = &ens.members[i];
        let dynamic = m
            .cfg_path
            .with_file_name(format!("zoo.cfg.dynamic.{version}"));
        let text = std::fs::read_to_string(&dynamic)
            .unwrap_or_else(|e| panic!("{}: {e}", dynamic.display()));
        assert_eq!(ids(&text), ids(config), "{}", dynamic.display());
        let zoo = std::fs::read_to_string(&m.cfg_path).unwrap();
        assert!(zoo.contains("dynamicConfigFile="), "{zoo}");
        assert!(
            !zoo.contains("server."),
            "members moved out of zoo.cfg: {zoo}"
        );
        assert!(m.cfg_path.with_file_name("zoo.cfg.bak").is_file() || i >= 3);
        assert!(
            !m.cfg_path.with_file_name("zoo.cfg.dynamic.next").exists(),
            "a committed reconfig leaves no pending config behind"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_away_during_reconfigs_learns_the_new_config_from_its_peers() {
    let mut ens = builder(3).spares(2).start().await;
    let leader = ens.wait_leader().await;
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let (away, stay) = (others[0], others[1]);
    let c = admin(&ens, &[leader, stay]).await;
    let mut members = vec![0, 1, 2];
    for i in 3..5 {
        ens.prepare_joiner(i, &members);
        ens.restart(i);
        ens.wait_serving(i).await;
        let spec = ens.members[i].server_spec();
        reconfig(&ens, &c, Some(&spec), None).await;
        members.push(i);
        if i == 3 {
            // `away` misses every reconfig from here on.
            ens.kill9(away);
        }
    }
    // Replace the two servers that stayed: only `away` is left of the original three.
    for gone in [stay, leader] {
        let c = admin(&ens, &[3, 4]).await;
        reconfig(&ens, &c, None, Some(&(gone as u64 + 1).to_string())).await;
        let _ = c.close().await;
    }
    ens.kill9(stay);
    ens.kill9(leader);
    ens.wait_leader().await;
    let c = admin(&ens, &[3, 4]).await;
    let (config, _) = c.get_config(false).await.unwrap();
    let config = String::from_utf8(config).unwrap();
    assert_eq!(
        ids(&config),
        BTreeSet::from([away as u64 + 1, 4, 5]),
        "{config}"
    );
    // `away` restarts with its old zoo.cfg, whose voters are all gone: it must take the
    // new config from the notifications of servers 4 and 5 to find the leader.
    ens.restart(away);
    ens.wait_serving(away).await;
    wait_config_everywhere(&ens, &[away, 3, 4], &config).await;
    c.create("/after", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    ens.wait_converged().await;
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grow_three_to_five_and_shrink_back_under_writes() {
    let mut ens = builder(3).spares(2).start().await;
    let writer = Writer::start(&ens, &[0, 1, 2]).await;
    let c = admin(&ens, &[0, 1, 2]).await;

    // Grow: start each new server (it syncs as a non-voting follower), then add it.
    let mut config = String::new();
    for i in 3..5 {
        ens.restart(i);
        ens.wait_serving(i).await;
        let spec = ens.members[i].server_spec();
        let (text, version) = reconfig(&ens, &c, Some(&spec), None).await;
        assert!(ids(&text).contains(&(i as u64 + 1)), "{text}");
        assert!(
            text.ends_with(&format!("version={version:x}")),
            "the version is the reconfig's zxid: {text}"
        );
        config = text;
    }
    assert_eq!(ids(&config), BTreeSet::from([1, 2, 3, 4, 5]));
    wait_config_everywhere(&ens, &[0, 1, 2, 3, 4], &config).await;
    ens.wait_leader().await;
    check_config_files(&ens, &[0, 1, 2, 3, 4], &config);

    // The new voters count: with two of the original three gone, 3 of 5 still commit.
    let leader = ens.wait_leader().await;
    let originals: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    ens.kill9(originals[0]);
    let probe = admin(&ens, &[leader]).await;
    probe
        .create("/after-grow", b"", &open(), CreateMode::Persistent)
        .await
        .expect("a write commits with the grown quorum");
    ens.restart(originals[0]);
    ens.wait_serving(originals[0]).await;

    // Shrink back: remove 5 then 4, each while writes go on.
    for id in [5u64, 4] {
        let (text, _) = reconfig(&ens, &c, None, Some(&id.to_string())).await;
        assert!(!ids(&text).contains(&id), "{text}");
        config = text;
    }
    assert_eq!(ids(&config), BTreeSet::from([1, 2, 3]));
    wait_config_everywhere(&ens, &[0, 1, 2], &config).await;
    // The operator decommissions the removed servers.
    ens.kill9(3);
    ens.kill9(4);
    ens.wait_leader().await;

    let (acked, longest) = writer.finish().await;
    assert!(acked.len() > 20, "writes went on: {}", acked.len());
    assert!(
        longest < Duration::from_secs(10),
        "service gap of {longest:?}\n{}",
        ens.logs(30)
    );
    check_writes(&ens, &[0, 1, 2], &acked).await;
    let _ = c.close().await;
    let _ = probe.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_becomes_an_observer_and_back() {
    let mut ens = builder(3).start().await;
    let leader = ens.wait_leader().await;
    let f = (0..3).find(|&i| i != leader).unwrap();
    let c = admin(&ens, &[leader]).await;
    let writer = Writer::start(&ens, &[leader]).await;

    ens.members[f].observer = true;
    let spec = ens.members[f].server_spec();
    let (text, _) = reconfig(&ens, &c, Some(&spec), None).await;
    assert!(
        text.contains(&format!("server.{}=", f + 1)) && text.contains(":observer;"),
        "{text}"
    );
    wait_config_everywhere(&ens, &[0, 1, 2], &text).await;
    ens.poll("the member to observe", || async {
        (ens.mode(f).await.as_deref() == Some("observer")).then_some(())
    })
    .await;
    ens.wait_leader().await;

    ens.members[f].observer = false;
    let spec = ens.members[f].server_spec();
    let (text, _) = reconfig(&ens, &c, Some(&spec), None).await;
    assert!(text.contains(":participant;"), "{text}");
    ens.poll("the member to follow again", || async {
        (ens.mode(f).await.as_deref() == Some("follower")).then_some(())
    })
    .await;
    wait_config_everywhere(&ens, &[0, 1, 2], &text).await;

    let (acked, _) = writer.finish().await;
    check_writes(&ens, &[0, 1, 2], &acked).await;
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_leader_hands_leadership_over() {
    let mut ens = builder(3).spares(1).start().await;
    // Four voters, so that three remain once the leader is gone.
    ens.restart(3);
    ens.wait_serving(3).await;
    let c = admin(&ens, &[0, 1, 2, 3]).await;
    let spec = ens.members[3].server_spec();
    reconfig(&ens, &c, Some(&spec), None).await;

    let old = ens.wait_leader().await;
    let rest: Vec<usize> = (0..4).filter(|&i| i != old).collect();
    let writer = Writer::start(&ens, &rest).await;
    let (text, _) = reconfig(&ens, &c, None, Some(&(old as u64 + 1).to_string())).await;
    assert!(!ids(&text).contains(&(old as u64 + 1)), "{text}");
    ens.kill9(old);
    let new = ens.wait_leader().await;
    assert_ne!(new, old);
    wait_config_everywhere(&ens, &rest, &text).await;

    let (acked, longest) = writer.finish().await;
    assert!(
        longest < Duration::from_secs(10),
        "service gap of {longest:?}"
    );
    check_writes(&ens, &rest, &acked).await;
    let _ = c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_reconfigs_change_nothing() {
    let mut ens = builder(3).spares(1).start().await;
    let leader = ens.wait_leader().await;
    let spec = ens.members[3].server_spec();

    // Without the super user: /zookeeper/config is world-readable only.
    let plain = ens.client_bounded(leader, ENSEMBLE_WAIT).await;
    let err = plain
        .reconfig(Some(&spec), None, None, -1)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Api(ErrorCode::NoAuth)), "{err}");

    let c = admin(&ens, &[leader]).await;
    // A joiner that is not running is not synced: the new config has no synced quorum
    // once a voter is down (2 synced of 4).
    let f = (0..3).find(|&i| i != leader).unwrap();
    ens.kill9(f);
    // The leader judges "synced" by the learners it still holds: until it has seen the
    // killed follower's connection drop, the new config looks backed by a quorum (Apache's
    // isQuorumSynced does the same), and the proposal would wait for an ack that never comes.
    ens.poll("the leader to drop the killed follower", || async {
        (ens.mntr(leader, "zk_synced_followers").await.as_deref() == Some("1")).then_some(())
    })
    .await;
    let err = c.reconfig(Some(&spec), None, None, -1).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Api(ErrorCode::NewConfigNoQuorum)),
        "{err}"
    );
    // A stale fromConfig version.
    let err = c
        .reconfig(None, Some("3"), None, 0x12345)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Api(ErrorCode::BadVersion)),
        "{err}"
    );
    // Removing both others would leave fewer than 2 voters (standaloneEnabled).
    let others: Vec<String> = (0..3)
        .filter(|&i| i != leader)
        .map(|i| (i + 1).to_string())
        .collect();
    let err = c
        .reconfig(None, Some(&others.join(",")), None, -1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Api(ErrorCode::BadArguments)),
        "{err}"
    );

    let (text, _) = c.get_config(false).await.unwrap();
    assert_eq!(
        ids(&String::from_utf8(text).unwrap()),
        BTreeSet::from([1, 2, 3])
    );
    ens.restart(f);
    ens.wait_leader().await;
    let _ = plain.close().await;
    let _ = c.close().await;
}

/// Runs Apache's zkCli in batch mode against `addr`; returns stdout + stderr.
fn zkcli(cp: &str, addr: &str, cmd: &[&str]) -> String {
    let out = Command::new("java")
        .arg("-cp")
        .arg(cp)
        .arg("org.apache.zookeeper.ZooKeeperMain")
        .args(["-server", addr])
        .args(cmd)
        .output()
        .expect("run zkCli");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zkcli_reconfig_add_remove_and_config() {
    let Some(cp) = apache_classpath() else {
        eprintln!("SKIP: Apache ZooKeeper jars or java not available");
        return;
    };
    // zkCli's batch mode runs one command per session, so it cannot addauth first: the
    // ensemble runs with skipACL, which Apache also honours for reconfig.
    let mut ens = EnsembleBuilder::new(3)
        .spares(1)
        .cfg("reconfigEnabled", "true")
        .cfg("skipACL", "yes")
        .start()
        .await;
    let addr = ens.addr(ens.wait_leader().await);
    ens.restart(3);
    ens.wait_serving(3).await;
    let spec = ens.members[3].server_spec();

    let deadline = Instant::now() + ENSEMBLE_WAIT;
    let out = loop {
        let out = zkcli(&cp, &addr, &["reconfig", "-add", &spec]);
        if out.contains("Committed new configuration") || Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(out.contains("Committed new configuration:"), "{out}");
    assert!(out.contains(&spec), "{out}");

    let out = zkcli(&cp, &addr, &["config"]);
    assert!(out.contains(&spec), "{out}");

    let out = zkcli(&cp, &addr, &["reconfig", "-remove", "4"]);
    assert!(out.contains("Committed new configuration:"), "{out}");
    assert!(!out.contains("server.4="), "{out}");
    let out = zkcli(&cp, &addr, &["config"]);
    assert!(!out.contains("server.4="), "{out}");

    // Non-incremental: the whole member list, server 4 back in.
    let members: Vec<String> = (0..4).map(|i| ens.members[i].server_spec()).collect();
    let out = zkcli(&cp, &addr, &["reconfig", "-members", &members.join(",")]);
    assert!(out.contains("Committed new configuration:"), "{out}");
    for m in &members {
        assert!(out.contains(m.as_str()), "{m} in {out}");
    }
    ens.wait_leader().await;

    // Re-role a follower to observer with zkCli.
    let leader = ens.wait_leader().await;
    let f = (0..4).find(|&i| i != leader).unwrap();
    ens.members[f].observer = true;
    let spec = ens.members[f].server_spec();
    let out = zkcli(&cp, &ens.addr(leader), &["reconfig", "-add", &spec]);
    assert!(out.contains(&spec), "{out}");
    ens.poll("the re-roled member to observe", || async {
        (ens.mode(f).await.as_deref() == Some("observer")).then_some(())
    })
    .await;

    // Remove the leader with zkCli: another voter takes over without losing the data.
    let id = (leader + 1).to_string();
    let survivor = (0..4).find(|&i| i != leader && i != f).unwrap();
    let out = zkcli(&cp, &ens.addr(survivor), &["reconfig", "-remove", &id]);
    assert!(out.contains("Committed new configuration:"), "{out}");
    assert!(!out.contains(&format!("server.{id}=")), "{out}");
    ens.kill9(leader);
    let new = ens.wait_leader().await;
    assert_ne!(new, leader);
    let out = zkcli(&cp, &ens.addr(new), &["create", "/after-zkcli", "x"]);
    assert!(out.contains("Created /after-zkcli"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zkserver_reconfig_cli_with_super_auth() {
    let mut ens = builder(3).spares(1).start().await;
    let addr = ens.connect_string();
    ens.restart(3);
    ens.wait_serving(3).await;
    let spec = ens.members[3].server_spec();
    let run = |args: Vec<String>| {
        let out = Command::new(common::zkserver::BIN)
            .arg("reconfig")
            .args(args)
            .env("ZKSERVER_LOG", "error")
            .output()
            .expect("run zkserver reconfig");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let args = |extra: &[&str]| -> Vec<String> {
        ["-server", addr.as_str()]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    // Without credentials: refused as zkCli reports it.
    let (ok, _, stderr) = run(args(&["-add", &spec]));
    assert!(!ok);
    assert!(
        stderr.contains("Insufficient permission : null"),
        "{stderr}"
    );
    let deadline = Instant::now() + ENSEMBLE_WAIT;
    let (ok, stdout, stderr) = loop {
        let r = run(args(&["-add", &spec, "--auth", "digest:super:test"]));
        if r.0 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.starts_with("Committed new configuration:\n"),
        "{stdout}"
    );
    assert!(stdout.contains(&spec), "{stdout}");
    let (ok, stdout, _) = run(args(&["-remove", "4", "--auth", "digest:super:test"]));
    assert!(ok);
    assert!(!stdout.contains("server.4="), "{stdout}");
    ens.kill9(3);
}

/// The next watch event that is about a node (session state events skipped).
async fn next_node_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<zkserver::client::WatchedEvent>,
) -> zkserver::client::WatchedEvent {
    loop {
        let ev = tokio::time::timeout(ENSEMBLE_WAIT, rx.recv())
            .await
            .expect("a watch event in time")
            .expect("event channel open");
        if ev.kind != zkserver::proto::codes::event::NONE {
            return ev;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_server_ensemble_grows_to_three_and_config_watches_fire() {
    // standaloneEnabled=false: one server runs the quorum code, so it can grow (as in
    // Apache's guide); an operator starts a ZkEnsemble of one this way.
    let mut ens = builder(1)
        .spares(2)
        .cfg("standaloneEnabled", "false")
        .start()
        .await;
    let (c, mut events) = Client::connect(bounded(vec![ens.addr(0)])).await.unwrap();
    c.add_auth("digest", b"super:test").await.unwrap();
    let (before, st) = c.get_config(true).await.unwrap();
    let before = String::from_utf8(before).unwrap();
    assert_eq!(ids(&before), BTreeSet::from([1]), "{before}");
    let mut members = vec![0];
    for i in 1..3 {
        ens.prepare_joiner(i, &members);
        ens.restart(i);
        ens.wait_serving(i).await;
        let spec = ens.members[i].server_spec();
        let (text, version) = reconfig(&ens, &c, Some(&spec), None).await;
        assert!(version > st.mzxid);
        assert!(text.ends_with(&format!("version={version:x}")), "{text}");
        let ev = next_node_event(&mut events).await;
        assert_eq!(
            (ev.kind, ev.path.as_str()),
            (
                zkserver::proto::codes::event::NODE_DATA_CHANGED,
                "/zookeeper/config"
            )
        );
        let (now, _) = c.get_config(true).await.unwrap();
        assert_eq!(String::from_utf8(now).unwrap(), text);
        members.push(i);
    }
    ens.wait_leader().await;
    // Three voters now: losing one keeps the quorum.
    let leader = ens.wait_leader().await;
    ens.kill9((leader + 1) % 3);
    let w = admin(&ens, &[leader]).await;
    w.create("/three", b"", &open(), CreateMode::Persistent)
        .await
        .expect("two of three commit");
    let _ = w.close().await;
    let _ = c.close().await;
}
