//! The accept loop every transport connector (STOMP, OpenWire) shares, as ActiveMQ's
//! `TcpTransportServer`: TCP_NODELAY, and over `maximumConnections` a new socket is closed
//! at accept with the broker's log line. Each connection runs in its own task and is handed
//! the term's stop signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::warn;

pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    max_connections: usize,
    stop: watch::Receiver<bool>,
    mut handle: F,
) where
    F: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(max_connections));
    loop {
        let Ok((socket, peer)) = listener.accept().await else { continue };
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
