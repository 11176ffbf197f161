//! zkbench: a pipelined load generator for ZooKeeper-protocol servers, and a harness that
//! runs the same matrix against zkserver and Apache ZooKeeper and reports medians and ratios.

pub mod bounds;
pub mod compare;
pub mod election;
pub mod error;
pub mod load;
pub mod matrix;
pub mod raw;
pub mod report;
pub mod servers;
pub mod settle;
pub mod stats;
pub mod steal;
pub mod workload;
