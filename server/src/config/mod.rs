//! zoo.cfg, dynamic config files and myid, read as Apache's `QuorumPeerConfig` reads them.
//!
//! The file is `java.util.Properties` text. Keys QuorumPeerConfig knows are parsed into
//! typed fields; any other key `k` becomes the system property `zookeeper.k` (that is how
//! `4lw.commands.whitelist`, `snapCount`, `preAllocSize`... work from zoo.cfg), layered
//! over the `-D` flags of `JVMFLAGS`/`SERVER_JVMFLAGS`. Values are validated here so the
//! rest of the server can trust them.

mod error;
mod jvmflags;
mod myid;
mod parse;
mod properties;
mod servers;
mod whitelist;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use jvmflags::{env_jvmflags, parse_system_properties, JVMFLAGS_VARS};
pub use myid::{read_myid, MYID_FILE};
pub use properties::{decode_latin1, Properties};
pub use servers::{render_config_text, HostPort, QuorumConfig, Role, ServerSpec};
pub use whitelist::FourLetterWhitelist;

/// Suffix of the file holding a proposed (not yet committed) membership.
pub const NEXT_DYNAMIC_SUFFIX: &str = ".dynamic.next";

/// The server's whole configuration, with Apache's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Milliseconds per tick (`tickTime`).
    pub tick_time: u32,
    pub data_dir: PathBuf,
    /// Where txn logs go; defaults to `data_dir`.
    pub data_log_dir: PathBuf,
    /// `clientPort`; `None` when unset or 0 (then the server line's client part is used).
    pub client_port: Option<u16>,
    /// `clientPortAddress`: host name or literal to bind the client port on.
    pub client_port_address: Option<String>,
    pub secure_client_port: Option<u16>,
    pub secure_client_port_address: Option<String>,
    pub observer_master_port: Option<u16>,
    /// Listen backlog; -1 means the OS default.
    pub client_port_listen_backlog: i32,
    /// Per-IP connection limit; 0 means unlimited.
    pub max_client_cnxns: u32,
    /// Total connection limit (`zookeeper.maxCnxns`); 0 means unlimited.
    pub max_cnxns: u32,
    pub min_session_timeout: u32,
    pub max_session_timeout: u32,
    pub snap_count: u64,
    /// Snapshot after this many KB of log; <= 0 disables the size trigger.
    pub snap_size_limit_kb: i64,
    pub autopurge_snap_retain_count: usize,
    /// Hours between purges; 0 turns autopurge off.
    pub autopurge_purge_interval_hours: u32,
    pub pre_alloc_size_kb: u64,
    pub force_sync: bool,
    pub jute_max_buffer: usize,
    pub four_letter_words: FourLetterWhitelist,
    pub standalone_enabled: bool,
    pub extended_types_enabled: bool,
    /// `user:base64(sha1(user:password))` of the super user.
    pub super_digest: Option<String>,
    /// `readonlymode.enabled`.
    pub read_only_mode: bool,
    pub global_outstanding_limit: u32,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub connect_to_learner_master_limit: u32,
    pub election_alg: u32,
    pub quorum_listen_on_all_ips: bool,
    pub cnx_timeout_ms: u32,
    pub leader_serves: bool,
    pub sync_enabled: bool,
    pub peer_type: Role,
    pub multi_address_enabled: bool,
    pub reconfig_enabled: bool,
    pub dynamic_config_file: Option<PathBuf>,
    /// Members from `server.N` lines (zoo.cfg or the dynamic file).
    pub servers: BTreeMap<u64, ServerSpec>,
    /// Version of that membership (from the dynamic file name or `version=`).
    pub config_version: u64,
    /// A proposed membership from `<zoo.cfg>.dynamic.next`, if one is pending.
    pub next_dynamic_config: Option<QuorumConfig>,
    /// This server's id, from dataDir/myid (only `load` reads it).
    pub my_id: Option<u64>,
    /// `metricsProvider.className` when it is not Apache's default provider.
    pub metrics_provider_class: Option<String>,
    pub metrics_http_port: u16,
    pub metrics_http_host: String,
    /// Every other `metricsProvider.*` key, without the prefix.
    pub metrics_provider_config: BTreeMap<String, String>,
    pub admin_enable_server: bool,
    pub admin_server_address: String,
    pub admin_server_port: u16,
    pub admin_command_url: String,
    pub local_sessions_enabled: bool,
    pub local_sessions_upgrading_enabled: bool,
    /// Ours: `linearizableReads` — reads go through the leader like writes.
    pub linearizable_reads: bool,
    pub digest_enabled: bool,
    pub close_session_txn_enabled: bool,
    pub skip_acl: bool,
    /// Effective system properties (`-D` flags overlaid with zoo.cfg's `zookeeper.*` keys).
    pub system_properties: BTreeMap<String, String>,
    /// zoo.cfg keys neither we nor Apache know (kept as system properties, warned about).
    pub unknown_keys: Vec<String>,
    /// The file this came from (empty for `parse_str`).
    pub source_path: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tick_time: 2000,
            data_dir: PathBuf::new(),
            data_log_dir: PathBuf::new(),
            client_port: None,
            client_port_address: None,
            secure_client_port: None,
            secure_client_port_address: None,
            observer_master_port: None,
            client_port_listen_backlog: -1,
            max_client_cnxns: 60,
            max_cnxns: 0,
            min_session_timeout: 4000,
            max_session_timeout: 40000,
            snap_count: 100_000,
            snap_size_limit_kb: 4_194_304,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            pre_alloc_size_kb: 65536,
            force_sync: true,
            jute_max_buffer: 0xfffff,
            four_letter_words: FourLetterWhitelist::default(),
            standalone_enabled: true,
            extended_types_enabled: false,
            super_digest: None,
            read_only_mode: false,
            global_outstanding_limit: 1000,
            init_limit: 0,
            sync_limit: 0,
            connect_to_learner_master_limit: 0,
            election_alg: 3,
            quorum_listen_on_all_ips: false,
            cnx_timeout_ms: 5000,
            leader_serves: true,
            sync_enabled: true,
            peer_type: Role::Participant,
            multi_address_enabled: false,
            reconfig_enabled: false,
            dynamic_config_file: None,
            servers: BTreeMap::new(),
            config_version: 0,
            next_dynamic_config: None,
            my_id: None,
            metrics_provider_class: None,
            metrics_http_port: 7000,
            metrics_http_host: "0.0.0.0".to_string(),
            metrics_provider_config: BTreeMap::new(),
            admin_enable_server: true,
            admin_server_address: "0.0.0.0".to_string(),
            admin_server_port: 8080,
            admin_command_url: "/commands".to_string(),
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            linearizable_reads: false,
            digest_enabled: true,
            close_session_txn_enabled: true,
            skip_acl: false,
            system_properties: BTreeMap::new(),
            unknown_keys: Vec::new(),
            source_path: PathBuf::new(),
        }
    }
}

impl ServerConfig {
    /// Reads zoo.cfg like `QuorumPeerConfig.parse`: the file, `JVMFLAGS`/`SERVER_JVMFLAGS`,
    /// the dynamic config file and `.dynamic.next` if any, and dataDir/myid (required when
    /// the ensemble is distributed). Relative paths are resolved against the file's folder.
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = decode_latin1(&bytes);
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut cfg = ServerConfig::parse_str(&text, base_dir, &env_jvmflags())?;
        cfg.source_path = path.to_path_buf();

        if cfg.dynamic_config_file.is_some() {
            let mut next_name = path.as_os_str().to_owned();
            next_name.push(NEXT_DYNAMIC_SUFFIX);
            let next = PathBuf::from(next_name);
            if next.is_file() {
                let props = read_properties(&next)?;
                cfg.next_dynamic_config = Some(QuorumConfig::from_properties(
                    &props,
                    true,
                    cfg.multi_address_enabled,
                )?);
            }
        }

        if cfg.data_dir.join(MYID_FILE).is_file() {
            cfg.my_id = Some(read_myid(&cfg.data_dir)?);
        }
        cfg.validate_membership()?;
        Ok(cfg)
    }

    /// The testable core of `load`: parses zoo.cfg text. `env_jvmflags` holds the raw
    /// values of `JVMFLAGS`/`SERVER_JVMFLAGS`. Reads the dynamic config file if one is
    /// named, but not myid.
    pub fn parse_str(
        text: &str,
        base_dir: &Path,
        env_jvmflags: &[String],
    ) -> Result<ServerConfig, ConfigError> {
        let props = Properties::parse(text)?;
        parse::from_properties(&props, base_dir, env_jvmflags)
    }

    /// Checks that need myid: the own server line, its client address, its role.
    fn validate_membership(&mut self) -> Result<(), ConfigError> {
        if !self.is_standalone() {
            if self.init_limit == 0 {
                return Err(ConfigError::missing(
                    "initLimit",
                    " (required with server.N lines)",
                ));
            }
            if self.sync_limit == 0 {
                return Err(ConfigError::missing(
                    "syncLimit",
                    " (required with server.N lines)",
                ));
            }
            let Some(id) = self.my_id else {
                return Err(ConfigError::Missing {
                    key: "myid".to_string(),
                    hint: format!(
                        " ({} is missing; it is required with server.N lines)",
                        self.data_dir.join(MYID_FILE).display()
                    ),
                });
            };
            let Some(me) = self.servers.get(&id) else {
                return Err(ConfigError::invalid(
                    "myid",
                    format!("server id {id} has no server.{id} line"),
                ));
            };
            if me.role != self.peer_type {
                tracing::warn!(
                    "peerType {:?} does not match the server list ({:?}); using the server list",
                    self.peer_type,
                    me.role
                );
                self.peer_type = me.role;
            }
            if let (Some(port), Some(client)) = (self.client_port, &me.client_addr) {
                let static_is_any = self
                    .client_port_address
                    .as_deref()
                    .is_none_or(is_wildcard_host);
                let same = if static_is_any {
                    port == client.port
                } else {
                    port == client.port
                        && self.client_port_address.as_deref() == Some(client.host.as_str())
                };
                if !same {
                    return Err(ConfigError::invalid(
                        "clientPort",
                        format!(
                            "client address for server {id} in the static config ({}:{port}) \
                             differs from the one in the server list ({client})",
                            self.client_port_address.as_deref().unwrap_or("0.0.0.0")
                        ),
                    ));
                }
            }
        }
        if self.client_port.is_none() && self.secure_client_port.is_none() {
            let from_line = self
                .my_id
                .and_then(|id| self.servers.get(&id))
                .and_then(|s| s.client_addr.as_ref());
            if from_line.is_none() {
                return Err(ConfigError::missing(
                    "clientPort",
                    " (and this server's server.N line has no client part)",
                ));
            }
        }
        Ok(())
    }

    /// Standalone when there is at most one voting member and standaloneEnabled is true,
    /// or no server lines at all (`!QuorumPeerConfig.isDistributed`).
    pub fn is_standalone(&self) -> bool {
        let voters = self
            .servers
            .values()
            .filter(|s| s.role == Role::Participant)
            .count();
        self.servers.is_empty() || (self.standalone_enabled && voters <= 1)
    }

    /// The client listen address: this server's line's client part if it has one,
    /// else `clientPortAddress:clientPort`, else the wildcard address.
    pub fn client_socket_addr(&self) -> Result<SocketAddr, ConfigError> {
        if let Some(client) = self
            .my_id
            .and_then(|id| self.servers.get(&id))
            .and_then(|s| s.client_addr.as_ref())
        {
            return resolve("server client address", &client.host, client.port);
        }
        let port = self
            .client_port
            .ok_or_else(|| ConfigError::missing("clientPort", ""))?;
        match &self.client_port_address {
            Some(host) => resolve("clientPortAddress", host, port),
            None => Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
        }
    }

    /// This server's own line, when it has one.
    pub fn my_server(&self) -> Option<&ServerSpec> {
        self.my_id.and_then(|id| self.servers.get(&id))
    }

    /// What the `conf` 4lw prints. The sizes and the current membership are runtime facts,
    /// so the caller passes them; `membership` falls back to the configured servers.
    pub fn conf_dump(
        &self,
        data_dir_size: u64,
        data_log_size: u64,
        membership: Option<(&BTreeMap<u64, ServerSpec>, u64)>,
    ) -> String {
        let mut out = String::new();
        let client_port = self
            .client_socket_addr()
            .map(|a| i64::from(a.port()))
            .unwrap_or(-1);
        out.push_str(&format!("clientPort={client_port}\n"));
        let secure = self.secure_client_port.map_or(-1, i64::from);
        out.push_str(&format!("secureClientPort={secure}\n"));
        out.push_str(&format!(
            "dataDir={}\n",
            self.data_dir.join("version-2").display()
        ));
        out.push_str(&format!("dataDirSize={data_dir_size}\n"));
        out.push_str(&format!(
            "dataLogDir={}\n",
            self.data_log_dir.join("version-2").display()
        ));
        out.push_str(&format!("dataLogSize={data_log_size}\n"));
        out.push_str(&format!("tickTime={}\n", self.tick_time));
        out.push_str(&format!("maxClientCnxns={}\n", self.max_client_cnxns));
        out.push_str(&format!("minSessionTimeout={}\n", self.min_session_timeout));
        out.push_str(&format!("maxSessionTimeout={}\n", self.max_session_timeout));
        out.push_str(&format!(
            "clientPortListenBacklog={}\n",
            self.client_port_listen_backlog
        ));
        if self.is_standalone() {
            out.push_str("serverId=0\n");
            return out;
        }
        out.push_str(&format!("serverId={}\n", self.my_id.unwrap_or(0)));
        out.push_str(&format!("initLimit={}\n", self.init_limit));
        out.push_str(&format!("syncLimit={}\n", self.sync_limit));
        out.push_str(&format!("electionAlg={}\n", self.election_alg));
        let me = self.my_server();
        let election = me
            .and_then(|s| s.election_addrs.first())
            .map_or(-1, |a| i64::from(a.port));
        let quorum = me
            .and_then(|s| s.quorum_addrs.first())
            .map_or(-1, |a| i64::from(a.port));
        out.push_str(&format!("electionPort={election}\n"));
        out.push_str(&format!("quorumPort={quorum}\n"));
        out.push_str(&format!("peerType={}\n", self.peer_type.ordinal()));
        out.push_str("membership: \n");
        let (servers, version) = membership.unwrap_or((&self.servers, self.config_version));
        out.push_str(&render_config_text(servers, version));
        out
    }
}

fn is_wildcard_host(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
}

fn resolve(key: &str, host: &str, port: u16) -> Result<SocketAddr, ConfigError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ConfigError::invalid_value(key, host, "a resolvable host name"))
}

pub(crate) fn read_properties(path: &Path) -> Result<Properties, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Properties::parse(&decode_latin1(&bytes))
}
