//! Journal records: what the master appends and the slaves replay, byte for byte.
//!
//! A record is postcard-encoded. Applying a record to the index is deterministic, so a
//! slave that appends the same bytes at the same position ends with the same index.

use serde::{Deserialize, Serialize};

/// A persistent message as stored (and as the broker core holds it in memory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Store-wide unique, increasing; the message id is derived from it.
    pub seq: u64,
    /// `queue://name` or `topic://name` as sent (for MESSAGE's `destination`).
    pub destination: String,
    /// User headers / JMS properties, in order.
    pub headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    pub persistent: bool,
    pub timestamp: u64,
    pub redelivery_count: u32,
    /// `(producer id, producer sequence)` for duplicate suppression after failover.
    pub producer: Option<(String, u64)>,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// A message added to `store` (a queue name, or `sub:<clientId>:<name>` for a durable
    /// topic subscription).
    Enqueue { store: String, msg: StoredMessage },
    /// A message acknowledged (removed) from `store`.
    Dequeue { store: String, seq: u64 },
    /// A durable topic subscription created.
    Subscribe { key: String, topic: String },
    /// A durable topic subscription removed (with its messages).
    Unsubscribe { key: String },
    /// A local transaction: all or nothing.
    Batch(Vec<Record>),
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("records serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = Record::Batch(vec![
            Record::Enqueue {
                store: "q".into(),
                msg: StoredMessage {
                    seq: 7,
                    destination: "/queue/q".into(),
                    headers: vec![("a".into(), "b".into())],
                    body: vec![0, 1, 2, 255],
                    persistent: true,
                    timestamp: 1,
                    redelivery_count: 0,
                    producer: Some(("p".into(), 3)),
                },
            },
            Record::Dequeue { store: "q".into(), seq: 6 },
        ]);
        assert_eq!(Record::decode(&r.encode()).unwrap(), r);
    }
}
