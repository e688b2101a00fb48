//! STOMP frames on byte buffers: parse and encode, no I/O.
//!
//! CONTRACT (other modules code against exactly this API; keep it):
//! * [`Frame`]: `command: String`, `headers: Vec<(String, String)>` in wire order,
//!   `body: Bytes`. Builders `Frame::new(cmd)`, `.header(k, v)`, `.body(b)`; lookup
//!   `get(name)` returns the FIRST occurrence (STOMP 1.2 rule).
//! * [`decode`] takes bytes from the front of `buf` and returns `Ok(None)` when more bytes
//!   are needed, `Ok(Some(Parsed::HeartBeat))` for a bare EOL between frames, or a frame.
//!   It errors ([`FrameError`]) on anything malformed or over [`Limits`]; the caller then
//!   sends an ERROR frame and closes.
//! * [`encode`] appends one frame (with escaping per version, `content-length` always the
//!   body's true length, trailing NUL).
//! * [`StompCodec`]: tokio-util `Decoder<Item = Parsed>` / `Encoder<Frame>`; `set_version`
//!   after CONNECT negotiation; heart-beats are sent with `Encoder<HeartBeat>`.
//!
//! Hostile input: every length and count is checked before anything is allocated for it
//! ([`Limits`], values in [`crate::limits`]); a `content-length` too large for the frame
//! limit is refused as soon as the headers are in, before its body is buffered; the codec
//! resumes an incomplete frame where it stopped, so a trickled frame costs one scan, not
//! one per read; and the encoder never trusts a carried `content-length` or lets a header
//! value end the frame.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    /// No escaping at all.
    #[default]
    V1_0,
    /// Escapes `\n`, `\c`, `\\`.
    V1_1,
    /// Also `\r`; CRLF line ends accepted.
    V1_2,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub command: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Frame {
    pub fn new(command: &str) -> Frame {
        Frame { command: command.to_owned(), ..Frame::default() }
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Frame {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    pub fn body(mut self, body: impl Into<Bytes>) -> Frame {
        self.body = body.into();
        self
    }
    /// First occurrence wins.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Frame(Frame),
    HeartBeat,
}

/// A heart-beat to send (one EOL).
#[derive(Debug, Clone, Copy)]
pub struct HeartBeat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole frame (command + headers + body), bytes: ActiveMQ's `wireFormat.maxFrameSize`.
    pub max_frame_size: usize,
    /// Command line, bytes (ActiveMQ: 1 KiB).
    pub max_command_len: usize,
    /// One header line, bytes (ActiveMQ: 10 KiB).
    pub max_header_len: usize,
    /// Header count (ActiveMQ: 1000).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        use crate::limits::{STOMP_MAX_COMMAND_LINE, STOMP_MAX_HEADER_LINE, STOMP_MAX_HEADERS};
        Limits {
            max_frame_size: 104_857_600,
            max_command_len: STOMP_MAX_COMMAND_LINE,
            max_header_len: STOMP_MAX_HEADER_LINE,
            max_headers: STOMP_MAX_HEADERS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame size of {size} larger than max allowed {max}")]
    TooLarge { size: usize, max: usize },
    #[error("the maximum command length was exceeded")]
    CommandTooLong,
    #[error("the maximum header length was exceeded")]
    HeaderTooLong,
    #[error("the maximum number of headers was exceeded")]
    TooManyHeaders,
    #[error("malformed header line: {0}")]
    BadHeader(String),
    #[error("invalid escape sequence \\{0} in a header")]
    BadEscape(char),
    #[error("frame is not UTF-8 where text is required")]
    InvalidUtf8,
    #[error("invalid content-length: {0}")]
    BadContentLength(String),
    #[error("expected NUL after {0} body bytes")]
    MissingNul(usize),
    #[error("unknown command: {0}")]
    UnknownCommand(String),
}

/// Every command we accept, client and server side.
const COMMANDS: [&str; 15] = [
    "CONNECT",
    "STOMP",
    "SEND",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "ACK",
    "NACK",
    "BEGIN",
    "COMMIT",
    "ABORT",
    "DISCONNECT",
    "CONNECTED",
    "MESSAGE",
    "RECEIPT",
    "ERROR",
];

/// Longest piece of offending input quoted in an error message.
const QUOTE_MAX: usize = 128;

/// Takes one heart-beat or one frame from the front of `buf`.
///
/// * A bare EOL (`\n` or `\r\n`) before a command is consumed alone and returned as
///   [`Parsed::HeartBeat`]; this includes the EOLs some peers send after a frame's NUL.
/// * `Ok(None)`: incomplete, nothing consumed. Limits are nonetheless checked on what is
///   buffered already (an over-long command or header line, too many headers, more bytes
///   than `max_frame_size`, a content-length announcing too much, a command line that can
///   no longer become a known command), so a peer cannot make us buffer without bound.
/// * On `Err` the stream is unusable (nothing is consumed); send ERROR and close.
///
/// This stateless form rescans an incomplete frame from its start on every call; a stream
/// should use [`StompCodec`], which resumes where the last call stopped.
pub fn decode(buf: &mut BytesMut, version: Version, limits: &Limits) -> Result<Option<Parsed>, FrameError> {
    decode_resuming(buf, version, limits, &mut Progress::default())
}

/// How far the scan of an incomplete frame at the front of a buffer got, so that the next
/// call resumes there: while `Ok(None)` is returned nothing is consumed and bytes are only
/// appended, so what was scanned stays valid. Without it a frame that arrives in `k` reads
/// costs `k` scans of everything buffered so far: a 100 MiB body trickled in small
/// segments would cost terabytes of scanning (a CPU attack by one client).
#[derive(Debug, Clone, Default)]
struct Progress {
    /// The command, and where its headers start, once the command line is complete.
    command: Option<(&'static str, usize)>,
    /// Start of the first header line not yet complete, and the complete ones so far.
    line: usize,
    count: usize,
    /// Once the header block is complete.
    head: Option<Head>,
    /// No LF (in the header block) or NUL (in a body without content-length) before here.
    searched: usize,
}

#[derive(Debug, Clone)]
struct Head {
    frame: Frame,
    body_start: usize,
    content_length: Option<usize>,
}

fn decode_resuming(
    buf: &mut BytesMut,
    version: Version,
    limits: &Limits,
    progress: &mut Progress,
) -> Result<Option<Parsed>, FrameError> {
    if buf.len() < progress.searched {
        // Not the buffer the progress was made on: start over.
        *progress = Progress::default();
    }
    match (buf.first(), buf.get(1)) {
        (None, _) | (Some(b'\r'), None) => return Ok(None),
        (Some(b'\n'), _) => {
            buf.advance(1);
            return Ok(Some(Parsed::HeartBeat));
        }
        (Some(b'\r'), Some(b'\n')) => {
            buf.advance(2);
            return Ok(Some(Parsed::HeartBeat));
        }
        _ => {}
    }
    let scanned = scan(buf, version, limits, progress);
    if !matches!(scanned, Ok(None)) {
        *progress = Progress::default();
    }
    match scanned? {
        Some(found) => {
            let whole = buf.split_to(found.total).freeze();
            let mut frame = found.frame;
            frame.body = whole.slice(found.body);
            Ok(Some(Parsed::Frame(frame)))
        }
        None if buf.len() > limits.max_frame_size => {
            *progress = Progress::default();
            Err(FrameError::TooLarge { size: buf.len(), max: limits.max_frame_size })
        }
        None => Ok(None),
    }
}

/// A complete frame found at the front of a buffer; its body is still to be cut out.
struct Found {
    frame: Frame,
    body: std::ops::Range<usize>,
    /// Bytes from the command to the NUL inclusive.
    total: usize,
}

fn scan(buf: &[u8], version: Version, limits: &Limits, p: &mut Progress) -> Result<Option<Found>, FrameError> {
    // Command line (at most max_command_len bytes are ever rescanned).
    let (command, headers_start) = match p.command {
        Some(c) => c,
        None => {
            let Some(eol) = find(buf, 0, b'\n') else {
                let partial = strip_cr(buf);
                if partial.len() > limits.max_command_len {
                    return Err(FrameError::CommandTooLong);
                }
                if !COMMANDS.iter().any(|c| c.as_bytes().starts_with(partial)) {
                    return Err(FrameError::UnknownCommand(quote(partial)));
                }
                return Ok(None);
            };
            let cmd = strip_cr(&buf[..eol]);
            if cmd.len() > limits.max_command_len {
                return Err(FrameError::CommandTooLong);
            }
            let Some(command) = COMMANDS.iter().copied().find(|c| c.as_bytes() == cmd) else {
                return Err(FrameError::UnknownCommand(quote(cmd)));
            };
            p.command = Some((command, eol + 1));
            p.line = eol + 1;
            p.searched = eol + 1;
            (command, eol + 1)
        }
    };

    // Header block: find its end, checking the limits line by line.
    if p.head.is_none() {
        let body_start = loop {
            let Some(eol) = find(buf, p.searched.max(p.line), b'\n') else {
                p.searched = buf.len();
                if strip_cr(&buf[p.line..]).len() > limits.max_header_len {
                    return Err(FrameError::HeaderTooLong);
                }
                return Ok(None);
            };
            let line = strip_cr(&buf[p.line..eol]);
            p.line = eol + 1;
            p.searched = eol + 1;
            if line.is_empty() {
                break eol + 1;
            }
            if line.len() > limits.max_header_len {
                return Err(FrameError::HeaderTooLong);
            }
            p.count += 1;
            if p.count > limits.max_headers {
                return Err(FrameError::TooManyHeaders);
            }
        };

        // Headers proper (the block is complete now), parsed once.
        let escaped = version != Version::V1_0 && command != "CONNECT" && command != "CONNECTED";
        let v12 = version == Version::V1_2;
        let mut headers = Vec::with_capacity(p.count);
        for line in buf[headers_start..body_start].split(|&b| b == b'\n').map(strip_cr) {
            if !line.is_empty() {
                headers.push(parse_header(line, escaped, v12)?);
            }
        }
        let content_length = match headers.iter().find(|(k, _)| k == "content-length") {
            Some((_, v)) => Some(parse_content_length(v)?),
            None => None,
        };
        let frame = Frame { command: command.to_owned(), headers, body: Bytes::new() };
        p.head = Some(Head { frame, body_start, content_length });
        p.searched = body_start;
    }
    let Some(head) = &p.head else { unreachable!("set above") };

    // Body.
    let max = limits.max_frame_size;
    let body_start = head.body_start;
    let body_end = match head.content_length {
        Some(n) => {
            // Refused before the body arrives if it could never fit.
            let Some(total) = body_start.checked_add(n).and_then(|e| e.checked_add(1)) else {
                return Err(FrameError::TooLarge { size: usize::MAX, max });
            };
            if total > max {
                return Err(FrameError::TooLarge { size: total, max });
            }
            if buf.len() < total {
                return Ok(None);
            }
            if buf[total - 1] != 0 {
                return Err(FrameError::MissingNul(n));
            }
            total - 1
        }
        None => match find(buf, p.searched.max(body_start), 0) {
            Some(nul) => nul,
            None => {
                p.searched = buf.len();
                return Ok(None);
            }
        },
    };
    let total = body_end + 1;
    if total > max {
        return Err(FrameError::TooLarge { size: total, max });
    }
    let Some(head) = p.head.take() else { unreachable!("checked above") };
    Ok(Some(Found { frame: head.frame, body: body_start..body_end, total }))
}

fn find(buf: &[u8], from: usize, byte: u8) -> Option<usize> {
    buf[from..].iter().position(|&b| b == byte).map(|i| from + i)
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Offending input for an error message: lossy UTF-8, shortened.
fn quote(bytes: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTE_MAX)]).into_owned();
    if bytes.len() > QUOTE_MAX {
        s.push('…');
    }
    s
}

fn parse_header(line: &[u8], escaped: bool, v12: bool) -> Result<(String, String), FrameError> {
    let text = std::str::from_utf8(line).map_err(|_| FrameError::InvalidUtf8)?;
    let Some((name, value)) = text.split_once(':') else {
        return Err(FrameError::BadHeader(quote(line)));
    };
    if !escaped {
        return Ok((name.to_owned(), value.to_owned()));
    }
    let unescape = |s: &str| -> Result<String, FrameError> {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            out.push(match chars.next() {
                Some('n') => '\n',
                Some('c') => ':',
                Some('\\') => '\\',
                Some('r') if v12 => '\r',
                Some(other) => return Err(FrameError::BadEscape(other)),
                None => return Err(FrameError::BadHeader(quote(line))),
            });
        }
        Ok(out)
    };
    Ok((unescape(name)?, unescape(value)?))
}

/// Decimal digits, surrounding ASCII whitespace tolerated (as ActiveMQ does).
fn parse_content_length(v: &str) -> Result<usize, FrameError> {
    let digits = v.trim_ascii();
    let bad = || FrameError::BadContentLength(quote(v.as_bytes()));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits.parse().map_err(|_| bad())
}

/// Appends `frame` to `out`.
///
/// Headers are escaped per `version` (never for CONNECT/CONNECTED). Where escaping is not
/// available (1.0, CONNECT, CONNECTED) CR and LF in names and values cannot be carried and
/// are written as spaces, so that a value can never inject headers or end the header
/// block; a NUL (which would end the frame) is written as a space in every version. In 1.1 a CR is written raw (1.1 has no escape for it). `content-length` is always
/// the body's true length: a carried `content-length` header (from a stored message, say)
/// is never trusted; it is rewritten in place, repeats are dropped, and one is added for a
/// non-empty body that has none. So whatever a frame carries, it encodes to exactly one frame.
pub fn encode(frame: &Frame, version: Version, out: &mut BytesMut) {
    let escaped = version != Version::V1_0 && frame.command != "CONNECT" && frame.command != "CONNECTED";
    let v12 = version == Version::V1_2;
    let put_text = |out: &mut BytesMut, s: &str| {
        for &b in s.as_bytes() {
            match b {
                b'\n' if escaped => out.put_slice(b"\\n"),
                b'\r' if escaped && v12 => out.put_slice(b"\\r"),
                b':' if escaped => out.put_slice(b"\\c"),
                b'\\' if escaped => out.put_slice(b"\\\\"),
                b'\n' | b'\r' if !escaped => out.put_u8(b' '),
                // No version can carry a NUL in a header: the reader would end the frame there.
                0 => out.put_u8(b' '),
                _ => out.put_u8(b),
            }
        }
    };
    let header_bytes: usize = frame.headers.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    out.reserve(frame.command.len() + header_bytes + frame.body.len() + 40);
    out.put_slice(frame.command.as_bytes());
    out.put_u8(b'\n');
    let true_length = format!("{}", frame.body.len());
    let mut length_written = false;
    for (name, value) in &frame.headers {
        // The body's length, never a carried value: the first `content-length` header keeps
        // its place with the true length, later ones are dropped.
        let value = if name == "content-length" {
            if std::mem::replace(&mut length_written, true) {
                continue;
            }
            &true_length
        } else {
            value
        };
        put_text(out, name);
        out.put_u8(b':');
        put_text(out, value);
        out.put_u8(b'\n');
    }
    if !frame.body.is_empty() && !length_written {
        out.put_slice(b"content-length:");
        out.put_slice(true_length.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
    out.put_slice(&frame.body);
    out.put_u8(0);
}

/// tokio-util codec over [`decode`]/[`encode`]; it remembers how far an incomplete frame
/// was scanned, so each buffered byte is scanned about once however the frame arrives.
#[derive(Debug, Clone, Default)]
pub struct StompCodec {
    pub version: Version,
    pub limits: Limits,
    progress: Progress,
}

impl StompCodec {
    pub fn new(limits: Limits) -> StompCodec {
        StompCodec { version: Version::V1_0, limits, progress: Progress::default() }
    }
    pub fn set_version(&mut self, v: Version) {
        self.version = v;
    }
}

/// Error of [`StompCodec`]: the transport's or the protocol's.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl Decoder for StompCodec {
    type Item = Parsed;
    type Error = CodecError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Parsed>, CodecError> {
        Ok(decode_resuming(src, self.version, &self.limits, &mut self.progress)?)
    }
}

impl Encoder<Frame> for StompCodec {
    type Error = CodecError;
    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode(&frame, self.version, dst);
        Ok(())
    }
}

impl Encoder<HeartBeat> for StompCodec {
    type Error = CodecError;
    fn encode(&mut self, _: HeartBeat, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.put_u8(b'\n');
        Ok(())
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
