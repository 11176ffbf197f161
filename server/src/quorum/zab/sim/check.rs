//! Safety invariants, checked as the simulation runs.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::quorum::zab::Sid;

/// What every step must preserve.
#[derive(Debug, Default)]
pub struct Checker {
    /// Txns answered to clients (committed by a quorum), in commit order.
    pub acked: Vec<(i64, Bytes)>,
    /// The one sequence every serving server's applied txns must be a prefix of.
    canonical: Vec<(i64, Bytes)>,
    /// Which leader instance (sid, generation) established each epoch.
    leaders: BTreeMap<u32, (Sid, u64)>,
}

pub type Violation = String;

impl Checker {
    pub fn client_ack(&mut self, zxid: i64, txn: &Bytes) {
        self.acked.push((zxid, txn.clone()));
    }

    /// A server starts serving: it must hold the first `upto` acknowledged txns (those
    /// acknowledged before its sync point; later ones are still on the wire) and agree with
    /// the canonical sequence.
    pub fn on_serving(
        &mut self,
        sid: Sid,
        applied: &[(i64, Bytes)],
        upto: usize,
    ) -> Result<(), Violation> {
        self.holds_acked(sid, applied, upto)?;
        self.check_prefix(sid, applied, 0)
    }

    /// `applied` contains the first `upto` acknowledged txns.
    pub fn holds_acked(
        &self,
        sid: Sid,
        applied: &[(i64, Bytes)],
        upto: usize,
    ) -> Result<(), Violation> {
        for (z, t) in &self.acked[..upto.min(self.acked.len())] {
            match applied.binary_search_by_key(z, |(az, _)| *az) {
                Ok(i) if applied[i].1 == *t => {}
                _ => {
                    return Err(format!(
                        "server {sid} serves without acknowledged txn {z:#x}"
                    ))
                }
            }
        }
        Ok(())
    }

    /// A serving server applied its last txn.
    pub fn on_apply(&mut self, sid: Sid, applied: &[(i64, Bytes)]) -> Result<(), Violation> {
        self.check_prefix(sid, applied, applied.len().saturating_sub(1))
    }

    fn check_prefix(
        &mut self,
        sid: Sid,
        applied: &[(i64, Bytes)],
        from: usize,
    ) -> Result<(), Violation> {
        let from = from.min(self.canonical.len());
        for (i, entry) in applied.iter().enumerate().skip(from) {
            match self.canonical.get(i) {
                Some(c) if c == entry => {}
                Some(c) => {
                    return Err(format!(
                        "server {sid} applied {:#x} at position {i}, others applied {:#x}",
                        entry.0, c.0
                    ))
                }
                None => self.canonical.push(entry.clone()),
            }
        }
        Ok(())
    }

    pub fn apply_order(sid: Sid, applied: &[(i64, Bytes)], zxid: i64) -> Result<(), Violation> {
        match applied.last() {
            Some((last, _)) if *last >= zxid => {
                Err(format!("server {sid} applies {zxid:#x} after {last:#x}"))
            }
            _ => Ok(()),
        }
    }

    pub fn leader_epoch(&mut self, epoch: u32, sid: Sid, generation: u64) -> Result<(), Violation> {
        match self.leaders.insert(epoch, (sid, generation)) {
            Some(prev) if prev != (sid, generation) => Err(format!(
                "two leaders for epoch {epoch}: {prev:?} and {:?}",
                (sid, generation)
            )),
            _ => Ok(()),
        }
    }
}
