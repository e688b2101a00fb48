//! OpenWire with the real ActiveMQ Java client (Debian's libactivemq-java 5.17): golden
//! byte vectors both ways, the JMS client end to end, STOMP ↔ JMS, bad frames, and a
//! producer on the failover URL while the master is killed again and again.
//!
//! The Java parts need `javac`/`java` and the jars of protocols.md §4. Without them the
//! tests say so and pass, except under CI (`CI` set), where that is a failure.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::java::{self, Java};
use common::{RawStomp, TestCluster};
use mqsim::openwire::codec::{Reader, Value, read_map};
use mqsim::openwire::command::*;
use mqsim::openwire::{convert, marshal, server};
use mqsim::store::record::StoredMessage;

/// Compiles the Java programs once per test binary; `None` (skip) only outside CI.
fn java() -> Option<&'static Java> {
    static JAVA: OnceLock<Option<Java>> = OnceLock::new();
    JAVA.get_or_init(|| {
        let sources = [
            "tests/java/Golden.java",
            "tests/java/JmsClient.java",
            "docs/java/JmsProduce.java",
            "docs/java/JmsConsumer.java",
        ];
        java::compile("openwire-java", &sources, "the OpenWire Java tests")
    })
    .as_ref()
}

impl Java {
    /// Runs to completion within `limit` (killed after it), stdin from `input`.
    fn run(&self, class: &str, args: &[&str], input: &str, limit: Duration) -> Output {
        let mut child = self
            .command(class, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_string();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let o = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        });
        let e = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        let status = wait_limited(&mut child, limit);
        writer.join().unwrap();
        Output { status, stdout: o.join().unwrap(), stderr: e.join().unwrap() }
    }
}

fn wait_limited(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn props(m: &Message) -> BTreeMap<String, Value> {
    read_map(&mut Reader::new(m.properties.as_ref().unwrap())).unwrap().unwrap().into_iter().collect()
}

#[test]
fn golden_vectors_from_the_real_jar_decode_and_reencode_byte_for_byte() {
    let Some(java) = java() else { return };
    let out = java.run("Golden", &["gen"], "", Duration::from_secs(60));
    assert!(out.status.success(), "Golden gen failed:\n{}", text(&out));
    let lines = String::from_utf8(out.stdout).unwrap();
    let mut decoded = BTreeMap::new();
    for line in lines.lines() {
        let (name, h) = line.split_once(' ').unwrap();
        let frame = unhex(h);
        let size = i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(size, frame.len() - 4, "{name}: size prefix");
        let cmd = marshal::decode(&frame[4..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex(&marshal::to_frame(&cmd)), h, "{name}: re-encoded bytes differ");
        decoded.insert(name.to_string(), cmd);
    }
    // Every command type mqsim handles, both directions.
    let mut seen: Vec<u8> = decoded.values().map(|c| c.body.type_code()).collect();
    seen.sort();
    seen.dedup();
    let expected: Vec<u8> = (1..=12).chain(14..=34).collect();
    assert_eq!(seen, expected, "type codes covered");

    let body = |n: &str| &decoded[n].body;
    let Body::WireFormatInfo(w) = body("WireFormatInfo") else { panic!() };
    assert_eq!((w.magic, w.version), (MAGIC, 12));
    let p = w.properties.as_ref().unwrap();
    assert!(p.contains(&("TightEncodingEnabled".into(), Value::Bool(true))), "the client asks for tight: {p:?}");
    assert!(p.contains(&("MaxInactivityDuration".into(), Value::Long(30_000))));
    let Body::ConsumerInfo(adv) = body("ConsumerInfo.advisory") else { panic!() };
    let adv_dest = adv.destination.as_ref().unwrap();
    assert_eq!(adv_dest.name, "ActiveMQ.Advisory.TempQueue,ActiveMQ.Advisory.TempTopic");
    assert_eq!((adv.consumer_id.as_ref().unwrap().session, adv.prefetch_size, adv.no_local), (-1, 1000, true));
    assert!(decoded["ConsumerInfo.advisory"].response_required);
    let Body::ConsumerInfo(d) = body("ConsumerInfo.durable") else { panic!() };
    assert_eq!(d.subscription_name.as_deref(), Some("durable-1"));
    assert_eq!(d.selector.as_deref(), Some("color = 'red'"));
    let Body::ConnectionInfo(ci) = body("ConnectionInfo") else { panic!() };
    assert!(ci.failover_reconnect && ci.fault_tolerant && ci.manageable);
    assert_eq!(ci.client_id.as_deref(), Some("golden-client"));
    let Body::TransactionInfo(t) = body("TransactionInfo.xa-prepare") else { panic!() };
    assert_eq!(
        t.transaction_id,
        Some(TransactionId::Xa { format: 42, global: Some(vec![1, 2, 3]), branch: Some(vec![9]) })
    );
    let Body::MessageAck(a) = body("MessageAck.poison") else { panic!() };
    assert_eq!(a.ack_type, ack::POISON);
    assert!(a.poison_cause.as_ref().unwrap().message.as_ref().unwrap().contains("redelivery policy"));
    let Body::RemoveInfo(r) = body("RemoveInfo.consumer") else { panic!() };
    assert_eq!(r.last_delivered_sequence_id, 5);
    let Body::ExceptionResponse { correlation_id, exception } = body("ExceptionResponse") else { panic!() };
    assert_eq!(*correlation_id, 6);
    assert_eq!(exception.as_ref().unwrap().class.as_deref(), Some("javax.jms.InvalidDestinationException"));

    // The TextMessage: fields, typed properties and the text as the core stores it.
    let Body::Message(m) = body("TextMessage") else { panic!() };
    assert_eq!(m.kind, types::TEXT_MESSAGE);
    assert_eq!((m.persistent, m.priority, m.group_sequence), (true, 7, 3));
    assert_eq!(m.reply_to.as_ref().unwrap().kind, DestKind::TempQueue);
    assert!(matches!(m.transaction_id, Some(TransactionId::Local { value: 3, .. })));
    let pr = props(m);
    assert_eq!(pr["int"], Value::Int(42));
    assert_eq!(pr["byte"], Value::Byte(-3));
    assert_eq!(pr["float"], Value::Float(1.5));
    assert_eq!(pr["string"], Value::String("h\u{e9}llo".into()));
    let q = Destination { kind: DestKind::Queue, name: "golden.queue".into() };
    let stored = convert::to_stored(m, &q, 0).unwrap();
    assert_eq!(String::from_utf8(stored.body.clone()).unwrap(), "h\u{e9}llo w\u{f6}rld \u{1F600} \0 end");
    assert_eq!(stored.producer.as_ref().unwrap().1, 7);
    let Body::Message(z) = body("TextMessage.compressed") else { panic!() };
    assert!(z.compressed);
    assert_eq!(convert::to_stored(z, &q, 0).unwrap().body, "compressed h\u{e9}llo".as_bytes());
    let Body::Message(b) = body("BytesMessage") else { panic!() };
    assert_eq!(convert::to_stored(b, &q, 0).unwrap().body, [0, 1, 2, 255]);
    let Body::Message(blob) = body("BlobMessage") else { panic!() };
    assert_eq!(blob.blob.as_ref().unwrap().mime_type.as_deref(), Some("text/plain"));
    let Body::MessageDispatch(md) = body("MessageDispatch") else { panic!() };
    assert_eq!(md.redelivery_counter, 2);

    // The reverse: what mqsim sends, read by the jar.
    let mut input = String::new();
    let mut add = |name: &str, body: Body| {
        let cmd = Command { id: 9, response_required: false, body };
        input += &format!("{name} {}\n", hex(&marshal::to_frame(&cmd)));
    };
    add("WireFormatInfo", Body::WireFormatInfo(server::wire_format_info(104_857_600)));
    let settings = server::Settings {
        max_frame_size: 1 << 20,
        max_connections: 10,
        node: "node01".into(),
        broker_name: "localhost".into(),
        users: Vec::new(),
    };
    add("BrokerInfo", Body::BrokerInfo(Box::new(server::broker_info(&settings, None))));
    add("Response", Body::Response { correlation_id: 41 });
    add(
        "ExceptionResponse",
        Body::ExceptionResponse {
            correlation_id: 42,
            exception: Some(Throwable::new("javax.jms.InvalidSelectorException", "no selectors")),
        },
    );
    add("IntegerResponse", Body::IntegerResponse { correlation_id: 43, result: 3 });
    add("DataArrayResponse", Body::DataArrayResponse { correlation_id: 44, data: Some(vec![]) });
    add("KeepAliveInfo", Body::KeepAliveInfo);
    add("ConnectionControl", Body::ConnectionControl(ConnectionControl::default()));
    let stored = StoredMessage {
        seq: 77,
        destination: "/queue/golden.queue".into(),
        headers: vec![
            ("correlation-id".into(), "c-1".into()),
            ("priority".into(), "6".into()),
            ("reply-to".into(), "/temp-queue/ID:x-1:1:1".into()),
            ("color".into(), "red".into()),
            ("n".into(), "5".into()),
            (convert::PROPERTY_TYPES.into(), "n:i".into()),
        ],
        body: "h\u{e9}llo \u{1F600}".as_bytes().to_vec(),
        persistent: true,
        timestamp: 1_700_000_000_000,
        redelivery_count: 0,
        producer: Some(("ID:golden-host-1:1:2:3".into(), 11)),
    };
    let cid = ConsumerId { connection: "ID:golden-host-1:1".into(), session: 2, value: 5 };
    let dispatch = |m: Option<Message>| {
        Body::MessageDispatch(Box::new(MessageDispatch {
            consumer_id: Some(cid.clone()),
            destination: Some(q.clone()),
            message: m.map(|m| Box::new(Command::new(Body::Message(Box::new(m))))),
            redelivery_counter: 1,
        }))
    };
    add("MessageDispatch", dispatch(Some(convert::to_openwire(&stored, &q, true, 5))));
    let from_stomp = StoredMessage { producer: None, headers: vec![("k".into(), "v".into())], ..stored };
    add("MessageDispatch.stomp", dispatch(Some(convert::to_openwire(&from_stomp, &q, false, 5))));
    add("MessageDispatch.pull-timeout", dispatch(None));
    let advisories = mqsim::openwire::advisory::Advisories::default();
    let info = DestinationInfo {
        connection_id: Some("ID:x-1".into()),
        destination: Some(Destination { kind: DestKind::TempQueue, name: "ID:x-1:1:1".into() }),
        operation: 0,
        timeout: 0,
        broker_path: None,
    };
    add("MessageDispatch.advisory", dispatch(Some(advisories.message(info, 5))));
    let out = java.run("Golden", &["parse"], &input, Duration::from_secs(60));
    let parsed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "Golden parse failed:\n{}", text(&out));
    let line = |n: &str| -> &str {
        parsed.lines().find(|l| l.split(' ').next() == Some(n)).unwrap_or_else(|| panic!("no {n} in:\n{parsed}"))
    };
    for l in parsed.lines() {
        assert!(!l.contains("FAILED"), "{l}");
    }
    assert!(
        line("WireFormatInfo").contains("version=12 tight=false cache=false stackTrace=false maxFrameSize=104857600"),
        "{parsed}"
    );
    assert!(line("WireFormatInfo").contains("maxInactivity=30000 initialDelay=10000"), "{parsed}");
    assert!(line("BrokerInfo").contains("brokerName = localhost"), "{parsed}");
    assert!(line("BrokerInfo").contains("faultTolerantConfiguration = true"), "{parsed}");
    assert!(line("Response").contains("correlationId = 41"), "{parsed}");
    assert!(line("ExceptionResponse").contains("InvalidSelectorException: no selectors"), "{parsed}");
    assert!(line("IntegerResponse").contains("result = 3"), "{parsed}");
    assert!(line("KeepAliveInfo").starts_with("KeepAliveInfo KeepAliveInfo"), "{parsed}");
    assert!(line("ConnectionControl").contains("connectedBrokers = null"), "{parsed}");
    let md = line("MessageDispatch");
    assert!(md.contains("ActiveMQTextMessage id=ID:golden-host-1:1:2:3:11"), "{md}");
    assert!(md.contains("text=[h\u{e9}llo \u{1F600}]"), "{md}");
    assert!(md.contains("props={color=UTF8Buffer:red, n=Integer:5}"), "{md}");
    assert!(md.contains("replyTo=temp-queue://ID:x-1:1:1") && md.contains("correlation=c-1"), "{md}");
    assert!(md.contains("priority=6") && md.contains("persistent=true") && md.contains("redelivered=true"), "{md}");
    assert!(line("MessageDispatch.stomp").contains("id=ID:mqsim-77"), "{parsed}");
    assert!(line("MessageDispatch.pull-timeout").contains("message=null"), "{parsed}");
    let adv = line("MessageDispatch.advisory");
    assert!(adv.contains("ActiveMQMessage") && adv.contains("data=DestinationInfo"), "{adv}");
    assert!(adv.contains("dest=topic://ActiveMQ.Advisory.TempQueue"), "{adv}");
}

fn failover_url(c: &TestCluster, extra: &str) -> String {
    let b = c.base;
    format!(
        "failover:(tcp://127.0.0.1:{},tcp://127.0.0.1:{},tcp://127.0.0.1:{})?randomize=false\
         &startupMaxReconnectAttempts=40&maxReconnectDelay=1000{extra}",
        b + 13,
        b + 14,
        b + 15
    )
}

fn master_port(c: &TestCluster, key: &str) -> u16 {
    common::master_port(&c.status(), key)
}

/// Reads until the peer closes; true if it did within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
    false
}

/// Connects and reads the broker's WireFormatInfo, which must come first and unasked.
fn raw_openwire(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
    s.read_exact(&mut frame).unwrap();
    let cmd = marshal::decode(&frame).unwrap();
    assert!(matches!(cmd.body, Body::WireFormatInfo(_)), "{cmd:?}");
    s
}

#[test]
fn jms_client_end_to_end_stomp_interop_and_bad_frames() {
    let Some(java) = java() else { return };
    let mut c = TestCluster::with_toml(50, |base| common::cluster_toml(base, "maxFrameSize = 65536"));
    c.up();
    let url = failover_url(&c, "");
    let out = java.run("JmsClient", &["basic", &url], "", Duration::from_secs(120));
    let t = text(&out);
    assert!(out.status.success(), "JmsClient basic:\n{t}\n{}", c.diagnostics());
    for step in [
        "connect",
        "persistent-send",
        "auto-ack-receive",
        "browse",
        "selectors",
        "client-ack-receive",
        "transacted-send",
        "transacted-receive",
        "dlq",
        "topics",
        "request-reply",
        "close",
    ] {
        assert!(t.contains(&format!("ok {step}\n")), "step {step} missing:\n{t}");
    }

    // The Java producer and consumer of docs/java (around the notes' URL line), with the test cluster's URL.
    let out = java.run("JmsProduce", &[&url], "", Duration::from_secs(60));
    assert!(text(&out).contains("**** messages sent to the MQ"), "{}", text(&out));
    let out = java.run("JmsConsumer", &[&url], "", Duration::from_secs(60));
    let t = text(&out);
    for i in 1..=3 {
        assert!(t.contains(&format!("**** consumer received: msg---{i}\n")), "{t}");
    }

    // STOMP → JMS: text body and the common headers, as ActiveMQ maps them.
    let mut stomp = RawStomp::connect(master_port(&c, "stomp"));
    stomp.send(
        "SEND\ndestination:/queue/ow.cross\npersistent:true\ncorrelation-id:from-stomp\ntype:note\n\
         priority:8\nreply-to:/queue/ow.back\ncolor:blue\nreceipt:r1\n\nh\u{e9}llo from STOMP",
    );
    assert!(stomp.frame().starts_with("RECEIPT"));
    let out = java.run("JmsClient", &["recv", &url, "ow.cross", "10000"], "", Duration::from_secs(60));
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for want in [
        "text=h\u{e9}llo from STOMP\n",
        "correlation=from-stomp\n",
        "type=note\n",
        "priority=8\n",
        "persistent=true\n",
        "replyTo=queue://ow.back\n",
        "props={color=blue}\n",
    ] {
        assert!(t.contains(want), "{want:?} missing:\n{t}");
    }

    // JMS → STOMP.
    let out = java.run("JmsClient", &["send", &url, "ow.cross2", "h\u{e9}llo from JMS"], "", Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out));
    stomp.send("SUBSCRIBE\nid:s1\ndestination:/queue/ow.cross2\nack:auto\n\n");
    let msg = stomp.frame();
    for want in [
        "MESSAGE\n",
        "correlation-id:from-jms\n",
        "type:greeting\n",
        "priority:6\n",
        "persistent:true\n",
        "reply-to:/queue/ow.replies\n",
        "color:red\n",
        "count:3\n",
    ] {
        assert!(msg.contains(want), "{want:?} missing:\n{msg}");
    }
    assert!(msg.ends_with("\n\nh\u{e9}llo from JMS"), "{msg}");

    // Bad frames close that connection only.
    let ow = master_port(&c, "openwire");
    let master = c.master();
    let mut s = raw_openwire(ow);
    s.write_all(&[0, 0, 0, 10, 3, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0]).unwrap(); // not a WireFormatInfo
    assert!(closed_within(&mut s, Duration::from_secs(5)), "garbage first frame: connection must close");
    let mut s = raw_openwire(ow);
    s.write_all(&(10u32 << 20).to_be_bytes()).unwrap(); // 10 MiB > maxFrameSize 64 KiB
    s.write_all(&[1; 64]).unwrap();
    assert!(closed_within(&mut s, Duration::from_secs(5)), "oversized frame: connection must close");
    let mut s = raw_openwire(ow);
    let wfi = Command::new(Body::WireFormatInfo(server::wire_format_info(65536)));
    s.write_all(&marshal::to_frame(&wfi)).unwrap();
    s.write_all(&[0, 0, 0, 6, 99, 0, 0, 0, 1, 1]).unwrap(); // unknown command type 99
    assert!(closed_within(&mut s, Duration::from_secs(5)), "unknown command: connection must close");
    let mut s = raw_openwire(ow);
    s.write_all(&marshal::to_frame(&wfi)).unwrap();
    s.write_all(&[0, 0, 0, 6, 3, 0, 0, 0, 1, 1]).unwrap(); // a ConnectionInfo cut short
    assert!(closed_within(&mut s, Duration::from_secs(5)), "truncated command: connection must close");
    // The broker and its other connections carry on.
    assert_eq!(c.master(), master);
    stomp.send("SEND\ndestination:/queue/ow.after\nreceipt:r2\n\nstill here");
    assert!(stomp.frame().starts_with("RECEIPT"));
    let out = java.run("JmsClient", &["recv", &url, "ow.after", "10000"], "", Duration::from_secs(60));
    assert!(text(&out).contains("text=still here\n"), "{}", text(&out));
    c.down();
}

#[test]
fn failover_producer_blocks_and_every_acknowledged_message_arrives_exactly_once() {
    let Some(java) = java() else { return };
    let mut c = TestCluster::with_toml(51, |base| common::cluster_toml(base, "sync = \"quorum_mem\""));
    c.up();
    let url = failover_url(&c, "");
    const N: usize = 400;
    let mut producer = java
        .command("JmsClient", &["produce", &url, "ow.failover", &N.to_string(), "15"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let stdout = producer.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        })
    };
    let sent =
        |lines: &Arc<Mutex<Vec<String>>>| lines.lock().unwrap().iter().filter(|l| l.starts_with("sent ")).count();
    let t0 = Instant::now();
    let mut kills = 0;
    for round in 1..=3 {
        // Let some messages through on this master first.
        let goal = round * N / 5;
        while sent(&lines) < goal && t0.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let old = c.master().expect("a master");
        c.ok(&["kill", "master"]);
        kills += 1;
        c.wait_for("a new serving master", Duration::from_secs(60), |st| {
            st["master"].as_str().is_some_and(|m| m != old) && {
                let m = st["master"].as_str().unwrap();
                TestCluster::node(st, m)["serving"] == true
            }
        });
        c.ok(&["start", &old]);
        c.wait_for("the old master back as a slave", Duration::from_secs(60), |st| {
            TestCluster::node(st, &old)["role"] == "slave"
        });
    }
    let status = wait_limited(&mut producer, Duration::from_secs(240));
    reader.join().unwrap();
    let mut err = String::new();
    producer.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let lines = lines.lock().unwrap().clone();
    assert!(status.success(), "producer failed ({status}):\n{}\n{err}\n{}", lines.join("\n"), c.diagnostics());
    let mut acked = Vec::new();
    let mut worst = 0u64;
    for l in &lines {
        if let Some(rest) = l.strip_prefix("sent ") {
            let mut it = rest.split(' ');
            acked.push(it.next().unwrap().parse::<usize>().unwrap());
            worst = worst.max(it.next().unwrap().parse::<u64>().unwrap() / 1000);
        }
    }
    assert_eq!(acked, (1..=N).collect::<Vec<_>>(), "every send() returned, in order");
    eprintln!(
        "openwire failover: {N} persistent sends across {kills} master kills in {:.1} s; longest blocked send {worst} ms",
        t0.elapsed().as_secs_f64()
    );

    let out = java.run("JmsClient", &["consume", &url, "ow.failover", "3000"], "", Duration::from_secs(120));
    let t = text(&out);
    assert!(out.status.success(), "consumer failed:\n{t}");
    let mut counts = BTreeMap::new();
    for l in t.lines() {
        if let Some(seq) = l.strip_prefix("recv ") {
            *counts.entry(seq.parse::<usize>().unwrap()).or_insert(0) += 1;
        }
    }
    let missing: Vec<usize> = acked.iter().copied().filter(|s| !counts.contains_key(s)).collect();
    let dups: Vec<(usize, i32)> = counts.iter().filter(|(_, n)| **n > 1).map(|(s, n)| (*s, *n)).collect();
    assert!(missing.is_empty() && dups.is_empty(), "missing {missing:?}, duplicated {dups:?}\n{}", c.diagnostics());
    assert_eq!(counts.len(), N);
    c.down();
}
