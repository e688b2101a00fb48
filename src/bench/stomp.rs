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
//! [`report`] turns three runs (ActiveMQ, mqsim `quorum_mem`, mqsim `quorum_disk`) into the
//! `stomp` section of docs/benchmarks.md.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::disk::{DeviceIo, IoPer};
use super::{median, mmm};
use crate::error::{Error, Result};
use crate::stomp::frame::{Frame, Limits, Parsed, StompCodec, Version};

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
        let mut run = parts.next().ok_or_else(|| Error::Other("no bench stomp output to merge".into()))?;
        for p in parts {
            if (p.n, p.size) != (run.n, run.size) {
                return Err(Error::Other(format!(
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
    let addr = opts.url.strip_prefix("tcp://").unwrap_or(&opts.url).to_string();
    if opts.n == 0 || opts.reps == 0 {
        return Err(Error::Other("--n and --reps must be at least 1".into()));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let tag = format!("{}{}", std::process::id(), crate::events::now_ms() % 1_000_000);
    let rss_before_mib = opts.pid.and_then(|p| rss_mib(p, "VmRSS"));
    let loadavg_before = loadavg();
    let started = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_default();
    rt.block_on(async {
        if opts.warmup > 0 {
            let q = format!("/queue/bench.{tag}.warmup");
            produce(&addr, &q, opts.warmup, 1, opts.size).await?;
            consume(&addr, &q, opts.warmup, "client-individual").await?;
            eprintln!("  warm-up: {} sends and receives", opts.warmup);
        }
        let mut reps = Vec::new();
        for rep in 1..=opts.reps {
            let qa = format!("/queue/bench.{tag}.a.{rep}");
            let qb = format!("/queue/bench.{tag}.b.{rep}");
            let a = produce(&addr, &qa, opts.n, 1, opts.size).await?;
            let c = consume(&addr, &qa, opts.n, "client-individual").await?;
            let b = produce(&addr, &qb, opts.n, PRODUCERS, opts.size).await?;
            let c_auto = consume(&addr, &qb, opts.n, "auto").await?;
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

/// One STOMP 1.2 connection.
struct Client {
    framed: Framed<TcpStream, StompCodec>,
}

fn codec_err(e: crate::stomp::frame::CodecError) -> Error {
    Error::Other(format!("STOMP connection: {e}"))
}

impl Client {
    async fn connect(addr: &str) -> Result<Client> {
        let socket = TcpStream::connect(addr).await.map_err(Error::io(format!("connecting to {addr}")))?;
        socket.set_nodelay(true).map_err(Error::io("setting TCP_NODELAY"))?;
        let mut c = Client { framed: Framed::new(socket, StompCodec::new(Limits::default())) };
        let connect = Frame::new("CONNECT")
            .header("accept-version", "1.2")
            .header("host", "localhost")
            .header("heart-beat", "0,0");
        c.framed.send(connect).await.map_err(codec_err)?;
        let f = c.next().await?;
        if f.command != "CONNECTED" {
            return Err(Error::Other(format!("{addr}: expected CONNECTED, got {}", f.command)));
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
                None => return Err(Error::Other("the broker closed the connection".into())),
                Some(Err(e)) => return Err(codec_err(e)),
                Some(Ok(Parsed::HeartBeat)) => continue,
                Some(Ok(Parsed::Frame(f))) if f.command == "ERROR" => {
                    return Err(Error::Other(format!(
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
                return Err(Error::Other(format!("expected RECEIPT {id}, got {:?}", f.get("receipt-id"))));
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
async fn produce(addr: &str, queue: &str, n: usize, producers: usize, size: usize) -> Result<Produce> {
    let mut clients = Vec::new();
    for _ in 0..producers {
        clients.push(Client::connect(addr).await?);
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
async fn consume(addr: &str, queue: &str, n: usize, ack: &str) -> Result<Consume> {
    let mut c = Client::connect(addr).await?;
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
            .ok_or_else(|| Error::Other(format!("{queue}: a MESSAGE without a valid seq header")))?;
        if std::mem::replace(&mut seen[seq], true) {
            return Err(Error::Other(format!("{queue}: seq {seq} delivered twice")));
        }
        got += 1;
        if individual {
            let id = f.get("ack").ok_or_else(|| Error::Other("MESSAGE without an ack header".into()))?;
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

/// The three runs of `scripts/bench-stomp.sh`.
pub struct Runs {
    pub activemq: Run,
    pub quorum_mem: Run,
    pub quorum_disk: Run,
    /// The disk, measured in the same run (`mqsim bench disk`).
    pub disk: Option<super::disk::Disk>,
}

fn yes(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

/// One figure of the disks' work per send in (a), rep by rep (reps without it left out).
fn a_io(run: &Run, f: fn(&IoPer) -> f64) -> Vec<f64> {
    run.reps.iter().filter_map(|x| x.a.io.as_ref().map(f)).collect()
}

/// What the disks did per send in (a), medians over the reps.
fn io_table(rows: &[(&str, &Run)]) -> String {
    let mut s = "### The disks' work per send in (a)\n\nRead from `/proc/diskstats` (every disk of the machine) \
                 around each (a); the brokers not being measured are idle meanwhile.\n\n\
                 | broker | cache flushes per send | KiB written per send |\n|---|---|---|\n"
        .to_string();
    for (name, run) in rows {
        let (flushes, kib) = (a_io(run, |i| i.flushes), a_io(run, |i| i.kib_written));
        if flushes.is_empty() {
            s += &format!("| {name} | not measured | not measured |\n");
            continue;
        }
        s += &format!("| {name} | {} | {} |\n", mmm(&flushes, 2), mmm(&kib, 1));
    }
    s + "\n"
}

/// The `stomp` section of docs/benchmarks.md.
pub fn report(r: &Runs, host: &str, build: &str) -> String {
    let rows = [
        ("mqsim `quorum_mem`", &r.quorum_mem),
        ("mqsim `quorum_disk`", &r.quorum_disk),
        ("ActiveMQ 5.17.2", &r.activemq),
    ];
    let amq = &r.activemq;
    let get = |run: &Run, f: fn(&Rep) -> f64| run.reps.iter().map(f).collect::<Vec<f64>>();
    let ratio = |run: &Run, f: fn(&Rep) -> f64| median(&get(run, f)) / median(&get(amq, f));
    let a = |x: &Rep| x.a.msgs_per_s;
    let b = |x: &Rep| x.b.msgs_per_s;
    let c = |x: &Rep| x.c.msgs_per_s;
    let c2 = |x: &Rep| x.c_auto.msgs_per_s;

    let mut s = format!(
        "## STOMP: persistent throughput and RSS, side by side with ActiveMQ 5.17.2\n\n\
         Measured {} on {host} with `scripts/bench-stomp.sh` (mqsim {build}). One run: the three brokers are \
         up at once and measured in turn, one rep each per round, so that a change in the host's speed during \
         the run falls on all three alike; the same client (`mqsim bench stomp`: raw STOMP 1.2 frames, one \
         thread, TCP_NODELAY) and the procedure of anchor-baseline.md §3: N={} messages of {} bytes per test, \
         a {}-message warm-up in the first round, {} rounds; figures are median [min..max] (n reps). 1-minute \
         load average at the first → after the last rep: ActiveMQ {:.2} → {:.2}, quorum_mem {:.2} → {:.2}, \
         quorum_disk {:.2} → {:.2}.\n\n\
         * **ActiveMQ 5.17.2** (Debian package): **one node, no replication**; Debian's JVM flags \
         (`-Xms512M -Xmx512M`), KahaDB with its default `journalDiskSyncStrategy=always` (an fsync per \
         synchronous send), `useJmx=false`, `schedulerSupport=false`.\n\
         * **mqsim**: the 3-node cluster from `mqsim up` with a real 3-server ZooKeeper ensemble; the master \
         ships every write to **2 slaves** and a persistent send is acknowledged once the master has it and 1 \
         slave (`replicas/2`) has acked it. `quorum_mem`: nobody fsyncs before acking; `quorum_disk`: the master \
         and each slave fsync before acking.\n\n",
        amq.started,
        amq.n,
        amq.size,
        amq.warmup,
        amq.reps.len(),
        amq.loadavg_before,
        amq.loadavg_after,
        r.quorum_mem.loadavg_before,
        r.quorum_mem.loadavg_after,
        r.quorum_disk.loadavg_before,
        r.quorum_disk.loadavg_after,
    );

    let produce_table = |s: &mut String,
                         title: &str,
                         f: fn(&Rep) -> f64,
                         pf: fn(&Rep) -> &Produce,
                         targets: [&str; 2]| {
        *s += &format!(
            "### {title}\n\n| broker | msg/s | per-send median (ms) | per-send p99 (ms) | msg/s vs ActiveMQ | target |\n\
             |---|---|---|---|---|---|\n"
        );
        for (i, (name, run)) in rows.iter().enumerate() {
            let med: Vec<f64> = run.reps.iter().map(|x| pf(x).median_ms).collect();
            let p99: Vec<f64> = run.reps.iter().map(|x| pf(x).p99_ms).collect();
            *s += &format!(
                "| {name} | {} | {} | {} | {:.2}× | {} |\n",
                mmm(&get(run, f), 0),
                mmm(&med, 3),
                mmm(&p99, 3),
                ratio(run, f),
                targets.get(i).copied().unwrap_or("–")
            );
        }
        *s += "\n";
    };
    let am = ratio(&r.quorum_mem, a);
    let ad = ratio(&r.quorum_disk, a);
    let t_mem = format!("≥ 2.50× (single-node persistent rate): {}", yes(am >= 2.5));
    let t_disk = format!("≥ 1.00× while replicating: {}", yes(ad >= 1.0));
    produce_table(&mut s, "(a) 1 producer, synchronous persistent SEND + RECEIPT", a, |x| &x.a, [&t_mem, &t_disk]);
    produce_table(&mut s, "(b) 4 producers (4 connections, N in total), each synchronous", b, |x| &x.b, ["–", "–"]);

    s += &io_table(&rows);

    let mut consume_table = |title: &str, f: fn(&Rep) -> f64| {
        s += &format!("### {title}\n\n| broker | msg/s | vs ActiveMQ | target ≥ 25,000 msg/s |\n|---|---|---|---|\n");
        for (name, run) in rows {
            let m = median(&get(run, f));
            let target = if std::ptr::eq(run, amq) { "–".to_string() } else { yes(m >= 25_000.0).to_string() };
            s += &format!("| {name} | {} | {:.2}× | {target} |\n", mmm(&get(run, f), 0), ratio(run, f));
        }
        s += "\n";
    };
    consume_table("(c) consume (a)'s messages, `ack:client-individual`, one ACK per MESSAGE", c);
    consume_table("(c') consume (b)'s messages, `ack:auto`", c2);

    let mib = |v: Option<f64>| v.map_or("–".to_string(), |m| format!("{m:.1}"));
    s += "### Broker RSS (MiB)\n\nIdle: at least 5 s after the broker first answered a STOMP CONNECT, before the warm-up. \
          After: when the last rep is done, and of that the file-backed part (mapped files: for mqsim \
          its LMDB index, pages the kernel can drop and read again). For mqsim, the master's `mqsim node` \
          process.\n\n\
          | broker | idle | after the run | of which file-backed | idle vs ActiveMQ | target: idle < 30 MiB |\n\
          |---|---|---|---|---|---|\n";
    for (name, run) in rows {
        let idle_ratio = match (run.rss_before_mib, amq.rss_before_mib) {
            (Some(x), Some(y)) => format!("{:.2}×", x / y),
            _ => "–".into(),
        };
        let target = match run.rss_before_mib {
            _ if std::ptr::eq(run, amq) => "–".to_string(),
            Some(m) => yes(m < 30.0).to_string(),
            None => "not measured".into(),
        };
        s += &format!(
            "| {name} | {} | {} | {} | {idle_ratio} | {target} |\n",
            mib(run.rss_before_mib),
            mib(run.rss_after_mib),
            mib(run.rss_after_file_mib)
        );
    }

    let cm = [median(&get(&r.quorum_mem, c)), median(&get(&r.quorum_disk, c))];
    let cam = [median(&get(&r.quorum_mem, c2)), median(&get(&r.quorum_disk, c2))];
    let rss = [r.quorum_mem.rss_before_mib, r.quorum_disk.rss_before_mib];
    s += &format!(
        "\n### Targets (store issue), against ActiveMQ measured in this run\n\n\
         | target | measured (medians) | |\n|---|---|---|\n\
         | `quorum_mem` single producer ≥ 2.5× ActiveMQ's single-node persistent rate | {am:.2}× | {} |\n\
         | `quorum_disk` single producer ≥ 1× it, while replicating | {ad:.2}× | {} |\n\
         | consume ≥ 25,000 msg/s ((c) client-individual and (c') auto, both sync modes) | (c) {:.0} / {:.0}, (c') {:.0} / {:.0} | {} |\n\
         | broker RSS under 30 MiB idle | {} / {} MiB | {} |\n",
        yes(am >= 2.5),
        yes(ad >= 1.0),
        cm[0],
        cm[1],
        cam[0],
        cam[1],
        yes(cm.iter().chain(&cam).all(|m| *m >= 25_000.0)),
        mib(rss[0]),
        mib(rss[1]),
        yes(rss.iter().all(|m| m.is_some_and(|m| m < 30.0))),
    );
    let disk = match &r.disk {
        Some(d) => format!(
            "Measured in this run (`mqsim bench disk`, {} appends per writer): one durable 1 KiB journal append \
             (`pwrite` + `fdatasync`, preallocated file) takes **{:.0} µs alone**{} and **{:.0} µs each with {} \
             writers at once**, each on its own file: the virtual disk serves their writes and flushes one after \
             another.",
            d.appends,
            d.alone_us,
            d.alone_io.map_or(String::new(), |io| format!(
                " ({:.2} cache flushes and {:.1} KiB written per append)",
                io.flushes, io.kib_written
            )),
            d.together_us,
            super::disk::WRITERS
        ),
        None => "(The disk was not measured in this run.)".to_string(),
    };
    let (fd, fa) = (median(&a_io(&r.quorum_disk, |i| i.flushes)), median(&a_io(amq, |i| i.flushes)));
    let per_send = if fd.is_finite() && fa.is_finite() {
        format!(
            " The table above counts it: **{fd:.2} cache flushes per `quorum_disk` send against {fa:.2} per \
             ActiveMQ send** (three fsyncs per send, which the kernel merges when they overlap)."
        )
    } else {
        String::new()
    };
    s += &format!(
        "\nHow to read this:\n\n\
         * A synchronous send to ActiveMQ costs one loopback round trip and one journal fsync on one node. \
         `quorum_mem` costs two round trips (client → master, master → slave → master) and no fsync. \
         `quorum_disk` costs those two round trips and the fsyncs of the master and of the acking slave; \
         every slave fsyncs (`sync:true`), so three journals on one disk flush at about the same moment. {disk}{per_send} \
         So a `quorum_disk` send waits for about two flushes where ActiveMQ's waits for one; on three \
         hosts each node's flush would be its own.\n"
    );
    s += "* Each write is one `pwrite` to the master's append-only journal, shipped to the slaves at once; \
          the master's fsync (one for every write waiting: group commit) overlaps the slaves' round trip; the \
          slaves write, fsync (`*_disk`) and ack every `wal` frame already received together, and update \
          their index only after acking.\n\
          * Replication connections are gated for fault injection in place (`src/faults/gate.rs`), with no proxy \
          hop: master and slave talk directly over loopback.\n\
          * ACKs are not synced (a lost ack means a redelivery, never a loss); one that asks for a RECEIPT is \
          answered once it is written.\n\
          * Everything here shares 2 vCPUs with whatever else runs on the host: the load averages above say \
          how busy it was.\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(label: &str, x: f64) -> Run {
        let rep = |k: f64| Rep {
            a: Produce {
                msgs_per_s: 1000.0 * x * k,
                median_ms: 0.3,
                p99_ms: 1.0,
                io: Some(IoPer { flushes: x * k, kib_written: 4.0 * x }),
            },
            b: Produce { msgs_per_s: 2000.0 * x * k, median_ms: 0.9, p99_ms: 3.0, io: None },
            c: Consume { msgs_per_s: 20_000.0 * x * k },
            c_auto: Consume { msgs_per_s: 30_000.0 * x * k },
        };
        Run {
            label: label.into(),
            url: "tcp://127.0.0.1:1".into(),
            n: 10,
            size: 1024,
            warmup: 0,
            producers: PRODUCERS,
            started: "now".into(),
            loadavg_before: 0.5,
            loadavg_after: 1.0,
            rss_before_mib: Some(20.0 * x),
            rss_after_mib: Some(40.0 * x),
            rss_after_file_mib: Some(10.0 * x),
            reps: vec![rep(1.0), rep(0.9), rep(1.1)],
        }
    }

    #[test]
    fn report_states_ratios_and_targets() {
        let alone_io = Some(IoPer { flushes: 1.0, kib_written: 4.1 });
        let disk = super::super::disk::Disk { appends: 100, alone_us: 91.6, together_us: 204.4, alone_io };
        let r = Runs {
            activemq: run("amq", 1.0),
            quorum_mem: run("mem", 3.0),
            quorum_disk: run("disk", 0.5),
            disk: Some(disk),
        };
        let text = report(&r, "host", "release");
        assert!(text.contains("**92 µs alone** (1.00 cache flushes and 4.1 KiB written per append) and **204 µs each with 3 writers at once**"), "{text}");
        assert!(text.contains("| mqsim `quorum_disk` | 0.50 [0.45..0.55] (3) | 2.0 [2.0..2.0] (3) |"), "{text}");
        assert!(
            text.contains("**0.50 cache flushes per `quorum_disk` send against 1.00 per ActiveMQ send**"),
            "{text}"
        );
        assert!(text.contains("| mqsim `quorum_mem` | 3000 [2700..3300] (3) |"), "{text}");
        assert!(text.contains("≥ 2.50× (single-node persistent rate): **met**"), "{text}");
        assert!(text.contains("≥ 1.00× while replicating: **missed**"), "{text}");
        assert!(text.contains("| broker RSS under 30 MiB idle | 60.0 / 10.0 MiB | **missed** |"), "{text}");
        let json = serde_json::to_string(&r.activemq).unwrap();
        let back: Run = serde_json::from_str(&json).unwrap();
        assert_eq!(back.reps.len(), 3);
    }

    #[test]
    fn rounds_merge_into_one_run_per_broker() {
        let (mut a, mut b) = (run("amq", 1.0), run("amq", 2.0));
        a.rss_after_mib = Some(1.0);
        b.rss_before_mib = Some(99.0);
        let m = Run::merge(vec![a, b.clone()]).unwrap();
        assert_eq!(m.reps.len(), 6);
        assert_eq!((m.rss_before_mib, m.rss_after_mib), (Some(20.0), b.rss_after_mib));
        b.n = 11;
        assert!(Run::merge(vec![run("amq", 1.0), b]).is_err(), "different N cannot be merged");
        assert!(Run::merge(vec![]).is_err());
    }

    #[test]
    fn bodies_have_the_size_and_the_seq() {
        assert_eq!(body(7, 1024).len(), 1024);
        assert!(body(7, 1024).starts_with(b"seq=7;"));
        assert_eq!(&body(12345, 3)[..], b"seq=12345;");
    }
}
