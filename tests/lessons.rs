//! `mqsim wait` and `mqsim down --purge` end to end (the tutorial's fresh start and its
//! visible waits), on real clusters: port blocks 107 and 108.

mod common;

use std::os::unix::fs::symlink;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestCluster, alive};

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn wait_without_a_cluster_fails_at_once() {
    let c = TestCluster::new(108);
    let t = Instant::now();
    let out = c.run(&["wait", "master", "--timeout", "30s"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no cluster is running"), "{}", text(&out));
    assert!(t.elapsed() < Duration::from_secs(10), "did not wait out the timeout");
    let out = c.run(&["wait", "master", "--timeout", "soon"]);
    assert!(!out.status.success() && text(&out).contains("--timeout"), "{}", text(&out));
}

#[test]
fn purge_refuses_while_a_process_of_the_cluster_runs() {
    let c = TestCluster::new(108);
    let sd = c.state_dir();
    std::fs::create_dir_all(sd.join("mq_node01/activemq-data")).unwrap();
    // A supervisor (which `down` does not kill as a stray) whose command line names the
    // state directory, as the cluster's processes do.
    let mut child =
        Command::new("sh").arg("-c").arg(format!("sleep 30; : {}", sd.display())).stdin(Stdio::null()).spawn().unwrap();
    std::fs::write(sd.join("pids.json"), format!("{{\"supervisor\":{},\"children\":{{}}}}", child.id())).unwrap();
    let out = c.run(&["down", "--purge"]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("still run (pid {})", child.id())), "{}", text(&out));
    assert!(sd.join("mq_node01/activemq-data").is_dir(), "nothing removed");
}

#[test]
fn purge_starts_the_next_run_fresh_and_never_leaves_the_state_dir() {
    let mut c = TestCluster::new(107);
    c.up();
    let st = c.ok(&["wait", "master", "--timeout", "60s"]);
    assert!(st.starts_with("master node0") && st.contains("2 slaves attached"), "{st}");

    // A condition that does not hold times out, naming what it saw.
    let t = Instant::now();
    let out = c.run(&["wait", "outage", "--timeout", "1s"]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(msg.contains("waited 1s for no master; still: ") && msg.contains("master (serving)"), "{msg}");
    assert!(t.elapsed() < Duration::from_secs(10));
    let members = c.ok(&["wait", "members", "--timeout", "30s"]);
    assert!(members.starts_with("3 members: 00000000000 node0"), "{members}");

    c.ok(&["send", "--queue", "purge", "--count", "5", "--persistent"]);
    let sd = c.state_dir();
    // Links out of the state directory, under an owned name and inside a store.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("precious"), "keep me").unwrap();
    symlink(outside.path(), sd.join("runs")).unwrap();
    symlink(outside.path(), sd.join("mq_node01/activemq-data/escape")).unwrap();
    symlink(outside.path(), sd.join("elsewhere")).unwrap();
    std::fs::write(sd.join("notes.txt"), "mine").unwrap();
    let pids = c.pids();
    let out = c.ok(&["down", "--purge"]);
    assert!(out.contains("cluster stopped"), "{out}");
    assert!(out.contains("left alone (not this cluster's): elsewhere, notes.txt"), "{out}");
    assert!(out.contains(&format!("purged {}", sd.display())), "{out}");
    assert!(pids.iter().all(|p| !alive(*p)), "a process survived the purge's down");
    assert_eq!(std::fs::read_to_string(outside.path().join("precious")).unwrap(), "keep me");
    assert!(outside.path().join("precious").exists());
    for gone in
        ["mq_node01", "mq_node02", "mq_node03", "zk01", "zk02", "zk03", "events.jsonl", "runs", "security-token"]
    {
        assert!(std::fs::symlink_metadata(sd.join(gone)).is_err(), "{gone} left");
    }
    assert!(sd.join("notes.txt").exists() && std::fs::symlink_metadata(sd.join("elsewhere")).is_ok());

    // The next run is like the first: znode 00000000000 elected, every position 0, a new token.
    let up = c.up();
    assert!(up.contains("(/mqsim-test/") && up.contains("/leveldb-stores/00000000000)"), "{up}");
    assert!(up.contains("Generated a replication securityToken"), "{up}");
    let st = c.status();
    assert!(st["nodes"].as_array().unwrap().iter().all(|n| n["position"] == 0), "{st:#}");
    c.down();
}
