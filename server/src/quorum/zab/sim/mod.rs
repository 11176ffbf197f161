//! Deterministic simulation of a Zab ensemble: simulated disks (fsync completions, crashes
//! that lose or tear unsynced writes), a simulated network (delays, cross-link reordering,
//! connection resets, silent partitions, stale packets of closed connections), crashes and
//! restarts, all driven by one seeded `StdRng`. Invariants are checked after every event.
//!
//! The leader is chosen by an oracle standing in for FLE: among live LOOKING voters that
//! can reach each other, the one with the largest (currentEpoch, lastZxid, sid) leads.

mod check;
mod disk;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use self::check::{Checker, Violation};
use self::disk::Disk;
use super::{Input, Leader, Learner, LearnerKind, Output, Sid, ZabConfig, ZabError};
use crate::proto::jute::Jute;
use crate::proto::quorum::{Direction, ZabPacket};
use crate::proto::records::QuorumPacket;

/// Shape and length of one simulated run.
#[derive(Debug, Clone, Copy)]
pub struct SimParams {
    pub voters: u64,
    pub observers: u64,
    /// Simulated time with faults.
    pub chaos_ms: u64,
    /// Fault-free time at the end, in which the ensemble must make progress.
    pub heal_ms: u64,
    pub commit_log_count: usize,
}

const TICK_MS: u64 = 10;
const HALF_TICK: u64 = TICK_MS / 2;
/// No proposals in the last part of a run, so every serving server must catch up.
const QUIESCE_MS: u64 = 100;

enum Role {
    Down,
    Looking,
    Leading(Box<Leader>),
    Learning(Box<Learner>),
}

struct Server {
    sid: Sid,
    observer: bool,
    generation: u64,
    disk: Disk,
    applied: Vec<(i64, Bytes)>,
    role: Role,
    serving: bool,
    /// Connection id per peer, for the current role.
    conns: BTreeMap<Sid, u64>,
    fsync_inflight: bool,
    expect_snapshot: Option<i64>,
}

enum Wire {
    Packet(Vec<u8>),
    Snapshot(Vec<(i64, Bytes)>),
}

enum Event {
    Tick,
    Msg {
        conn: u64,
        from: Sid,
        to: Sid,
        wire: Wire,
    },
    Closed {
        conn: u64,
        to: Sid,
        peer: Sid,
    },
    Fsync {
        sid: Sid,
        generation: u64,
        count: usize,
    },
}

struct Conn {
    open: bool,
    /// A partition swallowed a packet: TCP would stall, so everything after is lost too.
    blackhole: bool,
    /// Latest scheduled delivery per direction (keeps each direction FIFO).
    last_at: BTreeMap<Sid, u64>,
}

/// Counters reported by a run (to see that runs exercise something).
#[derive(Debug, Default, Clone, Copy)]
pub struct SimStats {
    pub events: u64,
    pub acked: usize,
    pub elections: u64,
    pub crashes: u64,
    pub snapshots: u64,
}

struct World {
    rng: StdRng,
    now: u64,
    seq: u64,
    events: BTreeMap<(u64, u64), Event>,
    servers: BTreeMap<Sid, Server>,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    /// Unordered pairs that cannot talk.
    cuts: BTreeSet<(Sid, Sid)>,
    params: SimParams,
    voters: BTreeSet<Sid>,
    observers: BTreeSet<Sid>,
    check: Checker,
    next_txn: u64,
    stats: SimStats,
    /// Acknowledged txns when the leader sent NEWLEADER to each learner (its sync point).
    sync_marks: BTreeMap<Sid, usize>,
    /// `ZAB_SIM_TRACE=1` prints every input and output (for replaying a failing seed).
    trace: bool,
}

/// Runs one seed; `Err` describes the first invariant violation.
pub fn run_seed(params: SimParams, seed: u64) -> Result<SimStats, String> {
    let mut w = World::new(params, seed);
    w.run()
        .map_err(|v| format!("seed {seed} at t={}ms: {v}", w.now))?;
    Ok(w.stats)
}

impl World {
    fn new(params: SimParams, seed: u64) -> World {
        let voters: BTreeSet<Sid> = (1..=params.voters).collect();
        let observers: BTreeSet<Sid> =
            (params.voters + 1..=params.voters + params.observers).collect();
        let servers = voters
            .iter()
            .chain(observers.iter())
            .map(|&sid| {
                let s = Server {
                    sid,
                    observer: observers.contains(&sid),
                    generation: 0,
                    disk: Disk::default(),
                    applied: Vec::new(),
                    role: Role::Looking,
                    serving: false,
                    conns: BTreeMap::new(),
                    fsync_inflight: false,
                    expect_snapshot: None,
                };
                (sid, s)
            })
            .collect();
        let mut w = World {
            rng: StdRng::seed_from_u64(seed),
            now: 0,
            seq: 0,
            events: BTreeMap::new(),
            servers,
            conns: BTreeMap::new(),
            next_conn: 1,
            cuts: BTreeSet::new(),
            params,
            voters,
            observers,
            check: Checker::default(),
            next_txn: 1,
            stats: SimStats::default(),
            sync_marks: BTreeMap::new(),
            trace: std::env::var_os("ZAB_SIM_TRACE").is_some(),
        };
        w.schedule(0, Event::Tick);
        w
    }

    fn config(&self, sid: Sid) -> ZabConfig {
        ZabConfig {
            my_sid: sid,
            voters: self.voters.clone(),
            observers: self.observers.clone(),
            tick_ms: TICK_MS,
            init_limit: 10,
            sync_limit: 5,
            commit_log_count: self.params.commit_log_count,
            config_version: 0,
            config_text: Bytes::from_static(b"version=0"),
        }
    }

    fn schedule(&mut self, at: u64, ev: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), ev);
    }

    fn cut(&self, a: Sid, b: Sid) -> bool {
        self.cuts.contains(&(a.min(b), a.max(b)))
    }

    fn run(&mut self) -> Result<(), Violation> {
        let end = self.params.chaos_ms + self.params.heal_ms;
        let mut acked_at_heal = None;
        while let Some(((at, _), ev)) = self.events.pop_first() {
            if at > end {
                break;
            }
            self.now = at;
            self.stats.events += 1;
            if acked_at_heal.is_none() && at >= self.params.chaos_ms {
                acked_at_heal = Some(self.check.acked.len());
                self.heal();
            }
            self.step(ev)?;
        }
        self.stats.acked = self.check.acked.len();
        if self.check.acked.len() <= acked_at_heal.unwrap_or(0) {
            return Err("no txn committed after the network healed".into());
        }
        for s in self.servers.values().filter(|s| s.serving) {
            self.check
                .holds_acked(s.sid, &s.applied, self.check.acked.len())?;
        }
        Ok(())
    }

    fn heal(&mut self) {
        self.cuts.clear();
        let down: Vec<Sid> = self
            .servers
            .values()
            .filter(|s| matches!(s.role, Role::Down))
            .map(|s| s.sid)
            .collect();
        for sid in down {
            self.restart(sid);
        }
    }

    fn step(&mut self, ev: Event) -> Result<(), Violation> {
        match ev {
            Event::Tick => self.on_tick(),
            Event::Msg {
                conn,
                from,
                to,
                wire,
            } => self.on_msg(conn, from, to, wire),
            Event::Closed { conn, to, peer } => {
                let uses = self
                    .servers
                    .get(&to)
                    .is_some_and(|s| s.conns.get(&peer) == Some(&conn));
                if uses {
                    if let Some(s) = self.servers.get_mut(&to) {
                        s.conns.remove(&peer);
                    }
                    self.feed(to, Input::PeerDisconnected { sid: peer })?;
                }
                Ok(())
            }
            Event::Fsync {
                sid,
                generation,
                count,
            } => {
                let Some(s) = self.servers.get_mut(&sid) else {
                    return Ok(());
                };
                if s.generation != generation {
                    return Ok(());
                }
                s.fsync_inflight = false;
                let done = s.disk.fsync(count);
                let more = !s.disk.pending.is_empty();
                if more {
                    self.start_fsync(sid);
                }
                match done {
                    Some(zxid) => self.feed(sid, Input::Persisted { zxid }),
                    None => Ok(()),
                }
            }
        }
    }

    fn on_tick(&mut self) -> Result<(), Violation> {
        self.schedule(self.now + HALF_TICK, Event::Tick);
        if self.now < self.params.chaos_ms {
            self.faults();
        }
        let quiet = self.now + QUIESCE_MS >= self.params.chaos_ms + self.params.heal_ms;
        if !quiet && self.rng.gen_bool(0.4) {
            self.client_propose()?;
        }
        let sids: Vec<Sid> = self.servers.keys().copied().collect();
        for sid in sids {
            self.feed(sid, Input::Tick { now_ms: self.now })?;
        }
        self.elect()
    }

    fn faults(&mut self) {
        let sids: Vec<Sid> = self.servers.keys().copied().collect();
        let pick = sids[self.rng.gen_range(0..sids.len())];
        let roll: f64 = self.rng.gen();
        if roll < 0.006 {
            self.crash(pick);
        } else if roll < 0.03 {
            if matches!(self.servers[&pick].role, Role::Down) {
                self.restart(pick);
            }
        } else if roll < 0.034 {
            for &other in &sids {
                if other != pick {
                    self.cuts.insert((pick.min(other), pick.max(other)));
                }
            }
        } else if roll < 0.037 {
            let other = sids[self.rng.gen_range(0..sids.len())];
            if other != pick {
                self.cuts.insert((pick.min(other), pick.max(other)));
            }
        } else if roll < 0.05 {
            self.cuts.clear();
        } else if roll < 0.054 {
            let open: Vec<u64> = self
                .conns
                .iter()
                .filter(|(_, c)| c.open)
                .map(|(id, _)| *id)
                .collect();
            if !open.is_empty() {
                let id = open[self.rng.gen_range(0..open.len())];
                self.close_conn(id);
            }
        }
    }

    fn client_propose(&mut self) -> Result<(), Violation> {
        let leader = self.servers.values().find_map(|s| match &s.role {
            Role::Leading(l) if l.is_serving() => Some(s.sid),
            _ => None,
        });
        let Some(sid) = leader else { return Ok(()) };
        let n = self.next_txn;
        self.next_txn += 1;
        let result = match self.servers.get_mut(&sid).map(|s| &mut s.role) {
            Some(Role::Leading(l)) => l.propose(|zxid| {
                let mut b = n.to_be_bytes().to_vec();
                b.extend_from_slice(&zxid.to_be_bytes());
                Bytes::from(b)
            }),
            _ => return Ok(()),
        };
        match result {
            Ok((_, outs)) => self.apply_outputs(sid, outs),
            Err(ZabError::ZxidExhausted(_)) => {
                self.enter_looking(sid);
                Ok(())
            }
            Err(e) => Err(format!("serving leader {sid} refused a proposal: {e}")),
        }
    }

    fn crash(&mut self, sid: Sid) {
        let Some(s) = self.servers.get_mut(&sid) else {
            return;
        };
        if matches!(s.role, Role::Down) {
            return;
        }
        self.stats.crashes += 1;
        if self.trace {
            eprintln!("{:>5} crash {sid}", self.now);
        }
        s.disk.crash(&mut self.rng);
        s.role = Role::Down;
        s.serving = false;
        s.applied.clear();
        s.generation += 1;
        s.fsync_inflight = false;
        s.expect_snapshot = None;
        let conns: Vec<u64> = s.conns.values().copied().collect();
        s.conns.clear();
        for c in conns {
            self.close_conn(c);
        }
    }

    fn restart(&mut self, sid: Sid) {
        if let Some(s) = self.servers.get_mut(&sid) {
            s.role = Role::Looking;
            // Replays the whole log into the data tree.
            s.applied = s.disk.log.clone();
            s.generation += 1;
        }
    }

    /// Leaves the current role: flush the log, fast-forward the tree, drop connections.
    fn enter_looking(&mut self, sid: Sid) {
        let Some(s) = self.servers.get_mut(&sid) else {
            return;
        };
        s.disk.flush_all();
        s.applied = s.disk.log.clone();
        s.role = Role::Looking;
        s.serving = false;
        s.generation += 1;
        s.fsync_inflight = false;
        s.expect_snapshot = None;
        let conns: Vec<u64> = std::mem::take(&mut s.conns).into_values().collect();
        for c in conns {
            self.close_conn(c);
        }
    }

    fn close_conn(&mut self, id: u64) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if !c.open {
            return;
        }
        c.open = false;
        let ends: Vec<Sid> = c.last_at.keys().copied().collect();
        if let [a, b] = ends[..] {
            let d = self.rng.gen_range(1..=3);
            self.schedule(
                self.now + d,
                Event::Closed {
                    conn: id,
                    to: a,
                    peer: b,
                },
            );
            self.schedule(
                self.now + d,
                Event::Closed {
                    conn: id,
                    to: b,
                    peer: a,
                },
            );
        }
    }

    fn open_conn(&mut self, leader: Sid, learner: Sid) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        let last_at = BTreeMap::from([(leader, self.now), (learner, self.now)]);
        self.conns.insert(
            id,
            Conn {
                open: true,
                blackhole: false,
                last_at,
            },
        );
        for (a, b) in [(leader, learner), (learner, leader)] {
            let old = self.servers.get_mut(&a).and_then(|s| s.conns.insert(b, id));
            if let Some(old) = old {
                self.close_conn(old);
            }
        }
        id
    }

    /// The FLE stand-in: late starters join a reachable leader; otherwise a connected
    /// quorum of LOOKING voters picks the max (currentEpoch, lastZxid, sid).
    fn elect(&mut self) -> Result<(), Violation> {
        let looking: Vec<Sid> = self
            .servers
            .values()
            .filter(|s| matches!(s.role, Role::Looking))
            .map(|s| s.sid)
            .collect();
        for sid in looking {
            if !matches!(self.servers[&sid].role, Role::Looking) {
                continue;
            }
            let leader = self.servers.values().find_map(|s| match s.role {
                Role::Leading(_) if !self.cut(sid, s.sid) => Some(s.sid),
                _ => None,
            });
            if let Some(leader) = leader {
                self.follow(sid, leader)?;
                continue;
            }
            if self.servers[&sid].observer {
                continue;
            }
            let group: Vec<Sid> = self
                .servers
                .values()
                .filter(|s| {
                    !s.observer
                        && matches!(s.role, Role::Looking)
                        && (s.sid == sid || !self.cut(sid, s.sid))
                })
                .map(|s| s.sid)
                .collect();
            if 2 * group.len() as u64 <= self.params.voters {
                continue;
            }
            let best = group
                .iter()
                .copied()
                .max_by_key(|g| {
                    let d = &self.servers[g].disk;
                    (d.current_epoch, d.last_zxid(), *g)
                })
                .unwrap_or(sid);
            self.stats.elections += 1;
            if self.trace {
                eprintln!("{:>5} elect {best} from {group:?}", self.now);
            }
            self.lead(best)?;
            for g in group {
                if g != best && !self.cut(g, best) {
                    self.follow(g, best)?;
                }
            }
        }
        Ok(())
    }

    fn lead(&mut self, sid: Sid) -> Result<(), Violation> {
        let cfg = self.config(sid);
        let Some(s) = self.servers.get_mut(&sid) else {
            return Ok(());
        };
        s.disk.flush_all();
        let durable = s.disk.durable_state(self.params.commit_log_count);
        let (leader, outs) = Leader::new(cfg, durable, self.now);
        s.role = Role::Leading(Box::new(leader));
        s.generation += 1;
        self.apply_outputs(sid, outs)
    }

    fn follow(&mut self, sid: Sid, leader: Sid) -> Result<(), Violation> {
        let cfg = self.config(sid);
        let Some(s) = self.servers.get_mut(&sid) else {
            return Ok(());
        };
        s.disk.flush_all();
        let durable = s.disk.durable_state(0);
        let kind = if s.observer {
            LearnerKind::Observer
        } else {
            LearnerKind::Follower
        };
        let (learner, outs) = Learner::new(cfg, kind, leader, &durable, self.now);
        s.role = Role::Learning(Box::new(learner));
        s.generation += 1;
        self.open_conn(leader, sid);
        self.apply_outputs(sid, outs)
    }

    fn on_msg(&mut self, conn: u64, from: Sid, to: Sid, wire: Wire) -> Result<(), Violation> {
        let live = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.open && !c.blackhole);
        let current = self
            .servers
            .get(&to)
            .is_some_and(|s| s.conns.get(&from) == Some(&conn));
        if !live || !current {
            return Ok(());
        }
        match wire {
            Wire::Snapshot(state) => {
                let Some(s) = self.servers.get_mut(&to) else {
                    return Ok(());
                };
                let at = state.last().map_or(0, |(z, _)| *z);
                if s.expect_snapshot.take() != Some(at) {
                    return Err(format!("server {to} got an unexpected snapshot at {at:#x}"));
                }
                self.stats.snapshots += 1;
                s.disk.log = state.clone();
                s.disk.pending.clear();
                s.applied = state;
                Ok(())
            }
            Wire::Packet(bytes) => {
                let dir = if matches!(self.servers[&to].role, Role::Leading(_)) {
                    Direction::ToLeader
                } else {
                    Direction::ToLearner
                };
                let rec =
                    QuorumPacket::from_bytes(Bytes::from(bytes)).map_err(|e| e.to_string())?;
                let pkt = ZabPacket::from_wire(rec, dir).map_err(|e| e.to_string())?;
                self.feed(to, Input::Packet { from, pkt })
            }
        }
    }

    fn feed(&mut self, sid: Sid, input: Input) -> Result<(), Violation> {
        if self.trace && !matches!(input, Input::Tick { .. }) {
            eprintln!("{:>5} {sid} <- {input:?}", self.now);
        }
        let Some(s) = self.servers.get_mut(&sid) else {
            return Ok(());
        };
        let outs = match &mut s.role {
            Role::Leading(l) => l.handle(input),
            Role::Learning(l) => l.handle(input),
            Role::Down | Role::Looking => return Ok(()),
        };
        self.apply_outputs(sid, outs)
    }

    fn send(&mut self, from: Sid, to: Sid, wire: Wire) {
        let Some(&id) = self.servers.get(&from).and_then(|s| s.conns.get(&to)) else {
            return;
        };
        let cut = self.cut(from, to);
        let delay = if self.rng.gen_bool(0.05) {
            15
        } else {
            self.rng.gen_range(1..=3)
        };
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if !c.open || c.blackhole {
            return;
        }
        if cut {
            c.blackhole = true;
            return;
        }
        let at = (self.now + delay).max(c.last_at.get(&from).copied().unwrap_or(0));
        c.last_at.insert(from, at);
        self.schedule(
            at,
            Event::Msg {
                conn: id,
                from,
                to,
                wire,
            },
        );
    }

    fn start_fsync(&mut self, sid: Sid) {
        let d = self.rng.gen_range(1..=4);
        let Some(s) = self.servers.get_mut(&sid) else {
            return;
        };
        if s.fsync_inflight || s.disk.pending.is_empty() {
            return;
        }
        s.fsync_inflight = true;
        let ev = Event::Fsync {
            sid,
            generation: s.generation,
            count: s.disk.pending.len(),
        };
        self.schedule(self.now + d, ev);
    }

    fn apply_outputs(&mut self, sid: Sid, outs: Vec<Output>) -> Result<(), Violation> {
        for out in outs {
            if self.apply_output(sid, out)? {
                break;
            }
        }
        Ok(())
    }

    /// Carries out one output; `true` when the role ended.
    fn apply_output(&mut self, sid: Sid, out: Output) -> Result<bool, Violation> {
        if self.trace {
            eprintln!("{:>5} {sid} -> {out:?}", self.now);
        }
        let generation = self.servers.get(&sid).map_or(0, |s| s.generation);
        let is_leader = self
            .servers
            .get(&sid)
            .is_some_and(|s| matches!(s.role, Role::Leading(_)));
        let Some(s) = self.servers.get_mut(&sid) else {
            return Ok(true);
        };
        match out {
            Output::Send { to, pkt } => {
                if matches!(pkt, ZabPacket::NewLeader { .. }) {
                    self.sync_marks.insert(to, self.check.acked.len());
                }
                self.send(sid, to, Wire::Packet(pkt.encode()))
            }
            Output::Disconnect { sid: peer } => {
                if let Some(id) = s.conns.remove(&peer) {
                    self.close_conn(id);
                }
            }
            Output::Persist { zxid, txn } => {
                if zxid <= s.disk.last_zxid() {
                    return Err(format!(
                        "server {sid} logs {zxid:#x} after {:#x}",
                        s.disk.last_zxid()
                    ));
                }
                s.disk.pending.push((zxid, txn));
                self.start_fsync(sid);
            }
            Output::Truncate { zxid } => {
                s.disk.truncate(zxid);
                s.applied = s.disk.log.clone();
            }
            Output::SendSnapshot { to, zxid } => {
                let at = s.applied.last().map_or(0, |(z, _)| *z);
                if at != zxid {
                    return Err(format!(
                        "leader {sid} snapshot at {at:#x}, SNAP said {zxid:#x}"
                    ));
                }
                let state = s.applied.clone();
                self.send(sid, to, Wire::Snapshot(state));
            }
            Output::LoadSnapshot { zxid } => s.expect_snapshot = Some(zxid),
            Output::ApplyCommitted { zxid, txn } => {
                Checker::apply_order(sid, &s.applied, zxid)?;
                s.applied.push((zxid, txn.clone()));
                if is_leader {
                    self.check.client_ack(zxid, &txn);
                }
                if s.serving {
                    self.check.on_apply(sid, &s.applied)?;
                }
            }
            Output::WriteAcceptedEpoch(e) => {
                if e < s.disk.accepted_epoch {
                    return Err(format!(
                        "server {sid} acceptedEpoch {} -> {e}",
                        s.disk.accepted_epoch
                    ));
                }
                s.disk.accepted_epoch = e;
            }
            Output::WriteCurrentEpoch(e) => {
                if e < s.disk.current_epoch || e > s.disk.accepted_epoch {
                    return Err(format!(
                        "server {sid} currentEpoch {} -> {e} (accepted {})",
                        s.disk.current_epoch, s.disk.accepted_epoch
                    ));
                }
                s.disk.current_epoch = e;
                if is_leader {
                    self.check.leader_epoch(e, sid, generation)?;
                }
            }
            Output::Serving => {
                s.serving = true;
                let upto = if is_leader {
                    self.check.acked.len()
                } else {
                    self.sync_marks
                        .get(&sid)
                        .copied()
                        .unwrap_or(self.check.acked.len())
                };
                self.check.on_serving(sid, &s.applied, upto)?;
            }
            Output::StepDown { .. } => {
                self.enter_looking(sid);
                return Ok(true);
            }
            Output::ForwardedRequest { .. }
            | Output::TouchSessions { .. }
            | Output::RevalidateSession { .. }
            | Output::RevalidateResult { .. }
            | Output::SyncDone
            | Output::ReadRoundConfirmed { .. }
            | Output::Reconfigured { .. } => {}
        }
        Ok(false)
    }
}
