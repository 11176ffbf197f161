//! The tokio driver: runs an [`Election`] over the election port with Apache's connection
//! rules (facts §15.1). One task owns the state machine; one task per peer owns that peer's
//! connection; a listener task does handshakes. Outgoing messages go through a one-slot
//! mailbox per peer (Apache's send queue holds one message too), so a slow peer only ever
//! gets our latest notification, and a new connection starts by sending it.
//!
//! Duplicate connections: only the one dialed by the larger sid survives. The larger side
//! keeps dialing; the smaller side "pokes" (dials, sends its handshake, hangs up) so that
//! the larger side dials back, exactly as an Apache server reacts to such a connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinSet;

use super::{Election, Input, Output, ServerState, Vote};
use crate::config::{render_config_text, QuorumConfig, Role, ServerSpec};
use crate::proto::election::{
    check_frame_len, encode_frame, ElectionWireError, Handshake, Notification, PROTOCOL_VERSION_V1,
    PROTOCOL_VERSION_V2,
};
use crate::quorum::verifier::QuorumMaj;

/// Longest sleep between two checks of the state machine's deadlines (it is woken at its
/// next deadline; this only bounds how long the clock goes unreported while settled).
const IDLE_TICK: Duration = Duration::from_secs(1);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ElectionNetError {
    #[error("server {0} is not in the configuration")]
    NotAMember(u64),
    #[error("server {0} has no election address")]
    NoElectionAddr(u64),
    #[error("cannot listen on election address {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("election service stopped")]
    Stopped,
}

/// Who we are and who the others are.
#[derive(Debug, Clone)]
pub struct ElectionSettings {
    pub my_id: u64,
    pub servers: BTreeMap<u64, ServerSpec>,
    pub config_version: u64,
    /// Connect and handshake timeout (`cnxTimeout`, Apache's default 5 s).
    pub cnx_timeout: Duration,
    /// `quorumListenOnAllIPs`: bind the election port on 0.0.0.0 (as Apache does for both
    /// quorum ports), e.g. when the configured host is a NATed or container address.
    pub listen_on_all_ips: bool,
    /// `multiAddress.enabled`, for parsing configs peers send.
    pub multi_address_enabled: bool,
    /// Where the texts of newer configs learned from peers go (the server adopts them).
    pub adopted: Option<mpsc::UnboundedSender<Bytes>>,
}

impl ElectionSettings {
    pub fn new(my_id: u64, servers: BTreeMap<u64, ServerSpec>, config_version: u64) -> Self {
        ElectionSettings {
            my_id,
            servers,
            config_version,
            cnx_timeout: Duration::from_secs(5),
            listen_on_all_ips: false,
            multi_address_enabled: false,
            adopted: None,
        }
    }
}

/// The outcome of one election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub leader: u64,
    pub state: ServerState,
    pub vote: Vote,
    pub elapsed_ms: u64,
}

enum Event {
    Received {
        from: u64,
        n: Notification,
    },
    Up(u64),
    Down(u64),
    Look {
        last_zxid: i64,
        current_epoch: i64,
        reply: oneshot::Sender<Decision>,
    },
    /// A handshaken connection from `sid` (its election addresses, if it sent them).
    Inbound {
        sid: u64,
        addrs: Vec<String>,
        stream: TcpStream,
    },
    /// A reconfig named the leader: settle on it without an election.
    Settle {
        leader: u64,
        zxid: i64,
        peer_epoch: i64,
    },
    /// A new membership (reconfig): count votes with it, reach its new members.
    SetConfig {
        servers: BTreeMap<u64, ServerSpec>,
        version: u64,
    },
}

/// Starts election services.
pub struct ElectionService;

impl ElectionService {
    /// Binds our election address and starts.
    pub async fn start(settings: ElectionSettings) -> Result<ElectionHandle, ElectionNetError> {
        let addr = my_addr(&settings)?;
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ElectionNetError::Bind { addr, source })?;
        Self::start_on(settings, listener)
    }

    /// Starts on an already bound listener (tests bind port 0 first).
    pub fn start_on(
        settings: ElectionSettings,
        listener: TcpListener,
    ) -> Result<ElectionHandle, ElectionNetError> {
        let me = settings
            .servers
            .get(&settings.my_id)
            .ok_or(ElectionNetError::NotAMember(settings.my_id))?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ElectionNetError::Bind {
                addr: my_addr(&settings).unwrap_or_default(),
                source,
            })?;
        let addrs: Vec<String> = me.election_addrs.iter().map(|a| a.to_string()).collect();
        let hello = Arc::new(
            Handshake::Versioned {
                protocol_version: if addrs.len() > 1 {
                    PROTOCOL_VERSION_V2
                } else {
                    PROTOCOL_VERSION_V1
                },
                sid: settings.my_id,
                addrs,
            }
            .encode(),
        );
        let verifier = QuorumMaj::new(&settings.servers, settings.config_version);
        let config = render_config_text(&settings.servers, settings.config_version);
        let election = Election::new(
            settings.my_id,
            verifier,
            0,
            0,
            0,
            me.role == Role::Observer,
            Bytes::from(config),
        );

        let mut tasks = JoinSet::new();
        let (events_tx, events_rx) = mpsc::channel(1024);
        let mut peers = PeerSet {
            my_id: settings.my_id,
            hello,
            cnx_timeout: settings.cnx_timeout,
            events: events_tx.clone(),
            tasks: JoinSet::new(),
            links: BTreeMap::new(),
        };
        peers.add_members(&settings.servers);
        tasks.spawn(accept_loop(
            listener,
            settings.cnx_timeout,
            events_tx.clone(),
        ));
        let adoption = Adoption {
            multi_address_enabled: settings.multi_address_enabled,
            tx: settings.adopted.clone(),
        };
        tasks.spawn(core_loop(election, events_rx, peers, adoption));
        Ok(ElectionHandle {
            events: events_tx,
            local_addr,
            _tasks: tasks,
        })
    }
}

/// A running election service; dropping it stops every task and closes every socket.
pub struct ElectionHandle {
    events: mpsc::Sender<Event>,
    local_addr: SocketAddr,
    _tasks: JoinSet<()>,
}

impl ElectionHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle the server keeps to tell the election about committed reconfigs.
    pub fn config_updater(&self) -> ConfigUpdater {
        ConfigUpdater {
            events: self.events.clone(),
        }
    }

    /// Runs a new round with what our log holds and waits for its outcome. Between rounds
    /// the service keeps answering LOOKING peers with the last decision.
    pub async fn look_for_leader(
        &self,
        last_zxid: i64,
        current_epoch: i64,
    ) -> Result<Decision, ElectionNetError> {
        let (reply, rx) = oneshot::channel();
        self.events
            .send(Event::Look {
                last_zxid,
                current_epoch,
                reply,
            })
            .await
            .map_err(|_| ElectionNetError::Stopped)?;
        rx.await.map_err(|_| ElectionNetError::Stopped)
    }
}

/// Tells a running election service about a new membership.
#[derive(Clone)]
pub struct ConfigUpdater {
    events: mpsc::Sender<Event>,
}

impl ConfigUpdater {
    /// Settles the election on the leader a reconfig designated (no round is run).
    pub fn settle(&self, leader: u64, zxid: i64, peer_epoch: i64) -> bool {
        self.events
            .try_send(Event::Settle {
                leader,
                zxid,
                peer_epoch,
            })
            .is_ok()
    }

    /// Queues the new membership (in order with earlier ones); false when the election
    /// service has stopped or is hopelessly behind.
    pub fn set_config(&self, servers: BTreeMap<u64, ServerSpec>, version: u64) -> bool {
        self.events
            .try_send(Event::SetConfig { servers, version })
            .is_ok()
    }
}

/// The peers the election talks to: one task per peer, added as members appear (from the
/// config, a reconfig, or a server that dials in, as Apache's connection manager accepts
/// any sid and answers it).
struct PeerSet {
    my_id: u64,
    hello: Arc<Vec<u8>>,
    cnx_timeout: Duration,
    events: mpsc::Sender<Event>,
    tasks: JoinSet<()>,
    links: BTreeMap<u64, PeerLink>,
}

struct PeerLink {
    mailbox: watch::Sender<Option<Bytes>>,
    conns: mpsc::Sender<TcpStream>,
    nudge: Arc<Notify>,
}

impl PeerSet {
    fn add_members(&mut self, servers: &BTreeMap<u64, ServerSpec>) {
        for (&sid, spec) in servers {
            let addrs = spec.election_addrs.iter().map(|a| a.to_string()).collect();
            self.ensure(sid, addrs);
        }
    }

    /// The link to `sid`, starting its task if it is new (never for ourselves).
    fn ensure(&mut self, sid: u64, addrs: Vec<String>) -> Option<&PeerLink> {
        if sid == self.my_id {
            return None;
        }
        if !self.links.contains_key(&sid) {
            let (mailbox, slot) = watch::channel(None);
            let (conns, conn_rx) = mpsc::channel(4);
            let nudge = Arc::new(Notify::new());
            let peer = Peer {
                my_id: self.my_id,
                sid,
                addrs,
                hello: self.hello.clone(),
                cnx_timeout: self.cnx_timeout,
                slot,
                conns: conn_rx,
                nudge: nudge.clone(),
                events: self.events.clone(),
            };
            self.tasks.spawn(peer.run());
            self.links.insert(
                sid,
                PeerLink {
                    mailbox,
                    conns,
                    nudge,
                },
            );
        }
        self.links.get(&sid)
    }

    /// Hands an accepted connection to its peer: only the larger sid's dial survives.
    fn inbound(&mut self, sid: u64, addrs: Vec<String>, stream: TcpStream) {
        let my_id = self.my_id;
        let Some(link) = self.ensure(sid, addrs) else {
            return;
        };
        if sid < my_id {
            // Only our own dial to the smaller sid survives: drop this, dial back.
            link.nudge.notify_one();
        } else if link.conns.try_send(stream).is_err() {
            tracing::debug!(sid, "election peer busy; dropping a duplicate connection");
        }
    }

    fn send(&self, to: u64, msg: Bytes) {
        match self.links.get(&to) {
            Some(link) => {
                link.mailbox.send_replace(Some(msg));
            }
            None => tracing::debug!(to, "no mailbox for election peer"),
        }
    }
}

fn my_addr(settings: &ElectionSettings) -> Result<String, ElectionNetError> {
    let me = settings
        .servers
        .get(&settings.my_id)
        .ok_or(ElectionNetError::NotAMember(settings.my_id))?;
    let a = me
        .election_addrs
        .first()
        .ok_or(ElectionNetError::NoElectionAddr(settings.my_id))?;
    Ok(if settings.listen_on_all_ips {
        format!("0.0.0.0:{}", a.port)
    } else {
        a.to_string()
    })
}

/// Owns the state machine: feeds it events and ticks, routes its outputs.
/// What to do with a newer config a peer sent.
struct Adoption {
    multi_address_enabled: bool,
    tx: Option<mpsc::UnboundedSender<Bytes>>,
}

/// Switches the election to a membership: new voters, new peers to reach.
fn adopt(
    election: &mut Election,
    peers: &mut PeerSet,
    servers: &BTreeMap<u64, ServerSpec>,
    version: u64,
) {
    let verifier = QuorumMaj::new(servers, version);
    let observer = servers
        .get(&election.my_id())
        .is_some_and(|s| s.role == Role::Observer);
    let text = render_config_text(servers, version);
    tracing::info!(
        version = format!("{version:x}"),
        "election adopts a new config"
    );
    election.set_config(verifier, observer, Bytes::from(text));
    peers.add_members(servers);
}

/// A LOOKING server learned of a newer config from a peer (it missed a reconfig while it
/// was away): as Apache's FastLeaderElection does, it adopts it and restarts the round, so
/// it counts the votes of the new members; the server writes it to disk.
fn adopt_newer(
    election: &mut Election,
    peers: &mut PeerSet,
    adoption: &Adoption,
    now_ms: u64,
) -> Vec<Output> {
    let Some((version, text)) = election.newer_config().cloned() else {
        return Vec::new();
    };
    if !election.is_looking() {
        return Vec::new();
    }
    let Some(config) = QuorumConfig::parse_text(&text, adoption.multi_address_enabled) else {
        return Vec::new();
    };
    if config.version != version {
        return Vec::new();
    }
    // A server configured to join lists itself before the ensemble has added it: it keeps
    // its own config (its own line lets it find the leader) until the reconfig that adds it
    // reaches it through the leader.
    let me = election.my_id();
    if !config.servers.contains_key(&me) && election.verifier().is_member(me) {
        return Vec::new();
    }
    adopt(election, peers, &config.servers, version);
    if let Some(tx) = &adoption.tx {
        let _ = tx.send(text);
    }
    election.start(now_ms)
}

async fn core_loop(
    mut election: Election,
    mut events: mpsc::Receiver<Event>,
    mut peers: PeerSet,
    adoption: Adoption,
) {
    let epoch = Instant::now();
    let now_ms = || epoch.elapsed().as_millis() as u64;
    let mut waiting: Option<oneshot::Sender<Decision>> = None;
    loop {
        // Wake exactly at the next deadline (finalizeWait, notification timeout): a fixed
        // tick would add up to a tick to every election.
        let wake = match election.next_timer() {
            Some(ms) => epoch + Duration::from_millis(ms),
            None => Instant::now() + IDLE_TICK,
        };
        let out = tokio::select! {
            ev = events.recv() => match ev {
                None => return,
                Some(Event::Received { from, n }) => election.step(Input::Notification { from, n }),
                Some(Event::Up(sid)) => election.step(Input::PeerUp(sid)),
                Some(Event::Down(sid)) => election.step(Input::PeerDown(sid)),
                Some(Event::Look { last_zxid, current_epoch, reply }) => {
                    waiting = Some(reply);
                    election.set_log_state(last_zxid, current_epoch);
                    election.start(now_ms())
                }
                Some(Event::Inbound { sid, addrs, stream }) => {
                    peers.inbound(sid, addrs, stream);
                    Vec::new()
                }
                Some(Event::Settle { leader, zxid, peer_epoch }) => {
                    election.settle(leader, zxid, peer_epoch);
                    Vec::new()
                }
                Some(Event::SetConfig { servers, version }) => {
                    adopt(&mut election, &mut peers, &servers, version);
                    Vec::new()
                }
            },
            Some(_) = peers.tasks.join_next(), if !peers.tasks.is_empty() => Vec::new(),
            _ = tokio::time::sleep_until(wake.into()) => election.step(Input::Tick { now_ms: now_ms() }),
        };
        let mut out = out;
        out.extend(adopt_newer(&mut election, &mut peers, &adoption, now_ms()));
        for o in out {
            match o {
                Output::Send { to, n } => peers.send(to, Bytes::from(n.encode())),
                Output::Decided {
                    leader,
                    state,
                    vote,
                    elapsed_ms,
                } => {
                    tracing::info!(leader, ?state, elapsed_ms, "leader election decided");
                    if let Some(reply) = waiting.take() {
                        // The caller may have given up waiting; the decision stands anyway.
                        let _ = reply.send(Decision {
                            leader,
                            state,
                            vote,
                            elapsed_ms,
                        });
                    }
                }
            }
        }
    }
}

/// Accepts connections, reads handshakes, and hands each to its peer task (or refuses it).
async fn accept_loop(listener: TcpListener, cnx_timeout: Duration, events: mpsc::Sender<Event>) {
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "election accept failed");
                        tokio::time::sleep(BACKOFF_MIN).await;
                        continue;
                    }
                };
                // Notifications are small writes answered by the peer: with Nagle on, each
                // reply can sit out the peer's delayed ACK (~40 ms on Linux).
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "election connection: cannot disable Nagle");
                }
                let events = events.clone();
                handshakes.spawn(async move {
                    let mut stream = stream;
                    let hs = match tokio::time::timeout(cnx_timeout, read_handshake(&mut stream)).await {
                        Ok(Ok(hs)) => hs,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "bad election handshake");
                            return;
                        }
                        Err(_) => return,
                    };
                    let sid = hs.sid();
                    let addrs = match hs {
                        Handshake::Versioned { addrs, .. } => addrs,
                        Handshake::Legacy { .. } => Vec::new(),
                    };
                    // The service may be gone only when it is stopping.
                    let _ = events.send(Event::Inbound { sid, addrs, stream }).await;
                });
            }
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => {}
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Wire(#[from] ElectionWireError),
}

async fn read_handshake(stream: &mut TcpStream) -> Result<Handshake, ConnError> {
    let mut buf = vec![0u8; 8];
    stream.read_exact(&mut buf).await?;
    loop {
        if let Some((hs, _)) = Handshake::decode(&buf)? {
            return Ok(hs);
        }
        // Versioned: sid and length next, then the address bytes.
        let want = if buf.len() < 20 {
            20
        } else {
            20 + i32::from_be_bytes([buf[16], buf[17], buf[18], buf[19]]).max(0) as usize
        };
        let have = buf.len();
        buf.resize(want, 0);
        stream.read_exact(&mut buf[have..]).await?;
    }
}

/// One peer's connection, across reconnects.
struct Peer {
    my_id: u64,
    sid: u64,
    addrs: Vec<String>,
    hello: Arc<Vec<u8>>,
    cnx_timeout: Duration,
    slot: watch::Receiver<Option<Bytes>>,
    conns: mpsc::Receiver<TcpStream>,
    nudge: Arc<Notify>,
    events: mpsc::Sender<Event>,
}

impl Peer {
    async fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        loop {
            if self.my_id > self.sid {
                match self.dial().await {
                    Some(stream) => {
                        backoff = BACKOFF_MIN;
                        self.serve(stream).await;
                    }
                    None => {
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = self.nudge.notified() => {}
                        }
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
            } else {
                let poke = self.slot.borrow().is_some();
                tokio::select! {
                    conn = self.conns.recv() => match conn {
                        Some(stream) => {
                            backoff = BACKOFF_MIN;
                            self.serve(stream).await;
                        }
                        None => return,
                    },
                    _ = tokio::time::sleep(backoff), if poke => {
                        // Ask the larger sid to dial us: connect, introduce ourselves, hang up.
                        if let Some(mut stream) = self.dial().await {
                            let _ = stream.shutdown().await;
                        }
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                    _ = self.slot.changed(), if !poke => {}
                }
            }
        }
    }

    /// Connects to one of the peer's addresses and sends our handshake.
    async fn dial(&self) -> Option<TcpStream> {
        for addr in &self.addrs {
            let attempt = async {
                let mut s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                s.write_all(&self.hello).await?;
                Ok::<_, std::io::Error>(s)
            };
            match tokio::time::timeout(self.cnx_timeout, attempt).await {
                Ok(Ok(s)) => return Some(s),
                Ok(Err(e)) => {
                    tracing::debug!(sid = self.sid, addr, error = %e, "election dial failed")
                }
                Err(_) => tracing::debug!(sid = self.sid, addr, "election dial timed out"),
            }
        }
        None
    }

    /// Runs a connection until it fails or a newer one from the same peer replaces it.
    async fn serve(&mut self, stream: TcpStream) {
        let mut next = Some(stream);
        while let Some(stream) = next.take() {
            if self.events.send(Event::Up(self.sid)).await.is_err() {
                return;
            }
            let (mut rd, mut wr) = stream.into_split();
            let sid = self.sid;
            let events = self.events.clone();
            let reader = async move {
                loop {
                    let len = check_frame_len(rd.read_i32().await?)?;
                    let mut payload = vec![0u8; len];
                    rd.read_exact(&mut payload).await?;
                    match Notification::decode(Bytes::from(payload)) {
                        Ok(n) => {
                            if events.send(Event::Received { from: sid, n }).await.is_err() {
                                return Ok(());
                            }
                        }
                        Err(e) => tracing::warn!(sid, error = %e, "ignoring bad notification"),
                    }
                }
            };
            let slot = &mut self.slot;
            let writer = async move {
                let first = slot.borrow_and_update().clone();
                if let Some(msg) = first {
                    wr.write_all(&encode_frame(&msg)).await?;
                }
                while slot.changed().await.is_ok() {
                    let msg = slot.borrow_and_update().clone();
                    if let Some(msg) = msg {
                        wr.write_all(&encode_frame(&msg)).await?;
                    }
                }
                Ok::<(), ConnError>(())
            };
            let conns = &mut self.conns;
            let outcome: Result<(), ConnError> = tokio::select! {
                r = reader => r,
                r = writer => r,
                newer = conns.recv() => {
                    next = newer;
                    Ok(())
                }
            };
            if let Err(e) = outcome {
                tracing::debug!(sid, error = %e, "election connection closed");
            }
            if self.events.send(Event::Down(sid)).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HostPort;

    fn spec(id: u64, port: u16) -> ServerSpec {
        ServerSpec {
            id,
            quorum_addrs: vec![HostPort::new("127.0.0.1", 1)],
            election_addrs: vec![HostPort::new("127.0.0.1", port)],
            role: Role::Participant,
            client_addr: None,
        }
    }

    #[test]
    fn election_port_binds_all_ips_only_when_asked() {
        let servers = BTreeMap::from([(1, spec(1, 3888))]);
        let mut s = ElectionSettings::new(1, servers, 0);
        assert_eq!(my_addr(&s).unwrap(), "127.0.0.1:3888");
        s.listen_on_all_ips = true;
        assert_eq!(my_addr(&s).unwrap(), "0.0.0.0:3888");
    }

    async fn ensemble(n: u64) -> BTreeMap<u64, Arc<ElectionHandle>> {
        let mut listeners = BTreeMap::new();
        let mut servers = BTreeMap::new();
        for id in 1..=n {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            servers.insert(id, spec(id, l.local_addr().unwrap().port()));
            listeners.insert(id, l);
        }
        listeners
            .into_iter()
            .map(|(id, l)| {
                let s = ElectionSettings::new(id, servers.clone(), 0);
                (id, Arc::new(ElectionService::start_on(s, l).unwrap()))
            })
            .collect()
    }

    async fn elect(
        handles: &BTreeMap<u64, Arc<ElectionHandle>>,
        zxid: i64,
    ) -> BTreeMap<u64, Decision> {
        let mut set = JoinSet::new();
        for (&id, h) in handles {
            let h = h.clone();
            set.spawn(async move {
                let d = tokio::time::timeout(Duration::from_secs(20), h.look_for_leader(zxid, 1))
                    .await
                    .expect("election finishes in time")
                    .unwrap();
                (id, d)
            });
        }
        let mut out = BTreeMap::new();
        while let Some(r) = set.join_next().await {
            let (id, d) = r.unwrap();
            out.insert(id, d);
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_services_elect_then_reelect_after_leader_dies() {
        let mut handles = ensemble(3).await;
        let decisions = elect(&handles, 0x1_0000_0001).await;
        assert!(decisions.values().all(|d| d.leader == 3), "{decisions:?}");
        assert_eq!(decisions[&3].state, ServerState::Leading);
        assert_eq!(decisions[&1].state, ServerState::Following);

        // The leader dies: the other two look again and pick the larger remaining sid.
        drop(handles.remove(&3));
        let decisions = elect(&handles, 0x1_0000_0001).await;
        assert!(decisions.values().all(|d| d.leader == 2), "{decisions:?}");
        assert_eq!(decisions[&2].state, ServerState::Leading);
    }

    #[tokio::test]
    async fn refuses_garbage_handshake_and_speaks_apache_framing() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        // Server 1 only; server 2 is us, speaking the protocol by hand.
        let servers: BTreeMap<u64, ServerSpec> =
            [(1, spec(1, port)), (2, spec(2, 1))].into_iter().collect();
        let h = ElectionService::start_on(ElectionSettings::new(1, servers, 0), l).unwrap();
        let mut bad = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        bad.write_all(&(-7i64).to_be_bytes()).await.unwrap();
        let mut buf = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(5), bad.read(&mut buf)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "garbage handshake is dropped"
        );

        // As the larger sid we dial 1 and it keeps our connection.
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let hello = Handshake::Versioned {
            protocol_version: PROTOCOL_VERSION_V1,
            sid: 2,
            addrs: vec!["127.0.0.1:1".into()],
        };
        s.write_all(&hello.encode()).await.unwrap();
        let look = tokio::spawn(async move { h.look_for_leader(5, 1).await.map(|d| (d, h)) });
        // Server 1 sends its LOOKING vote for itself.
        let len = s.read_i32().await.unwrap();
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).await.unwrap();
        let n = Notification::decode(Bytes::from(payload)).unwrap();
        assert_eq!(
            (n.state, n.leader, n.zxid, n.peer_epoch),
            (ServerState::Looking, 1, 5, 1)
        );
        assert!(std::str::from_utf8(&n.config)
            .unwrap()
            .contains("server.2=127.0.0.1:1:1:participant"));
        // We propose ourselves with a better epoch: 1 adopts it, and the two of us agree.
        let mine = Notification {
            state: ServerState::Looking,
            leader: 2,
            zxid: 0x2_0000_0000,
            election_epoch: n.election_epoch,
            peer_epoch: 2,
            version: 2,
            config: n.config.clone(),
        };
        s.write_all(&encode_frame(&mine.encode())).await.unwrap();
        let (d, _h) = tokio::time::timeout(Duration::from_secs(10), look)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((d.leader, d.state), (2, ServerState::Following));
    }
}
