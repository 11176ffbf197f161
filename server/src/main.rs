//! `zkserver <zoo.cfg>` runs a server; `zkserver log dump FILE` and `zkserver snap dump FILE`
//! print Apache-format txn logs and snapshots readably.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "zkserver", version, about = "ZooKeeper-compatible coordination server")]
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
        .init();
    let stdout = &mut std::io::stdout().lock();
    let result = match (cli.tool, cli.config) {
        (Some(Tool::Log { cmd: DumpCmd::Dump { file } }), _) => {
            zkserver::storage::dump::dump_log(&file, stdout).map_err(|e| e.to_string())
        }
        (Some(Tool::Snap { cmd: DumpCmd::Dump { file } }), _) => {
            zkserver::storage::dump::dump_snapshot(&file, stdout).map_err(|e| e.to_string())
        }
        (None, Some(cfg)) => run_server(cfg),
        (None, None) => Err("usage: zkserver <zoo.cfg> | zkserver log dump FILE | zkserver snap dump FILE".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zkserver: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_server(path: PathBuf) -> Result<(), String> {
    let cfg = zkserver::config::ServerConfig::load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(zkserver::server::run(cfg)).map_err(|e| e.to_string())
}
