//! CPU steal: the share of time the hypervisor ran other guests on this VM's CPUs. A shared
//! machine's steal comes and goes; a point measured under heavy steal shows it in its tail
//! latency whatever the server does, so each point's steal is printed beside its figures.

/// Cumulative CPU time of all CPUs from the `cpu` line of /proc/stat (clock ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Every field summed (user .. steal; guest time is already inside user).
    pub total: u64,
    /// Idle and iowait: time no task of this VM wanted a CPU.
    pub idle: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// Now, from /proc/stat; None where it cannot be read (not Linux).
    pub fn now() -> Option<CpuTimes> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        parse_stat(&text)
    }

    /// Steal as a fraction of all CPU time between `earlier` and `self`.
    pub fn steal_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let steal = self.steal.checked_sub(earlier.steal)?;
        (total > 0).then(|| steal as f64 / total as f64)
    }

    /// Share of all CPU time between `earlier` and `self` that this VM's tasks ran
    /// (neither idle, waiting on I/O, nor stolen).
    pub fn busy_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let idle = self.idle.checked_sub(earlier.idle)?;
        let steal = self.steal.checked_sub(earlier.steal)?;
        let busy = total.checked_sub(idle + steal)?;
        (total > 0).then(|| busy as f64 / total as f64)
    }
}

/// Parses the aggregate `cpu` line: user nice system idle iowait irq softirq steal [guest
/// guest_nice]; guest time is counted in user already, so only the first eight are summed.
pub fn parse_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if fields.len() < 8 {
        return None;
    }
    Some(CpuTimes {
        total: fields.iter().sum(),
        idle: fields[3] + fields[4],
        steal: fields[7],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_steal_from_the_aggregate_line() {
        let text = "cpu  100 5 50 800 10 0 5 30 7 0\ncpu0 50 2 25 400 5 0 2 15 0 0\n";
        let t = parse_stat(text).expect("parsed");
        assert_eq!(t.total, 1000);
        assert_eq!(t.idle, 810);
        assert_eq!(t.steal, 30);
    }

    #[test]
    fn shares_between_two_readings() {
        let a = CpuTimes {
            total: 1000,
            idle: 800,
            steal: 30,
        };
        let b = CpuTimes {
            total: 1200,
            idle: 900,
            steal: 80,
        };
        // 200 ticks: 100 idle, 50 stolen, 50 run.
        assert_eq!(b.steal_since(&a), Some(0.25));
        assert_eq!(b.busy_since(&a), Some(0.25));
        assert_eq!(a.steal_since(&a), None);
        assert_eq!(a.busy_since(&a), None);
    }

    #[test]
    fn a_line_without_steal_is_refused() {
        assert_eq!(parse_stat("cpu  1 2 3 4\n"), None);
        assert_eq!(parse_stat("intr 5\n"), None);
    }
}
