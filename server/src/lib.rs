//! zkserver: a ZooKeeper-compatible coordination server.

pub mod auth;
pub mod client;
pub mod proto;
pub mod session;
pub mod watch;
