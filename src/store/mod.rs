//! The node's message store, after ActiveMQ's LevelDB store: a journal that is the truth,
//! and an index derived from it, both in the node's data `directory`.
//!
//! * [`journal`]: append-only log files of `logSize` bytes, named by the position they
//!   start at, holding CRC-checked records ([`record::Record`], framed by [`framing`]).
//!   The **position** is the number of bytes ever appended: what a node reports to
//!   ZooKeeper while electing (so the node with the most data wins), and what a slave acks.
//! * [`gc`]: log files nothing live refers to are deleted on every node; the master copies
//!   the last live entries of old files forward so that they can go too.
//! * [`index`]: an LMDB environment (heed) with what the records add up to: where each
//!   live message of each queue and durable subscription is in the log files (the bodies
//!   stay there), durable subscriptions, the producer audit, what keeps each log file
//!   alive, and the journal position it has reached (`applied`).
//! * [`snapshot`]: a fsynced copy of the index, reused after a machine restart; [`resync`]:
//!   a slave's side of an incremental resync.
//!
//! **Writes.** The master appends a group of records to the journal with one `pwrite` and
//! ships those very bytes to its slaves; a slave appends them at the same positions. The
//! DISK bit of the `sync` mode is one `fdatasync` of the journal file, nothing else. The
//! index catches up behind the journal ([`Store::catch_up`]): on the master's writer thread
//! after the group has been shipped, on a slave in the background after it has acked, so
//! an index commit is never on a send's path and the index is never fsynced. A promoted
//! slave catches its index up before the broker is built from it ([`Store::snapshot`],
//! which reads the live messages from the log files).
//!
//! **Recovery.** A process crash (SIGKILL at any moment) loses nothing the kernel had: at
//! open the last log file is scanned, every CRC checked, and the index replays what it
//! lacks. An OS crash can tear an index that never fsyncs, so when the machine has
//! restarted since the index was opened (the kernel's boot id changed), the index starts
//! from its last snapshot and replays the journal after it, or, with no snapshot, is
//! rebuilt from the log files that are left; the journal itself holds what was fsynced,
//! and a torn tail ends it.
//!
//! **Storage faults are loud, never silent** (issue 11). Each fault stops only what it must:
//!
//! * *A record the index cannot store* (a name longer than an LMDB key, an empty key):
//!   [`Store::append`] refuses it before the journal, so the write fails and the client gets
//!   an error, never a receipt ([`Record::check_storable`]; the entry points bound names
//!   tighter still, with `crate::limits`). A journal that already holds one (written before
//!   this check), or a record that does not decode, does not stop the store: the index skips
//!   it (in a batch, only the bad part), keeps its bytes in `quarantine/<position>.record`
//!   with a `.why`, logs a warning with the position, counts it ([`Store::quarantined`]),
//!   and opens. Every node applies the same bytes the same way, so their indexes agree.
//! * *Damage in the middle of the journal* (a valid record follows the first invalid one):
//!   nothing is zeroed. The file is kept as `quarantine/<journal>.corrupt-<ms>`, the store is
//!   cut to end before the damage, and a `resync-needed` file says why
//!   ([`Store::resync_needed`]). As a slave the node logs in with that shorter journal; its
//!   last record is the master's too, so the master streams from the damaged record on and
//!   the slave's journal is whole again; once it is attached the mark goes
//!   ([`Store::resynced`]). It must never be master meanwhile: the cut store lacks what
//!   followed the damage, which may be acknowledged messages. A lower position already keeps
//!   it from winning against any healthy peer (the highest position wins); it is elected
//!   only when no live member of the quorum holds more, i.e. when what it lacks may exist
//!   nowhere else, and then the node refuses and exits (`crate::node`), and the cluster
//!   waits for a healthy node or for the operator (the mark names the copy).
//! * *A torn tail* (nothing valid after the first invalid record) is a write cut short by a
//!   crash: the tail is zeroed, as ActiveMQ and LevelDB truncate their logs.
//! * *A failed fsync* poisons the journal for good: every write waiting for it and every
//!   later one fails, no fsync is retried (after Linux has reported a writeback error, a
//!   later fsync can succeed with the pages lost), and [`Store::fault`] fires: the node
//!   gives up its mastership and exits (see [`writer`] and `crate::node`).
//!
//! Caveats: the index is not snapshotted: after an OS restart it is rebuilt from the log
//! files that are left, which the garbage collection keeps to about the live data (so the
//! rebuild costs what is live, not what was ever sent), but it is still a rebuild. The
//! producer audit of a producer whose messages are all collected is lost by a rebuild (its
//! duplicate suppression then starts afresh). The search for a valid record past a bad one cannot
//! tell damage from a torn record whose data happens to hold a framed record (a message
//! body can), nor from unsynced pages an OS crash wrote out of order (`*_mem` modes): those
//! are treated as damage, the safe side, and cost a resync (or, if every node has one, the
//! operator's decision). The refusal guards acknowledged messages where the `sync` mode
//! put them on a quorum (`quorum_*`: master and `replicas/2` slaves): a damaged slave is
//! elected only with the master gone, and then the remaining members lack a quorum without
//! it, so nobody serves until a healthy node returns. Under `local_*` an acknowledged
//! message may be on the master alone, and staler peers may be elected once the damaged
//! node has left, as after any master loss. Records the index skipped stay in the journal
//! and are replicated with it; a queue never sees them. The quarantine count is per process
//! (a rebuild counts the same record again).

pub mod framing;
pub mod gc;
pub mod index;
pub mod journal;
pub mod record;
pub mod recovery;
pub mod resync;
pub mod snapshot;
pub mod sync_mode;
pub mod writer;

pub use sync_mode::SyncMode;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Records the index skipped (and quarantined) since the store was opened.
    quarantined: AtomicU64,
    /// Why this store may not be master before it has resynced (the [`RESYNC_NEEDED`] file).
    resync_needed: Mutex<Option<String>>,
    /// Bytes of live messages, as of the index's last catch-up.
    live_bytes: AtomicU64,
    /// Positions the garbage collection must keep (a slave copying from there): see [`gc`].
    pins: Arc<Mutex<BTreeMap<u64, u64>>>,
    next_pin: AtomicU64,
    /// Where the last index snapshot stands (`u64::MAX`: none): see [`snapshot`].
    snapshot_at: AtomicU64,
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

/// Present while the store, cut short by damage in the middle of its journal, has not yet
/// caught up with an elected master: it says why, and the node refuses to be master.
pub const RESYNC_NEEDED: &str = "resync-needed";

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

impl Store {
    /// Opens (or creates) the store under `dir` with ActiveMQ's default `logSize`.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_sized(dir, journal::DEFAULT_LOG_SIZE)
    }

    /// Opens (or creates) the store under `dir`, its journal in log files of `log_size`
    /// bytes, recovering as the module essay says.
    pub fn open_sized(dir: &Path, log_size: u64) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let journal_path = dir.join(journal::FILE_NAME);
        if dir.join("data.mdb").exists() && !journal_path.exists() {
            migrate(dir, &journal_path)?;
        }
        let marker = dir.join(RESYNC_NEEDED);
        let journal = Journal::open_with(dir, log_size, |r| {
            let why = format!(
                "the journal in {} was damaged at position {} ({}; a valid record follows at {}); the log \
                 file is kept unchanged as {}; the store was cut to {} and must catch up with an elected \
                 master before this node may be master. If no healthy node is left, restore the records from \
                 that copy, or delete {} to accept the loss of everything after position {}",
                dir.display(),
                r.at,
                r.why,
                r.next_valid,
                r.copy.display(),
                r.at,
                marker.display(),
                r.at
            );
            write_synced(&marker, why.as_bytes())?;
            recovery::sync_dir(dir)
        })?;
        let resync_needed = std::fs::read_to_string(&marker).ok().map(|s| s.trim().to_string());
        let index_dir = dir.join("index");
        let boot = boot_id();
        let boot_file = dir.join(INDEX_BOOT);
        let same_boot = boot.is_some() && std::fs::read_to_string(&boot_file).ok() == boot;
        if !same_boot && index_dir.exists() {
            if Store::restore_snapshot(dir, &index_dir)? {
                tracing::info!(
                    "{}: the machine restarted since the index was written; it starts from the index snapshot \
                     and replays the journal after it",
                    dir.display()
                );
            } else {
                tracing::info!("{}: the machine restarted since the index was written; rebuilding it", dir.display());
                remove_index(&index_dir)?;
            }
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
            live_bytes: AtomicU64::new(index.live_bytes()?),
            index,
            applied: AtomicU64::new(applied),
            indexing: Mutex::new(()),
            quarantined: AtomicU64::new(0),
            resync_needed: Mutex::new(resync_needed),
            pins: Arc::default(),
            next_pin: AtomicU64::new(0),
            snapshot_at: AtomicU64::new(Store::read_snapshot_pos(dir).unwrap_or(u64::MAX)),
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
        let Store { dir, journal, index, quarantined, resync_needed, pins, next_pin, snapshot_at, .. } = self;
        drop(index);
        let index_dir = dir.join("index");
        remove_index(&index_dir)?;
        let index = Index::open(&index_dir)?;
        let store = Store {
            index,
            dir,
            journal,
            applied: AtomicU64::new(0),
            indexing: Mutex::new(()),
            quarantined,
            resync_needed,
            live_bytes: AtomicU64::new(0),
            pins,
            next_pin,
            snapshot_at,
        };
        store.drop_snapshot()?;
        store.catch_up()?;
        Ok(store)
    }

    /// Bytes ever appended to the journal: the `position` published in ZooKeeper.
    pub fn position(&self) -> Result<i64> {
        Ok(self.journal.end() as i64)
    }

    /// Appends records to the journal (the master's write path); returns each one's end.
    /// The index follows with [`Store::catch_up`].
    /// A record the index could not store is refused, with nothing appended (so nothing is
    /// acknowledged): [`Record::check_storable`].
    pub fn append<'a>(&self, records: impl IntoIterator<Item = &'a Record>) -> Result<Vec<u64>> {
        let mut encoded = Vec::new();
        for r in records {
            r.check_storable().map_err(|why| Error::Storage(format!("the store refuses the write: {why}")))?;
            encoded.push(r.encode());
        }
        self.journal.append(encoded.iter().map(Vec::as_slice))
    }

    /// Appends journal bytes shipped by the master (whole records of its log file starting
    /// at `file`, at this store's end or at the start of a new file past it); returns the
    /// new end. The index follows with [`Store::catch_up`].
    pub fn append_replicated(&self, file: u64, start: u64, bytes: &[u8]) -> Result<u64> {
        self.journal.append_raw(file, start, bytes)
    }

    /// Replays into the index what the journal has beyond it; returns the position reached.
    pub fn catch_up(&self) -> Result<u64> {
        let _one_at_a_time = self.indexing.lock().unwrap();
        loop {
            let reached = self.applied.load(Ordering::Acquire);
            // Past a hole the garbage collection left (or before the oldest file), the
            // records go on at the next log file.
            let Some(journal::Chunk { at: from, file, bytes }) = self.journal.read_from(reached, CATCH_UP_CHUNK)?
            else {
                return Ok(reached);
            };
            // Each decoded record with its offset in `bytes`; one that does not decode is
            // quarantined and skipped, like one the index cannot store.
            let (mut records, mut raw) = (Vec::new(), Vec::new());
            for (at, data, _) in journal::records(&bytes) {
                let pos = from + at as u64;
                match Record::decode(data) {
                    Ok(r) => {
                        records.push((pos, r));
                        raw.push(data);
                    }
                    Err(e) => self.quarantine(pos, data, &format!("it cannot be decoded: {e}")),
                }
            }
            // `read_from` returns whole records only, so they end where the bytes do.
            let applied = self.index.apply(reached, from + bytes.len() as u64, file, &records)?;
            for (i, why) in applied.skipped {
                self.quarantine(records[i].0, raw[i], &why);
            }
            // The live data first, then the position: a reader that sees the new position
            // (`Writer::store_usage` reads it first) sees the live data that goes with it.
            self.live_bytes.store(self.index.live_bytes()?, Ordering::Release);
            self.applied.store(applied.applied, Ordering::Release);
        }
    }

    /// Keeps a record the index skipped in `quarantine/<position>.record` (its data, as in
    /// the journal) and `.why`, and says so: it stops only itself, never the store.
    fn quarantine(&self, pos: u64, data: &[u8], why: &str) {
        self.quarantined.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir.join(journal::QUARANTINE_DIR);
        let base = dir.join(format!("{pos:016}"));
        let written = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(base.with_extension("record"), data))
            .and_then(|_| std::fs::write(base.with_extension("why"), format!("journal position {pos}: {why}\n")));
        let kept = match written {
            Ok(()) => format!("kept in {}.record", base.display()),
            Err(e) => format!("not copied ({e}); it stays in the journal"),
        };
        tracing::warn!(
            "{}: the journal record at position {pos} is skipped by the index, which goes on without it: {why} \
             ({kept})",
            self.dir.display()
        );
    }

    /// Records the index skipped and quarantined since the store was opened.
    pub fn quarantined(&self) -> u64 {
        self.quarantined.load(Ordering::Relaxed)
    }

    /// The journal position the index has reached.
    pub fn indexed(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// fsyncs the journal (the DISK bit of the `sync` mode). Once one has failed, this and
    /// every append fail for good (see [`journal`]).
    pub fn sync(&self) -> Result<()> {
        self.journal.sync()
    }

    /// Why the store refuses every write (a failed fsync), if it does.
    pub fn failed(&self) -> Option<String> {
        self.journal.failed().map(str::to_string)
    }

    /// Becomes `Some(why)` when an fsync fails: the node must stop being master (or slave).
    pub fn fault(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.journal.fault()
    }

    /// **Test-only hook** (`MQSIM_TEST_FAIL_FSYNC_AFTER`, see [`crate::node::serve`]): the
    /// journal's fsync after the next `n` fails (once) as a disk error would.
    pub fn fail_fsync_after(&self, n: u64) {
        self.journal.fail_fsync_after(n)
    }

    /// Why this store may not be master yet, if it was cut short by damage in the middle of
    /// its journal and has not caught up with an elected master since.
    pub fn resync_needed(&self) -> Option<String> {
        self.resync_needed.lock().unwrap().clone()
    }

    /// The store has caught up with an elected master: it may be master again.
    pub fn resynced(&self) -> Result<()> {
        let mut needed = self.resync_needed.lock().unwrap();
        if needed.is_some() {
            let marker = self.dir.join(RESYNC_NEEDED);
            match std::fs::remove_file(&marker) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(format!("removing {}", marker.display()))(e));
                }
                _ => *needed = None,
            }
            tracing::info!(
                "{}: caught up with the master after the journal damage; it may be master again",
                self.dir.display()
            );
        }
        Ok(())
    }

    /// Whole journal records from `from` (a record start; in a collected hole, from the next
    /// log file on), about `max` bytes of them, within one log file; `None` at the end.
    pub fn read_journal(&self, from: u64, max: usize) -> Result<Option<journal::Chunk>> {
        self.journal.read_from(from, max)
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
        self.drop_snapshot()?;
        self.journal.clear()?;
        self.index.clear()?;
        self.live_bytes.store(0, Ordering::Release);
        self.applied.store(0, Ordering::Release);
        Ok(())
    }

    /// The whole index, caught up with the journal, for a newly promoted master.
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.catch_up()?;
        let (mut snap, locs) = self.index.snapshot()?;
        // Read in journal order (batches read once), then put back in sequence order.
        let mut order: Vec<usize> = (0..locs.len()).collect();
        order.sort_by_key(|&i| (locs[i].1.pos, locs[i].1.nth));
        let mut read: Vec<Option<StoredMessage>> = vec![None; locs.len()];
        let mut last: Option<(u64, Record)> = None;
        for i in order {
            let loc = locs[i].1;
            if last.as_ref().is_none_or(|(pos, _)| *pos != loc.pos) {
                last = Some((loc.pos, self.record_at_pos(loc.pos)?));
            }
            let record = &last.as_ref().expect("just read").1;
            read[i] = Some(nth_enqueue(record, loc.nth).ok_or_else(|| no_message(&locs[i].0, loc))?);
        }
        for ((store, _), msg) in locs.into_iter().zip(read) {
            snap.stores.entry(store).or_default().push(msg.expect("every location read"));
        }
        Ok(snap)
    }

    /// The live message at `loc`, read from the journal.
    pub fn message_at(&self, store: &str, loc: index::MsgLoc) -> Result<StoredMessage> {
        nth_enqueue(&self.record_at_pos(loc.pos)?, loc.nth).ok_or_else(|| no_message(store, loc))
    }

    /// The record starting at journal position `pos`, decoded.
    fn record_at_pos(&self, pos: u64) -> Result<Record> {
        let bytes = self.journal.read(pos, 1)?;
        match journal::next_record(&bytes) {
            Next::Record { data, .. } => Record::decode(data)
                .map_err(|e| Error::Storage(format!("the journal record at {pos} does not decode: {e}"))),
            _ => Err(Error::Storage(format!("the journal has no record at {pos}"))),
        }
    }

    /// The replication node id (`nodeid.txt`, as ActiveMQ kept it), created on first use.
    pub fn node_id(&self) -> Result<String> {
        let path = self.dir.join("nodeid.txt");
        if let Ok(id) = std::fs::read_to_string(&path)
            && !id.trim().is_empty()
        {
            return Ok(id.trim().to_string());
        }
        let id = format!("{:016x}{:08x}", crate::events::now_ms(), std::process::id());
        write_synced(&path, id.as_bytes())?;
        Ok(id)
    }
}

/// The `nth` enqueue of `record`, depth first (a batch holds several).
fn nth_enqueue(record: &Record, nth: u32) -> Option<StoredMessage> {
    fn walk(r: &Record, n: &mut u32) -> Option<StoredMessage> {
        match r {
            Record::Enqueue { msg, .. } if *n == 0 => Some(msg.clone()),
            Record::Enqueue { .. } => {
                *n -= 1;
                None
            }
            Record::Batch(rs) => rs.iter().find_map(|r| walk(r, n)),
            _ => None,
        }
    }
    walk(record, &mut { nth })
}

fn no_message(store: &str, loc: index::MsgLoc) -> Error {
    Error::Storage(format!(
        "store {store}: the index points at enqueue {} of the journal record at {}, which is not there",
        loc.nth, loc.pos
    ))
}

/// Creates (or truncates) `path` with `bytes` and fsyncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(Error::io(format!("creating {}", path.display())))?;
    std::io::Write::write_all(&mut &file, bytes)
        .and_then(|_| file.sync_all())
        .map_err(Error::io(format!("writing {}", path.display())))
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
    // Written in a directory of its own (one log file, however long), then moved.
    let partial = dir.join("journal.migrating");
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(Error::io(format!("removing {}", partial.display())))?;
    }
    {
        let journal = Journal::open(&partial, u64::MAX)?;
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
    let migrated = partial.join(journal::FILE_NAME);
    std::fs::rename(&migrated, to).map_err(Error::io(format!("renaming {} into place", migrated.display())))?;
    recovery::sync_dir(dir)?;
    std::fs::remove_dir_all(&partial).map_err(Error::io(format!("removing {}", partial.display())))?;
    for f in ["data.mdb", "lock.mdb"] {
        let path = dir.join(f);
        std::fs::remove_file(&path).map_err(Error::io(format!("removing {}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
