//! What a benchmark run sends: the workload kinds, which op the i-th request is, and the
//! znode paths and values they use.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Root of every znode the benchmark touches.
pub const ROOT: &str = "/zkbench";
/// Number of existing znodes (per value size) that reads and setData spread over.
pub const DEFAULT_KEYS: usize = 1000;

/// The workloads of the ZooKeeper paper and zk-latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    SetData,
    GetData,
    Create,
    Exists,
    /// getData / setData mixed by `read_pct`.
    Mix,
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "setdata" => Ok(Workload::SetData),
            "getdata" => Ok(Workload::GetData),
            "create" => Ok(Workload::Create),
            "exists" => Ok(Workload::Exists),
            "mix" => Ok(Workload::Mix),
            other => Err(format!(
                "unknown workload {other:?} (setdata|getdata|create|exists|mix)"
            )),
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::SetData => "setData",
            Workload::GetData => "getData",
            Workload::Create => "create",
            Workload::Exists => "exists",
            Workload::Mix => "mix",
        })
    }
}

/// One request of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    GetData,
    SetData,
    Create,
    Exists,
}

/// True when request number `i` of a stream is a read, for `pct` percent reads: spreads reads
/// evenly so that every 100 consecutive requests hold exactly `pct` reads.
pub fn is_read(i: u64, pct: u32) -> bool {
    let pct = u64::from(pct.min(100));
    (i + 1) * pct / 100 > i * pct / 100
}

/// A workload with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spec {
    pub workload: Workload,
    /// Percentage of reads for [`Workload::Mix`] (ignored by the others).
    pub read_pct: u32,
    pub value_size: usize,
    pub keys: usize,
}

impl Spec {
    /// The kind of request number `i` of a stream.
    pub fn op_for(&self, i: u64) -> OpKind {
        match self.workload {
            Workload::SetData => OpKind::SetData,
            Workload::GetData => OpKind::GetData,
            Workload::Create => OpKind::Create,
            Workload::Exists => OpKind::Exists,
            Workload::Mix => {
                if is_read(i, self.read_pct) {
                    OpKind::GetData
                } else {
                    OpKind::SetData
                }
            }
        }
    }

    /// Short name for tables, e.g. "mix90 1KB" or "setData 100B".
    pub fn label(&self) -> String {
        let w = match self.workload {
            Workload::Mix => format!("mix{}r", self.read_pct),
            w => w.to_string(),
        };
        format!("{w} {}", size_label(self.value_size))
    }

    /// Parent of the existing keys used with this value size.
    pub fn key_dir(&self) -> String {
        format!("{ROOT}/v{}", self.value_size)
    }

    /// Path of key `k` (taken modulo the key count).
    pub fn key_path(&self, k: u64) -> String {
        format!("{}/k{:06}", self.key_dir(), k % self.keys.max(1) as u64)
    }

    pub fn value(&self) -> Vec<u8> {
        vec![b'x'; self.value_size]
    }
}

/// "100B", "1KB", "1.5KB".
pub fn size_label(n: usize) -> String {
    if n >= 1024 && n.is_multiple_of(1024) {
        format!("{}KB", n / 1024)
    } else {
        format!("{n}B")
    }
}

/// Parent of the nodes one create stream makes (one parent per stream keeps child lists short,
/// as zk-latencies does).
pub fn create_dir(tag: &str, session: usize, stream: usize) -> String {
    format!("{ROOT}/c/{tag}-{session}-{stream}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads_in(pct: u32, start: u64, n: u64) -> u64 {
        (start..start + n).filter(|&i| is_read(i, pct)).count() as u64
    }

    #[test]
    fn mix_fraction_is_exact_per_hundred() {
        for pct in [0, 1, 33, 50, 90, 99, 100] {
            for start in [0, 7, 1234] {
                assert_eq!(reads_in(pct, start, 100), u64::from(pct), "pct {pct}");
                assert_eq!(reads_in(pct, start, 1000), u64::from(pct) * 10);
            }
        }
        assert_eq!(reads_in(250, 0, 100), 100, "clamped to 100%");
    }

    #[test]
    fn mix_interleaves_reads_and_writes() {
        let spec = Spec {
            workload: Workload::Mix,
            read_pct: 50,
            value_size: 100,
            keys: 10,
        };
        let ops: Vec<OpKind> = (0..4).map(|i| spec.op_for(i)).collect();
        assert_eq!(
            ops,
            [
                OpKind::SetData,
                OpKind::GetData,
                OpKind::SetData,
                OpKind::GetData
            ]
        );
        let spec90 = Spec {
            read_pct: 90,
            ..spec
        };
        let writes = (0..10)
            .filter(|&i| spec90.op_for(i) == OpKind::SetData)
            .count();
        assert_eq!(writes, 1);
    }

    #[test]
    fn fixed_workloads_and_paths() {
        let spec = Spec {
            workload: Workload::Exists,
            read_pct: 0,
            value_size: 1024,
            keys: 1000,
        };
        assert!((0..50).all(|i| spec.op_for(i) == OpKind::Exists));
        assert_eq!(spec.key_path(1001), "/zkbench/v1024/k000001");
        assert_eq!(spec.label(), "exists 1KB");
        assert_eq!(spec.value().len(), 1024);
        assert_eq!("SetData".parse::<Workload>(), Ok(Workload::SetData));
        assert!("nope".parse::<Workload>().is_err());
        assert_eq!(create_dir("t", 1, 2), "/zkbench/c/t-1-2");
    }
}
