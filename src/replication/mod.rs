//! Master → slave replication of the store's journal, after ActiveMQ's replicated LevelDB.
//!
//! # How it works
//!
//! The elected master binds its replication port (`bind`) and publishes
//! `tcp://<hostname>:<port>` as `address` in its znode, next to its node name (`container`).
//! Every slave that sees the address dials it and logs in with its node name, its journal
//! end and its last record's `(start, crc32)`; both sides then prove they know the shared
//! `securityToken` ([`auth`], below). If the slave's last record is also in the master's
//! journal at the same place, the slave's journal is a prefix of the master's and the master
//! streams from the slave's end; otherwise (the slave diverged, e.g. a demoted master with
//! writes no one acked, or it is ahead) the master answers `from: 0` and the slave clears its
//! store and takes everything. Then the master streams `wal` frames — ActiveMQ's LogWrite, `{file,
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
//! The slave's decisions — clear, cut or go on at login; accept a `wal` range only where its
//! journal ends (or at the start of a later log file, jumping a hole), close on a gap, an
//! overlap or any other frame; when to fsync and ack; `connecting` → `attaching` →
//! `attached` — are a plain state machine, [`follower::Follower`], stepped with the checked
//! `ok`, the groups of frames received and lost connections, and unit tested event by event
//! like the elector. [`slave`] dials, logs in, reads frames and performs the machine's
//! actions; [`master`] streams and counts the acks ([`votes`]).
//!
//! # Authentication
//!
//! ActiveMQ sent the `securityToken` in clear in the login and, with the default empty
//! token, let anyone in; a slave believed whatever answered at the published address. So
//! any local process could stream every message body, count as a caught-up slave (its
//! `ack` satisfying the quorum), or — by rewriting the master's znode — make the slaves
//! wipe their stores on a forged `from: 0`. mqsim closes that:
//!
//! * The login is a challenge-response over HMAC-SHA256 ([`auth`]): the slave proves the
//!   token first, the master proves it back over both nonces and over `from`/`master_end`.
//!   The token never crosses the wire. The master sends no journal byte, and counts no vote,
//!   before the slave's proof checks out; the slave acts on nothing the master says — above
//!   all not on `from: 0` — before the master's proof checks out. A failed login is one log
//!   line and a closed connection.
//! * The slave follows only the master the election named: it dials the address in the
//!   elected znode and requires the peer to prove it is the node named there.
//! * The master counts one vote per configured node name other than its own ([`votes`]): a
//!   second login with the same name replaces the first, and every ack is clamped to the
//!   bytes actually sent on that connection, so `ack 2^63` is never "caught up".
//! * An empty `securityToken` means the token `mqsim up` generates once per state directory
//!   (`<stateDir>/security-token`, 0600). `insecureReplication = true` turns the proofs off
//!   (never the default; logged loudly).
//!
//! What it does not protect: the frames after the login carry no MAC (whoever can rewrite
//! the TCP stream between nodes can tamper with it), processes of the same user can read the
//! token file, and a hand-chosen weak token can be guessed offline from one proof. The
//! election itself is guarded by ZooKeeper ACLs ([`crate::election::zookeeper`]).
//!
//! # Caveats
//!
//! * No timeout: with too few slaves, synced writes block (ActiveMQ's "Store update waiting
//!   on N replica(s)"), and so do the producers.
//! * A slave whose journal is a prefix of the master's and whose next record the master
//!   still holds gets only what it lacks. Otherwise (it diverged, or the master collected
//!   log files it lacks: [`crate::store::gc`]) it clears its store and takes the master's
//!   live log files again, holes and all (a `wal` frame at the start of a later file jumps a
//!   hole); that is about the live data, not the whole history, but it is not yet
//!   ActiveMQ's file-by-file incremental resync, and a diverged slave's dropped bytes are
//!   not kept aside. The master pins every file from a streaming slave's acked position.
//! * Positions are byte offsets, as in ActiveMQ; the `(start, crc32)` check at login is
//!   what keeps a diverged slave from silently appending after a different history.
//! * A multi-host cluster needs the same `securityToken` on every host: a generated token is
//!   per state directory, so set one explicitly there.

pub mod auth;
pub mod follower;
pub mod master;
pub mod slave;
pub mod votes;
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
