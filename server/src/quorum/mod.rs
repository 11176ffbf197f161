//! Replication: leader election and Zab.

pub mod zab;
