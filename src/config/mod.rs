//! `cluster.toml`: the cluster layout, mirroring the notes' `activemq.xml` and `zoo.cfg`.
//!
//! Field names follow ActiveMQ's `<replicatedLevelDB>` attributes (`brokerName`,
//! `replicas`, `zkPath`, `sync`, `zkSessionTimeout`, `zkPassword`, `hostname`,
//! `bind`, `directory`), so the file reads like the XML it stands for. Every field
//! has a default (see `Default` impls and the commented `cluster.toml`); an empty
//! file is the notes' 3-node, 3-server layout. Parse errors carry line and column;
//! semantic errors (a node whose `brokerName` differs, a port used twice) point at
//! the offending line too.

pub use crate::store::SyncMode;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};

/// The whole file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default)]
    pub zookeeper: ZooKeeper,
    #[serde(default)]
    pub console: Console,
    #[serde(default = "default_nodes", rename = "node")]
    pub nodes: Vec<Node>,
    /// `[[user]]`: ActiveMQ's simpleAuthenticationPlugin. Empty: clients need no
    /// credentials; otherwise STOMP CONNECT and OpenWire ConnectionInfo must name one.
    #[serde(default, rename = "user")]
    pub users: Vec<User>,
    /// Where the file was read from (not part of the file).
    #[serde(skip)]
    pub source: PathBuf,
}

/// Settings every broker of the replication set shares.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Cluster {
    /// `<broker brokerName=..>`: the group id in ZooKeeper; all nodes must agree.
    pub broker_name: String,
    /// Intended cluster size N: quorum N/2+1 to elect, N/2 slave acks per synced write.
    pub replicas: usize,
    /// Parent znode of the election group.
    pub zk_path: String,
    /// `local_mem`, `local_disk`, `remote_mem`, `remote_disk`, `quorum_mem`, `quorum_disk` (comma list),
    /// parsed when the file is read.
    pub sync: SyncSetting,
    #[serde(with = "humantime_serde")]
    pub zk_session_timeout: Duration,
    /// Adds ZooKeeper `digest` auth `fabric:<password>` as ActiveMQ did; mqsim also puts a
    /// digest ACL on every znode it creates (creator writes, anyone reads). Default
    /// `"password"`, as the notes set it; `""` turns auth and ACLs off.
    pub zk_password: Option<String>,
    /// Shared secret the replication login proves both ways (challenge-response). Empty:
    /// `mqsim up` generates one for this state directory.
    pub security_token: String,
    /// Opt-out: replication logins are not authenticated (never the default).
    pub insecure_replication: bool,
    /// `<systemUsage><memoryUsage limit>`: bytes of message bodies the broker holds in
    /// memory before producers wait (producer flow control), then get an error.
    pub memory_limit: u64,
    /// `<systemUsage><storeUsage limit>`: bytes of live persistent messages (as stored)
    /// past which persistent sends are refused.
    pub store_limit: u64,
    /// `<replicatedLevelDB logSize>`: the journal's log files are rolled at this many bytes
    /// (ActiveMQ's default, 100 MB); a file nothing live refers to is deleted.
    pub log_size: u64,
    /// `sendFailIfNoSpaceAfterTimeout`: how long a producer waits for memory or store space
    /// before its send fails with an error.
    #[serde(with = "humantime_serde")]
    pub send_fail_if_no_space_after_timeout: Duration,
    /// `<constantPendingMessageLimitStrategy limit>`: messages a slow topic subscriber may
    /// have waiting beyond its prefetch before the oldest are discarded.
    pub pending_message_limit: usize,
    /// Messages one transaction may hold before it is refused (its bytes also count
    /// against `memoryLimit`).
    pub transaction_limit: usize,
    /// Where mqsim keeps per-node directories, logs and its control socket (relative to this file).
    pub state_dir: PathBuf,
    /// How long `mqsim up` waits for a master before it gives up.
    #[serde(with = "humantime_serde")]
    pub up_timeout: Duration,
    /// `<transportConnector uri="...?maximumConnections=1000">`: per connector.
    pub maximum_connections: usize,
    /// `wireFormat.maxFrameSize`: the largest frame accepted, bytes.
    pub max_frame_size: usize,
    /// The supervisor's cluster dashboard (HTTP, on `[console] host`).
    pub dashboard_port: Spanned<u16>,
    /// Multi-host only (members on other machines): the TCP port each host's supervisor
    /// serves fault verbs and status on for the other hosts, on that host's address,
    /// authenticated with `securityToken` (crate::hosts::remote). Unused on one machine.
    pub control_port: u16,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            broker_name: "localhost".into(),
            replicas: 3,
            zk_path: "/activemq/leveldb-stores".into(),
            sync: SyncSetting::parse("local_disk").expect("a valid sync"),
            zk_session_timeout: Duration::from_secs(2),
            zk_password: Some("password".into()),
            security_token: String::new(),
            insecure_replication: false,
            memory_limit: 64 << 20,
            store_limit: 10 << 30,
            log_size: crate::store::journal::DEFAULT_LOG_SIZE,
            send_fail_if_no_space_after_timeout: Duration::from_secs(10),
            pending_message_limit: 1000,
            transaction_limit: 10_000,
            state_dir: PathBuf::from("mq_cluster"),
            up_timeout: Duration::from_secs(60),
            maximum_connections: 1000,
            max_frame_size: 104_857_600,
            dashboard_port: Spanned::new(0..0, 8160),
            control_port: 8169,
        }
    }
}

/// One `[[user]]`: ActiveMQ's `<authenticationUser username password groups>`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct User {
    pub username: String,
    pub password: String,
    /// Comma-separated, as in activemq.xml (`admins,publishers`); recorded, not yet enforced.
    #[serde(default)]
    pub groups: String,
}

/// The nodes' web consoles and the dashboard, like ActiveMQ's `jetty.xml` and
/// `jetty-realm.properties`: bound to localhost, BASIC auth `admin`/`admin`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Console {
    /// Address every console and the dashboard bind to (jetty.xml's `host`).
    pub host: IpAddr,
    /// BASIC auth user for every console page, API and the dashboard.
    pub user: String,
    pub password: String,
    /// Extra names browsers may use in `Host` for the consoles and the dashboard (beyond IP
    /// addresses, `localhost`, this machine's hostname and every node's `hostname`); `"*"`
    /// turns the check (the DNS-rebinding defence) off. See `web::guard`.
    pub allowed_hosts: Vec<String>,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            user: "admin".into(),
            password: "admin".into(),
            allowed_hosts: Vec::new(),
        }
    }
}

/// The ZooKeeper ensemble: managed by mqsim (default) or external (`connect`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ZooKeeper {
    /// External ensemble `host:port,...`; when set, mqsim starts no ZooKeeper.
    pub connect: Option<String>,
    pub tick_time: u64,
    pub init_limit: u32,
    pub sync_limit: u32,
    /// JVM flags for each managed server (the "light" profile of anchor-baseline.md).
    pub jvm_flags: String,
    /// Overrides `$ZOOKEEPER_HOME` and the Debian paths.
    pub home: Option<PathBuf>,
    #[serde(rename = "server")]
    pub servers: Vec<ZkServer>,
}

impl Default for ZooKeeper {
    fn default() -> Self {
        ZooKeeper {
            connect: None,
            tick_time: 500,
            init_limit: 10,
            sync_limit: 5,
            jvm_flags: "-Xms16m -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss256k \
                        -XX:ReservedCodeCacheSize=32m -XX:MaxMetaspaceSize=64m"
                .into(),
            home: None,
            servers: (1..=3)
                .map(|i| ZkServer {
                    name: format!("zk{i:02}"),
                    host: default_listen(),
                    client_port: Spanned::new(0..0, 2180 + i as u16),
                    quorum_port: Spanned::new(0..0, 2887 + i as u16),
                    election_port: Spanned::new(0..0, 3887 + i as u16),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ZkServer {
    pub name: String,
    /// The address this server listens on (`clientPortAddress`, and its `server.N=` line in
    /// every `zoo.cfg`). On one machine `127.0.0.1` with distinct ports; for the multi-host
    /// layout `127.0.1.1`..`127.0.1.3` with identical ports (docs/examples/multihost.toml).
    #[serde(default = "default_listen")]
    pub host: IpAddr,
    pub client_port: Spanned<u16>,
    pub quorum_port: Spanned<u16>,
    pub election_port: Spanned<u16>,
}

/// One broker node (`mq_nodeNN` in the notes).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Node {
    /// `node01`; its directory is `mq_node01/`.
    pub name: String,
    /// Must equal `cluster.brokerName` when given (the notes: all three must match).
    #[serde(default)]
    pub broker_name: Option<Spanned<String>>,
    /// Host put in the advertised replication address `tcp://<hostname>:<port>`.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// Address the client ports listen on (the console binds `consoleHost`).
    #[serde(default = "default_listen")]
    pub listen: IpAddr,
    /// Address this node's web console binds (its own jetty.xml `host`); default `[console] host`.
    #[serde(default)]
    pub console_host: Option<IpAddr>,
    /// Replication server address when master, `tcp://host:port`, parsed when the file is read.
    pub bind: Spanned<Bind>,
    pub openwire: Spanned<u16>,
    pub stomp: Spanned<u16>,
    pub console: Spanned<u16>,
    /// Data directory, relative to the node directory.
    #[serde(default = "default_directory")]
    pub directory: PathBuf,
    /// Tie-breaker among nodes with equal position (higher wins).
    #[serde(default = "default_weight")]
    pub weight: i32,
}

fn default_hostname() -> String {
    "localhost".into()
}
fn default_listen() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}
fn default_directory() -> PathBuf {
    PathBuf::from("activemq-data")
}
fn default_weight() -> i32 {
    1
}

fn default_nodes() -> Vec<Node> {
    (1..=3u16)
        .map(|i| Node {
            name: format!("node{i:02}"),
            broker_name: None,
            hostname: default_hostname(),
            listen: default_listen(),
            console_host: None,
            bind: Spanned::new(0..0, Bind::parse(&format!("tcp://127.0.0.1:{}", 63630 + i)).expect("a valid bind")),
            openwire: Spanned::new(0..0, 61615 + i),
            stomp: Spanned::new(0..0, 61603 + 10 * i),
            console: Spanned::new(0..0, 8160 + i),
            directory: default_directory(),
            weight: 1,
        })
        .collect()
}

/// The `sync` attribute as written (`quorum_mem`) and as meant ([`SyncMode`]), parsed once
/// when the file is read: a bad token is a TOML error with its line and column.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct SyncSetting {
    text: String,
    pub mode: SyncMode,
}

impl SyncSetting {
    pub fn parse(text: &str) -> std::result::Result<SyncSetting, String> {
        Ok(SyncSetting { text: text.trim().to_string(), mode: SyncMode::parse(text)? })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for SyncSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for SyncSetting {
    type Error = String;
    fn try_from(text: String) -> std::result::Result<Self, String> {
        SyncSetting::parse(&text)
    }
}

impl From<SyncSetting> for String {
    fn from(s: SyncSetting) -> String {
        s.text
    }
}

/// A node's replication `bind`, `tcp://127.0.0.1:63631`: as written and as an address,
/// parsed once when the file is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bind {
    text: String,
    pub addr: IpAddr,
    pub port: u16,
}

impl Bind {
    pub fn parse(text: &str) -> std::result::Result<Bind, String> {
        let (addr, port) = parse_bind(text)?;
        Ok(Bind { text: text.to_string(), addr, port })
    }
}

impl std::fmt::Display for Bind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for Bind {
    type Error = String;
    fn try_from(text: String) -> std::result::Result<Self, String> {
        Bind::parse(&text)
    }
}

impl From<Bind> for String {
    fn from(b: Bind) -> String {
        b.text
    }
}

/// A port and what it is for, used by the pre-flight check and by error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortUse {
    pub port: u16,
    pub addr: IpAddr,
    pub what: String,
    span: std::ops::Range<usize>,
}

impl Config {
    /// Reads and validates a file; every error names the file, line and column.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_owned(),
            message: format!("cannot read it: {e} (pass --config with the path of a cluster.toml)"),
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut config: Config = toml::from_str(text)
            .map_err(|e| Error::Config { path: path.to_owned(), message: format_toml_error(&e, text) })?;
        config.source = path.to_owned();
        // `zkPassword = ""` is the explicit opt-out: no digest auth, open znode ACLs.
        if config.cluster.zk_password.as_deref() == Some("") {
            config.cluster.zk_password = None;
        }
        config.validate(text)?;
        Ok(config)
    }

    fn err_at(&self, text: &str, span: &std::ops::Range<usize>, message: String) -> Error {
        let message = if span.is_empty() && span.start == 0 {
            message
        } else {
            let (line, col) = line_col(text, span.start);
            format!("line {line}, column {col}: {message}")
        };
        Error::Config { path: self.source.clone(), message }
    }

    /// Said when `replicas` is more than the nodes listed (None when it is not): what the
    /// quorum then means. An error when no election can succeed, a warning otherwise
    /// (ActiveMQ allowed it, e.g. for a node not deployed yet).
    fn replicas_meaning(&self) -> Option<String> {
        let (r, n) = (self.cluster.replicas, self.nodes.len());
        if r <= n {
            return None;
        }
        let q = r / 2 + 1;
        let meaning = if q > n {
            "no election can ever succeed".to_string()
        } else if q == n {
            format!("every one of the {n} nodes must be up to elect a master, and losing any one stops the cluster")
        } else {
            format!("{q} of the {n} nodes must be up to elect a master")
        };
        Some(format!(
            "cluster.replicas is {r} but this file lists {n} [[node]] entries: the quorum is replicas/2+1 = {q}, \
             so {meaning}. Set replicas = {n} (the notes: 3 nodes, replicas=\"3\"), or add nodes."
        ))
    }

    /// What is allowed but probably not meant; `up` and `config show` print these.
    pub fn warnings(&self) -> Vec<String> {
        self.replicas_meaning().into_iter().collect()
    }

    fn validate(&self, text: &str) -> Result<()> {
        let c = &self.cluster;
        let bad = |m: String| Error::Config { path: self.source.clone(), message: m };
        if c.broker_name.trim().is_empty() {
            return Err(bad("cluster.brokerName must not be empty".into()));
        }
        if c.replicas == 0 {
            return Err(bad("cluster.replicas must be at least 1 (the notes use 3)".into()));
        }
        if !c.zk_path.starts_with('/') || c.zk_path.len() < 2 || c.zk_path.ends_with('/') {
            return Err(bad(format!(
                "cluster.zkPath `{}` must be an absolute znode path without a trailing slash, e.g. \"/activemq/leveldb-stores\"",
                c.zk_path
            )));
        }
        if !(1..=crate::limits::MAX_CONNECTIONS).contains(&c.maximum_connections) {
            return Err(bad(format!(
                "cluster.maximumConnections must be between 1 and {} (the notes use 1000)",
                crate::limits::MAX_CONNECTIONS
            )));
        }
        if !(1024..=crate::limits::MAX_FRAME_SIZE).contains(&c.max_frame_size) {
            return Err(bad(format!(
                "cluster.maxFrameSize must be between 1024 and {} bytes (the notes use 104857600)",
                crate::limits::MAX_FRAME_SIZE
            )));
        }
        if c.log_size < 4096 {
            return Err(bad("cluster.logSize must be at least 4096 bytes (ActiveMQ's default is 104857600)".into()));
        }
        if c.memory_limit < 1 << 20 || c.store_limit < 1 << 20 {
            return Err(
                bad("cluster.memoryLimit and cluster.storeLimit must be at least 1048576 bytes (1 MiB)".into()),
            );
        }
        if c.pending_message_limit == 0 || c.transaction_limit == 0 {
            return Err(bad("cluster.pendingMessageLimit and cluster.transactionLimit must be at least 1".into()));
        }
        let mut users = BTreeMap::new();
        for u in &self.users {
            if u.username.is_empty() || u.password.is_empty() || u.username.len() > crate::limits::MAX_CLIENT_ID {
                return Err(bad(format!(
                    "[[user]] `{}`: username and password must not be empty, and the username at most {} bytes",
                    u.username,
                    crate::limits::MAX_CLIENT_ID
                )));
            }
            if users.insert(u.username.as_str(), ()).is_some() {
                return Err(bad(format!("[[user]] `{}` is listed twice", u.username)));
            }
        }
        if c.zk_session_timeout < Duration::from_millis(100) {
            return Err(bad("cluster.zkSessionTimeout is too small (use e.g. \"2s\")".into()));
        }
        if self.console.user.is_empty() || self.console.user.contains(':') {
            return Err(bad("console.user must not be empty or contain ':' (BASIC auth)".into()));
        }
        if self.nodes.is_empty() {
            return Err(bad("at least one [[node]] is needed".into()));
        }
        if c.replicas / 2 + 1 > self.nodes.len() {
            let at = text.find("\nreplicas").map_or(0..0, |i| i + 1..i + 9);
            return Err(self.err_at(text, &at, self.replicas_meaning().unwrap_or_default()));
        }
        let mut names = BTreeMap::new();
        for n in &self.nodes {
            if !valid_name(&n.name) {
                return Err(bad(format!("node name `{}` must be letters, digits, '-' or '_' (e.g. node01)", n.name)));
            }
            if names.insert(n.name.as_str(), ()).is_some() {
                return Err(bad(format!("node name `{}` is used twice", n.name)));
            }
            if let Some(b) = &n.broker_name
                && b.get_ref() != &c.broker_name
            {
                return Err(self.err_at(
                    text,
                    &b.span(),
                    format!(
                        "node {} has brokerName \"{}\" but cluster.brokerName is \"{}\". \
                         All brokers of one replication set must share one brokerName: it is their group id \
                         in ZooKeeper, and nodes with another name would never see each other and never elect \
                         a master. Use the same value (or delete the node's brokerName line).",
                        n.name,
                        b.get_ref(),
                        c.broker_name
                    ),
                ));
            }
        }
        if self.zookeeper.connect.is_none() {
            if self.zookeeper.servers.is_empty() {
                return Err(bad("[zookeeper] needs at least one [[zookeeper.server]] or a `connect` string".into()));
            }
            for s in &self.zookeeper.servers {
                if !valid_name(&s.name) || names.insert(s.name.as_str(), ()).is_some() {
                    return Err(bad(format!("ZooKeeper server name `{}` is invalid or used twice", s.name)));
                }
            }
            if self.zookeeper.tick_time < 50 {
                return Err(bad("zookeeper.tickTime must be at least 50 (ms)".into()));
            }
        }
        // A port may repeat on distinct addresses (the multi-host layout), never on one address.
        let mut seen: Vec<PortUse> = Vec::new();
        for p in self.ports() {
            if p.port == 0 {
                return Err(self.err_at(text, &p.span, format!("{} must be a fixed port, not 0", p.what)));
            }
            let clash = |q: &&PortUse| {
                q.port == p.port && (q.addr == p.addr || q.addr.is_unspecified() || p.addr.is_unspecified())
            };
            if let Some(first) = seen.iter().find(clash) {
                return Err(self.err_at(
                    text,
                    &p.span,
                    format!(
                        "port {} is used twice: by {} and by {}; give each its own port",
                        p.port, first.what, p.what
                    ),
                ));
            }
            seen.push(p);
        }
        Ok(())
    }

    /// Every port the cluster will listen on.
    pub fn ports(&self) -> Vec<PortUse> {
        let mut v = Vec::new();
        let mut push = |p: &Spanned<u16>, addr: IpAddr, what: String| {
            v.push(PortUse { port: *p.get_ref(), addr, what, span: p.span() })
        };
        if self.zookeeper.connect.is_none() {
            for s in &self.zookeeper.servers {
                push(&s.client_port, s.host, format!("{} clientPort", s.name));
                push(&s.quorum_port, s.host, format!("{} quorum port", s.name));
                push(&s.election_port, s.host, format!("{} election port", s.name));
            }
        }
        for n in &self.nodes {
            push(&n.openwire, n.listen, format!("{} openwire", n.name));
            push(&n.stomp, n.listen, format!("{} stomp", n.name));
            push(&n.console, self.console_host(n), format!("{} console", n.name));
            {
                let b = n.bind.get_ref();
                push(&Spanned::new(n.bind.span(), b.port), b.addr, format!("{} replication bind", n.name));
            }
        }
        push(&self.cluster.dashboard_port, self.console.host, "the dashboard (cluster.dashboardPort)".into());
        v
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The ZooKeeper connect string the brokers use.
    pub fn zk_connect(&self) -> String {
        match &self.zookeeper.connect {
            Some(c) => c.clone(),
            None => self
                .zookeeper
                .servers
                .iter()
                .map(|s| std::net::SocketAddr::new(s.host, *s.client_port.get_ref()).to_string())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The state directory, resolved against the config file's directory.
    pub fn state_dir(&self) -> PathBuf {
        let base = self.source.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let dir = base.join(&self.cluster.state_dir);
        std::path::absolute(&dir).unwrap_or(dir)
    }

    /// `replicas/2 + 1`: registered members needed to elect.
    pub fn quorum(&self) -> usize {
        self.cluster.replicas / 2 + 1
    }

    /// The failover URL a client should use (the notes' `randomize=false` form).
    pub fn failover_url(&self) -> String {
        let uris: Vec<String> =
            self.nodes.iter().map(|n| format!("tcp://{}:{}", host_of(n.listen), n.openwire.get_ref())).collect();
        format!("failover:({})?randomize=false", uris.join(","))
    }

    /// The supervisor's dashboard, `http://127.0.0.1:8160/`.
    pub fn dashboard_url(&self) -> String {
        format!("http://{}/", http_host(self.console.host, *self.cluster.dashboard_port.get_ref()))
    }

    /// A node's web console, `http://127.0.0.1:8161/admin/`.
    pub fn console_url(&self, node: &Node) -> String {
        format!("http://{}/admin/", http_host(self.console_host(node), *node.console.get_ref()))
    }

    /// The address a node's console binds: its `consoleHost`, else `[console] host`.
    pub fn console_host(&self, node: &Node) -> IpAddr {
        node.console_host.unwrap_or(self.console.host)
    }

    pub fn stomp_failover_url(&self) -> String {
        let uris: Vec<String> =
            self.nodes.iter().map(|n| format!("tcp://{}:{}", host_of(n.listen), n.stomp.get_ref())).collect();
        format!("failover:({})?randomize=false", uris.join(","))
    }
}

/// `127.0.0.1:8161` or `[::1]:8161` for a URL (an unspecified address becomes loopback).
pub fn http_host(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V6(a) if !a.is_unspecified() => format!("[{a}]:{port}"),
        a => format!("{}:{port}", host_of(a)),
    }
}

fn host_of(addr: IpAddr) -> String {
    if addr.is_unspecified() { "127.0.0.1".into() } else { addr.to_string() }
}

/// A complete `cluster.toml` on 23 consecutive ports from `base` (for tests and benchmarks):
/// ZooKeeper client/quorum/election ports `base..base+9`, then per node replication,
/// openwire, stomp and console at `base+10..base+21`, and the dashboard at `base+22`.
/// `cluster` is the `[cluster]` body.
pub fn port_block_toml(base: u16, cluster: &str, tick_ms: u64) -> String {
    let mut s = format!("[cluster]\n{cluster}\ndashboardPort = {}\n[zookeeper]\ntickTime = {tick_ms}\n", base + 22);
    for i in 0..3u16 {
        s += &format!(
            "[[zookeeper.server]]\nname = \"zk0{}\"\nclientPort = {}\nquorumPort = {}\nelectionPort = {}\n",
            i + 1,
            base + i,
            base + 3 + i,
            base + 6 + i
        );
    }
    for i in 0..3u16 {
        s += &format!(
            "[[node]]\nname = \"node0{}\"\nbind = \"tcp://127.0.0.1:{}\"\nopenwire = {}\nstomp = {}\nconsole = {}\n",
            i + 1,
            base + 10 + i,
            base + 13 + i,
            base + 16 + i,
            base + 19 + i
        );
    }
    s
}

/// `tcp://0.0.0.0:63631` → (0.0.0.0, 63631).
fn parse_bind(bind: &str) -> std::result::Result<(IpAddr, u16), String> {
    let hint = || format!("bind `{bind}` must look like \"tcp://127.0.0.1:63631\"");
    let rest = bind.strip_prefix("tcp://").ok_or_else(hint)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(hint)?;
    let addr: IpAddr = host.parse().map_err(|_| hint())?;
    let port: u16 = port.parse().map_err(|_| hint())?;
    Ok((addr, port))
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

fn format_toml_error(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim_end();
    let hint = if msg.contains("unknown field") {
        " (check the spelling: field names follow activemq.xml, e.g. brokerName, zkPath, zkSessionTimeout)"
    } else {
        ""
    };
    match e.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            let src = text.lines().nth(line - 1).unwrap_or("");
            format!("line {line}, column {col}: {msg}{hint}\n  {line:>4} | {src}\n       | {:>col$}", "^")
        }
        None => format!("{msg}{hint}"),
    }
}

#[cfg(test)]
mod tests;
