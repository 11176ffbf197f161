//! Outstanding changes: the state of nodes as it will be once every prepared-but-not-applied
//! txn is applied. Prep validates writes against this view (Apache's `outstandingChanges`), so
//! pipelined writes see each other without exposing unapplied data to readers.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::hashing::HashMap;
use crate::tree::{DataTree, NodeMeta};

#[derive(Debug, Default)]
pub struct PendingChanges {
    /// Latest pending state per path: `None` = deleted, with the zxid of that change.
    map: HashMap<Arc<str>, (i64, Option<NodeMeta>)>,
    /// (zxid, path) of every change in the order made, so that [`Self::applied`] looks
    /// only at the changes it retires instead of scanning the whole map per txn.
    order: VecDeque<(i64, Arc<str>)>,
    /// A change arrived with a zxid below an earlier one: `order` is not sorted, so
    /// `applied` falls back to a full scan until the map empties.
    unordered: bool,
}

impl PendingChanges {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The node as prep must see it.
    pub fn get(&self, tree: &DataTree, path: &str) -> Option<NodeMeta> {
        match self.map.get(path) {
            Some((_, m)) => m.clone(),
            None => tree.meta(path),
        }
    }

    pub fn set(&mut self, zxid: i64, path: String, meta: Option<NodeMeta>) {
        if self.order.back().is_some_and(|(z, _)| *z > zxid) {
            self.unordered = true;
        }
        let path: Arc<str> = Arc::from(path);
        self.order.push_back((zxid, path.clone()));
        self.map.insert(path, (zxid, meta));
    }

    /// Records the deletion of `path` by txn `zxid`: the node goes and its parent loses a
    /// child (closeSession and the container reaper delete without a client request).
    pub fn delete_node(&mut self, tree: &DataTree, path: &str, zxid: i64) {
        let parent = crate::tree::parent_of(path).to_string();
        if let Some(mut pm) = self.get(tree, &parent) {
            pm.num_children -= 1;
            pm.stat.pzxid = zxid;
            self.set(zxid, parent, Some(pm));
        }
        self.set(zxid, path.to_string(), None);
    }

    /// Forgets changes made by txns up to `zxid`, which the tree now reflects.
    pub fn applied(&mut self, zxid: i64) {
        if self.unordered {
            self.map.retain(|_, (z, _)| *z > zxid);
            self.order.retain(|(z, _)| *z > zxid);
            if self.map.is_empty() {
                self.order.clear();
                self.unordered = false;
            }
            return;
        }
        while self.order.front().is_some_and(|(z, _)| *z <= zxid) {
            let Some((_, path)) = self.order.pop_front() else {
                break;
            };
            // A later change to the same path keeps the entry.
            if self.map.get(&*path).is_some_and(|(z, _)| *z <= zxid) {
                self.map.remove(&*path);
            }
        }
    }

    /// Pending (path, meta) pairs, for closeSession's ephemeral list.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Option<NodeMeta>)> {
        self.map.iter().map(|(p, (_, m))| (&**p, m))
    }
}

/// A scratch view over the pending changes, used while preparing one request (or one multi):
/// changes land here first and are merged only if the whole request succeeds.
pub struct Overlay<'a> {
    pub tree: &'a DataTree,
    pending: &'a PendingChanges,
    local: Vec<(String, Option<NodeMeta>)>,
}

impl<'a> Overlay<'a> {
    pub fn new(tree: &'a DataTree, pending: &'a PendingChanges) -> Self {
        Overlay {
            tree,
            pending,
            local: Vec::new(),
        }
    }

    pub fn get(&self, path: &str) -> Option<NodeMeta> {
        if let Some((_, m)) = self.local.iter().rev().find(|(p, _)| p == path) {
            return m.clone();
        }
        self.pending.get(self.tree, path)
    }

    pub fn set(&mut self, path: &str, meta: Option<NodeMeta>) {
        self.local.push((path.to_string(), meta));
    }

    /// The changes to merge into [`PendingChanges`] when the request succeeds.
    pub fn into_changes(self) -> Vec<(String, Option<NodeMeta>)> {
        self.local
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::records::StatPersisted;

    fn meta(version: i32) -> Option<NodeMeta> {
        Some(NodeMeta {
            stat: StatPersisted {
                version,
                ..Default::default()
            },
            num_children: 0,
            acl: Arc::new(Vec::new()),
            data_len: 0,
        })
    }

    fn version(p: &PendingChanges, path: &str) -> Option<i32> {
        p.map
            .get(path)
            .and_then(|(_, m)| m.as_ref())
            .map(|m| m.stat.version)
    }

    #[test]
    fn applied_retires_changes_up_to_the_zxid_and_keeps_later_ones_of_a_path() {
        let mut p = PendingChanges::new();
        p.set(1, "/a".into(), meta(1));
        p.set(2, "/b".into(), meta(1));
        p.set(3, "/a".into(), meta(2));
        p.set(4, "/c".into(), None);
        p.applied(1);
        // /a was changed again by txn 3: its entry stays, with txn 3's state.
        assert_eq!(version(&p, "/a"), Some(2));
        assert_eq!(version(&p, "/b"), Some(1));
        p.applied(3);
        assert!(!p.map.contains_key("/a") && !p.map.contains_key("/b"));
        assert!(p.map.contains_key("/c"));
        p.applied(4);
        assert!(p.is_empty());
        assert!(p.order.is_empty());
    }

    #[test]
    fn out_of_order_changes_are_still_retired_exactly() {
        let mut p = PendingChanges::new();
        p.set(5, "/a".into(), meta(1));
        p.set(3, "/b".into(), meta(1));
        p.set(6, "/c".into(), meta(1));
        p.applied(4);
        assert_eq!(
            (version(&p, "/a"), version(&p, "/b"), version(&p, "/c")),
            (Some(1), None, Some(1))
        );
        p.applied(6);
        assert!(p.is_empty());
        // Back in order once empty.
        assert!(!p.unordered);
    }
}
