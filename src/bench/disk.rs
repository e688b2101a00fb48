//! `mqsim bench disk`: what one durable journal append costs on this machine's disk, alone
//! and with three writers at once, as a master and its two slaves write on one machine.
//!
//! It times the store's own journal ([`Journal::append`] of a 1 KiB record, then
//! [`Journal::sync`]) in fresh files under `--dir`, each preallocated by a first sync as the
//! journal does it. Three writers are three threads, each with its own file: what the block
//! layer sees is the same as from three processes.
//!
//! [`DeviceIo`] reads what the machine's disks did (`/proc/diskstats`): the STOMP benchmark
//! counts the cache flushes and bytes written per send with it, for every broker alike.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::median;
use crate::error::{Error, Result};
use crate::store::journal::Journal;

/// Writers at once in the contended case: a master and two slaves.
pub const WRITERS: usize = 3;

/// Median µs per durable 1 KiB append.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disk {
    pub appends: usize,
    pub alone_us: f64,
    /// The median of the writers' medians.
    pub together_us: f64,
    /// The disks' work per append alone (a journal fsync is one data write and one flush).
    #[serde(default)]
    pub alone_io: Option<IoPer>,
}

/// What the machine's whole disks have done since boot (`/proc/diskstats`; partitions,
/// loop, RAM and device-mapper devices are left out, so that nothing is counted twice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceIo {
    pub sectors_written: u64,
    /// Cache flushes the disks completed (an fsync ends in one; concurrent ones may share it).
    pub flushes: u64,
}

/// Disk work per operation over a stretch of time (see [`DeviceIo::per`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IoPer {
    pub flushes: f64,
    pub kib_written: f64,
}

impl DeviceIo {
    /// `None` where the kernel does not report flushes (before Linux 5.5), or no disk is
    /// to be seen (a container without /proc/diskstats or /sys/block).
    pub fn now() -> Option<DeviceIo> {
        let disks = procfs::diskstats().ok()?;
        let mut io = DeviceIo::default();
        let mut seen = false;
        for d in disks.iter().filter(|d| Path::new("/sys/block").join(&d.name).join("device").exists()) {
            io.sectors_written += d.sectors_written;
            io.flushes += d.flushes?;
            seen = true;
        }
        seen.then_some(io)
    }

    /// Per operation, `ops` of them between `before` and `self`.
    pub fn per(self, before: DeviceIo, ops: usize) -> IoPer {
        let ops = ops.max(1) as f64;
        IoPer {
            flushes: self.flushes.saturating_sub(before.flushes) as f64 / ops,
            kib_written: self.sectors_written.saturating_sub(before.sectors_written) as f64 * 512.0 / 1024.0 / ops,
        }
    }
}

/// `appends` durable appends alone, then as many in each of [`WRITERS`] writers at once.
pub fn run(dir: &Path, appends: usize) -> Result<Disk> {
    if appends == 0 {
        return Err(Error::InvalidInput("--appends must be at least 1".into()));
    }
    let (alone, alone_io) = writer(&dir.join("alone"), appends)?;
    let alone_us = median(&alone);
    let together: Vec<Result<(Vec<f64>, Option<IoPer>)>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..WRITERS).map(|i| s.spawn(move || writer(&dir.join(format!("writer{i}")), appends))).collect();
        handles.into_iter().map(|h| h.join().expect("disk writer thread")).collect()
    });
    let medians = together.into_iter().map(|r| r.map(|(v, _)| median(&v))).collect::<Result<Vec<f64>>>()?;
    Ok(Disk { appends, alone_us, together_us: median(&medians), alone_io })
}

/// µs per append + sync, in a journal of its own under `dir` (removed afterwards), and the
/// disks' work per append meanwhile (after the first sync's preallocation).
fn writer(dir: &Path, appends: usize) -> Result<(Vec<f64>, Option<IoPer>)> {
    std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    let journal = Journal::open(dir, u64::MAX)?;
    journal.sync()?;
    let record = vec![b'x'; 1024];
    let mut us = Vec::with_capacity(appends);
    let before = DeviceIo::now();
    for _ in 0..appends {
        let t = Instant::now();
        journal.append([record.as_slice()])?;
        journal.sync()?;
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let io = DeviceIo::now().zip(before).map(|(after, before)| after.per(before, appends));
    drop(journal);
    std::fs::remove_dir_all(dir).map_err(Error::io(format!("removing {}", dir.display())))?;
    Ok((us, io))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let d = run(dir.path(), 20).unwrap();
        assert!(d.alone_us > 0.0 && d.together_us > 0.0, "{d:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no journal is left behind");
        if let Some(io) = d.alone_io {
            // Durable appends reach the device unless the directory is on tmpfs.
            use nix::sys::statfs::{TMPFS_MAGIC, statfs};
            let tmpfs = statfs(dir.path()).unwrap().filesystem_type() == TMPFS_MAGIC;
            assert!(tmpfs || (io.flushes > 0.5 && io.kib_written >= 1.0), "{io:?}");
        }
    }

    #[test]
    fn device_io_differences_per_operation() {
        let before = DeviceIo { sectors_written: 100, flushes: 10 };
        let after = DeviceIo { sectors_written: 100 + 8 * 40, flushes: 10 + 50 };
        assert_eq!(after.per(before, 20), IoPer { flushes: 2.5, kib_written: 8.0 });
        assert_eq!(before.per(after, 20), IoPer { flushes: 0.0, kib_written: 0.0 }, "never negative");
        if let Some(now) = DeviceIo::now() {
            assert!(now.flushes > 0 || now.sectors_written > 0, "a booted machine has written something: {now:?}");
        }
    }
}
