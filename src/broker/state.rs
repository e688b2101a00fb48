//! The in-memory side of the broker: pending messages, consumers, in-flight deliveries.
//! Plain data and synchronous methods; [`super::Broker`] adds the store writes around them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;

use super::selector::{Selector, Value};
use super::{AckMode, Delivery, Subscription, durable_key};
use crate::store::Snapshot;
use crate::store::record::{Record, StoredMessage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Queue,
    Topic,
}

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
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("no subscription {0} on this connection")]
    NoConsumer(u64),
    #[error("message {0} is not pending acknowledgement on this subscription")]
    NotInflight(u64),
    #[error("a durable subscription needs a client-id")]
    DurableNeedsClientId,
    #[error("mqsim does not support a selector on a durable subscription (selector: {0})")]
    DurableSelector(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct DestStats {
    pub kind: Kind,
    pub name: String,
    pub pending: usize,
    pub inflight: usize,
    pub consumers: usize,
    pub enqueued: u64,
    pub dequeued: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    msg: Arc<StoredMessage>,
    redelivered: bool,
}

/// A queue, or a durable subscription's store.
#[derive(Debug, Default)]
struct Queue {
    pending: BTreeMap<u64, Pending>,
    consumers: Vec<u64>,
    rr: usize,
    enqueued: u64,
    dequeued: u64,
    /// For durable subscription stores: the topic.
    topic: Option<String>,
}

#[derive(Debug, Default)]
struct Topic {
    /// Non-durable subscribers.
    consumers: Vec<u64>,
    enqueued: u64,
}

#[derive(Debug)]
struct Consumer {
    conn: u64,
    /// The queue or durable store it consumes from; `None` for a plain topic subscriber.
    store: Option<String>,
    topic: Option<String>,
    ack: AckMode,
    prefetch: usize,
    selector: Option<Arc<Selector>>,
    /// Delivered, not acked, in delivery order.
    inflight: Vec<(u64, Pending)>,
    tx: mpsc::UnboundedSender<Delivery>,
}

impl Consumer {
    fn accepts(&self, msg: &StoredMessage) -> bool {
        selects(self.selector.as_deref(), msg)
    }

    fn has_credit(&self) -> bool {
        self.inflight.len() < self.prefetch
    }
}

/// Whether `msg` passes `selector` (no selector: every message does).
fn selects(selector: Option<&Selector>, msg: &StoredMessage) -> bool {
    selector.is_none_or(|s| s.matches(&|name| message_value(msg, name)))
}

/// What a selector reads of a message: the JMS header fields JMSDeliveryMode, JMSPriority,
/// JMSTimestamp, JMSCorrelationID and JMSType, else the property (header) of that name, typed
/// as its JMS sender typed it (`mqsim-property-types`), a string otherwise.
pub fn message_value(msg: &StoredMessage, name: &str) -> Option<Value> {
    let header = |h: &str| msg.headers.iter().find(|(k, _)| k == h).map(|(_, v)| v.as_str());
    match name {
        "JMSDeliveryMode" => Some(Value::Str(if msg.persistent { "PERSISTENT" } else { "NON_PERSISTENT" }.into())),
        "JMSPriority" => Some(Value::Long(header("priority").and_then(|p| p.parse().ok()).unwrap_or(4))),
        "JMSTimestamp" => Some(Value::Long(msg.timestamp as i64)),
        "JMSCorrelationID" => header("correlation-id").map(|v| Value::Str(v.into())),
        "JMSType" => header("type").map(|v| Value::Str(v.into())),
        _ => {
            let text = header(name)?;
            let tag = crate::openwire::convert::property_tags(msg).into_iter().find(|(k, _)| *k == name);
            let typed = match tag.map(|(_, t)| t) {
                Some('z') => Some(Value::Bool(text == "true")),
                Some('b' | 's' | 'i' | 'l') => text.parse().ok().map(Value::Long),
                Some('f' | 'd') => text.parse().ok().map(Value::Double),
                _ => None,
            };
            Some(typed.unwrap_or_else(|| Value::Str(text.into())))
        }
    }
}

#[derive(Debug, Default)]
pub struct State {
    stores: HashMap<String, Queue>,
    topics: HashMap<String, Topic>,
    consumers: HashMap<u64, Consumer>,
}

impl State {
    pub fn from_snapshot(snap: Snapshot) -> State {
        let mut st = State::default();
        for (key, topic) in snap.subs {
            st.stores.entry(key).or_default().topic = Some(topic);
        }
        for (name, msgs) in snap.stores {
            let q = st.stores.entry(name).or_default();
            for m in msgs {
                let redelivered = m.redelivery_count > 0;
                q.pending.insert(m.seq, Pending { msg: Arc::new(m), redelivered });
            }
        }
        st
    }

    pub fn durable_topic(&self, key: &str) -> Option<&str> {
        self.stores.get(key).and_then(|q| q.topic.as_deref())
    }

    /// The journal records a persistent send needs.
    pub fn enqueue_records(&self, dest: &Destination, msg: &StoredMessage) -> Vec<Record> {
        if !msg.persistent {
            return Vec::new();
        }
        match dest.kind {
            Kind::Queue => vec![Record::Enqueue { store: dest.name.clone(), msg: msg.clone() }],
            Kind::Topic => self
                .durable_stores_of(&dest.name)
                .into_iter()
                .map(|store| Record::Enqueue { store, msg: msg.clone() })
                .collect(),
        }
    }

    fn durable_stores_of(&self, topic: &str) -> Vec<String> {
        let mut v: Vec<String> =
            self.stores.iter().filter(|(_, q)| q.topic.as_deref() == Some(topic)).map(|(k, _)| k.clone()).collect();
        v.sort();
        v
    }

    pub fn enqueue(&mut self, dest: &Destination, msg: Arc<StoredMessage>) {
        match dest.kind {
            Kind::Queue => self.enqueue_store(&dest.name, msg),
            Kind::Topic => {
                for store in self.durable_stores_of(&dest.name) {
                    self.enqueue_store(&store, msg.clone());
                }
                let topic = self.topics.entry(dest.name.clone()).or_default();
                topic.enqueued += 1;
                for id in topic.consumers.clone() {
                    if let Some(c) = self.consumers.get_mut(&id)
                        && c.accepts(&msg)
                    {
                        deliver(id, c, Pending { msg: msg.clone(), redelivered: false });
                    }
                }
            }
        }
    }

    fn enqueue_store(&mut self, store: &str, msg: Arc<StoredMessage>) {
        let q = self.stores.entry(store.to_string()).or_default();
        q.enqueued += 1;
        q.pending.insert(msg.seq, Pending { msg, redelivered: false });
        self.dispatch(store);
    }

    /// Hands pending messages to consumers with prefetch credit, round robin.
    fn dispatch(&mut self, store: &str) {
        let Some(q) = self.stores.get_mut(store) else { return };
        if q.consumers.iter().any(|id| self.consumers.get(id).is_some_and(|c| c.selector.is_some())) {
            return self.dispatch_selective(store);
        }
        while !q.pending.is_empty() && !q.consumers.is_empty() {
            let n = q.consumers.len();
            let chosen = (0..n)
                .map(|i| (q.rr + i) % n)
                .find(|&i| self.consumers.get(&q.consumers[i]).is_some_and(Consumer::has_credit));
            let Some(i) = chosen else { break };
            q.rr = (i + 1) % n;
            let id = q.consumers[i];
            let (_, p) = q.pending.pop_first().expect("not empty");
            let c = self.consumers.get_mut(&id).expect("checked");
            deliver(id, c, p);
        }
    }

    /// [`State::dispatch`] when a consumer of the store has a selector: each waiting message,
    /// oldest first, goes to the next consumer (round robin) with credit that matches it; a
    /// message nobody matches stays where it is. Scans the waiting messages on every call.
    fn dispatch_selective(&mut self, store: &str) {
        let Some(q) = self.stores.get_mut(store) else { return };
        let seqs: Vec<u64> = q.pending.keys().copied().collect();
        for seq in seqs {
            let n = q.consumers.len();
            if !q.consumers.iter().any(|id| self.consumers.get(id).is_some_and(Consumer::has_credit)) {
                break;
            }
            let msg = &q.pending[&seq].msg;
            let chosen = (0..n)
                .map(|i| (q.rr + i) % n)
                .find(|&i| self.consumers.get(&q.consumers[i]).is_some_and(|c| c.has_credit() && c.accepts(msg)));
            let Some(i) = chosen else { continue };
            q.rr = (i + 1) % n;
            let id = q.consumers[i];
            let p = q.pending.remove(&seq).expect("listed");
            let c = self.consumers.get_mut(&id).expect("checked");
            deliver(id, c, p);
        }
    }

    pub fn add_consumer(
        &mut self,
        id: u64,
        conn: u64,
        sub: Subscription,
        tx: mpsc::UnboundedSender<Delivery>,
    ) -> Result<(), StateError> {
        let (store, topic) = match (sub.destination.kind, &sub.durable) {
            (Kind::Queue, _) => (Some(sub.destination.name.clone()), None),
            (Kind::Topic, Some((client, name))) => {
                if client.is_empty() {
                    return Err(StateError::DurableNeedsClientId);
                }
                let key = durable_key(client, name);
                self.stores.entry(key.clone()).or_default().topic = Some(sub.destination.name.clone());
                (Some(key), None)
            }
            (Kind::Topic, None) => (None, Some(sub.destination.name.clone())),
        };
        let consumer = Consumer {
            conn,
            store: store.clone(),
            topic: topic.clone(),
            ack: sub.ack,
            prefetch: sub.prefetch.max(1),
            selector: sub.selector,
            inflight: Vec::new(),
            tx,
        };
        self.consumers.insert(id, consumer);
        match (store, topic) {
            (Some(s), _) => {
                self.stores.entry(s.clone()).or_default().consumers.push(id);
                self.dispatch(&s);
            }
            (None, Some(t)) => self.topics.entry(t).or_default().consumers.push(id),
            (None, None) => {}
        }
        Ok(())
    }

    /// Removes a consumer; its in-flight messages go back to the head of its store.
    pub fn remove_consumer(&mut self, id: u64) {
        let Some(c) = self.consumers.remove(&id) else { return };
        if let Some(t) = c.topic.as_ref().and_then(|t| self.topics.get_mut(t)) {
            t.consumers.retain(|x| *x != id);
        }
        if let Some(store) = &c.store {
            if let Some(q) = self.stores.get_mut(store) {
                q.consumers.retain(|x| *x != id);
                for (seq, mut p) in c.inflight {
                    p.redelivered = true;
                    q.pending.insert(seq, p);
                }
            }
            self.dispatch(store);
        }
    }

    pub fn remove_connection(&mut self, conn: u64) {
        let ids: Vec<u64> = self.consumers.iter().filter(|(_, c)| c.conn == conn).map(|(id, _)| *id).collect();
        for id in ids {
            self.remove_consumer(id);
        }
    }

    pub fn remove_durable(&mut self, key: &str) -> bool {
        let consumers: Vec<u64> = self.stores.get(key).map(|q| q.consumers.clone()).unwrap_or_default();
        for id in consumers {
            self.remove_consumer(id);
        }
        self.stores.remove(key).is_some()
    }

    /// Acks `seq` (and, if `cumulative`, every earlier delivery) of a consumer; returns the
    /// dequeue records of the persistent ones.
    pub fn ack(&mut self, id: u64, seq: u64, cumulative: bool) -> Result<Vec<Record>, StateError> {
        let c = self.consumers.get_mut(&id).ok_or(StateError::NoConsumer(id))?;
        let at = c.inflight.iter().position(|(s, _)| *s == seq).ok_or(StateError::NotInflight(seq))?;
        let acked: Vec<(u64, Pending)> =
            if cumulative { c.inflight.drain(..=at).collect() } else { vec![c.inflight.remove(at)] };
        let store = c.store.clone();
        let mut records = Vec::new();
        if let Some(store) = &store {
            if let Some(q) = self.stores.get_mut(store) {
                q.dequeued += acked.len() as u64;
            }
            records = acked
                .iter()
                .filter(|(_, p)| p.msg.persistent)
                .map(|(s, _)| Record::Dequeue { store: store.clone(), seq: *s })
                .collect();
            self.dispatch(store);
        }
        Ok(records)
    }

    /// Takes one in-flight message off a consumer (for NACK); returns it and its store.
    pub fn take_inflight(&mut self, id: u64, seq: u64) -> Result<(Arc<StoredMessage>, String), StateError> {
        let c = self.consumers.get_mut(&id).ok_or(StateError::NoConsumer(id))?;
        let at = c.inflight.iter().position(|(s, _)| *s == seq).ok_or(StateError::NotInflight(seq))?;
        let (_, p) = c.inflight.remove(at);
        let store = c.store.clone().unwrap_or_default();
        if let Some(q) = self.stores.get_mut(&store) {
            q.dequeued += 1;
        }
        self.dispatch(&store);
        Ok((p.msg, store))
    }

    /// For `admin.rs`: up to `max` pending messages of a store that pass `selector`, oldest
    /// first, with their redelivered flag.
    pub(super) fn pending(
        &self,
        store: &str,
        max: usize,
        selector: Option<&Selector>,
    ) -> Vec<(Arc<StoredMessage>, bool)> {
        let Some(q) = self.stores.get(store) else { return Vec::new() };
        q.pending
            .values()
            .filter(|p| selects(selector, &p.msg))
            .take(max)
            .map(|p| (p.msg.clone(), p.redelivered))
            .collect()
    }

    /// For `admin.rs`: removes every pending message of a store (counted as dequeued).
    pub(super) fn take_pending(&mut self, store: &str) -> Vec<Arc<StoredMessage>> {
        let Some(q) = self.stores.get_mut(store) else { return Vec::new() };
        let taken = std::mem::take(&mut q.pending);
        q.dequeued += taken.len() as u64;
        taken.into_values().map(|p| p.msg).collect()
    }

    pub fn stats(&self) -> Vec<DestStats> {
        let mut v: Vec<DestStats> = self
            .stores
            .iter()
            .map(|(name, q)| DestStats {
                kind: if q.topic.is_some() { Kind::Topic } else { Kind::Queue },
                name: name.clone(),
                pending: q.pending.len(),
                inflight: q.consumers.iter().filter_map(|id| self.consumers.get(id)).map(|c| c.inflight.len()).sum(),
                consumers: q.consumers.len(),
                enqueued: q.enqueued,
                dequeued: q.dequeued,
            })
            .chain(self.topics.iter().map(|(name, t)| DestStats {
                kind: Kind::Topic,
                name: name.clone(),
                pending: 0,
                inflight: 0,
                consumers: t.consumers.len(),
                enqueued: t.enqueued,
                dequeued: 0,
            }))
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

/// Sends to the consumer's connection; a plain topic subscriber in auto mode is not tracked
/// beyond the channel (there is nothing to redeliver it to).
fn deliver(id: u64, c: &mut Consumer, p: Pending) {
    let d = Delivery { consumer: id, msg: p.msg.clone(), redelivered: p.redelivered };
    if c.tx.send(d).is_ok() && (c.store.is_some() || c.ack != AckMode::Auto) {
        c.inflight.push((p.msg.seq, p));
    }
}
