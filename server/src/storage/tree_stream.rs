//! The snapshot tree stream parsed into plain records, independent of the DataTree type:
//! ACL cache (count, then index long + ACL vector each), nodes in pre-order (path, data buffer,
//! acl index long, StatPersisted; the root's path is ""), then the terminator path "/".
//! Used by the dump tool, by tests, and to check our snapshots against Apache's.

use std::io::{self, Read, Write};

use bytes::Bytes;

use super::stream::{
    read_buffer, read_count, read_i32, read_i64, read_string, write_buffer, write_i32, write_i64,
    write_string,
};
use crate::proto::jute::Jute;
use crate::proto::records::{Acl, Id, StatPersisted};

/// StatPersisted is fixed-size: 6 longs and 3 ints.
const STAT_PERSISTED_LEN: usize = 60;

/// One node as stored in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapNode {
    /// Absolute path; "" for the root.
    pub path: String,
    pub data: Option<Vec<u8>>,
    /// Index into the ACL cache; −1 is OPEN_ACL_UNSAFE.
    pub acl: i64,
    pub stat: StatPersisted,
}

/// The whole tree stream of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TreeStream {
    pub acls: Vec<(i64, Vec<Acl>)>,
    pub nodes: Vec<SnapNode>,
}

fn read_acl(r: &mut dyn Read) -> io::Result<Acl> {
    let perms = read_i32(r)?;
    let scheme = read_string(r)?;
    let id = read_string(r)?;
    Ok(Acl {
        perms,
        id: Id { scheme, id },
    })
}

/// Parses a tree stream, stopping right after the "/" terminator.
pub fn read_tree_stream(r: &mut dyn Read) -> io::Result<TreeStream> {
    let mut t = TreeStream::default();
    let n = read_count(r)?;
    for _ in 0..n {
        let idx = read_i64(r)?;
        let m = read_count(r)?;
        let mut acls = Vec::with_capacity(m.min(64));
        for _ in 0..m {
            acls.push(read_acl(r)?);
        }
        t.acls.push((idx, acls));
    }
    loop {
        let path = read_string(r)?;
        if path == "/" {
            return Ok(t);
        }
        let data = read_buffer(r)?;
        let acl = read_i64(r)?;
        let mut stat = [0u8; STAT_PERSISTED_LEN];
        r.read_exact(&mut stat)?;
        let stat = StatPersisted::from_bytes(Bytes::copy_from_slice(&stat))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        t.nodes.push(SnapNode {
            path,
            data,
            acl,
            stat,
        });
    }
}

/// Writes a tree stream (nodes must already be in pre-order, the root first as "").
pub fn write_tree_stream(w: &mut dyn Write, t: &TreeStream) -> io::Result<()> {
    write_i32(w, t.acls.len() as i32)?;
    for (idx, acls) in &t.acls {
        write_i64(w, *idx)?;
        write_i32(w, acls.len() as i32)?;
        for a in acls {
            write_i32(w, a.perms)?;
            write_string(w, &a.id.scheme)?;
            write_string(w, &a.id.id)?;
        }
    }
    for n in &t.nodes {
        write_string(w, &n.path)?;
        write_buffer(w, n.data.as_deref())?;
        write_i64(w, n.acl)?;
        w.write_all(&n.stat.to_bytes())?;
    }
    write_string(w, "/")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_stops_at_terminator() {
        let t = TreeStream {
            acls: vec![(1, Acl::read_unsafe())],
            nodes: vec![
                SnapNode {
                    path: "".into(),
                    data: Some(vec![]),
                    acl: -1,
                    stat: StatPersisted::default(),
                },
                SnapNode {
                    path: "/a".into(),
                    data: None,
                    acl: 1,
                    stat: StatPersisted {
                        czxid: 5,
                        pzxid: 7,
                        ..Default::default()
                    },
                },
            ],
        };
        let mut v = Vec::new();
        write_tree_stream(&mut v, &t).unwrap();
        v.extend_from_slice(b"after");
        let mut r = &v[..];
        assert_eq!(read_tree_stream(&mut r).unwrap(), t);
        assert_eq!(r, b"after");
    }
}
