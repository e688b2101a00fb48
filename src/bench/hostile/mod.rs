//! `mqsim bench hostile`: the attacks of issue 11 against a real cluster, with what each
//! one costs the cluster, written into the `hostile` section of docs/benchmarks.md.
//!
//! One private cluster ([`cluster`]: its own temporary state directory, ports `--base` ..
//! `+22`) is started once. For each probe ([`probes::PROBES`]):
//!
//! 1. a master must serve (a logged-in STOMP CONNECT answered); if none does within 30 s the
//!    cluster is stopped, wiped and started again, and the probe says so;
//! 2. a **canary** is seeded: 20 persistent SENDs, each acknowledged by a RECEIPT, to a
//!    queue of the probe's own;
//! 3. the watchers start ([`watch`]): the master's RSS every 50 ms (peak) and CPU, and an
//!    **unrelated producer** sending small persistent messages with receipts, whose longest
//!    wait for one receipt is the probe's *stall*;
//! 4. the probe runs (5–40 s, bounded), then 3 s of settling;
//! 5. recorded: the master's RSS before and peak, its CPU, the stall, whether the master
//!    changed (a *failover*; for the probe that restarts every node, whether one returned),
//!    what the offender got, new `panicked` lines in the master's log, and whether the
//!    canary is intact (consumed from whichever node is master then).
//!
//! A probe that fails, or a master that dies, is recorded and the run goes on. Everything
//! this run started is stopped at the end, by PID if `mqsim down` did not. The figures
//! describe the build that runs (its commit is in the section): run it before and after a
//! change and the section keeps both ([`report`]).

pub mod cluster;
pub mod probes;
pub mod report;
pub mod resources;
pub mod watch;
pub mod wire;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use cluster::{Cluster, Master, login_headers};
use probes::{Ctx, PROBES, Probe};
use wire::{Got, Stomp};

/// Messages in each probe's canary.
pub const CANARY: usize = 20;
/// Quiet time after each probe before the figures are taken.
pub const SETTLE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Options {
    /// First of the 23 ports of the bench cluster.
    pub base: u16,
    /// Only these probes (issue row numbers or names); empty: all.
    pub only: Vec<String>,
}

/// One probe's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeResult {
    pub id: u8,
    pub name: String,
    pub what: String,
    /// The master's RSS just before the probe, and the peak during it (MiB).
    pub rss_before_mib: f64,
    pub rss_peak_mib: f64,
    /// The master's CPU use during the probe (1.0 = one core).
    pub cpu: f64,
    /// The unrelated producer's longest wait for one receipt (ms), its sends and first problem.
    pub stall_ms: f64,
    pub producer_sends: u64,
    pub producer_note: Option<String>,
    /// `no`, `yes: a → b`, `restarted`, `no master`...
    pub failover: String,
    pub failed_over: bool,
    pub offender: String,
    pub result: String,
    /// `20/20`, or what was missing.
    pub canary: String,
    pub canary_intact: bool,
    /// New `panicked` lines in the master's log.
    pub panics: usize,
    /// The cluster had to be rebuilt before the probe, the probe itself failed, ...
    pub notes: Vec<String>,
    pub secs: f64,
}

/// One whole run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    /// `git rev-parse --short HEAD` where it ran (`+changes` if src/ differed).
    pub commit: String,
    pub started: String,
    pub host: String,
    /// `debug` or `release`.
    pub build: String,
    pub secs: f64,
    pub probes: Vec<ProbeResult>,
}

fn selected<'a>(only: &[String]) -> Vec<&'a Probe> {
    PROBES
        .iter()
        .filter(|p| only.is_empty() || p.id == 0 || only.iter().any(|o| o == p.name || o == &p.id.to_string()))
        .collect()
}

/// Runs the probes on a fresh cluster; stops it whatever happens.
pub fn run(opts: &Options, host: String, commit: String) -> Result<Run> {
    let probes = selected(&opts.only);
    if probes.len() <= 1 && !opts.only.is_empty() {
        return Err(crate::Error::InvalidInput(format!("no probe matches {:?}", opts.only)));
    }
    let started = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_default();
    let t0 = Instant::now();
    let cluster = Cluster::new(opts.base)?;
    cluster.stop_on_interrupt();
    eprintln!("  starting the bench cluster (ports {}..{})", opts.base, opts.base + 22);
    let results = cluster.up().map(|()| {
        let mut results: Vec<ProbeResult> = Vec::new();
        for p in probes {
            // After a probe that left no master, rebuild at once rather than wait again.
            let wait = if results.last().is_some_and(|r| r.failover.contains("no master")) { 2 } else { 30 };
            results.push(one(&cluster, p, Duration::from_secs(wait)));
        }
        results
    });
    cluster.remove();
    Ok(Run {
        commit,
        started,
        host,
        build: if cfg!(debug_assertions) { "debug" } else { "release" }.into(),
        secs: t0.elapsed().as_secs_f64(),
        probes: results?,
    })
}

/// A serving master, rebuilding the cluster if none comes within `wait`.
fn healthy(cluster: &Cluster, wait: Duration, notes: &mut Vec<String>) -> Option<Master> {
    if let Some(m) = cluster.serving_master(wait) {
        return Some(m);
    }
    notes.push("no master served before the probe: the cluster was stopped, wiped and started again".into());
    eprintln!("    no serving master: rebuilding the cluster");
    if let Err(e) = cluster.rebuild() {
        notes.push(format!("rebuilding failed: {e}"));
        return None;
    }
    cluster.serving_master(Duration::from_secs(30))
}

fn canary_queue(p: &Probe) -> String {
    format!("/queue/hostile.canary.{}", p.name)
}

fn seed_canary(m: &Master, p: &Probe) -> std::result::Result<(), String> {
    let mut s = Stomp::login(m.stomp, &login_headers())?;
    for i in 0..CANARY {
        s.send_persistent(
            &canary_queue(p),
            format!("canary-{i}").as_bytes(),
            &format!("c{i}"),
            Duration::from_secs(10),
        )?;
    }
    s.disconnect();
    Ok(())
}

/// How many canary bodies the current master delivers (each counted once).
fn check_canary(m: &Master, p: &Probe) -> std::result::Result<usize, String> {
    let mut s = Stomp::login(m.stomp, &login_headers())?;
    s.send("SUBSCRIBE", &[("id", "canary"), ("destination", &canary_queue(p)), ("ack", "auto")], b"")
        .map_err(|e| e.to_string())?;
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(8);
    while seen.len() < CANARY {
        match s.next(deadline.saturating_duration_since(Instant::now())) {
            Got::Frame(f) if f.command == "MESSAGE" => {
                seen.insert(f.body);
            }
            Got::Frame(_) => {}
            _ => break,
        }
    }
    s.disconnect();
    Ok(seen.iter().filter(|b| b.starts_with(b"canary-")).count())
}

fn log_len(m: &Master) -> u64 {
    std::fs::metadata(&m.log).map_or(0, |md| md.len())
}

/// Lines containing `needle` written to `log` after byte `from`.
fn log_lines_since(log: &std::path::Path, from: u64, needle: &str) -> usize {
    let Ok(bytes) = std::fs::read(log) else { return 0 };
    let tail = bytes.get(from as usize..).unwrap_or(&[]);
    String::from_utf8_lossy(tail).lines().filter(|l| l.contains(needle)).count()
}

fn one(cluster: &Cluster, p: &Probe, wait: Duration) -> ProbeResult {
    let t0 = Instant::now();
    eprintln!("  probe {} {}", p.id, p.name);
    let mut r = ProbeResult {
        id: p.id,
        name: p.name.into(),
        what: p.what.into(),
        rss_before_mib: f64::NAN,
        rss_peak_mib: f64::NAN,
        cpu: f64::NAN,
        stall_ms: f64::NAN,
        producer_sends: 0,
        producer_note: None,
        failover: "–".into(),
        failed_over: false,
        offender: "–".into(),
        result: "–".into(),
        canary: "–".into(),
        canary_intact: false,
        panics: 0,
        notes: Vec::new(),
        secs: 0.0,
    };
    let Some(master) = healthy(cluster, wait, &mut r.notes) else {
        r.offender = "not run: no master".into();
        r.secs = t0.elapsed().as_secs_f64();
        return r;
    };
    let seeded = seed_canary(&master, p);
    if let Err(e) = &seeded {
        r.notes.push(format!("seeding the canary failed: {e}"));
    }
    let log_from = log_len(&master);
    r.rss_before_mib = crate::bench::stomp::rss_mib(master.pid, "VmRSS").unwrap_or(f64::NAN);
    let sampler = watch::Sampler::start(master.pid);
    let mut ports = vec![master.stomp];
    ports.extend(cluster.stomp_ports().into_iter().filter(|x| *x != master.stomp));
    let login = login_headers().into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let producer = watch::Producer::start(ports, login, format!("/queue/hostile.producer.{}", p.name));
    std::thread::sleep(Duration::from_millis(300));
    let ctx = Ctx { cluster, master: master.clone() };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (p.run)(&ctx))) {
        Ok(Ok(o)) => (r.offender, r.result) = (o.offender, o.result),
        Ok(Err(e)) => r.offender = format!("probe failed: {e}"),
        Err(_) => r.offender = "probe failed: it panicked (a bench bug)".into(),
    }
    std::thread::sleep(SETTLE);
    let stalls = producer.finish();
    let usage = sampler.finish();
    (r.rss_peak_mib, r.cpu) = (usage.peak_mib, usage.cpu);
    (r.stall_ms, r.producer_sends, r.producer_note) = (stalls.max_stall_ms, stalls.sends, stalls.first_error);
    if stalls.reconnects > 0 {
        r.notes.push(format!("the unrelated producer reconnected {} time(s)", stalls.reconnects));
    }
    r.panics = log_lines_since(&master.log, log_from, "panicked");
    let emfile = log_lines_since(&master.log, log_from, "Too many open files");
    if emfile > 0 {
        r.notes.push(format!("{emfile} `Too many open files` line(s) in the master's log"));
    }
    if usage.peak_fds >= 512 {
        r.notes.push(format!("the master had up to {} files open", usage.peak_fds));
    }
    if p.restarts {
        r.notes.push("the stall includes the probe's own restart of every node".into());
    }
    let after = cluster.serving_master(Duration::from_secs(if p.restarts { 5 } else { 20 }));
    (r.failover, r.failed_over) = match &after {
        None if p.restarts => ("**no master** after the probe's restart of every node".into(), true),
        None if usage.gone => ("**master died; no master within 20 s**".into(), true),
        None => ("**no master within 20 s**".into(), true),
        _ if p.restarts => ("n/a (the probe restarts every node)".into(), false),
        Some(m) if m.name != master.name => (format!("**yes: {} → {}**", master.name, m.name), true),
        Some(m) if m.pid != master.pid => (format!("**{} restarted**", m.name), true),
        Some(_) => ("no".into(), false),
    };
    (r.canary, r.canary_intact) = match (&seeded, &after) {
        (Err(_), _) => ("not seeded".into(), false),
        (Ok(()), None) => ("**unreachable: no master**".into(), false),
        (Ok(()), Some(m)) => match check_canary(m, p) {
            Ok(n) if n == CANARY => (format!("{n}/{CANARY}"), true),
            Ok(n) => (format!("**{n}/{CANARY}**"), false),
            Err(e) => (format!("**not read: {e}**"), false),
        },
    };
    r.secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "    rss {:.0} → {:.0} MiB, stall {:.0} ms, failover {}, canary {}; offender: {}; {}",
        r.rss_before_mib, r.rss_peak_mib, r.stall_ms, r.failover, r.canary, r.offender, r.result
    );
    r
}

/// `git rev-parse --short HEAD` in the current directory, `+changes` when src/ or the
/// manifest differ from it; `unknown` outside a git checkout.
pub fn git_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(c)
            if git(&["status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"])
                .is_some_and(|s| !s.is_empty()) =>
        {
            format!("{c}+changes")
        }
        Some(c) => c,
        None => "unknown".into(),
    }
}

/// `mqsim bench hostile`: runs, prints, and (for a full run) rewrites the `hostile`
/// section of `out`, keeping the earliest stored run for the comparison.
pub fn command(
    opts: &Options,
    out: &std::path::Path,
    fresh: bool,
    commit: Option<String>,
    json: bool,
    host: String,
) -> Result<()> {
    let run = run(opts, host, commit.unwrap_or_else(git_commit))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    }
    if !opts.only.is_empty() {
        print!("{}", report::section(&[run]));
        eprintln!("only some probes ran: {} is left as it was", out.display());
        return Ok(());
    }
    let old = std::fs::read_to_string(out).map(|t| report::stored_runs(&t)).unwrap_or_default();
    let text = report::section(&report::keep(old, run, fresh));
    if !json {
        println!("{text}");
    }
    crate::bench::write_section(out, "hostile", &text)?;
    eprintln!("written to {}", out.display());
    Ok(())
}
