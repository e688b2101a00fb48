//! Checks before anything starts: every port free (naming who holds a busy one).

use std::net::{SocketAddr, TcpListener};

use crate::config::Config;
use crate::error::{Error, Result};

/// Refuses, before starting anything, if any port of the cluster is taken.
pub fn check_ports(config: &Config) -> Result<()> {
    check_these(config, config.ports())
}

/// [`check_ports`] for some of the cluster's ports (a multi-host layout checks only the
/// ones of this host's members).
pub fn check_these(config: &Config, ports: Vec<crate::config::PortUse>) -> Result<()> {
    for p in ports {
        let addr = SocketAddr::new(p.addr, p.port);
        if let Err(e) = TcpListener::bind(addr) {
            if e.kind() != std::io::ErrorKind::AddrInUse {
                return Err(Error::io(format!("checking port {} ({})", p.port, p.what))(e));
            }
            let owner = match port_owner(p.port) {
                Some((pid, cmd)) => format!(", held by pid {pid} ({cmd})"),
                None => " (by a process mqsim cannot see; try `ss -ltnp`)".to_string(),
            };
            return Err(Error::PortInUse {
                port: p.port,
                what: p.what.clone(),
                owner,
                config: config.source.display().to_string(),
            });
        }
    }
    Ok(())
}

/// The pid and command line of the process listening on `port`, when visible in /proc.
pub fn port_owner(port: u16) -> Option<(i32, String)> {
    let mut inodes = Vec::new();
    for table in [procfs::net::tcp(), procfs::net::tcp6()].into_iter().flatten() {
        inodes.extend(
            table
                .into_iter()
                .filter(|e| e.local_address.port() == port && e.state == procfs::net::TcpState::Listen)
                .map(|e| e.inode),
        );
    }
    if inodes.is_empty() {
        return None;
    }
    for proc in procfs::process::all_processes().ok()?.flatten() {
        let Ok(fds) = proc.fd() else { continue };
        for fd in fds.flatten() {
            if let procfs::process::FDTarget::Socket(inode) = fd.target
                && inodes.contains(&inode)
            {
                let cmd = proc.cmdline().ok().filter(|c| !c.is_empty()).map(|c| c.join(" ")).unwrap_or_default();
                let cmd = if cmd.len() > 120 { format!("{}...", &cmd[..117]) } else { cmd };
                return Some((proc.pid, cmd));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_port_names_its_owner() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (pid, _cmd) = port_owner(port).expect("our own listener is visible");
        assert_eq!(pid, std::process::id() as i32);
    }
}
