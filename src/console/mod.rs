//! Each node's web console, like ActiveMQ's `/admin` on port 8161: it runs for the node's
//! whole life, on every node, and shows what the node is doing right now.
//!
//! | route | what |
//! |---|---|
//! | `GET /` , `/admin` | redirect to `/admin/` |
//! | `GET /admin/` (`index.jsp`) | broker name, role, znode, position, sync mode, slaves and their lag; on the master the destinations |
//! | `GET /admin/queues.jsp`, `/admin/topics.jsp` | pending / consumers / enqueued / dequeued per destination |
//! | `GET /admin/browse.jsp?JMSDestination=q` | the queue's pending messages, 500 a page (`&after=<seq>`: the next page); `message.jsp?JMSDestination=q&id=..` one of them |
//! | `GET /admin/send.jsp` | a form; `POST /admin/sendMessage.action` sends |
//! | `POST /admin/purgeDestination.action` | deletes a queue's pending messages (journaled, so slaves follow) |
//! | `POST /api/message/<name>?type=queue` | ActiveMQ's REST API: the request body (or `body=`) is the message |
//! | `GET /api/message/<name>?type=queue&readTimeout=ms` | consumes one message (204 if none came) |
//! | `GET /api/status.json` | the node's state as JSON |
//!
//! Every request needs BASIC auth (`[console] user/password`, admin/admin by default), and
//! the console binds `[console] host` (127.0.0.1). Forms carry a per-process secret, like
//! ActiveMQ's `secret` parameter. Every string that comes from a user (destination names,
//! message bodies and headers) is HTML-escaped.
//!
//! # Hostile clients
//!
//! * A `Host` that is not ours (DNS rebinding) gets 403, and so does every state-changing
//!   request a browser marks as cross-site: all POSTs and the consuming
//!   `GET /api/message` ([`crate::web::guard`] explains both rules).
//! * At most [`crate::limits::MAX_HTTP_CONNECTIONS`] connections at once; a request head
//!   must arrive within [`crate::limits::HTTP_HEADER_READ_TIMEOUT`] (idle and partial
//!   connections are closed), a body within [`crate::limits::HTTP_BODY_READ_TIMEOUT`] and
//!   at most `cluster.maxFrameSize` long ([`crate::web`], which serves the dashboard too).
//! * REST destination names pass [`crate::limits::check`], and query parameters that would
//!   set headers the broker owns (`content-length`, `receipt`, `message-id`...) get 400
//!   (`rest`).
//!
//! A slave's pages say that it is a slave, of which master, at which position, and link to
//! the master's console. Real ActiveMQ serves nothing on a slave (its broker, and with it
//! the web console, starts only when the node becomes master); the page says so too.
//! The queue pages and the message API answer 503 on a slave.

mod pages;
mod rest;

use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use crate::broker::Broker;
use crate::config::{Config, Node};
use crate::error::{Error, Result};
use crate::status::{NodeReport, Role};
use crate::store::Store;
use crate::web::{self, Body, Gate};

/// The realm browsers show in the login dialog (ActiveMQ's name).
pub const REALM: &str = "ActiveMQRealm";

/// What the node is right now: its last status report, and its broker while it is master.
#[derive(Clone, Default)]
pub struct NodeView {
    pub report: NodeReport,
    /// The master term's broker core (from promotion until the term ends).
    pub broker: Option<Arc<Broker>>,
}

impl NodeView {
    /// `master`, `slave`, `electing`, or `starting` before the first report.
    pub fn role(&self) -> &str {
        match &self.report.role {
            Role::Unknown(r) if r.is_empty() => "starting",
            r => r.as_str(),
        }
    }

    /// The broker, if this node is master and serves clients (the slaves have caught up).
    pub fn serving_broker(&self) -> Option<&Arc<Broker>> {
        self.broker.as_ref().filter(|_| self.report.serving && self.report.role == Role::Master)
    }
}

/// One node's console; cheap to clone.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    name: String,
    /// BASIC auth, the `Host` names this console answers to, the cross-site rule.
    gate: Gate,
    /// Put in every form and checked on every form POST (CSRF), like ActiveMQ's `secret`.
    secret: String,
    view: Mutex<NodeView>,
    /// The node's store, for its live position (reports are up to 500 ms old).
    store: Option<Arc<Store>>,
}

impl Console {
    pub fn new(config: Config, name: &str) -> Console {
        Self::build(config, name, None)
    }

    /// A node's console: positions are read live from its store.
    pub fn with_store(config: Config, name: &str, store: Arc<Store>) -> Console {
        Self::build(config, name, Some(store))
    }

    fn build(config: Config, name: &str, store: Option<Arc<Store>>) -> Console {
        let gate = Gate::new(&config, REALM);
        let rnd = || std::collections::hash_map::RandomState::new().build_hasher().finish();
        let secret = format!("{:016x}{:016x}", rnd(), rnd());
        let view = Mutex::new(NodeView::default());
        let inner = Inner { config, name: name.to_string(), gate, secret, view, store };
        Console { inner: Arc::new(inner) }
    }

    /// Called by the node after every election step (next to its status file).
    pub fn update(&self, report: NodeReport, broker: Option<Arc<Broker>>) {
        *self.inner.view.lock().unwrap() = NodeView { report, broker };
    }

    /// The last report, with the store's current position.
    pub fn view(&self) -> NodeView {
        let mut v = self.inner.view.lock().unwrap().clone();
        if let Some(p) = self.inner.store.as_ref().and_then(|s| s.position().ok()) {
            v.report.position = p;
        }
        v
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    fn node(&self) -> Option<&Node> {
        self.inner.config.node(&self.inner.name)
    }

    /// Binds this node's console port on its `consoleHost` (default `[console] host`).
    pub async fn bind(&self) -> Result<TcpListener> {
        let port = self.node().map(|n| *n.console.get_ref()).unwrap_or(0);
        let host = self.node().map_or(self.inner.config.console.host, |n| self.inner.config.console_host(n));
        let addr = SocketAddr::new(host, port);
        TcpListener::bind(addr).await.map_err(Error::io(format!("binding the console port {addr}")))
    }

    /// Serves the console until the task is aborted.
    pub async fn serve(self, listener: TcpListener) {
        web::serve(listener, self).await
    }

    /// One request (public so that tests can call it without a socket).
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_string();
        let get = req.method() == Method::GET || req.method() == Method::HEAD;
        // ActiveMQ's `GET /api/message` consumes a message: it changes state like a POST.
        let mutating = !get || path == "/api/message" || path.starts_with("/api/message/");
        if let Some(refused) = self.inner.gate.refuse(mutating, &req) {
            return refused;
        }
        let view = self.view();
        let post = req.method() == Method::POST;
        match path.as_str() {
            "/" | "/admin" | "/admin/index.html" if get => web::redirect("/admin/"),
            "/admin/" | "/admin/index.jsp" if get => pages::index(self, &view, &req),
            "/admin/queues.jsp" if get => pages::destinations(self, &view, &req, crate::broker::Kind::Queue),
            "/admin/topics.jsp" if get => pages::destinations(self, &view, &req, crate::broker::Kind::Topic),
            "/admin/browse.jsp" if get => pages::browse(self, &view, &req),
            "/admin/message.jsp" if get => pages::message(self, &view, &req),
            "/admin/send.jsp" if get => pages::send_form(self, &view, &req),
            "/admin/style.css" if get => web::respond(StatusCode::OK, "text/css; charset=utf-8", web::STYLE),
            "/admin/sendMessage.action" if post => pages::send_action(self, &view, req).await,
            "/admin/purgeDestination.action" if post => pages::purge_action(self, &view, req).await,
            "/api/status.json" if get => web::json(StatusCode::OK, &self.status_json(&view)),
            p if p == "/api/message" || p.starts_with("/api/message/") => rest::message(self, &view, req).await,
            "/admin/sendMessage.action" | "/admin/purgeDestination.action" => web::method_not_allowed("POST"),
            _ => web::not_found(),
        }
    }

    /// `GET /api/status.json`: the node's state; `destinations` is null unless master.
    pub fn status_json(&self, view: &NodeView) -> serde_json::Value {
        let r = &view.report;
        let master_node = self.master_node(view).map(|n| n.name.clone());
        let slaves: Vec<serde_json::Value> = r
            .slaves
            .iter()
            .map(|s| {
                serde_json::json!({
                    "node_id": s.node_id,
                    "remote": s.remote,
                    "acked": s.acked,
                    "caught_up": s.caught_up,
                    "lag": lag(r.position, s.acked),
                })
            })
            .collect();
        serde_json::json!({
            "name": self.inner.name,
            "brokerName": self.inner.config.cluster.broker_name,
            "role": view.role(),
            "serving": r.serving,
            "pid": r.pid,
            "znode": r.znode,
            "session": r.session,
            "zkConnected": r.zk_connected,
            "position": r.position,
            "sync": self.inner.config.cluster.sync,
            "master": r.master,
            "masterNode": master_node,
            "address": r.address,
            "replication": r.replication,
            "slaves": slaves,
            "destinations": view.broker.as_ref().map(|b| b.stats()),
            "ts": r.ts,
        })
    }

    /// The node whose replication address this node follows (or publishes, if master).
    pub fn master_node(&self, view: &NodeView) -> Option<&Node> {
        if view.report.role == Role::Master {
            return self.node();
        }
        let port: u16 = view.report.address.as_deref()?.rsplit(':').next()?.parse().ok()?;
        self.inner.config.nodes.iter().find(|n| n.bind.get_ref().port == port)
    }

    fn check_secret(&self, form: &std::collections::BTreeMap<String, String>) -> bool {
        form.get("secret").is_some_and(|s| s == &self.inner.secret)
    }
}

impl web::Site for Console {
    const WHAT: &'static str = "web console";

    fn handle(&self, req: Request<Incoming>) -> impl Future<Output = Response<Body>> + Send {
        Console::handle(self, req)
    }
}

/// How far a slave is behind the master's journal end, in bytes.
pub fn lag(master_position: i64, acked: u64) -> u64 {
    (master_position.max(0) as u64).saturating_sub(acked)
}
