//! `mqsim send` and `mqsim recv`: a STOMP producer and consumer that fail over like ActiveMQ
//! clients, for watching what a master failure does to messages (outage, duplicates, gaps).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, ValueEnum};

use crate::client::{AckMode, ConnectOptions, FailoverUrl, ReconnectEvent, StompClient};
use crate::config::Config;
use crate::error::{Error, Result};

/// Exactly one of `--queue` / `--topic`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Destination {
    /// Queue name (sent as `/queue/<Q>`).
    #[arg(long, value_name = "Q")]
    queue: Option<String>,
    /// Topic name (sent as `/topic/<T>`).
    #[arg(long, value_name = "T")]
    topic: Option<String>,
}

impl Destination {
    /// The STOMP destination; a name that already starts with `/` is used as is.
    fn stomp(&self) -> String {
        let (kind, name) = match (&self.queue, &self.topic) {
            (Some(q), _) => ("queue", q.as_str()),
            (None, Some(t)) => ("topic", t.as_str()),
            (None, None) => ("queue", ""),
        };
        if name.starts_with('/') { name.to_string() } else { format!("/{kind}/{name}") }
    }
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Broker URL, e.g. `failover:(tcp://127.0.0.1:61613,...)?randomize=false` [default: the
    /// STOMP failover URL of the cluster in --config].
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    destination: Destination,
    /// Messages to send, one at a time, each waiting for its RECEIPT.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// Body size in bytes: `seq=<n>;` padded with `x`.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Send with `persistent:true` (the broker stores before it answers).
    #[arg(long)]
    persistent: bool,
    /// Use this text as every body instead of the padded `seq=<n>;`.
    #[arg(long)]
    body: Option<String>,
    /// At most this many messages per second (a steady producer for demos and tests).
    #[arg(long)]
    rate: Option<f64>,
    /// Give up (exit 1) when no broker has answered for this long: at the first connect, or
    /// while a send waits through a failover. `0s` waits forever, as ActiveMQ's default does.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,
    /// Print one JSON object `{sent, seconds, rate, reconnects}` at the end (progress lines
    /// go to stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AckArg {
    Auto,
    Client,
    ClientIndividual,
}

#[derive(Debug, Args)]
pub struct RecvArgs {
    /// Broker URL [default: the STOMP failover URL of the cluster in --config].
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    destination: Destination,
    /// Stop after this many distinct messages (exit non-zero if fewer arrive). Also the
    /// prefetch (capped at 1000), so an auto-ack consumer does not swallow extra messages.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this long without a message (reconnecting does not count), e.g. `5s`,
    /// `500ms` or a number of seconds. With no broker at all, it gives up after 60 s (or this,
    /// if longer).
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,
    /// Subscription ack mode; in the client modes each message is ACKed once counted.
    #[arg(long, value_enum, default_value_t = AckArg::Auto)]
    ack: AckArg,
    /// Print one JSON object `{received, distinct, duplicates, seqs_missing_below_max,
    /// reconnects}` (progress lines go to stderr).
    #[arg(long)]
    json: bool,
}

/// A duration as everywhere else in mqsim (`2s`, `500ms`, `1m 30s`), or a bare number of
/// seconds (`5`, `0.5`), which `recv --timeout` took before.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    if let Ok(secs) = text.trim().parse::<f64>() {
        return Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("`{text}` is not a duration; use e.g. 30s, 500ms or 2m"));
    }
    humantime::parse_duration(text).map_err(|e| format!("`{text}` is not a duration ({e}); use e.g. 30s, 500ms or 2m"))
}

/// Runs `step` for at most `limit` (no limit when zero); on time-out, says which URL
/// never answered.
async fn bounded<T>(
    limit: Duration,
    url: &FailoverUrl,
    what: &str,
    step: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    if limit.is_zero() {
        return step.await;
    }
    tokio::time::timeout(limit, step).await.unwrap_or_else(|_| {
        Err(Error::Timeout(format!(
            "{what}: no broker answered at {url} for {} (is the cluster up? `mqsim status` shows it)",
            humantime::format_duration(limit)
        )))
    })
}

fn resolve_url(url: Option<String>, load: impl FnOnce() -> Result<Config>) -> Result<FailoverUrl> {
    let text = match url {
        Some(u) => u,
        None => load()?.stomp_failover_url(),
    };
    text.parse()
}

/// The live line of a long `send`/`recv` (acked or received, rate, failovers), drawn only
/// when both stdout and stderr are a terminal: piped output stays exactly the summary lines.
fn progress(count: u64, verb: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if count < 2 || !std::io::stdout().is_terminal() || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(count);
    let style =
        indicatif::ProgressStyle::with_template(&format!("{verb} {{pos}}/{{len}} [{{bar:30}}] {{per_sec}}, {{msg}}"))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message("0 failovers");
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn reconnect_line(ev: &ReconnectEvent) -> String {
    format!("reconnected to {} after {} ms ({} lost: {})", ev.uri, ev.outage().as_millis(), ev.from, ev.cause)
}

/// `seq=<n>;` padded with `x` to `size` bytes (never shorter than the prefix).
fn padded_body(seq: u64, size: usize) -> Bytes {
    let mut body = format!("seq={seq};").into_bytes();
    if body.len() < size {
        body.resize(size, b'x');
    }
    Bytes::from(body)
}

/// `mqsim send`.
pub fn send(args: SendArgs, load: impl FnOnce() -> Result<Config>) -> Result<()> {
    crate::logging::init_client();
    let url = resolve_url(args.url.clone(), load)?;
    super::runtime(false).block_on(async move {
        let destination = args.destination.stomp();
        let connect = StompClient::connect(&url, ConnectOptions::default());
        let mut client = bounded(args.timeout, &url, "not connected", connect).await?;
        let bar = progress(args.count, "acked");
        let note = |line: String| {
            if args.json {
                bar.suspend(|| eprintln!("{line}"));
            } else {
                bar.suspend(|| println!("{line}"));
            }
        };
        note(format!("connected to {}", client.current_uri()));
        let producer = format!("{:016x}", rand::random::<u64>());
        let started = Instant::now();
        let mut reconnects = 0usize;
        let mut pace = args.rate.filter(|r| *r > 0.0).map(|r| {
            let mut i = tokio::time::interval(std::time::Duration::from_secs_f64(1.0 / r));
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        for seq in 1..=args.count {
            if let Some(p) = pace.as_mut() {
                p.tick().await;
            }
            let body = match &args.body {
                Some(text) => Bytes::from(text.clone()),
                None => padded_body(seq, args.size),
            };
            let seq_text = seq.to_string();
            let headers = [("mqsim-producer", producer.as_str()), ("mqsim-seq", seq_text.as_str())];
            let send = client.send(&destination, body, &headers, args.persistent);
            let sent = bounded(args.timeout, &url, "no RECEIPT", send).await;
            for ev in client.take_reconnects() {
                reconnects += 1;
                note(reconnect_line(&ev));
                bar.set_message(format!("{reconnects} failovers"));
            }
            if let Err(e) = sent {
                bar.abandon();
                return Err(e.context(format!("message {seq} of {} not sent", args.count)));
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let secs = started.elapsed().as_secs_f64();
        client.disconnect().await?;
        let rate = if secs > 0.0 { args.count as f64 / secs } else { 0.0 };
        if args.json {
            let out =
                serde_json::json!({ "sent": args.count, "seconds": secs, "rate": rate, "reconnects": reconnects });
            println!("{out}");
        } else {
            println!("sent {} messages in {secs:.2} s ({rate:.0} msg/s), {reconnects} reconnects", args.count);
        }
        Ok(())
    })
}

/// What `recv` counts.
#[derive(Debug, Default)]
struct Tally {
    received: u64,
    /// Producer id → `mqsim-seq` values seen.
    seqs: BTreeMap<String, HashSet<u64>>,
    /// Messages without mqsim headers, by `message-id` (or body when that is missing too).
    others: HashSet<String>,
}

impl Tally {
    fn add(&mut self, msg: &crate::stomp::frame::Frame) {
        self.received += 1;
        let seq = msg.get("mqsim-seq").and_then(|s| s.parse::<u64>().ok());
        match (msg.get("mqsim-producer"), seq) {
            (Some(producer), Some(seq)) => {
                self.seqs.entry(producer.to_string()).or_default().insert(seq);
            }
            _ => {
                let key = msg
                    .get("message-id")
                    .map_or_else(|| String::from_utf8_lossy(&msg.body).into_owned(), str::to_string);
                self.others.insert(key);
            }
        }
    }

    fn distinct(&self) -> u64 {
        let tagged: usize = self.seqs.values().map(HashSet::len).sum();
        (tagged + self.others.len()) as u64
    }

    /// Per producer, the seqs in `1..=max` that never arrived, summed.
    fn missing_below_max(&self) -> u64 {
        self.seqs
            .values()
            .map(|s| {
                let max = s.iter().copied().max().unwrap_or(0);
                max - s.iter().filter(|&&n| n >= 1 && n <= max).count() as u64
            })
            .sum()
    }
}

/// `mqsim recv`.
pub fn recv(args: RecvArgs, load: impl FnOnce() -> Result<Config>) -> Result<()> {
    crate::logging::init_client();
    let url = resolve_url(args.url.clone(), load)?;
    if args.timeout.is_zero() {
        return Err(Error::InvalidInput("--timeout must be longer than zero, e.g. 5s".into()));
    }
    let idle = args.timeout;
    let bar = progress(args.count.unwrap_or(0), "received");
    let note = |line: String| {
        if args.json {
            bar.suspend(|| eprintln!("{line}"));
        } else {
            bar.suspend(|| println!("{line}"));
        }
    };
    let ack = match args.ack {
        AckArg::Auto => AckMode::Auto,
        AckArg::Client => AckMode::Client,
        AckArg::ClientIndividual => AckMode::ClientIndividual,
    };
    super::runtime(false).block_on(async {
        let destination = args.destination.stomp();
        let connect = StompClient::connect(&url, ConnectOptions::default());
        let mut client = bounded(idle.max(Duration::from_secs(60)), &url, "not connected", connect).await?;
        note(format!("connected to {}", client.current_uri()));
        let prefetch = args.count.map(|n| n.clamp(1, 1000) as u32);
        client.subscribe(&destination, ack, prefetch).await?;
        let started = Instant::now();
        let mut tally = Tally::default();
        let mut reconnects = 0usize;
        loop {
            if args.count.is_some_and(|n| tally.distinct() >= n) {
                break;
            }
            let got = client.recv(idle).await;
            for ev in client.take_reconnects() {
                reconnects += 1;
                note(reconnect_line(&ev));
                bar.set_message(format!("{reconnects} failovers"));
            }
            let Some(msg) = got? else { break };
            tally.add(&msg);
            bar.set_position(tally.distinct());
            if ack != AckMode::Auto {
                client.ack(&msg).await?;
            }
        }
        bar.finish_and_clear();
        let secs = started.elapsed().as_secs_f64();
        client.disconnect().await?;
        let distinct = tally.distinct();
        let duplicates = tally.received - distinct;
        let missing = tally.missing_below_max();
        if args.json {
            let summary = serde_json::json!({
                "received": tally.received,
                "distinct": distinct,
                "duplicates": duplicates,
                "seqs_missing_below_max": missing,
                "reconnects": reconnects,
            });
            println!("{summary}");
        } else {
            println!(
                "received {} messages ({duplicates} duplicates), {distinct} distinct from {} \
                 producer(s), {missing} seqs missing below max, {reconnects} reconnects, in \
                 {secs:.2} s",
                tally.received,
                tally.seqs.len()
            );
        }
        match args.count {
            Some(n) if distinct < n => Err(Error::Timeout(format!(
                "got {distinct} of {n} distinct messages; nothing arrived for {}",
                humantime::format_duration(args.timeout)
            ))),
            _ => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stomp::frame::Frame;

    #[test]
    fn bodies_are_padded() {
        assert_eq!(&padded_body(7, 12)[..], b"seq=7;xxxxxx");
        assert_eq!(&padded_body(12345, 3)[..], b"seq=12345;");
    }

    #[test]
    fn tally_counts_duplicates_and_gaps() {
        let mut t = Tally::default();
        let msg = |p: &str, s: &str| Frame::new("MESSAGE").header("mqsim-producer", p).header("mqsim-seq", s);
        for (p, s) in [("a", "1"), ("a", "2"), ("a", "2"), ("a", "5"), ("b", "1")] {
            t.add(&msg(p, s));
        }
        t.add(&Frame::new("MESSAGE").header("message-id", "m1"));
        assert_eq!(t.received, 6);
        assert_eq!(t.distinct(), 5);
        assert_eq!(t.missing_below_max(), 2);
    }

    #[test]
    fn destinations() {
        let d = |q: Option<&str>, t: Option<&str>| {
            Destination { queue: q.map(Into::into), topic: t.map(Into::into) }.stomp()
        };
        assert_eq!(d(Some("orders"), None), "/queue/orders");
        assert_eq!(d(None, Some("news")), "/topic/news");
        assert_eq!(d(Some("/queue/x"), None), "/queue/x");
    }
}
