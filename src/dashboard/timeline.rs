//! The dashboard's event timeline: `events.jsonl` read incrementally, each event annotated
//! with the failover it ends (if any), streamed to browsers as server-sent events.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{Response, StatusCode, header};
use serde::Serialize;

use crate::events::{Event, EventKind, clock};
use crate::web::Body;

/// Events a fresh page or stream starts with.
pub const BACKLOG: usize = 60;
const POLL: Duration = Duration::from_millis(200);
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Tracks who is master along the timeline and times each failover: from the event that
/// took the master away (killed, stopped, paused, crashed, stepped down) to the next
/// master's `promoted` (elected) and `serving` (accepting clients) events.
#[derive(Debug, Default)]
pub struct Annotator {
    master: Option<String>,
    outage: Option<(u64, String)>,
}

/// One event as the page gets it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Annotated {
    /// Byte offset in events.jsonl just after this event (the SSE id).
    pub offset: u64,
    pub ts: u64,
    pub time: String,
    pub source: String,
    pub kind: EventKind,
    pub message: String,
    /// `failover 2.4 s (node01 killed → node02 serving)` and the like.
    pub note: Option<String>,
    /// Set on the event that ends a failover (the new master serving): its duration.
    pub failover_ms: Option<u64>,
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

impl Annotator {
    pub fn annotate(&mut self, e: &Event, offset: u64) -> Annotated {
        let mut note = None;
        let mut failover_ms = None;
        match e.kind {
            EventKind::Promoted => {
                if let Some((t, cause)) = &self.outage {
                    note = Some(format!("{} elected {} after {cause}", e.source, secs(e.ts.saturating_sub(*t))));
                }
                self.master = Some(e.source.clone());
            }
            EventKind::Serving => {
                if let Some((t, cause)) = self.outage.take() {
                    let ms = e.ts.saturating_sub(t);
                    note = Some(format!("failover {} ({cause} → {} serving)", secs(ms), e.source));
                    failover_ms = Some(ms);
                }
                self.master = Some(e.source.clone());
            }
            EventKind::Killed | EventKind::Stopping | EventKind::Paused | EventKind::Crashed
                if e.source == "supervisor" =>
            {
                let name = e.about();
                if self.master.as_deref() == Some(name) && self.outage.is_none() {
                    self.outage = Some((e.ts, format!("{name} {}", e.kind)));
                    self.master = None;
                }
            }
            EventKind::Demoted if self.master.as_deref() == Some(e.source.as_str()) => {
                self.outage = Some((e.ts, format!("{} stepped down", e.source)));
                self.master = None;
            }
            EventKind::Down | EventKind::Up if e.source == "supervisor" => *self = Annotator::default(),
            _ => {}
        }
        Annotated {
            offset,
            ts: e.ts,
            time: clock(e.ts),
            source: e.source.clone(),
            kind: e.kind.clone(),
            message: e.message.clone(),
            note,
            failover_ms,
        }
    }
}

/// Reads complete lines from `offset` on: each event with the offset after its line, and
/// the new offset. A file shorter than `offset` (replaced) is read from the start.
pub fn read_new(path: &Path, offset: u64) -> (Vec<(Event, u64)>, u64) {
    let Ok(mut f) = std::fs::File::open(path) else { return (Vec::new(), offset) };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = if len < offset { 0 } else { offset };
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_end(&mut buf).is_err() {
        return (Vec::new(), offset);
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    while let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') {
        let line = &buf[pos..pos + nl];
        pos += nl + 1;
        if let Ok(e) = serde_json::from_slice::<Event>(line) {
            out.push((e, start + pos as u64));
        }
    }
    (out, start + pos as u64)
}

/// The whole timeline so far, annotated: the last `keep` events, the annotator state at
/// the end, and the end offset. Events after `until` (if given) are not read.
pub fn history(path: &Path, keep: usize, until: Option<u64>) -> (Vec<Annotated>, Annotator, u64) {
    let (events, end) = read_new(path, 0);
    let mut ann = Annotator::default();
    let mut kept = VecDeque::new();
    let mut last = 0;
    for (e, off) in events {
        if until.is_some_and(|u| off > u) {
            break;
        }
        last = off;
        kept.push_back(ann.annotate(&e, off));
        if kept.len() > keep {
            kept.pop_front();
        }
    }
    let end = if until.is_some() { last } else { end };
    (kept.into(), ann, end)
}

fn sse_frame(a: &Annotated) -> Bytes {
    let data = serde_json::to_string(a).expect("serializes");
    Bytes::from(format!("id: {}\ndata: {data}\n\n", a.offset))
}

struct Tail {
    path: PathBuf,
    offset: u64,
    ann: Annotator,
    queue: VecDeque<Bytes>,
    quiet: Duration,
}

/// `GET /events`: the last [`BACKLOG`] events (or those after `from`, the offset a page
/// rendered up to, or the browser's `Last-Event-ID`), then every new event as it is written.
pub fn sse(path: PathBuf, from: Option<u64>) -> Response<Body> {
    let mut queue = VecDeque::new();
    let (ann, offset) = match from {
        None => {
            let (events, ann, end) = history(&path, BACKLOG, None);
            queue.extend(events.iter().map(sse_frame));
            (ann, end)
        }
        Some(from) => {
            let (_, ann, end) = history(&path, 0, Some(from));
            (ann, end)
        }
    };
    // Tell the browser to reconnect quickly after a drop.
    queue.push_front(Bytes::from_static(b"retry: 1000\n\n"));
    let tail = Tail { path, offset, ann, queue, quiet: Duration::ZERO };
    let stream = futures::stream::unfold(tail, |mut t| async move {
        loop {
            if let Some(b) = t.queue.pop_front() {
                t.quiet = Duration::ZERO;
                return Some((b, t));
            }
            let (events, end) = read_new(&t.path, t.offset);
            t.offset = end;
            for (e, off) in events {
                let a = t.ann.annotate(&e, off);
                t.queue.push_back(sse_frame(&a));
            }
            if t.queue.is_empty() {
                if t.quiet >= KEEPALIVE {
                    t.quiet = Duration::ZERO;
                    return Some((Bytes::from_static(b": keepalive\n\n"), t));
                }
                tokio::time::sleep(POLL).await;
                t.quiet += POLL;
            }
        }
    });
    let body = StreamBody::new(stream.map(|b| Ok::<_, Infallible>(Frame::data(b)))).boxed_unsync();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-accel-buffering", "no")
        .body(body)
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ev;

    #[test]
    fn failover_is_timed_from_the_kill_to_the_new_master_serving() {
        let mut a = Annotator::default();
        assert_eq!(a.annotate(&ev(1000, "node01", "promoted", "node01 is master"), 1).note, None);
        assert_eq!(a.annotate(&ev(1100, "node01", "serving", "node01 accepts clients"), 2).note, None);
        // A slave killed is no failover.
        a.annotate(&ev(1500, "supervisor", "killed", "node03 (pid 9) killed (SIGKILL)"), 3);
        a.annotate(&ev(2000, "supervisor", "killed", "node01 (pid 7) killed (SIGKILL)"), 4);
        let p = a.annotate(&ev(4400, "node02", "promoted", "node02 is master"), 5);
        assert_eq!(p.note.as_deref(), Some("node02 elected 2.4 s after node01 killed"));
        let s = a.annotate(&ev(4600, "node02", "serving", "node02 accepts clients"), 6);
        assert_eq!(s.failover_ms, Some(2600));
        assert_eq!(s.note.as_deref(), Some("failover 2.6 s (node01 killed → node02 serving)"));
        // Stepping down (lost ZooKeeper) starts one too.
        a.annotate(&ev(5000, "node02", "demoted", "node02 stepped down"), 7);
        let s = a.annotate(&ev(6000, "node03", "serving", "node03 accepts clients"), 8);
        assert_eq!(s.failover_ms, Some(1000));
    }

    #[test]
    fn reads_complete_lines_incrementally() {
        let dir = tempfile::tempdir().unwrap();
        let log = crate::events::EventLog::new(dir.path(), "node01");
        log.emit(EventKind::Promoted, "node01 is master");
        let (first, off) = read_new(log.path(), 0);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1, off);
        log.emit(EventKind::Serving, "node01 accepts clients");
        let (next, off2) = read_new(log.path(), off);
        assert_eq!(next.len(), 1);
        assert!(off2 > off);
        let (all, ann, end) = history(log.path(), 1, None);
        assert_eq!((all.len(), end), (1, off2));
        assert_eq!(ann.master.as_deref(), Some("node01"));
        let (_, _, upto) = history(log.path(), 0, Some(off));
        assert_eq!(upto, off);
    }
}
