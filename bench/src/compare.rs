//! `zkbench compare`: runs the same matrix against zkserver and Apache ZooKeeper (fsync on,
//! data on the same disk), standalone and as 3-server ensembles, plus populate/RSS/restart
//! and the leader election time, and reduces everything to medians and ratios.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

use crate::bounds;
use crate::error::BenchError;
use crate::load::{self, Driver, Limit, LoadConfig};
use crate::report::{self, Figure, Report, Runs};
use crate::servers::{self, Flavor, Launcher, Server, ServerDef};
use crate::workload::{size_label, Spec, Workload, DEFAULT_KEYS, ROOT};

/// Everything `compare` does, settable from a TOML file (same names) or flags.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompareConfig {
    /// Where the servers keep their data (one disk for both); emptied per server.
    pub workdir: PathBuf,
    /// The zkserver binary; default: `zkserver` next to the zkbench executable.
    pub zkserver_bin: Option<PathBuf>,
    /// `-Xmx` of the Apache JVM.
    pub apache_heap: String,
    /// Also run Apache (off: zkserver figures only).
    pub apache: bool,
    /// Repetitions of the matrix; figures are medians over them.
    pub runs: usize,
    /// Seconds per throughput point.
    pub duration_s: f64,
    /// Seconds of mixed load on each server before measuring (JVM JIT warm-up).
    pub warmup_s: f64,
    pub sessions: usize,
    pub outstanding: usize,
    pub value_sizes: Vec<usize>,
    /// Read percentages of the mixed getData/setData points (0 and 100 are the pure ones).
    pub mix_read_pcts: Vec<u32>,
    /// Also run the matrix on a 3-server ensemble of each server (sessions spread over the
    /// members, followers first, so a single session talks to a follower).
    pub ensemble: bool,
    /// Paced points (same offered load for every server): this fraction of the slowest
    /// server's closed-loop throughput of the same point and repetition; 0 skips them.
    pub paced_fraction: f64,
    /// In-flight cap per session of a paced point (reaching it is noted: the server fell
    /// behind).
    pub paced_cap: usize,
    /// Seconds per latency point (1 session, 1 outstanding request).
    pub latency_duration_s: f64,
    /// Znodes (100 B) created by the populate phase; 0 skips populate, RSS and restart.
    pub populate_count: u64,
    /// kill -9 / start cycles after populate.
    pub restarts: usize,
    /// Leader kills on a 3-server ensemble of each server; 0 skips.
    pub election_rounds: usize,
    /// Samples for the fsync bound.
    pub bounds_samples: usize,
    /// Before each measured point wait for the machine to go quiet and write back its dirty
    /// pages (see [`crate::settle`]); off shows how the two servers disturb each other.
    pub settle_disk: bool,
    /// Where the JSON report goes.
    pub json: PathBuf,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            workdir: PathBuf::from("/tmp/zkbench"),
            zkserver_bin: None,
            apache_heap: "2g".into(),
            apache: true,
            runs: 3,
            duration_s: 5.0,
            warmup_s: 15.0,
            sessions: 32,
            outstanding: 8,
            value_sizes: vec![100, 1024],
            mix_read_pcts: vec![50, 90],
            ensemble: true,
            paced_fraction: 0.5,
            paced_cap: 64,
            latency_duration_s: 4.0,
            populate_count: 1_000_000,
            restarts: 3,
            election_rounds: 3,
            bounds_samples: 1000,
            settle_disk: true,
            json: PathBuf::from("zkbench-results.json"),
        }
    }
}

impl CompareConfig {
    /// A ~2-minute smoke run.
    pub fn quick() -> Self {
        CompareConfig {
            runs: 1,
            duration_s: 2.0,
            warmup_s: 8.0,
            value_sizes: vec![100],
            mix_read_pcts: vec![90],
            latency_duration_s: 2.0,
            populate_count: 100_000,
            restarts: 1,
            election_rounds: 1,
            bounds_samples: 200,
            ..CompareConfig::default()
        }
    }

    /// Reads a TOML file; keys left out keep `base`'s values.
    pub fn from_toml(path: &Path, base: CompareConfig) -> Result<Self, BenchError> {
        let err = |msg: String| BenchError::Config {
            path: path.display().to_string(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let mut merged = toml::Table::try_from(&base).map_err(|e| err(e.to_string()))?;
        merged.extend(table);
        toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| err(e.to_string()))
    }

    /// The paced points: getData and setData of the first value size.
    pub fn paced_specs(&self) -> Vec<Spec> {
        if self.paced_fraction <= 0.0 {
            return vec![];
        }
        let size = self.value_sizes.first().copied().unwrap_or(100);
        [(Workload::GetData, 100), (Workload::SetData, 0)]
            .into_iter()
            .map(|(workload, read_pct)| Spec {
                workload,
                read_pct,
                value_size: size,
                keys: DEFAULT_KEYS,
            })
            .collect()
    }

    /// The matrix points: (spec, sessions, outstanding, is a latency point).
    pub fn matrix(&self) -> Vec<(Spec, usize, usize, bool)> {
        let spec = |workload, read_pct, value_size| Spec {
            workload,
            read_pct,
            value_size,
            keys: DEFAULT_KEYS,
        };
        let mut pts = Vec::new();
        let (s, k) = (self.sessions, self.outstanding);
        for &size in &self.value_sizes {
            pts.push((spec(Workload::GetData, 100, size), s, k, false));
            pts.push((spec(Workload::SetData, 0, size), s, k, false));
            for &pct in &self.mix_read_pcts {
                pts.push((spec(Workload::Mix, pct, size), s, k, false));
            }
        }
        let small = self.value_sizes.first().copied().unwrap_or(100);
        pts.push((spec(Workload::Exists, 100, small), s, k, false));
        pts.push((spec(Workload::Create, 0, small), s, k, false));
        pts.push((spec(Workload::GetData, 100, small), 1, 1, true));
        pts.push((spec(Workload::SetData, 0, small), 1, 1, true));
        pts
    }
}

/// Figures in the order they were first recorded.
#[derive(Default)]
pub(crate) struct Collector {
    rows: Vec<(String, String, bool, Runs)>,
}

impl Collector {
    pub(crate) fn add(&mut self, name: &str, unit: &str, higher: bool, flavor: Flavor, v: f64) {
        let idx = match self.rows.iter().position(|r| r.0 == name) {
            Some(i) => i,
            None => {
                self.rows
                    .push((name.into(), unit.into(), higher, Runs::default()));
                self.rows.len() - 1
            }
        };
        let runs = &mut self.rows[idx].3;
        match flavor {
            Flavor::Zkserver => runs.zkserver.push(v),
            Flavor::Apache => runs.apache.push(v),
        }
    }

    /// Makes sure a row exists (so that unmeasured figures still print as n/a).
    fn declare(&mut self, name: &str, unit: &str, higher: bool) {
        if !self.rows.iter().any(|r| r.0 == name) {
            self.rows
                .push((name.into(), unit.into(), higher, Runs::default()));
        }
    }

    fn figures(self) -> Vec<Figure> {
        self.rows
            .into_iter()
            .map(|(n, u, h, r)| Figure::new(&n, &u, h, r))
            .collect()
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn default_zkserver_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("zkserver")))
        .unwrap_or_else(|| PathBuf::from("zkserver"))
}

const START_LIMIT: Duration = Duration::from_secs(120);
const KNOWN_NODE_SIZE: usize = 100;

fn known_node() -> String {
    format!("{ROOT}/v{KNOWN_NODE_SIZE}/k000000")
}

fn start(launcher: &Launcher, flavor: Flavor, dir: &Path) -> Result<Server, BenchError> {
    let mut s = Server::spawn(launcher, ServerDef::standalone(flavor, dir)?)?;
    let took = s.wait_ready(START_LIMIT)?;
    eprintln!(
        "  started {} (pid {:?}) on {} in {:.1}s",
        flavor.name(),
        s.pid(),
        s.addr(),
        took.as_secs_f64()
    );
    Ok(s)
}

/// Runs the whole comparison and returns the report (also printed and written as JSON by
/// the caller).
pub fn compare(cfg: &CompareConfig, rt: &Runtime) -> Result<Report<CompareConfig>, BenchError> {
    let launcher = Launcher {
        zkserver_bin: cfg
            .zkserver_bin
            .clone()
            .unwrap_or_else(default_zkserver_bin),
        apache_classpath: if cfg.apache {
            servers::apache_classpath()
        } else {
            None
        },
        apache_heap: cfg.apache_heap.clone(),
    };
    if !launcher.zkserver_bin.exists() {
        return Err(BenchError::Invalid(format!(
            "zkserver binary {} not found (build it with cargo build --release -p zkserver)",
            launcher.zkserver_bin.display()
        )));
    }
    let mut flavors = vec![Flavor::Zkserver];
    let mut notes = vec![format!("load average at start: {}", loadavg())];
    if launcher.apache_classpath.is_some() {
        flavors.push(Flavor::Apache);
    } else {
        notes.push("Apache ZooKeeper not run (disabled, or java/jars missing)".into());
    }
    std::fs::create_dir_all(&cfg.workdir)?;
    eprintln!("measuring machine bounds in {}", cfg.workdir.display());
    let bounds = bounds::measure(&cfg.workdir, cfg.bounds_samples.max(10))?;
    eprint!("{}", report::bounds_text(&bounds));

    let cpu_start = crate::steal::CpuTimes::now();
    let mut col = Collector::default();
    matrix_phase(cfg, rt, &launcher, &flavors, &mut col, &mut notes)?;
    if cfg.ensemble {
        ensemble_phase(cfg, rt, &launcher, &flavors, &mut col, &mut notes)?;
    }
    if cfg.populate_count > 0 {
        for &f in &flavors {
            populate_phase(cfg, rt, &launcher, f, &mut col, &mut notes)?;
        }
    }
    col.declare("election after kill -9 of leader", "s", false);
    if cfg.election_rounds > 0 {
        for &f in &flavors {
            if let Err(e) = election_phase(cfg, rt, &launcher, f, &mut col) {
                notes.push(format!("{} election phase failed: {e}", f.name()));
            }
        }
    }
    notes.push(format!("load average at end: {}", loadavg()));
    if let Some(share) = crate::steal::CpuTimes::now()
        .zip(cpu_start)
        .and_then(|(end, start)| end.steal_since(&start))
    {
        notes.push(format!(
            "CPU steal over the whole run: {:.1}% (each point's is in the log)",
            share * 100.0
        ));
    }
    // The disk and CPU are shared: a second measurement shows how much the bounds moved.
    let bounds_end = bounds::measure(&cfg.workdir, cfg.bounds_samples.max(10))?;
    let figures = col.figures();
    let targets = report::evaluate(&figures);
    Ok(Report {
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        config: cfg.clone(),
        bounds: Some(bounds),
        bounds_end: Some(bounds_end),
        figures,
        targets,
        notes,
    })
}

/// Both standalone servers up at once; see [`crate::matrix::run`].
fn matrix_phase(
    cfg: &CompareConfig,
    rt: &Runtime,
    launcher: &Launcher,
    flavors: &[Flavor],
    col: &mut Collector,
    notes: &mut Vec<String>,
) -> Result<(), BenchError> {
    let mut running = Vec::new();
    for &f in flavors {
        running.push((f, start(launcher, f, &cfg.workdir.join(f.name()))?));
    }
    let targets: Vec<(Flavor, String)> = running.iter().map(|(f, s)| (*f, s.addr())).collect();
    let result = crate::matrix::run(cfg, rt, "", &targets, col, notes);
    for (_, mut s) in running {
        s.kill();
        let _ = std::fs::remove_dir_all(&s.def.data_dir);
    }
    result
}

/// A 3-server ensemble of each flavor, all up at once; the matrix runs with sessions spread
/// over the members (see [`crate::matrix::run`]). A flavor whose ensemble does not form is noted and
/// left out rather than failing the whole comparison.
fn ensemble_phase(
    cfg: &CompareConfig,
    rt: &Runtime,
    launcher: &Launcher,
    flavors: &[Flavor],
    col: &mut Collector,
    notes: &mut Vec<String>,
) -> Result<(), BenchError> {
    let mut ensembles = Vec::new();
    let mut targets = Vec::new();
    for &f in flavors {
        let dir = cfg.workdir.join(format!("{}-matrix-ensemble", f.name()));
        match start_ensemble(launcher, f, &dir) {
            Ok((members, connect)) => {
                eprintln!("  {} 3-server ensemble serving on {connect}", f.name());
                targets.push((f, connect));
                ensembles.push((dir, members));
            }
            Err(e) => notes.push(format!("{} 3-server ensemble did not start: {e}", f.name())),
        }
    }
    let result = crate::matrix::run(cfg, rt, ENSEMBLE_PREFIX, &targets, col, notes);
    for (dir, members) in ensembles {
        for mut m in members {
            m.kill();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// Figure-name prefix of the 3-server matrix.
pub const ENSEMBLE_PREFIX: &str = "3-server ";

/// Starts a 3-member ensemble and waits for one leader and two followers; returns the
/// members and a connect string listing the followers first, then the leader.
fn start_ensemble(
    launcher: &Launcher,
    flavor: Flavor,
    dir: &Path,
) -> Result<(Vec<Server>, String), BenchError> {
    let mut members = Vec::new();
    for def in servers::ensemble_defs_for(flavor, dir, 3)? {
        members.push(Server::spawn(launcher, def)?);
    }
    for m in &mut members {
        m.wait_ready(START_LIMIT)?;
    }
    let leader = crate::election::wait_stable(&members, START_LIMIT)?;
    let mut order: Vec<usize> = (0..members.len()).filter(|&i| i != leader).collect();
    order.push(leader);
    let connect = order
        .iter()
        .map(|&i| members[i].addr())
        .collect::<Vec<_>>()
        .join(",");
    Ok((members, connect))
}

/// Fresh server: time to create `populate_count` znodes, RSS after it, restart time with
/// that data (kill -9, start, until a getData of a known node succeeds).
fn populate_phase(
    cfg: &CompareConfig,
    rt: &Runtime,
    launcher: &Launcher,
    flavor: Flavor,
    col: &mut Collector,
    notes: &mut Vec<String>,
) -> Result<(), BenchError> {
    let dir = cfg.workdir.join(format!("{}-populate", flavor.name()));
    let mut s = start(launcher, flavor, &dir)?;
    let count = cfg.populate_count;
    let label = if count.is_multiple_of(1_000_000) {
        format!("{}M", count / 1_000_000)
    } else if count.is_multiple_of(1000) {
        format!("{}k", count / 1000)
    } else {
        count.to_string()
    };
    let spec = Spec {
        workload: Workload::Create,
        read_pct: 0,
        value_size: 100,
        keys: DEFAULT_KEYS,
    };
    // The known node for the restart probe, and the keys reads use.
    rt.block_on(async {
        let c = load::connect(&s.addr(), Duration::from_secs(10)).await?;
        load::prepare(
            &c,
            &Spec {
                workload: Workload::GetData,
                ..spec
            },
        )
        .await?;
        let _ = c.close().await;
        Ok::<_, BenchError>(())
    })?;
    crate::settle::settle_before(cfg.settle_disk, "populate");
    eprintln!(
        "  populating {} with {count} znodes of {}",
        flavor.name(),
        size_label(100)
    );
    let r = rt.block_on(load::run_load(&LoadConfig {
        target: s.addr(),
        spec,
        sessions: cfg.sessions,
        outstanding: cfg.outstanding,
        limit: Limit::Ops(count),
        driver: Driver::Raw,
        pace: None,
    }))?;
    eprintln!(
        "  {} created {} znodes in {:.1}s ({:.0}/s, {} errors)",
        flavor.name(),
        r.ops,
        r.elapsed_s,
        r.ops_per_sec,
        r.errors
    );
    crate::matrix::note_errors(notes, flavor, "populate", &r);
    col.add(
        &format!("populate {label} x 100B time"),
        "s",
        false,
        flavor,
        r.elapsed_s,
    );
    // Let background work (snapshots, GC) settle before reading RSS.
    std::thread::sleep(Duration::from_secs(2));
    match s.rss_kib() {
        Some(kib) => col.add(
            "RSS after populate",
            "MiB",
            false,
            flavor,
            kib as f64 / 1024.0,
        ),
        None => notes.push(format!("{}: no VmRSS", flavor.name())),
    }
    let node = known_node();
    for i in 0..cfg.restarts {
        crate::settle::settle_before(cfg.settle_disk, "restart");
        s.kill();
        let t0 = Instant::now();
        s.respawn(launcher)?;
        match rt.block_on(load::wait_get_data(&s.addr(), &node, t0, START_LIMIT)) {
            Some(d) => {
                eprintln!(
                    "  {} restart {}: serving after {:.2}s",
                    flavor.name(),
                    i + 1,
                    d.as_secs_f64()
                );
                col.add("restart time", "s", false, flavor, d.as_secs_f64());
            }
            None => notes.push(format!(
                "{} restart {}: not serving within {START_LIMIT:?}",
                flavor.name(),
                i + 1
            )),
        }
    }
    s.kill();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A 3-server ensemble of `flavor`: kill -9 the leader, time until a write succeeds through
/// a survivor, restart the victim, repeat (see [`crate::election`]).
fn election_phase(
    cfg: &CompareConfig,
    rt: &Runtime,
    launcher: &Launcher,
    flavor: Flavor,
    col: &mut Collector,
) -> Result<(), BenchError> {
    let ec = crate::election::ElectionConfig {
        flavor,
        zkserver_bin: launcher.zkserver_bin.clone(),
        workdir: cfg.workdir.join(format!("{}-ensemble", flavor.name())),
        rounds: cfg.election_rounds,
        round_limit: START_LIMIT,
    };
    let report = crate::election::measure(&ec, rt)?;
    for (i, s) in report.samples.iter().enumerate() {
        eprintln!(
            "  {} election {}: write succeeded {:.3}s after kill -9 of leader {}",
            flavor.name(),
            i + 1,
            s.write_ms / 1000.0,
            s.killed
        );
        col.add(
            "election after kill -9 of leader",
            "s",
            false,
            flavor,
            s.write_ms / 1000.0,
        );
    }
    let _ = std::fs::remove_dir_all(&ec.workdir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bench.toml");
        std::fs::write(&p, "runs = 5\nvalue_sizes = [100]\napache = false\n").unwrap();
        let c = CompareConfig::from_toml(&p, CompareConfig::default()).unwrap();
        assert_eq!(c.runs, 5);
        assert_eq!(c.value_sizes, vec![100]);
        assert!(!c.apache);
        assert_eq!(c.sessions, 32, "untouched keys keep their defaults");
        std::fs::write(&p, "bogus = 1\n").unwrap();
        assert!(CompareConfig::from_toml(&p, CompareConfig::default()).is_err());
    }

    #[test]
    fn matrix_covers_the_workloads() {
        let m = CompareConfig::default().matrix();
        let labels: Vec<String> = m.iter().map(|p| p.0.label()).collect();
        for l in [
            "getData 100B",
            "setData 1KB",
            "mix90r 100B",
            "mix50r 1KB",
            "exists 100B",
            "create 100B",
        ] {
            assert!(labels.iter().any(|x| x == l), "{l} missing from {labels:?}");
        }
        let lat: Vec<_> = m.iter().filter(|p| p.3).collect();
        assert_eq!(lat.len(), 2);
        assert!(lat.iter().all(|p| p.1 == 1 && p.2 == 1));
    }
}
