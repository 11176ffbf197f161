//! Proves the harness end to end: `zkbench run` against a zkserver started in-process on
//! loopback, with a bounded op count, both drivers.
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
    let cfg = zkserver::config::ServerConfig::parse_str(&text, dir.path(), &[]).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let _ = rt.block_on(zkserver::server::run(cfg));
    });
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (addr, dir)
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
