//! The snapshot's tree sections (facts §13 parts 3–5): the ACL table, the nodes in
//! pre-order with the root written as "", and the "/" terminator. The file header,
//! sessions and seals around them belong to the storage layer.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::BufMut;

use super::acl_cache::AclCache;
use super::node::Node;
use super::quota::{LIMIT_NODE, QUOTA_ROOT};
use super::{DataTree, TreeError};
use crate::proto::jute::{Jute, JuteWrite};
use crate::proto::records::{Acl, Id, StatPersisted};

/// Bytes gathered before handing them to the writer.
const FLUSH_AT: usize = 64 * 1024;

impl DataTree {
    /// Writes the ACL table, every node in pre-order (children in name order) and the
    /// terminator. Takes `&self`: serialize a clone while the original keeps changing.
    pub fn serialize(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(FLUSH_AT + 1024);
        write_acls(&self.acls, &mut buf);
        let mut result = Ok(());
        self.for_each_node(|path, node| {
            if result.is_err() {
                return;
            }
            write_node(&mut buf, if path == "/" { "" } else { path }, node);
            if buf.len() >= FLUSH_AT {
                result = w.write_all(&buf);
                buf.clear();
            }
        });
        result?;
        buf.put_ustring("/");
        w.write_all(&buf)
    }

    /// Reads what [`DataTree::serialize`] (or Apache) wrote, rebuilding the child sets,
    /// ephemeral/container/TTL sets, quota paths and usage, and the digest. Strings and
    /// buffers longer than `max_len` are rejected. The last processed zxid is left at 0
    /// for the caller to set.
    pub fn deserialize(r: &mut dyn Read, max_len: usize) -> Result<DataTree, TreeError> {
        let mut s = Stream { r, max_len };
        let mut t = DataTree::empty();
        let mut have_root = false;
        let entries = s.i32()?;
        for _ in 0..entries.max(0) {
            let index = s.i64()?;
            let count = s.len("acl list")?.ok_or(TreeError::Null("acl list"))?;
            let mut acls = Vec::with_capacity(count.min(64));
            for _ in 0..count {
                let perms = s.i32()?;
                let scheme = s.string("acl scheme")?;
                let id = s.string("acl id")?;
                acls.push(Acl {
                    perms,
                    id: Id { scheme, id },
                });
            }
            t.acls.insert_loaded(index, acls);
        }
        loop {
            let path = s.string("path")?;
            if path == "/" {
                break;
            }
            let data = s.buffer("data")?;
            let acl = s.i64()?;
            let stat = s.stat()?;
            if !t.acls.contains(acl) {
                return Err(TreeError::UnknownAclIndex { path, index: acl });
            }
            t.acls.add_usage(acl);
            let data = data.map(Arc::<[u8]>::from);
            let node = Node::new(data, acl, stat);
            if path.is_empty() {
                if have_root {
                    return Err(TreeError::DuplicatePath(path));
                }
                have_root = true;
                t.insert_root(node);
                continue;
            }
            let parent = match path.rfind('/') {
                Some(0) if have_root => "/",
                Some(i) if i > 0 => &path[..i],
                _ => "",
            };
            if parent.is_empty() || t.node(parent).is_none() {
                return Err(TreeError::MissingParent {
                    parent: parent.to_string(),
                    path,
                });
            }
            if t.node(&path).is_some() {
                return Err(TreeError::DuplicatePath(path));
            }
            t.insert_child(&path, node);
        }
        if !have_root {
            return Err(TreeError::NoRoot);
        }
        t.setup_quota();
        t.acls.purge_unused();
        Ok(t)
    }

    /// Registers every quota found under /zookeeper/quota and recomputes its usage, as
    /// Apache's `setupQuota` does after loading.
    fn setup_quota(&mut self) {
        let suffix = format!("/{LIMIT_NODE}");
        let Some(quota_root) = self.node(QUOTA_ROOT) else {
            return;
        };
        let mut prefixes = Vec::new();
        let mut stack = vec![(QUOTA_ROOT.to_string(), quota_root)];
        while let Some((path, node)) = stack.pop() {
            if node.children.is_empty() {
                if let Some(end) = path.find(&suffix) {
                    let real = &path[QUOTA_ROOT.len()..end];
                    if real.is_empty() {
                        tracing::warn!(%path, "ignoring quota limit node with empty namespace");
                    } else {
                        prefixes.push(real.to_string());
                    }
                }
            }
            for (name, child) in node.children.iter() {
                stack.push((format!("{path}/{name}"), child));
            }
        }
        for prefix in prefixes {
            self.update_quota_for_path(&prefix);
            self.quota_paths.insert(Arc::from(prefix.as_str()));
        }
    }
}

fn write_acls(acls: &AclCache, buf: &mut Vec<u8>) {
    buf.put_i32(acls.len() as i32);
    for (index, list) in acls.entries() {
        buf.put_i64(index);
        buf.put_i32(list.len() as i32);
        for a in list {
            a.write_to(buf);
        }
    }
}

fn write_node(buf: &mut Vec<u8>, path: &str, node: &Node) {
    buf.put_ustring(path);
    buf.put_buffer(node.data.as_deref());
    buf.put_i64(node.acl);
    node.stat.write_to(buf);
}

/// Minimal jute reader over a byte stream (the snapshot may be far larger than memory
/// we want to buffer at once).
struct Stream<'a> {
    r: &'a mut dyn Read,
    max_len: usize,
}

impl Stream<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], TreeError> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        Ok(b)
    }

    fn i32(&mut self) -> Result<i32, TreeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, TreeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A length prefix: `None` for −1, an error for other negatives or above the limit.
    fn len(&mut self, what: &'static str) -> Result<Option<usize>, TreeError> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 || len as usize > self.max_len {
            return Err(TreeError::BadLength {
                what,
                len: i64::from(len),
                limit: self.max_len,
            });
        }
        Ok(Some(len as usize))
    }

    fn buffer(&mut self, what: &'static str) -> Result<Option<Vec<u8>>, TreeError> {
        let Some(n) = self.len(what)? else {
            return Ok(None);
        };
        let mut v = vec![0u8; n];
        self.r.read_exact(&mut v)?;
        Ok(Some(v))
    }

    fn string(&mut self, what: &'static str) -> Result<String, TreeError> {
        let v = self.buffer(what)?.ok_or(TreeError::Null(what))?;
        Ok(match String::from_utf8(v) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn stat(&mut self) -> Result<StatPersisted, TreeError> {
        Ok(StatPersisted {
            czxid: self.i64()?,
            mzxid: self.i64()?,
            ctime: self.i64()?,
            mtime: self.i64()?,
            version: self.i32()?,
            cversion: self.i32()?,
            aversion: self.i32()?,
            ephemeral_owner: self.i64()?,
            pzxid: self.i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use bytes::Bytes;

    use super::*;
    use crate::proto::codes::{op, perms, EphemeralKind, CONTAINER_EPHEMERAL_OWNER};
    use crate::proto::txn::{CreateContainerTxn, CreateTtlTxn, SetAclTxn, TxnBody};
    use crate::proto::ErrorCode;
    use crate::tree::apply_tests::{create_body, full_digest, txn};
    use crate::tree::{quota, DIGEST_VERSION};

    const MAX: usize = 2 * 0xfffff;

    fn round_trip(t: &DataTree) -> (Vec<u8>, DataTree) {
        let mut out = Vec::new();
        t.serialize(&mut out).expect("serialize");
        let back = DataTree::deserialize(&mut out.as_slice(), MAX).expect("deserialize");
        (out, back)
    }

    fn sample_tree() -> DataTree {
        let s = 0x0100_0000_0000_00aa;
        let mut t = DataTree::new();
        let mut z = 0;
        let mut apply = |t: &mut DataTree, kind, body| {
            z += 1;
            let r = t.apply(&txn(z, s, kind, body));
            assert_eq!(r.err, ErrorCode::Ok);
        };
        apply(&mut t, op::CREATE, create_body("/a", b"hello", false, -1));
        apply(&mut t, op::CREATE, create_body("/a/e", b"", true, -1));
        apply(&mut t, op::CREATE, create_body("/a/b", b"x", false, -1));
        apply(
            &mut t,
            op::CREATE,
            create_body("/a/b/c", b"deep", false, -1),
        );
        apply(
            &mut t,
            op::SET_ACL,
            TxnBody::SetAcl(SetAclTxn {
                path: "/a/b".into(),
                acl: vec![Acl::new(perms::ALL, "digest", "u:h")],
                version: 1,
            }),
        );
        apply(
            &mut t,
            op::CREATE_CONTAINER,
            TxnBody::CreateContainer(CreateContainerTxn {
                path: "/c".into(),
                data: None,
                acl: Acl::read_unsafe(),
                parent_cversion: -1,
            }),
        );
        apply(
            &mut t,
            op::CREATE_TTL,
            TxnBody::CreateTtl(CreateTtlTxn {
                path: "/t".into(),
                data: Some(Bytes::from_static(b"t")),
                acl: Acl::open_unsafe(),
                parent_cversion: -1,
                ttl: 5000,
            }),
        );
        for (p, d) in [
            ("/zookeeper/quota/a", ""),
            ("/zookeeper/quota/a/zookeeper_limits", "count=10,bytes=-1"),
            ("/zookeeper/quota/a/zookeeper_stats", "count=0,bytes=0"),
        ] {
            apply(&mut t, op::CREATE, create_body(p, d.as_bytes(), false, -1));
        }
        t
    }

    #[test]
    fn round_trip_keeps_everything() {
        let t = sample_tree();
        let (bytes, back) = round_trip(&t);
        assert_eq!(back.digest(), t.digest());
        assert_eq!(back.digest(), full_digest(&back));
        assert_eq!(back.node_count(), t.node_count());
        assert_eq!(back.approximate_data_size(), t.approximate_data_size());
        let mut paths = Vec::new();
        t.for_each_node(|p, _| paths.push(p.to_string()));
        assert_eq!(paths.len(), t.node_count());
        for path in &paths {
            assert_eq!(back.stat(path), t.stat(path), "{path}");
            assert_eq!(back.get_data(path), t.get_data(path), "{path}");
            assert_eq!(back.get_acl(path), t.get_acl(path), "{path}");
            assert_eq!(back.get_children(path), t.get_children(path), "{path}");
        }
        assert_eq!(back.ephemerals_of(0x0100_0000_0000_00aa), vec!["/a/e"]);
        assert_eq!(back.containers, t.containers);
        assert_eq!(back.ttls, t.ttls);
        assert_eq!(back.max_prefix_with_quota("/a/x").as_deref(), Some("/a"));
        let stats = back.get_data(&quota::stat_path("/a")).and_then(|d| d.0);
        assert_eq!(stats.as_deref(), Some(&b"count=4,bytes=10"[..]));
        assert_eq!(back.acl_count(), t.acl_count());
        // and the bytes are stable
        let (again, _) = round_trip(&back);
        assert_eq!(again, bytes);
        // root first, as ""
        assert_eq!(&bytes[..4], &(t.acl_count() as i32).to_be_bytes());
    }

    #[test]
    fn clone_serializes_the_state_at_clone_time() {
        let mut t = sample_tree();
        let snap = t.clone();
        let d = snap.digest();
        t.apply(&txn(
            100,
            1,
            op::CREATE,
            create_body("/late", b"", false, -1),
        ));
        let (_, back) = round_trip(&snap);
        assert_eq!(back.digest(), d);
        assert_eq!(back.stat("/late"), None);
        assert!(t.stat("/late").is_some());
    }

    #[test]
    fn rejects_corrupt_streams() {
        let t = sample_tree();
        let mut bytes = Vec::new();
        t.serialize(&mut bytes).expect("serialize");
        // truncated anywhere: an error, never a panic
        for cut in [0, 3, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                DataTree::deserialize(&mut &bytes[..cut], MAX).is_err(),
                "{cut}"
            );
        }
        // a length above the limit
        assert!(matches!(
            DataTree::deserialize(&mut bytes.as_slice(), 3),
            Err(TreeError::BadLength { .. })
        ));
        // an ACL index nobody defined
        let mut v = Vec::new();
        v.put_i32(0);
        v.put_ustring("");
        v.put_buffer(None);
        v.put_i64(5);
        StatPersisted::default().write_to(&mut v);
        assert!(matches!(
            DataTree::deserialize(&mut v.as_slice(), MAX),
            Err(TreeError::UnknownAclIndex { index: 5, .. })
        ));
        // a child before its parent
        let mut v = Vec::new();
        v.put_i32(0);
        for p in ["", "/x/y"] {
            v.put_ustring(p);
            v.put_buffer(None);
            v.put_i64(-1);
            StatPersisted::default().write_to(&mut v);
        }
        v.put_ustring("/");
        assert!(matches!(
            DataTree::deserialize(&mut v.as_slice(), MAX),
            Err(TreeError::MissingParent { .. })
        ));
        // no root at all
        let mut v = Vec::new();
        v.put_i32(0);
        v.put_ustring("/");
        assert!(matches!(
            DataTree::deserialize(&mut v.as_slice(), MAX),
            Err(TreeError::NoRoot)
        ));
    }

    /// A snapshot file written by Apache ZooKeeper: header, sessions, then the tree,
    /// then the seal and the digest section.
    struct ApacheSnapshot {
        sessions: Vec<(i64, i32)>,
        tree: DataTree,
        digest: i64,
    }

    fn read_apache(name: &str) -> ApacheSnapshot {
        let path = format!(
            "{}/tests/data/apache-3.8/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).expect("fixture");
        let mut r = bytes.as_slice();
        let mut s = Stream {
            r: &mut r,
            max_len: MAX,
        };
        assert_eq!(s.i32().expect("magic"), 0x5A4B_534E);
        assert_eq!(s.i32().expect("version"), 2);
        assert_eq!(s.i64().expect("dbid"), -1);
        let n = s.i32().expect("sessions");
        let sessions = (0..n)
            .map(|_| (s.i64().expect("id"), s.i32().expect("timeout")))
            .collect();
        let tree = DataTree::deserialize(&mut r, MAX).expect("apache tree");
        let mut s = Stream {
            r: &mut r,
            max_len: MAX,
        };
        let _seal = s.i64().expect("seal");
        assert_eq!(s.string("seal").expect("seal"), "/");
        let _zxid = s.i64().expect("digest zxid");
        assert_eq!(s.i32().expect("digest version"), DIGEST_VERSION);
        let digest = s.i64().expect("digest");
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).expect("rest");
        ApacheSnapshot {
            sessions,
            tree,
            digest,
        }
    }

    #[test]
    fn apache_empty_snapshot_matches_fresh_tree() {
        let snap = read_apache("snapshot.0");
        assert!(snap.sessions.is_empty());
        let fresh = DataTree::new();
        // Before any txn Apache writes a placeholder digest of 0; the real check of the
        // digest is on snapshot.27, which covers "/" and "/zookeeper" too.
        assert_eq!(snap.digest, 0);
        assert_eq!(snap.tree.digest(), fresh.digest());
        assert_eq!(fresh.digest(), full_digest(&fresh));
        for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
            assert_eq!(snap.tree.stat(p), fresh.stat(p), "{p}");
            assert_eq!(snap.tree.get_acl(p), fresh.get_acl(p), "{p}");
            assert_eq!(snap.tree.get_data(p), fresh.get_data(p), "{p}");
        }
        assert_eq!(snap.tree.node_count(), fresh.node_count());
        // and our encoding of a fresh tree is what Apache wrote, up to sibling order
        let mut ours = Vec::new();
        fresh.serialize(&mut ours).expect("serialize");
        let theirs = std::fs::read(format!(
            "{}/tests/data/apache-3.8/snapshot.0",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        assert_eq!(theirs.len(), 16 + 4 + ours.len() + 8 + 5 + 20 + 8 + 5);
    }

    #[test]
    fn apache_snapshot_with_data_loads_and_digests_identically() {
        let snap = read_apache("snapshot.27");
        let t = &snap.tree;
        assert_eq!(t.digest(), snap.digest, "digest differs from Apache's");
        // the kazoo session that owns /app/eph, plus the zkCli sessions not yet expired
        let session = 0x0100_0007_2822_0000;
        assert!(snap.sessions.iter().any(|(id, _)| *id == session));

        let (data, stat) = t.get_data("/app/cfg").expect("cfg");
        assert_eq!(data.as_deref(), Some(&br#"{"k":3}"#[..]));
        assert_eq!(stat.version, 2);
        assert_eq!(t.get_data("/app/empty").and_then(|d| d.0), None);
        let mut kids = t.get_children("/app").expect("app").0;
        kids.sort();
        assert_eq!(
            kids,
            vec!["cfg", "empty", "eph", "seq-0000000002", "seq-0000000003"]
        );
        // /app had 6 creates (tmp was created and deleted): stored cversion 6, 5 left
        let app = t.meta("/app").expect("app");
        assert_eq!((app.stat.cversion, app.num_children), (6, 5));
        assert_eq!(t.stat("/app").map(|s| s.cversion), Some(7));
        assert_eq!(app.stat.aversion, 1);
        assert_eq!(t.ephemerals_of(session), vec!["/app/eph"]);
        assert_eq!(t.stat("/app/eph").map(|s| s.ephemeral_owner), Some(session));

        let secure = t.get_acl("/secure").expect("secure").0;
        assert_eq!(secure.len(), 1);
        assert_eq!(secure[0].id.scheme, "digest");
        assert!(secure[0].id.id.starts_with("u:"));
        let ro = t.get_acl("/ro").expect("ro").0;
        assert_eq!(ro[0], Acl::new(perms::READ, "world", "anyone"));
        assert_eq!(ro[1], Acl::new(perms::ALL, "ip", "127.0.0.1"));

        let cont = t.meta("/cont").expect("cont");
        assert_eq!(cont.stat.ephemeral_owner, CONTAINER_EPHEMERAL_OWNER);
        assert_eq!(t.container_candidates(), vec!["/cont"]);
        let ttl = t.meta("/ttl").expect("ttl");
        assert_eq!(
            EphemeralKind::of(ttl.stat.ephemeral_owner),
            EphemeralKind::Ttl(60000)
        );
        assert_eq!(t.expired_ttl_nodes(ttl.stat.mtime + 60001), vec!["/ttl"]);

        let stats = |p: &str| {
            t.get_data(&quota::stat_path(p))
                .and_then(|d| d.0)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        assert_eq!(stats("/q").as_deref(), Some("count=3,bytes=8"));
        assert_eq!(stats("/app").as_deref(), Some("count=6,bytes=15"));
        assert!(!t.quota_exceeded("/app/x", 0, 1));
        let mut big = t.clone();
        for i in 0..14 {
            let p = format!("/app/n{i}");
            big.apply(&txn(
                0x100 + i,
                0,
                op::CREATE,
                create_body(&p, b"", false, -1),
            ));
        }
        assert!(big.quota_exceeded("/app/x", 0, 1), "countHardLimit=20");

        // what we write, we and Apache's layout read back identically
        let (_, back) = round_trip(t);
        assert_eq!(back.digest(), snap.digest);
        assert_eq!(back.get_acl("/secure"), t.get_acl("/secure"));
    }
}
