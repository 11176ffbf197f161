//! Runs an ensemble of OUR `zkserver` binaries on 127.0.0.1: one temp dir per member (zoo.cfg,
//! dataDir with myid, log per run), kill -9 / restart by index, role queries through `srvr`,
//! and tree dumps for comparing what every member holds.
//!
//! Ensembles in one test binary are serialized by a process-wide lock: the machine has two
//! busy cores and several 3–5 process ensembles at once would make every timing-based step
//! (elections, session timeouts) flaky.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::apache::free_port;
use super::zkserver::BIN;
use zkserver::client::{four_letter_word, Client, ClientConfig, ClientError};
use zkserver::proto::records::Stat;

/// Generous bound for elections, catch-up and convergence on two busy cores.
pub const ENSEMBLE_WAIT: Duration = Duration::from_secs(40);

static SERIAL: Mutex<()> = Mutex::new(());

/// How to configure an ensemble.
#[derive(Debug, Clone)]
pub struct EnsembleBuilder {
    voters: usize,
    observers: usize,
    tick_ms: u32,
    init_limit: u32,
    sync_limit: u32,
    extra: Vec<String>,
    http: bool,
    spares: usize,
}

impl EnsembleBuilder {
    /// `voters` participants, no observers, tickTime 300 ms.
    pub fn new(voters: usize) -> Self {
        EnsembleBuilder {
            voters,
            observers: 0,
            tick_ms: 300,
            init_limit: 20,
            sync_limit: 10,
            extra: Vec::new(),
            http: false,
            spares: 0,
        }
    }

    /// Prepares `n` more servers (ids after the others) that are neither started nor in the
    /// others' config: each one's zoo.cfg lists the ensemble plus itself, as Apache's guide
    /// says a server about to be added by `reconfig -add` is configured. Start one with
    /// [`Ensemble::restart`].
    pub fn spares(mut self, n: usize) -> Self {
        self.spares = n;
        self
    }

    /// Adds `n` observers (ids after the voters).
    pub fn observers(mut self, n: usize) -> Self {
        self.observers = n;
        self
    }

    pub fn tick_ms(mut self, ms: u32) -> Self {
        self.tick_ms = ms;
        self
    }

    /// Gives every member a Prometheus endpoint and an AdminServer on loopback ports of its
    /// own (`Member::metrics_port`, `Member::admin_port`).
    pub fn with_http(mut self) -> Self {
        self.http = true;
        self
    }

    /// Adds a zoo.cfg line `key=value` to every member.
    pub fn cfg(mut self, key: &str, value: impl ToString) -> Self {
        self.extra.push(format!("{key}={}", value.to_string()));
        self
    }

    /// Writes the configs, starts every member and waits until all of them serve with
    /// exactly one leader.
    pub async fn start(self) -> Ensemble {
        let lock = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let mut tmp = tempfile::tempdir().expect("temp dir");
        if std::env::var_os("ENSEMBLE_KEEP").is_some() {
            // Debugging a flaky run: the members' dirs and full logs stay behind.
            tmp.disable_cleanup(true);
            eprintln!("ensemble dir kept: {}", tmp.path().display());
        }
        let members_n = self.voters + self.observers;
        let total = members_n + self.spares;
        let mut ports = distinct_ports(5 * total).into_iter();
        let mut next_port = || ports.next().expect("enough ports");
        let mut members: Vec<Member> = (0..total)
            .map(|i| {
                let dir = tmp.path().join(format!("s{}", i + 1));
                let data_dir = dir.join("data");
                fs::create_dir_all(&data_dir).expect("create dataDir");
                fs::write(data_dir.join("myid"), format!("{}\n", i + 1)).expect("write myid");
                Member {
                    id: i as u64 + 1,
                    observer: i >= self.voters && i < members_n,
                    client_port: next_port(),
                    quorum_port: next_port(),
                    election_port: next_port(),
                    metrics_port: next_port(),
                    admin_port: next_port(),
                    cfg_path: dir.join("zoo.cfg"),
                    data_dir,
                    dir,
                    child: None,
                    generation: 0,
                }
            })
            .collect();
        let server_lines: Vec<String> = members[..members_n]
            .iter()
            .map(|m| {
                format!(
                    "server.{}=127.0.0.1:{}:{}{}",
                    m.id,
                    m.quorum_port,
                    m.election_port,
                    if m.observer { ":observer" } else { "" }
                )
            })
            .collect();
        for (i, m) in members.iter().enumerate() {
            let mut lines = vec![
                format!("tickTime={}", self.tick_ms),
                format!("initLimit={}", self.init_limit),
                format!("syncLimit={}", self.sync_limit),
                format!("dataDir={}", m.data_dir.display()),
                format!("clientPort={}", m.client_port),
                "clientPortAddress=127.0.0.1".to_string(),
                "admin.enableServer=false".to_string(),
                "4lw.commands.whitelist=*".to_string(),
                "minSessionTimeout=1000".to_string(),
                "maxSessionTimeout=60000".to_string(),
            ];
            if m.observer {
                lines.push("peerType=observer".to_string());
            }
            if self.http {
                lines.extend([
                    "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider".to_string(),
                    "metricsProvider.httpHost=127.0.0.1".to_string(),
                    format!("metricsProvider.httpPort={}", m.metrics_port),
                    "admin.enableServer=true".to_string(),
                    "admin.serverAddress=127.0.0.1".to_string(),
                    format!("admin.serverPort={}", m.admin_port),
                ]);
            }
            lines.extend(server_lines.iter().cloned());
            if i >= members_n {
                lines.push(m.server_spec());
            }
            lines.extend(self.extra.iter().cloned());
            fs::write(&m.cfg_path, lines.join("\n") + "\n").expect("write zoo.cfg");
        }
        for m in &mut members[..members_n] {
            m.spawn();
        }
        let ens = Ensemble {
            members,
            _tmp: tmp,
            _lock: lock,
        };
        ens.wait_all_serving().await;
        ens.wait_leader().await;
        ens
    }
}

/// The members' log filter: `ENSEMBLE_LOG` (e.g. `debug`) when set, else `info`.
fn log_level() -> String {
    std::env::var("ENSEMBLE_LOG").unwrap_or_else(|_| "info".to_string())
}

/// `n` different free loopback ports. Separate `free_port` calls can hand out the same port
/// twice; a quorum port only binds once its member leads, so a duplicate would surface much
/// later as a leader that cannot listen and learners dialling another member's client port.
fn distinct_ports(n: usize) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::with_capacity(n);
    // Bounded: duplicates are rare, a few hundred draws always suffice.
    for _ in 0..100 * n.max(1) {
        if out.len() == n {
            break;
        }
        let p = free_port();
        if !out.contains(&p) {
            out.push(p);
        }
    }
    assert_eq!(out.len(), n, "could not find {n} distinct free ports");
    out
}

/// One ensemble member: its ports, files and (when running) its process.
pub struct Member {
    pub id: u64,
    pub observer: bool,
    pub client_port: u16,
    pub quorum_port: u16,
    pub election_port: u16,
    /// Prometheus and AdminServer ports (used when built `with_http`).
    pub metrics_port: u16,
    pub admin_port: u16,
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    pub cfg_path: PathBuf,
    child: Option<Child>,
    generation: u32,
}

impl Member {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// `server.N=...` with its role and client address, as `reconfig -add` takes it.
    pub fn server_spec(&self) -> String {
        format!(
            "server.{}=127.0.0.1:{}:{}:{};127.0.0.1:{}",
            self.id,
            self.quorum_port,
            self.election_port,
            if self.observer {
                "observer"
            } else {
                "participant"
            },
            self.client_port
        )
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("server-{}.log", self.generation))
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "server {} still running", self.id);
        self.generation += 1;
        let out = fs::File::create(self.log_path()).expect("create log");
        let err = out.try_clone().expect("clone log handle");
        let child = Command::new(BIN)
            .arg(&self.cfg_path)
            .env("SERVER_JVMFLAGS", "")
            .env_remove("JVMFLAGS")
            .env("ZKSERVER_LOG", log_level())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("spawn zkserver");
        self.child = Some(child);
    }

    /// SIGKILL by PID (no shutdown path runs), then reap.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last lines of the current run's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Path → (data, stat) of every znode, as one member sees it.
pub type TreeDump = BTreeMap<String, (Vec<u8>, Stat)>;

/// A running ensemble; members are indexed from 0 (server id = index + 1).
pub struct Ensemble {
    pub members: Vec<Member>,
    _tmp: tempfile::TempDir,
    _lock: MutexGuard<'static, ()>,
}

impl Ensemble {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn addr(&self, i: usize) -> String {
        self.members[i].addr()
    }

    /// "h1:p1,h2:p2,..." for every member.
    pub fn connect_string(&self) -> String {
        self.members
            .iter()
            .map(Member::addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Indices of members whose process is running.
    pub fn running(&self) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.members[i].child.is_some())
            .collect()
    }

    pub fn kill9(&mut self, i: usize) {
        self.members[i].kill9();
    }

    /// Rewrites spare `i`'s membership to `members` plus itself, as an operator configures a
    /// server it is about to add: it syncs as a non-voting follower of the current leader,
    /// and `reconfig -add` then makes it a voter.
    pub fn prepare_joiner(&mut self, i: usize, members: &[usize]) {
        let lines: Vec<String> = members
            .iter()
            .chain(std::iter::once(&i))
            .map(|&m| self.members[m].server_spec())
            .collect();
        let path = &self.members[i].cfg_path;
        let text = fs::read_to_string(path).expect("read zoo.cfg");
        let mut kept: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with("server.") && !l.starts_with("clientPort"))
            .map(String::from)
            .collect();
        kept.extend(lines);
        fs::write(path, kept.join("\n") + "\n").expect("write zoo.cfg");
    }

    /// Starts member `i` again on its dataDir (kills it first if it is still running). Does
    /// not wait: use [`Ensemble::wait_serving`].
    pub fn restart(&mut self, i: usize) {
        self.members[i].kill9();
        self.members[i].spawn();
    }

    /// Member `i`'s answer to the 4-letter word `cmd`, or `None` if it does not answer
    /// within 5 s.
    async fn four_letter(&self, i: usize, cmd: &str) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(5), four_letter_word(&self.addr(i), cmd))
            .await
            .ok()?
            .ok()
    }

    /// The `Mode:` of member `i` ("leader", "follower", "observer", "standalone"), or `None`
    /// while it is not serving or not answering.
    pub async fn mode(&self, i: usize) -> Option<String> {
        let out = self.four_letter(i, "srvr").await?;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(|m| m.trim().to_string())
    }

    /// The value of `key` (e.g. `zk_synced_followers`) in member `i`'s `mntr` answer, or
    /// `None` while it is not answering or does not show that key.
    pub async fn mntr(&self, i: usize, key: &str) -> Option<String> {
        let out = self.four_letter(i, "mntr").await?;
        out.lines().find_map(|l| {
            let (k, v) = l.split_once('\t')?;
            (k == key).then(|| v.to_string())
        })
    }

    /// The one running member reporting leader mode, if exactly one does.
    pub async fn leader(&self) -> Option<usize> {
        let mut leaders = Vec::new();
        for i in self.running() {
            if self.mode(i).await.as_deref() == Some("leader") {
                leaders.push(i);
            }
        }
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Waits until exactly one member leads and every other running member serves as
    /// follower or observer (as configured); returns the leader's index.
    pub async fn wait_leader(&self) -> usize {
        let found = self
            .poll("a leader and serving learners", || async {
                let leader = self.leader().await?;
                for i in self.running() {
                    if i == leader {
                        continue;
                    }
                    let want = if self.members[i].observer {
                        "observer"
                    } else {
                        "follower"
                    };
                    if self.mode(i).await.as_deref() != Some(want) {
                        return None;
                    }
                }
                Some(leader)
            })
            .await;
        found
    }

    /// Waits until member `i` serves clients (any mode).
    pub async fn wait_serving(&self, i: usize) {
        self.poll(&format!("server {} serving", i + 1), || async {
            self.mode(i).await.map(|_| ())
        })
        .await
    }

    pub async fn wait_all_serving(&self) {
        for i in self.running() {
            self.wait_serving(i).await;
        }
    }

    /// Polls `f` every 100 ms until it yields `Some`, at most [`ENSEMBLE_WAIT`]; panics with
    /// the members' log tails otherwise.
    pub async fn poll<T, F, Fut>(&self, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + ENSEMBLE_WAIT;
        loop {
            if let Some(v) = f().await {
                return v;
            }
            if Instant::now() >= deadline {
                panic!("timed out waiting for {what}\n{}", self.logs(25));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Log tails of every member, for failure messages.
    pub fn logs(&self, lines: usize) -> String {
        self.members
            .iter()
            .map(|m| format!("--- server {} ---\n{}", m.id, m.log_tail(lines)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A session on member `i` only (no failover).
    pub async fn client(&self, i: usize) -> Client {
        let cfg = ClientConfig::new([self.addr(i)]).with_session_timeout(Duration::from_secs(15));
        match Client::connect(cfg).await {
            Ok((c, _events)) => c,
            Err(e) => panic!("connect to server {}: {e}\n{}", i + 1, self.logs(20)),
        }
    }

    /// A session on member `i` only, whose every request fails with `ClientError::Timeout`
    /// after `request_timeout`: a request the server never answers fails the test instead
    /// of hanging it.
    pub async fn client_bounded(&self, i: usize, request_timeout: Duration) -> Client {
        let mut cfg =
            ClientConfig::new([self.addr(i)]).with_session_timeout(Duration::from_secs(15));
        cfg.request_timeout = Some(request_timeout);
        match Client::connect(cfg).await {
            Ok((c, _events)) => c,
            Err(e) => panic!("connect to server {}: {e}\n{}", i + 1, self.logs(20)),
        }
    }

    /// Every znode on member `i` after a `sync`, read through a fresh session.
    pub async fn dump(&self, i: usize) -> Result<TreeDump, ClientError> {
        let cfg = ClientConfig::new([self.addr(i)]).with_session_timeout(Duration::from_secs(15));
        let (c, _events) = Client::connect(cfg).await?;
        let result = dump_tree(&c).await;
        let _ = c.close().await;
        result
    }

    /// Waits until every running member holds the same tree; returns it.
    pub async fn wait_converged(&self) -> TreeDump {
        let mut last: String;
        let deadline = Instant::now() + ENSEMBLE_WAIT;
        loop {
            match self.dumps().await {
                Ok(dumps) => {
                    let first = &dumps[0].1;
                    let differing: Vec<u64> = dumps
                        .iter()
                        .filter(|(_, d)| d != first)
                        .map(|(i, _)| *i as u64 + 1)
                        .collect();
                    if differing.is_empty() {
                        return dumps[0].1.clone();
                    }
                    last = diff_summary(&dumps);
                }
                Err(e) => last = format!("dump failed: {e}"),
            }
            if Instant::now() >= deadline {
                panic!("members did not converge: {last}\n{}", self.logs(25));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn dumps(&self) -> Result<Vec<(usize, TreeDump)>, ClientError> {
        let mut out = Vec::new();
        for i in self.running() {
            out.push((i, self.dump(i).await?));
        }
        Ok(out)
    }
}

/// Walks the whole tree breadth-first after syncing with the leader.
pub async fn dump_tree(c: &Client) -> Result<TreeDump, ClientError> {
    c.sync("/").await?;
    let mut out = TreeDump::new();
    let mut queue = vec!["/".to_string()];
    // Bounded: every path is visited once, and test trees stay far below this.
    for _ in 0..1_000_000 {
        let Some(path) = queue.pop() else {
            return Ok(out);
        };
        let (data, stat) = match c.get_data(&path, false).await {
            Ok(v) => v,
            // Deleted while walking: the caller retries until members agree.
            Err(e) if e.is_api(zkserver::proto::codes::ErrorCode::NoNode) => continue,
            Err(e) => return Err(e),
        };
        let children = match c.get_children(&path, false).await {
            Ok(v) => v,
            Err(e) if e.is_api(zkserver::proto::codes::ErrorCode::NoNode) => continue,
            Err(e) => return Err(e),
        };
        for child in children {
            queue.push(if path == "/" {
                format!("/{child}")
            } else {
                format!("{path}/{child}")
            });
        }
        out.insert(path, (data.unwrap_or_default(), stat));
    }
    Err(ClientError::Protocol("tree too large to dump".into()))
}

/// The first difference between the first dump and each other, for failure messages.
fn diff_summary(dumps: &[(usize, TreeDump)]) -> String {
    let (i0, first) = &dumps[0];
    let mut out = Vec::new();
    for (i, d) in &dumps[1..] {
        if d == first {
            continue;
        }
        let only_first = first.keys().find(|k| !d.contains_key(*k));
        let only_other = d.keys().find(|k| !first.contains_key(*k));
        let changed = first
            .iter()
            .find(|(k, v)| d.get(*k).is_some_and(|w| w != *v))
            .map(|(k, v)| format!("{k}: {v:?} vs {:?}", d.get(k)));
        out.push(format!(
            "server {} vs {} ({} vs {} nodes): only in first {only_first:?}, only in other \
             {only_other:?}, changed {changed:?}",
            i0 + 1,
            i + 1,
            first.len(),
            d.len()
        ));
    }
    out.join("; ")
}
