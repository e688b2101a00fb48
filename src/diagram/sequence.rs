//! A failover as a sequence diagram, drawn from `events.jsonl`.
//!
//! A [`Slice`] is the run of events that starts at a fault (the supervisor's `killed`,
//! `paused`, `partitioned` or `stopping`) and ends before the next fault, at most
//! [`WINDOW_MS`] later, with at most [`MAX_ROWS`] rows. [`last_failover`] finds the last
//! failover the dashboard timed (the same [`Annotator`] as its timeline) and
//! [`chaos_slices`] the slice of each fault a chaos run injected. [`render`] draws one
//! lifeline per participant — supervisor, ZooKeeper, each broker, the clients — and one
//! row per event, in time order, with its offset from the fault:
//!
//! | event | drawn as |
//! |---|---|
//! | supervisor `killed`/`paused`/`partitioned`/`started`/… | arrow supervisor → the process (ZooKeeper for `zkNN`) |
//! | supervisor `znode-deleted` | note on ZooKeeper (which znode, whose, why) |
//! | `session-expired`, `zk-disconnected` | arrow ZooKeeper → broker |
//! | `zk-connected`, `zk-reconnected`, `registered` | arrow broker → ZooKeeper |
//! | `election` (each broker's elector), `elected`, `promoted`, `demoted` | note on the broker |
//! | `serving` | arrow broker → clients |
//! | a slave's `slave`, `slave-attaching`, `slave-attached` | arrow slave → the master |
//! | `client-*` from the dashboard's load | arrow clients → the broker they reached |
//!
//! Only what the timeline holds is drawn: when no client recorded its reconnection, the
//! diagram says so in a footnote instead of drawing one.

use std::fmt::Write;

use serde::Serialize;

use super::{clip, inline_styles, text_width, xml};
use crate::dashboard::timeline::Annotator;
use crate::events::{Event, EventKind, clock};

/// The longest stretch after a fault that one diagram covers.
pub const WINDOW_MS: u64 = 60_000;
/// The most events one diagram draws (the rest are counted in a footnote).
pub const MAX_ROWS: usize = 48;
/// How long after the new master serves the dashboard's diagram goes on (slaves attaching,
/// clients reconnecting).
pub const TAIL_MS: u64 = 8_000;

const FAULTS: [EventKind; 4] = [EventKind::Killed, EventKind::Paused, EventKind::Partitioned, EventKind::Stopping];

/// The events of one fault and what they led to.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Slice {
    /// `node01 (pid 7) killed (SIGKILL)`: the fault's own message, or what is missing.
    pub title: String,
    /// The fault's time: offsets are from here.
    pub t0: u64,
    pub events: Vec<Event>,
    /// The serving master before the fault, if the timeline says.
    pub old_master: Option<String>,
    /// The first broker to serve clients after the fault.
    pub new_master: Option<String>,
    /// From the fault to the new master serving.
    pub failover_ms: Option<u64>,
    /// Events of the window not drawn (past [`MAX_ROWS`]).
    pub truncated: usize,
}

fn is_fault(e: &Event) -> bool {
    e.source == "supervisor" && FAULTS.contains(&e.kind)
}

/// The process a supervisor event is about.
fn target(e: &Event) -> &str {
    e.about()
}

/// The serving master just before `events[i]`.
fn master_before(events: &[Event], i: usize) -> Option<String> {
    let mut master = None;
    for e in &events[..i] {
        match e.kind {
            EventKind::Serving => master = Some(e.source.clone()),
            EventKind::Demoted if master.as_deref() == Some(e.source.as_str()) => master = None,
            EventKind::Killed | EventKind::Stopping | EventKind::Crashed | EventKind::Exited
                if master.as_deref() == Some(target(e)) =>
            {
                master = None
            }
            EventKind::Up | EventKind::Down if e.source == "supervisor" => master = None,
            _ => {}
        }
    }
    master
}

/// The slice starting at the fault `events[start]`: up to the next fault, [`WINDOW_MS`]
/// or `until` (a time), whichever comes first.
pub fn slice_at(events: &[Event], start: usize, until: Option<u64>) -> Slice {
    let t0 = events[start].ts;
    let end_ts = until.unwrap_or(u64::MAX).min(t0.saturating_add(WINDOW_MS));
    let mut taken = vec![events[start].clone()];
    for e in &events[start + 1..] {
        if is_fault(e)
            || e.ts > end_ts
            || (e.source == "supervisor" && matches!(e.kind, EventKind::Up | EventKind::Down))
        {
            break;
        }
        taken.push(e.clone());
    }
    // Several processes append to the file: draw in time order (file order among ties).
    taken[1..].sort_by_key(|e| e.ts);
    let serving = taken.iter().find(|e| e.kind == EventKind::Serving);
    let new_master = serving.map(|e| e.source.clone());
    let failover_ms = serving.map(|e| e.ts.saturating_sub(t0));
    let truncated = taken.len().saturating_sub(MAX_ROWS);
    taken.truncate(MAX_ROWS);
    Slice {
        title: format!("{} {}", events[start].kind, events[start].message),
        t0,
        events: taken,
        old_master: master_before(events, start),
        new_master,
        failover_ms,
        truncated,
    }
}

/// The last failover the dashboard timed (fault → new master serving), with [`TAIL_MS`]
/// after it; `None` if the timeline has none.
pub fn last_failover(events: &[Event]) -> Option<Slice> {
    let mut ann = Annotator::default();
    let mut last = None;
    for (i, e) in events.iter().enumerate() {
        if let Some(ms) = ann.annotate(e, 0).failover_ms {
            last = Some((i, e.ts, ms));
        }
    }
    let (serving, ts, ms) = last?;
    let began = ts.saturating_sub(ms);
    // The event that took the master away (killed, stopping, paused, crashed, demoted)...
    let mut start = (0..serving).rev().find(|&i| events[i].ts == began)?;
    // ...and, for a master that stepped down (or crashed), the partition that made it.
    if !is_fault(&events[start]) {
        let who = match events[start].source.as_str() {
            "supervisor" => target(&events[start]).to_string(),
            s => s.to_string(),
        };
        if let Some(j) = (0..start)
            .rev()
            .take_while(|&j| began.saturating_sub(events[j].ts) <= 30_000)
            .find(|&j| is_fault(&events[j]) && target(&events[j]) == who)
            && !events[j..start].iter().any(|e| e.kind == EventKind::Serving)
        {
            start = j;
        }
    }
    let mut slice = slice_at(events, start, Some(ts + TAIL_MS));
    // A crash or a step-down is not a supervisor fault: keep the window to the serving.
    if slice.new_master.is_none() {
        slice = slice_at(events, start, None);
    }
    Some(slice)
}

/// One slice per fault of a chaos run, `faults` being its `(kind, target)` in order (kinds
/// `kill`, `pause`, `partition`, `zk`). A fault whose event is not in `events` gets an
/// empty slice saying so.
pub fn chaos_slices(events: &[Event], faults: &[(String, String)]) -> Vec<Slice> {
    let mut cursor = 0;
    faults
        .iter()
        .map(|(kind, who)| {
            let want = match kind.as_str() {
                "kill" | "zk" => EventKind::Killed,
                "pause" => EventKind::Paused,
                "partition" => EventKind::Partitioned,
                other => EventKind::from(other),
            };
            let found = (cursor..events.len())
                .find(|&i| events[i].source == "supervisor" && events[i].kind == want && target(&events[i]) == who);
            match found {
                Some(i) => {
                    cursor = i + 1;
                    slice_at(events, i, None)
                }
                None => Slice {
                    title: format!("{kind} {who}: no `{want}` event for it in the run's timeline"),
                    t0: events.get(cursor).map_or(0, |e| e.ts),
                    events: Vec::new(),
                    old_master: None,
                    new_master: None,
                    failover_ms: None,
                    truncated: 0,
                },
            }
        })
        .collect()
}

enum Row {
    Arrow { from: usize, to: usize, label: String, strong: bool },
    Note { on: usize, label: String, strong: bool },
}

/// `/activemq/leveldb-stores/00000000003` → `00000000003` in a label.
fn short_paths(s: &str) -> String {
    s.split(' ')
        .map(|w| if w.matches('/').count() >= 2 { w.rsplit('/').next().unwrap_or(w) } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What follows `name ` at the start of a message (`node02 was elected master` → `was elected master`).
fn after<'a>(message: &'a str, name: &str) -> &'a str {
    message.strip_prefix(name).map(|m| m.trim_start_matches(':').trim_start()).unwrap_or(message)
}

struct Lanes<'a> {
    nodes: &'a [String],
}

impl Lanes<'_> {
    const SUPERVISOR: usize = 0;
    const ZK: usize = 1;
    fn node(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n == name).map(|i| i + 2)
    }
    fn clients(&self) -> usize {
        self.nodes.len() + 2
    }
    fn names(&self) -> Vec<String> {
        let mut v = vec!["supervisor".to_string(), "ZooKeeper".to_string()];
        v.extend(self.nodes.iter().cloned());
        v.push("clients".into());
        v
    }
}

fn row(e: &Event, lanes: &Lanes, master: &mut Option<String>) -> Row {
    let src = lanes.node(&e.source);
    let note_on_source = |label: String, strong: bool| Row::Note {
        on: src.unwrap_or(if is_client(&e.source) { lanes.clients() } else { Lanes::SUPERVISOR }),
        label,
        strong,
    };
    match (e.source.as_str(), &e.kind, src) {
        ("supervisor", EventKind::ZnodeDeleted, _) => {
            Row::Note { on: Lanes::ZK, label: short_paths(&e.message), strong: true }
        }
        ("supervisor", kind, _) => {
            let who = target(e);
            let to = lanes.node(who).or_else(|| who.starts_with("zk").then_some(Lanes::ZK));
            let what = after(&e.message, who);
            match (kind, to) {
                (EventKind::Crashed | EventKind::Exited, Some(on)) => {
                    Row::Note { on, label: format!("{who} {kind}"), strong: true }
                }
                (_, Some(to)) => {
                    let label = if to == Lanes::ZK { format!("{who} {kind}") } else { what.to_string() };
                    Row::Arrow { from: Lanes::SUPERVISOR, to, label, strong: is_fault(e) }
                }
                _ => note_on_source(format!("{kind}: {}", e.message), false),
            }
        }
        (_, EventKind::SessionExpired, Some(n)) => {
            Row::Arrow { from: Lanes::ZK, to: n, label: "session expired".into(), strong: true }
        }
        (_, EventKind::ZkDisconnected, Some(n)) => {
            Row::Arrow { from: Lanes::ZK, to: n, label: "connection lost".into(), strong: false }
        }
        (_, EventKind::ZkConnected | EventKind::ZkReconnected | EventKind::Registered, Some(n)) => {
            Row::Arrow { from: n, to: Lanes::ZK, label: short_paths(after(&e.message, &e.source)), strong: false }
        }
        (_, EventKind::Election, Some(_)) => {
            let what = e.message.split_once(" set ").or_else(|| e.message.split_once(" cleared ")).map(|(_, w)| w);
            note_on_source(format!("elector: {}", what.unwrap_or(&e.message)), false)
        }
        (_, EventKind::Elected, Some(_)) => note_on_source("elected master".into(), true),
        (_, EventKind::Promoted, Some(_)) => {
            *master = Some(e.source.clone());
            note_on_source("MASTER: replication published".into(), true)
        }
        (_, EventKind::Demoted, Some(_)) => {
            if master.as_deref() == Some(e.source.as_str()) {
                *master = None;
            }
            note_on_source(
                format!("steps down: {}", after(&e.message, &format!("{} stepped down as master:", e.source))),
                true,
            )
        }
        (_, EventKind::Serving, Some(n)) => {
            *master = Some(e.source.clone());
            Row::Arrow { from: n, to: lanes.clients(), label: "accepts clients".into(), strong: true }
        }
        (_, EventKind::Slave | EventKind::SlaveAttaching | EventKind::SlaveAttached, Some(n)) => {
            let to = master.as_deref().filter(|m| *m != e.source).and_then(|m| lanes.node(m));
            match to {
                Some(to) if !e.message.starts_with("slave ") => Row::Arrow {
                    from: n,
                    to,
                    label: format!("{}: {}", e.kind, after(&e.message, &e.source)),
                    strong: false,
                },
                _ => note_on_source(format!("{}: {}", e.kind, after(&e.message, &e.source)), false),
            }
        }
        (source, EventKind::ClientConnected | EventKind::ClientReconnected, _) if is_client(source) => {
            let to =
                e.message.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')).find_map(|w| lanes.node(w));
            match to {
                Some(to) => Row::Arrow { from: lanes.clients(), to, label: e.message.clone(), strong: false },
                None => note_on_source(e.message.clone(), false),
            }
        }
        (_, kind, _) => note_on_source(format!("{kind}: {}", after(&e.message, &e.source)), false),
    }
}

const LANE: f64 = 160.0;
const LEFT: f64 = 86.0;
const TOP: f64 = 118.0;
const STEP: f64 = 30.0;

/// The diagram, a standalone SVG document; `nodes` are the broker names (one lifeline
/// each, in this order). The root carries `data-new-master` (empty if none).
pub fn render(slice: &Slice, nodes: &[String]) -> String {
    // Brokers that appear in the events but not in `nodes` get a lifeline too.
    let mut all: Vec<String> = nodes.to_vec();
    for e in &slice.events {
        if !matches!(e.source.as_str(), "supervisor" | "zookeeper")
            && !is_client(&e.source)
            && !all.contains(&e.source)
            && all.len() < 12
        {
            all.push(e.source.clone());
        }
    }
    let lanes = Lanes { nodes: &all };
    let names = lanes.names();
    let x = |lane: usize| LEFT + LANE * (lane as f64 + 0.5);
    let width = LEFT + LANE * names.len() as f64 + 10.0;
    let mut foot = Vec::new();
    if slice.truncated > 0 {
        foot.push(format!("… {} more event(s) in this window are not drawn (see events.jsonl).", slice.truncated));
    }
    if slice.new_master.is_none() && !slice.events.is_empty() {
        foot.push(match &slice.old_master {
            Some(m) => format!("No broker started serving in this window ({m} was master before the fault)."),
            None => "No broker started serving in this window.".to_string(),
        });
    }
    if !slice.events.iter().any(|e| is_client(&e.source)) {
        foot.push(
            "Clients: no client event in this window. The dashboard's load and mqsim chaos's clients record their \
             reconnections in the timeline; other clients (yours) reconnect without writing it."
                .into(),
        );
    }
    let rows = slice.events.len().max(1);
    let height = TOP + STEP * rows as f64 + 24.0 + 18.0 * foot.len() as f64 + 10.0;
    let new_master = slice.new_master.as_deref().unwrap_or("");
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dg-sequence\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" data-new-master=\"{nm}\" role=\"img\" aria-label=\"failover sequence\">\
         <title>{title}</title>\
         <defs><marker id=\"dg-seq-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" \
         orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#44515e\"/></marker></defs>\
         <rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#fbfcfd\"/>\
         <text class=\"dg-h\" x=\"10\" y=\"22\">{title}</text>",
        nm = xml(new_master),
        title = xml(&clip(&format!("Fault at {}: {}", clock(slice.t0), short_paths(&slice.title)), 110)),
    );
    let sub = match (&slice.new_master, slice.failover_ms) {
        (Some(m), Some(ms)) => format!(
            "New master: {m} — serving {:.1} s after the fault{}",
            ms as f64 / 1000.0,
            slice.old_master.as_deref().map(|o| format!(" (was {o})")).unwrap_or_default()
        ),
        _ => match &slice.old_master {
            Some(o) => format!("No new master in this window (master before: {o})"),
            None => "No new master in this window".to_string(),
        },
    };
    let _ = write!(s, "<text class=\"dg-sub\" x=\"10\" y=\"44\">{}</text>", xml(&sub));
    let bottom = TOP + STEP * rows as f64;
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            s,
            "<g class=\"dg-lane\" data-lane=\"{n}\"><line class=\"dg-life\" x1=\"{x}\" y1=\"92\" x2=\"{x}\" y2=\"{bottom}\"/>\
             <rect class=\"dg-head\" x=\"{x0}\" y=\"62\" width=\"{w}\" height=\"30\" rx=\"6\"/>\
             <text class=\"dg-label\" x=\"{x}\" y=\"82\" text-anchor=\"middle\" font-weight=\"bold\">{n}</text></g>",
            n = xml(&clip(name, 20)),
            x = x(i),
            x0 = x(i) - (LANE - 24.0) / 2.0,
            w = LANE - 24.0,
        );
    }
    let mut master = slice.old_master.clone();
    // Each row holds one arrow or note, so its label may run over the neighbouring lanes,
    // as long as it stays inside the picture (pushed sideways near an edge).
    let room = LANE * names.len() as f64 - 8.0;
    let chars = ((room - 14.0) / text_width("x", 12.0)) as usize;
    let inside = |center: f64, w: f64| center.max(LEFT + w / 2.0).min(width - 4.0 - w / 2.0);
    for (i, e) in slice.events.iter().enumerate() {
        let y = TOP + STEP * i as f64;
        let dt = e.ts as i64 - slice.t0 as i64;
        let r = row(e, &lanes, &mut master);
        let strong = match &r {
            Row::Arrow { strong, .. } | Row::Note { strong, .. } => *strong,
        };
        let _ = write!(
            s,
            "<g class=\"dg-ev{}\" data-kind=\"{k}\" data-source=\"{src}\"><title>{t} {src} {k}: {m}</title>\
             <text class=\"dg-mono\" x=\"6\" y=\"{ty}\">{dt:+} ms</text>",
            if strong { " dg-strong" } else { "" },
            k = xml(e.kind.as_str()),
            src = xml(&e.source),
            t = clock(e.ts),
            m = xml(&e.message),
            ty = y + 4.0,
        );
        match r {
            Row::Arrow { from, to, label, .. } => {
                let (x1, x2) = (x(from), x(to));
                let l = clip(&label, chars);
                let mx = inside((x1 + x2) / 2.0, text_width(&l, 12.0));
                let _ = write!(
                    s,
                    "<line class=\"{ac}\" x1=\"{x1}\" y1=\"{y}\" x2=\"{x2e}\" y2=\"{y}\" marker-end=\"url(#dg-seq-arrow)\"/>\
                     <text class=\"dg-label\" x=\"{mx}\" y=\"{ly}\" text-anchor=\"middle\">{l}</text>",
                    ac = if strong { "dg-arrow-strong" } else { "dg-arrow" },
                    x2e = if x2 > x1 { x2 - 3.0 } else { x2 + 3.0 },
                    ly = y - 5.0,
                    l = xml(&l),
                );
            }
            Row::Note { on, label, .. } => {
                let label = clip(&label, chars);
                let w = (text_width(&label, 12.0) + 14.0).min(room);
                let cx = inside(x(on), w);
                let _ = write!(
                    s,
                    "<rect class=\"{nc}\" x=\"{x0}\" y=\"{y0}\" width=\"{w}\" height=\"22\" rx=\"4\"/>\
                     <text class=\"dg-label\" x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\">{l}</text>",
                    nc = if strong { "dg-note-strong" } else { "dg-note" },
                    x0 = cx - w / 2.0,
                    y0 = y - 13.0,
                    x = cx,
                    ty = y + 3.0,
                    l = xml(&label),
                );
            }
        }
        s += "</g>";
    }
    if slice.events.is_empty() {
        let _ = write!(s, "<text class=\"dg-foot\" x=\"10\" y=\"{TOP}\">{}</text>", xml(&slice.title));
    }
    for (i, f) in foot.iter().enumerate() {
        let _ =
            write!(s, "<text class=\"dg-foot\" x=\"10\" y=\"{}\">{}</text>", bottom + 28.0 + 18.0 * i as f64, xml(f));
    }
    s += "</svg>";
    inline_styles(&s)
}

/// The timeline sources that are clients: the dashboard's load and `mqsim chaos`'s producer
/// and consumer.
fn is_client(source: &str) -> bool {
    matches!(source, "load" | "chaos")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ev;

    fn nodes() -> Vec<String> {
        vec!["node01".into(), "node02".into(), "node03".into()]
    }

    /// A real-shaped timeline: node01 master, killed; node02 takes over; then a pause.
    fn timeline() -> Vec<Event> {
        vec![
            ev(1_000, "node01", "promoted", "node01 is master: replication server tcp://127.0.0.1:1 published"),
            ev(1_100, "node01", "serving", "node01 accepts clients (stomp 1, openwire 2)"),
            ev(5_000, "supervisor", "killed", "node01 (pid 7) killed (SIGKILL)"),
            ev(7_100, "node02", "session-expired", "node02 ZooKeeper session 0x2 ended: Expired"),
            ev(
                7_150,
                "supervisor",
                "znode-deleted",
                "znode /activemq/leveldb-stores/00000000001 (node01) deleted: session expired",
            ),
            ev(7_200, "node02", "election", "elector node02 set elected=00000000002 (highest position)"),
            ev(7_210, "node03", "election", "elector node03 set elected=00000000002 (highest position)"),
            ev(7_220, "node02", "elected", "node02 was elected master"),
            ev(7_300, "node02", "promoted", "node02 is master: replication server tcp://127.0.0.1:3 published"),
            ev(7_400, "node03", "slave-attaching", "node03 attached to tcp://127.0.0.1:3 at position 9 (master at 9)"),
            ev(7_450, "node02", "serving", "node02 accepts clients (stomp 3, openwire 4)"),
            ev(7_600, "load", "client-reconnected", "producer reconnected to node02 after 2.5 s"),
            ev(9_000, "supervisor", "started", "node01 started (pid 8)"),
            ev(20_000, "supervisor", "paused", "node02 (pid 9) paused (SIGSTOP)"),
            ev(23_000, "node03", "serving", "node03 accepts clients (stomp 5, openwire 6)"),
        ]
    }

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"))
    }

    fn all_text(doc: &roxmltree::Document) -> String {
        doc.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn last_failover_is_the_pause_and_names_node03() {
        let s = last_failover(&timeline()).unwrap();
        assert_eq!((s.t0, s.new_master.as_deref(), s.old_master.as_deref()), (20_000, Some("node03"), Some("node02")));
        assert_eq!(s.failover_ms, Some(3_000));
        let svg = render(&s, &nodes());
        let doc = parse(&svg);
        assert_eq!(doc.root_element().attribute("data-new-master"), Some("node03"));
        assert!(all_text(&doc).contains("New master: node03"));
    }

    #[test]
    fn a_partition_that_made_the_master_step_down_starts_its_diagram() {
        let events = vec![
            ev(1_000, "node01", "serving", "node01 accepts clients"),
            ev(2_000, "supervisor", "killed", "node03 (pid 3) killed (SIGKILL)"),
            ev(3_000, "supervisor", "partitioned", "node01 cut from zk"),
            ev(6_000, "node01", "demoted", "node01 stepped down as master: lost ZooKeeper"),
            ev(7_000, "node02", "serving", "node02 accepts clients"),
        ];
        let s = last_failover(&events).unwrap();
        assert_eq!((s.t0, s.new_master.as_deref(), s.failover_ms), (3_000, Some("node02"), Some(4_000)));
        assert_eq!(s.events[0].kind, EventKind::Partitioned, "not the slave's kill before it");
        // A master killed after a slave was: the diagram starts at the master's kill.
        let mut events = events;
        events.drain(2..4);
        events.insert(2, ev(3_000, "supervisor", "killed", "node01 (pid 1) killed (SIGKILL)"));
        let s = last_failover(&events).unwrap();
        assert_eq!((s.t0, s.events[0].message.as_str()), (3_000, "node01 (pid 1) killed (SIGKILL)"));
    }

    #[test]
    fn a_kill_reads_top_to_bottom_from_the_kill_to_the_clients() {
        let events = timeline();
        let s = slice_at(&events, 2, None);
        assert_eq!(s.events.len(), 11, "up to the next fault (the pause), the restart included");
        assert_eq!((s.new_master.as_deref(), s.failover_ms), (Some("node02"), Some(2_450)));
        let svg = render(&s, &nodes());
        let doc = parse(&svg);
        assert_eq!(doc.root_element().attribute("data-new-master"), Some("node02"));
        let text = all_text(&doc);
        for want in [
            "+0 ms",
            "+2100 ms",
            "session expired",
            "00000000001 (node01) deleted",
            "elected master",
            "accepts clients",
            "reconnected to node02",
            "New master: node02",
        ] {
            assert!(text.contains(want), "{want:?} missing:\n{text}");
        }
        let kinds: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("data-kind")).collect();
        let pos = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
        assert!(pos("killed") < pos("session-expired") && pos("session-expired") < pos("elected"));
        assert!(pos("elected") < pos("serving") && pos("serving") < pos("client-reconnected"));
        assert!(!text.contains("no client event"), "the load's reconnection is drawn");
    }

    #[test]
    fn chaos_faults_map_to_their_events_and_missing_ones_are_said() {
        let faults = vec![
            ("kill".to_string(), "node01".to_string()),
            ("pause".into(), "node02".into()),
            ("zk".into(), "zk01".into()),
        ];
        let slices = chaos_slices(&timeline(), &faults);
        assert_eq!(slices.len(), 3);
        assert_eq!(slices[0].new_master.as_deref(), Some("node02"));
        assert_eq!(slices[1].new_master.as_deref(), Some("node03"));
        assert!(slices[2].events.is_empty() && slices[2].title.contains("no `killed` event"));
        for s in &slices {
            parse(&render(s, &nodes()));
        }
        let no_clients = render(&slices[1], &nodes());
        assert!(no_clients.contains("no client event in this window"), "what is missing is said");
    }

    #[test]
    fn hostile_names_and_messages_stay_valid_xml() {
        let bad = "<node\"&'>\u{1}";
        let events = vec![
            ev(1, "supervisor", "killed", &format!("{bad} (pid 1) killed")),
            ev(2, bad, "serving", "]]><script>alert(1)</script>"),
        ];
        let s = slice_at(&events, 0, None);
        let svg = render(&s, &[bad.to_string()]);
        let doc = parse(&svg);
        assert_eq!(doc.root_element().attribute("data-new-master"), Some("<node\"&'>"));
        assert!(!svg.contains("<script>"));
    }

    #[test]
    fn a_long_window_is_cut_and_counted() {
        let mut events = vec![ev(0, "supervisor", "killed", "node01 (pid 1) killed (SIGKILL)")];
        events.extend((1..100).map(|i| ev(i, "node02", "waiting", "elector node02: waiting")));
        let s = slice_at(&events, 0, None);
        assert_eq!((s.events.len(), s.truncated), (MAX_ROWS, 100 - MAX_ROWS));
        assert!(render(&s, &nodes()).contains("52 more event(s)"));
    }
}
