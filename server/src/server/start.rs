//! Start-up: recover the database from the data dirs, snapshot it, open the log, listen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{error, info};

use super::core::{Core, CoreConfig};
use super::ensemble::{
    election_loop, read_epoch, write_epoch, QuorumCtx, QuorumEvent, ACCEPTED_EPOCH, CURRENT_EPOCH,
};
use crate::config::{ConfigError, ServerConfig};
use crate::net::{serve, ListenerConfig};
use crate::quorum::election::net::{ElectionService, ElectionSettings};
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
    #[error("zoo.cfg lists servers but dataDir has no myid")]
    NoMyId,
    #[error("election: {0}")]
    Election(#[from] crate::quorum::election::net::ElectionNetError),
    #[error("epoch files: {0}")]
    Epoch(std::io::Error),
    #[error(transparent)]
    Http(#[from] crate::admin::http::HttpError),
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

/// Runs a server (standalone, or a member of the ensemble zoo.cfg lists) until the process
/// is killed.
pub async fn run(cfg: ServerConfig) -> Result<(), ServerError> {
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
    let mut tree = restored.tree;
    // A snapshot's tree does not know its zxid; the newest one applied is what counts.
    tree.set_last_processed_zxid(restored.last_zxid);
    info!(
        "Restored database: last zxid 0x{:x} (snapshot 0x{:x}), {} nodes, {} sessions",
        restored.last_zxid,
        restored.snapshot_zxid,
        tree.node_count(),
        restored.sessions.len()
    );
    // Cut a torn tail so appends start from a clean end.
    storage::txnlog_reader::truncate_log(&cfg.data_log_dir, tree.last_processed_zxid())?;

    let writer = storage::txnlog::TxnLogWriter::open(
        &cfg.data_log_dir,
        cfg.pre_alloc_size_kb * 1024,
        cfg.force_sync,
    )?;
    let (log_tx, log_rx) = mpsc::unbounded_channel();
    let (quorum_tx, quorum_rx) = mpsc::unbounded_channel();
    let (peer_tx, peer_rx) = mpsc::unbounded_channel();
    let quorum = if cfg.is_standalone() {
        None
    } else {
        if cfg.reconfig_enabled
            && cfg.dynamic_config_file.is_none()
            && !cfg.source_path.as_os_str().is_empty()
        {
            // As QuorumPeerConfig does before a reconfig can move the members out of zoo.cfg.
            if let Err(e) = crate::quorum::reconfig::backup_static_config(&cfg.source_path) {
                error!("cannot back up {}: {e}", cfg.source_path.display());
            }
        }
        let members = newest_membership(&cfg, &tree);
        let q = ensemble_ctx(&members, tree.last_processed_zxid(), quorum_tx, peer_tx).await?;
        tree.init_config_node(&q.config_text, q.config_version as i64);
        Some(q)
    };

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
        snap_count: cfg.snap_count,
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
    let mut core = Core::new(core_cfg, tree, &restored.sessions, writer, log_tx, quorum);
    // Standalone, as Apache does at start-up: a snapshot of what was recovered. It is
    // written from a clone on a background thread, as periodic snapshots are, so clients
    // are served meanwhile (with 1M znodes it takes ~0.7 s); until it is complete the
    // snapshot and logs it was recovered from still are (it is renamed into place when
    // done). An ensemble member must not take one: its log tail may hold proposals that
    // were never committed, which a TRUNC from the next leader has to be able to take back.
    if cfg.is_standalone() {
        core.start_snapshot();
    }
    core.run(rx, log_rx, quorum_rx, peer_rx).await;
    Ok(())
}

/// Reads (or initialises) the epoch files, starts the election service and its loop.
async fn ensemble_ctx(
    cfg: &ServerConfig,
    last_zxid: i64,
    quorum_tx: mpsc::UnboundedSender<QuorumEvent>,
    peer_tx: mpsc::UnboundedSender<crate::quorum::transport::PeerEvent>,
) -> Result<QuorumCtx, ServerError> {
    let my_id = cfg.my_id.ok_or(ServerError::NoMyId)?;
    let log_epoch = ((last_zxid as u64) >> 32) as u32;
    let current = match read_epoch(&cfg.data_dir, CURRENT_EPOCH).map_err(ServerError::Epoch)? {
        Some(e) => e,
        None => {
            write_epoch(&cfg.data_dir, CURRENT_EPOCH, log_epoch).map_err(ServerError::Epoch)?;
            log_epoch
        }
    };
    let accepted = match read_epoch(&cfg.data_dir, ACCEPTED_EPOCH).map_err(ServerError::Epoch)? {
        Some(e) => e,
        None => {
            write_epoch(&cfg.data_dir, ACCEPTED_EPOCH, current).map_err(ServerError::Epoch)?;
            current
        }
    };
    let mut settings = ElectionSettings::new(my_id, cfg.servers.clone(), cfg.config_version);
    settings.cnx_timeout = Duration::from_millis(cfg.cnx_timeout_ms as u64);
    settings.listen_on_all_ips = cfg.quorum_listen_on_all_ips;
    settings.multi_address_enabled = cfg.multi_address_enabled;
    let (adopted_tx, mut adopted_rx) = mpsc::unbounded_channel();
    settings.adopted = Some(adopted_tx);
    let events = quorum_tx.clone();
    tokio::spawn(async move {
        while let Some(text) = adopted_rx.recv().await {
            if events.send(QuorumEvent::NewerConfig(text)).is_err() {
                return;
            }
        }
    });
    let handle = ElectionService::start(settings).await?;
    let election = Some(handle.config_updater());
    let (look_tx, look_rx) = mpsc::unbounded_channel();
    tokio::spawn(election_loop(handle, look_rx, quorum_tx.clone()));
    info!(
        "ensemble member {my_id} of {}: accepted epoch {accepted}, current epoch {current}",
        cfg.servers.len()
    );
    Ok(QuorumCtx {
        my_id,
        servers: cfg.servers.clone(),
        config_version: cfg.config_version,
        config_text: bytes::Bytes::from(crate::config::render_config_text(
            &cfg.servers,
            cfg.config_version,
        )),
        tick_ms: cfg.tick_time as u64,
        init_limit: cfg.init_limit.max(1) as u64,
        sync_limit: cfg.sync_limit.max(1) as u64,
        listen_on_all_ips: cfg.quorum_listen_on_all_ips,
        log_dir: cfg.data_log_dir.clone(),
        prealloc_bytes: cfg.pre_alloc_size_kb * 1024,
        force_sync: cfg.force_sync,
        snap_count: cfg.snap_count,
        look_tx,
        quorum_tx,
        peer_tx,
        accepted_epoch: accepted,
        current_epoch: current,
        elections: 0,
        election,
    })
}

/// The membership to start with: the config files', unless the data (a committed reconfig
/// whose files were not written before a crash) holds a newer one.
fn newest_membership(cfg: &ServerConfig, tree: &DataTree) -> ServerConfig {
    let mut members = cfg.clone();
    let text = tree
        .get_data(crate::tree::CONFIG_NODE)
        .and_then(|(d, _)| d)
        .unwrap_or_default();
    let parsed = crate::config::QuorumConfig::parse_text(&text, cfg.multi_address_enabled);
    if let Some(newer) = parsed.filter(|c| c.version > cfg.config_version) {
        info!(
            "the data holds config version {:x}, newer than the files' {:x}: using it",
            newer.version, cfg.config_version
        );
        members.servers = newer.servers;
        members.config_version = newer.version;
    }
    members
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
