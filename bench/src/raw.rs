//! The raw-frame driver: one task per session writes jute request frames and matches the
//! replies in FIFO order, keeping `outstanding` requests in flight. It costs far less CPU per
//! request than the general-purpose client (no task, channel and oneshot per request), which
//! matters when the load generator shares 2 cores with the server under test.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zkserver::proto::codes::{op, ErrorCode};
use zkserver::proto::jute::{Jute, JuteWrite};
use zkserver::proto::records::{
    Acl, ConnectRequestFixed, CreateRequest, PathWatchRequest, RequestHeader, SetDataRequest,
};

use crate::error::BenchError;
use crate::load::{Stop, StreamOut};
use crate::workload::{OpKind, Spec};

/// A reply not arriving within this long fails the session's stream.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

fn frame(out: &mut Vec<u8>, xid: i32, code: i32, body: &[u8]) {
    out.put_i32((8 + body.len()) as i32);
    RequestHeader { xid, op: code }.write_to(out);
    out.put_slice(body);
}

/// Opens a TCP connection and a new session (30 s timeout) on it.
pub async fn open(target: &str, limit: Duration) -> Result<TcpStream, BenchError> {
    let mut s = tokio::time::timeout(limit, TcpStream::connect(target))
        .await
        .map_err(|_| BenchError::Invalid(format!("connect to {target} timed out")))??;
    s.set_nodelay(true)?;
    let mut body = Vec::new();
    ConnectRequestFixed {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: 30_000,
        session_id: 0,
        passwd: Some(bytes::Bytes::from_static(&[0u8; 16])),
    }
    .write_to(&mut body);
    body.put_bool_j(false);
    let mut req = Vec::with_capacity(body.len() + 4);
    req.put_i32(body.len() as i32);
    req.put_slice(&body);
    s.write_all(&req).await?;
    let resp = tokio::time::timeout(limit, async {
        let n = s.read_i32().await?;
        if !(8..=4096).contains(&n) {
            return Err(BenchError::Invalid(format!(
                "bad ConnectResponse length {n}"
            )));
        }
        let mut buf = vec![0u8; n as usize];
        s.read_exact(&mut buf).await?;
        Ok(buf)
    })
    .await
    .map_err(|_| BenchError::Invalid(format!("handshake with {target} timed out")))??;
    let timeout = i32::from_be_bytes([resp[4], resp[5], resp[6], resp[7]]);
    if timeout <= 0 {
        return Err(BenchError::Invalid(format!("{target} refused the session")));
    }
    Ok(s)
}

/// Encodes request number `i` of a session's stream.
struct Encoder {
    spec: Spec,
    value: bytes::Bytes,
    key_offset: u64,
    create_dir: Option<String>,
    acl: Vec<Acl>,
}

impl Encoder {
    fn push(&self, out: &mut Vec<u8>, i: u64, xid: i32) {
        let key = || {
            self.spec
                .key_path(self.key_offset.wrapping_add(i.wrapping_mul(31)))
        };
        match self.spec.op_for(i) {
            OpKind::GetData | OpKind::Exists => {
                let code = if self.spec.op_for(i) == OpKind::Exists {
                    op::EXISTS
                } else {
                    op::GET_DATA
                };
                let body = PathWatchRequest {
                    path: key(),
                    watch: false,
                }
                .to_bytes();
                frame(out, xid, code, &body);
            }
            OpKind::SetData => {
                let body = SetDataRequest {
                    path: key(),
                    data: Some(self.value.clone()),
                    version: -1,
                }
                .to_bytes();
                frame(out, xid, op::SET_DATA, &body);
            }
            OpKind::Create => {
                let parent = self.create_dir.as_deref().unwrap_or(crate::workload::ROOT);
                let body = CreateRequest {
                    path: format!("{parent}/n{i}"),
                    data: Some(self.value.clone()),
                    acl: self.acl.clone(),
                    flags: 0,
                }
                .to_bytes();
                frame(out, xid, op::CREATE, &body);
            }
        }
    }
}

/// Drives one session: keeps `outstanding` requests in flight until `stop` says the run is
/// over, then closes the session.
pub async fn drive(
    stream: TcpStream,
    spec: Spec,
    id: u64,
    create_dir: Option<String>,
    outstanding: usize,
    stop: Arc<Stop>,
) -> StreamOut {
    let enc = Encoder {
        value: bytes::Bytes::from(spec.value()),
        spec,
        key_offset: id.wrapping_mul(7919),
        create_dir,
        acl: Acl::open_unsafe(),
    };
    let mut out = StreamOut::default();
    let (mut rd, mut wr) = stream.into_split();
    let mut inflight: VecDeque<(i32, Instant)> = VecDeque::with_capacity(outstanding);
    let mut wbuf = Vec::with_capacity(outstanding * 256);
    let mut rbuf = BytesMut::with_capacity(64 * 1024);
    let (mut i, mut xid) = (0u64, 1i32);
    let mut send = |wbuf: &mut Vec<u8>, inflight: &mut VecDeque<(i32, Instant)>| {
        if !stop.next() {
            return;
        }
        enc.push(wbuf, i, xid);
        inflight.push_back((xid, Instant::now()));
        i += 1;
        xid = xid.wrapping_add(1).max(1);
    };
    for _ in 0..outstanding {
        send(&mut wbuf, &mut inflight);
    }
    let fail = |out: &mut StreamOut, msg: String| {
        out.errors += 1;
        out.first_error.get_or_insert(msg);
    };
    'run: while !inflight.is_empty() {
        if !wbuf.is_empty() {
            if let Err(e) = wr.write_all(&wbuf).await {
                fail(&mut out, format!("write: {e}"));
                break;
            }
            wbuf.clear();
        }
        match tokio::time::timeout(REPLY_TIMEOUT, rd.read_buf(&mut rbuf)).await {
            Ok(Ok(0)) => {
                fail(&mut out, "connection closed by server".into());
                break;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                fail(&mut out, format!("read: {e}"));
                break;
            }
            Err(_) => {
                fail(&mut out, "reply timed out".into());
                break;
            }
        }
        while rbuf.len() >= 4 {
            let len = i32::from_be_bytes([rbuf[0], rbuf[1], rbuf[2], rbuf[3]]);
            if !(16..=(1 << 24)).contains(&len) {
                fail(&mut out, format!("bad reply frame length {len}"));
                break 'run;
            }
            if rbuf.len() < 4 + len as usize {
                break;
            }
            let mut f = rbuf.split_to(4 + len as usize);
            f.advance(4);
            let (rxid, _zxid, err) = (f.get_i32(), f.get_i64(), f.get_i32());
            if rxid < 0 {
                continue; // notification or ping reply
            }
            let Some((sent_xid, at)) = inflight.pop_front() else {
                fail(&mut out, format!("unexpected reply xid {rxid}"));
                break 'run;
            };
            if sent_xid != rxid {
                fail(&mut out, format!("reply xid {rxid}, expected {sent_xid}"));
                break 'run;
            }
            if err == 0 {
                out.samples.push(at.elapsed().as_micros() as u64);
            } else {
                let name = ErrorCode::from_code(err).map_or(err.to_string(), |c| c.to_string());
                fail(&mut out, format!("server returned {name}"));
            }
            send(&mut wbuf, &mut inflight);
        }
    }
    // Close the session so that it does not linger until it expires.
    let mut close = Vec::new();
    frame(&mut close, xid, op::CLOSE_SESSION, &[]);
    if wr.write_all(&close).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let mut sink = [0u8; 4096];
            while matches!(rd.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
    out
}

/// Opens a session on `target`, sends one request and tells whether it was answered without
/// error, all within `limit`. Used to time how soon a server serves again.
pub async fn probe(target: &str, code: i32, body: &[u8], limit: Duration) -> bool {
    let attempt = async {
        let mut s = open(target, limit).await.ok()?;
        let mut req = Vec::new();
        frame(&mut req, 1, code, body);
        s.write_all(&req).await.ok()?;
        loop {
            let n = s.read_i32().await.ok()?;
            if !(16..=(1 << 24)).contains(&n) {
                return None;
            }
            let mut buf = vec![0u8; n as usize];
            s.read_exact(&mut buf).await.ok()?;
            let xid = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            if xid == 1 {
                let err = i32::from_be_bytes([buf[12], buf[13], buf[14], buf[15]]);
                return Some(err == 0);
            }
        }
    };
    matches!(tokio::time::timeout(limit, attempt).await, Ok(Some(true)))
}

/// A getData request body for `path`.
pub fn get_data_body(path: &str) -> Vec<u8> {
    PathWatchRequest {
        path: path.to_string(),
        watch: false,
    }
    .to_bytes()
}
