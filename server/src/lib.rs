//! zkserver: a ZooKeeper-compatible coordination server.

pub mod admin;
pub mod auth;
pub mod client;
pub mod config;
pub mod hashing;
pub mod metrics;
pub mod net;
pub mod pipeline;
pub mod proto;
pub mod quorum;
pub mod reference;
pub mod server;
pub mod session;
pub mod storage;
pub mod tree;
pub mod watch;
