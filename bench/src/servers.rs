//! Starting, killing (by PID) and inspecting the servers under test: our `zkserver` release
//! binary and Apache ZooKeeper from Debian's jars, both from the same zoo.cfg lines.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::BenchError;

/// Which implementation a server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Zkserver,
    Apache,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Zkserver => "zkserver",
            Flavor::Apache => "apache",
        }
    }
}

/// How to run each flavor.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub zkserver_bin: PathBuf,
    /// `None` when java or a jar is missing.
    pub apache_classpath: Option<String>,
    /// JVM heap flag value, e.g. "2g".
    pub apache_heap: String,
}

pub use zkserver::reference::apache_classpath;

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, BenchError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Sends a 4-letter word with blocking I/O; `None` if the server is not answering.
pub fn four_letter(addr: &str, cmd: &str) -> Option<String> {
    let sock: SocketAddr = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(cmd.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// One server's identity: where it keeps data, which port it serves, its zoo.cfg.
#[derive(Debug, Clone)]
pub struct ServerDef {
    pub name: String,
    pub flavor: Flavor,
    pub data_dir: PathBuf,
    pub port: u16,
    /// zoo.cfg lines beyond the common ones (server.N lines for an ensemble).
    pub extra_cfg: Vec<String>,
    /// Ensemble member id (writes `myid`); `None` for standalone.
    pub myid: Option<u32>,
}

impl ServerDef {
    /// A standalone server on a fresh port with data in `dir` (emptied first).
    pub fn standalone(flavor: Flavor, dir: &Path) -> Result<ServerDef, BenchError> {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        Ok(ServerDef {
            name: flavor.name().to_string(),
            flavor,
            data_dir: dir.to_path_buf(),
            port: free_port()?,
            extra_cfg: vec![],
            myid: None,
        })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The zoo.cfg text: identical for both flavors (fsync on, the default).
    pub fn zoo_cfg(&self) -> String {
        let mut lines = vec![
            "tickTime=2000".to_string(),
            "initLimit=10".to_string(),
            "syncLimit=5".to_string(),
            format!("dataDir={}", self.data_dir.join("data").display()),
            "forceSync=yes".to_string(),
            "maxClientCnxns=0".to_string(),
            "4lw.commands.whitelist=*".to_string(),
            "admin.enableServer=false".to_string(),
        ];
        if self.myid.is_none() {
            lines.push(format!("clientPort={}", self.port));
            lines.push("clientPortAddress=127.0.0.1".to_string());
        }
        lines.extend(self.extra_cfg.iter().cloned());
        lines.join("\n") + "\n"
    }
}

/// A running (or killed) server process. Dropping it kills the process by PID.
pub struct Server {
    pub def: ServerDef,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Server {
    /// Writes the config and spawns the process (without waiting for it to serve).
    pub fn spawn(launcher: &Launcher, def: ServerDef) -> Result<Server, BenchError> {
        let mut s = Server {
            log: def.data_dir.join("server.log"),
            def,
            child: None,
        };
        s.respawn(launcher)?;
        Ok(s)
    }

    /// Starts the process again on the same data directory and port.
    pub fn respawn(&mut self, launcher: &Launcher) -> Result<(), BenchError> {
        self.kill();
        let def = &self.def;
        fs::create_dir_all(def.data_dir.join("data"))?;
        if let Some(id) = def.myid {
            fs::write(def.data_dir.join("data").join("myid"), format!("{id}\n"))?;
        }
        let cfg = def.data_dir.join("zoo.cfg");
        fs::write(&cfg, def.zoo_cfg())?;
        let mut cmd = match def.flavor {
            Flavor::Zkserver => {
                let mut c = Command::new(&launcher.zkserver_bin);
                // ZKBENCH_SERVER_LOG (e.g. `debug`) lets a run keep timestamped server logs.
                let level = std::env::var("ZKBENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into());
                c.arg(&cfg).env("ZKSERVER_LOG", level);
                c
            }
            Flavor::Apache => {
                let cp = launcher.apache_classpath.as_ref().ok_or_else(|| {
                    BenchError::server(&def.name, "java or ZooKeeper jars missing")
                })?;
                let mut c = Command::new("java");
                c.arg(format!("-Xmx{}", launcher.apache_heap))
                    .arg("-Dzookeeper.admin.enableServer=false")
                    .arg("-cp")
                    .arg(cp)
                    .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                    .arg(&cfg);
                c
            }
        };
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| BenchError::server(&def.name, format!("spawn: {e}")))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn addr(&self) -> String {
        self.def.addr()
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Polls `ruok`/`srvr` until the server serves (Apache refuses sessions before), the
    /// process exits, or `limit` passes.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<Duration, BenchError> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if !self.alive() {
                return Err(BenchError::server(
                    &self.def.name,
                    format!("exited: {}", self.log_tail()),
                ));
            }
            let addr = self.addr();
            if four_letter(&addr, "ruok").as_deref() == Some("imok")
                && four_letter(&addr, "srvr").is_some_and(|s| !s.contains("not currently serving"))
            {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(BenchError::server(
            &self.def.name,
            format!("not serving after {limit:?}: {}", self.log_tail()),
        ))
    }

    /// The `Mode:` line of `srvr` ("leader", "follower", "standalone").
    pub fn mode(&self) -> Option<String> {
        let s = four_letter(&self.addr(), "srvr")?;
        s.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(|m| m.trim().to_string())
    }

    /// Resident memory from /proc/<pid>/status, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGKILL (kill -9) by PID, then reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Definitions of an `n`-member Apache ensemble with data under `dir` (emptied first).
pub fn ensemble_defs(dir: &Path, n: u32) -> Result<Vec<ServerDef>, BenchError> {
    ensemble_defs_for(Flavor::Apache, dir, n)
}

/// Definitions of an `n`-member ensemble of `flavor` with data under `dir` (emptied first).
pub fn ensemble_defs_for(flavor: Flavor, dir: &Path, n: u32) -> Result<Vec<ServerDef>, BenchError> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    // Distinct ports: separate free_port calls may repeat one, and a quorum port is bound
    // only once its member leads, so a clash would surface late, as a failed election.
    let mut flat: Vec<u16> = Vec::new();
    for _ in 0..100 * n.max(1) {
        if flat.len() == 3 * n as usize {
            break;
        }
        let p = free_port()?;
        if !flat.contains(&p) {
            flat.push(p);
        }
    }
    if flat.len() != 3 * n as usize {
        return Err(BenchError::Invalid(
            "could not find distinct free ports".into(),
        ));
    }
    let ports: Vec<(u16, u16, u16)> = flat.chunks(3).map(|c| (c[0], c[1], c[2])).collect();
    let lines: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, (c, q, e))| {
            format!(
                "server.{}=127.0.0.1:{q}:{e}:participant;127.0.0.1:{c}",
                i + 1
            )
        })
        .collect();
    Ok(ports
        .iter()
        .enumerate()
        .map(|(i, (c, _, _))| ServerDef {
            name: format!("{}-{}", flavor.name(), i + 1),
            flavor,
            data_dir: dir.join(format!("s{}", i + 1)),
            port: *c,
            extra_cfg: lines.clone(),
            myid: Some(i as u32 + 1),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoo_cfg_shapes() {
        let d = ServerDef {
            name: "x".into(),
            flavor: Flavor::Zkserver,
            data_dir: PathBuf::from("/tmp/zb"),
            port: 2999,
            extra_cfg: vec![],
            myid: None,
        };
        let cfg = d.zoo_cfg();
        assert!(cfg.contains("dataDir=/tmp/zb/data\n"));
        assert!(cfg.contains("clientPort=2999\n"));
        assert!(cfg.contains("forceSync=yes\n"));
        let tmp = tempfile::tempdir().unwrap();
        let defs = ensemble_defs(&tmp.path().join("ens"), 3).unwrap();
        assert_eq!(defs.len(), 3);
        let c = defs[1].zoo_cfg();
        assert!(!c.contains("clientPort="));
        assert_eq!(c.matches("server.").count(), 3);
        assert_eq!(defs[1].myid, Some(2));
    }
}
