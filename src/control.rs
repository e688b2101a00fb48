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
    state_dir.join(crate::state_dir::SOCKET)
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
    let line = read_line(r, "request line", limits::MAX_CONTROL_REQUEST, limit).await?;
    serde_json::from_slice(&line).map_err(|e| format!("bad request: {e}"))
}

/// Reads one line (`what`, for the errors) of at most `max` bytes within `limit`: the
/// local control socket's request, and the lines of the hosts' control endpoint. At EOF
/// it is what came before it (empty if nothing did).
pub async fn read_line<R: AsyncRead + Unpin>(
    r: R,
    what: &str,
    max: usize,
    limit: Duration,
) -> std::result::Result<Vec<u8>, String> {
    let mut line = Vec::new();
    let mut reader = BufReader::new(r.take(max as u64 + 1));
    match tokio::time::timeout(limit, reader.read_until(b'\n', &mut line)).await {
        Err(_) => return Err(format!("no {what} within {} ms", limit.as_millis())),
        Ok(Err(e)) => return Err(format!("reading the {what}: {e}")),
        Ok(Ok(_)) => {}
    }
    if line.len() > max {
        return Err(format!("{what} longer than {max} bytes"));
    }
    Ok(line)
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
            return Err(Error::Unreachable("the supervisor closed the connection without answering".into()));
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
        Response::Done { .. } => Err(Error::protocol("unexpected reply to status")),
    }
}

/// Reads the status of the cluster of `state_dir` every `every` until `check` picks out
/// what it waits for (`Ok(Ok(t))`), or until `limit` has passed since the first read:
/// then `Ok(Err(seen))`, what the last check saw instead. A failed read (no supervisor:
/// nothing would change) ends the poll with its error. `mqsim up` and `mqsim wait` poll so.
pub async fn poll_status<T, S>(
    state_dir: &Path,
    limit: Duration,
    every: Duration,
    mut check: impl AsyncFnMut(&ClusterStatus) -> std::result::Result<T, S>,
) -> Result<std::result::Result<T, S>> {
    poll_until(limit, every, async || Ok(check(&status(state_dir).await?).await)).await
}

/// Like [`poll_status`] with a yes/no `pred`, but a failed read is just a look that found
/// nothing yet (a supervisor busy restarting a node may not answer): the status `pred`
/// holds on, or `None` after `limit`. The lab and chaos runs wait so.
pub async fn wait_for(
    state_dir: &Path,
    limit: Duration,
    every: Duration,
    pred: impl Fn(&ClusterStatus) -> bool,
) -> Option<ClusterStatus> {
    let look = async || Ok(status(state_dir).await.ok().filter(|st| pred(st)).ok_or(()));
    poll_until(limit, every, look).await.ok()?.ok()
}

/// The poll-until-deadline loop: calls `look` every `every` until it finds what it waits
/// for (`Ok(Ok(t))`) or fails (`Err`), or until `limit` has passed since the first call:
/// then `Ok(Err(seen))` from the last call. `look` always runs at least once.
pub async fn poll_until<T, S>(
    limit: Duration,
    every: Duration,
    mut look: impl AsyncFnMut() -> Result<std::result::Result<T, S>>,
) -> Result<std::result::Result<T, S>> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match look().await? {
            Ok(found) => return Ok(Ok(found)),
            Err(seen) if tokio::time::Instant::now() >= deadline => return Ok(Err(seen)),
            Err(_) => tokio::time::sleep(every).await,
        }
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
    async fn polls_end_when_found_on_error_or_at_the_deadline() {
        let every = Duration::from_millis(5);
        let mut n = 0;
        let found = poll_until(Duration::from_secs(10), every, async || {
            n += 1;
            Ok(if n == 3 { Ok(n) } else { Err(n) })
        })
        .await;
        assert!(matches!(found, Ok(Ok(3))), "{found:?}");
        let start = std::time::Instant::now();
        let mut n = 0;
        let timed_out = poll_until(Duration::from_millis(100), every, async || {
            n += 1;
            Ok(Err::<(), _>(n))
        })
        .await;
        let Ok(Err(seen)) = timed_out else { panic!("{timed_out:?}") };
        assert!(start.elapsed() >= Duration::from_millis(100) && seen > 1 && seen == n, "{seen} looks");
        let mut calls = 0;
        let failed = poll_until(Duration::from_secs(10), every, async || {
            calls += 1;
            Err::<std::result::Result<(), ()>, _>(Error::Other("no supervisor".into()))
        })
        .await;
        assert!(matches!(failed, Err(Error::Other(_))) && calls == 1, "{failed:?} after {calls}");
        let once = poll_until(Duration::ZERO, every, async || Ok(Err::<(), _>("seen"))).await;
        assert!(matches!(once, Ok(Err("seen"))), "a spent limit still looks once");
    }

    #[tokio::test]
    async fn status_polls_without_a_supervisor() {
        let dir = tempfile::tempdir().unwrap();
        let every = Duration::from_millis(5);
        let r = poll_status(dir.path(), Duration::from_secs(10), every, async |_| Ok::<_, ()>(())).await;
        assert!(matches!(r, Err(Error::NotRunning(_))), "no supervisor is an error at once: {r:?}");
        let start = std::time::Instant::now();
        assert!(wait_for(dir.path(), Duration::from_millis(50), every, |_| true).await.is_none());
        assert!(start.elapsed() >= Duration::from_millis(50), "wait_for keeps looking until the limit");
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
