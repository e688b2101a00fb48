//! The managed ZooKeeper ensemble: finding the installation, writing each server's
//! `zoo.cfg` and `myid`, the `java` command line, and the `srvr` four-letter-word probe.
//!
//! mqsim runs the real Apache ZooKeeper (Debian's `zookeeper` package, or an unpacked
//! release under `$ZOOKEEPER_HOME`). Each server gets `<stateDir>/zkNN/` with `conf/zoo.cfg`,
//! `data/myid` and `logs/zookeeper.log`, like the notes' `/myzookeeper/zk01..03`. The JVM is
//! started directly (not through `zkServer.sh`, whose `zkEnv.sh` hard-codes `/etc` and
//! `/var/log` paths), so the PID mqsim holds is the JVM itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{Config, ZkServer};
use crate::error::{Error, Result};

/// How to install ZooKeeper and Java, named in every "missing" error.
pub const INSTALL_HINT: &str = "install them with `sudo apt-get install -y zookeeper openjdk-17-jre-headless` \
     (or run scripts/setup.sh, which does it for you), set ZOOKEEPER_HOME to an unpacked Apache ZooKeeper \
     release, or point [zookeeper] connect = \"host:port,...\" in cluster.toml at an ensemble you run yourself";

/// A usable ZooKeeper installation.
#[derive(Debug, Clone)]
pub struct Install {
    pub java: PathBuf,
    /// Classpath entries (jars and the conf dir).
    pub classpath: Vec<PathBuf>,
    /// The `zkCli.sh` script, if present (for the tutorial's zkCli steps).
    pub zkcli: Option<PathBuf>,
}

impl Install {
    /// Finds Java and ZooKeeper: `[zookeeper] home`, `$ZOOKEEPER_HOME`, then Debian's paths.
    pub fn find(config: &Config) -> Result<Install> {
        let java = find_java().ok_or_else(|| {
            Error::Missing(format!(
                "Java was not found (no `java` on PATH and no $JAVA_HOME/bin/java); ZooKeeper needs it: {INSTALL_HINT}"
            ))
        })?;
        let home = config.zookeeper.home.clone().or_else(|| std::env::var_os("ZOOKEEPER_HOME").map(PathBuf::from));
        if let Some(home) = home {
            let mut classpath = vec![home.join("conf")];
            for dir in [home.clone(), home.join("lib")] {
                if let Ok(rd) = std::fs::read_dir(&dir) {
                    let mut jars: Vec<PathBuf> =
                        rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "jar")).collect();
                    jars.sort();
                    classpath.extend(jars);
                }
            }
            if classpath.len() == 1 {
                return Err(Error::Missing(format!(
                    "ZooKeeper home {} has no jars (expected lib/*.jar of an Apache ZooKeeper release); {INSTALL_HINT}",
                    home.display()
                )));
            }
            let zkcli = Some(home.join("bin/zkCli.sh")).filter(|p| p.exists());
            return Ok(Install { java, classpath, zkcli });
        }
        let jar = PathBuf::from("/usr/share/java/zookeeper.jar");
        if !jar.exists() {
            return Err(Error::Missing(format!(
                "ZooKeeper is not installed (no {} and ZOOKEEPER_HOME is unset): {INSTALL_HINT}",
                jar.display()
            )));
        }
        let mut classpath = vec![jar];
        // Debian's jar has no SLF4J binding; add the simple one so servers write a log.
        let simple = PathBuf::from("/usr/share/java/slf4j-simple.jar");
        if simple.exists() {
            classpath.push(simple);
        }
        let zkcli = Some(PathBuf::from("/usr/share/zookeeper/bin/zkCli.sh")).filter(|p| p.exists());
        Ok(Install { java, classpath, zkcli })
    }

    /// The command that runs one server in the foreground.
    pub fn command(&self, config: &Config, server: &ZkServer, layout: &ZkLayout) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.java);
        cmd.args(config.zookeeper.jvm_flags.split_whitespace());
        cmd.arg("-Dzookeeper.admin.enableServer=false")
            .arg("-Dzookeeper.jmx.log4j.disable=true")
            .arg(format!("-Dzookeeper.log.dir={}", layout.logs.display()))
            .arg("-Dorg.slf4j.simpleLogger.showDateTime=true")
            .arg("-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS")
            .arg(format!("-Dmqsim.server={}", server.name))
            .arg("-cp")
            .arg(std::env::join_paths(&self.classpath).expect("classpath has no ':'"))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&layout.cfg);
        cmd
    }
}

fn find_java() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let p = PathBuf::from(home).join("bin/java");
        if p.exists() {
            return Some(p);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("java")).find(|p| p.exists())
}

/// One server's directories (`<stateDir>/zk01/...`).
#[derive(Debug, Clone)]
pub struct ZkLayout {
    pub dir: PathBuf,
    pub cfg: PathBuf,
    pub data: PathBuf,
    pub logs: PathBuf,
    pub log_file: PathBuf,
}

impl ZkLayout {
    pub fn new(state_dir: &Path, name: &str) -> ZkLayout {
        let dir = state_dir.join(name);
        ZkLayout {
            cfg: dir.join("conf/zoo.cfg"),
            data: dir.join("data"),
            logs: dir.join("logs"),
            log_file: dir.join("logs/zookeeper.log"),
            dir,
        }
    }
}

/// The `zoo.cfg` text for server number `myid` (1-based).
pub fn zoo_cfg(config: &Config, myid: usize, layout: &ZkLayout) -> String {
    let zk = &config.zookeeper;
    let server = &zk.servers[myid - 1];
    let mut s = format!(
        "# Written by mqsim for {name}; edit cluster.toml instead.\n\
         tickTime={tick}\ninitLimit={init}\nsyncLimit={sync}\n\
         dataDir={data}\nclientPort={port}\nclientPortAddress={host}\n\
         # Session timeouts are clamped by the server to [2, 20] x tickTime.\n\
         minSessionTimeout={min}\nmaxSessionTimeout={max}\n\
         admin.enableServer=false\n4lw.commands.whitelist=srvr,ruok,stat,mntr,conf,cons\n",
        name = server.name,
        tick = zk.tick_time,
        init = zk.init_limit,
        sync = zk.sync_limit,
        data = layout.data.display(),
        port = server.client_port.get_ref(),
        host = server.host,
        min = 2 * zk.tick_time,
        max = 20 * zk.tick_time,
    );
    for (i, s2) in zk.servers.iter().enumerate() {
        let host = match s2.host {
            std::net::IpAddr::V6(a) => format!("[{a}]"),
            a => a.to_string(),
        };
        s.push_str(&format!("server.{}={host}:{}:{}\n", i + 1, s2.quorum_port.get_ref(), s2.election_port.get_ref()));
    }
    s
}

/// Writes `conf/zoo.cfg` and `data/myid`, creating the directories.
pub fn prepare(config: &Config, myid: usize, layout: &ZkLayout) -> Result<()> {
    for d in [layout.cfg.parent().unwrap(), &layout.data, &layout.logs] {
        std::fs::create_dir_all(d).map_err(Error::io(format!("creating {}", d.display())))?;
    }
    std::fs::write(&layout.cfg, zoo_cfg(config, myid, layout))
        .map_err(Error::io(format!("writing {}", layout.cfg.display())))?;
    std::fs::write(layout.data.join("myid"), format!("{myid}\n"))
        .map_err(Error::io(format!("writing {}/myid", layout.data.display())))?;
    Ok(())
}

/// A server's answer to `srvr`: `leader`, `follower`, `standalone`, or `None` if it does
/// not serve (down, starting, or no quorum).
pub async fn probe_mode(port: u16) -> Option<String> {
    probe_mode_at(std::net::Ipv4Addr::LOCALHOST.into(), port).await
}

/// [`probe_mode`] for a server on `host` (its `[[zookeeper.server]] host`).
pub async fn probe_mode_at(host: std::net::IpAddr, port: u16) -> Option<String> {
    mode_of(&four_letter_at(host, port, "srvr").await?)
}

/// The `Mode: ` line of a `srvr` reply (`leader`, `follower`, `standalone`), if it has one
/// (a server that is not serving answers without it).
pub fn mode_of(srvr: &str) -> Option<String> {
    srvr.lines().find_map(|l| l.strip_prefix("Mode: ")).map(|m| m.trim().to_string())
}

/// The most of a four-letter word's reply that is read.
pub const MAX_FOUR_LETTER_REPLY: u64 = 256 * 1024;

/// Sends a four-letter word and returns the reply (bounded to 500 ms and [`MAX_FOUR_LETTER_REPLY`] bytes).
pub async fn four_letter(port: u16, word: &str) -> Option<String> {
    four_letter_at(std::net::Ipv4Addr::LOCALHOST.into(), port, word).await
}

/// [`four_letter`] to a server on `host`.
pub async fn four_letter_at(host: std::net::IpAddr, port: u16, word: &str) -> Option<String> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        s.write_all(word.as_bytes()).await.ok()?;
        // Bounded: `cons` lists every connection, one line each.
        let mut out = String::new();
        (&mut s).take(MAX_FOUR_LETTER_REPLY).read_to_string(&mut out).await.ok()?;
        Some(out)
    };
    tokio::time::timeout(Duration::from_millis(500), io).await.ok().flatten()
}

/// The session timeout the servers will grant for a requested one.
pub fn negotiated_timeout(config: &Config) -> Duration {
    let want = config.cluster.zk_session_timeout;
    if config.zookeeper.connect.is_some() {
        return want;
    }
    let tick = Duration::from_millis(config.zookeeper.tick_time);
    want.clamp(2 * tick, 20 * tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoo_cfg_lists_all_servers_and_clamps() {
        let c = Config::parse("", Path::new("cluster.toml")).unwrap();
        let l = ZkLayout::new(Path::new("/tmp/x"), "zk02");
        let cfg = zoo_cfg(&c, 2, &l);
        assert!(cfg.contains("clientPort=2182\n"));
        assert!(cfg.contains("server.1=127.0.0.1:2888:3888\n"));
        assert!(cfg.contains("server.3=127.0.0.1:2890:3890\n"));
        assert!(cfg.contains("dataDir=/tmp/x/zk02/data\n"));
        assert!(cfg.contains("clientPortAddress=127.0.0.1\n"));
        assert_eq!(negotiated_timeout(&c), Duration::from_secs(2));
        let slow = Config::parse("[zookeeper]\ntickTime = 2000\n", Path::new("c.toml")).unwrap();
        assert_eq!(negotiated_timeout(&slow), Duration::from_secs(4));
    }
}
