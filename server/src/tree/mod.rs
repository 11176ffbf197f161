//! The in-memory znode tree (Apache's `DataTree`/`DataNode`): nodes, ACL table,
//! ephemeral/container/TTL bookkeeping, quotas, the tree digest and the snapshot node
//! stream.
//!
//! The tree is a persistent structure: nodes are `Arc`s that own their children in
//! copy-on-write maps, and every other collection is persistent (`imbl`) too, so
//! [`DataTree::clone`] is O(1). A snapshot clones the tree and serializes the clone on
//! another thread while the server keeps applying txns to the original; a change then
//! copies only the nodes on the path from the root to the changed node. There is no
//! global path map: a lookup walks the path's components (as deep as the path, each a
//! search of the parent's `Children` map), which keeps a znode with 100 bytes of
//! data at about 290 bytes of memory (1M such znodes: ~280 MB; see the ignored
//! `memory_per_node` test).
//!
//! The tree performs no validation of requests: the pipeline checks versions, ACLs and
//! existence before it builds a txn, and [`DataTree::apply`] replays txns exactly as
//! Apache's `processTxn` does, including its tolerance of txns that were already applied
//! (fuzzy snapshots).

mod acl_cache;
mod apply;
mod children;
mod digest;
mod error;
mod node;
mod path;
mod quota;
mod serialize;

#[cfg(test)]
mod apply_tests;

use std::sync::Arc;

use bytes::Bytes;
use imbl::{OrdMap, OrdSet};

use crate::proto::codes::EphemeralKind;
use crate::proto::records::{Acl, Stat, StatPersisted};
use crate::proto::ErrorCode;

use acl_cache::{AclCache, OPEN_UNSAFE_ACL_ID};
use node::{Name, Node};

pub use digest::DIGEST_VERSION;
pub use error::TreeError;
pub use node::NodeMeta;
pub use path::{parent_of, validate_path, validate_path_sequential};
pub use quota::{StatsTrack, LIMIT_NODE, QUOTA_ROOT, STAT_NODE};

/// `/zookeeper`: system subtree (cannot be deleted).
pub const ZOOKEEPER_NODE: &str = "/zookeeper";
/// `/zookeeper/config`: the dynamic configuration.
pub const CONFIG_NODE: &str = "/zookeeper/config";

/// A watch event a txn fires; the watch manager delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchTrigger {
    pub path: String,
    /// One of `proto::codes::event::*`.
    pub event: i32,
}

/// The outcome of applying one txn (Apache's `ProcessTxnResult`).
#[derive(Clone, Debug)]
pub struct TxnResult {
    /// Ok on success; a conflicting txn during replay yields its error.
    pub err: ErrorCode,
    /// Txn type; multi sub-results carry their sub type, or `op::ERROR` for a failed multi.
    pub kind: i32,
    /// The created path (with sequence suffix) for creates, the target path for others,
    /// "" for session, error and multi txns.
    pub path: String,
    /// Stat after the change, client form (create, setData, setACL, check).
    pub stat: Option<Stat>,
    /// Per-op results of a multi, in order.
    pub multi: Vec<TxnResult>,
    /// Every watch event this txn fires, in order (for a multi: all sub-ops' events).
    pub triggers: Vec<WatchTrigger>,
}

impl TxnResult {
    fn new(kind: i32, path: &str) -> TxnResult {
        TxnResult {
            err: ErrorCode::Ok,
            kind,
            path: path.to_string(),
            stat: None,
            multi: Vec::new(),
            triggers: Vec::new(),
        }
    }
}

/// The znode tree. Cheap to clone (see the module docs).
#[derive(Clone, Debug)]
pub struct DataTree {
    root: Arc<Node>,
    node_count: usize,
    acls: AclCache,
    /// Session → paths of its ephemeral nodes; sessions without any are removed.
    ephemerals: OrdMap<i64, OrdSet<Arc<str>>>,
    containers: OrdSet<Arc<str>>,
    ttls: OrdSet<Arc<str>>,
    /// Paths that have a `zookeeper_limits` node (Apache's quota `PathTrie`).
    quota_paths: OrdSet<Arc<str>>,
    /// Wrapping sum of the per-node digests.
    digest: u64,
    /// Sum over nodes of UTF-16 path length plus data length.
    data_size: u64,
    last_processed_zxid: i64,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

impl DataTree {
    /// A fresh tree as Apache builds it: "/", "/zookeeper", "/zookeeper/quota" and
    /// "/zookeeper/config", all with empty data and zeroed stats, OPEN ACL except
    /// config, which gets READ world:anyone through a setACL (so its aversion is −1).
    pub fn new() -> DataTree {
        let mut t = DataTree::empty();
        let empty: Arc<[u8]> = Arc::from(&[][..]);
        let fresh = || {
            Node::new(
                Some(empty.clone()),
                OPEN_UNSAFE_ACL_ID,
                StatPersisted::default(),
            )
        };
        t.insert_root(fresh());
        for path in [ZOOKEEPER_NODE, QUOTA_ROOT, CONFIG_NODE] {
            t.insert_child(path, fresh());
        }
        let read = t.acls.convert(&Acl::read_unsafe());
        t.modify(CONFIG_NODE, |n| {
            n.acl = read;
            n.stat.aversion = -1;
        });
        t
    }

    fn empty() -> DataTree {
        DataTree {
            root: Arc::new(Node::new(
                None,
                OPEN_UNSAFE_ACL_ID,
                StatPersisted::default(),
            )),
            node_count: 0,
            acls: AclCache::new(),
            ephemerals: OrdMap::new(),
            containers: OrdSet::new(),
            ttls: OrdSet::new(),
            quota_paths: OrdSet::new(),
            digest: 0,
            data_size: 0,
            last_processed_zxid: 0,
        }
    }

    pub fn last_processed_zxid(&self) -> i64 {
        self.last_processed_zxid
    }

    pub fn set_last_processed_zxid(&mut self, zxid: i64) {
        self.last_processed_zxid = zxid;
    }

    /// Number of znodes, the root included. Apache's `getNodeCount` (mntr's
    /// `zk_znode_count`) is one more, because it also counts the root's "" alias.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Apache's `approximateDataSize`: path length plus data length over all map
    /// entries, where the root appears twice (as "" and "/").
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size + self.root.data_len() as u64
    }

    /// The ACL table size (Apache's `aclCacheSize`).
    pub fn acl_count(&self) -> usize {
        self.acls.len()
    }

    pub fn meta(&self, path: &str) -> Option<NodeMeta> {
        let n = self.node(path)?;
        Some(NodeMeta {
            stat: n.stat.clone(),
            num_children: n.children.len() as i32,
            acl: self.acl_of(n),
            data_len: n.data_len() as i32,
        })
    }

    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.node(path).map(|n| n.client_stat())
    }

    pub fn get_data(&self, path: &str) -> Option<(Option<Bytes>, Stat)> {
        let n = self.node(path)?;
        Some((n.data_bytes(), n.client_stat()))
    }

    /// Child names in byte order (Apache returns them in hash order; clients must not
    /// rely on any order).
    pub fn get_children(&self, path: &str) -> Option<(Vec<String>, Stat)> {
        let n = self.node(path)?;
        let names = n.children.keys().map(|c| c.to_string()).collect();
        Some((names, n.client_stat()))
    }

    pub fn get_acl(&self, path: &str) -> Option<(Vec<Acl>, Stat)> {
        let n = self.node(path)?;
        Some((self.acl_of(n).as_ref().clone(), n.client_stat()))
    }

    /// All descendants of `path`, recursively (Apache's `getAllChildrenNumber`).
    pub fn all_children_number(&self, path: &str) -> Option<i32> {
        if path == "/" {
            return Some(self.node_count as i32 - 1);
        }
        let (count, _) = subtree_usage(self.node(path)?);
        Some(count as i32 - 1)
    }

    /// Full paths of the session's ephemeral nodes, sorted.
    pub fn ephemerals_of(&self, session: i64) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| s.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default()
    }

    /// Sessions owning at least one ephemeral node, ascending.
    pub fn sessions_with_ephemerals(&self) -> Vec<i64> {
        self.ephemerals.keys().copied().collect()
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    /// Containers that were used (stored cversion > 0) and are now empty: the ones
    /// Apache's `ContainerManager` deletes.
    pub fn container_candidates(&self) -> Vec<String> {
        self.containers
            .iter()
            .filter(|p| {
                self.node(p)
                    .is_some_and(|n| n.stat.cversion > 0 && n.children.is_empty())
            })
            .map(|p| p.to_string())
            .collect()
    }

    /// TTL nodes without children whose TTL has passed since their last modification.
    pub fn expired_ttl_nodes(&self, now_ms: i64) -> Vec<String> {
        self.ttls
            .iter()
            .filter(|p| {
                self.node(p).is_some_and(|n| {
                    n.children.is_empty()
                        && match EphemeralKind::of(n.stat.ephemeral_owner) {
                            EphemeralKind::Ttl(ttl) => {
                                ttl != 0 && now_ms.saturating_sub(n.stat.mtime) > ttl
                            }
                            _ => false,
                        }
                })
            })
            .map(|p| p.to_string())
            .collect()
    }

    /// The tree digest (facts §11), maintained incrementally.
    pub fn digest(&self) -> i64 {
        self.digest as i64
    }

    fn acl_of(&self, n: &Node) -> Arc<Vec<Acl>> {
        // An index missing from the table cannot be produced by apply or deserialize;
        // fall back to an empty list (which Apache's checkACL treats as open) rather
        // than panicking.
        self.acls.get(n.acl).unwrap_or_default()
    }

    /// The node at `path`, walking from the root.
    fn node(&self, path: &str) -> Option<&Node> {
        let mut cur: &Node = &self.root;
        if path == "/" {
            return Some(cur);
        }
        for name in path.strip_prefix('/')?.split('/') {
            cur = cur.children.get(name)?;
        }
        Some(cur)
    }

    /// The node at `path` for changing; shared nodes on the way are copied first.
    fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        let mut cur: &mut Node = Arc::make_mut(&mut self.root);
        if path == "/" {
            return Some(cur);
        }
        for name in path.strip_prefix('/')?.split('/') {
            cur = Arc::make_mut(cur.children.get_mut(name)?);
        }
        Some(cur)
    }

    fn insert_root(&mut self, node: Node) {
        self.account_added("/", &node);
        self.root = Arc::new(node);
    }

    /// Hangs `node` under its parent (which must exist) and updates the digest, the
    /// counters and the ephemeral/container/TTL sets. Does not touch the parent's stat.
    fn insert_child(&mut self, path: &str, node: Node) -> bool {
        let name = path::name_of(path);
        let parent = parent_of(path);
        if self.node(parent).is_none() || path == "/" {
            return false;
        }
        self.account_added(path, &node);
        match self.node_mut(parent) {
            Some(p) => {
                p.children.insert(Name::new(name), Arc::new(node));
                true
            }
            None => false,
        }
    }

    fn account_added(&mut self, path: &str, node: &Node) {
        let (digest, size) = DataTree::digest_and_size(path, node);
        self.digest = self.digest.wrapping_add(digest);
        self.data_size += size;
        self.account_kind(path, node);
    }

    /// A node's share of the tree digest and of the approximate data size.
    fn digest_and_size(path: &str, node: &Node) -> (u64, u64) {
        (
            digest::node_digest(path, node.data.as_deref(), &node.stat),
            path::java_len(path) + node.data_len() as u64,
        )
    }

    /// Counts a node and files it with the ephemeral/container/TTL sets (the rest of
    /// [`Self::account_added`]).
    fn account_kind(&mut self, path: &str, node: &Node) {
        self.node_count += 1;
        match EphemeralKind::of(node.stat.ephemeral_owner) {
            EphemeralKind::Void => {}
            EphemeralKind::Container => {
                self.containers.insert(Arc::from(path));
            }
            EphemeralKind::Ttl(_) => {
                self.ttls.insert(Arc::from(path));
            }
            EphemeralKind::Normal(session) => {
                self.ephemerals
                    .entry(session)
                    .or_default()
                    .insert(Arc::from(path));
            }
        }
    }

    /// Changes a node in place, keeping the digest in step. Returns None when absent.
    fn modify<R>(&mut self, path: &str, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
        let node = self.node_mut(path)?;
        let before = digest::node_digest(path, node.data.as_deref(), &node.stat);
        let r = f(node);
        let after = digest::node_digest(path, node.data.as_deref(), &node.stat);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        Some(r)
    }

    /// Visits every node with its full path, parents before children, children in name
    /// order. The root is visited as "/".
    fn for_each_node(&self, mut f: impl FnMut(&str, &Node)) {
        f("/", &self.root);
        let mut path = String::new();
        let mut stack = vec![(self.root.children.iter(), 0usize)];
        while let Some((iter, base)) = stack.last_mut() {
            let base = *base;
            let Some((name, child)) = iter.next() else {
                stack.pop();
                continue;
            };
            path.truncate(base);
            path.push('/');
            path.push_str(name);
            f(&path, child);
            stack.push((child.children.iter(), path.len()));
        }
    }
}

/// Node count and data bytes of the subtree at `top`, itself included.
fn subtree_usage(top: &Node) -> (i64, i64) {
    let mut count = 0;
    let mut bytes = 0;
    let mut stack = vec![top];
    while let Some(n) = stack.pop() {
        count += 1;
        bytes += n.data_len() as i64;
        stack.extend(n.children.values().map(|c| c.as_ref()));
    }
    (count, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::codes::perms;

    #[test]
    fn fresh_tree_has_the_system_nodes() {
        let t = DataTree::new();
        assert_eq!(t.node_count(), 4);
        assert_eq!(
            t.get_children("/").map(|c| c.0),
            Some(vec!["zookeeper".to_string()])
        );
        assert_eq!(
            t.get_children("/zookeeper").map(|c| c.0),
            Some(vec!["config".to_string(), "quota".to_string()])
        );
        let (acl, stat) = t.get_acl(CONFIG_NODE).expect("config");
        assert_eq!(acl, vec![Acl::new(perms::READ, "world", "anyone")]);
        assert_eq!(stat.aversion, -1);
        assert_eq!(t.get_acl("/").map(|a| a.0), Some(Acl::open_unsafe()));
        let (data, stat) = t.get_data("/").expect("root");
        assert_eq!(data.as_deref(), Some(&b""[..]));
        // Apache reports the fresh root's cversion as 2*0 - 1 child = -1
        assert_eq!((stat.cversion, stat.num_children, stat.czxid), (-1, 1, 0));
        assert_eq!(t.all_children_number("/"), Some(3));
        assert_eq!(t.all_children_number("/zookeeper"), Some(2));
        assert_eq!(t.all_children_number("/nope"), None);
        // Apache: "" (0) + "/" (1) + "/zookeeper" (10) + "/zookeeper/quota" (16)
        // + "/zookeeper/config" (17)
        assert_eq!(t.approximate_data_size(), 44);
        assert_eq!(t.acl_count(), 1);
    }

    #[test]
    fn clone_is_independent() {
        let t = DataTree::new();
        let mut u = t.clone();
        u.modify("/", |n| n.stat.version = 9);
        assert_eq!(t.stat("/").map(|s| s.version), Some(0));
        assert_eq!(u.stat("/").map(|s| s.version), Some(9));
        assert_ne!(t.digest(), u.digest());
    }
}
