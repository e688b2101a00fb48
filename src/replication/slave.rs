//! The slave side: attach to the master's published address and follow its journal.
//!
//! The slave dials the address the elected master's znode publishes and logs in with
//! [`SlaveHandshake`]: the peer must prove the cluster's token *and* be the node the election
//! named, and its `ok` must carry a proof over `from`, before the slave acts on anything it
//! says — in particular before clearing its store for a resync on `from: 0`. A refused
//! master gets nothing but the login; the refusal is logged once (not at every retry).
//!
//! Every decision after the login — clear, cut or go on, accept or refuse a `wal` range,
//! when to fsync, ack and call itself attached — is the [`Follower`]'s; this module reads
//! frames, steps the machine and performs its [`Action`]s in order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;
use tracing::{debug, warn};

use super::auth::{Secret, SlaveHandshake};
use super::follower::{Action, Event, Follower, Phase};
use super::wire::{Ack, Codec, Frame, LOGIN_TIMEOUT};
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::events::EventLog;
use crate::faults::gate::{Gated, wait_open};
use crate::store::Store;

/// What `mqsim status` shows for a slave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaveState {
    pub phase: Phase,
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
    /// Follows `target` (`tcp://host:port`), which must be node `master` (the node name the
    /// elected znode publishes), reconnecting every second until dropped. `name` is this
    /// node's name. Every connection is gated by `peers` (see [`crate::faults`]).
    pub fn start(
        target: String,
        master: String,
        store: Arc<Store>,
        secret: Secret,
        events: EventLog,
        name: String,
        peers: tokio::sync::watch::Receiver<bool>,
    ) -> SlaveLink {
        let state = Arc::new(Mutex::new(SlaveState::default()));
        let st = state.clone();
        let task = tokio::spawn(async move {
            let peer = Peer { target: &target, master: &master, secret: &secret, name: &name };
            let mut last_refusal: Option<String> = None;
            let mut follower = Follower::new();
            loop {
                let mut io = Io { store: &store, state: &st, events: &events, peer: &peer, indexing: Arc::default() };
                match io.attach(peers.clone(), &mut follower).await {
                    Ok(()) => debug!("replication connection to {target} closed"),
                    Err(Attach::Refused(why)) => {
                        if last_refusal.as_deref() != Some(&why) {
                            warn!("{why}");
                            events.emit(EventKind::Error, why.clone());
                            last_refusal = Some(why);
                        }
                    }
                    Err(Attach::Failed(e)) => debug!("replication from {target} failed: {e}"),
                }
                for action in follower.step(Event::Disconnected) {
                    io.report(&action);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        SlaveLink { state, task }
    }
}

/// A slave replays its journal into its index once it is this far behind, in the background
/// and in one go; whatever is left when the master goes quiet is indexed by the next
/// garbage-collection round (within a second, [`crate::node::gc`]: until then the index
/// counts the messages those last dequeues consumed as live, and keeps their log file), or
/// by a promotion ([`Store::snapshot`] catches up first) or a restart ([`Store::open`]).
pub const CATCH_UP_BEHIND: u64 = 16 * 1024;

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

type Link = Framed<Gated<TcpStream>, Codec>;

/// Who the slave dials, and as whom.
struct Peer<'a> {
    target: &'a str,
    /// The node name the election named.
    master: &'a str,
    secret: &'a Secret,
    /// This node's name.
    name: &'a str,
}

/// Why an attachment ended.
enum Attach {
    /// The login failed: the peer is not (or could not prove to be) the elected master, or
    /// it refused us. Logged once per distinct reason.
    Refused(String),
    /// Anything else (connection lost, journal error): retried quietly.
    Failed(Error),
}

impl From<Error> for Attach {
    fn from(e: Error) -> Attach {
        Attach::Failed(e)
    }
}

/// One connection's I/O around the [`Follower`].
struct Io<'a> {
    store: &'a Arc<Store>,
    state: &'a Mutex<SlaveState>,
    events: &'a EventLog,
    peer: &'a Peer<'a>,
    /// Whether a background catch-up of the index runs ([`index_behind`]).
    indexing: Arc<AtomicBool>,
}

impl Io<'_> {
    /// Dials, logs in, then follows the stream until it ends.
    async fn attach(
        &mut self,
        mut gate: tokio::sync::watch::Receiver<bool>,
        follower: &mut Follower,
    ) -> Result<(), Attach> {
        let (target, name, store) = (self.peer.target, self.peer.name, self.store);
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
        let (position, last, files) =
            blocking(move || Ok((s.position()? as u64, s.last_record()?, s.log_checkpoints()?))).await?;
        let io = super::master::link_error;
        let refused = |why: String| {
            Attach::Refused(format!(
                "{name}: refusing replication from {target} (the elected {}): {why}",
                self.peer.master
            ))
        };
        let handshake = SlaveHandshake::new(self.peer.secret, name, self.peer.master);
        framed.send(Frame::Login(handshake.login(position, last, &files))).await.map_err(io)?;
        // Nothing the peer says is acted on until its `ok` proof checks out.
        let next = async |framed: &mut Link, what: &str| match tokio::time::timeout(LOGIN_TIMEOUT, framed.next()).await
        {
            Ok(Some(Ok(Frame::Error(e)))) => {
                Err(Attach::Refused(format!("{name}: master {target} refused our replication login: {e}")))
            }
            Ok(Some(Ok(frame))) => Ok(frame),
            Ok(Some(Err(e))) => Err(refused(format!("bad frame instead of a {what}: {e}"))),
            Ok(None) => Err(Attach::Failed(Error::Unreachable(format!("connection closed before the {what}")))),
            Err(_) => Err(Attach::Failed(Error::Timeout(format!("no {what} from {target} within {LOGIN_TIMEOUT:?}")))),
        };
        let challenge = match next(&mut framed, "challenge").await? {
            Frame::Challenge(c) => c,
            other => return Err(refused(format!("it answered `{}` instead of proving itself", other.action()))),
        };
        let (waiting, proof) = handshake.on_challenge(&challenge).map_err(|e| refused(e.to_string()))?;
        framed.send(Frame::Proof(proof)).await.map_err(io)?;
        let ok = match next(&mut framed, "ok").await? {
            Frame::Ok(ok) => ok,
            other => return Err(refused(format!("it answered `{}` instead of `ok`", other.action()))),
        };
        waiting.on_ok(&ok, position, &files).map_err(|e| refused(e.to_string()))?;
        let logged_in = Event::LoggedIn { position, from: ok.from, master_end: ok.master_end, keep: ok.keep };
        self.perform(&mut framed, follower, logged_in).await?;
        Ok(self.follow(&mut framed, follower).await?)
    }

    /// Feeds the master's `wal` frames to the follower, a group at a time.
    async fn follow(&mut self, framed: &mut Link, follower: &mut Follower) -> Result<()> {
        let io = super::master::link_error;
        while let Some(frame) = framed.next().await {
            // Group commit: the frames already received are applied together, with one
            // fsync and one ack for all of them (several producers keep several in flight).
            let mut frames = vec![frame.map_err(io)?];
            while frames.len() < 64 {
                match framed.next().now_or_never() {
                    Some(Some(frame)) => frames.push(frame.map_err(io)?),
                    _ => break,
                }
            }
            self.perform(framed, follower, Event::Received(frames)).await?;
        }
        Ok(())
    }

    /// Steps the follower with `event` and performs its actions in order; a cut of the store
    /// is reported back to it as the next event.
    async fn perform(&mut self, framed: &mut Link, follower: &mut Follower, event: Event) -> Result<()> {
        let (name, target, store) = (self.peer.name, self.peer.target, self.store);
        let mut next = Some(event);
        // The journal's end after the last append, checked against the follower's ack.
        let mut appended = None;
        while let Some(event) = next.take() {
            for action in follower.step(event) {
                match action {
                    Action::Resync { from, keep, position } => {
                        let end = resync(store, from, keep, position, name, self.events).await?;
                        next = Some(Event::Cut { position: end });
                    }
                    Action::Clear => {
                        self.events.emit(
                            EventKind::Resync,
                            format!(
                                "{name}: the master holds nothing of our journal past position 0 that we could keep \
                                 (it diverged, or the master collected what we lack); clearing the store ({} bytes \
                                 on disk) to take the master's live log files",
                                store.disk_bytes()
                            ),
                        );
                        let s = store.clone();
                        blocking(move || s.clear()).await?;
                        next = Some(Event::Cut { position: 0 });
                    }
                    Action::Attaching { position, master_end } => self.events.emit(
                        EventKind::SlaveAttaching,
                        format!("{name} attached to {target} at position {position} (master at {master_end})"),
                    ),
                    // Written right on this worker, not on the blocking pool: an append is one
                    // `pwrite` and an fsync about a hundred µs, while a hop to the pool and back
                    // costs two thread wake-ups, which on a busy host can each take longer than
                    // the fsync. The runtime's other worker keeps serving the ZooKeeper session
                    // meanwhile.
                    Action::Append { file, position, payload } => {
                        appended = Some(store.append_replicated(file, position, &payload)?);
                    }
                    Action::Sync => store.sync()?,
                    Action::Ack { position } => {
                        if appended.is_some_and(|end| end != position) {
                            return Err(Error::Storage(format!(
                                "the journal ends at {} after the appends, not at {position}",
                                appended.unwrap_or_default()
                            )));
                        }
                        framed.send(Frame::Ack(Ack { position })).await.map_err(super::master::link_error)?;
                        index_behind(store, position, &self.indexing);
                    }
                    Action::CaughtUp { position } => self
                        .events
                        .emit(EventKind::SlaveAttached, format!("{name} caught up with the master at {position}")),
                    Action::Close { reason } => return Err(Error::protocol(reason)),
                    Action::Report { .. } => self.report(&action),
                }
            }
        }
        Ok(())
    }

    /// Publishes a [`Action::Report`] to the status.
    fn report(&self, action: &Action) {
        if let Action::Report { phase, master_end } = action {
            *self.state.lock().unwrap() = SlaveState { phase: *phase, master_end: *master_end };
        }
    }
}

/// An incremental resync (see [`crate::store::resync`]): cut at `from`, keep `keep`,
/// rebuild. Returns the journal's end, where the stream goes on.
async fn resync(
    store: &Arc<Store>,
    from: u64,
    keep: Vec<u64>,
    position: u64,
    name: &str,
    events: &EventLog,
) -> Result<u64> {
    let why = format!(
        "{name} is resyncing from position {from} (its journal was at {position}): it may not be master until it \
         has caught up with the master"
    );
    let s = store.clone();
    let dropped = blocking(move || {
        s.begin_resync(&why)?;
        s.resync_to(from, &keep)
    })
    .await?;
    let kept = match &dropped.copy {
        Some(copy) => format!(
            "; dropped {} bytes holding {} message(s) from position {from} on (what the master has of them \
             comes back from it), kept in {}",
            dropped.bytes,
            dropped.messages,
            copy.display()
        ),
        None => String::new(),
    };
    events.emit(
        EventKind::Resync,
        format!(
            "{name}: incremental resync from position {from}: {} log file(s) the master collected deleted{kept}; \
             the index is rebuilt from the files kept and what the master sends",
            dropped.collected
        ),
    );
    let s = store.clone();
    blocking(move || s.position().map(|p| p as u64)).await
}
