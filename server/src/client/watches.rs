//! Client-side record of the watches the server holds for this session, so that they can be
//! re-registered with SetWatches/SetWatches2 after a reconnect (facts §8). Paths are server paths.

use std::collections::BTreeSet;

use crate::proto::codes::{event, op, watcher_type, ErrorCode};
use crate::proto::jute::Jute;
use crate::proto::records::{SetWatches, SetWatches2};

/// Java splits SetWatches into packets of about this many bytes of paths.
const SET_WATCHES_BATCH: usize = 128 * 1024;

/// A registry change to apply once a request's reply arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchReg {
    /// getData: a data watch on success.
    Data(String),
    /// exists: a data watch if the node exists, an exist watch on NONODE.
    Exists(String),
    /// getChildren / getChildren2: a child watch on success.
    Child(String),
    /// addWatch mode 0 / 1.
    Persistent(String),
    Recursive(String),
    /// removeWatches with a WatcherType: drops the matching kinds on success.
    Remove(String, i32),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchRegistry {
    data: BTreeSet<String>,
    exist: BTreeSet<String>,
    child: BTreeSet<String>,
    persistent: BTreeSet<String>,
    recursive: BTreeSet<String>,
}

impl WatchRegistry {
    /// Applies a registration given the reply's error code.
    pub fn on_reply(&mut self, reg: &WatchReg, err: i32) {
        let ok = err == 0;
        match reg {
            WatchReg::Data(p) if ok => {
                self.data.insert(p.clone());
            }
            WatchReg::Exists(p) if ok => {
                self.data.insert(p.clone());
            }
            WatchReg::Exists(p) if err == ErrorCode::NoNode.code() => {
                self.exist.insert(p.clone());
            }
            WatchReg::Child(p) if ok => {
                self.child.insert(p.clone());
            }
            WatchReg::Persistent(p) if ok => {
                self.persistent.insert(p.clone());
            }
            WatchReg::Recursive(p) if ok => {
                self.recursive.insert(p.clone());
            }
            WatchReg::Remove(p, kind) if ok => self.remove(p, *kind),
            _ => {}
        }
    }

    fn remove(&mut self, path: &str, kind: i32) {
        let (data, child, pers, rec) = match kind {
            watcher_type::CHILDREN => (false, true, false, false),
            watcher_type::DATA => (true, false, false, false),
            watcher_type::ANY => (true, true, true, true),
            watcher_type::PERSISTENT => (false, false, true, false),
            watcher_type::PERSISTENT_RECURSIVE => (false, false, false, true),
            _ => (false, false, false, false),
        };
        if data {
            self.data.remove(path);
            self.exist.remove(path);
        }
        if child {
            self.child.remove(path);
        }
        if pers {
            self.persistent.remove(path);
        }
        if rec {
            self.recursive.remove(path);
        }
    }

    /// One-shot watches are consumed by the event that fires them; persistent ones stay.
    pub fn on_event(&mut self, kind: i32, path: &str) {
        match kind {
            event::NODE_CREATED | event::NODE_DATA_CHANGED => {
                self.data.remove(path);
                self.exist.remove(path);
            }
            event::NODE_DELETED => {
                self.data.remove(path);
                self.exist.remove(path);
                self.child.remove(path);
            }
            event::NODE_CHILDREN_CHANGED => {
                self.child.remove(path);
            }
            _ => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }

    /// The (opcode, body) packets that re-register every watch relative to `zxid`: SetWatches
    /// (101) when there are no persistent watches, SetWatches2 (105) otherwise, as Java does.
    pub fn set_watches_packets(&self, zxid: i64) -> Vec<(i32, Vec<u8>)> {
        let v2 = !self.persistent.is_empty() || !self.recursive.is_empty();
        let lists = [
            &self.data,
            &self.exist,
            &self.child,
            &self.persistent,
            &self.recursive,
        ];
        let mut out = Vec::new();
        let mut batch: [Vec<String>; 5] = Default::default();
        let mut size = 0usize;
        for (i, list) in lists.iter().enumerate() {
            for p in list.iter() {
                if size + p.len() > SET_WATCHES_BATCH && size > 0 {
                    out.push(Self::packet(zxid, v2, std::mem::take(&mut batch)));
                    size = 0;
                }
                size += p.len();
                batch[i].push(p.clone());
            }
        }
        if size > 0 {
            out.push(Self::packet(zxid, v2, batch));
        }
        out
    }

    fn packet(zxid: i64, v2: bool, lists: [Vec<String>; 5]) -> (i32, Vec<u8>) {
        let [data, exist, child, persistent, recursive] = lists;
        if v2 {
            let sw = SetWatches2 {
                relative_zxid: zxid,
                data_watches: data,
                exist_watches: exist,
                child_watches: child,
                persistent_watches: persistent,
                persistent_recursive_watches: recursive,
            };
            (op::SET_WATCHES2, sw.to_bytes())
        } else {
            let sw = SetWatches {
                relative_zxid: zxid,
                data_watches: data,
                exist_watches: exist,
                child_watches: child,
            };
            (op::SET_WATCHES, sw.to_bytes())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn exists_registers_data_or_exist_watch() {
        let mut w = WatchRegistry::default();
        w.on_reply(&WatchReg::Exists("/a".into()), 0);
        w.on_reply(&WatchReg::Exists("/b".into()), -101);
        w.on_reply(&WatchReg::Data("/c".into()), -101);
        assert!(w.data.contains("/a"));
        assert!(w.exist.contains("/b"));
        assert!(!w.data.contains("/c"));
        w.on_event(event::NODE_CREATED, "/b");
        assert!(w.exist.is_empty());
    }

    #[test]
    fn one_shot_watches_are_consumed_persistent_stay() {
        let mut w = WatchRegistry::default();
        w.on_reply(&WatchReg::Child("/p".into()), 0);
        w.on_reply(&WatchReg::Persistent("/p".into()), 0);
        w.on_event(event::NODE_CHILDREN_CHANGED, "/p");
        assert!(w.child.is_empty());
        assert!(w.persistent.contains("/p"));
        w.on_reply(&WatchReg::Remove("/p".into(), watcher_type::PERSISTENT), 0);
        assert!(w.is_empty());
    }

    #[test]
    fn packets_use_v1_without_persistent_watches() {
        let mut w = WatchRegistry::default();
        assert!(w.set_watches_packets(1).is_empty());
        w.on_reply(&WatchReg::Data("/d".into()), 0);
        w.on_reply(&WatchReg::Exists("/e".into()), -101);
        let p = w.set_watches_packets(9);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, op::SET_WATCHES);
        let sw = SetWatches::from_bytes(Bytes::from(p[0].1.clone())).unwrap();
        assert_eq!(sw.relative_zxid, 9);
        assert_eq!(sw.data_watches, vec!["/d"]);
        assert_eq!(sw.exist_watches, vec!["/e"]);
        w.on_reply(&WatchReg::Recursive("/r".into()), 0);
        let p = w.set_watches_packets(9);
        assert_eq!(p[0].0, op::SET_WATCHES2);
        let sw = SetWatches2::from_bytes(Bytes::from(p[0].1.clone())).unwrap();
        assert_eq!(sw.persistent_recursive_watches, vec!["/r"]);
    }

    #[test]
    fn large_watch_sets_are_split() {
        let mut w = WatchRegistry::default();
        let long = "x".repeat(1000);
        for i in 0..300 {
            w.on_reply(&WatchReg::Data(format!("/{long}{i}")), 0);
        }
        let p = w.set_watches_packets(0);
        assert!(p.len() >= 3);
        let total: usize = p
            .iter()
            .map(|(_, b)| {
                SetWatches::from_bytes(Bytes::from(b.clone()))
                    .unwrap()
                    .data_watches
                    .len()
            })
            .sum();
        assert_eq!(total, 300);
    }
}
