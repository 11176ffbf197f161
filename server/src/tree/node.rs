//! One znode as stored in the tree, and the views of it handed out.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use compact_str::CompactString;

use crate::proto::codes::EphemeralKind;
use crate::proto::records::{Acl, Stat, StatPersisted};

use super::children::Children;

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
    pub children: Children,
}

/// A child's name: a `CompactString` ordered as `str` is (byte-wise), by a comparison that
/// reads eight bytes at a time instead of calling `memcmp`. Comparing names is most of
/// the work of inserting a million children while a snapshot loads, and of every walk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Name(CompactString);

impl Name {
    pub fn new(s: &str) -> Name {
        Name(CompactString::from(s))
    }

    /// Orders this name against a borrowed one, as `Ord` orders two names.
    pub fn cmp_str(&self, other: &str) -> Ordering {
        bytewise(self.0.as_bytes(), other.as_bytes())
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> Ordering {
        bytewise(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Lexicographic byte order (what `str`'s `Ord` is), eight bytes at a time.
fn bytewise(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let (mut ca, mut cb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        let (x, y) = (word(x), word(y));
        if x != y {
            return x.cmp(&y);
        }
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_be_bytes(w)
}

impl Node {
    pub fn new(data: Option<Arc<[u8]>>, acl: i64, stat: StatPersisted) -> Node {
        Node {
            stat,
            acl,
            data,
            children: Children::new(),
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
    fn names_order_as_strings_do() {
        let words = [
            "",
            "a",
            "ab",
            "abcdefgh",
            "abcdefghi",
            "abcdefgh0",
            "abcdefgi",
            "k000123",
            "k000124",
            "k0001230",
            "zz",
            "\u{e9}",
            "\u{10000}",
            "abcdefghijklmnopqrstuvwxyz0123",
        ];
        for a in words {
            for b in words {
                assert_eq!(Name::new(a).cmp(&Name::new(b)), a.cmp(b), "{a:?} {b:?}");
            }
        }
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
        n.children.insert(
            Name::new("c"),
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
