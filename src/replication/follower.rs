//! The slave's decisions as a plain state machine: no I/O, no clock, no async.
//!
//! Like the elector ([`crate::election::Elector::step`]), a [`Follower`] is stepped with
//! what happened ([`Event`]: the master's checked `ok`, a finished cut of the store, a group
//! of frames received, a lost connection) and answers what the I/O layer must do
//! ([`Action`]: cut or clear the store, append these bytes at this position, fsync, ack,
//! publish the phase, log, close the connection). [`super::slave`] only dials, logs in,
//! reads frames, feeds them here and performs the answers in order, stopping at the first
//! that fails; the next connection starts from whatever the store then holds.
//!
//! What it knows: the phase `mqsim status` shows (`connecting`, `attaching`, `attached`),
//! its journal end (`position`), and the master's end at login (`master_end`). Its rules:
//!
//! 1. At login the master answers `from` (and maybe `keep`): with `keep`, an incremental
//!    resync cuts the journal at `from`; without it, `from` below our end means the master
//!    holds nothing of ours past 0 we could keep (we diverged or are ahead), so the store is
//!    cleared; otherwise we go on from our own end. A cut or a clear first reports where
//!    the journal ends ([`Event::Cut`]); only then is the slave `attaching` (or `attached`
//!    if it already holds the master's end).
//! 2. Every `wal` range must start where the previous one ended, except that the start of a
//!    later log file (`offset 0`) may jump a hole the master collected. Anything else — a
//!    gap, an overlap, a repeat, a frame other than `wal` — closes the connection before a
//!    byte of that group is written; the next login starts again from the store's end.
//! 3. A group of ranges is appended, fsynced once if any range asks for it, and acked once
//!    at its end; reaching the master's end at login turns `attaching` into `attached`.

use bytes::Bytes;

use super::wire::Frame;

/// What `mqsim status` shows as a slave's `replication`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Phase {
    /// No stream yet: dialing, logging in, or cutting the store for a resync.
    #[default]
    Connecting,
    /// Streaming, not yet at the master's end at login.
    Attaching,
    /// Streaming and caught up with the master's end at login.
    Attached,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Attaching => "attaching",
            Phase::Attached => "attached",
        }
    }
}

/// What happened, as the I/O layer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The master's `ok` checked out (its proof, and `from` against our login). `position`
    /// is our journal end we logged in with.
    LoggedIn { position: u64, from: u64, master_end: u64, keep: Option<Vec<u64>> },
    /// The store was cut (or cleared) as asked: the journal now ends at `position`.
    Cut { position: u64 },
    /// Frames received after the login, in order, to be applied as one group.
    Received(Vec<Frame>),
    /// The connection ended (closed, failed, refused); the link dials again.
    Disconnected,
}

/// What the I/O layer must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Incremental resync: cut the journal at `from`, keep exactly the log files `keep`,
    /// rebuild; then step [`Event::Cut`] with the journal's end. `position` is where it was.
    Resync { from: u64, keep: Vec<u64>, position: u64 },
    /// Clear the store to take the master's live log files; then step [`Event::Cut`].
    Clear,
    /// Publish the phase and the master's end at login (the status report).
    Report { phase: Phase, master_end: u64 },
    /// Log that the stream starts at `position` (the `slave-attaching` event).
    Attaching { position: u64, master_end: u64 },
    /// Append `payload` (whole records) to log file `file` at journal position `position`.
    Append { file: u64, position: u64, payload: Bytes },
    /// Fsync the journal.
    Sync,
    /// Send `ack {position}`.
    Ack { position: u64 },
    /// Log that the master's end at login is reached (the `slave-attached` event).
    CaughtUp { position: u64 },
    /// Close the connection with this error.
    Close { reason: String },
}

/// Where the follower is in one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not logged in.
    Offline,
    /// Logged in, waiting for the store to be cut.
    Cutting,
    /// Taking `wal` frames.
    Streaming,
}

/// The slave's state machine (module docs).
#[derive(Debug, Clone)]
pub struct Follower {
    phase: Phase,
    stage: Stage,
    /// Our journal end as far as the machine has asked for it.
    position: u64,
    /// The master's journal end at the last login.
    master_end: u64,
}

impl Default for Follower {
    fn default() -> Follower {
        Follower::new()
    }
}

impl Follower {
    pub fn new() -> Follower {
        Follower { phase: Phase::Connecting, stage: Stage::Offline, position: 0, master_end: 0 }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn master_end(&self) -> u64 {
        self.master_end
    }

    pub fn step(&mut self, event: Event) -> Vec<Action> {
        match event {
            Event::LoggedIn { position, from, master_end, keep } => {
                self.position = position;
                self.master_end = master_end;
                match keep {
                    Some(keep) => {
                        self.stage = Stage::Cutting;
                        vec![Action::Resync { from, keep, position }]
                    }
                    None if from < position => {
                        self.stage = Stage::Cutting;
                        vec![Action::Clear]
                    }
                    None => self.stream(),
                }
            }
            Event::Cut { position } if self.stage == Stage::Cutting => {
                self.position = position;
                self.stream()
            }
            Event::Cut { .. } => vec![self.close("the store was cut while no resync was asked for".into())],
            Event::Received(frames) => self.received(frames),
            Event::Disconnected => {
                self.stage = Stage::Offline;
                self.phase = Phase::Connecting;
                vec![self.report()]
            }
        }
    }

    fn report(&self) -> Action {
        Action::Report { phase: self.phase, master_end: self.master_end }
    }

    fn close(&mut self, reason: String) -> Action {
        self.stage = Stage::Offline;
        Action::Close { reason }
    }

    /// Rule 1: the stream starts at `position`.
    fn stream(&mut self) -> Vec<Action> {
        self.stage = Stage::Streaming;
        self.phase = if self.position >= self.master_end { Phase::Attached } else { Phase::Attaching };
        vec![self.report(), Action::Attaching { position: self.position, master_end: self.master_end }]
    }

    /// Rules 2 and 3.
    fn received(&mut self, frames: Vec<Frame>) -> Vec<Action> {
        if self.stage != Stage::Streaming {
            let what = frames.first().map(Frame::action).unwrap_or("nothing");
            return vec![self.close(format!("unexpected `{what}` from master before the stream started"))];
        }
        let mut wals = Vec::with_capacity(frames.len());
        for frame in frames {
            match frame {
                Frame::Wal(wal, payload) => wals.push((wal, payload)),
                other => return vec![self.close(format!("unexpected frame from master: {other:?}"))],
            }
        }
        if wals.is_empty() {
            return Vec::new();
        }
        let mut expect = self.position;
        for (wal, _) in &wals {
            // The start of a later log file is a hole the master collected.
            let hole = wal.offset == 0 && wal.file > expect;
            if wal.position() != expect && !hole {
                return vec![self.close(format!("gap: expected {expect}, got {}", wal.position()))];
            }
            expect = wal.position() + wal.length;
        }
        let sync = wals.iter().any(|(wal, _)| wal.sync);
        let mut actions: Vec<Action> = wals
            .into_iter()
            .map(|(wal, payload)| Action::Append { file: wal.file, position: wal.position(), payload })
            .collect();
        if sync {
            actions.push(Action::Sync);
        }
        self.position = expect;
        actions.push(Action::Ack { position: expect });
        if self.phase == Phase::Attaching && expect >= self.master_end {
            self.phase = Phase::Attached;
            actions.push(self.report());
            actions.push(Action::CaughtUp { position: expect });
        }
        actions
    }
}

#[cfg(test)]
mod tests;
