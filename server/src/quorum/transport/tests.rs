//! Loopback tests: a leader (serve_learners) and learners (connect_leader or raw sockets).

#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::{timeout, Instant};

use super::*;
use crate::proto::codes::op;
use crate::proto::quorum::ZAB_PROTOCOL_VERSION;
use crate::proto::records::{Acl, LearnerInfo};
use crate::proto::txn::{CreateTxn, Txn, TxnBody, TxnHeader};

const MAX_LEN: usize = 1 << 20;
const WAIT: Duration = Duration::from_secs(10);

async fn next(rx: &mut UnboundedReceiver<PeerEvent>) -> PeerEvent {
    timeout(WAIT, rx.recv())
        .await
        .expect("timed out waiting for an event")
        .expect("event channel closed")
}

/// Waits until every sender of `rx` is gone, failing on any further event.
async fn expect_closed(rx: &mut UnboundedReceiver<PeerEvent>) {
    match timeout(WAIT, rx.recv())
        .await
        .expect("channel never closed")
    {
        None => {}
        Some(ev) => panic!("unexpected event {ev:?}"),
    }
}

fn follower_info(sid: i64) -> ZabPacket {
    ZabPacket::FollowerInfo {
        zxid: 1 << 32,
        info: LearnerInfo {
            serverid: sid,
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version: 0,
        },
    }
}

fn tree_with(nodes: &[(&str, Vec<u8>)]) -> DataTree {
    let mut t = DataTree::new();
    for (i, (path, data)) in nodes.iter().enumerate() {
        let zxid = (1 << 32) + i as i64 + 1;
        let r = t.apply(&Txn {
            hdr: TxnHeader {
                client_id: 0x55,
                cxid: i as i32,
                zxid,
                time: 1_700_000_000_000,
                kind: op::CREATE,
            },
            body: TxnBody::Create(CreateTxn {
                path: (*path).into(),
                data: Some(Bytes::from(data.clone())),
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_cversion: i as i32 + 1,
            }),
            digest: None,
        });
        assert_eq!(r.err, crate::proto::codes::ErrorCode::Ok, "create {path}");
    }
    t
}

struct Leader {
    addr: SocketAddr,
    guard: ServeGuard,
    rx: UnboundedReceiver<PeerEvent>,
}

async fn leader() -> Leader {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = unbounded_channel();
    let guard = serve_learners(listener, tx, MAX_LEN);
    Leader { addr, guard, rx }
}

struct Learner {
    out: PeerSender,
    rx: UnboundedReceiver<PeerEvent>,
}

/// Connects a learner as `sid` and returns both ends once the leader has identified it.
async fn join(l: &mut Leader, sid: u64) -> (Learner, PeerSender) {
    let (tx, rx) = unbounded_channel();
    let deadline = Instant::now() + WAIT;
    let out = connect_leader(1, l.addr, deadline, tx, MAX_LEN)
        .await
        .unwrap();
    out.send(&follower_info(sid as i64));
    match next(&mut l.rx).await {
        PeerEvent::LearnerConnected {
            sid: got,
            out: to_learner,
            first,
            ..
        } => {
            assert_eq!(got, sid);
            assert_eq!(first, follower_info(sid as i64));
            (Learner { out, rx }, to_learner)
        }
        other => panic!("expected LearnerConnected, got {other:?}"),
    }
}

fn expect_packet(ev: PeerEvent, sid: Sid, conn: u64) -> ZabPacket {
    match ev {
        PeerEvent::Packet {
            sid: s,
            conn: c,
            pkt,
        } => {
            assert_eq!((s, c), (sid, conn));
            pkt
        }
        other => panic!("expected a packet, got {other:?}"),
    }
}

#[tokio::test]
async fn follower_info_identifies_and_packets_flow_both_ways_in_order() {
    let mut l = leader().await;
    let (mut learner, to_learner) = join(&mut l, 3).await;
    assert_ne!(learner.out.conn(), to_learner.conn());

    let down: Vec<ZabPacket> = std::iter::once(ZabPacket::LeaderInfo {
        zxid: 2 << 32,
        protocol_version: ZAB_PROTOCOL_VERSION,
    })
    .chain((1..=200).map(|i| ZabPacket::Proposal {
        zxid: (2 << 32) + i,
        txn: Bytes::from(vec![i as u8; 100 + i as usize]),
    }))
    .chain([ZabPacket::Ping {
        zxid: 7,
        sessions: vec![],
    }])
    .collect();
    let up: Vec<ZabPacket> = std::iter::once(ZabPacket::AckEpoch {
        zxid: 5,
        current_epoch: 1,
    })
    .chain((1..=200).map(|i| ZabPacket::Ack {
        zxid: (2 << 32) + i,
    }))
    .chain([ZabPacket::Ping {
        zxid: 7,
        sessions: vec![(11, 3000), (12, 4000)],
    }])
    .collect();
    for p in &down {
        to_learner.send(p);
    }
    for p in &up {
        learner.out.send(p);
    }
    for want in &down {
        let got = expect_packet(next(&mut learner.rx).await, 1, learner.out.conn());
        assert_eq!(&got, want);
    }
    for want in &up {
        let got = expect_packet(next(&mut l.rx).await, 3, to_learner.conn());
        assert_eq!(&got, want);
    }
}

#[tokio::test]
async fn snapshot_between_packets_arrives_intact_and_in_order() {
    let mut l = leader().await;
    let (mut learner, to_learner) = join(&mut l, 2).await;
    let tree = tree_with(&[
        ("/a", b"alpha".to_vec()),
        ("/a/b", vec![7u8; 300_000]),
        ("/c", Vec::new()),
        ("/c/d", b"delta".to_vec()),
    ]);
    let zxid = (1 << 32) + 4;
    let sessions = vec![(0x55, 30_000), (0x56, 40_000)];
    to_learner.send(&ZabPacket::Snap { zxid });
    to_learner.send_snapshot(sessions.clone(), tree.clone());
    to_learner.send(&ZabPacket::NewLeader {
        zxid: 2 << 32,
        config: Bytes::from_static(b"server.1=127.0.0.1:1:2:participant"),
    });
    let conn = learner.out.conn();
    assert_eq!(
        expect_packet(next(&mut learner.rx).await, 1, conn),
        ZabPacket::Snap { zxid }
    );
    match next(&mut learner.rx).await {
        PeerEvent::Snapshot {
            sid,
            conn: c,
            zxid: z,
            sessions: s,
            tree: t,
        } => {
            assert_eq!((sid, c, z), (1, conn, zxid));
            assert_eq!(s, sessions);
            assert_eq!(t.digest(), tree.digest());
            assert_eq!(t.node_count(), tree.node_count());
            assert_eq!(t.last_processed_zxid(), zxid);
            assert_eq!(t.get_data("/a/b").unwrap().0.unwrap().len(), 300_000);
        }
        other => panic!("expected the snapshot, got {other:?}"),
    }
    assert!(matches!(
        expect_packet(next(&mut learner.rx).await, 1, conn),
        ZabPacket::NewLeader { .. }
    ));
}

#[tokio::test]
async fn bad_first_packets_close_only_their_connection() {
    let mut l = leader().await;
    let (mut learner, to_learner) = join(&mut l, 4).await;

    // Plain garbage, a known packet that is not FOLLOWERINFO, and a negative server id.
    let mut garbage = vec![0xde, 0xad, 0xbe, 0xef];
    garbage.extend_from_slice(&[0xff; 60]);
    let mut ack = Vec::new();
    wire::encode_packet(&ZabPacket::Ack { zxid: 1 }, &mut ack);
    let mut negative = Vec::new();
    wire::encode_packet(&follower_info(-5), &mut negative);
    for bytes in [garbage, ack, negative] {
        let mut s = TcpStream::connect(l.addr).await.unwrap();
        s.write_all(&bytes).await.unwrap();
        let mut buf = [0u8; 16];
        // The leader hangs up: EOF or a reset, never data.
        let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap_or(0);
        assert_eq!(n, 0);
    }

    // The identified learner is unaffected and nothing was reported for the rejects.
    to_learner.send(&ZabPacket::UpToDate);
    learner.out.send(&ZabPacket::Ack { zxid: 9 });
    assert_eq!(
        expect_packet(next(&mut learner.rx).await, 1, learner.out.conn()),
        ZabPacket::UpToDate
    );
    assert_eq!(
        expect_packet(next(&mut l.rx).await, 4, to_learner.conn()),
        ZabPacket::Ack { zxid: 9 }
    );
}

#[tokio::test]
async fn garbage_after_identification_disconnects_once() {
    let mut l = leader().await;
    let mut s = TcpStream::connect(l.addr).await.unwrap();
    let mut hello = Vec::new();
    wire::encode_packet(&follower_info(8), &mut hello);
    s.write_all(&hello).await.unwrap();
    let conn = match next(&mut l.rx).await {
        PeerEvent::LearnerConnected { sid: 8, conn, .. } => conn,
        other => panic!("expected LearnerConnected, got {other:?}"),
    };
    // Type 99 does not exist: the stream cannot be resynchronised.
    s.write_all(&[
        0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
    ])
    .await
    .unwrap();
    match next(&mut l.rx).await {
        PeerEvent::Disconnected { sid: 8, conn: c } => assert_eq!(c, conn),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    drop(l.guard);
    expect_closed(&mut l.rx).await;
}

#[tokio::test]
async fn disconnects_are_reported_once_on_each_side() {
    let mut l = leader().await;
    let (mut learner, to_learner) = join(&mut l, 5).await;
    let (lconn, fconn) = (to_learner.conn(), learner.out.conn());
    learner.out.close();
    // Sends after close are dropped quietly.
    learner.out.send(&ZabPacket::Ack { zxid: 1 });
    match next(&mut learner.rx).await {
        PeerEvent::Disconnected { sid: 1, conn } => assert_eq!(conn, fconn),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    // The learner's reader thread held the only other sender.
    expect_closed(&mut learner.rx).await;
    match next(&mut l.rx).await {
        PeerEvent::Disconnected { sid: 5, conn } => assert_eq!(conn, lconn),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    to_learner.send(&ZabPacket::UpToDate);
    drop(l.guard);
    expect_closed(&mut l.rx).await;
}

#[tokio::test]
async fn dropping_the_last_sender_closes_the_connection() {
    let mut l = leader().await;
    let (mut learner, to_learner) = join(&mut l, 6).await;
    drop(to_learner);
    assert!(matches!(
        next(&mut learner.rx).await,
        PeerEvent::Disconnected { sid: 1, .. }
    ));
    assert!(matches!(
        next(&mut l.rx).await,
        PeerEvent::Disconnected { sid: 6, .. }
    ));
}

#[tokio::test]
async fn dropping_the_guard_closes_listener_and_connections() {
    let mut l = leader().await;
    let (mut a, _to_a) = join(&mut l, 2).await;
    let (mut b, _to_b) = join(&mut l, 3).await;
    let addr = l.addr;
    drop(l.guard);
    for learner in [&mut a, &mut b] {
        assert!(matches!(
            next(&mut learner.rx).await,
            PeerEvent::Disconnected { sid: 1, .. }
        ));
    }
    let mut gone = Vec::new();
    for _ in 0..2 {
        match next(&mut l.rx).await {
            PeerEvent::Disconnected { sid, .. } => gone.push(sid),
            other => panic!("expected Disconnected, got {other:?}"),
        }
    }
    gone.sort_unstable();
    assert_eq!(gone, vec![2, 3]);
    expect_closed(&mut l.rx).await;
    // The listener is closed once the accept task is gone (its sender was the last one).
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn connect_gives_up_at_the_deadline() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (tx, _rx) = unbounded_channel();
    let start = Instant::now();
    let err = connect_leader(1, addr, start + Duration::from_millis(1500), tx, MAX_LEN)
        .await
        .unwrap_err();
    match err {
        // Quick retries first, then Apache's 100 ms: many attempts before the deadline.
        TransportError::Connect { attempts, .. } => assert!(attempts >= 3, "{attempts}"),
        other => panic!("expected Connect, got {other:?}"),
    }
    // It gives up at the deadline, not before and not long after.
    assert!(
        start.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn connect_retries_until_the_leader_listens() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    drop(std_listener);
    let (tx, mut rx) = unbounded_channel();
    let dial = tokio::spawn(connect_leader(
        1,
        addr,
        Instant::now() + Duration::from_secs(8),
        tx,
        MAX_LEN,
    ));
    let listener = TcpListener::bind(addr).await.unwrap();
    let (ltx, mut lrx) = unbounded_channel();
    let _guard = serve_learners(listener, ltx, MAX_LEN);
    let out = timeout(WAIT, dial).await.unwrap().unwrap().unwrap();
    out.send(&follower_info(9));
    let to_learner = match next(&mut lrx).await {
        PeerEvent::LearnerConnected { sid: 9, out, .. } => out,
        other => panic!("expected LearnerConnected, got {other:?}"),
    };
    to_learner.send(&ZabPacket::UpToDate);
    assert_eq!(
        expect_packet(next(&mut rx).await, 1, out.conn()),
        ZabPacket::UpToDate
    );
}

/// Sends a snapshot of `nodes` one-megabyte nodes sandwiched between proposals.
async fn big_snapshot(nodes: usize) {
    let mut l = leader().await;
    let (mut learner, to_learner) = join(&mut l, 2).await;
    let names: Vec<String> = (0..nodes).map(|i| format!("/big{i:04}")).collect();
    let spec: Vec<(&str, Vec<u8>)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), vec![i as u8; MAX_LEN]))
        .collect();
    let tree = tree_with(&spec);
    let before = ZabPacket::Proposal {
        zxid: 1,
        txn: Bytes::from_static(b"before"),
    };
    let after = ZabPacket::Proposal {
        zxid: 2,
        txn: Bytes::from_static(b"after"),
    };
    to_learner.send(&before);
    to_learner.send(&ZabPacket::Snap { zxid: 77 });
    to_learner.send_snapshot(Vec::new(), tree.clone());
    to_learner.send(&after);
    let conn = learner.out.conn();
    assert_eq!(expect_packet(next(&mut learner.rx).await, 1, conn), before);
    assert_eq!(
        expect_packet(next(&mut learner.rx).await, 1, conn),
        ZabPacket::Snap { zxid: 77 }
    );
    let ev = timeout(Duration::from_secs(120), learner.rx.recv())
        .await
        .unwrap()
        .unwrap();
    match ev {
        PeerEvent::Snapshot { tree: t, .. } => {
            assert_eq!(t.node_count(), tree.node_count());
            assert_eq!(t.digest(), tree.digest());
        }
        other => panic!("expected the snapshot, got {other:?}"),
    }
    assert_eq!(expect_packet(next(&mut learner.rx).await, 1, conn), after);
}

#[tokio::test]
async fn multi_megabyte_snapshot_streams_intact() {
    big_snapshot(12).await;
}

#[tokio::test]
async fn observer_info_identifies_an_observer() {
    let mut l = leader().await;
    let mut s = TcpStream::connect(l.addr).await.unwrap();
    let hello = ZabPacket::ObserverInfo {
        zxid: 3 << 32,
        info: LearnerInfo {
            serverid: 12,
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version: 7,
        },
    };
    let mut bytes = Vec::new();
    wire::encode_packet(&hello, &mut bytes);
    s.write_all(&bytes).await.unwrap();
    match next(&mut l.rx).await {
        PeerEvent::LearnerConnected { sid, first, .. } => {
            assert_eq!(sid, 12);
            assert_eq!(first, hello);
        }
        other => panic!("expected LearnerConnected, got {other:?}"),
    }
}

/// A hand-driven leader socket, for streams our own writer would never produce.
async fn fake_leader() -> (TcpStream, Learner) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = unbounded_channel();
    let out = connect_leader(4, addr, Instant::now() + WAIT, tx, MAX_LEN)
        .await
        .unwrap();
    let (sock, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    sock.set_nodelay(true).unwrap();
    (sock, Learner { out, rx })
}

#[tokio::test]
async fn snapshot_split_into_tiny_writes_is_reassembled() {
    let (mut sock, mut learner) = fake_leader().await;
    let tree = tree_with(&[("/x", b"1".to_vec()), ("/x/y", b"22".to_vec())]);
    let mut stream = Vec::new();
    wire::encode_packet(&ZabPacket::Snap { zxid: 42 }, &mut stream);
    wire::write_snapshot(&mut stream, &[(9, 5000)], &tree).unwrap();
    wire::encode_packet(&ZabPacket::UpToDate, &mut stream);
    for chunk in stream.chunks(7) {
        sock.write_all(chunk).await.unwrap();
    }
    let conn = learner.out.conn();
    assert_eq!(
        expect_packet(next(&mut learner.rx).await, 4, conn),
        ZabPacket::Snap { zxid: 42 }
    );
    match next(&mut learner.rx).await {
        PeerEvent::Snapshot {
            sessions, tree: t, ..
        } => {
            assert_eq!(sessions, vec![(9, 5000)]);
            assert_eq!(t.digest(), tree.digest());
        }
        other => panic!("expected the snapshot, got {other:?}"),
    }
    assert_eq!(
        expect_packet(next(&mut learner.rx).await, 4, conn),
        ZabPacket::UpToDate
    );
}

#[tokio::test]
async fn truncated_snapshot_is_a_disconnect_not_a_snapshot() {
    let (mut sock, mut learner) = fake_leader().await;
    let tree = tree_with(&[("/x", vec![3u8; 1000])]);
    let mut stream = Vec::new();
    wire::encode_packet(&ZabPacket::Snap { zxid: 42 }, &mut stream);
    wire::write_snapshot(&mut stream, &[], &tree).unwrap();
    stream.truncate(stream.len() - 20);
    sock.write_all(&stream).await.unwrap();
    drop(sock);
    let conn = learner.out.conn();
    assert_eq!(
        expect_packet(next(&mut learner.rx).await, 4, conn),
        ZabPacket::Snap { zxid: 42 }
    );
    assert!(matches!(
        next(&mut learner.rx).await,
        PeerEvent::Disconnected { sid: 4, conn: c } if c == conn
    ));
}

#[tokio::test]
async fn link_stats_count_both_directions_of_a_real_connection() {
    let mut l = leader().await;
    let (mut learner, to_learner) = join(&mut l, 4).await;
    learner.out.send(&ZabPacket::Request {
        session_id: 9,
        cxid: 1,
        kind: op::CREATE,
        request: Bytes::from_static(b"r"),
        authinfo: vec![],
    });
    let pkt = expect_packet(next(&mut l.rx).await, 4, to_learner.conn());
    assert!(matches!(pkt, ZabPacket::Request { .. }), "{pkt:?}");
    to_learner.send(&ZabPacket::Proposal {
        zxid: (3 << 32) + 1,
        txn: Bytes::from_static(b"t"),
    });
    to_learner.send(&ZabPacket::Ping {
        zxid: 0,
        sessions: vec![],
    });
    for _ in 0..2 {
        expect_packet(next(&mut learner.rx).await, 1, learner.out.conn());
    }
    let s = to_learner.stats();
    assert_eq!(s.remote.map(|a| a.ip()), Some(l.addr.ip()));
    assert_ne!(
        s.remote,
        Some(l.addr),
        "the learner's end, not the listener"
    );
    assert_eq!(
        (s.packets_received, s.requests),
        (2, 1),
        "FOLLOWERINFO, REQUEST"
    );
    assert_eq!(
        (s.packets_sent, s.queued_packets, s.queued_bytes),
        (2, 0, 0)
    );
    assert_eq!(s.last_zxid, (3 << 32) + 1, "the PING carried no zxid");
    let back = learner.out.stats();
    assert_eq!(back.remote, Some(l.addr));
    assert_eq!((back.packets_sent, back.packets_received), (2, 2));
    drop(l.guard);
}

#[tokio::test]
async fn deferred_packets_leave_at_flush_in_order_and_count_one_by_one() {
    let mut l = leader().await;
    let (mut learner, to_learner) = join(&mut l, 5).await;
    let proposal = |i: i64| ZabPacket::Proposal {
        zxid: (4 << 32) + i,
        txn: Bytes::from(vec![i as u8; 10]),
    };
    to_learner.send_deferred(&proposal(1));
    to_learner.send_deferred(&proposal(2));
    // Nothing leaves before the flush: a PING sent later on the learner's side round-trips
    // while the proposals are still staged.
    learner.out.send(&ZabPacket::Ping {
        zxid: 0,
        sessions: vec![],
    });
    expect_packet(next(&mut l.rx).await, 5, to_learner.conn());
    assert!(
        learner.rx.try_recv().is_err(),
        "staged packets must wait for a flush"
    );
    assert_eq!(to_learner.stats().packets_sent, 0);
    to_learner.flush();
    // An immediate send flushes what is staged first, so order holds.
    to_learner.send_deferred(&proposal(3));
    to_learner.send(&proposal(4));
    for i in 1..=4 {
        let got = expect_packet(next(&mut learner.rx).await, 1, learner.out.conn());
        assert_eq!(got, proposal(i));
    }
    let s = to_learner.stats();
    assert_eq!(
        (s.packets_sent, s.queued_packets, s.queued_bytes),
        (4, 0, 0)
    );
    assert_eq!(s.last_zxid, (4 << 32) + 4);
    drop(l.guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_the_socket_cannot_take_at_once_queue_behind_and_arrive_in_order() {
    // The fake leader reads nothing at first, so the learner's socket buffers fill: the
    // first packets go straight into the socket, the rest wait in the writer's queue. Then
    // it reads while more are sent: sends that find room in the socket again must still
    // not overtake what is queued.
    let (mut sock, learner) = fake_leader().await;
    let request = |i: usize| ZabPacket::Request {
        session_id: i as i64,
        cxid: i as i32,
        kind: op::SET_DATA,
        request: Bytes::from(vec![i as u8; 16 * 1024]),
        authinfo: vec![],
    };
    const N: usize = 2000;
    let send = move |out: &PeerSender, i: usize| {
        if i.is_multiple_of(3) {
            out.send_deferred(&request(i));
            out.flush();
        } else {
            out.send(&request(i));
        }
    };
    for i in 0..N / 2 {
        send(&learner.out, i);
    }
    let backlog = learner.out.stats();
    assert!(
        backlog.queued_packets > 0,
        "25 MiB cannot all fit into loopback socket buffers: {backlog:?}"
    );
    let out = learner.out.clone();
    let rest = tokio::task::spawn_blocking(move || {
        for i in N / 2..N {
            send(&out, i);
        }
    });
    let mut expected = Vec::new();
    for i in 0..N {
        wire::encode_packet(&request(i), &mut expected);
    }
    let mut bytes = vec![0u8; expected.len()];
    timeout(WAIT, sock.read_exact(&mut bytes))
        .await
        .expect("stalled before every packet arrived")
        .unwrap();
    rest.await.unwrap();
    assert!(
        bytes == expected,
        "the stream differs from the packets in send order"
    );
    let s = learner.out.stats();
    assert_eq!(
        (s.packets_sent, s.queued_packets, s.queued_bytes),
        (N as u64, 0, 0)
    );
}
