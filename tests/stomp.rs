//! The message broker end to end: real stomp.py against the master, replication to the
//! slaves, sync modes. Real ZooKeeper, one port block per test.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{RawStomp as Raw, TestCluster, master_port};

fn scenarios(port: u16, names: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/stomp_scenarios.py");
    let out = Command::new("python3").arg(script).arg(format!("127.0.0.1:{port}")).args(names).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "stomp.py scenarios failed:\n{text}");
    assert!(text.contains("ok "), "{text}");
}

#[test]
fn stomp_py_scenarios_and_bad_frames_against_the_master() {
    let mut c = TestCluster::with_toml(20, |base| common::cluster_toml(base, "maxFrameSize = 65536"));
    c.up();
    let st = c.status();
    scenarios(master_port(&st, "stomp"), &[]);
    scenarios(master_port(&st, "stomp"), &["oversized"]);
    // The broker kept running through the bad frames: still the same master.
    assert_eq!(c.status()["master"], st["master"]);
    c.down();
}

fn persistent_send(r: &mut Raw, queue: &str, body: &str, receipt: &str) {
    r.send(&format!("SEND\ndestination:/queue/{queue}\npersistent:true\nreceipt:{receipt}\n\n{body}"));
}

#[test]
fn slaves_follow_the_master_and_a_restarted_slave_catches_up_and_can_win() {
    let mut c = TestCluster::with_toml(21, |base| common::cluster_toml(base, "sync = \"quorum_mem\""));
    c.up();
    let st = c.status();
    let master = st["master"].as_str().unwrap().to_string();
    let slave = st["nodes"].as_array().unwrap().iter().find(|n| n["role"] == "slave").unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    c.ok(&["stop", &slave]);
    let mut r = Raw::connect(master_port(&st, "stomp"));
    for i in 0..50 {
        persistent_send(&mut r, "follow", &format!("m{i}"), &format!("r{i}"));
        assert!(r.frame().starts_with("RECEIPT"));
    }
    // The stopped slave comes back, resyncs, and reaches the master's position.
    c.ok(&["start", &slave]);
    let st = c.wait_for("restarted slave caught up", Duration::from_secs(15), |st| {
        let s = TestCluster::node(st, &slave);
        let m = TestCluster::node(st, &master);
        s["replication"] == "attached" && s["position"] == m["position"] && m["position"].as_i64().unwrap() > 0
    });
    let slaves = TestCluster::node(&st, &master)["slaves"].as_array().unwrap().len();
    assert_eq!(slaves, 2, "{st:#}");
    // Now only it and the master are left with the data: kill the master and the other
    // slave; bring the other back so there is a quorum. Whoever wins has every message.
    let other = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .find(|n| *n != master && *n != slave)
        .unwrap();
    c.ok(&["kill", &master]);
    let st = c.wait_for("new master", Duration::from_secs(15), |st| st["master"].as_str().is_some_and(|m| m != master));
    let mut r = Raw::connect(master_port(&st, "stomp"));
    r.send("SUBSCRIBE\nid:1\ndestination:/queue/follow\nack:auto\n\n");
    for i in 0..50 {
        let f = r.frame();
        assert!(f.starts_with("MESSAGE") && f.ends_with(&format!("\n\nm{i}")), "message {i}: {f}");
    }
    let _ = other;
    c.down();
}

#[test]
fn quorum_sync_blocks_receipts_while_no_slave_acks() {
    // A long session, so paused slaves stay registered members (quorum kept) for a while.
    let mut c = TestCluster::with_toml(22, |base| {
        common::cluster_toml(base, "sync = \"quorum_disk\"")
            .replace("zkSessionTimeout = \"2s\"", "zkSessionTimeout = \"8s\"")
            .replace("tickTime = 200", "tickTime = 500")
    });
    c.up();
    let st = c.status();
    let mut r = Raw::connect(master_port(&st, "stomp"));
    persistent_send(&mut r, "sync", "first", "r1");
    assert!(r.frame().starts_with("RECEIPT"), "with slaves attached the receipt comes");
    c.ok(&["pause", "slaves"]);
    persistent_send(&mut r, "sync", "second", "r2");
    assert_eq!(r.try_frame(Duration::from_secs(2)), None, "no slave can ack: the synced send must wait");
    c.ok(&["resume", "slaves"]);
    let f = r.frame();
    assert!(f.starts_with("RECEIPT") && f.contains("receipt-id:r2"), "{f}");
    c.down();
}

#[test]
fn connections_over_maximum_connections_are_closed_at_accept() {
    let mut c = TestCluster::with_toml(23, |base| common::cluster_toml(base, "maximumConnections = 2"));
    c.up();
    let port = master_port(&c.status(), "stomp");
    let _a = Raw::connect(port);
    let _b = Raw::connect(port);
    let mut third = TcpStream::connect(("127.0.0.1", port)).unwrap();
    third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = third.write_all(b"CONNECT\naccept-version:1.2\n\n\0");
    let mut buf = [0u8; 64];
    let n = third.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the third connection must be closed without an answer: {:?}", &buf[..n]);
    drop(_a);
    std::thread::sleep(Duration::from_millis(300));
    let _c = Raw::connect(port); // a freed slot is usable again
    c.down();
}
