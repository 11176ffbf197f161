//! Failures in a running ensemble: kill -9 of the leader under write load from several
//! clients (new leader, clients carry on, no acknowledged write lost, members identical after
//! the old leader rejoins), and followers catching up after missing many writes.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use common::ensemble::{Ensemble, EnsembleBuilder};
use common::history::{ClientHistory, Op, Outcome};
use common::util::open;
use zkserver::client::{Client, ClientConfig, ClientError};
use zkserver::proto::codes::CreateMode;

/// Upper bound on operations per client, whatever happens.
const MAX_OPS: usize = 20_000;

/// A connect string starting at member `first`, so clients spread over the ensemble.
fn hosts_from(ens: &Ensemble, first: usize) -> Vec<String> {
    (0..ens.len())
        .map(|k| ens.addr((first + k) % ens.len()))
        .collect()
}

/// One client's load: creates, register writes and register reads in turn until `stop`.
async fn run_client(
    c: Client,
    n: usize,
    history: Arc<Mutex<ClientHistory>>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let register = history.lock().register.clone();
    let mut counter = 0u64;
    for k in 0..MAX_OPS {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let (op, result) = match k % 3 {
            0 => {
                let path = format!("/hist/c{n}-{k}");
                let data = format!("{n}:{k}").into_bytes();
                let r = c
                    .create(&path, &data, &open(), CreateMode::Persistent)
                    .await
                    .map(|_| None);
                (Op::Create { path, data }, r)
            }
            1 => {
                counter += 1;
                let r = c
                    .set_data(&register, counter.to_string().as_bytes(), -1)
                    .await
                    .map(|_| None);
                (Op::Set { value: counter }, r)
            }
            _ => {
                let r = c.get_data(&register, false).await.map(|(d, st)| {
                    let value = d
                        .and_then(|d| String::from_utf8(d).ok())
                        .and_then(|s| s.parse::<u64>().ok());
                    Some((value, st.mzxid))
                });
                (
                    Op::Read {
                        value: None,
                        mzxid: 0,
                    },
                    r,
                )
            }
        };
        let (op, outcome) = match result {
            Ok(Some((value, mzxid))) => (Op::Read { value, mzxid }, Outcome::Ok),
            Ok(None) => (op, Outcome::Ok),
            Err(ClientError::SessionExpired) => {
                return Err(format!("client {n}: session expired at op {k}"))
            }
            Err(e) => (op, Outcome::of_error(&e)),
        };
        history.lock().record(op, outcome, c.last_zxid());
        if outcome != Outcome::Ok {
            // Back off while the ensemble elects; not a synchronization point.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = c.close().await;
    Ok(())
}

/// Waits until every client has at least `min` acknowledged operations.
async fn wait_acked(ens: &Ensemble, histories: &[Arc<Mutex<ClientHistory>>], min: usize) {
    ens.poll(&format!("{min} acknowledged ops per client"), || async {
        histories
            .iter()
            .all(|h| h.lock().acked() >= min)
            .then_some(())
    })
    .await
}

/// Several clients running [`run_client`] against the whole ensemble.
struct Load {
    histories: Vec<Arc<Mutex<ClientHistory>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Result<(), String>>>,
}

impl Load {
    /// Creates `/hist` and one register per client, then starts the clients (client `n`
    /// tries member `n % len` first).
    async fn start(ens: &Ensemble, clients: usize) -> Load {
        let setup = ens.client(0).await;
        setup
            .create("/hist", b"", &open(), CreateMode::Persistent)
            .await
            .expect("create /hist");
        let mut histories = Vec::new();
        for n in 0..clients {
            let register = format!("/hist/reg{n}");
            setup
                .create(&register, b"0", &open(), CreateMode::Persistent)
                .await
                .expect("create register");
            histories.push(Arc::new(Mutex::new(ClientHistory::new(&register))));
        }
        setup.close().await.expect("close");
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (n, history) in histories.iter().enumerate() {
            let mut cfg =
                ClientConfig::new(hosts_from(ens, n)).with_session_timeout(Duration::from_secs(20));
            cfg.request_timeout = Some(Duration::from_secs(10));
            let (c, _events) = Client::connect(cfg).await.expect("connect");
            tasks.push(tokio::spawn(run_client(
                c,
                n,
                history.clone(),
                stop.clone(),
            )));
        }
        Load {
            histories,
            stop,
            tasks,
        }
    }

    fn acked(&self) -> Vec<usize> {
        self.histories.iter().map(|h| h.lock().acked()).collect()
    }

    /// Waits until every client has `more` acknowledged operations beyond the busiest
    /// client's count now: all of them carry on.
    async fn wait_progress(&self, ens: &Ensemble, more: usize) {
        let min = self.acked().into_iter().max().unwrap_or(0) + more;
        wait_acked(ens, &self.histories, min).await;
    }

    /// Stops the clients and checks every history against the converged tree of all members
    /// (all must be running).
    async fn finish_and_check(mut self, ens: &Ensemble) {
        self.stop.store(true, Ordering::Release);
        for t in std::mem::take(&mut self.tasks) {
            t.await.expect("client task").expect("client history");
        }
        ens.wait_leader().await;
        let tree = ens.wait_converged().await;
        for h in &self.histories {
            if let Err(e) = h.lock().check(&tree, 0) {
                panic!("history check failed: {e}");
            }
        }
        let acked: usize = self.acked().iter().sum();
        eprintln!("{acked} acknowledged operations checked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill_under_load_loses_no_acknowledged_write() {
    let mut ens = EnsembleBuilder::new(3).start().await;
    let load = Load::start(&ens, 4).await;
    wait_acked(&ens, &load.histories, 15).await;

    let old = ens.wait_leader().await;
    let killed_at = Instant::now();
    ens.kill9(old);
    let new = ens.wait_leader().await;
    let failover = killed_at.elapsed();
    eprintln!("new leader {} after {failover:?}", new + 1);
    assert_ne!(new, old);
    assert!(
        failover < Duration::from_secs(15),
        "failover took {failover:?}"
    );
    load.wait_progress(&ens, 15).await;

    // The old leader rejoins (truncating anything it proposed alone) and catches up.
    ens.restart(old);
    ens.wait_serving(old).await;
    load.finish_and_check(&ens).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_leader_kills_in_five_members_lose_no_acknowledged_write() {
    let mut ens = EnsembleBuilder::new(5).start().await;
    let load = Load::start(&ens, 5).await;
    wait_acked(&ens, &load.histories, 10).await;
    for round in 0..3 {
        let old = ens.wait_leader().await;
        // In the last round a follower goes down with the leader: 3 of 5 still form a quorum.
        let extra = (round == 2).then(|| (old + 1) % ens.len());
        ens.kill9(old);
        if let Some(e) = extra {
            ens.kill9(e);
        }
        let new = ens.wait_leader().await;
        assert_ne!(new, old, "round {round}");
        load.wait_progress(&ens, 10).await;
        ens.restart(old);
        ens.wait_serving(old).await;
        if let Some(e) = extra {
            ens.restart(e);
            ens.wait_serving(e).await;
        }
        load.wait_progress(&ens, 5).await;
    }
    load.finish_and_check(&ens).await;
}

/// Creates `count` nodes `/{prefix}-k` through member `via` using `clients` sessions.
async fn write_many(ens: &Ensemble, via: usize, prefix: &str, count: usize) {
    const CLIENTS: usize = 4;
    let mut tasks = Vec::new();
    for n in 0..CLIENTS {
        let c = ens.client(via).await;
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            for k in (n..count).step_by(CLIENTS) {
                c.create(
                    &format!("/{prefix}/n{k}"),
                    k.to_string().as_bytes(),
                    &open(),
                    CreateMode::Persistent,
                )
                .await
                .expect("create");
            }
            c.close().await.expect("close");
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_catch_up_by_diff_and_by_snapshot() {
    // A small snapCount makes every member roll snapshots and logs while the writes happen.
    let mut ens = EnsembleBuilder::new(3).cfg("snapCount", 100).start().await;
    let leader = ens.wait_leader().await;
    let f: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let c = ens.client(leader).await;
    c.create("/small", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create /small");
    c.create("/big", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create /big");

    // A short absence: within the leader's committed window (DIFF).
    ens.kill9(f[0]);
    write_many(&ens, f[1], "small", 40).await;
    ens.restart(f[0]);
    ens.wait_serving(f[0]).await;
    let tree = ens.wait_converged().await;
    assert_eq!(tree.keys().filter(|k| k.starts_with("/small/")).count(), 40);

    // A long absence: more txns than the 500-entry window (SNAP).
    ens.kill9(f[1]);
    write_many(&ens, f[0], "big", 700).await;
    ens.restart(f[1]);
    ens.wait_serving(f[1]).await;
    let tree = ens.wait_converged().await;
    assert_eq!(tree.keys().filter(|k| k.starts_with("/big/")).count(), 700);
    assert_eq!(
        ens.wait_leader().await,
        leader,
        "catch-up must not move the leader"
    );

    // Writes keep flowing through the caught-up follower.
    let c2 = ens.client(f[1]).await;
    c2.create("/after", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create through caught-up follower");
    ens.wait_converged().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_ensemble_kill9_keeps_every_acknowledged_write() {
    let mut ens = EnsembleBuilder::new(3).cfg("snapCount", 200).start().await;
    let load = Load::start(&ens, 3).await;
    wait_acked(&ens, &load.histories, 40).await;
    // Everyone dies at once, mid-load; the clients keep retrying meanwhile.
    for i in 0..ens.len() {
        ens.kill9(i);
    }
    for i in 0..ens.len() {
        ens.restart(i);
    }
    ens.wait_all_serving().await;
    ens.wait_leader().await;
    load.wait_progress(&ens, 10).await;
    load.finish_and_check(&ens).await;
}

/// A `sync` through a follower that reaches a new leader before anything of the new epoch
/// committed is answered (it used to wait for the epoch's first write, forever if none came).
#[tokio::test]
async fn a_sync_through_a_follower_of_a_new_leader_needs_no_write() {
    let mut ens = EnsembleBuilder::new(3).start().await;
    let leader = ens.wait_leader().await;
    let mut clients = Vec::new();
    for i in (0..ens.len()).filter(|&i| i != leader) {
        clients.push((i, ens.client_bounded(i, Duration::from_secs(20)).await));
    }
    clients[0]
        .1
        .create("/ps", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create");
    ens.kill9(leader);
    let new_leader = ens.wait_leader().await;
    let (_, c) = clients
        .iter()
        .find(|(i, _)| *i != new_leader)
        .expect("a follower of the new leader");
    let deadline = Instant::now() + common::ensemble::ENSEMBLE_WAIT;
    loop {
        match c.sync("/ps").await {
            Ok(path) => {
                assert_eq!(path, "/ps");
                break;
            }
            Err(ClientError::Timeout) => {
                panic!("the sync got no answer\n{}", ens.logs(60))
            }
            // A connection loss while the member changed role: retried.
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "no sync answered: {e}\n{}",
                    ens.logs(60)
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    for (_, c) in clients {
        let _ = c.close().await;
    }
}
