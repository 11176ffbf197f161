//! The ensemble: leader election (FLE), the quorum rules it counts votes with, and Zab
//! (discovery, synchronisation, broadcast). Both protocols are sans-I/O state machines;
//! sockets, disks and clocks live in thin drivers around them.

pub mod election;
pub mod reconfig;
pub mod transport;
pub mod verifier;
pub mod zab;
