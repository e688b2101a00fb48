//! The accept loop of the consoles and the dashboard, and how many connections it serves.
//!
//! Bounds (from [`limits`]): at most [`connection_cap`] connections at once (more are
//! answered 503 and closed at accept); a request head must be complete within
//! [`limits::HTTP_HEADER_READ_TIMEOUT`] of connecting or of the previous response, so a
//! partial request or an idle keep-alive is closed then; a head is at most
//! [`limits::MAX_HTTP_HEAD`] bytes. Accept errors back off ([`crate::transport`]). Bodies
//! are bounded where a route reads them ([`super::read_body`]).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::Body;
use crate::limits;

/// What [`serve`] serves: the node console or the dashboard.
pub trait Site: Clone + Send + Sync + 'static {
    /// Its name in logs (`web console`, `dashboard`).
    const WHAT: &'static str;

    /// Answers one request; the site checks it with its [`super::Gate`] first.
    fn handle(&self, req: Request<Incoming>) -> impl Future<Output = Response<Body>> + Send;
}

/// Serves `site` on `listener` until the task is aborted (see the module docs for the bounds).
pub async fn serve<S: Site>(listener: TcpListener, site: S) {
    let what = S::WHAT;
    // The open-file limit is raised once at process start, so the cap is fixed from here on.
    let cap = connection_cap();
    let slots = Arc::new(Semaphore::new(cap));
    let mut backoff = crate::transport::AcceptBackoff::new(what);
    let mut refusing = false;
    loop {
        let (socket, peer) = crate::transport::accept(&listener, &mut backoff).await;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !refusing {
                tracing::warn!("{what}: {cap} connections open, the most it serves; closing new ones (first {peer})");
                refusing = true;
            }
            // Best effort, without waiting: the socket's buffer is empty.
            let _ = socket.try_write(BUSY);
            continue;
        };
        refusing = false;
        let site = site.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let io = hyper_util::rt::TokioIo::new(socket);
            let svc = hyper::service::service_fn(move |req| {
                let site = site.clone();
                async move { Ok::<_, Infallible>(site.handle(req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits::HTTP_HEADER_READ_TIMEOUT)
                .max_buf_size(limits::MAX_HTTP_HEAD)
                .serve_connection(io, svc);
            if let Err(e) = conn.await {
                tracing::debug!("http connection from {peer}: {e}");
            }
        });
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 43\r\nConnection: close\r\n\r\n503: too many connections; try again later\n";

/// How many connections one console (or the dashboard) serves at once:
/// [`limits::MAX_HTTP_CONNECTIONS`], or a quarter of the open-file limit if that is less
/// (so a flood of web connections cannot take the descriptors the broker's clients need).
pub fn connection_cap() -> usize {
    let by_files = crate::transport::open_file_limit().map_or(usize::MAX, |n| (n / 4) as usize);
    limits::MAX_HTTP_CONNECTIONS.min(by_files).max(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_one_whole_response() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("Content-Length: {}", body.len())), "{head}");
    }

    #[test]
    fn the_cap_is_bounded_both_ways() {
        let cap = connection_cap();
        assert!((4..=limits::MAX_HTTP_CONNECTIONS).contains(&cap), "{cap}");
    }
}
