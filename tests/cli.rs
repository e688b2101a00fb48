//! The command line as a user meets it with nothing running (issue 14's bugs): every verb
//! says what is missing and what to run, exits non-zero within a bounded time, and a verb
//! piped into `head` exits quietly. No cluster is started here: blocks 111 and 112 are only
//! used for their (unused) port numbers and state directories.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{MQSIM, TestCluster};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `bash -c` with pipefail, so a verb killed by SIGPIPE (or panicking) fails the pipeline.
fn pipeline(script: &str) -> Output {
    Command::new("bash").args(["-c", &format!("set -o pipefail; {script}")]).output().expect("bash")
}

/// What `mqsim VERB` prints on a terminal (`script` gives it one), with `env` before it.
fn on_tty(env: &str, cfg: &str, verb: &str) -> String {
    let out = Command::new("script")
        .args(["-qec", &format!("{env} {MQSIM} --config {cfg} {verb}"), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A timeline of `n` events in the cluster's state directory, as the supervisor writes it.
fn write_timeline(c: &TestCluster, n: usize) {
    std::fs::create_dir_all(c.state_dir()).unwrap();
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "{{\"ts\":{},\"source\":\"node0{}\",\"kind\":\"elected\",\"message\":\"event {i} of a long timeline\"}}\n",
            1_700_000_000_000u64 + i as u64,
            i % 3 + 1
        ));
    }
    std::fs::write(c.state_dir().join("events.jsonl"), text).unwrap();
}

#[test]
fn send_with_no_broker_warns_and_gives_up_naming_the_url() {
    let c = TestCluster::new(111);
    let url = format!("failover:(tcp://127.0.0.1:{},tcp://127.0.0.1:{})?randomize=false", c.base + 30, c.base + 31);
    let started = Instant::now();
    let out = c.run(&["send", "--queue", "q", "--url", &url, "--timeout", "3s"]);
    let took = started.elapsed();
    assert!(!out.status.success(), "nothing answered, yet send succeeded");
    assert_eq!(out.status.code(), Some(1));
    assert!(took < Duration::from_secs(30), "--timeout 3s took {took:?}");
    let e = stderr(&out);
    // ActiveMQ's client says it keeps retrying; so does this one, on stderr.
    assert!(e.contains("failover: no broker answered"), "{e}");
    assert!(e.contains(&format!("127.0.0.1:{}", c.base + 30)), "{e}");
    assert!(e.contains(&format!("no broker answered at {url} for 3s")), "{e}");
}

#[test]
fn recv_takes_durations_like_every_other_verb() {
    let c = TestCluster::new(111);
    let url = format!("failover:(tcp://127.0.0.1:{})", c.base + 32);
    for bad in ["soon", "1x"] {
        let out = c.run(&["recv", "--queue", "q", "--url", &url, "--timeout", bad]);
        assert_eq!(out.status.code(), Some(2), "clap refuses `{bad}`");
        assert!(stderr(&out).contains("use e.g. 30s"), "{}", stderr(&out));
    }
    // `2s` was refused before (a bare number of seconds was all it took); both parse now.
    // With no broker the connect gives up after 60 s, so only parsing is checked here.
    let help = c.run(&["recv", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--timeout <DURATION>"));
}

#[test]
fn a_verb_piped_into_head_exits_quietly() {
    let c = TestCluster::new(112);
    write_timeline(&c, 20_000); // far more than a pipe holds
    let cfg = c.config.display().to_string();
    for verb in ["events --json", "events", "config show", "config show node02 --activemq-xml", "config hosts"] {
        // `true` reads nothing and exits at once: any output at all meets a closed pipe.
        for reader in ["head -1", "true"] {
            let out = pipeline(&format!("{MQSIM} --config {cfg} {verb} | {reader}"));
            assert!(out.status.success(), "`mqsim {verb} | {reader}` failed: {:?} {}", out.status, stderr(&out));
            assert_eq!(stderr(&out), "", "`mqsim {verb} | {reader}` printed to stderr");
        }
    }
}

#[test]
fn zk_verbs_with_no_ensemble_say_where_they_looked() {
    let c = TestCluster::new(112);
    let started = Instant::now();
    let out = c.run(&["zk", "ls", "/activemq/leveldb-stores"]);
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(20));
    let e = stderr(&out);
    assert!(e.contains(&format!("cannot reach ZooKeeper at 127.0.0.1:{}", c.base)), "{e}");
    assert!(e.contains("is the cluster up?"), "{e}");
    assert!(!e.starts_with("error: ZooKeeper: timeout"), "the bare client error is no longer the message: {e}");
}

#[test]
fn events_and_logs_before_any_start_say_what_to_run() {
    let c = TestCluster::new(112);
    let out = c.run(&["events"]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(e.contains("no timeline yet") && e.contains("mqsim up"), "{e}");
    let out = c.run(&["logs", "node02"]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(e.contains("no log for node02 yet") && e.contains("mqsim up"), "{e}");
    assert!(!e.contains("os error"), "a raw OS error: {e}");
}

#[test]
fn replicas_beyond_the_nodes_is_explained() {
    // 7 replicas need 4 for a quorum: three nodes can never elect.
    let c = TestCluster::with_toml(112, |base| common::cluster_toml(base, "replicas = 7"));
    let out = c.run(&["config", "show"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("line 6, column 1: cluster.replicas is 7"), "{e}");
    assert!(e.contains("no election can ever succeed") && e.contains("Set replicas = 3"), "{e}");
    // 5 replicas with three nodes is allowed (ActiveMQ allowed it) but said plainly.
    let c = TestCluster::with_toml(112, |base| common::cluster_toml(base, "replicas = 5"));
    let out = c.run(&["config", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning: cluster.replicas is 5") && text.contains("losing any one stops the cluster"),
        "{text}"
    );
}

#[test]
fn no_color_leaves_no_escape_codes_on_a_terminal() {
    let c = TestCluster::new(112);
    write_timeline(&c, 5);
    let cfg = c.config.display().to_string();
    let coloured = on_tty("env -u NO_COLOR", &cfg, "events");
    assert!(coloured.contains('\u{1b}'), "events are coloured on a terminal: {coloured:?}");
    let plain = on_tty("NO_COLOR=1", &cfg, "events");
    assert!(plain.contains("event 4 of a long timeline"), "{plain:?}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR output has escape codes: {plain:?}");
}

#[test]
fn bash_loads_the_completions_and_completes_verbs() {
    let script = format!(
        "source <({MQSIM} completions bash) && complete -p mqsim && \
         COMP_WORDS=(mqsim ki) COMP_CWORD=1 COMP_LINE='mqsim ki' COMP_POINT=8 && _mqsim mqsim ki mqsim && \
         echo \"verbs: ${{COMPREPLY[*]}}\""
    );
    let out = pipeline(&script);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("-F _mqsim mqsim"), "{text}");
    assert!(text.contains("verbs: kill"), "{text}");
    for shell in ["zsh", "fish"] {
        let out = Command::new(MQSIM).args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}: {}", stderr(&out));
    }
}

#[test]
fn the_man_page_renders_and_help_explains_targets() {
    let out = pipeline(&format!("{MQSIM} man | man -l - 2>/dev/null | col -b || {MQSIM} man"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mqsim") && text.contains("partition"), "{text}");
    let raw = Command::new(MQSIM).arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&raw.stdout).starts_with(".ie \\n(.g .ds Aq"), "roff from clap_mangen");
    let help = Command::new(MQSIM).args(["help", "kill"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("master, slaves, zk-leader") && help.contains("node01..node03"), "{help}");
    // Verbs for the bench scripts are not in the user's help.
    let bench = Command::new(MQSIM).args(["bench", "--help"]).output().unwrap();
    let bench = String::from_utf8_lossy(&bench.stdout);
    assert!(!bench.contains("stomp-report") && !bench.contains("cluster-toml"), "{bench}");
}

#[test]
fn cluster_toml_is_found_from_a_subdirectory() {
    let c = TestCluster::new(112);
    let sub = c.dir.path().join("docs/deeper");
    std::fs::create_dir_all(&sub).unwrap();
    let out =
        Command::new(MQSIM).args(["config", "show"]).current_dir(&sub).env_remove("MQSIM_CONFIG").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("from {}", c.config.display())), "{text}");
    // An explicit path is never searched for.
    let out =
        Command::new(MQSIM).args(["--config", "other.toml", "config", "show"]).current_dir(&sub).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn reporting_verbs_speak_json_and_watch_against_a_real_cluster() {
    let mut c = TestCluster::new(113);
    c.up();
    let cfg = c.config.display().to_string();
    let json = |args: &[&str]| -> serde_json::Value {
        let text = c.ok(args);
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("mqsim {args:?}: not JSON ({e}): {text}"))
    };
    let sent = json(&["send", "--queue", "j", "--count", "5", "--persistent", "--json"]);
    assert_eq!(sent["sent"], 5, "{sent}");
    assert_eq!(sent["reconnects"], 0, "{sent}");
    let got = json(&["recv", "--queue", "j", "--count", "5", "--timeout", "10s", "--json"]);
    assert_eq!(got["distinct"], 5, "{got}");
    let zk_path = json(&["config", "show", "--json"])["zkPath"].as_str().unwrap().to_string();
    let kids = json(&["zk", "ls", &zk_path, "--json"]);
    let kids: Vec<String> = serde_json::from_value(kids).unwrap();
    assert_eq!(kids.len(), 3, "{kids:?}");
    let first = json(&["zk", "get", &format!("{zk_path}/{}", kids[0]), "--stat", "--json"]);
    assert!(first["data"]["id"].is_string(), "the znode's JSON is data, not a string: {first}");
    assert_ne!(first["stat"]["ephemeralOwner"], 0, "a broker's znode is ephemeral: {first}");
    // Piped, --watch prints a time-stamped table per refresh; it runs until stopped.
    let out = pipeline(&format!("timeout 3 {MQSIM} --config {cfg} status --watch 500ms | grep -c '^--- '; true"));
    let refreshes: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    assert!(refreshes >= 2, "status --watch refreshed {refreshes} times in 3 s");
    // The status table is coloured on a terminal, and not at all with NO_COLOR.
    assert!(on_tty("env -u NO_COLOR", &cfg, "status").contains('\u{1b}'), "status is coloured on a terminal");
    let plain = on_tty("NO_COLOR=1", &cfg, "status");
    assert!(plain.contains("ZOOKEEPER") && !plain.contains('\u{1b}'), "NO_COLOR status has escape codes: {plain:?}");
    for verb in ["status", "status --json", "zk ls / --json", "events", "explain --json"] {
        let out = pipeline(&format!("{MQSIM} --config {cfg} {verb} | true"));
        assert!(out.status.success(), "`mqsim {verb} | true`: {:?} {}", out.status, stderr(&out));
    }
    c.down();
}
