//! `zkserver reconfig`: zkCli's `reconfig` command for operators, plus the library call
//! behind it. Options as zkCli spells them (one dash; two dashes are accepted too):
//!
//! `[-s] [-v hexVersion] [-file path | -members list | [-add list] [-remove ids]]`
//! `[-server host:port[,host:port...]] [--auth scheme:credentials ...]`
//!
//! Like zkCli, the lists are lower-cased, `-v` is hexadecimal, incremental and
//! non-incremental modes may not be mixed, and success prints
//! "Committed new configuration:" followed by the config text.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::request::ReconfigOp;
use crate::admin::java_date_utc;
use crate::client::{Client, ClientConfig, ClientError};
use crate::config::{decode_latin1, Properties, QuorumConfig};
use crate::proto::codes::ErrorCode;
use crate::proto::records::Stat;

/// Where to connect when `-server` is not given (zkCli's default).
pub const DEFAULT_SERVER: &str = "localhost:2181";

/// zkCli's usage line for reconfig.
pub const USAGE: &str = "reconfig [-s] [-v version] [[-file path] | \
[-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* \
[-remove serverId[,...]*]";

/// A parsed `zkserver reconfig` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconfigArgs {
    /// Connect string.
    pub server: String,
    /// `(scheme, credentials)` pairs sent with addAuth before the reconfig.
    pub auth: Vec<(String, Vec<u8>)>,
    /// Print the Stat of /zookeeper/config after the new config (`-s`).
    pub stats: bool,
    pub op: ReconfigOp,
}

/// Why `zkserver reconfig` failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconfigCliError {
    /// Bad command line; the text is what zkCli would print.
    #[error("{0}")]
    Usage(String),
    /// The server or the connection refused; shown as zkCli shows it.
    #[error("{}", zkcli_message(.0))]
    Client(#[from] ClientError),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl ReconfigArgs {
    /// Parses the arguments after `reconfig`.
    pub fn parse<I, S>(args: I) -> Result<ReconfigArgs, ReconfigCliError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let usage = || ReconfigCliError::Usage(USAGE.to_string());
        let mut it = args.into_iter().map(Into::into);
        let mut server = None;
        let mut auth = Vec::new();
        let mut stats = false;
        let (mut version, mut file, mut members, mut add, mut remove) =
            (None, None, None, None, None);
        while let Some(arg) = it.next() {
            let name = arg
                .strip_prefix("--")
                .or_else(|| arg.strip_prefix('-'))
                .ok_or_else(|| ReconfigCliError::Usage(format!("unexpected argument '{arg}'")))?;
            if name == "s" || name == "stats" {
                stats = true;
                continue;
            }
            let mut value = || {
                it.next().ok_or_else(|| {
                    ReconfigCliError::Usage(format!("Missing argument for option: {name}"))
                })
            };
            match name {
                "v" => version = Some(value()?),
                "file" => file = Some(PathBuf::from(value()?)),
                "members" => members = Some(value()?),
                "add" => add = Some(value()?),
                "remove" => remove = Some(value()?),
                "server" => server = Some(value()?),
                "auth" => {
                    let v = value()?;
                    let (scheme, cred) = v.split_once(':').ok_or_else(|| {
                        ReconfigCliError::Usage(format!(
                            "--auth takes scheme:credentials (e.g. digest:user:password), not '{v}'"
                        ))
                    })?;
                    auth.push((scheme.to_string(), cred.as_bytes().to_vec()));
                }
                _ => {
                    return Err(ReconfigCliError::Usage(format!(
                        "Unrecognized option: {arg}"
                    )))
                }
            }
        }
        let non_incremental = file.is_some() || members.is_some();
        if !non_incremental && add.is_none() && remove.is_none() {
            return Err(usage());
        }
        let from_config = match version {
            Some(v) => i64::from_str_radix(v.trim_start_matches("0x"), 16).map_err(|_| {
                ReconfigCliError::Usage(
                    "-v must be followed by a long (configuration version)".into(),
                )
            })?,
            None => -1,
        };
        if non_incremental && (add.is_some() || remove.is_some()) {
            return Err(ReconfigCliError::Usage(
                "Can't use -file or -members together with -add or -remove (mixing incremental \
                 and non-incremental modes is not allowed)"
                    .into(),
            ));
        }
        if file.is_some() && members.is_some() {
            return Err(ReconfigCliError::Usage(
                "Can't use -file and -members together (conflicting non-incremental modes)".into(),
            ));
        }
        let new_members = match file {
            Some(path) => Some(members_from_file(&path)?),
            None => members.map(|m| m.to_lowercase()),
        };
        Ok(ReconfigArgs {
            server: server.unwrap_or_else(|| DEFAULT_SERVER.to_string()),
            auth,
            stats,
            op: ReconfigOp {
                joining: add.map(|a| a.to_lowercase()),
                leaving: remove.map(|r| r.to_lowercase()),
                new_members,
                from_config,
            },
        })
    }
}

/// `-file`: a dynamic config file, checked and sent as config text (zkCli sends
/// `parseDynamicConfig(...).toString()`, version line included).
fn members_from_file(path: &std::path::Path) -> Result<String, ReconfigCliError> {
    let fail =
        |msg: String| ReconfigCliError::Usage(format!("Error processing {}{msg}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let props = Properties::parse(&decode_latin1(&bytes)).map_err(|e| fail(e.to_string()))?;
    let config =
        QuorumConfig::from_properties(&props, true, true).map_err(|e| fail(e.to_string()))?;
    Ok(config.render())
}

/// Sends a reconfig on an open session; returns the committed config text and the Stat of
/// /zookeeper/config.
pub async fn reconfigure(client: &Client, op: &ReconfigOp) -> Result<(String, Stat), ClientError> {
    let (data, stat) = client
        .reconfig(
            op.joining.as_deref(),
            op.leaving.as_deref(),
            op.new_members.as_deref(),
            op.from_config,
        )
        .await?;
    Ok((String::from_utf8_lossy(&data).into_owned(), stat))
}

/// Runs the command: connect, authenticate, reconfig, print as zkCli prints.
pub async fn run(args: &ReconfigArgs, out: &mut dyn Write) -> Result<(), ReconfigCliError> {
    let mut cfg = ClientConfig::from_connect_string(&args.server)?;
    cfg.auto_reconnect = false;
    cfg.connect_timeout = Duration::from_secs(10);
    cfg.request_timeout = Some(Duration::from_secs(30));
    let (client, _events) = Client::connect(cfg).await?;
    let result = async {
        for (scheme, cred) in &args.auth {
            client.add_auth(scheme, cred).await?;
        }
        reconfigure(&client, &args.op).await
    }
    .await;
    // Closing is best effort: the answer (or the error) is what matters.
    let _ = client.close().await;
    let (text, stat) = result?;
    writeln!(out, "Committed new configuration:\n{text}")?;
    if args.stats {
        out.write_all(render_stat(&stat).as_bytes())?;
    }
    Ok(())
}

/// zkCli's StatPrinter (dates in UTC).
pub fn render_stat(s: &Stat) -> String {
    format!(
        "cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\n\
         cversion = {}\ndataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\n\
         dataLength = {}\nnumChildren = {}\n",
        s.czxid,
        java_date_utc(s.ctime),
        s.mzxid,
        java_date_utc(s.mtime),
        s.pzxid,
        s.cversion,
        s.version,
        s.aversion,
        s.ephemeral_owner,
        s.data_length,
        s.num_children
    )
}

/// What zkCli prints for a failed reconfig (`CliWrapperException`); the client learns no
/// path, hence Java's "null".
pub fn zkcli_message(e: &ClientError) -> String {
    let Some(code) = e.code() else {
        return e.to_string();
    };
    match code {
        ErrorCode::BadArguments => "Arguments are not valid : null".into(),
        ErrorCode::BadVersion => "version No is not valid : null".into(),
        ErrorCode::NoAuth => "Insufficient permission : null".into(),
        ErrorCode::ReconfigInProgress => {
            "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                .into()
        }
        ErrorCode::NewConfigNoQuorum => {
            "No quorum of new config is connected and up-to-date with the leader of last \
             commmitted config - try invoking reconfiguration after new servers are connected \
             and synced"
                .into()
        }
        other => format!("KeeperErrorCode = {}", code_message(other)),
    }
}

/// `KeeperException.getCodeMessage`.
fn code_message(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Ok => "ok",
        ErrorCode::SystemError => "SystemError",
        ErrorCode::RuntimeInconsistency => "RuntimeInconsistency",
        ErrorCode::DataInconsistency => "DataInconsistency",
        ErrorCode::ConnectionLoss => "ConnectionLoss",
        ErrorCode::MarshallingError => "MarshallingError",
        ErrorCode::Unimplemented => "Unimplemented",
        ErrorCode::OperationTimeout => "OperationTimeout",
        ErrorCode::BadArguments => "BadArguments",
        ErrorCode::UnknownSession => "Unknown session",
        ErrorCode::NewConfigNoQuorum => "NewConfigNoQuorum",
        ErrorCode::ReconfigInProgress => "ReconfigInProgress",
        ErrorCode::ApiError => "APIError",
        ErrorCode::NoNode => "NoNode",
        ErrorCode::NoAuth => "NoAuth",
        ErrorCode::BadVersion => "BadVersion",
        ErrorCode::NoChildrenForEphemerals => "NoChildrenForEphemerals",
        ErrorCode::NodeExists => "NodeExists",
        ErrorCode::NotEmpty => "Directory not empty",
        ErrorCode::SessionExpired => "Session expired",
        ErrorCode::InvalidCallback => "Invalid callback",
        ErrorCode::InvalidAcl => "InvalidACL",
        ErrorCode::AuthFailed => "AuthFailed",
        ErrorCode::SessionMoved => "Session moved",
        ErrorCode::NotReadOnly => "Not a read-only call",
        ErrorCode::EphemeralOnLocalSession => "Ephemeral node on local session",
        ErrorCode::NoWatcher => "No such watcher",
        ErrorCode::RequestTimeout => "Request timeout",
        ErrorCode::ReconfigDisabled => "Reconfig is disabled",
        ErrorCode::SessionClosedRequireSaslAuth => {
            "Session closed because client failed to authenticate"
        }
        ErrorCode::QuotaExceeded => "Quota has exceeded",
        ErrorCode::ThrottledOp => "Op throttled due to high load",
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
