//! A gated TCP proxy: forwards while its gate is open, holds every byte while it is shut.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::gate::wait_open;

/// A running proxy; dropping it stops accepting (open connections end with their peers).
pub struct Proxy {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on `listen` (port 0 for an ephemeral one) and forwards to `target`.
    pub async fn start(listen: SocketAddr, target: String, gate: watch::Receiver<bool>) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            let mut backoff = crate::transport::AcceptBackoff::new("fault proxy");
            loop {
                tokio::select! {
                    (inbound, _) = crate::transport::accept(&listener, &mut backoff) => {
                        conns.spawn(forward(inbound, target.clone(), gate.clone()));
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Proxy { addr, task })
    }
}

async fn forward(mut inbound: TcpStream, target: String, mut gate: watch::Receiver<bool>) {
    // A shut gate holds even the connection attempt: the dialer sees a hang, not a refusal.
    if !wait_open(&mut gate).await {
        return;
    }
    let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (mut ri, mut wi) = inbound.split();
    let (mut ro, mut wo) = outbound.split();
    let mut a = vec![0u8; 16 * 1024];
    let mut b = vec![0u8; 16 * 1024];
    loop {
        if !*gate.borrow() && !wait_open(&mut gate).await {
            return;
        }
        tokio::select! {
            n = ri.read(&mut a) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    // Bytes read just as the gate shut are held until it reopens.
                    if !wait_open(&mut gate).await || wo.write_all(&a[..n]).await.is_err() { return }
                }
            },
            n = ro.read(&mut b) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if !wait_open(&mut gate).await || wi.write_all(&b[..n]).await.is_err() { return }
                }
            },
            _ = gate.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn forwards_and_holds_while_shut() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 64];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        let (gate_tx, gate) = watch::channel(true);
        let p = Proxy::start("127.0.0.1:0".parse().unwrap(), target, gate).await.unwrap();
        let mut c = TcpStream::connect(p.addr).await.unwrap();
        let mut buf = [0u8; 5];
        c.write_all(b"hello").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        gate_tx.send(false).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        c.write_all(b"again").await.unwrap();
        let held = tokio::time::timeout(Duration::from_millis(200), c.read_exact(&mut buf)).await;
        assert!(held.is_err(), "nothing may pass a shut gate");
        gate_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), c.read_exact(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf, b"again");
    }
}
