//! Journal records: what the master appends and the slaves replay, byte for byte.
//!
//! A record is postcard-encoded. Applying a record to the index is deterministic, so a
//! slave that appends the same bytes at the same position ends with the same index.
//!
//! A record is *storable* when every index key it makes fits LMDB's keys (1 to
//! [`MAX_KEY`] bytes): [`Record::check_storable`]. The store refuses an unstorable record
//! before it reaches the journal, and the index skips (quarantines) one it finds in an old
//! journal, so a name no entry point bounded can never stop a store from opening.

use serde::{Deserialize, Serialize};

/// A message as journaled: the canonical message of [`crate::message`], whose serde shape is
/// the record's encoding (its `destination` is the stored spelling, `/queue/name` or
/// `/topic/name`, as the sender named it).
pub use crate::message::StoredMessage;

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

/// LMDB's largest key, in bytes (heed's `Env::max_key_size` of the default build).
pub const MAX_KEY: usize = 511;
/// Bytes a message key adds to its store name: a NUL and the big-endian sequence.
pub const MSG_KEY_SUFFIX: usize = 9;
/// The longest store name (queue, or `sub:<clientId>:<name>`) whose message keys fit.
pub const MAX_STORE_NAME: usize = MAX_KEY - MSG_KEY_SUFFIX;

impl Record {
    /// Whether the index can store every key this record makes (for a batch: every
    /// record in it); the error says which name does not fit, and why.
    pub fn check_storable(&self) -> Result<(), String> {
        fn name(what: &str, name: &str, max: usize) -> Result<(), String> {
            if name.is_empty() {
                return Err(format!("the {what} is empty"));
            }
            if name.len() > max {
                let head: String = name.chars().take(32).collect();
                return Err(format!(
                    "the {what} `{head}…` is {} bytes long; the store keeps names of at most {max} bytes",
                    name.len()
                ));
            }
            Ok(())
        }
        match self {
            Record::Enqueue { store, msg } => {
                name("destination (store) name", store, MAX_STORE_NAME)?;
                match &msg.producer {
                    Some((producer, _)) => name("producer id", producer, MAX_KEY),
                    None => Ok(()),
                }
            }
            Record::Dequeue { store, .. } => name("destination (store) name", store, MAX_STORE_NAME),
            Record::Subscribe { key, .. } | Record::Unsubscribe { key } => {
                name("durable subscription key", key, MAX_STORE_NAME)
            }
            Record::Batch(records) => records.iter().try_for_each(Record::check_storable),
        }
    }

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

    /// The journal's bytes for a message, pinned: the canonical message moving to
    /// `crate::message` (or anything else) must not change what is on disk.
    #[test]
    fn an_enqueue_keeps_its_bytes() {
        let r = Record::Enqueue {
            store: "q".into(),
            msg: StoredMessage {
                seq: 300,
                destination: "/queue/q".into(),
                headers: vec![("a".into(), "b".into())],
                body: vec![0, 255],
                persistent: true,
                timestamp: 1,
                redelivery_count: 2,
                producer: Some(("p".into(), 3)),
            },
        };
        let hex: String = r.encode().iter().map(|b| format!("{b:02x}")).collect();
        // Enqueue (0), "q", seq 300 (varint ac 02), "/queue/q", one header "a" "b", the body
        // [0, 255], persistent, timestamp 1, redelivered twice, producer Some(("p", 3)).
        let want = [
            "00",
            "0171",
            "ac02",
            "082f71756575652f71",
            "01",
            "0161",
            "0162",
            "0200ff",
            "01",
            "01",
            "02",
            "01",
            "0170",
            "03",
        ];
        assert_eq!(hex, want.concat());
        assert_eq!(Record::decode(&r.encode()).unwrap(), r);
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

    #[test]
    fn storable_names_fit_the_index_keys() {
        let enqueue = |store: &str, producer: Option<&str>| Record::Enqueue {
            store: store.into(),
            msg: StoredMessage {
                seq: 1,
                destination: format!("/queue/{store}"),
                headers: vec![],
                body: vec![],
                persistent: true,
                timestamp: 0,
                redelivery_count: 0,
                producer: producer.map(|p| (p.to_string(), 1)),
            },
        };
        assert!(enqueue(&"q".repeat(MAX_STORE_NAME), Some(&"p".repeat(MAX_KEY))).check_storable().is_ok());
        // Row 2 of issue 11: `/queue/` + 600 × `q`.
        let why = enqueue(&"q".repeat(600), None).check_storable().unwrap_err();
        assert!(why.contains("600 bytes") && why.contains("502"), "{why}");
        assert!(enqueue(&"q".repeat(MAX_STORE_NAME + 1), None).check_storable().is_err());
        assert!(enqueue("q", Some(&"p".repeat(MAX_KEY + 1))).check_storable().is_err());
        assert!(enqueue("q", Some("")).check_storable().is_err(), "LMDB refuses empty keys");
        assert!(enqueue("", None).check_storable().is_err());
        assert!(Record::Unsubscribe { key: String::new() }.check_storable().is_err());
        assert!(Record::Dequeue { store: "q".repeat(600), seq: 1 }.check_storable().is_err());
        let batch =
            Record::Batch(vec![enqueue("ok", None), Record::Subscribe { key: "k".repeat(503), topic: "t".into() }]);
        assert!(batch.check_storable().is_err(), "one bad record spoils its batch");
    }
}
