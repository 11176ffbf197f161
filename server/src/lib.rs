pub mod client;
pub mod proto;
