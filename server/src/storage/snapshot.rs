//! Snapshot files: `<dataDir>/version-2/snapshot.<hex zxid>[.gz|.snappy]`.
//!
//! Layout: FileHeader "ZKSN" v2 dbid −1, sessions, the tree stream (written/read by the caller),
//! seal (Adler-32 of every uncompressed byte so far, then the string "/"), then optionally the
//! ZxidDigest + seal and the 3.9 lastProcessedZxid + seal. Readers tolerate EOF before the
//! optional parts, as Apache does.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::error::StorageError;
use super::fsutil::{fsync_dir, version_dir};
use super::names::{list_sorted, parse_snapshot_name, snapshot_file_name, Compression};
use super::snappy::{SnappyJavaReader, MAGIC as SNAPPY_MAGIC};
use super::stream::{
    read_count, read_i32, read_i64, read_string, write_i32, write_i64, write_string, AdlerReader,
    AdlerWriter,
};
use super::streaming::StreamingFile;
use super::{FORMAT_VERSION, SNAP_MAGIC};

/// Digest format version written by 3.6+ (a long; older versions wrote a hex string).
const DIGEST_VERSION: i32 = 2;

/// What a snapshot file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotContents<T> {
    /// From the file name: the last processed zxid when the snapshot began.
    pub zxid: i64,
    /// Global sessions: (session id, timeout ms).
    pub sessions: Vec<(i64, i32)>,
    pub tree: T,
    /// (zxid, tree digest) if the snapshot carries a ZxidDigest.
    pub digest: Option<(i64, i64)>,
    /// The 3.9 lastProcessedZxid trailer, if present (informational: the name zxid rules).
    pub last_processed_zxid: Option<i64>,
}

fn seal(w: &mut AdlerWriter<BufWriter<StreamingFile>>) -> io::Result<()> {
    let sum = w.checksum() as i64;
    write_i64(w, sum)?;
    write_string(w, "/")
}

/// Writes a snapshot under a temporary name, fsyncs it, renames it into place and fsyncs the
/// directory, so a crash leaves either no snapshot or a complete one. Returns the final path.
pub fn write_snapshot(
    data_dir: &Path,
    zxid: i64,
    sessions: &[(i64, i32)],
    digest: Option<(i64, i64)>,
    write_tree: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<PathBuf, StorageError> {
    let dir = version_dir(data_dir)?;
    let name = snapshot_file_name(zxid);
    let path = dir.join(&name);
    // The temp name does not start with "snapshot." so no reader ever mistakes it for one.
    let tmp = dir.join(format!(".{name}.tmp"));
    let file = File::create(&tmp).map_err(|e| StorageError::io("create snapshot", &tmp, e))?;
    let mut w = AdlerWriter::new(BufWriter::with_capacity(
        256 * 1024,
        StreamingFile::new(file),
    ));
    let body = (|| -> io::Result<()> {
        write_i32(&mut w, SNAP_MAGIC)?;
        write_i32(&mut w, FORMAT_VERSION)?;
        write_i64(&mut w, -1)?;
        write_i32(&mut w, sessions.len() as i32)?;
        for (id, timeout) in sessions {
            write_i64(&mut w, *id)?;
            write_i32(&mut w, *timeout)?;
        }
        write_tree(&mut w)?;
        seal(&mut w)?;
        // lastProcessedZxid only follows a digest: a reader that finds no digest would
        // otherwise take the trailer for one.
        if let Some((dzxid, d)) = digest {
            write_i64(&mut w, dzxid)?;
            write_i32(&mut w, DIGEST_VERSION)?;
            write_i64(&mut w, d)?;
            seal(&mut w)?;
            write_i64(&mut w, zxid)?;
            seal(&mut w)?;
        }
        w.flush()
    })();
    let done = body.and_then(|()| {
        let file = w.into_inner().into_inner().map_err(|e| e.into_error())?;
        file.finish().map(drop)
    });
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(StorageError::io("write snapshot", &tmp, e));
    }
    std::fs::rename(&tmp, &path).map_err(|e| StorageError::io("rename snapshot", &path, e))?;
    fsync_dir(&dir)?;
    Ok(path)
}

/// Checks a seal: the checksum of everything before it, then the string "/".
pub(crate) fn check_seal<R: Read>(r: &mut AdlerReader<R>, path: &Path) -> Result<(), StorageError> {
    let offset = r.count();
    let computed = r.checksum() as u64;
    let stored = read_i64(r).map_err(|e| corrupt_io(path, offset, "seal", e))?;
    let marker = read_string(r).map_err(|e| corrupt_io(path, offset, "seal marker", e))?;
    // Apache ignores the marker's content; every writer puts "/" there, so demand it.
    if marker != "/" {
        return Err(StorageError::corrupt(
            path,
            offset + 8,
            "seal marker is not \"/\"",
        ));
    }
    if stored as u64 != computed {
        return Err(StorageError::ChecksumMismatch {
            file: path.to_path_buf(),
            offset,
            stored: stored as u64,
            computed,
        });
    }
    Ok(())
}

fn corrupt_io(path: &Path, offset: u64, what: &str, e: io::Error) -> StorageError {
    StorageError::corrupt(path, offset, format!("reading {what}: {e}"))
}

/// Opens a snapshot's uncompressed byte stream according to its suffix.
pub(crate) fn open_stream(path: &Path) -> Result<Box<dyn Read>, StorageError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let comp = parse_snapshot_name(name).map_or(Compression::None, |(_, c)| c);
    let f = File::open(path).map_err(|e| StorageError::io("open snapshot", path, e))?;
    let r = BufReader::with_capacity(256 * 1024, f);
    match comp {
        Compression::None => Ok(Box::new(r)),
        Compression::Gzip => Ok(Box::new(GzDecoder::new(r))),
        Compression::Snappy => Ok(Box::new(SnappyJavaReader::new(r))),
    }
}

/// Reads the FileHeader and sessions from a snapshot stream.
pub(crate) fn read_head<R: Read>(
    r: &mut AdlerReader<R>,
    path: &Path,
) -> Result<Vec<(i64, i32)>, StorageError> {
    let magic = read_i32(r).map_err(|e| corrupt_io(path, 0, "header", e))?;
    if magic != SNAP_MAGIC {
        return Err(StorageError::corrupt(
            path,
            0,
            format!("bad snapshot magic {magic:#x}"),
        ));
    }
    read_i32(r).map_err(|e| corrupt_io(path, 4, "header", e))?;
    read_i64(r).map_err(|e| corrupt_io(path, 8, "header", e))?;
    let n = read_count(r).map_err(|e| corrupt_io(path, r.count(), "session count", e))?;
    let mut sessions = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let id = read_i64(r).map_err(|e| corrupt_io(path, r.count(), "session", e))?;
        let to = read_i32(r).map_err(|e| corrupt_io(path, r.count(), "session", e))?;
        sessions.push((id, to));
    }
    Ok(sessions)
}

/// The optional parts after the first seal: ZxidDigest (zxid, digest) and lastProcessedZxid.
pub(crate) type Trailers = (Option<(i64, i64)>, Option<i64>);

/// Reads the optional trailers after the first seal. EOF means "not present".
pub(crate) fn read_trailers<R: Read>(
    r: &mut AdlerReader<R>,
    path: &Path,
) -> Result<Trailers, StorageError> {
    let dzxid = match read_i64(r) {
        Ok(z) => z,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok((None, None)),
        Err(e) => return Err(corrupt_io(path, r.count(), "digest", e)),
    };
    let parsed = (|| -> io::Result<i64> {
        let version = read_i32(r)?;
        if version < DIGEST_VERSION {
            let hex = read_string(r)?;
            u64::from_str_radix(&hex, 16)
                .map(|v| v as i64)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        } else {
            read_i64(r)
        }
    })();
    let digest = match parsed {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok((None, None)),
        Err(e) => return Err(corrupt_io(path, r.count(), "digest", e)),
    };
    check_seal(r, path)?;
    let lpz = match read_i64(r) {
        Ok(z) => z,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Ok((Some((dzxid, digest)), None))
        }
        Err(e) => return Err(corrupt_io(path, r.count(), "lastProcessedZxid", e)),
    };
    check_seal(r, path)?;
    Ok((Some((dzxid, digest)), Some(lpz)))
}

/// Reads one snapshot file, verifying every seal. `read_tree` must consume exactly the tree
/// stream (ACL cache, nodes, "/" terminator) and nothing after it.
pub fn read_snapshot<T>(
    path: &Path,
    read_tree: impl FnOnce(&mut dyn BufRead) -> Result<T, String>,
) -> Result<SnapshotContents<T>, StorageError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some((zxid, _)) = parse_snapshot_name(name) else {
        return Err(StorageError::corrupt(path, 0, "not a snapshot file name"));
    };
    let mut r = AdlerReader::new(open_stream(path)?);
    let sessions = read_head(&mut r, path)?;
    let tree_at = r.count();
    let tree = read_tree(&mut r)
        .map_err(|e| StorageError::corrupt(path, tree_at, format!("tree: {e}")))?;
    check_seal(&mut r, path)?;
    let (digest, last_processed_zxid) = read_trailers(&mut r, path)?;
    Ok(SnapshotContents {
        zxid,
        sessions,
        tree,
        digest,
        last_processed_zxid,
    })
}

/// Snapshot files of `<data_dir>/version-2`, newest first, compressed ones included.
pub fn list_snapshots(data_dir: &Path) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    let mut v = list_sorted(
        &data_dir.join(super::VERSION_DIR),
        parse_snapshot_name,
        |(z, _)| *z,
    )?;
    v.reverse();
    Ok(v.into_iter().map(|((z, _), p)| (z, p)).collect())
}

/// Apache's cheap validity check (`SnapStream.isValidSnapshot`): an uncompressed snapshot must
/// end with the seal marker string "/", a compressed one must start with its format's magic.
pub fn looks_valid(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some((_, comp)) = parse_snapshot_name(name) else {
        return false;
    };
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut head = [0u8; 8];
    let mut tail = [0u8; 5];
    let ok = match comp {
        Compression::None => {
            len >= 10 && f.seek(SeekFrom::End(-5)).is_ok() && f.read_exact(&mut tail).is_ok()
        }
        Compression::Gzip => f.read_exact(&mut head[..2]).is_ok(),
        Compression::Snappy => f.read_exact(&mut head).is_ok(),
    };
    ok && match comp {
        Compression::None => tail == [0, 0, 0, 1, b'/'],
        Compression::Gzip => head[..2] == [0x1f, 0x8b],
        Compression::Snappy => &head == SNAPPY_MAGIC,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tree_stream::{read_tree_stream, write_tree_stream, SnapNode, TreeStream};
    use super::*;
    use crate::proto::records::StatPersisted;

    pub(crate) fn tree(n: i64) -> TreeStream {
        let mut nodes = vec![SnapNode {
            path: "".into(),
            data: Some(vec![]),
            acl: -1,
            stat: StatPersisted::default(),
        }];
        for i in 1..=n {
            nodes.push(SnapNode {
                path: format!("/n{i}"),
                data: Some(format!("data{i}").into_bytes()),
                acl: -1,
                stat: StatPersisted {
                    czxid: i,
                    mzxid: i,
                    pzxid: i,
                    ..Default::default()
                },
            });
        }
        TreeStream {
            acls: vec![],
            nodes,
        }
    }

    fn write(dir: &Path, zxid: i64, digest: Option<(i64, i64)>) -> PathBuf {
        let t = tree(zxid);
        write_snapshot(dir, zxid, &[(0x10, 30000), (0x11, 4000)], digest, |w| {
            write_tree_stream(w, &t)
        })
        .unwrap()
    }

    fn read(path: &Path) -> Result<SnapshotContents<TreeStream>, StorageError> {
        read_snapshot(path, |r| read_tree_stream(r).map_err(|e| e.to_string()))
    }

    #[test]
    fn round_trip_with_and_without_digest() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), 3, Some((4, 77)));
        assert_eq!(p.file_name().unwrap(), "snapshot.3");
        assert!(looks_valid(&p));
        let c = read(&p).unwrap();
        assert_eq!(c.zxid, 3);
        assert_eq!(c.sessions, vec![(0x10, 30000), (0x11, 4000)]);
        assert_eq!(c.tree, tree(3));
        assert_eq!(c.digest, Some((4, 77)));
        assert_eq!(c.last_processed_zxid, Some(3));
        let p = write(d.path(), 0x1f, None);
        assert_eq!(p.file_name().unwrap(), "snapshot.1f");
        let c = read(&p).unwrap();
        assert_eq!((c.digest, c.last_processed_zxid), (None, None));
        assert_eq!(
            list_snapshots(d.path())
                .unwrap()
                .iter()
                .map(|s| s.0)
                .collect::<Vec<_>>(),
            vec![0x1f, 3]
        );
        // No temp file is left behind.
        assert_eq!(
            std::fs::read_dir(d.path().join("version-2"))
                .unwrap()
                .count(),
            2
        );
    }

    #[test]
    fn every_flipped_byte_is_rejected() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), 2, Some((2, 5)));
        let good = std::fs::read(&p).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            std::fs::write(&p, &bad).unwrap();
            assert!(read(&p).is_err(), "flip at {i} of {} accepted", good.len());
        }
    }

    #[test]
    fn reads_gzip_snapshots() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), 5, Some((5, 1)));
        let raw = std::fs::read(&p).unwrap();
        let gz = d.path().join("version-2").join("snapshot.6.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&raw).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert!(looks_valid(&gz));
        let c = read(&gz).unwrap();
        assert_eq!((c.zxid, c.tree), (6, tree(5)));
        assert_eq!(list_snapshots(d.path()).unwrap()[0], (6, gz));
    }

    #[test]
    fn reads_apache_snappy_snapshot() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apache-3.8-snappy");
        let snaps = list_snapshots(&dir).unwrap();
        assert_eq!(snaps.len(), 1);
        assert!(looks_valid(&snaps[0].1));
        let c = read(&snaps[0].1).unwrap();
        assert_eq!(c.zxid, 9);
        assert!(c.tree.nodes.iter().any(|n| n.path == "/app/seq-0000000004"));
        assert!(c.digest.is_some());
    }

    #[test]
    fn reads_apache_snapshots() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apache-3.8-datadir");
        let snaps = list_snapshots(&dir).unwrap();
        assert_eq!(
            snaps.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![0x1a, 0x12, 0x9, 0]
        );
        for (_, p) in &snaps {
            let c = read(p).unwrap();
            assert_eq!(c.tree.nodes[0].path, "");
            assert!(c.tree.nodes.iter().any(|n| n.path == "/zookeeper/quota"));
            assert!(c.digest.is_some());
        }
        let c = read(&snaps[0].1).unwrap();
        assert_eq!(c.sessions.len(), 1);
        assert!(c.tree.nodes.iter().any(|n| n.path == "/app/eph"));
    }
}
