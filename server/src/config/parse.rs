//! Key-by-key interpretation of zoo.cfg (`QuorumPeerConfig.parseProperties`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::error::ConfigError;
use super::jvmflags::parse_system_properties;
use super::properties::Properties;
use super::servers::{QuorumConfig, Role};
use super::whitelist::FourLetterWhitelist;
use super::{read_properties, ServerConfig};

/// Apache's default metrics provider: the same as not configuring one.
const DEFAULT_METRICS_PROVIDER: &str = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";
const PROMETHEUS_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// System properties (after the `zookeeper.` prefix zoo.cfg keys get) that we interpret.
const INTERPRETED_PROPERTIES: &[&str] = &[
    "snapCount",
    "snapSizeLimitInKb",
    "preAllocSize",
    "forceSync",
    "4lw.commands.whitelist",
    "extendedTypesEnabled",
    "DigestAuthenticationProvider.superDigest",
    "globalOutstandingLimit",
    "cnxTimeout",
    "leaderServes",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
    "linearizableReads",
    "digest.enabled",
    "closeSessionTxn.enabled",
    "skipACL",
    "maxCnxns",
    "jute.maxbuffer",
    "readonlymode.enabled",
];

/// Prefixes of Apache system properties we accept without using (no warning for them).
const ACCEPTED_PREFIXES: &[&str] = &[
    "authProvider.",
    "ssl.",
    "admin.",
    "sasl.",
    "kerberos.",
    "learner.",
    "leader.",
    "observer.",
    "observerMaster.",
    "nio.",
    "netty.",
    "request_throttle",
    "connection_throttle",
    "audit.",
    "snapshot.",
    "serverCnxnFactory",
    "clientCnxnSocket",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "electionPortBindRetry",
    "fsync.warningthresholdms",
    "txnLogSizeLimitInKb",
    "commitLogCount",
    "watchManagerName",
    "flushDelay",
    "maxWriteQueuePollTime",
    "maxBatchSize",
    "superUser",
    "X509AuthenticationProvider.superUser",
    "enforceQuota",
    "serializeLastProcessedZxid.enabled",
    "sessionRequireClientSASLAuth",
    "enforce.auth.",
    "messageTracker.",
    "quorum.",
    "jmx.",
    "server.",
    "version",
    "requestStaleConnectionCheck",
    "requestStaleLatencyCheck",
    "largeRequestMaxBytes",
    "largeRequestThreshold",
    "outstandingHandshake.limit",
    "netty.advancedFlowControl.enabled",
];

pub(super) fn from_properties(
    props: &Properties,
    base_dir: &Path,
    env_jvmflags: &[String],
) -> Result<ServerConfig, ConfigError> {
    let mut cfg = ServerConfig::default();
    let mut sys = parse_system_properties(env_jvmflags);
    let mut data_dir: Option<PathBuf> = None;
    let mut data_log_dir: Option<PathBuf> = None;
    let mut min_session: Option<u32> = None;
    let mut max_session: Option<u32> = None;
    let mut multi_address = sys
        .get("zookeeper.multiAddress.enabled")
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(false);
    let has_dynamic_file = props.contains_key("dynamicConfigFile");

    for (raw_key, raw_value) in props.iter() {
        let key = raw_key.trim();
        let value = raw_value.trim();
        match key {
            "dataDir" => data_dir = Some(resolve_path(base_dir, key, value)?),
            "dataLogDir" => data_log_dir = Some(resolve_path(base_dir, key, value)?),
            "clientPort" => {
                cfg.client_port = nonzero(parse_num::<u16>(key, value, "a port number (0-65535)")?)
            }
            "secureClientPort" => {
                cfg.secure_client_port =
                    nonzero(parse_num::<u16>(key, value, "a port number (0-65535)")?)
            }
            "observerMasterPort" => {
                cfg.observer_master_port =
                    nonzero(parse_num::<u16>(key, value, "a port number (0-65535)")?)
            }
            "clientPortAddress" => cfg.client_port_address = Some(value.to_string()),
            "secureClientPortAddress" => cfg.secure_client_port_address = Some(value.to_string()),
            "localSessionsEnabled" => cfg.local_sessions_enabled = parse_bool(key, value)?,
            "localSessionsUpgradingEnabled" => {
                cfg.local_sessions_upgrading_enabled = parse_bool(key, value)?
            }
            "clientPortListenBacklog" => {
                cfg.client_port_listen_backlog = parse_num::<i32>(key, value, "an integer")?
            }
            "tickTime" => {
                let t = parse_num::<u32>(key, value, "a positive integer")?;
                if t == 0 {
                    return Err(ConfigError::invalid_value(key, value, "a positive integer"));
                }
                cfg.tick_time = t;
            }
            "maxClientCnxns" => {
                cfg.max_client_cnxns = parse_num(key, value, "a non-negative integer")?
            }
            "minSessionTimeout" => min_session = parse_timeout(key, value)?,
            "maxSessionTimeout" => max_session = parse_timeout(key, value)?,
            "initLimit" => cfg.init_limit = parse_num(key, value, "a non-negative integer")?,
            "syncLimit" => cfg.sync_limit = parse_num(key, value, "a non-negative integer")?,
            "connectToLearnerMasterLimit" => {
                cfg.connect_to_learner_master_limit =
                    parse_num(key, value, "a non-negative integer")?
            }
            "electionAlg" => {
                let alg = parse_num::<u32>(key, value, "3 (fast leader election)")?;
                if alg != 3 {
                    return Err(ConfigError::invalid_value(
                        key,
                        value,
                        "3 (only fast leader election is supported)",
                    ));
                }
                cfg.election_alg = alg;
            }
            "quorumListenOnAllIPs" => cfg.quorum_listen_on_all_ips = parse_bool(key, value)?,
            "peerType" => cfg.peer_type = Role::parse(key, value)?,
            "syncEnabled" => cfg.sync_enabled = parse_bool(key, value)?,
            "dynamicConfigFile" => {
                cfg.dynamic_config_file = Some(resolve_path(base_dir, key, value)?)
            }
            "autopurge.snapRetainCount" => {
                let n = parse_num::<i64>(key, value, "an integer")?;
                cfg.autopurge_snap_retain_count = if n < 3 {
                    tracing::warn!("invalid autopurge.snapRetainCount {n}; using the minimum, 3");
                    3
                } else {
                    usize::try_from(n)
                        .map_err(|_| ConfigError::invalid_value(key, value, "an integer"))?
                };
            }
            "autopurge.purgeInterval" => {
                // Apache treats any value <= 0 as "off".
                let n = parse_num::<i64>(key, value, "an integer")?;
                cfg.autopurge_purge_interval_hours = u32::try_from(n.max(0))
                    .map_err(|_| ConfigError::invalid_value(key, value, "a number of hours"))?;
            }
            "standaloneEnabled" => cfg.standalone_enabled = parse_bool(key, value)?,
            "reconfigEnabled" => cfg.reconfig_enabled = parse_bool(key, value)?,
            "multiAddress.enabled" => multi_address = parse_bool(key, value)?,
            "multiAddress.reachabilityCheckEnabled" => {
                parse_bool(key, value)?;
            }
            "multiAddress.reachabilityCheckTimeoutMs" | "quorum.cnxn.threads.size" => {
                parse_num::<i32>(key, value, "an integer")?;
            }
            "sslQuorum"
            | "portUnification"
            | "sslQuorumReloadCertFiles"
            | "quorum.auth.enableSasl"
            | "quorum.auth.serverRequireSasl"
            | "quorum.auth.learnerRequireSasl"
            | "jvm.pause.monitor" => {
                parse_bool(key, value)?;
            }
            "quorum.auth.learner.saslLoginContext"
            | "quorum.auth.server.saslLoginContext"
            | "quorum.auth.kerberos.servicePrincipal"
            | "oraclePath" => {}
            "jvm.pause.info-threshold.ms"
            | "jvm.pause.warn-threshold.ms"
            | "jvm.pause.sleep.time.ms" => {
                parse_num::<i64>(key, value, "an integer")?;
            }
            "metricsProvider.className" => {
                cfg.metrics_provider_class = match value {
                    DEFAULT_METRICS_PROVIDER => None,
                    other => {
                        if other != PROMETHEUS_METRICS_PROVIDER {
                            tracing::warn!("unknown metricsProvider.className {other}; serving Prometheus metrics");
                        }
                        Some(other.to_string())
                    }
                };
            }
            "metricsProvider.httpPort" => {
                cfg.metrics_http_port = parse_num(key, value, "a port number (0-65535)")?
            }
            "metricsProvider.httpHost" => cfg.metrics_http_host = value.to_string(),
            "version" => {}
            _ if key.starts_with("metricsProvider.") => {
                cfg.metrics_provider_config.insert(
                    key["metricsProvider.".len()..].to_string(),
                    value.to_string(),
                );
            }
            _ if (key.starts_with("server.")
                || key.starts_with("group")
                || key.starts_with("weight"))
                && has_dynamic_file =>
            {
                return Err(ConfigError::invalid(
                    key,
                    "must be in the separate dynamic config file when dynamicConfigFile is set",
                ));
            }
            _ if key.starts_with("server.")
                || key.starts_with("group")
                || key.starts_with("weight") => {}
            _ => {
                // QuorumPeerConfig turns every other key into a system property.
                sys.insert(format!("zookeeper.{key}"), value.to_string());
                if !is_known_property(key) {
                    tracing::warn!(
                        "unknown configuration key {key}; kept as system property zookeeper.{key}"
                    );
                    cfg.unknown_keys.push(key.to_string());
                }
            }
        }
    }
    cfg.multi_address_enabled = multi_address;

    cfg.data_dir = data_dir.ok_or_else(|| ConfigError::missing("dataDir", ""))?;
    cfg.data_log_dir = data_log_dir.unwrap_or_else(|| cfg.data_dir.clone());
    if cfg.client_port.is_none() && cfg.client_port_address.is_some() {
        return Err(ConfigError::invalid(
            "clientPortAddress",
            "it is set but clientPort is not set",
        ));
    }
    if cfg.secure_client_port.is_none() && cfg.secure_client_port_address.is_some() {
        return Err(ConfigError::invalid(
            "secureClientPortAddress",
            "it is set but secureClientPort is not set",
        ));
    }
    cfg.min_session_timeout = min_session.unwrap_or(cfg.tick_time.saturating_mul(2));
    cfg.max_session_timeout = max_session.unwrap_or(cfg.tick_time.saturating_mul(20));
    if cfg.min_session_timeout > cfg.max_session_timeout {
        return Err(ConfigError::invalid(
            "minSessionTimeout",
            format!(
                "minSessionTimeout ({}) must not be larger than maxSessionTimeout ({})",
                cfg.min_session_timeout, cfg.max_session_timeout
            ),
        ));
    }

    apply_system_properties(&mut cfg, &sys)?;
    cfg.system_properties = sys;

    let quorum = match &cfg.dynamic_config_file {
        Some(path) => {
            let props = read_properties(path)?;
            if props.contains_key("version") {
                return Err(ConfigError::invalid(
                    "version",
                    format!(
                        "{} must not contain a version; it comes from the file name",
                        path.display()
                    ),
                ));
            }
            let mut qc = QuorumConfig::from_properties(&props, true, cfg.multi_address_enabled)?;
            qc.version = version_from_file_name(path).unwrap_or(0);
            qc
        }
        None => QuorumConfig::from_properties(props, false, cfg.multi_address_enabled)?,
    };
    validate_quorum(&cfg, &quorum)?;
    cfg.servers = quorum.servers;
    cfg.config_version = quorum.version;
    Ok(cfg)
}

/// The hex version at the end of a dynamic file name (`zoo.cfg.dynamic.100000000`).
pub(super) fn version_from_file_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let (_, suffix) = name.rsplit_once('.')?;
    u64::from_str_radix(suffix, 16).ok()
}

fn validate_quorum(cfg: &ServerConfig, qc: &QuorumConfig) -> Result<(), ConfigError> {
    let voters = qc.participants().count();
    let observers = qc.servers.len() - voters;
    if voters == 0 {
        if !qc.servers.is_empty() && !cfg.standalone_enabled {
            return Err(ConfigError::invalid(
                "standaloneEnabled",
                "standaloneEnabled=false needs at least one participant server line",
            ));
        }
        if observers > 0 {
            return Err(ConfigError::invalid(
                "server",
                "observers without participants is an invalid configuration",
            ));
        }
    } else if voters == 1 && cfg.standalone_enabled {
        tracing::warn!(
            "only one participant server line; running standalone (standaloneEnabled=true)"
        );
        if observers > 0 {
            return Err(ConfigError::invalid(
                "server",
                "observers without a quorum is an invalid configuration",
            ));
        }
    } else if voters <= 2 {
        tracing::warn!("no server failure will be tolerated; you need at least 3 servers");
    } else if voters.is_multiple_of(2) {
        tracing::warn!("non-optimal configuration: consider an odd number of servers");
    }
    Ok(())
}

fn apply_system_properties(
    cfg: &mut ServerConfig,
    sys: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let get = |k: &str| sys.get(k).map(|v| v.trim());
    if let Some(v) = get("zookeeper.snapCount") {
        let n = parse_num::<u64>("zookeeper.snapCount", v, "a positive integer")?;
        if n < 2 {
            return Err(ConfigError::invalid_value(
                "zookeeper.snapCount",
                v,
                "an integer >= 2",
            ));
        }
        cfg.snap_count = n;
    }
    if let Some(v) = get("zookeeper.snapSizeLimitInKb") {
        cfg.snap_size_limit_kb = parse_num("zookeeper.snapSizeLimitInKb", v, "an integer")?;
    }
    if let Some(v) = get("zookeeper.preAllocSize") {
        cfg.pre_alloc_size_kb = parse_num("zookeeper.preAllocSize", v, "a size in KB")?;
    }
    if let Some(v) = get("zookeeper.forceSync") {
        cfg.force_sync = parse_yes_no("zookeeper.forceSync", v)?;
    }
    if let Some(v) = get("jute.maxbuffer").or_else(|| get("zookeeper.jute.maxbuffer")) {
        let n = parse_num::<usize>("jute.maxbuffer", v, "a positive number of bytes")?;
        if n == 0 {
            return Err(ConfigError::invalid_value(
                "jute.maxbuffer",
                v,
                "a positive number of bytes",
            ));
        }
        cfg.jute_max_buffer = n;
    }
    if let Some(v) = get("zookeeper.extendedTypesEnabled") {
        cfg.extended_types_enabled = parse_yes_no("zookeeper.extendedTypesEnabled", v)?;
    }
    if let Some(v) = get("zookeeper.DigestAuthenticationProvider.superDigest") {
        if !v.contains(':') {
            return Err(ConfigError::invalid_value(
                "zookeeper.DigestAuthenticationProvider.superDigest",
                v,
                "user:base64(sha1(user:password))",
            ));
        }
        cfg.super_digest = Some(v.to_string());
    }
    if let Some(v) = get("readonlymode.enabled").or_else(|| get("zookeeper.readonlymode.enabled")) {
        cfg.read_only_mode = parse_yes_no("readonlymode.enabled", v)?;
    }
    if let Some(v) = get("zookeeper.globalOutstandingLimit") {
        cfg.global_outstanding_limit =
            parse_num("zookeeper.globalOutstandingLimit", v, "a positive integer")?;
    }
    if let Some(v) = get("zookeeper.cnxTimeout") {
        cfg.cnx_timeout_ms = parse_num("zookeeper.cnxTimeout", v, "milliseconds")?;
    }
    if let Some(v) = get("zookeeper.leaderServes") {
        cfg.leader_serves = parse_yes_no("zookeeper.leaderServes", v)?;
    }
    if let Some(v) = get("zookeeper.admin.enableServer") {
        cfg.admin_enable_server = parse_yes_no("zookeeper.admin.enableServer", v)?;
    }
    if let Some(v) = get("zookeeper.admin.serverAddress") {
        cfg.admin_server_address = v.to_string();
    }
    if let Some(v) = get("zookeeper.admin.serverPort") {
        cfg.admin_server_port =
            parse_num("zookeeper.admin.serverPort", v, "a port number (0-65535)")?;
    }
    if let Some(v) = get("zookeeper.admin.commandURL") {
        cfg.admin_command_url = v.to_string();
    }
    if let Some(v) = get("zookeeper.linearizableReads") {
        cfg.linearizable_reads = parse_yes_no("zookeeper.linearizableReads", v)?;
    }
    if let Some(v) = get("zookeeper.digest.enabled") {
        cfg.digest_enabled = parse_yes_no("zookeeper.digest.enabled", v)?;
    }
    if let Some(v) = get("zookeeper.closeSessionTxn.enabled") {
        cfg.close_session_txn_enabled = parse_yes_no("zookeeper.closeSessionTxn.enabled", v)?;
    }
    if let Some(v) = get("zookeeper.skipACL") {
        cfg.skip_acl = parse_yes_no("zookeeper.skipACL", v)?;
    }
    if let Some(v) = get("zookeeper.maxCnxns") {
        cfg.max_cnxns = parse_num("zookeeper.maxCnxns", v, "a non-negative integer")?;
    }
    cfg.four_letter_words = FourLetterWhitelist::from_property(
        get("zookeeper.4lw.commands.whitelist"),
        cfg.read_only_mode,
    );
    Ok(())
}

fn is_known_property(key: &str) -> bool {
    INTERPRETED_PROPERTIES.contains(&key) || ACCEPTED_PREFIXES.iter().any(|p| key.starts_with(p))
}

fn resolve_path(base_dir: &Path, key: &str, value: &str) -> Result<PathBuf, ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::invalid_value(key, value, "a directory path"));
    }
    let p = PathBuf::from(value);
    Ok(if p.is_absolute() { p } else { base_dir.join(p) })
}

fn nonzero(port: u16) -> Option<u16> {
    (port != 0).then_some(port)
}

fn parse_num<T: FromStr>(key: &str, value: &str, expected: &str) -> Result<T, ConfigError> {
    value
        .parse::<T>()
        .map_err(|_| ConfigError::invalid_value(key, value, expected))
}

/// Session timeout bounds: -1 means "use the tickTime-based default".
fn parse_timeout(key: &str, value: &str) -> Result<Option<u32>, ConfigError> {
    let n = parse_num::<i64>(key, value, "milliseconds (or -1 for the default)")?;
    if n == -1 {
        return Ok(None);
    }
    u32::try_from(n)
        .map(Some)
        .map_err(|_| ConfigError::invalid_value(key, value, "milliseconds (or -1 for the default)"))
}

/// QuorumPeerConfig's strict boolean: `true` or `false`, any case.
fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError::invalid_value(key, value, "true or false"))
    }
}

/// System-property booleans: Apache mixes `true/false` and `yes/no` styles; accept both
/// but reject anything else instead of silently reading it as false.
fn parse_yes_no(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        // `-Dreadonlymode.enabled` with no value.
        "" => Ok(false),
        _ => Err(ConfigError::invalid_value(
            key,
            value,
            "true/false or yes/no",
        )),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
