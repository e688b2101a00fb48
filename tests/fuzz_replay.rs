//! The fuzz targets on stable: every seed in `tests/fuzz/corpus/<target>/` and every input a
//! fuzzer ever crashed on in `tests/fuzz/artifacts/<target>/` goes through the target's
//! function in [`mqsim::fuzzing`] on each `cargo test`, so a fixed crash stays fixed without
//! a nightly toolchain. A target with no seeds fails (the replay must not pass vacuously), and
//! so does a directory or a fuzz target file that names no target.
//!
//! `cargo test --test fuzz_replay -- --ignored write_seeds` rewrites the generated seeds (the
//! OpenWire ones made by the real ActiveMQ jar, `golden-*`, are kept as they are). See
//! docs/fuzzing.md.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use mqsim::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// The files of `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

/// Runs `target` on every seed and past crash; fails listing every input that panicked.
fn replay(target: &str) {
    let (_, run) = TARGETS.iter().find(|(name, _)| *name == target).expect("a target of mqsim::fuzzing");
    let seeds = files(&fuzz_dir().join("corpus").join(target));
    assert!(!seeds.is_empty(), "tests/fuzz/corpus/{target}/ has no seeds: the replay would pass vacuously");
    let crashes = files(&fuzz_dir().join("artifacts").join(target));
    let mut failed = Vec::new();
    for path in seeds.iter().chain(&crashes) {
        let data = std::fs::read(path).unwrap();
        if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} panicked on:\n{}", failed.join("\n"));
    eprintln!("{target}: {} seeds, {} past crashes replayed", seeds.len(), crashes.len());
}

#[test]
fn stomp_frame() {
    replay("stomp_frame");
}

#[test]
fn openwire() {
    replay("openwire");
}

#[test]
fn replication_wire() {
    replay("replication_wire");
}

#[test]
fn selector() {
    replay("selector");
}

#[test]
fn config_toml() {
    replay("config_toml");
}

/// Every corpus/artifacts directory and every fuzz target file belongs to a target, and every
/// target has its file and its `[[bin]]` in tests/fuzz/Cargo.toml.
#[test]
fn targets_corpora_and_fuzz_project_agree() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    for sub in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(sub)) else { continue };
        for entry in entries {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(names.contains(&name.as_str()), "tests/fuzz/{sub}/{name} names no target of mqsim::fuzzing");
        }
    }
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for name in &names {
        let file = format!("fuzz_targets/{name}.rs");
        let source = std::fs::read_to_string(fuzz_dir().join(&file)).unwrap_or_default();
        assert!(
            source.contains(&format!("mqsim::fuzzing::{name}(data)")),
            "tests/fuzz/{file} must call mqsim::fuzzing::{name}"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"\npath = \"{file}\"")),
            "tests/fuzz/Cargo.toml lacks [[bin]] {name}"
        );
    }
    for file in files(&fuzz_dir().join("fuzz_targets")) {
        let stem = file.file_stem().unwrap().to_str().unwrap().to_string();
        assert!(names.contains(&stem.as_str()), "{} names no target", file.display());
    }
}

/// The seeds are what they claim to be: inputs that reach past the first check.
#[test]
fn seeds_are_real_inputs() {
    use bytes::BytesMut;
    use mqsim::stomp::frame::{Limits, Version, decode};
    let seed = |target: &str, name: &str| std::fs::read(fuzz_dir().join("corpus").join(target).join(name)).unwrap();

    let session = seed("stomp_frame", "session-1.2");
    let mut buf = BytesMut::from(&session[1..]);
    let mut frames = 0;
    while decode(&mut buf, Version::V1_2, &Limits::default()).unwrap().is_some() {
        frames += 1;
    }
    assert_eq!((frames, buf.len()), (10, 0));

    let replication = seed("replication_wire", "wal-ack-error");
    let mut buf = BytesMut::from(&replication[..]);
    let mut frames = Vec::new();
    while let Some(f) = mqsim::replication::wire::decode(&mut buf).unwrap() {
        frames.push(f);
    }
    let Some(mqsim::replication::wire::Frame::Wal(_, payload)) = frames.first() else { panic!("{frames:?}") };
    assert!(mqsim::store::journal::validate(payload).unwrap().is_some());

    for file in files(&fuzz_dir().join("corpus/openwire")) {
        let data = std::fs::read(&file).unwrap();
        let mut at = 0;
        while at < data.len() {
            let size = i32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            mqsim::openwire::marshal::decode(&data[at + 4..at + 4 + size])
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            at += 4 + size;
        }
    }
    for file in files(&fuzz_dir().join("corpus/selector")) {
        let data = std::fs::read(&file).unwrap();
        mqsim::broker::selector::Selector::parse(std::str::from_utf8(&data[1..]).unwrap(), data[0] & 1 == 1).unwrap();
    }
    let config = |name: &str| {
        mqsim::Config::parse(&String::from_utf8(seed("config_toml", name)).unwrap(), Path::new("cluster.toml"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    for ok in ["cluster.toml", "multihost.toml", "port-block.toml"] {
        config(ok).unwrap();
    }
    assert!(config("port-clash.toml").unwrap_err().contains("used twice"));
    assert!(config("broker-name-mismatch.toml").unwrap_err().contains("line "));
}

/// Writes the generated seeds (small, real inputs made with mqsim's own encoders and the
/// examples in the repository). Run by hand when a format changes; not part of the suite.
#[test]
#[ignore]
fn write_seeds() {
    use bytes::BytesMut;
    use mqsim::openwire::command::*;
    use mqsim::openwire::marshal;
    use mqsim::replication::wire;
    use mqsim::stomp::frame::{Frame, Version, encode};
    use mqsim::store::journal;
    use mqsim::store::record::{Record, StoredMessage};

    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };

    // STOMP: the first byte picks the version (0 1.0, 1 1.1, 2 1.2) and, with 0x80, small limits.
    let stomp = |mode: u8, frames: &[Frame], version: Version, extra: &[u8]| {
        let mut out = BytesMut::new();
        out.extend_from_slice(&[mode]);
        for f in frames {
            encode(f, version, &mut out);
        }
        out.extend_from_slice(extra);
        out.to_vec()
    };
    let session = [
        Frame::new("CONNECT")
            .header("accept-version", "1.0,1.1,1.2")
            .header("host", "localhost")
            .header("login", "system")
            .header("passcode", "manager")
            .header("heart-beat", "10000,10000"),
        Frame::new("SUBSCRIBE")
            .header("id", "0")
            .header("destination", "/queue/orders")
            .header("ack", "client-individual")
            .header("selector", "color = 'red' AND price > 10"),
        Frame::new("BEGIN").header("transaction", "tx1"),
        Frame::new("SEND")
            .header("destination", "/queue/orders")
            .header("transaction", "tx1")
            .header("persistent", "true")
            .header("receipt", "r-1")
            .body("hello"),
        Frame::new("COMMIT").header("transaction", "tx1"),
        Frame::new("ACK").header("id", "ID:mqsim-1").header("transaction", "tx1"),
        Frame::new("NACK").header("id", "ID:mqsim-2"),
        Frame::new("ABORT").header("transaction", "tx2"),
        Frame::new("UNSUBSCRIBE").header("id", "0"),
        Frame::new("DISCONNECT").header("receipt", "bye"),
    ];
    write("stomp_frame", "session-1.2", &stomp(2, &session, Version::V1_2, b""));
    write("stomp_frame", "session-1.0", &stomp(0, &session, Version::V1_0, b""));
    let server = [
        Frame::new("CONNECTED").header("version", "1.2").header("heart-beat", "0,0").header("server", "mqsim"),
        Frame::new("MESSAGE")
            .header("destination", "/queue/a:b")
            .header("message-id", "ID:1")
            .header("subscription", "0")
            .header("k", "x:y\nz\\w")
            .body(&b"x\0y"[..]),
        Frame::new("RECEIPT").header("receipt-id", "77"),
        Frame::new("ERROR").header("message", "malformed frame").body("detail"),
    ];
    write("stomp_frame", "server-frames-1.1", &stomp(1, &server, Version::V1_1, b"\n\r\n"));
    write("stomp_frame", "escapes-1.2", b"\x02SEND\nk:a\\rb\\c\\n\\\\\na\\cb:x\n\n\0\n");
    write("stomp_frame", "crlf-heartbeats", b"\x06\n\r\nSEND\r\ndestination:/q\r\nk:v\r\n\r\nbody\0\r\n\n");
    write("stomp_frame", "content-length-nul-body", b"\x02SEND\ncontent-length: 4 \ncontent-length:x\n\na\0b\0\0");
    write("stomp_frame", "small-limits", b"\x82SEND\na:1\nb:2\nc:3\n\n\0UNSUBSCRIBE\n\n\0");
    write("stomp_frame", "small-limits-endless-body", &[&b"\x86SEND\n\n"[..], &[b'x'; 300]].concat());

    // OpenWire: commands mqsim itself sends (the golden-* seeds are those the jar sends).
    let q = Destination { kind: DestKind::Queue, name: "orders".into() };
    let props = {
        let mut w = mqsim::openwire::codec::Writer::default();
        let map = vec![
            ("color".to_string(), mqsim::openwire::codec::Value::String("red".into())),
            ("n".to_string(), mqsim::openwire::codec::Value::Int(7)),
            (
                "nested".to_string(),
                mqsim::openwire::codec::Value::List(vec![mqsim::openwire::codec::Value::Double(1.5)]),
            ),
        ];
        mqsim::openwire::codec::write_map(&mut w, Some(&map));
        w.buf
    };
    let msg = Message {
        kind: types::TEXT_MESSAGE,
        destination: Some(q.clone()),
        message_id: Some(MessageId {
            text_view: None,
            producer: Some(ProducerId { connection: "ID:c-1".into(), value: 1, session: 1 }),
            producer_seq: 3,
            broker_seq: 0,
        }),
        persistent: true,
        content: Some(vec![0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']),
        properties: Some(props),
        ..Message::default()
    };
    let dispatch = Command::new(Body::MessageDispatch(Box::new(MessageDispatch {
        consumer_id: Some(ConsumerId { connection: "ID:c-1".into(), session: 1, value: 1 }),
        destination: Some(q),
        message: Some(Box::new(Command::new(Body::Message(Box::new(msg))))),
        redelivery_counter: 0,
    })));
    let mut stream =
        marshal::to_frame(&Command::new(Body::WireFormatInfo(mqsim::openwire::server::wire_format_info(1 << 20))));
    stream.extend(marshal::to_frame(&Command {
        id: 5,
        response_required: false,
        body: Body::Response { correlation_id: 4 },
    }));
    stream.extend(marshal::to_frame(&dispatch));
    write("openwire", "mqsim-wireformat-response-dispatch", &stream);

    // Replication: a slave's login, the master's answers, a wal of real journal records.
    let stored = StoredMessage {
        seq: 1,
        destination: "/queue/orders".into(),
        headers: vec![("color".into(), "red".into())],
        body: b"hello".to_vec(),
        persistent: true,
        timestamp: 1_700_000_000_000,
        redelivery_count: 0,
        producer: Some(("ID:c-1:1:1".into(), 3)),
    };
    let records = [
        Record::Enqueue { store: "orders".into(), msg: stored },
        Record::Dequeue { store: "orders".into(), seq: 1 },
        Record::Subscribe { key: "sub:c:d".into(), topic: "news".into() },
        Record::Batch(vec![
            Record::Unsubscribe { key: "sub:c:d".into() },
            Record::Dequeue { store: "q".into(), seq: 2 },
        ]),
    ];
    let mut payload = Vec::new();
    for r in &records {
        journal::frame(&r.encode(), &mut payload);
    }
    let end = payload.len() as u64;
    let frames = [
        wire::Frame::Wal(wire::Wal { file: 0, offset: 0, length: end, sync: true }, payload.clone().into()),
        wire::Frame::Ack(wire::Ack { position: end }),
        wire::Frame::Error("Invalid security_token".into()),
    ];
    let mut out = BytesMut::new();
    for f in &frames {
        wire::encode(f, &mut out);
    }
    write("replication_wire", "wal-ack-error", &out);
    // The logins as raw bytes, so that they outlive a change of the login structs: v1 (a
    // clear-text token) and v2 (challenge-response: login, challenge, proof, ok with proof).
    let v1 = format!(
        "LevelDB Store Replication v1:login\n{{\"node_id\":\"node02\",\"security_token\":\"token\",\"position\":0,\
         \"last\":[0,77]}}\0ok\n{{\"from\":0,\"master_end\":{end}}}\0"
    );
    write("replication_wire", "login-v1-ok", v1.as_bytes());
    let v2 = format!(
        "LevelDB Store Replication v2:login\n{{\"node_id\":\"node02\",\"nonce\":\"bm9uY2U\",\"position\":0,\"last\":null}}\0\
         challenge\n{{\"node_id\":\"node01\",\"nonce\":\"bTI\"}}\0proof\n{{\"proof\":\"cHJvb2Y\"}}\0\
         ok\n{{\"from\":0,\"master_end\":{end},\"proof\":\"cHJvb2Y\"}}\0"
    );
    write("replication_wire", "login-v2-challenge-proof-ok", v2.as_bytes());

    // Selectors: the first byte is convert_strings (STOMP's typing when odd).
    let selectors = [
        "color = 'red' AND price > 10",
        "JMSPriority BETWEEN 1 AND 4 OR color IS NOT NULL",
        "country IN ('UK', 'US', 'France') AND NOT (n < -5)",
        "text LIKE 'ab\\%%' ESCAPE '\\' OR text NOT LIKE '_b%'",
        "(n + 2) * 3 / 2.5e1 - -max <> 0x1FL AND weight >= .5",
        "flag = TRUE AND on AND NOT off AND empty = ''",
        "9223372036854775807 + 1 < 0 OR min = -9223372036854775808",
        "name = 'O''Brien' OR Größe IS NULL",
    ];
    for (i, s) in selectors.iter().enumerate() {
        write("selector", &format!("selector-{i}"), &[&[(i % 2) as u8][..], s.as_bytes()].concat());
    }

    // cluster.toml: the shipped file, the multi-host example, a test block, and two errors.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    write("config_toml", "cluster.toml", &std::fs::read(root.join("cluster.toml")).unwrap());
    write("config_toml", "multihost.toml", &std::fs::read(root.join("docs/examples/multihost.toml")).unwrap());
    let block = mqsim::config::port_block_toml(21000, "brokerName = \"t\"\nsync = \"quorum_mem\"", 200)
        + "[[user]]\nusername = \"u\"\npassword = \"p\"\n";
    write("config_toml", "port-block.toml", block.as_bytes());
    let clash = block.replace("stomp = 21017", "stomp = 21016");
    write("config_toml", "port-clash.toml", clash.as_bytes());
    let other = block.replace("name = \"node02\"\n", "name = \"node02\"\nbrokerName = \"other\"\n");
    write("config_toml", "broker-name-mismatch.toml", other.as_bytes());
}
