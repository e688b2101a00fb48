//! A gated stream: the partition gate applied in place, with no proxy hop.
//!
//! [`Gated`] wraps a socket and, while its gate is shut, neither reads from it nor writes to
//! it: bytes stay in the kernel's buffers (then the peer's writes block), the connection
//! stays open. That is the same black hole as a [`super::proxy::Proxy`] with its gate shut,
//! for the connections the node's own code owns (replication, both ends). It costs one
//! check of the gate per read or write instead of two extra loopback hops each way, which
//! is most of a replicated send's latency budget.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A stream that stops moving bytes while `gate` is `false`.
pub struct Gated<S> {
    inner: S,
    gate: watch::Receiver<bool>,
    read_wait: Option<Wait>,
    write_wait: Option<Wait>,
}

impl<S> Gated<S> {
    pub fn new(inner: S, gate: watch::Receiver<bool>) -> Gated<S> {
        Gated { inner, gate, read_wait: None, write_wait: None }
    }
}

/// Waits until the gate is open; `false` if its sender is gone (the node is going away),
/// which [`Gated`] takes as open: the connection then ends with its peer.
pub async fn wait_open(gate: &mut watch::Receiver<bool>) -> bool {
    gate.wait_for(|open| *open).await.is_ok()
}

/// Ready while the gate is open; otherwise registers for its opening.
fn poll_open(gate: &watch::Receiver<bool>, wait: &mut Option<Wait>, cx: &mut Context<'_>) -> Poll<()> {
    if *gate.borrow() {
        *wait = None;
        return Poll::Ready(());
    }
    let fut = wait.get_or_insert_with(|| {
        let mut gate = gate.clone();
        Box::pin(async move {
            wait_open(&mut gate).await;
        })
    });
    ready!(fut.as_mut().poll(cx));
    *wait = None;
    Poll::Ready(())
}

impl<S: AsyncRead + Unpin> AsyncRead for Gated<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(poll_open(&this.gate, &mut this.read_wait, cx));
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Gated<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(poll_open(&this.gate, &mut this.write_wait, cx));
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(poll_open(&this.gate, &mut this.write_wait, cx));
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    #[tokio::test]
    async fn holds_both_directions_while_shut() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (gate_tx, gate) = watch::channel(true);
        let mut plain = TcpStream::connect(addr).await.unwrap();
        let mut gated = Gated::new(listener.accept().await.unwrap().0, gate);
        let mut buf = [0u8; 5];

        plain.write_all(b"hello").await.unwrap();
        gated.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");

        gate_tx.send(false).unwrap();
        plain.write_all(b"again").await.unwrap();
        let held = tokio::time::timeout(Duration::from_millis(200), gated.read_exact(&mut buf)).await;
        assert!(held.is_err(), "nothing is read through a shut gate");
        let held = tokio::time::timeout(Duration::from_millis(200), gated.write_all(b"reply")).await;
        assert!(held.is_err(), "nothing is written through a shut gate");
        let nothing = tokio::time::timeout(Duration::from_millis(100), plain.read(&mut buf)).await;
        assert!(nothing.is_err(), "the peer receives nothing, and no EOF either");

        gate_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), gated.read_exact(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf, b"again", "what was held is delivered after the gate opens");
        gated.write_all(b"reply").await.unwrap();
        plain.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"reply");
    }
}
