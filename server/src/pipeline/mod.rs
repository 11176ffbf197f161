//! The request path: prep turns writes into txns against the outstanding state; reads are
//! served from the applied tree; replies are built from what applying a txn produced.

pub mod pending;
pub mod prep;
pub mod reads;
pub mod replies;
