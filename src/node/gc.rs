//! The store's housekeeping while the node runs: garbage collection of dead log files on
//! every node (master and slaves alike, [`crate::store::gc`]) and, on the master,
//! compaction of the few live entries that keep an old file alive
//! ([`crate::broker::Broker::relocate`]). Both run once a second on the blocking pool.

use std::sync::Arc;
use std::time::Duration;

use crate::broker::Broker;
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
        match tokio::task::spawn_blocking(move || s.collect_garbage()).await {
            Ok(Ok(done)) if done.files > 0 => events.emit(
                "gc",
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

/// On the master: copies forward the live entries of old, mostly dead log files.
pub async fn compact(store: Arc<Store>, broker: Arc<Broker>, name: String) {
    loop {
        tokio::time::sleep(INTERVAL).await;
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
            continue;
        }
        match broker.relocate(entries) {
            Ok(n) => tracing::debug!("{name}: compaction copied {n} live entries forward"),
            Err(e) => tracing::warn!("{name}: journal compaction could not write: {e}"),
        }
    }
}
