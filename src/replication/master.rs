//! The master's replication server: logs slaves in, streams the journal, tracks their acks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;
use tracing::{debug, warn};

use super::quorum_position;
use super::wire::{Codec, Frame, LoginOk, Wal};
use crate::events::EventLog;
use crate::faults::gate::{Gated, wait_open};
use crate::store::Store;

/// One attached slave, as `mqsim status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaveInfo {
    pub node_id: String,
    pub remote: String,
    pub acked: u64,
    pub caught_up: bool,
}

pub struct Settings {
    pub token: String,
    /// Slaves fsync before acking.
    pub remote_disk: bool,
    /// `replicas/2`: acks a synced write needs.
    pub need: usize,
}

type Slaves = Arc<Mutex<BTreeMap<String, SlaveInfo>>>;

/// A slave at most this far behind is fed from the async task itself (see `stream`).
const INLINE_READ: u64 = 256 * 1024;

pub struct ReplicationServer {
    /// The position `need` slaves have acked (`u64::MAX` if `need` is 0).
    pub quorum_acked: watch::Receiver<u64>,
    /// How many slaves have caught up with the journal end they saw at login.
    pub caught_up: watch::Receiver<usize>,
    slaves: Slaves,
    accept: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl ReplicationServer {
    /// The channel the server publishes the quorum-acked position on (the writer waits on
    /// its receiver).
    pub fn quorum_channel(need: usize) -> (watch::Sender<u64>, watch::Receiver<u64>) {
        watch::channel(if need == 0 { u64::MAX } else { 0 })
    }

    /// Serves slaves on `listener`. `end` is the writer's journal end.
    pub fn start(
        listener: TcpListener,
        store: Arc<Store>,
        end: watch::Receiver<u64>,
        settings: Settings,
        events: EventLog,
        quorum_tx: watch::Sender<u64>,
        peers: watch::Receiver<bool>,
    ) -> ReplicationServer {
        let quorum_acked = quorum_tx.subscribe();
        let (caught_up_tx, caught_up) = watch::channel(0);
        let slaves: Slaves = Arc::default();
        let (stop, stop_rx) = watch::channel(false);
        let ctx = Arc::new(Ctx { store, end, settings, events, slaves: slaves.clone(), quorum_tx, caught_up_tx });
        let accept = tokio::spawn(async move {
            loop {
                let Ok((socket, peer)) = listener.accept().await else { continue };
                let _ = socket.set_nodelay(true);
                let (ctx, mut stop, mut gate) = (ctx.clone(), stop_rx.clone(), peers.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        r = async {
                            // Cut from its peers, the master hears nothing, not even a login.
                            wait_open(&mut gate).await;
                            serve(Gated::new(socket, gate), peer.to_string(), ctx.clone()).await
                        } => {
                            if let Err(e) = r { debug!("replication session with {peer} ended: {e}") }
                        }
                        _ = stop.changed() => {}
                    }
                });
            }
        });
        ReplicationServer { quorum_acked, caught_up, slaves, accept, stop }
    }

    pub fn slaves(&self) -> Vec<SlaveInfo> {
        self.slaves.lock().unwrap().values().cloned().collect()
    }

    pub fn stop(self) {
        let _ = self.stop.send(true);
        self.accept.abort();
    }
}

struct Ctx {
    store: Arc<Store>,
    end: watch::Receiver<u64>,
    settings: Settings,
    events: EventLog,
    slaves: Slaves,
    quorum_tx: watch::Sender<u64>,
    caught_up_tx: watch::Sender<usize>,
}

impl Ctx {
    fn update(&self, key: &str, f: impl FnOnce(&mut SlaveInfo)) {
        let mut slaves = self.slaves.lock().unwrap();
        if let Some(s) = slaves.get_mut(key) {
            f(s);
        }
        let q = quorum_position(slaves.values().map(|s| s.acked), self.settings.need);
        self.quorum_tx.send_if_modified(|v| {
            let changed = *v != q;
            *v = q;
            changed
        });
        let n = slaves.values().filter(|s| s.caught_up).count();
        self.caught_up_tx.send_if_modified(|v| {
            let changed = *v != n;
            *v = n;
            changed
        });
    }
}

type Link = Framed<Gated<TcpStream>, Codec>;

async fn serve(socket: Gated<TcpStream>, remote: String, ctx: Arc<Ctx>) -> crate::Result<()> {
    let mut framed = Framed::new(socket, Codec);
    let login = match tokio::time::timeout(Duration::from_secs(10), framed.next()).await {
        Ok(Some(Ok(Frame::Login(l)))) => l,
        _ => return Err(crate::Error::Other("no login".into())),
    };
    if login.security_token != ctx.settings.token {
        warn!("slave {remote} sent an invalid security_token");
        let _ = framed.send(Frame::Error("Invalid security_token".into())).await;
        return Ok(());
    }
    let store = ctx.store.clone();
    let master_end = *ctx.end.borrow();
    let (pos, last) = (login.position, login.last);
    let prefix = tokio::task::spawn_blocking(move || match last {
        Some((start, crc)) => store.record_at(start).map(|r| r == Some((pos, crc))),
        None => Ok(pos == 0),
    })
    .await
    .map_err(|e| crate::Error::Other(e.to_string()))??;
    let from = if prefix && login.position <= master_end { login.position } else { 0 };
    framed.send(Frame::Ok(LoginOk { from, master_end })).await.map_err(|e| crate::Error::Other(e.to_string()))?;
    ctx.events.emit(
        "slave-attaching",
        format!(
            "slave {} ({remote}) logged in at position {}; {}",
            login.node_id,
            login.position,
            if from == login.position {
                "streaming from there".to_string()
            } else {
                "its journal diverged: full resync".into()
            }
        ),
    );
    // Keyed by connection: a reconnecting slave's old entry goes when its session ends.
    let key = remote.clone();
    ctx.slaves.lock().unwrap().insert(
        key.clone(),
        SlaveInfo { node_id: login.node_id.clone(), remote, acked: from, caught_up: from >= master_end },
    );
    ctx.update(&key, |_| {});
    let result = stream(&mut framed, &ctx, &key, &login.node_id, from, master_end).await;
    ctx.slaves.lock().unwrap().remove(&key);
    ctx.update(&key, |_| {});
    result
}

async fn stream(
    framed: &mut Link,
    ctx: &Ctx,
    key: &str,
    node_id: &str,
    mut next: u64,
    master_end: u64,
) -> crate::Result<()> {
    let mut end = ctx.end.clone();
    let err = |e: super::wire::CodecError| crate::Error::Other(e.to_string());
    loop {
        let target = *end.borrow_and_update();
        while next < target {
            // In the steady state the records were just appended and are in the page cache:
            // read them right here instead of hopping to the blocking pool and back, which
            // would cost two thread wake-ups per group. Catch-up reads still go there.
            let bytes = if target - next <= INLINE_READ {
                ctx.store.read_journal(next, INLINE_READ as usize)?
            } else {
                let store = ctx.store.clone();
                tokio::task::spawn_blocking(move || store.read_journal(next, 1 << 20))
                    .await
                    .map_err(|e| crate::Error::Other(e.to_string()))??
            };
            if bytes.is_empty() {
                break;
            }
            let wal = Wal { file: 0, offset: next, length: bytes.len() as u64, sync: ctx.settings.remote_disk };
            next += bytes.len() as u64;
            framed.feed(Frame::Wal(wal, Bytes::from(bytes))).await.map_err(err)?;
        }
        framed.flush().await.map_err(err)?;
        tokio::select! {
            frame = framed.next() => match frame {
                Some(Ok(Frame::Ack(a))) => {
                    let mut first_catch_up = false;
                    ctx.update(key, |s| {
                        s.acked = s.acked.max(a.position);
                        if !s.caught_up && s.acked >= master_end {
                            s.caught_up = true;
                            first_catch_up = true;
                        }
                    });
                    if first_catch_up {
                        ctx.events.emit("slave-attached", format!("slave {node_id} has caught up (position {})", a.position));
                    }
                }
                Some(Ok(other)) => return Err(crate::Error::Other(format!("unexpected frame from slave: {other:?}"))),
                Some(Err(e)) => return Err(err(e)),
                None => return Ok(()),
            },
            r = end.changed() => if r.is_err() { return Ok(()) },
        }
    }
}
