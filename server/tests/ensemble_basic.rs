//! Ensembles of the `zkserver` binary on loopback: forming (one leader, the rest followers or
//! observers), replication of writes made through any member, sequential names, ephemerals,
//! sessions moving between members, and watches on followers.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::ensemble::{Ensemble, EnsembleBuilder};
use common::util::{next_node_event, open};
use zkserver::client::{Client, ClientConfig};
use zkserver::proto::codes::{event, CreateMode};

/// Member indices that are not `leader`.
fn followers(ens: &Ensemble, leader: usize) -> Vec<usize> {
    (0..ens.len()).filter(|&i| i != leader).collect()
}

/// Asserts `path` exists on every running member (after a sync on each).
async fn assert_everywhere(ens: &Ensemble, path: &str, data: &[u8]) {
    for i in ens.running() {
        let c = ens.client(i).await;
        c.sync(path).await.expect("sync");
        let (got, _) = c
            .get_data(path, false)
            .await
            .unwrap_or_else(|e| panic!("{path} on server {}: {e}", i + 1));
        assert_eq!(got.as_deref(), Some(data), "{path} on server {}", i + 1);
        c.close().await.expect("close");
    }
}

/// Waits until `path` is absent on every running member.
async fn wait_gone_everywhere(ens: &Ensemble, path: &str) {
    for i in ens.running() {
        let c = ens.client(i).await;
        ens.poll(&format!("{path} gone on server {}", i + 1), || async {
            c.sync(path).await.ok()?;
            c.exists(path, false).await.ok()?.is_none().then_some(())
        })
        .await;
        c.close().await.expect("close");
    }
}

#[tokio::test]
async fn three_servers_elect_one_leader_and_replicate_writes_from_any_member() {
    let ens = EnsembleBuilder::new(3).start().await;
    let leader = ens.wait_leader().await;
    let mut modes = Vec::new();
    for i in 0..3 {
        modes.push(ens.mode(i).await.expect("mode"));
    }
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "{modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        2,
        "{modes:?}"
    );
    assert_eq!(modes[leader], "leader");

    for i in 0..3 {
        let c = ens.client(i).await;
        let path = format!("/via{}", i + 1);
        c.create(&path, path.as_bytes(), &open(), CreateMode::Persistent)
            .await
            .unwrap_or_else(|e| panic!("create through server {}: {e}", i + 1));
        c.set_data(&path, b"changed", 0).await.expect("set_data");
        c.close().await.expect("close");
    }
    for i in 0..3 {
        assert_everywhere(&ens, &format!("/via{}", i + 1), b"changed").await;
    }
    let tree = ens.wait_converged().await;
    assert!(tree.contains_key("/via1") && tree.contains_key("/via3"));
}

#[tokio::test]
async fn five_servers_form_and_a_follower_write_reaches_everyone() {
    let ens = EnsembleBuilder::new(5).start().await;
    let leader = ens.wait_leader().await;
    for i in followers(&ens, leader) {
        assert_eq!(
            ens.mode(i).await.as_deref(),
            Some("follower"),
            "server {}",
            i + 1
        );
    }
    let f = followers(&ens, leader)[0];
    let c = ens.client(f).await;
    c.create("/five", b"x", &open(), CreateMode::Persistent)
        .await
        .expect("create");
    assert_everywhere(&ens, "/five", b"x").await;
    ens.wait_converged().await;
}

#[tokio::test]
async fn observer_serves_but_does_not_count_for_quorum() {
    let mut ens = EnsembleBuilder::new(3).observers(1).start().await;
    let leader = ens.wait_leader().await;
    assert_ne!(leader, 3, "an observer must never lead");
    assert_eq!(ens.mode(3).await.as_deref(), Some("observer"));

    // Writes through the observer are forwarded and replicated.
    let obs = ens.client(3).await;
    obs.create("/from-observer", b"o", &open(), CreateMode::Persistent)
        .await
        .expect("create through observer");
    assert_everywhere(&ens, "/from-observer", b"o").await;
    obs.close().await.expect("close");

    // Two of three voters gone: the leader plus an observer is no quorum.
    let voters: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    ens.kill9(voters[0]);
    ens.kill9(voters[1]);
    ens.poll("the leader to stop serving", || async {
        ens.mode(leader).await.is_none().then_some(())
    })
    .await;
    ens.poll("the observer to stop serving", || async {
        ens.mode(3).await.is_none().then_some(())
    })
    .await;
    let mut cfg = ClientConfig::new([ens.addr(leader), ens.addr(3)])
        .with_session_timeout(Duration::from_secs(4));
    cfg.connect_timeout = Duration::from_secs(3);
    cfg.request_timeout = Some(Duration::from_secs(3));
    assert!(
        Client::connect(cfg).await.is_err(),
        "no member may accept sessions without a quorum"
    );

    // One voter back: quorum again, writes resume (also through the observer).
    ens.restart(voters[0]);
    ens.wait_leader().await;
    let obs = ens.client(3).await;
    obs.create("/after-quorum", b"q", &open(), CreateMode::Persistent)
        .await
        .expect("create after quorum returned");
    assert_everywhere(&ens, "/after-quorum", b"q").await;
    ens.wait_converged().await;
}

#[tokio::test]
async fn sequential_suffixes_are_unique_and_increasing_across_members() {
    let ens = EnsembleBuilder::new(3).start().await;
    let setup = ens.client(0).await;
    setup
        .create("/seq", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create /seq");
    const PER_CLIENT: usize = 15;
    let mut tasks = Vec::new();
    for i in 0..3 {
        let c = ens.client(i).await;
        tasks.push(tokio::spawn(async move {
            let mut names = Vec::new();
            for _ in 0..PER_CLIENT {
                let name = c
                    .create("/seq/n-", b"", &open(), CreateMode::PersistentSequential)
                    .await
                    .expect("create sequential");
                names.push(name);
            }
            c.close().await.expect("close");
            names
        }));
    }
    let mut all = BTreeSet::new();
    for t in tasks {
        let names = t.await.expect("task");
        let seqs: Vec<u64> = names
            .iter()
            .map(|n| n.trim_start_matches("/seq/n-").parse().expect("suffix"))
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one client's suffixes must increase: {seqs:?}"
        );
        for s in seqs {
            assert!(all.insert(s), "suffix {s} handed out twice");
        }
    }
    let expected: BTreeSet<u64> = (0..3 * PER_CLIENT as u64).collect();
    assert_eq!(
        all, expected,
        "suffixes are the parent's cversion at each create"
    );
    let tree = ens.wait_converged().await;
    assert_eq!(
        tree.keys().filter(|k| k.starts_with("/seq/")).count(),
        3 * PER_CLIENT
    );
}

#[tokio::test]
async fn ephemerals_of_closed_and_expired_sessions_vanish_on_every_member() {
    let ens = EnsembleBuilder::new(3).start().await;
    let leader = ens.wait_leader().await;
    let f = followers(&ens, leader);

    // Closed session on a follower.
    let c = ens.client(f[0]).await;
    c.create("/eph-closed", b"", &open(), CreateMode::Ephemeral)
        .await
        .expect("create ephemeral");
    assert_everywhere(&ens, "/eph-closed", b"").await;
    c.close().await.expect("close");
    wait_gone_everywhere(&ens, "/eph-closed").await;

    // Expired session: the client disappears without closing (all handles dropped).
    let cfg = ClientConfig::new([ens.addr(f[1])]).with_session_timeout(Duration::from_secs(2));
    let (c, _events) = Client::connect(cfg).await.expect("connect");
    c.create("/eph-expired", b"", &open(), CreateMode::Ephemeral)
        .await
        .expect("create ephemeral");
    let owner = c.session_id();
    assert_everywhere(&ens, "/eph-expired", b"").await;
    drop(c);
    wait_gone_everywhere(&ens, "/eph-expired").await;
    let tree = ens.wait_converged().await;
    assert!(
        tree.values().all(|(_, st)| st.ephemeral_owner != owner),
        "no node may still belong to the expired session"
    );
}

#[tokio::test]
async fn a_session_survives_the_loss_of_its_server() {
    let mut ens = EnsembleBuilder::new(3).start().await;
    let leader = ens.wait_leader().await;
    let f = followers(&ens, leader);
    // The client tries hosts in order, so it lands on the first follower.
    let hosts = [ens.addr(f[0]), ens.addr(f[1]), ens.addr(leader)];
    let cfg = ClientConfig::new(hosts).with_session_timeout(Duration::from_secs(15));
    let (c, _events) = Client::connect(cfg).await.expect("connect");
    let sid = c.session_id();
    c.create("/moving", b"", &open(), CreateMode::Ephemeral)
        .await
        .expect("create ephemeral");
    ens.kill9(f[0]);
    // The next write goes through another member, with the same session.
    let stat = ens
        .poll("a write after the session moved", || async {
            c.set_data("/moving", b"moved", -1).await.ok()
        })
        .await;
    assert_eq!(c.session_id(), sid);
    assert_eq!(
        stat.ephemeral_owner, sid,
        "the ephemeral still belongs to the session"
    );
    assert_everywhere(&ens, "/moving", b"moved").await;
    // Nothing expired it meanwhile.
    let (_, st) = c.get_data("/moving", false).await.expect("get_data");
    assert_eq!(st.ephemeral_owner, sid);
    c.close().await.expect("close");
    wait_gone_everywhere(&ens, "/moving").await;
}

#[tokio::test]
async fn watches_set_on_a_follower_fire_for_writes_through_other_members() {
    let ens = EnsembleBuilder::new(3).start().await;
    let leader = ens.wait_leader().await;
    let f = followers(&ens, leader);
    let cfg = ClientConfig::new([ens.addr(f[0])]);
    let (watcher, mut events) = Client::connect(cfg).await.expect("connect");
    let writer = ens.client(f[1]).await;
    writer
        .create("/w", b"0", &open(), CreateMode::Persistent)
        .await
        .expect("create /w");
    watcher.sync("/w").await.expect("sync");
    watcher.get_data("/w", true).await.expect("get_data watch");
    watcher.get_children("/w", true).await.expect("child watch");
    assert!(watcher
        .exists("/w-later", true)
        .await
        .expect("exists")
        .is_none());

    writer.set_data("/w", b"1", -1).await.expect("set_data");
    let ev = next_node_event(&mut events).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/w")
    );

    let leader_client = ens.client(leader).await;
    leader_client
        .create("/w/child", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create child");
    let ev = next_node_event(&mut events).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/w")
    );
    writer
        .create("/w-later", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create /w-later");
    let ev = next_node_event(&mut events).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_CREATED, "/w-later")
    );
    // The notification carries the zxid of the change (3.9), which the watcher's member has
    // applied by then.
    let (_, st) = watcher.get_data("/w-later", false).await.expect("get");
    assert_eq!(ev.zxid, st.czxid);
}

#[tokio::test]
async fn watches_move_with_the_session_to_another_member() {
    let mut ens = EnsembleBuilder::new(3).start().await;
    let leader = ens.wait_leader().await;
    let f = followers(&ens, leader);
    let writer = ens.client(leader).await;
    writer
        .create("/moved-watch", b"0", &open(), CreateMode::Persistent)
        .await
        .expect("create");
    let cfg = ClientConfig::new([ens.addr(f[0]), ens.addr(f[1])])
        .with_session_timeout(Duration::from_secs(15));
    let (c, mut events) = Client::connect(cfg).await.expect("connect");
    c.sync("/moved-watch").await.expect("sync");
    c.get_data("/moved-watch", true).await.expect("data watch");
    c.get_children("/moved-watch", true)
        .await
        .expect("child watch");

    ens.kill9(f[0]);
    // The session reconnects to the other follower and re-registers its watches there.
    ens.poll("the session to reconnect", || async {
        c.exists("/moved-watch", false).await.ok().map(|_| ())
    })
    .await;
    writer
        .set_data("/moved-watch", b"1", -1)
        .await
        .expect("set_data");
    let ev = next_node_event(&mut events).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/moved-watch")
    );
    writer
        .create("/moved-watch/c", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create child");
    let ev = next_node_event(&mut events).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_CHILDREN_CHANGED, "/moved-watch")
    );
}

#[tokio::test]
async fn a_session_whose_server_died_expires_on_the_rest_of_the_ensemble() {
    let mut ens = EnsembleBuilder::new(3).start().await;
    let leader = ens.wait_leader().await;
    let f = followers(&ens, leader);
    let cfg = ClientConfig::new([ens.addr(f[0])]).with_session_timeout(Duration::from_secs(2));
    let (c, _events) = Client::connect(cfg).await.expect("connect");
    c.create("/orphan", b"", &open(), CreateMode::Ephemeral)
        .await
        .expect("create ephemeral");
    assert_everywhere(&ens, "/orphan", b"").await;
    // The server holding the session dies and the client never comes back: the leader
    // must expire the session it only knew through that follower.
    ens.kill9(f[0]);
    drop(c);
    wait_gone_everywhere(&ens, "/orphan").await;
    ens.wait_converged().await;
}

#[tokio::test]
async fn ephemerals_and_watches_survive_a_leader_change() {
    let mut ens = EnsembleBuilder::new(3).start().await;
    let old = ens.wait_leader().await;
    let f = followers(&ens, old);
    let cfg = ClientConfig::new([ens.addr(f[0]), ens.addr(f[1])])
        .with_session_timeout(Duration::from_secs(6));
    let (c, mut events) = Client::connect(cfg).await.expect("connect");
    let sid = c.session_id();
    c.create("/keeps", b"", &open(), CreateMode::Ephemeral)
        .await
        .expect("create ephemeral");
    c.create("/watched", b"0", &open(), CreateMode::Persistent)
        .await
        .expect("create");
    c.get_data("/watched", true).await.expect("data watch");

    ens.kill9(old);
    let new = ens.wait_leader().await;
    assert_ne!(new, old);
    // The session is still alive under the new leader: the client can write, and a change
    // by another session fires the watch it set before the failover.
    ens.poll("the session to work again", || async {
        c.set_data("/keeps", b"still", -1).await.ok()
    })
    .await;
    let other = ens.client(new).await;
    other
        .set_data("/watched", b"1", -1)
        .await
        .expect("set_data");
    let ev = next_node_event(&mut events).await;
    assert_eq!(
        (ev.kind, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/watched")
    );
    let (_, st) = other
        .get_data("/keeps", false)
        .await
        .expect("ephemeral kept");
    assert_eq!(st.ephemeral_owner, sid);
    // The old leader rejoins and agrees.
    ens.restart(old);
    ens.wait_serving(old).await;
    let tree = ens.wait_converged().await;
    assert_eq!(tree["/keeps"].0, b"still".to_vec());
}

#[tokio::test]
async fn watches_fire_on_observers() {
    let ens = EnsembleBuilder::new(3).observers(1).start().await;
    let leader = ens.wait_leader().await;
    let (obs, mut events) = Client::connect(ClientConfig::new([ens.addr(3)]))
        .await
        .expect("connect to observer");
    assert!(obs.exists("/o", true).await.expect("exists").is_none());
    let writer = ens.client(leader).await;
    writer
        .create("/o", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create");
    let ev = next_node_event(&mut events).await;
    assert_eq!((ev.kind, ev.path.as_str()), (event::NODE_CREATED, "/o"));
}
