//! Index snapshots, as LevelDB's store took them: a consistent, compacted copy of the LMDB
//! index (`index.snapshot`), fsynced, that a restart after an OS crash reuses instead of
//! rebuilding — the live index never fsyncs, so after a machine restart it cannot be
//! trusted, but the snapshot can, and only the journal after it is replayed.
//!
//! A snapshot is taken by the garbage-collection round when the index has moved on by
//! `logSize` (or by the live data, if larger) since the last one, or as soon as the
//! log files only the last snapshot keeps weigh more than a copy, so copying costs at most
//! about as much as the journal written (or freed) meanwhile. Its position (a lower
//! bound of where it stands, `index.snapshot.pos`) is a pin for the collection: the log
//! files after it are kept until the next snapshot, so the tail can always be replayed.

use std::sync::atomic::Ordering;

use heed::CompactionOption;

use super::{Store, recovery, write_synced};
use crate::error::{Error, Result};

/// The snapshot, an LMDB data file.
pub const SNAPSHOT: &str = "index.snapshot";
/// The position the snapshot stands at least at (decimal).
pub const SNAPSHOT_POS: &str = "index.snapshot.pos";

impl Store {
    /// Where the last snapshot stands (at least), if there is one.
    pub(super) fn read_snapshot_pos(dir: &std::path::Path) -> Option<u64> {
        if !dir.join(SNAPSHOT).exists() {
            return None;
        }
        std::fs::read_to_string(dir.join(SNAPSHOT_POS)).ok()?.trim().parse().ok()
    }

    /// Takes a snapshot of the index if it is due (see the module essay); returns its
    /// position when it took one.
    pub fn snapshot_index_if_due(&self) -> Result<Option<u64>> {
        let applied = self.applied.load(Ordering::Acquire);
        let last = self.snapshot_at.load(Ordering::Acquire);
        // What a copy costs, at most: the live data (a compacted copy holds a location, not
        // a body, per live message, so it is far smaller).
        let cost = self.live_bytes() + self.journal.log_size().min(64 << 10);
        // Finished log files the last snapshot alone keeps (indexed, and ending after it:
        // the one it was taken in too, or a quiet journal would keep that one for good).
        let held: u64 = match self.journal.files().split_last() {
            Some((_, finished)) if last != u64::MAX => {
                finished.iter().filter(|f| f.end > last && f.end <= applied).map(|f| f.end - f.start).sum()
            }
            _ => 0,
        };
        let moved = if last == u64::MAX { applied } else { applied.saturating_sub(last) };
        // Due after `logSize` of journal (or the copy's size, if larger), or as soon as the
        // files it would let go weigh more than the copy: never more copying than journal.
        if moved < self.journal.log_size().max(cost) && held < cost {
            return Ok(None);
        }
        let tmp = self.dir.join(format!("{SNAPSHOT}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let file = self.index.env().copy_to_path(&tmp, CompactionOption::Enabled)?;
        file.sync_all().map_err(Error::io(format!("syncing {}", tmp.display())))?;
        drop(file);
        let path = self.dir.join(SNAPSHOT);
        std::fs::rename(&tmp, &path).map_err(Error::io(format!("renaming {} into place", tmp.display())))?;
        recovery::sync_dir(&self.dir)?;
        // Written after the snapshot: a crash in between leaves the older, lower position,
        // which keeps more log files, never fewer.
        write_synced(&self.dir.join(SNAPSHOT_POS), applied.to_string().as_bytes())?;
        self.snapshot_at.store(applied, Ordering::Release);
        tracing::debug!("{}: index snapshot at position {applied}", self.dir.display());
        Ok(Some(applied))
    }

    /// Forgets the snapshot (the index it copied no longer describes this journal: a clear,
    /// a resync, a rebuild).
    pub(super) fn drop_snapshot(&self) -> Result<()> {
        self.snapshot_at.store(u64::MAX, Ordering::Release);
        for name in [SNAPSHOT, SNAPSHOT_POS] {
            match std::fs::remove_file(self.dir.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(format!("removing {name}"))(e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Puts the snapshot in place of the index directory's data (after a machine restart);
    /// false if there is none.
    pub(super) fn restore_snapshot(dir: &std::path::Path, index_dir: &std::path::Path) -> Result<bool> {
        let snapshot = dir.join(SNAPSHOT);
        if Self::read_snapshot_pos(dir).is_none() {
            return Ok(false);
        }
        if index_dir.exists() {
            std::fs::remove_dir_all(index_dir).map_err(Error::io(format!("removing {}", index_dir.display())))?;
        }
        std::fs::create_dir_all(index_dir).map_err(Error::io(format!("creating {}", index_dir.display())))?;
        std::fs::copy(&snapshot, index_dir.join("data.mdb")).map_err(Error::io(format!(
            "copying {} into {}",
            snapshot.display(),
            index_dir.display()
        )))?;
        Ok(true)
    }
}
