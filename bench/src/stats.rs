//! Latency summaries (percentiles over recorded samples) and medians over repeated runs.

use serde::Serialize;

/// Percentiles of one run's request latencies, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

/// The nearest-rank percentile of sorted samples (`p` in 0..=100); `None` when empty.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    Some(sorted[idx])
}

impl Summary {
    /// Summarises samples (sorts them in place).
    pub fn from_samples(samples: &mut [u64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let sum: u128 = samples.iter().map(|&s| s as u128).sum();
        let p = |q| percentile(samples, q).unwrap_or(0);
        Summary {
            count: samples.len() as u64,
            mean_us: sum as f64 / samples.len() as f64,
            p50_us: p(50.0),
            p90_us: p(90.0),
            p99_us: p(99.0),
            p999_us: p(99.9),
            max_us: samples[samples.len() - 1],
        }
    }
}

/// The median of repeated measurements (mean of the middle two for an even count); `None` when
/// there are none. Non-finite values are ignored.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s: Vec<u64> = (1..=100).rev().collect();
        let sum = Summary::from_samples(&mut s);
        assert_eq!(sum.count, 100);
        assert_eq!(sum.p50_us, 50);
        assert_eq!(sum.p90_us, 90);
        assert_eq!(sum.p99_us, 99);
        assert_eq!(sum.p999_us, 100);
        assert_eq!(sum.max_us, 100);
        assert!((sum.mean_us - 50.5).abs() < 1e-9);
    }

    #[test]
    fn percentile_edges() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7], 0.0), Some(7));
        assert_eq!(percentile(&[7], 100.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 25.0), Some(1));
        assert_eq!(percentile(&[1, 2, 3, 4], 26.0), Some(2));
        assert_eq!(Summary::from_samples(&mut []), Summary::default());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }
}
