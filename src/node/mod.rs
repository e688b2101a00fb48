//! One broker node (`mqsim node --name node01`), started by the supervisor.
//!
//! The node opens its store, joins the election group in ZooKeeper and then reacts to
//! every group change with one [`Elector::step`] (the loop of one ZooKeeper session is in
//! `session.rs`; a slave's replication link steps [`crate::replication::follower`]).
//! Promotion binds the replication port, publishes `address`, and opens the client ports
//! ([`serve`]); demotion closes them all and restarts the node as a new group member, as
//! ActiveMQ restarted its BrokerService. A slave opens no client port: connecting to it is
//! refused by the kernel. Every node, whatever its role, serves its web console
//! ([`crate::console`]) from start to exit.
//!
//! **Store faults end the node** (issue 11), with exit code [`EXIT_STORE_FAULT`] and an
//! `error` event saying why, after leaving the group cleanly so the others elect at once:
//!
//! * a failed journal fsync ([`Store::fault`]): a master must not go on acknowledging, and
//!   a slave must not go on acking; neither may trust a later fsync.
//! * elected while its store still needs a resync ([`Store::resync_needed`]: it was cut
//!   short by damage in the middle of its journal): serving would silently drop what
//!   followed the damage. A node cut that way has a lower position than every healthy peer,
//!   so it is only elected when no live quorum member holds more; it then refuses, and the
//!   operator decides (the message names the kept copy). Once it has caught up with an
//!   elected master as a slave, the mark goes and it is an ordinary node again.

pub mod gc;
pub mod serve;
mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{Instrument, info, info_span, warn};

use crate::config::Config;
use crate::election::zookeeper::{Group, connect};
use crate::election::{Elector, Role};
use crate::error::Result;
use crate::events::EventKind;
use crate::events::{EventLog, now_ms};
use crate::faults::proxy::Proxy;
use crate::faults::{Faults, Gates};
use crate::replication::auth::Secret;
use crate::replication::slave::SlaveLink;
use crate::status::NodeReport;
use crate::store::Store;

/// Paths of one node under the state directory (the notes' `mq_node01/`).
#[derive(Debug, Clone)]
pub struct NodeLayout {
    pub dir: PathBuf,
    pub data: PathBuf,
    pub logs: PathBuf,
    pub log_file: PathBuf,
    pub status: PathBuf,
}

impl NodeLayout {
    pub fn new(config: &Config, name: &str) -> NodeLayout {
        let dir = config.state_dir().join(format!("mq_{name}"));
        let directory = config.node(name).map(|n| n.directory.clone()).unwrap_or_else(|| "activemq-data".into());
        NodeLayout {
            data: dir.join(directory),
            logs: dir.join("logs"),
            log_file: dir.join("logs/broker.log"),
            status: dir.join("status.json"),
            dir,
        }
    }
}

/// What the node runs in its current role, for the status report.
#[derive(Clone, Copy)]
struct Term<'a> {
    master: Option<&'a serve::Master>,
    slave: Option<&'a SlaveLink>,
}

/// How a ZooKeeper session of this node ended.
enum SessionEnd {
    /// Demoted or expired: join again as a new member.
    Restart,
    /// SIGTERM: leave the group cleanly and exit.
    Shutdown,
    /// The store cannot go on (see the module essay): leave the group and exit with
    /// [`EXIT_STORE_FAULT`].
    StoreFault(String),
}

/// The exit code of a node that stopped because of its store (sysexits' `EX_IOERR`).
pub const EXIT_STORE_FAULT: i32 = 74;

/// Runs the node until SIGTERM/SIGINT.
pub async fn run(config: Config, name: String) -> Result<()> {
    let span = info_span!("node", name = %name);
    async move {
        let mut node = Node::open(config, &name)?;
        node.gates = Gates::watch(node.layout.dir.clone());
        let proxies = node.zk_proxies().await?;
        node.zk_connect = proxies.iter().map(|p| p.addr.to_string()).collect::<Vec<_>>().join(",");
        let node = Arc::new(node);
        // The web console runs on every node for the node's whole life (crate::console).
        match node.console.bind().await {
            Ok(listener) => drop(tokio::spawn(node.console.clone().serve(listener))),
            Err(e) => node.events.emit(EventKind::Error, format!("{name} has no web console: {e}")),
        }
        tokio::spawn(gc::collect(node.store.clone(), node.events.clone(), name.to_string()));
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            let _ = stop_tx.send(true);
        });
        node.events.emit(
            EventKind::Started,
            format!("{name} started (pid {}), store position {}", std::process::id(), node.store.position()?),
        );
        if let Some(why) = node.store.resync_needed() {
            node.events.emit(EventKind::StoreDamaged, format!("{name}: {why}"));
        }
        if node.store.quarantined() > 0 {
            node.events.emit(
                EventKind::StoreQuarantine,
                format!(
                    "{name}: the index skipped {} journal record(s) it cannot store; they are kept in {}",
                    node.store.quarantined(),
                    node.layout.data.join(crate::store::journal::QUARANTINE_DIR).display()
                ),
            );
        }
        loop {
            match node.session(stop_rx.clone()).await {
                Ok(SessionEnd::Shutdown) => break,
                Ok(SessionEnd::Restart) => info!("rejoining the group as a new member"),
                Ok(SessionEnd::StoreFault(why)) => {
                    tracing::error!("{why}; exiting with code {EXIT_STORE_FAULT}");
                    node.events.emit(EventKind::Error, format!("{name} exits (code {EXIT_STORE_FAULT}): {why}"));
                    std::process::exit(EXIT_STORE_FAULT);
                }
                Err(e) => {
                    warn!("ZooKeeper session failed: {e}; retrying in 1 s");
                    node.report(&Elector::new(&node.config.cluster.broker_name, 1, 1), None, false, None);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            if *stop_rx.borrow() {
                break;
            }
        }
        node.events.emit(EventKind::Stopped, format!("{name} stopped cleanly"));
        Ok(())
    }
    .instrument(span)
    .await
}

struct Node {
    config: Config,
    name: String,
    layout: NodeLayout,
    store: Arc<Store>,
    events: EventLog,
    /// Partition gates (crate::faults): ZooKeeper is reached through proxies, peers through gated connections.
    gates: Gates,
    /// The connect string of this node's ZooKeeper proxies.
    zk_connect: String,
    /// The web console's view of this node, updated with every status report.
    console: crate::console::Console,
    /// The replication login's secret (crate::replication::auth).
    secret: Secret,
}

impl Node {
    fn open(config: Config, name: &str) -> Result<Node> {
        let layout = NodeLayout::new(&config, name);
        let store = Arc::new(Store::open_sized(&layout.data, config.cluster.log_size)?);
        let events = EventLog::new(&config.state_dir(), name);
        let zk_connect = config.zk_connect();
        let console = crate::console::Console::with_store(config.clone(), name, store.clone());
        let secret = Secret::for_cluster(&config)?;
        if secret.is_insecure() {
            events.emit(
                EventKind::Warning,
                format!("{name}: insecureReplication: replication logins are not authenticated"),
            );
        }
        let gates = Gates::open();
        Ok(Node { config, name: name.to_string(), layout, store, events, gates, zk_connect, console, secret })
    }

    /// One gated proxy per ZooKeeper server (a chroot suffix on the connect string is kept).
    async fn zk_proxies(&self) -> Result<Vec<Proxy>> {
        let connect = self.config.zk_connect();
        let (servers, chroot) = match connect.find('/') {
            Some(i) => (&connect[..i], &connect[i..]),
            None => (connect.as_str(), ""),
        };
        let mut proxies = Vec::new();
        for server in servers.split(',') {
            let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            // On the sessions' own thread, like the sessions whose pings they carry.
            let start = Proxy::start(local, server.trim().to_string(), self.gates.zk.clone());
            let p = crate::election::zookeeper::session_runtime()
                .spawn(start)
                .await
                .map_err(|e| crate::Error::Other(format!("starting a ZooKeeper proxy: {e}")))?
                .map_err(crate::Error::io("starting a ZooKeeper proxy"))?;
            proxies.push(p);
        }
        if !chroot.is_empty() {
            warn!("ZooKeeper chroot {chroot} in the connect string is not supported through the proxies; ignored");
        }
        Ok(proxies)
    }

    /// One ZooKeeper session ([`session`]): connect, register, step the elector on every
    /// change until the session ends, then leave the group.
    async fn session(&self, mut stop: watch::Receiver<bool>) -> Result<SessionEnd> {
        let c = &self.config.cluster;
        let client = tokio::select! {
            r = connect(&self.zk_connect, c.zk_session_timeout, c.zk_password.as_deref()) => r?,
            _ = stop.changed() => return Ok(SessionEnd::Shutdown),
        };
        let mut session = session::Session::join(self, client).await?;
        let end = session.run(&mut stop).await?;
        session.close(&end).await;
        self.report(&Elector::new(&c.broker_name, 1, 1), None, false, None);
        Ok(end)
    }

    fn report(&self, elector: &Elector, zk: Option<(&Group, &str)>, connected: bool, term: Option<Term>) {
        let term = term.unwrap_or(Term { master: None, slave: None });
        let (master, address) = match elector.role() {
            Role::Master { address } => (elector.me().map(str::to_string), address.clone()),
            Role::Slave { master, target, .. } => (Some(master.clone()), target.clone()),
            Role::Electing => (None, None),
        };
        let report = NodeReport {
            pid: std::process::id(),
            role: elector.role().into(),
            znode: zk.and_then(|(g, _)| g.my_path().map(str::to_string)),
            session: zk.map(|(_, s)| s.to_string()),
            zk_connected: connected,
            position: self.store.position().unwrap_or(-1),
            master,
            address,
            serving: term.master.is_some_and(|m| m.serving()),
            replication: term.slave.map(|l| l.state.lock().unwrap().phase.into()),
            slaves: term.master.map(|m| m.slaves()).unwrap_or_default(),
            partitioned: Faults::read(&self.layout.dir).describe(),
            store: Some(crate::status::StoreUsage {
                disk_bytes: self.store.disk_bytes(),
                live_bytes: self.store.live_bytes(),
                log_files: self.store.files().len(),
            }),
            ts: now_ms(),
        };
        self.console.update(report.clone(), term.master.map(|m| m.broker()));
        if let Err(e) = report.write(&self.layout.status) {
            warn!("cannot write {}: {e}", self.layout.status.display());
        }
    }
}
