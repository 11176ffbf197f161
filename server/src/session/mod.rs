//! Session tracker: ids, passwords, timeouts and expiry.
//!
//! Expiry works as Apache's SessionTrackerImpl: each session sits in a bucket rounded up to the
//! next tick, a touch moves it to a later bucket, and everything in a bucket whose time has
//! passed expires at once. Ids and passwords are derived exactly as Apache derives them, so a
//! client can resume its session on any server of a mixed ensemble.

mod password;

use std::collections::BTreeMap;

use crate::hashing::{HashMap, HashSet};

pub use password::session_password;

/// State of one session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub timeout_ms: i32,
    /// Bucket (ms since the tracker's clock origin) at which it expires if not touched.
    pub expires_at: u64,
    /// Set once a closeSession has been prepared: no more requests are accepted.
    pub closing: bool,
}

#[derive(Debug)]
pub struct SessionTracker {
    tick_ms: u64,
    next_id: i64,
    sessions: HashMap<i64, Session>,
    buckets: BTreeMap<u64, HashSet<i64>>,
}

/// Apache's initial session id: server id in the top byte, the clock below it.
pub fn initial_session_id(server_id: u64, now_unix_ms: i64) -> i64 {
    let mut id = ((now_unix_ms << 24) as u64 >> 8) as i64;
    id |= (server_id as i64) << 56;
    if id == i64::MIN {
        id += 1;
    }
    id
}

impl SessionTracker {
    pub fn new(server_id: u64, tick_ms: u64, now_unix_ms: i64) -> Self {
        SessionTracker {
            tick_ms: tick_ms.max(1),
            next_id: initial_session_id(server_id, now_unix_ms),
            sessions: HashMap::default(),
            buckets: BTreeMap::new(),
        }
    }

    fn bucket(&self, t: u64) -> u64 {
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Allocates the next session id (not yet tracked).
    pub fn next_session_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Starts tracking a session (new, or restored from disk).
    pub fn add(&mut self, id: i64, timeout_ms: i32, now: u64) {
        if let Some(old) = self.sessions.remove(&id) {
            self.unbucket(id, old.expires_at);
        }
        let expires_at = self.bucket(now + timeout_ms.max(0) as u64);
        self.buckets.entry(expires_at).or_default().insert(id);
        self.sessions.insert(
            id,
            Session {
                id,
                timeout_ms,
                expires_at,
                closing: false,
            },
        );
    }

    fn unbucket(&mut self, id: i64, at: u64) {
        if let Some(b) = self.buckets.get_mut(&at) {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&at);
            }
        }
    }

    /// Extends a live session's lease; false if it is unknown or closing.
    pub fn touch(&mut self, id: i64, now: u64) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let new_at = self.bucket(now + s.timeout_ms.max(0) as u64);
        let old_at = s.expires_at;
        if new_at <= old_at {
            return true;
        }
        self.unbucket(id, old_at);
        self.buckets.entry(new_at).or_default().insert(id);
        if let Some(s) = self.sessions.get_mut(&id) {
            s.expires_at = new_at;
        }
        true
    }

    pub fn get(&self, id: i64) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// True if the session exists and is not closing.
    pub fn is_active(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    pub fn set_closing(&mut self, id: i64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    pub fn remove(&mut self, id: i64) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        self.unbucket(id, s.expires_at);
        Some(s)
    }

    /// Sessions whose lease ran out by `now`; they are marked closing and stay tracked until
    /// their closeSession is applied.
    pub fn take_expired(&mut self, now: u64) -> Vec<i64> {
        let due: Vec<u64> = self.buckets.range(..=now).map(|(k, _)| *k).collect();
        let mut out = Vec::new();
        for k in due {
            if let Some(ids) = self.buckets.remove(&k) {
                for id in ids {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.closing = true;
                        out.push(id);
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// When the next bucket falls due, if any.
    pub fn next_expiry(&self) -> Option<u64> {
        self.buckets.keys().next().copied()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// (id, timeout) of every session, sorted by id: what a snapshot stores.
    pub fn snapshot(&self) -> Vec<(i64, i32)> {
        let mut v: Vec<(i64, i32)> = self
            .sessions
            .values()
            .map(|s| (s.id, s.timeout_ms))
            .collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_layout_matches_apache() {
        let id = initial_session_id(1, 0x0123_4567_89ab);
        assert_eq!(id >> 56, 1);
        assert_eq!(
            id & 0x00ff_ffff_ffff_ffff,
            (0x0123_4567_89abi64 << 16) & 0x00ff_ffff_ffff_ffff
        );
    }

    #[test]
    fn expiry_by_bucket_and_touch() {
        let mut t = SessionTracker::new(1, 100, 0);
        let a = t.next_session_id();
        let b = t.next_session_id();
        assert_ne!(a, b);
        t.add(a, 1000, 0);
        t.add(b, 1000, 0);
        assert!(t.take_expired(1000).is_empty());
        assert!(t.touch(a, 900));
        assert_eq!(t.take_expired(1100), vec![b]);
        assert!(!t.touch(b, 1100), "an expiring session cannot be revived");
        assert!(t.take_expired(1900).is_empty());
        assert_eq!(t.take_expired(2000), vec![a]);
        t.remove(a);
        t.remove(b);
        assert!(t.is_empty());
        assert_eq!(t.next_expiry(), None);
    }
}
