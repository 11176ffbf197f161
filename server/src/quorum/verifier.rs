//! Majority quorums over the voting members of one configuration (Apache's `QuorumMaj`).

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Role, ServerSpec};

/// Who votes and who observes in one configuration, and what a quorum is: a strict majority
/// of the voting members. Observers have weight 0: they never count and never win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumMaj {
    voters: BTreeSet<u64>,
    observers: BTreeSet<u64>,
    version: u64,
}

impl QuorumMaj {
    /// Builds the verifier for a membership (`server.N` lines) at config `version`.
    pub fn new(servers: &BTreeMap<u64, ServerSpec>, version: u64) -> Self {
        let mut voters = BTreeSet::new();
        let mut observers = BTreeSet::new();
        for (id, spec) in servers {
            match spec.role {
                Role::Participant => voters.insert(*id),
                Role::Observer => observers.insert(*id),
            };
        }
        QuorumMaj {
            voters,
            observers,
            version,
        }
    }

    /// Builds from bare id sets; an id in both sets is a voter.
    pub fn from_ids(
        voters: impl IntoIterator<Item = u64>,
        observers: impl IntoIterator<Item = u64>,
        version: u64,
    ) -> Self {
        let voters: BTreeSet<u64> = voters.into_iter().collect();
        let observers = observers
            .into_iter()
            .filter(|o| !voters.contains(o))
            .collect();
        QuorumMaj {
            voters,
            observers,
            version,
        }
    }

    pub fn voters(&self) -> &BTreeSet<u64> {
        &self.voters
    }

    pub fn observers(&self) -> &BTreeSet<u64> {
        &self.observers
    }

    /// Voters and observers.
    pub fn members(&self) -> impl Iterator<Item = u64> + '_ {
        self.voters.union(&self.observers).copied()
    }

    pub fn is_voter(&self, sid: u64) -> bool {
        self.voters.contains(&sid)
    }

    pub fn is_member(&self, sid: u64) -> bool {
        self.voters.contains(&sid) || self.observers.contains(&sid)
    }

    /// 1 for a voter, 0 for anyone else.
    pub fn weight(&self, sid: u64) -> u64 {
        u64::from(self.is_voter(sid))
    }

    /// The config version (zxid of the reconfig that made this membership).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// True when the voters in `sids` are a strict majority of all voters; non-voters are ignored.
    pub fn contains_quorum(&self, sids: &BTreeSet<u64>) -> bool {
        let acks = sids.iter().filter(|s| self.voters.contains(s)).count();
        acks > self.voters.len() / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HostPort;

    fn spec(id: u64, role: Role) -> ServerSpec {
        ServerSpec {
            id,
            quorum_addrs: vec![HostPort::new("127.0.0.1", 2888)],
            election_addrs: vec![HostPort::new("127.0.0.1", 3888)],
            role,
            client_addr: None,
        }
    }

    fn set(ids: &[u64]) -> BTreeSet<u64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn majority_of_voters_only() {
        let servers: BTreeMap<u64, ServerSpec> = [
            (1, spec(1, Role::Participant)),
            (2, spec(2, Role::Participant)),
            (3, spec(3, Role::Participant)),
            (4, spec(4, Role::Observer)),
        ]
        .into_iter()
        .collect();
        let q = QuorumMaj::new(&servers, 0x100);
        assert_eq!(q.voters(), &set(&[1, 2, 3]));
        assert_eq!(q.observers(), &set(&[4]));
        assert_eq!(q.version(), 0x100);
        assert_eq!((q.weight(2), q.weight(4), q.weight(9)), (1, 0, 0));
        assert!(!q.contains_quorum(&set(&[1])));
        assert!(!q.contains_quorum(&set(&[1, 4])));
        assert!(!q.contains_quorum(&set(&[1, 4, 9])));
        assert!(q.contains_quorum(&set(&[1, 3])));
        assert!(q.contains_quorum(&set(&[1, 2, 3, 4])));
    }

    #[test]
    fn even_ensembles_need_more_than_half() {
        let q = QuorumMaj::from_ids([1, 2, 3, 4], [], 0);
        assert!(!q.contains_quorum(&set(&[1, 2])));
        assert!(q.contains_quorum(&set(&[1, 2, 3])));
        let single = QuorumMaj::from_ids([1], [2], 0);
        assert!(single.contains_quorum(&set(&[1])));
        assert!(!single.contains_quorum(&set(&[2])));
    }
}
