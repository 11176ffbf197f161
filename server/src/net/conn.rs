//! One client connection: a reader loop that turns frames into [`ToCore`] messages; replies
//! leave through [`super::out::ConnOut`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    // The write half until the handshake; then only the core holds it (through ConnOut),
    // so that the socket's sending side shuts down as soon as the core lets go of it.
    let mut writer = Some(wr);
    let mut connected = false;
    let mut inbuf = BytesMut::new();
    loop {
        if !fill(&mut rd, &mut inbuf, 4).await {
            break;
        }
        let len = i32::from_be_bytes([inbuf[0], inbuf[1], inbuf[2], inbuf[3]]);
        if !connected {
            if let Some(cmd) = FourLetterWord::from_u32(len as u32) {
                if let Some(wr) = writer.take() {
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
            let Some(wr) = writer.take() else { break };
            let (handle, write_task) = super::out::conn_out(wr, core.clone(), conn);
            tokio::spawn(write_task);
            if core
                .send(ToCore::Connect {
                    conn,
                    req,
                    read_only,
                    remote,
                    out: handle,
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
