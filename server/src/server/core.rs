//! The core: one task owns the tree, the sessions, the watches and the outstanding changes,
//! and sees every request in arrival order. Writes go to the log thread and are applied once
//! fsynced; reads are answered from the applied tree, after the same session's earlier writes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::auth::AuthInfo;
use crate::hashing::{HashMap, HashSet};
use crate::net::{ConnId, ConnOut, ToCore};
use crate::pipeline::pending::PendingChanges;
use crate::proto::jute::Jute;
use crate::proto::records::ReplyHeader;
use crate::proto::txn::Txn;
use crate::session::SessionTracker;
use crate::storage::group_commit::{LogEvent, LogThread};
use crate::storage::txnlog::TxnLogWriter;
use crate::tree::DataTree;
use crate::watch::WatchManager;

/// Settings the core acts on (derived from zoo.cfg).
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub server_id: u64,
    pub tick_ms: u64,
    pub min_session_timeout: i32,
    pub max_session_timeout: i32,
    pub max_buffer: usize,
    pub extended_types_enabled: bool,
    /// `zookeeper.enforceQuota` (Java `Boolean.parseBoolean`, default false).
    pub enforce_quota: bool,
    pub super_digest: Option<String>,
    pub data_dir: PathBuf,
    pub snap_count: u64,
    pub container_check_interval: Duration,
    /// The whole configuration, for `conf`, `envi` and the 4-letter-word whitelist.
    pub server_config: Arc<crate::config::ServerConfig>,
}

/// One client connection as the core knows it.
pub(super) struct Conn {
    pub out: ConnOut,
    pub session: i64,
    pub auth: AuthInfo,
    pub remote: SocketAddr,
    pub stats: super::stats::ConnStats,
    /// Frames queued during this turn of the core loop: they leave together at its end (one
    /// write per connection and turn, straight into the socket when it takes them).
    pub outbuf: Vec<u8>,
}

/// Room reserved for a connection's frames of one turn (a few replies).
const OUTBUF_START: usize = 512;

/// Who is waiting for a txn's outcome.
pub(super) enum Origin {
    /// A client request on a connection.
    Client {
        conn: ConnId,
        xid: i32,
        op: i32,
        at: Instant,
    },
    /// A new session: the ConnectResponse goes out once the createSession txn is durable.
    Connect {
        conn: ConnId,
        timeout: i32,
        send_read_only: bool,
        at: Instant,
    },
    /// Server-initiated (session expiry, container reaper), or committed from another
    /// server's log: nobody here waits for it.
    Server,
    /// Leader: a request a learner forwarded; the learner answers its client.
    Remote,
}

pub(super) struct Inflight {
    pub txn: Txn,
    pub origin: Origin,
    /// When it was handed to the log (standalone) or proposed (leader).
    pub submitted: Instant,
}

/// A session's requests that must wait for its earlier writes.
#[derive(PartialEq)]
pub(super) enum Deferred {
    /// A write prepared here (standalone, leader), by zxid.
    Write(i64),
    /// A write or sync forwarded to the leader (learner), by the client's xid.
    Forwarded(i32),
    Read {
        conn: ConnId,
        xid: i32,
        op: i32,
        body: Bytes,
        at: Instant,
    },
    /// `linearizableReads`: the reads behind wait for this read barrier.
    Barrier(u64),
    /// `linearizableReads`: a write (or closeSession) held until it reaches the front, so
    /// it cannot overtake a read of the same session still waiting for its barrier.
    Held {
        conn: ConnId,
        xid: i32,
        op: i32,
        body: Bytes,
    },
}

pub struct Core {
    pub(super) cfg: CoreConfig,
    pub(super) tree: DataTree,
    pub(super) pending: PendingChanges,
    pub(super) sessions: SessionTracker,
    pub(super) watches: WatchManager,
    pub(super) conns: HashMap<ConnId, Conn>,
    pub(super) session_conn: HashMap<i64, ConnId>,
    pub(super) queues: HashMap<i64, VecDeque<Deferred>>,
    pub(super) inflight: VecDeque<Inflight>,
    pub(super) last_assigned_zxid: i64,
    /// The log thread; `None` only while it is being replaced.
    pub(super) log: Option<LogThread>,
    /// Generation of the log thread, so events of a replaced one are ignored.
    pub(super) log_gen: u64,
    pub(super) log_tx: mpsc::UnboundedSender<(u64, LogEvent)>,
    pub(super) role: super::ensemble::Role,
    /// Set when this server is a member of an ensemble.
    pub(super) quorum: Option<super::ensemble::QuorumCtx>,
    /// Learner: requests sent to the leader, by (session, cxid), until they come back
    /// committed. Revalidations use cxid `i32::MIN`.
    pub(super) forwarded: HashMap<(i64, i32), Origin>,
    /// Local sessions of read-only clients served while cut off from the quorum.
    pub(super) read_only_sessions: HashSet<i64>,
    pub(super) clock: Instant,
    pub(super) stats: super::stats::ServerStats,
    pub(super) snapshot_running: Arc<AtomicBool>,
    /// Connections with frames in their `outbuf`.
    pub(super) dirty: Vec<ConnId>,
}

pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Core {
    /// A core that logs with `writer`; its log events arrive on `log_tx`'s receiver.
    pub fn new(
        cfg: CoreConfig,
        tree: DataTree,
        restored_sessions: &[(i64, i32)],
        writer: TxnLogWriter,
        log_tx: mpsc::UnboundedSender<(u64, LogEvent)>,
        quorum: Option<super::ensemble::QuorumCtx>,
    ) -> Core {
        let clock = Instant::now();
        let mut sessions = SessionTracker::new(cfg.server_id, cfg.tick_ms, wall_ms());
        for &(id, timeout) in restored_sessions {
            sessions.add(id, timeout, 0);
        }
        let last = tree.last_processed_zxid();
        let mut core = Core {
            cfg,
            tree,
            pending: PendingChanges::new(),
            sessions,
            watches: WatchManager::new(),
            conns: HashMap::default(),
            session_conn: HashMap::default(),
            queues: HashMap::default(),
            inflight: VecDeque::new(),
            last_assigned_zxid: last,
            log: None,
            log_gen: 0,
            log_tx,
            role: if quorum.is_some() {
                super::ensemble::Role::Looking
            } else {
                super::ensemble::Role::Standalone
            },
            quorum,
            forwarded: HashMap::default(),
            read_only_sessions: Default::default(),
            clock,
            stats: super::stats::ServerStats::new(),
            snapshot_running: Arc::new(AtomicBool::new(false)),
            dirty: Vec::new(),
        };
        core.spawn_log(writer);
        core
    }

    /// Starts a log thread on `writer`, tagging its events with a new generation.
    pub(super) fn spawn_log(&mut self, writer: TxnLogWriter) {
        self.log_gen += 1;
        let gen = self.log_gen;
        let tx = self.log_tx.clone();
        self.log = Some(LogThread::spawn(writer, self.cfg.snap_count, move |ev| {
            // A closed channel means the core is gone; the thread ends with its sender.
            let _ = tx.send((gen, ev));
        }));
    }

    /// Stops the log thread after it has committed everything queued.
    pub(super) fn stop_log(&mut self) {
        if let Some(l) = self.log.take() {
            l.shutdown();
        }
    }

    pub(super) fn log_submit(&mut self, zxid: i64, payload: Vec<u8>) {
        if let Some(l) = &self.log {
            l.submit(zxid, payload);
        }
    }

    /// Milliseconds on the core's monotonic clock (session expiry runs on it).
    pub(super) fn now(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    /// Queues a response frame for a connection (dropped silently if it is gone); returns
    /// its size as [`Core::send_with`] does.
    pub(super) fn send(&mut self, conn: ConnId, payload: Vec<u8>) -> Option<usize> {
        self.send_with(conn, |out| out.extend_from_slice(&payload))
    }

    /// Queues a response frame whose payload `write` appends to the connection's buffer
    /// (no allocation of its own); it leaves at the end of this turn of the loop. Records
    /// the payload size (no length prefix) as Apache's client response size, and returns
    /// it; `None` when the connection is gone.
    pub(super) fn send_with(
        &mut self,
        conn: ConnId,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Option<usize> {
        let len = self.push_frame(conn, write)?;
        self.stats.client_responses.record(len);
        Some(len)
    }

    /// Queues a frame that is not a response (the ConnectResponse, which Apache writes
    /// outside its response path, so its size is not recorded); returns the payload size.
    pub(super) fn push_frame(
        &mut self,
        conn: ConnId,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Option<usize> {
        let c = self.conns.get_mut(&conn)?;
        c.stats.packets_sent += 1;
        self.stats.packets_sent += 1;
        if c.outbuf.is_empty() {
            self.dirty.push(conn);
            c.outbuf.reserve(OUTBUF_START);
        }
        let at = c.outbuf.len();
        c.outbuf.extend_from_slice(&[0; 4]);
        write(&mut c.outbuf);
        let len = c.outbuf.len() - at - 4;
        c.outbuf[at..at + 4].copy_from_slice(&(len as i32).to_be_bytes());
        Some(len)
    }

    /// Hands every connection the frames queued for it during this turn.
    pub(super) fn flush_out(&mut self) {
        for conn in self.dirty.drain(..) {
            if let Some(c) = self.conns.get_mut(&conn) {
                if !c.outbuf.is_empty() {
                    let frames = std::mem::take(&mut c.outbuf);
                    c.out.send(Bytes::from(frames));
                }
            }
        }
        self.flush_peers();
    }

    /// Hands the Zab packets staged during this turn (see `PeerSender::send_deferred`) to
    /// the peers' writers. (A role that ends flushes through `close_after_queued`, so what
    /// it sent last, a COMMITANDACTIVATE that removes this leader say, still leaves.)
    pub(super) fn flush_peers(&self) {
        match &self.role {
            super::ensemble::Role::Leader(l) => l.peers.values().for_each(|p| p.flush()),
            super::ensemble::Role::Learner(l) => l.leader.flush(),
            _ => {}
        }
    }

    /// Sends a reply header plus optional body.
    pub(super) fn reply(&mut self, conn: ConnId, xid: i32, zxid: i64, err: i32, body: &[u8]) {
        self.send_with(conn, |out| {
            ReplyHeader { xid, zxid, err }.write_to(out);
            if err == 0 {
                out.extend_from_slice(body);
            }
        });
    }

    pub(super) fn record_latency(&mut self, conn: ConnId, at: Instant, kind: i32, write: bool) {
        let elapsed = at.elapsed();
        crate::metrics::metrics().observe_request(kind, write, elapsed.as_secs_f64() * 1000.0);
        let ms = elapsed.as_millis() as u64;
        self.stats.latency.record(ms);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.latency.record(ms);
            c.stats.last_latency = ms;
        }
    }

    pub(super) fn close_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            if !c.outbuf.is_empty() {
                c.out.send(Bytes::from(c.outbuf));
            }
            c.out.close();
            if c.session != 0 && self.session_conn.get(&c.session) == Some(&conn) {
                self.session_conn.remove(&c.session);
                // Watches belong to the connection, as in Apache: a reconnecting client re-sets them.
                self.watches.remove_session(c.session);
            }
        }
    }

    /// Runs until the request channel closes.
    pub async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<ToCore>,
        mut log_events: mpsc::UnboundedReceiver<(u64, LogEvent)>,
        mut quorum_rx: mpsc::UnboundedReceiver<super::ensemble::QuorumEvent>,
        mut peer_rx: mpsc::UnboundedReceiver<crate::quorum::transport::PeerEvent>,
    ) {
        let mut reaper = tokio::time::interval(self.cfg.container_check_interval);
        reaper.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let in_ensemble = self.quorum.is_some();
        let tick_ms = (self.cfg.tick_ms / 2).clamp(10, 1000);
        let mut zab_tick = tokio::time::interval(Duration::from_millis(tick_ms));
        zab_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if in_ensemble {
            self.start_looking();
        }
        loop {
            let next_expiry = self
                .sessions
                .next_expiry()
                .map(|t| tokio::time::Instant::from_std(self.clock + Duration::from_millis(t)))
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                biased;
                ev = log_events.recv() => match ev {
                    Some((gen, ev)) if gen == self.log_gen => self.on_log_event(ev),
                    Some(_) => {}
                    None => return,
                },
                ev = peer_rx.recv(), if in_ensemble => {
                    if let Some(ev) = ev {
                        self.on_peer_event(ev);
                    }
                }
                ev = quorum_rx.recv(), if in_ensemble => {
                    if let Some(ev) = ev {
                        self.on_quorum_event(ev);
                    }
                }
                msg = rx.recv() => match msg {
                    Some(m) => self.handle(m),
                    None => return,
                },
                _ = tokio::time::sleep_until(next_expiry) => self.expire_sessions(),
                _ = reaper.tick() => self.reap_containers(),
                _ = zab_tick.tick(), if in_ensemble => self.quorum_tick(),
            }
            self.drain_ready(&mut log_events, &mut peer_rx, &mut rx);
            self.flush_out();
        }
    }

    /// Handles what else is already queued (a bounded amount, in the select's order) before
    /// the turn's replies and Zab packets leave: under load one turn then carries many
    /// events, and each connection and peer gets one hand-off per turn instead of one per
    /// event.
    fn drain_ready(
        &mut self,
        log_events: &mut mpsc::UnboundedReceiver<(u64, LogEvent)>,
        peer_rx: &mut mpsc::UnboundedReceiver<crate::quorum::transport::PeerEvent>,
        rx: &mut mpsc::UnboundedReceiver<ToCore>,
    ) {
        const MAX_PER_TURN: usize = 64;
        for _ in 0..MAX_PER_TURN {
            match log_events.try_recv() {
                Ok((gen, ev)) if gen == self.log_gen => self.on_log_event(ev),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if self.quorum.is_some() {
            for _ in 0..MAX_PER_TURN {
                let Ok(ev) = peer_rx.try_recv() else { break };
                self.on_peer_event(ev);
            }
        }
        for _ in 0..MAX_PER_TURN {
            let Ok(m) = rx.try_recv() else { break };
            self.handle(m);
        }
    }

    fn on_log_event(&mut self, ev: LogEvent) {
        match ev {
            LogEvent::Synced { last_zxid } => match self.role {
                super::ensemble::Role::Standalone => self.apply_through(last_zxid),
                _ => self.zab_input(crate::quorum::zab::Input::Persisted { zxid: last_zxid }),
            },
            LogEvent::SnapshotDue => self.start_snapshot(),
            LogEvent::Failed(e) => {
                // Nothing after this point may be acknowledged: stop hard, as Apache does.
                error!("transaction log failed: {e}; exiting");
                std::process::exit(3);
            }
        }
    }

    /// Whether this server may expire sessions and reap nodes: the standalone server or a
    /// serving leader (learners hear about expiry through closeSession txns).
    pub(super) fn owns_sessions(&self) -> bool {
        match &self.role {
            super::ensemble::Role::Standalone => true,
            super::ensemble::Role::Leader(l) => l.serving,
            _ => false,
        }
    }

    fn handle(&mut self, msg: ToCore) {
        match msg {
            ToCore::Connect {
                conn,
                req,
                read_only,
                remote,
                out,
            } => self.on_connect(conn, req, read_only, remote, out),
            ToCore::Request {
                conn,
                xid,
                op,
                body,
            } => self.on_request(conn, xid, op, body),
            ToCore::Closed { conn } => self.close_conn(conn),
            ToCore::FourLetter { cmd, remote, reply } => {
                let text = self.four_letter(cmd, remote);
                let _ = reply.send(text);
            }
            ToCore::Info { cmd, reply } => {
                let _ = reply.send(self.admin_info(cmd));
            }
        }
    }

    fn expire_sessions(&mut self) {
        if !self.owns_sessions() {
            // Keep the buckets moving without expiring anybody: the leader decides.
            let now = self.now();
            let ids: Vec<i64> = self
                .sessions
                .snapshot()
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            for id in ids {
                self.sessions.touch(id, now);
            }
            return;
        }
        let now = self.now();
        for id in self.sessions.take_expired(now) {
            crate::metrics::metrics().stale_sessions_expired.inc();
            info!(
                "Expiring session 0x{:x}, timeout of {}ms exceeded",
                id,
                self.sessions.get(id).map_or(0, |s| s.timeout_ms)
            );
            self.submit_close_session(id, super::core::Origin::Server, 0);
        }
    }

    /// Takes a fuzzy snapshot from a cheap clone of the tree, on a background thread that
    /// yields the CPU to the threads answering clients (see [`super::background`]).
    pub(super) fn start_snapshot(&mut self) {
        if self.snapshot_running.swap(true, Ordering::AcqRel) {
            warn!("Too busy to snap, skipping");
            return;
        }
        let tree = self.tree.clone();
        let sessions = self.sessions.snapshot();
        let dir = self.cfg.data_dir.clone();
        let flag = self.snapshot_running.clone();
        let done = flag.clone();
        let spawned = super::background::spawn_background("snapshot", move || {
            if let Err(e) = super::start::write_snapshot(&dir, &tree, &sessions) {
                error!("snapshot failed: {e}");
            }
            done.store(false, Ordering::Release);
        });
        if let Err(e) = spawned {
            error!("could not start a snapshot thread: {e}");
            flag.store(false, Ordering::Release);
        }
    }
}
