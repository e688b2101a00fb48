//! One master term: what a node opens when promoted and closes when it steps down.
//!
//! Order follows ActiveMQ: the replication server binds first (its address is what gets
//! published in ZooKeeper); the broker core is built from the store; the client transport
//! connectors open only once `replicas/2` slaves have caught up with the
//! journal end at promotion. A slave never runs this, so its client ports are closed and a
//! connection attempt is refused by the kernel, which is what the failover transport
//! relies on.
//!
//! The web console is not part of the term: it runs for the node's whole life
//! ([`crate::console`]) and gets this term's [`Broker`] through [`Master::broker`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::Broker;
use crate::config::{Config, Node};
use crate::election::lease::Lease;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::events::EventLog;
use crate::replication::auth::Secret;
use crate::replication::master::{ReplicationServer, Settings as ReplSettings, SlaveInfo};
use crate::stomp::frame::Limits;
use crate::store::Store;
use crate::store::writer::Writer;

/// A running master term.
pub struct Master {
    /// Published replication address, `tcp://<hostname>:<port>`.
    pub address: String,
    serving: Arc<AtomicBool>,
    broker: Arc<Broker>,
    replication: ReplicationServer,
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Master {
    /// Binds the replication port and starts the broker; client ports follow in the
    /// background once enough slaves have caught up.
    #[allow(clippy::too_many_arguments)] // what a master needs; one context struct is for the seams issue
    pub async fn start(
        config: &Config,
        node: &Node,
        name: &str,
        store: Arc<Store>,
        events: EventLog,
        lease: Arc<Lease>,
        peers: watch::Receiver<bool>,
        secret: Secret,
    ) -> Result<Master> {
        let (bind_addr, bind_port) = (node.bind.get_ref().addr, node.bind.get_ref().port);
        // Every replication connection is gated by `peers` in place (see crate::faults).
        let repl_listener = TcpListener::bind(SocketAddr::new(bind_addr, bind_port))
            .await
            .map_err(Error::io(format!("binding the replication port {bind_addr}:{bind_port}")))?;
        let port = repl_listener.local_addr().map_err(Error::io("local_addr"))?.port();
        let address = format!("tcp://{}:{port}", node.hostname);

        let mode = config.cluster.sync.mode;
        let need = config.cluster.replicas / 2;
        let (quorum_tx, quorum_rx) = ReplicationServer::quorum_channel(need);
        if let Some(n) = test_fail_fsync_after(name) {
            tracing::warn!("test hook {FAIL_FSYNC_ENV}: the journal's fsync after the next {n} fails on purpose");
            store.fail_fsync_after(n);
        }
        let writer = Writer::start(store.clone(), mode, quorum_rx, lease)?;
        let s = store.clone();
        let snapshot =
            tokio::task::spawn_blocking(move || s.snapshot()).await.map_err(|e| Error::Other(e.to_string()))??;
        let limits = crate::broker::Limits::of(&config.cluster);
        let broker = Arc::new(Broker::with_limits(writer.clone(), snapshot, limits));
        let nodes = config.nodes.iter().map(|n| n.name.clone()).collect();
        let settings = ReplSettings { secret, me: name.to_string(), nodes, remote_disk: mode.remote_disk, need };
        let replication = ReplicationServer::start(
            repl_listener,
            store.clone(),
            writer.end(),
            settings,
            events.clone(),
            quorum_tx,
            peers,
        );

        let (stop, stop_rx) = watch::channel(false);
        let serving = Arc::new(AtomicBool::new(false));
        let position = *writer.end().borrow();
        let open = {
            let (config, node, name, serving, events, broker) =
                (config.clone(), node.clone(), name.to_string(), serving.clone(), events.clone(), broker.clone());
            let mut caught_up = replication.caught_up.clone();
            tokio::spawn(async move {
                if need > 0 {
                    events.emit(
                        EventKind::Waiting,
                        format!(
                            "{name} waits for {need} slave(s) to catch up to position {position} before serving clients"
                        ),
                    );
                    if caught_up.wait_for(|n| *n >= need).await.is_err() {
                        return;
                    }
                }
                if need > 0 {
                    events.emit(EventKind::CaughtUp, format!("{name}: {need} slave(s) caught up"));
                }
                match open_client_ports(&config, &node, &name, broker, stop_rx).await {
                    Ok(()) => {
                        serving.store(true, Ordering::SeqCst);
                        events.emit(
                            EventKind::Serving,
                            format!(
                                "{name} accepts clients (stomp {}, openwire {})",
                                node.stomp.get_ref(),
                                node.openwire.get_ref()
                            ),
                        );
                    }
                    Err(e) => events.emit(EventKind::Error, format!("{name} cannot open its client ports: {e}")),
                }
            })
        };
        let compact = tokio::spawn(super::gc::compact(store.clone(), broker.clone(), name.to_string()));
        Ok(Master { address, serving, broker, replication, tasks: vec![open, compact], stop })
    }

    pub fn serving(&self) -> bool {
        self.serving.load(Ordering::SeqCst)
    }

    /// This term's broker core (for the console, which runs all the node's life).
    pub fn broker(&self) -> Arc<Broker> {
        self.broker.clone()
    }

    pub fn slaves(&self) -> Vec<SlaveInfo> {
        self.replication.slaves()
    }

    /// Closes every listener and connection (the writer thread ends with the last handle).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.replication.stop();
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

/// **Test-only fault hook**, never to be set outside tests: `MQSIM_TEST_FAIL_FSYNC_AFTER=<n>`
/// (every node) or `=<node>:<n>` (that node only) makes a master's journal fsync after its
/// next `n` fail, once, as a disk error would; read once as the term starts. The e2e test
/// of issue 11 (tests/hostile/store.rs) uses it to show that a failed fsync ends the
/// node's mastership.
pub const FAIL_FSYNC_ENV: &str = "MQSIM_TEST_FAIL_FSYNC_AFTER";

fn test_fail_fsync_after(node: &str) -> Option<u64> {
    let value = std::env::var(FAIL_FSYNC_ENV).ok()?;
    let n = match value.split_once(':') {
        Some((name, n)) if name == node => n,
        Some(_) => return None,
        None => &value,
    };
    n.trim().parse().ok()
}

async fn open_client_ports(
    config: &Config,
    node: &Node,
    name: &str,
    broker: Arc<Broker>,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let bind = |port: u16| {
        let addr = SocketAddr::new(node.listen, port);
        async move { TcpListener::bind(addr).await.map_err(Error::io(format!("binding {addr}"))) }
    };
    let stomp = bind(*node.stomp.get_ref()).await?;
    let openwire = bind(*node.openwire.get_ref()).await?;
    let settings = crate::stomp::server::Settings {
        limits: Limits { max_frame_size: config.cluster.max_frame_size, ..Limits::default() },
        max_connections: config.cluster.maximum_connections,
        node: name.to_string(),
        users: config.users.clone(),
    };
    let openwire_settings = crate::openwire::server::Settings {
        max_frame_size: config.cluster.max_frame_size,
        max_connections: config.cluster.maximum_connections,
        node: name.to_string(),
        broker_name: config.cluster.broker_name.clone(),
        users: config.users.clone(),
    };
    let tasks = vec![
        tokio::spawn(crate::stomp::server::serve(stomp, broker.clone(), settings, stop.clone())),
        tokio::spawn(crate::openwire::server::serve(openwire, broker, openwire_settings, stop.clone())),
    ];
    // The listeners live until the term ends.
    let mut stop = stop;
    tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        for t in tasks {
            t.abort();
        }
    });
    Ok(())
}
