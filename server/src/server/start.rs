//! Start-up: recover the database from the data dirs, snapshot it, open the log, listen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{error, info};

use super::core::{Core, CoreConfig};
use crate::config::{ConfigError, ServerConfig};
use crate::net::{serve, ListenerConfig};
use crate::storage::group_commit::LogThread;
use crate::storage::{self, StorageError};
use crate::tree::DataTree;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Http(#[from] crate::admin::http::HttpError),
    #[error("this build runs standalone servers only; zoo.cfg lists {0} servers")]
    Ensemble(usize),
}

/// Writes a snapshot of `tree` (and its digest) named after its last processed zxid.
pub fn write_snapshot(
    data_dir: &Path,
    tree: &DataTree,
    sessions: &[(i64, i32)],
) -> Result<PathBuf, StorageError> {
    let zxid = tree.last_processed_zxid();
    let started = std::time::Instant::now();
    let path = storage::snapshot::write_snapshot(
        data_dir,
        zxid,
        sessions,
        Some((zxid, tree.digest())),
        |w| tree.serialize(w),
    )?;
    let took = started.elapsed();
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    crate::metrics::metrics().observe_snapshot(took.as_secs_f64() * 1000.0, bytes);
    info!(
        duration_ms = took.as_millis() as u64,
        bytes,
        "Snapshotting: 0x{zxid:x} to {}",
        path.display()
    );
    Ok(path)
}

fn mkdir(p: &Path) -> Result<(), ServerError> {
    std::fs::create_dir_all(p).map_err(|source| ServerError::CreateDir {
        path: p.to_path_buf(),
        source,
    })
}

/// Runs a standalone server until the process is killed.
pub async fn run(cfg: ServerConfig) -> Result<(), ServerError> {
    if !cfg.is_standalone() {
        return Err(ServerError::Ensemble(cfg.servers.len()));
    }
    mkdir(&cfg.data_dir)?;
    mkdir(&cfg.data_log_dir)?;
    let max_buffer = cfg.jute_max_buffer;
    let load_started = std::time::Instant::now();
    let restored = storage::recovery::restore(
        &cfg.data_dir,
        &cfg.data_log_dir,
        |r| DataTree::deserialize(r, 2 * max_buffer).map_err(|e| e.to_string()),
        DataTree::new,
        |t, txn| {
            t.apply(txn);
        },
    )?;
    crate::metrics::metrics()
        .dbinittime
        .observe(load_started.elapsed().as_secs_f64() * 1000.0);
    let tree = restored.tree;
    info!(
        "Restored database: last zxid 0x{:x} (snapshot 0x{:x}), {} nodes, {} sessions",
        restored.last_zxid,
        restored.snapshot_zxid,
        tree.node_count(),
        restored.sessions.len()
    );
    // As Apache does at start-up: a snapshot of what was recovered, so a torn log tail
    // can be cut and never needs replaying again.
    write_snapshot(&cfg.data_dir, &tree, &restored.sessions)?;
    storage::txnlog_reader::truncate_log(&cfg.data_log_dir, tree.last_processed_zxid())?;

    let writer = storage::txnlog::TxnLogWriter::open(
        &cfg.data_log_dir,
        cfg.pre_alloc_size_kb * 1024,
        cfg.force_sync,
    )?;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let log = LogThread::spawn(writer, cfg.snap_count, events_tx);

    let addr = cfg.client_socket_addr()?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    info!("binding to port {addr}");

    let container_ms = cfg
        .system_properties
        .get("znode.container.checkIntervalMs")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(60_000);
    let core_cfg = CoreConfig {
        server_id: cfg.my_id.unwrap_or(0),
        tick_ms: cfg.tick_time as u64,
        min_session_timeout: cfg.min_session_timeout as i32,
        max_session_timeout: cfg.max_session_timeout as i32,
        max_buffer,
        extended_types_enabled: cfg.extended_types_enabled,
        enforce_quota: cfg
            .system_properties
            .get("zookeeper.enforceQuota")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        super_digest: cfg.super_digest.clone(),
        data_dir: cfg.data_dir.clone(),
        container_check_interval: Duration::from_millis(container_ms.max(10)),
        server_config: Arc::new(cfg.clone()),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    crate::admin::http::start(core_cfg.server_config.clone(), tx.clone()).await?;
    tokio::spawn(serve(
        listener,
        ListenerConfig {
            max_client_cnxns: cfg.max_client_cnxns,
            max_buffer,
        },
        tx,
    ));
    if cfg.autopurge_purge_interval_hours > 0 {
        tokio::spawn(autopurge(
            cfg.data_dir.clone(),
            cfg.data_log_dir.clone(),
            cfg.autopurge_snap_retain_count,
            Duration::from_secs(cfg.autopurge_purge_interval_hours as u64 * 3600),
        ));
    }
    let core = Core::new(core_cfg, tree, &restored.sessions, log);
    core.run(rx, events_rx).await;
    Ok(())
}

/// Apache's DatadirCleanupManager: purge old snapshots and logs every interval.
async fn autopurge(data_dir: PathBuf, log_dir: PathBuf, retain: usize, every: Duration) {
    let mut t = tokio::time::interval(every);
    t.tick().await;
    loop {
        t.tick().await;
        let (d, l) = (data_dir.clone(), log_dir.clone());
        match tokio::task::spawn_blocking(move || storage::purge::purge(&d, &l, retain)).await {
            Ok(Ok(r)) => info!("Purge task completed: {r:?}"),
            Ok(Err(e)) => error!("Purge failed: {e}"),
            Err(e) => error!("Purge task panicked: {e}"),
        }
    }
}
