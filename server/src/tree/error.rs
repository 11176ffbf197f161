//! Errors of loading a tree from a snapshot stream.

/// Why a snapshot's ACL or node section could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("reading snapshot stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid length {len} for {what} (limit {limit})")]
    BadLength {
        what: &'static str,
        len: i64,
        limit: usize,
    },
    #[error("null {0} in snapshot stream")]
    Null(&'static str),
    #[error("node {path} refers to unknown ACL index {index}")]
    UnknownAclIndex { path: String, index: i64 },
    #[error("node {path} has no parent {parent} before it in the stream")]
    MissingParent { path: String, parent: String },
    #[error("node {0} appears twice in the stream")]
    DuplicatePath(String),
    #[error("snapshot stream has no root node")]
    NoRoot,
}
