//! Hostile input on the OpenWire port (see tests/hostile.rs): row 4's 20 MB frame of NULLs
//! before the handshake, the same after it inside message properties, garbage and
//! impossible length prefixes, names over the limits, and wrong credentials — with
//! hand-built frames from the crate's own encoder and, where javac and Debian's
//! libactivemq-java are installed, the real ActiveMQ Java client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mqsim::openwire::codec::{Value, Writer, encode_mutf8, write_map};
use mqsim::openwire::command::*;
use mqsim::openwire::{marshal, server};

use super::*;
use crate::common::java::{self, Java};

/// A raw OpenWire client on a socket.
struct Ow {
    s: TcpStream,
    next_id: i32,
}

impl Ow {
    /// Connects and reads the broker's WireFormatInfo, which comes first and unasked.
    fn connect(port: u16) -> Ow {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut ow = Ow { s, next_id: 0 };
        let first = ow.read().expect("the broker's WireFormatInfo");
        assert!(matches!(first.body, Body::WireFormatInfo(_)), "{first:?}");
        ow
    }

    /// Sends our WireFormatInfo and reads the BrokerInfo.
    fn handshake(port: u16) -> Ow {
        let mut ow = Ow::connect(port);
        ow.write(&marshal::to_frame(&Command::new(Body::WireFormatInfo(server::wire_format_info(1 << 20)))));
        let info = ow.read().expect("BrokerInfo");
        assert!(matches!(info.body, Body::BrokerInfo(_)), "{info:?}");
        ow
    }

    fn write(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Sends `body`; returns its command id.
    fn send(&mut self, body: Body, response_required: bool) -> i32 {
        self.next_id += 1;
        let frame = marshal::to_frame(&Command { id: self.next_id, response_required, body });
        self.write(&frame);
        self.next_id
    }

    /// The next command, or `None` on EOF, reset or timeout.
    fn read(&mut self) -> Option<Command> {
        let mut size = [0u8; 4];
        self.s.read_exact(&mut size).ok()?;
        let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
        self.s.read_exact(&mut frame).ok()?;
        Some(marshal::decode(&frame).unwrap())
    }

    /// The Response or ExceptionResponse to command `id` (other commands skipped).
    fn reply(&mut self, id: i32) -> Command {
        loop {
            let c = self.read().unwrap_or_else(|| panic!("no reply to command {id}"));
            match &c.body {
                Body::Response { correlation_id } | Body::ExceptionResponse { correlation_id, .. }
                    if *correlation_id == id =>
                {
                    return c;
                }
                _ => {}
            }
        }
    }

    /// Sends `body` wanting a response; the exception's (class, message) if it failed.
    fn call(&mut self, body: Body) -> Result<(), (String, String)> {
        let id = self.send(body, true);
        match self.reply(id).body {
            Body::ExceptionResponse { exception: Some(e), .. } => {
                Err((e.class.unwrap_or_default(), e.message.unwrap_or_default()))
            }
            Body::ExceptionResponse { .. } => Err((String::new(), String::new())),
            _ => Ok(()),
        }
    }

    /// Reads until the broker closes; true if it did within `limit`.
    fn closed_within(&mut self, limit: Duration) -> bool {
        self.s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => return true,
            }
        }
        false
    }

    /// ConnectionInfo, SessionInfo and ProducerInfo, as the Java client opens them.
    fn login(&mut self, user: Option<&str>, password: Option<&str>) -> Result<(), (String, String)> {
        self.call(connection_info("ID:hostile-1", "hostile", user, password))?;
        self.call(Body::SessionInfo(Some(SessionId { connection: "ID:hostile-1".into(), value: 1 })))?;
        self.call(Body::ProducerInfo(Box::new(ProducerInfo { producer_id: Some(producer()), ..Default::default() })))
    }
}

fn connection_info(id: &str, client: &str, user: Option<&str>, password: Option<&str>) -> Body {
    Body::ConnectionInfo(Box::new(ConnectionInfo {
        connection_id: Some(id.into()),
        client_id: Some(client.into()),
        user_name: user.map(Into::into),
        password: password.map(Into::into),
        ..Default::default()
    }))
}

fn producer() -> ProducerId {
    ProducerId { connection: "ID:hostile-1".into(), value: 1, session: 1 }
}

/// A persistent TextMessage to `queue`, with `properties` (marshalled) if given.
fn text_message(queue: &str, seq: i64, text: &str, properties: Option<Vec<u8>>) -> Body {
    let mut content = vec![0; 4];
    encode_mutf8(text, &mut content);
    let n = (content.len() - 4) as i32;
    content[..4].copy_from_slice(&n.to_be_bytes());
    Body::Message(Box::new(Message {
        kind: types::TEXT_MESSAGE,
        producer_id: Some(producer()),
        destination: Some(Destination { kind: DestKind::Queue, name: queue.into() }),
        message_id: Some(MessageId { text_view: None, producer: Some(producer()), producer_seq: seq, broker_seq: 0 }),
        persistent: true,
        priority: 4,
        content: Some(content),
        properties,
        ..Default::default()
    }))
}

/// A primitive map `{k: [NULL; n]}` as marshalled properties: n + 12 bytes.
fn null_list_map(n: usize) -> Vec<u8> {
    let mut w = Writer::default();
    write_map(&mut w, Some(&vec![("k".to_string(), Value::List(Vec::new()))]));
    let mut b = w.buf;
    let at = b.len() - 4;
    b[at..].copy_from_slice(&(n as i32).to_be_bytes());
    b.resize(b.len() + n, 0);
    b
}

/// Row 4's frame: a WireFormatInfo whose properties hold a list of `n` NULLs.
fn null_list_wire_format_info(n: usize) -> Vec<u8> {
    let props = null_list_map(n);
    let mut w = Writer::default();
    w.i32(0);
    w.u8(types::WIRE_FORMAT_INFO);
    w.buf.extend_from_slice(&MAGIC);
    w.i32(12);
    w.bytes(Some(&props));
    let size = (w.buf.len() - 4) as i32;
    w.buf[..4].copy_from_slice(&size.to_be_bytes());
    w.buf
}

/// (VmRSS, VmHWM) of the master's process, in KiB.
fn master_memory(c: &TestCluster) -> (u64, u64) {
    let st = c.status();
    let m = st["master"].as_str().expect("a master");
    let pid = TestCluster::node(&st, m)["pid"].as_u64().expect("the master's pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |key: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("{key} in {status}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

#[test]
fn row4_huge_frames_of_nulls_garbage_and_impossible_lengths_cost_little() {
    let mut c = TestCluster::new(75);
    c.up();
    let canary = Canary::seed(&c, 20);
    let master = c.master();
    let port = master_port(&c.status(), "openwire");
    let (rss_before, _) = master_memory(&c);

    // Row 4: 20 MB of WireFormatInfo before the handshake. The broker refuses the length
    // prefix (64 KiB before the handshake) and closes at once, so the write fails long
    // before 20 MB are through.
    let frame = null_list_wire_format_info(20_000_000);
    let mut ow = Ow::connect(port);
    let t = Instant::now();
    let written = ow.s.write_all(&frame);
    assert!(written.is_err(), "the broker took the whole 20 MB pre-handshake frame ({:?})", t.elapsed());
    assert!(ow.closed_within(Duration::from_secs(5)), "row 4 frame: connection must close");

    // The same NULLs after the handshake, in a message's properties (8 MB, under the
    // default 100 MiB maxFrameSize): an ExceptionResponse, the connection goes on.
    let mut ow = Ow::handshake(port);
    ow.login(None, None).unwrap();
    let (class, message) =
        ow.call(text_message("hostile.ow.nulls", 1, "nulls", Some(null_list_map(8_000_000)))).unwrap_err();
    assert!(message.contains("would take"), "{class}: {message}");
    ow.call(text_message("hostile.ow.nulls", 2, "fine", None)).expect("the connection still serves");

    let (_, peak) = master_memory(&c);
    let growth_mib = peak.saturating_sub(rss_before) / 1024;
    eprintln!("master RSS before {} MiB, peak after {} MiB", rss_before / 1024, peak / 1024);
    assert!(growth_mib < 64, "master peak RSS grew {growth_mib} MiB for 28 MB sent (row 4 was 34×)");

    // Garbage bytes instead of a WireFormatInfo.
    let mut ow = Ow::connect(port);
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let _ = ow.s.write_all(&garbage);
    assert!(ow.closed_within(Duration::from_secs(5)), "garbage: connection must close");
    // Length prefixes: past maxFrameSize, negative, zero, and 1 MiB before the handshake.
    for (prefix, handshake) in [(i32::MAX, true), (-1, true), (i32::MIN, false), (0, true), (1 << 20, false)] {
        let mut ow = if handshake { Ow::handshake(port) } else { Ow::connect(port) };
        let _ = ow.s.write_all(&prefix.to_be_bytes());
        let _ = ow.s.write_all(&[1; 64]);
        assert!(ow.closed_within(Duration::from_secs(5)), "length prefix {prefix}: connection must close");
    }

    assert_eq!(c.master(), master, "no failover");
    assert_serves(&c);
    canary.assert_intact(&c);
    c.down();
}

#[test]
fn names_over_the_limits_get_an_exception_response_and_store_nothing() {
    let mut c = TestCluster::new(77);
    c.up();
    let canary = Canary::seed(&c, 20);
    let port = master_port(&c.status(), "openwire");

    let mut ow = Ow::handshake(port);
    ow.login(None, None).unwrap();
    let long = "q".repeat(600);
    let (class, message) = ow.call(text_message(&long, 1, "too long", None)).unwrap_err();
    assert_eq!(class, "javax.jms.InvalidDestinationException");
    assert_eq!(message, "Message: the destination name is 600 bytes long; the limit is 200 bytes");
    let consumer = ConsumerInfo {
        consumer_id: Some(ConsumerId { connection: "ID:hostile-1".into(), session: 1, value: 1 }),
        destination: Some(Destination { kind: DestKind::Topic, name: "t".into() }),
        subscription_name: Some("s".repeat(300)),
        prefetch_size: 10,
        ..Default::default()
    };
    let (_, message) = ow.call(Body::ConsumerInfo(Box::new(consumer))).unwrap_err();
    assert!(message.contains("durable subscription name is 300 bytes"), "{message}");
    let (class, _) = ow
        .call(Body::ConsumerInfo(Box::new(ConsumerInfo {
            consumer_id: Some(ConsumerId { connection: "ID:hostile-1".into(), session: 1, value: 2 }),
            destination: Some(Destination { kind: DestKind::Queue, name: "a\0b".into() }),
            ..Default::default()
        })))
        .unwrap_err();
    assert_eq!(class, "javax.jms.InvalidDestinationException");
    // The connection goes on.
    ow.call(text_message("hostile.ow.names", 2, "fine", None)).expect("a good send after the bad ones");

    // Per-connection state is bounded: 1000 consumers, then an ExceptionResponse.
    let queue = Destination { kind: DestKind::Queue, name: "hostile.ow.many".into() };
    let consumer = |value: i64| {
        Body::ConsumerInfo(Box::new(ConsumerInfo {
            consumer_id: Some(ConsumerId { connection: "ID:hostile-1".into(), session: 2, value }),
            destination: Some(queue.clone()),
            prefetch_size: 1,
            ..Default::default()
        }))
    };
    let mut many = Ow::handshake(port);
    many.login(None, None).unwrap();
    for value in 0..mqsim::limits::MAX_CONSUMERS_PER_CONNECTION as i64 {
        many.call(consumer(value)).expect("consumers up to the limit");
    }
    let (_, message) = many.call(consumer(-1)).unwrap_err();
    assert!(message.contains("consumers, the most one connection may hold"), "{message}");
    drop(many);

    // A client id over the limit: ExceptionResponse, then the connection closes.
    let mut ow = Ow::handshake(port);
    let (class, message) = ow.call(connection_info("ID:hostile-2", &"c".repeat(129), None, None)).unwrap_err();
    assert_eq!(class, "javax.jms.InvalidClientIDException");
    assert!(message.contains("client id is 129 bytes long; the limit is 128"), "{message}");
    assert!(ow.closed_within(Duration::from_secs(5)), "a refused ConnectionInfo closes the connection");

    // The real client sending to a queue with a 300-byte name.
    if let Some(java) = java() {
        let url = format!("tcp://127.0.0.1:{port}");
        let out = java.run(&[&url, "", "", "send", &"j".repeat(300), "1", "x"]);
        // Refused at createProducer (a synchronous ProducerInfo), before any send.
        assert!(out.contains("refused javax.jms.InvalidDestinationException: ProducerInfo: "), "{out}");
        assert!(out.contains("the destination name is 300 bytes long; the limit is 200 bytes"), "{out}");
    }

    // Nothing of it reached the store: every node still opens it.
    let pids = |st: &serde_json::Value| -> Vec<u64> {
        st["nodes"].as_array().unwrap().iter().filter_map(|n| n["pid"].as_u64()).collect()
    };
    let before = pids(&c.status());
    c.ok(&["restart", "nodes"]);
    c.wait_for("three restarted nodes, a master and two slaves", Duration::from_secs(90), |st| {
        let roles: Vec<&str> = st["nodes"].as_array().unwrap().iter().filter_map(|n| n["role"].as_str()).collect();
        let now = pids(st);
        now.len() == 3
            && now.iter().all(|p| !before.contains(p))
            && roles.iter().filter(|r| **r == "master").count() == 1
            && roles.iter().filter(|r| **r == "slave").count() == 2
    });
    assert_serves(&c);
    canary.assert_intact(&c);
    c.down();
}

#[test]
fn wrong_credentials_are_refused_and_nothing_is_taken_before_login() {
    let mut c = TestCluster::with_toml(76, |base| {
        common::cluster_toml(base, "")
            + "\n[[user]]\nusername = \"system\"\npassword = \"manager\"\ngroups = \"admins\"\n"
    });
    c.up();
    let master = c.master();
    let port = master_port(&c.status(), "openwire");
    let canary_queue = "hostile.ow.auth";

    // The canary, sent over OpenWire with good credentials.
    let mut ow = Ow::handshake(port);
    ow.login(Some("system"), Some("manager")).expect("good credentials");
    for i in 0..10 {
        ow.call(text_message(canary_queue, i, &format!("canary-{i}"), None)).unwrap();
    }

    // Wrong password, unknown user, no user: SecurityException, connection closed.
    for (user, password) in [(Some("system"), Some("wrong")), (Some("nobody"), Some("manager")), (None, None)] {
        let mut ow = Ow::handshake(port);
        let (class, message) = ow.login(user, password).unwrap_err();
        assert_eq!(class, "java.lang.SecurityException");
        assert_eq!(message, format!("User name [{}] or password is invalid.", user.unwrap_or("")));
        assert!(ow.closed_within(Duration::from_secs(5)), "{user:?}: connection must close");
    }
    // Skipping ConnectionInfo: the message is refused and not stored.
    let mut ow = Ow::handshake(port);
    let (class, message) = ow.call(text_message(canary_queue, 99, "forged", None)).unwrap_err();
    assert_eq!(class, "java.lang.SecurityException", "{message}");
    assert!(ow.closed_within(Duration::from_secs(5)), "a command before login closes the connection");

    // The real client: refused with the wrong password, served with the right one, and
    // the canary is all there, without the forged message.
    let got = if let Some(java) = java() {
        let url = format!("tcp://127.0.0.1:{port}");
        let out = java.run(&[&url, "system", "wrong", "connect"]);
        assert!(out.contains("refused") && out.contains("User name [system] or password is invalid."), "{out}");
        assert!(!out.contains("ok connect"), "{out}");
        let out = java.run(&[&url, "system", "manager", "recv", canary_queue, "3000"]);
        assert!(out.contains("ok recv"), "{out}");
        out.lines().filter_map(|l| l.strip_prefix("got ")).map(str::to_string).collect::<Vec<_>>()
    } else {
        let mut ow = Ow::handshake(port);
        ow.login(Some("system"), Some("manager")).unwrap();
        drain(&mut ow, canary_queue)
    };
    let want: Vec<String> = (0..10).map(|i| format!("canary-{i}")).collect();
    assert_eq!(got, want, "the canary, in order, and nothing forged");
    assert_eq!(c.master(), master, "no failover");
    c.down();
}

/// Consumes `queue` over raw OpenWire (auto-ack by STANDARD acks) until 3 s of silence.
fn drain(ow: &mut Ow, queue: &str) -> Vec<String> {
    let cid = ConsumerId { connection: "ID:hostile-1".into(), session: 1, value: 9 };
    ow.call(Body::ConsumerInfo(Box::new(ConsumerInfo {
        consumer_id: Some(cid.clone()),
        destination: Some(Destination { kind: DestKind::Queue, name: queue.into() }),
        prefetch_size: 100,
        ..Default::default()
    })))
    .unwrap();
    ow.s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut got = Vec::new();
    while let Some(cmd) = ow.read() {
        let Body::MessageDispatch(d) = cmd.body else { continue };
        let Some(m) = d.message else { continue };
        let Body::Message(m) = m.body else { continue };
        let content = m.content.clone().unwrap_or_default();
        got.push(String::from_utf8_lossy(content.get(4..).unwrap_or_default()).into_owned());
        let ack = MessageAck {
            destination: m.destination.clone(),
            transaction_id: None,
            consumer_id: Some(cid.clone()),
            ack_type: ack::STANDARD,
            first_message_id: m.message_id.clone(),
            last_message_id: m.message_id.clone(),
            message_count: 1,
            poison_cause: None,
        };
        ow.send(Body::MessageAck(Box::new(ack)), false);
    }
    got
}

impl Java {
    /// `java JmsAuth args...`, up to 60 s; stdout and stderr together.
    fn run(&self, args: &[&str]) -> String {
        let out = self.command_with_timeout(60, "JmsAuth", args).output().unwrap();
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }
}

/// tests/java/JmsAuth.java compiled once; `None` (skip the Java steps) without javac or
/// the jars, except under CI.
fn java() -> Option<&'static Java> {
    static JAVA: OnceLock<Option<Java>> = OnceLock::new();
    JAVA.get_or_init(|| {
        java::compile(
            "hostile-openwire-java",
            &["tests/java/JmsAuth.java"],
            "the Java client part of the hostile OpenWire tests",
        )
    })
    .as_ref()
}
