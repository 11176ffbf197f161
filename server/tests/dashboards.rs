//! Every PromQL query in the Grafana dashboards under charts/zk-operator/dashboards/ may only
//! use metric names the server registers, or those the operator promises in
//! `operator-metrics.txt`. A renamed metric then fails here rather than on a blank panel.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use zkserver::metrics::{promql, Metrics};

fn dashboards_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/zk-operator/dashboards")
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

fn operator_names() -> BTreeSet<String> {
    std::fs::read_to_string(dashboards_dir().join("operator-metrics.txt"))
        .unwrap()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn dashboard_queries_use_only_exported_metrics() {
    let server: BTreeSet<String> = Metrics::new().unwrap().series_names().into_iter().collect();
    let operator = operator_names();
    assert!(!operator.is_empty());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dashboards_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "server and operator dashboards: {files:?}"
    );
    let mut used_server = BTreeSet::new();
    for f in &files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let mut exprs = Vec::new();
        collect_exprs(&v, &mut exprs);
        assert!(!exprs.is_empty(), "{} has no queries", f.display());
        for e in &exprs {
            let names = promql::metric_names(e);
            assert!(!names.is_empty(), "{}: no metric in {e:?}", f.display());
            for n in names {
                assert!(
                    server.contains(&n) || operator.contains(&n),
                    "{}: {n:?} (in {e:?}) is exported by neither the server nor the operator",
                    f.display()
                );
                if server.contains(&n) {
                    used_server.insert(n);
                }
            }
        }
    }
    for must in [
        "election_time_count",
        "quorum_ack_latency",
        "request_latency_ms_count",
        "outstanding_requests",
        "global_sessions",
        "znode_count",
    ] {
        assert!(used_server.contains(must), "dashboards do not show {must}");
    }
}

#[test]
fn the_check_catches_unknown_names() {
    let server: BTreeSet<String> = Metrics::new().unwrap().series_names().into_iter().collect();
    let names = promql::metric_names("rate(zk_znode_count_typo[5m])");
    assert!(names.iter().any(|n| !server.contains(n)));
}
