//! End-to-end lifecycle tests against a real ZooKeeper ensemble and real broker processes.
//! Every test has its own port block (see `common::port_base`) and state directory.

mod common;

use std::time::Duration;

use common::{TestCluster, accepts, refuses};
use serde_json::Value;

fn roles(st: &Value) -> Vec<(String, String)> {
    st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap().to_string(), n["role"].as_str().unwrap_or("-").to_string()))
        .collect()
}

fn masters(st: &Value) -> usize {
    roles(st).iter().filter(|(_, r)| r == "master").count()
}

#[test]
fn up_elects_one_master_visible_in_zookeeper_and_slaves_refuse_clients() {
    let mut c = TestCluster::new(0);
    let out = c.up();
    assert!(out.contains("Master elected"), "{out}");
    assert!(out.contains("failover:(tcp://127.0.0.1:"), "{out}");

    let st = c.wait_for("settled roles", Duration::from_secs(10), |st| {
        roles(st).iter().all(|(_, r)| r == "master" || r == "slave")
    });
    let master = st["master"].as_str().expect("a master").to_string();
    assert_eq!(masters(&st), 1, "{st:#}");
    assert_eq!(roles(&st).iter().filter(|(_, r)| r == "slave").count(), 2, "{st:#}");
    let modes: Vec<&str> = st["zookeeper"].as_array().unwrap().iter().map(|z| z["mode"].as_str().unwrap()).collect();
    assert_eq!(modes.iter().filter(|m| **m == "leader").count(), 1, "{modes:?}");
    assert_eq!(modes.iter().filter(|m| **m == "follower").count(), 2, "{modes:?}");

    // Only the master serves; a slave's client ports are closed (connection refused).
    for n in st["nodes"].as_array().unwrap() {
        let ports = &n["ports"];
        for key in ["openwire", "stomp"] {
            let port = ports[key].as_u64().unwrap() as u16;
            if n["name"] == master.as_str() {
                assert!(accepts(port), "master {key} port {port} must accept");
            } else {
                assert!(refuses(port), "slave {} {key} port {port} must refuse", n["name"]);
            }
        }
    }

    // ZooKeeper shows what the notes show: three members, `elected` in the oldest one.
    let zk_path = format!("/mqsim-test/{}/leveldb-stores", c.base);
    let ls = c.ok(&["zk", "ls", &zk_path]);
    let children: Vec<&str> = ls.trim().trim_matches(['[', ']']).split(", ").collect();
    assert_eq!(children.len(), 3, "{ls}");
    assert!(children.iter().all(|z| z.len() == 11 && z.starts_with('0')), "{ls}");
    let head = c.ok(&["zk", "get", &format!("{zk_path}/{}", children[0])]);
    let head: Value = serde_json::from_str(head.lines().next().unwrap()).unwrap();
    let master_znode = CommonNode::znode(&st, &master);
    let master_eid = &master_znode[master_znode.len() - 10..];
    assert_eq!(head["elected"], master_eid, "the elector's znode names the master: {head}");
    assert_eq!(head["id"], format!("test{}", c.base));
    let keys: Vec<&String> = head.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6, "{head}");
    let mine = c.ok(&["zk", "get", &master_znode]);
    assert!(mine.contains("\"address\":\"tcp://localhost:"), "master publishes its address: {mine}");

    // The real zkCli.sh sees the same data.
    if let Some(zkcli) = common::zkcli() {
        let out = std::process::Command::new(zkcli)
            .args(["-server", &format!("127.0.0.1:{}", c.base), "get", &format!("{zk_path}/{}", children[0])])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("\"elected\":\"{master_eid}\"")), "zkCli output: {text}");
    }

    // Per-node logs: the broker's own, and the real ZooKeeper server's.
    let log = c.ok(&["logs", "node01"]);
    assert!(log.contains("registered znode"), "{log}");
    let zk_log = c.ok(&["logs", "zk01", "-n", "200"]);
    assert!(zk_log.contains("QuorumPeer"), "{zk_log}");
    c.down();
}

/// Tiny accessor kept next to its only users.
struct CommonNode;
impl CommonNode {
    fn znode(st: &Value, name: &str) -> String {
        TestCluster::node(st, name)["znode"].as_str().unwrap().to_string()
    }
}

#[test]
fn killed_master_is_replaced_and_rejoins_as_slave() {
    let mut c = TestCluster::new(1);
    c.up();
    let old = c.master().unwrap();
    let out = c.ok(&["kill", "master"]);
    assert!(out.contains(&old) && out.contains("SIGKILL"), "{out}");
    let st = c.wait_for("a different master", Duration::from_secs(15), |st| {
        st["master"].as_str().is_some_and(|m| m != old) && masters(st) == 1
    });
    let new = st["master"].as_str().unwrap().to_string();
    assert_eq!(TestCluster::node(&st, &old)["state"], "down");

    // The timeline tells the cause chain in order.
    let events = c.events();
    let pos = |pred: &dyn Fn(&Value) -> bool| events.iter().position(pred);
    let killed = pos(&|e| e["kind"] == "killed" && e["message"].as_str().unwrap().contains(&old)).expect("killed");
    let deleted = pos(&|e| e["kind"] == "znode-deleted" && e["message"].as_str().unwrap().contains("session expired"))
        .expect("znode-deleted with its cause");
    let promoted =
        events.iter().rposition(|e| e["kind"] == "promoted" && e["source"] == new.as_str()).expect("promoted");
    let elected = events
        .iter()
        .rposition(|e| e["kind"] == "election" && e["message"].as_str().unwrap().contains("set elected="))
        .expect("elector's decision");
    assert!(killed < deleted && deleted < elected && elected <= promoted, "order: {events:#?}");

    // Restarted, it rejoins as a slave of the new master (the master keeps its role).
    c.ok(&["start", &old]);
    let st = c.wait_for("old master back as slave", Duration::from_secs(15), |st| {
        TestCluster::node(st, &old)["role"] == "slave"
    });
    assert_eq!(st["master"].as_str(), Some(new.as_str()));
    c.down();
}

#[test]
fn two_of_three_brokers_stopped_means_no_master_until_quorum_returns() {
    let mut c = TestCluster::new(2);
    c.up();
    let st = c.status();
    let master = st["master"].as_str().unwrap().to_string();
    c.ok(&["stop", "slaves"]);
    let st = c.wait_for("no master without quorum", Duration::from_secs(15), |st| st["master"].is_null());
    let port = TestCluster::node(&st, &master)["ports"]["stomp"].as_u64().unwrap() as u16;
    assert!(refuses(port), "the lone node must stop serving");
    assert!(
        c.events().iter().any(|e| e["kind"] == "waiting"
            && e["message"].as_str().unwrap().contains("Not enough cluster members connected")),
        "the elector says why"
    );
    c.ok(&["start", "nodes"]);
    c.wait_for("a master again", Duration::from_secs(15), |st| masters(st) == 1 && !st["master"].is_null());
    c.down();
}

#[test]
fn zookeeper_leader_killed_brokers_keep_or_regain_a_master() {
    let mut c = TestCluster::new(3);
    c.up();
    let st = c.status();
    let leader = st["zookeeper"].as_array().unwrap().iter().find(|z| z["mode"] == "leader").unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let out = c.ok(&["kill", "zk-leader"]);
    assert!(out.contains(&leader), "{out}");
    // The brokers lose their connection, the master steps down (as ActiveMQ's did), and a
    // master serves again once the ensemble has a new leader.
    c.wait_for("a serving master with a new ZooKeeper leader", Duration::from_secs(20), |st| {
        let Some(m) = st["master"].as_str() else {
            return false;
        };
        masters(st) == 1
            && st["zookeeper"].as_array().unwrap().iter().any(|z| z["mode"] == "leader" && z["name"] != leader.as_str())
            && accepts(TestCluster::node(st, m)["ports"]["openwire"].as_u64().unwrap() as u16)
    });
    // The killed server comes back and rejoins the ensemble.
    c.ok(&["start", &leader]);
    c.wait_for("zk server back", Duration::from_secs(20), |st| {
        st["zookeeper"].as_array().unwrap().iter().all(|z| z["mode"].is_string())
    });
    c.down();
}

#[test]
fn foreground_ctrl_c_stops_everything() {
    let c = TestCluster::new(4);
    let mut child = std::process::Command::new(common::MQSIM)
        .arg("--config")
        .arg(&c.config)
        .args(["up", "--foreground"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.wait_for("master", Duration::from_secs(60), |st| !st["master"].is_null());
    let pids = c.pids();
    assert!(pids.len() >= 7, "supervisor + 3 zk + 3 brokers: {pids:?}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let left: Vec<u32> = pids.into_iter().filter(|p| common::alive(*p)).collect();
    assert!(left.is_empty(), "left after Ctrl-C: {left:?}");
}

#[test]
fn supervisor_killed_with_sigkill_takes_every_child_along() {
    let c = TestCluster::new(5);
    c.up();
    let pids = c.pids();
    let sup = pids[0];
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(sup as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| common::alive(*p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.into_iter().filter(|p| common::alive(*p)).collect();
    assert!(left.is_empty(), "PDEATHSIG must take children down: {left:?}");
    let out = c.run(&["status"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no cluster is running"));
}
