//! Console operations on the broker core: browse a queue and purge it, as ActiveMQ's
//! web console does (`browse.jsp`, "Purge"), the queue browsers of STOMP and OpenWire, and
//! the destination counters, and dropping a temporary queue. Kept apart from the messaging
//! paths.
//!
//! None of them costs more with the depth of a queue (issue 12: pages stay fast with a
//! million messages waiting):
//!
//! * a browse is a page: up to `max` messages from a sequence on (`after`, 0 for the head),
//!   one look-up in the waiting messages' ordered map and then `max` steps along it; with a
//!   selector it stops after [`BROWSE_LOOK`] messages or [`BROWSE_STEPS`] selector steps in
//!   all, like a dispatch pass;
//! * one message is found by its sequence ([`Broker::browse_message`]), not by a browse;
//! * the counters ([`State::stats`]) cost one entry per destination, never per message;
//! * a purge takes a store's messages out of the state at once and lets go of them (and
//!   builds their dequeue records) after the lock is released.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::selector::Verdict;
use super::state::{DestStats, Pending, Queue, State, Topic, message_value};
use super::{Broker, Selector, queue_key};
use crate::error::Result;
use crate::message::{Kind, StoredMessage};
use crate::store::record::Record;

/// How many messages a queue browser (STOMP `browser:true`, a JMS QueueBrowser) is shown:
/// ActiveMQ's default `maxBrowsePageSize`.
pub const MAX_BROWSE: usize = 400;

/// The most selector steps one browse spends (about what 100 messages may cost).
pub const BROWSE_STEPS: usize = 100 * crate::limits::SELECTOR_STEPS as usize;

/// The most waiting messages one browse looks at: a browser whose selector matches few of
/// a deep queue's messages is shown the matches among the first 16,384. (ActiveMQ's browse
/// and selectors see fewer: only the messages it has paged in, `maxPageSize`, 200 by default.)
pub const BROWSE_LOOK: usize = 16 * 1024;

impl Broker {
    /// Drops a temporary queue and whatever is still pending on it (OpenWire's connection
    /// does when its client removes one). Nothing to journal: the OpenWire adapter sends to
    /// temporary destinations non-persistently, as ActiveMQ keeps them in memory only.
    pub fn remove_temp_queue(&self, name: &str) {
        self.with_state(|st| st.remove_durable(&queue_key(name)));
    }

    /// Up to `max` pending (not yet delivered) messages of the queue `queue` that pass
    /// `selector`, oldest first, with their `redelivered` flag. Messages in flight on a
    /// consumer are not shown.
    pub fn browse(&self, queue: &str, max: usize, selector: Option<&Selector>) -> Vec<(Arc<StoredMessage>, bool)> {
        self.browse_store(&queue_key(queue), 0, max, selector)
    }

    /// [`Broker::browse`] by store key, as [`Broker::stats`] names stores: a queue's
    /// ([`queue_key`]) or a durable subscription's (`sub:<clientId>:<name>`), from the first
    /// message with a sequence above `after` (0: from the head).
    pub fn browse_store(
        &self,
        store: &str,
        after: u64,
        max: usize,
        selector: Option<&Selector>,
    ) -> Vec<(Arc<StoredMessage>, bool)> {
        self.lock().pending(store, after, max, selector, BROWSE_STEPS)
    }

    /// The pending message of a store with sequence `seq`, with its `redelivered` flag.
    pub fn browse_message(&self, store: &str, seq: u64) -> Option<(Arc<StoredMessage>, bool)> {
        self.lock().pending_message(store, seq)
    }

    /// The counters of one store (by key, as [`Broker::stats`] names it).
    pub fn store_stats(&self, store: &str) -> Option<DestStats> {
        self.lock().store_stats(store)
    }

    /// Deletes every pending message of a store (by key, as [`Broker::stats`] names it);
    /// returns how many. The persistent ones are dequeued in the journal (one synced batch
    /// through the writer), so the slaves follow.
    pub async fn purge(&self, store: &str) -> Result<usize> {
        let taken = self.lock().take_pending(store);
        let records: Vec<Record> = taken
            .values()
            .filter(|p| p.msg.persistent)
            .map(|p| Record::Dequeue { store: store.to_string(), seq: p.msg.seq })
            .collect();
        let count = taken.len();
        drop(taken);
        if !records.is_empty() {
            self.writer.write(vec![Record::Batch(records)], true).await?;
        }
        Ok(count)
    }
}

impl State {
    /// Up to `max` pending messages of a store with a sequence above `after` that pass
    /// `selector`, oldest first, with their redelivered flag. It stops after `steps`
    /// selector steps in all, or [`BROWSE_LOOK`] messages.
    pub(super) fn pending(
        &mut self,
        store: &str,
        after: u64,
        max: usize,
        selector: Option<&Selector>,
        mut steps: usize,
    ) -> Vec<(Arc<StoredMessage>, bool)> {
        let Some(q) = self.stores.get(store) else { return Vec::new() };
        let mut out = Vec::new();
        for p in q.pending.range(after.saturating_add(1)..).map(|(_, p)| p).take(BROWSE_LOOK) {
            if out.len() >= max || steps == 0 {
                break;
            }
            self.browsed += 1;
            if selects(selector, &p.msg, &mut steps) {
                out.push((p.msg.clone(), p.redelivered));
            }
        }
        out
    }

    /// The pending message `seq` of a store.
    pub(super) fn pending_message(&mut self, store: &str, seq: u64) -> Option<(Arc<StoredMessage>, bool)> {
        self.browsed += 1;
        self.stores.get(store)?.pending.get(&seq).map(|p| (p.msg.clone(), p.redelivered))
    }

    /// Removes every pending message of a store (counted as dequeued) and returns them.
    pub(super) fn take_pending(&mut self, store: &str) -> BTreeMap<u64, Pending> {
        let Some(q) = self.stores.get_mut(store) else { return BTreeMap::new() };
        let taken = std::mem::take(&mut q.pending);
        q.dequeued += taken.len() as u64;
        for id in &q.consumers {
            if let Some(c) = self.consumers.get_mut(id) {
                c.unjudged.clear();
            }
        }
        taken
    }

    /// Every store's and topic's counters, by name.
    pub fn stats(&self) -> Vec<DestStats> {
        let mut v: Vec<DestStats> = self
            .stores
            .iter()
            .map(|(name, q)| self.queue_stats(name, q))
            .chain(self.topics.iter().map(|(name, t)| self.topic_stats(name, t)))
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// One store's counters.
    pub(super) fn store_stats(&self, store: &str) -> Option<DestStats> {
        self.stores.get(store).map(|q| self.queue_stats(store, q))
    }

    fn queue_stats(&self, name: &str, q: &Queue) -> DestStats {
        DestStats {
            kind: if q.topic.is_some() { Kind::Topic } else { Kind::Queue },
            name: name.to_string(),
            pending: q.pending.len(),
            inflight: q.consumers.iter().filter_map(|id| self.consumers.get(id)).map(|c| c.inflight.len()).sum(),
            consumers: q.consumers.len(),
            enqueued: q.enqueued,
            dequeued: q.dequeued,
        }
    }

    fn topic_stats(&self, name: &str, t: &Topic) -> DestStats {
        let subs = || t.consumers.iter().filter_map(|id| self.consumers.get(id));
        DestStats {
            kind: Kind::Topic,
            name: name.to_string(),
            pending: subs().map(|c| c.waiting.len()).sum(),
            inflight: subs().map(|c| c.inflight.len()).sum(),
            consumers: t.consumers.len(),
            enqueued: t.enqueued,
            dequeued: 0,
        }
    }
}

/// Whether `msg` passes `selector` (no selector: every message does).
fn selects(selector: Option<&Selector>, msg: &StoredMessage, budget: &mut usize) -> bool {
    let Some(s) = selector else { return true };
    let (verdict, used) = s.evaluate(&|name| message_value(msg, name), crate::limits::SELECTOR_STEPS as usize);
    *budget = budget.saturating_sub(used);
    verdict == Verdict::Match
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
        // Pages go on from a sequence; one message is found by its own.
        let first = broker.browse("q", 1, None)[0].0.seq;
        let rest: Vec<u64> = broker.browse_store("q", first, 10, None).iter().map(|(m, _)| m.seq).collect();
        assert_eq!(rest.len(), 2);
        assert!(rest.iter().all(|s| *s > first));
        assert_eq!(broker.browse_message("q", rest[1]).unwrap().0.body, b"m2");
        assert!(broker.browse_message("q", rest[1] + 1).is_none() && broker.browse_message("no", first).is_none());
        let before = store.position().unwrap();
        assert_eq!(broker.purge("q").await.unwrap(), 3);
        assert!(store.position().unwrap() > before, "the dequeues are journaled");
        assert!(broker.browse("q", 10, None).is_empty());
        let st = broker.stats().into_iter().find(|s| s.name == "q").unwrap();
        assert_eq!((st.pending, st.enqueued, st.dequeued), (0, 3, 3));
        assert_eq!(broker.store_stats("q").unwrap().dequeued, 3);
        assert!(broker.store_stats("nope").is_none());
        assert_eq!(broker.memory_used(), 0, "what was purged is let go of");
        // A new master built from this store finds nothing to deliver.
        assert!(store.snapshot().unwrap().stores.get("q").is_none_or(|m| m.is_empty()));
        assert_eq!(broker.purge("q").await.unwrap(), 0);
    }
}
