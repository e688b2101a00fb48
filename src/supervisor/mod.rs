//! The supervisor: one process per cluster that owns every other process.
//!
//! It starts the ZooKeeper servers (zk01..zk03) first, waits until each answers `srvr`
//! with a mode, then spawns the brokers as `mqsim node` children (like the notes'
//! `zk_batch.sh` then `amq_batch.sh`). It records every PID in `pids.json`, serves CLI
//! requests on `supervisor.sock`, watches the election path to put znode deletions (and
//! their cause) on the event timeline, and on `down`, SIGTERM or SIGINT stops the brokers
//! (cleanly, so their znodes go at once), then ZooKeeper, then exits.
//!
//! In a multi-host layout (crate::hosts) it owns only this machine's members: its files go to
//! `<stateDir>/host-<address>/`, its status adds the other hosts' members as they answer
//! (report.rs), a verb on another host's member is forwarded to that host's supervisor, and
//! it serves the same requests to the other hosts on its control endpoint (hosts::remote).

mod monitor;
pub mod pids;
pub mod process;
mod report;

pub use pids::Pids;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::Config;
use crate::control::{Cut, Request, Response, Verb, socket_path};
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::events::EventLog;
use crate::faults::Faults;
use crate::hosts::Here;
use crate::node::NodeLayout;
use crate::status::{ClusterStatus, ProcState, Role, ZkMode};
use crate::zookeeper::{Install, ZkLayout, prepare, probe_mode_at};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A managed ZooKeeper server and its myid.
    Zk(usize),
    Node,
}

#[derive(Debug, Clone)]
struct Proc {
    kind: Kind,
    pid: Option<u32>,
    /// The last stop-like request (stop, kill) and when; explains the next exit.
    requested: Option<(Verb, Instant)>,
    log: PathBuf,
}

/// Shared between the control handlers, the exit watchers and the monitor.
pub(crate) struct Shared {
    config: Config,
    /// This executable, resolved at start (a rebuild while running replaces the file).
    exe: PathBuf,
    install: Option<Install>,
    events: EventLog,
    procs: Mutex<BTreeMap<String, Proc>>,
    shutdown: watch::Sender<bool>,
    /// The dashboard, whose demo load the teardown stops first.
    dashboard: std::sync::OnceLock<crate::dashboard::Dashboard>,
    /// Which members this supervisor owns (all of them on one machine; crate::hosts).
    here: Here,
    /// Where its socket, pids.json and supervisor.pid live.
    sup_dir: PathBuf,
    /// The other hosts' control endpoints' secret (multi-host with `securityToken`).
    remote: Option<crate::replication::auth::Secret>,
}

/// Runs a supervisor until `down` or a signal.
pub async fn run(config: Config) -> Result<()> {
    let state_dir = config.state_dir();
    let here = Here::of(&config);
    here.check_up(&config)?;
    let sup_dir = here.supervisor_dir(&config);
    std::fs::create_dir_all(&sup_dir).map_err(Error::io(format!("creating {}", sup_dir.display())))?;
    let sock = socket_path(&sup_dir);
    if UnixStream::connect(&sock).await.is_ok() {
        return Err(Error::InvalidInput(format!("a supervisor is already running for {}", state_dir.display())));
    }
    let _ = std::fs::remove_file(&sock);
    // The nodes read the generated replication token; `mqsim up` normally made it already.
    if config.cluster.security_token.is_empty() && !config.cluster.insecure_replication && !here.partial {
        crate::replication::auth::ensure_token_file(&state_dir)?;
    }
    let listener = crate::control::bind(&sock).map_err(Error::io(format!("binding {}", sock.display())))?;
    let install = if config.zookeeper.connect.is_none() { Some(Install::find(&config)?) } else { None };
    let events = EventLog::new(&state_dir, "supervisor");
    let (shutdown, mut shutdown_rx) = watch::channel(false);
    let mut procs = BTreeMap::new();
    if config.zookeeper.connect.is_none() {
        for (i, s) in config.zookeeper.servers.iter().enumerate().filter(|(_, s)| here.owns(&s.name)) {
            let log = ZkLayout::new(&state_dir, &s.name).log_file;
            procs.insert(s.name.clone(), Proc { kind: Kind::Zk(i + 1), pid: None, requested: None, log });
        }
    }
    for n in config.nodes.iter().filter(|n| here.owns(&n.name)) {
        let log = NodeLayout::new(&config, &n.name).log_file;
        procs.insert(n.name.clone(), Proc { kind: Kind::Node, pid: None, requested: None, log });
    }
    let exe = std::env::current_exe().map_err(Error::io("finding the mqsim executable"))?;
    let exe = PathBuf::from(exe.to_string_lossy().trim_end_matches(" (deleted)"));
    let remote = if here.partial { crate::hosts::remote::secret(&config) } else { None };
    let endpoint = match (here.addr, &remote) {
        (Some(addr), Some(_)) => {
            let at = std::net::SocketAddr::new(addr, config.cluster.control_port);
            Some(tokio::net::TcpListener::bind(at).await.map_err(Error::io(format!(
                "serving the control endpoint on {at} (cluster.controlPort; the other hosts connect to it)"
            )))?)
        }
        _ => None,
    };
    let sup = Arc::new(Shared {
        config,
        exe,
        install,
        events,
        procs: Mutex::new(procs),
        shutdown,
        dashboard: Default::default(),
        here,
        sup_dir: sup_dir.clone(),
        remote,
    });
    std::fs::write(sup_dir.join(crate::state_dir::SUPERVISOR_PID), format!("{}\n", std::process::id()))
        .map_err(Error::io("writing supervisor.pid"))?;
    sup.events
        .emit(EventKind::Up, format!("supervisor started (pid {}) in {}", std::process::id(), state_dir.display()));

    tokio::spawn(control_loop(listener, sup.clone()));
    if let (Some(listener), Some(secret)) = (endpoint, sup.remote.clone()) {
        let at = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        sup.events.emit(EventKind::Up, format!("control endpoint for the other hosts at {at} (securityToken proofs)"));
        let s = sup.clone();
        let handle = move |req: Request| -> futures::future::BoxFuture<'static, Response> {
            let s = s.clone();
            Box::pin(async move {
                let (reply, exit) = s.handle(req).await;
                if exit {
                    let s = s.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        let _ = s.shutdown.send(true);
                    });
                }
                reply
            })
        };
        tokio::spawn(crate::hosts::remote::serve(listener, secret, sup.here.label.clone(), handle));
    }
    // The cluster dashboard (crate::dashboard): the CLI's status and actions, in a browser.
    let control: Arc<dyn crate::dashboard::Control> = sup.clone();
    let dashboard = crate::dashboard::Dashboard::new(sup.config.clone(), control);
    let _ = sup.dashboard.set(dashboard.clone());
    match crate::dashboard::Dashboard::bind(&sup.config).await {
        Ok(l) => {
            tokio::spawn(dashboard.clone().serve(l));
            sup.events.emit(EventKind::Dashboard, format!("dashboard at {}", sup.config.dashboard_url()));
        }
        Err(e) => sup.events.emit(EventKind::Error, format!("no dashboard: {e}")),
    }
    let boot = tokio::spawn(boot(sup.clone()));

    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(Error::io("SIGTERM handler"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::io("SIGINT handler"))?;
    let mut hup = signal(SignalKind::hangup()).map_err(Error::io("SIGHUP handler"))?;
    let why = tokio::select! {
        _ = term.recv() => Some("SIGTERM"),
        _ = int.recv() => Some("SIGINT (Ctrl-C)"),
        _ = hup.recv() => Some("SIGHUP"),
        _ = shutdown_rx.changed() => None,
    };
    if let Some(why) = why {
        sup.teardown(why).await;
    }
    boot.abort();
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(sup_dir.join(crate::state_dir::SUPERVISOR_PID));
    sup.events.emit(EventKind::Down, "supervisor exited; no process left");
    Ok(())
}

/// A target that names one node (so "not partitioned" is worth saying).
fn names_len_one(target: &str) -> bool {
    !matches!(target, "all" | "nodes" | "brokers" | "slaves")
}

/// ZooKeeper first, then (once it serves) the brokers.
async fn boot(sup: Arc<Shared>) {
    let zk_names: Vec<String> = sup.names(|k| matches!(k, Kind::Zk(_)));
    for name in &zk_names {
        if let Err(e) = sup.start(name) {
            sup.events.emit(EventKind::Error, format!("cannot start {name}: {e}"));
        }
    }
    if !zk_names.is_empty() {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut serving = 0;
            for s in &sup.config.zookeeper.servers {
                if probe_mode_at(s.host, *s.client_port.get_ref()).await.is_some() {
                    serving += 1;
                }
            }
            let want = if sup.here.partial { sup.config.zookeeper.servers.len() / 2 + 1 } else { zk_names.len() };
            if serving >= want {
                sup.events.emit(EventKind::ZkServing, format!("ZooKeeper ensemble serving ({serving} servers)"));
                break;
            }
            if Instant::now() > deadline {
                sup.events
                    .emit(EventKind::Error, "ZooKeeper ensemble did not serve within 60 s; starting brokers anyway");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::spawn(monitor::run(sup.clone()));
    for name in sup.names(|k| k == Kind::Node) {
        if let Err(e) = sup.start(&name) {
            sup.events.emit(EventKind::Error, format!("cannot start {name}: {e}"));
        }
    }
}

/// Serves the control socket (`crate::control`: owner-only, bounded request line).
async fn control_loop(listener: UnixListener, sup: Arc<Shared>) {
    let mut backoff = crate::transport::AcceptBackoff::new("control socket");
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        backoff.accepted();
        if !crate::control::same_user(&stream) {
            tracing::warn!("control socket: refused a client running as another user");
            continue;
        }
        let sup = sup.clone();
        tokio::spawn(async move {
            let (mut r, mut w) = stream.into_split();
            let request = crate::control::read_request(&mut r).await;
            let refused = request.is_err();
            let (reply, exit) = match request {
                Ok(req) => sup.handle(req).await,
                Err(message) => (Response::Error { message }, false),
            };
            let mut out = serde_json::to_vec(&reply).expect("serializes");
            out.push(b'\n');
            let _ = w.write_all(&out).await;
            if refused {
                crate::control::linger(&mut r, &mut w).await;
            }
            if exit {
                let _ = sup.shutdown.send(true);
            }
        });
    }
}

impl Shared {
    /// One control request (from the socket, or another host's supervisor); true: exit after replying.
    async fn handle(self: &Arc<Self>, request: Request) -> (Response, bool) {
        let sup = self;
        match request {
            Request::Status => (Response::Status(Box::new(sup.status().await)), false),
            Request::Act { verb, target } => match sup.act(verb, &target).await {
                Ok(lines) => (Response::Done { lines }, false),
                Err(e) => (Response::Error { message: e.to_string() }, false),
            },
            Request::Partition { target, from } => match sup.partition(&target, Some(from)).await {
                Ok(lines) => (Response::Done { lines }, false),
                Err(e) => (Response::Error { message: e.to_string() }, false),
            },
            Request::Heal { target } => match sup.partition(&target, None).await {
                Ok(lines) => (Response::Done { lines }, false),
                Err(e) => (Response::Error { message: e.to_string() }, false),
            },
            Request::Down => {
                sup.teardown("mqsim down").await;
                let what = if sup.here.partial { "this host's members stopped" } else { "cluster stopped" };
                (Response::Done { lines: vec![format!("{what}; no process left")] }, true)
            }
        }
    }

    fn names(&self, f: impl Fn(Kind) -> bool) -> Vec<String> {
        self.procs.lock().unwrap().iter().filter(|(_, p)| f(p.kind)).map(|(n, _)| n.clone()).collect()
    }

    fn save_pids(&self) {
        let procs = self.procs.lock().unwrap();
        let children = procs.iter().filter_map(|(n, p)| Some((n.clone(), p.pid?))).collect();
        let _ = Pids { supervisor: std::process::id(), children }.write(&self.sup_dir);
    }

    /// Spawns one process (no-op if it runs).
    fn start(self: &Arc<Self>, name: &str) -> Result<u32> {
        let (kind, log) = {
            let procs = self.procs.lock().unwrap();
            let p = procs.get(name).ok_or_else(|| Error::Target(format!("no process named {name}")))?;
            if let Some(pid) = p.pid {
                return Err(Error::Target(format!("{name} is already running (pid {pid})")));
            }
            (p.kind, p.log.clone())
        };
        let state_dir = self.config.state_dir();
        let cmd = match kind {
            Kind::Zk(myid) => {
                let server = &self.config.zookeeper.servers[myid - 1];
                let layout = ZkLayout::new(&state_dir, &server.name);
                prepare(&self.config, myid, &layout)?;
                self.install.as_ref().expect("managed ZooKeeper has an install").command(&self.config, server, &layout)
            }
            Kind::Node => {
                let mut cmd = std::process::Command::new(&self.exe);
                cmd.arg("--config").arg(&self.config.source).args(["node", "--name", name]);
                cmd
            }
        };
        let mut child = process::spawn(cmd, &log)?;
        let pid = child.id().unwrap_or(0);
        {
            let mut procs = self.procs.lock().unwrap();
            let p = procs.get_mut(name).expect("checked above");
            p.pid = Some(pid);
            p.requested = None;
        }
        self.save_pids();
        self.events.emit_about(EventKind::Started, name, format!("{name} started (pid {pid})"));
        let (sup, name) = (self.clone(), name.to_string());
        tokio::spawn(async move {
            let status = child.wait().await;
            sup.exited(&name, pid, status);
        });
        Ok(pid)
    }

    fn exited(&self, name: &str, pid: u32, status: std::io::Result<std::process::ExitStatus>) {
        let (requested, log) = {
            let mut procs = self.procs.lock().unwrap();
            let Some(p) = procs.get_mut(name) else { return };
            if p.pid == Some(pid) {
                p.pid = None;
            }
            (p.requested.map(|(v, _)| v), p.log.clone())
        };
        self.save_pids();
        let how = match &status {
            Ok(s) => s.to_string(),
            Err(e) => format!("unknown status ({e})"),
        };
        match requested {
            Some(_) => self.events.emit_about(EventKind::Exited, name, format!("{name} (pid {pid}) exited: {how}")),
            None => self.events.emit_about(
                EventKind::Crashed,
                name,
                format!("{name} (pid {pid}) exited unexpectedly: {how}; see {}", log.display()),
            ),
        }
    }

    fn pid(&self, name: &str) -> Option<u32> {
        self.procs.lock().unwrap().get(name).and_then(|p| p.pid)
    }

    /// Sends `sig` and, for stop, waits (10 s, then SIGKILL) until the process is gone.
    async fn signal(&self, name: &str, verb: Verb) -> Result<String> {
        let pid = self.pid(name).ok_or_else(|| Error::Target(format!("{name} is not running")))?;
        let sig = match verb {
            Verb::Stop | Verb::Restart => Signal::SIGTERM,
            Verb::Kill => Signal::SIGKILL,
            Verb::Pause => Signal::SIGSTOP,
            Verb::Resume => Signal::SIGCONT,
            Verb::Start => unreachable!("start is not a signal"),
        };
        if matches!(verb, Verb::Stop | Verb::Kill | Verb::Restart)
            && let Some(p) = self.procs.lock().unwrap().get_mut(name)
        {
            p.requested = Some((verb, Instant::now()));
        }
        if matches!(verb, Verb::Stop | Verb::Restart) && process::paused(pid) {
            process::signal(pid, Signal::SIGCONT)?;
        }
        process::signal(pid, sig)?;
        let what = match verb {
            Verb::Kill => "killed (SIGKILL)",
            Verb::Pause => "paused (SIGSTOP)",
            Verb::Resume => "resumed (SIGCONT)",
            _ => "stopping (SIGTERM)",
        };
        let kind = match verb {
            Verb::Kill => EventKind::Killed,
            Verb::Pause => EventKind::Paused,
            Verb::Resume => EventKind::Resumed,
            _ => EventKind::Stopping,
        };
        self.events.emit_about(kind, name, format!("{name} (pid {pid}) {what}"));
        if matches!(verb, Verb::Stop | Verb::Restart | Verb::Kill) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.pid(name) == Some(pid) && process::alive(pid) {
                if Instant::now() > deadline {
                    warn!("{name} did not stop within 10 s; sending SIGKILL");
                    process::signal(pid, Signal::SIGKILL)?;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Let the exit watcher record the exit.
            let until = Instant::now() + Duration::from_secs(2);
            while self.pid(name) == Some(pid) && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(format!("{name}: {what}"))
    }

    async fn act(self: &Arc<Self>, verb: Verb, target: &str) -> Result<Vec<String>> {
        let names = self.resolve(target).await?;
        let mut lines = Vec::new();
        for name in names {
            if !self.here.owns(&name) {
                let word = serde_json::to_value(verb).ok().and_then(|v| v.as_str().map(str::to_string));
                let word = word.unwrap_or_default();
                lines.extend(self.forward(&name, Request::Act { verb, target: name.clone() }, &word).await?);
                continue;
            }
            let line = match verb {
                Verb::Start => match self.start(&name) {
                    Ok(pid) => format!("{name}: started (pid {pid})"),
                    Err(Error::Target(m)) => m,
                    Err(e) => return Err(e),
                },
                Verb::Restart => {
                    if self.pid(&name).is_some() {
                        self.signal(&name, Verb::Restart).await?;
                    }
                    let pid = self.start(&name)?;
                    format!("{name}: restarted (pid {pid})")
                }
                v => self.signal(&name, v).await?,
            };
            lines.push(line);
        }
        self.note_groups(target, &mut lines);
        Ok(lines)
    }

    /// Multi-host: a group (`all`, `nodes`, `zk`) means this host's members; says so.
    fn note_groups(&self, target: &str, lines: &mut Vec<String>) {
        if self.here.partial && matches!(target, "all" | "nodes" | "brokers" | "zk" | "zookeeper") {
            lines.push(format!(
                "({target}: this host's members only; the other hosts' supervisors own the rest: run it there)"
            ));
        }
    }

    /// Cuts (or with `None` heals) brokers: writes each node's faults file, which the node
    /// polls (see crate::faults).
    async fn partition(&self, target: &str, cut: Option<Cut>) -> Result<Vec<String>> {
        let names = self.resolve(target).await?;
        let mut lines = Vec::new();
        for name in names {
            if self.config.node(&name).is_some() && !self.here.owns(&name) {
                let (req, word) = match cut {
                    Some(from) => (Request::Partition { target: name.clone(), from }, "partition"),
                    None => (Request::Heal { target: name.clone() }, "heal"),
                };
                lines.extend(self.forward(&name, req, word).await?);
                continue;
            }
            if self.config.node(&name).is_none() {
                if target == "all" {
                    continue;
                }
                return Err(Error::Target(format!("{name} is a ZooKeeper server; partition cuts brokers (node01..)")));
            }
            let dir = NodeLayout::new(&self.config, &name).dir;
            let mut f = Faults::read(&dir);
            if cut.is_none() && f == Faults::default() {
                if names_len_one(target) {
                    lines.push(format!("{name}: not partitioned"));
                }
                continue;
            }
            match cut {
                Some(Cut::Zk) => f.zk = true,
                Some(Cut::Peers) => f.peers = true,
                Some(Cut::All) => (f.zk, f.peers) = (true, true),
                None => f = Faults::default(),
            }
            std::fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
            f.write(&dir).map_err(Error::io(format!("writing the faults file of {name}")))?;
            // The node polls its faults file every 100 ms: reply once it has applied the cut,
            // so what the caller does next already happens behind it.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let line = match (cut, f.describe()) {
                (Some(_), Some(what)) => {
                    self.events.emit_about(
                        EventKind::Partitioned,
                        &name,
                        format!("{name} cut from {}", what.replace('+', " and ")),
                    );
                    format!("{name}: partitioned from {}", what.replace('+', " and "))
                }
                _ => {
                    self.events.emit_about(
                        EventKind::Healed,
                        &name,
                        format!("{name} reconnected to ZooKeeper and its peers"),
                    );
                    format!("{name}: healed")
                }
            };
            lines.push(line);
        }
        self.note_groups(target, &mut lines);
        Ok(lines)
    }

    /// `node02`, `zk01`, `master`, `slave`, `slaves`, `elector`, `next-elector`, `zk-leader`, `nodes`, `zk`, `all`.
    async fn resolve(&self, target: &str) -> Result<Vec<String>> {
        let all_nodes = self.names(|k| k == Kind::Node);
        let all_zk = self.names(|k| matches!(k, Kind::Zk(_)));
        let names = match target {
            "all" => [all_zk.clone(), all_nodes.clone()].concat(),
            "nodes" | "brokers" => all_nodes,
            "zk" | "zookeeper" => all_zk,
            "master" | "slaves" => {
                let st = self.status().await;
                let want = if target == "master" { Role::Master } else { Role::Slave };
                let v: Vec<String> = st
                    .nodes
                    .iter()
                    .filter(|n| n.role.as_ref() == Some(&want) && n.state.alive())
                    .map(|n| n.name.clone())
                    .collect();
                if v.is_empty() {
                    return Err(Error::Target(format!("no running node is {want} right now (see `mqsim status`)")));
                }
                v
            }
            // The oldest member decides (crate::election); the next oldest takes over when it goes.
            // `slave`: one slave, the youngest (its loss changes nothing, not even the next elector).
            "slave" => {
                let st = self.status().await;
                let mut slaves: Vec<(&str, &str)> = st
                    .nodes
                    .iter()
                    .filter(|n| n.role == Some(Role::Slave) && n.state.alive())
                    .filter_map(|n| Some((n.znode.as_deref()?.rsplit('/').next()?, n.name.as_str())))
                    .collect();
                slaves.sort();
                match slaves.last() {
                    Some((_, name)) => vec![name.to_string()],
                    None => {
                        return Err(Error::Target("no running node is slave right now (see `mqsim status`)".into()));
                    }
                }
            }
            "elector" | "next-elector" => {
                let st = self.status().await;
                let mut members: Vec<(&str, &str)> = st
                    .nodes
                    .iter()
                    .filter(|n| n.state.alive())
                    .filter_map(|n| Some((n.znode.as_deref()?.rsplit('/').next()?, n.name.as_str())))
                    .collect();
                members.sort();
                let i = usize::from(target == "next-elector");
                match members.get(i) {
                    Some((_, name)) => vec![name.to_string()],
                    None => {
                        return Err(Error::Target(format!(
                            "no {target} right now: {} running node(s) registered in ZooKeeper",
                            members.len()
                        )));
                    }
                }
            }
            "zk-leader" => {
                let st = self.status().await;
                match st.zookeeper.iter().find(|z| z.mode == Some(ZkMode::Leader)) {
                    Some(z) if z.state != ProcState::External => vec![z.name.clone()],
                    _ => {
                        return Err(Error::Target("no managed ZooKeeper server is leader right now".into()));
                    }
                }
            }
            name => {
                let short = name.strip_prefix("mq_").unwrap_or(name);
                let elsewhere = crate::hosts::members(&self.config).iter().any(|(n, _)| n == short);
                if self.procs.lock().unwrap().contains_key(short) || elsewhere {
                    vec![short.to_string()]
                } else {
                    let known = [all_nodes, all_zk].concat().join(", ");
                    return Err(Error::Target(format!(
                        "unknown target `{name}`; use one of {known}, master, slave, slaves, elector, next-elector, zk-leader, nodes, zk, all"
                    )));
                }
            }
        };
        Ok(names)
    }

    /// Brokers first (cleanly, so znodes go at once), then ZooKeeper.
    async fn teardown(&self, why: &str) {
        self.events.emit(EventKind::Down, format!("stopping the cluster ({why})"));
        // The dashboard's demo load goes first: its clients would only fail over and retry.
        if let Some(d) = self.dashboard.get() {
            d.stop_load().await;
        }
        for kind_is_node in [true, false] {
            let names = self.names(|k| (k == Kind::Node) == kind_is_node);
            let stops = names.iter().filter(|n| self.pid(n).is_some()).map(|n| self.signal(n, Verb::Stop));
            for r in futures::future::join_all(stops).await {
                if let Err(e) = r {
                    warn!("{e}");
                }
            }
        }
        info!("all processes stopped");
    }

    /// Sends `req` about `name`, a member of another host, to that host's supervisor.
    async fn forward(&self, name: &str, req: Request, verb: &str) -> Result<Vec<String>> {
        let addr = crate::hosts::member_addr(&self.config, name)
            .ok_or_else(|| Error::Target(format!("no member named {name}")))?;
        let there = format!("run `mqsim {verb} {name}` on {addr} (the host that runs it)");
        let Some(secret) = &self.remote else {
            return Err(Error::Target(format!(
                "{name} runs on {addr}, not on this host, and without `securityToken` there is no control endpoint \
                 to reach its supervisor: {there}"
            )));
        };
        let at = std::net::SocketAddr::new(addr, self.config.cluster.control_port);
        match crate::hosts::remote::request(at, secret, &req, Duration::from_secs(60)).await {
            Ok(Response::Done { lines }) => Ok(lines.into_iter().map(|l| format!("{l} (on {addr})")).collect()),
            Ok(Response::Error { message }) => Err(Error::Target(format!("{addr}: {message}"))),
            Ok(Response::Status(_)) => Err(Error::protocol(format!("{addr}: unexpected reply"))),
            Err(e) => Err(Error::Target(format!(
                "{name} runs on {addr}, whose supervisor did not take the request ({e}); {there}, or check that \
                 it runs and that port {} is open between the hosts",
                self.config.cluster.control_port
            ))),
        }
    }
}

/// The dashboard's live view and buttons make the same calls as the CLI's requests.
impl crate::dashboard::Control for Shared {
    fn status(&self) -> futures::future::BoxFuture<'_, ClusterStatus> {
        Box::pin(Shared::status(self))
    }

    fn act(self: Arc<Self>, verb: Verb, target: String) -> futures::future::BoxFuture<'static, Result<Vec<String>>> {
        Box::pin(async move { Shared::act(&self, verb, &target).await })
    }

    fn partition(
        self: Arc<Self>,
        target: String,
        cut: Option<Cut>,
    ) -> futures::future::BoxFuture<'static, Result<Vec<String>>> {
        Box::pin(async move { Shared::partition(&self, &target, cut).await })
    }
}
