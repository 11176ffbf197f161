//! Runs OUR `zkserver` binary for integration tests: a builder for zoo.cfg keys and the
//! `SERVER_JVMFLAGS` environment, restart on the same dataDir, and kill -9 by PID (the
//! process guard is [`ServerProcess`], shared with the Apache harness).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::apache::{free_port, ServerProcess, START_TIMEOUT};

/// Path of the server binary Cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_zkserver");

/// How to start a `zkserver`: extra zoo.cfg lines and `-D` properties.
#[derive(Debug, Clone, Default)]
pub struct ZkServerBuilder {
    cfg: Vec<String>,
    props: Vec<String>,
    /// Leave out the harness defaults that tests may want to override (e.g. whitelist).
    no_default_whitelist: bool,
}

impl ZkServerBuilder {
    /// Adds a zoo.cfg line `key=value` (later lines override earlier ones, as in Java's
    /// `Properties`).
    pub fn cfg(mut self, key: &str, value: impl ToString) -> Self {
        self.cfg.push(format!("{key}={}", value.to_string()));
        self
    }

    /// Adds a `-Dname=value` system property, passed through `SERVER_JVMFLAGS`.
    pub fn prop(mut self, name: &str, value: impl ToString) -> Self {
        self.props.push(format!("{name}={}", value.to_string()));
        self
    }

    /// Does not put `4lw.commands.whitelist=*` in zoo.cfg (the server default applies).
    pub fn default_whitelist(mut self) -> Self {
        self.no_default_whitelist = true;
        self
    }

    /// Writes zoo.cfg into a fresh temp dir and starts the server; waits for `ruok`.
    pub fn start(self) -> ZkServer {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        fs::create_dir_all(&data_dir).expect("create dataDir");
        let port = free_port();
        let cfg_path = tmp.path().join("zoo.cfg");
        fs::write(&cfg_path, self.zoo_cfg(&data_dir, port)).expect("write zoo.cfg");
        let mut server = ZkServer {
            process: None,
            port,
            data_dir,
            cfg_path,
            jvmflags: self.jvmflags(),
            generation: 0,
            tmp,
        };
        server
            .spawn()
            .unwrap_or_else(|e| panic!("start zkserver: {e}"));
        server
    }

    /// The zoo.cfg text for `data_dir` and `port`.
    pub fn zoo_cfg(&self, data_dir: &Path, port: u16) -> String {
        let mut lines = vec![
            "tickTime=500".to_string(),
            format!("dataDir={}", data_dir.display()),
            format!("clientPort={port}"),
            "clientPortAddress=127.0.0.1".to_string(),
            "admin.enableServer=false".to_string(),
            "minSessionTimeout=1000".to_string(),
        ];
        if !self.no_default_whitelist {
            lines.push("4lw.commands.whitelist=*".to_string());
        }
        lines.extend(self.cfg.iter().cloned());
        lines.join("\n") + "\n"
    }

    /// The `SERVER_JVMFLAGS` value for the properties.
    pub fn jvmflags(&self) -> String {
        self.props
            .iter()
            .map(|p| format!("-D{p}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A running (or stopped) `zkserver` with its own temp dir holding zoo.cfg and dataDir.
pub struct ZkServer {
    process: Option<ServerProcess>,
    pub port: u16,
    pub data_dir: PathBuf,
    pub cfg_path: PathBuf,
    jvmflags: String,
    /// Counts starts, so each run logs to its own file.
    generation: u32,
    tmp: tempfile::TempDir,
}

impl ZkServer {
    pub fn builder() -> ZkServerBuilder {
        ZkServerBuilder::default()
    }

    /// A server with the harness defaults.
    pub fn start_default() -> ZkServer {
        Self::builder().start()
    }

    /// "127.0.0.1:port".
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// PID of the running process.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid())
    }

    /// The directory holding the txn logs and snapshots (`dataDir/version-2`).
    pub fn version2_dir(&self) -> PathBuf {
        self.data_dir.join("version-2")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg(&self.cfg_path)
            .env("SERVER_JVMFLAGS", &self.jvmflags)
            .env_remove("JVMFLAGS")
            .env("ZKSERVER_LOG", "info");
        cmd
    }

    fn spawn(&mut self) -> Result<(), String> {
        self.generation += 1;
        let log = self
            .tmp
            .path()
            .join(format!("server-{}.log", self.generation));
        let p = ServerProcess::spawn(self.command(), self.addr(), log)?;
        self.process = Some(p);
        Ok(())
    }

    /// Sends SIGKILL to the server's PID (no shutdown hooks run) and waits for it to go.
    pub fn kill9(&mut self) {
        if let Some(mut p) = self.process.take() {
            let pid = p.pid().to_string();
            let status = Command::new("kill")
                .args(["-9", &pid])
                .status()
                .expect("run kill -9");
            assert!(status.success(), "kill -9 {pid} failed");
            // Reaps the child (kill again is a no-op on a dead process).
            p.kill();
        }
    }

    /// Starts the binary again on the same zoo.cfg and dataDir (the old process must be gone).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn()
            .unwrap_or_else(|e| panic!("restart zkserver: {e}"));
    }

    /// Starts again after [`ZkServer::kill9`], returning the error instead of panicking.
    pub fn try_start_again(&mut self) -> Result<(), String> {
        assert!(self.process.is_none(), "server still running");
        self.spawn()
    }

    /// The tail of the current run's log.
    pub fn log_tail(&self) -> String {
        self.process
            .as_ref()
            .map(|p| p.log_tail())
            .unwrap_or_default()
    }

    /// Sends a 4-letter word (blocking I/O, for use outside async code).
    pub fn four_letter(&self, cmd: &str) -> Option<String> {
        super::apache::four_letter_blocking(&self.addr(), cmd)
    }
}

/// Runs the binary on `cfg_text` (written to a temp zoo.cfg) expecting it to exit by itself;
/// returns its status and combined output. Panics if it is still running after the start
/// timeout (it is then killed by PID).
pub fn run_to_exit(cfg_text: &str, jvmflags: &str) -> (ExitStatus, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cfg_path = tmp.path().join("zoo.cfg");
    fs::write(&cfg_path, cfg_text).expect("write zoo.cfg");
    let log = tmp.path().join("out.log");
    let out = fs::File::create(&log).expect("log file");
    let err = out.try_clone().expect("clone log handle");
    let mut child = Command::new(BIN)
        .arg(&cfg_path)
        .env("SERVER_JVMFLAGS", jvmflags)
        .env_remove("JVMFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn zkserver");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("wait zkserver") {
            return (status, fs::read_to_string(&log).unwrap_or_default());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "zkserver did not exit: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fresh temp dir and free port for hand-written configs; the dir lives as long as the guard.
pub fn scratch() -> (tempfile::TempDir, u16) {
    (tempfile::tempdir().expect("temp dir"), free_port())
}
