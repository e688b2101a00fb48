//! The journal: one append-only file of records, the way ActiveMQ's LevelDB store kept its
//! log (`<16 hex digits>.log`, named after the position it starts at; mqsim keeps one file,
//! `0000000000000000.log`, so a position is a plain file offset).
//!
//! A record is ActiveMQ's log record: `'*'`, a kind byte, the CRC32 of the data and its
//! length (both big-endian u32), then the data: a 10-byte header. Appends go to the end with
//! one `pwrite` per group; durability is one `fdatasync` of this one file. Once a journal has
//! been synced it keeps [`RESERVE`] bytes of written zeros past its end, so that an fsync
//! writes data blocks only and never has to commit the filesystem's own journal for a grown
//! file. Reading stops at the first byte that does not start a valid record: a zero (the
//! reserve) or a torn write.
//!
//! Recovery at open scans the whole file, checking every CRC; the first invalid record is the
//! end. Whatever follows a torn record is zeroed, so no stale bytes can ever be read as
//! records after later appends. [`Journal::clear`] truncates the file (a slave resyncing).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The one journal file of a store.
pub const FILE_NAME: &str = "0000000000000000.log";
/// `'*'`, kind, CRC32, length.
pub const HEADER: usize = 10;
const MAGIC: u8 = b'*';
/// The only kind of record mqsim writes: a postcard-encoded [`super::record::Record`].
pub const KIND_RECORD: u8 = 1;
/// The largest record data accepted (a message can be up to `maxFrameSize`, 100 MiB).
pub const MAX_DATA: usize = 256 << 20;
/// Written zeros kept past the end by a journal that fsyncs (topped up when half is used).
pub const RESERVE: u64 = 16 << 20;

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

/// The appending end of the file (guarded by the journal's lock).
struct Tail {
    end: u64,
    /// Start and CRC of the last record.
    last: Option<(u64, u32)>,
    /// The file's length: data plus written zeros.
    allocated: u64,
    /// Set by the first sync: a journal that never fsyncs reserves nothing.
    reserving: bool,
}

pub struct Journal {
    file: File,
    /// The end, readable without the lock (`position`, replication reads).
    end: AtomicU64,
    tail: Mutex<Tail>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and finds its end.
    pub fn open(path: &Path) -> Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(Error::io(format!("opening {}", path.display())))?;
        let allocated = file.metadata().map_err(Error::io(format!("reading {}", path.display())))?.len();
        let Scanned { end, last, torn } =
            scan(&file, allocated).map_err(Error::io(format!("reading {}", path.display())))?;
        if let Some(why) = torn {
            tracing::warn!("{}: the journal ends at {end}: {why}; the rest is zeroed", path.display());
            zero(&file, end, allocated).map_err(Error::io(format!("writing {}", path.display())))?;
            file.sync_data().map_err(Error::io(format!("syncing {}", path.display())))?;
        }
        let tail = Tail { end, last, allocated, reserving: false };
        Ok(Journal { file, end: AtomicU64::new(end), tail: Mutex::new(tail) })
    }

    /// Bytes ever appended: the next record's position.
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Start and CRC of the last record.
    pub fn last(&self) -> Option<(u64, u32)> {
        self.tail.lock().unwrap().last
    }

    /// Appends records (their data); returns each one's end position.
    pub fn append<'a>(&self, records: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u64>> {
        let mut tail = self.tail.lock().unwrap();
        let mut buf = Vec::new();
        let (mut ends, mut last) = (Vec::new(), tail.last);
        for data in records {
            if data.len() > MAX_DATA {
                return Err(Error::Other(format!(
                    "a record of {} bytes is over the {MAX_DATA}-byte limit",
                    data.len()
                )));
            }
            let start = tail.end + buf.len() as u64;
            last = Some((start, frame(data, &mut buf)));
            ends.push(tail.end + buf.len() as u64);
        }
        self.write_at_end(&mut tail, &buf, last)?;
        Ok(ends)
    }

    /// Appends bytes the master shipped: whole records starting at `start`, which must be
    /// this journal's end. Returns the new end.
    pub fn append_raw(&self, start: u64, bytes: &[u8]) -> Result<u64> {
        let mut tail = self.tail.lock().unwrap();
        if start != tail.end {
            return Err(Error::Other(format!("replicated records at {start} but the journal ends at {}", tail.end)));
        }
        let last = validate(bytes).map_err(|e| Error::Other(format!("corrupt replicated records at {start}: {e}")))?;
        let last = last.map(|(at, crc)| (start + at as u64, crc)).or(tail.last);
        self.write_at_end(&mut tail, bytes, last)?;
        Ok(tail.end)
    }

    fn write_at_end(&self, tail: &mut Tail, bytes: &[u8], last: Option<(u64, u32)>) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.reserve(tail, bytes.len() as u64)?;
        self.file.write_all_at(bytes, tail.end).map_err(Error::io("writing the journal"))?;
        tail.end += bytes.len() as u64;
        tail.allocated = tail.allocated.max(tail.end);
        tail.last = last;
        self.end.store(tail.end, Ordering::Release);
        Ok(())
    }

    /// Keeps [`RESERVE`] written zeros past the end, once the journal fsyncs (see the
    /// module essay). Runs under the lock, before the append it makes room for.
    fn reserve(&self, tail: &mut Tail, more: u64) -> Result<()> {
        if !tail.reserving || tail.end + more + RESERVE / 2 <= tail.allocated {
            return Ok(());
        }
        let to = tail.end + more + RESERVE;
        zero(&self.file, tail.allocated, to).map_err(Error::io("reserving journal space"))?;
        self.file.sync_data().map_err(Error::io("syncing the journal"))?;
        tail.allocated = to;
        Ok(())
    }

    /// fsyncs what has been appended (the DISK bit of the `sync` mode).
    pub fn sync(&self) -> Result<()> {
        {
            let mut tail = self.tail.lock().unwrap();
            if !tail.reserving {
                tail.reserving = true;
                self.reserve(&mut tail, 0)?;
            }
        }
        self.file.sync_data().map_err(Error::io("syncing the journal"))
    }

    /// Whole records from `from` (a record start), about `max` bytes of them (at least one
    /// record, however large), up to the end.
    pub fn read(&self, from: u64, max: usize) -> Result<Vec<u8>> {
        let end = self.end();
        if from >= end {
            return Ok(Vec::new());
        }
        let no_record = |at: usize| Error::Other(format!("the journal has no valid record at {}", from + at as u64));
        let mut buf = vec![0u8; (end - from).min(max.max(HEADER) as u64) as usize];
        self.file.read_exact_at(&mut buf, from).map_err(Error::io("reading the journal"))?;
        let mut at = 0;
        loop {
            match next_record(&buf[at..]) {
                Next::Record { len, .. } => at += len,
                Next::Partial if at == 0 => {
                    // A first record larger than `max`: read all of it (if it is in the journal).
                    let header = buf.get(6..10).ok_or_else(|| no_record(0))?;
                    let len = HEADER + u32::from_be_bytes(header.try_into().expect("4 bytes")) as usize;
                    if from + len as u64 > end {
                        return Err(no_record(0));
                    }
                    buf.resize(len, 0);
                    self.file.read_exact_at(&mut buf, from).map_err(Error::io("reading the journal"))?;
                }
                Next::Partial => break,
                Next::Zero | Next::Corrupt(_) => return Err(no_record(at)),
            }
            if at == buf.len() {
                break;
            }
        }
        buf.truncate(at);
        Ok(buf)
    }

    /// End and CRC of the record starting at `start`, if one does.
    pub fn record_at(&self, start: u64) -> Result<Option<(u64, u32)>> {
        let end = self.end();
        if start + HEADER as u64 > end {
            return Ok(None);
        }
        let mut header = [0u8; HEADER];
        self.file.read_exact_at(&mut header, start).map_err(Error::io("reading the journal"))?;
        if header[0] != MAGIC || header[1] != KIND_RECORD {
            return Ok(None);
        }
        let crc = u32::from_be_bytes(header[2..6].try_into().expect("4 bytes"));
        let record_end =
            start + (HEADER + u32::from_be_bytes(header[6..10].try_into().expect("4 bytes")) as usize) as u64;
        Ok((record_end <= end).then_some((record_end, crc)))
    }

    /// Forgets everything: the file is truncated (and re-reserved if it fsyncs).
    pub fn clear(&self) -> Result<()> {
        let mut tail = self.tail.lock().unwrap();
        self.file.set_len(0).map_err(Error::io("truncating the journal"))?;
        tail.end = 0;
        tail.last = None;
        tail.allocated = 0;
        self.end.store(0, Ordering::Release);
        self.reserve(&mut tail, 0)?;
        self.file.sync_all().map_err(Error::io("syncing the journal"))
    }
}

/// What a scan found.
struct Scanned {
    end: u64,
    last: Option<(u64, u32)>,
    /// Why the scan stopped, if not at the end of the data (a torn or foreign tail).
    torn: Option<String>,
}

/// Finds the end of the valid records in the first `len` bytes of `file`.
fn scan(file: &File, len: u64) -> std::io::Result<Scanned> {
    const CHUNK: usize = 1 << 20;
    let (mut pos, mut last, mut want) = (0u64, None, CHUNK);
    let mut buf = Vec::new();
    while pos < len {
        let n = (len - pos).min(want as u64) as usize;
        buf.resize(n, 0);
        file.read_exact_at(&mut buf, pos)?;
        let mut at = 0;
        loop {
            match next_record(&buf[at..]) {
                Next::Record { len, crc, .. } => {
                    last = Some((pos + at as u64, crc));
                    at += len;
                }
                Next::Partial => break,
                Next::Zero => return Ok(Scanned { end: pos + at as u64, last, torn: None }),
                Next::Corrupt(why) => return Ok(Scanned { end: pos + at as u64, last, torn: Some(why) }),
            }
        }
        if at == 0 {
            // The buffer holds part of one record: the file's last bytes, or a record
            // larger than the buffer (read it whole next).
            if n as u64 == len - pos {
                return Ok(Scanned { end: pos, last, torn: Some("the last record is cut short".into()) });
            }
            want = HEADER + u32::from_be_bytes(buf[6..10].try_into().expect("a whole header")) as usize;
            continue;
        }
        pos += at as u64;
        want = CHUNK;
    }
    Ok(Scanned { end: pos, last, torn: None })
}

/// Writes zeros over `[from, to)` of `file`.
fn zero(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(j: &Journal, n: usize, size: usize) -> Vec<u64> {
        let data: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8 + 1; size]).collect();
        j.append(data.iter().map(Vec::as_slice)).unwrap()
    }

    #[test]
    fn framing_round_trips_and_refuses_garbage() {
        let mut buf = Vec::new();
        let crc = frame(b"hello", &mut buf);
        assert_eq!(buf.len(), HEADER + 5);
        assert_eq!(next_record(&buf), Next::Record { data: b"hello", len: HEADER + 5, crc });
        for cut in 0..buf.len() {
            assert_eq!(next_record(&buf[..cut]), Next::Partial, "cut at {cut}");
        }
        assert_eq!(next_record(&[0, 0, 0]), Next::Zero);
        let mut flipped = buf.clone();
        flipped[HEADER] ^= 1;
        assert!(matches!(next_record(&flipped), Next::Corrupt(_)));
        assert!(matches!(next_record(b"hello world"), Next::Corrupt(_)));
        assert_eq!(validate(&buf), Ok(Some((0, crc))));
        assert!(validate(&buf[..buf.len() - 1]).is_err());
    }

    #[test]
    fn reopening_finds_the_end_and_zeroes_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let ends;
        {
            let j = Journal::open(&path).unwrap();
            ends = records(&j, 10, 100);
            j.sync().unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() >= RESERVE, "a syncing journal reserves zeros");
        }
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.end(), ends[9]);
        assert_eq!(j.last().unwrap().0, ends[8]);
        assert_eq!(j.record_at(ends[3]).unwrap().unwrap().0, ends[4]);
        assert_eq!(j.record_at(ends[3] + 1).unwrap(), None);
        drop(j);
        // A torn write: half a record at the end, then old bytes that look like a record.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let mut torn = Vec::new();
        frame(&[7u8; 500], &mut torn);
        file.write_all_at(&torn[..300], ends[9]).unwrap();
        let mut stale = Vec::new();
        frame(b"stale", &mut stale);
        file.write_all_at(&stale, ends[9] + 600).unwrap();
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.end(), ends[9], "the torn record is not part of the journal");
        records(&j, 1, 10);
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.end(), ends[9] + HEADER as u64 + 10, "nothing stale after the new record");
    }

    #[test]
    fn reads_whole_records_and_a_slave_appends_them_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let master = Journal::open(&dir.path().join("m.log")).unwrap();
        let slave = Journal::open(&dir.path().join("s.log")).unwrap();
        let ends = records(&master, 50, 300);
        let big = vec![9u8; 5000];
        let big_end = master.append([big.as_slice()]).unwrap()[0];
        let mut from = 0;
        while from < master.end() {
            let chunk = master.read(from, 1000).unwrap();
            assert!(validate(&chunk).is_ok());
            from = slave.append_raw(from, &chunk).unwrap();
        }
        assert_eq!(slave.end(), big_end);
        assert_eq!(slave.last(), master.last());
        assert_eq!(master.read(ends[49], 10).unwrap().len(), HEADER + 5000, "one record larger than asked");
        // Not a record start (as from a damaged index): an error, never a panic.
        let stars = master.append([b"****".as_slice()]).unwrap()[0];
        for from in [1, ends[0] + 3, big_end - 3, stars - 2, stars - 1] {
            assert!(master.read(from, 1000).is_err(), "reading from {from}");
        }
        assert!(slave.append_raw(0, &master.read(0, 1).unwrap()).is_err(), "out-of-place append is refused");
        let mut bad = master.read(0, 400).unwrap();
        bad[20] ^= 0xff;
        let fresh = Journal::open(&dir.path().join("f.log")).unwrap();
        assert!(fresh.append_raw(0, &bad).is_err(), "corrupt bytes are refused");
        assert_eq!(fresh.end(), 0);
        slave.clear().unwrap();
        assert_eq!((slave.end(), slave.last()), (0, None));
    }
}
