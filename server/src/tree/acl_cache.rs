//! Reference-counted ACL table (Apache's `ReferenceCountedACLCache`): nodes store a long
//! index instead of their ACL list, and identical lists share one index.

use std::sync::Arc;

use bytes::BufMut;
use imbl::OrdMap;

use crate::proto::jute::Jute;
use crate::proto::records::Acl;

/// The index of OPEN_ACL_UNSAFE for nodes whose ACL was never set (the built-in nodes).
/// It is never listed in the table nor written to snapshots.
pub const OPEN_UNSAFE_ACL_ID: i64 = -1;

#[derive(Clone, Debug)]
struct Entry {
    acls: Arc<Vec<Acl>>,
    refs: u64,
}

/// Persistent maps so that cloning the tree for a snapshot stays O(1).
#[derive(Clone, Debug)]
pub(crate) struct AclCache {
    by_index: OrdMap<i64, Entry>,
    /// Jute encoding of the list → index; lists compare by value, in order.
    by_value: OrdMap<Vec<u8>, i64>,
    /// Highest index ever handed out; indexes are never reused.
    last_index: i64,
    open: Arc<Vec<Acl>>,
}

fn key_of(acls: &[Acl]) -> Vec<u8> {
    let mut k = Vec::with_capacity(acls.len() * 24);
    k.put_i32(acls.len() as i32);
    for a in acls {
        a.write_to(&mut k);
    }
    k
}

impl AclCache {
    pub fn new() -> AclCache {
        AclCache {
            by_index: OrdMap::new(),
            by_value: OrdMap::new(),
            last_index: 0,
            open: Arc::new(Acl::open_unsafe()),
        }
    }

    /// The index for `acls`, creating it if needed, and counts one more user.
    pub fn convert(&mut self, acls: &[Acl]) -> i64 {
        let key = key_of(acls);
        let index = match self.by_value.get(&key) {
            Some(i) => *i,
            None => {
                self.last_index += 1;
                let i = self.last_index;
                self.by_index.insert(
                    i,
                    Entry {
                        acls: Arc::new(acls.to_vec()),
                        refs: 0,
                    },
                );
                self.by_value.insert(key, i);
                i
            }
        };
        self.add_usage(index);
        index
    }

    /// The list behind an index; `None` for an index that is not in the table.
    pub fn get(&self, index: i64) -> Option<Arc<Vec<Acl>>> {
        if index == OPEN_UNSAFE_ACL_ID {
            return Some(self.open.clone());
        }
        self.by_index.get(&index).map(|e| e.acls.clone())
    }

    pub fn contains(&self, index: i64) -> bool {
        index == OPEN_UNSAFE_ACL_ID || self.by_index.contains_key(&index)
    }

    pub fn add_usage(&mut self, index: i64) {
        self.add_usages(index, 1);
    }

    /// Counts `n` more users at once (loading a snapshot counts runs of nodes).
    pub fn add_usages(&mut self, index: i64, n: u64) {
        if let Some(e) = self.by_index.get_mut(&index) {
            e.refs += n;
        }
    }

    /// Drops one user; the entry goes away with its last user.
    pub fn remove_usage(&mut self, index: i64) {
        let gone = match self.by_index.get_mut(&index) {
            Some(e) => {
                e.refs = e.refs.saturating_sub(1);
                e.refs == 0
            }
            None => false,
        };
        if gone {
            self.forget(index);
        }
    }

    fn forget(&mut self, index: i64) {
        if let Some(e) = self.by_index.remove(&index) {
            self.by_value.remove(&key_of(&e.acls));
        }
    }

    /// Adds an entry read from a snapshot, with no users yet.
    pub fn insert_loaded(&mut self, index: i64, acls: Vec<Acl>) {
        if index > self.last_index {
            self.last_index = index;
        }
        self.by_value.insert(key_of(&acls), index);
        self.by_index.insert(
            index,
            Entry {
                acls: Arc::new(acls),
                refs: 0,
            },
        );
    }

    /// Removes entries no node uses (after loading a snapshot).
    pub fn purge_unused(&mut self) {
        let unused: Vec<i64> = self
            .by_index
            .iter()
            .filter(|(_, e)| e.refs == 0)
            .map(|(i, _)| *i)
            .collect();
        for i in unused {
            self.forget(i);
        }
    }

    /// Entries in index order, as written to a snapshot.
    pub fn entries(&self) -> impl Iterator<Item = (i64, &[Acl])> {
        self.by_index.iter().map(|(i, e)| (*i, e.acls.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.by_index.len()
    }

    #[cfg(test)]
    pub fn refs(&self, index: i64) -> u64 {
        self.by_index.get(&index).map_or(0, |e| e.refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::codes::perms;

    #[test]
    fn identical_lists_share_an_index_and_die_with_last_user() {
        let mut c = AclCache::new();
        let a = Acl::read_unsafe();
        let b = vec![Acl::new(perms::ALL, "digest", "u:x")];
        let ia = c.convert(&a);
        let ib = c.convert(&b);
        assert_eq!((ia, ib), (1, 2));
        assert_eq!(c.convert(&a), 1);
        assert_eq!(c.refs(1), 2);
        c.remove_usage(1);
        assert!(c.contains(1));
        c.remove_usage(1);
        assert!(!c.contains(1));
        assert_eq!(c.get(1), None);
        // indexes are not reused
        assert_eq!(c.convert(&a), 3);
        assert_eq!(
            c.get(OPEN_UNSAFE_ACL_ID).as_deref(),
            Some(&Acl::open_unsafe())
        );
    }

    #[test]
    fn loaded_entries_continue_numbering_and_purge() {
        let mut c = AclCache::new();
        c.insert_loaded(7, Acl::read_unsafe());
        c.insert_loaded(3, Acl::open_unsafe());
        c.add_usage(7);
        c.purge_unused();
        assert_eq!(c.len(), 1);
        assert!(c.contains(7) && !c.contains(3));
        assert_eq!(c.convert(&Acl::open_unsafe()), 8);
        assert_eq!(c.convert(&Acl::read_unsafe()), 7);
    }
}
