//! The probes of `mqsim bench hostile`: the attack table of issue 11, each as a local
//! process with no more than a client's credentials would do it, over raw sockets with
//! hand-built frames. Each returns what the offender got and what was measured; each is
//! bounded in time (every socket has timeouts, every loop a deadline) and an `Err` only
//! means the probe itself could not be carried out.
//!
//! The probes that spend the master's resources or fill its store are in
//! [`super::resources`]. Row 10 of the issue (a byte flipped in a stopped slave's journal) is not probed here:
//! it needs a stopped node and a file edit, and the store's own tests cover it.

use std::io::Write;
use std::time::{Duration, Instant};

use super::cluster::{CONSOLE_AUTH, Cluster, Master, login_headers};
use super::resources::{
    console_flood, long_queue_name, openwire_null_list, selector_budget, selector_flood, slow_subscriber, store_fill,
};
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
pub const PROBES: [Probe; 15] = [
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
        id: 15,
        name: "selector-budget",
        what: "row 5 under the limits: 10 subscriptions with a 3,814-char `LIKE '%a_a_…b%'` selector; messages with a 10,000-char header",
        run: selector_budget,
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

pub(super) fn login(port: u16) -> Result<Stomp, String> {
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
        let keep = |b: &[u8]| {
            if first.len() < 120 {
                first.extend_from_slice(&b[..b.len().min(120 - first.len())]);
            }
            total += b.len();
        };
        // A read error other than the timeout counts as closed.
        closed |= wire::read_until_closed(s, d, keep).unwrap_or(true);
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
