//! `linearizableReads=yes` on an ensemble of the `zkserver` binary: a read through any
//! member sees every write acknowledged before it was sent, without an explicit sync, and a
//! leader killed while reads wait never makes a member return stale data.

mod common;

use std::time::{Duration, Instant};

use common::ensemble::{Ensemble, EnsembleBuilder, ENSEMBLE_WAIT};
use common::util::open;
use zkserver::client::{Client, ClientError};
use zkserver::proto::codes::CreateMode;

/// Bound on one request: far above a read barrier's round trip on two busy cores, so a
/// request that times out was never going to be answered.
const REQUEST_BOUND: Duration = Duration::from_secs(20);

fn value(data: Option<Vec<u8>>) -> u64 {
    let text = String::from_utf8(data.unwrap_or_default()).expect("utf-8 value");
    text.parse().expect("numeric value")
}

#[tokio::test]
async fn reads_through_any_member_see_writes_acknowledged_elsewhere() {
    let ens = EnsembleBuilder::new(3)
        .observers(1)
        .cfg("linearizableReads", "yes")
        .start()
        .await;
    ens.wait_leader().await;
    ens.wait_all_serving().await;
    let mut clients: Vec<Client> = Vec::new();
    for i in 0..ens.len() {
        clients.push(ens.client(i).await);
    }
    clients[0]
        .create("/lin", b"0", &open(), CreateMode::Persistent)
        .await
        .expect("create");
    let n = clients.len();
    for i in 1..=120u64 {
        let w = (i as usize) % n;
        let r = (w + 1 + (i as usize / n) % (n - 1)) % n;
        clients[w]
            .set_data("/lin", i.to_string().as_bytes(), -1)
            .await
            .expect("set");
        let (data, stat) = clients[r].get_data("/lin", false).await.expect("get");
        assert_eq!(
            value(data),
            i,
            "read on member {} after write on {}",
            r + 1,
            w + 1
        );
        assert_eq!(stat.version as u64, i);
        let child = format!("/lin/c{i}");
        clients[w]
            .create(&child, b"", &open(), CreateMode::Persistent)
            .await
            .expect("create child");
        assert!(
            clients[r]
                .exists(&child, false)
                .await
                .expect("exists")
                .is_some(),
            "{child} on member {} after its create on {}",
            r + 1,
            w + 1
        );
    }
    // A session's read sent before its own write does not see it, and is answered first.
    for (k, c) in clients.iter().enumerate() {
        let before = c.get_data("/lin", false).await.expect("get").0;
        let next = (1000 + k).to_string();
        let (read, write) = tokio::join!(
            c.get_data("/lin", false),
            c.set_data("/lin", next.as_bytes(), -1)
        );
        write.expect("set");
        assert_eq!(read.expect("get").0, before, "member {}", k + 1);
        let after = c.get_data("/lin", false).await.expect("get").0;
        assert_eq!(after.as_deref(), Some(next.as_bytes()));
    }
    for c in clients {
        let _ = c.close().await;
    }
}

/// Fails the test, with the members' logs, when a request was never answered.
fn unanswered(ens: &Ensemble, what: &str, e: &ClientError) {
    if matches!(e, ClientError::Timeout) {
        panic!(
            "{what} got no answer within {REQUEST_BOUND:?}\n{}",
            ens.logs(60)
        );
    }
}

/// Reads `path` through `c` until a member answers (a connection loss while the member
/// changes role is retried); a read left unanswered fails the test.
async fn read_when_answered(ens: &Ensemble, c: &Client, path: &str) -> Option<Vec<u8>> {
    let deadline = Instant::now() + ENSEMBLE_WAIT;
    loop {
        match c.get_data(path, false).await {
            Ok((data, _)) => return data,
            Err(e) => {
                unanswered(ens, "a read", &e);
                assert!(
                    Instant::now() < deadline,
                    "no read answered in {ENSEMBLE_WAIT:?}, last error {e}\n{}",
                    ens.logs(60)
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A follower's read that reaches a new leader before anything of the new epoch committed
/// is answered all the same (it used to wait for the epoch's first write, forever if none
/// came).
#[tokio::test]
async fn a_follower_of_a_new_leader_answers_reads_before_any_write() {
    let mut ens = EnsembleBuilder::new(3)
        .cfg("linearizableReads", "yes")
        .start()
        .await;
    let leader = ens.wait_leader().await;
    let mut clients = Vec::new();
    for i in (0..ens.len()).filter(|&i| i != leader) {
        clients.push((i, ens.client_bounded(i, REQUEST_BOUND).await));
    }
    clients[0]
        .1
        .create("/nl", b"7", &open(), CreateMode::Persistent)
        .await
        .expect("create");
    ens.kill9(leader);
    let new_leader = ens.wait_leader().await;
    let (_, reader) = clients
        .iter()
        .find(|(i, _)| *i != new_leader)
        .expect("a follower of the new leader");
    assert_eq!(value(read_when_answered(&ens, reader, "/nl").await), 7);
    for (_, c) in clients {
        let _ = c.close().await;
    }
}

#[tokio::test]
async fn a_killed_leader_never_lets_a_member_return_stale_data() {
    let mut ens = EnsembleBuilder::new(5)
        .cfg("linearizableReads", "yes")
        .start()
        .await;
    let leader = ens.wait_leader().await;
    ens.wait_all_serving().await;
    let others: Vec<usize> = (0..ens.len()).filter(|&i| i != leader).collect();
    let (wi, ri) = (others[0], others[1]);
    let writer = ens.client_bounded(wi, REQUEST_BOUND).await;
    let reader = ens.client_bounded(ri, REQUEST_BOUND).await;
    writer
        .create("/fo", b"0", &open(), CreateMode::Persistent)
        .await
        .expect("create");
    let mut acked = 0u64;
    let mut reads_after_kill = 0;
    let mut killed = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0u64;
    while Instant::now() < deadline && reads_after_kill < 30 {
        i += 1;
        if i == 20 && !killed {
            ens.kill9(leader);
            killed = true;
        }
        // A write may fail (or succeed unacknowledged) while there is no leader.
        match writer.set_data("/fo", i.to_string().as_bytes(), -1).await {
            Ok(_) => acked = i,
            Err(e) => unanswered(&ens, "a write", &e),
        }
        match reader.get_data("/fo", false).await {
            Ok((data, _)) => {
                let seen = value(data);
                assert!(
                    seen >= acked,
                    "stale read: {seen} after write {acked} was acknowledged"
                );
                if killed {
                    reads_after_kill += 1;
                }
            }
            Err(e) => {
                unanswered(&ens, "a read", &e);
                // The member left its role: the read failed rather than answered stale.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(killed);
    assert_eq!(
        reads_after_kill,
        30,
        "reads resumed after the new leader\n{}",
        ens.logs(30)
    );
    let _ = writer.close().await;
    let _ = reader.close().await;
}
