//! The session task: owns the socket, assigns xids, matches replies to requests in FIFO order,
//! forwards notifications, pings, and (optionally) reconnects with the same session.
//!
//! One task writes requests and dispatches frames; a second task only reads frames off the
//! socket and hands them over, so a slow write never stalls reading and vice versa.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::config::{Chroot, ClientConfig};
use super::error::ClientError;
use super::frame::{self, ConnectParams, Granted};
use super::watches::{WatchReg, WatchRegistry};
use super::{keeper_state, State, WatchedEvent};
use crate::proto::codes::{event, op, xid, ErrorCode};
use crate::proto::jute::{Jute, JuteReader};
use crate::proto::records::{AuthPacket, ReplyHeader, WatcherEvent};

/// A reply exactly as the server sent it: header plus the (possibly empty) body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub header: ReplyHeader,
    pub body: Bytes,
}

pub(crate) type ReplyTx = oneshot::Sender<Result<Reply, ClientError>>;

/// How a request is framed and matched.
#[derive(Debug)]
pub(crate) enum Kind {
    /// Next xid, matched through the FIFO.
    Normal,
    /// xid −4, matched through the auth queue; remembered for reconnects on success.
    Auth { scheme: String, auth: Vec<u8> },
    /// xid −8, matched through the FIFO.
    SetWatches,
    /// closeSession: the last request; the task ends after its reply.
    Close,
}

#[derive(Debug)]
pub(crate) struct Request {
    pub op: i32,
    pub body: Vec<u8>,
    pub kind: Kind,
    pub watch: Option<WatchReg>,
    pub reply: ReplyTx,
}

/// Session facts shared with every `Client` clone.
#[derive(Debug)]
pub(crate) struct Shared {
    pub session_id: AtomicI64,
    pub passwd: Mutex<Vec<u8>>,
    pub timeout_ms: AtomicI64,
    pub last_zxid: AtomicI64,
    pub state: AtomicU8,
}

impl Shared {
    pub fn new(g: &Granted, last_zxid: i64) -> Shared {
        Shared {
            session_id: AtomicI64::new(g.session_id),
            passwd: Mutex::new(g.passwd.clone()),
            timeout_ms: AtomicI64::new(g.timeout_ms as i64),
            last_zxid: AtomicI64::new(last_zxid),
            state: AtomicU8::new(connected_state(g) as u8),
        }
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::Release);
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Acquire).max(1) as u64)
    }
}

fn connected_state(g: &Granted) -> State {
    if g.read_only {
        State::ConnectedReadOnly
    } else {
        State::Connected
    }
}

/// Why a connection ended.
#[derive(Debug)]
enum Exit {
    /// Transport failure or protocol violation: reconnect if allowed.
    Lost(ClientError),
    /// The server (or the deadline) declared the session over.
    Expired,
    AuthFailed,
    Closed,
    /// Every `Client` handle is gone: drop the socket and let the session expire.
    ClientGone,
}

impl Exit {
    /// The error handed to requests that were still waiting when the connection ended.
    fn pending_error(&self) -> ClientError {
        match self {
            // A protocol violation is worth reporting as such; anything else is a plain loss.
            Exit::Lost(ClientError::Protocol(m)) => ClientError::Protocol(m.clone()),
            Exit::Lost(_) | Exit::ClientGone => ClientError::ConnectionLoss,
            Exit::Expired => ClientError::SessionExpired,
            Exit::AuthFailed => ClientError::Api(ErrorCode::AuthFailed),
            Exit::Closed => ClientError::Closed,
        }
    }
}

struct Pending {
    xid: i32,
    watch: Option<WatchReg>,
    /// `None` for packets the task sends itself (SetWatches replay).
    reply: Option<ReplyTx>,
    close: bool,
}

struct PendingAuth {
    scheme: String,
    auth: Vec<u8>,
    reply: Option<ReplyTx>,
}

/// Per-connection bookkeeping; dropped (and its waiters failed) when the connection ends.
struct Conn {
    wr: OwnedWriteHalf,
    pending: VecDeque<Pending>,
    auths: VecDeque<PendingAuth>,
    closing: bool,
    last_send: Instant,
    last_recv: Instant,
}

impl Conn {
    fn fail_all(&mut self, exit: &Exit) {
        for p in self.pending.drain(..) {
            if let Some(tx) = p.reply {
                let _ = tx.send(Err(exit.pending_error()));
            }
        }
        for a in self.auths.drain(..) {
            if let Some(tx) = a.reply {
                let _ = tx.send(Err(exit.pending_error()));
            }
        }
    }

    async fn write(&mut self, frame: &[u8]) -> Result<(), ClientError> {
        self.wr.write_all(frame).await?;
        self.last_send = Instant::now();
        Ok(())
    }
}

/// Aborts the reader task when the connection is done with.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn read_loop(
    mut rd: OwnedReadHalf,
    max: usize,
    frames: mpsc::Sender<Result<Bytes, ClientError>>,
) {
    loop {
        let f = frame::read_frame(&mut rd, max).await;
        let stop = f.is_err();
        if frames.send(f).await.is_err() || stop {
            return;
        }
    }
}

pub(crate) struct SessionTask {
    pub cfg: ClientConfig,
    pub chroot: Chroot,
    pub shared: Arc<Shared>,
    pub requests: mpsc::UnboundedReceiver<Request>,
    pub events: mpsc::UnboundedSender<WatchedEvent>,
    pub watches: WatchRegistry,
    /// Successful add_auth calls, replayed after a reconnect.
    pub auth_info: Vec<(String, Vec<u8>)>,
    pub next_xid: i32,
    pub host_idx: usize,
    /// Requests made while reconnecting; sent once a connection is up, failed with
    /// ConnectionLoss when an attempt fails (as the Java client's outgoing queue behaves).
    held: Vec<Request>,
}

impl SessionTask {
    pub fn new(
        cfg: ClientConfig,
        chroot: Chroot,
        shared: Arc<Shared>,
        requests: mpsc::UnboundedReceiver<Request>,
        events: mpsc::UnboundedSender<WatchedEvent>,
        host_idx: usize,
    ) -> SessionTask {
        SessionTask {
            cfg,
            chroot,
            shared,
            requests,
            events,
            watches: WatchRegistry::default(),
            auth_info: Vec::new(),
            next_xid: 1,
            host_idx,
            held: Vec::new(),
        }
    }

    fn take_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }

    fn emit_state(&self, state: i32) {
        let _ = self.events.send(WatchedEvent {
            kind: event::NONE,
            state,
            path: String::new(),
            zxid: -1,
        });
    }

    /// Runs the session until it is closed, expires, fails auth, or every handle is dropped.
    pub async fn run(mut self, mut stream: TcpStream) {
        loop {
            let exit = self.serve(stream).await;
            let exit = match exit {
                Exit::Lost(e) => {
                    tracing::debug!(error = %e, "zk client connection lost");
                    self.shared.set_state(State::Disconnected);
                    self.emit_state(keeper_state::DISCONNECTED);
                    if !self.cfg.auto_reconnect {
                        return;
                    }
                    match self.reconnect().await {
                        Ok((s, g)) => {
                            self.shared
                                .timeout_ms
                                .store(g.timeout_ms as i64, Ordering::Release);
                            let st = connected_state(&g);
                            self.shared.set_state(st);
                            self.emit_state(if st == State::ConnectedReadOnly {
                                keeper_state::CONNECTED_READ_ONLY
                            } else {
                                keeper_state::SYNC_CONNECTED
                            });
                            stream = s;
                            continue;
                        }
                        Err(exit) => exit,
                    }
                }
                other => other,
            };
            match exit {
                Exit::Expired => {
                    self.shared.set_state(State::Expired);
                    self.emit_state(keeper_state::EXPIRED);
                }
                Exit::AuthFailed => {
                    self.shared.set_state(State::AuthFailed);
                    self.emit_state(keeper_state::AUTH_FAILED);
                }
                Exit::Closed | Exit::ClientGone => self.shared.set_state(State::Closed),
                Exit::Lost(_) => self.shared.set_state(State::Disconnected),
            }
            return;
        }
    }

    async fn serve(&mut self, stream: TcpStream) -> Exit {
        let (rd, wr) = stream.into_split();
        let (ftx, mut frx) = mpsc::channel(64);
        let _reader = AbortOnDrop(tokio::spawn(read_loop(rd, self.cfg.max_frame_len, ftx)));
        let now = Instant::now();
        let mut conn = Conn {
            wr,
            pending: VecDeque::new(),
            auths: VecDeque::new(),
            closing: false,
            last_send: now,
            last_recv: now,
        };
        let exit = self.serve_conn(&mut conn, &mut frx).await;
        conn.fail_all(&exit);
        exit
    }

    async fn serve_conn(
        &mut self,
        conn: &mut Conn,
        frames: &mut mpsc::Receiver<Result<Bytes, ClientError>>,
    ) -> Exit {
        if let Err(e) = self.replay(conn).await {
            return Exit::Lost(e);
        }
        for req in std::mem::take(&mut self.held) {
            if let Err(e) = self.send(conn, req).await {
                return Exit::Lost(e);
            }
        }
        let timeout = self.shared.timeout();
        let ping_every = timeout / 3;
        let read_timeout = timeout * 2 / 3;
        let mut tick = tokio::time::interval((ping_every / 2).max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                req = self.requests.recv(), if !conn.closing => {
                    let Some(req) = req else { return Exit::ClientGone };
                    if let Err(e) = self.send(conn, req).await {
                        return Exit::Lost(e);
                    }
                }
                f = frames.recv() => match f {
                    Some(Ok(frame)) => {
                        conn.last_recv = Instant::now();
                        match self.dispatch(conn, frame) {
                            Ok(None) => {}
                            Ok(Some(exit)) => return exit,
                            Err(e) => return Exit::Lost(e),
                        }
                    }
                    // closeSession was sent: the socket going away is the expected end.
                    Some(Err(_)) | None if conn.closing => return Exit::Closed,
                    Some(Err(e)) => return Exit::Lost(e),
                    None => return Exit::Lost(ClientError::ConnectionLoss),
                },
                _ = tick.tick() => {
                    if conn.last_recv.elapsed() >= read_timeout {
                        return Exit::Lost(ClientError::Timeout);
                    }
                    if conn.last_send.elapsed() >= ping_every {
                        let ping = frame::request_frame(xid::PING, op::PING, &[]);
                        if let Err(e) = conn.write(&ping).await {
                            return Exit::Lost(e);
                        }
                    }
                }
            }
        }
    }

    /// After a reconnect: auth first, then the watches (the order the Java client uses).
    async fn replay(&mut self, conn: &mut Conn) -> Result<(), ClientError> {
        for (scheme, auth) in self.auth_info.clone() {
            let body = AuthPacket {
                kind: 0,
                scheme: scheme.clone(),
                auth: Some(Bytes::from(auth.clone())),
            }
            .to_bytes();
            conn.auths.push_back(PendingAuth {
                scheme,
                auth,
                reply: None,
            });
            conn.write(&frame::request_frame(xid::AUTH, op::AUTH, &body))
                .await?;
        }
        if self.watches.is_empty() {
            return Ok(());
        }
        let zxid = self.shared.last_zxid.load(Ordering::Acquire);
        for (code, body) in self.watches.set_watches_packets(zxid) {
            conn.pending.push_back(Pending {
                xid: xid::SET_WATCHES,
                watch: None,
                reply: None,
                close: false,
            });
            conn.write(&frame::request_frame(xid::SET_WATCHES, code, &body))
                .await?;
        }
        Ok(())
    }

    async fn send(&mut self, conn: &mut Conn, req: Request) -> Result<(), ClientError> {
        let Request {
            op: code,
            body,
            kind,
            watch,
            reply,
        } = req;
        let xid = match kind {
            Kind::Auth { scheme, auth } => {
                conn.auths.push_back(PendingAuth {
                    scheme,
                    auth,
                    reply: Some(reply),
                });
                xid::AUTH
            }
            Kind::SetWatches => {
                conn.pending.push_back(Pending {
                    xid: xid::SET_WATCHES,
                    watch,
                    reply: Some(reply),
                    close: false,
                });
                xid::SET_WATCHES
            }
            Kind::Normal | Kind::Close => {
                let close = matches!(kind, Kind::Close);
                let x = self.take_xid();
                conn.pending.push_back(Pending {
                    xid: x,
                    watch,
                    reply: Some(reply),
                    close,
                });
                conn.closing |= close;
                x
            }
        };
        conn.write(&frame::request_frame(xid, code, &body)).await
    }

    /// Handles one server frame. `Ok(Some(_))` ends the connection deliberately; `Err` is a
    /// protocol violation (the connection is dropped).
    fn dispatch(&mut self, conn: &mut Conn, frame: Bytes) -> Result<Option<Exit>, ClientError> {
        let mut r = JuteReader::new(frame);
        let header = ReplyHeader::read_from(&mut r)?;
        if header.zxid > 0 {
            self.shared
                .last_zxid
                .fetch_max(header.zxid, Ordering::AcqRel);
        }
        let body = r.take_rest();
        match header.xid {
            xid::NOTIFICATION => {
                let ev = WatcherEvent::from_bytes(body)?;
                self.watches.on_event(ev.kind, &ev.path);
                let _ = self.events.send(WatchedEvent {
                    kind: ev.kind,
                    state: ev.state,
                    path: self.chroot.to_client(&ev.path),
                    zxid: header.zxid,
                });
                Ok(None)
            }
            xid::PING => Ok(None),
            xid::AUTH => {
                let a = conn.auths.pop_front().ok_or_else(|| {
                    ClientError::Protocol("auth reply without a pending auth".into())
                })?;
                let failed = header.err == ErrorCode::AuthFailed.code();
                if header.err == 0
                    && !self
                        .auth_info
                        .iter()
                        .any(|(s, x)| *s == a.scheme && *x == a.auth)
                {
                    self.auth_info.push((a.scheme, a.auth));
                }
                if let Some(tx) = a.reply {
                    let _ = tx.send(match ClientError::from_code(header.err) {
                        None => Ok(Reply { header, body }),
                        Some(e) => Err(e),
                    });
                }
                Ok(failed.then_some(Exit::AuthFailed))
            }
            x => {
                let p = conn.pending.pop_front().ok_or_else(|| {
                    ClientError::Protocol(format!("reply with xid {x} but nothing pending"))
                })?;
                if p.xid != x {
                    let expected = p.xid;
                    // Keep it queued so that it fails with the others.
                    conn.pending.push_front(p);
                    return Err(ClientError::Protocol(format!(
                        "xid out of order: expected {expected}, got {x}"
                    )));
                }
                if let Some(w) = &p.watch {
                    self.watches.on_reply(w, header.err);
                }
                if p.reply.is_none() && header.err != 0 {
                    tracing::warn!(err = header.err, "zk client: setWatches replay failed");
                }
                if let Some(tx) = p.reply {
                    let _ = tx.send(Ok(Reply { header, body }));
                }
                Ok(p.close.then_some(Exit::Closed))
            }
        }
    }

    fn connect_params(&self) -> ConnectParams {
        ConnectParams {
            last_zxid_seen: self.shared.last_zxid.load(Ordering::Acquire),
            timeout_ms: self.cfg.session_timeout.as_millis() as i32,
            session_id: self.shared.session_id.load(Ordering::Acquire),
            passwd: self.shared.passwd.lock().clone(),
            read_only: self.cfg.read_only,
        }
    }

    /// Holds a request that arrives while no connection is up. A close ends the session
    /// at once: there is nobody to tell, the server will expire it.
    fn hold(&mut self, req: Request) -> Option<Exit> {
        if matches!(req.kind, Kind::Close) {
            self.fail_held(ClientError::Closed);
            let _ = req.reply.send(Ok(Reply {
                header: ReplyHeader::default(),
                body: Bytes::new(),
            }));
            return Some(Exit::Closed);
        }
        self.held.push(req);
        None
    }

    fn fail_held(&mut self, e: ClientError) {
        for req in self.held.drain(..) {
            let err = match &e {
                ClientError::SessionExpired => ClientError::SessionExpired,
                ClientError::Closed => ClientError::Closed,
                _ => ClientError::ConnectionLoss,
            };
            let _ = req.reply.send(Err(err));
        }
    }

    /// Tries the hosts round-robin with the same session until one accepts, the server says
    /// the session expired, or the negotiated timeout has passed (the server has then expired
    /// the session anyway). Requests arriving meanwhile wait for the next attempt.
    async fn reconnect(&mut self) -> Result<(TcpStream, Granted), Exit> {
        let deadline = Instant::now() + self.shared.timeout();
        let per_host = (self.shared.timeout() / self.cfg.hosts.len().max(1) as u32)
            .max(Duration::from_millis(500));
        let mut backoff = Duration::from_millis(50);
        let mut tried_in_round = 0usize;
        while Instant::now() < deadline {
            self.host_idx = (self.host_idx + 1) % self.cfg.hosts.len();
            let host = self.cfg.hosts[self.host_idx].clone();
            let params = self.connect_params();
            let limit = per_host.min(deadline.saturating_duration_since(Instant::now()));
            let attempt = frame::open(&host, &params, limit, self.cfg.max_frame_len);
            tokio::pin!(attempt);
            let result = loop {
                tokio::select! {
                    r = &mut attempt => break r,
                    req = self.requests.recv() => match req {
                        None => return Err(Exit::ClientGone),
                        Some(req) => if let Some(exit) = self.hold(req) { return Err(exit) },
                    },
                }
            };
            match result {
                Ok(ok) => return Ok(ok),
                Err(ClientError::SessionExpired) => {
                    self.fail_held(ClientError::SessionExpired);
                    return Err(Exit::Expired);
                }
                Err(e) => {
                    tracing::debug!(host = %host, error = %e, "zk client reconnect failed");
                    self.fail_held(ClientError::ConnectionLoss);
                }
            }
            tried_in_round += 1;
            if tried_in_round >= self.cfg.hosts.len() {
                tried_in_round = 0;
                let pause = tokio::time::sleep_until((Instant::now() + backoff).min(deadline));
                tokio::pin!(pause);
                loop {
                    tokio::select! {
                        _ = &mut pause => break,
                        req = self.requests.recv() => match req {
                            None => return Err(Exit::ClientGone),
                            Some(req) => if let Some(exit) = self.hold(req) { return Err(exit) },
                        },
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
        self.fail_held(ClientError::SessionExpired);
        Err(Exit::Expired)
    }
}
