//! Fast Leader Election (facts §15.1): a sans-I/O state machine ([`Election`]) and the vote
//! order it uses.

mod machine;
pub mod net;
mod vote;

#[cfg(test)]
mod machine_tests;
#[cfg(test)]
mod sim;

pub use machine::{Election, Input, Output, FINALIZE_WAIT_MS, MAX_NOTIFICATION_INTERVAL_MS};
pub use vote::{Candidate, ServerState, Vote};
