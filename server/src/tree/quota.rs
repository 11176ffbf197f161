//! Quotas: the `count=..,bytes=..` text of `zookeeper_limits` / `zookeeper_stats` nodes
//! (Apache's `StatsTrack`) and the quota path layout under `/zookeeper/quota`.

use std::collections::BTreeMap;

/// Root of the quota subtree.
pub const QUOTA_ROOT: &str = "/zookeeper/quota";
/// Name of the node that holds a subtree's limits.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// Name of the node that holds a subtree's current usage.
pub const STAT_NODE: &str = "zookeeper_stats";

const COUNT: &str = "count";
const BYTES: &str = "bytes";
const COUNT_HARD: &str = "countHardLimit";
const BYTES_HARD: &str = "byteHardLimit";

/// Path of the stats node for quota'd path `prefix`.
pub fn stat_path(prefix: &str) -> String {
    format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}")
}

/// Path of the limits node for quota'd path `prefix`.
pub fn limit_path(prefix: &str) -> String {
    format!("{QUOTA_ROOT}{prefix}/{LIMIT_NODE}")
}

/// The quota'd path a node under `/zookeeper/quota` belongs to ("" when the node sits
/// directly under the quota root or outside it), as Apache's `Quotas.trimQuotaPath`.
pub fn trim_quota_path(quota_path: &str) -> &str {
    quota_path.strip_prefix(QUOTA_ROOT).unwrap_or("")
}

/// Key/value pairs of a limits or stats node; a missing key reads as −1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

impl StatsTrack {
    /// Parses `k=v` pairs separated by runs of "," or ";". Pairs Apache would choke on
    /// (no "=", non-numeric) are skipped with a warning instead of failing the apply.
    pub fn parse(data: &[u8]) -> StatsTrack {
        let text = String::from_utf8_lossy(data);
        let mut values = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut kv = pair.split('=');
            let (Some(k), Some(v)) = (kv.next(), kv.next()) else {
                tracing::warn!(pair, "ignoring malformed quota pair");
                continue;
            };
            let v = if v.is_empty() {
                Ok(-1)
            } else {
                v.parse::<i64>()
            };
            match v {
                Ok(v) => {
                    values.insert(k.to_string(), v);
                }
                Err(_) => tracing::warn!(pair, "ignoring non-numeric quota value"),
            }
        }
        StatsTrack { values }
    }

    fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn count(&self) -> i64 {
        self.get(COUNT)
    }
    pub fn bytes(&self) -> i64 {
        self.get(BYTES)
    }
    pub fn count_hard_limit(&self) -> i64 {
        self.get(COUNT_HARD)
    }
    pub fn byte_hard_limit(&self) -> i64 {
        self.get(BYTES_HARD)
    }
    pub fn set_count(&mut self, v: i64) {
        self.values.insert(COUNT.to_string(), v);
    }
    pub fn set_bytes(&mut self, v: i64) {
        self.values.insert(BYTES.to_string(), v);
    }

    /// Apache's text form: `count=N,bytes=M`, then, if there are other keys, a spurious
    /// "=" (old parsers ignore what follows) and `;key=value` in key order.
    pub fn to_text(&self) -> String {
        let mut s = format!("{COUNT}={},{BYTES}={}", self.count(), self.bytes());
        let mut extra = self
            .values
            .iter()
            .filter(|(k, _)| k.as_str() != COUNT && k.as_str() != BYTES)
            .peekable();
        if extra.peek().is_some() {
            s.push('=');
            for (k, v) in extra {
                s.push(';');
                s.push_str(k);
                s.push('=');
                s.push_str(&v.to_string());
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_like_apache() {
        let t = StatsTrack::parse(b"count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=20");
        assert_eq!(t.count(), 10);
        assert_eq!(t.bytes(), -1);
        assert_eq!(t.count_hard_limit(), 20);
        assert_eq!(t.byte_hard_limit(), -1);
        assert_eq!(
            t.to_text(),
            "count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=20"
        );
        let mut s = StatsTrack::parse(b"count=6,bytes=15");
        s.set_count(7);
        s.set_bytes(20);
        assert_eq!(s.to_text(), "count=7,bytes=20");
        assert_eq!(StatsTrack::parse(b"").to_text(), "count=-1,bytes=-1");
    }

    #[test]
    fn tolerates_garbage() {
        let t = StatsTrack::parse(b";;count=3;;junk,bytes=x,countHardLimit=");
        assert_eq!(t.count(), 3);
        assert_eq!(t.bytes(), -1);
        assert_eq!(t.count_hard_limit(), -1);
    }

    #[test]
    fn quota_paths() {
        assert_eq!(stat_path("/a/b"), "/zookeeper/quota/a/b/zookeeper_stats");
        assert_eq!(limit_path("/a"), "/zookeeper/quota/a/zookeeper_limits");
        assert_eq!(trim_quota_path("/zookeeper/quota/a/b"), "/a/b");
        assert_eq!(trim_quota_path("/zookeeper/quota"), "");
        assert_eq!(trim_quota_path("/other"), "");
    }
}
