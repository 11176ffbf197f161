//! Hash maps for the core's per-request paths: foldhash (seeded per map, so keys chosen by
//! clients cannot be aimed at collisions without the seed) instead of std's SipHash, which
//! cost ~9% of the instructions of a setData.

/// `std::collections::HashMap` with foldhash. Build with `HashMap::default()`.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::quality::RandomState>;
/// `std::collections::HashSet` with foldhash. Build with `HashSet::default()`.
pub type HashSet<T> = std::collections::HashSet<T, foldhash::quality::RandomState>;
