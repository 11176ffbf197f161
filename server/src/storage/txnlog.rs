//! Txn log writer: `<dataLogDir>/version-2/log.<hex first zxid>`, FileHeader "ZKLG" v2 dbid 0,
//! then entries `checksum long (Adler-32 of payload) | payload buffer | 'B'`, zero-filled ahead
//! by preallocation so that an fdatasync rarely has to update the file size.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::StorageError;
use super::fsutil::{fsync_dir, version_dir};
use super::names::log_file_name;
use super::{FORMAT_VERSION, LOG_MAGIC};

/// Preallocate again when the write position comes this close to the allocated end.
const PAD_HEADROOM: u64 = 4096;
/// Apache's `fsync.warningthresholdms` default.
const SLOW_SYNC: Duration = Duration::from_millis(1000);
/// End-of-record marker after each payload.
pub const EOR: u8 = b'B';

struct OpenLog {
    file: File,
    path: PathBuf,
    /// Bytes of content on disk (header and entries, not the zero fill).
    written: u64,
    /// The file length after preallocation.
    allocated: u64,
}

/// Appends txns to the log; `commit` makes everything appended so far durable.
pub struct TxnLogWriter {
    dir: PathBuf,
    prealloc: u64,
    force_sync: bool,
    cur: Option<OpenLog>,
    /// Entries appended since the last commit; reused so appends do not allocate.
    buf: Vec<u8>,
    last_zxid: Option<i64>,
}

impl TxnLogWriter {
    /// Opens `<log_dir>/version-2` (creating it); the next append starts a new file.
    pub fn open(
        log_dir: &Path,
        prealloc_bytes: u64,
        force_sync: bool,
    ) -> Result<TxnLogWriter, StorageError> {
        let dir = version_dir(log_dir)?;
        Ok(TxnLogWriter {
            dir,
            prealloc: prealloc_bytes,
            force_sync,
            cur: None,
            buf: Vec::with_capacity(64 * 1024),
            last_zxid: None,
        })
    }

    /// The `version-2` directory the files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file being appended to, if one is open.
    pub fn current_file(&self) -> Option<&Path> {
        self.cur.as_ref().map(|c| c.path.as_path())
    }

    /// Buffers one entry; starts a file (with its header) if none is open.
    pub fn append(&mut self, zxid: i64, payload: &[u8]) -> Result<(), StorageError> {
        if let Some(last) = self.last_zxid {
            if zxid <= last {
                return Err(StorageError::ZxidNotIncreasing { zxid, last });
            }
        }
        if self.cur.is_none() {
            self.start_file(zxid)?;
        }
        let checksum = simd_adler32::adler32(&payload);
        self.buf
            .extend_from_slice(&i64::from(checksum).to_be_bytes());
        self.buf
            .extend_from_slice(&(payload.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.push(EOR);
        self.last_zxid = Some(zxid);
        Ok(())
    }

    fn start_file(&mut self, zxid: i64) -> Result<(), StorageError> {
        let path = self.dir.join(log_file_name(zxid));
        // An existing file with this name can only hold txns at or after `zxid`, which this
        // log never committed (they would precede our next append), so it is overwritten.
        let file = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| StorageError::io("create log", &path, e))?;
        fsync_dir(&self.dir)?;
        tracing::info!(file = %path.display(), "creating new txn log file");
        self.buf.clear();
        self.buf.extend_from_slice(&LOG_MAGIC.to_be_bytes());
        self.buf.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        self.buf.extend_from_slice(&0i64.to_be_bytes());
        self.cur = Some(OpenLog {
            file,
            path,
            written: 0,
            allocated: 0,
        });
        Ok(())
    }

    /// Writes buffered entries and fdatasyncs (unless force_sync is off).
    pub fn commit(&mut self) -> Result<(), StorageError> {
        let Some(cur) = self.cur.as_mut() else {
            return Ok(());
        };
        if !self.buf.is_empty() {
            let end = cur.written + self.buf.len() as u64;
            if self.prealloc > 0 && end + PAD_HEADROOM >= cur.allocated {
                let new_len = end + self.prealloc;
                // One zero byte at the new end: the file system zero-fills the gap.
                cur.file
                    .write_all_at(&[0], new_len - 1)
                    .map_err(|e| StorageError::io("preallocate", &cur.path, e))?;
                cur.allocated = new_len;
            }
            cur.file
                .write_all_at(&self.buf, cur.written)
                .map_err(|e| StorageError::io("write log", &cur.path, e))?;
            cur.written = end;
            self.buf.clear();
        }
        if self.force_sync {
            let t = Instant::now();
            cur.file
                .sync_data()
                .map_err(|e| StorageError::io("fsync log", &cur.path, e))?;
            let took = t.elapsed();
            crate::metrics::metrics()
                .fsynctime
                .observe(took.as_secs_f64() * 1000.0);
            if took > SLOW_SYNC {
                tracing::warn!(file = %cur.path.display(), ?took, "fsync of txn log was slow");
            }
        }
        Ok(())
    }

    /// Commits and closes the current file so the next append starts a new one.
    pub fn roll(&mut self) -> Result<(), StorageError> {
        self.commit()?;
        self.cur = None;
        Ok(())
    }

    /// Bytes of the current file's content, buffered ones included (0 when none is open).
    pub fn current_size(&self) -> u64 {
        self.cur
            .as_ref()
            .map_or(0, |c| c.written + self.buf.len() as u64)
    }

    /// The last zxid appended through this writer.
    pub fn last_zxid(&self) -> Option<i64> {
        self.last_zxid
    }
}
