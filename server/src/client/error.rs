//! The error type of every client call.

use crate::proto::codes::ErrorCode;
use crate::proto::jute::JuteError;

/// Why a client call failed. Server-side failures are [`ClientError::Api`]; everything else is
/// about the transport or the session, as seen from this side of the socket.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a non-zero error code.
    #[error("server returned {0}")]
    Api(ErrorCode),
    /// The server answered with an error code this client does not know.
    #[error("server returned unknown error code {0}")]
    UnknownCode(i32),
    /// The connection broke before the answer arrived (the request may or may not have applied).
    #[error("connection lost")]
    ConnectionLoss,
    /// The server declared the session invalid (ConnectResponse timeout 0), or no server could be
    /// reached within the session timeout.
    #[error("session expired")]
    SessionExpired,
    /// A client-side deadline passed (connect, request or four-letter word).
    #[error("timed out")]
    Timeout,
    /// The session was closed with [`crate::client::Client::close`].
    #[error("client closed")]
    Closed,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something that does not follow the protocol; the connection is dropped.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The configuration cannot work (no hosts, bad chroot, ...).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl From<JuteError> for ClientError {
    fn from(e: JuteError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

impl ClientError {
    /// Turns a ReplyHeader `err` into an error (`None` for 0).
    pub fn from_code(err: i32) -> Option<ClientError> {
        if err == 0 {
            return None;
        }
        Some(match ErrorCode::from_code(err) {
            Some(c) => ClientError::Api(c),
            None => ClientError::UnknownCode(err),
        })
    }

    /// The ZooKeeper error code this error stands for, whether it came from the server or was
    /// raised locally (ConnectionLoss, SessionExpired, OperationTimeout, MarshallingError).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api(c) => Some(*c),
            ClientError::ConnectionLoss | ClientError::Io(_) => Some(ErrorCode::ConnectionLoss),
            ClientError::SessionExpired => Some(ErrorCode::SessionExpired),
            ClientError::Timeout => Some(ErrorCode::OperationTimeout),
            ClientError::Protocol(_) => Some(ErrorCode::MarshallingError),
            ClientError::UnknownCode(_) | ClientError::Closed | ClientError::Config(_) => None,
        }
    }

    /// True for a server answer with exactly this code.
    pub fn is_api(&self, code: ErrorCode) -> bool {
        matches!(self, ClientError::Api(c) if *c == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_variants() {
        assert!(ClientError::from_code(0).is_none());
        assert!(matches!(
            ClientError::from_code(-101),
            Some(ClientError::Api(ErrorCode::NoNode))
        ));
        assert!(matches!(
            ClientError::from_code(-126),
            Some(ClientError::UnknownCode(-126))
        ));
        assert_eq!(
            ClientError::SessionExpired.code(),
            Some(ErrorCode::SessionExpired)
        );
        assert!(ClientError::Api(ErrorCode::BadVersion).is_api(ErrorCode::BadVersion));
        assert!(!ClientError::ConnectionLoss.is_api(ErrorCode::ConnectionLoss));
    }
}
