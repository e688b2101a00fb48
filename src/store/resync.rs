//! A slave's side of an incremental resync (see [`crate::replication`]): its journal agrees
//! with the master's up to a position, and the master no longer holds (or never held) what
//! follows the slave's last record. The slave cuts its journal there, keeping a copy of
//! what it drops (the records a diverged node had and the master has not: ActiveMQ lost
//! them silently under `local_*` sync), drops the log files the master collected, and
//! rebuilds its index from the files it keeps and what the master streams next. Until it
//! has caught up it may not be master (the `resync-needed` mark).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::framing::records;
use super::journal::{Chunk, QUARANTINE_DIR};
use super::record::Record;
use super::{RESYNC_NEEDED, Store, write_synced};
use crate::error::{Error, Result};

/// What a resync dropped from the slave's journal.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Journal bytes after the cut.
    pub bytes: u64,
    /// Messages those bytes stored (enqueues, in transactions too).
    pub messages: u64,
    /// Where they are kept, if any were dropped.
    pub copy: Option<PathBuf>,
    /// Log files the master had collected, deleted here.
    pub collected: usize,
}

/// How many message enqueues a record holds.
fn enqueues(r: &Record) -> u64 {
    match r {
        Record::Enqueue { .. } => 1,
        Record::Batch(rs) => rs.iter().map(enqueues).sum(),
        _ => 0,
    }
}

impl Store {
    /// Where this journal can be checked against the master's, oldest first, as `(record
    /// start, CRC32)`: the first record of each log file, and in the last file the first
    /// record at or after 4 KiB, 8 KiB, 16 KiB, … before its end — so a slave that diverged
    /// near its end finds a point of agreement just before it, not at its file's start.
    /// Reads the last log file once.
    pub fn log_checkpoints(&self) -> Result<Vec<(u64, u32)>> {
        let files = self.journal.files();
        let mut out = Vec::new();
        for f in &files {
            if let Some((_, crc)) = self.journal.record_at(f.start)? {
                out.push((f.start, crc));
            }
        }
        if let Some(last) = files.last() {
            let mut targets: Vec<u64> =
                (0..48).map(|k| last.end.saturating_sub(4096u64 << k)).filter(|&t| t > last.start).collect();
            targets.sort_unstable();
            targets.dedup();
            let (mut at, mut next) = (last.start, 0);
            while at < last.end && next < targets.len() {
                let bytes = self.journal.read(at, 1 << 20)?;
                if bytes.is_empty() {
                    break;
                }
                for (i, _, crc) in records(&bytes) {
                    let start = at + i as u64;
                    if next < targets.len() && targets[next] <= start {
                        out.push((start, crc));
                        while next < targets.len() && targets[next] <= start {
                            next += 1;
                        }
                    }
                }
                at += bytes.len() as u64;
            }
        }
        out.sort_unstable();
        out.dedup_by_key(|c| c.0);
        Ok(out)
    }

    /// Marks the store as needing a resync (it may not be master until it has caught up).
    pub fn begin_resync(&self, why: &str) -> Result<()> {
        write_synced(&self.dir.join(RESYNC_NEEDED), why.as_bytes())?;
        *self.resync_needed.lock().unwrap() = Some(why.to_string());
        Ok(())
    }

    /// Cuts the journal at `from` (a record start), keeping what it drops in
    /// `quarantine/dropped-<from>.log`, deletes the log files before `from` that are not in
    /// `keep`, and clears the index, which then rebuilds from what is left.
    pub fn resync_to(&self, from: u64, keep: &[u64]) -> Result<Dropped> {
        let _no_catch_up = self.indexing.lock().unwrap();
        self.drop_snapshot()?;
        let mut dropped = Dropped::default();
        let end = self.journal.end();
        if from < end {
            let dir = self.dir.join(QUARANTINE_DIR);
            std::fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
            let path = dir.join(format!("dropped-{from:016x}-{end:016x}.log"));
            let mut out = std::fs::File::create(&path).map_err(Error::io(format!("creating {}", path.display())))?;
            let mut next = from;
            while let Some(Chunk { at, bytes, .. }) = self.journal.read_from(next, 1 << 20)? {
                out.write_all(&bytes).map_err(Error::io(format!("writing {}", path.display())))?;
                for (_, data, _) in records(&bytes) {
                    dropped.messages += Record::decode(data).map_or(0, |r| enqueues(&r));
                }
                dropped.bytes += bytes.len() as u64;
                next = at + bytes.len() as u64;
            }
            out.sync_all().map_err(Error::io(format!("syncing {}", path.display())))?;
            dropped.copy = Some(path);
        }
        self.journal.truncate(from)?;
        let collected = |start: u64| start < from && !keep.contains(&start);
        // The last file cannot be deleted while it is appended to: cut it away instead.
        while let Some(last) = self.journal.files().last().copied() {
            if !collected(last.start) || last.end == last.start {
                break;
            }
            self.journal.truncate(last.start)?;
            dropped.collected += 1;
        }
        for f in self.journal.files() {
            if collected(f.start) && f.end > f.start {
                self.journal.delete(f.start)?;
                dropped.collected += 1;
            }
        }
        self.index.clear()?;
        self.applied.store(0, Ordering::Release);
        self.live_bytes.store(0, Ordering::Release);
        Ok(dropped)
    }
}
