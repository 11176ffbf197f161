//! A per-client history of operations (invoke + outcome) and a checker that holds it against
//! the final tree: no acknowledged write lost, nothing definitely failed applied, each client
//! reads its own writes in order, and a session never goes back in zxid.
//!
//! Each client owns one register (`setData` with values from its own counter) and creates
//! nodes with unique names, so single-writer reasoning is enough and the check is exact.

use zkserver::client::ClientError;
use zkserver::proto::codes::ErrorCode;

use super::ensemble::TreeDump;

/// How an operation ended, from the client's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The server answered with an error: the operation did not apply.
    Failed,
    /// Connection loss or client timeout: it may or may not have applied.
    Unknown,
}

impl Outcome {
    /// Classifies an error. Session expiry is not an outcome: the caller treats it as a failure
    /// of the test (sessions must survive a leader change).
    pub fn of_error(e: &ClientError) -> Outcome {
        match e.code() {
            Some(ErrorCode::ConnectionLoss) | Some(ErrorCode::OperationTimeout) => Outcome::Unknown,
            _ if matches!(e, ClientError::Api(_) | ClientError::UnknownCode(_)) => Outcome::Failed,
            _ => Outcome::Unknown,
        }
    }
}

/// One operation of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// create(path, data) of a fresh persistent node.
    Create { path: String, data: Vec<u8> },
    /// setData(register, value) with `value` from the client's counter.
    Set { value: u64 },
    /// getData(register): the value seen (when Ok) and the node's mzxid.
    Read { value: Option<u64>, mzxid: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub op: Op,
    pub outcome: Outcome,
    /// `Client::last_zxid()` after the operation finished.
    pub zxid_after: i64,
}

/// The history of one client (one session) writing its own `register`.
#[derive(Debug, Clone)]
pub struct ClientHistory {
    pub register: String,
    pub entries: Vec<Entry>,
}

impl ClientHistory {
    pub fn new(register: &str) -> Self {
        ClientHistory {
            register: register.to_string(),
            entries: Vec::new(),
        }
    }

    pub fn record(&mut self, op: Op, outcome: Outcome, zxid_after: i64) {
        self.entries.push(Entry {
            op,
            outcome,
            zxid_after,
        });
    }

    /// Number of acknowledged operations so far.
    pub fn acked(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.outcome == Outcome::Ok)
            .count()
    }

    /// Checks this client's history against `tree`, the final state every member agrees on.
    /// The register starts at `initial`.
    pub fn check(&self, tree: &TreeDump, initial: u64) -> Result<(), String> {
        let who = &self.register;
        let mut last_acked_set = initial;
        let mut max_invoked = initial;
        let mut last_read = initial;
        let mut last_mzxid = i64::MIN;
        let mut last_zxid = i64::MIN;
        let mut possible_final = vec![initial];
        for (n, e) in self.entries.iter().enumerate() {
            if e.zxid_after < last_zxid {
                return Err(format!(
                    "{who}: op {n} {:?}: session zxid went back from 0x{last_zxid:x} to 0x{:x}",
                    e.op, e.zxid_after
                ));
            }
            last_zxid = e.zxid_after;
            match (&e.op, e.outcome) {
                (Op::Create { path, data }, Outcome::Ok) => match tree.get(path) {
                    Some((d, _)) if d == data => {}
                    Some((d, _)) => {
                        return Err(format!("{who}: acked create {path} has data {d:?}"))
                    }
                    None => return Err(format!("{who}: acknowledged create {path} was lost")),
                },
                (Op::Create { path, .. }, Outcome::Failed) => {
                    if tree.contains_key(path) {
                        return Err(format!("{who}: failed create {path} was applied"));
                    }
                }
                (Op::Create { .. }, Outcome::Unknown) => {}
                (Op::Set { value }, outcome) => {
                    max_invoked = max_invoked.max(*value);
                    match outcome {
                        Outcome::Ok => {
                            last_acked_set = *value;
                            possible_final.retain(|v| *v >= *value);
                            possible_final.push(*value);
                        }
                        Outcome::Unknown => possible_final.push(*value),
                        Outcome::Failed => {}
                    }
                }
                (Op::Read { value, mzxid }, Outcome::Ok) => {
                    let v = value.ok_or_else(|| format!("{who}: read {n} had no value"))?;
                    if v < last_acked_set {
                        return Err(format!(
                            "{who}: read {n} saw {v} after its own acked write of {last_acked_set}"
                        ));
                    }
                    if v < last_read {
                        return Err(format!(
                            "{who}: read {n} saw {v} after an earlier read saw {last_read}"
                        ));
                    }
                    if v > max_invoked {
                        return Err(format!(
                            "{who}: read {n} saw {v}, which was never written (max {max_invoked})"
                        ));
                    }
                    if *mzxid < last_mzxid {
                        return Err(format!(
                            "{who}: read {n} mzxid 0x{mzxid:x} below an earlier 0x{last_mzxid:x}"
                        ));
                    }
                    last_read = v;
                    last_mzxid = *mzxid;
                }
                (Op::Read { .. }, _) => {}
            }
        }
        let final_value = tree
            .get(&self.register)
            .and_then(|(d, _)| std::str::from_utf8(d).ok()?.parse::<u64>().ok())
            .ok_or_else(|| format!("{who}: register missing or unreadable in the final tree"))?;
        if final_value < last_acked_set {
            return Err(format!(
                "{who}: final value {final_value} is below the last acknowledged write \
                 {last_acked_set}"
            ));
        }
        if !possible_final.contains(&final_value) {
            return Err(format!(
                "{who}: final value {final_value} is not one of the writes that may have \
                 applied last ({possible_final:?})"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkserver::proto::records::Stat;

    fn tree(entries: &[(&str, &str)]) -> TreeDump {
        entries
            .iter()
            .map(|(p, d)| (p.to_string(), (d.as_bytes().to_vec(), Stat::default())))
            .collect()
    }

    #[test]
    fn detects_lost_and_stale_writes() {
        let mut h = ClientHistory::new("/r");
        h.record(Op::Set { value: 1 }, Outcome::Ok, 5);
        h.record(Op::Set { value: 2 }, Outcome::Unknown, 5);
        assert!(h.check(&tree(&[("/r", "1")]), 0).is_ok());
        assert!(h.check(&tree(&[("/r", "2")]), 0).is_ok());
        assert!(h.check(&tree(&[("/r", "0")]), 0).is_err());
        h.record(
            Op::Create {
                path: "/c".into(),
                data: b"x".to_vec(),
            },
            Outcome::Ok,
            6,
        );
        assert!(h.check(&tree(&[("/r", "1")]), 0).is_err());
        assert!(h.check(&tree(&[("/r", "1"), ("/c", "x")]), 0).is_ok());
        h.record(
            Op::Read {
                value: Some(0),
                mzxid: 3,
            },
            Outcome::Ok,
            7,
        );
        assert!(h.check(&tree(&[("/r", "1"), ("/c", "x")]), 0).is_err());
    }

    #[test]
    fn detects_zxid_going_back() {
        let mut h = ClientHistory::new("/r");
        h.record(Op::Set { value: 1 }, Outcome::Ok, 9);
        h.record(
            Op::Read {
                value: Some(1),
                mzxid: 9,
            },
            Outcome::Ok,
            8,
        );
        assert!(h.check(&tree(&[("/r", "1")]), 0).is_err());
    }
}
