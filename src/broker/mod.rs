//! The broker core: destinations, subscriptions, acknowledgements; protocol-independent.
//!
//! It lives only on the master (a slave's store follows through replication, and a newly
//! promoted master builds its core from its store's [`Snapshot`]). Protocol adapters
//! (STOMP now, OpenWire later) call [`Broker::send`], [`Broker::subscribe`], [`Broker::ack`]
//! and receive [`Delivery`]s on their connection's channel.
//!
//! * **Queues**: competing consumers, round robin among those with prefetch credit; a
//!   delivered message stays *in flight* on its consumer until acked. A consumer that goes
//!   away (unsubscribe, disconnect, a crashed client) puts its in-flight messages back at the
//!   head of the queue, marked `redelivered`.
//! * **Topics**: fan-out to every subscriber; a *durable* subscription (client id +
//!   subscription name) is a queue of its own (`sub:<clientId>:<name>`) that keeps messages
//!   while its subscriber is away.
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

mod admin;
pub use admin::MAX_BROWSE;
mod like;
mod openwire_support;
pub mod selector;
mod state;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use selector::Selector;

use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::store::Snapshot;
use crate::store::record::{Record, StoredMessage};
use crate::store::writer::Writer;
pub use state::{DestStats, Destination, Kind};
use state::{State, StateError};

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
    state: Mutex<State>,
    writer: Writer,
    /// producer → the last sequence stored for it.
    audit: Mutex<HashMap<String, u64>>,
    next_seq: AtomicU64,
    next_id: AtomicU64,
}

impl Broker {
    pub fn new(writer: Writer, mut snapshot: Snapshot) -> Broker {
        let next_seq = AtomicU64::new(snapshot.next_seq.max(1));
        let audit = Mutex::new(std::mem::take(&mut snapshot.audit).into_iter().collect());
        Broker {
            state: Mutex::new(State::from_snapshot(snapshot)),
            writer,
            audit,
            next_seq,
            next_id: AtomicU64::new(1),
        }
    }

    /// False once this node may no longer act as master (its lease lapsed, or it is
    /// stepping down). Protocol adapters then drop the client instead of answering with an
    /// error, as ActiveMQ's broker restart did, so failover clients reconnect and resend.
    pub fn is_master(&self) -> bool {
        self.writer.lease_valid()
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
    /// Returns false if it was dropped as a duplicate.
    pub async fn send(&self, dest: &Destination, mut msg: StoredMessage) -> Result<bool> {
        if msg.seq == 0 {
            self.stamp(&mut msg);
        }
        if self.is_duplicate(&msg) {
            return Ok(false);
        }
        let records = self.state.lock().unwrap().enqueue_records(dest, &msg);
        if msg.persistent && !records.is_empty() {
            self.write_audited(records).await?;
        }
        let mut st = self.state.lock().unwrap();
        st.enqueue(dest, Arc::new(msg));
        Ok(true)
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
            let new = self.state.lock().unwrap().durable_topic(&key).is_none();
            if new {
                let record = Record::Subscribe { key: key.clone(), topic: sub.destination.name.clone() };
                self.writer.write(vec![record], true).await?;
            }
        }
        self.state.lock().unwrap().add_consumer(id, conn, sub, tx)?;
        Ok(id)
    }

    /// Removes a consumer; its unacked messages are redelivered to others.
    pub fn unsubscribe(&self, consumer: u64) {
        self.state.lock().unwrap().remove_consumer(consumer);
    }

    /// Removes a durable subscription and its messages.
    pub async fn remove_durable(&self, client: &str, name: &str) -> Result<()> {
        let key = durable_key(client, name);
        if self.state.lock().unwrap().remove_durable(&key) {
            self.writer.write(vec![Record::Unsubscribe { key }], true).await?;
        }
        Ok(())
    }

    /// Every consumer of a closed connection goes away.
    pub fn disconnect(&self, conn: u64) {
        self.state.lock().unwrap().remove_connection(conn);
    }

    /// Acks messages (by seq) of one consumer; `cumulative` acks every earlier delivery too.
    pub async fn ack(&self, consumer: u64, seq: u64, cumulative: bool) -> Result<()> {
        let records = self.state.lock().unwrap().ack(consumer, seq, cumulative)?;
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
        let records = self.state.lock().unwrap().ack(consumer, seq, cumulative)?;
        self.queue_acks(records)
    }

    /// Like [`Broker::ack_many`], without waiting for the store.
    pub fn ack_many_nowait(&self, consumer: u64, seqs: &[u64]) -> Result<()> {
        let records = self.ack_records(consumer, seqs);
        self.queue_acks(records)
    }

    fn ack_records(&self, consumer: u64, seqs: &[u64]) -> Vec<Record> {
        let mut records = Vec::new();
        let mut st = self.state.lock().unwrap();
        for &seq in seqs {
            records.extend(st.ack(consumer, seq, false).unwrap_or_default());
        }
        records
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

    /// Poison: the message goes to `ActiveMQ.DLQ`.
    pub async fn nack(&self, consumer: u64, seq: u64) -> Result<()> {
        let (msg, store) = self.state.lock().unwrap().take_inflight(consumer, seq)?;
        let mut dead = (*msg).clone();
        dead.headers.retain(|(k, _)| k != "original-destination");
        dead.headers.push(("original-destination".into(), msg.destination.clone()));
        dead.destination = format!("/queue/{DLQ}");
        dead.producer = None;
        self.stamp(&mut dead);
        let dlq = Destination::queue(DLQ);
        if msg.persistent {
            let batch = Record::Batch(vec![
                Record::Dequeue { store, seq },
                Record::Enqueue { store: DLQ.to_string(), msg: dead.clone() },
            ]);
            self.writer.write(vec![batch], true).await?;
        }
        self.state.lock().unwrap().enqueue(&dlq, Arc::new(dead));
        Ok(())
    }

    /// Commits a local transaction: one journal record for all its persistent sends and acks.
    pub async fn commit(&self, ops: Vec<TxOp>) -> Result<()> {
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
                    if msg.persistent {
                        records.extend(self.state.lock().unwrap().enqueue_records(&dest, &msg));
                    }
                    sends.push((dest, msg));
                }
                TxOp::Ack(consumer, seqs) => acks.push((consumer, seqs)),
            }
        }
        {
            let mut st = self.state.lock().unwrap();
            for (consumer, seqs) in &acks {
                for seq in seqs {
                    records.extend(st.ack(*consumer, *seq, false).unwrap_or_default());
                }
            }
        }
        if !records.is_empty() {
            self.write_audited(vec![Record::Batch(records)]).await?;
        }
        let mut st = self.state.lock().unwrap();
        for (dest, msg) in sends {
            st.enqueue(&dest, Arc::new(msg));
        }
        Ok(())
    }

    /// Queue and topic counters for the console and status.
    pub fn stats(&self) -> Vec<DestStats> {
        self.state.lock().unwrap().stats()
    }
}

pub fn durable_key(client: &str, name: &str) -> String {
    format!("sub:{client}:{name}")
}

impl From<StateError> for Error {
    fn from(e: StateError) -> Error {
        Error::Other(e.to_string())
    }
}

#[cfg(test)]
mod tests;
