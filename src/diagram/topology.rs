//! The live topology picture: ZooKeeper servers on top, brokers below, clients at the bottom.
//!
//! [`Topology::from_status`] takes `mqsim status` plus two things status does not carry:
//! which ZooKeeper server holds each session (the dashboard asks every server `cons`, a
//! whitelisted four-letter word, and matches `sid=0x…` with the session id each broker
//! reports) and how many client connections each broker has (the dashboard counts the
//! established TCP connections on its STOMP and OpenWire ports in `/proc/net/tcp`). Either
//! may be missing; the picture then says "not known" instead of guessing.
//! [`render`] draws it: a line from each broker to its ZooKeeper server, a curved arrow
//! from the master to each slave labelled with the slave's lag in bytes, a line from the
//! clients to each broker that holds connections.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::{clip, inline_styles, xml};
use crate::status::{ClusterStatus, Phase, wire_enum};

wire_enum! {
    /// What the dashboard and this picture call a broker: its role while it runs, else
    /// paused or down ([`crate::dashboard::broker_state`]).
    pub enum BrokerState {
        Master = "master",
        Slave = "slave",
        Electing = "electing",
        /// Running, no status report yet (or a role this build does not know).
        Starting = "starting",
        Paused = "paused",
        /// Not running: stopped, exited or killed.
        Down = "down",
    }
}

wire_enum! {
    /// What they call a ZooKeeper server: its mode while it serves, else paused or down
    /// ([`crate::dashboard::zk_state`]).
    pub enum ZkState {
        Leader = "leader",
        Follower = "follower",
        Standalone = "standalone",
        Observer = "observer",
        Paused = "paused",
        /// Not running, or running but not serving.
        Down = "down",
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ZkServer {
    pub name: String,
    /// `leader`, `follower`, `standalone`, `observer`, `paused` or `down`.
    pub state: ZkState,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Broker {
    pub name: String,
    /// `master`, `slave`, `electing`, `starting`, `paused` or `down`.
    pub role: BrokerState,
    /// A master that does not serve clients yet (slaves catching up).
    pub serving: bool,
    pub position: Option<i64>,
    /// The ZooKeeper session id, `0x…`.
    pub session: Option<String>,
    /// The ZooKeeper server that session is connected to, when known.
    pub zk_server: Option<String>,
    /// Established client connections (STOMP + OpenWire), when known.
    pub clients: Option<usize>,
    /// `zk`, `peers` or `zk+peers` while partitioned.
    pub partitioned: Option<String>,
    /// A slave's replication phase (`connecting`, `attaching`, `attached`).
    pub replication: Option<Phase>,
}

/// Master → slave, as the master reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Link {
    pub master: String,
    pub slave: String,
    /// Bytes the slave's acknowledged position is behind the master's journal end.
    pub lag: u64,
    pub acked: u64,
    pub caught_up: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Topology {
    pub broker_name: String,
    pub zookeeper: Vec<ZkServer>,
    pub brokers: Vec<Broker>,
    pub links: Vec<Link>,
    /// The serving master, if any.
    pub master: Option<String>,
}

impl Topology {
    /// `sessions`: session id (`0x…`) → ZooKeeper server name; `clients`: broker name →
    /// established client connections. Either may be empty (then "not known").
    pub fn from_status(
        st: &ClusterStatus,
        sessions: &BTreeMap<String, String>,
        clients: &BTreeMap<String, usize>,
    ) -> Topology {
        let zookeeper = st
            .zookeeper
            .iter()
            .map(|z| ZkServer { name: z.name.clone(), state: crate::dashboard::zk_state(z) })
            .collect();
        let mut links = Vec::new();
        let brokers = st
            .nodes
            .iter()
            .map(|n| {
                let role = crate::dashboard::broker_state(n);
                if role == BrokerState::Master {
                    for s in &n.slaves {
                        links.push(Link {
                            master: n.name.clone(),
                            slave: s.node_id.clone(),
                            lag: crate::console::lag(n.position.unwrap_or(0), s.acked),
                            acked: s.acked,
                            caught_up: s.caught_up,
                        });
                    }
                }
                let running = n.pid.is_some();
                Broker {
                    name: n.name.clone(),
                    serving: n.serving,
                    position: n.position,
                    session: n.session.clone().filter(|_| running),
                    zk_server: n.session.as_ref().filter(|_| running).and_then(|s| sessions.get(s)).cloned(),
                    clients: clients.get(&n.name).copied(),
                    partitioned: n.partitioned.clone(),
                    replication: if role == BrokerState::Slave { n.replication.clone() } else { None },
                    role,
                }
            })
            .collect();
        Topology { broker_name: st.broker_name.clone(), zookeeper, brokers, links, master: st.master.clone() }
    }
}

const W_ZK: f64 = 150.0;
const W_BR: f64 = 190.0;
const H_BR: f64 = 92.0;
const Y_ZK: f64 = 48.0;
const Y_BR: f64 = 200.0;

fn centers(n: usize, width: f64) -> Vec<f64> {
    (0..n).map(|i| width * (i as f64 + 0.5) / n.max(1) as f64).collect()
}

/// The picture, a standalone SVG document. The root carries `data-master` (the serving
/// master, empty if none) for scripts and tests.
pub fn render(t: &Topology) -> String {
    let width = (t.brokers.len().max(t.zookeeper.len()) as f64 * 230.0).max(720.0);
    let height = 530.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dg-topology\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" data-master=\"{m}\" role=\"img\" aria-label=\"cluster topology: master {ml}\">\
         <title>{b}: topology (master {ml})</title>\
         <defs><marker id=\"dg-topo-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" \
         orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#5863b8\"/></marker></defs>\
         <rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#fbfcfd\"/>",
        m = xml(t.master.as_deref().unwrap_or("")),
        ml = xml(t.master.as_deref().unwrap_or("none")),
        b = xml(&t.broker_name),
    );
    let _ = write!(s, "<text class=\"dg-h\" x=\"12\" y=\"22\">ZooKeeper ensemble</text>");

    // ZooKeeper servers.
    let zx = centers(t.zookeeper.len(), width);
    let mut zk_at = BTreeMap::new();
    for (z, x) in t.zookeeper.iter().zip(&zx) {
        zk_at.insert(z.name.as_str(), *x);
        let class = match z.state {
            ZkState::Leader | ZkState::Standalone => "dg-leader",
            ZkState::Follower | ZkState::Observer => "dg-follower",
            ZkState::Paused => "dg-paused",
            _ => "dg-down",
        };
        let _ = write!(
            s,
            "<g class=\"dg-zk\" data-zk=\"{n}\" data-state=\"{st}\"><rect class=\"{class}\" x=\"{x0}\" y=\"{Y_ZK}\" width=\"{W_ZK}\" \
             height=\"56\" rx=\"8\"/><text class=\"dg-t\" x=\"{x}\" y=\"{y1}\" text-anchor=\"middle\" font-weight=\"bold\">{n}</text>\
             <text class=\"dg-s\" x=\"{x}\" y=\"{y2}\" text-anchor=\"middle\">{st}</text></g>",
            n = xml(&clip(&z.name, 20)),
            st = xml(z.state.as_str()),
            x0 = x - W_ZK / 2.0,
            y1 = Y_ZK + 23.0,
            y2 = Y_ZK + 42.0,
        );
    }

    // Brokers, and each session's line up to its server.
    let _ = write!(s, "<text class=\"dg-h\" x=\"12\" y=\"{}\">Brokers</text>", Y_BR - 14.0);
    let bx = centers(t.brokers.len(), width);
    let mut br_at = BTreeMap::new();
    for (b, x) in t.brokers.iter().zip(&bx) {
        br_at.insert(b.name.as_str(), *x);
        if let Some(zx) = b.zk_server.as_deref().and_then(|z| zk_at.get(z)) {
            let _ = write!(s, "<line class=\"dg-sess\" x1=\"{x}\" y1=\"{Y_BR}\" x2=\"{zx}\" y2=\"{}\"/>", Y_ZK + 56.0);
        }
    }
    for (b, x) in t.brokers.iter().zip(&bx) {
        let class = match b.role {
            BrokerState::Master => "dg-master",
            BrokerState::Slave => "dg-slave",
            BrokerState::Electing => "dg-electing",
            BrokerState::Starting => "dg-starting",
            BrokerState::Paused => "dg-paused",
            _ => "dg-down",
        };
        let role = match (&b.role, b.serving) {
            (BrokerState::Master, true) => "MASTER".to_string(),
            (BrokerState::Master, false) => "master (not serving yet)".to_string(),
            (BrokerState::Slave, _) => {
                format!("slave{}", b.replication.as_ref().map(|r| format!(" · {r}")).unwrap_or_default())
            }
            (r, _) => r.to_string(),
        };
        let session = match (&b.session, &b.zk_server) {
            (Some(_), Some(z)) => format!("ZK session on {z}"),
            (Some(_), None) => "ZK session: server not known".to_string(),
            (None, _) if b.role == BrokerState::Down => String::new(),
            (None, _) => "no ZK session".to_string(),
        };
        let pos = b.position.map(|p| format!("position {p}")).unwrap_or_default();
        let x0 = x - W_BR / 2.0;
        let _ = write!(
            s,
            "<g class=\"dg-broker\" data-node=\"{n}\" data-role=\"{r}\"><title>{n}: {rl}; {sess}{sid}</title>\
             <rect class=\"{class}\" x=\"{x0}\" y=\"{Y_BR}\" width=\"{W_BR}\" height=\"{H_BR}\" rx=\"10\"/>\
             <text class=\"dg-t\" x=\"{x}\" y=\"{y1}\" text-anchor=\"middle\" font-weight=\"bold\">{n}</text>\
             <text class=\"dg-t\" x=\"{x}\" y=\"{y2}\" text-anchor=\"middle\">{rl}</text>\
             <text class=\"dg-s\" x=\"{x}\" y=\"{y3}\" text-anchor=\"middle\">{pos}</text>\
             <text class=\"dg-s\" x=\"{x}\" y=\"{y4}\" text-anchor=\"middle\">{sess}</text>",
            n = xml(&clip(&b.name, 22)),
            r = xml(b.role.as_str()),
            rl = xml(&role),
            sess = xml(&session),
            sid = xml(&b.session.as_deref().map(|s| format!(" ({s})")).unwrap_or_default()),
            pos = xml(&pos),
            y1 = Y_BR + 22.0,
            y2 = Y_BR + 42.0,
            y3 = Y_BR + 60.0,
            y4 = Y_BR + 78.0,
        );
        if let Some(cut) = &b.partitioned {
            let _ = write!(
                s,
                "<text class=\"dg-cut\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\">✂ cut from {}</text>",
                Y_BR - 4.0,
                xml(&cut.replace('+', " and "))
            );
        }
        s += "</g>";
    }

    // Replication: master → slave, arching below the brokers.
    let y_base = Y_BR + H_BR;
    for (i, l) in t.links.iter().enumerate() {
        let (Some(&x1), Some(&x2)) = (br_at.get(l.master.as_str()), br_at.get(l.slave.as_str())) else { continue };
        let dip = 48.0 + 26.0 * i as f64;
        let (mx, my) = ((x1 + x2) / 2.0, y_base + dip);
        let label = if l.caught_up { format!("lag {} B", l.lag) } else { format!("lag {} B · catching up", l.lag) };
        let _ = write!(
            s,
            "<g class=\"dg-link\" data-master=\"{m}\" data-slave=\"{sl}\" data-lag=\"{lag}\">\
             <path class=\"dg-repl\" d=\"M{x1},{y_base} Q{mx},{cy} {x2},{y_base}\" marker-end=\"url(#dg-topo-arrow)\"/>\
             <text class=\"dg-s\" x=\"{mx}\" y=\"{ty}\" text-anchor=\"middle\">{m} → {sl}: {label}</text></g>",
            m = xml(&l.master),
            sl = xml(&l.slave),
            lag = l.lag,
            cy = my + dip * 0.6,
            ty = my + 18.0,
            label = xml(&label),
        );
    }

    // Clients at the bottom, a line to each broker that holds connections.
    let y_cl = height - 52.0;
    let cx = width / 2.0;
    let known = t.brokers.iter().any(|b| b.clients.is_some());
    let total: usize = t.brokers.iter().filter_map(|b| b.clients).sum();
    for (b, x) in t.brokers.iter().zip(&bx) {
        if let Some(n) = b.clients.filter(|n| *n > 0) {
            let _ = write!(
                s,
                "<line class=\"dg-client\" x1=\"{cx}\" y1=\"{y_cl}\" x2=\"{x}\" y2=\"{yb}\"/>\
                 <text class=\"dg-t\" x=\"{tx}\" y=\"{ty}\" text-anchor=\"middle\" font-weight=\"bold\" data-clients=\"{n}\">{n} conn.</text>",
                yb = y_base,
                tx = (cx + x) / 2.0 + 24.0,
                ty = (y_cl + y_base) / 2.0 + 30.0,
            );
        }
    }
    let clients_label = if known {
        format!("clients: {total} connection{}", if total == 1 { "" } else { "s" })
    } else {
        "clients: connections not known".to_string()
    };
    let _ = write!(
        s,
        "<rect class=\"dg-box\" x=\"{x0}\" y=\"{y_cl}\" width=\"220\" height=\"34\" rx=\"17\"/>\
         <text class=\"dg-t\" x=\"{cx}\" y=\"{ty}\" text-anchor=\"middle\">{}</text>\
         <text class=\"dg-s\" x=\"8\" y=\"{ly}\">dotted: ZooKeeper session · arrow: replication master → slave (lag) · \
         green: client connections (STOMP + OpenWire)</text></svg>",
        xml(&clients_label),
        x0 = cx - 110.0,
        ty = y_cl + 22.0,
        ly = height - 6.0,
    );
    inline_styles(&s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::master::SlaveInfo;
    use crate::status::{NodeStatus, Ports, ZkStatus};

    fn node(name: &str, role: Option<&str>, pid: Option<u32>, session: &str) -> NodeStatus {
        NodeStatus {
            name: name.into(),
            state: if pid.is_some() { "running" } else { "down" }.into(),
            role: role.map(Into::into),
            pid,
            ports: Ports { openwire: 1, stomp: 2, console: 3, replication: 4 },
            position: pid.map(|_| 1000),
            znode: None,
            session: Some(session.into()),
            master: None,
            address: None,
            serving: role == Some("master"),
            replication: (role == Some("slave")).then(|| "attached".into()),
            slaves: Vec::new(),
            partitioned: None,
            store: None,
            log: String::new(),
            host: None,
            owned: None,
        }
    }

    fn zk(name: &str, mode: Option<&str>) -> ZkStatus {
        ZkStatus {
            name: name.into(),
            state: if mode.is_some() { "running" } else { "down" }.into(),
            mode: mode.map(Into::into),
            pid: mode.map(|_| 1),
            client_port: 2181,
            log: String::new(),
            host: None,
            owned: None,
        }
    }

    fn status() -> ClusterStatus {
        let mut master = node("node02", Some("master"), Some(12), "0x100");
        master.slaves = vec![SlaveInfo { node_id: "node03".into(), remote: "x".into(), acked: 400, caught_up: true }];
        let mut cut = node("node01", None, None, "0x99");
        cut.partitioned = Some("zk+peers".into());
        ClusterStatus {
            broker_name: "<broker & co>".into(),
            zk_path: "/z".into(),
            master: Some("node02".into()),
            failover_url: String::new(),
            supervisor_pid: 1,
            state_dir: String::new(),
            nodes: vec![cut, master, node("node03", Some("slave"), Some(13), "0x101")],
            zookeeper: vec![zk("zk01", Some("follower")), zk("zk02", Some("leader")), zk("zk03", None)],
        }
    }

    #[test]
    fn the_picture_is_valid_xml_and_labels_the_master_links_and_sessions() {
        let sessions = BTreeMap::from([("0x100".to_string(), "zk01".to_string())]);
        let clients = BTreeMap::from([("node02".to_string(), 2), ("node03".to_string(), 0)]);
        let t = Topology::from_status(&status(), &sessions, &clients);
        assert_eq!(
            t.links,
            vec![Link { master: "node02".into(), slave: "node03".into(), lag: 600, acked: 400, caught_up: true }]
        );
        let svg = render(&t);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        assert_eq!(root.attribute("data-master"), Some("node02"));
        let group = |node: &str| {
            doc.descendants().find(|n| n.attribute("data-node") == Some(node)).unwrap_or_else(|| panic!("no {node}"))
        };
        let text = |n: roxmltree::Node| n.descendants().filter_map(|d| d.text()).collect::<Vec<_>>().join(" ");
        assert_eq!(group("node02").attribute("data-role"), Some("master"));
        assert!(text(group("node02")).contains("MASTER"), "{}", text(group("node02")));
        assert!(text(group("node02")).contains("ZK session on zk01"));
        assert!(text(group("node03")).contains("server not known"), "a session not in `cons` is not guessed");
        assert_eq!(group("node01").attribute("data-role"), Some("down"));
        assert!(text(group("node01")).contains("cut from zk and peers"));
        let link = doc.descendants().find(|n| n.attribute("data-slave") == Some("node03")).unwrap();
        assert_eq!(link.attribute("data-lag"), Some("600"));
        assert!(text(link).contains("lag 600 B"));
        let leader = doc.descendants().find(|n| n.attribute("data-zk") == Some("zk02")).unwrap();
        assert_eq!(leader.attribute("data-state"), Some("leader"));
        assert!(text(root).contains("clients: 2 connections"));
        assert!(text(root).contains("<broker & co>"), "names are escaped, not dropped");
    }

    #[test]
    fn unknown_clients_and_no_master_are_said_so() {
        let mut st = status();
        st.master = None;
        let svg = render(&Topology::from_status(&st, &BTreeMap::new(), &BTreeMap::new()));
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(doc.root_element().attribute("data-master"), Some(""));
        assert!(svg.contains("connections not known"));
    }

    /// The words the dashboard's page and this picture carry (`data-state`, `data-role`, the
    /// `state-…` and `dg-…` classes the stylesheets and tests read).
    #[test]
    fn the_shown_states_keep_their_spelling() {
        let broker: Vec<String> = BrokerState::KNOWN.iter().map(|s| serde_json::to_string(s).unwrap()).collect();
        assert_eq!(broker, [r#""master""#, r#""slave""#, r#""electing""#, r#""starting""#, r#""paused""#, r#""down""#]);
        let zk: Vec<&str> = ZkState::KNOWN.iter().map(ZkState::as_str).collect();
        assert_eq!(zk, ["leader", "follower", "standalone", "observer", "paused", "down"]);
    }
}
