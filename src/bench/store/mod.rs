//! `mqsim bench store`: the store at scale (issue 12), mqsim side by side with a real
//! ActiveMQ 5.17.2 (KahaDB) in one run of `scripts/bench-store.sh`.
//!
//! The script brings both brokers up and runs the workload; each step is one subcommand
//! here that prints JSON, which the script keeps as `<broker>.<step>.json`, and
//! `mqsim bench store report` turns those files into the `store` section of
//! docs/benchmarks.md. The steps, per broker:
//!
//! * **(a) disk after the traffic**: [`load::fill`] N messages, [`load::drain`] them (each
//!   one acked), then [`du`] of every store directory right away and again after a quiet
//!   spell (`--settle`), so that a store that collects garbage in the background (KahaDB
//!   cleans up every 30 s) is seen after it has.
//! * **(b) restart with history**: a few live messages on top of (a)'s history, then a
//!   clean restart, and one with the index deleted, timed to serving (a STOMP CONNECT
//!   answered) and, for mqsim, to every slave attached ([`cluster::Cluster::restart`];
//!   ActiveMQ's restart is the script's, timed by [`load::wait_stomp`]); the live
//!   messages are drained afterwards and counted.
//! * **(c) slave catch-up** after missing M messages ([`cluster::Cluster::catch_up`]);
//!   ActiveMQ has no replicated store.
//! * **(d) selective dispatch**: N messages of which 1 in 100 carries `color:red`, then a
//!   consumer with `selector: color = 'red'`, timed to the last match (or until it stalls),
//!   then the rest drained.
//!
//! [`report`] keeps each run's figures in the section, so the first run written (the
//! "before") stays next to the latest.
//!
//! Disk usage is read the way `du` reads it, both ways: the apparent size (`du -sb`, the
//! sum of the files' lengths, which counts a preallocated or sparse tail in full) and the
//! allocated blocks (`du -s -B1`, what the disk actually holds, which counts mqsim's
//! 16 MiB reserve of written zeros past the journal end in full too, but a sparse hole not
//! at all).

pub mod cluster;
pub mod load;
pub mod report;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use cluster::{Cluster, runtime};

#[derive(Debug, Subcommand)]
pub enum StoreOp {
    /// Persistent SENDs with receipts (a window per connection) to a queue; prints JSON.
    Fill {
        /// `tcp://HOST:PORT` of a STOMP connector, or `master` for --config's serving master.
        #[arg(long)]
        url: String,
        #[arg(long)]
        queue: String,
        #[arg(long)]
        n: usize,
        /// Body size in bytes.
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// Producer connections.
        #[arg(long, default_value_t = 4)]
        producers: usize,
        /// Message i carries `color:red` if i % K == 0, else `color:blue`.
        #[arg(long)]
        match_every: Option<usize>,
    },
    /// Consumes (ack:client-individual, one ACK per MESSAGE) until --n or --idle; prints JSON.
    Drain {
        /// `tcp://HOST:PORT` of a STOMP connector, or `master` for --config's serving master.
        #[arg(long)]
        url: String,
        #[arg(long)]
        queue: String,
        /// Messages to wait for (without: until --idle passes without one).
        #[arg(long)]
        n: Option<usize>,
        #[arg(long)]
        selector: Option<String>,
        #[arg(long, default_value_t = 1000)]
        prefetch: usize,
        /// Seconds without a message that end the drain (a stall if --n was not reached).
        #[arg(long, default_value_t = 30.0)]
        idle: f64,
        /// Seconds after which the drain stops, done or not.
        #[arg(long)]
        limit: Option<f64>,
    },
    /// Disk usage of store directories (apparent and allocated); prints JSON.
    Du {
        /// `NAME=PATH` (repeatable).
        #[arg(long = "dir")]
        dirs: Vec<String>,
        /// Also every node's store directory of --config's cluster.
        #[arg(long)]
        nodes: bool,
        /// Measure again after this many idle seconds.
        #[arg(long, default_value_t = 0.0)]
        settle: f64,
    },
    /// Waits for the first STOMP CONNECT answered; prints JSON seconds since --since-ms.
    WaitStomp {
        #[arg(long)]
        url: String,
        /// When the broker was started (ms since the epoch); default: now.
        #[arg(long)]
        since_ms: Option<u64>,
        #[arg(long, default_value_t = 1800.0)]
        timeout: f64,
        /// What the script deleted before the start (carried into the JSON).
        #[arg(long)]
        deleted: Vec<String>,
    },
    /// Stops every node of --config's cluster, optionally deletes their indexes, starts them
    /// and times serving and attached; prints JSON.
    Restart {
        #[arg(long)]
        drop_index: bool,
        /// With --drop-index: the entries of each store directory whose names start with one
        /// of these are deleted.
        #[arg(long, value_delimiter = ',', default_value = "index")]
        index_names: Vec<String>,
    },
    /// Stops a slave of --config's cluster, sends --missed messages, starts it again and
    /// times until it is attached; prints JSON.
    CatchUp {
        #[arg(long)]
        queue: String,
        #[arg(long)]
        missed: usize,
        #[arg(long, default_value_t = 1024)]
        size: usize,
        #[arg(long, default_value_t = 4)]
        producers: usize,
    },
    /// Writes the `store` section from a run's JSON files (`<broker>.<step>.json` in --work).
    Report {
        #[arg(long)]
        work: PathBuf,
        /// What this run is (e.g. "before issue 12"); a run with the same label replaces it.
        #[arg(long)]
        label: String,
        /// Drop the runs already in the section.
        #[arg(long)]
        fresh: bool,
        #[arg(long, default_value = "docs/benchmarks.md")]
        out: PathBuf,
    },
}

/// Runs one step; `config` is the global `--config` (the mqsim cluster's, where needed).
pub fn command(op: StoreOp, config: &Path, host: String) -> Result<()> {
    let cluster = || Cluster::open(config);
    let url = |u: String| -> Result<String> { if u == "master" { cluster()?.master_url() } else { Ok(u) } };
    match op {
        StoreOp::Fill { url: u, queue, n, size, producers, match_every } => {
            let u = url(u)?;
            print(&runtime()?.block_on(load::fill(&u, &queue, n, size, producers, match_every))?)
        }
        StoreOp::Drain { url: u, queue, n, selector, prefetch, idle, limit } => {
            let u = url(u)?;
            let (idle, limit) = (Duration::from_secs_f64(idle), limit.map(Duration::from_secs_f64));
            print(&runtime()?.block_on(load::drain(&u, &queue, n, selector.as_deref(), prefetch, idle, limit))?)
        }
        StoreOp::Du { dirs, nodes, settle } => {
            let mut named = Vec::new();
            for d in dirs {
                let (name, path) =
                    d.split_once('=').ok_or_else(|| Error::InvalidInput(format!("--dir {d}: expected NAME=PATH")))?;
                named.push((name.to_string(), PathBuf::from(path)));
            }
            if nodes {
                let c = cluster()?;
                named.extend(c.names().into_iter().map(|n| (n.clone(), c.data_dir(&n))));
            }
            print(&du(&named, Duration::from_secs_f64(settle)))
        }
        StoreOp::WaitStomp { url, since_ms, timeout, deleted } => {
            let since = since_ms.unwrap_or_else(crate::events::now_ms);
            runtime()?.block_on(load::wait_stomp(&url, Duration::from_secs_f64(timeout)))?;
            let serving_s = crate::events::now_ms().saturating_sub(since) as f64 / 1e3;
            print(&cluster::Restart { serving_s, attached_s: None, slaves: vec![], deleted, position: None })
        }
        StoreOp::Restart { drop_index, index_names } => {
            let drop: &[String] = if drop_index { &index_names } else { &[] };
            print(&cluster()?.restart(drop)?)
        }
        StoreOp::CatchUp { queue, missed, size, producers } => {
            print(&cluster()?.catch_up(&queue, missed, size, producers)?)
        }
        StoreOp::Report { work, label, fresh, out } => report::command(&work, &label, fresh, &out, host),
    }
}

/// One JSON line on stdout: a step's result for the script.
fn print(v: &impl Serialize) -> Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

/// One store directory's usage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirUsage {
    pub name: String,
    pub path: String,
    /// Sum of the lengths of every file and directory (`du -sb`).
    pub apparent: u64,
    /// Sum of the allocated blocks (`du -s -B1`).
    pub allocated: u64,
    /// Of that, the `*.log` files (mqsim's journal, KahaDB's `db-N.log`).
    pub log_apparent: u64,
    pub log_allocated: u64,
    pub log_files: usize,
    pub largest_log: u64,
}

/// Every directory at one moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disk {
    pub ms: u64,
    pub dirs: Vec<DirUsage>,
}

/// Right away and, with a settle time, again after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Du {
    pub first: Disk,
    pub settled: Option<Disk>,
    pub settle_s: f64,
}

/// Walks `dir` like `du` (not following symlinks); a missing directory is empty.
pub fn usage(name: &str, dir: &Path) -> DirUsage {
    let mut u = DirUsage {
        name: name.to_string(),
        path: dir.display().to_string(),
        apparent: 0,
        allocated: 0,
        log_apparent: 0,
        log_allocated: 0,
        log_files: 0,
        largest_log: 0,
    };
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        u.apparent += meta.len();
        u.allocated += meta.blocks() * 512;
        if meta.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                todo.extend(rd.flatten().map(|e| e.path()));
            }
        } else if p.extension().is_some_and(|e| e == "log") {
            u.log_apparent += meta.len();
            u.log_allocated += meta.blocks() * 512;
            u.log_files += 1;
            u.largest_log = u.largest_log.max(meta.len());
        }
    }
    u
}

fn sample(dirs: &[(String, PathBuf)]) -> Disk {
    Disk { ms: crate::events::now_ms(), dirs: dirs.iter().map(|(n, p)| usage(n, p)).collect() }
}

pub fn du(dirs: &[(String, PathBuf)], settle: Duration) -> Du {
    let first = sample(dirs);
    let settled = (!settle.is_zero()).then(|| {
        let t0 = Instant::now();
        while t0.elapsed() < settle {
            std::thread::sleep(Duration::from_millis(500));
        }
        sample(dirs)
    });
    Du { first, settled, settle_s: settle.as_secs_f64() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_log_files_apart_and_both_sizes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("index")).unwrap();
        std::fs::write(dir.path().join("index/data.mdb"), vec![1u8; 10_000]).unwrap();
        std::fs::write(dir.path().join("0000000000000000.log"), vec![2u8; 5000]).unwrap();
        // A sparse file: long, with few blocks.
        let sparse = std::fs::File::create(dir.path().join("db-2.log")).unwrap();
        sparse.set_len(32 << 20).unwrap();
        let u = usage("x", dir.path());
        assert_eq!(u.log_files, 2);
        assert_eq!(u.largest_log, 32 << 20);
        assert_eq!(u.log_apparent, 5000 + (32 << 20));
        assert!(u.apparent >= u.log_apparent + 10_000, "{u:?}");
        assert!(u.log_allocated < 1 << 20, "a sparse tail is not allocated: {u:?}");
        assert!(u.allocated >= 15_000 && u.allocated < u.apparent, "{u:?}");
        assert_eq!(usage("gone", &dir.path().join("nothing")).apparent, 0);
    }
}
