//! Role changes: looking for a leader, taking the leader or learner role, and stepping down
//! (which flushes the log and fast-forwards the tree before the next election).

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::{LeaderRole, LearnerRole, QuorumEvent, Role};
use crate::config::Role as MemberRole;
use crate::quorum::election::net::ElectionHandle;
use crate::quorum::election::ServerState;
use crate::quorum::transport::{connect_leader, serve_learners};
use crate::quorum::zab::{DurableState, Leader, Learner, LearnerKind, ZabConfig};
use crate::server::core::Core;
use crate::storage;

/// Commit log kept for DIFF syncs (Apache's `zookeeper.commitLogCount` default).
const COMMIT_LOG_COUNT: usize = 500;

/// What a server does once its role ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextRole {
    /// Run an election.
    Look,
    /// Follow (or observe) the leader a reconfig named.
    Follow(u64, LearnerKind),
    /// Lead: a reconfig named this server.
    Lead,
}

/// Runs elections on request from the core and reports each decision back.
pub async fn election_loop(
    handle: ElectionHandle,
    mut look_rx: mpsc::UnboundedReceiver<(i64, i64)>,
    events: mpsc::UnboundedSender<QuorumEvent>,
) {
    while let Some((last_zxid, epoch)) = look_rx.recv().await {
        loop {
            match handle.look_for_leader(last_zxid, epoch).await {
                Ok(d) => {
                    let _ = events.send(QuorumEvent::Elected(d));
                    break;
                }
                Err(e) => {
                    error!("election failed: {e}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Deletes every snapshot whose zxid is above `zxid`.
fn remove_snapshots_after(data_dir: &std::path::Path, zxid: i64) -> Result<(), String> {
    let snaps = storage::snapshot::list_snapshots(data_dir).map_err(|e| e.to_string())?;
    for (z, path) in snaps.into_iter().filter(|(z, _)| *z > zxid) {
        info!("removing snapshot 0x{z:x}: it is past the truncation point 0x{zxid:x}");
        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    (host, port).to_socket_addrs().ok()?.next()
}

impl Core {
    fn quorum_addr_of(&self, sid: u64) -> Option<SocketAddr> {
        let q = self.quorum.as_ref()?;
        let a = q.servers.get(&sid)?.quorum_addrs.first()?;
        resolve(&a.host, a.port)
    }

    fn zab_config(&self) -> Option<ZabConfig> {
        let q = self.quorum.as_ref()?;
        let mut voters = std::collections::BTreeSet::new();
        let mut observers = std::collections::BTreeSet::new();
        for (id, s) in &q.servers {
            match s.role {
                MemberRole::Participant => voters.insert(*id),
                MemberRole::Observer => observers.insert(*id),
            };
        }
        Some(ZabConfig {
            my_sid: q.my_id,
            voters,
            observers,
            tick_ms: q.tick_ms,
            init_limit: q.init_limit,
            sync_limit: q.sync_limit,
            commit_log_count: COMMIT_LOG_COUNT,
            config_version: q.config_version as i64,
            config_text: q.config_text.clone(),
        })
    }

    /// What the log holds, for the role about to start.
    fn durable_state(&self, with_recent: bool) -> DurableState {
        let (accepted_epoch, current_epoch) = self
            .quorum
            .as_ref()
            .map_or((0, 0), |q| (q.accepted_epoch, q.current_epoch));
        let last_zxid = self.tree.last_processed_zxid();
        let mut recent = Vec::new();
        if with_recent {
            if let Some(q) = &self.quorum {
                match storage::txnlog_reader::read_raw_txns(&q.log_dir, 0) {
                    Ok(txns) => {
                        let skip = txns.len().saturating_sub(COMMIT_LOG_COUNT);
                        recent = txns
                            .into_iter()
                            .skip(skip)
                            .filter(|t| t.zxid <= last_zxid)
                            .map(|t| (t.zxid, t.payload))
                            .collect();
                    }
                    Err(e) => warn!("cannot read the log for the commit window: {e}"),
                }
            }
        }
        DurableState {
            accepted_epoch,
            current_epoch,
            last_zxid,
            recent,
        }
    }

    /// Asks the election task for a round with what our log holds.
    pub(in crate::server) fn start_looking(&mut self) {
        self.role = Role::Looking;
        crate::metrics::metrics().looking_count.inc();
        if let Some(q) = &self.quorum {
            let z = self.tree.last_processed_zxid();
            info!(
                "LOOKING: last zxid 0x{z:x}, current epoch {}",
                q.current_epoch
            );
            let _ = q.look_tx.send((z, q.current_epoch as i64));
        }
    }

    pub(in crate::server) fn on_quorum_event(&mut self, ev: QuorumEvent) {
        match ev {
            QuorumEvent::Elected(d) => {
                if !matches!(self.role, Role::Looking) {
                    return;
                }
                let my_id = self.quorum.as_ref().map_or(0, |q| q.my_id);
                info!(
                    "election done in {} ms: leader {} (epoch {}, zxid 0x{:x}), we are {:?}",
                    d.elapsed_ms, d.leader, d.vote.peer_epoch, d.vote.zxid, d.state
                );
                if let Some(q) = self.quorum.as_mut() {
                    q.elections += 1;
                }
                let m = crate::metrics::metrics();
                m.observe_election(d.elapsed_ms as f64);
                m.leader_changes.inc();
                match d.state {
                    ServerState::Leading if d.leader == my_id => self.become_leader(),
                    ServerState::Following | ServerState::Observing => {
                        let kind = if d.state == ServerState::Observing {
                            LearnerKind::Observer
                        } else {
                            LearnerKind::Follower
                        };
                        self.dial_leader(d.leader, kind);
                    }
                    _ => self.start_looking(),
                }
            }
            QuorumEvent::NewerConfig(text) => self.adopt_config_text(&text),
            QuorumEvent::LeaderConnected { leader, result } => {
                let Role::Connecting { leader: want, kind } = self.role else {
                    return;
                };
                if want != leader {
                    return;
                }
                match result {
                    Ok(sender) => self.become_learner(leader, kind, sender),
                    Err(e) => {
                        warn!("cannot reach leader {leader}: {e}");
                        self.end_role("leader unreachable");
                    }
                }
            }
        }
    }

    fn dial_leader(&mut self, leader: u64, kind: LearnerKind) {
        let (Some(addr), Some(q)) = (self.quorum_addr_of(leader), self.quorum.as_ref()) else {
            warn!("no quorum address for leader {leader}");
            self.start_looking();
            return;
        };
        self.role = Role::Connecting { leader, kind };
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(q.tick_ms * q.init_limit.max(1));
        let (events, peer_tx) = (q.quorum_tx.clone(), q.peer_tx.clone());
        let max_len = 2 * self.cfg.max_buffer + 1024;
        tokio::spawn(async move {
            let result = connect_leader(leader, addr, deadline, peer_tx, max_len).await;
            let _ = events.send(QuorumEvent::LeaderConnected { leader, result });
        });
    }

    fn become_leader(&mut self) {
        self.end_read_only();
        let Some(cfg) = self.zab_config() else { return };
        let Some(q) = self.quorum.as_ref() else {
            return;
        };
        let Some(mut addr) = self.quorum_addr_of(q.my_id) else {
            warn!("no quorum address for ourselves");
            self.start_looking();
            return;
        };
        if q.listen_on_all_ips {
            addr.set_ip(std::net::Ipv4Addr::UNSPECIFIED.into());
        }
        let listener = match std::net::TcpListener::bind(addr).and_then(|l| {
            l.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(l)
        }) {
            Ok(l) => l,
            Err(e) => {
                error!("cannot listen on the quorum port {addr}: {e}");
                self.start_looking();
                return;
            }
        };
        let guard = serve_learners(listener, q.peer_tx.clone(), 2 * self.cfg.max_buffer + 1024);
        let durable = self.durable_state(true);
        let (zab, outs) = Leader::new(cfg, durable, self.now());
        info!("LEADING on {addr}");
        self.role = Role::Leader(Box::new(LeaderRole {
            zab,
            peers: HashMap::new(),
            _guard: guard,
            serving: false,
            serving_since: None,
            syncs: VecDeque::new(),
            barriers: Default::default(),
            reads: Default::default(),
            reconfig: None,
        }));
        self.run_outputs(outs);
    }

    fn become_learner(
        &mut self,
        leader: u64,
        kind: LearnerKind,
        sender: crate::quorum::transport::PeerSender,
    ) {
        self.end_read_only();
        let Some(cfg) = self.zab_config() else { return };
        let durable = self.durable_state(false);
        let (zab, outs) = Learner::new(cfg, kind, leader, &durable, self.now());
        info!("{kind:?} leader {leader}");
        self.role = Role::Learner(Box::new(LearnerRole {
            zab,
            kind,
            leader_sid: leader,
            leader: sender,
            serving: false,
            started: std::time::Instant::now(),
            awaiting_snapshot: None,
            syncs: VecDeque::new(),
            barriers: Default::default(),
        }));
        self.run_outputs(outs);
    }

    /// Leaves the current role: clients are disconnected (their sessions live on), the log
    /// is flushed and replayed into the tree, and a new election starts.
    pub(in crate::server) fn end_role(&mut self, why: &str) {
        self.end_role_then(why, NextRole::Look);
    }

    /// Ends the role, then looks for a leader or, when a reconfig named one, takes the
    /// named role at once (Apache's `reconfigFlag`: no election after a reconfig).
    pub(in crate::server) fn end_role_then(&mut self, why: &str, next: NextRole) {
        if matches!(self.role, Role::Standalone) {
            return;
        }
        info!("leaving role {:?}: {why}", self.role.mode());
        match std::mem::replace(&mut self.role, Role::Looking) {
            Role::Leader(l) => {
                for p in l.peers.values() {
                    p.close_after_queued();
                }
            }
            Role::Learner(l) => l.leader.close_after_queued(),
            _ => {}
        }
        let conns: Vec<_> = self.conns.keys().copied().collect();
        for c in conns {
            self.close_conn(c);
        }
        self.inflight.clear();
        self.queues.clear();
        self.forwarded.clear();
        self.pending = crate::pipeline::pending::PendingChanges::new();
        if let Err(e) = self.reopen_log(None) {
            error!("cannot reopen the transaction log: {e}; exiting");
            std::process::exit(3);
        }
        match next {
            NextRole::Look => self.start_looking(),
            NextRole::Follow(leader, kind) => {
                self.settle_election(leader);
                self.dial_leader(leader, kind);
            }
            NextRole::Lead => {
                let me = self.quorum.as_ref().map_or(0, |q| q.my_id);
                self.settle_election(me);
                self.become_leader();
            }
        }
    }

    /// Tells the election which leader a reconfig named, so LOOKING peers learn it.
    fn settle_election(&self, leader: u64) {
        if let Some(q) = &self.quorum {
            if let Some(e) = &q.election {
                let zxid = self.tree.last_processed_zxid();
                e.settle(leader, zxid, q.current_epoch as i64);
            }
        }
    }

    /// Stops the log thread (committing what it holds), optionally truncates the log,
    /// replays into the tree what the log holds beyond it, and starts a new log thread.
    pub(in crate::server) fn reopen_log(&mut self, truncate_to: Option<i64>) -> Result<(), String> {
        let Some(q) = self.quorum.as_ref() else {
            return Ok(());
        };
        let (log_dir, prealloc, force_sync) = (q.log_dir.clone(), q.prealloc_bytes, q.force_sync);
        tokio::task::block_in_place(|| {
            self.stop_log();
            if let Some(z) = truncate_to {
                storage::txnlog_reader::truncate_log(&log_dir, z).map_err(|e| e.to_string())?;
                // A snapshot newer than the truncation point holds the very txns being taken
                // back: it goes too (Apache's FileTxnSnapLog.truncateLog does the same).
                remove_snapshots_after(&self.cfg.data_dir, z)?;
                self.reload_from_disk()?;
            }
            let after = self.tree.last_processed_zxid();
            let txns =
                storage::txnlog_reader::read_txns(&log_dir, after).map_err(|e| e.to_string())?;
            for t in &txns {
                self.apply_to_state(t);
            }
            if !txns.is_empty() {
                info!("fast-forwarded {} txns from the log", txns.len());
            }
            let writer = storage::txnlog::TxnLogWriter::open(&log_dir, prealloc, force_sync)
                .map_err(|e| e.to_string())?;
            self.spawn_log(writer);
            Ok(())
        })
    }

    /// Rebuilds the tree and sessions from the newest snapshot plus the log.
    fn reload_from_disk(&mut self) -> Result<(), String> {
        let Some(q) = self.quorum.as_ref() else {
            return Ok(());
        };
        let max = 2 * self.cfg.max_buffer;
        let restored = storage::recovery::restore(
            &self.cfg.data_dir,
            &q.log_dir,
            |r| crate::tree::DataTree::deserialize(r, max).map_err(|e| e.to_string()),
            crate::tree::DataTree::new,
            |t, txn| {
                t.apply(txn);
            },
        )
        .map_err(|e| e.to_string())?;
        // A deserialized tree does not know its zxid; without this the fast-forward that
        // follows would replay the whole log (older than the snapshot) on top of it.
        let mut tree = restored.tree;
        tree.set_last_processed_zxid(restored.last_zxid);
        // The data may predate the active config (as at start-up): put it back in place.
        let multi = self.cfg.server_config.multi_address_enabled;
        let held = tree
            .get_data(crate::tree::CONFIG_NODE)
            .and_then(|(d, _)| d)
            .and_then(|d| crate::config::QuorumConfig::parse_text(&d, multi))
            .map(|c| c.version);
        if held.is_none_or(|v| v < q.config_version) {
            tree.init_config_node(&q.config_text, q.config_version as i64);
        }
        self.tree = tree;
        self.reset_sessions(&restored.sessions);
        Ok(())
    }

    /// Installs a snapshot received from the leader: it replaces the tree, the sessions
    /// and the log beyond it, and is written to disk before anything else is logged.
    pub(in crate::server) fn install_snapshot(
        &mut self,
        zxid: i64,
        sessions: Vec<(i64, i32)>,
        tree: crate::tree::DataTree,
    ) {
        info!(
            "loading snapshot 0x{zxid:x} from the leader ({} nodes)",
            tree.node_count()
        );
        let mut tree = tree;
        tree.set_last_processed_zxid(zxid);
        self.tree = tree;
        self.reset_sessions(&sessions);
        let res = tokio::task::block_in_place(|| {
            crate::server::start::write_snapshot(&self.cfg.data_dir, &self.tree, &sessions)
        });
        if let Err(e) = res
            .map_err(|e| e.to_string())
            .and_then(|_| self.reopen_log(Some(zxid)))
        {
            error!("cannot install the leader's snapshot: {e}; exiting");
            std::process::exit(3);
        }
    }

    fn reset_sessions(&mut self, sessions: &[(i64, i32)]) {
        let now = self.now();
        for (id, _) in self.sessions.snapshot() {
            self.sessions.remove(id);
        }
        for &(id, t) in sessions {
            self.sessions.add(id, t, now);
        }
    }
}
