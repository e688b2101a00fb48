//! Compaction: re-appending the few live entries of an old log file so that the file, and
//! every later file that consumed messages from it, can be collected (see
//! [`crate::store::gc`]). KahaDB does the same for acks (`compactAcksAfterNoGC`); without
//! it, one message nobody consumes, or one durable subscription made long ago, would keep
//! every log file after it on disk.
//!
//! A copy is an ordinary `Enqueue` (or `Subscribe`) record with the same content, so
//! replaying the journal (on a slave, or in a rebuild) moves the entry to the new file.
//! It must never land after the record that removes the entry, or a consumed message
//! would come back: so the copy is queued to the writer while the broker's state lock is
//! held, and only for an entry the state still holds. Every path that removes a message
//! or a subscription changes the state under that lock *before* it queues its record, and
//! the writer appends in queue order, so a removal is either seen here (no copy) or
//! queued after the copy.

use std::collections::HashSet;

use super::Broker;
use crate::store::index::Entry;
use crate::store::record::Record;

impl Broker {
    /// Queues copies of the `entries` the broker still holds (pending or in flight; a
    /// durable subscription that still exists); returns how many were queued.
    pub fn relocate(&self, entries: Vec<(Entry, Record)>) -> crate::Result<usize> {
        let st = self.lock();
        let inflight: HashSet<(&str, u64)> = st
            .consumers
            .values()
            .filter_map(|c| c.store.as_deref().map(|s| (s, c)))
            .flat_map(|(s, c)| c.inflight.iter().map(move |(seq, _)| (s, *seq)))
            .collect();
        let records: Vec<Record> = entries
            .into_iter()
            .filter(|(entry, _)| match entry {
                Entry::Message { store, seq } => {
                    st.stores.get(store).is_some_and(|q| q.pending.contains_key(seq))
                        || inflight.contains(&(store.as_str(), *seq))
                }
                Entry::Subscription { key } => st.durable_topic(key).is_some(),
            })
            .map(|(_, record)| record)
            .collect();
        let n = records.len();
        if n > 0 {
            self.writer.write_nowait(records)?;
        }
        drop(st);
        Ok(n)
    }
}
