//! Fuzz entry points: one function per cargo-fuzz target in `tests/fuzz/`, each taking
//! arbitrary bytes and driving one parser the way the running broker drives it.
//!
//! The same functions serve two callers: the libFuzzer targets (`tests/fuzz/fuzz_targets/*.rs`,
//! nightly, `cargo fuzz run --fuzz-dir tests/fuzz <target>`) and the stable replay test
//! (`tests/fuzz_replay.rs`), which runs every seed in `tests/fuzz/corpus/<target>/` and every
//! past crash in `tests/fuzz/artifacts/<target>/` through them on each `cargo test`. See
//! `docs/fuzzing.md`.
//!
//! A function returns normally on any input a peer may send; a panic, an overflow (the
//! fuzzers build with overflow checks), a stack overflow, a hang or an oversized allocation
//! is a finding. Beyond "does not crash", each one checks what the parser promises:
//!
//! * `stomp_frame`: decoding the bytes whole and fed in chunks yields the same frames, a
//!   decode that waits for more consumes nothing, and every decoded frame re-encodes to
//!   bytes that decode to the same command and body.
//! * `openwire`: size-prefixed frames (1 MiB at most), each unmarshalled; a command that
//!   decodes re-encodes to bytes that decode and re-encode to the same bytes; a message is
//!   converted the way the connection handler stores it.
//! * `replication_wire`: replication frames; each re-encodes to itself; a `wal` payload is
//!   checked record by record the way a slave checks it, and each record's data is decoded
//!   as a journal record whatever its CRC says (a hostile peer computes CRCs too).
//! * `selector`: parse, and when it parses, evaluate against a small fixed message.
//! * `config_toml`: `cluster.toml` parsing and validation, the error text, and the URLs and
//!   port plan derived from a valid file.
//!
//! Caveat: these are test hooks, not an API; the module is hidden from the docs.

use std::path::Path;

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::broker::selector::Value;
use crate::openwire::codec::FrameCodec;
use crate::openwire::command::Body;
use crate::openwire::{convert, marshal};
use crate::replication::wire;
use crate::stomp::frame::{self as stomp, Limits, Parsed, Version};
use crate::store::{journal, record::Record};

/// Every target: its name (the directory under `tests/fuzz/corpus/` and
/// `tests/fuzz/artifacts/`, and the file under `tests/fuzz/fuzz_targets/`) and its function.
/// A fuzz target: its name and the function libFuzzer calls.
pub type Target = (&'static str, fn(&[u8]));

pub const TARGETS: [Target; 5] = [
    ("stomp_frame", stomp_frame),
    ("openwire", openwire),
    ("replication_wire", replication_wire),
    ("selector", selector),
    ("config_toml", config_toml),
];

/// The largest OpenWire frame the `openwire` target accepts (the fuzzer's `-max_len`).
pub const OPENWIRE_MAX_FRAME: usize = 1 << 20;

/// First byte: bits 0–1 the STOMP version (3 means 1.2), bit 7 small limits (so the limit
/// checks are reached with short inputs), bits 2–6 the chunk size for incremental feeding.
/// The rest is the byte stream a client sends.
pub fn stomp_frame(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else { return };
    let version = [Version::V1_0, Version::V1_1, Version::V1_2, Version::V1_2][usize::from(mode & 3)];
    let limits = if mode & 0x80 != 0 {
        Limits { max_frame_size: 256, max_command_len: 16, max_header_len: 64, max_headers: 4 }
    } else {
        Limits::default()
    };
    let (whole, whole_failed) = stomp_drain(&mut BytesMut::from(input), version, &limits);

    // The same bytes as they may arrive from a socket: in chunks (at most 64 of them, so a
    // long input is not rescanned quadratically).
    let chunk = (1 + usize::from((mode >> 2) & 0x1f)).max(input.len() / 64 + 1);
    let mut buf = BytesMut::new();
    let (mut fed, mut fed_failed) = (Vec::new(), false);
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        let (got, failed) = stomp_drain(&mut buf, version, &limits);
        fed.extend(got);
        if failed {
            fed_failed = true;
            break;
        }
    }
    assert_eq!(whole, fed, "frames differ when the bytes arrive in chunks of {chunk}");
    assert_eq!(whole_failed, fed_failed, "an error in one feeding only (chunks of {chunk})");

    // Whatever was decoded can be sent on: the encoder's output decodes to the same frame.
    let roomy = Limits {
        max_frame_size: usize::MAX,
        max_command_len: usize::MAX,
        max_header_len: usize::MAX,
        max_headers: usize::MAX,
    };
    for parsed in &whole {
        let Parsed::Frame(frame) = parsed else { continue };
        let mut out = BytesMut::new();
        stomp::encode(frame, version, &mut out);
        match stomp::decode(&mut out, version, &roomy) {
            Ok(Some(Parsed::Frame(back))) => {
                assert_eq!((&back.command, &back.body), (&frame.command, &frame.body), "re-encoded frame differs");
            }
            other => panic!("re-encoded {frame:?} decodes as {other:?}"),
        }
        assert!(out.is_empty(), "re-encoded frame leaves {out:?}");
    }
}

/// Decodes until the decoder waits or fails; checks that waiting consumes nothing and that
/// every item consumes something.
fn stomp_drain(buf: &mut BytesMut, version: Version, limits: &Limits) -> (Vec<Parsed>, bool) {
    let mut got = Vec::new();
    loop {
        let before = buf.len();
        match stomp::decode(buf, version, limits) {
            Ok(Some(p)) => {
                assert!(buf.len() < before, "{p:?} consumed nothing");
                got.push(p);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "waiting for more consumed bytes");
                return (got, false);
            }
            Err(e) => {
                assert_eq!(buf.len(), before, "an error ({e}) consumed bytes");
                let _ = e.to_string();
                return (got, true);
            }
        }
    }
}

/// The byte stream a client sends after the handshake: size-prefixed loose-encoded commands.
pub fn openwire(data: &[u8]) {
    let mut codec = FrameCodec { max_frame_size: OPENWIRE_MAX_FRAME };
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        openwire_command(&frame);
    }
}

fn openwire_command(frame: &[u8]) {
    let cmd = match marshal::decode(frame) {
        Ok(cmd) => cmd,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let wire = marshal::to_frame(&cmd);
    let size = i32::from_be_bytes(wire[..4].try_into().expect("size prefix"));
    assert_eq!(size as usize, wire.len() - 4, "size prefix of a re-encoded {}", cmd.body.name());
    let again = marshal::decode(&wire[4..])
        .unwrap_or_else(|e| panic!("a re-encoded {} does not decode: {e}\n{cmd:?}", cmd.body.name()));
    assert!(marshal::to_frame(&again) == wire, "a {} does not re-encode to the same bytes", cmd.body.name());
    if let Body::Message(m) = &cmd.body
        && let Some(dest) = &m.destination
    {
        // As the connection handler does: compressed bodies inflate to at most a frame.
        let _ = convert::to_stored_within(m, dest, 0, OPENWIRE_MAX_FRAME);
    }
}

/// The byte stream between master and slave: action line, JSON, NUL, `wal` payloads.
pub fn replication_wire(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    loop {
        let frame = match wire::decode(&mut buf) {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(e) => {
                let _ = e.to_string();
                return;
            }
        };
        let mut out = BytesMut::new();
        wire::encode(&frame, &mut out);
        assert_eq!(wire::decode(&mut out), Ok(Some(frame.clone())), "a frame does not re-encode to itself");
        assert!(out.is_empty());
        if let wire::Frame::Wal(wal, payload) = &frame {
            let _ = wal.position();
            let _ = journal::validate(payload);
            wal_records(payload);
        }
    }
}

/// Decodes the data of each record in a `wal` payload, trusting its header's length but not
/// its CRC, as a slave replaying what a hostile master shipped would.
fn wal_records(payload: &[u8]) {
    let mut at = 0;
    while let Some(header) = payload.get(at..at + journal::HEADER) {
        let size = u32::from_be_bytes(header[6..10].try_into().expect("4 bytes")) as usize;
        let Some(data) = payload.get(at + journal::HEADER..at + journal::HEADER + size) else { return };
        if let Ok(record) = Record::decode(data) {
            assert_eq!(Record::decode(&record.encode()).as_ref(), Ok(&record), "a record does not re-encode");
        }
        at += journal::HEADER + size;
    }
}

/// First byte: bit 0 is `convert_strings` (STOMP's typing); the rest is the selector text.
pub fn selector(data: &[u8]) {
    let Some((&mode, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let selector = match crate::broker::subscription_selector(Some(text), mode & 1 == 1) {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(e) => {
            assert!(!e.is_empty());
            return;
        }
    };
    let long = "ab%_\\'x".repeat(40);
    let message = |name: &str| -> Option<Value> {
        Some(match name {
            "JMSPriority" => Value::Long(4),
            "JMSTimestamp" => Value::Long(1_700_000_000_000),
            "JMSType" | "color" => Value::Str("red".into()),
            "JMSDeliveryMode" => Value::Str("PERSISTENT".into()),
            "price" => Value::Str("20".into()),
            "rate" => Value::Str("1.5".into()),
            "flag" => Value::Str("TRUE".into()),
            "weight" => Value::Double(2.5),
            "nan" => Value::Double(f64::NAN),
            "n" => Value::Long(-7),
            "max" => Value::Long(i64::MAX),
            "min" => Value::Long(i64::MIN),
            "on" => Value::Bool(true),
            "off" => Value::Bool(false),
            "text" => Value::Str(long.clone()),
            "empty" => Value::Str(String::new()),
            _ => return None,
        })
    };
    let _ = selector.matches(&message);
}

/// The text of a `cluster.toml`.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match crate::Config::parse(text, Path::new("fuzz/cluster.toml")) {
        Ok(c) => {
            let _ = (c.ports(), c.zk_connect(), c.failover_url(), c.stomp_failover_url(), c.dashboard_url());
            let _ = c.quorum();
            for n in &c.nodes {
                let _ = c.console_url(n);
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
        }
    }
}
