use super::*;
use crate::admin::{ConnectionInfo, SessionConnInfo};

/// A fake core: answers every `Info` with `info`, applying `serving`.
fn fake_core(info: ServerInfo) -> mpsc::UnboundedSender<ToCore> {
    let (tx, mut rx) = mpsc::unbounded_channel::<ToCore>();
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if let ToCore::Info { reply, .. } = msg {
                let _ = reply.send(info.clone());
            }
        }
    });
    tx
}

fn ctx(info: ServerInfo) -> HttpContext {
    let conf = ServerConfig::parse_str(
        "dataDir=/tmp/zk-http-test\nclientPort=2181\n",
        std::path::Path::new("/"),
        &[],
    )
    .expect("config");
    HttpContext {
        core: fake_core(info),
        conf: Arc::new(conf),
    }
}

fn admin_routes() -> Routes {
    Routes {
        commands_url: Some("/commands".into()),
        metrics: true,
    }
}

fn serving() -> ServerInfo {
    ServerInfo {
        version: "3.9.3-test".into(),
        serving: true,
        node_count: 5,
        connections: vec![ConnectionInfo {
            remote: "127.0.0.1:40000".parse().unwrap(),
            interest_ops: 1,
            queued: 0,
            received: 5,
            sent: 5,
            session: Some(SessionConnInfo {
                session_id: 0x100,
                last_op: "GETD".into(),
                ..Default::default()
            }),
        }],
        watches_by_path: vec![("/a".into(), vec![0x100])],
        watches_by_session: vec![(0x100, vec!["/a".into()])],
        ..Default::default()
    }
}

async fn get(c: &HttpContext, path: &str) -> (u16, serde_json::Value) {
    let r = route(c, &admin_routes(), &Method::GET, path).await;
    let v = serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, v)
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn ruok_and_unknown_command_match_apache() {
    let c = ctx(serving());
    let (s, v) = get(&c, "/commands/ruok").await;
    assert_eq!(s, 200);
    assert_eq!(v, serde_json::json!({"command": "ruok", "error": null}));
    let (s, v) = get(&c, "/commands/nosuch").await;
    assert_eq!(
        s, 200,
        "Apache answers unknown commands with 200 and an error"
    );
    assert_eq!(
        v,
        serde_json::json!({"command": "nosuch", "error": "Unknown command: nosuch"})
    );
    assert_eq!(keys(&v), ["command", "error"]);
}

#[tokio::test]
async fn aliases_and_shapes() {
    let c = ctx(serving());
    let (_, srvr) = get(&c, "/commands/srvr").await;
    assert_eq!(srvr["command"], "server_stats");
    assert_eq!(
        keys(&srvr),
        [
            "version",
            "read_only",
            "server_stats",
            "client_response",
            "node_count",
            "command",
            "error"
        ]
    );
    assert_eq!(srvr["server_stats"]["server_state"], "standalone");
    let (_, cons) = get(&c, "/commands/cons").await;
    assert_eq!(cons["connections"][0]["session_id"], 0x100);
    assert_eq!(cons["connections"][0]["last_operation"], "GETD");
    assert_eq!(cons["secure_connections"], serde_json::json!([]));
    let (_, stat) = get(&c, "/commands/stat").await;
    assert_eq!(stat["command"], "stats");
    assert!(stat["connections"][0].get("session_id").is_none());
    let (_, wchs) = get(&c, "/commands/wchs").await;
    assert_eq!(wchs["num_total_watches"], 1);
    let (_, wchp) = get(&c, "/commands/watches_by_path").await;
    assert_eq!(wchp["path_to_session_ids"]["/a"], serde_json::json!([256]));
    let (_, wchc) = get(&c, "/commands/wchc").await;
    assert_eq!(
        wchc["session_id_to_watched_paths"]["256"],
        serde_json::json!(["/a"])
    );
    let (_, conf) = get(&c, "/commands/conf").await;
    assert_eq!(conf["command"], "configuration");
    assert_eq!(conf["client_port"], 2181);
    assert_eq!(conf["data_dir"], "/tmp/zk-http-test/version-2");
    let (_, mntr) = get(&c, "/commands/mntr").await;
    assert_eq!(mntr["command"], "monitor");
    assert_eq!(mntr["znode_count"], 5);
    assert_eq!(mntr["server_state"], "standalone");
    assert!(mntr["avg_latency"].is_f64());
    let (_, lead) = get(&c, "/commands/leader").await;
    assert_eq!(keys(&lead), ["error", "command"]);
    let (_, isro) = get(&c, "/commands/isro").await;
    assert_eq!(isro["read_only"], false);
}

#[tokio::test]
async fn probes_and_not_serving() {
    let c = ctx(serving());
    let r = route(&c, &admin_routes(), &Method::GET, "/readyz").await;
    assert_eq!(r.status, 200);
    let r = route(&c, &admin_routes(), &Method::GET, "/healthz").await;
    assert_eq!(r.status, 200);
    let idle = ctx(ServerInfo::default());
    let r = route(&idle, &admin_routes(), &Method::GET, "/readyz").await;
    assert_eq!(r.status, 503);
    let (_, v) = get(&idle, "/commands/mntr").await;
    assert_eq!(v["error"], commands::NOT_SERVING);
    let (_, v) = get(&idle, "/commands/ruok").await;
    assert_eq!(v["error"], serde_json::Value::Null);
}

#[tokio::test]
async fn routing_edges() {
    let c = ctx(serving());
    let r = route(&c, &admin_routes(), &Method::GET, "/commands").await;
    assert_eq!(r.status, 200);
    assert!(r
        .body
        .contains("<a href=\"/commands/watches_by_path\">watches_by_path</a>"));
    let r = route(&c, &admin_routes(), &Method::GET, "/nothing").await;
    assert_eq!(r.status, 404);
    let r = route(&c, &admin_routes(), &Method::POST, "/commands/ruok").await;
    assert_eq!(r.status, 405);
    let no_metrics = Routes {
        commands_url: Some("/commands".into()),
        metrics: false,
    };
    let r = route(&c, &no_metrics, &Method::GET, "/metrics").await;
    assert_eq!(r.status, 404);
    let r = route(&c, &admin_routes(), &Method::GET, "/metrics?x=1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, PROMETHEUS);
    crate::metrics::exposition::parse(&r.body).unwrap();
}

#[tokio::test]
async fn core_gone_gives_503() {
    let (tx, rx) = mpsc::unbounded_channel::<ToCore>();
    drop(rx);
    let c = HttpContext {
        core: tx,
        conf: Arc::new(ServerConfig::default()),
    };
    let r = route(&c, &admin_routes(), &Method::GET, "/healthz").await;
    assert_eq!(r.status, 503);
}

#[test]
fn readiness_rules() {
    let mut i = ServerInfo {
        serving: true,
        ..Default::default()
    };
    assert!(is_ready(&i, true));
    assert!(
        !is_ready(&i, false),
        "standalone mode in an ensemble: no quorum"
    );
    i.mode = Mode::Follower;
    assert!(is_ready(&i, false));
    i.mode = Mode::ReadOnly;
    assert!(!is_ready(&i, false));
    i.serving = false;
    i.mode = Mode::Leader;
    assert!(!is_ready(&i, false));
}
