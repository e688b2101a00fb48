//! The journal: a series of append-only **log files** of about `logSize` bytes, each named
//! after the position it starts at (`<16 hex digits>.log`), the way ActiveMQ's LevelDB store
//! kept its log. A position is a global byte offset (bytes ever appended), so status,
//! znodes and replication keep their meaning; a file covers `[start, start + length)`.
//!
//! Records are framed as in [`super::framing`]. Appends go to the last file with one
//! `pwrite` per group; a group that would take the file past `logSize` starts a new file
//! first (a record larger than `logSize` gets a file of its own), so a record never spans
//! two files. Durability is one `fdatasync` of the last file. Once a journal has been synced
//! it keeps [`RESERVE`] bytes of written zeros past its end, so that an fsync writes data
//! blocks only; a file that is finished (rolled) is cut to its data and fsynced once.
//!
//! **Holes.** Older files are deleted by the store's garbage collection when nothing live
//! refers to them ([`super::gc`]), so the files need not be contiguous: a position in a
//! hole was collected. [`Journal::read`] never crosses a file; [`Journal::read_from`] goes on
//! at the next file after a hole.
//!
//! **Recovery** at open scans only the last file (the older ones were finished, cut and
//! synced when the journal rolled past them), checking every CRC; the first invalid record
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
//! Damage inside an older file is found when it is read (a catch-up, a slave's resync, an
//! index rebuild), as an error naming the position, never silently.
//!
//! **A failed fsync poisons the journal** ([`Journal::failed`]): after Linux reports a
//! writeback error once, the dirty pages may be dropped and a later fsync may "succeed"
//! without them (PostgreSQL's "fsyncgate"), so an fsync is never retried. Every later sync,
//! append and truncation fails, and [`Journal::fault`] tells whoever watches (the node
//! exits). [`Journal::fail_fsync_after`] is a test-only hook that makes an fsync fail.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::watch;

pub use super::framing::{HEADER, KIND_RECORD, MAGIC, MAX_DATA, Next, frame, next_record, records, validate};
use super::recovery::{self, Recovery, Scanned};
use crate::error::{Error, Result};

/// The first log file of a new store.
pub const FILE_NAME: &str = "0000000000000000.log";
/// ActiveMQ's default `logSize`: 100 MB.
pub const DEFAULT_LOG_SIZE: u64 = 104_857_600;
/// Written zeros kept past the end by a journal that fsyncs (topped up when half is used;
/// never more than the file's `logSize`).
pub const RESERVE: u64 = 16 << 20;
/// Where damaged journals and records that cannot be indexed are kept, beside the journal.
pub const QUARANTINE_DIR: &str = "quarantine";

/// The file name of the log file starting at `start`.
pub fn file_name(start: u64) -> String {
    format!("{start:016x}.log")
}

/// The start position a log file's name stands for, if it is one.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(".log")?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| u64::from_str_radix(hex, 16).ok())?
}

/// One log file.
struct LogFile {
    file: File,
    path: PathBuf,
}

/// Records read by [`Journal::read_from`]: `bytes` start at position `at`, in the log
/// file starting at `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub at: u64,
    pub file: u64,
    pub bytes: Vec<u8>,
}

/// A log file, as listed by [`Journal::files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// Its first position (its name).
    pub start: u64,
    /// The position after its last record.
    pub end: u64,
}

/// The files and the appending end of the last one (guarded by the journal's lock).
struct Files {
    /// start → file; the last is the one appended to.
    files: BTreeMap<u64, Arc<LogFile>>,
    /// start → end of every file but the last.
    ends: BTreeMap<u64, u64>,
    /// The last file's start.
    start: u64,
    end: u64,
    /// Start and CRC of the last record.
    last: Option<(u64, u32)>,
    /// The last file's length: data plus written zeros (relative to its start).
    allocated: u64,
    /// Set by the first sync: a journal that never fsyncs reserves nothing.
    reserving: bool,
    /// Finished files whose data has not been fsynced yet (the journal was not syncing).
    unsynced: Vec<Arc<LogFile>>,
}

impl Files {
    fn current(&self) -> &Arc<LogFile> {
        self.files.get(&self.start).expect("the last file is listed")
    }
}

pub struct Journal {
    dir: PathBuf,
    log_size: u64,
    /// The end, readable without the lock (`position`, replication reads).
    end: AtomicU64,
    files: Mutex<Files>,
    /// Set by the first failed fsync, never cleared: see the module essay.
    failed: OnceLock<String>,
    /// `Some(why)` once `failed` is set, for whoever must stop (the node).
    fault: watch::Sender<Option<String>>,
    /// fsyncs attempted, and the count at which one fails on purpose (test-only hook).
    fsyncs: AtomicU64,
    fail_fsync_at: AtomicU64,
    /// Damage in the middle of the last file found at open, if any.
    recovered: Option<Recovery>,
}

fn open_file(path: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(Error::io(format!("opening {}", path.display())))
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and finds its end (see the module essay for
    /// what happens to a torn tail and to damage in the middle).
    pub fn open(dir: &Path, log_size: u64) -> Result<Journal> {
        Journal::open_with(dir, log_size, |_| Ok(()))
    }

    /// [`Journal::open`], calling `on_damage` once damage in the middle of the last file has
    /// been found and the file kept, before it is cut: whatever it records (the store's
    /// mark) is on disk before the shorter journal is, so no crash can leave a silently cut
    /// one.
    pub fn open_with(dir: &Path, log_size: u64, on_damage: impl FnOnce(&Recovery) -> Result<()>) -> Result<Journal> {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let mut starts = list(dir)?;
        // A last file that holds no record (created by a roll the crash interrupted) goes.
        while starts.len() > 1 {
            let path = dir.join(file_name(*starts.last().expect("listed")));
            let file = open_file(&path)?;
            let len = file.metadata().map_err(Error::io(format!("reading {}", path.display())))?.len();
            if recovery::scan(&file, len).map_err(Error::io(format!("reading {}", path.display())))?.end > 0 {
                break;
            }
            std::fs::remove_file(&path).map_err(Error::io(format!("removing {}", path.display())))?;
            starts.pop();
        }
        let start = starts.last().copied().unwrap_or(0);
        let mut files = BTreeMap::new();
        let mut ends = BTreeMap::new();
        for (i, &s) in starts.iter().enumerate() {
            let path = dir.join(file_name(s));
            let file = open_file(&path)?;
            if s != start {
                let len = file.metadata().map_err(Error::io(format!("reading {}", path.display())))?.len();
                let next = starts[i + 1];
                if s + len > next {
                    return Err(Error::Storage(format!(
                        "{} ends at {} but the next log file starts at {next}: the log files overlap",
                        path.display(),
                        s + len
                    )));
                }
                ends.insert(s, s + len);
            }
            files.insert(s, Arc::new(LogFile { file, path }));
        }
        if files.is_empty() {
            let path = dir.join(file_name(0));
            files.insert(0, Arc::new(LogFile { file: open_file(&path)?, path }));
        }
        let (path, mut file) = {
            let f = &files[&start];
            (f.path.clone(), f.file.try_clone().map_err(Error::io(format!("opening {}", f.path.display())))?)
        };
        let reading = || Error::io(format!("reading {}", path.display()));
        let mut allocated = file.metadata().map_err(reading())?.len();
        let Scanned { end, last, torn } = recovery::scan(&file, allocated).map_err(reading())?;
        let next_valid =
            if end < allocated { recovery::find_record(&file, end + 1, allocated).map_err(reading())? } else { None };
        let mut recovered = None;
        match (next_valid, torn) {
            (Some(next_valid), torn) => {
                let why = torn.unwrap_or_else(|| "zeros where a record should start".into());
                let copy = recovery::keep_copy(&path)?;
                let recovery =
                    Recovery { at: start + end, why, next_valid: start + next_valid, was: start + allocated, copy };
                on_damage(&recovery)?;
                recovery::cut(&path, &file, end)?;
                file = open_file(&path)?;
                files.insert(
                    start,
                    Arc::new(LogFile { file: file.try_clone().map_err(reading())?, path: path.clone() }),
                );
                let (at, copy) = (recovery.at, &recovery.copy);
                tracing::error!(
                    "{}: the record at position {at} is damaged ({}) but a valid record follows at {}: this is \
                     damage in the middle of the journal, not a torn write. Nothing is zeroed: the file as it \
                     was is kept as {}; this store now ends at {at} and must resync from the master before it \
                     may be master again",
                    path.display(),
                    recovery.why,
                    recovery.next_valid,
                    copy.display()
                );
                recovered = Some(recovery);
                allocated = end;
            }
            (None, Some(why)) => {
                tracing::warn!(
                    "{}: the journal ends at {}: {why}, and no valid record follows (a torn write); the rest is \
                     zeroed",
                    path.display(),
                    start + end
                );
                recovery::zero(&file, end, allocated).map_err(Error::io(format!("writing {}", path.display())))?;
                file.sync_data().map_err(Error::io(format!("syncing {}", path.display())))?;
            }
            (None, None) => {}
        }
        let mut state = Files {
            files,
            ends,
            start,
            end: start + end,
            last: last.map(|(at, crc)| (start + at, crc)),
            allocated,
            reserving: false,
            unsynced: Vec::new(),
        };
        if state.last.is_none() {
            state.last = last_before(&state)?;
        }
        Ok(Journal {
            dir: dir.to_path_buf(),
            log_size: log_size.max(1),
            end: AtomicU64::new(state.end),
            files: Mutex::new(state),
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
            Some(why) => Err(Error::Storage(format!("the journal refuses writes after a failed fsync ({why})"))),
            None => Ok(()),
        }
    }

    /// The one place the journal fsyncs a log file. A failure poisons the journal for
    /// good: it is never retried (see the module essay).
    fn fsync(&self, file: &File) -> Result<()> {
        self.check_healthy()?;
        let n = self.fsyncs.fetch_add(1, Ordering::SeqCst);
        let result = if n == self.fail_fsync_at.load(Ordering::SeqCst) {
            Err(std::io::Error::other("injected by the test hook Journal::fail_fsync_after"))
        } else {
            file.sync_data()
        };
        result.map_err(|e| {
            let why = format!("fsync of the journal failed: {e}");
            tracing::error!(
                "{why}. What the kernel had not written may be lost, and a retried fsync could not tell: \
                 the journal accepts no more writes"
            );
            let _ = self.failed.set(why.clone());
            self.fault.send_replace(Some(why.clone()));
            Error::Storage(why)
        })
    }

    /// Bytes ever appended: the next record's position.
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Start and CRC of the last record.
    pub fn last(&self) -> Option<(u64, u32)> {
        self.files.lock().unwrap().last
    }

    /// The `logSize` a file is rolled at.
    pub fn log_size(&self) -> u64 {
        self.log_size
    }

    /// Every log file, oldest first (the last one ends at [`Journal::end`]).
    pub fn files(&self) -> Vec<FileInfo> {
        let f = self.files.lock().unwrap();
        f.files.keys().map(|&start| FileInfo { start, end: f.ends.get(&start).copied().unwrap_or(f.end) }).collect()
    }

    /// Bytes the log files take on disk (their lengths, written zeros included).
    pub fn disk_bytes(&self) -> u64 {
        let f = self.files.lock().unwrap();
        f.ends.iter().map(|(s, e)| e - s).sum::<u64>() + f.allocated.max(f.end - f.start)
    }

    /// Appends records (their data); returns each one's end position.
    pub fn append<'a>(&self, records: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u64>> {
        self.check_healthy()?;
        let mut f = self.files.lock().unwrap();
        let mut buf = Vec::new();
        // Each record's end, and the last one's start and CRC, relative to the group.
        let (mut ends, mut last) = (Vec::new(), None);
        for data in records {
            if data.len() > MAX_DATA {
                return Err(Error::Storage(format!(
                    "a record of {} bytes is over the {MAX_DATA}-byte limit",
                    data.len()
                )));
            }
            let start = buf.len() as u64;
            last = Some((start, frame(data, &mut buf)));
            ends.push(buf.len() as u64);
        }
        if buf.is_empty() {
            return Ok(Vec::new());
        }
        if f.end > f.start && f.end - f.start + buf.len() as u64 > self.log_size {
            let at = f.end;
            self.roll(&mut f, at)?;
        }
        let base = f.end;
        self.write_at_end(&mut f, &buf, last.map(|(start, crc)| (base + start, crc)))?;
        Ok(ends.into_iter().map(|end| base + end).collect())
    }

    /// Appends bytes the master shipped: whole records of its log file starting at `file`,
    /// at position `start`, which must be this journal's end, or the start of a new file
    /// (`start == file`) at or past it — past it is a hole the master collected. Returns
    /// the new end.
    pub fn append_raw(&self, file: u64, start: u64, bytes: &[u8]) -> Result<u64> {
        self.check_healthy()?;
        let mut f = self.files.lock().unwrap();
        if file != f.start {
            if file < f.start || start != file || file < f.end {
                return Err(Error::Storage(format!(
                    "replicated records of log file {file} at {start}, but the journal's last file starts at {} \
                     and ends at {}",
                    f.start, f.end
                )));
            }
            self.roll(&mut f, file)?;
        }
        if start != f.end {
            return Err(Error::Storage(format!("replicated records at {start} but the journal ends at {}", f.end)));
        }
        let last =
            validate(bytes).map_err(|e| Error::Storage(format!("corrupt replicated records at {start}: {e}")))?;
        let last = last.map(|(at, crc)| (start + at as u64, crc)).or(f.last);
        self.write_at_end(&mut f, bytes, last)?;
        Ok(f.end)
    }

    /// Finishes the last file (cut to its data, synced if the journal syncs) and starts a
    /// new one at `at` (its end, or past it: a hole). An empty last file is replaced.
    fn roll(&self, f: &mut Files, at: u64) -> Result<()> {
        let old = f.current().clone();
        if f.end == f.start {
            f.files.remove(&f.start);
            std::fs::remove_file(&old.path).map_err(Error::io(format!("removing {}", old.path.display())))?;
        } else {
            old.file.set_len(f.end - f.start).map_err(Error::io(format!("cutting {}", old.path.display())))?;
            if f.reserving {
                self.fsync(&old.file)?;
                // The cut length too: an older file's length is where its records end.
                old.file.sync_all().map_err(Error::io(format!("syncing {}", old.path.display())))?;
            } else {
                f.unsynced.push(old.clone());
            }
            f.ends.insert(f.start, f.end);
        }
        let path = self.dir.join(file_name(at));
        let file = open_file(&path)?;
        file.set_len(0).map_err(Error::io(format!("creating {}", path.display())))?;
        f.files.insert(at, Arc::new(LogFile { file, path }));
        f.start = at;
        f.end = at;
        f.allocated = 0;
        self.end.store(at, Ordering::Release);
        if f.reserving {
            recovery::sync_dir(&self.dir)?;
            self.reserve(f, 0)?;
        }
        Ok(())
    }

    fn write_at_end(&self, f: &mut Files, bytes: &[u8], last: Option<(u64, u32)>) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.reserve(f, bytes.len() as u64)?;
        let offset = f.end - f.start;
        f.current().file.write_all_at(bytes, offset).map_err(Error::io("writing the journal"))?;
        f.end += bytes.len() as u64;
        f.allocated = f.allocated.max(f.end - f.start);
        f.last = last;
        self.end.store(f.end, Ordering::Release);
        Ok(())
    }

    /// Keeps written zeros past the end, once the journal fsyncs (see the module essay).
    /// Runs under the lock, before the append it makes room for.
    fn reserve(&self, f: &mut Files, more: u64) -> Result<()> {
        let reserve = RESERVE.min(self.log_size);
        let used = f.end - f.start + more;
        if !f.reserving || used + reserve / 2 <= f.allocated {
            return Ok(());
        }
        let to = used + reserve;
        let current = f.current().clone();
        recovery::zero(&current.file, f.allocated, to).map_err(Error::io("reserving journal space"))?;
        self.fsync(&current.file)?;
        f.allocated = to;
        Ok(())
    }

    /// fsyncs what has been appended (the DISK bit of the `sync` mode).
    pub fn sync(&self) -> Result<()> {
        let current = {
            let mut f = self.files.lock().unwrap();
            for old in std::mem::take(&mut f.unsynced) {
                self.fsync(&old.file)?;
            }
            if !f.reserving {
                f.reserving = true;
                self.reserve(&mut f, 0)?;
            }
            f.current().clone()
        };
        self.fsync(&current.file)
    }

    /// The file holding position `at` (a record start), and where that file's records end.
    fn file_at(&self, at: u64) -> Option<(u64, u64, Arc<LogFile>)> {
        let f = self.files.lock().unwrap();
        let (&start, file) = f.files.range(..=at).next_back()?;
        let end = f.ends.get(&start).copied().unwrap_or(f.end);
        // A position at a finished file's end is the next file's start, if it is listed.
        if at == end && start != f.start {
            let file = f.files.get(&at)?;
            return Some((at, f.ends.get(&at).copied().unwrap_or(f.end), file.clone()));
        }
        (at < end || (at == end && start == f.start)).then(|| (start, end, file.clone()))
    }

    /// Whole records from `from` (a record start), about `max` bytes of them (at least one
    /// record, however large), up to the end of the log file that holds `from`.
    pub fn read(&self, from: u64, max: usize) -> Result<Vec<u8>> {
        if from >= self.end() {
            return Ok(Vec::new());
        }
        let Some((start, end, log)) = self.file_at(from) else {
            return Err(Error::Storage(format!(
                "position {from} is in no log file (collected as garbage, or never written here)"
            )));
        };
        read_records(&log, start, end, from, max)
    }

    /// Like [`Journal::read`], but a `from` in a hole the collection left (or before the
    /// oldest file) goes on at the next log file; says where the records start and in which
    /// file. `None` at the end.
    pub fn read_from(&self, from: u64, max: usize) -> Result<Option<Chunk>> {
        if from >= self.end() {
            return Ok(None);
        }
        let found = self.file_at(from).map(|(start, end, log)| (from, start, end, log)).or_else(|| {
            let next = self.files.lock().unwrap().files.range(from..).next().map(|(&s, _)| s)?;
            self.file_at(next).map(|(start, end, log)| (next, start, end, log))
        });
        let Some((at, file, end, log)) = found else { return Ok(None) };
        let bytes = read_records(&log, file, end, at, max)?;
        Ok(Some(Chunk { at, file, bytes }))
    }

    /// End and CRC of the record starting at `start`, if one does.
    pub fn record_at(&self, start: u64) -> Result<Option<(u64, u32)>> {
        let Some((file_start, end, log)) = self.file_at(start) else { return Ok(None) };
        if start + HEADER as u64 > end {
            return Ok(None);
        }
        let mut header = [0u8; HEADER];
        log.file.read_exact_at(&mut header, start - file_start).map_err(Error::io("reading the journal"))?;
        if header[0] != MAGIC || header[1] != KIND_RECORD {
            return Ok(None);
        }
        let crc = u32::from_be_bytes(header[2..6].try_into().expect("4 bytes"));
        let record_end =
            start + (HEADER + u32::from_be_bytes(header[6..10].try_into().expect("4 bytes")) as usize) as u64;
        Ok((record_end <= end).then_some((record_end, crc)))
    }

    /// Deletes the finished log file starting at `start` (never the last one).
    pub fn delete(&self, start: u64) -> Result<()> {
        let log = {
            let mut f = self.files.lock().unwrap();
            if start == f.start {
                return Err(Error::Storage(format!("log file {start} is the one being appended to")));
            }
            f.ends.remove(&start);
            let log = f.files.remove(&start);
            if let Some(log) = &log {
                f.unsynced.retain(|u| !Arc::ptr_eq(u, log));
            }
            log
        };
        if let Some(log) = log {
            std::fs::remove_file(&log.path).map_err(Error::io(format!("removing {}", log.path.display())))?;
        }
        Ok(())
    }

    /// Cuts the journal at `at`: files starting at or after it go, the one holding it is cut
    /// there and becomes the last (a new empty file starts at `at` if none holds it).
    pub fn truncate(&self, at: u64) -> Result<()> {
        self.check_healthy()?;
        let mut f = self.files.lock().unwrap();
        let doomed: Vec<u64> = f.files.range(at..).map(|(&s, _)| s).collect();
        for s in doomed {
            let log = f.files.remove(&s).expect("listed");
            f.ends.remove(&s);
            std::fs::remove_file(&log.path).map_err(Error::io(format!("removing {}", log.path.display())))?;
        }
        let holder = f.files.range(..at).next_back().map(|(&s, l)| (s, l.clone()));
        let (start, log) = match holder {
            Some((s, log)) if f.ends.get(&s).is_none_or(|&e| at <= e) => (s, log),
            _ => {
                let path = self.dir.join(file_name(at));
                let log = Arc::new(LogFile { file: open_file(&path)?, path });
                f.files.insert(at, log.clone());
                (at, log)
            }
        };
        f.ends.remove(&start);
        let cutting = || Error::io(format!("cutting {}", log.path.display()));
        log.file.set_len(at - start).map_err(cutting())?;
        let scanned =
            recovery::scan(&log.file, at - start).map_err(Error::io(format!("reading {}", log.path.display())))?;
        // Never inside a record: the cut is at the last whole record at or before `at`.
        let at = start + scanned.end;
        log.file.set_len(scanned.end).map_err(cutting())?;
        f.start = start;
        f.end = at;
        f.allocated = at - start;
        f.unsynced.clear();
        f.last = scanned.last.map(|(o, crc)| (start + o, crc));
        if f.last.is_none() {
            f.last = last_before(&f)?;
        }
        self.end.store(at, Ordering::Release);
        recovery::sync_dir(&self.dir)?;
        self.fsync(&log.file)?;
        if f.reserving {
            self.reserve(&mut f, 0)?;
        }
        Ok(())
    }

    /// Forgets everything: every file goes, and an empty one starts at 0.
    pub fn clear(&self) -> Result<()> {
        self.truncate(0)
    }
}

/// Whole records of `log` (starting at `start`, its records ending at `end`) from position
/// `from`, about `max` bytes of them (at least one record, however large).
fn read_records(log: &LogFile, start: u64, end: u64, from: u64, max: usize) -> Result<Vec<u8>> {
    let no_record = |at: usize| Error::Storage(format!("the journal has no valid record at {}", from + at as u64));
    let reading = || Error::io(format!("reading {}", log.path.display()));
    let mut buf = vec![0u8; (end - from).min(max.max(HEADER) as u64) as usize];
    log.file.read_exact_at(&mut buf, from - start).map_err(reading())?;
    let mut at = 0;
    loop {
        match next_record(&buf[at..]) {
            Next::Record { len, .. } => at += len,
            Next::Partial if at == 0 => {
                // A first record larger than `max`: read all of it (if it is in the file).
                let header = buf.get(6..10).ok_or_else(|| no_record(0))?;
                let len = HEADER + u32::from_be_bytes(header.try_into().expect("4 bytes")) as usize;
                if from + len as u64 > end {
                    return Err(no_record(0));
                }
                buf.resize(len, 0);
                log.file.read_exact_at(&mut buf, from - start).map_err(reading())?;
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

/// The 16-hex-digit log files in `dir`, by start.
fn list(dir: &Path) -> Result<Vec<u64>> {
    let mut starts = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io(format!("listing {}", dir.display())))? {
        let entry = entry.map_err(Error::io(format!("listing {}", dir.display())))?;
        if let Some(start) = entry.file_name().to_str().and_then(parse_file_name) {
            starts.push(start);
        }
    }
    starts.sort_unstable();
    Ok(starts)
}

/// The last record of the finished files (when the last file holds none).
fn last_before(f: &Files) -> Result<Option<(u64, u32)>> {
    for (&start, &end) in f.ends.iter().rev() {
        let log = &f.files[&start];
        let scanned =
            recovery::scan(&log.file, end - start).map_err(Error::io(format!("reading {}", log.path.display())))?;
        if let Some((o, crc)) = scanned.last {
            return Ok(Some((start + o, crc)));
        }
    }
    Ok(None)
}

#[cfg(test)]
pub(crate) mod tests;
