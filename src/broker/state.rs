//! The in-memory side of the broker: pending messages, consumers, in-flight deliveries.
//! Plain data and synchronous methods; [`super::Broker`] adds the store writes around them.
//!
//! Stores are keyed by [`queue_key`] (a queue) or [`durable_key`] (a durable subscription),
//! two namespaces that cannot meet. Every message held carries its memory [`Ticket`].
//! Handing messages to consumers is in [`super::dispatch`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;

use super::selector::{Selector, Value, Verdict};
use super::usage::{Ticket, Usage, size_of};
use super::{Delivery, Subscription, durable_key};
use crate::message::{Destination, Kind, PropertyType, StoredMessage};
use crate::store::Snapshot;
use crate::store::record::Record;

/// The store key of a queue. Durable subscriptions are stored as `sub:<clientId>:<name>`
/// ([`durable_key`]), so a queue whose name has that shape (or the shape of an escaped one,
/// `queue:`… followed by `sub:`) is stored as `queue:<name>` instead: the two namespaces
/// never meet, and every other queue keeps the key it always had (stores written before
/// the split load unchanged; see the module essay of [`super`] for the one exception).
pub fn queue_key(name: &str) -> Cow<'_, str> {
    let mut rest = name;
    while let Some(r) = rest.strip_prefix(QUEUE_ESCAPE) {
        rest = r;
    }
    if rest.starts_with("sub:") { Cow::Owned(format!("{QUEUE_ESCAPE}{name}")) } else { Cow::Borrowed(name) }
}

const QUEUE_ESCAPE: &str = "queue:";

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
    /// ActiveMQ's text for `sendFailIfNoSpaceAfterTimeout` on a full `memoryUsage`.
    #[error(
        "Usage Manager Memory Limit reached. Stopping producer ({producer}) to prevent flooding {destination}. \
         See http://activemq.apache.org/producer-flow-control.html for more info (waited {waited_ms} ms for \
         space: {used} of the broker's memoryLimit of {limit} bytes are held)"
    )]
    MemoryFull { producer: String, destination: String, waited_ms: u128, used: u64, limit: u64 },
    /// ActiveMQ's text for a full `storeUsage`.
    #[error(
        "Persistent store is Full, 100% of {limit}. Stopping producer ({producer}) to prevent flooding \
         {destination}. See http://activemq.apache.org/producer-flow-control.html for more info (the journal \
         holds {used} bytes; storeLimit is {limit})"
    )]
    StoreFull { producer: String, destination: String, used: u64, limit: u64 },
    #[error(
        "transaction rolled back: it would hold {count} messages, more than this broker's transactionLimit of {limit}"
    )]
    TransactionLimit { count: usize, limit: usize },
    #[error("transaction rolled back earlier: {0}")]
    RolledBack(String),
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

/// A message held for a store or a consumer, with its memory ticket (shared by every holder
/// of the same message).
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) msg: Arc<StoredMessage>,
    pub(super) redelivered: bool,
    pub(super) ticket: Arc<Ticket>,
}

/// A queue, or a durable subscription's store.
#[derive(Debug, Default)]
pub(super) struct Queue {
    pub(super) pending: BTreeMap<u64, Pending>,
    pub(super) consumers: Vec<u64>,
    pub(super) rr: usize,
    pub(super) enqueued: u64,
    pub(super) dequeued: u64,
    /// For durable subscription stores: the topic.
    pub(super) topic: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct Topic {
    /// Non-durable subscribers.
    pub(super) consumers: Vec<u64>,
    pub(super) enqueued: u64,
}

#[derive(Debug)]
pub(super) struct Consumer {
    conn: u64,
    /// The queue or durable store it consumes from; `None` for a plain topic subscriber.
    pub(super) store: Option<String>,
    topic: Option<String>,
    prefetch: usize,
    pub(super) selector: Option<Arc<Selector>>,
    /// Delivered, not acked (or, in auto mode, not yet written out), in delivery order.
    pub(super) inflight: VecDeque<(u64, Pending)>,
    tx: mpsc::UnboundedSender<Delivery>,
    /// With a selector, on a queue: every message waiting in its store with a sequence up to
    /// this one has been judged and does not match it (so a pass need not judge it again)...
    pub(super) scanned: u64,
    /// ...except these: messages put back (or sent late) below `scanned` since, which it has
    /// not judged. Its mark stays where it is, so no one judges the rest again.
    pub(super) unjudged: BTreeSet<u64>,
    /// A plain topic subscriber's messages beyond its prefetch, oldest first: at most
    /// `pendingMessageLimit`, the oldest discarded past that.
    pub(super) waiting: VecDeque<Pending>,
    discarded: u64,
    /// Whether its selector's running out of steps was logged.
    over_budget_logged: bool,
}

impl Consumer {
    pub(super) fn has_credit(&self) -> bool {
        self.inflight.len() < self.prefetch
    }

    /// Whether `msg` passes its selector (within `steps`), and the steps that took.
    pub(super) fn judge(&mut self, id: u64, msg: &StoredMessage, steps: usize) -> (bool, usize) {
        let Some(sel) = &self.selector else { return (true, 0) };
        let (verdict, used) = sel.evaluate(&|name| message_value(msg, name), steps);
        (self.note(id, verdict), used)
    }

    /// Takes a verdict reached elsewhere; logs the first time the selector ran out of steps.
    fn note(&mut self, id: u64, verdict: Verdict) -> bool {
        if verdict == Verdict::OverBudget && !self.over_budget_logged {
            self.over_budget_logged = true;
            let text: String = self.selector.as_ref().map(|s| s.text().chars().take(80).collect()).unwrap_or_default();
            tracing::warn!(
                consumer = id,
                "a selector ran out of its {} evaluation steps on a message, which counts as no match (logged once \
                 per consumer): {text:?}…",
                crate::limits::SELECTOR_STEPS
            );
        }
        verdict == Verdict::Match
    }
}

/// What a selector reads of a message: the JMS header fields JMSDeliveryMode, JMSPriority,
/// JMSTimestamp, JMSCorrelationID and JMSType, else the property (header) of that name, typed
/// as its JMS sender typed it ([`StoredMessage::property_type`]), a string otherwise. A
/// selector's numbers are `long`s and `double`s, so an integral property's text is read as a
/// `long` and a floating one's as a `double`, whatever its width.
pub fn message_value(msg: &StoredMessage, name: &str) -> Option<Value> {
    match name {
        "JMSDeliveryMode" => Some(Value::Str(msg.delivery_mode().into())),
        "JMSPriority" => Some(Value::Long(msg.priority())),
        "JMSTimestamp" => Some(Value::Long(msg.timestamp as i64)),
        "JMSCorrelationID" => msg.correlation_id().map(|v| Value::Str(v.into())),
        "JMSType" => msg.jms_type().map(|v| Value::Str(v.into())),
        _ => {
            let text = msg.header(name)?;
            let typed = match msg.property_type(name) {
                Some(PropertyType::Bool) => Some(Value::Bool(text == "true")),
                Some(t) if t.is_integral() => text.parse().ok().map(Value::Long),
                Some(t) if t.is_floating() => text.parse().ok().map(Value::Double),
                _ => None,
            };
            Some(typed.unwrap_or_else(|| Value::Str(text.into())))
        }
    }
}

#[derive(Debug)]
pub struct State {
    pub(super) stores: HashMap<String, Queue>,
    pub(super) topics: HashMap<String, Topic>,
    pub(super) consumers: HashMap<u64, Consumer>,
    pub(super) usage: Arc<Usage>,
    pending_limit: usize,
    /// Stores whose last dispatch pass stopped at its bound with messages left to judge.
    pub(super) backlog: BTreeSet<String>,
    /// Selector judgements made by dispatch passes (for tests and the curious).
    pub(super) judged: u64,
    /// Waiting messages dispatch passes looked at (each judged by one consumer at least).
    pub(super) visited: u64,
    /// Waiting messages browses and message look-ups looked at.
    pub(super) browsed: u64,
}

impl State {
    pub fn new(usage: Arc<Usage>, pending_limit: usize) -> State {
        State {
            stores: HashMap::new(),
            topics: HashMap::new(),
            consumers: HashMap::new(),
            usage,
            pending_limit: pending_limit.max(1),
            backlog: BTreeSet::new(),
            judged: 0,
            visited: 0,
            browsed: 0,
        }
    }

    pub fn from_snapshot(snap: Snapshot, usage: Arc<Usage>, pending_limit: usize) -> State {
        let mut st = State::new(usage, pending_limit);
        for (key, topic) in snap.subs {
            st.stores.entry(key).or_default().topic = Some(topic);
        }
        for (name, msgs) in snap.stores {
            let q = st.stores.entry(name).or_default();
            for m in msgs {
                let redelivered = m.redelivery_count > 0;
                let ticket = Arc::new(st.usage.force(size_of(&m)));
                q.pending.insert(m.seq, Pending { msg: Arc::new(m), redelivered, ticket });
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
            Kind::Queue => vec![Record::Enqueue { store: queue_key(&dest.name).into_owned(), msg: msg.clone() }],
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

    /// The selectors of a topic's plain subscribers, to judge a message outside the lock.
    pub fn topic_selectors(&self, topic: &str) -> Vec<(u64, Arc<Selector>)> {
        let Some(t) = self.topics.get(topic) else { return Vec::new() };
        t.consumers.iter().filter_map(|id| Some((*id, self.consumers.get(id)?.selector.clone()?))).collect()
    }

    /// Enqueues a message held by `ticket`. `verdicts`: the topic subscribers' selectors
    /// already judged (by [`State::topic_selectors`]); any other is judged here.
    pub fn enqueue(
        &mut self,
        dest: &Destination,
        msg: Arc<StoredMessage>,
        ticket: Arc<Ticket>,
        verdicts: &HashMap<u64, Verdict>,
    ) {
        match dest.kind {
            Kind::Queue => self.enqueue_store(&queue_key(&dest.name), msg, ticket),
            Kind::Topic => {
                for store in self.durable_stores_of(&dest.name) {
                    self.enqueue_store(&store, msg.clone(), ticket.clone());
                }
                let topic = self.topics.entry(dest.name.clone()).or_default();
                topic.enqueued += 1;
                let limit = self.pending_limit;
                for id in topic.consumers.clone() {
                    let Some(c) = self.consumers.get_mut(&id) else { continue };
                    let accepted = match verdicts.get(&id) {
                        Some(v) => c.note(id, *v),
                        None => c.judge(id, &msg, crate::limits::SELECTOR_STEPS as usize).0,
                    };
                    if accepted {
                        offer(id, c, Pending { msg: msg.clone(), redelivered: false, ticket: ticket.clone() }, limit);
                    }
                }
            }
        }
    }

    fn enqueue_store(&mut self, store: &str, msg: Arc<StoredMessage>, ticket: Arc<Ticket>) {
        self.stores.entry(store.to_string()).or_default().enqueued += 1;
        self.insert_pending(store, Pending { msg, redelivered: false, ticket });
        self.dispatch(store);
    }

    /// Puts a message (back) among a store's waiting ones. A consumer that already judged
    /// the messages past it (a concurrent send may arrive out of sequence order, a consumer
    /// that goes away puts its messages back) judges this one, and only this one, again.
    fn insert_pending(&mut self, store: &str, p: Pending) {
        let q = self.stores.entry(store.to_string()).or_default();
        let seq = p.msg.seq;
        for id in &q.consumers {
            if let Some(c) = self.consumers.get_mut(id).filter(|c| c.selector.is_some() && seq <= c.scanned) {
                c.unjudged.insert(seq);
            }
        }
        q.pending.insert(seq, p);
    }

    pub fn add_consumer(
        &mut self,
        id: u64,
        conn: u64,
        sub: Subscription,
        tx: mpsc::UnboundedSender<Delivery>,
    ) -> Result<(), StateError> {
        let (store, topic) = match (sub.destination.kind, &sub.durable) {
            (Kind::Queue, _) => (Some(queue_key(&sub.destination.name).into_owned()), None),
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
            prefetch: sub.prefetch.max(1),
            selector: sub.selector,
            inflight: VecDeque::new(),
            tx,
            scanned: 0,
            unjudged: BTreeSet::new(),
            waiting: VecDeque::new(),
            discarded: 0,
            over_budget_logged: false,
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

    /// Removes a consumer; its in-flight messages go back to the head of its store (a plain
    /// topic subscriber's are dropped, with what was waiting for it).
    pub fn remove_consumer(&mut self, id: u64) {
        let Some(c) = self.consumers.remove(&id) else { return };
        if let Some(t) = c.topic.as_ref().and_then(|t| self.topics.get_mut(t)) {
            t.consumers.retain(|x| *x != id);
            if c.discarded > 0 {
                tracing::info!(
                    consumer = id,
                    "a slow topic subscriber left; {} of its messages were discarded (pendingMessageLimit {})",
                    c.discarded,
                    self.pending_limit
                );
            }
        }
        if let Some(store) = &c.store {
            if let Some(q) = self.stores.get_mut(store) {
                q.consumers.retain(|x| *x != id);
            }
            if self.stores.contains_key(store) {
                for (_, mut p) in c.inflight {
                    p.redelivered = true;
                    self.insert_pending(store, p);
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
        self.backlog.remove(key);
        self.stores.remove(key).is_some()
    }

    /// Acks `seq` (and, if `cumulative`, every earlier delivery) of a consumer; returns the
    /// dequeue records of the persistent ones.
    pub fn ack(&mut self, id: u64, seq: u64, cumulative: bool) -> Result<Vec<Record>, StateError> {
        let c = self.consumers.get_mut(&id).ok_or(StateError::NoConsumer(id))?;
        let at = c.inflight.iter().position(|(s, _)| *s == seq).ok_or(StateError::NotInflight(seq))?;
        let acked: Vec<(u64, Pending)> =
            if cumulative { c.inflight.drain(..=at).collect() } else { c.inflight.remove(at).into_iter().collect() };
        let Some(store) = c.store.clone() else {
            refill(id, c);
            return Ok(Vec::new());
        };
        if let Some(q) = self.stores.get_mut(&store) {
            q.dequeued += acked.len() as u64;
        }
        let records = acked
            .iter()
            .filter(|(_, p)| p.msg.persistent)
            .map(|(s, _)| Record::Dequeue { store: store.clone(), seq: *s })
            .collect();
        self.dispatch(&store);
        Ok(records)
    }

    /// Takes one in-flight message off a consumer (for NACK); returns it and its store.
    pub(super) fn take_inflight(&mut self, id: u64, seq: u64) -> Result<(Pending, String), StateError> {
        let c = self.consumers.get_mut(&id).ok_or(StateError::NoConsumer(id))?;
        let at = c.inflight.iter().position(|(s, _)| *s == seq).ok_or(StateError::NotInflight(seq))?;
        let (_, p) = c.inflight.remove(at).expect("found");
        let Some(store) = c.store.clone() else {
            refill(id, c);
            return Ok((p, String::new()));
        };
        if let Some(q) = self.stores.get_mut(&store) {
            q.dequeued += 1;
        }
        self.dispatch(&store);
        Ok((p, store))
    }

    /// Drops messages waiting for slow topic subscribers (the longest backlog's oldest
    /// first) while `want` more bytes would not fit in memory; at most 1,000 per call.
    pub(super) fn shed(&mut self, want: u64) {
        for _ in 0..1_000 {
            if !self.usage.full_for(want) {
                return;
            }
            let Some((&id, _)) =
                self.consumers.iter().filter(|(_, c)| !c.waiting.is_empty()).max_by_key(|(_, c)| c.waiting.len())
            else {
                return;
            };
            let c = self.consumers.get_mut(&id).expect("found");
            c.waiting.pop_front();
            discarded(id, c, "memoryLimit is reached");
        }
    }
}

/// A message for a plain topic subscriber: delivered if it has credit, else it waits, and
/// past `limit` waiting the oldest is discarded (ActiveMQ's constantPendingMessageLimitStrategy).
fn offer(id: u64, c: &mut Consumer, p: Pending, limit: usize) {
    if c.waiting.is_empty() && c.has_credit() {
        return deliver(id, c, p);
    }
    c.waiting.push_back(p);
    while c.waiting.len() > limit {
        c.waiting.pop_front();
        discarded(id, c, "its pendingMessageLimit is reached");
    }
}

fn discarded(id: u64, c: &mut Consumer, why: &str) {
    c.discarded += 1;
    if c.discarded == 1 {
        tracing::warn!(
            consumer = id,
            "a slow topic subscriber ({} messages in flight, {} waiting): its oldest waiting messages are discarded \
             because {why} (logged once per subscriber)",
            c.inflight.len(),
            c.waiting.len()
        );
    }
}

/// Hands a plain topic subscriber what waits for it, as far as its credit goes.
fn refill(id: u64, c: &mut Consumer) {
    while c.has_credit() {
        let Some(p) = c.waiting.pop_front() else { return };
        deliver(id, c, p);
    }
}

/// Sends to the consumer's connection and keeps the message in flight until it is acked
/// (in auto mode the adapter acks once it has written it out), which is what bounds what a
/// connection's channel holds: the prefetch of each of its consumers.
pub(super) fn deliver(id: u64, c: &mut Consumer, p: Pending) {
    let d = Delivery { consumer: id, msg: p.msg.clone(), redelivered: p.redelivered };
    if c.tx.send(d).is_ok() {
        c.inflight.push_back((p.msg.seq, p));
    }
}
