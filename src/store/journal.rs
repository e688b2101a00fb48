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
//! **Recovery** at open scans the whole file, checking every CRC; the first invalid record
//! is the end. What happens next depends on what lies beyond it, searched byte by byte for
//! any valid record (a `'*'`, the kind, a length that fits, a matching CRC):
//!
//! * nothing valid: a **torn tail** (a write cut short by a crash). The tail is zeroed, as
//!   ActiveMQ and LevelDB truncate their logs there, so no stale bytes can ever be read as
//!   records after later appends.
//! * a valid record follows: **damage in the middle** (a flipped bit, a lost page), or,
//!   after an OS crash, unsynced pages that reached the disk out of order. Valid records are
//!   never zeroed: the file is kept byte for byte as `quarantine/<name>.corrupt-<ms>` (a
//!   hard link to the very inode), and a new file holding the valid prefix takes its place
//!   (written and fsynced aside, then renamed over it). [`Journal::recovered`] reports it,
//!   and the store marks itself as needing a resync (see the store's essay).
//!
//! **A failed fsync poisons the journal** ([`Journal::failed`]): after Linux reports a
//! writeback error once, the dirty pages may be dropped and a later fsync may "succeed"
//! without them (PostgreSQL's "fsyncgate"), so an fsync is never retried. Every later sync,
//! append and clear fails, and [`Journal::fault`] tells whoever watches (the node exits).
//! [`Journal::fail_fsync_after`] is a test-only hook that makes an fsync fail on purpose.
//!
//! [`Journal::clear`] truncates the file (a slave resyncing).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::sync::watch;

use super::recovery::{self, Recovery, Scanned};
use crate::error::{Error, Result};

/// The one journal file of a store.
pub const FILE_NAME: &str = "0000000000000000.log";
/// `'*'`, kind, CRC32, length.
pub const HEADER: usize = 10;
pub(super) const MAGIC: u8 = b'*';
/// The only kind of record mqsim writes: a postcard-encoded [`super::record::Record`].
pub const KIND_RECORD: u8 = 1;
/// The largest record data accepted (a message can be up to `maxFrameSize`, 100 MiB).
pub const MAX_DATA: usize = 256 << 20;
/// Written zeros kept past the end by a journal that fsyncs (topped up when half is used).
pub const RESERVE: u64 = 16 << 20;
/// Where damaged journals and records that cannot be indexed are kept, beside the journal.
pub const QUARANTINE_DIR: &str = "quarantine";

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
    /// Set by the first failed fsync, never cleared: see the module essay.
    failed: OnceLock<String>,
    /// `Some(why)` once `failed` is set, for whoever must stop (the node).
    fault: watch::Sender<Option<String>>,
    /// fsyncs attempted, and the count at which one fails on purpose (test-only hook).
    fsyncs: AtomicU64,
    fail_fsync_at: AtomicU64,
    /// Damage in the middle of the file found at open, if any.
    recovered: Option<Recovery>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and finds its end (see the module essay
    /// for what happens to a torn tail and to damage in the middle).
    pub fn open(path: &Path) -> Result<Journal> {
        Journal::open_with(path, |_| Ok(()))
    }

    /// [`Journal::open`], calling `on_damage` once damage in the middle has been found and
    /// the file kept, before the journal is cut: whatever it records (the store's mark)
    /// is on disk before the shorter journal is, so no crash can leave a silently cut one.
    pub fn open_with(path: &Path, on_damage: impl FnOnce(&Recovery) -> Result<()>) -> Result<Journal> {
        let open = |path: &Path| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(Error::io(format!("opening {}", path.display())))
        };
        let mut file = open(path)?;
        let reading = || Error::io(format!("reading {}", path.display()));
        let mut allocated = file.metadata().map_err(reading())?.len();
        let Scanned { end, last, torn } = recovery::scan(&file, allocated).map_err(reading())?;
        let next_valid =
            if end < allocated { recovery::find_record(&file, end + 1, allocated).map_err(reading())? } else { None };
        let mut recovered = None;
        match (next_valid, torn) {
            (Some(next_valid), torn) => {
                let why = torn.unwrap_or_else(|| "zeros where a record should start".into());
                let copy = recovery::keep_copy(path)?;
                let recovery = Recovery { at: end, why, next_valid, was: allocated, copy };
                on_damage(&recovery)?;
                recovery::cut(path, &file, end)?;
                file = open(path)?;
                let (why, copy) = (&recovery.why, &recovery.copy);
                tracing::error!(
                    "{}: the record at position {end} is damaged ({why}) but a valid record follows at \
                     {next_valid}: this is damage in the middle of the journal, not a torn write. Nothing is \
                     zeroed: the journal as it was ({allocated} bytes) is kept as {}; this store now ends at \
                     {end} and must resync from the master before it may be master again",
                    path.display(),
                    copy.display()
                );
                recovered = Some(recovery);
                allocated = end;
            }
            (None, Some(why)) => {
                tracing::warn!(
                    "{}: the journal ends at {end}: {why}, and no valid record follows (a torn write); the \
                     rest is zeroed",
                    path.display()
                );
                recovery::zero(&file, end, allocated).map_err(Error::io(format!("writing {}", path.display())))?;
                file.sync_data().map_err(Error::io(format!("syncing {}", path.display())))?;
            }
            (None, None) => {}
        }
        let tail = Tail { end, last, allocated, reserving: false };
        Ok(Journal {
            file,
            end: AtomicU64::new(end),
            tail: Mutex::new(tail),
            failed: OnceLock::new(),
            fault: watch::channel(None).0,
            fsyncs: AtomicU64::new(0),
            fail_fsync_at: AtomicU64::new(u64::MAX),
            recovered,
        })
    }

    /// Damage in the middle of the journal found at open (the file was set aside), if any.
    pub fn recovered(&self) -> Option<&Recovery> {
        self.recovered.as_ref()
    }

    /// Why the journal refuses every write, if an fsync failed.
    pub fn failed(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    /// Becomes `Some(why)` when an fsync fails.
    pub fn fault(&self) -> watch::Receiver<Option<String>> {
        self.fault.subscribe()
    }

    /// **Test-only hook**: the fsync after the next `n` fails as a disk error would, once:
    /// the fsyncs after it would succeed, as Linux's do after a writeback error.
    pub fn fail_fsync_after(&self, n: u64) {
        self.fail_fsync_at.store(self.fsyncs.load(Ordering::SeqCst).saturating_add(n), Ordering::SeqCst);
    }

    fn check_healthy(&self) -> Result<()> {
        match self.failed.get() {
            Some(why) => Err(Error::Other(format!("the journal refuses writes after a failed fsync ({why})"))),
            None => Ok(()),
        }
    }

    /// The one place the journal fsyncs. A failure poisons the journal for good: it is
    /// never retried (see the module essay).
    fn fsync(&self) -> Result<()> {
        self.check_healthy()?;
        let n = self.fsyncs.fetch_add(1, Ordering::SeqCst);
        let result = if n == self.fail_fsync_at.load(Ordering::SeqCst) {
            Err(std::io::Error::other("injected by the test hook Journal::fail_fsync_after"))
        } else {
            self.file.sync_data()
        };
        result.map_err(|e| {
            let why = format!("fsync of the journal failed: {e}");
            tracing::error!(
                "{why}. What the kernel had not written may be lost, and a retried fsync could not tell: \
                 the journal accepts no more writes"
            );
            let _ = self.failed.set(why.clone());
            self.fault.send_replace(Some(why.clone()));
            Error::Other(why)
        })
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
        self.check_healthy()?;
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
        self.check_healthy()?;
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
        recovery::zero(&self.file, tail.allocated, to).map_err(Error::io("reserving journal space"))?;
        self.fsync()?;
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
        self.fsync()
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
        self.check_healthy()?;
        let mut tail = self.tail.lock().unwrap();
        self.file.set_len(0).map_err(Error::io("truncating the journal"))?;
        tail.end = 0;
        tail.last = None;
        tail.allocated = 0;
        self.end.store(0, Ordering::Release);
        self.reserve(&mut tail, 0)?;
        self.fsync()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Appends `n` records of `size` bytes (record `i` filled with `i + 1`); their end offsets.
    pub(crate) fn records(j: &Journal, n: usize, size: usize) -> Vec<u64> {
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
    fn a_failed_fsync_poisons_the_journal_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join(FILE_NAME)).unwrap();
        let fault = j.fault();
        records(&j, 1, 10);
        j.sync().unwrap();
        j.fail_fsync_after(1);
        j.sync().unwrap();
        records(&j, 1, 10);
        assert!(j.sync().is_err(), "the injected failure");
        assert!(j.failed().unwrap().contains("fsync"));
        assert!(fault.borrow().is_some(), "the fault is announced");
        assert!(j.sync().is_err(), "never retried: a later fsync fails too, though the disk would take it");
        assert!(j.append([b"x".as_slice()]).is_err(), "no more appends");
        assert!(j.append_raw(j.end(), &[]).is_err());
        assert!(j.clear().is_err());
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
