//! One chaos run with a fixed seed: every fault kind, a producer and a consumer through the
//! failover URL; the verdict must be PASS (nothing acknowledged lost, no two serving masters).

mod common;

use common::TestCluster;
use serde_json::Value;

#[test]
fn chaos_run_with_a_fixed_seed_passes() {
    let mut c = TestCluster::new(29);
    c.up();
    let out = c.run(&["chaos", "--duration", "75s", "--seed", "42", "--interval", "1s", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json_start = stdout.find('{').unwrap_or_else(|| panic!("no summary: {stdout}\n{stderr}\n{}", c.diagnostics()));
    let summary: Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(summary["verdict"], "PASS", "{summary:#}\n{stderr}");
    assert!(out.status.success());
    assert_eq!(summary["lost"], 0);
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
