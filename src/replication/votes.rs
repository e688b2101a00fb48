//! The master's count of its slaves: one vote per configured node id, acks clamped to
//! the bytes sent on that connection. Pure bookkeeping, no I/O.
//!
//! A synced write needs `replicas/2` acks and a new master `replicas/2` caught-up slaves
//! before it serves. Both counts must be counts of *distinct nodes*, and an ack must only
//! vouch for bytes the slave can have: so the table is keyed by the node id the slave
//! proved at login (a second login with the same id replaces the first, it never adds a
//! vote), and every ack is clamped to what this master actually sent on that very
//! connection (`ack 2^63` counts as what was sent, not as "caught up with everything").

use std::collections::BTreeMap;

use super::master::SlaveInfo;
use super::quorum_position;

/// One connection's vote.
#[derive(Debug, Clone)]
struct Vote {
    /// Which login of this node id holds the vote (a later one replaces it).
    conn: u64,
    remote: String,
    /// The journal position up to which bytes were sent on this connection (the slave's
    /// own journal, proven to be a prefix of ours at login, counts as sent).
    sent: u64,
    acked: u64,
    master_end: u64,
    caught_up: bool,
}

/// The ack was for a connection that no longer holds its node's vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced;

#[derive(Debug, Default)]
pub struct Votes {
    by_node: BTreeMap<String, Vote>,
    next_conn: u64,
}

impl Votes {
    /// A slave proved `node_id` and starts at `from`. Returns the connection's number, and
    /// the remote address of the connection it replaced, if any.
    pub fn attach(&mut self, node_id: &str, remote: &str, from: u64, master_end: u64) -> (u64, Option<String>) {
        self.next_conn += 1;
        let vote = Vote {
            conn: self.next_conn,
            remote: remote.to_string(),
            sent: from,
            acked: from,
            master_end,
            caught_up: from >= master_end,
        };
        let old = self.by_node.insert(node_id.to_string(), vote);
        (self.next_conn, old.map(|v| v.remote))
    }

    /// Bytes up to journal position `upto` went out on `conn`.
    pub fn sent(&mut self, node_id: &str, conn: u64, upto: u64) -> Result<(), Replaced> {
        let v = self.current(node_id, conn)?;
        v.sent = v.sent.max(upto);
        Ok(())
    }

    /// An ack, clamped to what was sent on `conn`. Returns `true` the first time the slave
    /// reaches the master's journal end at its login (it has caught up).
    pub fn ack(&mut self, node_id: &str, conn: u64, position: u64) -> Result<bool, Replaced> {
        let v = self.current(node_id, conn)?;
        v.acked = v.acked.max(position.min(v.sent));
        let first = !v.caught_up && v.acked >= v.master_end;
        v.caught_up |= first;
        Ok(first)
    }

    /// The connection ended; its vote goes unless a newer login holds it.
    pub fn detach(&mut self, node_id: &str, conn: u64) {
        if self.by_node.get(node_id).is_some_and(|v| v.conn == conn) {
            self.by_node.remove(node_id);
        }
    }

    fn current(&mut self, node_id: &str, conn: u64) -> Result<&mut Vote, Replaced> {
        self.by_node.get_mut(node_id).filter(|v| v.conn == conn).ok_or(Replaced)
    }

    /// The position `need` distinct slaves have acked.
    pub fn quorum(&self, need: usize) -> u64 {
        quorum_position(self.by_node.values().map(|v| v.acked), need)
    }

    /// How many distinct slaves have caught up.
    pub fn caught_up(&self) -> usize {
        self.by_node.values().filter(|v| v.caught_up).count()
    }

    /// What `mqsim status` shows.
    pub fn infos(&self) -> Vec<SlaveInfo> {
        self.by_node
            .iter()
            .map(|(id, v)| SlaveInfo {
                node_id: id.clone(),
                remote: v.remote.clone(),
                acked: v.acked,
                caught_up: v.caught_up,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_are_clamped_to_the_bytes_sent() {
        let mut v = Votes::default();
        let (c, _) = v.attach("node02", "r", 0, 1000);
        assert_eq!(v.ack("node02", c, 1 << 63), Ok(false), "nothing sent yet: not caught up");
        assert_eq!(v.quorum(1), 0, "an ack of 2^63 counts as the 0 bytes sent");
        assert_eq!(v.caught_up(), 0);
        v.sent("node02", c, 400).unwrap();
        assert_eq!(v.ack("node02", c, u64::MAX), Ok(false));
        assert_eq!(v.quorum(1), 400);
        v.sent("node02", c, 1000).unwrap();
        assert_eq!(v.ack("node02", c, 1000), Ok(true), "caught up once it acks what it was sent");
        assert_eq!(v.ack("node02", c, 1000), Ok(false), "reported once");
        assert_eq!(v.caught_up(), 1);
        // Acks never go backwards.
        v.ack("node02", c, 10).unwrap();
        assert_eq!(v.quorum(1), 1000);
    }

    #[test]
    fn one_vote_per_node_id() {
        let mut v = Votes::default();
        let (a, _) = v.attach("node02", "r1", 500, 500);
        let (b, replaced) = v.attach("node02", "r2", 500, 500);
        assert_eq!(replaced.as_deref(), Some("r1"));
        assert_eq!(v.caught_up(), 1, "a second login of node02 replaces the first");
        assert_eq!(v.quorum(2), 0, "two connections of one node are not two votes");
        assert_eq!(v.ack("node02", a, 500), Err(Replaced), "the replaced connection no longer votes");
        assert_eq!(v.sent("node02", a, 600), Err(Replaced));
        v.detach("node02", a);
        assert_eq!(v.infos().len(), 1, "ending the replaced connection leaves the new one");
        let (_c, _) = v.attach("node03", "r3", 500, 500);
        assert_eq!(v.quorum(2), 500);
        assert_eq!(v.caught_up(), 2);
        v.detach("node02", b);
        assert_eq!(v.quorum(2), 0);
        assert_eq!(v.infos().iter().map(|i| i.node_id.as_str()).collect::<Vec<_>>(), ["node03"]);
    }
}
