//! The log thread: owns the [`TxnLogWriter`] on a dedicated OS thread (fsync blocks) and turns
//! a stream of submitted txns into batches, one fsync per batch. Everything queued while the
//! previous fsync ran becomes the next batch, so batches grow with load by themselves.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rand::Rng;
use tokio::sync::mpsc::UnboundedSender;

use super::txnlog::TxnLogWriter;

/// What the log thread reports to the server core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// Every txn up to and including `last_zxid` is durable.
    Synced { last_zxid: i64 },
    /// The log was rolled; the core should take a snapshot now.
    SnapshotDue,
    /// An I/O error: the thread has stopped and nothing after the last Synced is durable.
    Failed(String),
}

/// Handle to the log thread.
pub struct LogThread {
    tx: mpsc::Sender<(i64, Vec<u8>)>,
    handle: JoinHandle<()>,
}

/// Apache's randomised snapshot trigger: a count in [snap_count/2 + 1, snap_count], so that
/// servers of an ensemble do not all snapshot at the same moment.
fn next_threshold(snap_count: u64) -> u64 {
    let snap_count = snap_count.max(2);
    rand::thread_rng().gen_range(snap_count / 2 + 1..=snap_count)
}

impl LogThread {
    /// Spawns the thread. See the module docs for batching; every `snap_count`-ish txns the log
    /// is rolled and `SnapshotDue` follows the `Synced` of that batch.
    pub fn spawn(
        writer: TxnLogWriter,
        snap_count: u64,
        events: UnboundedSender<LogEvent>,
    ) -> LogThread {
        let (tx, rx) = mpsc::channel::<(i64, Vec<u8>)>();
        let handle = std::thread::Builder::new()
            .name("zk-txnlog".into())
            .spawn(move || run(writer, snap_count, rx, events))
            .unwrap_or_else(|e| panic!("cannot spawn the txn log thread: {e}"));
        LogThread { tx, handle }
    }

    /// Enqueues one txn. After a failure the txn is dropped: `Failed` was already reported.
    pub fn submit(&self, zxid: i64, payload: Vec<u8>) {
        if self.tx.send((zxid, payload)).is_err() {
            tracing::debug!(zxid, "txn log thread has stopped; txn dropped");
        }
    }

    /// Drains what is queued, commits it, and joins the thread.
    pub fn shutdown(self) {
        drop(self.tx);
        if self.handle.join().is_err() {
            tracing::error!("txn log thread panicked");
        }
    }
}

fn run(
    mut writer: TxnLogWriter,
    snap_count: u64,
    rx: mpsc::Receiver<(i64, Vec<u8>)>,
    events: UnboundedSender<LogEvent>,
) {
    let mut threshold = next_threshold(snap_count);
    let mut since_roll: u64 = 0;
    // Blocks for the first txn of a batch; ends when every sender is gone and the queue is empty.
    while let Ok(first) = rx.recv() {
        let mut last = first.0;
        let mut result = writer.append(first.0, &first.1);
        let mut n = 1u64;
        while result.is_ok() {
            match rx.try_recv() {
                Ok((zxid, payload)) => {
                    last = zxid;
                    n += 1;
                    result = writer.append(zxid, &payload);
                }
                Err(_) => break,
            }
        }
        let result = result.and_then(|()| writer.commit());
        if let Err(e) = result {
            tracing::error!(error = %e, "txn log write failed; log thread stops");
            let _ = events.send(LogEvent::Failed(e.to_string()));
            return;
        }
        let _ = events.send(LogEvent::Synced { last_zxid: last });
        since_roll += n;
        if since_roll >= threshold {
            if let Err(e) = writer.roll() {
                tracing::error!(error = %e, "txn log roll failed; log thread stops");
                let _ = events.send(LogEvent::Failed(e.to_string()));
                return;
            }
            since_roll = 0;
            threshold = next_threshold(snap_count);
            let _ = events.send(LogEvent::SnapshotDue);
        }
    }
    if let Err(e) = writer.commit() {
        let _ = events.send(LogEvent::Failed(e.to_string()));
    }
}
