//! Helpers shared by integration tests.
#![allow(dead_code)]

pub mod apache;
pub mod ensemble;
pub mod history;
pub mod util;
pub mod zkserver;
