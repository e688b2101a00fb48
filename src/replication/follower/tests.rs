//! The follower's rules driven event by event, as the slave's loop would.

use super::*;
use crate::replication::wire::{Ack, Wal};

fn wal(file: u64, offset: u64, bytes: &'static [u8], sync: bool) -> Frame {
    Frame::Wal(Wal { file, offset, length: bytes.len() as u64, sync }, Bytes::from_static(bytes))
}

fn logged_in(position: u64, from: u64, master_end: u64) -> Event {
    Event::LoggedIn { position, from, master_end, keep: None }
}

/// A follower streaming from `position`, the master at `master_end`.
fn streaming(position: u64, master_end: u64) -> Follower {
    let mut f = Follower::new();
    f.step(logged_in(position, position, master_end));
    f
}

fn is_close(actions: &[Action]) -> Option<&str> {
    match actions {
        [Action::Close { reason }] => Some(reason),
        _ => None,
    }
}

#[test]
fn starts_connecting() {
    let f = Follower::new();
    assert_eq!((f.phase(), f.position(), f.master_end()), (Phase::Connecting, 0, 0));
    assert_eq!(Phase::Connecting.name(), "connecting");
    assert_eq!(Phase::Attaching.name(), "attaching");
    assert_eq!(Phase::Attached.name(), "attached");
}

#[test]
fn a_prefix_goes_on_from_its_own_end() {
    let mut f = Follower::new();
    assert_eq!(
        f.step(logged_in(10, 10, 30)),
        vec![
            Action::Report { phase: Phase::Attaching, master_end: 30 },
            Action::Attaching { position: 10, master_end: 30 }
        ]
    );
    assert_eq!(f.phase(), Phase::Attaching);
}

#[test]
fn a_slave_at_the_masters_end_is_attached_at_once() {
    let mut f = Follower::new();
    let actions = f.step(logged_in(30, 30, 30));
    assert_eq!(actions[0], Action::Report { phase: Phase::Attached, master_end: 30 });
    assert_eq!(f.phase(), Phase::Attached);
    // No `slave-attached` later: it never was attaching.
    let actions = f.step(Event::Received(vec![wal(0, 30, b"abc", false)]));
    assert!(!actions.iter().any(|a| matches!(a, Action::CaughtUp { .. })));
    assert_eq!(actions.last(), Some(&Action::Ack { position: 33 }));
}

#[test]
fn in_order_ranges_are_appended_and_acked_once() {
    let mut f = streaming(10, 100);
    let actions = f.step(Event::Received(vec![wal(0, 10, b"abcde", false), wal(0, 15, b"fg", false)]));
    assert_eq!(
        actions,
        vec![
            Action::Append { file: 0, position: 10, payload: Bytes::from_static(b"abcde") },
            Action::Append { file: 0, position: 15, payload: Bytes::from_static(b"fg") },
            Action::Ack { position: 17 },
        ]
    );
    assert_eq!((f.position(), f.phase()), (17, Phase::Attaching));
}

#[test]
fn one_fsync_before_the_ack_when_any_range_asks() {
    let mut f = streaming(0, 100);
    let actions =
        f.step(Event::Received(vec![wal(0, 0, b"ab", false), wal(0, 2, b"cd", true), wal(0, 4, b"e", false)]));
    let syncs: Vec<usize> = actions.iter().enumerate().filter(|(_, a)| **a == Action::Sync).map(|(i, _)| i).collect();
    assert_eq!(syncs, vec![3], "{actions:?}");
    assert_eq!(actions[4], Action::Ack { position: 5 });
}

#[test]
fn reaching_the_masters_end_attaches_once() {
    let mut f = streaming(0, 6);
    let actions = f.step(Event::Received(vec![wal(0, 0, b"abc", false)]));
    assert_eq!(actions.last(), Some(&Action::Ack { position: 3 }));
    let actions = f.step(Event::Received(vec![wal(0, 3, b"def", false)]));
    assert_eq!(
        &actions[1..],
        &[
            Action::Ack { position: 6 },
            Action::Report { phase: Phase::Attached, master_end: 6 },
            Action::CaughtUp { position: 6 }
        ]
    );
    let actions = f.step(Event::Received(vec![wal(0, 6, b"g", false)]));
    assert_eq!(actions.len(), 2, "appended and acked, no second catch-up: {actions:?}");
}

#[test]
fn a_gap_closes_before_anything_is_written() {
    let mut f = streaming(10, 100);
    let actions = f.step(Event::Received(vec![wal(0, 10, b"ab", false), wal(0, 13, b"cd", false)]));
    assert_eq!(is_close(&actions), Some("gap: expected 12, got 13"));
    assert_eq!(f.position(), 10, "nothing of the group was taken");
}

#[test]
fn an_overlap_or_a_repeat_closes_too() {
    let mut f = streaming(10, 100);
    let actions = f.step(Event::Received(vec![wal(0, 8, b"abcd", false)]));
    assert_eq!(is_close(&actions), Some("gap: expected 10, got 8"));
    let mut f = streaming(10, 100);
    f.step(Event::Received(vec![wal(0, 10, b"ab", false)]));
    let actions = f.step(Event::Received(vec![wal(0, 10, b"ab", false)]));
    assert_eq!(is_close(&actions), Some("gap: expected 12, got 10"));
}

#[test]
fn the_start_of_a_later_log_file_may_jump_a_hole() {
    let mut f = streaming(10, 2000);
    let actions = f.step(Event::Received(vec![wal(1000, 0, b"abc", false)]));
    assert_eq!(actions[0], Action::Append { file: 1000, position: 1000, payload: Bytes::from_static(b"abc") });
    assert_eq!(f.position(), 1003);
    // Not in the middle of a later file, nor back to an earlier one.
    let mut f = streaming(10, 2000);
    assert!(is_close(&f.step(Event::Received(vec![wal(1000, 5, b"abc", false)]))).is_some());
    let mut f = streaming(1010, 2000);
    assert!(is_close(&f.step(Event::Received(vec![wal(0, 0, b"abc", false)]))).is_some());
}

#[test]
fn a_frame_other_than_wal_closes_before_the_group_is_written() {
    let mut f = streaming(0, 100);
    let actions = f.step(Event::Received(vec![wal(0, 0, b"ab", false), Frame::Ack(Ack { position: 1 })]));
    let reason = is_close(&actions).expect("closed");
    assert!(reason.starts_with("unexpected frame from master: Ack"), "{reason}");
}

#[test]
fn frames_before_the_stream_starts_are_refused() {
    let mut f = Follower::new();
    assert!(is_close(&f.step(Event::Received(vec![wal(0, 0, b"ab", false)]))).is_some());
    // Nor while the store is being cut.
    let mut f = Follower::new();
    f.step(logged_in(50, 0, 40));
    assert!(is_close(&f.step(Event::Received(vec![wal(0, 0, b"ab", false)]))).is_some());
}

#[test]
fn divergence_without_keep_clears_the_store_then_streams_from_zero() {
    // A demoted master with writes no one acked: ahead of the new master, or diverged.
    let mut f = Follower::new();
    assert_eq!(f.step(logged_in(50, 0, 40)), vec![Action::Clear]);
    assert_eq!(f.phase(), Phase::Connecting, "still connecting while the store is cut");
    assert_eq!(
        f.step(Event::Cut { position: 0 }),
        vec![
            Action::Report { phase: Phase::Attaching, master_end: 40 },
            Action::Attaching { position: 0, master_end: 40 }
        ]
    );
    let actions = f.step(Event::Received(vec![wal(0, 0, b"ab", false)]));
    assert_eq!(actions.last(), Some(&Action::Ack { position: 2 }));
}

#[test]
fn an_empty_slave_is_not_cleared() {
    let mut f = Follower::new();
    assert_eq!(f.step(logged_in(0, 0, 40))[0], Action::Report { phase: Phase::Attaching, master_end: 40 });
}

#[test]
fn an_incremental_resync_cuts_at_from_and_streams_from_the_journals_end() {
    let mut f = Follower::new();
    let ev = Event::LoggedIn { position: 5000, from: 4096, master_end: 9000, keep: Some(vec![0, 2048]) };
    assert_eq!(f.step(ev), vec![Action::Resync { from: 4096, keep: vec![0, 2048], position: 5000 }]);
    assert_eq!(f.phase(), Phase::Connecting);
    let actions = f.step(Event::Cut { position: 4096 });
    assert_eq!(actions[1], Action::Attaching { position: 4096, master_end: 9000 });
    assert_eq!(f.position(), 4096);
    assert!(is_close(&f.step(Event::Received(vec![wal(2048, 2048, b"x", false)]))).is_none());
}

#[test]
fn a_cut_nobody_asked_for_closes() {
    let mut f = streaming(10, 20);
    assert!(is_close(&f.step(Event::Cut { position: 0 })).is_some());
}

#[test]
fn a_lost_connection_reports_connecting_and_keeps_the_masters_end() {
    let mut f = streaming(10, 20);
    assert_eq!(f.step(Event::Disconnected), vec![Action::Report { phase: Phase::Connecting, master_end: 20 }]);
    assert_eq!(f.phase(), Phase::Connecting);
    assert!(is_close(&f.step(Event::Received(vec![wal(0, 10, b"ab", false)]))).is_some());
}

#[test]
fn a_new_master_further_on_streams_from_our_end() {
    let mut f = streaming(0, 10);
    f.step(Event::Received(vec![wal(0, 0, b"0123456789", false)]));
    assert_eq!(f.phase(), Phase::Attached);
    f.step(Event::Disconnected);
    // The new master holds our journal and more.
    let actions = f.step(logged_in(10, 10, 500));
    assert_eq!(actions[0], Action::Report { phase: Phase::Attaching, master_end: 500 });
    assert_eq!(f.step(Event::Received(vec![wal(0, 10, b"ab", false)])).last(), Some(&Action::Ack { position: 12 }));
}

#[test]
fn a_new_master_behind_us_makes_us_clear() {
    let mut f = streaming(0, 10);
    f.step(Event::Received(vec![wal(0, 0, b"0123456789", false)]));
    f.step(Event::Disconnected);
    // We hold writes the new master never got: it answers `from: 0`.
    assert_eq!(f.step(logged_in(10, 0, 4)), vec![Action::Clear]);
    assert_eq!(f.step(Event::Cut { position: 0 })[0], Action::Report { phase: Phase::Attaching, master_end: 4 });
    let actions = f.step(Event::Received(vec![wal(0, 0, b"abcd", true)]));
    assert_eq!(
        &actions[1..],
        &[
            Action::Sync,
            Action::Ack { position: 4 },
            Action::Report { phase: Phase::Attached, master_end: 4 },
            Action::CaughtUp { position: 4 }
        ]
    );
}
