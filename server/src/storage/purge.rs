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
