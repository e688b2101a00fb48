//! The state directory (`stateDir` in `cluster.toml`): which file lives where, written down
//! once, beside the per-member layouts ([`crate::node::NodeLayout`] for a broker's
//! `mq_node0N/`, [`crate::zookeeper::ZkLayout`] for a server's `zk0N/`).
//!
//! ```text
//! <stateDir>/
//!   events.jsonl      the timeline: every supervisor and node appends one JSON line per event
//!   security-token    the replication token `mqsim up` generated (mode 0600), when
//!                     cluster.toml sets none
//!   runs/             `mqsim chaos` and `mqsim lab` run folders
//!   mq_node01/ ...    each broker
//!   zk01/ ...         each managed ZooKeeper server
//!   supervisor.sock   this host's supervisor: its control socket (mode 0600),
//!   pids.json         the PIDs of it and its children,
//!   supervisor.pid    its own PID while it runs,
//!   supervisor.log    and its log
//!   host-<address>/   ...the last four live here instead when only part of a multi-host
//!                     layout runs on this machine (crate::hosts), so that hosts sharing one
//!                     filesystem (network namespaces, an NFS home) do not collide
//! ```
//!
//! Functions that are handed "the supervisor's directory" (`control::status`, `Pids::read`)
//! take [`crate::hosts::supervisor_dir`], the root or its `host-<address>/`; the rest take
//! [`StateDir::root`]. The file names below are the only spelling of each.

use std::path::{Path, PathBuf};

use crate::config::Config;

/// The event timeline, under the root.
pub const EVENTS: &str = "events.jsonl";
/// The generated replication token, under the root.
pub const TOKEN: &str = "security-token";
/// Chaos and lab run folders, under the root.
pub const RUNS: &str = "runs";
/// The supervisor's control socket, in its directory.
pub const SOCKET: &str = "supervisor.sock";
/// The supervisor's and its children's PIDs, in its directory.
pub const PIDS: &str = "pids.json";
/// The running supervisor's own PID, in its directory.
pub const SUPERVISOR_PID: &str = "supervisor.pid";
/// The supervisor's log, in its directory.
pub const SUPERVISOR_LOG: &str = "supervisor.log";

/// One cluster's state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// What `down --purge` removes of a whole cluster besides its members' directories.
    pub const ENTRIES: [&str; 7] = [EVENTS, PIDS, TOKEN, SUPERVISOR_LOG, SUPERVISOR_PID, SOCKET, RUNS];

    pub fn of(config: &Config) -> StateDir {
        StateDir { root: config.state_dir() }
    }

    /// `stateDir` itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The event timeline.
    pub fn events(&self) -> PathBuf {
        self.root.join(EVENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_is_at_the_root() {
        let config =
            Config::parse(&std::fs::read_to_string("cluster.toml").unwrap(), Path::new("/x/cluster.toml")).unwrap();
        let dir = StateDir::of(&config);
        assert_eq!(dir.root(), Path::new("/x/mq_cluster"));
        assert_eq!(dir.events(), Path::new("/x/mq_cluster/events.jsonl"));
    }
}
