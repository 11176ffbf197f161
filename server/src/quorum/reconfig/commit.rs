//! When a reconfig commits and what happens to the ensemble then (Apache's `Leader`
//! `processAck` with two `QuorumVerifierAcksetPair`s, `getDesignatedLeader`, and the
//! learners' reaction to COMMITANDACTIVATE / INFORMANDACTIVATE).

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{HostPort, Role, ServerSpec};
use crate::quorum::verifier::QuorumMaj;

/// The dual-quorum rule: a reconfig proposal (and every proposal issued while it is
/// outstanding) commits only once the acks hold a quorum of the old config AND a quorum of
/// the new one, so that neither config can later elect a leader that lacks it.
pub fn commit_ready(old: &QuorumMaj, new: &QuorumMaj, acks: &BTreeSet<u64>) -> bool {
    old.contains_quorum(acks) && new.contains_quorum(acks)
}

/// `Leader.isQuorumSynced`: do the leader and the synced learners in `synced` hold a
/// quorum of `config`'s voters? A reconfig is refused (NEWCONFIGNOQUORUM) when not.
pub fn quorum_synced(config: &QuorumMaj, synced: &BTreeSet<u64>) -> bool {
    config.contains_quorum(synced)
}

/// Who leads once a reconfig commits (the sid sent in COMMITANDACTIVATE/INFORMANDACTIVATE).
///
/// The current leader stays if it is a voter of the new config with the same quorum
/// address. Otherwise the candidates are the new config's voters that acked the reconfig
/// (`new_acks`), narrowed down, proposal by proposal, to those that also acked the
/// outstanding proposals after it (`later_acks`, in zxid order) so the successor has lost
/// the fewest txns. Apache picks "any" member of a hash set; this picks the smallest id.
/// `None` only when no voter of the new config acked, which `commit_ready` rules out.
pub fn designated_leader(
    leader_id: u64,
    leader_quorum_addrs: &[HostPort],
    new_servers: &BTreeMap<u64, ServerSpec>,
    new_acks: &BTreeSet<u64>,
    later_acks: &[BTreeSet<u64>],
) -> Option<u64> {
    if leader_stays(leader_id, leader_quorum_addrs, new_servers) {
        return Some(leader_id);
    }
    let voters: BTreeSet<u64> = new_servers
        .values()
        .filter(|s| s.role == Role::Participant)
        .map(|s| s.id)
        .collect();
    successor(leader_id, &voters, new_acks, later_acks)
}

/// Whether the current leader keeps leading after the reconfig: it is a voter of the new
/// config with the same quorum address (its learners are connected to that address).
pub fn leader_stays(
    leader_id: u64,
    leader_quorum_addrs: &[HostPort],
    new_servers: &BTreeMap<u64, ServerSpec>,
) -> bool {
    new_servers
        .get(&leader_id)
        .is_some_and(|me| me.role == Role::Participant && me.quorum_addrs == leader_quorum_addrs)
}

/// The successor of a leader that does not stay: among the new voters that acked the
/// reconfig (`new_acks`), those that also acked the most of the outstanding proposals after
/// it (`later_acks`, in zxid order), smallest id first.
pub fn successor(
    leader_id: u64,
    new_voters: &BTreeSet<u64>,
    new_acks: &BTreeSet<u64>,
    later_acks: &[BTreeSet<u64>],
) -> Option<u64> {
    let mut candidates: BTreeSet<u64> = new_acks
        .iter()
        .copied()
        .filter(|sid| *sid != leader_id && new_voters.contains(sid))
        .collect();
    let mut best = candidates.first().copied()?;
    for acks in later_acks {
        candidates.retain(|sid| acks.contains(sid));
        match candidates.first() {
            None => return Some(best),
            Some(first) => best = *first,
        }
        if candidates.len() == 1 {
            break;
        }
    }
    Some(best)
}

/// What a server becomes once a config is activated: its role in the new membership, or
/// `None` when it is no longer a member and must step out (stop serving and wait).
pub fn role_after(my_id: u64, new_servers: &BTreeMap<u64, ServerSpec>) -> Option<Role> {
    new_servers.get(&my_id).map(|s| s.role)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u64]) -> BTreeSet<u64> {
        ids.iter().copied().collect()
    }

    fn spec(id: u64, role: Role) -> ServerSpec {
        ServerSpec {
            id,
            quorum_addrs: vec![HostPort::new("10.0.0.1", 2000 + id as u16)],
            election_addrs: vec![HostPort::new("10.0.0.1", 3000 + id as u16)],
            role,
            client_addr: Some(HostPort::new("10.0.0.1", 4000 + id as u16)),
        }
    }

    fn servers(voters: &[u64], observers: &[u64]) -> BTreeMap<u64, ServerSpec> {
        voters
            .iter()
            .map(|&i| (i, spec(i, Role::Participant)))
            .chain(observers.iter().map(|&i| (i, spec(i, Role::Observer))))
            .collect()
    }

    #[test]
    fn needs_both_quorums() {
        // 1,2,3 -> 3,4,5: {1,2} is a quorum of the old only, {4,5} of the new only.
        let old = QuorumMaj::from_ids([1, 2, 3], [], 0);
        let new = QuorumMaj::from_ids([3, 4, 5], [], 0x100);
        assert!(!commit_ready(&old, &new, &set(&[1, 2])));
        assert!(!commit_ready(&old, &new, &set(&[4, 5])));
        assert!(!commit_ready(&old, &new, &set(&[1, 4, 5])));
        assert!(commit_ready(&old, &new, &set(&[1, 3, 4])));
        assert!(commit_ready(&old, &new, &set(&[1, 2, 4, 5])));
    }

    #[test]
    fn observers_never_count() {
        // Turning 4 from observer into voter: 4's ack only counts for the new config.
        let old = QuorumMaj::from_ids([1, 2, 3], [4], 0);
        let new = QuorumMaj::from_ids([1, 2, 3, 4], [], 0x100);
        assert!(!commit_ready(&old, &new, &set(&[1, 4])));
        assert!(!commit_ready(&old, &new, &set(&[1, 2])));
        assert!(commit_ready(&old, &new, &set(&[1, 2, 4])));
        assert!(quorum_synced(&new, &set(&[1, 2, 4])));
        assert!(!quorum_synced(&new, &set(&[1, 2])));
    }

    #[test]
    fn leader_stays_when_still_a_voter_at_the_same_address() {
        let new = servers(&[1, 2, 3], &[]);
        let addr = new[&1].quorum_addrs.clone();
        assert_eq!(
            designated_leader(1, &addr, &new, &set(&[1, 2]), &[]),
            Some(1)
        );
        // Same id but a new quorum address: it must hand over.
        let moved = vec![HostPort::new("10.0.0.9", 2001)];
        assert_eq!(
            designated_leader(1, &moved, &new, &set(&[1, 2, 3]), &[]),
            Some(2)
        );
    }

    #[test]
    fn removed_leader_hands_over_to_the_most_up_to_date_acker() {
        // Leader 1 removed; 2,3,4 acked the reconfig; 3 and 4 acked the next proposal,
        // only 4 the one after.
        let new = servers(&[2, 3, 4], &[5]);
        let addr = vec![HostPort::new("10.0.0.1", 2001)];
        let acks = set(&[1, 2, 3, 4, 5]);
        assert_eq!(designated_leader(1, &addr, &new, &acks, &[]), Some(2));
        assert_eq!(
            designated_leader(1, &addr, &new, &acks, &[set(&[1, 3, 4])]),
            Some(3)
        );
        assert_eq!(
            designated_leader(1, &addr, &new, &acks, &[set(&[3, 4]), set(&[4])]),
            Some(4)
        );
        // Nobody acked a later one: keep the best so far.
        assert_eq!(
            designated_leader(1, &addr, &new, &acks, &[set(&[3, 4]), set(&[9])]),
            Some(3)
        );
        // Leader demoted to observer also hands over.
        let demoted = servers(&[2, 3], &[1]);
        assert_eq!(
            designated_leader(1, &addr, &demoted, &set(&[1, 3]), &[]),
            Some(3)
        );
        assert_eq!(designated_leader(1, &addr, &demoted, &set(&[1]), &[]), None);
    }

    #[test]
    fn roles_after_activation() {
        let new = servers(&[1, 2], &[3]);
        assert_eq!(role_after(1, &new), Some(Role::Participant));
        assert_eq!(role_after(3, &new), Some(Role::Observer));
        assert_eq!(role_after(4, &new), None);
    }
}
