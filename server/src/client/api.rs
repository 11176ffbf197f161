//! The `Client` handle: one method per ZooKeeper operation. Each call encodes its request,
//! hands it to the session task and decodes the reply.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes};
use tokio::sync::{mpsc, oneshot};

use super::config::{Chroot, ClientConfig};
use super::error::ClientError;
use super::frame::{self, ConnectParams, PASSWORD_LEN};
use super::ops::{self, Op, OpResult, ReadOp};
use super::session::{Kind, Reply, Request, SessionTask, Shared};
use super::watches::WatchReg;
use super::{State, WatchedEvent};
use crate::proto::codes::{add_watch_mode, op, CreateMode, ErrorCode};
use crate::proto::jute::{Jute, JuteWrite};
use crate::proto::records::{
    Acl, AuthPacket, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, GetAclResponse, GetAllChildrenNumberResponse, GetChildren2Response,
    GetChildrenResponse, GetDataResponse, GetEphemeralsResponse, PathRequest, PathWatchRequest,
    ReplyHeader, SetAclRequest, SetDataRequest, SetWatches, SetWatches2, Stat, StatResponse,
    WatchTypeRequest, WhoAmIResponse,
};

/// The znode holding the dynamic ensemble config; never chrooted.
const CONFIG_NODE: &str = "/zookeeper/config";

/// A handle on one session. Cheap to clone; all clones share the connection. Dropping every
/// clone drops the connection without closing the session (it then expires on the server, as
/// after a client crash); call [`Client::close`] to end it cleanly.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::UnboundedSender<Request>,
    shared: Arc<Shared>,
    chroot: Chroot,
    request_timeout: Option<Duration>,
}

type Connected = (Client, mpsc::UnboundedReceiver<WatchedEvent>);

impl Client {
    /// Opens a new session on the first host that accepts it.
    pub async fn connect(cfg: ClientConfig) -> Result<Connected, ClientError> {
        Self::establish(cfg, 0, vec![0; PASSWORD_LEN]).await
    }

    /// Connects reusing an existing session (id and password from another client). An expired
    /// or unknown session gives `Err(SessionExpired)`.
    pub async fn reconnect_with_session(
        cfg: ClientConfig,
        session_id: i64,
        passwd: &[u8],
    ) -> Result<Connected, ClientError> {
        Self::establish(cfg, session_id, passwd.to_vec()).await
    }

    async fn establish(
        cfg: ClientConfig,
        session_id: i64,
        passwd: Vec<u8>,
    ) -> Result<Connected, ClientError> {
        cfg.validate()?;
        let chroot = Chroot::new(cfg.chroot.as_deref())?;
        let params = ConnectParams {
            last_zxid_seen: 0,
            timeout_ms: cfg.session_timeout.as_millis() as i32,
            session_id,
            passwd,
            read_only: cfg.read_only,
        };
        let per_host = (cfg.session_timeout / cfg.hosts.len() as u32).clamp(
            Duration::from_secs(1),
            cfg.connect_timeout.max(Duration::from_secs(1)),
        );
        let deadline = tokio::time::Instant::now() + cfg.connect_timeout;
        let mut backoff = Duration::from_millis(50);
        let mut last_err = ClientError::ConnectionLoss;
        loop {
            for (idx, host) in cfg.hosts.iter().enumerate() {
                match frame::open(host, &params, per_host, cfg.max_frame_len).await {
                    Ok((stream, granted)) => {
                        return Ok(Self::start_session(cfg, chroot, idx, stream, &granted));
                    }
                    Err(ClientError::SessionExpired) => return Err(ClientError::SessionExpired),
                    Err(e) => {
                        tracing::debug!(host = %host, error = %e, "zk client connect failed");
                        last_err = e;
                    }
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(last_err);
            }
            tokio::time::sleep_until((now + backoff).min(deadline)).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Spawns the session task on an established connection.
    fn start_session(
        cfg: ClientConfig,
        chroot: Chroot,
        host_idx: usize,
        stream: tokio::net::TcpStream,
        granted: &frame::Granted,
    ) -> Connected {
        let shared = Arc::new(Shared::new(granted, 0));
        let (tx, rx) = mpsc::unbounded_channel();
        let (etx, erx) = mpsc::unbounded_channel();
        let inner = Inner {
            tx,
            shared: shared.clone(),
            chroot: chroot.clone(),
            request_timeout: cfg.request_timeout,
        };
        let task = SessionTask::new(cfg, chroot, shared, rx, etx, host_idx);
        tokio::spawn(task.run(stream));
        (
            Client {
                inner: Arc::new(inner),
            },
            erx,
        )
    }

    pub fn session_id(&self) -> i64 {
        self.inner.shared.session_id.load(Ordering::Acquire)
    }

    pub fn session_password(&self) -> Vec<u8> {
        self.inner.shared.passwd.lock().clone()
    }

    /// The session timeout the server granted.
    pub fn negotiated_timeout(&self) -> Duration {
        Duration::from_millis(self.inner.shared.timeout_ms.load(Ordering::Acquire).max(0) as u64)
    }

    pub fn state(&self) -> State {
        self.inner.shared.state()
    }

    /// The highest zxid seen in any reply header (sent as lastZxidSeen on reconnect).
    pub fn last_zxid(&self) -> i64 {
        self.inner.shared.last_zxid.load(Ordering::Acquire)
    }

    fn path(&self, p: &str) -> String {
        self.inner.chroot.to_server(p)
    }

    fn dead_error(&self) -> ClientError {
        match self.state() {
            State::Expired => ClientError::SessionExpired,
            State::Closed => ClientError::Closed,
            State::AuthFailed => ClientError::Api(ErrorCode::AuthFailed),
            _ => ClientError::ConnectionLoss,
        }
    }

    async fn submit(
        &self,
        op: i32,
        body: Vec<u8>,
        kind: Kind,
        watch: Option<WatchReg>,
    ) -> Result<Reply, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Request {
                op,
                body,
                kind,
                watch,
                reply,
            })
            .map_err(|_| self.dead_error())?;
        let wait = async { rx.await.map_err(|_| self.dead_error())? };
        match self.inner.request_timeout {
            Some(t) => tokio::time::timeout(t, wait)
                .await
                .map_err(|_| ClientError::Timeout)?,
            None => wait.await,
        }
    }

    /// Sends a normal request and turns a non-zero err into an error; returns the body.
    async fn call(
        &self,
        op: i32,
        body: Vec<u8>,
        watch: Option<WatchReg>,
    ) -> Result<Bytes, ClientError> {
        let r = self.submit(op, body, Kind::Normal, watch).await?;
        match ClientError::from_code(r.header.err) {
            Some(e) => Err(e),
            None => Ok(r.body),
        }
    }

    fn create_body(&self, path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) -> Vec<u8> {
        CreateRequest {
            path: self.path(path),
            data: Some(Bytes::copy_from_slice(data)),
            acl: acl.to_vec(),
            flags: ops::mode_flags(mode),
        }
        .to_bytes()
    }

    /// create (1), or createContainer (19) for containers. Returns the actual path (with the
    /// sequence suffix). TTL modes are sent as they are; the server rejects them here.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<String, ClientError> {
        let body = self.create_body(path, data, acl, mode);
        let created = if mode == CreateMode::Container {
            Create2Response::from_bytes(self.call(op::CREATE_CONTAINER, body, None).await?)?.path
        } else {
            CreateResponse::from_bytes(self.call(op::CREATE, body, None).await?)?.path
        };
        Ok(self.inner.chroot.to_client(&created))
    }

    /// create2 (15), or createContainer (19) for containers: the path plus the new Stat.
    pub async fn create2(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<(String, Stat), ClientError> {
        let code = if mode == CreateMode::Container {
            op::CREATE_CONTAINER
        } else {
            op::CREATE2
        };
        let r = Create2Response::from_bytes(
            self.call(code, self.create_body(path, data, acl, mode), None)
                .await?,
        )?;
        Ok((self.inner.chroot.to_client(&r.path), r.stat))
    }

    /// createTTL (21). Needs `zookeeper.extendedTypesEnabled=true` on the server.
    pub async fn create_ttl(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl_ms: i64,
    ) -> Result<(String, Stat), ClientError> {
        let body = CreateTtlRequest {
            path: self.path(path),
            data: Some(Bytes::copy_from_slice(data)),
            acl: acl.to_vec(),
            flags: ops::mode_flags(mode),
            ttl: ttl_ms,
        }
        .to_bytes();
        let r = Create2Response::from_bytes(self.call(op::CREATE_TTL, body, None).await?)?;
        Ok((self.inner.chroot.to_client(&r.path), r.stat))
    }

    /// delete (2); version −1 matches any.
    pub async fn delete(&self, path: &str, version: i32) -> Result<(), ClientError> {
        let body = DeleteRequest {
            path: self.path(path),
            version,
        }
        .to_bytes();
        self.call(op::DELETE, body, None).await.map(drop)
    }

    fn path_watch(&self, path: &str, watch: bool) -> (String, Vec<u8>) {
        let p = self.path(path);
        let body = PathWatchRequest {
            path: p.clone(),
            watch,
        }
        .to_bytes();
        (p, body)
    }

    /// exists (3): `None` when the node does not exist (the watch, if set, then waits for its
    /// creation).
    pub async fn exists(&self, path: &str, watch: bool) -> Result<Option<Stat>, ClientError> {
        let (p, body) = self.path_watch(path, watch);
        match self
            .call(op::EXISTS, body, watch.then_some(WatchReg::Exists(p)))
            .await
        {
            Ok(b) => Ok(Some(StatResponse::from_bytes(b)?.stat)),
            Err(ClientError::Api(ErrorCode::NoNode)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// getData (4). Data is `None` when the node was created with null data.
    pub async fn get_data(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Option<Vec<u8>>, Stat), ClientError> {
        let (p, body) = self.path_watch(path, watch);
        self.get_data_raw(body, watch.then_some(WatchReg::Data(p)))
            .await
    }

    async fn get_data_raw(
        &self,
        body: Vec<u8>,
        watch: Option<WatchReg>,
    ) -> Result<(Option<Vec<u8>>, Stat), ClientError> {
        let r = GetDataResponse::from_bytes(self.call(op::GET_DATA, body, watch).await?)?;
        Ok((r.data.map(|d| d.to_vec()), r.stat))
    }

    /// setData (5); version −1 matches any.
    pub async fn set_data(
        &self,
        path: &str,
        data: &[u8],
        version: i32,
    ) -> Result<Stat, ClientError> {
        let body = SetDataRequest {
            path: self.path(path),
            data: Some(Bytes::copy_from_slice(data)),
            version,
        }
        .to_bytes();
        Ok(StatResponse::from_bytes(self.call(op::SET_DATA, body, None).await?)?.stat)
    }

    /// getChildren (8): child names, in the server's order.
    pub async fn get_children(&self, path: &str, watch: bool) -> Result<Vec<String>, ClientError> {
        let (p, body) = self.path_watch(path, watch);
        let b = self
            .call(op::GET_CHILDREN, body, watch.then_some(WatchReg::Child(p)))
            .await?;
        Ok(GetChildrenResponse::from_bytes(b)?.children)
    }

    /// getChildren2 (12): child names plus the parent's Stat.
    pub async fn get_children2(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, Stat), ClientError> {
        let (p, body) = self.path_watch(path, watch);
        let b = self
            .call(op::GET_CHILDREN2, body, watch.then_some(WatchReg::Child(p)))
            .await?;
        let r = GetChildren2Response::from_bytes(b)?;
        Ok((r.children, r.stat))
    }

    fn path_body(&self, path: &str) -> Vec<u8> {
        PathRequest {
            path: self.path(path),
        }
        .to_bytes()
    }

    /// getACL (6).
    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat), ClientError> {
        let r =
            GetAclResponse::from_bytes(self.call(op::GET_ACL, self.path_body(path), None).await?)?;
        Ok((r.acl, r.stat))
    }

    /// setACL (7); `version` is matched against the ACL version (aversion).
    pub async fn set_acl(
        &self,
        path: &str,
        acl: &[Acl],
        version: i32,
    ) -> Result<Stat, ClientError> {
        let body = SetAclRequest {
            path: self.path(path),
            acl: acl.to_vec(),
            version,
        }
        .to_bytes();
        Ok(StatResponse::from_bytes(self.call(op::SET_ACL, body, None).await?)?.stat)
    }

    /// getAllChildrenNumber (104): the number of descendants, recursively.
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32, ClientError> {
        let b = self
            .call(op::GET_ALL_CHILDREN_NUMBER, self.path_body(path), None)
            .await?;
        Ok(GetAllChildrenNumberResponse::from_bytes(b)?.total_number)
    }

    /// getEphemerals (103): this session's ephemerals under `prefix` (full client paths).
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>, ClientError> {
        let b = self
            .call(op::GET_EPHEMERALS, self.path_body(prefix), None)
            .await?;
        Ok(GetEphemeralsResponse::from_bytes(b)?
            .ephemerals
            .iter()
            .map(|p| self.inner.chroot.to_client(p))
            .collect())
    }

    /// sync (9): returns once the server has caught up with the leader.
    pub async fn sync(&self, path: &str) -> Result<String, ClientError> {
        let b = self.call(op::SYNC, self.path_body(path), None).await?;
        Ok(self
            .inner
            .chroot
            .to_client(&PathRequest::from_bytes(b)?.path))
    }

    /// auth (100, xid −4). On AUTHFAILED the server drops the connection and the session is
    /// unusable (state `AuthFailed`), as with the Java client. Successful auths are replayed
    /// after a reconnect.
    pub async fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<(), ClientError> {
        let body = AuthPacket {
            kind: 0,
            scheme: scheme.to_string(),
            auth: Some(Bytes::copy_from_slice(auth)),
        }
        .to_bytes();
        let kind = Kind::Auth {
            scheme: scheme.to_string(),
            auth: auth.to_vec(),
        };
        self.submit(op::AUTH, body, kind, None).await.map(drop)
    }

    /// addWatch (106) with mode 0 (persistent) or 1 (persistent-recursive).
    pub async fn add_watch(&self, path: &str, mode: i32) -> Result<(), ClientError> {
        let p = self.path(path);
        let reg = if mode == add_watch_mode::PERSISTENT_RECURSIVE {
            WatchReg::Recursive(p.clone())
        } else {
            WatchReg::Persistent(p.clone())
        };
        let mut body = Vec::new();
        p.write_to(&mut body);
        body.put_i32(mode);
        self.call(op::ADD_WATCH, body, Some(reg)).await.map(drop)
    }

    /// removeWatches (18) with a WatcherType; NOWATCHER when the server holds none.
    pub async fn remove_watches(&self, path: &str, watcher_type: i32) -> Result<(), ClientError> {
        let p = self.path(path);
        let body = WatchTypeRequest {
            path: p.clone(),
            kind: watcher_type,
        }
        .to_bytes();
        self.call(
            op::REMOVE_WATCHES,
            body,
            Some(WatchReg::Remove(p, watcher_type)),
        )
        .await
        .map(drop)
    }

    /// checkWatches (17): Ok when the server holds a watch of that type on the path.
    pub async fn check_watches(&self, path: &str, watcher_type: i32) -> Result<(), ClientError> {
        let body = WatchTypeRequest {
            path: self.path(path),
            kind: watcher_type,
        }
        .to_bytes();
        self.call(op::CHECK_WATCHES, body, None).await.map(drop)
    }

    /// multi (14). A failed transaction is still `Ok`: every entry is then an
    /// `OpResult::Error` (use [`super::first_error`]). `Err` means the request itself failed.
    pub async fn multi(&self, ops_: &[Op]) -> Result<Vec<OpResult>, ClientError> {
        let body = ops::encode_multi(ops_, &self.inner.chroot);
        let b = self.call(op::MULTI, body, None).await?;
        ops::decode_multi(b, &self.inner.chroot)
    }

    /// multi (14) that fails with the first op error, like the Java client's `multi`.
    pub async fn multi_or_err(&self, ops_: &[Op]) -> Result<Vec<OpResult>, ClientError> {
        let res = self.multi(ops_).await?;
        match ops::first_error(&res) {
            Some((_, code)) => Err(ClientError::Api(code)),
            None => Ok(res),
        }
    }

    /// multiRead (22): each op succeeds or fails on its own.
    pub async fn multi_read(&self, ops_: &[ReadOp]) -> Result<Vec<OpResult>, ClientError> {
        let body = ops::encode_multi_read(ops_, &self.inner.chroot);
        let b = self.call(op::MULTI_READ, body, None).await?;
        ops::decode_multi(b, &self.inner.chroot)
    }

    /// getData on /zookeeper/config (there is no separate opcode); ignores the chroot.
    pub async fn get_config(&self, watch: bool) -> Result<(Vec<u8>, Stat), ClientError> {
        let body = PathWatchRequest {
            path: CONFIG_NODE.to_string(),
            watch,
        }
        .to_bytes();
        let (data, stat) = self
            .get_data_raw(body, watch.then(|| WatchReg::Data(CONFIG_NODE.to_string())))
            .await?;
        Ok((data.unwrap_or_default(), stat))
    }

    /// reconfig (16). Absent lists are sent as null strings; `from_config` −1 skips the
    /// version check. Returns the new config text and the Stat of /zookeeper/config.
    pub async fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
    ) -> Result<(Vec<u8>, Stat), ClientError> {
        let mut body = Vec::new();
        body.put_opt_ustring(joining);
        body.put_opt_ustring(leaving);
        body.put_opt_ustring(new_members);
        body.put_i64(from_config);
        let r = GetDataResponse::from_bytes(self.call(op::RECONFIG, body, None).await?)?;
        Ok((r.data.map(|d| d.to_vec()).unwrap_or_default(), r.stat))
    }

    /// whoAmI (107): the (scheme, user) pairs the server associates with this session.
    pub async fn who_am_i(&self) -> Result<Vec<(String, String)>, ClientError> {
        let b = self.call(op::WHO_AM_I, Vec::new(), None).await?;
        Ok(WhoAmIResponse::from_bytes(b)?
            .client_info
            .into_iter()
            .map(|c| (c.auth_scheme, c.user))
            .collect())
    }

    /// Sends a raw setWatches2 (105) with xid −8. Paths are server paths (no chroot) and are not
    /// added to the client's own watch record; meant for protocol tests.
    pub async fn set_watches(&self, watches: &SetWatches2) -> Result<(), ClientError> {
        self.set_watches_raw(op::SET_WATCHES2, watches.to_bytes())
            .await
    }

    /// Sends a raw setWatches (101) with xid −8, as pre-3.6 clients do.
    pub async fn set_watches_v1(&self, watches: &SetWatches) -> Result<(), ClientError> {
        self.set_watches_raw(op::SET_WATCHES, watches.to_bytes())
            .await
    }

    async fn set_watches_raw(&self, code: i32, body: Vec<u8>) -> Result<(), ClientError> {
        let r = self.submit(code, body, Kind::SetWatches, None).await?;
        match ClientError::from_code(r.header.err) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Sends any opcode with a pre-encoded body on the next xid and returns the reply as it
    /// came, error code included (for protocol tests: unknown opcodes, odd records).
    pub async fn raw_request(
        &self,
        opcode: i32,
        body: &[u8],
    ) -> Result<(ReplyHeader, Bytes), ClientError> {
        let r = self
            .submit(opcode, body.to_vec(), Kind::Normal, None)
            .await?;
        Ok((r.header, r.body))
    }

    /// closeSession (−11): the server deletes this session's ephemerals and drops the socket.
    /// Closing an already closed client is Ok.
    pub async fn close(self) -> Result<(), ClientError> {
        if self.state() == State::Closed {
            return Ok(());
        }
        let r = self
            .submit(op::CLOSE_SESSION, Vec::new(), Kind::Close, None)
            .await;
        match r {
            Ok(reply) => match ClientError::from_code(reply.header.err) {
                Some(e) => Err(e),
                None => Ok(()),
            },
            Err(ClientError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
