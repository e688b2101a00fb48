//! The slave side: attach to the master's published address and follow its journal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;
use tracing::debug;

use super::wire::{Ack, Codec, Frame, Login, Wal};
use crate::error::{Error, Result};
use crate::events::EventLog;
use crate::faults::gate::{Gated, wait_open};
use crate::store::Store;

/// What `mqsim status` shows for a slave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaveState {
    /// `connecting`, `attaching`, `attached`.
    pub phase: String,
    pub master_end: u64,
}

/// A running attachment; dropping it detaches.
pub struct SlaveLink {
    pub state: Arc<Mutex<SlaveState>>,
    task: JoinHandle<()>,
}

impl Drop for SlaveLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SlaveLink {
    /// Follows `target` (`tcp://host:port`), reconnecting every second until dropped.
    /// Every connection is gated by `peers` (see [`crate::faults`]).
    pub fn start(
        target: String,
        store: Arc<Store>,
        token: String,
        events: EventLog,
        name: String,
        peers: tokio::sync::watch::Receiver<bool>,
    ) -> SlaveLink {
        let state = Arc::new(Mutex::new(SlaveState { phase: "connecting".into(), master_end: 0 }));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                match attach(&target, peers.clone(), &store, &token, &st, &events, &name).await {
                    Ok(()) => debug!("replication connection to {target} closed"),
                    Err(e) => debug!("replication from {target} failed: {e}"),
                }
                st.lock().unwrap().phase = "connecting".into();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        SlaveLink { state, task }
    }
}

/// A slave replays its journal into its index once it is this far behind, in the background
/// and in one go; whatever is left when the master goes quiet waits for the next time, or
/// for promotion ([`Store::snapshot`] catches up first) or a restart ([`Store::open`]).
const CATCH_UP_BEHIND: u64 = 16 * 1024;

/// Starts one background catch-up of the index if the journal at `position` is
/// [`CATCH_UP_BEHIND`] ahead of it and none is running: the receive-and-ack loop never
/// waits for an index commit.
fn index_behind(store: &Arc<Store>, position: u64, indexing: &Arc<AtomicBool>) {
    if position - store.indexed() < CATCH_UP_BEHIND || indexing.swap(true, Ordering::SeqCst) {
        return;
    }
    let (store, indexing) = (store.clone(), indexing.clone());
    tokio::task::spawn_blocking(move || {
        if let Err(e) = store.catch_up() {
            tracing::warn!("indexing the replicated journal failed (retried later): {e}");
        }
        indexing.store(false, Ordering::SeqCst);
    });
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Other(e.to_string()))?
}

fn wal_frame(frame: Frame) -> Result<(Wal, Bytes)> {
    match frame {
        Frame::Wal(wal, payload) => Ok((wal, payload)),
        other => Err(Error::Other(format!("unexpected frame from master: {other:?}"))),
    }
}

async fn attach(
    target: &str,
    mut gate: tokio::sync::watch::Receiver<bool>,
    store: &Arc<Store>,
    token: &str,
    state: &Mutex<SlaveState>,
    events: &EventLog,
    name: &str,
) -> Result<()> {
    // A shut gate holds even the connection attempt: no dial, no refusal, just a wait.
    wait_open(&mut gate).await;
    let hostport = target.strip_prefix("tcp://").unwrap_or(target);
    let socket = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(hostport))
        .await
        .map_err(|_| Error::Timeout(format!("connecting to {target}")))?
        .map_err(Error::io(format!("connecting to {target}")))?;
    let _ = socket.set_nodelay(true);
    let mut framed = Framed::new(Gated::new(socket, gate), Codec);
    let s = store.clone();
    let (node_id, position, last) =
        blocking(move || Ok((s.node_id()?, s.position()? as u64, s.last_record()?))).await?;
    let io = |e: super::wire::CodecError| Error::Other(e.to_string());
    framed
        .send(Frame::Login(Login { node_id, security_token: token.to_string(), position, last }))
        .await
        .map_err(io)?;
    let ok = match tokio::time::timeout(Duration::from_secs(10), framed.next()).await {
        Ok(Some(Ok(Frame::Ok(ok)))) => ok,
        Ok(Some(Ok(Frame::Error(e)))) => {
            events.emit("error", format!("{name}: master {target} refused replication login: {e}"));
            return Err(Error::Other(e));
        }
        _ => return Err(Error::Other("no answer to login".into())),
    };
    if ok.from < position {
        events.emit(
            "resync",
            format!("{name}: journal diverged from the master's at {position}; clearing the store for a full resync"),
        );
        let s = store.clone();
        blocking(move || s.clear()).await?;
    }
    let mut position = ok.from;
    let indexing = Arc::new(AtomicBool::new(false));
    {
        let mut st = state.lock().unwrap();
        st.phase = if position >= ok.master_end { "attached" } else { "attaching" }.into();
        st.master_end = ok.master_end;
    }
    events.emit(
        "slave-attaching",
        format!("{name} attached to {target} at position {position} (master at {})", ok.master_end),
    );
    while let Some(frame) = framed.next().await {
        // Group commit: the `wal` frames already received are applied together, with one
        // fsync and one ack for all of them (several producers keep several in flight).
        let mut wals = vec![wal_frame(frame.map_err(io)?)?];
        while wals.len() < 64 {
            match framed.next().now_or_never() {
                Some(Some(frame)) => wals.push(wal_frame(frame.map_err(io)?)?),
                _ => break,
            }
        }
        let mut expect = position;
        for (wal, _) in &wals {
            if wal.position() != expect {
                return Err(Error::Other(format!("gap: expected {expect}, got {}", wal.position())));
            }
            expect += wal.length;
        }
        // Written right on this worker, not on the blocking pool: an append is one `pwrite`
        // and an fsync about a hundred µs, while a hop to the pool and back costs two thread
        // wake-ups, which on a busy host can each take longer than the fsync. The runtime's
        // other worker keeps serving the ZooKeeper session meanwhile.
        for (wal, payload) in &wals {
            position = store.append_replicated(wal.position(), payload)?;
        }
        if wals.iter().any(|(wal, _)| wal.sync) {
            store.sync()?;
        }
        framed.send(Frame::Ack(Ack { position })).await.map_err(io)?;
        index_behind(store, position, &indexing);
        let mut st = state.lock().unwrap();
        if st.phase == "attaching" && position >= st.master_end {
            st.phase = "attached".into();
            drop(st);
            events.emit("slave-attached", format!("{name} caught up with the master at {position}"));
        }
    }
    Ok(())
}
