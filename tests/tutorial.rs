//! The tutorials run: every ```console block of docs/tutorial.zh.md and docs/tutorial.en.md
//! is executed in order against real clusters, and what each command prints is compared with
//! the lines under it, so the documents cannot rot.
//!
//! Format of a runnable block (other fences, e.g. ```sh or ```xml, are only read):
//!
//! ````text
//! ```console
//! $ mqsim zk ls /activemq/leveldb-stores
//! [00000000000, 00000000001, 00000000002]
//! ```
//! ````
//!
//! * A line starting with `$ ` is a command (run by `bash -c` in a scratch directory that holds
//!   a port-shifted copy of `cluster.toml` and `docs/examples/multihost.toml`, with `scripts/`,
//!   `docs/java/`, `docs/clients/` and `docs/examples/jms.sh` linked and `mqsim` on PATH);
//!   stdout and stderr together are compared with the lines that follow it. Blank lines and
//!   runs of spaces do not count, so tables may be re-aligned. Commands that need zkCli.sh,
//!   javac and ActiveMQ's client jars, stomp.py (`docs/clients/python`) or node with the
//!   example's `npm ci` done (`docs/clients/node`) are skipped (with a note) where those are
//!   not installed.
//! * In an expected line `...` matches anything; a line that is only `...` matches any number
//!   of lines. Placeholders match one word of a kind: `<n>` a number (`2.13`), `<pid>` digits,
//!   `<time>` a clock time, `<node>` a process name (`node02`, `zk01`), `<role>` a word, `<seq>`
//!   digits, `<id>` letters and digits, `<path>` any non-blank text.
//! * Port numbers are the documented ones (`cluster.toml`'s 2181, 61616, ...): the test maps
//!   them to its own port block in commands and back in the output.
//! * A command that exits non-zero fails the test, unless an expected line starts with `error:`.
//! * `<!-- test: wait-master [CONFIG] -->` waits until one master serves and every running slave
//!   is attached, `<!-- test: wait-zk [CONFIG] -->` until every ZooKeeper server serves, and
//!   `<!-- test: wait-outage [CONFIG] -->` until no node is master, and with too few ZooKeeper
//!   servers running, until those left stop serving (what a reader does by
//!   looking at `mqsim status` for a few seconds).
//!
//!   The tutorials show such waits as visible steps instead (`$ mqsim wait master`, `zk`,
//!   `outage`, `members`, `elected`, which check the same); prefer those.
//!
//! `TUTORIAL_PRINT=1` prints every command's output (after port mapping) while running.
//! `TUTORIAL_TWICE=1` runs each tutorial twice in the same directory, as a reader who runs it
//! again: its first step (`mqsim down --purge`) must make the second run match too.
//! `TUTORIAL_BLOCKS=A,B` uses port blocks A (main) and B (multi-host) instead of the test's.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{MQSIM, alive, port_base};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The multi-host example's ports (the same on each of its three hosts), in block order.
const MULTIHOST_PORTS: [u16; 8] = [2181, 2888, 3888, 61616, 61613, 8161, 63631, 8170];

#[derive(Debug)]
enum Step {
    Run { line: usize, cmd: String, expected: Vec<String> },
    Wait { line: usize, what: String, config: String },
}

fn parse(md: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut in_console = false;
    let mut in_other = false;
    let mut lines = md.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let t = line.trim_start();
        if in_console || in_other {
            if t.starts_with("```") {
                (in_console, in_other) = (false, false);
                continue;
            }
            if !in_console {
                continue;
            }
            if let Some(cmd) = line.strip_prefix("$ ") {
                let mut cmd = cmd.to_string();
                while cmd.ends_with('\\') {
                    cmd.pop();
                    match lines.next() {
                        Some((_, next)) => cmd.push_str(next.trim_start_matches("> ")),
                        None => break,
                    }
                }
                steps.push(Step::Run { line: i + 1, cmd, expected: Vec::new() });
            } else if let Some(Step::Run { expected, .. }) = steps.last_mut() {
                expected.push(line.to_string());
            } else {
                panic!("line {}: output before the first `$ ` command of a console block", i + 1);
            }
            continue;
        }
        if t.starts_with("```console") {
            in_console = true;
        } else if t.starts_with("```") {
            in_other = true;
        } else if let Some(rest) = t.strip_prefix("<!-- test:") {
            let rest = rest.trim_end().trim_end_matches("-->").trim();
            let mut words = rest.split_whitespace();
            let what = words.next().unwrap_or_default().to_string();
            assert!(
                matches!(what.as_str(), "wait-master" | "wait-zk" | "wait-outage"),
                "line {}: unknown directive `{rest}`",
                i + 1
            );
            let config = words.next().unwrap_or("cluster.toml").to_string();
            steps.push(Step::Wait { line: i + 1, what, config });
        }
    }
    assert!(!in_console && !in_other, "unclosed code block");
    steps
}

// ---- matching ----

#[derive(Debug, Clone)]
enum Tok {
    Lit(char),
    Any,
    Class(fn(char) -> bool),
}

fn class(name: &str) -> Option<fn(char) -> bool> {
    Some(match name {
        "n" => |c: char| c.is_ascii_digit() || c == '.' || c == ',',
        "pid" | "seq" => |c: char| c.is_ascii_digit(),
        "time" => |c: char| c.is_ascii_digit() || c == ':' || c == '.',
        "node" => |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-',
        "role" => |c: char| c.is_ascii_alphabetic() || c == '-',
        "id" => |c: char| c.is_ascii_alphanumeric(),
        "path" => |c: char| !c.is_whitespace(),
        _ => return None,
    })
}

/// Collapses runs of whitespace and trims, so table alignment does not matter.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn compile(pattern: &str) -> Vec<Tok> {
    let p = squash(pattern);
    let mut toks = Vec::new();
    let mut rest = p.as_str();
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("...") {
            toks.push(Tok::Any);
            rest = r;
            continue;
        }
        if c == '<'
            && let Some(end) = rest.find('>')
            && let Some(f) = class(&rest[1..end])
        {
            toks.push(Tok::Class(f));
            rest = &rest[end + 1..];
            continue;
        }
        toks.push(Tok::Lit(c));
        rest = &rest[c.len_utf8()..];
    }
    toks
}

fn matches_toks(toks: &[Tok], s: &[char]) -> bool {
    match toks.first() {
        None => s.is_empty(),
        Some(Tok::Lit(c)) => s.first() == Some(c) && matches_toks(&toks[1..], &s[1..]),
        Some(Tok::Any) => (0..=s.len()).any(|k| matches_toks(&toks[1..], &s[k..])),
        Some(Tok::Class(f)) => {
            let run = s.iter().take_while(|c| f(**c)).count();
            (1..=run).rev().any(|k| matches_toks(&toks[1..], &s[k..]))
        }
    }
}

fn line_matches(pattern: &str, actual: &str) -> bool {
    let chars: Vec<char> = squash(actual).chars().collect();
    matches_toks(&compile(pattern), &chars)
}

/// Expected lines against actual lines; blank lines are ignored, a `...` line matches any run.
fn lines_match(expected: &[String], actual: &[String]) -> bool {
    fn go(e: &[&str], a: &[&str]) -> bool {
        match e.first() {
            None => a.is_empty(),
            Some(&"...") => (0..=a.len()).any(|k| go(&e[1..], &a[k..])),
            Some(p) => !a.is_empty() && line_matches(p, a[0]) && go(&e[1..], &a[1..]),
        }
    }
    let e: Vec<&str> = expected.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    let a: Vec<&str> = actual.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    go(&e, &a)
}

// ---- ports ----

/// Rewrites every whole number found in `map` (digits not touching letters or digits).
fn map_numbers(text: &str, map: &BTreeMap<u16, u16>) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let j = i + chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let word: String = chars[i..j].iter().collect();
            let bounded = j == chars.len() || !chars[j].is_ascii_alphanumeric();
            match word.parse::<u16>().ok().filter(|_| bounded && word.len() <= 5).and_then(|n| map.get(&n)) {
                Some(m) => out.push_str(&m.to_string()),
                None => out.push_str(&word),
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The documented ports of `cluster.toml` → block `base`, in `Config::ports()` order.
fn main_port_map(base: u16) -> BTreeMap<u16, u16> {
    let c = mqsim::Config::load(&Path::new(ROOT).join("cluster.toml")).unwrap();
    c.ports().iter().enumerate().map(|(i, p)| (p.port, base + i as u16)).collect()
}

fn multihost_port_map(base: u16) -> BTreeMap<u16, u16> {
    MULTIHOST_PORTS.iter().enumerate().map(|(i, p)| (*p, base + i as u16)).collect()
}

// ---- the scratch directory and its clusters ----

struct Workspace {
    /// Kept (not deleted) when a step fails, for its logs.
    dir: Option<tempfile::TempDir>,
    keep: std::cell::Cell<bool>,
    configs: Vec<PathBuf>,
    main: BTreeMap<u16, u16>,
    multi: BTreeMap<u16, u16>,
    /// Shifted port → documented port, for both layouts.
    back: BTreeMap<u16, u16>,
    path_env: String,
}

impl Workspace {
    fn new(main_block: u16, multi_block: u16) -> Workspace {
        let main = main_port_map(port_base(main_block));
        let multi = multihost_port_map(port_base(multi_block));
        let mut back: BTreeMap<u16, u16> = main.iter().map(|(d, s)| (*s, *d)).collect();
        back.extend(multi.iter().map(|(d, s)| (*s, *d)));
        let dir = tempfile::Builder::new().prefix("mqsim-tutorial-").tempdir().unwrap();
        let root = Path::new(ROOT);
        let text = std::fs::read_to_string(root.join("cluster.toml")).unwrap();
        std::fs::write(dir.path().join("cluster.toml"), map_numbers(&text, &main)).unwrap();
        std::fs::create_dir_all(dir.path().join("docs/examples")).unwrap();
        let text = std::fs::read_to_string(root.join("docs/examples/multihost.toml")).unwrap();
        std::fs::write(dir.path().join("docs/examples/multihost.toml"), map_numbers(&text, &multi)).unwrap();
        std::os::unix::fs::symlink(root.join("scripts"), dir.path().join("scripts")).unwrap();
        std::os::unix::fs::symlink(root.join("docs/java"), dir.path().join("docs/java")).unwrap();
        std::os::unix::fs::symlink(root.join("docs/clients"), dir.path().join("docs/clients")).unwrap();
        let jms = "docs/examples/jms.sh";
        std::os::unix::fs::symlink(root.join(jms), dir.path().join(jms)).unwrap();
        let bin = Path::new(MQSIM).parent().unwrap().display().to_string();
        let path_env = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
        // Every config a tutorial starts a cluster from (section 15's loss lab writes
        // quorum.toml, section 17 small-logs.toml), so that a failure part-way never leaves one
        // running.
        let configs = vec![
            dir.path().join("cluster.toml"),
            dir.path().join("docs/examples/multihost.toml"),
            dir.path().join("quorum.toml"),
            dir.path().join("small-logs.toml"),
        ];
        Workspace { dir: Some(dir), keep: false.into(), configs, main, multi, back, path_env }
    }

    fn root(&self) -> &Path {
        self.dir.as_ref().expect("workspace exists until drop").path()
    }

    /// Fails the test with `msg`, the end of the main cluster's timeline, and the workspace
    /// (kept, with every node's and server's log) for a closer look.
    fn fail(&self, msg: String) -> ! {
        self.keep.set(true);
        let events = self.mqsim("cluster.toml", &["events"]);
        let events = String::from_utf8_lossy(&events.stdout).into_owned();
        let tail: Vec<&str> = events.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        panic!(
            "{msg}\n--- last events of the main cluster ---\n{}\n--- workspace kept: {} (logs in mq_cluster/*/logs) ---",
            tail.join("\n"),
            self.root().display()
        );
    }

    fn mqsim(&self, config: &str, args: &[&str]) -> std::process::Output {
        Command::new(MQSIM)
            .current_dir(self.root())
            .arg("--config")
            .arg(config)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("MQSIM_CONFIG")
            .output()
            .unwrap()
    }

    /// Runs one documented command; returns (exit ok, output lines after port mapping).
    fn run(&self, cmd: &str) -> (bool, Vec<String>) {
        let map = if cmd.contains("multihost") { &self.multi } else { &self.main };
        let shifted = map_numbers(cmd, map);
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(format!("exec 2>&1\n{shifted}"))
            .current_dir(self.root())
            .env("PATH", &self.path_env)
            .env("NO_COLOR", "1")
            .env_remove("MQSIM_CONFIG")
            .env_remove("MQSIM")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                // Our own process group (bash and what it started), by its id.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                self.fail(format!("`{cmd}` did not finish within 120 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
        let out = map_numbers(&strip_ansi(&out), &self.back);
        (status.success(), out.lines().map(str::to_string).collect())
    }

    fn status(&self, config: &str) -> Option<Value> {
        let out = self.mqsim(config, &["status", "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    fn wait(&self, what: &str, config: &str, line: usize, file: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let st = self.status(config).unwrap_or(Value::Null);
            let ok = match what {
                "wait-zk" => st["zookeeper"].as_array().is_some_and(|z| {
                    z.iter().all(|z| matches!(z["mode"].as_str(), Some("leader" | "follower" | "standalone")))
                }),
                "wait-outage" => {
                    let nodes = st["nodes"].as_array().cloned().unwrap_or_default();
                    // Without a quorum running, the servers left stop serving too — a leader
                    // notices only after syncLimit ticks, later than the brokers do.
                    let zk = st["zookeeper"].as_array().cloned().unwrap_or_default();
                    let running: Vec<&Value> = zk.iter().filter(|z| z["state"] == "running").collect();
                    let quorum_lost = running.len() * 2 <= zk.len();
                    let zk_settled = !quorum_lost
                        || running
                            .iter()
                            .all(|z| !matches!(z["mode"].as_str(), Some("leader" | "follower" | "standalone")));
                    st.is_object()
                        && st["master"].is_null()
                        && nodes.iter().all(|n| n["role"] != "master")
                        && zk_settled
                }
                _ => {
                    let nodes = st["nodes"].as_array().cloned().unwrap_or_default();
                    st["master"].is_string()
                        && nodes.iter().filter(|n| n["role"] == "master").count() == 1
                        && nodes.iter().filter(|n| n["state"] == "running").all(|n| match n["role"].as_str() {
                            Some("master") => n["serving"] == true,
                            Some("slave") => n["replication"] == "attached",
                            _ => false,
                        })
                }
            };
            if ok {
                return;
            }
            if Instant::now() > deadline {
                self.fail(format!("{file}:{line}: `{what}` timed out after 60 s; last status:\n{st:#}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        for config in &self.configs {
            let config = config.display().to_string();
            let state_dir = mqsim::Config::load(Path::new(&config)).map(|c| c.state_dir()).ok();
            let pids = state_dir.map(|d| pids(&d)).unwrap_or_default();
            let _ = self.mqsim(&config, &["down"]);
            for p in pids {
                if alive(p) {
                    let _ =
                        nix::sys::signal::kill(nix::unistd::Pid::from_raw(p as i32), nix::sys::signal::Signal::SIGKILL);
                }
            }
        }
        if self.keep.get()
            && let Some(dir) = self.dir.take()
        {
            let _ = dir.keep();
        }
    }
}

fn pids(state_dir: &Path) -> Vec<u32> {
    mqsim::supervisor::Pids::read(state_dir).map(|p| p.all()).unwrap_or_default()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// Runs one tutorial from the top; `main_block`/`multi_block` are its two port blocks.
fn run_tutorial(file: &str, main_block: u16, multi_block: u16) {
    // A shared machine: `TUTORIAL_BLOCKS=107,108` runs on other port blocks than the test's own.
    let (main_block, multi_block) = match std::env::var("TUTORIAL_BLOCKS").ok().and_then(|b| {
        let (a, c) = b.split_once(',')?;
        Some((a.trim().parse().ok()?, c.trim().parse().ok()?))
    }) {
        Some(blocks) => blocks,
        None => (main_block, multi_block),
    };
    let md = std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap();
    let steps = parse(&md);
    assert!(steps.iter().filter(|s| matches!(s, Step::Run { .. })).count() > 20, "{file}: too few commands");
    let ws = Workspace::new(main_block, multi_block);
    let print = std::env::var_os("TUTORIAL_PRINT").is_some();
    let has_zkcli = Path::new("/usr/share/zookeeper/bin/zkCli.sh").exists();
    let has_jms = Path::new("/usr/share/java/activemq-client.jar").exists()
        && std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join("javac").exists());
    let succeeds = |c: &mut Command| c.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    let has_stomp_py = succeeds(Command::new("python3").args(["-c", "import stomp"]));
    let has_node = succeeds(Command::new("node").arg("--version"))
        && Path::new(ROOT).join("docs/clients/node/node_modules/stompit").exists();
    let started = Instant::now();
    let rounds = if std::env::var_os("TUTORIAL_TWICE").is_some() { 2 } else { 1 };
    for step in std::iter::repeat_n(&steps, rounds).flatten() {
        match step {
            Step::Wait { line, what, config } => ws.wait(what, config, *line, file),
            Step::Run { line, cmd, expected } => {
                if (cmd.contains("zkCli.sh") && !has_zkcli) || (cmd.contains("jms.sh") && !has_jms) {
                    eprintln!(
                        "{file}:{line}: skipped (zkCli.sh, or javac and ActiveMQ's client jars, not installed): {cmd}"
                    );
                    continue;
                }
                if (cmd.contains("docs/clients/python") && !has_stomp_py)
                    || (cmd.contains("docs/clients/node") && !has_node)
                {
                    eprintln!(
                        "{file}:{line}: skipped (stomp.py, or node and `npm ci` in docs/clients/node, not installed): {cmd}"
                    );
                    continue;
                }
                let t = Instant::now();
                let (ok, actual) = ws.run(cmd);
                if print {
                    eprintln!("--- {file}:{line} $ {cmd}  ({:.1} s)", t.elapsed().as_secs_f64());
                    for l in &actual {
                        eprintln!("{l}");
                    }
                }
                let expects_error = expected.iter().any(|l| l.trim_start().starts_with("error:"));
                if !ok && !expects_error {
                    ws.fail(format!(
                        "{file}:{line}: `{cmd}` failed (exit non-zero) and the document expects no `error:`:\n{}",
                        actual.join("\n")
                    ));
                }
                if !lines_match(expected, &actual) {
                    ws.fail(format!(
                        "{file}:{line}: the output of `{cmd}` no longer matches the document.\n\
                         --- documented ---\n{}\n--- printed (ports mapped back) ---\n{}\n",
                        expected.join("\n"),
                        actual.join("\n")
                    ));
                }
            }
        }
    }
    eprintln!("{file}: {} steps in {:.1} s", steps.len(), started.elapsed().as_secs_f64());
}

#[test]
fn tutorial_zh_runs_as_documented() {
    run_tutorial("docs/tutorial.zh.md", 60, 61);
}

#[test]
fn tutorial_en_runs_as_documented() {
    run_tutorial("docs/tutorial.en.md", 62, 63);
}

#[test]
fn both_tutorials_run_the_same_commands() {
    let cmds = |f: &str| -> Vec<String> {
        parse(&std::fs::read_to_string(Path::new(ROOT).join(f)).unwrap())
            .into_iter()
            .map(|s| match s {
                Step::Run { cmd, .. } => cmd.split(" #").next().unwrap().trim().to_string(),
                Step::Wait { what, config, .. } => format!("<{what} {config}>"),
            })
            .collect()
    };
    assert_eq!(cmds("docs/tutorial.zh.md"), cmds("docs/tutorial.en.md"));
}

#[test]
fn matcher() {
    let m = |p: &str, a: &str| line_matches(p, a);
    assert!(m("node01  running  <role>  <pid>  61616", "node01 running slave 12345 61616"));
    assert!(m("Ready in <n> s. ...", "Ready in 3.1 s. Failover URL"));
    assert!(!m("Ready in <n> s.", "Ready in s."));
    assert!(m("<time>  <node>  killed ...", "09:09:15.566  supervisor killed node02"));
    assert!(m("<broker brokerName=\"localhost\">", "<broker brokerName=\"localhost\">"));
    assert!(m("from <path>/cluster.toml", "from /tmp/x-1/cluster.toml"));
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(lines_match(&l(&["a", "...", "d"]), &l(&["a", "b", "", "c", "d"])));
    assert!(lines_match(&l(&["a", "...", ""]), &l(&["a"])));
    assert!(!lines_match(&l(&["a", "d"]), &l(&["a", "b", "d"])));
    let map = BTreeMap::from([(2181, 23400), (61616, 23413)]);
    assert_eq!(
        map_numbers("-server 127.0.0.1:2181 x21810 61616/0x2181", &map),
        "-server 127.0.0.1:23400 x21810 23413/0x2181"
    );
}
