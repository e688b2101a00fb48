//! Fault lessons on a real cluster: the zombie master, and ZooKeeper quorum loss.

mod common;

use std::time::Duration;

use common::{RawStomp, TestCluster};
use serde_json::Value;

fn port(st: &Value, node: &str, key: &str) -> u16 {
    TestCluster::node(st, node)["ports"][key].as_u64().unwrap() as u16
}

#[test]
fn zombie_master_accepts_no_write_after_it_wakes_up_and_steps_down() {
    // local_disk: the master would not even wait for a slave, so only the lease stops it.
    let mut c = TestCluster::with_toml(25, |base| common::cluster_toml(base, "sync = \"local_disk\""));
    c.up();
    let st = c.status();
    let old = st["master"].as_str().unwrap().to_string();
    let mut conn = RawStomp::connect(port(&st, &old, "stomp"));

    c.ok(&["pause", &old]);
    let st = c.wait_for("a new master while the old one is frozen", Duration::from_secs(15), |st| {
        st["master"].as_str().is_some_and(|m| m != old)
    });
    assert_eq!(TestCluster::node(&st, &old)["state"], "paused");
    let new = st["master"].as_str().unwrap().to_string();

    // The client still holds a connection to the zombie and writes to it; the bytes wait
    // in the kernel until the zombie runs again.
    conn.send("SEND\ndestination:/queue/zombie\npersistent:true\nreceipt:z1\n\nlost?");
    c.ok(&["resume", &old]);
    let reply = conn.next_frame();
    assert!(
        !reply.as_deref().unwrap_or("").starts_with("RECEIPT"),
        "the zombie master acknowledged a write: {reply:?}"
    );
    if let Some(r) = &reply {
        assert!(r.starts_with("ERROR") && r.contains("lease"), "{r}");
    }
    // It steps down and follows the new master.
    c.wait_for("the zombie rejoined as slave", Duration::from_secs(15), |st| {
        TestCluster::node(st, &old)["role"] == "slave" && st["master"] == new.as_str()
    });
    // And the write is nowhere: the new master never saw it.
    let st = c.status();
    let mut s = RawStomp::connect(port(&st, &new, "stomp"));
    s.send("SUBSCRIBE\nid:1\ndestination:/queue/zombie\nack:auto\n\n");
    assert_eq!(s.try_frame(Duration::from_millis(1500)), None, "a message acknowledged by nobody must not appear");
    let events = c.events();
    assert!(events.iter().any(|e| e["source"] == old.as_str() && e["kind"] == "demoted"), "no demotion event");
    c.down();
}

#[test]
fn zookeeper_quorum_loss_stops_service_until_restored() {
    let mut c = TestCluster::new(26);
    c.up();
    c.ok(&["kill", "zk01"]);
    c.ok(&["kill", "zk02"]);
    let st = c.wait_for("no master without a ZooKeeper quorum", Duration::from_secs(15), |st| st["master"].is_null());
    for n in st["nodes"].as_array().unwrap() {
        assert!(common::refuses(n["ports"]["stomp"].as_u64().unwrap() as u16), "{} still serves", n["name"]);
    }
    c.ok(&["start", "zk01"]);
    c.ok(&["start", "zk02"]);
    c.wait_for("service back with the quorum", Duration::from_secs(30), |st| !st["master"].is_null());
    c.down();
}

#[test]
fn master_cut_from_zookeeper_is_replaced_and_rejoins_after_heal() {
    let mut c = TestCluster::new(27);
    c.up();
    let old = c.master().unwrap();
    let out = c.ok(&["partition", &old, "--from", "zk"]);
    assert!(out.contains("partitioned from zk"), "{out}");
    let st = c.wait_for("a new master", Duration::from_secs(15), |st| st["master"].as_str().is_some_and(|m| m != old));
    assert_eq!(TestCluster::node(&st, &old)["partitioned"], "zk");
    assert!(common::refuses(port(&st, &old, "stomp")), "the cut-off master stopped serving");
    c.ok(&["heal"]);
    c.wait_for("the old master back as slave", Duration::from_secs(15), |st| {
        TestCluster::node(st, &old)["role"] == "slave" && TestCluster::node(st, &old)["partitioned"].is_null()
    });
    c.down();
}

#[test]
fn master_cut_from_its_peers_keeps_the_role_but_cannot_complete_synced_writes() {
    let mut c = TestCluster::with_toml(28, |base| common::cluster_toml(base, "sync = \"quorum_mem\""));
    c.up();
    let st = c.status();
    let master = st["master"].as_str().unwrap().to_string();
    let mut conn = RawStomp::connect(port(&st, &master, "stomp"));
    c.ok(&["partition", &master, "--from", "peers"]);
    std::thread::sleep(Duration::from_millis(300));
    conn.send("SEND\ndestination:/queue/cut\npersistent:true\nreceipt:p1\n\nwaiting");
    assert_eq!(conn.try_frame(Duration::from_secs(2)), None, "no slave can ack: no RECEIPT while cut from peers");
    assert_eq!(c.status()["master"].as_str(), Some(master.as_str()), "ZooKeeper still names it master");
    c.ok(&["heal", &master]);
    let f = conn.next_frame().expect("the receipt after heal");
    assert!(f.starts_with("RECEIPT") && f.contains("receipt-id:p1"), "{f}");
    c.down();
}
