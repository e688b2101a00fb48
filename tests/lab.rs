//! `mqsim lab loss` end to end: the same steps (batch, cut the master off from its peers,
//! keep producing, kill it, consume, restart it) lose acknowledged messages under
//! `local_disk` and none under `quorum_mem`, where the producer is blocked during the cut.
//! The lab has no random choices; every wait in it is bounded.

mod common;

use std::time::{Duration, Instant};

use common::TestCluster;
use serde_json::Value;

/// Runs the lab on a fresh cluster with `sync` and returns its summary.
fn lab(block: u16, sync: &str) -> (TestCluster, Value) {
    let c = TestCluster::with_toml(block, |base| common::cluster_toml(base, &format!("sync = \"{sync}\"")));
    c.up();
    let t0 = Instant::now();
    let out = c.run(&["lab", "loss", "--batch", "20", "--cut-for", "2s", "--cut-max", "50", "--json"]);
    let took = t0.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "lab failed ({}):\n{stdout}\n{stderr}\n{}", out.status, c.diagnostics());
    let summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    eprintln!("{sync}: {summary:#}\n(in {took:?})");
    assert!(took < Duration::from_secs(120), "the lab is bounded: {took:?}");
    assert_eq!(summary["sync"], sync);
    assert_eq!(summary["verdict"], "PASS", "{summary:#}");
    assert_eq!(summary["batch_acknowledged"], 20);
    // The old master came back as a slave of the new one; nothing is left cut off.
    let st = c.status();
    assert_eq!(st["master"], summary["new_master"]);
    let old = TestCluster::node(&st, summary["master"].as_str().unwrap());
    assert_eq!(old["role"], "slave", "{st:#}");
    assert!(st["nodes"].as_array().unwrap().iter().all(|n| n["partitioned"].is_null()), "{st:#}");
    (c, summary)
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn local_disk_loses_what_the_cut_off_master_acknowledged() {
    let (mut c, s) = lab(103, "local_disk");
    let cut = n(&s["cut_acknowledged"]);
    assert!(cut > 0, "the cut-off master kept acknowledging: {s:#}");
    assert_eq!(s["send_waiting_at_kill"], false, "nothing blocks under local_disk: {s:#}");
    let lost = n(&s["lost"]);
    assert!(lost > 0, "local_disk must show the loss: {s:#}");
    assert!(lost <= cut, "only what was acknowledged during the cut may be lost: {s:#}");
    assert_eq!(n(&s["acknowledged"]), 20 + cut);
    assert_eq!(n(&s["received"]), n(&s["acknowledged"]) - lost);
    assert_eq!(n(&s["lost_allowed_by_sync"]), lost);
    assert!(!s["lost_seqs"].as_str().unwrap().split([',', '-']).any(|x| x.trim().parse::<u64>().unwrap() <= 20));
    // The master's journal ran ahead of the slaves' while it was cut off.
    let master = s["master"].as_str().unwrap();
    let at_kill = s["positions_at_kill"].as_object().unwrap();
    let ahead = n(&at_kill[master]);
    assert!(at_kill.iter().filter(|(k, _)| *k != master).all(|(_, p)| n(p) < ahead), "{s:#}");
    // Its rejoin dropped them (into quarantine): the resync counted at least the lost ones.
    assert!(n(&s["dropped_on_rejoin"]) >= lost, "{s:#}");
    assert!(s["promise"].as_str().unwrap().starts_with("sync=local_disk promises: "));

    // `mqsim chaos` on the same cluster says which promise its verdict checked.
    let out = c.run(&["chaos", "--duration", "3s", "--faults", "kill", "--seed", "5", "--interval", "1s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let verdict = text.lines().find(|l| l.starts_with("verdict: ")).unwrap_or_else(|| panic!("{text}"));
    assert!(
        verdict.starts_with(
            "verdict: PASS (sync=local_disk promises: an acknowledged message survives while the master that \
             acknowledged it serves; a failover may lose those no slave had yet"
        ),
        "{verdict}"
    );
    let run = std::fs::read_to_string(c.state_dir().join("runs/latest/summary.json")).unwrap();
    let run: Value = serde_json::from_str(&run).unwrap();
    assert_eq!(run["verdict"], "PASS");
    assert_eq!(run["sync"], "local_disk");
    assert_eq!(n(&run["lost_allowed_by_sync"]), n(&run["lost"]), "{run:#}");
    assert_eq!(run["lost_without_failover"], 0, "{run:#}");
    c.down();
}

#[test]
fn quorum_mem_loses_nothing_acknowledged_and_blocks_the_producer() {
    let (mut c, s) = lab(104, "quorum_mem");
    assert_eq!(n(&s["lost"]), 0, "{s:#}");
    assert_eq!(n(&s["cut_acknowledged"]), 0, "cut off from every slave, the master acknowledges nothing: {s:#}");
    assert_eq!(s["send_waiting_at_kill"], true, "the producer was blocked on its receipt: {s:#}");
    assert_eq!(n(&s["acknowledged"]), 20);
    assert_eq!(n(&s["received"]), 20);
    assert_eq!(s["promise"], "sync=quorum_mem promises: no acknowledged message is lost");
    c.down();
}
