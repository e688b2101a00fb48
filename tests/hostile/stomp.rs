//! Hostile input at the STOMP port (issue 11 rows 2, 6, 7 and 14, and garbage): each attack
//! gets an ERROR frame or a closed connection, never a RECEIPT or CONNECTED it should not;
//! afterwards the master still takes a receipted send and the canary queue is intact.
//!
//! Port blocks 70..=74. Frames are read with the crate's own decoder ([`Peer::frame`],
//! which honours `content-length`) or split at the first NUL as a careless client would
//! ([`Peer::until_nul`]), whichever shows the attack.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqsim::stomp::frame::{Frame, Limits, Parsed, Version, decode};

use super::*;

/// A raw STOMP 1.2 socket that tolerates the server closing on it.
struct Peer {
    s: TcpStream,
    buf: BytesMut,
    /// 1.0 (no escaping) until a CONNECTED is read, then 1.2.
    version: Version,
}

/// What came back.
#[derive(Debug)]
enum Answer {
    Frame(Frame),
    /// EOF or a reset.
    Closed,
    /// Nothing within the wait.
    Silent,
}

impl Peer {
    fn open(port: u16) -> Peer {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        Peer { s, buf: BytesMut::new(), version: Version::V1_0 }
    }

    /// Opens and sends CONNECT with these extra header lines; returns the answer.
    fn connect_with(port: u16, extra: &str) -> (Peer, Answer) {
        let mut p = Peer::open(port);
        p.write(format!("CONNECT\naccept-version:1.2\nhost:mqsim\n{extra}\n\0").as_bytes());
        let a = p.frame(Duration::from_secs(10));
        (p, a)
    }

    /// A connected session (CONNECTED asserted).
    fn connected(port: u16, extra: &str) -> Peer {
        let (p, a) = Peer::connect_with(port, extra);
        assert!(matches!(&a, Answer::Frame(f) if f.command == "CONNECTED"), "CONNECT: {a:?}");
        p
    }

    /// Writes, ignoring errors (the server may already have closed).
    fn write(&mut self, bytes: &[u8]) {
        let _ = self.s.write_all(bytes);
    }

    fn fill(&mut self, deadline: Instant) -> Option<Answer> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(Answer::Silent);
        }
        self.s.set_read_timeout(Some(left)).unwrap();
        let mut chunk = [0u8; 16 * 1024];
        match self.s.read(&mut chunk) {
            Ok(0) => Some(Answer::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                None
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                Some(Answer::Silent)
            }
            Err(_) => Some(Answer::Closed),
        }
    }

    /// The next frame as a conforming client reads it (`content-length` honoured).
    fn frame(&mut self, wait: Duration) -> Answer {
        let deadline = Instant::now() + wait;
        loop {
            match decode(&mut self.buf, self.version, &Limits::default()) {
                Ok(Some(Parsed::Frame(f))) => {
                    if f.command == "CONNECTED" {
                        self.version = Version::V1_2;
                    }
                    return Answer::Frame(f);
                }
                Ok(Some(Parsed::HeartBeat)) => continue,
                Ok(None) => {}
                Err(e) => panic!("the server sent a malformed frame ({e}): {:?}", self.buf),
            }
            if let Some(a) = self.fill(deadline) {
                return a;
            }
        }
    }

    /// The next NUL-terminated chunk, as a client that splits frames at NUL reads it.
    fn until_nul(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        loop {
            while self.buf.first() == Some(&b'\n') {
                let _ = self.buf.split_to(1);
            }
            if let Some(i) = self.buf.iter().position(|&b| b == 0) {
                let chunk = self.buf.split_to(i + 1);
                return Some(chunk[..i].to_vec());
            }
            if self.fill(deadline).is_some() {
                return None;
            }
        }
    }

    /// The offender's view: an ERROR (its `message` is returned) or a closed connection,
    /// and in either case the connection ends; never any other frame.
    fn refused(&mut self, what: &str) -> String {
        let message = match self.frame(Duration::from_secs(10)) {
            Answer::Frame(f) if f.command == "ERROR" => f.get("message").unwrap_or("").to_string(),
            Answer::Closed => String::new(),
            other => panic!("{what}: expected an ERROR or a closed connection, got {other:?}"),
        };
        match self.frame(Duration::from_secs(10)) {
            Answer::Closed => message,
            other => panic!("{what}: the connection stayed open after the ERROR ({message}): {other:?}"),
        }
    }
}

fn stomp_port(c: &TestCluster) -> u16 {
    master_port(&c.status(), "stomp")
}

/// Row 2: a destination name longer than an LMDB key allows got a RECEIPT, then made the
/// nodes unable to rebuild their index. Now every oversized name gets an ERROR, nothing is
/// stored, and the cluster restarts cleanly.
#[test]
fn long_names_get_an_error_and_the_cluster_still_boots() {
    let c = TestCluster::new(70);
    c.up();
    let canary = Canary::seed(&c, 20);
    let port = stomp_port(&c);
    let long = "q".repeat(600);

    let mut p = Peer::connected(port, "");
    p.write(format!("SEND\ndestination:/queue/{long}\npersistent:true\nreceipt:long\n\nx\0").as_bytes());
    let m = p.refused("a persistent SEND to /queue/ + 600 × q");
    assert!(m.contains("destination name is 600 bytes long; the limit is 200"), "{m}");

    // The same through every other name a frame carries.
    let attacks = [
        (format!("client-id:{}\n", "c".repeat(129)), String::new(), "client id"),
        (String::new(), format!("SUBSCRIBE\nid:{long}\ndestination:/queue/a\n\n\0"), "subscription id"),
        (
            "client-id:alice\n".into(),
            format!("SUBSCRIBE\nid:1\ndestination:/topic/t\nactivemq.subscriptionName:{long}\n\n\0"),
            "subscription name",
        ),
        (String::new(), format!("SUBSCRIBE\nid:1\ndestination:/topic/{long}\n\n\0"), "destination name"),
        (String::new(), format!("BEGIN\ntransaction:{long}\n\n\0"), "transaction id"),
        (String::new(), format!("SEND\ndestination:/queue/a\nreceipt:{long}\n\nx\0"), "receipt id"),
        (
            String::new(),
            format!("SUBSCRIBE\nid:1\ndestination:/queue/a\nselector:{}\n\n\0", "a".repeat(5000)),
            "selector",
        ),
    ];
    for (connect_extra, frame, label) in attacks {
        let (mut p, a) = Peer::connect_with(port, &connect_extra);
        if !frame.is_empty() {
            assert!(matches!(&a, Answer::Frame(f) if f.command == "CONNECTED"), "{label}: {a:?}");
            p.write(frame.as_bytes());
            let m = p.refused(label);
            assert!(m.contains(label) && m.contains("bytes long"), "{label}: {m}");
        } else {
            let m = match a {
                Answer::Frame(f) if f.command == "ERROR" => f.get("message").unwrap_or("").to_string(),
                other => panic!("{label}: {other:?}"),
            };
            assert!(m.contains(label), "{label}: {m}");
        }
    }
    assert_serves(&c);

    // Every node restarts from its store and a master serves: nothing unstorable got in.
    c.ok(&["restart", "nodes"]);
    assert_serves(&c);
    canary.assert_intact(&c);
}

/// Row 14: `heart-beat:18446744073709551615,0` was a multiply-overflow panic.
#[test]
fn heart_beat_overflow_gets_an_error() {
    let c = TestCluster::new(71);
    c.up();
    let canary = Canary::seed(&c, 20);
    let port = stomp_port(&c);
    let max = u64::MAX;
    for hb in [format!("{max},0"), format!("0,{max}"), format!("{max},{max}"), "86400001,0".into(), "x,y".into()] {
        let (mut p, a) = Peer::connect_with(port, &format!("heart-beat:{hb}\n"));
        // An ERROR, not only a closed connection: a task that panicked on the overflow
        // would close it too.
        match a {
            Answer::Frame(f) if f.command == "ERROR" => {
                assert!(f.get("message").unwrap_or("").contains("heart-beat"), "{hb}: {f:?}")
            }
            other => panic!("heart-beat:{hb}: expected an ERROR, got {other:?}"),
        }
        assert!(matches!(p.frame(Duration::from_secs(10)), Answer::Closed), "{hb}: connection left open");
    }
    // The largest accepted intervals still connect, mirrored.
    let (_p, a) = Peer::connect_with(port, "heart-beat:86400000,86400000\n");
    assert!(matches!(&a, Answer::Frame(f) if f.get("heart-beat") == Some("86400000,86400000")), "{a:?}");
    assert_serves(&c);
    canary.assert_intact(&c);
}

const USERS: &str = "\n[[user]]\nusername = \"system\"\npassword = \"manager\"\n";
const SYSTEM: &str = "login:system\npasscode:manager\n";

/// Row 6: with `[[user]]` entries, a CONNECT must carry a user's login and passcode.
#[test]
fn credentials_are_required_when_users_are_configured() {
    let c = TestCluster::with_toml(72, |base| common::cluster_toml(base, "") + USERS);
    c.up();
    let port = stomp_port(&c);

    // The canary, sent and checked with credentials (the shared harness connects without).
    let mut p = Peer::connected(port, SYSTEM);
    for i in 0..20 {
        p.write(
            format!("SEND\ndestination:/queue/hostile.canary\npersistent:true\nreceipt:c{i}\n\ncanary-{i}\0")
                .as_bytes(),
        );
        assert!(matches!(p.frame(Duration::from_secs(10)), Answer::Frame(f) if f.command == "RECEIPT"), "canary {i}");
    }
    drop(p);

    for (extra, who) in [
        ("", ""),
        ("login:nobody\npasscode:wrong\n", "nobody"),
        ("login:system\npasscode:wrong\n", "system"),
        ("login:system\n", "system"),
        ("login:System\npasscode:manager\n", "System"),
    ] {
        let (mut p, a) = Peer::connect_with(port, extra);
        let m = match a {
            Answer::Frame(f) if f.command == "ERROR" => f.get("message").unwrap_or("").to_string(),
            other => panic!("CONNECT {extra:?}: expected an ERROR, got {other:?}"),
        };
        assert_eq!(m, format!("User name [{who}] or password is invalid."));
        assert!(matches!(p.frame(Duration::from_secs(10)), Answer::Closed), "{extra:?}: connection left open");
    }
    // A refused client cannot act on the connection: a SEND pipelined behind a bad CONNECT.
    let mut p = Peer::open(port);
    p.write(b"CONNECT\naccept-version:1.2\nlogin:x\npasscode:y\n\n\0SEND\ndestination:/queue/hostile.canary\npersistent:true\nreceipt:r\n\nintruder\0");
    p.refused("a SEND after a refused CONNECT");

    // The right credentials work (STOMP as well as CONNECT), and the canary is intact.
    let mut p = Peer::open(port);
    p.write(format!("STOMP\naccept-version:1.2\nhost:mqsim\n{SYSTEM}\n\0").as_bytes());
    assert!(matches!(p.frame(Duration::from_secs(10)), Answer::Frame(f) if f.command == "CONNECTED"));
    p.write(b"SUBSCRIBE\nid:1\ndestination:/queue/hostile.canary\nack:auto\n\n\0");
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 20 {
        match p.frame(Duration::from_secs(10)) {
            Answer::Frame(f) if f.command == "MESSAGE" => {
                seen.insert(String::from_utf8_lossy(&f.body).into_owned());
            }
            other => panic!("canary: {other:?} after {} messages\n{}", seen.len(), c.diagnostics()),
        }
    }
    assert!(!seen.contains("intruder"));
    let mut p = Peer::connected(port, SYSTEM);
    p.write(b"SEND\ndestination:/queue/hostile.after\npersistent:true\nreceipt:after\n\nstill here\0");
    assert!(matches!(p.frame(Duration::from_secs(10)), Answer::Frame(f) if f.command == "RECEIPT"));
}

/// Row 7: a stored `content-length` (or a NUL in a stored header) framed what a STOMP
/// consumer read, so a producer could forge a RECEIPT. Now a consumer gets one MESSAGE per
/// message, with the whole body, and nothing else.
#[test]
fn stored_headers_cannot_forge_frames() {
    let c = TestCluster::new(73);
    c.up();
    let canary = Canary::seed(&c, 20);
    let st = c.status();
    let port = master_port(&st, "stomp");
    let body = b"hello\0RECEIPT\nreceipt-id:forged\n\n";

    // Through the console's REST API, with `content-length=5` as a message header: the
    // console refuses headers the broker owns (400), so nothing is stored...
    let post = |query: &str| {
        common::http(
            master_port(&st, "console"),
            "POST",
            &format!("/api/message/hostile.forged?type=queue{query}"),
            Some(("admin", "admin")),
            &[("Content-Type", "text/plain")],
            body,
        )
    };
    let r = post("&content-length=5&receipt-id=forged&message-id=forged");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("content-length"), "{r:?}");
    // ...and the same body without them (a NUL and a whole frame inside it) is delivered
    // as one MESSAGE whose content-length is the body's true length.
    let r = post("");
    assert_eq!(r.status, 200, "{r:?}");
    let mut p = Peer::connected(port, "");
    p.write(b"SUBSCRIBE\nid:s\ndestination:/queue/hostile.forged\nack:auto\nreceipt:sub\n\n\0");
    assert!(matches!(p.frame(Duration::from_secs(10)), Answer::Frame(f) if f.get("receipt-id") == Some("sub")));
    match p.frame(Duration::from_secs(10)) {
        Answer::Frame(f) if f.command == "MESSAGE" => {
            assert_eq!(&f.body[..], body, "the whole body: {f:?}");
            assert_eq!(f.get("content-length"), Some(&*body.len().to_string()));
            assert_eq!(f.get("receipt-id"), None);
            assert_eq!(f.get("subscription"), Some("s"));
            assert!(f.get("message-id").unwrap().starts_with("ID:mqsim-"), "{f:?}");
        }
        other => panic!("expected the MESSAGE, got {other:?}"),
    }
    match p.frame(Duration::from_secs(2)) {
        Answer::Silent => {}
        other => panic!("nothing may follow the MESSAGE, got {other:?}"),
    }

    // Through a STOMP producer: a NUL inside a header value, which a consumer that splits
    // frames at NUL would take for the end of the MESSAGE.
    let mut producer = Peer::connected(port, "");
    producer.write(
        b"SEND\ndestination:/queue/hostile.nul\npersistent:true\nreceipt:n\nk:a\0RECEIPT\nreceipt-id:forged\n\nbody\0",
    );
    assert!(matches!(producer.frame(Duration::from_secs(10)), Answer::Frame(f) if f.command == "RECEIPT"));
    let mut p = Peer::connected(port, "");
    p.write(b"SUBSCRIBE\nid:n\ndestination:/queue/hostile.nul\nack:auto\n\n\0");
    let first = p.until_nul(Duration::from_secs(10)).expect("the MESSAGE");
    let text = String::from_utf8_lossy(&first);
    assert!(text.starts_with("MESSAGE\n") && text.ends_with("\n\nbody"), "one whole MESSAGE: {text:?}");
    assert!(!text.contains("\nreceipt-id:"), "no stored receipt-id is delivered: {text:?}");
    if let Some(next) = p.until_nul(Duration::from_secs(2)) {
        panic!("nothing may follow the MESSAGE, got {:?}", String::from_utf8_lossy(&next));
    }
    assert_serves(&c);
    canary.assert_intact(&c);
}

/// Garbage and oversized input: each gets an ERROR or a closed connection, and the broker
/// carries on (a 1 MiB `maxFrameSize` keeps the oversized body quick to send).
#[test]
fn garbage_and_oversized_frames_are_refused() {
    let c = TestCluster::with_toml(74, |base| common::cluster_toml(base, "maxFrameSize = 1048576"));
    c.up();
    let canary = Canary::seed(&c, 20);
    let port = stomp_port(&c);

    // Random bytes instead of a CONNECT (xorshift, fixed seed).
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let random: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let mut p = Peer::open(port);
    p.write(&random);
    p.refused("random bytes");

    let huge_headers: String = (0..2000).map(|i| format!("h{i}:v\n")).collect();
    let attacks: Vec<(&str, Vec<u8>, &str)> = vec![
        ("2000 headers", format!("SEND\ndestination:/queue/a\n{huge_headers}\nx\0").into_bytes(), "headers"),
        (
            "a 20 KiB header",
            format!("SEND\ndestination:/queue/a\nk:{}\n\nx\0", "v".repeat(20 * 1024)).into_bytes(),
            "header",
        ),
        ("a 20 KiB command line", "S".repeat(20 * 1024).into_bytes(), "command"),
        ("a 2 MiB body", [&b"SEND\ndestination:/queue/a\n\n"[..], &vec![b'x'; 2 << 20], b"\0"].concat(), "frame size"),
        (
            "content-length over the limit",
            b"SEND\ndestination:/queue/a\ncontent-length:2097152\n\n".to_vec(),
            "frame size",
        ),
        (
            "content-length u64::MAX",
            b"SEND\ndestination:/queue/a\ncontent-length:18446744073709551615\n\n".to_vec(),
            "frame size",
        ),
        ("content-length garbage", b"SEND\ndestination:/queue/a\ncontent-length:-5\n\nx\0".to_vec(), "content-length"),
        (
            "a prefetch of u64::MAX, then garbage",
            b"SUBSCRIBE\nid:1\ndestination:/queue/a\nactivemq.prefetchSize:18446744073709551615\n\n\0GARBAGE\n\n\0"
                .to_vec(),
            "unknown command",
        ),
    ];
    for (what, bytes, needle) in attacks {
        let mut p = Peer::connected(port, "");
        p.write(&bytes);
        let m = p.refused(what);
        assert!(m.is_empty() || m.to_lowercase().contains(needle), "{what}: {m}");
    }

    // Per-connection state is bounded: 1000 subscriptions, then an ERROR; 100 open
    // transactions, then an ERROR.
    let mut many = String::new();
    for i in 0..mqsim::limits::MAX_CONSUMERS_PER_CONNECTION {
        many += &format!("SUBSCRIBE\nid:{i}\ndestination:/queue/hostile.many\n\n\0");
    }
    many += "SUBSCRIBE\nid:one-more\ndestination:/queue/hostile.many\nreceipt:one-more\n\n\0";
    let mut p = Peer::connected(port, "");
    p.write(many.as_bytes());
    let m = p.refused("one subscription too many");
    assert!(m.contains("subscriptions, the most one connection may hold"), "{m}");
    let mut begins = String::new();
    for i in 0..mqsim::limits::MAX_TRANSACTIONS_PER_CONNECTION {
        begins += &format!("BEGIN\ntransaction:t{i}\n\n\0");
    }
    begins += "BEGIN\ntransaction:one-more\nreceipt:one-more\n\n\0";
    let mut p = Peer::connected(port, "");
    p.write(begins.as_bytes());
    let m = p.refused("one transaction too many");
    assert!(m.contains("open transactions, the most one connection may hold"), "{m}");

    assert_serves(&c);
    canary.assert_intact(&c);
}
