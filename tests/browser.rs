//! End to end in a real browser: headless Chromium (Debian `chromium` + `chromium-driver`,
//! driven through WebDriver by Python Selenium, both installed by `scripts/test.sh`) opens
//! the dashboard of a real cluster (port block 41), sees one master (table and topology
//! picture), starts the demo load and sees its rates, clicks "kill" on the master, and sees
//! a new master, the kill in the timeline, the failover time and the failover's sequence
//! diagram; then restarts the killed broker, cuts the master from ZooKeeper with the lesson
//! bar, sees the next failover in both pictures, heals and stops the load. Screenshots go to
//! `<target>/tmp/browser/`; `MQSIM_DOCS_SCREENSHOTS=1` also copies five of them into `docs/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::TestCluster;
use serde_json::Value;

fn have(cmd: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {cmd}")]).output().is_ok_and(|o| o.status.success())
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.len() > 10_000 && b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

#[test]
fn dashboard_in_headless_chromium_kill_the_master_and_watch_the_failover() {
    let selenium = Command::new("python3").args(["-c", "import selenium"]).output().is_ok_and(|o| o.status.success());
    assert!(
        have("chromium") && have("chromedriver") && selenium,
        "the browser test needs Debian's chromium and chromium-driver and Python selenium \
         (scripts/test.sh installs them: apt-get install chromium chromium-driver; pip install selenium)"
    );
    let mut c = TestCluster::new(41);
    c.up();
    c.wait_for("settled roles", Duration::from_secs(20), |st| {
        st["nodes"].as_array().unwrap().iter().all(|n| n["role"] == "master" || n["replication"] == "attached")
    });
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    let _ = std::fs::remove_dir_all(&out);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/dashboard.py");
    let ports: Vec<String> = ["node01", "node02", "node03"].iter().map(|n| c.console_port(n).to_string()).collect();
    let run = Command::new("python3")
        .arg(script)
        .args(["--url", &format!("http://127.0.0.1:{}/", c.dashboard_port())])
        .args(["--out", out.to_str().unwrap(), "--console-ports", &ports.join(",")])
        .env("SE_OFFLINE", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "browser run failed:\n{stdout}\n{stderr}\n{}", c.diagnostics());
    let seen: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let (old, new) = (seen["old_master"].as_str().unwrap(), seen["new_master"].as_str().unwrap());
    assert_ne!(old, new, "{seen:#}");
    assert!(seen["result"].as_str().unwrap().contains(old), "{seen:#}");
    assert!(seen["killed_event"].as_str().unwrap().contains("SIGKILL"), "{seen:#}");
    assert!(seen["failover"].as_str().unwrap().contains(&format!("{old} killed → {new} serving")), "{seen:#}");
    assert!(seen["master_line"].as_str().unwrap().contains(new), "{seen:#}");
    assert!(seen["slave_banner"].as_str().unwrap().contains(&format!("SLAVE of {new}")), "{seen:#}");
    assert!(seen["slave_link"].as_str().unwrap().contains(&format!(":{}/admin/", c.console_port(new))), "{seen:#}");
    // The pictures: the topology's master before and after, the sequence diagram's new master.
    assert_eq!(seen["topology_master_before"], old, "{seen:#}");
    assert_eq!(seen["topology_role_before"], "master", "{seen:#}");
    assert_eq!(seen["topology_master_after"], new, "{seen:#}");
    assert_eq!(seen["sequence_new_master"], new, "{seen:#}");
    let seq = seen["sequence_text"].as_str().unwrap();
    for want in
        [format!("New master: {new}"), "killed".into(), "accepts clients".into(), format!("reconnected to {new}")]
    {
        assert!(seq.contains(&want), "{want:?} not in the sequence diagram:\n{seq}");
    }
    // The lesson bar: load rates, partition → another master, heal, load stopped.
    let rates: Vec<f64> = seen["load_rates"].as_array().unwrap().iter().map(|r| r.as_f64().unwrap()).collect();
    assert!(rates.iter().all(|r| *r > 0.0), "{seen:#}");
    assert!(seen["topology_clients"].as_str().unwrap().contains("conn."), "{seen:#}");
    let third = seen["partition_new_master"].as_str().unwrap();
    assert_ne!(third, new, "{seen:#}");
    assert!(seen["partition_result"].as_str().unwrap().contains(&format!("{new}: partitioned from zk")), "{seen:#}");
    assert!(seen["partition_sequence_text"].as_str().unwrap().contains(&format!("New master: {third}")), "{seen:#}");
    assert!(seen["heal_result"].as_str().unwrap().contains("healed"), "{seen:#}");
    assert!(seen["load_stopped"].as_str().unwrap().contains("load stopped"), "{seen:#}");

    // What the browser saw is what the cluster did.
    let st = c.status();
    assert_eq!(st["master"].as_str(), Some(third));
    assert!(st["nodes"].as_array().unwrap().iter().all(|n| n["partitioned"].is_null()), "healed: {st:#}");
    let events = c.events();
    assert!(events.iter().any(|e| e["kind"] == "killed" && e["message"].as_str().unwrap().starts_with(old)));
    assert!(events.iter().any(|e| e["kind"] == "partitioned" && e["message"].as_str().unwrap().starts_with(new)));
    assert!(events.iter().any(|e| e["source"] == "load" && e["kind"] == "client-reconnected"), "the load failed over");

    // The pictures as standalone SVG documents, from the real cluster: valid XML, right master.
    for (path, attr, file) in [
        ("/diagram/topology.svg", "data-master", "topology.svg"),
        ("/diagram/last-failover.svg", "data-new-master", "last-failover.svg"),
    ] {
        let r = common::http(c.dashboard_port(), "GET", path, Some(("admin", "admin")), &[], b"");
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let doc = roxmltree::Document::parse(&r.body).unwrap_or_else(|e| panic!("{path}: {e}\n{}", r.body));
        assert_eq!(doc.root_element().tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        assert_eq!(doc.root_element().attribute(attr), Some(third), "{path}");
        std::fs::write(out.join(file), &r.body).unwrap();
    }

    for shot in [
        "dashboard-before.png",
        "dashboard.png",
        "topology.png",
        "failover-sequence.png",
        "console-master.png",
        "console-queues.png",
        "console-slave.png",
    ] {
        let p = out.join(shot);
        assert!(is_png(&p), "{} is not a screenshot", p.display());
        let for_docs =
            ["dashboard.png", "topology.png", "failover-sequence.png", "console-master.png", "console-slave.png"]
                .contains(&shot);
        if for_docs && std::env::var_os("MQSIM_DOCS_SCREENSHOTS").is_some() {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(shot);
            std::fs::copy(&p, docs).unwrap();
        }
    }
    eprintln!("screenshots in {}", out.display());
    c.down();
}
