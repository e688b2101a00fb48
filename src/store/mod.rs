//! The node's message store: an LMDB environment (heed) in the node's data `directory`.
//!
//! * `journal`: append-only, `start position → record bytes` ([`record::Record`]). The
//!   **position** is the total number of bytes ever appended: it is what a node reports to
//!   ZooKeeper while electing, so the node with the most data wins, and what a slave acks.
//! * the index, updated in the same LMDB transaction as the append, so a SIGKILL at any
//!   moment leaves journal and index consistent: `msgs` (`<store>\0<seq>` → message) for
//!   queues and durable subscriptions, `subs` (durable subscription → topic), `audit`
//!   (producer → last sequence, for duplicate suppression), `meta` (node id, next seq).
//!
//! The environment runs with `NO_SYNC`: a commit survives a process crash (the data is in
//! the page cache) but not an OS crash; [`Store::sync`] fsyncs, and the writer calls it when
//! the `sync` mode has the DISK bit. A slave appends the master's bytes at the same
//! positions ([`Store::append_raw`]) and applies them the same way. Once a store has
//! fsynced, it keeps some written zeros past LMDB's last page ([`Store::reserve`]), so that
//! the next fsyncs only write data.
//!
//! Caveat: the journal is never compacted (fine for a teaching cluster; a real store would
//! roll and garbage-collect journal files as ActiveMQ did).

pub mod record;
pub mod writer;

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use heed::types::{Bytes, Str, U64};
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, RwTxn, byteorder::BigEndian};

use crate::error::{Error, Result};
use record::{Record, StoredMessage};

type Journal = Database<'static, U64<BigEndian>, Bytes>;
type Blobs = Database<'static, Bytes, Bytes>;
type Strs = Database<'static, Str, Str>;
type Audit = Database<'static, Str, U64<BigEndian>>;

pub struct Store {
    env: Env,
    journal: Journal,
    msgs: Blobs,
    subs: Strs,
    audit: Audit,
    meta: Database<'static, Str, Bytes>,
    /// LMDB's data file, written only past its end, by [`Store::reserve`].
    data: std::fs::File,
    page_size: u64,
    /// Set by the first [`Store::sync`]: a store that never fsyncs reserves nothing.
    reserving: AtomicBool,
    /// The data file's length as of the last reserve.
    reserved: AtomicU64,
}

/// Written zeros kept past LMDB's last page by a store that fsyncs (topped up when half is used).
const RESERVE: u64 = 16 << 20;

/// Everything the broker core needs at promotion.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// store name → messages in seq order.
    pub stores: BTreeMap<String, Vec<StoredMessage>>,
    /// durable subscription key → topic.
    pub subs: BTreeMap<String, String>,
    pub next_seq: u64,
}

fn msg_key(store: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(store.len() + 9);
    k.extend_from_slice(store.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl Store {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let mut opts = EnvOpenOptions::new();
        opts.map_size(4 << 30).max_dbs(8);
        // SAFETY: NO_SYNC only weakens durability against OS crashes; `sync()` restores it.
        unsafe { opts.flags(EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC) };
        // SAFETY: the environment is opened once per process, and no one truncates its files.
        let env = unsafe { opts.open(dir)? };
        let wtxn = env.write_txn()?;
        let (journal, msgs, subs, audit, meta) = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
                Ok(CommitOrAbort::<_, ()>::Commit((
                    dbo.create_database::<U64<BigEndian>, Bytes>(wtxn, Some("journal"))?,
                    dbo.create_database::<Bytes, Bytes>(wtxn, Some("msgs"))?,
                    dbo.create_database::<Str, Str>(wtxn, Some("subs"))?,
                    dbo.create_database::<Str, U64<BigEndian>>(wtxn, Some("audit"))?,
                    dbo.create_database::<Str, Bytes>(wtxn, Some("meta"))?,
                )))
            })?
            .unwrap_commit();
        let path = dir.join("data.mdb");
        let data = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(Error::io(format!("opening {}", path.display())))?;
        let page_size = env.unnamed_database_stat().page_size as u64;
        Ok(Store {
            env,
            journal,
            msgs,
            subs,
            audit,
            meta,
            data,
            page_size,
            reserving: AtomicBool::new(false),
            reserved: AtomicU64::new(0),
        })
    }

    /// Keeps [`RESERVE`] bytes of written zeros past the pages LMDB uses, once the store has
    /// fsynced. A commit then overwrites blocks the file already has instead of growing it,
    /// so its fsync writes data only: on ext4, growing the file also commits the filesystem's
    /// journal, which makes each fsync about 20% slower alone and serialises the fsyncs of
    /// the three nodes sharing one disk. Called with the write transaction open (LMDB writes
    /// nothing meanwhile), and the zeros go only past the file's current end.
    fn reserve(&self) -> Result<()> {
        if !self.reserving.load(Ordering::Relaxed) {
            return Ok(());
        }
        let used = (self.env.info().last_page_number as u64 + 1) * self.page_size;
        if used + RESERVE / 2 <= self.reserved.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut at = self.data.metadata().map_err(Error::io("reading the store's data file size"))?.len();
        let zeros = vec![0u8; 1 << 20];
        while at < used + RESERVE {
            let n = (used + RESERVE - at).min(zeros.len() as u64);
            self.data.write_all_at(&zeros[..n as usize], at).map_err(Error::io("writing the store's data file"))?;
            at += n;
        }
        self.data.sync_data().map_err(Error::io("syncing the store's data file"))?;
        self.reserved.store(at, Ordering::Relaxed);
        Ok(())
    }

    /// Bytes ever appended to the journal: the `position` published in ZooKeeper.
    pub fn position(&self) -> Result<i64> {
        let rtxn = self.env.read_txn()?;
        Ok(self.end(&rtxn)? as i64)
    }

    fn end(&self, txn: &heed::RoTxn) -> Result<u64> {
        Ok(match self.journal.last(txn)? {
            Some((start, record)) => start + record.len() as u64,
            None => 0,
        })
    }

    /// Appends and applies records in one transaction (the master's write path).
    /// Returns each record's start position and bytes, for shipping to slaves.
    pub fn append(&self, records: &[Record]) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut wtxn = self.env.write_txn()?;
        self.reserve()?;
        let mut pos = self.end(&wtxn)?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let bytes = r.encode();
            self.journal.put(&mut wtxn, &pos, &bytes)?;
            self.apply(&mut wtxn, r)?;
            out.push((pos, bytes));
            pos += out.last().map_or(0, |(_, b)| b.len() as u64);
        }
        wtxn.commit()?;
        Ok(out)
    }

    /// Appends a record received from the master at `start` (must be this store's end).
    pub fn append_raw(&self, start: u64, bytes: &[u8]) -> Result<u64> {
        self.append_raw_many(start, &[bytes])
    }

    /// Appends consecutive records received from the master, the first at `start` (must be
    /// this store's end), in one transaction; returns the new end.
    pub fn append_raw_many(&self, start: u64, records: &[&[u8]]) -> Result<u64> {
        let mut decoded = Vec::with_capacity(records.len());
        let mut at = start;
        for bytes in records {
            let record =
                Record::decode(bytes).map_err(|e| Error::Other(format!("corrupt replicated record at {at}: {e}")))?;
            decoded.push(record);
            at += bytes.len() as u64;
        }
        let mut wtxn = self.env.write_txn()?;
        self.reserve()?;
        let end = self.end(&wtxn)?;
        if end != start {
            return Err(Error::Other(format!("replicated record at {start} but the journal ends at {end}")));
        }
        let mut at = start;
        for (bytes, record) in records.iter().zip(&decoded) {
            self.journal.put(&mut wtxn, &at, bytes)?;
            self.apply(&mut wtxn, record)?;
            at += bytes.len() as u64;
        }
        wtxn.commit()?;
        Ok(at)
    }

    fn apply(&self, wtxn: &mut RwTxn, record: &Record) -> Result<()> {
        match record {
            Record::Enqueue { store, msg } => {
                let bytes = postcard::to_allocvec(msg).expect("message serializes");
                self.msgs.put(wtxn, &msg_key(store, msg.seq), &bytes)?;
                let next = self.meta_u64(wtxn, "next_seq")?.max(msg.seq + 1);
                self.meta.put(wtxn, "next_seq", &next.to_be_bytes())?;
                if let Some((producer, seq)) = &msg.producer {
                    let last = self.audit.get(wtxn, producer)?.unwrap_or(0);
                    self.audit.put(wtxn, producer, &last.max(*seq))?;
                }
            }
            Record::Dequeue { store, seq } => {
                self.msgs.delete(wtxn, &msg_key(store, *seq))?;
            }
            Record::Subscribe { key, topic } => {
                self.subs.put(wtxn, key, topic)?;
            }
            Record::Unsubscribe { key } => {
                self.subs.delete(wtxn, key)?;
                let mut prefix = key.as_bytes().to_vec();
                prefix.push(0);
                let keys: Vec<Vec<u8>> = self
                    .msgs
                    .prefix_iter(wtxn, &prefix)?
                    .map(|kv| kv.map(|(k, _)| k.to_vec()))
                    .collect::<heed::Result<_>>()?;
                for k in keys {
                    self.msgs.delete(wtxn, &k)?;
                }
            }
            Record::Batch(records) => {
                for r in records {
                    self.apply(wtxn, r)?;
                }
            }
        }
        Ok(())
    }

    fn meta_u64(&self, txn: &heed::RoTxn, key: &str) -> Result<u64> {
        Ok(self.meta.get(txn, key)?.and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).unwrap_or(0))
    }

    /// fsync the environment (the DISK bit of the `sync` mode).
    pub fn sync(&self) -> Result<()> {
        self.reserving.store(true, Ordering::Relaxed);
        Ok(self.env.force_sync()?)
    }

    /// Records starting at or after `from`, up to about `max_bytes` and `max_records`.
    pub fn read_from(&self, from: u64, max_bytes: usize, max_records: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        let mut size = 0;
        for kv in self.journal.range(&rtxn, &(from..))? {
            let (start, bytes) = kv?;
            size += bytes.len();
            out.push((start, bytes.to_vec()));
            if size >= max_bytes || out.len() >= max_records {
                break;
            }
        }
        Ok(out)
    }

    /// The last record's start and CRC32: what a slave presents at login.
    pub fn last_record(&self) -> Result<Option<(u64, u32)>> {
        let rtxn = self.env.read_txn()?;
        Ok(self.journal.last(&rtxn)?.map(|(start, b)| (start, crc32fast::hash(b))))
    }

    /// End position and CRC32 of the record starting at `start`, if there is one.
    pub fn record_at(&self, start: u64) -> Result<Option<(u64, u32)>> {
        let rtxn = self.env.read_txn()?;
        Ok(self.journal.get(&rtxn, &start)?.map(|b| (start + b.len() as u64, crc32fast::hash(b))))
    }

    /// Forgets everything (a slave whose journal diverged from the master's resyncs from 0).
    pub fn clear(&self) -> Result<()> {
        let mut wtxn = self.env.write_txn()?;
        self.journal.clear(&mut wtxn)?;
        self.msgs.clear(&mut wtxn)?;
        self.subs.clear(&mut wtxn)?;
        self.audit.clear(&mut wtxn)?;
        self.meta.delete(&mut wtxn, "next_seq")?;
        wtxn.commit()?;
        Ok(())
    }

    /// The whole index, for a newly promoted master.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let rtxn = self.env.read_txn()?;
        let mut snap = Snapshot { next_seq: self.meta_u64(&rtxn, "next_seq")?, ..Default::default() };
        for kv in self.msgs.iter(&rtxn)? {
            let (k, v) = kv?;
            let name_len = k.len().saturating_sub(9);
            let name = String::from_utf8_lossy(&k[..name_len]).into_owned();
            let msg: StoredMessage =
                postcard::from_bytes(v).map_err(|e| Error::Other(format!("corrupt message in store {name}: {e}")))?;
            snap.stores.entry(name).or_default().push(msg);
        }
        for kv in self.subs.iter(&rtxn)? {
            let (k, v) = kv?;
            snap.subs.insert(k.to_string(), v.to_string());
        }
        Ok(snap)
    }

    /// The last persisted sequence of a producer (duplicate suppression).
    pub fn producer_seq(&self, producer: &str) -> Result<Option<u64>> {
        let rtxn = self.env.read_txn()?;
        Ok(self.audit.get(&rtxn, producer)?)
    }

    /// The replication node id, created on first use.
    pub fn node_id(&self) -> Result<String> {
        {
            let rtxn = self.env.read_txn()?;
            if let Some(id) = self.meta.get(&rtxn, "nodeid")? {
                return Ok(String::from_utf8_lossy(id).into_owned());
            }
        }
        let id = format!("{:016x}{:08x}", crate::events::now_ms(), std::process::id());
        let mut wtxn = self.env.write_txn()?;
        self.meta.put(&mut wtxn, "nodeid", id.as_bytes())?;
        wtxn.commit()?;
        self.env.force_sync()?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64) -> StoredMessage {
        StoredMessage {
            seq,
            destination: "/queue/a".into(),
            headers: vec![],
            body: b"hello".to_vec(),
            persistent: true,
            timestamp: 0,
            redelivery_count: 0,
            producer: Some(("p1".into(), seq)),
        }
    }

    #[test]
    fn append_index_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let end;
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.position().unwrap(), 0);
            let out = s
                .append(&[
                    Record::Enqueue { store: "a".into(), msg: msg(1) },
                    Record::Enqueue { store: "a".into(), msg: msg(2) },
                ])
                .unwrap();
            assert_eq!(out[0].0, 0);
            s.append(&[Record::Dequeue { store: "a".into(), seq: 1 }]).unwrap();
            end = s.position().unwrap();
            assert!(end > 0);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.position().unwrap(), end);
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.stores["a"].len(), 1);
        assert_eq!(snap.stores["a"][0].seq, 2);
        assert_eq!(snap.next_seq, 3);
        assert_eq!(s.producer_seq("p1").unwrap(), Some(2));
        let id = s.node_id().unwrap();
        assert_eq!(s.node_id().unwrap(), id);
    }

    #[test]
    fn a_syncing_store_reserves_zeros_and_reopens_intact() {
        let dir = tempfile::tempdir().unwrap();
        let file_len = || std::fs::metadata(dir.path().join("data.mdb")).unwrap().len();
        let end;
        {
            let s = Store::open(dir.path()).unwrap();
            s.append(&[Record::Enqueue { store: "a".into(), msg: msg(1) }]).unwrap();
            assert!(file_len() < RESERVE, "no reserve before the first fsync");
            s.sync().unwrap();
            for seq in 2..200 {
                s.append(&[Record::Enqueue { store: "a".into(), msg: msg(seq) }]).unwrap();
                s.sync().unwrap();
            }
            assert!(file_len() >= RESERVE, "{}", file_len());
            end = s.position().unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.position().unwrap(), end);
        assert_eq!(s.snapshot().unwrap().stores["a"].len(), 199);
        s.append(&[Record::Dequeue { store: "a".into(), seq: 1 }]).unwrap();
        assert_eq!(s.snapshot().unwrap().stores["a"].len(), 198);
    }

    #[test]
    fn a_slave_replays_the_same_bytes_to_the_same_index() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let master = Store::open(d1.path()).unwrap();
        let slave = Store::open(d2.path()).unwrap();
        master.append(&[Record::Subscribe { key: "sub:c:n".into(), topic: "t".into() }]).unwrap();
        master.append(&[Record::Batch(vec![Record::Enqueue { store: "sub:c:n".into(), msg: msg(5) }])]).unwrap();
        for (start, bytes) in master.read_from(0, usize::MAX, usize::MAX).unwrap() {
            slave.append_raw(start, &bytes).unwrap();
        }
        assert_eq!(slave.position().unwrap(), master.position().unwrap());
        assert_eq!(slave.last_record().unwrap(), master.last_record().unwrap());
        assert_eq!(slave.snapshot().unwrap().stores, master.snapshot().unwrap().stores);
        assert!(
            slave.append_raw(0, &master.read_from(0, 1, 1).unwrap()[0].1).is_err(),
            "out-of-place append is refused"
        );
        master.append(&[Record::Unsubscribe { key: "sub:c:n".into() }]).unwrap();
        assert!(master.snapshot().unwrap().stores.is_empty());
        slave.clear().unwrap();
        assert_eq!(slave.position().unwrap(), 0);
    }
}
