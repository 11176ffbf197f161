//! Wire formats: jute encoding, client records, transactions.

pub mod codes;
pub mod election;
pub mod jute;
pub mod quorum;
pub mod records;
pub mod txn;

pub use codes::ErrorCode;
pub use jute::{Jute, JuteError, JuteReader, JuteWrite};
