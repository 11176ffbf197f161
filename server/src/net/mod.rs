//! Client connections: framing, the connect handshake, 4-letter words, per-address limits.
//! A connection task only moves frames; every decision is the core's.

mod conn;
mod listener;
mod out;

pub use conn::ConnId;
pub use listener::{serve, ListenerConfig};
pub use out::ConnOut;

use bytes::Bytes;
use std::net::SocketAddr;
use tokio::sync::oneshot;

use crate::proto::records::ConnectRequestFixed;

/// What connections tell the core.
#[derive(Debug)]
pub enum ToCore {
    /// The first frame: a ConnectRequest. `read_only` is `None` when the client did not send the byte.
    Connect {
        conn: ConnId,
        req: ConnectRequestFixed,
        read_only: Option<bool>,
        remote: SocketAddr,
        out: ConnOut,
    },
    /// Any later frame: the header's xid and op, and the record bytes.
    Request {
        conn: ConnId,
        xid: i32,
        op: i32,
        body: Bytes,
    },
    /// The connection is gone (EOF, error, or closed by us).
    Closed { conn: ConnId },
    /// A 4-letter word; the answer text goes back on `reply`.
    FourLetter {
        cmd: crate::admin::FourLetterWord,
        /// The asking connection: Apache counts and lists it like any other.
        remote: std::net::SocketAddr,
        reply: oneshot::Sender<String>,
    },
    /// A snapshot of the server's state for the AdminServer and `/metrics`: the lists
    /// `cmd` needs are filled, and `crst`/`srst` reset their counters first. Unlike the
    /// 4-letter word, no asking connection is counted and no whitelist applies.
    Info {
        cmd: crate::admin::FourLetterWord,
        reply: oneshot::Sender<crate::admin::ServerInfo>,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    fn request(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
        let mut p = xid.to_be_bytes().to_vec();
        p.extend_from_slice(&op.to_be_bytes());
        p.extend_from_slice(body);
        framed(&p)
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<ToCore>) -> ToCore {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a message in time")
            .expect("channel open")
    }

    #[tokio::test]
    async fn frames_are_cut_out_of_any_split_of_the_byte_stream() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let cfg = ListenerConfig {
            max_client_cnxns: 0,
            max_buffer: 1 << 20,
        };
        tokio::spawn(serve(listener, cfg, tx));
        let mut c = TcpStream::connect(addr).await.unwrap();
        // ConnectRequest, then three pipelined requests, all in one write.
        let mut connect = Vec::new();
        connect.extend_from_slice(&0i32.to_be_bytes());
        connect.extend_from_slice(&0i64.to_be_bytes());
        connect.extend_from_slice(&30_000i32.to_be_bytes());
        connect.extend_from_slice(&0i64.to_be_bytes());
        connect.extend_from_slice(&16i32.to_be_bytes());
        connect.extend_from_slice(&[0; 16]);
        let mut burst = framed(&connect);
        for xid in 1..=3 {
            burst.extend(request(xid, 4, &[xid as u8; 7]));
        }
        c.write_all(&burst).await.unwrap();
        assert!(matches!(next(&mut rx).await, ToCore::Connect { .. }));
        for want in 1..=3 {
            match next(&mut rx).await {
                ToCore::Request { xid, op, body, .. } => {
                    assert_eq!((xid, op), (want, 4));
                    assert_eq!(&body[..], &[want as u8; 7]);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // A request far larger than one read, dribbled in pieces that cut the length too.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let mut bytes = request(9, 5, &big);
        bytes.extend(request(10, 4, b"tail"));
        for piece in bytes.chunks(7919) {
            c.write_all(piece).await.unwrap();
            c.flush().await.unwrap();
        }
        match next(&mut rx).await {
            ToCore::Request { xid, op, body, .. } => {
                assert_eq!((xid, op), (9, 5));
                assert_eq!(&body[..], &big[..]);
            }
            other => panic!("unexpected {other:?}"),
        }
        match next(&mut rx).await {
            ToCore::Request { xid, body, .. } => assert_eq!((xid, &body[..]), (10, &b"tail"[..])),
            other => panic!("unexpected {other:?}"),
        }
        // A length above jute.maxbuffer closes the connection.
        c.write_all(&(2i32 << 20).to_be_bytes()).await.unwrap();
        assert!(matches!(next(&mut rx).await, ToCore::Closed { .. }));
    }
}
