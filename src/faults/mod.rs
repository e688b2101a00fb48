//! Network partitions in userland: gates inside each broker process.
//!
//! # How it works
//!
//! Every broker reaches ZooKeeper through its own proxies (one per server, on ephemeral
//! loopback ports), since the ZooKeeper client owns those sockets. Its replication
//! connections, which the node's own code owns at both ends, are gated in place instead
//! ([`gate::Gated`]): the slave's connection to the master, and every connection the
//! master's replication server accepts on its `bind` port. That keeps a replicated write at
//! one loopback hop each way. Each proxy and each gated connection has a *gate*. `mqsim
//! partition node02 --from zk` writes `mq_node02/faults.json`; the node polls it and closes
//! the gate: bytes stop flowing in both directions, connections stay open — a black hole,
//! like a pulled cable, not a reset. So the ZooKeeper client times out (≈ 2/3 of the
//! session timeout) and the node steps down, while the server expires the session after the
//! full timeout and the others elect. `mqsim heal` reopens the gates; whatever was queued
//! flows again (and is usually stale by then).
//!
//! # Caveats
//!
//! * A partition is per node, symmetric, and total for its kind (all of ZooKeeper, or all
//!   peers). Client connections (STOMP/OpenWire) are not affected.
//! * The gate is polled every 100 ms.

pub mod gate;
pub mod proxy;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What is cut for one node (`<node dir>/faults.json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    /// Cut from every ZooKeeper server.
    pub zk: bool,
    /// Cut from the other brokers (replication, both directions).
    pub peers: bool,
}

impl Faults {
    pub fn path(node_dir: &Path) -> PathBuf {
        node_dir.join("faults.json")
    }

    pub fn read(node_dir: &Path) -> Faults {
        std::fs::read(Self::path(node_dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    pub fn write(&self, node_dir: &Path) -> std::io::Result<()> {
        if *self == Faults::default() {
            return match std::fs::remove_file(Self::path(node_dir)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let tmp = node_dir.join(".faults.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).expect("serializes"))?;
        std::fs::rename(tmp, Self::path(node_dir))
    }

    /// `zk`, `peers`, `zk+peers`, or `None`.
    pub fn describe(&self) -> Option<String> {
        match (self.zk, self.peers) {
            (false, false) => None,
            (true, false) => Some("zk".into()),
            (false, true) => Some("peers".into()),
            (true, true) => Some("zk+peers".into()),
        }
    }
}

/// The gates of one node, fed by polling its faults file.
#[derive(Clone)]
pub struct Gates {
    pub zk: tokio::sync::watch::Receiver<bool>,
    pub peers: tokio::sync::watch::Receiver<bool>,
}

impl Gates {
    /// Polls `<node_dir>/faults.json` every 100 ms for the life of the process.
    /// A gate's value is `true` while it is open.
    pub fn watch(node_dir: PathBuf) -> Gates {
        let now = Faults::read(&node_dir);
        let (zk_tx, zk) = tokio::sync::watch::channel(!now.zk);
        let (peers_tx, peers) = tokio::sync::watch::channel(!now.peers);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                let f = Faults::read(&node_dir);
                let set = |tx: &tokio::sync::watch::Sender<bool>, open_now: bool| {
                    tx.send_if_modified(|open| std::mem::replace(open, open_now) != open_now)
                };
                set(&zk_tx, !f.zk);
                set(&peers_tx, !f.peers);
                if zk_tx.is_closed() && peers_tx.is_closed() {
                    return;
                }
            }
        });
        Gates { zk, peers }
    }

    /// Gates that are always open (tests).
    pub fn open() -> Gates {
        let (_a, zk) = tokio::sync::watch::channel(true);
        let (_b, peers) = tokio::sync::watch::channel(true);
        Gates { zk, peers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip_and_heal_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Faults::read(dir.path()), Faults::default());
        let f = Faults { zk: true, peers: false };
        f.write(dir.path()).unwrap();
        assert_eq!(Faults::read(dir.path()), f);
        assert_eq!(f.describe().as_deref(), Some("zk"));
        Faults::default().write(dir.path()).unwrap();
        assert!(!Faults::path(dir.path()).exists());
    }
}
