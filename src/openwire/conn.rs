//! One OpenWire connection's state and how each client command maps onto the broker core.
//! [`super::server`] owns the socket and calls [`Conn::handle`] per command and
//! [`Conn::dispatch`] per delivery; everything to write goes to [`Conn::out`].
//! Each command first passes [`super::checks`] (names within limits, credentials).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::debug;

use super::advisory::{self, Advisories};
use super::checks;
use super::command::*;
use super::convert::{self, split_composite, to_core};
use super::marshal;
use crate::broker::{AckMode, Broker, Delivery, Selector, Subscription, Transaction, TxOp, subscription_selector};
use crate::config::User;
use crate::error::Error;
use crate::limits;

/// The largest prefetch taken (ActiveMQ's `MAX_PREFETCH_SIZE`, `Short.MAX_VALUE`).
const MAX_PREFETCH: i32 = i16::MAX as i32;

/// What a handler answers a `responseRequired` command with.
/// An error becomes the ExceptionResponse in one place ([`Error::openwire_exception`]).
type Reply = Result<Option<Body>, Error>;

fn jms_error(message: impl Into<String>) -> Error {
    Error::refused(crate::error::JMS_EXCEPTION, message)
}

struct Consumer {
    info: ConsumerInfo,
    parts: Vec<Destination>,
    /// Only messages it matches (JMS typing: no string-to-number reading as for STOMP).
    selector: Option<Arc<Selector>>,
    /// Core consumer ids, one per part; empty until subscribed (prefetch 0 waits for a
    /// ConsumerControl or a MessagePull).
    core: Vec<u64>,
    /// A temp-destination advisory consumer: fed by [`Advisories`], not by the core.
    advisory: bool,
    /// Dispatched and not yet acked (core id, seq), in dispatch order.
    dispatched: VecDeque<(u64, u64)>,
}

pub struct Conn {
    pub core_id: u64,
    broker: Arc<Broker>,
    advisories: Arc<Advisories>,
    pub connection_id: Option<String>,
    client_id: String,
    sessions: HashSet<SessionId>,
    producers: HashSet<ProducerId>,
    consumers: HashMap<ConsumerId, Consumer>,
    by_core: HashMap<u64, ConsumerId>,
    txs: HashMap<TransactionId, Transaction>,
    temps: Vec<Destination>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    advisory_tx: mpsc::UnboundedSender<DestinationInfo>,
    watching: bool,
    /// Pending MessagePulls: consumer → deadline (`None`: wait as long as it takes).
    pub pulls: HashMap<ConsumerId, Option<Instant>>,
    /// Encoded frames waiting to be written.
    pub out: Vec<u8>,
    next_id: i32,
    /// Names and credentials every command passes first.
    gate: checks::Gate,
    /// The most a message body may inflate to (`maxFrameSize`).
    max_body: usize,
}

/// Whether the connection goes on after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

impl Conn {
    pub fn new(
        broker: Arc<Broker>,
        advisories: Arc<Advisories>,
        deliveries: mpsc::UnboundedSender<Delivery>,
        advisory_tx: mpsc::UnboundedSender<DestinationInfo>,
    ) -> Conn {
        Conn {
            core_id: broker.new_id(),
            broker,
            advisories,
            connection_id: None,
            client_id: String::new(),
            sessions: HashSet::new(),
            producers: HashSet::new(),
            consumers: HashMap::new(),
            by_core: HashMap::new(),
            txs: HashMap::new(),
            temps: Vec::new(),
            deliveries,
            advisory_tx,
            watching: false,
            pulls: HashMap::new(),
            out: Vec::new(),
            next_id: 0,
            gate: checks::Gate::default(),
            max_body: crate::limits::MAX_FRAME_SIZE,
        }
    }

    /// Credentials to require (none if empty) and the frame size, from the connector.
    pub fn set_limits(&mut self, users: Vec<User>, max_frame_size: usize) {
        self.gate = checks::Gate::new(users);
        self.max_body = max_frame_size;
    }

    /// Queues a command for writing, with the next broker-side command id.
    pub fn send(&mut self, body: Body) {
        self.next_id = self.next_id.wrapping_add(1);
        marshal::encode(&Command { id: self.next_id, response_required: false, body }, &mut self.out);
    }

    /// Handles one client command and answers it if it asked for a response.
    pub async fn handle(&mut self, cmd: Command) -> Flow {
        let (id, rr) = (cmd.id, cmd.response_required);
        let name = cmd.body.name();
        let mut flow = Flow::Continue;
        if let Err((e, close)) = self.gate.admit(&cmd.body) {
            debug!("OpenWire {name} refused: {:?}", e.message);
            if rr {
                self.send(Body::ExceptionResponse { correlation_id: id, exception: Some(e) });
            } else {
                // The Java client hands this to the connection's exception listener.
                let connection_id = self.connection_id.clone();
                self.send(Body::ConnectionError(ConnectionError { exception: Some(e), connection_id }));
            }
            return if close { Flow::Close } else { Flow::Continue };
        }
        let reply: Reply = match cmd.body {
            Body::WireFormatInfo(_) => return Flow::Continue,
            Body::KeepAliveInfo => {
                if rr {
                    self.send(Body::KeepAliveInfo);
                }
                return Flow::Continue;
            }
            Body::ConnectionInfo(info) => self.connection_info(*info),
            Body::SessionInfo(Some(s)) => {
                self.sessions.insert(s);
                Ok(None)
            }
            Body::ProducerInfo(info) => {
                if let Some(p) = info.producer_id {
                    self.producers.insert(p);
                }
                Ok(None)
            }
            Body::ConsumerInfo(info) => self.consumer_info(*info).await,
            Body::RemoveInfo(r) => self.remove(r.object_id).await,
            Body::ShutdownInfo => {
                flow = Flow::Close;
                Ok(None)
            }
            Body::ConsumerControl(c) => self.consumer_control(c).await,
            Body::MessagePull(p) => self.pull(p).await,
            Body::Message(m) => self.message(*m).await,
            Body::MessageAck(a) => self.ack(*a).await,
            Body::TransactionInfo(t) => self.transaction(t).await,
            Body::DestinationInfo(d) => self.destination_info(*d),
            Body::RemoveSubscriptionInfo(r) => {
                let client = r.client_id.unwrap_or_else(|| self.client_id.clone());
                let name = r.subscription_name.unwrap_or_default();
                self.broker.remove_durable(&client, &name).await.map(|_| None)
            }
            // Nothing to do: ConnectionControl (faultTolerant on reconnect), FlushCommand,
            // ControlCommand, ProducerAck, ConnectionError, a BrokerInfo, responses.
            _ => Ok(None),
        };
        match reply {
            Ok(_) | Err(_) if !rr => {
                if let Err(e) = reply {
                    debug!("OpenWire {name} (no response wanted) failed: {:?}", e.to_string());
                }
            }
            Ok(None) => self.send(Body::Response { correlation_id: id }),
            Ok(Some(mut body)) => {
                match &mut body {
                    Body::IntegerResponse { correlation_id, .. } | Body::DataArrayResponse { correlation_id, .. } => {
                        *correlation_id = id
                    }
                    _ => {}
                }
                self.send(body);
            }
            // No longer master: drop the client without an answer, so the failover transport
            // reconnects and resends (an ExceptionResponse would surface as a JMSException).
            Err(e) => match e.openwire_exception() {
                None => return Flow::Close,
                Some(exception) => {
                    debug!("OpenWire {name} failed: {:?}", exception.message);
                    self.send(Body::ExceptionResponse { correlation_id: id, exception: Some(exception) });
                }
            },
        }
        flow
    }

    fn connection_info(&mut self, info: ConnectionInfo) -> Reply {
        self.connection_id = info.connection_id.clone();
        self.client_id = info.client_id.clone().unwrap_or_default();
        if info.manageable {
            // As ActiveMQ's TransportConnection does; never a non-empty connectedBrokers,
            // which would replace the client's failover list.
            self.send(Body::ConnectionControl(ConnectionControl::default()));
        }
        Ok(None)
    }

    async fn consumer_info(&mut self, info: ConsumerInfo) -> Reply {
        let id = info.consumer_id.clone().ok_or_else(|| jms_error("ConsumerInfo without a consumerId"))?;
        let dest = info.destination.clone().ok_or_else(|| jms_error("ConsumerInfo without a destination"))?;
        if !self.consumers.contains_key(&id) && self.consumers.len() >= limits::MAX_CONSUMERS_PER_CONNECTION {
            return Err(jms_error(format!(
                "this connection already has {} consumers, the most one connection may hold \
                 (maximumConsumersAllowedPerConnection)",
                limits::MAX_CONSUMERS_PER_CONNECTION
            )));
        }
        let parts = split_composite(&dest);
        if parts.iter().all(|d| d.kind == DestKind::Topic && d.name.starts_with(advisory::PREFIX)) {
            let wants = advisory::wants_temp_advisories(&parts);
            self.consumers.insert(
                id.clone(),
                Consumer { info, parts, selector: None, core: Vec::new(), advisory: true, dispatched: VecDeque::new() },
            );
            if wants {
                let live = if self.watching {
                    Vec::new()
                } else {
                    self.watching = true;
                    self.advisories.watch(self.core_id, self.advisory_tx.clone())
                };
                for i in live {
                    self.advisory_to(&id, i);
                }
            }
            return Ok(None);
        }
        let selector = subscription_selector(info.selector.as_deref(), false)
            .map_err(|e| Error::refused("javax.jms.InvalidSelectorException", e))?;
        if self.consumers.contains_key(&id) {
            self.remove_consumer(&id);
        }
        if info.browser {
            return self.browse(id, info, parts, selector);
        }
        let prefetch = info.prefetch_size.min(MAX_PREFETCH);
        self.consumers.insert(
            id.clone(),
            Consumer { info, parts, selector, core: Vec::new(), advisory: false, dispatched: VecDeque::new() },
        );
        if prefetch > 0 {
            self.subscribe(&id, prefetch as usize).await?;
        }
        Ok(None)
    }

    /// A queue browser (`QueueSession.createBrowser`), as ActiveMQ's QueueBrowserSubscription
    /// has it: a copy of each message waiting in the queue (up to 400, ActiveMQ's default
    /// `maxBrowsePageSize`), then a MessageDispatch with no message ("browse done"). The
    /// queue keeps its messages; the client's acks of the copies name nothing dispatched and
    /// are ignored.
    fn browse(
        &mut self,
        id: ConsumerId,
        info: ConsumerInfo,
        parts: Vec<Destination>,
        selector: Option<Arc<Selector>>,
    ) -> Reply {
        if let Some(topic) = parts.iter().find(|p| p.kind.is_topic()) {
            return Err(jms_error(format!("a queue browser needs a queue, and {} is a topic", topic.name)));
        }
        let destination = info.destination.clone();
        let now = crate::events::now_ms();
        for part in &parts {
            for (msg, redelivered) in
                self.broker.browse(&to_core(part).name, crate::broker::MAX_BROWSE, selector.as_deref())
            {
                let msg = convert::to_openwire(&msg, part, redelivered, now);
                self.send(Body::MessageDispatch(Box::new(MessageDispatch {
                    consumer_id: Some(id.clone()),
                    destination: destination.clone(),
                    redelivery_counter: msg.redelivery_counter,
                    message: Some(Box::new(Command::new(Body::Message(Box::new(msg))))),
                })));
            }
        }
        self.send(Body::MessageDispatch(Box::new(MessageDispatch {
            consumer_id: Some(id.clone()),
            destination,
            message: None,
            redelivery_counter: 0,
        })));
        self.consumers.insert(
            id,
            Consumer { info, parts, selector, core: Vec::new(), advisory: false, dispatched: VecDeque::new() },
        );
        Ok(None)
    }

    /// Registers the consumer's parts with the core (never a browser's: it only gets copies).
    async fn subscribe(&mut self, id: &ConsumerId, prefetch: usize) -> Result<(), Error> {
        let Some(c) = self.consumers.get(id) else { return Ok(()) };
        if !c.core.is_empty() || c.advisory || c.info.browser {
            return Ok(());
        }
        let durable_name = c.info.subscription_name.clone();
        let client = c.info.client_id.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| self.client_id.clone());
        let mut core = Vec::new();
        for part in c.parts.clone() {
            let durable = durable_name.clone().filter(|_| part.kind.is_topic()).map(|n| (client.clone(), n));
            let ack = if part.kind.is_topic() && durable.is_none() { AckMode::Auto } else { AckMode::Client };
            let selector = c.selector.clone();
            let sub = Subscription { destination: to_core(&part), ack, prefetch: prefetch.max(1), durable, selector };
            match self.broker.subscribe(self.core_id, sub, self.deliveries.clone()).await {
                Ok(cid) => {
                    self.by_core.insert(cid, id.clone());
                    core.push(cid);
                }
                Err(e) => {
                    for cid in core {
                        self.by_core.remove(&cid);
                        self.broker.unsubscribe(cid);
                    }
                    return Err(e);
                }
            }
        }
        if let Some(c) = self.consumers.get_mut(id) {
            c.core = core;
        }
        Ok(())
    }

    fn remove_consumer(&mut self, id: &ConsumerId) {
        if let Some(c) = self.consumers.remove(id) {
            for cid in c.core {
                self.by_core.remove(&cid);
                self.broker.unsubscribe(cid);
            }
        }
        self.pulls.remove(id);
    }

    async fn remove(&mut self, object: Option<Data>) -> Reply {
        match object {
            Some(Data::ConsumerId(id)) => self.remove_consumer(&id),
            Some(Data::ProducerId(id)) => {
                self.producers.remove(&id);
            }
            Some(Data::SessionId(s)) => {
                let ids: Vec<ConsumerId> = self
                    .consumers
                    .keys()
                    .filter(|c| c.connection == s.connection && c.session == s.value)
                    .cloned()
                    .collect();
                for id in ids {
                    self.remove_consumer(&id);
                }
                self.producers.retain(|p| !(p.connection == s.connection && p.session == s.value));
                self.sessions.remove(&s);
            }
            Some(Data::ConnectionId(_)) => self.close_all(),
            _ => {}
        }
        Ok(None)
    }

    /// Everything of this connection goes: consumers (their unacked messages return to
    /// their queues), open transactions, temporary destinations.
    pub fn close_all(&mut self) {
        let ids: Vec<ConsumerId> = self.consumers.keys().cloned().collect();
        for id in ids {
            self.remove_consumer(&id);
        }
        self.broker.disconnect(self.core_id);
        self.sessions.clear();
        self.producers.clear();
        self.txs.clear();
        if self.watching {
            self.advisories.unwatch(self.core_id);
            self.watching = false;
        }
        for d in self.advisories.remove_owner(self.core_id) {
            if !d.kind.is_topic() {
                self.broker.remove_temp_queue(&d.name);
            }
        }
        self.temps.clear();
    }

    async fn consumer_control(&mut self, c: ConsumerControl) -> Reply {
        let Some(id) = c.consumer_id else { return Ok(None) };
        if c.close {
            self.remove_consumer(&id);
        } else if c.prefetch > 0 {
            // The failover restore: consumers come back with prefetch 0, then this.
            self.subscribe(&id, c.prefetch.min(MAX_PREFETCH) as usize).await?;
        }
        Ok(None)
    }

    async fn pull(&mut self, p: MessagePull) -> Reply {
        let Some(id) = p.consumer_id else { return Ok(None) };
        if !self.consumers.contains_key(&id) {
            return Ok(None);
        }
        self.subscribe(&id, 1).await?;
        self.pulls.insert(id, pull_deadline(Instant::now(), p.timeout));
        Ok(None)
    }

    /// Answers expired pulls with an empty MessageDispatch (the client's "no message").
    pub fn expire_pulls(&mut self, now: Instant) {
        let expired: Vec<ConsumerId> =
            self.pulls.iter().filter(|(_, d)| d.is_some_and(|d| d <= now)).map(|(id, _)| id.clone()).collect();
        for id in expired {
            self.pulls.remove(&id);
            let destination = self.consumers.get(&id).and_then(|c| c.info.destination.clone());
            self.send(Body::MessageDispatch(Box::new(MessageDispatch {
                consumer_id: Some(id),
                destination,
                message: None,
                redelivery_counter: 0,
            })));
        }
    }

    pub fn next_pull_deadline(&self) -> Option<Instant> {
        self.pulls.values().flatten().min().copied()
    }

    async fn message(&mut self, m: Message) -> Reply {
        let dest = m.destination.clone().ok_or_else(|| jms_error("a message without a destination"))?;
        let now = crate::events::now_ms();
        let mut ops = Vec::new();
        for part in split_composite(&dest) {
            let mut stored = convert::to_stored_within(&m, &part, now, self.max_body).map_err(jms_error)?;
            if part.kind.is_temp() {
                stored.persistent = false;
            }
            ops.push(TxOp::Send(to_core(&part), stored));
        }
        if let Some(tx) = &m.transaction_id {
            let ops_of = self.txs.get_mut(tx).ok_or_else(|| not_started(tx))?;
            self.broker.transact(ops_of, ops).await?;
            return Ok(None);
        }
        let result = if ops.len() == 1 {
            let Some(TxOp::Send(d, s)) = ops.pop() else { unreachable!() };
            self.broker.send(&d, s).await.map(|_| ())
        } else {
            self.broker.commit(ops).await
        };
        result.map(|_| None)
    }

    /// A delivery from the core becomes a MessageDispatch.
    pub fn dispatch(&mut self, d: Delivery) {
        let Some(id) = self.by_core.get(&d.consumer).cloned() else { return };
        let Some(c) = self.consumers.get_mut(&id) else { return };
        let fallback = c.parts.first().cloned().unwrap_or(Destination { kind: DestKind::Queue, name: String::new() });
        let now = crate::events::now_ms();
        if c.info.no_local
            && let (Some((producer, _)), Some(me)) = (&d.msg.producer, &self.connection_id)
            && ProducerId::parse(producer).is_some_and(|p| &p.connection == me)
        {
            let broker = self.broker.clone();
            let (core, seq) = (d.consumer, d.msg.seq);
            tokio::spawn(async move { broker.ack(core, seq, false).await });
            return;
        }
        let msg = convert::to_openwire(&d.msg, &fallback, d.redelivered, now);
        c.dispatched.push_back((d.consumer, d.msg.seq));
        let redelivery_counter = msg.redelivery_counter;
        let destination = c.info.destination.clone();
        self.pulls.remove(&id);
        self.send(Body::MessageDispatch(Box::new(MessageDispatch {
            consumer_id: Some(id),
            destination,
            message: Some(Box::new(Command::new(Body::Message(Box::new(msg))))),
            redelivery_counter,
        })));
    }

    fn advisory_to(&mut self, id: &ConsumerId, i: DestinationInfo) {
        let Some(c) = self.consumers.get(id) else { return };
        let destination = c.info.destination.clone();
        let msg = self.advisories.message(i, crate::events::now_ms());
        self.send(Body::MessageDispatch(Box::new(MessageDispatch {
            consumer_id: Some(id.clone()),
            destination,
            message: Some(Box::new(Command::new(Body::Message(Box::new(msg))))),
            redelivery_counter: 0,
        })));
    }

    /// An advisory from [`Advisories`] goes to every temp-advisory consumer here.
    pub fn advisory(&mut self, i: DestinationInfo) {
        let ids: Vec<ConsumerId> = self
            .consumers
            .iter()
            .filter(|(_, c)| c.advisory && advisory::wants_temp_advisories(&c.parts))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.advisory_to(&id, i.clone());
        }
    }

    async fn ack(&mut self, a: MessageAck) -> Reply {
        let Some(id) = &a.consumer_id else { return Ok(None) };
        let Some(last) = a.last_message_id.as_ref().map(|m| m.broker_seq as u64) else { return Ok(None) };
        let Some(c) = self.consumers.get_mut(id) else { return Ok(None) };
        let Some(at) = c.dispatched.iter().position(|(_, s)| *s == last) else { return Ok(None) };
        let first = a.first_message_id.as_ref().map(|m| m.broker_seq as u64);
        let range: Vec<(u64, u64)> = match a.ack_type {
            ack::DELIVERED | ack::REDELIVERED => return Ok(None),
            ack::STANDARD => c.dispatched.range(..=at).copied().collect(),
            ack::POISON => {
                let from = first.and_then(|f| c.dispatched.iter().position(|(_, s)| *s == f)).unwrap_or(at).min(at);
                c.dispatched.range(from..=at).copied().collect()
            }
            _ => vec![c.dispatched[at]],
        };
        if let Some(tx) = &a.transaction_id
            && a.ack_type != ack::POISON
        {
            // Removed from `dispatched` at commit: a rollback keeps them ackable.
            let ops = self.txs.get_mut(tx).ok_or_else(|| not_started(tx))?;
            let mut by_core: Vec<(u64, Vec<u64>)> = Vec::new();
            for (core, seq) in range {
                match by_core.iter_mut().find(|(c, _)| *c == core) {
                    Some((_, v)) => v.push(seq),
                    None => by_core.push((core, vec![seq])),
                }
            }
            let acks = by_core.into_iter().map(|(core, seqs)| TxOp::Ack(core, seqs));
            self.broker.transact(ops, acks).await?;
            return Ok(None);
        }
        c.dispatched.retain(|e| !range.contains(e));
        if a.ack_type == ack::POISON {
            for (core, seq) in range {
                // Not in flight any more (e.g. a topic subscriber): nothing to move.
                let _ = self.broker.nack(core, seq).await;
            }
            return Ok(None);
        }
        // Per core consumer, one cumulative ack up to its last message in the range.
        let mut lasts: Vec<(u64, u64)> = Vec::new();
        for (core, seq) in &range {
            match lasts.iter_mut().find(|(c, _)| c == core) {
                Some(e) => e.1 = *seq,
                None => lasts.push((*core, *seq)),
            }
        }
        let cumulative = a.ack_type == ack::STANDARD;
        for (core, seq) in lasts {
            // A topic subscriber's messages are not tracked by the core: an error is fine.
            let _ = self.broker.ack(core, seq, cumulative).await;
        }
        Ok(None)
    }

    async fn transaction(&mut self, t: TransactionInfo) -> Reply {
        let Some(tx) = t.transaction_id else { return Err(jms_error("TransactionInfo without a transactionId")) };
        match t.kind {
            tx::BEGIN => {
                if !self.txs.contains_key(&tx) && self.txs.len() >= limits::MAX_TRANSACTIONS_PER_CONNECTION {
                    return Err(jms_error(format!(
                        "this connection already has {} open transactions, the most one connection may hold",
                        limits::MAX_TRANSACTIONS_PER_CONNECTION
                    )));
                }
                self.txs.entry(tx).or_default();
                Ok(None)
            }
            tx::PREPARE => {
                let empty = self.txs.get(&tx).is_none_or(|t| t.is_empty());
                if empty {
                    self.txs.remove(&tx);
                }
                // XA_RDONLY (3) when there is nothing to commit, else XA_OK (0).
                Ok(Some(Body::IntegerResponse { correlation_id: 0, result: if empty { 3 } else { 0 } }))
            }
            tx::COMMIT_ONE_PHASE | tx::COMMIT_TWO_PHASE => {
                let ops = match self.txs.remove(&tx) {
                    Some(ops) => ops,
                    None if t.kind == tx::COMMIT_TWO_PHASE => return Ok(None),
                    None => return Err(not_started(&tx)),
                };
                for op in &ops {
                    if let TxOp::Ack(core, seqs) = op
                        && let Some(c) = self.by_core.get(core).and_then(|id| self.consumers.get_mut(id))
                    {
                        c.dispatched.retain(|(cc, s)| !(cc == core && seqs.contains(s)));
                    }
                }
                self.broker.commit(ops).await.map(|_| None)
            }
            tx::ROLLBACK => {
                self.txs.remove(&tx);
                Ok(None)
            }
            tx::RECOVER => Ok(Some(Body::DataArrayResponse { correlation_id: 0, data: Some(Vec::new()) })),
            _ => Ok(None), // END, FORGET
        }
    }

    fn destination_info(&mut self, d: DestinationInfo) -> Reply {
        let Some(dest) = d.destination else { return Ok(None) };
        if !dest.kind.is_temp() {
            return Ok(None); // creating or deleting a regular destination: nothing to do
        }
        if d.operation == 0 {
            let connection = d.connection_id.or_else(|| self.connection_id.clone()).unwrap_or_default();
            self.advisories.add(self.core_id, &connection, &dest);
            self.temps.push(dest);
        } else {
            self.advisories.remove(&dest);
            self.temps.retain(|t| t != &dest);
            if !dest.kind.is_topic() {
                self.broker.remove_temp_queue(&dest.name);
            }
        }
        Ok(None)
    }
}

/// When a MessagePull with `timeout` ms (any i64) gives up: 0 never, below 0 at once
/// (`receiveNoWait`, after 20 ms for deliveries in flight); a timeout past what an
/// Instant can hold never.
fn pull_deadline(now: Instant, timeout: i64) -> Option<Instant> {
    match timeout {
        0 => None,
        t if t < 0 => Some(now + Duration::from_millis(20)),
        t => now.checked_add(Duration::from_millis(t as u64)),
    }
}

fn not_started(tx: &TransactionId) -> Error {
    jms_error(format!("Transaction '{tx:?}' has not been started."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_timeouts_never_overflow() {
        let now = Instant::now();
        assert_eq!(pull_deadline(now, 0), None);
        assert!(pull_deadline(now, i64::MAX).is_none_or(|d| d > now), "no overflow");
        assert_eq!(pull_deadline(now, i64::MIN), Some(now + Duration::from_millis(20)));
        assert_eq!(pull_deadline(now, 1500), Some(now + Duration::from_millis(1500)));
        assert_eq!(MAX_PREFETCH, 32767);
    }
}
