//! The multi-host layout (the notes' 多机模式): one `cluster.toml` for every machine, one
//! supervisor per machine.
//!
//! A member (ZooKeeper server or broker) is *here* when its address is one of this
//! machine's: a loopback address (127/8, ::1: every member of a one-machine layout, and
//! `docs/examples/multihost.toml`'s 127.0.1.x), the unspecified address, or an address a
//! socket can bind to (assigned to one of this machine's interfaces). `mqsim --members
//! zk01,node01 up` (or `MQSIM_MEMBERS`) names them explicitly instead. A member's address
//! is its `[[zookeeper.server]] host`, or a node's `listen` (else its `bind` address).
//!
//! When every member is here nothing changes: the supervisor's files stay in the state
//! directory. When only some are (a *partial* layout), this host's supervisor keeps its
//! socket, `pids.json`, `supervisor.pid` and log in `<stateDir>/host-<address>/`, so that
//! several hosts sharing one filesystem (network namespaces, an NFS home) never collide, and
//! it reaches the other hosts' supervisors over [`remote`] (TCP, `securityToken`).
//! [`classify`] is the pure rule; [`Here::of`] applies it to this machine.

pub mod probe;
pub mod remote;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::config::Config;
use crate::error::{Error, Kind, Result};

static SELECTED: OnceLock<Vec<String>> = OnceLock::new();

/// `--members`: the members this machine runs, overriding the address rule (set once, by the CLI).
pub fn select(members: Vec<String>) {
    let _ = SELECTED.set(members);
}

/// The `--members` list, if given.
pub fn selected() -> Option<&'static [String]> {
    SELECTED.get().map(Vec::as_slice).filter(|v| !v.is_empty())
}

/// Every member of the layout with its address: managed ZooKeeper servers, then brokers.
pub fn members(config: &Config) -> Vec<(String, IpAddr)> {
    let mut v = Vec::new();
    if config.zookeeper.connect.is_none() {
        v.extend(config.zookeeper.servers.iter().map(|s| (s.name.clone(), s.host)));
    }
    v.extend(config.nodes.iter().map(|n| (n.name.clone(), node_addr(n))));
    v
}

/// A node's machine: `listen`, else its replication `bind` address, else its `hostname`
/// when that is an address, else loopback.
fn node_addr(n: &crate::config::Node) -> IpAddr {
    let bind = n.bind.get_ref().addr;
    if !n.listen.is_unspecified() {
        n.listen
    } else if !bind.is_unspecified() {
        bind
    } else {
        n.hostname.parse().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
    }
}

/// The address of member `name`.
pub fn member_addr(config: &Config, name: &str) -> Option<IpAddr> {
    members(config).into_iter().find(|(n, _)| n == name).map(|(_, a)| a)
}

/// True if `addr` is this machine's: loopback, unspecified, or bindable here.
pub fn is_local_addr(addr: IpAddr) -> bool {
    addr.is_loopback() || addr.is_unspecified() || std::net::UdpSocket::bind((addr, 0)).is_ok()
}

/// Which members run on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    /// Names of the members this host's supervisor starts and owns.
    pub local: BTreeSet<String>,
    /// Some member runs elsewhere.
    pub partial: bool,
    /// This host's address in the layout (the first local member's), when partial.
    pub addr: Option<IpAddr>,
    /// `10.0.0.1`, or the `--members` list joined with `+`: names this host's state subdirectory.
    pub label: String,
}

/// The pure rule: `selected` (by name) wins over `is_local` (by address).
pub fn classify(members: &[(String, IpAddr)], selected: Option<&[String]>, is_local: impl Fn(IpAddr) -> bool) -> Here {
    let local: BTreeSet<String> = members
        .iter()
        .filter(|(n, a)| match selected {
            Some(s) => s.iter().any(|x| x == n),
            None => is_local(*a),
        })
        .map(|(n, _)| n.clone())
        .collect();
    let partial = local.len() < members.len();
    let addr = members.iter().find(|(n, _)| local.contains(n)).map(|(_, a)| *a);
    let label = match (selected, addr) {
        (Some(s), _) => s.join("+"),
        (None, Some(a)) => a.to_string().replace(':', "_"),
        (None, None) => "none".into(),
    };
    Here { local, partial, addr, label }
}

impl Here {
    /// This machine's share of `config`.
    pub fn of(config: &Config) -> Here {
        classify(&members(config), selected(), is_local_addr)
    }

    pub fn owns(&self, name: &str) -> bool {
        self.local.contains(name)
    }

    /// The other hosts' addresses, each once: where `down --all` and a supervisor-less
    /// machine's requests go.
    pub fn others(&self, config: &Config) -> Vec<IpAddr> {
        let mut hosts: Vec<IpAddr> =
            members(config).into_iter().filter(|(n, _)| !self.owns(n)).map(|(_, a)| a).collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// Where this host's supervisor keeps its socket, `pids.json` and log.
    pub fn supervisor_dir(&self, config: &Config) -> PathBuf {
        if self.partial { config.state_dir().join(format!("host-{}", self.label)) } else { config.state_dir() }
    }

    /// Refuses a partial layout `up` cannot run: nothing here, or no shared token.
    pub fn check_up(&self, config: &Config) -> Result<()> {
        if !self.partial {
            return Ok(());
        }
        let mut addrs: Vec<String> = members(config).iter().map(|(n, a)| format!("{n} {a}")).collect();
        addrs.dedup();
        if self.local.is_empty() {
            return Err(Error::Config {
                path: config.source.clone(),
                message: format!(
                    "no member of this layout has an address of this machine ({}). Run `mqsim up` on the machine \
                     that holds the address (`ip -br addr` lists this one's), or name the members this machine \
                     runs: `mqsim --members zk01,node01 up`",
                    addrs.join(", ")
                ),
            });
        }
        if config.cluster.security_token.is_empty() {
            return Err(Error::Config {
                path: config.source.clone(),
                message: "members run on several machines, so every host needs the same secret: set \
                          `securityToken = \"...\"` in [cluster] of this cluster.toml (copy the file to every host; \
                          e.g. `openssl rand -base64 32`). The token file `mqsim up` generates on one machine is \
                          not shared; the supervisors' control endpoint and the replication login both use it"
                    .into(),
            });
        }
        Ok(())
    }
}

/// Where the supervisor of this machine's share of `config` keeps its files.
pub fn supervisor_dir(config: &Config) -> PathBuf {
    Here::of(config).supervisor_dir(config)
}

/// Sends `req` to this host's supervisor; on a machine without one (a client machine, or a
/// host whose `up` has not run), in a multi-host layout, to the first other host whose control
/// endpoint answers: that supervisor resolves the target and forwards it where it runs.
pub async fn request(config: &Config, req: &crate::control::Request) -> Result<crate::control::Response> {
    let here = Here::of(config);
    let dir = here.supervisor_dir(config);
    match crate::control::request(&dir, req).await {
        Err(Error::NotRunning(d)) if here.partial => {
            let Some(secret) = remote::secret(config) else { return Err(Error::NotRunning(d)) };
            let mut why = Vec::new();
            for h in here.others(config) {
                let at = std::net::SocketAddr::new(h, config.cluster.control_port);
                match remote::request(at, &secret, req, std::time::Duration::from_secs(60)).await {
                    Ok(r) => return Ok(r),
                    // An answer (a refusal: a wrong token) is said, not tried on the next host;
                    // only a host that cannot be reached is.
                    Err(e) if !matches!(e.kind(), Kind::Unavailable | Kind::Io | Kind::Timeout) => return Err(e),
                    Err(e) => why.push(format!("{h}: {e}")),
                }
            }
            Err(Error::Unreachable(format!(
                "no supervisor runs here ({}) and no other host's answered: {}",
                d.display(),
                why.join("; ")
            )))
        }
        other => other,
    }
}

/// [`request`] for the status.
pub async fn status(config: &Config) -> Result<crate::status::ClusterStatus> {
    use crate::control::Response;
    match request(config, &crate::control::Request::Status).await? {
        Response::Status(s) => Ok(*s),
        Response::Error { message } => Err(Error::InvalidInput(message)),
        Response::Done { .. } => Err(Error::protocol("unexpected reply to status")),
    }
}

/// What a real multi-host deployment needs open and set, per host (for `mqsim config hosts`
/// and the errors): the ports other hosts connect to, and the clock.
pub fn requirements(config: &Config) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut hosts: Vec<IpAddr> = members(config).into_iter().map(|(_, a)| a).collect();
    hosts.sort();
    hosts.dedup();
    let _ = writeln!(out, "# Ports each machine must accept from the other machines (the notes' 防火墙 step):");
    for h in &hosts {
        let mut ports = Vec::new();
        if config.zookeeper.connect.is_none() {
            for s in config.zookeeper.servers.iter().filter(|s| s.host == *h) {
                ports.push(format!(
                    "{} {}/{}/{} (client/quorum/election)",
                    s.name,
                    s.client_port.get_ref(),
                    s.quorum_port.get_ref(),
                    s.election_port.get_ref()
                ));
            }
        }
        for n in config.nodes.iter().filter(|n| node_addr(n) == *h) {
            ports.push(format!(
                "{} {}/{}/{}/{} (openwire/stomp/console/replication)",
                n.name,
                n.openwire.get_ref(),
                n.stomp.get_ref(),
                n.console.get_ref(),
                n.bind.get_ref().port
            ));
        }
        ports.push(format!("supervisor {} (controlPort)", config.cluster.control_port));
        let _ = writeln!(out, "#   {h}: {}", ports.join(", "));
    }
    let mut all: Vec<u16> = config.ports().iter().filter(|p| !p.addr.is_loopback()).map(|p| p.port).collect();
    all.push(config.cluster.control_port);
    all.sort_unstable();
    all.dedup();
    let list: Vec<String> = all.iter().map(u16::to_string).collect();
    let _ = writeln!(
        out,
        "#   (instead of turning the firewall off: firewall-cmd --permanent --add-port={{{}}}/tcp && firewall-cmd --reload)",
        list.join(",")
    );
    let _ = writeln!(
        out,
        "# Every machine: the same cluster.toml with the same `securityToken`; clocks in sync (chrony or \
         systemd-timesyncd) so the merged timeline reads in order; each member's consoleHost on its own address \
         so `mqsim status` on any machine can read its status.json."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Vec<(String, IpAddr)> {
        ["zk01 10.0.0.1", "zk02 10.0.0.2", "node01 10.0.0.1", "node02 10.0.0.2"]
            .iter()
            .map(|s| {
                let (n, a) = s.split_once(' ').unwrap();
                (n.to_string(), a.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn members_are_here_by_address_or_by_name() {
        let h = classify(&m(), None, |a| a == "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(h.local, ["zk02".to_string(), "node02".to_string()].into());
        assert!(h.partial);
        assert_eq!(h.label, "10.0.0.2");
        let all = classify(&m(), None, |_| true);
        assert!(!all.partial);
        let none = classify(&m(), None, |_| false);
        assert!(none.local.is_empty() && none.label == "none");
        let sel = ["node01".to_string()];
        let by_name = classify(&m(), Some(&sel), |_| true);
        assert_eq!(by_name.local, ["node01".to_string()].into());
        assert_eq!(by_name.label, "node01");
    }

    #[test]
    fn one_machine_layouts_are_all_here() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/multihost.toml")).unwrap();
        let config = Config::parse(&text, std::path::Path::new("/tmp/x/multihost.toml")).unwrap();
        let here = classify(&members(&config), None, is_local_addr);
        assert!(!here.partial, "127.0.1.x are loopback: {here:?}");
        assert_eq!(here.supervisor_dir(&config), config.state_dir());
        let config = Config::parse("", std::path::Path::new("/tmp/x/cluster.toml")).unwrap();
        assert!(!classify(&members(&config), None, is_local_addr).partial);
    }

    #[test]
    fn the_other_hosts_are_each_named_once() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/netns.toml")).unwrap();
        let config = Config::parse(&text, std::path::Path::new("/tmp/x/netns.toml")).unwrap();
        let here = classify(&members(&config), None, |a| a == "10.231.0.2".parse::<IpAddr>().unwrap());
        let others: Vec<String> = here.others(&config).iter().map(ToString::to_string).collect();
        assert_eq!(others, ["10.231.0.1", "10.231.0.3"], "zk0N and node0N share a host: one entry each");
    }
}
