//! The broker core: destinations, subscriptions, acknowledgements; protocol-independent.
//!
//! It lives only on the master (a slave's store follows through replication, and a newly
//! promoted master builds its core from its store's [`Snapshot`]). Protocol adapters
//! (STOMP, OpenWire, the console's REST API) call [`Broker::send`], [`Broker::subscribe`],
//! [`Broker::ack`] and receive [`Delivery`]s on their connection's channel. It speaks only
//! the canonical message ([`crate::message`]: `StoredMessage`, [`Destination`], header
//! names, typed properties) and knows no protocol; it imports that and the store.
//!
//! * **Queues**: competing consumers, round robin among those with prefetch credit; a
//!   delivered message stays *in flight* on its consumer until acked. A consumer that goes
//!   away (unsubscribe, disconnect, a crashed client) puts its in-flight messages back at the
//!   head of the queue, marked `redelivered`.
//! * **Topics**: fan-out to every subscriber; a *durable* subscription (client id +
//!   subscription name) is a queue of its own (`sub:<clientId>:<name>`) that keeps messages
//!   while its subscriber is away. A plain subscriber's deliveries are in flight too (its
//!   credit is its prefetch; in auto mode the adapter acks each as it writes it out).
//! * **Store keys**: a queue's store is its name, unless the name could be taken for a
//!   durable subscription's key (`sub:…`, or `queue:`… then `sub:…`): then `queue:<name>`
//!   ([`queue_key`]). So `/queue/sub:alice:mine` is a queue of its own and never alice's
//!   subscription (issue 11, row 12: they shared one namespace).
//! * **Persistence**: a persistent message is written to the store (and replicated per
//!   `sync`) *before* it is enqueued, so a RECEIPT means durable. Acks are written lazily
//!   (not synced): an ack lost in a failover means a redelivery, never a loss.
//! * **Duplicates**: a persistent send carrying a producer id and sequence at or below the
//!   last one stored for that producer is dropped (the producer audit: kept in memory, taken
//!   from the store at promotion, and replicated with every stored message).
//! * **Poison**: NACK moves the message to `ActiveMQ.DLQ`.
//! * **Selectors** ([`selector`]): a queue consumer with one gets only the waiting messages
//!   it matches, in order (the others wait for another consumer); a topic subscriber only
//!   the messages it matches. Durable subscriptions take no selector.
//!
//! # What a client can make it hold, and for how long it holds the lock
//!
//! The state is one lock (`parking_lot`'s), taken on the tokio worker threads of the node's
//! runtime: a long hold stalls every client (issue 11, row 5: one client's selectors
//! stalled all sends; then, while the ZooKeeper session still shared those threads, it cost
//! the master its session; sessions now have a thread of their own,
//! `election::zookeeper::session_runtime`). So no operation holds it for more than bounded work:
//!
//! * a selector is at most `limits::MAX_SELECTOR` bytes and spends at most
//!   `limits::SELECTOR_STEPS` steps on a message (running out is no match, logged once per
//!   consumer); `LIKE` has no backtracking (`like.rs`);
//! * a dispatch pass (`dispatch.rs`) judges or hands out at most 1,024
//!   messages and spends at most 5 × `SELECTOR_STEPS`; a consumer judges a waiting message
//!   once, not on every pass, and a consumer going away or a late send does not make the
//!   others judge again what they judged; what a pass leaves is continued by a task of its
//!   own, one pass per lock;
//! * a topic's subscribers' selectors are judged before the lock is taken; a browse is a
//!   page (from a sequence on) that looks at most at 16,384 messages and spends at most
//!   100 × `SELECTOR_STEPS`; the console finds one message by its sequence and counts
//!   destinations, never messages (`admin.rs`). So none of these costs more on a queue of
//!   a million waiting messages than on a short one.
//!
//! Resources, from `cluster.toml` ([`Limits`], ActiveMQ's names):
//!
//! * **`memoryLimit`** (`systemUsage/memoryUsage`): every message held in memory — waiting,
//!   in flight, waiting for a slow topic subscriber, buffered in a transaction — counts (its
//!   body and headers plus 128 bytes, once however many hold it; see `usage.rs`). A send
//!   past the limit waits, holding no lock, and after **`sendFailIfNoSpaceAfterTimeout`** fails
//!   with ActiveMQ's "Usage Manager Memory Limit reached. Stopping producer (…) to prevent
//!   flooding queue://…" (0: fails at once). Nothing held is ever dropped to make room, except
//!   what waits for a slow plain topic subscriber.
//! * **`pendingMessageLimit`** (`constantPendingMessageLimitStrategy`): a plain (non-durable)
//!   topic subscriber gets at most its prefetch in flight; at most this many more wait for
//!   it, the oldest discarded past that, and those waiting are the first discarded when memory
//!   is full. Durable subscriptions are stored and never discarded.
//! * **`transactionLimit`**: messages (sent or acked) one transaction may hold; its sends'
//!   bytes count against memory as they are buffered ([`Transaction`]). Past either, the
//!   transaction is rolled back and the client gets the error (and again at COMMIT).
//! * **`storeLimit`** (`systemUsage/storeUsage`): a persistent write that would take the
//!   journal past it is refused with ActiveMQ's "Persistent store is Full, 100% of N.
//!   Stopping producer (…)". Acks, consumption and non-persistent sends go on.
//!
//! Caveats:
//!
//! * Unlike ActiveMQ, which pages persistent messages out to its store, mqsim holds every
//!   waiting message in memory: a persistent backlog counts against `memoryLimit` (it is what
//!   mqsim's memory holds), so a backlog larger than the limit holds producers up. A promoted
//!   master counts its store's messages without waiting and may start over the limit.
//! * The journal is not reclaimed yet: `storeLimit` is the journal's length, and once it is
//!   reached persistent sends are refused until the journal is reclaimed (a later issue);
//!   refused at once, since waiting (as ActiveMQ does) could not help.
//! * In-flight messages cannot be discarded: a plain topic subscriber with a large prefetch
//!   that never reads holds up to `memoryLimit`, and producers then wait and fail (ActiveMQ
//!   does the same). A connection's delivery channel is an unbounded type but holds only
//!   in-flight deliveries, so it is bounded by its consumers' prefetch and by `memoryLimit`.
//! * One message larger than `memoryLimit` is let through when nothing at all is held.
//! * Stores written before queue keys were split: a queue whose name had the shape of a
//!   durable key kept its messages under its plain name, which no queue reaches now (it
//!   shows in the console as a store of its own, which can be browsed and purged there).

mod admin;
mod compaction;
pub use admin::MAX_BROWSE;
mod dispatch;
mod like;
pub mod selector;
mod state;
mod transaction;
mod usage;

use parking_lot::{Mutex, MutexGuard};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use selector::Selector;

use tokio::sync::mpsc;

use crate::error::{Error, Result};
pub use crate::message::{Destination, Kind};
use crate::message::{StoredMessage, header};
use crate::store::Snapshot;
use crate::store::record::Record;
use crate::store::writer::Writer;
use state::State;
pub use state::{DestStats, StateError, queue_key};
pub use transaction::Transaction;
pub use usage::Limits;
use usage::{Ticket, Usage, size_of};

/// The dead-letter queue, as ActiveMQ names it.
pub const DLQ: &str = "ActiveMQ.DLQ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// Acked by the protocol adapter once the message is written to the client.
    Auto,
    /// Cumulative: acking a message acks every earlier one of that subscription.
    Client,
    /// One message at a time.
    ClientIndividual,
}

/// A message on its way to one subscriber.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub consumer: u64,
    pub msg: Arc<StoredMessage>,
    pub redelivered: bool,
}

/// What a subscriber asked for.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub destination: Destination,
    pub ack: AckMode,
    pub prefetch: usize,
    /// `(client id, subscription name)` for a durable topic subscription.
    pub durable: Option<(String, String)>,
    /// Only messages it matches (see [`selector`]).
    pub selector: Option<Arc<Selector>>,
}

/// A SUBSCRIBE's or ConsumerInfo's selector: none when absent or blank (as ActiveMQ takes
/// it), else parsed (see [`Selector::parse`] for `convert_strings`).
pub fn subscription_selector(text: Option<&str>, convert_strings: bool) -> Result<Option<Arc<Selector>>, String> {
    match text.filter(|s| !s.trim().is_empty()) {
        Some(text) => Selector::parse(text, convert_strings).map(|s| Some(Arc::new(s))),
        None => Ok(None),
    }
}

/// One operation inside a local transaction.
#[derive(Debug, Clone)]
pub enum TxOp {
    Send(Destination, StoredMessage),
    Ack(u64, Vec<u64>),
}

pub struct Broker {
    state: Arc<Mutex<State>>,
    writer: Writer,
    /// producer → the last sequence stored for it.
    audit: std::sync::Mutex<HashMap<String, u64>>,
    next_seq: AtomicU64,
    next_id: AtomicU64,
    limits: Limits,
    usage: Arc<Usage>,
    /// A task is continuing the dispatch backlog.
    draining: Arc<AtomicBool>,
}

impl Broker {
    /// A broker with the default [`Limits`].
    pub fn new(writer: Writer, snapshot: Snapshot) -> Broker {
        Broker::with_limits(writer, snapshot, Limits::default())
    }

    pub fn with_limits(writer: Writer, mut snapshot: Snapshot, limits: Limits) -> Broker {
        let next_seq = AtomicU64::new(snapshot.next_seq.max(1));
        let audit = std::sync::Mutex::new(std::mem::take(&mut snapshot.audit).into_iter().collect());
        let usage = Usage::new(limits.memory);
        let state = State::from_snapshot(snapshot, usage.clone(), limits.pending_messages);
        Broker {
            state: Arc::new(Mutex::new(state)),
            writer,
            audit,
            next_seq,
            next_id: AtomicU64::new(1),
            limits,
            usage,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Bytes of messages held in memory now (against `memoryLimit`).
    pub fn memory_used(&self) -> u64 {
        self.usage.used()
    }

    /// The state, locked. Every method holds it only for bounded work (see
    /// [`dispatch`]); what a pass leaves for later is continued by [`Broker::drain_backlog`]
    /// when the guard is dropped by [`Broker::with_state`].
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Runs `f` on the locked state, then continues any dispatch it left unfinished.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let (r, backlog) = {
            let mut st = self.lock();
            let r = f(&mut st);
            (r, !st.backlog.is_empty())
        };
        if backlog {
            self.drain_backlog();
        }
        r
    }

    /// Continues unfinished dispatch passes in a task of their own, one bounded pass per
    /// lock, yielding in between (inline, pass by pass, outside a runtime).
    fn drain_backlog(&self) {
        if self.draining.swap(true, Ordering::SeqCst) {
            return;
        }
        let (state, draining) = (self.state.clone(), self.draining.clone());
        let run = async move {
            loop {
                // Each pass hands the lock straight to a waiting client when it ends: an
                // unfair unlock let this loop re-take it before a woken waiter ran, and on a
                // loaded machine an unrelated producer waited seconds (issue 11, row 5).
                let more = {
                    let mut st = state.lock();
                    let more = st.continue_backlog();
                    MutexGuard::unlock_fair(st);
                    more
                };
                if !more {
                    draining.store(false, Ordering::SeqCst);
                    // A pass that stopped after the last check left its store for us.
                    let again = !lock(&state).backlog.is_empty();
                    if !again || draining.swap(true, Ordering::SeqCst) {
                        return;
                    }
                }
                tokio::task::yield_now().await;
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(run)),
            Err(_) => {
                while self.lock().continue_backlog() {}
                self.draining.store(false, Ordering::SeqCst);
            }
        }
    }

    /// A new connection or consumer id.
    pub fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Fills in the store-wide sequence of a message about to be sent.
    pub fn stamp(&self, msg: &mut StoredMessage) {
        msg.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends one message (stamped or not). Persistent sends return once durable per `sync`.
    /// Returns false if it was dropped as a duplicate. Waits (holding no lock) while the
    /// broker's memory is full, and fails after `sendFailIfNoSpaceAfterTimeout`; a persistent
    /// send fails at once while the store is past `storeLimit`.
    pub async fn send(&self, dest: &Destination, mut msg: StoredMessage) -> Result<bool> {
        if msg.seq == 0 {
            self.stamp(&mut msg);
        }
        if self.is_duplicate(&msg) {
            return Ok(false);
        }
        let size = size_of(&msg);
        let ticket = self.reserve(dest, &msg, size).await?;
        let records = self.lock().enqueue_records(dest, &msg);
        if msg.persistent && !records.is_empty() {
            self.check_store(dest, &msg, size)?;
            self.write_audited(records).await?;
        }
        self.enqueue(dest, Arc::new(msg), Arc::new(ticket));
        Ok(true)
    }

    /// Enqueues a stored (or non-persistent) message: a topic's subscribers' selectors are
    /// judged first, outside the lock.
    fn enqueue(&self, dest: &Destination, msg: Arc<StoredMessage>, ticket: Arc<Ticket>) {
        let mut verdicts = HashMap::new();
        if dest.kind == Kind::Topic {
            for (id, sel) in self.lock().topic_selectors(&dest.name) {
                let lookup = |name: &str| state::message_value(&msg, name);
                verdicts.insert(id, sel.evaluate(&lookup, crate::limits::SELECTOR_STEPS as usize).0);
            }
        }
        self.with_state(|st| st.enqueue(dest, msg, ticket, &verdicts));
    }

    /// Reserves memory for a message, waiting for space (see [`usage`]).
    async fn reserve(&self, dest: &Destination, msg: &StoredMessage, size: u64) -> Result<Ticket> {
        if let Some(t) = self.usage.try_reserve(size) {
            return Ok(t);
        }
        let wait = self.limits.send_timeout;
        match self.usage.reserve(size, wait, |want| self.lock().shed(want)).await {
            Some(t) => Ok(t),
            None => Err(StateError::MemoryFull {
                producer: producer_of(msg),
                destination: dest.qualified(),
                waited_ms: wait.as_millis(),
                used: self.usage.used(),
                limit: self.usage.limit(),
            }
            .into()),
        }
    }

    /// Refuses a persistent write of `size` bytes that would take the live data in the
    /// store (ActiveMQ's storeUsage) past `storeLimit`.
    fn check_store(&self, dest: &Destination, msg: &StoredMessage, size: u64) -> Result<()> {
        let used = self.writer.store_usage();
        if used.saturating_add(size) > self.limits.store {
            return Err(StateError::StoreFull {
                producer: producer_of(msg),
                destination: dest.qualified(),
                used,
                limit: self.limits.store,
            }
            .into());
        }
        Ok(())
    }

    fn is_duplicate(&self, msg: &StoredMessage) -> bool {
        let Some((producer, seq)) = &msg.producer else { return false };
        msg.persistent && self.audit.lock().unwrap().get(producer).is_some_and(|last| seq <= last)
    }

    /// A synced write of records that may store messages; once they are in the journal,
    /// their producers' sequences go into the audit (as the store's index will have them),
    /// so a resend that arrives while the write still waits for its sync is dropped too.
    async fn write_audited(&self, records: Vec<Record>) -> Result<u64> {
        fn producers(records: &[Record], out: &mut Vec<(String, u64)>) {
            for r in records {
                match r {
                    Record::Enqueue { msg, .. } => out.extend(msg.producer.clone()),
                    Record::Batch(inner) => producers(inner, out),
                    _ => {}
                }
            }
        }
        let mut stored = Vec::new();
        producers(&records, &mut stored);
        let pending = self.writer.append(records, true)?;
        {
            let mut audit = self.audit.lock().unwrap();
            for (producer, seq) in stored {
                let last = audit.entry(producer).or_insert(0);
                *last = (*last).max(seq);
            }
        }
        pending.durable().await
    }

    /// Registers a consumer; deliveries arrive on `tx`.
    pub async fn subscribe(&self, conn: u64, sub: Subscription, tx: mpsc::UnboundedSender<Delivery>) -> Result<u64> {
        // Refused before anything is written: a durable subscription is stored as it is made.
        if let (Some(s), Some(_)) = (&sub.selector, &sub.durable) {
            return Err(StateError::DurableSelector(s.text().to_string()).into());
        }
        let id = self.new_id();
        if let (Kind::Topic, Some((client, name))) = (sub.destination.kind, &sub.durable) {
            let key = durable_key(client, name);
            let new = self.lock().durable_topic(&key).is_none();
            if new {
                let record = Record::Subscribe { key: key.clone(), topic: sub.destination.name.clone() };
                self.writer.write(vec![record], true).await?;
            }
        }
        self.with_state(|st| st.add_consumer(id, conn, sub, tx))?;
        Ok(id)
    }

    /// Removes a consumer; its unacked messages are redelivered to others.
    pub fn unsubscribe(&self, consumer: u64) {
        self.with_state(|st| st.remove_consumer(consumer));
    }

    /// Removes a durable subscription and its messages.
    pub async fn remove_durable(&self, client: &str, name: &str) -> Result<()> {
        let key = durable_key(client, name);
        if self.with_state(|st| st.remove_durable(&key)) {
            self.writer.write(vec![Record::Unsubscribe { key }], true).await?;
        }
        Ok(())
    }

    /// Every consumer of a closed connection goes away.
    pub fn disconnect(&self, conn: u64) {
        self.with_state(|st| st.remove_connection(conn));
    }

    /// Acks messages (by seq) of one consumer; `cumulative` acks every earlier delivery too.
    pub async fn ack(&self, consumer: u64, seq: u64, cumulative: bool) -> Result<()> {
        let records = self.with_state(|st| st.ack(consumer, seq, cumulative))?;
        self.write_acks(records).await
    }

    /// Acks several messages at once (auto-ack after write).
    pub async fn ack_many(&self, consumer: u64, seqs: &[u64]) -> Result<()> {
        let records = self.ack_records(consumer, seqs);
        self.write_acks(records).await
    }

    /// Like [`Broker::ack`], but the dequeue records are queued to the store without waiting
    /// for them: acks are not synced anyway, and any later write lands after them.
    pub fn ack_nowait(&self, consumer: u64, seq: u64, cumulative: bool) -> Result<()> {
        let records = self.with_state(|st| st.ack(consumer, seq, cumulative))?;
        self.queue_acks(records)
    }

    /// Like [`Broker::ack_many`], without waiting for the store.
    pub fn ack_many_nowait(&self, consumer: u64, seqs: &[u64]) -> Result<()> {
        let records = self.ack_records(consumer, seqs);
        self.queue_acks(records)
    }

    fn ack_records(&self, consumer: u64, seqs: &[u64]) -> Vec<Record> {
        self.with_state(|st| {
            let mut records = Vec::new();
            for &seq in seqs {
                records.extend(st.ack(consumer, seq, false).unwrap_or_default());
            }
            records
        })
    }

    fn queue_acks(&self, records: Vec<Record>) -> Result<()> {
        if !records.is_empty() {
            self.writer.write_nowait(records)?;
        }
        Ok(())
    }

    async fn write_acks(&self, records: Vec<Record>) -> Result<()> {
        if !records.is_empty() {
            self.writer.write(records, false).await?;
        }
        Ok(())
    }

    /// Poison: the message goes to `ActiveMQ.DLQ` (keeping its memory ticket).
    pub async fn nack(&self, consumer: u64, seq: u64) -> Result<()> {
        let (p, store) = self.with_state(|st| st.take_inflight(consumer, seq))?;
        let msg = p.msg;
        let mut dead = (*msg).clone();
        dead.set_header(header::ORIGINAL_DESTINATION, msg.destination.clone());
        let dlq = Destination::queue(DLQ);
        dead.destination = dlq.to_string();
        dead.producer = None;
        self.stamp(&mut dead);
        if msg.persistent {
            let mut batch = vec![Record::Enqueue { store: queue_key(DLQ).into_owned(), msg: dead.clone() }];
            // A plain topic subscriber's message was never stored for it (no store to dequeue).
            if !store.is_empty() {
                batch.insert(0, Record::Dequeue { store, seq });
            }
            self.writer.write(vec![Record::Batch(batch)], true).await?;
        }
        self.enqueue(&dlq, Arc::new(dead), p.ticket);
        Ok(())
    }

    /// Commits a local transaction (or a composite send's batch, `Vec<TxOp>`): one journal
    /// record for all its persistent sends and acks. A transaction that was rolled back
    /// (see [`Transaction`]) fails here too.
    pub async fn commit(&self, tx: impl Into<Transaction>) -> Result<()> {
        let (ops, held, rolled_back) = tx.into().into_parts();
        if let Some(why) = rolled_back {
            return Err(StateError::RolledBack(why).into());
        }
        let mut records = Vec::new();
        let mut sends = Vec::new();
        let mut acks = Vec::new();
        for op in ops {
            match op {
                TxOp::Send(dest, mut msg) => {
                    if msg.seq == 0 {
                        self.stamp(&mut msg);
                    }
                    if self.is_duplicate(&msg) {
                        continue;
                    }
                    sends.push((dest, msg));
                }
                TxOp::Ack(consumer, seqs) => acks.push((consumer, seqs)),
            }
        }
        // The sends' memory: what the transaction held, and the rest reserved now.
        let sizes: Vec<u64> = sends.iter().map(|(_, m)| size_of(m)).collect();
        let need: u64 = sizes.iter().sum();
        let mut pool = held;
        let have = pool.as_ref().map_or(0, Ticket::bytes);
        if let Some((dest, msg)) = sends.first().filter(|_| need > have) {
            let more = self.reserve(dest, msg, need - have).await?;
            match &mut pool {
                Some(p) => p.merge(more),
                None => pool = Some(more),
            }
        }
        let mut stored = 0;
        for (dest, msg) in &sends {
            if msg.persistent {
                let mine = self.lock().enqueue_records(dest, msg);
                if !mine.is_empty() {
                    stored += size_of(msg);
                    records.extend(mine);
                }
            }
        }
        if let Some((dest, msg)) = sends.iter().find(|(_, m)| m.persistent).filter(|_| stored > 0) {
            self.check_store(dest, msg, stored)?;
        }
        self.with_state(|st| {
            for (consumer, seqs) in &acks {
                for seq in seqs {
                    records.extend(st.ack(*consumer, *seq, false).unwrap_or_default());
                }
            }
        });
        if !records.is_empty() {
            self.write_audited(vec![Record::Batch(records)]).await?;
        }
        for ((dest, msg), size) in sends.into_iter().zip(sizes) {
            let ticket = match &mut pool {
                Some(p) => p.split(size),
                None => self.usage.force(0),
            };
            self.enqueue(&dest, Arc::new(msg), Arc::new(ticket));
        }
        Ok(())
    }

    /// Queue and topic counters for the console and status.
    pub fn stats(&self) -> Vec<DestStats> {
        self.lock().stats()
    }
}

/// The state, locked. A `parking_lot` lock: it is not poisoned by a panic elsewhere, and
/// it is eventually fair (a waiter of more than half a millisecond is handed the lock).
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock()
}

/// The producer an error names: its id, as ActiveMQ's do (a STOMP or REST send has none).
fn producer_of(msg: &StoredMessage) -> String {
    msg.producer.as_ref().map_or_else(|| "a producer with no id".to_string(), |(id, _)| id.clone())
}

pub fn durable_key(client: &str, name: &str) -> String {
    format!("sub:{client}:{name}")
}

impl From<StateError> for Error {
    /// A client's mistake is [`Error::InvalidInput`]; a full memory or store is kept apart
    /// ([`Error::Other`], a 503 on the console, a `JMSException` on OpenWire), as ActiveMQ's
    /// producer flow control answers it.
    fn from(e: StateError) -> Error {
        match e {
            StateError::MemoryFull { .. } | StateError::StoreFull { .. } => Error::Other(e.to_string()),
            StateError::NoConsumer(_)
            | StateError::NotInflight(_)
            | StateError::DurableNeedsClientId
            | StateError::DurableSelector(_)
            | StateError::TransactionLimit { .. }
            | StateError::RolledBack(_) => Error::InvalidInput(e.to_string()),
        }
    }
}

#[cfg(test)]
mod deep_tests;
#[cfg(test)]
mod resource_tests;
#[cfg(test)]
mod tests;
