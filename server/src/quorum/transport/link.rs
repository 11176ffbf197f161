//! Counters of one quorum connection, kept by its reader and writer threads and read by the
//! AdminServer's `observers` command (Apache's LearnerHandler info).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Shared by a connection's [`super::PeerSender`] (sends, writer thread) and its reader.
#[derive(Debug)]
pub(super) struct LinkCounters {
    remote: Option<SocketAddr>,
    established_ms: i64,
    queued_packets: AtomicU64,
    queued_bytes: AtomicU64,
    packets_sent: AtomicU64,
    packets_received: AtomicU64,
    requests: AtomicU64,
    last_zxid: AtomicI64,
}

/// What a connection has done so far, as Apache's `observers` command lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    /// The peer's address; `None` if the socket could not tell.
    pub remote: Option<SocketAddr>,
    /// When the connection was made, ms since the epoch.
    pub established_ms: i64,
    /// Packets queued and not yet written, and their encoded size in bytes.
    pub queued_packets: u64,
    pub queued_bytes: u64,
    pub packets_sent: u64,
    pub packets_received: u64,
    /// REQUEST packets received (writes the learner forwarded).
    pub requests: u64,
    /// Zxid of the newest packet written that carried one (> 0); -1 before any.
    pub last_zxid: i64,
}

impl LinkCounters {
    pub(super) fn new(remote: Option<SocketAddr>) -> LinkCounters {
        let established_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        LinkCounters {
            remote,
            established_ms,
            queued_packets: AtomicU64::new(0),
            queued_bytes: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            packets_received: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            last_zxid: AtomicI64::new(-1),
        }
    }

    /// `packets` packets in `bytes` bytes entered the writer's queue (one frame).
    pub(super) fn queued(&self, bytes: usize, packets: u64) {
        self.queued_packets.fetch_add(packets, Ordering::Relaxed);
        self.queued_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A frame counted by [`LinkCounters::queued`] never reached the queue.
    pub(super) fn sent_nothing(&self, bytes: usize, packets: u64) {
        self.queued_packets.fetch_sub(packets, Ordering::Relaxed);
        self.queued_bytes.fetch_sub(bytes as u64, Ordering::Relaxed);
    }

    /// A queued frame was handed to the socket.
    pub(super) fn sent(&self, bytes: usize, zxid: i64, packets: u64) {
        self.queued_packets.fetch_sub(packets, Ordering::Relaxed);
        self.queued_bytes.fetch_sub(bytes as u64, Ordering::Relaxed);
        self.packets_sent.fetch_add(packets, Ordering::Relaxed);
        if zxid > 0 {
            self.last_zxid.store(zxid, Ordering::Relaxed);
        }
    }

    pub(super) fn received(&self, is_request: bool) {
        self.packets_received.fetch_add(1, Ordering::Relaxed);
        if is_request {
            self.requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn snapshot(&self) -> LinkStats {
        LinkStats {
            remote: self.remote,
            established_ms: self.established_ms,
            queued_packets: self.queued_packets.load(Ordering::Relaxed),
            queued_bytes: self.queued_bytes.load(Ordering::Relaxed),
            packets_sent: self.packets_sent.load(Ordering::Relaxed),
            packets_received: self.packets_received.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            last_zxid: self.last_zxid.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_queue_writes_reads_and_the_last_zxid() {
        let c = LinkCounters::new(None);
        assert_eq!(c.snapshot().last_zxid, -1);
        c.queued(30, 1);
        c.queued(50, 1);
        c.queued(7, 1);
        c.sent_nothing(7, 1);
        let s = c.snapshot();
        assert_eq!(
            (s.queued_packets, s.queued_bytes, s.packets_sent),
            (2, 80, 0)
        );
        c.sent(30, 0x100000002, 1);
        c.sent(50, 0, 1);
        c.received(false);
        c.received(true);
        let s = c.snapshot();
        assert_eq!(
            (s.queued_packets, s.queued_bytes, s.packets_sent),
            (0, 0, 2)
        );
        assert_eq!(
            s.last_zxid, 0x100000002,
            "a zxid-less packet keeps the last one"
        );
        assert_eq!((s.packets_received, s.requests), (2, 1));
        assert!(s.established_ms > 1_600_000_000_000);
    }
}
