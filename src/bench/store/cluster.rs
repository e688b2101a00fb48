//! The mqsim side of `mqsim bench store`: a running cluster (its `cluster.toml`), driven
//! through this very executable (`mqsim --config .. stop/start ..`) and watched through
//! what its nodes write: `mq_nodeNN/status.json` (role, replication phase, position) and
//! the cluster's `events.jsonl` (millisecond timestamps).
//!
//! *Serving* is the first STOMP CONNECT answered by any node (what a client sees). A
//! slave is *attached* once its status says `attached` (its journal has reached the
//! master's end); as the status file is rewritten only about every 500 ms, the time is
//! taken from the node's last `slave-attaching` or `slave-attached` event before that
//! status was read (a slave already at the master's end attaches at login, with no
//! `slave-attached` event), or from the status read itself when there is no such event.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::load;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind, now_ms};
use crate::node::NodeLayout;
use crate::status::{NodeReport, Phase, Role};

/// How long a restart or a catch-up may take before the bench gives up.
const LIMIT: Duration = Duration::from_secs(1800);

/// A restart's timings, seconds from the start command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restart {
    pub serving_s: f64,
    /// The last slave attached (mqsim only).
    pub attached_s: Option<f64>,
    /// Per slave: (name, seconds, what the time was read from: the event's kind, or `status`).
    #[serde(default)]
    pub slaves: Vec<(String, f64, String)>,
    /// What was deleted before the start (paths relative to the store directories' parent).
    #[serde(default)]
    pub deleted: Vec<String>,
    /// The store's journal position (bytes ever written) at the restart (mqsim only).
    #[serde(default)]
    pub position: Option<i64>,
}

/// A slave's catch-up after missing messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatchUp {
    pub node: String,
    pub missed: usize,
    /// Journal bytes the slave lacked when it was started (master's position − its own).
    pub missed_bytes: i64,
    pub fill: load::Fill,
    pub attached_s: f64,
    /// `slave-attached`, `slave-attaching` (the event the time is from) or `status` (see the
    /// module essay).
    pub via: String,
}

pub struct Cluster {
    exe: PathBuf,
    path: PathBuf,
    config: Config,
}

impl Cluster {
    pub fn open(path: &Path) -> Result<Cluster> {
        let path = std::path::absolute(path).unwrap_or(path.to_path_buf());
        let config = Config::load(&path)?;
        let exe = std::env::current_exe().map_err(Error::io("finding the mqsim executable"))?;
        Ok(Cluster { exe, path, config })
    }

    pub fn names(&self) -> Vec<String> {
        self.config.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// Each node's store directory (its data `directory`).
    pub fn data_dir(&self, node: &str) -> PathBuf {
        NodeLayout::new(&self.config, node).data
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn report(&self, node: &str) -> Option<NodeReport> {
        NodeReport::read(&NodeLayout::new(&self.config, node).status)
    }

    /// A node's report if its process is alive.
    fn live_report(&self, node: &str) -> Option<NodeReport> {
        self.report(node).filter(|r| crate::supervisor::process::alive(r.pid))
    }

    fn stomp_url(&self, node: &str) -> String {
        let n = self.config.node(node).expect("a configured node");
        format!("tcp://127.0.0.1:{}", n.stomp.get_ref())
    }

    /// `mqsim --config <ours> args...`, within `limit`.
    fn mqsim(&self, args: &[&str], limit: Duration) -> Result<()> {
        let mut child = Command::new(&self.exe)
            .arg("--config")
            .arg(&self.path)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::io("running mqsim"))?;
        let t0 = Instant::now();
        loop {
            if let Some(status) = child.try_wait().map_err(Error::io("waiting for mqsim"))? {
                if status.success() {
                    return Ok(());
                }
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(Error::Other(format!("mqsim {}: {}", args.join(" "), err.trim())));
            }
            if t0.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Timeout(format!("mqsim {} did not finish within {limit:?}", args.join(" "))));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The serving master's name and report.
    pub fn master(&self) -> Result<(String, NodeReport)> {
        self.names()
            .into_iter()
            .find_map(|n| self.live_report(&n).filter(|r| r.role == Role::Master && r.serving).map(|r| (n, r)))
            .ok_or_else(|| Error::Unreachable("no serving master in the nodes' status files".into()))
    }

    pub fn master_url(&self) -> Result<String> {
        Ok(self.stomp_url(&self.master()?.0))
    }

    /// Stops `target` (`nodes` or a node name) and waits until those processes are gone.
    fn stop(&self, target: &str) -> Result<()> {
        let names = if target == "nodes" { self.names() } else { vec![target.to_string()] };
        let pids: Vec<u32> = names.iter().filter_map(|n| self.live_report(n)).map(|r| r.pid).collect();
        self.mqsim(&["stop", target], Duration::from_secs(120))?;
        let t0 = Instant::now();
        while pids.iter().any(|p| crate::supervisor::process::alive(*p)) {
            if t0.elapsed() > Duration::from_secs(60) {
                return Err(Error::Timeout(format!("{target} still running 60 s after `mqsim stop`")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Whether `node` (a process started after `since_ms`) reports itself attached.
    fn attached_since(&self, node: &str, since_ms: u64) -> bool {
        self.live_report(node)
            .is_some_and(|r| r.ts >= since_ms && r.role == Role::Slave && r.replication == Some(Phase::Attached))
    }

    /// When `node` attached, seconds after `t0_ms` (see the module essay), given that its
    /// status said so at `seen_ms`.
    fn attach_time(&self, node: &str, t0_ms: u64, seen_ms: u64) -> (f64, String) {
        let path = crate::state_dir::StateDir::of(&self.config).events();
        let events: Vec<Event> = crate::events::read_from(&path, 0).map(|(e, _)| e).unwrap_or_default();
        let last = events.iter().rfind(|e| {
            e.source == node
                && (t0_ms..=seen_ms).contains(&e.ts)
                && matches!(e.kind, EventKind::SlaveAttaching | EventKind::SlaveAttached)
        });
        match last {
            Some(e) => ((e.ts - t0_ms) as f64 / 1e3, e.kind.to_string()),
            None => ((seen_ms - t0_ms) as f64 / 1e3, "status".into()),
        }
    }

    /// Stops every node, deletes the entries of each store directory whose names start
    /// with one of `drop` (the index: `index`), starts them again, and times serving and
    /// attached.
    pub fn restart(&self, drop: &[String]) -> Result<Restart> {
        let position = self.master().ok().map(|(_, r)| r.position);
        let rt = runtime()?;
        self.stop("nodes")?;
        let mut deleted = Vec::new();
        if !drop.is_empty() {
            for node in self.names() {
                let dir = self.data_dir(&node);
                for entry in std::fs::read_dir(&dir).map_err(Error::io(format!("reading {}", dir.display())))? {
                    let entry = entry.map_err(Error::io(format!("reading {}", dir.display())))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if !drop.iter().any(|d| name.starts_with(d.as_str())) {
                        continue;
                    }
                    let p = entry.path();
                    let gone = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                    gone.map_err(Error::io(format!("removing {}", p.display())))?;
                    deleted.push(format!("{node}/{name}"));
                }
            }
        }
        let (t0, t0_ms) = (Instant::now(), now_ms());
        self.mqsim(&["start", "nodes"], Duration::from_secs(60))?;
        let urls: Vec<String> = self.names().iter().map(|n| self.stomp_url(n)).collect();
        let mut serving = None;
        let mut seen: Vec<(String, u64)> = Vec::new();
        loop {
            if serving.is_none() && urls.iter().any(|u| rt.block_on(load::answers(u, Duration::from_millis(500)))) {
                serving = Some(t0.elapsed().as_secs_f64());
            }
            let master = self.names().into_iter().find(|n| self.live_report(n).is_some_and(|r| r.role == Role::Master));
            if let Some(m) = &master {
                for n in self.names().into_iter().filter(|n| n != m) {
                    if !seen.iter().any(|(s, _)| *s == n) && self.attached_since(&n, t0_ms) {
                        seen.push((n, now_ms()));
                    }
                }
            }
            if serving.is_some() && seen.len() + 1 == self.names().len() {
                break;
            }
            if t0.elapsed() > LIMIT {
                return Err(Error::Timeout(format!(
                    "after a restart of every node: serving {serving:?}, attached {seen:?} after {LIMIT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let slaves: Vec<(String, f64, String)> = seen
            .iter()
            .map(|(n, at)| {
                let (s, via) = self.attach_time(n, t0_ms, *at);
                (n.clone(), s, via)
            })
            .collect();
        Ok(Restart {
            serving_s: serving.unwrap_or_default(),
            attached_s: slaves.iter().map(|s| s.1).reduce(f64::max),
            slaves,
            deleted,
            position,
        })
    }

    /// Stops one slave, sends `missed` messages to `queue`, starts the slave and times
    /// until it is attached.
    pub fn catch_up(&self, queue: &str, missed: usize, size: usize, producers: usize) -> Result<CatchUp> {
        let (master, _) = self.master()?;
        let node = self
            .names()
            .into_iter()
            .find(|n| *n != master && self.attached_since(n, 0))
            .ok_or_else(|| Error::Target("no attached slave to stop".into()))?;
        let rt = runtime()?;
        self.stop(&node)?;
        let own = self.report(&node).map_or(0, |r| r.position);
        let fill = rt.block_on(load::fill(&self.stomp_url(&master), queue, missed, size, producers, None))?;
        // The master's report, rewritten after the fill (at least every 500 ms).
        let filled = now_ms();
        let t = Instant::now();
        let master_pos = loop {
            match self.live_report(&master) {
                Some(r) if r.ts > filled => break r.position,
                _ if t.elapsed() > Duration::from_secs(10) => break -1,
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let t0_ms = now_ms();
        self.mqsim(&["start", &node], Duration::from_secs(60))?;
        let seen = loop {
            if self.attached_since(&node, t0_ms) {
                break now_ms();
            }
            if t.elapsed() > LIMIT {
                return Err(Error::Timeout(format!("{node} not attached {LIMIT:?} after its start")));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (attached_s, via) = self.attach_time(&node, t0_ms, seen);
        Ok(CatchUp { node, missed, missed_bytes: master_pos - own, fill, attached_s, via })
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::io("starting a tokio runtime"))
}
