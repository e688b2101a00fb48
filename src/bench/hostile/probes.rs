//! The probes of `mqsim bench hostile`: the attack table of issue 11, each as a local
//! process with no more than a client's credentials would do it, over raw sockets with
//! hand-built frames. Each returns what the offender got and what was measured; each is
//! bounded in time (every socket has timeouts, every loop a deadline) and an `Err` only
//! means the probe itself could not be carried out.
//!
//! Row 10 of the issue (a byte flipped in a stopped slave's journal) is not probed here:
//! it needs a stopped node and a file edit, and the store's own tests cover it.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::cluster::{CONSOLE_AUTH, Cluster, Master, login_headers};
use super::wire::{self, Got, Stomp, short};

/// What a probe reports.
#[derive(Debug, Default)]
pub struct Outcome {
    /// What the offending client got back (error, close, or success).
    pub offender: String,
    /// What the probe measured beyond that.
    pub result: String,
}

pub struct Ctx<'a> {
    pub cluster: &'a Cluster,
    pub master: Master,
}

pub type ProbeFn = fn(&Ctx) -> Result<Outcome, String>;

pub struct Probe {
    /// The row number (0: the idle baseline).
    pub id: u8,
    pub name: &'static str,
    /// What is sent, for the report.
    pub what: &'static str,
    pub run: ProbeFn,
    /// The probe restarts every node itself (so a new master is not a failover).
    pub restarts: bool,
}

/// In the order they run: harmless first, those that may leave a node unable to start
/// or the disk full last.
pub const PROBES: [Probe; 14] = [
    Probe {
        id: 0,
        name: "baseline",
        what: "nothing: 5 s of the unrelated producer alone",
        run: baseline,
        restarts: false,
    },
    Probe {
        id: 14,
        name: "heartbeat-overflow",
        what: "STOMP CONNECT `heart-beat:18446744073709551615,0`",
        run: heartbeat_overflow,
        restarts: false,
    },
    Probe {
        id: 6,
        name: "wrong-credentials",
        what: "STOMP CONNECT `login:nobody passcode:wrong`, and one with no login (the cluster has a `[[user]]`)",
        run: wrong_credentials,
        restarts: false,
    },
    Probe {
        id: 7,
        name: "forged-receipt",
        what: "REST POST `?content-length=5`, body `hello\\0RECEIPT\\nreceipt-id:forged\\n\\n`; then a STOMP consumer",
        run: forged_receipt,
        restarts: false,
    },
    Probe {
        id: 11,
        name: "cross-site",
        what: "REST GET `/api/message/Q` with `Sec-Fetch-Site: cross-site`; POST with `Host: evil.example` and a matching Origin",
        run: cross_site,
        restarts: false,
    },
    Probe {
        id: 12,
        name: "namespace",
        what: "SUBSCRIBE `/queue/sub:alice:mine` after alice's durable subscription `mine` got 3 messages",
        run: namespace,
        restarts: false,
    },
    Probe {
        id: 3,
        name: "replication-login",
        what: "replication login with an empty securityToken, then `ack` 2^63",
        run: replication_login,
        restarts: false,
    },
    Probe {
        id: 1,
        name: "zk-set",
        what: "unauthenticated ZooKeeper `setData` on the master's znode (its own bytes written back)",
        run: zk_set,
        restarts: false,
    },
    Probe {
        id: 4,
        name: "openwire-null-list",
        what: "one 20 MB OpenWire frame before the handshake: WireFormatInfo properties with a list of 20 M NULLs",
        run: openwire_null_list,
        restarts: false,
    },
    Probe {
        id: 5,
        name: "selector-flood",
        what: "10 subscriptions with a 5,000-char LIKE selector; messages with a 10,000-char header",
        run: selector_flood,
        restarts: false,
    },
    Probe {
        id: 8,
        name: "idle-console-flood",
        what: "1,100 idle connections to the master's console, one partial HTTP request; nodes at a soft limit of 1024 fds",
        run: console_flood,
        restarts: false,
    },
    Probe {
        id: 9,
        name: "slow-subscriber",
        what: "a topic subscriber that never reads; 300 × 1 MiB publishes",
        run: slow_subscriber,
        restarts: false,
    },
    Probe {
        id: 2,
        name: "long-queue-name",
        what: "persistent SEND to `/queue/` + 600 × `q`; then every node restarted",
        run: long_queue_name,
        restarts: true,
    },
    Probe {
        id: 13,
        name: "store-fill",
        what: "40 × 1 MiB sent and consumed; then 1 MiB sends, not consumed, against a 64 MiB storeLimit",
        run: store_fill,
        restarts: false,
    },
];

fn login(port: u16) -> Result<Stomp, String> {
    Stomp::login(port, &login_headers())
}

fn got(g: &Got) -> String {
    match g {
        Got::Frame(f) => f.describe(),
        Got::Timeout => "no answer".into(),
        Got::Closed => "connection closed".into(),
    }
}

fn baseline(_: &Ctx) -> Result<Outcome, String> {
    std::thread::sleep(Duration::from_secs(5));
    Ok(Outcome { offender: "–".into(), result: "–".into() })
}

fn heartbeat_overflow(c: &Ctx) -> Result<Outcome, String> {
    let mut h = login_headers();
    h.push(("heart-beat", "18446744073709551615,0"));
    let (mut s, first) = Stomp::connect(c.master.stomp, &h, Duration::from_secs(5))?;
    let mut offender = got(&first);
    if matches!(&first, Got::Frame(f) if f.command == "CONNECTED") {
        offender += &match s.send_persistent("/queue/hostile.heartbeat", b"x", "hb", Duration::from_secs(3)) {
            Ok(()) => ", then a receipted SEND on it".to_string(),
            Err(e) if e.starts_with("ERROR") => format!(", then a SEND on it: {e}"),
            Err(e) => format!(", then a SEND on it: **{e}**, no ERROR"),
        };
    }
    Ok(Outcome { offender, result: "–".into() })
}

fn wrong_credentials(c: &Ctx) -> Result<Outcome, String> {
    let t = Duration::from_secs(5);
    let (_, wrong) = Stomp::connect(c.master.stomp, &[("login", "nobody"), ("passcode", "wrong")], t)?;
    let (_, none) = Stomp::connect(c.master.stomp, &[], t)?;
    let mark = |g: &Got| match g {
        Got::Frame(f) if f.command == "CONNECTED" => "**CONNECTED**".to_string(),
        g => got(g),
    };
    Ok(Outcome {
        offender: format!("wrong password: {}; no login: {}", mark(&wrong), mark(&none)), result: "–".into()
    })
}

fn forged_receipt(c: &Ctx) -> Result<Outcome, String> {
    let host = format!("127.0.0.1:{}", c.master.console);
    let target = "/api/message/hostile.forged?type=queue&content-length=5";
    let req = wire::http_request("POST", target, &host, CONSOLE_AUTH, &[], b"hello\0RECEIPT\nreceipt-id:forged\n\n");
    let posted = match wire::http(c.master.console, &req, Duration::from_secs(5)) {
        Ok((code, _)) => format!("HTTP {code}"),
        Err(e) => e,
    };
    let mut s = login(c.master.stomp)?;
    s.send("SUBSCRIBE", &[("id", "f"), ("destination", "/queue/hostile.forged"), ("ack", "auto")], b"")
        .map_err(|e| e.to_string())?;
    let (mut seen, mut forged) = (Vec::new(), false);
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Got::Frame(f) = s.next(deadline.saturating_duration_since(Instant::now())) {
        forged |= f.command == "RECEIPT" && f.get("receipt-id") == Some("forged");
        seen.push(match f.command.as_str() {
            "MESSAGE" => format!("MESSAGE ({} bytes)", f.body.len()),
            "RECEIPT" => format!("RECEIPT `{}`", f.get("receipt-id").unwrap_or("")),
            _ => f.describe(),
        });
    }
    let seen = if seen.is_empty() { "nothing".to_string() } else { seen.join(" + ") };
    let verdict = if forged { "**forged RECEIPT delivered**" } else { "no forged frame" };
    Ok(Outcome { offender: format!("POST: {posted}"), result: format!("consumer read {seen}: {verdict}") })
}

fn cross_site(c: &Ctx) -> Result<Outcome, String> {
    let mut s = login(c.master.stomp)?;
    s.send_persistent("/queue/hostile.xsite", b"take me", "x", Duration::from_secs(5))?;
    s.disconnect();
    let port = c.master.console;
    let local = format!("127.0.0.1:{port}");
    let evil = [("Origin", "http://evil.example"), ("Sec-Fetch-Site", "cross-site")];
    let get = wire::http_request(
        "GET",
        "/api/message/hostile.xsite?type=queue&readTimeout=1000",
        &local,
        CONSOLE_AUTH,
        &evil,
        b"",
    );
    let get = match wire::http(port, &get, Duration::from_secs(5)) {
        Ok((code, text)) if text.contains("take me") => format!("**{code}** (it consumed the message)"),
        Ok((code, _)) if code < 300 => format!("**{code}**"),
        Ok((code, _)) => format!("{code}"),
        Err(e) => e,
    };
    let rebind = [("Origin", "http://evil.example")];
    let post = wire::http_request(
        "POST",
        "/api/message/hostile.xsite?type=queue",
        "evil.example",
        CONSOLE_AUTH,
        &rebind,
        b"rebound",
    );
    let post = match wire::http(port, &post, Duration::from_secs(5)) {
        Ok((code, _)) if code < 300 => format!("**{code}**"),
        Ok((code, _)) => format!("{code}"),
        Err(e) => e,
    };
    Ok(Outcome { offender: format!("cross-site GET: {get}; foreign-Host POST: {post}"), result: "–".into() })
}

fn namespace(c: &Ctx) -> Result<Outcome, String> {
    let port = c.master.stomp;
    let t = Duration::from_secs(5);
    let mut h = login_headers();
    h.push(("client-id", "alice"));
    let mut alice = Stomp::login(port, &h)?;
    let sub =
        [("id", "d"), ("destination", "/topic/hostile.news"), ("activemq.subscriptionName", "mine"), ("receipt", "s")];
    alice.send("SUBSCRIBE", &sub, b"").map_err(|e| e.to_string())?;
    alice.receipt("s", t).map_err(|e| format!("alice's durable SUBSCRIBE: {e}"))?;
    alice.disconnect();
    let mut publisher = login(port)?;
    for i in 0..3 {
        publisher.send_persistent("/topic/hostile.news", format!("for alice {i}").as_bytes(), &format!("n{i}"), t)?;
    }
    publisher.disconnect();
    let mut other = login(port)?;
    let sub = [("id", "m"), ("destination", "/queue/sub:alice:mine"), ("ack", "auto"), ("receipt", "m")];
    other.send("SUBSCRIBE", &sub, b"").map_err(|e| e.to_string())?;
    let (mut answer, mut got_n) = (String::from("no answer"), 0);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match other.next(deadline.saturating_duration_since(Instant::now())) {
            Got::Frame(f) if f.command == "MESSAGE" && String::from_utf8_lossy(&f.body).starts_with("for alice") => {
                got_n += 1
            }
            Got::Frame(f) if f.command == "RECEIPT" => answer = "RECEIPT".into(),
            Got::Frame(f) => answer = f.describe(),
            Got::Closed => {
                answer += ", then closed";
                break;
            }
            Got::Timeout => break,
        }
    }
    let verdict = if got_n > 0 {
        format!("**received {got_n} of alice's 3 messages**")
    } else {
        "received none of alice's messages".into()
    };
    Ok(Outcome { offender: format!("SUBSCRIBE answered {answer}"), result: verdict })
}

fn replication_login(c: &Ctx) -> Result<Outcome, String> {
    let mut s = wire::tcp(c.master.replication, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
    s.write_all(&wire::replication_login("intruder", "")).map_err(|e| format!("login: {e}"))?;
    let (mut total, mut first, mut closed) = (0usize, Vec::new(), false);
    let mut read_for = |s: &mut std::net::TcpStream, d: Duration| {
        let deadline = Instant::now() + d;
        let mut chunk = vec![0u8; 64 * 1024];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let _ = s.set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match s.read(&mut chunk) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    if first.len() < 120 {
                        first.extend_from_slice(&chunk[..n.min(120 - first.len())]);
                    }
                    total += n;
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
    };
    read_for(&mut s, Duration::from_millis(500));
    let acked = s.write_all(&wire::replication_ack(1 << 63)).is_ok();
    read_for(&mut s, Duration::from_millis(1500));
    // While the connection is open: does the master count it as a slave?
    let st = c.cluster.status().ok();
    let master = st.as_ref().and_then(|st| st.nodes.iter().find(|n| n.name == c.master.name));
    let listed = master.and_then(|n| n.slaves.iter().find(|s| s.node_id == "intruder"));
    let journal = master.and_then(|n| n.position).unwrap_or(-1);
    read_for(&mut s, Duration::from_millis(1500));
    let first_line = String::from_utf8_lossy(&first).split('\0').next().unwrap_or("").replace('\n', " ");
    let offender = format!(
        "{}{total} bytes received{}",
        if first_line.is_empty() { String::new() } else { format!("`{}`, ", short(&first_line, 60)) },
        if closed {
            ", then closed"
        } else if !acked {
            ", ack not written"
        } else {
            ", still open"
        }
    );
    let result = match listed {
        Some(s) => format!(
            "**master lists it as a slave** (acked {}, caught up: {}); its journal is {journal} bytes",
            s.acked, s.caught_up
        ),
        None => format!("not listed as a slave; the master's journal is {journal} bytes"),
    };
    Ok(Outcome { offender, result })
}

fn zk_set(c: &Ctx) -> Result<Outcome, String> {
    use zookeeper_client as zk;
    let znode = c.master.znode.clone().ok_or("the master has no znode in its status")?;
    let servers = c.cluster.zk_connect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let work = async {
            let client = zk::Client::connector()
                .with_session_timeout(Duration::from_secs(4))
                .connect(&servers)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let (data, stat) = client.get_data(&znode).await.map_err(|e| format!("getData: {e}"))?;
            let acl = match client.get_acl(&znode).await {
                Ok((acls, _)) => acls
                    .iter()
                    .map(|a| format!("{}:{}:{}", a.scheme(), short(a.id(), 24), a.permission()))
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(e) => format!("getAcl: {e}"),
            };
            let offender = match client.set_data(&znode, &data, None).await {
                Ok(s) => format!("**write accepted** (version {} → {})", stat.version, s.version),
                Err(e) => format!("refused: {e}"),
            };
            Ok::<_, String>(Outcome { offender, result: format!("ACL: {acl}") })
        };
        tokio::time::timeout(Duration::from_secs(15), work)
            .await
            .map_err(|_| "ZooKeeper did not answer within 15 s".to_string())?
    })
}

fn openwire_null_list(c: &Ctx) -> Result<Outcome, String> {
    let frame = wire::openwire_null_list(20_000_000);
    let mut s = wire::tcp(c.master.openwire, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_write_timeout(Some(Duration::from_secs(15)));
    let t0 = Instant::now();
    let wrote = s.write_all(&frame);
    let mut got_bytes = Vec::new();
    let mut closed = false;
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut chunk = [0u8; 16 * 1024];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let _ = s.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match s.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) if got_bytes.len() < 1 << 20 => got_bytes.extend_from_slice(&chunk[..n]),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
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

fn selector_flood(c: &Ctx) -> Result<Outcome, String> {
    let selector = format!("hdr LIKE '%{}b'", "a".repeat(5000 - 13));
    debug_assert_eq!(selector.len(), 5000);
    let dest = "/queue/hostile.selector";
    let mut subs = login(c.master.stomp)?;
    let (mut accepted, mut sub_error) = (0, None);
    for i in 0..10 {
        let (id, receipt) = (format!("s{i}"), format!("r{i}"));
        let h = [
            ("id", id.as_str()),
            ("destination", dest),
            ("ack", "auto"),
            ("selector", &selector),
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

fn console_flood(c: &Ctx) -> Result<Outcome, String> {
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

fn slow_subscriber(c: &Ctx) -> Result<Outcome, String> {
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

fn long_queue_name(c: &Ctx) -> Result<Outcome, String> {
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
                    .map(|n| format!("{} {}", n.name, n.role.as_deref().unwrap_or(&n.state)))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let exit = st
                .iter()
                .flat_map(|st| &st.nodes)
                .filter(|n| n.state == "down")
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

fn store_fill(c: &Ctx) -> Result<Outcome, String> {
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
