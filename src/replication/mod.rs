//! Master → slave replication of the store's journal, after ActiveMQ's replicated LevelDB.
//!
//! # How it works
//!
//! The elected master binds its replication port (`bind`) and publishes
//! `tcp://<hostname>:<port>` as `address` in its znode. Every slave that sees the address
//! dials it and logs in with its node id, the shared `securityToken`, its journal end and
//! its last record's `(start, crc32)`. If that record is also in the master's journal at the
//! same place, the slave's journal is a prefix of the master's and the master streams from
//! the slave's end; otherwise (the slave diverged, e.g. a demoted master with writes no one
//! acked, or it is ahead) the master answers `from: 0` and the slave clears its store and
//! takes everything. Then the master streams `wal` frames — ActiveMQ's LogWrite, `{file,
//! offset, length, sync}` in JSON, then that range of its journal file, byte for byte — as
//! soon as a group lands in its journal. The slave checks every record's CRC, appends the
//! bytes at the same positions, fsyncs them if `sync` says so, answers `ack {position}`, and
//! only then replays them into its own index, as ActiveMQ's slave did in the background.
//!
//! A write that must be synced (a persistent send or a commit) completes on the master when
//! `replicas/2` distinct slaves have acked a position at or past its end, if `sync` has the
//! REMOTE bit (`remote_*`, `quorum_*`); `*_disk` makes the slave fsync before it acks. The
//! master opens its client ports only once `replicas/2` slaves have caught up with its
//! journal end at promotion, so a new master never serves with fewer copies than asked.
//!
//! # Caveats
//!
//! * No timeout: with too few slaves, synced writes block (ActiveMQ's "Store update waiting
//!   on N replica(s)"), and so do the producers.
//! * Resync is whole-store (ActiveMQ copied only the journal files the slave lacked).
//! * Positions are byte offsets, as in ActiveMQ; the `(start, crc32)` check at login is
//!   what keeps a diverged slave from silently appending after a different history.

pub mod master;
pub mod slave;
pub mod wire;

/// The highest position that at least `need` of the `acks` have reached (`u64::MAX` when
/// nothing is needed).
pub fn quorum_position(acks: impl IntoIterator<Item = u64>, need: usize) -> u64 {
    if need == 0 {
        return u64::MAX;
    }
    let mut v: Vec<u64> = acks.into_iter().collect();
    if v.len() < need {
        return 0;
    }
    v.sort_unstable_by(|a, b| b.cmp(a));
    v[need - 1]
}

#[cfg(test)]
mod tests {
    use super::quorum_position;

    #[test]
    fn quorum_is_the_nth_highest_ack() {
        assert_eq!(quorum_position([], 0), u64::MAX);
        assert_eq!(quorum_position([], 1), 0);
        assert_eq!(quorum_position([5, 9], 1), 9);
        assert_eq!(quorum_position([5, 9, 7], 2), 7);
        assert_eq!(quorum_position([5], 2), 0);
    }
}
