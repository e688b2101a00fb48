//! Hostile input: store (see tests/hostile.rs). Issue 11's rows 2 and 10, and "a failed
//! fsync is logged and the writer carries on": a name the index cannot key, a byte flipped
//! in the middle of a stopped slave's journal, and a master whose journal fsync fails.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use mqsim::store::journal::{self, Next};
use mqsim::store::record::{Record, StoredMessage};

use super::*;

fn cluster(block: u16) -> TestCluster {
    // quorum_disk: every acknowledged message is on the master's disk and on a slave's.
    TestCluster::with_toml(block, |base| common::cluster_toml(base, "sync = \"quorum_disk\""))
}

fn data_dir(c: &TestCluster, node: &str) -> PathBuf {
    c.state_dir().join(format!("mq_{node}/activemq-data"))
}

fn journal_path(c: &TestCluster, node: &str) -> PathBuf {
    data_dir(c, node).join(journal::FILE_NAME)
}

/// `(start, length)` of every valid record at the front of a journal file's bytes.
fn records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Next::Record { len, .. } = journal::next_record(&bytes[at..]) {
        out.push((at, len));
        at += len;
    }
    out
}

/// Waits until every node runs, one is a serving master and both others are slaves
/// attached at the master's position; returns (master, slaves, position).
fn settled(c: &TestCluster) -> (String, Vec<String>, i64) {
    let st = c.wait_for("two attached slaves at the master's position", Duration::from_secs(60), |st| {
        let Some(m) = st["master"].as_str() else { return false };
        let pos = TestCluster::node(st, m)["position"].as_i64();
        st["nodes"].as_array().unwrap().iter().all(|n| {
            n["name"] == m || (n["role"] == "slave" && n["replication"] == "attached" && n["position"].as_i64() == pos)
        })
    });
    let master = st["master"].as_str().unwrap().to_string();
    let slaves = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .filter(|n| *n != master)
        .map(str::to_string)
        .collect();
    let position = TestCluster::node(&st, &master)["position"].as_i64().unwrap();
    (master, slaves, position)
}

/// Files in a node's `quarantine/` directory whose names contain `part`.
fn quarantined(c: &TestCluster, node: &str, part: &str) -> Vec<PathBuf> {
    let dir = data_dir(c, node).join(journal::QUARANTINE_DIR);
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().contains(part)).collect();
    v.sort();
    v
}

/// Row 2: `/queue/` + 600 × `q`, persistent, with a receipt. It used to be acknowledged and
/// then break every node's index for good (MDB_BAD_VALSIZE at each restart: no master).
#[test]
fn row2_a_name_the_index_cannot_key_is_refused_and_never_stops_a_store() {
    let c = cluster(65);
    c.up();
    let canary = Canary::seed(&c, 10);
    let long = "q".repeat(600);
    let st = c.status();
    let mut r = RawStomp::connect(master_port(&st, "stomp"));
    r.send(&format!("SEND\ndestination:/queue/{long}\npersistent:true\nreceipt:long\n\nnever stored"));
    let f = r.try_frame(Duration::from_secs(10)).unwrap_or_default();
    assert!(f.starts_with("ERROR"), "the offender gets an ERROR, never a RECEIPT: {f:?}\n{}", c.diagnostics());
    drop(r);

    // Every node restarts and a master serves.
    c.ok(&["restart", "nodes"]);
    assert_serves(&c);

    // A journal that already holds such a record (the old code appended and shipped it):
    // every node must still open, with the record quarantined.
    let (_, _, _) = settled(&c);
    c.ok(&["stop", "nodes"]);
    let bad = Record::Enqueue {
        store: long.clone(),
        msg: StoredMessage {
            seq: 1 << 40,
            destination: format!("/queue/{long}"),
            headers: vec![],
            body: b"from the old code".to_vec(),
            persistent: true,
            timestamp: 0,
            redelivery_count: 0,
            producer: None,
        },
    };
    let mut framed = Vec::new();
    journal::frame(&bad.encode(), &mut framed);
    for node in ["node01", "node02", "node03"] {
        let path = journal_path(&c, node);
        let bytes = std::fs::read(&path).unwrap();
        let end = records(&bytes).last().map_or(0, |(s, l)| s + l);
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&framed, end as u64).unwrap();
        file.sync_all().unwrap();
    }
    c.ok(&["start", "nodes"]);
    settled(&c);
    for node in ["node01", "node02", "node03"] {
        let why = quarantined(&c, node, ".why");
        assert_eq!(why.len(), 1, "{node} quarantined the record: {why:?}\n{}", c.diagnostics());
        let text = std::fs::read_to_string(&why[0]).unwrap();
        assert!(text.contains("600 bytes"), "{node}: {text}");
    }
    canary.assert_intact(&c);
    assert_serves(&c);
}

/// Row 10: one byte flipped in the middle of a stopped slave's journal. It used to be read
/// as a torn tail: "CRC mismatch; the rest is zeroed", every valid record after it gone.
#[test]
fn row10_a_flipped_byte_mid_journal_zeroes_nothing_and_the_slave_resyncs() {
    let c = cluster(66);
    c.up();
    let canary = Canary::seed(&c, 80);
    let (master, slaves, _) = settled(&c);
    let slave = &slaves[0];
    c.ok(&["stop", slave]);
    let path = journal_path(&c, slave);
    let before = std::fs::read(&path).unwrap();
    let recs = records(&before);
    assert!(recs.len() >= 80, "{} records", recs.len());
    let (start, len) = recs[recs.len() / 2];
    let data_end = recs.last().map(|(s, l)| s + l).unwrap();
    let flip_at = start + journal::HEADER + (len - journal::HEADER) / 2;
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&[before[flip_at] ^ 0x01], flip_at as u64).unwrap();
    file.sync_all().unwrap();
    drop(file);

    c.ok(&["start", slave]);
    let (m, _, position) = settled(&c);
    assert_eq!(&m, &master);
    // Nothing valid was zeroed: the journal as it was is kept, byte for byte.
    let copies = quarantined(&c, slave, ".corrupt-");
    assert_eq!(copies.len(), 1, "a quarantined copy of the damaged journal: {copies:?}\n{}", c.diagnostics());
    let copy = std::fs::read(&copies[0]).unwrap();
    assert_eq!(copy[flip_at], before[flip_at] ^ 0x01, "the copy is the damaged file");
    assert!(copy[start + len..data_end] == before[start + len..data_end], "every record after the damage is kept");
    // And the slave caught up from the damaged record on: its journal is the master's again.
    let now = std::fs::read(&path).unwrap();
    assert!(now.len() as i64 >= position);
    assert!(now[..data_end] == before[..data_end], "the damaged record was replaced by the master's copy");
    let marker = data_dir(&c, slave).join(mqsim::store::RESYNC_NEEDED);
    let deadline = Instant::now() + Duration::from_secs(15);
    while marker.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!marker.exists(), "caught up, the slave may be master again\n{}", c.diagnostics());
    let events = c.events();
    let damaged =
        events.iter().find(|e| e["kind"] == "store-damaged").and_then(|e| e["message"].as_str().map(str::to_string));
    assert!(
        damaged.as_deref().is_some_and(|m| m.contains(&format!("position {start}")) && m.contains(".corrupt-")),
        "the damage is reported loudly, with the position and the copy: {damaged:?}"
    );

    // The master goes: nothing acknowledged is lost.
    c.ok(&["kill", &master]);
    canary.assert_intact(&c);
    assert_serves(&c);
}

/// Writes a persistent SEND with a receipt on a fresh connection to `port`; true if a
/// RECEIPT comes back.
fn receipted(port: u16, queue: &str, body: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let frame = format!(
        "CONNECT\naccept-version:1.2\nhost:mqsim\n\n\0SEND\ndestination:/queue/{queue}\npersistent:true\nreceipt:r\n\n{body}\0"
    );
    if s.write_all(frame.as_bytes()).is_err() {
        return false;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&got).contains("RECEIPT") {
            return true;
        }
    }
    false
}

/// "A failed fsync is logged and the writer carries on": now the master's first failed
/// fsync poisons its journal, no write is acknowledged after it, and the node leaves so
/// another is elected. The failure comes from the test-only hook MQSIM_TEST_FAIL_FSYNC_AFTER.
#[test]
fn a_failed_fsync_ends_the_mastership() {
    // node01 weighs most, so it is the first master (all positions are 0 at the start).
    let c = TestCluster::with_toml(67, |base| {
        common::cluster_toml(base, "sync = \"quorum_disk\"").replacen(
            "name = \"node01\"\n",
            "name = \"node01\"\nweight = 10\n",
            1,
        )
    });
    let out = Command::new(common::MQSIM)
        .arg("--config")
        .arg(&c.config)
        .arg("up")
        .env("NO_COLOR", "1")
        .env(mqsim::node::serve::FAIL_FSYNC_ENV, "node01:40")
        .output()
        .unwrap();
    assert!(out.status.success(), "up: {}\n{}", String::from_utf8_lossy(&out.stderr), c.diagnostics());
    let st = c.wait_for("node01 serving", Duration::from_secs(30), |st| st["master"] == "node01");
    let port = master_port(&st, "stomp");
    let canary = Canary::seed(&c, 10);

    let mut r = RawStomp::connect(port);
    let mut acked = Vec::new();
    let mut failure = None;
    for i in 0..200 {
        let body = format!("fsync-{i}");
        r.send(&format!("SEND\ndestination:/queue/hostile.fsync\npersistent:true\nreceipt:f{i}\n\n{body}"));
        match r.try_frame(Duration::from_secs(10)) {
            Some(f) if f.starts_with("RECEIPT") => acked.push(body),
            other => {
                failure = Some((i, other));
                break;
            }
        }
    }
    let failed_at = Instant::now();
    let (i, answer) = failure.expect("the injected fsync failure never showed");
    assert!(!acked.is_empty(), "the hook let {i} sends through first");
    assert!(!answer.as_deref().is_some_and(|f| f.starts_with("RECEIPT")), "{answer:?}");
    // node01 never acknowledges again.
    for k in 0..5 {
        assert!(!receipted(port, "hostile.fsync", &format!("late-{k}")), "node01 acknowledged after its fsync failed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let st = c.wait_for("a new master", Duration::from_secs(15).saturating_sub(failed_at.elapsed()), |st| {
        st["master"].as_str().is_some_and(|m| m != "node01")
    });
    assert!(failed_at.elapsed() <= Duration::from_secs(15));
    assert_ne!(TestCluster::node(&st, "node01")["state"], "running", "node01 exits");
    let events = c.events();
    assert!(
        events.iter().any(|e| {
            let m = e["message"].as_str().unwrap_or("");
            m.contains("node01 exits (code 74)") && m.contains("fsync")
        }),
        "node01 says why it left\n{}",
        c.diagnostics()
    );
    canary.assert_intact(&c);
    Canary { queue: "hostile.fsync".into(), bodies: acked }.assert_intact(&c);
    assert_serves(&c);
}

/// Sends `n` persistent messages with receipts to `queue` on the master; all must be acked.
fn seed(c: &TestCluster, queue: &str, n: usize) -> Canary {
    let st = c.wait_for("a serving master", Duration::from_secs(30), |st| st["master"].is_string());
    let mut r = RawStomp::connect(master_port(&st, "stomp"));
    let bodies: Vec<String> = (0..n).map(|i| format!("{queue}-{i}")).collect();
    for (i, b) in bodies.iter().enumerate() {
        r.send(&format!("SEND\ndestination:/queue/{queue}\npersistent:true\nreceipt:s{i}\n\n{b}"));
        let f = r.frame();
        assert!(f.starts_with("RECEIPT"), "send {i} to {queue}: {f}");
    }
    Canary { queue: queue.into(), bodies }
}

/// Row 10, the case that matters: the damaged node is the only one left holding acknowledged
/// messages (the master is gone, the other slave lags). Cut to before the damage it still
/// has the highest position, so it is elected; it refuses rather than serve without them,
/// and once the old master is back that one is elected with everything.
#[test]
fn row10_a_store_cut_by_damage_refuses_to_be_master() {
    let c = cluster(68);
    c.up();
    let early = seed(&c, "hostile.early", 20);
    let (master, slaves, _) = settled(&c);
    let (damaged, lagging) = (&slaves[0], &slaves[1]);
    c.ok(&["stop", lagging]);
    // Acknowledged by the master and the one slave left (quorum_disk, replicas 3: one slave ack).
    let late = seed(&c, "hostile.late", 40);
    let st = c.status();
    let end = TestCluster::node(&st, &master)["position"].as_i64().unwrap();
    // Positions in status come from the nodes' periodic reports, so `end` may be an older
    // report's: wait for the slave at the master's position in one status, and past `end`.
    c.wait_for("the slave at the master's end", Duration::from_secs(30), |st| {
        let pos = TestCluster::node(st, damaged)["position"].as_i64();
        pos == TestCluster::node(st, &master)["position"].as_i64() && pos >= Some(end)
    });
    c.ok(&["stop", &master]);
    c.ok(&["stop", damaged]);
    let path = journal_path(&c, damaged);
    let before = std::fs::read(&path).unwrap();
    let recs = records(&before);
    let (start, len) = recs[recs.len() - 10];
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let flip_at = start + journal::HEADER + 1;
    file.write_all_at(&[before[flip_at] ^ 0x40], flip_at as u64).unwrap();
    drop(file);
    assert!(len > journal::HEADER + 1);

    // The master stays down: the damaged slave and the lagging one are a quorum.
    c.ok(&["start", damaged]);
    c.ok(&["start", lagging]);
    let refused = |c: &TestCluster| {
        c.events().iter().any(|e| {
            let m = e["message"].as_str().unwrap_or("");
            m.contains(&format!("{damaged} was elected but refuses to be master")) && m.contains(".corrupt-")
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !refused(&c) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(refused(&c), "the damaged node refuses mastership\n{}", c.diagnostics());
    let st = c.wait_for("the damaged node gone", Duration::from_secs(10), |st| {
        TestCluster::node(st, damaged)["state"] != "running"
    });
    assert!(st["master"].is_null(), "nobody serves without the acknowledged messages: {st:#}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(c.status()["master"].is_null(), "still nobody");

    // The old master returns: it has everything, and is elected.
    c.ok(&["start", &master]);
    early.assert_intact(&c);
    late.assert_intact(&c);
    assert_serves(&c);
    // The damaged node comes back as an ordinary slave once it has caught up.
    c.ok(&["start", damaged]);
    settled(&c);
    let marker = data_dir(&c, damaged).join(mqsim::store::RESYNC_NEEDED);
    let deadline = Instant::now() + Duration::from_secs(15);
    while marker.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!marker.exists(), "the mark goes once it has caught up");
}
