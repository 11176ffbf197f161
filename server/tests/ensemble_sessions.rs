//! Sessions across leader changes: clients that keep working through a failover keep their
//! sessions (Apache's contract: a client that reconnects within its timeout is not expired),
//! whichever member they were on and whichever member they land on.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use common::ensemble::{Ensemble, EnsembleBuilder};
use common::util::open;
use zkserver::client::{Client, ClientConfig, ClientError, State};
use zkserver::proto::codes::CreateMode;
use zkserver::proto::jute::{Jute, JuteReader};
use zkserver::proto::records::{ConnectRequestFixed, ConnectResponseFixed};

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

/// A bare handshake on `addr` for `session` (0: a new one). The connection stays silent
/// afterwards: no pings, no requests, so only the handshake itself can renew the lease.
async fn handshake(
    addr: &str,
    timeout_ms: i32,
    session: i64,
    passwd: &[u8],
) -> (TcpStream, ConnectResponseFixed) {
    let mut body = ConnectRequestFixed {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: timeout_ms,
        session_id: session,
        passwd: Some(Bytes::copy_from_slice(passwd)),
    }
    .to_bytes();
    body.push(0); // readOnly: false
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&frame).await.expect("send ConnectRequest");
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .await
        .expect("ConnectResponse length");
    let mut buf = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    s.read_exact(&mut buf).await.expect("ConnectResponse");
    let resp = ConnectResponseFixed::read_from(&mut JuteReader::new(Bytes::from(buf)))
        .expect("decode ConnectResponse");
    (s, resp)
}

/// A client that reconnects to a follower keeps its session for a full timeout from then on,
/// even if it says nothing more: the follower asks the leader, whose answer renews the lease
/// (Apache's learners revalidate every reconnect). Answering from the follower's own table
/// left the leader's deadline where it was: a client that reached a follower shortly before
/// its session's deadline was accepted and expired moments later (seen with kazoo after a
/// leader kill, when its first reconnect attempt hung on the dead server's address).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_to_a_follower_renews_the_lease_on_the_leader() {
    // The longest timeout the default maxSessionTimeout (20 ticks of 300 ms) grants.
    const T_MS: i32 = 6000;
    let t = Duration::from_millis(T_MS as u64);
    let ens = EnsembleBuilder::new(3).start().await;
    let leader = ens.wait_leader().await;
    let follower = (0..ens.len()).find(|&i| i != leader).expect("a follower");

    let (gone, created) = handshake(&ens.addr(leader), T_MS, 0, &[0; 16]).await;
    assert_eq!(created.time_out, T_MS, "negotiated timeout");
    let passwd = created.passwd.clone().expect("password");
    // Gone without a closeSession: the leader's lease runs out T after this.
    drop(gone);
    let left = Instant::now();

    tokio::time::sleep(t / 2).await;
    let (quiet, resumed) = handshake(&ens.addr(follower), T_MS, created.session_id, &passwd).await;
    let reconnected = left.elapsed();
    assert_eq!(
        resumed.session_id, created.session_id,
        "the follower resumes the session"
    );
    assert!(resumed.time_out > 0, "the follower resumes the session");
    assert!(
        reconnected < t * 3 / 4,
        "the machine is too slow for this test: reconnected {reconnected:?} after leaving"
    );

    // Past the first lease (plus a tick of bucket rounding and slack for the expiry to land),
    // yet well before the lease renewed at the reconnect runs out.
    tokio::time::sleep_until(left + t * 5 / 4).await;
    let (_check, alive) = handshake(&ens.addr(leader), T_MS, created.session_id, &passwd).await;
    assert!(
        alive.time_out > 0 && alive.session_id == created.session_id,
        "session 0x{:x} expired {:?} after its client left, though it reconnected to a \
         follower after {reconnected:?}\n{}",
        created.session_id,
        left.elapsed(),
        ens.logs(40)
    );
    drop(quiet);
}
