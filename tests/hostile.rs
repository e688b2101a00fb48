//! Hostile and careless input, end to end (issue 11): each test attacks a real cluster the
//! way a local process with no credentials could, then checks the cluster's one promise —
//! it still serves, and a queue of messages acknowledged *before* the attack is intact.
//!
//! The attacks live in one module per entry point; every test has its own port block
//! (64..=99; tutorial.rs has 60..=63) and zkPath, and stops what it started by PID.

mod common;

#[path = "hostile/election.rs"]
mod election;
#[path = "hostile/network.rs"]
mod network;
#[path = "hostile/openwire.rs"]
mod openwire;
#[path = "hostile/resources.rs"]
mod resources;
#[path = "hostile/stomp.rs"]
mod stomp;
#[path = "hostile/store.rs"]
mod store;

use std::time::Duration;

use common::{RawStomp, TestCluster, master_port};

/// Messages acknowledged (RECEIPT after a persistent SEND) before an attack.
pub struct Canary {
    pub queue: String,
    pub bodies: Vec<String>,
}

impl Canary {
    /// Sends `n` persistent messages with receipts to `hostile.canary` on the master.
    pub fn seed(c: &TestCluster, n: usize) -> Canary {
        let st = c.status();
        let mut r = RawStomp::connect(master_port(&st, "stomp"));
        let queue = "hostile.canary".to_string();
        let bodies: Vec<String> = (0..n).map(|i| format!("canary-{i}")).collect();
        for (i, b) in bodies.iter().enumerate() {
            r.send(&format!("SEND\ndestination:/queue/{queue}\npersistent:true\nreceipt:c{i}\n\n{b}"));
            let f = r.frame();
            assert!(f.starts_with("RECEIPT"), "canary send {i}: {f}");
        }
        r.send("DISCONNECT\n\n");
        Canary { queue, bodies }
    }

    /// Waits up to 30 s for a master (possibly a new one), then consumes the canary queue
    /// there and checks every acknowledged body is present (duplicates allowed, losses not).
    pub fn assert_intact(&self, c: &TestCluster) {
        let st = c.wait_for("a serving master", Duration::from_secs(30), |st| st["master"].is_string());
        let port = master_port(&st, "stomp");
        let mut r = RawStomp::connect(port);
        r.send(&format!("SUBSCRIBE\nid:canary\ndestination:/queue/{}\nack:auto\n\n", self.queue));
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < self.bodies.len() {
            let Some(f) = r.try_frame(Duration::from_secs(10)) else { break };
            if let Some(body) = f.split("\n\n").nth(1) {
                seen.insert(body.to_string());
            }
        }
        let lost: Vec<&String> = self.bodies.iter().filter(|b| !seen.contains(*b)).collect();
        assert!(
            lost.is_empty(),
            "acknowledged messages lost: {} of {}: {:?}…\n{}",
            lost.len(),
            self.bodies.len(),
            &lost[..lost.len().min(5)],
            c.diagnostics()
        );
    }
}

/// Checks the master still serves: a new STOMP connection, a persistent send with receipt.
pub fn assert_serves(c: &TestCluster) {
    let st = c.wait_for("a serving master", Duration::from_secs(30), |st| st["master"].is_string());
    let mut r = RawStomp::connect(master_port(&st, "stomp"));
    r.send("SEND\ndestination:/queue/hostile.after\npersistent:true\nreceipt:after\n\nstill here");
    let f = r.frame();
    assert!(f.starts_with("RECEIPT"), "the master did not serve after the attack: {f}\n{}", c.diagnostics());
}
