//! The probes of `mqsim bench hostile` that spend the master's resources (memory, CPU,
//! file descriptors, disk) or its store: rows 2, 4, 5, 8, 9 and 13 of issue 11. Bounded in
//! time like the others ([`super::probes`]).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::cluster::{CONSOLE_AUTH, login_headers};
use super::probes::{Ctx, Outcome, login};
use super::wire::{self, Got, Stomp, short};

pub(super) fn openwire_null_list(c: &Ctx) -> Result<Outcome, String> {
    let frame = wire::openwire_null_list(20_000_000);
    let mut s = wire::tcp(c.master.openwire, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_write_timeout(Some(Duration::from_secs(15)));
    let t0 = Instant::now();
    let wrote = s.write_all(&frame);
    let mut got_bytes = Vec::new();
    let keep = |b: &[u8]| {
        if got_bytes.len() < 1 << 20 {
            got_bytes.extend_from_slice(b);
        }
    };
    // A read error other than the timeout counts as closed.
    let closed = wire::read_until_closed(&mut s, Duration::from_secs(8), keep).unwrap_or(true);
    let names = wire::openwire_frame_names(&got_bytes);
    let frames = if names.is_empty() { "no frame".to_string() } else { names.join(" + ") };
    let wrote = match wrote {
        Ok(()) => "all 20 MB written".to_string(),
        Err(e) => format!("write stopped: {e}"),
    };
    let end = if closed {
        format!("closed after {:.1} s", t0.elapsed().as_secs_f64())
    } else {
        "still open after 8 s".into()
    };
    Ok(Outcome { offender: format!("{frames}, {end}"), result: wrote })
}

/// Row 5 as the issue ran it: a 5,000-character selector (now over `limits::MAX_SELECTOR`).
pub(super) fn selector_flood(c: &Ctx) -> Result<Outcome, String> {
    let selector = format!("hdr LIKE '%{}b'", "a".repeat(5000 - 13));
    debug_assert_eq!(selector.len(), 5000);
    selector_attack(c, &selector, "/queue/hostile.selector")
}

/// Row 5 by an attacker who knows the limit: selectors just under it whose `_`s make LIKE
/// try every position, so each judgement runs into the step budget (`limits::SELECTOR_STEPS`).
pub(super) fn selector_budget(c: &Ctx) -> Result<Outcome, String> {
    let selector = format!("hdr LIKE '%{}b%'", "a_".repeat(1_900));
    debug_assert!(selector.len() < crate::limits::MAX_SELECTOR);
    selector_attack(c, &selector, "/queue/hostile.budget")
}

fn selector_attack(c: &Ctx, selector: &str, dest: &str) -> Result<Outcome, String> {
    let mut subs = login(c.master.stomp)?;
    let (mut accepted, mut sub_error) = (0, None);
    for i in 0..10 {
        let (id, receipt) = (format!("s{i}"), format!("r{i}"));
        let h = [
            ("id", id.as_str()),
            ("destination", dest),
            ("ack", "auto"),
            ("selector", selector),
            ("receipt", &receipt),
        ];
        if let Err(e) = subs
            .send("SUBSCRIBE", &h, b"")
            .map_err(|e| e.to_string())
            .and_then(|_| subs.receipt(&receipt, Duration::from_secs(10)))
        {
            sub_error = Some(e);
            break;
        }
        accepted += 1;
    }
    let mut sender = login(c.master.stomp)?;
    let value = "a".repeat(10_000);
    let (mut sent, mut slowest, mut send_error) = (0, 0.0f64, None);
    let t0 = Instant::now();
    while sent < 10 && t0.elapsed() < Duration::from_secs(12) {
        let id = format!("m{sent}");
        let h = [("destination", dest), ("persistent", "true"), ("receipt", id.as_str()), ("hdr", value.as_str())];
        let t = Instant::now();
        match sender
            .send("SEND", &h, b"slow to match")
            .map_err(|e| e.to_string())
            .and_then(|_| sender.receipt(&id, Duration::from_secs(15)))
        {
            Ok(()) => sent += 1,
            Err(e) => {
                send_error = Some(e);
                break;
            }
        }
        slowest = slowest.max(t.elapsed().as_secs_f64());
    }
    drop(subs);
    sender.disconnect();
    let subs = match sub_error {
        None => format!("{accepted}/10 subscriptions accepted"),
        Some(e) => format!("{accepted}/10 subscriptions accepted, then {e}"),
    };
    let sends = match send_error {
        None => format!("{sent} message(s) accepted"),
        Some(e) => format!("{sent} message(s) accepted, then {e}"),
    };
    Ok(Outcome {
        offender: format!("{subs}; {sends}"),
        result: format!("slowest receipt of the offender's sends: {slowest:.2} s"),
    })
}

pub(super) fn console_flood(c: &Ctx) -> Result<Outcome, String> {
    const FLOOD: usize = 1100;
    let port = c.master.console;
    let t0 = Instant::now();
    let mut partial = wire::tcp(port, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
    partial.write_all(b"GET /admin/ HTTP/1.1\r\nHost: 127.0.0.1\r\n").map_err(|e| e.to_string())?;
    let mut flood = Vec::with_capacity(FLOOD);
    let mut open_error = None;
    // 3 s per connect: when the listen backlog is full the kernel drops a SYN and the
    // client resends it after 1 s; the flood is of established connections.
    while flood.len() < FLOOD && t0.elapsed() < Duration::from_secs(20) {
        match wire::tcp(port, Duration::from_secs(3)) {
            Ok(s) => flood.push(s),
            Err(e) => {
                open_error = Some(e.to_string());
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    // New clients meanwhile: STOMP (another port of the same process) and the console.
    let mut stomp_ok = 0;
    for _ in 0..3 {
        let t = Instant::now();
        if let Ok((s, Got::Frame(f))) = Stomp::connect(c.master.stomp, &login_headers(), Duration::from_secs(2))
            && f.command == "CONNECTED"
            && t.elapsed() < Duration::from_secs(2)
        {
            stomp_ok += 1;
            s.disconnect();
        }
    }
    let req = wire::http_request("GET", "/admin/", &format!("127.0.0.1:{port}"), CONSOLE_AUTH, &[], b"");
    let console = match wire::http(port, &req, Duration::from_secs(2)) {
        Ok((code, _)) => format!("HTTP {code}"),
        Err(e) => format!("**{e}**"),
    };
    std::thread::sleep(Duration::from_secs(5).saturating_sub(t0.elapsed()));
    // Which flood connections did the master close (or answer)?
    let mut closed = 0;
    for s in &mut flood {
        let _ = s.set_nonblocking(true);
        let mut b = [0u8; 1];
        if !matches!(s.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            closed += 1;
        }
    }
    let opened = flood.len();
    drop(flood);
    // The partial request: closed by the master within 15 s of being sent?
    let mut partial_closed = None;
    let mut b = [0u8; 256];
    while t0.elapsed() < Duration::from_secs(15) {
        let _ = partial.set_read_timeout(Some(Duration::from_millis(200)));
        match partial.read(&mut b) {
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            _ => {
                partial_closed = Some(t0.elapsed().as_secs_f64());
                break;
            }
        }
    }
    let mut offender = format!("{opened}/{FLOOD} connections opened, {closed} closed or answered by the master");
    if let Some(e) = open_error {
        offender += &format!(" (opening stopped: {e})");
    }
    offender += &match partial_closed {
        Some(t) => format!("; partial request ended after {t:.1} s"),
        None => format!("; partial request still open after {:.0} s", t0.elapsed().as_secs_f64()),
    };
    let verdict = if stomp_ok == 3 { String::new() } else { "**".into() };
    Ok(Outcome {
        offender,
        result: format!(
            "meanwhile {verdict}new STOMP clients connected within 2 s: {stomp_ok}/3{verdict}; a console GET: {console}"
        ),
    })
}

pub(super) fn slow_subscriber(c: &Ctx) -> Result<Outcome, String> {
    let dest = "/topic/hostile.slow";
    let mut slow = login(c.master.stomp)?;
    slow.send("SUBSCRIBE", &[("id", "slow"), ("destination", dest), ("ack", "auto"), ("receipt", "s")], b"")
        .map_err(|e| e.to_string())?;
    slow.receipt("s", Duration::from_secs(5))?;
    let mut publisher = login(c.master.stomp)?;
    let body = vec![b'x'; 1 << 20];
    let (mut sent, mut error) = (0, None);
    let t0 = Instant::now();
    while sent < 300 && t0.elapsed() < Duration::from_secs(25) {
        let id = format!("p{sent}");
        match publisher
            .send("SEND", &[("destination", dest), ("receipt", id.as_str())], &body)
            .map_err(|e| e.to_string())
            .and_then(|_| publisher.receipt(&id, Duration::from_secs(12)))
        {
            Ok(()) => sent += 1,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let published = format!("{sent} × 1 MiB published in {:.1} s", t0.elapsed().as_secs_f64());
    let published = match error {
        Some(e) => format!("{published}, then the publisher got: {e}"),
        None => published,
    };
    drop(publisher);
    // Now read what the slow subscriber was left: a few seconds at most.
    let (mut got_n, mut end) = (0, "still subscribed");
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        match slow.next(deadline.saturating_duration_since(Instant::now()).min(Duration::from_secs(1))) {
            Got::Frame(f) if f.command == "MESSAGE" => got_n += 1,
            Got::Frame(f) if f.command == "ERROR" => {
                end = "got an ERROR";
                break;
            }
            Got::Frame(_) => {}
            Got::Closed => {
                end = "closed by the master";
                break;
            }
            Got::Timeout => break,
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    Ok(Outcome {
        offender: format!("{end}; read {got_n} messages when it finally read (for up to 6 s)"),
        result: published,
    })
}

pub(super) fn long_queue_name(c: &Ctx) -> Result<Outcome, String> {
    let dest = format!("/queue/{}", "q".repeat(600));
    let mut s = login(c.master.stomp)?;
    let sent = match s.send_persistent(&dest, b"long", "long", Duration::from_secs(10)) {
        Ok(()) => "RECEIPT".to_string(),
        Err(e) => e,
    };
    drop(s);
    std::thread::sleep(Duration::from_secs(1));
    let t0 = Instant::now();
    let restart = c.cluster.mqsim(&["restart", "nodes"], Duration::from_secs(60));
    let back = c.cluster.serving_master(Duration::from_secs(30).saturating_sub(t0.elapsed()));
    let result = match (restart, back) {
        (Err(e), _) => format!("`mqsim restart nodes` failed: {}", short(&e.to_string(), 80)),
        (Ok(_), Some(m)) => {
            format!("after restarting every node, {} serves again after {:.1} s", m.name, t0.elapsed().as_secs_f64())
        }
        (Ok(_), None) => {
            let st = c.cluster.status().ok();
            let nodes = st.as_ref().map_or("no status".into(), |st| {
                st.nodes
                    .iter()
                    .map(|n| {
                        format!("{} {}", n.name, n.role.as_ref().map_or(n.state.as_str(), crate::status::Role::as_str))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let exit = st
                .iter()
                .flat_map(|st| &st.nodes)
                .filter(|n| n.state == crate::status::ProcState::Down)
                .find_map(|n| exit_message(&n.log))
                .map_or(String::new(), |e| format!("; a node exited with `{e}`"));
            format!("**no master within 30 s of restarting every node** ({nodes}{exit})")
        }
    };
    Ok(Outcome { offender: sent, result })
}

/// The message a node printed when it exited (`error: ...`, its log's last such line).
fn exit_message(log: &str) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().rev().find_map(|l| l.strip_prefix("error:")).map(|m| short(m.trim(), 90))
}

pub(super) fn store_fill(c: &Ctx) -> Result<Outcome, String> {
    let dest = "/queue/hostile.fill";
    let body = vec![b'f'; 1 << 20];
    let before = c.cluster.store_bytes(&c.master.name);
    let mut p = login(c.master.stomp)?;
    let t = Duration::from_secs(15);
    let mut sent = 0;
    let mut first_error = None;
    while sent < 40 {
        match p.send_persistent(dest, &body, &format!("a{sent}"), t) {
            Ok(()) => sent += 1,
            Err(e) => {
                first_error = Some(e);
                break;
            }
        }
    }
    let mut consumer = login(c.master.stomp)?;
    consumer
        .send("SUBSCRIBE", &[("id", "fill"), ("destination", dest), ("ack", "auto")], b"")
        .map_err(|e| e.to_string())?;
    let mut consumed = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while consumed < sent {
        match consumer.next(deadline.saturating_duration_since(Instant::now())) {
            Got::Frame(f) if f.command == "MESSAGE" => consumed += 1,
            Got::Frame(_) => {}
            _ => break,
        }
    }
    consumer.disconnect();
    std::thread::sleep(Duration::from_secs(2));
    let after = c.cluster.store_bytes(&c.master.name);
    // Then keep sending without consuming, against the storeLimit.
    let (mut more, t0) = (0, Instant::now());
    let mut refused = None;
    while first_error.is_none() && more < 100 && t0.elapsed() < Duration::from_secs(20) {
        match p.send_persistent(dest, &body, &format!("b{more}"), t) {
            Ok(()) => more += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let full = c.cluster.store_bytes(&c.master.name);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let offender = match (first_error, refused) {
        (Some(e), _) => format!("the first 40 stopped at {sent}: {e}"),
        (None, Some(e)) => format!("after {more} MiB more: {e}"),
        (None, None) => format!("**never refused**: {more} MiB more accepted"),
    };
    let result = format!(
        "store {:.1} → {:.1} MiB after {sent} MiB sent and {consumed} consumed → {:.1} MiB after {more} MiB more (storeLimit {} MiB)",
        mib(before),
        mib(after),
        mib(full),
        super::cluster::STORE_LIMIT >> 20
    );
    Ok(Outcome { offender, result })
}
