//! The STOMP transport connector: accept loop and one task per connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::codec::Framed;
use tracing::{debug, info};

use super::frame::{Frame, HeartBeat, Limits, Parsed, StompCodec, Version};
use super::headers::{self, check_names, message_frame};
use crate::broker::{
    AckMode, Broker, Delivery, Destination, Kind, Selector, Subscription, Transaction, TxOp, subscription_selector,
};
use crate::config::User;
use crate::error::Error;
use crate::limits::{self, NameKind};
use crate::message::{StoredMessage, header};

#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    /// ActiveMQ's `maximumConnections`: sockets over it are closed at accept.
    pub max_connections: usize,
    /// For CONNECTED's `server` and the session id.
    pub node: String,
    /// `cluster.toml`'s `[[user]]` entries: when any, CONNECT must name one ([`headers::login`]).
    pub users: Vec<User>,
}

/// Accepts STOMP clients until `stop` flips; closing drops every connection.
pub async fn serve(listener: TcpListener, broker: Arc<Broker>, settings: Settings, stop: watch::Receiver<bool>) {
    let max = settings.max_connections;
    let settings = Arc::new(settings);
    crate::transport::accept_loop(listener, max, stop, |socket, _peer, mut stop| {
        let (broker, settings) = (broker.clone(), settings.clone());
        async move {
            tokio::select! {
                _ = connection(socket, broker, settings) => {}
                _ = stop.changed() => {}
            }
        }
    })
    .await
}

/// Why a connection ends with an ERROR frame.
struct Fatal {
    message: String,
    receipt: Option<String>,
}

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Fatal {
        Fatal { message: e.to_string(), receipt: None }
    }
}

struct Sub {
    consumer: u64,
    ack: AckMode,
    destination: String,
    /// A queue browser (`browser:true`): its MESSAGEs are copies, never acked.
    browser: bool,
}

struct Conn {
    id: u64,
    version: Version,
    client_id: String,
    subs: HashMap<String, Sub>,
    /// consumer id → subscription id
    by_consumer: HashMap<u64, String>,
    txs: HashMap<String, Transaction>,
    tx: mpsc::UnboundedSender<Delivery>,
    /// Frames to write after the current frame's RECEIPT (a browser's MESSAGEs).
    outbox: Vec<Frame>,
}

async fn connection(socket: TcpStream, broker: Arc<Broker>, settings: Arc<Settings>) {
    let mut framed = Framed::new(socket, StompCodec::new(settings.limits));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut conn = Conn {
        id: broker.new_id(),
        version: Version::V1_0,
        client_id: String::new(),
        subs: HashMap::new(),
        by_consumer: HashMap::new(),
        txs: HashMap::new(),
        tx,
        outbox: Vec::new(),
    };
    let result = run(&mut framed, &mut rx, &mut conn, &broker, &settings).await;
    broker.disconnect(conn.id);
    if let Err(Fatal { message, receipt }) = result {
        debug!("STOMP connection {} closed with an error: {message}", conn.id);
        let mut f = Frame::new("ERROR").header("content-type", "text/plain").header("message", message.clone());
        if let Some(r) = receipt {
            f = f.header("receipt-id", r);
        }
        let _ = framed.send(f.body(format!("{message}\n"))).await;
        // Half-close, then drain briefly: closing with unread input would send a TCP reset
        // that can destroy the ERROR frame before the client reads it.
        let mut socket = framed.into_inner();
        let _ = socket.shutdown().await;
        let mut sink = [0u8; 16 * 1024];
        let drain = async { while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {} };
        let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
    }
}

/// The CONNECT handshake, then the frame loop. `Ok` is a clean end (DISCONNECT or EOF).
async fn run(
    framed: &mut Framed<TcpStream, StompCodec>,
    rx: &mut mpsc::UnboundedReceiver<Delivery>,
    conn: &mut Conn,
    broker: &Broker,
    settings: &Settings,
) -> Result<(), Fatal> {
    let connect = loop {
        match tokio::time::timeout(Duration::from_secs(30), framed.next()).await {
            Err(_) => return Err("no CONNECT frame within 30 s".into()),
            Ok(None) => return Ok(()),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(Some(Ok(Parsed::HeartBeat))) => continue,
            Ok(Some(Ok(Parsed::Frame(f)))) if f.command == "CONNECT" || f.command == "STOMP" => break f,
            Ok(Some(Ok(Parsed::Frame(f)))) => return Err(format!("expected CONNECT, got {}", f.command).into()),
        }
    };
    conn.version = negotiate(connect.get("accept-version")).ok_or("Supported protocol versions are 1.0,1.1,1.2")?;
    if let Err(e) = headers::login(&settings.users, &connect) {
        info!("STOMP connection {} refused: {e}", conn.id);
        return Err(e.into());
    }
    check_names(&connect)?;
    conn.client_id = connect.get("client-id").unwrap_or("").to_string();
    let (cx, cy) = headers::heart_beat(connect.get("heart-beat"))?;
    framed.codec_mut().set_version(conn.version);
    let mut connected = Frame::new("CONNECTED")
        .header("version", conn.version.as_str())
        .header("session", format!("{}-{}", settings.node, conn.id))
        .header("server", format!("mqsim/{}", env!("CARGO_PKG_VERSION")))
        .header("heart-beat", format!("{cy},{cx}"));
    if let Some(r) = connect.get("request-id") {
        connected = connected.header("response-id", r);
    }
    framed.send(connected).await?;

    // We send every cy ms and expect something every cx ms (with grace). Both are at most a
    // day (headers::heart_beat), and the arithmetic saturates all the same.
    let read_timeout = (cx > 0).then(|| Duration::from_millis(cx.saturating_mul(3) / 2));
    let mut beat = tokio::time::interval(Duration::from_millis(if cy > 0 { cy } else { 3_600_000 }));
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            frame = async {
                match read_timeout {
                    Some(t) => tokio::time::timeout(t, framed.next()).await.map_err(|_| ()),
                    None => Ok(framed.next().await),
                }
            } => {
                let frame = match frame {
                    Err(()) => return Err("no data or heart-beat from the client in time".into()),
                    Ok(None) => return Ok(()),
                    Ok(Some(Err(e))) => return Err(e.into()),
                    Ok(Some(Ok(Parsed::HeartBeat))) => continue,
                    Ok(Some(Ok(Parsed::Frame(f)))) => f,
                };
                // Echoed on the RECEIPT or ERROR only if it is a valid receipt id.
                let receipt =
                    frame.get("receipt").filter(|r| limits::check(NameKind::ReceiptId, r).is_ok()).map(str::to_string);
                let done = match handle(frame, conn, broker).await {
                    Ok(done) => done,
                    // No longer master: drop the client (no ERROR), so it fails over and resends.
                    Err(e) => match e.stomp_message() {
                        None => return Ok(()),
                        Some(message) => return Err(Fatal { message, receipt }),
                    },
                };
                let reply = receipt.is_some() || !conn.outbox.is_empty();
                if let Some(r) = receipt {
                    framed.feed(Frame::new("RECEIPT").header("receipt-id", r)).await?;
                }
                for f in conn.outbox.drain(..) {
                    framed.feed(f).await?;
                }
                if reply {
                    SinkExt::<Frame>::flush(framed).await?;
                }
                if done {
                    return Ok(());
                }
            }
            Some(d) = rx.recv() => {
                let mut auto: HashMap<u64, Vec<u64>> = HashMap::new();
                let mut next = Some(d);
                let mut n = 0;
                while let Some(d) = next.take() {
                    if let Some(sub_id) = conn.by_consumer.get(&d.consumer) {
                        let sub = &conn.subs[sub_id];
                        if sub.ack == AckMode::Auto {
                            auto.entry(d.consumer).or_default().push(d.msg.seq);
                        }
                        framed.feed(message_frame(&d, sub_id, &sub.destination)).await?;
                    }
                    n += 1;
                    if n < 256 {
                        next = rx.try_recv().ok();
                    }
                }
                SinkExt::<Frame>::flush(framed).await?;
                for (consumer, seqs) in auto {
                    broker.ack_many_nowait(consumer, &seqs)?;
                }
            }
            _ = beat.tick(), if cy > 0 => {
                framed.send(HeartBeat).await?;
            }
        }
    }
}

fn negotiate(accept: Option<&str>) -> Option<Version> {
    let Some(accept) = accept else { return Some(Version::V1_0) };
    let offered: Vec<&str> = accept.split(',').map(str::trim).collect();
    [Version::V1_2, Version::V1_1, Version::V1_0].into_iter().find(|v| offered.contains(&v.as_str()))
}

/// `/queue/a` → queue a; `/topic/a` → topic a (temp destinations map to plain ones:
/// [`Destination`]'s `FromStr`), the name bounded by [`limits`].
pub fn parse_destination(d: &str) -> Result<Destination, String> {
    let destination: Destination = d.parse()?;
    limits::check(NameKind::Destination, &destination.name).map_err(|e| format!("Invalid destination: {e}"))?;
    Ok(destination)
}

/// A frame the broker refuses: the client broke STOMP's rules or ActiveMQ's (an ERROR frame).
fn bad(why: impl Into<String>) -> Error {
    Error::protocol(why)
}

/// Handles one client frame; `Ok(true)` ends the connection cleanly.
async fn handle(frame: Frame, conn: &mut Conn, broker: &Broker) -> Result<bool, Error> {
    check_names(&frame).map_err(bad)?;
    match frame.command.as_str() {
        "SEND" => {
            let dest = frame.get(header::DESTINATION).ok_or_else(|| bad("SEND needs a destination header"))?;
            let destination = parse_destination(dest).map_err(bad)?;
            let msg = StoredMessage {
                seq: 0,
                destination: dest.to_string(),
                headers: headers::stored_headers(&frame),
                body: frame.body.to_vec(),
                persistent: frame.get(header::PERSISTENT) == Some("true"),
                timestamp: crate::events::now_ms(),
                redelivery_count: 0,
                producer: None,
            };
            match frame.get("transaction") {
                Some(t) => {
                    let tx = conn.txs.get_mut(t).ok_or_else(|| bad(format!("Invalid transaction id: {t}")))?;
                    broker.transact(tx, [TxOp::Send(destination, msg)]).await?;
                }
                None => {
                    broker.send(&destination, msg).await?;
                }
            }
        }
        "SUBSCRIBE" => {
            let dest = frame.get(header::DESTINATION).ok_or_else(|| bad("SUBSCRIBE needs a destination header"))?;
            let destination = parse_destination(dest).map_err(bad)?;
            let id = match (frame.get("id"), conn.version) {
                (Some(id), _) => id.to_string(),
                (None, Version::V1_0) => dest.to_string(),
                (None, _) => return Err(bad("SUBSCRIBE needs an id header")),
            };
            if conn.subs.contains_key(&id) {
                return Err(bad(format!("subscription id {id} is already in use")));
            }
            if conn.subs.len() >= limits::MAX_CONSUMERS_PER_CONNECTION {
                return Err(bad(format!(
                    "this connection already has {} subscriptions, the most one connection may hold",
                    limits::MAX_CONSUMERS_PER_CONNECTION
                )));
            }
            // ActiveMQ's STOMP selectors read string headers as numbers or booleans where the
            // expression compares them so ("convert_string_expressions").
            let selector = subscription_selector(frame.get("selector"), true).map_err(bad)?;
            let ack = match frame.get("ack").unwrap_or("auto") {
                "auto" => AckMode::Auto,
                "client" => AckMode::Client,
                "client-individual" if conn.version != Version::V1_0 => AckMode::ClientIndividual,
                other => return Err(bad(format!("unsupported ack mode {other}"))),
            };
            let default_prefetch = if destination.kind == Kind::Queue { 1000 } else { 32766 };
            let prefetch = headers::prefetch(frame.get("activemq.prefetchSize"), default_prefetch).map_err(bad)?;
            let durable = match (destination.kind, frame.get("activemq.subscriptionName")) {
                (Kind::Topic, Some(name)) => {
                    if conn.client_id.is_empty() {
                        return Err(bad(
                            "a durable subscription (activemq.subscriptionName) needs client-id on CONNECT",
                        ));
                    }
                    Some((conn.client_id.clone(), name.to_string()))
                }
                _ => None,
            };
            if frame.get("browser") == Some("true") {
                browse(conn, broker, id, &destination, dest, ack, selector.as_deref()).map_err(bad)?;
                return Ok(false);
            }
            let sub = Subscription { destination, ack, prefetch, durable, selector };
            let consumer = broker.subscribe(conn.id, sub, conn.tx.clone()).await?;
            conn.by_consumer.insert(consumer, id.clone());
            conn.subs.insert(id, Sub { consumer, ack, destination: dest.to_string(), browser: false });
        }
        "UNSUBSCRIBE" => {
            let id =
                frame.get("id").or(frame.get("destination")).ok_or_else(|| bad("UNSUBSCRIBE needs an id header"))?;
            let sub = conn.subs.remove(id).ok_or_else(|| bad(format!("no subscription {id}")))?;
            conn.by_consumer.remove(&sub.consumer);
            broker.unsubscribe(sub.consumer);
            if frame.get("persistent") == Some("true")
                && let Some(name) = frame.get("activemq.subscriptionName")
            {
                broker.remove_durable(&conn.client_id, name).await?;
            }
        }
        "ACK" | "NACK" => {
            if frame.command == "NACK" && conn.version == Version::V1_0 {
                return Err(bad("NACK is not part of STOMP 1.0"));
            }
            let (consumer, seq) = ack_target(&frame, conn).map_err(bad)?;
            let sub = &conn.subs[&conn.by_consumer[&consumer]];
            if sub.browser {
                return Err(bad(format!("Cannot {} a message of a queue browser (browser:true)", frame.command)));
            }
            if frame.command == "NACK" {
                broker.nack(consumer, seq).await?;
            } else if let Some(t) = frame.get("transaction") {
                let tx = conn.txs.get_mut(t).ok_or_else(|| bad(format!("Invalid transaction id: {t}")))?;
                broker.transact(tx, [TxOp::Ack(consumer, vec![seq])]).await?;
            } else if sub.ack != AckMode::Auto {
                // An ACK is not synced; only one that asks for a RECEIPT waits until it is written.
                let cumulative = sub.ack == AckMode::Client;
                if frame.get("receipt").is_some() {
                    broker.ack(consumer, seq, cumulative).await?;
                } else {
                    broker.ack_nowait(consumer, seq, cumulative)?;
                }
            }
        }
        "BEGIN" => {
            let t = frame.get("transaction").ok_or_else(|| bad("BEGIN needs a transaction header"))?;
            if conn.txs.contains_key(t) {
                return Err(bad(format!("transaction {t} already started")));
            }
            if conn.txs.len() >= limits::MAX_TRANSACTIONS_PER_CONNECTION {
                return Err(bad(format!(
                    "this connection already has {} open transactions, the most one connection may hold",
                    limits::MAX_TRANSACTIONS_PER_CONNECTION
                )));
            }
            conn.txs.insert(t.to_string(), Transaction::default());
        }
        "COMMIT" => {
            let t = frame.get("transaction").ok_or_else(|| bad("COMMIT needs a transaction header"))?;
            let ops = conn.txs.remove(t).ok_or_else(|| bad(format!("Invalid transaction id: {t}")))?;
            broker.commit(ops).await?;
        }
        "ABORT" => {
            let t = frame.get("transaction").ok_or_else(|| bad("ABORT needs a transaction header"))?;
            conn.txs.remove(t).ok_or_else(|| bad(format!("Invalid transaction id: {t}")))?;
        }
        "DISCONNECT" => return Ok(true),
        other => return Err(bad(format!("Unknown STOMP action: {other}"))),
    }
    Ok(false)
}

/// A queue browser, as ActiveMQ's STOMP connector has it (1.1 and later): a MESSAGE for each
/// message waiting in the queue that passes the selector (copies: the queue keeps them), then
/// one with `browser:end` and no body. The subscription stays until UNSUBSCRIBE, with nothing
/// more to deliver.
fn browse(
    conn: &mut Conn,
    broker: &Broker,
    id: String,
    queue: &Destination,
    dest: &str,
    ack: AckMode,
    selector: Option<&Selector>,
) -> Result<(), String> {
    if conn.version == Version::V1_0 {
        return Err("Queue Browser feature only valid for Stomp v1.1+ clients!".into());
    }
    if queue.kind != Kind::Queue {
        return Err(format!("browser:true needs a queue, and {dest} is a topic"));
    }
    // A number of its own, known to no broker consumer, so that its ack ids name it.
    let consumer = broker.new_id();
    for (msg, redelivered) in broker.browse(&queue.name, crate::broker::MAX_BROWSE, selector) {
        conn.outbox.push(message_frame(&Delivery { consumer, msg, redelivered }, &id, dest));
    }
    conn.outbox.push(
        Frame::new("MESSAGE")
            .header(header::SUBSCRIPTION, id.clone())
            .header("browser", "end")
            .header(header::DESTINATION, dest)
            .header(header::MESSAGE_ID, "0"),
    );
    conn.by_consumer.insert(consumer, id.clone());
    conn.subs.insert(id, Sub { consumer, ack, destination: dest.to_string(), browser: true });
    Ok(())
}

/// Which consumer and message an ACK/NACK names, per protocol version.
fn ack_target(frame: &Frame, conn: &Conn) -> Result<(u64, u64), String> {
    if let Some(id) = frame.get("id").filter(|_| conn.version == Version::V1_2) {
        let (c, s) = id.split_once(':').ok_or(format!("invalid ack id {id}"))?;
        let consumer = c.parse().map_err(|_| format!("invalid ack id {id}"))?;
        let seq = s.parse().map_err(|_| format!("invalid ack id {id}"))?;
        if !conn.by_consumer.contains_key(&consumer) {
            return Err(format!("ack id {id} does not belong to a subscription of this connection"));
        }
        return Ok((consumer, seq));
    }
    let mid = frame.get("message-id").ok_or("ACK needs a message-id (or, in 1.2, an id) header")?;
    let seq: u64 =
        mid.strip_prefix("ID:mqsim-").and_then(|s| s.parse().ok()).ok_or(format!("unknown message-id {mid}"))?;
    let consumer = match frame.get("subscription") {
        Some(sub) => conn.subs.get(sub).map(|s| s.consumer).ok_or(format!("no subscription {sub}"))?,
        None => match conn.subs.values().filter(|s| s.ack != AckMode::Auto).map(|s| s.consumer).next() {
            Some(c) if conn.subs.len() == 1 || conn.version == Version::V1_0 => c,
            _ => return Err("ACK needs a subscription header".into()),
        },
    };
    Ok((consumer, seq))
}
