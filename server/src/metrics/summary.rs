//! A Prometheus *summary* as Apache's PrometheusMetricsProvider exports its ZooKeeper
//! summaries: `_count` and `_sum` always, and for "advanced" summaries the 0.5/0.9/0.99
//! quantiles over a sliding time window. The `prometheus` crate has no summary type, so
//! this is a small custom collector.
//!
//! The same samples feed `mntr`, which prints Apache's AvgMinMax(Percentile)Counter view of
//! them ([`QuantileSummary::mntr_summary`]): Apache records those as whole milliseconds.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Metric, MetricFamily, MetricType, Quantile, Summary as PbSummary};

use crate::admin::Summary;

/// The quantiles Apache's provider exports for `DetailLevel.ADVANCED` summaries.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Sliding window of the Java client's default summary (10 minutes).
const WINDOW: Duration = Duration::from_secs(600);
/// Bound on the samples kept for quantiles, so a busy server does not grow without limit
/// (the size of Apache's percentile reservoir too).
const MAX_SAMPLES: usize = 4096;
/// The percentiles `mntr` prints for percentile summaries (p50, p95, p99, p999).
const MNTR_PERCENTILES: [f64; 4] = [0.5, 0.95, 0.99, 0.999];

#[derive(Default)]
struct State {
    count: u64,
    sum: f64,
    /// Apache's long view of the samples (see [`as_long`]): total, and min/max once
    /// `count > 0`.
    long_sum: u64,
    long_min: u64,
    long_max: u64,
    /// Recent samples with their time, oldest first (only for quantile summaries).
    window: VecDeque<(Instant, f64)>,
}

/// A sample as Apache records it: its counters take longs, and its durations are whole
/// milliseconds cut down from a finer clock (`TimeUnit.NANOSECONDS.toMillis`), so the
/// fraction is dropped. A negative or NaN sample (clock skew) counts as 0.
fn as_long(v: f64) -> u64 {
    // `as` saturates: negatives and NaN give 0, huge values u64::MAX.
    v.trunc() as u64
}

/// The `q` quantile of sorted samples, interpolated as Apache's percentile counter
/// (a Dropwizard `UniformSnapshot`) does, then rounded half up (`Math.round`); 0 when empty.
fn uniform_quantile(sorted: &[u64], q: f64) -> u64 {
    let Some(&last) = sorted.last() else {
        return 0;
    };
    let pos = q * (sorted.len() + 1) as f64;
    let index = pos.floor() as usize;
    let v = if index < 1 {
        sorted[0] as f64
    } else if index >= sorted.len() {
        last as f64
    } else {
        let lower = sorted[index - 1] as f64;
        let upper = sorted[index] as f64;
        lower + (pos - pos.floor()) * (upper - lower)
    };
    (v + 0.5).floor() as u64
}

/// A summary metric; `with_quantiles` selects Apache's "advanced" detail level. Clones
/// share their samples (one is registered, one is kept to observe).
#[derive(Clone)]
pub struct QuantileSummary {
    desc: Desc,
    with_quantiles: bool,
    state: Arc<Mutex<State>>,
}

impl QuantileSummary {
    pub fn new(name: &str, help: &str, with_quantiles: bool) -> prometheus::Result<Self> {
        Ok(QuantileSummary {
            desc: Desc::new(
                name.to_string(),
                help.to_string(),
                vec![],
                Default::default(),
            )?,
            with_quantiles,
            state: Arc::new(Mutex::new(State::default())),
        })
    }

    pub fn name(&self) -> &str {
        &self.desc.fq_name
    }

    /// Records one sample (milliseconds, bytes... as the metric's name says).
    pub fn observe(&self, v: f64) {
        let now = Instant::now();
        let long = as_long(v);
        let mut s = self.state.lock();
        if s.count == 0 {
            s.long_min = long;
            s.long_max = long;
        } else {
            s.long_min = s.long_min.min(long);
            s.long_max = s.long_max.max(long);
        }
        s.count += 1;
        s.sum += v;
        s.long_sum = s.long_sum.saturating_add(long);
        if self.with_quantiles {
            s.window.push_back((now, v));
            Self::trim(&mut s.window, now);
        }
    }

    /// Records the ms from `created_ms` (the leader's wall clock in a txn header) to
    /// `now_ms`; skipped when negative (clock skew between servers), as Apache's
    /// `Request.logLatency` does.
    pub fn observe_since_wall(&self, created_ms: i64, now_ms: i64) {
        if let Some(ms) = now_ms.checked_sub(created_ms).filter(|ms| *ms >= 0) {
            self.observe(ms as f64);
        }
    }

    fn trim(window: &mut VecDeque<(Instant, f64)>, now: Instant) {
        while window.len() > MAX_SAMPLES {
            window.pop_front();
        }
        while window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
        {
            window.pop_front();
        }
    }

    /// (count, sum) since start.
    pub fn totals(&self) -> (u64, f64) {
        let s = self.state.lock();
        (s.count, s.sum)
    }

    /// The current quantile values (NaN when the window is empty, as the Java client reports).
    pub fn quantiles(&self) -> Vec<(f64, f64)> {
        let mut s = self.state.lock();
        Self::trim(&mut s.window, Instant::now());
        let mut values: Vec<f64> = s.window.iter().map(|(_, v)| *v).collect();
        values.sort_by(f64::total_cmp);
        QUANTILES
            .iter()
            .map(|&q| {
                let v = if values.is_empty() {
                    f64::NAN
                } else {
                    let idx = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
                    values[idx - 1]
                };
                (q, v)
            })
            .collect()
    }

    /// What `mntr` prints for this summary: count, and sum/min/max of the samples as
    /// Apache's longs (0 while empty); for quantile summaries also p50/p95/p99/p999 over
    /// the sliding window (Apache samples since its last reset instead; recent samples
    /// are what an operator looking at `mntr` wants).
    pub fn mntr_summary(&self) -> Summary {
        let mut s = self.state.lock();
        let percentiles = self.with_quantiles.then(|| {
            Self::trim(&mut s.window, Instant::now());
            let mut longs: Vec<u64> = s.window.iter().map(|(_, v)| as_long(*v)).collect();
            longs.sort_unstable();
            MNTR_PERCENTILES.map(|q| uniform_quantile(&longs, q))
        });
        Summary {
            count: s.count,
            sum: s.long_sum,
            min: s.long_min,
            max: s.long_max,
            percentiles,
        }
    }
}

impl Collector for QuantileSummary {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let (count, sum) = self.totals();
        let mut pb = PbSummary::default();
        pb.set_sample_count(count);
        pb.set_sample_sum(sum);
        if self.with_quantiles {
            let qs = self
                .quantiles()
                .into_iter()
                .map(|(q, v)| {
                    let mut pq = Quantile::default();
                    pq.set_quantile(q);
                    pq.set_value(v);
                    pq
                })
                .collect();
            pb.set_quantile(qs);
        }
        let mut m = Metric::default();
        m.set_summary(pb);
        let mut mf = MetricFamily::default();
        mf.set_name(self.desc.fq_name.clone());
        mf.set_help(self.desc.help.clone());
        mf.set_field_type(MetricType::SUMMARY);
        mf.set_metric(vec![m]);
        vec![mf]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_follow_samples() {
        let s = QuantileSummary::new("x", "h", true).unwrap();
        assert!(s.quantiles().iter().all(|(_, v)| v.is_nan()));
        for i in 1..=100 {
            s.observe(i as f64);
        }
        let q = s.quantiles();
        assert_eq!(q, vec![(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)]);
        assert_eq!(s.totals(), (100, 5050.0));
    }

    #[test]
    fn basic_summary_exports_count_and_sum_only() {
        let s = QuantileSummary::new("fsynctime", "h", false).unwrap();
        s.observe(3.0);
        s.observe(4.0);
        let mf = s.collect();
        assert_eq!(mf.len(), 1);
        assert_eq!(mf[0].get_field_type(), MetricType::SUMMARY);
        let sm = mf[0].get_metric()[0].get_summary();
        assert_eq!(sm.sample_count(), 2);
        assert_eq!(sm.sample_sum(), 7.0);
        assert!(sm.get_quantile().is_empty());
    }

    #[test]
    fn mntr_view_is_whole_milliseconds() {
        let s = QuantileSummary::new("fsynctime", "h", false).unwrap();
        assert_eq!(s.mntr_summary(), Summary::default(), "empty: zeros");
        for v in [2.9, 0.4, 1.5] {
            s.observe(v);
        }
        let m = s.mntr_summary();
        // Apache records 2, 0 and 1 ms: the fractions are dropped before summing.
        assert_eq!((m.count, m.sum, m.min, m.max), (3, 3, 0, 2));
        assert_eq!(m.percentiles, None, "basic summaries have no percentiles");
        assert_eq!(m.avg(), 1.0);
        // The exposition keeps the exact samples.
        assert_eq!(s.totals(), (3, 4.8));
    }

    #[test]
    fn mntr_percentiles_interpolate_and_round_as_apache() {
        let s = QuantileSummary::new("updatelatency", "h", true).unwrap();
        assert_eq!(s.mntr_summary().percentiles, Some([0; 4]));
        for i in 1..=100 {
            s.observe(i as f64 + 0.7);
        }
        let m = s.mntr_summary();
        assert_eq!((m.count, m.sum, m.min, m.max), (100, 5050, 1, 100));
        // Position q*(n+1): 50.5 -> 50.5 rounds up to 51; 95.95 -> 96; 99.99 -> 100;
        // 100.9 is past the end -> the largest sample.
        assert_eq!(m.percentiles, Some([51, 96, 100, 100]));
        let one = QuantileSummary::new("readlatency", "h", true).unwrap();
        one.observe(7.2);
        assert_eq!(one.mntr_summary().percentiles, Some([7; 4]));
    }

    #[test]
    fn window_is_bounded() {
        let s = QuantileSummary::new("y", "h", true).unwrap();
        for i in 0..(MAX_SAMPLES + 100) {
            s.observe(i as f64);
        }
        assert_eq!(s.state.lock().window.len(), MAX_SAMPLES);
        assert_eq!(s.totals().0, (MAX_SAMPLES + 100) as u64);
    }
}
