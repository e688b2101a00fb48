//! The private cluster `mqsim bench hostile` attacks: its own temporary state directory,
//! its own port block, started and stopped through this very `mqsim` executable, the way
//! `mqsim bench lifecycle` does it.
//!
//! The cluster.toml is [`config::port_block_toml`](crate::config::port_block_toml) plus
//! what the probes need: one `[[user]]` (so that client credentials can be enforced once
//! the build supports it: every legitimate client here logs in with it, and the attacks
//! that are not about credentials log in too, so they reach the code they attack), and a
//! 64 MiB `storeLimit` for the store-fill probe. `mqsim up` is started with a soft
//! open-file limit of 1024 (a common default; the hard limit is left alone) as in the
//! issue's console-flood report: a node that raises its own limit at start is not
//! affected by it.
//!
//! Every `mqsim` call has a time limit; [`Cluster::stop`] runs `mqsim down` and then
//! SIGKILLs, by PID, whatever this cluster recorded in `pids.json` and is still alive.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::status::{ClusterStatus, NodeStatus};

/// The client user every legitimate client (and most attackers) log in as.
pub const USER: (&str, &str) = ("bench", "bench-hostile-secret");
/// The consoles' BASIC credentials (the `[console]` defaults).
pub const CONSOLE_AUTH: &str = "admin:admin";
/// `storeLimit` of the bench cluster.
pub const STORE_LIMIT: u64 = 64 << 20;
/// The soft open-file limit `mqsim up` (and so every node) starts with.
pub const NOFILE: u32 = 1024;

/// The cluster.toml of the bench cluster on ports `base..base+22`.
pub fn config_text(base: u16) -> String {
    let cluster = format!(
        "brokerName = \"hostile\"\nzkPath = \"/mqsim-bench/hostile\"\nupTimeout = \"60s\"\nstoreLimit = {STORE_LIMIT}"
    );
    let mut s = crate::config::port_block_toml(base, &cluster, 500);
    s += &format!("[[user]]\nusername = \"{}\"\npassword = \"{}\"\n", USER.0, USER.1);
    s
}

/// The master as one status showed it.
#[derive(Debug, Clone)]
pub struct Master {
    pub name: String,
    pub pid: u32,
    pub stomp: u16,
    pub openwire: u16,
    pub console: u16,
    pub replication: u16,
    pub znode: Option<String>,
    pub log: PathBuf,
}

impl Master {
    fn of(n: &NodeStatus) -> Option<Master> {
        Some(Master {
            name: n.name.clone(),
            pid: n.pid?,
            stomp: n.ports.stomp,
            openwire: n.ports.openwire,
            console: n.ports.console,
            replication: n.ports.replication,
            znode: n.znode.clone(),
            log: PathBuf::from(&n.log),
        })
    }
}

pub struct Cluster {
    exe: PathBuf,
    dir: PathBuf,
    config: PathBuf,
    pub base: u16,
}

impl Cluster {
    /// Writes the config into a fresh temporary directory; starts nothing.
    pub fn new(base: u16) -> Result<Cluster> {
        let exe = std::env::current_exe().map_err(Error::io("finding the mqsim executable"))?;
        let dir = std::env::temp_dir().join(format!("mqsim-bench-hostile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(Error::io("creating the bench directory"))?;
        let config = dir.join("cluster.toml");
        std::fs::write(&config, config_text(base)).map_err(Error::io("writing the bench config"))?;
        Ok(Cluster { exe, dir, config, base })
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("mq_cluster")
    }

    /// Every node's STOMP port.
    pub fn stomp_ports(&self) -> Vec<u16> {
        (0..3).map(|k| self.base + 16 + k).collect()
    }

    /// Every ZooKeeper client port, `host:port,...`.
    pub fn zk_connect(&self) -> String {
        (0..3).map(|k| format!("127.0.0.1:{}", self.base + k)).collect::<Vec<_>>().join(",")
    }

    /// `mqsim --config <ours> args...`, killed after `limit`; stdout on success.
    pub fn mqsim(&self, args: &[&str], limit: Duration) -> Result<String> {
        let mut cmd = if args == ["up"] {
            // A soft open-file limit only: the hard limit stays, so a node may raise it.
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("ulimit -Sn {NOFILE} && exec \"$0\" \"$@\"")).arg(&self.exe);
            c
        } else {
            Command::new(&self.exe)
        };
        let out_path = self.dir.join(format!("mqsim-{}.out", args.first().unwrap_or(&"x")));
        let err_path = out_path.with_extension("err");
        let file = |p: &Path| std::fs::File::create(p).map_err(Error::io(format!("creating {}", p.display())));
        let mut child = cmd
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("NO_COLOR", "1")
            // A panic would otherwise make a node load its debug info to print a backtrace
            // (tens of MiB of RSS): measure the broker, not the panic report.
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(file(&out_path)?)
            .stderr(file(&err_path)?)
            .spawn()
            .map_err(Error::io("running mqsim"))?;
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().map_err(Error::io("waiting for mqsim"))? {
                break s;
            }
            if t0.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Timeout(format!("mqsim {args:?} did not finish within {limit:?}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = std::fs::read_to_string(&out_path).unwrap_or_default();
        if !status.success() {
            let err = std::fs::read_to_string(&err_path).unwrap_or_default();
            return Err(Error::Other(format!("mqsim {args:?}: {}", err.trim())));
        }
        Ok(out)
    }

    pub fn up(&self) -> Result<()> {
        self.mqsim(&["up"], Duration::from_secs(90)).map(|_| ())
    }

    pub fn status(&self) -> Result<ClusterStatus> {
        Ok(serde_json::from_str(&self.mqsim(&["status", "--json"], Duration::from_secs(10))?)?)
    }

    /// The master, if one status names one and it has a PID.
    pub fn master(&self) -> Option<Master> {
        self.status().ok()?.master_node().and_then(Master::of)
    }

    /// Waits up to `limit` for a master that answers a logged-in STOMP CONNECT.
    pub fn serving_master(&self, limit: Duration) -> Option<Master> {
        let t0 = Instant::now();
        loop {
            if let Some(m) = self.master()
                && super::wire::Stomp::login(m.stomp, &login_headers()).is_ok_and(|s| {
                    s.disconnect();
                    true
                })
            {
                return Some(m);
            }
            if t0.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn pids(&self) -> Vec<u32> {
        crate::supervisor::Pids::read(&self.state_dir()).map(|p| p.all()).unwrap_or_default()
    }

    /// `mqsim down`, then SIGKILL by PID whatever of this cluster is still alive.
    pub fn stop(&self) {
        let pids = self.pids();
        let _ = self.mqsim(&["down"], Duration::from_secs(30));
        let t0 = Instant::now();
        while pids.iter().any(|p| crate::supervisor::process::alive(*p)) && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        for p in pids.into_iter().filter(|p| crate::supervisor::process::alive(*p)) {
            let _ = crate::supervisor::process::signal(p, nix::sys::signal::Signal::SIGKILL);
        }
    }

    /// Stops everything, wipes the state directory and starts an empty cluster.
    pub fn rebuild(&self) -> Result<()> {
        self.stop();
        let _ = std::fs::remove_dir_all(self.state_dir());
        self.up()
    }

    /// Bytes the master's store directory holds on disk (journal and index).
    pub fn store_bytes(&self, node: &str) -> u64 {
        fn walk(p: &Path) -> u64 {
            use std::os::unix::fs::MetadataExt;
            let Ok(meta) = std::fs::symlink_metadata(p) else { return 0 };
            if meta.is_dir() {
                std::fs::read_dir(p).map_or(0, |d| d.flatten().map(|e| walk(&e.path())).sum())
            } else {
                meta.blocks() * 512
            }
        }
        walk(&self.state_dir().join(format!("mq_{node}")).join("activemq-data"))
    }

    /// On Ctrl-C (SIGINT) or SIGTERM: stop this cluster and exit, so an interrupted run
    /// leaves no process behind.
    pub fn stop_on_interrupt(&self) {
        let copy =
            Cluster { exe: self.exe.clone(), dir: self.dir.clone(), config: self.config.clone(), base: self.base };
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
                else {
                    return;
                };
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
            eprintln!("  interrupted: stopping the bench cluster");
            copy.remove();
            std::process::exit(130);
        });
    }

    /// Stops the cluster and removes the temporary directory.
    pub fn remove(self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `login`/`passcode` headers of [`USER`].
pub fn login_headers() -> Vec<(&'static str, &'static str)> {
    vec![("login", USER.0), ("passcode", USER.1)]
}
