//! The load generator: many sessions, each with many outstanding requests (one request stream
//! per outstanding slot), bounded by a duration or a total op count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;
use zkserver::client::{Client, ClientConfig, ClientError};
use zkserver::proto::codes::{CreateMode, ErrorCode};
use zkserver::proto::records::Acl;

use crate::error::BenchError;
use crate::stats::Summary;
use crate::workload::{create_dir, OpKind, Spec, Workload, ROOT};

/// When a run stops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Limit {
    /// Run for this long (seconds).
    Seconds(f64),
    /// Send exactly this many requests in total.
    Ops(u64),
}

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// "host:port" of the server, or several comma-separated (a connect string): session
    /// `i` then talks to host `i mod n`, as clients spread over an ensemble.
    pub target: String,
    pub spec: Spec,
    pub sessions: usize,
    /// Outstanding requests per session.
    pub outstanding: usize,
    pub limit: Limit,
    pub driver: Driver,
    /// Open loop: offer this many requests per second in total (spread evenly over the
    /// sessions, each with at most `outstanding` in flight) instead of sending the next
    /// request when one is answered. Raw driver only.
    pub pace: Option<f64>,
}

/// How requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// Hand-encoded frames, one task per session (cheap: the default).
    Raw,
    /// `zkserver::client::Client`, one task per outstanding request.
    Client,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    pub label: String,
    pub spec: Spec,
    pub sessions: usize,
    pub outstanding: usize,
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed_s: f64,
    pub ops_per_sec: f64,
    pub latency: Summary,
    /// The offered rate of a paced run.
    pub pace: Option<f64>,
    /// Paced runs: sends held back because `outstanding` requests were already in flight
    /// (the server fell behind the offered rate).
    pub held_back: u64,
}

/// Per-request bound: a wedged server fails the run instead of hanging it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Opens a benchmark session (no reconnects: a lost connection is an error of the run).
pub async fn connect(target: &str, connect_timeout: Duration) -> Result<Client, BenchError> {
    let mut cfg = ClientConfig::new([target]).with_session_timeout(Duration::from_secs(30));
    cfg.auto_reconnect = false;
    cfg.request_timeout = Some(REQUEST_TIMEOUT);
    cfg.connect_timeout = connect_timeout;
    let (client, _events) = Client::connect(cfg).await?;
    Ok(client)
}

/// The hosts of a connect string, in order.
pub fn hosts(target: &str) -> Vec<&str> {
    target
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect()
}

/// Creates `path` unless it exists.
async fn ensure(client: &Client, path: &str, data: &[u8]) -> Result<(), BenchError> {
    match client
        .create(path, data, &Acl::open_unsafe(), CreateMode::Persistent)
        .await
    {
        Ok(_) | Err(ClientError::Api(ErrorCode::NodeExists)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates the znodes a workload reads and writes (idempotent): the root, the create parent
/// and `spec.keys` keys holding `spec.value_size` bytes, many creates in flight at once.
pub async fn prepare(client: &Client, spec: &Spec) -> Result<(), BenchError> {
    ensure(client, ROOT, b"").await?;
    ensure(client, &format!("{ROOT}/c"), b"").await?;
    if spec.workload == Workload::Create {
        return Ok(());
    }
    ensure(client, &spec.key_dir(), b"").await?;
    let value = Arc::new(spec.value());
    let mut set = JoinSet::new();
    for k in 0..spec.keys as u64 {
        let (c, v, path) = (client.clone(), value.clone(), spec.key_path(k));
        set.spawn(async move { ensure(&c, &path, &v).await });
        if set.len() >= 256 {
            if let Some(r) = set.join_next().await {
                r.map_err(|e| BenchError::Invalid(e.to_string()))??;
            }
        }
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| BenchError::Invalid(e.to_string()))??;
    }
    Ok(())
}

/// Shared stop condition of all streams.
pub struct Stop {
    deadline: Option<Instant>,
    budget: Option<u64>,
    issued: AtomicU64,
}

impl Stop {
    /// Claims the next request; false once the run is over.
    pub fn next(&self) -> bool {
        if let Some(n) = self.budget {
            return self.issued.fetch_add(1, Ordering::Relaxed) < n;
        }
        self.deadline.is_some_and(|d| Instant::now() < d)
    }
}

/// What one request stream (or raw session) measured.
#[derive(Default)]
pub struct StreamOut {
    /// Latencies of successful requests, microseconds.
    pub samples: Vec<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
}

fn fatal(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::ConnectionLoss
            | ClientError::SessionExpired
            | ClientError::Closed
            | ClientError::Timeout
            | ClientError::Io(_)
    )
}

/// One request stream: sends the next request when the previous one is answered.
async fn stream(
    client: Client,
    spec: Spec,
    id: u64,
    dir: Option<String>,
    stop: Arc<Stop>,
) -> StreamOut {
    let value = spec.value();
    let mut out = StreamOut::default();
    let mut i: u64 = 0;
    // Spread streams over the key space so that they do not all hit the same key.
    let offset = id.wrapping_mul(7919);
    while stop.next() {
        let key = spec.key_path(offset.wrapping_add(i.wrapping_mul(31)));
        let started = Instant::now();
        let res = match spec.op_for(i) {
            OpKind::GetData => client.get_data(&key, false).await.map(drop),
            OpKind::SetData => client.set_data(&key, &value, -1).await.map(drop),
            OpKind::Exists => client.exists(&key, false).await.map(drop),
            OpKind::Create => {
                let parent = dir.as_deref().unwrap_or(ROOT);
                let path = format!("{parent}/n{i}");
                client
                    .create(&path, &value, &Acl::open_unsafe(), CreateMode::Persistent)
                    .await
                    .map(drop)
            }
        };
        i += 1;
        match res {
            Ok(()) => out.samples.push(started.elapsed().as_micros() as u64),
            Err(e) => {
                out.errors += 1;
                let stop_now = fatal(&e);
                out.first_error.get_or_insert_with(|| e.to_string());
                if stop_now {
                    break;
                }
            }
        }
    }
    out
}

/// A tag that keeps the create parents of different runs apart.
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}", nanos % (1u128 << 64))
}

/// Runs one load: connects the sessions, prepares the znodes, then measures.
pub async fn run_load(cfg: &LoadConfig) -> Result<LoadResult, BenchError> {
    if cfg.sessions == 0 || cfg.outstanding == 0 {
        return Err(BenchError::Invalid(
            "sessions and outstanding must be at least 1".into(),
        ));
    }
    if let Some(rate) = cfg.pace {
        if cfg.driver != Driver::Raw || !(rate.is_finite() && rate > 0.0) {
            return Err(BenchError::Invalid(
                "a paced run needs the raw driver and a positive rate".into(),
            ));
        }
    }
    let hosts = hosts(&cfg.target);
    if hosts.is_empty() {
        return Err(BenchError::Invalid(format!(
            "no host in target {:?}",
            cfg.target
        )));
    }
    let admin = connect(hosts[0], Duration::from_secs(10)).await?;
    prepare(&admin, &cfg.spec).await?;
    // Create streams each get their own parent, made before the clock starts.
    let tag = run_tag();
    let streams_per_session = match cfg.driver {
        Driver::Raw => 1,
        Driver::Client => cfg.outstanding,
    };
    let mut dirs = Vec::new();
    for s in 0..cfg.sessions {
        for k in 0..streams_per_session {
            if cfg.spec.workload == Workload::Create {
                let d = create_dir(&tag, s, k);
                ensure(&admin, &d, b"").await?;
                dirs.push(Some(d));
            } else {
                dirs.push(None);
            }
        }
    }
    let _ = admin.close().await;
    let mut clients = Vec::new();
    let mut raws = Vec::new();
    for s in 0..cfg.sessions {
        let host = hosts[s % hosts.len()];
        match cfg.driver {
            Driver::Client => clients.push(connect(host, Duration::from_secs(10)).await?),
            Driver::Raw => raws.push(crate::raw::open(host, Duration::from_secs(10)).await?),
        }
    }
    let start = Instant::now();
    let stop = Arc::new(match cfg.limit {
        Limit::Seconds(s) => Stop {
            deadline: Some(start + Duration::from_secs_f64(s.max(0.0))),
            budget: None,
            issued: AtomicU64::new(0),
        },
        Limit::Ops(n) => Stop {
            deadline: None,
            budget: Some(n),
            issued: AtomicU64::new(0),
        },
    });
    let mut set = JoinSet::new();
    let mut dirs = dirs.into_iter();
    for (s, client) in clients.iter().enumerate() {
        for k in 0..cfg.outstanding {
            let id = (s * cfg.outstanding + k) as u64;
            let dir = dirs.next().flatten();
            let run = stream(client.clone(), cfg.spec, id, dir, stop.clone());
            set.spawn(async move { (run.await, 0) });
        }
    }
    for (s, conn) in raws.into_iter().enumerate() {
        let (dir, stop, spec, id) = (dirs.next().flatten(), stop.clone(), cfg.spec, s as u64);
        let outstanding = cfg.outstanding;
        match cfg.pace {
            Some(rate) => set.spawn(crate::raw::drive_paced(
                conn,
                spec,
                id,
                dir,
                rate / cfg.sessions as f64,
                outstanding,
                stop,
            )),
            None => set.spawn(async move {
                let out = crate::raw::drive(conn, spec, id, dir, outstanding, stop).await;
                (out, 0)
            }),
        };
    }
    let mut samples = Vec::new();
    let (mut errors, mut first_error, mut held_back) = (0, None, 0);
    while let Some(r) = set.join_next().await {
        let (out, held) = r.map_err(|e| BenchError::Invalid(format!("stream task: {e}")))?;
        held_back += held;
        samples.extend_from_slice(&out.samples);
        errors += out.errors;
        if first_error.is_none() {
            first_error = out.first_error;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    for c in clients {
        // Closing is best effort: the figures are taken already.
        let _ = c.close().await;
    }
    let latency = Summary::from_samples(&mut samples);
    Ok(LoadResult {
        label: cfg.spec.label(),
        spec: cfg.spec,
        sessions: cfg.sessions,
        outstanding: cfg.outstanding,
        ops: latency.count,
        errors,
        first_error,
        elapsed_s: elapsed,
        ops_per_sec: if elapsed > 0.0 {
            latency.count as f64 / elapsed
        } else {
            0.0
        },
        latency,
        pace: cfg.pace,
        held_back,
    })
}

/// Waits until a getData of `path` succeeds on `target` (polling every 10 ms with fresh
/// sessions); returns the time since `since`, or `None` when `limit` passes first.
pub async fn wait_get_data(
    target: &str,
    path: &str,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    let body = crate::raw::get_data_body(path);
    let deadline = since + limit;
    while Instant::now() < deadline {
        if crate::raw::probe(
            target,
            zkserver::proto::codes::op::GET_DATA,
            &body,
            Duration::from_secs(2),
        )
        .await
        {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}
