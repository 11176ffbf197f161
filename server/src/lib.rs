pub mod admin;
pub mod config;
pub mod proto;
