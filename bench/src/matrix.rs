//! One matrix of `zkbench compare` on a set of targets (one per server flavor): warm-up,
//! then each repetition runs every closed-loop point on each target in turn, then the paced
//! points, so that a repetition's pair shares the machine's momentary load.
//!
//! Closed-loop points (a fixed number of requests in flight) give throughput; their latency
//! is not comparable across servers of different speed (a faster server answers more
//! requests in the same time, so its queues hold the same number of requests). Paced points
//! offer every server the same rate, a fraction of what Apache sustained in the same
//! repetition, and compare latency at that same offered load.

use std::collections::HashMap;

use tokio::runtime::Runtime;

use crate::compare::{Collector, CompareConfig};
use crate::error::BenchError;
use crate::load::{self, Driver, Limit, LoadConfig, LoadResult};
use crate::servers::Flavor;
use crate::steal::CpuTimes;
use crate::workload::{Spec, Workload, DEFAULT_KEYS};

/// Figure-name word of the paced points.
pub const PACED: &str = "paced";

/// Runs the matrix on `targets` (connect strings: one host, or an ensemble's members);
/// `prefix` starts every figure name (e.g. "3-server ").
pub(crate) fn run(
    cfg: &CompareConfig,
    rt: &Runtime,
    prefix: &str,
    targets: &[(Flavor, String)],
    col: &mut Collector,
    notes: &mut Vec<String>,
) -> Result<(), BenchError> {
    for (f, target) in targets {
        eprintln!("  warming up {prefix}{} for {}s", f.name(), cfg.warmup_s);
        let warm = LoadConfig {
            target: target.clone(),
            spec: Spec {
                workload: Workload::Mix,
                read_pct: 50,
                value_size: 100,
                keys: DEFAULT_KEYS,
            },
            sessions: cfg.sessions,
            outstanding: cfg.outstanding,
            limit: Limit::Seconds(cfg.warmup_s),
            driver: Driver::Raw,
            pace: None,
        };
        rt.block_on(load::run_load(&warm))?;
    }
    let points = cfg.matrix();
    let paced = cfg.paced_specs();
    for run in 0..cfg.runs {
        eprintln!("{prefix}matrix run {}/{}", run + 1, cfg.runs);
        // Closed-loop throughput of this repetition, by flavor and point label.
        let mut sustained: HashMap<(Flavor, String), f64> = HashMap::new();
        for (spec, sessions, outstanding, latency) in &points {
            for (f, target) in targets {
                let lc = LoadConfig {
                    target: target.clone(),
                    spec: *spec,
                    sessions: *sessions,
                    outstanding: *outstanding,
                    limit: Limit::Seconds(if *latency {
                        cfg.latency_duration_s
                    } else {
                        cfg.duration_s
                    }),
                    driver: Driver::Raw,
                    pace: None,
                };
                let Some(r) = measure(rt, &lc, *f, prefix, run, notes, cfg.settle_disk) else {
                    continue;
                };
                if !latency {
                    sustained.insert((*f, r.label.clone()), r.ops_per_sec);
                }
                record_load(col, notes, *f, prefix, *latency, &r);
            }
        }
        for spec in &paced {
            let Some(rate) = paced_rate(cfg, &sustained, targets, &spec.label()) else {
                notes.push(format!(
                    "{prefix}{PACED} {} run {}: no closed-loop throughput to derive a rate from",
                    spec.label(),
                    run + 1
                ));
                continue;
            };
            for (f, target) in targets {
                let lc = LoadConfig {
                    target: target.clone(),
                    spec: *spec,
                    sessions: cfg.sessions,
                    outstanding: cfg.paced_cap,
                    limit: Limit::Seconds(cfg.duration_s),
                    driver: Driver::Raw,
                    pace: Some(rate),
                };
                if let Some(r) = measure(rt, &lc, *f, prefix, run, notes, cfg.settle_disk) {
                    record_paced(col, notes, *f, prefix, &r);
                }
            }
        }
    }
    Ok(())
}

/// The rate every flavor is offered for a paced point: `paced_fraction` of the lowest
/// closed-loop throughput measured for that point in this repetition (Apache's, when it runs),
/// so that no server is offered more than it sustained.
fn paced_rate(
    cfg: &CompareConfig,
    sustained: &HashMap<(Flavor, String), f64>,
    targets: &[(Flavor, String)],
    label: &str,
) -> Option<f64> {
    let slowest = targets
        .iter()
        .filter_map(|(f, _)| sustained.get(&(*f, label.to_string())).copied())
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v))))?;
    let rate = (slowest * cfg.paced_fraction).round();
    (rate >= 1.0).then_some(rate)
}

/// Runs one point and prints it; a failed point becomes a note.
fn measure(
    rt: &Runtime,
    lc: &LoadConfig,
    f: Flavor,
    prefix: &str,
    run: usize,
    notes: &mut Vec<String>,
    settle: bool,
) -> Option<LoadResult> {
    crate::settle::settle_before(settle, "the next point");
    let cpu_before = CpuTimes::now();
    match rt.block_on(load::run_load(lc)) {
        Ok(r) => {
            let steal = CpuTimes::now()
                .zip(cpu_before)
                .and_then(|(after, before)| after.steal_since(&before))
                .map_or(String::new(), |s| format!("  steal {:.0}%", s * 100.0));
            let kind = match lc.pace {
                Some(rate) => format!("{PACED} at {rate:.0}/s"),
                None => format!("{}x{}", lc.sessions, lc.outstanding),
            };
            eprintln!(
                "  {:<9} {prefix}{:<16} {kind}: {:>8.0} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms{steal}{}",
                f.name(),
                r.label,
                r.ops_per_sec,
                r.latency.p50_us as f64 / 1000.0,
                r.latency.p99_us as f64 / 1000.0,
                if r.errors > 0 { "  (errors)" } else { "" }
            );
            Some(r)
        }
        Err(e) => {
            notes.push(format!(
                "{} {prefix}{} run {}: {e}",
                f.name(),
                lc.spec.label(),
                run + 1
            ));
            None
        }
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Notes a run's request errors, if any, with the first one.
pub(crate) fn note_errors(notes: &mut Vec<String>, flavor: Flavor, label: &str, r: &LoadResult) {
    if r.errors > 0 {
        notes.push(format!(
            "{} {label}: {} errors (first: {})",
            flavor.name(),
            r.errors,
            r.first_error.as_deref().unwrap_or("?")
        ));
    }
}

/// Records a run's p50 and p99 as `<name> p50` / `<name> p99`.
fn add_percentiles(c: &mut Collector, name: &str, flavor: Flavor, r: &LoadResult) {
    c.add(
        &format!("{name} p50"),
        "ms",
        false,
        flavor,
        ms(r.latency.p50_us),
    );
    c.add(
        &format!("{name} p99"),
        "ms",
        false,
        flavor,
        ms(r.latency.p99_us),
    );
}

fn record_load(
    c: &mut Collector,
    notes: &mut Vec<String>,
    flavor: Flavor,
    prefix: &str,
    latency: bool,
    r: &LoadResult,
) {
    let label = format!("{prefix}{}", r.label);
    if latency {
        let name = format!("{prefix}latency {}", r.label);
        add_percentiles(c, &name, flavor, r);
    } else {
        c.add(
            &format!("{label} throughput"),
            "ops/s",
            true,
            flavor,
            r.ops_per_sec,
        );
        add_percentiles(c, &label, flavor, r);
    }
    note_errors(notes, flavor, &label, r);
}

fn record_paced(
    c: &mut Collector,
    notes: &mut Vec<String>,
    flavor: Flavor,
    prefix: &str,
    r: &LoadResult,
) {
    let name = format!("{prefix}{PACED} {}", r.label);
    c.add(
        &format!("{name} rate"),
        "ops/s",
        true,
        flavor,
        r.ops_per_sec,
    );
    add_percentiles(c, &name, flavor, r);
    if r.held_back > 0 {
        notes.push(format!(
            "{} {name}: fell behind the offered {:.0}/s ({} sends held back by the in-flight cap)",
            flavor.name(),
            r.pace.unwrap_or(0.0),
            r.held_back
        ));
    }
    note_errors(notes, flavor, &name, r);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_rate_is_a_fraction_of_the_slowest() {
        let cfg = CompareConfig::default();
        let targets = vec![
            (Flavor::Zkserver, "a".to_string()),
            (Flavor::Apache, "b".to_string()),
        ];
        let mut m = HashMap::new();
        m.insert((Flavor::Zkserver, "setData 100B".to_string()), 100_000.0);
        m.insert((Flavor::Apache, "setData 100B".to_string()), 40_000.0);
        let rate = paced_rate(&cfg, &m, &targets, "setData 100B");
        assert_eq!(rate, Some((40_000.0 * cfg.paced_fraction).round()));
        assert_eq!(paced_rate(&cfg, &m, &targets, "getData 100B"), None);
    }
}
