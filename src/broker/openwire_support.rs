//! What the OpenWire adapter needs from the core beyond what STOMP uses.

use super::{Broker, queue_key};

impl Broker {
    /// Drops a temporary queue and whatever is still pending on it. Nothing to journal:
    /// the OpenWire adapter sends to temporary destinations non-persistently, as ActiveMQ
    /// keeps them in memory only.
    pub fn remove_temp_queue(&self, name: &str) {
        self.with_state(|st| st.remove_durable(&queue_key(name)));
    }
}
