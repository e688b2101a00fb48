//! Console operations on the broker core: browse a queue and purge it, as ActiveMQ's
//! web console does (`browse.jsp`, "Purge"), and the queue browsers of STOMP and OpenWire.
//! Kept apart from the messaging paths.
//!
//! A browse judges its selector against the waiting messages under the broker's lock, so
//! it stops after [`BROWSE_STEPS`] selector steps in all, like a dispatch pass.

use std::sync::Arc;

use super::{Broker, Selector, queue_key};
use crate::error::Result;
use crate::store::record::{Record, StoredMessage};

/// How many messages a queue browser (STOMP `browser:true`, a JMS QueueBrowser) is shown:
/// ActiveMQ's default `maxBrowsePageSize`.
pub const MAX_BROWSE: usize = 400;

/// The most selector steps one browse spends (about what 100 messages may cost).
pub const BROWSE_STEPS: usize = 100 * crate::limits::SELECTOR_STEPS as usize;

impl Broker {
    /// Up to `max` pending (not yet delivered) messages of the queue `queue` that pass
    /// `selector`, oldest first, with their `redelivered` flag. Messages in flight on a
    /// consumer are not shown.
    pub fn browse(&self, queue: &str, max: usize, selector: Option<&Selector>) -> Vec<(Arc<StoredMessage>, bool)> {
        self.browse_store(&queue_key(queue), max, selector)
    }

    /// [`Broker::browse`] by store key, as [`Broker::stats`] names stores: a queue's
    /// ([`queue_key`]) or a durable subscription's (`sub:<clientId>:<name>`).
    pub fn browse_store(
        &self,
        store: &str,
        max: usize,
        selector: Option<&Selector>,
    ) -> Vec<(Arc<StoredMessage>, bool)> {
        self.lock().pending(store, max, selector, BROWSE_STEPS)
    }

    /// Deletes every pending message of a store (by key, as [`Broker::stats`] names it);
    /// returns how many. The persistent ones are dequeued in the journal (one synced batch
    /// through the writer), so the slaves follow.
    pub async fn purge(&self, store: &str) -> Result<usize> {
        let taken = self.lock().take_pending(store);
        let records: Vec<Record> = taken
            .iter()
            .filter(|m| m.persistent)
            .map(|m| Record::Dequeue { store: store.to_string(), seq: m.seq })
            .collect();
        if !records.is_empty() {
            self.writer.write(vec![Record::Batch(records)], true).await?;
        }
        Ok(taken.len())
    }
}

#[cfg(test)]
mod tests {
    use crate::broker::Destination;
    use crate::broker::tests::{fixture, msg};

    #[tokio::test]
    async fn browse_then_purge_is_durable() {
        let f = fixture();
        let (store, broker) = (&f.store, &f.broker);
        let q = Destination::queue("q");
        for (i, p) in [true, false, true].into_iter().enumerate() {
            broker.send(&q, msg("/queue/q", &format!("m{i}"), p)).await.unwrap();
        }
        let seen: Vec<String> =
            broker.browse("q", 10, None).iter().map(|(m, _)| String::from_utf8_lossy(&m.body).into_owned()).collect();
        assert_eq!(seen, ["m0", "m1", "m2"]);
        assert_eq!(broker.browse("q", 2, None).len(), 2);
        assert!(broker.browse("nope", 10, None).is_empty());
        let before = store.position().unwrap();
        assert_eq!(broker.purge("q").await.unwrap(), 3);
        assert!(store.position().unwrap() > before, "the dequeues are journaled");
        assert!(broker.browse("q", 10, None).is_empty());
        let st = broker.stats().into_iter().find(|s| s.name == "q").unwrap();
        assert_eq!((st.pending, st.enqueued, st.dequeued), (0, 3, 3));
        // A new master built from this store finds nothing to deliver.
        assert!(store.snapshot().unwrap().stores.get("q").is_none_or(|m| m.is_empty()));
        assert_eq!(broker.purge("q").await.unwrap(), 0);
    }
}
