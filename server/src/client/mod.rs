//! An async ZooKeeper client speaking the 3.9 client protocol, used by integration tests, the
//! `zkserver` tools and the operator.
//!
//! One TCP connection carries many pipelined requests; replies are matched in FIFO order,
//! watch notifications arrive on an unbounded channel returned by [`Client::connect`].
//! State changes after the initial connect (Disconnected, SyncConnected on reconnect, Expired,
//! AuthFailed) are delivered on the same channel as events of type `None` (−1).

mod api;
mod config;
mod error;
mod four_letter;
mod frame;
mod ops;
mod session;
#[cfg(test)]
mod tests;
mod watches;

pub use api::Client;
pub use config::{Chroot, ClientConfig};
pub use error::ClientError;
pub use four_letter::four_letter_word;
pub use ops::{first_error, mode_flags, Op, OpResult, ReadOp};
pub use session::Reply;

/// `Watcher.Event.KeeperState` values, including those the client makes up itself.
pub mod keeper_state {
    pub const DISCONNECTED: i32 = 0;
    pub const SYNC_CONNECTED: i32 = 3;
    pub const AUTH_FAILED: i32 = 4;
    pub const CONNECTED_READ_ONLY: i32 = 5;
    pub const EXPIRED: i32 = -112;
    pub const CLOSED: i32 = 7;
}

/// A watch notification (from the server) or a session state change (made up locally, with
/// `kind` −1, empty path and zxid −1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    /// `Watcher.Event.EventType` (see [`crate::proto::codes::event`]).
    pub kind: i32,
    /// `KeeperState` (see [`keeper_state`]).
    pub state: i32,
    /// Client path (chroot removed).
    pub path: String,
    /// Zxid of the triggering txn from the notification header (−1 from pre-3.9 servers).
    pub zxid: i64,
}

/// Where the session stands, as seen by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    Connected = 0,
    ConnectedReadOnly = 1,
    /// The connection broke; a reconnect may be under way (`auto_reconnect`).
    Disconnected = 2,
    Expired = 3,
    AuthFailed = 4,
    Closed = 5,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            0 => State::Connected,
            1 => State::ConnectedReadOnly,
            2 => State::Disconnected,
            3 => State::Expired,
            4 => State::AuthFailed,
            _ => State::Closed,
        }
    }

    /// True while requests can be sent.
    pub fn is_connected(self) -> bool {
        matches!(self, State::Connected | State::ConnectedReadOnly)
    }
}
