//! A standalone server: recovery from disk, the core event loop, the client listener.

mod apply;
mod background;
mod core;
mod ensemble;
mod fourlw;
mod linread;
#[cfg(test)]
mod mntr_tests;
mod read_only;
mod requests;
mod start;
mod stats;

pub use self::core::{Core, CoreConfig};
pub use start::{run, ServerError};
