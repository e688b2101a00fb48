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
    Batch(#[serde(deserialize_with = "batch")] Vec<Record>),
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("records serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// How deeply batches may nest in a record read back. mqsim writes batches of plain records
/// (depth 1); a deeper one comes only from a corrupt or hostile journal or peer, and without
/// a bound postcard would recurse once per level and overflow the stack (a 100 KB record
/// killed the process: `tests/fuzz/artifacts/replication_wire/`).
pub const MAX_BATCH_DEPTH: usize = 4;

thread_local! {
    static BATCH_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Deserializes a batch's records, refusing more than [`MAX_BATCH_DEPTH`] nested batches.
fn batch<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Record>, D::Error> {
    struct Level;
    impl Drop for Level {
        fn drop(&mut self) {
            BATCH_DEPTH.with(|c| c.set(c.get() - 1));
        }
    }
    let depth = BATCH_DEPTH.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let _level = Level;
    if depth > MAX_BATCH_DEPTH {
        return Err(serde::de::Error::custom(format!("batches nested more than {MAX_BATCH_DEPTH} deep")));
    }
    Vec::<Record>::deserialize(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeply_nested_batches_are_an_error_not_a_stack_overflow() {
        let nested =
            |depth: usize| (0..depth).fold(Record::Unsubscribe { key: "k".into() }, |r, _| Record::Batch(vec![r]));
        assert_eq!(Record::decode(&nested(MAX_BATCH_DEPTH).encode()).unwrap(), nested(MAX_BATCH_DEPTH));
        assert!(Record::decode(&nested(MAX_BATCH_DEPTH + 1).encode()).is_err());
        // 50 000 levels in 100 KB: refused at the fifth, and the depth count starts over.
        let mut bytes = [4u8, 1].repeat(50_000);
        bytes.extend([3, 1, b'k']);
        assert!(Record::decode(&bytes).is_err());
        assert_eq!(Record::decode(&nested(MAX_BATCH_DEPTH).encode()).unwrap(), nested(MAX_BATCH_DEPTH));
    }

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
