//! A change detector for the OpenWire marshalling: every seed of the fuzz corpus
//! (`tests/fuzz/corpus/openwire/`, the seeds in git; not the git-ignored `corpus-grown/`
//! a local fuzz run leaves, which differs from machine to machine),
//! frame by frame, and the vectors of the unit tests in [`super::marshal`], decoded and
//! re-encoded; the outcome (the re-encoded frame in hex and a digest of the decoded
//! command's `Debug`, or the error's text) must match `testdata/corpus.golden`.
//!
//! Each frame is also cut at every length and has every byte set to 0x00, 0x01, 0x7f and
//! 0xff in turn; the outcomes of those variants go into one digest per frame, so an error
//! text, an offset or a field read in a different order shows up too.
//!
//! `MQSIM_WRITE_GOLDEN=1 cargo test --lib corpus_round_trips_unchanged` rewrites the file;
//! only do that for a change of behaviour that is meant.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::codec::{FrameCodec, MAX_DEPTH as MAP_DEPTH, Writer};
use super::command::*;
use super::marshal::{MAX_DEPTH, decode, to_frame};

/// FNV-1a, 64 bits: a stable digest (std's hashers may change between releases).
fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::with_capacity(2 * b.len()), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// One frame body (type byte first): `ok <hex> <debug digest>` or `err <text>`.
fn outcome(frame: &[u8]) -> String {
    match decode(frame) {
        Ok(cmd) => format!("ok {} {:016x}", hex(&to_frame(&cmd)), fnv(format!("{cmd:?}").as_bytes())),
        Err(e) => format!("err {e}"),
    }
}

/// The digest of every cut and every byte overwrite of `frame`.
fn variants(frame: &[u8]) -> u64 {
    let mut all = String::new();
    for cut in 0..frame.len() {
        all.push_str(&outcome(&frame[..cut]));
        all.push('\n');
    }
    let mut f = frame.to_vec();
    for i in 0..f.len() {
        let orig = f[i];
        for v in [0x00, 0x01, 0x7f, 0xff] {
            f[i] = v;
            all.push_str(&outcome(&f));
            all.push('\n');
        }
        f[i] = orig;
    }
    fnv(all.as_bytes())
}

fn record(out: &mut String, name: &str, frame: &[u8]) {
    let _ = writeln!(out, "{name} {}", outcome(frame));
    let _ = writeln!(out, "{name} variants {:016x}", variants(frame));
}

fn seeds(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

/// The commands of `marshal`'s unit tests, and hostile frames like theirs.
fn unit_vectors() -> Vec<(&'static str, Vec<u8>)> {
    let cid = ConsumerId { connection: "ID:c-1".into(), session: -1, value: 1 };
    let ack = Command::new(Body::MessageAck(Box::new(MessageAck {
        destination: Some(Destination { kind: DestKind::Queue, name: "q".into() }),
        transaction_id: Some(TransactionId::Local { value: 2, connection: Some("ID:c-1".into()) }),
        consumer_id: Some(cid.clone()),
        ack_type: ack::POISON,
        first_message_id: None,
        last_message_id: Some(MessageId {
            text_view: None,
            producer: Some(ProducerId { connection: "ID:c-1".into(), value: 1, session: 1 }),
            producer_seq: 9,
            broker_seq: 10,
        }),
        message_count: 1,
        poison_cause: Some(Throwable::new("java.lang.Throwable", "boom")),
    })));
    let msg = Message {
        kind: types::TEXT_MESSAGE,
        content: Some(vec![0, 0, 0, 1, b'x']),
        data_structure: Some(Data::Command(Box::new(Command::new(Body::DestinationInfo(Box::new(DestinationInfo {
            connection_id: Some("ID:c-1".into()),
            destination: Some(Destination { kind: DestKind::TempQueue, name: "ID:c-1:1".into() }),
            operation: 0,
            timeout: 0,
            broker_path: Some(vec![Some(Data::BrokerId("b".into())), None]),
        })))))),
        ..Message::default()
    };
    let blob = Message {
        kind: types::BLOB_MESSAGE,
        blob: Some(BlobFields { remote_blob_url: Some("http://b/1".into()), mime_type: None, deleted_by_broker: true }),
        ..Message::default()
    };
    let dispatch = Command::new(Body::MessageDispatch(Box::new(MessageDispatch {
        consumer_id: Some(cid),
        destination: None,
        message: Some(Box::new(Command::new(Body::Message(Box::new(msg))))),
        redelivery_counter: 2,
    })));
    let body = |c: &Command| to_frame(c)[4..].to_vec();
    let mut v = vec![
        (
            "unit.response",
            body(&Command { id: 7, response_required: true, body: Body::Response { correlation_id: 3 } }),
        ),
        ("unit.ack", body(&ack)),
        ("unit.dispatch", body(&dispatch)),
        ("unit.blob", body(&Command::new(Body::Message(Box::new(blob))))),
        ("unit.control", body(&Command::new(Body::ConnectionControl(ConnectionControl::default())))),
        ("unit.unknown-type", vec![99, 0, 0, 0, 1, 0]),
    ];
    let mut f = vec![types::CONNECTION_INFO, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0x7f, 0xff];
    f.extend_from_slice(&[0; 16]);
    v.push(("unit.huge-array", f.clone()));
    f[11..13].copy_from_slice(&(-1i16).to_be_bytes());
    v.push(("unit.negative-array", f));
    let nested = |depth: usize| {
        let mut f = vec![types::DATA_RESPONSE, 0, 0, 0, 1, 0, 0, 0, 0, 2];
        for _ in 0..depth {
            f.extend_from_slice(&[1, types::DATA_RESPONSE, 0, 0, 0, 1, 0, 0, 0, 0, 2]);
        }
        f.push(0);
        f
    };
    v.push(("unit.nested-ok", nested(MAX_DEPTH - 1)));
    v.push(("unit.nested-deep", nested(MAX_DEPTH + 5)));
    let mut props = vec![0, 0, 0, 1, 0, 1, b'k', 12];
    props.extend_from_slice(&100_000i32.to_be_bytes());
    props.resize(props.len() + 100_000, 0);
    let mut w = Writer::default();
    w.u8(types::WIRE_FORMAT_INFO);
    w.buf.extend_from_slice(&MAGIC);
    w.i32(12);
    w.bytes(Some(&props));
    v.push(("unit.wireformat-null-list", w.buf));
    let mut maps = Vec::new();
    for _ in 0..MAP_DEPTH + 2 {
        maps.extend_from_slice(&[0, 0, 0, 1, 0, 1, b'm', 11]);
    }
    maps.extend_from_slice(&[0, 0, 0, 0]);
    let mut w = Writer::default();
    w.u8(types::WIRE_FORMAT_INFO);
    w.buf.extend_from_slice(&MAGIC);
    w.i32(12);
    w.bytes(Some(&maps));
    v.push(("unit.wireformat-deep-maps", w.buf));
    v
}

fn golden_text() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = String::new();
    for dir in ["tests/fuzz/corpus/openwire"] {
        for path in seeds(&root.join(dir)) {
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let mut buf = BytesMut::from(&std::fs::read(&path).unwrap()[..]);
            let mut codec = FrameCodec { max_frame_size: 1 << 20 };
            let mut i = 0;
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(frame)) => record(&mut out, &format!("{name}#{i}"), &frame),
                    Ok(None) => break,
                    Err(e) => {
                        let _ = writeln!(out, "{name}#{i} framing {e}");
                        break;
                    }
                }
                i += 1;
            }
            let _ = writeln!(out, "{name} frames {i} rest {}", buf.len());
        }
    }
    for (name, frame) in unit_vectors() {
        // The large ones only as themselves: their variants would take long and add little.
        if frame.len() > 4096 {
            let _ = writeln!(out, "{name} {}", outcome(&frame));
        } else {
            record(&mut out, name, &frame);
        }
    }
    out
}

#[test]
fn corpus_round_trips_unchanged() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/openwire/testdata/corpus.golden");
    let now = golden_text();
    if std::env::var_os("MQSIM_WRITE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).expect("src/openwire/testdata/corpus.golden");
    assert!(now.lines().count() > 100, "the corpus is missing: the test would pass vacuously");
    for (i, (a, b)) in want.lines().zip(now.lines()).enumerate() {
        assert_eq!(b, a, "line {} of corpus.golden differs", i + 1);
    }
    assert_eq!(now.lines().count(), want.lines().count(), "number of lines of corpus.golden");
}
