//! The four-letter words: which exist, and their plain-text answers.

use crate::config::ServerConfig;

use super::javafmt::{hex, java_date_utc, java_double, java_socket_addr, round4};
use super::mntr::render_mntr;
use super::{ConnectionInfo, ExpiryBucket, Mode, ServerInfo, SessionTrackerDump};

/// A known four-letter command (`FourLetterCommands` of Apache 3.8/3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FourLetterWord {
    Conf,
    Cons,
    Crst,
    Dirs,
    Dump,
    Envi,
    Gtmk,
    Ruok,
    /// Set trace mask: 8 more bytes (the mask) follow on the wire.
    Stmk,
    Srst,
    Srvr,
    Stat,
    Wchc,
    Wchp,
    Wchs,
    Mntr,
    Isro,
    /// The telnet close sequence 0xFFF4FFFD: just close the connection.
    TelnetClose,
}

const ALL: [FourLetterWord; 18] = [
    FourLetterWord::Conf,
    FourLetterWord::Cons,
    FourLetterWord::Crst,
    FourLetterWord::Dirs,
    FourLetterWord::Dump,
    FourLetterWord::Envi,
    FourLetterWord::Gtmk,
    FourLetterWord::Ruok,
    FourLetterWord::Stmk,
    FourLetterWord::Srst,
    FourLetterWord::Srvr,
    FourLetterWord::Stat,
    FourLetterWord::Wchc,
    FourLetterWord::Wchp,
    FourLetterWord::Wchs,
    FourLetterWord::Mntr,
    FourLetterWord::Isro,
    FourLetterWord::TelnetClose,
];

const TELNET_CLOSE: u32 = 0xfff4_fffd;

impl FourLetterWord {
    /// Recognises the first 4 bytes of a connection (read as a big-endian int).
    pub fn from_u32(v: u32) -> Option<Self> {
        ALL.into_iter().find(|w| w.code() == v)
    }

    /// The big-endian ASCII code of the word.
    pub fn code(self) -> u32 {
        match self {
            FourLetterWord::TelnetClose => TELNET_CLOSE,
            w => {
                let b = w.name().as_bytes();
                u32::from_be_bytes([b[0], b[1], b[2], b[3]])
            }
        }
    }

    /// The name used in the whitelist and in refusals.
    pub fn name(self) -> &'static str {
        match self {
            FourLetterWord::Conf => "conf",
            FourLetterWord::Cons => "cons",
            FourLetterWord::Crst => "crst",
            FourLetterWord::Dirs => "dirs",
            FourLetterWord::Dump => "dump",
            FourLetterWord::Envi => "envi",
            FourLetterWord::Gtmk => "gtmk",
            FourLetterWord::Ruok => "ruok",
            FourLetterWord::Stmk => "stmk",
            FourLetterWord::Srst => "srst",
            FourLetterWord::Srvr => "srvr",
            FourLetterWord::Stat => "stat",
            FourLetterWord::Wchc => "wchc",
            FourLetterWord::Wchp => "wchp",
            FourLetterWord::Wchs => "wchs",
            FourLetterWord::Mntr => "mntr",
            FourLetterWord::Isro => "isro",
            FourLetterWord::TelnetClose => "telnet close",
        }
    }

    /// Whether the answer needs a serving server (else it is [`not_serving`]).
    pub fn needs_serving(self) -> bool {
        !matches!(
            self,
            FourLetterWord::Ruok
                | FourLetterWord::Envi
                | FourLetterWord::Gtmk
                | FourLetterWord::Stmk
                | FourLetterWord::Isro
                | FourLetterWord::TelnetClose
        )
    }

    /// crst/srst: the caller resets its counters before rendering.
    pub fn resets_stats(self) -> bool {
        matches!(self, FourLetterWord::Crst | FourLetterWord::Srst)
    }
}

/// Apache's refusal for a command outside `4lw.commands.whitelist`.
pub fn not_whitelisted(cmd_name: &str) -> String {
    format!("{cmd_name} is not executed because it is not in the whitelist.\n")
}

/// Apache's answer while the server is not serving requests.
pub fn not_serving() -> String {
    "This ZooKeeper instance is not currently serving requests\n".to_string()
}

/// Renders the answer to `cmd`. Whitelist checks are the caller's (see
/// `ServerConfig::four_letter_words`); counters for crst/srst are reset by the caller.
pub fn render(cmd: FourLetterWord, info: &ServerInfo, conf: &ServerConfig) -> String {
    if cmd.needs_serving() && !info.serving {
        return not_serving();
    }
    match cmd {
        FourLetterWord::Ruok => "imok".to_string(),
        FourLetterWord::Srvr => render_stat(info, false),
        FourLetterWord::Stat => render_stat(info, true),
        FourLetterWord::Conf => conf.conf_dump(
            info.data_dir_size,
            info.data_log_size,
            info.membership.as_ref().map(|(s, v)| (s, *v)),
        ),
        FourLetterWord::Cons => {
            let mut out = String::new();
            for c in &info.connections {
                out.push_str(&connection_line(c, false));
                out.push('\n');
            }
            out.push('\n');
            out
        }
        FourLetterWord::Crst => "Connection stats reset.\n".to_string(),
        FourLetterWord::Srst => "Server stats reset.\n".to_string(),
        FourLetterWord::Dump => render_dump(info),
        FourLetterWord::Envi => {
            let mut out = String::from("Environment:\n");
            for (k, v) in &info.environment {
                out.push_str(&format!("{k}={v}\n"));
            }
            out
        }
        FourLetterWord::Mntr => render_mntr(info),
        FourLetterWord::Wchs => {
            let total: usize = info.watches_by_path.iter().map(|(_, s)| s.len()).sum();
            format!(
                "{} connections watching {} paths\nTotal watches:{total}\n",
                info.watches_by_session.len(),
                info.watches_by_path.len()
            )
        }
        FourLetterWord::Wchc => {
            let mut out = String::new();
            for (sid, paths) in &info.watches_by_session {
                out.push_str(&format!("0x{}\n", hex(*sid)));
                for p in paths {
                    out.push_str(&format!("\t{p}\n"));
                }
            }
            out.push('\n');
            out
        }
        FourLetterWord::Wchp => {
            let mut out = String::new();
            for (path, sids) in &info.watches_by_path {
                out.push_str(&format!("{path}\n"));
                for sid in sids {
                    out.push_str(&format!("\t0x{}\n", hex(*sid)));
                }
            }
            out.push('\n');
            out
        }
        FourLetterWord::Dirs => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            info.data_dir_size, info.data_log_size
        ),
        FourLetterWord::Isro => match (info.serving, info.mode) {
            (false, _) => "null".to_string(),
            (true, Mode::ReadOnly) => "ro".to_string(),
            (true, _) => "rw".to_string(),
        },
        FourLetterWord::Gtmk | FourLetterWord::Stmk => info.trace_mask.to_string(),
        FourLetterWord::TelnetClose => String::new(),
    }
}

fn render_stat(info: &ServerInfo, with_clients: bool) -> String {
    let mut out = format!("Zookeeper version: {}\n", info.version);
    if info.mode == Mode::ReadOnly {
        out.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if with_clients {
        out.push_str("Clients:\n");
        for c in &info.connections {
            out.push_str(&connection_line(c, true));
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "Latency min/avg/max: {}/{}/{}\n",
        info.latency_min,
        java_double(round4(info.latency_avg)),
        info.latency_max
    ));
    out.push_str(&format!("Received: {}\n", info.packets_received));
    out.push_str(&format!("Sent: {}\n", info.packets_sent));
    out.push_str(&format!("Connections: {}\n", info.num_alive_connections));
    out.push_str(&format!("Outstanding: {}\n", info.outstanding_requests));
    out.push_str(&format!("Zxid: 0x{}\n", hex(info.zxid)));
    out.push_str(&format!("Mode: {}\n", info.mode.as_str()));
    out.push_str(&format!("Node count: {}\n", info.node_count));
    if let (Mode::Leader, Some(l)) = (info.mode, &info.leader) {
        out.push_str(&format!(
            "Proposal sizes last/min/max: {}/{}/{}\n",
            l.last_proposal_size, l.min_proposal_size, l.max_proposal_size
        ));
    }
    out
}

/// `ServerCnxn.dumpConnectionInfo`, without the trailing newline.
fn connection_line(c: &ConnectionInfo, brief: bool) -> String {
    let ops = if c.interest_ops == 0 {
        "0".to_string()
    } else {
        format!("{:x}", c.interest_ops)
    };
    let mut out = format!(
        " {}[{ops}](queued={},recved={},sent={}",
        java_socket_addr(&c.remote),
        c.queued,
        c.received,
        c.sent
    );
    if let (false, Some(s)) = (brief, &c.session) {
        if s.session_id != 0 {
            out.push_str(&format!(
                ",sid=0x{},lop={},est={},to={}",
                hex(s.session_id),
                s.last_op,
                s.established_ms,
                s.timeout_ms
            ));
            if s.last_cxid >= 0 {
                out.push_str(&format!(",lcxid=0x{}", hex(s.last_cxid)));
            }
            out.push_str(&format!(
                ",lzxid=0x{},lresp={},llat={},minlat={},avglat={},maxlat={}",
                hex(s.last_zxid),
                s.last_response_ms,
                s.last_latency,
                s.min_latency,
                s.avg_latency,
                s.max_latency
            ));
        }
    }
    out.push(')');
    out
}

fn render_dump(info: &ServerInfo) -> String {
    let mut out = String::from("SessionTracker dump:\n");
    match &info.session_tracker {
        SessionTrackerDump::Buckets(buckets) => {
            out.push_str("Session ");
            expiry_dump(&mut out, buckets, |sid| format!("0x{}", hex(*sid)));
        }
        SessionTrackerDump::Learner { local, global } => {
            if let Some(buckets) = local {
                out.push_str("Local Session ");
                expiry_dump(&mut out, buckets, |sid| format!("0x{}", hex(*sid)));
            }
            out.push_str(&format!("Global Sessions({}):\n", global.len()));
            for (sid, timeout) in global {
                out.push_str(&format!("0x{}\t{timeout}ms\n", hex(*sid)));
            }
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    out.push_str(&format!(
        "Sessions with Ephemerals ({}):\n",
        info.sessions_with_ephemerals.len()
    ));
    for (sid, paths) in &info.sessions_with_ephemerals {
        out.push_str(&format!("0x{}:\n", hex(*sid)));
        for p in paths {
            out.push_str(&format!("\t{p}\n"));
        }
    }
    out.push_str("Connections dump:\nConnections ");
    expiry_dump(&mut out, &info.connection_expiry, |(addr, sid)| {
        format!("ip: {} sessionId: 0x{}", java_socket_addr(addr), hex(*sid))
    });
    out
}

/// `ExpiryQueue.dump`: bucket count, element count, then each bucket by time.
fn expiry_dump<T>(out: &mut String, buckets: &[ExpiryBucket<T>], item: impl Fn(&T) -> String) {
    let total: usize = buckets.iter().map(|b| b.items.len()).sum();
    out.push_str(&format!("Sets ({})/({total}):\n", buckets.len()));
    let mut sorted: Vec<&ExpiryBucket<T>> = buckets.iter().collect();
    sorted.sort_by_key(|b| b.expire_at_ms);
    for b in sorted {
        out.push_str(&format!(
            "{} expire at {}:\n",
            b.items.len(),
            java_date_utc(b.expire_at_ms)
        ));
        for i in &b.items {
            out.push_str(&format!("\t{}\n", item(i)));
        }
    }
}

#[cfg(test)]
#[path = "fourlw_tests.rs"]
mod tests;
