//! The leader's side of a reconfig: the dual quorum, the activation packets, the switch of
//! voters, and the hand-over when the leader leaves the config.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::tests::{established, info};
use super::*;

/// Connects `sid` as a follower of an established leader, through to UPTODATE.
fn join(l: &mut Leader, sid: Sid) {
    info(l, sid, 8);
    l.handle(Input::Packet {
        from: sid,
        pkt: ZabPacket::AckEpoch {
            zxid: l.last_committed(),
            current_epoch: 8,
        },
    });
    let out = l.handle(Input::Packet {
        from: sid,
        pkt: ZabPacket::Ack {
            zxid: make_zxid(8, 0),
        },
    });
    assert!(
        out.contains(&Output::Send {
            to: sid,
            pkt: ZabPacket::UpToDate
        }),
        "{sid} synced: {out:?}"
    );
}

fn members(voters: &[Sid], leader_stays: bool) -> NewMembers {
    NewMembers {
        voters: voters.iter().copied().collect(),
        observers: BTreeSet::new(),
        version: make_zxid(8, 1),
        text: Bytes::from_static(b"new config"),
        leader_stays,
    }
}

fn ack(l: &mut Leader, from: Sid, zxid: i64) -> Vec<Output> {
    l.handle(Input::Packet {
        from,
        pkt: ZabPacket::Ack { zxid },
    })
}

#[test]
fn a_joiner_syncs_before_it_is_a_member_and_its_ack_is_needed_to_commit() {
    let mut l = established(make_zxid(3, 9));
    // Server 5 is in no config yet; it still syncs, as Apache's LearnerHandler allows.
    join(&mut l, 5);
    assert_eq!(l.synced(), BTreeSet::from([1, 2, 5]));
    let (z, _) = l
        .propose_reconfig(|_| Bytes::from_static(b"r"), members(&[1, 2, 3, 5], true))
        .unwrap();
    assert_eq!(
        l.propose_reconfig(|_| Bytes::new(), members(&[1, 2], true))
            .unwrap_err(),
        ZabError::ReconfigInProgress
    );
    l.handle(Input::Persisted { zxid: z });
    // {1, 2} is a quorum of the old config but not of the new one (3 of 4 needed).
    assert!(ack(&mut l, 2, z).is_empty());
    let out = ack(&mut l, 5, z);
    let activate = ZabPacket::CommitAndActivate {
        zxid: z,
        leader_sid: 1,
    };
    for to in [2, 5] {
        assert!(out.contains(&Output::Send {
            to,
            pkt: activate.clone()
        }));
    }
    let applied = out
        .iter()
        .position(|o| matches!(o, Output::ApplyCommitted { .. }))
        .expect("applied");
    let reconfigured = out
        .iter()
        .position(|o| *o == Output::Reconfigured { zxid: z, leader: 1 })
        .expect("reconfigured");
    assert!(
        applied < reconfigured,
        "the config is applied first: {out:?}"
    );
    assert_eq!(l.config().voters, BTreeSet::from([1, 2, 3, 5]));
    assert!(l.is_serving());
}

#[test]
fn proposals_after_a_reconfig_need_both_quorums_until_it_commits() {
    let mut l = established(make_zxid(3, 9));
    join(&mut l, 3);
    let (r, _) = l
        .propose_reconfig(|_| Bytes::from_static(b"r"), members(&[1, 4, 5], true))
        .unwrap();
    let (w, _) = l.propose(|_| Bytes::from_static(b"w")).unwrap();
    l.handle(Input::Persisted { zxid: w });
    ack(&mut l, 2, r);
    ack(&mut l, 2, w);
    let out = ack(&mut l, 3, r);
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::ApplyCommitted { .. })),
        "the old voters alone cannot commit into the new config: {out:?}"
    );
}

#[test]
fn a_leader_removed_by_reconfig_hands_over_and_stops() {
    let mut l = established(make_zxid(3, 9));
    join(&mut l, 3);
    let (z, _) = l
        .propose_reconfig(|_| Bytes::from_static(b"r"), members(&[2, 3], false))
        .unwrap();
    l.handle(Input::Persisted { zxid: z });
    ack(&mut l, 3, z);
    let out = ack(&mut l, 2, z);
    assert!(out.contains(&Output::Reconfigured { zxid: z, leader: 2 }));
    assert!(out.contains(&Output::StepDown {
        reason: StepDownReason::Reconfigured { successor: 2 }
    }));
    assert!(l.propose(|_| Bytes::new()).is_err(), "stopped");
}
