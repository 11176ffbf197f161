//! The sending side of one client connection, shared by the core and the connection's writer
//! task. The core writes a turn's replies straight into the socket when nothing is queued
//! ahead of them; only what the socket would not take at once goes to the writer task, which
//! waits for the socket to drain. Under moderate load nearly every reply then leaves from the
//! core's own thread, without waking a runtime worker and scheduling a task per connection
//! (on two busy cores those wake-ups, not the work, made up much of a write's latency).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::conn::ConnId;
use super::ToCore;

/// What goes to a connection's writer task.
#[derive(Debug)]
enum Queued {
    Frames(Bytes),
    /// Send what was queued before, then close.
    Close,
}

/// The write half and what orders writes to it.
struct Shared {
    wr: OwnedWriteHalf,
    /// Held while writing: bytes from the core and from the writer never interleave.
    write_lock: Mutex<()>,
    /// Frame batches handed to the writer and not yet fully written. The core writes
    /// directly only when this is 0, so nothing it writes overtakes queued bytes.
    queued: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ()> {
        // A panic while holding the lock leaves no half-updated state behind it.
        self.write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The core's handle on a connection's output.
#[derive(Clone)]
pub struct ConnOut {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Queued>,
}

impl std::fmt::Debug for ConnOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnOut")
            .field("queued", &self.shared.queued.load(Ordering::Relaxed))
            .finish()
    }
}

impl ConnOut {
    /// Sends `frames` (whole frames, in order after everything sent before): directly when
    /// nothing is queued, else (or for what the socket did not take) through the writer.
    pub fn send(&self, frames: Bytes) {
        crate::metrics::metrics()
            .response_bytes
            .inc_by(frames.len() as u64);
        let s = &self.shared;
        if s.queued.load(Ordering::Acquire) == 0 {
            let _guard = s.lock();
            // Only the core queues, so the count cannot rise meanwhile; the writer may have
            // brought it to 0 since the check above, never above it.
            if s.queued.load(Ordering::Acquire) == 0 {
                match write_now(&s.wr, &frames) {
                    Ok(n) if n == frames.len() => {}
                    Ok(n) => self.enqueue(frames.slice(n..)),
                    // The reader sees the broken socket too and reports it; the writer
                    // task ends on Close and tells the core as well.
                    Err(_) => self.close(),
                }
                return;
            }
        }
        self.enqueue(frames);
    }

    /// Closes the connection once everything sent before has been written.
    pub fn close(&self) {
        let _ = self.tx.send(Queued::Close);
    }

    fn enqueue(&self, frames: Bytes) {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(Queued::Frames(frames)).is_err() {
            // The writer is gone (the socket failed); nothing will ever drain the count.
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Writes as much of `buf` as the socket takes without blocking.
fn write_now(wr: &OwnedWriteHalf, buf: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match wr.try_write(&buf[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Splits a connection's write half into the core's handle and the writer task's future.
/// The writer tells the core `Closed` if a write fails (the core then forgets the
/// connection); on Close it shuts the socket's sending side down once the queue is written.
pub fn conn_out(
    wr: OwnedWriteHalf,
    core: mpsc::UnboundedSender<ToCore>,
    conn: ConnId,
) -> (
    ConnOut,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let shared = Arc::new(Shared {
        wr,
        write_lock: Mutex::new(()),
        queued: AtomicUsize::new(0),
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let out = ConnOut {
        shared: shared.clone(),
        tx,
    };
    (out, async move {
        if write_queued(&shared, rx).await == End::Failed {
            let _ = core.send(ToCore::Closed { conn });
        }
    })
}

/// Bytes gathered from several queued batches before one write.
const GATHER: usize = 64 * 1024;

/// How the writer task ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Close was asked for, or the core let go of the connection.
    Closed,
    /// The socket refused a write.
    Failed,
}

/// The writer task: writes queued batches as the socket drains (several small ones waiting
/// together in one write), until Close, a write error, or the core dropping its handle.
async fn write_queued(s: &Shared, mut rx: mpsc::UnboundedReceiver<Queued>) -> End {
    while let Some(first) = rx.recv().await {
        let (data, batches, closing) = gather(first, &mut rx);
        let mut off = 0;
        while off < data.len() {
            let wrote = {
                let _guard = s.lock();
                write_now(&s.wr, &data[off..])
            };
            match wrote {
                Ok(n) => off += n,
                Err(_) => return End::Failed,
            }
            if off < data.len() && s.wr.writable().await.is_err() {
                return End::Failed;
            }
        }
        s.queued.fetch_sub(batches, Ordering::AcqRel);
        if closing {
            // The FIN goes out now, whoever still holds a handle on the write half.
            let _ = socket2::SockRef::from(s.wr.as_ref()).shutdown(std::net::Shutdown::Write);
            return End::Closed;
        }
    }
    End::Closed
}

/// `first` and the batches already waiting behind it, up to [`GATHER`] bytes, as one buffer
/// (a lone batch is not copied); how many batches that is; whether Close came among them.
fn gather(first: Queued, rx: &mut mpsc::UnboundedReceiver<Queued>) -> (Bytes, usize, bool) {
    let Queued::Frames(first) = first else {
        return (Bytes::new(), 0, true);
    };
    let mut batches = 1;
    let mut joined: Option<BytesMut> = None;
    let mut closing = false;
    while joined.as_ref().map_or(first.len(), BytesMut::len) < GATHER {
        match rx.try_recv() {
            Ok(Queued::Frames(b)) => {
                joined
                    .get_or_insert_with(|| BytesMut::from(&first[..]))
                    .extend_from_slice(&b);
                batches += 1;
            }
            Ok(Queued::Close) => {
                closing = true;
                break;
            }
            Err(_) => break,
        }
    }
    let data = joined.map_or(first, BytesMut::freeze);
    (data, batches, closing)
}

#[cfg(test)]
mod tests;
