//! Small HTTP helpers shared by the node console and the dashboard: BASIC auth, URL
//! encoding, query/form parsing, the checks of [`super::guard`], the bounded server loop, responses, and a tiny
//! HTTP/1.1 client (the dashboard reads the master console's JSON with it).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body as HttpBody;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio::sync::Semaphore;

use super::guard::HostAllowlist;
use crate::limits;

/// Every response body: a full buffer, or a stream (server-sent events).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The `[console]` user and password every request must present (BASIC auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    pub fn new(user: &str, password: &str) -> Credentials {
        Credentials { user: user.to_string(), password: password.to_string() }
    }

    /// True if the request carries `Authorization: Basic base64(user:password)` with ours.
    pub fn check(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else { return false };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else { return false };
        let expected = format!("{}:{}", self.user, self.password);
        crate::auth::constant_time_eq(&decoded, expected.as_bytes())
    }

    /// The `Authorization` header value for these credentials (for clients and tests).
    pub fn header(&self) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password));
        format!("Basic {token}")
    }
}

/// The checks every request of the console and the dashboard passes first (see
/// [`super::guard`]): its `Host` is one of ours, BASIC auth, and if it changes state
/// (`mutating`) it is not cross-site. `Some(response)` refuses the request.
pub fn refuse<B>(
    credentials: &Credentials,
    realm: &str,
    hosts: &HostAllowlist,
    mutating: bool,
    req: &hyper::Request<B>,
) -> Option<Response<Body>> {
    if let Err(e) = hosts.check(req.headers()) {
        return Some(text(StatusCode::FORBIDDEN, &e));
    }
    if !credentials.check(req.headers()) {
        return Some(unauthorized(realm));
    }
    if mutating && let Err(e) = super::guard::same_origin(req.headers()) {
        return Some(text(StatusCode::FORBIDDEN, &e));
    }
    None
}

/// 401 with a BASIC challenge; the browser asks for the user and password.
pub fn unauthorized(realm: &str) -> Response<Body> {
    let mut r =
        text(StatusCode::UNAUTHORIZED, "401 Unauthorized: this console needs the [console] user and password\n");
    let challenge = format!("Basic realm=\"{}\", charset=\"UTF-8\"", realm.replace('"', ""));
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(&challenge).expect("ascii realm"));
    r
}

/// Percent-encodes a value for a query string (`a b&c` → `a+b%26c`).
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Query string or form body → first value per key.
pub fn parse_form(s: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(s.as_bytes()) {
        m.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    m
}

pub fn query<B>(req: &Request<B>) -> BTreeMap<String, String> {
    parse_form(req.uri().query().unwrap_or(""))
}

/// Reads a request body, at most `max` bytes.
pub async fn read_body<B>(body: B, max: usize) -> Result<Bytes, Response<Body>>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let read = tokio::time::timeout(limits::HTTP_BODY_READ_TIMEOUT, Limited::new(body, max).collect());
    let Ok(read) = read.await else {
        let limit = limits::HTTP_BODY_READ_TIMEOUT.as_secs();
        return Err(text(
            StatusCode::REQUEST_TIMEOUT,
            &format!("408: the request body did not arrive within {limit} s\n"),
        ));
    };
    match read {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            let too_big = e.downcast_ref::<http_body_util::LengthLimitError>().is_some();
            Err(if too_big {
                text(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body larger than {max} bytes\n"))
            } else {
                text(StatusCode::BAD_REQUEST, &format!("cannot read the request body: {e}\n"))
            })
        }
    }
}

/// The host part of the request's `Host` header (for links to sibling consoles).
pub fn request_host<B>(req: &Request<B>) -> Option<String> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let h = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    (!h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c))).then(|| h.to_string())
}

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed_unsync()
}

pub fn respond(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, ctype)
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-content-type-options", "nosniff")
        .body(full(body))
        .expect("valid response")
}

pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", body.to_string())
}

/// An HTML page; the headers forbid framing and inline/remote scripts other than ours.
pub fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut r = respond(status, "text/html; charset=utf-8", body);
    let h = r.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    r
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    respond(status, "application/json", value.to_string())
}

/// 303 See Other (after a form POST).
pub fn redirect(location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .body(full(""))
        .expect("valid response")
}

pub fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "404 not found\n")
}

pub fn method_not_allowed(allow: &str) -> Response<Body> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, &format!("405: use {allow}\n"));
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_str(allow).expect("ascii"));
    r
}

/// Serves one listener with `handler` until the task is aborted; `what` names it in logs.
///
/// Bounds (from [`limits`]): at most [`connection_cap`] connections at once (more are
/// answered 503 and closed at accept); a request head must be complete within
/// [`limits::HTTP_HEADER_READ_TIMEOUT`] of connecting or of the previous response, so a
/// partial request or an idle keep-alive is closed then; a head is at most
/// [`limits::MAX_HTTP_HEAD`] bytes. Accept errors back off ([`crate::transport`]).
pub async fn serve<F, Fut>(listener: tokio::net::TcpListener, what: &'static str, handler: F)
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
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
        let handler = handler.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let io = hyper_util::rt::TokioIo::new(socket);
            let svc = hyper::service::service_fn(move |req| {
                let fut = handler(req);
                async move { Ok::<_, Infallible>(fut.await) }
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

/// One HTTP/1.1 request to `addr` (no TLS, no redirects); returns status, headers and body.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&Credentials>,
    body: &[u8],
    limit: Duration,
) -> std::io::Result<(StatusCode, HeaderMap, Bytes)> {
    let io = async {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        let driver = tokio::spawn(conn);
        let mut req = Request::builder().method(method).uri(path).header(header::HOST, addr.to_string());
        if let Some(c) = auth {
            req = req.header(header::AUTHORIZATION, c.header());
        }
        let req = req.body(Full::new(Bytes::copy_from_slice(body))).map_err(std::io::Error::other)?;
        let resp = sender.send_request(req).await.map_err(std::io::Error::other)?;
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
        driver.abort();
        Ok((parts.status, parts.headers, bytes))
    };
    tokio::time::timeout(limit, io).await.map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_parsing() {
        assert_eq!(enc("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        let f = parse_form("JMSDestination=a+b%26c&x=1&x=2");
        assert_eq!(f["JMSDestination"], "a b&c");
        assert_eq!(f["x"], "1");
    }

    #[test]
    fn basic_auth() {
        let c = Credentials::new("admin", "admin");
        let mut h = HeaderMap::new();
        assert!(!c.check(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&c.header()).unwrap());
        assert!(c.check(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic YWRtaW46d3Jvbmc=")); // admin:wrong
        assert!(!c.check(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer YWRtaW46YWRtaW4="));
        assert!(!c.check(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("basic YWRtaW46YWRtaW4="));
        assert!(c.check(&h));
    }
}
