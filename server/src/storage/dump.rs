//! Human-readable dumps in the shape of Apache's TxnLogToolkit / LogFormatter and
//! SnapshotFormatter output (times in UTC), for operators and for diffing against Apache.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::dump_time::{java_date, java_short_date_time};
use super::error::StorageError;
use super::snapshot::{check_seal, open_stream, read_head, read_trailers};
use super::stream::AdlerReader;
use super::tree_stream::read_tree_stream;
use super::txnlog_reader::{Entry, LogFile};
use crate::proto::codes::op;
use crate::proto::records::Acl;
use crate::proto::txn::{Txn, TxnBody};

fn out_err(e: std::io::Error) -> StorageError {
    StorageError::io("write dump", "<output>", e)
}

fn text(data: &Option<bytes::Bytes>) -> String {
    data.as_ref()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .unwrap_or_default()
}

fn acl_list(acls: &[Acl]) -> String {
    let parts: Vec<String> = acls
        .iter()
        .map(|a| format!("{},s{{'{},'{}}}", a.perms, a.id.scheme, a.id.id))
        .collect();
    format!("[{}]", parts.join(","))
}

fn acl_vector(acls: &[Acl]) -> String {
    let parts: Vec<String> = acls
        .iter()
        .map(|a| format!("s{{{},s{{'{},'{}}}}}", a.perms, a.id.scheme, a.id.id))
        .collect();
    format!("v{{{}}}", parts.join(","))
}

/// The record part of a txn line, as Apache's toolkit prints it.
fn body_text(body: &TxnBody) -> String {
    match body {
        TxnBody::Create(c) => format!(
            "{},{},{},{},{}",
            c.path,
            text(&c.data),
            acl_list(&c.acl),
            c.ephemeral,
            c.parent_cversion
        ),
        TxnBody::CreateContainer(c) => format!(
            "{},{},{},{}",
            c.path,
            text(&c.data),
            acl_list(&c.acl),
            c.parent_cversion
        ),
        TxnBody::CreateTtl(c) => format!(
            "{},{},{},{},{}",
            c.path,
            text(&c.data),
            acl_list(&c.acl),
            c.parent_cversion,
            c.ttl
        ),
        TxnBody::Delete(d) => format!("'{}", d.path),
        TxnBody::SetData(s) => format!("{},{},{}", s.path, text(&s.data), s.version),
        TxnBody::SetAcl(s) => format!("'{},{},{}", s.path, acl_vector(&s.acl), s.version),
        TxnBody::Check(c) => format!("'{},{}", c.path, c.version),
        TxnBody::Multi(subs) => {
            let parts: Vec<String> = subs
                .iter()
                .map(|(k, b)| format!("{} {}", op::name(*k), body_text(b)))
                .collect();
            format!("v{{{}}}", parts.join("; "))
        }
        TxnBody::CreateSession(c) => c.time_out.to_string(),
        TxnBody::CloseSession(c) => match &c.paths_to_delete {
            Some(p) => {
                let parts: Vec<String> = p.iter().map(|x| format!("'{x}")).collect();
                format!("v{{{}}}", parts.join(","))
            }
            None => String::new(),
        },
        TxnBody::Error(e) => e.err.to_string(),
    }
}

/// One line per txn, as Apache's TxnLogToolkit `-d`.
pub fn txn_line(t: &Txn) -> String {
    format!(
        "{} session {:#x} cxid {:#x} zxid {:#x} {} {}",
        java_short_date_time(t.hdr.time),
        t.hdr.client_id,
        t.hdr.cxid,
        t.hdr.zxid,
        op::name(t.hdr.kind),
        body_text(&t.body)
    )
}

/// Dumps one log file: header line, one line per txn, then the count.
pub fn dump_log(path: &Path, out: &mut dyn Write) -> Result<(), StorageError> {
    let mut lf = LogFile::open(path)?;
    writeln!(
        out,
        "ZooKeeper Transactional Log File with dbid {} txnlog format version {}",
        lf.dbid, lf.version
    )
    .map_err(out_err)?;
    let mut n = 0u64;
    loop {
        match lf.next_entry()? {
            Entry::Txn { raw, .. } => {
                let zxid = raw.zxid;
                let t = Txn::decode(raw.payload).map_err(|e| {
                    StorageError::corrupt(path, 0, format!("txn {zxid:#x} does not decode: {e}"))
                })?;
                writeln!(out, "{}", txn_line(&t)).map_err(out_err)?;
                n += 1;
            }
            Entry::End => break,
            Entry::Torn { offset, reason } => {
                writeln!(out, "Partial txn at offset {offset}: {reason}").map_err(out_err)?;
                break;
            }
        }
    }
    writeln!(out, "EOF reached after {n} txns.").map_err(out_err)
}

/// Dumps one snapshot file (seals verified) as Apache's SnapshotFormatter: every node with its
/// stat, then sessions with their ephemeral counts, then the last zxid.
pub fn dump_snapshot(path: &Path, out: &mut dyn Write) -> Result<(), StorageError> {
    let mut r = AdlerReader::new(open_stream(path)?);
    let sessions = read_head(&mut r, path)?;
    let at = r.count();
    let tree = read_tree_stream(&mut r)
        .map_err(|e| StorageError::corrupt(path, at, format!("tree: {e}")))?;
    check_seal(&mut r, path)?;
    let (digest, lpz) = read_trailers(&mut r, path)?;
    let name_zxid = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(super::names::parse_snapshot_name)
        .map_or(0, |(z, _)| z);

    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(out_err);
    // Apache's DataTree holds the root under both "" and "/", and counts it twice.
    w(
        out,
        format!("ZNode Details (count={}):", tree.nodes.len() + 1),
    )?;
    let mut eph: HashMap<i64, usize> = HashMap::new();
    for n in &tree.nodes {
        let s = &n.stat;
        if s.ephemeral_owner != 0 {
            *eph.entry(s.ephemeral_owner).or_default() += 1;
        }
        let path = if n.path.is_empty() { "/" } else { &n.path };
        w(out, "----".into())?;
        w(out, path.to_string())?;
        w(out, format!("  cZxid = 0x{:014x}", s.czxid))?;
        w(out, format!("  ctime = {}", java_date(s.ctime)))?;
        w(out, format!("  mZxid = 0x{:014x}", s.mzxid))?;
        w(out, format!("  mtime = {}", java_date(s.mtime)))?;
        w(out, format!("  pZxid = 0x{:014x}", s.pzxid))?;
        w(out, format!("  cversion = {}", s.cversion))?;
        w(out, format!("  dataVersion = {}", s.version))?;
        w(out, format!("  aclVersion = {}", s.aversion))?;
        w(
            out,
            format!("  ephemeralOwner = 0x{:014x}", s.ephemeral_owner),
        )?;
        w(
            out,
            format!("  dataLength = {}", n.data.as_ref().map_or(0, Vec::len)),
        )?;
    }
    w(out, "----".into())?;
    w(
        out,
        "Session Details (sid, timeout, ephemeralCount):".into(),
    )?;
    for (sid, timeout) in &sessions {
        let c = eph.get(sid).copied().unwrap_or(0);
        w(out, format!("0x{sid:014x}, {timeout}, {c}"))?;
    }
    w(out, "----".into())?;
    let last = digest.map(|(z, _)| z).or(lpz).unwrap_or(name_zxid);
    w(out, format!("Last zxid: {last:#x}"))?;
    if let Some((z, d)) = digest {
        w(out, format!("Digest: zxid {z:#x}, digest {d}"))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/apache-3.8-datadir/version-2")
            .join(name)
    }

    #[test]
    fn dumps_apache_log_like_the_toolkit() {
        let mut out = Vec::new();
        dump_log(&fixture("log.1"), &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[0],
            "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2"
        );
        assert_eq!(
            lines[1],
            "11/22/26, 1:03:45 AM UTC session 0x1000005ae1a0000 cxid 0x0 zxid 0x1 createSession 30000"
        );
        assert!(lines[2].ends_with("zxid 0x2 create /app,hello,[31,s{'world,'anyone}],false,1"));
        assert!(lines[8].ends_with("zxid 0x8 setData /app/a,two,1"));
        assert!(lines[10].ends_with("zxid 0xa setACL '/app/b,v{s{1,s{'world,'anyone}}},1"));
        assert_eq!(lines[11], "EOF reached after 10 txns.");
        let mut out = Vec::new();
        dump_log(&fixture("log.1c"), &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("zxid 0x1d delete '/z7\n"));
        assert!(s.contains("zxid 0x1e closeSession v{'/app/eph}\n"));
    }

    #[test]
    fn dumps_apache_snapshot_like_the_formatter() {
        let mut out = Vec::new();
        dump_snapshot(&fixture("snapshot.1a"), &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("ZNode Details (count=21):\n----\n/\n  cZxid = 0x00000000000000\n"));
        assert!(
            s.contains("/z7\n  cZxid = 0x0000000000001a\n  ctime = Sun Nov 22 01:03:45 UTC 2026\n")
        );
        assert!(s.contains(
            "Session Details (sid, timeout, ephemeralCount):\n0x1000005ae1a0000, 30000, 1\n"
        ));
        assert!(s.contains("Last zxid: 0x1b\n"));
    }
}
