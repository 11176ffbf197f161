//! Zab (discovery, synchronisation, broadcast) as deterministic, sans-I/O state machines.
//!
//! [`Leader`] and [`Learner`] own no sockets, disks, clocks or threads. A driver feeds them
//! [`Input`]s (a packet, a finished fsync, a clock tick, a lost connection) and carries out
//! the [`Output`]s they return, in order (send, persist, truncate, apply, write epoch files).
//! The driver is expected to:
//! - persist txns in the order of `Persist` outputs and report `Persisted{zxid}` once
//!   everything up to `zxid` is durable;
//! - treat `Truncate`, `LoadSnapshot`, `WriteAcceptedEpoch` and `WriteCurrentEpoch` as
//!   durable before feeding the next input;
//! - flush pending writes and fast-forward its data tree to the whole log before building a
//!   new role (as Apache does when a peer leaves a role), so a new core starts with
//!   `last_applied == last_zxid`.
//!
//! The election result (which sid leads) is an input: build a [`Leader`] or a [`Learner`].

mod config;
mod io;
mod leader;
mod leader_sync;
mod learner;
#[cfg(test)]
mod sim;

pub use config::{DurableState, NewMembers, ZabConfig};
pub use io::{Input, Output, Sid, StepDownReason, ZabError};
pub use leader::Leader;
pub use leader_sync::{plan_sync, SyncPlan};
pub use learner::{Learner, LearnerKind};

/// Builds a zxid from an epoch and a counter.
pub fn make_zxid(epoch: u32, counter: u32) -> i64 {
    (i64::from(epoch) << 32) | i64::from(counter)
}

/// The epoch (high 32 bits) of a zxid.
pub fn epoch_of(zxid: i64) -> u32 {
    ((zxid as u64) >> 32) as u32
}

/// The counter (low 32 bits) of a zxid.
pub fn counter_of(zxid: i64) -> u32 {
    (zxid as u64 & 0xffff_ffff) as u32
}
