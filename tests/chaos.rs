//! One chaos run with a fixed seed: every fault kind, a producer and a consumer through the
//! failover URL; the verdict must be PASS (nothing acknowledged lost, no two serving masters).

mod common;

use common::TestCluster;
use serde_json::Value;

/// Runs `mqsim chaos` for `duration` with `seed` and checks its verdict: PASS, nothing
/// acknowledged lost. Returns the summary.
fn chaos_passes(c: &TestCluster, duration: &str, seed: &str) -> Value {
    let out = c.run(&["chaos", "--duration", duration, "--seed", seed, "--interval", "1s", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json_start = stdout.find('{').unwrap_or_else(|| panic!("no summary: {stdout}\n{stderr}\n{}", c.diagnostics()));
    let summary: Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(summary["verdict"], "PASS", "{summary:#}\n{stderr}");
    assert!(out.status.success());
    assert_eq!(summary["lost"], 0);
    summary
}

#[test]
fn chaos_run_with_a_fixed_seed_passes() {
    let mut c = TestCluster::new(29);
    c.up();
    let summary = chaos_passes(&c, "75s", "42");
    assert!(summary["acknowledged"].as_u64().unwrap() > 100, "{summary:#}");
    let kinds: std::collections::BTreeSet<&str> =
        summary["faults"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(kinds.len() >= 3, "several fault kinds in 75 s: {kinds:?}");
    let run_dir = std::path::PathBuf::from(summary["run_dir"].as_str().unwrap());
    for f in ["summary.json", "events.jsonl", "merged.log", "failover-histogram.txt"] {
        assert!(run_dir.join(f).exists(), "{f} missing in the run folder");
    }
    c.down();
}

/// The same faults with 64 KiB log files (issue 12): log files roll, are collected and
/// compacted on every node while masters are killed and slaves restarted mid-collection and
/// mid-resync; nothing acknowledged may be lost.
#[test]
fn chaos_with_small_log_files_loses_nothing_while_files_are_collected() {
    let mut c = TestCluster::with_toml(102, |base| common::cluster_toml(base, "logSize = 65536"));
    c.up();
    let summary = chaos_passes(&c, "60s", "7");
    assert!(summary["acknowledged"].as_u64().unwrap() > 100, "{summary:#}");
    let gc = c.events().iter().filter(|e| e["kind"] == "gc").count();
    let resyncs: Vec<String> = c
        .events()
        .iter()
        .filter(|e| e["kind"] == "resync")
        .map(|e| e["message"].as_str().unwrap_or("").chars().take(120).collect())
        .collect();
    eprintln!("{gc} collections, {} resyncs: {resyncs:#?}", resyncs.len());
    assert!(gc > 0, "log files were collected during the run");
    c.down();
}
