//! What `mqsim status` reports, and the per-node status file it is built from.
//!
//! Each broker rewrites `<stateDir>/mq_<name>/status.json` (atomically, by rename) after
//! every election step; the supervisor combines those with what it knows of the processes
//! (running, paused, down) and asks each ZooKeeper server `srvr` for its mode.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Written by a broker node.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeReport {
    pub pid: u32,
    /// `electing`, `slave`, `master`.
    pub role: String,
    /// Full path of this node's znode, e.g. `/activemq/leveldb-stores/00000000002`.
    pub znode: Option<String>,
    /// ZooKeeper session id, `0x...`.
    pub session: Option<String>,
    pub zk_connected: bool,
    /// Journal append position of the local store.
    pub position: i64,
    /// eid of the elected master, if any.
    pub master: Option<String>,
    /// Replication address this node follows (slave) or publishes (master).
    pub address: Option<String>,
    /// True once the master's client ports accept connections.
    pub serving: bool,
    /// A slave's replication phase: `connecting`, `attaching`, `attached`.
    #[serde(default)]
    pub replication: Option<String>,
    /// A master's attached slaves.
    #[serde(default)]
    pub slaves: Vec<SlaveInfo>,
    /// `zk`, `peers` or `zk+peers` while `mqsim partition` cuts this node.
    #[serde(default)]
    pub partitioned: Option<String>,
    /// The store's disk use against its live data.
    #[serde(default)]
    pub store: Option<StoreUsage>,
    /// When this report was written (ms since the epoch).
    pub ts: u64,
}

impl NodeReport {
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        // A hidden name, so `ls` of the node directory (as the tutorial runs it) never
        // catches the file between its write and its rename.
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).expect("serializes"))?;
        std::fs::rename(&tmp, path)
    }

    pub fn read(path: &Path) -> Option<NodeReport> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}

/// One slave attached to a master, as `mqsim status` shows it (the master's replication
/// server reports these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaveInfo {
    pub node_id: String,
    pub remote: String,
    pub acked: u64,
    pub caught_up: bool,
}

/// `mqsim status --json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterStatus {
    pub broker_name: String,
    pub zk_path: String,
    /// Name of the node serving as master, or null.
    pub master: Option<String>,
    pub failover_url: String,
    pub supervisor_pid: u32,
    pub state_dir: String,
    pub nodes: Vec<NodeStatus>,
    pub zookeeper: Vec<ZkStatus>,
}

/// What a node's store takes on disk, against the live data in it (issue 12).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StoreUsage {
    /// Bytes of the journal's log files (written zeros included).
    pub disk_bytes: u64,
    /// Bytes of live persistent messages, as stored (ActiveMQ's storeUsage).
    pub live_bytes: u64,
    /// Log files in the store directory.
    pub log_files: usize,
}

impl StoreUsage {
    /// `12.0 MiB on disk, 1.0 MiB live (2 log files)`.
    pub fn describe(&self) -> String {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        format!(
            "{:.1} MiB on disk, {:.1} MiB live ({} log file{})",
            mib(self.disk_bytes),
            mib(self.live_bytes),
            self.log_files,
            if self.log_files == 1 { "" } else { "s" }
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeStatus {
    pub name: String,
    /// `running`, `paused`, `stopped` (by request), `down` (exited or killed).
    pub state: String,
    /// `master`, `slave`, `electing`, or null when not running.
    pub role: Option<String>,
    pub pid: Option<u32>,
    pub ports: Ports,
    pub position: Option<i64>,
    pub znode: Option<String>,
    pub session: Option<String>,
    /// eid of the master this node sees elected.
    pub master: Option<String>,
    pub address: Option<String>,
    pub serving: bool,
    /// A slave's replication phase: `connecting`, `attaching`, `attached`.
    pub replication: Option<String>,
    /// A master's slaves: node id, address, acked position, caught up.
    pub slaves: Vec<SlaveInfo>,
    /// `zk`, `peers` or `zk+peers` while `mqsim partition` cuts this node.
    pub partitioned: Option<String>,
    /// The store's disk use against its live data, while the node runs.
    #[serde(default)]
    pub store: Option<StoreUsage>,
    pub log: String,
    /// Multi-host layouts only: the address of the machine this node runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Multi-host layouts only: whether the answering supervisor owns (started) it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ports {
    pub openwire: u16,
    pub stomp: u16,
    pub console: u16,
    pub replication: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ZkStatus {
    pub name: String,
    /// `running`, `paused`, `stopped`, `down`; `external` for an ensemble mqsim does not manage.
    pub state: String,
    /// `leader`, `follower`, `standalone`, or null when it does not serve.
    pub mode: Option<String>,
    pub pid: Option<u32>,
    pub client_port: u16,
    pub log: String,
    /// Multi-host layouts only: the address of the machine this server runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Multi-host layouts only: whether the answering supervisor owns (started) it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned: Option<bool>,
}

impl ClusterStatus {
    pub fn master_node(&self) -> Option<&NodeStatus> {
        self.master.as_ref().and_then(|m| self.nodes.iter().find(|n| &n.name == m))
    }
}
