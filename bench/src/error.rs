//! The error type of every benchmark step.

use zkserver::client::ClientError;

/// Why a benchmark step failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("client: {0}")]
    Client(#[from] ClientError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("config {path}: {msg}")]
    Config { path: String, msg: String },
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("server {name}: {msg}")]
    Server { name: String, msg: String },
    #[error("{0}")]
    Invalid(String),
}

impl BenchError {
    pub fn server(name: &str, msg: impl Into<String>) -> Self {
        BenchError::Server {
            name: name.to_string(),
            msg: msg.into(),
        }
    }
}
