//! Scenario tests of the election state machine, with hand-delivered messages.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::*;
use crate::proto::election::Notification;
use crate::quorum::verifier::QuorumMaj;

fn node(id: u64, voters: &[u64], observers: &[u64], zxid: i64, epoch: i64) -> Election {
    let q = QuorumMaj::from_ids(voters.iter().copied(), observers.iter().copied(), 0);
    Election::new(
        id,
        q,
        zxid,
        epoch,
        0,
        observers.contains(&id),
        Bytes::from_static(b"version=0"),
    )
}

fn looking(leader: u64, zxid: i64, round: i64, peer_epoch: i64) -> Notification {
    settled(ServerState::Looking, leader, zxid, round, peer_epoch)
}

fn settled(
    state: ServerState,
    leader: u64,
    zxid: i64,
    round: i64,
    peer_epoch: i64,
) -> Notification {
    Notification {
        state,
        leader,
        zxid,
        election_epoch: round,
        peer_epoch,
        version: 2,
        config: Bytes::from_static(b"version=0"),
    }
}

fn sends(out: &[Output]) -> Vec<(u64, Notification)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to, n } => Some((*to, n.clone())),
            Output::Decided { .. } => None,
        })
        .collect()
}

fn decided(out: &[Output]) -> Option<(u64, ServerState)> {
    out.iter().find_map(|o| match o {
        Output::Decided { leader, state, .. } => Some((*leader, *state)),
        Output::Send { .. } => None,
    })
}

/// Delivers every message instantly in FIFO order, then ticks everyone to `now`.
fn run(
    nodes: &mut BTreeMap<u64, Election>,
    mut queue: VecDeque<(u64, u64, Notification)>,
    now: u64,
) -> BTreeMap<u64, (u64, ServerState)> {
    let mut result = BTreeMap::new();
    let handle =
        |from: u64, out: Vec<Output>, queue: &mut VecDeque<_>, result: &mut BTreeMap<_, _>| {
            if let Some(d) = decided(&out) {
                result.insert(from, d);
            }
            for (to, n) in sends(&out) {
                queue.push_back((from, to, n));
            }
        };
    for _ in 0..10_000 {
        if let Some((from, to, n)) = queue.pop_front() {
            // Messages to a server that is not running are lost.
            let Some(node) = nodes.get_mut(&to) else {
                continue;
            };
            let out = node.step(Input::Notification { from, n });
            handle(to, out, &mut queue, &mut result);
            continue;
        }
        let ids: Vec<u64> = nodes.keys().copied().collect();
        for id in ids {
            let out = nodes
                .get_mut(&id)
                .unwrap()
                .step(Input::Tick { now_ms: now });
            handle(id, out, &mut queue, &mut result);
        }
        if queue.is_empty() {
            break;
        }
    }
    result
}

fn start_all(nodes: &mut BTreeMap<u64, Election>) -> VecDeque<(u64, u64, Notification)> {
    let mut q = VecDeque::new();
    for (id, e) in nodes.iter_mut() {
        for (to, n) in sends(&e.start(0)) {
            q.push_back((*id, to, n));
        }
    }
    q
}

#[test]
fn three_servers_elect_the_most_up_to_date() {
    let voters = [1, 2, 3];
    let mut nodes: BTreeMap<u64, Election> = [
        (1, node(1, &voters, &[], 0x1_0000_0009, 1)),
        (2, node(2, &voters, &[], 0x1_0000_0005, 1)),
        (3, node(3, &voters, &[], 0x1_0000_0009, 1)),
    ]
    .into_iter()
    .collect();
    let q = start_all(&mut nodes);
    // Every voter ends up voting for 3 in this round: nobody waits finalizeWait (time 0).
    let d = run(&mut nodes, q, 0);
    assert_eq!(d[&1], (3, ServerState::Following));
    assert_eq!(d[&2], (3, ServerState::Following));
    assert_eq!(d[&3], (3, ServerState::Leading));
    for e in nodes.values() {
        assert_eq!(e.current_vote().election_epoch, 1);
        assert_eq!(e.next_timer(), None);
    }
}

#[test]
fn peer_epoch_beats_zxid() {
    let voters = [1, 2, 3];
    let mut nodes: BTreeMap<u64, Election> = [
        (1, node(1, &voters, &[], 0x1_0000_0009, 1)),
        (2, node(2, &voters, &[], 0x1_0000_0001, 2)),
        (3, node(3, &voters, &[], 0x1_0000_0008, 1)),
    ]
    .into_iter()
    .collect();
    let q = start_all(&mut nodes);
    let mut d = run(&mut nodes, q, 0);
    d.extend(run(&mut nodes, VecDeque::new(), 200));
    assert_eq!(d.len(), 3, "{d:?}");
    assert!(d.values().all(|(l, _)| *l == 2), "{d:?}");
}

#[test]
fn finalize_wait_restarts_on_worse_and_yields_to_better() {
    let mut e = node(1, &[1, 2, 3, 4, 5], &[], 10, 1);
    e.start(0);
    // 2 and 3 vote for 3: with ourselves that is not yet all of them agreeing on 3.
    e.step(Input::Notification {
        from: 3,
        n: looking(3, 10, 1, 1),
    });
    e.step(Input::Notification {
        from: 2,
        n: looking(3, 10, 1, 1),
    });
    assert_eq!(e.proposal().leader, 3);
    assert_eq!(e.next_timer(), Some(200));
    // A worse vote at t=150 pushes the decision to 350.
    e.step(Input::Tick { now_ms: 150 });
    e.step(Input::Notification {
        from: 4,
        n: looking(2, 10, 1, 1),
    });
    assert_eq!(e.next_timer(), Some(350));
    assert!(e.step(Input::Tick { now_ms: 349 }).is_empty());
    // A better one cancels finalizing and is adopted.
    let out = e.step(Input::Notification {
        from: 5,
        n: looking(5, 10, 1, 1),
    });
    assert_eq!(e.proposal().leader, 5);
    assert_eq!(sends(&out).len(), 4, "re-broadcast to the other voters");
    assert!(e.is_looking());
}

#[test]
fn notification_timeout_doubles_up_to_a_minute() {
    let mut e = node(1, &[1, 2, 3], &[], 0, 0);
    let out = e.start(1000);
    assert_eq!(
        sends(&out).iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(e.next_timer(), Some(1200));
    assert!(e.step(Input::Tick { now_ms: 1199 }).is_empty());
    let mut now = 1200;
    let mut seen = Vec::new();
    for _ in 0..12 {
        let out = e.step(Input::Tick { now_ms: now });
        assert_eq!(sends(&out).len(), 2, "re-broadcast at {now}");
        seen.push(e.notification_timeout_ms());
        now = e.next_timer().unwrap();
    }
    assert_eq!(&seen[..4], &[400, 800, 1600, 3200]);
    assert_eq!(*seen.last().unwrap(), MAX_NOTIFICATION_INTERVAL_MS);
}

#[test]
fn higher_round_resets_and_lower_round_gets_answered() {
    let mut e = node(2, &[1, 2, 3], &[], 50, 1);
    e.start(0);
    assert_eq!(e.logical_clock(), 1);
    // Round 4 with a worse candidate: jump to round 4 but keep voting for ourselves.
    let out = e.step(Input::Notification {
        from: 1,
        n: looking(1, 10, 4, 1),
    });
    assert_eq!(e.logical_clock(), 4);
    assert_eq!(e.proposal().leader, 2);
    assert!(sends(&out)
        .iter()
        .all(|(_, n)| n.election_epoch == 4 && n.leader == 2));
    // A lagging LOOKING peer gets our proposal back at once.
    let out = e.step(Input::Notification {
        from: 3,
        n: looking(3, 0, 2, 1),
    });
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, 3);
    assert_eq!((s[0].1.leader, s[0].1.election_epoch), (2, 4));
    assert_eq!(e.proposal().leader, 2, "a stale round is ignored");
}

#[test]
fn late_joiner_follows_established_leader() {
    let mut e = node(3, &[1, 2, 3], &[], 0, 0);
    e.start(0);
    // A follower alone is not enough.
    let out = e.step(Input::Notification {
        from: 1,
        n: settled(ServerState::Following, 2, 0x5_0000_0000, 7, 5),
    });
    assert!(decided(&out).is_none());
    // A quorum naming 2, with 2 saying it leads: join.
    let out = e.step(Input::Notification {
        from: 2,
        n: settled(ServerState::Leading, 2, 0x5_0000_0003, 7, 5),
    });
    assert_eq!(decided(&out), Some((2, ServerState::Following)));
    assert_eq!(e.logical_clock(), 7);
    assert_eq!(e.current_vote().election_epoch, 7);
}

#[test]
fn quorum_without_a_leading_leader_does_not_join() {
    let mut e = node(3, &[1, 2, 3, 4, 5], &[], 0, 0);
    e.start(0);
    for from in [1, 4, 5] {
        let out = e.step(Input::Notification {
            from,
            n: settled(ServerState::Following, 2, 9, 3, 1),
        });
        assert!(decided(&out).is_none());
    }
    // A leader at another peer epoch does not match the followers' votes.
    let out = e.step(Input::Notification {
        from: 2,
        n: settled(ServerState::Leading, 2, 9, 3, 2),
    });
    assert!(decided(&out).is_none());
    let out = e.step(Input::Notification {
        from: 2,
        n: settled(ServerState::Leading, 2, 9, 3, 1),
    });
    assert_eq!(decided(&out), Some((2, ServerState::Following)));
}

#[test]
fn observers_never_win_and_never_count() {
    // 4 is an observer with the best history; 1 alone plus 4 is no quorum.
    let mut e = node(1, &[1, 2, 3], &[4], 5, 1);
    e.start(0);
    let out = e.step(Input::Notification {
        from: 4,
        n: looking(4, 100, 1, 9),
    });
    // Non-voters are answered with our current vote and never recorded.
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, 4);
    assert_eq!(e.proposal().leader, 1);
    // A voter proposing the observer is ignored too.
    e.step(Input::Notification {
        from: 2,
        n: looking(4, 100, 1, 9),
    });
    assert_eq!(e.proposal().leader, 1);
    assert!(decided(&e.step(Input::Tick { now_ms: 10_000 })).is_none());

    // The observer itself ends up OBSERVING the voters' leader.
    let voters = [1, 2, 3];
    let mut nodes: BTreeMap<u64, Election> = [
        (1, node(1, &voters, &[4], 5, 1)),
        (2, node(2, &voters, &[4], 5, 1)),
        (3, node(3, &voters, &[4], 5, 1)),
        (4, node(4, &voters, &[4], 100, 9)),
    ]
    .into_iter()
    .collect();
    let q = start_all(&mut nodes);
    let mut d = run(&mut nodes, q, 0);
    d.extend(run(&mut nodes, VecDeque::new(), 200));
    // The observer times out, re-asks, and hears the settled voters.
    d.extend(run(&mut nodes, VecDeque::new(), 400));
    assert_eq!(d[&3], (3, ServerState::Leading));
    assert_eq!(d[&4], (3, ServerState::Observing));
}

#[test]
fn settled_servers_answer_looking_peers() {
    let mut e = node(1, &[1, 2, 3], &[], 0x2_0000_0001, 2);
    e.start(0);
    e.step(Input::Notification {
        from: 2,
        n: looking(1, 0x2_0000_0001, 1, 2),
    });
    e.step(Input::Tick { now_ms: 200 });
    assert_eq!(e.state(), ServerState::Leading);
    let asked = looking(3, 0, 6, 0);
    let reply = e.answer_while_settled(3, &asked).unwrap();
    assert_eq!(reply.state, ServerState::Leading);
    assert_eq!(
        (
            reply.leader,
            reply.zxid,
            reply.election_epoch,
            reply.peer_epoch
        ),
        (1, 0x2_0000_0001, 1, 2)
    );
    assert!(e
        .answer_while_settled(3, &settled(ServerState::Following, 1, 0, 1, 2))
        .is_none());
    // step() does the same.
    let out = e.step(Input::Notification { from: 3, n: asked });
    assert_eq!(sends(&out), vec![(3, reply)]);
}

#[test]
fn peer_up_resends_proposal_and_newer_config_is_noted() {
    let mut e = node(1, &[1, 2, 3], &[], 0, 0);
    e.start(0);
    let s = sends(&e.step(Input::PeerUp(2)));
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, 2);
    assert!(e.connected_peers().contains(&2));
    e.step(Input::PeerDown(2));
    assert!(e.connected_peers().is_empty());
    let mut n = looking(2, 0, 1, 0);
    n.config = Bytes::from_static(b"server.1=a:1:2:participant\nversion=1f");
    e.step(Input::Notification { from: 2, n });
    assert_eq!(e.newer_config().map(|c| c.0), Some(0x1f));
}

#[test]
fn survivors_decide_at_once_when_the_only_silent_voter_is_gone() {
    let voters = [1, 2, 3];
    let mut nodes: BTreeMap<u64, Election> = [
        (1, node(1, &voters, &[], 0x1_0000_0009, 1)),
        (2, node(2, &voters, &[], 0x1_0000_0009, 1)),
    ]
    .into_iter()
    .collect();
    // Both were connected to 3 (the old leader), whose connection then dropped.
    for (id, e) in nodes.iter_mut() {
        let other = if *id == 1 { 2 } else { 1 };
        e.step(Input::PeerUp(other));
        e.step(Input::PeerUp(3));
        e.step(Input::PeerDown(3));
    }
    let q = start_all(&mut nodes);
    // No finalizeWait: the decision comes with the messages, at time 0.
    let d = run(&mut nodes, q, 0);
    assert_eq!(d[&1], (2, ServerState::Following));
    assert_eq!(d[&2], (2, ServerState::Leading));
}

#[test]
fn a_voter_never_heard_from_still_gets_the_finalize_wait() {
    let voters = [1, 2, 3];
    let mut nodes: BTreeMap<u64, Election> = [
        (1, node(1, &voters, &[], 0x1_0000_0009, 1)),
        (2, node(2, &voters, &[], 0x1_0000_0009, 1)),
    ]
    .into_iter()
    .collect();
    for (id, e) in nodes.iter_mut() {
        e.step(Input::PeerUp(if *id == 1 { 2 } else { 1 }));
    }
    let q = start_all(&mut nodes);
    assert!(run(&mut nodes, q, 199).is_empty());
    let d = run(&mut nodes, VecDeque::new(), 200);
    assert_eq!(d[&2], (2, ServerState::Leading));
}

fn leading_with_config(leader: u64, round: i64, config: &'static [u8]) -> Notification {
    Notification {
        config: Bytes::from_static(config),
        ..settled(ServerState::Leading, leader, 9, round, 1)
    }
}

#[test]
fn a_joiner_follows_a_leader_whose_own_config_has_a_quorum() {
    // Server 2 lists {1, 2}; the running ensemble is server 1 alone.
    let mut e = node(2, &[1, 2], &[], 0, 0);
    e.start(0);
    let one = b"server.1=127.0.0.1:2001:3001:participant\nversion=0";
    let out = e.step(Input::Notification {
        from: 1,
        n: leading_with_config(1, 4, one),
    });
    assert_eq!(decided(&out), Some((1, ServerState::Following)));
}

#[test]
fn a_member_never_takes_the_joiner_shortcut() {
    // Server 3 is a voter in the leader's config: it needs a quorum of its own view.
    let mut e = node(3, &[1, 2, 3], &[], 0, 0);
    e.start(0);
    let cfg = b"server.1=127.0.0.1:2001:3001:participant\nserver.2=127.0.0.1:2002:3002:participant\nserver.3=127.0.0.1:2003:3003:participant\nversion=0";
    let out = e.step(Input::Notification {
        from: 1,
        n: leading_with_config(1, 4, cfg),
    });
    assert!(decided(&out).is_none());
}

#[test]
fn a_joiner_ignores_an_older_leader_config() {
    let q = QuorumMaj::from_ids([1, 2], [], 5);
    let mut e = Election::new(2, q, 0, 0, 0, false, Bytes::from_static(b"version=5"));
    e.start(0);
    let one = b"server.1=127.0.0.1:2001:3001:participant\nversion=1";
    let out = e.step(Input::Notification {
        from: 1,
        n: leading_with_config(1, 4, one),
    });
    assert!(decided(&out).is_none());
}

#[test]
fn a_settled_vote_answers_looking_peers() {
    let mut e = node(2, &[1, 2, 3], &[], 0, 0);
    e.settle(3, 0x1_0000_0004, 1);
    assert_eq!(e.state(), ServerState::Following);
    let reply = e
        .answer_while_settled(1, &looking(1, 0, 1, 0))
        .expect("answers");
    assert_eq!((reply.leader, reply.state), (3, ServerState::Following));
}

/// Three voters elect 3; then 3 dies and both survivors see its connections drop.
fn survivors_of_a_dead_leader() -> BTreeMap<u64, Election> {
    let voters = [1, 2, 3];
    let mut nodes: BTreeMap<u64, Election> = voters
        .iter()
        .map(|&id| (id, node(id, &voters, &[], 0x1_0000_0009, 1)))
        .collect();
    for (id, e) in nodes.iter_mut() {
        for peer in voters.iter().filter(|p| *p != id) {
            e.step(Input::PeerUp(*peer));
        }
    }
    let q = start_all(&mut nodes);
    let d = run(&mut nodes, q, 0);
    assert_eq!(d[&3], (3, ServerState::Leading));
    nodes.remove(&3);
    for e in nodes.values_mut() {
        e.step(Input::PeerDown(3));
        e.set_log_state(0x1_0000_0010, 1);
    }
    nodes
}

#[test]
fn a_vote_sent_while_we_were_settled_counts_in_our_next_round() {
    let mut nodes = survivors_of_a_dead_leader();
    // 2 notices first; its vote reaches 1 while 1 still follows 3.
    let out2 = nodes.get_mut(&2).unwrap().start(1000);
    let to1: Vec<Notification> = sends(&out2)
        .into_iter()
        .filter(|(to, _)| *to == 1)
        .map(|(_, n)| n)
        .collect();
    assert_eq!(to1.len(), 1);
    let e1 = nodes.get_mut(&1).unwrap();
    let answer = e1.step(Input::Notification {
        from: 2,
        n: to1[0].clone(),
    });
    assert_eq!(sends(&answer)[0].1.state, ServerState::Following);
    // When 1 starts looking it already knows 2's vote: it decides with its first step,
    // instead of waiting for 2's notification timeout.
    let out1 = e1.start(1001);
    assert_eq!(decided(&out1), Some((2, ServerState::Following)));
    let mut q: VecDeque<_> = sends(&out1).into_iter().map(|(to, n)| (1, to, n)).collect();
    q.retain(|(_, to, _)| *to == 2);
    let d = run(&mut nodes, q, 1001);
    assert_eq!(d[&2], (2, ServerState::Leading));
}

#[test]
fn losing_the_last_silent_voter_ends_finalize_wait() {
    let voters = [1, 2, 3];
    let mut e = node(1, &voters, &[], 0x1_0000_0009, 1);
    e.step(Input::PeerUp(2));
    e.step(Input::PeerUp(3));
    e.start(0);
    e.step(Input::Notification {
        from: 2,
        n: looking(2, 0x1_0000_0009, 1, 1),
    });
    // A quorum (1, 2) for 2, but 3 is connected and silent: finalizeWait.
    assert_eq!(e.proposal().leader, 2);
    assert_eq!(e.next_timer(), Some(200));
    let out = e.step(Input::PeerDown(3));
    assert_eq!(decided(&out), Some((2, ServerState::Following)));
}

#[test]
fn finalize_wait_joins_an_established_leader_at_once() {
    // A restarted 2 (round 1) hears 1's last LOOKING vote of round 3 for 3, then that 1
    // follows 3 and 3 leads: it joins without waiting finalizeWait out.
    let voters = [1, 2, 3];
    let mut e = node(2, &voters, &[], 0x2_0000_0003, 2);
    e.step(Input::PeerUp(1));
    e.start(0);
    e.step(Input::Notification {
        from: 1,
        n: looking(3, 0x2_0000_0003, 3, 2),
    });
    assert_eq!(
        e.next_timer(),
        Some(200),
        "3 never heard from: finalizeWait"
    );
    e.step(Input::Tick { now_ms: 10 });
    let out = e.step(Input::Notification {
        from: 1,
        n: settled(ServerState::Following, 3, 0x2_0000_0003, 3, 2),
    });
    assert!(decided(&out).is_none(), "no word from the leader yet");
    e.step(Input::PeerUp(3));
    let out = e.step(Input::Notification {
        from: 3,
        n: settled(ServerState::Leading, 3, 0x2_0000_0003, 3, 2),
    });
    assert_eq!(decided(&out), Some((3, ServerState::Following)));
    assert_eq!(e.current_vote().election_epoch, 3);
}

#[test]
fn a_looking_observer_does_not_echo_a_lagging_voter() {
    // Voter 2 answers every LOOKING observer message with its own (lagging) vote; if the
    // observer answered that in turn, the two would echo forever.
    let mut o = node(4, &[1, 2, 3], &[4], 5, 1);
    o.start(0);
    o.start(500);
    assert_eq!(o.logical_clock(), 2);
    let out = o.step(Input::Notification {
        from: 2,
        n: looking(2, 5, 1, 1),
    });
    assert!(sends(&out).is_empty(), "{out:?}");
    // A voter still tells a lagging voter about the current round.
    let mut v = node(1, &[1, 2, 3], &[4], 5, 1);
    v.start(0);
    v.start(500);
    let out = v.step(Input::Notification {
        from: 2,
        n: looking(2, 5, 1, 1),
    });
    assert_eq!(sends(&out).len(), 1);
}
