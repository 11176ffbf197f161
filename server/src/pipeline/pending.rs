//! Outstanding changes: the state of nodes as it will be once every prepared-but-not-applied
//! txn is applied. Prep validates writes against this view (Apache's `outstandingChanges`), so
//! pipelined writes see each other without exposing unapplied data to readers.

use std::collections::HashMap;

use crate::tree::{DataTree, NodeMeta};

#[derive(Debug, Default)]
pub struct PendingChanges {
    /// Latest pending state per path: `None` = deleted, with the zxid of that change.
    map: HashMap<String, (i64, Option<NodeMeta>)>,
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
        if !self.map.is_empty() {
            self.map.retain(|_, (z, _)| *z > zxid);
        }
    }

    /// Pending (path, meta) pairs, for closeSession's ephemeral list.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Option<NodeMeta>)> {
        self.map.iter().map(|(p, (_, m))| (p, m))
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
