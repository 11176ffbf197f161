//! Starts ZooKeeper server processes for tests: a generic "spawn, wait until `ruok` answers
//! `imok`, kill on drop" guard, plus builders for the Debian-packaged Apache ZooKeeper
//! (standalone or a single-member quorum). Reused to compare our server with Apache.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a JVM may take to start answering `ruok` on a loaded 2-core machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// Sends a 4-letter word with blocking I/O; `None` if the server is not answering (yet).
pub fn four_letter_blocking(addr: &str, cmd: &str) -> Option<String> {
    let sock: SocketAddr = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(cmd.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A running server process, killed (by PID) when dropped.
pub struct ServerProcess {
    child: Child,
    /// "127.0.0.1:port" of the client port.
    pub client_addr: String,
    pub log: PathBuf,
}

impl ServerProcess {
    /// Spawns `cmd` (stdout and stderr to `log`) and waits until `client_addr` answers `ruok`.
    pub fn spawn(mut cmd: Command, client_addr: String, log: PathBuf) -> Result<Self, String> {
        let out = fs::File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
        let mut p = ServerProcess {
            child,
            client_addr,
            log,
        };
        p.wait_ready(START_TIMEOUT)?;
        Ok(p)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `ruok` until `imok`, the process exits, or `limit` passes.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("server exited with {status}: {}", self.log_tail()));
            }
            // `ruok` answers as soon as the listener is up; `srvr` also tells whether the
            // server is serving yet (Apache closes client sessions until it is).
            if four_letter_blocking(&self.client_addr, "ruok").as_deref() == Some("imok")
                && four_letter_blocking(&self.client_addr, "srvr")
                    .is_some_and(|s| !s.contains("not currently serving"))
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "server at {} not ready after {limit:?}: {}",
            self.client_addr,
            self.log_tail()
        ))
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub use zkserver::reference::apache_classpath;

/// How to run an Apache server.
#[derive(Debug, Clone, Default)]
pub struct ApacheOptions {
    /// Run as a one-member quorum (`standaloneEnabled=false`) so that reconfig works.
    pub quorum: bool,
    /// Extra zoo.cfg lines.
    pub cfg: Vec<String>,
    /// Extra `-D` system properties ("name=value").
    pub props: Vec<String>,
    /// Reuse this data directory and client port (to restart a server).
    pub reuse: Option<(PathBuf, u16)>,
}

/// An Apache ZooKeeper server with its temporary data directory.
pub struct ApacheZk {
    pub process: ServerProcess,
    pub data_dir: PathBuf,
    pub port: u16,
    pub opts: ApacheOptions,
    /// Holds the temp dir alive when this instance created it.
    _tmp: Option<tempfile::TempDir>,
}

impl ApacheZk {
    /// Starts Apache ZooKeeper; `None` (after printing a note) when it is not installed.
    pub fn start(opts: ApacheOptions) -> Option<Result<ApacheZk, String>> {
        let Some(cp) = apache_classpath() else {
            eprintln!("NOTE: java or Apache ZooKeeper jars missing; skipping Apache test");
            return None;
        };
        Some(Self::start_with(cp, opts))
    }

    fn start_with(cp: String, opts: ApacheOptions) -> Result<ApacheZk, String> {
        let (tmp, data_dir, port) = match &opts.reuse {
            Some((d, p)) => (None, d.clone(), *p),
            None => {
                let t = tempfile::tempdir().map_err(|e| e.to_string())?;
                let d = t.path().join("data");
                (Some(t), d, free_port())
            }
        };
        fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
        let mut cfg = vec![
            "tickTime=500".to_string(),
            "initLimit=20".to_string(),
            "syncLimit=10".to_string(),
            format!("dataDir={}", data_dir.display()),
            "admin.enableServer=false".to_string(),
            "4lw.commands.whitelist=*".to_string(),
            "minSessionTimeout=1000".to_string(),
        ];
        if opts.quorum {
            let (qp, ep) = (free_port(), free_port());
            fs::write(data_dir.join("myid"), "1\n").map_err(|e| e.to_string())?;
            cfg.push("standaloneEnabled=false".into());
            cfg.push("reconfigEnabled=true".into());
            cfg.push(format!(
                "server.1=127.0.0.1:{qp}:{ep}:participant;127.0.0.1:{port}"
            ));
        } else {
            cfg.push(format!("clientPort={port}"));
            cfg.push("clientPortAddress=127.0.0.1".into());
        }
        cfg.extend(opts.cfg.iter().cloned());
        let cfg_path = data_dir.join("zoo.cfg");
        // A restarted quorum server keeps the dynamic config it wrote; keep its zoo.cfg too.
        if opts.reuse.is_none() || !cfg_path.exists() {
            fs::write(&cfg_path, cfg.join("\n") + "\n").map_err(|e| e.to_string())?;
        }
        let mut cmd = Command::new("java");
        cmd.arg("-Xmx256m")
            .arg("-Dzookeeper.extendedTypesEnabled=true")
            .arg("-Dzookeeper.admin.enableServer=false");
        for p in &opts.props {
            cmd.arg(format!("-D{p}"));
        }
        cmd.arg("-cp")
            .arg(cp)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg_path);
        let log = data_dir.join("server.log");
        let process = ServerProcess::spawn(cmd, format!("127.0.0.1:{port}"), log)?;
        Ok(ApacheZk {
            process,
            data_dir,
            port,
            opts,
            _tmp: tmp,
        })
    }

    pub fn addr(&self) -> String {
        self.process.client_addr.clone()
    }

    /// Kills the JVM and starts a new one on the same port and data directory.
    pub fn restart(&mut self) -> Result<(), String> {
        self.process.kill();
        let cp = apache_classpath().ok_or("Apache ZooKeeper vanished")?;
        let mut opts = self.opts.clone();
        opts.reuse = Some((self.data_dir.clone(), self.port));
        let next = Self::start_with(cp, opts)?;
        // Move the new process in; the old (already dead) guard is dropped here.
        let ApacheZk { process, .. } = next;
        self.process = process;
        Ok(())
    }
}
