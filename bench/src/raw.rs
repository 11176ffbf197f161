//! The raw-frame driver: one task per session writes jute request frames and matches the
//! replies in FIFO order, keeping `outstanding` requests in flight. It costs far less CPU per
//! request than the general-purpose client (no task, channel and oneshot per request), which
//! matters when the load generator shares 2 cores with the server under test.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
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

/// A session's requests in flight, oldest first: (xid, when it was written).
type Inflight = VecDeque<(i32, Instant)>;

fn fail(out: &mut StreamOut, msg: String) {
    out.errors += 1;
    out.first_error.get_or_insert(msg);
}

/// Matches the complete reply frames in `rbuf` with `inflight` (ZooKeeper answers a
/// session's requests in order) and records their latencies. Returns how many requests
/// were answered, or `Err` when the stream is broken and the session must stop.
fn take_replies(
    rbuf: &mut BytesMut,
    inflight: &mut Inflight,
    out: &mut StreamOut,
) -> Result<usize, ()> {
    let mut answered = 0;
    while rbuf.len() >= 4 {
        let len = i32::from_be_bytes([rbuf[0], rbuf[1], rbuf[2], rbuf[3]]);
        if !(16..=(1 << 24)).contains(&len) {
            fail(out, format!("bad reply frame length {len}"));
            return Err(());
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
            fail(out, format!("unexpected reply xid {rxid}"));
            return Err(());
        };
        if sent_xid != rxid {
            fail(out, format!("reply xid {rxid}, expected {sent_xid}"));
            return Err(());
        }
        if err == 0 {
            out.samples.push(at.elapsed().as_micros() as u64);
        } else {
            let name = ErrorCode::from_code(err).map_or(err.to_string(), |c| c.to_string());
            fail(out, format!("server returned {name}"));
        }
        answered += 1;
    }
    Ok(answered)
}

/// Reads more reply bytes; `Err` (already recorded in `out`) ends the session.
async fn read_more(
    rd: &mut OwnedReadHalf,
    rbuf: &mut BytesMut,
    out: &mut StreamOut,
) -> Result<(), ()> {
    let msg = match tokio::time::timeout(REPLY_TIMEOUT, rd.read_buf(rbuf)).await {
        Ok(Ok(0)) => "connection closed by server".to_string(),
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => format!("read: {e}"),
        Err(_) => "reply timed out".to_string(),
    };
    fail(out, msg);
    Err(())
}

/// The next request of a session's stream.
struct Sender {
    enc: Encoder,
    i: u64,
    xid: i32,
}

impl Sender {
    fn new(spec: Spec, id: u64, create_dir: Option<String>) -> Sender {
        Sender {
            enc: Encoder {
                value: bytes::Bytes::from(spec.value()),
                spec,
                key_offset: id.wrapping_mul(7919),
                create_dir,
                acl: Acl::open_unsafe(),
            },
            i: 0,
            xid: 1,
        }
    }

    fn push(&mut self, wbuf: &mut Vec<u8>, inflight: &mut Inflight) {
        self.enc.push(wbuf, self.i, self.xid);
        inflight.push_back((self.xid, Instant::now()));
        self.i += 1;
        self.xid = self.xid.wrapping_add(1).max(1);
    }

    /// Closes the session so that it does not linger until it expires.
    async fn close(&self, mut rd: OwnedReadHalf, mut wr: OwnedWriteHalf) {
        let mut close = Vec::new();
        frame(&mut close, self.xid, op::CLOSE_SESSION, &[]);
        if wr.write_all(&close).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                let mut sink = [0u8; 4096];
                while matches!(rd.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
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
    let mut sender = Sender::new(spec, id, create_dir);
    let mut out = StreamOut::default();
    let (mut rd, mut wr) = stream.into_split();
    let mut inflight = Inflight::with_capacity(outstanding);
    let mut wbuf = Vec::with_capacity(outstanding * 256);
    let mut rbuf = BytesMut::with_capacity(64 * 1024);
    for _ in 0..outstanding {
        if stop.next() {
            sender.push(&mut wbuf, &mut inflight);
        }
    }
    while !inflight.is_empty() {
        if !wbuf.is_empty() {
            if let Err(e) = wr.write_all(&wbuf).await {
                fail(&mut out, format!("write: {e}"));
                break;
            }
            wbuf.clear();
        }
        if read_more(&mut rd, &mut rbuf, &mut out).await.is_err() {
            break;
        }
        let Ok(answered) = take_replies(&mut rbuf, &mut inflight, &mut out) else {
            break;
        };
        for _ in 0..answered {
            if stop.next() {
                sender.push(&mut wbuf, &mut inflight);
            }
        }
    }
    sender.close(rd, wr).await;
    out
}

/// Drives one session open-loop at `rate` requests per second (sends do not wait for
/// replies, so every server under test is offered the same load), with at most `cap` in
/// flight. Latency is measured from the moment a request is written; the returned count
/// tells how often `cap` held a request back, i.e. the server did not keep up.
pub async fn drive_paced(
    stream: TcpStream,
    spec: Spec,
    id: u64,
    create_dir: Option<String>,
    rate: f64,
    cap: usize,
    stop: Arc<Stop>,
) -> (StreamOut, u64) {
    let mut sender = Sender::new(spec, id, create_dir);
    let mut out = StreamOut::default();
    let (mut rd, mut wr) = stream.into_split();
    let cap = cap.max(1);
    let mut inflight = Inflight::with_capacity(cap);
    let mut wbuf = Vec::with_capacity(cap * 256);
    let mut rbuf = BytesMut::with_capacity(64 * 1024);
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    // Sessions start at spread-out phases so that their sends do not all fall on one tick.
    let mut next = Instant::now() + interval.mul_f64((id % 16) as f64 / 16.0);
    let (mut sending, mut held_back) = (true, 0u64);
    while sending || !inflight.is_empty() {
        let now = Instant::now();
        while sending && next <= now {
            if inflight.len() >= cap {
                held_back += 1;
                break;
            }
            if !stop.next() {
                sending = false;
                break;
            }
            sender.push(&mut wbuf, &mut inflight);
            next += interval;
        }
        if !wbuf.is_empty() {
            if let Err(e) = wr.write_all(&wbuf).await {
                fail(&mut out, format!("write: {e}"));
                break;
            }
            wbuf.clear();
        }
        let may_send = sending && inflight.len() < cap;
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()), if may_send => {}
            r = read_more(&mut rd, &mut rbuf, &mut out), if !inflight.is_empty() => {
                if r.is_err() || take_replies(&mut rbuf, &mut inflight, &mut out).is_err() {
                    break;
                }
            }
            // Neither branch can run only when the session is done.
            else => break,
        }
    }
    sender.close(rd, wr).await;
    (out, held_back)
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
