//! The console's HTML pages, rendered on the server (no JavaScript needed). Every string
//! that is not a literal of this file goes through [`esc`] (text) or [`enc`] (URLs).

use std::collections::BTreeMap;
use std::fmt::Write;

use bytes::Bytes;
use hyper::body::Body as HttpBody;
use hyper::{Request, Response, StatusCode};

use super::web::{self, Body, enc, esc};
use super::{Console, NodeView, lag};
use crate::broker::{DestStats, Destination, Kind};
use crate::events::clock;
use crate::store::record::StoredMessage;

/// Most messages a browse page lists (the next page is a link away).
const BROWSE_MAX: usize = 500;
/// Most messages one send form may send.
pub(super) const MAX_COUNT: usize = 10_000;

fn role_class(role: &str) -> &'static str {
    match role {
        "master" => "master",
        "slave" => "slave",
        "electing" => "electing",
        _ => "starting",
    }
}

/// The common frame of every page. `refresh` reloads the page every n seconds.
fn layout(c: &Console, view: &NodeView, title: &str, active: &str, refresh: Option<u32>, body: &str) -> String {
    let role = view.role();
    let mut s = String::with_capacity(body.len() + 2048);
    s += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
    s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
    if let Some(n) = refresh {
        let _ = write!(s, "<meta http-equiv=\"refresh\" content=\"{n}\">");
    }
    let _ = write!(
        s,
        "<title>{} · {} · mqsim console</title><link rel=\"stylesheet\" href=\"/admin/style.css\"></head><body>",
        esc(title),
        esc(c.name())
    );
    let _ = write!(
        s,
        "<header class=\"top\"><span class=\"brand\">mqsim console</span><span class=\"node\">{}</span>\
         <span class=\"badge role-{}\" id=\"role\">{}</span><nav>",
        esc(c.name()),
        role_class(role),
        esc(&role.to_uppercase())
    );
    for (href, label) in [
        ("/admin/", "Home"),
        ("/admin/queues.jsp", "Queues"),
        ("/admin/topics.jsp", "Topics"),
        ("/admin/send.jsp", "Send"),
        ("/api/status.json", "status.json"),
    ] {
        let class = if label == active { " class=\"active\"" } else { "" };
        let _ = write!(s, "<a href=\"{href}\"{class}>{label}</a>");
    }
    s += "</nav></header><main>";
    s += body;
    let _ = writeln!(
        s,
        "</main><footer>brokerName <b>{}</b> · sync <b>{}</b> · an ActiveMQ-style console served by mqsim</footer></body></html>",
        esc(&c.config().cluster.broker_name),
        esc(&c.config().cluster.sync)
    );
    s
}

fn page(c: &Console, view: &NodeView, status: StatusCode, title: &str, active: &str, body: &str) -> Response<Body> {
    web::html(status, layout(c, view, title, active, None, body))
}

/// `http://<host the browser used>:<port>/admin/`, else the configured console URL.
fn console_link<B>(c: &Console, req: &Request<B>, node: &crate::config::Node) -> String {
    match web::request_host(req) {
        Some(h) => format!("http://{h}:{}/admin/", node.console.get_ref()),
        None => c.config().console_url(node),
    }
}

/// The "who is master" sentence and link for a slave or electing node.
fn slave_panel<B>(c: &Console, view: &NodeView, req: &Request<B>) -> String {
    let r = &view.report;
    let name = esc(c.name());
    let mut s = String::new();
    match view.role() {
        "slave" => {
            let of = match (c.master_node(view), &r.master) {
                (Some(n), _) => format!("<b id=\"master-name\">{}</b>", esc(&n.name)),
                (None, Some(eid)) => format!("the member elected as <b>{}</b>", esc(eid)),
                (None, None) => "an unknown master".into(),
            };
            let _ = write!(
                s,
                "<div class=\"banner slave\" id=\"banner\">{name} is a <b>SLAVE</b> of {of}, at position <b id=\"position\">{}</b>.</div>",
                r.position
            );
            let _ = write!(
                s,
                "<p>It replicates the master's journal from <code>{}</code> (replication: <b>{}</b>); \
                 its own client ports are closed, so clients are refused and fail over to the master.</p>",
                esc(r.address.as_deref().unwrap_or("(address not published yet)")),
                esc(r.replication.as_deref().unwrap_or("not attached"))
            );
        }
        "electing" => {
            let _ = write!(
                s,
                "<div class=\"banner electing\" id=\"banner\">{name} is <b>ELECTING</b>: no master is elected right now \
                 (not enough members in ZooKeeper, or the election is under way). Position <b id=\"position\">{}</b>.</div>",
                r.position
            );
        }
        _ => {
            let _ = write!(
                s,
                "<div class=\"banner electing\" id=\"banner\">{name} is starting: it has not joined the election yet.</div>"
            );
        }
    }
    s += "<p class=\"note\">Real ActiveMQ serves <b>nothing</b> on a slave: its broker, and with it the web console on \
          port 8161, starts only when the node becomes master, so a browser gets \"connection refused\" here. \
          mqsim shows this page anyway, so that you can watch the slave.</p>";
    if let Some(m) = c.master_node(view).filter(|_| view.role() == "slave") {
        let url = console_link(c, req, m);
        let _ = write!(
            s,
            "<p class=\"go\">Go to the master's console: <a id=\"master-link\" href=\"{}\">{} — {}</a></p>",
            esc(&url),
            esc(&m.name),
            esc(&url)
        );
    }
    s
}

fn broker_table(c: &Console, view: &NodeView) -> String {
    let r = &view.report;
    let cfg = c.config();
    let node = cfg.node(c.name());
    let mut s = String::from("<h2>Broker</h2><table class=\"kv\">");
    let mut row = |k: &str, v: String| {
        let _ = write!(s, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row("Broker name", esc(&cfg.cluster.broker_name));
    row("Node", format!("{} (pid {})", esc(c.name()), r.pid));
    row("Role", format!("<span class=\"badge role-{}\">{}</span>", role_class(view.role()), esc(view.role())));
    row(
        "ZooKeeper znode",
        format!(
            "<code id=\"znode\">{}</code> {}",
            esc(r.znode.as_deref().unwrap_or("(none)")),
            match (&r.session, r.zk_connected) {
                (Some(s), true) => format!("session {} (connected)", esc(s)),
                (Some(s), false) => format!("session {} <b class=\"bad\">disconnected</b>", esc(s)),
                (None, _) => "<b class=\"bad\">no session</b>".into(),
            }
        ),
    );
    row("Position", format!("{} (journal bytes)", r.position));
    row("Sync mode", format!("<code>{}</code> · replicas {}", esc(&cfg.cluster.sync), cfg.cluster.replicas));
    row("Elected master", esc(r.master.as_deref().unwrap_or("(none)")));
    row("Replication address", format!("<code>{}</code>", esc(r.address.as_deref().unwrap_or("(none)"))));
    if let Some(n) = node {
        row("Client ports", format!("openwire {} · stomp {}", n.openwire.get_ref(), n.stomp.get_ref()));
    }
    s += "</table>";
    s
}

fn slaves_table(view: &NodeView) -> String {
    let r = &view.report;
    let mut s = format!("<h2>Connected slaves ({})</h2>", r.slaves.len());
    if r.slaves.is_empty() {
        s += "<p class=\"muted\">No slave is attached.</p>";
        return s;
    }
    s += "<table id=\"slaves\"><tr><th>Slave node id</th><th>Remote</th><th>Acked position</th><th>Lag (bytes)</th><th>Caught up</th></tr>";
    for sl in &r.slaves {
        let _ = write!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&sl.node_id),
            esc(&sl.remote),
            sl.acked,
            lag(r.position, sl.acked),
            if sl.caught_up { "yes" } else { "no" }
        );
    }
    s += "</table>";
    s
}

/// `/admin/`: what this node is.
pub(super) fn index<B>(c: &Console, view: &NodeView, req: &Request<B>) -> Response<Body> {
    let mut body = String::new();
    if view.role() == "master" {
        let r = &view.report;
        let _ = write!(body, "<div class=\"banner master\" id=\"banner\">{} is the <b>MASTER</b>", esc(c.name()));
        if r.serving {
            body += " and serves clients.</div>";
        } else {
            let _ = write!(
                body,
                ": it waits for {} slave(s) to catch up before it opens its client ports.</div>",
                c.config().cluster.replicas / 2
            );
        }
        body += &broker_table(c, view);
        body += &slaves_table(view);
        if let Some(b) = &view.broker {
            let stats = b.stats();
            body += "<h2>Destinations</h2>";
            body += &dest_table(c, &stats, None, view.serving_broker().is_some());
        }
    } else {
        body += &slave_panel(c, view, req);
        body += &broker_table(c, view);
    }
    web::html(StatusCode::OK, layout(c, view, "Home", "Home", Some(3), &body))
}

/// The 503 page of queue operations on a node that has no broker.
fn not_master<B>(c: &Console, view: &NodeView, req: &Request<B>, active: &str) -> Response<Body> {
    let body = format!(
        "<h2>No broker on this node</h2><p>{} is not the master, so it has no queues or topics to show.</p>{}",
        esc(c.name()),
        slave_panel(c, view, req)
    );
    page(c, view, StatusCode::SERVICE_UNAVAILABLE, active, active, &body)
}

fn flash(q: &BTreeMap<String, String>) -> String {
    let to = q.get("to").map(|s| esc(s)).unwrap_or_default();
    let n = |k: &str| q.get(k).and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = n("sent") {
        format!("<p class=\"flash\" id=\"flash\">Sent {n} message(s) to <b>{to}</b>.</p>")
    } else if let Some(n) = n("purged") {
        format!("<p class=\"flash\" id=\"flash\">Purged {n} message(s) from <b>{to}</b>.</p>")
    } else {
        String::new()
    }
}

fn purge_form(c: &Console, name: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/admin/purgeDestination.action\" class=\"inline\">\
         <input type=\"hidden\" name=\"secret\" value=\"{}\"><input type=\"hidden\" name=\"JMSDestination\" value=\"{}\">\
         <input type=\"hidden\" name=\"JMSDestinationType\" value=\"queue\"><button class=\"danger\">Purge</button></form>",
        esc(&c.inner.secret),
        esc(name)
    )
}

/// A destinations table; `only` keeps one kind (durable subscription stores count as topics).
fn dest_table(c: &Console, stats: &[DestStats], only: Option<Kind>, ops: bool) -> String {
    let rows: Vec<&DestStats> = stats.iter().filter(|d| only.is_none_or(|k| d.kind == k)).collect();
    if rows.is_empty() {
        return "<p class=\"muted\">None yet: send a message to create one.</p>".into();
    }
    let mut s = String::from(
        "<table class=\"dests\"><tr><th>Name</th><th>Type</th><th>Pending</th><th>Consumers</th><th>Enqueued</th>\
         <th>Dequeued</th><th>In flight</th><th>Operations</th></tr>",
    );
    for d in rows {
        let durable = d.name.starts_with("sub:");
        let (kind, type_param) = match (d.kind, durable) {
            (Kind::Queue, _) => ("queue", "queue"),
            (Kind::Topic, true) => ("durable subscription", "queue"),
            (Kind::Topic, false) => ("topic", "topic"),
        };
        let browse = d.kind == Kind::Queue || durable;
        let name_cell = if browse {
            format!("<a href=\"/admin/browse.jsp?JMSDestination={}\">{}</a>", enc(&d.name), esc(&d.name))
        } else {
            esc(&d.name)
        };
        let mut opsh = String::new();
        if browse {
            let _ = write!(opsh, "<a href=\"/admin/browse.jsp?JMSDestination={}\">Browse</a> ", enc(&d.name));
        }
        if ops && !durable {
            let _ = write!(
                opsh,
                "<a href=\"/admin/send.jsp?JMSDestination={}&amp;JMSDestinationType={type_param}\">Send to</a> ",
                enc(&d.name)
            );
        }
        if ops && d.kind == Kind::Queue {
            opsh += &purge_form(c, &d.name);
        }
        let _ = write!(
            s,
            "<tr data-name=\"{}\"><td>{name_cell}</td><td>{kind}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{opsh}</td></tr>",
            esc(&d.name),
            d.pending,
            d.consumers,
            d.enqueued,
            d.dequeued,
            d.inflight
        );
    }
    s += "</table>";
    s
}

/// `/admin/queues.jsp`, `/admin/topics.jsp`.
pub(super) fn destinations<B>(c: &Console, view: &NodeView, req: &Request<B>, kind: Kind) -> Response<Body> {
    let label = if kind == Kind::Queue { "Queues" } else { "Topics" };
    let Some(b) = &view.broker else { return not_master(c, view, req, label) };
    let q = web::query(req);
    let mut body = flash(&q);
    if view.serving_broker().is_none() {
        body += "<p class=\"flash bad\">This master does not serve clients yet (its slaves are catching up): \
                 sending and purging wait until it does.</p>";
    }
    let _ = write!(body, "<h2>{label}</h2>");
    let stats = b.stats();
    body += &dest_table(c, &stats, Some(kind), true);
    let type_param = if kind == Kind::Queue { "queue" } else { "topic" };
    let _ = write!(
        body,
        "<p><a class=\"button\" href=\"/admin/send.jsp?JMSDestinationType={type_param}\">Send a message to a new {}</a></p>",
        type_param
    );
    page(c, view, StatusCode::OK, label, label, &body)
}

fn message_id(m: &StoredMessage) -> String {
    format!("ID:mqsim-{}", m.seq)
}

fn body_text(m: &StoredMessage) -> String {
    String::from_utf8_lossy(&m.body).into_owned()
}

fn preview(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { s.chars().take(max).collect::<String>() + "…" }
}

/// `/admin/browse.jsp?JMSDestination=q[&after=seq]`: a page of the queue's pending
/// messages, [`BROWSE_MAX`] at most, from the head or from the first after message `after`,
/// with the count of all and a link to the next page. What it costs does not grow with the
/// queue's depth (see `broker::admin`).
pub(super) fn browse<B>(c: &Console, view: &NodeView, req: &Request<B>) -> Response<Body> {
    let Some(b) = &view.broker else { return not_master(c, view, req, "Queues") };
    let q = web::query(req);
    let Some(name) = q.get("JMSDestination").filter(|n| !n.is_empty()) else {
        return page(
            c,
            view,
            StatusCode::BAD_REQUEST,
            "Browse",
            "Queues",
            "<p>Which queue? Add <code>?JMSDestination=name</code>.</p>",
        );
    };
    let after = q.get("after").and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
    let pending = b.store_stats(name).map_or(0, |d| d.pending);
    let mut msgs = b.browse_store(name, after, BROWSE_MAX + 1, None);
    let more = msgs.len() > BROWSE_MAX;
    msgs.truncate(BROWSE_MAX);
    let shown = match (msgs.first(), msgs.last()) {
        (Some((first, _)), Some((last, _))) if after > 0 || more => {
            format!(", showing {} from {} to {}", msgs.len(), message_id(first), message_id(last))
        }
        _ => String::new(),
    };
    let mut body = flash(&q);
    let _ = write!(body, "<h2>Browse <span id=\"dest\">{}</span></h2>", esc(name));
    let _ = write!(
        body,
        "<p><span id=\"pending\">{pending}</span> pending message(s){}; messages in flight on a consumer are not \
         shown. <a href=\"/admin/send.jsp?JMSDestination={}&amp;JMSDestinationType=queue\">Send to this queue</a></p>",
        esc(&shown),
        enc(name)
    );
    if view.serving_broker().is_some() && !name.starts_with("sub:") {
        body += &purge_form(c, name);
    }
    body += "<table id=\"messages\"><tr><th>Message ID</th><th>Persistent</th><th>Redelivered</th><th>Timestamp (UTC)</th><th>Headers</th><th>Body</th></tr>";
    for (m, redelivered) in &msgs {
        let headers: Vec<String> = m.headers.iter().map(|(k, v)| format!("{}={}", esc(k), esc(v))).collect();
        let _ = write!(
            body,
            "<tr><td><a href=\"/admin/message.jsp?JMSDestination={}&amp;id={}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"headers\">{}</td><td class=\"body\">{}</td></tr>",
            enc(name),
            enc(&message_id(m)),
            esc(&message_id(m)),
            m.persistent,
            redelivered,
            clock(m.timestamp),
            headers.join("<br>"),
            esc(&preview(&body_text(m), 200))
        );
    }
    body += "</table>";
    if msgs.is_empty() {
        body += if after > 0 {
            "<p class=\"muted\">No more messages.</p>"
        } else {
            "<p class=\"muted\">The queue is empty.</p>"
        };
    }
    let link = |after: u64, id: &str, label: &str| {
        format!("<a id=\"{id}\" href=\"/admin/browse.jsp?JMSDestination={}&amp;after={after}\">{label}</a> ", enc(name))
    };
    let mut nav = String::new();
    if after > 0 {
        nav += &link(0, "first", "First page");
    }
    if let Some((last, _)) = msgs.last().filter(|_| more) {
        nav += &link(last.seq, "next", &format!("Next {BROWSE_MAX}"));
    }
    if !nav.is_empty() {
        let _ = write!(body, "<p class=\"pages\">{nav}</p>");
    }
    page(c, view, StatusCode::OK, "Browse", "Queues", &body)
}

/// `/admin/message.jsp?JMSDestination=q&id=ID:mqsim-7`: found by its sequence.
pub(super) fn message<B>(c: &Console, view: &NodeView, req: &Request<B>) -> Response<Body> {
    let Some(b) = &view.broker else { return not_master(c, view, req, "Queues") };
    let q = web::query(req);
    let name = q.get("JMSDestination").cloned().unwrap_or_default();
    let id = q.get("id").cloned().unwrap_or_default();
    let seq = id.strip_prefix("ID:mqsim-").and_then(|s| s.parse::<u64>().ok());
    let found = seq.and_then(|seq| b.browse_message(&name, seq)).filter(|(m, _)| message_id(m) == id);
    let Some((m, redelivered)) = found else {
        let body = format!(
            "<p>No pending message <code>{}</code> in <code>{}</code> (consumed, or in flight).</p>",
            esc(&id),
            esc(&name)
        );
        return page(c, view, StatusCode::NOT_FOUND, "Message", "Queues", &body);
    };
    let mut body = format!("<h2>Message {} in {}</h2><table class=\"kv\">", esc(&id), esc(&name));
    for (k, v) in [
        ("Destination", m.destination.clone()),
        ("Persistent", m.persistent.to_string()),
        ("Redelivered", redelivered.to_string()),
        ("Redelivery count", m.redelivery_count.to_string()),
        ("Timestamp (UTC)", clock(m.timestamp)),
    ] {
        let _ = write!(body, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    for (k, v) in &m.headers {
        let _ = write!(body, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    let _ =
        write!(body, "</table><h2>Body ({} bytes)</h2><pre id=\"body\">{}</pre>", m.body.len(), esc(&body_text(&m)));
    page(c, view, StatusCode::OK, "Message", "Queues", &body)
}

/// `/admin/send.jsp`: the send form.
pub(super) fn send_form<B>(c: &Console, view: &NodeView, req: &Request<B>) -> Response<Body> {
    if view.broker.is_none() {
        return not_master(c, view, req, "Send");
    }
    let q = web::query(req);
    let name = q.get("JMSDestination").cloned().unwrap_or_default();
    let topic = q.get("JMSDestinationType").is_some_and(|t| t == "topic");
    let body = format!(
        "<h2>Send a message</h2>\
         <form method=\"post\" action=\"/admin/sendMessage.action\" class=\"send\">\
         <input type=\"hidden\" name=\"secret\" value=\"{}\">\
         <label>Destination <input name=\"JMSDestination\" value=\"{}\" required maxlength=\"200\"></label>\
         <label>Type <select name=\"JMSDestinationType\"><option value=\"queue\"{}>queue</option><option value=\"topic\"{}>topic</option></select></label>\
         <label><input type=\"checkbox\" name=\"JMSPersistent\" value=\"true\" checked> persistent</label>\
         <label>Number of messages <input type=\"number\" name=\"JMSMessageCount\" value=\"1\" min=\"1\" max=\"{MAX_COUNT}\"></label>\
         <label>Body <textarea name=\"JMSText\" rows=\"6\">Enter some text here for the message body...</textarea></label>\
         <button>Send</button></form>",
        esc(&c.inner.secret),
        esc(&name),
        if topic { "" } else { " selected" },
        if topic { " selected" } else { "" }
    );
    page(c, view, StatusCode::OK, "Send", "Send", &body)
}

/// Checks a destination name a user typed.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("the destination name is empty".into());
    }
    crate::limits::check(crate::limits::NameKind::Destination, name).map_err(|e| e.to_string())?;
    if name.starts_with("sub:") {
        return Err("names starting with `sub:` are durable subscription stores, not destinations".into());
    }
    Ok(())
}

async fn form_of<B>(c: &Console, req: Request<B>) -> Result<BTreeMap<String, String>, Response<Body>>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bytes = web::read_body(req.into_body(), c.config().cluster.max_frame_size).await?;
    let form = web::parse_form(&String::from_utf8_lossy(&bytes));
    if !c.check_secret(&form) {
        return Err(web::text(
            StatusCode::FORBIDDEN,
            "403: the form's secret does not match (reload the page and try again)\n",
        ));
    }
    Ok(form)
}

fn error_page(c: &Console, view: &NodeView, status: StatusCode, title: &str, msg: &str) -> Response<Body> {
    let body = format!("<h2>{}</h2><p class=\"flash bad\" id=\"error\">{}</p>", esc(title), esc(msg));
    page(c, view, status, title, "", &body)
}

/// `POST /admin/sendMessage.action`.
pub(super) async fn send_action<B>(c: &Console, view: &NodeView, req: Request<B>) -> Response<Body>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(broker) = view.serving_broker().cloned() else {
        return error_page(c, view, StatusCode::SERVICE_UNAVAILABLE, "Not sent", "this node is not a serving master");
    };
    let form = match form_of(c, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let name = form.get("JMSDestination").cloned().unwrap_or_default();
    if let Err(e) = check_name(&name) {
        return error_page(c, view, StatusCode::BAD_REQUEST, "Not sent", &e);
    }
    let topic = form.get("JMSDestinationType").is_some_and(|t| t == "topic");
    let count = form.get("JMSMessageCount").and_then(|n| n.trim().parse::<usize>().ok()).unwrap_or(1);
    if count == 0 || count > MAX_COUNT {
        return error_page(c, view, StatusCode::BAD_REQUEST, "Not sent", &format!("send 1 to {MAX_COUNT} messages"));
    }
    let persistent = form.get("JMSPersistent").is_some_and(|v| v == "true" || v == "on");
    let text = form.get("JMSText").cloned().unwrap_or_default();
    let (dest, prefix) =
        if topic { (Destination::topic(&name), "/topic/") } else { (Destination::queue(&name), "/queue/") };
    for _ in 0..count {
        let msg = StoredMessage {
            seq: 0,
            destination: format!("{prefix}{name}"),
            headers: Vec::new(),
            body: text.as_bytes().to_vec(),
            persistent,
            timestamp: crate::events::now_ms(),
            redelivery_count: 0,
            producer: None,
        };
        if let Err(e) = broker.send(&dest, msg).await {
            return error_page(c, view, StatusCode::SERVICE_UNAVAILABLE, "Not sent", &e.to_string());
        }
    }
    let list = if topic { "topics" } else { "queues" };
    web::redirect(&format!("/admin/{list}.jsp?sent={count}&to={}", enc(&name)))
}

/// `POST /admin/purgeDestination.action`.
pub(super) async fn purge_action<B>(c: &Console, view: &NodeView, req: Request<B>) -> Response<Body>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(broker) = view.serving_broker().cloned() else {
        return error_page(c, view, StatusCode::SERVICE_UNAVAILABLE, "Not purged", "this node is not a serving master");
    };
    let form = match form_of(c, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let name = form.get("JMSDestination").cloned().unwrap_or_default();
    if let Err(e) = check_name(&name) {
        return error_page(c, view, StatusCode::BAD_REQUEST, "Not purged", &e);
    }
    match broker.purge(&name).await {
        Ok(n) => web::redirect(&format!("/admin/queues.jsp?purged={n}&to={}", enc(&name))),
        Err(e) => error_page(c, view, StatusCode::SERVICE_UNAVAILABLE, "Not purged", &e.to_string()),
    }
}
