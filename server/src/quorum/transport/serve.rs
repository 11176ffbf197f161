//! Leader side: accept learners on the quorum port, learn each one's sid from its first
//! packet, then hand the connection to the server core.

use std::collections::HashMap;
use std::io::BufReader;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::peer::{into_blocking, start_writer, Outgoing, ReadSide, IO_BUFFER};
use super::wire::read_packet;
use super::{next_conn_id, PeerEvent, Sid, TransportError};
use crate::proto::quorum::{Direction, ZabPacket};

/// How long a new connection may take to send its first packet (Apache reads it under the
/// initLimit*tickTime socket timeout; 10 × 2 s by default).
const FIRST_PACKET_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause after a failed accept (out of descriptors, ...) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Every connection the listener accepted and that is still open, so that dropping the
/// guard can close them all.
#[derive(Default)]
struct Registry {
    stopped: bool,
    conns: HashMap<u64, TcpStream>,
}

type SharedRegistry = Arc<Mutex<Registry>>;

/// Keeps the quorum listener running. Dropping it closes the listener and every
/// connection it accepted (each identified one then reports Disconnected).
pub struct ServeGuard {
    accept: JoinHandle<()>,
    registry: SharedRegistry,
}

impl Drop for ServeGuard {
    fn drop(&mut self) {
        self.accept.abort();
        let mut reg = self.registry.lock();
        reg.stopped = true;
        for sock in reg.conns.values() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        reg.conns.clear();
    }
}

/// Leader: accepts learners on the quorum port until the returned guard is dropped (then
/// the listener and every connection it accepted close). Reads the first packet to learn
/// the sid; a connection whose first packet is not FOLLOWERINFO/OBSERVERINFO, or that sends
/// garbage, is closed without crashing anything. `max_len` bounds every buffer and string
/// read from a learner. Must be called within a tokio runtime.
pub fn serve_learners(
    listener: TcpListener,
    events: UnboundedSender<PeerEvent>,
    max_len: usize,
) -> ServeGuard {
    let registry = SharedRegistry::default();
    let accept = tokio::spawn(accept_loop(listener, events, max_len, registry.clone()));
    ServeGuard { accept, registry }
}

async fn accept_loop(
    listener: TcpListener,
    events: UnboundedSender<PeerEvent>,
    max_len: usize,
    registry: SharedRegistry,
) {
    loop {
        if events.is_closed() {
            return;
        }
        match listener.accept().await {
            Ok((stream, peer)) => {
                tracing::debug!(%peer, "quorum connection accepted");
                if let Err(e) = adopt(stream, &events, max_len, &registry) {
                    tracing::warn!(%peer, error = %e, "could not start quorum connection");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "quorum accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Registers an accepted connection and starts its reader thread.
fn adopt(
    stream: tokio::net::TcpStream,
    events: &UnboundedSender<PeerEvent>,
    max_len: usize,
    registry: &SharedRegistry,
) -> std::io::Result<()> {
    let sock = into_blocking(stream)?;
    let conn = next_conn_id();
    {
        let mut reg = registry.lock();
        if reg.stopped {
            let _ = sock.shutdown(Shutdown::Both);
            return Ok(());
        }
        reg.conns.insert(conn, sock.try_clone()?);
    }
    let events = events.clone();
    let reg = registry.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("zk-quorum-r{conn}"))
        .spawn({
            let sock = sock.try_clone()?;
            move || {
                serve_one(sock, conn, events, max_len);
                reg.lock().conns.remove(&conn);
            }
        });
    if let Err(e) = spawned {
        registry.lock().conns.remove(&conn);
        let _ = sock.shutdown(Shutdown::Both);
        return Err(e);
    }
    Ok(())
}

/// The reader thread of one learner connection.
fn serve_one(sock: TcpStream, conn: u64, events: UnboundedSender<PeerEvent>, max_len: usize) {
    let mut reader = match sock.try_clone() {
        Ok(s) => BufReader::with_capacity(IO_BUFFER, s),
        Err(e) => {
            tracing::warn!(conn, error = %e, "quorum connection unusable");
            let _ = sock.shutdown(Shutdown::Both);
            return;
        }
    };
    let (sid, first) = match identify(&sock, &mut reader, max_len) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(conn, error = %e, "rejecting quorum connection");
            let _ = sock.shutdown(Shutdown::Both);
            return;
        }
    };
    let (out, stop) = match start_writer(&sock, conn) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(conn, error = %e, "could not start quorum writer");
            let _ = sock.shutdown(Shutdown::Both);
            return;
        }
    };
    tracing::info!(sid, conn, "learner connected");
    let counters = out.counters();
    counters.received(false);
    let side = ReadSide {
        sid,
        conn,
        dir: Direction::ToLeader,
        max_len,
        events,
        counters,
    };
    let connected = side
        .events
        .send(PeerEvent::LearnerConnected {
            sid,
            conn,
            out,
            first,
        })
        .is_ok();
    if connected {
        if let Err(e) = side.run(&mut reader) {
            tracing::info!(sid, conn, error = %e, "learner connection ended");
        }
        side.disconnected();
    }
    let _ = stop.send(Outgoing::Stop);
    let _ = sock.shutdown(Shutdown::Both);
}

/// Reads the first packet under a timeout and extracts the learner's sid.
fn identify(
    sock: &TcpStream,
    reader: &mut BufReader<TcpStream>,
    max_len: usize,
) -> Result<(Sid, ZabPacket), TransportError> {
    sock.set_read_timeout(Some(FIRST_PACKET_TIMEOUT))?;
    let first = read_packet(reader, Direction::ToLeader, max_len)?;
    let serverid = match &first {
        ZabPacket::FollowerInfo { info, .. } | ZabPacket::ObserverInfo { info, .. } => {
            info.serverid
        }
        other => return Err(TransportError::NotALearner(other.kind())),
    };
    let sid = Sid::try_from(serverid).map_err(|_| TransportError::BadServerId(serverid))?;
    sock.set_read_timeout(None)?;
    Ok((sid, first))
}
