//! The CLI ↔ supervisor control socket: `<stateDir>/supervisor.sock`, one JSON request
//! line, one JSON response line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::error::{Error, Result};
use crate::status::ClusterStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// Start a stopped or crashed process.
    Start,
    /// SIGTERM: a clean stop (the broker deletes its znode at once).
    Stop,
    /// SIGKILL: a crash (the znode stays until the session expires).
    Kill,
    /// Stop, then start.
    Restart,
    /// SIGSTOP: frozen, like a long GC pause.
    Pause,
    /// SIGCONT.
    Resume,
}

/// What `mqsim partition` cuts a node from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Cut {
    /// Every ZooKeeper server.
    Zk,
    /// The other brokers (replication).
    Peers,
    /// Both.
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    Status,
    Act { verb: Verb, target: String },
    Partition { target: String, from: Cut },
    Heal { target: String },
    Down,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "lowercase")]
pub enum Response {
    Status(Box<ClusterStatus>),
    Done { lines: Vec<String> },
    Error { message: String },
}

pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("supervisor.sock")
}

/// Sends one request to the supervisor of `state_dir`.
pub async fn request(state_dir: &Path, req: &Request) -> Result<Response> {
    let path = socket_path(state_dir);
    let stream = match UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(_) => return Err(Error::NotRunning(state_dir.to_owned())),
    };
    let io = async {
        let (r, mut w) = stream.into_split();
        let mut line = serde_json::to_vec(req)?;
        line.push(b'\n');
        w.write_all(&line).await.map_err(Error::io("writing to the supervisor"))?;
        let mut reply = String::new();
        BufReader::new(r).read_line(&mut reply).await.map_err(Error::io("reading from the supervisor"))?;
        if reply.is_empty() {
            return Err(Error::Other("the supervisor closed the connection without answering".into()));
        }
        Ok(serde_json::from_str(&reply)?)
    };
    // Stopping a node waits up to 10 s for it to exit; `down` for all of them.
    tokio::time::timeout(Duration::from_secs(60), io)
        .await
        .map_err(|_| Error::Timeout("the supervisor did not answer within 60 s".into()))?
}

pub async fn status(state_dir: &Path) -> Result<ClusterStatus> {
    match request(state_dir, &Request::Status).await? {
        Response::Status(s) => Ok(*s),
        Response::Error { message } => Err(Error::Other(message)),
        Response::Done { .. } => Err(Error::Other("unexpected reply to status".into())),
    }
}
