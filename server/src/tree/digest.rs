//! Per-node digest of Apache's `DigestCalculator` (version 2). The tree digest is the
//! wrapping sum of these over all nodes, kept up to date on every change so that
//! followers can compare it with the digest the leader put in each txn.

use crate::proto::records::StatPersisted;

/// The digest version written next to tree digests (TxnDigest, snapshot ZxidDigest).
pub const DIGEST_VERSION: i32 = 2;

/// Nodes under this prefix are left out of the digest (quota stats change locally).
const EXCLUDED_PREFIX: &str = "/zookeeper/";

/// CRC32 over the path (the root hashed as ""), the data, then czxid, mzxid, pzxid,
/// ctime, mtime, version, cversion, aversion and ephemeralOwner, big-endian.
/// Returns 0 for excluded paths so that callers can add and subtract blindly.
pub(crate) fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> u64 {
    if path.starts_with(EXCLUDED_PREFIX) {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let mut fields = [0u8; 60];
    let mut at = 0;
    for v in [stat.czxid, stat.mzxid, stat.pzxid, stat.ctime, stat.mtime] {
        fields[at..at + 8].copy_from_slice(&v.to_be_bytes());
        at += 8;
    }
    for v in [stat.version, stat.cversion, stat.aversion] {
        fields[at..at + 4].copy_from_slice(&v.to_be_bytes());
        at += 4;
    }
    fields[at..].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(d) = data {
        crc.update(d);
    }
    crc.update(&fields);
    u64::from(crc.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_hashed_as_empty_path_and_system_nodes_are_excluded() {
        let s = StatPersisted::default();
        assert_eq!(node_digest("/", None, &s), node_digest("", None, &s));
        assert_eq!(node_digest("/zookeeper/quota", None, &s), 0);
        assert_ne!(node_digest("/zookeeper", None, &s), 0);
    }

    #[test]
    fn matches_crc32_of_the_documented_layout() {
        let s = StatPersisted {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            pzxid: 9,
        };
        let mut buf = b"/a".to_vec();
        buf.extend_from_slice(b"xy");
        for v in [1i64, 2, 9, 3, 4] {
            buf.extend_from_slice(&v.to_be_bytes());
        }
        for v in [5i32, 6, 7] {
            buf.extend_from_slice(&v.to_be_bytes());
        }
        buf.extend_from_slice(&8i64.to_be_bytes());
        assert_eq!(
            node_digest("/a", Some(b"xy"), &s),
            u64::from(crc32fast::hash(&buf))
        );
        // null and empty data hash the same, as in Apache
        assert_eq!(
            node_digest("/a", None, &s),
            node_digest("/a", Some(b""), &s)
        );
    }
}
