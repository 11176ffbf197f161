//! Txn log reading: file selection as Apache's FileTxnIterator, end detection (zero fill, EOF,
//! torn last record), checksum verification, and truncation for TRUNC sync.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::error::StorageError;
use super::fsutil::fsync_dir;
use super::names::{list_logs, logs_from};
use super::stream::{read_i32, read_i64, MAX_FILE_BUFFER};
use super::txnlog::EOR;
use super::{FILE_HEADER_LEN, LOG_MAGIC};
use crate::proto::txn::Txn;

/// One log entry: its zxid (from the TxnHeader) and the payload exactly as logged
/// (TxnHeader + record + optional digest), ready to be decoded or sent in a DIFF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTxn {
    pub zxid: i64,
    pub payload: Bytes,
}

/// Where one read attempt ended.
pub(crate) enum Entry {
    Txn {
        raw: RawTxn,
        end: u64,
    },
    /// Zero fill or EOF exactly at a record boundary.
    End,
    /// A record cut short (no 'B', or payload past EOF): the crash point of a write.
    Torn {
        offset: u64,
        reason: String,
    },
}

/// Sequential reader of one log file.
pub(crate) struct LogFile {
    pub(crate) path: PathBuf,
    r: BufReader<File>,
    pos: u64,
    pub(crate) version: i32,
    pub(crate) dbid: i64,
}

impl LogFile {
    pub(crate) fn open(path: &Path) -> Result<LogFile, StorageError> {
        let f = File::open(path).map_err(|e| StorageError::io("open log", path, e))?;
        let mut lf = LogFile {
            path: path.to_path_buf(),
            r: BufReader::with_capacity(64 * 1024, f),
            pos: 0,
            version: 0,
            dbid: 0,
        };
        let hdr = (|| -> io::Result<(i32, i32, i64)> {
            let magic = read_i32(&mut lf.r)?;
            let version = read_i32(&mut lf.r)?;
            let dbid = read_i64(&mut lf.r)?;
            Ok((magic, version, dbid))
        })();
        match hdr {
            Ok((magic, _, _)) if magic != LOG_MAGIC => Err(StorageError::corrupt(
                path,
                0,
                format!("bad log magic {magic:#x}"),
            )),
            Ok((_, version, dbid)) => {
                lf.pos = FILE_HEADER_LEN;
                lf.version = version;
                lf.dbid = dbid;
                Ok(lf)
            }
            Err(e) => Err(StorageError::corrupt(
                path,
                0,
                format!("bad log header: {e}"),
            )),
        }
    }

    pub(crate) fn next_entry(&mut self) -> Result<Entry, StorageError> {
        let start = self.pos;
        let mut head = [0u8; 12];
        let got = read_full(&mut self.r, &mut head)
            .map_err(|e| StorageError::io("read log", &self.path, e))?;
        if got == 0 {
            return Ok(Entry::End);
        }
        if got < 12 {
            // A short checksum/length at the very end can only be a torn write.
            return Ok(if head[..got].iter().all(|b| *b == 0) {
                Entry::End
            } else {
                Entry::Torn {
                    offset: start,
                    reason: "record header cut short".into(),
                }
            });
        }
        let stored = i64::from_be_bytes(head[..8].try_into().unwrap_or_default());
        let len = i32::from_be_bytes(head[8..].try_into().unwrap_or_default());
        if len == 0 {
            return Ok(Entry::End);
        }
        if len < 0 || len as usize > MAX_FILE_BUFFER {
            return Err(StorageError::corrupt(
                &self.path,
                start,
                format!("invalid txn length {len}"),
            ));
        }
        let mut payload = vec![0u8; len as usize + 1];
        let got = read_full(&mut self.r, &mut payload)
            .map_err(|e| StorageError::io("read log", &self.path, e))?;
        if got < payload.len() {
            return Ok(Entry::Torn {
                offset: start,
                reason: "payload cut short".into(),
            });
        }
        if payload[len as usize] != EOR {
            return Ok(Entry::Torn {
                offset: start,
                reason: "missing end-of-record marker".into(),
            });
        }
        payload.truncate(len as usize);
        let computed = u64::from(simd_adler32::adler32(&payload.as_slice()));
        if stored as u64 != computed {
            return Err(StorageError::ChecksumMismatch {
                file: self.path.clone(),
                offset: start,
                stored: stored as u64,
                computed,
            });
        }
        if payload.len() < 20 {
            return Err(StorageError::corrupt(
                &self.path,
                start,
                "payload shorter than a TxnHeader",
            ));
        }
        // TxnHeader: clientId long, cxid int, then zxid long.
        let zxid = i64::from_be_bytes(payload[12..20].try_into().unwrap_or_default());
        self.pos = start + 12 + len as u64 + 1;
        Ok(Entry::Txn {
            raw: RawTxn {
                zxid,
                payload: Bytes::from(payload),
            },
            end: self.pos,
        })
    }
}

/// Reads until `buf` is full or EOF; returns how many bytes were read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Deletes the last log file when it is too short to hold even its header: the crash came
/// between creating it and writing to it (ZOOKEEPER-2332, Apache 3.9.3 does the same).
fn drop_empty_last(all: &mut Vec<(i64, PathBuf)>) -> Result<(), StorageError> {
    if let Some((_, path)) = all.last() {
        let len = std::fs::metadata(path)
            .map_err(|e| StorageError::io("stat log", path, e))?
            .len();
        if len < FILE_HEADER_LEN {
            tracing::warn!(file = %path.display(), len, "deleting empty last txn log file");
            std::fs::remove_file(path).map_err(|e| StorageError::io("delete log", path, e))?;
            if let Some(dir) = path.parent() {
                fsync_dir(dir)?;
            }
            all.pop();
        }
    }
    Ok(())
}

/// Iterates the txns with zxid > `after_zxid` across log files, in order.
pub struct TxnLogIter {
    files: VecDeque<(i64, PathBuf)>,
    cur: Option<LogFile>,
    after_zxid: i64,
    done: bool,
}

impl TxnLogIter {
    fn advance(&mut self) -> Result<Option<RawTxn>, StorageError> {
        loop {
            if self.cur.is_none() {
                let Some((_, path)) = self.files.pop_front() else {
                    return Ok(None);
                };
                self.cur = Some(LogFile::open(&path)?);
            }
            let Some(lf) = self.cur.as_mut() else {
                continue;
            };
            match lf.next_entry()? {
                Entry::Txn { raw, .. } => {
                    if raw.zxid > self.after_zxid {
                        return Ok(Some(raw));
                    }
                }
                Entry::End => self.cur = None,
                Entry::Torn { offset, reason } => {
                    // Apache treats a torn record as the end of that file and moves on: after
                    // a crash the next run starts a new file at the txn that was torn.
                    tracing::warn!(file = %lf.path.display(), offset, %reason,
                        "torn record at end of txn log; ignoring the rest of the file");
                    self.cur = None;
                }
            }
        }
    }
}

impl Iterator for TxnLogIter {
    type Item = Result<RawTxn, StorageError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some(t)) => Some(Ok(t)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Opens an iterator over the txns with zxid > `after_zxid` in `<log_dir>/version-2`, choosing
/// files as Apache does (the newest starting at or before `after_zxid + 1`, and all later ones).
/// An empty last file is deleted first.
pub fn iter_txns(log_dir: &Path, after_zxid: i64) -> Result<TxnLogIter, StorageError> {
    let mut all = list_logs(log_dir)?;
    drop_empty_last(&mut all)?;
    let files = logs_from(&all, after_zxid.saturating_add(1));
    Ok(TxnLogIter {
        files: files.into(),
        cur: None,
        after_zxid,
        done: false,
    })
}

/// All raw txns with zxid > `after_zxid`.
pub fn read_raw_txns(log_dir: &Path, after_zxid: i64) -> Result<Vec<RawTxn>, StorageError> {
    iter_txns(log_dir, after_zxid)?.collect()
}

/// All txns with zxid > `after_zxid`, decoded.
pub fn read_txns(log_dir: &Path, after_zxid: i64) -> Result<Vec<Txn>, StorageError> {
    let dir = log_dir.join(super::VERSION_DIR);
    iter_txns(log_dir, after_zxid)?
        .map(|r| {
            let raw = r?;
            Txn::decode(raw.payload).map_err(|e| {
                StorageError::corrupt(&dir, 0, format!("txn {:#x} does not decode: {e}", raw.zxid))
            })
        })
        .collect()
}

/// The zxid of the last readable txn in the log, if any.
pub fn last_logged_zxid(log_dir: &Path) -> Result<Option<i64>, StorageError> {
    let all = list_logs(log_dir)?;
    // Only the newest non-empty file matters; an older one if the newest holds nothing.
    for (_, path) in all.iter().rev() {
        let len = std::fs::metadata(path)
            .map_err(|e| StorageError::io("stat log", path, e))?
            .len();
        if len < FILE_HEADER_LEN {
            continue;
        }
        let mut lf = LogFile::open(path)?;
        let mut last = None;
        while let Entry::Txn { raw, .. } = lf.next_entry()? {
            last = Some(raw.zxid);
        }
        if last.is_some() {
            return Ok(last);
        }
    }
    Ok(None)
}

/// Truncates the log so that no txn after `zxid` remains: later files are deleted and the file
/// holding `zxid` is cut right after it (dropping its zero fill, which readers treat as EOF).
pub fn truncate_log(log_dir: &Path, zxid: i64) -> Result<(), StorageError> {
    let dir = log_dir.join(super::VERSION_DIR);
    let all = list_logs(log_dir)?;
    for (start, path) in all.iter().rev() {
        if *start > zxid {
            std::fs::remove_file(path).map_err(|e| StorageError::io("delete log", path, e))?;
            continue;
        }
        let len = std::fs::metadata(path)
            .map_err(|e| StorageError::io("stat log", path, e))?
            .len();
        let mut cut = len.min(FILE_HEADER_LEN);
        if len >= FILE_HEADER_LEN {
            let mut lf = LogFile::open(path)?;
            while let Entry::Txn { raw, end } = lf.next_entry()? {
                if raw.zxid > zxid {
                    break;
                }
                cut = end;
            }
        }
        let f = File::options()
            .write(true)
            .open(path)
            .map_err(|e| StorageError::io("open log", path, e))?;
        f.set_len(cut)
            .map_err(|e| StorageError::io("truncate log", path, e))?;
        f.sync_all()
            .map_err(|e| StorageError::io("fsync log", path, e))?;
        // Older files hold only txns before this one's start.
        break;
    }
    if dir.exists() {
        fsync_dir(&dir)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::names::list_logs;
    use super::super::test_support::{create_txn, write_log};
    use super::*;
    use std::os::unix::fs::FileExt;

    fn zxids(dir: &Path, after: i64) -> Vec<i64> {
        read_txns(dir, after)
            .unwrap()
            .iter()
            .map(|t| t.zxid())
            .collect()
    }

    #[test]
    fn round_trip_across_files_with_preallocation() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3], &[4, 5], &[6]], 1 << 20);
        let logs = list_logs(d.path()).unwrap();
        assert_eq!(logs.iter().map(|l| l.0).collect::<Vec<_>>(), vec![1, 4, 6]);
        // Preallocated and zero-filled.
        assert!(std::fs::metadata(&logs[0].1).unwrap().len() >= 1 << 20);
        let all = read_txns(d.path(), 0).unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(all[2], create_txn(3));
        assert_eq!(zxids(d.path(), 4), vec![5, 6]);
        assert_eq!(zxids(d.path(), 6), Vec::<i64>::new());
        assert_eq!(last_logged_zxid(d.path()).unwrap(), Some(6));
    }

    #[test]
    fn writer_size_and_zxid_order() {
        let d = tempfile::tempdir().unwrap();
        let mut w = super::super::TxnLogWriter::open(d.path(), 0, false).unwrap();
        assert_eq!(w.current_size(), 0);
        let p = create_txn(7).encode();
        w.append(7, &p).unwrap();
        assert_eq!(w.current_size(), 16 + 8 + 4 + p.len() as u64 + 1);
        assert!(matches!(
            w.append(7, &p),
            Err(StorageError::ZxidNotIncreasing { .. })
        ));
        w.commit().unwrap();
        // No preallocation: the file is exactly its content.
        let f = w.current_file().unwrap().to_path_buf();
        assert_eq!(std::fs::metadata(f).unwrap().len(), w.current_size());
    }

    #[test]
    fn torn_tail_keeps_the_prefix() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3]], 0);
        let path = list_logs(d.path()).unwrap()[0].1.clone();
        let len = std::fs::metadata(&path).unwrap().len();
        // Cut the last record in the middle of its payload.
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 10)
            .unwrap();
        assert_eq!(zxids(d.path(), 0), vec![1, 2]);
        // Missing 'B': the last byte becomes zero (as in a preallocated file).
        write_log(d.path(), &[&[1, 2, 3]], 0);
        let f = File::options().write(true).open(&path).unwrap();
        f.write_all_at(&[0], len - 1).unwrap();
        assert_eq!(zxids(d.path(), 0), vec![1, 2]);
        // A few garbage bytes of a record header after the last record.
        write_log(d.path(), &[&[1, 2, 3]], 0);
        let f = File::options().write(true).open(&path).unwrap();
        f.write_all_at(&[0, 0, 7], len).unwrap();
        assert_eq!(zxids(d.path(), 0), vec![1, 2, 3]);
    }

    #[test]
    fn torn_record_in_an_older_file_moves_to_the_next() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3]], 0);
        let path = list_logs(d.path()).unwrap()[0].1.clone();
        let len = std::fs::metadata(&path).unwrap().len();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        // The restarted server re-logs 3 in a new file.
        write_log(d.path(), &[&[3, 4]], 0);
        assert_eq!(zxids(d.path(), 0), vec![1, 2, 3, 4]);
    }

    #[test]
    fn checksum_corruption_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3]], 0);
        let path = list_logs(d.path()).unwrap()[0].1.clone();
        let bytes = std::fs::read(&path).unwrap();
        // Flip a byte inside the second record's payload (its path string).
        let second = bytes.windows(3).position(|w| w == b"/n2").unwrap();
        let f = File::options().write(true).open(&path).unwrap();
        f.write_all_at(b"X", second as u64 + 1).unwrap();
        let e = read_txns(d.path(), 0).unwrap_err();
        assert!(matches!(e, StorageError::ChecksumMismatch { .. }), "{e}");
    }

    #[test]
    fn empty_last_file_is_deleted() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2]], 0);
        let empty = d.path().join("version-2").join("log.3");
        File::create(&empty).unwrap();
        assert_eq!(zxids(d.path(), 0), vec![1, 2]);
        assert!(!empty.exists());
        // An empty file that is not the last one is an error, not silently skipped.
        File::create(d.path().join("version-2").join("log.2")).unwrap();
        write_log(d.path(), &[&[5]], 0);
        assert!(read_txns(d.path(), 0).is_err());
    }

    #[test]
    fn bad_magic_is_corrupt() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1]], 0);
        let path = list_logs(d.path()).unwrap()[0].1.clone();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all_at(b"ZKSN", 0)
            .unwrap();
        assert!(matches!(
            read_txns(d.path(), 0),
            Err(StorageError::Corrupt { .. })
        ));
    }

    #[test]
    fn truncate_log_cuts_and_deletes() {
        let d = tempfile::tempdir().unwrap();
        write_log(d.path(), &[&[1, 2, 3], &[4, 5], &[6, 7]], 1 << 16);
        truncate_log(d.path(), 4).unwrap();
        assert_eq!(zxids(d.path(), 0), vec![1, 2, 3, 4]);
        assert_eq!(
            list_logs(d.path())
                .unwrap()
                .iter()
                .map(|l| l.0)
                .collect::<Vec<_>>(),
            vec![1, 4]
        );
        // Appending again after truncation continues the log.
        write_log(d.path(), &[&[5, 6]], 1 << 16);
        assert_eq!(zxids(d.path(), 0), vec![1, 2, 3, 4, 5, 6]);
        truncate_log(d.path(), 0).unwrap();
        assert_eq!(zxids(d.path(), 0), Vec::<i64>::new());
    }

    #[test]
    fn reads_every_txn_of_the_apache_fixture() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apache-3.8-datadir");
        let txns = read_txns(&dir, 0).unwrap();
        let z: Vec<i64> = txns.iter().map(|t| t.zxid()).collect();
        assert_eq!(z, (1..=0x1e).collect::<Vec<_>>());
        use crate::proto::codes::op;
        assert_eq!(txns[0].hdr.kind, op::CREATE_SESSION);
        assert_eq!(txns.last().unwrap().hdr.kind, op::CLOSE_SESSION);
        assert!(txns.iter().any(|t| t.hdr.kind == op::ERROR));
        assert!(txns.iter().any(|t| t.hdr.kind == op::CREATE_CONTAINER));
        // 3.8 logs carry a TxnDigest after each record, except after error txns.
        for t in &txns {
            assert_eq!(t.digest.is_some(), t.hdr.kind != op::ERROR, "{t:?}");
        }
        // Starting after a zxid in the middle of a file picks that file.
        assert_eq!(read_txns(&dir, 0x12).unwrap()[0].zxid(), 0x13);
    }
}
