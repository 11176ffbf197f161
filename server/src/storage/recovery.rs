//! Startup recovery as Apache's `FileTxnSnapLog.restore`: newest verifying snapshot, then the
//! log replayed from just after its zxid. Snapshots are fuzzy, so `apply` must tolerate txns
//! whose effects the snapshot already contains.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::error::StorageError;
use super::snapshot::{list_snapshots, looks_valid, read_snapshot};
use super::txnlog_reader::iter_txns;
use crate::proto::codes::op;
use crate::proto::txn::{Txn, TxnBody};

/// Apache gives up after this many snapshots.
const MAX_SNAPSHOTS_TRIED: usize = 100;

/// What was loaded.
#[derive(Debug)]
pub struct Restored<T> {
    pub tree: T,
    /// Sessions of the snapshot, updated by the createSession/closeSession txns replayed.
    pub sessions: Vec<(i64, i32)>,
    /// The highest zxid reflected: the last replayed txn, or the snapshot zxid.
    pub last_zxid: i64,
    /// The zxid of the snapshot used (0 when starting from `empty()`).
    pub snapshot_zxid: i64,
    /// The (zxid, digest) the snapshot carried, for comparing with the tree's own.
    pub snapshot_digest: Option<(i64, i64)>,
    /// Number of txns replayed from the log.
    pub replayed: u64,
}

/// Loads the newest snapshot that verifies (trying up to 100, newest first) or `empty()` when
/// there is none, then replays every logged txn after it through `apply`.
///
/// Snapshots exist but none verifies: an error (starting empty would silently lose data).
pub fn restore<T>(
    data_dir: &Path,
    log_dir: &Path,
    read_tree: impl Fn(&mut dyn Read) -> Result<T, String>,
    empty: impl FnOnce() -> T,
    mut apply: impl FnMut(&mut T, &Txn),
) -> Result<Restored<T>, StorageError> {
    let snaps = list_snapshots(data_dir)?;
    let mut loaded = None;
    let mut tried = 0;
    for (zxid, path) in snaps.iter() {
        if !looks_valid(path) {
            tracing::info!(file = %path.display(), "skipping invalid snapshot");
            continue;
        }
        if tried == MAX_SNAPSHOTS_TRIED {
            break;
        }
        tried += 1;
        tracing::info!(file = %path.display(), "reading snapshot");
        match read_snapshot(path, &read_tree) {
            Ok(c) => {
                loaded = Some((*zxid, c));
                break;
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "problem reading snapshot")
            }
        }
    }
    let (snapshot_zxid, mut tree, sessions, snapshot_digest) = match loaded {
        Some((zxid, c)) => (zxid, c.tree, c.sessions, c.digest),
        None if !snaps.is_empty() => {
            return Err(StorageError::NoValidSnapshot {
                dir: data_dir.join(super::VERSION_DIR),
                tried: snaps.len(),
            })
        }
        None => (0, empty(), Vec::new(), None),
    };
    // Keep the snapshot's order for sessions that survive; new ones go after.
    let mut order: Vec<i64> = sessions.iter().map(|(id, _)| *id).collect();
    let mut live: BTreeMap<i64, i32> = sessions.into_iter().collect();
    let mut last_zxid = snapshot_zxid;
    let mut replayed = 0u64;
    let dir = log_dir.join(super::VERSION_DIR);
    for raw in iter_txns(log_dir, snapshot_zxid)? {
        let raw = raw?;
        let txn = Txn::decode(raw.payload).map_err(|e| {
            StorageError::corrupt(&dir, 0, format!("txn {:#x} does not decode: {e}", raw.zxid))
        })?;
        match (&txn.body, txn.hdr.kind) {
            (TxnBody::CreateSession(c), op::CREATE_SESSION) => {
                live.insert(txn.hdr.client_id, c.time_out);
                order.push(txn.hdr.client_id);
            }
            (_, op::CLOSE_SESSION) => {
                live.remove(&txn.hdr.client_id);
            }
            _ => {}
        }
        apply(&mut tree, &txn);
        last_zxid = last_zxid.max(txn.hdr.zxid);
        replayed += 1;
    }
    // Each id appears once: the first occurrence takes the entry out of `live`.
    let sessions = order
        .into_iter()
        .filter_map(|id| live.remove(&id).map(|t| (id, t)))
        .collect();
    Ok(Restored {
        tree,
        sessions,
        last_zxid,
        snapshot_zxid,
        snapshot_digest,
        replayed,
    })
}
