//! The console's HTML pages, rendered on the server (no JavaScript needed) with maud's
//! `html!` macro: every `(expr)` spliced into a page is HTML-escaped by the macro, so no
//! string from a user, a message or the cluster can add markup; values put into a URL's
//! query string are first percent-encoded with [`enc`].

use std::collections::BTreeMap;

use bytes::Bytes;
use hyper::body::Body as HttpBody;
use hyper::{Request, Response, StatusCode};
use maud::{Markup, html};

use super::{Console, NodeView, lag};
use crate::broker::{DestStats, Destination, Kind};
use crate::events::clock;
use crate::message::StoredMessage;
use crate::status::Role;
use crate::web::{self, Body, enc};

/// Most messages a browse page lists (the next page is a link away).
const BROWSE_MAX: usize = 500;
/// Most messages one send form may send.
pub(super) const MAX_COUNT: usize = 10_000;

/// The navigation bar: link, label (the label is what `active` names).
const NAV: [(&str, &str); 5] = [
    ("/admin/", "Home"),
    ("/admin/queues.jsp", "Queues"),
    ("/admin/topics.jsp", "Topics"),
    ("/admin/send.jsp", "Send"),
    ("/api/status.json", "status.json"),
];

fn role_class(role: &Role) -> &'static str {
    match role {
        Role::Master => "master",
        Role::Slave => "slave",
        Role::Electing => "electing",
        _ => "starting",
    }
}

/// The common frame of every page. `refresh` reloads the page every n seconds.
fn layout(c: &Console, view: &NodeView, title: &str, active: &str, refresh: Option<u32>, body: Markup) -> String {
    let role = view.role();
    let cluster = &c.config().cluster;
    let page = html! {
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(n) = refresh {
                    meta http-equiv="refresh" content=(n);
                }
                title { (title) " · " (c.name()) " · mqsim console" }
                link rel="stylesheet" href="/admin/style.css";
            }
            body {
                header class="top" {
                    span class="brand" { "mqsim console" }
                    span class="node" { (c.name()) }
                    span class={ "badge role-" (role_class(&view.report.role)) } id="role" { (role.to_uppercase()) }
                    nav {
                        @for (href, label) in NAV {
                            a href=(href) class=[(label == active).then_some("active")] { (label) }
                        }
                    }
                }
                main { (body) }
                footer {
                    "brokerName " b { (cluster.broker_name) } " · sync " b { (cluster.sync) }
                    " · an ActiveMQ-style console served by mqsim"
                }
            }
        }
    };
    format!("<!doctype html>\n{}\n", page.into_string())
}

fn page(c: &Console, view: &NodeView, status: StatusCode, title: &str, active: &str, body: Markup) -> Response<Body> {
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
fn slave_panel<B>(c: &Console, view: &NodeView, req: &Request<B>) -> Markup {
    let r = &view.report;
    let name = c.name();
    let master = c.master_node(view);
    html! {
        @match view.report.role {
            Role::Slave => {
                div class="banner slave" id="banner" {
                    (name) " is a " b { "SLAVE" } " of "
                    @match (master, &r.master) {
                        (Some(n), _) => { b id="master-name" { (n.name) } }
                        (None, Some(eid)) => { "the member elected as " b { (eid) } }
                        (None, None) => { "an unknown master" }
                    }
                    ", at position " b id="position" { (r.position) } "."
                }
                p {
                    "It replicates the master's journal from "
                    code { (r.address.as_deref().unwrap_or("(address not published yet)")) }
                    " (replication: " b { (r.replication.as_ref().map_or("not attached", crate::status::Phase::as_str)) } "); "
                    "its own client ports are closed, so clients are refused and fail over to the master."
                }
            }
            Role::Electing => {
                div class="banner electing" id="banner" {
                    (name) " is " b { "ELECTING" } ": no master is elected right now "
                    "(not enough members in ZooKeeper, or the election is under way). Position "
                    b id="position" { (r.position) } "."
                }
            }
            _ => {
                div class="banner electing" id="banner" { (name) " is starting: it has not joined the election yet." }
            }
        }
        p class="note" {
            "Real ActiveMQ serves " b { "nothing" } " on a slave: its broker, and with it the web console on "
            "port 8161, starts only when the node becomes master, so a browser gets \"connection refused\" here. "
            "mqsim shows this page anyway, so that you can watch the slave."
        }
        @if let Some(m) = master.filter(|_| view.report.role == Role::Slave) {
            @let url = console_link(c, req, m);
            p class="go" { "Go to the master's console: " a id="master-link" href=(url) { (m.name) " — " (url) } }
        }
    }
}

/// One `<tr><th>k</th><td>v</td></tr>` of a key/value table.
fn row(k: &str, v: Markup) -> Markup {
    html! { tr { th { (k) } td { (v) } } }
}

fn broker_table(c: &Console, view: &NodeView) -> Markup {
    let r = &view.report;
    let cfg = c.config();
    html! {
        h2 { "Broker" }
        table class="kv" {
            (row("Broker name", html! { (cfg.cluster.broker_name) }))
            (row("Node", html! { (c.name()) " (pid " (r.pid) ")" }))
            (row("Role", html! { span class={ "badge role-" (role_class(&view.report.role)) } { (view.role()) } }))
            (row("ZooKeeper znode", html! {
                code id="znode" { (r.znode.as_deref().unwrap_or("(none)")) } " "
                @match (&r.session, r.zk_connected) {
                    (Some(s), true) => { "session " (s) " (connected)" }
                    (Some(s), false) => { "session " (s) " " b class="bad" { "disconnected" } }
                    (None, _) => { b class="bad" { "no session" } }
                }
            }))
            (row("Position", html! { (r.position) " (journal bytes)" }))
            (row("Sync mode", html! { code { (cfg.cluster.sync) } " · replicas " (cfg.cluster.replicas) }))
            (row("Elected master", html! { (r.master.as_deref().unwrap_or("(none)")) }))
            (row("Replication address", html! { code { (r.address.as_deref().unwrap_or("(none)")) } }))
            @if let Some(n) = cfg.node(c.name()) {
                (row("Client ports", html! { "openwire " (n.openwire.get_ref()) " · stomp " (n.stomp.get_ref()) }))
            }
        }
    }
}

fn slaves_table(view: &NodeView) -> Markup {
    let r = &view.report;
    html! {
        h2 { "Connected slaves (" (r.slaves.len()) ")" }
        @if r.slaves.is_empty() {
            p class="muted" { "No slave is attached." }
        } @else {
            table id="slaves" {
                tr { th { "Slave node id" } th { "Remote" } th { "Acked position" } th { "Lag (bytes)" } th { "Caught up" } }
                @for sl in &r.slaves {
                    tr {
                        td { code { (sl.node_id) } }
                        td { (sl.remote) }
                        td class="num" { (sl.acked) }
                        td class="num" { (lag(r.position, sl.acked)) }
                        td { (if sl.caught_up { "yes" } else { "no" }) }
                    }
                }
            }
        }
    }
}

/// `/admin/`: what this node is.
pub(super) fn index<B>(c: &Console, view: &NodeView, req: &Request<B>) -> Response<Body> {
    let body = if view.report.role == Role::Master {
        html! {
            div class="banner master" id="banner" {
                (c.name()) " is the " b { "MASTER" }
                @if view.report.serving {
                    " and serves clients."
                } @else {
                    ": it waits for " (c.config().cluster.replicas / 2)
                    " slave(s) to catch up before it opens its client ports."
                }
            }
            (broker_table(c, view))
            (slaves_table(view))
            @if let Some(b) = &view.broker {
                h2 { "Destinations" }
                (dest_table(c, &b.stats(), None, view.serving_broker().is_some()))
            }
        }
    } else {
        html! { (slave_panel(c, view, req)) (broker_table(c, view)) }
    };
    web::html(StatusCode::OK, layout(c, view, "Home", "Home", Some(3), body))
}

/// The 503 page of queue operations on a node that has no broker.
fn not_master<B>(c: &Console, view: &NodeView, req: &Request<B>, active: &str) -> Response<Body> {
    let body = html! {
        h2 { "No broker on this node" }
        p { (c.name()) " is not the master, so it has no queues or topics to show." }
        (slave_panel(c, view, req))
    };
    page(c, view, StatusCode::SERVICE_UNAVAILABLE, active, active, body)
}

fn flash(q: &BTreeMap<String, String>) -> Markup {
    let to = q.get("to").map_or("", String::as_str);
    let n = |k: &str| q.get(k).and_then(|v| v.parse::<u64>().ok());
    html! {
        @if let Some(n) = n("sent") {
            p class="flash" id="flash" { "Sent " (n) " message(s) to " b { (to) } "." }
        } @else if let Some(n) = n("purged") {
            p class="flash" id="flash" { "Purged " (n) " message(s) from " b { (to) } "." }
        }
    }
}

fn purge_form(c: &Console, name: &str) -> Markup {
    html! {
        form method="post" action="/admin/purgeDestination.action" class="inline" {
            input type="hidden" name="secret" value=(c.inner.secret);
            input type="hidden" name="JMSDestination" value=(name);
            input type="hidden" name="JMSDestinationType" value="queue";
            button class="danger" { "Purge" }
        }
    }
}

/// How a destinations table shows a destination: its kind, the `JMSDestinationType` its
/// send link uses, and whether it is a durable subscription store.
fn dest_kind(d: &DestStats) -> (&'static str, &'static str, bool) {
    let durable = d.name.starts_with("sub:");
    match (d.kind, durable) {
        (Kind::Queue, _) => ("queue", "queue", durable),
        (Kind::Topic, true) => ("durable subscription", "queue", durable),
        (Kind::Topic, false) => ("topic", "topic", durable),
    }
}

/// A destinations table; `only` keeps one kind (durable subscription stores count as topics).
fn dest_table(c: &Console, stats: &[DestStats], only: Option<Kind>, ops: bool) -> Markup {
    let rows: Vec<&DestStats> = stats.iter().filter(|d| only.is_none_or(|k| d.kind == k)).collect();
    if rows.is_empty() {
        return html! { p class="muted" { "None yet: send a message to create one." } };
    }
    html! {
        table class="dests" {
            tr {
                th { "Name" } th { "Type" } th { "Pending" } th { "Consumers" } th { "Enqueued" }
                th { "Dequeued" } th { "In flight" } th { "Operations" }
            }
            @for d in rows {
                @let (kind, type_param, durable) = dest_kind(d);
                @let browse = d.kind == Kind::Queue || durable;
                @let browse_href = format!("/admin/browse.jsp?JMSDestination={}", enc(&d.name));
                tr data-name=(d.name) {
                    td {
                        @if browse { a href=(browse_href) { (d.name) } } @else { (d.name) }
                    }
                    td { (kind) }
                    td class="num" { (d.pending) }
                    td class="num" { (d.consumers) }
                    td class="num" { (d.enqueued) }
                    td class="num" { (d.dequeued) }
                    td class="num" { (d.inflight) }
                    td {
                        @if browse { a href=(browse_href) { "Browse" } " " }
                        @if ops && !durable {
                            a href={ "/admin/send.jsp?JMSDestination=" (enc(&d.name)) "&JMSDestinationType=" (type_param) } {
                                "Send to"
                            }
                            " "
                        }
                        @if ops && d.kind == Kind::Queue { (purge_form(c, &d.name)) }
                    }
                }
            }
        }
    }
}

/// `/admin/queues.jsp`, `/admin/topics.jsp`.
pub(super) fn destinations<B>(c: &Console, view: &NodeView, req: &Request<B>, kind: Kind) -> Response<Body> {
    let label = if kind == Kind::Queue { "Queues" } else { "Topics" };
    let Some(b) = &view.broker else { return not_master(c, view, req, label) };
    let q = web::query(req);
    let type_param = if kind == Kind::Queue { "queue" } else { "topic" };
    let body = html! {
        (flash(&q))
        @if view.serving_broker().is_none() {
            p class="flash bad" {
                "This master does not serve clients yet (its slaves are catching up): "
                "sending and purging wait until it does."
            }
        }
        h2 { (label) }
        (dest_table(c, &b.stats(), Some(kind), true))
        p {
            a class="button" href={ "/admin/send.jsp?JMSDestinationType=" (type_param) } {
                "Send a message to a new " (type_param)
            }
        }
    };
    page(c, view, StatusCode::OK, label, label, body)
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
        let body = html! { p { "Which queue? Add " code { "?JMSDestination=name" } "." } };
        return page(c, view, StatusCode::BAD_REQUEST, "Browse", "Queues", body);
    };
    let after = q.get("after").and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
    let pending = b.store_stats(name).map_or(0, |d| d.pending);
    let mut msgs = b.browse_store(name, after, BROWSE_MAX + 1, None);
    let more = msgs.len() > BROWSE_MAX;
    msgs.truncate(BROWSE_MAX);
    let shown = match (msgs.first(), msgs.last()) {
        (Some((first, _)), Some((last, _))) if after > 0 || more => {
            format!(", showing {} from {} to {}", msgs.len(), first.message_id(), last.message_id())
        }
        _ => String::new(),
    };
    let page_link = |after: u64| format!("/admin/browse.jsp?JMSDestination={}&after={after}", enc(name));
    let next = msgs.last().filter(|_| more).map(|(last, _)| last.seq);
    let body = html! {
        (flash(&q))
        h2 { "Browse " span id="dest" { (name) } }
        p {
            span id="pending" { (pending) } " pending message(s)" (shown) "; messages in flight on a consumer are not shown. "
            a href={ "/admin/send.jsp?JMSDestination=" (enc(name)) "&JMSDestinationType=queue" } { "Send to this queue" }
        }
        @if view.serving_broker().is_some() && !name.starts_with("sub:") {
            (purge_form(c, name))
        }
        table id="messages" {
            tr {
                th { "Message ID" } th { "Persistent" } th { "Redelivered" } th { "Timestamp (UTC)" }
                th { "Headers" } th { "Body" }
            }
            @for (m, redelivered) in &msgs {
                tr {
                    td {
                        a href={ "/admin/message.jsp?JMSDestination=" (enc(name)) "&id=" (enc(&m.message_id())) } {
                            (m.message_id())
                        }
                    }
                    td { (m.persistent) }
                    td { (redelivered) }
                    td { (clock(m.timestamp)) }
                    td class="headers" {
                        @for (i, (k, v)) in m.headers.iter().enumerate() {
                            @if i > 0 { br; }
                            (k) "=" (v)
                        }
                    }
                    td class="body" { (preview(&body_text(m), 200)) }
                }
            }
        }
        @if msgs.is_empty() {
            p class="muted" { (if after > 0 { "No more messages." } else { "The queue is empty." }) }
        }
        @if after > 0 || next.is_some() {
            p class="pages" {
                @if after > 0 { a id="first" href=(page_link(0)) { "First page" } " " }
                @if let Some(seq) = next { a id="next" href=(page_link(seq)) { "Next " (BROWSE_MAX) } " " }
            }
        }
    };
    page(c, view, StatusCode::OK, "Browse", "Queues", body)
}

/// `/admin/message.jsp?JMSDestination=q&id=ID:mqsim-7`: found by its sequence.
pub(super) fn message<B>(c: &Console, view: &NodeView, req: &Request<B>) -> Response<Body> {
    let Some(b) = &view.broker else { return not_master(c, view, req, "Queues") };
    let q = web::query(req);
    let name = q.get("JMSDestination").cloned().unwrap_or_default();
    let id = q.get("id").cloned().unwrap_or_default();
    let seq = StoredMessage::seq_of(&id);
    let found = seq.and_then(|seq| b.browse_message(&name, seq)).filter(|(m, _)| m.message_id() == id);
    let Some((m, redelivered)) = found else {
        let body = html! {
            p { "No pending message " code { (id) } " in " code { (name) } " (consumed, or in flight)." }
        };
        return page(c, view, StatusCode::NOT_FOUND, "Message", "Queues", body);
    };
    let fields = [
        ("Destination", m.destination.clone()),
        ("Persistent", m.persistent.to_string()),
        ("Redelivered", redelivered.to_string()),
        ("Redelivery count", m.redelivery_count.to_string()),
        ("Timestamp (UTC)", clock(m.timestamp)),
    ];
    let body = html! {
        h2 { "Message " (id) " in " (name) }
        table class="kv" {
            @for (k, v) in &fields { (row(k, html! { (v) })) }
            @for (k, v) in &m.headers { (row(k, html! { (v) })) }
        }
        h2 { "Body (" (m.body.len()) " bytes)" }
        pre id="body" { (body_text(&m)) }
    };
    page(c, view, StatusCode::OK, "Message", "Queues", body)
}

/// `/admin/send.jsp`: the send form.
pub(super) fn send_form<B>(c: &Console, view: &NodeView, req: &Request<B>) -> Response<Body> {
    if view.broker.is_none() {
        return not_master(c, view, req, "Send");
    }
    let q = web::query(req);
    let name = q.get("JMSDestination").cloned().unwrap_or_default();
    let topic = q.get("JMSDestinationType").is_some_and(|t| t == "topic");
    let body = html! {
        h2 { "Send a message" }
        form method="post" action="/admin/sendMessage.action" class="send" {
            input type="hidden" name="secret" value=(c.inner.secret);
            label { "Destination " input name="JMSDestination" value=(name) required maxlength="200"; }
            label {
                "Type "
                select name="JMSDestinationType" {
                    option value="queue" selected[!topic] { "queue" }
                    option value="topic" selected[topic] { "topic" }
                }
            }
            label { input type="checkbox" name="JMSPersistent" value="true" checked; " persistent" }
            label {
                "Number of messages "
                input type="number" name="JMSMessageCount" value="1" min="1" max=(MAX_COUNT);
            }
            label { "Body " textarea name="JMSText" rows="6" { "Enter some text here for the message body..." } }
            button { "Send" }
        }
    };
    page(c, view, StatusCode::OK, "Send", "Send", body)
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
    let form = web::read_form(req.into_body(), c.config().cluster.max_frame_size).await?;
    if !c.check_secret(&form) {
        return Err(web::text(
            StatusCode::FORBIDDEN,
            "403: the form's secret does not match (reload the page and try again)\n",
        ));
    }
    Ok(form)
}

fn error_page(c: &Console, view: &NodeView, status: StatusCode, title: &str, msg: &str) -> Response<Body> {
    let body = html! { h2 { (title) } p class="flash bad" id="error" { (msg) } };
    page(c, view, status, title, "", body)
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
    let dest = if topic { Destination::topic(&name) } else { Destination::queue(&name) };
    for _ in 0..count {
        let msg = StoredMessage {
            seq: 0,
            destination: dest.to_string(),
            headers: Vec::new(),
            body: text.as_bytes().to_vec(),
            persistent,
            timestamp: crate::events::now_ms(),
            redelivery_count: 0,
            producer: None,
        };
        if let Err(e) = broker.send(&dest, msg).await {
            return error_page(c, view, e.http_status(), "Not sent", &e.to_string());
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
        Err(e) => error_page(c, view, e.http_status(), "Not purged", &e.to_string()),
    }
}
