//! `version-2/acceptedEpoch` and `version-2/currentEpoch`: ASCII decimal, replaced
//! atomically (temp file, fsync, rename, fsync dir) as Apache writes them.

use std::io::Write;
use std::path::Path;

pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
pub const CURRENT_EPOCH: &str = "currentEpoch";

/// Reads an epoch file; `None` when it does not exist yet.
pub fn read_epoch(data_dir: &Path, name: &str) -> std::io::Result<Option<u32>> {
    let path = data_dir.join("version-2").join(name);
    match std::fs::read_to_string(&path) {
        Ok(s) => s.trim().parse::<u32>().map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: not an epoch: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn write_epoch(data_dir: &Path, name: &str, epoch: u32) -> std::io::Result<()> {
    let dir = data_dir.join("version-2");
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(epoch.to_string().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(&dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_epoch(d.path(), CURRENT_EPOCH).unwrap(), None);
        write_epoch(d.path(), CURRENT_EPOCH, 7).unwrap();
        assert_eq!(read_epoch(d.path(), CURRENT_EPOCH).unwrap(), Some(7));
        std::fs::write(d.path().join("version-2").join(ACCEPTED_EPOCH), "x").unwrap();
        assert!(read_epoch(d.path(), ACCEPTED_EPOCH).is_err());
    }
}
