//! The index: what the journal's records add up to, in an LMDB environment (heed).
//!
//! `msgs` (`<store>\0<seq>` → message) for queues and durable subscriptions, `subs` (durable
//! subscription → topic), `audit` (producer → last sequence, for duplicate suppression) and
//! `meta` (`next_seq`, and `applied`: the journal position the index has reached). Applying
//! records and moving `applied` happen in one LMDB transaction, so the index always stands
//! for a prefix of the journal. The environment never fsyncs: it is rebuilt from the
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
use super::record::{Record, StoredMessage};
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
        opts.map_size(4 << 30).max_dbs(8);
        // SAFETY: NO_SYNC only weakens durability against OS crashes, and an index that
        // may have lived through one is rebuilt from the journal.
        unsafe { opts.flags(EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC) };
        // SAFETY: the environment is opened once per process, and no one truncates its files.
        let env = unsafe { opts.open(dir)? };
        let wtxn = env.write_txn()?;
        let (msgs, subs, audit, meta) = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
                Ok(CommitOrAbort::<_, ()>::Commit((
                    dbo.create_database::<Bytes, Bytes>(wtxn, Some("msgs"))?,
                    dbo.create_database::<Str, Str>(wtxn, Some("subs"))?,
                    dbo.create_database::<Str, U64<BigEndian>>(wtxn, Some("audit"))?,
                    dbo.create_database::<Str, U64<BigEndian>>(wtxn, Some("meta"))?,
                )))
            })?
            .unwrap_commit();
        Ok(Index { env, msgs, subs, audit, meta })
    }

    /// The journal position the index has reached.
    pub fn applied(&self) -> Result<u64> {
        let rtxn = self.env.read_txn()?;
        Ok(self.meta.get(&rtxn, "applied")?.unwrap_or(0))
    }

    /// Applies `records`, which the journal holds from `from` to `to`, unless the index is
    /// no longer at `from` (someone else applied them meanwhile). Returns `applied`, and
    /// which records (by their index in `records`) were skipped in whole or in part, and why.
    pub fn apply(&self, from: u64, to: u64, records: &[Record]) -> Result<Applied> {
        let mut wtxn = self.env.write_txn()?;
        let applied = self.meta.get(&wtxn, "applied")?.unwrap_or(0);
        if applied != from {
            return Ok(Applied { applied, skipped: Vec::new() });
        }
        let mut skipped = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let mut why = Vec::new();
            self.apply_one(&mut wtxn, r, &mut why)?;
            if !why.is_empty() {
                skipped.push((i, why.join("; ")));
            }
        }
        self.meta.put(&mut wtxn, "applied", &to)?;
        wtxn.commit()?;
        Ok(Applied { applied: to, skipped })
    }

    /// Applies one record; an unstorable one (or one inside a batch: the rest of the batch
    /// is applied) is left out, with the reason pushed on `skipped`.
    fn apply_one(&self, wtxn: &mut RwTxn, record: &Record, skipped: &mut Vec<String>) -> Result<()> {
        if !matches!(record, Record::Batch(_))
            && let Err(why) = record.check_storable()
        {
            skipped.push(why);
            return Ok(());
        }
        match record {
            Record::Enqueue { store, msg } => {
                let bytes = postcard::to_allocvec(msg).expect("message serializes");
                self.msgs.put(wtxn, &msg_key(store, msg.seq), &bytes)?;
                let next = self.meta.get(wtxn, "next_seq")?.unwrap_or(0).max(msg.seq.saturating_add(1));
                self.meta.put(wtxn, "next_seq", &next)?;
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
                    self.apply_one(wtxn, r, skipped)?;
                }
            }
        }
        Ok(())
    }

    /// Forgets everything (with the journal, for a full resync).
    pub fn clear(&self) -> Result<()> {
        let mut wtxn = self.env.write_txn()?;
        self.msgs.clear(&mut wtxn)?;
        self.subs.clear(&mut wtxn)?;
        self.audit.clear(&mut wtxn)?;
        self.meta.clear(&mut wtxn)?;
        wtxn.commit()?;
        Ok(())
    }

    /// The whole index, for a newly promoted master.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let rtxn = self.env.read_txn()?;
        let mut snap = Snapshot { next_seq: self.meta.get(&rtxn, "next_seq")?.unwrap_or(0), ..Default::default() };
        let mut stores: BTreeMap<String, Vec<StoredMessage>> = BTreeMap::new();
        for kv in self.msgs.iter(&rtxn)? {
            let (k, v) = kv?;
            let name_len = k.len().saturating_sub(9);
            let name = String::from_utf8_lossy(&k[..name_len]).into_owned();
            let msg: StoredMessage =
                postcard::from_bytes(v).map_err(|e| Error::Other(format!("corrupt message in store {name}: {e}")))?;
            stores.entry(name).or_default().push(msg);
        }
        snap.stores = stores;
        for kv in self.subs.iter(&rtxn)? {
            let (k, v) = kv?;
            snap.subs.insert(k.to_string(), v.to_string());
        }
        for kv in self.audit.iter(&rtxn)? {
            let (k, v) = kv?;
            snap.audit.insert(k.to_string(), v);
        }
        Ok(snap)
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
