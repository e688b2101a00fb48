//! `mqsim up` and `mqsim down`.

use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Style};

use super::{runtime, show};
use crate::config::Config;
use crate::control::{self, Request, Response};
use crate::error::{Error, Result};
use crate::status::{ClusterStatus, Role, ZkMode};

const OK: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();

/// A kind-style checklist line: `• doing...` then `✓ done (1.2 s)`.
struct Step {
    started: Instant,
}

impl Step {
    fn begin(what: &str) -> Step {
        if std::io::stdout().is_terminal() {
            anstream::print!(" {DIM}•{DIM:#} {what} ...\r");
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        Step { started: Instant::now() }
    }

    fn done(self, what: &str) {
        anstream::println!(" {OK}✓{OK:#} {what} {DIM}({:.1} s){DIM:#}\x1b[K", self.started.elapsed().as_secs_f64());
    }

    fn fail(self, what: &str) {
        anstream::println!(" {BAD}✗{BAD:#} {what}\x1b[K");
    }
}

pub fn up(config: Config, foreground: bool, no_wait: bool) -> Result<()> {
    let rt = runtime(false);
    rt.block_on(async move {
        let state_dir = config.state_dir();
        let here = crate::hosts::Here::of(&config);
        here.check_up(&config)?;
        let sup_dir = here.supervisor_dir(&config);
        if let Ok(st) = control::status(&sup_dir).await {
            anstream::println!("A cluster is already running from {} (supervisor pid {}).", sup_dir.display(), st.supervisor_pid);
            show::print_status(&st);
            return Ok(());
        }
        let started = Instant::now();
        anstream::println!("Starting cluster `{}` from {}", config.cluster.broker_name, config.source.display());
        if here.partial {
            let names: Vec<&str> = here.local.iter().map(String::as_str).collect();
            anstream::println!(
                "This host ({}) runs {}; the other members run on their own hosts (`mqsim config hosts` lists them).",
                here.label,
                names.join(", ")
            );
        }
        for w in config.warnings() {
            anstream::eprintln!("{BAD}warning:{BAD:#} {w}");
        }
        let step = Step::begin("Checking prerequisites");
        let check = (|| {
            if config.zookeeper.connect.is_none() {
                crate::zookeeper::Install::find(&config)?;
            }
            if here.partial { check_local_ports(&config) } else { crate::preflight::check_ports(&config) }
        })();
        if let Err(e) = check {
            step.fail("Checking prerequisites");
            return Err(e);
        }
        step.done(&format!(
            "Prerequisites: config valid, {} ports free{}",
            if here.partial { local_ports(&config).len() } else { config.ports().len() },
            if config.zookeeper.connect.is_none() { ", ZooKeeper and Java found" } else { "" }
        ));
        std::fs::create_dir_all(&sup_dir).map_err(Error::io(format!("creating {}", sup_dir.display())))?;
        if !here.partial {
            replication_token(&config, &state_dir)?;
        }

        let mut supervisor = if foreground {
            Some(tokio::spawn(crate::supervisor::run(config.clone())))
        } else {
            spawn_daemon(&config, &sup_dir)?;
            None
        };
        // In the foreground, Ctrl-C during start-up ends the supervisor: stop waiting then.
        let result = match &mut supervisor {
            Some(handle) => tokio::select! {
                r = wait_until_up(&config, no_wait) => r,
                sup = handle => {
                    anstream::println!("\nStopped before the cluster was up.");
                    return sup.map_err(|e| Error::Other(format!("supervisor task failed: {e}")))?;
                }
            },
            None => wait_until_up(&config, no_wait).await,
        };
        match &result {
            Err(_) => {
                let _ = control::request(&sup_dir, &Request::Down).await;
            }
            Ok(st) => {
                anstream::println!();
                show::print_status(st);
                anstream::println!(
                    "\nReady in {:.1} s. Failover URL (OpenWire, as in the notes):\n  {}",
                    started.elapsed().as_secs_f64(),
                    config.failover_url()
                );
                anstream::println!(
                    "Dashboard: {} (user {}; every node's console is on its console port, /admin/)",
                    config.dashboard_url(),
                    config.console.user
                );
                anstream::println!(
                    "{DIM}Next: `mqsim kill master`, then `mqsim events` to watch the failover; `mqsim down` stops everything.{DIM:#}"
                );
            }
        }
        if let Some(handle) = supervisor {
            if result.is_ok() {
                anstream::println!("Running in the foreground; press Ctrl-C to stop the cluster.");
            }
            let sup = handle.await.map_err(|e| Error::Other(format!("supervisor task failed: {e}")))?;
            sup?;
        }
        result.map(|_| ())
    })
}

/// An empty `securityToken` means the token file of this state directory: generated the
/// first time (mode 0600), reused after. Says which, and warns loudly about the opt-out.
fn replication_token(config: &Config, state_dir: &Path) -> Result<()> {
    use crate::replication::auth;
    let c = &config.cluster;
    if c.insecure_replication {
        anstream::println!(
            " {BAD}!{BAD:#} insecureReplication = true: replication logins are NOT authenticated; any process that \
             reaches the master's replication port can read every message and count as a slave"
        );
    } else if c.security_token.is_empty() {
        let path = auth::token_path(state_dir);
        if auth::ensure_token_file(state_dir)? {
            anstream::println!(
                " {OK}✓{OK:#} Generated a replication securityToken in {} (mode 0600; set `securityToken` in \
                 cluster.toml to choose one)",
                path.display()
            );
        } else {
            anstream::println!(" {OK}✓{OK:#} Replication securityToken: {} (generated earlier)", path.display());
        }
    }
    Ok(())
}

/// Starts `mqsim supervise` detached (own process group, output to supervisor.log).
fn spawn_daemon(config: &Config, state_dir: &Path) -> Result<()> {
    let log = state_dir.join(crate::state_dir::SUPERVISOR_LOG);
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(Error::io(format!("opening {}", log.display())))?;
    let err = out.try_clone().map_err(Error::io("dup"))?;
    let exe = std::env::current_exe().map_err(Error::io("finding the mqsim executable"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--config").arg(&config.source);
    if let Some(members) = crate::hosts::selected() {
        cmd.arg("--members").arg(members.join(","));
    }
    let child = cmd
        .arg("supervise")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(Error::io("starting the supervisor"))?;
    // The daemon outlives us; init reaps it.
    std::mem::forget(child);
    Ok(())
}

/// Polls the supervisor until ZooKeeper serves, every broker registered and a master accepts
/// connections, printing each step. Bounded by `cluster.upTimeout`.
async fn wait_until_up(config: &Config, no_wait: bool) -> Result<ClusterStatus> {
    let state_dir = crate::hosts::supervisor_dir(config);
    let deadline = Instant::now() + config.cluster.up_timeout;
    let sup_log = state_dir.join(crate::state_dir::SUPERVISOR_LOG);
    let poll = Duration::from_millis(50);

    let step = Step::begin("Starting the supervisor");
    let mut st = loop {
        match control::status(&state_dir).await {
            Ok(st) => break st,
            Err(_) if Instant::now() < deadline.min(Instant::now() + Duration::from_secs(10)) => {
                tokio::time::sleep(poll).await
            }
            Err(e) => {
                step.fail("Starting the supervisor");
                return Err(Error::Timeout(format!("the supervisor did not start ({e}); read {}", sup_log.display())));
            }
        }
    };
    step.done(&format!("Supervisor running (pid {})", st.supervisor_pid));

    let managed = config.zookeeper.connect.is_none();
    let names: Vec<&str> = st.zookeeper.iter().map(|z| z.name.as_str()).collect();
    let what = if managed {
        format!("Starting ZooKeeper {}", names.join(", "))
    } else {
        "Checking the external ZooKeeper".into()
    };
    let step = Step::begin(&what);
    let serving = async |s: &ClusterStatus| {
        if !managed || s.zookeeper.iter().all(|z| z.mode.is_some()) { Ok(s.clone()) } else { Err(s.clone()) }
    };
    let left = || deadline.saturating_duration_since(Instant::now());
    st = match control::poll_status(&state_dir, left(), poll, serving).await? {
        Ok(st) => st,
        Err(st) => {
            step.fail(&what);
            let down: Vec<String> = st
                .zookeeper
                .iter()
                .filter(|z| z.mode.is_none())
                .map(|z| format!("{} (read {})", z.name, z.log))
                .collect();
            let hint = if crate::hosts::Here::of(config).partial {
                "; a server serves once a majority of the ensemble is up: run `mqsim up` on the other hosts too, \
                 and check that they reach each other's client, quorum and election ports (`mqsim config hosts` \
                 lists what to open)"
            } else {
                ""
            };
            return Err(Error::Timeout(format!("ZooKeeper did not serve in time: {}{hint}", down.join(", "))));
        }
    };
    let modes: Vec<String> =
        st.zookeeper.iter().map(|z| format!("{} {}", z.name, z.mode.as_ref().map_or("?", ZkMode::as_str))).collect();
    step.done(&format!("ZooKeeper serving: {}", modes.join(", ")));
    if no_wait {
        return Ok(st);
    }

    let step = Step::begin("Starting brokers and electing a master");
    let elected = async |s: &ClusterStatus| s.master_node().cloned().ok_or_else(|| s.clone());
    let master = match control::poll_status(&state_dir, left(), poll, elected).await? {
        Ok(master) => master,
        Err(st) => {
            step.fail("Electing a master");
            let lines: Vec<String> = st
                .nodes
                .iter()
                .map(|n| {
                    format!("{} is {} (read {})", n.name, n.role.as_ref().map_or(n.state.as_str(), Role::as_str), n.log)
                })
                .collect();
            return Err(Error::Timeout(format!(
                "no master within {:?}: {}",
                config.cluster.up_timeout,
                lines.join("; ")
            )));
        }
    };
    step.done(&format!("Master elected: {} ({})", master.name, master.znode.as_deref().unwrap_or("?")));

    let step = Step::begin("Waiting for the master to accept connections");
    let node = config.node(&master.name).expect("master is a configured node");
    loop {
        let addr = std::net::SocketAddr::new(node.listen, master.ports.openwire);
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        if Instant::now() > deadline {
            step.fail("Master accepting connections");
            return Err(Error::Timeout(format!(
                "{} is master but port {addr} refuses; read {}",
                master.name, master.log
            )));
        }
        tokio::time::sleep(poll).await;
    }
    step.done(&format!(
        "{} accepts connections on openwire {} and stomp {}",
        master.name, master.ports.openwire, master.ports.stomp
    ));

    // Let the slaves notice the decision too (a few ms), so the table shows settled roles.
    let settle = Instant::now() + Duration::from_secs(5);
    loop {
        let st = control::status(&state_dir).await?;
        let settled = st.nodes.iter().all(|n| matches!(n.role, Some(Role::Master | Role::Slave) | None));
        if settled || Instant::now() > settle {
            return Ok(st);
        }
        tokio::time::sleep(poll).await;
    }
}

/// The ports of `config` on this machine's addresses (a multi-host layout's share).
fn local_ports(config: &Config) -> Vec<crate::config::PortUse> {
    config.ports().into_iter().filter(|p| crate::hosts::is_local_addr(p.addr)).collect()
}

/// [`crate::preflight::check_ports`] for this host's share of a multi-host layout.
fn check_local_ports(config: &Config) -> Result<()> {
    crate::preflight::check_these(config, local_ports(config))
}

/// `down --all`: asks every other host's supervisor (over its control endpoint) to stop its
/// members; the reply lines, or why a host could not be reached.
pub async fn down_others(config: &Config) -> Result<()> {
    let here = crate::hosts::Here::of(config);
    if !here.partial {
        return Ok(());
    }
    let Some(secret) = crate::hosts::remote::secret(config) else {
        return Err(Error::InvalidInput(
            "`down --all` needs `securityToken` in cluster.toml (the other hosts' supervisors check it)".into(),
        ));
    };
    for h in here.others(config) {
        let at = std::net::SocketAddr::new(h, config.cluster.control_port);
        match crate::hosts::remote::request(at, &secret, &Request::Down, Duration::from_secs(60)).await {
            Ok(Response::Done { lines }) => lines.iter().for_each(|l| anstream::println!("{h}: {l}")),
            Ok(Response::Error { message }) => anstream::println!("{h}: {message}"),
            Ok(Response::Status(_)) => anstream::println!("{h}: unexpected reply"),
            Err(e) => anstream::println!("{h}: not reached ({e}); run `mqsim down` there"),
        }
    }
    Ok(())
}

pub async fn down(config: Config) -> Result<()> {
    let state_dir = crate::hosts::supervisor_dir(&config);
    let sup_pid = std::fs::read_to_string(state_dir.join(crate::state_dir::SUPERVISOR_PID))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match control::request(&state_dir, &Request::Down).await {
        Ok(Response::Done { lines }) => {
            for l in lines {
                anstream::println!("{l}");
            }
        }
        Ok(Response::Error { message }) => return Err(Error::Other(message)),
        Ok(Response::Status(_)) => return Err(Error::protocol("unexpected reply")),
        Err(Error::NotRunning(_)) => {
            let killed = reap_strays(&config);
            if killed == 0 {
                anstream::println!("No cluster is running for {}.", state_dir.display());
            } else {
                anstream::println!("No supervisor was running; killed {killed} leftover process(es).");
            }
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    if let Some(pid) = sup_pid {
        let deadline = Instant::now() + Duration::from_secs(15);
        while crate::supervisor::process::alive(pid) {
            if Instant::now() > deadline {
                return Err(Error::Timeout(format!("the supervisor (pid {pid}) did not exit within 15 s")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// Kills processes listed in `pids.json` that still run one of this cluster's commands
/// (a supervisor killed with -9 takes its children with it, so this is a safety net).
fn reap_strays(config: &Config) -> usize {
    use crate::supervisor::Pids;
    let Some(pids) = Pids::read(&crate::hosts::supervisor_dir(config)) else {
        return 0;
    };
    pids.children
        .values()
        .filter(|&&pid| Pids::runs_this_cluster(config, pid))
        .filter(|&&pid| crate::supervisor::process::signal(pid, nix::sys::signal::Signal::SIGKILL).is_ok())
        .count()
}
