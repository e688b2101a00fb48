//! The store's housekeeping while the node runs: index snapshots
//! ([`crate::store::snapshot`]) and garbage collection of dead log files on every node
//! (master and slaves alike, [`crate::store::gc`]) and, on the master,
//! compaction of the few live entries that keep an old file alive
//! ([`crate::broker::Broker::relocate`]). Both run once a second on the blocking pool.

use std::sync::Arc;
use std::time::Duration;

use crate::broker::Broker;
use crate::events::EventKind;
use crate::events::EventLog;
use crate::store::Store;

/// How often the store is looked at.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// The most live entries one compaction round copies forward.
const COMPACT_BATCH: usize = 10_000;

const MIB: f64 = (1 << 20) as f64;

/// Collects dead log files for the node's whole life, saying what went.
pub async fn collect(store: Arc<Store>, events: EventLog, name: String) {
    loop {
        tokio::time::sleep(INTERVAL).await;
        let s = store.clone();
        let round = tokio::task::spawn_blocking(move || {
            // The index first (a slave's lags up to `CATCH_UP_BEHIND` while the master is
            // quiet), so that the snapshot and the collection judge the whole journal.
            s.catch_up()?;
            if let Err(e) = s.snapshot_index_if_due() {
                tracing::warn!("the index snapshot failed (the next round tries again): {e}");
            }
            s.collect_garbage()
        });
        match round.await {
            Ok(Ok(done)) if done.files > 0 => events.emit(
                EventKind::Gc,
                format!(
                    "{name} deleted {} log file(s) no live message refers to ({:.1} MiB); the store now takes \
                     {:.1} MiB on disk for {:.1} MiB of live messages",
                    done.files,
                    done.bytes as f64 / MIB,
                    store.disk_bytes() as f64 / MIB,
                    store.live_bytes() as f64 / MIB
                ),
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("{name}: garbage collection of the journal failed: {e}"),
            Err(_) => return,
        }
    }
}

/// Rounds in a row that compaction must be called for while the disk does not shrink
/// before it copies anything (as KahaDB's `compactAcksAfterNoGC`): files being consumed
/// right now die by themselves, and copying their messages forward would be wasted work.
const COMPACT_AFTER: u32 = 5;

/// On the master: copies forward the live entries of old, mostly dead log files.
pub async fn compact(store: Arc<Store>, broker: Arc<Broker>, name: String) {
    let (mut stuck, mut smallest) = (0u32, u64::MAX);
    loop {
        tokio::time::sleep(INTERVAL).await;
        let disk = store.disk_bytes();
        if disk < smallest {
            (stuck, smallest) = (0, disk);
        }
        let s = store.clone();
        let entries = match tokio::task::spawn_blocking(move || s.compaction(COMPACT_BATCH)).await {
            Ok(Ok(entries)) => entries,
            Ok(Err(e)) => {
                tracing::warn!("{name}: journal compaction failed: {e}");
                continue;
            }
            Err(_) => return,
        };
        if entries.is_empty() {
            (stuck, smallest) = (0, u64::MAX);
            continue;
        }
        stuck += 1;
        if stuck < COMPACT_AFTER {
            continue;
        }
        (stuck, smallest) = (0, u64::MAX);
        match broker.relocate(entries) {
            Ok(n) => tracing::debug!("{name}: compaction copied {n} live entries forward"),
            Err(e) => tracing::warn!("{name}: journal compaction could not write: {e}"),
        }
    }
}
