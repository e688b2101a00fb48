//! The dashboard's HTML. Every string from the cluster (names, messages, znode data) goes
//! through [`esc`]; the live part is rendered by the same code for the page and for the
//! script's once-a-second refresh.

use std::fmt::Write;

use super::timeline::Annotated;
use super::{Dashboard, Live};
use crate::console::web::esc;
use crate::diagram::topology::Topology;
use crate::status::{NodeStatus, ZkStatus};

/// What the dashboard calls a broker: master, slave, electing, starting, paused or down.
pub fn broker_state(n: &NodeStatus) -> &'static str {
    match n.state.as_str() {
        "paused" => "paused",
        "running" => match n.role.as_deref() {
            Some("master") => "master",
            Some("slave") => "slave",
            Some("electing") => "electing",
            _ => "starting",
        },
        _ => "down",
    }
}

/// leader, follower, standalone, paused, down (a running server that does not serve is down).
pub fn zk_state(z: &ZkStatus) -> &'static str {
    match (z.state.as_str(), z.mode.as_deref()) {
        ("paused", _) => "paused",
        (_, Some("leader")) => "leader",
        (_, Some("follower")) => "follower",
        (_, Some("standalone")) => "standalone",
        (_, Some("observer")) => "observer",
        _ => "down",
    }
}

fn buttons(target: &str, running: bool, paused: bool) -> String {
    let mut s = String::new();
    for (verb, enabled, class) in [
        ("kill", running, "danger"),
        ("stop", running, ""),
        ("start", !running, ""),
        ("pause", running && !paused, ""),
        ("resume", paused, ""),
    ] {
        let _ = write!(
            s,
            "<form method=\"post\" action=\"/action\"><input type=\"hidden\" name=\"verb\" value=\"{verb}\">\
             <input type=\"hidden\" name=\"target\" value=\"{t}\"><button type=\"submit\" class=\"{class}\" \
             data-verb=\"{verb}\" data-target=\"{t}\" title=\"mqsim {verb} {t}\"{dis}>{verb}</button></form> ",
            t = esc(target),
            dis = if enabled { "" } else { " disabled" }
        );
    }
    s
}

/// The topology picture's data, from one look at the cluster.
pub fn topology(l: &Live) -> Topology {
    Topology::from_status(&l.status, &l.zk_sessions, &l.clients)
}

/// The lesson bar: partition the master, heal, start/stop the demo load (with its figures).
fn lesson(l: &Live) -> String {
    let form = |fields: &[(&str, &str)], label: &str, class: &str, title: &str, id: &str| {
        let mut f = String::from("<form method=\"post\" action=\"/action\">");
        for (k, v) in fields {
            let _ = write!(f, "<input type=\"hidden\" name=\"{k}\" value=\"{v}\">");
        }
        let _ = write!(
            f,
            "<button type=\"submit\" id=\"{id}\" class=\"{class}\" title=\"{title}\">{label}</button></form> "
        );
        f
    };
    let mut s = String::from("<div class=\"lesson\" id=\"lesson\"><b>Lesson</b> ");
    s += &form(
        &[("verb", "partition"), ("target", "master"), ("from", "zk")],
        "cut master from ZooKeeper",
        "danger",
        "mqsim partition master --from zk",
        "partition-zk",
    );
    s += &form(
        &[("verb", "partition"), ("target", "master"), ("from", "peers")],
        "cut master from peers",
        "",
        "mqsim partition master --from peers",
        "partition-peers",
    );
    s += &form(&[("verb", "heal"), ("target", "nodes")], "heal", "", "mqsim heal nodes", "heal");
    s += &form(
        &[("verb", "load-start"), ("target", "load")],
        "start load",
        "",
        "a producer and a consumer through the failover URL",
        "load-start",
    );
    s += &form(
        &[("verb", "load-stop"), ("target", "load")],
        "stop load",
        "",
        "stop the producer and the consumer",
        "load-stop",
    );
    let _ = write!(s, "<span id=\"load\" data-running=\"{}\">{}</span></div>", l.load.is_some(), load_text(l));
    s
}

/// `load: 120 sent, 118 received …` (the script adds the rates).
pub fn load_text(l: &Live) -> String {
    match &l.load {
        Some(v) => format!(
            "load on {}: sending <b id=\"load-send-rate\">–</b>/s, receiving <b id=\"load-recv-rate\">–</b>/s              <span class=\"muted\">(<span id=\"load-sent\">{}</span> sent, <span id=\"load-received\">{}</span> received,              {} reconnection(s))</span>",
            esc(v.queue),
            v.sent,
            v.received,
            v.reconnects
        ),
        None => "<span class=\"muted\">no load running</span>".into(),
    }
}

/// The top of the page, which the script replaces when it changes: master and brokers.
pub fn live(d: &Dashboard, l: &Live, host: Option<&str>) -> String {
    let st = &l.status;
    let cfg = d.config();
    let mut s = String::new();
    match st.master_node() {
        Some(m) => {
            let _ = write!(
                s,
                "<p class=\"master-line\" id=\"master-line\">Master: <b id=\"master\">{}</b> <span class=\"muted\">({})</span></p>",
                esc(&m.name),
                esc(m.znode.as_deref().unwrap_or("?"))
            );
        }
        None => {
            s += "<p class=\"master-line none\" id=\"master-line\">Master: <b id=\"master\">none</b> \
                      <span class=\"muted\">(no broker serves clients right now)</span></p>"
        }
    }

    s += "<h2>Brokers</h2><table id=\"brokers\"><tr><th>Broker</th><th>State</th><th>PID</th><th>Position</th>\
          <th>Znode</th><th>Replication</th><th>Console</th><th>Actions</th></tr>";
    for n in &st.nodes {
        let state = broker_state(n);
        let detail = match (state, n.state.as_str()) {
            ("master", _) if !n.serving => " <span class=\"muted\">not serving yet</span>".to_string(),
            ("down", "stopped") => " <span class=\"muted\">stopped</span>".to_string(),
            _ => String::new(),
        };
        let repl = match state {
            "master" => {
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
            "slave" => n.replication.clone().unwrap_or_else(|| "not attached".into()),
            _ => String::new(),
        };
        let url = match (host, cfg.node(&n.name)) {
            (Some(h), Some(_)) => format!("http://{h}:{}/admin/", n.ports.console),
            (None, Some(node)) => cfg.console_url(node),
            _ => String::new(),
        };
        let running = n.pid.is_some();
        let _ = write!(
            s,
            "<tr data-node=\"{name}\" data-state=\"{state}\"><td><b>{name}</b></td>\
             <td><span class=\"badge state-{state}\">{state}</span>{detail}</td><td>{pid}</td><td class=\"num\">{pos}<br><small class=\"store\">{store}</small></td>\
             <td><code title=\"{znode}\">{seq}</code></td><td>{repl}</td><td><a href=\"{url}\">:{port}</a></td><td class=\"actions\">{buttons}</td></tr>",
            name = esc(&n.name),
            pid = n.pid.map(|p| p.to_string()).unwrap_or_default(),
            pos = n.position.map(|p| p.to_string()).unwrap_or_default(),
            store = esc(&n.store.as_ref().map(crate::status::StoreUsage::describe).unwrap_or_default()),
            znode = esc(n.znode.as_deref().unwrap_or("")),
            seq = esc(n.znode.as_deref().and_then(|z| z.rsplit('/').next()).unwrap_or("")),
            repl = esc(&repl),
            url = esc(&url),
            port = n.ports.console,
            buttons = buttons(&n.name, running, n.state == "paused"),
        );
    }
    s += "</table>";
    s
}

/// The topology picture's part of the page, which the script replaces when it changes.
pub fn topology_html(l: &Live) -> String {
    format!(
        "<h2>Topology <span class=\"muted\">(live; <a href=\"/diagram/topology.svg\">SVG</a>)</span></h2>\
         <div id=\"topology\" class=\"diagram\">{}</div>",
        crate::diagram::topology::render(&topology(l))
    )
}

/// The side column the script replaces when it changes: ZooKeeper servers and znodes.
pub fn side(l: &Live) -> String {
    let st = &l.status;
    let mut s = String::new();
    s += "<h2>ZooKeeper</h2><table id=\"zookeeper\"><tr><th>Server</th><th>State</th><th>PID</th><th>Client port</th><th>Actions</th></tr>";
    for z in &st.zookeeper {
        let state = zk_state(z);
        let managed = z.state != "external";
        let _ = write!(
            s,
            "<tr data-zk=\"{name}\" data-state=\"{state}\"><td><b>{name}</b></td><td><span class=\"badge mode-{state} state-{state}\">{state}</span></td>\
             <td>{pid}</td><td>{port}</td><td class=\"actions\">{buttons}</td></tr>",
            name = esc(&z.name),
            pid = z.pid.map(|p| p.to_string()).unwrap_or_default(),
            port = z.client_port,
            buttons = if managed { buttons(&z.name, z.pid.is_some(), z.state == "paused") } else { String::new() },
        );
    }
    s += "</table>";

    let _ = write!(s, "<h2>Election znodes <span class=\"muted\">{}</span></h2><div id=\"znodes\">", esc(&st.zk_path));
    match (&l.znodes_error, &l.znodes) {
        (Some(e), _) => {
            let _ = write!(s, "<p class=\"flash bad\">Cannot read the znodes: {}</p>", esc(e));
        }
        (None, z) if z.is_empty() => s += "<p class=\"muted\">No member is registered.</p>",
        (None, zs) => {
            for z in zs {
                let owner =
                    st.nodes.iter().find(|n| n.znode.as_deref() == Some(z.path.as_str())).map(|n| n.name.as_str());
                let _ = write!(
                    s,
                    "<div class=\"znode\"><div class=\"path\">{}{} <span class=\"muted\">ephemeralOwner {}</span></div>\
                     <pre>[zk] get {}\n{}</pre></div>",
                    owner.map(|o| format!("{} — ", esc(o))).unwrap_or_default(),
                    esc(&z.path),
                    esc(&z.ephemeral_owner),
                    esc(&z.path),
                    esc(&z.data)
                );
            }
        }
    }
    s += "</div>";
    s
}

fn totals(l: &Live) -> String {
    match &l.master_stats {
        Some(m) => format!(
            "{}: {} enqueued, {} dequeued, {} pending in {} destination(s)",
            esc(&m.node),
            m.enqueued,
            m.dequeued,
            m.pending,
            m.destinations
        ),
        None => "no master console to read counters from".into(),
    }
}

/// One timeline entry (the script builds the same markup with textContent).
fn event_li(e: &Annotated) -> String {
    let kind_class: String = e.kind.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    format!(
        "<li class=\"k-{kind_class}\"><span class=\"t\">{}</span><span class=\"s\">{}</span><span class=\"k\">{}</span>{}{}</li>",
        esc(&e.time),
        esc(&e.source),
        esc(&e.kind),
        esc(&e.message),
        e.note.as_ref().map(|n| format!("<span class=\"failover\">{}</span>", esc(n))).unwrap_or_default()
    )
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
    let mut s = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    );
    let _ = write!(
        s,
        "<title>mqsim dashboard · {}</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head><body>\
         <header class=\"top\"><span class=\"brand\">mqsim dashboard</span><span class=\"node\">{}</span>\
         <span class=\"muted\">{} · sync {} · zkPath {}</span><nav>",
        esc(&cfg.cluster.broker_name),
        esc(&cfg.cluster.broker_name),
        esc(&l.status.failover_url),
        esc(&cfg.cluster.sync),
        esc(&cfg.cluster.zk_path)
    );
    for n in &cfg.nodes {
        let url = match host {
            Some(h) => format!("http://{h}:{}/admin/", n.console.get_ref()),
            None => cfg.console_url(n),
        };
        let _ = write!(s, "<a href=\"{}\">{} console</a>", esc(&url), esc(&n.name));
    }
    s += "</nav></header><main>";
    let _ = write!(
        s,
        "<p id=\"result\" class=\"{}\">{}</p>",
        if said.is_some() { "flash" } else { "" },
        said.map(esc).unwrap_or_default()
    );
    s += &lesson(l);
    s += "<div id=\"live\">";
    s += &live(d, l, host);
    s += "</div><div class=\"grid\"><section>";
    let _ = write!(
        s,
        "<h2>Timeline <span class=\"muted\">(newest first; a failover is timed from the kill to the new master serving)</span></h2>\
         <ol class=\"timeline\" id=\"timeline\" data-offset=\"{offset}\">"
    );
    for e in events.iter().rev() {
        s += &event_li(e);
    }
    s += "</ol></section><section>";
    s += "<div id=\"live-topology\">";
    s += &topology_html(l);
    s += "</div>";
    let _ = write!(
        s,
        "<h2>Message rate <span class=\"muted\">(the master's counters, per second)</span></h2>\
         <div class=\"chart\"><svg id=\"chart\" viewBox=\"0 0 600 180\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"messages per second\">\
         <line class=\"axis\" x1=\"0\" y1=\"179\" x2=\"600\" y2=\"179\"></line><line class=\"axis\" x1=\"0\" y1=\"1\" x2=\"600\" y2=\"1\"></line>\
         <polyline id=\"rate-in\" class=\"in\" fill=\"none\" stroke-width=\"2.5\" points=\"\"></polyline>\
         <polyline id=\"rate-out\" class=\"out\" fill=\"none\" stroke-width=\"2.5\" points=\"\"></polyline>\
         <text id=\"rate-max\" x=\"4\" y=\"14\" font-size=\"12\" fill=\"#5b6570\"></text></svg>\
         <div class=\"legend\"><span class=\"in\">■ enqueued/s <b id=\"rate-in-now\">–</b></span>\
         <span class=\"out\">■ dequeued/s <b id=\"rate-out-now\">–</b></span><span class=\"muted\" id=\"totals\">{}</span></div>\
         <noscript><p class=\"muted\">The chart needs JavaScript; the totals above are as of this page load.</p></noscript></div>",
        totals(l)
    );
    s += "<div id=\"live-side\">";
    s += &side(l);
    s += "</div></section></div>";
    let _ = write!(
        s,
        "<section id=\"failover-sequence\"><h2>Last failover, step by step <span class=\"muted\">(from the timeline; \
         <a href=\"/diagram/last-failover.svg\">SVG</a>)</span></h2><div id=\"sequence\" class=\"diagram\">{}</div></section></main>",
        d.last_failover_svg()
            .unwrap_or_else(|| "<p class=\"muted\">No failover in the timeline yet: kill the master.</p>".into())
    );
    let _ = write!(
        s,
        "<footer>Buttons do what the CLI does (<code>mqsim kill node01</code> …). State dir {} · <a href=\"/api/status\">/api/status</a> · \
         <a href=\"/events\">/events</a> · console user {}</footer>",
        esc(&l.status.state_dir),
        esc(&cfg.console.user)
    );
    s += "<script src=\"/assets/dashboard.js\"></script></body></html>\n";
    s
}
