//! Startup recovery as Apache's `FileTxnSnapLog.restore`: newest verifying snapshot, then the
//! log replayed from just after its zxid. Snapshots are fuzzy, so `apply` must tolerate txns
//! whose effects the snapshot already contains.

use std::collections::BTreeMap;
use std::io::BufRead;
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
    read_tree: impl Fn(&mut dyn BufRead) -> Result<T, String>,
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
        let started = std::time::Instant::now();
        match read_snapshot(path, &read_tree) {
            Ok(c) => {
                tracing::info!(
                    file = %path.display(),
                    ms = started.elapsed().as_millis() as u64,
                    "snapshot loaded"
                );
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
    let replay_started = std::time::Instant::now();
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
    if replayed > 0 {
        tracing::info!(
            txns = replayed,
            ms = replay_started.elapsed().as_millis() as u64,
            "replayed the txn log"
        );
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::snapshot::write_snapshot;
    use super::super::test_support::write_log;
    use super::super::tree_stream::{read_tree_stream, write_tree_stream, TreeStream};
    use super::*;
    use crate::proto::txn::TxnBody;

    /// The "tree" of these tests: the paths created, in order.
    fn read_paths(r: &mut dyn BufRead) -> Result<Vec<String>, String> {
        let t = read_tree_stream(r).map_err(|e| e.to_string())?;
        Ok(t.nodes.into_iter().map(|n| n.path).collect())
    }

    fn apply(paths: &mut Vec<String>, t: &Txn) {
        if let TxnBody::Create(c) = &t.body {
            if !paths.contains(&c.path) {
                paths.push(c.path.clone());
            }
        }
    }

    fn snap(dir: &Path, zxid: i64, paths: &[&str]) -> std::path::PathBuf {
        let t = TreeStream {
            acls: vec![],
            nodes: paths
                .iter()
                .map(|p| super::super::tree_stream::SnapNode {
                    path: p.to_string(),
                    data: None,
                    acl: -1,
                    stat: Default::default(),
                })
                .collect(),
        };
        write_snapshot(dir, zxid, &[(7, 5000)], Some((zxid, 1)), |w| {
            write_tree_stream(w, &t)
        })
        .unwrap()
    }

    #[test]
    fn empty_dirs_start_empty() {
        let d = tempfile::tempdir().unwrap();
        let r = restore(d.path(), d.path(), read_paths, Vec::new, apply).unwrap();
        assert_eq!((r.last_zxid, r.snapshot_zxid, r.replayed), (0, 0, 0));
        assert!(r.tree.is_empty());
    }

    #[test]
    fn snapshot_then_log_and_fallback_to_older_snapshot() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3], &[4, 5, 6]], 0);
        snap(d.path(), 2, &["", "/n1", "/n2"]);
        let newest = snap(d.path(), 4, &["", "/n1", "/n2", "/n3", "/n4"]);
        let r = restore(d.path(), d.path(), read_paths, Vec::new, apply).unwrap();
        assert_eq!((r.snapshot_zxid, r.last_zxid, r.replayed), (4, 6, 2));
        assert_eq!(r.tree, vec!["", "/n1", "/n2", "/n3", "/n4", "/n5", "/n6"]);
        assert_eq!(r.sessions, vec![(7, 5000)]);
        assert_eq!(r.snapshot_digest, Some((4, 1)));
        // Corrupt the newest snapshot: restore falls back to snapshot.2 and replays 3..6.
        let mut b = std::fs::read(&newest).unwrap();
        b[30] ^= 0xff;
        std::fs::write(&newest, b).unwrap();
        let r = restore(d.path(), d.path(), read_paths, Vec::new, apply).unwrap();
        assert_eq!((r.snapshot_zxid, r.last_zxid, r.replayed), (2, 6, 4));
        assert_eq!(r.tree, vec!["", "/n1", "/n2", "/n3", "/n4", "/n5", "/n6"]);
        // No snapshot verifies at all: an error, never a silent empty start.
        let older = d.path().join("version-2/snapshot.2");
        let mut b = std::fs::read(&older).unwrap();
        b[30] ^= 0xff;
        std::fs::write(&older, b).unwrap();
        assert!(matches!(
            restore(d.path(), d.path(), read_paths, Vec::new, apply),
            Err(StorageError::NoValidSnapshot { .. })
        ));
    }

    #[test]
    fn restores_the_apache_data_dir() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apache-3.8-datadir");
        let r = restore(&dir, &dir, read_paths, Vec::new, apply).unwrap();
        assert_eq!(r.snapshot_zxid, 0x1a);
        assert_eq!(r.last_zxid, 0x1e);
        assert_eq!(r.replayed, 4);
        // The only session was closed by the last txn.
        assert!(r.sessions.is_empty());
        assert!(r.tree.iter().any(|p| p == "/z7"));
    }
}
