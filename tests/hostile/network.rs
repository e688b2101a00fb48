//! Hostile input: network hygiene (issue 11, rows 8 and 11, item 8's control socket).
//!
//! * Row 8: idle and half-sent requests held open on the master's console must not keep
//!   their sockets past the header-read timeout, must not spin the accept loop, and must not
//!   stop STOMP clients; with the descriptor table exhausted the accept loops back off.
//! * Row 11: the consuming `GET /api/message`, REST POSTs and the dashboard's actions refuse
//!   cross-site requests, and a foreign `Host` (DNS rebinding) is refused everywhere.
//! * The supervisor's control socket is mode 0600 and refuses an oversized request line.
//!
//! Port blocks 85..=89.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::*;
use common::{HttpResponse, http};

/// CPU time (user + system) a process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The share of one core `pid` used over `window` (1.0 = a whole core).
fn cpu_share(pid: u32, window: Duration) -> f64 {
    let ticks_per_s = procfs::ticks_per_second() as f64;
    let before = cpu_ticks(pid);
    std::thread::sleep(window);
    (cpu_ticks(pid) - before) as f64 / ticks_per_s / window.as_secs_f64()
}

fn master_pid(st: &serde_json::Value) -> u32 {
    let m = st["master"].as_str().expect("a master");
    TestCluster::node(st, m)["pid"].as_u64().expect("the master's pid") as u32
}

/// Time until the server closes `s` (EOF or reset), or `None` if still open after `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if start.elapsed() >= limit {
                    return None;
                }
            }
            Err(_) => return Some(start.elapsed()),
        }
    }
}

/// A fresh STOMP client's connect + receipted persistent send; how long it took.
fn timed_send(port: u16, i: usize) -> Duration {
    let start = Instant::now();
    let mut r = RawStomp::connect(port);
    r.send(&format!("SEND\ndestination:/queue/net.probe\npersistent:true\nreceipt:p{i}\n\nprobe {i}"));
    let f = r.frame();
    assert!(f.starts_with("RECEIPT"), "probe {i}: {f}");
    start.elapsed()
}

/// `(soft, hard)` from `/proc/<pid>/limits`' "Max open files" line.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    (f[3].to_string(), f[4].to_string())
}

#[test]
fn idle_and_partial_console_connections_are_dropped_without_spinning_or_blocking_clients() {
    let mut c = TestCluster::new(85);
    // Started with a soft open-file limit of 512 (a login shell's 1024, lower): the
    // supervisor and the nodes raise it to the hard limit.
    let (_, hard) = open_file_limits(std::process::id());
    let out = std::process::Command::new("prlimit")
        .arg(format!("--nofile=512:{hard}"))
        .arg(common::MQSIM)
        .arg("--config")
        .arg(&c.config)
        .arg("up")
        .env("NO_COLOR", "1")
        .output()
        .expect("prlimit (util-linux)");
    assert!(out.status.success(), "mqsim up: {}", String::from_utf8_lossy(&out.stderr));
    let canary = Canary::seed(&c, 20);
    let st = c.status();
    let (console, stomp, pid) = (master_port(&st, "console"), master_port(&st, "stomp"), master_pid(&st));
    let supervisor: u32 =
        std::fs::read_to_string(c.state_dir().join("supervisor.pid")).unwrap().trim().parse().unwrap();
    for (who, p) in [("master", pid), ("supervisor", supervisor)] {
        let (soft, h) = open_file_limits(p);
        assert_eq!((soft.as_str(), h.as_str()), (hard.as_str(), hard.as_str()), "the {who}'s open-file limit");
    }

    // One half-sent request first (it must get a slot), then 299 more idle or half-sent.
    let mut partial = TcpStream::connect(("127.0.0.1", console)).unwrap();
    partial.write_all(b"GET /admin/ HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    let opened = Instant::now();
    let mut flood = Vec::new();
    for i in 0..299 {
        let mut s = TcpStream::connect(("127.0.0.1", console)).unwrap();
        if i % 2 == 0 {
            s.write_all(b"POST /api/message/x?type=queue HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le").unwrap();
        }
        flood.push(s);
    }
    // Over the cap (256): answered 503 or closed at once, not held.
    let mut last = flood.pop().unwrap();
    let refused_in = closed_within(&mut last, Duration::from_secs(3));
    assert!(refused_in.is_some(), "a connection over the console's cap was held open");

    // The node does not spin, and STOMP clients connect and get receipts quickly.
    let share = cpu_share(pid, Duration::from_secs(2));
    assert!(share < 0.5, "the master used {:.0} % of a core while 300 console connections idled", share * 100.0);
    for i in 0..5 {
        let took = timed_send(stomp, i);
        assert!(took < Duration::from_secs(3), "STOMP connect + receipt took {took:?} during the flood");
    }

    // The half-sent request is dropped at the header-read timeout (10 s), well before 15 s.
    let closed = closed_within(&mut partial, Duration::from_secs(15).saturating_sub(opened.elapsed()));
    assert!(closed.is_some(), "a half-sent request was still open {:?} after it was sent", opened.elapsed());
    // And so is the rest of the flood, idle or half-sent.
    for (i, s) in flood.iter_mut().enumerate() {
        let left = Duration::from_secs(16).saturating_sub(opened.elapsed());
        assert!(closed_within(s, left).is_some(), "flood connection {i} still open after 16 s");
    }
    let r = http(console, "GET", "/api/status.json", Some(("admin", "admin")), &[], b"");
    assert_eq!(r.status, 200, "the console serves again: {}", r.body);

    assert_serves(&c);
    canary.assert_intact(&c);
    c.down();
}

#[test]
fn an_exhausted_descriptor_table_makes_accept_loops_back_off_not_spin() {
    let mut c = TestCluster::new(86);
    c.up();
    let canary = Canary::seed(&c, 20);
    let st = c.status();
    let (stomp, pid) = (master_port(&st, "stomp"), master_pid(&st));

    // Leave the master 40 descriptors, then take them all with STOMP connections.
    let open = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as u64;
    let limit = open + 40;
    let out = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={limit}:{limit}")])
        .output()
        .expect("prlimit (util-linux)");
    assert!(out.status.success(), "prlimit: {}", String::from_utf8_lossy(&out.stderr));
    let flood: Vec<TcpStream> = (0..120).map(|_| TcpStream::connect(("127.0.0.1", stomp)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as u64;
    assert!(fds + 5 >= limit, "the master did not run out of descriptors: {fds} open of {limit}");

    // accept(2) now fails with EMFILE while clients wait in the backlog: no spinning.
    let share = cpu_share(pid, Duration::from_secs(2));
    assert!(share < 0.5, "the master used {:.0} % of a core with its descriptors exhausted", share * 100.0);

    // Once the flood goes, clients are served again.
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as u64 + 10 > limit {
        assert!(Instant::now() < deadline, "the master did not release the flood's descriptors");
        std::thread::sleep(Duration::from_millis(200));
    }
    let took = timed_send(stomp, 0);
    assert!(took < Duration::from_secs(5), "STOMP after the flood took {took:?}");
    let master = st["master"].as_str().unwrap();
    let log_file = c.state_dir().join(format!("mq_{master}")).join("logs/broker.log");
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(log.contains("cannot accept connections"), "the EMFILE backoff was not logged\n{}", c.diagnostics());

    assert_serves(&c);
    canary.assert_intact(&c);
    c.down();
}

fn rest(console: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    http(console, method, path, Some(("admin", "admin")), headers, body)
}

/// Like `rest`, but with this `Host` header.
fn http_as(port: u16, host: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    common::http_with_host(port, host, method, path, Some(("admin", "admin")), headers, body)
}

#[test]
fn cross_site_and_dns_rebinding_requests_are_refused() {
    let mut c = TestCluster::new(87);
    c.up();
    let canary = Canary::seed(&c, 10);
    let st = c.status();
    let console = master_port(&st, "console");
    let q = "/api/message/net.victim?type=queue";

    let r = rest(console, "POST", q, &[], b"secret order");
    assert_eq!(r.status, 200, "{}", r.body);

    // A cross-site page's GET (an <img src>, a fetch) must not consume it.
    let read = "/api/message/net.victim?type=queue&readTimeout=1000";
    let r = rest(console, "GET", read, &[("Sec-Fetch-Site", "cross-site")], b"");
    assert_eq!(r.status, 403, "cross-site GET /api/message: {}", r.body);
    assert!(r.body.contains("cross-site"), "{}", r.body);
    let r = rest(console, "GET", read, &[("Origin", "http://evil.example")], b"");
    assert_eq!(r.status, 403, "GET /api/message with a foreign Origin: {}", r.body);
    // DNS rebinding: Host and Origin both the attacker's name.
    let (evil, rebind) = ("evil.example:8161", [("Origin", "http://evil.example:8161")]);
    let r = http_as(console, evil, "GET", read, &rebind, b"");
    assert_eq!(r.status, 403, "rebinding GET /api/message: {}", r.body);
    assert!(r.body.contains("allowedHosts"), "{}", r.body);
    let r = http_as(console, evil, "GET", "/admin/queues.jsp", &rebind, b"");
    assert_eq!(r.status, 403, "rebinding page read: {}", r.body);
    let r = http_as(console, evil, "POST", q, &rebind, b"forged");
    assert_eq!(r.status, 403, "rebinding POST: {}", r.body);
    // A second Host header cannot smuggle the foreign name past the check.
    let r = rest(console, "POST", q, &[("Host", "evil.example")], b"forged");
    assert_eq!(r.status, 403, "two Host headers: {}", r.body);
    // The console still answers to its names.
    let r = http_as(console, "localhost", "GET", "/api/status.json", &[], b"");
    assert_eq!(r.status, 200, "Host: localhost: {}", r.body);
    let r = rest(console, "POST", q, &[("Sec-Fetch-Site", "same-site")], b"forged");
    assert_eq!(r.status, 403, "same-site (another port) POST: {}", r.body);

    // Same-origin (and non-browser) requests still work: exactly the one message is there.
    let same = [("Sec-Fetch-Site", "same-origin"), ("Origin", &*format!("http://127.0.0.1:{console}"))];
    let r = rest(console, "GET", read, &same, b"");
    assert_eq!((r.status, r.body.as_str()), (200, "secret order"), "the refused GETs consumed it");
    let r = rest(console, "GET", "/api/message/net.victim?type=queue&readTimeout=300", &[], b"");
    assert_eq!(r.status, 204, "a refused POST was sent: {}", r.body);

    // REST names and headers the broker owns.
    let r = rest(console, "POST", "/api/message/net.x?type=queue&content-length=5", &[], b"hello\0RECEIPT\n\n");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("content-length"), "{}", r.body);
    let r = rest(console, "POST", "/api/message/net.x?type=queue&receipt-id=forged", &[], b"x");
    assert_eq!(r.status, 400, "{}", r.body);
    let long = format!("/api/message/{}?type=queue", "q".repeat(201));
    let r = rest(console, "POST", &long, &[], b"x");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("limit is 200 bytes"), "{}", r.body);

    // The dashboard's actions: a foreign Origin or Host is refused and nothing happens.
    let dp = c.dashboard_port();
    let pid_of = |st: &serde_json::Value| TestCluster::node(st, "node03")["pid"].as_u64();
    let before = pid_of(&c.status());
    let form = b"verb=kill&target=node03";
    let ctype = ("Content-Type", "application/x-www-form-urlencoded");
    let accept = ("Accept", "application/json");
    let r = http(
        dp,
        "POST",
        "/action",
        Some(("admin", "admin")),
        &[ctype, accept, ("Origin", "http://evil.example")],
        form,
    );
    assert_eq!(r.status, 403, "cross-site dashboard action: {}", r.body);
    let r =
        http(dp, "POST", "/action", Some(("admin", "admin")), &[ctype, accept, ("Sec-Fetch-Site", "cross-site")], form);
    assert_eq!(r.status, 403, "cross-site dashboard action: {}", r.body);
    let rebind_dp = [ctype, accept, ("Origin", "http://evil.example")];
    let r = http_as(dp, "evil.example", "POST", "/action", &rebind_dp, form);
    assert_eq!(r.status, 403, "rebinding dashboard action: {}", r.body);
    let r = http_as(dp, "evil.example", "GET", "/api/status", &[], b"");
    assert_eq!(r.status, 403, "rebinding dashboard read: {}", r.body);
    std::thread::sleep(Duration::from_millis(500));
    let after = c.status();
    assert_eq!(pid_of(&after), before, "a refused action killed node03");
    assert!(before.is_some_and(|p| common::alive(p as u32)), "node03 is running");
    // The page's own buttons (same origin) still work: pause and resume a slave.
    let origin = format!("http://127.0.0.1:{dp}");
    let same_dp = [ctype, accept, ("Sec-Fetch-Site", "same-origin"), ("Origin", &*origin)];
    for verb in ["pause", "resume"] {
        let body = format!("verb={verb}&target=node03");
        let r = http(dp, "POST", "/action", Some(("admin", "admin")), &same_dp, body.as_bytes());
        assert_eq!(r.status, 200, "same-origin {verb}: {}", r.body);
    }

    assert_serves(&c);
    canary.assert_intact(&c);
    c.down();
}

#[test]
fn the_control_socket_is_private_and_its_request_line_bounded() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;

    let mut c = TestCluster::new(88);
    c.up();
    let canary = Canary::seed(&c, 10);
    let sock = c.state_dir().join("supervisor.sock");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "supervisor.sock has mode {mode:o}");

    // 16 MiB without a newline: an error reply, then the connection is closed.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut writer = s.try_clone().unwrap();
    let hog = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < (16 << 20) && writer.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let sent = hog.join().unwrap();
    assert!(reply.contains("longer than"), "reply to an oversized request: {reply:?}");
    assert!(sent < 16 << 20, "the supervisor read all {sent} bytes of an oversized request");

    // A client that sends nothing is dropped after the read timeout (10 s).
    let mut idle = UnixStream::connect(&sock).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let start = Instant::now();
    let mut reply = String::new();
    idle.read_to_string(&mut reply).expect("closed before our 15 s read timeout");
    assert!(reply.contains("no request line"), "{reply:?} after {:?}", start.elapsed());

    // The CLI still works.
    assert!(c.status()["master"].is_string());
    assert_serves(&c);
    canary.assert_intact(&c);
    c.down();
}
