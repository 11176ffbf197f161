//! Human-readable dumps in the shape of Apache's TxnLogToolkit / LogFormatter and
//! SnapshotFormatter output (times in UTC), for operators and for diffing against Apache.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::dump_time::{java_date, java_short_date_time};
use super::error::StorageError;
use super::snapshot::{open_stream, read_head, read_trailers};
use super::stream::{read_i64, read_string, AdlerReader};
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
    // First seal, checked by hand to reuse the stream helpers.
    let at = r.count();
    let computed = r.checksum() as u64;
    let stored = read_i64(&mut r).map_err(|e| StorageError::corrupt(path, at, e.to_string()))?;
    read_string(&mut r).map_err(|e| StorageError::corrupt(path, at, e.to_string()))?;
    if stored as u64 != computed {
        return Err(StorageError::ChecksumMismatch {
            file: path.to_path_buf(),
            offset: at,
            stored: stored as u64,
            computed,
        });
    }
    let (digest, lpz) = read_trailers(&mut r, path)?;
    let name_zxid = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(super::names::parse_snapshot_name)
        .map_or(0, |(z, _)| z);

    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(out_err);
    w(out, format!("ZNode Details (count={}):", tree.nodes.len()))?;
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
        w(out, format!("{sid:#x}, {timeout}, {c}"))?;
    }
    w(out, "----".into())?;
    let last = digest.map(|(z, _)| z).or(lpz).unwrap_or(name_zxid);
    w(out, format!("Last zxid: {last:#x}"))?;
    if let Some((z, d)) = digest {
        w(out, format!("Digest: zxid {z:#x}, digest {d}"))?;
    }
    Ok(())
}
