//! `mqsim bench disk`: what one durable journal append costs on this machine's disk, alone
//! and with three writers at once, as a master and its two slaves write on one machine.
//!
//! It times the store's own journal ([`Journal::append`] of a 1 KiB record, then
//! [`Journal::sync`]) in fresh files under `--dir`, each preallocated by a first sync as the
//! journal does it. Three writers are three threads, each with its own file: what the block
//! layer sees is the same as from three processes.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::median;
use crate::error::{Error, Result};
use crate::store::journal::{FILE_NAME, Journal};

/// Writers at once in the contended case: a master and two slaves.
pub const WRITERS: usize = 3;

/// Median µs per durable 1 KiB append.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disk {
    pub appends: usize,
    pub alone_us: f64,
    /// The median of the writers' medians.
    pub together_us: f64,
}

/// `appends` durable appends alone, then as many in each of [`WRITERS`] writers at once.
pub fn run(dir: &Path, appends: usize) -> Result<Disk> {
    if appends == 0 {
        return Err(Error::Other("--appends must be at least 1".into()));
    }
    let alone_us = median(&writer(&dir.join("alone"), appends)?);
    let together: Vec<Result<Vec<f64>>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..WRITERS).map(|i| s.spawn(move || writer(&dir.join(format!("writer{i}")), appends))).collect();
        handles.into_iter().map(|h| h.join().expect("disk writer thread")).collect()
    });
    let medians = together.into_iter().map(|r| r.map(|v| median(&v))).collect::<Result<Vec<f64>>>()?;
    Ok(Disk { appends, alone_us, together_us: median(&medians) })
}

/// µs per append + sync, in a journal of its own under `dir` (removed afterwards).
fn writer(dir: &Path, appends: usize) -> Result<Vec<f64>> {
    std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    let journal = Journal::open(&dir.join(FILE_NAME))?;
    journal.sync()?;
    let record = vec![b'x'; 1024];
    let mut us = Vec::with_capacity(appends);
    for _ in 0..appends {
        let t = Instant::now();
        journal.append([record.as_slice()])?;
        journal.sync()?;
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    drop(journal);
    std::fs::remove_dir_all(dir).map_err(Error::io(format!("removing {}", dir.display())))?;
    Ok(us)
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
    }
}
