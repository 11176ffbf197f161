//! The registry's Apache counters and summaries as `mntr` (and the AdminServer's
//! `monitor`) print them: one call fills [`ServerInfo`](crate::admin::ServerInfo)'s maps.

use std::collections::BTreeMap;

use prometheus::core::Collector;

use super::Metrics;
use crate::admin::{is_mntr_counter, is_mntr_summary, Summary};

/// Counters and summaries by their `mntr` names (no `zk_` prefix).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MntrValues {
    pub counters: BTreeMap<String, i64>,
    pub summaries: BTreeMap<String, Summary>,
}

impl Metrics {
    /// Every registered counter and summary whose name `mntr` prints, with its current
    /// value; our own extensions (e.g. `leader_changes`) are left out.
    pub fn mntr_values(&self) -> MntrValues {
        let counters = self
            .counters
            .iter()
            .filter_map(|c| {
                let name = c.desc().first()?.fq_name.clone();
                is_mntr_counter(&name).then(|| (name, i64::try_from(c.get()).unwrap_or(i64::MAX)))
            })
            .collect();
        let summaries = self
            .summaries
            .iter()
            .filter(|s| is_mntr_summary(s.name()))
            .map(|s| (s.name().to_string(), s.mntr_summary()))
            .collect();
        MntrValues {
            counters,
            summaries,
        }
    }
}
