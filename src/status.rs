//! What `mqsim status` reports, and the per-node status file it is built from.
//!
//! Each broker rewrites `<stateDir>/mq_<name>/status.json` (atomically, by rename) after
//! every election step; the supervisor combines those with what it knows of the processes
//! (running, paused, down) and asks each ZooKeeper server `srvr` for its mode.
//!
//! The words these files and `mqsim status --json` carry (a node's [`Role`], a process's
//! [`ProcState`], a slave's replication [`Phase`], a ZooKeeper server's [`ZkMode`]) are enums
//! made by `wire_enum!`: on the wire each is its documented string (docs/cli.md, "Values"),
//! and a spelling this build does not know (an older or newer file, a hostile peer) reads as
//! `Unknown(text)` and is written back unchanged.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// An enum whose JSON form is one string per variant, plus `Unknown(String)` for any other
/// string, so reading never fails on a word from another version and the bytes round-trip.
/// `KNOWN` lists the named variants (the tests pin each one's spelling).
macro_rules! wire_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vm])* $var,)*
            /// A spelling this build does not know, kept as read.
            Unknown(String),
        }

        impl $name {
            /// Every named variant, in documentation order.
            pub const KNOWN: &'static [$name] = &[$($name::$var),*];

            /// The variant's wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$var => $s,)*
                    $name::Unknown(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($s => $name::$var,)*
                    other => $name::Unknown(other.to_string()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match $name::from(s.as_str()) {
                    $name::Unknown(_) => $name::Unknown(s),
                    known => known,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                String::deserialize(d).map($name::from)
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// A broker's place in the election: what a node reports, and `mqsim status` shows.
    #[derive(Default)]
    pub enum Role {
        #[default]
        /// Running, but no status report yet (the supervisor's word, and the console's).
        Starting = "starting",
        /// Registered in ZooKeeper, no master known.
        Electing = "electing",
        Slave = "slave",
        Master = "master",
    }
}

impl From<&crate::election::Role> for Role {
    fn from(r: &crate::election::Role) -> Role {
        match r {
            crate::election::Role::Electing => Role::Electing,
            crate::election::Role::Slave { .. } => Role::Slave,
            crate::election::Role::Master { .. } => Role::Master,
        }
    }
}

wire_enum! {
    /// A managed process as the supervisor sees it (brokers and ZooKeeper servers).
    pub enum ProcState {
        Running = "running",
        /// Stopped with SIGSTOP (`mqsim pause`).
        Paused = "paused",
        /// Stopped by request (`mqsim stop`, or never started).
        Stopped = "stopped",
        /// Exited or killed.
        Down = "down",
        /// A ZooKeeper server of an ensemble mqsim does not manage.
        External = "external",
    }
}

impl ProcState {
    /// Running or paused: the process exists.
    pub fn alive(&self) -> bool {
        matches!(self, ProcState::Running | ProcState::Paused)
    }
}

wire_enum! {
    /// A slave's replication phase.
    pub enum Phase {
        /// Looking for, or logging in to, the master.
        Connecting = "connecting",
        /// Logged in, receiving what it lacks.
        Attaching = "attaching",
        /// Caught up with the master.
        Attached = "attached",
    }
}

wire_enum! {
    /// A ZooKeeper server's mode, as its `srvr` reply says.
    pub enum ZkMode {
        Leader = "leader",
        Follower = "follower",
        Standalone = "standalone",
        Observer = "observer",
    }
}

impl From<crate::replication::follower::Phase> for Phase {
    fn from(p: crate::replication::follower::Phase) -> Phase {
        match p {
            crate::replication::follower::Phase::Connecting => Phase::Connecting,
            crate::replication::follower::Phase::Attaching => Phase::Attaching,
            crate::replication::follower::Phase::Attached => Phase::Attached,
        }
    }
}

impl ZkMode {
    /// Leader, follower or standalone: the server takes part in a serving ensemble.
    pub fn serving(&self) -> bool {
        matches!(self, ZkMode::Leader | ZkMode::Follower | ZkMode::Standalone)
    }
}

/// Written by a broker node.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeReport {
    pub pid: u32,
    /// `electing`, `slave`, `master`.
    pub role: Role,
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
    pub replication: Option<Phase>,
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
    pub state: ProcState,
    /// `master`, `slave`, `electing`, `starting` (running, no report yet), or null when not running.
    pub role: Option<Role>,
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
    pub replication: Option<Phase>,
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

impl Ports {
    /// A broker's ports as `cluster.toml` gives them.
    pub fn of(n: &crate::config::Node) -> Ports {
        Ports {
            openwire: *n.openwire.get_ref(),
            stomp: *n.stomp.get_ref(),
            console: *n.console.get_ref(),
            replication: n.bind.get_ref().port,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ZkStatus {
    pub name: String,
    /// `running`, `paused`, `stopped`, `down`; `external` for an ensemble mqsim does not manage.
    pub state: ProcState,
    /// `leader`, `follower`, `standalone`, `observer`, or null when it does not serve.
    pub mode: Option<ZkMode>,
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

/// The values docs/cli.md's "Values" table gives for `field` (its first column contains
/// `field`), in order: every backticked word of the row's second column.
#[cfg(test)]
pub(crate) fn documented_values(field: &str) -> Vec<String> {
    let doc = include_str!("../docs/cli.md");
    let row = doc
        .lines()
        .find(|l| l.starts_with("| ") && l.split('|').nth(1).is_some_and(|c| c.contains(field)))
        .unwrap_or_else(|| panic!("docs/cli.md has no Values row for {field}"));
    let values = row.split('|').nth(2).unwrap_or("");
    values.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// Each of `known` serializes to the matching `spelled` string and reads back as itself, and
/// `spelled` is what docs/cli.md documents for `field`.
#[cfg(test)]
pub(crate) fn pin_spelling<T>(known: &[T], spelled: &[&str], field: &str)
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    assert_eq!(known.len(), spelled.len(), "every variant of {field} is pinned");
    for (v, s) in known.iter().zip(spelled) {
        assert_eq!(serde_json::to_string(v).unwrap(), format!("\"{s}\""), "{v:?}");
        assert_eq!(&serde_json::from_str::<T>(&format!("\"{s}\"")).unwrap(), v, "{s}");
    }
    assert_eq!(documented_values(field), spelled, "docs/cli.md documents {field} as the code spells it");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_state_is_spelled_as_documented() {
        pin_spelling(
            ProcState::KNOWN,
            &["running", "paused", "stopped", "down", "external"],
            "`nodes[].state`, `zookeeper[].state`",
        );
    }

    #[test]
    fn a_role_is_spelled_as_documented() {
        pin_spelling(Role::KNOWN, &["starting", "electing", "slave", "master"], "`nodes[].role`");
        assert_eq!(Role::default(), Role::Starting, "a console before the first report");
        for (elector, want) in [
            (crate::election::Role::Electing, Role::Electing),
            (crate::election::Role::Master { address: None }, Role::Master),
            (crate::election::Role::Slave { master: "1".into(), target: None, node: None }, Role::Slave),
        ] {
            assert_eq!(Role::from(&elector), want);
            assert_eq!(elector.name(), want.as_str(), "the election's own name for it");
        }
    }

    #[test]
    fn a_replication_phase_is_spelled_as_documented() {
        pin_spelling(Phase::KNOWN, &["connecting", "attaching", "attached"], "`nodes[].replication`");
        use crate::replication::follower::Phase as Follower;
        for p in [Follower::Connecting, Follower::Attaching, Follower::Attached] {
            assert_eq!(Phase::from(p).as_str(), p.name(), "the follower's phase, as status shows it");
        }
    }

    #[test]
    fn a_zookeeper_mode_is_spelled_as_documented() {
        pin_spelling(ZkMode::KNOWN, &["leader", "follower", "standalone", "observer"], "`zookeeper[].mode`");
    }

    /// A word this build does not know (ZooKeeper's `read-only` mode, a newer mqsim's state,
    /// a hostile node's report) reads, compares as none of the known ones, and is written
    /// back as it was.
    #[test]
    fn an_unknown_word_is_kept_as_read() {
        let mode: ZkMode = serde_json::from_str(r#""read-only""#).unwrap();
        assert_eq!(mode, ZkMode::Unknown("read-only".into()));
        assert!(!mode.serving());
        assert_eq!(serde_json::to_string(&mode).unwrap(), r#""read-only""#);
        let phase = Phase::from("<script>");
        assert_eq!((phase.as_str(), phase.to_string()), ("<script>", "<script>".to_string()));
        assert_eq!(Phase::from(String::from("attached")), Phase::Attached);
        assert!(serde_json::from_str::<Role>("7").is_err(), "a role is a string");
    }

    /// `mqsim status --json` and a node's status.json keep their bytes through the types.
    #[test]
    fn status_json_reads_and_writes_back_byte_for_byte() {
        let node = r#"{"name":"node01","state":"running","role":"slave","pid":7,"ports":{"openwire":1,"stomp":2,"console":3,"replication":4},"position":12,"znode":"/a/00000000001","session":"0x1","master":"0000000000","address":"tcp://h:4","serving":false,"replication":"attaching","slaves":[],"partitioned":null,"store":null,"log":"x.log"}"#;
        let starting = r#"{"name":"node02","state":"running","role":"starting","pid":8,"ports":{"openwire":1,"stomp":2,"console":3,"replication":4},"position":0,"znode":null,"session":null,"master":null,"address":null,"serving":false,"replication":null,"slaves":[],"partitioned":null,"store":null,"log":""}"#;
        let gone = r#"{"name":"node03","state":"stopped","role":null,"pid":null,"ports":{"openwire":1,"stomp":2,"console":3,"replication":4},"position":null,"znode":null,"session":null,"master":null,"address":null,"serving":false,"replication":null,"slaves":[],"partitioned":null,"store":null,"log":""}"#;
        let zk = r#"{"name":"zk01","state":"running","mode":"leader","pid":5,"client_port":2181,"log":""},{"name":"external1","state":"external","mode":"read-only","pid":null,"client_port":2182,"log":""},{"name":"zk03","state":"paused","mode":null,"pid":6,"client_port":2183,"log":""}"#;
        let json = format!(
            r#"{{"broker_name":"b","zk_path":"/a","master":null,"failover_url":"f","supervisor_pid":1,"state_dir":"s","nodes":[{node},{starting},{gone}],"zookeeper":[{zk}]}}"#
        );
        let st: ClusterStatus = serde_json::from_str(&json).unwrap();
        assert_eq!(st.nodes[0].role, Some(Role::Slave));
        assert_eq!(st.nodes[0].replication, Some(Phase::Attaching));
        assert_eq!(st.nodes[1].role, Some(Role::Starting));
        assert_eq!(st.nodes[2].state, ProcState::Stopped);
        assert_eq!((&st.zookeeper[1].state, &st.zookeeper[2].state), (&ProcState::External, &ProcState::Paused));
        assert_eq!(serde_json::to_string(&st).unwrap(), json);

        let report =
            NodeReport { pid: 3, role: Role::Master, replication: Some(Phase::Connecting), ..NodeReport::default() };
        let text = serde_json::to_string(&report).unwrap();
        assert!(text.starts_with(r#"{"pid":3,"role":"master","#), "{text}");
        assert!(text.contains(r#""replication":"connecting""#), "{text}");
        assert_eq!(serde_json::from_str::<NodeReport>(&text).unwrap(), report);
    }
}
