//! Watch manager: which sessions watch which paths, and who a change notifies.
//!
//! Like Apache's, it keeps two tables: *data* watches (getData/exists, fired by NodeCreated,
//! NodeDataChanged and NodeDeleted) and *child* watches (getChildren, fired by
//! NodeChildrenChanged and NodeDeleted). Standard watches fire once; persistent watches sit in
//! both tables and stay; persistent-recursive watches sit in the data table only and also fire
//! for every descendant, so they never see NodeChildrenChanged. A session is notified at most
//! once per change, whatever mix of watches it holds.

use std::collections::BTreeMap;

use crate::hashing::{HashMap, HashSet};
use crate::proto::codes::{event, watcher_type};

/// How a watch was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchMode {
    Standard,
    Persistent,
    PersistentRecursive,
}

/// Per path and session: which modes are set (a session may hold several at once).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Modes {
    standard: bool,
    persistent: bool,
    recursive: bool,
}

impl Modes {
    fn set(&mut self, m: WatchMode, on: bool) {
        match m {
            WatchMode::Standard => self.standard = on,
            WatchMode::Persistent => self.persistent = on,
            WatchMode::PersistentRecursive => self.recursive = on,
        }
    }
    fn has(&self, m: WatchMode) -> bool {
        match m {
            WatchMode::Standard => self.standard,
            WatchMode::Persistent => self.persistent,
            WatchMode::PersistentRecursive => self.recursive,
        }
    }
    fn is_empty(&self) -> bool {
        !(self.standard || self.persistent || self.recursive)
    }
}

/// One table: path -> session -> modes, with a reverse index for session cleanup.
#[derive(Debug, Default)]
struct Table {
    by_path: HashMap<String, HashMap<i64, Modes>>,
    by_session: HashMap<i64, HashSet<String>>,
    recursive_count: usize,
}

impl Table {
    fn add(&mut self, session: i64, path: &str, mode: WatchMode) {
        let modes = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .entry(session)
            .or_default();
        if mode == WatchMode::PersistentRecursive && !modes.recursive {
            self.recursive_count += 1;
        }
        modes.set(mode, true);
        self.by_session
            .entry(session)
            .or_default()
            .insert(path.to_string());
    }

    fn contains(&self, session: i64, path: &str, mode: Option<WatchMode>) -> bool {
        self.by_path
            .get(path)
            .and_then(|s| s.get(&session))
            .is_some_and(|m| mode.map_or(!m.is_empty(), |mode| m.has(mode)))
    }

    /// Removes the given mode (or all modes) of a session's watch on a path.
    fn remove(&mut self, session: i64, path: &str, mode: Option<WatchMode>) -> bool {
        let Some(sessions) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(modes) = sessions.get_mut(&session) else {
            return false;
        };
        let removed = match mode {
            Some(m) if modes.has(m) => {
                if m == WatchMode::PersistentRecursive {
                    self.recursive_count -= 1;
                }
                modes.set(m, false);
                true
            }
            Some(_) => false,
            None => {
                if modes.recursive {
                    self.recursive_count -= 1;
                }
                *modes = Modes::default();
                true
            }
        };
        if modes.is_empty() {
            sessions.remove(&session);
            if sessions.is_empty() {
                self.by_path.remove(path);
            }
            if let Some(paths) = self.by_session.get_mut(&session) {
                paths.remove(path);
                if paths.is_empty() {
                    self.by_session.remove(&session);
                }
            }
        }
        removed
    }

    fn remove_session(&mut self, session: i64) {
        if let Some(paths) = self.by_session.remove(&session) {
            for p in paths {
                if let Some(sessions) = self.by_path.get_mut(&p) {
                    if let Some(m) = sessions.remove(&session) {
                        if m.recursive {
                            self.recursive_count -= 1;
                        }
                    }
                    if sessions.is_empty() {
                        self.by_path.remove(&p);
                    }
                }
            }
        }
    }

    /// Collects the sessions a change at `path` notifies, consuming standard watches.
    fn trigger(&mut self, path: &str, out: &mut Vec<i64>, seen: &mut HashSet<i64>) {
        let mut fired_standard = Vec::new();
        if let Some(sessions) = self.by_path.get(path) {
            for (&s, m) in sessions {
                if m.standard {
                    fired_standard.push(s);
                }
                if seen.insert(s) {
                    out.push(s);
                }
            }
        }
        if self.recursive_count > 0 {
            let mut p = path;
            while p != "/" {
                p = match p.rfind('/') {
                    Some(0) => "/",
                    Some(i) => &p[..i],
                    None => break,
                };
                if let Some(sessions) = self.by_path.get(p) {
                    for (&s, m) in sessions {
                        if m.recursive && seen.insert(s) {
                            out.push(s);
                        }
                    }
                }
            }
        }
        for s in fired_standard {
            self.remove(s, path, Some(WatchMode::Standard));
        }
    }

    fn count(&self) -> usize {
        self.by_path.values().map(|s| s.len()).sum()
    }
}

/// All watches of the server.
#[derive(Debug, Default)]
pub struct WatchManager {
    data: Table,
    child: Table,
}

/// The watch kinds a client can ask for with a read or on reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// getData, and exists (which can watch a node that does not exist yet)
    Data,
    /// getChildren
    Child,
    Persistent,
    PersistentRecursive,
}

impl WatchManager {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, session: i64, path: &str, kind: WatchKind) {
        match kind {
            WatchKind::Data => self.data.add(session, path, WatchMode::Standard),
            WatchKind::Child => self.child.add(session, path, WatchMode::Standard),
            WatchKind::Persistent => {
                self.data.add(session, path, WatchMode::Persistent);
                self.child.add(session, path, WatchMode::Persistent);
            }
            WatchKind::PersistentRecursive => {
                self.data.add(session, path, WatchMode::PersistentRecursive);
            }
        }
    }

    /// The sessions notified by an event of type `ev` at `path` (standard watches are consumed).
    pub fn trigger(&mut self, path: &str, ev: i32) -> Vec<i64> {
        let mut out = Vec::new();
        let mut seen = HashSet::default();
        match ev {
            event::NODE_CREATED | event::NODE_DATA_CHANGED => {
                self.data.trigger(path, &mut out, &mut seen)
            }
            event::NODE_CHILDREN_CHANGED => self.child.trigger(path, &mut out, &mut seen),
            event::NODE_DELETED => {
                self.data.trigger(path, &mut out, &mut seen);
                self.child.trigger(path, &mut out, &mut seen);
            }
            _ => {}
        }
        out
    }

    /// The watch modes a `WatcherType` of checkWatches/removeWatches addresses, per table.
    fn selector(kind: i32) -> Option<[(bool, Option<WatchMode>); 2]> {
        // [(in data table?, mode) for data table, (in child table?, mode) for child table]
        Some(match kind {
            watcher_type::CHILDREN => [(false, None), (true, Some(WatchMode::Standard))],
            watcher_type::DATA => [(true, Some(WatchMode::Standard)), (false, None)],
            watcher_type::ANY => [(true, None), (true, None)],
            watcher_type::PERSISTENT => [
                (true, Some(WatchMode::Persistent)),
                (true, Some(WatchMode::Persistent)),
            ],
            watcher_type::PERSISTENT_RECURSIVE => {
                [(true, Some(WatchMode::PersistentRecursive)), (false, None)]
            }
            _ => return None,
        })
    }

    /// checkWatches: does the session hold a watch of this type on the path?
    pub fn contains(&self, session: i64, path: &str, kind: i32) -> bool {
        let Some([(d, dm), (c, cm)]) = Self::selector(kind) else {
            return false;
        };
        (d && self.data.contains(session, path, dm))
            || (c && self.child.contains(session, path, cm))
    }

    /// removeWatches: removes the session's watches of this type; false if there was none.
    pub fn remove(&mut self, session: i64, path: &str, kind: i32) -> bool {
        let Some([(d, dm), (c, cm)]) = Self::selector(kind) else {
            return false;
        };
        let a = d && self.data.remove(session, path, dm);
        let b = c && self.child.remove(session, path, cm);
        a || b
    }

    /// Drops every watch of a session (its connection closed or it expired).
    pub fn remove_session(&mut self, session: i64) {
        self.data.remove_session(session);
        self.child.remove_session(session);
    }

    /// Total number of (path, session) watch registrations, as `wchs` counts them.
    pub fn count(&self) -> usize {
        self.data.count() + self.child.count()
    }

    pub fn path_count(&self) -> usize {
        let mut paths: HashSet<&String> = self.data.by_path.keys().collect();
        paths.extend(self.child.by_path.keys());
        paths.len()
    }

    /// Paths with a data (or exists) watch, per session, sorted: what Apache's `wchc`
    /// lists (it reports the data-watch table only).
    pub fn data_by_session(&self) -> BTreeMap<i64, Vec<String>> {
        Self::sessions_of(&[&self.data])
    }

    /// Sessions with a data (or exists) watch, per path, sorted (`wchp`, `wchs`).
    pub fn data_by_path(&self) -> BTreeMap<String, Vec<i64>> {
        Self::paths_of(&[&self.data])
    }

    /// Paths watched per session in both tables, sorted.
    pub fn by_session(&self) -> BTreeMap<i64, Vec<String>> {
        Self::sessions_of(&[&self.data, &self.child])
    }

    fn sessions_of(tables: &[&Table]) -> BTreeMap<i64, Vec<String>> {
        let mut m: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for t in tables {
            for (s, paths) in &t.by_session {
                m.entry(*s).or_default().extend(paths.iter().cloned());
            }
        }
        for v in m.values_mut() {
            v.sort();
            v.dedup();
        }
        m
    }

    /// Sessions watching each path in both tables, sorted.
    pub fn by_path(&self) -> BTreeMap<String, Vec<i64>> {
        Self::paths_of(&[&self.data, &self.child])
    }

    fn paths_of(tables: &[&Table]) -> BTreeMap<String, Vec<i64>> {
        let mut m: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for t in tables {
            for (p, sessions) in &t.by_path {
                m.entry(p.clone()).or_default().extend(sessions.keys());
            }
        }
        for v in m.values_mut() {
            v.sort();
            v.dedup();
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_watches_fire_once() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Data);
        w.add(2, "/a", WatchKind::Child);
        assert_eq!(w.trigger("/a", event::NODE_DATA_CHANGED), vec![1]);
        assert!(w.trigger("/a", event::NODE_DATA_CHANGED).is_empty());
        assert_eq!(w.trigger("/a", event::NODE_CHILDREN_CHANGED), vec![2]);
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn delete_notifies_each_session_once() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Data);
        w.add(1, "/a", WatchKind::Child);
        assert_eq!(w.trigger("/a", event::NODE_DELETED), vec![1]);
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn persistent_watches_stay_and_see_children_changes() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Persistent);
        for _ in 0..3 {
            assert_eq!(w.trigger("/a", event::NODE_DATA_CHANGED), vec![1]);
            assert_eq!(w.trigger("/a", event::NODE_CHILDREN_CHANGED), vec![1]);
        }
        assert!(w.trigger("/a/b", event::NODE_CREATED).is_empty());
    }

    #[test]
    fn recursive_watches_fire_for_descendants_but_not_children_changed() {
        let mut w = WatchManager::new();
        w.add(7, "/a", WatchKind::PersistentRecursive);
        assert_eq!(w.trigger("/a/b/c", event::NODE_CREATED), vec![7]);
        assert_eq!(w.trigger("/a", event::NODE_DATA_CHANGED), vec![7]);
        assert!(w.trigger("/a", event::NODE_CHILDREN_CHANGED).is_empty());
        assert!(w.trigger("/ab", event::NODE_CREATED).is_empty());
        w.add(8, "/", WatchKind::PersistentRecursive);
        assert_eq!(w.trigger("/x", event::NODE_DELETED), vec![8]);
    }

    #[test]
    fn remove_and_check_by_type() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Data);
        w.add(1, "/a", WatchKind::Child);
        assert!(w.contains(1, "/a", watcher_type::CHILDREN));
        assert!(w.remove(1, "/a", watcher_type::CHILDREN));
        assert!(!w.contains(1, "/a", watcher_type::CHILDREN));
        assert!(w.contains(1, "/a", watcher_type::DATA));
        assert!(!w.remove(1, "/a", watcher_type::PERSISTENT));
        assert!(w.remove(1, "/a", watcher_type::ANY));
        assert!(!w.remove(1, "/a", watcher_type::ANY));
        w.add(1, "/r", WatchKind::PersistentRecursive);
        assert!(w.remove(1, "/r", watcher_type::PERSISTENT_RECURSIVE));
        assert!(w.trigger("/r/x", event::NODE_CREATED).is_empty());
    }

    #[test]
    fn session_removal_drops_everything() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Data);
        w.add(1, "/b", WatchKind::PersistentRecursive);
        w.add(2, "/a", WatchKind::Data);
        w.remove_session(1);
        assert_eq!(w.trigger("/a", event::NODE_DATA_CHANGED), vec![2]);
        assert!(w.trigger("/b/c", event::NODE_CREATED).is_empty());
        assert!(w.by_session().is_empty());
    }
}
