//! Election time: a 3-member ensemble (default tickTime=2000) whose leader is killed with
//! SIGKILL again and again; each round times, from the kill, (a) the first write that
//! succeeds through a survivor and (b) the first moment `srvr` on both survivors shows a new
//! leader and a follower. The killed member is restarted and rejoins before the next round.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::Runtime;
use zkserver::client::{Client, ClientConfig};
use zkserver::proto::codes::CreateMode;
use zkserver::proto::records::Acl;

use crate::error::BenchError;
use crate::servers::{self, Flavor, Launcher, Server};
use crate::stats::percentile;

/// The znode every round writes.
const NODE: &str = "/zkbench-election";
/// How long members may take to start, and a round to recover, before the bench gives up.
const START_LIMIT: Duration = Duration::from_secs(120);

/// What to measure.
#[derive(Debug, Clone, Serialize)]
pub struct ElectionConfig {
    pub flavor: Flavor,
    pub zkserver_bin: PathBuf,
    pub workdir: PathBuf,
    /// Leader kills (each one a sample).
    pub rounds: usize,
    /// Give up on a round after this long.
    pub round_limit: Duration,
}

/// One leader kill.
#[derive(Debug, Clone, Serialize)]
pub struct ElectionSample {
    /// myid of the killed leader.
    pub killed: u32,
    /// myid of the leader that followed.
    pub new_leader: u32,
    /// Kill to first successful write through a survivor (fresh session, then setData).
    pub write_ms: f64,
    /// Kill to `srvr` on both survivors showing one leader and one follower.
    pub leader_ms: f64,
}

/// All samples plus median and p90 of each figure.
#[derive(Debug, Clone, Serialize)]
pub struct ElectionReport {
    pub flavor: Flavor,
    pub samples: Vec<ElectionSample>,
    pub write_median_ms: f64,
    pub write_p90_ms: f64,
    pub leader_median_ms: f64,
    pub leader_p90_ms: f64,
}

impl ElectionReport {
    fn new(flavor: Flavor, samples: Vec<ElectionSample>) -> ElectionReport {
        let stat = |f: fn(&ElectionSample) -> f64, p: f64| {
            let mut us: Vec<u64> = samples.iter().map(|s| (f(s) * 1000.0) as u64).collect();
            us.sort_unstable();
            percentile(&us, p).unwrap_or(0) as f64 / 1000.0
        };
        ElectionReport {
            flavor,
            write_median_ms: stat(|s| s.write_ms, 50.0),
            write_p90_ms: stat(|s| s.write_ms, 90.0),
            leader_median_ms: stat(|s| s.leader_ms, 50.0),
            leader_p90_ms: stat(|s| s.leader_ms, 90.0),
            samples,
        }
    }

    /// One line per sample, then the summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.samples.iter().enumerate() {
            out.push_str(&format!(
                "round {}: killed leader {} -> new leader {}: write after {:.0} ms, srvr shows leader after {:.0} ms\n",
                i + 1,
                s.killed,
                s.new_leader,
                s.write_ms,
                s.leader_ms
            ));
        }
        out.push_str(&format!(
            "{} ({} rounds): write median {:.0} ms p90 {:.0} ms; new leader in srvr median {:.0} ms p90 {:.0} ms\n",
            self.flavor.name(),
            self.samples.len(),
            self.write_median_ms,
            self.write_p90_ms,
            self.leader_median_ms,
            self.leader_p90_ms
        ));
        out
    }
}

/// Runs the whole measurement; members are killed by PID when it returns.
pub fn measure(cfg: &ElectionConfig, rt: &Runtime) -> Result<ElectionReport, BenchError> {
    let launcher = Launcher {
        zkserver_bin: cfg.zkserver_bin.clone(),
        apache_classpath: match cfg.flavor {
            Flavor::Apache => servers::apache_classpath(),
            Flavor::Zkserver => None,
        },
        apache_heap: "512m".into(),
    };
    if cfg.flavor == Flavor::Zkserver && !launcher.zkserver_bin.exists() {
        return Err(BenchError::Invalid(format!(
            "zkserver binary not found at {}",
            launcher.zkserver_bin.display()
        )));
    }
    let defs = servers::ensemble_defs_for(cfg.flavor, &cfg.workdir.join("election"), 3)?;
    let mut members = Vec::new();
    for d in defs {
        members.push(Server::spawn(&launcher, d)?);
    }
    for m in &mut members {
        m.wait_ready(START_LIMIT)?;
    }
    let all: Vec<String> = members.iter().map(Server::addr).collect();
    rt.block_on(create_node(&all))?;

    let mut samples = Vec::new();
    for _ in 0..cfg.rounds {
        let leader = wait_stable(&members, START_LIMIT)?;
        let modes: Vec<Option<String>> = members.iter().map(Server::mode).collect();
        let survivors: Vec<usize> = (0..members.len()).filter(|&i| i != leader).collect();
        let addrs: Vec<String> = survivors.iter().map(|&i| members[i].addr()).collect();
        let killed_at = Instant::now();
        members[leader].kill();
        let (write, seen) = rt.block_on(time_recovery(&addrs, killed_at, cfg.round_limit));
        let write = write.ok_or_else(|| {
            BenchError::Invalid(format!(
                "no write succeeded within {:?} of killing leader {} (modes before: {modes:?})",
                cfg.round_limit,
                leader + 1
            ))
        })?;
        let (leader_after, new_leader) = seen.ok_or_else(|| {
            BenchError::Invalid(format!(
                "survivors showed no leader within {:?} of the kill",
                cfg.round_limit
            ))
        })?;
        samples.push(ElectionSample {
            killed: leader as u32 + 1,
            new_leader: survivors[new_leader] as u32 + 1,
            write_ms: write.as_secs_f64() * 1000.0,
            leader_ms: leader_after.as_secs_f64() * 1000.0,
        });
        members[leader].respawn(&launcher)?;
        members[leader].wait_ready(START_LIMIT)?;
    }
    Ok(ElectionReport::new(cfg.flavor, samples))
}

async fn create_node(addrs: &[String]) -> Result<(), BenchError> {
    let mut cc = ClientConfig::new(addrs.iter().cloned());
    cc.connect_timeout = Duration::from_secs(30);
    cc.request_timeout = Some(Duration::from_secs(30));
    let (c, _events) = Client::connect(cc).await?;
    let acl = Acl::open_unsafe();
    let created = c.create(NODE, b"0", &acl, CreateMode::Persistent).await;
    match created {
        Ok(_) => {}
        Err(e) if e.is_api(zkserver::proto::codes::ErrorCode::NodeExists) => {}
        Err(e) => return Err(e.into()),
    }
    let _ = c.close().await;
    Ok(())
}

/// Waits until exactly one member leads and the others follow; returns the leader's index.
pub fn wait_stable(members: &[Server], limit: Duration) -> Result<usize, BenchError> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let modes: Vec<Option<String>> = members.iter().map(Server::mode).collect();
        let leaders: Vec<usize> = (0..modes.len())
            .filter(|&i| modes[i].as_deref() == Some("leader"))
            .collect();
        let followers = modes
            .iter()
            .filter(|m| m.as_deref() == Some("follower"))
            .count();
        if leaders.len() == 1 && followers == members.len() - 1 {
            return Ok(leaders[0]);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(BenchError::Invalid(format!(
        "no stable leader within {limit:?}"
    )))
}

/// Polls writes and `srvr` concurrently; returns the time from the kill to the first
/// successful write and to the survivors agreeing on a leader (with its index in `addrs`).
async fn time_recovery(
    addrs: &[String],
    killed_at: Instant,
    limit: Duration,
) -> (Option<Duration>, Option<(Duration, usize)>) {
    let deadline = killed_at + limit;
    let poll_addrs: Arc<Vec<String>> = Arc::new(addrs.to_vec());
    let leader_task = tokio::task::spawn_blocking(move || {
        while Instant::now() < deadline {
            let modes: Vec<Option<String>> = poll_addrs
                .iter()
                .map(|a| {
                    servers::four_letter(a, "srvr").and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("Mode: "))
                            .map(|m| m.trim().to_string())
                    })
                })
                .collect();
            let leader = modes.iter().position(|m| m.as_deref() == Some("leader"));
            let follower = modes.iter().any(|m| m.as_deref() == Some("follower"));
            if let (Some(i), true) = (leader, follower) {
                return Some((killed_at.elapsed(), i));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    });
    let mut write = None;
    let mut value = 0u64;
    // Bounded by the deadline; each attempt is a fresh session so a session lost in the
    // election cannot stall the measurement.
    while Instant::now() < deadline {
        value += 1;
        if try_write(addrs, value).await {
            write = Some(killed_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = leader_task.await.ok().flatten();
    (write, seen)
}

/// One write attempt through the survivors: connect, setData, close.
async fn try_write(addrs: &[String], value: u64) -> bool {
    let mut cc =
        ClientConfig::new(addrs.iter().cloned()).with_session_timeout(Duration::from_secs(30));
    // One pass over the survivors per attempt (each host still gets up to 1 s to answer): the
    // client's own retry backoff (50 ms doubling) would otherwise quantize the figure.
    cc.connect_timeout = Duration::from_millis(20);
    cc.request_timeout = Some(Duration::from_secs(2));
    cc.auto_reconnect = false;
    let Ok((c, _events)) = Client::connect(cc).await else {
        return false;
    };
    let ok = c
        .set_data(NODE, value.to_string().as_bytes(), -1)
        .await
        .is_ok();
    let _ = c.close().await;
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_summarises_samples() {
        let samples: Vec<ElectionSample> = [300.0, 100.0, 200.0]
            .iter()
            .map(|&ms| ElectionSample {
                killed: 1,
                new_leader: 2,
                write_ms: ms,
                leader_ms: ms / 2.0,
            })
            .collect();
        let r = ElectionReport::new(Flavor::Zkserver, samples);
        assert_eq!(r.write_median_ms, 200.0);
        assert_eq!(r.write_p90_ms, 300.0);
        assert_eq!(r.leader_median_ms, 100.0);
        assert!(r.text().contains("write median 200 ms p90 300 ms"));
    }
}
