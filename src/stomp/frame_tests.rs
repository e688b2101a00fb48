//! Unit tests of the STOMP frame codec (src/stomp/frame.rs).

use super::*;

const ALL: [Version; 3] = [Version::V1_0, Version::V1_1, Version::V1_2];

fn lim() -> Limits {
    Limits::default()
}

fn dec(input: &[u8], v: Version) -> Result<Option<Parsed>, FrameError> {
    decode(&mut BytesMut::from(input), v, &lim())
}

fn frame_of(input: &[u8], v: Version) -> Frame {
    match dec(input, v) {
        Ok(Some(Parsed::Frame(f))) => f,
        other => panic!("expected a frame from {input:?}, got {other:?}"),
    }
}

fn enc(f: &Frame, v: Version) -> BytesMut {
    let mut out = BytesMut::new();
    encode(f, v, &mut out);
    out
}

/// Decodes everything in `buf`, which must end exactly at a frame boundary.
fn drain(buf: &mut BytesMut, v: Version, l: &Limits) -> Vec<Parsed> {
    let mut got = Vec::new();
    while let Some(p) = decode(buf, v, l).unwrap() {
        got.push(p);
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    got
}

#[test]
fn builders_and_first_wins() {
    let f = Frame::new("SEND").header("a", "1").header("a", "2").body("x");
    assert_eq!(f.get("a"), Some("1"));
    assert_eq!(f.get("b"), None);
    assert_eq!(f.body, Bytes::from_static(b"x"));
    let d = frame_of(b"SEND\na:1\na:2\n\n\0", Version::V1_2);
    assert_eq!(d.get("a"), Some("1"));
    assert_eq!(d.headers.len(), 2, "repeated headers are kept in wire order");
}

#[test]
fn round_trip_each_version() {
    for v in ALL {
        let f = Frame::new("MESSAGE")
            .header("destination", "/queue/a")
            .header("message-id", "ID:1")
            .header("content-length", "5")
            .body("hello");
        let mut buf = enc(&f, v);
        assert_eq!(decode(&mut buf, v, &lim()).unwrap(), Some(Parsed::Frame(f)));
        assert!(buf.is_empty());
    }
}

#[test]
fn encode_exact_bytes_and_content_length() {
    let f = Frame::new("SEND").header("destination", "/q").body("hi");
    assert_eq!(&enc(&f, Version::V1_2)[..], b"SEND\ndestination:/q\ncontent-length:2\n\nhi\0");
    assert_eq!(&enc(&Frame::new("DISCONNECT"), Version::V1_2)[..], b"DISCONNECT\n\n\0");
    let explicit = Frame::new("SEND").header("content-length", "2").body("hi");
    assert_eq!(&enc(&explicit, Version::V1_0)[..], b"SEND\ncontent-length:2\n\nhi\0");
}

#[test]
fn carried_content_length_is_never_trusted() {
    // A stored message whose headers claim 5 bytes of a body that holds a forged frame.
    let body = &b"hello\0RECEIPT\nreceipt-id:forged\n\n\0"[..];
    for v in ALL {
        let f = Frame::new("MESSAGE")
            .header("destination", "/queue/a")
            .header("content-length", "5")
            .header("k", "x\0RECEIPT\n")
            .header("content-length", "0")
            .body(body);
        let mut wire = enc(&f, v);
        let got = drain(&mut wire, v, &lim());
        assert_eq!(got.len(), 1, "exactly one frame: {got:?}");
        let Parsed::Frame(back) = &got[0] else { panic!() };
        assert_eq!(back.command, "MESSAGE");
        assert_eq!(back.body, Bytes::from_static(body), "the whole body, {v:?}");
        let lengths: Vec<_> = back.headers.iter().filter(|(k, _)| k == "content-length").collect();
        assert_eq!(lengths, [&("content-length".to_string(), body.len().to_string())]);
        assert!(!back.get("k").unwrap().contains('\0'), "a NUL in a header cannot end the frame");
    }
    // An empty body keeps a carried header's place, with the true length 0.
    let f = Frame::new("MESSAGE").header("content-length", "7");
    assert_eq!(&enc(&f, Version::V1_2)[..], b"MESSAGE\ncontent-length:0\n\n\0");
}

#[test]
fn escaping_1_1_and_1_2() {
    let f = Frame::new("SEND").header("a:b", "x:y\nz\\w");
    let wire = enc(&f, Version::V1_1);
    assert_eq!(&wire[..], b"SEND\na\\cb:x\\cy\\nz\\\\w\n\n\0");
    assert_eq!(frame_of(&wire, Version::V1_1), f);
    assert_eq!(frame_of(&wire, Version::V1_2), f);
    // A colon in a value does not need escaping to be read: split at the first colon.
    assert_eq!(frame_of(b"SEND\nk:a:b\n\n\0", Version::V1_1).get("k"), Some("a:b"));
    // \r is a 1.2 escape only.
    let cr = b"SEND\nk:a\\rb\n\n\0";
    assert_eq!(frame_of(cr, Version::V1_2).get("k"), Some("a\rb"));
    assert_eq!(dec(cr, Version::V1_1), Err(FrameError::BadEscape('r')));
    assert_eq!(&enc(&Frame::new("SEND").header("k", "a\rb"), Version::V1_2)[..], b"SEND\nk:a\\rb\n\n\0");
    // Unknown or dangling escapes are fatal.
    assert_eq!(dec(b"SEND\nk:\\t\n\n\0", Version::V1_2), Err(FrameError::BadEscape('t')));
    assert_eq!(dec(b"SEND\nk\\x:v\n\n\0", Version::V1_1), Err(FrameError::BadEscape('x')));
    assert!(matches!(dec(b"SEND\nk:v\\\n\n\0", Version::V1_2), Err(FrameError::BadHeader(_))));
    // Values are not trimmed.
    assert_eq!(frame_of(b"SEND\nk: v \n\n\0", Version::V1_2).get("k"), Some(" v "));
}

#[test]
fn version_1_0_and_connect_are_raw() {
    let raw = b"SEND\nk:a\\nb\n\n\0";
    assert_eq!(frame_of(raw, Version::V1_0).get("k"), Some("a\\nb"));
    for cmd in ["CONNECT", "CONNECTED"] {
        let wire = format!("{cmd}\npasscode:p\\c\\q\n\n\0");
        assert_eq!(frame_of(wire.as_bytes(), Version::V1_2).get("passcode"), Some("p\\c\\q"));
        let f = Frame::new(cmd).header("passcode", "a:b\\c");
        let out = enc(&f, Version::V1_2);
        assert_eq!(&out[..], format!("{cmd}\npasscode:a:b\\c\n\n\0").as_bytes());
        assert_eq!(frame_of(&out, Version::V1_2), f);
    }
    assert_eq!(&enc(&Frame::new("SEND").header("k", "a\\b:c"), Version::V1_0)[..], b"SEND\nk:a\\b:c\n\n\0");
    // CR/LF cannot be carried unescaped: they become spaces instead of injecting headers.
    let inj = Frame::new("MESSAGE").header("k", "x\ncontent-length:0\r");
    assert_eq!(&enc(&inj, Version::V1_0)[..], b"MESSAGE\nk:x content-length:0 \n\n\0");
}

#[test]
fn content_length_body_with_nul() {
    let f = Frame::new("SEND").body(&b"a\0b\0"[..]);
    let mut buf = enc(&f, Version::V1_2);
    buf.extend_from_slice(b"\n");
    assert_eq!(decode(&mut buf, Version::V1_2, &lim()).unwrap(), Some(Parsed::Frame(f.header("content-length", "4"))));
    assert_eq!(&buf[..], b"\n", "trailing EOL left for the next call");
    // Without content-length the body stops at the first NUL.
    let mut buf = BytesMut::from(&b"SEND\n\nab\0cd\0"[..]);
    let Some(Parsed::Frame(first)) = decode(&mut buf, Version::V1_2, &lim()).unwrap() else { panic!() };
    assert_eq!(first.body, Bytes::from_static(b"ab"));
    assert_eq!(&buf[..], b"cd\0");
    assert!(matches!(decode(&mut buf, Version::V1_2, &lim()), Err(FrameError::UnknownCommand(_))));
}

#[test]
fn content_length_errors() {
    assert_eq!(dec(b"SEND\ncontent-length:2\n\nabc\0", Version::V1_2), Err(FrameError::MissingNul(2)));
    for bad in ["x", "", "-1", "+1", "1 2", "99999999999999999999999999"] {
        let wire = format!("SEND\ncontent-length:{bad}\n\n\0");
        assert!(matches!(dec(wire.as_bytes(), Version::V1_2), Err(FrameError::BadContentLength(_))), "{bad}");
    }
    assert_eq!(frame_of(b"SEND\ncontent-length: 1 \n\nx\0", Version::V1_0).body, Bytes::from_static(b"x"));
    // First occurrence decides.
    assert_eq!(
        frame_of(b"SEND\ncontent-length:1\ncontent-length:x\n\nx\0", Version::V1_2).body,
        Bytes::from_static(b"x")
    );
}

#[test]
fn partial_input_byte_by_byte() {
    let frames = [
        Frame::new("CONNECTED").header("version", "1.2").header("heart-beat", "0,0"),
        Frame::new("MESSAGE").header("destination", "/q/a:b").body(&b"x\0y"[..]),
        Frame::new("RECEIPT").header("receipt-id", "77"),
    ];
    let mut wire = BytesMut::new();
    for f in &frames {
        encode(f, Version::V1_2, &mut wire);
        wire.extend_from_slice(b"\r\n\n");
    }
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &b in wire.iter() {
        buf.put_u8(b);
        loop {
            let before = buf.clone();
            match decode(&mut buf, Version::V1_2, &lim()).unwrap() {
                Some(p) => got.push(p),
                None => {
                    assert_eq!(buf, before, "Ok(None) consumes nothing");
                    break;
                }
            }
        }
    }
    assert!(buf.is_empty());
    let mut expect = Vec::new();
    for f in frames {
        let cl = f.body.len();
        let f = if cl > 0 { f.header("content-length", cl.to_string()) } else { f };
        expect.extend([Parsed::Frame(f), Parsed::HeartBeat, Parsed::HeartBeat]);
    }
    assert_eq!(got, expect);
}

#[test]
fn heart_beats_between_frames() {
    let mut buf = BytesMut::from(&b"\n\r\nSEND\n\n\0\n\nACK\nid:1\n\n\0\r"[..]);
    let got = {
        let mut got = Vec::new();
        while let Some(p) = decode(&mut buf, Version::V1_1, &lim()).unwrap() {
            got.push(p);
        }
        got
    };
    use Parsed::HeartBeat as H;
    assert_eq!(
        got,
        vec![H, H, Parsed::Frame(Frame::new("SEND")), H, H, Parsed::Frame(Frame::new("ACK").header("id", "1"))]
    );
    assert_eq!(&buf[..], b"\r", "a lone CR waits for its LF");
    buf.put_u8(b'\n');
    assert_eq!(decode(&mut buf, Version::V1_1, &lim()).unwrap(), Some(H));
    assert_eq!(dec(b"\rX", Version::V1_1), Err(FrameError::UnknownCommand("\rX".into())));
}

#[test]
fn crlf_frames_all_versions() {
    for v in ALL {
        let f = frame_of(b"SEND\r\ndestination:/q\r\nk:v\r\n\r\nbody\0", v);
        assert_eq!(f, Frame::new("SEND").header("destination", "/q").header("k", "v").body("body"));
    }
}

#[test]
fn header_errors() {
    assert_eq!(dec(b"SEND\nnocolon\n\n\0", Version::V1_2), Err(FrameError::BadHeader("nocolon".into())));
    assert_eq!(dec(b"SEND\nk:\xff\n\n\0", Version::V1_2), Err(FrameError::InvalidUtf8));
    assert_eq!(
        frame_of(b"SEND\n:v\nk:\n\n\0", Version::V1_2).headers,
        vec![("".into(), "v".into()), ("k".into(), "".into())]
    );
    // Body bytes need not be UTF-8.
    assert_eq!(frame_of(b"SEND\n\n\xff\xfe\0", Version::V1_2).body, Bytes::from_static(b"\xff\xfe"));
}

#[test]
fn unknown_command() {
    assert_eq!(dec(b"FOO\n\n\0", Version::V1_2), Err(FrameError::UnknownCommand("FOO".into())));
    assert_eq!(dec(b"send\n\n\0", Version::V1_2), Err(FrameError::UnknownCommand("send".into())));
    // Rejected as soon as the partial line can no longer become a command.
    assert_eq!(dec(b"GET / HTT", Version::V1_2), Err(FrameError::UnknownCommand("GET / HTT".into())));
    assert_eq!(dec(b"SUBSC", Version::V1_2), Ok(None));
    for c in COMMANDS {
        assert_eq!(frame_of(format!("{c}\n\n\0").as_bytes(), Version::V1_2).command, c);
    }
}

#[test]
fn limits_complete_frames() {
    let l = Limits { max_frame_size: 64, max_command_len: 7, max_header_len: 8, max_headers: 2 };
    let d = |b: &[u8]| decode(&mut BytesMut::from(b), Version::V1_2, &l);
    assert_eq!(d(b"UNSUBSCRIBE\n\n\0"), Err(FrameError::CommandTooLong));
    assert!(matches!(d(b"MESSAGE\n\n\0"), Ok(Some(_))));
    assert!(matches!(d(b"SEND\nk:123456\n\n\0"), Ok(Some(_))), "8 bytes is allowed");
    assert!(matches!(d(b"SEND\nk:123456\r\n\r\n\0"), Ok(Some(_))), "the CR is not counted");
    assert_eq!(d(b"SEND\nk:1234567\n\n\0"), Err(FrameError::HeaderTooLong));
    assert!(matches!(d(b"SEND\na:1\nb:2\n\n\0"), Ok(Some(_))));
    assert_eq!(d(b"SEND\na:1\nb:2\nc:3\n\n\0"), Err(FrameError::TooManyHeaders));
    let body = vec![b'x'; 64 - 7];
    let mut ok = b"SEND\n\n".to_vec();
    ok.extend_from_slice(&body);
    ok.push(0);
    assert_eq!(ok.len(), 64);
    assert!(matches!(d(&ok), Ok(Some(_))), "exactly max_frame_size is allowed");
    ok.insert(7, b'y');
    assert_eq!(d(&ok), Err(FrameError::TooLarge { size: 65, max: 64 }));
    // Heart-beats and later frames are not counted into a frame's size.
    let mut buf = BytesMut::from(&b"\n\n\n"[..]);
    buf.extend_from_slice(&ok[..ok.len() - 2]);
    buf.extend_from_slice(b"\0SEND\n\n\0");
    assert_eq!(drain(&mut buf, Version::V1_2, &l).len(), 5);
}

#[test]
fn limits_enforced_on_incomplete_frames() {
    let l = Limits { max_frame_size: 64, max_command_len: 7, max_header_len: 8, max_headers: 2 };
    let d = |b: &[u8]| decode(&mut BytesMut::from(b), Version::V1_2, &l);
    assert_eq!(d(b"UNSUBSCR"), Err(FrameError::CommandTooLong));
    assert_eq!(d(b"MESSAGE"), Ok(None));
    assert_eq!(d(b"MESSAGE\r"), Ok(None));
    assert_eq!(d(b"SEND\nk:1234567"), Err(FrameError::HeaderTooLong));
    assert_eq!(d(b"SEND\nk:123456\r"), Ok(None));
    assert_eq!(d(b"SEND\na:1\nb:2\nc:3\n"), Err(FrameError::TooManyHeaders));
    // A body that never ends: refused once more than max_frame_size bytes are buffered.
    let mut endless = b"SEND\n\n".to_vec();
    endless.resize(64, b'x');
    assert_eq!(d(&endless), Ok(None));
    endless.push(b'x');
    assert_eq!(d(&endless), Err(FrameError::TooLarge { size: 65, max: 64 }));
    // A content-length announcing too much is refused before the body arrives.
    let l = Limits { max_header_len: 64, ..l };
    let d = |b: &[u8]| decode(&mut BytesMut::from(b), Version::V1_2, &l);
    assert_eq!(d(b"SEND\ncontent-length:60\n\n"), Err(FrameError::TooLarge { size: 85, max: 64 }));
    assert!(matches!(d(b"SEND\ncontent-length:18446744073709551615\n\n"), Err(FrameError::TooLarge { .. })));
    assert_eq!(d(b"SEND\ncontent-length:30\n\n"), Ok(None));
}

#[test]
fn codec_decodes_and_encodes() {
    let mut codec = StompCodec::new(lim());
    assert_eq!(codec.version, Version::V1_0);
    let mut out = BytesMut::new();
    codec.encode(Frame::new("CONNECT").header("accept-version", "1.2"), &mut out).unwrap();
    codec.encode(HeartBeat, &mut out).unwrap();
    codec.set_version(Version::V1_2);
    codec.encode(Frame::new("SEND").header("k", "a:b").body("z"), &mut out).unwrap();
    assert_eq!(&out[..], b"CONNECT\naccept-version:1.2\n\n\0\nSEND\nk:a\\cb\ncontent-length:1\n\nz\0");
    assert!(matches!(codec.decode(&mut out), Ok(Some(Parsed::Frame(f))) if f.command == "CONNECT"));
    assert!(matches!(codec.decode(&mut out), Ok(Some(Parsed::HeartBeat))));
    assert!(matches!(codec.decode(&mut out), Ok(Some(Parsed::Frame(f))) if f.get("k") == Some("a:b")));
    assert!(matches!(codec.decode(&mut out), Ok(None)));
    let mut bad = BytesMut::from(&b"BOGUS\n"[..]);
    assert!(matches!(codec.decode(&mut bad), Err(CodecError::Frame(FrameError::UnknownCommand(_)))));
    let io: CodecError = std::io::Error::other("x").into();
    assert!(matches!(io, CodecError::Io(_)));
    // A truncated frame at EOF is an error, not silently dropped.
    let mut cut = BytesMut::from(&b"SEND\n\nabc"[..]);
    assert!(matches!(codec.decode_eof(&mut cut), Err(CodecError::Io(_))));
}

/// xorshift64*: deterministic, dependency-free randomness for the fuzz tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

#[test]
fn fuzz_random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let pieces: [&[u8]; 16] = [
        b"SEND",
        b"CONNECT",
        b"MESSAGE",
        b"\n",
        b"\r\n",
        b"\r",
        b":",
        b"\\",
        b"\\c",
        b"\\r",
        b"\0",
        b"content-length:",
        b"3",
        b"18446744073709551616",
        b"\xff",
        b"abc",
    ];
    let limits = [lim(), Limits { max_frame_size: 40, max_command_len: 8, max_header_len: 12, max_headers: 3 }];
    for i in 0..5000 {
        let mut input = Vec::new();
        for _ in 0..rng.below(24) {
            if rng.below(3) == 0 {
                input.push(rng.next() as u8);
            } else {
                input.extend_from_slice(rng.pick(&pieces));
            }
        }
        let l = limits[i % 2];
        let v = ALL[i % 3];
        let mut buf = BytesMut::from(&input[..]);
        // Decode until stuck; every step must consume something or stop.
        while let Ok(Some(_)) = decode(&mut buf, v, &l) {}
        // Byte-at-a-time feeding must never panic either.
        let mut buf = BytesMut::new();
        for &b in &input {
            buf.put_u8(b);
            while let Ok(Some(_)) = decode(&mut buf, v, &l) {}
        }
        // The resuming codec, fed in random pieces, finds what one stateless pass does.
        let (whole, whole_err) = decode_all(&input, v, &l);
        let (pieces, pieces_err) = codec_in_pieces(&input, v, &l, &mut rng);
        assert_eq!(pieces, whole, "input {input:?}");
        assert_eq!(pieces_err, whole_err, "input {input:?}");
    }
}

/// One stateless pass over the whole input: what it yields, and whether it ended in an error.
fn decode_all(input: &[u8], v: Version, l: &Limits) -> (Vec<Parsed>, bool) {
    let mut buf = BytesMut::from(input);
    let mut got = Vec::new();
    loop {
        match decode(&mut buf, v, l) {
            Ok(Some(p)) => got.push(p),
            Ok(None) => return (got, false),
            Err(_) => return (got, true),
        }
    }
}

/// The same through one [`StompCodec`], the input arriving in random pieces.
fn codec_in_pieces(input: &[u8], v: Version, l: &Limits, rng: &mut Rng) -> (Vec<Parsed>, bool) {
    let mut codec = StompCodec::new(*l);
    codec.set_version(v);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut rest = input;
    loop {
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(p)) => got.push(p),
                Ok(None) => break,
                Err(_) => return (got, true),
            }
        }
        if rest.is_empty() {
            return (got, false);
        }
        let n = 1 + rng.below(rest.len().min(9));
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
}

#[test]
fn the_codec_resumes_instead_of_rescanning() {
    let mut codec = StompCodec::new(lim());
    let mut buf = BytesMut::from(&b"SEND\nk:v\n\n"[..]);
    assert!(matches!(codec.decode(&mut buf), Ok(None)));
    buf.extend_from_slice(&[b'x'; 1000]);
    assert!(matches!(codec.decode(&mut buf), Ok(None)));
    assert_eq!(codec.progress.searched, buf.len(), "the body is not searched again");
    assert!(codec.progress.head.is_some(), "the headers are parsed once");
    buf.extend_from_slice(b"\0SEND\n");
    let Ok(Some(Parsed::Frame(f))) = codec.decode(&mut buf) else { panic!() };
    assert_eq!((f.get("k"), f.body.len()), (Some("v"), 1000));
    assert!(matches!(codec.decode(&mut buf), Ok(None)));
    assert_eq!(codec.progress.command, Some(("SEND", 5)), "the next frame starts afresh");

    // A 4 MiB body without content-length trickled in 4 KiB pieces: a rescan per piece
    // would search ~2 GiB (half a minute here); resuming searches each byte about once.
    let mut codec = StompCodec::new(lim());
    let mut buf = BytesMut::from(&b"SEND\n\n"[..]);
    let piece = [b'x'; 4096];
    let started = std::time::Instant::now();
    for _ in 0..1024 {
        buf.extend_from_slice(&piece);
        assert!(matches!(codec.decode(&mut buf), Ok(None)));
    }
    buf.put_u8(0);
    assert!(matches!(codec.decode(&mut buf), Ok(Some(Parsed::Frame(f))) if f.body.len() == 4 << 20));
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[test]
fn fuzz_encode_decode_round_trip() {
    let mut rng = Rng(42);
    let alphabet = ["a", "Z", "0", ":", "\\", "\n", "\r", "\0", " ", "é", "\\n", "\\c", "☃"];
    let text = |rng: &mut Rng, escapable: bool, name: bool, v: Version| {
        let mut s = String::new();
        for _ in 0..rng.below(6) {
            let piece = rng.pick(&alphabet);
            let carried = match piece {
                "\0" => false,
                "\n" => escapable,
                "\r" => escapable && v == Version::V1_2,
                ":" => escapable || !name,
                _ => true,
            };
            if carried {
                s.push_str(piece);
            }
        }
        s
    };
    for i in 0..3000 {
        let v = ALL[i % 3];
        let command = rng.pick(&COMMANDS);
        let escapable = v != Version::V1_0 && command != "CONNECT" && command != "CONNECTED";
        let mut f = Frame::new(command);
        for _ in 0..rng.below(5) {
            let name = text(&mut rng, escapable, true, v);
            if name != "content-length" {
                let value = text(&mut rng, escapable, false, v);
                f = f.header(&name, value);
            }
        }
        let body: Vec<u8> = (0..rng.below(20)).map(|_| rng.next() as u8).collect();
        f = f.body(body.clone());
        let mut wire = BytesMut::new();
        if rng.below(2) == 0 {
            wire.put_u8(b'\n');
        }
        encode(&f, v, &mut wire);
        let got = drain(&mut wire, v, &lim());
        let Some(Parsed::Frame(back)) = got.last() else { panic!("{got:?}") };
        let expect = if body.is_empty() { f } else { f.header("content-length", body.len().to_string()) };
        assert_eq!(back, &expect, "version {v:?}");
    }
}
