//! One master term: what a node opens when promoted and closes when it steps down.
//!
//! Order follows ActiveMQ: the replication server binds first (its address is what gets
//! published in ZooKeeper); the broker core is built from the store; the client transport
//! connectors and the console open only once `replicas/2` slaves have caught up with the
//! journal end at promotion. A slave never runs this, so its client ports are closed and a
//! connection attempt is refused by the kernel, which is what the failover transport
//! relies on.
//!
//! OpenWire is not served yet (the connection is closed at once); the console answers
//! `GET /api/status.json`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Incoming, header};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::broker::Broker;
use crate::config::{Config, Node, SyncMode, parse_bind};
use crate::error::{Error, Result};
use crate::election::lease::Lease;
use crate::events::EventLog;
use crate::replication::master::{ReplicationServer, Settings as ReplSettings, SlaveInfo};
use crate::stomp::frame::Limits;
use crate::store::Store;
use crate::store::writer::Writer;

/// A running master term.
pub struct Master {
    /// Published replication address, `tcp://<hostname>:<port>`.
    pub address: String,
    serving: Arc<AtomicBool>,
    replication: ReplicationServer,
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Master {
    /// Binds the replication port and starts the broker; client ports follow in the
    /// background once enough slaves have caught up.
    pub async fn start(
        config: &Config,
        node: &Node,
        name: &str,
        store: Arc<Store>,
        events: EventLog,
        lease: Arc<Lease>,
    ) -> Result<Master> {
        let (bind_addr, bind_port) = parse_bind(node.bind.get_ref()).map_err(Error::Other)?;
        let repl_listener = TcpListener::bind((bind_addr, bind_port))
            .await
            .map_err(Error::io(format!("binding the replication port {bind_addr}:{bind_port}")))?;
        let port = repl_listener.local_addr().map_err(Error::io("local_addr"))?.port();
        let address = format!("tcp://{}:{port}", node.hostname);

        let mode = SyncMode::parse(&config.cluster.sync).map_err(Error::Other)?;
        let need = config.cluster.replicas / 2;
        let (quorum_tx, quorum_rx) = ReplicationServer::quorum_channel(need);
        let writer = Writer::start(store.clone(), mode, quorum_rx, lease)?;
        let s = store.clone();
        let snapshot =
            tokio::task::spawn_blocking(move || s.snapshot()).await.map_err(|e| Error::Other(e.to_string()))??;
        let broker = Arc::new(Broker::new(store.clone(), writer.clone(), snapshot));
        let settings =
            ReplSettings { token: config.cluster.security_token.clone(), remote_disk: mode.remote_disk, need };
        let replication =
            ReplicationServer::start(repl_listener, store.clone(), writer.end(), settings, events.clone(), quorum_tx);

        let (stop, stop_rx) = watch::channel(false);
        let serving = Arc::new(AtomicBool::new(false));
        let position = *writer.end().borrow();
        let open = {
            let (config, node, name, serving, events) =
                (config.clone(), node.clone(), name.to_string(), serving.clone(), events.clone());
            let mut caught_up = replication.caught_up.clone();
            tokio::spawn(async move {
                if need > 0 {
                    events.emit(
                        "waiting",
                        format!(
                            "{name} waits for {need} slave(s) to catch up to position {position} before serving clients"
                        ),
                    );
                    if caught_up.wait_for(|n| *n >= need).await.is_err() {
                        return;
                    }
                }
                if need > 0 {
                    events.emit("caught-up", format!("{name}: {need} slave(s) caught up"));
                }
                match open_client_ports(&config, &node, &name, broker, stop_rx).await {
                    Ok(()) => {
                        serving.store(true, Ordering::SeqCst);
                        events.emit(
                            "serving",
                            format!(
                                "{name} accepts clients (stomp {}, openwire {})",
                                node.stomp.get_ref(),
                                node.openwire.get_ref()
                            ),
                        );
                    }
                    Err(e) => events.emit("error", format!("{name} cannot open its client ports: {e}")),
                }
            })
        };
        Ok(Master { address, serving, replication, tasks: vec![open], stop })
    }

    pub fn serving(&self) -> bool {
        self.serving.load(Ordering::SeqCst)
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
    let console = bind(*node.console.get_ref()).await?;
    let settings = crate::stomp::server::Settings {
        limits: Limits { max_frame_size: config.cluster.max_frame_size, ..Limits::default() },
        max_connections: config.cluster.maximum_connections,
        node: name.to_string(),
    };
    let ctx = Ctx { name: name.to_string(), broker_name: config.cluster.broker_name.clone(), broker: broker.clone() };
    let openwire_settings = crate::openwire::server::Settings {
        max_frame_size: config.cluster.max_frame_size,
        max_connections: config.cluster.maximum_connections,
        node: name.to_string(),
        broker_name: config.cluster.broker_name.clone(),
    };
    let tasks = vec![
        tokio::spawn(crate::stomp::server::serve(stomp, broker.clone(), settings, stop.clone())),
        tokio::spawn(crate::openwire::server::serve(openwire, broker, openwire_settings, stop.clone())),
        tokio::spawn(serve_console(console, ctx)),
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

#[derive(Clone)]
struct Ctx {
    name: String,
    broker_name: String,
    broker: Arc<Broker>,
}

async fn serve_console(listener: TcpListener, ctx: Ctx) {
    loop {
        let Ok((socket, _)) = listener.accept().await else { continue };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(socket);
            let svc = hyper::service::service_fn(move |req| console(req, ctx.clone()));
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await {
                warn!("console connection: {e}");
            }
        });
    }
}

async fn console(req: Request<Incoming>, ctx: Ctx) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let (status, ctype, body) = match req.uri().path() {
        "/api/status.json" => (
            StatusCode::OK,
            "application/json",
            serde_json::json!({
                "name": ctx.name,
                "brokerName": ctx.broker_name,
                "role": "master",
                "destinations": ctx.broker.stats(),
            })
            .to_string(),
        ),
        "/" => (
            StatusCode::OK,
            "text/plain; charset=utf-8",
            format!("mqsim {}: master of {}\n", ctx.name, ctx.broker_name),
        ),
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n".to_string()),
    };
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, ctype)
        .body(Full::new(Bytes::from(body)))
        .expect("valid response"))
}
