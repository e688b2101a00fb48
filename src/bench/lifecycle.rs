//! `mqsim bench lifecycle`: start-up and failover times, measured on real processes.
//!
//! Each profile gets a private cluster (port block 23000+, a temporary state directory).
//! * **up**: from spawning `mqsim up` until the first broker's openwire port accepts a TCP
//!   connection (the master; slaves refuse), and until all three ZooKeeper servers answer
//!   `srvr` with a mode (the real ensemble's own start-up, measured in the same run).
//! * **failover**: from `kill -9` of the master's PID until another node's openwire port
//!   accepts. The killed node is restarted and must be a slave again before the next kill,
//!   which then waits a random 0–1 s: otherwise every kill would fall at the same phase of
//!   ZooKeeper's tick (session expiry is checked once per tick) and of the nodes' session
//!   traffic, and the samples would measure that phase, not failover (anchor-baseline.md
//!   §3d randomises its ActiveMQ kills the same way).
//!
//! Connection attempts are made every 2 ms; a refused connect on loopback costs ~50 µs.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{median, mmm};
use crate::error::{Error, Result};

pub struct Profile {
    pub name: &'static str,
    pub tick_ms: u64,
    pub session: &'static str,
}

pub const PROFILES: [Profile; 2] = [
    Profile { name: "default (zkSessionTimeout 2s, tickTime 500)", tick_ms: 500, session: "2s" },
    Profile { name: "fast (zkSessionTimeout 500ms, tickTime 200)", tick_ms: 200, session: "500ms" },
];

#[derive(Debug, Default, serde::Serialize)]
pub struct Samples {
    pub up_ms: Vec<f64>,
    pub zk_ms: Vec<f64>,
    pub failover_ms: Vec<f64>,
}

fn config_text(base: u16, p: &Profile) -> String {
    let cluster = format!(
        "brokerName = \"bench\"\nzkPath = \"/mqsim-bench/leveldb-stores\"\nzkSessionTimeout = \"{}\"",
        p.session
    );
    crate::config::port_block_toml(base, &cluster, p.tick_ms)
}

struct Bench {
    exe: PathBuf,
    config: PathBuf,
    openwire: Vec<u16>,
    zk_ports: Vec<u16>,
}

impl Bench {
    fn mqsim(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.exe)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(Error::io("running mqsim"))?;
        if !out.status.success() {
            return Err(Error::Other(format!("mqsim {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn status(&self) -> Result<Value> {
        Ok(serde_json::from_str(&self.mqsim(&["status", "--json"])?)?)
    }

    fn accepts(port: u16) -> bool {
        TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(100)).is_ok()
    }

    fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Result<Duration> {
        let t0 = Instant::now();
        while !f() {
            if t0.elapsed() > limit {
                return Err(Error::Timeout(format!("benchmark step did not finish within {limit:?}")));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(t0.elapsed())
    }

    /// One `mqsim up`: (up → master accepting, up → ZooKeeper serving) in ms.
    fn up_once(&self) -> Result<(f64, f64)> {
        let t0 = Instant::now();
        let mut child = Command::new(&self.exe)
            .arg("--config")
            .arg(&self.config)
            .arg("up")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(Error::io("running mqsim up"))?;
        let mut zk_at = None;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        Self::wait_until(Duration::from_secs(60), || {
            if zk_at.is_none() {
                let serving = self.zk_ports.iter().all(|p| rt.block_on(crate::zookeeper::probe_mode(*p)).is_some());
                if serving {
                    zk_at = Some(t0.elapsed());
                }
            }
            self.openwire.iter().any(|p| Self::accepts(*p))
        })?;
        let up = t0.elapsed();
        let _ = child.wait();
        let zk = zk_at.unwrap_or(up);
        Ok((up.as_secs_f64() * 1e3, zk.as_secs_f64() * 1e3))
    }

    fn settled(&self) -> Result<Value> {
        let t0 = Instant::now();
        loop {
            let st = self.status()?;
            let roles: Vec<&str> =
                st["nodes"].as_array().unwrap().iter().map(|n| n["role"].as_str().unwrap_or("-")).collect();
            if !st["master"].is_null() && roles.iter().all(|r| *r == "master" || *r == "slave") {
                return Ok(st);
            }
            if t0.elapsed() > Duration::from_secs(30) {
                return Err(Error::Timeout(format!("cluster did not settle: {st}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// kill -9 the master (after a random pause); ms until another node accepts.
    fn failover_once(&self) -> Result<f64> {
        self.settled()?;
        std::thread::sleep(Duration::from_millis(rand::random_range(0..=KILL_JITTER_MS)));
        let st = self.settled()?;
        let master = st["master"].as_str().unwrap().to_string();
        let node = st["nodes"].as_array().unwrap().iter().find(|n| n["name"] == master.as_str()).unwrap();
        let pid = node["pid"].as_u64().unwrap() as u32;
        let own = node["ports"]["openwire"].as_u64().unwrap() as u16;
        let others: Vec<u16> = self.openwire.iter().copied().filter(|p| *p != own).collect();
        let t0 = Instant::now();
        crate::supervisor::process::signal(pid, nix::sys::signal::Signal::SIGKILL)?;
        Self::wait_until(Duration::from_secs(30), || others.iter().any(|p| Self::accepts(*p)))?;
        let gap = t0.elapsed();
        self.mqsim(&["start", &master])?;
        Ok(gap.as_secs_f64() * 1e3)
    }
}

/// The longest random pause before a kill.
const KILL_JITTER_MS: u64 = 1000;

/// Runs both profiles; `ups` launches and `kills` failovers each.
pub fn lifecycle(ups: usize, kills: usize, block: u16) -> Result<Vec<(&'static str, Samples)>> {
    let exe = std::env::current_exe().map_err(Error::io("finding the mqsim executable"))?;
    let mut results = Vec::new();
    for (i, p) in PROFILES.iter().enumerate() {
        let base = 23000 + 40 * (block + i as u16);
        let dir = std::env::temp_dir().join(format!("mqsim-bench-{}-{i}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(Error::io("creating the bench directory"))?;
        let config = dir.join("cluster.toml");
        std::fs::write(&config, config_text(base, p)).map_err(Error::io("writing the bench config"))?;
        let b = Bench {
            exe: exe.clone(),
            config,
            openwire: (0..3).map(|k| base + 13 + k).collect(),
            zk_ports: (0..3).map(|k| base + k).collect(),
        };
        let run = || -> Result<Samples> {
            let mut s = Samples::default();
            for u in 0..ups {
                let (up, zk) = b.up_once()?;
                eprintln!(
                    "  {}: up #{}: master accepting after {up:.0} ms (ZooKeeper serving after {zk:.0} ms)",
                    p.name,
                    u + 1
                );
                s.up_ms.push(up);
                s.zk_ms.push(zk);
                if u + 1 < ups {
                    b.mqsim(&["down"])?;
                }
            }
            for k in 0..kills {
                let ms = b.failover_once()?;
                eprintln!("  {}: kill -9 master #{}: new master accepting after {ms:.0} ms", p.name, k + 1);
                s.failover_ms.push(ms);
            }
            Ok(s)
        };
        let res = run();
        let _ = b.mqsim(&["down"]);
        let _ = std::fs::remove_dir_all(&dir);
        results.push((p.name, res?));
    }
    Ok(results)
}

/// The markdown section for docs/benchmarks.md.
pub fn report(results: &[(&str, Samples)], when: &str, host: &str) -> String {
    // Reference figures from shared/reference/anchor-baseline.md (same machine kind, not this run).
    const ZK_ANCHOR_MS: f64 = 1052.0; // Z1: 3-server launch -> all serving, light flags
    const AMQ_STARTUP_MS: f64 = 1038.0; // A2: 3 brokers launched -> master accepts STOMP, light flags
    const AMQ_FAILOVER_1S_MS: f64 = 616.0; // F2 all kills, lockAcquireSleepInterval 1 s
    const AMQ_FAILOVER_DEFAULT_MS: f64 = 5364.0; // F1 all kills, default 10 s lock polling
    let mut s = format!(
        "## Lifecycle: start-up and failover\n\nMeasured {when} on {host} with `mqsim bench lifecycle` \
         (figures are median [min..max] (n), in ms).\n\n\
         | profile | `mqsim up` → master accepting | of which: real ZooKeeper ensemble serving | of which: brokers (ZooKeeper serving → master accepting) | kill -9 master → new master accepting |\n\
         |---|---|---|---|---|\n"
    );
    for (name, r) in results {
        let brokers: Vec<f64> = r.up_ms.iter().zip(&r.zk_ms).map(|(u, z)| u - z).collect();
        s += &format!(
            "| {name} | {} | {} | {} | {} |\n",
            mmm(&r.up_ms, 0),
            mmm(&r.zk_ms, 0),
            mmm(&brokers, 0),
            mmm(&r.failover_ms, 0)
        );
    }
    s += "\nRatios against the anchors (anchor-baseline.md: real ZooKeeper 3.8 and ActiveMQ 5.17.2 measured on this \
          machine kind on 2026-11-24, *not* in this run; ActiveMQ 5.17 has no replicated LevelDB store, so its \
          failover figure is the shared-file-lock master/slave):\n\n\
          | figure | mqsim (median) | anchor (median) | ratio mqsim / anchor |\n|---|---|---|---|\n";
    for (name, r) in results {
        let up = median(&r.up_ms);
        let zk = median(&r.zk_ms);
        let fo = median(&r.failover_ms);
        let brokers = median(&r.up_ms.iter().zip(&r.zk_ms).map(|(u, z)| u - z).collect::<Vec<_>>());
        let short = name.split(' ').next().unwrap_or(name);
        s += &format!(
            "| {short}: ZooKeeper ensemble launch → serving | {zk:.0} | {ZK_ANCHOR_MS:.0} (Z1) | {:.2} |\n",
            zk / ZK_ANCHOR_MS
        );
        s += &format!(
            "| {short}: whole cluster up (ZooKeeper + brokers) → master accepting | {up:.0} | {AMQ_STARTUP_MS:.0} (A2, brokers only, no ZooKeeper) | {:.2} |\n",
            up / AMQ_STARTUP_MS
        );
        s += &format!(
            "| {short}: brokers only (ZooKeeper serving → master accepting) | {brokers:.0} | {AMQ_STARTUP_MS:.0} (A2) | {:.2} |\n",
            brokers / AMQ_STARTUP_MS
        );
        s += &format!(
            "| {short}: kill -9 master → new master | {fo:.0} | {AMQ_FAILOVER_1S_MS:.0} (F2, 1 s lock polling) / {AMQ_FAILOVER_DEFAULT_MS:.0} (F1, default) | {:.2} / {:.2} |\n",
            fo / AMQ_FAILOVER_1S_MS,
            fo / AMQ_FAILOVER_DEFAULT_MS
        );
    }
    s += &format!(
        "\nReading: after `kill -9` nothing tells ZooKeeper the master died, so its znode stays until the \
         session expires (the server checks expiry once per tickTime). Failover is therefore about \
         zkSessionTimeout plus up to one tick, plus a few ms for the elector's decision and the new master's \
         bind. Each kill comes a random 0–{KILL_JITTER_MS} ms after the cluster has settled, so its phase \
         against the tick is random too. A clean `mqsim stop master` deletes the znode at once.\n"
    );
    s
}
