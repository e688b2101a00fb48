//! What a journal holds at open, past its last valid record: a torn tail, or damage in the
//! middle (see [`super::journal`]'s essay for what is done about each). Everything here
//! reads the file in bounded pieces, whatever its size or the lengths its headers claim.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::journal::{HEADER, KIND_RECORD, MAGIC, MAX_DATA, Next, QUARANTINE_DIR, next_record};
use crate::error::{Error, Result};

/// What [`super::journal::Journal::open`] did about damage in the middle of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Where the first invalid record starts: the journal now ends there.
    pub at: u64,
    /// Why the bytes there are not a valid record.
    pub why: String,
    /// Where the first valid record after it starts (in the copy).
    pub next_valid: u64,
    /// The file's length before the recovery.
    pub was: u64,
    /// The journal as it was, byte for byte.
    pub copy: PathBuf,
}

/// What a scan found.
pub(super) struct Scanned {
    pub end: u64,
    pub last: Option<(u64, u32)>,
    /// Why the scan stopped, if not at the end of the data (a torn or foreign tail).
    pub torn: Option<String>,
}

/// Finds the end of the valid records in the first `len` bytes of `file`.
pub(super) fn scan(file: &File, len: u64) -> std::io::Result<Scanned> {
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
pub(super) fn zero(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// Where the first valid record at or after `from` (and before `len`) starts, if any.
pub(super) fn find_record(file: &File, from: u64, len: u64) -> std::io::Result<Option<u64>> {
    const CHUNK: u64 = 1 << 20;
    let mut buf = Vec::new();
    let mut pos = from;
    while pos < len {
        let n = (len - pos).min(CHUNK) as usize;
        buf.resize(n, 0);
        file.read_exact_at(&mut buf, pos)?;
        let mut i = 0;
        while let Some(off) = buf[i..].iter().position(|&b| b == MAGIC) {
            let at = i + off;
            let found = match next_record(&buf[at..]) {
                Next::Record { .. } => true,
                // The header or the data runs past the buffer: check it against the file.
                Next::Partial => record_in_file(file, pos + at as u64, len)?,
                Next::Zero | Next::Corrupt(_) => false,
            };
            if found {
                return Ok(Some(pos + at as u64));
            }
            i = at + 1;
        }
        pos += n as u64;
    }
    Ok(None)
}

/// Whether a whole valid record starts at `at` in the first `len` bytes of `file`; its
/// CRC is checked a megabyte at a time.
fn record_in_file(file: &File, at: u64, len: u64) -> std::io::Result<bool> {
    let mut header = [0u8; HEADER];
    if at + HEADER as u64 > len {
        return Ok(false);
    }
    file.read_exact_at(&mut header, at)?;
    let crc = u32::from_be_bytes(header[2..6].try_into().expect("4 bytes"));
    let size = u32::from_be_bytes(header[6..10].try_into().expect("4 bytes")) as u64;
    if header[0] != MAGIC || header[1] != KIND_RECORD || size > MAX_DATA as u64 || at + HEADER as u64 + size > len {
        return Ok(false);
    }
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; size.min(1 << 20) as usize];
    let mut done = 0;
    while done < size {
        let n = (size - done).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], at + HEADER as u64 + done)?;
        hasher.update(&buf[..n]);
        done += n as u64;
    }
    Ok(hasher.finalize() == crc)
}

/// Keeps the damaged journal at `path` as `quarantine/<name>.corrupt-<ms>` (a hard link to
/// the same inode, or a copy where links are not possible); returns the copy's path.
pub(super) fn keep_copy(path: &Path) -> Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let quarantine = dir.join(QUARANTINE_DIR);
    std::fs::create_dir_all(&quarantine).map_err(Error::io(format!("creating {}", quarantine.display())))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "journal".into());
    let copy = quarantine.join(format!("{name}.corrupt-{}", crate::events::now_ms()));
    if std::fs::hard_link(path, &copy).is_err() {
        std::fs::copy(path, &copy).and_then(|_| File::open(&copy)?.sync_all()).map_err(Error::io(format!(
            "copying {} to {}",
            path.display(),
            copy.display()
        )))?;
    }
    sync_dir(&quarantine)?;
    Ok(copy)
}

/// Puts a new file holding the first `end` bytes of `file` (the journal at `path`) in its
/// place: written and fsynced aside, then renamed over it. The old inode is left as it was.
pub(super) fn cut(path: &Path, file: &File, end: u64) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut partial = path.as_os_str().to_owned();
    partial.push(".recovering");
    let partial = PathBuf::from(partial);
    let writing = || Error::io(format!("writing {}", partial.display()));
    let new = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&partial).map_err(writing())?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < end {
        let n = (end - at).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], at).map_err(Error::io(format!("reading {}", path.display())))?;
        new.write_all_at(&buf[..n], at).map_err(writing())?;
        at += n as u64;
    }
    new.sync_all().map_err(writing())?;
    std::fs::rename(&partial, path).map_err(Error::io(format!("renaming {} into place", partial.display())))?;
    sync_dir(dir)
}

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io(format!("syncing {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::journal::tests::records;
    use crate::store::journal::{DEFAULT_LOG_SIZE, FILE_NAME, Journal, RESERVE, frame};

    #[test]
    fn reopening_finds_the_end_and_zeroes_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let ends;
        {
            let j = Journal::open(path.parent().unwrap(), DEFAULT_LOG_SIZE).unwrap();
            ends = records(&j, 10, 100);
            j.sync().unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() >= RESERVE, "a syncing journal reserves zeros");
        }
        let j = Journal::open(path.parent().unwrap(), DEFAULT_LOG_SIZE).unwrap();
        assert_eq!(j.end(), ends[9]);
        assert_eq!(j.last().unwrap().0, ends[8]);
        assert_eq!(j.record_at(ends[3]).unwrap().unwrap().0, ends[4]);
        assert_eq!(j.record_at(ends[3] + 1).unwrap(), None);
        drop(j);
        // A torn write: half a record at the end, then bytes that start like a record but
        // are not one (a header whose CRC does not match its data).
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let mut torn = Vec::new();
        frame(&[7u8; 500], &mut torn);
        file.write_all_at(&torn[..300], ends[9]).unwrap();
        let mut stale = Vec::new();
        frame(b"stale", &mut stale);
        stale[HEADER] ^= 1;
        file.write_all_at(&stale, ends[9] + 600).unwrap();
        let j = Journal::open(path.parent().unwrap(), DEFAULT_LOG_SIZE).unwrap();
        assert_eq!(j.end(), ends[9], "the torn record is not part of the journal");
        assert!(j.recovered().is_none(), "a torn tail is no damage in the middle");
        assert!(!dir.path().join(QUARANTINE_DIR).exists());
        records(&j, 1, 10);
        drop(j);
        let j = Journal::open(path.parent().unwrap(), DEFAULT_LOG_SIZE).unwrap();
        assert_eq!(j.end(), ends[9] + HEADER as u64 + 10, "nothing stale after the new record");
    }

    /// Row 10 of issue 11: one byte flipped in the middle of a journal.
    #[test]
    fn damage_in_the_middle_zeroes_nothing_and_keeps_the_file() {
        for (what, hole) in [("a flipped byte", false), ("a zeroed page", true)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(FILE_NAME);
            let ends = {
                let j = Journal::open(path.parent().unwrap(), DEFAULT_LOG_SIZE).unwrap();
                let ends = records(&j, 80, 100);
                j.sync().unwrap();
                ends
            };
            let before = std::fs::read(&path).unwrap();
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let bad = ends[39];
            if hole {
                file.write_all_at(&[0u8; 100], bad).unwrap();
            } else {
                file.write_all_at(&[before[bad as usize + 50] ^ 0x20], bad + 50).unwrap();
            }
            drop(file);
            let damaged = std::fs::read(&path).unwrap();
            let j = Journal::open(path.parent().unwrap(), DEFAULT_LOG_SIZE).unwrap();
            assert_eq!(j.end(), bad, "{what}: the store ends before the bad record");
            assert_eq!(j.last().unwrap().0, ends[38], "{what}");
            let r = j.recovered().unwrap_or_else(|| panic!("{what}: not reported"));
            assert_eq!(r.at, bad);
            assert!(r.next_valid > bad && r.next_valid <= ends[40], "{what}: next valid at {}", r.next_valid);
            assert!(r.copy.starts_with(dir.path().join(QUARANTINE_DIR)), "{}", r.copy.display());
            assert_eq!(std::fs::read(&r.copy).unwrap(), damaged, "{what}: the copy is the journal as it was");
            // Every valid record after the damage is there, byte for byte.
            let after = ends[40] as usize;
            assert_eq!(damaged[after..ends[79] as usize], before[after..ends[79] as usize], "{what}");
            let now = std::fs::read(&path).unwrap();
            assert_eq!(now.len() as u64, bad);
            assert_eq!(now[..], before[..bad as usize]);
            // Appends go on from there; the next open finds a clean journal.
            records(&j, 1, 10);
            drop(j);
            let j = Journal::open(path.parent().unwrap(), DEFAULT_LOG_SIZE).unwrap();
            assert!(j.recovered().is_none(), "{what}");
            assert_eq!(j.end(), bad + HEADER as u64 + 10, "{what}");
        }
    }

    #[test]
    fn a_valid_record_is_found_past_a_large_one_and_across_buffer_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let mut bytes = vec![b'*'; 3 << 20];
        bytes[5] = KIND_RECORD;
        let at = bytes.len() as u64;
        frame(&vec![b'*'; 3 << 20], &mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let len = bytes.len() as u64;
        assert_eq!(find_record(&file, 0, len).unwrap(), Some(at));
        assert_eq!(find_record(&file, at + 1, len).unwrap(), None);
        assert_eq!(find_record(&file, 0, len - 1).unwrap(), None, "a record cut by the end does not count");
    }
}
