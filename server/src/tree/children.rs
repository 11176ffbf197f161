//! A znode's children: a copy-on-write map from name to node, sorted by name, kept as a
//! list of small sorted chunks.
//!
//! Why not `imbl::OrdMap` (used before): its B-tree leaves are fixed 64-slot arrays, 2.5 KiB
//! allocations even for a single child, and a full leaf splits in half, so children created
//! in name order (sequential znodes, or any counter-named keys) leave every leaf half
//! empty: about 80 bytes per child. Here a chunk is a vector that grows as it fills, a
//! full chunk taking an entry at its end spills just that entry into the next chunk, and
//! one taking an entry inside splits where the entry goes, so in-order creation packs
//! chunks full (about 33 bytes per child), and a node without children pays 8 bytes for
//! the empty map.
//!
//! Cloning is O(1) (the chunk list is shared); the first change after a clone copies the
//! chunk list (one pointer and one name per chunk) and the one chunk it touches, as a
//! B-tree copies the path to a leaf. The chunk list is flat: a split moves the rest of
//! it, about 0.5 MB with a million children under one node, at most once per 16 creates
//! in random order (never for creates in order, which append). Apache cannot even list a
//! million children under its default 1 MB `jute.maxbuffer`, so that is beyond use.

use std::cmp::Ordering;
use std::sync::Arc;

use super::node::{Name, Node};

/// Most entries in one chunk: 64 entries of 32 bytes fill a 2 KiB allocation exactly.
const CHUNK: usize = 64;
/// A chunk left with fewer entries than this after a removal is merged into a neighbour
/// that has room, so deletions cannot leave a map of near-empty chunks.
const MERGE_BELOW: usize = CHUNK / 4;

type Entry = (Name, Arc<Node>);
type Chunk = Vec<Entry>;

/// The children of one znode (see the module docs). Empty maps hold no allocation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Children(Option<Arc<Chunks>>);

/// Invariants: chunks are non-empty, hold at most [`CHUNK`] entries, and are sorted
/// within and across chunks; `firsts[i]` is the first name of `chunks[i]`; `len` is the
/// sum of the chunks' lengths and is never 0.
#[derive(Clone, Debug)]
struct Chunks {
    len: usize,
    /// Each chunk's first name, kept beside the chunks so that finding the chunk of a name
    /// searches one array instead of following a pointer per probe.
    firsts: Vec<Name>,
    chunks: Vec<Arc<Chunk>>,
}

impl Chunks {
    /// The chunk that holds `name` or would take it, and the position in that chunk.
    fn find(&self, name: &str) -> (usize, Result<usize, usize>) {
        let after = self
            .firsts
            .partition_point(|f| f.cmp_str(name) != Ordering::Greater);
        let ci = after.saturating_sub(1);
        (ci, self.chunks[ci].binary_search_by(|e| e.0.cmp_str(name)))
    }

    fn add_chunk(&mut self, ci: usize, chunk: Chunk) {
        self.firsts.insert(ci, chunk[0].0.clone());
        self.chunks.insert(ci, Arc::new(chunk));
    }

    fn remove_chunk(&mut self, ci: usize) -> Arc<Chunk> {
        self.firsts.remove(ci);
        self.chunks.remove(ci)
    }

    /// After the entry at position 0 of chunk `ci` changed.
    fn refresh_first(&mut self, ci: usize) {
        self.firsts[ci] = self.chunks[ci][0].0.clone();
    }
}

impl Children {
    pub fn new() -> Children {
        Children(None)
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.len)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Node>> {
        let t = self.0.as_ref()?;
        let (ci, found) = t.find(name);
        found.ok().map(|i| &t.chunks[ci][i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The child to change in place; copies the chunk list and the child's chunk first
    /// if they are shared with a clone of this map.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Arc<Node>> {
        let (ci, i) = {
            let t = self.0.as_ref()?;
            let (ci, found) = t.find(name);
            (ci, found.ok()?)
        };
        let t = Arc::make_mut(self.0.as_mut()?);
        Some(&mut Arc::make_mut(&mut t.chunks[ci])[i].1)
    }

    /// Adds or replaces a child; returns the replaced one.
    pub fn insert(&mut self, name: Name, node: Arc<Node>) -> Option<Arc<Node>> {
        let Some(shared) = self.0.as_mut() else {
            self.0 = Some(Arc::new(Chunks {
                len: 1,
                firsts: vec![name.clone()],
                chunks: vec![Arc::new(vec![(name, node)])],
            }));
            return None;
        };
        let t = Arc::make_mut(shared);
        let (ci, found) = t.find(&name);
        let i = match found {
            Ok(i) => {
                let chunk = Arc::make_mut(&mut t.chunks[ci]);
                return Some(std::mem::replace(&mut chunk[i].1, node));
            }
            Err(i) => i,
        };
        t.len += 1;
        let full = t.chunks[ci].len() >= CHUNK;
        if !full {
            insert_growing(Arc::make_mut(&mut t.chunks[ci]), i, (name, node));
            if i == 0 {
                // Only the first chunk is ever asked to take a name before its first one.
                t.refresh_first(ci);
            }
        } else if i == CHUNK {
            // At the end of a full chunk: the next chunk's front if it has room, else a
            // chunk of its own (in-order creation keeps every chunk full).
            match t.chunks.get_mut(ci + 1).filter(|c| c.len() < CHUNK) {
                Some(next) => {
                    insert_growing(Arc::make_mut(next), 0, (name, node));
                    t.refresh_first(ci + 1);
                }
                None => t.add_chunk(ci + 1, vec![(name, node)]),
            }
        } else if i == 0 {
            t.add_chunk(ci, vec![(name, node)]);
        } else {
            // Split where the name goes (within the middle half): a run of names created
            // in order somewhere inside the map (counters without padding: n10 .. n19 go
            // after n1) then keeps appending to the left part instead of leaving half-empty
            // chunks behind, and random names still leave both parts at least 1/4 full.
            let at = i.clamp(CHUNK / 4, CHUNK * 3 / 4);
            let left = Arc::make_mut(&mut t.chunks[ci]);
            let mut right = Vec::with_capacity(CHUNK);
            right.extend(left.drain(at..));
            if i <= at {
                left.insert(i, (name, node));
            } else {
                right.insert(i - at, (name, node));
            }
            t.add_chunk(ci + 1, right);
        }
        None
    }

    /// Removes a child; returns it.
    pub fn remove(&mut self, name: &str) -> Option<Arc<Node>> {
        let (ci, i, last) = {
            let t = self.0.as_ref()?;
            let (ci, found) = t.find(name);
            (ci, found.ok()?, t.len == 1)
        };
        if last {
            // Drop the whole map without first copying parts shared with a clone.
            return self.0.take().map(|t| t.chunks[ci][i].1.clone());
        }
        let t = Arc::make_mut(self.0.as_mut()?);
        t.len -= 1;
        let chunk = Arc::make_mut(&mut t.chunks[ci]);
        let removed = chunk.remove(i).1;
        let left = chunk.len();
        if left == 0 {
            t.remove_chunk(ci);
            return Some(removed);
        }
        if i == 0 {
            t.refresh_first(ci);
        }
        if left < MERGE_BELOW {
            merge_into_neighbour(t, ci);
        }
        Some(removed)
    }

    /// Children in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &Arc<Node>)> + '_ {
        self.0
            .iter()
            .flat_map(|t| t.chunks.iter())
            .flat_map(|c| c.iter())
            .map(|(n, c)| (n, c))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Name> + '_ {
        self.iter().map(|(n, _)| n)
    }

    pub fn values(&self) -> impl Iterator<Item = &Arc<Node>> + '_ {
        self.iter().map(|(_, c)| c)
    }
}

/// Inserts into a chunk with room, growing its allocation by doubling up to [`CHUNK`]
/// entries (never past it, as `Vec`'s own growth would).
fn insert_growing(chunk: &mut Chunk, i: usize, entry: Entry) {
    if chunk.len() == chunk.capacity() {
        let want = (chunk.len() * 2).clamp(4, CHUNK);
        chunk.reserve_exact(want - chunk.len());
    }
    chunk.insert(i, entry);
}

/// Moves the small chunk `ci` into the neighbour before or after it when it fits there
/// (the receiving chunk keeps its first name).
fn merge_into_neighbour(t: &mut Chunks, ci: usize) {
    let small = t.chunks[ci].len();
    if ci > 0 && t.chunks[ci - 1].len() + small <= CHUNK {
        let moved = t.remove_chunk(ci);
        let prev = Arc::make_mut(&mut t.chunks[ci - 1]);
        prev.reserve_exact(small);
        prev.extend(moved.iter().cloned());
    } else if ci + 1 < t.chunks.len() && t.chunks[ci + 1].len() + small <= CHUNK {
        let next = t.remove_chunk(ci + 1);
        let cur = Arc::make_mut(&mut t.chunks[ci]);
        cur.reserve_exact(next.len());
        cur.extend(next.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::proto::records::StatPersisted;

    fn node(v: i64) -> Arc<Node> {
        Arc::new(Node::new(
            None,
            -1,
            StatPersisted {
                czxid: v,
                ..Default::default()
            },
        ))
    }

    /// Checks the invariants and that the map holds exactly `model`, in order.
    fn check(m: &Children, model: &BTreeMap<String, i64>) {
        assert_eq!(m.len(), model.len());
        assert_eq!(m.is_empty(), model.is_empty());
        let got: Vec<(String, i64)> = m
            .iter()
            .map(|(n, c)| (n.to_string(), c.stat.czxid))
            .collect();
        let want: Vec<(String, i64)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(got, want);
        if let Some(t) = &m.0 {
            assert!(t.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
            assert!(t.chunks.iter().all(|c| c.capacity() <= CHUNK));
            assert_eq!(t.chunks.iter().map(|c| c.len()).sum::<usize>(), t.len);
            let firsts: Vec<&Name> = t.chunks.iter().map(|c| &c[0].0).collect();
            assert_eq!(firsts, t.firsts.iter().collect::<Vec<_>>());
        }
        for (k, v) in model {
            assert_eq!(m.get(k).map(|c| c.stat.czxid), Some(*v), "{k}");
        }
    }

    /// A map and its model holding `names`, inserted in the order given.
    fn filled(names: impl Iterator<Item = String>) -> (Children, BTreeMap<String, i64>) {
        let mut m = Children::new();
        let mut model = BTreeMap::new();
        for (i, key) in names.enumerate() {
            m.insert(Name::new(&key), node(i as i64));
            model.insert(key, i as i64);
        }
        (m, model)
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_operations_match_an_ordered_map() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut m = Children::new();
        let mut model = BTreeMap::new();
        for step in 0..20_000i64 {
            let key = format!("k{}", rng.next() % 700);
            match rng.next() % 10 {
                0..=4 => {
                    let old = m.insert(Name::new(&key), node(step));
                    let want = model.insert(key, step);
                    assert_eq!(old.map(|c| c.stat.czxid), want);
                }
                5..=7 => {
                    let got = m.remove(&key).map(|c| c.stat.czxid);
                    assert_eq!(got, model.remove(&key));
                }
                8 => {
                    if let Some(c) = m.get_mut(&key) {
                        Arc::make_mut(c).stat.czxid = -step;
                        model.insert(key, -step);
                    } else {
                        assert!(!model.contains_key(&key));
                    }
                }
                _ => assert_eq!(m.contains_key(&key), model.contains_key(&key)),
            }
            if step % 97 == 0 {
                check(&m, &model);
            }
        }
        check(&m, &model);
    }

    #[test]
    fn in_order_creation_fills_chunks() {
        let (mut m, model) = filled((0..10_000).map(|i| format!("lock-{i:010}")));
        check(&m, &model);
        let chunks = m.0.as_ref().map_or(0, |t| t.chunks.len());
        assert_eq!(chunks, 10_000usize.div_ceil(CHUNK));
        // Deleting them in order (a queue being consumed) leaves nothing behind.
        for i in 0..10_000i64 {
            assert!(m.remove(&format!("lock-{i:010}")).is_some());
        }
        assert!(m.is_empty() && m.0.is_none());
    }

    #[test]
    fn reverse_and_counter_named_creation_stay_sorted() {
        // Unpadded counters ("n1", "n10", "n100", ...) insert mid-map in runs.
        let names = (0..3000).rev().map(|i| format!("r{i:05}"));
        let (m, model) = filled(names.chain((0..3000).map(|i| format!("n{i}"))));
        check(&m, &model);
    }

    #[test]
    fn a_clone_is_unaffected_by_changes_to_the_original() {
        let (mut m, mut model) = filled((0..500).map(|i| format!("c{i:04}")));
        let snapshot = m.clone();
        let frozen = model.clone();
        m.remove("c0007");
        model.remove("c0007");
        m.insert(Name::new("c0250x"), node(-1));
        model.insert("c0250x".into(), -1);
        if let Some(c) = m.get_mut("c0400") {
            Arc::make_mut(c).stat.czxid = 9999;
        }
        model.insert("c0400".into(), 9999);
        check(&m, &model);
        check(&snapshot, &frozen);

        // Emptying a map shared with a clone leaves the clone whole.
        let (mut one, one_model) = filled(std::iter::once("only".to_string()));
        let kept = one.clone();
        assert!(one.remove("only").is_some());
        check(&one, &BTreeMap::new());
        check(&kept, &one_model);
    }

    #[test]
    fn deletions_merge_small_chunks() {
        let (mut m, mut model) = filled((0..6400).map(|i| format!("d{i:05}")));
        // Keep every 16th child: 400 of 6400.
        for i in 0..6400i64 {
            if i % 16 != 0 {
                let key = format!("d{i:05}");
                m.remove(&key);
                model.remove(&key);
            }
        }
        check(&m, &model);
        let chunks = m.0.as_ref().map_or(0, |t| t.chunks.len());
        assert!(
            chunks <= 400 / MERGE_BELOW + 1,
            "{chunks} chunks for 400 children"
        );
    }
}
