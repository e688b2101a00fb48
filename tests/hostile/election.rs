//! Hostile input: election and replication (issue 11, rows 1 and 3; see tests/hostile.rs).
//! Port blocks 60..=64.
//!
//! * Row 1: a process without `zkPassword` tries to rewrite the master's znode (its
//!   `address`), add a fake member or delete one: ZooKeeper refuses (`NoAuth`). Then, as if
//!   ZooKeeper were compromised anyway (the test logs in with the password), the address is
//!   pointed at a fake replication server that answers logins the way a forger could: the
//!   slaves refuse it, never clear their journal, and after the master is killed a new one
//!   serves every acknowledged message.
//! * Row 3: logins to the master's replication port without the token (v1 clear-text, a
//!   wrong proof, an unknown node id, an `ack` of 2^63 with no login) get no journal byte and
//!   are never listed as slaves; garbage and a 10 MB header line just close the connection.

#[allow(unused_imports)]
use super::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestCluster;
use mqsim::election::zookeeper::connect;
use serde_json::Value;
use zookeeper_client as zk;

fn zk_path(c: &TestCluster) -> String {
    format!("/mqsim-test/{}/leveldb-stores", c.base)
}

fn zk_servers(c: &TestCluster) -> String {
    (0..3).map(|i| format!("127.0.0.1:{}", c.base + i)).collect::<Vec<_>>().join(",")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The member znodes (full path, JSON), oldest first.
async fn members(client: &zk::Client, path: &str) -> Vec<(String, Value, zk::Stat)> {
    let mut out = Vec::new();
    for (name, data, stat) in mqsim::election::zookeeper::read_members(client, path).await.unwrap() {
        out.push((format!("{path}/{name}"), serde_json::from_slice(&data).unwrap(), stat));
    }
    out
}

/// The master's znode: the one that publishes an address.
async fn master_znode(client: &zk::Client, path: &str) -> (String, Value, zk::Stat) {
    let all = members(client, path).await;
    all.into_iter().find(|(_, v, _)| v["address"].is_string()).expect("a member publishing an address")
}

#[test]
fn znodes_refuse_writes_without_the_zk_password() {
    let mut c = TestCluster::with_toml(95, |base| common::cluster_toml(base, ""));
    let out = c.up();
    // An empty securityToken: `mqsim up` generated one for this state dir, mode 0600, and said so.
    let token_file = c.state_dir().join("security-token");
    assert!(out.contains("Generated a replication securityToken"), "{out}");
    assert_eq!(std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777, 0o600);
    let canary = Canary::seed(&c, 20);
    let path = zk_path(&c);
    runtime().block_on(async {
        let anon = connect(&zk_servers(&c), Duration::from_secs(5), None).await.unwrap();
        // Anyone may read (zkCli get still shows `elected`), only the password may write.
        let all = members(&anon, &path).await;
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all[0].1["elected"].is_string(), "the head znode names the master: {all:?}");
        for p in std::iter::once(path.clone()).chain(all.iter().map(|(p, _, _)| p.clone())) {
            let (acl, _) = anon.get_acl(&p).await.unwrap();
            let world: Vec<_> = acl.iter().filter(|a| a.scheme() == "world").collect();
            assert!(world.iter().all(|a| a.permission() == zk::Permission::READ), "{p}: {acl:?}");
            assert!(
                acl.iter().any(|a| a.scheme() == "digest" && a.permission() == zk::Permission::ALL),
                "{p}: {acl:?}"
            );
        }
        // Row 1: point the master's address at an attacker's server.
        let (mpath, mut state, stat) = master_znode(&anon, &path).await;
        state["address"] = Value::from("tcp://127.0.0.1:1");
        let data = serde_json::to_vec(&state).unwrap();
        assert_eq!(anon.set_data(&mpath, &data, Some(stat.version)).await.err(), Some(zk::Error::NoAuth));
        assert_eq!(anon.set_data(&mpath, &data, None).await.err(), Some(zk::Error::NoAuth));
        // A fake member, a deleted member, a changed ACL: all refused.
        let fake = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
        assert_eq!(anon.create(&format!("{path}/0"), &data, &fake).await.err(), Some(zk::Error::NoAuth));
        assert_eq!(anon.delete(&mpath, None).await.err(), Some(zk::Error::NoAuth));
        assert_eq!(anon.set_acl(&path, &zk::Acls::anyone_all(), None).await.err(), Some(zk::Error::NoAuth));
        // A wrong password is no better than none.
        let wrong = connect(&zk_servers(&c), Duration::from_secs(5), Some("guess")).await.unwrap();
        assert_eq!(wrong.set_data(&mpath, &data, None).await.err(), Some(zk::Error::NoAuth));
        let (_, after, _) = master_znode(&anon, &path).await;
        assert_ne!(after["address"], "tcp://127.0.0.1:1");
    });
    // `mqsim zk` (a reader) still works.
    let ls = c.ok(&["zk", "ls", &path]);
    assert_eq!(ls.matches("0000000000").count(), 3, "{ls}");
    assert_serves(&c);
    canary.assert_intact(&c);
    // Reused, not regenerated, on the next `up` (the canary above was consumed by its check).
    let token = std::fs::read_to_string(&token_file).unwrap();
    c.down();
    // `down` marked the cluster stopped, so its Drop no longer would: this guard does.
    struct DownAgain<'a>(&'a TestCluster);
    impl Drop for DownAgain<'_> {
        fn drop(&mut self) {
            let _ = self.0.run(&["down"]);
        }
    }
    let _again = DownAgain(&c);
    let out = c.up();
    assert!(out.contains("generated earlier"), "{out}");
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), token);
    assert_serves(&c);
}

/// A fake replication server answering logins as a forger could (one way per connection,
/// in turn), recording what the slaves sent.
struct FakeMaster {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

/// Reads one frame header (up to its NUL) from `s`, at most 64 KiB.
fn read_header(s: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while out.len() < 65536 {
        match s.read(&mut b) {
            Ok(1) if b[0] == 0 => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(1) => out.push(b[0]),
            _ => return None,
        }
    }
    None
}

impl FakeMaster {
    fn start(master_name: String) -> FakeMaster {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0usize;
            while !stop2.load(Ordering::SeqCst) {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                let Some(login) = read_header(&mut s) else { continue };
                seen2.lock().unwrap().push(login.clone());
                let nonce = login
                    .split_once('\n')
                    .and_then(|(_, j)| serde_json::from_str::<Value>(j).ok())
                    .and_then(|v| v["nonce"].as_str().map(str::to_string))
                    .unwrap_or_default();
                let wipe = r#"ok
{"from":0,"master_end":0}"#;
                let reply: Vec<u8> = match n % 4 {
                    // What row 1's forger sent: the v1 "clear your store" answer.
                    0 => format!("{wipe}\0").into(),
                    // The slave's own nonce echoed back, as the elected node.
                    1 => format!("challenge\n{{\"node_id\":\"{master_name}\",\"nonce\":\"{nonce}\"}}\0").into(),
                    // A proper-looking challenge, then `from: 0` with a made-up proof.
                    2 => {
                        let ch = format!(
                            "challenge\n{{\"node_id\":\"{master_name}\",\"nonce\":\"{}\"}}\0",
                            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY"
                        );
                        let _ = s.write_all(ch.as_bytes());
                        if let Some(proof) = read_header(&mut s) {
                            seen2.lock().unwrap().push(proof);
                        }
                        format!(
                            "ok\n{{\"from\":0,\"master_end\":0,\"proof\":\"{}\"}}\0",
                            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                        )
                        .into()
                    }
                    // Journal bytes straight away.
                    _ => b"wal\n{\"file\":0,\"offset\":0,\"length\":5,\"sync\":false}\0hello".to_vec(),
                };
                let _ = s.write_all(&reply);
                let mut sink = [0u8; 4096];
                let _ = s.read(&mut sink);
                n += 1;
            }
        });
        FakeMaster { port, seen, stop }
    }
}

impl Drop for FakeMaster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn events_of(c: &TestCluster, kind: &str) -> Vec<String> {
    c.events().into_iter().filter(|e| e["kind"] == kind).map(|e| e.to_string()).collect()
}

#[test]
fn slaves_refuse_a_fake_master_and_keep_their_journal() {
    let c = TestCluster::with_toml(96, |base| common::cluster_toml(base, ""));
    c.up();
    let canary = Canary::seed(&c, 20);
    let st = c.wait_for("both slaves at the master's position", Duration::from_secs(30), |st| {
        let m = st["master"].as_str().unwrap_or("-");
        let pos = TestCluster::node(st, m)["position"].as_i64();
        st["nodes"].as_array().unwrap().iter().all(|n| n["position"].as_i64() == pos)
    });
    let master = st["master"].as_str().unwrap().to_string();
    let before: Vec<(String, i64)> = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap().to_string(), n["position"].as_i64().unwrap()))
        .collect();
    let token = std::fs::read_to_string(c.state_dir().join("security-token")).unwrap();
    let fake = FakeMaster::start(master.clone());
    let path = zk_path(&c);
    // Stand-in for an ensemble without zkPassword (or a stolen password): rewrite the
    // master's published address with the password.
    runtime().block_on(async {
        let insider = connect(&zk_servers(&c), Duration::from_secs(5), Some("password")).await.unwrap();
        let (mpath, mut state, stat) = master_znode(&insider, &path).await;
        assert_eq!(state["container"], master.as_str(), "the master's znode names its node");
        state["address"] = Value::from(format!("tcp://127.0.0.1:{}", fake.port));
        insider.set_data(&mpath, &serde_json::to_vec(&state).unwrap(), Some(stat.version)).await.unwrap();
    });
    // Both slaves dial the fake (they retry every second): give each forgery a few tries.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.seen.lock().unwrap().len() < 12 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let seen = fake.seen.lock().unwrap().clone();
    assert!(seen.len() >= 12, "the slaves did not dial the fake master: {seen:?}\n{}", c.diagnostics());
    for frame in &seen {
        assert!(!frame.contains(token.trim()), "the token crossed the wire: {frame}");
        assert!(!frame.contains("security_token"), "a clear-text token field: {frame}");
    }
    // Refused, logged, and no store was cleared.
    assert!(
        events_of(&c, "error").iter().any(|e| e.contains("refusing replication")),
        "no refusal logged\n{}",
        c.diagnostics()
    );
    assert!(events_of(&c, "resync").is_empty(), "a slave cleared its store for a forger\n{}", c.diagnostics());
    let st = c.status();
    for (name, pos) in &before {
        let now = TestCluster::node(&st, name)["position"].as_i64().unwrap();
        assert!(now >= *pos, "{name} went from position {pos} to {now}\n{}", c.diagnostics());
    }
    // Now the master dies: a slave takes over with everything acknowledged.
    c.ok(&["kill", "master"]);
    c.wait_for("a new master", Duration::from_secs(60), |st| {
        st["master"].as_str().is_some_and(|m| m != master) && st["nodes"].as_array().is_some()
    });
    canary.assert_intact(&c);
    assert_serves(&c);
    assert!(events_of(&c, "resync").is_empty(), "a store was cleared\n{}", c.diagnostics());
}

/// One raw connection to a replication port: write `bytes`, then read until EOF (or 10 s).
/// Returns what came back and whether the master closed the connection.
fn exchange(port: u16, steps: &[&[u8]]) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut got = Vec::new();
    for step in steps {
        if s.write_all(step).is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        if let Ok(n) = s.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let closed = loop {
        let mut buf = [0u8; 65536];
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (got, closed)
}

const ACK_2_63: &[u8] = b"ack\n{\"position\":9223372036854775808}\0";

fn v2_login(node: &str) -> Vec<u8> {
    format!(
        "LevelDB Store Replication v2:login\n{{\"node_id\":\"{node}\",\"nonce\":\"{}\",\"position\":0,\"last\":null}}\0",
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY"
    )
    .into_bytes()
}

/// The master's slaves as status lists them: (node_id, remote).
fn listed_slaves(c: &TestCluster) -> Vec<(String, String)> {
    let st = c.status();
    let m = st["master"].as_str().unwrap();
    TestCluster::node(&st, m)["slaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["node_id"].as_str().unwrap().to_string(), s["remote"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn replication_logins_without_the_token_get_no_journal_and_no_vote() {
    let c = TestCluster::with_toml(97, |base| common::cluster_toml(base, ""));
    c.up();
    let canary = Canary::seed(&c, 20);
    let st = c.status();
    let master = st["master"].as_str().unwrap().to_string();
    let port = master_port(&st, "replication");
    let genuine = c.wait_for("two slaves", Duration::from_secs(30), |st| {
        TestCluster::node(st, st["master"].as_str().unwrap_or("-"))["slaves"].as_array().is_some_and(|a| a.len() == 2)
    });
    let genuine = TestCluster::node(&genuine, &master)["slaves"].clone();

    let v1 = b"LevelDB Store Replication v1:login\n{\"node_id\":\"node02\",\"security_token\":\"\",\"position\":0,\"last\":null}\0";
    let bad_proof = b"proof\n{\"proof\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}\0";
    let slave_name = if master == "node02" { "node03" } else { "node02" };
    let attempts: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("a v1 login with the empty token", vec![v1.to_vec(), ACK_2_63.to_vec()]),
        ("a configured node id with a wrong proof", vec![v2_login(slave_name), bad_proof.to_vec(), ACK_2_63.to_vec()]),
        ("an empty proof", vec![v2_login(slave_name), b"proof\n{\"proof\":\"\"}\0".to_vec(), ACK_2_63.to_vec()]),
        ("an unknown node id", vec![v2_login("mallory"), ACK_2_63.to_vec()]),
        ("the master's own node id", vec![v2_login(&master), ACK_2_63.to_vec()]),
        ("an ack with no login", vec![ACK_2_63.to_vec()]),
    ];
    for (what, steps) in &attempts {
        let steps: Vec<&[u8]> = steps.iter().map(|s| s.as_slice()).collect();
        let (got, closed) = exchange(port, &steps);
        let text = String::from_utf8_lossy(&got);
        assert!(!got.windows(4).any(|w| w == b"wal\n"), "{what}: journal bytes were sent: {text}");
        assert!(closed, "{what}: the connection stayed open: {text}");
        if !text.is_empty() {
            assert!(text.contains("login refused"), "{what}: not a clear refusal: {text}");
        }
    }
    // Mid-login (challenge received, no proof yet) the peer is not a slave either.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(&v2_login(slave_name)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let challenge = read_header(&mut s).expect("a challenge");
    assert!(challenge.starts_with("challenge\n") && challenge.contains(&master), "{challenge}");
    s.write_all(ACK_2_63).unwrap();
    let mine = s.local_addr().unwrap().to_string();
    let listed = listed_slaves(&c);
    assert!(listed.iter().all(|(_, r)| *r != mine), "the unauthenticated peer is listed: {listed:?}");
    assert!(listed.len() <= 2 && listed.iter().all(|(id, _)| id != &master), "{listed:?}");
    drop(s);
    // The genuine slaves still hold their votes and the master serves.
    let st = c.status();
    assert_eq!(TestCluster::node(&st, &master)["slaves"].as_array().unwrap().len(), 2, "{st:#}\nbefore: {genuine}");
    assert_eq!(st["master"], master.as_str(), "no failover");
    assert_serves(&c);
    canary.assert_intact(&c);
}

#[test]
fn garbage_on_the_replication_port_only_closes_that_connection() {
    let c = TestCluster::with_toml(98, |base| common::cluster_toml(base, ""));
    c.up();
    let canary = Canary::seed(&c, 20);
    let st = c.status();
    let master = st["master"].as_str().unwrap().to_string();
    let port = master_port(&st, "replication");
    // Random bytes (with NULs: a frame of nonsense), then one 10 MB header line without a NUL.
    let mut random = vec![0u8; 1 << 20];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2654435761) >> 13) as u8;
    }
    let line = vec![b'x'; 10 << 20];
    for (what, bytes) in [("random bytes", &random), ("a 10 MB header line", &line)] {
        let started = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        // The master closes early: a failed write is the expected outcome.
        for chunk in bytes.chunks(64 * 1024) {
            if s.write_all(chunk).is_err() {
                break;
            }
        }
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let closed = match s.read_to_end(&mut got) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        };
        assert!(closed, "{what}: the connection stayed open");
        assert!(!got.windows(4).any(|w| w == b"wal\n"), "{what}: journal bytes were sent");
        // Refused on the bytes themselves (bad frame, header over 64 KiB), not only by the
        // 10 s login timeout after buffering all of it.
        assert!(started.elapsed() < Duration::from_secs(5), "{what}: closed only after {:?}", started.elapsed());
    }
    let st = c.status();
    assert_eq!(st["master"], master.as_str(), "no failover");
    assert_eq!(TestCluster::node(&st, &master)["slaves"].as_array().unwrap().len(), 2, "{st:#}");
    assert_serves(&c);
    canary.assert_intact(&c);
}
