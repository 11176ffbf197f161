//! Figures (medians of repeated runs for both servers and their ratio), the performance
//! targets they are judged against, the printed table and the JSON document.

use serde::Serialize;

use crate::bounds::Bounds;
use crate::stats::median;

/// Samples of one figure from each server, one per run (paired by run when both ran).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Runs {
    pub zkserver: Vec<f64>,
    pub apache: Vec<f64>,
}

/// One row of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub unit: String,
    pub higher_is_better: bool,
    /// Median over runs.
    pub zkserver: Option<f64>,
    pub apache: Option<f64>,
    /// zkserver / apache: the median of per-run ratios when runs pair up, else the ratio of
    /// medians (same-run ratios cancel out some of the machine's noise).
    pub ratio: Option<f64>,
    pub runs: Runs,
}

impl Figure {
    pub fn new(name: &str, unit: &str, higher_is_better: bool, runs: Runs) -> Figure {
        let zk = median(&runs.zkserver);
        let ap = median(&runs.apache);
        let paired: Vec<f64> = runs
            .zkserver
            .iter()
            .zip(&runs.apache)
            .filter(|(_, &a)| a > 0.0)
            .map(|(&z, &a)| z / a)
            .collect();
        let ratio = if !paired.is_empty() && runs.zkserver.len() == runs.apache.len() {
            median(&paired)
        } else {
            match (zk, ap) {
                (Some(z), Some(a)) if a > 0.0 => Some(z / a),
                _ => None,
            }
        };
        Figure {
            name: name.to_string(),
            unit: unit.to_string(),
            higher_is_better,
            zkserver: zk,
            apache: ap,
            ratio,
            runs,
        }
    }
}

/// A goal for zkserver relative to Apache.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub goal: String,
    pub figure: String,
    /// The ratio zkserver/apache must reach (at least when higher is better, else at most).
    pub threshold: f64,
    pub higher_is_better: bool,
    pub ratio: Option<f64>,
    /// `None` when the figure was not measured.
    pub met: Option<bool>,
}

/// The project's targets: (goal, figure name, threshold, higher is better).
pub const TARGETS: &[(&str, &str, f64, bool)] = &[
    (
        "write throughput >= 2x",
        "setData 100B throughput",
        2.0,
        true,
    ),
    (
        "read throughput >= 1.5x",
        "getData 100B throughput",
        1.5,
        true,
    ),
    ("write p99 <= 0.5x", "paced setData 100B p99", 0.5, false),
    ("read p99 <= 0.5x", "paced getData 100B p99", 0.5, false),
    (
        "3-server write >= 2x",
        "3-server setData 100B throughput",
        2.0,
        true,
    ),
    (
        "3-server read >= 1.5x",
        "3-server getData 100B throughput",
        1.5,
        true,
    ),
    (
        "3-server write p99 <= 0.5x",
        "3-server paced setData 100B p99",
        0.5,
        false,
    ),
    (
        "3-server read p99 <= 0.5x",
        "3-server paced getData 100B p99",
        0.5,
        false,
    ),
    ("RSS <= 0.33x", "RSS after populate", 0.33, false),
    ("restart <= 0.25x", "restart time", 0.25, false),
];

/// Judges the figures against [`TARGETS`].
pub fn evaluate(figures: &[Figure]) -> Vec<Target> {
    TARGETS
        .iter()
        .map(|&(goal, name, threshold, higher)| {
            let ratio = figures
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| f.ratio);
            Target {
                goal: goal.to_string(),
                figure: name.to_string(),
                threshold,
                higher_is_better: higher,
                ratio,
                met: ratio.map(|r| {
                    if higher {
                        r >= threshold
                    } else {
                        r <= threshold
                    }
                }),
            }
        })
        .collect()
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "n/a".to_string(),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
    }
}

/// The comparison as a fixed-width text table.
pub fn table(figures: &[Figure]) -> String {
    let w = figures
        .iter()
        .map(|f| f.name.len() + f.unit.len() + 3)
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!(
        "{:<w$}  {:>12}  {:>12}  {:>8}\n",
        "figure", "zkserver", "apache", "ratio"
    );
    out.push_str(&format!("{}\n", "-".repeat(w + 38)));
    for f in figures {
        let name = format!("{} ({})", f.name, f.unit);
        let ratio = f.ratio.map(|r| format!("{r:.2}x"));
        out.push_str(&format!(
            "{:<w$}  {:>12}  {:>12}  {:>8}\n",
            name,
            num(f.zkserver),
            num(f.apache),
            ratio.unwrap_or_else(|| "n/a".into())
        ));
    }
    out
}

/// The targets as text lines.
pub fn targets_text(targets: &[Target]) -> String {
    let mut out = String::new();
    for t in targets {
        let verdict = match t.met {
            Some(true) => "MET",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let ratio = t.ratio.map_or("n/a".to_string(), |r| format!("{r:.2}x"));
        out.push_str(&format!("{:<26} {:>8}  {verdict}\n", t.goal, ratio));
    }
    out
}

/// The machine's bounds as text lines.
pub fn bounds_text(b: &Bounds) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    format!(
        "fsync 1KB append:       median {:.3} ms, p99 {:.3} ms\n\
         fsync 1KB preallocated: median {:.3} ms, p99 {:.3} ms\n\
         loopback RTT (64 B):    median {:.1} us, p99 {:.1} us\n",
        ms(b.fsync_append_1k.p50_us),
        ms(b.fsync_append_1k.p99_us),
        ms(b.fsync_prealloc_1k.p50_us),
        ms(b.fsync_prealloc_1k.p99_us),
        b.loopback_rtt.p50_us as f64,
        b.loopback_rtt.p99_us as f64,
    )
}

/// The JSON document `compare` writes.
#[derive(Debug, Clone, Serialize)]
pub struct Report<C: Serialize> {
    pub unix_time: u64,
    pub cpus: usize,
    pub config: C,
    /// Measured before the servers start.
    pub bounds: Option<Bounds>,
    /// Measured again after the last phase.
    pub bounds_end: Option<Bounds>,
    pub figures: Vec<Figure>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(name: &str, higher: bool, zk: &[f64], ap: &[f64]) -> Figure {
        Figure::new(
            name,
            "x",
            higher,
            Runs {
                zkserver: zk.to_vec(),
                apache: ap.to_vec(),
            },
        )
    }

    #[test]
    fn figure_medians_and_paired_ratio() {
        let f = fig("a", true, &[10.0, 30.0, 20.0], &[10.0, 10.0, 5.0]);
        assert_eq!(f.zkserver, Some(20.0));
        assert_eq!(f.apache, Some(10.0));
        // Per-run ratios 1, 3, 4 -> median 3 (the ratio of medians would say 2).
        assert_eq!(f.ratio, Some(3.0));
        let g = fig("b", true, &[10.0], &[]);
        assert_eq!(g.apache, None);
        assert_eq!(g.ratio, None);
        let h = fig("c", false, &[1.0, 3.0], &[4.0]);
        assert_eq!(h.ratio, Some(0.5), "unpaired runs: ratio of medians");
    }

    #[test]
    fn targets_are_judged_in_the_right_direction() {
        let figs = vec![
            fig("setData 100B throughput", true, &[200.0], &[100.0]),
            fig("getData 100B throughput", true, &[140.0], &[100.0]),
            // Closed-loop p99 is shown but not judged: the targets compare paced latency.
            fig("setData 100B p99", false, &[40.0], &[10.0]),
            fig("paced setData 100B p99", false, &[4.0], &[10.0]),
            fig("3-server setData 100B throughput", true, &[150.0], &[100.0]),
            fig("RSS after populate", false, &[40.0], &[100.0]),
        ];
        let t = evaluate(&figs);
        let get = |g: &str| t.iter().find(|x| x.goal.starts_with(g)).unwrap().met;
        assert_eq!(get("write throughput"), Some(true));
        assert_eq!(get("read throughput"), Some(false));
        assert_eq!(get("write p99"), Some(true));
        assert_eq!(get("read p99"), None);
        assert_eq!(get("RSS"), Some(false));
        assert_eq!(get("restart"), None);
        assert_eq!(get("3-server write >="), Some(false));
        assert_eq!(get("3-server read"), None);
    }

    #[test]
    fn json_shape_and_table() {
        let figs = vec![fig(
            "setData 100B throughput",
            true,
            &[2.0, 4.0],
            &[1.0, 1.0],
        )];
        let report = Report {
            unix_time: 1,
            cpus: 2,
            config: serde_json::json!({"runs": 2}),
            bounds: None,
            bounds_end: None,
            targets: evaluate(&figs),
            figures: figs.clone(),
            notes: vec!["n".into()],
        };
        let v = serde_json::to_value(&report).unwrap();
        let f = &v["figures"][0];
        assert_eq!(f["name"], "setData 100B throughput");
        assert_eq!(f["zkserver"], 3.0);
        assert_eq!(f["apache"], 1.0);
        assert_eq!(f["ratio"], 3.0);
        assert_eq!(f["runs"]["zkserver"][1], 4.0);
        assert_eq!(v["targets"][0]["met"], true);
        assert!(v["targets"][4]["met"].is_null());
        assert_eq!(v["config"]["runs"], 2);
        let text = table(&figs);
        assert!(text.contains("setData 100B throughput (x)"));
        assert!(text.contains("3.00x"));
        assert!(table(&[fig("e", true, &[1.0], &[])]).contains("n/a"));
    }
}
