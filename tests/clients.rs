//! The client examples of docs/clients end to end, each through two real failovers: the
//! Python one (stomp.py) and the Node one (stompit, from the npm registry) send N persistent
//! messages on the STOMP failover URL while the master is killed part-way, and after the old
//! master is back as a slave, receive them while the (new) master is killed again. Every
//! message the producer reported as acknowledged (receipt back) must be received, and nothing
//! else; a message whose ACK died with a master may come twice (reported, allowed).
//!
//! The Java example (docs/java) goes through the same produce / kill master / consume in the
//! tutorial's section 14, which tests/tutorial.rs runs; it is not repeated here.
//!
//! Prerequisites: `python3` with stomp.py, and `node` with `npm ci` run in docs/clients/node
//! (scripts/test.sh does both). Without them the test says SKIPPED and passes, except under
//! CI (`CI` set), where that is a failure.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestCluster;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Enough that the producer and consumer are still running when the master is killed after
/// a quarter of them, even when the machine is fast.
const N: usize = 3000;

/// `None` (skip, with a note) when a prerequisite is missing; under CI that is a failure.
fn prerequisite(ok: bool, what: &str, why: &str) -> Option<()> {
    if ok {
        return Some(());
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI must run the {what} client example: {why}");
    }
    eprintln!("SKIPPED: the {what} client example test {why}");
    None
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The STOMP ports of the three nodes (`base+16..18` in a port block), as a failover URL.
fn failover_url(c: &TestCluster) -> String {
    let b = c.base;
    format!(
        "failover:(tcp://127.0.0.1:{},tcp://127.0.0.1:{},tcp://127.0.0.1:{})?randomize=false",
        b + 16,
        b + 17,
        b + 18
    )
}

/// A running example: its stdout lines as they come, stderr at the end.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: std::thread::JoinHandle<()>,
    what: String,
}

impl Running {
    fn spawn(program: &str, args: &[&str]) -> Running {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(ROOT)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let reader = {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(l);
                }
            })
        };
        Running { child, lines, reader, what: format!("{program} {}", args.join(" ")) }
    }

    fn count(&self, prefix: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|l| l.starts_with(prefix)).count()
    }

    /// Waits until `n` lines start with `prefix`; panics if the program ends or `limit` passes first.
    fn wait_lines(&mut self, prefix: &str, n: usize, limit: Duration, c: &TestCluster) {
        let deadline = Instant::now() + limit;
        while self.count(prefix) < n {
            let ended = self.child.try_wait().unwrap();
            if ended.is_some() || Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let lines = self.lines.lock().unwrap();
                panic!(
                    "`{}` {} before printing {n} lines `{prefix}...` (it printed {}); last lines:\n{}\n{}",
                    self.what,
                    if ended.is_some() { "ended" } else { "timed out" },
                    self.count(prefix),
                    lines.iter().rev().take(10).rev().cloned().collect::<Vec<_>>().join("\n"),
                    c.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the end (killed after `limit`); returns the status, stdout lines and stderr.
    fn finish(mut self, limit: Duration) -> (ExitStatus, Vec<String>, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.reader.join().unwrap();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let lines = self.lines.lock().unwrap().clone();
        (status, lines, err)
    }
}

/// Kills the master and waits until another node serves; returns the killed one.
fn kill_master(c: &TestCluster) -> String {
    let old = c.master().expect("a master");
    c.ok(&["kill", "master"]);
    c.wait_for("a new serving master", Duration::from_secs(60), |st| {
        st["master"].as_str().is_some_and(|m| m != old && TestCluster::node(st, m)["serving"] == true)
    });
    old
}

/// The whole story for one example: `program` runs `produce` and `consume` (paths under the
/// crate root) with the failover URL (and the count, for the producer).
fn produce_and_consume_across_failovers(block: u16, program: &str, produce: &str, consume: &str) {
    let mut c = TestCluster::new(block);
    c.up();
    let url = failover_url(&c);
    let t0 = Instant::now();

    // The producer, with the master killed after a quarter of the messages.
    let mut producer = Running::spawn(program, &[produce, &url, &N.to_string()]);
    producer.wait_lines("sent ", N / 4, Duration::from_secs(120), &c);
    let old = kill_master(&c);
    let (status, lines, err) = producer.finish(Duration::from_secs(180));
    let text = format!("{}\n--- stderr ---\n{err}", lines.join("\n"));
    assert!(status.success(), "producer failed ({status}):\n{text}\n{}", c.diagnostics());
    let connects = lines.iter().filter(|l| l.starts_with("connected to ")).count();
    assert!(connects >= 2, "the producer never failed over (connected {connects} time(s)):\n{text}");
    let sent: Vec<String> = lines.iter().filter_map(|l| l.strip_prefix("sent ")).map(str::to_string).collect();
    let want: Vec<String> = (1..=N).map(|i| format!("msg---{i}")).collect();
    assert_eq!(sent, want, "every message acknowledged, in order, once");
    assert!(lines.contains(&format!("**** {N} messages sent to the MQ")), "{text}");
    eprintln!("{program}: {N} sends across a master kill in {:.1} s", t0.elapsed().as_secs_f64());

    // The killed master comes back as a slave, so that there are two nodes left after the next kill.
    c.ok(&["start", &old]);
    c.wait_for("the old master back as a slave", Duration::from_secs(60), |st| {
        TestCluster::node(st, &old)["role"] == "slave"
    });

    // The consumer, with the master killed again after a quarter of the messages.
    let t1 = Instant::now();
    let mut consumer = Running::spawn(program, &[consume, &url]);
    consumer.wait_lines("**** consumer received: ", N / 4, Duration::from_secs(120), &c);
    kill_master(&c);
    let (status, lines, err) = consumer.finish(Duration::from_secs(180));
    let text =
        format!("{}\n--- stderr ---\n{err}", lines.iter().rev().take(40).rev().cloned().collect::<Vec<_>>().join("\n"));
    assert!(status.success(), "consumer failed ({status}):\n{text}\n{}", c.diagnostics());
    let connects = lines.iter().filter(|l| l.starts_with("connected to ")).count();
    assert!(connects >= 2, "the consumer never failed over (connected {connects} time(s)):\n{text}");
    let received: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("**** consumer received: ")).collect();
    let distinct: BTreeSet<&str> = received.iter().copied().collect();
    let expected: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    let missing: Vec<_> = expected.difference(&distinct).collect();
    let extra: Vec<_> = distinct.difference(&expected).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, unexpected {extra:?}\n{text}");
    let duplicates = received.len() - distinct.len();
    let summary = format!("**** {N} messages received ({duplicates} duplicates)");
    assert!(lines.contains(&summary), "{summary:?} missing:\n{text}");
    eprintln!(
        "{program}: {N} messages received across a master kill in {:.1} s, {duplicates} redelivered after the failover",
        t1.elapsed().as_secs_f64()
    );
    c.down();
}

#[test]
fn python_stomp_py_example_loses_no_acknowledged_message_across_two_failovers() {
    let stomp_py = succeeds(Command::new("python3").args(["-c", "import stomp"]));
    let why = "needs python3 with stomp.py (python3 -m pip install stomp.py)";
    let Some(()) = prerequisite(stomp_py, "Python", why) else { return };
    produce_and_consume_across_failovers(
        109,
        "python3",
        "docs/clients/python/produce.py",
        "docs/clients/python/consume.py",
    );
}

#[test]
fn node_stompit_example_loses_no_acknowledged_message_across_two_failovers() {
    let node = succeeds(Command::new("node").arg("--version"));
    let installed = Path::new(ROOT).join("docs/clients/node/node_modules/stompit/package.json").exists();
    let why = if node { "needs `npm ci` in docs/clients/node (scripts/test.sh runs it)" } else { "needs node and npm" };
    let Some(()) = prerequisite(node && installed, "Node", why) else { return };
    produce_and_consume_across_failovers(110, "node", "docs/clients/node/produce.js", "docs/clients/node/consume.js");
}
