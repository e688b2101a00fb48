//! The journal's record framing, ActiveMQ's log record: `'*'`, a kind byte, the CRC32 of the
//! data and its length (both big-endian u32), then the data. Pure functions on byte
//! buffers, no I/O: the journal, recovery, replication and the fuzz targets share them.

/// `'*'`, kind, CRC32, length.
pub const HEADER: usize = 10;
pub const MAGIC: u8 = b'*';
/// The only kind of record mqsim writes: a postcard-encoded [`super::record::Record`].
pub const KIND_RECORD: u8 = 1;
/// The largest record data accepted (a message can be up to `maxFrameSize`, 100 MiB).
pub const MAX_DATA: usize = 256 << 20;

/// What the bytes at the front of a buffer hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A whole, valid record: its data, its length with the header, its CRC.
    Record { data: &'a [u8], len: usize, crc: u32 },
    /// The buffer ends inside a record (or holds nothing).
    Partial,
    /// A zero byte where a record would start: the written zeros past the end.
    Zero,
    /// Not a record (torn, or not a journal).
    Corrupt(String),
}

/// Parses the record at the front of `buf`: no I/O.
pub fn next_record(buf: &[u8]) -> Next<'_> {
    let Some(&first) = buf.first() else { return Next::Partial };
    if first == 0 {
        return Next::Zero;
    }
    if first != MAGIC {
        return Next::Corrupt(format!("no record marker (byte {first:#04x})"));
    }
    if buf.len() < HEADER {
        return Next::Partial;
    }
    if buf[1] != KIND_RECORD {
        return Next::Corrupt(format!("unknown record kind {}", buf[1]));
    }
    let crc = u32::from_be_bytes(buf[2..6].try_into().expect("4 bytes"));
    let size = u32::from_be_bytes(buf[6..10].try_into().expect("4 bytes")) as usize;
    if size > MAX_DATA {
        return Next::Corrupt(format!("record of {size} bytes is over the {MAX_DATA}-byte limit"));
    }
    let Some(data) = buf.get(HEADER..HEADER + size) else { return Next::Partial };
    if crc32fast::hash(data) != crc {
        return Next::Corrupt("CRC mismatch".into());
    }
    Next::Record { data, len: HEADER + size, crc }
}

/// The whole, valid records at the front of `buf`, as `(offset, data, crc)`, up to the
/// first thing that is not one.
pub fn records(buf: &[u8]) -> impl Iterator<Item = (usize, &[u8], u32)> {
    let mut at = 0;
    std::iter::from_fn(move || match next_record(&buf[at..]) {
        Next::Record { data, len, crc } => {
            let offset = at;
            at += len;
            Some((offset, data, crc))
        }
        _ => None,
    })
}

/// Appends one framed record to `out`; returns its CRC.
pub fn frame(data: &[u8], out: &mut Vec<u8>) -> u32 {
    let crc = crc32fast::hash(data);
    out.push(MAGIC);
    out.push(KIND_RECORD);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    crc
}

/// Checks that `bytes` is a run of whole valid records; returns the last one's offset
/// within `bytes` and its CRC.
pub fn validate(bytes: &[u8]) -> std::result::Result<Option<(usize, u32)>, String> {
    let (mut at, mut last) = (0, None);
    while at < bytes.len() {
        match next_record(&bytes[at..]) {
            Next::Record { len, crc, .. } => {
                last = Some((at, crc));
                at += len;
            }
            Next::Partial => return Err(format!("a record is cut short at offset {at}")),
            Next::Zero => return Err(format!("no record at offset {at}")),
            Next::Corrupt(why) => return Err(format!("at offset {at}: {why}")),
        }
    }
    Ok(last)
}
