//! The ports a master opens, and closes again when it steps down.
//!
//! Order follows ActiveMQ: the replication server binds first (its address is what gets
//! published in ZooKeeper), then the client transport connectors and the console. A slave
//! never calls [`Master::start`], so its client ports are closed and a connection attempt
//! is refused by the kernel, which is what the failover transport relies on.
//!
//! Until the broker core lands (the store issue), a client on the STOMP port gets an
//! `ERROR` frame saying so, an OpenWire client is disconnected, and a slave that dials the
//! replication port gets an `error` frame; the console answers `GET /api/status.json`.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Incoming, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::config::{Config, Node, parse_bind};
use crate::error::{Error, Result};
use crate::events::EventLog;

/// The listeners of a running master.
pub struct Master {
    /// Published replication address, `tcp://<hostname>:<port>`.
    pub address: String,
    accept_loops: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

#[derive(Clone, Copy, Debug)]
enum Port {
    Replication,
    OpenWire,
    Stomp,
    Console,
}

impl Master {
    pub async fn start(
        config: &Config,
        node: &Node,
        name: &str,
        events: EventLog,
    ) -> Result<Master> {
        let (bind_addr, bind_port) = parse_bind(node.bind.get_ref()).map_err(Error::Other)?;
        let mut binds = vec![(Port::Replication, SocketAddr::new(bind_addr, bind_port))];
        for (kind, port) in [
            (Port::OpenWire, &node.openwire),
            (Port::Stomp, &node.stomp),
            (Port::Console, &node.console),
        ] {
            binds.push((kind, SocketAddr::new(node.listen, *port.get_ref())));
        }
        let (stop, stop_rx) = watch::channel(false);
        let mut accept_loops = Vec::new();
        let mut address = String::new();
        for (kind, addr) in binds {
            let listener = TcpListener::bind(addr).await.map_err(|e| {
                events.emit(
                    "error",
                    format!("{name} cannot bind {kind:?} port {addr}: {e}"),
                );
                Error::io(format!("binding {kind:?} port {addr}"))(e)
            })?;
            if let Port::Replication = kind {
                let port = listener
                    .local_addr()
                    .map_err(Error::io("local_addr"))?
                    .port();
                address = format!("tcp://{}:{port}", node.hostname);
            }
            let ctx = Ctx {
                name: name.to_string(),
                broker_name: config.cluster.broker_name.clone(),
            };
            accept_loops.push(tokio::spawn(accept_loop(
                listener,
                kind,
                ctx,
                stop_rx.clone(),
            )));
        }
        Ok(Master {
            address,
            accept_loops,
            stop,
        })
    }

    /// Closes every listener and every open connection.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.accept_loops {
            h.abort();
            let _ = h.await;
        }
    }
}

#[derive(Clone)]
struct Ctx {
    name: String,
    broker_name: String,
}

async fn accept_loop(listener: TcpListener, kind: Port, ctx: Ctx, stop: watch::Receiver<bool>) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!("accept on {kind:?} failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        debug!("{kind:?} connection from {peer}");
        let ctx = ctx.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = handle(kind, socket, ctx) => {}
                _ = stop.changed() => {}
            }
        });
    }
}

async fn handle(kind: Port, mut socket: TcpStream, ctx: Ctx) {
    match kind {
        Port::Stomp => {
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), socket.read(&mut buf))
                .await;
            let frame = format!(
                "ERROR\ncontent-type:text/plain\nmessage:mqsim {} is the master of {} but does not serve STOMP yet\n\n\
                 The broker core is not implemented in this version of mqsim.\0",
                ctx.name, ctx.broker_name
            );
            let _ = socket.write_all(frame.as_bytes()).await;
        }
        Port::Replication => {
            let _ = socket
                .write_all(b"error\n\"replication is not implemented in this version of mqsim\"\0")
                .await;
        }
        Port::OpenWire => {}
        Port::Console => {
            let io = hyper_util::rt::TokioIo::new(socket);
            let svc = hyper::service::service_fn(move |req| console(req, ctx.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        }
    }
}

async fn console(
    req: Request<Incoming>,
    ctx: Ctx,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let (status, ctype, body) = match req.uri().path() {
        "/api/status.json" => (
            StatusCode::OK,
            "application/json",
            serde_json::json!({ "name": ctx.name, "brokerName": ctx.broker_name, "role": "master" }).to_string(),
        ),
        "/" => (StatusCode::OK, "text/plain; charset=utf-8", format!("mqsim {}: master of {}\n", ctx.name, ctx.broker_name)),
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n".to_string()),
    };
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, ctype)
        .body(Full::new(Bytes::from(body)))
        .expect("valid response"))
}
