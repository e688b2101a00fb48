//! Test harness: a whole cluster (real ZooKeeper, real `mqsim` processes) on a private port
//! block and state directory, stopped by PID when the test ends, pass or fail.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod console;
pub mod java;

pub const MQSIM: &str = env!("CARGO_BIN_EXE_mqsim");

/// Each test file + test gets its own block of 40 ports: 21000 + 40 * block.
/// Blocks are fixed per test so parallel tests never collide; the default cluster
/// (2181.., 61613.., 8161..) is far away.
pub fn port_base(block: u16) -> u16 {
    21000 + 40 * block
}

pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub base: u16,
    downed: bool,
}

/// The cluster.toml for a port block: fast ZooKeeper (tickTime 200) and 2 s sessions (1 s flaked on a loaded 2-core machine).
pub fn cluster_toml(base: u16, extra_cluster: &str) -> String {
    let cluster = format!(
        "brokerName = \"test{base}\"\nzkPath = \"/mqsim-test/{base}/leveldb-stores\"\n\
         zkSessionTimeout = \"2s\"\nupTimeout = \"60s\"\n{extra_cluster}"
    );
    mqsim::config::port_block_toml(base, &cluster, 200)
}

impl TestCluster {
    /// Writes the config; does not start anything.
    pub fn new(block: u16) -> TestCluster {
        Self::with_toml(block, |base| cluster_toml(base, ""))
    }

    pub fn with_toml(block: u16, toml: impl FnOnce(u16) -> String) -> TestCluster {
        let base = port_base(block);
        let dir = tempfile::Builder::new().prefix("mqsim-test-").tempdir().unwrap();
        let config = dir.path().join("cluster.toml");
        std::fs::write(&config, toml(base)).unwrap();
        TestCluster { dir, config, base, downed: false }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("mq_cluster")
    }

    /// Runs `mqsim --config <ours> args...`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(MQSIM).arg("--config").arg(&self.config).args(args).env("NO_COLOR", "1").output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mqsim {args:?} failed ({}):\nstdout: {}\nstderr: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.diagnostics()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn up(&self) -> String {
        self.ok(&["up"])
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).unwrap()
    }

    /// Status, or `None` while no supervisor answers.
    pub fn try_status(&self) -> Option<Value> {
        let out = self.run(&["status", "--json"]);
        out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    pub fn master(&self) -> Option<String> {
        self.status()["master"].as_str().map(str::to_string)
    }

    /// Polls status until `pred` holds, or panics after `limit` with the last status.
    pub fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let st = self.try_status().unwrap_or(Value::Null);
            if !st.is_null() && pred(&st) {
                return st;
            }
            if Instant::now() > deadline {
                panic!("timed out after {limit:?} waiting for {what}; last status:\n{st:#}\n{}", self.diagnostics());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn node<'a>(st: &'a Value, name: &str) -> &'a Value {
        st["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap()
    }

    pub fn pids(&self) -> Vec<u32> {
        mqsim::supervisor::Pids::read(&self.state_dir()).map(|p| p.all()).unwrap_or_default()
    }

    pub fn events(&self) -> Vec<Value> {
        self.ok(&["events", "--json"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The event timeline and the tail of every log, for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut s = String::from("--- events ---\n");
        s += &std::fs::read_to_string(self.state_dir().join("events.jsonl")).unwrap_or_default();
        for log in
            ["supervisor.log", "mq_node01/logs/broker.log", "mq_node02/logs/broker.log", "mq_node03/logs/broker.log"]
        {
            let text = std::fs::read_to_string(self.state_dir().join(log)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            s += &format!("--- {log} (tail) ---\n");
            for l in tail.into_iter().rev() {
                s += l;
                s.push('\n');
            }
        }
        s
    }

    /// `mqsim down`, then checks that every process this cluster ever recorded is gone.
    pub fn down(&mut self) {
        let pids = self.pids();
        self.ok(&["down"]);
        self.downed = true;
        let deadline = Instant::now() + Duration::from_secs(10);
        let alive = || pids.iter().copied().filter(|p| alive(*p)).collect::<Vec<_>>();
        while !alive().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(alive().is_empty(), "processes left after down: {:?}", alive());
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if !self.downed {
            let pids = self.pids();
            let _ = self.run(&["down"]);
            // Whatever is left (a failed test), by PID.
            for p in pids {
                if alive(p) {
                    let _ =
                        nix::sys::signal::kill(nix::unistd::Pid::from_raw(p as i32), nix::sys::signal::Signal::SIGKILL);
                }
            }
        }
    }
}

/// True if the process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("X");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Whether a TCP connection to 127.0.0.1:port is accepted.
pub fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

/// Whether the connection is actively refused (not a timeout).
pub fn refuses(port: u16) -> bool {
    matches!(
        std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

pub fn busy(port: u16) -> TcpListener {
    TcpListener::bind(("127.0.0.1", port)).unwrap()
}

pub fn zkcli() -> Option<PathBuf> {
    let p = Path::new("/usr/share/zookeeper/bin/zkCli.sh");
    p.exists().then(|| p.to_path_buf())
}

// ---- HTTP helpers for the web console and dashboard tests (tests/console.rs, tests/browser.rs) ----

impl TestCluster {
    /// The supervisor's dashboard port (`cluster.dashboardPort`, `base + 22` in a port block).
    pub fn dashboard_port(&self) -> u16 {
        self.base + 22
    }

    /// The web console port of `node01`..`node03` (`base + 19..21`).
    pub fn console_port(&self, node: &str) -> u16 {
        let i: u16 = node.trim_start_matches("node").parse().expect("node01..node03");
        self.base + 18 + i
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// `Authorization: Basic ...` for user:password.
pub fn basic(user: &str, password: &str) -> String {
    mqsim::web::Credentials::new(user, password).header()
}

/// One request to 127.0.0.1:port (`Connection: close`); `auth` is (user, password).
/// `headers` come after the standard ones, so a `Host` there is a second Host header.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    http_with_host(port, &format!("127.0.0.1:{port}"), method, path, auth, headers, body)
}

/// [`http`] with `host` as the (only) `Host` header instead of 127.0.0.1:port.
pub fn http_with_host(
    port: u16,
    host: &str,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect :{port}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if let Some((u, p)) = auth {
        req += &format!("Authorization: {}\r\n", basic(u, p));
    }
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse_response(&raw)
}

/// Parses a complete response (chunked bodies are de-chunked).
pub fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 2 + size + 2..];
        }
        body = out;
    }
    HttpResponse { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// The master's port of one kind (`stomp`, `openwire`, `console`, `replication`).
pub fn master_port(st: &Value, key: &str) -> u16 {
    let m = st["master"].as_str().expect("a master");
    TestCluster::node(st, m)["ports"][key].as_u64().unwrap() as u16
}

/// A raw STOMP 1.2 session on a socket, for byte-level checks.
pub struct RawStomp(pub std::net::TcpStream);

impl RawStomp {
    pub fn connect(port: u16) -> RawStomp {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"CONNECT\naccept-version:1.2\nhost:mqsim\n\n\0").unwrap();
        let mut r = RawStomp(s);
        assert!(r.frame().starts_with("CONNECTED"));
        r
    }

    /// Writes `frame` and its NUL.
    pub fn send(&mut self, frame: &str) {
        use std::io::Write;
        self.0.write_all(frame.as_bytes()).unwrap();
        self.0.write_all(b"\0").unwrap();
    }

    /// The next frame (up to NUL, heart-beat EOLs skipped); panics on EOF or timeout.
    pub fn frame(&mut self) -> String {
        self.next_frame().expect("a frame before EOF or the read timeout")
    }

    /// The next frame, or `None` on EOF or the read timeout.
    pub fn next_frame(&mut self) -> Option<String> {
        use std::io::Read;
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        loop {
            match self.0.read(&mut b) {
                Ok(1) if b[0] == 0 => return Some(String::from_utf8_lossy(&out).into_owned()),
                Ok(1) if out.is_empty() && b[0] == b'\n' => {}
                Ok(1) => out.push(b[0]),
                _ => return None,
            }
        }
    }

    /// Waits up to `wait` for a frame.
    pub fn try_frame(&mut self, wait: Duration) -> Option<String> {
        self.0.set_read_timeout(Some(wait)).unwrap();
        let f = self.next_frame();
        self.0.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        f
    }
}
