//! Small durability helpers.

use std::fs::File;
use std::path::Path;

use super::error::StorageError;

/// Fsyncs a directory so that a created, renamed or deleted entry survives a crash.
pub fn fsync_dir(dir: &Path) -> Result<(), StorageError> {
    let d = File::open(dir).map_err(|e| StorageError::io("open dir", dir, e))?;
    d.sync_all()
        .map_err(|e| StorageError::io("fsync dir", dir, e))
}

/// Creates `<base>/version-2` if needed and returns it.
pub fn version_dir(base: &Path) -> Result<std::path::PathBuf, StorageError> {
    let dir = base.join(super::VERSION_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| StorageError::io("create dir", &dir, e))?;
    Ok(dir)
}
