//! The supervisors' control endpoint between hosts: `crate::control`'s requests over TCP,
//! each one proved with the cluster's `securityToken`.
//!
//! ```text
//! server → client   {"challenge": Ns, "host": "10.0.0.1"}
//! client → server   {"nonce": Nc, "request": R, "proof": HMAC(token, "mqsim-control-request" ‖ Ns ‖ Nc ‖ R)}
//! server → client   {"reply": P, "proof": HMAC(token, "mqsim-control-reply" ‖ Ns ‖ Nc ‖ P)}
//! ```
//!
//! `R` and `P` are the JSON text of a [`Request`] and a [`Response`], carried as strings so
//! the proofs cover their exact bytes; nonces are 32 random bytes (base64), the HMAC is the
//! replication login's ([`Secret::prove`], length-prefixed fields). The token never crosses
//! the wire; a recorded request is useless against a fresh challenge, and an echoed nonce is
//! refused. A request that is too long ([`MAX_SIGNED_REQUEST`]), too slow
//! ([`limits::CONTROL_READ_TIMEOUT`]), malformed or wrongly proved gets one unsigned
//! `{"reply":"error",...}` line, a warning in the supervisor's log, and the connection is
//! closed. The endpoint is served only when `securityToken` is set (never open without it),
//! at most [`MAX_CONNECTIONS`] connections at once. Like the replication login it
//! authenticates, it does not encrypt: status travels in clear.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::control::{Request, Response};
use crate::error::{Error, Result};
use crate::limits;
use crate::replication::auth::{Secret, decode_nonce, fresh_nonce};

const REQUEST_LABEL: &str = "mqsim-control-request";
const REPLY_LABEL: &str = "mqsim-control-reply";
/// A signed request line: the request, two nonces and a proof.
pub const MAX_SIGNED_REQUEST: usize = 2 * limits::MAX_CONTROL_REQUEST + 512;
/// The challenge line a client accepts.
const MAX_HELLO: usize = 512;
/// A reply line a client accepts (a whole cluster's status is a few KiB).
const MAX_REPLY: usize = 4 << 20;
/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 16;

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    challenge: String,
    host: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signed {
    nonce: String,
    request: String,
    proof: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct SignedReply {
    reply: String,
    proof: String,
}

/// The endpoint's secret: `securityToken`, or `None` (then it is not served).
pub fn secret(config: &crate::config::Config) -> Option<Secret> {
    let t = &config.cluster.security_token;
    (!t.is_empty()).then(|| Secret::new(t))
}

/// [`crate::control::read_line`], where a connection closed before any byte is refused as such.
async fn read_line<R: AsyncRead + Unpin>(
    r: R,
    what: &str,
    max: usize,
    limit: Duration,
) -> std::result::Result<Vec<u8>, String> {
    let line = crate::control::read_line(r, what, max, limit).await?;
    if line.is_empty() {
        return Err("the connection closed".into());
    }
    Ok(line)
}

/// Checks a signed request line against the challenge `ns`: the request, or why it is refused.
fn verify(secret: &Secret, ns: &[u8], line: &[u8]) -> std::result::Result<(Request, [u8; 32]), String> {
    let signed: Signed = serde_json::from_slice(line).map_err(|e| format!("bad request: {e}"))?;
    let nc = decode_nonce(&signed.nonce).map_err(|e| e.to_string())?;
    if nc[..] == *ns {
        return Err("the client echoed our own nonce".into());
    }
    secret
        .check(REQUEST_LABEL, &[ns, &nc, signed.request.as_bytes()], &signed.proof)
        .map_err(|_| "the proof does not match: the client does not know this cluster's securityToken".to_string())?;
    let request = serde_json::from_str(&signed.request).map_err(|e| format!("bad request: {e}"))?;
    Ok((request, nc))
}

/// One connection: challenge, check, answer with `handle`; `refused` hears why a client was turned away.
async fn serve_one<S, F>(stream: S, secret: Secret, host: String, handle: F) -> std::result::Result<(), String>
where
    S: AsyncRead + tokio::io::AsyncWrite + Unpin,
    F: FnOnce(Request) -> BoxFuture<'static, Response>,
{
    let (mut r, mut w) = tokio::io::split(stream);
    let ns = fresh_nonce();
    let mut hello = serde_json::to_vec(&Hello { challenge: B64.encode(ns), host }).expect("serializes");
    hello.push(b'\n');
    w.write_all(&hello).await.map_err(|e| format!("writing the challenge: {e}"))?;
    let checked = match read_line(&mut r, "line", MAX_SIGNED_REQUEST, limits::CONTROL_READ_TIMEOUT).await {
        Ok(line) => verify(&secret, &ns, &line),
        Err(e) => Err(e),
    };
    let (request, nc) = match checked {
        Ok(ok) => ok,
        Err(why) => {
            let mut out =
                serde_json::to_vec(&Response::Error { message: format!("refused: {why}") }).expect("serializes");
            out.push(b'\n');
            let _ = w.write_all(&out).await;
            crate::control::linger(&mut r, &mut w).await;
            return Err(why);
        }
    };
    let reply = serde_json::to_string(&handle(request).await).expect("serializes");
    let proof = secret.prove(REPLY_LABEL, &[&ns, &nc, reply.as_bytes()]);
    let mut out = serde_json::to_vec(&SignedReply { reply, proof }).expect("serializes");
    out.push(b'\n');
    w.write_all(&out).await.map_err(|e| format!("writing the reply: {e}"))?;
    let _ = w.shutdown().await;
    Ok(())
}

/// Serves the endpoint on `listener` until the task is dropped.
pub async fn serve<F>(listener: TcpListener, secret: Secret, host: String, handle: F)
where
    F: Fn(Request) -> BoxFuture<'static, Response> + Clone + Send + Sync + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut backoff = crate::transport::AcceptBackoff::new("control endpoint");
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        backoff.accepted();
        let (secret, host, handle) = (secret.clone(), host.clone(), handle.clone());
        tokio::spawn(async move {
            if let Err(why) = serve_one(stream, secret, host, handle).await {
                tracing::warn!("control endpoint: refused {peer}: {why}");
            }
            drop(permit);
        });
    }
}

/// Sends `req` to the supervisor at `addr` and returns its (proved) answer.
pub async fn request(addr: SocketAddr, secret: &Secret, req: &Request, limit: Duration) -> Result<Response> {
    let io = async {
        let stream =
            TcpStream::connect(addr).await.map_err(Error::io(format!("connecting to the supervisor at {addr}")))?;
        exchange(stream, secret, req).await
    };
    tokio::time::timeout(limit, io)
        .await
        .map_err(|_| Error::Timeout(format!("the supervisor at {addr} did not answer within {} s", limit.as_secs())))?
}

async fn exchange<S: AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: S,
    secret: &Secret,
    req: &Request,
) -> Result<Response> {
    let (mut r, mut w) = tokio::io::split(stream);
    // The link failing is `Unreachable` (the caller may try another host); an answer that
    // does not check out is `Protocol`; the host's own refusal or error is its answer.
    let bad = |m: String| Error::Unreachable(format!("control endpoint: {m}"));
    let broken = |m: String| Error::protocol(format!("control endpoint: {m}"));
    let hello = read_line(&mut r, "line", MAX_HELLO, limits::CONTROL_READ_TIMEOUT).await.map_err(bad)?;
    let hello: Hello = serde_json::from_slice(&hello).map_err(|e| bad(format!("bad challenge: {e}")))?;
    let ns = decode_nonce(&hello.challenge).map_err(|e| bad(e.to_string()))?;
    let nc = fresh_nonce();
    let request = serde_json::to_string(req)?;
    let proof = secret.prove(REQUEST_LABEL, &[&ns, &nc, request.as_bytes()]);
    let mut line = serde_json::to_vec(&Signed { nonce: B64.encode(nc), request, proof })?;
    line.push(b'\n');
    w.write_all(&line).await.map_err(Error::io("writing to the control endpoint"))?;
    let reply = read_line(&mut r, "line", MAX_REPLY, Duration::from_secs(60)).await.map_err(bad)?;
    if let Ok(signed) = serde_json::from_slice::<SignedReply>(&reply) {
        secret.check(REPLY_LABEL, &[&ns, &nc, signed.reply.as_bytes()], &signed.proof).map_err(|_| {
            broken(format!("host {} answered without a valid proof (another securityToken?)", hello.host))
        })?;
        return Ok(serde_json::from_str(&signed.reply)?);
    }
    match serde_json::from_slice::<Response>(&reply) {
        Ok(Response::Error { message }) => {
            Err(Error::InvalidInput(format!("control endpoint: host {}: {message}", hello.host)))
        }
        _ => Err(broken("an unreadable reply".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};

    fn answer(req: Request) -> BoxFuture<'static, Response> {
        Box::pin(async move { Response::Done { lines: vec![format!("{req:?}")] } })
    }

    async fn roundtrip(server: Secret, client: Secret) -> Result<Response> {
        let (a, b) = tokio::io::duplex(1 << 16);
        let srv = tokio::spawn(serve_one(a, server, "h".into(), answer));
        let out = exchange(b, &client, &Request::Status).await;
        let _ = srv.await;
        out
    }

    #[tokio::test]
    async fn the_token_proves_both_ways() {
        let ok = roundtrip(Secret::new("t0k"), Secret::new("t0k")).await.unwrap();
        assert!(matches!(ok, Response::Done { lines } if lines[0] == "Status"));
        let e = roundtrip(Secret::new("t0k"), Secret::new("wrong")).await.unwrap_err().to_string();
        assert!(e.contains("refused") && e.contains("securityToken"), "{e}");
    }

    #[tokio::test]
    async fn hostile_lines_are_refused() {
        let secret = Secret::new("t0k");
        let ns = [7u8; 32];
        for line in [&b"garbage\n"[..], b"{}\n", b"{\"nonce\":\"AAAA\",\"request\":\"{}\",\"proof\":\"x\"}\n"] {
            assert!(verify(&secret, &ns, line).is_err());
        }
        // The right proof over a nonce that echoes ours.
        let req = serde_json::to_string(&Request::Down).unwrap();
        let proof = secret.prove(REQUEST_LABEL, &[&ns, &ns, req.as_bytes()]);
        let echo = serde_json::to_vec(&Signed { nonce: B64.encode(ns), request: req, proof }).unwrap();
        assert!(verify(&secret, &ns, &echo).unwrap_err().contains("echoed"));
        // Oversized: refused at the bound, before parsing.
        let (mut a, b) = tokio::io::duplex(1 << 16);
        let srv = tokio::spawn(serve_one(b, secret.clone(), "h".into(), answer));
        let mut hello = String::new();
        let mut rd = BufReader::new(&mut a);
        rd.read_line(&mut hello).await.unwrap();
        let big = vec![b'x'; MAX_SIGNED_REQUEST + 10];
        let _ = a.write_all(&big).await;
        let e = srv.await.unwrap().unwrap_err();
        assert!(e.contains("longer than"), "{e}");
    }
}
