//! Applying txns to the tree, as Apache's `DataTree.processTxn` does. Txns were checked
//! by the pipeline; what can still fail here is replay over a fuzzy snapshot (node
//! already created, already deleted), which yields the error and leaves the tree as
//! Apache would leave it.

use std::sync::Arc;

use bytes::Bytes;

use super::node::{Name, Node};
use super::path::{java_len, name_of, parent_of};
use super::quota::{self, StatsTrack, LIMIT_NODE, QUOTA_ROOT, STAT_NODE};
use super::{DataTree, TxnResult, WatchTrigger};
use crate::proto::codes::{event, op, EphemeralKind, CONTAINER_EPHEMERAL_OWNER};
use crate::proto::records::{Acl, Stat, StatPersisted};
use crate::proto::txn::{CloseSessionTxn, TxnBody, TxnHeader};
use crate::proto::ErrorCode;

use super::digest;

/// The parts of a create that differ between create, createContainer and createTTL.
struct NewNode<'a> {
    path: &'a str,
    data: Option<&'a Bytes>,
    acl: &'a [Acl],
    owner: i64,
    parent_cversion: i32,
}

impl DataTree {
    /// Applies a txn of any type and advances the last processed zxid (never backwards).
    pub fn apply(&mut self, txn: &crate::proto::txn::Txn) -> TxnResult {
        let rc = self.process(&txn.hdr, txn.hdr.kind, &txn.body);
        if txn.hdr.zxid > self.last_processed_zxid {
            self.last_processed_zxid = txn.hdr.zxid;
        }
        rc
    }

    fn process(&mut self, hdr: &TxnHeader, kind: i32, body: &TxnBody) -> TxnResult {
        let (zxid, time) = (hdr.zxid, hdr.time);
        let mut rc = TxnResult::new(kind, "");
        match body {
            TxnBody::Create(c) => {
                let owner = if c.ephemeral { hdr.client_id } else { 0 };
                let new = NewNode {
                    path: &c.path,
                    data: c.data.as_ref(),
                    acl: &c.acl,
                    owner,
                    parent_cversion: c.parent_cversion,
                };
                self.create_node(&mut rc, new, zxid, time);
                // Replay of a create whose node survived in the snapshot (re-created by
                // another session after the parent was serialized): still move the
                // parent's cversion/pzxid forward. Apache does this for create only.
                if kind == op::CREATE && rc.err == ErrorCode::NodeExists {
                    let parent = parent_of(&c.path);
                    if !self.set_cversion_pzxid(parent, c.parent_cversion, zxid) {
                        rc.err = ErrorCode::NoNode;
                    }
                }
            }
            TxnBody::CreateContainer(c) => {
                let new = NewNode {
                    path: &c.path,
                    data: c.data.as_ref(),
                    acl: &c.acl,
                    owner: CONTAINER_EPHEMERAL_OWNER,
                    parent_cversion: c.parent_cversion,
                };
                self.create_node(&mut rc, new, zxid, time);
            }
            TxnBody::CreateTtl(c) => {
                let new = NewNode {
                    path: &c.path,
                    data: c.data.as_ref(),
                    acl: &c.acl,
                    owner: EphemeralKind::ttl_owner(c.ttl),
                    parent_cversion: c.parent_cversion,
                };
                self.create_node(&mut rc, new, zxid, time);
            }
            TxnBody::Delete(d) => {
                rc.path = d.path.clone();
                if let Err(e) = self.delete_node(&d.path, zxid, &mut rc.triggers) {
                    rc.err = e;
                }
            }
            TxnBody::SetData(s) => {
                rc.path = s.path.clone();
                match self.set_data(&s.path, s.data.as_ref(), s.version, zxid, time) {
                    Some(stat) => {
                        rc.stat = Some(stat);
                        rc.triggers.push(trigger(&s.path, event::NODE_DATA_CHANGED));
                    }
                    None => rc.err = ErrorCode::NoNode,
                }
            }
            TxnBody::SetAcl(s) => {
                rc.path = s.path.clone();
                match self.set_acl(&s.path, &s.acl, s.version) {
                    Some(stat) => rc.stat = Some(stat),
                    None => rc.err = ErrorCode::NoNode,
                }
            }
            TxnBody::Check(c) => {
                rc.path = c.path.clone();
                rc.stat = self.stat(&c.path);
            }
            TxnBody::Multi(subs) => self.process_multi(hdr, subs, &mut rc),
            TxnBody::CreateSession(_) => {}
            TxnBody::CloseSession(c) => self.kill_session(hdr.client_id, zxid, c, &mut rc),
            TxnBody::Error(e) => rc.err = error_code(e.err),
        }
        rc
    }

    /// All sub-txns share the header. If any sub-txn is an error the multi failed: every
    /// sub-op is reported as an error (Ok before the failing one, RuntimeInconsistency
    /// after it) and nothing is applied.
    fn process_multi(&mut self, hdr: &TxnHeader, subs: &[(i32, TxnBody)], rc: &mut TxnResult) {
        let failed = subs.iter().any(|(k, _)| *k == op::ERROR);
        let mut past_failure = false;
        for (kind, body) in subs {
            if !multi_sub_allowed(*kind) {
                // Apache aborts the rest of the multi on an unknown sub type.
                tracing::warn!(kind, zxid = hdr.zxid, "invalid sub-txn type in multi");
                break;
            }
            let sub = if *kind == op::ERROR {
                past_failure = true;
                self.process(hdr, op::ERROR, body)
            } else if failed {
                let mut r = TxnResult::new(op::ERROR, "");
                if past_failure {
                    r.err = ErrorCode::RuntimeInconsistency;
                }
                r
            } else {
                self.process(hdr, *kind, body)
            };
            if sub.err != ErrorCode::Ok && rc.err == ErrorCode::Ok {
                rc.err = sub.err;
            }
            rc.triggers.extend(sub.triggers.iter().cloned());
            rc.multi.push(sub);
        }
    }

    fn create_node(&mut self, rc: &mut TxnResult, new: NewNode<'_>, zxid: i64, time: i64) {
        rc.path = new.path.to_string();
        match self.create_node_inner(&new, zxid, time) {
            Ok(stat) => {
                let parent = parent_of(new.path);
                rc.stat = Some(stat);
                rc.triggers.push(trigger(new.path, event::NODE_CREATED));
                rc.triggers
                    .push(trigger(parent, event::NODE_CHILDREN_CHANGED));
            }
            Err(e) => rc.err = e,
        }
    }

    fn create_node_inner(
        &mut self,
        new: &NewNode<'_>,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, ErrorCode> {
        let path = new.path;
        let parent_path = parent_of(path);
        let name = name_of(path);
        if !path.starts_with('/') || path == "/" {
            return Err(if path == "/" {
                ErrorCode::NodeExists
            } else {
                ErrorCode::NoNode
            });
        }
        // One walk to the parent answers both "parent exists" and "node exists".
        let exists = match self.node(parent_path) {
            None => return Err(ErrorCode::NoNode),
            Some(p) => p.children.contains_key(name),
        };
        let acl = self.acls.convert(new.acl);
        if exists {
            // Apache re-points an existing node at the txn's ACL so that a node restored
            // from a fuzzy snapshot never refers to an ACL missing from the table. We also
            // release the old index, which Apache leaks.
            if let Some(old) = self.modify(path, |n| std::mem::replace(&mut n.acl, acl)) {
                self.acls.remove_usage(old);
            }
            return Err(ErrorCode::NodeExists);
        }
        let parent_cversion = new.parent_cversion;
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: new.owner,
            pzxid: zxid,
        };
        let data = new.data.map(|d| Arc::<[u8]>::from(&d[..]));
        let data_len = data.as_deref().map_or(0, <[u8]>::len) as i64;
        let node = Node::new(data, acl, stat);
        let client = node.client_stat();
        self.account_added(path, &node);
        // The parent's stat changes and it gains the child, in one walk (its digest does not
        // cover its children).
        self.modify(parent_path, |p| {
            // A create replayed after its node was deleted again within the fuzzy range
            // must not move cversion/pzxid backwards.
            advance_cversion(&mut p.stat, parent_cversion, zxid);
            p.children.insert(Name::new(name), Arc::new(node));
        });

        if parent_path.starts_with(QUOTA_ROOT) {
            let child = name_of(path);
            if child == LIMIT_NODE || child == STAT_NODE {
                let prefix = quota::trim_quota_path(parent_path);
                if prefix.is_empty() {
                    tracing::warn!(path, "ignoring quota node with empty namespace");
                } else if child == LIMIT_NODE {
                    self.quota_paths.insert(Arc::from(prefix));
                } else {
                    self.update_quota_for_path(prefix);
                }
            }
        }
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, data_len, 1);
        }
        Ok(client)
    }

    fn delete_node(
        &mut self,
        path: &str,
        zxid: i64,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<(), ErrorCode> {
        if !path.starts_with('/') || path == "/" {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = parent_of(path);
        let child = name_of(path);
        // The parent is updated first, even if the child is already gone (a delete
        // replayed over a fuzzy snapshot still records its zxid in the parent's pzxid).
        let removed = self
            .modify(parent_path, |p| {
                let removed = p.children.remove(child);
                if zxid > p.stat.pzxid {
                    p.stat.pzxid = zxid;
                }
                removed
            })
            .ok_or(ErrorCode::NoNode)?;
        let node = removed.ok_or(ErrorCode::NoNode)?;
        // Like Apache, only the node itself is accounted for: a node is only deleted
        // without children, which the pipeline guarantees.
        self.digest =
            self.digest
                .wrapping_sub(digest::node_digest(path, node.data.as_deref(), &node.stat));
        self.data_size = self
            .data_size
            .saturating_sub(java_len(path) + node.data_len() as u64);
        self.node_count = self.node_count.saturating_sub(1);
        self.acls.remove_usage(node.acl);
        match EphemeralKind::of(node.stat.ephemeral_owner) {
            EphemeralKind::Void => {}
            EphemeralKind::Container => {
                self.containers.remove(path);
            }
            EphemeralKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            EphemeralKind::Normal(session) => {
                let now_empty = match self.ephemerals.get_mut(&session) {
                    Some(set) => {
                        set.remove(path);
                        set.is_empty()
                    }
                    None => false,
                };
                if now_empty {
                    self.ephemerals.remove(&session);
                }
            }
        }
        if parent_path.starts_with(QUOTA_ROOT) && child == LIMIT_NODE {
            let prefix = quota::trim_quota_path(parent_path);
            if !prefix.is_empty() {
                self.quota_paths.remove(prefix);
            }
        }
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, -(node.data_len() as i64), -1);
        }
        triggers.push(trigger(path, event::NODE_DELETED));
        triggers.push(trigger(parent_path, event::NODE_CHILDREN_CHANGED));
        Ok(())
    }

    /// Puts the active config into /zookeeper/config outside any txn, as Apache's
    /// `ZKDatabase.initConfigInZKDatabase` does when an ensemble member starts: version −1,
    /// mzxid the config version. Fires no watch and leaves the last processed zxid alone.
    /// Unlike Apache, which stamps each member's wall clock, mtime is 0 unless a reconfig
    /// txn set the node, so every member holds the same tree; unchanged text is left alone.
    pub fn init_config_node(&mut self, text: &Bytes, version: i64) {
        let current = self.get_data(super::CONFIG_NODE).and_then(|(d, _)| d);
        if current.as_ref() != Some(text) {
            self.set_data(super::CONFIG_NODE, Some(text), -1, version, 0);
        }
    }

    fn set_data(
        &mut self,
        path: &str,
        data: Option<&Bytes>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Option<Stat> {
        let data = data.map(|d| Arc::<[u8]>::from(&d[..]));
        let (old_len, new_len, stat) = self.modify(path, |n| {
            let old_len = n.data_len();
            n.data = data;
            n.stat.mtime = time;
            n.stat.mzxid = zxid;
            n.stat.version = version;
            (old_len, n.data_len(), n.client_stat())
        })?;
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, new_len as i64 - old_len as i64, 0);
        }
        self.data_size = (self.data_size + new_len as u64).saturating_sub(old_len as u64);
        Some(stat)
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Option<Stat> {
        let old = self.modify(path, |n| {
            n.stat.aversion = version;
            n.acl
        })?;
        // Same order as Apache: release first, then look up (a node that is the only
        // user of a list gets a fresh index even when the list is unchanged).
        self.acls.remove_usage(old);
        let new = self.acls.convert(acl);
        self.modify(path, |n| {
            n.acl = new;
            n.client_stat()
        })
    }

    /// Apache's `setCversionPzxid`: only ever moves cversion forward. False if missing.
    fn set_cversion_pzxid(&mut self, path: &str, cversion: i32, zxid: i64) -> bool {
        self.modify(path, |n| advance_cversion(&mut n.stat, cversion, zxid))
            .is_some()
    }

    /// Deletes the paths listed in the txn, then whatever ephemerals the session still
    /// owns here (all of them for old logs without a list).
    fn kill_session(&mut self, session: i64, zxid: i64, txn: &CloseSessionTxn, rc: &mut TxnResult) {
        let local = self.ephemerals.remove(&session);
        let listed = txn.paths_to_delete.as_deref().unwrap_or(&[]);
        for path in listed {
            self.delete_ephemeral(session, path, zxid, &mut rc.triggers);
        }
        if let Some(local) = local {
            for path in local.iter() {
                if listed.iter().any(|p| p.as_str() == path.as_ref()) {
                    continue;
                }
                if txn.paths_to_delete.is_some() {
                    tracing::warn!(session, %path, zxid, "ephemeral not listed in closeSession txn");
                }
                self.delete_ephemeral(session, path, zxid, &mut rc.triggers);
            }
        }
    }

    fn delete_ephemeral(
        &mut self,
        session: i64,
        path: &str,
        zxid: i64,
        triggers: &mut Vec<WatchTrigger>,
    ) {
        if self.delete_node(path, zxid, triggers).is_err() {
            tracing::warn!(session, path, "ephemeral of closed session already gone");
        }
    }

    /// The deepest path at or above `path` that has a quota (the root never counts).
    pub(crate) fn max_prefix_with_quota(&self, path: &str) -> Option<String> {
        if self.quota_paths.is_empty() {
            return None;
        }
        let mut best = None;
        let mut end = 0;
        while end < path.len() {
            end = path[end + 1..]
                .find('/')
                .map_or(path.len(), |i| end + 1 + i);
            let prefix = &path[..end];
            if prefix.len() > 1 && self.quota_paths.contains(prefix) {
                best = Some(prefix);
            }
        }
        best.map(str::to_string)
    }

    /// Adds to the usage recorded in a quota's stats node (Apache's `updateQuotaStat`).
    /// The stats node's stat is left alone, as in Apache.
    fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let stat_path = quota::stat_path(prefix);
        let Some(node) = self.node(&stat_path) else {
            tracing::error!(%stat_path, "missing quota stats node");
            return;
        };
        let mut st = StatsTrack::parse(node.data.as_deref().unwrap_or(&[]));
        st.set_count(st.count() + count_diff);
        st.set_bytes(st.bytes() + bytes_diff);
        self.replace_data(&stat_path, st.to_text().into_bytes());
    }

    /// Recomputes a quota's usage from the subtree (when its stats node is created or a
    /// snapshot is loaded).
    pub(crate) fn update_quota_for_path(&mut self, prefix: &str) {
        let (count, bytes) = self.subtree_usage(prefix);
        let stat_path = quota::stat_path(prefix);
        if self.node(&stat_path).is_none() {
            tracing::warn!(%stat_path, "missing quota stats node");
            return;
        }
        let mut st = StatsTrack::default();
        st.set_count(count);
        st.set_bytes(bytes);
        self.replace_data(&stat_path, st.to_text().into_bytes());
    }

    /// Node count and data bytes of the subtree at `path`, itself included.
    fn subtree_usage(&self, path: &str) -> (i64, i64) {
        self.node(path).map_or((0, 0), super::subtree_usage)
    }

    /// Replaces a node's data without touching its stat (quota bookkeeping).
    fn replace_data(&mut self, path: &str, data: Vec<u8>) {
        let new_len = data.len() as u64;
        if let Some(old_len) = self.modify(path, |n| {
            let old = n.data_len() as u64;
            n.data = Some(Arc::from(data));
            old
        }) {
            self.data_size = (self.data_size + new_len).saturating_sub(old_len);
        }
    }

    /// Hard quota check for the nearest quota'd ancestor of `path` (Apache's
    /// `ZooKeeperServer.checkQuota`): true when the change would exceed a hard limit.
    /// Exceeding a soft limit only logs a warning.
    pub fn quota_exceeded(&self, path: &str, added_bytes: i64, added_count: i64) -> bool {
        let Some(prefix) = self.max_prefix_with_quota(path) else {
            return false;
        };
        let Some(limit_node) = self.node(&quota::limit_path(&prefix)) else {
            tracing::error!(%prefix, "missing quota limits node");
            return false;
        };
        let limits = StatsTrack::parse(limit_node.data.as_deref().unwrap_or(&[]));
        let check_count =
            added_count != 0 && (limits.count() > -1 || limits.count_hard_limit() > -1);
        let check_bytes =
            added_bytes != 0 && (limits.bytes() > -1 || limits.byte_hard_limit() > -1);
        if !check_count && !check_bytes {
            return false;
        }
        let Some(stat_node) = self.node(&quota::stat_path(&prefix)) else {
            tracing::error!(%prefix, "missing quota stats node");
            return false;
        };
        let current = StatsTrack::parse(stat_node.data.as_deref().unwrap_or(&[]));
        let over = |what: &str, now: i64, hard: i64, soft: i64| {
            let (limit, is_hard) = if hard > -1 {
                (hard, true)
            } else {
                (soft, false)
            };
            if now > limit {
                tracing::warn!(
                    %prefix,
                    "quota exceeded: current {what}={now}, {}Limit={limit}",
                    if is_hard { "hard" } else { "soft" }
                );
                is_hard
            } else {
                false
            }
        };
        if check_count
            && over(
                "count",
                current.count() + added_count,
                limits.count_hard_limit(),
                limits.count(),
            )
        {
            return true;
        }
        check_bytes
            && over(
                "bytes",
                current.bytes() + added_bytes,
                limits.byte_hard_limit(),
                limits.bytes(),
            )
    }
}

/// Sub-txn types Apache accepts inside a multi.
fn multi_sub_allowed(kind: i32) -> bool {
    matches!(
        kind,
        op::CREATE
            | op::CREATE2
            | op::CREATE_TTL
            | op::CREATE_CONTAINER
            | op::DELETE
            | op::DELETE_CONTAINER
            | op::SET_DATA
            | op::ERROR
            | op::CHECK
    )
}

fn error_code(code: i32) -> ErrorCode {
    ErrorCode::from_code(code).unwrap_or_else(|| {
        tracing::warn!(code, "unknown error code in error txn");
        ErrorCode::SystemError
    })
}

fn trigger(path: &str, event: i32) -> WatchTrigger {
    WatchTrigger {
        path: path.to_string(),
        event,
    }
}

/// Sets a parent's cversion (the txn's, or one more than now for -1) and pzxid, but only
/// forward: replaying txns of the fuzzy snapshot range must not move them back.
fn advance_cversion(stat: &mut StatPersisted, cversion: i32, zxid: i64) {
    let cv = if cversion == -1 {
        stat.cversion.wrapping_add(1)
    } else {
        cversion
    };
    if cv > stat.cversion {
        stat.cversion = cv;
        stat.pzxid = zxid;
    }
}
