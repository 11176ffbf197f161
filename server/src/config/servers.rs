//! `server.N` lines and the config text of facts §10.
//!
//! Grammar: `host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`,
//! with `|` between several quorum addresses (multiAddress.enabled). IPv6 hosts are
//! written in brackets and stored without them.

use std::collections::BTreeMap;
use std::fmt;

use super::error::ConfigError;
use super::properties::Properties;

/// A host (name or literal, IPv6 without brackets) and a port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        HostPort {
            host: host.into(),
            port,
        }
    }

    /// The host as written in config text: IPv6 literals get brackets back.
    pub fn delimited_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.delimited_host(), self.port)
    }
}

/// Voting member or observer (`LearnerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    #[default]
    Participant,
    Observer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Participant => "participant",
            Role::Observer => "observer",
        }
    }

    /// Apache's enum ordinal, printed by `conf` as `peerType=`.
    pub fn ordinal(self) -> u8 {
        match self {
            Role::Participant => 0,
            Role::Observer => 1,
        }
    }

    pub(crate) fn parse(key: &str, value: &str) -> Result<Role, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "participant" => Ok(Role::Participant),
            "observer" => Ok(Role::Observer),
            _ => Err(ConfigError::invalid_value(
                key,
                value,
                "'participant' or 'observer'",
            )),
        }
    }
}

/// One member of the ensemble, from a `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub id: u64,
    /// Quorum (follower-to-leader) addresses, one per `|`-separated part.
    pub quorum_addrs: Vec<HostPort>,
    /// Election addresses, parallel to `quorum_addrs`.
    pub election_addrs: Vec<HostPort>,
    pub role: Role,
    /// Client address given after `;` (host defaults to 0.0.0.0 when only a port is given).
    pub client_addr: Option<HostPort>,
}

impl ServerSpec {
    /// Parses the value of `server.<id>`.
    pub fn parse(
        id: u64,
        value: &str,
        multi_address_enabled: bool,
    ) -> Result<ServerSpec, ConfigError> {
        let key = format!("server.{id}");
        let bad = |reason: &str| ConfigError::invalid_value(&key, value, reason);
        const FORM: &str = "server_config or server_config;client_config where server_config is \
             the pipe separated list of host:port:port or host:port:port:type and client_config \
             is port or host:port";

        let parts: Vec<&str> = value.split(';').collect();
        if parts.len() > 2 {
            return Err(bad(FORM));
        }
        let client_addr = match parts.get(1) {
            Some(client) => {
                let fields = host_and_port(client.trim()).map_err(|r| bad(&r))?;
                let (host, port): (String, &String) = match fields.as_slice() {
                    [port] => ("0.0.0.0".to_string(), port),
                    [host, port] => (host.clone(), port),
                    _ => return Err(bad(FORM)),
                };
                Some(HostPort::new(host, parse_port(&key, value, port)?))
            }
            None => None,
        };

        let addresses: Vec<&str> = parts[0].split('|').collect();
        if addresses.len() > 1 && !multi_address_enabled {
            return Err(bad(
                "a single address (multiple addresses need multiAddress.enabled=true)",
            ));
        }
        let mut spec = ServerSpec {
            id,
            quorum_addrs: Vec::new(),
            election_addrs: Vec::new(),
            role: Role::Participant,
            client_addr,
        };
        let mut role: Option<Role> = None;
        for address in addresses {
            let fields = host_and_port(address.trim()).map_err(|r| bad(&r))?;
            if !(3..=4).contains(&fields.len()) {
                return Err(bad(FORM));
            }
            let host = fields[0].clone();
            if host.is_empty() {
                return Err(bad("a host name before the quorum port"));
            }
            let quorum = parse_port(&key, value, &fields[1])?;
            let election = parse_port(&key, value, &fields[2])?;
            if quorum == election {
                return Err(bad("different quorum and election ports"));
            }
            if let Some(t) = fields.get(3) {
                let this = Role::parse(&key, t)?;
                if role.is_some_and(|r| r != this) {
                    return Err(bad("the same role for every address"));
                }
                role = Some(this);
            }
            spec.quorum_addrs.push(HostPort::new(host.clone(), quorum));
            spec.election_addrs.push(HostPort::new(host, election));
        }
        spec.role = role.unwrap_or_default();
        Ok(spec)
    }

    /// The value part of this server's line in config text (`QuorumServer.toString`).
    pub fn render_value(&self) -> String {
        let mut quorum = self.quorum_addrs.clone();
        let mut election = self.election_addrs.clone();
        quorum.sort_by(|a, b| a.host.cmp(&b.host));
        election.sort_by(|a, b| a.host.cmp(&b.host));
        let mut out = quorum
            .iter()
            .zip(election.iter())
            .map(|(q, e)| format!("{}:{}:{}", q.delimited_host(), q.port, e.port))
            .collect::<Vec<_>>()
            .join("|");
        out.push(':');
        out.push_str(self.role.as_str());
        if let Some(client) = &self.client_addr {
            out.push(';');
            out.push_str(&client.to_string());
        }
        out
    }
}

/// A membership: the servers and the config version (zxid of the reconfig that made it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumConfig {
    pub servers: BTreeMap<u64, ServerSpec>,
    pub version: u64,
}

impl QuorumConfig {
    /// Reads `server.N` lines and `version` from properties (dynamic file or zoo.cfg).
    /// With `strict`, any other key is an error, as in a dynamic config file.
    pub fn from_properties(
        props: &Properties,
        strict: bool,
        multi_address_enabled: bool,
    ) -> Result<QuorumConfig, ConfigError> {
        let mut qc = QuorumConfig::default();
        for (key, value) in props.iter() {
            let key = key.trim();
            let value = value.trim();
            if let Some(id) = key.strip_prefix("server.") {
                let id: u64 = id.parse().map_err(|_| {
                    ConfigError::invalid(key, "the server id after 'server.' must be a number")
                })?;
                qc.servers
                    .insert(id, ServerSpec::parse(id, value, multi_address_enabled)?);
            } else if key == "version" {
                qc.version = u64::from_str_radix(value, 16)
                    .map_err(|_| ConfigError::invalid_value(key, value, "a hexadecimal number"))?;
            } else if key.starts_with("group") || key.starts_with("weight") {
                return Err(ConfigError::invalid(
                    key,
                    "hierarchical quorums (group/weight) are not supported",
                ));
            } else if strict {
                return Err(ConfigError::invalid(
                    key,
                    "unrecognised parameter in a dynamic config file (only server.N and version)",
                ));
            }
        }
        Ok(qc)
    }

    /// Parses config text as /zookeeper/config and election notifications carry it
    /// (`server.N=...` lines and `version=<hex>`); `None` when it is not such text or names
    /// no server (a standalone server's empty node).
    pub fn parse_text(text: &[u8], multi_address_enabled: bool) -> Option<QuorumConfig> {
        let text = std::str::from_utf8(text).ok()?;
        let props = Properties::parse(text).ok()?;
        QuorumConfig::from_properties(&props, true, multi_address_enabled)
            .ok()
            .filter(|c| !c.servers.is_empty())
    }

    /// Voting members.
    pub fn participants(&self) -> impl Iterator<Item = &ServerSpec> {
        self.servers
            .values()
            .filter(|s| s.role == Role::Participant)
    }

    /// Config text as stored in /zookeeper/config (facts §10).
    pub fn render(&self) -> String {
        render_config_text(&self.servers, self.version)
    }
}

/// Renders config text: one `server.N=...` line per member, each ending in "\n",
/// then `version=<hex>` without a trailing newline.
pub fn render_config_text(servers: &BTreeMap<u64, ServerSpec>, version: u64) -> String {
    let mut out = String::new();
    for (id, spec) in servers {
        out.push_str(&format!("server.{id}={}\n", spec.render_value()));
    }
    out.push_str(&format!("version={version:x}"));
    out
}

/// Splits `host:port[:...]`, honouring `[ipv6]` brackets (`ConfigUtils.getHostAndPort`).
fn host_and_port(s: &str) -> Result<Vec<String>, String> {
    if let Some(rest) = s.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| "an IPv6 address closed by ']'".to_string())?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        let mut out = vec![host.to_string()];
        if after.is_empty() {
            return Ok(out);
        }
        let tail = after
            .strip_prefix(':')
            .ok_or_else(|| "':' after the closing ']' of an IPv6 address".to_string())?;
        out.extend(tail.split(':').map(str::to_string));
        Ok(out)
    } else {
        Ok(s.split(':').map(str::to_string).collect())
    }
}

fn parse_port(key: &str, value: &str, port: &str) -> Result<u16, ConfigError> {
    port.trim().parse::<u16>().map_err(|_| {
        ConfigError::invalid_value(
            key,
            value,
            &format!("a port number (0-65535), not '{port}'"),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn config_text_round_trips_and_empty_text_is_no_config() {
        let text = b"server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=100000002";
        let c = QuorumConfig::parse_text(text, false).expect("parses");
        assert_eq!(c.version, 0x1_0000_0002);
        assert_eq!(c.render().as_bytes(), &text[..]);
        assert_eq!(QuorumConfig::parse_text(b"", false), None);
        assert_eq!(QuorumConfig::parse_text(b"version=0", false), None);
        assert_eq!(QuorumConfig::parse_text(b"bogus=1", false), None);
    }

    #[test]
    fn basic_line() {
        let s = ServerSpec::parse(1, "zk1:2888:3888", false).unwrap();
        assert_eq!(s.quorum_addrs, vec![HostPort::new("zk1", 2888)]);
        assert_eq!(s.election_addrs, vec![HostPort::new("zk1", 3888)]);
        assert_eq!(s.role, Role::Participant);
        assert_eq!(s.client_addr, None);
        assert_eq!(s.render_value(), "zk1:2888:3888:participant");
    }

    #[test]
    fn observer_and_client_port_only() {
        let s = ServerSpec::parse(4, "zk4:2888:3888:observer;2181", false).unwrap();
        assert_eq!(s.role, Role::Observer);
        assert_eq!(s.client_addr, Some(HostPort::new("0.0.0.0", 2181)));
        assert_eq!(s.render_value(), "zk4:2888:3888:observer;0.0.0.0:2181");
    }

    #[test]
    fn client_host_and_port_and_role_case() {
        let s =
            ServerSpec::parse(2, "10.0.0.2:2888:3888:PARTICIPANT;10.0.0.2:2181", false).unwrap();
        assert_eq!(s.role, Role::Participant);
        assert_eq!(s.client_addr, Some(HostPort::new("10.0.0.2", 2181)));
    }

    #[test]
    fn ipv6_in_brackets() {
        let s = ServerSpec::parse(3, "[::1]:2888:3888:participant;[::1]:2181", false).unwrap();
        assert_eq!(s.quorum_addrs[0].host, "::1");
        assert_eq!(s.client_addr, Some(HostPort::new("::1", 2181)));
        assert_eq!(s.render_value(), "[::1]:2888:3888:participant;[::1]:2181");
        assert!(ServerSpec::parse(3, "[::1:2888:3888", false).is_err());
    }

    #[test]
    fn multiple_addresses() {
        let v = "b.example:2888:3888|a.example:2889:3889";
        let err = ServerSpec::parse(1, v, false).unwrap_err().to_string();
        assert!(
            err.contains("server.1") && err.contains("multiAddress.enabled"),
            "{err}"
        );
        let s = ServerSpec::parse(1, v, true).unwrap();
        assert_eq!(s.quorum_addrs.len(), 2);
        assert_eq!(
            s.render_value(),
            "a.example:2889:3889|b.example:2888:3888:participant"
        );
        let mixed = "a:1:2:observer|b:1:2:participant";
        assert!(ServerSpec::parse(1, mixed, true).is_err());
    }

    #[test]
    fn errors_name_the_key_and_value() {
        for bad in [
            "zk1:2888",
            "zk1:2888:3888:participant:x",
            "zk1:abc:3888",
            "zk1:2888:2888",
            "zk1:2888:3888:leader",
            "zk1:2888:3888;a:b:c",
            "zk1:2888:3888;1;2",
            "zk1:2888:99999",
        ] {
            let err = ServerSpec::parse(7, bad, false).unwrap_err().to_string();
            assert!(err.contains("server.7"), "{bad}: {err}");
        }
    }

    #[test]
    fn quorum_config_from_dynamic_properties() {
        let props = Properties::parse(
            "server.1=a:2888:3888:participant;2181\nserver.2=b:2888:3888:observer\nversion=100000000\n",
        )
        .unwrap();
        let qc = QuorumConfig::from_properties(&props, true, false).unwrap();
        assert_eq!(qc.version, 0x1_0000_0000);
        assert_eq!(qc.participants().count(), 1);
        assert_eq!(
            qc.render(),
            "server.1=a:2888:3888:participant;0.0.0.0:2181\nserver.2=b:2888:3888:observer\nversion=100000000"
        );
        let props = Properties::parse("server.1=a:1:2\ntickTime=3\n").unwrap();
        let err = QuorumConfig::from_properties(&props, true, false).unwrap_err();
        assert!(err.to_string().contains("tickTime"));
        let props = Properties::parse("server.x=a:1:2\n").unwrap();
        assert!(QuorumConfig::from_properties(&props, false, false).is_err());
    }

    #[test]
    fn render_matches_apache_conf_membership() {
        // Captured from Apache 3.8 `conf` with server.1 without client part, server.2 with.
        let mut servers = BTreeMap::new();
        servers.insert(
            1,
            ServerSpec::parse(1, "127.0.0.1:22881:23881", false).unwrap(),
        );
        servers.insert(
            2,
            ServerSpec::parse(2, "127.0.0.1:22882:23882;127.0.0.1:21922", false).unwrap(),
        );
        assert_eq!(
            render_config_text(&servers, 0),
            "server.1=127.0.0.1:22881:23881:participant\nserver.2=127.0.0.1:22882:23882:participant;127.0.0.1:21922\nversion=0"
        );
    }
}
