//! The dashboard's HTML, written with maud's `html!` macro: every string from the cluster
//! (names, messages, znode data) is spliced as `(expr)`, which the macro HTML-escapes. The
//! only markup spliced unescaped ([`PreEscaped`]) is the SVG of [`crate::diagram`], which
//! escapes every string it draws itself. The live part is rendered by the same code for the
//! page and for the script's once-a-second refresh.

use maud::{Markup, PreEscaped, html};

use super::timeline::Annotated;
use super::{Dashboard, Live};
use crate::diagram::topology::{BrokerState, Topology, ZkState};
use crate::status::{NodeStatus, ProcState, Role, ZkMode, ZkStatus};

/// What the dashboard calls a broker: master, slave, electing, starting, paused or down.
pub fn broker_state(n: &NodeStatus) -> BrokerState {
    match n.state {
        ProcState::Paused => BrokerState::Paused,
        ProcState::Running => match n.role {
            Some(Role::Master) => BrokerState::Master,
            Some(Role::Slave) => BrokerState::Slave,
            Some(Role::Electing) => BrokerState::Electing,
            _ => BrokerState::Starting,
        },
        _ => BrokerState::Down,
    }
}

/// leader, follower, standalone, paused, down (a running server that does not serve is down).
pub fn zk_state(z: &ZkStatus) -> ZkState {
    match (&z.state, &z.mode) {
        (ProcState::Paused, _) => ZkState::Paused,
        (_, Some(ZkMode::Leader)) => ZkState::Leader,
        (_, Some(ZkMode::Follower)) => ZkState::Follower,
        (_, Some(ZkMode::Standalone)) => ZkState::Standalone,
        (_, Some(ZkMode::Observer)) => ZkState::Observer,
        _ => ZkState::Down,
    }
}

/// Multi-host layouts: the member's host under its name (`here` when this supervisor owns it).
fn on_host(host: &Option<String>, owned: Option<bool>) -> Markup {
    html! {
        @if let Some(h) = host {
            br;
            small class="muted" { (h) @if owned == Some(true) { " (here)" } }
        }
    }
}

/// Running as far as the buttons go: a child of this supervisor with a pid, or another
/// host's member that answered (its buttons go to that host's supervisor).
fn running(pid: Option<u32>, state: &ProcState, owned: Option<bool>) -> bool {
    if owned == Some(false) { *state == ProcState::Running } else { pid.is_some() }
}

fn buttons(target: &str, running: bool, paused: bool) -> Markup {
    html! {
        @for (verb, enabled, class) in [
            ("kill", running, "danger"),
            ("stop", running, ""),
            ("start", !running, ""),
            ("pause", running && !paused, ""),
            ("resume", paused, ""),
        ] {
            form method="post" action="/action" {
                input type="hidden" name="verb" value=(verb);
                input type="hidden" name="target" value=(target);
                button type="submit" class=(class) data-verb=(verb) data-target=(target)
                    title={ "mqsim " (verb) " " (target) } disabled[!enabled] { (verb) }
            }
            " "
        }
    }
}

/// The topology picture's data, from one look at the cluster.
pub fn topology(l: &Live) -> Topology {
    Topology::from_status(&l.status, &l.zk_sessions, &l.clients)
}

/// The lesson bar: partition the master, heal, start/stop the demo load (with its figures).
fn lesson(l: &Live) -> Markup {
    let form = |fields: &[(&str, &str)], label: &str, class: &str, title: &str, id: &str| {
        html! {
            form method="post" action="/action" {
                @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
                button type="submit" id=(id) class=(class) title=(title) { (label) }
            }
            " "
        }
    };
    html! {
        div class="lesson" id="lesson" {
            b { "Lesson" } " "
            (form(
                &[("verb", "partition"), ("target", "master"), ("from", "zk")],
                "cut master from ZooKeeper",
                "danger",
                "mqsim partition master --from zk",
                "partition-zk",
            ))
            (form(
                &[("verb", "partition"), ("target", "master"), ("from", "peers")],
                "cut master from peers",
                "",
                "mqsim partition master --from peers",
                "partition-peers",
            ))
            (form(&[("verb", "heal"), ("target", "nodes")], "heal", "", "mqsim heal nodes", "heal"))
            (form(
                &[("verb", "load-start"), ("target", "load")],
                "start load",
                "",
                "a producer and a consumer through the failover URL",
                "load-start",
            ))
            (form(
                &[("verb", "load-stop"), ("target", "load")],
                "stop load",
                "",
                "stop the producer and the consumer",
                "load-stop",
            ))
            span id="load" data-running=(l.load.is_some()) { (load_text(l)) }
        }
    }
}

/// `load: 120 sent, 118 received …` (the script adds the rates).
pub fn load_text(l: &Live) -> Markup {
    html! {
        @if let Some(v) = &l.load {
            "load on " (v.queue) ": sending " b id="load-send-rate" { "–" } "/s, receiving "
            b id="load-recv-rate" { "–" } "/s "
            span class="muted" {
                "(" span id="load-sent" { (v.sent) } " sent, " span id="load-received" { (v.received) } " received, "
                (v.reconnects) " reconnection(s))"
            }
        } @else {
            span class="muted" { "no load running" }
        }
    }
}

/// The replication column of a broker's row: a master's slaves and their lag, a slave's link.
fn replication(state: &BrokerState, n: &NodeStatus) -> String {
    match state {
        BrokerState::Master => {
            let lags: Vec<String> = n
                .slaves
                .iter()
                .map(|sl| format!("lag {}", crate::console::lag(n.position.unwrap_or(0), sl.acked)))
                .collect();
            format!(
                "{} slave(s) attached{}",
                n.slaves.len(),
                if lags.is_empty() { String::new() } else { format!(": {}", lags.join(", ")) }
            )
        }
        BrokerState::Slave => n.replication.as_ref().map_or_else(|| "not attached".into(), ToString::to_string),
        _ => String::new(),
    }
}

/// The top of the page, which the script replaces when it changes: master and brokers.
pub fn live(d: &Dashboard, l: &Live, host: Option<&str>) -> String {
    live_markup(d, l, host).into_string()
}

fn live_markup(d: &Dashboard, l: &Live, host: Option<&str>) -> Markup {
    let st = &l.status;
    let cfg = d.config();
    html! {
        @if let Some(m) = st.master_node() {
            p class="master-line" id="master-line" {
                "Master: " b id="master" { (m.name) } " " span class="muted" { "(" (m.znode.as_deref().unwrap_or("?")) ")" }
            }
        } @else {
            p class="master-line none" id="master-line" {
                "Master: " b id="master" { "none" } " "
                span class="muted" { "(no broker serves clients right now)" }
            }
        }
        h2 { "Brokers" }
        table id="brokers" {
            tr {
                th { "Broker" } th { "State" } th { "PID" } th { "Position" }
                th { "Znode" } th { "Replication" } th { "Console" } th { "Actions" }
            }
            @for n in &st.nodes {
                @let state = broker_state(n);
                @let url = match (host, cfg.node(&n.name)) {
                    (Some(h), Some(_)) if n.owned != Some(false) => format!("http://{h}:{}/admin/", n.ports.console),
                    (_, Some(node)) if n.owned == Some(false) => cfg.console_url(node),
                    (None, Some(node)) => cfg.console_url(node),
                    _ => String::new(),
                };
                @let znode = n.znode.as_deref().unwrap_or("");
                tr data-node=(n.name) data-state=(state) {
                    td { b { (n.name) } (on_host(&n.host, n.owned)) }
                    td {
                        span class={ "badge state-" (state) } { (state) }
                        @match (&state, &n.state) {
                            (BrokerState::Master, _) if !n.serving => { " " span class="muted" { "not serving yet" } }
                            (BrokerState::Down, ProcState::Stopped) => { " " span class="muted" { "stopped" } }
                            _ => {}
                        }
                    }
                    td { @if let Some(pid) = n.pid { (pid) } }
                    td class="num" {
                        @if let Some(pos) = n.position { (pos) }
                        br;
                        small class="store" { (n.store.as_ref().map(crate::status::StoreUsage::describe).unwrap_or_default()) }
                    }
                    td { code title=(znode) { (znode.rsplit('/').next().unwrap_or("")) } }
                    td { (replication(&state, n)) }
                    td { a href=(url) { ":" (n.ports.console) } }
                    td class="actions" { (buttons(&n.name, running(n.pid, &n.state, n.owned), n.state == ProcState::Paused)) }
                }
            }
        }
    }
}

/// The topology picture's part of the page, which the script replaces when it changes.
pub fn topology_html(l: &Live) -> String {
    topology_markup(l).into_string()
}

fn topology_markup(l: &Live) -> Markup {
    // The SVG escapes every string it draws (`crate::diagram::xml`).
    let svg = PreEscaped(crate::diagram::topology::render(&topology(l)));
    html! {
        h2 { "Topology " span class="muted" { "(live; " a href="/diagram/topology.svg" { "SVG" } ")" } }
        div id="topology" class="diagram" { (svg) }
    }
}

/// The side column the script replaces when it changes: ZooKeeper servers and znodes.
pub fn side(l: &Live) -> String {
    side_markup(l).into_string()
}

fn side_markup(l: &Live) -> Markup {
    let st = &l.status;
    html! {
        h2 { "ZooKeeper" }
        table id="zookeeper" {
            tr { th { "Server" } th { "State" } th { "PID" } th { "Client port" } th { "Actions" } }
            @for z in &st.zookeeper {
                @let state = zk_state(z);
                tr data-zk=(z.name) data-state=(state) {
                    td { b { (z.name) } (on_host(&z.host, z.owned)) }
                    td { span class={ "badge mode-" (state) " state-" (state) } { (state) } }
                    td { @if let Some(pid) = z.pid { (pid) } }
                    td { (z.client_port) }
                    td class="actions" {
                        @if z.state != ProcState::External {
                            (buttons(&z.name, running(z.pid, &z.state, z.owned), z.state == ProcState::Paused))
                        }
                    }
                }
            }
        }
        h2 { "Election znodes " span class="muted" { (st.zk_path) } }
        div id="znodes" {
            @match (&l.znodes_error, &l.znodes) {
                (Some(e), _) => { p class="flash bad" { "Cannot read the znodes: " (e) } }
                (None, z) if z.is_empty() => { p class="muted" { "No member is registered." } }
                (None, zs) => {
                    @for z in zs {
                        @let owner = st.nodes.iter().find(|n| n.znode.as_deref() == Some(z.path.as_str()));
                        div class="znode" {
                            div class="path" {
                                @if let Some(o) = owner { (o.name) " — " }
                                (z.path) " " span class="muted" { "ephemeralOwner " (z.ephemeral_owner) }
                            }
                            pre { "[zk] get " (z.path) "\n" (z.data) }
                        }
                    }
                }
            }
        }
    }
}

fn totals(l: &Live) -> Markup {
    html! {
        @if let Some(m) = &l.master_stats {
            (m.node) ": " (m.enqueued) " enqueued, " (m.dequeued) " dequeued, " (m.pending) " pending in "
            (m.destinations) " destination(s)"
        } @else {
            "no master console to read counters from"
        }
    }
}

/// One timeline entry (the script builds the same markup with textContent).
fn event_li(e: &Annotated) -> Markup {
    let kind_class: String = e.kind.as_str().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    html! {
        li class={ "k-" (kind_class) } {
            span class="t" { (e.time) }
            span class="s" { (e.source) }
            span class="k" { (e.kind) }
            (e.message)
            @if let Some(n) = &e.note { span class="failover" { (n) } }
        }
    }
}

/// The rate chart: an empty SVG the script draws into, and the master's totals.
fn chart(l: &Live) -> Markup {
    html! {
        h2 { "Message rate " span class="muted" { "(the master's counters, per second)" } }
        div class="chart" {
            svg id="chart" viewBox="0 0 600 180" preserveAspectRatio="none" role="img" aria-label="messages per second" {
                line class="axis" x1="0" y1="179" x2="600" y2="179" {}
                line class="axis" x1="0" y1="1" x2="600" y2="1" {}
                polyline id="rate-in" class="in" fill="none" stroke-width="2.5" points="" {}
                polyline id="rate-out" class="out" fill="none" stroke-width="2.5" points="" {}
                text id="rate-max" x="4" y="14" font-size="12" fill="#5b6570" {}
            }
            div class="legend" {
                span class="in" { "■ enqueued/s " b id="rate-in-now" { "–" } }
                span class="out" { "■ dequeued/s " b id="rate-out-now" { "–" } }
                span class="muted" id="totals" { (totals(l)) }
            }
            noscript { p class="muted" { "The chart needs JavaScript; the totals above are as of this page load." } }
        }
    }
}

/// The whole page.
pub fn page(
    d: &Dashboard,
    l: &Live,
    events: &[Annotated],
    offset: u64,
    said: Option<&str>,
    host: Option<&str>,
) -> String {
    let cfg = d.config();
    // The SVG escapes every string it draws (`crate::diagram::xml`).
    let sequence = d.last_failover_svg().map(PreEscaped);
    let markup = html! {
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "mqsim dashboard · " (cfg.cluster.broker_name) }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                header class="top" {
                    span class="brand" { "mqsim dashboard" }
                    span class="node" { (cfg.cluster.broker_name) }
                    span class="muted" {
                        (l.status.failover_url) " · sync " (cfg.cluster.sync) " · zkPath " (cfg.cluster.zk_path)
                    }
                    nav {
                        @for n in &cfg.nodes {
                            @let url = match host {
                                Some(h) => format!("http://{h}:{}/admin/", n.console.get_ref()),
                                None => cfg.console_url(n),
                            };
                            a href=(url) { (n.name) " console" }
                        }
                    }
                }
                main {
                    p id="result" class=(if said.is_some() { "flash" } else { "" }) { (said.unwrap_or_default()) }
                    (lesson(l))
                    div id="live" { (live_markup(d, l, host)) }
                    div class="grid" {
                        section {
                            h2 {
                                "Timeline " span class="muted" {
                                    "(newest first; a failover is timed from the kill to the new master serving)"
                                }
                            }
                            ol class="timeline" id="timeline" data-offset=(offset) {
                                @for e in events.iter().rev() { (event_li(e)) }
                            }
                        }
                        section {
                            div id="live-topology" { (topology_markup(l)) }
                            (chart(l))
                            div id="live-side" { (side_markup(l)) }
                        }
                    }
                    section id="failover-sequence" {
                        h2 {
                            "Last failover, step by step " span class="muted" {
                                "(from the timeline; " a href="/diagram/last-failover.svg" { "SVG" } ")"
                            }
                        }
                        div id="sequence" class="diagram" {
                            @if let Some(svg) = sequence {
                                (svg)
                            } @else {
                                p class="muted" { "No failover in the timeline yet: kill the master." }
                            }
                        }
                    }
                }
                footer {
                    "Buttons do what the CLI does (" code { "mqsim kill node01" } " …). State dir " (l.status.state_dir)
                    " · " a href="/api/status" { "/api/status" } " · " a href="/events" { "/events" }
                    " · console user " (cfg.console.user)
                }
                script src="/assets/dashboard.js" {}
            }
        }
    };
    format!("<!doctype html>\n{}\n", markup.into_string())
}
