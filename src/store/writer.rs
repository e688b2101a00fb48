//! The master's write path: group commit, local fsync, and the wait for slave acks.
//!
//! Writes from every connection go through one thread. It takes everything queued, appends
//! it to the journal in one write (group commit), announces the new end of the journal
//! (the replication senders ship it to slaves), then fsyncs once if the `sync` mode has the
//! DISK bit and some write asked for it, so the local fsync overlaps the slaves' round trip.
//! Last, while the group is in flight, the same thread brings the index up to date
//! ([`Store::catch_up`]): the index is never on a send's path.
//! A write that needs the REMOTE bit completes only when `replicas/2` slaves have acked a
//! position at or past its end; that wait happens off the writer thread, so the next group
//! is written while the previous one is in flight to the slaves.
//!
//! Without the DISK bit (`*_mem`, `remote_*`) there is no fsync to share, so a write that
//! is waited for is appended right on the caller's thread, under the same lock the writer
//! thread appends under (a journal append is one `pwrite` of a few µs), and the thread is
//! only nudged to index it. That saves the two thread wake-ups of the hand-off to the
//! writer thread and back on every synchronous send. Writes nobody waits for
//! ([`Writer::write_nowait`]: acks) still go to the thread, which batches them.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};

use super::Store;
use super::record::Record;
use crate::config::SyncMode;
use crate::election::lease::Lease;
use crate::error::{Error, Result};

struct Request {
    records: Vec<Record>,
    /// A persistent send or commit: honours the `sync` mode. Otherwise just appended.
    synced: bool,
    done: oneshot::Sender<Result<u64>>,
}

/// What the writer thread is asked to do.
enum Job {
    Write(Request),
    /// Index what a caller appended itself (modes without the DISK bit).
    CatchUp,
}

/// Cloneable handle to the writer thread of one master term.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Job>,
    /// Set when the mode has no DISK bit: writes are committed on the caller's thread.
    direct: Option<Arc<Direct>>,
    /// Writes are acknowledged only while this master's lease holds (zombie-master guard).
    lease: Arc<Lease>,
    /// The end of the journal after the last commit (replication senders watch it).
    end: watch::Receiver<u64>,
}

impl Writer {
    /// Starts the writer. `quorum_acked` is the position `replicas/2` slaves have acked
    /// (`u64::MAX` when no ack is needed).
    pub fn start(
        store: Arc<Store>,
        mode: SyncMode,
        quorum_acked: watch::Receiver<u64>,
        lease: Arc<Lease>,
    ) -> Result<Writer> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (end_tx, end) = watch::channel(store.position()? as u64);
        let (wait_tx, wait_rx) = mpsc::unbounded_channel();
        let end_tx = Arc::new(Mutex::new(end_tx));
        let direct = (!mode.local_disk)
            .then(|| Arc::new(Direct { store: store.clone(), mode, end_tx: end_tx.clone(), wait_tx: wait_tx.clone() }));
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_loop(store, mode, rx, end_tx, wait_tx))
            .map_err(Error::io("starting the store writer"))?;
        tokio::spawn(wait_for_acks(wait_rx, quorum_acked));
        Ok(Writer { tx, direct, lease, end })
    }

    /// Appends `records` atomically; resolves with the journal end once durable per `sync`.
    /// Fails (nothing acknowledged) if this node's master lease has lapsed, before or after.
    pub async fn write(&self, records: Vec<Record>, synced: bool) -> Result<u64> {
        self.check_lease()?;
        let (done, rx) = oneshot::channel();
        self.submit(Request { records, synced, done })?;
        let end = rx
            .await
            .map_err(|_| Error::Other("the store closed before the write completed (master stepped down)".into()))??;
        self.check_lease()?;
        Ok(end)
    }

    /// Queues an unsynced append (acks) to the writer thread without waiting for it. The
    /// thread keeps queue order, but a write committed meanwhile on a caller's thread (modes
    /// without the DISK bit) may land first; nothing depends on that, since an ack only
    /// removes its own message, which was stored before it could be delivered.
    pub fn write_nowait(&self, records: Vec<Record>) -> Result<()> {
        self.check_lease()?;
        let (done, _) = oneshot::channel();
        self.tx.send(Job::Write(Request { records, synced: false, done })).map_err(|_| closed())
    }

    fn submit(&self, r: Request) -> Result<()> {
        match &self.direct {
            Some(d) => {
                commit(&d.store, d.mode, vec![r], &d.end_tx.lock().unwrap(), &d.wait_tx);
                self.tx.send(Job::CatchUp).map_err(|_| closed())
            }
            None => self.tx.send(Job::Write(r)).map_err(|_| closed()),
        }
    }

    /// Whether this term's master lease still holds.
    pub fn lease_valid(&self) -> bool {
        self.lease.valid()
    }

    fn check_lease(&self) -> Result<()> {
        if self.lease.valid() {
            Ok(())
        } else {
            Err(Error::Other(
                "this node's master lease has expired (no confirmation from ZooKeeper): it may no longer be the \
                 master, so the write is not acknowledged"
                    .into(),
            ))
        }
    }

    pub fn end(&self) -> watch::Receiver<u64> {
        self.end.clone()
    }
}

type Waiting = (u64, oneshot::Sender<Result<u64>>);

fn closed() -> Error {
    Error::Other("the store is closed (this node is no longer master)".into())
}

/// What a caller needs to commit on its own thread (modes without the DISK bit).
struct Direct {
    store: Arc<Store>,
    mode: SyncMode,
    /// Held across append and publication (here and by the writer thread), so ends are
    /// published in journal order.
    end_tx: Arc<Mutex<watch::Sender<u64>>>,
    wait_tx: mpsc::UnboundedSender<Waiting>,
}

fn write_loop(
    store: Arc<Store>,
    mode: SyncMode,
    mut rx: mpsc::UnboundedReceiver<Job>,
    end_tx: Arc<Mutex<watch::Sender<u64>>>,
    wait_tx: mpsc::UnboundedSender<Waiting>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            if let Job::Write(r) = job {
                batch.push(r);
            }
            if batch.len() < 1024 {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            commit(&store, mode, batch, &end_tx.lock().unwrap(), &wait_tx);
        }
        if let Err(e) = store.catch_up() {
            tracing::error!("indexing the journal failed (it is retried after the next write): {e}");
        }
    }
}

/// Appends one group to the journal in one write, publishes the new end, fsyncs if the mode
/// asks, then completes each request (or hands it to [`wait_for_acks`]).
fn commit(
    store: &Store,
    mode: SyncMode,
    batch: Vec<Request>,
    end_tx: &watch::Sender<u64>,
    wait_tx: &mpsc::UnboundedSender<Waiting>,
) {
    let records: Vec<Record> = batch.iter().flat_map(|r| r.records.iter().cloned()).collect();
    let fail = |batch: Vec<Request>, e: Error| {
        let msg = e.to_string();
        for r in batch {
            let _ = r.done.send(Err(Error::Other(format!("store write failed: {msg}"))));
        }
    };
    let written = match store.append(&records) {
        Ok(w) => w,
        Err(e) => {
            fail(batch, e);
            return;
        }
    };
    // Each request's end position: walk the written records in order.
    let mut ends = written.into_iter();
    let mut last_end = *end_tx.borrow();
    let mut completions = Vec::with_capacity(batch.len());
    for r in batch {
        for _ in 0..r.records.len() {
            last_end = ends.next().unwrap_or(last_end);
        }
        completions.push((r, last_end));
    }
    // Ship first, then fsync: the slaves receive (and with `*_disk` fsync) this group while
    // it is fsynced here, so a synced write costs about max(local fsync, slave round trip +
    // slave fsync) rather than their sum. It completes only once both are done.
    end_tx.send_replace(last_end);
    if mode.local_disk && completions.iter().any(|(r, _)| r.synced) {
        if let Err(e) = store.sync() {
            fail(completions.into_iter().map(|(r, _)| r).collect(), e);
            return;
        }
    }
    for (r, end) in completions {
        if r.synced && mode.remote {
            let _ = wait_tx.send((end, r.done));
        } else {
            let _ = r.done.send(Ok(end));
        }
    }
}

/// Completes remote-synced writes as the quorum-acked position passes their end.
async fn wait_for_acks(mut rx: mpsc::UnboundedReceiver<Waiting>, mut acked: watch::Receiver<u64>) {
    let mut pending: std::collections::VecDeque<Waiting> = Default::default();
    loop {
        let at = *acked.borrow_and_update();
        while pending.front().is_some_and(|(end, _)| *end <= at) {
            let (end, done) = pending.pop_front().expect("checked");
            let _ = done.send(Ok(end));
        }
        tokio::select! {
            w = rx.recv() => match w {
                Some(w) => pending.push_back(w),
                None => return,
            },
            r = acked.changed() => if r.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        // quorum_disk: through the writer thread; quorum_mem: committed on the caller's thread.
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
}
