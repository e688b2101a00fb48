//! The cluster's event timeline: one JSON object per line in `<stateDir>/events.jsonl`.
//!
//! The supervisor and every broker append to the same file (each line is one `write` on an
//! `O_APPEND` descriptor, so lines from different processes never interleave). `mqsim
//! events` reads it back; the cause chain of a failover reads top to bottom:
//! `killed` → `znode-deleted` (session expired) → `elected` → `promoted`.
//!
//! An event's `kind` is an [`EventKind`]: on the wire its documented string (docs/cli.md,
//! "Values"); a kind this build does not know (a timeline written by another version) reads
//! as `EventKind::Unknown` and is shown as written.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::status::wire_enum;

wire_enum! {
    /// What happened, in one word. Grouped by who records it.
    pub enum EventKind {
        // The supervisor: itself.
        Up = "up",
        Down = "down",
        Dashboard = "dashboard",
        ZkServing = "zk-serving",
        // The supervisor: a process (the event's `subject`).
        Started = "started",
        Exited = "exited",
        Crashed = "crashed",
        Killed = "killed",
        Paused = "paused",
        Resumed = "resumed",
        Stopping = "stopping",
        Partitioned = "partitioned",
        Healed = "healed",
        ZnodeDeleted = "znode-deleted",
        // A broker: its life and store.
        Stopped = "stopped",
        StoreDamaged = "store-damaged",
        StoreQuarantine = "store-quarantine",
        Gc = "gc",
        // A broker: ZooKeeper and the election.
        ZkConnected = "zk-connected",
        ZkDisconnected = "zk-disconnected",
        ZkReconnected = "zk-reconnected",
        SessionExpired = "session-expired",
        Registered = "registered",
        Election = "election",
        Waiting = "waiting",
        Elected = "elected",
        Promoted = "promoted",
        Demoted = "demoted",
        CaughtUp = "caught-up",
        Serving = "serving",
        // A broker: replication.
        Slave = "slave",
        SlaveStopped = "slave-stopped",
        SlaveAttaching = "slave-attaching",
        SlaveAttached = "slave-attached",
        Resync = "resync",
        Resynced = "resynced",
        // Clients (the dashboard's load, chaos).
        ClientConnected = "client-connected",
        ClientReconnected = "client-reconnected",
        // Anyone.
        Warning = "warning",
        Error = "error",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub ts: u64,
    /// `supervisor`, `zookeeper`, or a node name.
    pub source: String,
    /// Short machine-readable kind: `killed`, `znode-deleted`, `elected`, `promoted`, ...
    pub kind: EventKind,
    pub message: String,
    /// The process a supervisor event is about (`node02` for `killed`, a znode's owner for
    /// `znode-deleted`), so readers need not parse `message`. Absent on older timelines and
    /// on events about their own source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Event {
    /// What the event is about: its `subject`, else (an older timeline) its message's first word.
    pub fn about(&self) -> &str {
        self.subject.as_deref().unwrap_or_else(|| self.message.split_whitespace().next().unwrap_or(""))
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Appends events to one cluster's timeline.
#[derive(Debug, Clone)]
pub struct EventLog {
    path: PathBuf,
    source: String,
}

impl EventLog {
    pub fn new(state_dir: &Path, source: &str) -> EventLog {
        EventLog { path: state_dir.join(crate::state_dir::EVENTS), source: source.to_string() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records an event (and mirrors it to the process log). Failures are logged, not fatal:
    /// the timeline must never take a broker down.
    pub fn emit(&self, kind: EventKind, message: impl Into<String>) {
        self.record(kind, None, message.into());
    }

    /// Records an event about another process (`subject`): the supervisor's faults and
    /// process changes, a znode's deletion.
    pub fn emit_about(&self, kind: EventKind, subject: &str, message: impl Into<String>) {
        self.record(kind, Some(subject.to_string()), message.into());
    }

    fn record(&self, kind: EventKind, subject: Option<String>, message: String) {
        // Every kind mqsim records is a named variant (emit takes an EventKind, so the
        // compiler checks it); `Unknown` is for reading other builds' files, never for writing.
        debug_assert!(!matches!(kind, EventKind::Unknown(_)), "event kind {kind} is not in EventKind");
        tracing::info!(event = kind.as_str(), "{message}");
        let event = Event { ts: now_ms(), source: self.source.clone(), kind, message, subject };
        let mut line = serde_json::to_vec(&event).expect("event serializes");
        line.push(b'\n');
        let res =
            std::fs::OpenOptions::new().create(true).append(true).open(&self.path).and_then(|mut f| f.write_all(&line));
        if let Err(e) = res {
            tracing::warn!("cannot append to {}: {e}", self.path.display());
        }
    }
}

/// Reads the events from byte `offset` on; returns them and the offset after the last full line.
pub fn read_from(path: &Path, offset: u64) -> Result<(Vec<Event>, u64)> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()))(e)),
    };
    let start = (offset as usize).min(data.len());
    let end = data[start..].iter().rposition(|&b| b == b'\n').map_or(start, |i| start + i + 1);
    let events = data[start..end]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    Ok((events, end as u64))
}

/// `HH:MM:SS.mmm` in UTC, for the timeline.
pub fn clock(ts_ms: u64) -> String {
    let secs = ts_ms / 1000;
    format!("{:02}:{:02}:{:02}.{:03}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60, ts_ms % 1000)
}

/// An event as a test writes it (no subject: [`Event::about`] falls back to the message).
#[cfg(test)]
pub(crate) fn ev(ts: u64, source: &str, kind: impl Into<EventKind>, message: &str) -> Event {
    Event { ts, source: source.into(), kind: kind.into(), message: message.into(), subject: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A supervisor event names its subject; a line from an older timeline (no `subject`)
    /// still reads, and falls back to the message's first word.
    #[test]
    fn an_event_says_what_it_is_about() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(dir.path(), "supervisor");
        log.emit_about(EventKind::Killed, "node02", "node02 (pid 7) killed (SIGKILL)");
        log.emit(EventKind::Down, "supervisor exited; no process left");
        let mut f = std::fs::OpenOptions::new().append(true).open(log.path()).unwrap();
        f.write_all(
            b"{\"ts\":1,\"source\":\"supervisor\",\"kind\":\"paused\",\"message\":\"node03 (pid 9) paused\"}\n",
        )
        .unwrap();
        let (events, _) = read_from(log.path(), 0).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].subject.as_deref(), Some("node02"));
        assert_eq!(events[1].subject, None);
        assert_eq!(events[2].about(), "node03");
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(text.lines().nth(1).is_some_and(|l| !l.contains("subject")), "no subject, no field: {text}");
    }

    #[test]
    fn an_event_kind_is_spelled_as_documented() {
        let spelled = [
            "up",
            "down",
            "dashboard",
            "zk-serving",
            "started",
            "exited",
            "crashed",
            "killed",
            "paused",
            "resumed",
            "stopping",
            "partitioned",
            "healed",
            "znode-deleted",
            "stopped",
            "store-damaged",
            "store-quarantine",
            "gc",
            "zk-connected",
            "zk-disconnected",
            "zk-reconnected",
            "session-expired",
            "registered",
            "election",
            "waiting",
            "elected",
            "promoted",
            "demoted",
            "caught-up",
            "serving",
            "slave",
            "slave-stopped",
            "slave-attaching",
            "slave-attached",
            "resync",
            "resynced",
            "client-connected",
            "client-reconnected",
            "warning",
            "error",
        ];
        crate::status::pin_spelling(EventKind::KNOWN, &spelled, "`events`: `kind`");
    }

    /// A timeline written by another version: a kind this build does not know reads as
    /// `Unknown`, shows as written, and every line keeps its bytes through the types.
    #[test]
    fn a_timeline_with_an_unknown_kind_reads_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            r#"{"ts":1,"source":"node01","kind":"serving","message":"node01 accepts clients"}"#,
            r#"{"ts":2,"source":"node01","kind":"fenced","message":"node01 fenced by its peers"}"#,
            r#"{"ts":3,"source":"supervisor","kind":"killed","message":"node01 (pid 7) killed (SIGKILL)","subject":"node01"}"#,
        ];
        std::fs::write(dir.path().join("events.jsonl"), lines.join("\n") + "\n").unwrap();
        let (events, _) = read_from(&dir.path().join("events.jsonl"), 0).unwrap();
        assert_eq!(events.len(), 3, "no line is dropped");
        assert_eq!(events[0].kind, EventKind::Serving);
        assert_eq!(events[1].kind, EventKind::Unknown("fenced".into()));
        assert_eq!(format!("{:<8}|", events[1].kind), "fenced  |", "shown as written, padded like a string");
        assert_eq!(events[2].kind, EventKind::Killed);
        for (e, line) in events.iter().zip(lines) {
            assert_eq!(serde_json::to_string(e).unwrap(), line);
        }
    }

    /// A kind mqsim itself records is always one it names: writing an `Unknown` one panics
    /// in the debug builds the tests run.
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "event kind fenced is not in EventKind")]
    fn recording_a_misspelled_kind_is_caught_in_debug_builds() {
        let dir = tempfile::tempdir().unwrap();
        EventLog::new(dir.path(), "node01").emit(EventKind::Unknown("fenced".into()), "node01 fenced");
    }

    #[test]
    fn append_and_read_back_incrementally() {
        let dir = tempfile::tempdir().unwrap();
        let a = EventLog::new(dir.path(), "node01");
        let b = EventLog::new(dir.path(), "supervisor");
        a.emit(EventKind::Promoted, "node01 is master");
        let (first, off) = read_from(a.path(), 0).unwrap();
        assert_eq!(first.len(), 1);
        b.emit(EventKind::Killed, "node01 SIGKILL");
        let (next, _) = read_from(a.path(), off).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].source, "supervisor");
        assert_eq!(next[0].kind, EventKind::Killed);
    }
}
