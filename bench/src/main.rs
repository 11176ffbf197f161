//! `zkbench`: run, latency, populate, bounds and compare subcommands.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use zkbench::compare::{self, CompareConfig};
use zkbench::election::{self, ElectionConfig};
use zkbench::error::BenchError;
use zkbench::load::{self, Driver, Limit, LoadConfig, LoadResult};
use zkbench::report;
use zkbench::servers::Flavor;
use zkbench::workload::{Spec, Workload, DEFAULT_KEYS};

/// `println!` / `print!` that end the program quietly when stdout is a closed pipe
/// (`zkbench run ... | head -1`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        stdout_result(writeln!(std::io::stdout(), $($arg)*))
    };
}
macro_rules! out_raw {
    ($($arg:tt)*) => {
        stdout_result(write!(std::io::stdout(), $($arg)*))
    };
}

fn stdout_result(r: std::io::Result<()>) {
    if let Err(e) = r {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

#[derive(Parser)]
#[command(
    name = "zkbench",
    about = "Load generator for ZooKeeper-protocol servers"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Pipelined load: many sessions, many outstanding requests each.
    Run(RunArgs),
    /// Latency mode: one outstanding request per session.
    Latency(RunArgs),
    /// Timed creation of COUNT znodes.
    Populate(PopulateArgs),
    /// Machine bounds: fsync of 1 KB appends in DIR, loopback round trip.
    Bounds {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        samples: usize,
        #[arg(long)]
        json: bool,
    },
    /// Same matrix against zkserver and Apache ZooKeeper; table plus JSON file.
    Compare(CompareArgs),
    /// Kill -9 the leader of a 3-member ensemble N times; time to a write and to a new leader.
    Election(ElectionArgs),
}

#[derive(Args)]
struct ElectionArgs {
    /// Leader kills to time.
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Run Apache ZooKeeper instead of zkserver.
    #[arg(long)]
    apache: bool,
    #[arg(long)]
    zkserver_bin: Option<PathBuf>,
    /// Where the members keep their data (emptied first).
    #[arg(long, default_value = "/tmp/zkbench")]
    workdir: PathBuf,
    /// Seconds after a kill before a round counts as failed.
    #[arg(long, default_value_t = 60)]
    round_limit: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RunArgs {
    #[arg(long, default_value = "127.0.0.1:2181")]
    target: String,
    #[arg(long, default_value = "setdata")]
    workload: Workload,
    /// Read percentage for `--workload mix`.
    #[arg(long, default_value_t = 50)]
    read_pct: u32,
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    #[arg(long)]
    sessions: Option<usize>,
    #[arg(long)]
    outstanding: Option<usize>,
    /// Existing znodes reads and writes spread over.
    #[arg(long, default_value_t = DEFAULT_KEYS)]
    keys: usize,
    /// Seconds to run (default 10 unless --ops is given).
    #[arg(long, conflicts_with = "ops")]
    duration: Option<f64>,
    /// Total requests to send.
    #[arg(long)]
    ops: Option<u64>,
    /// raw: hand-encoded frames (cheap); client: zkserver's async client.
    #[arg(long, value_enum, default_value_t = Driver::Raw)]
    driver: Driver,
    /// Open loop: offer this many requests per second in total, whatever the replies do
    /// (at most --outstanding in flight per session). Raw driver only.
    #[arg(long)]
    rate: Option<f64>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct PopulateArgs {
    #[arg(long, default_value = "127.0.0.1:2181")]
    target: String,
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    #[arg(long, default_value_t = 32)]
    sessions: usize,
    #[arg(long, default_value_t = 8)]
    outstanding: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CompareArgs {
    /// TOML file with CompareConfig keys; flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start from the ~2-minute smoke settings.
    #[arg(long)]
    quick: bool,
    #[arg(long)]
    workdir: Option<PathBuf>,
    #[arg(long)]
    zkserver_bin: Option<PathBuf>,
    #[arg(long)]
    runs: Option<usize>,
    #[arg(long)]
    duration: Option<f64>,
    #[arg(long)]
    warmup: Option<f64>,
    #[arg(long)]
    populate: Option<u64>,
    /// Skip Apache ZooKeeper.
    #[arg(long)]
    no_apache: bool,
    /// Skip the 3-server matrix (standalone only).
    #[arg(long)]
    no_ensemble: bool,
    /// JSON output file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn runtime() -> Result<tokio::runtime::Runtime, BenchError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn print_result(r: &LoadResult, json: bool) -> Result<(), BenchError> {
    if json {
        out!("{}", serde_json::to_string_pretty(r)?);
    } else {
        let ms = |us: u64| us as f64 / 1000.0;
        out!(
            "{} {}x{}: {} ops in {:.2}s = {:.0} ops/s, errors {}; latency ms p50 {:.3} p90 {:.3} p99 {:.3} p99.9 {:.3} max {:.3}",
            r.label,
            r.sessions,
            r.outstanding,
            r.ops,
            r.elapsed_s,
            r.ops_per_sec,
            r.errors,
            ms(r.latency.p50_us),
            ms(r.latency.p90_us),
            ms(r.latency.p99_us),
            ms(r.latency.p999_us),
            ms(r.latency.max_us)
        );
        if let Some(rate) = r.pace {
            out!(
                "offered {rate:.0} ops/s; sends held back by the in-flight cap: {}",
                r.held_back
            );
        }
        if let Some(e) = &r.first_error {
            out!("first error: {e}");
        }
    }
    Ok(())
}

fn run(a: RunArgs, latency: bool) -> Result<(), BenchError> {
    let (sessions, outstanding) = if latency {
        (a.sessions.unwrap_or(1), 1)
    } else {
        (a.sessions.unwrap_or(32), a.outstanding.unwrap_or(8))
    };
    let limit = match (a.ops, a.duration) {
        (Some(n), _) => Limit::Ops(n),
        (None, d) => Limit::Seconds(d.unwrap_or(10.0)),
    };
    let cfg = LoadConfig {
        target: a.target,
        spec: Spec {
            workload: a.workload,
            read_pct: a.read_pct,
            value_size: a.value_size,
            keys: a.keys.max(1),
        },
        sessions,
        outstanding,
        limit,
        driver: a.driver,
        pace: a.rate,
    };
    let r = runtime()?.block_on(load::run_load(&cfg))?;
    print_result(&r, a.json)
}

fn populate(a: PopulateArgs) -> Result<(), BenchError> {
    let cfg = LoadConfig {
        target: a.target,
        spec: Spec {
            workload: Workload::Create,
            read_pct: 0,
            value_size: a.value_size,
            keys: DEFAULT_KEYS,
        },
        sessions: a.sessions,
        outstanding: a.outstanding,
        limit: Limit::Ops(a.count),
        driver: Driver::Raw,
        pace: None,
    };
    let r = runtime()?.block_on(load::run_load(&cfg))?;
    if !a.json {
        out!("created {} znodes in {:.2}s", r.ops, r.elapsed_s);
    }
    print_result(&r, a.json)
}

fn compare_cmd(a: CompareArgs) -> Result<(), BenchError> {
    let base = if a.quick {
        CompareConfig::quick()
    } else {
        CompareConfig::default()
    };
    let mut cfg = match &a.config {
        Some(p) => CompareConfig::from_toml(p, base)?,
        None => base,
    };
    if let Some(v) = a.workdir {
        cfg.workdir = v;
    }
    if let Some(v) = a.zkserver_bin {
        cfg.zkserver_bin = Some(v);
    }
    if let Some(v) = a.runs {
        cfg.runs = v.max(1);
    }
    if let Some(v) = a.duration {
        cfg.duration_s = v;
    }
    if let Some(v) = a.warmup {
        cfg.warmup_s = v;
    }
    if let Some(v) = a.populate {
        cfg.populate_count = v;
    }
    if a.no_apache {
        cfg.apache = false;
    }
    if a.no_ensemble {
        cfg.ensemble = false;
    }
    if let Some(v) = a.json {
        cfg.json = v;
    }
    let rt = runtime()?;
    let rep = compare::compare(&cfg, &rt)?;
    if let Some(b) = &rep.bounds {
        out!("\nmachine bounds before the runs:");
        out_raw!("{}", report::bounds_text(b));
    }
    if let Some(b) = &rep.bounds_end {
        out!("machine bounds after the runs:");
        out_raw!("{}", report::bounds_text(b));
    }
    out!(
        "\nmedians of {} run(s); ratio = zkserver / apache (median of same-run ratios)\n",
        cfg.runs
    );
    out_raw!("{}", report::table(&rep.figures));
    out!("\ntargets:");
    out_raw!("{}", report::targets_text(&rep.targets));
    if !rep.notes.is_empty() {
        out!("\nnotes:");
        for n in &rep.notes {
            out!("- {n}");
        }
    }
    std::fs::write(&cfg.json, serde_json::to_string_pretty(&rep)?)?;
    out!("\nJSON written to {}", cfg.json.display());
    Ok(())
}

fn election_cmd(a: ElectionArgs) -> Result<(), BenchError> {
    let cfg = ElectionConfig {
        flavor: if a.apache {
            Flavor::Apache
        } else {
            Flavor::Zkserver
        },
        zkserver_bin: a.zkserver_bin.unwrap_or_else(sibling_zkserver),
        workdir: a.workdir,
        rounds: a.rounds.clamp(1, 100),
        round_limit: std::time::Duration::from_secs(a.round_limit.max(1)),
    };
    let rep = election::measure(&cfg, &runtime()?)?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        out_raw!("{}", rep.text());
    }
    Ok(())
}

/// `zkserver` next to this executable (both land in target/release).
fn sibling_zkserver() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("zkserver")))
        .unwrap_or_else(|| PathBuf::from("zkserver"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Run(a) => run(a, false),
        Cmd::Latency(a) => run(a, true),
        Cmd::Populate(a) => populate(a),
        Cmd::Bounds { dir, samples, json } => zkbench::bounds::measure(&dir, samples.max(1))
            .and_then(|b| {
                if json {
                    out!("{}", serde_json::to_string_pretty(&b)?);
                } else {
                    out_raw!("{}", report::bounds_text(&b));
                }
                Ok(())
            }),
        Cmd::Compare(a) => compare_cmd(a),
        Cmd::Election(a) => election_cmd(a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zkbench: {e}");
            ExitCode::FAILURE
        }
    }
}
