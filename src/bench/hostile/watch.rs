//! What `mqsim bench hostile` watches while a probe runs: the master's memory and CPU, and
//! an unrelated producer's stalls. Both run on their own threads until stopped.
//!
//! * [`Sampler`]: the master's `VmRSS` from `/proc/PID/status` and its open file
//!   descriptors every 50 ms (peaks kept), and its CPU time (utime + stime) at start and stop. A process that vanishes ends the
//!   sampling and is reported as gone.
//! * [`Producer`]: one STOMP connection, logged in, sending small persistent messages with
//!   a receipt each, one at a time, 5 ms apart, to its own queue, which it also consumes
//!   (`ack:auto`) so nothing piles up. The *stall* is the longest time one send waited for
//!   its receipt. If the connection fails (the master died, or dropped it) the producer
//!   reconnects to whichever STOMP port answers CONNECTED and sends again; the stall then
//!   runs from the failed send to the receipt of its retry, so a failover's gap counts
//!   whole. A send still waiting when the producer is stopped counts up to that moment.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::wire::{Got, Stomp};

/// Peak RSS and CPU of one process over a probe.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub peak_mib: f64,
    /// CPU time used per wall-clock second (1.0 = one core busy), over the sampling.
    pub cpu: f64,
    /// The process was gone before sampling stopped.
    pub gone: bool,
    /// The most file descriptors it had open at once.
    pub peak_fds: usize,
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Usage>,
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = procfs::process::Process::new(pid as i32).and_then(|p| p.stat()).ok()?;
    Some((stat.utime + stat.stime) as f64 / procfs::ticks_per_second() as f64)
}

impl Sampler {
    pub fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let (t0, cpu0) = (Instant::now(), cpu_seconds(pid));
            let mut usage = Usage::default();
            let mut cpu1 = cpu0;
            while !flag.load(Ordering::Relaxed) {
                match crate::bench::stomp::rss_mib(pid, "VmRSS") {
                    Some(m) => usage.peak_mib = usage.peak_mib.max(m),
                    None => {
                        usage.gone = true;
                        break;
                    }
                }
                cpu1 = cpu_seconds(pid).or(cpu1);
                let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
                usage.peak_fds = usage.peak_fds.max(fds);
                std::thread::sleep(Duration::from_millis(50));
            }
            if let (Some(a), Some(b)) = (cpu0, cpu1) {
                usage.cpu = (b - a) / t0.elapsed().as_secs_f64().max(1e-3);
            }
            usage
        });
        Sampler { stop, handle }
    }

    pub fn finish(self) -> Usage {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

/// What the unrelated producer saw.
#[derive(Debug, Clone, Default)]
pub struct Stalls {
    /// Sends that got their receipt.
    pub sends: u64,
    /// The longest wait of one send for its receipt (retries included), ms.
    pub max_stall_ms: f64,
    /// Connections lost and made again.
    pub reconnects: u32,
    /// The first problem it met, if any.
    pub first_error: Option<String>,
}

pub struct Producer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Stalls>,
}

impl Producer {
    /// Starts sending to `queue`, connecting to the first of `ports` that answers CONNECTED
    /// (the master's first) with `login` headers.
    pub fn start(ports: Vec<u16>, login: Vec<(String, String)>, queue: String) -> Producer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || produce(&ports, &login, &queue, &flag));
        Producer { stop, handle }
    }

    pub fn finish(self) -> Stalls {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

fn connect_any(ports: &[u16], login: &[(String, String)], queue: &str, stop: &AtomicBool) -> Result<Stomp, String> {
    let headers: Vec<(&str, &str)> = login.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut last = String::from("no STOMP port");
    for &port in ports {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match Stomp::login(port, &headers) {
            Ok(mut s) => {
                let sub = [("id", "own"), ("destination", queue), ("ack", "auto")];
                if s.send("SUBSCRIBE", &sub, b"").is_ok() {
                    return Ok(s);
                }
            }
            Err(e) => last = format!("port {port}: {e}"),
        }
    }
    Err(last)
}

fn produce(ports: &[u16], login: &[(String, String)], queue: &str, stop: &AtomicBool) -> Stalls {
    let mut st = Stalls::default();
    let mut conn: Option<Stomp> = None;
    // When the send now outstanding (or being retried) was first written.
    let mut waiting_since: Option<Instant> = None;
    let note = |st: &mut Stalls, e: String| {
        if st.first_error.is_none() {
            st.first_error = Some(e);
        }
    };
    let mut seq = 0u64;
    'outer: while !stop.load(Ordering::Relaxed) {
        let Some(c) = conn.as_mut() else {
            match connect_any(ports, login, queue, stop) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    waiting_since.get_or_insert_with(Instant::now);
                    note(&mut st, format!("reconnect failed: {e}"));
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            continue;
        };
        let since = *waiting_since.get_or_insert_with(Instant::now);
        seq += 1;
        let id = format!("p{seq}");
        let body = format!("unrelated {seq}");
        let frame = [("destination", queue), ("persistent", "true"), ("receipt", id.as_str())];
        if c.send("SEND", &frame, body.as_bytes()).is_err() {
            note(&mut st, "send failed: connection lost".into());
            (conn, st.reconnects) = (None, st.reconnects + 1);
            continue;
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                break 'outer;
            }
            match c.next(Duration::from_millis(200)) {
                Got::Frame(f) if f.command == "RECEIPT" && f.get("receipt-id") == Some(id.as_str()) => {
                    st.sends += 1;
                    st.max_stall_ms = st.max_stall_ms.max(since.elapsed().as_secs_f64() * 1e3);
                    waiting_since = None;
                    std::thread::sleep(Duration::from_millis(5));
                    break;
                }
                Got::Frame(f) if f.command == "ERROR" => {
                    note(&mut st, format!("got {}", f.describe()));
                    (conn, st.reconnects) = (None, st.reconnects + 1);
                    break;
                }
                Got::Frame(_) | Got::Timeout => continue,
                Got::Closed => {
                    note(&mut st, "connection closed by the broker".into());
                    (conn, st.reconnects) = (None, st.reconnects + 1);
                    break;
                }
            }
        }
    }
    if let Some(since) = waiting_since {
        st.max_stall_ms = st.max_stall_ms.max(since.elapsed().as_secs_f64() * 1e3);
    }
    if let Some(c) = conn {
        c.disconnect();
    }
    st
}
