//! File names: `log.<hex zxid>` and `snapshot.<hex zxid>[.gz|.snappy]`, lowercase hex without
//! padding, where the zxid is the first txn of a log or the last processed zxid of a snapshot.

use std::path::{Path, PathBuf};

use super::error::StorageError;

pub const LOG_PREFIX: &str = "log";
pub const SNAP_PREFIX: &str = "snapshot";

/// How a snapshot file's bytes are wrapped, from its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
}

pub fn log_file_name(zxid: i64) -> String {
    format!("{LOG_PREFIX}.{zxid:x}")
}

pub fn snapshot_file_name(zxid: i64) -> String {
    format!("{SNAP_PREFIX}.{zxid:x}")
}

/// Parses `prefix.<hex>` exactly (as Java's `Long.parseLong(s, 16)`: no sign, fits an i64).
fn parse_hex(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    i64::from_str_radix(s, 16).ok()
}

/// The zxid of a log file name, `None` for anything else.
pub fn parse_log_name(name: &str) -> Option<i64> {
    let rest = name.strip_prefix(LOG_PREFIX)?.strip_prefix('.')?;
    parse_hex(rest)
}

/// The zxid and compression of a snapshot file name, `None` for anything else (temp files too).
pub fn parse_snapshot_name(name: &str) -> Option<(i64, Compression)> {
    let rest = name.strip_prefix(SNAP_PREFIX)?.strip_prefix('.')?;
    let (hex, comp) = match rest.split_once('.') {
        None => (rest, Compression::None),
        Some((h, "gz")) => (h, Compression::Gzip),
        Some((h, "snappy")) => (h, Compression::Snappy),
        Some(_) => return None,
    };
    Some((parse_hex(hex)?, comp))
}

/// Files of `dir` whose name `parse` accepts, sorted by zxid ascending. A missing dir is empty.
pub fn list_sorted<T>(
    dir: &Path,
    parse: impl Fn(&str) -> Option<T>,
    zxid_of: impl Fn(&T) -> i64,
) -> Result<Vec<(T, PathBuf)>, StorageError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io("list dir", dir, e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| StorageError::io("list dir", dir, e))?;
        let name = ent.file_name();
        if let Some(v) = name.to_str().and_then(&parse) {
            out.push((v, ent.path()));
        }
    }
    out.sort_by_key(|(v, _)| zxid_of(v));
    Ok(out)
}

/// Log files of `<log_dir>/version-2`, oldest first.
pub fn list_logs(log_dir: &Path) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    list_sorted(&log_dir.join(super::VERSION_DIR), parse_log_name, |z| *z)
}

/// Apache's `FileTxnLog.getLogFiles`: the newest file starting at or before `zxid`, and every
/// later one. Files that start after `zxid` may hold it only if none starts at or before it.
pub fn logs_from(all: &[(i64, PathBuf)], zxid: i64) -> Vec<(i64, PathBuf)> {
    let start = all
        .iter()
        .filter(|(z, _)| *z <= zxid)
        .map(|(z, _)| *z)
        .max()
        .unwrap_or(i64::MIN);
    all.iter().filter(|(z, _)| *z >= start).cloned().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_others() {
        assert_eq!(log_file_name(0x100000001), "log.100000001");
        assert_eq!(snapshot_file_name(0), "snapshot.0");
        assert_eq!(parse_log_name("log.1a"), Some(0x1a));
        assert_eq!(parse_log_name("log.1a.tmp"), None);
        assert_eq!(parse_log_name("log."), None);
        assert_eq!(parse_log_name("log.-1"), None);
        assert_eq!(
            parse_snapshot_name("snapshot.ff.gz"),
            Some((0xff, Compression::Gzip))
        );
        assert_eq!(
            parse_snapshot_name("snapshot.ff"),
            Some((0xff, Compression::None))
        );
        assert_eq!(parse_snapshot_name("snapshot.ff.tmp"), None);
        assert_eq!(parse_snapshot_name(".snapshot.ff.tmp"), None);
    }

    #[test]
    fn logs_from_picks_the_file_holding_the_zxid() {
        let all: Vec<(i64, PathBuf)> = [1, 10, 20]
            .iter()
            .map(|z| (*z, PathBuf::from(log_file_name(*z))))
            .collect();
        let z = |v: Vec<(i64, PathBuf)>| v.into_iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(z(logs_from(&all, 0)), vec![1, 10, 20]);
        assert_eq!(z(logs_from(&all, 1)), vec![1, 10, 20]);
        assert_eq!(z(logs_from(&all, 15)), vec![10, 20]);
        assert_eq!(z(logs_from(&all, 20)), vec![20]);
        assert_eq!(z(logs_from(&all, 99)), vec![20]);
    }
}
