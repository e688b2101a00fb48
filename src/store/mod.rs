//! The node's message store, after ActiveMQ's LevelDB store: a journal that is the truth,
//! and an index derived from it, both in the node's data `directory`.
//!
//! * [`journal`]: one append-only file of CRC-checked records ([`record::Record`]). The
//!   **position** is the number of bytes ever appended: what a node reports to ZooKeeper
//!   while electing (so the node with the most data wins), and what a slave acks.
//! * [`index`]: an LMDB environment (heed) with what the records add up to: messages per
//!   queue and durable subscription, durable subscriptions, the producer audit, and the
//!   journal position it has reached (`applied`).
//!
//! **Writes.** The master appends a group of records to the journal with one `pwrite` and
//! ships those very bytes to its slaves; a slave appends them at the same positions. The
//! DISK bit of the `sync` mode is one `fdatasync` of the journal file, nothing else. The
//! index catches up behind the journal ([`Store::catch_up`]): on the master's writer thread
//! after the group has been shipped, on a slave in the background after it has acked, so
//! an index commit is never on a send's path and the index is never fsynced. A promoted slave catches its index up before the
//! broker is built from it ([`Store::snapshot`]).
//!
//! **Recovery.** A process crash (SIGKILL at any moment) loses nothing the kernel had: at
//! open the journal is scanned, every CRC checked, and the index replays what it lacks. An
//! OS crash can tear an index that never fsyncs, so when the machine has restarted since
//! the index was opened (the kernel's boot id changed), the index is rebuilt from the whole
//! journal; the journal itself holds what was fsynced, and a torn tail ends it.
//!
//! Caveats: the journal is never compacted (a teaching cluster's journal stays small; a
//! real store rolls journal files and garbage-collects them, as ActiveMQ did), so a rebuild
//! replays everything ever written.

pub mod index;
pub mod journal;
pub mod record;
pub mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use index::Index;
use journal::{Journal, Next};
use record::{Record, StoredMessage};

pub struct Store {
    dir: PathBuf,
    journal: Journal,
    index: Index,
    /// The position the index has reached (the index's own `applied`, without a read).
    applied: AtomicU64,
    /// Held by [`Store::catch_up`] and [`Store::clear`]: a catch-up (a slave's runs in the
    /// background) never sees half a clear, so `applied` never outruns the journal.
    indexing: Mutex<()>,
}

/// Everything the broker core needs at promotion.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// store name → messages in seq order.
    pub stores: BTreeMap<String, Vec<StoredMessage>>,
    /// durable subscription key → topic.
    pub subs: BTreeMap<String, String>,
    /// producer → the last sequence stored for it (the producer audit).
    pub audit: BTreeMap<String, u64>,
    pub next_seq: u64,
}

/// Journal bytes replayed into the index per LMDB transaction.
const CATCH_UP_CHUNK: usize = 1 << 20;

/// Where the boot id the index was last opened under is kept.
const INDEX_BOOT: &str = "index.boot";

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

impl Store {
    /// Opens (or creates) the store under `dir`, recovering as the module essay says.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let journal_path = dir.join(journal::FILE_NAME);
        if dir.join("data.mdb").exists() && !journal_path.exists() {
            migrate(dir, &journal_path)?;
        }
        let journal = Journal::open(&journal_path)?;
        let index_dir = dir.join("index");
        let boot = boot_id();
        let boot_file = dir.join(INDEX_BOOT);
        let same_boot = boot.is_some() && std::fs::read_to_string(&boot_file).ok() == boot;
        if !same_boot && index_dir.exists() {
            tracing::info!("{}: the machine restarted since the index was written; rebuilding it", dir.display());
            remove_index(&index_dir)?;
        }
        let index = match Index::open(&index_dir) {
            Ok(index) => index,
            Err(e) => {
                tracing::warn!("{}: the index cannot be opened ({e}); rebuilding it", dir.display());
                remove_index(&index_dir)?;
                Index::open(&index_dir)?
            }
        };
        if let Some(boot) = boot {
            std::fs::write(&boot_file, boot).map_err(Error::io(format!("writing {}", boot_file.display())))?;
        }
        let applied = index.applied()?;
        let store = Store {
            dir: dir.to_path_buf(),
            journal,
            index,
            applied: AtomicU64::new(applied),
            indexing: Mutex::new(()),
        };
        if applied > store.journal.end() {
            let why = format!("the index is ahead of the journal ({applied} > {})", store.journal.end());
            return store.rebuilt(&why);
        }
        match store.catch_up() {
            Ok(_) => Ok(store),
            Err(e) => store.rebuilt(&format!("the index does not follow the journal ({e})")),
        }
    }

    /// The same store with its index replayed from the whole journal.
    fn rebuilt(self, why: &str) -> Result<Store> {
        tracing::warn!("{}: {why}; rebuilding the index from the journal", self.dir.display());
        let Store { dir, journal, index, .. } = self;
        drop(index);
        let index_dir = dir.join("index");
        remove_index(&index_dir)?;
        let index = Index::open(&index_dir)?;
        let store = Store { index, dir, journal, applied: AtomicU64::new(0), indexing: Mutex::new(()) };
        store.catch_up()?;
        Ok(store)
    }

    /// Bytes ever appended to the journal: the `position` published in ZooKeeper.
    pub fn position(&self) -> Result<i64> {
        Ok(self.journal.end() as i64)
    }

    /// Appends records to the journal (the master's write path); returns each one's end.
    /// The index follows with [`Store::catch_up`].
    pub fn append<'a>(&self, records: impl IntoIterator<Item = &'a Record>) -> Result<Vec<u64>> {
        let encoded: Vec<Vec<u8>> = records.into_iter().map(Record::encode).collect();
        self.journal.append(encoded.iter().map(Vec::as_slice))
    }

    /// Appends journal bytes shipped by the master (whole records, starting at this store's
    /// end); returns the new end. The index follows with [`Store::catch_up`].
    pub fn append_replicated(&self, start: u64, bytes: &[u8]) -> Result<u64> {
        self.journal.append_raw(start, bytes)
    }

    /// Replays into the index what the journal has beyond it; returns the position reached.
    pub fn catch_up(&self) -> Result<u64> {
        let _one_at_a_time = self.indexing.lock().unwrap();
        loop {
            let from = self.applied.load(Ordering::Acquire);
            if from >= self.journal.end() {
                return Ok(from);
            }
            let bytes = self.journal.read(from, CATCH_UP_CHUNK)?;
            let mut records = Vec::new();
            let mut at = 0;
            while let Next::Record { data, len, .. } = journal::next_record(&bytes[at..]) {
                let pos = from + at as u64;
                records.push(
                    Record::decode(data).map_err(|e| Error::Other(format!("corrupt journal record at {pos}: {e}")))?,
                );
                at += len;
            }
            let applied = self.index.apply(from, from + at as u64, &records)?;
            self.applied.store(applied, Ordering::Release);
        }
    }

    /// The journal position the index has reached.
    pub fn indexed(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// fsyncs the journal (the DISK bit of the `sync` mode).
    pub fn sync(&self) -> Result<()> {
        self.journal.sync()
    }

    /// Whole journal records from `from` (a record start), about `max` bytes of them.
    pub fn read_journal(&self, from: u64, max: usize) -> Result<Vec<u8>> {
        self.journal.read(from, max)
    }

    /// The last record's start and CRC32: what a slave presents at login.
    pub fn last_record(&self) -> Result<Option<(u64, u32)>> {
        Ok(self.journal.last())
    }

    /// End position and CRC32 of the record starting at `start`, if there is one.
    pub fn record_at(&self, start: u64) -> Result<Option<(u64, u32)>> {
        self.journal.record_at(start)
    }

    /// Forgets everything (a slave whose journal diverged from the master's resyncs from 0).
    pub fn clear(&self) -> Result<()> {
        let _no_catch_up = self.indexing.lock().unwrap();
        self.journal.clear()?;
        self.index.clear()?;
        self.applied.store(0, Ordering::Release);
        Ok(())
    }

    /// The whole index, caught up with the journal, for a newly promoted master.
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.catch_up()?;
        self.index.snapshot()
    }

    /// The replication node id (`nodeid.txt`, as ActiveMQ kept it), created on first use.
    pub fn node_id(&self) -> Result<String> {
        let path = self.dir.join("nodeid.txt");
        if let Ok(id) = std::fs::read_to_string(&path) {
            if !id.trim().is_empty() {
                return Ok(id.trim().to_string());
            }
        }
        let id = format!("{:016x}{:08x}", crate::events::now_ms(), std::process::id());
        let file = std::fs::File::create(&path).map_err(Error::io(format!("creating {}", path.display())))?;
        std::io::Write::write_all(&mut &file, id.as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(Error::io(format!("writing {}", path.display())))?;
        Ok(id)
    }
}

fn remove_index(dir: &Path) -> Result<()> {
    std::fs::remove_dir_all(dir).map_err(Error::io(format!("removing {}", dir.display())))
}

/// mqsim before the journal file kept its journal inside LMDB (`data.mdb` at the root of the
/// data directory, database `journal`: start position → record). Its records are copied in
/// order into a new journal file, which is renamed into place once complete and synced (a
/// crash before that leaves the old store as it was, to be migrated again); then the old
/// environment goes, and the index is rebuilt from the journal.
fn migrate(dir: &Path, to: &Path) -> Result<()> {
    use heed::types::{Bytes, U64};
    tracing::info!("{}: moving the journal out of the old LMDB store into {}", dir.display(), to.display());
    let partial = to.with_extension("log.migrating");
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(Error::io(format!("removing {}", partial.display())))?;
    }
    {
        let journal = Journal::open(&partial)?;
        let mut opts = heed::EnvOpenOptions::new();
        opts.map_size(4 << 30).max_dbs(8);
        // SAFETY: opened once, read only, and closed before its files are removed.
        let env = unsafe { opts.open(dir)? };
        let old = env
            .open_databases_and_commit(env.read_txn()?, |dbo, rtxn| -> heed::Result<_> {
                Ok(heed::CommitOrAbort::<_, ()>::Commit(
                    dbo.open_database::<U64<heed::byteorder::BigEndian>, Bytes>(rtxn, Some("journal"))?,
                ))
            })?
            .unwrap_commit();
        let rtxn = env.read_txn()?;
        if let Some(old) = old {
            let mut batch: Vec<Vec<u8>> = Vec::new();
            for kv in old.iter(&rtxn)? {
                batch.push(kv?.1.to_vec());
                if batch.len() == 4096 {
                    journal.append(batch.iter().map(Vec::as_slice))?;
                    batch.clear();
                }
            }
            journal.append(batch.iter().map(Vec::as_slice))?;
        }
        journal.sync()?;
        drop(rtxn);
        env.prepare_for_closing().wait();
    }
    std::fs::rename(&partial, to).map_err(Error::io(format!("renaming {} into place", partial.display())))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io(format!("syncing {}", dir.display())))?;
    for f in ["data.mdb", "lock.mdb"] {
        let path = dir.join(f);
        std::fs::remove_file(&path).map_err(Error::io(format!("removing {}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
