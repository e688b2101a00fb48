//! `cluster.toml` parsing and validation.

use super::*;

fn parse(s: &str) -> Result<Config> {
    Config::parse(s, Path::new("cluster.toml"))
}

#[test]
fn empty_file_is_the_notes_layout() {
    let c = parse("").unwrap();
    assert_eq!(c.nodes.len(), 3);
    assert_eq!(c.cluster.replicas, 3);
    assert_eq!(c.quorum(), 2);
    assert_eq!(*c.nodes[1].stomp.get_ref(), 61623);
    assert_eq!(*c.nodes[2].openwire.get_ref(), 61618);
    assert_eq!(c.zk_connect(), "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183");
    assert_eq!(
        c.failover_url(),
        "failover:(tcp://127.0.0.1:61616,tcp://127.0.0.1:61617,tcp://127.0.0.1:61618)?randomize=false"
    );
}

#[test]
fn zk_password_is_on_by_default_and_empty_turns_it_off() {
    assert_eq!(parse("").unwrap().cluster.zk_password.as_deref(), Some("password"));
    assert_eq!(parse("[cluster]\nzkPassword = \"\"").unwrap().cluster.zk_password, None);
    assert_eq!(parse("[cluster]\nzkPassword = \"s3cret\"").unwrap().cluster.zk_password.as_deref(), Some("s3cret"));
}

#[test]
fn limits_are_validated_in_range() {
    for bad in [
        "maximumConnections = 0",
        "maximumConnections = 100001",
        "maxFrameSize = 10",
        "maxFrameSize = 999999999999",
        "memoryLimit = 5",
        "storeLimit = 0",
        "pendingMessageLimit = 0",
        "transactionLimit = 0",
    ] {
        let e = parse(&format!("[cluster]\n{bad}")).unwrap_err().to_string();
        assert!(e.contains("cluster."), "{bad}: {e}");
    }
    let dup = "[[user]]\nusername = \"a\"\npassword = \"b\"\n[[user]]\nusername = \"a\"\npassword = \"c\"";
    assert!(parse(dup).unwrap_err().to_string().contains("listed twice"));
    assert!(parse("[[user]]\nusername = \"a\"\npassword = \"\"").is_err());
}

#[test]
fn repo_cluster_toml_is_valid_and_matches_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cluster.toml");
    let c = Config::load(&path).unwrap();
    let d = parse("").unwrap();
    let key = |c: &Config| c.ports().into_iter().map(|p| (p.port, p.addr, p.what)).collect::<Vec<_>>();
    assert_eq!(key(&c), key(&d));
    assert_eq!(c.cluster.zk_path, d.cluster.zk_path);
}

#[test]
fn broker_name_mismatch_points_at_the_line() {
    let mut text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("cluster.toml")).unwrap();
    text = text.replacen("name = \"node02\"", "name = \"node02\"\nbrokerName = \"other\"", 1);
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("brokerName \"other\""), "{e}");
    assert!(e.contains("line "), "{e}");
    assert!(e.contains("must share one brokerName"), "{e}");
}

#[test]
fn unknown_field_has_line_and_column() {
    let e = parse("[cluster]\nreplicas = 3\nzkPaht = \"/x\"\n").unwrap_err().to_string();
    assert!(e.contains("line 3, column 1"), "{e}");
    assert!(e.contains("zkPaht"), "{e}");
}

#[test]
fn duplicate_port_is_refused() {
    let e =
        parse("[zookeeper]\n[[zookeeper.server]]\nname='zk01'\nclientPort=61616\nquorumPort=2888\nelectionPort=3888\n")
            .unwrap_err()
            .to_string();
    assert!(e.contains("port 61616 is used twice"), "{e}");
}

#[test]
fn console_and_dashboard_defaults_and_overrides() {
    let c = parse("").unwrap();
    assert_eq!((c.console.user.as_str(), c.console.password.as_str()), ("admin", "admin"));
    assert_eq!(c.console.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(c.dashboard_url(), "http://127.0.0.1:8160/");
    assert_eq!(c.console_url(&c.nodes[1]), "http://127.0.0.1:8162/admin/");
    assert!(c.ports().iter().any(|p| p.port == 8160 && p.what.contains("dashboard")));
    let c = parse("[cluster]\ndashboardPort = 9000\n[console]\nuser = \"teacher\"\npassword = \"s3cret\"\n").unwrap();
    assert_eq!(c.dashboard_url(), "http://127.0.0.1:9000/");
    assert_eq!(c.console.user, "teacher");
    let e = parse("[cluster]\ndashboardPort = 8161\n").unwrap_err().to_string();
    assert!(e.contains("port 8161 is used twice"), "{e}");
    let block = Config::parse(&port_block_toml(30000, "", 200), Path::new("t.toml")).unwrap();
    assert_eq!(*block.cluster.dashboard_port.get_ref(), 30022);
}

#[test]
fn multihost_example_repeats_ports_on_distinct_hosts() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/multihost.toml");
    let c = Config::load(&path).unwrap();
    assert_eq!(c.zk_connect(), "127.0.1.1:2181,127.0.1.2:2181,127.0.1.3:2181");
    assert_eq!(c.ports().iter().filter(|p| p.port == 61616).count(), 3);
    assert_eq!(c.console_url(&c.nodes[2]), "http://127.0.1.3:8161/admin/");
    let text = std::fs::read_to_string(&path).unwrap().replacen("host = \"127.0.1.2\"", "host = \"127.0.1.1\"", 1);
    let e = Config::parse(&text, &path).unwrap_err().to_string();
    assert!(e.contains("port 2181 is used twice"), "{e}");
    let e = parse(
        "[[node]]\nname='a'\nlisten='0.0.0.0'\nbind='tcp://127.0.0.1:1'\nopenwire=2\nstomp=3\nconsole=4\n\
                   [[node]]\nname='b'\nlisten='127.0.0.2'\nbind='tcp://127.0.0.2:1'\nopenwire=2\nstomp=3\nconsole=5\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("port 1 is used twice") || e.contains("port 2 is used twice"), "{e}");
}

#[test]
fn sync_tokens() {
    assert_eq!(SyncMode::parse("quorum_disk").unwrap(), SyncMode { local_disk: true, remote: true, remote_disk: true });
    assert_eq!(SyncMode::parse("local_mem").unwrap(), SyncMode::default());
    assert_eq!(SyncMode::parse("quorum_mem").unwrap(), SyncMode::parse("remote_mem").unwrap());
    assert!(parse("[cluster]\nsync = \"quorum\"\n").unwrap_err().to_string().contains("unknown sync token"));
}

/// `sync` and `bind` are parsed once, when the file is read: what runs uses the parsed values,
/// and a bad one is an error at its line and column.
#[test]
fn sync_and_bind_are_parsed_once_with_their_position() {
    let c = parse("[cluster]\nsync = \"quorum_disk\"\n").unwrap();
    assert_eq!(c.cluster.sync.mode, SyncMode { local_disk: true, remote: true, remote_disk: true });
    assert_eq!(c.cluster.sync.to_string(), "quorum_disk");
    let e = parse("[cluster]\nsync = \"quorum\"\n").unwrap_err().to_string();
    assert!(e.contains("line 2, column 8: unknown sync token `quorum`"), "{e}");
    let e = parse("[[node]]\nname='a'\nbind='127.0.0.1:1'\nopenwire=2\nstomp=3\nconsole=4\n").unwrap_err().to_string();
    assert!(e.contains("line 3, column 6: bind `127.0.0.1:1` must look like"), "{e}");
}
