//! Nothing acknowledged is lost: a producer with receipts and the failover URL keeps sending
//! while the master is killed again and again; afterwards every receipted message is
//! consumed. Real ZooKeeper, real processes, `mqsim send`/`mqsim recv` as the clients.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{MQSIM, TestCluster};
use serde_json::Value;

const KILLS: usize = 10;
/// At 400 msg/s the producer runs for ~30 s, long enough for the kills on any machine that
/// can do 400 synced sends a second.
const MESSAGES: usize = 12000;

#[test]
fn every_receipted_message_survives_repeated_master_kills() {
    let mut c = TestCluster::with_toml(24, |base| common::cluster_toml(base, "sync = \"quorum_mem\""));
    c.up();
    let url = {
        let st = c.status();
        let ports: Vec<String> = st["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| format!("tcp://127.0.0.1:{}", n["ports"]["stomp"]))
            .collect();
        format!("failover:({})?randomize=false&maxReconnectDelay=200", ports.join(","))
    };
    let mut producer = Command::new(MQSIM)
        .arg("--config")
        .arg(&c.config)
        .args(["send", "--url", &url, "--queue", "orders", "--persistent", "--size", "256"])
        .args(["--count", &MESSAGES.to_string(), "--rate", "400"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Kill the master while the producer runs; bring each victim back as a slave so the
    // cluster keeps three members (quorum 2, and one caught-up slave for the next master).
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(180);
    while kills < KILLS && Instant::now() < deadline && producer.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(700));
        let st = c.wait_for("a serving master", Duration::from_secs(30), |st| !st["master"].is_null());
        let old = st["master"].as_str().unwrap().to_string();
        c.ok(&["kill", &old]);
        kills += 1;
        c.wait_for("a new master", Duration::from_secs(30), |st| st["master"].as_str().is_some_and(|m| m != old));
        c.ok(&["start", &old]);
        c.wait_for("the old master back as an attached slave", Duration::from_secs(30), |st| {
            let n = TestCluster::node(st, &old);
            n["role"] == "slave" && n["replication"] == "attached"
        });
    }
    assert!(kills >= KILLS / 2, "only {kills} kills happened while the producer ran; make it send more");
    let out = producer.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "producer failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("sent {MESSAGES} messages")), "{stdout}");
    let reconnects = stdout.matches("reconnected to").count();
    assert!(reconnects >= kills / 2, "the producer must have failed over with the kills ({kills}): {stdout}");

    // Drain: every message the producer got a RECEIPT for is there (it sends the next
    // only after the previous RECEIPT, so that is all MESSAGES of them).
    let out = c.ok(&[
        "recv",
        "--url",
        &url,
        "--queue",
        "orders",
        "--ack",
        "client-individual",
        "--timeout",
        "5",
        "--json",
        "--count",
        &MESSAGES.to_string(),
    ]);
    let summary: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["distinct"], MESSAGES, "{summary}");
    assert_eq!(summary["seqs_missing_below_max"], 0, "{summary}");
    let dups = summary["duplicates"].as_u64().unwrap();
    assert!(dups as usize <= reconnects, "duplicates only for in-flight sends: {dups} > {reconnects} failovers");
    eprintln!("{kills} kills, {reconnects} producer failovers, {dups} duplicates, 0 lost");
    c.down();
}
