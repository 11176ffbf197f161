//! The AdminServer's commands (`/commands/<name>`): Apache's names and aliases, answered
//! with the JSON Apache 3.8/3.9 returns, built from a [`ServerInfo`] snapshot.

use serde_json::{json, Map, Value};

use super::mntr::render_mntr;
use super::{FourLetterWord, Mode, ServerInfo};
use crate::config::ServerConfig;

/// A command the AdminServer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Configuration,
    ConnectionStatReset,
    Connections,
    Dirs,
    Dump,
    Environment,
    GetTraceMask,
    IsReadOnly,
    LastSnapshot,
    Leader,
    Monitor,
    Observers,
    Ruok,
    ServerStats,
    StatReset,
    Stats,
    SystemProperties,
    VotingView,
    WatchSummary,
    Watches,
    WatchesByPath,
}

/// Primary names (sorted, as Apache lists them) and aliases.
const TABLE: &[(Command, &str, &[&str])] = &[
    (Command::Configuration, "configuration", &["conf", "config"]),
    (
        Command::ConnectionStatReset,
        "connection_stat_reset",
        &["crst"],
    ),
    (Command::Connections, "connections", &["cons"]),
    (Command::Dirs, "dirs", &[]),
    (Command::Dump, "dump", &[]),
    (Command::Environment, "environment", &["env", "envi"]),
    (Command::GetTraceMask, "get_trace_mask", &["gtmk"]),
    (Command::IsReadOnly, "is_read_only", &["isro"]),
    (Command::LastSnapshot, "last_snapshot", &["lsnp"]),
    (Command::Leader, "leader", &["lead"]),
    (Command::Monitor, "monitor", &["mntr"]),
    (Command::Observers, "observers", &["obsr"]),
    (Command::Ruok, "ruok", &[]),
    (Command::ServerStats, "server_stats", &["srvr"]),
    (Command::StatReset, "stat_reset", &["srst"]),
    (Command::Stats, "stats", &["stat"]),
    (Command::SystemProperties, "system_properties", &["sysp"]),
    (Command::VotingView, "voting_view", &[]),
    (Command::WatchSummary, "watch_summary", &["wchs"]),
    (Command::Watches, "watches", &["wchc"]),
    (Command::WatchesByPath, "watches_by_path", &["wchp"]),
];

/// The answer Apache gives while the server does not serve requests.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

impl Command {
    /// Looks a command up by primary name or alias.
    pub fn lookup(name: &str) -> Option<Command> {
        TABLE
            .iter()
            .find(|(_, n, aliases)| *n == name || aliases.contains(&name))
            .map(|(c, _, _)| *c)
    }

    /// Every primary name, for the `/commands` index.
    pub fn names() -> impl Iterator<Item = &'static str> {
        TABLE.iter().map(|(_, n, _)| *n)
    }

    pub fn name(self) -> &'static str {
        TABLE
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("", |(_, n, _)| n)
    }

    /// The 4-letter word whose data (and counter resets) this command needs from the core.
    pub fn info_word(self) -> FourLetterWord {
        match self {
            Command::Configuration | Command::Dirs => FourLetterWord::Conf,
            Command::ConnectionStatReset => FourLetterWord::Crst,
            Command::Connections => FourLetterWord::Cons,
            Command::Dump => FourLetterWord::Dump,
            Command::Environment | Command::SystemProperties => FourLetterWord::Envi,
            Command::GetTraceMask => FourLetterWord::Gtmk,
            Command::IsReadOnly => FourLetterWord::Isro,
            Command::Monitor => FourLetterWord::Mntr,
            Command::StatReset => FourLetterWord::Srst,
            Command::Stats => FourLetterWord::Stat,
            Command::WatchSummary => FourLetterWord::Wchs,
            Command::Watches => FourLetterWord::Wchc,
            Command::WatchesByPath => FourLetterWord::Wchp,
            Command::LastSnapshot
            | Command::Leader
            | Command::Observers
            | Command::Ruok
            | Command::ServerStats
            | Command::VotingView => FourLetterWord::Srvr,
        }
    }

    /// Whether Apache refuses the command on a server that is not serving.
    fn needs_serving(self) -> bool {
        !matches!(
            self,
            Command::Ruok
                | Command::Environment
                | Command::SystemProperties
                | Command::GetTraceMask
                | Command::IsReadOnly
                | Command::Configuration
                | Command::Leader
        )
    }
}

/// Facts the core does not hold, gathered by the HTTP side.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// Zxid and modification time (seconds since the epoch) of the newest snapshot.
    pub last_snapshot: Option<(i64, i64)>,
    /// System properties (`system_properties`), sorted.
    pub system_properties: Vec<(String, String)>,
}

/// Apache's reply for an unknown command name.
pub fn unknown(name: &str) -> Value {
    json!({ "command": name, "error": format!("Unknown command: {name}") })
}

/// Appends the `command` and `error` keys Apache puts last.
fn finish(mut data: Map<String, Value>, cmd: Command, error: Option<&str>) -> Value {
    data.insert("command".into(), cmd.name().into());
    if !data.contains_key("error") {
        data.insert("error".into(), error.map_or(Value::Null, Value::from));
    }
    Value::Object(data)
}

fn client_response(i: &ServerInfo) -> Value {
    json!({
        "last_buffer_size": i.last_client_response_size,
        "min_buffer_size": i.min_client_response_size,
        "max_buffer_size": i.max_client_response_size,
    })
}

fn server_stats(i: &ServerInfo, conf: &ServerConfig) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("version".into(), i.version.clone().into());
    m.insert("read_only".into(), (i.mode == Mode::ReadOnly).into());
    let stats = json!({
        "packets_sent": i.packets_sent,
        "packets_received": i.packets_received,
        "fsync_threshold_exceed_count": i.counter("fsync_threshold_exceed_count"),
        "client_response_stats": client_response(i),
        "provider_null": false,
        "data_dir_size": i.data_dir_size,
        "log_dir_size": i.data_log_size,
        "server_state": i.mode.as_str(),
        "last_processed_zxid": i.zxid,
        "outstanding_requests": i.outstanding_requests,
        "avg_latency": i.latency_avg,
        "max_latency": i.latency_max,
        "min_latency": i.latency_min,
        "num_alive_client_connections": i.num_alive_connections,
        "uptime": i.uptime_ms,
        "auth_failed_count": i.counter("auth_failed_count"),
        "non_mtlsremote_conn_count": 0,
        "non_mtlslocal_conn_count": 0,
    });
    m.insert("server_stats".into(), stats);
    m.insert("client_response".into(), client_response(i));
    if let (Mode::Leader, Some(l)) = (i.mode, &i.leader) {
        m.insert(
            "proposal_stats".into(),
            json!({
                "last_buffer_size": l.last_proposal_size,
                "min_buffer_size": l.min_proposal_size,
                "max_buffer_size": l.max_proposal_size,
            }),
        );
    }
    m.insert("node_count".into(), i.node_count.into());
    let _ = conf;
    m
}

fn connections(i: &ServerInfo, detailed: bool) -> Value {
    Value::Array(
        i.connections
            .iter()
            .map(|c| {
                let mut m = Map::new();
                m.insert(
                    "remote_socket_address".into(),
                    super::java_socket_addr(&c.remote).into(),
                );
                m.insert("interest_ops".into(), c.interest_ops.into());
                m.insert("outstanding_requests".into(), c.queued.into());
                m.insert("packets_received".into(), c.received.into());
                m.insert("packets_sent".into(), c.sent.into());
                if let (true, Some(s)) = (detailed, &c.session) {
                    m.insert("session_id".into(), s.session_id.into());
                    m.insert("last_operation".into(), s.last_op.clone().into());
                    m.insert("established".into(), s.established_ms.into());
                    m.insert("session_timeout".into(), s.timeout_ms.into());
                    m.insert("last_cxid".into(), s.last_cxid.into());
                    m.insert("last_zxid".into(), s.last_zxid.into());
                    m.insert("last_response_time".into(), s.last_response_ms.into());
                    m.insert("last_latency".into(), s.last_latency.into());
                    m.insert("min_latency".into(), s.min_latency.into());
                    m.insert("avg_latency".into(), s.avg_latency.into());
                    m.insert("max_latency".into(), s.max_latency.into());
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// `observers`: one object per synced observer, with Apache's LearnerHandler keys.
fn observers(i: &ServerInfo) -> Value {
    Value::Array(
        i.observers
            .iter()
            .map(|o| {
                let remote = o
                    .remote
                    .map_or_else(|| "<null>".to_string(), |a| super::java_socket_addr(&a));
                json!({
                    "remote_socket_address": remote,
                    "sid": o.sid,
                    "established": o.established_ms,
                    "queued_packets": o.queued_packets,
                    "queued_packets_size": o.queued_packets_size,
                    "packets_received": o.packets_received,
                    "packets_sent": o.packets_sent,
                    "requests": o.requests,
                    "last_zxid": o.last_zxid,
                })
            })
            .collect(),
    )
}

/// `monitor`: the `mntr` lines as JSON, numbers as numbers, in the same order.
fn monitor(i: &ServerInfo) -> Map<String, Value> {
    let mut m = Map::new();
    for line in render_mntr(i).lines() {
        let Some((k, v)) = line.split_once('\t') else {
            continue;
        };
        let key = k.strip_prefix("zk_").unwrap_or(k).to_string();
        let value = if let Ok(n) = v.parse::<i64>() {
            Value::from(n)
        } else if let Some(f) = v.parse::<f64>().ok().filter(|f| f.is_finite()) {
            Value::from(f)
        } else {
            Value::from(v)
        };
        m.insert(key, value);
    }
    m
}

fn configuration(i: &ServerInfo, conf: &ServerConfig) -> Map<String, Value> {
    let mut m = Map::new();
    let client_port = conf
        .client_socket_addr()
        .map(|a| i64::from(a.port()))
        .unwrap_or(-1);
    m.insert("client_port".into(), client_port.into());
    if let Some(p) = conf.secure_client_port {
        m.insert("secure_client_port".into(), p.into());
    }
    m.insert(
        "data_dir".into(),
        conf.data_dir.join("version-2").display().to_string().into(),
    );
    m.insert(
        "data_log_dir".into(),
        conf.data_log_dir
            .join("version-2")
            .display()
            .to_string()
            .into(),
    );
    m.insert("tick_time".into(), conf.tick_time.into());
    m.insert("max_client_cnxns".into(), conf.max_client_cnxns.into());
    m.insert(
        "min_session_timeout".into(),
        conf.min_session_timeout.into(),
    );
    m.insert(
        "max_session_timeout".into(),
        conf.max_session_timeout.into(),
    );
    m.insert("server_id".into(), i.server_id.into());
    m.insert(
        "client_port_listen_backlog".into(),
        conf.client_port_listen_backlog.into(),
    );
    if !conf.is_standalone() {
        m.insert("init_limit".into(), conf.init_limit.into());
        m.insert("sync_limit".into(), conf.sync_limit.into());
        m.insert("election_alg".into(), conf.election_alg.into());
        m.insert("voting_view".into(), voting_view(i));
    }
    m
}

/// `voting_view`'s `current_config`: voting members as `server.N` lines print them.
fn voting_view(i: &ServerInfo) -> Value {
    let mut m = Map::new();
    if let Some((servers, _)) = &i.membership {
        for (sid, spec) in servers {
            m.insert(sid.to_string(), spec.render_value().into());
        }
    }
    Value::Object(m)
}

fn string_keyed<K: ToString, V: Clone + Into<Value>>(items: &[(K, Vec<V>)]) -> Value {
    let mut m = Map::new();
    for (k, v) in items {
        m.insert(
            k.to_string(),
            Value::Array(v.iter().cloned().map(Into::into).collect()),
        );
    }
    Value::Object(m)
}

/// Answers `cmd` from `info` (gathered for `cmd.info_word()`).
pub fn respond(cmd: Command, info: &ServerInfo, conf: &ServerConfig, extra: &Extra) -> Value {
    if cmd.needs_serving() && !info.serving {
        return finish(Map::new(), cmd, Some(NOT_SERVING));
    }
    let mut m = Map::new();
    match cmd {
        Command::Ruok | Command::ConnectionStatReset | Command::StatReset => {}
        Command::ServerStats => m = server_stats(info, conf),
        Command::Stats => {
            m = server_stats(info, conf);
            m.insert("connections".into(), connections(info, false));
            m.insert("secure_connections".into(), json!([]));
        }
        Command::Connections => {
            m.insert("connections".into(), connections(info, true));
            m.insert("secure_connections".into(), json!([]));
        }
        Command::Configuration => m = configuration(info, conf),
        Command::Dirs => {
            m.insert("datadir_size".into(), info.data_dir_size.into());
            m.insert("logdir_size".into(), info.data_log_size.into());
        }
        Command::Dump => {
            let mut expiry = Map::new();
            if let super::SessionTrackerDump::Buckets(buckets) = &info.session_tracker {
                for b in buckets {
                    expiry.insert(b.expire_at_ms.to_string(), json!(b.items));
                }
            }
            m.insert("expiry_time_to_session_ids".into(), Value::Object(expiry));
            m.insert(
                "session_id_to_ephemeral_paths".into(),
                string_keyed(&info.sessions_with_ephemerals),
            );
        }
        Command::Environment => {
            for (k, v) in &info.environment {
                m.insert(k.clone(), v.clone().into());
            }
        }
        Command::SystemProperties => {
            for (k, v) in &extra.system_properties {
                m.insert(k.clone(), v.clone().into());
            }
        }
        Command::GetTraceMask => {
            m.insert("tracemask".into(), info.trace_mask.into());
        }
        Command::IsReadOnly => {
            m.insert("read_only".into(), (info.mode == Mode::ReadOnly).into());
        }
        Command::LastSnapshot => {
            let (zxid, ts) = extra.last_snapshot.unwrap_or((0, 0));
            m.insert("zxid".into(), format!("{zxid:x}").into());
            m.insert("timestamp".into(), ts.into());
        }
        Command::Leader => match info.mode {
            Mode::Leader | Mode::Follower | Mode::Observer => {
                let leader_id = info.leader_id.unwrap_or(0);
                m.insert("is_leader".into(), (info.mode == Mode::Leader).into());
                m.insert("leader_id".into(), leader_id.into());
                let addr = info
                    .membership
                    .as_ref()
                    .and_then(|(s, _)| s.get(&leader_id))
                    .and_then(|s| s.quorum_addrs.first())
                    .map(|h| h.host.clone())
                    .unwrap_or_default();
                m.insert("leader_ip".into(), addr.into());
            }
            _ => {
                m.insert("error".into(), "server is not initialized".into());
            }
        },
        Command::Monitor => m = monitor(info),
        Command::Observers => {
            // Only a leader has observers here: followers serve none (no observerMaster).
            m.insert("synced_observers".into(), info.observers.len().into());
            m.insert("observers".into(), observers(info));
        }
        Command::VotingView => {
            m.insert("current_config".into(), voting_view(info));
        }
        Command::WatchSummary => {
            let total: usize = info.watches_by_path.iter().map(|(_, s)| s.len()).sum();
            m.insert(
                "num_connections".into(),
                info.watches_by_session.len().into(),
            );
            m.insert("num_paths".into(), info.watches_by_path.len().into());
            m.insert("num_total_watches".into(), total.into());
        }
        Command::Watches => {
            m.insert(
                "session_id_to_watched_paths".into(),
                string_keyed(&info.watches_by_session),
            );
        }
        Command::WatchesByPath => {
            m.insert(
                "path_to_session_ids".into(),
                string_keyed(&info.watches_by_path),
            );
        }
    }
    finish(m, cmd, None)
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;
