//! A client's connections and failovers on the cluster's timeline (`client-connected`,
//! `client-reconnected`), so the failover diagrams ([`crate::diagram`]) can draw the clients
//! coming back. The dashboard's demo load (source `load`) and `mqsim chaos`'s producer and
//! consumer (source `chaos`) record theirs through these.

use super::{ConnectOptions, FailoverUrl, StompClient};
use crate::config::Config;
use crate::error::Result;
use crate::events::EventKind;
use crate::events::EventLog;

/// `tcp://127.0.0.1:61614` → `node02` (the broker with that STOMP port), else the URI.
pub fn broker_of(config: &Config, uri: &str) -> String {
    let port = uri.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
    config.nodes.iter().find(|n| Some(*n.stomp.get_ref()) == port).map_or_else(|| uri.to_string(), |n| n.name.clone())
}

/// Connects through the failover URL and says where (`client-connected`).
pub async fn connect(config: &Config, url: &FailoverUrl, events: &EventLog, who: &str) -> Result<StompClient> {
    let client = StompClient::connect(url, ConnectOptions::default()).await?;
    events.emit(EventKind::ClientConnected, format!("{who} connected to {}", broker_of(config, client.current_uri())));
    Ok(client)
}

/// Puts the client's failovers since the last call on the timeline; returns how many.
pub fn record_reconnects(config: &Config, events: &EventLog, who: &str, client: &mut StompClient) -> usize {
    let reconnects = client.take_reconnects();
    for r in &reconnects {
        events.emit(
            EventKind::ClientReconnected,
            format!(
                "{who} reconnected to {} after {:.1} s without a broker ({} lost: {})",
                broker_of(config, &r.uri),
                r.outage().as_secs_f64(),
                broker_of(config, &r.from),
                r.cause
            ),
        );
    }
    reconnects.len()
}
