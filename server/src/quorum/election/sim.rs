//! Deterministic simulation of Fast Leader Election: a seeded RNG drives a simulated network
//! (delay, drop, duplicate, reorder, partitions), crashes and restarts, and a simulated clock.
//! A small stand-in for Zab sends servers back to LOOKING when their leader never gets a
//! quorum, as the real learner/leader handshake would.
//!
//! Replay one seed with `ELECTION_SIM_SEED=<seed> cargo test sim`.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::proto::election::Notification;
use crate::quorum::verifier::QuorumMaj;

/// Leader must gather a quorum of followers within this long (initLimit stand-in).
const INIT_LIMIT_MS: u64 = 2_000;
/// A follower gives up on a leader that is not leading it after this long (syncLimit stand-in).
const SYNC_LIMIT_MS: u64 = 1_000;
const CHECK_EVERY_MS: u64 = 250;
/// After the last fault, a connected majority must settle on one leader within this long.
const SETTLE_BOUND_MS: u64 = 70_000;
const MAX_EVENTS: usize = 400_000;

#[derive(Debug)]
enum Event {
    Deliver { from: u64, to: u64, n: Notification },
    Timer(u64),
    Check(u64),
    PeerUp { at: u64, peer: u64 },
    PeerDown { at: u64, peer: u64 },
    Start(u64),
    Crash(u64),
    Cut(u64, u64),
    Heal(u64, u64),
}

struct Node {
    e: Election,
    zxid: i64,
    epoch: i64,
    up: bool,
    timer_at: Option<u64>,
    decided_at: u64,
    trouble_since: Option<u64>,
}

struct Sim {
    seed: u64,
    rng: StdRng,
    now: u64,
    seq: u64,
    events: BTreeMap<(u64, u64), Event>,
    nodes: BTreeMap<u64, Node>,
    q: QuorumMaj,
    cut: BTreeSet<(u64, u64)>,
    /// When each server last learns that its connection to a peer dropped: a reconnection
    /// is reported after that, as a real connection's events come in order.
    down_at: BTreeMap<(u64, u64), u64>,
    drop_p: f64,
    dup_p: f64,
    max_delay: u64,
    faults_until: u64,
    /// Rounds in which two leaders were decided: FLE allows this transiently (and round
    /// numbers restart with a process); the Zab stand-in sends the losers back to LOOKING.
    split_rounds: usize,
    decisions: BTreeMap<i64, BTreeSet<u64>>,
    /// Print every event (`ELECTION_SIM_TRACE=1`).
    trace: bool,
}

fn pair(a: u64, b: u64) -> (u64, u64) {
    (a.min(b), a.max(b))
}

impl Sim {
    fn new(seed: u64, voters: u64, observers: u64) -> Sim {
        let mut rng = StdRng::seed_from_u64(seed);
        let voter_ids: Vec<u64> = (1..=voters).collect();
        let observer_ids: Vec<u64> = (voters + 1..=voters + observers).collect();
        let q = QuorumMaj::from_ids(voter_ids, observer_ids.clone(), 0);
        let mut nodes = BTreeMap::new();
        for id in 1..=voters + observers {
            // Few distinct histories, so ties on (epoch, zxid) happen often.
            let epoch = rng.gen_range(0..3);
            let zxid = (epoch << 32) | rng.gen_range(0..4);
            let observer = observer_ids.contains(&id);
            nodes.insert(
                id,
                Node {
                    e: Election::new(id, q.clone(), zxid, epoch, 0, observer, config()),
                    zxid,
                    epoch,
                    up: false,
                    timer_at: None,
                    decided_at: 0,
                    trouble_since: None,
                },
            );
        }
        let mut sim = Sim {
            seed,
            now: 0,
            seq: 0,
            events: BTreeMap::new(),
            nodes,
            q,
            cut: BTreeSet::new(),
            down_at: BTreeMap::new(),
            drop_p: rng.gen_range(0.0..0.3),
            dup_p: rng.gen_range(0.0..0.2),
            max_delay: rng.gen_range(2..400),
            faults_until: rng.gen_range(0..6_000),
            split_rounds: 0,
            decisions: BTreeMap::new(),
            trace: std::env::var_os("ELECTION_SIM_TRACE").is_some(),
            rng,
        };
        sim.plan_faults();
        sim
    }

    fn schedule(&mut self, at: u64, ev: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), ev);
    }

    fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// Start times, partitions and crashes, all before `faults_until`; at most a minority of
    /// voters stays down for good.
    fn plan_faults(&mut self) {
        let ids = self.ids();
        for &id in &ids {
            let at = self.rng.gen_range(0..1_000);
            self.schedule(at, Event::Start(id));
            self.schedule(at + CHECK_EVERY_MS, Event::Check(id));
        }
        let end = self.faults_until;
        let voters: Vec<u64> = self.q.voters().iter().copied().collect();
        let max_dead = (voters.len() - 1) / 2;
        let dead = self.rng.gen_range(0..=max_dead);
        for _ in 0..dead {
            let v = voters[self.rng.gen_range(0..voters.len())];
            let at = self.rng.gen_range(0..=end);
            self.schedule(at, Event::Crash(v));
        }
        if end == 0 {
            return;
        }
        for _ in 0..self.rng.gen_range(0..6) {
            let a = ids[self.rng.gen_range(0..ids.len())];
            let b = ids[self.rng.gen_range(0..ids.len())];
            if a == b {
                continue;
            }
            let from = self.rng.gen_range(0..end);
            let to = self.rng.gen_range(from..=end);
            self.schedule(from, Event::Cut(a, b));
            self.schedule(to, Event::Heal(a, b));
        }
        // Crash and restart (a fresh process: logical clock 0).
        for _ in 0..self.rng.gen_range(0..3) {
            let v = ids[self.rng.gen_range(0..ids.len())];
            let at = self.rng.gen_range(0..end);
            let back = self.rng.gen_range(at..=end);
            self.schedule(at, Event::Crash(v));
            self.schedule(back, Event::Start(v));
        }
    }

    fn faulty(&self) -> bool {
        self.now < self.faults_until
    }

    fn linked(&self, a: u64, b: u64) -> bool {
        a == b || !self.cut.contains(&pair(a, b))
    }

    fn send(&mut self, from: u64, to: u64, n: Notification) {
        if !self.linked(from, to) {
            return;
        }
        if self.faulty() && self.rng.gen_bool(self.drop_p) {
            // A lost message is a broken connection: both ends see it drop, reconnect, resend.
            self.connection_lost(from, to);
            let at = self.now + self.rng.gen_range(1..500);
            self.peer_up(at, from, to);
            self.peer_up(at, to, from);
            return;
        }
        let copies = if self.rng.gen_bool(self.dup_p) { 2 } else { 1 };
        for _ in 0..copies {
            let at = self.now + self.rng.gen_range(1..=self.max_delay);
            self.schedule(
                at,
                Event::Deliver {
                    from,
                    to,
                    n: n.clone(),
                },
            );
        }
    }

    /// Both ends of a connection learn (soon, in either order) that it dropped, as a socket
    /// EOF or reset tells the real driver.
    fn connection_lost(&mut self, a: u64, b: u64) {
        for (at, peer) in [(a, b), (b, a)] {
            let when = self.now + self.rng.gen_range(0..20);
            self.down_at.insert((at, peer), when);
            self.schedule(when, Event::PeerDown { at, peer });
        }
    }

    /// A connection coming up at `when` (or just after its last drop was reported).
    fn peer_up(&mut self, when: u64, at: u64, peer: u64) {
        let after_down = self.down_at.get(&(at, peer)).map_or(0, |d| d + 1);
        self.schedule(when.max(after_down), Event::PeerUp { at, peer });
    }

    fn apply(&mut self, id: u64, out: Vec<Output>) -> Result<(), String> {
        for o in out {
            match o {
                Output::Send { to, n } => self.send(id, to, n),
                Output::Decided {
                    leader,
                    state,
                    vote,
                    ..
                } => self.on_decided(id, leader, state, vote)?,
            }
        }
        let Some(node) = self.nodes.get_mut(&id) else {
            return Ok(());
        };
        let next = node.e.next_timer();
        if next.is_some() && next != node.timer_at {
            node.timer_at = next;
            if let Some(at) = next {
                self.schedule(at, Event::Timer(id));
            }
        }
        Ok(())
    }

    fn on_decided(
        &mut self,
        id: u64,
        leader: u64,
        state: ServerState,
        vote: Vote,
    ) -> Result<(), String> {
        if !self.q.is_voter(leader) {
            return Err(format!("server {id} elected non-voter {leader}"));
        }
        let l = &self.nodes[&leader];
        if (vote.zxid, vote.peer_epoch) != (l.zxid, l.epoch) {
            return Err(format!(
                "server {id} decided {vote:?} but {leader} has zxid {:#x} epoch {}",
                l.zxid, l.epoch
            ));
        }
        let key = (l.epoch, l.zxid, leader);
        let dominated = self
            .nodes
            .iter()
            .filter(|(sid, n)| self.q.is_voter(**sid) && (n.epoch, n.zxid, **sid) <= key)
            .map(|(sid, _)| *sid)
            .collect();
        if !self.q.contains_quorum(&dominated) {
            return Err(format!(
                "server {id} decided {leader}, not the best of any quorum"
            ));
        }
        let expected = if leader == id {
            ServerState::Leading
        } else if self.q.is_voter(id) {
            ServerState::Following
        } else {
            ServerState::Observing
        };
        if state != expected {
            return Err(format!("server {id} decided {leader} as {state:?}"));
        }
        let leaders = self.decisions.entry(vote.election_epoch).or_default();
        leaders.insert(leader);
        if leaders.len() == 2 {
            self.split_rounds += 1;
        }
        if let Some(n) = self.nodes.get_mut(&id) {
            n.decided_at = self.now;
            n.trouble_since = None;
        }
        Ok(())
    }

    /// The servers following `leader` in its round over a live link, the leader included.
    fn supporters(&self, leader: u64) -> BTreeSet<u64> {
        let l = &self.nodes[&leader];
        let round = l.e.current_vote().election_epoch;
        self.nodes
            .iter()
            .filter(|(sid, n)| {
                n.up && self.linked(leader, **sid)
                    && n.e.state() != ServerState::Looking
                    && n.e.current_vote().leader == leader
                    && n.e.current_vote().election_epoch == round
            })
            .map(|(sid, _)| *sid)
            .collect()
    }

    /// The Zab stand-in: is this settled server's leadership (or leader) real?
    fn check(&mut self, id: u64) -> Result<(), String> {
        let node = &self.nodes[&id];
        if !node.up || node.e.is_looking() {
            return Ok(());
        }
        let vote = node.e.current_vote();
        let healthy = if node.e.state() == ServerState::Leading {
            let ok = self.q.contains_quorum(&self.supporters(id));
            if ok {
                // Rounds restart with the process, so uniqueness is per instant, not per round.
                let others: Vec<u64> = self
                    .nodes
                    .iter()
                    .filter(|(sid, n)| {
                        **sid != id
                            && n.up
                            && n.e.state() == ServerState::Leading
                            && self.q.contains_quorum(&self.supporters(**sid))
                    })
                    .map(|(sid, _)| *sid)
                    .collect();
                if !others.is_empty() {
                    return Err(format!(
                        "{id} and {others:?} are established leaders at once"
                    ));
                }
            }
            ok
        } else {
            let l = &self.nodes[&vote.leader];
            l.up && self.linked(id, vote.leader)
                && l.e.state() == ServerState::Leading
                && l.e.current_vote().election_epoch == vote.election_epoch
        };
        let limit = if node.e.state() == ServerState::Leading {
            INIT_LIMIT_MS
        } else {
            SYNC_LIMIT_MS
        };
        let now = self.now;
        let Some(node) = self.nodes.get_mut(&id) else {
            return Ok(());
        };
        if healthy {
            node.trouble_since = None;
            return Ok(());
        }
        let since = *node.trouble_since.get_or_insert(now);
        if now >= since + limit {
            node.trouble_since = None;
            let out = node.e.start(now);
            self.apply(id, out)?;
        }
        Ok(())
    }

    /// All live servers follow one established leader in one round.
    fn settled(&self) -> bool {
        let live: Vec<&Node> = self.nodes.values().filter(|n| n.up).collect();
        let Some(first) = live.first() else {
            return false;
        };
        let v = first.e.current_vote();
        live.iter().all(|n| {
            !n.e.is_looking()
                && n.e.current_vote().leader == v.leader
                && n.e.current_vote().election_epoch == v.election_epoch
        }) && self
            .nodes
            .get(&v.leader)
            .is_some_and(|l| l.up && l.e.state() == ServerState::Leading)
            && self.q.contains_quorum(&self.supporters(v.leader))
    }

    fn handle(&mut self, ev: Event) -> Result<(), String> {
        match ev {
            Event::Deliver { from, to, n } => {
                if self.nodes[&to].up && self.nodes[&from].up && self.linked(from, to) {
                    let out = self.node(to).e.step(Input::Notification { from, n });
                    self.apply(to, out)?;
                }
            }
            Event::Timer(id) => {
                if self.nodes[&id].up {
                    let now = self.now;
                    let node = self.node(id);
                    node.timer_at = None;
                    let out = node.e.step(Input::Tick { now_ms: now });
                    self.apply(id, out)?;
                }
            }
            Event::Check(id) => {
                self.check(id)?;
                self.schedule(self.now + CHECK_EVERY_MS, Event::Check(id));
            }
            Event::PeerUp { at, peer } => {
                if self.nodes[&at].up && self.nodes[&peer].up && self.linked(at, peer) {
                    let out = self.node(at).e.step(Input::PeerUp(peer));
                    self.apply(at, out)?;
                }
            }
            Event::PeerDown { at, peer } => {
                if self.nodes[&at].up {
                    let out = self.node(at).e.step(Input::PeerDown(peer));
                    self.apply(at, out)?;
                }
            }
            Event::Start(id) => {
                let now = self.now;
                let node = self.node(id);
                if !node.up {
                    let (zxid, epoch) = (node.zxid, node.epoch);
                    let observer = !self.q.is_voter(id);
                    let q = self.q.clone();
                    let node = self.node(id);
                    node.e = Election::new(id, q, zxid, epoch, 0, observer, config());
                    node.up = true;
                    node.timer_at = None;
                    node.trouble_since = None;
                    // Connections to the live servers come up before any message on them.
                    for other in self.ids() {
                        if other != id && self.nodes[&other].up && self.linked(id, other) {
                            self.peer_up(now + 1, id, other);
                            self.peer_up(now + 1, other, id);
                        }
                    }
                    let out = self.node(id).e.start(now);
                    self.apply(id, out)?;
                }
            }
            Event::Crash(id) => {
                self.node(id).up = false;
                for other in self.ids() {
                    if other != id && self.nodes[&other].up && self.linked(id, other) {
                        self.connection_lost(id, other);
                    }
                }
            }
            Event::Cut(a, b) => {
                if self.cut.insert(pair(a, b)) {
                    self.connection_lost(a, b);
                }
            }
            Event::Heal(a, b) => {
                if self.cut.remove(&pair(a, b)) {
                    let at = self.now + 1;
                    self.peer_up(at, a, b);
                    self.peer_up(at, b, a);
                }
            }
        }
        Ok(())
    }

    fn node(&mut self, id: u64) -> &mut Node {
        self.nodes.get_mut(&id).expect("simulated node exists")
    }

    /// Runs until settled after the faults, or fails with the reason.
    fn run(&mut self) -> Result<u64, String> {
        let deadline = self.faults_until + 1_000 + SETTLE_BOUND_MS;
        for _ in 0..MAX_EVENTS {
            if self.now >= self.faults_until + 1_000 && self.settled() {
                return Ok(self.now.saturating_sub(self.faults_until));
            }
            let Some(((at, _), ev)) = self.events.pop_first() else {
                return Err("no events left".into());
            };
            self.now = at;
            if self.trace {
                eprintln!("{at:>7} {ev:?}");
            }
            if at > deadline {
                return Err(format!(
                    "not settled {SETTLE_BOUND_MS} ms after the last fault: {}",
                    self.describe()
                ));
            }
            self.handle(ev)?;
        }
        Err(format!("event limit reached: {}", self.describe()))
    }

    fn describe(&self) -> String {
        self.nodes
            .iter()
            .map(|(id, n)| {
                format!(
                    "{id}:{}{:?} vote={:?} clock={}",
                    if n.up { "" } else { "down," },
                    n.e.state(),
                    n.e.current_vote(),
                    n.e.logical_clock()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn config() -> Bytes {
    Bytes::from_static(b"version=0")
}

/// Runs `count` seeds from `base`, or only `ELECTION_SIM_SEED` if set; panics naming the seed.
fn run_seeds(base: u64, count: u64, voters: u64) {
    let seeds: Vec<u64> = match std::env::var("ELECTION_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("ELECTION_SIM_SEED is a number")],
        Err(_) => (base..base + count).collect(),
    };
    let (mut worst, mut splits) = (0, 0);
    for seed in seeds {
        let observers = seed % 3 / 2;
        let mut sim = Sim::new(seed, voters, observers);
        match sim.run() {
            Ok(t) => worst = worst.max(t),
            Err(why) => panic!(
                "election sim seed {} ({voters} voters, {observers} observers) failed: {why}\n\
                 replay: ELECTION_SIM_SEED={} cargo test -p zkserver sim",
                sim.seed, sim.seed
            ),
        }
        splits += sim.split_rounds;
    }
    eprintln!("{voters} voters: settled at most {worst} ms after the last fault; {splits} transiently split rounds");
}

#[test]
fn sim_three_servers() {
    run_seeds(0, 4000, 3);
}

#[test]
fn sim_five_servers() {
    run_seeds(1_000_000, 3000, 5);
}

#[test]
fn sim_replays_exactly() {
    let trace = |seed| {
        let mut sim = Sim::new(seed, 5, 1);
        let r = sim.run();
        (r, sim.now, sim.seq, sim.describe())
    };
    assert_eq!(trace(42), trace(42));
}
