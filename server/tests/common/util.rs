//! Client-side helpers for integration tests: connecting, waiting for events with bounded
//! timeouts, polling conditions, and digest ids.

use std::future::Future;
use std::time::Duration;

use base64::Engine;
use sha1::{Digest, Sha1};
use tokio::sync::mpsc::UnboundedReceiver;

use zkserver::client::{Client, ClientConfig, WatchedEvent};
use zkserver::proto::codes::event;
use zkserver::proto::records::Acl;

/// Generous bound for anything the server should do "soon" on 2 busy cores.
pub const WAIT: Duration = Duration::from_secs(20);

pub type Events = UnboundedReceiver<WatchedEvent>;

pub fn cfg(addr: &str) -> ClientConfig {
    ClientConfig::new([addr]).with_session_timeout(Duration::from_secs(10))
}

/// Connects a new session with a 10 s timeout.
pub async fn connect(addr: &str) -> (Client, Events) {
    Client::connect(cfg(addr))
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

pub fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

/// The next event (node or state), or panic after [`WAIT`].
pub async fn next_event(rx: &mut Events) -> WatchedEvent {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("event in time")
        .expect("event channel open")
}

/// Skips session state events (kind None) and returns the next node event.
pub async fn next_node_event(rx: &mut Events) -> WatchedEvent {
    for _ in 0..20 {
        let ev = next_event(rx).await;
        if ev.kind != event::NONE {
            return ev;
        }
    }
    panic!("no node event");
}

/// Asserts no node event is queued after a round trip has completed (the caller does a read
/// first so anything the server sent before its reply has arrived).
pub fn assert_no_node_event(rx: &mut Events) {
    while let Ok(ev) = rx.try_recv() {
        assert_eq!(ev.kind, event::NONE, "unexpected node event {ev:?}");
    }
}

/// Polls `f` until it yields `Some`, at most [`WAIT`]; panics with `what` otherwise.
pub async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// "user:base64(sha1(user:password))", the digest scheme's stored id.
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}
