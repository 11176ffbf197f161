//! The core's side of the 4-letter words: whitelist, counter resets, and a snapshot of the
//! server's state for the renderer in [`crate::admin`].

use crate::admin::{
    environment, not_whitelisted, render, ConnectionInfo, ExpiryBucket, FourLetterWord,
    ObserverInfo, ServerInfo, SessionConnInfo, SessionTrackerDump, VERSION_STRING,
};

use super::core::{wall_ms, Core};

/// Bytes used by the files directly in `dir/version-2` (what `dirs` reports).
fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join("version-2"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

fn max_fds() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

impl Core {
    /// Answers `cmd` asked on a connection from `asker`, which Apache counts among the live
    /// connections and lists (without a session) in `cons` and `stat`.
    pub(super) fn four_letter(
        &mut self,
        cmd: FourLetterWord,
        asker: std::net::SocketAddr,
    ) -> String {
        let conf = self.cfg.server_config.clone();
        if cmd != FourLetterWord::TelnetClose && !conf.four_letter_words.allows(cmd.name()) {
            return not_whitelisted(cmd.name());
        }
        self.reset_for(cmd);
        let info = self.server_info(cmd, Some(asker));
        render(cmd, &info, &conf)
    }

    /// The AdminServer's view: like a 4-letter word, minus the asking connection.
    pub(super) fn admin_info(&mut self, cmd: FourLetterWord) -> ServerInfo {
        self.reset_for(cmd);
        self.server_info(cmd, None)
    }

    /// `srst`/`crst` reset counters before answering (`srst` also the leader's proposal
    /// sizes, as Apache's does; the registry's counters and summaries stay monotonic, for
    /// Prometheus).
    fn reset_for(&mut self, cmd: FourLetterWord) {
        match cmd {
            FourLetterWord::Srst => {
                self.stats.reset();
                if let super::ensemble::Role::Leader(l) = &mut self.role {
                    l.zab.reset_proposal_sizes();
                }
            }
            FourLetterWord::Crst => {
                for c in self.conns.values_mut() {
                    c.stats.reset();
                }
            }
            _ => {}
        }
    }

    /// Leader: the synced observers with their connection's counters.
    fn observer_links(&self) -> Vec<ObserverInfo> {
        let super::ensemble::Role::Leader(l) = &self.role else {
            return Vec::new();
        };
        l.zab
            .synced_observers()
            .filter_map(|sid| {
                let s = l.peers.get(&sid)?.stats();
                Some(ObserverInfo {
                    sid,
                    remote: s.remote,
                    established_ms: s.established_ms,
                    queued_packets: s.queued_packets,
                    queued_packets_size: s.queued_bytes,
                    packets_received: s.packets_received,
                    packets_sent: s.packets_sent,
                    requests: s.requests,
                    last_zxid: s.last_zxid,
                })
            })
            .collect()
    }

    fn server_info(&self, cmd: FourLetterWord, asker: Option<std::net::SocketAddr>) -> ServerInfo {
        let conf = &self.cfg.server_config;
        let lat = &self.stats.latency;
        let mut info = ServerInfo {
            version: VERSION_STRING.to_string(),
            serving: self.role.serving() || self.read_only_mode(),
            mode: if self.read_only_mode() {
                crate::admin::Mode::ReadOnly
            } else {
                self.role.mode()
            },
            peer_state: self.role.peer_state().to_string(),
            server_id: self.cfg.server_id,
            latency_min: lat.min(),
            latency_avg: lat.avg(),
            latency_max: lat.max,
            packets_received: self.stats.packets_received,
            packets_sent: self.stats.packets_sent,
            num_alive_connections: self.conns.len() as u64 + u64::from(asker.is_some()),
            outstanding_requests: self.inflight.len() as u64,
            zxid: self.tree.last_processed_zxid(),
            // Apache counts the root twice (as "/" and as its "" alias).
            node_count: self.tree.node_count() as u64 + 1,
            watch_count: self.watches.count() as u64,
            ephemerals_count: self.tree.ephemeral_count() as u64,
            approximate_data_size: self.tree.approximate_data_size(),
            open_file_descriptor_count: open_fds(),
            max_file_descriptor_count: max_fds(),
            uptime_ms: self.stats.started.elapsed().as_millis() as u64,
            global_sessions: self.sessions.len() as u64,
            quorum_size: self.quorum.as_ref().map_or(0, |q| {
                q.servers
                    .values()
                    .filter(|s| s.role == crate::config::Role::Participant)
                    .count() as u64
            }),
            membership: self
                .quorum
                .as_ref()
                .map(|q| (q.servers.clone(), q.config_version)),
            leader_id: match &self.role {
                super::ensemble::Role::Leader(_) => self.quorum.as_ref().map(|q| q.my_id),
                super::ensemble::Role::Learner(l) => Some(l.leader_sid),
                _ => None,
            },
            last_client_response_size: self.stats.client_responses.last,
            min_client_response_size: self.stats.client_responses.min,
            max_client_response_size: self.stats.client_responses.max,
            leader: match &self.role {
                super::ensemble::Role::Leader(l) => {
                    let (voters, observers, syncing) = l.zab.learner_counts();
                    let sizes = l.zab.proposal_sizes();
                    Some(crate::admin::LeaderStats {
                        learners: (voters + observers + syncing) as u64,
                        synced_followers: voters as u64,
                        synced_observers: observers as u64,
                        pending_syncs: syncing as u64,
                        last_proposal_size: sizes.last,
                        min_proposal_size: sizes.min,
                        max_proposal_size: sizes.max,
                        leader_uptime_ms: l
                            .serving_since
                            .map_or(0, |t| t.elapsed().as_millis() as u64),
                        ..Default::default()
                    })
                }
                _ => None,
            },
            observers: self.observer_links(),
            ..Default::default()
        };
        if matches!(cmd, FourLetterWord::Cons | FourLetterWord::Stat) {
            info.connections = self
                .conns
                .values()
                .map(|c| ConnectionInfo {
                    remote: c.remote,
                    interest_ops: 1,
                    queued: 0,
                    received: c.stats.packets_received,
                    sent: c.stats.packets_sent,
                    session: (c.session != 0).then(|| SessionConnInfo {
                        session_id: c.session,
                        last_op: c.stats.last_op.to_string(),
                        established_ms: c.stats.established_wall_ms,
                        timeout_ms: self.sessions.get(c.session).map_or(0, |s| s.timeout_ms),
                        last_cxid: c.stats.last_cxid as i64,
                        last_zxid: c.stats.last_zxid,
                        last_response_ms: c.stats.last_response_wall_ms,
                        last_latency: c.stats.last_latency,
                        min_latency: c.stats.latency.min(),
                        avg_latency: c.stats.latency.avg() as u64,
                        max_latency: c.stats.latency.max,
                    }),
                })
                .collect();
        }
        if let (FourLetterWord::Cons | FourLetterWord::Stat, Some(asker)) = (cmd, asker) {
            // The asking connection: read one packet (the word), no session, being written.
            info.connections.push(ConnectionInfo {
                remote: asker,
                interest_ops: 0,
                queued: 0,
                received: 1,
                sent: 0,
                session: None,
            });
        }
        if cmd == FourLetterWord::Dump {
            let mut buckets: std::collections::BTreeMap<u64, Vec<i64>> = Default::default();
            for (id, _) in self.sessions.snapshot() {
                if let Some(s) = self.sessions.get(id) {
                    buckets.entry(s.expires_at).or_default().push(id);
                }
            }
            let origin = wall_ms() - self.now() as i64;
            info.session_tracker = SessionTrackerDump::Buckets(
                buckets
                    .into_iter()
                    .map(|(at, items)| ExpiryBucket {
                        expire_at_ms: origin + at as i64,
                        items,
                    })
                    .collect(),
            );
            info.sessions_with_ephemerals = self
                .tree
                .sessions_with_ephemerals()
                .into_iter()
                .map(|s| (s, self.tree.ephemerals_of(s)))
                .collect();
        }
        if matches!(cmd, FourLetterWord::Wchc | FourLetterWord::Wchs) {
            info.watches_by_session = self.watches.data_by_session().into_iter().collect();
        }
        if matches!(cmd, FourLetterWord::Wchp | FourLetterWord::Wchs) {
            info.watches_by_path = self.watches.data_by_path().into_iter().collect();
        }
        if matches!(
            cmd,
            FourLetterWord::Dirs | FourLetterWord::Conf | FourLetterWord::Mntr
        ) {
            info.data_dir_size = dir_size(&conf.data_dir);
            info.data_log_size = dir_size(&conf.data_log_dir);
        }
        if cmd == FourLetterWord::Mntr {
            let values = crate::metrics::metrics().mntr_values();
            info.counters = values.counters;
            info.summaries = values.summaries;
        }
        if cmd == FourLetterWord::Envi {
            info.environment = environment(VERSION_STRING);
        }
        info
    }
}
