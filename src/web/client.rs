//! A tiny HTTP/1.1 client (no TLS, no redirects): the dashboard reads the master console's
//! `/api/status.json` with it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderMap};
use hyper::{Request, StatusCode};

use super::Credentials;

/// One HTTP/1.1 request to `addr`, all of it within `limit`; returns status, headers and body.
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
