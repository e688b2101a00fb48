//! The HTTP serving the node consoles ([`crate::console`]) and the dashboard
//! ([`crate::dashboard`]) share; those two only route.
//!
//! | part | what |
//! |---|---|
//! | [`serve()`] | the accept loop: the connection cap, the request-head timeout and size ([`serve`](mod@serve)) |
//! | [`Gate`] | what every request passes before a route sees it: the `Host` allowlist, BASIC auth, and the cross-site rule for requests that change state ([`gate`], [`guard`]) |
//! | [`read_body`], [`read_form`] | request bodies, bounded in size and in time |
//! | [`respond`], [`text`], [`html`], [`json`], [`redirect`]... | responses, each with `no-store` and `nosniff` |
//! | [`STYLE`] | the stylesheet both serve |
//! | [`http_request`] | a tiny HTTP/1.1 client (the dashboard and the other hosts' probes read a console's JSON with it, bounded) |
//!
//! Every bound comes from [`crate::limits`]: at most [`limits::MAX_HTTP_CONNECTIONS`]
//! connections at once, a request head of at most [`limits::MAX_HTTP_HEAD`] bytes within
//! [`limits::HTTP_HEADER_READ_TIMEOUT`], a body of at most the caller's `max` bytes (the
//! console passes `cluster.maxFrameSize`) within [`limits::HTTP_BODY_READ_TIMEOUT`].

mod client;
pub mod gate;
pub mod guard;
pub mod serve;

use std::collections::BTreeMap;
use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body as HttpBody;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use crate::limits;
pub use client::http_request;
pub use gate::{Credentials, Gate};
pub use guard::HostAllowlist;
pub use serve::{Site, connection_cap, serve};

/// Every response body: a full buffer, or a stream (server-sent events).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The stylesheet shared by the consoles and the dashboard (embedded; no build step).
pub const STYLE: &str = include_str!("assets/style.css");

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

/// Reads a request body, at most `max` bytes, within [`limits::HTTP_BODY_READ_TIMEOUT`]:
/// else the 413, 408 or 400 to answer.
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

/// A form body (`application/x-www-form-urlencoded`) read with [`read_body`]'s bounds →
/// first value per key.
pub async fn read_form<B>(body: B, max: usize) -> Result<BTreeMap<String, String>, Response<Body>>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bytes = read_body(body, max).await?;
    Ok(parse_form(&String::from_utf8_lossy(&bytes)))
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

    #[tokio::test]
    async fn bodies_are_bounded() {
        let form = read_form(Full::new(Bytes::from_static(b"verb=kill&target=a+b")), 64).await.unwrap();
        assert_eq!((form["verb"].as_str(), form["target"].as_str()), ("kill", "a b"));
        let big = read_body(Full::new(Bytes::from(vec![b'x'; 65])), 64).await.unwrap_err();
        assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(read_body(Full::new(Bytes::from(vec![b'x'; 64])), 64).await.unwrap().len(), 64);
    }
}
