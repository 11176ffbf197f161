//! Typed storage errors: every one names the file and, where it matters, the offset.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("corrupt file {} at offset {offset}: {reason}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("checksum mismatch in {} at offset {offset}: stored {stored:#x}, computed {computed:#x}", file.display())]
    ChecksumMismatch {
        file: PathBuf,
        offset: u64,
        stored: u64,
        computed: u64,
    },
    #[error("zxid {zxid:#x} appended after {last:#x}: zxids must increase")]
    ZxidNotIncreasing { zxid: i64, last: i64 },
    #[error("no valid snapshot among the {tried} in {}", dir.display())]
    NoValidSnapshot { dir: PathBuf, tried: usize },
    #[error("purge must retain at least 3 snapshots, asked for {0}")]
    RetainTooSmall(usize),
}

impl StorageError {
    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> StorageError {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub fn corrupt(file: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        StorageError::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}
