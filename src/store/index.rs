//! The index: what the journal's records add up to, in an LMDB environment (heed).
//!
//! `msgs` (`<store>\0<seq>` → where the message is in the journal, [`MsgLoc`], as LevelDB's
//! index pointed into its log) for queues and durable subscriptions, `subs` (durable
//! subscription → topic), `audit` (producer → last sequence, for duplicate suppression) and
//! `meta` (`next_seq`, `live_bytes`, and `applied`: the journal position the index has
//! reached). Applying records and moving `applied` happen in one LMDB transaction, so the
//! index always stands for a prefix of the journal.
//!
//! **What keeps a log file alive** (for [`super::gc`]), kept in the same transactions:
//! `locs` says which log file each live message's enqueue (and each durable subscription's
//! subscribe) is in, `live` counts them per file, and `deps` holds `(F, E)` when file `F`
//! removed something file `E` added (a dequeue, an unsubscribe). A file may go when its
//! count is zero and every file it removed things from is gone: replaying the files that
//! remain then adds up to the same index (a dequeue never outlives the enqueue it undoes,
//! so no message comes back), which is what lets a damaged index be rebuilt from the live
//! log files alone. The bodies stay in the log files, not in LMDB: the index is small (its
//! file never shrinks, as LMDB's do not) and a snapshot of it is cheap. The environment never fsyncs: it is rebuilt from the
//! journal whenever it cannot be trusted (see [`super::Store::open`]).
//!
//! One record never fails the index: a record (or a record inside a batch) whose keys LMDB
//! could not hold ([`Record::check_storable`]) is skipped, and [`Index::apply`] says which,
//! for the store to quarantine. Every other error is the environment's (disk full, I/O),
//! and fails the whole transaction, loudly.

use std::collections::BTreeMap;
use std::path::Path;

use heed::types::{Bytes, Str, U64};
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, RwTxn, byteorder::BigEndian};

use super::Snapshot;
use super::record::Record;
use crate::error::{Error, Result};

type Blobs = Database<'static, Bytes, Bytes>;
type Strs = Database<'static, Str, Str>;
type Audit = Database<'static, Str, U64<BigEndian>>;

/// What [`Index::apply`] did.
#[derive(Debug)]
pub struct Applied {
    /// The journal position the index has reached.
    pub applied: u64,
    /// Records left out, in whole or in part: (index in the slice applied, why).
    pub skipped: Vec<(usize, String)>,
}

pub struct Index {
    env: Env,
    msgs: Blobs,
    subs: Strs,
    audit: Audit,
    meta: Database<'static, Str, U64<BigEndian>>,
    /// message key or `\x01<subscription key>` → start of the log file that added it.
    locs: Database<'static, Bytes, U64<BigEndian>>,
    /// log file start → live messages and subscriptions it added.
    live: Database<'static, U64<BigEndian>, U64<BigEndian>>,
    /// `F ‖ E` (two big-endian u64): file `F` removed something file `E` added.
    deps: Blobs,
    /// `F ‖ loc`: the live entries file `F` added (the reverse of `locs`).
    by_file: Blobs,
}

/// A live entry a log file added: what compaction re-appends to let the file go.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Message { store: String, seq: u64 },
    Subscription { key: String },
}

/// Where a live message is: the journal record at `pos` (its start), the `nth` enqueue in
/// it (depth first: a transaction's batch holds several), and its stored size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgLoc {
    pub pos: u64,
    pub nth: u32,
    pub size: u32,
}

impl MsgLoc {
    fn encode(&self) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&self.pos.to_be_bytes());
        v[8..12].copy_from_slice(&self.nth.to_be_bytes());
        v[12..].copy_from_slice(&self.size.to_be_bytes());
        v
    }

    fn decode(v: &[u8]) -> Result<MsgLoc> {
        let v: &[u8; 16] =
            v.try_into().map_err(|_| Error::Storage(format!("a message location of {} bytes", v.len())))?;
        Ok(MsgLoc {
            pos: u64::from_be_bytes(v[..8].try_into().expect("8")),
            nth: u32::from_be_bytes(v[8..12].try_into().expect("4")),
            size: u32::from_be_bytes(v[12..].try_into().expect("4")),
        })
    }
}

/// What the index holds of a live entry, for compaction and promotion (the store reads a
/// message's content from the journal).
#[derive(Debug, Clone, PartialEq)]
pub enum Live {
    Message { store: String, seq: u64, loc: MsgLoc },
    Subscription { key: String, topic: String },
}

/// The index's format: 2 keeps message locations (1 kept message bodies).
const FORMAT: u64 = 2;

fn by_file_key(file: u64, loc: &[u8]) -> Vec<u8> {
    let mut k = file.to_be_bytes().to_vec();
    k.extend_from_slice(loc);
    k
}

/// The `locs` key of a durable subscription (a message key never starts with 1: store
/// names are checked non-empty UTF-8 without control characters at the entry points, and a
/// message key is never just a name).
fn sub_loc(key: &str) -> Vec<u8> {
    let mut k = vec![1u8];
    k.extend_from_slice(key.as_bytes());
    k
}

fn dep_key(file: u64, on: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&file.to_be_bytes());
    k[8..].copy_from_slice(&on.to_be_bytes());
    k
}

fn msg_key(store: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(store.len() + 9);
    k.extend_from_slice(store.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl Index {
    pub fn open(dir: &Path) -> Result<Index> {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let mut opts = EnvOpenOptions::new();
        opts.map_size(4 << 30).max_dbs(12);
        // SAFETY: NO_SYNC only weakens durability against OS crashes, and an index that
        // may have lived through one is rebuilt from the journal.
        unsafe { opts.flags(EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC) };
        // SAFETY: the environment is opened once per process, and no one truncates its files.
        let env = unsafe { opts.open(dir)? };
        let wtxn = env.write_txn()?;
        let (msgs, subs, audit, meta, locs, live, deps, by_file) = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
                Ok(CommitOrAbort::<_, ()>::Commit((
                    dbo.create_database::<Bytes, Bytes>(wtxn, Some("msgs"))?,
                    dbo.create_database::<Str, Str>(wtxn, Some("subs"))?,
                    dbo.create_database::<Str, U64<BigEndian>>(wtxn, Some("audit"))?,
                    dbo.create_database::<Str, U64<BigEndian>>(wtxn, Some("meta"))?,
                    dbo.create_database::<Bytes, U64<BigEndian>>(wtxn, Some("locs"))?,
                    dbo.create_database::<U64<BigEndian>, U64<BigEndian>>(wtxn, Some("live"))?,
                    dbo.create_database::<Bytes, Bytes>(wtxn, Some("deps"))?,
                    dbo.create_database::<Bytes, Bytes>(wtxn, Some("by_file"))?,
                )))
            })?
            .unwrap_commit();
        let index = Index { env, msgs, subs, audit, meta, locs, live, deps, by_file };
        let mut wtxn = index.env.write_txn()?;
        match index.meta.get(&wtxn, "format")? {
            Some(FORMAT) => {}
            None if index.meta.get(&wtxn, "applied")?.is_none() && index.msgs.is_empty(&wtxn)? => {
                index.meta.put(&mut wtxn, "format", &FORMAT)?;
            }
            other => {
                return Err(Error::Storage(format!(
                    "the index is of format {} and this build keeps format {FORMAT}",
                    other.unwrap_or(1)
                )));
            }
        }
        wtxn.commit()?;
        Ok(index)
    }

    /// The journal position the index has reached.
    pub fn applied(&self) -> Result<u64> {
        let rtxn = self.env.read_txn()?;
        Ok(self.meta.get(&rtxn, "applied")?.unwrap_or(0))
    }

    /// The LMDB environment (for a snapshot copy).
    pub(super) fn env(&self) -> &Env {
        &self.env
    }

    /// Bytes of live messages (their stored size): the store's usage.
    pub fn live_bytes(&self) -> Result<u64> {
        let rtxn = self.env.read_txn()?;
        Ok(self.meta.get(&rtxn, "live_bytes")?.unwrap_or(0))
    }

    /// Applies `records`, which the journal holds up to `to` in the log file starting at
    /// `file` (from `from`, or from the next file after a hole at `from`), unless the index
    /// is no longer at `from` (someone else applied them meanwhile). Returns `applied`, and which records (by their index in `records`)
    /// were skipped in whole or in part, and why.
    pub fn apply(&self, from: u64, to: u64, file: u64, records: &[(u64, Record)]) -> Result<Applied> {
        let mut wtxn = self.env.write_txn()?;
        let applied = self.meta.get(&wtxn, "applied")?.unwrap_or(0);
        if applied != from {
            return Ok(Applied { applied, skipped: Vec::new() });
        }
        let mut skipped = Vec::new();
        for (i, (pos, r)) in records.iter().enumerate() {
            let mut why = Vec::new();
            let mut at = (*pos, 0u32);
            self.apply_one(&mut wtxn, file, &mut at, r, &mut why)?;
            if !why.is_empty() {
                skipped.push((i, why.join("; ")));
            }
        }
        self.meta.put(&mut wtxn, "applied", &to)?;
        wtxn.commit()?;
        Ok(Applied { applied: to, skipped })
    }

    /// Applies one record; an unstorable one (or one inside a batch: the rest of the batch
    /// is applied) is left out, with the reason pushed on `skipped`. `at` is the top-level
    /// record's position and how many enqueues in it came before this one.
    fn apply_one(
        &self,
        wtxn: &mut RwTxn,
        file: u64,
        at: &mut (u64, u32),
        record: &Record,
        skipped: &mut Vec<String>,
    ) -> Result<()> {
        let nth = at.1;
        if matches!(record, Record::Enqueue { .. }) {
            at.1 += 1;
        }
        if !matches!(record, Record::Batch(_))
            && let Err(why) = record.check_storable()
        {
            skipped.push(why);
            return Ok(());
        }
        match record {
            Record::Enqueue { store, msg } => {
                let size = postcard::to_allocvec(msg).expect("message serializes").len() as u32;
                let key = msg_key(store, msg.seq);
                self.removed(wtxn, file, &key, Some(&self.msgs))?;
                self.msgs.put(wtxn, &key, &MsgLoc { pos: at.0, nth, size }.encode())?;
                self.added(wtxn, file, &key, u64::from(size))?;
                let next = self.meta.get(wtxn, "next_seq")?.unwrap_or(0).max(msg.seq.saturating_add(1));
                self.meta.put(wtxn, "next_seq", &next)?;
                if let Some((producer, seq)) = &msg.producer {
                    let last = self.audit.get(wtxn, producer)?.unwrap_or(0);
                    self.audit.put(wtxn, producer, &last.max(*seq))?;
                }
            }
            Record::Dequeue { store, seq } => {
                let key = msg_key(store, *seq);
                self.removed(wtxn, file, &key, Some(&self.msgs))?;
                self.msgs.delete(wtxn, &key)?;
                let next = self.meta.get(wtxn, "next_seq")?.unwrap_or(0).max(seq.saturating_add(1));
                self.meta.put(wtxn, "next_seq", &next)?;
            }
            Record::Subscribe { key, topic } => {
                let loc = sub_loc(key);
                self.removed(wtxn, file, &loc, None)?;
                self.subs.put(wtxn, key, topic)?;
                self.added(wtxn, file, &loc, 0)?;
            }
            Record::Unsubscribe { key } => {
                self.removed(wtxn, file, &sub_loc(key), None)?;
                self.subs.delete(wtxn, key)?;
                let mut prefix = key.as_bytes().to_vec();
                prefix.push(0);
                let keys: Vec<Vec<u8>> = self
                    .msgs
                    .prefix_iter(wtxn, &prefix)?
                    .map(|kv| kv.map(|(k, _)| k.to_vec()))
                    .collect::<heed::Result<_>>()?;
                for k in keys {
                    self.removed(wtxn, file, &k, Some(&self.msgs))?;
                    self.msgs.delete(wtxn, &k)?;
                }
            }
            Record::Batch(records) => {
                for r in records {
                    self.apply_one(wtxn, file, at, r, skipped)?;
                }
            }
        }
        Ok(())
    }

    /// Notes that log file `file` added the live entry `loc` (of `size` bytes).
    fn added(&self, wtxn: &mut RwTxn, file: u64, loc: &[u8], size: u64) -> Result<()> {
        self.locs.put(wtxn, loc, &file)?;
        self.by_file.put(wtxn, &by_file_key(file, loc), &[])?;
        let n = self.live.get(wtxn, &file)?.unwrap_or(0);
        self.live.put(wtxn, &file, &(n + 1))?;
        let bytes = self.meta.get(wtxn, "live_bytes")?.unwrap_or(0);
        self.meta.put(wtxn, "live_bytes", &(bytes + size))?;
        Ok(())
    }

    /// Notes that log file `file` removed the entry `loc` (if it was live): the file that
    /// added it has one live entry fewer, and `file` depends on it (see the module essay).
    /// `msgs` is where the entry's bytes are, for `live_bytes`.
    fn removed(&self, wtxn: &mut RwTxn, file: u64, loc: &[u8], msgs: Option<&Blobs>) -> Result<()> {
        let Some(from) = self.locs.get(wtxn, loc)? else { return Ok(()) };
        self.locs.delete(wtxn, loc)?;
        self.by_file.delete(wtxn, &by_file_key(from, loc))?;
        match self.live.get(wtxn, &from)?.unwrap_or(0) {
            0 | 1 => self.live.delete(wtxn, &from).map(drop)?,
            n => self.live.put(wtxn, &from, &(n - 1))?,
        }
        if let Some(msgs) = msgs {
            let size = match msgs.get(wtxn, loc)? {
                Some(v) => u64::from(MsgLoc::decode(v)?.size),
                None => 0,
            };
            let bytes = self.meta.get(wtxn, "live_bytes")?.unwrap_or(0);
            self.meta.put(wtxn, "live_bytes", &bytes.saturating_sub(size))?;
        }
        if from != file {
            self.deps.put(wtxn, &dep_key(file, from), &[])?;
        }
        Ok(())
    }

    /// Live entries per log file (files with none are not listed).
    pub fn live_per_file(&self) -> Result<BTreeMap<u64, u64>> {
        let rtxn = self.env.read_txn()?;
        self.live.iter(&rtxn)?.map(|kv| kv.map_err(Into::into)).collect()
    }

    /// The files that log file `file` removed things from.
    pub fn deps_of(&self, file: u64) -> Result<Vec<u64>> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for kv in self.deps.prefix_iter(&rtxn, &file.to_be_bytes())? {
            let (k, _) = kv?;
            out.push(u64::from_be_bytes(k[8..16].try_into().expect("a 16-byte key")));
        }
        Ok(out)
    }

    /// Up to `max` live entries log file `file` added (for compaction).
    pub fn entries_of(&self, file: u64, max: usize) -> Result<Vec<Live>> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for kv in self.by_file.prefix_iter(&rtxn, &file.to_be_bytes())? {
            if out.len() >= max {
                break;
            }
            let loc = &kv?.0[8..];
            if let Some(key) = loc.strip_prefix(&[1u8]) {
                let key = String::from_utf8_lossy(key).into_owned();
                if let Some(topic) = self.subs.get(&rtxn, &key)? {
                    out.push(Live::Subscription { key, topic: topic.to_string() });
                }
            } else if loc.len() > 9 {
                let (name, seq) = loc.split_at(loc.len() - 9);
                let seq = u64::from_be_bytes(seq[1..].try_into().expect("8 bytes"));
                if let Some(v) = self.msgs.get(&rtxn, loc)? {
                    let store = String::from_utf8_lossy(name).into_owned();
                    out.push(Live::Message { store, seq, loc: MsgLoc::decode(v)? });
                }
            }
        }
        Ok(out)
    }

    /// The files some other file removed things from: `E` of every `(F, E)` in `deps`.
    pub fn depended_on(&self) -> Result<std::collections::BTreeSet<u64>> {
        let rtxn = self.env.read_txn()?;
        let mut out = std::collections::BTreeSet::new();
        for kv in self.deps.iter(&rtxn)? {
            let (k, _) = kv?;
            out.insert(u64::from_be_bytes(k[8..16].try_into().expect("a 16-byte key")));
        }
        Ok(out)
    }

    /// Forgets what the index knows of log file `file`, which the store deleted.
    pub fn forget_file(&self, file: u64) -> Result<()> {
        let mut wtxn = self.env.write_txn()?;
        self.live.delete(&mut wtxn, &file)?;
        let keys: Vec<Vec<u8>> = self
            .deps
            .prefix_iter(&wtxn, &file.to_be_bytes())?
            .map(|kv| kv.map(|(k, _)| k.to_vec()))
            .collect::<heed::Result<_>>()?;
        for k in keys {
            self.deps.delete(&mut wtxn, &k)?;
        }
        wtxn.commit()?;
        Ok(())
    }

    /// Forgets everything (with the journal, for a full resync).
    pub fn clear(&self) -> Result<()> {
        let mut wtxn = self.env.write_txn()?;
        self.msgs.clear(&mut wtxn)?;
        self.subs.clear(&mut wtxn)?;
        self.audit.clear(&mut wtxn)?;
        self.meta.clear(&mut wtxn)?;
        self.locs.clear(&mut wtxn)?;
        self.live.clear(&mut wtxn)?;
        self.deps.clear(&mut wtxn)?;
        self.by_file.clear(&mut wtxn)?;
        self.meta.put(&mut wtxn, "format", &FORMAT)?;
        wtxn.commit()?;
        Ok(())
    }

    /// The whole index, for a newly promoted master: everything but the messages, and
    /// where each live message is (store, location), by store and sequence.
    pub fn snapshot(&self) -> Result<(Snapshot, Vec<(String, MsgLoc)>)> {
        let rtxn = self.env.read_txn()?;
        let mut snap = Snapshot { next_seq: self.meta.get(&rtxn, "next_seq")?.unwrap_or(0), ..Default::default() };
        let mut locs = Vec::new();
        for kv in self.msgs.iter(&rtxn)? {
            let (k, v) = kv?;
            let name_len = k.len().saturating_sub(9);
            locs.push((String::from_utf8_lossy(&k[..name_len]).into_owned(), MsgLoc::decode(v)?));
        }
        for kv in self.subs.iter(&rtxn)? {
            let (k, v) = kv?;
            snap.subs.insert(k.to_string(), v.to_string());
        }
        for kv in self.audit.iter(&rtxn)? {
            let (k, v) = kv?;
            snap.audit.insert(k.to_string(), v);
        }
        Ok((snap, locs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{MAX_KEY, MAX_STORE_NAME};

    #[test]
    fn the_key_bound_is_lmdbs() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(dir.path()).unwrap();
        assert_eq!(index.env.max_key_size(), MAX_KEY);
        let mut wtxn = index.env.write_txn().unwrap();
        // The longest storable name makes a key LMDB takes; one byte more, it refuses.
        assert!(index.msgs.put(&mut wtxn, &msg_key(&"q".repeat(MAX_STORE_NAME), 1), b"m").is_ok());
        assert!(index.msgs.put(&mut wtxn, &msg_key(&"q".repeat(MAX_STORE_NAME + 1), 1), b"m").is_err());
        assert!(index.audit.put(&mut wtxn, "", &1).is_err(), "empty keys are refused too");
    }
}
