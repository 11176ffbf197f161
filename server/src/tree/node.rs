//! One znode as stored in the tree, and the views of it handed out.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;
use imbl::OrdSet;

use crate::proto::codes::EphemeralKind;
use crate::proto::records::{Acl, Stat, StatPersisted};

/// A child's name, sharing the allocation of its full path (the tree's map key), so
/// a child costs its parent one set entry and no extra string.
#[derive(Clone, Debug)]
pub(crate) struct ChildName {
    full: Arc<str>,
    start: u32,
}

impl ChildName {
    pub fn new(full: Arc<str>) -> ChildName {
        let start = full.rfind('/').map_or(0, |i| i + 1) as u32;
        ChildName { full, start }
    }
    pub fn name(&self) -> &str {
        &self.full[self.start as usize..]
    }
    pub fn full(&self) -> &Arc<str> {
        &self.full
    }
}

impl Borrow<str> for ChildName {
    fn borrow(&self) -> &str {
        self.name()
    }
}
impl PartialEq for ChildName {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}
impl Eq for ChildName {}
impl PartialOrd for ChildName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ChildName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name().cmp(other.name())
    }
}
impl Hash for ChildName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state)
    }
}

/// A znode. Data is an `Arc<[u8]>` (16 bytes, one allocation) rather than `Bytes`, to
/// keep per-node memory small; readers get a zero-copy `Bytes` over it.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub stat: StatPersisted,
    /// Index into the ACL cache.
    pub acl: i64,
    pub data: Option<Arc<[u8]>>,
    pub children: OrdSet<ChildName>,
}

impl Node {
    pub fn new(data: Option<Arc<[u8]>>, acl: i64, stat: StatPersisted) -> Node {
        Node {
            stat,
            acl,
            data,
            children: OrdSet::new(),
        }
    }

    pub fn data_len(&self) -> usize {
        self.data.as_deref().map_or(0, <[u8]>::len)
    }

    pub fn data_bytes(&self) -> Option<Bytes> {
        self.data.clone().map(Bytes::from_owner)
    }

    /// The client form: cversion counts creations and deletions, ephemeralOwner is
    /// hidden for containers and TTL nodes.
    pub fn client_stat(&self) -> Stat {
        let s = &self.stat;
        let num_children = self.children.len() as i32;
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: EphemeralKind::client_owner(s.ephemeral_owner),
            data_length: self.data_len() as i32,
            num_children,
            pzxid: s.pzxid,
        }
    }
}

/// What the request pipeline needs to check a request against a node.
#[derive(Clone, Debug)]
pub struct NodeMeta {
    /// Stored stat: cversion counts child creations only, ephemeralOwner is raw.
    pub stat: StatPersisted,
    pub num_children: i32,
    pub acl: Arc<Vec<Acl>>,
    pub data_len: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::codes::CONTAINER_EPHEMERAL_OWNER;

    #[test]
    fn child_names_compare_by_name_only() {
        let a = ChildName::new(Arc::from("/x/b"));
        let b = ChildName::new(Arc::from("/y/b"));
        assert_eq!(a, b);
        assert_eq!(a.name(), "b");
        assert_eq!(ChildName::new(Arc::from("/zookeeper")).name(), "zookeeper");
        let mut set = OrdSet::new();
        set.insert(a);
        assert!(set.contains("b"));
    }

    #[test]
    fn client_stat_derives_cversion_and_hides_markers() {
        let mut n = Node::new(
            Some(Arc::from(&b"abc"[..])),
            -1,
            StatPersisted {
                cversion: 3,
                ephemeral_owner: CONTAINER_EPHEMERAL_OWNER,
                ..Default::default()
            },
        );
        n.children.insert(ChildName::new(Arc::from("/c")));
        let s = n.client_stat();
        assert_eq!(s.cversion, 5);
        assert_eq!(s.num_children, 1);
        assert_eq!(s.data_length, 3);
        assert_eq!(s.ephemeral_owner, 0);
        assert_eq!(n.data_bytes().as_deref(), Some(&b"abc"[..]));
    }
}
