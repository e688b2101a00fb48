//! `mqsim bench stomp`: a STOMP 1.2 load generator, following anchor-baseline.md §3 so that
//! mqsim and a real ActiveMQ are measured with the same client, the same way, in one run.
//!
//! A warm-up (`--warmup` sends, then consumed; not reported) comes first. Then each rep,
//! on queues whose names are unique to the run and the rep:
//! * **(a)** 1 producer: N persistent SENDs of SIZE bytes (`persistent:true` + `receipt`),
//!   each waiting for its RECEIPT before the next: a synchronous persistent send.
//! * **(c)** consume (a)'s messages with `ack:client-individual`, one ACK per MESSAGE, the
//!   last ACK with a receipt; timed from SUBSCRIBE to that RECEIPT.
//! * **(b)** 4 producers (4 connections, started together), N in total, each as in (a);
//!   timed from the common start to the last RECEIPT.
//! * **(c')** consume (b)'s messages with `ack:auto`; timed from SUBSCRIBE to the Nth MESSAGE.
//!
//! The client is raw frames over [`StompCodec`] on one thread (a current-thread runtime),
//! with TCP_NODELAY: a few µs per frame, so the broker is what is measured. ACKs are
//! written as MESSAGEs arrive and flushed whenever the socket has nothing more to read.
//!
//! A broker whose queues must be declared beforehand (RabbitMQ's quorum queues) is given their
//! names' `queue_prefix`, and its own `host` (virtual host) for CONNECT.
//!
//! [`report`] turns four runs (ActiveMQ, RabbitMQ quorum queues, mqsim `quorum_mem` and
//! `quorum_disk`) into the `stomp` section of docs/benchmarks.md.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::disk::{DeviceIo, IoPer};
use super::median;
use crate::error::{Error, Result};
use crate::stomp::frame::{Frame, Limits, Parsed, StompCodec, Version};

mod report;
pub use report::{Runs, report};

/// Producer connections in (b).
pub const PRODUCERS: usize = 4;

/// Longest wait for any single answer from the broker.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Options {
    /// `tcp://HOST:PORT` of the broker's STOMP connector.
    pub url: String,
    pub n: usize,
    pub size: usize,
    pub warmup: usize,
    pub reps: usize,
    /// The broker's PID: its RSS is read before the warm-up and after the last rep.
    pub pid: Option<u32>,
    /// What is measured (shown in the report).
    pub label: String,
    /// The CONNECT frame's `host` header: the virtual host (RabbitMQ's is `/`).
    pub host: String,
    /// The tests' destinations are `PREFIX.warmup`, `PREFIX.a.REP` and `PREFIX.b.REP`; without
    /// it, `/queue/bench.<run>` (a fresh queue per test, run and broker). For a broker whose
    /// queues are declared beforehand (RabbitMQ's quorum queues, `/amq/queue/NAME`).
    pub queue_prefix: Option<String>,
}

/// One producer figure: throughput and per-send latency (SEND written → RECEIPT read).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Produce {
    pub msgs_per_s: f64,
    pub median_ms: f64,
    pub p99_ms: f64,
    /// What the machine's disks did per send meanwhile (all brokers are on them; the others
    /// are idle while one is measured).
    #[serde(default)]
    pub io: Option<IoPer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consume {
    pub msgs_per_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rep {
    /// (a) 1 producer.
    pub a: Produce,
    /// (b) 4 producers.
    pub b: Produce,
    /// (c) consume (a), client-individual.
    pub c: Consume,
    /// (c') consume (b), auto.
    pub c_auto: Consume,
}

/// The whole result of one `mqsim bench stomp` (`--json` prints it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub label: String,
    pub url: String,
    pub n: usize,
    pub size: usize,
    pub warmup: usize,
    pub producers: usize,
    /// UTC, minutes.
    pub started: String,
    /// 1-minute load average before the warm-up and after the last rep.
    pub loadavg_before: f64,
    pub loadavg_after: f64,
    /// The broker process's RSS (MiB) before the warm-up and after the last rep.
    pub rss_before_mib: Option<f64>,
    pub rss_after_mib: Option<f64>,
    /// Of `rss_after_mib`, the file-backed part (RssFile: mapped files such as an LMDB
    /// store, which the kernel can drop and re-read).
    #[serde(default)]
    pub rss_after_file_mib: Option<f64>,
    pub reps: Vec<Rep>,
}

impl Run {
    /// One broker's run out of several invocations (rounds of one rep each, interleaved
    /// with the other brokers'): the reps in order, the first's idle figures, the last's
    /// after-the-run figures.
    pub fn merge(parts: Vec<Run>) -> Result<Run> {
        let mut parts = parts.into_iter();
        let mut run = parts.next().ok_or_else(|| Error::InvalidInput("no bench stomp output to merge".into()))?;
        for p in parts {
            if (p.n, p.size) != (run.n, run.size) {
                return Err(Error::InvalidInput(format!(
                    "{}: rounds with different --n/--size ({}/{} vs {}/{}) cannot be merged",
                    run.label, run.n, run.size, p.n, p.size
                )));
            }
            run.reps.extend(p.reps);
            run.loadavg_after = p.loadavg_after;
            run.rss_after_mib = p.rss_after_mib;
            run.rss_after_file_mib = p.rss_after_file_mib;
        }
        Ok(run)
    }
}

/// Runs the whole procedure against `opts.url`.
pub fn run(opts: &Options) -> Result<Run> {
    let broker =
        Broker { addr: opts.url.strip_prefix("tcp://").unwrap_or(&opts.url).to_string(), host: opts.host.clone() };
    if opts.n == 0 || opts.reps == 0 {
        return Err(Error::InvalidInput("--n and --reps must be at least 1".into()));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let tag = format!("{}{}", std::process::id(), crate::events::now_ms() % 1_000_000);
    let prefix = opts.queue_prefix.clone().unwrap_or_else(|| format!("/queue/bench.{tag}"));
    let queue = |test: &str| format!("{prefix}.{test}");
    let rss_before_mib = opts.pid.and_then(|p| rss_mib(p, "VmRSS"));
    let loadavg_before = loadavg();
    let started = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_default();
    rt.block_on(async {
        if opts.warmup > 0 {
            let q = queue("warmup");
            produce(&broker, &q, opts.warmup, 1, opts.size).await?;
            consume(&broker, &q, opts.warmup, "client-individual").await?;
            eprintln!("  warm-up: {} sends and receives", opts.warmup);
        }
        let mut reps = Vec::new();
        for rep in 1..=opts.reps {
            let (qa, qb) = (queue(&format!("a.{rep}")), queue(&format!("b.{rep}")));
            let a = produce(&broker, &qa, opts.n, 1, opts.size).await?;
            let c = consume(&broker, &qa, opts.n, "client-individual").await?;
            let b = produce(&broker, &qb, opts.n, PRODUCERS, opts.size).await?;
            let c_auto = consume(&broker, &qb, opts.n, "auto").await?;
            eprintln!(
                "  rep {rep}: (a) {:.0} msg/s, {:.3} ms/send (p99 {:.3}) | (b) {:.0} msg/s, {:.3} ms (p99 {:.3}) | \
                 (c) {:.0} msg/s | (c') {:.0} msg/s",
                a.msgs_per_s,
                a.median_ms,
                a.p99_ms,
                b.msgs_per_s,
                b.median_ms,
                b.p99_ms,
                c.msgs_per_s,
                c_auto.msgs_per_s
            );
            reps.push(Rep { a, b, c, c_auto });
        }
        Ok::<_, Error>(Run {
            label: opts.label.clone(),
            url: opts.url.clone(),
            n: opts.n,
            size: opts.size,
            warmup: opts.warmup,
            producers: PRODUCERS,
            started,
            loadavg_before,
            loadavg_after: loadavg(),
            rss_before_mib,
            rss_after_mib: opts.pid.and_then(|p| rss_mib(p, "VmRSS")),
            rss_after_file_mib: opts.pid.and_then(|p| rss_mib(p, "RssFile")),
            reps,
        })
    })
}

/// A `/proc/PID/status` memory field (`VmRSS`, `RssFile`, ...) of a process, MiB.
pub fn rss_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    let kb: f64 = value.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Where the connections go: `HOST:PORT`, and the virtual host their CONNECT names.
struct Broker {
    addr: String,
    host: String,
}

/// One STOMP 1.2 connection.
struct Client {
    framed: Framed<TcpStream, StompCodec>,
}

fn codec_err(e: crate::stomp::frame::CodecError) -> Error {
    Error::Unreachable(format!("STOMP connection: {e}"))
}

impl Client {
    async fn connect(broker: &Broker) -> Result<Client> {
        let addr = &broker.addr;
        let socket = TcpStream::connect(addr).await.map_err(Error::io(format!("connecting to {addr}")))?;
        socket.set_nodelay(true).map_err(Error::io("setting TCP_NODELAY"))?;
        let mut c = Client { framed: Framed::new(socket, StompCodec::new(Limits::default())) };
        let connect = Frame::new("CONNECT")
            .header("accept-version", "1.2")
            .header("host", broker.host.as_str())
            .header("heart-beat", "0,0");
        c.framed.send(connect).await.map_err(codec_err)?;
        let f = c.next().await?;
        if f.command != "CONNECTED" {
            return Err(Error::protocol(format!("{addr}: expected CONNECTED, got {}", f.command)));
        }
        c.framed.codec_mut().set_version(Version::V1_2);
        Ok(c)
    }

    /// The next frame (heart-beats skipped); an ERROR frame is an error.
    async fn next(&mut self) -> Result<Frame> {
        loop {
            let item = match self.framed.next().now_or_never() {
                Some(item) => item,
                None => {
                    // Nothing buffered: push out what we fed (ACKs), then wait.
                    SinkExt::<Frame>::flush(&mut self.framed).await.map_err(codec_err)?;
                    tokio::time::timeout(REPLY_TIMEOUT, self.framed.next())
                        .await
                        .map_err(|_| Error::Timeout(format!("no frame from the broker within {REPLY_TIMEOUT:?}")))?
                }
            };
            match item {
                None => return Err(Error::Unreachable("the broker closed the connection".into())),
                Some(Err(e)) => return Err(codec_err(e)),
                Some(Ok(Parsed::HeartBeat)) => continue,
                Some(Ok(Parsed::Frame(f))) if f.command == "ERROR" => {
                    return Err(Error::protocol(format!(
                        "ERROR from the broker: {} {}",
                        f.get("message").unwrap_or(""),
                        String::from_utf8_lossy(&f.body).trim()
                    )));
                }
                Some(Ok(Parsed::Frame(f))) => return Ok(f),
            }
        }
    }

    async fn wait_receipt(&mut self, id: &str) -> Result<()> {
        loop {
            let f = self.next().await?;
            if f.command == "RECEIPT" && f.get("receipt-id") == Some(id) {
                return Ok(());
            }
            if f.command == "RECEIPT" {
                return Err(Error::protocol(format!("expected RECEIPT {id}, got {:?}", f.get("receipt-id"))));
            }
        }
    }

    /// DISCONNECT with a receipt, so everything sent before is processed.
    async fn close(mut self) -> Result<()> {
        self.framed.send(Frame::new("DISCONNECT").header("receipt", "bye")).await.map_err(codec_err)?;
        self.wait_receipt("bye").await
    }
}

/// `seq=<n>;` then filler up to `size` bytes (the anchor's body).
fn body(seq: usize, size: usize) -> Bytes {
    let mut b = format!("seq={seq};").into_bytes();
    b.resize(size.max(b.len()), b'x');
    Bytes::from(b)
}

/// `n` synchronous persistent sends to `queue`, spread over `producers` connections that
/// start together.
async fn produce(broker: &Broker, queue: &str, n: usize, producers: usize, size: usize) -> Result<Produce> {
    let mut clients = Vec::new();
    for _ in 0..producers {
        clients.push(Client::connect(broker).await?);
    }
    let io_before = DeviceIo::now();
    let t0 = Instant::now();
    let tasks = clients.into_iter().enumerate().map(|(p, mut c)| {
        // Producer p sends the seqs p, p+producers, ...
        let seqs: Vec<usize> = (p..n).step_by(producers).collect();
        async move {
            let mut lat = Vec::with_capacity(seqs.len());
            for seq in seqs {
                let id = seq.to_string();
                let frame = Frame::new("SEND")
                    .header("destination", queue)
                    .header("persistent", "true")
                    .header("receipt", id.clone())
                    .header("seq", id.clone())
                    .body(body(seq, size));
                let t = Instant::now();
                c.framed.send(frame).await.map_err(codec_err)?;
                c.wait_receipt(&id).await?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let done = t0.elapsed();
            c.close().await?;
            Ok::<_, Error>((lat, done))
        }
    });
    let results = futures::future::try_join_all(tasks).await?;
    let io = DeviceIo::now().zip(io_before).map(|(after, before)| after.per(before, n));
    let total = results.iter().map(|(_, d)| *d).max().unwrap_or_default();
    let mut lat: Vec<f64> = results.into_iter().flat_map(|(l, _)| l).collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let p99 = lat[((lat.len() as f64 * 0.99).ceil() as usize).clamp(1, lat.len()) - 1];
    Ok(Produce { msgs_per_s: n as f64 / total.as_secs_f64(), median_ms: median(&lat), p99_ms: p99, io })
}

/// Receives `n` messages from `queue` with the given ack mode.
async fn consume(broker: &Broker, queue: &str, n: usize, ack: &str) -> Result<Consume> {
    let mut c = Client::connect(broker).await?;
    let individual = ack == "client-individual";
    let t0 = Instant::now();
    c.framed
        .send(Frame::new("SUBSCRIBE").header("id", "0").header("destination", queue).header("ack", ack))
        .await
        .map_err(codec_err)?;
    let mut seen = vec![false; n];
    let mut got = 0;
    while got < n {
        let f = c.next().await?;
        if f.command != "MESSAGE" {
            continue;
        }
        let seq: usize = f
            .get("seq")
            .and_then(|s| s.parse().ok())
            .filter(|s| *s < n)
            .ok_or_else(|| Error::protocol(format!("{queue}: a MESSAGE without a valid seq header")))?;
        if std::mem::replace(&mut seen[seq], true) {
            return Err(Error::protocol(format!("{queue}: seq {seq} delivered twice")));
        }
        got += 1;
        if individual {
            let id = f.get("ack").ok_or_else(|| Error::protocol("MESSAGE without an ack header"))?;
            let mut frame = Frame::new("ACK").header("id", id);
            if got == n {
                frame = frame.header("receipt", "acked");
            }
            c.framed.feed(frame).await.map_err(codec_err)?;
        }
    }
    if individual {
        c.wait_receipt("acked").await?;
    }
    let elapsed = t0.elapsed();
    c.close().await?;
    Ok(Consume { msgs_per_s: n as f64 / elapsed.as_secs_f64() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_size_and_the_seq() {
        assert_eq!(body(7, 1024).len(), 1024);
        assert!(body(7, 1024).starts_with(b"seq=7;"));
        assert_eq!(&body(12345, 3)[..], b"seq=12345;");
    }
}
