//! The STOMP workload of `mqsim bench store`: raw STOMP 1.2 frames over the crate's own
//! [`StompCodec`], the same for ActiveMQ and mqsim.
//!
//! * [`fill`]: `n` persistent SENDs (`persistent:true`), spread over `producers`
//!   connections; every SEND asks for a RECEIPT and each connection keeps up to [`WINDOW`]
//!   of them outstanding, so that filling a queue with a million messages takes minutes, not
//!   an hour, while every message is still acknowledged by the broker before the fill ends.
//!   With `match_every = k`, message `i` carries `color:red` when `i % k == 0` and
//!   `color:blue` otherwise (the selective consumer's workload).
//! * [`drain`]: one consumer, `ack:client-individual`, one ACK per MESSAGE (so each message
//!   consumed is dead in the store), optionally with a `selector`; it stops at `n` messages,
//!   after `idle` without one (a stall when `n` was not reached), or at its time limit, if
//!   it has one (a broker that trickles matches out would otherwise never stall and never
//!   finish). A DISCONNECT with a
//!   receipt at the end makes sure every ACK was processed before the figures are taken.
//! * [`wait_stomp`]: the first STOMP CONNECT that gets CONNECTED ("serving").

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::error::{Error, Result};
use crate::stomp::frame::{CodecError, Frame, Limits, Parsed, StompCodec, Version};

/// RECEIPTs a producer connection waits for at most at a time.
pub const WINDOW: usize = 32;

/// Longest wait for a RECEIPT or CONNECTED.
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// What [`fill`] did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fill {
    pub queue: String,
    pub n: usize,
    pub size: usize,
    pub producers: usize,
    pub secs: f64,
    pub msgs_per_s: f64,
}

/// What [`drain`] did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drain {
    pub queue: String,
    pub selector: Option<String>,
    /// Messages asked for (`None`: until idle).
    pub expected: Option<usize>,
    pub received: usize,
    /// SUBSCRIBE → first MESSAGE.
    pub first_s: Option<f64>,
    /// SUBSCRIBE → last MESSAGE.
    pub secs: f64,
    pub msgs_per_s: f64,
    /// `expected` was not reached: nothing came for `idle_s`.
    pub stalled: bool,
    pub idle_s: f64,
    /// `expected` was not reached within the drain's time limit (`limit_s`).
    #[serde(default)]
    pub capped: bool,
    #[serde(default)]
    pub limit_s: Option<f64>,
    /// Messages received per value of their `color` header (what a selector on it chose).
    #[serde(default)]
    pub colors: std::collections::BTreeMap<String, usize>,
}

fn codec(e: CodecError) -> Error {
    Error::Unreachable(format!("STOMP connection: {e}"))
}

/// `tcp://host:port` (or `host:port`) → `host:port`.
fn addr(url: &str) -> &str {
    url.strip_prefix("tcp://").unwrap_or(url)
}

/// One STOMP 1.2 connection, no heart-beats.
struct Conn {
    framed: Framed<TcpStream, StompCodec>,
}

impl Conn {
    async fn open(url: &str, limit: Duration) -> Result<Conn> {
        let at = addr(url).to_string();
        let open = async {
            let socket = TcpStream::connect(&at).await.map_err(Error::io(format!("connecting to {at}")))?;
            socket.set_nodelay(true).map_err(Error::io("setting TCP_NODELAY"))?;
            let mut c = Conn { framed: Framed::new(socket, StompCodec::new(Limits::default())) };
            let connect = Frame::new("CONNECT")
                .header("accept-version", "1.2")
                .header("host", "localhost")
                .header("heart-beat", "0,0");
            c.framed.send(connect).await.map_err(codec)?;
            match c.next(limit).await? {
                Some(f) if f.command == "CONNECTED" => {}
                Some(f) => return Err(Error::protocol(format!("{at}: expected CONNECTED, got {}", f.command))),
                None => return Err(Error::Timeout(format!("{at}: no CONNECTED within {limit:?}"))),
            }
            c.framed.codec_mut().set_version(Version::V1_2);
            Ok(c)
        };
        tokio::time::timeout(limit, open)
            .await
            .map_err(|_| Error::Timeout(format!("{at}: no CONNECTED within {limit:?}")))?
    }

    /// The next frame (heart-beats skipped), `None` after `wait` without one; an ERROR
    /// frame is an error. What was fed (ACKs) is flushed before any wait.
    async fn next(&mut self, wait: Duration) -> Result<Option<Frame>> {
        loop {
            let item = match self.framed.next().now_or_never() {
                Some(item) => item,
                None => {
                    SinkExt::<Frame>::flush(&mut self.framed).await.map_err(codec)?;
                    match tokio::time::timeout(wait, self.framed.next()).await {
                        Ok(item) => item,
                        Err(_) => return Ok(None),
                    }
                }
            };
            match item {
                None => return Err(Error::Unreachable("the broker closed the connection".into())),
                Some(Err(e)) => return Err(codec(e)),
                Some(Ok(Parsed::HeartBeat)) => {}
                Some(Ok(Parsed::Frame(f))) if f.command == "ERROR" => {
                    return Err(Error::protocol(format!(
                        "ERROR from the broker: {} {}",
                        f.get("message").unwrap_or(""),
                        String::from_utf8_lossy(&f.body).trim()
                    )));
                }
                Some(Ok(Parsed::Frame(f))) => return Ok(Some(f)),
            }
        }
    }

    /// The id of the next RECEIPT; MESSAGEs that arrive meanwhile go to `on_message`.
    async fn receipt(&mut self, mut on_message: impl FnMut(Frame)) -> Result<String> {
        loop {
            let Some(f) = self.next(REPLY_TIMEOUT).await? else {
                return Err(Error::Timeout(format!("no RECEIPT within {REPLY_TIMEOUT:?}")));
            };
            match f.command.as_str() {
                "RECEIPT" => return Ok(f.get("receipt-id").unwrap_or_default().to_string()),
                "MESSAGE" => on_message(f),
                _ => {}
            }
        }
    }

    /// Waits for one RECEIPT of a SEND in `waiting` and takes it out.
    async fn acknowledged(&mut self, waiting: &mut std::collections::HashSet<String>) -> Result<()> {
        let id = self.receipt(|_| {}).await?;
        if waiting.remove(&id) {
            Ok(())
        } else {
            Err(Error::protocol(format!("RECEIPT {id:?} answers no SEND in flight")))
        }
    }

    /// DISCONNECT with a receipt: everything sent before has been processed.
    async fn close(mut self, on_message: impl FnMut(Frame)) -> Result<()> {
        self.framed.send(Frame::new("DISCONNECT").header("receipt", "bye")).await.map_err(codec)?;
        match self.receipt(on_message).await? {
            id if id == "bye" => Ok(()),
            id => Err(Error::protocol(format!("expected the DISCONNECT's RECEIPT, got RECEIPT {id:?}"))),
        }
    }
}

fn body(i: usize, size: usize) -> Bytes {
    let mut b = format!("seq={i};").into_bytes();
    b.resize(size.max(b.len()), b'x');
    Bytes::from(b)
}

/// `n` persistent sends of `size` bytes to `queue` over `producers` connections.
pub async fn fill(
    url: &str,
    queue: &str,
    n: usize,
    size: usize,
    producers: usize,
    match_every: Option<usize>,
) -> Result<Fill> {
    let producers = producers.max(1);
    let destination = format!("/queue/{queue}");
    let mut conns = Vec::new();
    for _ in 0..producers {
        conns.push(Conn::open(url, REPLY_TIMEOUT).await?);
    }
    let t0 = Instant::now();
    let tasks = conns.into_iter().enumerate().map(|(p, mut c)| {
        let destination = destination.clone();
        async move {
            // Producer p sends messages p, p + producers, ...
            let mut waiting = std::collections::HashSet::new();
            for i in (p..n).step_by(producers) {
                let id = i.to_string();
                let mut frame = Frame::new("SEND")
                    .header("destination", destination.as_str())
                    .header("persistent", "true")
                    .header("receipt", id.as_str());
                if let Some(k) = match_every {
                    frame = frame.header("color", if i % k.max(1) == 0 { "red" } else { "blue" });
                }
                c.framed.feed(frame.body(body(i, size))).await.map_err(codec)?;
                waiting.insert(id);
                while waiting.len() >= WINDOW {
                    c.acknowledged(&mut waiting).await?;
                }
            }
            while !waiting.is_empty() {
                c.acknowledged(&mut waiting).await?;
            }
            c.close(|_| {}).await
        }
    });
    futures::future::try_join_all(tasks).await?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(Fill { queue: queue.to_string(), n, size, producers, secs, msgs_per_s: n as f64 / secs })
}

/// Consumes from `queue` (with `selector`, if any) until `expected` messages or `idle`
/// without one, acking each.
pub async fn drain(
    url: &str,
    queue: &str,
    expected: Option<usize>,
    selector: Option<&str>,
    prefetch: usize,
    idle: Duration,
    limit: Option<Duration>,
) -> Result<Drain> {
    let mut c = Conn::open(url, REPLY_TIMEOUT).await?;
    let mut sub = Frame::new("SUBSCRIBE")
        .header("id", "0")
        .header("destination", format!("/queue/{queue}"))
        .header("ack", "client-individual")
        .header("activemq.prefetchSize", prefetch.to_string());
    if let Some(s) = selector {
        sub = sub.header("selector", s);
    }
    let t0 = Instant::now();
    c.framed.send(sub).await.map_err(codec)?;
    let (mut received, mut first, mut last) = (0usize, None, Duration::ZERO);
    let (mut stalled, mut capped) = (false, false);
    let mut colors = std::collections::BTreeMap::new();
    loop {
        if expected.is_some_and(|n| received >= n) {
            break;
        }
        if limit.is_some_and(|l| t0.elapsed() >= l) {
            capped = true;
            break;
        }
        let wait = limit.map_or(idle, |l| idle.min(l.saturating_sub(t0.elapsed())));
        let Some(f) = c.next(wait).await? else {
            if limit.is_some_and(|l| t0.elapsed() >= l) {
                capped = true;
                break;
            }
            stalled = expected.is_some();
            break;
        };
        if f.command != "MESSAGE" {
            continue;
        }
        received += 1;
        if let Some(c) = f.get("color") {
            *colors.entry(c.to_string()).or_insert(0) += 1;
        }
        last = t0.elapsed();
        first.get_or_insert(last);
        let id = f.get("ack").ok_or_else(|| Error::protocol("a MESSAGE without an ack header"))?;
        c.framed.feed(Frame::new("ACK").header("id", id)).await.map_err(codec)?;
    }
    // Messages still in flight when we stop are not acked: the broker keeps them.
    c.close(|_| {}).await?;
    let secs = last.as_secs_f64();
    Ok(Drain {
        queue: queue.to_string(),
        selector: selector.map(str::to_string),
        expected,
        received,
        first_s: first.map(|d| d.as_secs_f64()),
        secs,
        msgs_per_s: if secs > 0.0 { received as f64 / secs } else { 0.0 },
        stalled,
        idle_s: idle.as_secs_f64(),
        capped,
        limit_s: limit.map(|l| l.as_secs_f64()),
        colors,
    })
}

/// Tries a STOMP CONNECT every 20 ms until one gets CONNECTED (at most `limit`).
pub async fn wait_stomp(url: &str, limit: Duration) -> Result<()> {
    let t0 = Instant::now();
    loop {
        if let Ok(c) = Conn::open(url, Duration::from_secs(2)).await {
            let _ = c.close(|_| {}).await;
            return Ok(());
        }
        if t0.elapsed() > limit {
            return Err(Error::Timeout(format!("nothing answered a STOMP CONNECT at {url} within {limit:?}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a STOMP CONNECT at `url` gets CONNECTED within `limit` (one try).
pub async fn answers(url: &str, limit: Duration) -> bool {
    match Conn::open(url, limit).await {
        Ok(c) => {
            let _ = c.close(|_| {}).await;
            true
        }
        Err(_) => false,
    }
}
