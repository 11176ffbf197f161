//! The reconfig request (opcode 16) as the leader preps it: Apache's PrepRequestProcessor
//! `case OpCode.reconfig`, in the same order and with the same error codes.
//!
//! Order of checks: reconfig disabled (RECONFIGDISABLED), a reconfig already in flight
//! (RECONFIGINPROGRESS), `curConfigId` (BADVERSION), the membership itself (BADARGUMENTS, or
//! MARSHALLINGERROR where Apache hits a runtime exception such as a non-numeric id), the
//! number of voters (BADARGUMENTS), a synced quorum of the new voters (NEWCONFIGNOQUORUM),
//! and last the WRITE permission on /zookeeper/config (NOAUTH). The session check and the
//! "standalone: UNIMPLEMENTED" answer are the caller's, as they are about the server, not the
//! request.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use bytes::{BufMut, Bytes};

use crate::config::{HostPort, Properties, QuorumConfig, Role, ServerSpec};
use crate::proto::codes::ErrorCode;
use crate::proto::jute::{JuteError, JuteReader, JuteWrite};
use crate::proto::txn::SetDataTxn;
use crate::quorum::verifier::QuorumMaj;

/// The path whose data is the config text.
const CONFIG_NODE: &str = "/zookeeper/config";

/// A decoded ReconfigRequest that keeps null apart from "" (Apache branches on null:
/// `newMembers != null` selects the non-incremental mode).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconfigOp {
    /// Comma-separated `server.N=host:qport:eport[:role];[chost:]cport` specs.
    pub joining: Option<String>,
    /// Comma-separated server ids.
    pub leaving: Option<String>,
    /// The whole new membership, `server.N=...` specs separated by commas or newlines.
    pub new_members: Option<String>,
    /// The config version the client expects (hex in zkCli's `-v`); −1 skips the check.
    pub from_config: i64,
}

impl ReconfigOp {
    /// Reads the request body (joiningServers, leavingServers, newMembers, curConfigId).
    pub fn decode(body: Bytes) -> Result<ReconfigOp, JuteError> {
        let mut r = JuteReader::new(body);
        Ok(ReconfigOp {
            joining: r.read_opt_string("joiningServers")?,
            leaving: r.read_opt_string("leavingServers")?,
            new_members: r.read_opt_string("newMembers")?,
            from_config: r.read_i64("curConfigId")?,
        })
    }

    /// The request body as a client sends it (absent lists as null strings).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_opt_ustring(self.joining.as_deref());
        out.put_opt_ustring(self.leaving.as_deref());
        out.put_opt_ustring(self.new_members.as_deref());
        out.put_i64(self.from_config);
        out
    }
}

/// What the leader knows when it preps a reconfig.
#[derive(Debug, Clone, Copy)]
pub struct ReconfigContext<'a> {
    /// `reconfigEnabled` from zoo.cfg.
    pub reconfig_enabled: bool,
    /// `standaloneEnabled`: then a new config needs at least 2 voters, else at least 1.
    pub standalone_enabled: bool,
    /// `multiAddress.enabled`: whether `|`-separated addresses are accepted.
    pub multi_address_enabled: bool,
    /// The committed membership (`QuorumPeer.getQuorumVerifier`).
    pub committed: &'a QuorumConfig,
    /// The newest membership seen, committed or proposed (`getLastSeenQuorumVerifier`);
    /// a version different from `committed` means a reconfig is in flight.
    pub last_seen: &'a QuorumConfig,
    /// The leader itself and every learner that is connected and synced with it
    /// (`Leader.isQuorumSynced` counts these).
    pub synced: &'a BTreeSet<u64>,
    /// The result of the WRITE check on /zookeeper/config's ACL (world:anyone READ), i.e.
    /// true for the super user, under skipACL, or if an operator opened the node's ACL.
    pub may_write_config: bool,
    /// The zxid the reconfig txn gets; it becomes the new config's version.
    pub zxid: u64,
}

/// Why a reconfig was refused; `code()` is what the client gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconfigError {
    #[error("reconfig is disabled (reconfigEnabled=false)")]
    Disabled,
    #[error("another reconfiguration is in progress")]
    InProgress,
    #[error(
        "Reconfiguration from version {requested:x} failed -- last seen version is {last_seen:x}"
    )]
    BadVersion { requested: i64, last_seen: u64 },
    #[error("{0}")]
    BadArguments(String),
    /// Apache fails these with a runtime exception (a non-numeric id, an invalid quorum
    /// shape in a new member list), which the client sees as MARSHALLINGERROR.
    #[error("malformed reconfig request: {0}")]
    Malformed(String),
    #[error("Reconfig failed - there must be a connected and synced quorum in new configuration")]
    NoQuorum,
    #[error("not authorised to write /zookeeper/config")]
    NoAuth,
}

impl ReconfigError {
    /// The ZooKeeper error code for the reply and the error txn.
    pub fn code(&self) -> ErrorCode {
        match self {
            ReconfigError::Disabled => ErrorCode::ReconfigDisabled,
            ReconfigError::InProgress => ErrorCode::ReconfigInProgress,
            ReconfigError::BadVersion { .. } => ErrorCode::BadVersion,
            ReconfigError::BadArguments(_) => ErrorCode::BadArguments,
            ReconfigError::Malformed(_) => ErrorCode::MarshallingError,
            ReconfigError::NoQuorum => ErrorCode::NewConfigNoQuorum,
            ReconfigError::NoAuth => ErrorCode::NoAuth,
        }
    }
}

/// An accepted reconfig: what to propose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconfigProposal {
    /// The new membership, versioned with the txn zxid.
    pub config: QuorumConfig,
    /// Its config text (facts §10), the data of /zookeeper/config and of the reply.
    pub text: String,
    /// The txn body (type 16): a setData of /zookeeper/config with version −1, as Apache
    /// writes it (the node's dataVersion reads −1 after a reconfig).
    pub txn: SetDataTxn,
    /// The new quorum rule, for the dual-quorum commit.
    pub verifier: QuorumMaj,
}

/// Checks a reconfig request and builds the proposal, or says why not.
pub fn prepare_reconfig(
    op: &ReconfigOp,
    ctx: &ReconfigContext<'_>,
) -> Result<ReconfigProposal, ReconfigError> {
    if !ctx.reconfig_enabled {
        return Err(ReconfigError::Disabled);
    }
    if ctx.last_seen.version != ctx.committed.version {
        return Err(ReconfigError::InProgress);
    }
    if op.from_config != -1 && op.from_config as u64 != ctx.last_seen.version {
        return Err(ReconfigError::BadVersion {
            requested: op.from_config,
            last_seen: ctx.last_seen.version,
        });
    }
    let servers = match &op.new_members {
        Some(members) => parse_new_members(members, ctx)?,
        None => apply_incremental(op, ctx)?,
    };
    let voters = servers
        .values()
        .filter(|s| s.role == Role::Participant)
        .count();
    if ctx.standalone_enabled && voters < 2 {
        return Err(ReconfigError::BadArguments(
            "Reconfig failed - new configuration must include at least 2 followers".into(),
        ));
    }
    if voters < 1 {
        return Err(ReconfigError::BadArguments(
            "Reconfig failed - new configuration must include at least 1 follower".into(),
        ));
    }
    let verifier = QuorumMaj::new(&servers, ctx.zxid);
    if !super::commit::quorum_synced(&verifier, ctx.synced) {
        return Err(ReconfigError::NoQuorum);
    }
    if !ctx.may_write_config {
        return Err(ReconfigError::NoAuth);
    }
    let config = QuorumConfig {
        servers,
        version: ctx.zxid,
    };
    let text = config.render();
    let txn = SetDataTxn {
        path: CONFIG_NODE.to_string(),
        data: Some(Bytes::from(text.clone().into_bytes())),
        version: -1,
    };
    Ok(ReconfigProposal {
        config,
        text,
        txn,
        verifier,
    })
}

/// What a server that cannot reconfigure (standalone) answers: RECONFIGDISABLED when
/// reconfig is off, else UNIMPLEMENTED (PrepRequestProcessor checks in that order).
pub fn standalone_reply(reconfig_enabled: bool) -> ErrorCode {
    if reconfig_enabled {
        ErrorCode::Unimplemented
    } else {
        ErrorCode::ReconfigDisabled
    }
}

/// Java's `StringUtils.split`: split, trim, drop empty parts.
fn split_trimmed(s: &str, sep: char) -> impl Iterator<Item = &str> {
    s.split(sep).map(str::trim).filter(|p| !p.is_empty())
}

/// Incremental mode: remove the leavers from the last seen membership, then add (or
/// replace) the joiners, each of which must carry a client address and must not reuse
/// another member's address.
fn apply_incremental(
    op: &ReconfigOp,
    ctx: &ReconfigContext<'_>,
) -> Result<BTreeMap<u64, ServerSpec>, ReconfigError> {
    let mut next = ctx.last_seen.servers.clone();
    if let Some(leaving) = &op.leaving {
        for sid in split_trimmed(leaving, ',') {
            let sid: u64 = sid.parse().map_err(|_| {
                ReconfigError::Malformed(format!("leaving server id '{sid}' is not a number"))
            })?;
            next.remove(&sid);
        }
    }
    if let Some(joining) = &op.joining {
        for joiner in split_trimmed(joining, ',') {
            let parts: Vec<&str> = split_trimmed(joiner, '=').collect();
            let [key, value] = parts.as_slice() else {
                return Err(ReconfigError::BadArguments(
                    "Wrong format of server string".into(),
                ));
            };
            let id_text = key.rsplit_once('.').map_or(*key, |(_, id)| id);
            let sid: u64 = id_text.parse().map_err(|_| {
                ReconfigError::Malformed(format!("server id in '{key}' is not a number"))
            })?;
            let spec = ServerSpec::parse(sid, value, ctx.multi_address_enabled)
                .map_err(|_| ReconfigError::BadArguments("Reconfiguration failed".into()))?;
            if spec.client_addr.is_none() {
                return Err(ReconfigError::BadArguments(
                    "Wrong format of server string - each server should have at least 3 ports \
                     specified"
                        .into(),
                ));
            }
            for other in next.values().filter(|o| o.id != sid) {
                check_address_duplicate(&spec, other)?;
            }
            next.insert(sid, spec);
        }
    }
    Ok(next)
}

/// Non-incremental mode: the list is a dynamic config file's content, commas standing for
/// newlines (`QuorumPeerConfig.parseDynamicConfig` with its quorum-shape checks).
fn parse_new_members(
    members: &str,
    ctx: &ReconfigContext<'_>,
) -> Result<BTreeMap<u64, ServerSpec>, ReconfigError> {
    let text = members.replace(',', "\n");
    let props = Properties::parse(&text).map_err(|e| ReconfigError::BadArguments(e.to_string()))?;
    for (key, _) in props.iter() {
        let key = key.trim();
        if key.starts_with("group") || key.starts_with("weight") {
            return Err(ReconfigError::BadArguments(
                "hierarchical quorums (group/weight) are not supported".into(),
            ));
        }
        if !key.starts_with("server.") && key != "version" {
            return Err(ReconfigError::BadArguments(format!(
                "Unrecognised parameter: {key}"
            )));
        }
    }
    let mut servers = BTreeMap::new();
    for (key, value) in props.iter() {
        let key = key.trim();
        if let Some(id) = key.strip_prefix("server.") {
            let sid: u64 = id.parse().map_err(|_| {
                ReconfigError::Malformed(format!("server id in '{key}' is not a number"))
            })?;
            let spec = ServerSpec::parse(sid, value.trim(), ctx.multi_address_enabled)
                .map_err(|e| ReconfigError::BadArguments(e.to_string()))?;
            servers.insert(sid, spec);
        } else if u64::from_str_radix(value.trim(), 16).is_err() {
            return Err(ReconfigError::Malformed(format!(
                "version '{}' is not a hexadecimal number",
                value.trim()
            )));
        }
    }
    let voters = servers
        .values()
        .filter(|s| s.role == Role::Participant)
        .count();
    let observers = servers.len() - voters;
    if voters == 0 && !ctx.standalone_enabled {
        return Err(ReconfigError::Malformed(
            "standaloneEnabled = false then number of participants should be >0".into(),
        ));
    }
    if voters == 0 && observers > 0 {
        return Err(ReconfigError::Malformed(
            "Observers w/o participants is an invalid configuration".into(),
        ));
    }
    if voters == 1 && ctx.standalone_enabled && observers > 0 {
        return Err(ReconfigError::Malformed(
            "Observers w/o quorum is an invalid configuration".into(),
        ));
    }
    Ok(servers)
}

/// `QuorumServer.checkAddressDuplicate`: no quorum, election or client address of the
/// joiner may equal one of another member's. Wildcard and loopback addresses never
/// conflict (Apache leaves them out so that local test ensembles work).
fn check_address_duplicate(joiner: &ServerSpec, other: &ServerSpec) -> Result<(), ReconfigError> {
    let theirs = comparable_addrs(other);
    for mine in comparable_addrs(joiner) {
        if let Some(clash) = theirs.iter().find(|t| same_addr(&mine, t)) {
            return Err(ReconfigError::BadArguments(format!(
                "{mine} of server.{} conflicts {clash} of server.{}",
                joiner.id, other.id
            )));
        }
    }
    Ok(())
}

fn comparable_addrs(spec: &ServerSpec) -> Vec<HostPort> {
    spec.quorum_addrs
        .iter()
        .chain(spec.client_addr.iter())
        .chain(spec.election_addrs.iter())
        .filter(|a| !is_special_host(&a.host))
        .cloned()
        .collect()
}

fn is_special_host(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_unspecified() || ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Same port and same host: IP literals compare as addresses, names case-insensitively
/// (no DNS here; Apache compares resolved addresses).
fn same_addr(a: &HostPort, b: &HostPort) -> bool {
    if a.port != b.port {
        return false;
    }
    match (a.host.parse::<IpAddr>(), b.host.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.host.eq_ignore_ascii_case(&b.host),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
