//! The `myid` file: this server's id, ASCII decimal, in dataDir.

use std::path::Path;

use super::error::ConfigError;

/// Name of the id file inside dataDir.
pub const MYID_FILE: &str = "myid";

/// Reads `<data_dir>/myid`. Like Apache, only the first line counts; we also trim
/// blanks so hand-written files with a trailing space work.
pub fn read_myid(data_dir: &Path) -> Result<u64, ConfigError> {
    let path = data_dir.join(MYID_FILE);
    let bytes = std::fs::read(&path).map_err(|source| ConfigError::Io {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return Err(ConfigError::MyId {
            path,
            reason: "the file is empty; it must hold this server's id".to_string(),
        });
    }
    first.parse::<u64>().map_err(|_| ConfigError::MyId {
        path,
        reason: format!("serverid '{first}' is not a number"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_trims() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("myid"), " 3 \nignored\n").unwrap();
        assert_eq!(read_myid(dir.path()).unwrap(), 3);
    }

    #[test]
    fn errors_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_myid(dir.path()).unwrap_err();
        assert!(err.to_string().contains("myid"), "{err}");
        std::fs::write(dir.path().join("myid"), "abc\n").unwrap();
        let err = read_myid(dir.path()).unwrap_err().to_string();
        assert!(err.contains("'abc' is not a number"), "{err}");
        std::fs::write(dir.path().join("myid"), "\n").unwrap();
        let err = read_myid(dir.path()).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        std::fs::write(dir.path().join("myid"), "-1").unwrap();
        assert!(read_myid(dir.path()).is_err());
    }
}
