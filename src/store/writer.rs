//! The master's write path: append, ship, group fsync, and the wait for slave acks.
//!
//! A write is appended to the journal right on the caller's thread, under one lock (an
//! append is one `pwrite` of a few µs), and the new end of the journal is announced: the
//! replication senders watch it and ship the bytes to the slaves at once. Then, per `sync`:
//!
//! * **DISK bit** (`local_disk`, `remote_disk`, `quorum_disk`): the writer thread fsyncs
//!   the journal, once for every write that asked since its last fsync (group commit),
//!   while the same bytes are on their way to the slaves: the local fsync overlaps the
//!   slaves' round trip instead of delaying it.
//! * **REMOTE bit** (`remote_*`, `quorum_*`): the write completes once `replicas/2` slaves
//!   have acked a position at or past its end; the caller waits on the quorum-acked
//!   position itself, so the ack that completes it wakes it directly.
//!
//! The writer thread also keeps the index up ([`Store::catch_up`]), off every send's path:
//! after each fsync, and at most [`INDEX_LAG`] behind other appends (which nudge it once,
//! not on every write). Writes nobody waits for ([`Writer::write_nowait`]: acks) are
//! appended by the thread, in batches.
//!
//! **A failed fsync ends the term.** The journal is poisoned at the first failure and never
//! fsyncs again (see [`super::journal`]): every write waiting for that fsync, or for any
//! later one, fails, no append is taken any more, and [`Writer::lease_valid`] turns false,
//! so the client connectors drop their clients (who fail over and resend) instead of
//! acknowledging. The node watches [`Store::fault`] and exits (see [`crate::node`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::Store;
use super::SyncMode;
use super::record::Record;
use crate::error::{Error, Result};

/// What the writer asks before it acknowledges a write: is this node still allowed to?
/// The election's master lease answers it (`crate::election::lease`); the store does not
/// need to know how.
pub trait Fence: Send + Sync + std::fmt::Debug {
    fn valid(&self) -> bool;
}

/// How long the index may trail the journal while writes keep coming.
pub const INDEX_LAG: Duration = Duration::from_millis(2);

/// What the writer thread is asked to do.
enum Job {
    /// Append records nobody waits for (acks), batched with others.
    Append(Vec<Record>),
    /// fsync everything appended so far, then answer.
    Sync(oneshot::Sender<std::result::Result<(), String>>),
    /// Index what callers appended.
    CatchUp,
}

/// Cloneable handle to the write path of one master term.
#[derive(Clone)]
pub struct Writer {
    tx: std_mpsc::Sender<Job>,
    shared: Arc<Shared>,
    mode: SyncMode,
    /// Writes are acknowledged only while this master's lease holds (zombie-master guard).
    lease: Arc<dyn Fence>,
    /// The end of the journal after the last append (replication senders watch it).
    end: watch::Receiver<u64>,
    /// The position `replicas/2` slaves have acked.
    quorum_acked: watch::Receiver<u64>,
}

/// What the callers' threads and the writer thread share.
struct Shared {
    store: Arc<Store>,
    /// Held across append and publication, so ends are published in journal order.
    end_tx: Mutex<watch::Sender<u64>>,
    /// Callers have appended since the writer thread last found the index caught up.
    unindexed: AtomicBool,
}

impl Writer {
    /// Starts the writer. `quorum_acked` is the position `replicas/2` slaves have acked
    /// (`u64::MAX` when no ack is needed).
    pub fn start(
        store: Arc<Store>,
        mode: SyncMode,
        quorum_acked: watch::Receiver<u64>,
        lease: Arc<dyn Fence>,
    ) -> Result<Writer> {
        let (tx, rx) = std_mpsc::channel();
        let (end_tx, end) = watch::channel(store.position()? as u64);
        let shared = Arc::new(Shared { store, end_tx: Mutex::new(end_tx), unindexed: AtomicBool::new(false) });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_loop(&s, rx))
            .map_err(Error::io("starting the store writer"))?;
        Ok(Writer { tx, shared, mode, lease, end, quorum_acked })
    }

    /// Appends `records` atomically; resolves with the journal end once durable per `sync`
    /// (if `synced`: a persistent send or a commit; otherwise once appended).
    /// Fails (nothing acknowledged) if this node's master lease has lapsed, before or after.
    pub async fn write(&self, records: Vec<Record>, synced: bool) -> Result<u64> {
        self.append(records, synced)?.durable().await
    }

    /// The first half of [`Writer::write`]: `records` are in the journal (and on their way
    /// to the slaves) when this returns; [`Pending::durable`] waits for the rest.
    pub fn append(&self, records: Vec<Record>, synced: bool) -> Result<Pending<'_>> {
        self.check_lease()?;
        let ends = self.shared.append(&records).map_err(|e| self.term_ended(e))?;
        let end = ends.last().copied().unwrap_or_else(|| *self.end.borrow());
        let fsync = if synced && self.mode.local_disk {
            let (done, rx) = oneshot::channel();
            self.tx.send(Job::Sync(done)).map_err(|_| closed())?;
            Some(rx)
        } else {
            if !self.shared.unindexed.swap(true, Ordering::SeqCst) {
                let _ = self.tx.send(Job::CatchUp);
            }
            None
        };
        Ok(Pending { writer: self, end, synced, fsync })
    }

    /// Queues an unsynced append (acks) to the writer thread without waiting for it. A
    /// write appended meanwhile by a caller may land first; nothing depends on that, since
    /// an ack only removes its own message, which was stored before it could be delivered.
    pub fn write_nowait(&self, records: Vec<Record>) -> Result<()> {
        self.check_lease()?;
        self.tx.send(Job::Append(records)).map_err(|_| closed())
    }

    /// Whether this term's master lease still holds (and its store still takes writes: a
    /// failed fsync ends the term).
    pub fn lease_valid(&self) -> bool {
        self.lease.valid() && self.shared.store.failed().is_none()
    }

    fn check_lease(&self) -> Result<()> {
        if let Some(why) = self.shared.store.failed() {
            return Err(Error::NotMaster(format!(
                "this node's store failed ({why}): it stops being master, so the write is not acknowledged"
            )));
        }
        if self.lease.valid() {
            Ok(())
        } else {
            Err(Error::NotMaster(
                "this node's master lease has expired (no confirmation from ZooKeeper): it may no longer be the \
                 master, so the write is not acknowledged"
                    .into(),
            ))
        }
    }

    /// A journal that refuses the append because an fsync failed has ended this term (as
    /// [`Writer::check_lease`] would say had it run a moment later): the write is refused
    /// as not-master, not as a storage fault the client could do something about.
    fn term_ended(&self, e: Error) -> Error {
        match self.shared.store.failed() {
            Some(_) => Error::NotMaster(e.to_string()),
            None => e,
        }
    }

    /// The store's usage against `storeLimit`: its live data, and what the index has not
    /// counted yet (journal bytes past the index's position).
    pub fn store_usage(&self) -> u64 {
        let store = &self.shared.store;
        let unindexed = (*self.end.borrow()).saturating_sub(store.indexed());
        store.live_bytes().saturating_add(unindexed)
    }

    pub fn end(&self) -> watch::Receiver<u64> {
        self.end.clone()
    }
}

/// A write in the journal, not yet durable per `sync`.
pub struct Pending<'a> {
    writer: &'a Writer,
    end: u64,
    synced: bool,
    /// The writer thread's answer to this write's fsync (DISK bit).
    fsync: Option<oneshot::Receiver<std::result::Result<(), String>>>,
}

impl Pending<'_> {
    /// Resolves with the journal end once the write is durable per `sync`.
    pub async fn durable(self) -> Result<u64> {
        if let Some(rx) = self.fsync {
            rx.await.map_err(|_| stepped_down())?.map_err(|e| Error::NotMaster(format!("store sync failed: {e}")))?;
        }
        if self.synced && self.writer.mode.remote {
            let mut acked = self.writer.quorum_acked.clone();
            acked.wait_for(|at| *at >= self.end).await.map_err(|_| stepped_down())?;
        }
        self.writer.check_lease()?;
        Ok(self.end)
    }
}

fn closed() -> Error {
    Error::NotMaster("the store is closed (this node is no longer master)".into())
}

fn stepped_down() -> Error {
    Error::NotMaster("the store closed before the write completed (master stepped down)".into())
}

impl Shared {
    /// Appends to the journal and announces the new end; returns each record's end.
    fn append<'a>(&self, records: impl IntoIterator<Item = &'a Record>) -> Result<Vec<u64>> {
        let end_tx = self.end_tx.lock().unwrap();
        let ends = self.store.append(records)?;
        if let Some(&last) = ends.last() {
            end_tx.send_replace(last);
        }
        Ok(ends)
    }

    /// Brings the index up to the journal. After a quiet [`INDEX_LAG`] (`idle`) the
    /// thread stops waking up on its own until a caller appends again.
    fn index(&self, idle: bool) {
        if let Err(e) = self.store.catch_up() {
            tracing::error!("indexing the journal failed (it is retried after the next write): {e}");
            return;
        }
        if idle {
            self.unindexed.store(false, Ordering::SeqCst);
            // An append that saw the flag still set did not nudge: it is indexed next time.
            if self.store.indexed() < self.store.position().unwrap_or(0) as u64 {
                self.unindexed.store(true, Ordering::SeqCst);
            }
        }
    }
}

fn write_loop(s: &Shared, rx: std_mpsc::Receiver<Job>) {
    loop {
        let first = if s.unindexed.load(Ordering::SeqCst) {
            match rx.recv_timeout(INDEX_LAG) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(job) => Some(job),
                Err(_) => return,
            }
        };
        let idle = first.is_none();
        let (mut appends, mut syncs) = (Vec::new(), Vec::new());
        let mut next = first;
        while let Some(job) = next.take() {
            match job {
                Job::Append(records) => appends.push(records),
                Job::Sync(done) => syncs.push(done),
                Job::CatchUp => {}
            }
            if appends.len() + syncs.len() < 1024 {
                next = rx.try_recv().ok();
            }
        }
        // One unstorable record must not take the others of the batch with it.
        for records in appends.iter_mut() {
            records.retain(|r| match r.check_storable() {
                Ok(()) => true,
                Err(why) => {
                    tracing::error!("a record queued for the journal is refused: {why}");
                    false
                }
            });
        }
        if !appends.is_empty()
            && let Err(e) = s.append(appends.iter().flatten())
        {
            tracing::error!("appending acks to the journal failed (they are redelivered after a failover): {e}");
        }
        if !syncs.is_empty() {
            let synced = s.store.sync().map_err(|e| e.to_string());
            for done in syncs {
                let _ = done.send(synced.clone());
            }
        }
        s.index(idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::election::lease::Lease; // the fence the node passes in
    use crate::error::Kind;
    use crate::store::record::StoredMessage;

    fn enqueue(seq: u64) -> Record {
        Record::Enqueue {
            store: "q".into(),
            msg: StoredMessage {
                seq,
                destination: "/queue/q".into(),
                headers: vec![],
                body: vec![1; 100],
                persistent: true,
                timestamp: 0,
                redelivery_count: 0,
                producer: None,
            },
        }
    }

    #[tokio::test]
    async fn remote_writes_wait_for_the_quorum_ack() {
        // quorum_disk: appended here, fsynced by the writer thread; quorum_mem: appended here only.
        for name in ["quorum_disk", "quorum_mem"] {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(Store::open(dir.path()).unwrap());
            let (ack_tx, ack_rx) = watch::channel(0u64);
            let mode = SyncMode::parse(name).unwrap();
            let lease = Arc::new(Lease::new(std::time::Duration::from_secs(60)));
            lease.renew();
            let w = Writer::start(store.clone(), mode, ack_rx, lease).unwrap();
            // Not synced: done at once.
            let end1 = w.write(vec![enqueue(1)], false).await.unwrap();
            assert_eq!(end1 as i64, store.position().unwrap());
            // Synced: blocked until a slave acks its end.
            let w2 = w.clone();
            let pending = tokio::spawn(async move { w2.write(vec![enqueue(2), enqueue(3)], true).await });
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            assert!(!pending.is_finished(), "must wait for the slave ack");
            let end = *w.end().borrow();
            ack_tx.send(end - 1).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert!(!pending.is_finished(), "an ack short of the end is not enough");
            ack_tx.send(end).unwrap();
            assert_eq!(pending.await.unwrap().unwrap(), end);
            // Acks queued without waiting land in the journal too.
            w.write_nowait(vec![Record::Dequeue { store: "q".into(), seq: 1 }]).unwrap();
            tokio::time::timeout(std::time::Duration::from_secs(5), w.end().wait_for(|e| *e > end))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(store.snapshot().unwrap().stores["q"].len(), 2, "{name}");
        }
    }

    #[tokio::test]
    async fn only_disk_modes_fsync_and_only_for_synced_writes() {
        // A journal reserves its zeros at its first fsync (journal.rs): the file's size tells.
        for (name, synced, fsyncs) in
            [("local_disk", true, true), ("local_disk", false, false), ("local_mem", true, false)]
        {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(Store::open(dir.path()).unwrap());
            let (_ack_tx, ack_rx) = watch::channel(u64::MAX);
            let lease = Arc::new(Lease::new(std::time::Duration::from_secs(60)));
            lease.renew();
            let w = Writer::start(store.clone(), SyncMode::parse(name).unwrap(), ack_rx, lease).unwrap();
            w.write(vec![enqueue(1)], synced).await.unwrap();
            let len = std::fs::metadata(dir.path().join(crate::store::journal::FILE_NAME)).unwrap().len();
            assert_eq!(len >= crate::store::journal::RESERVE, fsyncs, "{name}, synced {synced}: {len} bytes");
        }
    }

    #[tokio::test]
    async fn a_failed_fsync_fails_every_pending_and_later_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let (_ack_tx, ack_rx) = watch::channel(u64::MAX);
        let lease = Arc::new(Lease::new(std::time::Duration::from_secs(60)));
        lease.renew();
        let w = Writer::start(store.clone(), SyncMode::parse("local_disk").unwrap(), ack_rx, lease).unwrap();
        let mut fault = store.fault();
        w.write(vec![enqueue(1)], true).await.unwrap();
        store.fail_fsync_after(0);
        // Several writes in flight when the fsync fails: none is acknowledged.
        let pending: Vec<_> = (2..6)
            .map(|seq| {
                let w = w.clone();
                tokio::spawn(async move { w.write(vec![enqueue(seq)], true).await })
            })
            .collect();
        for p in pending {
            let e = p.await.unwrap().unwrap_err();
            assert!(e.to_string().contains("fsync"), "{e}");
            assert_eq!(e.kind(), Kind::NotMaster, "the term ended: {e}");
        }
        fault.wait_for(Option::is_some).await.unwrap();
        assert!(!w.lease_valid(), "the term ends with the failed fsync");
        let later = [
            w.write(vec![enqueue(9)], true).await.expect_err("no later synced write either"),
            w.write(vec![enqueue(10)], false).await.expect_err("nor any append"),
            w.write_nowait(vec![Record::Dequeue { store: "q".into(), seq: 1 }]).expect_err("nor a queued ack"),
        ];
        for e in later {
            assert_eq!(e.kind(), Kind::NotMaster, "{e}");
        }
    }

    #[tokio::test]
    async fn a_lapsed_or_revoked_lease_refuses_writes_as_not_master() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let (_ack_tx, ack_rx) = watch::channel(u64::MAX);
        let lease = Arc::new(Lease::new(std::time::Duration::from_secs(60)));
        lease.renew();
        let w = Writer::start(store.clone(), SyncMode::parse("local_mem").unwrap(), ack_rx, lease.clone()).unwrap();
        w.write(vec![enqueue(1)], true).await.unwrap();
        lease.revoke();
        let e = w.write(vec![enqueue(2)], true).await.expect_err("a write after the lease is gone");
        assert_eq!(e.kind(), Kind::NotMaster, "{e}");
        assert!(e.to_string().contains("master lease has expired"), "{e}");
        let e = w.write_nowait(vec![Record::Dequeue { store: "q".into(), seq: 1 }]).expect_err("an ack too");
        assert_eq!(e.kind(), Kind::NotMaster, "{e}");
    }

    #[tokio::test]
    async fn the_index_follows_appends_made_on_callers_threads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let (_ack_tx, ack_rx) = watch::channel(u64::MAX);
        let lease = Arc::new(Lease::new(std::time::Duration::from_secs(60)));
        lease.renew();
        let w = Writer::start(store.clone(), SyncMode::parse("local_mem").unwrap(), ack_rx, lease).unwrap();
        for round in 0..3u64 {
            // A burst, then a quiet spell longer than INDEX_LAG: each time the index catches up.
            for seq in 0..20 {
                w.write(vec![enqueue(round * 100 + seq + 1)], true).await.unwrap();
            }
            let end = store.position().unwrap() as u64;
            let t0 = std::time::Instant::now();
            while store.indexed() < end {
                assert!(t0.elapsed() < std::time::Duration::from_secs(5), "the index stays behind the journal");
                tokio::time::sleep(INDEX_LAG).await;
            }
            tokio::time::sleep(INDEX_LAG * 3).await;
        }
    }
}
