//! A tiny HTTP/1.1 client (no TLS, no redirects): the dashboard reads the master console's
//! `/api/status.json` with it, and a supervisor each other host's broker's; bounded in time
//! and in body size.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderMap};
use hyper::{Request, StatusCode};

use super::Credentials;

/// One HTTP/1.1 request to `addr`, all of it within `limit`, its response body at most
/// `max_body` bytes (a longer one is an error); returns status, headers and body.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&Credentials>,
    body: &[u8],
    limit: Duration,
    max_body: usize,
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
        let bytes = Limited::new(body, max_body).collect().await.map_err(std::io::Error::other)?.to_bytes();
        driver.abort();
        Ok((parts.status, parts.headers, bytes))
    };
    tokio::time::timeout(limit, io).await.map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers every request with a 200 and `len` bytes of body.
    async fn serve(len: usize) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&vec![b'x'; len]).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_body_over_the_bound_is_an_error_not_an_allocation() {
        let addr = serve(2048).await;
        let limit = Duration::from_secs(5);
        let (status, _, body) = http_request(addr, "GET", "/", None, b"", limit, 2048).await.unwrap();
        assert_eq!((status, body.len()), (StatusCode::OK, 2048));
        assert!(http_request(addr, "GET", "/", None, b"", limit, 2047).await.is_err());
    }
}
