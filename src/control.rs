//! The CLI ↔ supervisor control socket: `<stateDir>/supervisor.sock`, one JSON request
//! line, one JSON response line.
//!
//! Anyone who can connect can stop the cluster, so the socket is the owner's alone: it is
//! bound inside a fresh 0700 directory, set to mode 0600 there and only then renamed into
//! place ([`bind`]), so no umask and no moment of a wider mode lets another user in; the
//! supervisor also refuses a peer whose uid differs from its own ([`same_user`]). The
//! request line is read with a bound ([`read_request`]): at most
//! [`limits::MAX_CONTROL_REQUEST`] bytes within [`limits::CONTROL_READ_TIMEOUT`]; a longer
//! or slower one gets an error reply and the connection is closed.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::limits;

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

/// Binds the control socket at `path` with mode 0600 (see the module docs); a stale file
/// there is replaced.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let dir = path.with_extension(format!("{}.d", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    let bound = (|| {
        let inner = dir.join("s");
        let listener = UnixListener::bind(&inner)?;
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&inner, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    bound
}

/// True if the peer runs as the user this process runs as.
pub fn same_user(stream: &UnixStream) -> bool {
    stream.peer_cred().is_ok_and(|c| c.uid() == nix::unistd::getuid().as_raw())
}

/// Reads and parses one request line, bounded (see the module docs); the error is the
/// message of the [`Response::Error`] to send back before closing.
pub async fn read_request<R: AsyncRead + Unpin>(r: R) -> std::result::Result<Request, String> {
    read_request_within(r, limits::CONTROL_READ_TIMEOUT).await
}

async fn read_request_within<R: AsyncRead + Unpin>(r: R, limit: Duration) -> std::result::Result<Request, String> {
    let max = limits::MAX_CONTROL_REQUEST;
    let mut line = Vec::new();
    let mut reader = BufReader::new(r.take(max as u64 + 1));
    match tokio::time::timeout(limit, reader.read_until(b'\n', &mut line)).await {
        Err(_) => return Err(format!("no request line within {} ms", limit.as_millis())),
        Ok(Err(e)) => return Err(format!("reading the request: {e}")),
        Ok(Ok(_)) => {}
    }
    if line.len() > max {
        return Err(format!("request line longer than {max} bytes"));
    }
    serde_json::from_slice(&line).map_err(|e| format!("bad request: {e}"))
}

/// After an error reply to a refused request: ends our side and discards what the client
/// still sends (at most 1 MiB, 1 s), so that closing with unread bytes does not reset the
/// connection before the client has read the reply.
pub async fn linger<R: AsyncRead + Unpin, W: tokio::io::AsyncWrite + Unpin>(r: &mut R, w: &mut W) {
    let _ = w.shutdown().await;
    let (mut rest, mut sink) = (r.take(1 << 20), tokio::io::sink());
    let _ = tokio::time::timeout(Duration::from_secs(1), tokio::io::copy(&mut rest, &mut sink)).await;
}

/// Sends one request to the supervisor of `state_dir`; its `Error` answer is an error.
pub async fn act(state_dir: &Path, req: Request) -> Result<()> {
    match request(state_dir, &req).await? {
        Response::Error { message } => Err(Error::Other(message)),
        _ => Ok(()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn request_lines_are_bounded() {
        assert!(matches!(read_request(&b"{\"cmd\":\"status\"}\n"[..]).await, Ok(Request::Status)));
        assert!(matches!(read_request(&b"{\"cmd\":\"status\"}"[..]).await, Ok(Request::Status)), "EOF ends it too");
        let mut long = b"{\"cmd\":\"act\",\"verb\":\"kill\",\"target\":\"".to_vec();
        long.resize(limits::MAX_CONTROL_REQUEST + 10, b'x');
        let e = read_request(&long[..]).await.unwrap_err();
        assert!(e.contains("longer than"), "{e}");
        let e = read_request(&b"nonsense\n"[..]).await.unwrap_err();
        assert!(e.starts_with("bad request"), "{e}");
    }

    #[tokio::test]
    async fn a_silent_client_times_out() {
        let (_client, server) = tokio::io::duplex(64);
        let start = std::time::Instant::now();
        let e = read_request_within(server, Duration::from_millis(200)).await.unwrap_err();
        assert!(e.contains("no request line"), "{e}");
        assert!(start.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn the_socket_is_the_owners_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let path = socket_path(dir.path());
        std::fs::write(&path, "stale").unwrap();
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        let listener = bind(&path);
        nix::sys::stat::umask(old);
        let listener = listener.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the temporary directory is gone");
        let client = UnixStream::connect(&path).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        assert!(same_user(&server) && same_user(&client));
    }
}
