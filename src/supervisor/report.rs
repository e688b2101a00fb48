//! `mqsim status` as the supervisor answers it: its own children from what it knows of them
//! (running, paused, stopped, down; each broker's status file), and in a multi-host layout
//! the other hosts' members as they answer themselves (crate::hosts::probe), with the host
//! and owner of each.

use super::{Proc, Shared, process};
use crate::control::Verb;
use crate::faults::Faults;
use crate::node::NodeLayout;
use crate::status::{ClusterStatus, NodeReport, NodeStatus, Ports, ProcState, Role, ZkMode, ZkStatus};
use crate::zookeeper::{probe_mode, probe_mode_at};

impl Shared {
    /// `host` and `owned` of a member's status: only in a multi-host layout.
    pub(super) fn host_column(&self, name: &str) -> (Option<String>, Option<bool>) {
        if !self.here.partial {
            return (None, None);
        }
        let host = crate::hosts::member_addr(&self.config, name).map(|a| a.to_string());
        (host, Some(self.here.owns(name)))
    }

    pub(super) async fn status(&self) -> ClusterStatus {
        let cfg = &self.config;
        let procs = self.procs.lock().unwrap().clone();
        let proc_state = |name: &str| -> (ProcState, Option<u32>) {
            match procs.get(name) {
                Some(Proc { pid: Some(pid), .. }) if process::paused(*pid) => (ProcState::Paused, Some(*pid)),
                Some(Proc { pid: Some(pid), .. }) => (ProcState::Running, Some(*pid)),
                Some(Proc { requested: Some((Verb::Stop, _)), .. }) => (ProcState::Stopped, None),
                Some(Proc { requested: None, .. }) if procs.values().all(|p| p.pid.is_none()) => {
                    (ProcState::Stopped, None)
                }
                _ => (ProcState::Down, None),
            }
        };
        let mut zookeeper = Vec::new();
        match &cfg.zookeeper.connect {
            None => {
                // Another host's servers answer `srvr` themselves (crate::hosts::probe), all at once.
                let others = cfg.zookeeper.servers.iter().filter(|s| !self.here.owns(&s.name));
                let mut others = futures::future::join_all(others.map(crate::hosts::probe::zk)).await.into_iter();
                for s in &cfg.zookeeper.servers {
                    if !self.here.owns(&s.name) {
                        zookeeper.extend(others.next());
                        continue;
                    }
                    let (state, pid) = proc_state(&s.name);
                    let port = *s.client_port.get_ref();
                    let mode = if state == ProcState::Running {
                        probe_mode_at(s.host, port).await.map(ZkMode::from)
                    } else {
                        None
                    };
                    let log = procs[&s.name].log.display().to_string();
                    let (host, owned) = self.host_column(&s.name);
                    zookeeper.push(ZkStatus {
                        name: s.name.clone(),
                        state,
                        mode,
                        pid,
                        client_port: port,
                        log,
                        host,
                        owned,
                    });
                }
            }
            Some(connect) => {
                for (i, hp) in connect.split(',').enumerate() {
                    let hp = hp.split('/').next().unwrap_or(hp);
                    let port = hp.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(2181);
                    let local = hp.starts_with("127.") || hp.starts_with("localhost");
                    let mode = if local { probe_mode(port).await.map(ZkMode::from) } else { None };
                    zookeeper.push(ZkStatus {
                        name: format!("external{}", i + 1),
                        state: ProcState::External,
                        mode,
                        pid: None,
                        client_port: port,
                        log: String::new(),
                        host: None,
                        owned: None,
                    });
                }
            }
        }
        let mut nodes = Vec::new();
        let mut master = None;
        // Another host's brokers answer from their consoles' status.json, all at once.
        let others = cfg.nodes.iter().filter(|n| !self.here.owns(&n.name)).map(|n| {
            let host = self.host_column(&n.name).0.unwrap_or_default();
            crate::hosts::probe::node(cfg, n, host)
        });
        let mut others = futures::future::join_all(others).await.into_iter();
        for n in &cfg.nodes {
            if !self.here.owns(&n.name) {
                if let Some(st) = others.next() {
                    if st.role == Some(Role::Master) && st.serving && st.state == ProcState::Running {
                        master = Some(n.name.clone());
                    }
                    nodes.push(st);
                }
                continue;
            }
            let (state, pid) = proc_state(&n.name);
            let layout = NodeLayout::new(cfg, &n.name);
            let report = NodeReport::read(&layout.status).filter(|r| Some(r.pid) == pid);
            let role = match (&report, pid) {
                (Some(r), _) => Some(r.role.clone()),
                (None, Some(_)) => Some(Role::Starting),
                (None, None) => None,
            };
            let r = report.unwrap_or_default();
            if role == Some(Role::Master) && r.serving && state == ProcState::Running {
                master = Some(n.name.clone());
            }
            nodes.push(NodeStatus {
                name: n.name.clone(),
                state,
                role,
                pid,
                ports: Ports::of(n),
                position: pid.map(|_| r.position),
                znode: r.znode,
                session: r.session,
                master: r.master,
                address: r.address,
                serving: r.serving,
                replication: r.replication,
                slaves: r.slaves,
                partitioned: Faults::read(&layout.dir).describe(),
                store: pid.and(r.store),
                log: layout.log_file.display().to_string(),
                host: self.host_column(&n.name).0,
                owned: self.host_column(&n.name).1,
            });
        }
        ClusterStatus {
            broker_name: cfg.cluster.broker_name.clone(),
            zk_path: cfg.cluster.zk_path.clone(),
            master,
            failover_url: cfg.failover_url(),
            supervisor_pid: std::process::id(),
            state_dir: cfg.state_dir().display().to_string(),
            nodes,
            zookeeper,
        }
    }
}
