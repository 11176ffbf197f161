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
        if let Some(root) = self.nodes.get("/") {
            write_node(&mut buf, "", root);
            let mut stack = vec![root.children.iter()];
            while let Some(top) = stack.last_mut() {
                let Some(child) = top.next() else {
                    stack.pop();
                    continue;
                };
                let Some(node) = self.nodes.get(child.full().as_ref()) else {
                    continue;
                };
                write_node(&mut buf, child.full(), node);
                if buf.len() >= FLUSH_AT {
                    w.write_all(&buf)?;
                    buf.clear();
                }
                stack.push(node.children.iter());
            }
        }
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
            let key: Arc<str> = if path.is_empty() {
                Arc::from("/")
            } else {
                let parent = match path.rfind('/') {
                    Some(0) => "/",
                    Some(i) => &path[..i],
                    None => "",
                };
                if !t.nodes.contains_key(parent) {
                    return Err(TreeError::MissingParent {
                        parent: parent.to_string(),
                        path,
                    });
                }
                Arc::from(path.as_str())
            };
            if t.nodes.contains_key(key.as_ref()) {
                return Err(TreeError::DuplicatePath(path));
            }
            let data = data.map(Arc::<[u8]>::from);
            t.insert_loaded(key.clone(), Node::new(data, acl, stat));
            if key.as_ref() != "/" {
                t.link_child(&key);
            }
        }
        if !t.nodes.contains_key("/") {
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
        let lo = format!("{QUOTA_ROOT}/");
        let hi = format!("{QUOTA_ROOT}0");
        let range = (
            std::ops::Bound::Included(lo.as_str()),
            std::ops::Bound::Excluded(hi.as_str()),
        );
        let prefixes: Vec<String> = self
            .nodes
            .range::<_, str>(range)
            .filter(|(p, n)| p.ends_with(&suffix) && n.children.is_empty())
            .filter_map(|(p, _)| {
                let end = p.find(&suffix)?;
                let real = &p[QUOTA_ROOT.len()..end];
                if real.is_empty() {
                    tracing::warn!(path = %p, "ignoring quota limit node with empty namespace");
                    None
                } else {
                    Some(real.to_string())
                }
            })
            .collect();
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
