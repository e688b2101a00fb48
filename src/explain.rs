//! `mqsim explain`: what should happen after the last fault, and whether it did.
//!
//! The prediction uses the configuration (negotiated session timeout, tickTime, replicas)
//! and the election rule (highest position, then weight, then the oldest member); the check
//! reads the event timeline that followed the fault.

use std::fmt::Write;
use std::time::Duration;

use crate::config::Config;
use crate::error::Result;
use crate::events::{Event, clock, read_from};
use crate::status::ClusterStatus;

/// The fault kinds on the timeline an explanation starts from.
const FAULTS: [&str; 6] = ["killed", "paused", "partitioned", "stopping", "crashed", "resumed"];

fn secs(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

/// The last fault on the timeline. One command can hit several targets (`resume nodes`):
/// among the faults of that burst, the one that hit the master (else the last) is explained.
fn last_fault(events: &[Event]) -> Option<usize> {
    let is_fault = |e: &Event| e.source == "supervisor" && FAULTS.contains(&e.kind.as_str());
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
        .find(|e| e.kind == "serving" || e.kind == "demoted")
        .filter(|e| e.kind == "serving")
        .map(|e| e.source.as_str())
}

/// The elector just before event `j`: the node of the last `election` event that set
/// `elected` (the elector that elected the current master).
fn elector_before(events: &[Event], j: usize) -> Option<&str> {
    events[..j]
        .iter()
        .rev()
        .find(|e| e.kind == "election" && e.message.contains(" set elected="))
        .map(|e| e.source.as_str())
}

/// The process a supervisor fault event names (its first word).
fn victim_of(e: &Event) -> &str {
    e.message.split_whitespace().next().unwrap_or("?")
}

/// Builds the explanation of the last fault in `events` for a cluster in state `st`.
pub fn explain(cfg: &Config, events: &[Event], st: &ClusterStatus) -> String {
    let Some(i) = last_fault(events) else {
        return "No fault on the timeline yet. Try `mqsim kill master --explain`.\n".into();
    };
    let fault = &events[i];
    let after = &events[i + 1..];
    let victim = victim_of(fault).to_string();
    let session = crate::zookeeper::negotiated_timeout(cfg);
    let tick = Duration::from_millis(cfg.zookeeper.tick_time);
    let was_master = master_before(events, i) == Some(victim.as_str());
    let is_zk = cfg.zookeeper.servers.iter().any(|s| s.name == victim);
    let was_elector = !was_master && !is_zk && elector_before(events, i) == Some(victim.as_str());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Fault at {}: {} ({}).",
        clock(fault.ts),
        fault.message,
        if was_master {
            "it was the master"
        } else if is_zk {
            "a ZooKeeper server"
        } else if was_elector {
            "the elector, not the master"
        } else {
            "not the master"
        }
    );
    let _ = writeln!(s, "\nWhat should happen:");
    // The session timer restarts at the client's last heart-beat (sent every third of the
    // timeout), and the servers check expiry once per tick.
    let window =
        format!("{}–{}", secs((session * 2 / 3).as_millis() as u64), secs((session + tick).as_millis() as u64));
    match fault.kind.as_str() {
        _ if is_zk => {
            let _ = writeln!(
                s,
                "  1. The remaining ZooKeeper servers elect a new leader (about 0.35 s here) if two of three are left; \
                brokers connected to {victim} reconnect to another server. A master whose connection dropped steps down (ActiveMQ did), then a new election follows."
            );
        }
        "killed" | "crashed" => {
            let _ = writeln!(
                s,
                "  1. Nothing tells ZooKeeper that {victim} died: its ephemeral znode stays until its session expires, \
                zkSessionTimeout {} as granted by the servers, counted from its last heart-beat and checked once per tickTime ({}) → about {window} after the kill.",
                secs(session.as_millis() as u64),
                secs(tick.as_millis() as u64)
            );
        }
        "stopping" => {
            let _ = writeln!(s, "  1. A clean stop closes {victim}'s ZooKeeper session: its znode is deleted at once.");
        }
        "paused" => {
            let _ = writeln!(
                s,
                "  1. Frozen, {victim} sends no heart-beats: the servers expire its session after about {window} and delete its znode."
            );
            let _ = writeln!(
                s,
                "     When resumed, its master lease (2/3 of the session) has lapsed: it acknowledges no write and steps down."
            );
        }
        "partitioned" => {
            let _ = writeln!(
                s,
                "  1. Cut off, {victim}'s ZooKeeper client times out after about {} and the node steps down at once; \
                the servers expire its session after about {window}.",
                secs((session * 2 / 3).as_millis() as u64)
            );
        }
        "resumed" => {
            let _ = writeln!(
                s,
                "  1. {victim} runs again; if it was a frozen master its lease has lapsed, so it refuses writes and steps down."
            );
        }
        _ => {}
    }
    if !is_zk && (was_master || fault.kind != "resumed") {
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
        let mut candidates: Vec<_> = st.nodes.iter().filter(|n| n.name != victim && n.state == "running").collect();
        candidates.sort_by_key(|n| {
            let w = cfg.node(&n.name).map_or(1, |c| c.weight);
            (std::cmp::Reverse(n.position.unwrap_or(-1)), std::cmp::Reverse(w), n.znode.clone())
        });
        let quorum = cfg.quorum();
        match candidates.first() {
            Some(w)
                if candidates.len() >= quorum || st.nodes.iter().filter(|n| n.state == "running").count() >= quorum =>
            {
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
    let _ = writeln!(s, "\nWhat happened:");
    let rel = |e: &Event| secs(e.ts.saturating_sub(fault.ts));
    let mut any = false;
    for e in after
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "znode-deleted" | "election" | "demoted" | "serving" | "session-expired"))
    {
        let _ = writeln!(s, "  +{:<8} {:<10} {}", rel(e), e.source, e.message);
        any = true;
    }
    if !any {
        let _ = writeln!(s, "  nothing yet (run `mqsim explain` again, or `mqsim events -f`)");
    }
    if let Some(serving) = after.iter().find(|e| e.kind == "serving" && e.source != victim) {
        let took = serving.ts.saturating_sub(fault.ts);
        let expected_max = (session + tick + Duration::from_secs(1)).as_millis() as u64;
        let verdict =
            if fault.kind == "stopping" || took <= expected_max { "as expected" } else { "slower than expected" };
        let _ = writeln!(s, "\n{} serves again {} after the fault: {verdict}.", serving.source, secs(took));
    }
    s
}

/// Prints the explanation of the last fault; with `wait`, first waits (bounded) until
/// another node serves.
pub async fn run(cfg: &Config, wait: bool) -> Result<String> {
    let dir = cfg.state_dir();
    let path = dir.join("events.jsonl");
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
            if t0.elapsed() > limit || events[i + 1..].iter().any(|e| e.kind == "serving") {
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

    fn ev(ts: u64, source: &str, kind: &str, message: &str) -> Event {
        Event { ts, source: source.into(), kind: kind.into(), message: message.into() }
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
