//! Garbage collection of log files, as ActiveMQ's LevelDB store did it: a finished log file
//! that nothing live refers to is deleted, on master and slaves alike, so the disk holds
//! about the live data plus the file being written, not everything ever sent.
//!
//! A file may go when all of these hold (the rule is [`collectable`], a pure function):
//!
//! * it is not the last file (the one appended to);
//! * no live message, durable subscription or committed transaction's message was added by
//!   it (the index's per-file count, see [`super::index`]) — a transaction is one `Batch`
//!   record written at commit, so there is no pending transaction in the journal to keep;
//! * every file it removed things from (a dequeue of a message an older file added) is gone
//!   already, so replaying the files that remain never brings a consumed message back;
//! * it lies wholly before every **pin**: the index's own position (a file not yet indexed
//!   cannot be judged; so the collection first indexes what the journal holds beyond it,
//!   which on a slave is up to `CATCH_UP_BEHIND` once the master is quiet), and the
//!   position of each slave the master is streaming to or resyncing ([`Store::pin`]), so a
//!   slave never finds its next record collected.
//!
//! Files are judged oldest first, so one pass removes a whole chain (a file whose only
//! reason to stay was an older one that just went). Every node applies the same records
//! to its index, so master and slaves collect the same files; a node whose position fell
//! into a hole the master collected resyncs (see [`crate::replication`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::Store;
use super::index::{Entry, Live};
use super::journal::FileInfo;
use super::record::Record;
use crate::error::Result;

/// The files (by start) that may be deleted, oldest first: see the module essay.
/// `files` are the log files oldest first (the last is the one appended to), `live` the
/// live entries per file, `deps(f)` the files `f` removed things from, `keep_from` the
/// lowest pinned position.
pub fn collectable(
    files: &[FileInfo],
    live: &BTreeMap<u64, u64>,
    mut deps: impl FnMut(u64) -> Result<Vec<u64>>,
    keep_from: u64,
) -> Result<Vec<u64>> {
    let mut present: BTreeSet<u64> = files.iter().map(|f| f.start).collect();
    let mut out = Vec::new();
    let Some((_, finished)) = files.split_last() else { return Ok(out) };
    for f in finished {
        if f.end > keep_from {
            break;
        }
        if live.get(&f.start).is_some_and(|&n| n > 0) {
            continue;
        }
        if deps(f.start)?.iter().any(|d| *d != f.start && present.contains(d)) {
            continue;
        }
        present.remove(&f.start);
        out.push(f.start);
    }
    Ok(out)
}

/// What one collection did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    pub files: usize,
    pub bytes: u64,
}

/// Keeps the log files from a position on until dropped (or moved on with
/// [`Pin::advance`]): a slave being streamed to or resynced.
pub struct Pin {
    pins: Arc<Mutex<BTreeMap<u64, u64>>>,
    id: u64,
}

impl Pin {
    /// The slave has everything before `position`: the files before it may go.
    pub fn advance(&self, position: u64) {
        if let Some(p) = self.pins.lock().unwrap().get_mut(&self.id) {
            *p = (*p).max(position);
        }
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.pins.lock().unwrap().remove(&self.id);
    }
}

impl Store {
    /// Keeps every log file from `position` on until the pin is dropped.
    pub fn pin(&self, position: u64) -> Pin {
        let id = self.next_pin.fetch_add(1, Ordering::Relaxed);
        self.pins.lock().unwrap().insert(id, position);
        Pin { pins: self.pins.clone(), id }
    }

    /// Deletes the log files nothing live refers to (see the module essay).
    pub fn collect_garbage(&self) -> Result<Collected> {
        // The whole journal is judged: a slave indexes in the background only once it is
        // `CATCH_UP_BEHIND` behind, so the last dequeues it acked before the master went
        // quiet would stay unindexed, their messages counted live, their file kept for good.
        self.catch_up()?;
        // No catch-up meanwhile: the counts judged are the ones the files are deleted on.
        let _one_at_a_time = self.indexing.lock().unwrap();
        let files = self.journal.files();
        if files.len() < 2 {
            return Ok(Collected::default());
        }
        let pinned = self.pins.lock().unwrap().values().copied().min().unwrap_or(u64::MAX);
        // The index snapshot's tail is kept for a replay after a machine restart.
        let snapshot = self.snapshot_at.load(Ordering::Acquire);
        let keep_from = pinned.min(self.applied.load(Ordering::Acquire)).min(snapshot);
        let live = self.index.live_per_file()?;
        let doomed = collectable(&files, &live, |f| self.index.deps_of(f), keep_from)?;
        let mut done = Collected::default();
        for start in doomed {
            let end = files.iter().find(|f| f.start == start).map_or(start, |f| f.end);
            self.journal.delete(start)?;
            self.index.forget_file(start)?;
            done.files += 1;
            done.bytes += end - start;
        }
        if done.files > 0 {
            tracing::debug!("{}: collected {} log files ({} bytes)", self.dir.display(), done.files, done.bytes);
        }
        Ok(done)
    }

    /// What compaction should copy forward now (see `crate::broker::compaction`): once the
    /// finished files the collection cannot free hold more than twice the live data (so the
    /// disk stays within about twice the live data plus the file being written), up to `max`
    /// live entries of the oldest such file a later file consumed from (it holds a chain),
    /// or else of the one with the fewest live entries. Empty when nothing is worth moving.
    pub fn compaction(&self, max: usize) -> Result<Vec<(Entry, Record)>> {
        let files = self.journal.files();
        let Some((_, finished)) = files.split_last() else { return Ok(Vec::new()) };
        let live = self.index.live_per_file()?;
        let indexed = self.applied.load(Ordering::Acquire);
        // What the collection alone will free does not count: only files kept alive.
        let doomed = collectable(&files, &live, |f| self.index.deps_of(f), indexed)?;
        // Files not yet indexed are not judged yet (their messages may be consumed already).
        let kept_bytes: u64 =
            finished.iter().filter(|f| f.end <= indexed && !doomed.contains(&f.start)).map(|f| f.end - f.start).sum();
        if kept_bytes <= 2 * self.live_bytes() {
            return Ok(Vec::new());
        }
        // A file some later file consumed from holds that file (and its followers) too: it
        // goes first. Otherwise the one with the fewest live entries (the most garbage).
        let held = self.index.depended_on()?;
        let candidates: Vec<&FileInfo> =
            finished.iter().filter(|f| f.end <= indexed && live.get(&f.start).is_some_and(|&n| n > 0)).collect();
        let pick = candidates
            .iter()
            .find(|f| held.contains(&f.start))
            .or_else(|| candidates.iter().min_by_key(|f| live.get(&f.start).copied().unwrap_or(0)));
        let Some(f) = pick else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for live in self.index.entries_of(f.start, max)? {
            out.push(match live {
                Live::Message { store, seq, loc } => {
                    let msg = self.message_at(&store, loc)?;
                    (Entry::Message { store: store.clone(), seq }, Record::Enqueue { store, msg })
                }
                Live::Subscription { key, topic } => {
                    (Entry::Subscription { key: key.clone() }, Record::Subscribe { key, topic })
                }
            });
        }
        Ok(out)
    }

    /// Whether the journal holds every record from `position` to its end (no collected
    /// file in between): a slave at `position` can be streamed to.
    pub fn holds_from(&self, position: u64) -> bool {
        let files = self.journal.files();
        let Some(i) = files.iter().position(|f| f.start <= position && position <= f.end) else { return false };
        files[i..].windows(2).all(|w| w[0].end == w[1].start)
    }

    /// The log files, oldest first.
    pub fn files(&self) -> Vec<FileInfo> {
        self.journal.files()
    }

    /// Bytes the journal's log files take on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.journal.disk_bytes()
    }

    /// Bytes of live messages (as stored), as of the index's last catch-up: the store's
    /// usage against `storeLimit`.
    pub fn live_bytes(&self) -> u64 {
        self.live_bytes.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(bounds: &[(u64, u64)]) -> Vec<FileInfo> {
        bounds.iter().map(|&(start, end)| FileInfo { start, end }).collect()
    }

    #[test]
    fn only_dead_finished_files_before_every_pin_go() {
        let f = files(&[(0, 10), (10, 20), (20, 30), (30, 35)]);
        let none = |_| Ok(vec![]);
        let all = collectable(&f, &BTreeMap::new(), none, u64::MAX).unwrap();
        assert_eq!(all, vec![0, 10, 20], "never the last file");
        let live = BTreeMap::from([(10, 1)]);
        assert_eq!(collectable(&f, &live, none, u64::MAX).unwrap(), vec![0, 20], "a live message keeps its file");
        assert_eq!(collectable(&f, &BTreeMap::new(), none, 20).unwrap(), vec![0, 10], "a pin keeps what follows");
        assert_eq!(collectable(&f, &BTreeMap::new(), none, 19).unwrap(), vec![0]);
    }

    #[test]
    fn a_file_that_removed_things_from_a_kept_file_stays_with_it() {
        // File 20 dequeued a message file 0 added; file 0 still holds a live one.
        let f = files(&[(0, 10), (10, 20), (20, 30), (30, 35)]);
        let live = BTreeMap::from([(0, 1)]);
        let deps = |f: u64| Ok(if f == 20 { vec![0] } else { vec![] });
        assert_eq!(collectable(&f, &live, deps, u64::MAX).unwrap(), vec![10]);
        // Once file 0 goes, so does 20, in the same pass.
        assert_eq!(collectable(&f, &BTreeMap::new(), deps, u64::MAX).unwrap(), vec![0, 10, 20]);
        // A dependency on a file already collected earlier does not hold anything.
        let f = files(&[(10, 20), (20, 30), (30, 35)]);
        assert_eq!(collectable(&f, &BTreeMap::new(), deps, u64::MAX).unwrap(), vec![10, 20]);
    }
}
