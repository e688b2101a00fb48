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

/// A short run's folder holds one sequence diagram per fault (`fault-<k>.svg`): valid SVG
/// that names, for a fault that moved the master, the broker that served after it.
#[test]
fn chaos_run_folder_has_a_sequence_diagram_per_fault() {
    let mut c = TestCluster::new(105);
    c.up();
    let out = c.run(&[
        "chaos",
        "--duration",
        "12s",
        "--seed",
        "3",
        "--interval",
        "1s",
        "--faults",
        "kill,partition",
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json_start = stdout.find('{').unwrap_or_else(|| panic!("no summary: {stdout}\n{}", c.diagnostics()));
    let summary: Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    let faults = summary["faults"].as_array().unwrap();
    assert!(!faults.is_empty(), "{summary:#}");
    let run_dir = std::path::PathBuf::from(summary["run_dir"].as_str().unwrap());
    let events = c.events();
    let mut client_rows = 0;
    for (k, f) in faults.iter().enumerate() {
        let path = run_dir.join(format!("fault-{}.svg", k + 1));
        let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}\n{svg}", path.display()));
        let root = doc.root_element();
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        let target = f["target"].as_str().unwrap();
        let kinds: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("data-kind")).collect();
        assert!(
            kinds.first().is_some_and(|k| *k == "killed" || *k == "partitioned"),
            "{kinds:?} in {}",
            path.display()
        );
        // The broker drawn as the new master is the one the timeline shows serving first
        // after this fault.
        let fault_ts = events
            .iter()
            .filter(|e| e["source"] == "supervisor" && e["message"].as_str().unwrap_or("").starts_with(target))
            .filter(|e| e["kind"] == "killed" || e["kind"] == "partitioned")
            .nth(faults[..k].iter().filter(|g| g["target"] == f["target"]).count())
            .and_then(|e| e["ts"].as_u64())
            .unwrap();
        let served = events
            .iter()
            .find(|e| e["kind"] == "serving" && e["ts"].as_u64().unwrap() >= fault_ts)
            .and_then(|e| e["source"].as_str());
        let drawn = root.attribute("data-new-master").unwrap();
        assert_eq!(Some(drawn), served, "{}", path.display());
        assert_ne!(drawn, target, "the fault's victim is not the new master");
        let text: String = doc.descendants().filter_map(|n| n.text()).collect::<Vec<_>>().join(" ");
        assert!(text.contains(&format!("New master: {drawn}")), "{text}");
        client_rows +=
            usize::from(text.contains("chaos producer reconnected") || text.contains("chaos consumer reconnected"));
    }
    // Chaos's producer and consumer write their failovers on the timeline, so the diagrams
    // draw the clients moving to the new master.
    assert!(client_rows > 0, "no fault diagram shows a chaos client reconnecting");
    assert!(!run_dir.join(format!("fault-{}.svg", faults.len() + 1)).exists());
    c.down();
}
