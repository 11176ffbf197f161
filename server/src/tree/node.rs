//! One znode as stored in the tree, and the views of it handed out.

use std::sync::Arc;

use bytes::Bytes;
use compact_str::CompactString;
use imbl::OrdMap;

use crate::proto::codes::EphemeralKind;
use crate::proto::records::{Acl, Stat, StatPersisted};

/// A znode. The tree is made of these: each node owns its children by name, so there
/// is no global path map and no full-path string per node (paths are rebuilt while
/// walking). Data is an `Arc<[u8]>` (16 bytes, one allocation) rather than `Bytes`, to
/// keep per-node memory small; readers get a zero-copy `Bytes` over it.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub stat: StatPersisted,
    /// Index into the ACL cache.
    pub acl: i64,
    pub data: Option<Arc<[u8]>>,
    /// Child name → child, in name order. Names up to 24 bytes are stored inline in
    /// the map entry, with no allocation of their own.
    pub children: OrdMap<CompactString, Arc<Node>>,
}

impl Node {
    pub fn new(data: Option<Arc<[u8]>>, acl: i64, stat: StatPersisted) -> Node {
        Node {
            stat,
            acl,
            data,
            children: OrdMap::new(),
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
        n.children.insert(
            CompactString::from("c"),
            Arc::new(Node::new(None, -1, StatPersisted::default())),
        );
        let s = n.client_stat();
        assert_eq!(s.cversion, 5);
        assert_eq!(s.num_children, 1);
        assert_eq!(s.data_length, 3);
        assert_eq!(s.ephemeral_owner, 0);
        assert_eq!(n.data_bytes().as_deref(), Some(&b"abc"[..]));
    }
}
