//! `mqsim wait master|zk|outage`: polls `mqsim status` until a condition holds, bounded by
//! `--timeout`, so a script (or the tutorial) waits visibly instead of sleeping.
//!
//! The conditions are pure functions of one [`ClusterStatus`] ([`check`]); they return what
//! holds, or what was seen instead, which the timeout error repeats.

use std::time::Duration;

use clap::ValueEnum;

use crate::config::Config;
use crate::control;
use crate::error::{Error, Result};
use crate::status::{ClusterStatus, Phase, ProcState, Role, ZkMode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Until {
    /// One master serves clients and every running slave is attached to it.
    Master,
    /// A node is master (elected and promoted), whether or not it serves clients yet.
    Elected,
    /// Every ZooKeeper server serves (leader, follower or standalone).
    Zk,
    /// No node is master or slave; with too few ZooKeeper servers running, those left stop
    /// serving too.
    Outage,
    /// ZooKeeper lists exactly the running brokers under zkPath: a crashed broker's znode
    /// has expired, a restarted one has registered.
    Members,
}

impl Until {
    fn what(self) -> &'static str {
        match self {
            Until::Master => "a master serving with every running slave attached",
            Until::Zk => "every ZooKeeper server serving",
            Until::Elected => "a master elected",
            Until::Outage => "no master",
            Until::Members => "one znode per running broker",
        }
    }
}

fn serving_zk(mode: Option<&ZkMode>) -> bool {
    mode.is_some_and(ZkMode::serving)
}

/// Each broker as `node01 master (serving)`, `node02 slave (attached)`, `node03 stopped`.
fn brokers(st: &ClusterStatus) -> String {
    let list: Vec<String> = st
        .nodes
        .iter()
        .map(|n| match (&n.role, &n.state) {
            (Some(Role::Master), ProcState::Running) => {
                format!("{} master ({})", n.name, if n.serving { "serving" } else { "not serving yet" })
            }
            (Some(Role::Slave), ProcState::Running) => {
                format!("{} slave ({})", n.name, n.replication.as_ref().map_or("not attached", Phase::as_str))
            }
            (Some(role), ProcState::Running) => format!("{} {role}", n.name),
            (_, state) => format!("{} {state}", n.name),
        })
        .collect();
    list.join(", ")
}

fn servers(st: &ClusterStatus) -> String {
    let list: Vec<String> = st
        .zookeeper
        .iter()
        .map(|z| match (&z.mode, &z.state) {
            (Some(mode), _) => format!("{} {mode}", z.name),
            (None, ProcState::Running) => format!("{} not serving", z.name),
            (None, state) => format!("{} {state}", z.name),
        })
        .collect();
    list.join(", ")
}

/// `Ok(what holds)` when the condition holds, else `Err(what is seen instead)`.
pub fn check(until: Until, st: &ClusterStatus) -> std::result::Result<String, String> {
    match until {
        Until::Master => {
            let masters: Vec<_> = st.nodes.iter().filter(|n| n.role == Some(Role::Master)).collect();
            let running: Vec<_> = st.nodes.iter().filter(|n| n.state == ProcState::Running).collect();
            let ok = st.master.is_some()
                && masters.len() == 1
                && running.iter().all(|n| match n.role {
                    Some(Role::Master) => n.serving,
                    Some(Role::Slave) => n.replication == Some(Phase::Attached),
                    _ => false,
                });
            if ok {
                let slaves = running.len() - 1;
                Ok(format!(
                    "master {} serves clients; {slaves} slave{} attached",
                    masters[0].name,
                    if slaves == 1 { "" } else { "s" }
                ))
            } else {
                Err(brokers(st))
            }
        }
        Until::Zk => {
            if !st.zookeeper.is_empty() && st.zookeeper.iter().all(|z| serving_zk(z.mode.as_ref())) {
                Ok(format!("ZooKeeper serving: {}", servers(st)))
            } else {
                Err(servers(st))
            }
        }
        Until::Elected => match st.nodes.iter().find(|n| n.role == Some(Role::Master)) {
            Some(m) if m.serving => Ok(format!("{} is master and serves clients", m.name)),
            Some(m) => Ok(format!("{} is master, not serving yet", m.name)),
            None => Err(brokers(st)),
        },
        Until::Members => Err("needs ZooKeeper's view: see members()".into()),
        Until::Outage => {
            // Nobody master, and nobody still following one (a slave notices a moment later).
            let no_master =
                st.master.is_none() && st.nodes.iter().all(|n| !matches!(n.role, Some(Role::Master | Role::Slave)));
            // Without a quorum running, a leader notices only after syncLimit ticks, later
            // than the brokers: wait for the servers left to stop serving too.
            let running = st.zookeeper.iter().filter(|z| z.state == ProcState::Running).count();
            let quorum_lost = running * 2 <= st.zookeeper.len();
            let zk_settled = !quorum_lost
                || st.zookeeper.iter().filter(|z| z.state == ProcState::Running).all(|z| !serving_zk(z.mode.as_ref()));
            if no_master && zk_settled {
                let zk = if quorum_lost {
                    format!("; ZooKeeper has no quorum ({running} of {} servers running)", st.zookeeper.len())
                } else {
                    String::new()
                };
                Ok(format!("no master: no node serves clients{zk}"))
            } else if no_master {
                Err(servers(st))
            } else {
                Err(brokers(st))
            }
        }
    }
}

/// The znodes under zkPath against the running brokers' own znodes.
async fn members(config: &Config, st: &ClusterStatus) -> std::result::Result<String, String> {
    let c = &config.cluster;
    let read = async {
        let client =
            crate::election::zookeeper::connect(&config.zk_connect(), c.zk_session_timeout, c.zk_password.as_deref())
                .await
                .map_err(|e| e.to_string())?;
        let mut kids = client.list_children(&c.zk_path).await.map_err(|e| e.to_string())?;
        kids.sort();
        Ok::<_, String>(kids)
    };
    let kids = match tokio::time::timeout(Duration::from_secs(5), read).await {
        Ok(Ok(k)) => k,
        Ok(Err(e)) => return Err(format!("cannot list {}: {e}", c.zk_path)),
        Err(_) => return Err(format!("ZooKeeper at {} does not answer", config.zk_connect())),
    };
    compare_members(&kids, st)
}

/// `kids` (znode names, sorted) against each running broker's znode.
fn compare_members(kids: &[String], st: &ClusterStatus) -> std::result::Result<String, String> {
    let mut owned: Vec<(String, String)> = st
        .nodes
        .iter()
        .filter(|n| n.state.alive())
        .map(|n| (n.znode.as_deref().and_then(|z| z.rsplit('/').next()).unwrap_or("-").to_string(), n.name.clone()))
        .collect();
    owned.sort();
    let names: Vec<&String> = owned.iter().map(|(z, _)| z).collect();
    let listed: Vec<&String> = kids.iter().collect();
    let seen = format!("[{}]", kids.join(", "));
    if names == listed {
        let who: Vec<String> = owned.iter().map(|(z, n)| format!("{z} {n}")).collect();
        Ok(format!("{} member{}: {}", owned.len(), if owned.len() == 1 { "" } else { "s" }, who.join(", ")))
    } else {
        let who: Vec<String> = owned.iter().map(|(z, n)| format!("{n} {z}")).collect();
        Err(format!("znodes {seen}, running brokers {}", who.join(", ")))
    }
}

/// Polls until `until` holds (prints what holds) or `timeout` passes (an error naming what
/// was still seen). No running cluster is an error at once: nothing would change.
pub async fn run(config: &Config, until: Until, timeout: Duration) -> Result<()> {
    let look = async |st: &ClusterStatus| match until {
        Until::Members => members(config, st).await,
        _ => check(until, st),
    };
    let dir = crate::hosts::supervisor_dir(config);
    match control::poll_status(&dir, timeout, Duration::from_millis(100), look).await? {
        Ok(what) => {
            println!("{what}");
            Ok(())
        }
        Err(seen) => Err(Error::Timeout(format!(
            "waited {} for {}; still: {seen}",
            humantime::format_duration(timeout),
            until.what()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{NodeStatus, Ports, ZkStatus};

    fn node(name: &str, state: &str, role: Option<&str>, serving: bool, replication: Option<&str>) -> NodeStatus {
        NodeStatus {
            name: name.into(),
            state: state.into(),
            role: role.map(Into::into),
            pid: None,
            ports: Ports { openwire: 1, stomp: 2, console: 3, replication: 4 },
            position: None,
            znode: None,
            session: None,
            master: None,
            address: None,
            serving,
            replication: replication.map(Into::into),
            slaves: Vec::new(),
            partitioned: None,
            store: None,
            log: String::new(),
            host: None,
            owned: None,
        }
    }

    fn zk(name: &str, state: &str, mode: Option<&str>) -> ZkStatus {
        ZkStatus {
            name: name.into(),
            state: state.into(),
            mode: mode.map(Into::into),
            pid: None,
            client_port: 1,
            log: String::new(),
            host: None,
            owned: None,
        }
    }

    fn cluster(master: Option<&str>, nodes: Vec<NodeStatus>, zookeeper: Vec<ZkStatus>) -> ClusterStatus {
        ClusterStatus {
            broker_name: "b".into(),
            zk_path: "/p".into(),
            master: master.map(str::to_string),
            failover_url: String::new(),
            supervisor_pid: 1,
            state_dir: String::new(),
            nodes,
            zookeeper,
        }
    }

    fn zk3() -> Vec<ZkStatus> {
        vec![
            zk("zk01", "running", Some("follower")),
            zk("zk02", "running", Some("leader")),
            zk("zk03", "running", Some("follower")),
        ]
    }

    #[test]
    fn master_needs_serving_master_and_attached_slaves() {
        let mut nodes = vec![
            node("node01", "running", Some("master"), true, None),
            node("node02", "running", Some("slave"), false, Some("attached")),
            node("node03", "stopped", None, false, None),
        ];
        let st = cluster(Some("node01"), nodes.clone(), zk3());
        assert_eq!(check(Until::Master, &st).unwrap(), "master node01 serves clients; 1 slave attached");
        nodes[1].replication = Some("connecting".into());
        let st = cluster(Some("node01"), nodes.clone(), zk3());
        assert_eq!(
            check(Until::Master, &st).unwrap_err(),
            "node01 master (serving), node02 slave (connecting), node03 stopped"
        );
        nodes[1] = node("node02", "running", Some("electing"), false, None);
        assert!(check(Until::Master, &cluster(Some("node01"), nodes.clone(), zk3())).is_err());
        nodes[0].serving = false;
        nodes[1] = node("node02", "running", Some("slave"), false, Some("attached"));
        assert!(check(Until::Master, &cluster(Some("node01"), nodes, zk3())).is_err(), "master not serving yet");
        assert!(check(Until::Master, &cluster(None, vec![], zk3())).is_err());
    }

    #[test]
    fn members_match_running_brokers() {
        let mut a = node("node01", "running", Some("master"), true, None);
        a.znode = Some("/p/00000000003".into());
        let mut b = node("node02", "running", Some("slave"), false, Some("attached"));
        b.znode = Some("/p/00000000005".into());
        let st = cluster(Some("node01"), vec![a, b, node("node03", "down", None, false, None)], zk3());
        let kids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            compare_members(&kids(&["00000000003", "00000000005"]), &st).unwrap(),
            "2 members: 00000000003 node01, 00000000005 node02"
        );
        assert_eq!(
            compare_members(&kids(&["00000000003", "00000000004", "00000000005"]), &st).unwrap_err(),
            "znodes [00000000003, 00000000004, 00000000005], running brokers node01 00000000003, node02 00000000005"
        );
    }

    #[test]
    fn zk_needs_every_server_serving() {
        let st = cluster(None, vec![], zk3());
        assert_eq!(check(Until::Zk, &st).unwrap(), "ZooKeeper serving: zk01 follower, zk02 leader, zk03 follower");
        let mut z = zk3();
        z[0] = zk("zk01", "stopped", None);
        z[1] = zk("zk02", "running", None);
        assert_eq!(
            check(Until::Zk, &cluster(None, vec![], z)).unwrap_err(),
            "zk01 stopped, zk02 not serving, zk03 follower"
        );
    }

    #[test]
    fn outage_waits_for_the_last_server_to_stop_serving() {
        let nodes = vec![node("node01", "running", Some("electing"), false, None)];
        let mut z =
            vec![zk("zk01", "stopped", None), zk("zk02", "stopped", None), zk("zk03", "running", Some("leader"))];
        assert_eq!(
            check(Until::Outage, &cluster(None, nodes.clone(), z.clone())).unwrap_err(),
            "zk01 stopped, zk02 stopped, zk03 leader"
        );
        z[2].mode = None;
        assert_eq!(
            check(Until::Outage, &cluster(None, nodes.clone(), z)).unwrap(),
            "no master: no node serves clients; ZooKeeper has no quorum (1 of 3 servers running)"
        );
        assert_eq!(check(Until::Outage, &cluster(None, nodes, zk3())).unwrap(), "no master: no node serves clients");
        let m = vec![node("node01", "running", Some("master"), true, None)];
        assert!(check(Until::Outage, &cluster(Some("node01"), m, zk3())).is_err());
        let s = vec![node("node02", "running", Some("slave"), false, Some("connecting"))];
        assert_eq!(check(Until::Outage, &cluster(None, s, zk3())).unwrap_err(), "node02 slave (connecting)");
    }
}
