//! Child processes: spawn with a parent-death signal, signal by PID, observe paused state.
//!
//! Brokers are `mqsim node` re-executions of this binary and ZooKeeper servers are JVMs;
//! both get `PR_SET_PDEATHSIG = SIGKILL`, so nothing outlives the supervisor even if it is
//! itself killed with `kill -9`. The supervisor runs on a current-thread runtime, so every
//! spawn happens on its main thread (PDEATHSIG fires when the *spawning thread* exits).

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, getppid};

use crate::error::{Error, Result};

/// Spawns `cmd` with stdout and stderr appended to `log`. Returns the tokio child.
pub fn spawn(mut cmd: std::process::Command, log: &Path) -> Result<tokio::process::Child> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    }
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(Error::io(format!("opening {}", log.display())))?;
    let err = out.try_clone().map_err(Error::io("dup log fd"))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let parent = nix::unistd::getpid();
    // SAFETY: only async-signal-safe calls (prctl, getppid) run between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            if getppid() != parent {
                // The supervisor died before prctl took effect.
                return Err(std::io::Error::other("parent exited"));
            }
            Ok(())
        });
    }
    let child = tokio::process::Command::from(cmd)
        .kill_on_drop(false)
        .spawn()
        .map_err(Error::io(format!("starting process (log {})", log.display())))?;
    Ok(child)
}

pub fn signal(pid: u32, sig: Signal) -> Result<()> {
    kill(Pid::from_raw(pid as i32), sig).map_err(|e| Error::Other(format!("kill -{sig} {pid}: {e}")))
}

/// True while the process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match procfs::process::Process::new(pid as i32).and_then(|p| p.stat()) {
        Ok(stat) => stat.state != 'Z' && stat.state != 'X',
        Err(_) => false,
    }
}

/// True if the process is stopped by SIGSTOP (`T` in `/proc/<pid>/stat`).
pub fn paused(pid: u32) -> bool {
    matches!(procfs::process::Process::new(pid as i32).and_then(|p| p.stat()), Ok(s) if s.state == 'T')
}
