//! The master's replication server: logs slaves in ([`super::auth`]), streams the journal,
//! tracks their acks ([`super::votes`]).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;
use tracing::{debug, warn};

use super::auth::{MasterHandshake, Secret, VerifiedSlave};
use super::votes::{Replaced, Votes};
use super::wire::{Codec, Frame, LOGIN_TIMEOUT, Login, MAX_LOGIN_FILES, Wal};
use crate::events::EventKind;
use crate::events::EventLog;
use crate::faults::gate::{Gated, wait_open};
use crate::store::Store;
use crate::store::journal::Chunk;

pub use crate::status::SlaveInfo;

pub struct Settings {
    /// The cluster's shared secret (see [`super::auth`]).
    pub secret: Secret,
    /// This master's node name.
    pub me: String,
    /// Every configured node name: only these may log in (never `me`).
    pub nodes: Vec<String>,
    /// Slaves fsync before acking.
    pub remote_disk: bool,
    /// `replicas/2`: acks a synced write needs.
    pub need: usize,
}

type Slaves = Arc<Mutex<Votes>>;

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
            // Out of file descriptors (EMFILE) or the like: back off instead of spinning;
            // every pending login ends within LOGIN_TIMEOUT anyway.
            let mut backoff = crate::transport::AcceptBackoff::new("replication server");
            loop {
                let (socket, peer) = crate::transport::accept(&listener, &mut backoff).await;
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
        self.slaves.lock().unwrap().infos()
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
    /// Applies `f` to the votes, then republishes the quorum position and caught-up count.
    fn update<T>(&self, f: impl FnOnce(&mut Votes) -> T) -> T {
        let mut slaves = self.slaves.lock().unwrap();
        let out = f(&mut slaves);
        let q = slaves.quorum(self.settings.need);
        self.quorum_tx.send_if_modified(|v| {
            let changed = *v != q;
            *v = q;
            changed
        });
        let n = slaves.caught_up();
        self.caught_up_tx.send_if_modified(|v| {
            let changed = *v != n;
            *v = n;
            changed
        });
        out
    }
}

type Link = Framed<Gated<TcpStream>, Codec>;

async fn serve(socket: Gated<TcpStream>, remote: String, ctx: Arc<Ctx>) -> crate::Result<()> {
    let mut framed = Framed::new(socket, Codec);
    let (slave, login) = match tokio::time::timeout(LOGIN_TIMEOUT, handshake(&mut framed, &ctx)).await {
        Ok(Ok(v)) => v,
        Ok(Err(why)) => {
            // Nothing but this one line goes back: no journal byte, no vote.
            warn!("replication login from {remote} refused: {why}; connection closed");
            let _ = framed.send(Frame::Error(format!("login refused: {why}"))).await;
            return Ok(());
        }
        Err(_) => {
            warn!("replication login from {remote} refused: not completed within {LOGIN_TIMEOUT:?}; connection closed");
            return Ok(());
        }
    };
    let node_id = slave.node_id().to_string();
    let store = ctx.store.clone();
    let master_end = *ctx.end.borrow();
    // Nothing is collected while this slave is judged and streamed to (store::gc).
    let pin = ctx.store.pin(0);
    let asked = login.clone();
    let (from, keep) = tokio::task::spawn_blocking(move || plan(&store, &asked, master_end))
        .await
        .map_err(|e| crate::Error::Other(e.to_string()))??;
    pin.advance(from);
    let resync = keep.as_ref().map(Vec::len);
    framed.send(Frame::Ok(slave.ok(from, master_end, keep))).await.map_err(link_error)?;
    let (conn, replaced) = ctx.update(|v| v.attach(&node_id, &remote, from, master_end));
    ctx.events.emit(
        EventKind::SlaveAttaching,
        format!(
            "slave {node_id} ({remote}) logged in at position {}; {}{}",
            login.position,
            match (from == login.position, resync) {
                (true, None) => "streaming from there".to_string(),
                (_, Some(kept)) => format!(
                    "incremental resync from position {from}: it keeps {kept} older log file(s) and takes what \
                     follows"
                ),
                (false, None) => "its journal has nothing in common with this one that is still here: it takes \
                                  the whole store again, the live log files only"
                    .into(),
            },
            replaced.map(|r| format!(" (replaces its earlier login from {r})")).unwrap_or_default()
        ),
    );
    let result = stream(&mut framed, &ctx, conn, &node_id, from, &pin).await;
    ctx.update(|v| v.detach(&node_id, conn));
    result
}

/// Where a slave's stream starts, and for an incremental resync the log files it keeps:
///
/// * its last record is here at the same place and every file from it on is here: it
///   streams from its end (`keep` is `None`);
/// * otherwise, the newest point where both journals agree — its end, if its last record is
///   here (only files it lacks were collected), else the newest of its log files whose
///   first record is here — with `keep`, this store's files before that point, if the
///   slave has all of them (it drops the rest, rebuilds its index and takes what follows);
/// * failing both, from 0 with no `keep`: it clears its store and takes the live files.
fn plan(store: &Store, login: &Login, master_end: u64) -> crate::Result<(u64, Option<Vec<u64>>)> {
    let pos = login.position;
    let here = |start: u64, crc: u32| -> crate::Result<bool> { Ok(store.record_at(start)?.map(|r| r.1) == Some(crc)) };
    let prefix = match login.last {
        Some((start, crc)) => store.record_at(start)? == Some((pos, crc)),
        None => pos == 0,
    };
    if prefix && pos <= master_end && (pos == 0 || store.holds_from(pos)) {
        return Ok((pos, None));
    }
    let mut agreed = (prefix && pos <= master_end).then_some(pos);
    if agreed.is_none() {
        for &(start, crc) in login.files.iter().rev().take(MAX_LOGIN_FILES) {
            if start <= pos && start <= master_end && here(start, crc)? {
                agreed = Some(start);
                break;
            }
        }
    }
    let Some(from) = agreed else { return Ok((0, None)) };
    let keep: Vec<u64> = store.files().iter().map(|f| f.start).filter(|&s| s < from).collect();
    let theirs: std::collections::HashSet<u64> = login.files.iter().map(|f| f.0).collect();
    if keep.len() <= MAX_LOGIN_FILES && keep.iter().all(|s| theirs.contains(s)) {
        Ok((from, Some(keep)))
    } else {
        Ok((0, None))
    }
}

/// A failed link to a slave: the socket went away, or the slave broke the protocol.
pub(super) fn link_error(e: super::wire::CodecError) -> crate::Error {
    match e {
        super::wire::CodecError::Io(e) => crate::Error::Unreachable(e.to_string()),
        e @ super::wire::CodecError::Wire(_) => crate::Error::protocol(e.to_string()),
    }
}

/// The four-frame login (see [`super::auth`]). Returns the verified slave and its login,
/// or why it was refused.
async fn handshake(framed: &mut Link, ctx: &Ctx) -> Result<(VerifiedSlave, Login), String> {
    let next = async |framed: &mut Link, what: &str| match framed.next().await {
        Some(Ok(frame)) => Ok(frame),
        Some(Err(e)) => Err(format!("{e} (expected a {what})")),
        None => Err(format!("connection closed before the {what}")),
    };
    let login = match next(framed, "login").await? {
        Frame::Login(l) => l,
        other => return Err(format!("expected a login, got `{}`", other.action())),
    };
    let s = &ctx.settings;
    let (hs, challenge) = MasterHandshake::on_login(&s.secret, &s.me, &s.nodes, &login)
        .map_err(|e| format!("slave `{}`: {e}", login.node_id.chars().take(80).collect::<String>()))?;
    framed.send(Frame::Challenge(challenge)).await.map_err(|e| e.to_string())?;
    let proof = match next(framed, "proof").await? {
        Frame::Proof(p) => p,
        other => return Err(format!("expected a proof, got `{}`", other.action())),
    };
    let verified = hs.on_proof(&proof).map_err(|e| format!("slave `{}`: {e}", login.node_id))?;
    Ok((verified, login))
}

async fn stream(
    framed: &mut Link,
    ctx: &Ctx,
    conn: u64,
    node_id: &str,
    mut next: u64,
    pin: &crate::store::gc::Pin,
) -> crate::Result<()> {
    let mut end = ctx.end.clone();
    let err = link_error;
    let replaced = |_: Replaced| crate::Error::Other(format!("slave {node_id} logged in again on another connection"));
    loop {
        let target = *end.borrow_and_update();
        while next < target {
            // In the steady state the records were just appended and are in the page cache:
            // read them right here instead of hopping to the blocking pool and back, which
            // would cost two thread wake-ups per group. Catch-up reads still go there. Past
            // a hole the collection left (a whole-store resync), the chunk starts at the
            // next log file.
            let chunk = if target - next <= INLINE_READ {
                ctx.store.read_journal(next, INLINE_READ as usize)?
            } else {
                let store = ctx.store.clone();
                tokio::task::spawn_blocking(move || store.read_journal(next, 1 << 20))
                    .await
                    .map_err(|e| crate::Error::Other(e.to_string()))??
            };
            let Some(Chunk { at, file, bytes }) = chunk else { break };
            let wal = Wal { file, offset: at - file, length: bytes.len() as u64, sync: ctx.settings.remote_disk };
            next = at + bytes.len() as u64;
            framed.feed(Frame::Wal(wal, Bytes::from(bytes))).await.map_err(err)?;
        }
        framed.flush().await.map_err(err)?;
        // Only now do these bytes count as sent: an ack beyond them is clamped.
        ctx.slaves.lock().unwrap().sent(node_id, conn, next).map_err(replaced)?;
        tokio::select! {
            frame = framed.next() => match frame {
                Some(Ok(Frame::Ack(a))) => {
                    pin.advance(a.position.min(next));
                    if ctx.update(|v| v.ack(node_id, conn, a.position)).map_err(replaced)? {
                        ctx.events.emit(EventKind::SlaveAttached, format!("slave {node_id} has caught up (position {})", a.position.min(next)));
                    }
                }
                Some(Ok(other)) => {
                    return Err(crate::Error::protocol(format!("unexpected `{}` frame from slave {node_id}", other.action())))
                }
                Some(Err(e)) => return Err(err(e)),
                None => return Ok(()),
            },
            r = end.changed() => if r.is_err() { return Ok(()) },
        }
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::store::record::{Record, StoredMessage};

    fn enqueue(seq: u64) -> Record {
        let msg = StoredMessage {
            seq,
            destination: "/queue/a".into(),
            headers: vec![],
            body: vec![b'x'; 200],
            persistent: true,
            timestamp: 0,
            redelivery_count: 0,
            producer: None,
        };
        Record::Enqueue { store: "a".into(), msg }
    }

    fn login(slave: &Store) -> Login {
        Login {
            node_id: "node02".into(),
            nonce: String::new(),
            position: slave.position().unwrap() as u64,
            last: slave.last_record().unwrap(),
            files: slave.log_checkpoints().unwrap(),
        }
    }

    /// Copies the master's journal to the slave, as the stream does.
    fn mirror(master: &Store, slave: &Store) {
        let mut next = slave.position().unwrap() as u64;
        while let Some(Chunk { at, file, bytes }) = master.read_journal(next, 1 << 20).unwrap() {
            next = slave.append_replicated(file, at, &bytes).unwrap();
        }
    }

    #[test]
    fn a_slave_behind_collected_files_keeps_its_live_ones_and_takes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let master = Store::open_sized(&dir.path().join("m"), 2000).unwrap();
        let slave = Store::open_sized(&dir.path().join("s"), 2000).unwrap();
        for seq in 1..=20 {
            master.append(&[enqueue(seq)]).unwrap();
        }
        mirror(&master, &slave);
        assert_eq!(plan(&master, &login(&slave), master.position().unwrap() as u64).unwrap().1, None);
        // The slave stops; the master takes and consumes a lot, and collects it.
        for seq in 21..=200 {
            master.append(&[enqueue(seq), Record::Dequeue { store: "a".into(), seq }]).unwrap();
        }
        master.catch_up().unwrap();
        assert!(master.collect_garbage().unwrap().files > 5);
        let end = master.position().unwrap() as u64;
        let (from, keep) = plan(&master, &login(&slave), end).unwrap();
        assert_eq!(from, slave.position().unwrap() as u64, "where the slave ends");
        let kept: Vec<u64> = master.files().iter().map(|f| f.start).filter(|&s| s < from).collect();
        assert_eq!(keep, Some(kept));
    }

    #[test]
    fn a_diverged_slave_resyncs_from_just_before_where_the_journals_part() {
        let dir = tempfile::tempdir().unwrap();
        // One big log file on each side, as with the default logSize.
        let master = Store::open_sized(&dir.path().join("m"), 1 << 30).unwrap();
        let slave = Store::open_sized(&dir.path().join("s"), 1 << 30).unwrap();
        for seq in 1..=500 {
            master.append(&[enqueue(seq)]).unwrap();
        }
        mirror(&master, &slave);
        let common = master.position().unwrap() as u64;
        // The slave (a demoted master) wrote one record nobody has; the master another.
        slave.append(&[enqueue(1000)]).unwrap();
        master.append(&[enqueue(2000)]).unwrap();
        let (from, keep) = plan(&master, &login(&slave), master.position().unwrap() as u64).unwrap();
        assert!(from <= common && common - from <= 8192, "from {from}, the journals part at {common}");
        assert_eq!(keep, Some(vec![0]), "the one file is kept, and cut at from");
        let dropped = slave.resync_to(from, keep.as_deref().unwrap()).unwrap();
        assert!(dropped.bytes < 9000, "{dropped:?}");
        mirror(&master, &slave);
        assert_eq!(slave.last_record().unwrap(), master.last_record().unwrap());
        let seqs: Vec<u64> = slave.snapshot().unwrap().stores["a"].iter().map(|m| m.seq).collect();
        assert_eq!(seqs.len(), 501);
        assert!(seqs.contains(&2000) && !seqs.contains(&1000));
    }
}
