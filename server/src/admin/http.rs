//! HTTP endpoints: Apache's AdminServer (`/commands`, `/commands/<name>`), the Prometheus
//! scrape endpoint (`/metrics`), and probes for Kubernetes (`/healthz`: the core answers;
//! `/readyz`: the server serves requests, with a quorum when in an ensemble).
//!
//! Routing is a plain async function ([`route`]) so it is testable without sockets; hyper
//! only carries requests to it. Every answer comes from a [`ServerInfo`] the core sends over
//! its request channel, so nothing here touches the core's state.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::commands::{self, Command, Extra};
use super::{FourLetterWord, Mode, ServerInfo};
use crate::config::ServerConfig;
use crate::net::ToCore;

/// How long a request waits for the core before answering 503.
const CORE_TIMEOUT: Duration = Duration::from_secs(5);

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
/// Prometheus text exposition format.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What an HTTP listener serves.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// The AdminServer's command URL (`admin.commandURL`, `/commands`), when enabled.
    pub commands_url: Option<String>,
    /// Whether `/metrics` is served.
    pub metrics: bool,
}

/// What the handlers need: the core's channel and the configuration.
pub struct HttpContext {
    pub core: mpsc::UnboundedSender<ToCore>,
    pub conf: Arc<ServerConfig>,
}

/// An answer before hyper wraps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    fn new(status: u16, content_type: &'static str, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
        }
    }

    fn json(v: &serde_json::Value) -> Reply {
        // Serialising a Value cannot fail; fall back to an empty object regardless.
        let body = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".to_string());
        Reply::new(200, JSON, body)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// Asks the core for a snapshot; `None` if it does not answer in time.
async fn core_info(ctx: &HttpContext, cmd: FourLetterWord) -> Option<ServerInfo> {
    let (tx, rx) = oneshot::channel();
    ctx.core.send(ToCore::Info { cmd, reply: tx }).ok()?;
    tokio::time::timeout(CORE_TIMEOUT, rx).await.ok()?.ok()
}

/// Newest snapshot's zxid and modification time (s since the epoch).
fn last_snapshot(conf: &ServerConfig) -> Option<(i64, i64)> {
    let snaps = crate::storage::snapshot::list_snapshots(&conf.data_dir).ok()?;
    let (zxid, path) = snaps.into_iter().max_by_key(|(z, _)| *z)?;
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    Some((zxid, mtime))
}

/// Ready: serving, and in an ensemble part of a quorum (leading, following or observing).
pub fn is_ready(info: &ServerInfo, standalone: bool) -> bool {
    info.serving
        && if standalone {
            info.mode == Mode::Standalone
        } else {
            matches!(info.mode, Mode::Leader | Mode::Follower | Mode::Observer)
        }
}

fn index(url: &str) -> Reply {
    let mut body = String::new();
    for name in Command::names() {
        body.push_str(&format!("<a href=\"{url}/{name}\">{name}</a>\n<br/>\n"));
    }
    Reply::new(200, HTML, body)
}

async fn command(ctx: &HttpContext, name: &str) -> Reply {
    let Some(cmd) = Command::lookup(name) else {
        return Reply::json(&commands::unknown(name));
    };
    let Some(info) = core_info(ctx, cmd.info_word()).await else {
        return Reply::new(503, TEXT, "server core is not answering\n");
    };
    let extra = Extra {
        last_snapshot: if cmd == Command::LastSnapshot {
            last_snapshot(&ctx.conf)
        } else {
            None
        },
        system_properties: ctx
            .conf
            .system_properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    Reply::json(&commands::respond(cmd, &info, &ctx.conf, &extra))
}

async fn scrape(ctx: &HttpContext) -> Reply {
    let m = crate::metrics::metrics();
    // Gauges come from the core at scrape time; if it is stuck, serve what we have.
    match core_info(ctx, FourLetterWord::Mntr).await {
        Some(info) => m.set_from_info(&info),
        None => warn!("metrics scrape: the core did not answer; gauges are stale"),
    }
    match m.render() {
        Ok(text) => Reply::new(200, PROMETHEUS, text),
        Err(e) => Reply::new(500, TEXT, format!("{e}\n")),
    }
}

/// Answers one request.
pub async fn route(ctx: &HttpContext, routes: &Routes, method: &Method, path: &str) -> Reply {
    let path = path.split('?').next().unwrap_or("");
    if method != Method::GET && method != Method::HEAD {
        return Reply::new(405, TEXT, "method not allowed\n");
    }
    match path {
        "/healthz" => {
            return match core_info(ctx, FourLetterWord::Ruok).await {
                Some(_) => Reply::new(200, TEXT, "ok\n"),
                None => Reply::new(503, TEXT, "server core is not answering\n"),
            }
        }
        "/readyz" => {
            let standalone = ctx.conf.is_standalone();
            return match core_info(ctx, FourLetterWord::Srvr).await {
                Some(info) if is_ready(&info, standalone) => Reply::new(200, TEXT, "ready\n"),
                Some(info) => Reply::new(
                    503,
                    TEXT,
                    format!(
                        "not ready: {} (serving={})\n",
                        info.mode.as_str(),
                        info.serving
                    ),
                ),
                None => Reply::new(503, TEXT, "server core is not answering\n"),
            };
        }
        "/metrics" if routes.metrics => return scrape(ctx).await,
        _ => {}
    }
    if let Some(url) = &routes.commands_url {
        let base = url.trim_end_matches('/');
        if let Some(rest) = path.strip_prefix(base) {
            let name = rest.trim_matches('/');
            if name.is_empty() {
                return index(base);
            }
            if !rest.starts_with('/') {
                return Reply::new(404, TEXT, "not found\n");
            }
            return command(ctx, name).await;
        }
    }
    Reply::new(404, TEXT, "not found\n")
}

/// Binds `host:port` for an HTTP listener.
pub async fn bind(host: &str, port: u16) -> Result<TcpListener, HttpError> {
    let addr = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    TcpListener::bind(&addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })
}

/// Serves HTTP/1.1 on `listener` until the process ends.
pub async fn serve(listener: TcpListener, routes: Routes, ctx: Arc<HttpContext>) {
    let routes = Arc::new(routes);
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, ?routes, "HTTP endpoint started");
    }
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!("HTTP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (ctx, routes) = (ctx.clone(), routes.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                let (ctx, routes) = (ctx.clone(), routes.clone());
                async move {
                    let reply = route(&ctx, &routes, req.method(), req.uri().path()).await;
                    Ok::<_, Infallible>(to_response(reply, req.method() == Method::HEAD))
                }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                debug!(%remote, "HTTP connection ended: {e}");
            }
        });
    }
}

fn to_response(reply: Reply, head: bool) -> Response<Full<Bytes>> {
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(reply.body)
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    if let Ok(v) = hyper::header::HeaderValue::from_str(reply.content_type) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}

/// Starts the AdminServer and the metrics endpoint as configured. The AdminServer failing
/// to bind is logged and ignored, as Apache does; the metrics endpoint failing is an error
/// (Apache refuses to start when its metrics provider cannot start).
pub async fn start(
    conf: Arc<ServerConfig>,
    core: mpsc::UnboundedSender<ToCore>,
) -> Result<Vec<SocketAddr>, HttpError> {
    let ctx = Arc::new(HttpContext {
        core,
        conf: conf.clone(),
    });
    let mut bound = Vec::new();
    if conf.metrics_provider_class.is_some() {
        let l = bind(&conf.metrics_http_host, conf.metrics_http_port).await?;
        if let Ok(a) = l.local_addr() {
            bound.push(a);
        }
        let routes = Routes {
            commands_url: None,
            metrics: true,
        };
        tokio::spawn(serve(l, routes, ctx.clone()));
    }
    if conf.admin_enable_server {
        match bind(&conf.admin_server_address, conf.admin_server_port).await {
            Ok(l) => {
                if let Ok(a) = l.local_addr() {
                    bound.push(a);
                }
                let routes = Routes {
                    commands_url: Some(conf.admin_command_url.clone()),
                    metrics: false,
                };
                tokio::spawn(serve(l, routes, ctx));
            }
            Err(e) => warn!("Problem starting AdminServer: {e}"),
        }
    }
    Ok(bound)
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
