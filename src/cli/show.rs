//! Read-only commands: `status`, `events`, `logs`, `zk ls|get`.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use comfy_table::{Cell, Color, Table, presets};

use super::ZkOp;
use crate::config::Config;
use crate::election::zookeeper::connect;
use crate::error::{Error, Result};
use crate::events::{EventKind, clock, read_from};
use crate::node::NodeLayout;
use crate::status::{ClusterStatus, ProcState, Role, ZkMode};
use crate::zookeeper::ZkLayout;

pub async fn status(config: Config, json: bool, watch: Option<Duration>) -> Result<()> {
    use std::io::IsTerminal;
    let redraw = watch.is_some() && !json && std::io::stdout().is_terminal();
    loop {
        let st = crate::hosts::status(&config).await?;
        if redraw {
            print!("\x1b[H\x1b[2J"); // home, clear: the table stays in place
            println!(
                "{}  (every {}; Ctrl-C stops)\n",
                crate::events::clock(crate::events::now_ms()),
                humantime::format_duration(watch.unwrap_or_default())
            );
        } else if watch.is_some() && !json {
            println!("--- {}", crate::events::clock(crate::events::now_ms()));
        }
        if json {
            // One line per refresh when watching, so the stream can be read line by line.
            let text = if watch.is_some() { serde_json::to_string(&st)? } else { serde_json::to_string_pretty(&st)? };
            println!("{text}");
        } else {
            print_status(&st);
        }
        match watch {
            Some(every) => tokio::time::sleep(every.max(Duration::from_millis(100))).await,
            None => return Ok(()),
        }
    }
}

fn state_colour(state: &ProcState) -> Color {
    match state {
        ProcState::Running => Color::Green,
        ProcState::Paused => Color::Magenta,
        ProcState::Stopped => Color::Grey,
        _ => Color::Red,
    }
}

fn role_colour(role: Option<&Role>) -> Color {
    match role {
        Some(Role::Master) => Color::Green,
        Some(Role::Slave) => Color::Cyan,
        Some(Role::Electing | Role::Starting) => Color::Yellow,
        _ => Color::Red,
    }
}

fn mode_colour(mode: Option<&ZkMode>) -> Color {
    match mode {
        Some(ZkMode::Leader | ZkMode::Standalone) => Color::Green,
        Some(ZkMode::Follower) => Color::Cyan,
        _ => Color::Red,
    }
}

fn cell(word: impl ToString, colour: Color) -> Cell {
    Cell::new(word.to_string()).fg(colour)
}

/// A slave's phase, or a master's slaves (`2 slaves, 2 caught up`).
fn replication(n: &crate::status::NodeStatus) -> String {
    match n.role {
        Some(Role::Slave) => n.replication.as_ref().map_or_else(|| "-".into(), ToString::to_string),
        Some(Role::Master) => {
            let caught = n.slaves.iter().filter(|s| s.caught_up).count();
            let waiting = if n.serving { "" } else { ", not serving yet" };
            format!("{} slaves, {caught} caught up{waiting}", n.slaves.len())
        }
        _ => "-".into(),
    }
}

/// comfy-table colours a terminal only, but does not know NO_COLOR (no-color.org).
fn plain(table: &mut Table) -> &mut Table {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        table.force_no_tty();
    }
    table
}

/// The HOST column of a multi-host layout: the member's address, `(here)` if this host's
/// supervisor owns it; `None` on one machine (no column).
fn host_cell(host: &Option<String>, owned: Option<bool>) -> Option<Cell> {
    let h = host.as_deref()?;
    Some(if owned == Some(true) { Cell::new(format!("{h} (here)")).fg(Color::Green) } else { Cell::new(h) })
}

pub fn print_status(st: &ClusterStatus) {
    let multi = st.nodes.iter().any(|n| n.host.is_some()) || st.zookeeper.iter().any(|z| z.host.is_some());
    let mut zk = Table::new();
    let mut header = vec!["ZOOKEEPER", "STATE", "MODE", "PID", "CLIENT PORT"];
    if multi {
        header.push("HOST");
    }
    plain(&mut zk).load_preset(presets::NOTHING).set_header(header);
    for z in &st.zookeeper {
        let mode = match &z.mode {
            Some(m) => m.as_str(),
            None if z.state == ProcState::Running => "not serving",
            None => "-",
        };
        let mut row = vec![
            Cell::new(&z.name),
            cell(&z.state, state_colour(&z.state)),
            cell(mode, mode_colour(z.mode.as_ref())),
            Cell::new(z.pid.map_or("-".into(), |p| p.to_string())),
            Cell::new(z.client_port),
        ];
        row.extend(host_cell(&z.host, z.owned).filter(|_| multi));
        zk.add_row(row);
    }
    println!("{zk}");
    println!();
    let mut nodes = Table::new();
    let mut header = vec![
        "BROKER",
        "STATE",
        "ROLE",
        "PID",
        "OPENWIRE",
        "STOMP",
        "CONSOLE",
        "REPL",
        "POSITION",
        "REPLICATION",
        "ZNODE",
    ];
    if multi {
        header.push("HOST");
    }
    plain(&mut nodes).load_preset(presets::NOTHING).set_header(header);
    for n in &st.nodes {
        let role = n.role.as_ref().map_or("-", Role::as_str);
        let znode = n.znode.as_deref().map_or("-".to_string(), |z| z.rsplit('/').next().unwrap_or(z).to_string());
        let mut row = vec![
            Cell::new(&n.name),
            match &n.partitioned {
                Some(cut) => Cell::new(format!("{}, cut from {cut}", n.state)).fg(Color::Magenta),
                None => cell(&n.state, state_colour(&n.state)),
            },
            cell(role, role_colour(n.role.as_ref())),
            Cell::new(n.pid.map_or("-".into(), |p| p.to_string())),
            Cell::new(n.ports.openwire),
            Cell::new(n.ports.stomp),
            Cell::new(n.ports.console),
            Cell::new(n.ports.replication),
            Cell::new(n.position.map_or("-".into(), |p| p.to_string())),
            Cell::new(replication(n)),
            Cell::new(znode),
        ];
        row.extend(host_cell(&n.host, n.owned).filter(|_| multi));
        nodes.add_row(row);
    }
    println!("{nodes}");
    println!();
    let bold = Style::new().bold();
    match &st.master {
        Some(m) => {
            anstream::println!("master: {bold}{m}{bold:#}   brokerName: {}   zkPath: {}", st.broker_name, st.zk_path)
        }
        None => {
            let red = AnsiColor::Red.on_default().bold();
            anstream::println!(
                "master: {red}none{red:#} (no node serves clients)   brokerName: {}   zkPath: {}",
                st.broker_name,
                st.zk_path
            )
        }
    }
    // What each store takes on disk against its live data (issue 12).
    let stores: Vec<String> = st
        .nodes
        .iter()
        .map(|n| match &n.store {
            Some(u) => format!("{} {}", n.name, u.describe()),
            None => format!("{} -", n.name),
        })
        .collect();
    println!("stores: {}", stores.join("; "));
}

pub async fn events(config: Config, follow: bool, json: bool) -> Result<()> {
    let path = crate::state_dir::StateDir::of(&config).events();
    if !path.exists() {
        let missing = format!(
            "no timeline yet: {} does not exist (the cluster of {} has not been started; `mqsim up` starts it)",
            path.display(),
            config.source.display()
        );
        if !follow {
            return Err(Error::Target(missing));
        }
        eprintln!("{missing}; waiting for it ...");
    }
    let mut offset = 0;
    loop {
        let (events, next) = read_from(&path, offset)?;
        offset = next;
        for e in events {
            if json {
                println!("{}", serde_json::to_string(&e)?);
            } else {
                let k = match e.kind {
                    EventKind::Killed
                    | EventKind::Crashed
                    | EventKind::ZnodeDeleted
                    | EventKind::SessionExpired
                    | EventKind::Demoted
                    | EventKind::Error => AnsiColor::Red.on_default(),
                    EventKind::Promoted | EventKind::Elected | EventKind::Election => {
                        AnsiColor::Green.on_default().bold()
                    }
                    EventKind::Slave | EventKind::Registered => AnsiColor::Cyan.on_default(),
                    _ => Style::new(),
                };
                anstream::println!("{}  {:<10} {k}{:<15}{k:#} {}", clock(e.ts), e.source, e.kind, e.message);
            }
        }
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn log_path(config: &Config, target: &str) -> Result<PathBuf> {
    let state_dir = config.state_dir();
    let name = target.strip_prefix("mq_").unwrap_or(target);
    if name == "supervisor" {
        return Ok(state_dir.join(crate::state_dir::SUPERVISOR_LOG));
    }
    if config.node(name).is_some() {
        return Ok(NodeLayout::new(config, name).log_file);
    }
    if config.zookeeper.servers.iter().any(|s| s.name == name) && config.zookeeper.connect.is_none() {
        return Ok(ZkLayout::new(&state_dir, name).log_file);
    }
    Err(Error::Target(format!(
        "no log for `{target}`; use a node or ZooKeeper server name, master, zk-leader or supervisor"
    )))
}

pub async fn logs(config: Config, target: &str, follow: bool, lines: Option<usize>) -> Result<()> {
    let name = match target {
        "master" | "zk-leader" => {
            let st = crate::hosts::status(&config).await?;
            let found = if target == "master" {
                st.master.clone()
            } else {
                st.zookeeper.iter().find(|z| z.mode == Some(ZkMode::Leader)).map(|z| z.name.clone())
            };
            found.ok_or_else(|| Error::Target(format!("there is no {target} right now")))?
        }
        t => t.to_string(),
    };
    let path = log_path(&config, &name)?;
    let mut file = match std::fs::File::open(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let here = crate::hosts::Here::of(&config);
            if here.partial
                && !here.owns(&name)
                && let Some(addr) = crate::hosts::member_addr(&config, &name)
            {
                return Err(Error::Target(format!(
                    "{name} runs on {addr}, not on this host, and its log is there: run `mqsim logs {name}` on {addr}"
                )));
            }
            return Err(Error::Target(format!(
                "no log for {name} yet: {} does not exist, {name} has not been started (start the cluster with `mqsim up`)",
                path.display()
            )));
        }
        r => r.map_err(Error::io(format!("opening {}", path.display())))?,
    };
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(Error::io(format!("reading {}", path.display())))?;
    let skip = lines.map_or(0, |n| text.lines().count().saturating_sub(n));
    for l in text.lines().skip(skip) {
        println!("{l}");
    }
    if follow {
        let mut pos = file.stream_position().map_err(Error::io("seek"))?;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len < pos {
                pos = 0;
            }
            if len > pos {
                let mut f = std::fs::File::open(&path).map_err(Error::io("reopen log"))?;
                f.seek(SeekFrom::Start(pos)).map_err(Error::io("seek"))?;
                let mut chunk = String::new();
                f.read_to_string(&mut chunk).map_err(Error::io("read log"))?;
                print!("{chunk}");
                pos = len;
            }
        }
    }
    Ok(())
}

pub async fn zk(config: Config, op: ZkOp) -> Result<()> {
    let c = &config.cluster;
    // The client gives up after about one session timeout with a bare "timeout"; whatever
    // stopped it (nothing listening, no quorum, a hang), say where it looked and what to run.
    let unreachable = |why: String| {
        Error::Timeout(format!(
            "cannot reach ZooKeeper at {} ({why}); is the cluster up? `mqsim status` shows it, `mqsim up` starts it",
            config.zk_connect()
        ))
    };
    let client = tokio::time::timeout(
        Duration::from_secs(10),
        connect(&config.zk_connect(), c.zk_session_timeout, c.zk_password.as_deref()),
    )
    .await
    .map_err(|_| unreachable("no answer in 10 s".into()))?
    .map_err(|e| unreachable(e.to_string()))?;
    match op {
        ZkOp::Ls { path, json } => {
            let mut kids = client.list_children(&path).await?;
            kids.sort();
            if json {
                println!("{}", serde_json::to_string(&kids)?);
            } else {
                println!("[{}]", kids.join(", "));
            }
        }
        ZkOp::Get { path, stat, json: true } => {
            let (data, s) = client.get_data(&path).await?;
            let text = String::from_utf8_lossy(&data);
            let data =
                serde_json::from_str::<serde_json::Value>(&text).unwrap_or(serde_json::Value::String(text.into()));
            let mut out = serde_json::json!({ "path": path, "data": data });
            if stat {
                out["stat"] = serde_json::json!({
                    "czxid": s.czxid, "mzxid": s.mzxid, "pzxid": s.pzxid, "ctime_ms": s.ctime, "mtime_ms": s.mtime,
                    "cversion": s.cversion, "dataVersion": s.version, "aclVersion": s.aversion,
                    "ephemeralOwner": s.ephemeral_owner, "dataLength": s.data_length, "numChildren": s.num_children,
                });
            }
            println!("{out}");
        }
        ZkOp::Get { path, stat, json: false } => {
            let (data, s) = client.get_data(&path).await?;
            println!("{}", String::from_utf8_lossy(&data));
            if stat {
                let t = |ms: i64| {
                    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
                        .map(|d| {
                            // java.util.Date's toString, as zkCli prints it (in UTC).
                            let f = time::macros::format_description!(
                                "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
                            );
                            d.format(&f).unwrap_or_default()
                        })
                        .unwrap_or_default()
                };
                println!(
                    "cZxid = {:#x}\nctime = {}\nmZxid = {:#x}\nmtime = {}\npZxid = {:#x}",
                    s.czxid,
                    t(s.ctime),
                    s.mzxid,
                    t(s.mtime),
                    s.pzxid
                );
                println!("cversion = {}\ndataVersion = {}\naclVersion = {}", s.cversion, s.version, s.aversion);
                println!(
                    "ephemeralOwner = {:#x}\ndataLength = {}\nnumChildren = {}",
                    s.ephemeral_owner, s.data_length, s.num_children
                );
            }
        }
    }
    Ok(())
}
