//! One ZooKeeper session of a node: register, then step the elector on every change.
//!
//! A round reads the group ([`Session::read_group`]), steps the [`Elector`] and performs
//! its actions ([`Session::act`]: promote, demote, follow, stop following, log), lifts the
//! damage mark of a store that has caught up as a slave, publishes the node's znode if it
//! changed, writes the status report, and waits for the next change ([`Session::wait`]: a
//! watch event, a session-state change, the periodic re-read, SIGTERM or a store fault).
//! The decisions are the elector's and the follower's ([`crate::replication::follower`]);
//! the few left here are pure functions below ([`renews_lease`], [`link_after`],
//! [`clears_damage`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;
use zookeeper_client as zk;

use super::{Node, SessionEnd, Term, serve};
use crate::election::lease::Lease;
use crate::election::zookeeper::Group;
use crate::election::{Action, Elector, Member, NodeState, Role};
use crate::error::Result;
use crate::events::EventKind;
use crate::replication::follower::Phase;
use crate::replication::slave::SlaveLink;

/// Whether a fresh read of the group shows this node still the elected master (its eid
/// in the head znode's `elected`): only then may it renew its lease.
pub fn renews_lease(role: &Role, me: Option<&str>, members: &[Member]) -> bool {
    let head_elected = members.first().and_then(|h| h.state.elected.as_deref());
    matches!(role, Role::Master { .. }) && me.is_some() && head_elected == me
}

/// Whether a store cut short by damage may be master again: once it has caught up with an
/// elected master as a slave (see the module essay of [`crate::node`]).
pub fn clears_damage(damaged: bool, replication: Option<Phase>) -> bool {
    damaged && replication == Some(Phase::Attached)
}

/// Where the session's link to ZooKeeper stands after a session-state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Connected or not; `rewatch`: the persistent watch must be added again.
    Up { connected: bool, rewatch: bool },
    /// The session is over (expired, closed, auth failed): join again as a new member.
    Ended,
}

/// A session-state change, seen either as a watch event (`watched`: the loss and the
/// return of the connection are logged, and any other intermediate state is ignored) or
/// on the client's state watcher (which tracks exactly whether the state is
/// `SyncConnected`). A return to `SyncConnected` always asks for the watch again.
pub fn link_after(connected: bool, rewatch: bool, state: zk::SessionState, watched: bool) -> Link {
    use zk::SessionState::{Disconnected, SyncConnected};
    if state.is_terminated() {
        return Link::Ended;
    }
    match (watched, state) {
        (true, Disconnected) => Link::Up { connected: false, rewatch },
        (true, SyncConnected) => Link::Up { connected: true, rewatch: true },
        (true, _) => Link::Up { connected, rewatch },
        (false, s) => {
            Link::Up { connected: s == SyncConnected, rewatch: rewatch || (!connected && s == SyncConnected) }
        }
    }
}

/// What a round's elector actions ask of the session.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Go,
    /// Demoted: restart as a new member (the other actions of the round still run).
    Restart,
    /// Elected with a damaged store: it refuses, and the node exits.
    Refused(String),
}

pub(super) struct Session<'a> {
    node: &'a Node,
    node_cfg: crate::config::Node,
    client: zk::Client,
    /// The session id, for the report and the log.
    id: String,
    elector: Elector,
    group: Group,
    /// What the node's znode holds.
    written: NodeState,
    watcher: zk::PersistentWatcher,
    states: zk::StateWatcher,
    connected: bool,
    /// The persistent watch must be added again (after a reconnect).
    rewatch: bool,
    /// The group as last read; `None` while disconnected.
    view: Option<Vec<Member>>,
    master: Option<serve::Master>,
    slave: Option<SlaveLink>,
    lease: Arc<Lease>,
    fault: watch::Receiver<Option<String>>,
}

impl<'a> Session<'a> {
    /// Registers this node's znode and watches the group.
    pub(super) async fn join(node: &'a Node, client: zk::Client) -> Result<Session<'a>> {
        let c = &node.config.cluster;
        let node_cfg = node.config.node(&node.name).expect("node exists in config").clone();
        let id = format!("{:#x}", client.session_id().0);
        node.events.emit(
            EventKind::ZkConnected,
            format!("{} connected to ZooKeeper, session {id} (timeout {:?})", node.name, client.session_timeout()),
        );
        let mut elector = Elector::new(&c.broker_name, c.replicas, node_cfg.weight).with_container(&node.name);
        let mut group = Group::new(client.clone(), &c.zk_path, c.zk_password.is_some());
        let eid = group.register(&elector.initial_state()).await?;
        elector.registered(eid);
        let written = elector.initial_state();
        node.events
            .emit(EventKind::Registered, format!("{} registered znode {}", node.name, group.my_path().unwrap_or("?")));
        let watcher = client.watch(&c.zk_path, zk::AddWatchMode::PersistentRecursive).await?;
        let states = client.state_watcher();
        Ok(Session {
            node,
            node_cfg,
            id,
            elector,
            group,
            written,
            watcher,
            states,
            connected: true,
            rewatch: false,
            view: None,
            master: None,
            slave: None,
            lease: Arc::new(Lease::new(c.zk_session_timeout)),
            fault: node.store.fault(),
            client,
        })
    }

    /// Rounds until the session ends.
    pub(super) async fn run(&mut self, stop: &mut watch::Receiver<bool>) -> Result<SessionEnd> {
        loop {
            self.read_group().await;
            let position = self.node.store.position()?;
            match self.step(position).await? {
                Outcome::Go => {}
                Outcome::Refused(why) => return Ok(SessionEnd::StoreFault(why)),
                Outcome::Restart => {
                    self.node.report(&self.elector, None, self.connected, None);
                    return Ok(SessionEnd::Restart);
                }
            }
            self.lift_damage();
            self.publish().await;
            let term = Term { master: self.master.as_ref(), slave: self.slave.as_ref() };
            self.node.report(&self.elector, Some((&self.group, &self.id)), self.connected, Some(term));
            if let Some(end) = self.wait(stop).await {
                return Ok(end);
            }
        }
    }

    /// Re-adds the watch if needed and reads the group. While connected, a failed read
    /// keeps the last view (a transient error is not a disconnect); only the session state
    /// itself clears the group, as in ActiveMQ.
    async fn read_group(&mut self) {
        let c = &self.node.config.cluster;
        if self.rewatch && self.connected {
            // Persistent watches may not survive a reconnect; events during the gap are lost anyway.
            if let Ok(w) = self.client.watch(&c.zk_path, zk::AddWatchMode::PersistentRecursive).await {
                self.watcher = w;
                self.rewatch = false;
            }
        }
        if !self.connected {
            self.view = None;
            return;
        }
        let asked = self.lease.ask();
        match tokio::time::timeout(c.zk_session_timeout, self.group.members()).await {
            Ok(Ok(m)) => {
                // Still the elected master per this fresh read: renew the lease.
                if renews_lease(self.elector.role(), self.elector.me(), &m) {
                    self.lease.renew_asked(asked);
                }
                self.view = Some(m);
            }
            Ok(Err(e)) => warn!("reading the group failed: {e}"),
            Err(_) => warn!("reading the group timed out"),
        }
    }

    /// One elector step and its actions.
    async fn step(&mut self, position: i64) -> Result<Outcome> {
        let mut outcome = Outcome::Go;
        for action in self.elector.step(self.view.as_deref(), position) {
            match self.act(action).await? {
                Outcome::Go => {}
                Outcome::Restart => outcome = Outcome::Restart,
                refused @ Outcome::Refused(_) => return Ok(refused),
            }
        }
        Ok(outcome)
    }

    async fn act(&mut self, action: Action) -> Result<Outcome> {
        let (node, name) = (self.node, &self.node.name);
        match action {
            Action::Promote => {
                if let Some(why) = node.store.resync_needed() {
                    return Ok(Outcome::Refused(format!("{name} was elected but refuses to be master: {why}")));
                }
                node.events.emit(EventKind::Elected, format!("{name} was elected master"));
                let m = serve::Master::start(
                    &node.config,
                    &self.node_cfg,
                    name,
                    node.store.clone(),
                    node.events.clone(),
                    self.lease.clone(),
                    node.gates.peers.clone(),
                    node.secret.clone(),
                )
                .await?;
                self.lease.renew();
                self.elector.master_started(m.address.clone());
                node.events
                    .emit(EventKind::Promoted, format!("{name} is master: replication server {} published", m.address));
                self.master = Some(m);
            }
            Action::Demote { reason } => {
                self.lease.revoke();
                if let Some(m) = self.master.take() {
                    m.stop().await;
                }
                node.events.emit(EventKind::Demoted, format!("{name} stepped down as master: {reason}"));
                return Ok(Outcome::Restart);
            }
            Action::Follow { master: m, target, node: n } => {
                // Only the node the election named, proving it at login (replication::auth).
                self.slave = target.clone().zip(n.clone()).map(|(t, n)| {
                    SlaveLink::start(
                        t,
                        n,
                        node.store.clone(),
                        node.secret.clone(),
                        node.events.clone(),
                        name.clone(),
                        node.gates.peers.clone(),
                    )
                });
                if target.is_some() && n.is_none() {
                    warn!("master {m} publishes an address but no node name (container): not following it");
                }
                node.events.emit(
                    EventKind::Slave,
                    match target {
                        Some(t) => format!("{name} is slave of {m} at {t}"),
                        None => format!("{name} is slave of {m} (address not published yet)"),
                    },
                )
            }
            Action::StopSlave => {
                self.slave = None;
                node.events.emit(EventKind::SlaveStopped, format!("{name} stopped following"))
            }
            Action::Elected { eid, reason } => node.events.emit(
                EventKind::Election,
                match eid {
                    Some(e) => format!("elector {name} set elected={e} ({reason})"),
                    None => format!("elector {name} cleared elected ({reason})"),
                },
            ),
            Action::Waiting { reason } => node.events.emit(EventKind::Waiting, format!("elector {name}: {reason}")),
        }
        Ok(Outcome::Go)
    }

    /// A store cut short by damage may be master again once it has caught up.
    fn lift_damage(&self) {
        let store = &self.node.store;
        let replication = self.slave.as_ref().map(|l| l.state.lock().unwrap().phase);
        if !clears_damage(store.resync_needed().is_some(), replication) {
            return;
        }
        match store.resynced() {
            Ok(()) => self.node.events.emit(
                EventKind::Resynced,
                format!(
                    "{} caught up with the master after its journal damage; it may be master again",
                    self.node.name
                ),
            ),
            Err(e) => warn!("{e}"),
        }
    }

    /// Writes the node's znode if the elector's state differs from it.
    async fn publish(&mut self) {
        if !self.connected || !self.elector.needs_write(&self.written) {
            return;
        }
        let timeout = self.node.config.cluster.zk_session_timeout;
        match tokio::time::timeout(timeout, self.group.publish(self.elector.state())).await {
            Ok(Ok(Some(new_eid))) => {
                self.node.events.emit(EventKind::Registered, format!("{} re-registered as {new_eid}", self.node.name));
                self.elector.registered(new_eid);
                self.written = self.elector.state().clone();
            }
            Ok(Ok(None)) => self.written = self.elector.state().clone(),
            Ok(Err(e)) => warn!("publishing state failed: {e}"),
            Err(_) => warn!("publishing state timed out"),
        }
    }

    /// Waits for the next change; `Some` when the session ends.
    async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> Option<SessionEnd> {
        let (name, id) = (&self.node.name, &self.id);
        let events = &self.node.events;
        // Re-read the group at least this often even without a watch event (events can be
        // lost), which also renews a master's lease in time.
        let reread = Lease::renew_interval(self.node.config.cluster.zk_session_timeout);
        let (state, watched) = tokio::select! {
            ev = self.watcher.changed() => {
                if ev.event_type != zk::EventType::Session {
                    return None;
                }
                (ev.session_state, true)
            }
            s = self.states.changed() => (s, false),
            // Safety net: re-read the group even if a watch event was lost.
            _ = tokio::time::sleep(reread) => return None,
            _ = stop.changed() => return Some(SessionEnd::Shutdown),
            why = async { self.fault.wait_for(Option::is_some).await.ok().and_then(|w| w.clone()) } => {
                let why = why.unwrap_or_else(|| "the store failed".into());
                return Some(SessionEnd::StoreFault(format!("{name}'s store failed: {why}")));
            }
        };
        match link_after(self.connected, self.rewatch, state, watched) {
            Link::Ended => {
                events.emit(EventKind::SessionExpired, format!("{name} ZooKeeper session {id} ended: {state}"));
                return Some(SessionEnd::Restart);
            }
            Link::Up { connected, rewatch } => (self.connected, self.rewatch) = (connected, rewatch),
        }
        match (watched, state) {
            (true, zk::SessionState::Disconnected) => {
                events.emit(EventKind::ZkDisconnected, format!("{name} lost its ZooKeeper connection"))
            }
            (true, zk::SessionState::SyncConnected) => {
                events.emit(EventKind::ZkReconnected, format!("{name} reconnected to ZooKeeper (same session)"))
            }
            _ => {}
        }
        None
    }

    /// Steps down if master, stops following, and closes the session, waiting until the
    /// close is sent so the znode goes at once.
    pub(super) async fn close(mut self, end: &SessionEnd) {
        if let Some(m) = self.master.take() {
            self.lease.revoke();
            m.stop().await;
            let why = match end {
                SessionEnd::Shutdown => "the node is stopping",
                SessionEnd::Restart => "its ZooKeeper session ended",
                SessionEnd::StoreFault(why) => why,
            };
            self.node.events.emit(EventKind::Demoted, format!("{} stepped down as master: {why}", self.node.name));
        }
        let Session { slave, watcher, group, client, .. } = self;
        drop(slave);
        drop(watcher);
        drop(group);
        let mut states = client.state_watcher();
        drop(client);
        let _ =
            tokio::time::timeout(Duration::from_secs(2), async { while !states.changed().await.is_terminated() {} })
                .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(eid: &str, elected: Option<&str>) -> Member {
        Member {
            eid: eid.into(),
            state: NodeState {
                id: "localhost".into(),
                container: None,
                address: None,
                position: -1,
                weight: 1,
                elected: elected.map(str::to_string),
            },
        }
    }

    #[test]
    fn only_the_master_the_head_names_renews_its_lease() {
        let master = Role::Master { address: Some("tcp://h:1".into()) };
        let group = [member("0000000001", Some("0000000002")), member("0000000002", None)];
        assert!(renews_lease(&master, Some("0000000002"), &group));
        // The elector now names somebody else, or nobody.
        assert!(!renews_lease(&master, Some("0000000001"), &group));
        let cleared = [member("0000000001", None), member("0000000002", None)];
        assert!(!renews_lease(&master, Some("0000000002"), &cleared));
        // Not master (yet), not registered, or no group read.
        let slave = Role::Slave { master: "0000000002".into(), target: None, node: None };
        assert!(!renews_lease(&slave, Some("0000000002"), &group));
        assert!(!renews_lease(&Role::Electing, Some("0000000002"), &group));
        assert!(!renews_lease(&master, None, &[member("0000000001", None)]));
        assert!(!renews_lease(&master, Some("0000000002"), &[]));
    }

    #[test]
    fn session_states_move_the_link() {
        use zk::SessionState::*;
        let up = |connected, rewatch| Link::Up { connected, rewatch };
        // Seen as watch events: loss and return, the return asking for the watch again.
        assert_eq!(link_after(true, false, Disconnected, true), up(false, false));
        assert_eq!(link_after(false, false, SyncConnected, true), up(true, true));
        assert_eq!(link_after(true, false, SyncConnected, true), up(true, true));
        assert_eq!(link_after(false, true, ConnectedReadOnly, true), up(false, true));
        // Seen on the state watcher: connected is exactly SyncConnected; only a return rewatches.
        assert_eq!(link_after(false, false, SyncConnected, false), up(true, true));
        assert_eq!(link_after(true, false, SyncConnected, false), up(true, false));
        assert_eq!(link_after(true, true, Disconnected, false), up(false, true));
        assert_eq!(link_after(true, false, ConnectedReadOnly, false), up(false, false));
        // Over, whichever way it is seen.
        for watched in [true, false] {
            for s in [Expired, Closed, AuthFailed] {
                assert_eq!(link_after(true, false, s, watched), Link::Ended);
            }
        }
    }

    #[test]
    fn a_damaged_store_is_trusted_again_only_once_attached() {
        assert!(clears_damage(true, Some(Phase::Attached)));
        assert!(!clears_damage(true, Some(Phase::Attaching)));
        assert!(!clears_damage(true, Some(Phase::Connecting)));
        assert!(!clears_damage(true, None));
        assert!(!clears_damage(false, Some(Phase::Attached)));
    }
}
