//! Durable storage in Apache ZooKeeper's version-2 on-disk formats, byte for byte, so that
//! Apache's own tools read our files and we read theirs: the txn log (preallocated, group
//! committed), fuzzy snapshots sealed with Adler-32, recovery, purge and readable dumps.
//!
//! Nothing here knows the DataTree type: snapshot and recovery code take closures that write or
//! read the tree stream, so the tree can evolve independently.

pub mod dump;
mod dump_time;
pub mod error;
pub mod fsutil;
pub mod group_commit;
pub mod names;
pub mod purge;
pub mod recovery;
mod snappy;
pub mod snapshot;
pub mod stream;
mod streaming;
#[cfg(test)]
mod test_support;
pub mod tree_stream;
pub mod txnlog;
pub mod txnlog_reader;

pub use dump::{dump_log, dump_snapshot};
pub use error::StorageError;
pub use group_commit::{LogEvent, LogThread};
pub use purge::{purge, PurgeReport};
pub use recovery::{restore, Restored};
pub use snapshot::{list_snapshots, read_snapshot, write_snapshot, SnapshotContents};
pub use tree_stream::{read_tree_stream, write_tree_stream, SnapNode, TreeStream};
pub use txnlog::TxnLogWriter;
pub use txnlog_reader::{iter_txns, read_raw_txns, read_txns, truncate_log, RawTxn, TxnLogIter};

/// Both the snapshot and the log directory keep their files in this subdirectory.
pub const VERSION_DIR: &str = "version-2";
/// "ZKLG": txn log file magic.
pub const LOG_MAGIC: i32 = 0x5A4B_4C47;
/// "ZKSN": snapshot file magic.
pub const SNAP_MAGIC: i32 = 0x5A4B_534E;
/// The only file format version Apache has ever written.
pub const FORMAT_VERSION: i32 = 2;
/// FileHeader length: magic int, version int, dbid long.
pub const FILE_HEADER_LEN: u64 = 16;
/// Default preallocation step of a log file (Apache `zookeeper.preAllocSize`, 64 MiB).
pub const DEFAULT_PREALLOC: u64 = 64 * 1024 * 1024;
