//! The Fast Leader Election state machine, sans I/O: notifications, ticks and connectivity
//! changes go in; notifications to send and the decision come out. No sockets, clocks,
//! threads or randomness: time is whatever the last [`Input::Tick`] said.
//!
//! It follows Apache's `FastLeaderElection`: `receive` is the WorkerReceiver (answers
//! non-voters and laggards at once, queues the rest), `process` is one turn of
//! `lookForLeader`'s loop, and the poll timeouts become deadlines checked on ticks.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use super::vote::{Candidate, ServerState, TrackedVote, Vote};
use crate::proto::election::{Notification, NOTIFICATION_VERSION};
use crate::quorum::verifier::QuorumMaj;

/// How long a quorum for our proposal must stand unchallenged before we decide
/// (Apache's `finalizeWait`); also the first notification timeout.
pub const FINALIZE_WAIT_MS: u64 = 200;
/// Ceiling of the doubling notification timeout (Apache's `maxNotificationInterval`).
pub const MAX_NOTIFICATION_INTERVAL_MS: u64 = 60_000;
/// Queued notifications kept at most; the oldest go first (they are the stalest).
const INBOX_LIMIT: usize = 4096;
/// Bound on notifications handled in one step (each can loop one back to ourselves).
const STEP_LIMIT: usize = 4 * INBOX_LIMIT;

/// Something that happened to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A decoded notification from server `from`.
    Notification {
        from: u64,
        n: Notification,
    },
    /// The clock moved; deadlines at or before `now_ms` fire.
    Tick {
        now_ms: u64,
    },
    /// A connection to the server came up: it gets our current proposal again.
    PeerUp(u64),
    PeerDown(u64),
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send {
        to: u64,
        n: Notification,
    },
    /// The election ended: we are `state` (LEADING, FOLLOWING or OBSERVING) under `leader`.
    Decided {
        leader: u64,
        state: ServerState,
        vote: Vote,
        elapsed_ms: u64,
    },
}

/// One server's view of leader election, across rounds.
#[derive(Debug, Clone)]
pub struct Election {
    my_id: u64,
    verifier: QuorumMaj,
    last_logged_zxid: i64,
    current_epoch: i64,
    logical_clock: i64,
    is_observer: bool,
    config_text: Bytes,
    state: ServerState,
    /// True between `start` and the decision.
    running: bool,
    proposal: Candidate,
    /// The last decided vote (before any decision: ourselves), what settled servers answer with.
    current_vote: Vote,
    /// LOOKING votes of this round, and settled votes carrying this round.
    recvset: BTreeMap<u64, TrackedVote>,
    /// FOLLOWING/LEADING votes of any round, to join an established ensemble.
    out_of_election: BTreeMap<u64, TrackedVote>,
    inbox: VecDeque<(u64, Notification)>,
    /// LOOKING notifications voters sent while we were settled, the latest per voter. The
    /// next round starts with them: a peer that noticed a dead leader a moment before we
    /// did would otherwise go unheard until its notification timeout (200 ms or more).
    held: BTreeMap<u64, Notification>,
    /// Our own broadcasts, delivered to ourselves as Apache's connection manager does.
    loopback: VecDeque<Notification>,
    not_timeout_ms: u64,
    poll_deadline_ms: u64,
    finalize_deadline_ms: Option<u64>,
    now_ms: u64,
    started_at_ms: u64,
    connected: BTreeSet<u64>,
    /// Peers whose connection dropped and has not come back.
    lost: BTreeSet<u64>,
    newer_config: Option<(u64, Bytes)>,
    /// The config text the newest LEADING notification carried, with its sender.
    leader_config: Option<(u64, Bytes)>,
}

impl Election {
    /// A server that has not started looking yet. `logical_clock` is the last round it took
    /// part in (0 for a fresh process); `config_text` travels in every notification.
    pub fn new(
        my_id: u64,
        verifier: QuorumMaj,
        last_logged_zxid: i64,
        current_epoch: i64,
        logical_clock: i64,
        is_observer: bool,
        config_text: Bytes,
    ) -> Self {
        Election {
            my_id,
            verifier,
            last_logged_zxid,
            current_epoch,
            logical_clock,
            is_observer,
            config_text,
            state: ServerState::Looking,
            running: false,
            proposal: Candidate {
                leader: my_id,
                zxid: last_logged_zxid,
                peer_epoch: current_epoch,
            },
            current_vote: Vote {
                leader: my_id,
                zxid: last_logged_zxid,
                election_epoch: -1,
                peer_epoch: current_epoch,
                state: ServerState::Looking,
            },
            recvset: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            inbox: VecDeque::new(),
            held: BTreeMap::new(),
            loopback: VecDeque::new(),
            not_timeout_ms: FINALIZE_WAIT_MS,
            poll_deadline_ms: 0,
            finalize_deadline_ms: None,
            now_ms: 0,
            started_at_ms: 0,
            connected: BTreeSet::new(),
            lost: BTreeSet::new(),
            newer_config: None,
            leader_config: None,
        }
    }

    /// Adopts a new membership (a committed reconfig, or a newer config learned from a peer):
    /// later rounds count votes with it, and notifications carry its text. A round under way
    /// keeps its votes; `Decided` is checked against the new voters from now on.
    pub fn set_config(&mut self, verifier: QuorumMaj, is_observer: bool, config_text: Bytes) {
        if self
            .newer_config
            .as_ref()
            .is_some_and(|(v, _)| *v <= verifier.version())
        {
            self.newer_config = None;
        }
        self.verifier = verifier;
        self.is_observer = is_observer;
        self.config_text = config_text;
    }

    /// Records what the log holds before the next round (after following or leading).
    pub fn set_log_state(&mut self, last_logged_zxid: i64, current_epoch: i64) {
        self.last_logged_zxid = last_logged_zxid;
        self.current_epoch = current_epoch;
    }

    /// Starts a round: bump the logical clock, vote for ourselves, tell every voter.
    /// Notifications that arrived before are handled right after.
    pub fn start(&mut self, now_ms: u64) -> Vec<Output> {
        self.now_ms = self.now_ms.max(now_ms);
        self.started_at_ms = self.now_ms;
        self.running = true;
        self.state = ServerState::Looking;
        self.recvset.clear();
        self.out_of_election.clear();
        self.finalize_deadline_ms = None;
        self.not_timeout_ms = FINALIZE_WAIT_MS;
        self.poll_deadline_ms = self.now_ms + self.not_timeout_ms;
        self.logical_clock += 1;
        self.proposal = self.init_candidate();
        let mut out = Vec::new();
        self.broadcast(&mut out);
        let held = std::mem::take(&mut self.held);
        self.inbox.extend(held);
        self.drain(&mut out);
        out
    }

    pub fn step(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Notification { from, n } => self.receive(from, n, &mut out),
            Input::Tick { now_ms } => self.tick(now_ms, &mut out),
            Input::PeerUp(sid) => {
                self.connected.insert(sid);
                self.lost.remove(&sid);
                if self.is_looking() && sid != self.my_id && self.verifier.is_voter(sid) {
                    let n = self.proposal_notification();
                    out.push(Output::Send { to: sid, n });
                }
            }
            Input::PeerDown(sid) => {
                self.connected.remove(&sid);
                self.lost.insert(sid);
                if self.is_looking() && self.finalize_deadline_ms.is_some() {
                    // The voter we were still waiting for may be the one that went away.
                    self.decide_if_all_reachable_agree(&mut out);
                }
            }
        }
        self.drain(&mut out);
        out
    }

    /// While FOLLOWING/LEADING/OBSERVING the server still answers LOOKING peers with its
    /// current vote (as Apache's WorkerReceiver does).
    pub fn answer_while_settled(&self, from: u64, n: &Notification) -> Option<Notification> {
        if self.state == ServerState::Looking {
            return None;
        }
        if !self.verifier.is_voter(from) {
            return (n.state == ServerState::Looking)
                .then(|| self.current_vote_notification(self.logical_clock));
        }
        (n.state == ServerState::Looking)
            .then(|| self.current_vote_notification(self.current_vote.election_epoch))
    }

    /// When the next [`Input::Tick`] has something to do, if ever.
    pub fn next_timer(&self) -> Option<u64> {
        self.is_looking()
            .then(|| self.finalize_deadline_ms.unwrap_or(self.poll_deadline_ms))
    }

    pub fn my_id(&self) -> u64 {
        self.my_id
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    /// True between `start` and the decision.
    pub fn is_looking(&self) -> bool {
        self.running && self.state == ServerState::Looking
    }

    pub fn logical_clock(&self) -> i64 {
        self.logical_clock
    }

    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    /// What we propose in the current round.
    pub fn proposal(&self) -> Candidate {
        self.proposal
    }

    /// The current notification timeout (doubles on every silent timeout).
    pub fn notification_timeout_ms(&self) -> u64 {
        self.not_timeout_ms
    }

    /// Peers whose connection is up, as reported by PeerUp/PeerDown.
    pub fn connected_peers(&self) -> &BTreeSet<u64> {
        &self.connected
    }

    /// The newest config (version, text) a peer sent that is newer than ours. Adopting it
    /// (reconfig) is the caller's business.
    pub fn newer_config(&self) -> Option<&(u64, Bytes)> {
        self.newer_config.as_ref()
    }

    pub fn verifier(&self) -> &QuorumMaj {
        &self.verifier
    }

    /// Our initial vote; observers propose nothing anyone would pick.
    fn init_candidate(&self) -> Candidate {
        let participant = !self.is_observer;
        Candidate {
            leader: if self.verifier.is_voter(self.my_id) {
                self.my_id
            } else {
                i64::MIN as u64
            },
            zxid: if participant {
                self.last_logged_zxid
            } else {
                i64::MIN
            },
            peer_epoch: if participant {
                self.current_epoch
            } else {
                i64::MIN
            },
        }
    }

    /// `totalOrderPredicate`: only voters can be better.
    fn better(&self, new: &Candidate, cur: &Candidate) -> bool {
        self.verifier.weight(new.leader) != 0 && new.beats(cur)
    }

    fn notification(&self, state: ServerState, c: Candidate, election_epoch: i64) -> Notification {
        Notification {
            state,
            leader: c.leader,
            zxid: c.zxid,
            election_epoch,
            peer_epoch: c.peer_epoch,
            version: NOTIFICATION_VERSION,
            config: self.config_text.clone(),
        }
    }

    fn proposal_notification(&self) -> Notification {
        self.notification(ServerState::Looking, self.proposal, self.logical_clock)
    }

    fn current_vote_notification(&self, election_epoch: i64) -> Notification {
        let v = self.current_vote;
        let c = Candidate {
            leader: v.leader,
            zxid: v.zxid,
            peer_epoch: v.peer_epoch,
        };
        self.notification(self.state, c, election_epoch)
    }

    /// Sends our proposal to every voter; our own copy comes back through the loopback.
    fn broadcast(&mut self, out: &mut Vec<Output>) {
        let n = self.proposal_notification();
        for &sid in self.verifier.voters() {
            if sid == self.my_id {
                self.loopback.push_back(n.clone());
            } else {
                out.push(Output::Send {
                    to: sid,
                    n: n.clone(),
                });
            }
        }
    }

    /// Handles loopback and queued notifications until none is left (or we decided).
    fn drain(&mut self, out: &mut Vec<Output>) {
        for _ in 0..STEP_LIMIT {
            if let Some(n) = self.loopback.pop_front() {
                self.receive(self.my_id, n, out);
                continue;
            }
            if !self.is_looking() {
                return;
            }
            match self.inbox.pop_front() {
                Some((from, n)) => self.process(from, n, out),
                None => return,
            }
        }
    }

    /// The receiving side: note newer configs, answer at once where Apache does, queue the rest.
    fn receive(&mut self, from: u64, n: Notification, out: &mut Vec<Output>) {
        self.note_config(&n);
        if self.state != ServerState::Looking {
            if let Some(reply) = self.answer_while_settled(from, &n) {
                out.push(Output::Send { to: from, n: reply });
            }
            if n.state == ServerState::Looking && self.verifier.is_voter(from) {
                self.held.insert(from, n);
            }
            return;
        }
        if !self.verifier.is_voter(from) {
            // Apache answers every non-voter message; answering only LOOKING ones avoids an
            // endless echo between a LOOKING voter and a settled observer.
            if n.state == ServerState::Looking {
                let n = self.current_vote_notification(self.logical_clock);
                out.push(Output::Send { to: from, n });
            }
            return;
        }
        let lagging = n.state == ServerState::Looking && n.election_epoch < self.logical_clock;
        if self.inbox.len() >= INBOX_LIMIT {
            self.inbox.pop_front();
        }
        self.inbox.push_back((from, n));
        // Telling a laggard our round only helps if it counts our messages: a voter ignores
        // a non-voter's, and answers it with its own lagging vote, which would start an
        // endless echo between a LOOKING observer and a LOOKING voter a round behind.
        if lagging && self.running && self.verifier.is_voter(self.my_id) {
            let n = self.proposal_notification();
            out.push(Output::Send { to: from, n });
        }
    }

    fn note_config(&mut self, n: &Notification) {
        if n.version <= 1 {
            return;
        }
        let Some(version) = config_version(&n.config) else {
            return;
        };
        let newest = self
            .newer_config
            .as_ref()
            .map_or(self.verifier.version(), |c| c.0);
        if version > newest {
            self.newer_config = Some((version, n.config.clone()));
        }
    }

    fn tick(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        self.now_ms = self.now_ms.max(now_ms);
        if !self.is_looking() {
            return;
        }
        if let Some(deadline) = self.finalize_deadline_ms {
            if self.now_ms >= deadline {
                let c = self.proposal;
                self.decide(c, self.logical_clock, out);
            }
            return;
        }
        if self.now_ms >= self.poll_deadline_ms {
            self.broadcast(out);
            self.not_timeout_ms = (self.not_timeout_ms * 2).min(MAX_NOTIFICATION_INTERVAL_MS);
            self.poll_deadline_ms = self.now_ms + self.not_timeout_ms;
        }
    }

    /// One turn of `lookForLeader` with notification `n` from `from`.
    fn process(&mut self, from: u64, n: Notification, out: &mut Vec<Output>) {
        let cand = Candidate {
            leader: n.leader,
            zxid: n.zxid,
            peer_epoch: n.peer_epoch,
        };
        if self.finalize_deadline_ms.is_some() {
            if !self.better(&cand, &self.proposal) {
                // Nothing better: keep waiting a full finalizeWait from now (as Apache does),
                // but keep what the message tells us, which may end the wait early.
                self.finalize_deadline_ms = Some(self.now_ms + FINALIZE_WAIT_MS);
                self.note_while_finalizing(from, &n, out);
                return;
            }
            self.finalize_deadline_ms = None;
        }
        self.poll_deadline_ms = self.now_ms + self.not_timeout_ms;
        if !self.verifier.is_voter(from) || !self.verifier.is_voter(n.leader) {
            return;
        }
        match n.state {
            ServerState::Looking => self.process_looking(from, &n, cand, out),
            ServerState::Observing => {}
            ServerState::Following | ServerState::Leading => self.process_settled(from, &n, out),
        }
    }

    fn process_looking(
        &mut self,
        from: u64,
        n: &Notification,
        cand: Candidate,
        out: &mut Vec<Output>,
    ) {
        if self.init_candidate().zxid == -1 || n.zxid == -1 {
            return;
        }
        if n.election_epoch > self.logical_clock {
            self.logical_clock = n.election_epoch;
            self.recvset.clear();
            let init = self.init_candidate();
            self.proposal = if self.better(&cand, &init) {
                cand
            } else {
                init
            };
            self.broadcast(out);
        } else if n.election_epoch < self.logical_clock {
            return;
        } else if self.better(&cand, &self.proposal) {
            self.proposal = cand;
            self.broadcast(out);
        }
        self.recvset.insert(
            from,
            TrackedVote {
                vote: vote_of(n, ServerState::Looking),
                version: 0,
            },
        );
        let target = self.proposal_target();
        if self.has_quorum(&self.recvset, &target) && !self.decide_if_all_reachable_agree(out) {
            self.finalize_deadline_ms = Some(self.now_ms + FINALIZE_WAIT_MS);
        }
    }

    /// Our proposal as a LOOKING vote of this round.
    fn proposal_target(&self) -> TrackedVote {
        TrackedVote {
            vote: Vote {
                leader: self.proposal.leader,
                zxid: self.proposal.zxid,
                election_epoch: self.logical_clock,
                peer_epoch: self.proposal.peer_epoch,
                state: ServerState::Looking,
            },
            version: 0,
        }
    }

    /// Decides for our proposal when a quorum backs it and every voter we can reach voted
    /// for it: nobody reachable has anything better to say, so waiting finalizeWait could
    /// only delay the decision (this is where most of Apache's election time goes after a
    /// leader dies). The elected leader is still the best of a quorum, as with the wait.
    fn decide_if_all_reachable_agree(&mut self, out: &mut Vec<Output>) -> bool {
        let target = self.proposal_target();
        if !self.has_quorum(&self.recvset, &target)
            || !self.heard_from_every_reachable_voter(&target)
        {
            return false;
        }
        let c = self.proposal;
        self.decide(c, self.logical_clock, out);
        true
    }

    /// A message that does not beat our proposal, during finalizeWait. Apache drops it; we
    /// record a same-round LOOKING vote (it may be the last voter agreeing with us) and join
    /// an established leader as we would outside the wait.
    fn note_while_finalizing(&mut self, from: u64, n: &Notification, out: &mut Vec<Output>) {
        if !self.verifier.is_voter(from) || !self.verifier.is_voter(n.leader) {
            return;
        }
        match n.state {
            ServerState::Looking if n.election_epoch == self.logical_clock => {
                self.recvset.insert(
                    from,
                    TrackedVote {
                        vote: vote_of(n, ServerState::Looking),
                        version: 0,
                    },
                );
                self.decide_if_all_reachable_agree(out);
            }
            ServerState::Looking | ServerState::Observing => {}
            ServerState::Following | ServerState::Leading => self.process_settled(from, n, out),
        }
    }

    /// True when every voter either voted for `target` this round or is known to be gone
    /// (its connection dropped and has not come back). A voter we never heard from at all
    /// (at start-up) may still have the better vote, so then we wait as Apache does.
    fn heard_from_every_reachable_voter(&self, target: &TrackedVote) -> bool {
        self.verifier.voters().iter().all(|v| {
            let voted = self.recvset.get(v).is_some_and(|t| target.matches(t));
            voted || (*v != self.my_id && !self.connected.contains(v) && self.lost.contains(v))
        })
    }

    /// A FOLLOWING/LEADING notification: join if a quorum names the same leader and the
    /// leader itself says it leads.
    fn process_settled(&mut self, from: u64, n: &Notification, out: &mut Vec<Output>) {
        let target = TrackedVote {
            vote: vote_of(n, n.state),
            version: n.version,
        };
        let cand = Candidate {
            leader: n.leader,
            zxid: n.zxid,
            peer_epoch: n.peer_epoch,
        };
        if n.election_epoch == self.logical_clock {
            self.recvset.insert(
                from,
                TrackedVote {
                    vote: vote_of(n, n.state),
                    version: 0,
                },
            );
            if self.has_quorum(&self.recvset, &target)
                && self.check_leader(&self.recvset, n.leader, n.election_epoch)
            {
                self.decide(cand, n.election_epoch, out);
                return;
            }
        }
        if from == n.leader && n.state == ServerState::Leading {
            self.leader_config = Some((from, n.config.clone()));
        }
        self.out_of_election.insert(from, target);
        if (self.has_quorum(&self.out_of_election, &target)
            || self.joiner_quorum(&self.out_of_election, &target))
            && self.check_leader(&self.out_of_election, n.leader, n.election_epoch)
        {
            self.logical_clock = n.election_epoch;
            self.decide(cand, n.election_epoch, out);
        }
    }

    /// A server about to be added lists itself as a voter, so its own config may need its
    /// own vote to reach a quorum (growing one server to two). When the leader's announced
    /// config is at least as new as ours and does not count us as a voter, a quorum of THAT
    /// config backing the leader is enough: we join as a non-voting learner until the
    /// reconfig that adds us commits (Zab's epoch checks keep a stale leader harmless).
    fn joiner_quorum(&self, votes: &BTreeMap<u64, TrackedVote>, target: &TrackedVote) -> bool {
        let Some((leader, text)) = &self.leader_config else {
            return false;
        };
        if *leader != target.vote.leader {
            return false;
        }
        let Some(config) = crate::config::QuorumConfig::parse_text(text, true) else {
            return false;
        };
        let theirs = QuorumMaj::new(&config.servers, config.version);
        if theirs.version() < self.verifier.version() || theirs.is_voter(self.my_id) {
            return false;
        }
        let acks: BTreeSet<u64> = votes
            .iter()
            .filter(|(_, v)| target.matches(v))
            .map(|(sid, _)| *sid)
            .collect();
        theirs.contains_quorum(&acks)
    }

    fn has_quorum(&self, votes: &BTreeMap<u64, TrackedVote>, target: &TrackedVote) -> bool {
        let acks: BTreeSet<u64> = votes
            .iter()
            .filter(|(_, v)| target.matches(v))
            .map(|(sid, _)| *sid)
            .collect();
        self.verifier.contains_quorum(&acks)
    }

    /// Someone else must have told us it is LEADING; if it is us, the round must be ours.
    fn check_leader(&self, votes: &BTreeMap<u64, TrackedVote>, leader: u64, round: i64) -> bool {
        if leader != self.my_id {
            votes
                .get(&leader)
                .is_some_and(|v| v.vote.state == ServerState::Leading)
        } else {
            self.logical_clock == round
        }
    }

    /// Settles on a leader outside an election (a committed reconfig named it): LOOKING
    /// peers are answered with it from now on, as after Apache's `updateVote`.
    pub fn settle(&mut self, leader: u64, zxid: i64, peer_epoch: i64) {
        let c = Candidate {
            leader,
            zxid,
            peer_epoch,
        };
        self.settle_on(c, self.logical_clock);
    }

    /// Ends the round on `c`: our state follows from who leads.
    fn settle_on(&mut self, c: Candidate, round: i64) -> ServerState {
        let state = if c.leader == self.my_id {
            ServerState::Leading
        } else if self.is_observer {
            ServerState::Observing
        } else {
            ServerState::Following
        };
        self.state = state;
        self.running = false;
        self.finalize_deadline_ms = None;
        self.inbox.clear();
        self.current_vote = Vote {
            leader: c.leader,
            zxid: c.zxid,
            election_epoch: round,
            peer_epoch: c.peer_epoch,
            state,
        };
        state
    }

    fn decide(&mut self, c: Candidate, round: i64, out: &mut Vec<Output>) {
        let state = self.settle_on(c, round);
        out.push(Output::Decided {
            leader: c.leader,
            state,
            vote: self.current_vote,
            elapsed_ms: self.now_ms.saturating_sub(self.started_at_ms),
        });
    }
}

fn vote_of(n: &Notification, state: ServerState) -> Vote {
    Vote {
        leader: n.leader,
        zxid: n.zxid,
        election_epoch: n.election_epoch,
        peer_epoch: n.peer_epoch,
        state,
    }
}

/// The `version=<hex>` line of config text.
fn config_version(config: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(config).ok()?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("version="))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}
