//! Bad input: clear one-line errors, non-zero exit, nothing started.

mod common;

use common::TestCluster;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn broker_name_mismatch_is_refused_with_line_and_fix() {
    let c = TestCluster::with_toml(10, |base| {
        common::cluster_toml(base, "").replacen("name = \"node02\"\n", "name = \"node02\"\nbrokerName = \"other\"\n", 1)
    });
    let out = c.run(&["up"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("cluster.toml: line "), "{e}");
    assert!(e.contains("node node02 has brokerName \"other\""), "{e}");
    assert!(e.contains("must share one brokerName"), "{e}");
    assert!(!c.state_dir().exists(), "nothing may be started or created");
}

#[test]
fn syntax_error_has_line_and_column() {
    let c = TestCluster::with_toml(11, |base| common::cluster_toml(base, "replicas = three"));
    let out = c.run(&["status"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("line 6, column 12"), "{e}");
}

#[test]
fn busy_port_is_named_with_its_owner_before_anything_starts() {
    let c = TestCluster::new(12);
    let _hold = common::busy(c.base + 1); // zk02's clientPort
    let out = c.run(&["up"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains(&format!("port {} (zk02 clientPort) is already in use", c.base + 1)), "{e}");
    assert!(e.contains(&format!("held by pid {}", std::process::id())), "{e}");
    assert!(!c.state_dir().join("supervisor.sock").exists());
}

#[test]
fn missing_zookeeper_names_the_install_command() {
    let c = TestCluster::with_toml(13, |base| {
        common::cluster_toml(base, "").replace("[zookeeper]\n", "[zookeeper]\nhome = \"/nonexistent/zookeeper\"\n")
    });
    let out = c.run(&["up"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("apt-get install -y zookeeper"), "{e}");
}

#[test]
fn commands_without_a_cluster_say_so() {
    let c = TestCluster::new(14);
    for args in [&["status"][..], &["kill", "master"]] {
        let out = c.run(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains("no cluster is running"), "{}", stderr(&out));
    }
    let out = c.run(&["down"]);
    assert!(out.status.success(), "down is idempotent");
}
