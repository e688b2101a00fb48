//! Hand-built frames and small blocking clients for the probes of `mqsim bench hostile`.
//!
//! The probes speak each protocol from outside, the way an attacker's script would, so
//! nothing here uses mqsim's own codecs: a STOMP client that frames replies the way real
//! client libraries do (it honours `content-length`, which is exactly what lets a forged
//! RECEIPT through), one raw HTTP/1.1 exchange, and byte builders for an OpenWire
//! WireFormatInfo and the replication login. The builders are pure functions (tested
//! below); every socket has read and write timeouts, so no probe can hang.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One STOMP frame as a client sees it (headers not unescaped: the probes only compare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub command: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Frame {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `ERROR: <message header>` or the command.
    pub fn describe(&self) -> String {
        match (self.command.as_str(), self.get("message")) {
            ("ERROR", Some(m)) => format!("ERROR `{}`", short(m, 90)),
            _ => self.command.clone(),
        }
    }
}

/// What waiting for the next frame gave.
#[derive(Debug)]
pub enum Got {
    Frame(Frame),
    Timeout,
    /// The peer closed (or reset) the connection.
    Closed,
}

/// Takes one frame off the front of `buf`: `Some((frame, bytes used))`, or `None` if it is
/// not complete yet. Leading EOLs (heart-beats) are skipped. A `content-length` header is
/// trusted, as client libraries do: that many body bytes, then the NUL.
pub fn parse_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    let start = buf.iter().position(|b| *b != b'\n' && *b != b'\r')?;
    let rest = &buf[start..];
    let (head_len, body_at) = head_end(rest)?;
    let head = String::from_utf8_lossy(&rest[..head_len]);
    let mut lines = head.lines();
    let command = lines.next().unwrap_or("").trim_end_matches('\r').to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.trim_end_matches('\r').split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.trim().parse::<usize>().ok());
    let (body, end) = match length {
        Some(n) => {
            if rest.len() < body_at + n + 1 {
                return None;
            }
            (rest[body_at..body_at + n].to_vec(), body_at + n + 1)
        }
        None => {
            let nul = rest[body_at..].iter().position(|b| *b == 0)?;
            (rest[body_at..body_at + nul].to_vec(), body_at + nul + 1)
        }
    };
    Some((Frame { command, headers, body }, start + end))
}

/// (end of the headers, start of the body): the first empty line ends the headers. Stops
/// there, so a large body is never scanned for it.
fn head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    loop {
        let nl = start + buf[start..].iter().position(|b| *b == b'\n')?;
        if start > 0 && matches!(&buf[start..nl], b"" | b"\r") {
            let head = start - 1; // the newline that ends the last header line
            let head = if head > 0 && buf[head - 1] == b'\r' { head - 1 } else { head };
            return Some((head, nl + 1));
        }
        start = nl + 1;
    }
}

/// One frame's bytes: command, `name:value` headers, a blank line, the body, a NUL.
pub fn frame_bytes(command: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + body.len());
    out.extend_from_slice(command.as_bytes());
    out.push(b'\n');
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.push(b':');
        out.extend_from_slice(v.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out.push(0);
    out
}

/// A blocking STOMP connection over raw bytes.
pub struct Stomp {
    pub socket: TcpStream,
    buf: Vec<u8>,
}

/// TCP connect to 127.0.0.1:`port` within `timeout`, with read/write timeouts set.
pub fn tcp(port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), timeout)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

impl Stomp {
    pub fn open(port: u16) -> std::io::Result<Stomp> {
        Ok(Stomp { socket: tcp(port, Duration::from_secs(2))?, buf: Vec::new() })
    }

    /// Opens and sends CONNECT with `headers` (plus accept-version 1.2 and host); the first
    /// frame back, or what happened instead.
    pub fn connect(port: u16, headers: &[(&str, &str)], timeout: Duration) -> Result<(Stomp, Got), String> {
        let mut s = Stomp::open(port).map_err(|e| format!("connect to {port}: {e}"))?;
        let mut h = vec![("accept-version", "1.2"), ("host", "localhost")];
        h.extend_from_slice(headers);
        s.send("CONNECT", &h, b"").map_err(|e| format!("CONNECT: {e}"))?;
        let got = s.next(timeout);
        Ok((s, got))
    }

    /// [`Stomp::connect`] that must get CONNECTED.
    pub fn login(port: u16, headers: &[(&str, &str)]) -> Result<Stomp, String> {
        match Stomp::connect(port, headers, Duration::from_secs(5))? {
            (s, Got::Frame(f)) if f.command == "CONNECTED" => Ok(s),
            (_, Got::Frame(f)) => Err(format!("CONNECT answered {}", f.describe())),
            (_, other) => Err(format!("CONNECT answered {other:?}")),
        }
    }

    pub fn send(&mut self, command: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<()> {
        self.socket.write_all(&frame_bytes(command, headers, body))
    }

    /// The next frame within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Got {
        let deadline = Instant::now() + timeout;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some((f, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                return Got::Frame(f);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Got::Timeout;
            }
            let _ = self.socket.set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match self.socket.read(&mut chunk) {
                Ok(0) => return Got::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Got::Closed,
            }
        }
    }

    /// Waits for `RECEIPT receipt-id:id`, skipping other frames (MESSAGEs).
    pub fn receipt(&mut self, id: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next(deadline.saturating_duration_since(Instant::now())) {
                Got::Frame(f) if f.command == "RECEIPT" && f.get("receipt-id") == Some(id) => return Ok(()),
                Got::Frame(f) if f.command == "ERROR" => return Err(f.describe()),
                Got::Frame(_) => continue,
                Got::Timeout => return Err(format!("no RECEIPT within {timeout:?}")),
                Got::Closed => return Err("connection closed".into()),
            }
        }
    }

    /// A persistent SEND with a receipt, waiting for it.
    pub fn send_persistent(&mut self, dest: &str, body: &[u8], id: &str, timeout: Duration) -> Result<(), String> {
        self.send("SEND", &[("destination", dest), ("persistent", "true"), ("receipt", id)], body)
            .map_err(|e| format!("SEND: {e}"))?;
        self.receipt(id, timeout)
    }

    pub fn disconnect(mut self) {
        let _ = self.send("DISCONNECT", &[("receipt", "bye")], b"");
        let _ = self.receipt("bye", Duration::from_secs(2));
    }
}

/// One HTTP/1.1 exchange: writes `request` as is, reads until the server closes or
/// `timeout`. Returns the status code and the whole response, or what went wrong.
pub fn http(port: u16, request: &[u8], timeout: Duration) -> Result<(u16, String), String> {
    let mut s = tcp(port, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
    s.write_all(request).map_err(|e| format!("write: {e}"))?;
    let mut resp = Vec::new();
    read_until_closed(&mut s, timeout, |b| resp.extend_from_slice(b)).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            if text.is_empty() { "no response".to_string() } else { format!("bad response {}", short(&text, 60)) }
        })?;
    Ok((status, text))
}

/// Reads `s` for up to `limit`, handing every chunk to `keep`, until the peer closes
/// (`Ok(true)`), the time is up (`Ok(false)`) or a read fails otherwise (`Err`).
pub fn read_until_closed(s: &mut TcpStream, limit: Duration, mut keep: impl FnMut(&[u8])) -> std::io::Result<bool> {
    let deadline = Instant::now() + limit;
    let mut chunk = vec![0u8; 64 * 1024];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let _ = s.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match s.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => keep(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// An HTTP/1.1 request with BASIC auth and `Connection: close`.
pub fn http_request(
    method: &str,
    target: &str,
    host: &str,
    user_pass: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    use base64::Engine;
    let mut r = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {}\r\nConnection: close\r\n",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    );
    for (k, v) in extra {
        r += &format!("{k}: {v}\r\n");
    }
    if !body.is_empty() || method == "POST" {
        r += &format!("Content-Type: text/plain\r\nContent-Length: {}\r\n", body.len());
    }
    r += "\r\n";
    let mut out = r.into_bytes();
    out.extend_from_slice(body);
    out
}

/// An OpenWire WireFormatInfo frame (loose encoding, size-prefixed) whose marshalled
/// properties map holds one entry, `x`, a list of `entries` NULL values: 1 byte each on
/// the wire. A decoder that allocates a value per announced entry spends far more than
/// the bytes sent.
pub fn openwire_null_list(entries: usize) -> Vec<u8> {
    let mut map = Vec::with_capacity(entries + 16);
    map.extend_from_slice(&1i32.to_be_bytes()); // one map entry
    map.extend_from_slice(&1u16.to_be_bytes()); // key: writeUTF("x")
    map.push(b'x');
    map.push(12); // LIST_TYPE
    map.extend_from_slice(&(entries as i32).to_be_bytes());
    map.resize(map.len() + entries, 0); // NULL_TYPE each
    let mut body = Vec::with_capacity(map.len() + 32);
    body.push(1); // WireFormatInfo
    body.extend_from_slice(b"ActiveMQ");
    body.extend_from_slice(&12i32.to_be_bytes()); // version
    body.push(1); // properties present
    body.extend_from_slice(&(map.len() as i32).to_be_bytes());
    body.extend_from_slice(&map);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Names of the OpenWire frames in `bytes` (size-prefixed, type byte first), as far as
/// they are complete.
pub fn openwire_frame_names(bytes: &[u8]) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut at = 0;
    while at + 5 <= bytes.len() {
        let size = i32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        if size < 1 {
            break;
        }
        names.push(match bytes[at + 4] {
            1 => "WireFormatInfo",
            2 => "BrokerInfo",
            16 => "ConnectionError",
            30 => "Response",
            31 => "ExceptionResponse",
            10 => "KeepAliveInfo",
            11 => "ShutdownInfo",
            _ => "other",
        });
        at += 4 + size as usize;
    }
    names
}

/// The replication login of the wire mqsim's slaves speak today (ActiveMQ's action line,
/// a JSON body, a NUL), with the given `security_token`.
pub fn replication_login(node_id: &str, token: &str) -> Vec<u8> {
    let q = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let body = format!("{{\"node_id\":{},\"security_token\":{},\"position\":0,\"last\":null}}", q(node_id), q(token));
    let mut out = format!("LevelDB Store Replication v1:login\n{body}").into_bytes();
    out.push(0);
    out
}

/// A replication `ack` claiming `position`.
pub fn replication_ack(position: u64) -> Vec<u8> {
    let mut out = format!("ack\n{{\"position\":{position}}}").into_bytes();
    out.push(0);
    out
}

/// The first `n` characters of `s`, with `…` if cut; control characters shown escaped.
pub fn short(s: &str, n: usize) -> String {
    let clean: String =
        s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect();
    match clean.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_stops_at_close_or_at_the_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut closing, _) = listener.accept().unwrap();
            closing.write_all(b"hello").unwrap();
            drop(closing);
            let (mut silent, _) = listener.accept().unwrap();
            silent.write_all(b"hi").unwrap();
            silent
        });
        let mut got = Vec::new();
        let mut s = tcp(port, Duration::from_secs(2)).unwrap();
        assert!(read_until_closed(&mut s, Duration::from_secs(5), |b| got.extend_from_slice(b)).unwrap());
        assert_eq!(got, b"hello");
        let mut s = tcp(port, Duration::from_secs(2)).unwrap();
        let t0 = Instant::now();
        got.clear();
        assert!(!read_until_closed(&mut s, Duration::from_millis(300), |b| got.extend_from_slice(b)).unwrap());
        assert!(t0.elapsed() >= Duration::from_millis(200), "returned before the deadline");
        assert_eq!(got, b"hi");
        drop(server.join().unwrap());
    }

    #[test]
    fn frames_are_split_as_a_client_library_splits_them() {
        let mut wire = b"\n\nCONNECTED\nversion:1.2\n\n\0".to_vec();
        wire.extend_from_slice(&frame_bytes(
            "MESSAGE",
            &[("content-length", "5")],
            b"hello\0RECEIPT\nreceipt-id:forged\n\n",
        ));
        let (f, used) = parse_frame(&wire).unwrap();
        assert_eq!((f.command.as_str(), f.get("version")), ("CONNECTED", Some("1.2")));
        let wire = &wire[used..];
        let (m, used) = parse_frame(wire).unwrap();
        assert_eq!((m.command.as_str(), &m.body[..]), ("MESSAGE", &b"hello"[..]));
        // The stored content-length lets the rest of the body pass for a frame of its own.
        let (forged, used2) = parse_frame(&wire[used..]).unwrap();
        assert_eq!((forged.command.as_str(), forged.get("receipt-id")), ("RECEIPT", Some("forged")));
        assert_eq!(used + used2, wire.len());
        assert!(parse_frame(b"MESSAGE\ncontent-length:9\n\nabc").is_none(), "incomplete");
        let (bin, used) = parse_frame(b"MESSAGE\ncontent-length:3\n\na\0b\0\n").unwrap();
        assert_eq!((&bin.body[..], used), (&b"a\0b"[..], 30), "a NUL inside content-length is body");
        assert!(parse_frame(b"\n\n").is_none());
        assert_eq!(parse_frame(b"ERROR\r\nmessage:no\r\n\r\nx\0").unwrap().0.describe(), "ERROR `no`");
    }

    #[test]
    fn the_null_list_frame_is_a_well_formed_wire_format_info() {
        use crate::openwire::codec::Value;
        let frame = openwire_null_list(10);
        assert_eq!(i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize, frame.len() - 4);
        let cmd = crate::openwire::marshal::decode(&frame[4..]).unwrap();
        let crate::openwire::command::Body::WireFormatInfo(info) = cmd.body else { panic!("{cmd:?}") };
        assert_eq!(&info.magic, b"ActiveMQ");
        assert_eq!(info.properties.unwrap(), vec![("x".to_string(), Value::List(vec![Value::Null; 10]))]);
        assert_eq!(openwire_null_list(20_000_000).len(), 20_000_000 + 4 + 1 + 8 + 4 + 1 + 4 + 12);
        assert_eq!(openwire_frame_names(&[frame.clone(), frame].concat()), ["WireFormatInfo", "WireFormatInfo"]);
    }

    #[test]
    fn replication_frames_are_todays_login_and_ack() {
        assert_eq!(
            replication_login("intruder", ""),
            b"LevelDB Store Replication v1:login\n{\"node_id\":\"intruder\",\"security_token\":\"\",\"position\":0,\"last\":null}\0"
        );
        assert_eq!(replication_ack(1 << 63), b"ack\n{\"position\":9223372036854775808}\0");
    }

    #[test]
    fn http_requests_carry_basic_auth() {
        let r =
            String::from_utf8(http_request("POST", "/api/x", "evil.example", "admin:admin", &[("Origin", "o")], b"hi"))
                .unwrap();
        assert!(
            r.starts_with("POST /api/x HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n"),
            "{r}"
        );
        assert!(r.ends_with("Origin: o\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"), "{r}");
        assert_eq!(short("a\nbcdef", 4), "a\\nb…");
    }
}
