//! Client behaviour against a scripted fake server on loopback: pipelining, xid order,
//! notifications, pings, expiry, malformed frames, auth failure and reconnect replay.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::{BufMut, Bytes};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::frame::read_frame;
use super::*;
use crate::proto::codes::{event, op, ErrorCode};
use crate::proto::jute::{Jute, JuteReader};
use crate::proto::records::{
    AuthPacket, ConnectRequestFixed, ConnectResponseFixed, GetDataResponse, PathWatchRequest,
    ReplyHeader, RequestHeader, SetWatches, Stat, WatcherEvent,
};

const WAIT: Duration = Duration::from_secs(5);

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap().to_string();
    (l, a)
}

fn cfg(addr: &str, timeout_ms: u64) -> ClientConfig {
    let mut c = ClientConfig::new([addr]);
    c.session_timeout = Duration::from_millis(timeout_ms);
    c
}

/// Accepts one connection and answers its ConnectRequest; returns the socket and the request.
async fn accept(l: &TcpListener, timeout: i32, session: i64) -> (TcpStream, ConnectRequestFixed) {
    let (mut s, _) = tokio::time::timeout(WAIT, l.accept())
        .await
        .unwrap()
        .unwrap();
    let f = read_frame(&mut s, 1 << 20).await.unwrap();
    let mut r = JuteReader::new(f);
    let req = ConnectRequestFixed::read_from(&mut r).unwrap();
    assert_eq!(r.remaining(), 1, "readOnly byte is sent");
    let mut body = Vec::new();
    ConnectResponseFixed {
        protocol_version: 0,
        time_out: timeout,
        session_id: session,
        passwd: Some(Bytes::from_static(&[5; 16])),
    }
    .write_to(&mut body);
    body.put_u8(0);
    send_frame(&mut s, &body).await;
    (s, req)
}

async fn send_frame(s: &mut TcpStream, body: &[u8]) {
    let mut f = Vec::new();
    f.put_i32(body.len() as i32);
    f.put_slice(body);
    s.write_all(&f).await.unwrap();
}

async fn read_req(s: &mut TcpStream) -> (RequestHeader, Bytes) {
    let f = tokio::time::timeout(WAIT, read_frame(s, 1 << 20))
        .await
        .unwrap()
        .unwrap();
    let mut r = JuteReader::new(f);
    let h = RequestHeader::read_from(&mut r).unwrap();
    (h, r.take_rest())
}

/// Reads requests until one that is not a ping.
async fn read_non_ping(s: &mut TcpStream) -> (RequestHeader, Bytes) {
    for _ in 0..100 {
        let (h, b) = read_req(s).await;
        if h.op != op::PING {
            return (h, b);
        }
    }
    panic!("only pings");
}

async fn reply(s: &mut TcpStream, xid: i32, zxid: i64, err: i32, body: &[u8]) {
    let mut f = Vec::new();
    ReplyHeader { xid, zxid, err }.write_to(&mut f);
    f.put_slice(body);
    send_frame(s, &f).await;
}

fn data_reply(data: &[u8], version: i32) -> Vec<u8> {
    GetDataResponse {
        data: Some(Bytes::copy_from_slice(data)),
        stat: Stat {
            version,
            ..Stat::default()
        },
    }
    .to_bytes()
}

async fn next_event(rx: &mut tokio::sync::mpsc::UnboundedReceiver<WatchedEvent>) -> WatchedEvent {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn pipelined_requests_are_matched_in_order() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, req) = accept(&l, 30000, 77).await;
        assert_eq!(req.session_id, 0);
        assert_eq!(req.time_out, 30000);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let (h, b) = read_non_ping(&mut s).await;
            assert_eq!(h.op, op::GET_DATA);
            seen.push((h.xid, PathWatchRequest::from_bytes(b).unwrap().path));
        }
        assert!(
            seen.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "xids increase"
        );
        for (xid, path) in &seen {
            reply(&mut s, *xid, 10, 0, &data_reply(path.as_bytes(), *xid)).await;
        }
        s
    });
    let (c, _rx) = Client::connect(cfg(&addr, 30000)).await.unwrap();
    assert_eq!(c.session_id(), 77);
    assert_eq!(c.session_password(), vec![5; 16]);
    assert_eq!(c.negotiated_timeout(), Duration::from_secs(30));
    let (a, b, d) = tokio::join!(
        c.get_data("/a", false),
        c.get_data("/b", false),
        c.get_data("/c", false)
    );
    assert_eq!(a.unwrap().0.unwrap(), b"/a");
    assert_eq!(b.unwrap().0.unwrap(), b"/b");
    assert_eq!(d.unwrap().0.unwrap(), b"/c");
    assert_eq!(c.last_zxid(), 10);
    drop(server.await.unwrap());
}

#[tokio::test]
async fn out_of_order_xid_drops_the_connection() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(&l, 30000, 1).await;
        let (h1, _) = read_non_ping(&mut s).await;
        let (h2, _) = read_non_ping(&mut s).await;
        reply(&mut s, h2.xid, 1, 0, &data_reply(b"x", 0)).await;
        let _ = h1;
        s
    });
    let mut conf = cfg(&addr, 30000);
    conf.auto_reconnect = false;
    let (c, mut rx) = Client::connect(conf).await.unwrap();
    let (a, b) = tokio::join!(c.get_data("/a", false), c.get_data("/b", false));
    assert!(
        matches!(&a, Err(ClientError::Protocol(m)) if m.contains("out of order")),
        "{a:?}"
    );
    assert!(matches!(b, Err(ClientError::Protocol(_))));
    let ev = next_event(&mut rx).await;
    assert_eq!(
        (ev.kind, ev.state),
        (event::NONE, keeper_state::DISCONNECTED)
    );
    assert_eq!(c.state(), State::Disconnected);
    assert!(matches!(
        c.exists("/a", false).await,
        Err(ClientError::ConnectionLoss)
    ));
    drop(server.await.unwrap());
}

#[tokio::test]
async fn notifications_reach_the_channel_with_chroot_removed() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(&l, 30000, 1).await;
        let (h, b) = read_non_ping(&mut s).await;
        assert_eq!(h.op, op::EXISTS);
        let req = PathWatchRequest::from_bytes(b).unwrap();
        assert_eq!((req.path.as_str(), req.watch), ("/app/n", true));
        reply(&mut s, h.xid, 5, ErrorCode::NoNode.code(), &[]).await;
        let ev = WatcherEvent {
            kind: event::NODE_CREATED,
            state: 3,
            path: "/app/n".into(),
        };
        reply(&mut s, -1, 6, 0, &ev.to_bytes()).await;
        s
    });
    let (c, mut rx) = Client::connect(cfg(&addr, 30000).with_chroot("/app"))
        .await
        .unwrap();
    assert_eq!(c.exists("/n", true).await.unwrap(), None);
    let ev = next_event(&mut rx).await;
    assert_eq!(
        ev,
        WatchedEvent {
            kind: event::NODE_CREATED,
            state: 3,
            path: "/n".into(),
            zxid: 6
        }
    );
    drop(server.await.unwrap());
}

#[tokio::test]
async fn idle_client_pings() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(&l, 600, 1).await;
        let (h, b) = read_req(&mut s).await;
        assert_eq!((h.xid, h.op), (-2, op::PING));
        assert!(b.is_empty());
        reply(&mut s, -2, 0, 0, &[]).await;
        s
    });
    let (_c, _rx) = Client::connect(cfg(&addr, 600)).await.unwrap();
    drop(server.await.unwrap());
}

#[tokio::test]
async fn silent_server_is_detected_by_read_timeout() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move { accept(&l, 300, 1).await.0 });
    let mut conf = cfg(&addr, 300);
    conf.auto_reconnect = false;
    let (c, mut rx) = Client::connect(conf).await.unwrap();
    let _s = server.await.unwrap();
    let ev = next_event(&mut rx).await;
    assert_eq!(ev.state, keeper_state::DISCONNECTED);
    assert_eq!(c.state(), State::Disconnected);
}

#[tokio::test]
async fn zero_timeout_means_session_expired() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move { accept(&l, 0, 0).await.0 });
    let r = Client::reconnect_with_session(cfg(&addr, 30000), 99, &[1; 16]).await;
    assert!(matches!(r, Err(ClientError::SessionExpired)));
    drop(server.await.unwrap());
}

#[tokio::test]
async fn malformed_frame_fails_pending_requests() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(&l, 30000, 1).await;
        let _ = read_non_ping(&mut s).await;
        send_frame(&mut s, &[0, 0, 0]).await; // shorter than a ReplyHeader
        s
    });
    let mut conf = cfg(&addr, 30000);
    conf.auto_reconnect = false;
    let (c, _rx) = Client::connect(conf).await.unwrap();
    assert!(matches!(
        c.get_data("/a", false).await,
        Err(ClientError::Protocol(_))
    ));
    assert_eq!(c.state(), State::Disconnected);
    drop(server.await.unwrap());
}

#[tokio::test]
async fn requests_made_while_reconnecting_are_sent_after_it() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (s, _) = accept(&l, 30000, 8).await;
        drop(s);
        // Delay the second handshake so the request below is made while reconnecting.
        let (mut s, req) = accept(&l, 30000, 8).await;
        assert_eq!(req.session_id, 8);
        let (h, b) = read_non_ping(&mut s).await;
        assert_eq!(PathWatchRequest::from_bytes(b).unwrap().path, "/late");
        reply(&mut s, h.xid, 1, 0, &data_reply(b"ok", 0)).await;
        s
    });
    let (c, mut rx) = Client::connect(cfg(&addr, 30000)).await.unwrap();
    assert_eq!(next_event(&mut rx).await.state, keeper_state::DISCONNECTED);
    let (d, _) = c.get_data("/late", false).await.unwrap();
    assert_eq!(d.unwrap(), b"ok");
    drop(server.await.unwrap());
}

#[tokio::test]
async fn auth_failure_is_final() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(&l, 30000, 1).await;
        let (h, b) = read_non_ping(&mut s).await;
        assert_eq!((h.xid, h.op), (-4, op::AUTH));
        let a = AuthPacket::from_bytes(b).unwrap();
        assert_eq!(a.scheme, "digest");
        reply(&mut s, -4, 0, ErrorCode::AuthFailed.code(), &[]).await;
        s
    });
    let (c, mut rx) = Client::connect(cfg(&addr, 30000)).await.unwrap();
    let r = c.add_auth("digest", b"u:p").await;
    assert!(r.unwrap_err().is_api(ErrorCode::AuthFailed));
    assert_eq!(next_event(&mut rx).await.state, keeper_state::AUTH_FAILED);
    assert!(c
        .get_data("/", false)
        .await
        .unwrap_err()
        .is_api(ErrorCode::AuthFailed));
    drop(server.await.unwrap());
}

#[tokio::test]
async fn reconnect_resumes_session_and_replays_auth_and_watches() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(&l, 30000, 42).await;
        let (h, _) = read_non_ping(&mut s).await;
        assert_eq!(h.xid, -4);
        reply(&mut s, -4, 0, 0, &[]).await;
        let (h, _) = read_non_ping(&mut s).await;
        assert_eq!(h.op, op::GET_DATA);
        reply(&mut s, h.xid, 0x20, 0, &data_reply(b"v", 1)).await;
        drop(s);
        // Second connection: same session, auth first, then SetWatches relative to 0x20.
        let (mut s, req) = accept(&l, 30000, 42).await;
        assert_eq!(req.session_id, 42);
        assert_eq!(req.passwd.as_deref(), Some(&[5u8; 16][..]));
        assert_eq!(req.last_zxid_seen, 0x20);
        let (h, b) = read_non_ping(&mut s).await;
        assert_eq!(h.xid, -4);
        assert_eq!(
            AuthPacket::from_bytes(b).unwrap().auth.unwrap(),
            &b"u:p"[..]
        );
        reply(&mut s, -4, 0, 0, &[]).await;
        let (h, b) = read_non_ping(&mut s).await;
        assert_eq!((h.xid, h.op), (-8, op::SET_WATCHES));
        let sw = SetWatches::from_bytes(b).unwrap();
        assert_eq!(sw.relative_zxid, 0x20);
        assert_eq!(sw.data_watches, vec!["/w"]);
        reply(&mut s, -8, 0x20, 0, &[]).await;
        let (h, _) = read_non_ping(&mut s).await;
        assert_eq!(h.op, op::GET_DATA);
        reply(&mut s, h.xid, 0x21, 0, &data_reply(b"again", 2)).await;
        s
    });
    let (c, mut rx) = Client::connect(cfg(&addr, 30000)).await.unwrap();
    c.add_auth("digest", b"u:p").await.unwrap();
    c.get_data("/w", true).await.unwrap();
    assert_eq!(next_event(&mut rx).await.state, keeper_state::DISCONNECTED);
    assert_eq!(
        next_event(&mut rx).await.state,
        keeper_state::SYNC_CONNECTED
    );
    assert_eq!(c.state(), State::Connected);
    let (d, st) = c.get_data("/w", false).await.unwrap();
    assert_eq!((d.unwrap(), st.version), (b"again".to_vec(), 2));
    drop(server.await.unwrap());
}

#[tokio::test]
async fn unreachable_ensemble_expires_the_session_locally() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move { accept(&l, 400, 3).await.0 });
    let (c, mut rx) = Client::connect(cfg(&addr, 400)).await.unwrap();
    drop(server.await.unwrap()); // also drops the listener: reconnects are refused
    assert_eq!(next_event(&mut rx).await.state, keeper_state::DISCONNECTED);
    assert_eq!(next_event(&mut rx).await.state, keeper_state::EXPIRED);
    assert_eq!(c.state(), State::Expired);
    assert!(matches!(
        c.get_data("/", false).await,
        Err(ClientError::SessionExpired)
    ));
}

#[tokio::test]
async fn close_sends_close_session() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(&l, 30000, 1).await;
        let (h, b) = read_non_ping(&mut s).await;
        assert_eq!(h.op, op::CLOSE_SESSION);
        assert!(b.is_empty());
        reply(&mut s, h.xid, 3, 0, &[]).await;
    });
    let (c, _rx) = Client::connect(cfg(&addr, 30000)).await.unwrap();
    let c2 = c.clone();
    c.close().await.unwrap();
    server.await.unwrap();
    assert_eq!(c2.state(), State::Closed);
    assert!(matches!(
        c2.get_data("/", false).await,
        Err(ClientError::Closed)
    ));
}
