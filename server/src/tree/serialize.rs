//! The snapshot's tree sections (facts §13 parts 3–5): the ACL table, the nodes in
//! pre-order with the root written as "", and the "/" terminator. The file header,
//! sessions and seals around them belong to the storage layer.

use std::io::{BufRead, Write};
use std::sync::{mpsc, Arc};

use bytes::BufMut;

use super::acl_cache::AclCache;
use super::node::{Name, Node};
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
    ///
    /// Snapshots list nodes in pre-order, so the tree is built in one pass without walking
    /// from the root for every node (see [`Builder`]); nodes in any other order (a parent
    /// before its children is all that is required) still load, only slower.
    pub fn deserialize(r: &mut dyn BufRead, max_len: usize) -> Result<DataTree, TreeError> {
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
        // This thread reads and decodes the nodes (and sums their digests and sizes);
        // another builds the tree from them, batch by batch.
        let (tx, rx) = mpsc::sync_channel::<NodeBatch>(BATCHES_IN_FLIGHT);
        let (parsed, built) = std::thread::scope(|scope| {
            let builder = scope.spawn(move || build_tree(t, rx));
            let mut batch = NodeBatch::default();
            let mut sums = (0u64, 0u64);
            let parsed = (|| -> Result<(), TreeError> {
                let stopped = std::cell::Cell::new(false);
                let mut sink = |path: &str, node: Node| -> Result<(), TreeError> {
                    let (digest, size) = DataTree::digest_and_size(path_or_root(path), &node);
                    sums = (sums.0.wrapping_add(digest), sums.1 + size);
                    batch.push(path, node);
                    if batch.nodes.len() >= BATCH_NODES {
                        // A closed channel means the builder failed: its error is reported.
                        stopped.set(tx.send(std::mem::take(&mut batch)).is_err());
                    }
                    Ok(())
                };
                while !stopped.get() && s.next_node(&mut sink)? {}
                Ok(())
            })();
            // Whatever was decoded goes to the builder, also before a decoding error: a
            // bad node before it is the error to report.
            if !batch.nodes.is_empty() {
                let _ = tx.send(std::mem::take(&mut batch));
            }
            drop(tx);
            (parsed.map(|()| sums), builder.join())
        });
        let built = match built {
            Ok(b) => b,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // The builder only saw nodes before any decoding error: its error comes first.
        let (mut t, root) = built?;
        let (digest, size) = parsed?;
        t.root = root;
        t.digest = t.digest.wrapping_add(digest);
        t.data_size += size;
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

/// Nodes handed from the decoding thread to the building one at a time.
const BATCH_NODES: usize = 4096;
/// Batches decoded ahead of the builder at most.
const BATCHES_IN_FLIGHT: usize = 4;

/// Decoded nodes with their paths (kept in one string).
#[derive(Default)]
struct NodeBatch {
    paths: String,
    ends: Vec<usize>,
    /// Already shared, so the builder only moves pointers (each is still its only owner
    /// until it is hung in the tree, so children can be added to it in place).
    nodes: Vec<Arc<Node>>,
}

impl NodeBatch {
    fn push(&mut self, path: &str, node: Node) {
        self.paths.push_str(path);
        self.ends.push(self.paths.len());
        self.nodes.push(Arc::new(node));
    }
}

/// The root is "" in the stream and "/" everywhere else.
fn path_or_root(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// The building side of [`DataTree::deserialize`]: ACL users, counts and the
/// ephemeral/container/TTL sets, and the tree itself. Returns the tree (without its root)
/// and the root.
fn build_tree(
    mut t: DataTree,
    batches: mpsc::Receiver<NodeBatch>,
) -> Result<(DataTree, Arc<Node>), TreeError> {
    let mut builder: Option<Builder> = None;
    // ACL users are counted per run of nodes sharing an index (usually all of them).
    let mut acl_run: Option<(i64, u64)> = None;
    for batch in batches {
        let mut start = 0;
        for (end, node) in batch.ends.iter().zip(batch.nodes) {
            let path = &batch.paths[start..*end];
            start = *end;
            match acl_run {
                Some((index, ref mut n)) if index == node.acl => *n += 1,
                _ => {
                    if !t.acls.contains(node.acl) {
                        return Err(TreeError::UnknownAclIndex {
                            path: path.to_string(),
                            index: node.acl,
                        });
                    }
                    if let Some((index, n)) = acl_run {
                        t.acls.add_usages(index, n);
                    }
                    acl_run = Some((node.acl, 1));
                }
            }
            if path.is_empty() {
                if builder.is_some() {
                    return Err(TreeError::DuplicatePath(String::new()));
                }
                t.account_kind("/", &node);
                builder = Some(Builder::new(node));
                continue;
            }
            let Some(b) = builder.as_mut() else {
                let parent = match path.rfind('/') {
                    Some(i) if i > 0 => &path[..i],
                    _ => "",
                };
                return Err(TreeError::MissingParent {
                    parent: parent.to_string(),
                    path: path.to_string(),
                });
            };
            t.account_kind(path, &node);
            b.add(path, node)?;
        }
    }
    if let Some((index, n)) = acl_run {
        t.acls.add_usages(index, n);
    }
    let root = builder.ok_or(TreeError::NoRoot)?.finish()?;
    Ok((t, root))
}

/// Builds a tree from nodes in pre-order (a snapshot's order) in one pass. The nodes on
/// the path to the last one read are kept open (owned, not yet shared); when the stream
/// leaves a subtree its node is hung under its parent. A node whose parent is not open
/// (the stream is not in pre-order) is inserted by walking down from the root instead.
struct Builder {
    /// The path of the deepest open node ("" for the root).
    path: String,
    /// Open nodes, the root first, each with the length of its path in `path`. Each is
    /// its `Arc`'s only owner, so `make_mut` never copies.
    open: Vec<(usize, Arc<Node>)>,
}

impl Builder {
    fn new(root: Arc<Node>) -> Builder {
        Builder {
            path: String::new(),
            open: vec![(0, root)],
        }
    }

    /// Adds the node at `path` ("/a/b"), whose parent must have been added before.
    fn add(&mut self, path: &str, node: Arc<Node>) -> Result<(), TreeError> {
        let slash = path.rfind('/').ok_or_else(|| TreeError::MissingParent {
            parent: String::new(),
            path: path.to_string(),
        })?;
        let parent = &path[..slash];
        loop {
            let top = self.open.last().map_or(0, |(len, _)| *len);
            if &self.path[..top] == parent {
                self.path.push_str(&path[slash..]);
                self.open.push((self.path.len(), node));
                return Ok(());
            }
            if self.open.len() == 1 {
                return self.insert_walking(path, slash, node);
            }
            self.close_top()?;
        }
    }

    /// Hangs the deepest open node under its parent (the next deepest).
    fn close_top(&mut self) -> Result<(), TreeError> {
        let Some((len, node)) = self.open.pop() else {
            return Ok(());
        };
        let parent_len = self.open.last().map_or(0, |(l, _)| *l);
        let name = Name::new(&self.path[parent_len + 1..len]);
        if let Some((_, parent)) = self.open.last_mut() {
            if Arc::make_mut(parent).children.insert(name, node).is_some() {
                return Err(TreeError::DuplicatePath(self.path[..len].to_string()));
            }
        }
        self.path.truncate(parent_len);
        Ok(())
    }

    /// The slow path for a node whose parent is not open: everything open but the root has
    /// been closed, so the parent is found by walking from the root.
    fn insert_walking(
        &mut self,
        path: &str,
        slash: usize,
        node: Arc<Node>,
    ) -> Result<(), TreeError> {
        let missing = || TreeError::MissingParent {
            parent: path[..slash].to_string(),
            path: path.to_string(),
        };
        let Some((_, root)) = self.open.first_mut() else {
            return Err(missing());
        };
        let mut cur: &mut Node = Arc::make_mut(root);
        if slash > 0 {
            for name in path[1..slash].split('/') {
                cur = Arc::make_mut(cur.children.get_mut(name).ok_or_else(missing)?);
            }
        }
        let name = Name::new(&path[slash + 1..]);
        if cur.children.contains_key(&name) {
            return Err(TreeError::DuplicatePath(path.to_string()));
        }
        cur.children.insert(name, node);
        Ok(())
    }

    /// Closes every open node and returns the root.
    fn finish(mut self) -> Result<Arc<Node>, TreeError> {
        while self.open.len() > 1 {
            self.close_top()?;
        }
        self.open
            .pop()
            .map(|(_, root)| root)
            .ok_or(TreeError::NoRoot)
    }
}

/// Bytes of a serialized StatPersisted.
const STAT_LEN: usize = 8 * 4 + 4 * 3 + 8 * 2;

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn stat_at(b: &[u8], at: usize) -> StatPersisted {
    StatPersisted {
        czxid: be_i64(b, at),
        mzxid: be_i64(b, at + 8),
        ctime: be_i64(b, at + 16),
        mtime: be_i64(b, at + 24),
        version: be_i32(b, at + 32),
        cversion: be_i32(b, at + 36),
        aversion: be_i32(b, at + 40),
        ephemeral_owner: be_i64(b, at + 44),
        pzxid: be_i64(b, at + 52),
    }
}

/// Hands each node, with its path, to the tree being built.
type NodeSink<'f> = dyn FnMut(&str, Node) -> Result<(), TreeError> + 'f;

/// Minimal jute reader over a byte stream (the snapshot may be far larger than memory
/// we want to buffer at once). Whole node records are decoded in place from the reader's
/// buffer when they lie in it, which is nearly always.
struct Stream<'a> {
    r: &'a mut dyn BufRead,
    max_len: usize,
}

impl Stream<'_> {
    /// Reads the next node and hands it to `sink`; false at the "/" terminator.
    fn next_node(&mut self, sink: &mut NodeSink<'_>) -> Result<bool, TreeError> {
        if let Some(more) = self.node_in_buffer(sink)? {
            return Ok(more);
        }
        let path = self.string("path")?;
        if path == "/" {
            return Ok(false);
        }
        let data = self.buffer("data")?.map(Arc::<[u8]>::from);
        let acl = self.i64()?;
        let stat = self.stat()?;
        sink(&path, Node::new(data, acl, stat))?;
        Ok(true)
    }

    /// Decodes a whole node record in place in the reader's buffer, if it is all there
    /// (None when it is not: the caller reads it field by field).
    fn node_in_buffer(&mut self, sink: &mut NodeSink<'_>) -> Result<Option<bool>, TreeError> {
        let max_len = self.max_len;
        let check = |what: &'static str, len: i32| -> Result<Option<usize>, TreeError> {
            if len == -1 {
                return Ok(None);
            }
            if len < 0 || len as usize > max_len {
                return Err(TreeError::BadLength {
                    what,
                    len: i64::from(len),
                    limit: max_len,
                });
            }
            Ok(Some(len as usize))
        };
        let b = self.r.fill_buf()?;
        if b.len() < 4 {
            return Ok(None);
        }
        let path_len = check("path", be_i32(b, 0))?.ok_or(TreeError::Null("path"))?;
        let path_end = 4 + path_len;
        if b.len() < path_end + 4 {
            return Ok(None);
        }
        let path = String::from_utf8_lossy(&b[4..path_end]);
        if path == "/" {
            self.r.consume(path_end);
            return Ok(Some(false));
        }
        let data_len = check("data", be_i32(b, path_end))?;
        let data_end = path_end + 4 + data_len.unwrap_or(0);
        let end = data_end + 8 + STAT_LEN;
        if b.len() < end {
            return Ok(None);
        }
        let data = data_len.map(|_| Arc::<[u8]>::from(&b[path_end + 4..data_end]));
        let node = Node::new(data, be_i64(b, data_end), stat_at(b, data_end + 8));
        sink(&path, node)?;
        self.r.consume(end);
        Ok(Some(true))
    }

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

    /// A tree stream of `paths` (root first as ""), each with its path as data.
    fn stream_of(paths: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        v.put_i32(0);
        for p in paths {
            v.put_ustring(p);
            v.put_buffer(Some(p.as_bytes()));
            v.put_i64(-1);
            StatPersisted::default().write_to(&mut v);
        }
        v.put_ustring("/");
        v
    }

    #[test]
    fn loads_nodes_in_any_order_that_puts_parents_first() {
        // Pre-order with unsorted siblings (as Apache writes them), then children of
        // subtrees the stream already left, then a child of one of those.
        let paths = [
            "",
            "/b",
            "/b/y",
            "/b/x",
            "/a",
            "/a/1",
            "/a/1/deep",
            "/b/z",
            "/a/2",
            "/a/2/q",
            "/c",
            "/a/1/deeper",
        ];
        let t = DataTree::deserialize(&mut stream_of(&paths).as_slice(), MAX).expect("load");
        assert_eq!(t.node_count(), paths.len());
        for p in &paths[1..] {
            let data = t.get_data(p).and_then(|d| d.0);
            assert_eq!(data.as_deref(), Some(p.as_bytes()), "{p}");
        }
        let mut kids = t.get_children("/a/1").expect("/a/1").0;
        kids.sort();
        assert_eq!(kids, vec!["deep", "deeper"]);
        assert_eq!(t.get_children("/b").expect("/b").0, vec!["x", "y", "z"]);
        assert_eq!(t.digest(), full_digest(&t));
        // The same nodes in pre-order give the same tree.
        let mut sorted = paths.to_vec();
        sorted.sort();
        let u = DataTree::deserialize(&mut stream_of(&sorted).as_slice(), MAX).expect("load");
        assert_eq!(u.digest(), t.digest());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        t.serialize(&mut a).expect("serialize");
        u.serialize(&mut b).expect("serialize");
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_duplicate_paths_wherever_they_are() {
        for paths in [
            &["", "/a", "/a"][..],
            &["", "/a", "/a/b", "/a/b"],
            &["", "/a", "/a/b", "/c", "/a/b"],
            &["", "/a", "/b", "/a"],
            &["", ""],
        ] {
            assert!(
                matches!(
                    DataTree::deserialize(&mut stream_of(paths).as_slice(), MAX),
                    Err(TreeError::DuplicatePath(_))
                ),
                "{paths:?}"
            );
        }
        assert!(matches!(
            DataTree::deserialize(&mut stream_of(&["", "/a", "/b/c"]).as_slice(), MAX),
            Err(TreeError::MissingParent { .. })
        ));
    }

    #[test]
    fn records_split_across_reads_load_the_same() {
        // A reader that hands out a few bytes at a time: every record straddles buffers.
        struct Dribble<'a>(&'a [u8], usize);
        impl std::io::Read for Dribble<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.1.min(out.len()).min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let t = sample_tree();
        let mut bytes = Vec::new();
        t.serialize(&mut bytes).expect("serialize");
        for step in [1, 3, 7, 50] {
            let mut r = std::io::BufReader::with_capacity(step, Dribble(&bytes, step));
            let back = DataTree::deserialize(&mut r, MAX).expect("load");
            assert_eq!(back.digest(), t.digest(), "{step}");
            assert_eq!(back.node_count(), t.node_count(), "{step}");
        }
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
