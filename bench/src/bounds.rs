//! Physical bounds of the machine: what a durable 1 KB append and a loopback round trip cost.
//! A server that fsyncs every write cannot answer a lone write faster than the first, nor any
//! request faster than the second.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::error::BenchError;
use crate::stats::Summary;

/// The measured bounds (microseconds).
#[derive(Debug, Clone, Serialize)]
pub struct Bounds {
    /// 1 KB appends that grow the file, each followed by fdatasync.
    pub fsync_append_1k: Summary,
    /// 1 KB writes into a preallocated file (as ZooKeeper's txn log does), each fdatasync'ed.
    pub fsync_prealloc_1k: Summary,
    /// 64-byte TCP ping-pong over 127.0.0.1.
    pub loopback_rtt: Summary,
}

/// Runs `n` 1 KB writes each followed by `sync_data` in a fresh file under `dir`.
pub fn fsync_latency(dir: &Path, n: usize, preallocate: bool) -> Result<Summary, BenchError> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("zkbench-fsync-{}.tmp", std::process::id()));
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let block = [0x5au8; 1024];
    if preallocate {
        f.set_len((n as u64 + 1) * 1024)?;
        f.sync_all()?;
        f.seek(SeekFrom::Start(0))?;
    }
    let mut samples = Vec::with_capacity(n);
    let result = (|| -> Result<(), BenchError> {
        for _ in 0..n {
            let t = Instant::now();
            f.write_all(&block)?;
            f.sync_data()?;
            samples.push(t.elapsed().as_micros() as u64);
        }
        Ok(())
    })();
    drop(f);
    let _ = std::fs::remove_file(&path);
    result?;
    Ok(Summary::from_samples(&mut samples))
}

/// Measures `n` 64-byte round trips to an echo thread over loopback TCP (Nagle off).
pub fn loopback_rtt(n: usize) -> Result<Summary, BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = [0u8; 64];
        for _ in 0..n {
            s.read_exact(&mut buf)?;
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut buf = [7u8; 64];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        c.write_all(&buf)?;
        c.read_exact(&mut buf)?;
        samples.push(t.elapsed().as_micros() as u64);
    }
    echo.join()
        .map_err(|_| BenchError::Invalid("echo thread panicked".into()))??;
    Ok(Summary::from_samples(&mut samples))
}

/// All bounds, with `n` samples each.
pub fn measure(dir: &Path, n: usize) -> Result<Bounds, BenchError> {
    Ok(Bounds {
        fsync_append_1k: fsync_latency(dir, n, false)?,
        fsync_prealloc_1k: fsync_latency(dir, n, true)?,
        loopback_rtt: loopback_rtt(n.max(100) * 10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_fsync_and_rtt() {
        let dir = tempfile::tempdir().unwrap();
        let s = fsync_latency(dir.path(), 20, false).unwrap();
        assert_eq!(s.count, 20);
        assert!(s.p50_us <= s.p99_us);
        let p = fsync_latency(dir.path(), 10, true).unwrap();
        assert_eq!(p.count, 10);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "temp file removed"
        );
        let r = loopback_rtt(200).unwrap();
        assert_eq!(r.count, 200);
        assert!(r.p50_us < 1_000_000);
    }
}
