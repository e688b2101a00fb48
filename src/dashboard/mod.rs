//! The cluster dashboard, served by the supervisor on `cluster.dashboardPort` (8160):
//! what a teacher puts on the projector during a failover demo.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page: ZooKeeper servers, brokers (with kill/stop/start/pause/resume buttons), election znodes, message rate, timeline |
//! | `GET /api/status` | JSON: `mqsim status --json`, the znodes, the master's message counters, and the live parts of the page as HTML |
//! | `GET /events` | server-sent events: the timeline (`events.jsonl`), each event with its failover duration if it ends one |
//! | `POST /action` | `verb=kill&target=node01`: the same action as `mqsim kill node01`; also `verb=partition&target=master&from=zk` (`mqsim partition`), `verb=heal&target=nodes`, `verb=load-start` / `verb=load-stop` (the demo load); JSON with `Accept: application/json`, else a redirect |
//! | `GET /diagram/topology.svg` | the live topology picture ([`crate::diagram::topology`]) |
//! | `GET /diagram/last-failover.svg` | the sequence diagram of the last failover in the timeline ([`crate::diagram::sequence`]); 404 before the first |
//! | `GET /assets/dashboard.js`, `/assets/style.css` | the embedded assets |
//!
//! The page shows the topology picture inline (refreshed with the live tables) and the last
//! failover's sequence diagram, which the script fetches again whenever the timeline
//! reports a new failover. The "lesson" bar's buttons partition the master, heal, and
//! start/stop a demo load ([`load`]: one producer + one consumer, one load at a time,
//! stopped with the supervisor) whose send/receive rates the page shows.
//!
//! Everything renders on the server, so the page works without JavaScript (forms post,
//! reload to update); the script only polls `/api/status` once a second, listens to
//! `/events`, draws the rate chart and posts the buttons without leaving the page. The
//! chart plots the master's enqueued/dequeued counters (read from its console's
//! `/api/status.json`) as messages per second. It is served like the consoles
//! ([`crate::web`]): the same BASIC auth, the same Host allowlist and cross-site rule for
//! `POST /action` ([`web::Gate`]), and the same connection cap and timeouts ([`web::serve()`]).

pub mod load;
pub mod probe;
mod render;
pub mod timeline;
pub mod zk;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use hyper::body::{Body as HttpBody, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use serde::Serialize;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::control::{Cut, Verb};
use crate::error::{Error, Result};
use crate::status::ClusterStatus;
use crate::web::{self, Body, Gate};
pub use render::{broker_state, zk_state};
pub use zk::Znode;

pub const REALM: &str = "mqsim dashboard";
const SCRIPT: &str = include_str!("assets/dashboard.js");
/// Longest `POST /action` form body (a verb, a target and a cut are a few dozen bytes).
const MAX_ACTION_FORM: usize = 64 * 1024;

/// What the dashboard asks of the supervisor (the same calls the CLI makes).
pub trait Control: Send + Sync + 'static {
    fn status(&self) -> BoxFuture<'_, ClusterStatus>;
    fn act(self: Arc<Self>, verb: Verb, target: String) -> BoxFuture<'static, Result<Vec<String>>>;
    /// `mqsim partition <target> --from <cut>`, or `mqsim heal <target>` with `None`.
    fn partition(self: Arc<Self>, target: String, cut: Option<Cut>) -> BoxFuture<'static, Result<Vec<String>>> {
        let _ = (target, cut);
        Box::pin(async { Err(Error::Other("partition is not available here".into())) })
    }
}

enum Znodes {
    Zk(Box<zk::ZnodeReader>),
    Fixed(Vec<Znode>),
}

/// The master's message counters, summed over its queues and topics.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MasterStats {
    pub node: String,
    pub enqueued: u64,
    pub dequeued: u64,
    pub pending: u64,
    pub destinations: usize,
    /// When they were read (ms since the epoch).
    pub ts: u64,
}

/// One look at the cluster: what the page's live part shows.
#[derive(Debug, Clone, Serialize)]
pub struct Live {
    pub status: ClusterStatus,
    /// The election znodes, oldest first (empty if ZooKeeper could not be read).
    pub znodes: Vec<Znode>,
    /// Why the znodes could not be read.
    pub znodes_error: Option<String>,
    pub master_stats: Option<MasterStats>,
    /// ZooKeeper session id → the server it is connected to (from `cons`).
    pub zk_sessions: std::collections::BTreeMap<String, String>,
    /// Broker → established client connections.
    pub clients: std::collections::BTreeMap<String, usize>,
    /// The demo load, while it runs.
    pub load: Option<load::LoadView>,
}

#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    control: Arc<dyn Control>,
    gate: Gate,
    znodes: Znodes,
    events: PathBuf,
    load: tokio::sync::Mutex<Option<load::Load>>,
}

impl Dashboard {
    pub fn new(config: Config, control: Arc<dyn Control>) -> Dashboard {
        let znodes = Znodes::Zk(Box::new(zk::ZnodeReader::new(&config)));
        Self::build(config, control, znodes)
    }

    /// For tests: fixed znodes instead of a ZooKeeper session.
    pub fn with_znodes(config: Config, control: Arc<dyn Control>, znodes: Vec<Znode>) -> Dashboard {
        Self::build(config, control, Znodes::Fixed(znodes))
    }

    fn build(config: Config, control: Arc<dyn Control>, znodes: Znodes) -> Dashboard {
        let gate = Gate::new(&config, REALM);
        let events = crate::state_dir::StateDir::of(&config).events();
        let load = tokio::sync::Mutex::new(None);
        Dashboard { inner: Arc::new(Inner { config, control, gate, znodes, events, load }) }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Binds `[console] host` : `cluster.dashboardPort`.
    pub async fn bind(config: &Config) -> Result<TcpListener> {
        let addr = SocketAddr::new(config.console.host, *config.cluster.dashboard_port.get_ref());
        TcpListener::bind(addr).await.map_err(Error::io(format!("binding the dashboard port {addr}")))
    }

    pub async fn serve(self, listener: TcpListener) {
        web::serve(listener, self).await
    }

    /// One request (public so that tests can call it without a socket).
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let get = req.method() == Method::GET || req.method() == Method::HEAD;
        if let Some(refused) = self.inner.gate.refuse(!get, &req) {
            return refused;
        }
        let path = req.uri().path().to_string();
        match path.as_str() {
            "/" | "/index.html" if get => {
                let q = web::query(&req);
                let live = self.live().await;
                let (events, _, offset) = timeline::history(&self.inner.events, timeline::BACKLOG, None);
                let said = q.get("said").map(String::as_str);
                let page = render::page(self, &live, &events, offset, said, web::request_host(&req).as_deref());
                web::html(StatusCode::OK, page)
            }
            "/api/status" if get => {
                let live = self.live().await;
                let host = web::request_host(&req);
                let mut v = serde_json::to_value(&live).expect("serializes");
                v["html"] = serde_json::Value::String(render::live(self, &live, host.as_deref()));
                v["html_side"] = serde_json::Value::String(render::side(&live));
                v["html_topology"] = serde_json::Value::String(render::topology_html(&live));
                web::json(StatusCode::OK, &v)
            }
            "/events" if get => {
                let q = web::query(&req);
                let last_id = req.headers().get("last-event-id").and_then(|v| v.to_str().ok());
                let from = last_id.or(q.get("from").map(String::as_str)).and_then(|s| s.parse::<u64>().ok());
                timeline::sse(self.inner.events.clone(), from)
            }
            "/diagram/topology.svg" if get => {
                let live = self.live().await;
                svg(crate::diagram::topology::render(&render::topology(&live)))
            }
            "/diagram/last-failover.svg" if get => match self.last_failover_svg() {
                Some(s) => svg(s),
                None => web::respond(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "no failover in the timeline yet\n",
                ),
            },
            "/action" if req.method() == Method::POST => self.action(req).await,
            "/action" => web::method_not_allowed("POST"),
            "/assets/dashboard.js" if get => web::respond(StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT),
            "/assets/style.css" if get => web::respond(StatusCode::OK, "text/css; charset=utf-8", web::STYLE),
            "/favicon.ico" => web::respond(StatusCode::NO_CONTENT, "image/x-icon", ""),
            _ => web::not_found(),
        }
    }

    async fn action<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let wants_json = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"));
        let mut form = web::query(&req);
        match web::read_form(req.into_body(), MAX_ACTION_FORM).await {
            Ok(body) => form.extend(body),
            Err(r) => return r,
        }
        let target = form.get("target").cloned().unwrap_or_default();
        let result = match form.get("verb").map(String::as_str) {
            Some(v @ ("partition" | "heal" | "load-start" | "load-stop")) => self.lesson(v, &target, &form).await,
            _ => self.act(&form, target).await,
        };
        let (status, lines) = match &result {
            Ok(lines) => (StatusCode::OK, lines.clone()),
            Err(e) => (StatusCode::BAD_REQUEST, vec![e.clone()]),
        };
        if wants_json {
            web::json(status, &serde_json::json!({ "ok": result.is_ok(), "lines": lines }))
        } else {
            web::redirect(&format!("/?said={}", web::enc(&lines.join("; "))))
        }
    }

    /// The lesson bar: partition, heal, and the demo load.
    async fn lesson(
        &self,
        verb: &str,
        target: &str,
        form: &std::collections::BTreeMap<String, String>,
    ) -> std::result::Result<Vec<String>, String> {
        let control = self.inner.control.clone();
        match verb {
            "partition" | "heal" if target.is_empty() || target.len() > 64 => {
                Err("which target? (e.g. node01, master, nodes)".into())
            }
            "partition" => {
                let cut = match form.get("from").map(String::as_str) {
                    Some("zk") => Cut::Zk,
                    Some("peers") => Cut::Peers,
                    Some("all") => Cut::All,
                    other => return Err(format!("partition from {:?}? use zk, peers or all", other.unwrap_or(""))),
                };
                control.partition(target.to_string(), Some(cut)).await.map_err(|e| e.to_string())
            }
            "heal" => {
                let lines = control.partition(target.to_string(), None).await.map_err(|e| e.to_string())?;
                Ok(if lines.is_empty() { vec!["nothing was partitioned".into()] } else { lines })
            }
            "load-start" => {
                let mut slot = self.inner.load.lock().await;
                if slot.is_some() {
                    return Err("a load is already running; stop it first".into());
                }
                *slot = Some(load::Load::start(&self.inner.config).map_err(|e| e.to_string())?);
                Ok(vec![format!(
                    "load started: a producer ({} msg/s at most) and a consumer on {} through the failover URL",
                    load::RATE,
                    load::QUEUE
                )])
            }
            _ => match self.stop_load().await {
                Some(v) => Ok(vec![format!(
                    "load stopped: {} sent, {} received, {} reconnection(s)",
                    v.sent, v.received, v.reconnects
                )]),
                None => Err("no load is running".into()),
            },
        }
    }

    /// Stops the demo load, if one runs (the supervisor calls this before tearing down).
    pub async fn stop_load(&self) -> Option<load::LoadView> {
        let running = self.inner.load.lock().await.take();
        match running {
            Some(l) => Some(l.stop().await),
            None => None,
        }
    }

    /// The sequence diagram of the last failover in the timeline.
    pub fn last_failover_svg(&self) -> Option<String> {
        let (events, _) = timeline::read_new(&self.inner.events, 0);
        let events: Vec<crate::events::Event> = events.into_iter().map(|(e, _)| e).collect();
        let slice = crate::diagram::sequence::last_failover(&events)?;
        let nodes: Vec<String> = self.inner.config.nodes.iter().map(|n| n.name.clone()).collect();
        Some(crate::diagram::sequence::render(&slice, &nodes))
    }

    /// A start/stop/kill/restart/pause/resume button.
    async fn act(
        &self,
        form: &std::collections::BTreeMap<String, String>,
        target: String,
    ) -> std::result::Result<Vec<String>, String> {
        let verb = match form.get("verb").map(String::as_str) {
            Some("start") => Ok(Verb::Start),
            Some("stop") => Ok(Verb::Stop),
            Some("kill") => Ok(Verb::Kill),
            Some("restart") => Ok(Verb::Restart),
            Some("pause") => Ok(Verb::Pause),
            Some("resume") => Ok(Verb::Resume),
            other => Err(format!(
                "unknown verb {:?}; use start, stop, kill, restart, pause, resume, partition, heal, load-start or load-stop",
                other.unwrap_or("")
            )),
        };
        match verb {
            Err(e) => Err(e),
            Ok(_) if target.is_empty() || target.len() > 64 => Err("which target? (e.g. node01, zk02, master)".into()),
            Ok(v) => self.inner.control.clone().act(v, target).await.map_err(|e| e.to_string()),
        }
    }

    /// Status, znodes and the master's counters, read now.
    pub async fn live(&self) -> Live {
        let status = self.inner.control.status().await;
        let znodes = match &self.inner.znodes {
            Znodes::Zk(r) => r.read().await,
            Znodes::Fixed(v) => Ok(v.clone()),
        };
        let (master_stats, zk_sessions) =
            tokio::join!(self.master_stats(&status), probe::zk_sessions(&self.inner.config));
        let clients = probe::client_connections(&status);
        let (znodes, znodes_error) = match znodes {
            Ok(z) => (z, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let load = self.inner.load.lock().await.as_ref().map(load::Load::view);
        Live { status, znodes, znodes_error, master_stats, zk_sessions, clients, load }
    }

    /// Reads the master console's `/api/status.json` (with the console credentials).
    async fn master_stats(&self, st: &ClusterStatus) -> Option<MasterStats> {
        let master = st.master_node()?;
        let host = match self.inner.config.console.host {
            h if h.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            h => h,
        };
        let addr = SocketAddr::new(host, master.ports.console);
        let (status, _, body) = web::http_request(
            addr,
            "GET",
            "/api/status.json",
            Some(self.inner.gate.credentials()),
            b"",
            Duration::from_millis(800),
            crate::limits::MAX_STATUS_JSON,
        )
        .await
        .ok()?;
        if status != StatusCode::OK {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
        let dests = v["destinations"].as_array()?;
        // Durable subscription stores (`sub:...`) repeat their topic's messages: skip them.
        let own: Vec<&serde_json::Value> =
            dests.iter().filter(|d| !d["name"].as_str().unwrap_or("").starts_with("sub:")).collect();
        let sum = |k: &str| own.iter().map(|d| d[k].as_u64().unwrap_or(0)).sum::<u64>();
        Some(MasterStats {
            node: master.name.clone(),
            enqueued: sum("enqueued"),
            dequeued: sum("dequeued"),
            pending: sum("pending"),
            destinations: own.len(),
            ts: crate::events::now_ms(),
        })
    }
}

impl web::Site for Dashboard {
    const WHAT: &'static str = "dashboard";

    fn handle(&self, req: Request<Incoming>) -> impl Future<Output = Response<Body>> + Send {
        Dashboard::handle(self, req)
    }
}

fn svg(body: String) -> Response<Body> {
    web::respond(StatusCode::OK, "image/svg+xml; charset=utf-8", body)
}
