//! Sessions across leader changes: clients that keep working through a failover keep their
//! sessions (Apache's contract: a client that reconnects within its timeout is not expired),
//! whichever member they were on and whichever member they land on.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use common::ensemble::{Ensemble, EnsembleBuilder};
use common::util::open;
use zkserver::client::{Client, ClientConfig, ClientError, State};
use zkserver::proto::codes::CreateMode;

/// Short enough that a lost lease shows within a round, long enough for an election.
const SESSION_TIMEOUT: Duration = Duration::from_secs(4);
/// Upper bound on writes per client, whatever happens.
const MAX_OPS: usize = 100_000;

/// What one writer saw.
#[derive(Default)]
struct WriterLog {
    acked: usize,
    /// Fatal findings: expiry, a changed session id.
    problems: Vec<String>,
}

/// Writes through `c` (about 25 a second) until `stop`; any sign of a lost session is recorded
/// and ends the writer.
async fn writer(c: Client, n: usize, log: Arc<Mutex<WriterLog>>, stop: Arc<AtomicBool>) {
    let session = c.session_id();
    for k in 0..MAX_OPS {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let r = c
            .create(
                &format!("/w/{n}-{k}"),
                b"x",
                &open(),
                CreateMode::Persistent,
            )
            .await;
        let state = c.state();
        let problem = match r {
            Err(ClientError::SessionExpired) => Some(format!("session expired at op {k}")),
            _ if state == State::Expired => Some(format!("client state Expired at op {k}")),
            _ if c.session_id() != session => Some(format!(
                "session changed from 0x{session:x} to 0x{:x}",
                c.session_id()
            )),
            _ => None,
        };
        {
            let mut l = log.lock();
            if r.is_ok() {
                l.acked += 1;
            }
            if let Some(p) = problem {
                l.problems.push(format!("writer {n}: {p}"));
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Hosts with the followers first, rotated per writer, the leader last: most sessions live
/// on followers, and every member is still reachable.
fn hosts_for(ens: &Ensemble, leader: usize, n: usize) -> Vec<String> {
    let followers: Vec<usize> = (0..ens.len()).filter(|&i| i != leader).collect();
    let mut order: Vec<usize> = (0..followers.len())
        .map(|k| followers[(n + k) % followers.len()])
        .collect();
    order.push(leader);
    order.into_iter().map(|i| ens.addr(i)).collect()
}

fn problems(logs: &[Arc<Mutex<WriterLog>>]) -> Vec<String> {
    logs.iter()
        .flat_map(|l| l.lock().problems.clone())
        .collect()
}

/// Waits until `dur` has passed and every writer has acknowledged at least one more write
/// after that; fails early on any lost session.
async fn carry_on(ens: &Ensemble, logs: &[Arc<Mutex<WriterLog>>], dur: Duration) {
    let until = Instant::now() + dur;
    let base: Vec<usize> = logs.iter().map(|l| l.lock().acked).collect();
    ens.poll("writers carry on", || async {
        let p = problems(logs);
        assert!(p.is_empty(), "sessions lost: {p:?}\n{}", ens.logs(60));
        let moved = logs.iter().zip(&base).all(|(l, b)| l.lock().acked > *b);
        (Instant::now() >= until && moved).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_keep_their_sessions_across_leader_kills() {
    let mut ens = EnsembleBuilder::new(3).start().await;
    let leader = ens.wait_leader().await;
    let setup = ens.client(leader).await;
    setup
        .create("/w", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create /w");
    setup
        .create("/eph", b"", &open(), CreateMode::Persistent)
        .await
        .expect("create /eph");
    setup.close().await.expect("close");

    let stop = Arc::new(AtomicBool::new(false));
    let mut logs = Vec::new();
    let mut tasks = Vec::new();
    let mut clients = Vec::new();
    for n in 0..4 {
        let cfg =
            ClientConfig::new(hosts_for(&ens, leader, n)).with_session_timeout(SESSION_TIMEOUT);
        let (c, _events) = Client::connect(cfg).await.expect("connect");
        // Lives exactly as long as the session: must survive every round.
        c.create(&format!("/eph/{n}"), b"", &open(), CreateMode::Ephemeral)
            .await
            .expect("create ephemeral");
        let log = Arc::new(Mutex::new(WriterLog::default()));
        logs.push(log.clone());
        clients.push(c.clone());
        tasks.push(tokio::spawn(writer(c, n, log, stop.clone())));
    }
    carry_on(&ens, &logs, Duration::from_secs(1)).await;

    for round in 0..3 {
        let old = ens.wait_leader().await;
        ens.kill9(old);
        let new = ens.wait_leader().await;
        assert_ne!(new, old, "round {round}");
        // Longer than two session timeouts: a lease the new leader does not renew runs out.
        carry_on(&ens, &logs, SESSION_TIMEOUT * 5 / 2).await;
        ens.restart(old);
        ens.wait_serving(old).await;
        carry_on(&ens, &logs, Duration::from_secs(1)).await;
    }

    stop.store(true, Ordering::Release);
    for t in tasks {
        t.await.expect("writer task");
    }
    let p = problems(&logs);
    assert!(p.is_empty(), "sessions lost: {p:?}\n{}", ens.logs(60));
    let check = ens.client(ens.wait_leader().await).await;
    let mut eph = check.get_children("/eph", false).await.expect("list /eph");
    eph.sort();
    assert_eq!(eph, vec!["0", "1", "2", "3"], "ephemerals of live sessions");
    for c in clients {
        c.close().await.expect("close writer");
    }
    let acked: Vec<usize> = logs.iter().map(|l| l.lock().acked).collect();
    eprintln!("acknowledged writes per writer: {acked:?}");
}
