//! The log thread: owns the [`TxnLogWriter`] on a dedicated OS thread (fsync blocks) and turns
//! a stream of submitted txns into batches, one fsync per batch. Everything queued while the
//! previous fsync ran becomes the next batch, so batches grow with load by themselves.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rand::Rng;

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

/// Apache's default `zookeeper.snapSizeLimitInKb`: 4 GiB of log since the last snapshot.
pub const DEFAULT_SNAP_SIZE_LIMIT: u64 = 4 * 1024 * 1024 * 1024;

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
        events: impl Fn(LogEvent) + Send + 'static,
    ) -> LogThread {
        Self::spawn_with_size_limit(writer, snap_count, DEFAULT_SNAP_SIZE_LIMIT, events)
    }

    /// As [`LogThread::spawn`], also rolling once the log since the last roll exceeds a random
    /// size in [snap_size_limit/2, snap_size_limit] (Apache `zookeeper.snapSizeLimitInKb`;
    /// 0 disables the size trigger). `events` is called on the log thread with what it
    /// reports; it should only hand the event on (the core passes a channel send, so a
    /// `Synced` wakes the core directly, with no task in between).
    pub fn spawn_with_size_limit(
        writer: TxnLogWriter,
        snap_count: u64,
        snap_size_limit: u64,
        events: impl Fn(LogEvent) + Send + 'static,
    ) -> LogThread {
        let (tx, rx) = mpsc::channel::<(i64, Vec<u8>)>();
        let limits = Limits {
            count: snap_count,
            size: snap_size_limit,
        };
        let handle = std::thread::Builder::new()
            .name("zk-txnlog".into())
            .spawn(move || run(writer, limits, rx, events))
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

/// When to roll the log and ask for a snapshot.
#[derive(Clone, Copy)]
struct Limits {
    count: u64,
    size: u64,
}

fn next_size_threshold(limit: u64) -> u64 {
    if limit == 0 {
        u64::MAX
    } else {
        rand::thread_rng().gen_range(limit / 2..=limit)
    }
}

fn run(
    mut writer: TxnLogWriter,
    limits: Limits,
    rx: mpsc::Receiver<(i64, Vec<u8>)>,
    events: impl Fn(LogEvent),
) {
    let mut threshold = next_threshold(limits.count);
    let mut size_threshold = next_size_threshold(limits.size);
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
            events(LogEvent::Failed(e.to_string()));
            return;
        }
        events(LogEvent::Synced { last_zxid: last });
        since_roll += n;
        if since_roll >= threshold || writer.current_size() > size_threshold {
            if let Err(e) = writer.roll() {
                tracing::error!(error = %e, "txn log roll failed; log thread stops");
                events(LogEvent::Failed(e.to_string()));
                return;
            }
            since_roll = 0;
            threshold = next_threshold(limits.count);
            size_threshold = next_size_threshold(limits.size);
            events(LogEvent::SnapshotDue);
        }
    }
    if let Err(e) = writer.commit() {
        events(LogEvent::Failed(e.to_string()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::names::list_logs;
    use super::super::test_support::create_txn;
    use super::super::txnlog_reader::read_txns;
    use super::*;
    use std::time::Duration;
    use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

    /// Collects events until `stop` says so, failing after 20 s.
    fn collect(
        rx: &mut UnboundedReceiver<LogEvent>,
        stop: impl Fn(&LogEvent) -> bool,
    ) -> Vec<LogEvent> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut out = Vec::new();
        loop {
            let ev = rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(20), rx.recv()).await })
                .expect("timed out waiting for a log event")
                .expect("log thread closed the channel");
            let done = stop(&ev);
            out.push(ev);
            if done {
                return out;
            }
        }
    }

    #[test]
    fn batches_sync_in_order_and_roll_for_snapshots() {
        let d = tempfile::tempdir().unwrap();
        let w = TxnLogWriter::open(d.path(), 1 << 16, true).unwrap();
        let (tx, mut rx) = unbounded_channel();
        let lt = LogThread::spawn(w, 10, move |e| drop(tx.send(e)));
        // One txn per batch, so the roll points are exact.
        let mut evs = Vec::new();
        for z in 1..=100 {
            lt.submit(z, create_txn(z).encode());
            evs.extend(collect(&mut rx, |e| {
                *e == LogEvent::Synced { last_zxid: z }
            }));
        }
        // Then a burst: everything queued while the thread was busy becomes few batches.
        for z in 101..=200 {
            lt.submit(z, create_txn(z).encode());
        }
        let burst = collect(&mut rx, |e| *e == LogEvent::Synced { last_zxid: 200 });
        let snaps = evs.iter().filter(|e| **e == LogEvent::SnapshotDue).count();
        // A roll every 6 to 10 txns (10/2+1 ..= 10) while batches are single txns.
        // (The roll after txn 100, if any, is reported after the burst began.)
        assert!((9..=16).contains(&snaps), "{snaps} snapshots");
        lt.shutdown();
        while let Ok(e) = rx.try_recv() {
            evs.push(e);
        }
        let synced = burst
            .iter()
            .filter(|e| matches!(e, LogEvent::Synced { .. }))
            .count();
        assert!(synced < 100, "burst was not batched: {synced} syncs");
        // A SnapshotDue always follows a Synced.
        for (i, e) in evs.iter().enumerate() {
            if *e == LogEvent::SnapshotDue {
                assert!(matches!(evs[i - 1], LogEvent::Synced { .. }));
            }
        }
        let all = read_txns(d.path(), 0).unwrap();
        assert_eq!(all.len(), 200);
        assert_eq!(all[41], create_txn(42));
        let rolls = evs.iter().filter(|e| **e == LogEvent::SnapshotDue).count()
            + burst
                .iter()
                .filter(|e| **e == LogEvent::SnapshotDue)
                .count();
        let files = list_logs(d.path()).unwrap().len();
        assert!(
            files == rolls || files == rolls + 1,
            "{files} files, {rolls} rolls"
        );
    }

    #[test]
    fn rolls_on_log_size() {
        let d = tempfile::tempdir().unwrap();
        let w = TxnLogWriter::open(d.path(), 0, false).unwrap();
        let (tx, mut rx) = unbounded_channel();
        // Each entry is ~100 bytes: a roll every 5 to 10 entries, never by count.
        let lt = LogThread::spawn_with_size_limit(w, 1_000_000, 1000, move |e| drop(tx.send(e)));
        let mut evs = Vec::new();
        for z in 1..=50 {
            lt.submit(z, create_txn(z).encode());
            evs.extend(collect(&mut rx, |e| {
                *e == LogEvent::Synced { last_zxid: z }
            }));
        }
        lt.shutdown();
        let snaps = evs.iter().filter(|e| **e == LogEvent::SnapshotDue).count();
        assert!((4..=10).contains(&snaps), "{snaps} size rolls");
        assert_eq!(read_txns(d.path(), 0).unwrap().len(), 50);
    }

    #[test]
    fn failure_is_reported_and_stops_the_thread() {
        let d = tempfile::tempdir().unwrap();
        let w = TxnLogWriter::open(d.path(), 0, false).unwrap();
        let (tx, mut rx) = unbounded_channel();
        let lt = LogThread::spawn(w, 1000, move |e| drop(tx.send(e)));
        lt.submit(5, create_txn(5).encode());
        collect(&mut rx, |e| *e == LogEvent::Synced { last_zxid: 5 });
        // A zxid that goes backwards is a writer error.
        lt.submit(4, create_txn(4).encode());
        let evs = collect(&mut rx, |e| matches!(e, LogEvent::Failed(_)));
        assert_eq!(evs.len(), 1);
        lt.submit(6, create_txn(6).encode());
        lt.shutdown();
        assert_eq!(read_txns(d.path(), 0).unwrap().len(), 1);
    }

    #[test]
    fn shutdown_commits_what_was_queued() {
        let d = tempfile::tempdir().unwrap();
        let w = TxnLogWriter::open(d.path(), 0, true).unwrap();
        let (tx, _rx) = unbounded_channel();
        let lt = LogThread::spawn(w, 1000, move |e| drop(tx.send(e)));
        for z in 1..=20 {
            lt.submit(z, create_txn(z).encode());
        }
        lt.shutdown();
        assert_eq!(read_txns(d.path(), 0).unwrap().len(), 20);
    }
}
