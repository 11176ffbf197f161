//! The ensemble: leader election and the quorum rules it counts votes with.

pub mod election;
pub mod verifier;
