//! `mqsim config show|hosts`: what `cluster.toml` means for each process, written the way
//! the notes write it: the deployment plan table, a node's `<replicatedLevelDB>` settings and
//! the `activemq.xml` fragment a real ActiveMQ node would have, a ZooKeeper server's `zoo.cfg`,
//! and the `/etc/hosts` lines of the multi-host layout. Nothing here needs a running cluster.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::config::{Config, Node, ZkServer};
use crate::error::{Error, Result};
use crate::zookeeper::{ZkLayout, negotiated_timeout, zoo_cfg};

#[derive(Debug, Subcommand)]
pub enum ConfigOp {
    /// The deployment plan (no target), a node's effective settings, or a ZooKeeper server's zoo.cfg.
    Show {
        /// node01.., zk01.. (names from cluster.toml); none for the whole plan.
        target: Option<String>,
        /// For a node: the <broker>, <replicatedLevelDB> and <transportConnectors> of its activemq.xml.
        #[arg(long)]
        activemq_xml: bool,
        /// The plan as one JSON object (no target): cluster settings, nodes, ZooKeeper servers, URLs.
        #[arg(long, conflicts_with_all = ["target", "activemq_xml"])]
        json: bool,
    },
    /// The /etc/hosts lines that name each machine of the layout (zk1, zk2, zk3), as in the notes.
    Hosts,
}

pub fn run(config: &Config, op: ConfigOp) -> Result<()> {
    let text = match op {
        ConfigOp::Show { json: true, .. } => format!("{}\n", serde_json::to_string_pretty(&plan_json(config))?),
        ConfigOp::Show { target: None, activemq_xml: false, .. } => plan(config),
        ConfigOp::Show { target: None, activemq_xml: true, .. } => {
            return Err(Error::Target(format!(
                "--activemq-xml needs a node, e.g. `mqsim config show {} --activemq-xml`",
                config.nodes[0].name
            )));
        }
        ConfigOp::Show { target: Some(t), activemq_xml, .. } => {
            if let Some(node) = config.node(&t) {
                if activemq_xml { activemq_xml_of(config, node) } else { node_settings(config, node) }
            } else if let Some((i, s)) = zk_server(config, &t) {
                if activemq_xml {
                    return Err(Error::Target(format!("{t} is a ZooKeeper server; --activemq-xml is for nodes")));
                }
                zk_settings(config, i, s)
            } else {
                let mut names: Vec<&str> = config.nodes.iter().map(|n| n.name.as_str()).collect();
                if config.zookeeper.connect.is_none() {
                    names.extend(config.zookeeper.servers.iter().map(|s| s.name.as_str()));
                }
                return Err(Error::Target(format!(
                    "no node or ZooKeeper server named `{t}` in {}; use one of {}",
                    config.source.display(),
                    names.join(", ")
                )));
            }
        }
        ConfigOp::Hosts => hosts(config),
    };
    print!("{text}");
    Ok(())
}

fn zk_server<'a>(config: &'a Config, name: &str) -> Option<(usize, &'a ZkServer)> {
    if config.zookeeper.connect.is_some() {
        return None;
    }
    config.zookeeper.servers.iter().enumerate().find(|(_, s)| s.name == name).map(|(i, s)| (i + 1, s))
}

/// `p` relative to the current directory when it is inside it (`mq_cluster/zk01`), else absolute;
/// `..` components are resolved by name.
fn rel(_config: &Config, p: &Path) -> String {
    let normal = |p: &Path| {
        let mut out = PathBuf::new();
        for c in std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                c => out.push(c),
            }
        }
        out
    };
    let p = normal(p);
    let cwd = normal(Path::new("."));
    p.strip_prefix(&cwd).unwrap_or(&p).display().to_string()
}

fn node_dir(config: &Config, node: &Node) -> PathBuf {
    config.state_dir().join(format!("mq_{}", node.name))
}

/// `127.0.0.1:2181,...` in the host:port form ActiveMQ's `zkAddress` takes.
fn zk_address(config: &Config) -> String {
    config.zk_connect()
}

/// `tcp://127.0.0.1:61616?maximumConnections=1000&wireFormat.maxFrameSize=104857600`.
fn connector_uri(config: &Config, scheme: &str, node: &Node, port: u16) -> String {
    format!(
        "{scheme}://{}?maximumConnections={}&wireFormat.maxFrameSize={}",
        std::net::SocketAddr::new(node.listen, port),
        config.cluster.maximum_connections,
        config.cluster.max_frame_size
    )
}

fn duration(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The plan for scripts: what `plan` prints, as data (no passwords or tokens).
fn plan_json(config: &Config) -> serde_json::Value {
    let c = &config.cluster;
    let nodes: Vec<_> = config
        .nodes
        .iter()
        .map(|n| {
            serde_json::json!({
                "name": n.name, "listen": n.listen, "hostname": n.hostname, "openwire": n.openwire.get_ref(),
                "stomp": n.stomp.get_ref(), "console": n.console.get_ref(), "bind": n.bind.get_ref(),
                "directory": node_dir(config, n).join(&n.directory), "weight": n.weight,
            })
        })
        .collect();
    let zookeeper: Vec<_> = match &config.zookeeper.connect {
        Some(_) => Vec::new(),
        None => config
            .zookeeper
            .servers
            .iter()
            .map(|z| {
                serde_json::json!({
                    "name": z.name, "host": z.host, "clientPort": z.client_port.get_ref(),
                    "quorumPort": z.quorum_port.get_ref(), "electionPort": z.election_port.get_ref(),
                    "directory": ZkLayout::new(&config.state_dir(), &z.name).dir,
                })
            })
            .collect(),
    };
    serde_json::json!({
        "source": config.source, "brokerName": c.broker_name, "replicas": c.replicas, "quorum": config.quorum(),
        "zkPath": c.zk_path, "sync": c.sync, "zkAddress": config.zk_connect(),
        "external_zookeeper": config.zookeeper.connect.is_some(), "nodes": nodes, "zookeeper": zookeeper,
        "failover_url": config.failover_url(), "stomp_failover_url": config.stomp_failover_url(),
        "dashboard": config.dashboard_url(), "state_dir": config.state_dir(), "warnings": config.warnings(),
    })
}

/// The notes' "集群部署规划列表": every process, its ports and its directory.
fn plan(config: &Config) -> String {
    let c = &config.cluster;
    let mut s = format!(
        "Cluster `{}` from {}: replicas {} (quorum {}), zkPath {}, sync {}\n\n",
        c.broker_name,
        config.source.display(),
        c.replicas,
        config.quorum(),
        c.zk_path,
        c.sync
    );
    for w in config.warnings() {
        s.push_str(&format!("warning: {w}\n\n"));
    }
    let mut rows = vec![[
        "NODE".to_string(),
        "LISTEN".into(),
        "OPENWIRE".into(),
        "STOMP".into(),
        "CONSOLE".into(),
        "REPLICATION BIND".into(),
        "DIRECTORY".into(),
    ]];
    for n in &config.nodes {
        rows.push([
            n.name.clone(),
            n.listen.to_string(),
            n.openwire.get_ref().to_string(),
            n.stomp.get_ref().to_string(),
            n.console.get_ref().to_string(),
            n.bind.get_ref().to_string(),
            rel(config, &node_dir(config, n).join(&n.directory)),
        ]);
    }
    table(&mut s, &rows);
    s.push('\n');
    match &config.zookeeper.connect {
        Some(connect) => {
            let _ = writeln!(s, "ZooKeeper: external ensemble {connect} (mqsim starts none)");
        }
        None => {
            let mut rows = vec![[
                "ZOOKEEPER".to_string(),
                "HOST".into(),
                "CLIENT PORT".into(),
                "QUORUM".into(),
                "ELECTION".into(),
                "DIRECTORY".into(),
            ]];
            for z in &config.zookeeper.servers {
                rows.push([
                    z.name.clone(),
                    z.host.to_string(),
                    z.client_port.get_ref().to_string(),
                    z.quorum_port.get_ref().to_string(),
                    z.election_port.get_ref().to_string(),
                    rel(config, &ZkLayout::new(&config.state_dir(), &z.name).dir),
                ]);
            }
            table(&mut s, &rows);
        }
    }
    let _ = writeln!(s, "\nDashboard: {}", config.dashboard_url());
    let _ = writeln!(s, "Failover URL: {}", config.failover_url());
    s
}

/// Left-aligned columns, two spaces apart, no trailing spaces.
fn table<const N: usize>(s: &mut String, rows: &[[String; N]]) {
    let widths: Vec<usize> = (0..N).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
}

/// A node's settings, named like `<replicatedLevelDB>` attributes.
fn node_settings(config: &Config, node: &Node) -> String {
    let c = &config.cluster;
    let sync = c.sync.mode;
    let acks = c.replicas / 2;
    let sync_note = match (sync.remote, sync.local_disk) {
        (false, true) => "the master fsyncs its journal; it does not wait for slaves".to_string(),
        (false, false) => "no fsync, no wait for slaves".to_string(),
        (true, _) => format!("each synced write waits for {acks} slave ack(s)"),
    };
    let granted = negotiated_timeout(config);
    let timeout_note = if config.zookeeper.connect.is_some() {
        "as requested (external ensemble)".to_string()
    } else {
        format!(
            "granted {} (tickTime {} ms: the servers clamp to {}..{})",
            duration(granted),
            config.zookeeper.tick_time,
            duration(std::time::Duration::from_millis(2 * config.zookeeper.tick_time)),
            duration(std::time::Duration::from_millis(20 * config.zookeeper.tick_time))
        )
    };
    let bind_port = node.bind.get_ref().port;
    let dir = node_dir(config, node);
    let rows: Vec<(&str, String, String)> = vec![
        ("brokerName", c.broker_name.clone(), "<broker brokerName>: the same on every node (the group id)".into()),
        (
            "replicas",
            c.replicas.to_string(),
            format!("quorum {} registered members to elect a master", config.quorum()),
        ),
        ("zkAddress", zk_address(config), String::new()),
        ("zkPath", c.zk_path.clone(), "parent znode of the election group".into()),
        ("zkSessionTimeout", duration(c.zk_session_timeout), timeout_note),
        match &c.zk_password {
            Some(p) => ("zkPassword", p.clone(), "digest fabric:<password>; only it may write the znodes".into()),
            None => ("zkPassword", "-".into(), "no ZooKeeper auth: anyone may rewrite the znodes".into()),
        },
        ("sync", c.sync.to_string(), sync_note),
        ("hostname", node.hostname.clone(), format!("published address tcp://{}:{bind_port}", node.hostname)),
        ("bind", node.bind.get_ref().to_string(), "replication server, only while master".into()),
        ("directory", node.directory.display().to_string(), rel(config, &dir.join(&node.directory))),
        ("weight", node.weight.to_string(), "tie-breaker between equal positions".into()),
        ("openwire", connector_uri(config, "tcp", node, *node.openwire.get_ref()), String::new()),
        ("stomp", connector_uri(config, "stomp", node, *node.stomp.get_ref()), String::new()),
        ("console", config.console_url(node), format!("user {} (jetty.xml)", config.console.user)),
        ("log", rel(config, &dir.join("logs/broker.log")), String::new()),
    ];
    let mut s = format!("{} of cluster `{}` ({})\n", node.name, c.broker_name, config.source.display());
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let v = rows.iter().filter(|r| !r.2.is_empty()).map(|r| r.1.chars().count()).max().unwrap_or(0).min(44);
    for (k, val, note) in rows {
        let line = if note.is_empty() { format!("  {k:<w$}  {val}") } else { format!("  {k:<w$}  {val:<v$}  {note}") };
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s.push_str("Only the master opens openwire and stomp; `--activemq-xml` shows these as activemq.xml.\n");
    s
}

/// A ZooKeeper server: its directory, myid and the zoo.cfg mqsim writes.
fn zk_settings(config: &Config, myid: usize, server: &ZkServer) -> String {
    let layout = ZkLayout::new(&config.state_dir(), &server.name);
    let mut s = format!(
        "{}: {} (myid {myid} in {})\n",
        server.name,
        rel(config, &layout.cfg),
        rel(config, &layout.data.join("myid"))
    );
    s.push_str(&zoo_cfg(config, myid, &layout));
    s
}

fn xml_attr(v: &str) -> String {
    v.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The fragment of `mq_nodeNN/conf/activemq.xml` (and jetty.xml) this node stands for.
fn activemq_xml_of(config: &Config, node: &Node) -> String {
    let c = &config.cluster;
    let mut attrs: Vec<(&str, String)> = vec![
        ("directory", node.directory.display().to_string()),
        ("replicas", c.replicas.to_string()),
        ("bind", node.bind.get_ref().to_string()),
        ("zkAddress", zk_address(config)),
    ];
    if let Some(p) = &c.zk_password {
        attrs.push(("zkPassword", p.clone()));
    }
    attrs.push(("zkPath", c.zk_path.clone()));
    attrs.push(("zkSessionTimeout", duration(c.zk_session_timeout)));
    attrs.push(("hostname", node.hostname.clone()));
    attrs.push(("sync", c.sync.to_string()));
    if node.weight != 1 {
        attrs.push(("weight", node.weight.to_string()));
    }
    if !c.security_token.is_empty() {
        attrs.push(("securityToken", c.security_token.clone()));
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!-- mq_{}/conf/activemq.xml (ActiveMQ 5.9-5.16), from {} -->",
        node.name,
        config.source.display()
    );
    let _ = writeln!(
        s,
        "<broker xmlns=\"http://activemq.apache.org/schema/core\" brokerName=\"{}\" dataDirectory=\"${{activemq.data}}\">",
        xml_attr(&c.broker_name)
    );
    s.push_str("\n  <persistenceAdapter>\n    <replicatedLevelDB\n");
    for (k, v) in attrs {
        let _ = writeln!(s, "      {k}=\"{}\"", xml_attr(&v));
    }
    s.push_str("      />\n  </persistenceAdapter>\n\n  <transportConnectors>\n");
    s.push_str("    <!-- DOS protection, limit concurrent connections to 1000 and frame size to 100MB -->\n");
    for (name, scheme, port) in
        [("openwire", "tcp", *node.openwire.get_ref()), ("stomp", "stomp", *node.stomp.get_ref())]
    {
        let _ = writeln!(
            s,
            "    <transportConnector name=\"{name}\" uri=\"{}\"/>",
            xml_attr(&connector_uri(config, scheme, node, port))
        );
    }
    s.push_str("  </transportConnectors>\n\n</broker>\n");
    let _ = writeln!(
        s,
        "<!-- mq_{}/conf/jetty.xml, bean jettyPort: <property name=\"host\" value=\"{}\"/> <property name=\"port\" value=\"{}\"/> -->",
        node.name,
        config.console_host(node),
        node.console.get_ref()
    );
    s
}

/// One `/etc/hosts` line per machine address: machine N runs zkNN and nodeNN, named `zkN`
/// as in the notes (or the node's `hostname` when that is a real name).
fn hosts(config: &Config) -> String {
    let managed = config.zookeeper.connect.is_none();
    let n = config.nodes.len().max(if managed { config.zookeeper.servers.len() } else { 0 });
    let mut lines: Vec<(IpAddr, Vec<String>)> = Vec::new();
    for i in 0..n {
        let node = config.nodes.get(i);
        let zk = if managed { config.zookeeper.servers.get(i) } else { None };
        let addr = node
            .map(|n| n.listen)
            .filter(|a| !a.is_unspecified())
            .or(zk.map(|z| z.host))
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let name = node
            .map(|n| n.hostname.clone())
            .filter(|h| h != "localhost" && h.parse::<IpAddr>().is_err())
            .unwrap_or_else(|| format!("zk{}", i + 1));
        match lines.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, names)) if !names.contains(&name) => names.push(name),
            Some(_) => {}
            None => lines.push((addr, vec![name])),
        }
    }
    let mut s = format!(
        "# /etc/hosts lines for {} (machine N runs zk0N and node0N)\n",
        config.source.file_name().map_or_else(|| config.source.display().to_string(), |f| f.to_string_lossy().into())
    );
    for (addr, names) in lines {
        let _ = writeln!(s, "{addr} {}", names.join(" "));
    }
    // A layout on real machines (not loopback): the ports to open and what else they need.
    if crate::hosts::members(config).iter().any(|(_, a)| !a.is_loopback() && !a.is_unspecified()) {
        s.push_str(&crate::hosts::requirements(config));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> Config {
        Config::parse("", Path::new("/x/cluster.toml")).unwrap()
    }

    #[test]
    fn activemq_xml_has_the_notes_attributes() {
        let c = default();
        let x = activemq_xml_of(&c, &c.nodes[1]);
        assert!(x.contains("brokerName=\"localhost\""), "{x}");
        assert!(x.contains("bind=\"tcp://127.0.0.1:63632\""), "{x}");
        assert!(x.contains("zkAddress=\"127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183\""), "{x}");
        assert!(x.contains("zkPath=\"/activemq/leveldb-stores\""), "{x}");
        assert!(x.contains("sync=\"local_disk\""), "{x}");
        assert!(
            x.contains("tcp://127.0.0.1:61617?maximumConnections=1000&amp;wireFormat.maxFrameSize=104857600"),
            "{x}"
        );
        assert!(x.contains("value=\"8162\""), "{x}");
        assert!(x.contains("zkPassword=\"password\""), "the notes set zkPassword: {x}");
    }

    #[test]
    fn plan_and_settings_use_relative_directories() {
        let c = default();
        let p = plan(&c);
        assert!(p.contains("mq_cluster/mq_node03/activemq-data"), "{p}");
        assert!(p.contains("mq_cluster/zk02"), "{p}");
        let s = node_settings(&c, &c.nodes[0]);
        assert!(s.contains("granted 2s"), "{s}");
        assert!(s.lines().all(|l| l == l.trim_end()), "{s}");
    }

    #[test]
    fn hosts_lines() {
        assert_eq!(hosts(&default()).lines().nth(1), Some("127.0.0.1 zk1 zk2 zk3"));
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/multihost.toml");
        let c = Config::load(&path).unwrap();
        let h = hosts(&c);
        assert_eq!(h.lines().skip(1).collect::<Vec<_>>(), ["127.0.1.1 zk1", "127.0.1.2 zk2", "127.0.1.3 zk3"]);
    }
}
