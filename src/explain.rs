//! `mqsim explain`: what should happen after the last fault, and whether it did.
//!
//! The prediction uses the configuration (negotiated session timeout, tickTime, replicas)
//! and the election rule (highest position, then weight, then the oldest member); the check
//! reads the event timeline that followed the fault.

use std::fmt::Write;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::error::Result;
use crate::events::{Event, EventKind, clock, read_from};
use crate::status::{ClusterStatus, ProcState, wire_enum};

/// The fault kinds on the timeline an explanation starts from.
const FAULTS: [EventKind; 6] = [
    EventKind::Killed,
    EventKind::Paused,
    EventKind::Partitioned,
    EventKind::Stopping,
    EventKind::Crashed,
    EventKind::Resumed,
];

fn secs(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

/// The last fault on the timeline. One command can hit several targets (`resume nodes`):
/// among the faults of that burst, the one that hit the master (else the last) is explained.
fn last_fault(events: &[Event]) -> Option<usize> {
    let is_fault = |e: &Event| e.source == "supervisor" && FAULTS.contains(&e.kind);
    let last = events.iter().rposition(is_fault)?;
    let burst: Vec<usize> = (0..=last)
        .rev()
        .take_while(|&j| is_fault(&events[j]) && events[last].ts.saturating_sub(events[j].ts) < 2000)
        .collect();
    burst.iter().copied().find(|&j| master_before(events, j).is_some_and(|m| victim_of(&events[j]) == m)).or(Some(last))
}

/// The node serving as master just before event `j` (from the last serving/demoted event).
fn master_before(events: &[Event], j: usize) -> Option<&str> {
    events[..j]
        .iter()
        .rev()
        .find(|e| matches!(e.kind, EventKind::Serving | EventKind::Demoted))
        .filter(|e| e.kind == EventKind::Serving)
        .map(|e| e.source.as_str())
}

/// The elector just before event `j`: the node of the last `election` event that set
/// `elected` (the elector that elected the current master).
fn elector_before(events: &[Event], j: usize) -> Option<&str> {
    events[..j]
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::Election && e.message.contains(" set elected="))
        .map(|e| e.source.as_str())
}

/// The process a supervisor fault event names (its first word).
fn victim_of(e: &Event) -> &str {
    e.about()
}

/// Builds the explanation of the last fault in `events` for a cluster in state `st`.
/// One explanation, as `mqsim explain --json` prints it; [`Explanation::render`] is the text.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// `None` while the timeline has no fault.
    pub fault: Option<Fault>,
    /// The prediction, one line each (numbered steps, continuation lines indented).
    pub should_happen: Vec<String>,
    /// The broker the election rule picks, when a quorum is left.
    pub expected_winner: Option<Winner>,
    /// The timeline's znode deletions, elections, demotions and serving nodes after the fault.
    pub happened: Vec<Happening>,
    /// The first other node serving after the fault.
    pub serves_again: Option<ServesAgain>,
}

#[derive(Debug, Serialize)]
pub struct Fault {
    /// Milliseconds since the Unix epoch.
    pub ts: u64,
    /// `killed`, `paused`, `partitioned`, `stopping`, `crashed` or `resumed`.
    pub kind: EventKind,
    pub message: String,
    pub victim: String,
    /// What the victim was.
    pub was: Was,
}

wire_enum! {
    /// What a fault's victim was, just before it.
    pub enum Was {
        /// The serving master.
        Master = "master",
        /// A ZooKeeper server.
        Zookeeper = "zookeeper",
        /// The elector (the oldest member), not the master.
        Elector = "elector",
        Other = "other",
    }
}

#[derive(Debug, Serialize)]
pub struct Winner {
    pub node: String,
    pub position: i64,
    pub weight: i32,
}

#[derive(Debug, Serialize)]
pub struct Happening {
    pub after_ms: u64,
    pub source: String,
    pub kind: EventKind,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct ServesAgain {
    pub node: String,
    pub after_ms: u64,
    pub as_expected: bool,
}

impl Explanation {
    /// The text `mqsim explain` prints.
    pub fn render(&self) -> String {
        let Some(fault) = &self.fault else {
            return "No fault on the timeline yet. Try `mqsim kill master --explain`.\n".into();
        };
        let was = match fault.was {
            Was::Master => "it was the master",
            Was::Zookeeper => "a ZooKeeper server",
            Was::Elector => "the elector, not the master",
            _ => "not the master",
        };
        let mut s = format!("Fault at {}: {} ({was}).\n\nWhat should happen:\n", clock(fault.ts), fault.message);
        for line in &self.should_happen {
            let _ = writeln!(s, "{line}");
        }
        let _ = writeln!(s, "\nWhat happened:");
        for h in &self.happened {
            let _ = writeln!(s, "  +{:<8} {:<10} {}", secs(h.after_ms), h.source, h.message);
        }
        if self.happened.is_empty() {
            let _ = writeln!(s, "  nothing yet (run `mqsim explain` again, or `mqsim events -f`)");
        }
        if let Some(a) = &self.serves_again {
            let verdict = if a.as_expected { "as expected" } else { "slower than expected" };
            let _ = writeln!(s, "\n{} serves again {} after the fault: {verdict}.", a.node, secs(a.after_ms));
        }
        s
    }
}

pub fn explain(cfg: &Config, events: &[Event], st: &ClusterStatus) -> Explanation {
    let mut out = Explanation {
        fault: None,
        should_happen: Vec::new(),
        expected_winner: None,
        happened: Vec::new(),
        serves_again: None,
    };
    let Some(i) = last_fault(events) else {
        return out;
    };
    let fault = &events[i];
    let after = &events[i + 1..];
    let victim = victim_of(fault).to_string();
    let session = crate::zookeeper::negotiated_timeout(cfg);
    let tick = Duration::from_millis(cfg.zookeeper.tick_time);
    let was_master = master_before(events, i) == Some(victim.as_str());
    let is_zk = cfg.zookeeper.servers.iter().any(|s| s.name == victim);
    let was_elector = !was_master && !is_zk && elector_before(events, i) == Some(victim.as_str());
    let was = if was_master {
        Was::Master
    } else if is_zk {
        Was::Zookeeper
    } else if was_elector {
        Was::Elector
    } else {
        Was::Other
    };
    out.fault = Some(Fault {
        ts: fault.ts,
        kind: fault.kind.clone(),
        message: fault.message.clone(),
        victim: victim.clone(),
        was,
    });
    // The prediction, written as lines (the text keeps them as they are).
    let mut s = String::new();
    // The session timer restarts at the client's last heart-beat (sent every third of the
    // timeout), and the servers check expiry once per tick.
    let window =
        format!("{}–{}", secs((session * 2 / 3).as_millis() as u64), secs((session + tick).as_millis() as u64));
    match fault.kind {
        _ if is_zk => {
            let _ = writeln!(
                s,
                "  1. The remaining ZooKeeper servers elect a new leader (about 0.35 s here) if two of three are left; \
                brokers connected to {victim} reconnect to another server. A master whose connection dropped steps down (ActiveMQ did), then a new election follows."
            );
        }
        EventKind::Killed | EventKind::Crashed => {
            let _ = writeln!(
                s,
                "  1. Nothing tells ZooKeeper that {victim} died: its ephemeral znode stays until its session expires, \
                zkSessionTimeout {} as granted by the servers, counted from its last heart-beat and checked once per tickTime ({}) → about {window} after the kill.",
                secs(session.as_millis() as u64),
                secs(tick.as_millis() as u64)
            );
        }
        EventKind::Stopping => {
            let _ = writeln!(s, "  1. A clean stop closes {victim}'s ZooKeeper session: its znode is deleted at once.");
        }
        EventKind::Paused => {
            let _ = writeln!(
                s,
                "  1. Frozen, {victim} sends no heart-beats: the servers expire its session after about {window} and delete its znode."
            );
            let _ = writeln!(
                s,
                "     When resumed, its master lease (2/3 of the session) has lapsed: it acknowledges no write and steps down."
            );
        }
        EventKind::Partitioned => {
            let _ = writeln!(
                s,
                "  1. Cut off, {victim}'s ZooKeeper client times out after about {} and the node steps down at once; \
                the servers expire its session after about {window}.",
                secs((session * 2 / 3).as_millis() as u64)
            );
        }
        EventKind::Resumed => {
            let _ = writeln!(
                s,
                "  1. {victim} runs again; if it was a frozen master its lease has lapsed, so it refuses writes and steps down."
            );
        }
        _ => {}
    }
    if !is_zk && (was_master || fault.kind != EventKind::Resumed) {
        if was_elector {
            let _ = writeln!(
                s,
                "  2. Once its znode is gone, the next oldest member is elector, with `elected` empty: the master reads \
                that nobody is elected and steps down (ActiveMQ restarted the broker), then the slaves publish their positions."
            );
        } else {
            let _ = writeln!(
                s,
                "  2. The elector (the oldest member) clears `elected`; the slaves stop following and publish their positions."
            );
        }
        let mut candidates: Vec<_> =
            st.nodes.iter().filter(|n| n.name != victim && n.state == ProcState::Running).collect();
        candidates.sort_by_key(|n| {
            let w = cfg.node(&n.name).map_or(1, |c| c.weight);
            (std::cmp::Reverse(n.position.unwrap_or(-1)), std::cmp::Reverse(w), n.znode.clone())
        });
        let quorum = cfg.quorum();
        match candidates.first() {
            Some(w)
                if candidates.len() >= quorum
                    || st.nodes.iter().filter(|n| n.state == ProcState::Running).count() >= quorum =>
            {
                out.expected_winner = Some(Winner {
                    node: w.name.clone(),
                    position: w.position.unwrap_or(-1),
                    weight: cfg.node(&w.name).map_or(1, |c| c.weight),
                });
                let _ = writeln!(
                    s,
                    "  3. Expected winner: {} (position {}, weight {}): highest position, then weight, then oldest znode.",
                    w.name,
                    w.position.unwrap_or(-1),
                    cfg.node(&w.name).map_or(1, |c| c.weight)
                );
                let _ = writeln!(
                    s,
                    "  4. It binds its replication port, waits for {} slave(s) to catch up, then opens its client ports.",
                    cfg.cluster.replicas / 2
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "  3. Fewer than {quorum} members are left: no master can be elected (service outage) until one returns."
                );
            }
        }
    }
    out.should_happen = s.lines().map(str::to_string).collect();
    out.happened = after
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::ZnodeDeleted
                    | EventKind::Election
                    | EventKind::Demoted
                    | EventKind::Serving
                    | EventKind::SessionExpired
            )
        })
        .map(|e| Happening {
            after_ms: e.ts.saturating_sub(fault.ts),
            source: e.source.clone(),
            kind: e.kind.clone(),
            message: e.message.clone(),
        })
        .collect();
    if let Some(serving) = after.iter().find(|e| e.kind == EventKind::Serving && e.source != victim) {
        let took = serving.ts.saturating_sub(fault.ts);
        let expected_max = (session + tick + Duration::from_secs(1)).as_millis() as u64;
        out.serves_again = Some(ServesAgain {
            node: serving.source.clone(),
            after_ms: took,
            as_expected: fault.kind == EventKind::Stopping || took <= expected_max,
        });
    }
    out
}

/// Prints the explanation of the last fault; with `wait`, first waits (bounded) until
/// another node serves.
pub async fn run(cfg: &Config, wait: bool) -> Result<Explanation> {
    let dir = cfg.state_dir();
    let path = dir.join(crate::state_dir::EVENTS);
    if wait {
        let session = crate::zookeeper::negotiated_timeout(cfg);
        let t0 = std::time::Instant::now();
        loop {
            let (events, _) = read_from(&path, 0)?;
            let Some(i) = last_fault(&events) else { break };
            let victim = victim_of(&events[i]);
            // A ZooKeeper fault may move no master at all: wait less for it.
            let is_zk = cfg.zookeeper.servers.iter().any(|s| s.name == victim);
            let limit = if is_zk { session * 2 } else { session * 3 + Duration::from_secs(5) };
            if t0.elapsed() > limit || events[i + 1..].iter().any(|e| e.kind == EventKind::Serving) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let (events, _) = read_from(&path, 0)?;
    let st = crate::control::status(&dir).await?;
    Ok(explain(cfg, &events, &st))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ev;

    fn node(name: &str, position: i64) -> serde_json::Value {
        serde_json::json!({
            "name": name, "state": "running", "role": "slave", "pid": 1,
            "ports": {"openwire": 1, "stomp": 2, "console": 3, "replication": 4},
            "position": position, "znode": format!("0000000000{}", &name[5..]), "session": null,
            "master": null, "address": null, "serving": false, "replication": null, "slaves": [],
            "partitioned": null, "store": null, "log": ""
        })
    }

    /// The text and the JSON come from one `Explanation`: a kill of the master, predicted and seen.
    #[test]
    fn a_master_kill_is_explained_the_same_in_text_and_json() {
        let cfg = Config::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cluster.toml")).unwrap();
        let events = vec![
            ev(1_000, "node01", "serving", "node01 accepts clients"),
            ev(5_000, "supervisor", "killed", "node01 (pid 7) killed (SIGKILL)"),
            ev(7_000, "supervisor", "znode-deleted", "znode /activemq/leveldb-stores/00000000000 (node01) deleted"),
            ev(7_500, "node02", "serving", "node02 accepts clients"),
        ];
        let st: ClusterStatus = serde_json::from_value(serde_json::json!({
            "broker_name": "localhost", "zk_path": "/activemq/leveldb-stores", "master": null,
            "failover_url": "", "supervisor_pid": 1, "state_dir": "", "zookeeper": [],
            "nodes": [node("node02", 100), node("node03", 50)],
        }))
        .unwrap();
        let x = explain(&cfg, &events, &st);
        let f = x.fault.as_ref().unwrap();
        assert_eq!((f.victim.as_str(), f.was.as_str(), f.kind.as_str()), ("node01", "master", "killed"));
        assert_eq!(x.expected_winner.as_ref().unwrap().node, "node02");
        assert_eq!(x.happened.len(), 2);
        let again = x.serves_again.as_ref().unwrap();
        assert_eq!((again.node.as_str(), again.after_ms, again.as_expected), ("node02", 2_500, true));
        let text = x.render();
        assert!(text.contains("(it was the master).\n\nWhat should happen:\n  1. Nothing tells ZooKeeper"), "{text}");
        assert!(text.contains("  3. Expected winner: node02 (position 100, weight 1)"), "{text}");
        assert!(text.contains("  +2.00 s   supervisor znode /activemq"), "{text}");
        assert!(text.ends_with("\nnode02 serves again 2.50 s after the fault: as expected.\n"), "{text}");
        let json = serde_json::to_value(&x).unwrap();
        assert_eq!(json["happened"][1]["kind"], "serving");
        assert_eq!(json["should_happen"][0].as_str().unwrap(), text.lines().nth(3).unwrap());
    }

    #[test]
    fn what_the_victim_was_is_spelled_as_documented() {
        crate::status::pin_spelling(Was::KNOWN, &["master", "zookeeper", "elector", "other"], "`fault.was`");
    }

    #[test]
    fn the_elector_is_named_from_the_last_election() {
        let events = vec![
            ev(1, "node02", "election", "elector node02 set elected=0000000004 (highest position)"),
            ev(2, "node03", "serving", "node03 accepts clients"),
            ev(3, "node02", "election", "elector node02 cleared elected (no master)"),
            ev(4, "supervisor", "killed", "node02 (pid 7) killed (SIGKILL)"),
        ];
        assert_eq!(elector_before(&events, 3), Some("node02"));
        assert_eq!(master_before(&events, 3), Some("node03"));
        assert_eq!(elector_before(&events[1..], 1), None, "no election seen");
    }
}
