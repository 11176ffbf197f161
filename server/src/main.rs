//! `zkserver <zoo.cfg>` runs a server; `zkserver log dump FILE` and `zkserver snap dump FILE`
//! print Apache-format txn logs and snapshots readably; `zkserver reconfig ...` changes the
//! ensemble's membership as zkCli's `reconfig` does.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc malloc: the server allocates on one thread and frees on
/// another all the time (request buffers, txns handed to the log thread, replies handed to
/// connection tasks), and glibc then refills the core thread's cache from locked arena bins
/// on nearly every allocation (~29% of the core thread's time creating znodes).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "zkserver",
    version,
    about = "ZooKeeper-compatible coordination server"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    /// Apache ZooKeeper zoo.cfg to run with.
    config: Option<PathBuf>,
    #[command(subcommand)]
    tool: Option<Tool>,
}

#[derive(Subcommand)]
enum Tool {
    /// Transaction log files (`log.<zxid>`).
    Log {
        #[command(subcommand)]
        cmd: DumpCmd,
    },
    /// Snapshot files (`snapshot.<zxid>`).
    Snap {
        #[command(subcommand)]
        cmd: DumpCmd,
    },
    /// Change the ensemble membership, with zkCli's options:
    /// [-s] [-v hexVersion] [-file path | -members list | -add list -remove ids]
    /// [-server host:port] [--auth digest:user:password].
    Reconfig {
        #[arg(allow_hyphen_values = true, trailing_var_arg = true, num_args = 0..)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum DumpCmd {
    /// Print every entry readably.
    Dump { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ZKSERVER_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let stdout = &mut std::io::stdout().lock();
    let result = match (cli.tool, cli.config) {
        (
            Some(Tool::Log {
                cmd: DumpCmd::Dump { file },
            }),
            _,
        ) => zkserver::storage::dump::dump_log(&file, stdout).map_err(|e| e.to_string()),
        (
            Some(Tool::Snap {
                cmd: DumpCmd::Dump { file },
            }),
            _,
        ) => zkserver::storage::dump::dump_snapshot(&file, stdout).map_err(|e| e.to_string()),
        (Some(Tool::Reconfig { args }), _) => run_reconfig(args, stdout),
        (None, Some(cfg)) => run_server(cfg),
        (None, None) => run_default(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zkserver: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What `zkserver` runs with no zoo.cfg: a local server on 127.0.0.1:2181 keeping its data in
/// ./zk-data, every 4-letter word enabled.
const DEFAULT_CONFIG: &str = "\
tickTime=2000
dataDir=zk-data
clientPort=2181
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
autopurge.purgeInterval=1
";

fn run_default() -> Result<(), String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let flags = zkserver::config::env_jvmflags();
    let cfg = zkserver::config::ServerConfig::parse_str(DEFAULT_CONFIG, &cwd, &flags)
        .map_err(|e| format!("built-in config: {e}"))?;
    tracing::info!(
        "no zoo.cfg given: serving on 127.0.0.1:2181 with data in {}",
        cfg.data_dir.display()
    );
    run(cfg)
}

fn run_reconfig(args: Vec<String>, out: &mut dyn std::io::Write) -> Result<(), String> {
    use zkserver::quorum::reconfig::cli;
    let args = cli::ReconfigArgs::parse(args).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(cli::run(&args, out)).map_err(|e| e.to_string())
}

fn run_server(path: PathBuf) -> Result<(), String> {
    let cfg = zkserver::config::ServerConfig::load(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    run(cfg)
}

fn run(cfg: zkserver::config::ServerConfig) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(zkserver::server::run(cfg))
        .map_err(|e| e.to_string())
}
