//! The accept loop every transport connector (STOMP, OpenWire) shares, as ActiveMQ's
//! `TcpTransportServer`: TCP_NODELAY, and over `maximumConnections` a new socket is closed
//! at accept with the broker's log line. Each connection runs in its own task and is handed
//! the term's stop signal.
//!
//! # Running out of file descriptors
//!
//! When the process has no descriptor left, `accept(2)` fails with `EMFILE` (or `ENFILE`
//! system-wide) and leaves the connection in the listen backlog, so the socket stays
//! readable: a loop that just retries spins a core at 100 % and starves every other task
//! (seen: 113 % CPU, new STOMP clients timing out). [`accept`] and [`AcceptBackoff`] instead
//! sleep [`RESOURCE_BACKOFF`] after such an error and log it once per streak; other errors
//! concern one connection (it was reset before we took it) and are retried after a short
//! pause. The consoles, the dashboard and the supervisor's control socket use the same
//! backoff. The backlog keeps the waiting clients until descriptors free up.
//!
//! Every mqsim process also raises its soft open-file limit to the hard limit at start
//! ([`raise_open_file_limit`], as the JVM does for ActiveMQ), so the 1024 default of a
//! login shell does not cap a broker at a few hundred clients.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::{debug, info, warn};

/// How long an accept loop sleeps after running out of descriptors (or kernel memory).
pub const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);
/// How long it sleeps after any other accept error.
pub const OTHER_BACKOFF: Duration = Duration::from_millis(5);

pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    max_connections: usize,
    stop: watch::Receiver<bool>,
    mut handle: F,
) where
    F: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // Config validation bounds `maximumConnections`; clamp anyway so that no value can
    // make `Semaphore::new` panic (its maximum is `usize::MAX >> 3`) and kill the loop.
    let max_connections = max_connections.min(crate::limits::MAX_CONNECTIONS);
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut backoff = AcceptBackoff::new("client connector");
    loop {
        let (socket, peer) = accept(&listener, &mut backoff).await;
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            warn!(
                "Exceeded the maximum number of allowed client connections ({max_connections}); closing {peer}. \
                 See the 'maximumConnections' setting."
            );
            continue;
        };
        let _ = socket.set_nodelay(true);
        let connection = handle(socket, peer, stop.clone());
        tokio::spawn(async move {
            connection.await;
            drop(permit);
        });
    }
}

/// The next connection on `listener`, backing off on errors (see the module docs).
pub async fn accept(listener: &TcpListener, backoff: &mut AcceptBackoff) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => {
                backoff.accepted();
                return accepted;
            }
            Err(e) => backoff.failed(&e).await,
        }
    }
}

/// One accept loop's error state: how many accepts in a row failed.
#[derive(Debug)]
pub struct AcceptBackoff {
    what: &'static str,
    streak: u64,
}

impl AcceptBackoff {
    /// `what` names the listener in the log ("client connector", "web console", ...).
    pub fn new(what: &'static str) -> AcceptBackoff {
        AcceptBackoff { what, streak: 0 }
    }

    /// Call after a successful accept: ends a streak of errors (and says so).
    pub fn accepted(&mut self) {
        if self.streak > 0 {
            info!("{}: accepting connections again after {} failed accepts", self.what, self.streak);
            self.streak = 0;
        }
    }

    /// Call after a failed accept: logs the first error of a streak, then sleeps.
    pub async fn failed(&mut self, e: &io::Error) {
        let pause = backoff_for(e);
        if self.streak == 0 {
            if pause == RESOURCE_BACKOFF {
                warn!(
                    "{}: cannot accept connections: {e}; retrying every {} ms (raise the open-file limit, \
                     `ulimit -n`, or close connections)",
                    self.what,
                    pause.as_millis()
                );
            } else {
                debug!("{}: accept: {e}", self.what);
            }
        }
        self.streak += 1;
        tokio::time::sleep(pause).await;
    }
}

/// How long to wait after an accept error: long for a resource shortage that only time
/// (other connections closing) can end, short for an error about one connection.
pub fn backoff_for(e: &io::Error) -> Duration {
    match e.raw_os_error() {
        Some(errno) if is_resource_errno(errno) => RESOURCE_BACKOFF,
        _ => OTHER_BACKOFF,
    }
}

fn is_resource_errno(errno: i32) -> bool {
    use nix::errno::Errno;
    matches!(Errno::from_raw(errno), Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit; returns `(before, after)`.
/// An unlimited hard limit is not a valid soft limit for files, so it falls back to 2^20.
pub fn raise_open_file_limit() -> nix::Result<(u64, u64)> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= hard {
        return Ok((soft, soft));
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => Ok((soft, hard)),
        Err(_) if hard > 1 << 20 => {
            setrlimit(Resource::RLIMIT_NOFILE, 1 << 20, hard)?;
            Ok((soft, 1 << 20))
        }
        Err(e) => Err(e),
    }
}

/// The soft open-file limit now (`None` if it cannot be read or is unlimited).
pub fn open_file_limit() -> Option<u64> {
    let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).ok()?;
    (soft != nix::sys::resource::RLIM_INFINITY).then_some(soft)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn running_out_of_descriptors_backs_off_long() {
        for errno in [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM] {
            assert_eq!(backoff_for(&io::Error::from_raw_os_error(errno as i32)), RESOURCE_BACKOFF, "{errno}");
        }
        assert_eq!(backoff_for(&io::Error::from_raw_os_error(Errno::ECONNABORTED as i32)), OTHER_BACKOFF);
        assert_eq!(backoff_for(&io::Error::other("x")), OTHER_BACKOFF);
        assert!(OTHER_BACKOFF > Duration::ZERO, "no error may be retried without a pause");
    }

    #[tokio::test]
    async fn a_streak_of_errors_sleeps_each_time() {
        let mut b = AcceptBackoff::new("test");
        let start = std::time::Instant::now();
        let emfile = io::Error::from_raw_os_error(Errno::EMFILE as i32);
        for _ in 0..3 {
            b.failed(&emfile).await;
        }
        assert_eq!(b.streak, 3);
        assert!(start.elapsed() >= 3 * RESOURCE_BACKOFF);
        b.accepted();
        assert_eq!(b.streak, 0);
    }

    #[tokio::test]
    async fn any_maximum_connections_value_serves_instead_of_panicking() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_stop_tx, stop) = watch::channel(false);
        let (served_tx, mut served) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(accept_loop(listener, usize::MAX, stop, move |_socket, peer, _stop| {
            let served_tx = served_tx.clone();
            async move {
                let _ = served_tx.send(peer);
            }
        }));
        let _client = TcpStream::connect(addr).await.unwrap();
        let peer = tokio::time::timeout(Duration::from_secs(5), served.recv()).await;
        assert!(matches!(peer, Ok(Some(_))), "the connection was not handed over");
        assert!(!task.is_finished(), "the accept loop ended");
        task.abort();
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let (_, after) = raise_open_file_limit().unwrap();
        let (soft, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(soft, after);
        assert!(soft == hard || soft == 1 << 20);
    }
}
