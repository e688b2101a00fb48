//! The node's message store: an LMDB environment (heed) in the node's data `directory`.
//!
//! What the election needs from it is the journal's append **position**: the total number
//! of bytes ever appended, reported to ZooKeeper while electing so that the node with the
//! most data wins. The journal is a `u64 → bytes` table keyed by the position at which each
//! record starts; `meta` keeps the node's replication `nodeid` (a random id, as ActiveMQ's
//! `nodeid.txt`). The broker core that appends messages comes with the store issue; until
//! then every journal is empty and positions are 0.

use std::path::Path;

use heed::types::{Bytes, Str, U64};
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, byteorder::BigEndian};

use crate::error::Result;

type Journal = Database<'static, U64<BigEndian>, Bytes>;
type Meta = Database<'static, Str, Bytes>;

pub struct Store {
    env: Env,
    journal: Journal,
    meta: Meta,
}

impl Store {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .map_err(crate::Error::io(format!("creating {}", dir.display())))?;
        let mut opts = EnvOpenOptions::new();
        opts.map_size(256 << 20).max_dbs(4);
        // SAFETY: the environment is opened once per process, and the file is not truncated by us.
        let env = unsafe { opts.open(dir)? };
        let wtxn = env.write_txn()?;
        let (journal, meta) = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
                let journal =
                    dbo.create_database::<U64<BigEndian>, Bytes>(wtxn, Some("journal"))?;
                let meta = dbo.create_database::<Str, Bytes>(wtxn, Some("meta"))?;
                Ok(CommitOrAbort::<_, ()>::Commit((journal, meta)))
            })?
            .unwrap_commit();
        Ok(Store { env, journal, meta })
    }

    /// Bytes ever appended to the journal: the `position` published in ZooKeeper.
    pub fn position(&self) -> Result<i64> {
        let rtxn = self.env.read_txn()?;
        Ok(match self.journal.last(&rtxn)? {
            Some((start, record)) => (start + record.len() as u64) as i64,
            None => 0,
        })
    }

    /// Appends one record; returns the new position.
    pub fn append(&self, record: &[u8]) -> Result<i64> {
        let mut wtxn = self.env.write_txn()?;
        let start = match self.journal.last(&wtxn)? {
            Some((s, r)) => s + r.len() as u64,
            None => 0,
        };
        self.journal.put(&mut wtxn, &start, record)?;
        wtxn.commit()?;
        Ok((start + record.len() as u64) as i64)
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
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_bytes_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.position().unwrap(), 0);
            assert_eq!(s.append(b"hello").unwrap(), 5);
            assert_eq!(s.append(b"world!").unwrap(), 11);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.position().unwrap(), 11);
        let id = s.node_id().unwrap();
        assert_eq!(s.node_id().unwrap(), id);
    }
}
