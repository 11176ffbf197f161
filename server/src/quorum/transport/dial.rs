//! Learner side: dial the leader's quorum port, retrying as Apache's Learner does.

use std::io::BufReader;
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::peer::{into_blocking, start_writer, Outgoing, PeerSender, ReadSide, IO_BUFFER};
use super::{next_conn_id, PeerEvent, Sid, TransportError};
use crate::proto::quorum::Direction;

/// Pause between connection attempts (Apache 3.9's `zookeeper.leaderConnectDelayDuringRetryMs`
/// default): a new leader opens its quorum port a moment after the election, and a longer
/// pause here adds straight to every failover.
const RETRY_INTERVAL: Duration = Duration::from_millis(100);

/// Right after an election the new leader is often a few ms from listening, so the first
/// attempts come quickly (this is most of the difference in failover time) before settling
/// at Apache's interval.
const FAST_RETRIES: u32 = 20;
const FAST_RETRY_INTERVAL: Duration = Duration::from_millis(10);

fn retry_delay(attempts: u32) -> Duration {
    if attempts <= FAST_RETRIES {
        FAST_RETRY_INTERVAL
    } else {
        RETRY_INTERVAL
    }
}

/// Learner: dials the leader's quorum address, retrying (Apache: connect attempts for up to
/// initLimit*tickTime, 100 ms apart) until `deadline`; on success returns the sender; incoming
/// packets/snapshot arrive on `events` (sid = leader's sid). `max_len` bounds every buffer
/// and string read from the leader, snapshot node data included.
pub async fn connect_leader(
    leader_sid: Sid,
    addr: SocketAddr,
    deadline: Instant,
    events: UnboundedSender<PeerEvent>,
    max_len: usize,
) -> Result<PeerSender, TransportError> {
    let mut attempts = 0u32;
    let mut last = String::from("deadline passed before the first attempt");
    while Instant::now() < deadline {
        attempts += 1;
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return start(stream, leader_sid, events, max_len),
            Ok(Err(e)) => {
                tracing::debug!(%addr, attempt = attempts, error = %e, "leader not reachable yet");
                last = e.to_string();
            }
            Err(_) => {
                last = String::from("connect timed out");
                break;
            }
        }
        let next = Instant::now() + retry_delay(attempts);
        if next >= deadline {
            break;
        }
        tokio::time::sleep_until(next).await;
    }
    Err(TransportError::Connect {
        addr,
        attempts,
        last,
    })
}

/// Starts the reader and writer threads of a fresh connection to the leader.
fn start(
    stream: TcpStream,
    sid: Sid,
    events: UnboundedSender<PeerEvent>,
    max_len: usize,
) -> Result<PeerSender, TransportError> {
    let sock = into_blocking(stream)?;
    let conn = next_conn_id();
    let reader = BufReader::with_capacity(IO_BUFFER, sock.try_clone()?);
    let (out, stop) = start_writer(&sock, conn)?;
    let side = ReadSide {
        sid,
        conn,
        dir: Direction::ToLearner,
        max_len,
        events,
        counters: out.counters(),
    };
    std::thread::Builder::new()
        .name(format!("zk-quorum-r{conn}"))
        .spawn(move || {
            let mut reader = reader;
            if let Err(e) = side.run(&mut reader) {
                tracing::info!(sid, conn, error = %e, "leader connection ended");
            }
            side.disconnected();
            let _ = stop.send(Outgoing::Stop);
            let _ = reader.get_ref().shutdown(Shutdown::Both);
        })?;
    tracing::info!(sid, conn, "connected to leader");
    Ok(out)
}
