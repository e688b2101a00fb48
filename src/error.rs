//! The one error type of mqsim.
//!
//! Every variant carries what a user needs to act: the file and line for a bad
//! `cluster.toml`, the port and its owner for a busy port, the install command
//! when ZooKeeper or Java is missing. `Display` is the one-line reason the CLI
//! prints before exiting non-zero.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `cluster.toml` could not be parsed or fails validation.
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    /// A port mqsim needs is already bound by someone else.
    #[error("port {port} ({what}) is already in use{owner}; stop that process or change the port in {config}")]
    PortInUse { port: u16, what: String, owner: String, config: String },

    /// ZooKeeper or Java is not installed where mqsim looks for it.
    #[error("{0}")]
    Missing(String),

    /// No supervisor is running for this cluster's state directory.
    #[error("no cluster is running for {0} (start one with `mqsim up`)")]
    NotRunning(PathBuf),

    /// A CLI target did not name anything (or named nothing that is running).
    #[error("{0}")]
    Target(String),

    /// A run (`chaos`, `lab`) ended with a FAIL verdict: exit code 3, not 1, so scripts can
    /// tell a broken promise from a run that could not be made.
    #[error("{0}")]
    Verdict(String),

    /// Something did not come up (or go down) within its bounded wait.
    #[error("{0}")]
    Timeout(String),

    /// A ZooKeeper request failed.
    #[error("ZooKeeper: {0}")]
    Zk(#[from] zookeeper_client::Error),

    /// The store's LMDB index failed.
    #[error("store: {0}")]
    Store(#[from] heed::Error),

    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },

    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::Other(format!("system call failed: {e}"))
    }
}
