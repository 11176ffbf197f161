//! Typed configuration errors. Every message names the key (or file) and the bad value,
//! so an operator can fix zoo.cfg without reading our source.

use std::path::PathBuf;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid value '{value}' for {key}: expected {expected}")]
    InvalidValue {
        key: String,
        value: String,
        expected: String,
    },
    #[error("{key} is not set{hint}")]
    Missing { key: String, hint: String },
    #[error("invalid configuration for {key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("malformed \\uxxxx escape on line {line} of the configuration")]
    MalformedEscape { line: usize },
    #[error("invalid myid file {path}: {reason}")]
    MyId { path: PathBuf, reason: String },
}

impl ConfigError {
    pub(crate) fn invalid_value(key: &str, value: &str, expected: &str) -> Self {
        ConfigError::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing(key: &str, hint: &str) -> Self {
        ConfigError::Missing {
            key: key.to_string(),
            hint: hint.to_string(),
        }
    }
}
