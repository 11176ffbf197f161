//! Apache's PurgeTxnLog: keep the newest N snapshots and the logs needed to replay from the
//! oldest kept one; delete everything older.

use std::path::{Path, PathBuf};

use super::error::StorageError;
use super::fsutil::fsync_dir;
use super::names::{list_logs, logs_from};
use super::snapshot::{list_snapshots, looks_valid};

/// What a purge deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub deleted_snapshots: Vec<PathBuf>,
    pub deleted_logs: Vec<PathBuf>,
    /// The zxid of the oldest snapshot kept (nothing is deleted when fewer than `retain` exist).
    pub oldest_kept: Option<i64>,
}

/// Keeps the newest `retain` (>= 3) valid snapshots and the log files needed to recover from
/// the oldest of them (the newest log starting at or before it, and all later); deletes older
/// snapshot and log files.
pub fn purge(data_dir: &Path, log_dir: &Path, retain: usize) -> Result<PurgeReport, StorageError> {
    if retain < 3 {
        return Err(StorageError::RetainTooSmall(retain));
    }
    let kept: Vec<(i64, PathBuf)> = list_snapshots(data_dir)?
        .into_iter()
        .filter(|(_, p)| looks_valid(p))
        .take(retain)
        .collect();
    let mut report = PurgeReport::default();
    // Apache purges even with fewer snapshots than `retain`, keyed on the oldest valid one.
    let Some((oldest, _)) = kept.last() else {
        return Ok(report);
    };
    let oldest = *oldest;
    report.oldest_kept = Some(oldest);
    let logs = list_logs(log_dir)?;
    let needed = logs_from(&logs, oldest);
    for (z, path) in &logs {
        if *z < oldest && !needed.iter().any(|(_, p)| p == path) {
            std::fs::remove_file(path).map_err(|e| StorageError::io("delete log", path, e))?;
            report.deleted_logs.push(path.clone());
        }
    }
    for (z, path) in list_snapshots(data_dir)? {
        if z < oldest {
            std::fs::remove_file(&path)
                .map_err(|e| StorageError::io("delete snapshot", &path, e))?;
            report.deleted_snapshots.push(path);
        }
    }
    if !report.deleted_logs.is_empty() {
        fsync_dir(&log_dir.join(super::VERSION_DIR))?;
    }
    if !report.deleted_snapshots.is_empty() {
        fsync_dir(&data_dir.join(super::VERSION_DIR))?;
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::snapshot::write_snapshot;
    use super::super::test_support::write_log;
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.join("version-2"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn keeps_newest_snapshots_and_the_logs_they_need() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2], &[3, 4], &[5, 6], &[7, 8], &[9]], 0);
        for z in [0, 2, 4, 6, 8] {
            write_snapshot(d.path(), z, &[], None, |w| {
                w.write_all(&[0, 0, 0, 0, 0, 0, 0, 1, b'/'])
            })
            .unwrap();
        }
        assert!(matches!(
            purge(d.path(), d.path(), 2),
            Err(StorageError::RetainTooSmall(2))
        ));
        let r = purge(d.path(), d.path(), 3).unwrap();
        assert_eq!(r.oldest_kept, Some(4));
        // snapshot.4 needs log.3 (holds 4); log.1 and the two oldest snapshots go.
        assert_eq!(
            names(d.path()),
            vec![
                "log.3",
                "log.5",
                "log.7",
                "log.9",
                "snapshot.4",
                "snapshot.6",
                "snapshot.8"
            ]
        );
        assert_eq!(r.deleted_logs.len(), 1);
        assert_eq!(r.deleted_snapshots.len(), 2);
        // Idempotent.
        let r = purge(d.path(), d.path(), 3).unwrap();
        assert!(r.deleted_logs.is_empty() && r.deleted_snapshots.is_empty());
    }

    #[test]
    fn invalid_snapshots_do_not_count() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1], &[2], &[3], &[4]], 0);
        for z in [1, 2, 3] {
            write_snapshot(d.path(), z, &[], None, |w| {
                w.write_all(&[0, 0, 0, 0, 0, 0, 0, 1, b'/'])
            })
            .unwrap();
        }
        // A torn newest snapshot must not push a good one out.
        std::fs::write(d.path().join("version-2/snapshot.4"), b"ZKSN garbage").unwrap();
        let r = purge(d.path(), d.path(), 3).unwrap();
        assert_eq!(r.oldest_kept, Some(1));
        assert!(r.deleted_logs.is_empty() && r.deleted_snapshots.is_empty());
    }
}
