//! Blocking codec for the quorum stream over `std::io`: packets are read field by field (not
//! pre-buffered) so that the snapshot which follows a SNAP packet can be parsed from the very
//! same reader, and snapshots are written/read as facts §13 parts 2–5 plus "BenWasHere".

use std::io::{self, BufRead, Read, Write};

use bytes::Bytes;

use super::TransportError;
use crate::proto::jute::Jute;
use crate::proto::quorum::{Direction, ZabPacket};
use crate::proto::records::{Id, QuorumPacket};
use crate::storage::stream::{read_i32, read_i64, write_i32, write_i64, write_string};
use crate::tree::DataTree;

/// The string that closes an in-stream snapshot (Apache's Learner checks it).
pub(super) const SNAPSHOT_SIGNATURE: &str = "BenWasHere";

/// Pre-allocation cap for counts read from the peer: a lying count then ends in EOF
/// instead of a huge allocation.
const PREALLOC_CAP: usize = 4096;

fn bad(what: &'static str, len: i64, limit: usize) -> TransportError {
    TransportError::BadLength { what, len, limit }
}

/// Reads a jute buffer bounded by `max_len`; `None` for a null buffer.
fn read_buffer(
    r: &mut dyn Read,
    what: &'static str,
    max_len: usize,
) -> Result<Option<Vec<u8>>, TransportError> {
    let len = read_i32(r)?;
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as usize > max_len {
        return Err(bad(what, len.into(), max_len));
    }
    let mut v = vec![0u8; len as usize];
    r.read_exact(&mut v)?;
    Ok(Some(v))
}

fn read_string(
    r: &mut dyn Read,
    what: &'static str,
    max_len: usize,
) -> Result<String, TransportError> {
    Ok(read_buffer(r, what, max_len)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default())
}

/// A vector count; null reads as empty.
fn read_count(r: &mut dyn Read, what: &'static str) -> Result<usize, TransportError> {
    match read_i32(r)? {
        -1 => Ok(0),
        n if n < 0 => Err(bad(what, n.into(), 0)),
        n => Ok(n as usize),
    }
}

/// Reads one QuorumPacket record and types it for direction `dir`. Only the record's own
/// bytes are consumed. `max_len` bounds its data buffer and authinfo strings.
pub(super) fn read_packet(
    r: &mut dyn Read,
    dir: Direction,
    max_len: usize,
) -> Result<ZabPacket, TransportError> {
    let kind = read_i32(r)?;
    let zxid = read_i64(r)?;
    let data = read_buffer(r, "packet data", max_len)?.map(Bytes::from);
    let count = read_count(r, "authinfo")?;
    let mut authinfo = Vec::with_capacity(count.min(PREALLOC_CAP));
    for _ in 0..count {
        let scheme = read_string(r, "authinfo scheme", max_len)?;
        let id = read_string(r, "authinfo id", max_len)?;
        authinfo.push(Id { scheme, id });
    }
    let rec = QuorumPacket {
        kind,
        zxid,
        data,
        authinfo,
    };
    Ok(ZabPacket::from_wire(rec, dir)?)
}

/// Appends one packet's record to `out` (the writer batches several into one syscall);
/// returns the record's zxid.
pub(super) fn encode_packet(pkt: &ZabPacket, out: &mut Vec<u8>) -> i64 {
    let rec = pkt.to_wire();
    rec.write_to(out);
    rec.zxid
}

/// Writes the in-stream snapshot: sessions (count, then id and timeout each), the tree's
/// ACL table, nodes and terminator, then the signature. No header and no seals.
pub(super) fn write_snapshot(
    w: &mut dyn Write,
    sessions: &[(i64, i32)],
    tree: &DataTree,
) -> io::Result<()> {
    write_i32(w, sessions.len() as i32)?;
    for (id, timeout) in sessions {
        write_i64(w, *id)?;
        write_i32(w, *timeout)?;
    }
    tree.serialize(w)?;
    write_string(w, SNAPSHOT_SIGNATURE)
}

/// A snapshot as the learner received it.
pub(super) struct ReceivedSnapshot {
    pub sessions: Vec<(i64, i32)>,
    pub tree: DataTree,
}

/// Reads what [`write_snapshot`] wrote, checking the signature. `max_len` bounds every
/// string and buffer in the tree.
pub(super) fn read_snapshot(
    r: &mut dyn BufRead,
    max_len: usize,
) -> Result<ReceivedSnapshot, TransportError> {
    let count = read_count(r, "session count")?;
    let mut sessions = Vec::with_capacity(count.min(PREALLOC_CAP));
    for _ in 0..count {
        let id = read_i64(r)?;
        let timeout = read_i32(r)?;
        sessions.push((id, timeout));
    }
    let tree = DataTree::deserialize(r, max_len)?;
    let signature = read_string(r, "snapshot signature", SNAPSHOT_SIGNATURE.len())?;
    if signature != SNAPSHOT_SIGNATURE {
        return Err(TransportError::MissingSignature(signature));
    }
    Ok(ReceivedSnapshot { sessions, tree })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::proto::records::LearnerInfo;

    #[test]
    fn packets_read_back_without_over_reading() {
        let a = ZabPacket::Request {
            session_id: 5,
            cxid: 2,
            kind: 4,
            request: Bytes::from_static(b"req"),
            authinfo: vec![Id::new("digest", "u:p")],
        };
        let b = ZabPacket::FollowerInfo {
            zxid: 1 << 32,
            info: LearnerInfo {
                serverid: 9,
                protocol_version: 0x10000,
                config_version: 0,
            },
        };
        let mut buf = Vec::new();
        encode_packet(&a, &mut buf);
        encode_packet(&b, &mut buf);
        buf.extend_from_slice(b"tail");
        let mut r = &buf[..];
        assert_eq!(read_packet(&mut r, Direction::ToLeader, 1024).unwrap(), a);
        assert_eq!(read_packet(&mut r, Direction::ToLeader, 1024).unwrap(), b);
        assert_eq!(r, b"tail");
    }

    #[test]
    fn oversized_and_negative_lengths_are_rejected() {
        let mut buf = Vec::new();
        write_i32(&mut buf, 2).unwrap();
        write_i64(&mut buf, 1).unwrap();
        write_i32(&mut buf, 2000).unwrap();
        let e = read_packet(&mut &buf[..], Direction::ToLearner, 1000).unwrap_err();
        assert!(matches!(e, TransportError::BadLength { len: 2000, .. }));
        buf.truncate(12);
        write_i32(&mut buf, -7).unwrap();
        assert!(read_packet(&mut &buf[..], Direction::ToLearner, 1000).is_err());
    }

    #[test]
    fn snapshot_round_trips_and_checks_signature() {
        let tree = DataTree::new();
        let mut buf = Vec::new();
        write_snapshot(&mut buf, &[(1, 3000), (2, 4000)], &tree).unwrap();
        // Layout: int count, (long id, int timeout)*, the tree stream, then "BenWasHere".
        assert_eq!(&buf[..4], &2i32.to_be_bytes());
        assert_eq!(&buf[4..12], &1i64.to_be_bytes());
        assert_eq!(&buf[12..16], &3000i32.to_be_bytes());
        let mut tree_bytes = Vec::new();
        tree.serialize(&mut tree_bytes).unwrap();
        assert_eq!(&buf[28..28 + tree_bytes.len()], &tree_bytes[..]);
        assert_eq!(&buf[28 + tree_bytes.len()..], b"\0\0\0\x0aBenWasHere");
        let got = read_snapshot(&mut &buf[..], 1 << 20).unwrap();
        assert_eq!(got.sessions, vec![(1, 3000), (2, 4000)]);
        assert_eq!(got.tree.digest(), tree.digest());
        // Corrupt the last byte of the signature.
        let last = buf.len() - 1;
        buf[last] = b'x';
        assert!(matches!(
            read_snapshot(&mut &buf[..], 1 << 20),
            Err(TransportError::MissingSignature(_))
        ));
    }
}
