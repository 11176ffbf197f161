//! One established quorum connection: the [`PeerSender`] handle with its writer thread, and
//! the reader loop that turns the byte stream into [`PeerEvent`]s.
//!
//! A frame is written straight from the sending thread when nothing is queued before it and
//! the socket takes it without blocking (the common case on a LAN: the server core writes
//! its turn's packets itself, with no hand-off to another thread); whatever the socket does
//! not take at once goes to the writer thread, which blocks for it. `write_lock` keeps the
//! two from interleaving bytes, and `pending` (frames handed to the writer and not yet
//! written) keeps the order: nobody writes directly while anything is pending.

use std::io::{self, BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use tokio::sync::mpsc::UnboundedSender;

use super::link::{LinkCounters, LinkStats};
use super::wire::{encode_packet, read_packet, read_snapshot, write_snapshot};
use super::{PeerEvent, Sid, TransportError};
use crate::proto::quorum::{Direction, ZabPacket};
use crate::tree::DataTree;

/// Frames gathered before one write; larger batches only add latency.
const BATCH_BYTES: usize = 256 * 1024;
/// Socket buffer sizes on both sides of the stream.
pub(super) const IO_BUFFER: usize = 64 * 1024;

/// What the writer thread is asked to do, in queue order.
pub(super) enum Outgoing {
    /// Encoded packets, their highest zxid and how many they are (for the link's counters).
    Frame {
        bytes: Vec<u8>,
        zxid: i64,
        packets: u64,
    },
    Snapshot {
        sessions: Vec<(i64, i32)>,
        tree: DataTree,
    },
    /// The reader ended: the connection is dead, stop writing.
    Stop,
}

/// Packets queued with [`PeerSender::send_deferred`] and not yet handed to the writer.
#[derive(Default)]
struct Staged {
    bytes: Vec<u8>,
    zxid: i64,
    packets: u64,
}

struct Inner {
    conn: u64,
    tx: mpsc::Sender<Outgoing>,
    staged: parking_lot::Mutex<Staged>,
    /// The write lock, pending count and counters, shared with the writer thread.
    shared: Arc<WriterShared>,
    /// Set by [`PeerSender::close_after_queued`]: the writer shuts the socket down itself
    /// once the queue is written, so dropping the last handle must not cut it short.
    draining: AtomicBool,
    /// A handle on the socket, only to shut it down.
    sock: TcpStream,
    closed: AtomicBool,
}

impl Drop for Inner {
    /// The last handle gone means nobody can talk on this connection any more: close it, so
    /// that the reader ends and reports the disconnect.
    fn drop(&mut self) {
        if !self.draining.load(Ordering::Acquire) {
            let _ = self.sock.shutdown(Shutdown::Both);
        }
    }
}

/// Sends to one peer. Cheap to clone; sends are queued and written in order by the
/// connection's writer thread, so they never block. Sends after the connection died are
/// dropped silently (the reader reports [`PeerEvent::Disconnected`]). Dropping the last
/// clone closes the connection.
#[derive(Clone)]
pub struct PeerSender {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PeerSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerSender")
            .field("conn", &self.inner.conn)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl PeerSender {
    /// Queues one packet.
    pub fn send(&self, pkt: &ZabPacket) {
        if self.inner.closed.load(Ordering::Acquire) {
            return;
        }
        self.flush();
        let mut bytes = Vec::new();
        let zxid = encode_packet(pkt, &mut bytes);
        self.queue_frame(bytes, zxid, 1);
    }

    /// Stages one packet; it leaves, with every packet staged before it, at the next
    /// [`PeerSender::flush`] (or any immediate send). The server core stages what one turn of
    /// its loop produces and flushes once per turn, so a busy leader wakes each peer's
    /// writer thread once per turn instead of once per packet.
    pub fn send_deferred(&self, pkt: &ZabPacket) {
        if self.inner.closed.load(Ordering::Acquire) {
            return;
        }
        let mut staged = self.inner.staged.lock();
        let zxid = encode_packet(pkt, &mut staged.bytes);
        staged.zxid = staged.zxid.max(zxid);
        staged.packets += 1;
    }

    /// Hands the staged packets to the writer thread, in one frame.
    pub fn flush(&self) {
        let Staged {
            bytes,
            zxid,
            packets,
        } = {
            let mut staged = self.inner.staged.lock();
            if staged.bytes.is_empty() {
                return;
            }
            std::mem::take(&mut *staged)
        };
        self.queue_frame(bytes, zxid, packets);
    }

    /// Writes the frame now if the socket takes it without blocking and nothing is queued
    /// before it; otherwise (or for the rest the socket did not take) hands it to the writer.
    fn queue_frame(&self, mut bytes: Vec<u8>, zxid: i64, packets: u64) {
        let len = bytes.len();
        let inner = &*self.inner;
        // Counted before the writer can see it, so its decrement never comes first.
        inner.shared.counters.queued(len, packets);
        // The guard, if taken, is held until the rest is queued: nothing may be written
        // between the part written here and the rest.
        let _guard = match self.try_write_now(&bytes) {
            Direct::Written => {
                inner.shared.counters.sent(len, zxid, packets);
                return;
            }
            Direct::Failed => {
                inner.shared.counters.sent_nothing(len, packets);
                return;
            }
            Direct::Partly(guard, n) => {
                inner.shared.counters.sent_nothing(n, 0);
                bytes.drain(..n);
                Some(guard)
            }
            Direct::NotNow => None,
        };
        let left = bytes.len();
        let frame = Outgoing::Frame {
            bytes,
            zxid,
            packets,
        };
        if !self.enqueue(frame) {
            inner.shared.counters.sent_nothing(left, packets);
        }
    }

    /// Hands an item to the writer thread, counted as pending until written; false if the
    /// writer is gone.
    fn enqueue(&self, item: Outgoing) -> bool {
        let inner = &*self.inner;
        inner.shared.pending.fetch_add(1, Ordering::AcqRel);
        let queued = inner.tx.send(item).is_ok();
        if !queued {
            inner.shared.pending.fetch_sub(1, Ordering::AcqRel);
        }
        queued
    }

    /// One non-blocking attempt to write `bytes` on the caller's thread.
    fn try_write_now(&self, bytes: &[u8]) -> Direct<'_> {
        let inner = &*self.inner;
        if inner.shared.pending.load(Ordering::Acquire) != 0 {
            return Direct::NotNow;
        }
        let Some(guard) = inner.shared.write_lock.try_lock() else {
            return Direct::NotNow;
        };
        // The writer may have taken and written something between the check and the lock;
        // it decrements `pending` before it lets go of the lock, so this check is exact.
        if inner.shared.pending.load(Ordering::Acquire) != 0 {
            return Direct::NotNow;
        }
        let sock = socket2::SockRef::from(&inner.sock);
        let mut done = 0;
        while done < bytes.len() {
            match sock.send_with_flags(&bytes[done..], libc::MSG_DONTWAIT) {
                // A stream socket never takes 0 bytes of a non-empty buffer; if one did,
                // the writer thread (which blocks) takes over rather than spinning here.
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(conn = inner.conn, error = %e, "quorum write failed; closing connection");
                    inner.closed.store(true, Ordering::Release);
                    let _ = inner.sock.shutdown(Shutdown::Both);
                    return Direct::Failed;
                }
            }
        }
        if done == bytes.len() {
            Direct::Written
        } else {
            Direct::Partly(guard, done)
        }
    }

    /// Queues a snapshot stream (serialized on the writer thread from this tree clone —
    /// DataTree::clone is O(1)) in order with packets sent before and after it: sessions
    /// (int count, (long id, int timeout)*), tree.serialize(), "BenWasHere".
    pub fn send_snapshot(&self, sessions: Vec<(i64, i32)>, tree: DataTree) {
        if self.inner.closed.load(Ordering::Acquire) {
            return;
        }
        self.flush();
        self.enqueue(Outgoing::Snapshot { sessions, tree });
    }

    /// Closes the connection now; anything still queued is dropped. The reader then reports
    /// [`PeerEvent::Disconnected`] (once).
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let _ = self.inner.sock.shutdown(Shutdown::Both);
    }

    /// Closes the connection once everything sent or staged so far is written: a role that
    /// ends sends its last words (a COMMITANDACTIVATE that hands leadership over, say) and
    /// then goes, and [`PeerSender::close`] would race them.
    pub fn close_after_queued(&self) {
        self.flush();
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.draining.store(true, Ordering::Release);
        // The writer writes what is queued, then shuts the socket down.
        if self.inner.tx.send(Outgoing::Stop).is_err() {
            let _ = self.inner.sock.shutdown(Shutdown::Both);
        }
    }

    /// The connection id, as in this connection's events.
    pub fn conn(&self) -> u64 {
        self.inner.conn
    }

    /// What this connection has sent and received so far.
    pub fn stats(&self) -> LinkStats {
        self.inner.shared.counters.snapshot()
    }

    /// The counters, for the connection's reader.
    pub(super) fn counters(&self) -> Arc<LinkCounters> {
        self.inner.shared.counters.clone()
    }
}

/// What a direct write attempt did.
enum Direct<'a> {
    /// Everything went into the socket.
    Written,
    /// `n` bytes went in; the rest must be queued while the guard is still held.
    Partly(parking_lot::MutexGuard<'a, ()>, usize),
    /// Not tried: something is queued before it, or the writer is writing.
    NotNow,
    /// The connection broke (it is now shut down; the reader reports it).
    Failed,
}

/// Starts the writer thread of `sock`. Returns the handle and a raw queue sender the reader
/// uses to stop the writer when the connection ends.
pub(super) fn start_writer(
    sock: &TcpStream,
    conn: u64,
) -> io::Result<(PeerSender, mpsc::Sender<Outgoing>)> {
    let (tx, rx) = mpsc::channel();
    let write_sock = sock.try_clone()?;
    let counters = Arc::new(LinkCounters::new(sock.peer_addr().ok()));
    let shared = Arc::new(WriterShared {
        write_lock: parking_lot::Mutex::new(()),
        pending: AtomicUsize::new(0),
        counters,
    });
    let inner = Inner {
        conn,
        tx: tx.clone(),
        sock: sock.try_clone()?,
        staged: parking_lot::Mutex::new(Staged::default()),
        shared: shared.clone(),
        draining: AtomicBool::new(false),
        closed: AtomicBool::new(false),
    };
    std::thread::Builder::new()
        .name(format!("zk-quorum-w{conn}"))
        .spawn(move || {
            if let Err(e) = run_writer(&write_sock, &rx, &shared) {
                tracing::debug!(conn, error = %e, "quorum write failed; closing connection");
            }
            // Either way the connection is over: make the reader see it.
            let _ = write_sock.shutdown(Shutdown::Both);
        })?;
    Ok((
        PeerSender {
            inner: Arc::new(inner),
        },
        tx,
    ))
}

/// What the writer thread shares with the senders.
struct WriterShared {
    /// Held while bytes go into the socket (by the writer thread, or by a direct write).
    write_lock: parking_lot::Mutex<()>,
    /// Frames and snapshots handed to the writer thread and not yet written.
    pending: AtomicUsize,
    /// Also handed to the connection's reader.
    counters: Arc<LinkCounters>,
}

impl WriterShared {
    /// Writes `bytes` (holding the write lock), then marks `items` queued items as written.
    fn write(&self, mut out: &TcpStream, bytes: &[u8], items: usize) -> io::Result<()> {
        let _guard = self.write_lock.lock();
        let result = out.write_all(bytes);
        self.pending.fetch_sub(items, Ordering::AcqRel);
        result
    }
}

/// Writes queued items in order until the queue ends or `Stop` arrives.
fn run_writer(
    sock: &TcpStream,
    rx: &mpsc::Receiver<Outgoing>,
    shared: &WriterShared,
) -> io::Result<()> {
    let mut batch = Vec::with_capacity(IO_BUFFER);
    while let Ok(first) = rx.recv() {
        let mut item = Some(first);
        // Queued items gathered into `batch`.
        let mut items = 0;
        while let Some(it) = item.take() {
            match it {
                Outgoing::Frame {
                    bytes,
                    zxid,
                    packets,
                } => {
                    batch.extend_from_slice(&bytes);
                    items += 1;
                    shared.counters.sent(bytes.len(), zxid, packets);
                    if batch.len() < BATCH_BYTES {
                        item = rx.try_recv().ok();
                    }
                }
                Outgoing::Snapshot { sessions, tree } => {
                    let _guard = shared.write_lock.lock();
                    let mut out = sock;
                    out.write_all(&batch)?;
                    batch.clear();
                    let mut w = BufWriter::with_capacity(IO_BUFFER, out);
                    write_snapshot(&mut w, &sessions, &tree)?;
                    w.flush()?;
                    shared.pending.fetch_sub(items + 1, Ordering::AcqRel);
                    items = 0;
                    item = rx.try_recv().ok();
                }
                Outgoing::Stop => return shared.write(sock, &batch, items),
            }
        }
        shared.write(sock, &batch, items)?;
        batch.clear();
    }
    Ok(())
}

/// Everything a reader loop needs to report what it reads.
pub(super) struct ReadSide {
    pub sid: Sid,
    pub conn: u64,
    pub dir: Direction,
    pub max_len: usize,
    pub events: UnboundedSender<PeerEvent>,
    pub counters: Arc<LinkCounters>,
}

impl ReadSide {
    /// Reads packets (and, towards a learner, the snapshot after SNAP) until the stream ends
    /// or breaks, or nobody listens for events any more.
    pub fn run(&self, r: &mut BufReader<TcpStream>) -> Result<(), TransportError> {
        loop {
            let pkt = read_packet(r, self.dir, self.max_len)?;
            self.counters
                .received(matches!(pkt, ZabPacket::Request { .. }));
            let snap_zxid = match (&pkt, self.dir) {
                (ZabPacket::Snap { zxid }, Direction::ToLearner) => Some(*zxid),
                _ => None,
            };
            if !self.emit(PeerEvent::Packet {
                sid: self.sid,
                conn: self.conn,
                pkt,
            }) {
                return Ok(());
            }
            if let Some(zxid) = snap_zxid {
                let snap = read_snapshot(r, self.max_len)?;
                let mut tree = snap.tree;
                tree.set_last_processed_zxid(zxid);
                tracing::debug!(
                    conn = self.conn,
                    zxid,
                    nodes = tree.node_count(),
                    "snapshot received"
                );
                if !self.emit(PeerEvent::Snapshot {
                    sid: self.sid,
                    conn: self.conn,
                    zxid,
                    sessions: snap.sessions,
                    tree,
                }) {
                    return Ok(());
                }
            }
        }
    }

    /// Reports the end of the connection (the one place Disconnected is sent).
    pub fn disconnected(&self) {
        self.emit(PeerEvent::Disconnected {
            sid: self.sid,
            conn: self.conn,
        });
    }

    fn emit(&self, ev: PeerEvent) -> bool {
        self.events.send(ev).is_ok()
    }
}

/// Turns a tokio stream into a blocking std one with Nagle off.
pub(super) fn into_blocking(stream: tokio::net::TcpStream) -> io::Result<TcpStream> {
    stream.set_nodelay(true)?;
    let std = stream.into_std()?;
    std.set_nonblocking(false)?;
    Ok(std)
}
