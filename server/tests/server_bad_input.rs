//! Hostile bytes on raw TCP against the real `zkserver`: oversized, negative and truncated
//! frames, unknown opcodes, garbage request bodies, and the per-IP connection limit. The
//! server must close the connection or answer with an error, never crash: a normal client
//! keeps working and `ruok` still answers.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::util::{connect, open, wait_for, WAIT};
use common::zkserver::ZkServer;
use zkserver::client::{Client, ClientConfig, ClientError};
use zkserver::proto::codes::{op, CreateMode, ErrorCode};

/// A ConnectRequest frame for a new session (protocol 0, 10 s, no read-only flag).
fn connect_frame() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_be_bytes()); // protocolVersion
    body.extend_from_slice(&0i64.to_be_bytes()); // lastZxidSeen
    body.extend_from_slice(&10_000i32.to_be_bytes()); // timeOut
    body.extend_from_slice(&0i64.to_be_bytes()); // sessionId
    body.extend_from_slice(&16i32.to_be_bytes()); // passwd length
    body.extend_from_slice(&[0u8; 16]);
    body.push(0); // readOnly
    frame(&body)
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

/// Reads until EOF or error; true when the server closed the connection within [`WAIT`].
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// The server is alive and serving: `ruok`, and a fresh client can write and read.
async fn assert_healthy(zk: &ZkServer) {
    assert_eq!(
        zkserver::client::four_letter_word(&zk.addr(), "ruok")
            .await
            .unwrap(),
        "imok"
    );
    let (c, _rx) = connect(&zk.addr()).await;
    let p = c
        .create("/health-", b"ok", &open(), CreateMode::EphemeralSequential)
        .await
        .unwrap();
    assert_eq!(
        c.get_data(&p, false).await.unwrap().0.as_deref(),
        Some(&b"ok"[..])
    );
    c.close().await.unwrap();
}

#[tokio::test]
async fn bad_frames_close_the_connection_only() {
    let zk = ZkServer::builder().prop("jute.maxbuffer", 4096).start();
    let (keep, _rx) = connect(&zk.addr()).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "length > jute.maxbuffer",
            (1_000_000i32).to_be_bytes().to_vec(),
        ),
        ("huge length", i32::MAX.to_be_bytes().to_vec()),
        ("negative length", (-5i32).to_be_bytes().to_vec()),
        ("truncated ConnectRequest", frame(&[0, 0, 0, 0, 0, 0, 0])),
        ("garbage ConnectRequest", frame(&[0xff; 44])),
    ];
    for (what, bytes) in cases {
        let mut s = TcpStream::connect(zk.addr()).await.unwrap();
        s.write_all(&bytes).await.unwrap();
        assert!(closed_by_server(&mut s).await, "{what}: not closed");
        keep.exists("/", false)
            .await
            .unwrap_or_else(|e| panic!("{what}: other client broken: {e}"));
    }
    // An oversized frame after a good handshake closes that session's connection too.
    let mut s = TcpStream::connect(zk.addr()).await.unwrap();
    s.write_all(&connect_frame()).await.unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut resp = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut resp).await.unwrap();
    s.write_all(&(8192i32).to_be_bytes()).await.unwrap();
    s.write_all(&[0u8; 8192]).await.unwrap();
    assert!(closed_by_server(&mut s).await, "oversized request frame");
    // A connection that goes away mid-frame is harmless.
    let mut s = TcpStream::connect(zk.addr()).await.unwrap();
    s.write_all(&[0, 0, 0]).await.unwrap();
    drop(s);
    assert_healthy(&zk).await;
    keep.exists("/", false).await.unwrap();
}

#[tokio::test]
async fn unknown_opcode_and_garbage_bodies_get_errors() {
    let zk = ZkServer::start_default();
    let mut cfg = ClientConfig::new([zk.addr()]);
    cfg.auto_reconnect = false;
    let (c, _rx) = Client::connect(cfg.clone()).await.unwrap();
    match c.raw_request(999, &[1, 2, 3]).await {
        Ok((hdr, _)) => assert_eq!(hdr.err, ErrorCode::Unimplemented.code()),
        Err(e) => assert!(matches!(e, ClientError::ConnectionLoss), "{e}"),
    }
    let (c, _rx) = Client::connect(cfg.clone()).await.unwrap();
    match c.raw_request(op::GET_DATA, &[0xff, 0xff]).await {
        Ok((hdr, _)) => assert_eq!(hdr.err, ErrorCode::MarshallingError.code()),
        Err(e) => assert!(matches!(e, ClientError::ConnectionLoss), "{e}"),
    }
    let (c, _rx) = Client::connect(cfg.clone()).await.unwrap();
    // A create whose path length runs past the frame.
    let mut body = 1000i32.to_be_bytes().to_vec();
    body.extend_from_slice(b"/short");
    match c.raw_request(op::CREATE, &body).await {
        Ok((hdr, _)) => assert_eq!(hdr.err, ErrorCode::MarshallingError.code()),
        Err(e) => assert!(matches!(e, ClientError::ConnectionLoss), "{e}"),
    }
    assert_healthy(&zk).await;
}

#[tokio::test]
async fn max_client_cnxns_limits_connections_per_ip() {
    let zk = ZkServer::builder().cfg("maxClientCnxns", 3).start();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&zk.addr()).await);
    }
    let mut s = TcpStream::connect(zk.addr()).await.unwrap();
    // The write may already fail if the server closed first; either way it must be closed.
    let _ = s.write_all(&connect_frame()).await;
    assert!(closed_by_server(&mut s).await, "4th connection kept open");
    for (c, _) in &held {
        c.exists("/", false).await.unwrap();
    }
    // Freeing a slot lets a new connection in.
    let (c, _) = held.pop().unwrap();
    c.close().await.unwrap();
    let mut cfg = ClientConfig::new([zk.addr()]);
    cfg.connect_timeout = Duration::from_secs(2);
    wait_for("a slot frees up", || {
        let cfg = cfg.clone();
        async move { Client::connect(cfg).await.ok() }
    })
    .await;
}
