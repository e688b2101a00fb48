//! The canonical message: what every protocol adapter turns a client's message into, what the
//! broker core queues and dispatches, and what the store journals.
//!
//! # How it works
//!
//! * [`StoredMessage`] is the message. Its serde shape *is* the journal's encoding (postcard,
//!   field by field, in declaration order), so its fields never change: the files on disk and
//!   the replication stream stay byte-compatible.
//! * Its headers are one ordered list of `(name, value)` strings. Their vocabulary is STOMP's
//!   (ActiveMQ's STOMP converter's, which is what lets STOMP, OpenWire and REST clients read
//!   each other's messages): the names are the constants of [`header`], and the accessors
//!   there ([`StoredMessage::header`] and the named ones) are the one place a header is
//!   looked up.
//! * JMS properties are headers too, as text; a property its sender typed (an `Integer`, a
//!   `boolean`…) is named in the `mqsim-property-types` header, and [`property`] reads and
//!   writes those types ([`PropertyType`], [`PropertyValue`]) for the selector and for
//!   OpenWire.
//! * [`Destination`] is a queue or a topic by name; it prints and parses as the stored
//!   spelling (`/queue/name`, `/topic/name`) and gives ActiveMQ's `queue://name` with
//!   [`Destination::qualified`].
//!
//! This module imports nothing else of the crate: the adapters (STOMP, OpenWire, the console's
//! REST) and the broker depend on it, and the store journals its [`StoredMessage`].

pub mod header;
pub mod property;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use property::{Property, PropertyType, PropertyValue};

/// A message as the broker core holds it in memory and the store journals it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Store-wide unique, increasing; the message id is derived from it
    /// ([`StoredMessage::message_id`]).
    pub seq: u64,
    /// The destination as the sender named it, in the stored (STOMP) spelling: `/queue/name`,
    /// `/topic/name`, `/temp-queue/name` or `/temp-topic/name` (for MESSAGE's `destination`).
    pub destination: String,
    /// User headers / JMS properties, in order ([`header`]).
    pub headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    pub persistent: bool,
    pub timestamp: u64,
    pub redelivery_count: u32,
    /// `(producer id, producer sequence)` for duplicate suppression after failover.
    pub producer: Option<(String, u64)>,
}

/// A queue or a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Queue,
    Topic,
}

impl Kind {
    /// The stored (STOMP) prefix: `/queue/`, `/topic/`.
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Queue => QUEUE_PREFIX,
            Kind::Topic => TOPIC_PREFIX,
        }
    }

    /// ActiveMQ's scheme: `queue://`, `topic://`.
    pub fn scheme(self) -> &'static str {
        match self {
            Kind::Queue => QUEUE_SCHEME,
            Kind::Topic => TOPIC_SCHEME,
        }
    }
}

pub const QUEUE_PREFIX: &str = "/queue/";
pub const TOPIC_PREFIX: &str = "/topic/";
pub const TEMP_QUEUE_PREFIX: &str = "/temp-queue/";
pub const TEMP_TOPIC_PREFIX: &str = "/temp-topic/";
pub const QUEUE_SCHEME: &str = "queue://";
pub const TOPIC_SCHEME: &str = "topic://";
pub const TEMP_QUEUE_SCHEME: &str = "temp-queue://";
pub const TEMP_TOPIC_SCHEME: &str = "temp-topic://";

/// A queue or topic by name (temporary ones are queues and topics under their own names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub kind: Kind,
    pub name: String,
}

impl Destination {
    pub fn queue(name: &str) -> Destination {
        Destination { kind: Kind::Queue, name: name.to_string() }
    }
    pub fn topic(name: &str) -> Destination {
        Destination { kind: Kind::Topic, name: name.to_string() }
    }

    /// ActiveMQ's qualified name, as its errors show it: `queue://name`, `topic://name`.
    pub fn qualified(&self) -> String {
        format!("{}{}", self.kind.scheme(), self.name)
    }

    /// `queue://name` or `topic://name` (the reverse of [`Destination::qualified`]).
    pub fn from_qualified(s: &str) -> Option<Destination> {
        [(QUEUE_SCHEME, Kind::Queue), (TOPIC_SCHEME, Kind::Topic)]
            .into_iter()
            .find_map(|(scheme, kind)| s.strip_prefix(scheme).map(|name| Destination { kind, name: name.to_string() }))
    }
}

/// The stored (STOMP) spelling: `/queue/name`, `/topic/name`.
impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.kind.prefix(), self.name)
    }
}

/// `/queue/a` → queue a; `/topic/a` → topic a; `/temp-queue/a` and `/temp-topic/a` map to
/// plain ones. The name is not bounded here: an adapter checks it with `crate::limits`.
impl FromStr for Destination {
    type Err = String;

    fn from_str(d: &str) -> Result<Destination, String> {
        let (kind, name) = if let Some(n) = d.strip_prefix(QUEUE_PREFIX).or_else(|| d.strip_prefix(TEMP_QUEUE_PREFIX)) {
            (Kind::Queue, n)
        } else if let Some(n) = d.strip_prefix(TOPIC_PREFIX).or_else(|| d.strip_prefix(TEMP_TOPIC_PREFIX)) {
            (Kind::Topic, n)
        } else {
            return Err(format!("Unknown destination type: {d} (use /queue/NAME or /topic/NAME)"));
        };
        if name.is_empty() {
            return Err(format!("destination {d} has no name"));
        }
        Ok(Destination { kind, name: name.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_print_and_parse_in_the_stored_spelling() {
        let q = Destination::queue("orders");
        assert_eq!(q.to_string(), "/queue/orders");
        assert_eq!(q.qualified(), "queue://orders");
        assert_eq!("/queue/orders".parse::<Destination>(), Ok(q.clone()));
        assert_eq!("/temp-queue/orders".parse::<Destination>(), Ok(q.clone()));
        assert_eq!("/topic/t".parse::<Destination>(), Ok(Destination::topic("t")));
        assert_eq!("/temp-topic/t".parse::<Destination>(), Ok(Destination::topic("t")));
        assert_eq!(Destination::topic("t").to_string().parse::<Destination>(), Ok(Destination::topic("t")));
        assert_eq!(Destination::from_qualified("queue://orders"), Some(q));
        assert_eq!(Destination::from_qualified("/queue/orders"), None);
        assert_eq!(
            "queue://x".parse::<Destination>(),
            Err("Unknown destination type: queue://x (use /queue/NAME or /topic/NAME)".to_string())
        );
        assert_eq!("/queue/".parse::<Destination>(), Err("destination /queue/ has no name".to_string()));
    }
}
