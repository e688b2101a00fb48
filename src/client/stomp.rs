//! An async STOMP 1.2 client with ActiveMQ-style failover (see the module essay in
//! [`crate::client`]).
//!
//! Every operation that expects an answer (CONNECT, SEND and SUBSCRIBE with `receipt`,
//! DISCONNECT) waits for it on the same connection; MESSAGE frames that arrive meanwhile
//! are queued for [`StompClient::recv`]. A connection that closes, fails or stays silent
//! past [`ConnectOptions::reply_timeout`] is *lost*: the client reconnects per the
//! [`FailoverUrl`] rules and repeats the interrupted operation. An `ERROR` frame is the
//! broker's verdict and is returned, never retried.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::url::{FailoverUrl, tcp_uri};
use crate::error::{Error, Result};
use crate::stomp::frame::{Frame, Limits, Parsed, StompCodec, Version};

/// A subscription's `ack` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// The broker considers a message consumed once dispatched.
    #[default]
    Auto,
    /// An ACK covers the message and every earlier one of the subscription.
    Client,
    /// An ACK covers exactly one message.
    ClientIndividual,
}

impl AckMode {
    /// The `ack` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            AckMode::Auto => "auto",
            AckMode::Client => "client",
            AckMode::ClientIndividual => "client-individual",
        }
    }
}

/// Per-connection settings besides the URL.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub login: Option<String>,
    pub passcode: Option<String>,
    /// `client-id` (needed for durable topic subscriptions).
    pub client_id: Option<String>,
    /// TCP connect plus the wait for CONNECTED, per URI (like ActiveMQ's `connectionTimeout`).
    /// A frozen (SIGSTOPped) master accepts TCP but never answers; this moves on.
    pub connect_timeout: Duration,
    /// Longest wait for a RECEIPT (or a frame write); longer counts as a lost connection,
    /// like ActiveMQ's inactivity monitor (`maxInactivityDuration`, 30 s).
    pub reply_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            login: None,
            passcode: None,
            client_id: None,
            connect_timeout: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(30),
        }
    }
}

/// One failover: the working connection was lost at `lost_at`, and at `at` the client was
/// connected again to `uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectEvent {
    pub lost_at: Instant,
    pub at: Instant,
    /// The broker now connected, `tcp://host:port`.
    pub uri: String,
    /// The broker whose connection was lost.
    pub from: String,
    /// Why the old connection was considered lost.
    pub cause: String,
}

impl ReconnectEvent {
    /// How long the client had no connection.
    pub fn outage(&self) -> Duration {
        self.at.saturating_duration_since(self.lost_at)
    }
}

#[derive(Debug, Clone)]
struct Subscription {
    id: String,
    destination: String,
    ack: AckMode,
    prefetch: Option<u32>,
}

impl Subscription {
    fn frame(&self, receipt: &str) -> Frame {
        let mut f = Frame::new("SUBSCRIBE")
            .header("id", self.id.as_str())
            .header("destination", self.destination.as_str())
            .header("ack", self.ack.as_str());
        if let Some(n) = self.prefetch {
            f = f.header("activemq.prefetchSize", n.to_string());
        }
        f.header("receipt", receipt)
    }
}

/// Why an exchange with a broker did not complete.
enum Fail {
    /// The connection is unusable: fail over.
    Lost(String),
    /// The broker answered ERROR: report, do not retry.
    Broker(Error),
}

/// One live STOMP connection.
struct Conn {
    io: Framed<TcpStream, StompCodec>,
    /// Index into the URL's broker list.
    index: usize,
    version: Version,
    server: Option<String>,
    /// Messages of client-ack subscriptions received here and not yet acknowledged.
    unacked: VecDeque<Delivery>,
}

/// An unacknowledged MESSAGE. Ack ids are only meaningful on the connection that delivered
/// them, and a new broker may reuse them; matching the `message-id` too means a stale
/// message can only ever match its own redelivered copy.
#[derive(Debug, PartialEq, Eq)]
struct Delivery {
    key: String,
    subscription: String,
    message_id: String,
}

impl Delivery {
    fn of(msg: &Frame, version: Version) -> Option<Delivery> {
        Some(Delivery {
            key: ack_key(msg, version)?.to_string(),
            subscription: msg.get("subscription").unwrap_or_default().to_string(),
            message_id: msg.get("message-id").unwrap_or_default().to_string(),
        })
    }
}

impl Conn {
    /// TCP connect + CONNECT → CONNECTED, within `opts.connect_timeout`.
    async fn open(host: &str, port: u16, index: usize, opts: &ConnectOptions) -> std::result::Result<Conn, String> {
        let attempt = async {
            let tcp = TcpStream::connect((host, port)).await.map_err(|e| e.to_string())?;
            // Best effort: small synchronous sends should not wait for Nagle.
            let _ = tcp.set_nodelay(true);
            let mut io = Framed::new(tcp, StompCodec::new(Limits::default()));
            let mut connect =
                Frame::new("CONNECT").header("accept-version", "1.2").header("host", host).header("heart-beat", "0,0");
            for (name, value) in [("login", &opts.login), ("passcode", &opts.passcode), ("client-id", &opts.client_id)]
            {
                if let Some(v) = value {
                    connect = connect.header(name, v.as_str());
                }
            }
            io.send(connect).await.map_err(|e| format!("sending CONNECT: {e}"))?;
            loop {
                match io.next().await {
                    Some(Ok(Parsed::HeartBeat)) => {}
                    Some(Ok(Parsed::Frame(f))) if f.command == "CONNECTED" => {
                        let version = match f.get("version") {
                            Some("1.2") => Version::V1_2,
                            Some("1.1") => Version::V1_1,
                            _ => Version::V1_0,
                        };
                        io.codec_mut().set_version(version);
                        return Ok(Conn {
                            io,
                            index,
                            version,
                            server: f.get("server").map(str::to_string),
                            unacked: VecDeque::new(),
                        });
                    }
                    Some(Ok(Parsed::Frame(f))) if f.command == "ERROR" => {
                        return Err(format!("refused: {}", error_text(&f)));
                    }
                    Some(Ok(Parsed::Frame(f))) => {
                        return Err(format!("unexpected {} before CONNECTED", f.command));
                    }
                    Some(Err(e)) => return Err(format!("reading CONNECTED: {e}")),
                    None => return Err("connection closed before CONNECTED".into()),
                }
            }
        };
        match tokio::time::timeout(opts.connect_timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(format!("no CONNECTED within {} ms", opts.connect_timeout.as_millis())),
        }
    }

    async fn write(&mut self, frame: &Frame, within: Duration) -> std::result::Result<(), Fail> {
        match tokio::time::timeout(within, self.io.send(frame.clone())).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Fail::Lost(format!("write failed: {e}"))),
            Err(_) => Err(Fail::Lost(format!("write blocked for {} ms", within.as_millis()))),
        }
    }

    /// The next frame, or `None` once `within` has passed. Heart-beats are skipped; MESSAGEs
    /// of client-ack subscriptions are remembered as unacknowledged.
    async fn read(&mut self, within: Duration, inbox: &Inbox) -> std::result::Result<Option<Frame>, Fail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.io.next()).await {
                Err(_) => return Ok(None),
                Ok(None) => return Err(Fail::Lost("connection closed by the broker".into())),
                Ok(Some(Err(e))) => return Err(Fail::Lost(format!("read failed: {e}"))),
                Ok(Some(Ok(Parsed::HeartBeat))) => {}
                Ok(Some(Ok(Parsed::Frame(f)))) => {
                    if f.command == "MESSAGE" {
                        self.track(&f, inbox);
                    }
                    return Ok(Some(f));
                }
            }
        }
    }

    fn track(&mut self, msg: &Frame, inbox: &Inbox) {
        if inbox.client_subs.contains(msg.get("subscription").unwrap_or_default()) {
            self.unacked.extend(Delivery::of(msg, self.version));
        }
    }

    /// Sends `frame` (which carries `receipt`) and waits for its RECEIPT, queueing MESSAGEs.
    async fn request(
        &mut self,
        frame: &Frame,
        receipt: &str,
        wait: Duration,
        inbox: &mut Inbox,
    ) -> std::result::Result<(), Fail> {
        self.write(frame, wait).await?;
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(f) = self.read(left, inbox).await? else {
                return Err(Fail::Lost(format!("no RECEIPT within {} ms", wait.as_millis())));
            };
            match f.command.as_str() {
                "RECEIPT" if f.get("receipt-id") == Some(receipt) => return Ok(()),
                "MESSAGE" => inbox.pending.push_back(f),
                "ERROR" => return Err(Fail::Broker(Error::protocol(error_text(&f)))),
                _ => {}
            }
        }
    }
}

/// What the client keeps across connections for [`StompClient::recv`].
#[derive(Default)]
struct Inbox {
    /// MESSAGEs that arrived while an operation waited for its RECEIPT.
    pending: VecDeque<Frame>,
    /// Ids of the subscriptions in a client ack mode.
    client_subs: HashSet<String>,
}

/// The id a MESSAGE is acknowledged by: `ack` in 1.2, `message-id` before.
fn ack_key(msg: &Frame, version: Version) -> Option<&str> {
    match version {
        Version::V1_2 => msg.get("ack"),
        Version::V1_0 | Version::V1_1 => msg.get("message-id"),
    }
}

/// An ERROR frame's `message` header, else the first line of its body.
fn error_text(f: &Frame) -> String {
    let text = match f.get("message") {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => String::from_utf8_lossy(&f.body).lines().next().unwrap_or("ERROR without a message").to_string(),
    };
    format!("broker ERROR: {text}")
}

/// A STOMP client over a [`FailoverUrl`]. Not shareable; one task drives it.
pub struct StompClient {
    url: FailoverUrl,
    /// `tcp://host:port` per URL entry.
    uri_strings: Vec<String>,
    opts: ConnectOptions,
    conn: Option<Conn>,
    /// Index of the current (or last) broker.
    current: usize,
    connected_once: bool,
    /// When and why the last connection was lost (while `conn` is `None`).
    lost: Option<(Instant, String)>,
    subs: Vec<Subscription>,
    next_receipt: u64,
    inbox: Inbox,
    reconnects: Vec<ReconnectEvent>,
}

impl StompClient {
    /// Connects per the URL's rules (no delay before the first pass, then back-off; at most
    /// `startupMaxReconnectAttempts` passes when set, else `maxReconnectAttempts`).
    pub async fn connect(url: &FailoverUrl, opts: ConnectOptions) -> Result<StompClient> {
        if url.uris.is_empty() {
            return Err(Error::InvalidInput("the broker URL names no broker".into()));
        }
        let mut client = StompClient {
            uri_strings: url.uris.iter().map(|(h, p)| tcp_uri(h, *p)).collect(),
            url: url.clone(),
            opts,
            conn: None,
            current: 0,
            connected_once: false,
            lost: None,
            subs: Vec::new(),
            next_receipt: 0,
            inbox: Inbox::default(),
            reconnects: Vec::new(),
        };
        client.establish().await?;
        Ok(client)
    }

    /// `tcp://host:port` of the current broker (the last one, while reconnecting).
    pub fn current_uri(&self) -> &str {
        self.uri_strings.get(self.current).map_or("", String::as_str)
    }

    /// The `server` header of the current CONNECTED frame.
    pub fn server(&self) -> Option<&str> {
        self.conn.as_ref().and_then(|c| c.server.as_deref())
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Failovers since the last call, oldest first.
    pub fn take_reconnects(&mut self) -> Vec<ReconnectEvent> {
        std::mem::take(&mut self.reconnects)
    }

    /// SEND with a `receipt`, waiting for the RECEIPT. If the connection is lost first, the
    /// same frame is sent again after failover (which may duplicate the message). The
    /// URL's `timeout` bounds each wait for a connection. An ERROR reply is returned.
    pub async fn send(
        &mut self,
        destination: &str,
        body: Bytes,
        headers: &[(&str, &str)],
        persistent: bool,
    ) -> Result<()> {
        let receipt = self.receipt_id();
        let mut frame = Frame::new("SEND").header("destination", destination);
        if persistent {
            frame = frame.header("persistent", "true");
        }
        for (name, value) in headers {
            frame = frame.header(name, *value);
        }
        let frame = frame.header("receipt", receipt.as_str()).body(body);
        self.exchange(&frame, &receipt).await
    }

    /// SUBSCRIBE (with a receipt) and remember the subscription, so that it is re-issued on
    /// every new connection. Ids are `"0"`, `"1"`, ... in call order; returns the id.
    pub async fn subscribe(&mut self, destination: &str, ack: AckMode, prefetch: Option<u32>) -> Result<String> {
        let sub = Subscription { id: self.subs.len().to_string(), destination: destination.to_string(), ack, prefetch };
        let receipt = self.receipt_id();
        // Messages may arrive before the RECEIPT: they must already count as unacked.
        if ack != AckMode::Auto {
            self.inbox.client_subs.insert(sub.id.clone());
        }
        if let Err(e) = self.exchange(&sub.frame(&receipt), &receipt).await {
            self.inbox.client_subs.remove(&sub.id);
            return Err(e);
        }
        let id = sub.id.clone();
        self.subs.push(sub);
        Ok(id)
    }

    /// The next MESSAGE, or `None` after `idle` without one. A lost connection is failed
    /// over (subscriptions re-issued) and the wait starts again; time spent reconnecting
    /// does not count as idle. Other frames (stray RECEIPTs) are skipped; ERROR is returned.
    pub async fn recv(&mut self, idle: Duration) -> Result<Option<Frame>> {
        if let Some(msg) = self.inbox.pending.pop_front() {
            return Ok(Some(msg));
        }
        let mut deadline = Instant::now() + idle;
        loop {
            if self.conn.is_none() {
                self.establish().await?;
                deadline = Instant::now() + idle;
                if let Some(msg) = self.inbox.pending.pop_front() {
                    return Ok(Some(msg));
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            let left = deadline.saturating_duration_since(Instant::now());
            match conn.read(left, &self.inbox).await {
                Ok(None) => return Ok(None),
                Ok(Some(f)) if f.command == "MESSAGE" => return Ok(Some(f)),
                Ok(Some(f)) if f.command == "ERROR" => return Err(Error::protocol(error_text(&f))),
                Ok(Some(_)) => {}
                Err(Fail::Lost(why)) => self.lose(why),
                Err(Fail::Broker(e)) => return Err(e),
            }
        }
    }

    /// Acknowledges `msg` (1.2: `ACK id:<ack header>`; 1.1/1.0: by `message-id`). Returns
    /// `false` when nothing was sent: the subscription is `auto`, or the message came over
    /// an earlier connection (the broker will redeliver it), or this connection just died.
    pub async fn ack(&mut self, msg: &Frame) -> Result<bool> {
        let wait = self.opts.reply_timeout;
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        let Some(this) = Delivery::of(msg, conn.version) else {
            return Ok(false);
        };
        let Some(pos) = conn.unacked.iter().position(|d| *d == this) else {
            return Ok(false);
        };
        let sub = this.subscription.as_str();
        let cumulative = self.subs.iter().any(|s| s.id == sub && s.ack == AckMode::Client);
        if cumulative {
            // `client` acks everything of the subscription delivered up to this message.
            let mut i = 0;
            conn.unacked.retain(|d| {
                i += 1;
                i > pos + 1 || d.subscription != sub
            });
        } else {
            conn.unacked.remove(pos);
        }
        let key = this.key.as_str();
        let frame = match conn.version {
            Version::V1_2 => Frame::new("ACK").header("id", key),
            Version::V1_1 => Frame::new("ACK").header("message-id", key).header("subscription", sub),
            Version::V1_0 => Frame::new("ACK").header("message-id", key),
        };
        match conn.write(&frame, wait).await {
            Ok(()) => Ok(true),
            Err(Fail::Lost(why)) => {
                self.lose(why);
                Ok(false)
            }
            Err(Fail::Broker(e)) => Err(e),
        }
    }

    /// DISCONNECT with a receipt and close. A connection that is already gone is fine.
    pub async fn disconnect(mut self) -> Result<()> {
        let receipt = self.receipt_id();
        let wait = self.opts.reply_timeout;
        if let Some(mut conn) = self.conn.take() {
            let frame = Frame::new("DISCONNECT").header("receipt", receipt.as_str());
            match conn.request(&frame, &receipt, wait, &mut self.inbox).await {
                Ok(()) | Err(Fail::Lost(_)) => {}
                Err(Fail::Broker(e)) => return Err(e),
            }
        }
        Ok(())
    }

    fn receipt_id(&mut self) -> String {
        self.next_receipt += 1;
        format!("mqsim-{}", self.next_receipt)
    }

    /// Sends a frame carrying `receipt` until it is answered, failing over as needed.
    async fn exchange(&mut self, frame: &Frame, receipt: &str) -> Result<()> {
        let wait = self.opts.reply_timeout;
        loop {
            self.ensure_connected().await?;
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            match conn.request(frame, receipt, wait, &mut self.inbox).await {
                Ok(()) => return Ok(()),
                Err(Fail::Broker(e)) => return Err(e),
                Err(Fail::Lost(why)) => self.lose(why),
            }
        }
    }

    /// Reconnects if needed, within the URL's `timeout` when one is set.
    async fn ensure_connected(&mut self) -> Result<()> {
        if self.conn.is_some() {
            return Ok(());
        }
        match self.url.timeout {
            None => self.establish().await,
            Some(t) => tokio::time::timeout(t, self.establish())
                .await
                .unwrap_or_else(|_| Err(Error::Timeout(format!("Failover timeout of {} ms reached.", t.as_millis())))),
        }
    }

    fn lose(&mut self, why: String) {
        if self.conn.take().is_some() {
            tracing::info!(uri = self.current_uri(), "connection lost: {why}");
            self.lost = Some((Instant::now(), why));
        }
    }

    /// Brokers in the order of the next pass: listed or shuffled, with the broker that
    /// just failed moved to the end (ActiveMQ's `getConnectList`).
    fn connect_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.url.uris.len()).collect();
        if self.url.randomize {
            rand::seq::SliceRandom::shuffle(&mut order[..], &mut rand::rng());
        }
        if self.lost.is_some() {
            order.retain(|&i| i != self.current);
            order.push(self.current);
        }
        order
    }

    /// Connects (first time) or reconnects (after `lose`): passes over the broker list with
    /// back-off until one broker accepts CONNECT and every subscription, or the pass limit
    /// is reached. The new connection is installed only when complete, so cancelling this
    /// future (the URL's `timeout`) leaves the client cleanly disconnected.
    async fn establish(&mut self) -> Result<()> {
        let reconnecting = self.connected_once;
        if reconnecting && self.url.reconnect_limit(true) == 0 {
            let why = self.lost.as_ref().map_or("", |(_, w)| w.as_str());
            return Err(Error::Unreachable(format!(
                "connection to {} lost ({why}); not reconnecting (maxReconnectAttempts=0)",
                self.current_uri()
            )));
        }
        let passes = self.url.pass_limit(reconnecting);
        let mut delays = self.url.backoff();
        let mut failed: u64 = 0;
        loop {
            if (reconnecting || failed > 0)
                && let Some(d) = delays.next()
            {
                tokio::time::sleep(d).await;
            }
            let mut errors = Vec::new();
            for index in self.connect_order() {
                match self.try_broker(index).await {
                    Ok(conn) => {
                        self.install(conn);
                        return Ok(());
                    }
                    Err(why) => errors.push(format!("{}: {why}", self.uri_strings[index])),
                }
            }
            failed += 1;
            let warn = self.url.warn_after_reconnect_attempts;
            if failed == 1 || (warn > 0 && failed.is_multiple_of(warn as u64)) {
                tracing::warn!("failover: no broker answered ({}); retrying (pass {failed})", errors.join("; "));
            }
            if passes.is_some_and(|max| failed >= max) {
                return Err(Error::Unreachable(format!(
                    "could not connect to any broker after {failed} attempt(s): {}",
                    errors.join("; ")
                )));
            }
        }
    }

    /// One broker: CONNECT, then re-issue every subscription.
    async fn try_broker(&mut self, index: usize) -> std::result::Result<Conn, String> {
        let (host, port) = &self.url.uris[index];
        let mut conn = Conn::open(host, *port, index, &self.opts).await?;
        let wait = self.opts.reply_timeout;
        for sub in &self.subs {
            self.next_receipt += 1;
            let receipt = format!("mqsim-{}", self.next_receipt);
            match conn.request(&sub.frame(&receipt), &receipt, wait, &mut self.inbox).await {
                Ok(()) => {}
                Err(Fail::Lost(why)) => return Err(why),
                Err(Fail::Broker(e)) => return Err(format!("re-subscribing: {e}")),
            }
        }
        Ok(conn)
    }

    fn install(&mut self, conn: Conn) {
        let from = self.current_uri().to_string();
        self.current = conn.index;
        self.conn = Some(conn);
        self.connected_once = true;
        if let Some((lost_at, cause)) = self.lost.take() {
            let event =
                ReconnectEvent { lost_at, at: Instant::now(), uri: self.current_uri().to_string(), from, cause };
            tracing::info!("reconnected to {} after {} ms", event.uri, event.outage().as_millis());
            self.reconnects.push(event);
        }
    }
}

#[cfg(test)]
#[path = "stomp_tests.rs"]
mod tests;
