//! OpenWire primitives on byte buffers, loose encoding, no I/O: big-endian integers, Java
//! modified UTF-8 strings, nullable byte arrays, ActiveMQ's primitive maps, and the
//! size-prefixed framing (a tokio-util [`Decoder`]).
//!
//! Every read is bounds-checked; a short or inconsistent buffer is a [`CodecError`], never a
//! panic, so a malformed frame only closes its own connection.
//!
//! # What a frame can make mqsim allocate
//!
//! Nothing is allocated from a count or length the peer sent beyond the bytes it sent:
//! a length must fit in what is left of the frame, and a count of `n` map entries, list
//! values or commands needs at least one byte per entry. That alone is not enough, since
//! a one-byte NULL in a list becomes a 32-byte [`Value`]: 20 M of them in a 20 MB frame
//! were 640 MiB. So each [`Reader`] also has a memory budget of [`DECODE_FACTOR`] bytes
//! of decoded structure per byte of its buffer (plus [`DECODE_SLACK`]), and
//! [`Reader::charge`] takes every vector's and boxed command's size from it *before* the
//! allocation; a frame that would need more is malformed. Strings and byte arrays are
//! copied at most byte for byte (modified UTF-8 never decodes longer than it was) and are
//! not charged. Maps and lists nest at most [`MAX_DEPTH`] deep. The length prefix is
//! checked against the frame limit before anything is buffered, and the buffer only grows
//! as bytes arrive.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("malformed OpenWire frame: {0}")]
    Malformed(String),
    #[error("OpenWire frame of {size} bytes is over the maximum frame size of {max} bytes (wireFormat.maxFrameSize)")]
    TooLarge { size: u64, max: usize },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub fn malformed(what: impl Into<String>) -> CodecError {
    CodecError::Malformed(what.into())
}

/// Bytes of decoded structure a frame may make mqsim hold per byte of the frame.
pub const DECODE_FACTOR: usize = 8;
/// Decoded structure any buffer may use whatever its size (a small frame's few maps).
pub const DECODE_SLACK: usize = 64 << 10;

/// A cursor over one frame's bytes, with the frame's memory budget (see the module docs).
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    budget: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        let budget = buf.len().saturating_mul(DECODE_FACTOR).saturating_add(DECODE_SLACK);
        Reader { buf, pos: 0, budget }
    }

    /// Accounts for `count` decoded elements of `size` bytes each, which take at least
    /// `min_wire` bytes each of what is left: an error, before anything is allocated, if
    /// the frame does not have those bytes or its memory budget is spent.
    pub fn charge(&mut self, count: usize, min_wire: usize, size: usize, what: &str) -> Result<(), CodecError> {
        if count.saturating_mul(min_wire) > self.remaining() {
            return Err(malformed(format!(
                "{what} of {count} entries at offset {} with {} bytes left",
                self.pos,
                self.remaining()
            )));
        }
        let cost = count.saturating_mul(size);
        if cost > self.budget {
            return Err(malformed(format!(
                "{what} of {count} entries would take {cost} bytes of memory; a frame of {} bytes may take {}",
                self.buf.len(),
                self.buf.len().saturating_mul(DECODE_FACTOR).saturating_add(DECODE_SLACK)
            )));
        }
        self.budget -= cost;
        Ok(())
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.remaining() < n {
            return Err(malformed(format!("needed {n} more bytes at offset {}, have {}", self.pos, self.remaining())));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }

    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    pub fn bool(&mut self) -> Result<bool, CodecError> {
        Ok(self.u8()? != 0)
    }
    pub fn i16(&mut self) -> Result<i16, CodecError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A length read from the wire, checked against what is left.
    fn len(&mut self, n: i64) -> Result<usize, CodecError> {
        if n < 0 || n as u64 > self.remaining() as u64 {
            return Err(malformed(format!("length {n} at offset {} with {} bytes left", self.pos, self.remaining())));
        }
        Ok(n as usize)
    }

    /// `DataInput.readUTF`: u16 length + modified UTF-8.
    pub fn utf(&mut self) -> Result<String, CodecError> {
        let n = self.u16()? as i64;
        let n = self.len(n)?;
        decode_mutf8(self.take(n)?)
    }

    /// A nullable string: bool, then `readUTF`.
    pub fn string(&mut self) -> Result<Option<String>, CodecError> {
        if self.bool()? { Ok(Some(self.utf()?)) } else { Ok(None) }
    }

    /// A nullable byte array or ByteSequence: bool, i32 length, bytes.
    pub fn bytes(&mut self) -> Result<Option<Vec<u8>>, CodecError> {
        if !self.bool()? {
            return Ok(None);
        }
        let n = self.i32()? as i64;
        let n = self.len(n)?;
        Ok(Some(self.take(n)?.to_vec()))
    }
}

/// Appends loose-encoded primitives.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }
    pub fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// `DataOutput.writeUTF`. Strings longer than 65535 encoded bytes are cut at a character
    /// boundary (Java would throw; a broker must not).
    pub fn utf(&mut self, s: &str) {
        let mut enc = Vec::with_capacity(s.len());
        encode_mutf8(s, &mut enc);
        if enc.len() > u16::MAX as usize {
            let mut cut = u16::MAX as usize;
            while cut > 0 && enc[cut] & 0xC0 == 0x80 {
                cut -= 1;
            }
            enc.truncate(cut);
        }
        self.buf.extend_from_slice(&(enc.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(&enc);
    }
    pub fn string(&mut self, s: Option<&str>) {
        self.bool(s.is_some());
        if let Some(s) = s {
            self.utf(s);
        }
    }
    pub fn bytes(&mut self, b: Option<&[u8]>) {
        self.bool(b.is_some());
        if let Some(b) = b {
            self.i32(b.len() as i32);
            self.buf.extend_from_slice(b);
        }
    }
}

/// Java's modified UTF-8 (`DataInput.readUTF`): UTF-16 units, 1–3 bytes each; U+0000 is
/// `C0 80`; a non-BMP character is two 3-byte surrogates. A lone surrogate becomes U+FFFD.
pub fn decode_mutf8(b: &[u8]) -> Result<String, CodecError> {
    if b.is_ascii() && !b.contains(&0) {
        return Ok(String::from_utf8(b.to_vec()).expect("ascii"));
    }
    let mut units = Vec::with_capacity(b.len());
    let mut i = 0;
    let bad = |i: usize| malformed(format!("invalid modified UTF-8 at byte {i}"));
    while i < b.len() {
        let c = b[i] as u16;
        match b[i] >> 4 {
            0..=7 => {
                units.push(c);
                i += 1;
            }
            12 | 13 => {
                let c2 = *b.get(i + 1).ok_or_else(|| bad(i))? as u16;
                if c2 & 0xC0 != 0x80 {
                    return Err(bad(i));
                }
                units.push(((c & 0x1F) << 6) | (c2 & 0x3F));
                i += 2;
            }
            14 => {
                let (c2, c3) = match (b.get(i + 1), b.get(i + 2)) {
                    (Some(&c2), Some(&c3)) => (c2 as u16, c3 as u16),
                    _ => return Err(bad(i)),
                };
                if c2 & 0xC0 != 0x80 || c3 & 0xC0 != 0x80 {
                    return Err(bad(i));
                }
                units.push(((c & 0x0F) << 12) | ((c2 & 0x3F) << 6) | (c3 & 0x3F));
                i += 3;
            }
            _ => return Err(bad(i)),
        }
    }
    Ok(String::from_utf16_lossy(&units))
}

pub fn encode_mutf8(s: &str, out: &mut Vec<u8>) {
    if s.is_ascii() && !s.as_bytes().contains(&0) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for u in s.encode_utf16() {
        match u {
            1..=0x7F => out.push(u as u8),
            0 | 0x80..=0x7FF => {
                out.push(0xC0 | ((u >> 6) & 0x1F) as u8);
                out.push(0x80 | (u & 0x3F) as u8);
            }
            _ => {
                out.push(0xE0 | ((u >> 12) & 0x0F) as u8);
                out.push(0x80 | ((u >> 6) & 0x3F) as u8);
                out.push(0x80 | (u & 0x3F) as u8);
            }
        }
    }
}

/// A value in an ActiveMQ primitive map (message properties, WireFormatInfo options).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Byte(i8),
    Char(u16),
    Short(i16),
    Int(i32),
    Long(i64),
    Double(f64),
    Float(f32),
    String(String),
    Bytes(Vec<u8>),
    Map(PrimitiveMap),
    List(Vec<Value>),
}

/// Entries in wire order (Java's HashMap order is kept, so a map re-encodes byte for byte).
pub type PrimitiveMap = Vec<(String, Value)>;

/// Nesting limit for maps and lists inside property values.
pub const MAX_DEPTH: usize = 16;

pub fn read_map(r: &mut Reader) -> Result<Option<PrimitiveMap>, CodecError> {
    read_map_at(r, 0)
}

fn read_map_at(r: &mut Reader, depth: usize) -> Result<Option<PrimitiveMap>, CodecError> {
    if depth > MAX_DEPTH {
        return Err(malformed("primitive map nested too deeply"));
    }
    let n = r.i32()?;
    if n < 0 {
        return Ok(None);
    }
    // Each entry takes at least 3 bytes: a u16 key length and a type byte.
    r.charge(n as usize, 3, size_of::<(String, Value)>(), "primitive map")?;
    let mut m = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let k = r.utf()?;
        m.push((k, read_value(r, depth)?));
    }
    Ok(Some(m))
}

pub fn read_value(r: &mut Reader, depth: usize) -> Result<Value, CodecError> {
    if depth > MAX_DEPTH {
        return Err(malformed("primitive map nested too deeply"));
    }
    Ok(match r.u8()? {
        0 => Value::Null,
        1 => Value::Bool(r.bool()?),
        2 => Value::Byte(r.u8()? as i8),
        3 => Value::Char(r.u16()?),
        4 => Value::Short(r.i16()?),
        5 => Value::Int(r.i32()?),
        6 => Value::Long(r.i64()?),
        7 => Value::Double(f64::from_bits(r.i64()? as u64)),
        8 => Value::Float(f32::from_bits(r.i32()? as u32)),
        9 => Value::String(r.utf()?),
        10 => {
            let n = r.i32()? as i64;
            let n = r.len(n)?;
            Value::Bytes(r.take(n)?.to_vec())
        }
        11 => Value::Map(read_map_at(r, depth + 1)?.unwrap_or_default()),
        12 => {
            let n = r.i32()?;
            if n < 0 {
                return Err(malformed(format!("primitive list of {n} entries")));
            }
            r.charge(n as usize, 1, size_of::<Value>(), "primitive list")?;
            let mut v = Vec::with_capacity(n as usize);
            for _ in 0..n {
                v.push(read_value(r, depth + 1)?);
            }
            Value::List(v)
        }
        13 => {
            let n = r.i32()? as i64;
            let n = r.len(n)?;
            Value::String(decode_mutf8(r.take(n)?)?)
        }
        t => return Err(malformed(format!("unknown primitive type {t}"))),
    })
}

pub fn write_map(w: &mut Writer, m: Option<&PrimitiveMap>) {
    match m {
        None => w.i32(-1),
        Some(m) => {
            w.i32(m.len() as i32);
            for (k, v) in m {
                w.utf(k);
                write_value(w, v);
            }
        }
    }
}

pub fn write_value(w: &mut Writer, v: &Value) {
    match v {
        Value::Null => w.u8(0),
        Value::Bool(b) => {
            w.u8(1);
            w.bool(*b);
        }
        Value::Byte(b) => {
            w.u8(2);
            w.u8(*b as u8);
        }
        Value::Char(c) => {
            w.u8(3);
            w.buf.extend_from_slice(&c.to_be_bytes());
        }
        Value::Short(s) => {
            w.u8(4);
            w.i16(*s);
        }
        Value::Int(i) => {
            w.u8(5);
            w.i32(*i);
        }
        Value::Long(l) => {
            w.u8(6);
            w.i64(*l);
        }
        Value::Double(d) => {
            w.u8(7);
            w.i64(d.to_bits() as i64);
        }
        Value::Float(f) => {
            w.u8(8);
            w.i32(f.to_bits() as i32);
        }
        // MarshallingSupport.marshalString: the short form below Short.MAX_VALUE / 4 chars.
        Value::String(s) if s.encode_utf16().count() < (i16::MAX / 4) as usize => {
            w.u8(9);
            w.utf(s);
        }
        Value::String(s) => {
            w.u8(13);
            let mut enc = Vec::new();
            encode_mutf8(s, &mut enc);
            w.i32(enc.len() as i32);
            w.buf.extend_from_slice(&enc);
        }
        Value::Bytes(b) => {
            w.u8(10);
            w.i32(b.len() as i32);
            w.buf.extend_from_slice(b);
        }
        Value::Map(m) => {
            w.u8(11);
            write_map(w, Some(m));
        }
        Value::List(l) => {
            w.u8(12);
            w.i32(l.len() as i32);
            for v in l {
                write_value(w, v);
            }
        }
    }
}

/// The most [`FrameCodec`] reserves ahead of the bytes a peer has sent.
const READ_AHEAD: usize = 64 << 10;

/// Splits the byte stream into frames: `int32 size` (big-endian, excluding itself), then
/// `size` bytes starting with the command type. Yields the frame without its size prefix.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    pub max_frame_size: usize,
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, CodecError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let size = i32::from_be_bytes(src[..4].try_into().expect("4 bytes"));
        if size < 1 {
            return Err(malformed(format!("frame size {size}")));
        }
        if size as u64 > self.max_frame_size as u64 {
            return Err(CodecError::TooLarge { size: size as u64, max: self.max_frame_size });
        }
        let size = size as usize;
        if src.len() < 4 + size {
            // Room for what is still missing, but never more than a read's worth ahead of
            // the bytes that came: a length prefix alone must not make us allocate.
            src.reserve((4 + size - src.len()).min(READ_AHEAD));
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(src.split_to(size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf8_round_trips_nul_and_non_bmp() {
        for s in ["plain", "h\u{e9}llo", "nul\0here", "\u{1F600} smile", "\u{20AC}"] {
            let mut enc = Vec::new();
            encode_mutf8(s, &mut enc);
            assert!(!enc.contains(&0), "{s:?}");
            assert_eq!(decode_mutf8(&enc).unwrap(), s);
        }
        let mut enc = Vec::new();
        encode_mutf8("\0", &mut enc);
        assert_eq!(enc, [0xC0, 0x80]);
        encode_mutf8("\u{1F600}", &mut enc);
        assert_eq!(enc.len(), 2 + 6, "two 3-byte surrogates");
        assert!(decode_mutf8(&[0xE0, 0x80]).is_err());
    }

    #[test]
    fn maps_round_trip_in_order() {
        let m: PrimitiveMap = vec![
            ("b".into(), Value::Bool(true)),
            ("i".into(), Value::Int(-7)),
            ("l".into(), Value::Long(1 << 40)),
            ("s".into(), Value::String("x".repeat(9000))),
            ("d".into(), Value::Double(1.5)),
            ("m".into(), Value::Map(vec![("n".into(), Value::Null)])),
            ("list".into(), Value::List(vec![Value::Short(3), Value::Char(65)])),
        ];
        let mut w = Writer::default();
        write_map(&mut w, Some(&m));
        let mut r = Reader::new(&w.buf);
        assert_eq!(read_map(&mut r).unwrap(), Some(m));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn hostile_lengths_are_errors_not_panics() {
        let mut r = Reader::new(&[0, 0, 0, 0x7f, 0xff]);
        assert!(read_map(&mut r).is_err());
        let mut r = Reader::new(&[1, 0x7f, 0xff, 0xff, 0xff]);
        assert!(r.bytes().is_err());
        let mut c = FrameCodec { max_frame_size: 100 };
        assert!(matches!(c.decode(&mut BytesMut::from(&[0u8, 0, 1, 0][..])), Err(CodecError::TooLarge { .. })));
        assert!(c.decode(&mut BytesMut::from(&[0xffu8, 0, 0, 0][..])).is_err());
        let mut buf = BytesMut::from(&[0u8, 0, 0, 2, 10][..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&[0]);
        assert_eq!(&c.decode(&mut buf).unwrap().unwrap()[..], &[10, 0]);
    }

    /// A map of one entry, `k`, holding a list that claims `count` entries, then `nulls`
    /// NULL bytes.
    fn null_list(count: i32, nulls: usize) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 1, 0, 1, b'k', 12];
        b.extend_from_slice(&count.to_be_bytes());
        b.resize(b.len() + nulls, 0);
        b
    }

    #[test]
    fn counts_beyond_the_bytes_sent_are_refused_before_allocating() {
        // 1 KiB that claims 2^31 - 1 entries: refused at once, nothing allocated for them.
        let t = std::time::Instant::now();
        let e = read_map(&mut Reader::new(&null_list(i32::MAX, 1000))).unwrap_err().to_string();
        assert!(e.contains("primitive list of 2147483647 entries"), "{e}");
        let mut map = vec![0x7f, 0xff, 0xff, 0xff];
        map.resize(1024, 0);
        assert!(read_map(&mut Reader::new(&map)).is_err());
        assert!(t.elapsed() < std::time::Duration::from_millis(100));
        // As many entries as bytes is fine while small (the slack), and round-trips.
        let ok = read_map(&mut Reader::new(&null_list(1000, 1000))).unwrap().unwrap();
        assert!(matches!(&ok[0].1, Value::List(l) if l.len() == 1000));
    }

    #[test]
    fn twenty_million_nulls_are_refused_by_the_memory_budget() {
        // Row 4 of issue 11: one NULL byte each would have been a 32-byte Value (640 MiB).
        let frame = null_list(20_000_000, 20_000_000);
        let e = read_map(&mut Reader::new(&frame)).unwrap_err().to_string();
        assert!(e.contains("would take") && e.contains("may take"), "{e}");
        // What a frame may make us hold stays a small multiple of its size.
        assert!(20_000_000 * size_of::<Value>() > frame.len() * DECODE_FACTOR + DECODE_SLACK);
        // A list of longs (9 bytes each) the same size is fine.
        let mut longs = vec![0, 0, 0, 1, 0, 1, b'k', 12];
        longs.extend_from_slice(&100_000i32.to_be_bytes());
        for i in 0..100_000i64 {
            longs.push(6);
            longs.extend_from_slice(&i.to_be_bytes());
        }
        assert!(read_map(&mut Reader::new(&longs)).is_ok());
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |depth: usize| {
            // depth maps, each holding the next under "m".
            let mut b = Vec::new();
            for _ in 0..depth {
                b.extend_from_slice(&[0, 0, 0, 1, 0, 1, b'm', 11]);
            }
            b.extend_from_slice(&[0, 0, 0, 0]);
            b
        };
        assert!(read_map(&mut Reader::new(&nested(MAX_DEPTH))).is_ok());
        let e = read_map(&mut Reader::new(&nested(MAX_DEPTH + 2))).unwrap_err().to_string();
        assert!(e.contains("nested too deeply"), "{e}");
        let lists: Vec<u8> = std::iter::repeat_n([12u8, 0, 0, 0, 1], 100).flatten().chain([0]).collect();
        assert!(read_value(&mut Reader::new(&lists), 0).unwrap_err().to_string().contains("nested too deeply"));
    }

    #[test]
    fn negative_lengths_are_errors() {
        let neg = (-5i32).to_be_bytes();
        let with = |prefix: &[u8]| -> Vec<u8> { prefix.iter().chain(&neg).chain(&[0u8; 16]).copied().collect() };
        assert!(Reader::new(&with(&[1])).bytes().is_err(), "byte array");
        for ty in [10u8, 12, 13] {
            assert!(read_value(&mut Reader::new(&with(&[ty])), 0).is_err(), "type {ty}");
        }
        assert_eq!(read_map(&mut Reader::new(&(-1i32).to_be_bytes())).unwrap(), None, "-1 is a null map");
        let mut c = FrameCodec { max_frame_size: 1 << 20 };
        for size in [0i32, -1, i32::MIN] {
            assert!(c.decode(&mut BytesMut::from(&size.to_be_bytes()[..])).is_err(), "frame size {size}");
        }
    }

    #[test]
    fn a_length_prefix_alone_allocates_little() {
        let mut c = FrameCodec { max_frame_size: 100 << 20 };
        let mut buf = BytesMut::from(&(90u32 << 20).to_be_bytes()[..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() <= 2 * READ_AHEAD, "reserved {} bytes for a 4-byte prefix", buf.capacity());
    }
}
