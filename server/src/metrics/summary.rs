//! A Prometheus *summary* as Apache's PrometheusMetricsProvider exports its ZooKeeper
//! summaries: `_count` and `_sum` always, and for "advanced" summaries the 0.5/0.9/0.99
//! quantiles over a sliding time window. The `prometheus` crate has no summary type, so
//! this is a small custom collector.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Metric, MetricFamily, MetricType, Quantile, Summary as PbSummary};

/// The quantiles Apache's provider exports for `DetailLevel.ADVANCED` summaries.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Sliding window of the Java client's default summary (10 minutes).
const WINDOW: Duration = Duration::from_secs(600);
/// Bound on the samples kept for quantiles, so a busy server does not grow without limit.
const MAX_SAMPLES: usize = 4096;

#[derive(Default)]
struct State {
    count: u64,
    sum: f64,
    /// Recent samples with their time, oldest first (only for quantile summaries).
    window: VecDeque<(Instant, f64)>,
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
        let mut s = self.state.lock();
        s.count += 1;
        s.sum += v;
        if self.with_quantiles {
            s.window.push_back((now, v));
            Self::trim(&mut s.window, now);
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
    fn window_is_bounded() {
        let s = QuantileSummary::new("y", "h", true).unwrap();
        for i in 0..(MAX_SAMPLES + 100) {
            s.observe(i as f64);
        }
        assert_eq!(s.state.lock().window.len(), MAX_SAMPLES);
        assert_eq!(s.totals().0, (MAX_SAMPLES + 100) as u64);
    }
}
