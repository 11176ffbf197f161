//! Proves the harness end to end: `zkbench run` against a zkserver started in-process on
//! loopback, with a bounded op count, both drivers; and against a 3-server ensemble.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts zkserver on a background runtime; returns its address and the data dir guard.
fn start_server() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n",
        dir.path().join("data").display()
    );
    serve_in_background(zkserver::config::ServerConfig::parse_str(&text, dir.path(), &[]).unwrap());
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (addr, dir)
}

/// Runs `cfg` on a background runtime of its own.
fn serve_in_background(cfg: zkserver::config::ServerConfig) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let _ = rt.block_on(zkserver::server::run(cfg));
    });
}

/// `srvr`'s value of `key` (e.g. "Mode", "Received").
fn srvr_field(addr: &str, key: &str) -> Option<String> {
    let text = zkbench::servers::four_letter(addr, "srvr")?;
    let prefix = format!("{key}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().to_string())
}

fn received(addr: &str) -> u64 {
    srvr_field(addr, "Received")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_zkbench"))
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zkbench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn zkbench_run_against_zkserver() {
    let (addr, _dir) = start_server();
    for (workload, driver) in [
        ("mix", "raw"),
        ("create", "raw"),
        ("exists", "raw"),
        ("setdata", "client"),
    ] {
        let v = run_json(&[
            "run",
            "--target",
            &addr,
            "--workload",
            workload,
            "--read-pct",
            "50",
            "--sessions",
            "4",
            "--outstanding",
            "4",
            "--keys",
            "20",
            "--ops",
            "2000",
            "--driver",
            driver,
        ]);
        assert_eq!(v["ops"], 2000, "{workload}/{driver}: {v}");
        assert_eq!(v["errors"], 0, "{workload}/{driver}: {v}");
        assert_eq!(v["latency"]["count"], 2000);
        assert!(v["ops_per_sec"].as_f64().unwrap() > 0.0);
        assert!(
            v["latency"]["p50_us"].as_u64().unwrap() <= v["latency"]["p99_us"].as_u64().unwrap()
        );
    }
    // Latency mode: one session, one outstanding request, bounded by time.
    let v = run_json(&[
        "latency",
        "--target",
        &addr,
        "--workload",
        "getdata",
        "--duration",
        "1",
    ]);
    assert_eq!(v["sessions"], 1);
    assert_eq!(v["outstanding"], 1);
    assert_eq!(v["errors"], 0);
    assert!(v["ops"].as_u64().unwrap() > 10);

    // Paced (open loop): never more than the offered rate; a responsive server gets most of it.
    let v = run_json(&[
        "run",
        "--target",
        &addr,
        "--workload",
        "setdata",
        "--sessions",
        "4",
        "--outstanding",
        "16",
        "--rate",
        "500",
        "--duration",
        "2",
    ]);
    let ops = v["ops"].as_u64().unwrap();
    assert!((500..=1004).contains(&ops), "paced ops {ops}: {v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["pace"], 500.0);

    // The restart probe: a known key answers, a missing one does not.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use zkserver::proto::codes::op;
        let limit = Duration::from_secs(5);
        let known = zkbench::raw::get_data_body("/zkbench/v100/k000000");
        assert!(zkbench::raw::probe(&addr, op::GET_DATA, &known, limit).await);
        let missing = zkbench::raw::get_data_body("/zkbench/nope");
        assert!(!zkbench::raw::probe(&addr, op::GET_DATA, &missing, limit).await);
        let since = Instant::now();
        let took = zkbench::load::wait_get_data(&addr, "/zkbench/v100/k000000", since, limit).await;
        assert!(took.is_some_and(|d| d < limit));
    });
}

/// A connect string spreads the sessions over an ensemble's members, as `zkbench compare`'s
/// 3-server matrix does: every member receives requests and no request fails.
#[test]
fn zkbench_run_spreads_sessions_over_an_ensemble() {
    use zkbench::servers::{ensemble_defs_for, Flavor};
    let dir = tempfile::tempdir().unwrap();
    let defs = ensemble_defs_for(Flavor::Zkserver, &dir.path().join("e"), 3).unwrap();
    for d in &defs {
        let data = d.data_dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), format!("{}\n", d.myid.unwrap())).unwrap();
        let cfg_path = d.data_dir.join("zoo.cfg");
        std::fs::write(&cfg_path, d.zoo_cfg()).unwrap();
        serve_in_background(zkserver::config::ServerConfig::load(&cfg_path).unwrap());
    }
    let addrs: Vec<String> = defs.iter().map(|d| d.addr()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let modes: Vec<Option<String>> = addrs.iter().map(|a| srvr_field(a, "Mode")).collect();
        let leaders = modes
            .iter()
            .filter(|m| m.as_deref() == Some("leader"))
            .count();
        let followers = modes
            .iter()
            .filter(|m| m.as_deref() == Some("follower"))
            .count();
        if leaders == 1 && followers == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no leader and 2 followers: {modes:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let before: Vec<u64> = addrs.iter().map(|a| received(a)).collect();
    let target = addrs.join(",");
    let v = run_json(&[
        "run",
        "--target",
        &target,
        "--workload",
        "mix",
        "--read-pct",
        "50",
        "--sessions",
        "6",
        "--outstanding",
        "4",
        "--keys",
        "20",
        "--ops",
        "3000",
    ]);
    assert_eq!(v["ops"], 3000, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    for (i, a) in addrs.iter().enumerate() {
        let got = received(a) - before[i];
        // Two sessions per member, ~500 requests each.
        assert!(got >= 500, "member {a} received only {got} packets");
    }
}
