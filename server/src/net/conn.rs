//! One client connection: a reader loop that turns frames into [`ToCore`] messages and a
//! writer task that sends what the core queues for it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::ToCore;
use crate::admin::FourLetterWord;
use crate::proto::jute::{Jute, JuteReader};
use crate::proto::records::{ConnectRequestFixed, RequestHeader};

pub type ConnId = u64;

/// Bytes read from the socket at a time: a client's pipelined requests arrive in one
/// read instead of two reads (length, then body) each.
const READ_CHUNK: usize = 16 * 1024;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

pub fn next_conn_id() -> ConnId {
    NEXT_CONN.fetch_add(1, Ordering::Relaxed)
}

/// What the core sends a connection.
#[derive(Debug)]
pub enum ToConn {
    Frame(Bytes),
    /// Flush what was queued before, then close.
    Close,
}

/// Drives one accepted socket until it closes.
pub async fn run(
    stream: TcpStream,
    remote: SocketAddr,
    core: mpsc::UnboundedSender<ToCore>,
    max_buffer: usize,
    slot: super::listener::Slot,
) {
    let conn = next_conn_id();
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let mut writer = Some((wr, out_rx));
    let mut connected = false;
    let mut inbuf = BytesMut::new();
    loop {
        if !fill(&mut rd, &mut inbuf, 4).await {
            break;
        }
        let len = i32::from_be_bytes([inbuf[0], inbuf[1], inbuf[2], inbuf[3]]);
        if !connected {
            if let Some(cmd) = FourLetterWord::from_u32(len as u32) {
                if let Some((wr, _)) = writer.take() {
                    answer_four_letter(cmd, remote, wr, &core, slot).await;
                }
                return;
            }
        }
        if len < 0 || len as usize > max_buffer {
            warn!(%remote, len, "closing connection: frame length out of range (jute.maxbuffer {max_buffer})");
            break;
        }
        if !fill(&mut rd, &mut inbuf, 4 + len as usize).await {
            break;
        }
        inbuf.advance(4);
        // The frame shares the read buffer's allocation (no copy).
        let buf = inbuf.split_to(len as usize).freeze();
        crate::metrics::metrics()
            .bytes_received_count
            .inc_by(4 + len as u64);
        if !connected {
            let mut r = JuteReader::with_max_len(buf, 2 * max_buffer);
            let req = match ConnectRequestFixed::read_from(&mut r) {
                Ok(req) => req,
                Err(e) => {
                    warn!(%remote, "closing connection: bad ConnectRequest: {e}");
                    break;
                }
            };
            let read_only = if r.is_empty() {
                None
            } else {
                r.read_bool("readOnly").ok()
            };
            connected = true;
            if let Some((wr, rx)) = writer.take() {
                tokio::spawn(write_loop(wr, rx, core.clone(), conn));
            }
            if core
                .send(ToCore::Connect {
                    conn,
                    req,
                    read_only,
                    remote,
                    out: out_tx.clone(),
                })
                .is_err()
            {
                break;
            }
            continue;
        }
        let mut r = JuteReader::new(buf);
        let Ok(hdr) = RequestHeader::read_from(&mut r) else {
            warn!(%remote, "closing connection: frame too short for a request header");
            break;
        };
        let body = r.take_rest();
        if core
            .send(ToCore::Request {
                conn,
                xid: hdr.xid,
                op: hdr.op,
                body,
            })
            .is_err()
        {
            break;
        }
    }
    debug!(%remote, conn, "connection closed");
    if connected {
        let _ = out_tx.send(ToConn::Close);
    }
    let _ = core.send(ToCore::Closed { conn });
}

/// Reads until `buf` holds at least `want` bytes; false on EOF or error.
async fn fill(rd: &mut OwnedReadHalf, buf: &mut BytesMut, want: usize) -> bool {
    while buf.len() < want {
        let room = READ_CHUNK.max(want - buf.len());
        if buf.capacity() - buf.len() < room {
            buf.reserve(room);
        }
        match rd.read_buf(buf).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
    true
}

async fn answer_four_letter(
    cmd: FourLetterWord,
    remote: std::net::SocketAddr,
    mut wr: OwnedWriteHalf,
    core: &mpsc::UnboundedSender<ToCore>,
    slot: super::listener::Slot,
) {
    let (tx, rx) = oneshot::channel();
    if core
        .send(ToCore::FourLetter {
            cmd,
            remote,
            reply: tx,
        })
        .is_err()
    {
        return;
    }
    if let Ok(text) = rx.await {
        let _ = wr.write_all(text.as_bytes()).await;
        drop(slot);
        let _ = wr.shutdown().await;
    }
}

/// Writes queued frames, flushing when the queue runs dry so bursts go out in few syscalls.
async fn write_loop(
    wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<ToConn>,
    core: mpsc::UnboundedSender<ToCore>,
    conn: ConnId,
) {
    let mut w = BufWriter::with_capacity(64 * 1024, wr);
    'outer: while let Some(msg) = rx.recv().await {
        let mut next = Some(msg);
        while let Some(m) = next.take() {
            match m {
                ToConn::Frame(b) => {
                    if w.write_all(&b).await.is_err() {
                        break 'outer;
                    }
                    crate::metrics::metrics()
                        .response_bytes
                        .inc_by(b.len() as u64);
                }
                ToConn::Close => {
                    let _ = w.flush().await;
                    let _ = w.get_mut().shutdown().await;
                    break 'outer;
                }
            }
            next = rx.try_recv().ok();
        }
        if w.flush().await.is_err() {
            break;
        }
    }
    // Make the reader side notice too: the core forgets the connection on Closed.
    let _ = core.send(ToCore::Closed { conn });
}
