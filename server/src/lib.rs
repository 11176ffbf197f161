//! zkserver: a ZooKeeper-compatible coordination server.

pub mod admin;
pub mod auth;
pub mod client;
pub mod config;
pub mod proto;
pub mod session;
pub mod tree;
pub mod watch;
