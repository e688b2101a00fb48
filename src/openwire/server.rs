//! The OpenWire transport connector (placeholder: closes connections at once).

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::broker::Broker;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `wireFormat.maxFrameSize`.
    pub max_frame_size: usize,
    /// `maximumConnections`.
    pub max_connections: usize,
    /// Node name, for BrokerInfo.
    pub node: String,
    /// The cluster's brokerName.
    pub broker_name: String,
}

/// Accepts OpenWire clients until `stop` flips.
pub async fn serve(listener: TcpListener, _broker: Arc<Broker>, _settings: Settings, _stop: watch::Receiver<bool>) {
    loop {
        let _ = listener.accept().await;
    }
}
